/* libiotsec — EST (RFC 7030) subset: bootstrap tokens, certificate requests, certs-only
 * PKCS#7 answers (include/iotsec/est.h). */
#include "iotsec/est.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "iotsec/denylist.h"
#include "iotsec/error.h"
#include "iotsec/util.h"
#include "x509_internal.h"

#define TOKEN_MAX 1024u
#define TOKEN_DOMAIN "iotsec-est-token-v1"

static void say(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;

    if (out == NULL || cap == 0)
        return;
    va_start(ap, fmt);
    (void)vsnprintf(out, cap, fmt, ap);
    va_end(ap);
}

/* ---- tokens -------------------------------------------------------------------------------- */

int iotsec_est_token_hash(const char *device_id, size_t id_len, const char *token,
                          size_t token_len, uint8_t hash[IOTSEC_EST_TOKEN_HASH_LEN])
{
    static const unsigned char zero = 0;
    EVP_MD_CTX *md;
    unsigned int n = 0;
    int ok;

    if (device_id == NULL || (token == NULL && token_len > 0) || hash == NULL ||
        token_len > TOKEN_MAX || iotsec_device_id_check(device_id, id_len) != IOTSEC_OK)
        return IOTSEC_E_INVALID_ARG;
    md = EVP_MD_CTX_new();
    ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
         EVP_DigestUpdate(md, TOKEN_DOMAIN, sizeof TOKEN_DOMAIN - 1u) == 1 &&
         EVP_DigestUpdate(md, &zero, 1) == 1 && EVP_DigestUpdate(md, device_id, id_len) == 1 &&
         EVP_DigestUpdate(md, &zero, 1) == 1 &&
         (token_len == 0 || EVP_DigestUpdate(md, token, token_len) == 1) &&
         EVP_DigestFinal_ex(md, hash, &n) == 1 && n == IOTSEC_EST_TOKEN_HASH_LEN;
    EVP_MD_CTX_free(md);
    ERR_clear_error();
    return ok ? IOTSEC_OK : IOTSEC_E_BACKEND;
}

int iotsec_est_token_new(const char *device_id, size_t id_len,
                         char text[IOTSEC_EST_TOKEN_TEXT_LEN + 1],
                         uint8_t hash[IOTSEC_EST_TOKEN_HASH_LEN])
{
    uint8_t raw[IOTSEC_EST_TOKEN_TEXT_LEN / 2u];
    int rc;

    if (device_id == NULL || text == NULL || hash == NULL ||
        iotsec_device_id_check(device_id, id_len) != IOTSEC_OK)
        return IOTSEC_E_INVALID_ARG;
    if (RAND_priv_bytes(raw, (int)sizeof raw) != 1) {
        ERR_clear_error();
        return IOTSEC_E_BACKEND;
    }
    rc = iotsec_hex_encode(raw, sizeof raw, text, IOTSEC_EST_TOKEN_TEXT_LEN + 1u);
    iotsec_zeroize(raw, sizeof raw);
    if (rc == IOTSEC_OK)
        rc = iotsec_est_token_hash(device_id, id_len, text, IOTSEC_EST_TOKEN_TEXT_LEN, hash);
    if (rc != IOTSEC_OK)
        iotsec_zeroize(text, IOTSEC_EST_TOKEN_TEXT_LEN + 1u);
    return rc;
}

int iotsec_est_token_check(const uint8_t stored[IOTSEC_EST_TOKEN_HASH_LEN], int64_t expires_at,
                           int64_t used_at, const uint8_t presented[IOTSEC_EST_TOKEN_HASH_LEN],
                           int64_t now)
{
    if (stored == NULL || presented == NULL || used_at < 0 || now < 0)
        return IOTSEC_E_INVALID_ARG;
    /* authenticate → freshness: a used or expired token says so only to its holder */
    if (iotsec_ct_compare(stored, presented, IOTSEC_EST_TOKEN_HASH_LEN) != 0)
        return IOTSEC_E_BAD_MAC;
    if (used_at != 0)
        return IOTSEC_E_REPLAY;
    if (now > expires_at)
        return IOTSEC_E_EXPIRED;
    return IOTSEC_OK;
}

/* ---- base64 bodies ------------------------------------------------------------------------- */

/* body without CR, LF, space and tab, base64-decoded into a new buffer *der (free). */
static int body_decode(const uint8_t *body, size_t len, uint8_t **der, size_t *der_len)
{
    char *text;
    uint8_t *out;
    size_t i, n = 0, cap;
    int rc;

    *der = NULL;
    *der_len = 0;
    if (len == 0 || len > IOTSEC_EST_BODY_MAX)
        return IOTSEC_E_BAD_LENGTH;
    text = malloc(len);
    if (text == NULL)
        return IOTSEC_E_NO_MEMORY;
    for (i = 0; i < len; i++) {
        if (body[i] != '\r' && body[i] != '\n' && body[i] != ' ' && body[i] != '\t')
            text[n++] = (char)body[i];
    }
    cap = IOTSEC_BASE64_DECODED_MAX(n) + 1u;
    out = malloc(cap);
    if (out == NULL) {
        free(text);
        return IOTSEC_E_NO_MEMORY;
    }
    rc = n == 0 ? IOTSEC_E_BAD_ENCODING : iotsec_base64_decode(text, n, out, cap, der_len);
    free(text);
    if (rc == IOTSEC_E_NON_CANONICAL || rc == IOTSEC_E_BUFFER_TOO_SMALL)
        rc = IOTSEC_E_BAD_ENCODING;
    if (rc != IOTSEC_OK || *der_len == 0) {
        free(out);
        *der_len = 0;
        return rc != IOTSEC_OK ? rc : IOTSEC_E_BAD_ENCODING;
    }
    *der = out;
    return IOTSEC_OK;
}

/* der[0..len) as base64 in lines of 64 characters, each ending in "\n". */
static int body_encode(const uint8_t *der, size_t len, char **out, size_t *out_len)
{
    size_t b64 = IOTSEC_BASE64_ENCODED_LEN(len), lines = (b64 + 63u) / 64u, i, k = 0, got = 0;
    char *flat = malloc(b64 + 1u), *text = malloc(b64 + lines + 1u);
    int rc;

    if (flat == NULL || text == NULL) {
        free(flat);
        free(text);
        return IOTSEC_E_NO_MEMORY;
    }
    rc = iotsec_base64_encode(der, len, flat, b64 + 1u, &got);
    for (i = 0; rc == IOTSEC_OK && i < got; i++) {
        text[k++] = flat[i];
        if (i % 64u == 63u || i + 1u == got)
            text[k++] = '\n';
    }
    free(flat);
    if (rc != IOTSEC_OK) {
        free(text);
        return rc;
    }
    text[k] = '\0';
    *out = text;
    if (out_len != NULL)
        *out_len = k;
    return IOTSEC_OK;
}

/* ---- requests ------------------------------------------------------------------------------ */

static int key_rule(EVP_PKEY *pub)
{
    char group[32];
    size_t glen = 0;
    int bits;

    switch (EVP_PKEY_get_base_id(pub)) {
    case EVP_PKEY_ED25519: return IOTSEC_OK;
    case EVP_PKEY_EC:
        if (EVP_PKEY_get_group_name(pub, group, sizeof group, &glen) != 1 ||
            (strcmp(group, "prime256v1") != 0 && strcmp(group, "P-256") != 0)) {
            ERR_clear_error();
            return IOTSEC_E_BAD_KEY;
        }
        return IOTSEC_OK;
    case EVP_PKEY_RSA:
        bits = EVP_PKEY_get_bits(pub);
        return bits >= 2048 && bits <= 4096 ? IOTSEC_OK : IOTSEC_E_BAD_KEY;
    default: return IOTSEC_E_BAD_KEY;
    }
}

/* The one commonName of name, equal to id? */
static int cn_rule(const X509_NAME *name, const char *id, size_t id_len, char *reason,
                   size_t cap)
{
    int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1), type;
    const ASN1_STRING *s;
    size_t n;

    if (idx < 0) {
        say(reason, cap, "the request's subject has no commonName");
        return IOTSEC_E_MISSING_FIELD;
    }
    if (X509_NAME_get_index_by_NID(name, NID_commonName, idx) >= 0) {
        say(reason, cap, "the request's subject has two commonNames");
        return IOTSEC_E_MALFORMED;
    }
    s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
    type = s != NULL ? ASN1_STRING_type(s) : -1;
    n = s != NULL ? (size_t)ASN1_STRING_length(s) : 0;
    if ((type != V_ASN1_PRINTABLESTRING && type != V_ASN1_UTF8STRING &&
         type != V_ASN1_IA5STRING) ||
        n != id_len || memcmp(ASN1_STRING_get0_data(s), id, id_len) != 0 ||
        iotsec_device_id_check((const char *)ASN1_STRING_get0_data(s), n) != IOTSEC_OK) {
        say(reason, cap, "the request names another device than %.*s", (int)id_len, id);
        return IOTSEC_E_IDENTITY_MISMATCH;
    }
    return IOTSEC_OK;
}

static int san_rule(X509_REQ *req, const char *id, size_t id_len, char *reason, size_t cap)
{
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
    GENERAL_NAMES *gens;
    int i, crit = -1, rc = IOTSEC_OK;

    if (exts == NULL) {
        ERR_clear_error();
        return IOTSEC_OK;
    }
    gens = X509V3_get_d2i(exts, NID_subject_alt_name, &crit, NULL);
    if (gens == NULL && crit != -1)
        rc = IOTSEC_E_MALFORMED;
    for (i = 0; rc == IOTSEC_OK && gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        const ASN1_IA5STRING *d = g->type == GEN_DNS ? g->d.dNSName : NULL;
        if (d == NULL || (size_t)ASN1_STRING_length(d) != id_len ||
            memcmp(ASN1_STRING_get0_data(d), id, id_len) != 0)
            rc = IOTSEC_E_POLICY;
    }
    if (rc != IOTSEC_OK)
        say(reason, cap, "the request asks for subjectAltNames other than DNS:%.*s", (int)id_len,
            id);
    GENERAL_NAMES_free(gens);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    ERR_clear_error();
    return rc;
}

int iotsec_est_csr_check(const uint8_t *body, size_t len, const char *device_id, size_t id_len,
                         EVP_PKEY **key, char *reason, size_t cap)
{
    uint8_t *der = NULL;
    size_t der_len = 0;
    const unsigned char *p;
    X509_REQ *req = NULL;
    EVP_PKEY *pub = NULL;
    int rc;

    if (key != NULL)
        *key = NULL;
    if (reason != NULL && cap > 0)
        reason[0] = '\0';
    if (body == NULL || device_id == NULL ||
        iotsec_device_id_check(device_id, id_len) != IOTSEC_OK)
        return IOTSEC_E_INVALID_ARG;
    /* parse → authenticate (proof of possession) → policy (key, names) */
    rc = body_decode(body, len, &der, &der_len);
    if (rc != IOTSEC_OK) {
        say(reason, cap, "the request is not base64 of a PKCS#10 request");
        return rc;
    }
    p = der;
    req = der_len <= LONG_MAX ? d2i_X509_REQ(NULL, &p, (long)der_len) : NULL;
    if (req == NULL) {
        rc = IOTSEC_E_BAD_ENCODING;
        say(reason, cap, "the request is not a DER PKCS#10 request");
    } else if ((size_t)(p - der) != der_len) {
        rc = IOTSEC_E_TRAILING_DATA;
        say(reason, cap, "bytes after the request");
    } else if (X509_REQ_get_version(req) != 0) {
        rc = IOTSEC_E_BAD_VERSION;
        say(reason, cap, "the request is not of version 1");
    }
    if (rc == IOTSEC_OK) {
        pub = X509_REQ_get_pubkey(req);
        if (pub == NULL) {
            rc = IOTSEC_E_BAD_KEY;
            say(reason, cap, "the request's public key does not decode");
        } else if (X509_REQ_verify(req, pub) != 1) {
            rc = IOTSEC_E_BAD_SIGNATURE;
            say(reason, cap, "the request's signature does not verify with its key (no proof "
                             "of possession)");
        } else if (key_rule(pub) != IOTSEC_OK) {
            rc = IOTSEC_E_BAD_KEY;
            say(reason, cap, "the request's key is not P-256, Ed25519 or RSA 2048-4096");
        }
    }
    if (rc == IOTSEC_OK)
        rc = cn_rule(X509_REQ_get_subject_name(req), device_id, id_len, reason, cap);
    if (rc == IOTSEC_OK)
        rc = san_rule(req, device_id, id_len, reason, cap);
    if (rc == IOTSEC_OK && key != NULL) {
        *key = pub;
        pub = NULL;
    }
    EVP_PKEY_free(pub);
    X509_REQ_free(req);
    free(der);
    ERR_clear_error();
    return rc;
}

int iotsec_est_csr_make(EVP_PKEY *key, const char *device_id, char **out, size_t *out_len)
{
    X509_REQ *req = NULL;
    X509_NAME *name = NULL;
    const EVP_MD *md = NULL;
    unsigned char *der = NULL;
    int n = 0, rc = IOTSEC_OK;

    if (key == NULL || device_id == NULL || out == NULL ||
        iotsec_device_id_check(device_id, strlen(device_id)) != IOTSEC_OK)
        return IOTSEC_E_INVALID_ARG;
    *out = NULL;
    switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_EC:
    case EVP_PKEY_RSA: md = EVP_sha256(); break;
    case EVP_PKEY_ED25519: md = NULL; break;
    default: return IOTSEC_E_UNSUPPORTED;
    }
    req = X509_REQ_new();
    name = X509_NAME_new();
    if (req == NULL || name == NULL ||
        X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
                                   (const unsigned char *)device_id, -1, -1, 0) != 1 ||
        X509_REQ_set_version(req, 0) != 1 || X509_REQ_set_subject_name(req, name) != 1 ||
        X509_REQ_set_pubkey(req, key) != 1)
        rc = IOTSEC_E_NO_MEMORY;
    if (rc == IOTSEC_OK && X509_REQ_sign(req, key, md) <= 0)
        rc = IOTSEC_E_BACKEND;
    if (rc == IOTSEC_OK && (n = i2d_X509_REQ(req, &der)) <= 0)
        rc = IOTSEC_E_BACKEND;
    if (rc == IOTSEC_OK)
        rc = body_encode(der, (size_t)n, out, out_len);
    OPENSSL_free(der);
    X509_NAME_free(name);
    X509_REQ_free(req);
    ERR_clear_error();
    return rc;
}

/* ---- certs-only answers -------------------------------------------------------------------- */

int iotsec_est_certs_encode(X509 *const *certs, size_t n, char **out, size_t *out_len)
{
    PKCS7 *p7 = NULL;
    PKCS7_SIGNED *sd;
    unsigned char *der = NULL;
    size_t i;
    int len = 0, rc = IOTSEC_OK;

    if (certs == NULL || n == 0 || out == NULL || n > (size_t)INT_MAX)
        return IOTSEC_E_INVALID_ARG;
    *out = NULL;
    for (i = 0; i < n; i++) {
        if (certs[i] == NULL)
            return IOTSEC_E_INVALID_ARG;
    }
    /* a SignedData with no content and no signers: the degenerate "certs-only" form */
    p7 = PKCS7_new();
    if (p7 == NULL || PKCS7_set_type(p7, NID_pkcs7_signed) != 1 ||
        PKCS7_content_new(p7, NID_pkcs7_data) != 1)
        rc = IOTSEC_E_NO_MEMORY;
    if (rc == IOTSEC_OK) {
        sd = p7->d.sign;
        if (sd->cert == NULL && (sd->cert = sk_X509_new_null()) == NULL)
            rc = IOTSEC_E_NO_MEMORY;
    }
    for (i = 0; rc == IOTSEC_OK && i < n; i++) {
        if (PKCS7_add_certificate(p7, certs[i]) != 1) /* takes its own reference */
            rc = IOTSEC_E_NO_MEMORY;
    }
    if (rc == IOTSEC_OK && (len = i2d_PKCS7(p7, &der)) <= 0)
        rc = IOTSEC_E_BACKEND;
    if (rc == IOTSEC_OK)
        rc = body_encode(der, (size_t)len, out, out_len);
    OPENSSL_free(der);
    PKCS7_free(p7);
    ERR_clear_error();
    return rc;
}

int iotsec_est_certs_decode(const uint8_t *body, size_t len, X509 **out, size_t cap, size_t *n)
{
    uint8_t *der = NULL;
    size_t der_len = 0, got = 0, i;
    const unsigned char *p;
    PKCS7 *p7 = NULL;
    STACK_OF(X509) *certs = NULL;
    int rc;

    if (n != NULL)
        *n = 0;
    if (body == NULL || out == NULL || n == NULL || cap == 0)
        return IOTSEC_E_INVALID_ARG;
    rc = body_decode(body, len, &der, &der_len);
    if (rc != IOTSEC_OK)
        return rc;
    p = der;
    p7 = der_len <= LONG_MAX ? d2i_PKCS7(NULL, &p, (long)der_len) : NULL;
    if (p7 == NULL || !PKCS7_type_is_signed(p7) || p7->d.sign == NULL)
        rc = IOTSEC_E_BAD_ENCODING;
    else if ((size_t)(p - der) != der_len)
        rc = IOTSEC_E_TRAILING_DATA;
    if (rc == IOTSEC_OK) {
        certs = p7->d.sign->cert;
        if (certs == NULL || sk_X509_num(certs) == 0)
            rc = IOTSEC_E_BAD_ENCODING;
        else if ((size_t)sk_X509_num(certs) > cap)
            rc = IOTSEC_E_BUFFER_TOO_SMALL;
    }
    for (i = 0; rc == IOTSEC_OK && i < (size_t)sk_X509_num(certs); i++) {
        X509 *c = sk_X509_value(certs, (int)i);
        if (X509_up_ref(c) != 1) {
            rc = IOTSEC_E_BACKEND;
            break;
        }
        out[got++] = c;
    }
    if (rc != IOTSEC_OK) {
        for (i = 0; i < got; i++) {
            X509_free(out[i]);
            out[i] = NULL;
        }
        got = 0;
    }
    *n = got;
    PKCS7_free(p7);
    free(der);
    ERR_clear_error();
    return rc;
}
