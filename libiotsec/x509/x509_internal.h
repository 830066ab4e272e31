/* libiotsec — helpers shared by the files of libiotsec/x509/ (not installed, not exported:
 * the library is built with -fvisibility=hidden and these carry no IOTSEC_API). */
#ifndef IOTSEC_X509_INTERNAL_H
#define IOTSEC_X509_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/asn1.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "iotsec/x509.h"

/* ASN1_TIME (UTCTime or GeneralizedTime) → Unix seconds. IOTSEC_E_BAD_ENCODING if it does
 * not parse. */
int iotsec_x509i_time_to_unix(const ASN1_TIME *t, int64_t *out);
/* Unix seconds → a new ASN1_TIME (UTCTime before 2050, GeneralizedTime after), or NULL. */
ASN1_TIME *iotsec_x509i_time_from_unix(int64_t t);

/* A serial number → the IOTSEC_SERIAL_LEN index key. IOTSEC_E_BAD_VALUE for a zero,
 * negative or over-20-byte serial. */
int iotsec_x509i_serial_key(const ASN1_INTEGER *serial, uint8_t out[IOTSEC_SERIAL_LEN]);

/* The IOTSEC_E_* code for an X509_V_ERR_* value (X509_V_OK → IOTSEC_OK). */
int iotsec_x509i_err_code(int x509_err);

/* ---- chains (chain.c) ------------------------------------------------------------------ */

/* The verify flags every chain check uses: the anchor may be a pinned intermediate. No
 * X509_V_FLAG_X509_STRICT: the library's own checks replace it (x509.h). */
#define IOTSEC_X509I_VERIFY_FLAGS X509_V_FLAG_PARTIAL_CHAIN

/* A new X509_STORE trusting anchor alone (no default paths), with the flags above. */
X509_STORE *iotsec_x509i_store_new(X509 *anchor);

/* The outcome of a chain verification. */
typedef struct iotsec_x509i_result {
    int code;        /* IOTSEC_OK or the refusal */
    int x509_error;  /* the X509_V_ERR_* behind it (for the TLS alert), X509_V_OK if none */
    int depth;       /* position of the certificate at fault in the chain (0: the leaf) */
    char text[IOTSEC_X509_REASON_MAX]; /* the check that failed, one line; "" on success */
} iotsec_x509i_result;

/* Verify the chain of sctx, already initialised with a store holding the anchor alone (as
 * iotsec_x509i_store_new makes it), the leaf and the untrusted certificates: sets the time
 * (now), flags, depth (max_depth, 1..IOTSEC_CHAIN_MAX) and TLS-client purpose on sctx, runs
 * X509_verify_cert, then the library's own checks (x509.h). On success the verified chain
 * is X509_STORE_CTX_get0_chain(sctx), the anchor last. Leaves OpenSSL's error queue empty. */
void iotsec_x509i_verify(X509_STORE_CTX *sctx, X509 *anchor, unsigned max_depth, int64_t now,
                         iotsec_x509i_result *res);

/* Does the CA certificate ca chain to anchor at now, through the CAs of others (untrusted;
 * may be NULL), every certificate of that chain a valid CA? IOTSEC_OK, or IOTSEC_E_UNTRUSTED
 * with the reason in why[0..cap). */
int iotsec_x509i_ca_chains(X509 *anchor, X509 *ca, STACK_OF(X509) *others, int64_t now,
                           char *why, size_t cap);

/* The links of a verified chain (the leaf first, the anchor last: n ≥ 2) into id->chain and
 * id->chain_len. IOTSEC_E_BAD_VALUE for a bad serial, IOTSEC_E_UNTRUSTED for a chain longer
 * than IOTSEC_CHAIN_MAX, IOTSEC_E_BACKEND. */
int iotsec_x509i_chain_links(STACK_OF(X509) *chain, iotsec_peer_identity *id);

/* SHA-256 of a Name's DER; SHA-256 of a certificate's public key (X509_pubkey_digest). */
int iotsec_x509i_name_hash(const X509_NAME *name, uint8_t out[IOTSEC_NAME_HASH_LEN]);
int iotsec_x509i_key_hash(const X509 *cert, uint8_t out[IOTSEC_KEY_HASH_LEN]);

/* A Name as RFC 2253 text, cut to fit out[0..cap) ("…" marks a cut); "?" if it cannot be
 * printed. */
void iotsec_x509i_name_text(const X509_NAME *name, char *out, size_t cap);

/* The library's CA rule for cert (x509.h): basicConstraints CA:TRUE, and keyCertSign when it
 * has keyUsage. IOTSEC_OK, or IOTSEC_E_UNTRUSTED with the reason in why[0..cap). */
int iotsec_x509i_ca_rule(X509 *cert, char *why, size_t cap);

/* 1 if in[0..len) should be read as DER (it starts with a SEQUENCE tag), 0 for PEM. */
int iotsec_x509i_is_der(const uint8_t *in, size_t len);

#endif
