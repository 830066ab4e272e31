/*
 * iotsec-backend — PostgreSQL storage: the same tables and operations as the SQLite files
 * (db.c, db_admin.c, db_floors.c), selected by bk_db_open when --db is a postgresql:// or
 * postgres:// URI (docs/DESIGN.md §12).
 *
 * The connection is the one the library's PostgreSQL replay store opened
 * (iotsec_replay_pg_open: lock_timeout, synchronous_commit on, its tables iotsec_replay_meta,
 * iotsec_replay_state and iotsec_replay_ecowatt), so a frame, its replay state and its audit
 * row commit in one transaction on one connection. The backend's tables go in the same schema
 * (the connection's current schema), versioned in backend_meta as in SQLite:
 *
 *   backend_meta(key, value)                       schema_version = 3
 *   devices(device_id, enabled, legacy_mac_key, legacy_enc_key, created)
 *   device_keys(device_id, kid, secret, created)
 *   telemetry(id, received, device_id, kid, ctr, format, encrypted, payload, peer)
 *                                                  ctr numeric(20): the full u64 range
 *   audit(id, time, peer, identity, event, detail)
 *   firmware(id, device_class, version, security_counter, manifest, payload_digest,
 *            published)
 *   payloads(id, digest, size, ready, touched), payload_chunks(payload, idx, data)
 *   crl_floors(issuer, number, this_update, digest, updated)
 *
 * A PostgreSQL database is created directly at schema version 3 (there never was an older
 * PostgreSQL layout); creating or checking it holds a transaction-scoped advisory lock, so
 * processes opening one fresh database at once serialize. Another version is refused.
 *
 * Statements: parameters as text (integers in decimal) or binary (bytea); results in binary
 * format, with every integer column cast to text in the SELECT, so a text or bytea column
 * is its raw bytes and an integer column its decimal digits (libpq NUL-terminates both).
 * Every failure is IOTSEC_E_IO (the server's message: bk_db_errmsg).
 */
#include "backend.h"
#include "db_internal.h"

#include <stdlib.h>
#include <string.h>

#if IOTSEC_HAVE_PG

#include <libpq-fe.h>

#include "iotsec/replay_pg.h"

struct bk_pg {
    iotsec_replay_pg *store;
    PGconn *conn;
    char sqlstate[6]; /* of our last failed statement, "" if none */
};

struct bk_pg_rows {
    PGresult *r;
    int row; /* the current row: −1 before the first */
};

/* An advisory lock key of our own ("iotsecbk" as an int8): admin transactions and schema
 * creation. The replay store uses another. */
#define BK_PG_LOCK "SELECT pg_advisory_xact_lock(7597683014553854827)"

static void set_err(char *err, size_t cap, const char *msg, const char *detail)
{
    if (err != NULL && cap > 0) {
        size_t n;
        snprintf(err, cap, "%s%s%s", msg, detail ? ": " : "", detail ? detail : "");
        n = strlen(err);
        while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == ' '))
            err[--n] = '\0';
    }
}

/* A parameter: text (len −1: NUL-terminated, or the given length is copied to be
 * NUL-terminated by the caller) or binary bytes; p NULL is SQL NULL. */
struct prm {
    const void *p;
    int len;
    int bin;
};

/* Run sql with params; the result (caller clears) or NULL on failure (cleared). */
static PGresult *run(struct bk_pg *g, const char *sql, const struct prm *pr, int n)
{
    const char *values[8];
    int lengths[8], formats[8], i;
    PGresult *r;
    ExecStatusType st;

    if (n > 8)
        return NULL;
    for (i = 0; i < n; i++) {
        values[i] = (const char *)pr[i].p;
        lengths[i] = pr[i].bin ? pr[i].len : 0;
        formats[i] = pr[i].bin ? 1 : 0;
    }
    r = PQexecParams(g->conn, sql, n, NULL, values, lengths, formats, 1);
    st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        const char *code = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
        snprintf(g->sqlstate, sizeof g->sqlstate, "%s", code != NULL ? code : "");
        PQclear(r);
        return NULL;
    }
    return r;
}

/* Run a statement whose result is not needed; *changed (may be NULL) the affected rows. */
static int exec_n(struct bk_pg *g, const char *sql, const struct prm *pr, int n,
                  long *changed)
{
    PGresult *r = run(g, sql, pr, n);

    if (r == NULL)
        return IOTSEC_E_IO;
    if (changed != NULL)
        *changed = strtol(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return IOTSEC_OK;
}

static int exec0(struct bk_pg *g, const char *sql)
{
    return exec_n(g, sql, NULL, 0, NULL);
}

static int64_t col_i64(const PGresult *r, int row, int col)
{
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* Copy a bytea column of exactly len bytes; 0 NULL, 1 copied, −1 another size. */
static int col_fixed(const PGresult *r, int row, int col, uint8_t *out, size_t len)
{
    if (PQgetisnull(r, row, col))
        return 0;
    if ((size_t)PQgetlength(r, row, col) != len)
        return -1;
    memcpy(out, PQgetvalue(r, row, col), len);
    return 1;
}

/* ---- schema --------------------------------------------------------------------------- */

static const char schema_sql[] =
    "CREATE TABLE backend_meta(key text PRIMARY KEY NOT NULL, value bigint NOT NULL);"
    "CREATE TABLE devices("
    " device_id text PRIMARY KEY NOT NULL,"
    " enabled integer NOT NULL DEFAULT 1,"
    " legacy_mac_key bytea CHECK (legacy_mac_key IS NULL OR length(legacy_mac_key) = 32),"
    " legacy_enc_key bytea CHECK (legacy_enc_key IS NULL OR length(legacy_enc_key) = 16),"
    " created bigint NOT NULL);"
    "CREATE TABLE device_keys("
    " device_id text NOT NULL REFERENCES devices(device_id),"
    " kid integer NOT NULL CHECK (kid BETWEEN 0 AND 255),"
    " secret bytea NOT NULL CHECK (length(secret) = 32),"
    " created bigint NOT NULL,"
    " PRIMARY KEY (device_id, kid));"
    "CREATE TABLE telemetry("
    " id bigserial PRIMARY KEY,"
    " received bigint NOT NULL,"
    " device_id text NOT NULL,"
    " kid integer,"
    " ctr numeric(20, 0) NOT NULL,"
    " format text NOT NULL,"
    " encrypted integer NOT NULL,"
    " payload bytea NOT NULL,"
    " peer text);"
    "CREATE INDEX telemetry_device ON telemetry(device_id, id);"
    "CREATE TABLE audit("
    " id bigserial PRIMARY KEY,"
    " time bigint NOT NULL,"
    " peer text,"
    " identity text,"
    " event text NOT NULL,"
    " detail text);"
    "CREATE TABLE firmware("
    " id bigserial PRIMARY KEY,"
    " device_class bytea NOT NULL,"
    " version text NOT NULL,"
    " security_counter bytea NOT NULL CHECK (length(security_counter) = 8),"
    " manifest bytea NOT NULL,"
    " payload_digest bytea NOT NULL CHECK (length(payload_digest) = 32),"
    " published bigint NOT NULL);"
    "CREATE INDEX firmware_class ON firmware(device_class, security_counter, id);"
    "CREATE TABLE payloads("
    " id bigserial PRIMARY KEY,"
    " digest bytea NOT NULL CHECK (length(digest) = 32),"
    " size bigint NOT NULL CHECK (size >= 0),"
    " ready integer NOT NULL CHECK (ready IN (0, 1)),"
    " touched bigint NOT NULL);"
    "CREATE UNIQUE INDEX payloads_ready ON payloads(digest) WHERE ready = 1;"
    "CREATE TABLE payload_chunks("
    " payload bigint NOT NULL REFERENCES payloads(id),"
    " idx bigint NOT NULL CHECK (idx >= 0),"
    " data bytea NOT NULL,"
    " PRIMARY KEY (payload, idx));"
    "CREATE TABLE crl_floors("
    " issuer bytea PRIMARY KEY NOT NULL CHECK (length(issuer) = 32),"
    " number bytea CHECK (number IS NULL OR length(number) = 20),"
    " this_update bigint NOT NULL,"
    " digest bytea NOT NULL CHECK (length(digest) = 32),"
    " updated bigint NOT NULL);"
    "INSERT INTO backend_meta(key, value) VALUES ('schema_version', 3);";

static int schema_init(struct bk_pg *g, char *err, size_t cap)
{
    PGresult *r;
    int have, ret = IOTSEC_OK;

    if (exec0(g, "BEGIN") != IOTSEC_OK || exec0(g, BK_PG_LOCK) != IOTSEC_OK) {
        set_err(err, cap, "cannot lock the database", PQerrorMessage(g->conn));
        exec0(g, "ROLLBACK");
        return IOTSEC_E_IO;
    }
    r = run(g, "SELECT (to_regclass('backend_meta') IS NOT NULL)::int::text", NULL, 0);
    if (r == NULL || PQntuples(r) != 1) {
        set_err(err, cap, "cannot read the backend schema", PQerrorMessage(g->conn));
        PQclear(r);
        exec0(g, "ROLLBACK");
        return IOTSEC_E_IO;
    }
    have = col_i64(r, 0, 0) != 0;
    PQclear(r);
    if (!have) {
        r = PQexec(g->conn, schema_sql); /* several statements: simple query protocol */
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            set_err(err, cap, "cannot create the backend schema", PQerrorMessage(g->conn));
            ret = IOTSEC_E_IO;
        }
        PQclear(r);
    } else {
        r = run(g, "SELECT value::text FROM backend_meta WHERE key = 'schema_version'", NULL,
                0);
        if (r == NULL) {
            set_err(err, cap, "cannot read the backend schema", PQerrorMessage(g->conn));
            ret = IOTSEC_E_IO;
        } else if (PQntuples(r) != 1 || col_i64(r, 0, 0) != BK_SCHEMA_VERSION) {
            if (err != NULL && cap > 0)
                snprintf(err, cap,
                         "the database holds backend schema version %lld; this build reads"
                         " version %d",
                         PQntuples(r) == 1 ? (long long)col_i64(r, 0, 0) : 0LL,
                         BK_SCHEMA_VERSION);
            ret = IOTSEC_E_BAD_VERSION;
        }
        PQclear(r);
    }
    if (ret != IOTSEC_OK) {
        exec0(g, "ROLLBACK");
        return ret;
    }
    if (exec0(g, "COMMIT") != IOTSEC_OK) {
        set_err(err, cap, "cannot create the backend schema", PQerrorMessage(g->conn));
        exec0(g, "ROLLBACK");
        return IOTSEC_E_IO;
    }
    return IOTSEC_OK;
}

int bk_pg_open(struct bk_pg **out, const char *uri, unsigned window, int async_commit,
               char *err, size_t cap)
{
    struct bk_pg *g;
    char msg[IOTSEC_REPLAY_PG_ERR_LEN];
    int rc;

    *out = NULL;
    g = calloc(1, sizeof *g);
    if (g == NULL) {
        set_err(err, cap, "out of memory", NULL);
        return IOTSEC_E_NO_MEMORY;
    }
    msg[0] = '\0';
    rc = iotsec_replay_pg_open(&g->store, uri, window,
                               async_commit ? IOTSEC_REPLAY_PG_ASYNC_COMMIT : 0u, msg,
                               sizeof msg);
    if (rc != IOTSEC_OK) {
        set_err(err, cap, iotsec_strerror(rc), msg[0] ? msg : NULL);
        free(g);
        return rc;
    }
    g->conn = iotsec_replay_pg_conn(g->store);
    rc = schema_init(g, err, cap);
    if (rc != IOTSEC_OK) {
        bk_pg_close(g);
        return rc;
    }
    *out = g;
    return IOTSEC_OK;
}

void bk_pg_close(struct bk_pg *g)
{
    if (g == NULL)
        return;
    iotsec_replay_pg_close(g->store);
    free(g);
}

const char *bk_pg_errmsg(struct bk_pg *g)
{
    const char *m = PQerrorMessage(g->conn);

    return m != NULL && *m != '\0' ? m : "PostgreSQL error";
}

iotsec_replay_store *bk_pg_store(struct bk_pg *g)
{
    return iotsec_replay_pg_store(g->store);
}

iotsec_replay_store *bk_pg_ecowatt_store(struct bk_pg *g)
{
    return iotsec_replay_pg_ecowatt_store(g->store);
}

const char *bk_pg_sqlstate(struct bk_pg *g)
{
    return iotsec_replay_pg_sqlstate(g->store);
}

int bk_pg_retryable(struct bk_pg *g)
{
    const char *store = iotsec_replay_pg_sqlstate(g->store);
    int r = strncmp(g->sqlstate, "40", 2) == 0 || strncmp(store, "40", 2) == 0;

    g->sqlstate[0] = '\0';
    return r;
}

/* ---- the server's reads and writes ------------------------------------------------------ */

/* A NUL-terminated copy of (s, n) in buf (cap bytes); NULL when it does not fit. */
static const char *cstr(char *buf, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        return NULL;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return buf;
}

int bk_pg_device(struct bk_pg *g, const char *id, size_t id_len, bk_device *dev, int *found)
{
    char idb[BK_ID_MAX + 1];
    struct prm p[1];
    PGresult *r;
    int mac, enc;

    memset(dev, 0, sizeof *dev);
    *found = 0;
    if (cstr(idb, sizeof idb, id, id_len) == NULL)
        return IOTSEC_OK; /* longer than any registered id */
    p[0] = (struct prm){idb, -1, 0};
    r = run(g, "SELECT enabled::text, legacy_mac_key, legacy_enc_key FROM devices"
               " WHERE device_id = $1",
            p, 1);
    if (r == NULL)
        return IOTSEC_E_IO;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return IOTSEC_OK;
    }
    dev->enabled = col_i64(r, 0, 0) != 0;
    mac = col_fixed(r, 0, 1, dev->legacy_mac, sizeof dev->legacy_mac);
    enc = col_fixed(r, 0, 2, dev->legacy_enc, sizeof dev->legacy_enc);
    PQclear(r);
    if (mac < 0 || enc < 0) {
        iotsec_zeroize(dev, sizeof *dev);
        return IOTSEC_E_CORRUPT;
    }
    dev->legacy = mac == 1;
    dev->has_legacy_enc = enc == 1;
    *found = 1;
    return IOTSEC_OK;
}

int bk_pg_device_key(struct bk_pg *g, const char *id, size_t id_len, unsigned kid,
                     uint8_t secret[BK_SECRET_LEN], int *found)
{
    char idb[BK_ID_MAX + 1], kidb[12];
    struct prm p[2];
    PGresult *r;
    int got = 0;

    *found = 0;
    if (cstr(idb, sizeof idb, id, id_len) == NULL)
        return IOTSEC_OK;
    snprintf(kidb, sizeof kidb, "%u", kid);
    p[0] = (struct prm){idb, -1, 0};
    p[1] = (struct prm){kidb, -1, 0};
    r = run(g, "SELECT secret FROM device_keys WHERE device_id = $1 AND kid = $2", p, 2);
    if (r == NULL)
        return IOTSEC_E_IO;
    if (PQntuples(r) == 1)
        got = col_fixed(r, 0, 0, secret, BK_SECRET_LEN);
    PQclear(r);
    if (got < 0)
        return IOTSEC_E_CORRUPT;
    *found = got == 1;
    return IOTSEC_OK;
}

/* NULL for NULL or "" (as the SQLite audit row) */
static const char *opt_text(const char *s)
{
    return s != NULL && *s != '\0' ? s : NULL;
}

int bk_pg_audit(struct bk_pg *g, int64_t now, const char *peer, const char *identity,
                const char *event, const char *detail)
{
    char t[24];
    struct prm p[5];

    snprintf(t, sizeof t, "%lld", (long long)now);
    p[0] = (struct prm){t, -1, 0};
    p[1] = (struct prm){opt_text(peer), -1, 0};
    p[2] = (struct prm){opt_text(identity), -1, 0};
    p[3] = (struct prm){event, -1, 0};
    p[4] = (struct prm){detail, -1, 0};
    return exec_n(g, "INSERT INTO audit(time, peer, identity, event, detail)"
                     " VALUES ($1, $2, $3, $4, $5)",
                  p, 5, NULL);
}

int bk_pg_telemetry(struct bk_pg *g, const bk_telemetry *t)
{
    char rec[24], kid[12], ctr[21], enc[2];
    struct prm p[8];

    snprintf(rec, sizeof rec, "%lld", (long long)t->received);
    snprintf(kid, sizeof kid, "%d", t->kid);
    ctr[iotsec_format_u64_dec(t->ctr, ctr)] = '\0';
    enc[0] = t->encrypted ? '1' : '0';
    enc[1] = '\0';
    p[0] = (struct prm){rec, -1, 0};
    p[1] = (struct prm){t->device_id, -1, 0};
    p[2] = (struct prm){t->kid >= 0 ? kid : NULL, -1, 0};
    p[3] = (struct prm){ctr, -1, 0};
    p[4] = (struct prm){t->format, -1, 0};
    p[5] = (struct prm){enc, -1, 0};
    p[6] = (struct prm){t->payload_len ? (const void *)t->payload : "", (int)t->payload_len, 1};
    p[7] = (struct prm){t->peer, -1, 0};
    return exec_n(g, "INSERT INTO telemetry(received, device_id, kid, ctr, format, encrypted,"
                     " payload, peer) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                  p, 8, NULL);
}

int bk_pg_savepoint(struct bk_pg *g, int op)
{
    static const char *const sql[] = {"SAVEPOINT bk_frame", "RELEASE SAVEPOINT bk_frame",
                                      "ROLLBACK TO SAVEPOINT bk_frame"};

    return op >= 0 && op <= 2 ? exec0(g, sql[op]) : IOTSEC_E_INVALID_ARG;
}

int bk_pg_manifest(struct bk_pg *g, const char *cls, size_t cls_len, uint8_t **buf,
                   size_t *len, int *found)
{
    struct prm p[1] = {{cls, (int)cls_len, 1}};
    PGresult *r;
    int ret = IOTSEC_OK;

    *buf = NULL;
    *len = 0;
    *found = 0;
    r = run(g, "SELECT manifest FROM firmware WHERE device_class = $1"
               " ORDER BY security_counter DESC, id DESC LIMIT 1",
            p, 1);
    if (r == NULL)
        return IOTSEC_E_IO;
    if (PQntuples(r) == 1) {
        size_t n = (size_t)PQgetlength(r, 0, 0);
        *buf = malloc(n > 0 ? n : 1u);
        if (*buf == NULL) {
            ret = IOTSEC_E_NO_MEMORY;
        } else {
            memcpy(*buf, PQgetvalue(r, 0, 0), n);
            *len = n;
            *found = 1;
        }
    }
    PQclear(r);
    return ret;
}

int bk_pg_payload_find(struct bk_pg *g, const uint8_t digest[32], bk_payload *pl, int *found)
{
    struct prm p[1] = {{digest, 32, 1}};
    PGresult *r;

    *found = 0;
    r = run(g, "SELECT id::text, size::text FROM payloads WHERE digest = $1 AND ready = 1", p,
            1);
    if (r == NULL)
        return IOTSEC_E_IO;
    if (PQntuples(r) == 1) {
        pl->id = col_i64(r, 0, 0);
        pl->size = (uint64_t)col_i64(r, 0, 1);
        *found = 1;
    }
    PQclear(r);
    return IOTSEC_OK;
}

int bk_pg_payload_read(struct bk_pg *g, const bk_payload *pl, uint64_t off, uint8_t *out,
                       size_t len)
{
    char id[24], lo[24], hi[24];
    struct prm p[3];
    PGresult *r;
    uint64_t idx, end, pos = off;
    int row = 0, rc = IOTSEC_OK;

    if (off > pl->size || len > pl->size - off)
        return IOTSEC_E_INVALID_ARG;
    if (len == 0)
        return IOTSEC_OK;
    end = off + len;
    snprintf(id, sizeof id, "%lld", (long long)pl->id);
    snprintf(lo, sizeof lo, "%llu", (unsigned long long)(off / BK_CHUNK));
    snprintf(hi, sizeof hi, "%llu", (unsigned long long)((end - 1u) / BK_CHUNK));
    p[0] = (struct prm){id, -1, 0};
    p[1] = (struct prm){lo, -1, 0};
    p[2] = (struct prm){hi, -1, 0};
    r = run(g, "SELECT idx::text, data FROM payload_chunks WHERE payload = $1"
               " AND idx BETWEEN $2 AND $3 ORDER BY idx",
            p, 3);
    if (r == NULL)
        return IOTSEC_E_IO;
    for (idx = off / BK_CHUNK; pos < end; idx++, row++) {
        uint64_t start = idx * BK_CHUNK;
        uint64_t want = pl->size - start < BK_CHUNK ? pl->size - start : BK_CHUNK;
        uint64_t stop = start + want < end ? start + want : end;

        if (row >= PQntuples(r) || (uint64_t)col_i64(r, row, 0) != idx ||
            PQgetisnull(r, row, 1) || (uint64_t)PQgetlength(r, row, 1) != want) {
            rc = IOTSEC_E_CORRUPT; /* missing, out of order, or not the chunk's size */
            break;
        }
        memcpy(out + (pos - off), PQgetvalue(r, row, 1) + (pos - start), (size_t)(stop - pos));
        pos = stop;
    }
    PQclear(r);
    return rc;
}

/* ---- staging (publish-firmware) --------------------------------------------------------- */

int bk_pg_stage_begin(struct bk_pg *g, const uint8_t digest[32], uint64_t size, int64_t now,
                      int64_t *id)
{
    char sz[24], t[24];
    struct prm p[3];
    PGresult *r;

    if (size > (uint64_t)INT64_MAX)
        return IOTSEC_E_INVALID_ARG;
    snprintf(sz, sizeof sz, "%llu", (unsigned long long)size);
    snprintf(t, sizeof t, "%lld", (long long)now);
    p[0] = (struct prm){digest, 32, 1};
    p[1] = (struct prm){sz, -1, 0};
    p[2] = (struct prm){t, -1, 0};
    r = run(g, "INSERT INTO payloads(digest, size, ready, touched) VALUES ($1, $2, 0, $3)"
               " RETURNING id::text",
            p, 3);
    if (r == NULL || PQntuples(r) != 1) {
        PQclear(r);
        return IOTSEC_E_IO;
    }
    *id = col_i64(r, 0, 0);
    PQclear(r);
    return IOTSEC_OK;
}

int bk_pg_stage_chunk(struct bk_pg *g, int64_t id, uint64_t idx, const uint8_t *data,
                      size_t len, int64_t now, int *alive)
{
    char ids[24], idxs[24], t[24];
    struct prm p[3];
    long n = 0;

    *alive = 0;
    if (len == 0 || len > BK_CHUNK || idx > (uint64_t)INT64_MAX)
        return IOTSEC_E_INVALID_ARG;
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    snprintf(idxs, sizeof idxs, "%llu", (unsigned long long)idx);
    snprintf(t, sizeof t, "%lld", (long long)now);
    if (exec0(g, "BEGIN") != IOTSEC_OK)
        return IOTSEC_E_IO;
    p[0] = (struct prm){ids, -1, 0};
    p[1] = (struct prm){t, -1, 0};
    if (exec_n(g, "UPDATE payloads SET touched = $2 WHERE id = $1 AND ready = 0", p, 2, &n) !=
        IOTSEC_OK)
        goto fail;
    if (n == 1) {
        p[1] = (struct prm){idxs, -1, 0};
        p[2] = (struct prm){data, (int)len, 1};
        if (exec_n(g, "INSERT INTO payload_chunks(payload, idx, data) VALUES ($1, $2, $3)", p,
                   3, NULL) != IOTSEC_OK)
            goto fail;
        *alive = 1;
    }
    if (exec0(g, "COMMIT") == IOTSEC_OK)
        return IOTSEC_OK;
fail:
    exec0(g, "ROLLBACK");
    *alive = 0;
    return IOTSEC_E_IO;
}

int bk_pg_stage_drop(struct bk_pg *g, int64_t id)
{
    char ids[24];
    struct prm p[1] = {{ids, -1, 0}};
    long n;

    snprintf(ids, sizeof ids, "%lld", (long long)id);
    do { /* 8 chunks per statement (each its own transaction) */
        if (exec_n(g,
                   "DELETE FROM payload_chunks WHERE (payload, idx) IN (SELECT c.payload, c.idx"
                   " FROM payload_chunks c JOIN payloads p ON p.id = c.payload"
                   " WHERE c.payload = $1 AND p.ready = 0 LIMIT 8)",
                   p, 1, &n) != IOTSEC_OK)
            return IOTSEC_E_IO;
    } while (n > 0);
    return exec_n(g, "DELETE FROM payloads WHERE id = $1 AND ready = 0", p, 1, NULL);
}

int bk_pg_stage_ready(struct bk_pg *g, int64_t id, uint64_t nchunks, int *done)
{
    char ids[24], ns[24];
    struct prm p[2];
    long n = 0;

    *done = 0;
    if (nchunks > (uint64_t)INT64_MAX)
        return IOTSEC_E_INVALID_ARG;
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    snprintf(ns, sizeof ns, "%llu", (unsigned long long)nchunks);
    p[0] = (struct prm){ids, -1, 0};
    p[1] = (struct prm){ns, -1, 0};
    if (exec_n(g,
               "UPDATE payloads SET ready = 1 WHERE id = $1::bigint AND ready = 0"
               " AND (SELECT count(*) FROM payload_chunks WHERE payload = $1::bigint) ="
               " $2::bigint AND (SELECT coalesce(max(idx), -1) FROM payload_chunks"
               "      WHERE payload = $1::bigint) = $2::bigint - 1",
               p, 2, &n) != IOTSEC_OK)
        return IOTSEC_E_IO;
    *done = n == 1;
    return IOTSEC_OK;
}

int bk_pg_stage_prune(struct bk_pg *g, int64_t now, unsigned *dropped)
{
    char t[24];
    struct prm p[1] = {{t, -1, 0}};
    int64_t ids[16];
    int n, i, rc = IOTSEC_OK;

    *dropped = 0;
    snprintf(t, sizeof t, "%lld", (long long)(now - BK_STAGING_STALE));
    do {
        PGresult *r = run(g, "SELECT id::text FROM payloads WHERE ready = 0 AND touched < $1"
                             " ORDER BY id LIMIT 16",
                          p, 1);
        if (r == NULL)
            return IOTSEC_E_IO;
        n = PQntuples(r);
        for (i = 0; i < n && i < 16; i++)
            ids[i] = col_i64(r, i, 0);
        PQclear(r);
        for (i = 0; rc == IOTSEC_OK && i < n; i++, (*dropped)++)
            rc = bk_pg_stage_drop(g, ids[i]);
    } while (rc == IOTSEC_OK && n == 16);
    return rc;
}

/* ---- CRL floors ----------------------------------------------------------------------- */

int bk_pg_crl_floors(struct bk_pg *g, iotsec_crl_floor *out, size_t cap, size_t *n)
{
    PGresult *r = run(g, "SELECT issuer, number, this_update::text, digest FROM crl_floors"
                         " ORDER BY issuer",
                      NULL, 0);
    int i, ret = IOTSEC_OK;

    *n = 0;
    if (r == NULL)
        return IOTSEC_E_IO;
    for (i = 0; i < PQntuples(r); i++) {
        iotsec_crl_floor f;
        int num;

        if (*n == cap) {
            ret = IOTSEC_E_BUFFER_TOO_SMALL;
            break;
        }
        memset(&f, 0, sizeof f);
        num = col_fixed(r, i, 1, f.number, sizeof f.number);
        if (col_fixed(r, i, 0, f.issuer, sizeof f.issuer) != 1 || num < 0 ||
            col_fixed(r, i, 3, f.digest, sizeof f.digest) != 1) {
            ret = IOTSEC_E_CORRUPT;
            break;
        }
        f.has_number = num;
        f.this_update = col_i64(r, i, 2);
        out[(*n)++] = f;
    }
    PQclear(r);
    if (ret != IOTSEC_OK)
        *n = 0;
    return ret;
}

int bk_pg_crl_floors_put(struct bk_pg *g, const iotsec_crl_floor *floors, size_t n,
                         int64_t now, unsigned *changed)
{
    char tu[24], t[24];
    size_t i;

    *changed = 0;
    snprintf(t, sizeof t, "%lld", (long long)now);
    if (exec0(g, "BEGIN") != IOTSEC_OK)
        return IOTSEC_E_IO;
    for (i = 0; i < n; i++) {
        const iotsec_crl_floor *f = &floors[i];
        struct prm p[5];
        long k = 0;

        snprintf(tu, sizeof tu, "%lld", (long long)f->this_update);
        p[0] = (struct prm){f->issuer, (int)sizeof f->issuer, 1};
        p[1] = (struct prm){f->has_number ? f->number : NULL, (int)sizeof f->number, 1};
        p[2] = (struct prm){tu, -1, 0};
        p[3] = (struct prm){f->digest, (int)sizeof f->digest, 1};
        p[4] = (struct prm){t, -1, 0};
        if (exec_n(g,
                   "INSERT INTO crl_floors(issuer, number, this_update, digest, updated)"
                   " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (issuer) DO UPDATE SET"
                   " number = excluded.number, this_update = excluded.this_update,"
                   " digest = excluded.digest, updated = excluded.updated"
                   " WHERE crl_floors.number IS DISTINCT FROM excluded.number"
                   " OR crl_floors.this_update <> excluded.this_update"
                   " OR crl_floors.digest <> excluded.digest",
                   p, 5, &k) != IOTSEC_OK) {
            exec0(g, "ROLLBACK");
            *changed = 0;
            return IOTSEC_E_IO;
        }
        *changed += k > 0 ? 1u : 0u;
    }
    if (exec0(g, "COMMIT") != IOTSEC_OK) {
        exec0(g, "ROLLBACK");
        *changed = 0;
        return IOTSEC_E_IO;
    }
    return IOTSEC_OK;
}

/* ---- admin subcommands ------------------------------------------------------------------ */

int bk_pg_tx(struct bk_pg *g, int op)
{
    switch (op) {
    case 0: /* serialize admin transactions, as SQLite's BEGIN IMMEDIATE does */
        if (exec0(g, "BEGIN") != IOTSEC_OK)
            return IOTSEC_E_IO;
        if (exec0(g, BK_PG_LOCK) != IOTSEC_OK) {
            exec0(g, "ROLLBACK");
            return IOTSEC_E_IO;
        }
        return IOTSEC_OK;
    case 1:
        if (exec0(g, "COMMIT") != IOTSEC_OK) {
            exec0(g, "ROLLBACK");
            return IOTSEC_E_IO;
        }
        return IOTSEC_OK;
    default:
        exec0(g, "ROLLBACK");
        return IOTSEC_OK;
    }
}

int bk_pg_staging_mode(struct bk_pg *g, int on)
{
    /* the staging commits need no flush: the publishing commit flushes the WAL before it */
    return exec0(g, on ? "SET synchronous_commit = off" : "SET synchronous_commit = on");
}

int bk_pg_device_exists(struct bk_pg *g, const char *id, int *exists)
{
    struct prm p[1] = {{id, -1, 0}};
    PGresult *r = run(g, "SELECT 1 FROM devices WHERE device_id = $1", p, 1);

    *exists = 0;
    if (r == NULL)
        return IOTSEC_E_IO;
    *exists = PQntuples(r) > 0;
    PQclear(r);
    return IOTSEC_OK;
}

int bk_pg_device_insert(struct bk_pg *g, const char *id, const uint8_t *mac,
                        const uint8_t *enc)
{
    struct prm p[3] = {{id, -1, 0}, {mac, (int)BK_LEGACY_MAC_LEN, 1},
                       {enc, (int)BK_LEGACY_ENC_LEN, 1}};

    return exec_n(g, "INSERT INTO devices(device_id, enabled, legacy_mac_key, legacy_enc_key,"
                     " created) VALUES ($1, 1, $2, $3, extract(epoch from now())::bigint)",
                  p, 3, NULL);
}

int bk_pg_device_set_legacy(struct bk_pg *g, const char *id, const uint8_t *mac,
                            const uint8_t *enc)
{
    struct prm p[3] = {{id, -1, 0}, {mac, (int)BK_LEGACY_MAC_LEN, 1},
                       {enc, (int)BK_LEGACY_ENC_LEN, 1}};

    return exec_n(g, "UPDATE devices SET legacy_mac_key = $2, legacy_enc_key = $3"
                     " WHERE device_id = $1",
                  p, 3, NULL);
}

int bk_pg_device_key_add(struct bk_pg *g, const char *id, unsigned kid,
                         const uint8_t secret[BK_SECRET_LEN], int *taken)
{
    char k[12];
    struct prm p[3];
    long n = 0;

    *taken = 0;
    snprintf(k, sizeof k, "%u", kid);
    p[0] = (struct prm){id, -1, 0};
    p[1] = (struct prm){k, -1, 0};
    p[2] = (struct prm){secret, (int)BK_SECRET_LEN, 1};
    if (exec_n(g, "INSERT INTO device_keys(device_id, kid, secret, created) VALUES ($1, $2,"
                  " $3, extract(epoch from now())::bigint) ON CONFLICT DO NOTHING",
               p, 3, &n) != IOTSEC_OK)
        return IOTSEC_E_IO;
    *taken = n == 0;
    return IOTSEC_OK;
}

int bk_pg_device_disable(struct bk_pg *g, const char *id, int *found)
{
    struct prm p[1] = {{id, -1, 0}};
    long n = 0;

    *found = 0;
    if (exec_n(g, "UPDATE devices SET enabled = 0 WHERE device_id = $1", p, 1, &n) !=
        IOTSEC_OK)
        return IOTSEC_E_IO;
    *found = n != 0;
    return IOTSEC_OK;
}

int bk_pg_firmware_add(struct bk_pg *g, const uint8_t *cls, size_t cls_len,
                       const uint8_t *version, size_t version_len, uint64_t security_counter,
                       const uint8_t *manifest, size_t manifest_len, const uint8_t digest[32])
{
    uint8_t ctr[8];
    char *ver;
    int i, rc;

    for (i = 7; i >= 0; i--) {
        ctr[i] = (uint8_t)security_counter;
        security_counter >>= 8;
    }
    ver = malloc(version_len + 1u);
    if (ver == NULL)
        return IOTSEC_E_NO_MEMORY;
    memcpy(ver, version, version_len);
    ver[version_len] = '\0';
    {
        struct prm p[5] = {{cls, (int)cls_len, 1},
                           {ver, -1, 0},
                           {ctr, 8, 1},
                           {manifest, (int)manifest_len, 1},
                           {digest, 32, 1}};
        rc = exec_n(g,
                    "INSERT INTO firmware(device_class, version, security_counter, manifest,"
                    " payload_digest, published) VALUES ($1, $2, $3, $4, $5,"
                    " extract(epoch from now())::bigint)",
                    p, 5, NULL);
    }
    free(ver);
    return rc;
}

/* ---- listings --------------------------------------------------------------------------- */

static const char *const list_sql[] = {
    [BK_LIST_DEVICES] =
        "SELECT d.device_id, d.enabled::text, (d.legacy_mac_key IS NOT NULL)::int::text,"
        " (SELECT string_agg(kid::text, ',' ORDER BY kid) FROM device_keys k"
        "  WHERE k.device_id = d.device_id), d.created::text"
        " FROM devices d ORDER BY d.device_id",
    [BK_LIST_AUDIT] = "SELECT id::text, time::text, peer, identity, event, detail FROM"
                      " (SELECT * FROM audit ORDER BY id DESC LIMIT $1) a ORDER BY id",
    [BK_LIST_TELEMETRY] =
        "SELECT id::text, received::text, device_id, kid::text, ctr::text, format,"
        " encrypted::text, peer, payload FROM"
        " (SELECT * FROM telemetry ORDER BY id DESC LIMIT $1) t ORDER BY id",
    [BK_LIST_FIRMWARE] = "SELECT id::text, device_class, version, security_counter,"
                         " payload_digest, length(manifest)::text, published::text"
                         " FROM firmware ORDER BY id",
    [BK_LIST_PAYLOADS] = "SELECT id::text, digest, size::text, ready::text, (SELECT count(*)"
                         " FROM payload_chunks c WHERE c.payload = p.id)::text,"
                         " touched::text FROM payloads p ORDER BY id",
    [BK_LIST_CRL_FLOORS] = "SELECT issuer, number, this_update::text, digest, updated::text"
                           " FROM crl_floors ORDER BY issuer",
};

int bk_pg_list_open(struct bk_pg *g, enum bk_listing what, uint64_t limit,
                    struct bk_pg_rows **out)
{
    char lim[24];
    struct prm p[1] = {{lim, -1, 0}};
    struct bk_pg_rows *r;
    PGresult *res;

    *out = NULL;
    if ((unsigned)what >= sizeof list_sql / sizeof list_sql[0])
        return IOTSEC_E_INVALID_ARG;
    snprintf(lim, sizeof lim, "%llu", (unsigned long long)limit);
    res = run(g, list_sql[what], p,
              what == BK_LIST_AUDIT || what == BK_LIST_TELEMETRY ? 1 : 0);
    if (res == NULL)
        return IOTSEC_E_IO;
    r = malloc(sizeof *r);
    if (r == NULL) {
        PQclear(res);
        return IOTSEC_E_NO_MEMORY;
    }
    r->r = res;
    r->row = -1;
    *out = r;
    return IOTSEC_OK;
}

int bk_pg_rows_next(struct bk_pg_rows *r)
{
    if (r->row + 1 >= PQntuples(r->r))
        return 0;
    r->row++;
    return 1;
}

int bk_pg_rows_bytes(struct bk_pg_rows *r, int col)
{
    return PQgetlength(r->r, r->row, col);
}

int bk_pg_rows_is_null(struct bk_pg_rows *r, int col)
{
    return PQgetisnull(r->r, r->row, col);
}

const unsigned char *bk_pg_rows_value(struct bk_pg_rows *r, int col)
{
    return (const unsigned char *)PQgetvalue(r->r, r->row, col);
}

void bk_pg_rows_close(struct bk_pg_rows *r)
{
    if (r == NULL)
        return;
    PQclear(r->r);
    free(r);
}

#else /* !IOTSEC_HAVE_PG: --db postgresql://... is refused at open */

int bk_pg_open(struct bk_pg **out, const char *uri, unsigned window, int async_commit,
               char *err, size_t cap)
{
    (void)uri;
    (void)window;
    (void)async_commit;
    *out = NULL;
    if (err != NULL && cap > 0)
        snprintf(err, cap, "this build has no PostgreSQL support (libpq-dev missing at build"
                 " time)");
    return IOTSEC_E_UNSUPPORTED;
}

/* never called: no bk_db has a PostgreSQL side in this build */
void bk_pg_close(struct bk_pg *g)
{
    (void)g;
}

int bk_pg_retryable(struct bk_pg *g)
{
    (void)g;
    return 0;
}

const char *bk_pg_errmsg(struct bk_pg *g)
{
    (void)g;
    return "no PostgreSQL support";
}

iotsec_replay_store *bk_pg_store(struct bk_pg *g)
{
    (void)g;
    return NULL;
}

iotsec_replay_store *bk_pg_ecowatt_store(struct bk_pg *g)
{
    (void)g;
    return NULL;
}

int bk_pg_tx(struct bk_pg *g, int op)
{
    (void)g;
    (void)op;
    return IOTSEC_E_UNSUPPORTED;
}

int bk_pg_list_open(struct bk_pg *g, enum bk_listing what, uint64_t limit,
                    struct bk_pg_rows **out)
{
    (void)g;
    (void)what;
    (void)limit;
    *out = NULL;
    return IOTSEC_E_UNSUPPORTED;
}

int bk_pg_rows_next(struct bk_pg_rows *r)
{
    (void)r;
    return 0;
}

int bk_pg_rows_bytes(struct bk_pg_rows *r, int col)
{
    (void)r;
    (void)col;
    return 0;
}

int bk_pg_rows_is_null(struct bk_pg_rows *r, int col)
{
    (void)r;
    (void)col;
    return 1;
}

const unsigned char *bk_pg_rows_value(struct bk_pg_rows *r, int col)
{
    (void)r;
    (void)col;
    return (const unsigned char *)"";
}

void bk_pg_rows_close(struct bk_pg_rows *r)
{
    (void)r;
}

#endif
