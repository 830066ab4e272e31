/*
 * libiotsec — the crypto backend interface (docs/DESIGN.md §2).
 *
 * A backend is a const table of functions (struct iotsec_crypto), chosen at run time and
 * passed explicitly to every function that needs cryptography; there is no global state,
 * so one program can use several backends side by side and cross-check them.
 *
 * Backends compiled into this build are returned by their getters; a getter returns NULL
 * when its adapter was not built (make BACKENDS="openssl sodium psa").
 *
 * Capability table (see README): an operation a backend lacks returns IOTSEC_E_UNSUPPORTED
 * and its IOTSEC_CAP_* bit is clear.
 *
 *                       openssl   sodium   psa
 *   SHA-256               yes      yes      yes
 *   HMAC-SHA256           yes      yes      yes
 *   AES-128/256-CBC       yes      no       yes
 *   Ed25519 sign/verify   yes      yes      no (its fallback's: see below)
 *   ECDSA P-256           yes      no       yes
 *   RSA-PSS SHA-256       yes      no       yes (signs with salt 32 only)
 *   random bytes          yes      yes      yes
 *
 * "psa" is the PSA Crypto API (Mbed TLS, TF-M, secure elements); its bits are those of the
 * PSA implementation it was compiled against (PSA_WANT_*).
 *
 * Contexts are caller-owned, fixed-size structs (static memory is fine). A backend may keep
 * a handle to memory it allocated inside a context; the matching *_cleanup / *_free call
 * releases it and zeroizes the context. Calling cleanup on a zeroed context is harmless.
 * Contexts are not thread-safe: use one per thread. Keys (iotsec_pubkey, iotsec_privkey) are
 * read-only after loading and may be shared between threads.
 *
 * Standards: SHA-256 FIPS 180-4; HMAC RFC 2104 / FIPS 198-1; HKDF RFC 5869; AES-CBC
 * NIST SP 800-38A; Ed25519 RFC 8032 (pure); ECDSA FIPS 186-4 with SHA-256 and a raw 64-byte
 * r||s signature (big-endian, 32 bytes each); RSASSA-PSS RFC 8017 with SHA-256 and MGF1-SHA-256.
 */
#ifndef IOTSEC_CRYPTO_H
#define IOTSEC_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "iotsec/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IOTSEC_SHA256_LEN 32u   /* bytes of a SHA-256 digest */
#define IOTSEC_HMAC_LEN 32u     /* bytes of an HMAC-SHA256 tag */
#define IOTSEC_AES_BLOCK_LEN 16u /* bytes of an AES block and of a CBC IV */
#define IOTSEC_KEY_ID_LEN 8u    /* bytes of a key id: SHA-256(SPKI DER)[0..8) */
#define IOTSEC_SIG_MAX_LEN 512u /* largest signature: RSA-4096 */
#define IOTSEC_SPKI_MAX_LEN 600u /* largest canonical SPKI DER: RSA-4096 is 550 bytes */

/* Signature algorithms; the values are the manifest sig_alg codes (bindings-spec/SPEC.md §7.1). */
typedef enum iotsec_sig_alg {
    IOTSEC_SIG_ED25519 = 0x01,    /* 64-byte signature, pure Ed25519 over the message */
    IOTSEC_SIG_ECDSA_P256 = 0x02, /* 64-byte raw r||s over SHA-256(message) */
    IOTSEC_SIG_RSA_PSS = 0x03     /* modulus-length signature, SHA-256, MGF1-SHA-256 */
} iotsec_sig_alg;

/* Capability bits (struct iotsec_crypto.caps). */
#define IOTSEC_CAP_SHA256 0x0001u
#define IOTSEC_CAP_HMAC_SHA256 0x0002u
#define IOTSEC_CAP_AES_CBC 0x0004u
#define IOTSEC_CAP_ED25519 0x0008u
#define IOTSEC_CAP_ECDSA_P256 0x0010u
#define IOTSEC_CAP_RSA_PSS 0x0020u
#define IOTSEC_CAP_RANDOM 0x0040u

/* Directions for AES-CBC. */
#define IOTSEC_DECRYPT 0
#define IOTSEC_ENCRYPT 1

typedef struct iotsec_crypto iotsec_crypto;

/* Opaque backend state. Sizes are part of the ABI; they hold libsodium's state inline
 * and a pointer for OpenSSL. */
#define IOTSEC_SHA256_STATE_SIZE 128u
#define IOTSEC_HMAC_STATE_SIZE 448u
#define IOTSEC_AES_STATE_SIZE 64u
#define IOTSEC_KEY_STATE_SIZE 96u

typedef union iotsec_opaque_sha256 {
    void *ptr;
    uint64_t align;
    unsigned char bytes[IOTSEC_SHA256_STATE_SIZE];
} iotsec_opaque_sha256;

typedef union iotsec_opaque_hmac {
    void *ptr;
    uint64_t align;
    unsigned char bytes[IOTSEC_HMAC_STATE_SIZE];
} iotsec_opaque_hmac;

typedef union iotsec_opaque_aes {
    void *ptr;
    uint64_t align;
    unsigned char bytes[IOTSEC_AES_STATE_SIZE];
} iotsec_opaque_aes;

typedef union iotsec_opaque_key {
    void *ptr;
    uint64_t align;
    unsigned char bytes[IOTSEC_KEY_STATE_SIZE];
} iotsec_opaque_key;

/* Streaming SHA-256. */
typedef struct iotsec_sha256_ctx {
    const iotsec_crypto *crypto;
    iotsec_opaque_sha256 state;
} iotsec_sha256_ctx;

/* HMAC-SHA256 with a key set once and reused for many messages (init/update/final cycles
 * after one setkey), so a message costs one HMAC, not a key schedule. */
typedef struct iotsec_hmac_ctx {
    const iotsec_crypto *crypto;
    iotsec_opaque_hmac state;
} iotsec_hmac_ctx;

/* Streaming AES-CBC without padding (padding is the caller's policy). */
typedef struct iotsec_aes_cbc_ctx {
    const iotsec_crypto *crypto;
    iotsec_opaque_aes state;
} iotsec_aes_cbc_ctx;

/* A loaded public key. Read-only after iotsec_pubkey_load; free with iotsec_pubkey_free. */
typedef struct iotsec_pubkey {
    const iotsec_crypto *crypto;
    iotsec_sig_alg alg;
    size_t sig_len;                     /* exact signature length for this key, bytes */
    unsigned bits;                      /* key size in bits (255, 256, 2048…4096) */
    uint8_t key_id[IOTSEC_KEY_ID_LEN];  /* SHA-256(canonical SPKI DER)[0..8) */
    iotsec_opaque_key impl;
} iotsec_pubkey;

/* A loaded private key. Free with iotsec_privkey_free (zeroizes). */
typedef struct iotsec_privkey {
    const iotsec_crypto *crypto;
    iotsec_sig_alg alg;
    size_t sig_len;      /* exact signature length, bytes */
    unsigned bits;
    size_t pss_salt_len; /* RSA-PSS only: salt bytes used when signing; 32 after load.
                            Set 0 before signing to make deterministic test vectors. */
    iotsec_opaque_key impl;
} iotsec_privkey;

/*
 * The backend table. Front-ends do not call these pointers directly: they call the
 * iotsec_* wrappers below, which check arguments and capabilities first. Every entry is
 * non-NULL; an unsupported operation is an entry that returns IOTSEC_E_UNSUPPORTED.
 */
struct iotsec_crypto {
    const char *name; /* "openssl", "sodium", "psa" */
    uint32_t caps;    /* IOTSEC_CAP_* bits */

    int (*sha256_init)(iotsec_sha256_ctx *ctx);
    int (*sha256_update)(iotsec_sha256_ctx *ctx, const uint8_t *data, size_t len);
    int (*sha256_final)(iotsec_sha256_ctx *ctx, uint8_t out[IOTSEC_SHA256_LEN]);
    void (*sha256_cleanup)(iotsec_sha256_ctx *ctx);

    int (*hmac_setkey)(iotsec_hmac_ctx *ctx, const uint8_t *key, size_t key_len);
    int (*hmac_init)(iotsec_hmac_ctx *ctx);
    int (*hmac_update)(iotsec_hmac_ctx *ctx, const uint8_t *data, size_t len);
    int (*hmac_final)(iotsec_hmac_ctx *ctx, uint8_t out[IOTSEC_HMAC_LEN]);
    void (*hmac_cleanup)(iotsec_hmac_ctx *ctx);

    int (*aes_cbc_init)(iotsec_aes_cbc_ctx *ctx, int encrypt, const uint8_t *key,
                        size_t key_len, const uint8_t iv[IOTSEC_AES_BLOCK_LEN]);
    int (*aes_cbc_update)(iotsec_aes_cbc_ctx *ctx, const uint8_t *in, uint8_t *out, size_t len);
    void (*aes_cbc_cleanup)(iotsec_aes_cbc_ctx *ctx);

    /* Parse an SPKI DER public key; write its canonical SPKI DER (as OpenSSL writes it by
     * default) to spki/spki_cap so the core can compute the key id. */
    int (*pubkey_load)(iotsec_pubkey *pk, const uint8_t *der, size_t der_len, uint8_t *spki,
                       size_t spki_cap, size_t *spki_len);
    void (*pubkey_free)(iotsec_pubkey *pk);
    int (*privkey_load)(iotsec_privkey *sk, const uint8_t *der, size_t der_len);
    int (*privkey_public)(const iotsec_privkey *sk, uint8_t *spki, size_t spki_cap,
                          size_t *spki_len);
    void (*privkey_free)(iotsec_privkey *sk);

    int (*verify)(const iotsec_pubkey *pk, const uint8_t *msg, size_t msg_len,
                  const uint8_t *sig, size_t sig_len);
    int (*sign)(const iotsec_privkey *sk, const uint8_t *msg, size_t msg_len, uint8_t *sig,
                size_t sig_cap, size_t *sig_len);

    int (*random)(uint8_t *out, size_t len);

    /* Composition (docs/DESIGN.md §2): the table that serves what this one lacks, or NULL. The
     * checked front (the iotsec_* calls below) gives an operation whose IOTSEC_CAP_* bit is
     * clear here to the first table down the fallback chain that has it, and a key this
     * table's loader reports IOTSEC_E_UNSUPPORTED for to the fallback's loader; contexts
     * and keys then record the table that serves them (ctx->crypto, pk->crypto). The PSA
     * table names libsodium's when both are built, for Ed25519 (a PSA device verifies
     * Ed25519 manifests with the libsodium ref10 code). Chains longer than 4 are cut. */
    const iotsec_crypto *fallback;
};

/* ---- backend getters ---------------------------------------------------------------- */

/* The OpenSSL 3 adapter, or NULL if this build has no OpenSSL backend. */
IOTSEC_API const iotsec_crypto *iotsec_crypto_openssl(void);
/* The libsodium adapter, or NULL if this build has no libsodium backend. On first use it
 * calls sodium_init(); if that fails every operation returns IOTSEC_E_BACKEND. */
IOTSEC_API const iotsec_crypto *iotsec_crypto_sodium(void);
/* The PSA Crypto API adapter (psa/crypto.h: Mbed TLS's implementation on a host and in
 * firmware, or TF-M's, or a secure element's), or NULL if this build has no PSA backend
 * (make BACKENDS="... psa"). Every entry calls psa_crypto_init() first; if that fails the
 * operation returns IOTSEC_E_BACKEND. Keys live in PSA's volatile key slots until
 * iotsec_pubkey_free / iotsec_privkey_free (Mbed TLS: 32 slots by default; more keys at
 * once give IOTSEC_E_NO_MEMORY). Differences from OpenSSL: RSA-PSS signs with a 32-byte
 * salt only (another iotsec_privkey.pss_salt_len is IOTSEC_E_UNSUPPORTED); Mbed TLS
 * imports RSA moduli of whole bytes only (2049 bits: IOTSEC_E_UNSUPPORTED); a P-256 key
 * with a compressed point needs Mbed TLS (IOTSEC_E_UNSUPPORTED with another
 * implementation). Ed25519 comes from the table's fallback (struct iotsec_crypto), which
 * is libsodium's when the build has it. */
IOTSEC_API const iotsec_crypto *iotsec_crypto_psa(void);
/* The most capable backend built: OpenSSL if present, else PSA, else libsodium. Never NULL:
 * a build without any backend is refused at compile time (libiotsec/crypto/registry.c). */
IOTSEC_API const iotsec_crypto *iotsec_crypto_default(void);
/* The backend called name ("openssl", "sodium", "psa"), or NULL if it is not built. */
IOTSEC_API const iotsec_crypto *iotsec_crypto_by_name(const char *name);
/* 1 if crypto has every bit of caps, itself or through its fallback chain, else 0 (0 for
 * crypto == NULL). crypto->caps holds the table's own bits only. */
IOTSEC_API int iotsec_crypto_has(const iotsec_crypto *crypto, uint32_t caps);

/* ---- SHA-256 (FIPS 180-4) ------------------------------------------------------------ */

/* Start a digest. Errors: IOTSEC_E_INVALID_ARG (NULL), IOTSEC_E_UNSUPPORTED,
 * IOTSEC_E_NO_MEMORY / IOTSEC_E_BACKEND (backend failure). */
IOTSEC_API int iotsec_sha256_init(iotsec_sha256_ctx *ctx, const iotsec_crypto *crypto);
/* Hash len bytes (len may be 0; data may be NULL only when len is 0). Errors:
 * IOTSEC_E_INVALID_ARG (NULL ctx, or NULL data with len > 0), IOTSEC_E_STATE (not
 * initialised, or already finalized), IOTSEC_E_BACKEND. */
IOTSEC_API int iotsec_sha256_update(iotsec_sha256_ctx *ctx, const void *data, size_t len);
/* Write the 32-byte digest to out and release the context (cleanup is implied). Errors:
 * IOTSEC_E_INVALID_ARG (NULL), IOTSEC_E_STATE (not initialised), IOTSEC_E_BACKEND. */
IOTSEC_API int iotsec_sha256_final(iotsec_sha256_ctx *ctx, uint8_t out[IOTSEC_SHA256_LEN]);
/* Release and zeroize a context that will not be finalized. */
IOTSEC_API void iotsec_sha256_cleanup(iotsec_sha256_ctx *ctx);
/* One-shot SHA-256 of data[0..len). */
IOTSEC_API int iotsec_sha256(const iotsec_crypto *crypto, const void *data, size_t len,
                             uint8_t out[IOTSEC_SHA256_LEN]);

/* ---- HMAC-SHA256 (RFC 2104) ----------------------------------------------------------- */

/* Set the key (any length; RFC 2104 hashes keys longer than 64 bytes). The context can
 * then authenticate any number of messages, one at a time. Errors: IOTSEC_E_INVALID_ARG,
 * IOTSEC_E_UNSUPPORTED, IOTSEC_E_NO_MEMORY, IOTSEC_E_BACKEND. */
IOTSEC_API int iotsec_hmac_setkey(iotsec_hmac_ctx *ctx, const iotsec_crypto *crypto,
                                  const uint8_t *key, size_t key_len);
/* Start a message with the key set by iotsec_hmac_setkey (abandons any message begun).
 * Errors: IOTSEC_E_INVALID_ARG (NULL), IOTSEC_E_STATE (no key set), IOTSEC_E_BACKEND. */
IOTSEC_API int iotsec_hmac_init(iotsec_hmac_ctx *ctx);
/* Authenticate len more bytes of the message (len may be 0; data may be NULL only when len
 * is 0). Errors: IOTSEC_E_INVALID_ARG, IOTSEC_E_STATE (no key set, or no message begun with
 * iotsec_hmac_init — also after iotsec_hmac_final), IOTSEC_E_BACKEND. */
IOTSEC_API int iotsec_hmac_update(iotsec_hmac_ctx *ctx, const void *data, size_t len);
/* Write the 32-byte tag; the key stays set for the next iotsec_hmac_init. Errors:
 * IOTSEC_E_INVALID_ARG (NULL), IOTSEC_E_STATE (no message begun), IOTSEC_E_BACKEND. */
IOTSEC_API int iotsec_hmac_final(iotsec_hmac_ctx *ctx, uint8_t out[IOTSEC_HMAC_LEN]);
/* Forget the key: release backend state and zeroize the context. */
IOTSEC_API void iotsec_hmac_cleanup(iotsec_hmac_ctx *ctx);
/* One-shot HMAC-SHA256(key, msg). */
IOTSEC_API int iotsec_hmac_sha256(const iotsec_crypto *crypto, const uint8_t *key,
                                  size_t key_len, const void *msg, size_t msg_len,
                                  uint8_t out[IOTSEC_HMAC_LEN]);

/* ---- AES-CBC without padding (NIST SP 800-38A) ---------------------------------------- */

/* key_len is 16 (AES-128) or 32 (AES-256); encrypt is IOTSEC_ENCRYPT or IOTSEC_DECRYPT.
 * Errors: IOTSEC_E_INVALID_ARG (bad key length or direction), IOTSEC_E_UNSUPPORTED
 * (libsodium), IOTSEC_E_NO_MEMORY, IOTSEC_E_BACKEND. */
IOTSEC_API int iotsec_aes_cbc_init(iotsec_aes_cbc_ctx *ctx, const iotsec_crypto *crypto,
                                   int encrypt, const uint8_t *key, size_t key_len,
                                   const uint8_t iv[IOTSEC_AES_BLOCK_LEN]);
/* Process len bytes (a multiple of 16, possibly 0) from in to out; in == out is allowed,
 * other overlap is not. Chaining continues across calls. Errors: IOTSEC_E_INVALID_ARG
 * (len not a multiple of 16), IOTSEC_E_STATE (not initialised), IOTSEC_E_BACKEND. */
IOTSEC_API int iotsec_aes_cbc_update(iotsec_aes_cbc_ctx *ctx, const uint8_t *in,
                                     uint8_t *out, size_t len);
IOTSEC_API void iotsec_aes_cbc_cleanup(iotsec_aes_cbc_ctx *ctx);

/* ---- HKDF-SHA256 (RFC 5869) ----------------------------------------------------------- */

/* PRK = HMAC-SHA256(salt, ikm). salt may be NULL/0 (then 32 zero bytes, RFC 5869 §2.2). */
IOTSEC_API int iotsec_hkdf_sha256_extract(const iotsec_crypto *crypto, const uint8_t *salt,
                                          size_t salt_len, const uint8_t *ikm, size_t ikm_len,
                                          uint8_t prk[IOTSEC_SHA256_LEN]);
/* OKM = HKDF-Expand(prk, info, okm_len); okm_len 1..8160 (255 × 32), else
 * IOTSEC_E_INVALID_ARG. */
IOTSEC_API int iotsec_hkdf_sha256_expand(const iotsec_crypto *crypto,
                                         const uint8_t prk[IOTSEC_SHA256_LEN],
                                         const uint8_t *info, size_t info_len, uint8_t *okm,
                                         size_t okm_len);
/* Extract then expand. */
IOTSEC_API int iotsec_hkdf_sha256(const iotsec_crypto *crypto, const uint8_t *salt,
                                  size_t salt_len, const uint8_t *ikm, size_t ikm_len,
                                  const uint8_t *info, size_t info_len, uint8_t *okm,
                                  size_t okm_len);

/* ---- keys and signatures ---------------------------------------------------------------- */

/* Load a public key from DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7; Ed25519 RFC 8410,
 * P-256 RFC 5480 with a compressed or uncompressed point, RSA rsaEncryption RFC 3279 with a
 * modulus of 2048–4096 bits) and compute its key id over the canonical SPKI DER.
 * Errors: IOTSEC_E_INVALID_ARG; IOTSEC_E_BAD_KEY (does not parse, trailing bytes, RSA
 * modulus outside 2048–4096 or public exponent 1 or even, P-256 with explicit parameters,
 * an Ed25519 point of small order or with a non-canonical y ≥ p); IOTSEC_E_UNSUPPORTED (algorithm not in this
 * backend); IOTSEC_E_NO_MEMORY; IOTSEC_E_BACKEND. */
IOTSEC_API int iotsec_pubkey_load(iotsec_pubkey *pk, const iotsec_crypto *crypto,
                                  const uint8_t *der, size_t der_len);
/* Load a raw 32-byte Ed25519 public key (RFC 8032 §5.1.5 encoding). */
IOTSEC_API int iotsec_pubkey_load_ed25519_raw(iotsec_pubkey *pk, const iotsec_crypto *crypto,
                                              const uint8_t raw[32]);
IOTSEC_API void iotsec_pubkey_free(iotsec_pubkey *pk);

/* Load a private key from DER PKCS#8 PrivateKeyInfo (RFC 5208 / RFC 5958; Ed25519 per
 * RFC 8410). Errors as iotsec_pubkey_load. */
IOTSEC_API int iotsec_privkey_load(iotsec_privkey *sk, const iotsec_crypto *crypto,
                                   const uint8_t *der, size_t der_len);
/* Load an Ed25519 private key from its 32-byte seed (RFC 8032 §5.1.5). */
IOTSEC_API int iotsec_privkey_load_ed25519_seed(iotsec_privkey *sk,
                                                const iotsec_crypto *crypto,
                                                const uint8_t seed[32]);
/* Write the canonical SPKI DER of the matching public key (≤ IOTSEC_SPKI_MAX_LEN bytes).
 * Errors: IOTSEC_E_INVALID_ARG, IOTSEC_E_BUFFER_TOO_SMALL, IOTSEC_E_BACKEND. */
IOTSEC_API int iotsec_privkey_public_spki(const iotsec_privkey *sk, uint8_t *spki,
                                          size_t spki_cap, size_t *spki_len);
/* The key id (SHA-256 of the canonical SPKI DER, first 8 bytes) of the matching public key. */
IOTSEC_API int iotsec_privkey_key_id(const iotsec_privkey *sk,
                                     uint8_t key_id[IOTSEC_KEY_ID_LEN]);
IOTSEC_API void iotsec_privkey_free(iotsec_privkey *sk);

/* Verify sig over msg. Returns IOTSEC_OK only for a valid signature; IOTSEC_E_BAD_SIGNATURE
 * for an invalid one, an empty one or one of the wrong length; IOTSEC_E_INVALID_ARG,
 * IOTSEC_E_BACKEND otherwise. ECDSA has no low-S rule (both forms verify); RSA-PSS accepts
 * any salt length. */
IOTSEC_API IOTSEC_MUST_CHECK int iotsec_verify(const iotsec_pubkey *pk, const uint8_t *msg,
                                               size_t msg_len, const uint8_t *sig,
                                               size_t sig_len);
/* Sign msg into sig (capacity sig_cap ≥ sk->sig_len); writes the length to *sig_len.
 * Errors: IOTSEC_E_INVALID_ARG, IOTSEC_E_BUFFER_TOO_SMALL, IOTSEC_E_UNSUPPORTED,
 * IOTSEC_E_BACKEND. */
IOTSEC_API int iotsec_sign(const iotsec_privkey *sk, const uint8_t *msg, size_t msg_len,
                           uint8_t *sig, size_t sig_cap, size_t *sig_len);

/* Fill out with len bytes from the backend's CSPRNG. Errors: IOTSEC_E_INVALID_ARG,
 * IOTSEC_E_UNSUPPORTED, IOTSEC_E_BACKEND. */
IOTSEC_API int iotsec_random(const iotsec_crypto *crypto, uint8_t *out, size_t len);

#ifdef __cplusplus
}
#endif

#endif
