/*
 * jobs_sql.h: the statements of core/jobs, in both dialects. Private to
 * core/jobs. Times are milliseconds since the epoch.
 */
#ifndef ASSIST_JOBS_SQL_H
#define ASSIST_JOBS_SQL_H

#include "../store/store.h"

#define JOB_COLS                                                               \
  "id, kind, payload, state, priority, run_at, attempts, max_attempts,"        \
  " idem_key, last_error, lease_owner, created_at, updated_at, finished_at"

/* $1 kind, $2 now, $3 owner, $4 lease_until, $5 limit */
static const store_stmt_t sql_claim = {
    "jobs_claim",
    "UPDATE jobs SET state = 'running', attempts = attempts + 1,"
    " lease_owner = $3, lease_until = $4, started_at = $2, updated_at = $2"
    " WHERE id IN (SELECT id FROM jobs WHERE kind = $1"
    " AND state IN ('queued','retrying') AND run_at <= $2"
    " ORDER BY priority DESC, run_at, id LIMIT $5)"
    " RETURNING id, payload, attempts, max_attempts",
    "WITH c AS (SELECT id FROM jobs WHERE kind = $1"
    " AND state IN ('queued','retrying') AND run_at <= $2"
    " ORDER BY priority DESC, run_at, id LIMIT $5 FOR UPDATE SKIP LOCKED)"
    " UPDATE jobs j SET state = 'running', attempts = j.attempts + 1,"
    " lease_owner = $3, lease_until = $4, started_at = $2, updated_at = $2"
    " FROM c WHERE j.id = c.id"
    " RETURNING j.id, j.payload, j.attempts, j.max_attempts"};

/* $1 kind */
static const store_stmt_t sql_next_due = {
    "jobs_next_due",
    "SELECT min(run_at) FROM jobs WHERE kind = $1"
    " AND state IN ('queued','retrying')",
    NULL};

static const store_stmt_t sql_next_fire = {
    "jobs_next_fire",
    "SELECT min(next_fire_at) FROM job_schedules WHERE enabled = 1", NULL};

/* $1 now, $2 (id, attempt) pairs, $3 owner. The attempt fences a run
 * whose lease expired and was claimed again (even by this process). */
static const store_stmt_t sql_done_ok = {
    "jobs_done_ok",
    "UPDATE jobs SET state = 'succeeded', finished_at = $1, updated_at = $1,"
    " lease_owner = NULL, lease_until = NULL, last_error = NULL"
    " WHERE (id, attempts) IN (SELECT json_extract(value, '$[0]'),"
    " json_extract(value, '$[1]') FROM json_each($2))"
    " AND state = 'running' AND lease_owner = $3 RETURNING id",
    "UPDATE jobs SET state = 'succeeded', finished_at = $1, updated_at = $1,"
    " lease_owner = NULL, lease_until = NULL, last_error = NULL"
    " WHERE id IN (SELECT id FROM jobs WHERE (id, attempts) IN"
    " (SELECT (e->>0)::bigint, (e->>1)::int"
    " FROM jsonb_array_elements($2::jsonb) AS e)"
    " AND state = 'running' AND lease_owner = $3 ORDER BY id FOR UPDATE)"
    " RETURNING id"};

/* $1 now, $2 next run_at, $3 error, $4 id, $5 1 = retry-after (never
 * dead: the handler asked for it), $6 owner, $7 attempt */
static const store_stmt_t sql_done_fail = {
    "jobs_done_fail",
    "UPDATE jobs SET"
    " state = CASE WHEN $5 = 0 AND attempts >= max_attempts THEN 'dead'"
    " ELSE 'retrying' END,"
    " finished_at = CASE WHEN $5 = 0 AND attempts >= max_attempts THEN $1"
    " ELSE NULL END,"
    " run_at = $2, last_error = $3,"
    " updated_at = $1, lease_owner = NULL, lease_until = NULL"
    " WHERE id = $4 AND state = 'running' AND lease_owner = $6"
    " AND attempts = $7 RETURNING state",
    "UPDATE jobs SET"
    " state = CASE WHEN $5::int = 0 AND attempts >= max_attempts"
    " THEN 'dead' ELSE 'retrying' END,"
    " finished_at = CASE WHEN $5::int = 0 AND attempts >= max_attempts"
    " THEN $1::bigint ELSE NULL END,"
    " run_at = $2, last_error = $3,"
    " updated_at = $1, lease_owner = NULL, lease_until = NULL"
    " WHERE id = $4 AND state = 'running' AND lease_owner = $6"
    " AND attempts = $7 RETURNING state"};

/* $1 lease_until, $2 owner */
/* On PostgreSQL rows a completion is writing are skipped (they are about
 * to lose their lease anyway): taking row locks in a different order from
 * the completion batch on another pooled connection deadlocked. */
static const store_stmt_t sql_heartbeat = {
    "jobs_heartbeat",
    "UPDATE jobs SET lease_until = $1 WHERE lease_owner = $2"
    " AND state = 'running' AND id IN (SELECT value FROM json_each($3))",
    "UPDATE jobs SET lease_until = $1 WHERE id IN (SELECT id FROM jobs"
    " WHERE lease_owner = $2 AND state = 'running' AND id IN"
    " (SELECT jsonb_array_elements_text($3::jsonb)::bigint)"
    " ORDER BY id FOR UPDATE SKIP LOCKED)"};

/* $1 now */
static const store_stmt_t sql_expire = {
    "jobs_expire",
    "UPDATE jobs SET"
    " state = CASE WHEN attempts >= max_attempts THEN 'dead'"
    " ELSE 'retrying' END,"
    " finished_at = CASE WHEN attempts >= max_attempts THEN $1 ELSE NULL END,"
    " last_error = 'lease expired (owner ' || lease_owner || ')',"
    " lease_owner = NULL, lease_until = NULL, run_at = $1, updated_at = $1"
    " WHERE state = 'running' AND lease_until < $1 RETURNING id, kind, state",
    "UPDATE jobs SET"
    " state = CASE WHEN attempts >= max_attempts THEN 'dead'"
    " ELSE 'retrying' END,"
    " finished_at = CASE WHEN attempts >= max_attempts THEN $1::bigint"
    " ELSE NULL END,"
    " last_error = 'lease expired (owner ' || lease_owner || ')',"
    " lease_owner = NULL, lease_until = NULL, run_at = $1, updated_at = $1"
    " WHERE id IN (SELECT id FROM jobs WHERE state = 'running'"
    " AND lease_until < $1 ORDER BY id FOR UPDATE SKIP LOCKED)"
    " RETURNING id, kind, state"};

static const store_stmt_t sql_depth = {
    "jobs_depth",
    "SELECT kind, count(*) FROM jobs WHERE state IN ('queued','retrying')"
    " GROUP BY kind",
    NULL};

/* $1 kind, $2 payload, $3 priority, $4 run_at, $5 max_attempts, $6 key,
 * $7 schedule, $8 now */
static const store_stmt_t sql_insert = {
    "jobs_insert",
    "INSERT INTO jobs (kind, payload, state, priority, run_at, max_attempts,"
    " idem_key, schedule, created_at, updated_at)"
    " VALUES ($1, $2, 'queued', $3, $4, $5, $6, $7, $8, $8)"
    " ON CONFLICT (idem_key) DO NOTHING RETURNING id",
    NULL};

static const store_stmt_t sql_by_key = {
    "jobs_by_key", "SELECT id FROM jobs WHERE idem_key = $1", NULL};

/* PostgreSQL: a whole batch in one statement. $1 JSON array of
 * {k,p,pr,r,m,i,s}, $2 now. Ids are drawn first so that each input row
 * can be matched to its result in order. */
static const store_stmt_t sql_insert_batch = {
    "jobs_insert_batch", NULL,
    "WITH src AS (SELECT nextval('jobs_id_seq') AS id, e.ord, e.j"
    " FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e(j, ord)),"
    " ins AS (INSERT INTO jobs (id, kind, payload, state, priority, run_at,"
    " max_attempts, idem_key, schedule, created_at, updated_at)"
    " SELECT id, j->>'k', j->>'p', 'queued', (j->>'pr')::int,"
    " (j->>'r')::bigint, (j->>'m')::int, j->>'i', j->>'s', $2::bigint,"
    " $2::bigint FROM src ORDER BY ord"
    " ON CONFLICT (idem_key) DO NOTHING RETURNING id)"
    " SELECT src.ord, COALESCE(ins.id, (SELECT x.id FROM jobs x"
    " WHERE x.idem_key = src.j->>'i')), CASE WHEN ins.id IS NULL THEN 1"
    " ELSE 0 END"
    " FROM src LEFT JOIN ins ON ins.id = src.id"
    " CROSS JOIN (SELECT pg_notify('assist_jobs', '')) AS n"
    " ORDER BY src.ord"};

/* $1 id, $2 now */
static const store_stmt_t sql_cancel = {
    "jobs_cancel",
    "UPDATE jobs SET state = 'cancelled', finished_at = $2, updated_at = $2,"
    " lease_owner = NULL, lease_until = NULL WHERE id = $1"
    " AND state IN ('queued','retrying','running') RETURNING kind",
    NULL};

static const store_stmt_t sql_retry = {
    "jobs_retry",
    "UPDATE jobs SET state = 'queued', attempts = 0, run_at = $2,"
    " updated_at = $2, last_error = NULL, finished_at = NULL WHERE id = $1"
    " AND state IN ('dead','cancelled','retrying') RETURNING kind",
    NULL};

static const store_stmt_t sql_get = {
    "jobs_get", "SELECT " JOB_COLS " FROM jobs WHERE id = $1", NULL};

/* $1 state or '', $2 kind or '', $3 after id, $4 limit */
static const store_stmt_t sql_list = {
    "jobs_list",
    "SELECT " JOB_COLS " FROM jobs WHERE ($1 = '' OR state = $1)"
    " AND ($2 = '' OR kind = $2) AND id > $3 ORDER BY id LIMIT $4",
    "SELECT " JOB_COLS " FROM jobs WHERE ($1::text = '' OR state = $1)"
    " AND ($2::text = '' OR kind = $2) AND id > $3 ORDER BY id LIMIT $4"};

/* $1 kind or '' */
static const store_stmt_t sql_counts = {
    "jobs_counts",
    "SELECT state, count(*) FROM jobs WHERE ($1 = '' OR kind = $1)"
    " GROUP BY state",
    "SELECT state, count(*) FROM jobs WHERE ($1::text = '' OR kind = $1)"
    " GROUP BY state"};

/* ---- schedules ---- */

/* $1 now */
static const store_stmt_t sql_sched_due = {
    "schedules_due",
    "SELECT name, kind, payload, interval_s, cron, tz, priority,"
    " max_attempts, next_fire_at FROM job_schedules WHERE enabled = 1"
    " AND next_fire_at <= $1 ORDER BY next_fire_at LIMIT 100",
    NULL};

/* $1 next, $2 fired, $3 now, $4 name, $5 old next */
static const store_stmt_t sql_sched_advance = {
    "schedules_advance",
    "UPDATE job_schedules SET next_fire_at = $1, last_fire_at = $2,"
    " updated_at = $3 WHERE name = $4 AND next_fire_at = $5",
    NULL};

/* $1 name, $2 kind, $3 payload, $4 interval_s, $5 cron, $6 tz,
 * $7 priority, $8 max_attempts, $9 next_fire_at, $10 now */
static const store_stmt_t sql_sched_put = {
    "schedules_put",
    "INSERT INTO job_schedules (name, kind, payload, interval_s, cron, tz,"
    " priority, max_attempts, enabled, next_fire_at, created_at, updated_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $10, $10)"
    " ON CONFLICT (name) DO UPDATE SET kind = excluded.kind,"
    " payload = excluded.payload, priority = excluded.priority,"
    " max_attempts = excluded.max_attempts, enabled = 1,"
    " next_fire_at = CASE WHEN job_schedules.interval_s IS excluded.interval_s"
    " AND job_schedules.cron IS excluded.cron"
    " AND job_schedules.tz = excluded.tz THEN job_schedules.next_fire_at"
    " ELSE excluded.next_fire_at END,"
    " interval_s = excluded.interval_s, cron = excluded.cron,"
    " tz = excluded.tz, updated_at = excluded.updated_at",
    "INSERT INTO job_schedules (name, kind, payload, interval_s, cron, tz,"
    " priority, max_attempts, enabled, next_fire_at, created_at, updated_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $10, $10)"
    " ON CONFLICT (name) DO UPDATE SET kind = excluded.kind,"
    " payload = excluded.payload, priority = excluded.priority,"
    " max_attempts = excluded.max_attempts, enabled = 1,"
    " next_fire_at = CASE WHEN job_schedules.interval_s IS NOT DISTINCT FROM"
    " excluded.interval_s AND job_schedules.cron IS NOT DISTINCT FROM"
    " excluded.cron AND job_schedules.tz = excluded.tz"
    " THEN job_schedules.next_fire_at ELSE excluded.next_fire_at END,"
    " interval_s = excluded.interval_s, cron = excluded.cron,"
    " tz = excluded.tz, updated_at = excluded.updated_at"};

static const store_stmt_t sql_sched_list = {
    "schedules_list",
    "SELECT name, kind, payload, interval_s, cron, tz, priority,"
    " max_attempts, enabled, next_fire_at, last_fire_at FROM job_schedules"
    " ORDER BY name",
    NULL};

static const store_stmt_t sql_sched_delete = {
    "schedules_delete", "DELETE FROM job_schedules WHERE name = $1", NULL};

static const store_stmt_t sql_notify = {"jobs_notify", NULL,
                                        "SELECT pg_notify('assist_jobs', '')"};

#endif
