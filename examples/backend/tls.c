/*
 * iotsec-backend serve — TLS (server.h): the server context and the handshake callbacks.
 * The context is configured by the library (iotsec_tls_server_setup: TLS 1.2+, client
 * certificate required, device CA only, identity and revocation checked in the handshake,
 * no session resumption); the backend adds its ClientHello callback (the connection
 * limits, conn.c), the library's verdicts (why a handshake was refused, for its audit row)
 * and an info callback (handshake done: the connection's identity and certificate end).
 */
#include "server.h"

#include <openssl/err.h>

/* First handshake message: a connection over the limits gets no handshake. */
static int client_hello_cb(SSL *ssl, int *alert, void *arg)
{
    struct conn *c = SSL_get_ex_data(ssl, conn_index);

    (void)arg;
    if (c == NULL)
        return SSL_CLIENT_HELLO_SUCCESS;
    conn_admit(c);
    if (c->closing) {
        *alert = SSL_AD_HANDSHAKE_FAILURE;
        return SSL_CLIENT_HELLO_ERROR;
    }
    return SSL_CLIENT_HELLO_SUCCESS;
}

/* The library's handshake verdict (from its verify callback). The device id of a refused
 * certificate goes into its audit row's identity column (docs/DESIGN.md §10: the certificate's
 * identity), but it is a verified identity only when the refusal is a revocation: the
 * library checks revocation only for a leaf whose chain to the device CA verified. Any
 * other refusal (unknown CA, self-signed, …) names a device id nobody vouches for —
 * anyone can write CN=<a real device> into a certificate of their own —: the detail says
 * so, and the row is limited with the peers that have no identity (audit gate), so a
 * stranger can neither use up a device's audit budget nor add gates at will. */
static void verdict_cb(void *arg, SSL *ssl, const iotsec_tls_verdict *v)
{
    struct conn *c = SSL_get_ex_data(ssl, conn_index);
    char code[48];
    int verified = v->code == IOTSEC_E_REVOKED && v->reason != IOTSEC_REVOKED_NONE;

    (void)arg;
    if (c == NULL || v->code == IOTSEC_OK)
        return;
    if (v->have_identity && !c->have_identity) {
        c->id = v->identity;
        c->have_identity = 1;
        c->id_verified = verified;
    }
    c->fail_event = verified ? "revoked" : "handshake_failed";
    snprintf(c->fail_detail, sizeof c->fail_detail, "%s: %s%s", bk_error_code(v->code, code, sizeof code),
             v->detail, v->have_identity && !verified ? " (device id unverified)" : "");
}

static void handshake_done(struct conn *c)
{
    iotsec_peer_identity id;
    int rc = iotsec_tls_peer_identity(c->ssl, NULL, &id);
    X509 *cert = SSL_get0_peer_certificate(c->ssl);
    int days = 0, secs = 0;

    /* the verify callback checked the validity period at the handshake; a connection may
     * outlive it, so its end is kept for the per-request check (authorize) */
    if (rc == IOTSEC_OK &&
        (cert == NULL || ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(cert)) != 1))
        rc = IOTSEC_E_BAD_ENCODING;
    if (rc != IOTSEC_OK) {
        char code[48];
        /* the verify callback accepted the certificate, so this cannot happen; if it does,
         * the peer is not served */
        c->fail_event = "handshake_failed";
        snprintf(c->fail_detail, sizeof c->fail_detail, "no identity after handshake: %s",
                 bk_error_code(rc, code, sizeof code));
        conn_close(c);
        return;
    }
    c->id = id;
    c->have_identity = 1;
    c->id_verified = 1;
    c->not_after = bk_now() + (int64_t)days * 86400 + secs;
    c->state = CONN_IDLE;
    c->fail_event = NULL;
    conn_set_deadline(c, c->srv->cfg.idle_timeout);
    /* ---- budget.c: per-device limit, authenticated pool (may close c) ---- */
    if (!budget_authenticated(c))
        return;
    framing_arm(c); /* the first request's head */
}

static void info_cb(const SSL *ssl, int where, int ret)
{
    struct conn *c = SSL_get_ex_data(ssl, conn_index);

    if (c == NULL || c->state != CONN_HANDSHAKE)
        return;
    conn_learn_peer(c);
    if (where & SSL_CB_HANDSHAKE_DONE) {
        handshake_done(c);
    } else if ((where & SSL_CB_ALERT) && (where & SSL_CB_WRITE)) {
        c->alert_sent = ret & 0xff;
    } else if ((where & SSL_CB_EXIT) && ret <= 0 && c->fail_event == NULL &&
               ERR_peek_last_error() != 0) {
        /* a fatal handshake error (a handshake that merely waits for bytes leaves the
         * error queue empty); the library's verdict, when there is one, came first */
        const char *why = ERR_reason_error_string(ERR_peek_last_error());
        c->fail_event = "handshake_failed";
        char alert[48] = "";
        if (c->alert_sent)
            snprintf(alert, sizeof alert, ", alert %d (%s)", c->alert_sent,
                     SSL_alert_desc_string_long(c->alert_sent));
        snprintf(c->fail_detail, sizeof c->fail_detail, "TLS handshake failed: %s%s",
                 why != NULL ? why : "error", alert);
    }
}

/* ---- the server context ----------------------------------------------------------------- */

int tls_setup(struct server *s)
{
    iotsec_revocation_config rcfg;
    iotsec_revocation_error err = {NULL, 0};
    iotsec_revocation *rs = NULL;
    int rc;

    rc = iotsec_x509_cert_load_file(s->cfg.ca_path, &s->ca);
    if (rc != IOTSEC_OK)
        return bk_error(BK_EXIT_IO, "--ca %s: %s", s->cfg.ca_path, iotsec_strerror(rc));
    revocation_config(s, &rcfg);
    (void)stamps_changed(s);
    rc = iotsec_revocation_load(&rs, &rcfg, bk_now(), &err);
    if (rc != IOTSEC_OK)
        return bk_error(rc == IOTSEC_E_IO ? BK_EXIT_IO : BK_EXIT_REJECTED,
                        "revocation: %s line %zu: %s", err.path ? err.path : "(set)",
                        err.line, iotsec_strerror(rc));
    rc = iotsec_revocation_holder_new(&s->holder, rs);
    iotsec_revocation_unref(rs);
    if (rc != IOTSEC_OK)
        return bk_error(BK_EXIT_IO, "revocation holder: %s", iotsec_strerror(rc));

    s->ctx = SSL_CTX_new(TLS_server_method());
    if (s->ctx == NULL)
        return bk_error(BK_EXIT_IO, "SSL_CTX_new failed");
    if (SSL_CTX_use_certificate_chain_file(s->ctx, s->cfg.cert_path) != 1)
        return bk_error(BK_EXIT_IO, "--cert %s: cannot load the certificate", s->cfg.cert_path);
    if (SSL_CTX_use_PrivateKey_file(s->ctx, s->cfg.key_path, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(s->ctx) != 1)
        return bk_error(BK_EXIT_IO, "--key %s: cannot load the key or it does not match "
                        "the certificate", s->cfg.key_path);
    s->policy.ca = s->ca;
    s->policy.revocation = s->holder;
    s->policy.identity = s->cfg.identity;
    s->policy.on_verdict = verdict_cb;
    s->policy.cb_arg = s;
    /* TLS 1.2+, client certificate against the device CA only, identity and revocation in
     * the verify callback, no session resumption (every handshake is verified in full) */
    rc = iotsec_tls_server_setup(s->ctx, &s->policy);
    if (rc != IOTSEC_OK)
        return bk_error(BK_EXIT_IO, "TLS policy: %s", iotsec_strerror(rc));
    SSL_CTX_set_client_hello_cb(s->ctx, client_hello_cb, s);
    /* budget.c: an idle or stalled connection holds no TLS record buffers (about 34 KiB
     * each), so --max-conns idle devices and --max-pending stalled handshakes cost less */
    SSL_CTX_set_mode(s->ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_info_callback(s->ctx, info_cb);
    return BK_EXIT_OK;
}
