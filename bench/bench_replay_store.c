/* Benchmark: receiver replay store (replay_store.h). SQLite check-and-commit per second, one
 * per transaction and batched 64 per transaction, with synchronous=FULL and NORMAL, as a
 * ratio against the raw SQLite primitive measured in the same run (one INSERT OR REPLACE of
 * a 139-byte blob per transaction, same settings); the in-memory store against one OpenSSL
 * HMAC-SHA256 of a 64-byte frame (the tag check every accepted frame pays). Each figure runs
 * for a bounded time in a temporary directory that is removed. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "iotsec/iotsec.h"
#include "nonce_bench.h"

#define DEVICES 100u
#define RUN_S 1.5

static void device_id(unsigned i, uint8_t id[16], size_t *len)
{
    *len = (size_t)snprintf((char *)id, 16, "dev-%05u", i % DEVICES);
}

/* check_and_commit per second through the store interface; batch = 1: each call is its own
 * transaction, else batch calls per begin/commit */
static double run_store(iotsec_replay_store *st, unsigned batch, double max_s, unsigned long *n)
{
    unsigned long i = 0;
    double t0 = now_s();

    do {
        unsigned b;
        if (batch > 1 && iotsec_replay_store_begin(st) != IOTSEC_OK)
            exit(1);
        for (b = 0; b < batch; b++, i++) {
            uint8_t id[16];
            size_t len;
            device_id((unsigned)i, id, &len);
            if (iotsec_replay_store_check_and_commit(st, id, len, 0, i / DEVICES + 1u) !=
                IOTSEC_OK)
                exit(1);
        }
        if (batch > 1 && iotsec_replay_store_commit(st) != IOTSEC_OK)
            exit(1);
    } while (now_s() - t0 < max_s);
    *n = i;
    return (double)i / (now_s() - t0);
}

/* the raw primitive: one INSERT OR REPLACE of a 139-byte blob per transaction */
static double run_raw(const char *path, int full, double max_s)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    uint8_t blob[IOTSEC_REPLAY_STATE_LEN];
    unsigned long i = 0;
    double t0;

    memset(blob, 1, sizeof blob);
    if (sqlite3_open(path, &db) != SQLITE_OK ||
        sqlite3_exec(db, full ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                              : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                     NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(db, "CREATE TABLE t(k BLOB, kid INTEGER, v BLOB, PRIMARY KEY(k, kid)) WITHOUT ROWID",
                     NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO t VALUES(?1, 0, ?2)", -1, &st, NULL) !=
            SQLITE_OK)
        exit(1);
    t0 = now_s();
    do {
        uint8_t id[16];
        size_t len;
        device_id((unsigned)i, id, &len);
        blob[0] = (uint8_t)i;
        sqlite3_bind_blob(st, 1, id, (int)len, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, blob, sizeof blob, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            exit(1);
        sqlite3_reset(st);
        i++;
    } while (now_s() - t0 < max_s);
    t0 = (double)i / (now_s() - t0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return t0;
}

static void rm_db(const char *path)
{
    char side[600];

    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
}

int main(void)
{
    char dir[256], path[512];
    const char *base = getenv("TMPDIR");
    static const char *sync_name[2] = {"NORMAL", "FULL"};
    int full;

    snprintf(dir, sizeof dir, "%s/iotsec-bench-XXXXXX", base && *base ? base : "/tmp");
    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(path, sizeof path, "%s/replay.db", dir);
    printf("SQLite check-and-commit (WAL, %u devices, W = 64):\n", DEVICES);
    for (full = 1; full >= 0; full--) {
        iotsec_replay_sqlite *s = NULL;
        unsigned long n1, n64;
        double one, b64, raw;

        raw = run_raw(path, full, RUN_S);
        rm_db(path);
        if (iotsec_replay_sqlite_open(&s, path, 64, full ? 0 : IOTSEC_REPLAY_SQLITE_SYNC_NORMAL) !=
            IOTSEC_OK)
            return 1;
        one = run_store(iotsec_replay_sqlite_store(s), 1, RUN_S, &n1);
        iotsec_replay_sqlite_close(s);
        rm_db(path);
        if (iotsec_replay_sqlite_open(&s, path, 64, full ? 0 : IOTSEC_REPLAY_SQLITE_SYNC_NORMAL) !=
            IOTSEC_OK)
            return 1;
        b64 = run_store(iotsec_replay_sqlite_store(s), 64, RUN_S, &n64);
        iotsec_replay_sqlite_close(s);
        rm_db(path);
        printf("  synchronous=%-6s 1 per txn  %9.0f /s (%lu)   = %.2f x raw SQLite upsert/txn (%.0f /s)\n",
               sync_name[full], one, n1, one / raw, raw);
        printf("  synchronous=%-6s 64 per txn %9.0f /s (%lu)   = %.2f x raw\n", sync_name[full],
               b64, n64, b64 / raw);
    }
    rmdir(dir);
    {
        static iotsec_replay_mem_entry table[DEVICES];
        iotsec_replay_mem m;
        unsigned long n;
        double rate, hm = raw_hmac(0.5);

        if (iotsec_replay_mem_init(&m, table, DEVICES, NULL, 0, 64) != IOTSEC_OK)
            return 1;
        rate = run_store(iotsec_replay_mem_store(&m), 1, 0.5, &n);
        printf("in-memory store (%u devices, linear scan): %.0f /s = %.2f x OpenSSL "
               "HMAC-SHA256(64 B) rate (%.0f /s)\n", DEVICES, rate, rate / hm, hm);
    }
    return 0;
}
