/* Fuzz target: the SQLite replay store's row decoding (libiotsec/store/sqlite.c). The
 * input becomes the stored state of one (device, kid) row — written straight into the
 * table through the store's own connection, as a damaged or foreign file would hold it —
 * and the store, opened with one of several windows W, answers for counters around the
 * row's window. Everything runs inside one transaction that is rolled back, so the file
 * never changes and nothing reaches the disk.
 *
 * Input: byte 0 = store (bits 0–2: W of 0, 1, 64, 100 or 1024) and value type (bits 3–4:
 * BLOB, or TEXT / INTEGER / zero-length BLOB); the rest is the value.
 *
 * Invariants checked:
 *   - a row iotsec_replay_decode refuses (or a value that is not a BLOB) is IOTSEC_E_CORRUPT
 *     for every operation and is never rewritten;
 *   - a row that decodes (window Wo) answers, under the store's W = Wn, exactly:
 *     fresh iff ctr > highest, or ctr ≥ 1, highest − ctr < min(Wo, Wn) and the row's
 *     window says fresh (conversion never accepts a counter the row refused);
 *   - check_and_commit of a fresh counter rewrites the row in the store's W, after which the
 *     counter is a replay. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "iotsec/error.h"
#include "iotsec/replay.h"
#include "iotsec/replay_sqlite.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NSTORES 5u
static const unsigned store_w[NSTORES] = {0, 1, 64, 100, 1024};
static iotsec_replay_sqlite *stores[NSTORES];
static char dir[64], path[96];
static const uint8_t dev[] = "fuzz-device";
#define DEV_LEN (sizeof dev - 1u)
#define KID 7

static void cleanup(void)
{
    static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};
    char p[128];
    size_t i;

    for (i = 0; i < NSTORES; i++)
        iotsec_replay_sqlite_close(stores[i]);
    for (i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s%s", path, sfx[i]);
        unlink(p);
    }
    rmdir(dir);
}

static void setup(void)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    size_t i;

    snprintf(dir, sizeof dir, "%s/iotsec-fuzz-XXXXXX", base);
    if (mkdtemp(dir) == NULL)
        abort();
    snprintf(path, sizeof path, "%s/replay.db", dir);
    for (i = 0; i < NSTORES; i++) {
        if (iotsec_replay_sqlite_open(&stores[i], path, store_w[i],
                                      IOTSEC_REPLAY_SQLITE_SYNC_NORMAL) != IOTSEC_OK)
            abort();
    }
    atexit(cleanup);
}

/* write the row: value of the given kind (0 BLOB, 1 TEXT, 2 INTEGER, 3 empty BLOB) */
static void put_row(sqlite3 *db, int kind, const uint8_t *v, size_t n)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "INSERT OR REPLACE INTO iotsec_replay_state(device_id, kid, state)"
                                " VALUES(?1, ?2, ?3)",
                                -1, &st, NULL);

    if (rc == SQLITE_OK)
        rc = sqlite3_bind_blob(st, 1, dev, (int)DEV_LEN, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(st, 2, KID);
    if (rc == SQLITE_OK) {
        if (kind == 1)
            rc = sqlite3_bind_text(st, 3, (const char *)v, (int)n, SQLITE_STATIC);
        else if (kind == 2)
            rc = sqlite3_bind_int64(st, 3, (sqlite3_int64)n);
        else if (kind == 3)
            rc = sqlite3_bind_zeroblob(st, 3, 0);
        else
            rc = sqlite3_bind_blob(st, 3, v, (int)n, SQLITE_STATIC);
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        abort();
}

/* read the row back as a BLOB into buf (cap bytes); returns its length, or SIZE_MAX if it
 * is not a BLOB or longer than cap */
static size_t get_row(sqlite3 *db, uint8_t *buf, size_t cap)
{
    sqlite3_stmt *st = NULL;
    size_t n = SIZE_MAX;

    if (sqlite3_prepare_v2(db,
                           "SELECT state FROM iotsec_replay_state WHERE device_id = ?1 AND kid = ?2",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_bind_blob(st, 1, dev, (int)DEV_LEN, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int(st, 2, KID) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW)
        abort();
    if (sqlite3_column_type(st, 0) == SQLITE_BLOB) {
        const void *p = sqlite3_column_blob(st, 0);
        int len = sqlite3_column_bytes(st, 0);
        if (len >= 0 && (size_t)len <= cap) {
            if (len > 0)
                memcpy(buf, p, (size_t)len);
            n = (size_t)len;
        }
    }
    sqlite3_finalize(st);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    static uint8_t back[65536];
    iotsec_replay_window old, now;
    iotsec_replay_store *s;
    sqlite3 *db;
    unsigned which, Wn, lim;
    int kind, decodes, rc, i;
    uint64_t probe[16], d, fresh_ctr = 0;
    size_t n;

    if (!ready) {
        setup();
        ready = 1;
    }
    if (size < 1 || size > sizeof back)
        return 0;
    which = (data[0] & 7u) % NSTORES;
    kind = (data[0] >> 3) & 3;
    Wn = store_w[which];
    s = iotsec_replay_sqlite_store(stores[which]);
    db = iotsec_replay_sqlite_db(stores[which]);
    data++;
    size--;
    decodes = kind == 0 && iotsec_replay_decode(&old, data, size) == IOTSEC_OK;
    if (kind == 3)
        decodes = iotsec_replay_decode(&old, data, 0) == IOTSEC_OK;

    if (iotsec_replay_store_begin(s) != IOTSEC_OK)
        abort();
    put_row(db, kind, data, size);

    /* counters around both windows' edges */
    if (decodes) {
        lim = old.window < Wn ? old.window : Wn;
        probe[0] = old.highest + 1u;
        probe[1] = old.highest;
        probe[2] = old.highest - 1u;
        probe[3] = old.highest - 2u;
        probe[4] = old.highest - (old.window ? old.window - 1u : 0u);
        probe[5] = old.highest - old.window;
        probe[6] = old.highest - (Wn ? Wn - 1u : 0u);
        probe[7] = old.highest - Wn;
        probe[8] = old.highest - Wn - 1u;
        probe[9] = 1;
        probe[10] = 0;
        probe[11] = UINT64_MAX;
        probe[12] = old.highest - 63u;
        probe[13] = old.highest - 64u;
        probe[14] = old.highest - old.window - 1u;
        probe[15] = old.highest + 1000u;
    } else {
        lim = 0;
        for (i = 0; i < 16; i++)
            probe[i] = (uint64_t)i * 0x1111111111111111u;
    }
    for (i = 0; i < 16; i++) {
        uint64_t ctr = probe[i];
        int want;
        rc = iotsec_replay_store_check(s, dev, DEV_LEN, KID, ctr);
        if (!decodes) {
            if (rc != IOTSEC_E_CORRUPT)
                abort();
            continue;
        }
        d = old.highest - ctr;
        want = ctr > old.highest ||
               (ctr >= 1 && d < lim && iotsec_replay_check(&old, ctr) == IOTSEC_OK);
        if (rc != (want ? IOTSEC_OK : IOTSEC_E_REPLAY))
            abort();
        if (want && fresh_ctr == 0)
            fresh_ctr = ctr;
    }

    if (!decodes) {
        /* a damaged row is refused by check_and_commit too, and left as it was */
        if (iotsec_replay_store_check_and_commit(s, dev, DEV_LEN, KID, 1) != IOTSEC_E_CORRUPT)
            abort();
        n = get_row(db, back, sizeof back);
        if (kind == 0 ? (n != size || (n > 0 && memcmp(back, data, n) != 0))
                      : kind == 3 ? n != 0 : n != SIZE_MAX)
            abort();
    } else if (fresh_ctr != 0) {
        /* accepted: the row is rewritten in the store's W and the counter is now a replay */
        if (iotsec_replay_store_check_and_commit(s, dev, DEV_LEN, KID, fresh_ctr) != IOTSEC_OK ||
            iotsec_replay_store_check(s, dev, DEV_LEN, KID, fresh_ctr) != IOTSEC_E_REPLAY ||
            iotsec_replay_store_check_and_commit(s, dev, DEV_LEN, KID, fresh_ctr) !=
                IOTSEC_E_REPLAY)
            abort();
        n = get_row(db, back, sizeof back);
        if (n != IOTSEC_REPLAY_STATE_LEN || iotsec_replay_decode(&now, back, n) != IOTSEC_OK ||
            now.window != Wn || iotsec_replay_check(&now, fresh_ctr) != IOTSEC_E_REPLAY ||
            now.highest < old.highest)
            abort();
    }
    if (iotsec_replay_store_rollback(s) != IOTSEC_OK)
        abort();
    return 0;
}
