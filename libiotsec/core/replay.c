/* libiotsec — receiver replay window (include/iotsec/replay.h). */
#include "iotsec/replay.h"

#include <string.h>

#include "iotsec/error.h"
#include "iotsec/reader.h"
#include "replay_int.h"

int iotsec_replay_init(iotsec_replay_window *w, unsigned window_bits)
{
    if (w == NULL || window_bits > IOTSEC_REPLAY_MAX_WINDOW)
        return IOTSEC_E_INVALID_ARG;
    memset(w, 0, sizeof *w);
    w->window = window_bits;
    return IOTSEC_OK;
}

static int bit_get(const iotsec_replay_window *w, uint64_t d)
{
    return (int)((w->bitmap[d / 64u] >> (d % 64u)) & 1u);
}

static void bit_set(iotsec_replay_window *w, uint64_t d)
{
    w->bitmap[d / 64u] |= (uint64_t)1 << (d % 64u);
}

int iotsec_replay_check(const iotsec_replay_window *w, uint64_t ctr)
{
    uint64_t d;

    if (w == NULL || w->window > IOTSEC_REPLAY_MAX_WINDOW)
        return IOTSEC_E_INVALID_ARG;
    if (ctr == 0)
        return IOTSEC_E_REPLAY; /* never valid */
    if (ctr > w->highest)
        return IOTSEC_OK;
    d = w->highest - ctr; /* no underflow: ctr <= highest */
    if (d >= w->window)
        return IOTSEC_E_REPLAY; /* too old (always, in strict mode) */
    return bit_get(w, d) ? IOTSEC_E_REPLAY : IOTSEC_OK;
}

/* Move the window up by shift (≥ 1) positions: bit d becomes bit d + shift. Shifts of W or
 * more clear it; word and bit shifts are split so no C shift reaches 64. */
static void shift_up(iotsec_replay_window *w, uint64_t shift)
{
    size_t words, bits, i;

    if (shift >= w->window) {
        memset(w->bitmap, 0, sizeof w->bitmap);
        return;
    }
    words = (size_t)(shift / 64u);
    bits = (size_t)(shift % 64u);
    for (i = IOTSEC_REPLAY_WORDS; i-- > 0;) {
        uint64_t v = 0;
        if (i >= words) {
            v = w->bitmap[i - words] << bits;
            if (bits != 0 && i > words)
                v |= w->bitmap[i - words - 1u] >> (64u - bits);
        }
        w->bitmap[i] = v;
    }
}

/* clear bits at and beyond W */
static void mask_window(iotsec_replay_window *w)
{
    size_t i;

    for (i = 0; i < IOTSEC_REPLAY_WORDS; i++) {
        uint64_t lo = (uint64_t)i * 64u;
        if (lo >= w->window)
            w->bitmap[i] = 0;
        else if (w->window - lo < 64u)
            w->bitmap[i] &= ((uint64_t)1 << (w->window - lo)) - 1u;
    }
}

int iotsec_replay_commit(iotsec_replay_window *w, uint64_t ctr)
{
    int rc = iotsec_replay_check(w, ctr);

    if (rc != IOTSEC_OK)
        return rc;
    if (ctr > w->highest) {
        shift_up(w, ctr - w->highest);
        w->highest = ctr;
        if (w->window > 0)
            bit_set(w, 0);
        mask_window(w);
    } else {
        bit_set(w, w->highest - ctr);
    }
    return IOTSEC_OK;
}

void iotsec__replay_resize(iotsec_replay_window *w, unsigned window_bits)
{
    uint64_t d;

    if (window_bits < w->window) {
        for (d = window_bits; d < w->window; d++)
            w->bitmap[d / 64u] &= ~((uint64_t)1 << (d % 64u));
    } else {
        for (d = w->window; d < window_bits && d < w->highest; d++)
            bit_set(w, d);
    }
    w->window = window_bits;
}

int iotsec_replay_encode(const iotsec_replay_window *w, uint8_t *out, size_t cap, size_t *out_len)
{
    iotsec_writer wr;
    size_t i;

    if (w == NULL || out == NULL || out_len == NULL)
        return IOTSEC_E_INVALID_ARG;
    iotsec_writer_init(&wr, out, cap);
    iotsec_writer_u8(&wr, 1);
    iotsec_writer_u16(&wr, (uint16_t)w->window);
    iotsec_writer_u64(&wr, w->highest);
    for (i = 0; i < IOTSEC_REPLAY_WORDS; i++)
        iotsec_writer_u64(&wr, w->bitmap[i]);
    if (iotsec_writer_error(&wr) != IOTSEC_OK)
        return iotsec_writer_error(&wr);
    *out_len = wr.pos;
    return IOTSEC_OK;
}

int iotsec_replay_decode(iotsec_replay_window *w, const uint8_t *in, size_t len)
{
    iotsec_replay_window tmp;
    iotsec_reader r;
    size_t i;
    uint64_t d;

    if (w == NULL || in == NULL)
        return IOTSEC_E_INVALID_ARG;
    iotsec_reader_init(&r, in, len);
    if (iotsec_reader_u8(&r) != 1)
        return IOTSEC_E_CORRUPT;
    tmp.window = iotsec_reader_u16(&r);
    tmp.highest = iotsec_reader_u64(&r);
    for (i = 0; i < IOTSEC_REPLAY_WORDS; i++)
        tmp.bitmap[i] = iotsec_reader_u64(&r);
    if (iotsec_reader_finish(&r) != IOTSEC_OK || tmp.window > IOTSEC_REPLAY_MAX_WINDOW)
        return IOTSEC_E_CORRUPT;
    {
        iotsec_replay_window masked = tmp;
        mask_window(&masked);
        if (memcmp(masked.bitmap, tmp.bitmap, sizeof tmp.bitmap) != 0)
            return IOTSEC_E_CORRUPT; /* bits beyond W */
    }
    if (tmp.window > 0 && (tmp.highest > 0) != bit_get(&tmp, 0))
        return IOTSEC_E_CORRUPT;
    /* no bit may stand for a counter below 1: d ≤ highest − 1 */
    for (d = tmp.highest; d < tmp.window; d++) {
        if (bit_get(&tmp, d))
            return IOTSEC_E_CORRUPT;
    }
    *w = tmp;
    return IOTSEC_OK;
}
