/* libiotsec — mTLS server policy on an OpenSSL SSL_CTX (include/iotsec/tls.h). */
#include "iotsec/tls.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "iotsec/error.h"
#include "x509_internal.h"

/* Protocol policy (tls.h), after Mozilla's "intermediate" server profile without its DHE
 * suites: TLS 1.3 with its three AEAD suites, and TLS 1.2 with ECDHE key exchange and AEAD
 * ciphers only (AES-GCM, ChaCha20-Poly1305; ECDSA or RSA server keys). No CBC, no static RSA
 * or DH key exchange, no SHA-1 MAC, no PSK/SRP/anonymous suites. Key exchange groups are
 * elliptic curves only (no finite-field DHE in TLS 1.3 either). */
#define TLS12_CIPHERS                                                                        \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                             \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                             \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define TLS13_CIPHERSUITES                                                                   \
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
#define TLS_GROUPS "X25519:P-256:P-384"

/* The policy as installed on an SSL_CTX (owned copy). */
struct tls_cfg {
    X509 *ca;
    iotsec_revocation_holder *holder;
    iotsec_identity_policy identity; /* identity.trust_domain points to td */
    char *td;
    iotsec_tls_verdict_cb cb;
    void *cb_arg;
};

/* Per-SSL record of the decision. */
struct tls_state {
    int decided; /* a verdict (accept or refuse) has been recorded */
    iotsec_tls_verdict verdict;
};

static pthread_once_t index_once = PTHREAD_ONCE_INIT;
static int ctx_index = -1, ssl_index = -1;

static void cfg_free(struct tls_cfg *cfg)
{
    if (cfg == NULL)
        return;
    X509_free(cfg->ca);
    free(cfg->td);
    free(cfg);
}

static void ctx_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                        void *argp)
{
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    cfg_free(ptr);
}

static void ssl_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                        void *argp)
{
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    free(ptr);
}

static void make_indices(void)
{
    ctx_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, ctx_ex_free);
    ssl_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, ssl_ex_free);
}

static int indices(void)
{
    return pthread_once(&index_once, make_indices) == 0 && ctx_index >= 0 && ssl_index >= 0;
}

static void set_detail(iotsec_tls_verdict *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_detail(iotsec_tls_verdict *v, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(v->detail, sizeof v->detail, fmt, ap);
    va_end(ap);
}

/* Refuse with code, the X509_V_ERR_* behind the alert, and a detail line. */
static void refuse(iotsec_tls_verdict *v, int code, int x509_error, const char *what)
{
    v->code = code;
    v->x509_error = x509_error;
    set_detail(v, "%s: %s", what, iotsec_error_name(code));
}

/* Read what identity can be read from cert for the log (fingerprint always). */
static void note_identity(const iotsec_identity_policy *ip, X509 *cert, iotsec_tls_verdict *v)
{
    if (cert == NULL)
        return;
    if (iotsec_x509_identity(cert, ip, &v->identity) == IOTSEC_OK)
        v->have_identity = 1;
    else if (iotsec_x509_fingerprint(cert, v->identity.fingerprint) != IOTSEC_OK)
        memset(v->identity.fingerprint, 0, sizeof v->identity.fingerprint);
}

/* Identity and revocation of a leaf whose chain is already verified. */
static void decide(const iotsec_identity_policy *ip, iotsec_revocation_holder *holder,
                   X509 *leaf, int64_t now, iotsec_tls_verdict *v)
{
    iotsec_revocation *rs;
    iotsec_revocation_reason why = IOTSEC_REVOKED_NONE;
    int rc;

    v->have_identity = 0;
    rc = iotsec_x509_identity(leaf, ip, &v->identity);
    if (rc != IOTSEC_OK) {
        if (iotsec_x509_fingerprint(leaf, v->identity.fingerprint) != IOTSEC_OK)
            memset(v->identity.fingerprint, 0, sizeof v->identity.fingerprint);
        refuse(v, rc, X509_V_ERR_CERT_REJECTED, "no valid device identity");
        return;
    }
    v->have_identity = 1;
    if (holder != NULL) {
        rs = iotsec_revocation_holder_get(holder);
        rc = rs != NULL ? iotsec_revocation_check(rs, &v->identity, now, &why) : IOTSEC_E_STATE;
        iotsec_revocation_unref(rs);
        if (rc == IOTSEC_E_REVOKED) {
            v->reason = why;
            v->code = rc;
            v->x509_error = X509_V_ERR_CERT_REVOKED;
            set_detail(v, "device %s revoked (%s): IOTSEC_E_REVOKED", v->identity.device_id,
                       iotsec_revocation_reason_name((int)why));
            return;
        }
        if (rc == IOTSEC_E_EXPIRED) {
            refuse(v, rc, X509_V_ERR_CRL_HAS_EXPIRED, "revocation list is stale");
            return;
        }
        if (rc != IOTSEC_OK) {
            refuse(v, rc, X509_V_ERR_APPLICATION_VERIFICATION, "revocation check failed");
            return;
        }
    }
    v->code = IOTSEC_OK;
    v->x509_error = X509_V_OK;
    set_detail(v, "device %s accepted", v->identity.device_id);
}

static struct tls_state *state_for(SSL *ssl)
{
    struct tls_state *st = SSL_get_ex_data(ssl, ssl_index);

    if (st == NULL) {
        st = calloc(1, sizeof *st);
        if (st != NULL && SSL_set_ex_data(ssl, ssl_index, st) != 1) {
            free(st);
            st = NULL;
        }
    }
    return st;
}

static int verify_cb(int ok, X509_STORE_CTX *sctx)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(sctx, SSL_get_ex_data_X509_STORE_CTX_idx());
    struct tls_cfg *cfg = ssl != NULL ? SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ctx_index)
                                      : NULL;
    struct tls_state *st = ssl != NULL ? state_for(ssl) : NULL;
    iotsec_tls_verdict *v;
    int depth = X509_STORE_CTX_get_error_depth(sctx), err;

    if (cfg == NULL || st == NULL) { /* fail closed */
        X509_STORE_CTX_set_error(sctx, X509_V_ERR_APPLICATION_VERIFICATION);
        return 0;
    }
    v = &st->verdict;
    if (st->decided && (ok || v->code != IOTSEC_OK)) { /* called again: keep the decision */
        if (v->code != IOTSEC_OK)
            X509_STORE_CTX_set_error(sctx, v->x509_error);
        return v->code == IOTSEC_OK;
    }
    /* not yet decided, or OpenSSL found an error after the leaf was accepted (name
     * constraints and RFC 3779 are checked after the chain's signatures and dates): a
     * refusal is never turned into success */
    if (!ok) {
        err = X509_STORE_CTX_get_error(sctx);
        memset(v, 0, sizeof *v);
        v->depth = depth;
        note_identity(&cfg->identity, X509_STORE_CTX_get0_cert(sctx), v);
        v->code = iotsec_x509i_err_code(err);
        v->x509_error = err;
        set_detail(v, "certificate refused at depth %d: %s: %s", depth,
                   X509_verify_cert_error_string(err), iotsec_error_name(v->code));
    } else if (depth > 0) {
        return 1; /* the CA itself; the decision is taken at the leaf */
    } else {
        memset(v, 0, sizeof *v);
        err = iotsec_x509i_chain_check(sctx, cfg->ca);
        if (err != X509_V_OK) {
            note_identity(&cfg->identity, X509_STORE_CTX_get0_cert(sctx), v);
            refuse(v, IOTSEC_E_UNTRUSTED, err, "not issued directly by the device CA");
        } else {
            decide(&cfg->identity, cfg->holder, X509_STORE_CTX_get_current_cert(sctx),
                   (int64_t)time(NULL), v);
        }
    }
    st->decided = 1;
    if (v->code != IOTSEC_OK)
        X509_STORE_CTX_set_error(sctx, v->x509_error);
    if (cfg->cb != NULL)
        cfg->cb(cfg->cb_arg, ssl, v);
    return v->code == IOTSEC_OK;
}

int iotsec_tls_server_setup(SSL_CTX *ctx, const iotsec_tls_policy *policy)
{
    struct tls_cfg *cfg, *old;
    X509_STORE *store = NULL;
    STACK_OF(X509_NAME) *names = NULL;
    X509_NAME *ca_name = NULL;
    int ok;

    if (ctx == NULL || policy == NULL || policy->ca == NULL ||
        (policy->identity.source != IOTSEC_ID_CN && policy->identity.source != IOTSEC_ID_SAN_URI &&
         policy->identity.source != IOTSEC_ID_SAN_DNS))
        return IOTSEC_E_INVALID_ARG;
    if (!indices())
        return IOTSEC_E_NO_MEMORY;
    cfg = calloc(1, sizeof *cfg);
    if (cfg == NULL)
        return IOTSEC_E_NO_MEMORY;
    if (X509_up_ref(policy->ca) != 1) {
        free(cfg);
        return IOTSEC_E_BACKEND;
    }
    cfg->ca = policy->ca;
    cfg->holder = policy->revocation;
    cfg->identity = policy->identity;
    cfg->cb = policy->on_verdict;
    cfg->cb_arg = policy->cb_arg;
    if (policy->identity.trust_domain != NULL) {
        size_t n = strlen(policy->identity.trust_domain) + 1u;
        cfg->td = malloc(n);
        if (cfg->td == NULL) {
            cfg_free(cfg);
            return IOTSEC_E_NO_MEMORY;
        }
        memcpy(cfg->td, policy->identity.trust_domain, n);
    }
    cfg->identity.trust_domain = cfg->td;

    store = iotsec_x509i_store_new(policy->ca);
    names = sk_X509_NAME_new_null();
    ca_name = X509_NAME_dup(X509_get_subject_name(policy->ca));
    ok = store != NULL && names != NULL && ca_name != NULL && sk_X509_NAME_push(names, ca_name) > 0;
    if (ok)
        ca_name = NULL; /* owned by names */
    /* a verify store of its own: the device CA alone, no default paths */
    ok = ok && SSL_CTX_set1_verify_cert_store(ctx, store) == 1;
    ok = ok && SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1;
    ok = ok && SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) == 1;
    ok = ok && SSL_CTX_set_ciphersuites(ctx, TLS13_CIPHERSUITES) == 1;
    ok = ok && SSL_CTX_set1_groups_list(ctx, TLS_GROUPS) == 1;
    /* no renegotiation and no resumption: every connection presents and is checked with
     * its certificate against the current revocation set */
    if (ok) {
        SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET);
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        ok = SSL_CTX_set_num_tickets(ctx, 0) == 1;
    }
    ok = ok && SSL_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT) == 1;
    ok = ok && X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(ctx), IOTSEC_X509I_VERIFY_FLAGS) == 1;
    if (ok) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_cb);
        SSL_CTX_set_verify_depth(ctx, IOTSEC_X509I_DEPTH);
        SSL_CTX_set_client_CA_list(ctx, names); /* takes names */
        names = NULL;
        old = SSL_CTX_get_ex_data(ctx, ctx_index);
        ok = SSL_CTX_set_ex_data(ctx, ctx_index, cfg) == 1;
        if (ok) {
            cfg_free(old);
            cfg = NULL;
        }
    }
    X509_STORE_free(store); /* set1 took its own reference */
    X509_NAME_free(ca_name);
    sk_X509_NAME_pop_free(names, X509_NAME_free);
    cfg_free(cfg);
    ERR_clear_error();
    return ok ? IOTSEC_OK : IOTSEC_E_BACKEND;
}

int iotsec_tls_peer_identity(const SSL *ssl, const iotsec_tls_policy *policy,
                             iotsec_peer_identity *out)
{
    const struct tls_cfg *cfg;
    const iotsec_identity_policy *ip;
    X509 *cert;

    if (ssl == NULL || out == NULL)
        return IOTSEC_E_INVALID_ARG;
    if (policy != NULL) {
        ip = &policy->identity;
    } else {
        cfg = indices() ? SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ctx_index) : NULL;
        if (cfg == NULL)
            return IOTSEC_E_STATE;
        ip = &cfg->identity;
    }
    cert = SSL_get0_peer_certificate(ssl);
    if (cert == NULL || SSL_get_verify_result(ssl) != X509_V_OK)
        return IOTSEC_E_UNTRUSTED;
    return iotsec_x509_identity(cert, ip, out);
}

int iotsec_tls_verdict_get(const SSL *ssl, iotsec_tls_verdict *out)
{
    const struct tls_state *st;

    if (ssl == NULL || out == NULL)
        return IOTSEC_E_INVALID_ARG;
    st = indices() ? SSL_get_ex_data(ssl, ssl_index) : NULL;
    if (st != NULL && st->decided) {
        *out = st->verdict;
        return IOTSEC_OK;
    }
    memset(out, 0, sizeof *out);
    out->code = IOTSEC_E_UNTRUSTED;
    out->x509_error = (int)SSL_get_verify_result(ssl);
    set_detail(out, "no client certificate was examined: IOTSEC_E_UNTRUSTED");
    return IOTSEC_OK;
}

int iotsec_tls_check_cert(const iotsec_tls_policy *policy, X509 *cert, int64_t now,
                          iotsec_tls_verdict *out)
{
    iotsec_tls_verdict v;
    int rc;

    if (policy == NULL || policy->ca == NULL || cert == NULL)
        return IOTSEC_E_INVALID_ARG;
    memset(&v, 0, sizeof v);
    rc = iotsec_x509_verify(policy->ca, cert, now);
    if (rc != IOTSEC_OK) {
        note_identity(&policy->identity, cert, &v);
        v.code = rc;
        set_detail(&v, "certificate refused: %s", iotsec_error_name(rc));
    } else {
        decide(&policy->identity, policy->revocation, cert, now, &v);
    }
    if (out != NULL)
        *out = v;
    return v.code;
}
