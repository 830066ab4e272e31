/*
 * libiotsec — libsodium backend adapter.
 *
 * libsodium provides SHA-256, HMAC-SHA256, Ed25519 and a CSPRNG. It has no AES-CBC, no
 * P-256 and no RSA: those entries return IOTSEC_E_UNSUPPORTED and the capability bits say
 * so. All state lives inline in the caller's context; nothing is allocated.
 *
 * Keys arrive in the same DER forms as for OpenSSL (SPKI, PKCS#8), so a key file works with
 * either backend; only the fixed RFC 8410 Ed25519 encodings are accepted, and a DER key of
 * another known algorithm is reported as unsupported rather than malformed.
 */
#include <string.h>

#include <sodium.h>

#include "iotsec/crypto.h"

#include "backends.h"
#include "iotsec/error.h"
#include "iotsec/reader.h"
#include "iotsec/util.h"

/* Inline layouts must fit the opaque state declared in crypto.h. */
#define HMAC_WORK_OFFSET 224u
typedef char sodium_sha_fits[sizeof(crypto_hash_sha256_state) <= IOTSEC_SHA256_STATE_SIZE ? 1 : -1];
typedef char sodium_hmac_fits[sizeof(crypto_auth_hmacsha256_state) <= HMAC_WORK_OFFSET &&
                                      HMAC_WORK_OFFSET + sizeof(crypto_auth_hmacsha256_state) <=
                                          IOTSEC_HMAC_STATE_SIZE
                                  ? 1
                                  : -1];
/* One flag byte between the two states: 1 between hmac_init and hmac_final, so an update or
 * final on the zeroed working state (no init since setkey or final) is IOTSEC_E_STATE, not a
 * silently wrong tag. */
#define HMAC_OPEN_OFFSET (HMAC_WORK_OFFSET - 1u)
typedef char sodium_hmac_flag_fits[sizeof(crypto_auth_hmacsha256_state) <= HMAC_OPEN_OFFSET ? 1 : -1];
typedef char sodium_key_fits[crypto_sign_SECRETKEYBYTES <= IOTSEC_KEY_STATE_SIZE ? 1 : -1];

static int sodium_ready(void)
{
    /* sodium_init() is idempotent and thread-safe; 0 or 1 mean initialised */
    return sodium_init() >= 0;
}

/* ---- SHA-256 ----------------------------------------------------------------------------- */

static crypto_hash_sha256_state *sha_state(iotsec_sha256_ctx *ctx)
{
    return (crypto_hash_sha256_state *)(void *)ctx->state.bytes;
}

static int s_sha256_init(iotsec_sha256_ctx *ctx)
{
    if (!sodium_ready())
        return IOTSEC_E_BACKEND;
    return crypto_hash_sha256_init(sha_state(ctx)) == 0 ? IOTSEC_OK : IOTSEC_E_BACKEND;
}

static int s_sha256_update(iotsec_sha256_ctx *ctx, const uint8_t *data, size_t len)
{
    return crypto_hash_sha256_update(sha_state(ctx), data, len) == 0 ? IOTSEC_OK
                                                                      : IOTSEC_E_BACKEND;
}

static int s_sha256_final(iotsec_sha256_ctx *ctx, uint8_t out[IOTSEC_SHA256_LEN])
{
    return crypto_hash_sha256_final(sha_state(ctx), out) == 0 ? IOTSEC_OK : IOTSEC_E_BACKEND;
}

static void s_sha256_cleanup(iotsec_sha256_ctx *ctx)
{
    sodium_memzero(ctx->state.bytes, sizeof ctx->state.bytes);
}

/* ---- HMAC-SHA256: the keyed state is kept and copied to a working state per message ------- */

static crypto_auth_hmacsha256_state *hmac_key_state(iotsec_hmac_ctx *ctx)
{
    return (crypto_auth_hmacsha256_state *)(void *)ctx->state.bytes;
}

static crypto_auth_hmacsha256_state *hmac_work_state(iotsec_hmac_ctx *ctx)
{
    return (crypto_auth_hmacsha256_state *)(void *)(ctx->state.bytes + HMAC_WORK_OFFSET);
}

static int s_hmac_setkey(iotsec_hmac_ctx *ctx, const uint8_t *key, size_t key_len)
{
    static const uint8_t empty_key[1] = {0};

    if (!sodium_ready())
        return IOTSEC_E_BACKEND;
    /* libsodium hashes keys longer than the block size, as RFC 2104 does; its key argument
     * is declared nonnull, so the legal empty key (NULL, 0) is passed as a real pointer */
    if (crypto_auth_hmacsha256_init(hmac_key_state(ctx), key_len ? key : empty_key, key_len) != 0)
        return IOTSEC_E_BACKEND;
    return IOTSEC_OK;
}

static int s_hmac_init(iotsec_hmac_ctx *ctx)
{
    memcpy(hmac_work_state(ctx), hmac_key_state(ctx), sizeof(crypto_auth_hmacsha256_state));
    ctx->state.bytes[HMAC_OPEN_OFFSET] = 1;
    return IOTSEC_OK;
}

static int s_hmac_update(iotsec_hmac_ctx *ctx, const uint8_t *data, size_t len)
{
    if (!ctx->state.bytes[HMAC_OPEN_OFFSET])
        return IOTSEC_E_STATE;
    return crypto_auth_hmacsha256_update(hmac_work_state(ctx), data, len) == 0 ? IOTSEC_OK
                                                                              : IOTSEC_E_BACKEND;
}

static int s_hmac_final(iotsec_hmac_ctx *ctx, uint8_t out[IOTSEC_HMAC_LEN])
{
    int rc;

    if (!ctx->state.bytes[HMAC_OPEN_OFFSET])
        return IOTSEC_E_STATE;
    ctx->state.bytes[HMAC_OPEN_OFFSET] = 0;
    rc = crypto_auth_hmacsha256_final(hmac_work_state(ctx), out);
    sodium_memzero(hmac_work_state(ctx), sizeof(crypto_auth_hmacsha256_state));
    return rc == 0 ? IOTSEC_OK : IOTSEC_E_BACKEND;
}

static void s_hmac_cleanup(iotsec_hmac_ctx *ctx)
{
    sodium_memzero(ctx->state.bytes, sizeof ctx->state.bytes);
}

/* ---- AES-CBC: not in libsodium ----------------------------------------------------------- */

static int s_aes_cbc_init(iotsec_aes_cbc_ctx *ctx, int encrypt, const uint8_t *key,
                          size_t key_len, const uint8_t iv[IOTSEC_AES_BLOCK_LEN])
{
    (void)ctx;
    (void)encrypt;
    (void)key;
    (void)key_len;
    (void)iv;
    return IOTSEC_E_UNSUPPORTED;
}

static int s_aes_cbc_update(iotsec_aes_cbc_ctx *ctx, const uint8_t *in, uint8_t *out, size_t len)
{
    (void)ctx;
    (void)in;
    (void)out;
    (void)len;
    return IOTSEC_E_UNSUPPORTED;
}

static void s_aes_cbc_cleanup(iotsec_aes_cbc_ctx *ctx) { (void)ctx; }

/* ---- keys: the fixed RFC 8410 encodings ----------------------------------------------------- */

static const uint8_t ed25519_spki_prefix[12] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
                                                0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};
static const uint8_t ed25519_pkcs8_prefix[16] = {0x30, 0x2e, 0x02, 0x01, 0x00, 0x30,
                                                 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70,
                                                 0x04, 0x22, 0x04, 0x20};
static const uint8_t oid_ec_public_key[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
static const uint8_t oid_rsa_encryption[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01};

/* Read one DER tag and short- or long-form length (≤ 4 length bytes). */
static size_t der_header(iotsec_reader *r, uint8_t want_tag)
{
    uint8_t tag = iotsec_reader_u8(r), l = iotsec_reader_u8(r);
    size_t len = 0;

    if (tag != want_tag) {
        iotsec_reader_fail(r, IOTSEC_E_BAD_KEY);
        return 0;
    }
    if (l < 0x80)
        return l;
    if (l == 0x80 || l > 0x84) {
        iotsec_reader_fail(r, IOTSEC_E_BAD_KEY);
        return 0;
    }
    while (l-- > 0x80)
        len = (len << 8) | iotsec_reader_u8(r);
    return len;
}

/* A DER key that is not an Ed25519 one: IOTSEC_E_UNSUPPORTED when its AlgorithmIdentifier
 * names EC or RSA (valid for another backend), IOTSEC_E_BAD_KEY otherwise.
 * private_key selects the PKCS#8 layout (a version INTEGER precedes the algorithm). */
static int classify_other(const uint8_t *der, size_t der_len, int private_key)
{
    iotsec_reader r;
    const uint8_t *oid;
    size_t n;

    iotsec_reader_init(&r, der, der_len);
    (void)der_header(&r, 0x30);
    if (private_key) {
        n = der_header(&r, 0x02);
        (void)iotsec_reader_bytes(&r, n);
    }
    (void)der_header(&r, 0x30);
    n = der_header(&r, 0x06);
    oid = iotsec_reader_bytes(&r, n);
    if (iotsec_reader_error(&r) != IOTSEC_OK || oid == NULL)
        return IOTSEC_E_BAD_KEY;
    if ((n == sizeof oid_ec_public_key && memcmp(oid, oid_ec_public_key, n) == 0) ||
        (n == sizeof oid_rsa_encryption && memcmp(oid, oid_rsa_encryption, n) == 0))
        return IOTSEC_E_UNSUPPORTED;
    return IOTSEC_E_BAD_KEY;
}

static int s_pubkey_load(iotsec_pubkey *pk, const uint8_t *der, size_t der_len, uint8_t *spki,
                         size_t spki_cap, size_t *spki_len)
{
    if (!sodium_ready())
        return IOTSEC_E_BACKEND;
    if (der_len != sizeof ed25519_spki_prefix + crypto_sign_PUBLICKEYBYTES ||
        memcmp(der, ed25519_spki_prefix, sizeof ed25519_spki_prefix) != 0)
        return classify_other(der, der_len, 0);
    if (spki_cap < der_len)
        return IOTSEC_E_BUFFER_TOO_SMALL;
    memcpy(pk->impl.bytes, der + sizeof ed25519_spki_prefix, crypto_sign_PUBLICKEYBYTES);
    memcpy(spki, der, der_len); /* this encoding is already the canonical one */
    *spki_len = der_len;
    pk->alg = IOTSEC_SIG_ED25519;
    pk->bits = 255;
    pk->sig_len = crypto_sign_BYTES;
    return IOTSEC_OK;
}

static void s_pubkey_free(iotsec_pubkey *pk)
{
    sodium_memzero(pk->impl.bytes, sizeof pk->impl.bytes);
}

static int s_privkey_load(iotsec_privkey *sk, const uint8_t *der, size_t der_len)
{
    uint8_t pub[crypto_sign_PUBLICKEYBYTES];

    if (!sodium_ready())
        return IOTSEC_E_BACKEND;
    if (der_len != sizeof ed25519_pkcs8_prefix + crypto_sign_SEEDBYTES ||
        memcmp(der, ed25519_pkcs8_prefix, sizeof ed25519_pkcs8_prefix) != 0)
        return classify_other(der, der_len, 1);
    /* the secret key is seed || public key (64 bytes) */
    if (crypto_sign_seed_keypair(pub, sk->impl.bytes, der + sizeof ed25519_pkcs8_prefix) != 0)
        return IOTSEC_E_BACKEND;
    sk->alg = IOTSEC_SIG_ED25519;
    sk->bits = 255;
    sk->sig_len = crypto_sign_BYTES;
    return IOTSEC_OK;
}

static int s_privkey_public(const iotsec_privkey *sk, uint8_t *spki, size_t spki_cap,
                            size_t *spki_len)
{
    size_t n = sizeof ed25519_spki_prefix + crypto_sign_PUBLICKEYBYTES;

    if (spki_cap < n)
        return IOTSEC_E_BUFFER_TOO_SMALL;
    memcpy(spki, ed25519_spki_prefix, sizeof ed25519_spki_prefix);
    memcpy(spki + sizeof ed25519_spki_prefix, sk->impl.bytes + crypto_sign_SEEDBYTES,
           crypto_sign_PUBLICKEYBYTES);
    *spki_len = n;
    return IOTSEC_OK;
}

static void s_privkey_free(iotsec_privkey *sk)
{
    sodium_memzero(sk->impl.bytes, sizeof sk->impl.bytes);
}

static int s_verify(const iotsec_pubkey *pk, const uint8_t *msg, size_t msg_len,
                    const uint8_t *sig, size_t sig_len)
{
    if (pk->alg != IOTSEC_SIG_ED25519 || sig_len != crypto_sign_BYTES)
        return IOTSEC_E_BAD_SIGNATURE;
    return crypto_sign_verify_detached(sig, msg, msg_len, pk->impl.bytes) == 0
               ? IOTSEC_OK
               : IOTSEC_E_BAD_SIGNATURE;
}

static int s_sign(const iotsec_privkey *sk, const uint8_t *msg, size_t msg_len, uint8_t *sig,
                  size_t sig_cap, size_t *sig_len)
{
    unsigned long long n = 0;

    if (sk->alg != IOTSEC_SIG_ED25519)
        return IOTSEC_E_UNSUPPORTED;
    if (sig_cap < crypto_sign_BYTES)
        return IOTSEC_E_BUFFER_TOO_SMALL;
    if (crypto_sign_detached(sig, &n, msg, msg_len, sk->impl.bytes) != 0)
        return IOTSEC_E_BACKEND;
    *sig_len = (size_t)n;
    return IOTSEC_OK;
}

static int s_random(uint8_t *out, size_t len)
{
    if (!sodium_ready())
        return IOTSEC_E_BACKEND;
    randombytes_buf(out, len);
    return IOTSEC_OK;
}

const iotsec_crypto iotsec_backend_sodium = {
    .name = "sodium",
    .caps = IOTSEC_CAP_SHA256 | IOTSEC_CAP_HMAC_SHA256 | IOTSEC_CAP_ED25519 | IOTSEC_CAP_RANDOM,
    .sha256_init = s_sha256_init,
    .sha256_update = s_sha256_update,
    .sha256_final = s_sha256_final,
    .sha256_cleanup = s_sha256_cleanup,
    .hmac_setkey = s_hmac_setkey,
    .hmac_init = s_hmac_init,
    .hmac_update = s_hmac_update,
    .hmac_final = s_hmac_final,
    .hmac_cleanup = s_hmac_cleanup,
    .aes_cbc_init = s_aes_cbc_init,
    .aes_cbc_update = s_aes_cbc_update,
    .aes_cbc_cleanup = s_aes_cbc_cleanup,
    .pubkey_load = s_pubkey_load,
    .pubkey_free = s_pubkey_free,
    .privkey_load = s_privkey_load,
    .privkey_public = s_privkey_public,
    .privkey_free = s_privkey_free,
    .verify = s_verify,
    .sign = s_sign,
    .random = s_random,
};
