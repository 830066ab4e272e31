/*
 * libiotsec — firmware manifest v1 (bindings-spec/SPEC.md §7): builder/signer, verifier, device policy.
 *
 * Wire format (all integers big-endian):
 *
 *   offset 0   4 bytes  magic "IOTM"
 *          4   1        format = 0x01
 *          5   1        sig_alg: 0x01 Ed25519, 0x02 ECDSA P-256 (raw r||s), 0x03 RSA-PSS
 *                       SHA-256; 0x10–0x1F reserved (post-quantum), refused as unsupported
 *          6   2        body_len ≤ 3072
 *          8   8        key_id = SHA-256(DER SPKI of the signing key)[0..8)
 *         16   body_len body: TLV records, type u8, len u16, value; types strictly ascending
 *          …   2        sig_len ≤ 512 (never 0)
 *          …   sig_len  signature over bytes [0, 16 + body_len): header and body together
 *
 * Nothing may follow the signature. The verifier reads only the 16-byte header and the
 * sig_len field before the signature has verified; the body is parsed only afterwards.
 *
 * Order of checks in a device (docs/DESIGN.md §3, §6):
 *   iotsec_manifest_verify          bounded header read → trusted key → signature → TLV parse
 *   iotsec_manifest_check_policy    class, device id, expiry, security counter
 *   iotsec_image_verify_*           (image.h) stream the payload; digests and sizes at the end
 *
 * Nothing here allocates; a parsed manifest points into the caller's buffer (no copies), so
 * that buffer must outlive it. Functions are reentrant; objects are not shared between
 * threads while being written.
 */
#ifndef IOTSEC_MANIFEST_H
#define IOTSEC_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "iotsec/crypto.h"
#include "iotsec/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- sizes and limits (bytes unless stated) ------------------------------------------ */

#define IOTSEC_MANIFEST_FORMAT 0x01u
#define IOTSEC_MANIFEST_HEADER_LEN 16u   /* magic, format, sig_alg, body_len, key_id */
#define IOTSEC_MANIFEST_BODY_MAX 3072u   /* largest body_len */
#define IOTSEC_MANIFEST_SIG_MAX 512u     /* largest sig_len (RSA-4096) */
/* Largest manifest: header, body, sig_len field, signature = 3602 bytes. */
#define IOTSEC_MANIFEST_MAX_LEN \
    (IOTSEC_MANIFEST_HEADER_LEN + IOTSEC_MANIFEST_BODY_MAX + 2u + IOTSEC_MANIFEST_SIG_MAX)

#define IOTSEC_MANIFEST_VERSION_MAX 32u    /* version: 1–32 bytes of UTF-8 */
#define IOTSEC_MANIFEST_CLASS_MAX 64u      /* device_class: 1–64 bytes */
#define IOTSEC_MANIFEST_DEVICE_ID_MAX 64u  /* device_id: 1–64 bytes */
#define IOTSEC_MANIFEST_URI_MAX 256u       /* uri: 1–256 bytes */
#define IOTSEC_MANIFEST_IMAGE_MAX 4294967296u /* image_size: 1 … 2^32 bytes */
#define IOTSEC_MANIFEST_CHUNK_MIN 256u     /* chunk_size: 256 … 65536 bytes */
#define IOTSEC_MANIFEST_CHUNK_MAX 65536u
#define IOTSEC_MANIFEST_ENC_LEN 25u        /* encryption TLV value: alg, key_id, iv */

#define IOTSEC_FW_KEY_LEN 32u              /* firmware encryption key: raw AES-256 key */
#define IOTSEC_ENC_AES256_CBC 0x01u        /* encryption alg: AES-256-CBC with PKCS#7 */

/* TLV types (bindings-spec/SPEC.md §7.2). Types below 0x80 are critical: an unknown one is refused. */
#define IOTSEC_MTLV_SECURITY_COUNTER 0x01u /* u64, required, UINT64_MAX refused */
#define IOTSEC_MTLV_VERSION 0x02u          /* UTF-8, 1–32 bytes, required */
#define IOTSEC_MTLV_DEVICE_CLASS 0x03u     /* 1–64 bytes, required */
#define IOTSEC_MTLV_IMAGE_SIZE 0x04u       /* u64, 1 … 2^32, required */
#define IOTSEC_MTLV_IMAGE_DIGEST 0x05u     /* 32 bytes SHA-256 of the plaintext, required */
#define IOTSEC_MTLV_DEVICE_ID 0x06u        /* 1–64 bytes, optional */
#define IOTSEC_MTLV_NOT_AFTER 0x07u        /* u64 Unix seconds, optional */
#define IOTSEC_MTLV_ENCRYPTION 0x08u       /* 25 bytes, optional */
#define IOTSEC_MTLV_PAYLOAD_SIZE 0x09u     /* u64, required iff 0x08 */
#define IOTSEC_MTLV_PAYLOAD_DIGEST 0x0Au   /* 32 bytes, required iff 0x08 */
#define IOTSEC_MTLV_CHUNK_SIZE 0x0Bu       /* u32 256–65536, optional */
#define IOTSEC_MTLV_URI 0x0Cu              /* 1–256 bytes, optional */
#define IOTSEC_MTLV_DESCRIPTION 0x80u      /* any bytes, optional, non-critical */

/* Bits of iotsec_manifest_fields.present: which optional fields are set. */
#define IOTSEC_MF_DEVICE_ID 0x01u
#define IOTSEC_MF_NOT_AFTER 0x02u
#define IOTSEC_MF_ENCRYPTION 0x04u  /* also means payload_size and payload_digest are set */
#define IOTSEC_MF_CHUNK_SIZE 0x08u
#define IOTSEC_MF_URI 0x10u
#define IOTSEC_MF_DESCRIPTION 0x20u
#define IOTSEC_MF_ALL 0x3Fu

/*
 * The signed fields of a manifest. The builder reads it; the verifier fills it with
 * pointers into the manifest buffer. Byte strings are (pointer, length) and are not
 * NUL-terminated. A field whose IOTSEC_MF_* bit is clear in `present` is absent (its
 * members are then 0 / NULL in a parsed manifest and ignored by the builder).
 */
typedef struct iotsec_manifest_fields {
    uint32_t present;                /* IOTSEC_MF_* bits */
    uint64_t security_counter;       /* anti-rollback counter, 0 … UINT64_MAX − 1 */
    const uint8_t *version;          /* UTF-8, 1–32 bytes (semver by convention) */
    size_t version_len;
    const uint8_t *device_class;     /* 1–64 bytes */
    size_t device_class_len;
    uint64_t image_size;             /* plaintext bytes, 1 … 2^32 */
    const uint8_t *image_digest;     /* 32 bytes: SHA-256 of the plaintext image */
    const uint8_t *device_id;        /* IOTSEC_MF_DEVICE_ID: 1–64 bytes */
    size_t device_id_len;
    uint64_t not_after;              /* IOTSEC_MF_NOT_AFTER: Unix seconds */
    uint8_t enc_alg;                 /* IOTSEC_MF_ENCRYPTION: IOTSEC_ENC_AES256_CBC */
    const uint8_t *enc_key_id;       /*   8 bytes: SHA-256(raw 32-byte key)[0..8) */
    const uint8_t *enc_iv;           /*   16 bytes: the CBC IV (travels only here) */
    uint64_t payload_size;           /*   bytes as transferred: image_size rounded up to
                                          the next multiple of 16 (PKCS#7 adds 1–16) */
    const uint8_t *payload_digest;   /*   32 bytes: SHA-256 of the bytes as transferred */
    uint32_t chunk_size;             /* IOTSEC_MF_CHUNK_SIZE: 256–65536 (download hint) */
    const uint8_t *uri;              /* IOTSEC_MF_URI: 1–256 bytes */
    size_t uri_len;
    const uint8_t *description;      /* IOTSEC_MF_DESCRIPTION: any bytes (0 or more) */
    size_t description_len;
} iotsec_manifest_fields;

/*
 * A parsed manifest. Every pointer points into the buffer given to the verifier.
 * `verified` is 1 only when iotsec_manifest_verify produced it (signature checked against a
 * trusted key); iotsec_manifest_check_policy and iotsec_image_verify_init refuse a manifest
 * whose `verified` is 0 (IOTSEC_E_STATE).
 */
typedef struct iotsec_manifest {
    int verified;                  /* 1: from iotsec_manifest_verify; 0: unverified parse */
    uint8_t format;                /* IOTSEC_MANIFEST_FORMAT */
    iotsec_sig_alg sig_alg;        /* algorithm byte of the header */
    const uint8_t *key_id;         /* 8 bytes: key id from the header */
    const uint8_t *signed_data;    /* bytes [0, 16 + body_len) of the manifest */
    size_t signed_len;
    const uint8_t *body;           /* the TLV body */
    size_t body_len;
    const uint8_t *signature;      /* sig_len bytes */
    size_t sig_len;
    iotsec_manifest_fields f;      /* the parsed body */
} iotsec_manifest;

/* A set of trusted signing keys (several allow key rotation), looked up by key_id. The
 * store borrows the caller's array; the keys must stay loaded while it is used. */
typedef struct iotsec_trust_store {
    const iotsec_pubkey *keys;
    size_t count;
} iotsec_trust_store;

/* What a device (or an operator's check) requires of a manifest. */
typedef struct iotsec_device_policy {
    const uint8_t *device_class;   /* this device's class, 1–64 bytes */
    size_t device_class_len;
    const uint8_t *device_id;      /* this device's id, or NULL: then a manifest that names
                                      any device_id is refused (fail closed) */
    size_t device_id_len;
    uint64_t now;                  /* current time, Unix seconds, from the caller's clock */
    uint64_t stored_counter;       /* the security counter of the running image */
    uint32_t skip;                 /* IOTSEC_POLICY_SKIP_* bits: checks not made */
} iotsec_device_policy;

/* Policy checks a caller may leave out. An operator's tool checking a manifest without a
 * device context may skip class and counter. A device installing an update sets none.
 * IOTSEC_POLICY_SKIP_EXPIRY is for one place only: the boot-time re-check of an image that
 * was already installed under a full check. not_after defends against freeze attacks at
 * installation (an attacker replaying an old, once-valid manifest); an installed image does
 * not expire under the device, and a bootloader usually has no trusted clock — a device that
 * halted at boot when its image aged would be unable to run the update that replaces it.
 * The device_id check can never be skipped. */
#define IOTSEC_POLICY_SKIP_CLASS 0x1u   /* do not compare device_class */
#define IOTSEC_POLICY_SKIP_COUNTER 0x2u /* do not compare security_counter with stored */
#define IOTSEC_POLICY_SKIP_EXPIRY 0x4u  /* boot-time re-check only: do not compare not_after */

/* ---- trust store ------------------------------------------------------------------------ */

/* Make a trust store over keys[0..count) (count ≥ 1). Refuses a set in which two keys share
 * a key_id (bindings-spec/SPEC.md §7.3), because lookup by key_id would then be ambiguous.
 * Errors: IOTSEC_E_INVALID_ARG (NULL, count 0, a key not loaded), IOTSEC_E_BAD_KEY (two keys
 * with the same key_id). *store is left zeroed on error. */
IOTSEC_API int iotsec_trust_store_init(iotsec_trust_store *store, const iotsec_pubkey *keys,
                                       size_t count);

/* ---- builder and signer ------------------------------------------------------------------ */

/* Check fields against every rule the verifier applies (bindings-spec/SPEC.md §7.2). Returns IOTSEC_OK or
 * the error the verifier would give: IOTSEC_E_MISSING_FIELD (NULL version, device_class,
 * image_digest, or with IOTSEC_MF_ENCRYPTION a NULL enc_key_id, enc_iv or payload_digest;
 * present bits outside IOTSEC_MF_ALL), IOTSEC_E_BAD_LENGTH (string lengths outside their
 * ranges), IOTSEC_E_BAD_VALUE (image_size, chunk_size, payload_size inconsistent with
 * image_size, version not UTF-8), IOTSEC_E_COUNTER_EXHAUSTED (security_counter UINT64_MAX),
 * IOTSEC_E_UNSUPPORTED (enc_alg other than AES-256-CBC), IOTSEC_E_BAD_LENGTH (the encoded
 * body would exceed 3072 bytes, e.g. a long description), IOTSEC_E_INVALID_ARG (NULL). */
IOTSEC_API int iotsec_manifest_fields_check(const iotsec_manifest_fields *fields);

/* Write the canonical TLV body of fields (types ascending, minimal exact lengths) to
 * out[0..cap); *out_len gets its length (≤ IOTSEC_MANIFEST_BODY_MAX). With out == NULL only
 * the length is computed. Errors: those of iotsec_manifest_fields_check, IOTSEC_E_BAD_LENGTH
 * (body over 3072 bytes, e.g. a long description), IOTSEC_E_BUFFER_TOO_SMALL. */
IOTSEC_API int iotsec_manifest_encode_body(const iotsec_manifest_fields *fields, uint8_t *out,
                                           size_t cap, size_t *out_len);

/* Build and sign a manifest: header (sig_alg from sk->alg, key_id from
 * iotsec_privkey_key_id), canonical body, sig_len, signature over header and body.
 * Ed25519 is pure Ed25519 (RFC 8032); ECDSA P-256 is SHA-256 with a raw 64-byte r||s;
 * RSA-PSS is RFC 8017 with SHA-256, MGF1-SHA-256 and sk->pss_salt_len (32 after loading).
 * out needs at most IOTSEC_MANIFEST_MAX_LEN bytes; *out_len gets the manifest length.
 * Nothing but *out_len and out is written; out is zeroed on error.
 * Errors: those of iotsec_manifest_encode_body, IOTSEC_E_BUFFER_TOO_SMALL,
 * IOTSEC_E_UNSUPPORTED (the key's algorithm is not in its backend), IOTSEC_E_BACKEND. */
IOTSEC_API int iotsec_manifest_sign(const iotsec_manifest_fields *fields,
                                    const iotsec_privkey *sk, uint8_t *out, size_t cap,
                                    size_t *out_len);

/* Sign an arbitrary, already-encoded body (extension TLVs, test and fuzz harnesses): the
 * body is NOT checked, only its length (≤ 3072, else IOTSEC_E_BAD_LENGTH). A verifier still
 * applies every rule to it. Other errors as iotsec_manifest_sign. */
IOTSEC_API int iotsec_manifest_sign_body(const uint8_t *body, size_t body_len,
                                         const iotsec_privkey *sk, uint8_t *out, size_t cap,
                                         size_t *out_len);

/* ---- verifier ------------------------------------------------------------------------------ */

/*
 * Verify buf[0..len) against the trust store and parse it into *m (pointers into buf).
 * Checks, in this order, and returns the first failure:
 *   header (read before authentication: only these 16 bytes and the sig_len field)
 *     IOTSEC_E_TRUNCATED        len < 16, or the body, sig_len field or signature runs past
 *                               the buffer
 *     IOTSEC_E_BAD_VERSION      magic is not "IOTM" or format is not 0x01
 *     IOTSEC_E_UNSUPPORTED      sig_alg reserved (0x10–0x1F)
 *     IOTSEC_E_BAD_VALUE        sig_alg unknown (any other value but 0x01–0x03)
 *     IOTSEC_E_BAD_LENGTH       body_len > 3072 or sig_len > 512
 *     IOTSEC_E_BAD_SIGNATURE    the buffer ends right after the body (no signature) or
 *                               sig_len is 0 (an empty signature is never skipped)
 *     IOTSEC_E_TRAILING_DATA    bytes follow the signature
 *   authentication
 *     IOTSEC_E_UNKNOWN_KEY      no trusted key has the header's key_id
 *     IOTSEC_E_BAD_SIGNATURE    the key's algorithm is not sig_alg, the signature length is
 *                               not the key's, or the signature does not verify over bytes
 *                               [0, 16 + body_len)
 *     IOTSEC_E_UNSUPPORTED      the key's backend lacks the algorithm
 *   body (parsed only after the signature verified)
 *     IOTSEC_E_TRUNCATED        a TLV runs past the body
 *     IOTSEC_E_NON_CANONICAL    types not strictly ascending (out of order or duplicated)
 *     IOTSEC_E_UNKNOWN_CRITICAL an unknown type below 0x80 (types ≥ 0x80 are skipped)
 *     IOTSEC_E_BAD_LENGTH       a value's length is not the one its type allows
 *     IOTSEC_E_BAD_VALUE        a value outside its range: image_size 0 or > 2^32, version
 *                               not UTF-8, chunk_size outside 256–65536, payload_size not
 *                               image_size rounded up to the next multiple of 16 (PKCS#7),
 *                               payload_size or payload_digest without encryption
 *     IOTSEC_E_UNSUPPORTED      encryption alg other than 0x01 (AES-256-CBC)
 *     IOTSEC_E_COUNTER_EXHAUSTED security_counter is UINT64_MAX
 *     IOTSEC_E_MISSING_FIELD    a required type is absent (0x01–0x05; 0x09 and 0x0A when
 *                               0x08 is present)
 *   IOTSEC_E_INVALID_ARG (NULL arguments, an empty store).
 * On success m->verified is 1. On error *m is zeroed. Nothing else changes.
 */
IOTSEC_API IOTSEC_MUST_CHECK int iotsec_manifest_verify(const iotsec_trust_store *store,
                                                        const uint8_t *buf, size_t len,
                                                        iotsec_manifest *m);

/* Parse buf[0..len) WITHOUT checking the signature, for display (`iotsec manifest show`)
 * and diagnostics only: never base a decision on the result. Applies the header and body
 * rules of iotsec_manifest_verify (same errors, minus the authentication ones); m->verified
 * is 0, so the policy and image functions refuse it. */
IOTSEC_API IOTSEC_MUST_CHECK int iotsec_manifest_parse_unverified(const uint8_t *buf,
                                                                  size_t len,
                                                                  iotsec_manifest *m);

/* ---- policy ------------------------------------------------------------------------------ */

/*
 * Check a verified manifest against a device's policy (bindings-spec/SPEC.md §7.4), in this order:
 *   IOTSEC_E_INVALID_ARG        NULL, unknown skip bits, or a class of length outside 1–64
 *                               when the class is checked
 *   IOTSEC_E_STATE              m was not produced by iotsec_manifest_verify
 *   IOTSEC_E_WRONG_TARGET       device_class differs from policy->device_class (unless
 *                               IOTSEC_POLICY_SKIP_CLASS)
 *   IOTSEC_E_WRONG_DEVICE       the manifest names a device_id and it differs from
 *                               policy->device_id, or policy->device_id is NULL
 *   IOTSEC_E_EXPIRED            not_after present and policy->now > not_after (unless
 *                               IOTSEC_POLICY_SKIP_EXPIRY)
 *   IOTSEC_E_COUNTER_EXHAUSTED  the manifest's or the stored counter is UINT64_MAX (a device
 *                               must never reach the end of its counter; checked even with
 *                               IOTSEC_POLICY_SKIP_COUNTER)
 *   IOTSEC_E_ROLLBACK           security_counter < policy->stored_counter (unless
 *                               IOTSEC_POLICY_SKIP_COUNTER); equal is accepted (reinstall)
 * Byte strings are compared exactly (length and bytes). Changes nothing; the caller raises
 * its stored counter only when the new image confirms its first boot.
 */
IOTSEC_API IOTSEC_MUST_CHECK int iotsec_manifest_check_policy(const iotsec_manifest *m,
                                                              const iotsec_device_policy *policy);

/* IOTSEC_OK when s[0..len) is strict UTF-8 (RFC 3629: no overlong forms, no surrogates,
 * nothing above U+10FFFF; len 0 is valid), else IOTSEC_E_BAD_VALUE (IOTSEC_E_INVALID_ARG for
 * NULL with len > 0). The rule applied to the version field; front-ends use it to print
 * other byte strings. */
IOTSEC_API int iotsec_manifest_utf8_check(const uint8_t *s, size_t len);

/* Name of a signature algorithm as `iotsec manifest show` prints it: "ed25519", "p256",
 * "rsa-pss"; NULL for any other value. */
IOTSEC_API const char *iotsec_sig_alg_name(int sig_alg);

#ifdef __cplusplus
}
#endif

#endif
