/*
 * iotsec mosquitto plugin — the backend's database (plugin.h).
 *
 * The broker and the backend share one SQLite file (docs/DESIGN.md §12): the library's
 * replay store (iotsec_replay_sqlite_open on the same path, the same W) so a counter
 * accepted by either is a replay at the other, and the backend's devices and device_keys
 * tables (examples/backend/db.c), read here only — `iotsec-backend add-device` and
 * `disable-device` administer the broker too. Nothing else of the backend's is touched:
 * the plugin writes replay state through the library and its audit trail to its own file.
 */
#include "plugin.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char device_sql[] =
    "SELECT enabled, legacy_mac_key, legacy_enc_key FROM devices WHERE device_id = ?1";
static const char key_sql[] = "SELECT secret FROM device_keys WHERE device_id = ?1 AND kid = ?2";

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st, char *err, size_t cap)
{
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK) {
        snprintf(err, cap, "the database has no backend tables (%s); create it with "
                 "iotsec-backend add-device", sqlite3_errmsg(db));
        return IOTSEC_E_IO;
    }
    if (!sqlite3_stmt_readonly(*st)) { /* cannot happen: SELECTs */
        snprintf(err, cap, "internal: a device query is not read-only");
        return IOTSEC_E_IO;
    }
    return IOTSEC_OK;
}

int mq_store_open(mq_plugin *p, char *err, size_t err_cap)
{
    struct stat st;
    sqlite3 *db;
    int rc;

    /* the backend creates the database; a broker pointed at a wrong path must not create an
     * empty one and then refuse every device */
    if (stat(p->opt.db_path, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, err_cap, "plugin_opt_database %s: no such database file (create it with "
                 "iotsec-backend add-device)", p->opt.db_path);
        return IOTSEC_E_IO;
    }
    rc = iotsec_replay_sqlite_open(&p->db, p->opt.db_path, p->opt.replay_window,
                                   p->opt.sync_normal ? IOTSEC_REPLAY_SQLITE_SYNC_NORMAL : 0u);
    if (rc != IOTSEC_OK) {
        snprintf(err, err_cap, "plugin_opt_database %s: %s", p->opt.db_path, iotsec_strerror(rc));
        p->db = NULL;
        return rc;
    }
    db = iotsec_replay_sqlite_db(p->db);
    rc = prepare(db, device_sql, &p->st_device, err, err_cap);
    if (rc == IOTSEC_OK)
        rc = prepare(db, key_sql, &p->st_key, err, err_cap);
    if (rc != IOTSEC_OK)
        mq_store_close(p);
    return rc;
}

void mq_store_close(mq_plugin *p)
{
    sqlite3_finalize(p->st_device);
    sqlite3_finalize(p->st_key);
    p->st_device = p->st_key = NULL;
    iotsec_replay_sqlite_close(p->db);
    p->db = NULL;
}

/* Copy a blob column of exactly len bytes: 0 when NULL, 1 when copied, −1 when its size
 * differs (a damaged row). */
static int column_key(sqlite3_stmt *st, int col, uint8_t *out, size_t len)
{
    const void *v;

    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        return 0;
    v = sqlite3_column_blob(st, col);
    if (v == NULL || (size_t)sqlite3_column_bytes(st, col) != len)
        return -1;
    memcpy(out, v, len);
    return 1;
}

int mq_store_device(mq_plugin *p, const char *id, size_t id_len, mq_device *dev, int *found)
{
    sqlite3_stmt *st = p->st_device;
    int rc, mac, enc;

    memset(dev, 0, sizeof *dev);
    *found = 0;
    sqlite3_reset(st);
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

int mq_store_key(mq_plugin *p, const char *id, size_t id_len, unsigned kid,
                 uint8_t secret[MQ_SECRET_LEN], int *found)
{
    sqlite3_stmt *st = p->st_key;
    int rc, got = 0;

    *found = 0;
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, id, (int)id_len, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, (int)kid);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        got = column_key(st, 0, secret, MQ_SECRET_LEN);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return IOTSEC_E_IO;
    if (got < 0) {
        iotsec_zeroize(secret, MQ_SECRET_LEN);
        return IOTSEC_E_CORRUPT;
    }
    *found = got == 1;
    return IOTSEC_OK;
}
