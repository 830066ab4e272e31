/*
 * iotsec-backend — SQLite storage of the admin subcommands (admin.c): device registration,
 * the firmware row of publish-firmware, its transactions and pragmas, and the listings.
 * With db.c this is the one storage interface (backend.h): no other file calls SQLite.
 *
 * Functions return IOTSEC_OK or IOTSEC_E_IO (SQLite failure; bk_db_errmsg says why).
 */
#include "backend.h"
#include "db_internal.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

/* ---- transactions and pragmas ------------------------------------------------------------- */

int bk_db_tx_begin(bk_db *db)
{
    BK_PG_DISPATCH(db, bk_pg_tx(pg_, 0));
    return sqlite3_exec(bk_db_handle(db), "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK
               ? IOTSEC_OK
               : IOTSEC_E_IO;
}

int bk_db_tx_commit(bk_db *db)
{
    BK_PG_DISPATCH(db, bk_pg_tx(pg_, 1));
    return sqlite3_exec(bk_db_handle(db), "COMMIT", NULL, NULL, NULL) == SQLITE_OK
               ? IOTSEC_OK
               : IOTSEC_E_IO;
}

void bk_db_tx_rollback(bk_db *db)
{
    if (bk_db_pg(db) != NULL) {
        (void)bk_pg_tx(bk_db_pg(db), 2);
        return;
    }
    sqlite3_exec(bk_db_handle(db), "ROLLBACK", NULL, NULL, NULL);
}

int bk_db_staging_mode(bk_db *db, int on)
{
    const char *sql = on ? "PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 256"
                         : "PRAGMA synchronous = FULL";

    BK_PG_DISPATCH(db, bk_pg_staging_mode(pg_, on));
    return sqlite3_exec(bk_db_handle(db), sql, NULL, NULL, NULL) == SQLITE_OK ? IOTSEC_OK
                                                                              : IOTSEC_E_IO;
}

/* ---- one-off statements --------------------------------------------------------------------- */

/* Run one statement with text/blob bindings given as (pointer, length) pairs; NULL
 * pointer binds NULL. Returns the sqlite3_step result (SQLITE_DONE / SQLITE_ROW / error). */
struct bind {
    const void *p;
    int n;   /* −1: NUL-terminated text */
    int blob;
};

static int exec_bound(sqlite3 *db, const char *sql, const struct bind *b, int nb,
                      sqlite3_int64 *first_col)
{
    sqlite3_stmt *st = NULL;
    int rc, i;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return SQLITE_ERROR;
    for (i = 0; i < nb; i++) {
        if (b[i].p == NULL)
            sqlite3_bind_null(st, i + 1);
        else if (b[i].blob)
            sqlite3_bind_blob(st, i + 1, b[i].p, b[i].n, SQLITE_STATIC);
        else
            sqlite3_bind_text(st, i + 1, b[i].p, b[i].n, SQLITE_STATIC);
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && first_col != NULL)
        *first_col = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc;
}

/* ---- devices ------------------------------------------------------------------------------ */

int bk_db_device_exists(bk_db *db, const char *id, int *exists)
{
    struct bind b[] = {{id, -1, 0}};
    sqlite3_int64 n = 0;
    int rc;

    BK_PG_DISPATCH(db, bk_pg_device_exists(pg_, id, exists));
    rc = exec_bound(bk_db_handle(db), "SELECT count(*) FROM devices WHERE device_id = ?1", b, 1,
                    &n);
    *exists = n != 0;
    return rc == SQLITE_ROW ? IOTSEC_OK : IOTSEC_E_IO;
}

int bk_db_device_insert(bk_db *db, const char *id, const uint8_t *mac, const uint8_t *enc)
{
    struct bind b[] = {{id, -1, 0}, {mac, (int)BK_LEGACY_MAC_LEN, 1},
                       {enc, (int)BK_LEGACY_ENC_LEN, 1}};

    BK_PG_DISPATCH(db, bk_pg_device_insert(pg_, id, mac, enc));
    return exec_bound(bk_db_handle(db),
                      "INSERT INTO devices(device_id, enabled, legacy_mac_key, "
                      "legacy_enc_key, created) VALUES (?1, 1, ?2, ?3, unixepoch())",
                      b, 3, NULL) == SQLITE_DONE
               ? IOTSEC_OK
               : IOTSEC_E_IO;
}

int bk_db_device_set_legacy(bk_db *db, const char *id, const uint8_t *mac, const uint8_t *enc)
{
    struct bind b[] = {{id, -1, 0}, {mac, (int)BK_LEGACY_MAC_LEN, 1},
                       {enc, (int)BK_LEGACY_ENC_LEN, 1}};

    BK_PG_DISPATCH(db, bk_pg_device_set_legacy(pg_, id, mac, enc));
    return exec_bound(bk_db_handle(db),
                      "UPDATE devices SET legacy_mac_key = ?2, legacy_enc_key = ?3 "
                      "WHERE device_id = ?1",
                      b, 3, NULL) == SQLITE_DONE
               ? IOTSEC_OK
               : IOTSEC_E_IO;
}

int bk_db_device_key_add(bk_db *db, const char *id, unsigned kid,
                         const uint8_t secret[BK_SECRET_LEN], int *taken)
{
    struct bind b[] = {{id, -1, 0}, {secret, (int)BK_SECRET_LEN, 1}};
    char sql[160];
    int rc;

    BK_PG_DISPATCH(db, bk_pg_device_key_add(pg_, id, kid, secret, taken));
    *taken = 0;
    snprintf(sql, sizeof sql,
             "INSERT INTO device_keys(device_id, kid, secret, created) "
             "VALUES (?1, %u, ?2, unixepoch())",
             kid);
    rc = exec_bound(bk_db_handle(db), sql, b, 2, NULL);
    if ((rc & 0xff) == SQLITE_CONSTRAINT) {
        *taken = 1;
        return IOTSEC_OK;
    }
    return rc == SQLITE_DONE ? IOTSEC_OK : IOTSEC_E_IO;
}

int bk_db_device_disable(bk_db *db, const char *id, int *found)
{
    struct bind b[] = {{id, -1, 0}};
    sqlite3 *h = bk_db_handle(db);

    BK_PG_DISPATCH(db, bk_pg_device_disable(pg_, id, found));
    *found = 0;
    if (exec_bound(h, "UPDATE devices SET enabled = 0 WHERE device_id = ?1", b, 1, NULL) !=
        SQLITE_DONE)
        return IOTSEC_E_IO;
    *found = sqlite3_changes(h) != 0;
    return IOTSEC_OK;
}

/* ---- firmware ----------------------------------------------------------------------------- */

static void put_u64be(uint8_t out[8], uint64_t v)
{
    int i;

    for (i = 7; i >= 0; i--) {
        out[i] = (uint8_t)v;
        v >>= 8;
    }
}

int bk_db_firmware_add(bk_db *db, const uint8_t *cls, size_t cls_len, const uint8_t *version,
                       size_t version_len, uint64_t security_counter, const uint8_t *manifest,
                       size_t manifest_len, const uint8_t digest[32])
{
    uint8_t ctr[8];

    BK_PG_DISPATCH(db, bk_pg_firmware_add(pg_, cls, cls_len, version, version_len,
                                          security_counter, manifest, manifest_len, digest));
    put_u64be(ctr, security_counter);
    {
        struct bind b[] = {{cls, (int)cls_len, 1},
                           {version, (int)version_len, 0},
                           {ctr, 8, 1},
                           {manifest, (int)manifest_len, 1},
                           {digest, 32, 1}};
        return exec_bound(bk_db_handle(db),
                          "INSERT INTO firmware(device_class, version, security_counter, "
                          "manifest, payload_digest, published) VALUES (?1, ?2, ?3, ?4, ?5, "
                          "unixepoch())",
                          b, 5, NULL) == SQLITE_DONE
                   ? IOTSEC_OK
                   : IOTSEC_E_IO;
    }
}

/* ---- listings ----------------------------------------------------------------------------- */

struct bk_rows {
    sqlite3_stmt *st;
    struct bk_pg_rows *pg; /* a PostgreSQL listing (st NULL) */
};

static const char *const list_sql[] = {
    [BK_LIST_DEVICES] =
        "SELECT d.device_id, d.enabled, d.legacy_mac_key IS NOT NULL,"
        " (SELECT group_concat(kid, ',') FROM (SELECT kid FROM device_keys k"
        "  WHERE k.device_id = d.device_id ORDER BY kid)), d.created"
        " FROM devices d ORDER BY d.device_id",
    [BK_LIST_AUDIT] = "SELECT * FROM (SELECT id, time, peer, identity, event, detail FROM audit"
                      " ORDER BY id DESC LIMIT ?1) ORDER BY id",
    [BK_LIST_TELEMETRY] =
        "SELECT * FROM (SELECT id, received, device_id, kid, ctr, format, encrypted,"
        " peer, payload FROM telemetry ORDER BY id DESC LIMIT ?1) ORDER BY id",
    [BK_LIST_FIRMWARE] = "SELECT id, device_class, version, security_counter, payload_digest,"
                         " length(manifest), published FROM firmware ORDER BY id",
    [BK_LIST_PAYLOADS] = "SELECT id, digest, size, ready, (SELECT count(*) FROM payload_chunks c"
                         " WHERE c.payload = p.id), touched FROM payloads p ORDER BY id",
    [BK_LIST_CRL_FLOORS] = "SELECT issuer, number, this_update, digest, updated FROM crl_floors"
                           " ORDER BY issuer", /* db_floors.c */
};

int bk_db_list_open(bk_db *db, enum bk_listing what, uint64_t limit, bk_rows **out)
{
    sqlite3_stmt *st = NULL;
    bk_rows *r;

    *out = NULL;
    if ((unsigned)what >= sizeof list_sql / sizeof list_sql[0])
        return IOTSEC_E_INVALID_ARG;
    if (bk_db_pg(db) != NULL) {
        struct bk_pg_rows *pr = NULL;
        int rc = bk_pg_list_open(bk_db_pg(db), what, limit, &pr);
        if (rc != IOTSEC_OK)
            return rc;
        r = calloc(1, sizeof *r);
        if (r == NULL) {
            bk_pg_rows_close(pr);
            return IOTSEC_E_NO_MEMORY;
        }
        r->pg = pr;
        *out = r;
        return IOTSEC_OK;
    }
    /* the limit is a bound parameter, never text spliced into the statement */
    if (sqlite3_prepare_v2(bk_db_handle(db), list_sql[what], -1, &st, NULL) != SQLITE_OK ||
        (sqlite3_bind_parameter_count(st) == 1 &&
         sqlite3_bind_int64(st, 1, (sqlite3_int64)limit) != SQLITE_OK)) {
        sqlite3_finalize(st); /* NULL when prepare failed: harmless */
        return IOTSEC_E_IO;
    }
    r = calloc(1, sizeof *r);
    if (r == NULL) {
        sqlite3_finalize(st);
        return IOTSEC_E_NO_MEMORY;
    }
    r->st = st;
    *out = r;
    return IOTSEC_OK;
}

int bk_rows_next(bk_rows *r)
{
    int rc;

    if (r->pg != NULL)
        return bk_pg_rows_next(r->pg);
    rc = sqlite3_step(r->st);

    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : IOTSEC_E_IO;
}

int bk_rows_bytes(bk_rows *r, int col)
{
    if (r->pg != NULL)
        return bk_pg_rows_bytes(r->pg, col);
    return sqlite3_column_bytes(r->st, col);
}

int bk_rows_is_null(bk_rows *r, int col)
{
    if (r->pg != NULL)
        return bk_pg_rows_is_null(r->pg, col);
    return sqlite3_column_type(r->st, col) == SQLITE_NULL;
}

const unsigned char *bk_rows_text(bk_rows *r, int col)
{
    if (r->pg != NULL)
        return bk_pg_rows_value(r->pg, col);
    return sqlite3_column_text(r->st, col);
}

int bk_rows_int(bk_rows *r, int col)
{
    if (r->pg != NULL)
        return atoi((const char *)bk_pg_rows_value(r->pg, col));
    return sqlite3_column_int(r->st, col);
}

const unsigned char *bk_rows_blob(bk_rows *r, int col)
{
    if (r->pg != NULL)
        return bk_pg_rows_value(r->pg, col);
    return sqlite3_column_blob(r->st, col);
}

void bk_rows_close(bk_rows *r)
{
    if (r == NULL)
        return;
    bk_pg_rows_close(r->pg);
    sqlite3_finalize(r->st);
    free(r);
}
