/* Check suite: streaming firmware image verification and encryption (docs/DESIGN.md §6) — the
 * NIST SP 800-38A AES-256-CBC known answer through the encrypt helper, plain and encrypted
 * images in chunks of 1, 15, 16, 17, 2048 and 65536 bytes, one byte short / long / changed,
 * wrong key, tampered ciphertext and signer-side padding faults all giving the one uniform
 * error, sticky failure, buffer capacities, the libsodium backend's UNSUPPORTED, and the
 * transfer-only check (no key: payload_size / payload_digest) with its limits. */
#include <stdlib.h>
#include <string.h>

#include "fixture_manifest.h"
#include "testutil.h"

static const size_t chunk_sizes[] = {1, 15, 16, 17, 2048, 65536};
#define N_CHUNKS (sizeof chunk_sizes / sizeof chunk_sizes[0])

/* NIST SP 800-38A F.2.5 CBC-AES256.Encrypt */
static const char nist_key_hex[] =
    "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4";
static const char nist_iv_hex[] = "000102030405060708090a0b0c0d0e0f";
static const char nist_pt_hex[] = "6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51"
                                  "30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710";
static const char nist_ct_hex[] = "f58c4c04d6e5f1ba779eabfb5f7bfbd6 9cfc4e967edb808d679f777bc6702c7d"
                                  "39f23369a9d9bacfa530e26304231461 b2eb05e2c39be9fcda6c19078c6a9d1b";

/* A signed and verified manifest for one image. */
typedef struct signed_image {
    iotsec_privkey sk;
    iotsec_pubkey pk;
    iotsec_trust_store ts;
    uint8_t mbuf[IOTSEC_MANIFEST_MAX_LEN];
    size_t mlen;
    iotsec_manifest m;
    uint8_t *payload; /* encrypted: the ciphertext (malloc'd) */
    size_t payload_len;
    uint8_t key[32];
} signed_image;

static void si_keys(signed_image *si, const iotsec_crypto *c)
{
    memset(si, 0, sizeof *si);
    ck_assert_int_eq(fx_load_key(c, FX_ED25519_1, &si->sk, &si->pk), IOTSEC_OK);
    ck_assert_int_eq(iotsec_trust_store_init(&si->ts, &si->pk, 1), IOTSEC_OK);
}

static void si_sign(signed_image *si, const iotsec_manifest_fields *f)
{
    ck_assert_int_eq(iotsec_manifest_sign(f, &si->sk, si->mbuf, sizeof si->mbuf, &si->mlen),
                     IOTSEC_OK);
    ck_assert_int_eq(iotsec_manifest_verify(&si->ts, si->mbuf, si->mlen, &si->m), IOTSEC_OK);
}

/* Sign a manifest for img[0..n) as a plain image. */
static void si_plain(signed_image *si, const iotsec_crypto *c, const uint8_t *img, size_t n)
{
    iotsec_manifest_fields f;
    fx_storage st;

    si_keys(si, c);
    fx_fields_minimal(&f, &st);
    f.image_size = n;
    ck_assert_int_eq(iotsec_sha256(c, img, n, st.image_digest), IOTSEC_OK);
    si_sign(si, &f);
}

/* Encrypt img[0..n) with the openssl backend (libsodium has no AES) in 1000-byte steps,
 * and sign the manifest of the encrypted payload. */
static void si_encrypted(signed_image *si, const iotsec_crypto *c, const uint8_t *img, size_t n)
{
    const iotsec_crypto *o = iotsec_crypto_openssl();
    iotsec_image_encrypt_ctx ec;
    iotsec_image_encrypt_result r;
    iotsec_manifest_fields f;
    fx_storage st;
    uint8_t iv[16];
    size_t off = 0, got = 0;

    ck_assert_ptr_nonnull(o);
    si_keys(si, c);
    tu_pattern(si->key, sizeof si->key, (uint32_t)n);
    tu_pattern(iv, sizeof iv, (uint32_t)n + 1);
    si->payload = malloc(n + 16);
    ck_assert_int_eq(iotsec_image_encrypt_init(&ec, o, si->key, iv), IOTSEC_OK);
    while (off < n) {
        size_t step = n - off < 1000 ? n - off : 1000;
        ck_assert_int_eq(iotsec_image_encrypt_update(&ec, img + off, step, si->payload + si->payload_len,
                                                     n + 16 - si->payload_len, &got),
                         IOTSEC_OK);
        si->payload_len += got;
        off += step;
    }
    ck_assert_int_eq(iotsec_image_encrypt_final(&ec, si->payload + si->payload_len,
                                                n + 16 - si->payload_len, &got, &r),
                     IOTSEC_OK);
    si->payload_len += got;
    ck_assert_uint_eq(si->payload_len, (n / 16 + 1) * 16);
    ck_assert_uint_eq(r.payload_size, si->payload_len);
    ck_assert_uint_eq(r.image_size, n);

    fx_fields_minimal(&f, &st);
    f.present = IOTSEC_MF_ENCRYPTION;
    f.image_size = r.image_size;
    memcpy(st.image_digest, r.image_digest, 32);
    f.enc_alg = IOTSEC_ENC_AES256_CBC;
    memcpy(st.enc_key_id, r.key_id, 8);
    memcpy(st.enc_iv, r.iv, 16);
    f.enc_key_id = st.enc_key_id;
    f.enc_iv = st.enc_iv;
    f.payload_size = r.payload_size;
    memcpy(st.payload_digest, r.payload_digest, 32);
    f.payload_digest = st.payload_digest;
    si_sign(si, &f);
}

static void si_free(signed_image *si)
{
    iotsec_privkey_free(&si->sk);
    iotsec_pubkey_free(&si->pk);
    free(si->payload);
}

/* Feed data[0..n) in chunks of `chunk` bytes; the released plaintext is appended to
 * *acc (capacity acc_cap) when acc is not NULL. Returns the first error, or the result of
 * final. */
static int feed(iotsec_image_verify_ctx *ctx, const uint8_t *data, size_t n, size_t chunk,
                uint8_t *acc, size_t acc_cap, size_t *acc_len, int copy)
{
    uint8_t *out = malloc(IOTSEC_IMAGE_OUT_MAX(chunk));
    size_t off = 0, got = 0;
    int rc = IOTSEC_OK;

    ck_assert_ptr_nonnull(out);
    if (acc_len)
        *acc_len = 0;
    while (off < n && rc == IOTSEC_OK) {
        size_t step = n - off < chunk ? n - off : chunk;
        rc = iotsec_image_verify_update(ctx, data + off, step, copy ? out : NULL,
                                        IOTSEC_IMAGE_OUT_MAX(chunk), &got);
        if (rc == IOTSEC_OK) {
            ck_assert(got <= step + 15);
            if (acc != NULL) {
                ck_assert(*acc_len + got <= acc_cap);
                memcpy(acc + *acc_len, out, got);
                *acc_len += got;
            }
        }
        off += step;
    }
    if (rc == IOTSEC_OK) {
        rc = iotsec_image_verify_final(ctx, copy ? out : NULL, IOTSEC_IMAGE_OUT_MAX(chunk), &got);
        if (rc == IOTSEC_OK && acc != NULL) {
            ck_assert(*acc_len + got <= acc_cap);
            memcpy(acc + *acc_len, out, got);
            *acc_len += got;
        }
    } else {
        iotsec_image_verify_cleanup(ctx);
    }
    free(out);
    return rc;
}

/* ---- encryption helper: known answer ------------------------------------------------------- */

START_TEST(test_encrypt_nist_kat)
{
    const iotsec_crypto *c = tu_backend(_i);
    size_t kl, il, pl, cl, got = 0, total = 0, i;
    uint8_t *key = tu_hex(nist_key_hex, &kl), *iv = tu_hex(nist_iv_hex, &il);
    uint8_t *pt = tu_hex(nist_pt_hex, &pl), *ct = tu_hex(nist_ct_hex, &cl);
    uint8_t out[96], digest[32], kid[32];
    iotsec_image_encrypt_ctx ec;
    iotsec_image_encrypt_result r;
    static const size_t steps[] = {1, 15, 17, 3, 28}; /* 64 bytes in odd pieces */

    if (!iotsec_crypto_has(c, IOTSEC_CAP_AES_CBC)) {
        ck_assert_int_eq(iotsec_image_encrypt_init(&ec, c, key, iv), IOTSEC_E_UNSUPPORTED);
        goto done;
    }
    ck_assert_int_eq(iotsec_image_encrypt_init(&ec, c, key, iv), IOTSEC_OK);
    for (i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        size_t off = 0, k;
        for (k = 0; k < i; k++)
            off += steps[k];
        ck_assert_int_eq(iotsec_image_encrypt_update(&ec, pt + off, steps[i], out + total,
                                                     sizeof out - total, &got), IOTSEC_OK);
        total += got;
    }
    ck_assert_uint_eq(total, 64);
    ck_assert(memcmp(out, ct, 64) == 0); /* SP 800-38A F.2.5 */
    ck_assert_int_eq(iotsec_image_encrypt_final(&ec, out + 64, 15, &got, &r),
                     IOTSEC_E_BUFFER_TOO_SMALL);
    ck_assert_int_eq(iotsec_image_encrypt_final(&ec, out + 64, 16, &got, &r), IOTSEC_OK);
    ck_assert_uint_eq(got, 16);
    ck_assert_uint_eq(r.image_size, 64);
    ck_assert_uint_eq(r.payload_size, 80);
    ck_assert_int_eq(iotsec_sha256(c, out, 80, digest), IOTSEC_OK);
    ck_assert(memcmp(digest, r.payload_digest, 32) == 0);
    ck_assert_int_eq(iotsec_sha256(c, pt, 64, digest), IOTSEC_OK);
    ck_assert(memcmp(digest, r.image_digest, 32) == 0);
    ck_assert_int_eq(iotsec_sha256(c, key, 32, kid), IOTSEC_OK);
    ck_assert(memcmp(kid, r.key_id, 8) == 0);
    ck_assert(memcmp(iv, r.iv, 16) == 0);
    /* the padding block is a whole block of 0x10: decrypting gives it back */
    {
        iotsec_aes_cbc_ctx a;
        uint8_t dec[80];
        ck_assert_int_eq(iotsec_aes_cbc_init(&a, c, IOTSEC_DECRYPT, key, 32, iv), IOTSEC_OK);
        ck_assert_int_eq(iotsec_aes_cbc_update(&a, out, dec, 80), IOTSEC_OK);
        iotsec_aes_cbc_cleanup(&a);
        for (i = 64; i < 80; i++)
            ck_assert_uint_eq(dec[i], 16);
    }
    /* finished: further calls are out of order */
    ck_assert_int_eq(iotsec_image_encrypt_update(&ec, pt, 16, out, sizeof out, &got),
                     IOTSEC_E_STATE);
    ck_assert_int_eq(iotsec_image_encrypt_final(&ec, out, sizeof out, &got, &r), IOTSEC_E_STATE);

    /* capacities and misuse; an empty image cannot be signed */
    ck_assert_int_eq(iotsec_image_encrypt_init(&ec, c, key, iv), IOTSEC_OK);
    ck_assert_int_eq(iotsec_image_encrypt_update(&ec, pt, 15, NULL, 0, &got), IOTSEC_OK);
    ck_assert_uint_eq(got, 0);
    ck_assert_int_eq(iotsec_image_encrypt_update(&ec, pt + 15, 17, out, 31, &got),
                     IOTSEC_E_BUFFER_TOO_SMALL);
    ck_assert_int_eq(iotsec_image_encrypt_update(&ec, pt + 15, 17, NULL, 0, &got),
                     IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_image_encrypt_update(&ec, pt + 15, 17, out, 32, &got), IOTSEC_OK);
    ck_assert_uint_eq(got, 32);
    ck_assert(memcmp(out, ct, 32) == 0);
    iotsec_image_encrypt_cleanup(&ec);
    ck_assert_int_eq(iotsec_image_encrypt_init(&ec, c, key, iv), IOTSEC_OK);
    ck_assert_int_eq(iotsec_image_encrypt_final(&ec, out, sizeof out, &got, &r), IOTSEC_E_BAD_VALUE);
    ck_assert_int_eq(iotsec_image_encrypt_init(&ec, c, NULL, iv), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_image_encrypt_init(NULL, c, key, iv), IOTSEC_E_INVALID_ARG);
done:
    ck_assert_int_eq(iotsec_fw_key_id(c, key, kid), IOTSEC_OK);
    ck_assert_int_eq(iotsec_fw_key_id(NULL, key, kid), IOTSEC_E_INVALID_ARG);
    free(key);
    free(iv);
    free(pt);
    free(ct);
}
END_TEST

/* ---- plain images -------------------------------------------------------------------------- */

START_TEST(test_plain_chunk_sizes)
{
    const iotsec_crypto *c = tu_backend(_i);
    const size_t n = 150001;
    uint8_t *img = malloc(n), *acc = malloc(n);
    iotsec_image_verify_ctx ctx;
    signed_image si;
    size_t i, acc_len = 0;

    tu_pattern(img, n, 7);
    si_plain(&si, c, img, n);
    for (i = 0; i < N_CHUNKS; i++) {
        ck_assert_int_eq(iotsec_image_verify_init(&ctx, c, &si.m, NULL, 0), IOTSEC_OK);
        ck_assert_msg(feed(&ctx, img, n, chunk_sizes[i], NULL, 0, NULL, 0) == IOTSEC_OK,
                      "chunk %zu", chunk_sizes[i]);
        /* with a copy into the caller's buffer */
        ck_assert_int_eq(iotsec_image_verify_init(&ctx, c, &si.m, NULL, 0), IOTSEC_OK);
        ck_assert_int_eq(feed(&ctx, img, n, chunk_sizes[i], acc, n, &acc_len, 1), IOTSEC_OK);
        ck_assert_uint_eq(acc_len, n);
        ck_assert(memcmp(acc, img, n) == 0);
    }
    /* the whole image in one call */
    ck_assert_int_eq(iotsec_image_verify_init(&ctx, c, &si.m, NULL, 0), IOTSEC_OK);
    ck_assert_int_eq(feed(&ctx, img, n, n, NULL, 0, NULL, 0), IOTSEC_OK);
    /* the plaintext check of a slot gives the same answer */
    ck_assert_int_eq(iotsec_image_verify_init_plaintext(&ctx, c, &si.m), IOTSEC_OK);
    ck_assert_int_eq(feed(&ctx, img, n, 4096, NULL, 0, NULL, 0), IOTSEC_OK);
    si_free(&si);
    free(img);
    free(acc);
}
END_TEST

START_TEST(test_plain_errors)
{
    const iotsec_crypto *c = tu_backend(_i);
    const size_t n = 5000;
    uint8_t img[5000 + 1], out[64];
    iotsec_image_verify_ctx ctx;
    iotsec_manifest unverified;
    signed_image si;
    size_t i, got = 0;
    static const size_t pos[] = {0, 2047, 2048, 4999};

    tu_pattern(img, sizeof img, 9);
    si_plain(&si, c, img, n);
    for (i = 0; i < N_CHUNKS; i++) {
        size_t k;
        /* one byte short */
        ck_assert_int_eq(iotsec_image_verify_init(&ctx, c, &si.m, NULL, 0), IOTSEC_OK);
        ck_assert_int_eq(feed(&ctx, img, n - 1, chunk_sizes[i], NULL, 0, NULL, 0),
                         IOTSEC_E_DIGEST_MISMATCH);
        /* one byte long: fails in the update that brings the extra byte */
        ck_assert_int_eq(iotsec_image_verify_init(&ctx, c, &si.m, NULL, 0), IOTSEC_OK);
        ck_assert_int_eq(feed(&ctx, img, n + 1, chunk_sizes[i], NULL, 0, NULL, 0),
                         IOTSEC_E_DIGEST_MISMATCH);
        /* one byte changed */
        for (k = 0; k < sizeof pos / sizeof pos[0]; k++) {
            img[pos[k]] ^= 0x40;
            ck_assert_int_eq(iotsec_image_verify_init(&ctx, c, &si.m, NULL, 0), IOTSEC_OK);
            ck_assert_int_eq(feed(&ctx, img, n, chunk_sizes[i], NULL, 0, NULL, 0),
                             IOTSEC_E_DIGEST_MISMATCH);
            img[pos[k]] ^= 0x40;
        }
    }
    /* the extra byte fails at once, and the failure is sticky */
    ck_assert_int_eq(iotsec_image_verify_init(&ctx, c, &si.m, NULL, 0), IOTSEC_OK);
    ck_assert_int_eq(iotsec_image_verify_update(&ctx, img, n, NULL, 0, NULL), IOTSEC_OK);
    ck_assert_int_eq(iotsec_image_verify_update(&ctx, img, 1, NULL, 0, NULL),
                     IOTSEC_E_DIGEST_MISMATCH);
    ck_assert_int_eq(iotsec_image_verify_update(&ctx, img, 0, NULL, 0, NULL),
                     IOTSEC_E_DIGEST_MISMATCH);
    ck_assert_int_eq(iotsec_image_verify_final(&ctx, NULL, 0, NULL), IOTSEC_E_DIGEST_MISMATCH);
    ck_assert_int_eq(iotsec_image_verify_update(&ctx, img, 1, NULL, 0, NULL), IOTSEC_E_STATE);
    ck_assert_int_eq(iotsec_image_verify_final(&ctx, NULL, 0, NULL), IOTSEC_E_STATE);
    /* a chunk crossing the end is refused whole */
    ck_assert_int_eq(iotsec_image_verify_init(&ctx, c, &si.m, NULL, 0), IOTSEC_OK);
    ck_assert_int_eq(iotsec_image_verify_update(&ctx, img, n - 10, NULL, 0, NULL), IOTSEC_OK);
    ck_assert_int_eq(iotsec_image_verify_update(&ctx, img + n - 10, 11, NULL, 0, NULL),
                     IOTSEC_E_DIGEST_MISMATCH);
    iotsec_image_verify_cleanup(&ctx);

    /* a copy buffer too small: nothing consumed, the verification goes on */
    ck_assert_int_eq(iotsec_image_verify_init(&ctx, c, &si.m, NULL, 0), IOTSEC_OK);
    ck_assert_int_eq(iotsec_image_verify_update(&ctx, img, 65, out, sizeof out, &got),
                     IOTSEC_E_BUFFER_TOO_SMALL);
    ck_assert_int_eq(iotsec_image_verify_update(&ctx, img, 64, out, sizeof out, &got), IOTSEC_OK);
    ck_assert_uint_eq(got, 64);
    ck_assert_int_eq(iotsec_image_verify_update(&ctx, img + 64, n - 64, NULL, 0, NULL), IOTSEC_OK);
    ck_assert_int_eq(iotsec_image_verify_final(&ctx, NULL, 0, NULL), IOTSEC_OK);

    /* misuse */
    memset(&ctx, 0, sizeof ctx);
    ck_assert_int_eq(iotsec_image_verify_update(&ctx, img, 1, NULL, 0, NULL), IOTSEC_E_STATE);
    ck_assert_int_eq(iotsec_image_verify_final(&ctx, NULL, 0, NULL), IOTSEC_E_STATE);
    ck_assert_int_eq(iotsec_image_verify_update(&ctx, NULL, 1, NULL, 0, NULL),
                     IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_image_verify_update(&ctx, img, 1, out, sizeof out, NULL),
                     IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_image_verify_init(NULL, c, &si.m, NULL, 0), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_image_verify_init(&ctx, NULL, &si.m, NULL, 0), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_image_verify_init(&ctx, c, NULL, NULL, 0), IOTSEC_E_INVALID_ARG);
    /* a manifest that did not pass the signature check is refused */
    ck_assert_int_eq(iotsec_manifest_parse_unverified(si.mbuf, si.mlen, &unverified), IOTSEC_OK);
    ck_assert_int_eq(iotsec_image_verify_init(&ctx, c, &unverified, NULL, 0), IOTSEC_E_STATE);
    ck_assert_int_eq(iotsec_image_verify_init_plaintext(&ctx, c, &unverified), IOTSEC_E_STATE);
    /* a decryption key for a plaintext manifest: refused, not ignored */
    ck_assert_int_eq(iotsec_image_verify_init(&ctx, c, &si.m, si.key, 32), IOTSEC_E_POLICY);
    si_free(&si);
}
END_TEST

/* ---- encrypted payloads -------------------------------------------------------------------- */

START_TEST(test_encrypted_chunk_sizes)
{
    const iotsec_crypto *c = tu_backend(_i);
    static const size_t sizes[] = {1, 15, 16, 17, 100003};
    uint8_t *img = malloc(100003), *acc = malloc(100003 + 16);
    iotsec_image_verify_ctx ctx;
    size_t s, i, acc_len = 0;

    tu_pattern(img, 100003, 11);
    for (s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        signed_image si;
        si_encrypted(&si, c, img, sizes[s]);
        if (!iotsec_crypto_has(c, IOTSEC_CAP_AES_CBC)) {
            ck_assert_int_eq(iotsec_image_verify_init(&ctx, c, &si.m, si.key, 32),
                             IOTSEC_E_UNSUPPORTED);
            si_free(&si);
            continue;
        }
        for (i = 0; i < N_CHUNKS; i++) {
            ck_assert_int_eq(iotsec_image_verify_init(&ctx, c, &si.m, si.key, 32), IOTSEC_OK);
            ck_assert_msg(feed(&ctx, si.payload, si.payload_len, chunk_sizes[i], acc,
                               100003 + 16, &acc_len, 1) == IOTSEC_OK,
                          "size %zu chunk %zu", sizes[s], chunk_sizes[i]);
            ck_assert_uint_eq(acc_len, sizes[s]);
            ck_assert(memcmp(acc, img, sizes[s]) == 0);
        }
        /* the slot's plaintext re-checked at boot against the same manifest */
        ck_assert_int_eq(iotsec_image_verify_init_plaintext(&ctx, c, &si.m), IOTSEC_OK);
        ck_assert_int_eq(feed(&ctx, img, sizes[s], 2048, NULL, 0, NULL, 0), IOTSEC_OK);
        ck_assert_int_eq(iotsec_image_verify_init_plaintext(&ctx, c, &si.m), IOTSEC_OK);
        ck_assert_int_eq(feed(&ctx, si.payload, si.payload_len, 2048, NULL, 0, NULL, 0),
                         IOTSEC_E_DIGEST_MISMATCH);
        si_free(&si);
    }
    free(img);
    free(acc);
}
END_TEST

START_TEST(test_encrypted_errors)
{
    const iotsec_crypto *c = tu_backend(_i);
    const size_t n = 5000;
    uint8_t img[5000], key2[32], buf[256];
    iotsec_image_verify_ctx ctx;
    signed_image si;
    size_t i, got = 0;

    tu_pattern(img, n, 13);
    si_encrypted(&si, c, img, n);
    /* key errors come before the backend is asked for AES */
    memcpy(key2, si.key, 32);
    key2[31] ^= 1;
    ck_assert_int_eq(iotsec_image_verify_init(&ctx, c, &si.m, key2, 32), IOTSEC_E_UNKNOWN_KEY);
    ck_assert_int_eq(iotsec_image_verify_init(&ctx, c, &si.m, NULL, 0), IOTSEC_E_UNKNOWN_KEY);
    ck_assert_int_eq(iotsec_image_verify_init(&ctx, c, &si.m, si.key, 16), IOTSEC_E_BAD_KEY);
    if (!iotsec_crypto_has(c, IOTSEC_CAP_AES_CBC)) {
        ck_assert_int_eq(iotsec_image_verify_init(&ctx, c, &si.m, si.key, 32),
                         IOTSEC_E_UNSUPPORTED);
        si_free(&si);
        return;
    }
    for (i = 0; i < N_CHUNKS; i++) {
        static const size_t pos[] = {0, 15, 16, 2500, 4991, 4992, 5007}; /* last: padding */
        size_t k;
        /* one byte short: the payload, and a whole block short */
        ck_assert_int_eq(iotsec_image_verify_init(&ctx, c, &si.m, si.key, 32), IOTSEC_OK);
        ck_assert_int_eq(feed(&ctx, si.payload, si.payload_len - 1, chunk_sizes[i], NULL, 0, NULL,
                              1), IOTSEC_E_DIGEST_MISMATCH);
        ck_assert_int_eq(iotsec_image_verify_init(&ctx, c, &si.m, si.key, 32), IOTSEC_OK);
        ck_assert_int_eq(feed(&ctx, si.payload, si.payload_len - 16, chunk_sizes[i], NULL, 0,
                              NULL, 1), IOTSEC_E_DIGEST_MISMATCH);
        /* tampered ciphertext anywhere, the padding block included: one uniform error */
        for (k = 0; k < sizeof pos / sizeof pos[0]; k++) {
            si.payload[pos[k]] ^= 0x01;
            ck_assert_int_eq(iotsec_image_verify_init(&ctx, c, &si.m, si.key, 32), IOTSEC_OK);
            ck_assert_int_eq(feed(&ctx, si.payload, si.payload_len, chunk_sizes[i], NULL, 0, NULL,
                                  1), IOTSEC_E_DIGEST_MISMATCH);
            si.payload[pos[k]] ^= 0x01;
        }
    }
    /* one byte long: fails at once with the same error, and stays failed */
    {
        uint8_t *longer = malloc(si.payload_len + 1), *out = malloc(si.payload_len + 32);
        memcpy(longer, si.payload, si.payload_len);
        longer[si.payload_len] = 0;
        ck_assert_int_eq(iotsec_image_verify_init(&ctx, c, &si.m, si.key, 32), IOTSEC_OK);
        ck_assert_int_eq(iotsec_image_verify_update(&ctx, longer, si.payload_len, out,
                                                    si.payload_len + 32, &got), IOTSEC_OK);
        ck_assert_int_eq(iotsec_image_verify_update(&ctx, longer + si.payload_len, 1, out,
                                                    si.payload_len + 32, &got),
                         IOTSEC_E_DIGEST_MISMATCH);
        ck_assert_uint_eq(got, 0);
        ck_assert_int_eq(iotsec_image_verify_final(&ctx, out, 16, &got), IOTSEC_E_DIGEST_MISMATCH);
        ck_assert_uint_eq(got, 0);
        for (i = 0; i < N_CHUNKS; i++) {
            ck_assert_int_eq(iotsec_image_verify_init(&ctx, c, &si.m, si.key, 32), IOTSEC_OK);
            ck_assert_int_eq(feed(&ctx, longer, si.payload_len + 1, chunk_sizes[i], NULL, 0, NULL,
                                  1), IOTSEC_E_DIGEST_MISMATCH);
        }
        free(longer);
        free(out);
    }
    /* capacities: the exact need is released blocks only; a short buffer changes nothing */
    ck_assert_int_eq(iotsec_image_verify_init(&ctx, c, &si.m, si.key, 32), IOTSEC_OK);
    ck_assert_int_eq(iotsec_image_verify_update(&ctx, si.payload, 20, buf, 0, &got), IOTSEC_OK);
    ck_assert_uint_eq(got, 0); /* one block held back, 4 bytes pending */
    ck_assert_int_eq(iotsec_image_verify_update(&ctx, si.payload + 20, 28, buf, 31, &got),
                     IOTSEC_E_BUFFER_TOO_SMALL);
    ck_assert_int_eq(iotsec_image_verify_update(&ctx, si.payload + 20, 28, NULL, 64, &got),
                     IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_image_verify_update(&ctx, si.payload + 20, 28, buf, 32, &got),
                     IOTSEC_OK);
    ck_assert_uint_eq(got, 32);
    ck_assert(memcmp(buf, img, 32) == 0);
    ck_assert_int_eq(iotsec_image_verify_update(&ctx, si.payload + 48, si.payload_len - 48, NULL,
                                                0, &got), IOTSEC_E_INVALID_ARG);
    {
        uint8_t *out = malloc(si.payload_len);
        ck_assert_int_eq(iotsec_image_verify_update(&ctx, si.payload + 48, si.payload_len - 48,
                                                    out, si.payload_len, &got), IOTSEC_OK);
        ck_assert_uint_eq(got, si.payload_len - 48); /* the held block and all but the last */
        ck_assert(memcmp(out, img + 32, got) == 0);
        ck_assert_int_eq(iotsec_image_verify_final(&ctx, NULL, 16, &got), IOTSEC_E_INVALID_ARG);
        ck_assert_int_eq(iotsec_image_verify_final(&ctx, out, 15, &got),
                         IOTSEC_E_BUFFER_TOO_SMALL);
        ck_assert_int_eq(iotsec_image_verify_final(&ctx, out, 16, &got), IOTSEC_OK);
        ck_assert_uint_eq(got, n % 16);
        ck_assert(memcmp(out, img + n - n % 16, got) == 0);
        free(out);
    }
    si_free(&si);
}
END_TEST

/* A signer that got it wrong: the payload digest matches (so the ciphertext is the signed
 * one) but the padding or the plaintext does not. Every case returns the same error as a
 * tampered ciphertext, so nothing distinguishes a padding failure. */
START_TEST(test_encrypted_signer_faults_uniform)
{
    const iotsec_crypto *c = tu_backend(_i);
    static const struct {
        uint8_t last[4]; /* the last 4 plaintext bytes of a 32-byte payload */
        uint64_t image_size;
        int right_image_digest;
    } cases[] = {
        {{1, 1, 1, 0x00}, 20, 1},    /* pad byte 0 */
        {{1, 1, 1, 0x11}, 20, 1},    /* pad byte 17 */
        {{1, 1, 0x02, 0x03}, 29, 1}, /* pad 3 but the bytes before differ */
        {{3, 3, 1, 0x03}, 29, 1},    /* pad 3, inconsistent middle byte */
        {{3, 3, 3, 0x03}, 30, 1},    /* valid pad 3 but image_size says 30 */
        {{3, 3, 3, 0x03}, 29, 0},    /* valid pad, right size, wrong image digest */
        {{3, 3, 3, 0x03}, 29, 1},    /* the control: everything right */
    };
    uint8_t key[32], iv[16], pt[32], ct[32];
    size_t i;

    if (!iotsec_crypto_has(c, IOTSEC_CAP_AES_CBC))
        return; /* covered by test_encrypted_errors: UNSUPPORTED */
    tu_pattern(key, sizeof key, 21);
    tu_pattern(iv, sizeof iv, 22);
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        iotsec_manifest_fields f;
        fx_storage st;
        iotsec_aes_cbc_ctx a;
        iotsec_image_verify_ctx ctx;
        signed_image si;
        uint8_t out[64];
        size_t got = 0, plain_len;
        int rc;

        tu_pattern(pt, sizeof pt, 23);
        memcpy(pt + 28, cases[i].last, 4);
        ck_assert_int_eq(iotsec_aes_cbc_init(&a, c, IOTSEC_ENCRYPT, key, 32, iv), IOTSEC_OK);
        ck_assert_int_eq(iotsec_aes_cbc_update(&a, pt, ct, 32), IOTSEC_OK);
        iotsec_aes_cbc_cleanup(&a);

        si_keys(&si, c);
        fx_fields_minimal(&f, &st);
        f.present = IOTSEC_MF_ENCRYPTION;
        f.image_size = cases[i].image_size;
        plain_len = 32u - (cases[i].last[3] <= 16 && cases[i].last[3] > 0 ? cases[i].last[3] : 0);
        ck_assert_int_eq(iotsec_sha256(c, pt, plain_len, st.image_digest), IOTSEC_OK);
        if (!cases[i].right_image_digest)
            st.image_digest[0] ^= 1;
        f.enc_alg = IOTSEC_ENC_AES256_CBC;
        ck_assert_int_eq(iotsec_fw_key_id(c, key, st.enc_key_id), IOTSEC_OK);
        memcpy(st.enc_iv, iv, 16);
        f.enc_key_id = st.enc_key_id;
        f.enc_iv = st.enc_iv;
        f.payload_size = 32;
        ck_assert_int_eq(iotsec_sha256(c, ct, 32, st.payload_digest), IOTSEC_OK);
        f.payload_digest = st.payload_digest;
        si_sign(&si, &f);

        ck_assert_int_eq(iotsec_image_verify_init(&ctx, c, &si.m, key, 32), IOTSEC_OK);
        ck_assert_int_eq(iotsec_image_verify_update(&ctx, ct, 32, out, sizeof out, &got),
                         IOTSEC_OK);
        ck_assert_uint_eq(got, 16);
        rc = iotsec_image_verify_final(&ctx, out, sizeof out, &got);
        if (i == sizeof cases / sizeof cases[0] - 1) {
            ck_assert_int_eq(rc, IOTSEC_OK);
            ck_assert_uint_eq(got, 13);
        } else {
            ck_assert_msg(rc == IOTSEC_E_DIGEST_MISMATCH, "case %zu: %s", i, iotsec_strerror(rc));
            ck_assert_uint_eq(got, 0); /* nothing released on failure */
        }
        si_free(&si);
    }
}
END_TEST

/* ---- transfer only (no key, no decryption) -------------------------------------------------- */

/* Feed in transfer mode: the whole of data must give want, in every chunk size, with and
 * without a copy; a copy is the input itself (ciphertext, never plaintext). */
static void transfer_expect(const iotsec_crypto *c, const iotsec_manifest *m, const uint8_t *data,
                            size_t n, int want)
{
    uint8_t *acc = malloc(n + 1);
    iotsec_image_verify_ctx ctx;
    size_t i, acc_len = 0;

    ck_assert_ptr_nonnull(acc);
    for (i = 0; i < N_CHUNKS; i++) {
        ck_assert_int_eq(iotsec_image_verify_init_transfer(&ctx, c, m), IOTSEC_OK);
        ck_assert_msg(feed(&ctx, data, n, chunk_sizes[i], NULL, 0, NULL, 0) == want,
                      "%zu bytes in chunks of %zu", n, chunk_sizes[i]);
        ck_assert_int_eq(iotsec_image_verify_init_transfer(&ctx, c, m), IOTSEC_OK);
        ck_assert_int_eq(feed(&ctx, data, n, chunk_sizes[i], acc, n + 1, &acc_len, 1), want);
        if (want == IOTSEC_OK) {
            ck_assert_uint_eq(acc_len, n);
            ck_assert(memcmp(acc, data, n) == 0);
        }
    }
    free(acc);
}

/* Short, long and changed inputs all fail with IOTSEC_E_DIGEST_MISMATCH; the long one in the
 * update that brings the extra byte, and the failure sticks. */
static void transfer_errors(const iotsec_crypto *c, const iotsec_manifest *m, uint8_t *data,
                            size_t n)
{
    const size_t pos[] = {0, 15, 16, n / 2, n - 16, n - 1};
    uint8_t *longer = malloc(n + 1);
    iotsec_image_verify_ctx ctx;
    size_t k;

    ck_assert_ptr_nonnull(longer);
    transfer_expect(c, m, data, n - 1, IOTSEC_E_DIGEST_MISMATCH);
    memcpy(longer, data, n);
    longer[n] = 0;
    transfer_expect(c, m, longer, n + 1, IOTSEC_E_DIGEST_MISMATCH);
    for (k = 0; k < sizeof pos / sizeof pos[0]; k++) {
        data[pos[k]] ^= 0x80;
        transfer_expect(c, m, data, n, IOTSEC_E_DIGEST_MISMATCH);
        data[pos[k]] ^= 0x80;
    }
    ck_assert_int_eq(iotsec_image_verify_init_transfer(&ctx, c, m), IOTSEC_OK);
    ck_assert_int_eq(iotsec_image_verify_update(&ctx, longer, n, NULL, 0, NULL), IOTSEC_OK);
    ck_assert_int_eq(iotsec_image_verify_update(&ctx, longer + n, 1, NULL, 0, NULL),
                     IOTSEC_E_DIGEST_MISMATCH);
    ck_assert_int_eq(iotsec_image_verify_update(&ctx, longer, 0, NULL, 0, NULL),
                     IOTSEC_E_DIGEST_MISMATCH);
    ck_assert_int_eq(iotsec_image_verify_final(&ctx, NULL, 0, NULL), IOTSEC_E_DIGEST_MISMATCH);
    ck_assert_int_eq(iotsec_image_verify_final(&ctx, NULL, 0, NULL), IOTSEC_E_STATE);
    free(longer);
}

START_TEST(test_transfer_plain)
{
    const iotsec_crypto *c = tu_backend(_i);
    const size_t n = 70001;
    uint8_t *img = malloc(n);
    iotsec_image_verify_ctx ctx;
    iotsec_manifest unverified;
    signed_image si;

    tu_pattern(img, n, 41);
    si_plain(&si, c, img, 3001);
    /* the transferred bytes are the image: the same checks as the plaintext path */
    transfer_expect(c, &si.m, img, 3001, IOTSEC_OK);
    transfer_errors(c, &si.m, img, 3001);
    si_free(&si);
    si_plain(&si, c, img, n);
    transfer_expect(c, &si.m, img, n, IOTSEC_OK);
    ck_assert_int_eq(iotsec_image_verify_init(&ctx, c, &si.m, NULL, 0), IOTSEC_OK);
    ck_assert_int_eq(feed(&ctx, img, n, 2048, NULL, 0, NULL, 0), IOTSEC_OK);
    /* misuse */
    ck_assert_int_eq(iotsec_image_verify_init_transfer(NULL, c, &si.m), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_image_verify_init_transfer(&ctx, NULL, &si.m), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_image_verify_init_transfer(&ctx, c, NULL), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_manifest_parse_unverified(si.mbuf, si.mlen, &unverified), IOTSEC_OK);
    ck_assert_int_eq(iotsec_image_verify_init_transfer(&ctx, c, &unverified), IOTSEC_E_STATE);
    ck_assert_int_eq(ctx.state, 0); /* zeroed on error */
    si_free(&si);
    free(img);
}
END_TEST

START_TEST(test_transfer_encrypted)
{
    const iotsec_crypto *c = tu_backend(_i);
    static const size_t sizes[] = {1, 16, 3000, 100003};
    uint8_t *img = malloc(100003);
    iotsec_image_verify_ctx ctx;
    iotsec_manifest forged;
    size_t s;

    tu_pattern(img, 100003, 43);
    for (s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        signed_image si;
        si_encrypted(&si, c, img, sizes[s]);
        /* no key and no AES needed: every backend (libsodium too) checks the ciphertext */
        transfer_expect(c, &si.m, si.payload, si.payload_len, IOTSEC_OK);
        if (sizes[s] == 3000)
            transfer_errors(c, &si.m, si.payload, si.payload_len);
        /* the plaintext is not what was transferred */
        transfer_expect(c, &si.m, img, sizes[s], IOTSEC_E_DIGEST_MISMATCH);
        /* a manifest claiming encryption without its payload digest (never made by the
         * verifier): refused */
        forged = si.m;
        forged.f.payload_digest = NULL;
        ck_assert_int_eq(iotsec_image_verify_init_transfer(&ctx, c, &forged), IOTSEC_E_STATE);
        si_free(&si);
    }
    free(img);
}
END_TEST

/* What the transfer check does not cover: a signer whose plaintext fields are wrong (here a
 * padding byte of 0) but whose payload digest is right passes the transfer check; the
 * device's full verification still refuses it. */
START_TEST(test_transfer_is_not_plaintext_check)
{
    const iotsec_crypto *o = iotsec_crypto_openssl();
    uint8_t key[32], iv[16], pt[32], ct[32];
    iotsec_manifest_fields f;
    iotsec_image_verify_ctx ctx;
    iotsec_aes_cbc_ctx a;
    signed_image si;
    fx_storage st;

    ck_assert_ptr_nonnull(o);
    tu_pattern(key, sizeof key, 51);
    tu_pattern(iv, sizeof iv, 52);
    tu_pattern(pt, sizeof pt, 53);
    pt[31] = 0; /* not PKCS#7 */
    ck_assert_int_eq(iotsec_aes_cbc_init(&a, o, IOTSEC_ENCRYPT, key, 32, iv), IOTSEC_OK);
    ck_assert_int_eq(iotsec_aes_cbc_update(&a, pt, ct, 32), IOTSEC_OK);
    iotsec_aes_cbc_cleanup(&a);
    si_keys(&si, o);
    fx_fields_minimal(&f, &st);
    f.present = IOTSEC_MF_ENCRYPTION;
    f.image_size = 31;
    ck_assert_int_eq(iotsec_sha256(o, pt, 31, st.image_digest), IOTSEC_OK);
    f.enc_alg = IOTSEC_ENC_AES256_CBC;
    ck_assert_int_eq(iotsec_fw_key_id(o, key, st.enc_key_id), IOTSEC_OK);
    memcpy(st.enc_iv, iv, 16);
    f.enc_key_id = st.enc_key_id;
    f.enc_iv = st.enc_iv;
    f.payload_size = 32;
    ck_assert_int_eq(iotsec_sha256(o, ct, 32, st.payload_digest), IOTSEC_OK);
    f.payload_digest = st.payload_digest;
    si_sign(&si, &f);
    transfer_expect(o, &si.m, ct, 32, IOTSEC_OK);
    ck_assert_int_eq(iotsec_image_verify_init(&ctx, o, &si.m, key, 32), IOTSEC_OK);
    ck_assert_int_eq(feed(&ctx, ct, 32, 32, NULL, 0, NULL, 1), IOTSEC_E_DIGEST_MISMATCH);
    si_free(&si);
}
END_TEST

/* A backend whose SHA-256 / AES fail after a while (OpenSSL otherwise): a backend failure
 * on the plain path is reported as such, on the encrypted path as the one uniform error,
 * and both leave the context failed for good. */
static int fail_after;
static int (*real_sha256_update)(iotsec_sha256_ctx *, const uint8_t *, size_t);
static int (*real_aes_update)(iotsec_aes_cbc_ctx *, const uint8_t *, uint8_t *, size_t);

static int flaky_sha256_update(iotsec_sha256_ctx *ctx, const uint8_t *d, size_t n)
{
    return fail_after-- > 0 ? real_sha256_update(ctx, d, n) : IOTSEC_E_BACKEND;
}

static int flaky_aes_update(iotsec_aes_cbc_ctx *ctx, const uint8_t *in, uint8_t *out, size_t n)
{
    return fail_after-- > 0 ? real_aes_update(ctx, in, out, n) : IOTSEC_E_BACKEND;
}

START_TEST(test_backend_failures)
{
    const iotsec_crypto *o = iotsec_crypto_openssl();
    iotsec_crypto flaky;
    uint8_t img[4096], out[4096 + 16];
    iotsec_image_verify_ctx ctx;
    iotsec_image_encrypt_ctx ec;
    signed_image si;
    size_t got = 0;

    ck_assert_ptr_nonnull(o);
    flaky = *o;
    real_sha256_update = o->sha256_update;
    real_aes_update = o->aes_cbc_update;
    flaky.sha256_update = flaky_sha256_update;
    tu_pattern(img, sizeof img, 31);

    si_plain(&si, o, img, sizeof img);
    fail_after = 1;
    ck_assert_int_eq(iotsec_image_verify_init(&ctx, &flaky, &si.m, NULL, 0), IOTSEC_OK);
    ck_assert_int_eq(iotsec_image_verify_update(&ctx, img, 100, NULL, 0, NULL), IOTSEC_OK);
    ck_assert_int_eq(iotsec_image_verify_update(&ctx, img + 100, 100, NULL, 0, NULL),
                     IOTSEC_E_BACKEND);
    ck_assert_int_eq(iotsec_image_verify_update(&ctx, img + 200, 100, NULL, 0, NULL),
                     IOTSEC_E_BACKEND);
    ck_assert_int_eq(iotsec_image_verify_final(&ctx, NULL, 0, NULL), IOTSEC_E_BACKEND);
    si_free(&si);

    /* transfer only: no secret involved, so the backend's error is reported as such */
    si_encrypted(&si, o, img, sizeof img);
    fail_after = 1;
    ck_assert_int_eq(iotsec_image_verify_init_transfer(&ctx, &flaky, &si.m), IOTSEC_OK);
    ck_assert_int_eq(iotsec_image_verify_update(&ctx, si.payload, 100, NULL, 0, NULL), IOTSEC_OK);
    ck_assert_int_eq(iotsec_image_verify_update(&ctx, si.payload + 100, 100, NULL, 0, NULL),
                     IOTSEC_E_BACKEND);
    ck_assert_int_eq(iotsec_image_verify_final(&ctx, NULL, 0, NULL), IOTSEC_E_BACKEND);
    si_free(&si);

    si_encrypted(&si, o, img, sizeof img);
    flaky.sha256_update = o->sha256_update;
    flaky.aes_cbc_update = flaky_aes_update;
    fail_after = 2; /* the first update decrypts 80 bytes, then the block it holds back */
    ck_assert_int_eq(iotsec_image_verify_init(&ctx, &flaky, &si.m, si.key, 32), IOTSEC_OK);
    ck_assert_int_eq(iotsec_image_verify_update(&ctx, si.payload, 100, out, sizeof out, &got),
                     IOTSEC_OK);
    ck_assert_int_eq(iotsec_image_verify_update(&ctx, si.payload + 100, 100, out, sizeof out, &got),
                     IOTSEC_E_DIGEST_MISMATCH);
    ck_assert_int_eq(iotsec_image_verify_final(&ctx, out, sizeof out, &got),
                     IOTSEC_E_DIGEST_MISMATCH);
    /* the encrypt helper reports the backend's error and stops */
    fail_after = 0;
    ck_assert_int_eq(iotsec_image_encrypt_init(&ec, &flaky, si.key, si.key), IOTSEC_OK);
    ck_assert_int_eq(iotsec_image_encrypt_update(&ec, img, 32, out, sizeof out, &got),
                     IOTSEC_E_BACKEND);
    ck_assert_int_eq(iotsec_image_encrypt_update(&ec, img, 32, out, sizeof out, &got),
                     IOTSEC_E_STATE);
    /* sizes beyond 2^32 are refused before a byte is read */
    ck_assert_int_eq(iotsec_image_encrypt_init(&ec, o, si.key, si.key), IOTSEC_OK);
    ck_assert_int_eq(iotsec_image_encrypt_update(&ec, img, (size_t)4294967297u, out, sizeof out,
                                                 &got), IOTSEC_E_BAD_LENGTH);
    iotsec_image_encrypt_cleanup(&ec);
    ck_assert_int_eq(iotsec_image_verify_init(&ctx, o, &si.m, si.key, 32), IOTSEC_OK);
    ck_assert_int_eq(iotsec_image_verify_update(&ctx, img, (size_t)4294967297u, out, (size_t)-1,
                                                &got), IOTSEC_E_DIGEST_MISMATCH);
    iotsec_image_verify_cleanup(&ctx);
    si_free(&si);
}
END_TEST

static Suite *image_suite(void)
{
    Suite *s = suite_create("image");
    TCase *tc = tcase_create("image");

    tcase_set_timeout(tc, 120);
    tu_add_backend_test(tc, test_encrypt_nist_kat);
    tu_add_backend_test(tc, test_plain_chunk_sizes);
    tu_add_backend_test(tc, test_plain_errors);
    tu_add_backend_test(tc, test_encrypted_chunk_sizes);
    tu_add_backend_test(tc, test_encrypted_errors);
    tu_add_backend_test(tc, test_encrypted_signer_faults_uniform);
    tu_add_backend_test(tc, test_transfer_plain);
    tu_add_backend_test(tc, test_transfer_encrypted);
    tcase_add_test(tc, test_transfer_is_not_plaintext_check);
    tcase_add_test(tc, test_backend_failures);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run_suite(image_suite()); }
