/* Check suite: the PostgreSQL replay store (replay_pg.h, docs/DESIGN.md §12) against a real
 * server named by IOTSEC_TEST_PG_URI (tests/scripts/replay_pg.sh starts a private cluster
 * with tests/lib/pg.sh and runs this suite): window behaviour, restart, transactions with the
 * caller's rows, window changes, foreign and damaged schemas refused untouched, the legacy
 * EcoWatt namespace, two connections, lock timeouts, the creation race of a new device's row,
 * a deadlock, the retry policy (failures injected by a trigger), a lost connection, and eight
 * processes racing on the same counters. Without the variable only the cases that
 * need no server run (argument checks, an unreachable server) and the rest is reported as
 * skipped. Each case works in a schema of its own (options=-csearch_path in the URI). */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#if IOTSEC_HAVE_PG
#include <libpq-fe.h>

#define DEV_A ((const uint8_t *)"dev-a")
#define DEV_B ((const uint8_t *)"device-b.example:01")
#define DEV_C ((const uint8_t *)"c")
#define LEN_A 5u
#define LEN_B 19u
#define LEN_C 1u
#define URI_CAP 1024

static int cc(iotsec_replay_store *s, const uint8_t *id, size_t len, uint8_t kid, uint64_t ctr)
{
    return iotsec_replay_store_check_and_commit(s, id, len, kid, ctr);
}

static int peek(iotsec_replay_store *s, const uint8_t *id, size_t len, uint8_t kid, uint64_t ctr)
{
    return iotsec_replay_store_check(s, id, len, kid, ctr);
}

/* ---- the server --------------------------------------------------------------------------- */

static const char *base_uri(void)
{
    const char *u = getenv("IOTSEC_TEST_PG_URI");
    return u != NULL && u[0] != '\0' ? u : NULL;
}

static void quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

/* A connection of the test itself, as the superuser, in the default schema (or in schema when
 * given). */
static PGconn *admin(const char *schema)
{
    char uri[URI_CAP];
    PGconn *c;
    int n;

    if (schema == NULL)
        n = snprintf(uri, sizeof uri, "%s", base_uri());
    else
        n = snprintf(uri, sizeof uri, "%s%soptions=-csearch_path%%3D%s", base_uri(),
                     strchr(base_uri(), '?') ? "&" : "?", schema);
    ck_assert(n > 0 && (size_t)n < sizeof uri);
    c = PQconnectdb(uri);
    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "connect %s: %s", uri, PQerrorMessage(c));
    PQsetNoticeProcessor(c, quiet, NULL); /* DROP SCHEMA IF EXISTS ... CASCADE talks */
    return c;
}

static PGresult *vexec(PGconn *c, const char *fmt, va_list ap)
{
    char sql[4096];
    PGresult *r;
    int n = vsnprintf(sql, sizeof sql, fmt, ap);

    ck_assert(n > 0 && (size_t)n < sizeof sql);
    r = PQexec(c, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK,
                  "%s: %s", sql, PQerrorMessage(c));
    return r;
}

static void sql(PGconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sql(PGconn *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    PQclear(vexec(c, fmt, ap));
    va_end(ap);
}

/* the first column of the first row, as text (the caller frees it); "" for no row */
static char *sql_text(PGconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *sql_text(PGconn *c, const char *fmt, ...)
{
    va_list ap;
    PGresult *r;
    char *v;

    va_start(ap, fmt);
    r = vexec(c, fmt, ap);
    va_end(ap);
    v = strdup(PQntuples(r) > 0 && PQnfields(r) > 0 ? PQgetvalue(r, 0, 0) : "");
    ck_assert_ptr_nonnull(v);
    PQclear(r);
    return v;
}

static long long sql_int(PGconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static long long sql_int(PGconn *c, const char *fmt, ...)
{
    va_list ap;
    PGresult *r;
    long long v;

    va_start(ap, fmt);
    r = vexec(c, fmt, ap);
    va_end(ap);
    ck_assert_int_eq(PQntuples(r), 1);
    v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

/* A new, empty schema (dropped first if a previous run left it) and the URI of a connection
 * whose search_path is it, with extra -c options (URI-encoded, e.g. "%20-cX%3Dy") appended. */
static void fresh_schema(char *uri, size_t cap, const char *schema, const char *extra)
{
    PGconn *c = admin(NULL);
    int n;

    sql(c, "DROP SCHEMA IF EXISTS %s CASCADE", schema);
    sql(c, "CREATE SCHEMA %s", schema);
    PQfinish(c);
    n = snprintf(uri, cap, "%s%soptions=-csearch_path%%3D%s%s", base_uri(),
                 strchr(base_uri(), '?') ? "&" : "?", schema, extra ? extra : "");
    ck_assert(n > 0 && (size_t)n < cap);
}

static iotsec_replay_pg *pg_open(const char *uri, unsigned window, unsigned flags)
{
    iotsec_replay_pg *s = NULL;
    char err[IOTSEC_REPLAY_PG_ERR_LEN];
    int rc = iotsec_replay_pg_open(&s, uri, window, flags, err, sizeof err);

    ck_assert_msg(rc == IOTSEC_OK, "open %s: %s: %s", uri, iotsec_strerror(rc), err);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(err, "");
    return s;
}

/* ---- behaviour every store shows (as tests/unit/test_replay_store.c) ---------------------- */

/* W = 8: reorder inside the window accepted once, too old and counter 0 rejected, keys
 * independent, peek changes nothing. */
static void window_behaviour(iotsec_replay_store *s)
{
    ck_assert_int_eq(peek(s, DEV_A, LEN_A, 0, 10), IOTSEC_OK);
    ck_assert_int_eq(peek(s, DEV_A, LEN_A, 0, 10), IOTSEC_OK); /* a peek commits nothing */
    ck_assert_int_eq(cc(s, DEV_A, LEN_A, 0, 10), IOTSEC_OK);
    ck_assert_int_eq(cc(s, DEV_A, LEN_A, 0, 10), IOTSEC_E_REPLAY);
    ck_assert_int_eq(peek(s, DEV_A, LEN_A, 0, 10), IOTSEC_E_REPLAY);
    ck_assert_int_eq(cc(s, DEV_A, LEN_A, 0, 7), IOTSEC_OK); /* reordered, inside W */
    ck_assert_int_eq(cc(s, DEV_A, LEN_A, 0, 7), IOTSEC_E_REPLAY);
    ck_assert_int_eq(cc(s, DEV_A, LEN_A, 0, 3), IOTSEC_OK);      /* 10 − 3 = 7 < 8 */
    ck_assert_int_eq(cc(s, DEV_A, LEN_A, 0, 2), IOTSEC_E_REPLAY); /* 10 − 2 = 8: too old */
    ck_assert_int_eq(cc(s, DEV_A, LEN_A, 0, 0), IOTSEC_E_REPLAY); /* never valid */
    ck_assert_int_eq(cc(s, DEV_A, LEN_A, 0, 20), IOTSEC_OK);
    ck_assert_int_eq(cc(s, DEV_A, LEN_A, 0, 12), IOTSEC_E_REPLAY); /* now too old */
    ck_assert_int_eq(cc(s, DEV_A, LEN_A, 0, 13), IOTSEC_OK);
    ck_assert_int_eq(cc(s, DEV_A, LEN_A, 0, UINT64_MAX), IOTSEC_OK);
    ck_assert_int_eq(cc(s, DEV_A, LEN_A, 0, UINT64_MAX), IOTSEC_E_REPLAY);
    ck_assert_int_eq(cc(s, DEV_A, LEN_A, 0, UINT64_MAX - 7), IOTSEC_OK);
    /* other kid, other device, a device id that is a prefix: independent windows */
    ck_assert_int_eq(cc(s, DEV_A, LEN_A, 1, 10), IOTSEC_OK);
    ck_assert_int_eq(cc(s, DEV_B, LEN_B, 0, 10), IOTSEC_OK);
    ck_assert_int_eq(cc(s, DEV_A, LEN_A - 1, 0, 10), IOTSEC_OK);
    ck_assert_int_eq(cc(s, DEV_A, LEN_A, 1, 10), IOTSEC_E_REPLAY);
    ck_assert_int_eq(cc(s, DEV_A, LEN_A, 255, 1), IOTSEC_OK);
    /* misuse */
    ck_assert_int_eq(cc(s, DEV_A, 0, 0, 5), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(cc(s, NULL, LEN_A, 0, 5), IOTSEC_E_INVALID_ARG);
    {
        uint8_t id[65];
        memset(id, 'x', sizeof id);
        id[0] = 0;    /* any bytes: the id is a bytea */
        id[1] = 0xff;
        ck_assert_int_eq(cc(s, id, 64, 0, 5), IOTSEC_OK);
        ck_assert_int_eq(cc(s, id, 64, 0, 5), IOTSEC_E_REPLAY);
        ck_assert_int_eq(cc(s, id, 63, 0, 5), IOTSEC_OK);
        ck_assert_int_eq(cc(s, id, 65, 0, 5), IOTSEC_E_INVALID_ARG);
        ck_assert_int_eq(peek(s, id, 65, 0, 5), IOTSEC_E_INVALID_ARG);
    }
}

START_TEST(test_pg_window_and_schema)
{
    char uri[URI_CAP];
    iotsec_replay_pg *s;
    PGconn *c;
    char *v;
    unsigned w = 99;

    fresh_schema(uri, sizeof uri, "t_window", NULL);
    s = pg_open(uri, 8, 0);
    ck_assert_int_eq(iotsec_replay_store_window(iotsec_replay_pg_store(s), &w), IOTSEC_OK);
    ck_assert_uint_eq(w, 8);
    window_behaviour(iotsec_replay_pg_store(s));
    ck_assert_str_eq(iotsec_replay_pg_sqlstate(s), "");
    c = iotsec_replay_pg_conn(s);
    ck_assert_ptr_nonnull(c);
    v = sql_text(c, "SELECT application || ' ' || schema_version FROM iotsec_replay_meta");
    ck_assert_str_eq(v, IOTSEC_REPLAY_PG_APPLICATION " 1");
    free(v);
    ck_assert_int_eq(sql_int(c, "SELECT count(*) FROM t_window.iotsec_replay_state"), 7);
    ck_assert_int_eq(sql_int(c, "SELECT count(*) FROM t_window.iotsec_replay_ecowatt"), 0);
    ck_assert_int_eq(sql_int(c, "SELECT min(octet_length(state)) FROM iotsec_replay_state"),
                     IOTSEC_REPLAY_STATE_LEN);
    v = sql_text(c, "SHOW synchronous_commit");
    ck_assert_str_eq(v, "on");
    free(v);
    v = sql_text(c, "SHOW lock_timeout");
    ck_assert_str_eq(v, "5s");
    free(v);
    iotsec_replay_pg_close(s);
    /* reopened: the same state; asynchronous commit when asked */
    s = pg_open(uri, 8, IOTSEC_REPLAY_PG_ASYNC_COMMIT);
    ck_assert_int_eq(peek(iotsec_replay_pg_store(s), DEV_A, LEN_A, 0, UINT64_MAX - 7),
                     IOTSEC_E_REPLAY);
    ck_assert_int_eq(peek(iotsec_replay_pg_store(s), DEV_A, LEN_A, 0, UINT64_MAX - 1),
                     IOTSEC_OK);
    v = sql_text(iotsec_replay_pg_conn(s), "SHOW synchronous_commit");
    ck_assert_str_eq(v, "off");
    free(v);
    iotsec_replay_pg_close(s);
    /* a session whose default is off is raised to on; a stronger setting is kept */
    fresh_schema(uri, sizeof uri, "t_window", "%20-csynchronous_commit%3Doff");
    s = pg_open(uri, 8, 0);
    v = sql_text(iotsec_replay_pg_conn(s), "SHOW synchronous_commit");
    ck_assert_str_eq(v, "on");
    free(v);
    iotsec_replay_pg_close(s);
    fresh_schema(uri, sizeof uri, "t_window", "%20-csynchronous_commit%3Dremote_apply");
    s = pg_open(uri, 8, 0);
    v = sql_text(iotsec_replay_pg_conn(s), "SHOW synchronous_commit");
    ck_assert_str_eq(v, "remote_apply");
    free(v);
    iotsec_replay_pg_close(s);
    /* strict mode */
    fresh_schema(uri, sizeof uri, "t_strict", NULL);
    s = pg_open(uri, 0, 0);
    ck_assert_int_eq(cc(iotsec_replay_pg_store(s), DEV_C, LEN_C, 9, 5), IOTSEC_OK);
    ck_assert_int_eq(cc(iotsec_replay_pg_store(s), DEV_C, LEN_C, 9, 4), IOTSEC_E_REPLAY);
    ck_assert_int_eq(cc(iotsec_replay_pg_store(s), DEV_C, LEN_C, 9, 5), IOTSEC_E_REPLAY);
    ck_assert_int_eq(cc(iotsec_replay_pg_store(s), DEV_C, LEN_C, 9, 6), IOTSEC_OK);
    iotsec_replay_pg_close(s);
}
END_TEST

/* accepted counters of the restart test: a deterministic pattern with reordering and gaps */
static int restart_accepts(uint64_t ctr, unsigned salt)
{
    return ctr == 200 || ((ctr + salt) * 2654435761u >> 7) % 3u != 0;
}

START_TEST(test_pg_restart)
{
    char uri[URI_CAP];
    static const uint8_t *ids[2] = {(const uint8_t *)"dev-a", (const uint8_t *)"dev-b"};
    iotsec_replay_pg *s;
    iotsec_replay_store *st;
    uint64_t ctr;
    unsigned d, kid, round;

    fresh_schema(uri, sizeof uri, "t_restart", NULL);
    s = pg_open(uri, 64, IOTSEC_REPLAY_PG_ASYNC_COMMIT);
    st = iotsec_replay_pg_store(s);
    /* counters 1..200 committed in blocks of 50, each block in descending order */
    for (d = 0; d < 2; d++)
        for (kid = 0; kid < 2; kid++)
            for (round = 0; round < 4; round++)
                for (ctr = 50u * round + 50u; ctr > 50u * round; ctr--)
                    if (restart_accepts(ctr, d * 2 + kid))
                        ck_assert_int_eq(cc(st, ids[d], 5, (uint8_t)kid, ctr), IOTSEC_OK);
    iotsec_replay_pg_close(s);
    /* a new session: every committed counter is still a replay; the others are fresh when
     * inside the window (200 − 64 < ctr) and too old below it */
    s = pg_open(uri, 64, 0);
    st = iotsec_replay_pg_store(s);
    for (d = 0; d < 2; d++) {
        for (kid = 0; kid < 2; kid++) {
            for (ctr = 1; ctr <= 200; ctr++) {
                int want = restart_accepts(ctr, d * 2 + kid) || ctr <= 200 - 64 ? IOTSEC_E_REPLAY
                                                                             : IOTSEC_OK;
                ck_assert_int_eq(peek(st, ids[d], 5, (uint8_t)kid, ctr), want);
            }
            ck_assert_int_eq(peek(st, ids[d], 5, (uint8_t)kid, 201), IOTSEC_OK);
        }
    }
    iotsec_replay_pg_close(s);
}
END_TEST

START_TEST(test_pg_transactions)
{
    char uri[URI_CAP];
    iotsec_replay_pg *s;
    iotsec_replay_store *st;
    PGconn *c;

    fresh_schema(uri, sizeof uri, "t_txn", NULL);
    s = pg_open(uri, 64, 0);
    st = iotsec_replay_pg_store(s);
    c = iotsec_replay_pg_conn(s);
    sql(c, "CREATE TABLE frames(device bytea, ctr bigint)");
    ck_assert_int_eq(iotsec_replay_store_commit(st), IOTSEC_E_STATE);
    ck_assert_int_eq(iotsec_replay_store_rollback(st), IOTSEC_E_STATE);
    /* the caller's transaction is rolled back: the counter and the frame row both vanish */
    ck_assert_int_eq(iotsec_replay_store_begin(st), IOTSEC_OK);
    ck_assert_int_eq(iotsec_replay_store_begin(st), IOTSEC_E_STATE);
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 5), IOTSEC_OK);
    sql(c, "INSERT INTO frames VALUES('\\x6465762d61', 5)");
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 5), IOTSEC_E_REPLAY); /* seen in the txn */
    ck_assert_int_eq(peek(st, DEV_A, LEN_A, 0, 5), IOTSEC_E_REPLAY);
    ck_assert_int_eq(iotsec_replay_store_rollback(st), IOTSEC_OK);
    ck_assert_int_eq(peek(st, DEV_A, LEN_A, 0, 5), IOTSEC_OK);
    ck_assert_int_eq(sql_int(c, "SELECT count(*) FROM frames"), 0);
    ck_assert_int_eq(sql_int(c, "SELECT count(*) FROM iotsec_replay_state"), 0);
    /* committed together */
    ck_assert_int_eq(iotsec_replay_store_begin(st), IOTSEC_OK);
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 6), IOTSEC_OK);
    ck_assert_int_eq(cc(st, DEV_B, LEN_B, 3, 1), IOTSEC_OK);
    sql(c, "INSERT INTO frames VALUES('\\x6465762d61', 6)");
    ck_assert_int_eq(iotsec_replay_store_commit(st), IOTSEC_OK);
    ck_assert_int_eq(PQtransactionStatus(c), PQTRANS_IDLE);
    /* a REPLAY inside a transaction leaves it usable */
    ck_assert_int_eq(iotsec_replay_store_begin(st), IOTSEC_OK);
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 6), IOTSEC_E_REPLAY);
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 9), IOTSEC_OK);
    ck_assert_int_eq(iotsec_replay_store_commit(st), IOTSEC_OK);
    /* a transaction the caller opened on the connection is joined, not committed by the
     * store */
    sql(c, "BEGIN");
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 7), IOTSEC_OK);
    ck_assert_int_eq(PQtransactionStatus(c), PQTRANS_INTRANS);
    ck_assert_int_eq(iotsec_replay_store_rollback(st), IOTSEC_OK);
    /* a statement of the caller fails: the transaction is failed, and the store says so */
    ck_assert_int_eq(iotsec_replay_store_begin(st), IOTSEC_OK);
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 8), IOTSEC_OK);
    PQclear(PQexec(c, "INSERT INTO no_such_table VALUES(1)"));
    ck_assert_int_eq(PQtransactionStatus(c), PQTRANS_INERROR);
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 10), IOTSEC_E_IO);
    ck_assert_str_eq(iotsec_replay_pg_sqlstate(s), "25P02");
    ck_assert_int_eq(peek(st, DEV_A, LEN_A, 0, 10), IOTSEC_E_IO);
    ck_assert_int_eq(iotsec_replay_store_commit(st), IOTSEC_E_IO); /* rolled back instead */
    ck_assert_int_eq(PQtransactionStatus(c), PQTRANS_IDLE);
    ck_assert_int_eq(peek(st, DEV_A, LEN_A, 0, 8), IOTSEC_OK);
    iotsec_replay_pg_close(s);
    /* after a restart */
    s = pg_open(uri, 64, 0);
    st = iotsec_replay_pg_store(s);
    ck_assert_int_eq(peek(st, DEV_A, LEN_A, 0, 5), IOTSEC_OK);
    ck_assert_int_eq(peek(st, DEV_A, LEN_A, 0, 6), IOTSEC_E_REPLAY);
    ck_assert_int_eq(peek(st, DEV_A, LEN_A, 0, 7), IOTSEC_OK);
    ck_assert_int_eq(peek(st, DEV_A, LEN_A, 0, 8), IOTSEC_OK);
    ck_assert_int_eq(peek(st, DEV_A, LEN_A, 0, 9), IOTSEC_E_REPLAY);
    ck_assert_int_eq(peek(st, DEV_B, LEN_B, 3, 1), IOTSEC_E_REPLAY);
    ck_assert_int_eq(sql_int(iotsec_replay_pg_conn(s), "SELECT count(*) FROM frames WHERE ctr = 6"),
                     1);
    /* a transaction left open at close is rolled back */
    ck_assert_int_eq(iotsec_replay_store_begin(st), IOTSEC_OK);
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 8), IOTSEC_OK);
    iotsec_replay_pg_close(s);
    s = pg_open(uri, 64, 0);
    ck_assert_int_eq(peek(iotsec_replay_pg_store(s), DEV_A, LEN_A, 0, 8), IOTSEC_OK);
    iotsec_replay_pg_close(s);
}
END_TEST

START_TEST(test_pg_window_change)
{
    char uri[URI_CAP];
    iotsec_replay_pg *s, *other;
    iotsec_replay_store *st, *so;

    fresh_schema(uri, sizeof uri, "t_wchange", NULL);
    s = pg_open(uri, 16, 0);
    st = iotsec_replay_pg_store(s);
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 5), IOTSEC_OK);
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 30), IOTSEC_OK);
    iotsec_replay_pg_close(s);
    /* widening 16 → 64: positions the old window no longer covered count as seen */
    s = pg_open(uri, 64, 0);
    st = iotsec_replay_pg_store(s);
    ck_assert_int_eq(peek(st, DEV_A, LEN_A, 0, 5), IOTSEC_E_REPLAY);  /* accepted long ago */
    ck_assert_int_eq(peek(st, DEV_A, LEN_A, 0, 14), IOTSEC_E_REPLAY); /* was too old */
    ck_assert_int_eq(peek(st, DEV_A, LEN_A, 0, 1), IOTSEC_E_REPLAY);
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 15), IOTSEC_OK); /* inside the old window */
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 20), IOTSEC_OK);
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 31), IOTSEC_OK);
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 80), IOTSEC_OK);
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 17), IOTSEC_OK); /* now inside the new W */
    iotsec_replay_pg_close(s);
    /* narrowing 64 → 4: older positions become too old */
    s = pg_open(uri, 4, 0);
    st = iotsec_replay_pg_store(s);
    ck_assert_int_eq(peek(st, DEV_A, LEN_A, 0, 77), IOTSEC_OK);
    ck_assert_int_eq(peek(st, DEV_A, LEN_A, 0, 76), IOTSEC_E_REPLAY);
    ck_assert_int_eq(peek(st, DEV_A, LEN_A, 0, 80), IOTSEC_E_REPLAY);
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 78), IOTSEC_OK);
    iotsec_replay_pg_close(s);
    /* 4 → 0 (strict) → 8 */
    s = pg_open(uri, 0, 0);
    st = iotsec_replay_pg_store(s);
    ck_assert_int_eq(peek(st, DEV_A, LEN_A, 0, 79), IOTSEC_E_REPLAY);
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 81), IOTSEC_OK);
    iotsec_replay_pg_close(s);
    s = pg_open(uri, 8, 0);
    st = iotsec_replay_pg_store(s);
    ck_assert_int_eq(peek(st, DEV_A, LEN_A, 0, 81), IOTSEC_E_REPLAY);
    ck_assert_int_eq(peek(st, DEV_A, LEN_A, 0, 80), IOTSEC_E_REPLAY);
    ck_assert_int_eq(peek(st, DEV_A, LEN_A, 0, 74), IOTSEC_E_REPLAY);
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 82), IOTSEC_OK);
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 81), IOTSEC_E_REPLAY);
    /* two live sessions with different W on one row: each converts it when it reads it, and
     * neither accepts what the other refused */
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 90), IOTSEC_OK); /* W = 8: only 90 in the row */
    other = pg_open(uri, 64, 0);
    so = iotsec_replay_pg_store(other);
    ck_assert_int_eq(cc(so, DEV_A, LEN_A, 0, 82), IOTSEC_E_REPLAY); /* widened: marked seen */
    ck_assert_int_eq(cc(so, DEV_A, LEN_A, 0, 60), IOTSEC_E_REPLAY);
    ck_assert_int_eq(cc(so, DEV_A, LEN_A, 0, 85), IOTSEC_OK);       /* inside the old W */
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 85), IOTSEC_E_REPLAY); /* narrowed: still seen */
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 86), IOTSEC_OK);
    ck_assert_int_eq(cc(so, DEV_A, LEN_A, 0, 86), IOTSEC_E_REPLAY);
    iotsec_replay_pg_close(other);
    iotsec_replay_pg_close(s);
}
END_TEST

/* ---- foreign and damaged schemas ---------------------------------------------------------- */

/* Everything of a schema that open could change: its relations and the contents of a meta
 * table if there is one (the caller frees the text). */
static char *snapshot(const char *schema)
{
    PGconn *c = admin(schema);
    char *tables, *meta, *out;
    size_t n;

    tables = sql_text(c,
                      "SELECT coalesce(string_agg(relname || ':' || relkind::text, ',' ORDER BY relname), '')"
                      " FROM pg_class WHERE relnamespace = '%s'::regnamespace", schema);
    if (sql_int(c, "SELECT count(*) FROM pg_class WHERE relnamespace = '%s'::regnamespace"
                   " AND relname = 'iotsec_replay_meta'", schema) > 0)
        meta = sql_text(c, "SELECT coalesce(string_agg(m::text, ';'), '') FROM iotsec_replay_meta m");
    else
        meta = strdup("-");
    n = strlen(tables) + strlen(meta) + 2;
    out = malloc(n);
    ck_assert_ptr_nonnull(out);
    snprintf(out, n, "%s|%s", tables, meta);
    free(tables);
    free(meta);
    PQfinish(c);
    return out;
}

/* open must refuse the schema with want and a reason, and leave it as it was */
static void expect_refused(const char *schema, const char *setup_sql, int want)
{
    char uri[URI_CAP], err[IOTSEC_REPLAY_PG_ERR_LEN];
    iotsec_replay_pg *s = (iotsec_replay_pg *)1;
    PGconn *c;
    char *before, *after;
    int rc;

    fresh_schema(uri, sizeof uri, schema, NULL);
    if (setup_sql != NULL) {
        c = admin(schema);
        sql(c, "%s", setup_sql);
        PQfinish(c);
    }
    before = snapshot(schema);
    rc = iotsec_replay_pg_open(&s, uri, 64, 0, err, sizeof err);
    ck_assert_msg(rc == want, "%s: open gave %s, want %s (%s)", schema, iotsec_error_name(rc),
                  iotsec_error_name(want), err);
    ck_assert_ptr_null(s);
    ck_assert_msg(err[0] != '\0', "%s: no reason given", schema);
    ck_assert_ptr_null(strchr(err, '\n'));
    after = snapshot(schema);
    ck_assert_str_eq(after, before);
    printf("  refused %-14s %s: %s\n", schema, iotsec_error_name(rc), err);
    free(before);
    free(after);
}

#define OUR_META                                                                           \
    "CREATE TABLE iotsec_replay_meta(singleton boolean PRIMARY KEY DEFAULT true"           \
    " CHECK (singleton), application text NOT NULL, schema_version integer NOT NULL);"
#define OUR_STATE(name)                                                                    \
    "CREATE TABLE " name "(device_id bytea NOT NULL, kid smallint NOT NULL,"               \
    " state bytea NOT NULL, PRIMARY KEY (device_id, kid));"

START_TEST(test_pg_foreign_and_damaged)
{
    char uri[URI_CAP];
    iotsec_replay_pg *s;
    iotsec_replay_store *st;
    PGconn *c;
    uint64_t ctr;
    unsigned i;

    /* tables named like ours without the identification, or of another layout */
    expect_refused("t_lookalike", OUR_STATE("iotsec_replay_state"), IOTSEC_E_CORRUPT);
    expect_refused("t_only_eco", OUR_STATE("iotsec_replay_ecowatt"), IOTSEC_E_CORRUPT);
    expect_refused("t_meta_shape", "CREATE TABLE iotsec_replay_meta(x integer)", IOTSEC_E_CORRUPT);
    expect_refused("t_meta_app", OUR_META "INSERT INTO iotsec_replay_meta VALUES(true, 'other-app', 1);"
                   OUR_STATE("iotsec_replay_state") OUR_STATE("iotsec_replay_ecowatt"),
                   IOTSEC_E_CORRUPT);
    expect_refused("t_meta_empty", OUR_META OUR_STATE("iotsec_replay_state")
                   OUR_STATE("iotsec_replay_ecowatt"), IOTSEC_E_CORRUPT);
    expect_refused("t_state_view", OUR_META "INSERT INTO iotsec_replay_meta VALUES(true, 'iotsec-replay', 1);"
                   "CREATE VIEW iotsec_replay_state AS SELECT '\\x00'::bytea AS device_id,"
                   " 0::smallint AS kid, '\\x00'::bytea AS state;" OUR_STATE("iotsec_replay_ecowatt"),
                   IOTSEC_E_CORRUPT);
    expect_refused("t_state_text", OUR_META "INSERT INTO iotsec_replay_meta VALUES(true, 'iotsec-replay', 1);"
                   "CREATE TABLE iotsec_replay_state(device_id text, kid integer, state text,"
                   " PRIMARY KEY (device_id, kid));" OUR_STATE("iotsec_replay_ecowatt"),
                   IOTSEC_E_CORRUPT);
    /* ours, with another schema version: newer, or one that never existed */
    expect_refused("t_newer", OUR_META "INSERT INTO iotsec_replay_meta VALUES(true, 'iotsec-replay', 2);"
                   OUR_STATE("iotsec_replay_state") OUR_STATE("iotsec_replay_ecowatt"),
                   IOTSEC_E_BAD_VERSION);
    expect_refused("t_version0", OUR_META "INSERT INTO iotsec_replay_meta VALUES(true, 'iotsec-replay', 0);"
                   OUR_STATE("iotsec_replay_state") OUR_STATE("iotsec_replay_ecowatt"),
                   IOTSEC_E_BAD_VERSION);
    /* ours, then changed: a column added, the legacy table dropped */
    expect_refused("t_altered", OUR_META "INSERT INTO iotsec_replay_meta VALUES(true, 'iotsec-replay', 1);"
                   "CREATE TABLE iotsec_replay_state(device_id bytea NOT NULL, kid smallint NOT NULL,"
                   " state bytea NOT NULL, note text, PRIMARY KEY (device_id, kid));"
                   OUR_STATE("iotsec_replay_ecowatt"), IOTSEC_E_CORRUPT);
    expect_refused("t_no_eco", OUR_META "INSERT INTO iotsec_replay_meta VALUES(true, 'iotsec-replay', 1);"
                   OUR_STATE("iotsec_replay_state"), IOTSEC_E_CORRUPT);
    /* a schema holding other tables (a server's own) is fresh for the store: its tables are
     * added, the others left alone */
    fresh_schema(uri, sizeof uri, "t_shared", NULL);
    c = admin("t_shared");
    sql(c, "CREATE TABLE devices(id text PRIMARY KEY); INSERT INTO devices VALUES('dev-a')");
    s = pg_open(uri, 64, 0);
    ck_assert_int_eq(sql_int(c, "SELECT count(*) FROM devices"), 1);
    ck_assert_int_eq(sql_int(c, "SELECT count(*) FROM pg_tables WHERE schemaname = 't_shared'"), 4);
    iotsec_replay_pg_close(s);
    PQfinish(c);

    /* damaged state rows: that device gets IOTSEC_E_CORRUPT, the others carry on, and the
     * row is not reset */
    fresh_schema(uri, sizeof uri, "t_damaged", NULL);
    s = pg_open(uri, 64, IOTSEC_REPLAY_PG_ASYNC_COMMIT);
    st = iotsec_replay_pg_store(s);
    ck_assert_int_eq(iotsec_replay_store_begin(st), IOTSEC_OK);
    for (i = 0; i < 10; i++) {
        char id[16];
        int n = snprintf(id, sizeof id, "dev-%u", i);
        ck_assert_int_eq(cc(st, (const uint8_t *)id, (size_t)n, 0, 1), IOTSEC_OK);
    }
    ck_assert_int_eq(iotsec_replay_store_commit(st), IOTSEC_OK);
    c = iotsec_replay_pg_conn(s);
    sql(c, "UPDATE iotsec_replay_state SET state = '\\x0102' WHERE device_id = 'dev-7'::bytea");
    sql(c, "UPDATE iotsec_replay_state SET state = '' WHERE device_id = 'dev-8'::bytea");
    /* 139 bytes, format 1, but a bit set at or beyond W: inconsistent */
    sql(c, "UPDATE iotsec_replay_state SET state = '\\x01' || '\\x0040'::bytea ||"
           " '\\x0000000000000000'::bytea || '\\x8000000000000000'::bytea ||"
           " decode(repeat('00', 120), 'hex') WHERE device_id = 'dev-9'::bytea");
    ck_assert_int_eq(sql_int(c, "SELECT octet_length(state) FROM iotsec_replay_state"
                                " WHERE device_id = 'dev-9'::bytea"), IOTSEC_REPLAY_STATE_LEN);
    for (ctr = 1; ctr <= 3; ctr++) {
        ck_assert_int_eq(cc(st, (const uint8_t *)"dev-7", 5, 0, ctr + 10), IOTSEC_E_CORRUPT);
        ck_assert_int_eq(peek(st, (const uint8_t *)"dev-7", 5, 0, ctr + 10), IOTSEC_E_CORRUPT);
        ck_assert_int_eq(cc(st, (const uint8_t *)"dev-8", 5, 0, ctr + 10), IOTSEC_E_CORRUPT);
        ck_assert_int_eq(cc(st, (const uint8_t *)"dev-9", 5, 0, ctr + 10), IOTSEC_E_CORRUPT);
        ck_assert_str_eq(iotsec_replay_pg_sqlstate(s), "");
    }
    /* inside a transaction a damaged row leaves the transaction usable */
    ck_assert_int_eq(iotsec_replay_store_begin(st), IOTSEC_OK);
    ck_assert_int_eq(cc(st, (const uint8_t *)"dev-7", 5, 0, 20), IOTSEC_E_CORRUPT);
    ck_assert_int_eq(cc(st, (const uint8_t *)"dev-6", 5, 0, 20), IOTSEC_OK);
    ck_assert_int_eq(iotsec_replay_store_commit(st), IOTSEC_OK);
    ck_assert_int_eq(cc(st, (const uint8_t *)"dev-6", 5, 0, 1), IOTSEC_E_REPLAY);
    ck_assert_int_eq(cc(st, (const uint8_t *)"dev-6", 5, 0, 2), IOTSEC_OK);
    ck_assert_int_eq(sql_int(c, "SELECT octet_length(state) FROM iotsec_replay_state"
                                " WHERE device_id = 'dev-7'::bytea"), 2);
    ck_assert_int_eq(sql_int(c, "SELECT octet_length(state) FROM iotsec_replay_state"
                                " WHERE device_id = 'dev-8'::bytea"), 0);
    /* a table changed under a running store: its statements fail, the store says CORRUPT */
    sql(c, "ALTER TABLE iotsec_replay_ecowatt RENAME TO gone");
    ck_assert_int_eq(cc(iotsec_replay_pg_ecowatt_store(s), DEV_A, LEN_A, 0, 1), IOTSEC_E_CORRUPT);
    ck_assert_str_eq(iotsec_replay_pg_sqlstate(s), "42P01");
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 1), IOTSEC_OK); /* the other table still works */
    iotsec_replay_pg_close(s);
}
END_TEST

/* ---- the legacy EcoWatt namespace -------------------------------------------------------- */

START_TEST(test_pg_ecowatt_namespace)
{
    char uri[URI_CAP];
    iotsec_replay_pg *s;
    iotsec_replay_store *fr, *eco;
    PGconn *c;
    unsigned w = 99;

    fresh_schema(uri, sizeof uri, "t_eco", NULL);
    s = pg_open(uri, 64, 0);
    fr = iotsec_replay_pg_store(s);
    eco = iotsec_replay_pg_ecowatt_store(s);
    ck_assert_ptr_nonnull(eco);
    ck_assert_ptr_ne(eco, fr);
    ck_assert_int_eq(iotsec_replay_store_window(fr, &w), IOTSEC_OK);
    ck_assert_uint_eq(w, 64);
    ck_assert_int_eq(iotsec_replay_store_window(eco, &w), IOTSEC_OK);
    ck_assert_uint_eq(w, 0); /* whatever W the store was opened with */
    /* the same (device, kid) in both namespaces: independent states */
    ck_assert_int_eq(cc(fr, DEV_A, LEN_A, 0, 100), IOTSEC_OK);
    ck_assert_int_eq(peek(eco, DEV_A, LEN_A, 0, 100), IOTSEC_OK);
    ck_assert_int_eq(cc(eco, DEV_A, LEN_A, 0, 50), IOTSEC_OK);
    ck_assert_int_eq(cc(fr, DEV_A, LEN_A, 0, 50), IOTSEC_OK); /* inside W = 64 of 100 */
    /* the legacy namespace is strict */
    ck_assert_int_eq(cc(eco, DEV_A, LEN_A, 0, 49), IOTSEC_E_REPLAY);
    ck_assert_int_eq(cc(eco, DEV_A, LEN_A, 0, 50), IOTSEC_E_REPLAY);
    ck_assert_int_eq(cc(eco, DEV_A, LEN_A, 0, 52), IOTSEC_OK);
    ck_assert_int_eq(cc(eco, DEV_A, LEN_A, 0, 51), IOTSEC_E_REPLAY);
    c = iotsec_replay_pg_conn(s);
    ck_assert_int_eq(sql_int(c, "SELECT count(*) FROM iotsec_replay_state"), 1);
    ck_assert_int_eq(sql_int(c, "SELECT count(*) FROM iotsec_replay_ecowatt"), 1);
    /* one connection, one transaction: begun on one handle, it covers the other and the
     * caller's rows; commit or rollback from either handle ends it */
    sql(c, "CREATE TABLE frames(ctr bigint)");
    ck_assert_int_eq(iotsec_replay_store_begin(fr), IOTSEC_OK);
    ck_assert_int_eq(iotsec_replay_store_begin(eco), IOTSEC_E_STATE);
    ck_assert_int_eq(cc(eco, DEV_A, LEN_A, 0, 60), IOTSEC_OK);
    ck_assert_int_eq(cc(fr, DEV_A, LEN_A, 0, 101), IOTSEC_OK);
    sql(c, "INSERT INTO frames VALUES(60)");
    ck_assert_int_eq(iotsec_replay_store_rollback(eco), IOTSEC_OK);
    ck_assert_int_eq(iotsec_replay_store_rollback(fr), IOTSEC_E_STATE);
    ck_assert_int_eq(peek(eco, DEV_A, LEN_A, 0, 60), IOTSEC_OK);
    ck_assert_int_eq(peek(fr, DEV_A, LEN_A, 0, 101), IOTSEC_OK);
    ck_assert_int_eq(sql_int(c, "SELECT count(*) FROM frames"), 0);
    ck_assert_int_eq(iotsec_replay_store_begin(eco), IOTSEC_OK);
    ck_assert_int_eq(cc(eco, DEV_A, LEN_A, 0, 60), IOTSEC_OK);
    sql(c, "INSERT INTO frames VALUES(60)");
    ck_assert_int_eq(iotsec_replay_store_commit(fr), IOTSEC_OK);
    iotsec_replay_pg_close(s);
    /* reopened with another W: the legacy rows stay strict, nothing converted */
    s = pg_open(uri, 8, 0);
    eco = iotsec_replay_pg_ecowatt_store(s);
    ck_assert_int_eq(peek(eco, DEV_A, LEN_A, 0, 60), IOTSEC_E_REPLAY);
    ck_assert_int_eq(peek(eco, DEV_A, LEN_A, 0, 59), IOTSEC_E_REPLAY);
    ck_assert_int_eq(peek(eco, DEV_A, LEN_A, 0, 61), IOTSEC_OK);
    ck_assert_int_eq(sql_int(iotsec_replay_pg_conn(s), "SELECT count(*) FROM frames"), 1);
    iotsec_replay_pg_close(s);
}
END_TEST

/* ---- several connections ----------------------------------------------------------------- */

START_TEST(test_pg_two_connections_and_locks)
{
    char uri[URI_CAP];
    iotsec_replay_pg *a, *b;
    iotsec_replay_store *sa, *sb;

    fresh_schema(uri, sizeof uri, "t_locks", NULL);
    a = pg_open(uri, 64, 0);
    b = pg_open(uri, 64, 0);
    sa = iotsec_replay_pg_store(a);
    sb = iotsec_replay_pg_store(b);
    /* accepted through one connection: a replay through the other */
    ck_assert_int_eq(cc(sa, DEV_A, LEN_A, 0, 1), IOTSEC_OK);
    ck_assert_int_eq(peek(sb, DEV_A, LEN_A, 0, 1), IOTSEC_E_REPLAY);
    ck_assert_int_eq(cc(sb, DEV_A, LEN_A, 0, 1), IOTSEC_E_REPLAY);
    ck_assert_int_eq(cc(sb, DEV_A, LEN_A, 0, 2), IOTSEC_OK);
    ck_assert_int_eq(cc(sa, DEV_A, LEN_A, 0, 2), IOTSEC_E_REPLAY);
    sql(iotsec_replay_pg_conn(b), "SET lock_timeout = 200");
    /* a holds the row of dev-a: b waits, then gives up with IOTSEC_E_IO */
    ck_assert_int_eq(iotsec_replay_store_begin(sa), IOTSEC_OK);
    ck_assert_int_eq(cc(sa, DEV_A, LEN_A, 0, 3), IOTSEC_OK);
    ck_assert_int_eq(cc(sb, DEV_A, LEN_A, 0, 3), IOTSEC_E_IO);
    ck_assert_str_eq(iotsec_replay_pg_sqlstate(b), "55P03");
    ck_assert_int_eq(cc(sb, DEV_A, LEN_A, 0, 4), IOTSEC_E_IO);
    ck_assert_int_eq(PQtransactionStatus(iotsec_replay_pg_conn(b)), PQTRANS_IDLE);
    /* readers are not blocked, and do not see a's uncommitted counter */
    ck_assert_int_eq(peek(sb, DEV_A, LEN_A, 0, 3), IOTSEC_OK);
    ck_assert_int_eq(peek(sb, DEV_A, LEN_A, 0, 2), IOTSEC_E_REPLAY);
    ck_assert_str_eq(iotsec_replay_pg_sqlstate(b), "");
    /* other devices are not blocked */
    ck_assert_int_eq(cc(sb, DEV_B, LEN_B, 0, 3), IOTSEC_OK);
    /* inside b's transaction the timeout fails the transaction */
    ck_assert_int_eq(iotsec_replay_store_begin(sb), IOTSEC_OK);
    ck_assert_int_eq(cc(sb, DEV_B, LEN_B, 0, 4), IOTSEC_OK);
    ck_assert_int_eq(cc(sb, DEV_A, LEN_A, 0, 3), IOTSEC_E_IO);
    ck_assert_str_eq(iotsec_replay_pg_sqlstate(b), "55P03");
    ck_assert_int_eq(cc(sb, DEV_B, LEN_B, 0, 5), IOTSEC_E_IO);
    ck_assert_str_eq(iotsec_replay_pg_sqlstate(b), "25P02");
    ck_assert_int_eq(iotsec_replay_store_commit(sb), IOTSEC_E_IO);
    ck_assert_int_eq(peek(sb, DEV_B, LEN_B, 0, 4), IOTSEC_OK); /* nothing of it stored */
    ck_assert_int_eq(iotsec_replay_store_commit(sa), IOTSEC_OK);
    ck_assert_int_eq(cc(sb, DEV_A, LEN_A, 0, 3), IOTSEC_E_REPLAY);
    ck_assert_int_eq(cc(sb, DEV_A, LEN_A, 0, 4), IOTSEC_OK);
    ck_assert_int_eq(cc(sa, DEV_A, LEN_A, 0, 4), IOTSEC_E_REPLAY);
    /* a row being created by a's open transaction: b's insert waits for it, then times out;
     * after a rolls back, b creates it */
    ck_assert_int_eq(iotsec_replay_store_begin(sa), IOTSEC_OK);
    ck_assert_int_eq(cc(sa, DEV_C, LEN_C, 7, 5), IOTSEC_OK);
    ck_assert_int_eq(cc(sb, DEV_C, LEN_C, 7, 5), IOTSEC_E_IO);
    ck_assert_str_eq(iotsec_replay_pg_sqlstate(b), "55P03");
    ck_assert_int_eq(iotsec_replay_store_rollback(sa), IOTSEC_OK);
    ck_assert_int_eq(cc(sb, DEV_C, LEN_C, 7, 5), IOTSEC_OK);
    ck_assert_int_eq(cc(sa, DEV_C, LEN_C, 7, 5), IOTSEC_E_REPLAY);
    iotsec_replay_pg_close(a);
    iotsec_replay_pg_close(b);
}
END_TEST

struct cc_arg {
    iotsec_replay_store *st;
    const uint8_t *id;
    size_t len;
    uint64_t ctr;
    int rc;
};

static void *cc_thread(void *p)
{
    struct cc_arg *a = p;

    a->rc = cc(a->st, a->id, a->len, 0, a->ctr);
    return NULL;
}

/* The creation race, step by step: a creates the row of a new device in its open
 * transaction; b's own check_and_commit of another counter finds no row, and its INSERT waits
 * for a; a commits, so b's INSERT writes nothing, and b then locks a's row and moves the
 * window from there: both counters accepted, once. */
START_TEST(test_pg_creation_race)
{
    char uri[URI_CAP];
    iotsec_replay_pg *a, *b;
    struct cc_arg arg;
    pthread_t t;

    fresh_schema(uri, sizeof uri, "t_create", NULL);
    a = pg_open(uri, 64, 0);
    b = pg_open(uri, 64, 0);
    ck_assert_int_eq(iotsec_replay_store_begin(iotsec_replay_pg_store(a)), IOTSEC_OK);
    ck_assert_int_eq(cc(iotsec_replay_pg_store(a), DEV_C, LEN_C, 0, 5), IOTSEC_OK);
    arg.st = iotsec_replay_pg_store(b);
    arg.id = DEV_C;
    arg.len = LEN_C;
    arg.ctr = 6;
    arg.rc = 12345;
    ck_assert_int_eq(pthread_create(&t, NULL, cc_thread, &arg), 0);
    usleep(200 * 1000); /* b is waiting for a's insert */
    ck_assert_int_eq(sql_int(iotsec_replay_pg_conn(a),
                             "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                             " AND pid = %d", PQbackendPID(iotsec_replay_pg_conn(b))), 1);
    ck_assert_int_eq(iotsec_replay_store_commit(iotsec_replay_pg_store(a)), IOTSEC_OK);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_int_eq(arg.rc, IOTSEC_OK);
    ck_assert_int_eq(peek(iotsec_replay_pg_store(a), DEV_C, LEN_C, 0, 5), IOTSEC_E_REPLAY);
    ck_assert_int_eq(peek(iotsec_replay_pg_store(a), DEV_C, LEN_C, 0, 6), IOTSEC_E_REPLAY);
    ck_assert_int_eq(peek(iotsec_replay_pg_store(a), DEV_C, LEN_C, 0, 4), IOTSEC_OK);
    /* the same counter from both sides: the waiting one gets REPLAY */
    ck_assert_int_eq(iotsec_replay_store_begin(iotsec_replay_pg_store(a)), IOTSEC_OK);
    ck_assert_int_eq(cc(iotsec_replay_pg_store(a), DEV_B, LEN_B, 0, 9), IOTSEC_OK);
    arg.id = DEV_B;
    arg.len = LEN_B;
    arg.ctr = 9;
    arg.rc = 12345;
    ck_assert_int_eq(pthread_create(&t, NULL, cc_thread, &arg), 0);
    usleep(200 * 1000);
    ck_assert_int_eq(iotsec_replay_store_commit(iotsec_replay_pg_store(a)), IOTSEC_OK);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_int_eq(arg.rc, IOTSEC_E_REPLAY);
    ck_assert_int_eq(sql_int(iotsec_replay_pg_conn(b), "SELECT count(*) FROM iotsec_replay_state"), 2);
    iotsec_replay_pg_close(a);
    iotsec_replay_pg_close(b);
}
END_TEST

struct deadlock_arg {
    iotsec_replay_store *st;
    int rc;
};

static void *deadlock_thread(void *p)
{
    struct deadlock_arg *a = p;

    a->rc = cc(a->st, DEV_B, LEN_B, 0, 1); /* b holds it */
    return NULL;
}

/* Two transactions lock two rows in opposite orders: the server breaks the deadlock by
 * failing one (SQLSTATE 40P01, IOTSEC_E_IO, nothing of it stored); the other commits. */
START_TEST(test_pg_deadlock)
{
    char uri[URI_CAP];
    iotsec_replay_pg *a, *b, *victim, *winner;
    struct deadlock_arg arg;
    pthread_t t;
    int rc_b;

    fresh_schema(uri, sizeof uri, "t_deadlock", NULL);
    a = pg_open(uri, 64, 0);
    b = pg_open(uri, 64, 0);
    ck_assert_int_eq(iotsec_replay_store_begin(iotsec_replay_pg_store(a)), IOTSEC_OK);
    ck_assert_int_eq(cc(iotsec_replay_pg_store(a), DEV_A, LEN_A, 0, 1), IOTSEC_OK);
    ck_assert_int_eq(iotsec_replay_store_begin(iotsec_replay_pg_store(b)), IOTSEC_OK);
    ck_assert_int_eq(cc(iotsec_replay_pg_store(b), DEV_B, LEN_B, 0, 1), IOTSEC_OK);
    arg.st = iotsec_replay_pg_store(a);
    arg.rc = 12345;
    ck_assert_int_eq(pthread_create(&t, NULL, deadlock_thread, &arg), 0);
    usleep(100 * 1000);
    rc_b = cc(iotsec_replay_pg_store(b), DEV_A, LEN_A, 0, 1); /* a holds it */
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_msg((arg.rc == IOTSEC_OK && rc_b == IOTSEC_E_IO) ||
                      (arg.rc == IOTSEC_E_IO && rc_b == IOTSEC_OK),
                  "a: %s, b: %s", iotsec_error_name(arg.rc), iotsec_error_name(rc_b));
    victim = arg.rc == IOTSEC_OK ? b : a;
    winner = victim == a ? b : a;
    ck_assert_str_eq(iotsec_replay_pg_sqlstate(victim), "40P01");
    ck_assert_int_eq(iotsec_replay_store_rollback(iotsec_replay_pg_store(victim)), IOTSEC_OK);
    ck_assert_int_eq(iotsec_replay_store_commit(iotsec_replay_pg_store(winner)), IOTSEC_OK);
    /* the winner holds both counters 1; the victim's transaction left nothing */
    ck_assert_int_eq(peek(iotsec_replay_pg_store(victim), DEV_A, LEN_A, 0, 1), IOTSEC_E_REPLAY);
    ck_assert_int_eq(peek(iotsec_replay_pg_store(victim), DEV_B, LEN_B, 0, 1), IOTSEC_E_REPLAY);
    ck_assert_int_eq(sql_int(iotsec_replay_pg_conn(a), "SELECT count(*) FROM iotsec_replay_state"), 2);
    printf("  deadlock: %s was the victim (40P01), %s committed both counters\n",
           victim == a ? "a" : "b", winner == a ? "a" : "b");
    iotsec_replay_pg_close(a);
    iotsec_replay_pg_close(b);
}
END_TEST

/* The retry policy, with failures injected by a trigger on the state table: a
 * check_and_commit that is its own transaction is run again after a serialization failure or
 * a deadlock, at most IOTSEC_REPLAY_PG_RETRIES more times; inside a caller's transaction it is
 * not, and the transaction has failed. The trigger counts its calls with a sequence (not rolled
 * back) and fails the first `fail_first` of them with the SQLSTATE in table fault. */
static void set_faults(PGconn *c, const char *code, int fail_first)
{
    sql(c, "UPDATE fault SET code = '%s', fail_first = %d", code, fail_first);
    sql(c, "SELECT setval('fault_calls', 1, false)");
}

START_TEST(test_pg_retry)
{
    char uri[URI_CAP];
    iotsec_replay_pg *s;
    iotsec_replay_store *st;
    PGconn *c;

    fresh_schema(uri, sizeof uri, "t_retry", NULL);
    s = pg_open(uri, 64, 0);
    st = iotsec_replay_pg_store(s);
    c = admin("t_retry");
    sql(c, "CREATE SEQUENCE fault_calls;"
           "CREATE TABLE fault(code text, fail_first integer); INSERT INTO fault VALUES('', 0);"
           "CREATE FUNCTION inject() RETURNS trigger LANGUAGE plpgsql AS $$"
           " DECLARE f fault; BEGIN SELECT * INTO f FROM fault;"
           " IF nextval('fault_calls') <= f.fail_first THEN"
           "  RAISE EXCEPTION 'injected' USING ERRCODE = f.code; END IF;"
           " RETURN NEW; END $$;"
           "CREATE TRIGGER inject BEFORE INSERT OR UPDATE ON iotsec_replay_state"
           " FOR EACH ROW EXECUTE FUNCTION inject()");
    /* own transaction: two serialization failures, then it goes through */
    set_faults(c, "40001", 2);
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 1), IOTSEC_OK);
    ck_assert_str_eq(iotsec_replay_pg_sqlstate(s), "");
    ck_assert_int_eq(sql_int(c, "SELECT last_value FROM fault_calls"), 3);
    /* deadlocks, one more than the retries: IOTSEC_E_IO after 1 + 3 attempts, nothing stored */
    set_faults(c, "40P01", IOTSEC_REPLAY_PG_RETRIES + 1);
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 2), IOTSEC_E_IO);
    ck_assert_str_eq(iotsec_replay_pg_sqlstate(s), "40P01");
    ck_assert_int_eq(sql_int(c, "SELECT last_value FROM fault_calls"), IOTSEC_REPLAY_PG_RETRIES + 1);
    ck_assert_int_eq(peek(st, DEV_A, LEN_A, 0, 2), IOTSEC_OK);
    /* exactly the retries: the last attempt goes through */
    set_faults(c, "40P01", IOTSEC_REPLAY_PG_RETRIES);
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 2), IOTSEC_OK);
    /* another failure is not retried */
    set_faults(c, "53100", 1);
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 3), IOTSEC_E_IO);
    ck_assert_str_eq(iotsec_replay_pg_sqlstate(s), "53100");
    ck_assert_int_eq(sql_int(c, "SELECT last_value FROM fault_calls"), 1);
    /* inside a transaction: not retried; the transaction has failed, nothing of it stored */
    set_faults(c, "40001", 1);
    ck_assert_int_eq(iotsec_replay_store_begin(st), IOTSEC_OK);
    ck_assert_int_eq(cc(iotsec_replay_pg_ecowatt_store(s), DEV_A, LEN_A, 0, 7), IOTSEC_OK);
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 3), IOTSEC_E_IO);
    ck_assert_str_eq(iotsec_replay_pg_sqlstate(s), "40001");
    ck_assert_int_eq(sql_int(c, "SELECT last_value FROM fault_calls"), 1);
    ck_assert_int_eq(iotsec_replay_store_rollback(st), IOTSEC_OK);
    ck_assert_int_eq(peek(iotsec_replay_pg_ecowatt_store(s), DEV_A, LEN_A, 0, 7), IOTSEC_OK);
    /* the caller runs it again, as replay_pg.h says */
    ck_assert_int_eq(iotsec_replay_store_begin(st), IOTSEC_OK);
    ck_assert_int_eq(cc(iotsec_replay_pg_ecowatt_store(s), DEV_A, LEN_A, 0, 7), IOTSEC_OK);
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 3), IOTSEC_OK);
    ck_assert_int_eq(iotsec_replay_store_commit(st), IOTSEC_OK);
    ck_assert_int_eq(peek(st, DEV_A, LEN_A, 0, 3), IOTSEC_E_REPLAY);
    PQfinish(c);
    iotsec_replay_pg_close(s);
}
END_TEST

/* The server ends the session: operations say IOTSEC_E_IO (08006); begin reconnects by
 * itself, iotsec_replay_pg_reset on request; a transaction cut off stored nothing. */
START_TEST(test_pg_connection_lost)
{
    char uri[URI_CAP];
    iotsec_replay_pg *s;
    iotsec_replay_store *st;
    PGconn *adm;

    fresh_schema(uri, sizeof uri, "t_lost", NULL);
    s = pg_open(uri, 64, 0);
    st = iotsec_replay_pg_store(s);
    adm = admin(NULL);
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 1), IOTSEC_OK);
    sql(adm, "SELECT pg_terminate_backend(%d, 10000)", PQbackendPID(iotsec_replay_pg_conn(s)));
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 2), IOTSEC_E_IO);
    ck_assert_str_eq(iotsec_replay_pg_sqlstate(s), "08006");
    ck_assert_int_eq(PQstatus(iotsec_replay_pg_conn(s)), CONNECTION_BAD);
    ck_assert_int_eq(peek(st, DEV_A, LEN_A, 0, 2), IOTSEC_E_IO);
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 2), IOTSEC_E_IO);
    ck_assert_int_eq(iotsec_replay_store_commit(st), IOTSEC_E_IO);
    ck_assert_int_eq(iotsec_replay_store_rollback(st), IOTSEC_E_IO);
    /* begin reconnects */
    ck_assert_int_eq(iotsec_replay_store_begin(st), IOTSEC_OK);
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 1), IOTSEC_E_REPLAY);
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 2), IOTSEC_OK);
    ck_assert_int_eq(iotsec_replay_store_commit(st), IOTSEC_OK);
    /* cut off inside a transaction: commit fails, nothing stored */
    ck_assert_int_eq(iotsec_replay_store_begin(st), IOTSEC_OK);
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 3), IOTSEC_OK);
    sql(adm, "SELECT pg_terminate_backend(%d, 10000)", PQbackendPID(iotsec_replay_pg_conn(s)));
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 4), IOTSEC_E_IO);
    ck_assert_int_eq(iotsec_replay_store_commit(st), IOTSEC_E_IO);
    ck_assert_str_eq(iotsec_replay_pg_sqlstate(s), "08006");
    /* an explicit reset, then the session works as opened */
    ck_assert_int_eq(iotsec_replay_pg_reset(s), IOTSEC_OK);
    ck_assert_int_eq(peek(st, DEV_A, LEN_A, 0, 3), IOTSEC_OK);
    ck_assert_int_eq(peek(st, DEV_A, LEN_A, 0, 2), IOTSEC_E_REPLAY);
    {
        char *v = sql_text(iotsec_replay_pg_conn(s), "SHOW lock_timeout");
        ck_assert_str_eq(v, "5s");
        free(v);
    }
    ck_assert_int_eq(cc(iotsec_replay_pg_ecowatt_store(s), DEV_A, LEN_A, 0, 3), IOTSEC_OK);
    ck_assert_int_eq(iotsec_replay_pg_reset(NULL), IOTSEC_E_INVALID_ARG);
    PQfinish(adm);
    iotsec_replay_pg_close(s);
}
END_TEST

/* ---- eight processes racing on the same counters ----------------------------------------- */

#define RACE_PROCS 8
#define RACE_CTRS 200u

/* One transaction of a race child: check_and_commit of ctr for the devices in devs[0..n)
 * (0 dev-a, 1 dev-b), in that order, then commit; ok[dev] = 1 for each accepted. A
 * transaction the server breaks with a serialization failure or a deadlock (SQLSTATE class
 * 40) is rolled back and run again, as replay_pg.h tells a server to; *retries counts them.
 * Returns IOTSEC_OK or the error that ended it. */
static int race_txn(iotsec_replay_pg *s, const unsigned *devs, unsigned n, uint64_t ctr,
                    int ok[2], unsigned *retries)
{
    iotsec_replay_store *st = iotsec_replay_pg_store(s);
    char why[8];
    unsigned i;
    int rc;

    for (;;) {
        ok[0] = ok[1] = 0;
        rc = iotsec_replay_store_begin(st);
        for (i = 0; i < n && rc == IOTSEC_OK; i++) {
            rc = cc(st, devs[i] ? DEV_B : DEV_A, devs[i] ? LEN_B : LEN_A, 0, ctr);
            if (rc == IOTSEC_OK)
                ok[devs[i]] = 1;
            else if (rc == IOTSEC_E_REPLAY)
                rc = IOTSEC_OK;
        }
        if (rc == IOTSEC_OK)
            rc = iotsec_replay_store_commit(st);
        /* the reason, read before the rollback (the next operation) clears it */
        snprintf(why, sizeof why, "%s", iotsec_replay_pg_sqlstate(s));
        if (rc != IOTSEC_OK)
            (void)iotsec_replay_store_rollback(st);
        if (rc != IOTSEC_E_IO || strncmp(why, "40", 2) != 0 || *retries >= 1000) {
            if (rc != IOTSEC_OK)
                fprintf(stderr, "race: transaction: %s (SQLSTATE %s)\n", iotsec_strerror(rc), why);
            return rc;
        }
        ++*retries;
    }
}

/* Child `who`: open its own connection (all at once, on a fresh schema), wait for the start,
 * then offer every counter 1..RACE_CTRS of two devices in its own order; report each
 * IOTSEC_OK on wfd. Children 0–3 call check_and_commit alone (its own transaction, which the
 * store runs again itself after a deadlock); 4 and 5 wrap every third call in begin/commit;
 * 6 and 7 commit both devices of a counter in one transaction (as a group commit would),
 * in one order except that 7 takes the opposite order for every 8th counter, so the server
 * has some deadlocks to break (between them, and through the queue of waiters, with the
 * others). Exit status 0, or the step that failed. */
static void race_child(const char *uri, int go_fd, int wfd, unsigned who)
{
    iotsec_replay_pg *s = NULL;
    char err[IOTSEC_REPLAY_PG_ERR_LEN], byte;
    unsigned i, d, retries = 0;
    int rc = iotsec_replay_pg_open(&s, uri, 1024, 0, err, sizeof err);
    PGresult *r;

    if (rc != IOTSEC_OK) {
        fprintf(stderr, "race child %u: open: %s: %s\n", who, iotsec_strerror(rc), err);
        _exit(3);
    }
    /* deadlock detection (1 s each) can queue waiters for longer than the default 5 s lock
     * timeout on two cores: this race is about exactly-once, not about lock waits */
    r = PQexec(iotsec_replay_pg_conn(s), "SET lock_timeout = 120000");
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        _exit(4);
    PQclear(r);
    if (read(go_fd, &byte, 1) != 0) /* the parent closes it: everyone starts at once */
        _exit(4);
    for (i = 0; i < RACE_CTRS; i++) {
        static const unsigned order[2][2] = {{0, 1}, {1, 0}};
        uint64_t ctr;
        uint8_t rec[9];
        int ok[2] = {0, 0};
        switch (who % 4u) {
        case 0: ctr = i + 1u; break;
        case 1: ctr = RACE_CTRS - i; break;
        case 2: ctr = (i * 7u) % RACE_CTRS + 1u; break;
        default: ctr = (i * 11u + 3u) % RACE_CTRS + 1u; break;
        }
        if (who >= 6) { /* 7 takes the opposite order for every 8th counter */
            rc = race_txn(s, order[who == 7 && i % 8u == 0], 2, ctr, ok, &retries);
        } else if (who >= 4 && i % 3u == 0) {
            int one[2];
            rc = race_txn(s, order[0], 1, ctr, ok, &retries);
            if (rc == IOTSEC_OK)
                rc = race_txn(s, order[1], 1, ctr, one, &retries);
            ok[1] = one[1];
        } else {
            for (d = 0, rc = IOTSEC_OK; d < 2 && rc == IOTSEC_OK; d++) {
                rc = cc(iotsec_replay_pg_store(s), d ? DEV_B : DEV_A, d ? LEN_B : LEN_A, 0, ctr);
                if (rc == IOTSEC_OK)
                    ok[d] = 1;
                else if (rc == IOTSEC_E_REPLAY)
                    rc = IOTSEC_OK;
                else
                    fprintf(stderr, "race child %u: %s (SQLSTATE %s)\n", who,
                            iotsec_strerror(rc), iotsec_replay_pg_sqlstate(s));
            }
        }
        if (rc != IOTSEC_OK)
            _exit(5);
        for (d = 0; d < 2; d++) {
            if (!ok[d])
                continue;
            rec[0] = (uint8_t)d;
            memcpy(rec + 1, &ctr, 8);
            if (write(wfd, rec, 9) != 9)
                _exit(8);
        }
    }
    /* the transactions run again after a deadlock, as a record of its own */
    {
        uint8_t rec[9] = {0xff};
        uint64_t n = retries;
        memcpy(rec + 1, &n, 8);
        if (write(wfd, rec, 9) != 9)
            _exit(8);
    }
    iotsec_replay_pg_close(s);
    _exit(0);
}

START_TEST(test_pg_race)
{
    char uri[URI_CAP];
    unsigned accepted[2][RACE_CTRS + 1];
    pid_t pids[RACE_PROCS];
    int fds[2], go[2], p, status;
    uint8_t rec[9];
    unsigned d, i, total = 0;
    uint64_t retries = 0;
    iotsec_replay_pg *s;

    memset(accepted, 0, sizeof accepted);
    fresh_schema(uri, sizeof uri, "t_race", NULL);
    ck_assert_int_eq(pipe(fds), 0);
    ck_assert_int_eq(pipe(go), 0);
    for (p = 0; p < RACE_PROCS; p++) {
        pids[p] = fork();
        ck_assert_int_ge(pids[p], 0);
        if (pids[p] == 0) {
            close(fds[0]);
            close(go[1]);
            race_child(uri, go[0], fds[1], (unsigned)p);
        }
    }
    close(fds[1]);
    close(go[0]);
    usleep(300 * 1000); /* let them connect and set up the schema concurrently */
    close(go[1]);
    for (;;) {
        ssize_t n = read(fds[0], rec, sizeof rec); /* records are written atomically */
        uint64_t ctr;
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            break;
        ck_assert_int_eq(n, (ssize_t)sizeof rec);
        memcpy(&ctr, rec + 1, 8);
        if (rec[0] == 0xff) {
            retries += ctr;
            continue;
        }
        ck_assert(rec[0] < 2 && ctr >= 1 && ctr <= RACE_CTRS);
        accepted[rec[0]][ctr]++;
        total++;
    }
    close(fds[0]);
    for (p = 0; p < RACE_PROCS; p++) {
        ck_assert_int_eq(waitpid(pids[p], &status, 0), pids[p]);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d: status %d", p,
                      status);
    }
    /* each counter accepted exactly once in total, and the database agrees */
    for (d = 0; d < 2; d++)
        for (i = 1; i <= RACE_CTRS; i++)
            ck_assert_msg(accepted[d][i] == 1, "device %u counter %u accepted %u times", d, i,
                          accepted[d][i]);
    ck_assert_uint_eq(total, 2 * RACE_CTRS);
    s = pg_open(uri, 1024, 0);
    for (d = 0; d < 2; d++)
        for (i = 1; i <= RACE_CTRS; i++)
            ck_assert_int_eq(peek(iotsec_replay_pg_store(s), d ? DEV_B : DEV_A, d ? LEN_B : LEN_A,
                                  0, i), IOTSEC_E_REPLAY);
    ck_assert_int_eq(peek(iotsec_replay_pg_store(s), DEV_A, LEN_A, 0, RACE_CTRS + 1), IOTSEC_OK);
    ck_assert_int_eq(sql_int(iotsec_replay_pg_conn(s), "SELECT count(*) FROM iotsec_replay_state"), 2);
    iotsec_replay_pg_close(s);
    printf("  race: %d connections (one process each, opening one fresh schema at once),"
           " 2 devices x %u counters, %u offers: %u accepted, each exactly once; %u refused as"
           " replays; %llu caller transaction(s) run again after a deadlock\n",
           RACE_PROCS, RACE_CTRS, RACE_PROCS * 2u * RACE_CTRS, total,
           RACE_PROCS * 2u * RACE_CTRS - total, (unsigned long long)retries);
}
END_TEST

/* ---- no server needed ---------------------------------------------------------------------- */

START_TEST(test_pg_open_errors)
{
    iotsec_replay_pg *s = (iotsec_replay_pg *)1;
    char err[IOTSEC_REPLAY_PG_ERR_LEN], tiny[8];
    const char *nowhere = "host=/nonexistent-iotsec-dir port=1 user=x dbname=x connect_timeout=2";
    int rc;

    ck_assert_int_eq(iotsec_replay_pg_open(NULL, nowhere, 64, 0, NULL, 0), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_replay_pg_open(&s, NULL, 64, 0, NULL, 0), IOTSEC_E_INVALID_ARG);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(iotsec_replay_pg_open(&s, nowhere, 1025, 0, NULL, 0), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_replay_pg_open(&s, nowhere, 64, 0x80, NULL, 0), IOTSEC_E_INVALID_ARG);
    /* no server there */
    err[0] = 'x';
    rc = iotsec_replay_pg_open(&s, nowhere, 64, 0, err, sizeof err);
    ck_assert_int_eq(rc, IOTSEC_E_IO);
    ck_assert_ptr_null(s);
    ck_assert_msg(strlen(err) > 0 && strchr(err, '\n') == NULL, "reason: '%s'", err);
    printf("  unreachable server: %s: %s\n", iotsec_error_name(rc), err);
    rc = iotsec_replay_pg_open(&s, nowhere, 64, 0, tiny, sizeof tiny); /* truncated */
    ck_assert_int_eq(rc, IOTSEC_E_IO);
    ck_assert_uint_lt(strlen(tiny), sizeof tiny);
    ck_assert_int_eq(iotsec_replay_pg_open(&s, nowhere, 64, 0, NULL, 0), IOTSEC_E_IO);
    /* a connection string libpq cannot parse */
    ck_assert_int_eq(iotsec_replay_pg_open(&s, "no_such_option=1", 64, 0, err, sizeof err),
                     IOTSEC_E_IO);
    ck_assert_msg(strlen(err) > 0, "no reason");
    ck_assert_int_eq(iotsec_replay_pg_open(&s, "postgresql://[::1", 64, 0, err, sizeof err),
                     IOTSEC_E_IO);
    ck_assert_ptr_null(s);
    /* NULL handles */
    iotsec_replay_pg_close(NULL);
    ck_assert_ptr_null(iotsec_replay_pg_store(NULL));
    ck_assert_ptr_null(iotsec_replay_pg_ecowatt_store(NULL));
    ck_assert_ptr_null(iotsec_replay_pg_conn(NULL));
    ck_assert_str_eq(iotsec_replay_pg_sqlstate(NULL), "");
    ck_assert_int_eq(iotsec_replay_pg_reset(NULL), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(cc(iotsec_replay_pg_store(NULL), DEV_A, LEN_A, 0, 1), IOTSEC_E_INVALID_ARG);
}
END_TEST

static Suite *replay_pg_suite(void)
{
    const TTest *db_tests[] = {
        test_pg_window_and_schema,   test_pg_restart,          test_pg_transactions,
        test_pg_window_change,       test_pg_foreign_and_damaged, test_pg_ecowatt_namespace,
        test_pg_two_connections_and_locks, test_pg_creation_race, test_pg_deadlock,
        test_pg_retry,               test_pg_connection_lost,  test_pg_race,
    };
    Suite *s = suite_create("replay_pg");
    TCase *offline = tcase_create("offline");
    TCase *db;
    size_t i;

    tcase_add_test(offline, test_pg_open_errors);
    tcase_set_timeout(offline, 30);
    suite_add_tcase(s, offline);
    if (base_uri() == NULL) {
        printf("test_replay_pg: IOTSEC_TEST_PG_URI is not set: the %zu database cases are"
               " skipped (tests/scripts/replay_pg.sh starts a private PostgreSQL and runs"
               " them)\n", sizeof db_tests / sizeof db_tests[0]);
        return s;
    }
    db = tcase_create("database");
    for (i = 0; i < sizeof db_tests / sizeof db_tests[0]; i++)
        tcase_add_test(db, db_tests[i]);
    tcase_set_timeout(db, 300);
    suite_add_tcase(s, db);
    return s;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    return tu_run_suite(replay_pg_suite());
}

#else /* !IOTSEC_HAVE_PG */

int main(void)
{
    puts("test_replay_pg: skipped: this build has no PostgreSQL store (IOTSEC_HAVE_PG is 0)");
    return 0;
}

#endif
