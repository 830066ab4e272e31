/*
 * libiotsec — receiver replay window (bindings-spec/SPEC.md §5; RFC 4303 §3.4.3, RFC 6479).
 *
 * State per (device, kid): `highest` (0 = nothing seen) and a bitmap of W bits covering
 * `highest` and the W−1 counters below it. Counter 0 is never valid. A counter is fresh when
 * it is above `highest`, or when `highest − ctr < W` and its bit is clear; everything else is
 * a replay. W is 0–1024 (0 = strict monotonic, the EcoWatt seed's rule; W = 1 behaves the
 * same); the default is 64.
 *
 * The safe order is: authenticate the frame, iotsec_replay_check, then (after everything
 * else passed, and in the same transaction that stores the frame) iotsec_replay_commit.
 * State never changes for a counter that has not passed the tag check: a forged counter
 * must not move the window. Shifts are bounded (never by ≥ the word width), and a counter
 * jump to UINT64_MAX cannot overflow.
 *
 * Objects are plain data, caller-owned, no allocation; not thread-safe (one writer).
 */
#ifndef IOTSEC_REPLAY_H
#define IOTSEC_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "iotsec/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IOTSEC_REPLAY_MAX_WINDOW 1024u   /* largest W, bits */
#define IOTSEC_REPLAY_DEFAULT_WINDOW 64u /* default W, bits */
#define IOTSEC_REPLAY_WORDS (IOTSEC_REPLAY_MAX_WINDOW / 64u)
/* Bytes of the persisted form (iotsec_replay_encode): format u8 = 1, window u16, highest
 * u64, then the 1024-bit bitmap as 16 big-endian u64 words (word 0 holds bits 0–63, bit d
 * of the window = counter highest − d). */
#define IOTSEC_REPLAY_STATE_LEN 139u

typedef struct iotsec_replay_window {
    uint64_t highest;                      /* highest accepted counter; 0 = none yet */
    uint32_t window;                       /* W in bits, 0–1024 */
    uint64_t bitmap[IOTSEC_REPLAY_WORDS];  /* bit d set: counter highest − d was accepted */
} iotsec_replay_window;

/* Start an empty window of window_bits (0–1024). Errors: IOTSEC_E_INVALID_ARG. */
IOTSEC_API int iotsec_replay_init(iotsec_replay_window *w, unsigned window_bits);

/* Would ctr be fresh? No state change. Returns IOTSEC_OK, or IOTSEC_E_REPLAY for counter 0,
 * a counter seen before, or one W or more below `highest`; IOTSEC_E_INVALID_ARG for NULL. */
IOTSEC_API IOTSEC_MUST_CHECK int iotsec_replay_check(const iotsec_replay_window *w,
                                                     uint64_t ctr);

/* Record ctr as seen. Call only after the frame authenticated and passed every other
 * check. Re-checks first: returns IOTSEC_E_REPLAY (and changes nothing) if ctr is not fresh. */
IOTSEC_API IOTSEC_MUST_CHECK int iotsec_replay_commit(iotsec_replay_window *w, uint64_t ctr);

/* Serialize to exactly IOTSEC_REPLAY_STATE_LEN bytes (format above).
 * Errors: IOTSEC_E_INVALID_ARG, IOTSEC_E_BUFFER_TOO_SMALL. */
IOTSEC_API int iotsec_replay_encode(const iotsec_replay_window *w, uint8_t *out, size_t cap,
                                    size_t *out_len);
/* Parse persisted state. Rejects, with IOTSEC_E_CORRUPT, a wrong length or format byte, a
 * window above 1024, bits set at or beyond W, or a bitmap inconsistent with `highest`
 * (bit 0 must be set exactly when highest > 0 and W > 0; no bit may name a counter below 1).
 * Nothing is written to *w on error. */
IOTSEC_API int iotsec_replay_decode(iotsec_replay_window *w, const uint8_t *in, size_t len);

#ifdef __cplusplus
}
#endif

#endif
