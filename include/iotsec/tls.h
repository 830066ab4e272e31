/*
 * libiotsec — mTLS server policy for OpenSSL SSL_CTX (libiotsec/x509/). docs/DESIGN.md §7, §10.
 *
 * iotsec_tls_server_setup() turns an SSL_CTX into a device-facing mTLS server context:
 *
 *   - TLS 1.2 or newer only, with Mozilla's "intermediate" choice of suites minus its DHE
 *     ones: TLS 1.3 with TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384 and
 *     TLS_CHACHA20_POLY1305_SHA256; TLS 1.2 with ECDHE key exchange and an AEAD cipher only:
 *     ECDHE-{ECDSA,RSA}-AES128-GCM-SHA256, ECDHE-{ECDSA,RSA}-AES256-GCM-SHA384 and
 *     ECDHE-{ECDSA,RSA}-CHACHA20-POLY1305 (those of the server key's type are usable): no
 *     CBC, no RSA or static DH key exchange, no SHA-1 MAC; key exchange groups X25519, P-256
 *     and P-384 (no finite-field DHE, in TLS 1.3 either). tests/scripts/tls_policy.sh
 *     checks what a server accepts;
 *   - a client certificate is required (SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
 *   - the chain is verified by the library (the context's certificate verification
 *     callback, SSL_CTX_set_cert_verify_callback) against the trust anchor only: the context
 *     gets its own X509_STORE holding that one certificate (no default paths, no system
 *     store); the chain is built from the intermediates the client presents and the
 *     policy's bundle (policy->chain), at most policy->chain.max_depth certificates below the
 *     anchor, under the rules of x509.h (iotsec_x509_verify_chain: CA certificates with
 *     basicConstraints CA:TRUE and, if they have keyUsage, keyCertSign; the TLS-client
 *     purpose; no X509_V_FLAG_X509_STRICT);
 *   - then the leaf must not be a CA, its identity must be valid under the policy
 *     (iotsec_x509_identity), and no certificate of the chain may be revoked by the holder's
 *     current set (iotsec_revocation_check_detail at the current time, each level against
 *     its issuer's CRLs). A failure aborts the handshake with an alert: certificate_revoked
 *     for a revoked certificate, certificate_expired for an expired one or a stale CRL,
 *     bad_certificate for a bad identity, unknown_ca for a foreign issuer (the alert OpenSSL
 *     maps from the X509_V_ERR_* set).
 *
 * Every decision is recorded as an iotsec_tls_verdict on the SSL object, retrievable with
 * iotsec_tls_verdict_get() after the handshake (failed or not) for the server's log, and
 * optionally passed to a callback during the handshake.
 *
 * OpenSSL types appear as struct tags (struct ssl_st = SSL, struct ssl_ctx_st = SSL_CTX), so
 * this header needs no OpenSSL header.
 */
#ifndef IOTSEC_TLS_H
#define IOTSEC_TLS_H

#include "iotsec/config.h"
#if !IOTSEC_HAVE_X509
#error "iotsec/tls.h: this libiotsec build does not have the OpenSSL X.509 part (libiotsec/x509/) (IOTSEC_HAVE_X509 is 0 in iotsec/config.h)"
#endif

#include <stddef.h>
#include <stdint.h>

#include "iotsec/export.h"
#include "iotsec/revocation.h"
#include "iotsec/x509.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ssl_st;     /* OpenSSL SSL */
struct ssl_ctx_st; /* OpenSSL SSL_CTX */

#define IOTSEC_TLS_DETAIL_MAX 256u /* bytes of iotsec_tls_verdict.detail, NUL included */

/* The outcome of checking one client certificate. */
typedef struct iotsec_tls_verdict {
    int code;                        /* IOTSEC_OK, or why the peer was refused */
    iotsec_revocation_reason reason; /* for IOTSEC_E_REVOKED: which list matched */
    int x509_error;                  /* the X509_V_ERR_* value behind the alert, 0 if none */
    int depth;                       /* chain depth of the certificate that failed (0 leaf) */
    int have_identity;               /* 1 when identity is filled in */
    iotsec_peer_identity identity;   /* the leaf's identity, when it could be read (with its
                                        chain once the chain verified) */
    char detail[IOTSEC_TLS_DETAIL_MAX]; /* one line for logs, NUL-terminated: the check that
                                           failed, then ": IOTSEC_E_NAME" */
} iotsec_tls_verdict;

/* Called inside the handshake (in the thread running it) once per client certificate
 * decision, accepted or refused. It must not block for long and must not free ssl. */
typedef void (*iotsec_tls_verdict_cb)(void *arg, struct ssl_st *ssl,
                                      const iotsec_tls_verdict *verdict);

typedef struct iotsec_tls_policy {
    struct x509_st *ca;                   /* the trust anchor: the only trusted certificate
                                             (a root, or a pinned intermediate) */
    iotsec_revocation_holder *revocation; /* current revocation set; NULL = no revocation
                                             checking (denylist- and CRL-free deployments
                                             only). Borrowed: must outlive the SSL_CTX. */
    iotsec_identity_policy identity;      /* where the device id comes from */
    iotsec_tls_verdict_cb on_verdict;     /* optional */
    void *cb_arg;                         /* passed to on_verdict */
    iotsec_chain_policy chain;            /* depth and intermediates bundle (x509.h); zeroed:
                                             the defaults */
    /* 0 (the default): a client certificate is required. 1: it is requested but a client
     * may complete the handshake without one (EST bootstrap enrollment, est.h): a
     * certificate that is presented is still checked in full and a bad one refused, but a
     * connection without one has no identity (iotsec_tls_peer_identity: IOTSEC_E_UNTRUSTED,
     * iotsec_tls_verdict_get: no certificate examined) and the application must refuse it
     * everything but enrollment. */
    int client_cert_optional;
} iotsec_tls_policy;

/* Configure ctx as described above. The policy is copied into ctx (the CA and the bundle's
 * certificates are up-ref'd, the trust domain string copied); the holder and cb_arg are
 * borrowed. Calling it again
 * replaces the previous policy; do that only while no handshake runs on ctx (the old copy
 * is freed). Session resumption (tickets and the session cache) and renegotiation are
 * turned off, so every connection presents its certificate and is checked against the
 * revocation set current at its handshake. The server's own certificate and key are the
 * caller's business. Errors: IOTSEC_E_INVALID_ARG (NULL ctx, policy or ca, bad id source,
 * client_cert_optional not 0 or 1,
 * chain.max_depth over IOTSEC_CHAIN_MAX, a NULL certificate in chain.intermediates);
 * IOTSEC_E_NO_MEMORY; IOTSEC_E_BACKEND (OpenSSL refused a setting). */
IOTSEC_API int iotsec_tls_server_setup(struct ssl_ctx_st *ctx, const iotsec_tls_policy *policy);

/* The identity of the verified client of ssl after a successful handshake, read under
 * policy's identity rules (NULL policy = the policy installed on ssl's SSL_CTX), with its
 * verified chain (out->chain, for revocation checks on later requests). Errors: IOTSEC_E_UNTRUSTED (no peer certificate, or its verification did not succeed);
 * IOTSEC_E_STATE (policy NULL and none installed); the errors of iotsec_x509_identity. */
IOTSEC_API IOTSEC_MUST_CHECK int iotsec_tls_peer_identity(const struct ssl_st *ssl,
                                                          const iotsec_tls_policy *policy,
                                                          iotsec_peer_identity *out);

/* The verdict recorded on ssl by the handshake. If no client certificate was examined
 * (the client sent none, or the handshake stopped earlier), *out has code
 * IOTSEC_E_UNTRUSTED, x509_error from SSL_get_verify_result and detail saying so.
 * Returns IOTSEC_OK when *out was filled, IOTSEC_E_INVALID_ARG otherwise. */
IOTSEC_API int iotsec_tls_verdict_get(const struct ssl_st *ssl, iotsec_tls_verdict *out);

/* Apply the handshake's checks to cert outside TLS at time now: iotsec_tls_check_chain
 * with no intermediates besides policy->chain's bundle. */
IOTSEC_API IOTSEC_MUST_CHECK int iotsec_tls_check_cert(const iotsec_tls_policy *policy,
                                                       struct x509_st *cert, int64_t now,
                                                       iotsec_tls_verdict *out);

/* Apply the handshake's checks outside TLS at time now to the chain certs[0..n) a client
 * would present (the device's certificate first, then its intermediates, untrusted):
 * iotsec_x509_verify_chain against policy->ca with policy->chain, identity, then revocation
 * of every level from policy->revocation (if not NULL). Fills *out (optional) as the
 * handshake would — out->detail names the check that failed — and returns its code:
 * IOTSEC_OK or the errors of iotsec_x509_verify_chain, iotsec_x509_identity and
 * iotsec_revocation_check_detail; IOTSEC_E_INVALID_ARG (NULL policy, ca or certs, n 0). */
IOTSEC_API IOTSEC_MUST_CHECK int iotsec_tls_check_chain(const iotsec_tls_policy *policy,
                                                        struct x509_st *const *certs, size_t n,
                                                        int64_t now, iotsec_tls_verdict *out);

#ifdef __cplusplus
}
#endif

#endif
