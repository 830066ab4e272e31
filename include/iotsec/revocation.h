/*
 * libiotsec — revocation sets: X.509 CRLs plus the denylist, swapped atomically on reload
 * (libiotsec/x509/, OpenSSL). docs/DESIGN.md §7.
 *
 * A revocation set (iotsec_revocation) answers "is this certificate revoked?" for
 * certificates of one device CA. It is built once and then never changes:
 *
 *   iotsec_revocation_new(&rs, ca, grace)        empty set for the device CA ca
 *   iotsec_revocation_add_crl(rs, bytes, now)    any number of CRLs (PEM or DER)
 *   iotsec_revocation_add_denylist(rs, ...)      any number of denylists (denylist.h)
 *   iotsec_revocation_seal(rs)                   sort and index; read-only from here on
 *
 * (or iotsec_revocation_load() from files in one call). A sealed set is immutable and
 * reference-counted, so any number of threads may check against it while a reload builds
 * the next one. An add that fails leaves the set exactly as it was.
 *
 * CRL rules (RFC 5280 §5, §6.3): the CRL must parse completely; its issuer name must equal
 * the CA's subject; if the CA has keyUsage it must include cRLSign; its signature must verify
 * with the CA's public key; thisUpdate must not be after now; nextUpdate must be present,
 * and now must not be later than nextUpdate + grace_seconds. A CRL carrying a critical
 * extension (e.g. deltaCRLIndicator, issuingDistributionPoint) or a critical entry
 * extension (e.g. certificateIssuer: an indirect CRL) is refused, because its scope would
 * not be honoured. Every revoked serial (any reason, certificateHold included) goes into a
 * sorted array of 20-byte keys (IOTSEC_SERIAL_LEN), searched by binary search over a sample
 * of every 16th key and then within one block of 16. A set also remembers the earliest
 * nextUpdate + grace of its CRLs: checking against a set whose CRLs have gone stale fails
 * (fail closed) until a fresh CRL is loaded.
 *
 * A holder (iotsec_revocation_holder) owns the current set for a server: handshakes take a
 * reference with iotsec_revocation_holder_get(), and iotsec_revocation_reload() builds a
 * new set from files and swaps it in under a mutex, reporting which of the server's open
 * connections the new set revokes so they can be closed (hot reload, no restart).
 *
 * CRLs never go backwards (RFC 5280 §5.2.3: the cRLNumber of an issuer only increases). A
 * set's CRL "in force" for its CA is the newest of the CRLs added: the highest cRLNumber,
 * or, when a CRL carries none, the latest thisUpdate. A holder remembers, per issuer, a
 * floor (iotsec_crl_floor): the newest CRL it has ever had in force, raised further by
 * iotsec_revocation_holder_set_crl_floor(). A reload or swap whose newest CRL is older than
 * the floor is refused with IOTSEC_E_ROLLBACK and the current set stays in force; so is one
 * whose newest CRL has the same number (or, without numbers, the same thisUpdate) but
 * other bytes than the floor's CRL, since an issuer that changes a CRL must give it a new
 * number; the same CRL again (PEM or DER alike: the DER is compared) is accepted, so
 * reloading unchanged files works. Older CRLs may still sit beside the newest one in a set
 * (their serials only add revocations). iotsec_revocation_holder_last_refusal() gives the
 * one-line reason, naming the issuer and both numbers. To keep the floor across restarts,
 * save iotsec_revocation_holder_crl_floors() after each successful load or reload
 * (iotsec_crl_floor_format() makes a line of text of each) and give them back with
 * iotsec_revocation_holder_set_crl_floor() before the server serves (or, building a set by
 * hand, iotsec_revocation_set_crl_floor() before iotsec_revocation_seal()).
 */
#ifndef IOTSEC_REVOCATION_H
#define IOTSEC_REVOCATION_H

#include "iotsec/config.h"
#if !IOTSEC_HAVE_X509
#error "iotsec/revocation.h: this libiotsec build does not have the OpenSSL X.509 part (libiotsec/x509/) (IOTSEC_HAVE_X509 is 0 in iotsec/config.h)"
#endif

#include <stddef.h>
#include <stdint.h>

#include "iotsec/denylist.h"
#include "iotsec/export.h"
#include "iotsec/x509.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct iotsec_revocation iotsec_revocation;
typedef struct iotsec_revocation_holder iotsec_revocation_holder;

/* Why a certificate is revoked (also the byte values of iotsec_revocation_reload's mask). */
typedef enum iotsec_revocation_reason {
    IOTSEC_REVOKED_NONE = 0,        /* not revoked */
    IOTSEC_REVOKED_CRL = 1,         /* its serial is on a CRL of the device CA */
    IOTSEC_REVOKED_FINGERPRINT = 2, /* its SHA-256 fingerprint is on the denylist */
    IOTSEC_REVOKED_DEVICE_ID = 3    /* its device id is on the denylist */
} iotsec_revocation_reason;

/* A short static name: "none", "crl", "denylist-fingerprint", "denylist-id", or "?". */
IOTSEC_API const char *iotsec_revocation_reason_name(int reason);

/* ---- building a set ------------------------------------------------------------------- */

/* Create an empty, unsealed set for the device CA ca (a reference is taken) that accepts a
 * CRL up to grace_seconds past its nextUpdate (0 = none: a stale CRL is an error). The
 * caller holds the one reference. Errors: IOTSEC_E_INVALID_ARG, IOTSEC_E_NO_MEMORY,
 * IOTSEC_E_BACKEND. */
IOTSEC_API int iotsec_revocation_new(iotsec_revocation **out, struct x509_st *ca,
                                     uint32_t grace_seconds);

/* Verify the CRL in data[0..len) (PEM "X509 CRL" or DER) against the set's CA at time now
 * (Unix seconds) and add its revoked serials. Errors: IOTSEC_E_BAD_ENCODING /
 * IOTSEC_E_TRAILING_DATA (does not decode, see iotsec_x509_crl_decode); IOTSEC_E_UNTRUSTED
 * (issuer is not the CA, CA lacks cRLSign, or the signature does not verify with the CA's
 * key); IOTSEC_E_NOT_YET_VALID (thisUpdate after now); IOTSEC_E_EXPIRED (now after
 * nextUpdate + grace); IOTSEC_E_MISSING_FIELD (no nextUpdate); IOTSEC_E_UNKNOWN_CRITICAL
 * (a critical CRL or entry extension); IOTSEC_E_BAD_VALUE (a revoked serial that is zero,
 * negative or over 20 bytes, or a cRLNumber that is negative or over 20 bytes);
 * IOTSEC_E_MALFORMED (a cRLNumber extension that does not decode, or two of them);
 * IOTSEC_E_STATE (set already sealed); IOTSEC_E_INVALID_ARG; IOTSEC_E_NO_MEMORY;
 * IOTSEC_E_BACKEND. Monotonicity is checked by iotsec_revocation_seal. */
IOTSEC_API int iotsec_revocation_add_crl(iotsec_revocation *rs, const uint8_t *data,
                                         size_t len, int64_t now);
/* Read path (≤ IOTSEC_X509_FILE_MAX) and add it as iotsec_revocation_add_crl. Extra
 * errors: IOTSEC_E_IO, IOTSEC_E_BAD_LENGTH. */
IOTSEC_API int iotsec_revocation_add_crl_file(iotsec_revocation *rs, const char *path,
                                              int64_t now);

/* Parse the denylist text[0..len) (format in denylist.h) and add its entries. On a bad line
 * *err_line (optional) gets its 1-based number. Errors: those of iotsec_denylist_count;
 * IOTSEC_E_STATE (sealed); IOTSEC_E_INVALID_ARG; IOTSEC_E_NO_MEMORY. */
IOTSEC_API int iotsec_revocation_add_denylist(iotsec_revocation *rs, const uint8_t *text,
                                              size_t len, size_t *err_line);
/* Read path (≤ 64 MiB) and add it as iotsec_revocation_add_denylist. Extra errors:
 * IOTSEC_E_IO, IOTSEC_E_BAD_LENGTH (file too large; *err_line is then 0). */
IOTSEC_API int iotsec_revocation_add_denylist_file(iotsec_revocation *rs, const char *path,
                                                   size_t *err_line);

/* Sort and index: from now on the set is immutable and may be checked and shared. Errors
 * (the set stays unsealed and unchanged): IOTSEC_E_ROLLBACK (the newest CRL of the CA is
 * older than the floor set with iotsec_revocation_set_crl_floor, or conflicts with it;
 * iotsec_revocation_last_refusal says how); IOTSEC_E_STATE (already sealed);
 * IOTSEC_E_INVALID_ARG; IOTSEC_E_NO_MEMORY. */
IOTSEC_API int iotsec_revocation_seal(iotsec_revocation *rs);

/* Take another reference (returns rs; NULL stays NULL). Thread-safe. */
IOTSEC_API iotsec_revocation *iotsec_revocation_ref(iotsec_revocation *rs);
/* Drop a reference; the last one frees the set. NULL is ignored. Thread-safe. */
IOTSEC_API void iotsec_revocation_unref(iotsec_revocation *rs);

/* Files to build a set from (iotsec_revocation_load, iotsec_revocation_reload). */
typedef struct iotsec_revocation_config {
    struct x509_st *ca;             /* the device CA (borrowed) */
    const char *const *crl_paths;   /* CRL files, PEM or DER (may be NULL if crl_count 0) */
    size_t crl_count;
    const char *denylist_path;      /* denylist file, or NULL for none */
    uint32_t grace_seconds;         /* see iotsec_revocation_new */
} iotsec_revocation_config;

/* Where a load failed: the file (one of cfg's paths, or NULL) and, for a denylist syntax
 * error, the 1-based line (else 0). */
typedef struct iotsec_revocation_error {
    const char *path;
    size_t line;
} iotsec_revocation_error;

/* new + add_crl_file for each CRL + add_denylist_file + seal, at time now. On success *out
 * holds one reference to a sealed set. On error nothing is returned and *err (optional)
 * says where (for a refusal of the seal, IOTSEC_E_ROLLBACK, the path of the set's newest
 * CRL). Errors: those of the functions named. */
IOTSEC_API int iotsec_revocation_load(iotsec_revocation **out,
                                      const iotsec_revocation_config *cfg, int64_t now,
                                      iotsec_revocation_error *err);

/* ---- checking ------------------------------------------------------------------------ */

/* Is the certificate with identity id revoked at time now? Checks its serial against the
 * CRLs, then its fingerprint and device id against the denylists. Does not verify the
 * certificate (iotsec_x509_verify / the TLS handshake do). Returns IOTSEC_OK (not revoked);
 * IOTSEC_E_REVOKED with *reason (optional) set; IOTSEC_E_EXPIRED (a CRL of the set is past
 * nextUpdate + grace at now: no answer can be trusted); IOTSEC_E_STATE (not sealed);
 * IOTSEC_E_INVALID_ARG. */
IOTSEC_API IOTSEC_MUST_CHECK int iotsec_revocation_check(const iotsec_revocation *rs,
                                                         const iotsec_peer_identity *id,
                                                         int64_t now,
                                                         iotsec_revocation_reason *reason);

/* Is serial (IOTSEC_SERIAL_LEN form) on one of the set's CRLs? Binary search, no freshness
 * check. Returns IOTSEC_OK, IOTSEC_E_REVOKED, IOTSEC_E_STATE (not sealed),
 * IOTSEC_E_INVALID_ARG. */
IOTSEC_API IOTSEC_MUST_CHECK int iotsec_revocation_check_serial(
    const iotsec_revocation *rs, const uint8_t serial[IOTSEC_SERIAL_LEN]);

/* Distinct revoked serials in the set (0 for NULL). */
IOTSEC_API size_t iotsec_revocation_serial_count(const iotsec_revocation *rs);
/* Distinct denylist entries in the set (0 for NULL). */
IOTSEC_API size_t iotsec_revocation_denylist_count(const iotsec_revocation *rs);
/* The time after which the set is stale: the earliest nextUpdate + grace of its CRLs, or
 * INT64_MAX if it holds no CRL (0 for NULL). */
IOTSEC_API int64_t iotsec_revocation_stale_after(const iotsec_revocation *rs);

/* ---- CRL monotonicity: floors -------------------------------------------------------- */

#define IOTSEC_CRL_ISSUER_LEN 32u /* iotsec_crl_floor.issuer: SHA-256, bytes */
#define IOTSEC_CRL_NUMBER_LEN 20u /* iotsec_crl_floor.number: RFC 5280 §5.2.3 caps it at 20 */
#define IOTSEC_CRL_DIGEST_LEN 32u /* iotsec_crl_floor.digest: SHA-256, bytes */
/* Most issuers a set or a holder keeps floors for (a set has one CA; the others come from
 * floors carried over, e.g. across a CA change): an array of this many floors always
 * suffices for iotsec_revocation_crl_floors and iotsec_revocation_holder_crl_floors. */
#define IOTSEC_CRL_FLOORS_MAX 16u
/* Bytes of a refusal text (iotsec_revocation_last_refusal), NUL included: always enough. */
#define IOTSEC_REVOCATION_DETAIL_MAX 256u
/* Bytes of a floor's text form (iotsec_crl_floor_format), NUL included: always enough. */
#define IOTSEC_CRL_FLOOR_TEXT_MAX 256u

/* How new a CRL of one issuer is; the floor a later CRL of that issuer must not go below.
 * CRL a is older than floor f when both have a number and a's is smaller, or, when either
 * has none, a's thisUpdate is earlier. They are the same when neither is older either way;
 * the same with different digests (both known) is a conflict, refused like an older one.
 * Plain data: copy, store and compare it freely. */
typedef struct iotsec_crl_floor {
    uint8_t issuer[IOTSEC_CRL_ISSUER_LEN]; /* SHA-256 of the DER of the issuer Name (the
                                              device CA's subject, as that certificate
                                              encodes it): the key */
    int has_number;                        /* 1: number holds the cRLNumber; 0: none */
    uint8_t number[IOTSEC_CRL_NUMBER_LEN]; /* cRLNumber, big-endian, left-padded with
                                              zeros; all zero when has_number is 0 */
    int64_t this_update;                   /* thisUpdate, Unix seconds */
    uint8_t digest[IOTSEC_CRL_DIGEST_LEN]; /* SHA-256 of the CRL's DER; all zero: unknown
                                              (then any CRL that is the same by number or
                                              thisUpdate is accepted) */
} iotsec_crl_floor;

/* Raise the floor of the unsealed set rs for floor->issuer: iotsec_revocation_seal then
 * refuses the set (a rollback) if its newest CRL of that issuer is older than the floor or
 * conflicts with it (see iotsec_crl_floor). A floor lower than one already set for
 * the same issuer is ignored. Floors of issuers other than the set's CA are only carried
 * (iotsec_revocation_crl_floors). Errors: IOTSEC_E_STATE (sealed); IOTSEC_E_INVALID_ARG
 * (NULL, has_number not 0 or 1, a number with has_number 0, or a floor for a new issuer
 * beyond IOTSEC_CRL_FLOORS_MAX). */
IOTSEC_API int iotsec_revocation_set_crl_floor(iotsec_revocation *rs,
                                               const iotsec_crl_floor *floor);

/* The floors of rs, one per issuer, into out[0..cap): for its CA the newer of the floor set
 * with iotsec_revocation_set_crl_floor and the newest CRL added; for other issuers the
 * floors set. *n gets how many were written. Errors (*n is then 0): IOTSEC_E_BUFFER_TOO_SMALL
 * (cap below the count; IOTSEC_CRL_FLOORS_MAX always suffices); IOTSEC_E_INVALID_ARG. */
IOTSEC_API int iotsec_revocation_crl_floors(const iotsec_revocation *rs, iotsec_crl_floor *out,
                                            size_t cap, size_t *n);

/* The one-line reason of the last rollback refusal of iotsec_revocation_seal on rs, naming
 * the issuer and both numbers (or thisUpdate times), as NUL-terminated text in text[0..cap)
 * with *len its length (NUL excluded); "" when there was none. Errors (*len is then 0):
 * IOTSEC_E_BUFFER_TOO_SMALL (cap ≤ the length; IOTSEC_REVOCATION_DETAIL_MAX always
 * suffices); IOTSEC_E_INVALID_ARG. */
IOTSEC_API int iotsec_revocation_last_refusal(const iotsec_revocation *rs, char *text, size_t cap,
                                              size_t *len);

/* The text form of floor, one line without a newline, NUL-terminated in text[0..cap), *len
 * its length (NUL excluded):
 *     crl-floor v1 issuer=<64 hex> number=<40 hex>|- this_update=<decimal> digest=<64 hex>
 * (lowercase hex; "-" when the CRL has no number; this_update may be negative). Errors (*len
 * is then 0): IOTSEC_E_BUFFER_TOO_SMALL (IOTSEC_CRL_FLOOR_TEXT_MAX always suffices);
 * IOTSEC_E_INVALID_ARG (NULL, has_number not 0 or 1). */
IOTSEC_API int iotsec_crl_floor_format(const iotsec_crl_floor *floor, char *text, size_t cap,
                                       size_t *len);
/* Parse text[0..len) written by iotsec_crl_floor_format (exactly that form; a trailing "\n"
 * or "\r\n" is allowed) into *out, written only on success. Errors: IOTSEC_E_BAD_ENCODING
 * (anything else: other words, upper-case or wrong-length hex, a number that is not a
 * decimal int64, a NUL); IOTSEC_E_INVALID_ARG (NULL). */
IOTSEC_API int iotsec_crl_floor_parse(const char *text, size_t len, iotsec_crl_floor *out);

/* ---- hot reload ---------------------------------------------------------------------- */

/* Create a holder owning initial (sealed; the holder takes its own reference; the caller
 * keeps its own). Its CRL floors start as initial's (iotsec_revocation_crl_floors).
 * Errors: IOTSEC_E_INVALID_ARG, IOTSEC_E_STATE (initial not sealed), IOTSEC_E_NO_MEMORY. */
IOTSEC_API int iotsec_revocation_holder_new(iotsec_revocation_holder **out,
                                            iotsec_revocation *initial);
/* Free the holder and drop its reference (sets still referenced elsewhere live on). The
 * caller must make sure no thread is inside a holder call. NULL is ignored. */
IOTSEC_API void iotsec_revocation_holder_free(iotsec_revocation_holder *h);
/* A new reference to the current set (release it with iotsec_revocation_unref), or NULL if
 * h is NULL. Thread-safe against concurrent swaps. */
IOTSEC_API iotsec_revocation *iotsec_revocation_holder_get(iotsec_revocation_holder *h);

/* Replace the current set with next (sealed; the holder takes its own reference) and check
 * the n_open identities of open connections against it at time now: revoked[i] (an array
 * of n_open bytes, may be NULL when n_open is 0) gets an iotsec_revocation_reason, and
 * *n_revoked (optional) how many are non-zero. The holder's floors then rise to next's.
 * Errors (the current set and the floors are kept and revoked is not written):
 * IOTSEC_E_ROLLBACK (next's newest CRL of an issuer is older than the holder's floor for
 * it, or conflicts with it: see iotsec_crl_floor; iotsec_revocation_holder_last_refusal
 * says how); IOTSEC_E_EXPIRED (next is already stale at now); IOTSEC_E_STATE (next not
 * sealed); IOTSEC_E_INVALID_ARG (also: the floors would cover more than
 * IOTSEC_CRL_FLOORS_MAX issuers); IOTSEC_E_NO_MEMORY. */
IOTSEC_API int iotsec_revocation_holder_swap(iotsec_revocation_holder *h,
                                             iotsec_revocation *next, int64_t now,
                                             const iotsec_peer_identity *open, size_t n_open,
                                             uint8_t *revoked, size_t *n_revoked);

/* Load a new set from cfg at time now (iotsec_revocation_load, with the holder's floors set
 * on it) and, only if that succeeds, swap it into h as iotsec_revocation_holder_swap does,
 * reporting which open identities it revokes. If the load fails the current set stays in
 * force, revoked is not written and *err says which file (and line) failed: for
 * IOTSEC_E_ROLLBACK (the newest CRL is older than the one in force, or the same number with
 * other bytes) the newest CRL's path, and iotsec_revocation_holder_last_refusal gives the
 * issuer and both numbers. Errors: those of iotsec_revocation_load and
 * iotsec_revocation_holder_swap. */
IOTSEC_API int iotsec_revocation_reload(iotsec_revocation_holder *h,
                                        const iotsec_revocation_config *cfg, int64_t now,
                                        const iotsec_peer_identity *open, size_t n_open,
                                        uint8_t *revoked, size_t *n_revoked,
                                        iotsec_revocation_error *err);

/* The holder's floors, one per issuer, into out[0..cap) (*n written): for each issuer the
 * newest of every CRL h has had in force and every floor set on it. Save them after each
 * successful load or reload to keep CRLs monotonic across restarts. Errors (*n is then 0):
 * IOTSEC_E_BUFFER_TOO_SMALL (cap below the count; IOTSEC_CRL_FLOORS_MAX always suffices);
 * IOTSEC_E_INVALID_ARG. Thread-safe. */
IOTSEC_API int iotsec_revocation_holder_crl_floors(iotsec_revocation_holder *h,
                                                   iotsec_crl_floor *out, size_t cap,
                                                   size_t *n);

/* Raise h's floor for floor->issuer (a saved floor, after a restart): later swaps and
 * reloads must bring CRLs of that issuer at least as new. A floor lower than the one h has
 * is ignored. Errors (nothing changes): IOTSEC_E_ROLLBACK (the set in force holds a CRL of
 * that issuer older than floor, or conflicting with it: the files on disk went backwards
 * while the server was down; iotsec_revocation_holder_last_refusal says how);
 * IOTSEC_E_INVALID_ARG (NULL, has_number not 0 or 1, a number with has_number 0, or a floor
 * for a new issuer beyond IOTSEC_CRL_FLOORS_MAX). Thread-safe. */
IOTSEC_API int iotsec_revocation_holder_set_crl_floor(iotsec_revocation_holder *h,
                                                      const iotsec_crl_floor *floor);

/* The one-line reason of h's last rollback refusal (from iotsec_revocation_reload,
 * iotsec_revocation_holder_swap or iotsec_revocation_holder_set_crl_floor), naming the
 * issuer and both numbers (or thisUpdate times), as NUL-terminated text in text[0..cap),
 * *len its length (NUL excluded); "" when there was none. Errors (*len is then 0):
 * IOTSEC_E_BUFFER_TOO_SMALL (cap ≤ the length; IOTSEC_REVOCATION_DETAIL_MAX always
 * suffices); IOTSEC_E_INVALID_ARG. Thread-safe. */
IOTSEC_API int iotsec_revocation_holder_last_refusal(iotsec_revocation_holder *h, char *text,
                                                     size_t cap, size_t *len);

#ifdef __cplusplus
}
#endif

#endif
