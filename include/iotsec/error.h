/*
 * libiotsec — error codes.
 *
 * Every function that can fail returns int: IOTSEC_OK (0) or one negative IOTSEC_E_* code.
 * The values are part of the ABI: they are fixed, never renumbered and never reused.
 * They are grouped in ranges so a caller can ask what kind of failure it got:
 *
 *   -1   .. -99    misuse: the caller broke the API contract (bad argument, small buffer)
 *   -100 .. -199   malformed input: the bytes do not parse; nothing was authenticated
 *   -200 .. -299   authentication failure: MAC, signature, digest or trust did not verify
 *   -300 .. -399   policy: authentic input refused by policy (replay, rollback, revoked…)
 *   -400 .. -499   backend and system: unsupported operation, crypto library, I/O, memory
 *
 * A function that fails with a malformed, authentication or policy error has changed no
 * state (docs/DESIGN.md §3).
 */
#ifndef IOTSEC_ERROR_H
#define IOTSEC_ERROR_H

#include "iotsec/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum iotsec_error {
    IOTSEC_OK = 0,

    /* misuse */
    IOTSEC_E_INVALID_ARG = -1,      /* NULL pointer, length or enum value outside its range */
    IOTSEC_E_BUFFER_TOO_SMALL = -2, /* an output buffer's capacity is below what is needed */
    IOTSEC_E_STATE = -3,            /* call out of order on a context (e.g. update after final) */

    /* malformed input */
    IOTSEC_E_MALFORMED = -100,        /* does not parse (generic; used when no finer code fits) */
    IOTSEC_E_TRUNCATED = -101,        /* input ends before a field it announces */
    IOTSEC_E_TRAILING_DATA = -102,    /* bytes follow the end of a complete structure */
    IOTSEC_E_BAD_VERSION = -103,      /* unknown format version or magic */
    IOTSEC_E_BAD_LENGTH = -104,       /* a length field is outside its allowed range */
    IOTSEC_E_BAD_ENCODING = -105,     /* base64, hex, JSON, PEM or DER syntax error */
    IOTSEC_E_NON_CANONICAL = -106,    /* parses but is not the one canonical encoding */
    IOTSEC_E_UNKNOWN_CRITICAL = -107, /* unknown critical field (manifest TLV type < 0x80) */
    IOTSEC_E_MISSING_FIELD = -108,    /* a required field is absent */
    IOTSEC_E_BAD_VALUE = -109,        /* a field's value is outside its allowed range */
    IOTSEC_E_BAD_KEY = -110,          /* a key does not parse or has the wrong type or size */

    /* authentication failure */
    IOTSEC_E_BAD_MAC = -200,         /* HMAC tag does not verify */
    IOTSEC_E_BAD_SIGNATURE = -201,   /* signature does not verify (or is empty) */
    IOTSEC_E_UNKNOWN_KEY = -202,     /* no trusted key / device secret matches the key id */
    IOTSEC_E_DIGEST_MISMATCH = -203, /* image or payload digest or size differs from the signed one */
    IOTSEC_E_DECRYPT = -204,         /* authenticated ciphertext failed to decrypt (uniform) */
    IOTSEC_E_UNTRUSTED = -205,       /* certificate or CRL chain does not lead to the trusted CA */

    /* policy */
    IOTSEC_E_REPLAY = -300,            /* counter already seen or below the replay window */
    IOTSEC_E_ROLLBACK = -301,          /* security counter below the stored one */
    IOTSEC_E_REVOKED = -302,           /* certificate revoked by CRL or denylisted */
    IOTSEC_E_EXPIRED = -303,           /* past not_after / notAfter / CRL nextUpdate */
    IOTSEC_E_WRONG_TARGET = -304,      /* manifest for another device class */
    IOTSEC_E_WRONG_DEVICE = -305,      /* manifest or frame bound to another device id */
    IOTSEC_E_COUNTER_EXHAUSTED = -306, /* a counter reached its maximum; refusing to wrap */
    IOTSEC_E_WRONG_DIRECTION = -307,   /* uplink frame where downlink expected, or reverse */
    IOTSEC_E_IDENTITY_MISMATCH = -308, /* frame device id differs from the TLS identity */
    IOTSEC_E_NOT_YET_VALID = -309,     /* before notBefore / CRL thisUpdate */
    IOTSEC_E_POLICY = -310,            /* refused by configuration (e.g. legacy profile off) */

    /* backend and system */
    IOTSEC_E_UNSUPPORTED = -400, /* the backend lacks the operation or the algorithm is reserved */
    IOTSEC_E_BACKEND = -401,     /* the crypto library reported an internal failure */
    IOTSEC_E_IO = -402,          /* a read, write, flush or sync of storage failed */
    IOTSEC_E_NO_MEMORY = -403,   /* an allocation inside a backend or port failed */
    IOTSEC_E_CORRUPT = -404      /* persisted state is damaged or foreign; never reset silently */
} iotsec_error;

/* A short, static, English name for code: "IOTSEC_E_BAD_MAC: HMAC tag does not verify".
 * Unknown codes give "IOTSEC_E_?: unknown error". Never NULL; the string is constant. */
IOTSEC_API const char *iotsec_strerror(int code);

/* The bare identifier of code ("IOTSEC_E_BAD_MAC", "IOTSEC_OK"), or NULL if unknown. */
IOTSEC_API const char *iotsec_error_name(int code);

/* Range predicates: 1 when code lies in the range, 0 otherwise (IOTSEC_OK is in none). */
IOTSEC_API int iotsec_err_is_misuse(int code);
IOTSEC_API int iotsec_err_is_malformed(int code);
IOTSEC_API int iotsec_err_is_auth(int code);
IOTSEC_API int iotsec_err_is_policy(int code);
IOTSEC_API int iotsec_err_is_backend(int code);

#ifdef __cplusplus
}
#endif

#endif
