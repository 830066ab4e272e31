/* Check suite: receiver replay store (replay_store.h, docs/DESIGN.md §5) — the in-memory store
 * (window behaviour, table full, transactions and rollback), the window operation, and the
 * SQLite store (restart, transactions with the caller's rows, window changes, corrupted and
 * foreign files, the legacy EcoWatt namespace and its upgrade of older files, four
 * processes hammering one file, lock timeouts, a full disk, open errors). */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#define DEV_A ((const uint8_t *)"dev-a")
#define DEV_B ((const uint8_t *)"device-b.example:01")
#define DEV_C ((const uint8_t *)"c")
#define LEN_A 5u
#define LEN_B 19u
#define LEN_C 1u

static int cc(iotsec_replay_store *s, const uint8_t *id, size_t len, uint8_t kid, uint64_t ctr)
{
    return iotsec_replay_store_check_and_commit(s, id, len, kid, ctr);
}

static int peek(iotsec_replay_store *s, const uint8_t *id, size_t len, uint8_t kid, uint64_t ctr)
{
    return iotsec_replay_store_check(s, id, len, kid, ctr);
}

/* Window behaviour every store must show (W = 8): reorder inside the window accepted once,
 * too old and counter 0 rejected, keys independent, peek changes nothing. */
static void window_behaviour(iotsec_replay_store *s)
{
    ck_assert_int_eq(peek(s, DEV_A, LEN_A, 0, 10), IOTSEC_OK);
    ck_assert_int_eq(peek(s, DEV_A, LEN_A, 0, 10), IOTSEC_OK); /* a peek commits nothing */
    ck_assert_int_eq(cc(s, DEV_A, LEN_A, 0, 10), IOTSEC_OK);
    ck_assert_int_eq(cc(s, DEV_A, LEN_A, 0, 10), IOTSEC_E_REPLAY);
    ck_assert_int_eq(peek(s, DEV_A, LEN_A, 0, 10), IOTSEC_E_REPLAY);
    ck_assert_int_eq(cc(s, DEV_A, LEN_A, 0, 7), IOTSEC_OK); /* reordered, inside W */
    ck_assert_int_eq(cc(s, DEV_A, LEN_A, 0, 7), IOTSEC_E_REPLAY);
    ck_assert_int_eq(cc(s, DEV_A, LEN_A, 0, 3), IOTSEC_OK);      /* 10 − 3 = 7 < 8 */
    ck_assert_int_eq(cc(s, DEV_A, LEN_A, 0, 2), IOTSEC_E_REPLAY); /* 10 − 2 = 8: too old */
    ck_assert_int_eq(cc(s, DEV_A, LEN_A, 0, 0), IOTSEC_E_REPLAY); /* never valid */
    ck_assert_int_eq(cc(s, DEV_A, LEN_A, 0, 20), IOTSEC_OK);
    ck_assert_int_eq(cc(s, DEV_A, LEN_A, 0, 12), IOTSEC_E_REPLAY); /* now too old */
    ck_assert_int_eq(cc(s, DEV_A, LEN_A, 0, 13), IOTSEC_OK);
    ck_assert_int_eq(cc(s, DEV_A, LEN_A, 0, UINT64_MAX), IOTSEC_OK);
    ck_assert_int_eq(cc(s, DEV_A, LEN_A, 0, UINT64_MAX), IOTSEC_E_REPLAY);
    ck_assert_int_eq(cc(s, DEV_A, LEN_A, 0, UINT64_MAX - 7), IOTSEC_OK);
    /* other kid, other device, a device id that is a prefix: independent windows */
    ck_assert_int_eq(cc(s, DEV_A, LEN_A, 1, 10), IOTSEC_OK);
    ck_assert_int_eq(cc(s, DEV_B, LEN_B, 0, 10), IOTSEC_OK);
    ck_assert_int_eq(cc(s, DEV_A, LEN_A - 1, 0, 10), IOTSEC_OK);
    ck_assert_int_eq(cc(s, DEV_A, LEN_A, 1, 10), IOTSEC_E_REPLAY);
    /* misuse */
    ck_assert_int_eq(cc(s, DEV_A, 0, 0, 5), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(cc(s, NULL, LEN_A, 0, 5), IOTSEC_E_INVALID_ARG);
    {
        uint8_t id[65];
        memset(id, 'x', sizeof id);
        ck_assert_int_eq(cc(s, id, 64, 0, 5), IOTSEC_OK);
        ck_assert_int_eq(cc(s, id, 65, 0, 5), IOTSEC_E_INVALID_ARG);
        ck_assert_int_eq(peek(s, id, 65, 0, 5), IOTSEC_E_INVALID_ARG);
    }
}

/* ---- in-memory store -------------------------------------------------------------------- */

START_TEST(test_mem_window)
{
    iotsec_replay_mem m;
    iotsec_replay_mem_entry table[8];

    ck_assert_int_eq(iotsec_replay_mem_init(&m, table, 8, NULL, 0, 8), IOTSEC_OK);
    window_behaviour(iotsec_replay_mem_store(&m));
    /* strict (W = 0): only increasing counters */
    ck_assert_int_eq(iotsec_replay_mem_init(&m, table, 8, NULL, 0, 0), IOTSEC_OK);
    ck_assert_int_eq(cc(&m.store, DEV_C, LEN_C, 0, 5), IOTSEC_OK);
    ck_assert_int_eq(cc(&m.store, DEV_C, LEN_C, 0, 4), IOTSEC_E_REPLAY);
    ck_assert_int_eq(cc(&m.store, DEV_C, LEN_C, 0, 5), IOTSEC_E_REPLAY);
    ck_assert_int_eq(cc(&m.store, DEV_C, LEN_C, 0, 6), IOTSEC_OK);
}
END_TEST

START_TEST(test_mem_table_full)
{
    iotsec_replay_mem m;
    iotsec_replay_mem_entry table[2];

    ck_assert_int_eq(iotsec_replay_mem_init(&m, table, 2, NULL, 0, 64), IOTSEC_OK);
    ck_assert_int_eq(cc(&m.store, DEV_A, LEN_A, 0, 100), IOTSEC_OK);
    ck_assert_int_eq(cc(&m.store, DEV_B, LEN_B, 0, 1), IOTSEC_OK);
    /* a third pair: refused, nothing evicted */
    ck_assert_int_eq(cc(&m.store, DEV_C, LEN_C, 0, 1), IOTSEC_E_NO_MEMORY);
    ck_assert_int_eq(cc(&m.store, DEV_A, LEN_A, 1, 1), IOTSEC_E_NO_MEMORY);
    ck_assert_int_eq(peek(&m.store, DEV_C, LEN_C, 0, 1), IOTSEC_OK); /* a peek needs no room */
    ck_assert_int_eq(cc(&m.store, DEV_A, LEN_A, 0, 100), IOTSEC_E_REPLAY);
    ck_assert_int_eq(cc(&m.store, DEV_B, LEN_B, 0, 1), IOTSEC_E_REPLAY);
    ck_assert_int_eq(cc(&m.store, DEV_A, LEN_A, 0, 99), IOTSEC_OK); /* known pairs go on */
    /* a replay of a known pair is a replay even when the table is full */
    ck_assert_int_eq(cc(&m.store, DEV_A, LEN_A, 0, 99), IOTSEC_E_REPLAY);
}
END_TEST

START_TEST(test_mem_transactions)
{
    iotsec_replay_mem m;
    iotsec_replay_mem_entry table[2];
    iotsec_replay_mem_intent journal[3];
    iotsec_replay_store *s;

    ck_assert_int_eq(iotsec_replay_mem_init(&m, table, 2, journal, 3, 4), IOTSEC_OK);
    s = iotsec_replay_mem_store(&m);
    ck_assert_int_eq(iotsec_replay_store_commit(s), IOTSEC_E_STATE);
    ck_assert_int_eq(iotsec_replay_store_rollback(s), IOTSEC_E_STATE);
    ck_assert_int_eq(cc(s, DEV_A, LEN_A, 0, 10), IOTSEC_OK);
    /* rollback undoes every check_and_commit of the transaction, new pairs included */
    ck_assert_int_eq(iotsec_replay_store_begin(s), IOTSEC_OK);
    ck_assert_int_eq(iotsec_replay_store_begin(s), IOTSEC_E_STATE);
    ck_assert_int_eq(cc(s, DEV_A, LEN_A, 0, 11), IOTSEC_OK);
    ck_assert_int_eq(cc(s, DEV_A, LEN_A, 0, 11), IOTSEC_E_REPLAY); /* seen in the txn */
    ck_assert_int_eq(peek(s, DEV_A, LEN_A, 0, 11), IOTSEC_E_REPLAY);
    ck_assert_int_eq(cc(s, DEV_B, LEN_B, 0, 1), IOTSEC_OK); /* takes the last entry */
    ck_assert_int_eq(cc(s, DEV_C, LEN_C, 0, 1), IOTSEC_E_NO_MEMORY);
    ck_assert_int_eq(iotsec_replay_store_rollback(s), IOTSEC_OK);
    ck_assert_int_eq(peek(s, DEV_A, LEN_A, 0, 11), IOTSEC_OK);
    ck_assert_int_eq(peek(s, DEV_A, LEN_A, 0, 10), IOTSEC_E_REPLAY);
    ck_assert_int_eq(cc(s, DEV_C, LEN_C, 0, 1), IOTSEC_OK); /* B's entry was freed */
    /* the view inside a transaction applies the journal in order: after 100, 95 is too old */
    ck_assert_int_eq(iotsec_replay_store_begin(s), IOTSEC_OK);
    ck_assert_int_eq(cc(s, DEV_A, LEN_A, 0, 100), IOTSEC_OK);
    ck_assert_int_eq(cc(s, DEV_A, LEN_A, 0, 96), IOTSEC_E_REPLAY);
    ck_assert_int_eq(cc(s, DEV_A, LEN_A, 0, 97), IOTSEC_OK);
    ck_assert_int_eq(cc(s, DEV_C, LEN_C, 0, 2), IOTSEC_OK);
    /* journal full (3 intents): refused, nothing recorded */
    ck_assert_int_eq(cc(s, DEV_C, LEN_C, 0, 3), IOTSEC_E_NO_MEMORY);
    ck_assert_int_eq(iotsec_replay_store_commit(s), IOTSEC_OK);
    ck_assert_int_eq(cc(s, DEV_A, LEN_A, 0, 100), IOTSEC_E_REPLAY);
    ck_assert_int_eq(cc(s, DEV_A, LEN_A, 0, 97), IOTSEC_E_REPLAY);
    ck_assert_int_eq(cc(s, DEV_A, LEN_A, 0, 98), IOTSEC_OK);
    ck_assert_int_eq(cc(s, DEV_C, LEN_C, 0, 2), IOTSEC_E_REPLAY);
    ck_assert_int_eq(cc(s, DEV_C, LEN_C, 0, 3), IOTSEC_OK);
    /* no journal: no transactions */
    ck_assert_int_eq(iotsec_replay_mem_init(&m, table, 2, NULL, 0, 4), IOTSEC_OK);
    ck_assert_int_eq(iotsec_replay_store_begin(&m.store), IOTSEC_E_UNSUPPORTED);
}
END_TEST

static int null_op(void *ctx)
{
    (void)ctx;
    return IOTSEC_OK;
}

START_TEST(test_mem_invalid_args)
{
    iotsec_replay_mem m;
    iotsec_replay_mem_entry table[1];
    iotsec_replay_mem_intent journal[1];
    iotsec_replay_store_ops partial;
    iotsec_replay_store s;

    ck_assert_int_eq(iotsec_replay_mem_init(NULL, table, 1, NULL, 0, 64), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_replay_mem_init(&m, NULL, 1, NULL, 0, 64), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_replay_mem_init(&m, table, 0, NULL, 0, 64), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_replay_mem_init(&m, table, 1, NULL, 1, 64), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_replay_mem_init(&m, table, 1, journal, 1, 1025),
                     IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_replay_mem_init(&m, table, 1, journal, 1, 1024), IOTSEC_OK);
    ck_assert_ptr_null(iotsec_replay_mem_store(NULL));
    ck_assert_int_eq(cc(NULL, DEV_A, LEN_A, 0, 1), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(peek(NULL, DEV_A, LEN_A, 0, 1), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_replay_store_begin(NULL), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_replay_store_commit(NULL), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_replay_store_rollback(NULL), IOTSEC_E_INVALID_ARG);
    /* a third-party table missing operations */
    memset(&partial, 0, sizeof partial);
    s.ops = &partial;
    s.ctx = NULL;
    ck_assert_int_eq(cc(&s, DEV_A, LEN_A, 0, 1), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(peek(&s, DEV_A, LEN_A, 0, 1), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_replay_store_begin(&s), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_replay_store_commit(&s), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_replay_store_rollback(&s), IOTSEC_E_INVALID_ARG);
    partial.begin = null_op;
    ck_assert_int_eq(iotsec_replay_store_begin(&s), IOTSEC_OK);
    s.ops = NULL;
    ck_assert_int_eq(iotsec_replay_store_begin(&s), IOTSEC_E_INVALID_ARG);
}
END_TEST

static int failing_window(void *ctx, unsigned *window)
{
    (void)ctx;
    *window = 77; /* must not reach the caller */
    return IOTSEC_E_IO;
}

START_TEST(test_store_window)
{
    static const unsigned ws[] = {0, 1, 8, 64, 1024};
    iotsec_replay_mem m;
    iotsec_replay_mem_entry table[1];
    iotsec_replay_store_ops partial;
    iotsec_replay_store s;
    unsigned w, i;

    for (i = 0; i < sizeof ws / sizeof ws[0]; i++) {
        ck_assert_int_eq(iotsec_replay_mem_init(&m, table, 1, NULL, 0, ws[i]), IOTSEC_OK);
        w = 9999;
        ck_assert_int_eq(iotsec_replay_store_window(iotsec_replay_mem_store(&m), &w), IOTSEC_OK);
        ck_assert_uint_eq(w, ws[i]);
    }
    ck_assert_int_eq(iotsec_replay_store_window(NULL, &w), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_replay_store_window(&m.store, NULL), IOTSEC_E_INVALID_ARG);
    /* a table written before the operation existed: it cannot say, and nothing is written */
    memset(&partial, 0, sizeof partial);
    s.ops = &partial;
    s.ctx = NULL;
    w = 9999;
    ck_assert_int_eq(iotsec_replay_store_window(&s, &w), IOTSEC_E_UNSUPPORTED);
    ck_assert_uint_eq(w, 9999);
    partial.window = failing_window;
    ck_assert_int_eq(iotsec_replay_store_window(&s, &w), IOTSEC_E_IO);
    ck_assert_uint_eq(w, 9999);
    s.ops = NULL;
    ck_assert_int_eq(iotsec_replay_store_window(&s, &w), IOTSEC_E_INVALID_ARG);
}
END_TEST

/* ---- SQLite store ----------------------------------------------------------------------- */

static iotsec_replay_sqlite *sq_open(const char *path, unsigned window, unsigned flags)
{
    iotsec_replay_sqlite *s = NULL;
    int rc = iotsec_replay_sqlite_open(&s, path, window, flags);

    ck_assert_msg(rc == IOTSEC_OK, "open %s: %s", path, iotsec_strerror(rc));
    ck_assert_ptr_nonnull(s);
    return s;
}

static int64_t sq_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    int64_t v;

    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void sq_exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);

    ck_assert_msg(rc == SQLITE_OK, "%s: %s", sql, err ? err : "?");
}

static void path_in(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    ck_assert(n > 0 && (size_t)n < cap);
}

START_TEST(test_sqlite_window_and_schema)
{
    char dir[256], path[512];
    iotsec_replay_sqlite *s;
    sqlite3 *db;
    struct stat st;

    tu_tmpdir(dir, sizeof dir);
    path_in(path, sizeof path, dir, "replay.db");
    umask(0);
    s = sq_open(path, 8, 0);
    umask(022);
    window_behaviour(iotsec_replay_sqlite_store(s));
    db = iotsec_replay_sqlite_db(s);
    ck_assert_int_eq(sq_int(db, "PRAGMA application_id"), IOTSEC_REPLAY_SQLITE_APPLICATION_ID);
    ck_assert_int_eq(sq_int(db, "PRAGMA user_version"), IOTSEC_REPLAY_SQLITE_SCHEMA_VERSION);
    ck_assert_int_eq(sq_int(db, "PRAGMA synchronous"), 2); /* FULL */
    ck_assert_int_eq(sq_int(db, "SELECT count(*) FROM iotsec_replay_state"), 5);
    ck_assert_int_eq(sq_int(db, "SELECT count(*) FROM pragma_journal_mode WHERE journal_mode = 'wal'"), 1);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777u, 0600u);
    iotsec_replay_sqlite_close(s);
    s = sq_open(path, 8, IOTSEC_REPLAY_SQLITE_SYNC_NORMAL);
    ck_assert_int_eq(sq_int(iotsec_replay_sqlite_db(s), "PRAGMA synchronous"), 1); /* NORMAL */
    iotsec_replay_sqlite_close(s);
    iotsec_replay_sqlite_close(NULL);
    ck_assert_ptr_null(iotsec_replay_sqlite_store(NULL));
    ck_assert_ptr_null(iotsec_replay_sqlite_db(NULL));
    /* strict mode */
    path_in(path, sizeof path, dir, "strict.db");
    s = sq_open(path, 0, 0);
    ck_assert_int_eq(cc(iotsec_replay_sqlite_store(s), DEV_C, LEN_C, 9, 5), IOTSEC_OK);
    ck_assert_int_eq(cc(iotsec_replay_sqlite_store(s), DEV_C, LEN_C, 9, 4), IOTSEC_E_REPLAY);
    ck_assert_int_eq(cc(iotsec_replay_sqlite_store(s), DEV_C, LEN_C, 9, 6), IOTSEC_OK);
    iotsec_replay_sqlite_close(s);
    tu_tmpdir_cleanup(dir);
}
END_TEST

/* accepted counters of the restart test: a deterministic pattern with reordering and gaps */
static int restart_accepts(uint64_t ctr, unsigned salt)
{
    return ctr == 300 || ((ctr + salt) * 2654435761u >> 7) % 3u != 0;
}

START_TEST(test_sqlite_restart)
{
    char dir[256], path[512];
    static const uint8_t *ids[3] = {(const uint8_t *)"dev-a", (const uint8_t *)"dev-b",
                                    (const uint8_t *)"dev-c"};
    iotsec_replay_sqlite *s;
    iotsec_replay_store *st;
    uint64_t ctr;
    unsigned d, kid, round;

    tu_tmpdir(dir, sizeof dir);
    path_in(path, sizeof path, dir, "replay.db");
    s = sq_open(path, 64, 0);
    st = iotsec_replay_sqlite_store(s);
    /* counters 1..300 committed in blocks of 50, each block in descending order */
    for (d = 0; d < 3; d++)
        for (kid = 0; kid < 2; kid++)
            for (round = 0; round < 6; round++)
                for (ctr = 50u * round + 50u; ctr > 50u * round; ctr--)
                    if (restart_accepts(ctr, d * 2 + kid))
                        ck_assert_int_eq(cc(st, ids[d], 5, (uint8_t)kid, ctr), IOTSEC_OK);
    iotsec_replay_sqlite_close(s);
    /* restart: every committed counter is still a replay; the others are fresh when inside
     * the window (300 − 64 < ctr) and too old below it */
    s = sq_open(path, 64, 0);
    st = iotsec_replay_sqlite_store(s);
    for (d = 0; d < 3; d++) {
        for (kid = 0; kid < 2; kid++) {
            for (ctr = 1; ctr <= 300; ctr++) {
                int want = restart_accepts(ctr, d * 2 + kid) || ctr <= 300 - 64 ? IOTSEC_E_REPLAY
                                                                             : IOTSEC_OK;
                ck_assert_int_eq(peek(st, ids[d], 5, (uint8_t)kid, ctr), want);
                ck_assert_int_eq(cc(st, ids[d], 5, (uint8_t)kid, ctr), want);
            }
            ck_assert_int_eq(peek(st, ids[d], 5, (uint8_t)kid, 301), IOTSEC_OK);
        }
    }
    iotsec_replay_sqlite_close(s);
    tu_tmpdir_cleanup(dir);
}
END_TEST

START_TEST(test_sqlite_transactions)
{
    char dir[256], path[512];
    iotsec_replay_sqlite *s;
    iotsec_replay_store *st;
    sqlite3 *db;

    tu_tmpdir(dir, sizeof dir);
    path_in(path, sizeof path, dir, "replay.db");
    s = sq_open(path, 64, 0);
    st = iotsec_replay_sqlite_store(s);
    db = iotsec_replay_sqlite_db(s);
    sq_exec(db, "CREATE TABLE frames(device BLOB, ctr INTEGER)");
    ck_assert_int_eq(iotsec_replay_store_commit(st), IOTSEC_E_STATE);
    ck_assert_int_eq(iotsec_replay_store_rollback(st), IOTSEC_E_STATE);
    /* the caller's transaction is rolled back: the counter and the frame row both vanish */
    ck_assert_int_eq(iotsec_replay_store_begin(st), IOTSEC_OK);
    ck_assert_int_eq(iotsec_replay_store_begin(st), IOTSEC_E_STATE);
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 5), IOTSEC_OK);
    sq_exec(db, "INSERT INTO frames VALUES(x'6465762d61', 5)");
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 5), IOTSEC_E_REPLAY); /* seen in the txn */
    ck_assert_int_eq(iotsec_replay_store_rollback(st), IOTSEC_OK);
    ck_assert_int_eq(peek(st, DEV_A, LEN_A, 0, 5), IOTSEC_OK);
    ck_assert_int_eq(sq_int(db, "SELECT count(*) FROM frames"), 0);
    /* committed together */
    ck_assert_int_eq(iotsec_replay_store_begin(st), IOTSEC_OK);
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 6), IOTSEC_OK);
    ck_assert_int_eq(cc(st, DEV_B, LEN_B, 3, 1), IOTSEC_OK);
    sq_exec(db, "INSERT INTO frames VALUES(x'6465762d61', 6)");
    ck_assert_int_eq(iotsec_replay_store_commit(st), IOTSEC_OK);
    /* a transaction the caller opened on the handle is joined, not committed by the store */
    sq_exec(db, "BEGIN IMMEDIATE");
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 7), IOTSEC_OK);
    ck_assert_int_eq(sqlite3_get_autocommit(db), 0);
    ck_assert_int_eq(iotsec_replay_store_rollback(st), IOTSEC_OK);
    iotsec_replay_sqlite_close(s);
    /* after a restart */
    s = sq_open(path, 64, 0);
    st = iotsec_replay_sqlite_store(s);
    ck_assert_int_eq(peek(st, DEV_A, LEN_A, 0, 5), IOTSEC_OK);
    ck_assert_int_eq(peek(st, DEV_A, LEN_A, 0, 6), IOTSEC_E_REPLAY);
    ck_assert_int_eq(peek(st, DEV_A, LEN_A, 0, 7), IOTSEC_OK);
    ck_assert_int_eq(peek(st, DEV_B, LEN_B, 3, 1), IOTSEC_E_REPLAY);
    ck_assert_int_eq(sq_int(iotsec_replay_sqlite_db(s), "SELECT count(*) FROM frames WHERE ctr = 6"), 1);
    /* a transaction left open at close is rolled back */
    ck_assert_int_eq(iotsec_replay_store_begin(st), IOTSEC_OK);
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 8), IOTSEC_OK);
    iotsec_replay_sqlite_close(s);
    s = sq_open(path, 64, 0);
    ck_assert_int_eq(peek(iotsec_replay_sqlite_store(s), DEV_A, LEN_A, 0, 8), IOTSEC_OK);
    iotsec_replay_sqlite_close(s);
    tu_tmpdir_cleanup(dir);
}
END_TEST

START_TEST(test_sqlite_window_change)
{
    char dir[256], path[512];
    iotsec_replay_sqlite *s;
    iotsec_replay_store *st;

    tu_tmpdir(dir, sizeof dir);
    path_in(path, sizeof path, dir, "replay.db");
    s = sq_open(path, 16, 0);
    st = iotsec_replay_sqlite_store(s);
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 5), IOTSEC_OK);
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 30), IOTSEC_OK);
    iotsec_replay_sqlite_close(s);
    /* widening 16 → 64: positions the old window no longer covered count as seen */
    s = sq_open(path, 64, 0);
    st = iotsec_replay_sqlite_store(s);
    ck_assert_int_eq(peek(st, DEV_A, LEN_A, 0, 5), IOTSEC_E_REPLAY);  /* accepted long ago */
    ck_assert_int_eq(peek(st, DEV_A, LEN_A, 0, 14), IOTSEC_E_REPLAY); /* was too old */
    ck_assert_int_eq(peek(st, DEV_A, LEN_A, 0, 1), IOTSEC_E_REPLAY);
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 15), IOTSEC_OK); /* inside the old window */
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 20), IOTSEC_OK);
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 31), IOTSEC_OK);
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 80), IOTSEC_OK);
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 17), IOTSEC_OK); /* now inside the new W */
    iotsec_replay_sqlite_close(s);
    /* narrowing 64 → 4: older positions become too old */
    s = sq_open(path, 4, 0);
    st = iotsec_replay_sqlite_store(s);
    ck_assert_int_eq(peek(st, DEV_A, LEN_A, 0, 77), IOTSEC_OK);
    ck_assert_int_eq(peek(st, DEV_A, LEN_A, 0, 76), IOTSEC_E_REPLAY);
    ck_assert_int_eq(peek(st, DEV_A, LEN_A, 0, 80), IOTSEC_E_REPLAY);
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 78), IOTSEC_OK);
    iotsec_replay_sqlite_close(s);
    /* 4 → 0 (strict) → 8 */
    s = sq_open(path, 0, 0);
    st = iotsec_replay_sqlite_store(s);
    ck_assert_int_eq(peek(st, DEV_A, LEN_A, 0, 79), IOTSEC_E_REPLAY);
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 81), IOTSEC_OK);
    iotsec_replay_sqlite_close(s);
    s = sq_open(path, 8, 0);
    st = iotsec_replay_sqlite_store(s);
    ck_assert_int_eq(peek(st, DEV_A, LEN_A, 0, 81), IOTSEC_E_REPLAY);
    ck_assert_int_eq(peek(st, DEV_A, LEN_A, 0, 80), IOTSEC_E_REPLAY);
    ck_assert_int_eq(peek(st, DEV_A, LEN_A, 0, 74), IOTSEC_E_REPLAY);
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 82), IOTSEC_OK);
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 81), IOTSEC_E_REPLAY);
    iotsec_replay_sqlite_close(s);
    tu_tmpdir_cleanup(dir);
}
END_TEST

/* open must refuse path with want, and leave the file byte for byte as it was */
static void expect_refused(const char *path, int want)
{
    uint8_t *before, *after;
    size_t nb, na;
    iotsec_replay_sqlite *s = (iotsec_replay_sqlite *)1;
    char side[600];
    struct stat st;

    before = tu_read_file(path, &nb);
    ck_assert_int_eq(iotsec_replay_sqlite_open(&s, path, 64, 0), want);
    ck_assert_ptr_null(s);
    after = tu_read_file(path, &na);
    ck_assert_uint_eq(na, nb);
    ck_assert_mem_eq(after, before, nb);
    snprintf(side, sizeof side, "%s-wal", path);
    ck_assert_int_ne(stat(side, &st), 0);
    free(before);
    free(after);
}

/* a foreign database made with plain SQLite */
static void make_db(const char *path, const char *sql)
{
    sqlite3 *db;

    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    sq_exec(db, sql);
    ck_assert_int_eq(sqlite3_close(db), SQLITE_OK);
}

static void overwrite(const char *path, long off, uint8_t byte, size_t n)
{
    uint8_t buf[8192];
    int fd = open(path, O_WRONLY);

    ck_assert_int_ge(fd, 0);
    ck_assert_uint_le(n, sizeof buf);
    memset(buf, byte, n);
    ck_assert_int_eq(pwrite(fd, buf, n, (off_t)off), (ssize_t)n);
    close(fd);
}

START_TEST(test_sqlite_corrupt_and_foreign)
{
    char dir[256], path[512];
    uint8_t junk[4096];
    iotsec_replay_sqlite *s;
    iotsec_replay_store *st;
    sqlite3 *db;
    uint64_t ctr;
    unsigned i;

    tu_tmpdir(dir, sizeof dir);
    /* not a SQLite file */
    tu_pattern(junk, sizeof junk, 7);
    tu_write_file(dir, "junk.db", junk, sizeof junk, path, sizeof path);
    expect_refused(path, IOTSEC_E_CORRUPT);
    tu_write_file(dir, "text.db", "hello, world\n", 13, path, sizeof path);
    expect_refused(path, IOTSEC_E_CORRUPT);
    /* SQLite databases of another application, and one claiming to be ours without our
     * table: each made with plain SQLite, each refused and left untouched */
    {
        static const char *foreign[][2] = {
            {"foreign.db", "CREATE TABLE users(name TEXT); INSERT INTO users VALUES('x')"},
            /* our table, but not identified as ours (no application id) */
            {"lookalike.db", "CREATE TABLE iotsec_replay_state(device_id BLOB, kid INTEGER,"
                             " state BLOB, PRIMARY KEY(device_id, kid)) WITHOUT ROWID"},
            {"foreign-id.db", "PRAGMA application_id = 1234"},
            {"foreign-ver.db", "PRAGMA user_version = 1"},
            /* our application id and version, but not our table */
            {"notable.db", "PRAGMA application_id = 1229935698; PRAGMA user_version = 1;"
                           "CREATE TABLE iotsec_replay_state(x)"},
        };
        for (i = 0; i < sizeof foreign / sizeof foreign[0]; i++) {
            path_in(path, sizeof path, dir, foreign[i][0]);
            make_db(path, foreign[i][1]);
            expect_refused(path, IOTSEC_E_CORRUPT);
        }
    }
    /* ours, with another schema version */
    path_in(path, sizeof path, dir, "newer.db");
    s = sq_open(path, 64, 0);
    sq_exec(iotsec_replay_sqlite_db(s), "PRAGMA user_version = 2");
    iotsec_replay_sqlite_close(s);
    expect_refused(path, IOTSEC_E_BAD_VERSION);

    /* a real replay database, damaged in its header, then in a page */
    path_in(path, sizeof path, dir, "replay.db");
    s = sq_open(path, 64, IOTSEC_REPLAY_SQLITE_SYNC_NORMAL);
    st = iotsec_replay_sqlite_store(s);
    ck_assert_int_eq(iotsec_replay_store_begin(st), IOTSEC_OK);
    for (i = 0; i < 400; i++) {
        char id[16];
        int n = snprintf(id, sizeof id, "dev-%u", i);
        ck_assert_int_eq(cc(st, (const uint8_t *)id, (size_t)n, 0, 1), IOTSEC_OK);
    }
    ck_assert_int_eq(iotsec_replay_store_commit(st), IOTSEC_OK);
    ck_assert_int_gt(sq_int(iotsec_replay_sqlite_db(s), "PRAGMA page_count"), 10);
    iotsec_replay_sqlite_close(s); /* last connection: WAL checkpointed into the file */
    {
        char copy[600];
        ck_assert_int_eq(tu_sh("cp '%s' '%s.bak'", path, path), 0);
        overwrite(path, 0, 0x00, 16); /* "SQLite format 3\0" */
        expect_refused(path, IOTSEC_E_CORRUPT);
        snprintf(copy, sizeof copy, "%s.bak", path);
        ck_assert_int_eq(tu_sh("cp '%s' '%s'", copy, path), 0);
        overwrite(path, 4096L * 4, 0x55, 4096); /* page 5: inside the state b-tree */
        expect_refused(path, IOTSEC_E_CORRUPT);
        ck_assert_int_eq(tu_sh("cp '%s' '%s'", copy, path), 0);
    }
    /* a damaged state row: that device gets IOTSEC_E_CORRUPT, the others carry on, and the
     * row is not reset */
    s = sq_open(path, 64, 0);
    st = iotsec_replay_sqlite_store(s);
    db = iotsec_replay_sqlite_db(s);
    sq_exec(db, "UPDATE iotsec_replay_state SET state = x'0102' WHERE device_id = CAST('dev-7' AS BLOB)");
    sq_exec(db, "UPDATE iotsec_replay_state SET state = 'text' WHERE device_id = CAST('dev-8' AS BLOB)");
    /* 139 bytes, format 1, but a bit set at or beyond W: inconsistent */
    sq_exec(db, "UPDATE iotsec_replay_state SET state = x'01' || x'0040' || zeroblob(8) || x'8000000000000000' || zeroblob(120)"
                " WHERE device_id = CAST('dev-9' AS BLOB)");
    for (ctr = 1; ctr <= 3; ctr++) {
        ck_assert_int_eq(cc(st, (const uint8_t *)"dev-7", 5, 0, ctr + 10), IOTSEC_E_CORRUPT);
        ck_assert_int_eq(peek(st, (const uint8_t *)"dev-7", 5, 0, ctr + 10), IOTSEC_E_CORRUPT);
        ck_assert_int_eq(cc(st, (const uint8_t *)"dev-8", 5, 0, ctr + 10), IOTSEC_E_CORRUPT);
        ck_assert_int_eq(cc(st, (const uint8_t *)"dev-9", 5, 0, ctr + 10), IOTSEC_E_CORRUPT);
    }
    ck_assert_int_eq(cc(st, (const uint8_t *)"dev-6", 5, 0, 1), IOTSEC_E_REPLAY);
    ck_assert_int_eq(cc(st, (const uint8_t *)"dev-6", 5, 0, 2), IOTSEC_OK);
    ck_assert_int_eq(sq_int(db, "SELECT length(state) FROM iotsec_replay_state WHERE device_id = CAST('dev-7' AS BLOB)"), 2);
    iotsec_replay_sqlite_close(s);
    tu_tmpdir_cleanup(dir);
}
END_TEST

/* ---- the legacy EcoWatt namespace of a SQLite database ----------------------------------- */

START_TEST(test_sqlite_ecowatt_namespace)
{
    char dir[256], path[512];
    iotsec_replay_sqlite *s;
    iotsec_replay_store *fr, *eco;
    sqlite3 *db;
    unsigned w = 99;

    tu_tmpdir(dir, sizeof dir);
    path_in(path, sizeof path, dir, "replay.db");
    s = sq_open(path, 64, 0);
    fr = iotsec_replay_sqlite_store(s);
    eco = iotsec_replay_sqlite_ecowatt_store(s);
    ck_assert_ptr_nonnull(eco);
    ck_assert_ptr_ne(eco, fr);
    ck_assert_ptr_null(iotsec_replay_sqlite_ecowatt_store(NULL));
    ck_assert_int_eq(iotsec_replay_store_window(fr, &w), IOTSEC_OK);
    ck_assert_uint_eq(w, 64);
    ck_assert_int_eq(iotsec_replay_store_window(eco, &w), IOTSEC_OK);
    ck_assert_uint_eq(w, 0); /* whatever W the database was opened with */
    /* the same (device, kid) in both namespaces: independent states */
    ck_assert_int_eq(cc(fr, DEV_A, LEN_A, 0, 100), IOTSEC_OK);
    ck_assert_int_eq(peek(eco, DEV_A, LEN_A, 0, 100), IOTSEC_OK);
    ck_assert_int_eq(cc(eco, DEV_A, LEN_A, 0, 50), IOTSEC_OK);
    ck_assert_int_eq(cc(fr, DEV_A, LEN_A, 0, 50), IOTSEC_OK); /* inside W = 64 of 100 */
    /* the legacy namespace is strict */
    ck_assert_int_eq(cc(eco, DEV_A, LEN_A, 0, 49), IOTSEC_E_REPLAY);
    ck_assert_int_eq(cc(eco, DEV_A, LEN_A, 0, 50), IOTSEC_E_REPLAY);
    ck_assert_int_eq(cc(eco, DEV_A, LEN_A, 0, 52), IOTSEC_OK);
    ck_assert_int_eq(cc(eco, DEV_A, LEN_A, 0, 51), IOTSEC_E_REPLAY);
    db = iotsec_replay_sqlite_db(s);
    ck_assert_int_eq(sq_int(db, "SELECT count(*) FROM iotsec_replay_state"), 1);
    ck_assert_int_eq(sq_int(db, "SELECT count(*) FROM iotsec_replay_ecowatt"), 1);
    /* one connection, one transaction: begun on one handle, it covers the other and the
     * caller's rows; commit or rollback from either handle ends it */
    sq_exec(db, "CREATE TABLE frames(ctr INTEGER)");
    ck_assert_int_eq(iotsec_replay_store_begin(fr), IOTSEC_OK);
    ck_assert_int_eq(iotsec_replay_store_begin(eco), IOTSEC_E_STATE);
    ck_assert_int_eq(cc(eco, DEV_A, LEN_A, 0, 60), IOTSEC_OK);
    ck_assert_int_eq(cc(fr, DEV_A, LEN_A, 0, 101), IOTSEC_OK);
    sq_exec(db, "INSERT INTO frames VALUES(60)");
    ck_assert_int_eq(iotsec_replay_store_rollback(eco), IOTSEC_OK);
    ck_assert_int_eq(iotsec_replay_store_rollback(fr), IOTSEC_E_STATE);
    ck_assert_int_eq(peek(eco, DEV_A, LEN_A, 0, 60), IOTSEC_OK);
    ck_assert_int_eq(peek(fr, DEV_A, LEN_A, 0, 101), IOTSEC_OK);
    ck_assert_int_eq(sq_int(db, "SELECT count(*) FROM frames"), 0);
    ck_assert_int_eq(iotsec_replay_store_begin(eco), IOTSEC_OK);
    ck_assert_int_eq(cc(eco, DEV_A, LEN_A, 0, 60), IOTSEC_OK);
    sq_exec(db, "INSERT INTO frames VALUES(60)");
    ck_assert_int_eq(iotsec_replay_store_commit(fr), IOTSEC_OK);
    iotsec_replay_sqlite_close(s);
    /* reopened with another W: the legacy rows stay strict, nothing converted */
    s = sq_open(path, 8, 0);
    eco = iotsec_replay_sqlite_ecowatt_store(s);
    ck_assert_int_eq(peek(eco, DEV_A, LEN_A, 0, 60), IOTSEC_E_REPLAY);
    ck_assert_int_eq(peek(eco, DEV_A, LEN_A, 0, 59), IOTSEC_E_REPLAY);
    ck_assert_int_eq(peek(eco, DEV_A, LEN_A, 0, 61), IOTSEC_OK);
    ck_assert_int_eq(sq_int(iotsec_replay_sqlite_db(s), "SELECT count(*) FROM frames"), 1);
    iotsec_replay_sqlite_close(s);
    tu_tmpdir_cleanup(dir);
}
END_TEST

/* A database made before the legacy table existed (schema of the same version, only
 * iotsec_replay_state) gains the table when opened, and keeps its frame state; a legacy
 * table of another shape is refused like any foreign schema, the file untouched. */
START_TEST(test_sqlite_ecowatt_upgrade)
{
    char dir[256], path[512];
    iotsec_replay_sqlite *s;
    uint8_t state[IOTSEC_REPLAY_STATE_LEN];
    iotsec_replay_window w;
    char sql[1024], hex[2 * IOTSEC_REPLAY_STATE_LEN + 1];
    size_t n = 0;

    tu_tmpdir(dir, sizeof dir);
    /* the old schema, written with plain SQLite; dev-a kid 0 has seen counter 40 */
    ck_assert_int_eq(iotsec_replay_init(&w, 64), IOTSEC_OK);
    ck_assert_int_eq(iotsec_replay_commit(&w, 40), IOTSEC_OK);
    ck_assert_int_eq(iotsec_replay_encode(&w, state, sizeof state, &n), IOTSEC_OK);
    ck_assert_int_eq(iotsec_hex_encode(state, n, hex, sizeof hex), IOTSEC_OK);
    snprintf(sql, sizeof sql,
             "PRAGMA application_id = 1229935698; PRAGMA user_version = 1;"
             "CREATE TABLE iotsec_replay_state("
             " device_id BLOB NOT NULL CHECK(length(device_id) BETWEEN 1 AND 64),"
             " kid INTEGER NOT NULL CHECK(kid BETWEEN 0 AND 255),"
             " state BLOB NOT NULL,"
             " PRIMARY KEY(device_id, kid)) WITHOUT ROWID;"
             "INSERT INTO iotsec_replay_state VALUES(CAST('dev-a' AS BLOB), 0, x'%s')",
             hex);
    path_in(path, sizeof path, dir, "old.db");
    make_db(path, sql);
    s = sq_open(path, 64, 0);
    ck_assert_int_eq(sq_int(iotsec_replay_sqlite_db(s), "SELECT count(*) FROM sqlite_master"
                                                        " WHERE name = 'iotsec_replay_ecowatt'"),
                     1);
    ck_assert_int_eq(sq_int(iotsec_replay_sqlite_db(s), "PRAGMA user_version"), 1);
    ck_assert_int_eq(peek(iotsec_replay_sqlite_store(s), DEV_A, LEN_A, 0, 40), IOTSEC_E_REPLAY);
    ck_assert_int_eq(cc(iotsec_replay_sqlite_ecowatt_store(s), DEV_A, LEN_A, 0, 40), IOTSEC_OK);
    iotsec_replay_sqlite_close(s);
    s = sq_open(path, 64, 0);
    ck_assert_int_eq(peek(iotsec_replay_sqlite_ecowatt_store(s), DEV_A, LEN_A, 0, 40),
                     IOTSEC_E_REPLAY);
    iotsec_replay_sqlite_close(s);
    /* a legacy table of the wrong shape */
    path_in(path, sizeof path, dir, "badlegacy.db");
    s = sq_open(path, 64, 0);
    sq_exec(iotsec_replay_sqlite_db(s), "DROP TABLE iotsec_replay_ecowatt");
    sq_exec(iotsec_replay_sqlite_db(s), "CREATE TABLE iotsec_replay_ecowatt(x)");
    iotsec_replay_sqlite_close(s);
    expect_refused(path, IOTSEC_E_CORRUPT);
    tu_tmpdir_cleanup(dir);
}
END_TEST

/* ---- four processes, one file ----------------------------------------------------------- */

#define HAMMER_PROCS 4
#define HAMMER_CTRS 150u

static void hammer_child(const char *path, int wfd, unsigned who)
{
    iotsec_replay_sqlite *s = NULL;
    iotsec_replay_store *st;
    unsigned i, d;

    /* all four create-or-open the same fresh file at once */
    int orc = iotsec_replay_sqlite_open(&s, path, 1024, IOTSEC_REPLAY_SQLITE_SYNC_NORMAL);
    if (orc != IOTSEC_OK) {
        fprintf(stderr, "child %u: open: %s\n", who, iotsec_strerror(orc));
        _exit(3);
    }
    st = iotsec_replay_sqlite_store(s);
    for (i = 0; i < HAMMER_CTRS; i++) {
        for (d = 0; d < 2; d++) {
            /* overlapping orders: ascending, descending, and two strided walks */
            uint64_t ctr;
            uint8_t rec[9];
            int rc, txn = (who == 3 && i % 5 == 0);
            switch (who) {
            case 0: ctr = i + 1u; break;
            case 1: ctr = HAMMER_CTRS - i; break;
            case 2: ctr = (i * 7u) % HAMMER_CTRS + 1u; break;
            default: ctr = (i * 11u + 3u) % HAMMER_CTRS + 1u; break;
            }
            if (txn && iotsec_replay_store_begin(st) != IOTSEC_OK)
                _exit(4);
            rc = iotsec_replay_store_check_and_commit(st, d ? DEV_B : DEV_A, d ? LEN_B : LEN_A,
                                                      0, ctr);
            if (txn && rc == IOTSEC_OK)
                rc = iotsec_replay_store_commit(st);
            else if (txn)
                (void)iotsec_replay_store_rollback(st);
            if (rc == IOTSEC_E_REPLAY)
                continue;
            if (rc != IOTSEC_OK)
                _exit(5);
            rec[0] = (uint8_t)d;
            memcpy(rec + 1, &ctr, 8);
            if (write(wfd, rec, sizeof rec) != (ssize_t)sizeof rec)
                _exit(6);
        }
    }
    iotsec_replay_sqlite_close(s);
    _exit(0);
}

START_TEST(test_sqlite_four_processes)
{
    char dir[256], path[512];
    unsigned accepted[2][HAMMER_CTRS + 1];
    pid_t pids[HAMMER_PROCS];
    int fds[2], p, status;
    uint8_t rec[9];
    unsigned d, i, total = 0;

    memset(accepted, 0, sizeof accepted);
    tu_tmpdir(dir, sizeof dir);
    path_in(path, sizeof path, dir, "replay.db");
    ck_assert_int_eq(pipe(fds), 0);
    for (p = 0; p < HAMMER_PROCS; p++) {
        pids[p] = fork();
        ck_assert_int_ge(pids[p], 0);
        if (pids[p] == 0) {
            close(fds[0]);
            hammer_child(path, fds[1], (unsigned)p);
        }
    }
    close(fds[1]);
    for (;;) {
        ssize_t n = read(fds[0], rec, sizeof rec); /* records are written atomically */
        uint64_t ctr;
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            break;
        ck_assert_int_eq(n, (ssize_t)sizeof rec);
        memcpy(&ctr, rec + 1, 8);
        ck_assert(rec[0] < 2 && ctr >= 1 && ctr <= HAMMER_CTRS);
        accepted[rec[0]][ctr]++;
        total++;
    }
    close(fds[0]);
    for (p = 0; p < HAMMER_PROCS; p++) {
        ck_assert_int_eq(waitpid(pids[p], &status, 0), pids[p]);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d: status %d", p,
                      status);
    }
    /* each counter accepted exactly once in total */
    for (d = 0; d < 2; d++)
        for (i = 1; i <= HAMMER_CTRS; i++)
            ck_assert_msg(accepted[d][i] == 1, "device %u counter %u accepted %u times", d, i,
                          accepted[d][i]);
    ck_assert_uint_eq(total, 2 * HAMMER_CTRS);
    tu_tmpdir_cleanup(dir);
}
END_TEST

/* ---- locks, open errors ------------------------------------------------------------------ */

START_TEST(test_sqlite_lock_timeout)
{
    char dir[256], path[512];
    iotsec_replay_sqlite *a, *b;
    iotsec_replay_store *sa, *sb;

    tu_tmpdir(dir, sizeof dir);
    path_in(path, sizeof path, dir, "replay.db");
    a = sq_open(path, 64, 0);
    b = sq_open(path, 64, 0);
    sa = iotsec_replay_sqlite_store(a);
    sb = iotsec_replay_sqlite_store(b);
    ck_assert_int_eq(sqlite3_busy_timeout(iotsec_replay_sqlite_db(b), 50), SQLITE_OK);
    ck_assert_int_eq(iotsec_replay_store_begin(sa), IOTSEC_OK); /* a holds the write lock */
    ck_assert_int_eq(cc(sa, DEV_A, LEN_A, 0, 1), IOTSEC_OK);
    ck_assert_int_eq(cc(sb, DEV_A, LEN_A, 0, 1), IOTSEC_E_IO); /* b: lock not obtained */
    ck_assert_int_eq(iotsec_replay_store_begin(sb), IOTSEC_E_IO);
    ck_assert_int_eq(peek(sb, DEV_A, LEN_A, 0, 1), IOTSEC_OK); /* readers are not blocked */
    ck_assert_int_eq(sqlite3_get_autocommit(iotsec_replay_sqlite_db(b)), 1);
    ck_assert_int_eq(iotsec_replay_store_commit(sa), IOTSEC_OK);
    ck_assert_int_eq(cc(sb, DEV_A, LEN_A, 0, 1), IOTSEC_E_REPLAY);
    ck_assert_int_eq(cc(sb, DEV_A, LEN_A, 0, 2), IOTSEC_OK);
    ck_assert_int_eq(cc(sa, DEV_A, LEN_A, 0, 2), IOTSEC_E_REPLAY);
    iotsec_replay_sqlite_close(a);
    iotsec_replay_sqlite_close(b);
    tu_tmpdir_cleanup(dir);
}
END_TEST

/* A full disk (SQLITE_FULL, here from PRAGMA max_page_count on the store's connection):
 * check_and_commit refuses a counter it cannot persist with IOTSEC_E_IO and records
 * nothing; inside a caller's transaction, an accepted counter whose frame row cannot be
 * stored is forgotten by the rollback — what a server relies on to answer 500, never 200,
 * when its commit fails. */
START_TEST(test_sqlite_full)
{
    char dir[256], path[512], sql[64], id[16];
    iotsec_replay_sqlite *s;
    iotsec_replay_store *st;
    sqlite3 *db;
    int i, rc = IOTSEC_OK;

    tu_tmpdir(dir, sizeof dir);
    path_in(path, sizeof path, dir, "replay.db");
    s = sq_open(path, 64, IOTSEC_REPLAY_SQLITE_SYNC_NORMAL);
    st = iotsec_replay_sqlite_store(s);
    db = iotsec_replay_sqlite_db(s);
    sq_exec(db, "CREATE TABLE frames(data BLOB)");
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 1), IOTSEC_OK);
    snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld",
             (long long)sq_int(db, "PRAGMA page_count"));
    sq_exec(db, sql);
    /* new devices until their rows no longer fit */
    for (i = 0; i < 10000 && rc == IOTSEC_OK; i++) {
        snprintf(id, sizeof id, "dev-%05d", i);
        rc = cc(st, (const uint8_t *)id, strlen(id), 0, 1);
    }
    ck_assert_int_eq(rc, IOTSEC_E_IO);
    ck_assert_int_eq(sqlite3_get_autocommit(db), 1);
    ck_assert_int_eq(peek(st, (const uint8_t *)id, strlen(id), 0, 1), IOTSEC_OK); /* nothing */
    /* a known device's state is rewritten in place: still accepted */
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 2), IOTSEC_OK);
    /* the counter is accepted in the transaction, the frame row does not fit: rollback */
    ck_assert_int_eq(iotsec_replay_store_begin(st), IOTSEC_OK);
    ck_assert_int_eq(cc(st, DEV_A, LEN_A, 0, 3), IOTSEC_OK);
    ck_assert_int_eq(sqlite3_exec(db, "INSERT INTO frames VALUES(zeroblob(100000))", NULL, NULL,
                                  NULL) & 0xff,
                     SQLITE_FULL);
    if (!sqlite3_get_autocommit(db)) /* SQLite may have rolled it back already */
        ck_assert_int_eq(iotsec_replay_store_rollback(st), IOTSEC_OK);
    ck_assert_int_eq(peek(st, DEV_A, LEN_A, 0, 3), IOTSEC_OK);
    ck_assert_int_eq(peek(st, DEV_A, LEN_A, 0, 2), IOTSEC_E_REPLAY);
    ck_assert_int_eq(sq_int(db, "SELECT count(*) FROM frames"), 0);
    iotsec_replay_sqlite_close(s);
    /* and after a restart */
    s = sq_open(path, 64, 0);
    st = iotsec_replay_sqlite_store(s);
    ck_assert_int_eq(peek(st, DEV_A, LEN_A, 0, 3), IOTSEC_OK);
    ck_assert_int_eq(peek(st, DEV_A, LEN_A, 0, 2), IOTSEC_E_REPLAY);
    ck_assert_int_eq(peek(st, (const uint8_t *)id, strlen(id), 0, 1), IOTSEC_OK);
    iotsec_replay_sqlite_close(s);
    tu_tmpdir_cleanup(dir);
}
END_TEST

START_TEST(test_sqlite_open_errors)
{
    char dir[256], path[512], link[512];
    iotsec_replay_sqlite *s = NULL;

    tu_tmpdir(dir, sizeof dir);
    path_in(path, sizeof path, dir, "replay.db");
    ck_assert_int_eq(iotsec_replay_sqlite_open(NULL, path, 64, 0), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_replay_sqlite_open(&s, NULL, 64, 0), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_replay_sqlite_open(&s, path, 1025, 0), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_replay_sqlite_open(&s, path, 64, 0x80), IOTSEC_E_INVALID_ARG);
    path_in(path, sizeof path, dir, "missing/replay.db");
    ck_assert_int_eq(iotsec_replay_sqlite_open(&s, path, 64, 0), IOTSEC_E_IO);
    /* a symbolic link is refused, and its target is not created */
    path_in(path, sizeof path, dir, "target.db");
    path_in(link, sizeof link, dir, "link.db");
    ck_assert_int_eq(symlink(path, link), 0);
    ck_assert_int_eq(iotsec_replay_sqlite_open(&s, link, 64, 0), IOTSEC_E_IO);
    ck_assert_int_ne(access(path, F_OK), 0);
    ck_assert_ptr_null(s);
    /* out of memory: SQLite's heap limit also covers the store's own allocation */
    path_in(path, sizeof path, dir, "replay.db");
    sqlite3_hard_heap_limit64(1);
    ck_assert_int_eq(iotsec_replay_sqlite_open(&s, path, 64, 0), IOTSEC_E_NO_MEMORY);
    sqlite3_hard_heap_limit64(0);
    ck_assert_ptr_null(s);
    s = sq_open(path, 64, 0);
    iotsec_replay_sqlite_close(s);
    tu_tmpdir_cleanup(dir);
}
END_TEST

static Suite *replay_store_suite(void)
{
    Suite *s = suite_create("replay_store");
    TCase *mem = tcase_create("memory");
    TCase *sq = tcase_create("sqlite");

    tcase_add_test(mem, test_mem_window);
    tcase_add_test(mem, test_mem_table_full);
    tcase_add_test(mem, test_mem_transactions);
    tcase_add_test(mem, test_mem_invalid_args);
    tcase_add_test(mem, test_store_window);
    suite_add_tcase(s, mem);
    tcase_add_test(sq, test_sqlite_window_and_schema);
    tcase_add_test(sq, test_sqlite_restart);
    tcase_add_test(sq, test_sqlite_transactions);
    tcase_add_test(sq, test_sqlite_window_change);
    tcase_add_test(sq, test_sqlite_corrupt_and_foreign);
    tcase_add_test(sq, test_sqlite_ecowatt_namespace);
    tcase_add_test(sq, test_sqlite_ecowatt_upgrade);
    tcase_add_test(sq, test_sqlite_four_processes);
    tcase_add_test(sq, test_sqlite_lock_timeout);
    tcase_add_test(sq, test_sqlite_full);
    tcase_add_test(sq, test_sqlite_open_errors);
    tcase_set_timeout(sq, 120);
    suite_add_tcase(s, sq);
    return s;
}

int main(void)
{
    return tu_run_suite(replay_store_suite());
}
