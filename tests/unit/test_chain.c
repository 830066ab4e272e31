/* Check suite: device certificate chains (docs/DESIGN.md §7.1): a root → issuing CA → device
 * layout, a pinned intermediate as the anchor, intermediates from the peer or a bundle, the
 * maximum depth, the CA rules that replace X509_V_FLAG_X509_STRICT (basicConstraints CA:TRUE,
 * keyUsage keyCertSign when present, a CA without keyUsage accepted), the reasons given for
 * every refusal, and revocation per level (each certificate against its issuer's CRLs, the
 * CRL policy require / allow, stale CRLs of one issuer). */
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "testutil.h"
#include "x509_fixture.h"

static int verify(X509 *anchor, const iotsec_chain_policy *cp, X509 *const *certs, size_t n,
                  int64_t now, char *why)
{
    return iotsec_x509_verify_chain(anchor, cp, certs, n, now, why, IOTSEC_X509_REASON_MAX);
}

#define HAS(text, what) ck_assert_msg(strstr((text), (what)) != NULL, "'%s' lacks '%s'", (text), (what))

START_TEST(test_chain_layouts)
{
    fx_ca root, inter, deep, other;
    EVP_PKEY *k = fx_p256(), *k2 = fx_p256();
    X509 *dev, *deep_dev, *certs[4];
    iotsec_chain_policy cp;
    char why[IOTSEC_X509_REASON_MAX];
    int64_t now = fx_now();

    fx_ca_make(&root, NULL, "Test Root", -1);
    fx_ca_make(&inter, &root, "Issuing CA", 0);
    dev = fx_issue(&inter, k, "dev-chain");
    memset(&cp, 0, sizeof cp);

    /* root → issuing CA → device, the intermediate from the peer */
    certs[0] = dev;
    certs[1] = inter.cert;
    ck_assert_int_eq(verify(root.cert, NULL, certs, 2, now, why), IOTSEC_OK);
    ck_assert_str_eq(why, "");
    /* without it: no chain; the reason names the anchor */
    ck_assert_int_eq(verify(root.cert, NULL, certs, 1, now, why), IOTSEC_E_UNTRUSTED);
    HAS(why, "does not chain to the trust anchor \"CN=Test Root\"");
    ck_assert_int_eq(iotsec_x509_verify(root.cert, dev, now), IOTSEC_E_UNTRUSTED);
    /* the intermediate from a bundle */
    cp.intermediates = &inter.cert;
    cp.intermediate_count = 1;
    ck_assert_int_eq(verify(root.cert, &cp, certs, 1, now, why), IOTSEC_OK);
    /* a pinned intermediate as the anchor: the device alone, or with the intermediate sent */
    ck_assert_int_eq(verify(inter.cert, NULL, certs, 1, now, why), IOTSEC_OK);
    ck_assert_int_eq(verify(inter.cert, NULL, certs, 2, now, why), IOTSEC_OK);
    ck_assert_int_eq(iotsec_x509_verify(inter.cert, dev, now), IOTSEC_OK);
    /* depth 1: only devices issued by the anchor itself */
    memset(&cp, 0, sizeof cp);
    cp.max_depth = 1;
    ck_assert_int_eq(verify(root.cert, &cp, certs, 2, now, why), IOTSEC_E_UNTRUSTED);
    HAS(why, "chain longer than 1");
    ck_assert_int_eq(verify(inter.cert, &cp, certs, 1, now, why), IOTSEC_OK);
    cp.max_depth = IOTSEC_CHAIN_MAX + 1;
    ck_assert_int_eq(verify(root.cert, &cp, certs, 2, now, why), IOTSEC_E_INVALID_ARG);

    /* root → CA → CA → device: longer than the default 2, fine with 3 */
    iotsec_x509_ca_create(NULL, NULL, 0, 0, 0, NULL, NULL, NULL); /* misuse: no crash */
    fx_ca_free(&inter);
    fx_ca_make(&inter, &root, "Issuing CA", 1);
    fx_ca_make(&deep, &inter, "Deep CA", 0);
    deep_dev = fx_issue(&deep, k2, "dev-deep");
    certs[0] = deep_dev;
    certs[1] = deep.cert;
    certs[2] = inter.cert;
    ck_assert_int_eq(verify(root.cert, NULL, certs, 3, now, why), IOTSEC_E_UNTRUSTED);
    HAS(why, "chain longer than 2 below the trust anchor");
    cp.max_depth = 3;
    ck_assert_int_eq(verify(root.cert, &cp, certs, 3, now, why), IOTSEC_OK);
    /* a library root has pathLenConstraint 0 unless asked: it cannot issue CAs */
    fx_ca_make(&other, NULL, "Root pathlen 0", 0);
    {
        fx_ca sub;
        EVP_PKEY *ks = fx_p256();
        X509 *c = NULL;
        ck_assert_int_eq(iotsec_x509_ca_create(ks, "Sub", 0, now, now + 60, other.cert, other.key,
                                               &c),
                         IOTSEC_E_POLICY);
        ck_assert_ptr_null(c);
        ck_assert_int_eq(iotsec_x509_ca_create(ks, "Sub", 0, now, now + 60, root.cert, other.key,
                                               &c),
                         IOTSEC_E_BAD_KEY);
        ck_assert_int_eq(iotsec_x509_ca_create(ks, "Sub", 17, now, now + 60, NULL, NULL, &c),
                         IOTSEC_E_INVALID_ARG);
        ck_assert_int_eq(iotsec_x509_ca_create(ks, "Sub", 0, now, now + 60, root.cert, NULL, &c),
                         IOTSEC_E_INVALID_ARG);
        EVP_PKEY_free(ks);
        /* a sub-CA forced under it by hand breaks the path length */
        {
            static const char *const e[][2] = {{"basicConstraints", "critical,CA:TRUE,pathlen:0"},
                                              {"keyUsage", "critical,keyCertSign,cRLSign"}};
            X509 *leaf;
            fx_ca_custom(&sub, &other, "Forced Sub", e, 2, now - 60, now + 3600, 1);
            leaf = fx_issue(&sub, k, "dev-forced");
            certs[0] = leaf;
            certs[1] = sub.cert;
            ck_assert_int_eq(verify(other.cert, NULL, certs, 2, now, why), IOTSEC_E_UNTRUSTED);
            HAS(why, "path length constraint");
            X509_free(leaf);
            fx_ca_free(&sub);
        }
    }
    /* misuse */
    certs[0] = dev;
    ck_assert_int_eq(verify(NULL, NULL, certs, 1, now, why), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(verify(root.cert, NULL, certs, 0, now, why), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(verify(root.cert, NULL, certs, 1, -1, why), IOTSEC_E_INVALID_ARG);
    certs[1] = NULL;
    ck_assert_int_eq(verify(root.cert, NULL, certs, 2, now, why), IOTSEC_E_INVALID_ARG);

    X509_free(dev);
    X509_free(deep_dev);
    EVP_PKEY_free(k);
    EVP_PKEY_free(k2);
    fx_ca_free(&root);
    fx_ca_free(&inter);
    fx_ca_free(&deep);
    fx_ca_free(&other);
}
END_TEST

/* CA acceptance as Go's crypto/x509 and webpki: basicConstraints CA:TRUE required, keyUsage
 * when present must allow keyCertSign, a CA without keyUsage is accepted. */
START_TEST(test_chain_ca_rules)
{
    static const char *const no_ku[][2] = {{"basicConstraints", "critical,CA:TRUE"}};
    static const char *const no_ku_noncrit[][2] = {{"basicConstraints", "CA:TRUE"}};
    static const char *const ku_no_certsign[][2] = {{"basicConstraints", "critical,CA:TRUE"},
                                                    {"keyUsage", "critical,digitalSignature,cRLSign"}};
    static const char *const no_bc[][2] = {{"keyUsage", "critical,keyCertSign,cRLSign"}};
    static const char *const bc_false[][2] = {{"basicConstraints", "critical,CA:FALSE"},
                                              {"keyUsage", "critical,keyCertSign,cRLSign"}};
    static const char *const eku_server[][2] = {{"basicConstraints", "critical,CA:TRUE"},
                                                {"extendedKeyUsage", "serverAuth"}};
    fx_ca ca, root, inter;
    EVP_PKEY *k = fx_p256();
    X509 *dev, *certs[2];
    char why[IOTSEC_X509_REASON_MAX];
    int64_t now = fx_now();

    /* the tutorial CA: CA:TRUE, no keyUsage (openssl req -x509 with its default config) */
    fx_ca_custom(&ca, NULL, "MyCA", no_ku, 1, now - 60, now + 86400, 1);
    dev = fx_issue(&ca, k, "dev-1");
    ck_assert_int_eq(verify(ca.cert, NULL, &dev, 1, now, why), IOTSEC_OK);
    X509_free(dev);
    /* a device certificate without extensions (v1) under it: accepted */
    dev = fx_issue_plain(&ca, k, "dev-plain");
    ck_assert_int_eq(verify(ca.cert, NULL, &dev, 1, now, why), IOTSEC_OK);
    X509_free(dev);
    fx_ca_free(&ca);
    /* basicConstraints need not be critical (X509_STRICT wanted it) */
    fx_ca_custom(&ca, NULL, "MyCA", no_ku_noncrit, 1, now - 60, now + 86400, 1);
    dev = fx_issue(&ca, k, "dev-1");
    ck_assert_int_eq(verify(ca.cert, NULL, &dev, 1, now, why), IOTSEC_OK);
    X509_free(dev);
    fx_ca_free(&ca);
    /* keyUsage without keyCertSign */
    fx_ca_custom(&ca, NULL, "No CertSign CA", ku_no_certsign, 2, now - 60, now + 86400, 1);
    dev = fx_issue(&ca, k, "dev-1");
    ck_assert_int_eq(verify(ca.cert, NULL, &dev, 1, now, why), IOTSEC_E_UNTRUSTED);
    HAS(why, "CA certificate \"CN=No CertSign CA\" keyUsage lacks keyCertSign");
    X509_free(dev);
    fx_ca_free(&ca);
    /* no basicConstraints (keyCertSign alone: OpenSSL's lax mode takes it as a CA) */
    fx_ca_custom(&ca, NULL, "No BC CA", no_bc, 1, now - 60, now + 86400, 1);
    dev = fx_issue(&ca, k, "dev-1");
    ck_assert_int_eq(verify(ca.cert, NULL, &dev, 1, now, why), IOTSEC_E_UNTRUSTED);
    HAS(why, "CA certificate \"CN=No BC CA\" lacks basicConstraints CA:TRUE");
    X509_free(dev);
    fx_ca_free(&ca);
    /* CA:FALSE */
    fx_ca_custom(&ca, NULL, "False CA", bc_false, 2, now - 60, now + 86400, 1);
    dev = fx_issue(&ca, k, "dev-1");
    ck_assert_int_eq(verify(ca.cert, NULL, &dev, 1, now, why), IOTSEC_E_UNTRUSTED);
    HAS(why, "\"CN=False CA\"");
    X509_free(dev);
    fx_ca_free(&ca);
    /* a v1 CA (openssl req -x509 -config /dev/null): no basicConstraints, refused as webpki
     * refuses it */
    fx_ca_custom(&ca, NULL, "V1 CA", NULL, 0, now - 60, now + 86400, 0);
    dev = fx_issue_plain(&ca, k, "dev-1");
    ck_assert_int_eq(verify(ca.cert, NULL, &dev, 1, now, why), IOTSEC_E_UNTRUSTED);
    HAS(why, "CA certificate \"CN=V1 CA\" lacks basicConstraints CA:TRUE");
    X509_free(dev);
    fx_ca_free(&ca);

    /* the same rules for an intermediate, which the anchor vouches for */
    fx_ca_make(&root, NULL, "Root", 1);
    fx_ca_custom(&inter, &root, "Weak Issuing CA", ku_no_certsign, 2, now - 60, now + 86400, 1);
    certs[0] = fx_issue(&inter, k, "dev-2");
    certs[1] = inter.cert;
    ck_assert_int_eq(verify(root.cert, NULL, certs, 2, now, why), IOTSEC_E_UNTRUSTED);
    HAS(why, "CA certificate \"CN=Weak Issuing CA\" keyUsage lacks keyCertSign");
    X509_free(certs[0]);
    fx_ca_free(&inter);
    /* an intermediate limited to serverAuth cannot vouch for TLS clients */
    fx_ca_custom(&inter, &root, "Server Issuing CA", eku_server, 2, now - 60, now + 86400, 1);
    certs[0] = fx_issue(&inter, k, "dev-3");
    certs[1] = inter.cert;
    ck_assert_int_eq(verify(root.cert, NULL, certs, 2, now, why), IOTSEC_E_UNTRUSTED);
    HAS(why, "\"CN=Server Issuing CA\" is not usable for TLS client authentication");
    X509_free(certs[0]);
    fx_ca_free(&inter);
    /* an intermediate past its notAfter */
    fx_ca_custom(&inter, &root, "Old Issuing CA", no_ku, 1, now - 7200, now - 3600, 1);
    certs[0] = fx_issue_at(&inter, k, "dev-4", now - 7000, now + 86400);
    certs[1] = inter.cert;
    ck_assert_int_eq(verify(root.cert, NULL, certs, 2, now, why), IOTSEC_E_EXPIRED);
    HAS(why, "CA certificate \"CN=Old Issuing CA\" expired");
    X509_free(certs[0]);
    fx_ca_free(&inter);

    /* the device certificate: EKU, keyUsage, CA-ness, dates */
    {
        X509 *srv = fx_issue_profile(&root, k, "srv-1", IOTSEC_X509_PROFILE_SERVER, NULL, now - 60,
                                     now + 3600);
        X509 *old = fx_issue_at(&root, k, "dev-old", now - 7200, now - 3600);
        ck_assert_int_eq(verify(root.cert, NULL, &srv, 1, now, why), IOTSEC_E_POLICY);
        ck_assert_str_eq(why, "certificate lacks the clientAuth extended key usage");
        ck_assert_int_eq(verify(root.cert, NULL, &old, 1, now, why), IOTSEC_E_EXPIRED);
        ck_assert_str_eq(why, "certificate expired");
        ck_assert_int_eq(verify(root.cert, NULL, &root.cert, 1, now, why), IOTSEC_E_POLICY);
        ck_assert_str_eq(why, "certificate keyUsage lacks digitalSignature");
        X509_free(srv);
        X509_free(old);
    }
    EVP_PKEY_free(k);
    fx_ca_free(&root);
}
END_TEST

/* A CRL per level: the device against its issuing CA's, the issuing CA against the root's. */
START_TEST(test_chain_revocation)
{
    fx_ca root, inter, stranger;
    EVP_PKEY *k1 = fx_p256(), *k2 = fx_p256();
    X509 *d1, *d2, *chain1[2], *chain2[2];
    iotsec_revocation *rs = NULL;
    iotsec_revocation_holder *h = NULL;
    iotsec_tls_policy policy;
    iotsec_tls_verdict v;
    iotsec_revocation_reason why;
    uint8_t *root_crl, *int_crl, *int_crl_revoking, *root_crl_revoking, *int_crl_short, *alien;
    size_t l_root, l_int, l_intr, l_rootr, l_short, l_alien, level, tlen;
    char text[IOTSEC_REVOCATION_DETAIL_MAX];
    int64_t now = fx_now();

    fx_ca_make(&root, NULL, "Root", 1);
    fx_ca_make(&inter, &root, "Issuing CA", 0);
    fx_ca_make(&stranger, NULL, "Stranger", 0);
    d1 = fx_issue(&inter, k1, "dev-1");
    d2 = fx_issue(&inter, k2, "dev-2");
    chain1[0] = d1;
    chain1[1] = inter.cert;
    chain2[0] = d2;
    chain2[1] = inter.cert;
    root_crl = fx_crl(&root, NULL, 0, now - 60, now + 86400, 1, &l_root);
    root_crl_revoking = fx_crl(&root, &inter.cert, 1, now - 50, now + 86400, 1, &l_rootr);
    int_crl = fx_crl(&inter, NULL, 0, now - 60, now + 86400, 0, &l_int);
    int_crl_revoking = fx_crl(&inter, &d2, 1, now - 50, now + 86400, 0, &l_intr);
    int_crl_short = fx_crl(&inter, NULL, 0, now - 60, now + 600, 0, &l_short);
    alien = fx_crl(&stranger, NULL, 0, now - 60, now + 86400, 0, &l_alien);

    memset(&policy, 0, sizeof policy);
    policy.ca = root.cert;
    policy.identity.source = IOTSEC_ID_CN;

    /* an intermediate's CRL needs the intermediate in the set */
    ck_assert_int_eq(iotsec_revocation_new(&rs, root.cert, 0), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_add_crl(rs, int_crl, l_int, now), IOTSEC_E_UNTRUSTED);
    ck_assert_int_eq(iotsec_revocation_last_refusal(rs, text, sizeof text, &tlen), IOTSEC_OK);
    HAS(text, "CRL issuer \"CN=Issuing CA\" is neither the trust anchor nor a known intermediate");
    ck_assert_int_eq(iotsec_revocation_add_crl(rs, alien, l_alien, now), IOTSEC_E_UNTRUSTED);
    /* an intermediate that does not chain to the anchor: its CRL is refused */
    ck_assert_int_eq(iotsec_revocation_add_ca(rs, stranger.cert), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_add_crl(rs, alien, l_alien, now), IOTSEC_E_UNTRUSTED);
    ck_assert_int_eq(iotsec_revocation_last_refusal(rs, text, sizeof text, &tlen), IOTSEC_OK);
    HAS(text, "intermediate \"CN=Stranger\" does not chain to the trust anchor \"CN=Root\"");
    ck_assert_int_eq(iotsec_revocation_add_ca(rs, d1), IOTSEC_E_UNTRUSTED);
    ck_assert_int_eq(iotsec_revocation_last_refusal(rs, text, sizeof text, &tlen), IOTSEC_OK);
    HAS(text, "lacks basicConstraints CA:TRUE");
    ck_assert_int_eq(iotsec_revocation_add_ca(rs, inter.cert), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_add_ca(rs, inter.cert), IOTSEC_OK); /* again: nothing */
    ck_assert_int_eq(iotsec_revocation_add_crl(rs, int_crl_revoking, l_intr, now), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_add_crl(rs, root_crl, l_root, now), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_set_crl_policy(rs, (iotsec_crl_policy)2),
                     IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_revocation_seal(rs), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_add_ca(rs, inter.cert), IOTSEC_E_STATE);
    ck_assert_int_eq(iotsec_revocation_set_crl_policy(rs, IOTSEC_CRL_REQUIRE), IOTSEC_E_STATE);
    ck_assert_uint_eq(iotsec_revocation_serial_count(rs), 1);
    ck_assert_int_eq(iotsec_revocation_holder_new(&h, rs), IOTSEC_OK);
    policy.revocation = h;
    /* dev-1 fine, dev-2 revoked by the issuing CA's CRL */
    ck_assert_int_eq(iotsec_tls_check_chain(&policy, chain1, 2, now, &v), IOTSEC_OK);
    ck_assert_uint_eq(v.identity.chain_len, 2);
    ck_assert_int_eq(iotsec_tls_check_chain(&policy, chain2, 2, now, &v), IOTSEC_E_REVOKED);
    ck_assert_int_eq(v.reason, IOTSEC_REVOKED_CRL);
    HAS(v.detail, "device dev-2 revoked (crl)");
    ck_assert_int_eq(iotsec_revocation_check_detail(rs, &v.identity, now, &why, &level, text,
                                                    sizeof text, &tlen),
                     IOTSEC_E_REVOKED);
    ck_assert_uint_eq(level, 0);
    HAS(text, "certificate revoked by the CRL of the intermediate \"CN=Issuing CA\"");
    ck_assert_uint_eq(tlen, strlen(text));
    /* an identity read from the certificate alone is taken as issued by the anchor: the
     * anchor's CRL does not list dev-2 */
    {
        iotsec_peer_identity bare = fx_identity(d2);
        ck_assert_int_eq(iotsec_revocation_check(rs, &bare, now, &why), IOTSEC_OK);
    }
    /* a stale CRL of the issuing CA fails chains through it */
    iotsec_revocation_unref(rs);
    ck_assert_int_eq(iotsec_tls_check_chain(&policy, chain1, 2, now + 2 * 86400, &v),
                     IOTSEC_E_EXPIRED);
    HAS(v.detail, "CRL for ");
    HAS(v.detail, "expired");

    /* the root's CRL revokes the issuing CA: every device under it */
    rs = NULL;
    ck_assert_int_eq(iotsec_revocation_new(&rs, root.cert, 0), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_add_ca(rs, inter.cert), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_add_crl(rs, root_crl_revoking, l_rootr, now), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_seal(rs), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_holder_swap(h, rs, now, NULL, 0, NULL, NULL), IOTSEC_OK);
    iotsec_revocation_unref(rs);
    ck_assert_int_eq(iotsec_tls_check_chain(&policy, chain1, 2, now, &v), IOTSEC_E_REVOKED);
    ck_assert_int_eq(v.depth, 1);
    HAS(v.detail, "its intermediate \"CN=Issuing CA\" revoked (crl)");

    /* CRL policy require: a level without a CRL is refused, named */
    rs = NULL;
    ck_assert_int_eq(iotsec_revocation_new(&rs, root.cert, 0), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_add_ca(rs, inter.cert), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_set_crl_policy(rs, IOTSEC_CRL_REQUIRE), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_add_crl(rs, int_crl_short, l_short, now), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_seal(rs), IOTSEC_OK);
    iotsec_revocation_holder_free(h);
    ck_assert_int_eq(iotsec_revocation_holder_new(&h, rs), IOTSEC_OK);
    policy.revocation = h;
    ck_assert_int_eq(iotsec_tls_check_chain(&policy, chain1, 2, now, &v), IOTSEC_E_POLICY);
    HAS(v.detail, "no CRL for the trust anchor \"CN=Root\"");
    HAS(v.detail, "CRL policy: require");
    iotsec_revocation_unref(rs);
    /* with the root's CRL too: accepted; the issuing CA's goes stale first */
    {
        iotsec_revocation_config cfg;
        char d[256], p1[512], p2[512], p3[512];
        const char *crls[2];
        uint8_t mask[1];
        size_t nrev = 9;
        tu_tmpdir(d, sizeof d);
        tu_write_file(d, "root.crl", root_crl, l_root, p1, sizeof p1);
        tu_write_file(d, "int.crl", int_crl_short, l_short, p2, sizeof p2);
        tu_write_file(d, "alien.crl", alien, l_alien, p3, sizeof p3);
        memset(&cfg, 0, sizeof cfg);
        cfg.ca = root.cert;
        cfg.intermediates = &inter.cert;
        cfg.intermediate_count = 1;
        cfg.crl_policy = IOTSEC_CRL_REQUIRE;
        crls[0] = p1;
        crls[1] = p2;
        cfg.crl_paths = crls;
        cfg.crl_count = 2;
        ck_assert_int_eq(iotsec_revocation_reload(h, &cfg, now, &v.identity, 1, mask, &nrev,
                                                  NULL),
                         IOTSEC_OK);
        ck_assert_uint_eq(nrev, 0);
        ck_assert_int_eq(iotsec_tls_check_chain(&policy, chain1, 2, now, &v), IOTSEC_OK);
        ck_assert_int_eq(iotsec_tls_check_chain(&policy, chain1, 2, now + 3600, &v),
                         IOTSEC_E_EXPIRED);
        HAS(v.detail, "CRL for intermediate \"CN=Issuing CA\" expired");
        /* a reload with a foreign CRL fails, and says why */
        crls[1] = p3;
        ck_assert_int_eq(iotsec_revocation_reload(h, &cfg, now, NULL, 0, NULL, NULL, NULL),
                         IOTSEC_E_UNTRUSTED);
        ck_assert_int_eq(iotsec_revocation_holder_last_refusal(h, text, sizeof text, &tlen),
                         IOTSEC_OK);
        HAS(text, "CRL issuer \"CN=Stranger\"");
        /* the issuing CA's CRL raised its own floor: an older one is a rollback */
        crls[1] = p2;
        {
            uint8_t *older = fx_crl_numbered(&inter, NULL, 0, 1, now - 60, now + 86400, 0,
                                             &l_short);
            tu_write_file(d, "int.crl", older, l_short, p2, sizeof p2);
            free(older);
        }
        ck_assert_int_eq(iotsec_revocation_reload(h, &cfg, now, NULL, 0, NULL, NULL, NULL),
                         IOTSEC_E_ROLLBACK);
        ck_assert_int_eq(iotsec_revocation_holder_last_refusal(h, text, sizeof text, &tlen),
                         IOTSEC_OK);
        HAS(text, "CN=Issuing CA");
        {
            iotsec_crl_floor fl[IOTSEC_CRL_FLOORS_MAX];
            size_t nf = 0;
            ck_assert_int_eq(iotsec_revocation_holder_crl_floors(h, fl, IOTSEC_CRL_FLOORS_MAX,
                                                                 &nf),
                             IOTSEC_OK);
            ck_assert_uint_eq(nf, 2); /* the root's and the issuing CA's */
        }
        tu_tmpdir_cleanup(d);
    }

    iotsec_revocation_holder_free(h);
    free(root_crl);
    free(root_crl_revoking);
    free(int_crl);
    free(int_crl_revoking);
    free(int_crl_short);
    free(alien);
    X509_free(d1);
    X509_free(d2);
    EVP_PKEY_free(k1);
    EVP_PKEY_free(k2);
    fx_ca_free(&root);
    fx_ca_free(&inter);
    fx_ca_free(&stranger);
}
END_TEST

/* Chain files: several PEM certificates in, the same out. */
START_TEST(test_chain_files)
{
    fx_ca root, inter;
    EVP_PKEY *k = fx_p256();
    X509 *dev, *in[2], *out[3] = {NULL, NULL, NULL};
    size_t n = 9;
    char dir[256], path[512];
    uint8_t *text;
    size_t len;

    tu_tmpdir(dir, sizeof dir);
    fx_ca_make(&root, NULL, "Root", 1);
    fx_ca_make(&inter, &root, "Issuing CA", 0);
    dev = fx_issue(&inter, k, "dev-file");
    in[0] = dev;
    in[1] = inter.cert;
    snprintf(path, sizeof path, "%s/chain.pem", dir);
    ck_assert_int_eq(iotsec_x509_certs_write_file(in, 2, path), IOTSEC_OK);
    ck_assert_int_eq(iotsec_x509_certs_load_file(path, out, 3, &n), IOTSEC_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(X509_cmp(out[0], dev), 0);
    ck_assert_int_eq(X509_cmp(out[1], inter.cert), 0);
    X509_free(out[0]);
    X509_free(out[1]);
    ck_assert_int_eq(iotsec_x509_certs_load_file(path, out, 1, &n), IOTSEC_E_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(n, 0);
    /* one certificate files still read as one; the single-certificate decoder refuses two */
    text = tu_read_file(path, &len);
    ck_assert_int_eq(iotsec_x509_cert_decode(text, len, out), IOTSEC_E_BAD_ENCODING);
    ck_assert_int_eq(iotsec_x509_certs_decode(text, len / 2, out, 3, &n), IOTSEC_E_BAD_ENCODING);
    ck_assert_int_eq(iotsec_x509_certs_decode((const uint8_t *)"junk", 4, out, 3, &n),
                     IOTSEC_E_BAD_ENCODING);
    ck_assert_int_eq(iotsec_x509_certs_decode(text, len, out, 0, &n), IOTSEC_E_INVALID_ARG);
    free(text);
    {
        unsigned char *der = NULL;
        int dl = i2d_X509(dev, &der);
        ck_assert_int_gt(dl, 0);
        ck_assert_int_eq(iotsec_x509_certs_decode(der, (size_t)dl, out, 3, &n), IOTSEC_OK);
        ck_assert_uint_eq(n, 1);
        X509_free(out[0]);
        OPENSSL_free(der);
    }
    ck_assert_int_eq(iotsec_x509_certs_write_file(in, 0, path), IOTSEC_E_INVALID_ARG);
    X509_free(dev);
    EVP_PKEY_free(k);
    fx_ca_free(&root);
    fx_ca_free(&inter);
    tu_tmpdir_cleanup(dir);
}
END_TEST

static Suite *chain_suite(void)
{
    Suite *s = suite_create("chain");
    TCase *t = tcase_create("chain");

    tcase_set_timeout(t, 60);
    tcase_add_test(t, test_chain_layouts);
    tcase_add_test(t, test_chain_ca_rules);
    tcase_add_test(t, test_chain_revocation);
    tcase_add_test(t, test_chain_files);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return tu_run_suite(chain_suite()); }
