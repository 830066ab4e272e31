/* Fuzz target: the receiver replay window (replay.h) — the persisted-state decoder on
 * arbitrary bytes, and the window itself driven by an input-chosen sequence of counters
 * against a reference model, with an encode → decode round trip after every step.
 *
 * Invariants checked:
 *   - a state that decodes re-encodes to exactly the input (one canonical form), and a
 *     refused state leaves the destination untouched;
 *   - from a decoded state, check and commit agree, a committed counter is then a replay,
 *     and the state commit leaves behind decodes again (commit never writes a state the
 *     decoder would call corrupt);
 *   - on a window started empty, check answers exactly as the model does: a counter is
 *     fresh iff it is not 0, not accepted before, and above `highest` or less than W below
 *     it; every state survives encode → decode unchanged.
 *
 * Input of the sequence part: byte 0 chooses W, then each operation is one byte (kind and
 * argument size) followed by its argument bytes; bytes past the end read as 0. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "iotsec/error.h"
#include "iotsec/replay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_OPS 512u

typedef struct cur {
    const uint8_t *p;
    size_t n, i;
} cur;

static uint8_t u8(cur *c) { return c->i < c->n ? c->p[c->i++] : 0; }

static uint64_t un(cur *c, unsigned bytes)
{
    uint64_t v = 0;
    while (bytes-- > 0)
        v = v << 8 | u8(c);
    return v;
}

static int same_window(const iotsec_replay_window *a, const iotsec_replay_window *b)
{
    return a->highest == b->highest && a->window == b->window &&
           memcmp(a->bitmap, b->bitmap, sizeof a->bitmap) == 0;
}

/* encode w, decode it back: must give the same window */
static void round_trip(const iotsec_replay_window *w)
{
    uint8_t buf[IOTSEC_REPLAY_STATE_LEN], small[IOTSEC_REPLAY_STATE_LEN - 1u];
    iotsec_replay_window back;
    size_t n = 0;

    if (iotsec_replay_encode(w, small, sizeof small, &n) != IOTSEC_E_BUFFER_TOO_SMALL ||
        iotsec_replay_encode(w, buf, sizeof buf, &n) != IOTSEC_OK ||
        n != IOTSEC_REPLAY_STATE_LEN || iotsec_replay_decode(&back, buf, n) != IOTSEC_OK ||
        !same_window(w, &back))
        abort();
}

/* Part 1: the input as a persisted state. */
static void decode_part(const uint8_t *data, size_t size)
{
    uint8_t buf[IOTSEC_REPLAY_STATE_LEN];
    iotsec_replay_window w, before;
    size_t n = 0;
    int rc;

    memset(&w, 0xa5, sizeof w);
    before = w;
    rc = iotsec_replay_decode(&w, data, size);
    if (rc != IOTSEC_OK) {
        if (rc != IOTSEC_E_CORRUPT || memcmp(&w, &before, sizeof w) != 0)
            abort();
        return;
    }
    if (size != IOTSEC_REPLAY_STATE_LEN || iotsec_replay_encode(&w, buf, sizeof buf, &n) != 0 ||
        n != size || memcmp(buf, data, size) != 0)
        abort();
    {
        /* counters around the window's edges, all from the decoded state */
        uint64_t probe[8];
        size_t i;
        probe[0] = w.highest + 1u;
        probe[1] = w.highest;
        probe[2] = w.highest - 1u;
        probe[3] = w.window > 0 ? w.highest - (w.window - 1u) : w.highest;
        probe[4] = w.highest - w.window;
        probe[5] = 1;
        probe[6] = UINT64_MAX;
        probe[7] = w.highest + w.window;
        for (i = 0; i < 8; i++) {
            iotsec_replay_window c = w;
            rc = iotsec_replay_check(&c, probe[i]);
            if (rc != IOTSEC_OK && rc != IOTSEC_E_REPLAY)
                abort();
            if (iotsec_replay_commit(&c, probe[i]) != rc)
                abort();
            if (rc == IOTSEC_OK) {
                if (iotsec_replay_check(&c, probe[i]) != IOTSEC_E_REPLAY)
                    abort();
                round_trip(&c);
            } else if (!same_window(&c, &w)) {
                abort();
            }
        }
    }
}

/* Part 2: a sequence of counters against the model. */
static void sequence_part(const uint8_t *data, size_t size)
{
    static const unsigned windows[8] = {0, 1, 63, 64, 65, 128, 1023, 1024};
    static uint64_t seen[MAX_OPS];
    size_t nseen = 0, op, k;
    iotsec_replay_window w;
    cur c = {data, size, 0};
    uint8_t b = u8(&c);
    unsigned W = (b & 0x80) ? windows[b & 7u] : (unsigned)((b * 131u) % 1025u);

    if (iotsec_replay_init(&w, W) != IOTSEC_OK)
        abort();
    round_trip(&w);
    for (op = 0; op < MAX_OPS && c.i < c.n; op++) {
        uint8_t kind = u8(&c);
        uint64_t arg = un(&c, 1u + (kind >> 2 & 7u) % 8u), ctr;
        int fresh, rc;

        switch (kind & 3u) {
        case 0: ctr = w.highest + 1u + arg % 4096u; break; /* forward, maybe wrapping */
        case 1: ctr = w.highest - arg; break;             /* backward, maybe below 1 */
        case 2: ctr = arg; break;                          /* absolute */
        default: ctr = UINT64_MAX - arg % 4u; break;       /* the top of the range */
        }
        fresh = ctr != 0 && (ctr > w.highest || w.highest - ctr < W);
        for (k = 0; fresh && k < nseen; k++)
            fresh = seen[k] != ctr;
        rc = iotsec_replay_check(&w, ctr);
        if (rc != (fresh ? IOTSEC_OK : IOTSEC_E_REPLAY))
            abort();
        /* commit only sometimes, so checks of never-committed counters are probed too */
        if (kind & 0x20u) {
            iotsec_replay_window before = w;
            if (iotsec_replay_commit(&w, ctr) != rc)
                abort();
            if (rc == IOTSEC_OK) {
                seen[nseen++] = ctr;
                if (w.highest < before.highest || (ctr > before.highest && w.highest != ctr))
                    abort();
            } else if (!same_window(&w, &before)) {
                abort();
            }
            round_trip(&w);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    decode_part(data, size);
    sequence_part(data, size);
    return 0;
}
