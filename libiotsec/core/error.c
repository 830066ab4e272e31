/* libiotsec — error names (include/iotsec/error.h). */
#include "iotsec/error.h"

#include <stddef.h>

struct err_entry {
    int code;
    const char *name;
    const char *text;
};

static const struct err_entry err_table[] = {
    {IOTSEC_OK, "IOTSEC_OK", "IOTSEC_OK: success"},
    {IOTSEC_E_INVALID_ARG, "IOTSEC_E_INVALID_ARG", "IOTSEC_E_INVALID_ARG: invalid argument"},
    {IOTSEC_E_BUFFER_TOO_SMALL, "IOTSEC_E_BUFFER_TOO_SMALL",
     "IOTSEC_E_BUFFER_TOO_SMALL: output buffer too small"},
    {IOTSEC_E_STATE, "IOTSEC_E_STATE", "IOTSEC_E_STATE: call out of order on this context"},
    {IOTSEC_E_MALFORMED, "IOTSEC_E_MALFORMED", "IOTSEC_E_MALFORMED: malformed input"},
    {IOTSEC_E_TRUNCATED, "IOTSEC_E_TRUNCATED", "IOTSEC_E_TRUNCATED: input is truncated"},
    {IOTSEC_E_TRAILING_DATA, "IOTSEC_E_TRAILING_DATA",
     "IOTSEC_E_TRAILING_DATA: bytes follow the end of the structure"},
    {IOTSEC_E_BAD_VERSION, "IOTSEC_E_BAD_VERSION",
     "IOTSEC_E_BAD_VERSION: unknown format version or magic"},
    {IOTSEC_E_BAD_LENGTH, "IOTSEC_E_BAD_LENGTH",
     "IOTSEC_E_BAD_LENGTH: length field out of range"},
    {IOTSEC_E_BAD_ENCODING, "IOTSEC_E_BAD_ENCODING",
     "IOTSEC_E_BAD_ENCODING: invalid encoding (base64, hex, JSON, PEM or DER)"},
    {IOTSEC_E_NON_CANONICAL, "IOTSEC_E_NON_CANONICAL",
     "IOTSEC_E_NON_CANONICAL: encoding is not canonical"},
    {IOTSEC_E_UNKNOWN_CRITICAL, "IOTSEC_E_UNKNOWN_CRITICAL",
     "IOTSEC_E_UNKNOWN_CRITICAL: unknown critical field"},
    {IOTSEC_E_MISSING_FIELD, "IOTSEC_E_MISSING_FIELD",
     "IOTSEC_E_MISSING_FIELD: required field missing"},
    {IOTSEC_E_BAD_VALUE, "IOTSEC_E_BAD_VALUE", "IOTSEC_E_BAD_VALUE: field value out of range"},
    {IOTSEC_E_BAD_KEY, "IOTSEC_E_BAD_KEY", "IOTSEC_E_BAD_KEY: key unusable (parse, type or size)"},
    {IOTSEC_E_BAD_MAC, "IOTSEC_E_BAD_MAC", "IOTSEC_E_BAD_MAC: MAC does not verify"},
    {IOTSEC_E_BAD_SIGNATURE, "IOTSEC_E_BAD_SIGNATURE",
     "IOTSEC_E_BAD_SIGNATURE: signature does not verify"},
    {IOTSEC_E_UNKNOWN_KEY, "IOTSEC_E_UNKNOWN_KEY", "IOTSEC_E_UNKNOWN_KEY: no matching trusted key"},
    {IOTSEC_E_DIGEST_MISMATCH, "IOTSEC_E_DIGEST_MISMATCH",
     "IOTSEC_E_DIGEST_MISMATCH: digest or size differs from the signed value"},
    {IOTSEC_E_DECRYPT, "IOTSEC_E_DECRYPT", "IOTSEC_E_DECRYPT: decryption failed"},
    {IOTSEC_E_UNTRUSTED, "IOTSEC_E_UNTRUSTED",
     "IOTSEC_E_UNTRUSTED: certificate or CRL not issued by the trusted CA"},
    {IOTSEC_E_REPLAY, "IOTSEC_E_REPLAY", "IOTSEC_E_REPLAY: replayed or too old counter"},
    {IOTSEC_E_ROLLBACK, "IOTSEC_E_ROLLBACK",
     "IOTSEC_E_ROLLBACK: security counter below the stored one"},
    {IOTSEC_E_REVOKED, "IOTSEC_E_REVOKED", "IOTSEC_E_REVOKED: certificate revoked"},
    {IOTSEC_E_EXPIRED, "IOTSEC_E_EXPIRED", "IOTSEC_E_EXPIRED: expired"},
    {IOTSEC_E_WRONG_TARGET, "IOTSEC_E_WRONG_TARGET",
     "IOTSEC_E_WRONG_TARGET: intended for another device class"},
    {IOTSEC_E_WRONG_DEVICE, "IOTSEC_E_WRONG_DEVICE",
     "IOTSEC_E_WRONG_DEVICE: intended for another device"},
    {IOTSEC_E_COUNTER_EXHAUSTED, "IOTSEC_E_COUNTER_EXHAUSTED",
     "IOTSEC_E_COUNTER_EXHAUSTED: counter exhausted"},
    {IOTSEC_E_WRONG_DIRECTION, "IOTSEC_E_WRONG_DIRECTION",
     "IOTSEC_E_WRONG_DIRECTION: frame sent in the other direction"},
    {IOTSEC_E_IDENTITY_MISMATCH, "IOTSEC_E_IDENTITY_MISMATCH",
     "IOTSEC_E_IDENTITY_MISMATCH: device id differs from the authenticated identity"},
    {IOTSEC_E_NOT_YET_VALID, "IOTSEC_E_NOT_YET_VALID", "IOTSEC_E_NOT_YET_VALID: not yet valid"},
    {IOTSEC_E_POLICY, "IOTSEC_E_POLICY", "IOTSEC_E_POLICY: refused by policy"},
    {IOTSEC_E_UNSUPPORTED, "IOTSEC_E_UNSUPPORTED",
     "IOTSEC_E_UNSUPPORTED: operation not supported by this backend"},
    {IOTSEC_E_BACKEND, "IOTSEC_E_BACKEND", "IOTSEC_E_BACKEND: crypto backend failure"},
    {IOTSEC_E_IO, "IOTSEC_E_IO", "IOTSEC_E_IO: input/output error"},
    {IOTSEC_E_NO_MEMORY, "IOTSEC_E_NO_MEMORY", "IOTSEC_E_NO_MEMORY: out of memory"},
    {IOTSEC_E_CORRUPT, "IOTSEC_E_CORRUPT", "IOTSEC_E_CORRUPT: stored state is corrupt or foreign"},
};

static const struct err_entry *err_find(int code)
{
    size_t i;
    for (i = 0; i < sizeof err_table / sizeof err_table[0]; i++) {
        if (err_table[i].code == code)
            return &err_table[i];
    }
    return NULL;
}

const char *iotsec_strerror(int code)
{
    const struct err_entry *e = err_find(code);
    return e ? e->text : "IOTSEC_E_?: unknown error";
}

const char *iotsec_error_name(int code)
{
    const struct err_entry *e = err_find(code);
    return e ? e->name : NULL;
}

int iotsec_err_is_misuse(int code) { return code <= -1 && code >= -99; }
int iotsec_err_is_malformed(int code) { return code <= -100 && code >= -199; }
int iotsec_err_is_auth(int code) { return code <= -200 && code >= -299; }
int iotsec_err_is_policy(int code) { return code <= -300 && code >= -399; }
int iotsec_err_is_backend(int code) { return code <= -400 && code >= -499; }
