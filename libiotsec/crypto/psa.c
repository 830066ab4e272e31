/*
 * libiotsec — PSA Crypto API backend adapter (psa/crypto.h, PSA Certified Crypto API 1.0).
 *
 * The API that Mbed TLS (2.28 on a Debian host, 3.x in ESP-IDF and Zephyr), TF-M and secure
 * elements implement: SHA-256, HMAC-SHA256 (a volatile HMAC key per keyed context), AES-CBC
 * without padding (streaming), ECDSA P-256 and RSA-PSS/SHA-256 verify and sign, random bytes.
 * Which of these the implementation was built with is read from its PSA_WANT_* macros: a
 * primitive it lacks has its IOTSEC_CAP_* bit clear and returns IOTSEC_E_UNSUPPORTED.
 * Ed25519 is not in PSA 1.0 (nor in Mbed TLS): a key of that algorithm is reported as
 * IOTSEC_E_UNSUPPORTED here, and the table's fallback serves it: libsodium's table when the
 * build has it (libiotsec/crypto/backends.h, IOTSEC_PSA_FALLBACK).
 *
 * Keys: the DER SubjectPublicKeyInfo and PKCS#8 encodings are parsed here with the
 * library's bounded reader (PSA imports only the raw forms: RSAPublicKey, RSAPrivateKey, an
 * EC point, an EC private scalar), the size and exponent rules of crypto.h are applied
 * before the import, and the canonical SPKI (uncompressed point, minimal DER) is written
 * from the key PSA exports. A key lives in a volatile PSA key slot (Mbed TLS has
 * MBEDTLS_PSA_KEY_SLOT_COUNT of them, 32 by default) until its *_free.
 *
 * Where PSA cannot do what crypto.h promises:
 *   - P-256 keys with a compressed point (RFC 5480 allows them): PSA imports only the
 *     uncompressed form, so the point is decompressed here with Mbed TLS's bignum module
 *     (the one use of Mbed TLS's own API, compiled when MBEDTLS_BIGNUM_C is defined). With
 *     another PSA implementation such a key is IOTSEC_E_UNSUPPORTED.
 *   - RSA-PSS signing uses PSA_ALG_RSA_PSS, whose salt is the hash length: 32 bytes, the
 *     library's default. Another iotsec_privkey.pss_salt_len (0 for deterministic test
 *     vectors) is IOTSEC_E_UNSUPPORTED with this backend. Verification accepts any salt
 *     (PSA_ALG_RSA_PSS_ANY_SALT, in Mbed TLS since 2.28).
 *   - RSA moduli that are not a whole number of bytes (2049 bits): Mbed TLS's PSA does
 *     not import them (IOTSEC_E_UNSUPPORTED); OpenSSL and real keys use whole bytes.
 *   - HMAC with an empty key: PSA refuses to import zero bytes; RFC 2104 pads a key with
 *     zeros to the block size, so the one-byte key 0x00 is the same HMAC key. Keys longer
 *     than the block (64 bytes) are hashed first, as RFC 2104 says, so no length limit of
 *     the implementation applies.
 *   - Operation objects larger than the context's inline state (Mbed TLS 2.28's SHA-256
 *     and cipher operations are) are allocated with calloc and freed by cleanup/final, as
 *     the OpenSSL adapter does; Mbed TLS's PSA core allocates key material from the heap
 *     anyway. A smaller one (a TF-M client handle) lives inline.
 *
 * psa_crypto_init() is called before first use by every entry point (it is idempotent).
 * PSA status codes become ours in one place, psa_error().
 */
#include <stdlib.h>
#include <string.h>

#include <psa/crypto.h>
#if defined(MBEDTLS_BIGNUM_C)
#include <mbedtls/bignum.h>
#endif

#include "iotsec/crypto.h"

#include "backends.h"
#include "iotsec/error.h"
#include "iotsec/reader.h"
#include "iotsec/util.h"

/* ---- what this PSA implementation has ------------------------------------------------------ */

#if defined(PSA_WANT_ALG_SHA_256)
#define P_CAP_SHA256 IOTSEC_CAP_SHA256
#else
#define P_CAP_SHA256 0u
#endif
#if defined(PSA_WANT_ALG_SHA_256) && defined(PSA_WANT_ALG_HMAC)
#define P_CAP_HMAC IOTSEC_CAP_HMAC_SHA256
#else
#define P_CAP_HMAC 0u
#endif
#if defined(PSA_WANT_KEY_TYPE_AES) && defined(PSA_WANT_ALG_CBC_NO_PADDING)
#define P_CAP_AES IOTSEC_CAP_AES_CBC
#else
#define P_CAP_AES 0u
#endif
#if defined(PSA_WANT_ALG_ECDSA) && defined(PSA_WANT_ECC_SECP_R1_256) && defined(PSA_WANT_ALG_SHA_256)
#define P_CAP_P256 IOTSEC_CAP_ECDSA_P256
#else
#define P_CAP_P256 0u
#endif
#if defined(PSA_WANT_ALG_RSA_PSS) && defined(PSA_WANT_KEY_TYPE_RSA_PUBLIC_KEY) && \
    defined(PSA_WANT_ALG_SHA_256)
#define P_CAP_RSA IOTSEC_CAP_RSA_PSS
#else
#define P_CAP_RSA 0u
#endif
#define P_CAPS (P_CAP_SHA256 | P_CAP_HMAC | P_CAP_AES | P_CAP_P256 | P_CAP_RSA | IOTSEC_CAP_RANDOM)

/* The one mapping from PSA status codes to ours. */
static int psa_error(psa_status_t st)
{
    switch (st) {
    case PSA_SUCCESS:
        return IOTSEC_OK;
    case PSA_ERROR_INSUFFICIENT_MEMORY:
        return IOTSEC_E_NO_MEMORY;
    case PSA_ERROR_NOT_SUPPORTED:
        return IOTSEC_E_UNSUPPORTED;
    case PSA_ERROR_INVALID_SIGNATURE:
        return IOTSEC_E_BAD_SIGNATURE;
    case PSA_ERROR_BAD_STATE:
        return IOTSEC_E_STATE;
    default:
        return IOTSEC_E_BACKEND;
    }
}

static int psa_ready(void)
{
    return psa_crypto_init() == PSA_SUCCESS ? IOTSEC_OK : IOTSEC_E_BACKEND;
}

/* ---- SHA-256 ------------------------------------------------------------------------------- */

#define SHA_INLINE (sizeof(psa_hash_operation_t) <= IOTSEC_SHA256_STATE_SIZE)

static psa_hash_operation_t *sha_op(iotsec_sha256_ctx *ctx)
{
    return SHA_INLINE ? (psa_hash_operation_t *)(void *)ctx->state.bytes
                      : (psa_hash_operation_t *)ctx->state.ptr;
}

static int p_sha256_init(iotsec_sha256_ctx *ctx)
{
    static const psa_hash_operation_t zero_op = PSA_HASH_OPERATION_INIT;
    psa_hash_operation_t *op;
    int rc = psa_ready();

    if (rc != IOTSEC_OK)
        return rc;
    if (SHA_INLINE) {
        op = (psa_hash_operation_t *)(void *)ctx->state.bytes;
    } else {
        op = (psa_hash_operation_t *)calloc(1, sizeof *op);
        if (op == NULL)
            return IOTSEC_E_NO_MEMORY;
        ctx->state.ptr = op;
    }
    *op = zero_op;
    return psa_error(psa_hash_setup(op, PSA_ALG_SHA_256));
}

static int p_sha256_update(iotsec_sha256_ctx *ctx, const uint8_t *data, size_t len)
{
    psa_hash_operation_t *op = sha_op(ctx);

    if (op == NULL)
        return IOTSEC_E_STATE;
    return psa_error(psa_hash_update(op, data, len));
}

static int p_sha256_final(iotsec_sha256_ctx *ctx, uint8_t out[IOTSEC_SHA256_LEN])
{
    psa_hash_operation_t *op = sha_op(ctx);
    size_t n = 0;
    psa_status_t st;

    if (op == NULL)
        return IOTSEC_E_STATE;
    st = psa_hash_finish(op, out, IOTSEC_SHA256_LEN, &n);
    if (st == PSA_SUCCESS && n != IOTSEC_SHA256_LEN)
        return IOTSEC_E_BACKEND;
    return psa_error(st);
}

static void p_sha256_cleanup(iotsec_sha256_ctx *ctx)
{
    psa_hash_operation_t *op = sha_op(ctx);

    if (op == NULL)
        return;
    (void)psa_hash_abort(op);
    if (!SHA_INLINE) {
        iotsec_zeroize(op, sizeof *op);
        free(op);
        ctx->state.ptr = NULL;
    }
}

/* ---- HMAC-SHA256: a volatile HMAC key, one MAC operation per message ------------------------- */

/* Layout of the context's state: the key, a flag (1 between hmac_init and hmac_final) and
 * the operation, 8-byte aligned. */
typedef struct p_hmac_state {
    psa_key_id_t key;
    uint8_t have_key;
    uint8_t open;
} p_hmac_state;
#define HMAC_OP_OFFSET 16u
typedef char p_hmac_fits[sizeof(p_hmac_state) <= HMAC_OP_OFFSET &&
                                 HMAC_OP_OFFSET + sizeof(psa_mac_operation_t) <=
                                     IOTSEC_HMAC_STATE_SIZE
                             ? 1
                             : -1];

static p_hmac_state *hmac_state(iotsec_hmac_ctx *ctx)
{
    return (p_hmac_state *)(void *)ctx->state.bytes;
}

static psa_mac_operation_t *hmac_op(iotsec_hmac_ctx *ctx)
{
    return (psa_mac_operation_t *)(void *)(ctx->state.bytes + HMAC_OP_OFFSET);
}

/* Import key bytes as a volatile key of the given type, usage and algorithm. */
static psa_status_t import_key(psa_key_type_t type, size_t bits, psa_key_usage_t usage,
                               psa_algorithm_t alg, const uint8_t *data, size_t len,
                               psa_key_id_t *id)
{
    psa_key_attributes_t attr = PSA_KEY_ATTRIBUTES_INIT;
    psa_status_t st;

    psa_set_key_type(&attr, type);
    if (bits != 0)
        psa_set_key_bits(&attr, bits);
    psa_set_key_usage_flags(&attr, usage);
    psa_set_key_algorithm(&attr, alg);
    st = psa_import_key(&attr, data, len, id);
    psa_reset_key_attributes(&attr);
    return st;
}

static int p_hmac_setkey(iotsec_hmac_ctx *ctx, const uint8_t *key, size_t key_len)
{
    static const uint8_t zero_key[1] = {0};
    static const psa_mac_operation_t zero_op = PSA_MAC_OPERATION_INIT;
    p_hmac_state *s = hmac_state(ctx);
    uint8_t digest[IOTSEC_SHA256_LEN];
    size_t n = 0;
    psa_status_t st;
    int rc = psa_ready();

    if (rc != IOTSEC_OK)
        return rc;
    if (key_len == 0) { /* RFC 2104: zero-padded to the block, as the key 0x00 is */
        key = zero_key;
        key_len = sizeof zero_key;
    } else if (key_len > 64u) { /* RFC 2104 §2: a long key is hashed first */
        st = psa_hash_compute(PSA_ALG_SHA_256, key, key_len, digest, sizeof digest, &n);
        if (st != PSA_SUCCESS)
            return psa_error(st);
        key = digest;
        key_len = n;
    }
    *hmac_op(ctx) = zero_op;
    st = import_key(PSA_KEY_TYPE_HMAC, 0, PSA_KEY_USAGE_SIGN_MESSAGE | PSA_KEY_USAGE_SIGN_HASH,
                    PSA_ALG_HMAC(PSA_ALG_SHA_256), key, key_len, &s->key);
    iotsec_zeroize(digest, sizeof digest);
    if (st != PSA_SUCCESS)
        return psa_error(st);
    s->have_key = 1;
    s->open = 0;
    return IOTSEC_OK;
}

static int p_hmac_init(iotsec_hmac_ctx *ctx)
{
    p_hmac_state *s = hmac_state(ctx);

    if (!s->have_key)
        return IOTSEC_E_STATE;
    s->open = 0;
    (void)psa_mac_abort(hmac_op(ctx));
    if (psa_mac_sign_setup(hmac_op(ctx), s->key, PSA_ALG_HMAC(PSA_ALG_SHA_256)) != PSA_SUCCESS)
        return IOTSEC_E_BACKEND;
    s->open = 1;
    return IOTSEC_OK;
}

static int p_hmac_update(iotsec_hmac_ctx *ctx, const uint8_t *data, size_t len)
{
    if (!hmac_state(ctx)->open)
        return IOTSEC_E_STATE;
    return psa_error(psa_mac_update(hmac_op(ctx), data, len));
}

static int p_hmac_final(iotsec_hmac_ctx *ctx, uint8_t out[IOTSEC_HMAC_LEN])
{
    size_t n = 0;
    psa_status_t st;

    if (!hmac_state(ctx)->open)
        return IOTSEC_E_STATE;
    hmac_state(ctx)->open = 0;
    st = psa_mac_sign_finish(hmac_op(ctx), out, IOTSEC_HMAC_LEN, &n);
    if (st == PSA_SUCCESS && n != IOTSEC_HMAC_LEN)
        return IOTSEC_E_BACKEND;
    return psa_error(st);
}

static void p_hmac_cleanup(iotsec_hmac_ctx *ctx)
{
    p_hmac_state *s = hmac_state(ctx);

    if (!s->have_key)
        return;
    (void)psa_mac_abort(hmac_op(ctx));
    (void)psa_destroy_key(s->key); /* PSA wipes the key material */
    s->have_key = 0;
}

/* ---- AES-CBC, no padding ------------------------------------------------------------------- */

typedef struct p_aes_state {
    psa_key_id_t key;
    uint8_t have_key;
} p_aes_state;
#define AES_OP_OFFSET 8u
#define AES_INLINE (AES_OP_OFFSET + sizeof(psa_cipher_operation_t) <= IOTSEC_AES_STATE_SIZE)
typedef char p_aes_fits[sizeof(p_aes_state) <= AES_OP_OFFSET &&
                                AES_OP_OFFSET + sizeof(void *) <= IOTSEC_AES_STATE_SIZE
                            ? 1
                            : -1];

static p_aes_state *aes_state(iotsec_aes_cbc_ctx *ctx)
{
    return (p_aes_state *)(void *)ctx->state.bytes;
}

static psa_cipher_operation_t *aes_op(iotsec_aes_cbc_ctx *ctx)
{
    void *slot = ctx->state.bytes + AES_OP_OFFSET;
    void *ptr;

    if (AES_INLINE)
        return (psa_cipher_operation_t *)slot;
    memcpy(&ptr, slot, sizeof ptr);
    return (psa_cipher_operation_t *)ptr;
}

static int p_aes_cbc_init(iotsec_aes_cbc_ctx *ctx, int encrypt, const uint8_t *key,
                          size_t key_len, const uint8_t iv[IOTSEC_AES_BLOCK_LEN])
{
    static const psa_cipher_operation_t zero_op = PSA_CIPHER_OPERATION_INIT;
    p_aes_state *s = aes_state(ctx);
    psa_cipher_operation_t *op;
    psa_status_t st;
    int rc = psa_ready();

    if (rc != IOTSEC_OK)
        return rc;
    if (AES_INLINE) {
        op = (psa_cipher_operation_t *)(void *)(ctx->state.bytes + AES_OP_OFFSET);
    } else {
        op = (psa_cipher_operation_t *)calloc(1, sizeof *op);
        if (op == NULL)
            return IOTSEC_E_NO_MEMORY;
        memcpy(ctx->state.bytes + AES_OP_OFFSET, &op, sizeof op);
    }
    *op = zero_op;
    st = import_key(PSA_KEY_TYPE_AES, key_len * 8u,
                    encrypt == IOTSEC_ENCRYPT ? PSA_KEY_USAGE_ENCRYPT : PSA_KEY_USAGE_DECRYPT,
                    PSA_ALG_CBC_NO_PADDING, key, key_len, &s->key);
    if (st != PSA_SUCCESS)
        return psa_error(st);
    s->have_key = 1;
    st = encrypt == IOTSEC_ENCRYPT ? psa_cipher_encrypt_setup(op, s->key, PSA_ALG_CBC_NO_PADDING)
                                   : psa_cipher_decrypt_setup(op, s->key, PSA_ALG_CBC_NO_PADDING);
    if (st == PSA_SUCCESS)
        st = psa_cipher_set_iv(op, iv, IOTSEC_AES_BLOCK_LEN);
    return psa_error(st);
}

static int p_aes_cbc_update(iotsec_aes_cbc_ctx *ctx, const uint8_t *in, uint8_t *out, size_t len)
{
    psa_cipher_operation_t *op = aes_op(ctx);
    size_t n = 0;
    psa_status_t st;

    if (op == NULL || !aes_state(ctx)->have_key)
        return IOTSEC_E_STATE;
    st = psa_cipher_update(op, in, len, out, len, &n);
    if (st == PSA_SUCCESS && n != len)
        return IOTSEC_E_BACKEND;
    return psa_error(st);
}

static void p_aes_cbc_cleanup(iotsec_aes_cbc_ctx *ctx)
{
    p_aes_state *s = aes_state(ctx);
    psa_cipher_operation_t *op = aes_op(ctx);

    if (op != NULL) {
        (void)psa_cipher_abort(op);
        if (!AES_INLINE) {
            iotsec_zeroize(op, sizeof *op);
            free(op);
            memset(ctx->state.bytes + AES_OP_OFFSET, 0, sizeof(void *));
        }
    }
    if (s->have_key)
        (void)psa_destroy_key(s->key);
    s->have_key = 0;
}

/* ---- DER: the few shapes of SPKI and PKCS#8 this adapter reads --------------------------------
 * Strict DER: definite, minimal lengths of at most two bytes (a 4096-bit key is 550 bytes);
 * anything else is IOTSEC_E_BAD_KEY through the reader's sticky error. */

static const uint8_t oid_ed25519[] = {0x2b, 0x65, 0x70};
static const uint8_t oid_ec_public_key[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
static const uint8_t oid_prime256v1[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static const uint8_t oid_rsa_encryption[] = {0x2a, 0x86, 0x48, 0x86, 0xf7,
                                             0x0d, 0x01, 0x01, 0x01};
/* RFC 5480 SPKI of a P-256 key up to the BIT STRING's content: 04 || x || y follows */
static const uint8_t p256_spki_prefix[] = {0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48,
                                           0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
                                           0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00};
/* RFC 3279 AlgorithmIdentifier of rsaEncryption, with its NULL parameters */
static const uint8_t rsa_alg_id[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                     0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00};

/* The content of the next TLV, which must have tag `tag`; *len gets its length. */
static const uint8_t *der_get(iotsec_reader *r, uint8_t tag, size_t *len)
{
    uint8_t t = iotsec_reader_u8(r), l = iotsec_reader_u8(r);
    size_t n = l;

    *len = 0;
    if (iotsec_reader_error(r) != IOTSEC_OK || t != tag) {
        iotsec_reader_fail(r, IOTSEC_E_BAD_KEY);
        return NULL;
    }
    if (l == 0x81) {
        n = iotsec_reader_u8(r);
        if (n < 0x80)
            iotsec_reader_fail(r, IOTSEC_E_BAD_KEY);
    } else if (l == 0x82) {
        n = iotsec_reader_u16(r);
        if (n < 0x100)
            iotsec_reader_fail(r, IOTSEC_E_BAD_KEY);
    } else if (l >= 0x80) {
        iotsec_reader_fail(r, IOTSEC_E_BAD_KEY);
    }
    if (iotsec_reader_error(r) != IOTSEC_OK)
        return NULL;
    *len = n;
    return iotsec_reader_bytes(r, n);
}

/* A reader over the content of the next TLV of tag `tag` (an empty failed reader on error). */
static void der_enter(iotsec_reader *r, uint8_t tag, iotsec_reader *inner)
{
    size_t n = 0;
    const uint8_t *p = der_get(r, tag, &n);

    iotsec_reader_init(inner, p, p != NULL ? n : 0);
    if (p == NULL)
        iotsec_reader_fail(inner, IOTSEC_E_BAD_KEY);
}

/* A non-negative minimal INTEGER: its magnitude without the sign byte (*len may be 0 for 0). */
static const uint8_t *der_uint(iotsec_reader *r, size_t *len)
{
    const uint8_t *p = der_get(r, 0x02, len);

    if (p == NULL || *len == 0 || (p[0] & 0x80) != 0 ||
        (*len > 1 && p[0] == 0 && (p[1] & 0x80) == 0)) {
        iotsec_reader_fail(r, IOTSEC_E_BAD_KEY);
        *len = 0;
        return NULL;
    }
    if (p[0] == 0) {
        p++;
        (*len)--;
    }
    return p;
}

static int oid_is(const uint8_t *oid, size_t len, const uint8_t *want, size_t want_len)
{
    return oid != NULL && len == want_len && memcmp(oid, want, len) == 0;
}

/* Bits of a big-endian magnitude without leading zero bytes. */
static unsigned mag_bits(const uint8_t *p, size_t len)
{
    unsigned bits;
    uint8_t top;

    if (len == 0)
        return 0;
    bits = (unsigned)(len - 1u) * 8u;
    for (top = p[0]; top != 0; top >>= 1)
        bits++;
    return bits;
}

/* crypto.h's rule for RSA: a modulus of 2048–4096 bits, an odd public exponent above 1. */
static int rsa_acceptable(const uint8_t *n, size_t n_len, const uint8_t *e, size_t e_len,
                          unsigned *bits)
{
    *bits = mag_bits(n, n_len);
    if (*bits < 2048u || *bits > 4096u)
        return IOTSEC_E_BAD_KEY;
    if (e_len == 0 || (e[e_len - 1] & 1u) == 0 || (e_len == 1 && e[0] == 1))
        return IOTSEC_E_BAD_KEY;
    return IOTSEC_OK;
}

/* Append a DER header (tag and minimal length). */
static void der_put_header(iotsec_writer *w, uint8_t tag, size_t len)
{
    iotsec_writer_u8(w, tag);
    if (len < 0x80) {
        iotsec_writer_u8(w, (uint8_t)len);
    } else if (len < 0x100) {
        iotsec_writer_u8(w, 0x81);
        iotsec_writer_u8(w, (uint8_t)len);
    } else {
        iotsec_writer_u8(w, 0x82);
        iotsec_writer_u16(w, (uint16_t)len);
    }
}

static size_t der_header_len(size_t len)
{
    return len < 0x80 ? 2u : len < 0x100 ? 3u : 4u;
}

/* The canonical SPKI of the public half of key `id` (alg says which kind). */
static int spki_of(psa_key_id_t id, iotsec_sig_alg alg, uint8_t *spki, size_t spki_cap,
                   size_t *spki_len)
{
    uint8_t pub[PSA_EXPORT_PUBLIC_KEY_MAX_SIZE];
    size_t n = 0, bits_len, body_len;
    iotsec_writer w;
    psa_status_t st = psa_export_public_key(id, pub, sizeof pub, &n);

    if (st != PSA_SUCCESS)
        return psa_error(st);
    iotsec_writer_init(&w, spki, spki_cap);
    if (alg == IOTSEC_SIG_ECDSA_P256) {
        if (n != 65 || pub[0] != 0x04)
            return IOTSEC_E_BACKEND;
        iotsec_writer_bytes(&w, p256_spki_prefix, sizeof p256_spki_prefix);
    } else { /* RSAPublicKey in a BIT STRING after the rsaEncryption AlgorithmIdentifier */
        bits_len = 1u + n;
        body_len = sizeof rsa_alg_id + der_header_len(bits_len) + bits_len;
        der_put_header(&w, 0x30, body_len);
        iotsec_writer_bytes(&w, rsa_alg_id, sizeof rsa_alg_id);
        der_put_header(&w, 0x03, bits_len);
        iotsec_writer_u8(&w, 0x00);
    }
    iotsec_writer_bytes(&w, pub, n);
    if (iotsec_writer_error(&w) != IOTSEC_OK)
        return IOTSEC_E_BUFFER_TOO_SMALL;
    *spki_len = w.pos;
    return IOTSEC_OK;
}

/* ---- P-256 points ------------------------------------------------------------------------ */

#if defined(MBEDTLS_BIGNUM_C)
/* 02/03 || x (33 bytes) to 04 || x || y (65): y = sqrt(x^3 - 3x + b) mod p, which is
 * (x^3 - 3x + b)^((p+1)/4) since p = 3 mod 4 (SEC 1 §2.3.4), with y's parity from the
 * prefix. IOTSEC_E_BAD_KEY if x >= p or x is not on the curve. */
static int p256_decompress(const uint8_t in[33], uint8_t out[65])
{
    static const uint8_t p_be[32] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01,
                                     0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                     0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff,
                                     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t b_be[32] = {0x5a, 0xc6, 0x35, 0xd8, 0xaa, 0x3a, 0x93, 0xe7,
                                     0xb3, 0xeb, 0xbd, 0x55, 0x76, 0x98, 0x86, 0xbc,
                                     0x65, 0x1d, 0x06, 0xb0, 0xcc, 0x53, 0xb0, 0xf6,
                                     0x3b, 0xce, 0x3c, 0x3e, 0x27, 0xd2, 0x60, 0x4b};
    mbedtls_mpi p, b, x, rhs, t, y, ex;
    int ret, rc = IOTSEC_E_BACKEND;

    mbedtls_mpi_init(&p);
    mbedtls_mpi_init(&b);
    mbedtls_mpi_init(&x);
    mbedtls_mpi_init(&rhs);
    mbedtls_mpi_init(&t);
    mbedtls_mpi_init(&y);
    mbedtls_mpi_init(&ex);
#define P_MPI(call)                                                                       \
    do {                                                                                  \
        if ((ret = (call)) != 0)                                                          \
            goto done;                                                                    \
    } while (0)
    P_MPI(mbedtls_mpi_read_binary(&p, p_be, sizeof p_be));
    P_MPI(mbedtls_mpi_read_binary(&b, b_be, sizeof b_be));
    P_MPI(mbedtls_mpi_read_binary(&x, in + 1, 32));
    if (mbedtls_mpi_cmp_mpi(&x, &p) >= 0) {
        rc = IOTSEC_E_BAD_KEY;
        goto done;
    }
    /* rhs = x^3 - 3x + b mod p */
    P_MPI(mbedtls_mpi_mul_mpi(&t, &x, &x));
    P_MPI(mbedtls_mpi_mod_mpi(&t, &t, &p));
    P_MPI(mbedtls_mpi_sub_int(&t, &t, 3));
    P_MPI(mbedtls_mpi_mul_mpi(&rhs, &t, &x));
    P_MPI(mbedtls_mpi_add_mpi(&rhs, &rhs, &b));
    P_MPI(mbedtls_mpi_mod_mpi(&rhs, &rhs, &p));
    /* y = rhs^((p+1)/4) mod p */
    P_MPI(mbedtls_mpi_add_int(&ex, &p, 1));
    P_MPI(mbedtls_mpi_shift_r(&ex, 2));
    P_MPI(mbedtls_mpi_exp_mod(&y, &rhs, &ex, &p, NULL));
    /* a square root only if y^2 = rhs: else x is on no point of the curve */
    P_MPI(mbedtls_mpi_mul_mpi(&t, &y, &y));
    P_MPI(mbedtls_mpi_mod_mpi(&t, &t, &p));
    if (mbedtls_mpi_cmp_mpi(&t, &rhs) != 0) {
        rc = IOTSEC_E_BAD_KEY;
        goto done;
    }
    if ((unsigned)mbedtls_mpi_get_bit(&y, 0) != (unsigned)(in[0] & 1u) &&
        mbedtls_mpi_cmp_int(&y, 0) != 0)
        P_MPI(mbedtls_mpi_sub_mpi(&y, &p, &y));
    out[0] = 0x04;
    memcpy(out + 1, in + 1, 32);
    P_MPI(mbedtls_mpi_write_binary(&y, out + 33, 32));
    rc = IOTSEC_OK;
#undef P_MPI
done:
    (void)ret;
    mbedtls_mpi_free(&p);
    mbedtls_mpi_free(&b);
    mbedtls_mpi_free(&x);
    mbedtls_mpi_free(&rhs);
    mbedtls_mpi_free(&t);
    mbedtls_mpi_free(&y);
    mbedtls_mpi_free(&ex);
    return rc;
}
#endif

/* An RFC 5480 ECPoint of P-256 (65 uncompressed or 33 compressed bytes) as 04 || x || y. */
static int p256_point(const uint8_t *pt, size_t len, uint8_t out[65])
{
    if (len == 65 && pt[0] == 0x04) {
        memcpy(out, pt, 65);
        return IOTSEC_OK;
    }
    if (len == 33 && (pt[0] == 0x02 || pt[0] == 0x03)) {
#if defined(MBEDTLS_BIGNUM_C)
        return p256_decompress(pt, out);
#else
        return IOTSEC_E_UNSUPPORTED;
#endif
    }
    return IOTSEC_E_BAD_KEY;
}

/* The key's algorithm from an AlgorithmIdentifier: IOTSEC_OK with *alg set for P-256
 * (namedCurve) and RSA; IOTSEC_E_UNSUPPORTED for Ed25519 (the fallback's), other curves
 * and other algorithms; IOTSEC_E_BAD_KEY for explicit curve parameters (RFC 5480 §2.1.1)
 * and malformed input. */
static int alg_of(iotsec_reader *r, iotsec_sig_alg *alg)
{
    iotsec_reader a;
    const uint8_t *oid;
    size_t n = 0;

    der_enter(r, 0x30, &a);
    oid = der_get(&a, 0x06, &n);
    if (iotsec_reader_error(&a) != IOTSEC_OK)
        return IOTSEC_E_BAD_KEY;
    if (oid_is(oid, n, oid_ec_public_key, sizeof oid_ec_public_key)) {
        if (iotsec_reader_peek(&a) != 0x06) /* explicit parameters, or none */
            return IOTSEC_E_BAD_KEY;
        oid = der_get(&a, 0x06, &n);
        if (iotsec_reader_finish(&a) != IOTSEC_OK)
            return IOTSEC_E_BAD_KEY;
        if (!oid_is(oid, n, oid_prime256v1, sizeof oid_prime256v1))
            return IOTSEC_E_UNSUPPORTED;
        *alg = IOTSEC_SIG_ECDSA_P256;
        return P_CAP_P256 ? IOTSEC_OK : IOTSEC_E_UNSUPPORTED;
    }
    if (oid_is(oid, n, oid_rsa_encryption, sizeof oid_rsa_encryption)) {
        if (iotsec_reader_remaining(&a) != 0) { /* NULL parameters (RFC 3279), or none */
            (void)der_get(&a, 0x05, &n);
            if (n != 0 || iotsec_reader_finish(&a) != IOTSEC_OK)
                return IOTSEC_E_BAD_KEY;
        }
        *alg = IOTSEC_SIG_RSA_PSS;
        return P_CAP_RSA ? IOTSEC_OK : IOTSEC_E_UNSUPPORTED;
    }
    if (oid_is(oid, n, oid_ed25519, sizeof oid_ed25519) && iotsec_reader_finish(&a) != IOTSEC_OK)
        return IOTSEC_E_BAD_KEY; /* RFC 8410 §3: no parameters */
    return IOTSEC_E_UNSUPPORTED;
}

/* ---- keys ------------------------------------------------------------------------------------ */

typedef struct p_key_state {
    psa_key_id_t id;
    uint8_t have_key;
} p_key_state;
typedef char p_key_fits[sizeof(p_key_state) <= IOTSEC_KEY_STATE_SIZE ? 1 : -1];

static p_key_state *key_state(iotsec_opaque_key *impl)
{
    return (p_key_state *)(void *)impl->bytes;
}

static const p_key_state *key_state_c(const iotsec_opaque_key *impl)
{
    return (const p_key_state *)(const void *)impl->bytes;
}

static int p_pubkey_load(iotsec_pubkey *pk, const uint8_t *der, size_t der_len, uint8_t *spki,
                         size_t spki_cap, size_t *spki_len)
{
    iotsec_reader r, outer, bits, rsa;
    iotsec_sig_alg alg = IOTSEC_SIG_ED25519;
    const uint8_t *key, *nm = NULL, *e = NULL;
    size_t key_len = 0, n_len = 0, e_len = 0;
    uint8_t point[65];
    psa_status_t st;
    int rc = psa_ready();

    if (rc != IOTSEC_OK)
        return rc;
    iotsec_reader_init(&r, der, der_len);
    der_enter(&r, 0x30, &outer);
    if (iotsec_reader_finish(&r) != IOTSEC_OK) /* trailing bytes after the SPKI */
        return IOTSEC_E_BAD_KEY;
    rc = alg_of(&outer, &alg);
    der_enter(&outer, 0x03, &bits);
    if (iotsec_reader_finish(&outer) != IOTSEC_OK || iotsec_reader_u8(&bits) != 0)
        return IOTSEC_E_BAD_KEY; /* no BIT STRING, more after it, or unused bits */
    if (rc != IOTSEC_OK)
        return rc;
    key_len = iotsec_reader_remaining(&bits);
    key = iotsec_reader_bytes(&bits, key_len);
    if (key == NULL)
        return IOTSEC_E_BAD_KEY;
    if (alg == IOTSEC_SIG_ECDSA_P256) {
        rc = p256_point(key, key_len, point);
        if (rc != IOTSEC_OK)
            return rc;
        st = import_key(PSA_KEY_TYPE_ECC_PUBLIC_KEY(PSA_ECC_FAMILY_SECP_R1), 256,
                        PSA_KEY_USAGE_VERIFY_HASH, PSA_ALG_ECDSA(PSA_ALG_SHA_256), point,
                        sizeof point, &key_state(&pk->impl)->id);
        pk->bits = 256;
        pk->sig_len = 64;
    } else {
        iotsec_reader_init(&rsa, key, key_len);
        der_enter(&rsa, 0x30, &bits);
        nm = der_uint(&bits, &n_len);
        e = der_uint(&bits, &e_len);
        if (iotsec_reader_finish(&rsa) != IOTSEC_OK || iotsec_reader_finish(&bits) != IOTSEC_OK)
            return IOTSEC_E_BAD_KEY;
        rc = rsa_acceptable(nm, n_len, e, e_len, &pk->bits);
        if (rc != IOTSEC_OK)
            return rc;
        st = import_key(PSA_KEY_TYPE_RSA_PUBLIC_KEY, 0, PSA_KEY_USAGE_VERIFY_HASH,
                        PSA_ALG_RSA_PSS_ANY_SALT(PSA_ALG_SHA_256), key, key_len,
                        &key_state(&pk->impl)->id);
        pk->sig_len = (pk->bits + 7u) / 8u;
    }
    /* not a point of the curve, an RSA key PSA finds inconsistent: a bad key; a size it
     * does not do (Mbed TLS: RSA moduli of whole bytes only): unsupported */
    if (st == PSA_ERROR_INVALID_ARGUMENT)
        return IOTSEC_E_BAD_KEY;
    if (st != PSA_SUCCESS)
        return psa_error(st);
    key_state(&pk->impl)->have_key = 1;
    pk->alg = alg;
    return spki_of(key_state(&pk->impl)->id, alg, spki, spki_cap, spki_len);
}

static void p_pubkey_free(iotsec_pubkey *pk)
{
    p_key_state *s = key_state(&pk->impl);

    if (s->have_key)
        (void)psa_destroy_key(s->id);
    s->have_key = 0;
}

/* RFC 5915 ECPrivateKey of P-256 inside PKCS#8: import the scalar; a stored public key must
 * be the scalar's (else the key would sign as one key and report another's key id). */
static int load_p256_private(iotsec_privkey *sk, const uint8_t *der, size_t der_len)
{
    iotsec_reader r, ec, tagged;
    const uint8_t *d, *v, *oid, *stored = NULL;
    uint8_t scalar[32], point[65], derived[65];
    size_t d_len = 0, v_len = 0, n = 0, stored_len = 0, derived_len = 0;
    psa_status_t st;
    int rc;

    iotsec_reader_init(&r, der, der_len);
    der_enter(&r, 0x30, &ec);
    v = der_get(&ec, 0x02, &v_len);
    d = der_get(&ec, 0x04, &d_len);
    if (iotsec_reader_finish(&r) != IOTSEC_OK || v == NULL || v_len != 1 || v[0] != 1 ||
        d == NULL || d_len == 0 || d_len > sizeof scalar)
        return IOTSEC_E_BAD_KEY;
    if (iotsec_reader_peek(&ec) == 0xa0) { /* [0] ECParameters: the same named curve only */
        der_enter(&ec, 0xa0, &tagged);
        oid = der_get(&tagged, 0x06, &n);
        if (iotsec_reader_finish(&tagged) != IOTSEC_OK ||
            !oid_is(oid, n, oid_prime256v1, sizeof oid_prime256v1))
            return IOTSEC_E_BAD_KEY;
    }
    if (iotsec_reader_peek(&ec) == 0xa1) { /* [1] publicKey BIT STRING */
        iotsec_reader bs;
        der_enter(&ec, 0xa1, &tagged);
        der_enter(&tagged, 0x03, &bs);
        if (iotsec_reader_finish(&tagged) != IOTSEC_OK || iotsec_reader_u8(&bs) != 0)
            return IOTSEC_E_BAD_KEY;
        stored_len = iotsec_reader_remaining(&bs);
        stored = iotsec_reader_bytes(&bs, stored_len);
        if (stored == NULL)
            return IOTSEC_E_BAD_KEY;
    }
    if (iotsec_reader_finish(&ec) != IOTSEC_OK)
        return IOTSEC_E_BAD_KEY;
    memset(scalar, 0, sizeof scalar);
    memcpy(scalar + sizeof scalar - d_len, d, d_len);
    st = import_key(PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1), 256,
                    PSA_KEY_USAGE_SIGN_HASH | PSA_KEY_USAGE_VERIFY_HASH,
                    PSA_ALG_ECDSA(PSA_ALG_SHA_256), scalar, sizeof scalar,
                    &key_state(&sk->impl)->id);
    iotsec_zeroize(scalar, sizeof scalar);
    if (st == PSA_ERROR_INVALID_ARGUMENT)
        return IOTSEC_E_BAD_KEY; /* 0 or >= n */
    if (st != PSA_SUCCESS)
        return psa_error(st);
    key_state(&sk->impl)->have_key = 1;
    if (stored != NULL) {
        rc = p256_point(stored, stored_len, point);
        if (rc != IOTSEC_OK)
            return rc;
        st = psa_export_public_key(key_state(&sk->impl)->id, derived, sizeof derived,
                                   &derived_len);
        if (st != PSA_SUCCESS)
            return psa_error(st);
        if (derived_len != sizeof derived || memcmp(derived, point, sizeof point) != 0)
            return IOTSEC_E_BAD_KEY;
    }
    sk->bits = 256;
    sk->sig_len = 64;
    return IOTSEC_OK;
}

/* RFC 8017 RSAPrivateKey inside PKCS#8: the size rules of crypto.h, then PSA's import. */
static int load_rsa_private(iotsec_privkey *sk, const uint8_t *der, size_t der_len)
{
    iotsec_reader r, seq;
    const uint8_t *nm, *e;
    size_t v_len = 0, n_len = 0, e_len = 0;
    psa_status_t st;
    int rc;

    iotsec_reader_init(&r, der, der_len);
    der_enter(&r, 0x30, &seq);
    (void)der_uint(&seq, &v_len);
    nm = der_uint(&seq, &n_len);
    e = der_uint(&seq, &e_len);
    if (iotsec_reader_finish(&r) != IOTSEC_OK || iotsec_reader_error(&seq) != IOTSEC_OK)
        return IOTSEC_E_BAD_KEY;
    rc = rsa_acceptable(nm, n_len, e, e_len, &sk->bits);
    if (rc != IOTSEC_OK)
        return rc;
    st = import_key(PSA_KEY_TYPE_RSA_KEY_PAIR, 0, PSA_KEY_USAGE_SIGN_HASH | PSA_KEY_USAGE_VERIFY_HASH,
                    PSA_ALG_RSA_PSS(PSA_ALG_SHA_256), der, der_len, &key_state(&sk->impl)->id);
    if (st == PSA_ERROR_INVALID_ARGUMENT)
        return IOTSEC_E_BAD_KEY;
    if (st != PSA_SUCCESS)
        return psa_error(st);
    key_state(&sk->impl)->have_key = 1;
    sk->sig_len = (sk->bits + 7u) / 8u;
    return IOTSEC_OK;
}

static int p_privkey_load(iotsec_privkey *sk, const uint8_t *der, size_t der_len)
{
    iotsec_reader r, info;
    iotsec_sig_alg alg = IOTSEC_SIG_ED25519;
    const uint8_t *version, *key;
    size_t v_len = 0, key_len = 0;
    int rc = psa_ready(), tag;

    if (rc != IOTSEC_OK)
        return rc;
    /* PrivateKeyInfo / OneAsymmetricKey (RFC 5958): version, algorithm, privateKey,
     * [0] attributes, [1] publicKey */
    iotsec_reader_init(&r, der, der_len);
    der_enter(&r, 0x30, &info);
    version = der_get(&info, 0x02, &v_len);
    if (iotsec_reader_finish(&r) != IOTSEC_OK || version == NULL || v_len != 1 || version[0] > 1)
        return IOTSEC_E_BAD_KEY;
    rc = alg_of(&info, &alg);
    key = der_get(&info, 0x04, &key_len);
    for (tag = iotsec_reader_peek(&info); tag == 0xa0 || tag == 0x81 || tag == 0xa1;
         tag = iotsec_reader_peek(&info)) {
        size_t skip = 0;
        (void)der_get(&info, (uint8_t)tag, &skip);
    }
    if (iotsec_reader_finish(&info) != IOTSEC_OK || key == NULL)
        return IOTSEC_E_BAD_KEY;
    if (rc != IOTSEC_OK)
        return rc;
    rc = alg == IOTSEC_SIG_ECDSA_P256 ? load_p256_private(sk, key, key_len)
                                      : load_rsa_private(sk, key, key_len);
    if (rc == IOTSEC_OK)
        sk->alg = alg;
    return rc;
}

static int p_privkey_public(const iotsec_privkey *sk, uint8_t *spki, size_t spki_cap,
                            size_t *spki_len)
{
    const p_key_state *s = key_state_c(&sk->impl);

    if (!s->have_key)
        return IOTSEC_E_STATE;
    return spki_of(s->id, sk->alg, spki, spki_cap, spki_len);
}

static void p_privkey_free(iotsec_privkey *sk)
{
    p_key_state *s = key_state(&sk->impl);

    if (s->have_key)
        (void)psa_destroy_key(s->id); /* PSA wipes the key material */
    s->have_key = 0;
}

/* ---- signatures ---------------------------------------------------------------------------- */

static psa_algorithm_t sig_alg_of(iotsec_sig_alg alg, int sign)
{
    if (alg == IOTSEC_SIG_ECDSA_P256)
        return PSA_ALG_ECDSA(PSA_ALG_SHA_256);
    return sign ? PSA_ALG_RSA_PSS(PSA_ALG_SHA_256) : PSA_ALG_RSA_PSS_ANY_SALT(PSA_ALG_SHA_256);
}

static int p_verify(const iotsec_pubkey *pk, const uint8_t *msg, size_t msg_len,
                    const uint8_t *sig, size_t sig_len)
{
    const p_key_state *s = key_state_c(&pk->impl);
    uint8_t digest[IOTSEC_SHA256_LEN];
    size_t n = 0;
    psa_status_t st;

    if (!s->have_key)
        return IOTSEC_E_STATE;
    if (pk->alg != IOTSEC_SIG_ECDSA_P256 && pk->alg != IOTSEC_SIG_RSA_PSS)
        return IOTSEC_E_BAD_SIGNATURE;
    st = psa_hash_compute(PSA_ALG_SHA_256, msg, msg_len, digest, sizeof digest, &n);
    if (st != PSA_SUCCESS)
        return psa_error(st);
    st = psa_verify_hash(s->id, sig_alg_of(pk->alg, 0), digest, n, sig, sig_len);
    if (st == PSA_SUCCESS)
        return IOTSEC_OK;
    /* every refusal of the signature (invalid, out of range, unparseable) is a bad one */
    return st == PSA_ERROR_INSUFFICIENT_MEMORY ? IOTSEC_E_NO_MEMORY : IOTSEC_E_BAD_SIGNATURE;
}

static int p_sign(const iotsec_privkey *sk, const uint8_t *msg, size_t msg_len, uint8_t *sig,
                  size_t sig_cap, size_t *sig_len)
{
    const p_key_state *s = key_state_c(&sk->impl);
    uint8_t digest[IOTSEC_SHA256_LEN];
    size_t n = 0;
    psa_status_t st;

    if (!s->have_key)
        return IOTSEC_E_STATE;
    if (sk->alg != IOTSEC_SIG_ECDSA_P256 && sk->alg != IOTSEC_SIG_RSA_PSS)
        return IOTSEC_E_UNSUPPORTED;
    if (sk->alg == IOTSEC_SIG_RSA_PSS && sk->pss_salt_len > 64)
        return IOTSEC_E_INVALID_ARG;
    if (sk->alg == IOTSEC_SIG_RSA_PSS && sk->pss_salt_len != IOTSEC_SHA256_LEN)
        return IOTSEC_E_UNSUPPORTED; /* PSA_ALG_RSA_PSS salts with the hash length */
    st = psa_hash_compute(PSA_ALG_SHA_256, msg, msg_len, digest, sizeof digest, &n);
    if (st == PSA_SUCCESS)
        st = psa_sign_hash(s->id, sig_alg_of(sk->alg, 1), digest, n, sig, sig_cap, sig_len);
    if (st == PSA_ERROR_BUFFER_TOO_SMALL)
        return IOTSEC_E_BUFFER_TOO_SMALL;
    if (st != PSA_SUCCESS)
        return st == PSA_ERROR_INSUFFICIENT_MEMORY ? IOTSEC_E_NO_MEMORY : IOTSEC_E_BACKEND;
    return *sig_len == sk->sig_len ? IOTSEC_OK : IOTSEC_E_BACKEND;
}

static int p_random(uint8_t *out, size_t len)
{
    int rc = psa_ready();

    while (rc == IOTSEC_OK && len > 0) {
        size_t n = len < 256u ? len : 256u; /* within every implementation's request limit */
        rc = psa_error(psa_generate_random(out, n));
        out += n;
        len -= n;
    }
    return rc;
}

const iotsec_crypto iotsec_backend_psa = {
    .name = "psa",
    .caps = P_CAPS,
    .sha256_init = p_sha256_init,
    .sha256_update = p_sha256_update,
    .sha256_final = p_sha256_final,
    .sha256_cleanup = p_sha256_cleanup,
    .hmac_setkey = p_hmac_setkey,
    .hmac_init = p_hmac_init,
    .hmac_update = p_hmac_update,
    .hmac_final = p_hmac_final,
    .hmac_cleanup = p_hmac_cleanup,
    .aes_cbc_init = p_aes_cbc_init,
    .aes_cbc_update = p_aes_cbc_update,
    .aes_cbc_cleanup = p_aes_cbc_cleanup,
    .pubkey_load = p_pubkey_load,
    .pubkey_free = p_pubkey_free,
    .privkey_load = p_privkey_load,
    .privkey_public = p_privkey_public,
    .privkey_free = p_privkey_free,
    .verify = p_verify,
    .sign = p_sign,
    .random = p_random,
    .fallback = IOTSEC_PSA_FALLBACK,
};
