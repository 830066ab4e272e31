/*
 * iotsec-backend — inside the storage files only (db.c, db_admin.c, db_floors.c, db_pg.c):
 * the engine behind a bk_db. Every other file goes through the functions backend.h declares.
 *
 * bk_db_open selects the engine: an SQLite file (db.c, db_admin.c, db_floors.c), or a
 * PostgreSQL database when the path is a postgresql:// or postgres:// URI (db_pg.c). Each
 * bk_db_* function of the SQLite files first hands a PostgreSQL bk_db to its bk_pg_*
 * counterpart (BK_PG_DISPATCH), so no sqlite3_ call ever sees a PostgreSQL handle and no
 * PQ call is made outside db_pg.c.
 */
#ifndef IOTSEC_BACKEND_DB_INTERNAL_H
#define IOTSEC_BACKEND_DB_INTERNAL_H

#include "backend.h"

struct sqlite3;
struct bk_pg;
struct bk_pg_rows;

/* The connection the library's SQLite replay store opened (the same transactions); NULL on
 * PostgreSQL. */
struct sqlite3 *bk_db_handle(bk_db *db);
/* The PostgreSQL side of db, or NULL on SQLite. */
struct bk_pg *bk_db_pg(bk_db *db);
/* db_floors.c: schema version 2 → 3 (the crl_floors table), inside the caller's
 * transaction. Errors: IOTSEC_E_IO (message in err). */
int bk_db_migrate_v3(struct sqlite3 *db, char *err, size_t cap);

/* Whether path names a PostgreSQL database (postgresql:// or postgres://). */
int bk_db_is_pg_uri(const char *path);

#if IOTSEC_HAVE_PG
#define BK_PG_DISPATCH(db, call)                                                          \
    do {                                                                                  \
        struct bk_pg *pg_ = bk_db_pg(db);                                                 \
        if (pg_ != NULL)                                                                  \
            return call;                                                                  \
    } while (0)
#else
#define BK_PG_DISPATCH(db, call) ((void)0)
#endif

/* db_pg.c: the PostgreSQL engine, the operations of backend.h with the same contracts
 * (pg_ is the engine's handle in BK_PG_DISPATCH calls). async_commit: the session's
 * synchronous_commit off (--sync normal). Without libpq (IOTSEC_HAVE_PG 0) only bk_pg_open
 * exists and refuses with IOTSEC_E_UNSUPPORTED. */
int bk_pg_open(struct bk_pg **out, const char *uri, unsigned window, int async_commit,
               char *err, size_t cap);
void bk_pg_close(struct bk_pg *g);
const char *bk_pg_errmsg(struct bk_pg *g);
iotsec_replay_store *bk_pg_store(struct bk_pg *g);
iotsec_replay_store *bk_pg_ecowatt_store(struct bk_pg *g);
/* The SQLSTATE of the last failure of the replay store's operations ("" if none). */
const char *bk_pg_sqlstate(struct bk_pg *g);
/* bk_db_retryable: our last failed statement or the replay store's last operation failed
 * with SQLSTATE class 40; forgets our statement's SQLSTATE. */
int bk_pg_retryable(struct bk_pg *g);
int bk_pg_device(struct bk_pg *g, const char *id, size_t id_len, bk_device *dev, int *found);
int bk_pg_device_key(struct bk_pg *g, const char *id, size_t id_len, unsigned kid,
                     uint8_t secret[BK_SECRET_LEN], int *found);
int bk_pg_audit(struct bk_pg *g, int64_t now, const char *peer, const char *identity,
                const char *event, const char *detail);
int bk_pg_telemetry(struct bk_pg *g, const bk_telemetry *t);
/* 0 SAVEPOINT, 1 RELEASE, 2 ROLLBACK TO (savepoint bk_frame) */
int bk_pg_savepoint(struct bk_pg *g, int op);
int bk_pg_manifest(struct bk_pg *g, const char *cls, size_t cls_len, uint8_t **buf,
                   size_t *len, int *found);
int bk_pg_payload_find(struct bk_pg *g, const uint8_t digest[32], bk_payload *p, int *found);
int bk_pg_payload_read(struct bk_pg *g, const bk_payload *p, uint64_t off, uint8_t *out,
                       size_t len);
int bk_pg_stage_begin(struct bk_pg *g, const uint8_t digest[32], uint64_t size, int64_t now,
                      int64_t *id);
int bk_pg_stage_chunk(struct bk_pg *g, int64_t id, uint64_t idx, const uint8_t *data,
                      size_t len, int64_t now, int *alive);
int bk_pg_stage_drop(struct bk_pg *g, int64_t id);
int bk_pg_stage_ready(struct bk_pg *g, int64_t id, uint64_t nchunks, int *done);
int bk_pg_stage_prune(struct bk_pg *g, int64_t now, unsigned *dropped);
int bk_pg_crl_floors(struct bk_pg *g, iotsec_crl_floor *out, size_t cap, size_t *n);
int bk_pg_crl_floors_put(struct bk_pg *g, const iotsec_crl_floor *floors, size_t n,
                         int64_t now, unsigned *changed);
/* admin transactions: 0 BEGIN (and the admin advisory lock), 1 COMMIT, 2 ROLLBACK */
int bk_pg_tx(struct bk_pg *g, int op);
int bk_pg_staging_mode(struct bk_pg *g, int on);
int bk_pg_device_exists(struct bk_pg *g, const char *id, int *exists);
int bk_pg_device_insert(struct bk_pg *g, const char *id, const uint8_t *mac,
                        const uint8_t *enc);
int bk_pg_device_set_legacy(struct bk_pg *g, const char *id, const uint8_t *mac,
                            const uint8_t *enc);
int bk_pg_device_key_add(struct bk_pg *g, const char *id, unsigned kid,
                         const uint8_t secret[BK_SECRET_LEN], int *taken);
int bk_pg_device_disable(struct bk_pg *g, const char *id, int *found);
int bk_pg_firmware_add(struct bk_pg *g, const uint8_t *cls, size_t cls_len,
                       const uint8_t *version, size_t version_len, uint64_t security_counter,
                       const uint8_t *manifest, size_t manifest_len, const uint8_t digest[32]);
int bk_pg_list_open(struct bk_pg *g, enum bk_listing what, uint64_t limit,
                    struct bk_pg_rows **out);
int bk_pg_rows_next(struct bk_pg_rows *r);
int bk_pg_rows_bytes(struct bk_pg_rows *r, int col);
int bk_pg_rows_is_null(struct bk_pg_rows *r, int col);
/* text, integer (as decimal text) and bytea columns alike: the raw bytes, NUL-terminated */
const unsigned char *bk_pg_rows_value(struct bk_pg_rows *r, int col);
void bk_pg_rows_close(struct bk_pg_rows *r);

#endif
