/*
 * Fixtures shared by test_revocation.c and test_tls.c: device CAs, certificates and CRLs made
 * with the library's own CA functions and with the `openssl` command-line tool (`openssl ca`
 * with a configuration written by the test), so both sides are exercised against each other.
 * Header-only (static functions) so that only the suites that include it link OpenSSL's X.509.
 */
#ifndef IOTSEC_X509_FIXTURE_H
#define IOTSEC_X509_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "testutil.h"

#define FX static __attribute__((unused))

typedef struct fx_ca {
    X509 *cert;
    EVP_PKEY *key;
} fx_ca;

FX int64_t fx_now(void) { return (int64_t)time(NULL); }

FX EVP_PKEY *fx_p256(void)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    ck_assert_ptr_nonnull(k);
    return k;
}

/* A device CA made by the library (P-256), valid from a day ago for ten years. */
FX void fx_ca_new(fx_ca *ca, const char *cn)
{
    int64_t now = fx_now();

    ca->key = fx_p256();
    ck_assert_int_eq(iotsec_x509_ca_self_sign(ca->key, cn, now - 86400, now + 3650 * 86400LL,
                                              &ca->cert),
                     IOTSEC_OK);
}

FX void fx_ca_free(fx_ca *ca)
{
    X509_free(ca->cert);
    EVP_PKEY_free(ca->key);
    memset(ca, 0, sizeof *ca);
}

/* A CA made by the library for a new P-256 key: self-signed when issuer is NULL, else an
 * intermediate of issuer; pathLenConstraint path_len (-1: none); valid from a day ago for
 * ten years. */
FX void fx_ca_make(fx_ca *ca, const fx_ca *issuer, const char *cn, int path_len)
{
    int64_t now = fx_now();

    ca->key = fx_p256();
    ck_assert_int_eq(iotsec_x509_ca_create(ca->key, cn, path_len, now - 86400,
                                           now + 3650 * 86400LL,
                                           issuer != NULL ? issuer->cert : NULL,
                                           issuer != NULL ? issuer->key : NULL, &ca->cert),
                     IOTSEC_OK);
}

/* A CA certificate for a new P-256 key built by hand: subject CN = cn, issued by issuer
 * (NULL: self-signed), valid over [nb, na], with the extensions exts[0..n) (OpenSSL v3
 * configuration name and value; subjectKeyIdentifier and authorityKeyIdentifier are always
 * added). version3 0 makes a v1 certificate (then n must be 0). */
FX void fx_ca_custom(fx_ca *ca, const fx_ca *issuer, const char *cn, const char *const (*exts)[2],
                     size_t n, int64_t nb, int64_t na, int version3)
{
    X509_NAME *name = X509_NAME_new();
    X509V3_CTX v3;
    X509_EXTENSION *ext;
    size_t i;

    ca->key = fx_p256();
    ca->cert = X509_new();
    ck_assert_ptr_nonnull(ca->cert);
    ck_assert_int_eq(X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
                                                (const unsigned char *)cn, -1, -1, 0),
                     1);
    X509_set_version(ca->cert, version3 ? X509_VERSION_3 : X509_VERSION_1);
    ASN1_INTEGER_set(X509_get_serialNumber(ca->cert), (long)(fx_now() & 0xffffff) + 77);
    X509_set_subject_name(ca->cert, name);
    X509_set_issuer_name(ca->cert, issuer != NULL ? X509_get_subject_name(issuer->cert) : name);
    ck_assert_int_eq(X509_time_adj_ex(X509_getm_notBefore(ca->cert), 0, (long)(nb - fx_now()),
                                      NULL) != NULL, 1);
    ck_assert_int_eq(X509_time_adj_ex(X509_getm_notAfter(ca->cert), 0, (long)(na - fx_now()),
                                      NULL) != NULL, 1);
    X509_set_pubkey(ca->cert, ca->key);
    if (version3) {
        X509V3_set_ctx(&v3, issuer != NULL ? issuer->cert : ca->cert, ca->cert, NULL, NULL, 0);
        for (i = 0; i < n; i++) {
            ext = X509V3_EXT_conf(NULL, &v3, exts[i][0], exts[i][1]);
            ck_assert_ptr_nonnull(ext);
            X509_add_ext(ca->cert, ext, -1);
            X509_EXTENSION_free(ext);
        }
        ext = X509V3_EXT_conf(NULL, &v3, "subjectKeyIdentifier", "hash");
        X509_add_ext(ca->cert, ext, -1);
        X509_EXTENSION_free(ext);
        if (issuer != NULL) {
            ext = X509V3_EXT_conf(NULL, &v3, "authorityKeyIdentifier", "keyid:always");
            X509_add_ext(ca->cert, ext, -1);
            X509_EXTENSION_free(ext);
        }
    }
    ck_assert_int_gt(X509_sign(ca->cert, issuer != NULL ? issuer->key : ca->key, EVP_sha256()),
                     0);
    X509_NAME_free(name);
}

/* A v1 certificate without extensions (as `openssl x509 -req` writes one without -extfile)
 * for key, CN = cn, issued by ca, valid from an hour ago for a day. */
FX X509 *fx_issue_plain(const fx_ca *ca, EVP_PKEY *key, const char *cn)
{
    X509 *c = X509_new();
    X509_NAME *name = X509_NAME_new();

    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
                                                (const unsigned char *)cn, -1, -1, 0),
                     1);
    X509_set_version(c, X509_VERSION_1);
    ASN1_INTEGER_set(X509_get_serialNumber(c), (long)(fx_now() & 0xffffff) + 4242);
    X509_set_subject_name(c, name);
    X509_set_issuer_name(c, X509_get_subject_name(ca->cert));
    X509_gmtime_adj(X509_getm_notBefore(c), -3600);
    X509_gmtime_adj(X509_getm_notAfter(c), 86400);
    X509_set_pubkey(c, key);
    ck_assert_int_gt(X509_sign(c, ca->key, EVP_sha256()), 0);
    X509_NAME_free(name);
    return c;
}

/* A certificate of profile (IOTSEC_X509_PROFILE_*) for name (CN and SAN DNS = name; SAN IP
 * san_ip unless NULL) valid over [nb, na]. */
FX X509 *fx_issue_profile(const fx_ca *ca, EVP_PKEY *key, const char *name,
                          iotsec_x509_profile profile,
                          const char *san_ip, int64_t nb, int64_t na)
{
    iotsec_x509_cert_params p;
    X509 *cert = NULL;

    memset(&p, 0, sizeof p);
    p.profile = profile;
    p.common_name = name;
    p.san_dns = name;
    p.san_ip = san_ip;
    p.not_before = nb;
    p.not_after = na;
    ck_assert_int_eq(iotsec_x509_ca_issue(ca->cert, ca->key, key, &p, &cert), IOTSEC_OK);
    return cert;
}

/* A device certificate for id (CN and SAN DNS = id) valid over [nb, na]. */
FX X509 *fx_issue_at(const fx_ca *ca, EVP_PKEY *key, const char *id, int64_t nb, int64_t na)
{
    return fx_issue_profile(ca, key, id, IOTSEC_X509_PROFILE_DEVICE, NULL, nb, na);
}

FX X509 *fx_issue(const fx_ca *ca, EVP_PKEY *key, const char *id)
{
    return fx_issue_at(ca, key, id, fx_now() - 3600, fx_now() + 365 * 86400LL);
}

/* A CRL by ca revoking the given certificates, with cRLNumber number, thisUpdate tu,
 * nextUpdate nu, as a malloc'd DER (pem 0) or PEM (pem 1) buffer. */
FX uint8_t *fx_crl_numbered(const fx_ca *ca, X509 *const *revoked, size_t n, uint64_t number,
                            int64_t tu, int64_t nu, int pem, size_t *len)
{
    iotsec_crl_entry e[16];
    X509_CRL *crl = NULL;
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;
    uint8_t *out;
    long got;
    size_t i;

    ck_assert_uint_le(n, 16);
    for (i = 0; i < n; i++) {
        ck_assert_int_eq(iotsec_x509_serial(revoked[i], e[i].serial), IOTSEC_OK);
        e[i].revoked_at = tu;
    }
    ck_assert_int_eq(iotsec_x509_crl_create(ca->cert, ca->key, e, n, number, tu, nu, &crl),
                     IOTSEC_OK);
    ck_assert_ptr_nonnull(bio);
    ck_assert_int_eq(pem ? PEM_write_bio_X509_CRL(bio, crl) : i2d_X509_CRL_bio(bio, crl), 1);
    got = BIO_get_mem_data(bio, &data);
    ck_assert_int_gt(got, 0);
    out = malloc((size_t)got);
    ck_assert_ptr_nonnull(out);
    memcpy(out, data, (size_t)got);
    *len = (size_t)got;
    BIO_free(bio);
    X509_CRL_free(crl);
    return out;
}

/* As fx_crl_numbered with the next number of a counter shared by every CRL the test makes
 * (from 7 up), as a real CA does: a reload never sees a CRL number go backwards or repeat
 * with other content (revocation.h). */
FX uint64_t fx_crl_seq = 7;

FX uint8_t *fx_crl(const fx_ca *ca, X509 *const *revoked, size_t n, int64_t tu, int64_t nu,
                   int pem, size_t *len)
{
    return fx_crl_numbered(ca, revoked, n, fx_crl_seq++, tu, nu, pem, len);
}

/* Write a certificate / private key as PEM to dir/name; the full path goes to out. */
FX void fx_write_cert(const char *dir, const char *name, X509 *cert, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);

    ck_assert(n > 0 && (size_t)n < cap);
    ck_assert_int_eq(iotsec_x509_cert_write_file(cert, out), IOTSEC_OK);
}

FX void fx_write_key(const char *dir, const char *name, EVP_PKEY *key, char *out, size_t cap)
{
    FILE *f;
    int n = snprintf(out, cap, "%s/%s", dir, name);

    ck_assert(n > 0 && (size_t)n < cap);
    f = fopen(out, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), 1);
    ck_assert_int_eq(fclose(f), 0);
}

/* The identity of cert under CN rules (asserts it has one). */
FX iotsec_peer_identity fx_identity(X509 *cert)
{
    iotsec_peer_identity id;

    ck_assert_int_eq(iotsec_x509_identity(cert, NULL, &id), IOTSEC_OK);
    return id;
}

/* ---- the openssl command-line CA ------------------------------------------------------ */

/* Create an `openssl ca` directory in dir: openssl.cnf, a P-256 CA (ca.pem, ca.key). Device
 * certificates get CN = SAN DNS = the id, clientAuth, digitalSignature. */
FX void fx_openssl_ca_init(const char *dir)
{
    char path[512];
    FILE *f;
    int n = snprintf(path, sizeof path, "%s/openssl.cnf", dir);

    ck_assert(n > 0 && (size_t)n < sizeof path);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "[ ca ]\ndefault_ca = CA_default\n"
            "[ CA_default ]\ndir = %s\ndatabase = $dir/index.txt\n"
            "new_certs_dir = $dir/newcerts\ncertificate = $dir/ca.pem\n"
            "private_key = $dir/ca.key\nserial = $dir/serial\ncrlnumber = $dir/crlnumber\n"
            "default_md = sha256\ndefault_days = 365\ndefault_crl_days = 30\n"
            "policy = policy_any\nunique_subject = no\nx509_extensions = dev_ext\n"
            "crl_extensions = crl_ext\n"
            "[ policy_any ]\ncommonName = supplied\n"
            "[ dev_ext ]\nbasicConstraints = critical,CA:FALSE\n"
            "keyUsage = critical,digitalSignature\nextendedKeyUsage = clientAuth\n"
            "subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid:always\n"
            "subjectAltName = DNS:${ENV::FX_DEVID}\n"
            "[ crl_ext ]\nauthorityKeyIdentifier = keyid:always\n"
            "[ v3_ca ]\nbasicConstraints = critical,CA:TRUE,pathlen:0\n"
            "keyUsage = critical,keyCertSign,cRLSign\nsubjectKeyIdentifier = hash\n"
            "[ req ]\ndistinguished_name = req_dn\nprompt = no\n[ req_dn ]\nCN = unused\n",
            dir);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(tu_sh("cd '%s' && mkdir -p newcerts && : > index.txt && "
                           "echo 1000 > serial && echo 01 > crlnumber && "
                           "FX_DEVID=x openssl req -x509 -config openssl.cnf -extensions v3_ca "
                           "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key "
                           "-out ca.pem -days 3650 -subj '/CN=OpenSSL test device CA' "
                           "2>/dev/null",
                           dir),
                     0);
}

/* Issue dir/<id>.pem and dir/<id>.key with `openssl ca`; extra goes on its command line
 * (e.g. "-startdate 20200101000000Z -enddate 20200201000000Z"). */
FX void fx_openssl_issue(const char *dir, const char *id, const char *extra)
{
    ck_assert_int_eq(tu_sh("cd '%s' && export FX_DEVID='%s' && "
                           "openssl req -new -config openssl.cnf -newkey ec "
                           "-pkeyopt ec_paramgen_curve:P-256 -nodes -keyout '%s.key' "
                           "-out '%s.csr' -subj '/CN=%s' 2>/dev/null && "
                           "openssl ca -batch -config openssl.cnf -notext -in '%s.csr' "
                           "-out '%s.pem' %s 2>/dev/null",
                           dir, id, id, id, id, id, id, extra ? extra : ""),
                     0);
}

FX void fx_openssl_revoke(const char *dir, const char *id)
{
    ck_assert_int_eq(tu_sh("cd '%s' && FX_DEVID=x openssl ca -config openssl.cnf -revoke '%s.pem' "
                           "2>/dev/null",
                           dir, id),
                     0);
}

/* dir/<out> = `openssl ca -gencrl` with extra options (e.g. "-crldays 1"). */
FX void fx_openssl_gencrl(const char *dir, const char *out, const char *extra)
{
    ck_assert_int_eq(tu_sh("cd '%s' && FX_DEVID=x openssl ca -config openssl.cnf -gencrl "
                           "-out '%s' %s 2>/dev/null",
                           dir, out, extra ? extra : ""),
                     0);
}

FX X509 *fx_load_cert(const char *dir, const char *name)
{
    char path[512];
    X509 *cert = NULL;
    int n = snprintf(path, sizeof path, "%s/%s", dir, name);

    ck_assert(n > 0 && (size_t)n < sizeof path);
    ck_assert_int_eq(iotsec_x509_cert_load_file(path, &cert), IOTSEC_OK);
    return cert;
}

#endif
