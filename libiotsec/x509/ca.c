/* libiotsec — the small device CA: self-signed CA, end-entity certificates, CRLs
 * (include/iotsec/x509.h, RFC 5280). */
#include "iotsec/x509.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "iotsec/denylist.h"
#include "iotsec/error.h"
#include "iotsec/file.h"
#include "x509_internal.h"

/* SHA-256 for ECDSA and RSA; none for Ed25519 (pure). */
static int sign_md(EVP_PKEY *key, const EVP_MD **md)
{
    switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_EC:
    case EVP_PKEY_RSA: *md = EVP_sha256(); return IOTSEC_OK;
    case EVP_PKEY_ED25519: *md = NULL; return IOTSEC_OK;
    default: return IOTSEC_E_UNSUPPORTED;
    }
}

static ASN1_INTEGER *serial_from_key(const uint8_t key[IOTSEC_SERIAL_LEN])
{
    BIGNUM *bn = BN_bin2bn(key, (int)IOTSEC_SERIAL_LEN, NULL);
    ASN1_INTEGER *ai = bn != NULL ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;

    BN_free(bn);
    return ai;
}

/* A random positive serial of 128 bits (a leading 0x00 makes it 17 DER octets when the top
 * bit is set; within RFC 5280's 20). */
static int random_serial(X509 *cert)
{
    uint8_t key[IOTSEC_SERIAL_LEN];
    ASN1_INTEGER *ai;
    int ok, i, zero;

    do {
        memset(key, 0, sizeof key);
        if (RAND_bytes(key + IOTSEC_SERIAL_LEN - 16u, 16) != 1)
            return IOTSEC_E_BACKEND;
        for (zero = 1, i = 0; i < (int)IOTSEC_SERIAL_LEN; i++)
            zero &= key[i] == 0;
    } while (zero);
    ai = serial_from_key(key);
    ok = ai != NULL && X509_set_serialNumber(cert, ai) == 1;
    ASN1_INTEGER_free(ai);
    return ok ? IOTSEC_OK : IOTSEC_E_NO_MEMORY;
}

static int set_validity(X509 *cert, int64_t not_before, int64_t not_after)
{
    ASN1_TIME *nb = iotsec_x509i_time_from_unix(not_before);
    ASN1_TIME *na = iotsec_x509i_time_from_unix(not_after);
    int ok = nb != NULL && na != NULL && X509_set1_notBefore(cert, nb) == 1 &&
             X509_set1_notAfter(cert, na) == 1;

    ASN1_TIME_free(nb);
    ASN1_TIME_free(na);
    return ok ? IOTSEC_OK : IOTSEC_E_INVALID_ARG;
}

static X509_NAME *cn_name(const char *cn)
{
    X509_NAME *name = X509_NAME_new();

    if (name == NULL || X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
                                                   (const unsigned char *)cn, -1, -1, 0) != 1) {
        X509_NAME_free(name);
        return NULL;
    }
    return name;
}

/* Add an extension from a fixed configuration string (never caller data: the v3 config
 * syntax would let a comma in a name inject another value). */
static int add_conf_ext(X509 *cert, X509V3_CTX *v3, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, v3, nid, value);
    int ok = ext != NULL && X509_add_ext(cert, ext, -1) == 1;

    X509_EXTENSION_free(ext);
    return ok;
}

static int add_ia5_name(GENERAL_NAMES *gens, int type, const char *value)
{
    GENERAL_NAME *g = GENERAL_NAME_new();
    ASN1_IA5STRING *s = ASN1_IA5STRING_new();

    if (g == NULL || s == NULL || ASN1_STRING_set(s, value, -1) != 1) {
        GENERAL_NAME_free(g);
        ASN1_IA5STRING_free(s);
        return IOTSEC_E_NO_MEMORY;
    }
    GENERAL_NAME_set0_value(g, type, s);
    if (sk_GENERAL_NAME_push(gens, g) <= 0) {
        GENERAL_NAME_free(g);
        return IOTSEC_E_NO_MEMORY;
    }
    return IOTSEC_OK;
}

/* subjectAltName built as a structure, not from a config string (values are caller data). */
static int add_san(X509 *cert, const iotsec_x509_cert_params *p)
{
    GENERAL_NAMES *gens;
    int rc = IOTSEC_OK;

    if (p->san_dns == NULL && p->san_ip == NULL && p->san_uri == NULL)
        return IOTSEC_OK;
    gens = sk_GENERAL_NAME_new_null();
    if (gens == NULL)
        return IOTSEC_E_NO_MEMORY;
    if (p->san_dns != NULL)
        rc = add_ia5_name(gens, GEN_DNS, p->san_dns);
    if (rc == IOTSEC_OK && p->san_ip != NULL) {
        ASN1_OCTET_STRING *ip = a2i_IPADDRESS(p->san_ip);
        GENERAL_NAME *g = ip != NULL ? GENERAL_NAME_new() : NULL;
        if (ip == NULL) {
            rc = IOTSEC_E_BAD_VALUE;
        } else if (g == NULL) {
            ASN1_OCTET_STRING_free(ip);
            rc = IOTSEC_E_NO_MEMORY;
        } else {
            GENERAL_NAME_set0_value(g, GEN_IPADD, ip);
            if (sk_GENERAL_NAME_push(gens, g) <= 0) {
                GENERAL_NAME_free(g);
                rc = IOTSEC_E_NO_MEMORY;
            }
        }
    }
    if (rc == IOTSEC_OK && p->san_uri != NULL)
        rc = add_ia5_name(gens, GEN_URI, p->san_uri);
    if (rc == IOTSEC_OK && X509_add1_ext_i2d(cert, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) != 1)
        rc = IOTSEC_E_NO_MEMORY;
    GENERAL_NAMES_free(gens);
    return rc;
}

static int sign_cert(X509 *cert, EVP_PKEY *key)
{
    const EVP_MD *md = NULL;
    int rc = sign_md(key, &md);

    if (rc != IOTSEC_OK)
        return rc;
    return X509_sign(cert, key, md) > 0 ? IOTSEC_OK : IOTSEC_E_BACKEND;
}

static int name_ok(const char *cn)
{
    size_t n = cn != NULL ? strlen(cn) : 0;
    return n > 0 && n <= IOTSEC_DEVICE_ID_MAX;
}

/* A v3 certificate for key: subject CN = cn, the given issuer (NULL: the subject itself),
 * a random serial, validity [nb, na]; no extensions, not signed. */
static int cert_skeleton(const char *cn, X509_NAME *issuer, EVP_PKEY *key, int64_t nb,
                         int64_t na, X509 **out)
{
    X509 *cert = X509_new();
    X509_NAME *name = cn_name(cn);
    int rc = cert != NULL && name != NULL ? IOTSEC_OK : IOTSEC_E_NO_MEMORY;

    if (rc == IOTSEC_OK &&
        (X509_set_version(cert, X509_VERSION_3) != 1 || X509_set_subject_name(cert, name) != 1 ||
         X509_set_issuer_name(cert, issuer != NULL ? issuer : name) != 1 ||
         X509_set_pubkey(cert, key) != 1))
        rc = IOTSEC_E_NO_MEMORY;
    if (rc == IOTSEC_OK)
        rc = random_serial(cert);
    if (rc == IOTSEC_OK)
        rc = set_validity(cert, nb, na);
    X509_NAME_free(name);
    if (rc != IOTSEC_OK) {
        X509_free(cert);
        ERR_clear_error();
        return rc;
    }
    *out = cert;
    return IOTSEC_OK;
}

/* If rc is IOTSEC_OK, sign cert with key and hand it to *out; otherwise free it. */
static int finish_cert(X509 *cert, EVP_PKEY *key, int rc, X509 **out)
{
    if (rc == IOTSEC_OK)
        rc = sign_cert(cert, key);
    ERR_clear_error();
    if (rc != IOTSEC_OK) {
        X509_free(cert);
        return rc;
    }
    *out = cert;
    return IOTSEC_OK;
}

int iotsec_x509_ca_create(EVP_PKEY *key, const char *common_name, int path_len,
                          int64_t not_before, int64_t not_after, X509 *issuer,
                          EVP_PKEY *issuer_key, X509 **out)
{
    X509 *cert = NULL;
    X509V3_CTX v3;
    const EVP_MD *md;
    char bc[48];
    int rc;

    if (key == NULL || out == NULL || !name_ok(common_name) || not_after <= not_before ||
        path_len < -1 || path_len > 16 || (issuer == NULL) != (issuer_key == NULL))
        return IOTSEC_E_INVALID_ARG;
    *out = NULL;
    if ((rc = sign_md(issuer_key != NULL ? issuer_key : key, &md)) != IOTSEC_OK)
        return rc;
    if (issuer != NULL) {
        uint32_t fl = X509_get_extension_flags(issuer);
        long plen = X509_get_pathlen(issuer);
        if ((fl & EXFLAG_BCONS) == 0 || (fl & EXFLAG_CA) == 0 ||
            ((fl & EXFLAG_KUSAGE) != 0 && (X509_get_key_usage(issuer) & KU_KEY_CERT_SIGN) == 0) ||
            plen == 0)
            return IOTSEC_E_POLICY;
        if (X509_check_private_key(issuer, issuer_key) != 1) {
            ERR_clear_error();
            return IOTSEC_E_BAD_KEY;
        }
    }
    rc = cert_skeleton(common_name, issuer != NULL ? X509_get_subject_name(issuer) : NULL, key,
                       not_before, not_after, &cert);
    if (rc != IOTSEC_OK)
        return rc;
    if (path_len >= 0)
        (void)snprintf(bc, sizeof bc, "critical,CA:TRUE,pathlen:%d", path_len);
    else
        (void)snprintf(bc, sizeof bc, "critical,CA:TRUE");
    X509V3_set_ctx(&v3, issuer != NULL ? issuer : cert, cert, NULL, NULL, 0);
    if (!add_conf_ext(cert, &v3, NID_basic_constraints, bc) ||
        !add_conf_ext(cert, &v3, NID_key_usage, "critical,keyCertSign,cRLSign") ||
        !add_conf_ext(cert, &v3, NID_subject_key_identifier, "hash") ||
        (issuer != NULL &&
         !add_conf_ext(cert, &v3, NID_authority_key_identifier, "keyid:always")))
        rc = IOTSEC_E_BACKEND;
    return finish_cert(cert, issuer_key != NULL ? issuer_key : key, rc, out);
}

int iotsec_x509_ca_self_sign(EVP_PKEY *key, const char *common_name, int64_t not_before,
                             int64_t not_after, X509 **out)
{
    return iotsec_x509_ca_create(key, common_name, 0, not_before, not_after, NULL, NULL, out);
}

int iotsec_x509_ca_issue(X509 *ca, EVP_PKEY *ca_key, EVP_PKEY *subject_key,
                         const iotsec_x509_cert_params *p, X509 **out)
{
    X509 *cert = NULL;
    X509V3_CTX v3;
    const EVP_MD *md;
    const char *ku, *eku;
    int rc;

    if (ca == NULL || ca_key == NULL || subject_key == NULL || p == NULL || out == NULL ||
        p->common_name == NULL || p->not_after <= p->not_before ||
        (p->profile != IOTSEC_X509_PROFILE_DEVICE && p->profile != IOTSEC_X509_PROFILE_SERVER))
        return IOTSEC_E_INVALID_ARG;
    *out = NULL;
    rc = iotsec_device_id_check(p->common_name, strlen(p->common_name));
    if (rc != IOTSEC_OK)
        return rc;
    if ((rc = sign_md(ca_key, &md)) != IOTSEC_OK)
        return rc;
    if (X509_check_private_key(ca, ca_key) != 1) {
        ERR_clear_error();
        return IOTSEC_E_BAD_KEY;
    }
    if (p->profile == IOTSEC_X509_PROFILE_DEVICE) {
        ku = "critical,digitalSignature";
        eku = "clientAuth";
    } else {
        ku = EVP_PKEY_get_base_id(subject_key) == EVP_PKEY_RSA
                 ? "critical,digitalSignature,keyEncipherment"
                 : "critical,digitalSignature";
        eku = "serverAuth";
    }
    rc = cert_skeleton(p->common_name, X509_get_subject_name(ca), subject_key, p->not_before,
                       p->not_after, &cert);
    if (rc != IOTSEC_OK)
        return rc;
    X509V3_set_ctx(&v3, ca, cert, NULL, NULL, 0);
    if (!add_conf_ext(cert, &v3, NID_basic_constraints, "critical,CA:FALSE") ||
        !add_conf_ext(cert, &v3, NID_key_usage, ku) ||
        !add_conf_ext(cert, &v3, NID_ext_key_usage, eku) ||
        !add_conf_ext(cert, &v3, NID_subject_key_identifier, "hash") ||
        !add_conf_ext(cert, &v3, NID_authority_key_identifier, "keyid:always"))
        rc = IOTSEC_E_BACKEND;
    if (rc == IOTSEC_OK)
        rc = add_san(cert, p);
    return finish_cert(cert, ca_key, rc, out);
}

static int add_revoked(X509_CRL *crl, const iotsec_crl_entry *e)
{
    X509_REVOKED *r = X509_REVOKED_new();
    ASN1_INTEGER *serial = serial_from_key(e->serial);
    ASN1_TIME *when = iotsec_x509i_time_from_unix(e->revoked_at);
    int ok = r != NULL && serial != NULL && when != NULL &&
             X509_REVOKED_set_serialNumber(r, serial) == 1 &&
             X509_REVOKED_set_revocationDate(r, when) == 1 && X509_CRL_add0_revoked(crl, r) == 1;

    ASN1_INTEGER_free(serial);
    ASN1_TIME_free(when);
    if (!ok) {
        X509_REVOKED_free(r);
        return IOTSEC_E_NO_MEMORY;
    }
    return IOTSEC_OK;
}

static int key_is_zero(const uint8_t key[IOTSEC_SERIAL_LEN])
{
    uint8_t acc = 0;
    size_t i;

    for (i = 0; i < IOTSEC_SERIAL_LEN; i++)
        acc |= key[i];
    return acc == 0;
}

int iotsec_x509_crl_create(X509 *ca, EVP_PKEY *ca_key, const iotsec_crl_entry *entries,
                           size_t count, uint64_t crl_number, int64_t this_update,
                           int64_t next_update, X509_CRL **out)
{
    X509_CRL *crl = NULL;
    ASN1_TIME *tu = NULL, *nu = NULL;
    ASN1_INTEGER *num = NULL;
    X509_EXTENSION *aki = NULL;
    X509V3_CTX v3;
    const EVP_MD *md;
    size_t i;
    int rc;

    if (ca == NULL || ca_key == NULL || out == NULL || (entries == NULL && count > 0) ||
        next_update <= this_update)
        return IOTSEC_E_INVALID_ARG;
    *out = NULL;
    for (i = 0; i < count; i++) {
        if (key_is_zero(entries[i].serial) || entries[i].revoked_at < 0)
            return IOTSEC_E_INVALID_ARG;
    }
    if ((rc = sign_md(ca_key, &md)) != IOTSEC_OK)
        return rc;
    if (X509_check_private_key(ca, ca_key) != 1) {
        ERR_clear_error();
        return IOTSEC_E_BAD_KEY;
    }
    tu = iotsec_x509i_time_from_unix(this_update);
    nu = iotsec_x509i_time_from_unix(next_update);
    if (tu == NULL || nu == NULL) {
        ASN1_TIME_free(tu);
        ASN1_TIME_free(nu);
        return IOTSEC_E_INVALID_ARG;
    }
    crl = X509_CRL_new();
    num = ASN1_INTEGER_new();
    rc = crl != NULL && num != NULL && ASN1_INTEGER_set_uint64(num, crl_number) == 1 &&
                 X509_CRL_set_version(crl, X509_CRL_VERSION_2) == 1 &&
                 X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca)) == 1 &&
                 X509_CRL_set1_lastUpdate(crl, tu) == 1 && X509_CRL_set1_nextUpdate(crl, nu) == 1
             ? IOTSEC_OK
             : IOTSEC_E_NO_MEMORY;
    for (i = 0; rc == IOTSEC_OK && i < count; i++)
        rc = add_revoked(crl, &entries[i]);
    if (rc == IOTSEC_OK && X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0) != 1)
        rc = IOTSEC_E_NO_MEMORY;
    if (rc == IOTSEC_OK) {
        X509V3_set_ctx(&v3, ca, NULL, NULL, crl, 0);
        aki = X509V3_EXT_conf_nid(NULL, &v3, NID_authority_key_identifier, "keyid:always");
        if (aki == NULL || X509_CRL_add_ext(crl, aki, -1) != 1)
            rc = IOTSEC_E_BACKEND;
    }
    if (rc == IOTSEC_OK && (X509_CRL_sort(crl) != 1 || X509_CRL_sign(crl, ca_key, md) <= 0))
        rc = IOTSEC_E_BACKEND;
    X509_EXTENSION_free(aki);
    ASN1_INTEGER_free(num);
    ASN1_TIME_free(tu);
    ASN1_TIME_free(nu);
    ERR_clear_error();
    if (rc != IOTSEC_OK) {
        X509_CRL_free(crl);
        return rc;
    }
    *out = crl;
    return IOTSEC_OK;
}

/* Write the bytes a BIO collected to path, atomically. */
static int write_bio(BIO *bio, const char *path)
{
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);

    return n > 0 ? iotsec_file_write_atomic(path, data, (size_t)n, 0644) : IOTSEC_E_BACKEND;
}

int iotsec_x509_cert_write_file(X509 *cert, const char *path)
{
    BIO *bio;
    int rc;

    if (cert == NULL || path == NULL)
        return IOTSEC_E_INVALID_ARG;
    bio = BIO_new(BIO_s_mem());
    if (bio == NULL)
        return IOTSEC_E_NO_MEMORY;
    rc = PEM_write_bio_X509(bio, cert) == 1 ? write_bio(bio, path) : IOTSEC_E_BACKEND;
    BIO_free(bio);
    ERR_clear_error();
    return rc;
}

int iotsec_x509_certs_write_file(X509 *const *certs, size_t n, const char *path)
{
    BIO *bio;
    size_t i;
    int rc = IOTSEC_OK;

    if (certs == NULL || n == 0 || path == NULL)
        return IOTSEC_E_INVALID_ARG;
    for (i = 0; i < n; i++) {
        if (certs[i] == NULL)
            return IOTSEC_E_INVALID_ARG;
    }
    bio = BIO_new(BIO_s_mem());
    if (bio == NULL)
        return IOTSEC_E_NO_MEMORY;
    for (i = 0; rc == IOTSEC_OK && i < n; i++)
        rc = PEM_write_bio_X509(bio, certs[i]) == 1 ? IOTSEC_OK : IOTSEC_E_BACKEND;
    if (rc == IOTSEC_OK)
        rc = write_bio(bio, path);
    BIO_free(bio);
    ERR_clear_error();
    return rc;
}

#define P12_ITER 600000

int iotsec_x509_pkcs12_write_file(EVP_PKEY *key, X509 *cert, X509 *const *chain, size_t n,
                                  const char *password, size_t pw_len, const char *name,
                                  const char *path)
{
    STACK_OF(X509) *cas = NULL;
    PKCS12 *p12 = NULL;
    unsigned char *der = NULL;
    char *pw = NULL;
    size_t i;
    int len = 0, rc = IOTSEC_OK;

    if (key == NULL || cert == NULL || path == NULL || password == NULL || pw_len == 0 ||
        pw_len > 1023 || memchr(password, '\0', pw_len) != NULL || (chain == NULL && n > 0) ||
        n > 64)
        return IOTSEC_E_INVALID_ARG;
    for (i = 0; i < n; i++) {
        if (chain[i] == NULL)
            return IOTSEC_E_INVALID_ARG;
    }
    if (X509_check_private_key(cert, key) != 1) {
        ERR_clear_error();
        return IOTSEC_E_BAD_KEY;
    }
    pw = malloc(pw_len + 1u);
    cas = sk_X509_new_null();
    if (pw == NULL || cas == NULL)
        rc = IOTSEC_E_NO_MEMORY;
    if (pw != NULL) {
        memcpy(pw, password, pw_len);
        pw[pw_len] = '\0';
    }
    for (i = 0; rc == IOTSEC_OK && i < n; i++) {
        if (sk_X509_push(cas, chain[i]) <= 0)
            rc = IOTSEC_E_NO_MEMORY;
    }
    /* PBES2 (PBKDF2-HMAC-SHA256) with AES-256-CBC for the key and the certificates; the MAC
     * set separately, with SHA-256 */
    if (rc == IOTSEC_OK) {
        p12 = PKCS12_create(pw, name, key, cert, cas, NID_aes_256_cbc, NID_aes_256_cbc,
                            P12_ITER, -1, 0);
        if (p12 == NULL ||
            PKCS12_set_mac(p12, pw, -1, NULL, 0, P12_ITER, EVP_sha256()) != 1)
            rc = IOTSEC_E_BACKEND;
    }
    if (rc == IOTSEC_OK && (len = i2d_PKCS12(p12, &der)) <= 0)
        rc = IOTSEC_E_BACKEND;
    if (rc == IOTSEC_OK)
        rc = iotsec_file_write_atomic(path, der, (size_t)len, 0600);
    if (der != NULL) {
        OPENSSL_cleanse(der, (size_t)len);
        OPENSSL_free(der);
    }
    if (pw != NULL) {
        OPENSSL_cleanse(pw, pw_len);
        free(pw);
    }
    PKCS12_free(p12);
    sk_X509_free(cas); /* borrowed certificates */
    ERR_clear_error();
    return rc;
}

int iotsec_x509_crl_write_file(X509_CRL *crl, const char *path, int format)
{
    BIO *bio;
    int rc, ok;

    if (crl == NULL || path == NULL || (format != IOTSEC_X509_PEM && format != IOTSEC_X509_DER))
        return IOTSEC_E_INVALID_ARG;
    bio = BIO_new(BIO_s_mem());
    if (bio == NULL)
        return IOTSEC_E_NO_MEMORY;
    ok = format == IOTSEC_X509_PEM ? PEM_write_bio_X509_CRL(bio, crl) : i2d_X509_CRL_bio(bio, crl);
    rc = ok == 1 ? write_bio(bio, path) : IOTSEC_E_BACKEND;
    BIO_free(bio);
    ERR_clear_error();
    return rc;
}
