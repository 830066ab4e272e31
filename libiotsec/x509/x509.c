/* libiotsec — X.509 reading, device identity and device-certificate verification
 * (include/iotsec/x509.h). */
#include "iotsec/x509.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "iotsec/denylist.h"
#include "iotsec/error.h"
#include "iotsec/file.h"
#include "iotsec/util.h"
#include "x509_internal.h"
#include "keyfile_int.h"

/* ---- shared helpers ------------------------------------------------------------------ */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int iotsec_x509i_time_to_unix(const ASN1_TIME *t, int64_t *out)
{
    struct tm tm;

    memset(&tm, 0, sizeof tm);
    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
        ERR_clear_error();
        return IOTSEC_E_BAD_ENCODING;
    }
    *out = days_from_civil((int64_t)tm.tm_year + 1900, (int64_t)tm.tm_mon + 1, tm.tm_mday) *
               86400 +
           (int64_t)tm.tm_hour * 3600 + (int64_t)tm.tm_min * 60 + tm.tm_sec;
    return IOTSEC_OK;
}

ASN1_TIME *iotsec_x509i_time_from_unix(int64_t t)
{
    if (t < 0 || (sizeof(time_t) < 8 && t > INT32_MAX))
        return NULL;
    return ASN1_TIME_set(NULL, (time_t)t);
}

int iotsec_x509i_serial_key(const ASN1_INTEGER *serial, uint8_t out[IOTSEC_SERIAL_LEN])
{
    const unsigned char *p;
    int n;

    if (serial == NULL || ASN1_STRING_type(serial) != V_ASN1_INTEGER)
        return IOTSEC_E_BAD_VALUE; /* V_ASN1_NEG_INTEGER: negative serial */
    p = ASN1_STRING_get0_data(serial);
    n = ASN1_STRING_length(serial);
    while (n > 0 && p[0] == 0) {
        p++;
        n--;
    }
    if (n == 0 || n > (int)IOTSEC_SERIAL_LEN)
        return IOTSEC_E_BAD_VALUE;
    memset(out, 0, IOTSEC_SERIAL_LEN);
    memcpy(out + IOTSEC_SERIAL_LEN - (size_t)n, p, (size_t)n);
    return IOTSEC_OK;
}

int iotsec_x509i_err_code(int x509_err)
{
    switch (x509_err) {
    case X509_V_OK: return IOTSEC_OK;
    case X509_V_ERR_CERT_HAS_EXPIRED: return IOTSEC_E_EXPIRED;
    case X509_V_ERR_CERT_NOT_YET_VALID: return IOTSEC_E_NOT_YET_VALID;
    case X509_V_ERR_INVALID_PURPOSE: return IOTSEC_E_POLICY;
    case X509_V_ERR_CERT_REVOKED: return IOTSEC_E_REVOKED;
    default: return IOTSEC_E_UNTRUSTED;
    }
}

int iotsec_x509i_is_der(const uint8_t *in, size_t len)
{
    /* every DER structure read here is a SEQUENCE (tag 0x30); PEM text starts with
     * "-----BEGIN" or with explanatory text, and a text that starts with '0' (also 0x30)
     * is then rejected as bad DER, which it is as PEM too */
    return len > 0 && in[0] == 0x30;
}

/* ---- identity ------------------------------------------------------------------------ */

static int fill_id(iotsec_peer_identity *id, const unsigned char *p, int n)
{
    int rc;

    if (n < 0)
        return IOTSEC_E_BAD_LENGTH;
    rc = iotsec_device_id_check(p, (size_t)n);
    if (rc != IOTSEC_OK)
        return rc;
    memcpy(id->device_id, p, (size_t)n);
    id->device_id[n] = '\0';
    id->device_id_len = (size_t)n;
    return IOTSEC_OK;
}

static int id_from_cn(X509 *cert, iotsec_peer_identity *id)
{
    X509_NAME *name = X509_get_subject_name(cert);
    const ASN1_STRING *s;
    int idx, type;

    idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    if (idx < 0)
        return IOTSEC_E_MISSING_FIELD;
    if (X509_NAME_get_index_by_NID(name, NID_commonName, idx) >= 0)
        return IOTSEC_E_MALFORMED; /* two CNs: which one is the device? */
    s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
    if (s == NULL)
        return IOTSEC_E_MISSING_FIELD;
    type = ASN1_STRING_type(s);
    if (type != V_ASN1_PRINTABLESTRING && type != V_ASN1_UTF8STRING && type != V_ASN1_IA5STRING)
        return IOTSEC_E_BAD_ENCODING;
    return fill_id(id, ASN1_STRING_get0_data(s), ASN1_STRING_length(s));
}

static int td_byte_ok(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

/* spiffe://<trust-domain>/device/<device-id> */
static int id_from_uri(const unsigned char *u, int len, const char *want_td,
                       iotsec_peer_identity *id)
{
    static const char scheme[] = "spiffe://";
    static const char path[] = "/device/";
    const size_t slen = sizeof scheme - 1u, plen = sizeof path - 1u;
    size_t n = (size_t)len, td_len = 0, rest;
    const unsigned char *td, *dev;

    if (len < 0 || n < slen || memcmp(u, scheme, slen) != 0)
        return IOTSEC_E_BAD_VALUE;
    td = u + slen;
    while (slen + td_len < n && td[td_len] != '/') {
        if (!td_byte_ok(td[td_len]))
            return IOTSEC_E_BAD_VALUE;
        td_len++;
    }
    if (td_len == 0 || td_len > 255)
        return IOTSEC_E_BAD_VALUE;
    rest = n - slen - td_len;
    if (rest < plen || memcmp(td + td_len, path, plen) != 0)
        return IOTSEC_E_BAD_VALUE;
    dev = td + td_len + plen;
    rest -= plen;
    if ((rest == 1 && dev[0] == '.') || (rest == 2 && dev[0] == '.' && dev[1] == '.'))
        return IOTSEC_E_BAD_VALUE;
    if (rest > INT_MAX)
        return IOTSEC_E_BAD_LENGTH;
    /* the device-id alphabet has no '/', '?', '#' or '%': one segment, nothing after it */
    {
        int rc = fill_id(id, dev, (int)rest);
        if (rc != IOTSEC_OK)
            return rc;
    }
    if (want_td != NULL && (strlen(want_td) != td_len || memcmp(want_td, td, td_len) != 0))
        return IOTSEC_E_POLICY;
    return IOTSEC_OK;
}

static int id_from_san(X509 *cert, int gen_type, const char *want_td, iotsec_peer_identity *id)
{
    GENERAL_NAMES *gens;
    const ASN1_IA5STRING *found = NULL;
    int crit = -1, i, count = 0, rc;

    gens = X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, NULL);
    if (gens == NULL) {
        ERR_clear_error();
        if (crit == -1)
            return IOTSEC_E_MISSING_FIELD;
        return crit == -2 ? IOTSEC_E_MALFORMED : IOTSEC_E_BAD_ENCODING;
    }
    for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        if (g->type != gen_type)
            continue;
        count++;
        found = gen_type == GEN_URI ? g->d.uniformResourceIdentifier : g->d.dNSName;
    }
    if (count == 0)
        rc = IOTSEC_E_MISSING_FIELD;
    else if (count > 1)
        rc = IOTSEC_E_MALFORMED;
    else if (gen_type == GEN_URI)
        rc = id_from_uri(ASN1_STRING_get0_data(found), ASN1_STRING_length(found), want_td, id);
    else
        rc = fill_id(id, ASN1_STRING_get0_data(found), ASN1_STRING_length(found));
    GENERAL_NAMES_free(gens);
    return rc;
}

int iotsec_identity_match(const iotsec_peer_identity *id, const char *claimed, size_t claimed_len)
{
    if (id == NULL || (claimed == NULL && claimed_len != 0))
        return IOTSEC_E_INVALID_ARG;
    if (id->device_id_len == 0 || id->device_id_len > IOTSEC_DEVICE_ID_MAX ||
        claimed_len != id->device_id_len || memcmp(claimed, id->device_id, claimed_len) != 0)
        return IOTSEC_E_IDENTITY_MISMATCH;
    return IOTSEC_OK;
}

int iotsec_x509_fingerprint(X509 *cert, uint8_t out[IOTSEC_FINGERPRINT_LEN])
{
    unsigned int n = 0;

    if (cert == NULL || out == NULL)
        return IOTSEC_E_INVALID_ARG;
    if (X509_digest(cert, EVP_sha256(), out, &n) != 1 || n != IOTSEC_FINGERPRINT_LEN) {
        ERR_clear_error();
        return IOTSEC_E_BACKEND;
    }
    return IOTSEC_OK;
}

int iotsec_x509_serial(X509 *cert, uint8_t out[IOTSEC_SERIAL_LEN])
{
    if (cert == NULL || out == NULL)
        return IOTSEC_E_INVALID_ARG;
    return iotsec_x509i_serial_key(X509_get0_serialNumber(cert), out);
}

int iotsec_x509_identity(X509 *cert, const iotsec_identity_policy *policy,
                         iotsec_peer_identity *out)
{
    static const iotsec_identity_policy cn_policy = {IOTSEC_ID_CN, NULL};
    iotsec_peer_identity id;
    int rc;

    if (cert == NULL || out == NULL)
        return IOTSEC_E_INVALID_ARG;
    if (policy == NULL)
        policy = &cn_policy;
    if (policy->source != IOTSEC_ID_CN && policy->source != IOTSEC_ID_SAN_URI &&
        policy->source != IOTSEC_ID_SAN_DNS)
        return IOTSEC_E_INVALID_ARG;
    memset(&id, 0, sizeof id);
    id.source = policy->source;
    /* what every identity needs comes first, so a certificate refused for its serial is
     * refused with the same code under every identity policy; then the policy's source */
    rc = iotsec_x509_serial(cert, id.serial);
    if (rc == IOTSEC_OK)
        rc = iotsec_x509_fingerprint(cert, id.fingerprint);
    if (rc == IOTSEC_OK) {
        switch (policy->source) {
        case IOTSEC_ID_CN: rc = id_from_cn(cert, &id); break;
        case IOTSEC_ID_SAN_URI: rc = id_from_san(cert, GEN_URI, policy->trust_domain, &id); break;
        default: rc = id_from_san(cert, GEN_DNS, NULL, &id); break;
        }
    }
    if (rc == IOTSEC_OK)
        *out = id;
    return rc;
}

/* ---- reading ------------------------------------------------------------------------- */

/* Decode exactly one object: PEM (first block named pem_name, and no second one) or DER
 * (no trailing bytes). */
static int decode_one(const uint8_t *in, size_t len, const char *pem_name, d2i_of_void *d2i,
                      void (*free_obj)(void *), void **out)
{
    void *obj, *extra = NULL;

    if (in == NULL || out == NULL || len == 0 || len > INT_MAX)
        return IOTSEC_E_INVALID_ARG;
    *out = NULL;
    if (!iotsec_x509i_is_der(in, len)) {
        BIO *bio = BIO_new_mem_buf(in, (int)len);
        if (bio == NULL)
            return IOTSEC_E_NO_MEMORY;
        obj = PEM_ASN1_read_bio(d2i, pem_name, bio, NULL, NULL, NULL);
        if (obj != NULL)
            extra = PEM_ASN1_read_bio(d2i, pem_name, bio, NULL, NULL, NULL);
        BIO_free(bio);
        ERR_clear_error();
        if (obj == NULL || extra != NULL) {
            if (obj != NULL)
                free_obj(obj);
            if (extra != NULL)
                free_obj(extra);
            return IOTSEC_E_BAD_ENCODING;
        }
    } else {
        const unsigned char *p = in;
        obj = d2i(NULL, &p, (long)len);
        ERR_clear_error();
        if (obj == NULL)
            return IOTSEC_E_BAD_ENCODING;
        if ((size_t)(p - in) != len) {
            free_obj(obj);
            return IOTSEC_E_TRAILING_DATA;
        }
    }
    *out = obj;
    return IOTSEC_OK;
}

/* Exact-type adapters (no casts between function pointer types); decode_one passes a == NULL. */
static void *d2i_cert(void **a, const unsigned char **pp, long len)
{
    (void)a;
    return d2i_X509(NULL, pp, len);
}
static void *d2i_crl(void **a, const unsigned char **pp, long len)
{
    (void)a;
    return d2i_X509_CRL(NULL, pp, len);
}
static void free_x509(void *p) { X509_free(p); }
static void free_crl(void *p) { X509_CRL_free(p); }

int iotsec_x509_cert_decode(const uint8_t *in, size_t len, X509 **out)
{
    void *obj = NULL;
    int rc = decode_one(in, len, PEM_STRING_X509, d2i_cert, free_x509, &obj);

    if (out != NULL)
        *out = obj;
    return rc;
}

int iotsec_x509_crl_decode(const uint8_t *in, size_t len, X509_CRL **out)
{
    void *obj = NULL;
    int rc = decode_one(in, len, PEM_STRING_X509_CRL, d2i_crl, free_crl, &obj);

    if (out != NULL)
        *out = obj;
    return rc;
}

int iotsec_x509_cert_load_file(const char *path, X509 **out)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc;

    if (path == NULL || out == NULL)
        return IOTSEC_E_INVALID_ARG;
    *out = NULL;
    rc = iotsec_file_read(path, IOTSEC_X509_FILE_MAX, &buf, &len);
    if (rc == IOTSEC_OK)
        rc = len == 0 ? IOTSEC_E_BAD_ENCODING : iotsec_x509_cert_decode(buf, len, out);
    free(buf);
    return rc;
}

int iotsec_x509_key_load_file(const char *path, EVP_PKEY **out)
{
    uint8_t *der = NULL;
    size_t der_len = 0;
    const unsigned char *p;
    int rc;

    if (path == NULL || out == NULL)
        return IOTSEC_E_INVALID_ARG;
    *out = NULL;
    rc = iotsec_posix_privkey_file_der(path, &der, &der_len);
    if (rc == IOTSEC_OK) {
        p = der;
        *out = d2i_AutoPrivateKey(NULL, &p, (long)der_len);
        ERR_clear_error();
        if (*out == NULL)
            rc = IOTSEC_E_BAD_KEY;
    }
    iotsec_posix_secret_free(der, der_len);
    return rc;
}

/* ---- several certificates (a chain file) ----------------------------------------------- */

int iotsec_x509_certs_decode(const uint8_t *in, size_t len, X509 **out, size_t cap, size_t *n)
{
    BIO *bio;
    X509 *cert;
    size_t got = 0, i;
    unsigned long e;
    int rc = IOTSEC_OK;

    if (n != NULL)
        *n = 0;
    if (in == NULL || out == NULL || n == NULL || cap == 0 || len == 0 || len > INT_MAX)
        return IOTSEC_E_INVALID_ARG;
    if (iotsec_x509i_is_der(in, len)) {
        rc = iotsec_x509_cert_decode(in, len, &out[0]);
        if (rc == IOTSEC_OK)
            *n = 1;
        return rc;
    }
    bio = BIO_new_mem_buf(in, (int)len);
    if (bio == NULL)
        return IOTSEC_E_NO_MEMORY;
    ERR_clear_error();
    for (;;) {
        cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        if (cert == NULL) {
            e = ERR_peek_last_error();
            /* the end of the text (no further block) is no error, anything else is */
            if (got == 0 || ERR_GET_LIB(e) != ERR_LIB_PEM || ERR_GET_REASON(e) != PEM_R_NO_START_LINE)
                rc = IOTSEC_E_BAD_ENCODING;
            break;
        }
        if (got == cap) {
            X509_free(cert);
            rc = IOTSEC_E_BUFFER_TOO_SMALL;
            break;
        }
        out[got++] = cert;
    }
    BIO_free(bio);
    ERR_clear_error();
    if (rc != IOTSEC_OK) {
        for (i = 0; i < got; i++) {
            X509_free(out[i]);
            out[i] = NULL;
        }
        return rc;
    }
    *n = got;
    return IOTSEC_OK;
}

int iotsec_x509_certs_load_file(const char *path, X509 **out, size_t cap, size_t *n)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc;

    if (n != NULL)
        *n = 0;
    if (path == NULL || out == NULL || n == NULL || cap == 0)
        return IOTSEC_E_INVALID_ARG;
    rc = iotsec_file_read(path, IOTSEC_X509_FILE_MAX, &buf, &len);
    if (rc == IOTSEC_OK)
        rc = len == 0 ? IOTSEC_E_BAD_ENCODING : iotsec_x509_certs_decode(buf, len, out, cap, n);
    free(buf);
    return rc;
}
