/* libiotsec — replay state in PostgreSQL (include/iotsec/replay_pg.h). */
#include "iotsec/replay_pg.h"

#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iotsec/error.h"
#include "../core/replay_int.h"

/* Type OIDs of the parameters (fixed in every PostgreSQL: catalog/pg_type.dat) */
#define OID_BYTEA 17u
#define OID_INT2 21u
#define OID_TEXT 25u

#define STR_(x) #x
#define STR(x) STR_(x)

#define META_TABLE "iotsec_replay_meta"
#define FRAMES_TABLE "iotsec_replay_state"
#define ECOWATT_TABLE "iotsec_replay_ecowatt"

/* Key of the advisory lock held while a schema is identified, created or migrated:
 * pg_advisory_xact_lock(int4, int4), "IOTR" and 1. */
#define SETUP_LOCK_SQL "SELECT pg_advisory_xact_lock(1229935698, 1)"
#define BEGIN_SQL "BEGIN ISOLATION LEVEL READ COMMITTED"

/* Both state tables have one shape. */
#define TABLE_SQL(name)                                                                     \
    "CREATE TABLE " name "("                                                                \
    " device_id bytea NOT NULL CHECK (octet_length(device_id) BETWEEN 1 AND 64),"           \
    " kid smallint NOT NULL CHECK (kid BETWEEN 0 AND 255),"                                 \
    " state bytea NOT NULL,"                                                                \
    " PRIMARY KEY (device_id, kid))"
#define SELECT_SQL(name) "SELECT state FROM " name " WHERE device_id = $1 AND kid = $2"
#define LOCK_SQL(name) SELECT_SQL(name) " FOR UPDATE"
#define INSERT_SQL(name)                                                                    \
    "INSERT INTO " name "(device_id, kid, state) VALUES ($1, $2, $3)"                       \
    " ON CONFLICT (device_id, kid) DO NOTHING"
#define UPDATE_SQL(name) "UPDATE " name " SET state = $3 WHERE device_id = $1 AND kid = $2"

/* The layout of a table as table_info describes it: kind, columns (name, type, not null) and
 * primary key. */
#define META_LAYOUT                                                                         \
    "r: singleton boolean not null, application text not null,"                            \
    " schema_version integer not null | singleton"
#define STATE_LAYOUT                                                                        \
    "r: device_id bytea not null, kid smallint not null, state bytea not null"              \
    " | device_id, kid"

static const char *const create_sql[] = {
    "CREATE TABLE " META_TABLE "("
    " singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),"
    " application text NOT NULL,"
    " schema_version integer NOT NULL)",
    "INSERT INTO " META_TABLE "(application, schema_version) VALUES ('"
    IOTSEC_REPLAY_PG_APPLICATION "', " STR(IOTSEC_REPLAY_PG_SCHEMA_VERSION) ")",
    TABLE_SQL(FRAMES_TABLE),
    TABLE_SQL(ECOWATT_TABLE),
    "COMMENT ON TABLE " META_TABLE " IS 'libiotsec replay store: identification and schema"
    " version (include/iotsec/replay_pg.h)'",
    "COMMENT ON TABLE " FRAMES_TABLE " IS 'libiotsec replay windows of frames v1: the 139-byte"
    " state of bindings-spec/SPEC.md §5.2 per (device_id, kid)'",
    "COMMENT ON TABLE " ECOWATT_TABLE " IS 'libiotsec legacy EcoWatt nonces: the 139-byte"
    " state of bindings-spec/SPEC.md §5.2 with W = 0 per device (kid 0)'",
};

/* Migrations: the statements taking a schema of version `from` to from + 1, run in the setup
 * transaction under the advisory lock, followed by the new version in iotsec_replay_meta.
 * Version 1 is the first; a future version appends its step here and raises
 * IOTSEC_REPLAY_PG_SCHEMA_VERSION (and the layouts above). */
struct migration {
    int from;
    const char *const *sql; /* NULL-terminated */
};
static const struct migration migrations[] = {
    {0, NULL}, /* none yet (from 0 never matches: versions start at 1) */
};

/* The kind, columns and primary key of table $1 in the current schema, one text row; and
 * whether the unqualified name resolves to it (a temporary table would come first). No row
 * when the schema has no relation of that name. */
#define TABLE_INFO_SQL                                                                      \
    "SELECT c.oid = to_regclass($1), c.relkind::text || ': ' ||"                            \
    " coalesce((SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)" \
    "   || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END, ', ' ORDER BY a.attnum)"    \
    "   FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0"                      \
    "   AND NOT a.attisdropped), '') || ' | ' ||"                                           \
    " coalesce((SELECT string_agg(a.attname, ', ' ORDER BY k.i)"                            \
    "   FROM pg_index x CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, i)"\
    "   JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum"             \
    "   WHERE x.indrelid = c.oid AND x.indisprimary), 'no primary key')"                    \
    " FROM pg_class c"                                                                      \
    " WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())"\
    " AND c.relname = $1"

/* One namespace: a table, its prepared statements and the interface handle whose ctx is this
 * struct. */
struct ns {
    iotsec_replay_store store;
    iotsec_replay_pg *owner;
    const char *sel_name, *lock_name, *ins_name, *upd_name; /* prepared statement names */
    const char *sel_sql, *lock_sql, *ins_sql, *upd_sql;
    unsigned window;
};

struct iotsec_replay_pg {
    struct ns frames;  /* iotsec_replay_state: frames v1, W given at open */
    struct ns ecowatt; /* iotsec_replay_ecowatt: the legacy profile's nonces, W = 0 */
    PGconn *conn;
    unsigned flags;
    char sqlstate[6]; /* of the last failure in the database, "" when none */
};

/* ---- results and errors ------------------------------------------------------------------ */

static void set_sqlstate(iotsec_replay_pg *s, const char *code)
{
    size_t n = code == NULL ? 0 : strlen(code);

    if (n >= sizeof s->sqlstate)
        n = sizeof s->sqlstate - 1;
    memcpy(s->sqlstate, code == NULL ? "" : code, n);
    s->sqlstate[n] = '\0';
}

/* A statement failed (r may be NULL): remember the SQLSTATE, map it to our code, free r.
 * Class 42 (undefined table or column, wrong type: our schema changed under us) is
 * IOTSEC_E_CORRUPT, except 42501 (permission denied); everything else, and a lost
 * connection, IOTSEC_E_IO. */
static int failed(iotsec_replay_pg *s, PGresult *r)
{
    const char *code = r == NULL ? NULL : PQresultErrorField(r, PG_DIAG_SQLSTATE);
    int rc = IOTSEC_E_IO;

    if (PQstatus(s->conn) == CONNECTION_BAD)
        code = "08006"; /* whatever the server said last (57P01 when it was terminated) */
    else if (code == NULL)
        code = "";
    set_sqlstate(s, code);
    if (strncmp(code, "42", 2) == 0 && strcmp(code, "42501") != 0)
        rc = IOTSEC_E_CORRUPT;
    PQclear(r);
    return rc;
}

/* A statement without result rows. */
static int command(iotsec_replay_pg *s, const char *sql)
{
    PGresult *r = PQexec(s->conn, sql);

    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return failed(s, r);
    PQclear(r);
    return IOTSEC_OK;
}

/* End a transaction that failed, keeping the SQLSTATE of the failure. */
static void abandon(iotsec_replay_pg *s)
{
    PGTransactionStatusType t = PQtransactionStatus(s->conn);

    if (t == PQTRANS_INTRANS || t == PQTRANS_INERROR)
        PQclear(PQexec(s->conn, "ROLLBACK"));
}

/* COMMIT the open transaction; IOTSEC_OK only when the server says it committed (COMMIT of
 * a failed transaction answers ROLLBACK). A failed commit is IOTSEC_E_IO and leaves no
 * transaction open (the server ended it, or the connection is gone). */
static int commit_txn(iotsec_replay_pg *s)
{
    PGresult *r = PQexec(s->conn, "COMMIT");

    if (PQresultStatus(r) != PGRES_COMMAND_OK || strcmp(PQcmdStatus(r), "COMMIT") != 0) {
        (void)failed(s, r);
        if (s->sqlstate[0] == '\0')
            set_sqlstate(s, "25P02"); /* it answered ROLLBACK: the transaction had failed */
        abandon(s);
        return IOTSEC_E_IO;
    }
    PQclear(r);
    return IOTSEC_OK;
}

static void message(char *err, size_t err_cap, const char *fmt, ...)
{
    va_list ap;
    size_t i, n;

    if (err == NULL || err_cap == 0)
        return;
    va_start(ap, fmt);
    (void)vsnprintf(err, err_cap, fmt, ap);
    va_end(ap);
    /* one line: libpq's messages end with a newline and may continue on indented lines */
    for (i = 0, n = 0; err[i] != '\0'; i++) {
        char c = err[i] == '\n' || err[i] == '\r' || err[i] == '\t' ? ' ' : err[i];
        if (c != ' ' || (n > 0 && err[n - 1] != ' '))
            err[n++] = c;
    }
    while (n > 0 && err[n - 1] == ' ')
        n--;
    err[n] = '\0';
}

/* ---- the session ------------------------------------------------------------------------- */

/* lock_timeout, synchronous_commit */
static int session_setup(iotsec_replay_pg *s)
{
    int rc = command(s, "SET lock_timeout = " STR(IOTSEC_REPLAY_PG_LOCK_TIMEOUT_MS));
    PGresult *r;

    if (rc != IOTSEC_OK)
        return rc;
    if (s->flags & IOTSEC_REPLAY_PG_ASYNC_COMMIT)
        return command(s, "SET synchronous_commit = off");
    /* on, local, remote_write, remote_apply all wait for the local WAL flush: keep them */
    r = PQexec(s->conn, "SHOW synchronous_commit");
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 || PQnfields(r) != 1)
        return failed(s, r);
    if (strcmp(PQgetvalue(r, 0, 0), "off") == 0)
        rc = command(s, "SET synchronous_commit = on");
    PQclear(r);
    return rc;
}

static int prepare_one(iotsec_replay_pg *s, const char *name, const char *sql, int nparams)
{
    static const Oid types[3] = {OID_BYTEA, OID_INT2, OID_BYTEA};
    PGresult *r = PQprepare(s->conn, name, sql, nparams, types);

    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return failed(s, r);
    PQclear(r);
    return IOTSEC_OK;
}

/* Prepare the statements of both namespaces; IOTSEC_E_CORRUPT when a table or column is
 * missing (class 42). */
static int prepare_all(iotsec_replay_pg *s)
{
    struct ns *ns[2] = {&s->frames, &s->ecowatt};
    int rc = IOTSEC_OK;
    size_t i;

    for (i = 0; i < 2 && rc == IOTSEC_OK; i++) {
        rc = prepare_one(s, ns[i]->sel_name, ns[i]->sel_sql, 2);
        if (rc == IOTSEC_OK)
            rc = prepare_one(s, ns[i]->lock_name, ns[i]->lock_sql, 2);
        if (rc == IOTSEC_OK)
            rc = prepare_one(s, ns[i]->ins_name, ns[i]->ins_sql, 3);
        if (rc == IOTSEC_OK)
            rc = prepare_one(s, ns[i]->upd_name, ns[i]->upd_sql, 3);
    }
    return rc;
}

/* ---- identification, creation, migration ------------------------------------------------- */

struct table_info {
    int present;  /* a relation of that name in the current schema */
    int resolves; /* the unqualified name means it */
    int layout_ok;
};

static int table_info(iotsec_replay_pg *s, const char *name, const char *layout,
                      struct table_info *t)
{
    static const Oid types[1] = {OID_TEXT};
    const char *values[1] = {name};
    PGresult *r = PQexecParams(s->conn, TABLE_INFO_SQL, 1, types, values, NULL, NULL, 0);

    memset(t, 0, sizeof *t);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQnfields(r) != 2 || PQntuples(r) > 1)
        return failed(s, r);
    if (PQntuples(r) == 1) {
        t->present = 1;
        t->resolves = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
        t->layout_ok = !PQgetisnull(r, 0, 1) && strcmp(PQgetvalue(r, 0, 1), layout) == 0;
    }
    PQclear(r);
    return IOTSEC_OK;
}

static int run_all(iotsec_replay_pg *s, const char *const *sql, size_t n)
{
    int rc = IOTSEC_OK;
    size_t i;

    for (i = 0; (n == 0 ? sql[i] != NULL : i < n) && rc == IOTSEC_OK; i++)
        rc = command(s, sql[i]);
    return rc;
}

/* Take a schema of ours from version `from` to the current one, or IOTSEC_E_BAD_VERSION when
 * a step is missing. */
static int migrate(iotsec_replay_pg *s, long from, char *err, size_t err_cap)
{
    long v;
    size_t i;
    int rc = IOTSEC_OK;

    for (v = from; v < IOTSEC_REPLAY_PG_SCHEMA_VERSION && rc == IOTSEC_OK; v++) {
        const struct migration *m = NULL;
        for (i = 0; i < sizeof migrations / sizeof migrations[0]; i++)
            if (migrations[i].from == v && migrations[i].sql != NULL)
                m = &migrations[i];
        if (m == NULL) {
            message(err, err_cap, META_TABLE ": schema version %ld, this library knows %d",
                    from, IOTSEC_REPLAY_PG_SCHEMA_VERSION);
            return IOTSEC_E_BAD_VERSION;
        }
        rc = run_all(s, m->sql, 0);
        if (rc == IOTSEC_OK) {
            char num[24];
            const char *values[1] = {num};
            PGresult *r;
            (void)snprintf(num, sizeof num, "%ld", v + 1);
            r = PQexecParams(s->conn, "UPDATE " META_TABLE " SET schema_version = $1::integer",
                             1, NULL, values, NULL, NULL, 0);
            if (PQresultStatus(r) != PGRES_COMMAND_OK)
                rc = failed(s, r);
            else
                PQclear(r);
        }
    }
    return rc;
}

/* iotsec_replay_meta of our layout: our application and a version we know (or can migrate
 * from). */
static int check_meta(iotsec_replay_pg *s, char *err, size_t err_cap)
{
    PGresult *r = PQexec(s->conn, "SELECT application, schema_version FROM " META_TABLE);
    const char *app, *ver;
    char *end = NULL;
    long v;

    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQnfields(r) != 2)
        return failed(s, r);
    if (PQntuples(r) != 1) {
        message(err, err_cap, META_TABLE ": %d rows, not one", PQntuples(r));
        PQclear(r);
        return IOTSEC_E_CORRUPT;
    }
    app = PQgetvalue(r, 0, 0);
    ver = PQgetvalue(r, 0, 1);
    if (strcmp(app, IOTSEC_REPLAY_PG_APPLICATION) != 0) {
        message(err, err_cap, META_TABLE ": application '%.64s', not " IOTSEC_REPLAY_PG_APPLICATION,
                app);
        PQclear(r);
        return IOTSEC_E_CORRUPT;
    }
    v = strtol(ver, &end, 10);
    if (end == ver || *end != '\0')
        v = 0; /* not a number: no version of ours */
    PQclear(r);
    if (v < 1 || v > IOTSEC_REPLAY_PG_SCHEMA_VERSION) {
        message(err, err_cap, META_TABLE ": schema version %ld, this library knows %d", v,
                IOTSEC_REPLAY_PG_SCHEMA_VERSION);
        return IOTSEC_E_BAD_VERSION;
    }
    return v == IOTSEC_REPLAY_PG_SCHEMA_VERSION ? IOTSEC_OK : migrate(s, v, err, err_cap);
}

/* Both state tables present, of our layout, and the names resolve to them. */
static int check_state_tables(iotsec_replay_pg *s, char *err, size_t err_cap)
{
    static const char *const names[2] = {FRAMES_TABLE, ECOWATT_TABLE};
    struct table_info t;
    size_t i;
    int rc;

    for (i = 0; i < 2; i++) {
        rc = table_info(s, names[i], STATE_LAYOUT, &t);
        if (rc != IOTSEC_OK)
            return rc;
        if (!t.present || !t.layout_ok || !t.resolves) {
            message(err, err_cap, "%s: %s", names[i],
                    !t.present ? "missing" : !t.layout_ok ? "another layout"
                                                          : "hidden by a temporary table");
            return IOTSEC_E_CORRUPT;
        }
    }
    return IOTSEC_OK;
}

/* Identify the current schema and create or migrate it, in the setup transaction. */
static int identify(iotsec_replay_pg *s, char *err, size_t err_cap)
{
    struct table_info meta, st, eco;
    int rc = table_info(s, META_TABLE, META_LAYOUT, &meta);

    if (rc == IOTSEC_OK)
        rc = table_info(s, FRAMES_TABLE, STATE_LAYOUT, &st);
    if (rc == IOTSEC_OK)
        rc = table_info(s, ECOWATT_TABLE, STATE_LAYOUT, &eco);
    if (rc != IOTSEC_OK)
        return rc;
    if (!meta.present) {
        if (st.present || eco.present) {
            message(err, err_cap, "%s without " META_TABLE ": not a schema of ours",
                    st.present ? FRAMES_TABLE : ECOWATT_TABLE);
            return IOTSEC_E_CORRUPT;
        }
        rc = run_all(s, create_sql, sizeof create_sql / sizeof create_sql[0]);
        if (rc == IOTSEC_OK)
            rc = table_info(s, META_TABLE, META_LAYOUT, &meta);
        if (rc == IOTSEC_OK && !meta.resolves) {
            message(err, err_cap, META_TABLE ": hidden by a temporary table");
            rc = IOTSEC_E_CORRUPT;
        }
        return rc == IOTSEC_OK ? check_state_tables(s, err, err_cap) : rc;
    }
    if (!meta.layout_ok || !meta.resolves) {
        message(err, err_cap, META_TABLE ": %s",
                !meta.layout_ok ? "another layout" : "hidden by a temporary table");
        return IOTSEC_E_CORRUPT;
    }
    rc = check_meta(s, err, err_cap);
    return rc == IOTSEC_OK ? check_state_tables(s, err, err_cap) : rc;
}

/* One transaction under the advisory lock: identify, create or migrate. On refusal it is
 * rolled back, so a refused database is left as it was. */
static int setup(iotsec_replay_pg *s, char *err, size_t err_cap)
{
    int rc = command(s, BEGIN_SQL);
    PGresult *r;

    if (rc != IOTSEC_OK)
        return rc;
    r = PQexec(s->conn, SETUP_LOCK_SQL);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        rc = failed(s, r);
    else
        PQclear(r);
    if (rc == IOTSEC_OK)
        rc = identify(s, err, err_cap);
    if (rc == IOTSEC_OK)
        rc = commit_txn(s);
    if (rc != IOTSEC_OK)
        abandon(s);
    return rc;
}

/* ---- open, close ------------------------------------------------------------------------- */

static int pg_check(void *ctx, const uint8_t *device_id, size_t id_len, uint8_t kid,
                    uint64_t ctr);
static int pg_check_and_commit(void *ctx, const uint8_t *device_id, size_t id_len,
                               uint8_t kid, uint64_t ctr);
static int pg_begin(void *ctx);
static int pg_commit(void *ctx);
static int pg_rollback(void *ctx);
static int pg_window(void *ctx, unsigned *window);

static const iotsec_replay_store_ops pg_ops = {pg_check,  pg_check_and_commit, pg_begin,
                                               pg_commit, pg_rollback,         pg_window};

#define NS_INIT(n, owner_, table_, tag, w)                                                  \
    do {                                                                                    \
        (n)->store.ops = &pg_ops;                                                           \
        (n)->store.ctx = (n);                                                               \
        (n)->owner = (owner_);                                                              \
        (n)->sel_name = "iotsec_replay_" tag "_sel";                                        \
        (n)->lock_name = "iotsec_replay_" tag "_lock";                                      \
        (n)->ins_name = "iotsec_replay_" tag "_ins";                                        \
        (n)->upd_name = "iotsec_replay_" tag "_upd";                                        \
        (n)->sel_sql = SELECT_SQL(table_);                                                  \
        (n)->lock_sql = LOCK_SQL(table_);                                                   \
        (n)->ins_sql = INSERT_SQL(table_);                                                  \
        (n)->upd_sql = UPDATE_SQL(table_);                                                  \
        (n)->window = (w);                                                                  \
    } while (0)

int iotsec_replay_pg_open(iotsec_replay_pg **out, const char *conninfo, unsigned window,
                          unsigned flags, char *err, size_t err_cap)
{
    iotsec_replay_pg *s;
    int rc;

    if (out != NULL)
        *out = NULL;
    if (err != NULL && err_cap > 0)
        err[0] = '\0';
    if (out == NULL || conninfo == NULL || window > IOTSEC_REPLAY_MAX_WINDOW ||
        (flags & ~IOTSEC_REPLAY_PG_ASYNC_COMMIT) != 0)
        return IOTSEC_E_INVALID_ARG;
    s = calloc(1, sizeof *s);
    if (s == NULL)
        return IOTSEC_E_NO_MEMORY;
    s->flags = flags;
    NS_INIT(&s->frames, s, FRAMES_TABLE, "f", window);
    NS_INIT(&s->ecowatt, s, ECOWATT_TABLE, "e", 0u);
    s->conn = PQconnectdb(conninfo);
    if (s->conn == NULL) {
        free(s);
        return IOTSEC_E_NO_MEMORY;
    }
    if (PQstatus(s->conn) != CONNECTION_OK) {
        rc = IOTSEC_E_IO;
        set_sqlstate(s, "08006");
    } else if (PQserverVersion(s->conn) < 100000) {
        message(err, err_cap, "PostgreSQL server %d is older than 10", PQserverVersion(s->conn));
        rc = IOTSEC_E_UNSUPPORTED;
    } else {
        rc = session_setup(s);
        if (rc == IOTSEC_OK)
            rc = setup(s, err, err_cap);
        if (rc == IOTSEC_OK)
            rc = prepare_all(s);
    }
    if (rc != IOTSEC_OK) {
        if (err != NULL && err_cap > 0 && err[0] == '\0')
            message(err, err_cap, "%s", PQerrorMessage(s->conn));
        iotsec_replay_pg_close(s);
        return rc;
    }
    *out = s;
    return IOTSEC_OK;
}

int iotsec_replay_pg_reset(iotsec_replay_pg *s)
{
    int rc;

    if (s == NULL)
        return IOTSEC_E_INVALID_ARG;
    s->sqlstate[0] = '\0';
    PQreset(s->conn);
    if (PQstatus(s->conn) != CONNECTION_OK) {
        set_sqlstate(s, "08006");
        return IOTSEC_E_IO;
    }
    rc = session_setup(s);
    return rc == IOTSEC_OK ? prepare_all(s) : rc;
}

iotsec_replay_store *iotsec_replay_pg_store(iotsec_replay_pg *s)
{
    return s == NULL ? NULL : &s->frames.store;
}

iotsec_replay_store *iotsec_replay_pg_ecowatt_store(iotsec_replay_pg *s)
{
    return s == NULL ? NULL : &s->ecowatt.store;
}

struct pg_conn *iotsec_replay_pg_conn(iotsec_replay_pg *s)
{
    return s == NULL ? NULL : s->conn;
}

const char *iotsec_replay_pg_sqlstate(const iotsec_replay_pg *s)
{
    return s == NULL ? "" : s->sqlstate;
}

void iotsec_replay_pg_close(iotsec_replay_pg *s)
{
    if (s == NULL)
        return;
    if (s->conn != NULL && PQstatus(s->conn) == CONNECTION_OK)
        abandon(s);
    PQfinish(s->conn);
    free(s);
}

/* ---- the operations ---------------------------------------------------------------------- */

/* Run a prepared statement of a namespace: $1 device_id, $2 kid, $3 state when given; binary
 * parameters and results. */
static PGresult *run(struct ns *n, const char *name, const uint8_t *device_id, size_t id_len,
                     uint8_t kid, const uint8_t *state, size_t state_len)
{
    const uint8_t kid_be[2] = {0, kid}; /* int2, network byte order */
    const char *values[3];
    int lengths[3], formats[3] = {1, 1, 1};

    values[0] = (const char *)device_id;
    lengths[0] = (int)id_len; /* 1–64, checked by the interface wrappers */
    values[1] = (const char *)kid_be;
    lengths[1] = 2;
    values[2] = (const char *)state;
    lengths[2] = (int)state_len;
    return PQexecPrepared(n->owner->conn, name, state != NULL ? 3 : 2, values, lengths,
                          formats, 1);
}

/* The window of (device_id, kid): the stored one (converted to the namespace's W) or an
 * empty one (*found 0). With lock, the row is locked until the transaction ends.
 * IOTSEC_E_CORRUPT when the row does not decode. */
static int load(struct ns *n, const uint8_t *device_id, size_t id_len, uint8_t kid, int lock,
                iotsec_replay_window *w, int *found)
{
    PGresult *r = run(n, lock ? n->lock_name : n->sel_name, device_id, id_len, kid, NULL, 0);
    int rc;

    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return failed(n->owner, r);
    *found = PQntuples(r) > 0;
    if (!*found) {
        rc = iotsec_replay_init(w, n->window);
    } else if (PQntuples(r) != 1 || PQnfields(r) != 1 || PQfformat(r, 0) != 1 ||
               PQgetisnull(r, 0, 0) || PQgetlength(r, 0, 0) < 0 ||
               iotsec_replay_decode(w, (const uint8_t *)PQgetvalue(r, 0, 0),
                                    (size_t)PQgetlength(r, 0, 0)) != IOTSEC_OK) {
        rc = IOTSEC_E_CORRUPT;
    } else {
        iotsec__replay_resize(w, n->window);
        rc = IOTSEC_OK;
    }
    PQclear(r);
    return rc;
}

/* INSERT or UPDATE the state of (device_id, kid); *rows gets the number of rows written (an
 * INSERT that lost a creation race writes none). */
static int write_state(struct ns *n, const char *name, const uint8_t *device_id,
                       size_t id_len, uint8_t kid, const iotsec_replay_window *w, int *rows)
{
    uint8_t buf[IOTSEC_REPLAY_STATE_LEN];
    size_t len = 0;
    int rc = iotsec_replay_encode(w, buf, sizeof buf, &len);
    PGresult *r;

    if (rc != IOTSEC_OK)
        return rc;
    r = run(n, name, device_id, id_len, kid, buf, len);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return failed(n->owner, r);
    *rows = atoi(PQcmdTuples(r));
    PQclear(r);
    return IOTSEC_OK;
}

/* The connection is usable for a statement: in a transaction (*in_txn 1) or idle. A failed
 * transaction, a lost connection or a command still running is IOTSEC_E_IO. */
static int usable(iotsec_replay_pg *s, int *in_txn)
{
    switch (PQtransactionStatus(s->conn)) {
    case PQTRANS_IDLE:
        *in_txn = 0;
        return IOTSEC_OK;
    case PQTRANS_INTRANS:
        *in_txn = 1;
        return IOTSEC_OK;
    case PQTRANS_INERROR:
        set_sqlstate(s, "25P02"); /* in_failed_sql_transaction */
        return IOTSEC_E_IO;
    default:
        set_sqlstate(s, PQstatus(s->conn) == CONNECTION_BAD ? "08006" : "");
        return IOTSEC_E_IO;
    }
}

static int pg_check(void *ctx, const uint8_t *device_id, size_t id_len, uint8_t kid,
                    uint64_t ctr)
{
    struct ns *n = ctx;
    iotsec_replay_window w;
    int in_txn, found, rc;

    n->owner->sqlstate[0] = '\0';
    rc = usable(n->owner, &in_txn);
    if (rc == IOTSEC_OK)
        rc = load(n, device_id, id_len, kid, 0, &w, &found);
    return rc != IOTSEC_OK ? rc : iotsec_replay_check(&w, ctr);
}

/* check-and-commit inside the open transaction: lock the row (creating it if missing), move
 * the window, write it. */
static int cc_in_txn(struct ns *n, const uint8_t *device_id, size_t id_len, uint8_t kid,
                     uint64_t ctr)
{
    iotsec_replay_window w;
    int attempt, found, rows, rc;

    /* at most twice: a lost creation race is followed by the lock on the winner's row */
    for (attempt = 0; attempt < 2; attempt++) {
        rc = load(n, device_id, id_len, kid, 1, &w, &found);
        if (rc == IOTSEC_OK)
            rc = iotsec_replay_commit(&w, ctr); /* REPLAY: nothing written */
        if (rc == IOTSEC_OK)
            rc = write_state(n, found ? n->upd_name : n->ins_name, device_id, id_len, kid, &w,
                             &rows);
        if (rc != IOTSEC_OK)
            return rc;
        if (rows == 1)
            return IOTSEC_OK;
        if (found)
            break; /* a locked row vanished: cannot happen */
    }
    return IOTSEC_E_IO;
}

static int retryable(const iotsec_replay_pg *s)
{
    return strcmp(s->sqlstate, "40001") == 0 || strcmp(s->sqlstate, "40P01") == 0;
}

static int pg_check_and_commit(void *ctx, const uint8_t *device_id, size_t id_len,
                               uint8_t kid, uint64_t ctr)
{
    struct ns *n = ctx;
    iotsec_replay_pg *s = n->owner;
    int in_txn, attempt, rc;

    s->sqlstate[0] = '\0';
    rc = usable(s, &in_txn);
    if (rc != IOTSEC_OK)
        return rc;
    if (in_txn) /* the caller's (or begin's) transaction: it commits */
        return cc_in_txn(n, device_id, id_len, kid, ctr);
    /* its own transaction, run again after a serialization failure or a deadlock: the server
     * rolled the attempt back, so nothing of it was stored */
    for (attempt = 0;; attempt++) {
        s->sqlstate[0] = '\0';
        rc = command(s, BEGIN_SQL);
        if (rc == IOTSEC_OK)
            rc = cc_in_txn(n, device_id, id_len, kid, ctr);
        if (rc == IOTSEC_OK)
            rc = commit_txn(s);
        else
            abandon(s);
        if (rc != IOTSEC_E_IO || !retryable(s) || attempt >= IOTSEC_REPLAY_PG_RETRIES)
            return rc;
    }
}

static int pg_begin(void *ctx)
{
    iotsec_replay_pg *s = ((struct ns *)ctx)->owner;
    int rc;

    s->sqlstate[0] = '\0';
    if (PQstatus(s->conn) == CONNECTION_BAD) {
        rc = iotsec_replay_pg_reset(s);
        if (rc != IOTSEC_OK)
            return rc;
    }
    if (PQtransactionStatus(s->conn) != PQTRANS_IDLE)
        return IOTSEC_E_STATE;
    return command(s, BEGIN_SQL);
}

static int pg_commit(void *ctx)
{
    iotsec_replay_pg *s = ((struct ns *)ctx)->owner;

    s->sqlstate[0] = '\0';
    switch (PQtransactionStatus(s->conn)) {
    case PQTRANS_IDLE:
        return IOTSEC_E_STATE;
    case PQTRANS_INTRANS:
        return commit_txn(s);
    case PQTRANS_INERROR: /* documented: a failed transaction is rolled back, nothing stored */
        set_sqlstate(s, "25P02");
        abandon(s);
        return IOTSEC_E_IO;
    default:
        set_sqlstate(s, PQstatus(s->conn) == CONNECTION_BAD ? "08006" : "");
        return IOTSEC_E_IO;
    }
}

static int pg_rollback(void *ctx)
{
    iotsec_replay_pg *s = ((struct ns *)ctx)->owner;

    s->sqlstate[0] = '\0';
    switch (PQtransactionStatus(s->conn)) {
    case PQTRANS_IDLE:
        return IOTSEC_E_STATE;
    case PQTRANS_INTRANS:
    case PQTRANS_INERROR:
        return command(s, "ROLLBACK");
    default: /* lost connection: the server discards the transaction */
        set_sqlstate(s, PQstatus(s->conn) == CONNECTION_BAD ? "08006" : "");
        return IOTSEC_E_IO;
    }
}

static int pg_window(void *ctx, unsigned *window)
{
    *window = ((const struct ns *)ctx)->window;
    return IOTSEC_OK;
}
