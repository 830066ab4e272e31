/* Fuzz target: seal → open round trips. The input chooses the options (first byte: encrypt,
 * direction, format; second: kid; next 8: counter; the rest is the payload, at most 65536
 * bytes) and every seal must open to exactly the input payload, in binary, JSON and the
 * legacy profile; the binary and JSON forms of one frame must convert into each other. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "iotsec/iotsec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t master[32] = {42};
static const uint8_t iv[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t fr[IOTSEC_FRAME_MAX_LEN], fr2[IOTSEC_FRAME_MAX_LEN];
    static uint8_t out[IOTSEC_FRAME_CIPHER_MAX];
    static char js[IOTSEC_FRAME_JSON_LEN(64u, 65552u)];
    const iotsec_crypto *c = iotsec_crypto_default();
    iotsec_frame_keys tx, rx;
    iotsec_ecowatt_keys ek;
    iotsec_frame_direction dir;
    uint64_t ctr = 0;
    size_t i, plen, n = 0, m = 0, jl = 0;
    int enc;
    uint8_t kid;
    const uint8_t *p;

    if (size < 10)
        return 0;
    enc = (data[0] & 1) && iotsec_crypto_has(c, IOTSEC_CAP_AES_CBC);
    dir = (data[0] & 2) ? IOTSEC_FRAME_DOWNLINK : IOTSEC_FRAME_UPLINK;
    kid = data[1];
    for (i = 2; i < 10; i++)
        ctr = (ctr << 8) | data[i];
    if (ctr == 0)
        ctr = 1;
    p = data + 10;
    plen = size - 10 > IOTSEC_FRAME_PLAIN_MAX ? IOTSEC_FRAME_PLAIN_MAX : size - 10;
    if (iotsec_frame_keys_derive(&tx, c, master, "fuzz-device", 11, kid, dir) != IOTSEC_OK ||
        iotsec_frame_keys_derive(&rx, c, master, "fuzz-device", 11, kid, dir) != IOTSEC_OK)
        abort();
    /* binary */
    if (iotsec_frame_seal(&tx, ctr, enc, enc && (data[0] & 4) ? iv : NULL, p, plen, fr,
                          sizeof fr, &n) != IOTSEC_OK ||
        n != IOTSEC_FRAME_SEALED_LEN(11u, plen, enc) ||
        iotsec_frame_open(&rx, fr, n, NULL, out, sizeof out, &m) != IOTSEC_OK || m != plen ||
        (m > 0 && memcmp(out, p, m) != 0))
        abort();
    /* JSON, and its conversion to the binary frame */
    ctr &= IOTSEC_FRAME_JSON_CTR_MAX;
    if (ctr == 0)
        ctr = 1;
    if (iotsec_frame_seal_json(&tx, ctr, enc, enc ? iv : NULL, p, plen, js, sizeof js, &jl) !=
            IOTSEC_OK ||
        iotsec_frame_open_json(&rx, js, jl, NULL, out, sizeof out, &m) != IOTSEC_OK || m != plen ||
        (m > 0 && memcmp(out, p, m) != 0))
        abort();
    if (iotsec_frame_from_json(js, jl, fr2, sizeof fr2, &n, NULL) != IOTSEC_OK ||
        iotsec_frame_open(&rx, fr2, n, NULL, out, sizeof out, &m) != IOTSEC_OK || m != plen)
        abort();
    iotsec_frame_keys_cleanup(&tx);
    iotsec_frame_keys_cleanup(&rx);
    /* legacy */
    if (iotsec_ecowatt_keys_init(&ek, c, master, iv) != IOTSEC_OK)
        abort();
    if (iotsec_ecowatt_seal(&ek, "fuzz-device", 11, ctr, enc, NULL, p, plen, js, sizeof js, &jl) !=
            IOTSEC_OK ||
        iotsec_ecowatt_open(&ek, js, jl, NULL, out, sizeof out, &m) != IOTSEC_OK || m != plen ||
        (m > 0 && memcmp(out, p, m) != 0))
        abort();
    iotsec_ecowatt_keys_cleanup(&ek);
    return 0;
}
