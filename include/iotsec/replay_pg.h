/*
 * libiotsec — the PostgreSQL replay store (libiotsec/store/postgres.c): the iotsec_replay_store
 * interface (replay_store.h) over libpq, both namespaces (frames v1 and the legacy EcoWatt
 * nonces), for a fleet served by any number of processes on any number of hosts that share
 * one database (docs/DESIGN.md §12). Requires libpq (Debian libpq-dev) and a PostgreSQL 10 or
 * later server; present when iotsec/config.h defines IOTSEC_HAVE_PG to 1. Not for firmware
 * builds. The SQLite store (replay_sqlite.h) has the same contract for one machine.
 *
 * Atomicity is the database's: check_and_commit locks the (device_id, kid) row
 * (SELECT ... FOR UPDATE in a READ COMMITTED transaction; a missing row is created with
 * INSERT ... ON CONFLICT DO NOTHING, and a lost creation race is followed by the lock), then
 * writes the new window. So among every connection to the database, whatever its process or
 * host, exactly one gets IOTSEC_OK for a given (device_id, kid, ctr), and a counter accepted
 * through one connection is a replay through every other once that commit is done. Nothing is
 * cached in the process: every check reads the database.
 *
 * Tables, in the connection's current schema (the first existing schema of its search_path;
 * `public` unless the connection string says otherwise, e.g.
 * `postgresql://host/db?options=-csearch_path%3Dfleet1` gives each fleet a schema of its own):
 *   iotsec_replay_meta    one row: application IOTSEC_REPLAY_PG_APPLICATION, schema_version;
 *   iotsec_replay_state   frames v1, the W given at open;
 *   iotsec_replay_ecowatt the legacy EcoWatt nonces, always W = 0;
 * the last two are (device_id bytea 1–64 bytes, kid smallint 0–255, state bytea — the 139-byte
 * form of iotsec_replay_encode —, PRIMARY KEY(device_id, kid)), as in the SQLite store. Other
 * tables of the schema (a server's own) are left alone.
 *
 * Errors of the operations, beyond those of replay_store.h: every failure of the database or
 * of the connection is IOTSEC_E_IO — connection lost, lock not obtained within the lock
 * timeout (IOTSEC_REPLAY_PG_LOCK_TIMEOUT_MS), deadlock, serialization failure, disk full,
 * permission denied; IOTSEC_E_CORRUPT when a state row does not decode (that device only,
 * never reset) or when the server says our tables or columns are missing or of another type
 * (they were changed after open). iotsec_replay_pg_sqlstate names the server's reason.
 *
 * Transactions and failures. begin/commit/rollback are BEGIN ISOLATION LEVEL READ COMMITTED /
 * COMMIT / ROLLBACK on the connection. check_and_commit outside a transaction is its own
 * transaction, durable when it returns IOTSEC_OK; when the server aborts it with a
 * serialization failure (SQLSTATE 40001) or a deadlock (40P01) it is run again, at most
 * IOTSEC_REPLAY_PG_RETRIES more times, then IOTSEC_E_IO. Inside a transaction nothing is
 * retried: a failed statement fails the whole transaction in PostgreSQL, so after an
 * IOTSEC_E_IO every further operation returns IOTSEC_E_IO until rollback (commit rolls it
 * back and returns IOTSEC_E_IO), and none of its counters or rows are stored; a caller may
 * run the whole transaction again when iotsec_replay_pg_sqlstate begins with "40". A REPLAY
 * or CORRUPT answer leaves the transaction usable. Like any client–server database, a
 * connection lost during COMMIT leaves the outcome unknown: commit then returns IOTSEC_E_IO
 * although the counters may have been stored — fail-closed (a resent frame is refused as a
 * replay), never a replay accepted.
 *
 * Durability: every commit waits for the server's WAL flush (synchronous_commit on; a
 * session whose default is `off` is raised to `on`, a stronger setting such as remote_apply
 * is kept), unless IOTSEC_REPLAY_PG_ASYNC_COMMIT. The server must run with fsync on.
 *
 * Threads and processes: one handle per thread; open it after fork, never use one handle in
 * two processes. Any number of handles, processes and hosts may share the database.
 */
#ifndef IOTSEC_REPLAY_PG_H
#define IOTSEC_REPLAY_PG_H

#include "iotsec/config.h"
#if !IOTSEC_HAVE_PG
#error "iotsec/replay_pg.h: this libiotsec build does not have the PostgreSQL store (libiotsec/store/postgres.c) (IOTSEC_HAVE_PG is 0 in iotsec/config.h)"
#endif

#include <stddef.h>
#include <stdint.h>

#include "iotsec/export.h"
#include "iotsec/replay_store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An open PostgreSQL replay store (opaque): one connection. */
typedef struct iotsec_replay_pg iotsec_replay_pg;
struct pg_conn; /* libpq's PGconn */

/* Flags of iotsec_replay_pg_open. */
#define IOTSEC_REPLAY_PG_ASYNC_COMMIT 0x1u /* SET synchronous_commit = off for the session:
                                              faster; a server crash may lose the last
                                              commits (replays of those frames would then be
                                              accepted) but never corrupts the database */

#define IOTSEC_REPLAY_PG_SCHEMA_VERSION 1 /* iotsec_replay_meta.schema_version */
#define IOTSEC_REPLAY_PG_APPLICATION "iotsec-replay" /* iotsec_replay_meta.application */
#define IOTSEC_REPLAY_PG_LOCK_TIMEOUT_MS 5000 /* the session's lock_timeout, set at open; change
                                                 it with SET lock_timeout on
                                                 iotsec_replay_pg_conn() */
#define IOTSEC_REPLAY_PG_RETRIES 3 /* re-runs of a check_and_commit that is its own transaction
                                      after a serialization failure or deadlock */
#define IOTSEC_REPLAY_PG_ERR_LEN 256 /* a message buffer of this size holds most messages of
                                        iotsec_replay_pg_open (longer ones are truncated) */

/* Connect to the database named by conninfo — a libpq connection URI
 * (postgresql://user@host:port/dbname?param=value, or a unix socket directory as
 * postgresql:///dbname?host=/path) or a "key=value ..." string; "" uses libpq's defaults and
 * PG* environment variables; for a remote server say sslmode=verify-full — and set up the
 * store; the handle goes to *out. The session gets lock_timeout =
 * IOTSEC_REPLAY_PG_LOCK_TIMEOUT_MS and synchronous_commit as said at the top. Then, in one
 * transaction holding an advisory lock (so processes opening one fresh database at once
 * serialize here, each waiting at most the lock timeout), the current schema is identified:
 *   - none of our three tables: fresh; the tables are created and iotsec_replay_meta gets
 *     (IOTSEC_REPLAY_PG_APPLICATION, IOTSEC_REPLAY_PG_SCHEMA_VERSION);
 *   - iotsec_replay_meta of our layout naming our application and version, with both state
 *     tables of our layout: ours, used as it is;
 *   - an older schema version of ours: migrated in that transaction (none exists yet:
 *     version 1 is the first);
 *   - anything else is refused, the database left exactly as it was.
 * Nothing is ever dropped, emptied or reset. Finally the statements are prepared (names
 * beginning "iotsec_replay_" are reserved on the connection). Connecting blocks; bound it
 * with connect_timeout=N (seconds) in conninfo.
 *
 * window is W, 0–1024 bits, for every (device, kid) of the frame v1 store (the legacy store
 * always has W = 0). Each row keeps the W it was written with; a row written with another W
 * (an earlier configuration, or another process opened with another W) is converted when
 * read, safely, as in the SQLite store: narrowing forgets the positions beyond the new W,
 * widening marks the added older positions as already seen, so no counter rejected before is
 * ever accepted after. Every process of a fleet should use one W.
 *
 * err: NULL, or err_cap bytes that receive, on failure, a one-line reason (libpq's or the
 * server's message, or which table was refused), NUL-terminated and truncated to fit ("" on
 * success).
 *
 * Errors (nothing is created or changed in a database that is refused):
 * IOTSEC_E_INVALID_ARG (out or conninfo NULL, window > 1024, unknown flag);
 * IOTSEC_E_IO (cannot connect or authenticate, the advisory lock not obtained in time, no
 * schema to create the tables in, permission denied, any other server error);
 * IOTSEC_E_UNSUPPORTED (a server older than PostgreSQL 10);
 * IOTSEC_E_CORRUPT (a schema of another application: iotsec_replay_meta or a state table
 * of another layout or kind, a state table without iotsec_replay_meta, another application
 * named in iotsec_replay_meta or not exactly one row there, or a temporary table hiding one
 * of ours); IOTSEC_E_BAD_VERSION (our application with a schema version this library has no
 * migration from, e.g. a newer one); IOTSEC_E_NO_MEMORY. */
IOTSEC_API IOTSEC_MUST_CHECK int iotsec_replay_pg_open(iotsec_replay_pg **out,
                                                       const char *conninfo, unsigned window,
                                                       unsigned flags, char *err,
                                                       size_t err_cap);

/* The interface handle of s (valid until iotsec_replay_pg_close): the frame v1 replay state,
 * table iotsec_replay_state, W as given to iotsec_replay_pg_open. NULL for s NULL. */
IOTSEC_API iotsec_replay_store *iotsec_replay_pg_store(iotsec_replay_pg *s);

/* The second interface handle of s, for the legacy EcoWatt profile (ecowatt.h,
 * iotsec_ecowatt_open_stored): table iotsec_replay_ecowatt, W = 0 whatever the window given
 * at open, so strict `nonce > last`. Same connection as iotsec_replay_pg_store(s): a
 * transaction begun on either handle is the one transaction of the connection, and covers
 * the caller's rows too. Valid until iotsec_replay_pg_close; NULL for s NULL. */
IOTSEC_API iotsec_replay_store *iotsec_replay_pg_ecowatt_store(iotsec_replay_pg *s);

/* The underlying connection (libpq's PGconn *), so a server can write its own rows (frames,
 * audit) in the same transaction: iotsec_replay_store_begin, check_and_commit, the caller's
 * statements on this connection, iotsec_replay_store_commit. check_and_commit also joins a
 * transaction the caller opened directly on the connection (it then neither begins nor
 * commits; READ COMMITTED is the level it is written for — at REPEATABLE READ or
 * SERIALIZABLE the server may refuse it with a serialization failure, IOTSEC_E_IO). The
 * caller must not close it, leave a command or COPY running when calling the store,
 * deallocate the store's prepared statements, or touch the three tables. Valid until
 * iotsec_replay_pg_close; NULL for s NULL. */
IOTSEC_API struct pg_conn *iotsec_replay_pg_conn(iotsec_replay_pg *s);

/* Reconnect after the connection was lost (PQstatus of iotsec_replay_pg_conn(s) is
 * CONNECTION_BAD; operations then return IOTSEC_E_IO): a new session with the same
 * parameters, the session settings of open and the statements prepared again; the schema is
 * not identified again. Whatever transaction the old session had is gone (the server rolled
 * it back), and so are the caller's prepared statements and settings. iotsec_replay_store_begin
 * does this by itself when it finds the connection lost. Errors: IOTSEC_E_INVALID_ARG (s
 * NULL), IOTSEC_E_IO (cannot reconnect, or a server error while setting up the session),
 * IOTSEC_E_CORRUPT (our tables are gone or changed). */
IOTSEC_API IOTSEC_MUST_CHECK int iotsec_replay_pg_reset(iotsec_replay_pg *s);

/* Why the last operation on s failed in the database: the 5-character SQLSTATE the server
 * reported (e.g. "40P01" deadlock, "40001" serialization failure, "55P03" lock timeout,
 * "25P02" a transaction already failed, "53100" disk full), "08006" when the connection was
 * lost, or "" when the last operation did not fail in the database (including its IOTSEC_OK,
 * IOTSEC_E_REPLAY and a state row that does not decode). Static "" for s NULL. The string
 * lives in s: valid until the next operation on s or iotsec_replay_pg_close. */
IOTSEC_API const char *iotsec_replay_pg_sqlstate(const iotsec_replay_pg *s);

/* Roll back a transaction still open, close the connection (PQfinish) and free s. NULL is
 * ignored. */
IOTSEC_API void iotsec_replay_pg_close(iotsec_replay_pg *s);

#ifdef __cplusplus
}
#endif

#endif
