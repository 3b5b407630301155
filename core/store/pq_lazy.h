/*
 * pq_lazy.h: libpq, opened on first use (see common/lazylib.h for why).
 *
 * Include this instead of <libpq-fe.h> in core code (store_pg.c,
 * audit/audit_pg.c). Every libpq function the core calls is listed in
 * PQ_LAZY_FUNCS and redefined below as a call through the table; the list
 * and the redefinitions must agree. libpq is needed only for
 * postgresql:// storage, so pg_open() and audit_pg_sink_new() call
 * pq_lazy_load() first.
 */
#ifndef ASSIST_PQ_LAZY_H
#define ASSIST_PQ_LAZY_H

#include "../common/lazylib.h"

#include <libpq-fe.h>

#define PQ_LAZY_FUNCS(X)                                                       \
  X(PQclear)                                                                   \
  X(PQcmdTuples)                                                               \
  X(PQconnectPoll)                                                             \
  X(PQconnectStartParams)                                                      \
  X(PQconnectdbParams)                                                         \
  X(PQconninfoFree)                                                            \
  X(PQconninfoParse)                                                           \
  X(PQconsumeInput)                                                            \
  X(PQerrorMessage)                                                            \
  X(PQexec)                                                                    \
  X(PQexecParams)                                                              \
  X(PQfinish)                                                                  \
  X(PQflush)                                                                   \
  X(PQfreemem)                                                                 \
  X(PQftype)                                                                   \
  X(PQgetResult)                                                               \
  X(PQgetisnull)                                                               \
  X(PQgetlength)                                                               \
  X(PQgetvalue)                                                                \
  X(PQisBusy)                                                                  \
  X(PQnfields)                                                                 \
  X(PQnotifies)                                                                \
  X(PQntuples)                                                                 \
  X(PQresultErrorField)                                                        \
  X(PQresultErrorMessage)                                                      \
  X(PQresultStatus)                                                            \
  X(PQsendPrepare)                                                             \
  X(PQsendQuery)                                                               \
  X(PQsendQueryParams)                                                         \
  X(PQsendQueryPrepared)                                                       \
  X(PQsetNoticeProcessor)                                                      \
  X(PQsetnonblocking)                                                          \
  X(PQsocket)                                                                  \
  X(PQstatus)                                                                  \
  X(PQtransactionStatus)                                                       \
  X(PQunescapeBytea)

/* pq_lazy_load(&err): 0, or -ELIBACC with err "postgresql storage needs
 * libpq.so.5: ...". */
LAZYLIB_DECLARE(pq_lazy, PQ_LAZY_FUNCS);
#define PQ_LAZY(f) LAZYLIB_CALL(pq_lazy, f)

#define PQclear(...) PQ_LAZY(PQclear)(__VA_ARGS__)
#define PQcmdTuples(...) PQ_LAZY(PQcmdTuples)(__VA_ARGS__)
#define PQconnectPoll(...) PQ_LAZY(PQconnectPoll)(__VA_ARGS__)
#define PQconnectStartParams(...) PQ_LAZY(PQconnectStartParams)(__VA_ARGS__)
#define PQconnectdbParams(...) PQ_LAZY(PQconnectdbParams)(__VA_ARGS__)
#define PQconninfoFree(...) PQ_LAZY(PQconninfoFree)(__VA_ARGS__)
#define PQconninfoParse(...) PQ_LAZY(PQconninfoParse)(__VA_ARGS__)
#define PQconsumeInput(...) PQ_LAZY(PQconsumeInput)(__VA_ARGS__)
#define PQerrorMessage(...) PQ_LAZY(PQerrorMessage)(__VA_ARGS__)
#define PQexec(...) PQ_LAZY(PQexec)(__VA_ARGS__)
#define PQexecParams(...) PQ_LAZY(PQexecParams)(__VA_ARGS__)
#define PQfinish(...) PQ_LAZY(PQfinish)(__VA_ARGS__)
#define PQflush(...) PQ_LAZY(PQflush)(__VA_ARGS__)
#define PQfreemem(...) PQ_LAZY(PQfreemem)(__VA_ARGS__)
#define PQftype(...) PQ_LAZY(PQftype)(__VA_ARGS__)
#define PQgetResult(...) PQ_LAZY(PQgetResult)(__VA_ARGS__)
#define PQgetisnull(...) PQ_LAZY(PQgetisnull)(__VA_ARGS__)
#define PQgetlength(...) PQ_LAZY(PQgetlength)(__VA_ARGS__)
#define PQgetvalue(...) PQ_LAZY(PQgetvalue)(__VA_ARGS__)
#define PQisBusy(...) PQ_LAZY(PQisBusy)(__VA_ARGS__)
#define PQnfields(...) PQ_LAZY(PQnfields)(__VA_ARGS__)
#define PQnotifies(...) PQ_LAZY(PQnotifies)(__VA_ARGS__)
#define PQntuples(...) PQ_LAZY(PQntuples)(__VA_ARGS__)
#define PQresultErrorField(...) PQ_LAZY(PQresultErrorField)(__VA_ARGS__)
#define PQresultErrorMessage(...) PQ_LAZY(PQresultErrorMessage)(__VA_ARGS__)
#define PQresultStatus(...) PQ_LAZY(PQresultStatus)(__VA_ARGS__)
#define PQsendPrepare(...) PQ_LAZY(PQsendPrepare)(__VA_ARGS__)
#define PQsendQuery(...) PQ_LAZY(PQsendQuery)(__VA_ARGS__)
#define PQsendQueryParams(...) PQ_LAZY(PQsendQueryParams)(__VA_ARGS__)
#define PQsendQueryPrepared(...) PQ_LAZY(PQsendQueryPrepared)(__VA_ARGS__)
#define PQsetNoticeProcessor(...) PQ_LAZY(PQsetNoticeProcessor)(__VA_ARGS__)
#define PQsetnonblocking(...) PQ_LAZY(PQsetnonblocking)(__VA_ARGS__)
#define PQsocket(...) PQ_LAZY(PQsocket)(__VA_ARGS__)
#define PQstatus(...) PQ_LAZY(PQstatus)(__VA_ARGS__)
#define PQtransactionStatus(...) PQ_LAZY(PQtransactionStatus)(__VA_ARGS__)
#define PQunescapeBytea(...) PQ_LAZY(PQunescapeBytea)(__VA_ARGS__)

#endif
