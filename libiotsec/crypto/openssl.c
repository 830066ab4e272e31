/*
 * libiotsec — OpenSSL 3 backend adapter.
 *
 * Every primitive is an EVP call; handles allocated here live in the context's opaque
 * state and are freed by the matching cleanup. OpenSSL's error queue is drained into
 * our codes in one place, ossl_error().
 */
#include <limits.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "iotsec/crypto.h"

#include "backends.h"
#include "iotsec/error.h"
#include "iotsec/reader.h"
#include "iotsec/util.h"

#define OSSL_CHUNK ((size_t)1 << 30) /* EVP APIs take int lengths */

/* The one mapping from OpenSSL's error queue to ours; clears the queue. */
static int ossl_error(void)
{
    unsigned long e = ERR_peek_last_error();
    int rc = IOTSEC_E_BACKEND;

    if (e != 0 && ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE)
        rc = IOTSEC_E_NO_MEMORY;
    ERR_clear_error();
    return rc;
}

/* ---- SHA-256 ----------------------------------------------------------------------------- */

static int o_sha256_init(iotsec_sha256_ctx *ctx)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();

    if (md == NULL)
        return IOTSEC_E_NO_MEMORY;
    if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(md);
        return ossl_error();
    }
    ctx->state.ptr = md;
    return IOTSEC_OK;
}

static int o_sha256_update(iotsec_sha256_ctx *ctx, const uint8_t *data, size_t len)
{
    if (ctx->state.ptr == NULL)
        return IOTSEC_E_STATE;
    if (EVP_DigestUpdate((EVP_MD_CTX *)ctx->state.ptr, data, len) != 1)
        return ossl_error();
    return IOTSEC_OK;
}

static int o_sha256_final(iotsec_sha256_ctx *ctx, uint8_t out[IOTSEC_SHA256_LEN])
{
    unsigned int n = 0;

    if (ctx->state.ptr == NULL)
        return IOTSEC_E_STATE;
    if (EVP_DigestFinal_ex((EVP_MD_CTX *)ctx->state.ptr, out, &n) != 1 || n != IOTSEC_SHA256_LEN)
        return ossl_error();
    return IOTSEC_OK;
}

static void o_sha256_cleanup(iotsec_sha256_ctx *ctx)
{
    EVP_MD_CTX_free((EVP_MD_CTX *)ctx->state.ptr);
    ctx->state.ptr = NULL;
}

/* ---- HMAC-SHA256: one EVP_MAC_CTX keyed once; EVP_MAC_init(NULL key) restarts it --------- */

/* A flag byte after the handle: 1 between hmac_init and hmac_final. EVP_MAC_init in setkey
 * leaves the EVP context ready for a message, so without it an update straight after setkey
 * (or after final) would be accepted here and refused by libsodium; both say IOTSEC_E_STATE. */
#define O_HMAC_OPEN(ctx) ((ctx)->state.bytes[sizeof(void *)])

static int o_hmac_setkey(iotsec_hmac_ctx *ctx, const uint8_t *key, size_t key_len)
{
    static const uint8_t empty_key[1] = {0};
    EVP_MAC *mac;
    EVP_MAC_CTX *mctx;
    OSSL_PARAM params[2];

    mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac == NULL)
        return ossl_error();
    mctx = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac); /* the context holds its own reference */
    if (mctx == NULL)
        return ossl_error();
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    /* a zero-length key is legal HMAC; OpenSSL wants a non-NULL pointer for it */
    if (EVP_MAC_init(mctx, key_len ? key : empty_key, key_len, params) != 1) {
        EVP_MAC_CTX_free(mctx);
        return ossl_error();
    }
    ctx->state.ptr = mctx;
    O_HMAC_OPEN(ctx) = 0;
    return IOTSEC_OK;
}

static int o_hmac_init(iotsec_hmac_ctx *ctx)
{
    if (ctx->state.ptr == NULL)
        return IOTSEC_E_STATE;
    O_HMAC_OPEN(ctx) = 0;
    if (EVP_MAC_init((EVP_MAC_CTX *)ctx->state.ptr, NULL, 0, NULL) != 1)
        return ossl_error();
    O_HMAC_OPEN(ctx) = 1;
    return IOTSEC_OK;
}

static int o_hmac_update(iotsec_hmac_ctx *ctx, const uint8_t *data, size_t len)
{
    if (ctx->state.ptr == NULL || !O_HMAC_OPEN(ctx))
        return IOTSEC_E_STATE;
    if (EVP_MAC_update((EVP_MAC_CTX *)ctx->state.ptr, data, len) != 1)
        return ossl_error();
    return IOTSEC_OK;
}

static int o_hmac_final(iotsec_hmac_ctx *ctx, uint8_t out[IOTSEC_HMAC_LEN])
{
    size_t n = 0;

    if (ctx->state.ptr == NULL || !O_HMAC_OPEN(ctx))
        return IOTSEC_E_STATE;
    O_HMAC_OPEN(ctx) = 0;
    if (EVP_MAC_final((EVP_MAC_CTX *)ctx->state.ptr, out, &n, IOTSEC_HMAC_LEN) != 1 ||
        n != IOTSEC_HMAC_LEN)
        return ossl_error();
    return IOTSEC_OK;
}

static void o_hmac_cleanup(iotsec_hmac_ctx *ctx)
{
    EVP_MAC_CTX_free((EVP_MAC_CTX *)ctx->state.ptr); /* OpenSSL cleanses the key */
    ctx->state.ptr = NULL;
}

/* ---- AES-CBC, no padding ------------------------------------------------------------------ */

static int o_aes_cbc_init(iotsec_aes_cbc_ctx *ctx, int encrypt, const uint8_t *key,
                          size_t key_len, const uint8_t iv[IOTSEC_AES_BLOCK_LEN])
{
    const EVP_CIPHER *cipher = key_len == 16u ? EVP_aes_128_cbc() : EVP_aes_256_cbc();
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();

    if (c == NULL)
        return IOTSEC_E_NO_MEMORY;
    if (EVP_CipherInit_ex(c, cipher, NULL, key, iv, encrypt == IOTSEC_ENCRYPT ? 1 : 0) != 1 ||
        EVP_CIPHER_CTX_set_padding(c, 0) != 1) {
        EVP_CIPHER_CTX_free(c);
        return ossl_error();
    }
    ctx->state.ptr = c;
    return IOTSEC_OK;
}

static int o_aes_cbc_update(iotsec_aes_cbc_ctx *ctx, const uint8_t *in, uint8_t *out, size_t len)
{
    EVP_CIPHER_CTX *c = (EVP_CIPHER_CTX *)ctx->state.ptr;

    if (c == NULL)
        return IOTSEC_E_STATE;
    while (len > 0) {
        size_t n = len < OSSL_CHUNK ? len : OSSL_CHUNK;
        int outl = 0;
        if (EVP_CipherUpdate(c, out, &outl, in, (int)n) != 1 || (size_t)outl != n)
            return ossl_error();
        in += n;
        out += n;
        len -= n;
    }
    return IOTSEC_OK;
}

static void o_aes_cbc_cleanup(iotsec_aes_cbc_ctx *ctx)
{
    EVP_CIPHER_CTX_free((EVP_CIPHER_CTX *)ctx->state.ptr); /* cleanses the key schedule */
    ctx->state.ptr = NULL;
}

/* ---- keys --------------------------------------------------------------------------------- */

/* Classify a parsed key; fills alg, bits, sig_len. Other types: unsupported or bad key. */
static int classify_key(EVP_PKEY *pkey, iotsec_sig_alg *alg, unsigned *bits, size_t *sig_len)
{
    switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_ED25519:
        *alg = IOTSEC_SIG_ED25519;
        *bits = 255;
        *sig_len = 64;
        return IOTSEC_OK;
    case EVP_PKEY_EC: {
        char group[64];
        size_t glen = 0;
        if (EVP_PKEY_get_group_name(pkey, group, sizeof group, &glen) != 1) {
            ERR_clear_error();
            return IOTSEC_E_BAD_KEY;
        }
        if (strcmp(group, "prime256v1") != 0)
            return IOTSEC_E_UNSUPPORTED;
        /* RFC 5480 §2.1.1: namedCurve only. OpenSSL names explicit parameters that equal
         * P-256 "prime256v1" too, but re-encodes them explicitly: another key id. */
        if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_EC_ENCODING, group,
                                           sizeof group, &glen) != 1 ||
            strcmp(group, OSSL_PKEY_EC_ENCODING_GROUP) != 0) {
            ERR_clear_error();
            return IOTSEC_E_BAD_KEY;
        }
        /* the canonical encoding (and key id) uses the uncompressed point */
        if (EVP_PKEY_set_utf8_string_param(pkey, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                           "uncompressed") != 1)
            return ossl_error();
        *alg = IOTSEC_SIG_ECDSA_P256;
        *bits = 256;
        *sig_len = 64;
        return IOTSEC_OK;
    }
    case EVP_PKEY_RSA: {
        int b = EVP_PKEY_get_bits(pkey), e_ok;
        BIGNUM *e = NULL;
        if (b < 2048 || b > 4096)
            return IOTSEC_E_BAD_KEY;
        /* an even or unit public exponent is no RSA key (RFC 8017 §3.1: 3 <= e, odd);
         * with e = 1 anyone can write a "signature" that verifies */
        if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e) != 1)
            return ossl_error();
        e_ok = BN_is_odd(e) && !BN_is_one(e);
        BN_free(e);
        if (!e_ok)
            return IOTSEC_E_BAD_KEY;
        *alg = IOTSEC_SIG_RSA_PSS;
        *bits = (unsigned)b;
        *sig_len = (size_t)EVP_PKEY_get_size(pkey);
        return IOTSEC_OK;
    }
    default:
        return IOTSEC_E_UNSUPPORTED;
    }
}

static int spki_of(EVP_PKEY *pkey, uint8_t *spki, size_t spki_cap, size_t *spki_len)
{
    int n = i2d_PUBKEY(pkey, NULL);
    unsigned char *p = spki;

    if (n <= 0)
        return ossl_error();
    if ((size_t)n > spki_cap)
        return IOTSEC_E_BUFFER_TOO_SMALL;
    if (i2d_PUBKEY(pkey, &p) != n)
        return ossl_error();
    *spki_len = (size_t)n;
    return IOTSEC_OK;
}

static int o_pubkey_load(iotsec_pubkey *pk, const uint8_t *der, size_t der_len, uint8_t *spki,
                         size_t spki_cap, size_t *spki_len)
{
    const unsigned char *p = der;
    EVP_PKEY *pkey;
    int rc;

    if (der_len > LONG_MAX)
        return IOTSEC_E_BAD_KEY;
    pkey = d2i_PUBKEY(NULL, &p, (long)der_len);
    if (pkey == NULL) {
        ERR_clear_error();
        return IOTSEC_E_BAD_KEY;
    }
    if ((size_t)(p - der) != der_len) { /* trailing bytes after the SPKI */
        EVP_PKEY_free(pkey);
        return IOTSEC_E_BAD_KEY;
    }
    rc = classify_key(pkey, &pk->alg, &pk->bits, &pk->sig_len);
    if (rc == IOTSEC_OK)
        rc = spki_of(pkey, spki, spki_cap, spki_len);
    if (rc != IOTSEC_OK) {
        EVP_PKEY_free(pkey);
        return rc;
    }
    pk->impl.ptr = pkey;
    return IOTSEC_OK;
}

static void o_pubkey_free(iotsec_pubkey *pk)
{
    EVP_PKEY_free((EVP_PKEY *)pk->impl.ptr);
    pk->impl.ptr = NULL;
}

/* IOTSEC_OK if the private and public halves of pkey belong together, else IOTSEC_E_BAD_KEY.
 * An EC private key carries its public point beside the scalar (RFC 5915) and OpenSSL keeps
 * the stored point: a mismatched pair would sign with one key and report another's key id.
 * RSA is not checked: signing uses the same n as the key id, and OpenSSL's RSA pairwise
 * check runs primality tests (~90 ms for 3072 bits). */
static int pairwise_check(EVP_PKEY *pkey)
{
    EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    int ok;

    if (pctx == NULL)
        return ossl_error();
    ok = EVP_PKEY_pairwise_check(pctx) == 1;
    EVP_PKEY_CTX_free(pctx);
    ERR_clear_error();
    return ok ? IOTSEC_OK : IOTSEC_E_BAD_KEY;
}

/* One DER header (one-byte tag, definite length that fits in what remains): returns the
 * length, writes the tag; on anything else the reader's error is set. */
static size_t der_header(iotsec_reader *r, uint8_t *tag)
{
    uint8_t t = iotsec_reader_u8(r), l = iotsec_reader_u8(r);
    size_t len = 0, k;

    if (iotsec_reader_error(r) != IOTSEC_OK || (t & 0x1fu) == 0x1fu || l == 0x80u ||
        l > 0x84u) {
        iotsec_reader_fail(r, IOTSEC_E_BAD_KEY);
        return 0;
    }
    if (l < 0x80u) {
        len = l;
    } else {
        for (k = 0; k < (size_t)(l & 0x7fu); k++)
            len = (len << 8) | iotsec_reader_u8(r);
    }
    if (iotsec_reader_error(r) != IOTSEC_OK || len > iotsec_reader_remaining(r)) {
        iotsec_reader_fail(r, IOTSEC_E_BAD_KEY);
        return 0;
    }
    *tag = t;
    return len;
}

/* Is der[0..len) shaped as one PKCS#8 PrivateKeyInfo / OneAsymmetricKey (RFC 5958):
 * SEQUENCE { INTEGER 0|1, SEQUENCE { OID, .. }, OCTET STRING, .. } spanning the input? */
static int pkcs8_shaped(const uint8_t *der, size_t len)
{
    iotsec_reader r, seq;
    const uint8_t *v, *alg;
    uint8_t tag = 0;
    size_t n;

    iotsec_reader_init(&r, der, len);
    n = der_header(&r, &tag);
    if (iotsec_reader_error(&r) != IOTSEC_OK || tag != 0x30u || n != iotsec_reader_remaining(&r))
        return 0;
    n = der_header(&r, &tag); /* version */
    v = iotsec_reader_bytes(&r, n);
    if (iotsec_reader_error(&r) != IOTSEC_OK || tag != 0x02u || n != 1 || v[0] > 1)
        return 0;
    n = der_header(&r, &tag); /* privateKeyAlgorithm */
    alg = iotsec_reader_bytes(&r, n);
    if (iotsec_reader_error(&r) != IOTSEC_OK || tag != 0x30u)
        return 0;
    iotsec_reader_init(&seq, alg, n);
    (void)der_header(&seq, &tag);
    if (iotsec_reader_error(&seq) != IOTSEC_OK || tag != 0x06u)
        return 0;
    (void)iotsec_reader_bytes(&r, der_header(&r, &tag)); /* privateKey */
    return iotsec_reader_error(&r) == IOTSEC_OK && tag == 0x04u;
}

static int o_privkey_load(iotsec_privkey *sk, const uint8_t *der, size_t der_len)
{
    const unsigned char *p = der;
    PKCS8_PRIV_KEY_INFO *p8;
    EVP_PKEY *pkey = NULL;
    int rc;

    /* PKCS#8 only (iotsec/crypto.h), checked by shape before OpenSSL parses it; then the
     * decoder of the key type its algorithm OID names, not d2i_AutoPrivateKey's trial of
     * every decoder (about 1.3 ms on an input that is no key) */
    if (der_len > LONG_MAX || !pkcs8_shaped(der, der_len))
        return IOTSEC_E_BAD_KEY;
    p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)der_len);
    if (p8 != NULL && (size_t)(p - der) == der_len) /* no trailing bytes */
        pkey = EVP_PKCS82PKEY(p8);
    PKCS8_PRIV_KEY_INFO_free(p8);
    if (pkey == NULL) {
        ERR_clear_error();
        return IOTSEC_E_BAD_KEY;
    }
    rc = classify_key(pkey, &sk->alg, &sk->bits, &sk->sig_len);
    if (rc == IOTSEC_OK && sk->alg != IOTSEC_SIG_RSA_PSS)
        rc = pairwise_check(pkey);
    if (rc != IOTSEC_OK) {
        EVP_PKEY_free(pkey);
        return rc;
    }
    sk->impl.ptr = pkey;
    return IOTSEC_OK;
}

static int o_privkey_public(const iotsec_privkey *sk, uint8_t *spki, size_t spki_cap,
                            size_t *spki_len)
{
    if (sk->impl.ptr == NULL)
        return IOTSEC_E_STATE;
    return spki_of((EVP_PKEY *)sk->impl.ptr, spki, spki_cap, spki_len);
}

static void o_privkey_free(iotsec_privkey *sk)
{
    EVP_PKEY_free((EVP_PKEY *)sk->impl.ptr); /* OpenSSL cleanses private material */
    sk->impl.ptr = NULL;
}

/* ---- signatures ---------------------------------------------------------------------------- */

/* Set PSS parameters on a DigestSign/DigestVerify context. */
static int pss_params(EVP_PKEY_CTX *pctx, int salt_len)
{
    return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
           EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, salt_len) == 1 &&
           EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) == 1;
}

/* raw r||s (32 + 32 bytes) to a DER ECDSA-Sig-Value; *der_len gets its length */
static int ecdsa_raw_to_der(const uint8_t *raw, unsigned char *der, size_t der_cap,
                            size_t *der_len)
{
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, 32, NULL);
    BIGNUM *s = BN_bin2bn(raw + 32, 32, NULL);
    unsigned char *p = der;
    int n;

    if (es == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1) {
        ECDSA_SIG_free(es);
        BN_free(r);
        BN_free(s);
        return ossl_error();
    }
    n = i2d_ECDSA_SIG(es, NULL);
    if (n <= 0 || (size_t)n > der_cap || i2d_ECDSA_SIG(es, &p) != n) {
        ECDSA_SIG_free(es);
        return ossl_error();
    }
    ECDSA_SIG_free(es);
    *der_len = (size_t)n;
    return IOTSEC_OK;
}

static int o_verify(const iotsec_pubkey *pk, const uint8_t *msg, size_t msg_len,
                    const uint8_t *sig, size_t sig_len)
{
    EVP_PKEY *pkey = (EVP_PKEY *)pk->impl.ptr;
    EVP_MD_CTX *md;
    EVP_PKEY_CTX *pctx = NULL;
    unsigned char der[80];
    size_t der_len = 0;
    int ok, rc;

    if (pkey == NULL)
        return IOTSEC_E_STATE;
    if (pk->alg == IOTSEC_SIG_ECDSA_P256) {
        rc = ecdsa_raw_to_der(sig, der, sizeof der, &der_len);
        if (rc != IOTSEC_OK)
            return rc;
        sig = der;
        sig_len = der_len;
    }
    md = EVP_MD_CTX_new();
    if (md == NULL)
        return IOTSEC_E_NO_MEMORY;
    ok = EVP_DigestVerifyInit(md, &pctx, pk->alg == IOTSEC_SIG_ED25519 ? NULL : EVP_sha256(),
                              NULL, pkey) == 1;
    if (ok && pk->alg == IOTSEC_SIG_RSA_PSS)
        ok = pss_params(pctx, RSA_PSS_SALTLEN_AUTO); /* any salt length verifies */
    if (!ok) {
        EVP_MD_CTX_free(md);
        return ossl_error();
    }
    ok = EVP_DigestVerify(md, sig, sig_len, msg, msg_len);
    EVP_MD_CTX_free(md);
    ERR_clear_error();
    /* 1 is the only success; 0 and negative (unparseable signature) are failures */
    return ok == 1 ? IOTSEC_OK : IOTSEC_E_BAD_SIGNATURE;
}

static int o_sign(const iotsec_privkey *sk, const uint8_t *msg, size_t msg_len, uint8_t *sig,
                  size_t sig_cap, size_t *sig_len)
{
    EVP_PKEY *pkey = (EVP_PKEY *)sk->impl.ptr;
    EVP_MD_CTX *md;
    EVP_PKEY_CTX *pctx = NULL;
    unsigned char der[80];
    unsigned char *out = sk->alg == IOTSEC_SIG_ECDSA_P256 ? der : sig;
    size_t out_len = sk->alg == IOTSEC_SIG_ECDSA_P256 ? sizeof der : sig_cap;
    int ok;

    if (pkey == NULL)
        return IOTSEC_E_STATE;
    if (sk->alg == IOTSEC_SIG_RSA_PSS && sk->pss_salt_len > 64)
        return IOTSEC_E_INVALID_ARG;
    md = EVP_MD_CTX_new();
    if (md == NULL)
        return IOTSEC_E_NO_MEMORY;
    ok = EVP_DigestSignInit(md, &pctx, sk->alg == IOTSEC_SIG_ED25519 ? NULL : EVP_sha256(), NULL,
                            pkey) == 1;
    if (ok && sk->alg == IOTSEC_SIG_RSA_PSS)
        ok = pss_params(pctx, (int)sk->pss_salt_len);
    if (ok)
        ok = EVP_DigestSign(md, out, &out_len, msg, msg_len) == 1;
    EVP_MD_CTX_free(md);
    if (!ok)
        return ossl_error();
    if (sk->alg == IOTSEC_SIG_ECDSA_P256) {
        const unsigned char *p = der;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)out_len);
        const BIGNUM *r, *s;
        if (es == NULL)
            return ossl_error();
        ECDSA_SIG_get0(es, &r, &s);
        ok = BN_bn2binpad(r, sig, 32) == 32 && BN_bn2binpad(s, sig + 32, 32) == 32;
        ECDSA_SIG_free(es);
        if (!ok)
            return ossl_error();
        out_len = 64;
    }
    *sig_len = out_len;
    return IOTSEC_OK;
}

static int o_random(uint8_t *out, size_t len)
{
    while (len > 0) {
        size_t n = len < OSSL_CHUNK ? len : OSSL_CHUNK;
        if (RAND_bytes(out, (int)n) != 1)
            return ossl_error();
        out += n;
        len -= n;
    }
    return IOTSEC_OK;
}

const iotsec_crypto iotsec_backend_openssl = {
    .name = "openssl",
    .caps = IOTSEC_CAP_SHA256 | IOTSEC_CAP_HMAC_SHA256 | IOTSEC_CAP_AES_CBC | IOTSEC_CAP_ED25519 |
            IOTSEC_CAP_ECDSA_P256 | IOTSEC_CAP_RSA_PSS | IOTSEC_CAP_RANDOM,
    .sha256_init = o_sha256_init,
    .sha256_update = o_sha256_update,
    .sha256_final = o_sha256_final,
    .sha256_cleanup = o_sha256_cleanup,
    .hmac_setkey = o_hmac_setkey,
    .hmac_init = o_hmac_init,
    .hmac_update = o_hmac_update,
    .hmac_final = o_hmac_final,
    .hmac_cleanup = o_hmac_cleanup,
    .aes_cbc_init = o_aes_cbc_init,
    .aes_cbc_update = o_aes_cbc_update,
    .aes_cbc_cleanup = o_aes_cbc_cleanup,
    .pubkey_load = o_pubkey_load,
    .pubkey_free = o_pubkey_free,
    .privkey_load = o_privkey_load,
    .privkey_public = o_privkey_public,
    .privkey_free = o_privkey_free,
    .verify = o_verify,
    .sign = o_sign,
    .random = o_random,
};
