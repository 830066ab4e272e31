/*
 * What libsodium's Ed25519 ref10 code needs from the rest of libsodium, for a firmware build
 * that compiles only those files (make firmware): sodium_init() has nothing to set up,
 * randombytes_buf() draws from the PSA RNG (the device's TRNG through Mbed TLS's
 * CTR_DRBG), and sodium_misuse() stops. libiotsec/crypto/sodium.c then runs unchanged as the
 * PSA backend's fallback. A product linking the same files takes this file with them.
 */
#include <stddef.h>
#include <stdlib.h>

#include <psa/crypto.h>

int sodium_init(void);
void randombytes_buf(void *buf, size_t size);
void sodium_misuse(void);

int sodium_init(void) { return psa_crypto_init() == PSA_SUCCESS ? 0 : -1; }

void randombytes_buf(void *buf, size_t size)
{
    unsigned char *p = (unsigned char *)buf;

    while (size > 0) {
        size_t n = size < 256u ? size : 256u;
        if (psa_generate_random(p, n) != PSA_SUCCESS)
            abort(); /* libsodium's randombytes cannot fail: neither may this */
        p += n;
        size -= n;
    }
}

void sodium_misuse(void) { abort(); }
