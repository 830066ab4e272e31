/*
 * libiotsec — device ids and the revocation denylist (core: no allocation, no OS calls).
 *
 * A device id (bindings-spec/SPEC.md §1.2) is 1–64 bytes of [A-Za-z0-9._:@-]. Frames, TLS identities
 * and the denylist all use this one alphabet, so an id that passes here can be printed,
 * logged and compared byte for byte without escaping.
 *
 * The denylist file (bindings-spec/SPEC.md §8) is text, one entry a line:
 *
 *     # comment (a line whose first byte is '#')
 *     sha256:<64 hex digits>     certificate fingerprint = SHA-256 of the certificate's DER
 *     id:<device id>             a device id as defined above
 *
 * Lines end in "\n" (a "\r" before it is dropped); the last line may lack its "\n". A blank
 * line (empty, or only spaces and tabs) is skipped. Hex digits may be upper or lower case;
 * colons or spaces inside the fingerprint are not accepted. Nothing else is allowed: no
 * leading or trailing whitespace around an entry, no comment after an entry, no other
 * prefix. Any other line is an error that names its 1-based line number, so an operator's
 * typo never silently disables an entry. Duplicate entries are allowed and merged.
 *
 * Parsing is two passes over the caller's text, because the core does not allocate:
 * iotsec_denylist_count() gives the number of entries, the caller provides that many
 * iotsec_deny_entry slots, and iotsec_denylist_parse() fills and sorts them. Lookups are
 * binary searches. A parsed denylist is read-only and may be shared between threads.
 */
#ifndef IOTSEC_DENYLIST_H
#define IOTSEC_DENYLIST_H

#include <stddef.h>
#include <stdint.h>

#include "iotsec/export.h"
#include "iotsec/util.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IOTSEC_FINGERPRINT_LEN 32u       /* SHA-256 certificate fingerprint, bytes */
#define IOTSEC_DENYLIST_LINE_MAX 1024u   /* longest denylist line, bytes without "\n" */

/* Kinds of denylist entries. */
typedef enum iotsec_deny_kind {
    IOTSEC_DENY_NONE = 0,        /* no entry matched (iotsec_denylist_check output only) */
    IOTSEC_DENY_FINGERPRINT = 1, /* "sha256:" line: value is the 32-byte fingerprint */
    IOTSEC_DENY_DEVICE_ID = 2    /* "id:" line: value is the device id's bytes */
} iotsec_deny_kind;

/* One parsed entry (66 bytes). Storage for entries is the caller's. */
typedef struct iotsec_deny_entry {
    uint8_t kind;                        /* iotsec_deny_kind */
    uint8_t len;                         /* bytes used in value: 32, or 1–64 for an id */
    uint8_t value[IOTSEC_DEVICE_ID_MAX]; /* the fingerprint or id; unused bytes are zero */
} iotsec_deny_entry;

/* A parsed denylist: a view of the caller's entry storage, sorted, duplicates merged. */
typedef struct iotsec_denylist {
    const iotsec_deny_entry *entries; /* sorted by (kind, len, value) */
    size_t count;                     /* distinct entries */
} iotsec_denylist;

/* Pass 1: validate text[0..len) as a denylist and count its entry lines (duplicates
 * included) into *count. On error *err_line (optional) gets the 1-based number of the
 * offending line, else 0. Errors: IOTSEC_E_MALFORMED (a line that is neither blank, nor a
 * comment, nor starts with "sha256:" or "id:"); IOTSEC_E_BAD_ENCODING (fingerprint not
 * 64 hex digits, or an id byte outside the alphabet, including NUL and whitespace);
 * IOTSEC_E_BAD_LENGTH (id empty or over 64 bytes, or a line over IOTSEC_DENYLIST_LINE_MAX);
 * IOTSEC_E_INVALID_ARG (NULL text with len > 0, NULL count). An empty text is a valid,
 * empty denylist. */
IOTSEC_API int iotsec_denylist_count(const uint8_t *text, size_t len, size_t *count,
                                     size_t *err_line);

/* Pass 2: parse text[0..len) into storage[0..cap), sort it, merge duplicates, and point
 * *dl at it (dl->count ≤ the pass-1 count). Nothing in *dl is written unless the whole text
 * is valid; storage may be used as scratch even on error. Errors: those of
 * iotsec_denylist_count (with *err_line), and IOTSEC_E_BUFFER_TOO_SMALL (cap below the
 * number of entry lines). */
IOTSEC_API int iotsec_denylist_parse(iotsec_denylist *dl, iotsec_deny_entry *storage,
                                     size_t cap, const uint8_t *text, size_t len,
                                     size_t *err_line);

/* Look a certificate up: its SHA-256 fingerprint (fingerprint may be NULL to skip) and its
 * device id (id may be NULL with id_len 0 to skip). Returns IOTSEC_OK when neither is
 * listed, IOTSEC_E_REVOKED when one is (the fingerprint is tried first); *matched (optional)
 * gets which kind matched or IOTSEC_DENY_NONE. O(log n). Errors: IOTSEC_E_INVALID_ARG
 * (dl NULL, id NULL with id_len > 0). */
IOTSEC_API IOTSEC_MUST_CHECK int iotsec_denylist_check(const iotsec_denylist *dl,
                                                       const uint8_t *fingerprint,
                                                       const char *id, size_t id_len,
                                                       iotsec_deny_kind *matched);

#ifdef __cplusplus
}
#endif

#endif
