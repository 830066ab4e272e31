/*
 * libiotsec — the checked front of the backend table (include/iotsec/crypto.h):
 * argument and capability checks, HKDF, key ids. The core never includes a crypto
 * library's header and names no backend; it only calls through struct iotsec_crypto.
 * Which backends exist is the registry's business (libiotsec/crypto/registry.c).
 */
#include "iotsec/crypto.h"

#include <string.h>

#include "iotsec/error.h"
#include "iotsec/util.h"

/* Composition: at most this many tables are consulted down a fallback chain (a cycle in
 * hand-made tables cannot loop). */
#define FALLBACK_DEPTH 4

/* The first table of crypto's fallback chain with capability cap, or NULL. */
static const iotsec_crypto *provider(const iotsec_crypto *crypto, uint32_t cap)
{
    int depth;

    for (depth = 0; crypto != NULL && depth < FALLBACK_DEPTH; depth++, crypto = crypto->fallback)
        if (crypto->caps & cap)
            return crypto;
    return NULL;
}

int iotsec_crypto_has(const iotsec_crypto *crypto, uint32_t caps)
{
    uint32_t have = 0;
    int depth;

    if (crypto == NULL)
        return 0;
    for (depth = 0; crypto != NULL && depth < FALLBACK_DEPTH; depth++, crypto = crypto->fallback)
        have |= crypto->caps;
    return (have & caps) == caps;
}

/* ---- SHA-256 ----------------------------------------------------------------------------- */

int iotsec_sha256_init(iotsec_sha256_ctx *ctx, const iotsec_crypto *crypto)
{
    int rc;

    if (ctx == NULL || crypto == NULL)
        return IOTSEC_E_INVALID_ARG;
    memset(ctx, 0, sizeof *ctx);
    crypto = provider(crypto, IOTSEC_CAP_SHA256);
    if (crypto == NULL)
        return IOTSEC_E_UNSUPPORTED;
    ctx->crypto = crypto;
    rc = crypto->sha256_init(ctx);
    if (rc != IOTSEC_OK)
        ctx->crypto = NULL;
    return rc;
}

int iotsec_sha256_update(iotsec_sha256_ctx *ctx, const void *data, size_t len)
{
    if (ctx == NULL || (data == NULL && len != 0))
        return IOTSEC_E_INVALID_ARG;
    if (ctx->crypto == NULL)
        return IOTSEC_E_STATE;
    if (len == 0)
        return IOTSEC_OK;
    return ctx->crypto->sha256_update(ctx, (const uint8_t *)data, len);
}

int iotsec_sha256_final(iotsec_sha256_ctx *ctx, uint8_t out[IOTSEC_SHA256_LEN])
{
    int rc;

    if (ctx == NULL || out == NULL)
        return IOTSEC_E_INVALID_ARG;
    if (ctx->crypto == NULL)
        return IOTSEC_E_STATE;
    rc = ctx->crypto->sha256_final(ctx, out);
    iotsec_sha256_cleanup(ctx);
    return rc;
}

void iotsec_sha256_cleanup(iotsec_sha256_ctx *ctx)
{
    if (ctx == NULL)
        return;
    if (ctx->crypto != NULL)
        ctx->crypto->sha256_cleanup(ctx);
    iotsec_zeroize(ctx, sizeof *ctx);
}

int iotsec_sha256(const iotsec_crypto *crypto, const void *data, size_t len,
                  uint8_t out[IOTSEC_SHA256_LEN])
{
    iotsec_sha256_ctx ctx;
    int rc;

    if (out == NULL)
        return IOTSEC_E_INVALID_ARG;
    rc = iotsec_sha256_init(&ctx, crypto);
    if (rc != IOTSEC_OK)
        return rc;
    rc = iotsec_sha256_update(&ctx, data, len);
    if (rc != IOTSEC_OK) {
        iotsec_sha256_cleanup(&ctx);
        return rc;
    }
    return iotsec_sha256_final(&ctx, out);
}

/* ---- HMAC-SHA256 ---------------------------------------------------------------------------- */

int iotsec_hmac_setkey(iotsec_hmac_ctx *ctx, const iotsec_crypto *crypto, const uint8_t *key,
                       size_t key_len)
{
    int rc;

    if (ctx == NULL || crypto == NULL || (key == NULL && key_len != 0))
        return IOTSEC_E_INVALID_ARG;
    memset(ctx, 0, sizeof *ctx);
    crypto = provider(crypto, IOTSEC_CAP_HMAC_SHA256);
    if (crypto == NULL)
        return IOTSEC_E_UNSUPPORTED;
    ctx->crypto = crypto;
    rc = crypto->hmac_setkey(ctx, key, key_len);
    if (rc != IOTSEC_OK)
        iotsec_hmac_cleanup(ctx);
    return rc;
}

int iotsec_hmac_init(iotsec_hmac_ctx *ctx)
{
    if (ctx == NULL)
        return IOTSEC_E_INVALID_ARG;
    if (ctx->crypto == NULL)
        return IOTSEC_E_STATE;
    return ctx->crypto->hmac_init(ctx);
}

int iotsec_hmac_update(iotsec_hmac_ctx *ctx, const void *data, size_t len)
{
    if (ctx == NULL || (data == NULL && len != 0))
        return IOTSEC_E_INVALID_ARG;
    if (ctx->crypto == NULL)
        return IOTSEC_E_STATE;
    if (len == 0)
        return IOTSEC_OK;
    return ctx->crypto->hmac_update(ctx, (const uint8_t *)data, len);
}

int iotsec_hmac_final(iotsec_hmac_ctx *ctx, uint8_t out[IOTSEC_HMAC_LEN])
{
    if (ctx == NULL || out == NULL)
        return IOTSEC_E_INVALID_ARG;
    if (ctx->crypto == NULL)
        return IOTSEC_E_STATE;
    return ctx->crypto->hmac_final(ctx, out);
}

void iotsec_hmac_cleanup(iotsec_hmac_ctx *ctx)
{
    if (ctx == NULL)
        return;
    if (ctx->crypto != NULL)
        ctx->crypto->hmac_cleanup(ctx);
    iotsec_zeroize(ctx, sizeof *ctx);
}

int iotsec_hmac_sha256(const iotsec_crypto *crypto, const uint8_t *key, size_t key_len,
                       const void *msg, size_t msg_len, uint8_t out[IOTSEC_HMAC_LEN])
{
    iotsec_hmac_ctx ctx;
    int rc;

    if (out == NULL || (msg == NULL && msg_len != 0))
        return IOTSEC_E_INVALID_ARG;
    rc = iotsec_hmac_setkey(&ctx, crypto, key, key_len);
    if (rc != IOTSEC_OK)
        return rc;
    rc = iotsec_hmac_init(&ctx);
    if (rc == IOTSEC_OK)
        rc = iotsec_hmac_update(&ctx, msg, msg_len);
    if (rc == IOTSEC_OK)
        rc = iotsec_hmac_final(&ctx, out);
    iotsec_hmac_cleanup(&ctx);
    return rc;
}

/* ---- AES-CBC ------------------------------------------------------------------------------ */

int iotsec_aes_cbc_init(iotsec_aes_cbc_ctx *ctx, const iotsec_crypto *crypto, int encrypt,
                        const uint8_t *key, size_t key_len, const uint8_t iv[IOTSEC_AES_BLOCK_LEN])
{
    int rc;

    if (ctx == NULL || crypto == NULL || key == NULL || iv == NULL)
        return IOTSEC_E_INVALID_ARG;
    memset(ctx, 0, sizeof *ctx);
    if ((key_len != 16u && key_len != 32u) ||
        (encrypt != IOTSEC_ENCRYPT && encrypt != IOTSEC_DECRYPT))
        return IOTSEC_E_INVALID_ARG;
    crypto = provider(crypto, IOTSEC_CAP_AES_CBC);
    if (crypto == NULL)
        return IOTSEC_E_UNSUPPORTED;
    ctx->crypto = crypto;
    rc = crypto->aes_cbc_init(ctx, encrypt, key, key_len, iv);
    if (rc != IOTSEC_OK)
        iotsec_aes_cbc_cleanup(ctx);
    return rc;
}

int iotsec_aes_cbc_update(iotsec_aes_cbc_ctx *ctx, const uint8_t *in, uint8_t *out, size_t len)
{
    if (ctx == NULL || ((in == NULL || out == NULL) && len != 0))
        return IOTSEC_E_INVALID_ARG;
    if (len % IOTSEC_AES_BLOCK_LEN != 0)
        return IOTSEC_E_INVALID_ARG;
    if (ctx->crypto == NULL)
        return IOTSEC_E_STATE;
    if (len == 0)
        return IOTSEC_OK;
    return ctx->crypto->aes_cbc_update(ctx, in, out, len);
}

void iotsec_aes_cbc_cleanup(iotsec_aes_cbc_ctx *ctx)
{
    if (ctx == NULL)
        return;
    if (ctx->crypto != NULL)
        ctx->crypto->aes_cbc_cleanup(ctx);
    iotsec_zeroize(ctx, sizeof *ctx);
}

/* ---- HKDF-SHA256 (RFC 5869) ----------------------------------------------------------------- */

int iotsec_hkdf_sha256_extract(const iotsec_crypto *crypto, const uint8_t *salt, size_t salt_len,
                               const uint8_t *ikm, size_t ikm_len, uint8_t prk[IOTSEC_SHA256_LEN])
{
    static const uint8_t zero_salt[IOTSEC_SHA256_LEN] = {0};

    if (prk == NULL || (ikm == NULL && ikm_len != 0) || (salt == NULL && salt_len != 0))
        return IOTSEC_E_INVALID_ARG;
    if (salt_len == 0) { /* RFC 5869 §2.2: not provided = HashLen zeros */
        salt = zero_salt;
        salt_len = sizeof zero_salt;
    }
    return iotsec_hmac_sha256(crypto, salt, salt_len, ikm, ikm_len, prk);
}

int iotsec_hkdf_sha256_expand(const iotsec_crypto *crypto, const uint8_t prk[IOTSEC_SHA256_LEN],
                              const uint8_t *info, size_t info_len, uint8_t *okm, size_t okm_len)
{
    iotsec_hmac_ctx ctx;
    uint8_t t[IOTSEC_HMAC_LEN];
    size_t done = 0, t_len = 0;
    uint8_t counter = 0;
    int rc;

    if (prk == NULL || okm == NULL || (info == NULL && info_len != 0))
        return IOTSEC_E_INVALID_ARG;
    if (okm_len == 0 || okm_len > 255u * IOTSEC_HMAC_LEN)
        return IOTSEC_E_INVALID_ARG;
    rc = iotsec_hmac_setkey(&ctx, crypto, prk, IOTSEC_SHA256_LEN);
    if (rc != IOTSEC_OK)
        return rc;
    while (done < okm_len) {
        size_t n;
        counter++;
        rc = iotsec_hmac_init(&ctx);
        if (rc == IOTSEC_OK)
            rc = iotsec_hmac_update(&ctx, t, t_len);
        if (rc == IOTSEC_OK)
            rc = iotsec_hmac_update(&ctx, info, info_len);
        if (rc == IOTSEC_OK)
            rc = iotsec_hmac_update(&ctx, &counter, 1);
        if (rc == IOTSEC_OK)
            rc = iotsec_hmac_final(&ctx, t);
        if (rc != IOTSEC_OK)
            break;
        t_len = sizeof t;
        n = okm_len - done < sizeof t ? okm_len - done : sizeof t;
        memcpy(okm + done, t, n);
        done += n;
    }
    iotsec_hmac_cleanup(&ctx);
    iotsec_zeroize(t, sizeof t);
    if (rc != IOTSEC_OK)
        iotsec_zeroize(okm, okm_len);
    return rc;
}

int iotsec_hkdf_sha256(const iotsec_crypto *crypto, const uint8_t *salt, size_t salt_len,
                       const uint8_t *ikm, size_t ikm_len, const uint8_t *info, size_t info_len,
                       uint8_t *okm, size_t okm_len)
{
    uint8_t prk[IOTSEC_SHA256_LEN];
    int rc;

    rc = iotsec_hkdf_sha256_extract(crypto, salt, salt_len, ikm, ikm_len, prk);
    if (rc == IOTSEC_OK)
        rc = iotsec_hkdf_sha256_expand(crypto, prk, info, info_len, okm, okm_len);
    iotsec_zeroize(prk, sizeof prk);
    return rc;
}

/* ---- keys and signatures --------------------------------------------------------------------- */

/* RFC 8410 §4 SubjectPublicKeyInfo prefix for an Ed25519 key; the raw key follows. */
static const uint8_t ed25519_spki_prefix[12] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
                                                0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};
/* RFC 8410 §7 OneAsymmetricKey prefix for an Ed25519 private key; the 32-byte seed follows. */
static const uint8_t ed25519_pkcs8_prefix[16] = {0x30, 0x2e, 0x02, 0x01, 0x00, 0x30,
                                                 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70,
                                                 0x04, 0x22, 0x04, 0x20};

/* 1 if pub (RFC 8032 §5.1.2 encoding) may be used as an Ed25519 verification key. Refused:
 * the points of small order (with either x sign bit), under which a signature (R = the
 * point, S = 0) verifies for every message: OpenSSL accepts them, libsodium refuses to
 * verify; and encodings with y >= p, which name the same point as a canonical encoding
 * under another key id (libsodium refuses those too). The list is libsodium's. */
static int ed25519_pub_acceptable(const uint8_t pub[32])
{
    static const uint8_t small_order[5][32] = {
        {0x00}, /* y = 0: order 4 */
        {0x01}, /* y = 1: the neutral element */
        {0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4,  /* order 8 */
         0x89, 0xf2, 0xef, 0x98, 0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6,
         0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05},
        {0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b,  /* order 8 */
         0x76, 0x0d, 0x10, 0x67, 0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39,
         0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a},
        {0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  /* y = p - 1: order 2 */
         0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
         0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}};
    size_t i, j;
    int all_ff = 1;

    for (i = 0; i < 5; i++) {
        for (j = 0; j < 31 && pub[j] == small_order[i][j]; j++)
            ;
        if (j == 31 && (pub[31] & 0x7f) == small_order[i][31])
            return 0;
    }
    /* y >= p = 2^255 - 19: bytes ed..ff, then thirty 0xff, then 0x7f (sign bit masked) */
    for (j = 1; j < 31; j++)
        all_ff &= pub[j] == 0xff;
    return !(pub[0] >= 0xed && all_ff && (pub[31] & 0x7f) == 0x7f);
}

int iotsec_pubkey_load(iotsec_pubkey *pk, const iotsec_crypto *crypto, const uint8_t *der,
                       size_t der_len)
{
    uint8_t spki[IOTSEC_SPKI_MAX_LEN];
    uint8_t digest[IOTSEC_SHA256_LEN];
    size_t spki_len = 0;
    int rc;

    const iotsec_crypto *c = crypto;
    int depth;

    if (pk == NULL || crypto == NULL || der == NULL || der_len == 0)
        return IOTSEC_E_INVALID_ARG;
    /* the first table of the chain whose loader knows the key's algorithm loads it */
    for (depth = 0;; depth++, c = c->fallback) {
        memset(pk, 0, sizeof *pk);
        pk->crypto = c;
        rc = c->pubkey_load(pk, der, der_len, spki, sizeof spki, &spki_len);
        if (rc != IOTSEC_E_UNSUPPORTED || c->fallback == NULL || depth + 1 >= FALLBACK_DEPTH)
            break;
        iotsec_pubkey_free(pk);
    }
    if (rc == IOTSEC_OK && pk->alg == IOTSEC_SIG_ED25519 &&
        (spki_len != sizeof ed25519_spki_prefix + 32 ||
         !ed25519_pub_acceptable(spki + sizeof ed25519_spki_prefix)))
        rc = IOTSEC_E_BAD_KEY;
    if (rc == IOTSEC_OK)
        rc = iotsec_sha256(crypto, spki, spki_len, digest);
    if (rc != IOTSEC_OK) {
        iotsec_pubkey_free(pk);
        return rc;
    }
    memcpy(pk->key_id, digest, IOTSEC_KEY_ID_LEN);
    return IOTSEC_OK;
}

int iotsec_pubkey_load_ed25519_raw(iotsec_pubkey *pk, const iotsec_crypto *crypto,
                                   const uint8_t raw[32])
{
    uint8_t spki[sizeof ed25519_spki_prefix + 32];

    if (raw == NULL)
        return IOTSEC_E_INVALID_ARG;
    memcpy(spki, ed25519_spki_prefix, sizeof ed25519_spki_prefix);
    memcpy(spki + sizeof ed25519_spki_prefix, raw, 32);
    return iotsec_pubkey_load(pk, crypto, spki, sizeof spki);
}

void iotsec_pubkey_free(iotsec_pubkey *pk)
{
    if (pk == NULL)
        return;
    if (pk->crypto != NULL)
        pk->crypto->pubkey_free(pk);
    iotsec_zeroize(pk, sizeof *pk);
}

int iotsec_privkey_load(iotsec_privkey *sk, const iotsec_crypto *crypto, const uint8_t *der,
                        size_t der_len)
{
    int rc;

    int depth;

    if (sk == NULL || crypto == NULL || der == NULL || der_len == 0)
        return IOTSEC_E_INVALID_ARG;
    for (depth = 0;; depth++, crypto = crypto->fallback) {
        memset(sk, 0, sizeof *sk);
        sk->crypto = crypto;
        sk->pss_salt_len = 32;
        rc = crypto->privkey_load(sk, der, der_len);
        if (rc != IOTSEC_E_UNSUPPORTED || crypto->fallback == NULL ||
            depth + 1 >= FALLBACK_DEPTH)
            break;
        iotsec_privkey_free(sk);
    }
    if (rc != IOTSEC_OK)
        iotsec_privkey_free(sk);
    return rc;
}

int iotsec_privkey_load_ed25519_seed(iotsec_privkey *sk, const iotsec_crypto *crypto,
                                     const uint8_t seed[32])
{
    uint8_t der[sizeof ed25519_pkcs8_prefix + 32];
    int rc;

    if (seed == NULL)
        return IOTSEC_E_INVALID_ARG;
    memcpy(der, ed25519_pkcs8_prefix, sizeof ed25519_pkcs8_prefix);
    memcpy(der + sizeof ed25519_pkcs8_prefix, seed, 32);
    rc = iotsec_privkey_load(sk, crypto, der, sizeof der);
    iotsec_zeroize(der, sizeof der);
    return rc;
}

int iotsec_privkey_public_spki(const iotsec_privkey *sk, uint8_t *spki, size_t spki_cap,
                               size_t *spki_len)
{
    if (sk == NULL || sk->crypto == NULL || spki == NULL || spki_len == NULL)
        return IOTSEC_E_INVALID_ARG;
    return sk->crypto->privkey_public(sk, spki, spki_cap, spki_len);
}

int iotsec_privkey_key_id(const iotsec_privkey *sk, uint8_t key_id[IOTSEC_KEY_ID_LEN])
{
    uint8_t spki[IOTSEC_SPKI_MAX_LEN];
    uint8_t digest[IOTSEC_SHA256_LEN];
    size_t spki_len = 0;
    int rc;

    if (key_id == NULL)
        return IOTSEC_E_INVALID_ARG;
    rc = iotsec_privkey_public_spki(sk, spki, sizeof spki, &spki_len);
    if (rc == IOTSEC_OK)
        rc = iotsec_sha256(sk->crypto, spki, spki_len, digest);
    if (rc == IOTSEC_OK)
        memcpy(key_id, digest, IOTSEC_KEY_ID_LEN);
    return rc;
}

void iotsec_privkey_free(iotsec_privkey *sk)
{
    if (sk == NULL)
        return;
    if (sk->crypto != NULL)
        sk->crypto->privkey_free(sk);
    iotsec_zeroize(sk, sizeof *sk);
}

int iotsec_verify(const iotsec_pubkey *pk, const uint8_t *msg, size_t msg_len,
                  const uint8_t *sig, size_t sig_len)
{
    if (pk == NULL || pk->crypto == NULL || (msg == NULL && msg_len != 0))
        return IOTSEC_E_INVALID_ARG;
    /* an empty or missing signature never verifies; nor does one of another length */
    if (sig == NULL || sig_len == 0 || sig_len != pk->sig_len)
        return IOTSEC_E_BAD_SIGNATURE;
    return pk->crypto->verify(pk, msg, msg_len, sig, sig_len);
}

int iotsec_sign(const iotsec_privkey *sk, const uint8_t *msg, size_t msg_len, uint8_t *sig,
                size_t sig_cap, size_t *sig_len)
{
    if (sk == NULL || sk->crypto == NULL || sig == NULL || sig_len == NULL ||
        (msg == NULL && msg_len != 0))
        return IOTSEC_E_INVALID_ARG;
    if (sig_cap < sk->sig_len)
        return IOTSEC_E_BUFFER_TOO_SMALL;
    return sk->crypto->sign(sk, msg, msg_len, sig, sig_cap, sig_len);
}

int iotsec_random(const iotsec_crypto *crypto, uint8_t *out, size_t len)
{
    if (crypto == NULL || (out == NULL && len != 0))
        return IOTSEC_E_INVALID_ARG;
    crypto = provider(crypto, IOTSEC_CAP_RANDOM);
    if (crypto == NULL)
        return IOTSEC_E_UNSUPPORTED;
    if (len == 0)
        return IOTSEC_OK;
    return crypto->random(out, len);
}
