/* Check suite: X.509 CRLs, revocation sets, denylists in sets, hot reload, the device CA
 * writer and device-certificate verification (docs/DESIGN.md §7, RFC 5280). Certificates and
 * CRLs come both from the library's CA functions and from `openssl ca`. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "testutil.h"
#include "x509_fixture.h"

/* A sealed set for ca with one CRL (DER) revoking the given certificates. */
static iotsec_revocation *set_with(const fx_ca *ca, X509 *const *revoked, size_t n, int64_t now)
{
    iotsec_revocation *rs = NULL;
    size_t len;
    uint8_t *der = fx_crl(ca, revoked, n, now - 60, now + 86400, 0, &len);

    ck_assert_int_eq(iotsec_revocation_new(&rs, ca->cert, 0), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_add_crl(rs, der, len, now), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_seal(rs), IOTSEC_OK);
    free(der);
    return rs;
}

/* Re-sign crl after the test changed it (the library's writer always produces valid CRLs). */
static uint8_t *resign_der(X509_CRL *crl, EVP_PKEY *key, size_t *len)
{
    unsigned char *der = NULL;
    int n;

    ck_assert_int_gt(X509_CRL_sign(crl, key, EVP_sha256()), 0);
    n = i2d_X509_CRL(crl, &der);
    ck_assert_int_gt(n, 0);
    *len = (size_t)n;
    return der;
}

static int add_crl_obj(iotsec_revocation *rs, X509_CRL *crl, EVP_PKEY *key, int64_t now)
{
    size_t len;
    uint8_t *der = resign_der(crl, key, &len);
    int rc = iotsec_revocation_add_crl(rs, der, len, now);

    OPENSSL_free(der);
    return rc;
}

/* ---- CRLs from the library's CA -------------------------------------------------------- */

START_TEST(test_crl_revoked_and_good)
{
    fx_ca ca;
    EVP_PKEY *ka = fx_p256(), *kb = fx_p256();
    X509 *a, *b;
    iotsec_revocation *rs;
    iotsec_peer_identity ia, ib;
    iotsec_revocation_reason why;
    int64_t now = fx_now();
    uint8_t *pem;
    size_t len;
    int pass;

    fx_ca_new(&ca, "iotsec test CA");
    a = fx_issue(&ca, ka, "dev-a");
    b = fx_issue(&ca, kb, "dev-b");
    ia = fx_identity(a);
    ib = fx_identity(b);
    for (pass = 0; pass < 2; pass++) { /* DER, then PEM */
        rs = NULL;
        pem = fx_crl(&ca, &a, 1, now - 60, now + 86400, pass, &len);
        ck_assert_int_eq(iotsec_revocation_new(&rs, ca.cert, 0), IOTSEC_OK);
        ck_assert_int_eq(iotsec_revocation_add_crl(rs, pem, len, now), IOTSEC_OK);
        ck_assert_int_eq(iotsec_revocation_check(rs, &ia, now, &why), IOTSEC_E_STATE);
        ck_assert_int_eq(iotsec_revocation_check_serial(rs, ia.serial), IOTSEC_E_STATE);
        ck_assert_int_eq(iotsec_revocation_seal(rs), IOTSEC_OK);
        ck_assert_uint_eq(iotsec_revocation_serial_count(rs), 1);
        ck_assert_int_eq(iotsec_revocation_stale_after(rs), now + 86400);
        ck_assert_int_eq(iotsec_revocation_check(rs, &ia, now, &why), IOTSEC_E_REVOKED);
        ck_assert_int_eq(why, IOTSEC_REVOKED_CRL);
        ck_assert_str_eq(iotsec_revocation_reason_name((int)why), "crl");
        ck_assert_int_eq(iotsec_revocation_check_serial(rs, ia.serial), IOTSEC_E_REVOKED);
        ck_assert_int_eq(iotsec_revocation_check(rs, &ib, now, &why), IOTSEC_OK);
        ck_assert_int_eq(why, IOTSEC_REVOKED_NONE);
        ck_assert_int_eq(iotsec_revocation_check_serial(rs, ib.serial), IOTSEC_OK);
        /* sealed: immutable */
        ck_assert_int_eq(iotsec_revocation_add_crl(rs, pem, len, now), IOTSEC_E_STATE);
        ck_assert_int_eq(iotsec_revocation_add_denylist(rs, (const uint8_t *)"id:x", 4, NULL),
                         IOTSEC_E_STATE);
        ck_assert_int_eq(iotsec_revocation_seal(rs), IOTSEC_E_STATE);
        iotsec_revocation_unref(rs);
        free(pem);
    }
    X509_free(a);
    X509_free(b);
    EVP_PKEY_free(ka);
    EVP_PKEY_free(kb);
    fx_ca_free(&ca);
}
END_TEST

START_TEST(test_crl_wrong_issuer_or_signature)
{
    fx_ca ca, other, twin;
    EVP_PKEY *k = fx_p256();
    X509 *a;
    iotsec_revocation *rs = NULL;
    uint8_t *der;
    size_t len;
    int64_t now = fx_now();

    fx_ca_new(&ca, "iotsec test CA");
    fx_ca_new(&other, "another CA");
    fx_ca_new(&twin, "iotsec test CA"); /* same name, different key */
    a = fx_issue(&ca, k, "dev-a");
    ck_assert_int_eq(iotsec_revocation_new(&rs, ca.cert, 0), IOTSEC_OK);
    der = fx_crl(&other, &a, 1, now - 60, now + 86400, 0, &len);
    ck_assert_int_eq(iotsec_revocation_add_crl(rs, der, len, now), IOTSEC_E_UNTRUSTED);
    free(der);
    der = fx_crl(&twin, &a, 1, now - 60, now + 86400, 0, &len);
    ck_assert_int_eq(iotsec_revocation_add_crl(rs, der, len, now), IOTSEC_E_UNTRUSTED);
    /* a flipped bit in the signature */
    der[len - 5] ^= 0x01;
    ck_assert_int_ne(iotsec_revocation_add_crl(rs, der, len, now), IOTSEC_OK);
    free(der);
    der = fx_crl(&ca, &a, 1, now - 60, now + 86400, 0, &len);
    der[len - 5] ^= 0x01;
    ck_assert_int_eq(iotsec_revocation_add_crl(rs, der, len, now), IOTSEC_E_UNTRUSTED);
    free(der);
    /* nothing was added by the refused CRLs */
    ck_assert_int_eq(iotsec_revocation_seal(rs), IOTSEC_OK);
    ck_assert_uint_eq(iotsec_revocation_serial_count(rs), 0);
    ck_assert_int_eq(iotsec_revocation_stale_after(rs), INT64_MAX);
    iotsec_revocation_unref(rs);
    X509_free(a);
    EVP_PKEY_free(k);
    fx_ca_free(&ca);
    fx_ca_free(&other);
    fx_ca_free(&twin);
}
END_TEST

START_TEST(test_crl_times_and_grace)
{
    fx_ca ca;
    EVP_PKEY *k = fx_p256();
    X509 *a;
    iotsec_revocation *rs = NULL;
    iotsec_peer_identity id;
    uint8_t *der;
    size_t len;
    int64_t now = fx_now();

    fx_ca_new(&ca, "iotsec test CA");
    a = fx_issue(&ca, k, "dev-a");
    id = fx_identity(a);
    /* thisUpdate in the future */
    ck_assert_int_eq(iotsec_revocation_new(&rs, ca.cert, 0), IOTSEC_OK);
    der = fx_crl(&ca, &a, 1, now + 600, now + 86400, 0, &len);
    ck_assert_int_eq(iotsec_revocation_add_crl(rs, der, len, now), IOTSEC_E_NOT_YET_VALID);
    ck_assert_int_eq(iotsec_revocation_add_crl(rs, der, len, now + 600), IOTSEC_OK);
    free(der);
    iotsec_revocation_unref(rs);

    /* past nextUpdate: the library's writer given past times */
    der = fx_crl(&ca, &a, 1, now - 10 * 86400, now - 86400, 0, &len);
    ck_assert_int_eq(iotsec_revocation_new(&rs, ca.cert, 0), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_add_crl(rs, der, len, now), IOTSEC_E_EXPIRED);
    ck_assert_int_eq(iotsec_revocation_add_crl(rs, der, len, now - 86400), IOTSEC_OK);
    iotsec_revocation_unref(rs);
    /* a grace period of two days accepts it; one that is too short does not */
    ck_assert_int_eq(iotsec_revocation_new(&rs, ca.cert, 86400 - 5), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_add_crl(rs, der, len, now), IOTSEC_E_EXPIRED);
    iotsec_revocation_unref(rs);
    ck_assert_int_eq(iotsec_revocation_new(&rs, ca.cert, 2 * 86400), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_add_crl(rs, der, len, now), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_seal(rs), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_stale_after(rs), now - 86400 + 2 * 86400);
    /* a listed certificate stays revoked; an unlisted one gets no answer once stale */
    ck_assert_int_eq(iotsec_revocation_check(rs, &id, now + 3 * 86400, NULL), IOTSEC_E_REVOKED);
    id.serial[0] ^= 1;
    ck_assert_int_eq(iotsec_revocation_check(rs, &id, now, NULL), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_check(rs, &id, now + 86400, NULL), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_check(rs, &id, now + 86400 + 1, NULL), IOTSEC_E_EXPIRED);
    iotsec_revocation_unref(rs);
    free(der);
    X509_free(a);
    EVP_PKEY_free(k);
    fx_ca_free(&ca);
}
END_TEST

START_TEST(test_crl_garbage)
{
    fx_ca ca;
    EVP_PKEY *k = fx_p256();
    X509 *a;
    iotsec_revocation *rs = NULL;
    uint8_t *der, *pem, *two, junk[300];
    size_t len, pem_len;
    int64_t now = fx_now();
    char dir[256], path[512];
    X509_CRL *crl = NULL;

    tu_tmpdir(dir, sizeof dir);
    fx_ca_new(&ca, "iotsec test CA");
    a = fx_issue(&ca, k, "dev-a");
    ck_assert_int_eq(iotsec_revocation_new(&rs, ca.cert, 0), IOTSEC_OK);
    tu_pattern(junk, sizeof junk, 3);
    ck_assert_int_eq(iotsec_revocation_add_crl(rs, junk, sizeof junk, now), IOTSEC_E_BAD_ENCODING);
    junk[0] = 0x30;
    ck_assert_int_eq(iotsec_revocation_add_crl(rs, junk, sizeof junk, now), IOTSEC_E_BAD_ENCODING);
    ck_assert_int_eq(iotsec_revocation_add_crl(rs, (const uint8_t *)"-----BEGIN X509 CRL-----\n"
                                                                    "AAAA\n-----END X509 CRL-----\n",
                                               52, now),
                     IOTSEC_E_BAD_ENCODING);
    ck_assert_int_eq(iotsec_revocation_add_crl(rs, junk, 0, now), IOTSEC_E_INVALID_ARG);
    der = fx_crl(&ca, &a, 1, now - 60, now + 86400, 0, &len);
    /* truncated DER, DER with a trailing byte */
    ck_assert_int_eq(iotsec_revocation_add_crl(rs, der, len - 1, now), IOTSEC_E_BAD_ENCODING);
    der = realloc(der, len + 1);
    der[len] = 0;
    ck_assert_int_eq(iotsec_revocation_add_crl(rs, der, len + 1, now), IOTSEC_E_TRAILING_DATA);
    ck_assert_int_eq(iotsec_x509_crl_decode(der, len, &crl), IOTSEC_OK);
    X509_CRL_free(crl);
    /* two CRLs in one PEM file: refused, one file is one CRL */
    pem = fx_crl(&ca, &a, 1, now - 60, now + 86400, 1, &pem_len);
    two = malloc(2 * pem_len);
    memcpy(two, pem, pem_len);
    memcpy(two + pem_len, pem, pem_len);
    ck_assert_int_eq(iotsec_revocation_add_crl(rs, two, 2 * pem_len, now), IOTSEC_E_BAD_ENCODING);
    /* files: empty, missing */
    tu_write_file(dir, "empty.crl", "", 0, path, sizeof path);
    ck_assert_int_eq(iotsec_revocation_add_crl_file(rs, path, now), IOTSEC_E_BAD_ENCODING);
    ck_assert_int_eq(iotsec_revocation_add_crl_file(rs, "/nonexistent/x.crl", now), IOTSEC_E_IO);
    tu_write_file(dir, "good.crl", pem, pem_len, path, sizeof path);
    ck_assert_int_eq(iotsec_revocation_add_crl_file(rs, path, now), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_seal(rs), IOTSEC_OK);
    ck_assert_uint_eq(iotsec_revocation_serial_count(rs), 1);
    ck_assert_int_eq(iotsec_revocation_add_crl_file(rs, path, now), IOTSEC_E_STATE);
    iotsec_revocation_unref(rs);
    ck_assert_int_eq(iotsec_x509_crl_decode(NULL, 1, &crl), IOTSEC_E_INVALID_ARG);
    free(der);
    free(pem);
    free(two);
    X509_free(a);
    EVP_PKEY_free(k);
    fx_ca_free(&ca);
    tu_tmpdir_cleanup(dir);
}
END_TEST

/* CRLs the library's writer never makes, built with the OpenSSL API and signed by the CA. */
START_TEST(test_crl_structure_policy)
{
    fx_ca ca;
    iotsec_revocation *rs = NULL;
    X509_CRL *crl = NULL;
    X509_REVOKED *r;
    ASN1_INTEGER *serial;
    ASN1_TIME *t;
    GENERAL_NAMES *gens;
    GENERAL_NAME *g;
    X509_NAME *name;
    ASN1_INTEGER *num;
    int64_t now = fx_now();
    iotsec_crl_entry e;

    fx_ca_new(&ca, "iotsec test CA");
    ck_assert_int_eq(iotsec_revocation_new(&rs, ca.cert, 0), IOTSEC_OK);
    memset(&e, 0, sizeof e);
    e.serial[19] = 0x42;
    e.revoked_at = now - 100;

    /* a critical CRL extension (cRLNumber marked critical) */
    ck_assert_int_eq(iotsec_x509_crl_create(ca.cert, ca.key, &e, 1, 1, now - 60, now + 600, &crl),
                     IOTSEC_OK);
    num = ASN1_INTEGER_new();
    ck_assert_int_eq(ASN1_INTEGER_set(num, 9), 1);
    ck_assert_int_eq(X509_CRL_add1_ext_i2d(crl, NID_delta_crl, num, 1, X509V3_ADD_DEFAULT), 1);
    ASN1_INTEGER_free(num);
    ck_assert_int_eq(add_crl_obj(rs, crl, ca.key, now), IOTSEC_E_UNKNOWN_CRITICAL);
    X509_CRL_free(crl);

    /* a critical entry extension: certificateIssuer (an indirect CRL) */
    ck_assert_int_eq(iotsec_x509_crl_create(ca.cert, ca.key, &e, 1, 1, now - 60, now + 600, &crl),
                     IOTSEC_OK);
    gens = sk_GENERAL_NAME_new_null();
    g = GENERAL_NAME_new();
    name = X509_NAME_dup(X509_get_subject_name(ca.cert));
    GENERAL_NAME_set0_value(g, GEN_DIRNAME, name);
    sk_GENERAL_NAME_push(gens, g);
    r = sk_X509_REVOKED_value(X509_CRL_get_REVOKED(crl), 0);
    ck_assert_int_eq(X509_REVOKED_add1_ext_i2d(r, NID_certificate_issuer, gens, 1, 0), 1);
    GENERAL_NAMES_free(gens);
    ck_assert_int_eq(add_crl_obj(rs, crl, ca.key, now), IOTSEC_E_UNKNOWN_CRITICAL);
    X509_CRL_free(crl);

    /* a negative and a zero serial */
    ck_assert_int_eq(iotsec_x509_crl_create(ca.cert, ca.key, NULL, 0, 1, now - 60, now + 600, &crl),
                     IOTSEC_OK);
    r = X509_REVOKED_new();
    serial = ASN1_INTEGER_new();
    ck_assert_int_eq(ASN1_INTEGER_set(serial, -5), 1);
    t = ASN1_TIME_set(NULL, (time_t)now);
    X509_REVOKED_set_serialNumber(r, serial);
    X509_REVOKED_set_revocationDate(r, t);
    X509_CRL_add0_revoked(crl, r);
    ck_assert_int_eq(add_crl_obj(rs, crl, ca.key, now), IOTSEC_E_BAD_VALUE);
    ck_assert_int_eq(ASN1_INTEGER_set(serial, 0), 1);
    X509_REVOKED_set_serialNumber(r, serial);
    ck_assert_int_eq(add_crl_obj(rs, crl, ca.key, now), IOTSEC_E_BAD_VALUE);
    /* 21 bytes of serial: over RFC 5280's limit */
    {
        unsigned char big[21];
        BIGNUM *bn;
        memset(big, 0x11, sizeof big);
        bn = BN_bin2bn(big, 21, NULL);
        ASN1_INTEGER_free(serial);
        serial = BN_to_ASN1_INTEGER(bn, NULL);
        BN_free(bn);
        X509_REVOKED_set_serialNumber(r, serial);
        ck_assert_int_eq(add_crl_obj(rs, crl, ca.key, now), IOTSEC_E_BAD_VALUE);
    }
    ASN1_INTEGER_free(serial);
    X509_CRL_free(crl);

    /* no nextUpdate (RFC 5280 requires it of conforming issuers) */
    crl = X509_CRL_new();
    ck_assert_int_eq(X509_CRL_set_version(crl, X509_CRL_VERSION_2), 1);
    ck_assert_int_eq(X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca.cert)), 1);
    ck_assert_int_eq(X509_CRL_set1_lastUpdate(crl, t), 1);
    ck_assert_int_eq(add_crl_obj(rs, crl, ca.key, now), IOTSEC_E_MISSING_FIELD);
    /* a version this code does not know (v3 CRL) */
    ASN1_TIME_free(t);
    t = ASN1_TIME_set(NULL, (time_t)(now + 600));
    ck_assert_int_eq(X509_CRL_set1_nextUpdate(crl, t), 1);
    ck_assert_int_eq(add_crl_obj(rs, crl, ca.key, now), IOTSEC_OK); /* v2, valid */
    ck_assert_int_eq(X509_CRL_set_version(crl, 2), 1);
    ck_assert_int_eq(add_crl_obj(rs, crl, ca.key, now), IOTSEC_E_BAD_VERSION);
    ASN1_TIME_free(t);
    X509_CRL_free(crl);

    /* nothing refused was added; the one valid CRL had no entries */
    ck_assert_int_eq(iotsec_revocation_seal(rs), IOTSEC_OK);
    ck_assert_uint_eq(iotsec_revocation_serial_count(rs), 0);
    iotsec_revocation_unref(rs);
    fx_ca_free(&ca);
}
END_TEST

/* A CA whose keyUsage lacks cRLSign may not sign CRLs (RFC 5280 §4.2.1.3). */
START_TEST(test_crl_ca_without_crlsign)
{
    EVP_PKEY *key = fx_p256();
    X509 *ca = X509_new();
    X509_NAME *name = X509_NAME_new();
    X509V3_CTX v3;
    X509_EXTENSION *ext;
    X509_CRL *crl = NULL;
    iotsec_revocation *rs = NULL;
    int64_t now = fx_now();
    size_t len;
    uint8_t *der;

    X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
                               (const unsigned char *)"no-crl-ca", -1, -1, 0);
    X509_set_version(ca, X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(ca), 77);
    X509_set_subject_name(ca, name);
    X509_set_issuer_name(ca, name);
    X509_gmtime_adj(X509_getm_notBefore(ca), -3600);
    X509_gmtime_adj(X509_getm_notAfter(ca), 3600);
    X509_set_pubkey(ca, key);
    X509V3_set_ctx(&v3, ca, ca, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &v3, NID_key_usage, "critical,keyCertSign");
    X509_add_ext(ca, ext, -1);
    X509_EXTENSION_free(ext);
    ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_key_identifier, "hash");
    X509_add_ext(ca, ext, -1);
    X509_EXTENSION_free(ext);
    ck_assert_int_gt(X509_sign(ca, key, EVP_sha256()), 0);
    ck_assert_int_eq(iotsec_x509_crl_create(ca, key, NULL, 0, 1, now - 60, now + 600, &crl),
                     IOTSEC_OK);
    der = resign_der(crl, key, &len);
    ck_assert_int_eq(iotsec_revocation_new(&rs, ca, 0), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_add_crl(rs, der, len, now), IOTSEC_E_UNTRUSTED);
    iotsec_revocation_unref(rs);
    OPENSSL_free(der);
    X509_CRL_free(crl);
    X509_NAME_free(name);
    X509_free(ca);
    EVP_PKEY_free(key);
}
END_TEST

/* Many serials over two overlapping CRLs (the unsorted path: sort and merge), searched
 * through the two-level index: every listed serial is found, neighbours and serials below
 * the smallest and above the largest are not. */
START_TEST(test_crl_many_serials)
{
    enum { N = 5000 };
    fx_ca ca;
    iotsec_crl_entry *e = calloc(N, sizeof *e);
    iotsec_revocation *rs = NULL;
    X509_CRL *crl;
    unsigned char *der;
    uint8_t key[IOTSEC_SERIAL_LEN];
    int64_t now = fx_now();
    size_t i, half = N / 2 + 100; /* the CRLs share 200 serials */
    int n, part, k;

    ck_assert_ptr_nonnull(e);
    fx_ca_new(&ca, "iotsec test CA");
    for (i = 0; i < N; i++) { /* serials 1000, 1003, 1006, … in a shuffled order */
        size_t j = (i * 2654435761u) % N;
        uint32_t v = 1000u + 3u * (uint32_t)j;
        for (k = 0; k < 4; k++)
            e[i].serial[IOTSEC_SERIAL_LEN - 1 - (size_t)k] = (uint8_t)(v >> (8 * k));
        e[i].revoked_at = now - 100;
    }
    ck_assert_int_eq(iotsec_revocation_new(&rs, ca.cert, 0), IOTSEC_OK);
    for (part = 0; part < 2; part++) {
        crl = NULL;
        ck_assert_int_eq(iotsec_x509_crl_create(ca.cert, ca.key, part ? e + N / 2 - 100 : e,
                                                part ? N - (N / 2 - 100) : half, 3, now - 60,
                                                now + 600, &crl),
                         IOTSEC_OK);
        der = NULL;
        n = i2d_X509_CRL(crl, &der);
        ck_assert_int_eq(iotsec_revocation_add_crl(rs, der, (size_t)n, now), IOTSEC_OK);
        OPENSSL_free(der);
        X509_CRL_free(crl);
    }
    ck_assert_int_eq(iotsec_revocation_seal(rs), IOTSEC_OK);
    ck_assert_uint_eq(iotsec_revocation_serial_count(rs), N);
    memset(key, 0, sizeof key);
    for (i = 0; i < 3 * N + 1100; i++) {
        uint32_t v = (uint32_t)i;
        int listed = v >= 1000 && v < 1000 + 3 * N && (v - 1000) % 3 == 0;
        for (k = 0; k < 4; k++)
            key[IOTSEC_SERIAL_LEN - 1 - (size_t)k] = (uint8_t)(v >> (8 * k));
        ck_assert_msg(iotsec_revocation_check_serial(rs, key) ==
                          (listed ? IOTSEC_E_REVOKED : IOTSEC_OK),
                      "serial %u", v);
    }
    memset(key, 0xff, sizeof key);
    ck_assert_int_eq(iotsec_revocation_check_serial(rs, key), IOTSEC_OK);
    iotsec_revocation_unref(rs);
    free(e);
    fx_ca_free(&ca);
}
END_TEST

/* ---- CRLs and certificates from `openssl ca` ------------------------------------------- */

START_TEST(test_openssl_ca_interop)
{
    char dir[256], path[512];
    X509 *ca, *d1, *d2, *d3;
    iotsec_revocation *rs = NULL;
    iotsec_peer_identity i1, i2, i3;
    iotsec_revocation_reason why;
    int64_t now = fx_now();

    tu_tmpdir(dir, sizeof dir);
    fx_openssl_ca_init(dir);
    fx_openssl_issue(dir, "ossl-dev-1", NULL);
    fx_openssl_issue(dir, "ossl-dev-2", NULL);
    fx_openssl_issue(dir, "ossl-dev-3", "-startdate 20200101000000Z -enddate 20200201000000Z");
    fx_openssl_revoke(dir, "ossl-dev-1");
    fx_openssl_gencrl(dir, "crl.pem", "-crldays 2");
    fx_openssl_gencrl(dir, "stale.pem",
                      "-crl_lastupdate 20200101000000Z -crl_nextupdate 20200201000000Z");
    now = fx_now(); /* after openssl wrote thisUpdate */
    ca = fx_load_cert(dir, "ca.pem");
    d1 = fx_load_cert(dir, "ossl-dev-1.pem");
    d2 = fx_load_cert(dir, "ossl-dev-2.pem");
    d3 = fx_load_cert(dir, "ossl-dev-3.pem");
    /* openssl's certificates verify under the device-certificate rules */
    ck_assert_int_eq(iotsec_x509_verify(ca, d1, now), IOTSEC_OK);
    ck_assert_int_eq(iotsec_x509_verify(ca, d2, now), IOTSEC_OK);
    ck_assert_int_eq(iotsec_x509_verify(ca, d3, now), IOTSEC_E_EXPIRED);
    i1 = fx_identity(d1);
    i2 = fx_identity(d2);
    i3 = fx_identity(d3);
    ck_assert_str_eq(i1.device_id, "ossl-dev-1");

    ck_assert_int_eq(iotsec_revocation_new(&rs, ca, 0), IOTSEC_OK);
    snprintf(path, sizeof path, "%s/stale.pem", dir);
    ck_assert_int_eq(iotsec_revocation_add_crl_file(rs, path, now), IOTSEC_E_EXPIRED);
    ck_assert_int_eq(iotsec_revocation_add_crl_file(rs, path, 1579000000), IOTSEC_OK);
    snprintf(path, sizeof path, "%s/crl.pem", dir);
    ck_assert_int_eq(iotsec_revocation_add_crl_file(rs, path, now), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_seal(rs), IOTSEC_OK);
    ck_assert_uint_eq(iotsec_revocation_serial_count(rs), 1);
    ck_assert_int_eq(iotsec_revocation_check(rs, &i1, 1579000000, &why), IOTSEC_E_REVOKED);
    ck_assert_int_eq(why, IOTSEC_REVOKED_CRL);
    ck_assert_int_eq(iotsec_revocation_check(rs, &i2, 1579000000, &why), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_check(rs, &i3, 1579000000, &why), IOTSEC_OK);
    /* the stale CRL in the set makes every unlisted answer stale now */
    ck_assert_int_eq(iotsec_revocation_check(rs, &i2, now, &why), IOTSEC_E_EXPIRED);
    iotsec_revocation_unref(rs);

    ck_assert_int_eq(iotsec_revocation_new(&rs, ca, 0), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_add_crl_file(rs, path, now), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_seal(rs), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_check(rs, &i1, now, &why), IOTSEC_E_REVOKED);
    ck_assert_int_eq(iotsec_revocation_check(rs, &i2, now, &why), IOTSEC_OK);
    ck_assert_int_le(iotsec_revocation_stale_after(rs), now + 2 * 86400 + 5);
    ck_assert_int_ge(iotsec_revocation_stale_after(rs), now + 2 * 86400 - 60);
    iotsec_revocation_unref(rs);

    /* the library's CRL for openssl's CA is read by `openssl crl` and verified by it */
    {
        EVP_PKEY *cakey = NULL;
        X509_CRL *crl = NULL;
        iotsec_crl_entry e;
        snprintf(path, sizeof path, "%s/ca.key", dir);
        ck_assert_int_eq(iotsec_x509_key_load_file(path, &cakey), IOTSEC_OK);
        ck_assert_int_eq(iotsec_x509_serial(d2, e.serial), IOTSEC_OK);
        e.revoked_at = now;
        ck_assert_int_eq(iotsec_x509_crl_create(ca, cakey, &e, 1, 5, now - 5, now + 600, &crl),
                         IOTSEC_OK);
        snprintf(path, sizeof path, "%s/lib.crl", dir);
        ck_assert_int_eq(iotsec_x509_crl_write_file(crl, path, IOTSEC_X509_PEM), IOTSEC_OK);
        ck_assert_int_eq(tu_sh("cd '%s' && openssl crl -in lib.crl -CAfile ca.pem -noout "
                               "2>/dev/null && openssl verify -CAfile ca.pem -crl_check "
                               "-CRLfile lib.crl ossl-dev-2.pem >/dev/null 2>&1",
                               dir),
                         2); /* openssl verify: revoked */
        ck_assert_int_eq(tu_sh("cd '%s' && openssl verify -CAfile ca.pem -crl_check "
                               "-CRLfile lib.crl ossl-dev-1.pem >/dev/null 2>&1",
                               dir),
                         0);
        X509_CRL_free(crl);
        EVP_PKEY_free(cakey);
    }
    X509_free(ca);
    X509_free(d1);
    X509_free(d2);
    X509_free(d3);
    tu_tmpdir_cleanup(dir);
}
END_TEST

/* ---- denylist inside a set ------------------------------------------------------------ */

START_TEST(test_set_denylist)
{
    fx_ca ca;
    EVP_PKEY *kb = fx_p256(), *kc = fx_p256(), *kd = fx_p256();
    X509 *b, *c, *d;
    iotsec_peer_identity ib, ic, id;
    iotsec_revocation *rs = NULL;
    iotsec_revocation_reason why;
    char text[256], hex[65], dir[256], path[512];
    size_t line = 0;
    int64_t now = fx_now();

    tu_tmpdir(dir, sizeof dir);
    fx_ca_new(&ca, "iotsec test CA");
    b = fx_issue(&ca, kb, "dev-b");
    c = fx_issue(&ca, kc, "dev-c");
    d = fx_issue(&ca, kd, "dev-d");
    ib = fx_identity(b);
    ic = fx_identity(c);
    id = fx_identity(d);
    ck_assert_int_eq(iotsec_hex_encode(ib.fingerprint, 32, hex, sizeof hex), IOTSEC_OK);
    snprintf(text, sizeof text, "# stolen\nsha256:%s\n", hex);

    ck_assert_int_eq(iotsec_revocation_new(&rs, ca.cert, 0), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_add_denylist(rs, (const uint8_t *)text, strlen(text), &line),
                     IOTSEC_OK);
    /* a bad line is refused with its number and adds nothing */
    ck_assert_int_eq(iotsec_revocation_add_denylist(rs, (const uint8_t *)"id:dev-d\nid:dev d\n", 18,
                                                    &line),
                     IOTSEC_E_BAD_ENCODING);
    ck_assert_uint_eq(line, 2);
    tu_write_file(dir, "deny.txt", "id:dev-c", 8, path, sizeof path);
    ck_assert_int_eq(iotsec_revocation_add_denylist_file(rs, path, &line), IOTSEC_OK);
    tu_write_file(dir, "bad.txt", "\n\n# x\nsha256:00\n", 16, path, sizeof path);
    ck_assert_int_eq(iotsec_revocation_add_denylist_file(rs, path, &line), IOTSEC_E_BAD_ENCODING);
    ck_assert_uint_eq(line, 4);
    ck_assert_int_eq(iotsec_revocation_add_denylist_file(rs, "/nonexistent/deny", &line),
                     IOTSEC_E_IO);
    ck_assert_int_eq(iotsec_revocation_add_denylist(rs, NULL, 0, &line), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_seal(rs), IOTSEC_OK);
    ck_assert_uint_eq(iotsec_revocation_denylist_count(rs), 2);
    ck_assert_int_eq(iotsec_revocation_check(rs, &ib, now, &why), IOTSEC_E_REVOKED);
    ck_assert_int_eq(why, IOTSEC_REVOKED_FINGERPRINT);
    ck_assert_int_eq(iotsec_revocation_check(rs, &ic, now, &why), IOTSEC_E_REVOKED);
    ck_assert_int_eq(why, IOTSEC_REVOKED_DEVICE_ID);
    ck_assert_str_eq(iotsec_revocation_reason_name((int)why), "denylist-id");
    ck_assert_int_eq(iotsec_revocation_check(rs, &id, now, &why), IOTSEC_OK);
    /* a set without CRLs never goes stale */
    ck_assert_int_eq(iotsec_revocation_check(rs, &id, INT64_MAX, &why), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_add_denylist_file(rs, path, &line), IOTSEC_E_STATE);
    iotsec_revocation_unref(rs);
    ck_assert_str_eq(iotsec_revocation_reason_name(IOTSEC_REVOKED_FINGERPRINT),
                     "denylist-fingerprint");
    ck_assert_str_eq(iotsec_revocation_reason_name(IOTSEC_REVOKED_NONE), "none");
    ck_assert_str_eq(iotsec_revocation_reason_name(99), "?");
    X509_free(b);
    X509_free(c);
    X509_free(d);
    EVP_PKEY_free(kb);
    EVP_PKEY_free(kc);
    EVP_PKEY_free(kd);
    fx_ca_free(&ca);
    tu_tmpdir_cleanup(dir);
}
END_TEST

/* ---- load, holder, reload -------------------------------------------------------------- */

START_TEST(test_load_and_reload)
{
    fx_ca ca;
    EVP_PKEY *ka = fx_p256(), *kb = fx_p256(), *kc = fx_p256();
    X509 *a, *b, *c, *ab[2];
    iotsec_peer_identity open[3];
    iotsec_revocation *rs = NULL, *cur, *old;
    iotsec_revocation_holder *h = NULL;
    iotsec_revocation_config cfg;
    iotsec_revocation_error err;
    const char *crls[1];
    char dir[256], crl_path[512], deny_path[512], path[512];
    uint8_t *pem, mask[3];
    size_t len, n_rev = 99;
    int64_t now = fx_now();

    tu_tmpdir(dir, sizeof dir);
    fx_ca_new(&ca, "iotsec test CA");
    a = fx_issue(&ca, ka, "dev-a");
    b = fx_issue(&ca, kb, "dev-b");
    c = fx_issue(&ca, kc, "dev-c");
    open[0] = fx_identity(a);
    open[1] = fx_identity(b);
    open[2] = fx_identity(c);

    pem = fx_crl(&ca, &a, 1, now - 60, now + 86400, 1, &len);
    tu_write_file(dir, "ca.crl", pem, len, crl_path, sizeof crl_path);
    free(pem);
    tu_write_file(dir, "deny.txt", "# none yet\n", 11, deny_path, sizeof deny_path);
    crls[0] = crl_path;
    memset(&cfg, 0, sizeof cfg);
    cfg.ca = ca.cert;
    cfg.crl_paths = crls;
    cfg.crl_count = 1;
    cfg.denylist_path = deny_path;
    ck_assert_int_eq(iotsec_revocation_load(&rs, &cfg, now, &err), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_holder_new(&h, rs), IOTSEC_OK);
    iotsec_revocation_unref(rs); /* the holder keeps its own */

    cur = iotsec_revocation_holder_get(h);
    ck_assert_int_eq(iotsec_revocation_check(cur, &open[0], now, NULL), IOTSEC_E_REVOKED);
    ck_assert_int_eq(iotsec_revocation_check(cur, &open[1], now, NULL), IOTSEC_OK);
    old = cur;

    /* reload: a new CRL revoking a and b, and the denylist naming c */
    ab[0] = a;
    ab[1] = b;
    pem = fx_crl(&ca, ab, 2, now - 30, now + 86400, 1, &len);
    tu_write_file(dir, "ca.crl", pem, len, crl_path, sizeof crl_path);
    free(pem);
    tu_write_file(dir, "deny.txt", "id:dev-c\n", 9, deny_path, sizeof deny_path);
    memset(mask, 0xee, sizeof mask);
    ck_assert_int_eq(iotsec_revocation_reload(h, &cfg, now, open + 1, 2, mask, &n_rev, &err),
                     IOTSEC_OK);
    ck_assert_uint_eq(n_rev, 2);
    ck_assert_uint_eq(mask[0], IOTSEC_REVOKED_CRL);
    ck_assert_uint_eq(mask[1], IOTSEC_REVOKED_DEVICE_ID);
    ck_assert_uint_eq(mask[2], 0xee);
    cur = iotsec_revocation_holder_get(h);
    ck_assert_ptr_ne(cur, old);
    ck_assert_int_eq(iotsec_revocation_check(cur, &open[1], now, NULL), IOTSEC_E_REVOKED);
    /* the old snapshot is unchanged and still usable by whoever holds it */
    ck_assert_int_eq(iotsec_revocation_check(old, &open[1], now, NULL), IOTSEC_OK);
    iotsec_revocation_unref(old);

    /* a failed reload keeps the current set and names the failing file and line */
    tu_write_file(dir, "deny.txt", "id:ok\nid:not ok\n", 16, deny_path, sizeof deny_path);
    memset(mask, 0xee, sizeof mask);
    ck_assert_int_eq(iotsec_revocation_reload(h, &cfg, now, open, 3, mask, &n_rev, &err),
                     IOTSEC_E_BAD_ENCODING);
    ck_assert_str_eq(err.path, deny_path);
    ck_assert_uint_eq(err.line, 2);
    ck_assert_uint_eq(mask[0], 0xee);
    old = iotsec_revocation_holder_get(h);
    ck_assert_ptr_eq(old, cur);
    iotsec_revocation_unref(old);
    tu_write_file(dir, "deny.txt", "", 0, deny_path, sizeof deny_path);
    snprintf(path, sizeof path, "%s/missing.crl", dir);
    crls[0] = path;
    ck_assert_int_eq(iotsec_revocation_reload(h, &cfg, now, open, 3, mask, &n_rev, &err),
                     IOTSEC_E_IO);
    ck_assert_str_eq(err.path, path);
    ck_assert_uint_eq(err.line, 0);
    /* a set that is stale at swap time is refused */
    crls[0] = crl_path;
    ck_assert_int_eq(iotsec_revocation_load(&rs, &cfg, now, &err), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_holder_swap(h, rs, now + 2 * 86400, NULL, 0, NULL, NULL),
                     IOTSEC_E_EXPIRED);
    ck_assert_int_eq(iotsec_revocation_holder_swap(h, rs, now, NULL, 0, NULL, NULL), IOTSEC_OK);
    iotsec_revocation_unref(rs);
    old = iotsec_revocation_holder_get(h);
    ck_assert_ptr_eq(old, rs);
    iotsec_revocation_unref(old);
    iotsec_revocation_unref(cur);

    /* misuse */
    ck_assert_int_eq(iotsec_revocation_new(&rs, ca.cert, 0), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_holder_swap(h, rs, now, NULL, 0, NULL, NULL), IOTSEC_E_STATE);
    {
        iotsec_revocation_holder *h2 = NULL;
        ck_assert_int_eq(iotsec_revocation_holder_new(&h2, rs), IOTSEC_E_STATE);
        ck_assert_int_eq(iotsec_revocation_holder_new(&h2, NULL), IOTSEC_E_INVALID_ARG);
    }
    ck_assert_int_eq(iotsec_revocation_holder_swap(h, NULL, now, NULL, 0, NULL, NULL),
                     IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_revocation_holder_swap(h, rs, now, open, 1, NULL, NULL),
                     IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_revocation_reload(NULL, &cfg, now, NULL, 0, NULL, NULL, NULL),
                     IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_revocation_load(&cur, NULL, now, NULL), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_revocation_new(&cur, NULL, 0), IOTSEC_E_INVALID_ARG);
    ck_assert_ptr_null(iotsec_revocation_holder_get(NULL));
    ck_assert_ptr_null(iotsec_revocation_ref(NULL));
    ck_assert_uint_eq(iotsec_revocation_serial_count(NULL), 0);
    ck_assert_int_eq(iotsec_revocation_check(NULL, &open[0], now, NULL), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_revocation_check_serial(NULL, open[0].serial), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_revocation_seal(NULL), IOTSEC_E_INVALID_ARG);
    iotsec_revocation_unref(rs);
    iotsec_revocation_unref(NULL);
    iotsec_revocation_holder_free(h);
    iotsec_revocation_holder_free(NULL);
    X509_free(a);
    X509_free(b);
    X509_free(c);
    EVP_PKEY_free(ka);
    EVP_PKEY_free(kb);
    EVP_PKEY_free(kc);
    fx_ca_free(&ca);
    tu_tmpdir_cleanup(dir);
}
END_TEST

/* Readers keep checking while another thread swaps sets: each reader sees whole snapshots
 * (a set revoking dev-a has one serial; the other has none), never a mix or a freed set. */
struct reader_arg {
    iotsec_revocation_holder *h;
    iotsec_peer_identity id;
    int64_t now;
    int failures;
};

static void *reader(void *p)
{
    struct reader_arg *ra = p;
    int i;

    for (i = 0; i < 20000; i++) {
        iotsec_revocation *rs = iotsec_revocation_holder_get(ra->h);
        int rc = iotsec_revocation_check(rs, &ra->id, ra->now, NULL);
        size_t n = iotsec_revocation_serial_count(rs);
        if (!((n == 1 && rc == IOTSEC_E_REVOKED) || (n == 0 && rc == IOTSEC_OK)))
            ra->failures++;
        iotsec_revocation_unref(rs);
    }
    return NULL;
}

START_TEST(test_concurrent_swap)
{
    fx_ca ca;
    EVP_PKEY *k = fx_p256();
    X509 *a;
    iotsec_revocation *with, *without = NULL;
    iotsec_revocation_holder *h = NULL;
    struct reader_arg ra;
    pthread_t t[2];
    int64_t now = fx_now();
    int i;

    fx_ca_new(&ca, "iotsec test CA");
    a = fx_issue(&ca, k, "dev-a");
    with = set_with(&ca, &a, 1, now);
    ck_assert_int_eq(iotsec_revocation_new(&without, ca.cert, 0), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_seal(without), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_holder_new(&h, without), IOTSEC_OK);
    ra.h = h;
    ra.id = fx_identity(a);
    ra.now = now;
    ra.failures = 0;
    for (i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, reader, &ra), 0);
    for (i = 0; i < 2000; i++) {
        iotsec_revocation *next = NULL;
        if (i % 2 == 0) {
            next = set_with(&ca, &a, 1, now);
        } else {
            ck_assert_int_eq(iotsec_revocation_new(&next, ca.cert, 0), IOTSEC_OK);
            ck_assert_int_eq(iotsec_revocation_seal(next), IOTSEC_OK);
        }
        ck_assert_int_eq(iotsec_revocation_holder_swap(h, next, now, NULL, 0, NULL, NULL),
                         IOTSEC_OK);
        iotsec_revocation_unref(next);
    }
    for (i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_join(t[i], NULL), 0);
    ck_assert_int_eq(ra.failures, 0);
    iotsec_revocation_holder_free(h);
    iotsec_revocation_unref(with);
    iotsec_revocation_unref(without);
    X509_free(a);
    EVP_PKEY_free(k);
    fx_ca_free(&ca);
}
END_TEST

/* ---- CRL monotonicity (RFC 5280 §5.2.3) ------------------------------------------------- */

/* A CRL of ca (DER) with the given cRLNumber (0 = none: the extension is removed and the
 * CRL signed again), thisUpdate tu, nextUpdate tu + 1 day, revoking the certificates given. */
static uint8_t *crl_at(const fx_ca *ca, X509 *const *revoked, size_t n, uint64_t number,
                       int64_t tu, size_t *len)
{
    uint8_t *der, *out;
    const unsigned char *p;
    X509_CRL *crl;
    int i;

    if (number != 0)
        return fx_crl_numbered(ca, revoked, n, number, tu, tu + 86400, 0, len);
    der = fx_crl_numbered(ca, revoked, n, 1, tu, tu + 86400, 0, len);
    p = der;
    crl = d2i_X509_CRL(NULL, &p, (long)*len);
    ck_assert_ptr_nonnull(crl);
    i = X509_CRL_get_ext_by_NID(crl, NID_crl_number, -1);
    ck_assert_int_ge(i, 0);
    X509_EXTENSION_free(X509_CRL_delete_ext(crl, i));
    free(der);
    der = resign_der(crl, ca->key, len);
    X509_CRL_free(crl);
    out = malloc(*len);
    ck_assert_ptr_nonnull(out);
    memcpy(out, der, *len);
    OPENSSL_free(der);
    return out;
}

static void write_crl(const char *dir, const uint8_t *der, size_t len, char *path, size_t cap)
{
    tu_write_file(dir, "ca.crl", der, len, path, cap);
}

static void holder_refusal(iotsec_revocation_holder *h, char *text, size_t cap)
{
    size_t len = 99;

    ck_assert_int_eq(iotsec_revocation_holder_last_refusal(h, text, cap, &len), IOTSEC_OK);
    ck_assert_uint_eq(len, strlen(text));
}

START_TEST(test_crl_monotonic_reload)
{
    fx_ca ca;
    EVP_PKEY *ka = fx_p256(), *kb = fx_p256();
    X509 *a, *b, *ab[2];
    iotsec_peer_identity open[2];
    iotsec_revocation *rs = NULL, *cur, *now_in;
    iotsec_revocation_holder *h = NULL;
    iotsec_revocation_config cfg;
    iotsec_revocation_error err;
    iotsec_crl_floor fl[IOTSEC_CRL_FLOORS_MAX];
    const char *crls[2];
    char dir[256], crl_path[512], old_path[512], text[IOTSEC_REVOCATION_DETAIL_MAX];
    uint8_t *der, mask[2];
    size_t len, n_rev = 77, n = 0;
    int64_t now = fx_now();
    BIO *bio;
    X509_CRL *crl;
    char *pem;
    long pem_len;

    tu_tmpdir(dir, sizeof dir);
    fx_ca_new(&ca, "iotsec monotonic CA");
    a = fx_issue(&ca, ka, "dev-a");
    b = fx_issue(&ca, kb, "dev-b");
    open[0] = fx_identity(a);
    open[1] = fx_identity(b);
    ab[0] = a;
    ab[1] = b;

    /* CRL number 10 revokes a and b: in force */
    der = crl_at(&ca, ab, 2, 10, now - 600, &len);
    write_crl(dir, der, len, crl_path, sizeof crl_path);
    free(der);
    crls[0] = crl_path;
    memset(&cfg, 0, sizeof cfg);
    cfg.ca = ca.cert;
    cfg.crl_paths = crls;
    cfg.crl_count = 1;
    ck_assert_int_eq(iotsec_revocation_load(&rs, &cfg, now, &err), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_holder_new(&h, rs), IOTSEC_OK);
    iotsec_revocation_unref(rs);
    holder_refusal(h, text, sizeof text);
    ck_assert_str_eq(text, "");
    ck_assert_int_eq(iotsec_revocation_holder_crl_floors(h, fl, IOTSEC_CRL_FLOORS_MAX, &n),
                     IOTSEC_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(fl[0].has_number, 1);
    ck_assert_uint_eq(fl[0].number[IOTSEC_CRL_NUMBER_LEN - 1], 10);
    ck_assert_int_eq(fl[0].this_update, now - 600);
    cur = iotsec_revocation_holder_get(h);

    /* an older CRL (number 9, revoking only a, with a later thisUpdate even) is refused:
     * the set in force stays, revoked is not written, the file and both numbers named */
    der = crl_at(&ca, &a, 1, 9, now - 60, &len);
    write_crl(dir, der, len, crl_path, sizeof crl_path);
    free(der);
    memset(mask, 0xee, sizeof mask);
    ck_assert_int_eq(iotsec_revocation_reload(h, &cfg, now, open, 2, mask, &n_rev, &err),
                     IOTSEC_E_ROLLBACK);
    ck_assert_uint_eq(mask[0], 0xee);
    ck_assert_uint_eq(n_rev, 77);
    ck_assert_str_eq(err.path, crl_path);
    now_in = iotsec_revocation_holder_get(h);
    ck_assert_ptr_eq(now_in, cur);
    ck_assert_int_eq(iotsec_revocation_check(now_in, &open[1], now, NULL), IOTSEC_E_REVOKED);
    iotsec_revocation_unref(now_in);
    holder_refusal(h, text, sizeof text);
    ck_assert_msg(strstr(text, "CN=iotsec monotonic CA") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "CRL number 9 is older") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "CRL number 10") != NULL, "%s", text);
    ck_assert_int_eq(iotsec_revocation_holder_crl_floors(h, fl, IOTSEC_CRL_FLOORS_MAX, &n),
                     IOTSEC_OK);
    ck_assert_uint_eq(fl[0].number[IOTSEC_CRL_NUMBER_LEN - 1], 10);

    /* the same number with other content (here: other serials) is refused as well */
    der = crl_at(&ca, &a, 1, 10, now - 600, &len);
    write_crl(dir, der, len, crl_path, sizeof crl_path);
    free(der);
    ck_assert_int_eq(iotsec_revocation_reload(h, &cfg, now, NULL, 0, NULL, NULL, &err),
                     IOTSEC_E_ROLLBACK);
    holder_refusal(h, text, sizeof text);
    ck_assert_msg(strstr(text, "CRL number 10 is the same as the one in force but the CRL "
                               "differs") != NULL,
                  "%s", text);
    now_in = iotsec_revocation_holder_get(h);
    ck_assert_ptr_eq(now_in, cur);
    iotsec_revocation_unref(now_in);

    /* a newer one (11, revoking a only: b is un-revoked) is accepted */
    der = crl_at(&ca, &a, 1, 11, now - 30, &len);
    write_crl(dir, der, len, crl_path, sizeof crl_path);
    ck_assert_int_eq(iotsec_revocation_reload(h, &cfg, now, open, 2, mask, &n_rev, &err),
                     IOTSEC_OK);
    ck_assert_uint_eq(n_rev, 1);
    ck_assert_uint_eq(mask[0], IOTSEC_REVOKED_CRL);
    ck_assert_uint_eq(mask[1], IOTSEC_REVOKED_NONE);
    /* the very same CRL again (a denylist-only change, SIGHUP) is accepted, in PEM too */
    ck_assert_int_eq(iotsec_revocation_reload(h, &cfg, now, NULL, 0, NULL, NULL, &err),
                     IOTSEC_OK);
    {
        const unsigned char *p = der;
        crl = d2i_X509_CRL(NULL, &p, (long)len);
        ck_assert_ptr_nonnull(crl);
        bio = BIO_new(BIO_s_mem());
        ck_assert_int_eq(PEM_write_bio_X509_CRL(bio, crl), 1);
        pem_len = BIO_get_mem_data(bio, &pem);
        ck_assert_int_gt(pem_len, 0);
        write_crl(dir, (const uint8_t *)pem, (size_t)pem_len, crl_path, sizeof crl_path);
        BIO_free(bio);
        X509_CRL_free(crl);
    }
    ck_assert_int_eq(iotsec_revocation_reload(h, &cfg, now, NULL, 0, NULL, NULL, &err),
                     IOTSEC_OK);
    free(der);
    /* an old CRL beside the newest one is fine: the newest decides, the old one only adds
     * serials (number 5 revokes b again) */
    der = crl_at(&ca, &b, 1, 5, now - 3000, &len);
    tu_write_file(dir, "old.crl", der, len, old_path, sizeof old_path);
    free(der);
    crls[1] = old_path;
    cfg.crl_count = 2;
    ck_assert_int_eq(iotsec_revocation_reload(h, &cfg, now, open, 2, mask, &n_rev, &err),
                     IOTSEC_OK);
    ck_assert_uint_eq(n_rev, 2);
    /* but the old one alone is refused, naming its file */
    crls[0] = old_path;
    cfg.crl_count = 1;
    ck_assert_int_eq(iotsec_revocation_reload(h, &cfg, now, NULL, 0, NULL, NULL, &err),
                     IOTSEC_E_ROLLBACK);
    ck_assert_str_eq(err.path, old_path);
    holder_refusal(h, text, sizeof text);
    ck_assert_msg(strstr(text, "CRL number 5 is older than the one in force, CRL number 11") !=
                      NULL,
                  "%s", text);
    /* no CRL at all (a denylist-only configuration) keeps the floor for the next reload */
    cfg.crl_count = 0;
    ck_assert_int_eq(iotsec_revocation_reload(h, &cfg, now, NULL, 0, NULL, NULL, &err),
                     IOTSEC_OK);
    cfg.crl_count = 1;
    ck_assert_int_eq(iotsec_revocation_reload(h, &cfg, now, NULL, 0, NULL, NULL, &err),
                     IOTSEC_E_ROLLBACK);

    /* a set built by hand and swapped in directly is checked too: 12 goes in, then 11 is
     * refused */
    der = crl_at(&ca, &a, 1, 12, now - 10, &len);
    ck_assert_int_eq(iotsec_revocation_new(&rs, ca.cert, 0), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_add_crl(rs, der, len, now), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_seal(rs), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_holder_swap(h, rs, now, NULL, 0, NULL, NULL), IOTSEC_OK);
    iotsec_revocation_unref(rs);
    free(der);
    der = crl_at(&ca, &a, 1, 11, now - 10, &len);
    ck_assert_int_eq(iotsec_revocation_new(&rs, ca.cert, 0), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_add_crl(rs, der, len, now), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_seal(rs), IOTSEC_OK);
    free(der);
    memset(mask, 0xee, sizeof mask);
    n_rev = 77;
    ck_assert_int_eq(iotsec_revocation_holder_swap(h, rs, now, open, 2, mask, &n_rev),
                     IOTSEC_E_ROLLBACK);
    ck_assert_uint_eq(mask[1], 0xee);
    ck_assert_uint_eq(n_rev, 77);
    iotsec_revocation_unref(rs);

    iotsec_revocation_unref(cur);
    iotsec_revocation_holder_free(h);
    X509_free(a);
    X509_free(b);
    EVP_PKEY_free(ka);
    EVP_PKEY_free(kb);
    fx_ca_free(&ca);
    tu_tmpdir_cleanup(dir);
}
END_TEST

/* The floor survives a restart: saved as text, given back to a new holder (or to a set
 * built by hand) it refuses the older CRL that the files on disk went back to. */
START_TEST(test_crl_floor_restart)
{
    fx_ca ca;
    EVP_PKEY *ka = fx_p256();
    X509 *a;
    iotsec_revocation *rs = NULL;
    iotsec_revocation_holder *h = NULL;
    iotsec_revocation_config cfg;
    iotsec_revocation_error err;
    iotsec_crl_floor fl[IOTSEC_CRL_FLOORS_MAX], back, other;
    const char *crls[1];
    char dir[256], crl_path[512], text[IOTSEC_REVOCATION_DETAIL_MAX];
    char saved[IOTSEC_CRL_FLOOR_TEXT_MAX];
    uint8_t *der20, *der21, *der22;
    size_t len20, len21, len22, n = 0, tlen = 0, i;
    int64_t now = fx_now();

    tu_tmpdir(dir, sizeof dir);
    fx_ca_new(&ca, "iotsec restart CA");
    a = fx_issue(&ca, ka, "dev-a");
    der20 = crl_at(&ca, &a, 1, 20, now - 900, &len20);
    der21 = crl_at(&ca, &a, 1, 21, now - 600, &len21);
    der22 = crl_at(&ca, &a, 1, 22, now - 300, &len22);
    crls[0] = crl_path;
    memset(&cfg, 0, sizeof cfg);
    cfg.ca = ca.cert;
    cfg.crl_paths = crls;
    cfg.crl_count = 1;

    /* first life: CRL 21 in force; the server saves its floor */
    write_crl(dir, der21, len21, crl_path, sizeof crl_path);
    ck_assert_int_eq(iotsec_revocation_load(&rs, &cfg, now, &err), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_holder_new(&h, rs), IOTSEC_OK);
    iotsec_revocation_unref(rs);
    ck_assert_int_eq(iotsec_revocation_holder_crl_floors(h, fl, 1, &n), IOTSEC_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(iotsec_crl_floor_format(&fl[0], saved, sizeof saved, &tlen), IOTSEC_OK);
    ck_assert_uint_eq(tlen, strlen(saved));
    ck_assert_msg(strncmp(saved, "crl-floor v1 issuer=", 20) == 0, "%s", saved);
    ck_assert_msg(strstr(saved, " number=0000000000000000000000000000000000000015 ") != NULL,
                  "%s", saved);
    iotsec_revocation_holder_free(h);
    h = NULL;

    /* restart: the file went back to CRL 20 meanwhile. Loading it alone knows nothing… */
    write_crl(dir, der20, len20, crl_path, sizeof crl_path);
    ck_assert_int_eq(iotsec_crl_floor_parse(saved, tlen, &back), IOTSEC_OK);
    ck_assert_mem_eq(&back, &fl[0], sizeof back);
    ck_assert_int_eq(iotsec_revocation_load(&rs, &cfg, now, &err), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_holder_new(&h, rs), IOTSEC_OK);
    iotsec_revocation_unref(rs);
    /* …the saved floor refuses it before the server serves */
    ck_assert_int_eq(iotsec_revocation_holder_set_crl_floor(h, &back), IOTSEC_E_ROLLBACK);
    holder_refusal(h, text, sizeof text);
    ck_assert_msg(strstr(text, "CN=iotsec restart CA") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "CRL number 20 is older than the floor, CRL number 21") != NULL,
                  "%s", text);
    ck_assert_int_eq(iotsec_revocation_holder_crl_floors(h, fl, IOTSEC_CRL_FLOORS_MAX, &n),
                     IOTSEC_OK);
    ck_assert_uint_eq(fl[0].number[IOTSEC_CRL_NUMBER_LEN - 1], 20); /* unchanged */
    iotsec_revocation_holder_free(h);
    h = NULL;

    /* with CRL 21 back on disk the floor is accepted and then holds for reloads */
    write_crl(dir, der21, len21, crl_path, sizeof crl_path);
    ck_assert_int_eq(iotsec_revocation_load(&rs, &cfg, now, &err), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_holder_new(&h, rs), IOTSEC_OK);
    iotsec_revocation_unref(rs);
    ck_assert_int_eq(iotsec_revocation_holder_set_crl_floor(h, &back), IOTSEC_OK);
    write_crl(dir, der20, len20, crl_path, sizeof crl_path);
    ck_assert_int_eq(iotsec_revocation_reload(h, &cfg, now, NULL, 0, NULL, NULL, &err),
                     IOTSEC_E_ROLLBACK);
    /* a floor above the CRL in force (saved after CRL 22, the disk has 21) blocks the
     * start too; a lower floor is ignored */
    iotsec_revocation_holder_free(h);
    h = NULL;
    write_crl(dir, der21, len21, crl_path, sizeof crl_path);
    ck_assert_int_eq(iotsec_revocation_load(&rs, &cfg, now, &err), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_holder_new(&h, rs), IOTSEC_OK);
    iotsec_revocation_unref(rs);
    other = back;
    other.number[IOTSEC_CRL_NUMBER_LEN - 1] = 0x10;
    memset(other.digest, 0x5a, sizeof other.digest);
    ck_assert_int_eq(iotsec_revocation_holder_set_crl_floor(h, &other), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_holder_crl_floors(h, fl, IOTSEC_CRL_FLOORS_MAX, &n),
                     IOTSEC_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(fl[0].number[IOTSEC_CRL_NUMBER_LEN - 1], 21);
    /* a floor of the same number without a digest (a number noted by hand) is fine */
    other = back;
    memset(other.digest, 0, sizeof other.digest);
    ck_assert_int_eq(iotsec_revocation_holder_set_crl_floor(h, &other), IOTSEC_OK);
    other.number[IOTSEC_CRL_NUMBER_LEN - 1] = 22;
    ck_assert_int_eq(iotsec_revocation_holder_set_crl_floor(h, &other), IOTSEC_E_ROLLBACK);
    iotsec_revocation_holder_free(h);

    /* building a set by hand: the floor is set first and checked by seal */
    ck_assert_int_eq(iotsec_revocation_new(&rs, ca.cert, 0), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_set_crl_floor(rs, &back), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_add_crl(rs, der20, len20, now), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_seal(rs), IOTSEC_E_ROLLBACK);
    ck_assert_int_eq(iotsec_revocation_last_refusal(rs, text, sizeof text, &tlen), IOTSEC_OK);
    ck_assert_msg(strstr(text, "CRL number 20 is older than the floor, CRL number 21") != NULL,
                  "%s", text);
    ck_assert_int_eq(iotsec_revocation_last_refusal(rs, text, tlen, &tlen),
                     IOTSEC_E_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(tlen, 0);
    /* still unsealed and unchanged: a newer CRL added makes it acceptable */
    ck_assert_int_eq(iotsec_revocation_check_serial(rs, fl[0].number), IOTSEC_E_STATE);
    ck_assert_int_eq(iotsec_revocation_add_crl(rs, der22, len22, now), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_seal(rs), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_crl_floors(rs, fl, IOTSEC_CRL_FLOORS_MAX, &n), IOTSEC_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(fl[0].number[IOTSEC_CRL_NUMBER_LEN - 1], 22);
    ck_assert_int_eq(iotsec_revocation_set_crl_floor(rs, &back), IOTSEC_E_STATE);
    iotsec_revocation_unref(rs);

    /* floors of other issuers are carried; room for IOTSEC_CRL_FLOORS_MAX issuers in all,
     * the set's own CA included */
    ck_assert_int_eq(iotsec_revocation_new(&rs, ca.cert, 0), IOTSEC_OK);
    other = back;
    for (i = 0; i + 1u < IOTSEC_CRL_FLOORS_MAX; i++) {
        other.issuer[0] = (uint8_t)(0xa0u + i);
        ck_assert_int_eq(iotsec_revocation_set_crl_floor(rs, &other), IOTSEC_OK);
    }
    other.issuer[0] = 0xff;
    ck_assert_int_eq(iotsec_revocation_set_crl_floor(rs, &other), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_revocation_add_crl(rs, der22, len22, now), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_seal(rs), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_crl_floors(rs, fl, IOTSEC_CRL_FLOORS_MAX - 1u, &n),
                     IOTSEC_E_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(iotsec_revocation_crl_floors(rs, fl, IOTSEC_CRL_FLOORS_MAX, &n), IOTSEC_OK);
    ck_assert_uint_eq(n, IOTSEC_CRL_FLOORS_MAX);
    ck_assert_int_eq(iotsec_revocation_holder_new(&h, rs), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_holder_crl_floors(h, fl, IOTSEC_CRL_FLOORS_MAX, &n),
                     IOTSEC_OK);
    ck_assert_uint_eq(n, IOTSEC_CRL_FLOORS_MAX);
    ck_assert_int_eq(iotsec_revocation_holder_set_crl_floor(h, &other), IOTSEC_E_INVALID_ARG);
    iotsec_revocation_holder_free(h);
    iotsec_revocation_unref(rs);

    /* misuse */
    other = back;
    other.has_number = 2;
    ck_assert_int_eq(iotsec_revocation_new(&rs, ca.cert, 0), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_set_crl_floor(rs, &other), IOTSEC_E_INVALID_ARG);
    other.has_number = 0; /* with a number left in */
    ck_assert_int_eq(iotsec_revocation_set_crl_floor(rs, &other), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_revocation_set_crl_floor(rs, NULL), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_revocation_set_crl_floor(NULL, &back), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_revocation_crl_floors(rs, NULL, 1, &n), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_revocation_crl_floors(rs, NULL, 0, &n), IOTSEC_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(iotsec_revocation_last_refusal(rs, text, sizeof text, &tlen), IOTSEC_OK);
    ck_assert_str_eq(text, "");
    ck_assert_int_eq(iotsec_revocation_last_refusal(NULL, text, sizeof text, &tlen),
                     IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_revocation_holder_crl_floors(NULL, fl, 1, &n), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_revocation_holder_set_crl_floor(NULL, &back), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_revocation_holder_last_refusal(NULL, text, 1, &tlen),
                     IOTSEC_E_INVALID_ARG);
    iotsec_revocation_unref(rs);

    free(der20);
    free(der21);
    free(der22);
    X509_free(a);
    EVP_PKEY_free(ka);
    fx_ca_free(&ca);
    tu_tmpdir_cleanup(dir);
}
END_TEST

/* CRLs without a cRLNumber are ordered by thisUpdate. */
START_TEST(test_crl_monotonic_this_update)
{
    fx_ca ca;
    EVP_PKEY *ka = fx_p256();
    X509 *a;
    iotsec_revocation *rs = NULL;
    iotsec_revocation_holder *h = NULL;
    iotsec_crl_floor fl[IOTSEC_CRL_FLOORS_MAX];
    char text[IOTSEC_REVOCATION_DETAIL_MAX], when[64];
    uint8_t *d100, *d200, *d200b, *d50, *dnum;
    size_t l100, l200, l200b, l50, lnum, n = 0;
    int64_t now = fx_now();
    time_t t;
    struct tm tm;

    fx_ca_new(&ca, "iotsec numberless CA");
    a = fx_issue(&ca, ka, "dev-a");
    d100 = crl_at(&ca, &a, 1, 0, now - 100, &l100);
    d200 = crl_at(&ca, &a, 1, 0, now - 200, &l200);
    d200b = crl_at(&ca, NULL, 0, 0, now - 200, &l200b);
    d50 = crl_at(&ca, NULL, 0, 0, now - 50, &l50);
    dnum = crl_at(&ca, NULL, 0, 3, now - 150, &lnum);

    ck_assert_int_eq(iotsec_revocation_new(&rs, ca.cert, 0), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_add_crl(rs, d100, l100, now), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_seal(rs), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_crl_floors(rs, fl, IOTSEC_CRL_FLOORS_MAX, &n), IOTSEC_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(fl[0].has_number, 0);
    ck_assert_int_eq(fl[0].this_update, now - 100);
    ck_assert_int_eq(iotsec_revocation_holder_new(&h, rs), IOTSEC_OK);
    iotsec_revocation_unref(rs);

    /* an earlier thisUpdate is refused; the text gives both times */
    ck_assert_int_eq(iotsec_revocation_new(&rs, ca.cert, 0), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_add_crl(rs, d200, l200, now), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_seal(rs), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_holder_swap(h, rs, now, NULL, 0, NULL, NULL),
                     IOTSEC_E_ROLLBACK);
    iotsec_revocation_unref(rs);
    holder_refusal(h, text, sizeof text);
    t = (time_t)(now - 200);
    ck_assert_ptr_nonnull(gmtime_r(&t, &tm));
    ck_assert_uint_gt(strftime(when, sizeof when, "thisUpdate %Y-%m-%dT%H:%M:%SZ is older", &tm),
                      0);
    ck_assert_msg(strstr(text, when) != NULL, "%s / %s", text, when);
    ck_assert_msg(strstr(text, "CN=iotsec numberless CA") != NULL, "%s", text);
    /* a CRL with a number against a floor without one: thisUpdate decides (now - 150 is
     * older than now - 100) */
    ck_assert_int_eq(iotsec_revocation_new(&rs, ca.cert, 0), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_add_crl(rs, dnum, lnum, now), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_seal(rs), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_holder_swap(h, rs, now, NULL, 0, NULL, NULL),
                     IOTSEC_E_ROLLBACK);
    iotsec_revocation_unref(rs);
    /* the same thisUpdate with other content: refused; a later thisUpdate: accepted */
    ck_assert_int_eq(iotsec_revocation_new(&rs, ca.cert, 0), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_add_crl(rs, d200b, l200b, now), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_seal(rs), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_holder_swap(h, rs, now, NULL, 0, NULL, NULL),
                     IOTSEC_E_ROLLBACK); /* older still */
    iotsec_revocation_unref(rs);
    ck_assert_int_eq(iotsec_revocation_new(&rs, ca.cert, 0), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_add_crl(rs, d50, l50, now), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_seal(rs), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_holder_swap(h, rs, now, NULL, 0, NULL, NULL), IOTSEC_OK);
    iotsec_revocation_unref(rs);
    ck_assert_int_eq(iotsec_revocation_new(&rs, ca.cert, 0), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_set_crl_floor(rs, &fl[0]), IOTSEC_OK); /* now - 100 */
    ck_assert_int_eq(iotsec_revocation_add_crl(rs, d200b, l200b, now), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_seal(rs), IOTSEC_E_ROLLBACK);
    iotsec_revocation_unref(rs);
    {
        /* same thisUpdate as the floor, other bytes */
        iotsec_crl_floor f = fl[0];
        f.this_update = now - 200;
        memset(f.digest, 0x11, sizeof f.digest);
        ck_assert_int_eq(iotsec_revocation_new(&rs, ca.cert, 0), IOTSEC_OK);
        ck_assert_int_eq(iotsec_revocation_set_crl_floor(rs, &f), IOTSEC_OK);
        ck_assert_int_eq(iotsec_revocation_add_crl(rs, d200b, l200b, now), IOTSEC_OK);
        ck_assert_int_eq(iotsec_revocation_seal(rs), IOTSEC_E_ROLLBACK);
        ck_assert_int_eq(iotsec_revocation_last_refusal(rs, text, sizeof text, &n), IOTSEC_OK);
        ck_assert_msg(strstr(text, "is the same as the floor but the CRL differs") != NULL, "%s",
                      text);
        iotsec_revocation_unref(rs);
    }
    iotsec_revocation_holder_free(h);
    free(d100);
    free(d200);
    free(d200b);
    free(d50);
    free(dnum);
    X509_free(a);
    EVP_PKEY_free(ka);
    fx_ca_free(&ca);
}
END_TEST

/* cRLNumber values the library refuses, and the text form of floors. */
START_TEST(test_crl_number_and_floor_text)
{
    fx_ca ca;
    iotsec_revocation *rs = NULL;
    X509_CRL *crl = NULL;
    ASN1_INTEGER *num;
    BIGNUM *bn;
    iotsec_crl_floor f, g, fl[IOTSEC_CRL_FLOORS_MAX];
    char text[IOTSEC_CRL_FLOOR_TEXT_MAX], bad[IOTSEC_CRL_FLOOR_TEXT_MAX + 8];
    size_t len = 0, n = 0, i;
    int64_t now = fx_now();
    static const char *const broken[] = {
        "",
        "crl-floor v2 issuer=",
        " number=- this_update=0 digest=",
        "number=-",
    };

    fx_ca_new(&ca, "iotsec number CA");
    /* negative, 21 bytes, 20 bytes (the largest allowed), two cRLNumber extensions */
    for (i = 0; i < 4; i++) {
        ck_assert_int_eq(iotsec_x509_crl_create(ca.cert, ca.key, NULL, 0, 1, now - 60,
                                                now + 600, &crl),
                         IOTSEC_OK);
        bn = BN_new();
        ck_assert_int_eq(BN_set_word(bn, 1), 1);
        ck_assert_int_eq(BN_lshift(bn, bn, i == 1 ? 167 : 159), 1);
        if (i == 0)
            BN_set_negative(bn, 1);
        num = BN_to_ASN1_INTEGER(bn, NULL);
        ck_assert_ptr_nonnull(num);
        if (i == 3)
            ck_assert_int_eq(X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, X509V3_ADD_APPEND),
                             1);
        else
            ck_assert_int_eq(X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, X509V3_ADD_REPLACE),
                             1);
        ck_assert_int_eq(iotsec_revocation_new(&rs, ca.cert, 0), IOTSEC_OK);
        ck_assert_int_eq(add_crl_obj(rs, crl, ca.key, now),
                         i == 2 ? IOTSEC_OK : i == 3 ? IOTSEC_E_MALFORMED : IOTSEC_E_BAD_VALUE);
        if (i == 2) {
            ck_assert_int_eq(iotsec_revocation_seal(rs), IOTSEC_OK);
            ck_assert_int_eq(iotsec_revocation_crl_floors(rs, fl, IOTSEC_CRL_FLOORS_MAX, &n),
                             IOTSEC_OK);
            ck_assert_uint_eq(fl[0].number[0], 0x80);
            ck_assert_int_eq(iotsec_crl_floor_format(&fl[0], text, sizeof text, &len), IOTSEC_OK);
            ck_assert_msg(strstr(text, " number=80000000000000000000000000000000000000"
                                       "00 ") != NULL,
                          "%s", text);
        } else {
            ck_assert_uint_eq(iotsec_revocation_serial_count(rs), 0);
            ck_assert_int_eq(iotsec_revocation_crl_floors(rs, fl, IOTSEC_CRL_FLOORS_MAX, &n),
                             IOTSEC_OK);
            ck_assert_uint_eq(n, 0); /* nothing was added */
        }
        iotsec_revocation_unref(rs);
        ASN1_INTEGER_free(num);
        BN_free(bn);
        X509_CRL_free(crl);
    }

    /* text: round trips, with and without a number, negative and extreme times */
    memset(&f, 0, sizeof f);
    for (i = 0; i < IOTSEC_CRL_ISSUER_LEN; i++)
        f.issuer[i] = (uint8_t)(i * 7u);
    for (i = 0; i < IOTSEC_CRL_DIGEST_LEN; i++)
        f.digest[i] = (uint8_t)(0xf0u ^ i);
    f.this_update = INT64_MIN;
    ck_assert_int_eq(iotsec_crl_floor_format(&f, text, sizeof text, &len), IOTSEC_OK);
    ck_assert_msg(strstr(text, " number=- this_update=-9223372036854775808 digest=f0f1") != NULL,
                  "%s", text);
    ck_assert_int_eq(iotsec_crl_floor_parse(text, len, &g), IOTSEC_OK);
    ck_assert_mem_eq(&f, &g, sizeof f);
    f.has_number = 1;
    f.number[19] = 1;
    f.this_update = INT64_MAX;
    ck_assert_int_eq(iotsec_crl_floor_format(&f, text, sizeof text, &len), IOTSEC_OK);
    ck_assert_uint_lt(len, IOTSEC_CRL_FLOOR_TEXT_MAX);
    memcpy(bad, text, len);
    memcpy(bad + len, "\r\n", 3);
    ck_assert_int_eq(iotsec_crl_floor_parse(bad, len + 2u, &g), IOTSEC_OK);
    ck_assert_mem_eq(&f, &g, sizeof f);
    ck_assert_int_eq(iotsec_crl_floor_format(&f, text, len, &n), IOTSEC_E_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(iotsec_crl_floor_format(&f, text, sizeof text, &len), IOTSEC_OK);
    /* every one-byte change that breaks the form is refused, and *out is not written */
    for (i = 0; i < len; i++) {
        char c = text[i];
        const char *subs = "0aAf-x \n9";
        size_t k;
        for (k = 0; subs[k] != '\0'; k++) {
            if (subs[k] == c)
                continue;
            memcpy(bad, text, len);
            bad[i] = subs[k];
            memset(&g, 0x77, sizeof g);
            n = (size_t)iotsec_crl_floor_parse(bad, len, &g);
            if ((int)n == IOTSEC_OK) {
                /* only hex digits changed into other lowercase hex digits, a digit of the
                 * time into another digit, or its first digit into a minus, still parse */
                ck_assert_msg(strchr("0af9", subs[k]) != NULL ||
                                  (subs[k] == '-' &&
                                   strncmp(bad + i - 12, "this_update=", 12) == 0),
                              "%zu %c", i, subs[k]);
            } else {
                ck_assert_int_eq((int)n, IOTSEC_E_BAD_ENCODING);
                ck_assert_uint_eq(((uint8_t *)&g)[0], 0x77);
            }
        }
    }
    ck_assert_int_eq(iotsec_crl_floor_parse(text, len - 1u, &g), IOTSEC_E_BAD_ENCODING);
    memcpy(bad, text, len);
    bad[len] = 'x';
    ck_assert_int_eq(iotsec_crl_floor_parse(bad, len + 1u, &g), IOTSEC_E_BAD_ENCODING);
    bad[len] = '\0';
    ck_assert_int_eq(iotsec_crl_floor_parse(bad, len + 1u, &g), IOTSEC_E_BAD_ENCODING);
    for (i = 0; i < sizeof broken / sizeof broken[0]; i++)
        ck_assert_int_eq(iotsec_crl_floor_parse(broken[i], strlen(broken[i]), &g),
                         IOTSEC_E_BAD_ENCODING);
    /* this_update: no leading zero, no "-0", no "+", within int64 */
    {
        static const char *const times[] = {"01", "-0", "+1", "9223372036854775808",
                                            "-9223372036854775809", "", "1 "};
        const char *at = strstr(text, "this_update=") + 12, *end = strstr(text, " digest=");
        for (i = 0; i < sizeof times / sizeof times[0]; i++) {
            int w = snprintf(bad, sizeof bad, "%.*s%s%s", (int)(at - text), text, times[i], end);
            ck_assert(w > 0 && (size_t)w < sizeof bad);
            ck_assert_msg(iotsec_crl_floor_parse(bad, (size_t)w, &g) == IOTSEC_E_BAD_ENCODING,
                          "%s", times[i]);
        }
    }
    f.has_number = 0;
    ck_assert_int_eq(iotsec_crl_floor_format(&f, text, sizeof text, &len), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_crl_floor_format(NULL, text, sizeof text, &len), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_crl_floor_parse(NULL, 0, &g), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_crl_floor_parse(text, 0, NULL), IOTSEC_E_INVALID_ARG);
    fx_ca_free(&ca);
}
END_TEST

/* ---- the CA writer and device-certificate verification -------------------------------- */

static int has_eku(X509 *cert, int nid)
{
    EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(cert, NID_ext_key_usage, NULL, NULL);
    int i, found = 0;

    for (i = 0; eku != NULL && i < sk_ASN1_OBJECT_num(eku); i++)
        found |= OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, i)) == nid;
    EXTENDED_KEY_USAGE_free(eku);
    return found;
}

START_TEST(test_ca_certificates)
{
    fx_ca ca, other;
    EVP_PKEY *k = fx_p256(), *x25519;
    X509 *dev, *srv = NULL, *bad = NULL;
    iotsec_x509_cert_params p;
    GENERAL_NAMES *gens;
    BASIC_CONSTRAINTS *bc;
    const ASN1_INTEGER *serial;
    int crit = 0, i, seen_dns = 0, seen_ip = 0;
    int64_t now = fx_now();
    char dir[256], path[512];

    tu_tmpdir(dir, sizeof dir);
    fx_ca_new(&ca, "iotsec test CA");
    fx_ca_new(&other, "other CA");
    /* the CA: CA:TRUE critical pathlen 0, keyCertSign + cRLSign */
    bc = X509_get_ext_d2i(ca.cert, NID_basic_constraints, &crit, NULL);
    ck_assert_ptr_nonnull(bc);
    ck_assert(bc->ca);
    ck_assert_int_eq(crit, 1);
    ck_assert_int_eq(ASN1_INTEGER_get(bc->pathlen), 0);
    BASIC_CONSTRAINTS_free(bc);
    ck_assert_uint_eq(X509_get_key_usage(ca.cert), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
    ck_assert_int_eq(X509_check_ca(ca.cert), 1);

    dev = fx_issue(&ca, k, "3f2b9c1e-8d4a-4b7e-9f10-123456789abc");
    ck_assert_int_eq(X509_check_ca(dev), 0);
    ck_assert_uint_eq(X509_get_key_usage(dev), KU_DIGITAL_SIGNATURE);
    ck_assert(has_eku(dev, NID_client_auth));
    ck_assert(!has_eku(dev, NID_server_auth));
    serial = X509_get0_serialNumber(dev);
    ck_assert_int_eq(ASN1_STRING_type(serial), V_ASN1_INTEGER); /* positive */
    ck_assert_int_le(ASN1_STRING_length(serial), 16);
    ck_assert_int_ge(ASN1_STRING_length(serial), 8); /* 128 random bits (shorter: 2^-64) */
    ck_assert_int_eq(iotsec_x509_verify(ca.cert, dev, now), IOTSEC_OK);
    fx_write_cert(dir, "ca.pem", ca.cert, path, sizeof path);
    fx_write_cert(dir, "dev.pem", dev, path, sizeof path);
    ck_assert_int_eq(tu_sh("openssl verify -x509_strict -purpose sslclient -CAfile '%s/ca.pem' "
                           "'%s/dev.pem' >/dev/null 2>&1",
                           dir, dir),
                     0);

    memset(&p, 0, sizeof p);
    p.profile = IOTSEC_X509_PROFILE_SERVER;
    p.common_name = "localhost";
    p.san_dns = "localhost";
    p.san_ip = "127.0.0.1";
    p.not_before = now - 60;
    p.not_after = now + 86400;
    ck_assert_int_eq(iotsec_x509_ca_issue(ca.cert, ca.key, k, &p, &srv), IOTSEC_OK);
    ck_assert(has_eku(srv, NID_server_auth));
    ck_assert_int_eq(X509_check_host(srv, "localhost", 0, 0, NULL), 1);
    ck_assert_int_eq(X509_check_ip_asc(srv, "127.0.0.1", 0), 1);
    gens = X509_get_ext_d2i(srv, NID_subject_alt_name, NULL, NULL);
    for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
        seen_dns += sk_GENERAL_NAME_value(gens, i)->type == GEN_DNS;
        seen_ip += sk_GENERAL_NAME_value(gens, i)->type == GEN_IPADD;
    }
    GENERAL_NAMES_free(gens);
    ck_assert_int_eq(seen_dns, 1);
    ck_assert_int_eq(seen_ip, 1);
    /* a server certificate is not a device certificate (EKU serverAuth only) */
    ck_assert_int_eq(iotsec_x509_verify(ca.cert, srv, now), IOTSEC_E_POLICY);

    /* device-certificate verification */
    ck_assert_int_eq(iotsec_x509_verify(other.cert, dev, now), IOTSEC_E_UNTRUSTED);
    ck_assert_int_eq(iotsec_x509_verify(ca.cert, dev, now + 2 * 365 * 86400LL), IOTSEC_E_EXPIRED);
    ck_assert_int_eq(iotsec_x509_verify(ca.cert, dev, now - 2 * 3600), IOTSEC_E_NOT_YET_VALID);
    /* the CA itself is no device: its keyUsage does not allow TLS client authentication */
    ck_assert_int_eq(iotsec_x509_verify(ca.cert, ca.cert, now), IOTSEC_E_POLICY);
    /* a CA certificate issued by the device CA, even usable for clientAuth, is no device */
    {
        X509 *sub = X509_new();
        X509V3_CTX v3;
        X509_EXTENSION *ext;
        static const char *const exts[][2] = {{"basicConstraints", "critical,CA:TRUE"},
                                             {"keyUsage", "critical,digitalSignature,keyCertSign"},
                                             {"extendedKeyUsage", "clientAuth"},
                                             {"subjectKeyIdentifier", "hash"},
                                             {"authorityKeyIdentifier", "keyid:always"}};
        X509_set_version(sub, X509_VERSION_3);
        ASN1_INTEGER_set(X509_get_serialNumber(sub), 4242);
        X509_set_subject_name(sub, X509_get_subject_name(dev));
        X509_set_issuer_name(sub, X509_get_subject_name(ca.cert));
        X509_gmtime_adj(X509_getm_notBefore(sub), -60);
        X509_gmtime_adj(X509_getm_notAfter(sub), 3600);
        X509_set_pubkey(sub, k);
        X509V3_set_ctx(&v3, ca.cert, sub, NULL, NULL, 0);
        for (i = 0; i < 5; i++) {
            ext = X509V3_EXT_conf(NULL, &v3, exts[i][0], exts[i][1]);
            ck_assert_ptr_nonnull(ext);
            X509_add_ext(sub, ext, -1);
            X509_EXTENSION_free(ext);
        }
        ck_assert_int_gt(X509_sign(sub, ca.key, EVP_sha256()), 0);
        ck_assert_int_eq(iotsec_x509_verify(ca.cert, sub, now), IOTSEC_E_UNTRUSTED);
        X509_free(sub);
    }
    ck_assert_int_eq(iotsec_x509_verify(ca.cert, dev, -1), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_x509_verify(NULL, dev, now), IOTSEC_E_INVALID_ARG);

    /* refused parameters */
    p.san_ip = "127.0.0.300";
    ck_assert_int_eq(iotsec_x509_ca_issue(ca.cert, ca.key, k, &p, &bad), IOTSEC_E_BAD_VALUE);
    p.san_ip = NULL;
    p.common_name = "bad name";
    ck_assert_int_eq(iotsec_x509_ca_issue(ca.cert, ca.key, k, &p, &bad), IOTSEC_E_BAD_ENCODING);
    p.common_name = "";
    ck_assert_int_eq(iotsec_x509_ca_issue(ca.cert, ca.key, k, &p, &bad), IOTSEC_E_BAD_LENGTH);
    p.common_name = "ok";
    ck_assert_int_eq(iotsec_x509_ca_issue(ca.cert, other.key, k, &p, &bad), IOTSEC_E_BAD_KEY);
    p.profile = (iotsec_x509_profile)7;
    ck_assert_int_eq(iotsec_x509_ca_issue(ca.cert, ca.key, k, &p, &bad), IOTSEC_E_INVALID_ARG);
    p.profile = IOTSEC_X509_PROFILE_DEVICE;
    p.not_after = p.not_before;
    ck_assert_int_eq(iotsec_x509_ca_issue(ca.cert, ca.key, k, &p, &bad), IOTSEC_E_INVALID_ARG);
    ck_assert_ptr_null(bad);
    x25519 = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
    ck_assert_int_eq(iotsec_x509_ca_self_sign(x25519, "x", now, now + 60, &bad),
                     IOTSEC_E_UNSUPPORTED);
    ck_assert_int_eq(iotsec_x509_ca_self_sign(k, "", now, now + 60, &bad), IOTSEC_E_INVALID_ARG);
    {
        iotsec_crl_entry e;
        X509_CRL *crl = NULL;
        memset(&e, 0, sizeof e);
        ck_assert_int_eq(iotsec_x509_crl_create(ca.cert, ca.key, &e, 1, 1, now, now + 60, &crl),
                         IOTSEC_E_INVALID_ARG); /* serial zero */
        e.serial[0] = 1;
        ck_assert_int_eq(iotsec_x509_crl_create(ca.cert, other.key, &e, 1, 1, now, now + 60, &crl),
                         IOTSEC_E_BAD_KEY);
        ck_assert_int_eq(iotsec_x509_crl_create(ca.cert, ca.key, &e, 1, 1, now, now, &crl),
                         IOTSEC_E_INVALID_ARG);
        ck_assert_int_eq(iotsec_x509_crl_create(ca.cert, ca.key, &e, 1, 1, now, now + 60, &crl),
                         IOTSEC_OK);
        snprintf(path, sizeof path, "%s/x.crl", dir);
        ck_assert_int_eq(iotsec_x509_crl_write_file(crl, path, 5), IOTSEC_E_INVALID_ARG);
        ck_assert_int_eq(iotsec_x509_crl_write_file(crl, path, IOTSEC_X509_DER), IOTSEC_OK);
        ck_assert_int_eq(iotsec_x509_crl_write_file(crl, "/nonexistent/x.crl", IOTSEC_X509_PEM),
                         IOTSEC_E_IO);
        X509_CRL_free(crl);
        ck_assert_int_eq(tu_sh("openssl crl -inform DER -in '%s' -CAfile '%s/ca.pem' -noout "
                               "2>/dev/null",
                               path, dir),
                         0);
    }
    EVP_PKEY_free(x25519);
    X509_free(dev);
    X509_free(srv);
    EVP_PKEY_free(k);
    fx_ca_free(&ca);
    fx_ca_free(&other);
    tu_tmpdir_cleanup(dir);
}
END_TEST

/* An Ed25519 CA (pure signatures) and an RSA CA work through the same paths. */
START_TEST(test_ca_key_types)
{
    static const char *types[] = {"ED25519", "RSA"};
    int64_t now = fx_now();
    size_t t;

    for (t = 0; t < 2; t++) {
        fx_ca ca;
        EVP_PKEY *k = fx_p256();
        X509 *dev;
        iotsec_revocation *rs;
        iotsec_peer_identity id;
        ca.key = t == 0 ? EVP_PKEY_Q_keygen(NULL, NULL, types[t])
                        : EVP_PKEY_Q_keygen(NULL, NULL, types[t], (size_t)2048);
        ck_assert_ptr_nonnull(ca.key);
        ck_assert_int_eq(iotsec_x509_ca_self_sign(ca.key, "typed CA", now - 60, now + 86400,
                                                  &ca.cert),
                         IOTSEC_OK);
        dev = fx_issue(&ca, k, "dev-typed");
        ck_assert_int_eq(iotsec_x509_verify(ca.cert, dev, now), IOTSEC_OK);
        id = fx_identity(dev);
        rs = set_with(&ca, &dev, 1, now);
        ck_assert_int_eq(iotsec_revocation_check(rs, &id, now, NULL), IOTSEC_E_REVOKED);
        iotsec_revocation_unref(rs);
        X509_free(dev);
        EVP_PKEY_free(k);
        fx_ca_free(&ca);
    }
}
END_TEST

START_TEST(test_decode_and_files)
{
    fx_ca ca;
    char dir[256], path[512];
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    uint8_t *pem, *two, *der = NULL;
    size_t len;
    int n;

    tu_tmpdir(dir, sizeof dir);
    fx_ca_new(&ca, "iotsec test CA");
    fx_write_cert(dir, "ca.pem", ca.cert, path, sizeof path);
    pem = tu_read_file(path, &len);
    ck_assert_int_eq(iotsec_x509_cert_decode(pem, len, &cert), IOTSEC_OK);
    ck_assert_int_eq(X509_cmp(cert, ca.cert), 0);
    X509_free(cert);
    two = malloc(2 * len);
    memcpy(two, pem, len);
    memcpy(two + len, pem, len);
    ck_assert_int_eq(iotsec_x509_cert_decode(two, 2 * len, &cert), IOTSEC_E_BAD_ENCODING);
    ck_assert_int_eq(iotsec_x509_cert_decode(pem, len / 2, &cert), IOTSEC_E_BAD_ENCODING);
    n = i2d_X509(ca.cert, &der);
    ck_assert_int_eq(iotsec_x509_cert_decode(der, (size_t)n, &cert), IOTSEC_OK);
    X509_free(cert);
    ck_assert_int_eq(iotsec_x509_cert_decode(der, (size_t)n - 1, &cert), IOTSEC_E_BAD_ENCODING);
    memcpy(two, der, (size_t)n);
    two[n] = 0;
    ck_assert_int_eq(iotsec_x509_cert_decode(two, (size_t)n + 1, &cert), IOTSEC_E_TRAILING_DATA);
    ck_assert_int_eq(iotsec_x509_cert_decode(two, 0, &cert), IOTSEC_E_INVALID_ARG);
    ck_assert_ptr_null(cert);
    ck_assert_int_eq(iotsec_x509_cert_load_file("/nonexistent/c.pem", &cert), IOTSEC_E_IO);
    tu_write_file(dir, "empty.pem", "", 0, path, sizeof path);
    ck_assert_int_eq(iotsec_x509_cert_load_file(path, &cert), IOTSEC_E_BAD_ENCODING);

    fx_write_key(dir, "ca.key", ca.key, path, sizeof path);
    ck_assert_int_eq(iotsec_x509_key_load_file(path, &key), IOTSEC_OK);
    ck_assert_int_eq(EVP_PKEY_eq(key, ca.key), 1);
    EVP_PKEY_free(key);
    ck_assert_int_eq(iotsec_x509_key_load_file("/nonexistent/k.pem", &key), IOTSEC_E_IO);
    tu_write_file(dir, "junk.key", "not a key", 9, path, sizeof path);
    ck_assert_int_eq(iotsec_x509_key_load_file(path, &key), IOTSEC_E_BAD_KEY);
    {
        EVP_PKEY *x = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
        fx_write_key(dir, "x25519.key", x, path, sizeof path);
        ck_assert_int_eq(iotsec_x509_key_load_file(path, &key), IOTSEC_E_UNSUPPORTED);
        EVP_PKEY_free(x);
    }
    ck_assert_int_eq(iotsec_x509_cert_write_file(NULL, path), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_x509_cert_write_file(ca.cert, "/nonexistent/c.pem"), IOTSEC_E_IO);
    OPENSSL_free(der);
    free(pem);
    free(two);
    fx_ca_free(&ca);
    tu_tmpdir_cleanup(dir);
}
END_TEST

static Suite *revocation_suite(void)
{
    Suite *s = suite_create("revocation");
    TCase *crl = tcase_create("crl");
    TCase *sets = tcase_create("sets");
    TCase *ca = tcase_create("ca");

    tcase_set_timeout(crl, 60);
    tcase_set_timeout(sets, 60);
    tcase_set_timeout(ca, 60);
    tcase_add_test(crl, test_crl_revoked_and_good);
    tcase_add_test(crl, test_crl_wrong_issuer_or_signature);
    tcase_add_test(crl, test_crl_times_and_grace);
    tcase_add_test(crl, test_crl_garbage);
    tcase_add_test(crl, test_crl_structure_policy);
    tcase_add_test(crl, test_crl_ca_without_crlsign);
    tcase_add_test(crl, test_crl_many_serials);
    tcase_add_test(crl, test_openssl_ca_interop);
    tcase_add_test(sets, test_set_denylist);
    tcase_add_test(sets, test_load_and_reload);
    tcase_add_test(sets, test_concurrent_swap);
    tcase_add_test(sets, test_crl_monotonic_reload);
    tcase_add_test(sets, test_crl_floor_restart);
    tcase_add_test(sets, test_crl_monotonic_this_update);
    tcase_add_test(crl, test_crl_number_and_floor_text);
    tcase_add_test(ca, test_ca_certificates);
    tcase_add_test(ca, test_ca_key_types);
    tcase_add_test(ca, test_decode_and_files);
    suite_add_tcase(s, crl);
    suite_add_tcase(s, sets);
    suite_add_tcase(s, ca);
    return s;
}

int main(void) { return tu_run_suite(revocation_suite()); }
