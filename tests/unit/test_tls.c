/* Check suite: device identity from certificates (CN, SAN URI, SAN DNS; hostile encodings)
 * and the mTLS server policy in real handshakes on 127.0.0.1 against `openssl s_client`
 * (docs/DESIGN.md §7, §10): good, revoked, denylisted, unknown-CA, expired, bad-identity and
 * certificate-less clients, and a CRL reload while the server runs. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "testutil.h"
#include "x509_fixture.h"

/* ---- building hostile certificates with the OpenSSL API -------------------------------- */

struct san {
    int type; /* GEN_URI, GEN_DNS */
    const char *value;
    size_t len; /* 0: strlen(value) */
};

/* A certificate signed by ca whose subject holds the given CN entries (raw bytes, any
 * length, embedded NULs allowed, ASN.1 string type cn_type, stored as given: OpenSSL's
 * length and character checks apply only to MBSTRING_* types) and subjectAltName entries. */
static X509 *mk_cert(const fx_ca *ca, EVP_PKEY *key, const char *const *cns, const size_t *cn_lens,
                     size_t n_cn, int cn_type, const struct san *sans, size_t n_san, long serial)
{
    X509 *c = X509_new();
    X509_NAME *name = X509_NAME_new();
    size_t i;

    ck_assert_ptr_nonnull(c);
    for (i = 0; i < n_cn; i++)
        ck_assert_msg(X509_NAME_add_entry_by_NID(name, NID_commonName, cn_type,
                                                 (const unsigned char *)cns[i], (int)cn_lens[i],
                                                 -1, 0) == 1,
                      "CN %zu bytes, type %d", cn_lens[i], cn_type);
    X509_set_version(c, X509_VERSION_3);
    ck_assert_int_eq(ASN1_INTEGER_set(X509_get_serialNumber(c), serial), 1);
    X509_set_subject_name(c, name);
    X509_set_issuer_name(c, X509_get_subject_name(ca->cert));
    X509_gmtime_adj(X509_getm_notBefore(c), -60);
    X509_gmtime_adj(X509_getm_notAfter(c), 86400);
    X509_set_pubkey(c, key);
    if (n_san > 0) {
        GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
        for (i = 0; i < n_san; i++) {
            GENERAL_NAME *g = GENERAL_NAME_new();
            ASN1_IA5STRING *s = ASN1_IA5STRING_new();
            size_t len = sans[i].len ? sans[i].len : strlen(sans[i].value);
            ck_assert_int_eq(ASN1_STRING_set(s, sans[i].value, (int)len), 1);
            GENERAL_NAME_set0_value(g, sans[i].type, s);
            sk_GENERAL_NAME_push(gens, g);
        }
        ck_assert_int_eq(X509_add1_ext_i2d(c, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT),
                         1);
        GENERAL_NAMES_free(gens);
    }
    {
        X509V3_CTX v3;
        X509_EXTENSION *ext;
        X509V3_set_ctx(&v3, ca->cert, c, NULL, NULL, 0);
        ext = X509V3_EXT_conf_nid(NULL, &v3, NID_authority_key_identifier, "keyid:always");
        X509_add_ext(c, ext, -1);
        X509_EXTENSION_free(ext);
        ext = X509V3_EXT_conf_nid(NULL, &v3, NID_ext_key_usage, "clientAuth");
        X509_add_ext(c, ext, -1);
        X509_EXTENSION_free(ext);
    }
    ck_assert_int_gt(X509_sign(c, ca->key, EVP_sha256()), 0);
    X509_NAME_free(name);
    return c;
}

static X509 *mk_cn(const fx_ca *ca, EVP_PKEY *key, const char *cn, size_t len)
{
    return mk_cert(ca, key, &cn, &len, 1, V_ASN1_UTF8STRING, NULL, 0, 1001);
}

static X509 *mk_san(const fx_ca *ca, EVP_PKEY *key, const struct san *sans, size_t n)
{
    const char *cn = "cn-ignored";
    size_t len = strlen(cn);
    return mk_cert(ca, key, &cn, &len, 1, V_ASN1_UTF8STRING, sans, n, 1002);
}

static int identity_rc(X509 *cert, iotsec_id_source src, const char *td, iotsec_peer_identity *out)
{
    iotsec_identity_policy p;
    iotsec_peer_identity tmp;
    int rc;

    p.source = src;
    p.trust_domain = td;
    rc = iotsec_x509_identity(cert, &p, out ? out : &tmp);
    X509_free(cert);
    return rc;
}

START_TEST(test_identity_cn)
{
    fx_ca ca;
    EVP_PKEY *k = fx_p256();
    X509 *c;
    iotsec_peer_identity id;
    uint8_t fp[32], serial[IOTSEC_SERIAL_LEN];
    unsigned int fp_len;
    char long_cn[80];
    const char *two[2] = {"dev-1", "dev-2"};
    size_t two_len[2] = {5, 5};

    fx_ca_new(&ca, "iotsec test CA");
    c = fx_issue(&ca, k, "3f2b9c1e-8d4a-4b7e-9f10-123456789abc");
    ck_assert_int_eq(iotsec_x509_identity(c, NULL, &id), IOTSEC_OK);
    ck_assert_str_eq(id.device_id, "3f2b9c1e-8d4a-4b7e-9f10-123456789abc");
    ck_assert_uint_eq(id.device_id_len, 36);
    ck_assert_int_eq(id.source, IOTSEC_ID_CN);
    ck_assert_int_eq(X509_digest(c, EVP_sha256(), fp, &fp_len), 1);
    ck_assert_int_eq(memcmp(id.fingerprint, fp, 32), 0);
    ck_assert_int_eq(iotsec_x509_serial(c, serial), IOTSEC_OK);
    ck_assert_int_eq(memcmp(id.serial, serial, sizeof serial), 0);
    /* binding a claimed id (a frame's device_id) to this identity: byte-exact */
    ck_assert_int_eq(iotsec_identity_match(&id, "3f2b9c1e-8d4a-4b7e-9f10-123456789abc", 36),
                     IOTSEC_OK);
    ck_assert_int_eq(iotsec_identity_match(&id, "3f2b9c1e-8d4a-4b7e-9f10-123456789abc", 35),
                     IOTSEC_E_IDENTITY_MISMATCH); /* a prefix is not the identity */
    ck_assert_int_eq(iotsec_identity_match(&id, "3F2B9C1E-8D4A-4B7E-9F10-123456789ABC", 36),
                     IOTSEC_E_IDENTITY_MISMATCH); /* no case folding */
    ck_assert_int_eq(iotsec_identity_match(&id, "dev-2", 5), IOTSEC_E_IDENTITY_MISMATCH);
    ck_assert_int_eq(iotsec_identity_match(&id, NULL, 3), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_identity_match(NULL, "dev-2", 5), IOTSEC_E_INVALID_ARG);
    /* the same certificate read for its SAN dNSName */
    ck_assert_int_eq(identity_rc(c, IOTSEC_ID_SAN_DNS, NULL, &id), IOTSEC_OK);
    ck_assert_str_eq(id.device_id, "3f2b9c1e-8d4a-4b7e-9f10-123456789abc");
    ck_assert_int_eq(id.source, IOTSEC_ID_SAN_DNS);

    ck_assert_int_eq(identity_rc(mk_cn(&ca, k, "dev-ok", 6), IOTSEC_ID_CN, NULL, &id), IOTSEC_OK);
    ck_assert_str_eq(id.device_id, "dev-ok");
    /* an embedded NUL: "dev-1\0.evil" must not become "dev-1" */
    ck_assert_int_eq(identity_rc(mk_cn(&ca, k, "dev-1\0.evil", 11), IOTSEC_ID_CN, NULL, NULL),
                     IOTSEC_E_BAD_ENCODING);
    ck_assert_int_eq(identity_rc(mk_cn(&ca, k, "dev 1", 5), IOTSEC_ID_CN, NULL, NULL),
                     IOTSEC_E_BAD_ENCODING);
    ck_assert_int_eq(identity_rc(mk_cn(&ca, k, "dev/../1", 8), IOTSEC_ID_CN, NULL, NULL),
                     IOTSEC_E_BAD_ENCODING);
    ck_assert_int_eq(identity_rc(mk_cn(&ca, k, "d\xc3\xa9v", 4), IOTSEC_ID_CN, NULL, NULL),
                     IOTSEC_E_BAD_ENCODING);
    ck_assert_int_eq(identity_rc(mk_cn(&ca, k, "dev\n1", 5), IOTSEC_ID_CN, NULL, NULL),
                     IOTSEC_E_BAD_ENCODING);
    memset(long_cn, 'a', sizeof long_cn);
    ck_assert_int_eq(identity_rc(mk_cn(&ca, k, long_cn, 64), IOTSEC_ID_CN, NULL, NULL), IOTSEC_OK);
    ck_assert_int_eq(identity_rc(mk_cn(&ca, k, long_cn, 65), IOTSEC_ID_CN, NULL, NULL),
                     IOTSEC_E_BAD_LENGTH);
    /* two CNs, no CN, a BMPString CN */
    ck_assert_int_eq(identity_rc(mk_cert(&ca, k, two, two_len, 2, V_ASN1_UTF8STRING, NULL, 0, 5),
                                 IOTSEC_ID_CN, NULL, NULL),
                     IOTSEC_E_MALFORMED);
    ck_assert_int_eq(identity_rc(mk_cert(&ca, k, NULL, NULL, 0, V_ASN1_UTF8STRING, NULL, 0, 5),
                                 IOTSEC_ID_CN, NULL, NULL),
                     IOTSEC_E_MISSING_FIELD);
    {
        const char *bmp = "\0d\0e"; /* "de" in UCS-2: not one of the accepted string types */
        size_t bmp_len = 4;
        ck_assert_int_eq(identity_rc(mk_cert(&ca, k, &bmp, &bmp_len, 1, V_ASN1_BMPSTRING, NULL, 0,
                                             5),
                                     IOTSEC_ID_CN, NULL, NULL),
                         IOTSEC_E_BAD_ENCODING);
    }
    /* serials: negative and zero are refused */
    ck_assert_int_eq(identity_rc(mk_cert(&ca, k, two, two_len, 1, V_ASN1_UTF8STRING, NULL, 0, -7),
                                 IOTSEC_ID_CN, NULL, NULL),
                     IOTSEC_E_BAD_VALUE);
    ck_assert_int_eq(identity_rc(mk_cert(&ca, k, two, two_len, 1, V_ASN1_UTF8STRING, NULL, 0, 0),
                                 IOTSEC_ID_CN, NULL, NULL),
                     IOTSEC_E_BAD_VALUE);
    /* misuse */
    c = mk_cn(&ca, k, "dev-ok", 6);
    ck_assert_int_eq(identity_rc(X509_dup(c), (iotsec_id_source)9, NULL, NULL),
                     IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_x509_identity(NULL, NULL, &id), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_x509_identity(c, NULL, NULL), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_x509_fingerprint(NULL, fp), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_x509_serial(c, NULL), IOTSEC_E_INVALID_ARG);
    X509_free(c);
    EVP_PKEY_free(k);
    fx_ca_free(&ca);
}
END_TEST

/* A certificate refused for what every identity needs (its serial) is refused with the same
 * code under every identity policy: the trust-domain policy must not answer first. (Found by
 * fuzz_x509_identity: a negative serial with a foreign SPIFFE trust domain gave BAD_VALUE
 * without a trust domain and POLICY with one; corpus file regress-negative-serial-foreign-td.) */
START_TEST(test_identity_serial_before_source)
{
    fx_ca ca;
    EVP_PKEY *k = fx_p256();
    const struct san sans[1] = {{GEN_URI, "spiffe://other.example/device/dev-7", 0}};
    const char *cn = "dev-7";
    size_t cn_len = 5;
    long serial;

    fx_ca_new(&ca, "iotsec test CA");
    for (serial = -5; serial <= 0; serial += 5) {
        ck_assert_int_eq(identity_rc(mk_cert(&ca, k, &cn, &cn_len, 1, V_ASN1_UTF8STRING, sans, 1,
                                             serial),
                                     IOTSEC_ID_CN, NULL, NULL),
                         IOTSEC_E_BAD_VALUE);
        ck_assert_int_eq(identity_rc(mk_cert(&ca, k, &cn, &cn_len, 1, V_ASN1_UTF8STRING, sans, 1,
                                             serial),
                                     IOTSEC_ID_SAN_URI, NULL, NULL),
                         IOTSEC_E_BAD_VALUE);
        ck_assert_int_eq(identity_rc(mk_cert(&ca, k, &cn, &cn_len, 1, V_ASN1_UTF8STRING, sans, 1,
                                             serial),
                                     IOTSEC_ID_SAN_URI, "fleet.example", NULL),
                         IOTSEC_E_BAD_VALUE);
    }
    /* with a valid serial the trust domain decides */
    ck_assert_int_eq(identity_rc(mk_cert(&ca, k, &cn, &cn_len, 1, V_ASN1_UTF8STRING, sans, 1, 9),
                                 IOTSEC_ID_SAN_URI, "fleet.example", NULL),
                     IOTSEC_E_POLICY);
    EVP_PKEY_free(k);
    fx_ca_free(&ca);
}
END_TEST

START_TEST(test_identity_san)
{
    static const struct {
        const char *uri;
        int rc;
    } uris[] = {
        {"spiffe://fleet.example/device/dev-7", IOTSEC_OK},
        {"spiffe://fleet.example/device/a:b@c_d.e-f", IOTSEC_OK},
        {"https://fleet.example/device/dev-7", IOTSEC_E_BAD_VALUE},
        {"SPIFFE://fleet.example/device/dev-7", IOTSEC_E_BAD_VALUE},
        {"spiffe://Fleet.example/device/dev-7", IOTSEC_E_BAD_VALUE},
        {"spiffe://fleet.example:443/device/dev-7", IOTSEC_E_BAD_VALUE},
        {"spiffe://user@fleet.example/device/dev-7", IOTSEC_E_BAD_VALUE},
        {"spiffe:///device/dev-7", IOTSEC_E_BAD_VALUE},
        {"spiffe://fleet.example", IOTSEC_E_BAD_VALUE},
        {"spiffe://fleet.example/devices/dev-7", IOTSEC_E_BAD_VALUE},
        {"spiffe://fleet.example/x/device/dev-7", IOTSEC_E_BAD_VALUE},
        {"spiffe://fleet.example/device/..", IOTSEC_E_BAD_VALUE},
        {"spiffe://fleet.example/device/.", IOTSEC_E_BAD_VALUE},
        {"spiffe://fleet.example/device/", IOTSEC_E_BAD_LENGTH},
        {"spiffe://fleet.example/device/dev-7/extra", IOTSEC_E_BAD_ENCODING},
        {"spiffe://fleet.example/device/dev-7?x=1", IOTSEC_E_BAD_ENCODING},
        {"spiffe://fleet.example/device/dev-7#f", IOTSEC_E_BAD_ENCODING},
        {"spiffe://fleet.example/device/dev%2d7", IOTSEC_E_BAD_ENCODING},
    };
    fx_ca ca;
    EVP_PKEY *k = fx_p256();
    iotsec_peer_identity id;
    struct san s[2];
    size_t i;

    fx_ca_new(&ca, "iotsec test CA");
    for (i = 0; i < sizeof uris / sizeof uris[0]; i++) {
        s[0].type = GEN_URI;
        s[0].value = uris[i].uri;
        s[0].len = 0;
        ck_assert_msg(identity_rc(mk_san(&ca, k, s, 1), IOTSEC_ID_SAN_URI, NULL, &id) == uris[i].rc,
                      "%s", uris[i].uri);
    }
    s[0].value = "spiffe://fleet.example/device/dev-7";
    ck_assert_int_eq(identity_rc(mk_san(&ca, k, s, 1), IOTSEC_ID_SAN_URI, "fleet.example", &id),
                     IOTSEC_OK);
    ck_assert_str_eq(id.device_id, "dev-7");
    ck_assert_int_eq(id.source, IOTSEC_ID_SAN_URI);
    ck_assert_int_eq(identity_rc(mk_san(&ca, k, s, 1), IOTSEC_ID_SAN_URI, "other.example", &id),
                     IOTSEC_E_POLICY);
    ck_assert_int_eq(identity_rc(mk_san(&ca, k, s, 1), IOTSEC_ID_SAN_URI, "fleet.exampl", &id),
                     IOTSEC_E_POLICY);
    /* an embedded NUL inside the URI's device id */
    s[0].value = "spiffe://fleet.example/device/dev\0-7";
    s[0].len = 36;
    ck_assert_int_eq(identity_rc(mk_san(&ca, k, s, 1), IOTSEC_ID_SAN_URI, NULL, &id),
                     IOTSEC_E_BAD_ENCODING);
    /* two URIs: which device is it? refused */
    s[0].value = "spiffe://fleet.example/device/dev-7";
    s[0].len = 0;
    s[1] = s[0];
    s[1].value = "spiffe://fleet.example/device/dev-8";
    ck_assert_int_eq(identity_rc(mk_san(&ca, k, s, 2), IOTSEC_ID_SAN_URI, NULL, &id),
                     IOTSEC_E_MALFORMED);
    /* one URI among other names is fine; no URI at all is missing */
    s[1].type = GEN_DNS;
    s[1].value = "dev-8";
    ck_assert_int_eq(identity_rc(mk_san(&ca, k, s, 2), IOTSEC_ID_SAN_URI, NULL, &id), IOTSEC_OK);
    ck_assert_str_eq(id.device_id, "dev-7");
    ck_assert_int_eq(identity_rc(mk_san(&ca, k, s, 2), IOTSEC_ID_SAN_DNS, NULL, &id), IOTSEC_OK);
    ck_assert_str_eq(id.device_id, "dev-8");
    ck_assert_int_eq(identity_rc(mk_san(&ca, k, s + 1, 1), IOTSEC_ID_SAN_URI, NULL, &id),
                     IOTSEC_E_MISSING_FIELD);
    ck_assert_int_eq(identity_rc(mk_cn(&ca, k, "dev-1", 5), IOTSEC_ID_SAN_DNS, NULL, &id),
                     IOTSEC_E_MISSING_FIELD);
    /* DNS: two names, a wildcard, a NUL */
    s[0] = s[1];
    s[0].value = "dev-9";
    ck_assert_int_eq(identity_rc(mk_san(&ca, k, s, 2), IOTSEC_ID_SAN_DNS, NULL, &id),
                     IOTSEC_E_MALFORMED);
    s[0].value = "*.fleet.example";
    ck_assert_int_eq(identity_rc(mk_san(&ca, k, s, 1), IOTSEC_ID_SAN_DNS, NULL, &id),
                     IOTSEC_E_BAD_ENCODING);
    s[0].value = "dev-9\0.fleet.example";
    s[0].len = 20;
    ck_assert_int_eq(identity_rc(mk_san(&ca, k, s, 1), IOTSEC_ID_SAN_DNS, NULL, &id),
                     IOTSEC_E_BAD_ENCODING);
    /* two subjectAltName extensions */
    {
        X509 *c;
        GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
        GENERAL_NAME *g = GENERAL_NAME_new();
        ASN1_IA5STRING *str = ASN1_IA5STRING_new();
        s[0].value = "dev-9";
        s[0].len = 0;
        c = mk_san(&ca, k, s, 1);
        ASN1_STRING_set(str, "dev-10", -1);
        GENERAL_NAME_set0_value(g, GEN_DNS, str);
        sk_GENERAL_NAME_push(gens, g);
        ck_assert_int_eq(X509_add1_ext_i2d(c, NID_subject_alt_name, gens, 0, X509V3_ADD_APPEND), 1);
        GENERAL_NAMES_free(gens);
        ck_assert_int_gt(X509_sign(c, ca.key, EVP_sha256()), 0);
        ck_assert_int_eq(identity_rc(c, IOTSEC_ID_SAN_DNS, NULL, &id), IOTSEC_E_MALFORMED);
    }
    EVP_PKEY_free(k);
    fx_ca_free(&ca);
}
END_TEST

/* ---- a TLS server on 127.0.0.1 -------------------------------------------------------- */

struct server {
    SSL_CTX *ctx;
    int fd;
    int port;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stop;
    int handled;                 /* connections finished */
    int accepted;                /* of which the handshake succeeded */
    iotsec_tls_verdict verdict;  /* of the last connection */
    iotsec_peer_identity open[16]; /* identities of accepted connections */
    size_t n_open;
    int callbacks;               /* on_verdict calls */
    int last_cb_code;
};

static void on_verdict(void *arg, SSL *ssl, const iotsec_tls_verdict *v)
{
    struct server *srv = arg;

    (void)ssl;
    pthread_mutex_lock(&srv->lock);
    srv->callbacks++;
    srv->last_cb_code = v->code;
    pthread_mutex_unlock(&srv->lock);
}

static void serve_one(struct server *srv, int cfd)
{
    SSL *ssl = SSL_new(srv->ctx);
    iotsec_tls_verdict v;
    iotsec_peer_identity id;
    int ok;

    ck_assert_ptr_nonnull(ssl);
    SSL_set_fd(ssl, cfd);
    ok = SSL_accept(ssl) == 1;
    if (ok) {
        char line[128];
        int n;
        ck_assert_int_eq(iotsec_tls_peer_identity(ssl, NULL, &id), IOTSEC_OK);
        n = snprintf(line, sizeof line, "AUTH OK %s\n", id.device_id);
        (void)SSL_write(ssl, line, n);
        (void)SSL_shutdown(ssl);
    }
    ck_assert_int_eq(iotsec_tls_verdict_get(ssl, &v), IOTSEC_OK);
    pthread_mutex_lock(&srv->lock);
    srv->verdict = v;
    if (ok && srv->n_open < 16)
        srv->open[srv->n_open++] = id;
    srv->accepted += ok;
    srv->handled++;
    pthread_cond_broadcast(&srv->cond);
    pthread_mutex_unlock(&srv->lock);
    SSL_free(ssl);
    ERR_clear_error();
}

static void *server_main(void *arg)
{
    struct server *srv = arg;

    for (;;) {
        struct pollfd p;
        int stop, cfd;
        pthread_mutex_lock(&srv->lock);
        stop = srv->stop;
        pthread_mutex_unlock(&srv->lock);
        if (stop)
            break;
        p.fd = srv->fd;
        p.events = POLLIN;
        if (poll(&p, 1, 50) <= 0)
            continue;
        cfd = accept(srv->fd, NULL, NULL);
        if (cfd < 0)
            continue;
        serve_one(srv, cfd);
        close(cfd);
    }
    return NULL;
}

static void server_start(struct server *srv, SSL_CTX *ctx)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    int one = 1;

    memset(srv, 0, sizeof *srv);
    srv->ctx = ctx;
    pthread_mutex_init(&srv->lock, NULL);
    pthread_cond_init(&srv->cond, NULL);
    srv->fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(srv->fd, 0);
    setsockopt(srv->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0; /* ephemeral */
    ck_assert_int_eq(bind(srv->fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(srv->fd, 8), 0);
    ck_assert_int_eq(getsockname(srv->fd, (struct sockaddr *)&a, &alen), 0);
    srv->port = ntohs(a.sin_port);
    ck_assert_int_eq(pthread_create(&srv->thread, NULL, server_main, srv), 0);
}

static void server_stop(struct server *srv)
{
    pthread_mutex_lock(&srv->lock);
    srv->stop = 1;
    pthread_mutex_unlock(&srv->lock);
    ck_assert_int_eq(pthread_join(srv->thread, NULL), 0);
    close(srv->fd);
    pthread_mutex_destroy(&srv->lock);
    pthread_cond_destroy(&srv->cond);
}

/* Run `openssl s_client` against the server with the given client certificate and key
 * (NULL: none) and extra options; wait until the server has finished with the connection.
 * Returns 1 if the server's greeting reached the client; *out gets s_client's output. */
static int connect_client(struct server *srv, const char *dir, const char *cert, const char *key,
                          const char *extra, char *out, size_t cap)
{
    char cmd_cert[1200] = "", path[512];
    uint8_t *text;
    size_t len;
    int before, status;

    pthread_mutex_lock(&srv->lock);
    before = srv->handled;
    pthread_mutex_unlock(&srv->lock);
    if (cert != NULL)
        snprintf(cmd_cert, sizeof cmd_cert, "-cert '%s' -key '%s'", cert, key);
    status = tu_sh("timeout 20 openssl s_client -connect 127.0.0.1:%d -servername localhost "
                   "-CAfile '%s/ca.pem' -verify_return_error %s %s -ign_eof </dev/null "
                   ">'%s/client.out' 2>&1",
                   srv->port, dir, cmd_cert, extra ? extra : "", dir);
    ck_assert_int_ne(status, 124); /* timeout(1): s_client hung */
    pthread_mutex_lock(&srv->lock);
    while (srv->handled == before)
        pthread_cond_wait(&srv->cond, &srv->lock);
    pthread_mutex_unlock(&srv->lock);
    snprintf(path, sizeof path, "%s/client.out", dir);
    text = tu_read_file(path, &len);
    snprintf(out, cap, "%.*s", (int)len, (const char *)text);
    free(text);
    return strstr(out, "AUTH OK ") != NULL;
}

/* A device key and certificate written to dir as <name>.key / <name>.pem. */
static void write_pair(const char *dir, const char *name, X509 *cert, EVP_PKEY *key,
                       char *cert_path, char *key_path)
{
    char file[128];

    snprintf(file, sizeof file, "%s.pem", name);
    fx_write_cert(dir, file, cert, cert_path, 512);
    snprintf(file, sizeof file, "%s.key", name);
    fx_write_key(dir, file, key, key_path, 512);
}

/* A server certificate from ca for key: CN = SAN DNS = name, SAN IP 127.0.0.1, valid from
 * a minute ago for a day. */
static X509 *server_cert_for(const fx_ca *ca, EVP_PKEY *key, const char *name, int64_t now)
{
    return fx_issue_profile(ca, key, name, IOTSEC_X509_PROFILE_SERVER, "127.0.0.1", now - 60,
                            now + 86400);
}

/* A TLS server context presenting cert and key. */
static SSL_CTX *server_ctx(X509 *cert, EVP_PKEY *key)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    ck_assert_ptr_nonnull(ctx);
    ck_assert_int_eq(SSL_CTX_use_certificate(ctx, cert), 1);
    ck_assert_int_eq(SSL_CTX_use_PrivateKey(ctx, key), 1);
    return ctx;
}

/* The suites and groups iotsec_tls_server_setup configures (tls.h), read back from the
 * SSL_CTX: exactly TLS 1.3's three suites and the six ECDHE + AEAD suites of TLS 1.2, each
 * checked by its properties too. */
START_TEST(test_cipher_policy)
{
    static const char *const want[] = {
        "TLS_AES_128_GCM_SHA256",        "TLS_AES_256_GCM_SHA384",
        "TLS_CHACHA20_POLY1305_SHA256",  "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",   "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",   "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
    };
    fx_ca ca;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    STACK_OF(SSL_CIPHER) *sk;
    iotsec_tls_policy policy;
    int i, n, kx, cipher;

    ck_assert_ptr_nonnull(ctx);
    fx_ca_new(&ca, "iotsec cipher CA");
    memset(&policy, 0, sizeof policy);
    policy.ca = ca.cert;
    ck_assert_int_eq(iotsec_tls_server_setup(ctx, &policy), IOTSEC_OK);
    ck_assert_int_eq(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
    sk = SSL_CTX_get_ciphers(ctx);
    n = sk_SSL_CIPHER_num(sk);
    ck_assert_int_eq(n, (int)(sizeof want / sizeof want[0]));
    for (i = 0; i < n; i++) {
        const SSL_CIPHER *c = sk_SSL_CIPHER_value(sk, i);
        ck_assert_str_eq(SSL_CIPHER_get_name(c), want[i]);
        kx = SSL_CIPHER_get_kx_nid(c);
        cipher = SSL_CIPHER_get_cipher_nid(c);
        ck_assert(SSL_CIPHER_is_aead(c));
        ck_assert(cipher == NID_aes_128_gcm || cipher == NID_aes_256_gcm ||
                  cipher == NID_chacha20_poly1305);
        if (i < 3) {
            ck_assert_int_eq(kx, NID_kx_any);
            ck_assert_str_eq(SSL_CIPHER_get_version(c), "TLSv1.3");
        } else {
            ck_assert_int_eq(kx, NID_kx_ecdhe);
            ck_assert_str_eq(SSL_CIPHER_get_version(c), "TLSv1.2");
        }
    }
    SSL_CTX_free(ctx);
    fx_ca_free(&ca);
}
END_TEST

START_TEST(test_handshakes)
{
    fx_ca ca, stranger;
    EVP_PKEY *ks = fx_p256(), *kg = fx_p256(), *kr = fx_p256(), *kx = fx_p256(),
             *kf = fx_p256(), *ki = fx_p256(), *kb = fx_p256(), *kn = fx_p256();
    X509 *server_cert = NULL, *good, *revoked, *unknown, *expired, *fp_listed, *id_listed, *bad_id,
         *newly;
    iotsec_revocation *rs = NULL;
    iotsec_revocation_holder *h = NULL;
    iotsec_revocation_config cfg;
    iotsec_tls_policy policy;
    struct server srv;
    SSL_CTX *ctx;
    char dir[256], path[512], crl_path[512], deny_path[512], out[16384];
    char c_good[512], k_good[512], c_rev[512], k_rev[512], c_unk[512], k_unk[512];
    char c_exp[512], k_exp[512], c_fp[512], k_fp[512], c_id[512], k_id[512];
    char c_bad[512], k_bad[512], c_new[512], k_new[512], deny[256], hex[65];
    const char *crls[1];
    X509 *to_revoke[2];
    uint8_t *pem, mask[16];
    size_t len, n_rev = 0, i;
    int64_t now = fx_now();
    iotsec_peer_identity fid;

    signal(SIGPIPE, SIG_IGN);
    tu_tmpdir(dir, sizeof dir);
    fx_ca_new(&ca, "iotsec device CA");
    fx_ca_new(&stranger, "iotsec device CA"); /* same name, other key */
    fx_write_cert(dir, "ca.pem", ca.cert, path, sizeof path);

    server_cert = server_cert_for(&ca, ks, "localhost", now);
    good = fx_issue(&ca, kg, "dev-good");
    revoked = fx_issue(&ca, kr, "dev-revoked");
    unknown = fx_issue(&stranger, kx, "dev-good");
    expired = fx_issue_at(&ca, kf, "dev-expired", now - 3 * 86400, now - 86400);
    fp_listed = fx_issue(&ca, ki, "dev-fp");
    id_listed = fx_issue(&ca, kb, "dev-banned");
    bad_id = mk_cn(&ca, kn, "dev bad", 7);
    newly = fx_issue(&ca, kn, "dev-newly");
    write_pair(dir, "good", good, kg, c_good, k_good);
    write_pair(dir, "revoked", revoked, kr, c_rev, k_rev);
    write_pair(dir, "unknown", unknown, kx, c_unk, k_unk);
    write_pair(dir, "expired", expired, kf, c_exp, k_exp);
    write_pair(dir, "fp", fp_listed, ki, c_fp, k_fp);
    write_pair(dir, "banned", id_listed, kb, c_id, k_id);
    write_pair(dir, "bad", bad_id, kn, c_bad, k_bad);
    write_pair(dir, "newly", newly, kn, c_new, k_new);

    /* revocation: a CRL revoking dev-revoked, a denylist with dev-fp's fingerprint and id
     * dev-banned */
    pem = fx_crl(&ca, &revoked, 1, now - 60, now + 86400, 1, &len);
    tu_write_file(dir, "ca.crl", pem, len, crl_path, sizeof crl_path);
    free(pem);
    fid = fx_identity(fp_listed);
    ck_assert_int_eq(iotsec_hex_encode(fid.fingerprint, 32, hex, sizeof hex), IOTSEC_OK);
    snprintf(deny, sizeof deny, "sha256:%s\nid:dev-banned\n", hex);
    tu_write_file(dir, "deny.txt", deny, strlen(deny), deny_path, sizeof deny_path);
    crls[0] = crl_path;
    memset(&cfg, 0, sizeof cfg);
    cfg.ca = ca.cert;
    cfg.crl_paths = crls;
    cfg.crl_count = 1;
    cfg.denylist_path = deny_path;
    ck_assert_int_eq(iotsec_revocation_load(&rs, &cfg, now, NULL), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_holder_new(&h, rs), IOTSEC_OK);
    iotsec_revocation_unref(rs);

    ctx = server_ctx(server_cert, ks);
    memset(&policy, 0, sizeof policy);
    policy.ca = ca.cert;
    policy.revocation = h;
    policy.identity.source = IOTSEC_ID_CN;
    policy.on_verdict = on_verdict;
    ck_assert_int_eq(iotsec_tls_server_setup(ctx, &policy), IOTSEC_OK);
    ck_assert_int_eq(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
    ck_assert_int_eq(SSL_CTX_get_verify_mode(ctx),
                     SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
    server_start(&srv, ctx);
    /* the policy is copied: the callback argument can be set now */
    policy.cb_arg = &srv;
    ck_assert_int_eq(iotsec_tls_server_setup(ctx, &policy), IOTSEC_OK);

    /* good certificate: connected, identity from the CN, on_verdict told */
    ck_assert_msg(connect_client(&srv, dir, c_good, k_good, NULL, out, sizeof out), "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "AUTH OK dev-good"));
    ck_assert_int_eq(srv.verdict.code, IOTSEC_OK);
    ck_assert(srv.verdict.have_identity);
    ck_assert_str_eq(srv.verdict.identity.device_id, "dev-good");
    ck_assert_int_eq(srv.callbacks, 1);
    ck_assert_int_eq(srv.last_cb_code, IOTSEC_OK);
    /* and with TLS 1.2 */
    ck_assert_msg(connect_client(&srv, dir, c_good, k_good, "-tls1_2", out, sizeof out), "%s", out);

    /* revoked by the CRL: alert certificate_revoked, reason crl */
    ck_assert(!connect_client(&srv, dir, c_rev, k_rev, NULL, out, sizeof out));
    ck_assert_msg(strstr(out, "certificate revoked") != NULL, "%s", out);
    ck_assert_int_eq(srv.verdict.code, IOTSEC_E_REVOKED);
    ck_assert_int_eq(srv.verdict.reason, IOTSEC_REVOKED_CRL);
    ck_assert_int_eq(srv.verdict.x509_error, X509_V_ERR_CERT_REVOKED);
    ck_assert_str_eq(srv.verdict.identity.device_id, "dev-revoked");
    ck_assert_msg(strstr(srv.verdict.detail, "revoked (crl)") != NULL, "%s", srv.verdict.detail);
    ck_assert_int_eq(srv.last_cb_code, IOTSEC_E_REVOKED);
    ck_assert(!connect_client(&srv, dir, c_rev, k_rev, "-tls1_2", out, sizeof out));
    ck_assert_msg(strstr(out, "certificate revoked") != NULL, "%s", out);

    /* denylisted by fingerprint and by id */
    ck_assert(!connect_client(&srv, dir, c_fp, k_fp, NULL, out, sizeof out));
    ck_assert_int_eq(srv.verdict.code, IOTSEC_E_REVOKED);
    ck_assert_int_eq(srv.verdict.reason, IOTSEC_REVOKED_FINGERPRINT);
    ck_assert(!connect_client(&srv, dir, c_id, k_id, NULL, out, sizeof out));
    ck_assert_int_eq(srv.verdict.code, IOTSEC_E_REVOKED);
    ck_assert_int_eq(srv.verdict.reason, IOTSEC_REVOKED_DEVICE_ID);

    /* unknown CA (same CA name, other key) */
    ck_assert(!connect_client(&srv, dir, c_unk, k_unk, NULL, out, sizeof out));
    ck_assert_int_eq(srv.verdict.code, IOTSEC_E_UNTRUSTED);
    ck_assert_int_eq(srv.verdict.depth, 0);
    ck_assert_msg(srv.verdict.x509_error == X509_V_ERR_CERT_SIGNATURE_FAILURE ||
                      srv.verdict.x509_error == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
                  "%d", srv.verdict.x509_error);

    /* expired */
    ck_assert(!connect_client(&srv, dir, c_exp, k_exp, NULL, out, sizeof out));
    ck_assert_msg(strstr(out, "certificate expired") != NULL, "%s", out);
    ck_assert_int_eq(srv.verdict.code, IOTSEC_E_EXPIRED);
    ck_assert_int_eq(srv.verdict.x509_error, X509_V_ERR_CERT_HAS_EXPIRED);
    ck_assert_str_eq(srv.verdict.identity.device_id, "dev-expired");

    /* no valid identity */
    ck_assert(!connect_client(&srv, dir, c_bad, k_bad, NULL, out, sizeof out));
    ck_assert_msg(strstr(out, "bad certificate") != NULL, "%s", out);
    ck_assert_int_eq(srv.verdict.code, IOTSEC_E_BAD_ENCODING);
    ck_assert_int_eq(srv.verdict.x509_error, X509_V_ERR_CERT_REJECTED);
    ck_assert(!srv.verdict.have_identity);

    /* no certificate at all; then TLS 1.1 */
    ck_assert(!connect_client(&srv, dir, NULL, NULL, NULL, out, sizeof out));
    ck_assert_int_eq(srv.verdict.code, IOTSEC_E_UNTRUSTED);
    ck_assert_ptr_nonnull(strstr(srv.verdict.detail, "no client certificate"));
    ck_assert(!connect_client(&srv, dir, c_good, k_good, "-tls1_1", out, sizeof out));
    ck_assert_int_eq(srv.accepted, 2);

    /* dev-newly connects, then a reload revokes it and dev-good: reload reports both among
     * the open identities, and dev-newly's next handshake fails */
    ck_assert(connect_client(&srv, dir, c_new, k_new, NULL, out, sizeof out));
    to_revoke[0] = revoked;
    to_revoke[1] = newly;
    pem = fx_crl(&ca, to_revoke, 2, now - 30, now + 86400, 1, &len);
    tu_write_file(dir, "ca.crl", pem, len, crl_path, sizeof crl_path);
    free(pem);
    tu_write_file(dir, "deny.txt", "id:dev-good\n", 12, deny_path, sizeof deny_path);
    pthread_mutex_lock(&srv.lock);
    ck_assert_uint_eq(srv.n_open, 3); /* dev-good twice, dev-newly */
    ck_assert_int_eq(iotsec_revocation_reload(h, &cfg, fx_now(), srv.open, srv.n_open, mask,
                                              &n_rev, NULL),
                     IOTSEC_OK);
    for (i = 0; i < srv.n_open; i++) {
        if (strcmp(srv.open[i].device_id, "dev-newly") == 0)
            ck_assert_uint_eq(mask[i], IOTSEC_REVOKED_CRL);
        else
            ck_assert_uint_eq(mask[i], IOTSEC_REVOKED_DEVICE_ID);
    }
    pthread_mutex_unlock(&srv.lock);
    ck_assert_uint_eq(n_rev, 3);
    ck_assert(!connect_client(&srv, dir, c_new, k_new, NULL, out, sizeof out));
    ck_assert_int_eq(srv.verdict.code, IOTSEC_E_REVOKED);
    ck_assert_int_eq(srv.verdict.reason, IOTSEC_REVOKED_CRL);
    ck_assert(!connect_client(&srv, dir, c_good, k_good, NULL, out, sizeof out));
    ck_assert_int_eq(srv.verdict.reason, IOTSEC_REVOKED_DEVICE_ID);

    /* the suite policy in real handshakes (tests/scripts/tls_policy.sh tries every suite;
     * dev-fp is no longer denylisted):
     * ChaCha20-Poly1305 in both versions is in, CBC with SHA-256 or SHA-1 and finite-field
     * groups are out */
    ck_assert_msg(connect_client(&srv, dir, c_fp, k_fp,
                                 "-tls1_2 -cipher ECDHE-ECDSA-CHACHA20-POLY1305", out, sizeof out),
                  "%s", out);
    ck_assert_msg(strstr(out, "ECDHE-ECDSA-CHACHA20-POLY1305") != NULL, "%s", out);
    ck_assert_msg(connect_client(&srv, dir, c_fp, k_fp,
                                 "-tls1_3 -ciphersuites TLS_CHACHA20_POLY1305_SHA256", out,
                                 sizeof out),
                  "%s", out);
    ck_assert(!connect_client(&srv, dir, c_fp, k_fp,
                              "-tls1_2 -cipher ECDHE-ECDSA-AES128-SHA256", out, sizeof out));
    ck_assert_msg(strstr(out, "handshake failure") != NULL, "%s", out); /* refused by us */
    ck_assert(!connect_client(&srv, dir, c_fp, k_fp, "-tls1_2 -cipher ECDHE-ECDSA-AES256-SHA",
                              out, sizeof out));
    ck_assert_msg(strstr(out, "handshake failure") != NULL, "%s", out); /* refused by us */
    ck_assert(!connect_client(&srv, dir, c_fp, k_fp, "-tls1_3 -groups ffdhe2048", out,
                              sizeof out));
    ck_assert_msg(strstr(out, "handshake failure") != NULL, "%s", out); /* refused by us */

    /* the same context switched to SAN URI identities: dev-good has none */
    policy.identity.source = IOTSEC_ID_SAN_URI;
    policy.identity.trust_domain = "fleet.example";
    policy.revocation = NULL;
    ck_assert_int_eq(iotsec_tls_server_setup(ctx, &policy), IOTSEC_OK);
    ck_assert(!connect_client(&srv, dir, c_good, k_good, NULL, out, sizeof out));
    ck_assert_int_eq(srv.verdict.code, IOTSEC_E_MISSING_FIELD);
    {
        struct san s[2] = {{GEN_URI, "spiffe://fleet.example/device/uri-dev", 0},
                           {GEN_URI, "spiffe://fleet.example/device/uri-dev-2", 0}};
        X509 *one = mk_san(&ca, kn, s, 1), *two = mk_san(&ca, kn, s, 2);
        char c1[512], k1[512], c2[512], k2[512];
        write_pair(dir, "uri1", one, kn, c1, k1);
        write_pair(dir, "uri2", two, kn, c2, k2);
        ck_assert_msg(connect_client(&srv, dir, c1, k1, NULL, out, sizeof out), "%s", out);
        ck_assert_ptr_nonnull(strstr(out, "AUTH OK uri-dev"));
        ck_assert(!connect_client(&srv, dir, c2, k2, NULL, out, sizeof out));
        ck_assert_int_eq(srv.verdict.code, IOTSEC_E_MALFORMED);
        X509_free(one);
        X509_free(two);
    }
    server_stop(&srv);

    /* outside a handshake: the same decisions */
    policy.identity.source = IOTSEC_ID_CN;
    policy.identity.trust_domain = NULL;
    policy.revocation = h;
    {
        iotsec_tls_verdict v;
        /* the set now in force: CRL {dev-revoked, dev-newly}, denylist {id:dev-good} */
        ck_assert_int_eq(iotsec_tls_check_cert(&policy, fp_listed, now, &v), IOTSEC_OK);
        ck_assert_str_eq(v.identity.device_id, "dev-fp");
        ck_assert_int_eq(iotsec_tls_check_cert(&policy, good, now, &v), IOTSEC_E_REVOKED);
        ck_assert_int_eq(v.reason, IOTSEC_REVOKED_DEVICE_ID);
        ck_assert_int_eq(iotsec_tls_check_cert(&policy, newly, now, &v), IOTSEC_E_REVOKED);
        ck_assert_int_eq(v.reason, IOTSEC_REVOKED_CRL);
        ck_assert_int_eq(iotsec_tls_check_cert(&policy, revoked, now, NULL), IOTSEC_E_REVOKED);
        ck_assert_int_eq(iotsec_tls_check_cert(&policy, unknown, now, &v), IOTSEC_E_UNTRUSTED);
        ck_assert_int_eq(iotsec_tls_check_cert(&policy, expired, now, &v), IOTSEC_E_EXPIRED);
        ck_assert_str_eq(v.identity.device_id, "dev-expired");
        ck_assert_int_eq(iotsec_tls_check_cert(&policy, bad_id, now, &v), IOTSEC_E_BAD_ENCODING);
        /* once the CRL is stale a listed certificate stays revoked, an unlisted one gets no
         * answer */
        ck_assert_int_eq(iotsec_tls_check_cert(&policy, good, now + 2 * 86400, &v),
                         IOTSEC_E_REVOKED);
        ck_assert_int_eq(iotsec_tls_check_cert(&policy, fp_listed, now + 2 * 86400, &v),
                         IOTSEC_E_EXPIRED);
        ck_assert_int_eq(iotsec_tls_check_cert(NULL, good, now, &v), IOTSEC_E_INVALID_ARG);
    }

    /* misuse and state */
    {
        SSL *ssl = SSL_new(ctx);
        SSL_CTX *bare = SSL_CTX_new(TLS_server_method());
        SSL *bare_ssl = SSL_new(bare);
        iotsec_peer_identity id;
        iotsec_tls_verdict v;
        ck_assert_int_eq(iotsec_tls_peer_identity(ssl, NULL, &id), IOTSEC_E_UNTRUSTED);
        ck_assert_int_eq(iotsec_tls_peer_identity(bare_ssl, NULL, &id), IOTSEC_E_STATE);
        ck_assert_int_eq(iotsec_tls_peer_identity(bare_ssl, &policy, &id), IOTSEC_E_UNTRUSTED);
        ck_assert_int_eq(iotsec_tls_peer_identity(NULL, &policy, &id), IOTSEC_E_INVALID_ARG);
        ck_assert_int_eq(iotsec_tls_verdict_get(ssl, &v), IOTSEC_OK);
        ck_assert_int_eq(v.code, IOTSEC_E_UNTRUSTED);
        ck_assert_int_eq(iotsec_tls_verdict_get(NULL, &v), IOTSEC_E_INVALID_ARG);
        ck_assert_int_eq(iotsec_tls_server_setup(NULL, &policy), IOTSEC_E_INVALID_ARG);
        policy.identity.source = (iotsec_id_source)5;
        ck_assert_int_eq(iotsec_tls_server_setup(bare, &policy), IOTSEC_E_INVALID_ARG);
        policy.ca = NULL;
        ck_assert_int_eq(iotsec_tls_server_setup(bare, &policy), IOTSEC_E_INVALID_ARG);
        SSL_free(ssl);
        SSL_free(bare_ssl);
        SSL_CTX_free(bare);
    }
    SSL_CTX_free(ctx);
    iotsec_revocation_holder_free(h);
    X509_free(server_cert);
    X509_free(good);
    X509_free(revoked);
    X509_free(unknown);
    X509_free(expired);
    X509_free(fp_listed);
    X509_free(id_listed);
    X509_free(bad_id);
    X509_free(newly);
    EVP_PKEY_free(ks);
    EVP_PKEY_free(kg);
    EVP_PKEY_free(kr);
    EVP_PKEY_free(kx);
    EVP_PKEY_free(kf);
    EVP_PKEY_free(ki);
    EVP_PKEY_free(kb);
    EVP_PKEY_free(kn);
    fx_ca_free(&ca);
    fx_ca_free(&stranger);
    tu_tmpdir_cleanup(dir);
}
END_TEST

/* A device certificate from `openssl ca` is accepted by a server whose device CA is the
 * openssl CA, and refused once openssl's own CRL revokes it. */
START_TEST(test_handshake_openssl_ca)
{
    char dir[256], path[512], out[16384], c1[512], k1[512];
    X509 *ca, *server_cert = NULL;
    EVP_PKEY *cakey = NULL, *ks = fx_p256();
    iotsec_x509_cert_params p;
    iotsec_revocation_holder *h = NULL;
    iotsec_revocation *rs = NULL;
    iotsec_revocation_config cfg;
    iotsec_tls_policy policy;
    struct server srv;
    const char *crls[1];
    SSL_CTX *ctx;
    int64_t now = fx_now();

    signal(SIGPIPE, SIG_IGN);
    tu_tmpdir(dir, sizeof dir);
    fx_openssl_ca_init(dir);
    fx_openssl_issue(dir, "ossl-dev-1", NULL);
    fx_openssl_gencrl(dir, "empty.crl", NULL);
    now = fx_now(); /* after openssl wrote thisUpdate */
    ca = fx_load_cert(dir, "ca.pem");
    snprintf(path, sizeof path, "%s/ca.key", dir);
    ck_assert_int_eq(iotsec_x509_key_load_file(path, &cakey), IOTSEC_OK);
    memset(&p, 0, sizeof p);
    p.profile = IOTSEC_X509_PROFILE_SERVER;
    p.common_name = "localhost";
    p.san_ip = "127.0.0.1";
    p.not_before = now - 60;
    p.not_after = now + 3600;
    ck_assert_int_eq(iotsec_x509_ca_issue(ca, cakey, ks, &p, &server_cert), IOTSEC_OK);

    snprintf(path, sizeof path, "%s/empty.crl", dir);
    crls[0] = path;
    memset(&cfg, 0, sizeof cfg);
    cfg.ca = ca;
    cfg.crl_paths = crls;
    cfg.crl_count = 1;
    ck_assert_int_eq(iotsec_revocation_load(&rs, &cfg, now, NULL), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_holder_new(&h, rs), IOTSEC_OK);
    iotsec_revocation_unref(rs);
    ctx = SSL_CTX_new(TLS_server_method());
    ck_assert_int_eq(SSL_CTX_use_certificate(ctx, server_cert), 1);
    ck_assert_int_eq(SSL_CTX_use_PrivateKey(ctx, ks), 1);
    memset(&policy, 0, sizeof policy);
    policy.ca = ca;
    policy.revocation = h;
    ck_assert_int_eq(iotsec_tls_server_setup(ctx, &policy), IOTSEC_OK);
    server_start(&srv, ctx);
    snprintf(c1, sizeof c1, "%s/ossl-dev-1.pem", dir);
    snprintf(k1, sizeof k1, "%s/ossl-dev-1.key", dir);
    ck_assert_msg(connect_client(&srv, dir, c1, k1, NULL, out, sizeof out), "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "AUTH OK ossl-dev-1"));
    fx_openssl_revoke(dir, "ossl-dev-1");
    fx_openssl_gencrl(dir, "empty.crl", NULL);
    ck_assert_int_eq(iotsec_revocation_reload(h, &cfg, fx_now(), NULL, 0, NULL, NULL, NULL),
                     IOTSEC_OK);
    ck_assert(!connect_client(&srv, dir, c1, k1, NULL, out, sizeof out));
    ck_assert_int_eq(srv.verdict.code, IOTSEC_E_REVOKED);
    server_stop(&srv);
    SSL_CTX_free(ctx);
    iotsec_revocation_holder_free(h);
    X509_free(ca);
    X509_free(server_cert);
    EVP_PKEY_free(cakey);
    EVP_PKEY_free(ks);
    tu_tmpdir_cleanup(dir);
}
END_TEST

/* A failure OpenSSL finds after the leaf's own callback (name constraints of the device CA,
 * checked once the chain's signatures and dates are) must refuse the handshake: the verify
 * callback had already recorded "accepted" for the leaf and used to return that decision
 * again, which turned OpenSSL's refusal into success. */
START_TEST(test_handshake_name_constraints)
{
    fx_ca ca;
    EVP_PKEY *ks = fx_p256(), *kin = fx_p256(), *kout = fx_p256();
    X509 *server_cert = NULL, *inside, *outside;
    iotsec_tls_policy policy;
    iotsec_tls_verdict v;
    struct server srv;
    SSL_CTX *ctx;
    X509V3_CTX v3;
    X509_EXTENSION *nc;
    char dir[256], path[512], out[16384], c_in[512], k_in[512], c_out[512], k_out[512];
    int64_t now = fx_now();

    signal(SIGPIPE, SIG_IGN);
    tu_tmpdir(dir, sizeof dir);
    /* a device CA limited to names under .ok.example (RFC 5280 §4.2.1.10) */
    fx_ca_new(&ca, "constrained device CA");
    X509V3_set_ctx(&v3, ca.cert, ca.cert, NULL, NULL, 0);
    nc = X509V3_EXT_conf_nid(NULL, &v3, NID_name_constraints,
                             "critical,permitted;DNS:.ok.example");
    ck_assert_ptr_nonnull(nc);
    ck_assert_int_eq(X509_add_ext(ca.cert, nc, -1), 1);
    X509_EXTENSION_free(nc);
    ck_assert_int_gt(X509_sign(ca.cert, ca.key, EVP_sha256()), 0);
    fx_write_cert(dir, "ca.pem", ca.cert, path, sizeof path);

    server_cert = server_cert_for(&ca, ks, "srv.ok.example", now);
    inside = fx_issue(&ca, kin, "dev-1.ok.example");
    outside = fx_issue(&ca, kout, "dev-outside");
    write_pair(dir, "inside", inside, kin, c_in, k_in);
    write_pair(dir, "outside", outside, kout, c_out, k_out);
    /* outside a handshake the library refuses the violation */
    ck_assert_int_eq(iotsec_x509_verify(ca.cert, outside, now), IOTSEC_E_UNTRUSTED);
    ck_assert_int_eq(iotsec_x509_verify(ca.cert, inside, now), IOTSEC_OK);

    ctx = server_ctx(server_cert, ks);
    memset(&policy, 0, sizeof policy);
    policy.ca = ca.cert;
    policy.identity.source = IOTSEC_ID_CN;
    policy.on_verdict = on_verdict;
    server_start(&srv, ctx);
    policy.cb_arg = &srv;
    ck_assert_int_eq(iotsec_tls_server_setup(ctx, &policy), IOTSEC_OK);

    ck_assert_msg(connect_client(&srv, dir, c_in, k_in, NULL, out, sizeof out), "%s", out);
    ck_assert_int_eq(srv.verdict.code, IOTSEC_OK);
    ck_assert(!connect_client(&srv, dir, c_out, k_out, NULL, out, sizeof out));
    ck_assert_int_eq(srv.accepted, 1);
    ck_assert_int_eq(srv.verdict.code, IOTSEC_E_UNTRUSTED);
    ck_assert_int_eq(srv.verdict.x509_error, X509_V_ERR_PERMITTED_VIOLATION);
    ck_assert_int_eq(srv.last_cb_code, IOTSEC_E_UNTRUSTED);
    ck_assert_int_eq(iotsec_tls_check_cert(&policy, outside, now, &v), IOTSEC_E_UNTRUSTED);
    server_stop(&srv);

    SSL_CTX_free(ctx);
    X509_free(server_cert);
    X509_free(inside);
    X509_free(outside);
    EVP_PKEY_free(ks);
    EVP_PKEY_free(kin);
    EVP_PKEY_free(kout);
    fx_ca_free(&ca);
    tu_tmpdir_cleanup(dir);
}
END_TEST

/* Chains in real handshakes: root → issuing CA → device, the intermediate sent by the client
 * (s_client -cert_chain) or configured as a bundle; a pinned intermediate as the anchor; a
 * tutorial CA without keyUsage; the intermediate revoked by the root's CRL; a client whose
 * EKU lacks clientAuth refused with a reason naming it. */
START_TEST(test_handshake_chain)
{
    static const char *const tutorial_ext[][2] = {{"basicConstraints", "critical,CA:TRUE"}};
    fx_ca root, inter, tut;
    EVP_PKEY *ks = fx_p256(), *kd = fx_p256(), *kt = fx_p256(), *kw = fx_p256();
    X509 *server_cert, *dev, *tdev, *wrong;
    iotsec_revocation *rs = NULL;
    iotsec_revocation_holder *h = NULL;
    iotsec_tls_policy policy;
    iotsec_peer_identity id;
    struct server srv;
    SSL_CTX *ctx;
    char dir[256], path[512], out[16384], c_dev[512], k_dev[512], c_int[512], c_t[512], k_t[512];
    char c_w[512], k_w[512], extra[600];
    uint8_t *crl;
    size_t len;
    int64_t now = fx_now();

    signal(SIGPIPE, SIG_IGN);
    tu_tmpdir(dir, sizeof dir);
    fx_ca_make(&root, NULL, "Chain Root", 1);
    fx_ca_make(&inter, &root, "Chain Issuing CA", 0);
    fx_write_cert(dir, "ca.pem", root.cert, path, sizeof path); /* what s_client trusts */
    server_cert = server_cert_for(&root, ks, "localhost", now);
    dev = fx_issue(&inter, kd, "dev-chained");
    wrong = fx_issue_profile(&inter, kw, "dev-wrong-eku", IOTSEC_X509_PROFILE_SERVER, NULL,
                             now - 60, now + 3600);
    write_pair(dir, "dev", dev, kd, c_dev, k_dev);
    write_pair(dir, "wrong", wrong, kw, c_w, k_w);
    fx_write_cert(dir, "int.pem", inter.cert, c_int, sizeof c_int);
    snprintf(extra, sizeof extra, "-cert_chain '%s'", c_int);

    ctx = server_ctx(server_cert, ks);
    memset(&policy, 0, sizeof policy);
    policy.ca = root.cert;
    policy.identity.source = IOTSEC_ID_CN;
    server_start(&srv, ctx);
    ck_assert_int_eq(iotsec_tls_server_setup(ctx, &policy), IOTSEC_OK);

    /* the client sends its intermediate */
    ck_assert_msg(connect_client(&srv, dir, c_dev, k_dev, extra, out, sizeof out), "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "AUTH OK dev-chained"));
    ck_assert_uint_eq(srv.verdict.identity.chain_len, 2);
    ck_assert_uint_eq(srv.open[srv.n_open - 1].chain_len, 2); /* iotsec_tls_peer_identity */
    /* it does not: refused, the reason names the anchor */
    ck_assert(!connect_client(&srv, dir, c_dev, k_dev, NULL, out, sizeof out));
    ck_assert_int_eq(srv.verdict.code, IOTSEC_E_UNTRUSTED);
    ck_assert_msg(strstr(srv.verdict.detail, "does not chain to the trust anchor \"CN=Chain Root\"") !=
                      NULL,
                  "%s", srv.verdict.detail);
    /* a server EKU: refused, named */
    ck_assert(!connect_client(&srv, dir, c_w, k_w, extra, out, sizeof out));
    ck_assert_int_eq(srv.verdict.code, IOTSEC_E_POLICY);
    ck_assert_str_eq(srv.verdict.detail,
                     "certificate lacks the clientAuth extended key usage: IOTSEC_E_POLICY");
    /* the bundle supplies the intermediate; depth 1 refuses the chain */
    policy.chain.intermediates = &inter.cert;
    policy.chain.intermediate_count = 1;
    ck_assert_int_eq(iotsec_tls_server_setup(ctx, &policy), IOTSEC_OK);
    ck_assert_msg(connect_client(&srv, dir, c_dev, k_dev, NULL, out, sizeof out), "%s", out);
    policy.chain.max_depth = 1;
    ck_assert_int_eq(iotsec_tls_server_setup(ctx, &policy), IOTSEC_OK);
    ck_assert(!connect_client(&srv, dir, c_dev, k_dev, extra, out, sizeof out));
    ck_assert_msg(strstr(srv.verdict.detail, "chain longer than 1") != NULL, "%s",
                  srv.verdict.detail);
    /* the issuing CA pinned as the anchor (depth 1 is enough) */
    memset(&policy.chain, 0, sizeof policy.chain);
    policy.chain.max_depth = 1;
    policy.ca = inter.cert;
    ck_assert_int_eq(iotsec_tls_server_setup(ctx, &policy), IOTSEC_OK);
    ck_assert_msg(connect_client(&srv, dir, c_dev, k_dev, NULL, out, sizeof out), "%s", out);
    /* the root's CRL revokes the issuing CA: refused with certificate_revoked */
    crl = fx_crl(&root, &inter.cert, 1, now - 60, now + 86400, 0, &len);
    ck_assert_int_eq(iotsec_revocation_new(&rs, root.cert, 0), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_add_ca(rs, inter.cert), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_add_crl(rs, crl, len, now), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_seal(rs), IOTSEC_OK);
    ck_assert_int_eq(iotsec_revocation_holder_new(&h, rs), IOTSEC_OK);
    iotsec_revocation_unref(rs);
    free(crl);
    memset(&policy.chain, 0, sizeof policy.chain);
    policy.ca = root.cert;
    policy.revocation = h;
    ck_assert_int_eq(iotsec_tls_server_setup(ctx, &policy), IOTSEC_OK);
    ck_assert(!connect_client(&srv, dir, c_dev, k_dev, extra, out, sizeof out));
    ck_assert_msg(strstr(out, "certificate revoked") != NULL, "%s", out);
    ck_assert_int_eq(srv.verdict.code, IOTSEC_E_REVOKED);
    ck_assert_msg(strstr(srv.verdict.detail, "intermediate \"CN=Chain Issuing CA\" revoked") !=
                      NULL,
                  "%s", srv.verdict.detail);
    /* a tutorial CA: CA:TRUE, no keyUsage; accepted as the anchor */
    fx_ca_custom(&tut, NULL, "MyCA", tutorial_ext, 1, now - 60, now + 86400, 1);
    tdev = fx_issue(&tut, kt, "dev-tutorial");
    write_pair(dir, "tut", tdev, kt, c_t, k_t);
    policy.ca = tut.cert;
    policy.revocation = NULL;
    ck_assert_int_eq(iotsec_tls_server_setup(ctx, &policy), IOTSEC_OK);
    ck_assert_msg(connect_client(&srv, dir, c_t, k_t, NULL, out, sizeof out), "%s", out);
    server_stop(&srv);
    (void)id;

    SSL_CTX_free(ctx);
    iotsec_revocation_holder_free(h);
    X509_free(server_cert);
    X509_free(dev);
    X509_free(tdev);
    X509_free(wrong);
    EVP_PKEY_free(ks);
    EVP_PKEY_free(kd);
    EVP_PKEY_free(kt);
    EVP_PKEY_free(kw);
    fx_ca_free(&root);
    fx_ca_free(&inter);
    fx_ca_free(&tut);
    tu_tmpdir_cleanup(dir);
}
END_TEST

static Suite *tls_suite(void)
{
    Suite *s = suite_create("tls");
    TCase *id = tcase_create("identity");
    TCase *hs = tcase_create("handshake");

    tcase_add_test(id, test_identity_cn);
    tcase_add_test(id, test_identity_san);
    tcase_add_test(id, test_identity_serial_before_source);
    tcase_set_timeout(hs, 120);
    tcase_add_test(hs, test_cipher_policy);
    tcase_add_test(hs, test_handshakes);
    tcase_add_test(hs, test_handshake_openssl_ca);
    tcase_add_test(hs, test_handshake_name_constraints);
    tcase_add_test(hs, test_handshake_chain);
    suite_add_tcase(s, id);
    suite_add_tcase(s, hs);
    return s;
}

int main(void) { return tu_run_suite(tls_suite()); }
