/*
 * libiotsec — receiver replay state store (docs/DESIGN.md §5): one replay window (replay.h) per
 * (device id, kid), behind an interface whose one essential operation is atomic
 * check-and-commit, so the state can live in memory, in SQLite (the embedded default, replay_sqlite.h)
 * or in a shared engine when several server instances serve one fleet.
 *
 * Order of use (docs/DESIGN.md §3): parse → verify the frame's tag → check_and_commit(device,
 * kid, ctr) → act on the frame. Never call check_and_commit for a frame whose tag did not
 * verify: a forged counter must not move the window.
 *
 * Transactions: a server that stores the frame must store it together with the new replay
 * state (docs/DESIGN.md §10), so the interface has a transaction hook:
 *
 *     iotsec_replay_store_begin(s);                 // SQLite: BEGIN IMMEDIATE
 *     rc = iotsec_replay_store_check_and_commit(s, id, id_len, kid, ctr);
 *     if (rc == IOTSEC_OK) rc = store_the_frame(...);   // same transaction (SQLite handle)
 *     if (rc == IOTSEC_OK) rc = iotsec_replay_store_commit(s);   // durable here
 *     else iotsec_replay_store_rollback(s);         // undoes the check_and_commit too
 *
 * Outside a transaction, check_and_commit is its own transaction: durable when it returns
 * IOTSEC_OK. Inside one, its effect is visible to later calls in the same transaction and
 * becomes durable at commit (or vanishes at rollback). A counter accepted in a transaction
 * that is then rolled back was not accepted.
 *
 * iotsec_replay_store_check is a read-only peek (same answer as check_and_commit would give,
 * nothing written). It is NOT a substitute for check_and_commit: between a peek and a later
 * commit another writer may accept the same counter. Use it to refuse replays early, e.g.
 * before expensive work, then still call check_and_commit.
 *
 * Arguments common to the operations: device_id is id_len bytes (1–64, compared as bytes;
 * the frame parser enforces the character set), kid is the key generation (0–255), ctr the
 * frame counter. Counter 0 is never valid (IOTSEC_E_REPLAY).
 *
 * One store has one window W for every (device, kid); iotsec_replay_store_window reports it.
 *
 * The legacy EcoWatt profile (ecowatt.h) keeps its nonces in a store of its own, never in
 * the frame v1 store: its rule is strict `nonce > last` (W = 0, which
 * iotsec_ecowatt_open_stored checks through iotsec_replay_store_window), and a device's
 * legacy nonce sequence is not the counter of any of its frame v1 key generations. The
 * legacy store keys a device's one nonce sequence as (device_id, IOTSEC_ECOWATT_REPLAY_KID
 * = 0). Where it lives:
 *   SQLite: every replay database holds both namespaces, in two tables —
 *     iotsec_replay_sqlite_store(s) (frames v1, the W given at open) and
 *     iotsec_replay_sqlite_ecowatt_store(s) (legacy, always W = 0) — on the same
 *     connection, so one transaction covers both and the caller's rows;
 *   PostgreSQL (replay_pg.h): the same two tables, iotsec_replay_pg_store(s) and
 *     iotsec_replay_pg_ecowatt_store(s), on one connection likewise;
 *   in memory: a second iotsec_replay_mem made with window 0.
 * Handing the frame v1 store to the legacy profile is refused when its W ≠ 0; were a W = 0
 * frame store shared anyway, the two sequences of a device would become one strict
 * sequence: fail-closed (frames refused, never a replay accepted), but do not.
 */
#ifndef IOTSEC_REPLAY_STORE_H
#define IOTSEC_REPLAY_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "iotsec/export.h"
#include "iotsec/replay.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IOTSEC_REPLAY_STORE_MAX_ID 64u /* longest device id, bytes (bindings-spec/SPEC.md §1.2) */

/* ---- the interface ---------------------------------------------------------------------- */

/* Operations of one store implementation (a const table, BearSSL-style). Each returns
 * IOTSEC_OK or a negative IOTSEC_E_* code with the meaning given for the wrappers below; the
 * wrappers validate arguments before calling them. A third-party store (e.g. Redis with an
 * atomic Lua script) implements these six functions. `window` (last, so a table written
 * before it existed leaves it NULL) writes the store's W, 0–1024, without I/O; a store
 * without it is refused wherever W matters (iotsec_ecowatt_open_stored). */
typedef struct iotsec_replay_store_ops {
    int (*check)(void *ctx, const uint8_t *device_id, size_t id_len, uint8_t kid,
                 uint64_t ctr);
    int (*check_and_commit)(void *ctx, const uint8_t *device_id, size_t id_len, uint8_t kid,
                            uint64_t ctr);
    int (*begin)(void *ctx);
    int (*commit)(void *ctx);
    int (*rollback)(void *ctx);
    int (*window)(void *ctx, unsigned *window);
} iotsec_replay_store_ops;

/* A store handle: an operation table and the implementation's context. */
typedef struct iotsec_replay_store {
    const iotsec_replay_store_ops *ops;
    void *ctx;
} iotsec_replay_store;

/* Read-only: would ctr be accepted now for (device_id, kid)? Returns IOTSEC_OK or
 * IOTSEC_E_REPLAY (counter 0, seen, or W or more below the highest). Errors:
 * IOTSEC_E_INVALID_ARG (NULL, id_len not 1–64), IOTSEC_E_CORRUPT (this device's persisted
 * state is damaged), IOTSEC_E_IO, IOTSEC_E_NO_MEMORY (implementation-specific). */
IOTSEC_API IOTSEC_MUST_CHECK int iotsec_replay_store_check(iotsec_replay_store *s,
                                                           const uint8_t *device_id,
                                                           size_t id_len, uint8_t kid,
                                                           uint64_t ctr);

/* Atomically: if ctr is fresh for (device_id, kid), record it and return IOTSEC_OK; else
 * return IOTSEC_E_REPLAY and change nothing. Among every caller sharing the store (threads,
 * processes), exactly one gets IOTSEC_OK for a given (device_id, kid, ctr). Errors (nothing
 * recorded): IOTSEC_E_INVALID_ARG (NULL, id_len not 1–64), IOTSEC_E_CORRUPT (this device's
 * persisted state is damaged: refused, never reset), IOTSEC_E_IO (storage failure, lock not
 * obtained in time), IOTSEC_E_NO_MEMORY (in-memory table or transaction journal full; no
 * state is ever evicted). */
IOTSEC_API IOTSEC_MUST_CHECK int iotsec_replay_store_check_and_commit(iotsec_replay_store *s,
                                                                      const uint8_t *device_id,
                                                                      size_t id_len,
                                                                      uint8_t kid,
                                                                      uint64_t ctr);

/* Start a transaction (see top). Errors: IOTSEC_E_INVALID_ARG (NULL), IOTSEC_E_STATE (one
 * is already open), IOTSEC_E_IO (write lock not obtained in time, storage failure),
 * IOTSEC_E_UNSUPPORTED (an in-memory store made without a journal). */
IOTSEC_API IOTSEC_MUST_CHECK int iotsec_replay_store_begin(iotsec_replay_store *s);

/* Make the open transaction's effects durable. Errors: IOTSEC_E_INVALID_ARG,
 * IOTSEC_E_STATE (no transaction open), IOTSEC_E_IO (the commit failed: the transaction is
 * rolled back and none of its counters were accepted). */
IOTSEC_API IOTSEC_MUST_CHECK int iotsec_replay_store_commit(iotsec_replay_store *s);

/* Undo the open transaction (every check_and_commit in it). Errors: IOTSEC_E_INVALID_ARG,
 * IOTSEC_E_STATE (no transaction open), IOTSEC_E_IO. */
IOTSEC_API int iotsec_replay_store_rollback(iotsec_replay_store *s);

/* The store's replay window W in bits, 0–1024 (0: strict, only ctr > highest), into
 * *window; the same for every (device, kid) of the store. No I/O. Errors:
 * IOTSEC_E_INVALID_ARG (NULL s, ops or window), IOTSEC_E_UNSUPPORTED (the store's table has
 * no window operation), or the error a third-party operation returns (e.g. IOTSEC_E_IO; the
 * library's stores never fail here). On error *window is not written. */
IOTSEC_API IOTSEC_MUST_CHECK int iotsec_replay_store_window(iotsec_replay_store *s,
                                                            unsigned *window);

/* ---- in-memory store (libiotsec/core/replay_store_mem.c: no allocation) ------------------ */

/* One (device id, kid) state; the caller provides an array of these (static memory is
 * fine). Contents are private to the store. */
typedef struct iotsec_replay_mem_entry {
    iotsec_replay_window window;
    uint8_t device_id[IOTSEC_REPLAY_STORE_MAX_ID];
    uint8_t id_len;
    uint8_t kid;
    uint8_t state; /* 0 free, 1 committed, 2 inserted by the open transaction */
} iotsec_replay_mem_entry;

/* One counter accepted inside the open transaction, applied at commit. */
typedef struct iotsec_replay_mem_intent {
    uint64_t ctr;
    size_t entry; /* index into the table */
} iotsec_replay_mem_intent;

/* The in-memory store; `store` is its interface handle (pass &m->store, or
 * iotsec_replay_mem_store(m)). Plain data, caller-owned, not thread-safe. Lookup is a linear
 * scan: meant for firmware and tests with tens to hundreds of peers. */
typedef struct iotsec_replay_mem {
    iotsec_replay_store store;
    iotsec_replay_mem_entry *table;
    size_t table_len;
    iotsec_replay_mem_intent *journal;
    size_t journal_len;
    size_t pending; /* intents in the open transaction */
    unsigned window;
    int in_txn;
} iotsec_replay_mem;

/* Initialize m over table[0..table_len) (every entry is cleared: one entry per (device,
 * kid) ever seen, never evicted; a new pair when the table is full gets IOTSEC_E_NO_MEMORY)
 * and journal[0..journal_len) (room for the counters accepted in one transaction; may be
 * NULL with journal_len 0, then begin returns IOTSEC_E_UNSUPPORTED and only
 * check_and_commit outside transactions is available). window is W, 0–1024 bits
 * (IOTSEC_REPLAY_DEFAULT_WINDOW = 64). Inside a transaction, accepted counters are held in
 * the journal and applied at commit, so rollback is exact; a journal full is
 * IOTSEC_E_NO_MEMORY. Errors: IOTSEC_E_INVALID_ARG (NULL m or table, table_len 0, journal
 * NULL with journal_len > 0, window > 1024). */
IOTSEC_API int iotsec_replay_mem_init(iotsec_replay_mem *m, iotsec_replay_mem_entry *table,
                                      size_t table_len, iotsec_replay_mem_intent *journal,
                                      size_t journal_len, unsigned window);

/* The interface handle of m (&m->store). */
IOTSEC_API iotsec_replay_store *iotsec_replay_mem_store(iotsec_replay_mem *m);

#ifdef __cplusplus
}
#endif

#endif
