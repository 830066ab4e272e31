/*
 * iotsec-backend — enrollment (EST, RFC 7030 subset; docs/DESIGN.md §14): the declarations
 * shared by est.c (the serve side), db_est.c (its tables) and admin.c (bootstrap tokens at
 * add-device). Not part of any public interface.
 */
#ifndef IOTSEC_BACKEND_EST_SERVER_H
#define IOTSEC_BACKEND_EST_SERVER_H

#include "server.h"

#include "iotsec/est.h"

#define EST_TOKEN_TTL_DEFAULT 86400u /* seconds a bootstrap token lasts (add-device) */
#define EST_DAYS_DEFAULT 365u        /* days an enrolled certificate lasts (serve) */

/* ---- db_est.c: tables est_tokens and est_certs (created when missing) ------------------- */

/* Create the tables if missing. */
int bk_est_schema(bk_db *db);
/* The bootstrap token of device id: its hash, expiry; a new one replaces the previous. */
int bk_est_token_put(bk_db *db, const char *id, const uint8_t hash[IOTSEC_EST_TOKEN_HASH_LEN],
                     int64_t expires_at, int64_t now);
/* The token of device id: *found 0 when it has none; *used_at 0 when unused. */
int bk_est_token_get(bk_db *db, const char *id, size_t id_len,
                     uint8_t hash[IOTSEC_EST_TOKEN_HASH_LEN], int64_t *expires_at,
                     int64_t *used_at, int *found);
/* Mark the token used at now if it is still unused with this hash: *won 1 for the one
 * request that did (single use under concurrency). */
int bk_est_token_use(bk_db *db, const char *id, size_t id_len,
                     const uint8_t hash[IOTSEC_EST_TOKEN_HASH_LEN], int64_t now, int *won);
/* Record an enrolled certificate. */
int bk_est_cert_record(bk_db *db, const char *serial_hex, const char *id, int64_t not_after,
                       int64_t now, const char *via);

/* ---- est.c: the serve side -------------------------------------------------------------- */

/* Parse one of est.c's serve options (--est-ca-dir, --est-days): 1 when o was one (*rc set),
 * 0 otherwise. */
int est_serve_option(struct config *c, const char *o, const char *val, int *rc);
/* Load the issuing CA (--est-ca-dir) and create the tables. BK_EXIT_* (message printed). */
int est_setup(struct server *s);
void est_free(struct server *s);
/* Is enrollment on (then clients may connect without a certificate, to enroll only)? */
int est_enabled(const struct server *s);
/* Is path an EST path (/.well-known/est/...)? */
int est_path(const char *path);
/* Answer an EST request (any connection; anonymous ones reach only this). */
void est_dispatch(struct request *q, const char *path, const char *query);

#endif
