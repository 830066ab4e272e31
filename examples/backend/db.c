/*
 * iotsec-backend — SQLite storage.
 *
 * The file is opened by the library's SQLite replay store (iotsec_replay_sqlite_open: mode
 * 0600, WAL, synchronous FULL, its own tables iotsec_replay_state — frames v1 — and
 * iotsec_replay_ecowatt — legacy nonces —, and PRAGMA user_version);
 * the backend adds its tables on the same connection and versions them in backend_meta:
 *
 *   backend_meta(key, value)                       schema_version = 1
 *   devices(device_id, enabled, legacy_mac_key, legacy_enc_key, created)
 *   device_keys(device_id, kid, secret, created)  frame master secret per key generation
 *   telemetry(id, received, device_id, kid, ctr, format, encrypted, payload, peer)
 *   audit(id, time, peer, identity, event, detail)
 *   firmware(id, device_class, version, security_counter, manifest, payload_digest,
 *            published)                           security_counter: 8 bytes big-endian
 *   payloads(digest, size, data)                   firmware payloads by SHA-256
 *
 * Secrets are stored in the clear: the file is created 0600 and is the server's key store.
 * Every function returns IOTSEC_OK or IOTSEC_E_IO (SQLite failure).
 */
#include "backend.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

enum {
    ST_DEVICE,
    ST_KEY,
    ST_AUDIT,
    ST_TELEMETRY,
    ST_MANIFEST,
    ST_PAYLOAD,
    ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    "SELECT enabled, legacy_mac_key, legacy_enc_key FROM devices WHERE device_id = ?1",
    "SELECT secret FROM device_keys WHERE device_id = ?1 AND kid = ?2",
    "INSERT INTO audit(time, peer, identity, event, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
    "INSERT INTO telemetry(received, device_id, kid, ctr, format, encrypted, payload, peer)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    "SELECT manifest FROM firmware WHERE device_class = ?1"
    " ORDER BY security_counter DESC, id DESC LIMIT 1",
    "SELECT rowid, size FROM payloads WHERE digest = ?1",
};

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
    "CREATE TABLE payloads("
    " digest BLOB PRIMARY KEY NOT NULL CHECK (length(digest) = 32),"
    " size INTEGER NOT NULL,"
    " data BLOB NOT NULL);"
    "INSERT INTO backend_meta(key, value) VALUES ('schema_version', 1);";

struct bk_db {
    iotsec_replay_sqlite *store;
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
};

static void set_err(char *err, size_t cap, const char *msg, const char *detail)
{
    if (err != NULL && cap > 0)
        snprintf(err, cap, "%s%s%s", msg, detail ? ": " : "", detail ? detail : "");
}

/* Create the backend tables on a fresh database, or check the version of existing ones. */
static int schema_init(sqlite3 *db, char *err, size_t cap)
{
    sqlite3_stmt *st = NULL;
    int rc, have = 0;
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
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return IOTSEC_E_IO;
        }
    } else if (rc == SQLITE_OK) {
        rc = sqlite3_prepare_v2(db,
                                "SELECT value FROM backend_meta WHERE key = 'schema_version'",
                                -1, &st, NULL);
        if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
            version = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        if (version != BK_SCHEMA_VERSION) {
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            set_err(err, cap, "the database holds another backend schema version", NULL);
            return IOTSEC_E_BAD_VERSION;
        }
    }
    if (rc != SQLITE_OK || sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        set_err(err, cap, "cannot read the backend schema", sqlite3_errmsg(db));
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return IOTSEC_E_IO;
    }
    return IOTSEC_OK;
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
    rc = iotsec_replay_sqlite_open(&d->store, path, window,
                                   sync_normal ? IOTSEC_REPLAY_SQLITE_SYNC_NORMAL : 0u);
    if (rc != IOTSEC_OK) {
        set_err(err, err_cap, path, iotsec_strerror(rc));
        free(d);
        return rc;
    }
    d->db = iotsec_replay_sqlite_db(d->store);
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
    for (i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(d->st[i]);
    iotsec_replay_sqlite_close(d->store);
    free(d);
}

sqlite3 *bk_db_handle(bk_db *d)
{
    return d->db;
}

iotsec_replay_store *bk_db_store(bk_db *d)
{
    return iotsec_replay_sqlite_store(d->store);
}

iotsec_replay_store *bk_db_ecowatt_store(bk_db *d)
{
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
    sqlite3_stmt *st = stmt(d, ST_DEVICE);
    int rc, mac, enc;

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
    sqlite3_stmt *st = stmt(d, ST_KEY);
    int rc, got = 0;

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
    sqlite3_stmt *st = stmt(d, ST_AUDIT);

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
    sqlite3_stmt *st = stmt(d, ST_TELEMETRY);
    char digits[21];

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

int bk_db_manifest(bk_db *d, const char *cls, size_t cls_len, uint8_t **buf, size_t *len,
                   int *found)
{
    sqlite3_stmt *st = stmt(d, ST_MANIFEST);
    int rc, ret = IOTSEC_OK;

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

/* rowid and size of a payload. */
static int payload_row(bk_db *d, const uint8_t digest[32], sqlite3_int64 *rowid,
                       uint64_t *size, int *found)
{
    sqlite3_stmt *st = stmt(d, ST_PAYLOAD);
    int rc;

    *found = 0;
    sqlite3_bind_blob(st, 1, digest, 32, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *rowid = sqlite3_column_int64(st, 0);
        *size = (uint64_t)sqlite3_column_int64(st, 1);
        *found = 1;
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? IOTSEC_OK : IOTSEC_E_IO;
}

int bk_db_payload_size(bk_db *d, const uint8_t digest[32], uint64_t *size, int *found)
{
    sqlite3_int64 rowid;

    return payload_row(d, digest, &rowid, size, found);
}

int bk_db_payload_read(bk_db *d, const uint8_t digest[32], uint64_t off, uint8_t *out,
                       size_t len)
{
    sqlite3_int64 rowid = 0;
    sqlite3_blob *blob = NULL;
    uint64_t size = 0;
    int found = 0, rc;

    rc = payload_row(d, digest, &rowid, &size, &found);
    if (rc != IOTSEC_OK)
        return rc;
    if (!found || off > size || len > size - off || len > (size_t)INT32_MAX ||
        off > (uint64_t)INT32_MAX)
        return IOTSEC_E_INVALID_ARG;
    if (sqlite3_blob_open(d->db, "main", "payloads", "data", rowid, 0, &blob) != SQLITE_OK) {
        sqlite3_blob_close(blob);
        return IOTSEC_E_IO;
    }
    rc = sqlite3_blob_read(blob, out, (int)len, (int)off) == SQLITE_OK ? IOTSEC_OK : IOTSEC_E_IO;
    sqlite3_blob_close(blob);
    return rc;
}
