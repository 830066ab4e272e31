/*
 * Generator of bindings-spec/vectors/firmware_image.json: streaming verification of a
 * firmware payload against a verified manifest, and the device policy around its boundaries
 * (bindings-spec/SPEC.md §7; include/iotsec/image.h, manifest.h). manifest_v1.json covers the manifest
 * format itself; this file covers what a device does with a verified manifest:
 *
 *   manifests  four manifests signed with the fixed Ed25519 key (RFC 8032 §7.1 TEST 1 seed,
 *              the key of manifest_v1.json's "ed25519-1"): plain, encrypted (AES-256-CBC under
 *              the NIST SP 800-38A F.2.5 key), one without device_id/not_after, and one whose
 *              signed payload decrypts to bad PKCS#7 padding
 *   images     payloads fed in chunks to iotsec_image_verify_* (or the plaintext re-check),
 *              with the first error and the step that gives it (init, update, final)
 *   policy     iotsec_manifest_check_policy cases: order of the checks, boundaries (now ==
 *              not_after, equal counters, UINT64_MAX), skip bits
 *
 * Every input is fixed and Ed25519 signatures are deterministic, so the output is
 * reproducible byte for byte. Each vector is checked while it is written (any disagreement
 * with the library aborts). This file is part of $(BUILD)/internal/libgenvectors.a
 * (declarations in gen_vectors.h; the program's main() is gen_firmware_main.c):
 * tests/unit/test_vectors.c links it and fails when the committed file differs from a fresh
 * run. To regenerate:
 *
 *   make build/gen_firmware && build/gen_firmware bindings-spec/vectors
 *
 * Needs the OpenSSL backend (AES-256-CBC).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iotsec/iotsec.h"

#include "gen_vectors.h"

/* ---- output helpers --------------------------------------------------------------------- */

static void fw_die(const char *what, const char *name, int got, int want)
{
    fprintf(stderr, "gen_firmware: %s '%s': got %s, want %s\n", what, name,
            iotsec_error_name(got) ? iotsec_error_name(got) : "?",
            iotsec_error_name(want) ? iotsec_error_name(want) : "?");
    abort();
}

static void fw_expect(int got, int want, const char *what, const char *name)
{
    if (got != want)
        fw_die(what, name, got, want);
}

static void fw_hex(FILE *f, const uint8_t *p, size_t n)
{
    size_t i;

    fputc('"', f);
    for (i = 0; i < n; i++)
        fprintf(f, "%02x", p[i]);
    fputc('"', f);
}

/* ---- fixed inputs ------------------------------------------------------------------------- */

/* RFC 8032 §7.1 TEST 1 secret key (bindings-spec/vectors/keys/manifest-ed25519-1.pem). */
static const uint8_t fw_seed[32] = {0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60,
                                    0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4,
                                    0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19,
                                    0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60};
/* NIST SP 800-38A F.2.5 AES-256 key and IV. */
static const uint8_t fw_key[32] = {0x60, 0x3d, 0xeb, 0x10, 0x15, 0xca, 0x71, 0xbe,
                                   0x2b, 0x73, 0xae, 0xf0, 0x85, 0x7d, 0x77, 0x81,
                                   0x1f, 0x35, 0x2c, 0x07, 0x3b, 0x61, 0x08, 0xd7,
                                   0x2d, 0x98, 0x10, 0xa3, 0x09, 0x14, 0xdf, 0xf4};
static const uint8_t fw_iv[16] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
                                  0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f};
/* A second firmware key: the NIST key with its last byte changed. */
static const uint8_t fw_key_other[32] = {0x60, 0x3d, 0xeb, 0x10, 0x15, 0xca, 0x71, 0xbe,
                                         0x2b, 0x73, 0xae, 0xf0, 0x85, 0x7d, 0x77, 0x81,
                                         0x1f, 0x35, 0x2c, 0x07, 0x3b, 0x61, 0x08, 0xd7,
                                         0x2d, 0x98, 0x10, 0xa3, 0x09, 0x14, 0xdf, 0xf5};

#define FW_CLASS "ecowatt-esp32"
#define FW_DEVICE "dev-0042"
#define FW_NOT_AFTER 1900000000u
#define FW_COUNTER 42u

static const char *const fw_manifest_names[GEN_FW_M_COUNT] = {"plain", "encrypted", "unbound",
                                                              "encrypted-bad-padding"};

void gen_fw_setup(gen_fw_state *s)
{
    iotsec_manifest_fields f;
    iotsec_image_encrypt_ctx ec;
    iotsec_image_encrypt_result er;
    iotsec_aes_cbc_ctx aes;
    uint8_t spki[IOTSEC_SPKI_MAX_LEN], digest[32], pdigest[32], key_id[8],
        padded[GEN_FW_PAYLOAD_LEN];
    size_t spki_len = 0, n = 0, n2 = 0, i;
    int k;

    memset(s, 0, sizeof *s);
    s->c = iotsec_crypto_openssl();
    if (s->c == NULL) {
        fprintf(stderr, "gen_firmware: needs the OpenSSL backend\n");
        abort();
    }
    fw_expect(iotsec_privkey_load_ed25519_seed(&s->sk, s->c, fw_seed), IOTSEC_OK, "seed", "key");
    fw_expect(iotsec_privkey_public_spki(&s->sk, spki, sizeof spki, &spki_len), IOTSEC_OK,
              "spki", "key");
    fw_expect(iotsec_pubkey_load(&s->pk, s->c, spki, spki_len), IOTSEC_OK, "pubkey", "key");
    fw_expect(iotsec_trust_store_init(&s->ts, &s->pk, 1), IOTSEC_OK, "store", "key");
    for (i = 0; i < GEN_FW_IMAGE_LEN; i++)
        s->image[i] = (uint8_t)(i * 7u + 3u);
    fw_expect(iotsec_sha256(s->c, s->image, GEN_FW_IMAGE_LEN, digest), IOTSEC_OK, "sha", "image");

    /* the encrypted payload, and a payload of the same size whose padding is wrong */
    fw_expect(iotsec_image_encrypt_init(&ec, s->c, fw_key, fw_iv), IOTSEC_OK, "enc", "payload");
    fw_expect(iotsec_image_encrypt_update(&ec, s->image, GEN_FW_IMAGE_LEN, s->payload,
                                          sizeof s->payload, &n),
              IOTSEC_OK, "enc", "payload");
    fw_expect(iotsec_image_encrypt_final(&ec, s->payload + n, sizeof s->payload - n, &n2, &er),
              IOTSEC_OK, "enc", "payload");
    if (n + n2 != GEN_FW_PAYLOAD_LEN || er.payload_size != GEN_FW_PAYLOAD_LEN)
        fw_die("payload size", "payload", 0, 0);
    memset(padded, 0, sizeof padded);
    memcpy(padded, s->image, GEN_FW_IMAGE_LEN); /* 12 bytes of 0x00: not PKCS#7 */
    fw_expect(iotsec_aes_cbc_init(&aes, s->c, IOTSEC_ENCRYPT, fw_key, sizeof fw_key, fw_iv),
              IOTSEC_OK, "aes", "bad padding");
    fw_expect(iotsec_aes_cbc_update(&aes, padded, s->bad_payload, sizeof padded), IOTSEC_OK,
              "aes", "bad padding");
    iotsec_aes_cbc_cleanup(&aes);
    fw_expect(iotsec_sha256(s->c, s->bad_payload, GEN_FW_PAYLOAD_LEN, pdigest), IOTSEC_OK, "sha",
              "bad padding");
    fw_expect(iotsec_fw_key_id(s->c, fw_key, key_id), IOTSEC_OK, "key id", "firmware");

    for (k = 0; k < GEN_FW_M_COUNT; k++) {
        memset(&f, 0, sizeof f);
        f.security_counter = FW_COUNTER;
        f.version = (const uint8_t *)"2.0.0";
        f.version_len = 5;
        f.device_class = (const uint8_t *)FW_CLASS;
        f.device_class_len = strlen(FW_CLASS);
        f.image_size = GEN_FW_IMAGE_LEN;
        f.image_digest = digest;
        if (k != GEN_FW_M_UNBOUND) {
            f.present |= IOTSEC_MF_DEVICE_ID | IOTSEC_MF_NOT_AFTER;
            f.device_id = (const uint8_t *)FW_DEVICE;
            f.device_id_len = strlen(FW_DEVICE);
            f.not_after = FW_NOT_AFTER;
        }
        if (k == GEN_FW_M_ENCRYPTED || k == GEN_FW_M_BAD_PADDING) {
            f.present |= IOTSEC_MF_ENCRYPTION | IOTSEC_MF_CHUNK_SIZE;
            f.enc_alg = IOTSEC_ENC_AES256_CBC;
            f.enc_key_id = key_id;
            f.enc_iv = fw_iv;
            f.payload_size = GEN_FW_PAYLOAD_LEN;
            f.payload_digest = k == GEN_FW_M_ENCRYPTED ? er.payload_digest : pdigest;
            f.chunk_size = 256;
        }
        if (k == GEN_FW_M_ENCRYPTED && memcmp(er.image_digest, digest, 32) != 0)
            fw_die("image digest", "encrypted", 0, 0);
        fw_expect(iotsec_manifest_sign(&f, &s->sk, s->buf[k], sizeof s->buf[k], &s->len[k]),
                  IOTSEC_OK, "sign", fw_manifest_names[k]);
        fw_expect(iotsec_manifest_verify(&s->ts, s->buf[k], s->len[k], &s->m[k]), IOTSEC_OK,
                  "verify", fw_manifest_names[k]);
    }
}

void gen_fw_teardown(gen_fw_state *s)
{
    iotsec_pubkey_free(&s->pk);
    iotsec_privkey_free(&s->sk);
}

/* ---- images ------------------------------------------------------------------------------- */

static const char *const fw_key_names[] = {NULL, "firmware-aes256", "other-aes256",
                                           "firmware-aes256-first-31-bytes"};

const struct gen_fw_image_case gen_fw_image_cases[] = {
    {"plain", "the plain image in one update", GEN_FW_M_PLAIN, 0, GEN_FW_KEY_NONE, 512,
     GEN_FW_SRC_IMAGE, GEN_FW_IMAGE_LEN, -1, IOTSEC_OK, NULL},
    {"plain-1-byte-chunks", "the plain image one byte at a time", GEN_FW_M_PLAIN, 0,
     GEN_FW_KEY_NONE, 1, GEN_FW_SRC_IMAGE, GEN_FW_IMAGE_LEN, -1, IOTSEC_OK, NULL},
    {"plain-one-byte-short", "99 of the 100 signed bytes", GEN_FW_M_PLAIN, 0, GEN_FW_KEY_NONE, 512,
     GEN_FW_SRC_IMAGE, GEN_FW_IMAGE_LEN - 1, -1, IOTSEC_E_DIGEST_MISMATCH, "final"},
    {"plain-one-byte-extra", "101 bytes: the first byte beyond image_size fails the update",
     GEN_FW_M_PLAIN, 0, GEN_FW_KEY_NONE, 512, GEN_FW_SRC_IMAGE, GEN_FW_IMAGE_LEN + 1, -1,
     IOTSEC_E_DIGEST_MISMATCH, "update"},
    {"plain-byte-flipped", "byte 50 changed", GEN_FW_M_PLAIN, 0, GEN_FW_KEY_NONE, 16,
     GEN_FW_SRC_IMAGE, GEN_FW_IMAGE_LEN, 50, IOTSEC_E_DIGEST_MISMATCH, "final"},
    {"plain-key-given",
     "a firmware key for an unencrypted manifest: a device expecting "
     "confidential firmware refuses a plaintext one",
     GEN_FW_M_PLAIN, 0, GEN_FW_KEY_FW, 512, GEN_FW_SRC_IMAGE, GEN_FW_IMAGE_LEN, -1, IOTSEC_E_POLICY,
     "init"},
    {"encrypted", "the ciphertext as transferred, in one update", GEN_FW_M_ENCRYPTED, 0,
     GEN_FW_KEY_FW, 512, GEN_FW_SRC_PAYLOAD, GEN_FW_PAYLOAD_LEN, -1, IOTSEC_OK, NULL},
    {"encrypted-7-byte-chunks", "chunks that do not align with AES blocks", GEN_FW_M_ENCRYPTED, 0,
     GEN_FW_KEY_FW, 7, GEN_FW_SRC_PAYLOAD, GEN_FW_PAYLOAD_LEN, -1, IOTSEC_OK, NULL},
    {"encrypted-no-key", "no firmware key for an encrypted manifest", GEN_FW_M_ENCRYPTED, 0,
     GEN_FW_KEY_NONE, 512, GEN_FW_SRC_PAYLOAD, GEN_FW_PAYLOAD_LEN, -1, IOTSEC_E_UNKNOWN_KEY,
     "init"},
    {"encrypted-other-key", "a key whose key id differs from the manifest's", GEN_FW_M_ENCRYPTED, 0,
     GEN_FW_KEY_OTHER, 512, GEN_FW_SRC_PAYLOAD, GEN_FW_PAYLOAD_LEN, -1, IOTSEC_E_UNKNOWN_KEY,
     "init"},
    {"encrypted-key-31-bytes", "a firmware key of 31 bytes", GEN_FW_M_ENCRYPTED, 0,
     GEN_FW_KEY_SHORT, 512, GEN_FW_SRC_PAYLOAD, GEN_FW_PAYLOAD_LEN, -1, IOTSEC_E_BAD_KEY, "init"},
    {"encrypted-last-block-missing", "96 of the 112 transferred bytes", GEN_FW_M_ENCRYPTED, 0,
     GEN_FW_KEY_FW, 512, GEN_FW_SRC_PAYLOAD, GEN_FW_PAYLOAD_LEN - 16, -1, IOTSEC_E_DIGEST_MISMATCH,
     "final"},
    {"encrypted-one-byte-extra", "113 bytes: fails as soon as the extra byte arrives",
     GEN_FW_M_ENCRYPTED, 0, GEN_FW_KEY_FW, 512, GEN_FW_SRC_PAYLOAD, GEN_FW_PAYLOAD_LEN + 1, -1,
     IOTSEC_E_DIGEST_MISMATCH, "update"},
    {"encrypted-last-byte-flipped",
     "the last ciphertext byte changed (it would break the "
     "padding too: the digest is compared first, and every failure is one uniform error)",
     GEN_FW_M_ENCRYPTED, 0, GEN_FW_KEY_FW, 512, GEN_FW_SRC_PAYLOAD, GEN_FW_PAYLOAD_LEN,
     GEN_FW_PAYLOAD_LEN - 1, IOTSEC_E_DIGEST_MISMATCH, "final"},
    {"encrypted-first-byte-flipped", "the first ciphertext byte changed", GEN_FW_M_ENCRYPTED, 0,
     GEN_FW_KEY_FW, 512, GEN_FW_SRC_PAYLOAD, GEN_FW_PAYLOAD_LEN, 0, IOTSEC_E_DIGEST_MISMATCH,
     "final"},
    {"encrypted-plaintext-sent", "the plaintext image where the ciphertext is expected",
     GEN_FW_M_ENCRYPTED, 0, GEN_FW_KEY_FW, 512, GEN_FW_SRC_IMAGE, GEN_FW_IMAGE_LEN, -1,
     IOTSEC_E_DIGEST_MISMATCH, "final"},
    {"encrypted-signed-bad-padding",
     "a payload whose size and digest are the signed ones but "
     "whose last block has no valid PKCS#7 padding: the same uniform error",
     GEN_FW_M_BAD_PADDING, 0, GEN_FW_KEY_FW, 512, GEN_FW_SRC_BAD_PAYLOAD, GEN_FW_PAYLOAD_LEN, -1,
     IOTSEC_E_DIGEST_MISMATCH, "final"},
    {"encrypted-plaintext-recheck",
     "secure boot: the decrypted image checked against "
     "image_size and image_digest of the encrypted manifest",
     GEN_FW_M_ENCRYPTED, 1, GEN_FW_KEY_NONE, 512, GEN_FW_SRC_IMAGE, GEN_FW_IMAGE_LEN, -1, IOTSEC_OK,
     NULL},
    {"encrypted-plaintext-recheck-flipped", "secure boot of a tampered slot", GEN_FW_M_ENCRYPTED, 1,
     GEN_FW_KEY_NONE, 512, GEN_FW_SRC_IMAGE, GEN_FW_IMAGE_LEN, 99, IOTSEC_E_DIGEST_MISMATCH,
     "final"},
};
const size_t gen_fw_nimages = sizeof gen_fw_image_cases / sizeof gen_fw_image_cases[0];

/* The input bytes of case v into in (GEN_FW_PAYLOAD_LEN + 16 bytes); returns their length. */
static size_t fw_input(const gen_fw_state *s, const struct gen_fw_image_case *v, uint8_t *in)
{
    const uint8_t *src = v->src == GEN_FW_SRC_IMAGE ? s->image
                         : v->src == GEN_FW_SRC_PAYLOAD ? s->payload : s->bad_payload;
    size_t src_len = v->src == GEN_FW_SRC_IMAGE ? GEN_FW_IMAGE_LEN : GEN_FW_PAYLOAD_LEN;

    memset(in, 0, GEN_FW_PAYLOAD_LEN + 16u);
    memcpy(in, src, v->len < src_len ? v->len : src_len);
    if (v->flip >= 0)
        in[v->flip] ^= 0x01;
    return v->len;
}

/* Run case v on backend c: init, updates of chunk bytes, final. Returns the first error, *at
 * the step that gave it, and the plaintext released in out (512 bytes). */
int gen_fw_run(const iotsec_crypto *c, const gen_fw_state *s, const struct gen_fw_image_case *v,
               uint8_t *out, size_t *out_len, const char **at)
{
    iotsec_image_verify_ctx ctx;
    const iotsec_manifest *m = &s->m[v->manifest];
    const uint8_t *key = v->key == GEN_FW_KEY_OTHER  ? fw_key_other
                         : v->key == GEN_FW_KEY_NONE ? NULL
                                                     : fw_key;
    size_t key_len = v->key == GEN_FW_KEY_SHORT ? 31u : v->key == GEN_FW_KEY_NONE ? 0u : 32u;
    uint8_t in[GEN_FW_PAYLOAD_LEN + 16];
    size_t in_len = fw_input(s, v, in), off = 0, o = 0, n = 0;
    int rc;

    *out_len = 0;
    *at = "init";
    rc = v->plaintext_mode ? iotsec_image_verify_init_plaintext(&ctx, c, m)
                           : iotsec_image_verify_init(&ctx, c, m, key, key_len);
    if (rc != IOTSEC_OK)
        return rc;
    *at = "update";
    while (off < in_len) {
        size_t k = in_len - off < v->chunk ? in_len - off : v->chunk;
        rc = iotsec_image_verify_update(&ctx, in + off, k, out + o, 512 - o, &n);
        if (rc != IOTSEC_OK) {
            iotsec_image_verify_cleanup(&ctx);
            return rc;
        }
        o += n;
        off += k;
    }
    *at = "final";
    rc = iotsec_image_verify_final(&ctx, out + o, 512 - o, &n);
    iotsec_image_verify_cleanup(&ctx);
    if (rc != IOTSEC_OK)
        return rc;
    *out_len = o + n;
    return IOTSEC_OK;
}

static void fw_images(FILE *f, const gen_fw_state *s)
{
    size_t i;

    fprintf(f, "  \"images\": [");
    for (i = 0; i < gen_fw_nimages; i++) {
        const struct gen_fw_image_case *v = &gen_fw_image_cases[i];
        uint8_t out[512], in[GEN_FW_PAYLOAD_LEN + 16];
        size_t out_len = 0, in_len = fw_input(s, v, in);
        const char *at = NULL;
        int rc = gen_fw_run(s->c, s, v, out, &out_len, &at);

        fw_expect(rc, v->want, "image", v->name);
        if (rc == IOTSEC_OK && (out_len != GEN_FW_IMAGE_LEN || memcmp(out, s->image, out_len) != 0))
            fw_die("plaintext of", v->name, 0, 0);
        if (rc != IOTSEC_OK && strcmp(at, v->fails_at) != 0) {
            fprintf(stderr, "gen_firmware: %s fails at %s, want %s\n", v->name, at,
                    v->fails_at);
            abort();
        }
        fprintf(f, "%s\n    {\"name\": \"%s\", \"comment\": \"%s\",\n     \"manifest\": \"%s\", "
                   "\"mode\": \"%s\", \"key\": ",
                i ? "," : "", v->name, v->comment, fw_manifest_names[v->manifest],
                v->plaintext_mode ? "plaintext" : "payload");
        if (v->key == GEN_FW_KEY_NONE)
            fputs("null", f);
        else
            fprintf(f, "\"%s\"", fw_key_names[v->key]);
        fprintf(f, ", \"chunk\": %u,\n     \"input\": ", (unsigned)v->chunk);
        fw_hex(f, in, in_len);
        fprintf(f, ",\n     \"result\": \"%s\"", iotsec_error_name(rc));
        if (rc != IOTSEC_OK)
            fprintf(f, ", \"fails_at\": \"%s\"", at);
        fputc('}', f);
    }
    fprintf(f, "\n  ],\n");
}

/* ---- policy -------------------------------------------------------------------------------- */

const struct gen_fw_policy_case gen_fw_policy_cases[] = {
    {"accepted", GEN_FW_M_PLAIN, FW_CLASS, FW_DEVICE, 1700000000u, 41, 0, IOTSEC_OK},
    {"now-equals-not-after", GEN_FW_M_PLAIN, FW_CLASS, FW_DEVICE, FW_NOT_AFTER, 0, 0, IOTSEC_OK},
    {"one-second-late", GEN_FW_M_PLAIN, FW_CLASS, FW_DEVICE, FW_NOT_AFTER + 1u, 0, 0,
     IOTSEC_E_EXPIRED},
    {"same-counter-reinstall", GEN_FW_M_PLAIN, FW_CLASS, FW_DEVICE, 0, FW_COUNTER, 0, IOTSEC_OK},
    {"rollback", GEN_FW_M_PLAIN, FW_CLASS, FW_DEVICE, 0, FW_COUNTER + 1u, 0, IOTSEC_E_ROLLBACK},
    {"stored-counter-exhausted", GEN_FW_M_PLAIN, FW_CLASS, FW_DEVICE, 0, UINT64_MAX, 0,
     IOTSEC_E_COUNTER_EXHAUSTED},
    {"stored-counter-exhausted-even-skipped", GEN_FW_M_PLAIN, FW_CLASS, FW_DEVICE, 0, UINT64_MAX,
     IOTSEC_POLICY_SKIP_COUNTER, IOTSEC_E_COUNTER_EXHAUSTED},
    {"rollback-skipped", GEN_FW_M_PLAIN, FW_CLASS, FW_DEVICE, 0, 1000, IOTSEC_POLICY_SKIP_COUNTER,
     IOTSEC_OK},
    {"other-class", GEN_FW_M_PLAIN, "ecowatt-esp8266", FW_DEVICE, 0, 0, 0, IOTSEC_E_WRONG_TARGET},
    {"class-prefix", GEN_FW_M_PLAIN, "ecowatt-esp3", FW_DEVICE, 0, 0, 0, IOTSEC_E_WRONG_TARGET},
    {"class-skipped", GEN_FW_M_PLAIN, NULL, FW_DEVICE, 0, 0, IOTSEC_POLICY_SKIP_CLASS, IOTSEC_OK},
    {"other-device", GEN_FW_M_PLAIN, FW_CLASS, "dev-0043", 0, 0, 0, IOTSEC_E_WRONG_DEVICE},
    {"no-device-id-configured", GEN_FW_M_PLAIN, FW_CLASS, NULL, 0, 0, 0, IOTSEC_E_WRONG_DEVICE},
    {"device-check-not-skippable", GEN_FW_M_PLAIN, NULL, "dev-0043", 0, 0,
     IOTSEC_POLICY_SKIP_CLASS | IOTSEC_POLICY_SKIP_COUNTER, IOTSEC_E_WRONG_DEVICE},
    {"unbound-any-device", GEN_FW_M_UNBOUND, FW_CLASS, "dev-9999", UINT64_MAX, 0, 0, IOTSEC_OK},
    {"unbound-no-device-id", GEN_FW_M_UNBOUND, FW_CLASS, NULL, 0, 0, 0, IOTSEC_OK},
    {"order-class-before-device", GEN_FW_M_PLAIN, "other", "dev-0043", FW_NOT_AFTER + 1u,
     FW_COUNTER + 1u, 0, IOTSEC_E_WRONG_TARGET},
    {"order-device-before-expiry", GEN_FW_M_PLAIN, FW_CLASS, "dev-0043", FW_NOT_AFTER + 1u,
     FW_COUNTER + 1u, 0, IOTSEC_E_WRONG_DEVICE},
    {"order-expiry-before-counter", GEN_FW_M_PLAIN, FW_CLASS, FW_DEVICE, FW_NOT_AFTER + 1u,
     FW_COUNTER + 1u, 0, IOTSEC_E_EXPIRED},
    {"expiry-skipped-boot-recheck", GEN_FW_M_PLAIN, FW_CLASS, FW_DEVICE, FW_NOT_AFTER + 1u,
     FW_COUNTER, IOTSEC_POLICY_SKIP_EXPIRY, IOTSEC_OK},
    {"expiry-skipped-device-still-checked", GEN_FW_M_PLAIN, FW_CLASS, "dev-0043", FW_NOT_AFTER + 1u,
     0, IOTSEC_POLICY_SKIP_EXPIRY, IOTSEC_E_WRONG_DEVICE},
    {"expiry-skipped-rollback-still-checked", GEN_FW_M_PLAIN, FW_CLASS, FW_DEVICE,
     FW_NOT_AFTER + 1u, FW_COUNTER + 1u, IOTSEC_POLICY_SKIP_EXPIRY, IOTSEC_E_ROLLBACK},
    {"unknown-skip-bit", GEN_FW_M_PLAIN, FW_CLASS, FW_DEVICE, 0, 0, 0x8u, IOTSEC_E_INVALID_ARG},
    {"empty-class-not-skipped", GEN_FW_M_PLAIN, "", FW_DEVICE, 0, 0, 0, IOTSEC_E_INVALID_ARG},
};
const size_t gen_fw_npolicy = sizeof gen_fw_policy_cases / sizeof gen_fw_policy_cases[0];

/* Check policy case v against the library; returns its result. */
int gen_fw_policy_run(const gen_fw_state *s, const struct gen_fw_policy_case *v)
{
    iotsec_device_policy p;

    memset(&p, 0, sizeof p);
    p.device_class = (const uint8_t *)v->device_class;
    p.device_class_len = v->device_class ? strlen(v->device_class) : 0;
    p.device_id = (const uint8_t *)v->device_id;
    p.device_id_len = v->device_id ? strlen(v->device_id) : 0;
    p.now = v->now;
    p.stored_counter = v->stored;
    p.skip = v->skip;
    return iotsec_manifest_check_policy(&s->m[v->manifest], &p);
}

static void fw_policy(FILE *f, const gen_fw_state *s)
{
    size_t i;

    fprintf(f, "  \"policy\": [");
    for (i = 0; i < gen_fw_npolicy; i++) {
        const struct gen_fw_policy_case *v = &gen_fw_policy_cases[i];
        int rc = gen_fw_policy_run(s, v);

        fw_expect(rc, v->want, "policy", v->name);
        fprintf(f, "%s\n    {\"name\": \"%s\", \"manifest\": \"%s\", \"device_class\": ",
                i ? "," : "", v->name, fw_manifest_names[v->manifest]);
        if (v->device_class)
            fprintf(f, "\"%s\"", v->device_class);
        else
            fputs("null", f);
        fputs(", \"device_id\": ", f);
        if (v->device_id)
            fprintf(f, "\"%s\"", v->device_id);
        else
            fputs("null", f);
        fprintf(f, ",\n     \"now\": %llu, \"stored_counter\": %llu, \"skip\": %u, "
                   "\"result\": \"%s\"}",
                (unsigned long long)v->now, (unsigned long long)v->stored, (unsigned)v->skip,
                iotsec_error_name(rc));
    }
    fprintf(f, "\n  ]\n");
}

/* ---- the file ------------------------------------------------------------------------------- */

void gen_firmware(FILE *f)
{
    gen_fw_state *s = calloc(1, sizeof *s);
    uint8_t spki[IOTSEC_SPKI_MAX_LEN], key_id[8];
    size_t spki_len = 0;
    int k;

    if (s == NULL)
        abort();
    gen_fw_setup(s);
    fw_expect(iotsec_privkey_public_spki(&s->sk, spki, sizeof spki, &spki_len), IOTSEC_OK,
              "spki", "key");
    fprintf(f, "{\n  \"format\": \"iotsec firmware image verification and device policy\",\n"
               "  \"spec\": \"bindings-spec/SPEC.md section 7; include/iotsec/image.h and manifest.h. "
               "Every manifest verifies with the one trusted key 'signer'. images: init "
               "(iotsec_image_verify_init with the named key, or _init_plaintext when mode is "
               "plaintext), then the input in updates of 'chunk' bytes, then final; 'result' is "
               "the first error and 'fails_at' the step that returns it; an accepted input "
               "releases image_hex. policy: iotsec_manifest_check_policy; device_class or "
               "device_id null means none given; skip: IOTSEC_POLICY_SKIP_* bits (0x1 class, 0x2 "
               "counter, 0x4 expiry: boot-time re-check only).\",\n"
               "  \"generator\": \"tools/gen-vectors/gen_firmware.c\",\n"
               "  \"keys\": {\n    \"signer\": {\"alg\": \"ed25519\", \"seed_hex\": ");
    fw_hex(f, fw_seed, 32);
    fputs(", \"spki_hex\": ", f);
    fw_hex(f, spki, spki_len);
    fputs(", \"key_id\": ", f);
    fw_hex(f, s->pk.key_id, 8);
    fputs("},\n    \"firmware-aes256\": {\"raw_hex\": ", f);
    fw_hex(f, fw_key, 32);
    fw_expect(iotsec_fw_key_id(s->c, fw_key, key_id), IOTSEC_OK, "key id", "firmware");
    fputs(", \"key_id\": ", f);
    fw_hex(f, key_id, 8);
    fputs("},\n    \"other-aes256\": {\"raw_hex\": ", f);
    fw_hex(f, fw_key_other, 32);
    fw_expect(iotsec_fw_key_id(s->c, fw_key_other, key_id), IOTSEC_OK, "key id", "other");
    fputs(", \"key_id\": ", f);
    fw_hex(f, key_id, 8);
    fputs("},\n    \"firmware-aes256-first-31-bytes\": {\"raw_hex\": ", f);
    fw_hex(f, fw_key, 31);
    fputs("}\n  },\n  \"image_hex\": ", f);
    fw_hex(f, s->image, GEN_FW_IMAGE_LEN);
    fputs(",\n  \"manifests\": [", f);
    for (k = 0; k < GEN_FW_M_COUNT; k++) {
        fprintf(f, "%s\n    {\"name\": \"%s\", \"manifest_hex\": ", k ? "," : "",
                fw_manifest_names[k]);
        fw_hex(f, s->buf[k], s->len[k]);
        fputc('}', f);
    }
    fputs("\n  ],\n", f);
    fw_images(f, s);
    fw_policy(f, s);
    fputs("}\n", f);
    gen_fw_teardown(s);
    free(s);
}
