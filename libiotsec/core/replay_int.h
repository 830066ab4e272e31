/*
 * libiotsec — internal helper of the replay window shared by the durable stores
 * (libiotsec/store/: sqlite.c, postgres.c). Not installed, not exported (the library is
 * built with -fvisibility=hidden).
 */
#ifndef IOTSEC_REPLAY_INT_H
#define IOTSEC_REPLAY_INT_H

#include "iotsec/replay.h"

/* Convert a window persisted with another W to W = window_bits (0–1024, checked by the
 * caller) without ever accepting a counter the old window refused (bindings-spec/SPEC.md
 * §5.3): narrowing forgets the positions at and beyond the new W (they become too old);
 * widening marks the added positions as seen (only those naming a counter ≥ 1). */
void iotsec__replay_resize(iotsec_replay_window *w, unsigned window_bits);

#endif
