/* Fuzz target: binary frames v1 — peek, open and open_checked with keys derived for the
 * device, kid and direction the frame names (master secret 00..1f, as in the committed
 * vectors, so valid corpus frames reach decryption). Invariants checked:
 *   - peek and open agree on every malformed input (same error);
 *   - a failed open_checked leaves the replay window byte for byte unchanged;
 *   - an accepted frame converts to JSON and back to the same bytes, and its JSON opens
 *     to the same payload. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "iotsec/iotsec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t master[32] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
                                   0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
                                   0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
                                   0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t out[IOTSEC_FRAME_CIPHER_MAX], out2[IOTSEC_FRAME_CIPHER_MAX];
    static uint8_t back[IOTSEC_FRAME_MAX_LEN];
    static char js[IOTSEC_FRAME_JSON_LEN(64u, 65552u)];
    const iotsec_crypto *c = iotsec_crypto_default();
    iotsec_frame_header h, h2;
    iotsec_frame_keys keys;
    iotsec_replay_window w, before;
    size_t n = 0, n2 = 0, jl = 0, bl = 0;
    int rp, ro, rc;

    rp = iotsec_frame_peek(data, size, &h);
    if (rp != IOTSEC_OK) {
        /* malformed: open must say the same, whatever the keys */
        if (iotsec_frame_keys_derive(&keys, c, master, "fuzz", 4, 0, IOTSEC_FRAME_UPLINK) !=
            IOTSEC_OK)
            abort();
        ro = iotsec_frame_open(&keys, data, size, &h2, out, sizeof out, &n);
        iotsec_frame_keys_cleanup(&keys);
        if (ro != rp || n != 0)
            abort();
        return 0;
    }
    if (iotsec_frame_keys_derive(&keys, c, master, h.device_id, h.device_id_len, h.kid,
                                 (iotsec_frame_direction)h.direction) != IOTSEC_OK)
        abort();
    if (iotsec_replay_init(&w, 64) != IOTSEC_OK ||
        iotsec_replay_commit(&w, h.ctr > 5 ? h.ctr - 5 : 1) != IOTSEC_OK)
        abort();
    memcpy(&before, &w, sizeof w);
    rc = iotsec_frame_open_checked(&keys, &w, data, size, &h2, out, sizeof out, &n);
    if (rc != IOTSEC_OK) {
        if (memcmp(&before.highest, &w.highest, sizeof w.highest) != 0 ||
            memcmp(before.bitmap, w.bitmap, sizeof w.bitmap) != 0 || n != 0)
            abort();
    } else {
        if (h2.ctr != h.ctr || n > h.payload_len)
            abort();
        if (h.ctr <= IOTSEC_FRAME_JSON_CTR_MAX) {
            if (iotsec_frame_to_json(data, size, js, sizeof js, &jl) != IOTSEC_OK ||
                iotsec_frame_from_json(js, jl, back, sizeof back, &bl, NULL) != IOTSEC_OK ||
                bl != size || memcmp(back, data, size) != 0)
                abort();
            if (iotsec_frame_open_json(&keys, js, jl, NULL, out2, sizeof out2, &n2) != IOTSEC_OK ||
                n2 != n || (n > 0 && memcmp(out, out2, n) != 0))
                abort();
        }
    }
    iotsec_frame_keys_cleanup(&keys);
    return 0;
}
