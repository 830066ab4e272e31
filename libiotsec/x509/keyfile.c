/* libiotsec — key files: PEM/DER decoding and key generation (include/iotsec/keyfile.h). */
#include "iotsec/keyfile.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "iotsec/error.h"
#include "iotsec/file.h"
#include "iotsec/reader.h"
#include "iotsec/util.h"
#include "keyfile_int.h"

#define KEYFILE_MAX (64u * 1024u)

/* The input is classified before OpenSSL sees it, and then exactly one parser reads it:
 * OpenSSL 3.0's generic decoders (OSSL_DECODER_CTX_new_for_pkey without an input type, a
 * structure or a key type, or d2i_AutoPrivateKey) try every decoder they have, which costs
 * about 0.4 ms a call (3 ms under ASan) and reads formats nobody asked for (Microsoft
 * MSBLOB and PVK). Every DER key or certificate is a SEQUENCE (0x30): such an input is DER
 * (a text that starts with '0' is then read as DER and refused, as x509.c does), anything
 * else is text with a PEM block in it. */
enum kf_shape {
    KF_NONE,        /* no shape this file reads */
    KF_SPKI,        /* SEQ { SEQ { OID, .. }, BIT STRING } (RFC 5280) */
    KF_CERT,        /* SEQ { SEQ tbs, SEQ alg, BIT STRING } (RFC 5280) */
    KF_RSA_PUB,     /* SEQ { INTEGER n, INTEGER e } (PKCS#1, RFC 8017 A.1.1) */
    KF_PKCS8,       /* SEQ { INTEGER 0|1, SEQ { OID, .. }, OCTET STRING, .. } (RFC 5958) */
    KF_PKCS8_ENC,   /* SEQ { SEQ { OID, .. }, OCTET STRING } (RFC 5958 §3): refused */
    KF_EC_PRIV,     /* SEQ { INTEGER 1, OCTET STRING, .. } (SEC1, RFC 5915) */
    KF_RSA_PRIV     /* SEQ { INTEGER, INTEGER, INTEGER, .. } (PKCS#1, RFC 8017 A.1.2) */
};

/* One DER header (one-byte tag, definite length that fits in what remains). Returns the
 * length and writes the tag; on anything else the reader's error is set. */
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

/* The shape of a DER value that must span in[0..len): its outer SEQUENCE's elements. */
static enum kf_shape der_shape(const uint8_t *in, size_t len)
{
    iotsec_reader r;
    uint8_t tag = 0, tags[3] = {0, 0, 0};
    const uint8_t *body[3] = {NULL, NULL, NULL};
    size_t n, lens[3] = {0, 0, 0}, count = 0;

    iotsec_reader_init(&r, in, len);
    n = der_header(&r, &tag);
    if (iotsec_reader_error(&r) != IOTSEC_OK || tag != 0x30u || n != iotsec_reader_remaining(&r))
        return KF_NONE;
    while (iotsec_reader_remaining(&r) > 0) {
        const uint8_t *b;
        n = der_header(&r, &tag);
        b = iotsec_reader_bytes(&r, n);
        if (iotsec_reader_error(&r) != IOTSEC_OK)
            return KF_NONE;
        if (count < 3) {
            tags[count] = tag;
            body[count] = b;
            lens[count] = n;
        }
        count++;
    }
    /* version INTEGER of PKCS#8 (0, or 1 for RFC 5958 OneAsymmetricKey) and of SEC1 (1) */
#define KF_SMALL_INT(i, v) (tags[i] == 0x02u && lens[i] == 1 && body[i][0] == (v))
    if (count == 2 && tags[0] == 0x30u && tags[1] == 0x03u && lens[0] > 0 && body[0][0] == 0x06u)
        return KF_SPKI;
    if (count == 3 && tags[0] == 0x30u && tags[1] == 0x30u && tags[2] == 0x03u)
        return KF_CERT;
    if (count == 2 && tags[0] == 0x02u && tags[1] == 0x02u)
        return KF_RSA_PUB;
    if (count >= 3 && count <= 5 && (KF_SMALL_INT(0, 0) || KF_SMALL_INT(0, 1)) &&
        tags[1] == 0x30u && tags[2] == 0x04u)
        return KF_PKCS8;
    if (count == 2 && tags[0] == 0x30u && tags[1] == 0x04u)
        return KF_PKCS8_ENC;
    if (count >= 2 && count <= 4 && KF_SMALL_INT(0, 1) && tags[1] == 0x04u)
        return KF_EC_PRIV;
    if (count >= 9 && tags[0] == 0x02u && tags[1] == 0x02u && tags[2] == 0x02u)
        return KF_RSA_PRIV;
#undef KF_SMALL_INT
    return KF_NONE;
}

/* One OpenSSL decoder: DER input, this structure, this key type. The whole input must be
 * read. */
static EVP_PKEY *decode_typed(const uint8_t *der, size_t len, const char *structure,
                              const char *keytype, int selection)
{
    OSSL_DECODER_CTX *dctx;
    EVP_PKEY *pkey = NULL;
    const unsigned char *p = der;
    size_t left = len;

    dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, "DER", structure, keytype, selection, NULL,
                                         NULL);
    if (dctx == NULL)
        return NULL;
    if (OSSL_DECODER_from_data(dctx, &p, &left) != 1 || left != 0) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    OSSL_DECODER_CTX_free(dctx);
    return pkey;
}

/* Parse DER of a known shape with the one parser for it: public shapes when private_key is
 * 0, private ones when it is 1. NULL if it does not parse, leaves bytes, or is not a shape
 * wanted here. */
static EVP_PKEY *decode_der(const uint8_t *der, size_t len, enum kf_shape shape, int private_key)
{
    const unsigned char *p = der;
    EVP_PKEY *pkey = NULL;

    if (len > LONG_MAX)
        return NULL;
    if (!private_key && shape == KF_SPKI) {
        pkey = d2i_PUBKEY(NULL, &p, (long)len);
    } else if (!private_key && shape == KF_CERT) {
        X509 *cert = d2i_X509(NULL, &p, (long)len);
        if (cert != NULL && p == der + len)
            pkey = X509_get_pubkey(cert);
        X509_free(cert);
    } else if (!private_key && shape == KF_RSA_PUB) {
        pkey = decode_typed(der, len, "type-specific", "RSA", EVP_PKEY_PUBLIC_KEY);
        p = der + len;
    } else if (private_key && shape == KF_PKCS8) {
        PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len);
        /* one decoder: DER PrivateKeyInfo of the key type its algorithm OID names */
        if (p8 != NULL && p == der + len)
            pkey = EVP_PKCS82PKEY(p8);
        PKCS8_PRIV_KEY_INFO_free(p8);
    } else if (private_key && shape == KF_EC_PRIV) {
        pkey = decode_typed(der, len, "type-specific", "EC", EVP_PKEY_KEYPAIR);
        p = der + len;
    } else if (private_key && shape == KF_RSA_PRIV) {
        pkey = decode_typed(der, len, "type-specific", "RSA", EVP_PKEY_KEYPAIR);
        p = der + len;
    }
    if (pkey != NULL && p != der + len) { /* DER is exactly one structure */
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    ERR_clear_error();
    return pkey;
}

/* The PEM labels read (RFC 7468), and the DER shape each must hold. */
static const struct {
    const char *label;
    enum kf_shape shape;
    int private_key;
} pem_labels[] = {
    {"PUBLIC KEY", KF_SPKI, 0},
    {"RSA PUBLIC KEY", KF_RSA_PUB, 0},
    {"CERTIFICATE", KF_CERT, 0},
    {"PRIVATE KEY", KF_PKCS8, 1},
    {"EC PRIVATE KEY", KF_EC_PRIV, 1},
    {"RSA PRIVATE KEY", KF_RSA_PRIV, 1},
    {"ENCRYPTED PRIVATE KEY", KF_PKCS8_ENC, 1}, /* refused below */
};

/* The label of a PEM boundary line "-----BEGIN label-----" (trailing blanks allowed), or
 * -1: an index into pem_labels, or -2 for a boundary with another label. */
static int pem_begin(const uint8_t *line, size_t n)
{
    size_t k;

    while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t'))
        n--;
    if (n < 16 || memcmp(line, "-----BEGIN ", 11) != 0 || memcmp(line + n - 5, "-----", 5) != 0)
        return -1;
    for (k = 0; k < sizeof pem_labels / sizeof pem_labels[0]; k++) {
        size_t m = strlen(pem_labels[k].label);
        if (n - 16 == m && memcmp(line + 11, pem_labels[k].label, m) == 0)
            return (int)k;
    }
    return -2;
}

/* Decode the PEM block that starts at in[0..len) (its BEGIN line is pem_labels[k]'s) and
 * parse its DER. Encrypted keys (the PKCS#8 label, or RFC 1421 headers such as
 * "Proc-Type: 4,ENCRYPTED" on a traditional one) are refused. */
static EVP_PKEY *decode_pem_block(const uint8_t *in, size_t len, size_t k)
{
    BIO *bio = BIO_new_mem_buf(in, (int)len);
    char *name = NULL, *header = NULL;
    unsigned char *data = NULL;
    long data_len = 0;
    unsigned flags = PEM_FLAG_EAY_COMPATIBLE | (pem_labels[k].private_key ? PEM_FLAG_SECURE : 0);
    EVP_PKEY *pkey = NULL;

    if (bio == NULL)
        return NULL;
    if (PEM_read_bio_ex(bio, &name, &header, &data, &data_len, flags) == 1 &&
        strcmp(name, pem_labels[k].label) == 0 && header[0] == '\0' && data_len > 0 &&
        pem_labels[k].shape != KF_PKCS8_ENC &&
        der_shape(data, (size_t)data_len) == pem_labels[k].shape)
        pkey = decode_der(data, (size_t)data_len, pem_labels[k].shape,
                          pem_labels[k].private_key);
    BIO_free(bio);
    if (flags & PEM_FLAG_SECURE) {
        OPENSSL_secure_free(name);
        OPENSSL_secure_free(header);
        OPENSSL_secure_clear_free(data, data_len > 0 ? (size_t)data_len : 0);
    } else {
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(data);
    }
    ERR_clear_error();
    return pkey;
}

/* Parse a key file: DER (exactly one structure of a shape read here) or text holding a PEM
 * block with one of the labels read here; PEM may carry text outside its boundaries
 * (RFC 7468 §2), and blocks with other labels are passed over. Public shapes when
 * private_key is 0, private ones when it is 1. */
static EVP_PKEY *decode_key(const uint8_t *in, size_t in_len, int private_key)
{
    iotsec_reader r;
    const uint8_t *line;
    size_t n, start;
    int k;

    if (in_len > 0 && in[0] == 0x30)
        return decode_der(in, in_len, der_shape(in, in_len), private_key);
    iotsec_reader_init(&r, in, in_len);
    for (;;) {
        start = in_len - iotsec_reader_remaining(&r);
        line = iotsec_reader_line(&r, in_len, &n);
        if (line == NULL)
            return NULL;
        k = pem_begin(line, n);
        if (k >= 0 && pem_labels[k].private_key == private_key)
            return decode_pem_block(in + start, in_len - start, (size_t)k);
    }
}

static int supported_type(EVP_PKEY *pkey)
{
    int id = EVP_PKEY_get_base_id(pkey);
    return id == EVP_PKEY_ED25519 || id == EVP_PKEY_EC || id == EVP_PKEY_RSA;
}

int iotsec_pubkey_decode(const uint8_t *in, size_t in_len, uint8_t **der, size_t *der_len)
{
    EVP_PKEY *pkey = NULL;
    unsigned char *out = NULL, *p;
    int n, rc = IOTSEC_OK;

    if (in == NULL || der == NULL || der_len == NULL || in_len > INT_MAX)
        return IOTSEC_E_INVALID_ARG;
    *der = NULL;
    *der_len = 0;
    pkey = decode_key(in, in_len, 0);
    if (pkey == NULL)
        return IOTSEC_E_BAD_KEY;
    if (!supported_type(pkey)) {
        EVP_PKEY_free(pkey);
        return IOTSEC_E_UNSUPPORTED;
    }
    n = i2d_PUBKEY(pkey, NULL);
    if (n <= 0 || (out = malloc((size_t)n)) == NULL) {
        rc = n <= 0 ? IOTSEC_E_BAD_KEY : IOTSEC_E_NO_MEMORY;
    } else {
        p = out;
        if (i2d_PUBKEY(pkey, &p) != n)
            rc = IOTSEC_E_BACKEND;
    }
    EVP_PKEY_free(pkey);
    ERR_clear_error();
    if (rc != IOTSEC_OK) {
        free(out);
        return rc;
    }
    *der = out;
    *der_len = (size_t)n;
    return IOTSEC_OK;
}

int iotsec_privkey_decode(const uint8_t *in, size_t in_len, uint8_t **der, size_t *der_len)
{
    EVP_PKEY *pkey;
    PKCS8_PRIV_KEY_INFO *p8;
    unsigned char *out = NULL, *p;
    int n, rc = IOTSEC_OK;

    if (in == NULL || der == NULL || der_len == NULL || in_len > INT_MAX)
        return IOTSEC_E_INVALID_ARG;
    *der = NULL;
    *der_len = 0;
    pkey = decode_key(in, in_len, 1);
    if (pkey == NULL)
        return IOTSEC_E_BAD_KEY;
    if (!supported_type(pkey)) {
        EVP_PKEY_free(pkey);
        return IOTSEC_E_UNSUPPORTED;
    }
    p8 = EVP_PKEY2PKCS8(pkey);
    EVP_PKEY_free(pkey);
    if (p8 == NULL) {
        ERR_clear_error();
        return IOTSEC_E_BACKEND;
    }
    n = i2d_PKCS8_PRIV_KEY_INFO(p8, NULL);
    if (n <= 0 || (out = malloc((size_t)n)) == NULL) {
        rc = n <= 0 ? IOTSEC_E_BACKEND : IOTSEC_E_NO_MEMORY;
    } else {
        p = out;
        if (i2d_PKCS8_PRIV_KEY_INFO(p8, &p) != n)
            rc = IOTSEC_E_BACKEND;
    }
    PKCS8_PRIV_KEY_INFO_free(p8);
    ERR_clear_error();
    if (rc != IOTSEC_OK) {
        if (out != NULL)
            iotsec_zeroize(out, (size_t)n);
        free(out);
        return rc;
    }
    *der = out;
    *der_len = (size_t)n;
    return IOTSEC_OK;
}

int iotsec_pubkey_load_file(iotsec_pubkey *pk, const iotsec_crypto *crypto, const char *path)
{
    uint8_t *buf = NULL, *der = NULL;
    size_t len = 0, der_len = 0;
    int rc;

    if (pk == NULL || crypto == NULL || path == NULL)
        return IOTSEC_E_INVALID_ARG;
    rc = iotsec_file_read(path, KEYFILE_MAX, &buf, &len);
    if (rc == IOTSEC_OK)
        rc = iotsec_pubkey_decode(buf, len, &der, &der_len);
    if (rc == IOTSEC_OK)
        rc = iotsec_pubkey_load(pk, crypto, der, der_len);
    free(buf);
    free(der);
    return rc;
}

void iotsec_posix_secret_free(uint8_t *p, size_t len)
{
    if (p == NULL)
        return;
    iotsec_zeroize(p, len);
    free(p);
}

int iotsec_posix_privkey_file_der(const char *path, uint8_t **der, size_t *der_len)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc;

    *der = NULL;
    *der_len = 0;
    rc = iotsec_file_read(path, KEYFILE_MAX, &buf, &len);
    if (rc == IOTSEC_OK)
        rc = iotsec_privkey_decode(buf, len, der, der_len);
    iotsec_posix_secret_free(buf, len);
    return rc;
}

int iotsec_privkey_load_file(iotsec_privkey *sk, const iotsec_crypto *crypto, const char *path)
{
    uint8_t *der = NULL;
    size_t der_len = 0;
    int rc;

    if (sk == NULL || crypto == NULL || path == NULL)
        return IOTSEC_E_INVALID_ARG;
    rc = iotsec_posix_privkey_file_der(path, &der, &der_len);
    if (rc == IOTSEC_OK)
        rc = iotsec_privkey_load(sk, crypto, der, der_len);
    iotsec_posix_secret_free(der, der_len);
    return rc;
}

/* PEM-encode pkey (private as PKCS#8 or public as SPKI) and write it atomically. */
static int write_pem(EVP_PKEY *pkey, int private_key, const char *path, unsigned mode)
{
    BIO *bio = BIO_new(BIO_s_secmem());
    char *data = NULL;
    long n;
    int ok, rc;

    if (bio == NULL)
        return IOTSEC_E_NO_MEMORY;
    ok = private_key ? PEM_write_bio_PKCS8PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL)
                     : PEM_write_bio_PUBKEY(bio, pkey);
    if (!ok) {
        BIO_free(bio);
        ERR_clear_error();
        return IOTSEC_E_BACKEND;
    }
    n = BIO_get_mem_data(bio, &data);
    rc = n > 0 ? iotsec_file_write_atomic(path, data, (size_t)n, mode) : IOTSEC_E_BACKEND;
    BIO_free(bio); /* secure memory BIO: cleansed on free */
    return rc;
}

int iotsec_keygen_files(iotsec_sig_alg alg, unsigned bits, const char *priv_path,
                        const char *pub_path)
{
    EVP_PKEY *pkey = NULL;
    int rc;

    if (priv_path == NULL)
        return IOTSEC_E_INVALID_ARG;
    switch (alg) {
    case IOTSEC_SIG_ED25519:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        break;
    case IOTSEC_SIG_ECDSA_P256:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        break;
    case IOTSEC_SIG_RSA_PSS:
        if (bits != 2048 && bits != 3072 && bits != 4096)
            return IOTSEC_E_INVALID_ARG;
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
        break;
    default:
        return IOTSEC_E_INVALID_ARG;
    }
    if (pkey == NULL) {
        ERR_clear_error();
        return IOTSEC_E_BACKEND;
    }
    rc = write_pem(pkey, 1, priv_path, 0600);
    if (rc == IOTSEC_OK && pub_path != NULL)
        rc = write_pem(pkey, 0, pub_path, 0644);
    EVP_PKEY_free(pkey);
    return rc;
}
