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

#endif
