/*
 * iotsec-backend — inside the storage files only (db.c, db_admin.c): the SQLite connection
 * behind a bk_db. Every other file goes through the functions backend.h declares.
 */
#ifndef IOTSEC_BACKEND_DB_INTERNAL_H
#define IOTSEC_BACKEND_DB_INTERNAL_H

#include "backend.h"

struct sqlite3;

/* The connection the library's SQLite replay store opened (the same transactions). */
struct sqlite3 *bk_db_handle(bk_db *db);
/* db_floors.c: schema version 2 → 3 (the crl_floors table), inside the caller's
 * transaction. Errors: IOTSEC_E_IO (message in err). */
int bk_db_migrate_v3(struct sqlite3 *db, char *err, size_t cap);

#endif
