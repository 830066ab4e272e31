/*
 * `make size`, profile "sensor": a device that seals its uplink frames (binary encoding)
 * with counters from the flash-backed counter, and opens downlink frames against a replay
 * window that it persists. Linked for Cortex-M4 with --gc-sections only to be measured
 * (never run). The objects a caller must hold are the globals named caller_*:
 * scripts/fw-size adds their sizes to the RAM figure. The flash hooks are the caller's
 * (stubs here, not counted as libiotsec's).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "iotsec/iotsec.h"

extern const uint8_t size_input[];
const uint8_t size_input[512] = {1};
static uint8_t flash_slots[2][IOTSEC_COUNTER_RECORD_LEN];

static int slot_read(void *ctx, unsigned slot, uint8_t buf[IOTSEC_COUNTER_RECORD_LEN])
{
    (void)ctx;
    memcpy(buf, flash_slots[slot & 1u], IOTSEC_COUNTER_RECORD_LEN);
    return IOTSEC_OK;
}

static int slot_write(void *ctx, unsigned slot, const uint8_t buf[IOTSEC_COUNTER_RECORD_LEN])
{
    (void)ctx;
    memcpy(flash_slots[slot & 1u], buf, IOTSEC_COUNTER_RECORD_LEN);
    return IOTSEC_OK;
}

static int slot_flush(void *ctx)
{
    (void)ctx;
    return IOTSEC_OK;
}

iotsec_frame_keys caller_uplink_keys;
iotsec_frame_keys caller_downlink_keys;
iotsec_counter caller_counter;
iotsec_replay_window caller_replay_window;

int main(void)
{
    const iotsec_crypto *c = iotsec_crypto_psa();
    const iotsec_counter_port port = {NULL, slot_read, slot_write, slot_flush};
    static uint8_t frame[256], plain[128], state[IOTSEC_REPLAY_STATE_LEN];
    size_t len = 0, plain_len = 0, state_len = 0;
    uint64_t ctr = 0;

    if (iotsec_frame_keys_derive(&caller_uplink_keys, c, size_input, "sensor-1", 8, 0,
                                 IOTSEC_FRAME_UPLINK) != IOTSEC_OK ||
        iotsec_frame_keys_derive(&caller_downlink_keys, c, size_input, "sensor-1", 8, 0,
                                 IOTSEC_FRAME_DOWNLINK) != IOTSEC_OK)
        return 1;
    if (iotsec_counter_open(&caller_counter, &port, IOTSEC_COUNTER_DEFAULT_STEP) != IOTSEC_OK ||
        iotsec_counter_next(&caller_counter, &ctr) != IOTSEC_OK)
        return 2;
    if (iotsec_frame_seal(&caller_uplink_keys, ctr, size_input[1], NULL, size_input + 32, 64,
                          frame, sizeof frame, &len) != IOTSEC_OK)
        return 3;
    if (iotsec_replay_decode(&caller_replay_window, size_input + 128,
                             IOTSEC_REPLAY_STATE_LEN) != IOTSEC_OK &&
        iotsec_replay_init(&caller_replay_window, IOTSEC_REPLAY_DEFAULT_WINDOW) != IOTSEC_OK)
        return 4;
    if (iotsec_frame_open_checked(&caller_downlink_keys, &caller_replay_window, frame, len, NULL,
                                  plain, sizeof plain, &plain_len) != IOTSEC_OK)
        return 5;
    if (iotsec_replay_encode(&caller_replay_window, state, sizeof state, &state_len) !=
        IOTSEC_OK)
        return 6;
    iotsec_frame_keys_cleanup(&caller_uplink_keys);
    iotsec_frame_keys_cleanup(&caller_downlink_keys);
    return (int)plain[0];
}
