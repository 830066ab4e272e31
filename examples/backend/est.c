/*
 * iotsec-backend serve — enrollment, an EST subset (RFC 7030; docs/DESIGN.md §14,
 * est_server.h). With --est-ca-dir DIR (an `iotsec ca` directory: ca.pem, ca.key, and for
 * an intermediate chain.pem and root.pem) the server offers
 *
 *   GET  /.well-known/est/cacerts        the CA certificates, base64 PKCS#7 certs-only
 *   POST /.well-known/est/simpleenroll   base64 PKCS#10 in, the new certificate out,
 *                                        authenticated by the device's one-time bootstrap
 *                                        token (HTTP Basic: user = device id, password =
 *                                        token) over server-authenticated TLS
 *   POST /.well-known/est/simplereenroll the same over mTLS with the current certificate
 *
 * and the TLS context requests a client certificate without requiring one
 * (iotsec_tls_policy.client_cert_optional): a certificate that is sent is verified in full
 * as always, and a connection without one may reach these paths only (http.c refuses every
 * other path on it, and tls.c marks it anonymous). Every decision is the library's
 * (iotsec_est_token_check, iotsec_est_csr_check, iotsec_x509_ca_issue with the device
 * profile); a token is marked used in the database by exactly one request, after the
 * request passed every check. An issued certificate is recorded in DIR/index (under
 * DIR/lock, the lock `iotsec ca` takes: `iotsec ca revoke` and `ca crl` see it) and in the
 * est_certs table, before it is sent.
 */
#include "est_server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <openssl/evp.h>

#define EST_PREFIX "/.well-known/est/"
#define EST_CHAIN_MAX 16
#define EST_REALM "Basic realm=\"iotsec-est\""

struct est_state {
    X509 *ca;         /* the issuing CA (DIR/ca.pem) */
    EVP_PKEY *key;    /* its key (DIR/ca.key) */
    char *cacerts;    /* the /cacerts answer: base64 PKCS#7 of the CA certificates */
    size_t cacerts_len;
    char index_path[4096], lock_path[4096];
};

int est_serve_option(struct config *c, const char *o, const char *val, int *rc)
{
    uint64_t v = 0;

    *rc = BK_EXIT_OK;
    if (strcmp(o, "--est-ca-dir") == 0) {
        c->est_ca_dir = val;
    } else if (strcmp(o, "--est-days") == 0) {
        if (iotsec_parse_u64_dec(val, strlen(val), 3650, &v) != IOTSEC_OK || v == 0)
            *rc = bk_error(BK_EXIT_USAGE, "--est-days: 1 to 3650, got '%s'", val);
        c->est_days = (unsigned)v;
    } else {
        return 0;
    }
    return 1;
}

int est_enabled(const struct server *s) { return s->est != NULL; }

int est_path(const char *path)
{
    return path != NULL && strncmp(path, EST_PREFIX, sizeof EST_PREFIX - 1u) == 0;
}

static int dir_file(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    return n > 0 && (size_t)n < cap;
}

void est_free(struct server *s)
{
    struct est_state *e = s->est;

    if (e == NULL)
        return;
    X509_free(e->ca);
    EVP_PKEY_free(e->key);
    free(e->cacerts);
    free(e);
    s->est = NULL;
}

int est_setup(struct server *s)
{
    const char *dir = s->cfg.est_ca_dir;
    struct est_state *e;
    X509 *certs[EST_CHAIN_MAX + 1], *root = NULL;
    size_t n = 0, i;
    char path[4096];
    int rc;

    if (dir == NULL)
        return BK_EXIT_OK;
    e = calloc(1, sizeof *e);
    if (e == NULL)
        return bk_error(BK_EXIT_IO, "out of memory");
    s->est = e;
    if (!dir_file(path, sizeof path, dir, "ca.pem") || !dir_file(e->index_path,
                                                                  sizeof e->index_path, dir,
                                                                  "index") ||
        !dir_file(e->lock_path, sizeof e->lock_path, dir, "lock"))
        return bk_error(BK_EXIT_USAGE, "--est-ca-dir %s: path too long", dir);
    rc = iotsec_x509_cert_load_file(path, &e->ca);
    if (rc == IOTSEC_OK && dir_file(path, sizeof path, dir, "ca.key"))
        rc = iotsec_x509_key_load_file(path, &e->key);
    if (rc != IOTSEC_OK)
        return bk_error(rc == IOTSEC_E_IO ? BK_EXIT_IO : BK_EXIT_REJECTED,
                        "--est-ca-dir %s: %s: %s", dir, path, iotsec_strerror(rc));
    if (access(e->index_path, W_OK) != 0)
        return bk_error(BK_EXIT_IO, "--est-ca-dir %s: %s: %s", dir, e->index_path,
                        strerror(errno));
    /* the CA certificates a device is told: the issuing CA, the CAs above it, the root */
    certs[0] = e->ca;
    n = 1;
    if (dir_file(path, sizeof path, dir, "chain.pem") && access(path, F_OK) == 0) {
        X509 *chain[EST_CHAIN_MAX];
        size_t nc = 0;
        rc = iotsec_x509_certs_load_file(path, chain, EST_CHAIN_MAX, &nc);
        if (rc != IOTSEC_OK)
            return bk_error(BK_EXIT_REJECTED, "--est-ca-dir: %s: %s", path, iotsec_strerror(rc));
        for (i = 1; i < nc; i++) /* chain[0] is ca.pem */
            certs[n++] = chain[i];
        if (nc > 0)
            X509_free(chain[0]);
        if (dir_file(path, sizeof path, dir, "root.pem") &&
            iotsec_x509_cert_load_file(path, &root) == IOTSEC_OK)
            certs[n++] = root;
    }
    rc = iotsec_est_certs_encode(certs, n, &e->cacerts, &e->cacerts_len);
    for (i = 1; i < n; i++)
        X509_free(certs[i]);
    if (rc != IOTSEC_OK)
        return bk_error(BK_EXIT_IO, "EST /cacerts: %s", iotsec_strerror(rc));
    rc = bk_est_schema(s->db);
    if (rc != IOTSEC_OK)
        return bk_error(BK_EXIT_IO, "EST tables: %s", bk_db_errmsg(s->db));
    return BK_EXIT_OK;
}

/* ---- answers -------------------------------------------------------------------------------- */

static void send_certs(struct request *q, const char *b64, size_t len)
{
    struct evbuffer *body = evbuffer_new();
    struct evkeyvalq *h = evhttp_request_get_output_headers(q->req);

    if (body != NULL)
        evbuffer_add(body, b64, len);
    evhttp_add_header(h, "Content-Transfer-Encoding", "base64");
    send_answer(q, 200, "OK", "application/pkcs7-mime; smime-type=certs-only", body);
    if (body != NULL)
        evbuffer_free(body);
}

/* Append the record of an issued certificate to the CA directory's index, under its lock
 * (the format of bindings-spec/SPEC.md §9.3). */
static int index_append(struct est_state *e, const uint8_t serial[IOTSEC_SERIAL_LEN],
                        int64_t not_after, const char *id)
{
    char hex[2 * IOTSEC_SERIAL_LEN + 1], line[256];
    int lfd, fd, n, rc = IOTSEC_OK;

    if (iotsec_hex_encode(serial, IOTSEC_SERIAL_LEN, hex, sizeof hex) != IOTSEC_OK)
        return IOTSEC_E_INVALID_ARG;
    n = snprintf(line, sizeof line, "%s %lld 0 d %s\n", hex, (long long)not_after, id);
    if (n <= 0 || (size_t)n >= sizeof line)
        return IOTSEC_E_INVALID_ARG;
    lfd = open(e->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lfd < 0)
        return IOTSEC_E_IO;
    if (flock(lfd, LOCK_EX) != 0) {
        close(lfd);
        return IOTSEC_E_IO;
    }
    fd = open(e->index_path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0 || write(fd, line, (size_t)n) != n || fsync(fd) != 0)
        rc = IOTSEC_E_IO;
    if (fd >= 0)
        close(fd);
    (void)flock(lfd, LOCK_UN);
    close(lfd);
    return rc;
}

/* The request body, NUL-free view: pointer and length (evhttp keeps it). */
static const uint8_t *request_body(struct request *q, size_t *len)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(q->req);

    *len = in != NULL ? evbuffer_get_length(in) : 0;
    return *len > 0 ? evbuffer_pullup(in, -1) : NULL;
}

/* application/pkcs10 (parameters allowed), case-insensitive type. */
static int is_pkcs10(const char *ctype)
{
    static const char t[] = "application/pkcs10";
    size_t n = sizeof t - 1u;

    return ctype != NULL && strncasecmp(ctype, t, n) == 0 &&
           (ctype[n] == '\0' || ctype[n] == ';' || ctype[n] == ' ');
}

/* "Basic base64(user:password)" → user (a device id) and password (the token), into the
 * caller's buffers. 0 when it does not parse. */
static int basic_auth(const char *h, char *user, size_t ucap, char *pass, size_t pcap)
{
    uint8_t dec[1200];
    size_t n = 0, i, ul, pl;
    const uint8_t *colon;

    if (h == NULL || strncasecmp(h, "Basic ", 6) != 0)
        return 0;
    h += 6;
    while (*h == ' ')
        h++;
    if (strlen(h) > 1600 ||
        iotsec_base64_decode(h, strlen(h), dec, sizeof dec, &n) != IOTSEC_OK)
        return 0;
    colon = memchr(dec, ':', n);
    if (colon == NULL)
        return 0;
    ul = (size_t)(colon - dec);
    pl = n - ul - 1u;
    if (ul == 0 || ul >= ucap || pl >= pcap || iotsec_device_id_check((const char *)dec, ul) !=
                                                   IOTSEC_OK)
        return 0;
    for (i = 0; i < pl; i++) {
        if (colon[1 + i] == '\0')
            return 0;
    }
    memcpy(user, dec, ul);
    user[ul] = '\0';
    memcpy(pass, colon + 1, pl);
    pass[pl] = '\0';
    iotsec_zeroize(dec, sizeof dec);
    return 1;
}

/* Check the request of device id, issue its certificate, record it; *cert on success (the
 * answer is the caller's). Answers the refusals itself; returns 1 when it issued. */
static int issue_for(struct request *q, const char *id, X509 **cert, int64_t *not_after)
{
    struct est_state *e = q->s->est;
    iotsec_x509_cert_params p;
    EVP_PKEY *pub = NULL;
    uint8_t serial[IOTSEC_SERIAL_LEN];
    const uint8_t *body;
    size_t len = 0;
    char why[256];
    int64_t now = bk_now();
    unsigned days = q->s->cfg.est_days ? q->s->cfg.est_days : EST_DAYS_DEFAULT;
    int rc;

    *cert = NULL;
    body = request_body(q, &len);
    rc = iotsec_est_csr_check(body != NULL ? body : (const uint8_t *)"", len, id, strlen(id),
                              &pub, why, sizeof why);
    if (rc != IOTSEC_OK) {
        reject_rc(q, rc, "certificate request refused: %s", why);
        return 0;
    }
    memset(&p, 0, sizeof p);
    p.profile = IOTSEC_X509_PROFILE_DEVICE;
    p.common_name = id;
    p.san_dns = id;
    p.not_before = now - 300;
    p.not_after = now + (int64_t)days * 86400;
    rc = iotsec_x509_ca_issue(e->ca, e->key, pub, &p, cert);
    EVP_PKEY_free(pub);
    if (rc == IOTSEC_OK)
        rc = iotsec_x509_serial(*cert, serial);
    /* recorded before it exists anywhere else: the CA's tools can revoke it */
    if (rc == IOTSEC_OK)
        rc = index_append(e, serial, p.not_after, id);
    if (rc != IOTSEC_OK) {
        X509_free(*cert);
        *cert = NULL;
        internal_error(q, rc, "issuing the certificate");
        return 0;
    }
    *not_after = p.not_after;
    return 1;
}

static void enroll(struct request *q, int renew)
{
    struct evkeyvalq *in = evhttp_request_get_input_headers(q->req);
    struct est_state *e = q->s->est;
    char user[IOTSEC_DEVICE_ID_MAX + 1], token[1025], hex[2 * IOTSEC_SERIAL_LEN + 1];
    uint8_t stored[IOTSEC_EST_TOKEN_HASH_LEN], presented[IOTSEC_EST_TOKEN_HASH_LEN];
    uint8_t serial[IOTSEC_SERIAL_LEN];
    int64_t expires = 0, used = 0, now = bk_now(), not_after = 0;
    const char *id;
    bk_device dev;
    X509 *cert = NULL;
    char *b64 = NULL;
    size_t b64_len = 0;
    int rc, found = 0, won = 0;

    memset(&dev, 0, sizeof dev);
    if (evhttp_request_get_command(q->req) != EVHTTP_REQ_POST) {
        reject(q, 405, "method_not_allowed", "use POST");
        return;
    }
    if (!is_pkcs10(evhttp_find_header(in, "Content-Type"))) {
        reject(q, 415, "unsupported_media_type", "the request must be application/pkcs10");
        return;
    }
    if (renew) {
        /* over mTLS with the current certificate, still valid and not revoked */
        if (!q->c->have_identity) {
            reject(q, 403, "untrusted", "re-enrollment needs the current client certificate");
            return;
        }
        if (!authorize(q, &dev))
            goto out;
        id = q->c->id.device_id;
    } else {
        /* the one-time bootstrap token, bound to the device id */
        if (!basic_auth(evhttp_find_header(in, "Authorization"), user, sizeof user, token,
                        sizeof token)) {
            evhttp_add_header(evhttp_request_get_output_headers(q->req), "WWW-Authenticate",
                              EST_REALM);
            reject(q, 401, "unauthorized",
                   "HTTP Basic authentication with the device id and its bootstrap token "
                   "is required");
            return;
        }
        id = user;
        rc = iotsec_est_token_hash(id, strlen(id), token, strlen(token), presented);
        iotsec_zeroize(token, sizeof token);
        if (rc == IOTSEC_OK)
            rc = bk_est_token_get(q->s->db, id, strlen(id), stored, &expires, &used, &found);
        if (rc != IOTSEC_OK) {
            internal_error(q, rc, "token lookup");
            goto out;
        }
        if (!found) /* compared anyway: an unknown device looks like a wrong token */
            memset(stored, 0xff, sizeof stored);
        rc = iotsec_est_token_check(stored, expires, used, presented, now);
        if (rc != IOTSEC_OK) {
            if (rc == IOTSEC_E_BAD_MAC)
                evhttp_add_header(evhttp_request_get_output_headers(q->req), "WWW-Authenticate",
                                  EST_REALM);
            reject_rc(q, rc, "bootstrap token of %s refused (%s)", id,
                      rc == IOTSEC_E_REPLAY    ? "used already: tokens are single-use"
                      : rc == IOTSEC_E_EXPIRED ? "expired"
                                               : "not the device's token");
            goto out;
        }
        rc = bk_db_device(q->s->db, id, strlen(id), &dev, &found);
        if (rc != IOTSEC_OK) {
            internal_error(q, rc, "device lookup");
            goto out;
        }
        if (!found || !dev.enabled) {
            reject(q, 403, found ? "device_disabled" : "unknown_device", "device %s is %s", id,
                   found ? "disabled" : "not registered");
            goto out;
        }
    }
    if (!issue_for(q, id, &cert, &not_after))
        goto out;
    rc = iotsec_x509_serial(cert, serial);
    if (rc == IOTSEC_OK)
        rc = iotsec_hex_encode(serial, sizeof serial, hex, sizeof hex);
    if (rc == IOTSEC_OK)
        rc = iotsec_est_certs_encode(&cert, 1, &b64, &b64_len);
    if (rc == IOTSEC_OK)
        rc = bk_db_begin(q->s->db);
    if (rc != IOTSEC_OK) {
        internal_error(q, rc, "enrollment");
        goto out;
    }
    if (!renew) {
        rc = bk_est_token_use(q->s->db, id, strlen(id), presented, now, &won);
        if (rc == IOTSEC_OK && !won) {
            bk_db_rollback(q->s->db);
            reject_rc(q, IOTSEC_E_REPLAY, "bootstrap token of %s used by another request", id);
            goto out;
        }
    }
    if (rc == IOTSEC_OK)
        rc = bk_est_cert_record(q->s->db, hex, id, not_after, now,
                                renew ? "simplereenroll" : "simpleenroll");
    if (rc == IOTSEC_OK)
        rc = bk_db_commit(q->s->db);
    if (rc != IOTSEC_OK) {
        bk_db_rollback(q->s->db);
        internal_error(q, rc, "recording the enrollment");
        goto out;
    }
    audit(q->s, q->c->peer, id, "enrolled", "certificate serial %s valid until %lld, %s", hex,
          (long long)not_after, renew ? "re-enrolled over mTLS" : "bootstrap token used");
    send_certs(q, b64, b64_len);
    (void)e;
out:
    free(b64);
    X509_free(cert);
    bk_device_wipe(&dev);
}

void est_dispatch(struct request *q, const char *path, const char *query)
{
    struct est_state *e = q->s->est;
    const char *op = path + sizeof EST_PREFIX - 1u;

    if (e == NULL) {
        reject(q, 404, "not_found", "enrollment is not offered");
    } else if (query != NULL) {
        reject(q, 400, "bad_request", "EST requests take no query");
    } else if (strcmp(op, "cacerts") == 0) {
        if (evhttp_request_get_command(q->req) != EVHTTP_REQ_GET)
            reject(q, 405, "method_not_allowed", "use GET");
        else
            send_certs(q, e->cacerts, e->cacerts_len);
    } else if (strcmp(op, "simpleenroll") == 0) {
        enroll(q, 0);
    } else if (strcmp(op, "simplereenroll") == 0) {
        enroll(q, 1);
    } else {
        reject(q, 404, "not_found", "no such EST operation");
    }
}
