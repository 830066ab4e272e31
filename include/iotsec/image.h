/*
 * libiotsec — streaming firmware image verification and encryption (docs/DESIGN.md §6).
 *
 * Verification takes the payload in chunks of any size (1 byte … 64 KiB and more) into a
 * context of fixed size (bounded RAM whatever the image size) and compares sizes and digests
 * with a verified manifest at the end:
 *
 *   plain image (no encryption TLV): the bytes are the image; they are hashed and counted.
 *     The first byte beyond the signed image_size fails the update at once.
 *   encrypted payload (encryption TLV 0x08, AES-256-CBC + PKCS#7): the bytes as transferred
 *     are hashed and counted (the first byte beyond payload_size fails at once), decrypted
 *     into the caller's output buffer (the last block is held back so the padding can be
 *     stripped at the end), and the plaintext is hashed. At final: the transferred size and
 *     the payload digest are compared FIRST, then the PKCS#7 padding is checked in constant
 *     time, then the plaintext size and digest. Every failure of the encrypted path, in
 *     update or final, returns the same IOTSEC_E_DIGEST_MISMATCH, so no padding oracle exists.
 *
 *   transfer only (iotsec_image_verify_init_transfer): the bytes as transferred are hashed
 *     and counted against payload_size and payload_digest (against image_size and
 *     image_digest when the manifest has no encryption TLV), with no key and no decryption:
 *     for a server that stores and serves encrypted firmware without the fleet's key.
 *
 * Output bytes are NOT verified until iotsec_image_verify_final returns IOTSEC_OK: write them
 * to an inactive slot and mark it bootable only then (MCUboot's model). The caller supplies
 * the output buffer (MCUboot-style scratch); the library allocates nothing.
 *
 * A context that failed stays failed: every later call returns the same error. Contexts are
 * zeroized (key schedule included) by final and by cleanup.
 */
#ifndef IOTSEC_IMAGE_H
#define IOTSEC_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "iotsec/crypto.h"
#include "iotsec/export.h"
#include "iotsec/manifest.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Output capacity that always suffices for an update with n input bytes (the exact need is
 * at most n + 15), and for final (16). */
#define IOTSEC_IMAGE_OUT_MAX(n) ((n) + IOTSEC_AES_BLOCK_LEN)

/* The streaming verifier. Plain data, caller-owned, fixed size; treat members as private. */
typedef struct iotsec_image_verify_ctx {
    const iotsec_crypto *crypto;
    iotsec_sha256_ctx image_hash;      /* SHA-256 of the plaintext (transfer only: of the
                                          bytes as transferred) */
    iotsec_sha256_ctx payload_hash;    /* SHA-256 of the bytes as transferred (encrypted) */
    iotsec_aes_cbc_ctx aes;            /* decryption state (encrypted) */
    uint64_t expect_size;              /* bytes the input must have: image or payload size */
    uint64_t image_size;               /* signed plaintext size (transfer only: the
                                          transferred size) */
    uint64_t received;                 /* input bytes so far */
    uint64_t produced;                 /* plaintext bytes released to the caller so far */
    uint8_t image_digest[IOTSEC_SHA256_LEN];   /* what image_hash must give */
    uint8_t payload_digest[IOTSEC_SHA256_LEN]; /* what payload_hash must give (encrypted) */
    uint8_t partial[IOTSEC_AES_BLOCK_LEN]; /* ciphertext bytes not yet a whole block */
    uint8_t held[IOTSEC_AES_BLOCK_LEN];    /* last decrypted block, held back for padding */
    uint8_t partial_len;
    uint8_t have_held;
    uint8_t encrypted;
    uint8_t state;                     /* private: idle, running, failed */
    int err;                           /* the sticky error once failed */
} iotsec_image_verify_ctx;

/*
 * Start verifying the payload of a verified manifest m (from iotsec_manifest_verify).
 *   m without encryption: the input is the plain image; fw_key must be NULL.
 *   m with encryption: the input is the ciphertext as transferred; fw_key is the raw
 *     32-byte AES-256 key, whose SHA-256 must start with m's encryption key_id.
 * m's sizes and digests are copied into ctx; m's buffer may be released afterwards.
 * Errors: IOTSEC_E_INVALID_ARG (NULL ctx, crypto or m), IOTSEC_E_STATE (m not verified),
 * IOTSEC_E_UNKNOWN_KEY (encrypted and fw_key NULL, or its key id differs), IOTSEC_E_BAD_KEY
 * (fw_key_len ≠ 32), IOTSEC_E_POLICY (a key was given for an unencrypted manifest: a
 * device that expects confidential firmware refuses a plaintext one),
 * IOTSEC_E_UNSUPPORTED (the backend lacks SHA-256 or AES-CBC), IOTSEC_E_NO_MEMORY,
 * IOTSEC_E_BACKEND. ctx is zeroed on error.
 */
IOTSEC_API int iotsec_image_verify_init(iotsec_image_verify_ctx *ctx,
                                        const iotsec_crypto *crypto, const iotsec_manifest *m,
                                        const uint8_t *fw_key, size_t fw_key_len);

/* Start verifying an already-decrypted image against m's image_size and image_digest, for
 * any verified manifest, encrypted or not: the secure-boot re-check of a slot that holds
 * the plaintext. Errors as iotsec_image_verify_init (no key errors). */
IOTSEC_API int iotsec_image_verify_init_plaintext(iotsec_image_verify_ctx *ctx,
                                                  const iotsec_crypto *crypto,
                                                  const iotsec_manifest *m);

/*
 * Start a transfer-only check of the payload of a verified manifest m: the input is the
 * bytes as transferred; they are counted and hashed (SHA-256) and, at final, compared with
 *   m with encryption (TLV 0x08): payload_size and payload_digest. Nothing is decrypted and
 *     no key is needed, so the plaintext (padding, image_size, image_digest) is NOT checked
 *     here: a device checks it with iotsec_image_verify_init before it boots the image.
 *   m without encryption: image_size and image_digest — the bytes as transferred are the
 *     image, so this is exactly iotsec_image_verify_init(ctx, crypto, m, NULL, 0).
 * For a server or mirror that publishes encrypted firmware without holding the fleet's
 * firmware decryption key (bindings-spec/SPEC.md §7.5: payload_size and payload_digest are signed). Then
 * update and final behave as for a plain image, with its errors (no uniform-error rule: no
 * secret is involved): bounded RAM; the first byte beyond the signed size fails at once;
 * with out, update copies the input there (ciphertext for an encrypted manifest, never
 * plaintext) and final releases nothing (out may be NULL).
 * Errors: IOTSEC_E_INVALID_ARG (NULL ctx, crypto or m), IOTSEC_E_STATE (m not verified),
 * IOTSEC_E_UNSUPPORTED (the backend lacks SHA-256), IOTSEC_E_NO_MEMORY, IOTSEC_E_BACKEND.
 * ctx is zeroed on error.
 */
IOTSEC_API int iotsec_image_verify_init_transfer(iotsec_image_verify_ctx *ctx,
                                                 const iotsec_crypto *crypto,
                                                 const iotsec_manifest *m);

/*
 * Feed in[0..in_len) (any length, 0 allowed). Plaintext bytes released by this call go to
 * out[0..*out_len):
 *   plain input (and transfer only): the output is the input itself. With out == NULL
 *     nothing is copied and *out_len is 0 (use `in`); otherwise in is copied to out
 *     (out_cap ≥ in_len).
 *   encrypted input: out is required and receives the decrypted blocks completed by this
 *     call, except the last block, held back until final; out_cap must be at least the
 *     bytes released (≤ in_len + 15; IOTSEC_IMAGE_OUT_MAX(in_len) always suffices).
 * out must not overlap in. out_len may be NULL when out is NULL.
 * Errors: IOTSEC_E_DIGEST_MISMATCH (more bytes than the signed size: fails as soon as the
 * first extra byte arrives; on the encrypted path also any backend failure), and
 * IOTSEC_E_BACKEND on the plain path; these make the context fail for good.
 * IOTSEC_E_BUFFER_TOO_SMALL (out_cap too small; nothing consumed, the context is unchanged
 * and the call may be repeated), IOTSEC_E_INVALID_ARG (NULL in with in_len > 0, or NULL out
 * on the encrypted path), IOTSEC_E_STATE (not initialised or already finished).
 */
IOTSEC_API IOTSEC_MUST_CHECK int iotsec_image_verify_update(iotsec_image_verify_ctx *ctx,
                                                            const uint8_t *in, size_t in_len,
                                                            uint8_t *out, size_t out_cap,
                                                            size_t *out_len);

/*
 * Finish: compare sizes and digests with the manifest. For an encrypted payload, out
 * (out_cap ≥ 16) receives the last plaintext bytes, padding removed (0–15 bytes), and only
 * when everything verified. out may be NULL for a plain input. Returns IOTSEC_OK only when
 * the whole image is exactly the signed one. Errors: IOTSEC_E_DIGEST_MISMATCH (a size or
 * digest differs, or bad padding: one uniform error for the encrypted path, checked in the
 * order payload size, payload digest, padding, image size, image digest), or the error that
 * failed an earlier update; IOTSEC_E_BUFFER_TOO_SMALL (encrypted, out_cap < 16; the context
 * is unchanged), IOTSEC_E_INVALID_ARG, IOTSEC_E_STATE, IOTSEC_E_BACKEND.
 * The context is zeroized on return (except after BUFFER_TOO_SMALL / INVALID_ARG / STATE).
 */
IOTSEC_API IOTSEC_MUST_CHECK int iotsec_image_verify_final(iotsec_image_verify_ctx *ctx,
                                                           uint8_t *out, size_t out_cap,
                                                           size_t *out_len);

/* Abandon a verification: release backend state and zeroize ctx. Harmless on a zeroed or
 * finished context. */
IOTSEC_API void iotsec_image_verify_cleanup(iotsec_image_verify_ctx *ctx);

/* ---- firmware encryption (signer side) -------------------------------------------------- */

/* Key id of a raw 32-byte firmware key: SHA-256(key)[0..8) (the encryption TLV's key_id).
 * Errors: IOTSEC_E_INVALID_ARG, IOTSEC_E_UNSUPPORTED, IOTSEC_E_BACKEND. */
IOTSEC_API int iotsec_fw_key_id(const iotsec_crypto *crypto, const uint8_t key[IOTSEC_FW_KEY_LEN],
                                uint8_t key_id[IOTSEC_KEY_ID_LEN]);

/* What a finished encryption produced, to fill the manifest fields. */
typedef struct iotsec_image_encrypt_result {
    uint64_t image_size;                          /* plaintext bytes */
    uint8_t image_digest[IOTSEC_SHA256_LEN];      /* SHA-256 of the plaintext */
    uint64_t payload_size;                        /* ciphertext bytes (with padding) */
    uint8_t payload_digest[IOTSEC_SHA256_LEN];    /* SHA-256 of the ciphertext */
    uint8_t key_id[IOTSEC_KEY_ID_LEN];            /* SHA-256(key)[0..8) */
    uint8_t iv[IOTSEC_AES_BLOCK_LEN];             /* the IV used */
} iotsec_image_encrypt_result;

/* Streaming AES-256-CBC + PKCS#7 encryption of a firmware image. */
typedef struct iotsec_image_encrypt_ctx {
    const iotsec_crypto *crypto;
    iotsec_sha256_ctx image_hash;
    iotsec_sha256_ctx payload_hash;
    iotsec_aes_cbc_ctx aes;
    uint64_t image_size;
    uint64_t payload_size;
    uint8_t key_id[IOTSEC_KEY_ID_LEN];
    uint8_t iv[IOTSEC_AES_BLOCK_LEN];
    uint8_t partial[IOTSEC_AES_BLOCK_LEN];
    uint8_t partial_len;
    uint8_t state;
} iotsec_image_encrypt_ctx;

/* Start encrypting with the raw 32-byte key and a 16-byte IV. The IV must be unpredictable
 * and never reused with the same key (draw it with iotsec_random).
 * Errors: IOTSEC_E_INVALID_ARG, IOTSEC_E_UNSUPPORTED (no AES-CBC in the backend),
 * IOTSEC_E_NO_MEMORY, IOTSEC_E_BACKEND. ctx is zeroed on error. */
IOTSEC_API int iotsec_image_encrypt_init(iotsec_image_encrypt_ctx *ctx,
                                         const iotsec_crypto *crypto,
                                         const uint8_t key[IOTSEC_FW_KEY_LEN],
                                         const uint8_t iv[IOTSEC_AES_BLOCK_LEN]);
/* Encrypt in[0..in_len) (any length): whole blocks go to out[0..*out_len), the rest waits.
 * out_cap must be at least the bytes produced (≤ in_len + 15). Errors: IOTSEC_E_INVALID_ARG,
 * IOTSEC_E_BUFFER_TOO_SMALL (nothing consumed), IOTSEC_E_STATE, IOTSEC_E_BAD_LENGTH (image
 * over 2^32 bytes), IOTSEC_E_BACKEND. */
IOTSEC_API int iotsec_image_encrypt_update(iotsec_image_encrypt_ctx *ctx, const uint8_t *in,
                                           size_t in_len, uint8_t *out, size_t out_cap,
                                           size_t *out_len);
/* Pad (PKCS#7, 1–16 bytes) and write the last block to out (out_cap ≥ 16; *out_len = 16),
 * fill *result and zeroize ctx. Errors: IOTSEC_E_BAD_VALUE (empty image: image_size must be
 * ≥ 1), IOTSEC_E_INVALID_ARG, IOTSEC_E_BUFFER_TOO_SMALL (ctx unchanged), IOTSEC_E_STATE,
 * IOTSEC_E_BACKEND. */
IOTSEC_API int iotsec_image_encrypt_final(iotsec_image_encrypt_ctx *ctx, uint8_t *out,
                                          size_t out_cap, size_t *out_len,
                                          iotsec_image_encrypt_result *result);
/* Abandon an encryption and zeroize ctx. */
IOTSEC_API void iotsec_image_encrypt_cleanup(iotsec_image_encrypt_ctx *ctx);

#ifdef __cplusplus
}
#endif

#endif
