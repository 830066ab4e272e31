/* Check suite: the receiver replay window (include/iotsec/replay.h; bindings-spec/SPEC.md §5, RFC 4303
 * §3.4.3, RFC 6479) — a model-based test against a naive set of accepted counters for many
 * window sizes, the edge cases one by one (duplicates, reordering, too old, strict W = 0
 * and W = 1, W = 1024, shifts across 64-bit words, counter 0, a jump to UINT64_MAX), the
 * persisted form and every way decode refuses a damaged state, and a forged frame with a
 * huge counter that must not move the window (through the frame API). */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static int ok(const iotsec_replay_window *w, uint64_t c)
{
    return iotsec_replay_check(w, c) == IOTSEC_OK;
}

/* check, then commit, expecting the same answer from both */
static void expect(iotsec_replay_window *w, uint64_t c, int fresh)
{
    int want = fresh ? IOTSEC_OK : IOTSEC_E_REPLAY;

    ck_assert_msg(iotsec_replay_check(w, c) == want, "check %llu (W %u, highest %llu)",
                  (unsigned long long)c, (unsigned)w->window, (unsigned long long)w->highest);
    ck_assert_msg(iotsec_replay_commit(w, c) == want, "commit %llu", (unsigned long long)c);
}

static void same_window(const iotsec_replay_window *a, const iotsec_replay_window *b)
{
    ck_assert_uint_eq(a->highest, b->highest);
    ck_assert_uint_eq(a->window, b->window);
    ck_assert_mem_eq(a->bitmap, b->bitmap, sizeof a->bitmap);
}

/* ---- the model ------------------------------------------------------------------------- */

/* Naive reference: every accepted counter in a list. Fresh = not 0, never accepted, and
 * above highest or less than W below it. */
struct model {
    uint64_t *seen;
    size_t n, cap;
    uint64_t highest;
    unsigned w;
};

static int model_fresh(const struct model *m, uint64_t c)
{
    size_t i;

    if (c == 0)
        return 0;
    for (i = 0; i < m->n; i++) {
        if (m->seen[i] == c)
            return 0;
    }
    return c > m->highest || m->highest - c < m->w;
}

static void model_add(struct model *m, uint64_t c)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 64;
        m->seen = realloc(m->seen, m->cap * sizeof *m->seen);
        ck_assert_ptr_nonnull(m->seen);
    }
    m->seen[m->n++] = c;
    if (c > m->highest)
        m->highest = c;
}

static uint32_t rnd(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

START_TEST(test_model_random)
{
    static const unsigned windows[] = {0, 1, 2, 3, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129,
                                       500, 1000, 1023, 1024};
    size_t wi;

    for (wi = 0; wi < sizeof windows / sizeof windows[0]; wi++) {
        unsigned W = windows[wi];
        iotsec_replay_window w, copy;
        struct model m = {NULL, 0, 0, 0, W};
        uint32_t x = 0x9e3779b9u ^ (uint32_t)W;
        uint8_t st[IOTSEC_REPLAY_STATE_LEN];
        size_t step, sl;

        ck_assert_int_eq(iotsec_replay_init(&w, W), IOTSEC_OK);
        for (step = 0; step < 3000; step++) {
            uint32_t r = rnd(&x), kind = r % 16u;
            uint64_t c, span = (uint64_t)W + 8u;
            int fresh;

            if (kind < 6) /* near and below highest: duplicates, reordering, too old */
                c = m.highest >= span ? m.highest - rnd(&x) % span : rnd(&x) % (span + 1u);
            else if (kind < 10) /* a little above */
                c = m.highest + 1u + rnd(&x) % 70u;
            else if (kind == 10) /* shifts across word boundaries */
                c = m.highest + (uint64_t[]){63, 64, 65, 127, 128, 129, 1023, 1024, 1025}[rnd(&x) % 9u];
            else if (kind == 11) /* the window edge exactly */
                c = m.highest >= W ? m.highest - W + (rnd(&x) & 1u) : 1u;
            else if (kind == 12)
                c = 0;
            else /* an already accepted counter, if any */
                c = m.n ? m.seen[rnd(&x) % m.n] : 1u;
            fresh = model_fresh(&m, c);
            /* check alone changes nothing */
            copy = w;
            ck_assert_int_eq(ok(&w, c), fresh);
            same_window(&w, &copy);
            if (r & 0x100u) { /* sometimes a checked frame is dropped before commit */
                expect(&w, c, fresh);
                if (fresh)
                    model_add(&m, c);
            }
            if (step % 97u == 0) { /* persist and reload mid-stream */
                ck_assert_int_eq(iotsec_replay_encode(&w, st, sizeof st, &sl), IOTSEC_OK);
                memset(&copy, 0x5a, sizeof copy);
                ck_assert_int_eq(iotsec_replay_decode(&copy, st, sl), IOTSEC_OK);
                same_window(&w, &copy);
                w = copy;
            }
        }
        /* after a long run, every counter around the edge agrees with the model */
        {
            uint64_t lo = m.highest > (uint64_t)W + 70u ? m.highest - W - 70u : 0u, c;
            for (c = lo; c <= m.highest + 70u; c++)
                ck_assert_msg(ok(&w, c) == model_fresh(&m, c), "W %u ctr %llu", W,
                              (unsigned long long)c);
        }
        free(m.seen);
    }
}
END_TEST

/* ---- edge cases --------------------------------------------------------------------------- */

START_TEST(test_duplicates_reordering_too_old)
{
    iotsec_replay_window w;

    ck_assert_int_eq(iotsec_replay_init(&w, IOTSEC_REPLAY_DEFAULT_WINDOW), IOTSEC_OK);
    ck_assert_uint_eq(w.window, 64);
    expect(&w, 1, 1);
    expect(&w, 1, 0);
    expect(&w, 5, 1);
    expect(&w, 3, 1); /* reordered, inside the window */
    expect(&w, 4, 1);
    expect(&w, 3, 0);
    expect(&w, 2, 1);
    expect(&w, 5, 0);
    expect(&w, 68, 1); /* 68 − 5 = 63: 5 is still inside, 4 and below are not */
    expect(&w, 5, 0);
    expect(&w, 4, 0);
    expect(&w, 6, 1);
    expect(&w, 69, 1); /* now 5 (d = 64) is out, 6 (d = 63) in but seen */
    expect(&w, 6, 0);
    expect(&w, 5, 0); /* d = 64: too old */
    expect(&w, 7, 1); /* d = 62: inside, never seen */
    expect(&w, 7, 0);
    ck_assert_int_eq(iotsec_replay_check(&w, 8), IOTSEC_OK); /* 8: inside, not seen */
}
END_TEST

START_TEST(test_strict_modes)
{
    unsigned W;

    /* W = 0 and W = 1 both accept only counters above the highest */
    for (W = 0; W <= 1; W++) {
        iotsec_replay_window w;
        ck_assert_int_eq(iotsec_replay_init(&w, W), IOTSEC_OK);
        expect(&w, 0, 0);
        expect(&w, 10, 1);
        expect(&w, 10, 0);
        expect(&w, 9, 0);
        expect(&w, 1, 0);
        expect(&w, 11, 1);
        expect(&w, 1000, 1);
        expect(&w, 999, 0);
        expect(&w, UINT64_MAX, 1);
        expect(&w, UINT64_MAX, 0);
        expect(&w, UINT64_MAX - 1, 0);
        ck_assert_uint_eq(w.bitmap[0] >> 1, 0); /* nothing beyond bit 0 */
    }
}
END_TEST

START_TEST(test_window_1024)
{
    iotsec_replay_window w;
    uint64_t c;

    ck_assert_int_eq(iotsec_replay_init(&w, 1024), IOTSEC_OK);
    ck_assert_int_eq(iotsec_replay_init(&w, 1025), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_replay_init(NULL, 64), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_replay_init(&w, 1024), IOTSEC_OK);
    expect(&w, 5000, 1);
    for (c = 5000 - 1023; c < 5000; c += 2) /* every other counter of the window */
        expect(&w, c, 1);
    expect(&w, 5000 - 1024, 0); /* just outside */
    for (c = 5000 - 1023; c < 5000; c++)
        ck_assert_int_eq(ok(&w, c), (c - (5000 - 1023)) % 2 == 1);
    /* shift by 512: the upper half of the bits moves out, the lower half stays */
    expect(&w, 5512, 1);
    for (c = 5512 - 1023; c < 5000; c++)
        ck_assert_int_eq(ok(&w, c), (c - (5000 - 1023)) % 2 == 1);
    ck_assert(!ok(&w, 5000));
    ck_assert(ok(&w, 5001));
    /* a shift of exactly W clears everything */
    expect(&w, 5512 + 1024, 1);
    ck_assert(!ok(&w, 5512)); /* d = 1024 */
    ck_assert(ok(&w, 5513));
}
END_TEST

/* Shifts that land on, before and after 64-bit word boundaries keep every bit. */
START_TEST(test_word_boundaries)
{
    static const uint64_t shifts[] = {1, 63, 64, 65, 127, 128, 129, 191, 192, 193, 255, 256};
    size_t i;

    for (i = 0; i < sizeof shifts / sizeof shifts[0]; i++) {
        iotsec_replay_window w;
        uint64_t base = 1000, c, s = shifts[i];
        ck_assert_int_eq(iotsec_replay_init(&w, 256), IOTSEC_OK);
        /* mark counters base, base−3, base−63, base−64, base−65, base−128 */
        expect(&w, base - 128, 1);
        expect(&w, base - 65, 1);
        expect(&w, base - 64, 1);
        expect(&w, base - 63, 1);
        expect(&w, base - 3, 1);
        expect(&w, base, 1);
        expect(&w, base + s, 1);
        for (c = base + s - 255; c <= base + s; c++) {
            int seen = c == base || c == base - 3 || c == base - 63 || c == base - 64 ||
                       c == base - 65 || c == base - 128 || c == base + s;
            ck_assert_msg(ok(&w, c) == !seen, "shift %llu: counter %llu", (unsigned long long)s,
                          (unsigned long long)c);
        }
        ck_assert(!ok(&w, base + s - 256)); /* too old */
    }
}
END_TEST

START_TEST(test_counter_zero_and_uint64_max)
{
    iotsec_replay_window w, before;

    ck_assert_int_eq(iotsec_replay_init(&w, 64), IOTSEC_OK);
    expect(&w, 0, 0); /* never valid, not even first */
    ck_assert_uint_eq(w.highest, 0);
    expect(&w, 1, 1);
    expect(&w, UINT64_MAX, 1); /* a jump by almost 2^64 clears, without overflow */
    ck_assert_uint_eq(w.highest, UINT64_MAX);
    ck_assert_uint_eq(w.bitmap[0], 1);
    expect(&w, UINT64_MAX - 63, 1);
    expect(&w, UINT64_MAX - 64, 0);
    expect(&w, 1, 0);
    expect(&w, 0, 0);
    before = w;
    ck_assert_int_eq(iotsec_replay_commit(&w, UINT64_MAX), IOTSEC_E_REPLAY);
    same_window(&w, &before);
    ck_assert_int_eq(iotsec_replay_check(NULL, 1), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_replay_commit(NULL, 1), IOTSEC_E_INVALID_ARG);
    w.window = 1025; /* a damaged object is refused, not trusted */
    ck_assert_int_eq(iotsec_replay_check(&w, UINT64_MAX), IOTSEC_E_INVALID_ARG);
}
END_TEST

/* ---- persisted form -------------------------------------------------------------------------- */

START_TEST(test_encode_decode_roundtrip)
{
    static const unsigned windows[] = {0, 1, 64, 100, 1024};
    size_t i;

    for (i = 0; i < sizeof windows / sizeof windows[0]; i++) {
        iotsec_replay_window w, back;
        uint8_t st[IOTSEC_REPLAY_STATE_LEN + 4];
        size_t n = 0;
        ck_assert_int_eq(iotsec_replay_init(&w, windows[i]), IOTSEC_OK);
        ck_assert_int_eq(iotsec_replay_encode(&w, st, sizeof st, &n), IOTSEC_OK);
        ck_assert_uint_eq(n, IOTSEC_REPLAY_STATE_LEN);
        ck_assert_int_eq(iotsec_replay_decode(&back, st, n), IOTSEC_OK);
        same_window(&w, &back);
        ck_assert_int_eq(iotsec_replay_commit(&w, 700), IOTSEC_OK);
        if (windows[i] > 50)
            ck_assert_int_eq(iotsec_replay_commit(&w, 650), IOTSEC_OK);
        ck_assert_int_eq(iotsec_replay_encode(&w, st, sizeof st, &n), IOTSEC_OK);
        ck_assert_uint_eq(st[0], 1);
        ck_assert_uint_eq(((unsigned)st[1] << 8) | st[2], windows[i]);
        ck_assert_uint_eq(st[10], 700 & 0xff);
        ck_assert_int_eq(iotsec_replay_decode(&back, st, n), IOTSEC_OK);
        same_window(&w, &back);
        ck_assert_int_eq(iotsec_replay_check(&back, 700), IOTSEC_E_REPLAY);
        ck_assert_int_eq(iotsec_replay_encode(&w, st, IOTSEC_REPLAY_STATE_LEN - 1, &n),
                         IOTSEC_E_BUFFER_TOO_SMALL);
    }
    {
        iotsec_replay_window w;
        uint8_t st[IOTSEC_REPLAY_STATE_LEN];
        size_t n;
        ck_assert_int_eq(iotsec_replay_init(&w, 64), IOTSEC_OK);
        ck_assert_int_eq(iotsec_replay_encode(NULL, st, sizeof st, &n), IOTSEC_E_INVALID_ARG);
        ck_assert_int_eq(iotsec_replay_encode(&w, NULL, sizeof st, &n), IOTSEC_E_INVALID_ARG);
        ck_assert_int_eq(iotsec_replay_encode(&w, st, sizeof st, NULL), IOTSEC_E_INVALID_ARG);
        ck_assert_int_eq(iotsec_replay_decode(NULL, st, sizeof st), IOTSEC_E_INVALID_ARG);
        ck_assert_int_eq(iotsec_replay_decode(&w, NULL, sizeof st), IOTSEC_E_INVALID_ARG);
    }
}
END_TEST

/* Every reason decode refuses a state, each with IOTSEC_E_CORRUPT and *w untouched. */
START_TEST(test_decode_corrupt)
{
    iotsec_replay_window w, guard;
    uint8_t good[IOTSEC_REPLAY_STATE_LEN + 1], st[IOTSEC_REPLAY_STATE_LEN + 1];
    size_t n = 0;

#define SET_BIT(buf, d) ((buf)[11 + 8 * ((d) / 64) + 7 - ((d) % 64) / 8] |= (uint8_t)(1u << ((d) % 8)))
#define CORRUPT(buf, len)                                                                     \
    do {                                                                                      \
        memset(&w, 0x5a, sizeof w);                                                           \
        memcpy(&guard, &w, sizeof w);                                                         \
        ck_assert_int_eq(iotsec_replay_decode(&w, (buf), (len)), IOTSEC_E_CORRUPT);           \
        ck_assert_mem_eq(&w, &guard, sizeof w);                                               \
    } while (0)

    /* W = 100, highest 10, counters 10, 9 and 3 seen */
    ck_assert_int_eq(iotsec_replay_init(&w, 100), IOTSEC_OK);
    ck_assert_int_eq(iotsec_replay_commit(&w, 3), IOTSEC_OK);
    ck_assert_int_eq(iotsec_replay_commit(&w, 10), IOTSEC_OK);
    ck_assert_int_eq(iotsec_replay_commit(&w, 9), IOTSEC_OK);
    ck_assert_int_eq(iotsec_replay_encode(&w, good, sizeof good, &n), IOTSEC_OK);
    ck_assert_int_eq(iotsec_replay_decode(&w, good, n), IOTSEC_OK);

    CORRUPT(good, 0);
    CORRUPT(good, n - 1);
    memcpy(st, good, n);
    st[n] = 0;
    CORRUPT(st, n + 1);
    memcpy(st, good, n);
    st[0] = 0;
    CORRUPT(st, n);
    st[0] = 2;
    CORRUPT(st, n);
    memcpy(st, good, n);
    st[1] = 0x04; /* W = 0x0464 = 1124 */
    CORRUPT(st, n);
    st[1] = 0xff;
    st[2] = 0xff;
    CORRUPT(st, n);
    memcpy(st, good, n);
    SET_BIT(st, 100u); /* beyond W = 100 (word 1, bit 36) */
    CORRUPT(st, n);
    memcpy(st, good, n);
    SET_BIT(st, 1023u);
    CORRUPT(st, n);
    memcpy(st, good, n);
    st[11 + 7] &= 0xfe; /* bit 0 clear although highest = 10 */
    CORRUPT(st, n);
    memcpy(st, good, n);
    SET_BIT(st, 10u); /* counter 0 */
    CORRUPT(st, n);
    memcpy(st, good, n);
    SET_BIT(st, 50u); /* a negative counter */
    CORRUPT(st, n);
    memcpy(st, good, n);
    memset(st + 3, 0, 8); /* highest 0 with bits set */
    CORRUPT(st, n);
    /* W = 0: any bit at all is corrupt */
    ck_assert_int_eq(iotsec_replay_init(&w, 0), IOTSEC_OK);
    ck_assert_int_eq(iotsec_replay_commit(&w, 10), IOTSEC_OK);
    ck_assert_int_eq(iotsec_replay_encode(&w, st, sizeof st, &n), IOTSEC_OK);
    ck_assert_int_eq(iotsec_replay_decode(&w, st, n), IOTSEC_OK);
    SET_BIT(st, 0u);
    CORRUPT(st, n);
    /* an empty window of W = 64 is valid; one with a bit is not */
    ck_assert_int_eq(iotsec_replay_init(&w, 64), IOTSEC_OK);
    ck_assert_int_eq(iotsec_replay_encode(&w, st, sizeof st, &n), IOTSEC_OK);
    ck_assert_int_eq(iotsec_replay_decode(&w, st, n), IOTSEC_OK);
    SET_BIT(st, 5u);
    CORRUPT(st, n);
#undef CORRUPT
#undef SET_BIT
}
END_TEST

/* ---- through the frame API ---------------------------------------------------------------- */

/* A forged frame carrying a huge counter is rejected by the tag check and does not move the
 * window: the next genuine frame is still accepted. */
START_TEST(test_forged_huge_counter_frame)
{
    const iotsec_crypto *c = tu_backend(_i);
    static const uint8_t master[32] = {7};
    iotsec_frame_keys tx, rx;
    iotsec_replay_window w;
    iotsec_frame_header h;
    uint8_t f1[128], f2[128], forged[128], out[64];
    uint8_t st0[IOTSEC_REPLAY_STATE_LEN], st1[IOTSEC_REPLAY_STATE_LEN];
    size_t n1, n2, m, sl;

    ck_assert_int_eq(iotsec_frame_keys_derive(&tx, c, master, "meter-7", 7, 0, IOTSEC_FRAME_UPLINK),
                     IOTSEC_OK);
    ck_assert_int_eq(iotsec_frame_keys_derive(&rx, c, master, "meter-7", 7, 0, IOTSEC_FRAME_UPLINK),
                     IOTSEC_OK);
    ck_assert_int_eq(iotsec_frame_seal(&tx, 41, 0, NULL, (const uint8_t *)"a", 1, f1, sizeof f1, &n1),
                     IOTSEC_OK);
    ck_assert_int_eq(iotsec_frame_seal(&tx, 42, 0, NULL, (const uint8_t *)"b", 1, f2, sizeof f2, &n2),
                     IOTSEC_OK);
    ck_assert_int_eq(iotsec_replay_init(&w, 64), IOTSEC_OK);
    ck_assert_int_eq(iotsec_frame_open_checked(&rx, &w, f1, n1, NULL, out, sizeof out, &m), IOTSEC_OK);
    ck_assert_int_eq(iotsec_replay_encode(&w, st0, sizeof st0, &sl), IOTSEC_OK);
    /* the captured frame with its counter raised to UINT64_MAX (and to highest + 64) */
    memcpy(forged, f2, n2);
    memset(forged + 4, 0xff, 8);
    ck_assert_int_eq(iotsec_frame_peek(forged, n2, &h), IOTSEC_OK); /* well-formed */
    ck_assert_uint_eq(h.ctr, UINT64_MAX);
    ck_assert_int_eq(iotsec_frame_open_checked(&rx, &w, forged, n2, NULL, out, sizeof out, &m),
                     IOTSEC_E_BAD_MAC);
    memset(forged + 4, 0, 8);
    forged[11] = 41 + 64;
    ck_assert_int_eq(iotsec_frame_open_checked(&rx, &w, forged, n2, NULL, out, sizeof out, &m),
                     IOTSEC_E_BAD_MAC);
    ck_assert_int_eq(iotsec_replay_encode(&w, st1, sizeof st1, &sl), IOTSEC_OK);
    ck_assert_mem_eq(st0, st1, sizeof st0);
    ck_assert_uint_eq(w.highest, 41);
    /* genuine frames still flow */
    ck_assert_int_eq(iotsec_frame_open_checked(&rx, &w, f2, n2, NULL, out, sizeof out, &m), IOTSEC_OK);
    ck_assert_int_eq(iotsec_frame_open_checked(&rx, &w, f1, n1, NULL, out, sizeof out, &m),
                     IOTSEC_E_REPLAY);
    iotsec_frame_keys_cleanup(&tx);
    iotsec_frame_keys_cleanup(&rx);
}
END_TEST

static Suite *replay_suite(void)
{
    Suite *s = suite_create("replay");
    TCase *tc = tcase_create("replay");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_model_random);
    tcase_add_test(tc, test_duplicates_reordering_too_old);
    tcase_add_test(tc, test_strict_modes);
    tcase_add_test(tc, test_window_1024);
    tcase_add_test(tc, test_word_boundaries);
    tcase_add_test(tc, test_counter_zero_and_uint64_max);
    tcase_add_test(tc, test_encode_decode_roundtrip);
    tcase_add_test(tc, test_decode_corrupt);
    tu_add_backend_test(tc, test_forged_huge_counter_frame);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run_suite(replay_suite()); }
