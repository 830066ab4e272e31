/*
 * libiotsec — the SQLite replay store (libiotsec/store/sqlite.c): the embedded default
 * implementation of the iotsec_replay_store interface (replay_store.h), one database file,
 * both namespaces (frames v1 and the legacy EcoWatt nonces). Requires SQLite (Debian
 * libsqlite3-dev); present when iotsec/config.h defines IOTSEC_HAVE_SQLITE to 1. Not for
 * firmware builds.
 */
#ifndef IOTSEC_REPLAY_SQLITE_H
#define IOTSEC_REPLAY_SQLITE_H

#include "iotsec/config.h"
#if !IOTSEC_HAVE_SQLITE
#error "iotsec/replay_sqlite.h: this libiotsec build does not have the SQLite store (libiotsec/store/sqlite.c) (IOTSEC_HAVE_SQLITE is 0 in iotsec/config.h)"
#endif

#include <stddef.h>
#include <stdint.h>

#include "iotsec/export.h"
#include "iotsec/replay_store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An open SQLite replay database (opaque). One handle per thread; several processes may open
 * the same file (WAL, BEGIN IMMEDIATE serializes writers). */
typedef struct iotsec_replay_sqlite iotsec_replay_sqlite;
struct sqlite3;

/* Flags of iotsec_replay_sqlite_open. */
#define IOTSEC_REPLAY_SQLITE_SYNC_NORMAL 0x1u /* PRAGMA synchronous=NORMAL instead of FULL:
                                                 faster; in WAL a power cut may lose the last
                                                 commits (replays of those frames would then
                                                 be accepted) but never corrupts the file */

#define IOTSEC_REPLAY_SQLITE_SCHEMA_VERSION 1 /* PRAGMA user_version of the database */
#define IOTSEC_REPLAY_SQLITE_APPLICATION_ID 0x494f5452 /* PRAGMA application_id, "IOTR" */
#define IOTSEC_REPLAY_SQLITE_BUSY_TIMEOUT_MS 5000 /* default; change with sqlite3_busy_timeout
                                                     on iotsec_replay_sqlite_db() */

/* Open (creating if missing) the replay database at path; the store handle goes to *out.
 * A missing file is created with mode 0600 (symbolic links refused), then the schema:
 * PRAGMA application_id = IOTSEC_REPLAY_SQLITE_APPLICATION_ID, user_version = 1, and tables
 * iotsec_replay_state (frames v1) and iotsec_replay_ecowatt (the legacy EcoWatt nonces), both
 * (device_id BLOB, kid INTEGER, state BLOB — the 139-byte form of iotsec_replay_encode —,
 * PRIMARY KEY(device_id, kid)). A database of ours made before iotsec_replay_ecowatt existed
 * gets that table (empty) when opened, after the checks below; nothing else of it changes,
 * and older library versions ignore the table. journal_mode=WAL, synchronous=FULL
 * (or NORMAL with IOTSEC_REPLAY_SQLITE_SYNC_NORMAL), busy timeout 5 s, trusted_schema off,
 * defensive mode on. An existing file is identified and checked (PRAGMA quick_check, cost
 * linear in the file size) with reads only, before anything is written to it. Several
 * processes may open (and create) the same file at once: lock contention during this setup
 * is retried for up to the busy timeout.
 *
 * window is W, 0–1024 bits, for every (device, kid) of the frame v1 store (the legacy store
 * of the same database always has W = 0). Each row keeps the W it was written
 * with; opening a database with another W converts a row the next time it is read, safely:
 * narrowing forgets the positions beyond the new W (those counters become "too old");
 * widening marks the added older positions as already seen. So no counter rejected before
 * the change is ever accepted after it.
 *
 * Errors (nothing is created or changed in a file that is refused): IOTSEC_E_INVALID_ARG
 * (NULL, window > 1024, unknown flag); IOTSEC_E_CORRUPT (not a SQLite file, damaged pages or
 * header, quick_check failure, or a SQLite database of another application — other
 * application_id, or tables but no identification, or our id without our table, or a
 * table iotsec_replay_ecowatt of another shape);
 * IOTSEC_E_BAD_VERSION (our application id with another schema version);
 * IOTSEC_E_IO (cannot open or create, symlink, lock not obtained in time, storage error);
 * IOTSEC_E_NO_MEMORY. Never resets or recreates replay state. */
IOTSEC_API IOTSEC_MUST_CHECK int iotsec_replay_sqlite_open(iotsec_replay_sqlite **out,
                                                           const char *path,
                                                           unsigned window, unsigned flags);

/* The interface handle of s (valid until iotsec_replay_sqlite_close): the frame v1 replay
 * state, table iotsec_replay_state, W as given to iotsec_replay_sqlite_open. */
IOTSEC_API iotsec_replay_store *iotsec_replay_sqlite_store(iotsec_replay_sqlite *s);

/* The second interface handle of s, for the legacy EcoWatt profile (ecowatt.h,
 * iotsec_ecowatt_open_stored): table iotsec_replay_ecowatt, W = 0 whatever the window given
 * at open, so strict `nonce > last`. Same connection as iotsec_replay_sqlite_store(s): a
 * transaction begun on either handle is the one transaction of the connection (begin on one
 * and commit on the other is the same as on one), and covers the caller's rows too. Valid
 * until iotsec_replay_sqlite_close; NULL for s NULL. */
IOTSEC_API iotsec_replay_store *iotsec_replay_sqlite_ecowatt_store(iotsec_replay_sqlite *s);

/* The underlying connection, so a server can write its own rows (frames, audit) in the same
 * transaction: iotsec_replay_store_begin, check_and_commit, the caller's statements on this
 * handle, iotsec_replay_store_commit. The caller must not close it, change journal_mode or
 * touch the iotsec_replay_state and iotsec_replay_ecowatt tables. check_and_commit also
 * joins a transaction the caller opened directly on the handle (it then neither begins nor
 * commits); use BEGIN IMMEDIATE for that, since a deferred transaction may fail to take the
 * write lock (IOTSEC_E_IO). */
IOTSEC_API struct sqlite3 *iotsec_replay_sqlite_db(iotsec_replay_sqlite *s);

/* Roll back a transaction still open, finalize statements, close the connection and free
 * s. NULL is ignored. */
IOTSEC_API void iotsec_replay_sqlite_close(iotsec_replay_sqlite *s);

#ifdef __cplusplus
}
#endif

#endif
