/*
 * iotsec-backend — shared declarations of the example mTLS backend (docs/DESIGN.md §10).
 *
 * The backend is thin: every security decision (frame authentication, replay window,
 * certificate identity and revocation, manifest signature, payload digest) is a libiotsec
 * call. This program moves bytes between libevent and the library, stores rows in SQLite and
 * maps library error codes to HTTP statuses.
 *
 * Storage is one SQLite file opened through the library's SQLite replay store
 * (replay_store.h), so an accepted frame, its new replay state and its audit row commit in
 * one transaction on one connection. The backend's own tables live next to the store's
 * table (see db.c for the schema, versioned in backend_meta).
 */
#ifndef IOTSEC_BACKEND_H
#define IOTSEC_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "iotsec/iotsec.h"
#include "iotsec/replay_sqlite.h"
#include "iotsec/revocation.h"

#define BK_SCHEMA_VERSION 3          /* backend_meta.schema_version (1 and 2 are migrated) */
#define BK_SECRET_LEN 32u            /* frame master secret, bytes */
#define BK_LEGACY_MAC_LEN 32u        /* EcoWatt raw MAC key, bytes */
#define BK_LEGACY_ENC_LEN 16u        /* EcoWatt raw AES-128 key, bytes */
#define BK_ID_MAX 64u                /* device id, bytes */
#define BK_PAYLOAD_MAX (256u << 20)  /* largest firmware payload publish-firmware stores */
#define BK_DETAIL_MAX 256u           /* audit detail, bytes with NUL */
#define BK_CHUNK (64u * 1024u)       /* payload chunk row, bytes (every chunk but the last) */
#define BK_STAGING_STALE 600         /* seconds: a staging payload untouched this long was
                                        left by an interrupted publish-firmware */

/* ---- storage (db.c) ---------------------------------------------------------------------- */

typedef struct bk_db bk_db;

/* Open (creating if missing) the database at path through the library's SQLite replay
 * store with replay window `window` (0–1024) and create or check the backend schema; a
 * database of schema version 1 (one blob per payload) is migrated to chunk rows, and one of
 * version 2 gets the crl_floors table (version 3), in one transaction. sync_normal selects PRAGMA synchronous=NORMAL instead of FULL. On error a
 * message goes to err. Errors: those of iotsec_replay_sqlite_open, IOTSEC_E_BAD_VERSION
 * (another backend schema version), IOTSEC_E_CORRUPT (a version-1 payload whose data
 * differs from its size: not migrated), IOTSEC_E_NO_MEMORY, IOTSEC_E_IO. */
int bk_db_open(bk_db **out, const char *path, unsigned window, int sync_normal, char *err,
               size_t err_cap);
void bk_db_close(bk_db *db);
/* SQLite's message for the last failure on the database's connection. */
const char *bk_db_errmsg(bk_db *db);
iotsec_replay_store *bk_db_store(bk_db *db);
/* The legacy EcoWatt profile's replay store of the same database (W = 0, same connection
 * and transactions as bk_db_store). */
iotsec_replay_store *bk_db_ecowatt_store(bk_db *db);

/* A registered device. */
typedef struct bk_device {
    int enabled;
    int legacy;                              /* EcoWatt profile allowed */
    int has_legacy_enc;                      /* legacy_enc is set */
    uint8_t legacy_mac[BK_LEGACY_MAC_LEN];
    uint8_t legacy_enc[BK_LEGACY_ENC_LEN];
} bk_device;

/* Look a device up. *found is 0 when it is not registered (dev all zero). Errors:
 * IOTSEC_E_IO, IOTSEC_E_CORRUPT (a key column of the wrong size; dev all zero). A record
 * that was filled holds the device's legacy keys: wipe it with bk_device_wipe when done. */
int bk_db_device(bk_db *db, const char *id, size_t id_len, bk_device *dev, int *found);
/* Wipe a device record (every byte, with the library's zeroize; NULL is ignored). */
void bk_device_wipe(bk_device *dev);
/* The frame master secret of (device, kid); *found 0 when there is none. */
int bk_db_device_key(bk_db *db, const char *id, size_t id_len, unsigned kid,
                     uint8_t secret[BK_SECRET_LEN], int *found);

/* Append an audit row (time = now, Unix seconds). identity may be NULL. */
int bk_db_audit(bk_db *db, int64_t now, const char *peer, const char *identity,
                const char *event, const char *detail);

/* One accepted telemetry frame. */
typedef struct bk_telemetry {
    int64_t received;       /* Unix seconds */
    const char *device_id;
    int kid;                /* −1 for the legacy profile (no kid) */
    uint64_t ctr;           /* frame counter / legacy nonce */
    const char *format;     /* "binary", "json", "ecowatt" */
    int encrypted;
    const uint8_t *payload; /* plaintext */
    size_t payload_len;
    const char *peer;
} bk_telemetry;
int bk_db_telemetry(bk_db *db, const bk_telemetry *t);

/* Transactions on the store (BEGIN IMMEDIATE … COMMIT), see replay_store.h. */
int bk_db_begin(bk_db *db);
int bk_db_commit(bk_db *db);
void bk_db_rollback(bk_db *db);
/* After a failure inside a transaction: 1 when the database aborted it as a deadlock or a
 * serialization failure (PostgreSQL SQLSTATE class 40), so that running the whole
 * transaction again may succeed; 0 otherwise (always on SQLite). Forgets the failure. */
int bk_db_retryable(bk_db *db);

/* The current manifest of a device class (highest security counter, then latest published)
 * in a malloc'd buffer. *found 0 when the class has none. */
int bk_db_manifest(bk_db *db, const char *cls, size_t cls_len, uint8_t **buf, size_t *len,
                   int *found);
/* A published payload: its row id and size in bytes. Published payloads never change. */
typedef struct bk_payload {
    int64_t id;
    uint64_t size;
} bk_payload;
/* The published (ready) payload with this digest; *found 0 when there is none — a payload
 * still being staged by publish-firmware is not found. */
int bk_db_payload_find(bk_db *db, const uint8_t digest[32], bk_payload *p, int *found);
/* Read payload bytes [off, off + len) into out from the chunk rows that hold them.
 * Errors: IOTSEC_E_INVALID_ARG (outside the payload), IOTSEC_E_CORRUPT (a chunk missing, out
 * of order, not a blob or not of its size), IOTSEC_E_IO. */
int bk_db_payload_read(bk_db *db, const bk_payload *p, uint64_t off, uint8_t *out,
                       size_t len);

/* Staging (publish-firmware): a payload is written chunk by chunk into a row that is not
 * served, each chunk in its own short transaction, then made ready in one transaction.
 * Start: a staging row for digest, size bytes (one transaction); *id its id (never reused). */
int bk_db_stage_begin(bk_db *db, const uint8_t digest[32], uint64_t size, int64_t now,
                      int64_t *id);
/* Write chunk idx (len 1 … BK_CHUNK bytes) of staging row id and set its touched time to
 * now, in one transaction. *alive 0 (nothing written) when the row is gone or no longer
 * staging. Errors: IOTSEC_E_INVALID_ARG, IOTSEC_E_IO (including a chunk written twice). */
int bk_db_stage_chunk(bk_db *db, int64_t id, uint64_t idx, const uint8_t *data, size_t len,
                      int64_t now, int *alive);
/* Inside the caller's transaction: make staging row id ready if it holds exactly chunks
 * 0 … nchunks − 1; *done 0 (nothing changed) otherwise. The caller makes sure no ready
 * payload has the same digest. Errors: IOTSEC_E_INVALID_ARG, IOTSEC_E_IO. */
int bk_db_stage_ready(bk_db *db, int64_t id, uint64_t nchunks, int *done);
/* Delete staging row id and its chunks, a few chunks per transaction (never a ready row). */
int bk_db_stage_drop(bk_db *db, int64_t id);
/* Drop every staging row not touched since now − BK_STAGING_STALE (left by an interrupted
 * publish-firmware); *dropped how many. */
int bk_db_stage_prune(bk_db *db, int64_t now, unsigned *dropped);

/* ---- CRL floors (db_floors.c) ------------------------------------------------------------ */

/* The stored CRL floors, one per issuer, into out[0..cap); *n how many. Errors (*n is then
 * 0): IOTSEC_E_BUFFER_TOO_SMALL (more rows than cap), IOTSEC_E_CORRUPT (a column of the
 * wrong size or type), IOTSEC_E_IO. */
int bk_db_crl_floors(bk_db *db, iotsec_crl_floor *out, size_t cap, size_t *n);
/* Store floors[0..n) (one row per issuer, replacing the issuer's row) in one transaction,
 * with updated = now; rows already equal are left alone. *changed: how many rows were
 * written. The caller stores only floors at least as new as those stored (the revocation
 * holder's, after the stored ones were set on it). */
int bk_db_crl_floors_put(bk_db *db, const iotsec_crl_floor *floors, size_t n, int64_t now,
                         unsigned *changed);

/* ---- storage of the admin subcommands (db_admin.c) ------------------------------------ */

/* Transactions of the admin subcommands: BEGIN IMMEDIATE (the write lock, waiting up to the
 * busy timeout), COMMIT, ROLLBACK. */
int bk_db_tx_begin(bk_db *db);
int bk_db_tx_commit(bk_db *db);
void bk_db_tx_rollback(bk_db *db);
/* publish-firmware's staging: on, synchronous=NORMAL and a WAL checkpoint every 256 pages
 * (the staging commits need no sync: the publishing commit syncs the whole log); off,
 * synchronous=FULL again. */
int bk_db_staging_mode(bk_db *db, int on);

/* Whether device id (NUL-terminated) is registered. */
int bk_db_device_exists(bk_db *db, const char *id, int *exists);
/* Register device id, enabled; mac (BK_LEGACY_MAC_LEN bytes) and enc (BK_LEGACY_ENC_LEN)
 * may be NULL (no legacy profile, no legacy encryption). */
int bk_db_device_insert(bk_db *db, const char *id, const uint8_t *mac, const uint8_t *enc);
/* Set the legacy EcoWatt keys of a registered device (enc may be NULL). */
int bk_db_device_set_legacy(bk_db *db, const char *id, const uint8_t *mac, const uint8_t *enc);
/* Add key generation kid (0–255) of device id; *taken 1 (nothing written, not an error)
 * when the device already has one. */
int bk_db_device_key_add(bk_db *db, const char *id, unsigned kid,
                         const uint8_t secret[BK_SECRET_LEN], int *taken);
/* Disable device id; *found 0 when it is not registered. */
int bk_db_device_disable(bk_db *db, const char *id, int *found);
/* The firmware row of a verified manifest (published now). */
int bk_db_firmware_add(bk_db *db, const uint8_t *cls, size_t cls_len, const uint8_t *version,
                       size_t version_len, uint64_t security_counter, const uint8_t *manifest,
                       size_t manifest_len, const uint8_t digest[32]);

/* Listings (list): rows read one at a time; columns numbered from 0 as admin.c prints them. */
enum bk_listing { BK_LIST_DEVICES, BK_LIST_AUDIT, BK_LIST_TELEMETRY, BK_LIST_FIRMWARE,
                  BK_LIST_PAYLOADS, BK_LIST_CRL_FLOORS };
typedef struct bk_rows bk_rows;
/* Start a listing; limit bounds the audit and telemetry listings (their last rows).
 * Errors: IOTSEC_E_IO, IOTSEC_E_NO_MEMORY, IOTSEC_E_INVALID_ARG. */
int bk_db_list_open(bk_db *db, enum bk_listing what, uint64_t limit, bk_rows **out);
/* The next row: 1, or 0 after the last one, or IOTSEC_E_IO. */
int bk_rows_next(bk_rows *r);
/* The current row's column col, with SQLite's conversions: its size in bytes (call it
 * first), whether it is NULL, as text, as an integer, as a blob. Valid until the next
 * bk_rows_next. */
int bk_rows_bytes(bk_rows *r, int col);
int bk_rows_is_null(bk_rows *r, int col);
const unsigned char *bk_rows_text(bk_rows *r, int col);
int bk_rows_int(bk_rows *r, int col);
const unsigned char *bk_rows_blob(bk_rows *r, int col);
void bk_rows_close(bk_rows *r);

/* ---- helpers (util.c) -------------------------------------------------------------------- */

/* Wall clock, Unix seconds. */
int64_t bk_now(void);
/* Write s as the body of a JSON string (no quotes) into out (NUL-terminated, truncated to
 * out_cap − 1 bytes at a character boundary). Control characters and bytes ≥ 0x80 are
 * escaped as \u00XX, so the output is ASCII whatever the input. Returns out. */
char *bk_json_escape(const char *s, char *out, size_t out_cap);
/* The stable lowercase code of a library error for JSON answers and audit rows: the
 * IOTSEC_E_* name without the prefix, in lower case ("bad_mac", "replay"). */
const char *bk_error_code(int rc, char *buf, size_t cap);
/* The HTTP status for a library error returned while handling a request. */
int bk_http_status(int rc);

/* ---- subcommands (main.c, admin.c, serve.c) -------------------------------------------- */

int bk_cmd_serve(int argc, char **argv);
int bk_cmd_add_device(int argc, char **argv);
int bk_cmd_disable_device(int argc, char **argv);
int bk_cmd_publish_firmware(int argc, char **argv);
int bk_cmd_list(int argc, char **argv);

/* Print "iotsec-backend: <message>" on stderr; returns code. */
int bk_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Exit codes (as the iotsec CLI, docs/DESIGN.md §9). */
enum { BK_EXIT_OK = 0, BK_EXIT_REJECTED = 1, BK_EXIT_USAGE = 2, BK_EXIT_IO = 3 };

#endif
