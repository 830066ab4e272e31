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
 * Trust model (docs/DESIGN.md §7.1): one trust anchor — a self-signed root or a pinned
 * intermediate — and chains of at most iotsec_chain_policy.max_depth certificates below it
 * (default 2: root → issuing CA → device), built from the intermediates the peer presents
 * and an optional bundle, none of which is trusted by itself. A CA certificate (every
 * certificate above the device's, the anchor included) must have basicConstraints CA:TRUE
 * and, when it has keyUsage, keyCertSign (cRLSign for CRLs): a CA without keyUsage is
 * accepted, as Go's crypto/x509 and webpki accept it. A device certificate is valid when its
 * chain verifies, every certificate is within its validity period, it is not a CA itself, and
 * (if it has them) its extendedKeyUsage allows clientAuth and its keyUsage
 * digitalSignature. OpenSSL's X509_V_FLAG_X509_STRICT is not used; the library checks
 * instead that EC keys name their curve, that a certificate's two signature algorithm
 * fields agree, and that serials are positive and at most 20 bytes. Every refusal comes
 * with a one-line reason that names the check that failed (iotsec_x509_verify_chain).
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

/* Chains (docs/DESIGN.md §7.1). */
#define IOTSEC_CHAIN_MAX 8u           /* most certificates below the trust anchor, the device's
                                         included, a chain may have (max_depth's upper bound) */
#define IOTSEC_CHAIN_DEPTH_DEFAULT 2u /* max_depth 0 means this: root → issuing CA → device */
#define IOTSEC_NAME_HASH_LEN 32u      /* SHA-256 of a Name's DER, bytes */
#define IOTSEC_KEY_HASH_LEN 32u       /* SHA-256 of a public key's BIT STRING contents, bytes */
#define IOTSEC_X509_REASON_MAX 256u   /* bytes of a refusal reason, NUL included: always enough */

/* One certificate of a verified chain, as revocation needs it: which issuer, which serial.
 * chain[0] is the device's certificate, chain[i] the i-th CA certificate above it; the issuer
 * of chain[chain_len - 1] is the trust anchor. */
typedef struct iotsec_chain_link {
    uint8_t serial[IOTSEC_SERIAL_LEN];        /* the certificate's serial (IOTSEC_SERIAL_LEN) */
    uint8_t issuer[IOTSEC_NAME_HASH_LEN];     /* SHA-256 of its issuer's subject Name, DER as
                                                 the issuer certificate encodes it (the key
                                                 of iotsec_crl_floor.issuer) */
    uint8_t issuer_key[IOTSEC_KEY_HASH_LEN];  /* SHA-256 of its issuer's public key (the BIT
                                                 STRING contents of its SubjectPublicKeyInfo) */
} iotsec_chain_link;

/* The identity of a device certificate. */
typedef struct iotsec_peer_identity {
    char device_id[IOTSEC_DEVICE_ID_MAX + 1]; /* NUL-terminated, 1–64 bytes of the alphabet */
    size_t device_id_len;                     /* bytes before the NUL */
    iotsec_id_source source;                  /* where device_id came from */
    uint8_t fingerprint[IOTSEC_FINGERPRINT_LEN]; /* SHA-256 of the certificate's DER */
    uint8_t serial[IOTSEC_SERIAL_LEN];        /* serial number, see IOTSEC_SERIAL_LEN */
    /* The verified chain, filled by chain verification (iotsec_tls_check_chain, the TLS
     * handshake, iotsec_tls_peer_identity): 1..IOTSEC_CHAIN_MAX links, chain[0] this
     * certificate. 0 when the identity was read from the certificate alone
     * (iotsec_x509_identity): revocation then takes the certificate as issued by the trust
     * anchor directly, as a chain of one. */
    size_t chain_len;
    iotsec_chain_link chain[IOTSEC_CHAIN_MAX];
} iotsec_peer_identity;

/* How device certificate chains are built (docs/DESIGN.md §7.1). Zeroed = the defaults. */
typedef struct iotsec_chain_policy {
    /* Most certificates below the trust anchor, the device's included: 1 = issued by the
     * anchor directly; 0 = IOTSEC_CHAIN_DEPTH_DEFAULT (2); at most IOTSEC_CHAIN_MAX. */
    unsigned max_depth;
    /* Untrusted CA certificates a chain may be built from besides those the peer presents
     * (a bundle), or NULL; borrowed. None is trusted by being here: each must chain to the
     * anchor like the peer's. */
    struct x509_st *const *intermediates;
    size_t intermediate_count;
} iotsec_chain_policy;

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
/* Decode 1 to cap certificates from in[0..len): PEM "CERTIFICATE" blocks in order (text
 * between blocks is ignored) or exactly one DER certificate, into out[0..*n). A TLS peer's
 * chain is the leaf followed by its intermediates. Each out[i] belongs to the caller
 * (X509_free); on error nothing is returned and *n is 0. Errors: IOTSEC_E_BAD_ENCODING (no
 * certificate, or a block that does not parse); IOTSEC_E_TRAILING_DATA (bytes after the DER
 * certificate); IOTSEC_E_BUFFER_TOO_SMALL (more than cap certificates);
 * IOTSEC_E_INVALID_ARG; IOTSEC_E_NO_MEMORY. */
IOTSEC_API int iotsec_x509_certs_decode(const uint8_t *in, size_t len, struct x509_st **out,
                                        size_t cap, size_t *n);
/* Read path (≤ IOTSEC_X509_FILE_MAX) and decode it as iotsec_x509_certs_decode. Extra errors:
 * IOTSEC_E_IO, IOTSEC_E_BAD_LENGTH. */
IOTSEC_API int iotsec_x509_certs_load_file(const char *path, struct x509_st **out, size_t cap,
                                           size_t *n);
/* Decode exactly one CRL from in[0..len): PEM ("X509 CRL") or DER (RFC 5280 §5). Only
 * decodes; iotsec_revocation_add_crl verifies. Errors: IOTSEC_E_BAD_ENCODING,
 * IOTSEC_E_TRAILING_DATA, IOTSEC_E_INVALID_ARG. */
IOTSEC_API int iotsec_x509_crl_decode(const uint8_t *in, size_t len,
                                      struct X509_crl_st **out);

/* ---- verifying a device certificate outside a handshake ------------------------------- */

/* Verify that cert is a device certificate issued directly by ca (the trust anchor, a root
 * or a pinned intermediate) and valid at now (Unix seconds): iotsec_x509_verify_chain with
 * no intermediates and the default policy, so the chain is cert + ca. Only ca is trusted (no
 * system store). Errors: IOTSEC_E_UNTRUSTED (not signed by ca, issuer differs, ca not a
 * valid CA, the leaf is itself a CA, or any other X.509 failure); IOTSEC_E_EXPIRED (past
 * notAfter); IOTSEC_E_NOT_YET_VALID (before notBefore); IOTSEC_E_POLICY (not usable for TLS
 * client authentication: extendedKeyUsage without clientAuth, or keyUsage without
 * digitalSignature); IOTSEC_E_BAD_VALUE (a bad serial); IOTSEC_E_INVALID_ARG (NULL,
 * now < 0); IOTSEC_E_NO_MEMORY. */
IOTSEC_API IOTSEC_MUST_CHECK int iotsec_x509_verify(struct x509_st *ca, struct x509_st *cert,
                                                    int64_t now);

/* Verify the device certificate certs[0] at now (Unix seconds) against the trust anchor
 * (the only trusted certificate: a root, or a pinned intermediate), building the chain from
 * certs[1..n) (the intermediates the peer presented, untrusted, any order) and
 * chain->intermediates (NULL chain = the defaults): the rules of the header comment, without
 * revocation. On a refusal reason (optional, cap bytes; IOTSEC_X509_REASON_MAX always
 * suffices, a shorter text is cut) gets one line naming the check that failed, e.g. "chain
 * longer than 2 below the trust anchor", "CA certificate \"CN=Issuing CA\" keyUsage lacks
 * keyCertSign", "certificate lacks the clientAuth extended key usage"; on success "".
 * Errors: IOTSEC_E_UNTRUSTED (no chain to the anchor, a signature that does not verify, the
 * chain longer than max_depth, a CA certificate without basicConstraints CA:TRUE or whose
 * keyUsage lacks keyCertSign or whose extendedKeyUsage lacks clientAuth, a path length or
 * name constraint broken, the device certificate a CA or the anchor itself, an EC key with
 * explicit parameters, signature algorithm fields that differ, any other X.509 failure);
 * IOTSEC_E_EXPIRED (a certificate of the chain past its notAfter); IOTSEC_E_NOT_YET_VALID
 * (before its notBefore); IOTSEC_E_POLICY (the device certificate not usable for TLS client
 * authentication: extendedKeyUsage without clientAuth, keyUsage without digitalSignature);
 * IOTSEC_E_BAD_VALUE (a serial in the chain that is zero, negative or over 20 bytes);
 * IOTSEC_E_INVALID_ARG (NULL anchor or certs, n 0, now < 0, max_depth over
 * IOTSEC_CHAIN_MAX, a NULL intermediate); IOTSEC_E_NO_MEMORY. */
IOTSEC_API IOTSEC_MUST_CHECK int iotsec_x509_verify_chain(struct x509_st *anchor,
                                                          const iotsec_chain_policy *chain,
                                                          struct x509_st *const *certs,
                                                          size_t n, int64_t now, char *reason,
                                                          size_t cap);

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

/* Make a CA certificate for key with subject CN = common_name, validity [not_before,
 * not_after], basicConstraints CA:TRUE (critical) with pathLenConstraint path_len (-1: none;
 * 0 = it may issue end-entity certificates only), keyUsage keyCertSign cRLSign (critical),
 * subjectKeyIdentifier and a random positive 128-bit serial. With issuer NULL it is
 * self-signed (a root; issuer_key must be NULL too); otherwise it is an intermediate issued
 * by issuer / issuer_key (issuer = its subject, authorityKeyIdentifier = its key id), which
 * must itself be a CA allowed to issue CAs. Errors: IOTSEC_E_INVALID_ARG (NULL key or out,
 * name empty or over 64 bytes, not_after ≤ not_before, path_len outside -1..16, only one of
 * issuer and issuer_key); IOTSEC_E_POLICY (issuer lacks basicConstraints CA:TRUE, its
 * keyUsage lacks keyCertSign, or its pathLenConstraint is 0); IOTSEC_E_BAD_KEY (issuer_key
 * does not match issuer); IOTSEC_E_UNSUPPORTED (key type); IOTSEC_E_NO_MEMORY;
 * IOTSEC_E_BACKEND. */
IOTSEC_API int iotsec_x509_ca_create(struct evp_pkey_st *key, const char *common_name,
                                     int path_len, int64_t not_before, int64_t not_after,
                                     struct x509_st *issuer, struct evp_pkey_st *issuer_key,
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
/* Write certs[0..n) (n ≥ 1) as consecutive PEM blocks ("CERTIFICATE") to path atomically
 * with mode 0644: a chain file, the leaf first. Errors: IOTSEC_E_INVALID_ARG,
 * IOTSEC_E_BACKEND, IOTSEC_E_IO. */
IOTSEC_API int iotsec_x509_certs_write_file(struct x509_st *const *certs, size_t n,
                                            const char *path);
/* Write key, its certificate cert and the CA certificates chain[0..n) (may be 0) as one
 * PKCS#12 file (RFC 7292) to path atomically with mode 0600, for factories that inject keys:
 * key and certificates encrypted with AES-256-CBC under PBES2/PBKDF2-HMAC-SHA256 (600000
 * iterations), integrity by an HMAC-SHA256 MAC, protected by password[0..pw_len) (1-1023
 * bytes, no NUL); friendlyName = name (optional, the device id). Readable by `openssl
 * pkcs12` and Python's cryptography. Errors: IOTSEC_E_INVALID_ARG (NULL, a password of
 * another length or with a NUL, chain NULL with n > 0); IOTSEC_E_BAD_KEY (key does not
 * match cert); IOTSEC_E_NO_MEMORY; IOTSEC_E_BACKEND; IOTSEC_E_IO. */
IOTSEC_API int iotsec_x509_pkcs12_write_file(struct evp_pkey_st *key, struct x509_st *cert,
                                             struct x509_st *const *chain, size_t n,
                                             const char *password, size_t pw_len,
                                             const char *name, const char *path);
/* Write crl as PEM ("X509 CRL") or DER (format IOTSEC_X509_PEM / IOTSEC_X509_DER) to path
 * atomically with mode 0644. Errors: IOTSEC_E_INVALID_ARG, IOTSEC_E_BACKEND, IOTSEC_E_IO. */
IOTSEC_API int iotsec_x509_crl_write_file(struct X509_crl_st *crl, const char *path,
                                          int format);

#ifdef __cplusplus
}
#endif

#endif
