/* Benchmark: the cost of libiotsec's checked crypto wrappers over the raw primitives, measured
 * in the same run. Each line is "library ops/s, raw ops/s, ratio" (ratio = library time / raw
 * time; 1.00 means no overhead). Raw OpenSSL is EVP called directly; raw libsodium is its
 * own API. Figures, not a pass/fail test (make bench). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "iotsec/iotsec.h"

#define MIN_SECONDS 0.25

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef void (*op_fn)(void *arg);

/* Operations per second of fn, run in batches until MIN_SECONDS have passed. */
static double rate(op_fn fn, void *arg)
{
    unsigned long n = 0, batch = 16, i;
    double start = now(), t;

    do {
        for (i = 0; i < batch; i++)
            fn(arg);
        n += batch;
        if (batch < (1ul << 20))
            batch *= 2;
        t = now() - start;
    } while (t < MIN_SECONDS);
    return (double)n / t;
}

static void report(const char *what, op_fn lib, op_fn raw, void *arg)
{
    double l = rate(lib, arg), r = rate(raw, arg);

    printf("%-44s %11.0f %11.0f %6.2f\n", what, l, r, r / l);
}

static volatile unsigned sink; /* keeps results alive */

/* ---- SHA-256 ------------------------------------------------------------------------------ */

struct buf {
    const iotsec_crypto *crypto;
    unsigned char data[16384];
    size_t len;
    unsigned char key[32];
    iotsec_hmac_ctx hmac;
    EVP_MAC_CTX *ossl_mac;
    iotsec_pubkey pk;
    EVP_PKEY *ossl_pk;
    unsigned char pub[32];
    unsigned char sig[64];
    crypto_auth_hmacsha256_state sodium_keyed;
};

static void lib_sha256(void *a)
{
    struct buf *b = a;
    unsigned char out[32];

    if (iotsec_sha256(b->crypto, b->data, b->len, out) == IOTSEC_OK)
        sink ^= out[0];
}

static void ossl_sha256(void *a)
{
    struct buf *b = a;
    unsigned char out[32];
    unsigned int n;

    if (EVP_Digest(b->data, b->len, out, &n, EVP_sha256(), NULL) == 1)
        sink ^= out[0];
}

static void sodium_sha256(void *a)
{
    struct buf *b = a;
    unsigned char out[32];

    if (crypto_hash_sha256(out, b->data, b->len) == 0)
        sink ^= out[0];
}

/* ---- HMAC-SHA256 with a key set once ------------------------------------------------------- */

static void lib_hmac_keyed(void *a)
{
    struct buf *b = a;
    unsigned char out[32];

    if (iotsec_hmac_init(&b->hmac) == IOTSEC_OK &&
        iotsec_hmac_update(&b->hmac, b->data, b->len) == IOTSEC_OK &&
        iotsec_hmac_final(&b->hmac, out) == IOTSEC_OK)
        sink ^= out[0];
}

static void ossl_hmac_keyed(void *a)
{
    struct buf *b = a;
    unsigned char out[32];
    size_t n;

    if (EVP_MAC_init(b->ossl_mac, NULL, 0, NULL) == 1 &&
        EVP_MAC_update(b->ossl_mac, b->data, b->len) == 1 &&
        EVP_MAC_final(b->ossl_mac, out, &n, sizeof out) == 1)
        sink ^= out[0];
}

static void sodium_hmac_keyed(void *a)
{
    struct buf *b = a;
    unsigned char out[32];
    crypto_auth_hmacsha256_state st = b->sodium_keyed; /* the keyed state, copied per message */

    crypto_auth_hmacsha256_update(&st, b->data, b->len);
    crypto_auth_hmacsha256_final(&st, out);
    sink ^= out[0];
}

/* ---- Ed25519 verify ---------------------------------------------------------------------- */

static void lib_ed25519_verify(void *a)
{
    struct buf *b = a;

    sink ^= (unsigned)(iotsec_verify(&b->pk, b->data, b->len, b->sig, 64) == IOTSEC_OK);
}

static void ossl_ed25519_verify(void *a)
{
    struct buf *b = a;
    EVP_MD_CTX *md = EVP_MD_CTX_new();

    if (md != NULL && EVP_DigestVerifyInit(md, NULL, NULL, NULL, b->ossl_pk) == 1)
        sink ^= (unsigned)(EVP_DigestVerify(md, b->sig, 64, b->data, b->len) == 1);
    EVP_MD_CTX_free(md);
}

static void sodium_ed25519_verify(void *a)
{
    struct buf *b = a;

    sink ^= (unsigned)(crypto_sign_verify_detached(b->sig, b->data, b->len, b->pub) == 0);
}

static int setup_hmac(struct buf *b)
{
    OSSL_PARAM params[2];
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);

    if (mac == NULL)
        return -1;
    b->ossl_mac = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);
    params[0] = OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    if (b->ossl_mac == NULL || EVP_MAC_init(b->ossl_mac, b->key, sizeof b->key, params) != 1)
        return -1;
    crypto_auth_hmacsha256_init(&b->sodium_keyed, b->key, sizeof b->key);
    return iotsec_hmac_setkey(&b->hmac, b->crypto, b->key, sizeof b->key);
}

static int setup_ed25519(struct buf *b)
{
    uint8_t seed[32], spki[IOTSEC_SPKI_MAX_LEN];
    size_t sig_len, spki_len;
    iotsec_privkey sk;
    int rc;

    memset(seed, 7, sizeof seed);
    rc = iotsec_privkey_load_ed25519_seed(&sk, b->crypto, seed);
    if (rc == IOTSEC_OK)
        rc = iotsec_sign(&sk, b->data, b->len, b->sig, sizeof b->sig, &sig_len);
    if (rc == IOTSEC_OK)
        rc = iotsec_privkey_public_spki(&sk, spki, sizeof spki, &spki_len);
    iotsec_privkey_free(&sk);
    if (rc != IOTSEC_OK)
        return rc;
    memcpy(b->pub, spki + spki_len - 32, 32);
    b->ossl_pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, b->pub, 32);
    if (b->ossl_pk == NULL)
        return -1;
    return iotsec_pubkey_load_ed25519_raw(&b->pk, b->crypto, b->pub);
}

int main(void)
{
    static struct buf b;
    static const size_t sizes[] = {64, 1024, 16384};
    const iotsec_crypto *backends[2];
    char what[64];
    size_t k, nb = 0, s;

    if (iotsec_crypto_openssl() != NULL)
        backends[nb++] = iotsec_crypto_openssl();
    if (iotsec_crypto_sodium() != NULL)
        backends[nb++] = iotsec_crypto_sodium();
    if (sodium_init() < 0)
        return 1;
    memset(b.data, 0x5a, sizeof b.data);
    memset(b.key, 0x0b, sizeof b.key);
    printf("%-44s %11s %11s %6s\n", "operation (backend vs its raw library)", "lib ops/s",
           "raw ops/s", "ratio");
    for (k = 0; k < nb; k++) {
        int ossl = strcmp(backends[k]->name, "openssl") == 0;
        b.crypto = backends[k];
        for (s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            b.len = sizes[s];
            snprintf(what, sizeof what, "SHA-256 %zu B [%s]", b.len, b.crypto->name);
            report(what, lib_sha256, ossl ? ossl_sha256 : sodium_sha256, &b);
        }
        if (setup_hmac(&b) != IOTSEC_OK)
            return 1;
        for (s = 0; s < 2; s++) {
            b.len = sizes[s];
            snprintf(what, sizeof what, "HMAC-SHA256 keyed ctx %zu B [%s]", b.len,
                     b.crypto->name);
            report(what, lib_hmac_keyed, ossl ? ossl_hmac_keyed : sodium_hmac_keyed, &b);
        }
        iotsec_hmac_cleanup(&b.hmac);
        EVP_MAC_CTX_free(b.ossl_mac);
        b.len = 64;
        if (setup_ed25519(&b) != IOTSEC_OK)
            return 1;
        snprintf(what, sizeof what, "Ed25519 verify 64 B [%s]", b.crypto->name);
        report(what, lib_ed25519_verify, ossl ? ossl_ed25519_verify : sodium_ed25519_verify, &b);
        iotsec_pubkey_free(&b.pk);
        EVP_PKEY_free(b.ossl_pk);
    }
    return 0;
}
