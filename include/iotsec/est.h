/*
 * libiotsec — enrollment over secure transport, a subset of EST (RFC 7030) (libiotsec/x509/,
 * OpenSSL). docs/DESIGN.md §14.
 *
 * The decisions of an enrollment server and what its clients need, without HTTP:
 *
 *   - bootstrap tokens: a device is given a one-time token (32 random bytes as 64 lowercase
 *     hex digits) bound to its device id; the server keeps only its hash
 *     (iotsec_est_token_new / _hash) with an expiry and a used mark, and checks a presented
 *     token against them (iotsec_est_token_check: the hash in constant time, then used, then
 *     expired);
 *   - the certificate request (RFC 2986 PKCS#10, base64 as RFC 7030 §4.2.1 sends it): it
 *     must be signed by its own key (proof of possession), its key of a type the library
 *     uses, and its subject must name the enrolling device (exactly one commonName equal to
 *     the device id; a subjectAltName it asks for may only be that id as a dNSName)
 *     (iotsec_est_csr_check); the certificate is then issued with the device profile
 *     (iotsec_x509_ca_issue: CN = SAN dNSName = device id, clientAuth), whatever else the
 *     request asked for;
 *   - the answers: certificates as a base64 PKCS#7 "certs-only" SignedData (RFC 7030 §4.1.3,
 *     §4.2.3) (iotsec_est_certs_encode / _decode), and a request made by a device
 *     (iotsec_est_csr_make).
 *
 * OpenSSL types appear as struct tags (x509.h).
 */
#ifndef IOTSEC_EST_H
#define IOTSEC_EST_H

#include "iotsec/config.h"
#if !IOTSEC_HAVE_X509
#error "iotsec/est.h: this libiotsec build does not have the OpenSSL X.509 part (libiotsec/x509/) (IOTSEC_HAVE_X509 is 0 in iotsec/config.h)"
#endif

#include <stddef.h>
#include <stdint.h>

#include "iotsec/export.h"
#include "iotsec/x509.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IOTSEC_EST_TOKEN_TEXT_LEN 64u /* characters of a token (32 bytes, lowercase hex) */
#define IOTSEC_EST_TOKEN_HASH_LEN 32u /* bytes of a token's stored hash (SHA-256) */
#define IOTSEC_EST_BODY_MAX (64u * 1024u) /* largest base64 body read, bytes */

/* A new bootstrap token for device_id[0..id_len): text gets 64 lowercase hex digits of 32
 * random bytes and a NUL; hash gets what to store (as iotsec_est_token_hash). Errors:
 * IOTSEC_E_INVALID_ARG (NULL, or a device id that fails iotsec_device_id_check);
 * IOTSEC_E_BACKEND (no randomness). */
IOTSEC_API int iotsec_est_token_new(const char *device_id, size_t id_len,
                                    char text[IOTSEC_EST_TOKEN_TEXT_LEN + 1],
                                    uint8_t hash[IOTSEC_EST_TOKEN_HASH_LEN]);

/* The hash of a token presented for device_id: SHA-256 over "iotsec-est-token-v1", a NUL,
 * the device id, a NUL and token[0..token_len) (any bytes, at most 1024), so a token is bound
 * to its device. Errors: IOTSEC_E_INVALID_ARG (NULL, token_len over 1024, a device id that
 * fails iotsec_device_id_check); IOTSEC_E_BACKEND. */
IOTSEC_API int iotsec_est_token_hash(const char *device_id, size_t id_len, const char *token,
                                     size_t token_len, uint8_t hash[IOTSEC_EST_TOKEN_HASH_LEN]);

/* Decide a presented token: presented (its hash) against the stored hash, constant time;
 * then single use (used_at: when it was used, Unix seconds; 0 = never); then expires_at
 * against now (Unix seconds; the token is valid while now ≤ expires_at). Returns IOTSEC_OK;
 * IOTSEC_E_BAD_MAC (not the token: a wrong or unknown one); IOTSEC_E_REPLAY (used already);
 * IOTSEC_E_EXPIRED (past expires_at); IOTSEC_E_INVALID_ARG (NULL, used_at or now
 * negative). */
IOTSEC_API IOTSEC_MUST_CHECK int iotsec_est_token_check(
    const uint8_t stored[IOTSEC_EST_TOKEN_HASH_LEN], int64_t expires_at, int64_t used_at,
    const uint8_t presented[IOTSEC_EST_TOKEN_HASH_LEN], int64_t now);

/* Check an enrollment request body[0..len): base64 (RFC 4648; CR, LF, space and tab are
 * ignored) of one DER PKCS#10 request, at most IOTSEC_EST_BODY_MAX bytes; version 1; its
 * signature verifies with its own public key; that key is P-256 (named curve), Ed25519 or RSA
 * of 2048 to 4096 bits; its subject holds exactly one commonName, equal byte for byte to
 * device_id[0..id_len); a subjectAltName it requests names only device_id as dNSName. On
 * success *key (optional) gets the request's public key (the caller frees it,
 * EVP_PKEY_free); on a refusal reason (optional, cap bytes) one line saying why. Errors:
 * IOTSEC_E_BAD_LENGTH (body over the limit, or empty); IOTSEC_E_BAD_ENCODING (base64 or DER
 * that does not decode); IOTSEC_E_TRAILING_DATA (bytes after the request);
 * IOTSEC_E_BAD_VERSION; IOTSEC_E_BAD_SIGNATURE (no proof of possession); IOTSEC_E_BAD_KEY
 * (key type or size); IOTSEC_E_MISSING_FIELD (no commonName); IOTSEC_E_MALFORMED (two);
 * IOTSEC_E_IDENTITY_MISMATCH (the commonName is not device_id); IOTSEC_E_POLICY (other
 * subjectAltNames requested); IOTSEC_E_INVALID_ARG; IOTSEC_E_NO_MEMORY. */
IOTSEC_API IOTSEC_MUST_CHECK int iotsec_est_csr_check(const uint8_t *body, size_t len,
                                                      const char *device_id, size_t id_len,
                                                      struct evp_pkey_st **key, char *reason,
                                                      size_t cap);

/* Make a request for key (the device's private key; it never leaves the caller) with subject
 * CN = device_id, signed with it (SHA-256; pure Ed25519), as base64 DER text in lines of 64
 * characters ending in "\n": a new NUL-terminated *out (free), *out_len its length. Errors:
 * IOTSEC_E_INVALID_ARG (NULL, a device id that fails iotsec_device_id_check);
 * IOTSEC_E_UNSUPPORTED (key type); IOTSEC_E_NO_MEMORY; IOTSEC_E_BACKEND. */
IOTSEC_API int iotsec_est_csr_make(struct evp_pkey_st *key, const char *device_id, char **out,
                                   size_t *out_len);

/* certs[0..n) (n ≥ 1) as a PKCS#7 SignedData without signers ("certs-only"), DER, as base64
 * text in lines of 64 characters ending in "\n": a new NUL-terminated *out (free), *out_len
 * its length. Errors: IOTSEC_E_INVALID_ARG; IOTSEC_E_NO_MEMORY; IOTSEC_E_BACKEND. */
IOTSEC_API int iotsec_est_certs_encode(struct x509_st *const *certs, size_t n, char **out,
                                       size_t *out_len);

/* Decode an EST certificates answer body[0..len) (base64 of a certs-only PKCS#7, whitespace
 * ignored, at most IOTSEC_EST_BODY_MAX bytes) into out[0..*n) (1..cap certificates, in the
 * order sent; each the caller's: X509_free). Errors: IOTSEC_E_BAD_LENGTH;
 * IOTSEC_E_BAD_ENCODING (base64 or DER, not a SignedData, or no certificate);
 * IOTSEC_E_TRAILING_DATA; IOTSEC_E_BUFFER_TOO_SMALL (more than cap); IOTSEC_E_INVALID_ARG;
 * IOTSEC_E_NO_MEMORY. */
IOTSEC_API int iotsec_est_certs_decode(const uint8_t *body, size_t len, struct x509_st **out,
                                       size_t cap, size_t *n);

#ifdef __cplusplus
}
#endif

#endif
