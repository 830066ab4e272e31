/* Fuzz target: the legacy EcoWatt profile — peek, open, open_checked and open_stored with
 * the keys of the committed vectors. Invariants checked: peek and open agree on malformed
 * input; a failed open_checked leaves the strict window unchanged; an accepted frame's nonce
 * is above the previous one and decrypts to no more bytes than its field; open_stored over a
 * strict store gives open_checked's verdict and records the nonce only when it accepts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "iotsec/iotsec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t mac_key[32] = {
    0x5a, 0x7b, 0x3c, 0x9d, 0x2e, 0x4f, 0x1a, 0x6b, 0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe,
    0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xf0, 0xe1, 0xd2, 0xc3, 0xb4, 0xa5, 0x96, 0x87};
static const uint8_t enc_key[16] = {0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6,
                                    0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t out[IOTSEC_ECOWATT_CIPHER_MAX];
    const char *text = (const char *)data;
    iotsec_ecowatt_keys keys;
    iotsec_ecowatt_header h, h2;
    iotsec_replay_window w;
    size_t n = 0;
    int rp, ro;

    if (iotsec_ecowatt_keys_init(&keys, iotsec_crypto_default(), mac_key, enc_key) != IOTSEC_OK)
        abort();
    rp = iotsec_ecowatt_peek(text, size, &h);
    if (iotsec_replay_init(&w, 0) != IOTSEC_OK || iotsec_replay_commit(&w, 10000) != IOTSEC_OK)
        abort();
    ro = iotsec_ecowatt_open_checked(&keys, &w, text, size, &h2, out, sizeof out, &n);
    if (iotsec_err_is_malformed(rp) && ro != rp)
        abort();
    if (rp != IOTSEC_OK && ro == IOTSEC_OK)
        abort();
    if (ro != IOTSEC_OK && (w.highest != 10000 || n != 0))
        abort();
    if (ro == IOTSEC_OK && (h2.nonce <= 10000 || w.highest != h2.nonce || n > h.payload_len))
        abort();
    /* over a strict in-memory store holding nonce 10000 for the frame's device: the same
     * verdict, and the store moves exactly when the frame is accepted */
    if (rp == IOTSEC_OK) {
        iotsec_replay_mem mem;
        iotsec_replay_mem_entry table[1];
        const uint8_t *id = (const uint8_t *)h.device_id;
        int rs;
        if (iotsec_replay_mem_init(&mem, table, 1, NULL, 0, 0) != IOTSEC_OK ||
            iotsec_replay_store_check_and_commit(&mem.store, id, h.device_id_len, 0, 10000) !=
                IOTSEC_OK)
            abort();
        rs = iotsec_ecowatt_open_stored(&keys, &mem.store, text, size, NULL, out, sizeof out, &n);
        if (rs != ro)
            abort();
        if (iotsec_replay_store_check(&mem.store, id, h.device_id_len, 0, 10001) !=
            (rs == IOTSEC_OK && h2.nonce > 10000 ? IOTSEC_E_REPLAY : IOTSEC_OK))
            abort();
    }
    iotsec_ecowatt_keys_cleanup(&keys);
    return 0;
}
