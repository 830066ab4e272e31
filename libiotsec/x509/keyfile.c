/* libiotsec — key files: PEM/DER decoding and key generation (include/iotsec/keyfile.h). */
#include "iotsec/keyfile.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "iotsec/error.h"
#include "iotsec/file.h"
#include "iotsec/util.h"
#include "keyfile_int.h"

#define KEYFILE_MAX (64u * 1024u)

/* Every DER key or certificate is a SEQUENCE (0x30); PEM text starts otherwise (a text that
 * starts with '0' is then read as DER and refused, as x509.c does). Text markers are looked
 * for only in text: key bytes may spell "-----BEGIN " too. */
static int looks_der(const uint8_t *in, size_t len)
{
    return len > 0 && in[0] == 0x30;
}

static int has_marker(const uint8_t *in, size_t len, const char *marker)
{
    size_t m = strlen(marker), i;
    for (i = 0; i + m <= len; i++) {
        if (memcmp(in + i, marker, m) == 0)
            return 1;
    }
    return 0;
}

/* Parse any key encoding OpenSSL knows (PEM or DER, PKCS#8, SPKI, traditional) selecting
 * public or private material; passphrase-protected keys fail (no callback is given). DER
 * must be one whole structure (the decoder stops after the first); PEM may carry text
 * outside its boundaries (RFC 7468 §2). */
static EVP_PKEY *decode_pkey(const uint8_t *in, size_t in_len, int selection)
{
    OSSL_DECODER_CTX *dctx;
    EVP_PKEY *pkey = NULL;
    const unsigned char *p = in;
    size_t left = in_len;

    dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, NULL, NULL, NULL, selection, NULL, NULL);
    if (dctx == NULL)
        return NULL;
    if (OSSL_DECODER_from_data(dctx, &p, &left) != 1 ||
        (left != 0 && (looks_der(in, in_len) || !has_marker(in, in_len, "-----BEGIN ")))) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    OSSL_DECODER_CTX_free(dctx);
    ERR_clear_error();
    return pkey;
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
    if (!looks_der(in, in_len) && has_marker(in, in_len, "-----BEGIN CERTIFICATE-----")) {
        BIO *bio = BIO_new_mem_buf(in, (int)in_len);
        X509 *cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
        BIO_free(bio);
        if (cert != NULL) {
            pkey = X509_get_pubkey(cert);
            X509_free(cert);
        }
        ERR_clear_error();
    } else {
        pkey = decode_pkey(in, in_len, EVP_PKEY_PUBLIC_KEY);
    }
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
    pkey = decode_pkey(in, in_len, EVP_PKEY_KEYPAIR);
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
