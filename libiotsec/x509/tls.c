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
    unsigned max_depth;      /* 1..IOTSEC_CHAIN_MAX */
    STACK_OF(X509) *bundle;  /* untrusted intermediates (owned references), or NULL */
};

/* What a check needs, from a tls_cfg or from a caller's iotsec_tls_policy. */
struct checker {
    X509 *anchor;
    unsigned max_depth;
    const iotsec_identity_policy *identity;
    iotsec_revocation_holder *holder;
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
    sk_X509_pop_free(cfg->bundle, X509_free);
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

/* Identity and revocation of a leaf whose chain (the leaf first, the anchor last) is
 * already verified. */
static void decide(const struct checker *k, STACK_OF(X509) *chain, int64_t now,
                   iotsec_tls_verdict *v)
{
    X509 *leaf = sk_X509_value(chain, 0);
    iotsec_revocation *rs;
    iotsec_revocation_reason why = IOTSEC_REVOKED_NONE;
    char text[IOTSEC_REVOCATION_DETAIL_MAX], name[80];
    size_t level = 0;
    int rc;

    v->have_identity = 0;
    rc = iotsec_x509_identity(leaf, k->identity, &v->identity);
    if (rc != IOTSEC_OK) {
        if (iotsec_x509_fingerprint(leaf, v->identity.fingerprint) != IOTSEC_OK)
            memset(v->identity.fingerprint, 0, sizeof v->identity.fingerprint);
        refuse(v, rc, X509_V_ERR_CERT_REJECTED, "no valid device identity");
        return;
    }
    v->have_identity = 1;
    rc = iotsec_x509i_chain_links(chain, &v->identity);
    if (rc != IOTSEC_OK) {
        refuse(v, rc, X509_V_ERR_CERT_REJECTED, "chain not usable for revocation checks");
        return;
    }
    if (k->holder != NULL) {
        text[0] = '\0';
        rs = iotsec_revocation_holder_get(k->holder);
        rc = rs != NULL ? iotsec_revocation_check_detail(rs, &v->identity, now, &why, &level,
                                                         text, sizeof text, NULL)
                        : IOTSEC_E_STATE;
        iotsec_revocation_unref(rs);
        if (rc == IOTSEC_E_REVOKED) {
            v->reason = why;
            v->code = rc;
            v->x509_error = X509_V_ERR_CERT_REVOKED;
            v->depth = (int)level;
            if (level == 0) {
                set_detail(v, "device %s revoked (%s): IOTSEC_E_REVOKED", v->identity.device_id,
                           iotsec_revocation_reason_name((int)why));
            } else {
                iotsec_x509i_name_text(X509_get_subject_name(sk_X509_value(chain, (int)level)),
                                       name, sizeof name);
                set_detail(v, "device %s: its intermediate \"%s\" revoked (%s): "
                              "IOTSEC_E_REVOKED",
                           v->identity.device_id, name, iotsec_revocation_reason_name((int)why));
            }
            return;
        }
        if (rc != IOTSEC_OK) {
            v->depth = (int)level;
            refuse(v, rc,
                   rc == IOTSEC_E_EXPIRED  ? X509_V_ERR_CRL_HAS_EXPIRED
                   : rc == IOTSEC_E_POLICY ? X509_V_ERR_UNABLE_TO_GET_CRL
                                           : X509_V_ERR_APPLICATION_VERIFICATION,
                   text[0] != '\0' ? text : "revocation check failed");
            return;
        }
    }
    v->code = IOTSEC_OK;
    v->x509_error = X509_V_OK;
    set_detail(v, "device %s accepted", v->identity.device_id);
}

/* Verify the chain of sctx (initialised: the store with the anchor, the leaf, the untrusted
 * certificates) and decide at now into *v. */
static void check_ctx(const struct checker *k, X509_STORE_CTX *sctx, int64_t now,
                      iotsec_tls_verdict *v)
{
    iotsec_x509i_result res;

    memset(v, 0, sizeof *v);
    iotsec_x509i_verify(sctx, k->anchor, k->max_depth, now, &res);
    if (res.code != IOTSEC_OK) {
        note_identity(k->identity, X509_STORE_CTX_get0_cert(sctx), v);
        v->code = res.code;
        v->x509_error = res.x509_error;
        v->depth = res.depth;
        set_detail(v, "%s: %s", res.text, iotsec_error_name(res.code));
        return;
    }
    decide(k, X509_STORE_CTX_get0_chain(sctx), now, v);
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

/* The context's certificate verification (SSL_CTX_set_cert_verify_callback): the whole
 * chain decision, once per handshake, with the bundle added to the peer's intermediates. */
static int cert_verify_cb(X509_STORE_CTX *sctx, void *arg)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(sctx, SSL_get_ex_data_X509_STORE_CTX_idx());
    struct tls_cfg *cfg = ssl != NULL ? SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ctx_index)
                                      : NULL;
    struct tls_state *st = ssl != NULL ? state_for(ssl) : NULL;
    STACK_OF(X509) *peer, *all = NULL;
    struct checker k;
    iotsec_tls_verdict *v;
    int i, ok = 1;

    (void)arg;
    if (cfg == NULL || st == NULL) { /* fail closed */
        X509_STORE_CTX_set_error(sctx, X509_V_ERR_APPLICATION_VERIFICATION);
        return 0;
    }
    v = &st->verdict;
    peer = X509_STORE_CTX_get0_untrusted(sctx);
    if (cfg->bundle != NULL && sk_X509_num(cfg->bundle) > 0) {
        all = peer != NULL ? sk_X509_dup(peer) : sk_X509_new_null();
        ok = all != NULL;
        for (i = 0; ok && i < sk_X509_num(cfg->bundle); i++)
            ok = sk_X509_push(all, sk_X509_value(cfg->bundle, i)) > 0;
        if (ok)
            X509_STORE_CTX_set0_untrusted(sctx, all);
    }
    if (!ok) {
        memset(v, 0, sizeof *v);
        refuse(v, IOTSEC_E_NO_MEMORY, X509_V_ERR_OUT_OF_MEM, "out of memory");
    } else {
        k.anchor = cfg->ca;
        k.max_depth = cfg->max_depth;
        k.identity = &cfg->identity;
        k.holder = cfg->holder;
        check_ctx(&k, sctx, (int64_t)time(NULL), v);
    }
    if (all != NULL) {
        X509_STORE_CTX_set0_untrusted(sctx, peer);
        sk_X509_free(all); /* references are the peer's and the bundle's */
    }
    st->decided = 1;
    X509_STORE_CTX_set_error(sctx, v->code == IOTSEC_OK ? X509_V_OK : v->x509_error);
    if (cfg->cb != NULL)
        cfg->cb(cfg->cb_arg, ssl, v);
    ERR_clear_error();
    return v->code == IOTSEC_OK;
}

int iotsec_tls_server_setup(SSL_CTX *ctx, const iotsec_tls_policy *policy)
{
    struct tls_cfg *cfg, *old;
    X509_STORE *store = NULL;
    STACK_OF(X509_NAME) *names = NULL;
    X509_NAME *ca_name = NULL;
    int ok;

    size_t i;

    if (ctx == NULL || policy == NULL || policy->ca == NULL ||
        (policy->identity.source != IOTSEC_ID_CN && policy->identity.source != IOTSEC_ID_SAN_URI &&
         policy->identity.source != IOTSEC_ID_SAN_DNS) ||
        policy->chain.max_depth > IOTSEC_CHAIN_MAX ||
        (policy->client_cert_optional != 0 && policy->client_cert_optional != 1) ||
        (policy->chain.intermediate_count > 0 && policy->chain.intermediates == NULL))
        return IOTSEC_E_INVALID_ARG;
    for (i = 0; i < policy->chain.intermediate_count; i++) {
        if (policy->chain.intermediates[i] == NULL)
            return IOTSEC_E_INVALID_ARG;
    }
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
    cfg->max_depth = policy->chain.max_depth != 0 ? policy->chain.max_depth
                                                  : IOTSEC_CHAIN_DEPTH_DEFAULT;
    if (policy->chain.intermediate_count > 0) {
        cfg->bundle = sk_X509_new_null();
        for (i = 0; cfg->bundle != NULL && i < policy->chain.intermediate_count; i++) {
            X509 *c = policy->chain.intermediates[i];
            if (X509_up_ref(c) != 1 || sk_X509_push(cfg->bundle, c) <= 0) {
                X509_free(c); /* harmless after a failed up_ref: never, in OpenSSL 3 */
                sk_X509_pop_free(cfg->bundle, X509_free);
                cfg->bundle = NULL;
            }
        }
        if (cfg->bundle == NULL) {
            cfg_free(cfg);
            return IOTSEC_E_NO_MEMORY;
        }
    }

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
    ok = ok && X509_VERIFY_PARAM_clear_flags(SSL_CTX_get0_param(ctx), X509_V_FLAG_X509_STRICT) == 1;
    if (ok) {
        /* a presented certificate is always verified (a failure ends the handshake);
         * without FAIL_IF_NO_PEER_CERT a client may also send none */
        SSL_CTX_set_verify(ctx,
                           policy->client_cert_optional
                               ? SSL_VERIFY_PEER
                               : SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                           NULL);
        SSL_CTX_set_cert_verify_callback(ctx, cert_verify_cb, NULL);
        SSL_CTX_set_verify_depth(ctx, (int)cfg->max_depth);
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
    iotsec_peer_identity id;
    STACK_OF(X509) *chain;
    X509 *cert;
    int rc;

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
    chain = SSL_get0_verified_chain(ssl);
    if (cert == NULL || chain == NULL || SSL_get_verify_result(ssl) != X509_V_OK)
        return IOTSEC_E_UNTRUSTED;
    rc = iotsec_x509_identity(cert, ip, &id);
    if (rc == IOTSEC_OK)
        rc = iotsec_x509i_chain_links(chain, &id);
    if (rc == IOTSEC_OK)
        *out = id;
    return rc;
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

int iotsec_tls_check_chain(const iotsec_tls_policy *policy, X509 *const *certs, size_t n,
                           int64_t now, iotsec_tls_verdict *out)
{
    iotsec_tls_verdict v;
    STACK_OF(X509) *untrusted = NULL;
    X509_STORE *store = NULL;
    X509_STORE_CTX *sctx = NULL;
    struct checker k;
    size_t i, extra;
    int ok;

    if (policy == NULL || policy->ca == NULL || certs == NULL || n == 0 || certs[0] == NULL ||
        now < 0 || n > (size_t)INT32_MAX || policy->chain.max_depth > IOTSEC_CHAIN_MAX ||
        (policy->chain.intermediate_count > 0 && policy->chain.intermediates == NULL) ||
        (sizeof(time_t) < 8 && now > INT32_MAX))
        return IOTSEC_E_INVALID_ARG;
    extra = policy->chain.intermediate_count;
    for (i = 1; i < n; i++) {
        if (certs[i] == NULL)
            return IOTSEC_E_INVALID_ARG;
    }
    for (i = 0; i < extra; i++) {
        if (policy->chain.intermediates[i] == NULL)
            return IOTSEC_E_INVALID_ARG;
    }
    untrusted = sk_X509_new_null();
    ok = untrusted != NULL;
    for (i = 1; ok && i < n; i++)
        ok = sk_X509_push(untrusted, certs[i]) > 0;
    for (i = 0; ok && i < extra; i++)
        ok = sk_X509_push(untrusted, policy->chain.intermediates[i]) > 0;
    if (ok) {
        store = iotsec_x509i_store_new(policy->ca);
        sctx = X509_STORE_CTX_new();
        ok = store != NULL && sctx != NULL &&
             X509_STORE_CTX_init(sctx, store, certs[0], untrusted) == 1;
    }
    if (!ok) {
        X509_STORE_CTX_free(sctx);
        X509_STORE_free(store);
        sk_X509_free(untrusted);
        ERR_clear_error();
        return IOTSEC_E_NO_MEMORY;
    }
    k.anchor = policy->ca;
    k.max_depth = policy->chain.max_depth != 0 ? policy->chain.max_depth
                                               : IOTSEC_CHAIN_DEPTH_DEFAULT;
    k.identity = &policy->identity;
    k.holder = policy->revocation;
    check_ctx(&k, sctx, now, &v);
    X509_STORE_CTX_free(sctx);
    X509_STORE_free(store);
    sk_X509_free(untrusted); /* borrowed certificates */
    ERR_clear_error();
    if (out != NULL)
        *out = v;
    return v.code;
}

int iotsec_tls_check_cert(const iotsec_tls_policy *policy, X509 *cert, int64_t now,
                          iotsec_tls_verdict *out)
{
    if (policy == NULL || policy->ca == NULL || cert == NULL)
        return IOTSEC_E_INVALID_ARG;
    return iotsec_tls_check_chain(policy, &cert, 1, now, out);
}
