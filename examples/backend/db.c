/*
 * iotsec-backend — SQLite storage (and the choice of engine: a --db that is a
 * postgresql:// or postgres:// URI opens the PostgreSQL engine of db_pg.c instead, and every
 * bk_db_* function below hands such a handle over to it first, see db_internal.h).
 *
 * The file is opened by the library's SQLite replay store (iotsec_replay_sqlite_open: mode
 * 0600, WAL, synchronous FULL, its own tables iotsec_replay_state — frames v1 — and
 * iotsec_replay_ecowatt — legacy nonces —, and PRAGMA user_version);
 * the backend adds its tables on the same connection and versions them in backend_meta:
 *
 *   backend_meta(key, value)                       schema_version = 3
 *   devices(device_id, enabled, legacy_mac_key, legacy_enc_key, created)
 *   device_keys(device_id, kid, secret, created)  frame master secret per key generation
 *   telemetry(id, received, device_id, kid, ctr, format, encrypted, payload, peer)
 *   audit(id, time, peer, identity, event, detail)
 *   firmware(id, device_class, version, security_counter, manifest, payload_digest,
 *            published)                           security_counter: 8 bytes big-endian
 *   payloads(id, digest, size, ready, touched)     firmware payloads by SHA-256 as
 *                                                  transferred; ready 0: being staged by
 *                                                  publish-firmware, never served
 *   payload_chunks(payload, idx, data)             bytes [idx·BK_CHUNK, (idx+1)·BK_CHUNK)
 *                                                  of payloads(id = payload): every chunk
 *                                                  BK_CHUNK bytes but the last, none for an
 *                                                  empty payload
 *   crl_floors(issuer, number, this_update, digest, updated)
 *                                                  the newest CRL ever in force per issuer
 *                                                  (db_floors.c; version 3)
 *
 * Schema version 1 kept each payload as one blob, payloads(digest, size, data); opening such
 * a database migrates it (bk_db_open, one transaction): a read near the end of a large blob
 * walks its whole overflow-page chain, a chunk row is found through the primary key. Schema
 * version 2 lacked crl_floors: opening it adds the table (db_floors.c), in the same
 * transaction. A new database is created as version 2, then migrated the same way.
 *
 * Secrets are stored in the clear: the file is created 0600 and is the server's key store.
 * Functions return IOTSEC_OK or IOTSEC_E_IO (SQLite failure), and the further codes their
 * declarations in backend.h give.
 */
#include "backend.h"
#include "db_internal.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
    ST_DEVICE,
    ST_KEY,
    ST_AUDIT,
    ST_TELEMETRY,
    ST_MANIFEST,
    ST_PAYLOAD,
    ST_CHUNKS,
    ST_CHUNK_PUT,
    ST_STAGE_TOUCH,
    ST_COUNT
};

#define CHUNK_PUT_SQL "INSERT INTO payload_chunks(payload, idx, data) VALUES (?1, ?2, ?3)"

static const char *const stmt_sql[ST_COUNT] = {
    "SELECT enabled, legacy_mac_key, legacy_enc_key FROM devices WHERE device_id = ?1",
    "SELECT secret FROM device_keys WHERE device_id = ?1 AND kid = ?2",
    "INSERT INTO audit(time, peer, identity, event, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
    "INSERT INTO telemetry(received, device_id, kid, ctr, format, encrypted, payload, peer)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    "SELECT manifest FROM firmware WHERE device_class = ?1"
    " ORDER BY security_counter DESC, id DESC LIMIT 1",
    "SELECT id, size FROM payloads WHERE digest = ?1 AND ready = 1",
    "SELECT idx, data FROM payload_chunks WHERE payload = ?1 AND idx BETWEEN ?2 AND ?3"
    " ORDER BY idx",
    CHUNK_PUT_SQL,
    "UPDATE payloads SET touched = ?2 WHERE id = ?1 AND ready = 0",
};

/* The payload tables of schema version 2 (also created by the migration from version 1).
 * A payload is served only once ready (one per digest); staging rows are written chunk by
 * chunk in short transactions by publish-firmware, which touches the row in each, so a
 * staging row left by an interrupted publish shows by its age (bk_db_stage_prune). */
#define PAYLOAD_TABLES_SQL                                                               \
    "CREATE TABLE payloads("                                                             \
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"                                             \
    " digest BLOB NOT NULL CHECK (length(digest) = 32),"                                 \
    " size INTEGER NOT NULL CHECK (size >= 0),"                                          \
    " ready INTEGER NOT NULL CHECK (ready IN (0, 1)),"                                   \
    " touched INTEGER NOT NULL);"                                                        \
    "CREATE UNIQUE INDEX payloads_ready ON payloads(digest) WHERE ready = 1;"            \
    "CREATE TABLE payload_chunks("                                                       \
    " payload INTEGER NOT NULL REFERENCES payloads(id),"                                 \
    " idx INTEGER NOT NULL CHECK (idx >= 0),"                                            \
    " data BLOB NOT NULL,"                                                               \
    " PRIMARY KEY (payload, idx));"

static const char schema_sql[] =
    "CREATE TABLE backend_meta(key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL);"
    "CREATE TABLE devices("
    " device_id TEXT PRIMARY KEY NOT NULL,"
    " enabled INTEGER NOT NULL DEFAULT 1,"
    " legacy_mac_key BLOB CHECK (legacy_mac_key IS NULL OR length(legacy_mac_key) = 32),"
    " legacy_enc_key BLOB CHECK (legacy_enc_key IS NULL OR length(legacy_enc_key) = 16),"
    " created INTEGER NOT NULL);"
    "CREATE TABLE device_keys("
    " device_id TEXT NOT NULL REFERENCES devices(device_id),"
    " kid INTEGER NOT NULL CHECK (kid BETWEEN 0 AND 255),"
    " secret BLOB NOT NULL CHECK (length(secret) = 32),"
    " created INTEGER NOT NULL,"
    " PRIMARY KEY (device_id, kid));"
    "CREATE TABLE telemetry("
    " id INTEGER PRIMARY KEY,"
    " received INTEGER NOT NULL,"
    " device_id TEXT NOT NULL,"
    " kid INTEGER,"
    " ctr NOT NULL,"
    " format TEXT NOT NULL,"
    " encrypted INTEGER NOT NULL,"
    " payload BLOB NOT NULL,"
    " peer TEXT);"
    "CREATE INDEX telemetry_device ON telemetry(device_id, id);"
    "CREATE TABLE audit("
    " id INTEGER PRIMARY KEY,"
    " time INTEGER NOT NULL,"
    " peer TEXT,"
    " identity TEXT,"
    " event TEXT NOT NULL,"
    " detail TEXT);"
    "CREATE TABLE firmware("
    " id INTEGER PRIMARY KEY,"
    " device_class BLOB NOT NULL,"
    " version TEXT NOT NULL,"
    " security_counter BLOB NOT NULL CHECK (length(security_counter) = 8),"
    " manifest BLOB NOT NULL,"
    " payload_digest BLOB NOT NULL CHECK (length(payload_digest) = 32),"
    " published INTEGER NOT NULL);"
    "CREATE INDEX firmware_class ON firmware(device_class, security_counter, id);"
    PAYLOAD_TABLES_SQL
    "INSERT INTO backend_meta(key, value) VALUES ('schema_version', 2);";

struct bk_db {
    struct bk_pg *pg; /* PostgreSQL (db_pg.c): then nothing below is used */
    iotsec_replay_sqlite *store;
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
};

static void set_err(char *err, size_t cap, const char *msg, const char *detail)
{
    if (err != NULL && cap > 0)
        snprintf(err, cap, "%s%s%s", msg, detail ? ": " : "", detail ? detail : "");
}

/* Schema version 1 → 2, inside the caller's transaction: each payload blob becomes chunk rows
 * of a ready payload with the same id (its old rowid), then the old table is dropped. A blob
 * whose length differs from its size column is a damaged row: the migration is refused. */
static int migrate_v1(sqlite3 *db, char *err, size_t cap)
{
    sqlite3_stmt *sel = NULL, *put = NULL;
    sqlite3_blob *blob = NULL;
    uint8_t *buf = malloc(BK_CHUNK);
    char *msg = NULL;
    int rc, ret = IOTSEC_E_IO;

    if (buf == NULL) {
        set_err(err, cap, "out of memory", NULL);
        return IOTSEC_E_NO_MEMORY;
    }
    if (sqlite3_exec(db,
                     "ALTER TABLE payloads RENAME TO payloads_v1;" PAYLOAD_TABLES_SQL
                     "INSERT INTO payloads(id, digest, size, ready, touched)"
                     " SELECT rowid, digest, size, 1, unixepoch() FROM payloads_v1;",
                     NULL, NULL, &msg) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT rowid, size FROM payloads_v1 ORDER BY rowid", -1, &sel,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, CHUNK_PUT_SQL, -1, &put, NULL) != SQLITE_OK) {
        set_err(err, cap, "migrating payloads from schema version 1",
                msg != NULL ? msg : sqlite3_errmsg(db));
        goto out;
    }
    while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
        sqlite3_int64 rowid = sqlite3_column_int64(sel, 0), size = sqlite3_column_int64(sel, 1);
        sqlite3_int64 off, idx;

        if (sqlite3_blob_open(db, "main", "payloads_v1", "data", rowid, 0, &blob) != SQLITE_OK) {
            set_err(err, cap, "migrating payloads: cannot read a payload", sqlite3_errmsg(db));
            goto out;
        }
        if (sqlite3_blob_bytes(blob) != size) {
            set_err(err, cap, "migrating payloads: a payload's data differs from its size"
                    " column (damaged row); the database is left at schema version 1", NULL);
            ret = IOTSEC_E_CORRUPT;
            goto out;
        }
        for (off = 0, idx = 0; off < size; off += BK_CHUNK, idx++) {
            int n = size - off < (sqlite3_int64)BK_CHUNK ? (int)(size - off) : (int)BK_CHUNK;
            if (sqlite3_blob_read(blob, buf, n, (int)off) != SQLITE_OK) {
                set_err(err, cap, "migrating payloads: read failed", sqlite3_errmsg(db));
                goto out;
            }
            sqlite3_reset(put);
            sqlite3_bind_int64(put, 1, rowid);
            sqlite3_bind_int64(put, 2, idx);
            sqlite3_bind_blob(put, 3, buf, n, SQLITE_STATIC);
            if (sqlite3_step(put) != SQLITE_DONE) {
                set_err(err, cap, "migrating payloads: write failed", sqlite3_errmsg(db));
                goto out;
            }
        }
        sqlite3_blob_close(blob);
        blob = NULL;
    }
    sqlite3_finalize(sel); /* DROP TABLE needs no statement reading it */
    sel = NULL;
    if (rc != SQLITE_DONE ||
        sqlite3_exec(db,
                     "DROP TABLE payloads_v1;"
                     "UPDATE backend_meta SET value = 2 WHERE key = 'schema_version';",
                     NULL, NULL, &msg) != SQLITE_OK) {
        set_err(err, cap, "migrating payloads from schema version 1",
                msg != NULL ? msg : sqlite3_errmsg(db));
        goto out;
    }
    ret = IOTSEC_OK;
out:
    sqlite3_free(msg);
    sqlite3_blob_close(blob);
    sqlite3_finalize(sel);
    sqlite3_finalize(put);
    free(buf);
    return ret;
}

/* Create the backend tables on a fresh database, or check the version of existing ones and
 * migrate version 1 (one transaction: a failed migration leaves the file as it was). */
static int schema_init(sqlite3 *db, char *err, size_t cap)
{
    sqlite3_stmt *st = NULL;
    int rc, have = 0, ret = IOTSEC_OK;
    sqlite3_int64 version = 0;

    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        set_err(err, cap, "cannot lock the database", sqlite3_errmsg(db));
        return IOTSEC_E_IO;
    }
    rc = sqlite3_prepare_v2(db,
                            "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND"
                            " name = 'backend_meta'",
                            -1, &st, NULL);
    if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        have = sqlite3_column_int(st, 0) > 0;
    else
        rc = SQLITE_ERROR;
    sqlite3_finalize(st);
    st = NULL;
    if (rc == SQLITE_OK && !have) {
        char *msg = NULL;
        if (sqlite3_exec(db, schema_sql, NULL, NULL, &msg) != SQLITE_OK) {
            set_err(err, cap, "cannot create the backend schema", msg);
            sqlite3_free(msg);
            ret = IOTSEC_E_IO;
        }
    } else if (rc == SQLITE_OK) {
        rc = sqlite3_prepare_v2(db,
                                "SELECT value FROM backend_meta WHERE key = 'schema_version'",
                                -1, &st, NULL);
        if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
            version = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        if (rc == SQLITE_OK && version == 1) {
            ret = migrate_v1(db, err, cap);
        } else if (rc == SQLITE_OK && version != BK_SCHEMA_VERSION && version != 2) {
            if (err != NULL && cap > 0)
                snprintf(err, cap,
                         "the database holds backend schema version %lld; this build reads"
                         " version %d (and migrates versions 1 and 2)",
                         (long long)version, BK_SCHEMA_VERSION);
            ret = IOTSEC_E_BAD_VERSION;
        }
    }
    /* ---- db_floors.c: a new database, or one of version 1 or 2, gets crl_floors ---- */
    if (ret == IOTSEC_OK && rc == SQLITE_OK && version != BK_SCHEMA_VERSION)
        ret = bk_db_migrate_v3(db, err, cap);
    if (ret != IOTSEC_OK) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return ret;
    }
    if (rc != SQLITE_OK || sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        set_err(err, cap, "cannot read the backend schema", sqlite3_errmsg(db));
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return IOTSEC_E_IO;
    }
    return IOTSEC_OK;
}

/* Lock waits: SQLite's default busy handler sleeps 1, 2, 5, 10, … ms between tries, so a
 * server that meets publish-firmware's chunk transactions (each well under a millisecond)
 * two or three times in a row waits 3 or 8 ms inside its event loop. Trying again every
 * 0.25 ms waits about as long as the lock is actually held; given up after the store's
 * busy timeout, as before. */
#define BUSY_STEP_US 250L

static int busy_wait(void *arg, int tries)
{
    struct timespec ts = {0, BUSY_STEP_US * 1000L};

    (void)arg;
    if ((long)tries >= IOTSEC_REPLAY_SQLITE_BUSY_TIMEOUT_MS * 1000L / BUSY_STEP_US)
        return 0;
    nanosleep(&ts, NULL);
    return 1;
}

int bk_db_open(bk_db **out, const char *path, unsigned window, int sync_normal, char *err,
               size_t err_cap)
{
    bk_db *d;
    int rc, i;

    *out = NULL;
    d = calloc(1, sizeof *d);
    if (d == NULL) {
        set_err(err, err_cap, "out of memory", NULL);
        return IOTSEC_E_NO_MEMORY;
    }
    if (bk_db_is_pg_uri(path)) {
        rc = bk_pg_open(&d->pg, path, window, sync_normal, err, err_cap);
        if (rc != IOTSEC_OK) {
            free(d);
            return rc;
        }
        *out = d;
        return IOTSEC_OK;
    }
    rc = iotsec_replay_sqlite_open(&d->store, path, window,
                                   sync_normal ? IOTSEC_REPLAY_SQLITE_SYNC_NORMAL : 0u);
    if (rc != IOTSEC_OK) {
        set_err(err, err_cap, path, iotsec_strerror(rc));
        free(d);
        return rc;
    }
    d->db = iotsec_replay_sqlite_db(d->store);
    sqlite3_busy_handler(d->db, busy_wait, NULL);
    rc = schema_init(d->db, err, err_cap);
    for (i = 0; rc == IOTSEC_OK && i < ST_COUNT; i++) {
        if (sqlite3_prepare_v3(d->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &d->st[i],
                               NULL) != SQLITE_OK) {
            set_err(err, err_cap, "cannot prepare a statement", sqlite3_errmsg(d->db));
            rc = IOTSEC_E_IO;
        }
    }
    if (rc != IOTSEC_OK) {
        bk_db_close(d);
        return rc;
    }
    *out = d;
    return IOTSEC_OK;
}

void bk_db_close(bk_db *d)
{
    int i;

    if (d == NULL)
        return;
    if (d->pg != NULL) {
        bk_pg_close(d->pg);
        free(d);
        return;
    }
    for (i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(d->st[i]);
    iotsec_replay_sqlite_close(d->store);
    free(d);
}

sqlite3 *bk_db_handle(bk_db *d)
{
    return d->db;
}

struct bk_pg *bk_db_pg(bk_db *d)
{
    return d->pg;
}

int bk_db_is_pg_uri(const char *path)
{
    return path != NULL &&
           (strncmp(path, "postgresql://", 13) == 0 || strncmp(path, "postgres://", 11) == 0);
}

const char *bk_db_errmsg(bk_db *d)
{
    if (d->pg != NULL)
        return bk_pg_errmsg(d->pg);
    return sqlite3_errmsg(d->db);
}

iotsec_replay_store *bk_db_store(bk_db *d)
{
    if (d->pg != NULL)
        return bk_pg_store(d->pg);
    return iotsec_replay_sqlite_store(d->store);
}

iotsec_replay_store *bk_db_ecowatt_store(bk_db *d)
{
    if (d->pg != NULL)
        return bk_pg_ecowatt_store(d->pg);
    return iotsec_replay_sqlite_ecowatt_store(d->store);
}

/* Take a prepared statement, reset for a new use. */
static sqlite3_stmt *stmt(bk_db *d, int which)
{
    sqlite3_stmt *st = d->st[which];

    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

/* Copy a blob column of exactly len bytes; 0 when NULL, 1 when copied, −1 when the size
 * differs (a damaged row). */
static int column_key(sqlite3_stmt *st, int col, uint8_t *out, size_t len)
{
    const void *p;

    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        return 0;
    p = sqlite3_column_blob(st, col);
    if (p == NULL || (size_t)sqlite3_column_bytes(st, col) != len)
        return -1;
    memcpy(out, p, len);
    return 1;
}

int bk_db_device(bk_db *d, const char *id, size_t id_len, bk_device *dev, int *found)
{
    sqlite3_stmt *st;
    int rc, mac, enc;

    BK_PG_DISPATCH(d, bk_pg_device(pg_, id, id_len, dev, found));
    st = stmt(d, ST_DEVICE);
    memset(dev, 0, sizeof *dev);
    *found = 0;
    sqlite3_bind_text(st, 1, id, (int)id_len, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        return IOTSEC_OK;
    }
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return IOTSEC_E_IO;
    }
    dev->enabled = sqlite3_column_int(st, 0) != 0;
    mac = column_key(st, 1, dev->legacy_mac, sizeof dev->legacy_mac);
    enc = column_key(st, 2, dev->legacy_enc, sizeof dev->legacy_enc);
    sqlite3_reset(st);
    if (mac < 0 || enc < 0) {
        iotsec_zeroize(dev, sizeof *dev);
        return IOTSEC_E_CORRUPT;
    }
    dev->legacy = mac == 1;
    dev->has_legacy_enc = enc == 1;
    *found = 1;
    return IOTSEC_OK;
}

int bk_db_device_key(bk_db *d, const char *id, size_t id_len, unsigned kid,
                     uint8_t secret[BK_SECRET_LEN], int *found)
{
    sqlite3_stmt *st;
    int rc, got = 0;

    BK_PG_DISPATCH(d, bk_pg_device_key(pg_, id, id_len, kid, secret, found));
    st = stmt(d, ST_KEY);
    *found = 0;
    sqlite3_bind_text(st, 1, id, (int)id_len, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, (int)kid);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        got = column_key(st, 0, secret, BK_SECRET_LEN);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return IOTSEC_E_IO;
    if (got < 0)
        return IOTSEC_E_CORRUPT;
    *found = got == 1;
    return IOTSEC_OK;
}

/* Run a bound insert statement once. */
static int run_insert(bk_db *d, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    (void)d;
    return rc == SQLITE_DONE ? IOTSEC_OK : IOTSEC_E_IO;
}

int bk_db_audit(bk_db *d, int64_t now, const char *peer, const char *identity,
                const char *event, const char *detail)
{
    sqlite3_stmt *st;

    BK_PG_DISPATCH(d, bk_pg_audit(pg_, now, peer, identity, event, detail));
    st = stmt(d, ST_AUDIT);
    sqlite3_bind_int64(st, 1, now);
    if (peer != NULL && *peer != '\0')
        sqlite3_bind_text(st, 2, peer, -1, SQLITE_STATIC);
    if (identity != NULL && *identity != '\0')
        sqlite3_bind_text(st, 3, identity, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, event, -1, SQLITE_STATIC);
    if (detail != NULL)
        sqlite3_bind_text(st, 5, detail, -1, SQLITE_STATIC);
    return run_insert(d, st);
}

int bk_db_telemetry(bk_db *d, const bk_telemetry *t)
{
    sqlite3_stmt *st;
    char digits[21];

    BK_PG_DISPATCH(d, bk_pg_telemetry(pg_, t));
    st = stmt(d, ST_TELEMETRY);
    sqlite3_bind_int64(st, 1, t->received);
    sqlite3_bind_text(st, 2, t->device_id, -1, SQLITE_STATIC);
    if (t->kid >= 0)
        sqlite3_bind_int(st, 3, t->kid);
    /* SQLite integers are signed 64-bit: larger binary-frame counters are kept as text */
    if (t->ctr <= (uint64_t)INT64_MAX) {
        sqlite3_bind_int64(st, 4, (sqlite3_int64)t->ctr);
    } else {
        size_t n = iotsec_format_u64_dec(t->ctr, digits);
        sqlite3_bind_text(st, 4, digits, (int)n, SQLITE_TRANSIENT);
    }
    sqlite3_bind_text(st, 5, t->format, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 6, t->encrypted != 0);
    sqlite3_bind_blob(st, 7, t->payload_len ? (const void *)t->payload : "", (int)t->payload_len,
                      SQLITE_STATIC);
    if (t->peer != NULL)
        sqlite3_bind_text(st, 8, t->peer, -1, SQLITE_STATIC);
    return run_insert(d, st);
}

int bk_db_begin(bk_db *d)
{
    return iotsec_replay_store_begin(bk_db_store(d));
}

int bk_db_commit(bk_db *d)
{
    return iotsec_replay_store_commit(bk_db_store(d));
}

void bk_db_rollback(bk_db *d)
{
    (void)iotsec_replay_store_rollback(bk_db_store(d));
}

int bk_db_retryable(bk_db *d)
{
    return d->pg != NULL ? bk_pg_retryable(d->pg) : 0;
}

int bk_db_manifest(bk_db *d, const char *cls, size_t cls_len, uint8_t **buf, size_t *len,
                   int *found)
{
    sqlite3_stmt *st;
    int rc, ret = IOTSEC_OK;

    BK_PG_DISPATCH(d, bk_pg_manifest(pg_, cls, cls_len, buf, len, found));
    st = stmt(d, ST_MANIFEST);
    *buf = NULL;
    *len = 0;
    *found = 0;
    sqlite3_bind_blob(st, 1, cls, (int)cls_len, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const void *p = sqlite3_column_blob(st, 0);
        int n = sqlite3_column_bytes(st, 0);
        *buf = malloc(n > 0 ? (size_t)n : 1u);
        if (*buf == NULL) {
            ret = IOTSEC_E_NO_MEMORY;
        } else {
            if (n > 0)
                memcpy(*buf, p, (size_t)n);
            *len = (size_t)n;
            *found = 1;
        }
    } else if (rc != SQLITE_DONE) {
        ret = IOTSEC_E_IO;
    }
    sqlite3_reset(st);
    return ret;
}

int bk_db_payload_find(bk_db *d, const uint8_t digest[32], bk_payload *p, int *found)
{
    sqlite3_stmt *st;
    int rc;

    BK_PG_DISPATCH(d, bk_pg_payload_find(pg_, digest, p, found));
    st = stmt(d, ST_PAYLOAD);
    *found = 0;
    sqlite3_bind_blob(st, 1, digest, 32, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        p->id = sqlite3_column_int64(st, 0);
        p->size = (uint64_t)sqlite3_column_int64(st, 1); /* CHECK (size >= 0) */
        *found = 1;
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? IOTSEC_OK : IOTSEC_E_IO;
}

int bk_db_payload_read(bk_db *d, const bk_payload *p, uint64_t off, uint8_t *out, size_t len)
{
    sqlite3_stmt *st;
    uint64_t idx, end, pos = off;
    int rc = IOTSEC_OK;

    BK_PG_DISPATCH(d, bk_pg_payload_read(pg_, p, off, out, len));
    if (off > p->size || len > p->size - off)
        return IOTSEC_E_INVALID_ARG;
    if (len == 0)
        return IOTSEC_OK;
    end = off + len;
    st = stmt(d, ST_CHUNKS);
    sqlite3_bind_int64(st, 1, p->id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)(off / BK_CHUNK));
    sqlite3_bind_int64(st, 3, (sqlite3_int64)((end - 1u) / BK_CHUNK));
    for (idx = off / BK_CHUNK; pos < end; idx++) {
        uint64_t start = idx * BK_CHUNK;
        uint64_t want = p->size - start < BK_CHUNK ? p->size - start : BK_CHUNK;
        uint64_t stop = start + want < end ? start + want : end;
        const uint8_t *data;
        int step = sqlite3_step(st);

        if (step != SQLITE_ROW) { /* SQLITE_DONE: a chunk is missing */
            rc = step == SQLITE_DONE ? IOTSEC_E_CORRUPT : IOTSEC_E_IO;
            break;
        }
        data = sqlite3_column_type(st, 1) == SQLITE_BLOB ? sqlite3_column_blob(st, 1) : NULL;
        if ((uint64_t)sqlite3_column_int64(st, 0) != idx || data == NULL ||
            (uint64_t)sqlite3_column_bytes(st, 1) != want) {
            rc = IOTSEC_E_CORRUPT; /* out of order, not a blob, or not the chunk's size */
            break;
        }
        memcpy(out + (pos - off), data + (pos - start), (size_t)(stop - pos));
        pos = stop;
    }
    sqlite3_reset(st);
    return rc;
}

int bk_db_stage_begin(bk_db *d, const uint8_t digest[32], uint64_t size, int64_t now,
                      int64_t *id)
{
    sqlite3_stmt *st = NULL;
    int rc;

    BK_PG_DISPATCH(d, bk_pg_stage_begin(pg_, digest, size, now, id));
    if (size > (uint64_t)INT64_MAX)
        return IOTSEC_E_INVALID_ARG;
    rc = sqlite3_prepare_v2(d->db,
                            "INSERT INTO payloads(digest, size, ready, touched)"
                            " VALUES (?1, ?2, 0, ?3)",
                            -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_blob(st, 1, digest, 32, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)size);
        sqlite3_bind_int64(st, 3, now);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return IOTSEC_E_IO;
    *id = sqlite3_last_insert_rowid(d->db);
    return IOTSEC_OK;
}

int bk_db_stage_chunk(bk_db *d, int64_t id, uint64_t idx, const uint8_t *data, size_t len,
                      int64_t now, int *alive)
{
    sqlite3_stmt *st;
    int rc;

    BK_PG_DISPATCH(d, bk_pg_stage_chunk(pg_, id, idx, data, len, now, alive));
    *alive = 0;
    if (len == 0 || len > BK_CHUNK || idx > (uint64_t)INT64_MAX)
        return IOTSEC_E_INVALID_ARG;
    if (sqlite3_exec(d->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return IOTSEC_E_IO;
    st = stmt(d, ST_STAGE_TOUCH);
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, now);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE && sqlite3_changes(d->db) == 1) {
        st = stmt(d, ST_CHUNK_PUT);
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)idx);
        sqlite3_bind_blob(st, 3, data, (int)len, SQLITE_STATIC);
        rc = run_insert(d, st) == IOTSEC_OK ? SQLITE_OK : SQLITE_ERROR;
        *alive = 1;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_OK; /* the staging row is gone (pruned) or no longer staging */
    }
    if (rc != SQLITE_OK || sqlite3_exec(d->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
        *alive = 0;
        return IOTSEC_E_IO;
    }
    return IOTSEC_OK;
}

int bk_db_stage_drop(bk_db *d, int64_t id)
{
    sqlite3_stmt *st = NULL;
    int rc;

    BK_PG_DISPATCH(d, bk_pg_stage_drop(pg_, id));
    /* 8 chunks per statement (each its own transaction), so the lock is never held for the
     * whole payload; the row goes last. Chunks of a payload that became ready are kept. */
    rc = sqlite3_prepare_v2(d->db,
                            "DELETE FROM payload_chunks WHERE rowid IN (SELECT c.rowid FROM"
                            " payload_chunks c JOIN payloads p ON p.id = c.payload"
                            " WHERE c.payload = ?1 AND p.ready = 0 LIMIT 8)",
                            -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, id);
        do {
            sqlite3_reset(st);
            rc = sqlite3_step(st);
        } while (rc == SQLITE_DONE && sqlite3_changes(d->db) > 0);
    }
    sqlite3_finalize(st);
    st = NULL;
    if (rc == SQLITE_DONE &&
        sqlite3_prepare_v2(d->db, "DELETE FROM payloads WHERE id = ?1 AND ready = 0", -1, &st,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, id);
        rc = sqlite3_step(st);
    } else {
        rc = SQLITE_ERROR;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? IOTSEC_OK : IOTSEC_E_IO;
}

int bk_db_stage_ready(bk_db *d, int64_t id, uint64_t nchunks, int *done)
{
    sqlite3_stmt *st = NULL;
    int rc;

    BK_PG_DISPATCH(d, bk_pg_stage_ready(pg_, id, nchunks, done));
    *done = 0;
    if (nchunks > (uint64_t)INT64_MAX)
        return IOTSEC_E_INVALID_ARG;
    /* chunks 0 … nchunks − 1, no more and no fewer: (payload, idx) is unique, idx >= 0 */
    rc = sqlite3_prepare_v2(d->db,
                            "UPDATE payloads SET ready = 1 WHERE id = ?1 AND ready = 0"
                            " AND (SELECT count(*) FROM payload_chunks WHERE payload = ?1) = ?2"
                            " AND (SELECT coalesce(max(idx), -1) FROM payload_chunks"
                            "      WHERE payload = ?1) = ?2 - 1",
                            -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)nchunks);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return IOTSEC_E_IO;
    *done = sqlite3_changes(d->db) == 1;
    return IOTSEC_OK;
}

int bk_db_stage_prune(bk_db *d, int64_t now, unsigned *dropped)
{
    sqlite3_stmt *st = NULL;
    int64_t ids[16];
    int rc = IOTSEC_OK, step, n, i;

    BK_PG_DISPATCH(d, bk_pg_stage_prune(pg_, now, dropped));
    *dropped = 0;
    do { /* 16 ids at a time: no statement stays open while their rows are deleted */
        n = 0;
        if (sqlite3_prepare_v2(d->db,
                               "SELECT id FROM payloads WHERE ready = 0 AND touched < ?1"
                               " ORDER BY id LIMIT 16",
                               -1, &st, NULL) != SQLITE_OK)
            return IOTSEC_E_IO;
        sqlite3_bind_int64(st, 1, now - BK_STAGING_STALE);
        while ((step = sqlite3_step(st)) == SQLITE_ROW && n < 16)
            ids[n++] = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        if (step != SQLITE_DONE)
            rc = IOTSEC_E_IO;
        for (i = 0; rc == IOTSEC_OK && i < n; i++, (*dropped)++)
            rc = bk_db_stage_drop(d, ids[i]);
    } while (rc == IOTSEC_OK && n == 16);
    return rc;
}
