/*
 * iotsec-backend — enrollment storage (est_server.h; docs/DESIGN.md §14): bootstrap tokens,
 * stored as their hash only with an expiry and a used mark, one per device; and the
 * certificates enrollment issued. Tables created when missing, beside the backend schema.
 */
#include "est_server.h"

#include <string.h>

#include <sqlite3.h>

#include "db_internal.h"

int bk_est_schema(bk_db *db)
{
    static const char sql[] =
        "CREATE TABLE IF NOT EXISTS est_tokens ("
        " device_id TEXT PRIMARY KEY NOT NULL,"
        " hash BLOB NOT NULL,"
        " expires_at INTEGER NOT NULL,"
        " used_at INTEGER,"
        " created_at INTEGER NOT NULL);"
        "CREATE TABLE IF NOT EXISTS est_certs ("
        " serial TEXT PRIMARY KEY NOT NULL,"
        " device_id TEXT NOT NULL,"
        " not_after INTEGER NOT NULL,"
        " issued_at INTEGER NOT NULL,"
        " via TEXT NOT NULL);";

    return sqlite3_exec(bk_db_handle(db), sql, NULL, NULL, NULL) == SQLITE_OK ? IOTSEC_OK
                                                                             : IOTSEC_E_IO;
}

int bk_est_token_put(bk_db *db, const char *id, const uint8_t hash[IOTSEC_EST_TOKEN_HASH_LEN],
                     int64_t expires_at, int64_t now)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if (sqlite3_prepare_v2(bk_db_handle(db),
                           "INSERT OR REPLACE INTO est_tokens (device_id, hash, expires_at, "
                           "used_at, created_at) VALUES (?1, ?2, ?3, NULL, ?4)",
                           -1, &st, NULL) != SQLITE_OK)
        return IOTSEC_E_IO;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, hash, IOTSEC_EST_TOKEN_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, expires_at);
    sqlite3_bind_int64(st, 4, now);
    rc = sqlite3_step(st) == SQLITE_DONE ? IOTSEC_OK : IOTSEC_E_IO;
    sqlite3_finalize(st);
    return rc;
}

int bk_est_token_get(bk_db *db, const char *id, size_t id_len,
                     uint8_t hash[IOTSEC_EST_TOKEN_HASH_LEN], int64_t *expires_at,
                     int64_t *used_at, int *found)
{
    sqlite3_stmt *st = NULL;
    int rc = IOTSEC_OK, step;

    *found = 0;
    if (sqlite3_prepare_v2(bk_db_handle(db),
                           "SELECT hash, expires_at, coalesce(used_at, 0) FROM est_tokens "
                           "WHERE device_id = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return IOTSEC_E_IO;
    sqlite3_bind_text(st, 1, id, (int)id_len, SQLITE_STATIC);
    step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        if (sqlite3_column_type(st, 0) != SQLITE_BLOB ||
            sqlite3_column_bytes(st, 0) != (int)IOTSEC_EST_TOKEN_HASH_LEN) {
            rc = IOTSEC_E_CORRUPT;
        } else {
            memcpy(hash, sqlite3_column_blob(st, 0), IOTSEC_EST_TOKEN_HASH_LEN);
            *expires_at = sqlite3_column_int64(st, 1);
            *used_at = sqlite3_column_int64(st, 2);
            *found = 1;
        }
    } else if (step != SQLITE_DONE) {
        rc = IOTSEC_E_IO;
    }
    sqlite3_finalize(st);
    return rc;
}

int bk_est_token_use(bk_db *db, const char *id, size_t id_len,
                     const uint8_t hash[IOTSEC_EST_TOKEN_HASH_LEN], int64_t now, int *won)
{
    sqlite3_stmt *st = NULL;
    int rc;

    *won = 0;
    if (sqlite3_prepare_v2(bk_db_handle(db),
                           "UPDATE est_tokens SET used_at = ?3 WHERE device_id = ?1 AND "
                           "hash = ?2 AND used_at IS NULL",
                           -1, &st, NULL) != SQLITE_OK)
        return IOTSEC_E_IO;
    sqlite3_bind_text(st, 1, id, (int)id_len, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, hash, IOTSEC_EST_TOKEN_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now > 0 ? now : 1);
    rc = sqlite3_step(st) == SQLITE_DONE ? IOTSEC_OK : IOTSEC_E_IO;
    if (rc == IOTSEC_OK)
        *won = sqlite3_changes(bk_db_handle(db)) == 1;
    sqlite3_finalize(st);
    return rc;
}

int bk_est_cert_record(bk_db *db, const char *serial_hex, const char *id, int64_t not_after,
                       int64_t now, const char *via)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if (sqlite3_prepare_v2(bk_db_handle(db),
                           "INSERT INTO est_certs (serial, device_id, not_after, issued_at, via) "
                           "VALUES (?1, ?2, ?3, ?4, ?5)",
                           -1, &st, NULL) != SQLITE_OK)
        return IOTSEC_E_IO;
    sqlite3_bind_text(st, 1, serial_hex, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, not_after);
    sqlite3_bind_int64(st, 4, now);
    sqlite3_bind_text(st, 5, via, -1, SQLITE_STATIC);
    rc = sqlite3_step(st) == SQLITE_DONE ? IOTSEC_OK : IOTSEC_E_IO;
    sqlite3_finalize(st);
    return rc;
}
