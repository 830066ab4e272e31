/*
 * iotsec-backend — SQLite storage of the CRL floors (backend.h; used by crlfloor.c) and the
 * migration of the backend schema from version 2 to 3 that adds their table:
 *
 *   crl_floors(issuer, number, this_update, digest, updated)
 *
 * One row per CRL issuer (issuer: SHA-256 of the DER of its Name, the key of
 * iotsec_crl_floor): the newest CRL the server ever had in force for it — its cRLNumber (20
 * bytes big-endian, NULL when the CRL has none), thisUpdate (Unix seconds), the SHA-256 of
 * its DER — and when the row last changed. The server restores them before it serves, so a
 * restart does not forget which CRL was the newest (docs/DESIGN.md §7.4, §10.4). The
 * library decides which floor is newer; this file only stores what it is given. (The table is
 * created only if missing: a database whose version was set back by hand keeps its rows.)
 *
 * Functions return IOTSEC_OK or IOTSEC_E_IO (SQLite failure; bk_db_errmsg says why), and
 * the further codes their declarations give.
 */
#include "backend.h"
#include "db_internal.h"

#include <sqlite3.h>
#include <string.h>

#define FLOORS_TABLE_SQL                                                                  \
    "CREATE TABLE IF NOT EXISTS crl_floors("                                             \
    " issuer BLOB PRIMARY KEY NOT NULL CHECK (length(issuer) = 32),"                     \
    " number BLOB CHECK (number IS NULL OR length(number) = 20),"                        \
    " this_update INTEGER NOT NULL,"                                                     \
    " digest BLOB NOT NULL CHECK (length(digest) = 32),"                                 \
    " updated INTEGER NOT NULL);"

int bk_db_migrate_v3(struct sqlite3 *db, char *err, size_t cap)
{
    char *msg = NULL;

    if (sqlite3_exec(db,
                     FLOORS_TABLE_SQL
                     "UPDATE backend_meta SET value = 3 WHERE key = 'schema_version';",
                     NULL, NULL, &msg) != SQLITE_OK) {
        if (err != NULL && cap > 0)
            snprintf(err, cap, "migrating to schema version 3 (crl_floors): %s",
                     msg != NULL ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return IOTSEC_E_IO;
    }
    return IOTSEC_OK;
}

/* Copy blob column col of exactly len bytes into out: 1 copied, 0 NULL, −1 another size. */
static int column_fixed(sqlite3_stmt *st, int col, uint8_t *out, size_t len)
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

int bk_db_crl_floors(bk_db *db, iotsec_crl_floor *out, size_t cap, size_t *n)
{
    sqlite3_stmt *st = NULL;
    int rc, ret = IOTSEC_OK;

    BK_PG_DISPATCH(db, bk_pg_crl_floors(pg_, out, cap, n));
    *n = 0;
    if (sqlite3_prepare_v2(bk_db_handle(db),
                           "SELECT issuer, number, this_update, digest FROM crl_floors"
                           " ORDER BY issuer",
                           -1, &st, NULL) != SQLITE_OK)
        return IOTSEC_E_IO;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        iotsec_crl_floor f;
        int num;

        if (*n == cap) {
            ret = IOTSEC_E_BUFFER_TOO_SMALL;
            break;
        }
        memset(&f, 0, sizeof f);
        num = column_fixed(st, 1, f.number, sizeof f.number);
        if (column_fixed(st, 0, f.issuer, sizeof f.issuer) != 1 || num < 0 ||
            column_fixed(st, 3, f.digest, sizeof f.digest) != 1 ||
            sqlite3_column_type(st, 2) != SQLITE_INTEGER) {
            ret = IOTSEC_E_CORRUPT;
            break;
        }
        f.has_number = num;
        f.this_update = sqlite3_column_int64(st, 2);
        out[(*n)++] = f;
    }
    if (ret == IOTSEC_OK && rc != SQLITE_DONE)
        ret = IOTSEC_E_IO;
    sqlite3_finalize(st);
    if (ret != IOTSEC_OK)
        *n = 0;
    return ret;
}

int bk_db_crl_floors_put(bk_db *db, const iotsec_crl_floor *floors, size_t n, int64_t now,
                         unsigned *changed)
{
    sqlite3 *h = bk_db_handle(db);
    sqlite3_stmt *st = NULL;
    size_t i;
    int ret = IOTSEC_E_IO;

    BK_PG_DISPATCH(db, bk_pg_crl_floors_put(pg_, floors, n, now, changed));
    *changed = 0;
    if (sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return IOTSEC_E_IO;
    /* a row that is already the same is not written (nor its updated time) */
    if (sqlite3_prepare_v2(h,
                           "INSERT INTO crl_floors(issuer, number, this_update, digest, updated)"
                           " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(issuer) DO UPDATE SET"
                           " number = excluded.number, this_update = excluded.this_update,"
                           " digest = excluded.digest, updated = excluded.updated"
                           " WHERE crl_floors.number IS NOT excluded.number"
                           " OR crl_floors.this_update <> excluded.this_update"
                           " OR crl_floors.digest <> excluded.digest",
                           -1, &st, NULL) != SQLITE_OK)
        goto out;
    for (i = 0; i < n; i++) {
        const iotsec_crl_floor *f = &floors[i];

        sqlite3_reset(st);
        sqlite3_bind_blob(st, 1, f->issuer, (int)sizeof f->issuer, SQLITE_STATIC);
        if (f->has_number)
            sqlite3_bind_blob(st, 2, f->number, (int)sizeof f->number, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 2);
        sqlite3_bind_int64(st, 3, f->this_update);
        sqlite3_bind_blob(st, 4, f->digest, (int)sizeof f->digest, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, now);
        if (sqlite3_step(st) != SQLITE_DONE)
            goto out;
        *changed += sqlite3_changes(h) > 0 ? 1u : 0u;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_exec(h, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
        return IOTSEC_OK;
out:
    sqlite3_finalize(st);
    sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
    *changed = 0;
    return ret;
}
