/* The fixed Ed25519 key of the manifest fuzz targets (RFC 8032 §7.1 TEST 1), loaded as the
 * signer and as the only trusted key. Included by the fuzz_manifest*.c and fuzz_image.c
 * targets; every object lives in the including target's static storage. */
#ifndef IOTSEC_FUZZ_MANIFEST_KEY_H
#define IOTSEC_FUZZ_MANIFEST_KEY_H

#include <stdint.h>
#include <stdlib.h>

#include "iotsec/iotsec.h"

static const uint8_t fuzz_test1_seed[32] = {0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60,
                                            0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4,
                                            0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19,
                                            0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60};

/* Load the key into crypto; abort() on any failure (the harness is broken, not the input). */
static void fuzz_manifest_key(const iotsec_crypto *crypto, iotsec_privkey *sk, iotsec_pubkey *pk,
                              iotsec_trust_store *ts)
{
    uint8_t spki[IOTSEC_SPKI_MAX_LEN];
    size_t spki_len = 0;

    if (iotsec_privkey_load_ed25519_seed(sk, crypto, fuzz_test1_seed) != IOTSEC_OK ||
        iotsec_privkey_public_spki(sk, spki, sizeof spki, &spki_len) != IOTSEC_OK ||
        iotsec_pubkey_load(pk, crypto, spki, spki_len) != IOTSEC_OK ||
        iotsec_trust_store_init(ts, pk, 1) != IOTSEC_OK)
        abort();
}

#endif
