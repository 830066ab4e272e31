/*
 * libiotsec — X.509 for the server side and the small device CA (libiotsec/x509/, OpenSSL).
 *
 * docs/DESIGN.md §7 and §9. This module reads certificates, keys and CRLs (PEM or DER), takes a
 * device's identity out of its certificate, verifies a device certificate against the device
 * CA outside a TLS handshake, and — for the `iotsec ca` tool and for tests — issues
 * certificates and writes CRLs (RFC 5280).
 *
 * OpenSSL types appear as their struct tags (struct x509_st is OpenSSL's X509, struct
 * evp_pkey_st its EVP_PKEY, struct X509_crl_st its X509_CRL), so this header needs no
 * OpenSSL header; callers pass X509 *, EVP_PKEY *, X509_CRL * as usual. Objects returned
 * through an out-parameter belong to the caller (X509_free, EVP_PKEY_free, X509_CRL_free).
 * Objects passed in are borrowed; a function that keeps one takes its own reference.
 *
 * Time is always given by the caller as Unix seconds (int64_t), never read from the clock
 * here, so tests and replays are reproducible.
 *
 * The trust model is deliberately small: one device CA issues every device certificate
 * directly (no intermediates). A device certificate is valid when it is signed by that CA,
 * within its validity period, not a CA itself, and (if it has extendedKeyUsage) usable for
 * TLS client authentication; OpenSSL's X509_V_FLAG_X509_STRICT checks apply.
 */
#ifndef IOTSEC_X509_H
#define IOTSEC_X509_H

#include "iotsec/config.h"
#if !IOTSEC_HAVE_X509
#error "iotsec/x509.h: this libiotsec build does not have the OpenSSL X.509 part (libiotsec/x509/) (IOTSEC_HAVE_X509 is 0 in iotsec/config.h)"
#endif

#include <stddef.h>
#include <stdint.h>

#include "iotsec/denylist.h"
#include "iotsec/export.h"

#ifdef __cplusplus
extern "C" {
#endif

struct x509_st;     /* OpenSSL X509 */
struct evp_pkey_st; /* OpenSSL EVP_PKEY */
struct X509_crl_st; /* OpenSSL X509_CRL */

/* A serial number as the revocation index keys it: the magnitude of the (positive) serial,
 * big-endian, left-padded with zeros to 20 bytes (RFC 5280 §4.1.2.2 caps serials at 20
 * octets). Serials that are zero, negative or longer than 20 bytes are refused. */
#define IOTSEC_SERIAL_LEN 20u
/* Largest certificate, key or CRL file read by the *_file loaders of this module, bytes
 * (a CRL with a million entries is about 40 MB in DER). */
#define IOTSEC_X509_FILE_MAX (256u * 1024u * 1024u)

/* Where the device id is taken from (docs/DESIGN.md §7). */
typedef enum iotsec_id_source {
    /* The subject's commonName; the subject must hold exactly one. The seeds' default. */
    IOTSEC_ID_CN = 0,
    /* The one URI in subjectAltName, of the SPIFFE-style form
     *     spiffe://<trust-domain>/device/<device-id>
     * scheme "spiffe" in lower case; trust domain 1–255 bytes of [a-z0-9._-]; the path is
     * exactly "/device/" followed by the device id (one path segment, neither "." nor "..");
     * no port, user info, query or fragment. The device id is that last segment. A
     * certificate with two or more URIs in subjectAltName is refused. */
    IOTSEC_ID_SAN_URI = 1,
    /* The one dNSName in subjectAltName (two or more are refused); wildcards are not
     * device ids and fail the alphabet check. */
    IOTSEC_ID_SAN_DNS = 2
} iotsec_id_source;

/* How to read a device's identity from its certificate. */
typedef struct iotsec_identity_policy {
    iotsec_id_source source;
    /* IOTSEC_ID_SAN_URI only: the trust domain the URI must name (compared exactly), or
     * NULL to accept any well-formed trust domain. */
    const char *trust_domain;
} iotsec_identity_policy;

/* The identity of a device certificate. */
typedef struct iotsec_peer_identity {
    char device_id[IOTSEC_DEVICE_ID_MAX + 1]; /* NUL-terminated, 1–64 bytes of the alphabet */
    size_t device_id_len;                     /* bytes before the NUL */
    iotsec_id_source source;                  /* where device_id came from */
    uint8_t fingerprint[IOTSEC_FINGERPRINT_LEN]; /* SHA-256 of the certificate's DER */
    uint8_t serial[IOTSEC_SERIAL_LEN];        /* serial number, see IOTSEC_SERIAL_LEN */
} iotsec_peer_identity;

/* Read the identity of cert under policy (NULL policy = IOTSEC_ID_CN). The device id must
 * pass iotsec_device_id_check byte for byte: an embedded NUL or any byte outside
 * [A-Za-z0-9._:@-] refuses the certificate (no truncation, no escaping). commonName must be
 * a PrintableString, UTF8String or IA5String. This does not verify the certificate (see
 * iotsec_x509_verify). Nothing is written to *out on error. Errors: IOTSEC_E_MISSING_FIELD
 * (no commonName / no SAN URI / no SAN dNSName); IOTSEC_E_MALFORMED (two or more of them:
 * ambiguous identity); IOTSEC_E_BAD_ENCODING (NUL or byte outside the alphabet, other
 * string type); IOTSEC_E_BAD_LENGTH (empty or over 64 bytes); IOTSEC_E_BAD_VALUE (URI not
 * of the form above, or a serial that is zero, negative or over 20 bytes); IOTSEC_E_POLICY
 * (URI names another trust domain than policy->trust_domain); IOTSEC_E_INVALID_ARG;
 * IOTSEC_E_BACKEND. */
IOTSEC_API IOTSEC_MUST_CHECK int iotsec_x509_identity(struct x509_st *cert,
                                                      const iotsec_identity_policy *policy,
                                                      iotsec_peer_identity *out);

/* Bind a claimed device id — a frame's device_id, a request's — to the authenticated TLS
 * identity (docs/DESIGN.md §7: the frame's device_id must equal the TLS identity). Byte-exact
 * comparison of claimed[0..claimed_len) with id->device_id; no case folding, no prefix match.
 * Returns IOTSEC_OK, IOTSEC_E_IDENTITY_MISMATCH (different), or IOTSEC_E_INVALID_ARG (NULL). */
IOTSEC_API IOTSEC_MUST_CHECK int iotsec_identity_match(const iotsec_peer_identity *id,
                                                       const char *claimed, size_t claimed_len);

/* SHA-256 of cert's DER encoding. Errors: IOTSEC_E_INVALID_ARG, IOTSEC_E_BACKEND. */
IOTSEC_API int iotsec_x509_fingerprint(struct x509_st *cert,
                                       uint8_t out[IOTSEC_FINGERPRINT_LEN]);

/* cert's serial number as an index key (IOTSEC_SERIAL_LEN). Errors: IOTSEC_E_BAD_VALUE
 * (zero, negative, over 20 bytes), IOTSEC_E_INVALID_ARG. */
IOTSEC_API int iotsec_x509_serial(struct x509_st *cert, uint8_t out[IOTSEC_SERIAL_LEN]);

/* ---- reading ------------------------------------------------------------------------- */

/* Decode exactly one certificate from in[0..len): PEM ("CERTIFICATE") or DER. Errors:
 * IOTSEC_E_BAD_ENCODING (neither parses, or PEM holds a second certificate);
 * IOTSEC_E_TRAILING_DATA (bytes after the DER certificate); IOTSEC_E_INVALID_ARG. */
IOTSEC_API int iotsec_x509_cert_decode(const uint8_t *in, size_t len, struct x509_st **out);
/* Read and decode a certificate file. Errors: IOTSEC_E_IO (unreadable), IOTSEC_E_BAD_LENGTH
 * (over IOTSEC_X509_FILE_MAX), and those of iotsec_x509_cert_decode. */
IOTSEC_API int iotsec_x509_cert_load_file(const char *path, struct x509_st **out);
/* Read a private key file (at most 64 KiB; PEM or DER; PKCS#8 or traditional; not
 * encrypted) as an EVP_PKEY; the file's bytes are zeroized once decoded. Errors:
 * IOTSEC_E_IO, IOTSEC_E_BAD_LENGTH, IOTSEC_E_BAD_KEY, IOTSEC_E_UNSUPPORTED (a key type
 * other than Ed25519, EC, RSA), IOTSEC_E_NO_MEMORY. */
IOTSEC_API int iotsec_x509_key_load_file(const char *path, struct evp_pkey_st **out);
/* Decode exactly one CRL from in[0..len): PEM ("X509 CRL") or DER (RFC 5280 §5). Only
 * decodes; iotsec_revocation_add_crl verifies. Errors: IOTSEC_E_BAD_ENCODING,
 * IOTSEC_E_TRAILING_DATA, IOTSEC_E_INVALID_ARG. */
IOTSEC_API int iotsec_x509_crl_decode(const uint8_t *in, size_t len,
                                      struct X509_crl_st **out);

/* ---- verifying a device certificate outside a handshake ------------------------------- */

/* Verify that cert is a device certificate issued directly by ca and valid at now (Unix
 * seconds): the same chain rules the TLS handshake applies (tls.h), without revocation.
 * Only ca is trusted (no system store). Errors: IOTSEC_E_UNTRUSTED (not signed by ca,
 * issuer differs, chain longer than leaf + ca, the leaf is itself a CA, or any other X.509
 * failure); IOTSEC_E_EXPIRED (past notAfter); IOTSEC_E_NOT_YET_VALID (before notBefore);
 * IOTSEC_E_POLICY (not usable for TLS client authentication: extendedKeyUsage without
 * clientAuth, or keyUsage without digitalSignature); IOTSEC_E_INVALID_ARG (NULL, now < 0);
 * IOTSEC_E_NO_MEMORY. */
IOTSEC_API IOTSEC_MUST_CHECK int iotsec_x509_verify(struct x509_st *ca, struct x509_st *cert,
                                                    int64_t now);

/* ---- the device CA (iotsec ca) ---------------------------------------------------------- */

typedef enum iotsec_x509_profile {
    /* device certificate: EKU clientAuth, keyUsage digitalSignature (critical) */
    IOTSEC_X509_PROFILE_DEVICE = 1,
    /* server certificate: EKU serverAuth, keyUsage digitalSignature (plus keyEncipherment
     * for an RSA key) (critical) */
    IOTSEC_X509_PROFILE_SERVER = 2
} iotsec_x509_profile;

/* What goes into an end-entity certificate. Every certificate also gets a random positive
 * 128-bit serial, subjectKeyIdentifier, authorityKeyIdentifier (keyid of the CA) and
 * basicConstraints CA:FALSE. */
typedef struct iotsec_x509_cert_params {
    iotsec_x509_profile profile;
    const char *common_name; /* subject CN; must pass iotsec_device_id_check */
    const char *san_dns;     /* one SAN dNSName, or NULL (device ids pass the alphabet check) */
    const char *san_ip;      /* one SAN iPAddress as IPv4 or IPv6 text, or NULL */
    const char *san_uri;     /* one SAN URI, or NULL */
    int64_t not_before;      /* Unix seconds */
    int64_t not_after;       /* Unix seconds, > not_before */
} iotsec_x509_cert_params;

/* Make a self-signed device CA certificate for key: subject and issuer CN = common_name,
 * random positive 128-bit serial, basicConstraints CA:TRUE pathlen:0 (critical), keyUsage
 * keyCertSign cRLSign (critical), subjectKeyIdentifier, validity [not_before, not_after].
 * Signed with SHA-256 (ECDSA or RSA PKCS#1 v1.5) or pure Ed25519. Errors:
 * IOTSEC_E_INVALID_ARG (NULL, empty or over-64-byte name, not_after ≤ not_before);
 * IOTSEC_E_UNSUPPORTED (key type); IOTSEC_E_NO_MEMORY; IOTSEC_E_BACKEND. */
IOTSEC_API int iotsec_x509_ca_self_sign(struct evp_pkey_st *key, const char *common_name,
                                        int64_t not_before, int64_t not_after,
                                        struct x509_st **out);

/* Issue an end-entity certificate for subject_key, signed by ca / ca_key, as described by p.
 * Errors: IOTSEC_E_INVALID_ARG (NULL, bad profile or times); IOTSEC_E_BAD_LENGTH /
 * IOTSEC_E_BAD_ENCODING (common_name fails iotsec_device_id_check); IOTSEC_E_BAD_VALUE
 * (san_ip not an IP address); IOTSEC_E_BAD_KEY (ca_key does not match ca);
 * IOTSEC_E_UNSUPPORTED; IOTSEC_E_NO_MEMORY; IOTSEC_E_BACKEND. */
IOTSEC_API int iotsec_x509_ca_issue(struct x509_st *ca, struct evp_pkey_st *ca_key,
                                    struct evp_pkey_st *subject_key,
                                    const iotsec_x509_cert_params *p, struct x509_st **out);

/* One revoked certificate for iotsec_x509_crl_create. */
typedef struct iotsec_crl_entry {
    uint8_t serial[IOTSEC_SERIAL_LEN]; /* as IOTSEC_SERIAL_LEN; must not be zero */
    int64_t revoked_at;                /* revocationDate, Unix seconds */
} iotsec_crl_entry;

/* Write a v2 CRL (RFC 5280 §5) issued by ca and signed with ca_key: issuer = ca's subject,
 * thisUpdate = this_update, nextUpdate = next_update, the given entries (sorted by serial in
 * the output), cRLNumber = crl_number and authorityKeyIdentifier (keyid of ca), both
 * non-critical. Times may lie in the past (to make stale CRLs for tests). Errors:
 * IOTSEC_E_INVALID_ARG (NULL, entries NULL with count > 0, next_update ≤ this_update, a
 * negative time, a zero serial); IOTSEC_E_BAD_KEY (ca_key does not match ca);
 * IOTSEC_E_UNSUPPORTED (key type); IOTSEC_E_NO_MEMORY; IOTSEC_E_BACKEND. */
IOTSEC_API int iotsec_x509_crl_create(struct x509_st *ca, struct evp_pkey_st *ca_key,
                                      const iotsec_crl_entry *entries, size_t count,
                                      uint64_t crl_number, int64_t this_update,
                                      int64_t next_update, struct X509_crl_st **out);

#define IOTSEC_X509_PEM 0 /* output format: PEM */
#define IOTSEC_X509_DER 1 /* output format: DER */

/* Write cert as PEM ("CERTIFICATE") to path atomically with mode 0644. Errors:
 * IOTSEC_E_INVALID_ARG, IOTSEC_E_BACKEND, IOTSEC_E_IO. */
IOTSEC_API int iotsec_x509_cert_write_file(struct x509_st *cert, const char *path);
/* Write crl as PEM ("X509 CRL") or DER (format IOTSEC_X509_PEM / IOTSEC_X509_DER) to path
 * atomically with mode 0644. Errors: IOTSEC_E_INVALID_ARG, IOTSEC_E_BACKEND, IOTSEC_E_IO. */
IOTSEC_API int iotsec_x509_crl_write_file(struct X509_crl_st *crl, const char *path,
                                          int format);

#ifdef __cplusplus
}
#endif

#endif
