/* Fuzz target: JSON frames v1 — peek_json, from_json, open_json. Invariants checked:
 *   - peek_json, from_json and open_json agree on malformed input (same error);
 *   - whatever parses rebuilds a binary frame that peeks cleanly, writes back to canonical
 *     JSON that parses to the same binary frame, and opens exactly as the JSON does. */
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
    static uint8_t fr[IOTSEC_FRAME_MAX_LEN], fr2[IOTSEC_FRAME_MAX_LEN];
    static uint8_t out[IOTSEC_FRAME_CIPHER_MAX], out2[IOTSEC_FRAME_CIPHER_MAX];
    static char js[IOTSEC_FRAME_JSON_LEN(64u, 65552u)];
    const char *text = (const char *)data;
    const iotsec_crypto *c = iotsec_crypto_default();
    iotsec_frame_header h, h2;
    iotsec_frame_keys keys;
    size_t fl = 0, fl2 = 0, jl = 0, n = 0, n2 = 0;
    int rp, rf, ro, rb;

    rp = iotsec_frame_peek_json(text, size, &h);
    rf = iotsec_frame_from_json(text, size, fr, sizeof fr, &fl, &h2);
    if (rp != rf)
        abort();
    if (rp != IOTSEC_OK) {
        if (iotsec_frame_keys_derive(&keys, c, master, "fuzz", 4, 0, IOTSEC_FRAME_UPLINK) !=
            IOTSEC_OK)
            abort();
        ro = iotsec_frame_open_json(&keys, text, size, NULL, out, sizeof out, &n);
        iotsec_frame_keys_cleanup(&keys);
        if (ro != rp || n != 0)
            abort();
        return 0;
    }
    if (iotsec_frame_peek(fr, fl, &h2) != IOTSEC_OK || h2.ctr != h.ctr ||
        h2.payload_len != h.payload_len || strcmp(h2.device_id, h.device_id) != 0)
        abort();
    if (iotsec_frame_to_json(fr, fl, js, sizeof js, &jl) != IOTSEC_OK ||
        iotsec_frame_from_json(js, jl, fr2, sizeof fr2, &fl2, NULL) != IOTSEC_OK || fl2 != fl ||
        memcmp(fr, fr2, fl) != 0)
        abort();
    if (iotsec_frame_keys_derive(&keys, c, master, h.device_id, h.device_id_len, h.kid,
                                 (iotsec_frame_direction)h.direction) != IOTSEC_OK)
        abort();
    ro = iotsec_frame_open_json(&keys, text, size, NULL, out, sizeof out, &n);
    rb = iotsec_frame_open(&keys, fr, fl, NULL, out2, sizeof out2, &n2);
    if (ro != rb || n != n2 || (n > 0 && memcmp(out, out2, n) != 0))
        abort();
    iotsec_frame_keys_cleanup(&keys);
    return 0;
}
