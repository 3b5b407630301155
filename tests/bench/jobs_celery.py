"""Celery side of tests/bench/jobs.sh: the same no-op jobs through Celery 5
with Redis (broker on db 0, results on db 1).

  worker:  /usr/bin/python3 -m celery -A jobs_celery worker ...
  client:  /usr/bin/python3 jobs_celery.py N   (prints jobs=N seconds=S jobs_per_s=R)

The broker URL comes from BENCH_REDIS_URL (redis://127.0.0.1:PORT).
The client measures from the first enqueue to the moment the N-th result
is stored in the result backend.
"""
import os
import sys
import time

from celery import Celery

URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379")
app = Celery("jobs_celery", broker=URL + "/0", backend=URL + "/1")
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    worker_prefetch_multiplier=64,
    broker_connection_retry_on_startup=True,
)


@app.task(name="noop")
def noop():
    return None


def main():
    import redis

    n = int(sys.argv[1])
    results = redis.Redis.from_url(URL + "/1")
    results.flushdb()
    t0 = time.monotonic()
    for _ in range(n):
        noop.delay()
    t_enq = time.monotonic()
    while results.dbsize() < n:
        time.sleep(0.02)
    t1 = time.monotonic()
    print("jobs=%d seconds=%.3f jobs_per_s=%.0f enqueue_seconds=%.3f"
          % (n, t1 - t0, n / (t1 - t0), t_enq - t0))


if __name__ == "__main__":
    main()
