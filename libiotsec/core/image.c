/*
 * libiotsec — streaming firmware image verification and encryption (include/iotsec/image.h,
 * docs/DESIGN.md §6).
 *
 * Bounded RAM: the context holds two SHA-256 states, one AES-CBC state, at most 15 bytes of
 * an incomplete ciphertext block and one held-back plaintext block, whatever the image size.
 * On the encrypted path every failure is the single IOTSEC_E_DIGEST_MISMATCH, and the
 * payload digest is compared before the padding is looked at, so a tampered ciphertext can
 * never be told apart by its padding (no padding oracle).
 */
#include "iotsec/image.h"

#include <string.h>

#include "iotsec/error.h"
#include "iotsec/util.h"

enum { ST_IDLE = 0, ST_RUNNING = 1, ST_FAILED = 2 };

#define BLK IOTSEC_AES_BLOCK_LEN

int iotsec_fw_key_id(const iotsec_crypto *crypto, const uint8_t key[IOTSEC_FW_KEY_LEN],
                     uint8_t key_id[IOTSEC_KEY_ID_LEN])
{
    uint8_t digest[IOTSEC_SHA256_LEN];
    int rc;

    if (crypto == NULL || key == NULL || key_id == NULL)
        return IOTSEC_E_INVALID_ARG;
    rc = iotsec_sha256(crypto, key, IOTSEC_FW_KEY_LEN, digest);
    if (rc == IOTSEC_OK)
        memcpy(key_id, digest, IOTSEC_KEY_ID_LEN);
    return rc;
}

/* Release the backend state of a context's two hashes and its cipher (each cleanup is
 * harmless on a zeroed sub-context). */
static void release(iotsec_sha256_ctx *a, iotsec_sha256_ctx *b, iotsec_aes_cbc_ctx *aes)
{
    iotsec_sha256_cleanup(a);
    iotsec_sha256_cleanup(b);
    iotsec_aes_cbc_cleanup(aes);
}

/* Move input bytes into an incomplete block (*partial_len of 0–15 bytes held); advances
 * *in and *in_len. Returns 1 when the block is complete (then *partial_len is 16). */
static int fill_partial(uint8_t partial[BLK], uint8_t *partial_len, const uint8_t **in,
                        size_t *in_len)
{
    size_t n = BLK - *partial_len;

    if (n > *in_len)
        n = *in_len;
    memcpy(partial + *partial_len, *in, n);
    *partial_len = (uint8_t)(*partial_len + n);
    *in += n;
    *in_len -= n;
    return *partial_len == BLK;
}

/* ---- verification ---------------------------------------------------------------------------- */

void iotsec_image_verify_cleanup(iotsec_image_verify_ctx *ctx)
{
    if (ctx == NULL)
        return;
    release(&ctx->image_hash, &ctx->payload_hash, &ctx->aes);
    iotsec_zeroize(ctx, sizeof *ctx);
}

/* Common start: copy the plaintext expectations, start the plaintext hash. */
static int verify_start(iotsec_image_verify_ctx *ctx, const iotsec_crypto *crypto,
                        const iotsec_manifest *m)
{
    memset(ctx, 0, sizeof *ctx);
    if (crypto == NULL || m == NULL)
        return IOTSEC_E_INVALID_ARG;
    if (m->verified != 1 || m->f.image_digest == NULL)
        return IOTSEC_E_STATE;
    ctx->crypto = crypto;
    ctx->image_size = m->f.image_size;
    ctx->expect_size = m->f.image_size;
    memcpy(ctx->image_digest, m->f.image_digest, IOTSEC_SHA256_LEN);
    return iotsec_sha256_init(&ctx->image_hash, crypto);
}

/* Common end of the inits: running after rc == IOTSEC_OK, else zeroed. */
static int verify_ready(iotsec_image_verify_ctx *ctx, int rc)
{
    if (rc != IOTSEC_OK) {
        iotsec_image_verify_cleanup(ctx);
        return rc;
    }
    ctx->state = ST_RUNNING;
    return IOTSEC_OK;
}

int iotsec_image_verify_init_plaintext(iotsec_image_verify_ctx *ctx, const iotsec_crypto *crypto,
                                       const iotsec_manifest *m)
{
    if (ctx == NULL)
        return IOTSEC_E_INVALID_ARG;
    return verify_ready(ctx, verify_start(ctx, crypto, m));
}

int iotsec_image_verify_init_transfer(iotsec_image_verify_ctx *ctx, const iotsec_crypto *crypto,
                                      const iotsec_manifest *m)
{
    int rc;

    if (ctx == NULL)
        return IOTSEC_E_INVALID_ARG;
    rc = verify_start(ctx, crypto, m);
    if (rc == IOTSEC_OK && (m->f.present & IOTSEC_MF_ENCRYPTION)) {
        /* the plain path over the transferred bytes: expect the transferred size and digest
         * in the place of the plaintext's */
        if (m->f.payload_digest == NULL) {
            rc = IOTSEC_E_STATE; /* the verifier never leaves it NULL; belt and braces */
        } else {
            ctx->image_size = m->f.payload_size;
            ctx->expect_size = m->f.payload_size;
            memcpy(ctx->image_digest, m->f.payload_digest, IOTSEC_SHA256_LEN);
        }
    }
    return verify_ready(ctx, rc);
}

int iotsec_image_verify_init(iotsec_image_verify_ctx *ctx, const iotsec_crypto *crypto,
                             const iotsec_manifest *m, const uint8_t *fw_key, size_t fw_key_len)
{
    uint8_t key_id[IOTSEC_KEY_ID_LEN];
    int rc;

    if (ctx == NULL)
        return IOTSEC_E_INVALID_ARG;
    rc = verify_start(ctx, crypto, m);
    if (rc == IOTSEC_OK && !(m->f.present & IOTSEC_MF_ENCRYPTION) && fw_key != NULL)
        rc = IOTSEC_E_POLICY; /* a plaintext image where an encrypted one is expected */
    if (rc == IOTSEC_OK && (m->f.present & IOTSEC_MF_ENCRYPTION)) {
        if (fw_key == NULL)
            rc = IOTSEC_E_UNKNOWN_KEY;
        else if (fw_key_len != IOTSEC_FW_KEY_LEN)
            rc = IOTSEC_E_BAD_KEY;
        else if (m->f.enc_alg != IOTSEC_ENC_AES256_CBC)
            rc = IOTSEC_E_UNSUPPORTED; /* the verifier refuses these; belt and braces */
        if (rc == IOTSEC_OK)
            rc = iotsec_fw_key_id(crypto, fw_key, key_id);
        if (rc == IOTSEC_OK &&
            iotsec_ct_compare(key_id, m->f.enc_key_id, IOTSEC_KEY_ID_LEN) != 0)
            rc = IOTSEC_E_UNKNOWN_KEY;
        if (rc == IOTSEC_OK)
            rc = iotsec_aes_cbc_init(&ctx->aes, crypto, IOTSEC_DECRYPT, fw_key, fw_key_len,
                                     m->f.enc_iv);
        if (rc == IOTSEC_OK)
            rc = iotsec_sha256_init(&ctx->payload_hash, crypto);
        if (rc == IOTSEC_OK) {
            ctx->encrypted = 1;
            ctx->expect_size = m->f.payload_size;
            memcpy(ctx->payload_digest, m->f.payload_digest, IOTSEC_SHA256_LEN);
        }
    }
    return verify_ready(ctx, rc);
}

/* Make the context fail for good with err (uniform on the encrypted path). */
static int verify_fail(iotsec_image_verify_ctx *ctx, int err)
{
    if (ctx->encrypted)
        err = IOTSEC_E_DIGEST_MISMATCH;
    release(&ctx->image_hash, &ctx->payload_hash, &ctx->aes);
    iotsec_zeroize(ctx->held, sizeof ctx->held);
    iotsec_zeroize(ctx->partial, sizeof ctx->partial);
    ctx->state = ST_FAILED;
    ctx->err = err;
    return err;
}

/* Bytes an encrypted update of in_len bytes releases: every completed block but the last. */
static size_t decrypt_release(const iotsec_image_verify_ctx *ctx, size_t in_len)
{
    /* completed blocks, written so that no sum can overflow */
    size_t blocks = in_len / BLK + ((size_t)ctx->partial_len + in_len % BLK) / BLK +
                    (ctx->have_held ? 1u : 0u);

    return blocks > 0 ? (blocks - 1u) * BLK : 0;
}

static int decrypt_update(iotsec_image_verify_ctx *ctx, const uint8_t *in, size_t in_len,
                          uint8_t *out, size_t *out_len)
{
    uint8_t block[BLK];
    size_t o = 0, n;
    int rc = IOTSEC_OK;

    *out_len = 0;
    /* complete the partial block first */
    if (ctx->partial_len > 0) {
        if (!fill_partial(ctx->partial, &ctx->partial_len, &in, &in_len))
            return IOTSEC_OK;
        rc = iotsec_aes_cbc_update(&ctx->aes, ctx->partial, block, BLK);
        if (rc != IOTSEC_OK)
            goto done;
        ctx->partial_len = 0;
        if (ctx->have_held) {
            memcpy(out, ctx->held, BLK);
            o = BLK;
        }
        memcpy(ctx->held, block, BLK);
        ctx->have_held = 1;
    }
    /* whole blocks straight from the input into the output, after the held block; the
     * newest block is decrypted into `held` (it waits for final), so nothing is ever written
     * past the bytes released */
    n = in_len / BLK * BLK;
    if (n > 0) {
        if (ctx->have_held) {
            memcpy(out + o, ctx->held, BLK);
            o += BLK;
        }
        if (n > BLK) {
            rc = iotsec_aes_cbc_update(&ctx->aes, in, out + o, n - BLK);
            if (rc != IOTSEC_OK)
                goto done;
            o += n - BLK;
        }
        rc = iotsec_aes_cbc_update(&ctx->aes, in + n - BLK, ctx->held, BLK);
        if (rc != IOTSEC_OK)
            goto done;
        ctx->have_held = 1;
        in += n;
        in_len -= n;
    }
    if (in_len > 0) {
        memcpy(ctx->partial, in, in_len);
        ctx->partial_len = (uint8_t)in_len;
    }
    *out_len = o;
done:
    /* plaintext never stays on the stack, on success or failure (the context fails for good
     * on an error and verify_fail wipes it) */
    iotsec_zeroize(block, sizeof block);
    return rc;
}

int iotsec_image_verify_update(iotsec_image_verify_ctx *ctx, const uint8_t *in, size_t in_len,
                               uint8_t *out, size_t out_cap, size_t *out_len)
{
    size_t produced = 0;
    int rc;

    if (ctx == NULL || (in == NULL && in_len != 0) || (out != NULL && out_len == NULL))
        return IOTSEC_E_INVALID_ARG;
    if (out_len != NULL)
        *out_len = 0;
    if (ctx->state == ST_FAILED)
        return ctx->err;
    if (ctx->state != ST_RUNNING)
        return IOTSEC_E_STATE;
    if (ctx->encrypted && (out == NULL || out_len == NULL))
        return IOTSEC_E_INVALID_ARG;
    /* argument checks that leave the context usable come before any state change */
    if (ctx->encrypted ? out_cap < decrypt_release(ctx, in_len) : (out != NULL && out_cap < in_len))
        return IOTSEC_E_BUFFER_TOO_SMALL;

    /* the first byte beyond the signed size fails at once (overflow-safe form) */
    if (in_len > ctx->expect_size - ctx->received)
        return verify_fail(ctx, IOTSEC_E_DIGEST_MISMATCH);
    if (in_len == 0)
        return IOTSEC_OK;
    ctx->received += in_len;

    if (!ctx->encrypted) {
        rc = iotsec_sha256_update(&ctx->image_hash, in, in_len);
        if (rc != IOTSEC_OK)
            return verify_fail(ctx, rc);
        if (out != NULL) {
            memcpy(out, in, in_len);
            produced = in_len;
        }
    } else {
        rc = iotsec_sha256_update(&ctx->payload_hash, in, in_len);
        if (rc == IOTSEC_OK)
            rc = decrypt_update(ctx, in, in_len, out, &produced);
        if (rc == IOTSEC_OK)
            rc = iotsec_sha256_update(&ctx->image_hash, out, produced);
        if (rc != IOTSEC_OK)
            return verify_fail(ctx, rc);
        ctx->produced += produced;
    }
    if (out_len != NULL)
        *out_len = produced;
    return IOTSEC_OK;
}

/* PKCS#7 padding length of the last block in constant time: returns pad (1–16) and sets *ok
 * to 0 or 1 without a branch on secret data. */
static size_t pkcs7_pad_ct(const uint8_t last[BLK], unsigned *ok)
{
    unsigned pad = last[BLK - 1u];
    unsigned good, bad = 0, i;

    /* good = 1 when 1 ≤ pad ≤ 16 */
    good = ((pad - 1u) >> 8 & 1u) ^ 1u;       /* pad ≥ 1 */
    good &= ((16u - pad) >> 8 & 1u) ^ 1u;     /* pad ≤ 16 */
    for (i = 0; i < BLK; i++) {
        /* in_pad = 1 when i ≥ BLK − pad */
        unsigned in_pad = ((i - (BLK - pad)) >> 8 & 1u) ^ 1u;
        bad |= in_pad & (unsigned)((last[i] ^ pad) != 0);
    }
    *ok = good & (bad ^ 1u);
    return pad;
}

int iotsec_image_verify_final(iotsec_image_verify_ctx *ctx, uint8_t *out, size_t out_cap,
                              size_t *out_len)
{
    uint8_t digest[IOTSEC_SHA256_LEN];
    int rc;

    if (ctx == NULL || (out != NULL && out_len == NULL))
        return IOTSEC_E_INVALID_ARG;
    if (out_len != NULL)
        *out_len = 0;
    if (ctx->state == ST_FAILED) {
        rc = ctx->err;
        iotsec_image_verify_cleanup(ctx);
        return rc;
    }
    if (ctx->state != ST_RUNNING)
        return IOTSEC_E_STATE;

    if (!ctx->encrypted) {
        rc = ctx->received == ctx->expect_size ? IOTSEC_OK : IOTSEC_E_DIGEST_MISMATCH;
        if (rc == IOTSEC_OK)
            rc = iotsec_sha256_final(&ctx->image_hash, digest);
        if (rc == IOTSEC_OK && iotsec_ct_compare(digest, ctx->image_digest, sizeof digest) != 0)
            rc = IOTSEC_E_DIGEST_MISMATCH;
    } else {
        unsigned pad_ok = 0;
        size_t pad, tail = 0;

        if (out == NULL)
            return IOTSEC_E_INVALID_ARG;
        if (out_cap < BLK)
            return IOTSEC_E_BUFFER_TOO_SMALL;
        /* 1. transferred size, 2. payload digest: authenticates the ciphertext */
        rc = ctx->received == ctx->expect_size && ctx->partial_len == 0 && ctx->have_held
                 ? IOTSEC_OK
                 : IOTSEC_E_DIGEST_MISMATCH;
        if (rc == IOTSEC_OK)
            rc = iotsec_sha256_final(&ctx->payload_hash, digest);
        if (rc == IOTSEC_OK &&
            iotsec_ct_compare(digest, ctx->payload_digest, sizeof digest) != 0)
            rc = IOTSEC_E_DIGEST_MISMATCH;
        /* 3. padding (constant time), 4. plaintext size, 5. plaintext digest */
        if (rc == IOTSEC_OK) {
            pad = pkcs7_pad_ct(ctx->held, &pad_ok);
            if (!pad_ok)
                rc = IOTSEC_E_DIGEST_MISMATCH;
            else
                tail = BLK - pad;
        }
        if (rc == IOTSEC_OK && ctx->produced + tail != ctx->image_size)
            rc = IOTSEC_E_DIGEST_MISMATCH;
        if (rc == IOTSEC_OK)
            rc = iotsec_sha256_update(&ctx->image_hash, ctx->held, tail);
        if (rc == IOTSEC_OK)
            rc = iotsec_sha256_final(&ctx->image_hash, digest);
        if (rc == IOTSEC_OK && iotsec_ct_compare(digest, ctx->image_digest, sizeof digest) != 0)
            rc = IOTSEC_E_DIGEST_MISMATCH;
        if (rc != IOTSEC_OK) {
            rc = IOTSEC_E_DIGEST_MISMATCH; /* one uniform error: no padding oracle */
        } else {
            memcpy(out, ctx->held, tail);
            *out_len = tail;
        }
    }
    iotsec_zeroize(digest, sizeof digest);
    iotsec_image_verify_cleanup(ctx);
    return rc;
}

/* ---- encryption (signer side) ------------------------------------------------------------------ */

void iotsec_image_encrypt_cleanup(iotsec_image_encrypt_ctx *ctx)
{
    if (ctx == NULL)
        return;
    release(&ctx->image_hash, &ctx->payload_hash, &ctx->aes);
    iotsec_zeroize(ctx, sizeof *ctx);
}

int iotsec_image_encrypt_init(iotsec_image_encrypt_ctx *ctx, const iotsec_crypto *crypto,
                              const uint8_t key[IOTSEC_FW_KEY_LEN],
                              const uint8_t iv[IOTSEC_AES_BLOCK_LEN])
{
    int rc;

    if (ctx == NULL)
        return IOTSEC_E_INVALID_ARG;
    memset(ctx, 0, sizeof *ctx);
    if (crypto == NULL || key == NULL || iv == NULL)
        return IOTSEC_E_INVALID_ARG;
    ctx->crypto = crypto;
    rc = iotsec_aes_cbc_init(&ctx->aes, crypto, IOTSEC_ENCRYPT, key, IOTSEC_FW_KEY_LEN, iv);
    if (rc == IOTSEC_OK)
        rc = iotsec_fw_key_id(crypto, key, ctx->key_id);
    if (rc == IOTSEC_OK)
        rc = iotsec_sha256_init(&ctx->image_hash, crypto);
    if (rc == IOTSEC_OK)
        rc = iotsec_sha256_init(&ctx->payload_hash, crypto);
    if (rc != IOTSEC_OK) {
        iotsec_image_encrypt_cleanup(ctx);
        return rc;
    }
    memcpy(ctx->iv, iv, BLK);
    ctx->state = ST_RUNNING;
    return IOTSEC_OK;
}

int iotsec_image_encrypt_update(iotsec_image_encrypt_ctx *ctx, const uint8_t *in, size_t in_len,
                                uint8_t *out, size_t out_cap, size_t *out_len)
{
    size_t o = 0, n, need;
    int rc;

    if (ctx == NULL || (in == NULL && in_len != 0) || out_len == NULL)
        return IOTSEC_E_INVALID_ARG;
    *out_len = 0;
    if (ctx->state != ST_RUNNING)
        return IOTSEC_E_STATE;
    /* the second test keeps `need` below from wrapping where size_t is 32 bits */
    if (in_len > IOTSEC_MANIFEST_IMAGE_MAX - ctx->image_size || in_len > SIZE_MAX - BLK)
        return IOTSEC_E_BAD_LENGTH;
    need = (in_len / BLK + ((size_t)ctx->partial_len + in_len % BLK) / BLK) * BLK;
    if (need > 0 && out == NULL)
        return IOTSEC_E_INVALID_ARG;
    if (out_cap < need)
        return IOTSEC_E_BUFFER_TOO_SMALL;
    if (in_len == 0)
        return IOTSEC_OK;

    rc = iotsec_sha256_update(&ctx->image_hash, in, in_len);
    ctx->image_size += in_len;
    if (rc == IOTSEC_OK && ctx->partial_len > 0) {
        if (fill_partial(ctx->partial, &ctx->partial_len, &in, &in_len)) {
            rc = iotsec_aes_cbc_update(&ctx->aes, ctx->partial, out, BLK);
            o = BLK;
            ctx->partial_len = 0;
        }
    }
    n = in_len / BLK * BLK;
    if (rc == IOTSEC_OK && n > 0) {
        rc = iotsec_aes_cbc_update(&ctx->aes, in, out + o, n);
        o += n;
        in += n;
        in_len -= n;
    }
    if (rc == IOTSEC_OK && in_len > 0) {
        memcpy(ctx->partial, in, in_len);
        ctx->partial_len = (uint8_t)in_len;
    }
    if (rc == IOTSEC_OK)
        rc = iotsec_sha256_update(&ctx->payload_hash, out, o);
    if (rc != IOTSEC_OK) {
        iotsec_image_encrypt_cleanup(ctx);
        return rc;
    }
    ctx->payload_size += o;
    *out_len = o;
    return IOTSEC_OK;
}

int iotsec_image_encrypt_final(iotsec_image_encrypt_ctx *ctx, uint8_t *out, size_t out_cap,
                               size_t *out_len, iotsec_image_encrypt_result *result)
{
    uint8_t block[BLK];
    uint8_t pad;
    int rc;

    if (ctx == NULL || out == NULL || out_len == NULL || result == NULL)
        return IOTSEC_E_INVALID_ARG;
    *out_len = 0;
    if (ctx->state != ST_RUNNING)
        return IOTSEC_E_STATE;
    if (out_cap < BLK)
        return IOTSEC_E_BUFFER_TOO_SMALL;
    if (ctx->image_size == 0) {
        iotsec_image_encrypt_cleanup(ctx);
        return IOTSEC_E_BAD_VALUE;
    }
    memset(result, 0, sizeof *result);
    pad = (uint8_t)(BLK - ctx->partial_len); /* PKCS#7: 1–16 bytes, each the pad length */
    memcpy(block, ctx->partial, ctx->partial_len);
    memset(block + ctx->partial_len, pad, pad);
    rc = iotsec_aes_cbc_update(&ctx->aes, block, out, BLK);
    if (rc == IOTSEC_OK)
        rc = iotsec_sha256_update(&ctx->payload_hash, out, BLK);
    if (rc == IOTSEC_OK)
        rc = iotsec_sha256_final(&ctx->payload_hash, result->payload_digest);
    if (rc == IOTSEC_OK)
        rc = iotsec_sha256_final(&ctx->image_hash, result->image_digest);
    if (rc == IOTSEC_OK) {
        result->image_size = ctx->image_size;
        result->payload_size = ctx->payload_size + BLK;
        memcpy(result->key_id, ctx->key_id, IOTSEC_KEY_ID_LEN);
        memcpy(result->iv, ctx->iv, BLK);
        *out_len = BLK;
    } else {
        memset(result, 0, sizeof *result);
        iotsec_zeroize(out, BLK);
    }
    iotsec_zeroize(block, sizeof block);
    iotsec_image_encrypt_cleanup(ctx);
    return rc;
}
