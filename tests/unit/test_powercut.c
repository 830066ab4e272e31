/* Check suite: power cuts for the stores (issue 19 item 7; docs/DESIGN.md §5).
 *
 * SQLite replay store. A deterministic workload (several devices and kids in both
 * namespaces of one database — frames v1 with W = 64 and the legacy EcoWatt nonces with
 * W = 0 —: in-order counters, reordering inside the window, replays, too-old counters,
 * transactions committed and rolled back, WAL checkpoints, clean close and reopen) runs on
 * the powercut VFS (powercut_vfs.h), made SQLite's default VFS, so the library's unchanged
 * iotsec_replay_sqlite_open uses it. After every write event of the workload (each one a
 * cut point: the write is in the disk cache, not synced) the test forks: the child is the
 * machine at the instant the power went — it never returns into SQLite — and writes the
 * disk as the model says it is after a power loss (unsynced writes dropped, non-durable
 * file creations and removals undone) into a directory of its own, "reboots" the store
 * from it with the normal VFS and reports to the parent, which goes on with the workload;
 * once more after the end. Asserted at every cut point:
 *   (b) the store opens and PRAGMA integrity_check says ok;
 *   the persisted windows equal those after every acknowledged operation, or after those
 *   plus the one in flight at the cut (an operation that did not return OK may or may not
 *   have committed; nothing else is allowed — no lost commit, no invented state);
 *   (a) every acknowledged counter (check_and_commit or commit returned IOTSEC_OK) is refused
 *   as a replay through the public interface;
 *   (c) new counters (above the window, and a free one inside it) are accepted.
 * Also: the same with a random part of the unsynced writes kept (a disk that wrote back
 * part of its cache); a short workload on a database an older version left (rollback
 * journal, no legacy table: the open converts it); and, sampled, the other way to die —
 * the VFS fails every call from the cut on, the library sees the errors and closes.
 * Negative controls show the harness is not blind: with PRAGMA synchronous=OFF or a disk
 * that ignores fsync it must find lost counters; with the documented
 * IOTSEC_REPLAY_SQLITE_SYNC_NORMAL it must find the documented loss of the last commits,
 * and never a damaged file.
 *
 * Sender counter (counter.h). A memory port models durable and pending state (a write lands
 * in a cache that reads return; only flush makes it durable). At every write, every byte
 * prefix of the slot being written (the rest old bytes, erased 0xFF or zeros) and every
 * subset of the writes not yet flushed is a power-cut state; at every flush, every subset
 * of the pending writes and every torn prefix of one. From each state the sender reboots and
 * must hand out counters strictly above every counter it handed out before the cut. The
 * same is done with the real POSIX file port wrapped (its pwrite and fsync run for real,
 * durability is the fsync system call itself, interposed; the cut states are written as
 * files and rebooted through iotsec_counter_file_open). A negative control with a port
 * whose flush lies must find a reused counter. */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "powercut_vfs.h"
#include "testutil.h"

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* out = dir/name, checked */
static void join(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);

    ck_assert(n > 0 && (size_t)n < cap);
}

static uint32_t rnd(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* ==== SQLite replay store ================================================================ */

#define PC_W 64u          /* frames v1 window */
#define PC_SEED 0x5eed1234u
#define PC_OPS 900u       /* operations of the workload */
#define PC_MIN_POINTS 1000u

#define NDEV 3u
#define NKID 3u
#define NFR (NDEV * NKID)   /* frame v1 (device, kid) pairs */
#define NPAIR (NFR + NDEV)  /* plus one legacy nonce sequence per device */

static const char *const dev_ids[NDEV] = {
    "dev-a", "device-b.example:01",
    "d-64-bytes-long-device-id-0123456789abcdefghijklmnopqrstuvwxyz01", /* 64 bytes */
};
static const uint8_t kids[NKID] = {0, 1, 7};

static int pair_ecowatt(unsigned p)
{
    return p >= NFR;
}

static const char *pair_dev(unsigned p)
{
    return dev_ids[p < NFR ? p / NKID : p - NFR];
}

static uint8_t pair_kid(unsigned p)
{
    return p < NFR ? kids[p % NKID] : (uint8_t)IOTSEC_ECOWATT_REPLAY_KID;
}

/* The replay state of every pair. */
typedef struct model {
    iotsec_replay_window w[NPAIR];
} model;

static void model_init(model *m)
{
    unsigned p;

    for (p = 0; p < NPAIR; p++)
        (void)iotsec_replay_init(&m->w[p], pair_ecowatt(p) ? 0 : PC_W);
}

typedef struct pc_ack {
    unsigned pair;
    uint64_t ctr;
} pc_ack;

/* How a sweep runs the workload. */
typedef struct pc_cfg {
    unsigned vfs_flags;  /* PCV_* */
    unsigned open_flags; /* IOTSEC_REPLAY_SQLITE_* */
    int sync_off;        /* negative control: PRAGMA synchronous = OFF after each open */
    unsigned ops;        /* operations of the workload (0: PC_OPS) */
    int legacy;          /* start from a database made before the legacy table existed */
} pc_cfg;

/* The counter the legacy database starts with (dev-a kid 0, frames), written before the
 * run: acknowledged. */
#define LEGACY_CTR 40u

/* One run of the workload. `inflight` is set before every call that may commit, so that at
 * any write event (a forked child) or after a failed call (a dead VFS) the state on disk
 * must be `acked` or `inflight`. */
typedef struct pc_run {
    uint64_t cut_at; /* dead-VFS mode: the power goes at this write (0: never) */
    model acked;     /* after every acknowledged operation */
    model inflight;  /* the same plus the operation in flight, had it committed */
    pc_ack *acks;
    size_t nacks, capacks;
    unsigned ops;
    char why[512]; /* the workload saw something it must not (not a power-cut matter) */
} pc_run;

static void ack_add(pc_run *r, unsigned pair, uint64_t ctr)
{
    if (r->nacks == r->capacks) {
        r->capacks = r->capacks != 0 ? 2 * r->capacks : 256;
        r->acks = realloc(r->acks, r->capacks * sizeof *r->acks);
        ck_assert_ptr_nonnull(r->acks);
    }
    r->acks[r->nacks].pair = pair;
    r->acks[r->nacks].ctr = ctr;
    r->nacks++;
}

static iotsec_replay_store *store_of(iotsec_replay_sqlite *s, unsigned p)
{
    return pair_ecowatt(p) ? iotsec_replay_sqlite_ecowatt_store(s) : iotsec_replay_sqlite_store(s);
}

static int pair_cc(iotsec_replay_sqlite *s, unsigned p, uint64_t ctr)
{
    const char *id = pair_dev(p);

    return iotsec_replay_store_check_and_commit(store_of(s, p), (const uint8_t *)id, strlen(id),
                                                pair_kid(p), ctr);
}

static int pair_peek(iotsec_replay_sqlite *s, unsigned p, uint64_t ctr)
{
    const char *id = pair_dev(p);

    return iotsec_replay_store_check(store_of(s, p), (const uint8_t *)id, strlen(id),
                                     pair_kid(p), ctr);
}

/* A counter for pair p given its window: mostly fresh, some reordered inside the window
 * (fresh or already seen), replays, too old, counter 0, jumps. */
static uint64_t pick_ctr(const iotsec_replay_window *w, int ecowatt, uint32_t *rng)
{
    uint64_t h = w->highest, d;
    uint32_t r = rnd(rng) % 16u;

    if (ecowatt) {
        if (h == 0 || r < 11)
            return h + 1u + rnd(rng) % 2u;
        if (r < 15)
            return h - rnd(rng) % 3u; /* replay (0 when h is small: also refused) */
        return 0;
    }
    if (h == 0)
        return 1u + rnd(rng) % 4u;
    if (r < 7)
        return h + 1u + rnd(rng) % 3u;
    if (r < 11) {
        d = 1u + rnd(rng) % (PC_W - 1u);
        return d < h ? h - d : h + 1u;
    }
    if (r < 13)
        return h;
    if (r == 13)
        return h > PC_W ? h - PC_W - rnd(rng) % 3u : 0u;
    if (r == 14)
        return h + PC_W / 2u + rnd(rng) % PC_W;
    return 0;
}

/* An operation failed: fine (stop) when the power is gone and the failure is an I/O error;
 * anything else is recorded as a workload failure. Returns 1 (stop). */
static int expect_cut(pc_run *r, int rc, const char *what)
{
    if (pcv_cut_happened() && rc == IOTSEC_E_IO)
        return 1;
    snprintf(r->why, sizeof r->why, "op %u: %s: %s (%d) %s", r->ops, what, iotsec_strerror(rc),
             rc, pcv_cut_happened() ? "after the cut" : "with the power on");
    return 1;
}

static int wl_open(iotsec_replay_sqlite **s, const char *path, const pc_cfg *cfg,
                   unsigned autockpt)
{
    char sql[64];
    sqlite3 *db;
    int rc = iotsec_replay_sqlite_open(s, path, PC_W, cfg->open_flags);

    if (rc != IOTSEC_OK)
        return rc;
    db = iotsec_replay_sqlite_db(*s);
    snprintf(sql, sizeof sql, "PRAGMA wal_autocheckpoint = %u", autockpt);
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return IOTSEC_E_IO;
    if (cfg->sync_off && sqlite3_exec(db, "PRAGMA synchronous = OFF", NULL, NULL, NULL) != SQLITE_OK)
        return IOTSEC_E_IO;
    return IOTSEC_OK;
}

/* One check_and_commit outside a transaction (its own transaction). */
static int op_single(pc_run *r, iotsec_replay_sqlite *s, uint32_t *rng)
{
    unsigned p = rnd(rng) % NPAIR;
    uint64_t ctr = pick_ctr(&r->acked.w[p], pair_ecowatt(p), rng);
    int exp = iotsec_replay_check(&r->acked.w[p], ctr), rc;

    if (exp == IOTSEC_OK) /* from here on it may commit */
        ck_assert_int_eq(iotsec_replay_commit(&r->inflight.w[p], ctr), IOTSEC_OK);
    rc = pair_cc(s, p, ctr);
    if (rc != IOTSEC_OK && rc != IOTSEC_E_REPLAY)
        return expect_cut(r, rc, "check_and_commit");
    if (rc != exp) {
        snprintf(r->why, sizeof r->why, "op %u: pair %u counter %llu: store %d, model %d", r->ops,
                 p, (unsigned long long)ctr, rc, exp);
        return 1;
    }
    if (rc == IOTSEC_OK) {
        ck_assert_int_eq(iotsec_replay_commit(&r->acked.w[p], ctr), IOTSEC_OK);
        ack_add(r, p, ctr);
    }
    return 0;
}

/* A transaction of 1–4 check_and_commits over both namespaces, committed or rolled back
 * (begin, commit and rollback each on either handle: one connection, one transaction). */
static int op_txn(pc_run *r, iotsec_replay_sqlite *s, uint32_t *rng)
{
    model work = r->acked;
    pc_ack pend[4];
    unsigned n = 0, i, k = 1u + rnd(rng) % 4u;
    iotsec_replay_store *h = (rnd(rng) & 1u) ? iotsec_replay_sqlite_store(s)
                                             : iotsec_replay_sqlite_ecowatt_store(s);
    int rc = iotsec_replay_store_begin(h);

    if (rc != IOTSEC_OK)
        return expect_cut(r, rc, "begin");
    for (i = 0; i < k; i++) {
        unsigned p = rnd(rng) % NPAIR;
        uint64_t ctr = pick_ctr(&work.w[p], pair_ecowatt(p), rng);
        int exp = iotsec_replay_check(&work.w[p], ctr);

        rc = pair_cc(s, p, ctr);
        if (rc != IOTSEC_OK && rc != IOTSEC_E_REPLAY)
            return expect_cut(r, rc, "check_and_commit in a transaction");
        if (rc != exp) {
            snprintf(r->why, sizeof r->why, "op %u (txn): pair %u counter %llu: store %d, model %d",
                     r->ops, p, (unsigned long long)ctr, rc, exp);
            return 1;
        }
        if (rc == IOTSEC_OK) {
            ck_assert_int_eq(iotsec_replay_commit(&work.w[p], ctr), IOTSEC_OK);
            pend[n].pair = p;
            pend[n].ctr = ctr;
            n++;
        }
    }
    h = (rnd(rng) & 1u) ? iotsec_replay_sqlite_store(s) : iotsec_replay_sqlite_ecowatt_store(s);
    if (rnd(rng) % 5u == 0) {
        rc = iotsec_replay_store_rollback(h);
        return rc == IOTSEC_OK ? 0 : expect_cut(r, rc, "rollback");
    }
    r->inflight = work; /* from here on it may commit */
    rc = iotsec_replay_store_commit(h);
    if (rc != IOTSEC_OK)
        return expect_cut(r, rc, "commit");
    r->acked = work;
    for (i = 0; i < n; i++)
        ack_add(r, pend[i].pair, pend[i].ctr);
    return 0;
}

static int op_checkpoint(pc_run *r, iotsec_replay_sqlite *s)
{
    int rc = sqlite3_exec(iotsec_replay_sqlite_db(s), "PRAGMA wal_checkpoint(TRUNCATE)", NULL,
                          NULL, NULL);

    return rc == SQLITE_OK ? 0 : expect_cut(r, IOTSEC_E_IO, "wal_checkpoint(TRUNCATE)");
}

/* Clean close (checkpoint, WAL removed) and reopen, alternating the autocheckpoint between
 * every 8 pages and SQLite's default 1000. */
static int op_reopen(pc_run *r, iotsec_replay_sqlite **s, const char *path, const pc_cfg *cfg,
                     unsigned *autockpt)
{
    int rc;

    iotsec_replay_sqlite_close(*s);
    *s = NULL;
    *autockpt = *autockpt == 8u ? 1000u : 8u;
    rc = wl_open(s, path, cfg, *autockpt);
    return rc == IOTSEC_OK ? 0 : expect_cut(r, rc, "reopen");
}

/* Run the workload on a fresh database at path through the powercut VFS (armed by the
 * caller), then close the store (cleanly, or after the cut with every I/O failing). */
static void workload(pc_run *r, const char *path, const pc_cfg *cfg)
{
    iotsec_replay_sqlite *s = NULL;
    uint32_t rng = PC_SEED;
    unsigned op, autockpt = 8;
    int rc;

    model_init(&r->acked);
    r->nacks = 0;
    if (cfg->legacy) {
        ck_assert_int_eq(iotsec_replay_commit(&r->acked.w[0], LEGACY_CTR), IOTSEC_OK);
        ack_add(r, 0, LEGACY_CTR);
    }
    r->inflight = r->acked;
    r->ops = 0;
    r->why[0] = '\0';
    rc = wl_open(&s, path, cfg, autockpt);
    if (rc != IOTSEC_OK) {
        (void)expect_cut(r, rc, "open");
    } else {
        for (op = 0; op < (cfg->ops != 0 ? cfg->ops : PC_OPS) && !pcv_cut_happened(); op++) {
            uint32_t k = rnd(&rng) % 100u;

            r->ops = op + 1u;
            if (k < 55)
                rc = op_single(r, s, &rng);
            else if (k < 90)
                rc = op_txn(r, s, &rng);
            else if (k < 95)
                rc = op_checkpoint(r, s);
            else
                rc = op_reopen(r, &s, path, cfg, &autockpt);
            if (rc != 0)
                break;
            r->inflight = r->acked; /* completed: nothing in flight */
        }
    }
    iotsec_replay_sqlite_close(s);
}

/* ---- reboot and verify ------------------------------------------------------------------ */

enum { V_OK = 0, V_LOST = 1, V_BROKEN = 2 };

/* What one reboot found (also sent from a forked child through a pipe). */
typedef struct pc_result {
    int v;                 /* V_* */
    int inflight_won;      /* the operation in flight had committed */
    uint64_t acks_checked; /* acknowledged counters checked */
    pcv_stats vfs;         /* what the VFS did at this cut */
    char why[768];
} pc_result;

typedef struct pc_totals {
    uint64_t writes;       /* write events of the workload */
    uint64_t points;       /* cut points verified */
    uint64_t acks_checked; /* acknowledged counters checked after a reboot */
    uint64_t inflight_won; /* reboots where the operation in flight had committed */
    uint64_t lost, broken; /* failures */
    uint64_t dropped, kept, resurrected, vanished; /* what the VFS did at the cuts */
    char first[1024];      /* the first failure */
} pc_totals;

static void totals_add(pc_totals *t, const pc_result *res, uint64_t n)
{
    t->points++;
    t->acks_checked += res->acks_checked;
    t->inflight_won += (uint64_t)res->inflight_won;
    t->dropped += res->vfs.dropped;
    t->kept += res->vfs.kept;
    t->resurrected += res->vfs.resurrected;
    t->vanished += res->vfs.vanished;
    if (res->v == V_OK)
        return;
    if (res->v == V_LOST)
        t->lost++;
    else
        t->broken++;
    if (t->first[0] == '\0' && n == 0)
        snprintf(t->first, sizeof t->first, "power cut after the end: %s", res->why);
    else if (t->first[0] == '\0')
        snprintf(t->first, sizeof t->first, "cut at write %llu: %s", (unsigned long long)n,
                 res->why);
}

static int model_eq(const model *a, const int *present, const model *b)
{
    unsigned p;

    for (p = 0; p < NPAIR; p++) {
        if (!present[p]) {
            if (b->w[p].highest != 0)
                return 0;
            continue;
        }
        if (a->w[p].highest != b->w[p].highest || a->w[p].window != b->w[p].window ||
            memcmp(a->w[p].bitmap, b->w[p].bitmap, sizeof a->w[p].bitmap) != 0)
            return 0;
    }
    return 1;
}

/* The persisted windows of one table (schema documented in replay_store.h). */
static int read_table(sqlite3 *db, const char *table, int ecowatt, model *m, int *present,
                      char *why, size_t cap)
{
    char sql[128];
    sqlite3_stmt *st = NULL;
    int rc;

    snprintf(sql, sizeof sql, "SELECT device_id, kid, state FROM %s", table);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf(why, cap, "%s: %s", sql, sqlite3_errmsg(db));
        return V_BROKEN;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const void *id = sqlite3_column_blob(st, 0);
        int id_len = sqlite3_column_bytes(st, 0);
        int kid = sqlite3_column_int(st, 1);
        const void *state = sqlite3_column_blob(st, 2);
        int state_len = sqlite3_column_bytes(st, 2);
        unsigned p, found = NPAIR;

        for (p = 0; p < NPAIR; p++) {
            if (pair_ecowatt(p) == ecowatt && (size_t)id_len == strlen(pair_dev(p)) &&
                memcmp(id, pair_dev(p), (size_t)id_len) == 0 && kid == pair_kid(p))
                found = p;
        }
        if (found == NPAIR || present[found] || state == NULL || state_len < 0 ||
            iotsec_replay_decode(&m->w[found], state, (size_t)state_len) != IOTSEC_OK) {
            snprintf(why, cap, "%s: unexpected or undecodable row (kid %d)", table, kid);
            sqlite3_finalize(st);
            return V_BROKEN;
        }
        present[found] = 1;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        snprintf(why, cap, "%s: %s", sql, sqlite3_errstr(rc));
        return V_BROKEN;
    }
    return V_OK;
}

static int integrity_ok(sqlite3 *db, char *why, size_t cap)
{
    sqlite3_stmt *st = NULL;
    int ok = 0;

    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        ok = t != NULL && strcmp((const char *)t, "ok") == 0;
        if (!ok)
            snprintf(why, cap, "integrity_check: %s", t != NULL ? (const char *)t : "(null)");
        else if (sqlite3_step(st) != SQLITE_DONE)
            ok = 0;
    } else {
        snprintf(why, cap, "integrity_check: %s", sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
    return ok;
}

/* Reboot from the disk at path (normal VFS) and check (b), the state, (a) and (c). Uses no
 * Check assertion: it runs in forked children too. */
static void verify(const pc_run *r, const char *path, pc_result *res)
{
    iotsec_replay_sqlite *s = NULL;
    model disk;
    const model *m = NULL;
    int present[NPAIR] = {0};
    char *why = res->why;
    size_t cap = sizeof res->why, i;
    unsigned p;
    int rc, v = V_OK;

    model_init(&disk);
    rc = iotsec_replay_sqlite_open(&s, path, PC_W, 0);
    if (rc != IOTSEC_OK) {
        snprintf(why, cap, "reopen after the cut: %s", iotsec_strerror(rc));
        res->v = V_BROKEN;
        return;
    }
    if (!integrity_ok(iotsec_replay_sqlite_db(s), why, cap))
        v = V_BROKEN;
    if (v == V_OK)
        v = read_table(iotsec_replay_sqlite_db(s), "iotsec_replay_state", 0, &disk, present, why,
                       cap);
    if (v == V_OK)
        v = read_table(iotsec_replay_sqlite_db(s), "iotsec_replay_ecowatt", 1, &disk, present,
                       why, cap);
    if (v == V_OK) {
        if (model_eq(&disk, present, &r->acked)) {
            m = &r->acked;
        } else if (model_eq(&disk, present, &r->inflight)) {
            m = &r->inflight;
            res->inflight_won = 1;
        } else {
            for (p = 0; p < NPAIR; p++) {
                uint64_t dh = present[p] ? disk.w[p].highest : 0;
                if (dh != r->acked.w[p].highest ||
                    (present[p] && memcmp(disk.w[p].bitmap, r->acked.w[p].bitmap,
                                          sizeof disk.w[p].bitmap) != 0))
                    break;
            }
            if (p == NPAIR)
                p = 0;
            snprintf(why, cap,
                     "state after reboot is neither the acknowledged one nor that plus the "
                     "operation in flight (op %u): %s %s kid %u: highest %llu, bitmap word 0 "
                     "%016llx on disk; acknowledged %llu, %016llx; with the op in flight %llu",
                     r->ops, pair_ecowatt(p) ? "ecowatt" : "frames", pair_dev(p), pair_kid(p),
                     (unsigned long long)(present[p] ? disk.w[p].highest : 0),
                     (unsigned long long)(present[p] ? disk.w[p].bitmap[0] : 0),
                     (unsigned long long)r->acked.w[p].highest,
                     (unsigned long long)r->acked.w[p].bitmap[0],
                     (unsigned long long)r->inflight.w[p].highest);
            v = V_LOST;
        }
    }
    /* (a) every acknowledged counter is a replay now (checked even when the state already
     * differs, so the message names a counter) */
    if (v != V_BROKEN) {
        for (i = 0; i < r->nacks; i++) {
            rc = pair_peek(s, r->acks[i].pair, r->acks[i].ctr);
            res->acks_checked++;
            if (rc != IOTSEC_E_REPLAY) {
                char more[256];
                snprintf(more, sizeof more,
                         "; acknowledged counter %llu of %s %s kid %u (ack %zu of %zu) is %s "
                         "after the reboot",
                         (unsigned long long)r->acks[i].ctr,
                         pair_ecowatt(r->acks[i].pair) ? "ecowatt" : "frames",
                         pair_dev(r->acks[i].pair), pair_kid(r->acks[i].pair), i + 1, r->nacks,
                         rc == IOTSEC_OK ? "ACCEPTED again" : iotsec_strerror(rc));
                if (v == V_OK)
                    why[0] = '\0';
                strncat(why, more, cap - strlen(why) - 1);
                v = V_LOST;
                break;
            }
        }
    }
    /* (c) the store goes on: a counter above the window, then a free one inside it */
    for (p = 0; v == V_OK && m != NULL && p < NPAIR; p++) {
        const iotsec_replay_window *w = &m->w[p];
        uint64_t d, fresh = w->highest + 1u;

        rc = pair_cc(s, p, fresh);
        if (rc == IOTSEC_OK)
            rc = pair_peek(s, p, fresh) == IOTSEC_E_REPLAY ? IOTSEC_OK : IOTSEC_E_STATE;
        for (d = 1; rc == IOTSEC_OK && !pair_ecowatt(p) && d < PC_W && d < w->highest; d++) {
            if (!(w->bitmap[d / 64u] & ((uint64_t)1 << (d % 64u)))) {
                rc = pair_cc(s, p, w->highest - d);
                break;
            }
        }
        if (rc != IOTSEC_OK) {
            snprintf(why, cap, "%s %s kid %u refuses a new counter after the reboot: %s",
                     pair_ecowatt(p) ? "ecowatt" : "frames", pair_dev(p), pair_kid(p),
                     iotsec_strerror(rc));
            v = V_BROKEN;
        }
    }
    iotsec_replay_sqlite_close(s);
    res->v = v;
}

/* Remove the files a run may leave in dir (and dir itself when rm_dir); 0 or -1. */
static int clean_dir(const char *dir, int rm_dir)
{
    static const char *const names[] = {"replay.db", "replay.db-wal", "replay.db-shm",
                                        "replay.db-journal"};
    char path[4096];
    size_t i;

    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (snprintf(path, sizeof path, "%s/%s", dir, names[i]) >= (int)sizeof path)
            return -1;
        (void)unlink(path);
    }
    return rm_dir ? rmdir(dir) : 0;
}

/* ---- frozen process: a forked child at every write event -------------------------------- */

static struct {
    const pc_run *r;
    uint64_t first, stride; /* cut at writes first, first + stride, … */
    char cutdir[4096];      /* where a child writes the disk it sees */
    uint32_t seed;
    pc_totals *t;
} fk;

/* In the child: the machine as the power went. Materialize the modelled disk into cutdir,
 * reboot from it and verify; never return into SQLite. */
static void child_cut(uint64_t n, pc_result *res)
{
    char path[4096];

    pcv_reseed(fk.seed ^ ((uint32_t)n * 2654435761u));
    if (pcv_materialize_to(fk.cutdir) != 0) {
        snprintf(res->why, sizeof res->why, "materialize: %s", strerror(errno));
        res->v = V_BROKEN;
        return;
    }
    res->vfs = pcv_get_stats();
    pcv_uninstall();
    if (snprintf(path, sizeof path, "%s/replay.db", fk.cutdir) >= (int)sizeof path) {
        res->v = V_BROKEN;
        return;
    }
    verify(fk.r, path, res);
    if (clean_dir(fk.cutdir, 0) != 0 && res->v == V_OK) {
        res->v = V_BROKEN;
        if (snprintf(res->why, sizeof res->why, "cannot clean %s", fk.cutdir) < 0)
            res->why[0] = '\0';
    }
}

/* The VFS's write hook (and, with n = 0, the point after the end): fork; the child is the
 * machine at the cut, the parent waits for its verdict and goes on. */
static void fork_cut(uint64_t n, void *arg)
{
    pc_result res;
    size_t got = 0;
    int fds[2], status = 0;
    pid_t pid;

    (void)arg;
    if (n != 0 && (n < fk.first || (n - fk.first) % fk.stride != 0))
        return;
    fflush(stdout);
    fflush(stderr);
    ck_assert_int_eq(pipe(fds), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        ssize_t w;
        close(fds[0]);
        memset(&res, 0, sizeof res);
        child_cut(n, &res);
        w = write(fds[1], &res, sizeof res);
        _exit(w == (ssize_t)sizeof res ? 0 : 3);
    }
    close(fds[1]);
    memset(&res, 0, sizeof res);
    while (got < sizeof res) {
        ssize_t k = read(fds[0], (char *)&res + got, sizeof res - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (got != sizeof res || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        memset(&res, 0, sizeof res);
        res.v = V_BROKEN;
        snprintf(res.why, sizeof res.why, "the child verifying it died (status 0x%x)",
                 (unsigned)status);
        (void)clean_dir(fk.cutdir, 0);
    }
    totals_add(fk.t, &res, n);
}

/* A replay database as an older libiotsec left it: schema 1 without the legacy table, in
 * rollback-journal mode (never opened by a version that switches to WAL), dev-a kid 0 having
 * seen LEGACY_CTR. Written with plain SQLite and the normal VFS. */
static void make_legacy_db(const char *path)
{
    uint8_t state[IOTSEC_REPLAY_STATE_LEN];
    char sql[1024], hex[2 * IOTSEC_REPLAY_STATE_LEN + 1];
    iotsec_replay_window w;
    sqlite3 *db = NULL;
    size_t n = 0;

    ck_assert_int_eq(iotsec_replay_init(&w, PC_W), IOTSEC_OK);
    ck_assert_int_eq(iotsec_replay_commit(&w, LEGACY_CTR), IOTSEC_OK);
    ck_assert_int_eq(iotsec_replay_encode(&w, state, sizeof state, &n), IOTSEC_OK);
    ck_assert_int_eq(iotsec_hex_encode(state, n, hex, sizeof hex), IOTSEC_OK);
    ck_assert_int_lt(snprintf(sql, sizeof sql,
                              "PRAGMA application_id = %d; PRAGMA user_version = 1;"
                              "CREATE TABLE iotsec_replay_state("
                              " device_id BLOB NOT NULL CHECK(length(device_id) BETWEEN 1 AND 64),"
                              " kid INTEGER NOT NULL CHECK(kid BETWEEN 0 AND 255),"
                              " state BLOB NOT NULL,"
                              " PRIMARY KEY(device_id, kid)) WITHOUT ROWID;"
                              "INSERT INTO iotsec_replay_state VALUES(CAST('%s' AS BLOB), %u, x'%s')",
                              IOTSEC_REPLAY_SQLITE_APPLICATION_ID, pair_dev(0), pair_kid(0), hex),
                     (int)sizeof sql);
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                                     "unix"),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_close(db), SQLITE_OK);
    ck_assert_int_eq(chmod(path, 0600), 0);
}

/* Run the workload once with a forked child verifying the cut at writes first, first +
 * stride, … and after the end. */
static void sweep_frozen(const pc_cfg *cfg, uint64_t first, uint64_t stride, pc_totals *t)
{
    char base[4096], rundir[4096], path[4096];
    pc_run r;

    memset(&r, 0, sizeof r);
    memset(t, 0, sizeof *t);
    tu_tmpdir(base, sizeof base);
    join(rundir, sizeof rundir, base, "run");
    join(fk.cutdir, sizeof fk.cutdir, base, "cut");
    ck_assert_int_eq(mkdir(rundir, 0700), 0);
    ck_assert_int_eq(mkdir(fk.cutdir, 0700), 0);
    join(path, sizeof path, rundir, "replay.db");
    fk.r = &r;
    fk.first = first;
    fk.stride = stride;
    fk.seed = PC_SEED ^ cfg->vfs_flags;
    fk.t = t;
    if (cfg->legacy)
        make_legacy_db(path);
    ck_assert_int_eq(pcv_install(), SQLITE_OK);
    pcv_arm(0, cfg->vfs_flags, fk.seed);
    pcv_on_write(fork_cut, NULL);
    workload(&r, path, cfg);
    pcv_on_write(NULL, NULL);
    ck_assert_msg(r.why[0] == '\0', "workload: %s", r.why);
    t->writes = pcv_writes();
    fork_cut(0, NULL); /* the power goes after the end (store closed cleanly) */
    pcv_arm(0, 0, 1);  /* forget the model */
    pcv_uninstall();
    free(r.acks);
    ck_assert_int_eq(clean_dir(rundir, 1), 0);
    ck_assert_int_eq(clean_dir(fk.cutdir, 1), 0);
    tu_tmpdir_cleanup(base);
}

/* ---- dead VFS: cut, every later call fails, close, reboot ------------------------------- */

/* Cut at writes first, first + stride, … by re-running the workload each time with a VFS
 * that dies at that write (the library then sees I/O errors and closes). */
static void sweep_dead(const pc_cfg *cfg, uint64_t total, uint64_t first, uint64_t stride,
                       pc_totals *t)
{
    char base[4096], dir[4096], path[4096], name[32];
    pc_run r;
    pc_result res;
    uint64_t n;

    memset(&r, 0, sizeof r);
    memset(t, 0, sizeof *t);
    tu_tmpdir(base, sizeof base);
    for (n = first; n <= total; n += stride) {
        snprintf(name, sizeof name, "r%llu", (unsigned long long)n);
        join(dir, sizeof dir, base, name);
        ck_assert_int_eq(mkdir(dir, 0700), 0);
        join(path, sizeof path, dir, "replay.db");
        ck_assert_int_eq(pcv_install(), SQLITE_OK);
        pcv_arm(n, cfg->vfs_flags, PC_SEED ^ (uint32_t)n);
        r.cut_at = n;
        workload(&r, path, cfg);
        ck_assert_msg(r.why[0] == '\0', "cut at write %llu: workload: %s",
                      (unsigned long long)n, r.why);
        ck_assert_msg(pcv_cut_happened(), "cut at write %llu never happened (%llu writes)",
                      (unsigned long long)n, (unsigned long long)pcv_writes());
        ck_assert_int_eq(pcv_materialize(), 0);
        memset(&res, 0, sizeof res);
        res.vfs = pcv_get_stats();
        pcv_uninstall();
        verify(&r, path, &res);
        totals_add(t, &res, n);
        ck_assert_int_eq(clean_dir(dir, 1), 0);
    }
    t->writes = total;
    free(r.acks);
    tu_tmpdir_cleanup(base);
}

/* ---- the sweeps --------------------------------------------------------------------------- */

static void print_totals(const char *label, const pc_totals *t, double secs)
{
    printf("powercut sqlite (%s): %llu write events, %llu cut points verified, %llu "
           "acknowledged counters checked after reboots, in-flight op found committed %llu "
           "times, unsynced ops dropped %llu kept %llu, files resurrected %llu vanished %llu, "
           "%llu lost, %llu broken, %.1f s\n",
           label, (unsigned long long)t->writes, (unsigned long long)t->points,
           (unsigned long long)t->acks_checked, (unsigned long long)t->inflight_won,
           (unsigned long long)t->dropped, (unsigned long long)t->kept,
           (unsigned long long)t->resurrected, (unsigned long long)t->vanished,
           (unsigned long long)t->lost, (unsigned long long)t->broken, secs);
    if (t->first[0] != '\0')
        printf("  first failure: %s\n", t->first);
    fflush(stdout);
}

static void sqlite_sweep_all(unsigned vfs_flags, const char *label)
{
    pc_cfg cfg = {vfs_flags, 0, 0, 0, 0};
    pc_totals t;
    double t0 = now_s();

    sweep_frozen(&cfg, 1, 1, &t);
    print_totals(label, &t, now_s() - t0);
    ck_assert_msg(t.lost == 0 && t.broken == 0, "%llu lost, %llu broken; first: %s",
                  (unsigned long long)t.lost, (unsigned long long)t.broken, t.first);
    ck_assert_uint_ge(t.writes, PC_MIN_POINTS);
    ck_assert_uint_eq(t.points, t.writes + 1u); /* every write, and after the end */
    /* not vacuous: cuts did drop unsynced writes, files came back and vanished, and when
     * part of the cache reached the disk some unacknowledged commit survived */
    ck_assert_uint_gt(t.dropped, 0);
    ck_assert_uint_gt(t.resurrected, 0);
    ck_assert_uint_gt(t.vanished, 0);
    if (vfs_flags & PCV_KEEP_SOME)
        ck_assert_uint_gt(t.inflight_won, 0);
    ck_assert_uint_gt(t.acks_checked, 100000u);
}

START_TEST(test_sqlite_every_write_unsynced_dropped)
{
    sqlite_sweep_all(0, "frozen at every write, unsynced writes dropped");
}
END_TEST

START_TEST(test_sqlite_every_write_unsynced_partly_kept)
{
    sqlite_sweep_all(PCV_KEEP_SOME, "frozen at every write, random unsynced writes kept");
}
END_TEST

/* Cut at every write of a short workload on a database an older version left: the open
 * switches it from a rollback journal to WAL (a hot journal may come back) and adds the
 * legacy table; the counter it held before must survive every cut. */
START_TEST(test_sqlite_every_write_upgrading_old_database)
{
    pc_cfg cfg = {0, 0, 0, 60, 1};
    pc_totals t;
    double t0 = now_s();

    sweep_frozen(&cfg, 1, 1, &t);
    print_totals("frozen at every write, old rollback-journal database upgraded", &t,
                 now_s() - t0);
    ck_assert_msg(t.lost == 0 && t.broken == 0, "%llu lost, %llu broken; first: %s",
                  (unsigned long long)t.lost, (unsigned long long)t.broken, t.first);
    ck_assert_uint_eq(t.points, t.writes + 1u);
    ck_assert_uint_gt(t.writes, 50);
    ck_assert_uint_gt(t.resurrected, 0); /* the rollback journal came back at some cuts */
}
END_TEST

/* The other way to die: the VFS fails every call from the cut on, the library sees the
 * errors (failed commits, rollbacks, close), then the disk is rebooted. Sampled: each
 * point re-runs the workload. */
START_TEST(test_sqlite_dead_vfs_sampled)
{
    pc_cfg cfg = {0, 0, 0, 0, 0};
    pc_totals t;
    double t0 = now_s();

    sweep_frozen(&cfg, 1, 1000000, &t); /* only to count the writes */
    sweep_dead(&cfg, t.writes, 7, 23, &t);
    print_totals("every call fails after the cut, every 23rd write", &t, now_s() - t0);
    ck_assert_msg(t.lost == 0 && t.broken == 0, "%llu lost, %llu broken; first: %s",
                  (unsigned long long)t.lost, (unsigned long long)t.broken, t.first);
    ck_assert_uint_ge(t.points, 40);
}
END_TEST

/* ---- negative controls: the harness must see a loss when durability is broken ----------- */

static void sqlite_control(const pc_cfg *cfg, const char *label, int may_break)
{
    pc_totals t;
    double t0 = now_s();

    sweep_frozen(cfg, 3, 17, &t);
    print_totals(label, &t, now_s() - t0);
    ck_assert_msg(t.lost > 0, "%s: the harness found no lost counter", label);
    if (!may_break)
        ck_assert_msg(t.broken == 0, "%s: %s", label, t.first);
}

START_TEST(test_sqlite_control_synchronous_off)
{
    pc_cfg cfg = {0, 0, 1, 0, 0};

    sqlite_control(&cfg, "control: PRAGMA synchronous=OFF, every 17th write", 1);
}
END_TEST

START_TEST(test_sqlite_control_disk_ignores_fsync)
{
    pc_cfg cfg = {PCV_LIE_SYNC, 0, 0, 0, 0};

    sqlite_control(&cfg, "control: xSync makes nothing durable, every 17th write", 1);
}
END_TEST

/* IOTSEC_REPLAY_SQLITE_SYNC_NORMAL is documented to lose the last commits at a power cut
 * but never to damage the file: both halves are checked. */
START_TEST(test_sqlite_sync_normal_loses_last_commits_only)
{
    pc_cfg cfg = {0, IOTSEC_REPLAY_SQLITE_SYNC_NORMAL, 0, 0, 0};

    sqlite_control(&cfg, "control: IOTSEC_REPLAY_SQLITE_SYNC_NORMAL, every 17th write", 0);
}
END_TEST

/* ---- the VFS model itself ---------------------------------------------------------------- */

static sqlite3_file *vfs_open(sqlite3_vfs *vfs, const char *path, int flags)
{
    sqlite3_file *f = calloc(1, (size_t)vfs->szOsFile);
    int out = 0;

    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(vfs->xOpen(vfs, path, f, flags | SQLITE_OPEN_READWRITE, &out), SQLITE_OK);
    return f;
}

static void vfs_close(sqlite3_file *f)
{
    ck_assert_int_eq(f->pMethods->xClose(f), SQLITE_OK);
    free(f);
}

static void expect_file(const char *path, const char *content)
{
    size_t n = 0;
    uint8_t *data;

    if (content == NULL) {
        ck_assert_msg(access(path, F_OK) != 0, "%s should not exist", path);
        return;
    }
    data = tu_read_file(path, &n);
    ck_assert_msg(n == strlen(content) && memcmp(data, content, n) == 0,
                  "%s holds %zu bytes, not \"%s\"", path, n, content);
    free(data);
}

/* The model the sweeps rely on: synced data survives, unsynced data does not, a new
 * journal's name is durable only after its first sync (the directory sync), a removal
 * without a directory sync is undone, and after the cut every I/O call fails. */
START_TEST(test_vfs_model)
{
    char dir[4096], db[4096], jr[4096], wal[4096];
    sqlite3_vfs *vfs;
    sqlite3_file *a, *j, *w;
    int main_flags = SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_CREATE;
    int jr_flags = SQLITE_OPEN_MAIN_JOURNAL | SQLITE_OPEN_CREATE;
    int wal_flags = SQLITE_OPEN_WAL | SQLITE_OPEN_CREATE;
    char buf[8];

    tu_tmpdir(dir, sizeof dir);
    join(db, sizeof db, dir, "db");
    join(jr, sizeof jr, dir, "db-journal");
    join(wal, sizeof wal, dir, "db-wal");
    ck_assert_int_eq(pcv_install(), SQLITE_OK);
    vfs = sqlite3_vfs_find(NULL);
    ck_assert_str_eq(vfs->zName, PCV_NAME);

    /* 1. no cut: materialize is "power lost now" */
    pcv_arm(0, 0, 1);
    tu_write_file(dir, "db", "old", 3, db, sizeof db); /* exists before: durable */
    a = vfs_open(vfs, db, main_flags);
    ck_assert_int_eq(a->pMethods->xWrite(a, "synced", 6, 0), SQLITE_OK);
    ck_assert_int_eq(a->pMethods->xSync(a, SQLITE_SYNC_FULL), SQLITE_OK);
    ck_assert_int_eq(a->pMethods->xWrite(a, "XX", 2, 0), SQLITE_OK); /* never synced */
    j = vfs_open(vfs, jr, jr_flags);
    ck_assert_int_eq(j->pMethods->xWrite(j, "journal", 7, 0), SQLITE_OK);
    ck_assert_int_eq(j->pMethods->xSync(j, SQLITE_SYNC_FULL), SQLITE_OK); /* + directory */
    vfs_close(j);
    ck_assert_int_eq(vfs->xDelete(vfs, jr, 0), SQLITE_OK); /* removal not durable */
    w = vfs_open(vfs, wal, wal_flags);
    ck_assert_int_eq(w->pMethods->xWrite(w, "wal", 3, 0), SQLITE_OK); /* never synced */
    vfs_close(w);
    ck_assert_int_eq(a->pMethods->xRead(a, buf, 6, 0), SQLITE_OK); /* reads see the cache */
    ck_assert_int_eq(memcmp(buf, "XXnced", 6), 0);
    vfs_close(a);
    expect_file(jr, NULL);
    ck_assert_int_eq(pcv_materialize(), 0);
    expect_file(db, "synced");
    expect_file(jr, "journal");
    expect_file(wal, NULL);
    ck_assert_uint_eq(pcv_get_stats().resurrected, 1);
    ck_assert_uint_eq(pcv_get_stats().vanished, 1);
    ck_assert_uint_eq(pcv_get_stats().dropped, 2);

    /* 2. a removal with a directory sync is durable; truncates are write events too */
    pcv_arm(0, 0, 1);
    ck_assert_int_eq(vfs->xDelete(vfs, jr, 1), SQLITE_OK);
    a = vfs_open(vfs, db, main_flags);
    ck_assert_int_eq(a->pMethods->xTruncate(a, 2), SQLITE_OK);
    ck_assert_int_eq(a->pMethods->xSync(a, SQLITE_SYNC_NORMAL), SQLITE_OK);
    vfs_close(a);
    ck_assert_uint_eq(pcv_writes(), 1);
    ck_assert_int_eq(pcv_materialize(), 0);
    expect_file(jr, NULL);
    expect_file(db, "sy");

    /* 3. the cut at write 2: that write fails, then every I/O call does */
    pcv_arm(2, 0, 1);
    a = vfs_open(vfs, db, main_flags);
    ck_assert_int_eq(a->pMethods->xWrite(a, "1", 1, 0), SQLITE_OK);
    ck_assert_int_eq(pcv_cut_happened(), 0);
    ck_assert_int_eq(a->pMethods->xWrite(a, "2", 1, 1), SQLITE_IOERR_WRITE);
    ck_assert_int_eq(pcv_cut_happened(), 1);
    ck_assert_int_eq(a->pMethods->xSync(a, SQLITE_SYNC_FULL), SQLITE_IOERR_FSYNC);
    ck_assert_int_eq(a->pMethods->xRead(a, buf, 1, 0), SQLITE_IOERR_READ);
    ck_assert_int_eq(a->pMethods->xWrite(a, "3", 1, 0), SQLITE_IOERR_WRITE);
    ck_assert_int_eq(vfs->xDelete(vfs, db, 0), SQLITE_IOERR_DELETE);
    vfs_close(a);
    ck_assert_int_eq(pcv_materialize(), 0);
    expect_file(db, "sy");
    ck_assert_uint_eq(pcv_get_stats().dropped, 2);
    pcv_uninstall();
    ck_assert_str_ne(sqlite3_vfs_find(NULL)->zName, PCV_NAME);
    tu_tmpdir_cleanup(dir);
}
END_TEST

/* ==== sender counter ===================================================================== */

#define SLOT IOTSEC_COUNTER_RECORD_LEN
#define MAXPEND 4u

typedef struct pend_write {
    unsigned slot;
    uint8_t buf[SLOT];
} pend_write;

/* A medium with a volatile cache: reads see every write, only flush makes them durable. */
typedef struct mport mport;
struct mport {
    uint8_t durable[2 * SLOT];
    uint8_t cache[2 * SLOT];
    pend_write pend[MAXPEND];
    unsigned npend, writes, flushes;
    int lie_flush; /* negative control: flush says OK and makes nothing durable */
    /* called at every write (buf: the write about to happen) and flush (buf NULL) */
    void (*cut)(mport *m, unsigned slot, const uint8_t *buf);
};

static int m_read(void *ctx, unsigned slot, uint8_t buf[SLOT])
{
    mport *m = ctx;

    ck_assert_uint_lt(slot, 2);
    memcpy(buf, m->cache + slot * SLOT, SLOT);
    return IOTSEC_OK;
}

static int m_write(void *ctx, unsigned slot, const uint8_t buf[SLOT])
{
    mport *m = ctx;

    ck_assert_uint_lt(slot, 2);
    if (m->cut != NULL)
        m->cut(m, slot, buf);
    ck_assert_msg(m->npend < MAXPEND, "more than %u writes without a flush", MAXPEND);
    memcpy(m->cache + slot * SLOT, buf, SLOT);
    m->pend[m->npend].slot = slot;
    memcpy(m->pend[m->npend].buf, buf, SLOT);
    m->npend++;
    m->writes++;
    return IOTSEC_OK;
}

static int m_flush(void *ctx)
{
    mport *m = ctx;
    unsigned i;

    if (m->cut != NULL)
        m->cut(m, 0, NULL);
    if (!m->lie_flush) {
        for (i = 0; i < m->npend; i++)
            memcpy(m->durable + m->pend[i].slot * SLOT, m->pend[i].buf, SLOT);
    }
    m->npend = 0;
    m->flushes++;
    return IOTSEC_OK;
}

static void m_init(mport *m, iotsec_counter_port *port, const uint8_t img[2 * SLOT])
{
    memset(m, 0, sizeof *m);
    if (img != NULL)
        memcpy(m->durable, img, sizeof m->durable);
    else
        memset(m->durable, 0xff, sizeof m->durable); /* erased */
    memcpy(m->cache, m->durable, sizeof m->cache);
    port->ctx = m;
    port->read = m_read;
    port->write = m_write;
    port->flush = m_flush;
}

/* The main timeline, seen from the cut enumerator. */
static struct {
    const iotsec_counter *c; /* the sender before the cut */
    uint64_t max_out;        /* largest counter it handed out */
    uint32_t step;
    uint64_t events, states, reboots, counters, fails;
    int use_file;            /* reboot through the real file port */
    const char *file;        /* where cut states are materialized for it */
    char first[512];
} cz;

static void cz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void cz_fail(const char *fmt, ...)
{
    va_list ap;

    cz.fails++;
    if (cz.first[0] == '\0') {
        va_start(ap, fmt);
        vsnprintf(cz.first, sizeof cz.first, fmt, ap);
        va_end(ap);
    }
}

/* Reboot a sender from a medium holding img (len bytes: the file port reads a short file as
 * blank) and check it hands out counters above everything handed out before the cut, not
 * absurdly far above, across its own next reservation write. */
static void reboot_check(const uint8_t *img, size_t len)
{
    iotsec_counter_port port;
    iotsec_counter c;
    iotsec_counter_file f;
    mport m;
    uint64_t prev = cz.max_out, ctr = 0;
    unsigned i;
    int rc;

    cz.states++;
    if (cz.use_file) {
        int fd = open(cz.file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, img, len), (ssize_t)len);
        ck_assert_int_eq(close(fd), 0);
        ck_assert_int_eq(iotsec_counter_file_open(&f, cz.file, &port), IOTSEC_OK);
    } else {
        ck_assert_uint_eq(len, 2 * SLOT);
        m_init(&m, &port, img);
    }
    rc = iotsec_counter_open(&c, &port, cz.step);
    if (rc != IOTSEC_OK) {
        cz_fail("reboot: open failed (%s) after %llu handed out", iotsec_strerror(rc),
                (unsigned long long)cz.max_out);
    } else {
        for (i = 0; i < 3; i++) {
            rc = iotsec_counter_next(&c, &ctr);
            if (rc != IOTSEC_OK) {
                cz_fail("reboot: next failed (%s) after %llu handed out", iotsec_strerror(rc),
                        (unsigned long long)cz.max_out);
                break;
            }
            cz.counters++;
            if (ctr <= prev) {
                cz_fail("counter %llu handed out again after a power cut (%llu had been)",
                        (unsigned long long)ctr, (unsigned long long)prev);
                break;
            }
            if (i == 0 && ctr > cz.c->reserved + cz.step) {
                cz_fail("reboot skips too far: %llu (reservation was %llu)",
                        (unsigned long long)ctr, (unsigned long long)cz.c->reserved);
                break;
            }
            prev = ctr;
        }
    }
    if (cz.use_file)
        iotsec_counter_file_close(&f);
    cz.reboots++;
}

/* The power-cut states at a write (buf, into slot) or a flush (buf NULL) of a medium with
 * durable content d (d_len bytes) and pending writes p[0..n): every subset of the pending
 * writes landed (in order); at a write, with that write torn after k = 0…20 bytes, the rest
 * of its slot old bytes, erased (0xFF; memory) or zeros (a file extended, data not written);
 * at a flush, one pending write torn after k = 1…19 bytes behind the earlier ones. */
static void put(uint8_t *img, size_t *len, size_t off, const uint8_t *data, size_t n)
{
    if (n == 0)
        return;
    if (off > *len)
        memset(img + *len, 0, off - *len);
    memcpy(img + off, data, n);
    if (off + n > *len)
        *len = off + n;
}

static void enumerate(const uint8_t *d, size_t d_len, const pend_write *p, unsigned n,
                      unsigned slot, const uint8_t *buf, int file)
{
    uint8_t img[2 * SLOT], t[2 * SLOT];
    size_t len, tl;
    unsigned mask, j, k, fill;

    cz.events++;
    for (mask = 0; mask < (1u << n); mask++) {
        memcpy(img, d, d_len);
        len = d_len;
        for (j = 0; j < n; j++) {
            if (mask & (1u << j))
                put(img, &len, p[j].slot * SLOT, p[j].buf, SLOT);
        }
        if (buf == NULL) {
            reboot_check(img, len);
            continue;
        }
        for (k = 0; k <= SLOT; k++) {
            for (fill = 0; fill < 3u; fill++) {
                size_t end = slot * SLOT + SLOT;
                if (k == SLOT && fill > 0)
                    break; /* the whole slot landed: nothing left to fill */
                if (file && fill == 1)
                    continue; /* a file has no erased state */
                memcpy(t, img, len);
                tl = len;
                put(t, &tl, slot * SLOT, buf, k);
                if (fill == 1) {
                    memset(t + slot * SLOT + k, 0xff, SLOT - k);
                } else if (fill == 2 && !file) {
                    memset(t + slot * SLOT + k, 0, SLOT - k);
                } else if (fill == 2) {
                    if (tl >= end)
                        continue; /* the file already covered the slot */
                    memset(t + tl, 0, end - tl);
                    tl = end;
                }
                reboot_check(t, tl);
            }
        }
    }
    for (j = 0; buf == NULL && j < n; j++) {
        for (k = 1; k < SLOT; k++) {
            unsigned i;
            memcpy(img, d, d_len);
            len = d_len;
            for (i = 0; i < j; i++)
                put(img, &len, p[i].slot * SLOT, p[i].buf, SLOT);
            put(img, &len, p[j].slot * SLOT, p[j].buf, k);
            reboot_check(img, len);
        }
    }
}

static void m_cut(mport *m, unsigned slot, const uint8_t *buf)
{
    enumerate(m->durable, sizeof m->durable, m->pend, m->npend, slot, buf, 0);
}

/* Run a sender through count counters (clean restarts now and then) with every power-cut
 * state checked; img: the initial medium (NULL: erased). */
static void counter_run(uint32_t step, uint64_t count, const uint8_t *img, int lie_flush)
{
    mport m;
    iotsec_counter_port port;
    iotsec_counter c;
    uint64_t i, ctr;

    m_init(&m, &port, img);
    m.cut = m_cut;
    m.lie_flush = lie_flush;
    cz.c = &c;
    cz.step = step;
    ck_assert_int_eq(iotsec_counter_open(&c, &port, step), IOTSEC_OK);
    for (i = 0; i < count; i++) {
        ck_assert_int_eq(iotsec_counter_next(&c, &ctr), IOTSEC_OK);
        ck_assert_uint_gt(ctr, cz.max_out);
        cz.max_out = ctr;
        if (i % 97u == 96u) /* clean restart: RAM lost, the medium (and its cache) kept */
            ck_assert_int_eq(iotsec_counter_open(&c, &port, step), IOTSEC_OK);
    }
    enumerate(m.durable, sizeof m.durable, NULL, 0, 0, NULL, 0); /* cut after the end */
}

static void cz_reset(void)
{
    memset(&cz, 0, sizeof cz);
}

START_TEST(test_counter_memory_port_every_write_byte_and_flush)
{
    static const struct {
        uint32_t step;
        uint64_t count;
    } runs[] = {{1, 400}, {3, 900}, {16, 4000}, {IOTSEC_COUNTER_DEFAULT_STEP, 80000}};
    uint8_t img[2 * SLOT];
    iotsec_counter_record rec;
    uint64_t writes = 0;
    size_t i;
    double t0 = now_s();

    cz_reset();
    for (i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        cz.max_out = 0;
        counter_run(runs[i].step, runs[i].count, NULL, 0);
        writes += runs[i].count / runs[i].step + 1u;
    }
    /* a record whose seq wraps during the run (serial arithmetic across a cut) */
    rec.seq = UINT32_MAX - 3u;
    rec.reserved = 5000;
    ck_assert_int_eq(iotsec_counter_record_encode(&rec, img + SLOT), IOTSEC_OK);
    rec.seq = UINT32_MAX - 4u;
    rec.reserved = 4000;
    ck_assert_int_eq(iotsec_counter_record_encode(&rec, img), IOTSEC_OK);
    cz.max_out = 4999;
    counter_run(5, 60, img, 0);
    printf("powercut counter (memory port, cache + durable): %llu write/flush events, %llu "
           "power-cut states rebooted, %llu counters checked after reboots, %.1f s\n",
           (unsigned long long)cz.events, (unsigned long long)cz.reboots,
           (unsigned long long)cz.counters, now_s() - t0);
    fflush(stdout);
    ck_assert_msg(cz.fails == 0, "%llu failures; first: %s", (unsigned long long)cz.fails,
                  cz.first);
    ck_assert_uint_ge(cz.events, 2 * writes);
    ck_assert_uint_ge(cz.reboots, 50000);
}
END_TEST

START_TEST(test_counter_control_flush_lies)
{
    cz_reset();
    counter_run(4, 200, NULL, 1);
    printf("powercut counter control (flush makes nothing durable): %llu states, %llu "
           "failures; first: %s\n",
           (unsigned long long)cz.reboots, (unsigned long long)cz.fails, cz.first);
    fflush(stdout);
    ck_assert_msg(cz.fails > 0, "the harness found no reused counter with a lying flush");
    ck_assert_msg(strstr(cz.first, "handed out again") != NULL, "%s", cz.first);
}
END_TEST

/* ---- the real POSIX file port, wrapped ------------------------------------------------- */

/* Wraps the file port: its read, pwrite and fsync run for real; the wrapper remembers the
 * file's content as of the last fsync and the writes since, and enumerates the power-cut
 * states at each write and flush, rebooting each through the file port.
 *
 * What is durable is decided by the fsync system call itself, not by the port saying so:
 * this binary defines fsync (Linux), so libiotsec's objects, linked statically into it,
 * call this one (hidden visibility: SQLite and libc are not affected). It performs the real
 * fsync and, when the descriptor is the counter file's, records the file's content at that
 * instant as durable; when it is the counter file's directory, records the directory sync. */
typedef struct fwrap {
    iotsec_counter_port inner;
    iotsec_counter_file *f;
    uint8_t durable[2 * SLOT];
    size_t dlen;
    pend_write pend[MAXPEND];
    unsigned npend;
    unsigned fsyncs; /* fsync calls on the counter file */
} fwrap;

#if defined(__linux__)
#include <sys/syscall.h>
#define FSYNC_WATCH 1

static struct {
    fwrap *w;          /* the counter file's wrapper, once opened */
    dev_t dir_dev;     /* its directory */
    ino_t dir_ino;
    unsigned dir_syncs;
} fsw;

int fsync(int fd)
{
    struct stat st;
    int rc = (int)syscall(SYS_fsync, fd);

    if (rc != 0 || fstat(fd, &st) != 0)
        return rc;
    if (S_ISDIR(st.st_mode) && st.st_dev == fsw.dir_dev && st.st_ino == fsw.dir_ino)
        fsw.dir_syncs++;
    if (fsw.w != NULL && fd == fsw.w->f->fd) {
        /* the page cache as it is now is on the disk */
        ssize_t n = pread(fd, fsw.w->durable, sizeof fsw.w->durable, 0);
        if (n < 0)
            return -1;
        fsw.w->dlen = (size_t)n;
        fsw.w->npend = 0;
        fsw.w->fsyncs++;
    }
    return rc;
}
#endif

static int fw_read(void *ctx, unsigned slot, uint8_t buf[SLOT])
{
    fwrap *w = ctx;

    return w->inner.read(w->inner.ctx, slot, buf);
}

static int fw_write(void *ctx, unsigned slot, const uint8_t buf[SLOT])
{
    fwrap *w = ctx;
    int rc;

    enumerate(w->durable, w->dlen, w->pend, w->npend, slot, buf, 1);
    rc = w->inner.write(w->inner.ctx, slot, buf);
    if (rc == IOTSEC_OK) {
        ck_assert_uint_lt(w->npend, MAXPEND);
        w->pend[w->npend].slot = slot;
        memcpy(w->pend[w->npend].buf, buf, SLOT);
        w->npend++;
    }
    return rc;
}

static int fw_flush(void *ctx)
{
    fwrap *w = ctx;
    unsigned before = w->fsyncs;
    int rc;

    enumerate(w->durable, w->dlen, w->pend, w->npend, 0, NULL, 1);
    rc = w->inner.flush(w->inner.ctx);
#ifdef FSYNC_WATCH
    if (rc == IOTSEC_OK && w->fsyncs == before)
        cz_fail("the file port's flush returned OK without fsync of the counter file (%u)",
                before);
#else
    if (rc == IOTSEC_OK) { /* no fsync interposition here: trust the port */
        ssize_t n = pread(w->f->fd, w->durable, sizeof w->durable, 0);
        ck_assert_int_ge(n, 0);
        w->dlen = (size_t)n;
        w->npend = 0;
        w->fsyncs = before + 1u;
    }
#endif
    return rc;
}

START_TEST(test_counter_file_port_wrapped)
{
    char dir[4096], path[4096], cutpath[4096];
    iotsec_counter_file f;
    iotsec_counter_port fport, port;
    iotsec_counter c;
    fwrap w;
    uint64_t i, ctr;
    double t0 = now_s();

    cz_reset();
    tu_tmpdir(dir, sizeof dir);
    join(path, sizeof path, dir, "counter");
    join(cutpath, sizeof cutpath, dir, "after-cut");
    cz.use_file = 1;
    cz.file = cutpath;
    cz.step = 4;
    memset(&w, 0, sizeof w);
#ifdef FSYNC_WATCH
    {
        struct stat st;
        ck_assert_int_eq(stat(dir, &st), 0);
        memset(&fsw, 0, sizeof fsw);
        fsw.dir_dev = st.st_dev;
        fsw.dir_ino = st.st_ino;
    }
#endif
    /* the port creates the file and syncs its directory: an empty file is durable */
    ck_assert_int_eq(iotsec_counter_file_open(&f, path, &fport), IOTSEC_OK);
#ifdef FSYNC_WATCH
    ck_assert_msg(fsw.dir_syncs == 1, "the new counter file's directory was synced %u times",
                  fsw.dir_syncs);
    fsw.w = &w;
#endif
    w.inner = fport;
    w.f = &f;
    port.ctx = &w;
    port.read = fw_read;
    port.write = fw_write;
    port.flush = fw_flush;
    cz.c = &c;
    ck_assert_int_eq(iotsec_counter_open(&c, &port, cz.step), IOTSEC_OK);
    for (i = 0; i < 240; i++) {
        ck_assert_int_eq(iotsec_counter_next(&c, &ctr), IOTSEC_OK);
        ck_assert_uint_eq(ctr, i + 1u);
        cz.max_out = ctr;
    }
    enumerate(w.durable, w.dlen, NULL, 0, 0, NULL, 1);
#ifdef FSYNC_WATCH
    fsw.w = NULL;
#endif
    ck_assert_uint_eq(w.fsyncs, 240u / 4u);
    iotsec_counter_file_close(&f);
    printf("powercut counter (real file port wrapped): %llu write/flush events, %llu "
           "power-cut files rebooted through iotsec_counter_file_open, %llu counters "
           "checked, %.1f s\n",
           (unsigned long long)cz.events, (unsigned long long)cz.reboots,
           (unsigned long long)cz.counters, now_s() - t0);
    fflush(stdout);
    ck_assert_msg(cz.fails == 0, "%llu failures; first: %s", (unsigned long long)cz.fails,
                  cz.first);
    ck_assert_uint_eq(cz.events, 2u * (240u / 4u) + 1u);
    tu_tmpdir_cleanup(dir);
}
END_TEST

static Suite *powercut_suite(void)
{
    Suite *s = suite_create("powercut");
    TCase *sq = tcase_create("sqlite");
    TCase *ctl = tcase_create("sqlite-controls");
    TCase *ctr = tcase_create("counter");

    tcase_add_test(sq, test_vfs_model);
    tcase_add_test(sq, test_sqlite_every_write_unsynced_dropped);
    tcase_add_test(sq, test_sqlite_every_write_unsynced_partly_kept);
    tcase_add_test(sq, test_sqlite_every_write_upgrading_old_database);
    tcase_add_test(sq, test_sqlite_dead_vfs_sampled);
    tcase_set_timeout(sq, 900);
    suite_add_tcase(s, sq);
    tcase_add_test(ctl, test_sqlite_control_synchronous_off);
    tcase_add_test(ctl, test_sqlite_control_disk_ignores_fsync);
    tcase_add_test(ctl, test_sqlite_sync_normal_loses_last_commits_only);
    tcase_set_timeout(ctl, 600);
    suite_add_tcase(s, ctl);
    tcase_add_test(ctr, test_counter_memory_port_every_write_byte_and_flush);
    tcase_add_test(ctr, test_counter_control_flush_lies);
    tcase_add_test(ctr, test_counter_file_port_wrapped);
    tcase_set_timeout(ctr, 600);
    suite_add_tcase(s, ctr);
    return s;
}

int main(void)
{
    struct stat st;

    /* thousands of small databases: on tmpfs when there is one (tu_tmpdir reads TMPDIR) */
    if ((getenv("TMPDIR") == NULL || *getenv("TMPDIR") == '\0') && stat("/dev/shm", &st) == 0 &&
        S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0)
        (void)setenv("TMPDIR", "/dev/shm", 1);
    return tu_run_suite(powercut_suite());
}
