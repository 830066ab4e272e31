/* Fuzz target: the streaming image verifier fed arbitrary chunk sequences, for a plain image
 * and an AES-256-CBC payload of the same 3000-byte image under fixed signed manifests.
 *
 * Input: byte 0 = mode (bit 0: encrypted; bit 1: feed the true payload altered by one
 * operation, else feed the rest of the input as the payload); in the altered mode bytes 1–3
 * choose the operation (none, flip a byte, cut k bytes, append k bytes) and its argument;
 * the remaining bytes choose the chunk sizes (1 byte to 64 KiB). Invariants: the verifier
 * accepts exactly the true payload, releases exactly the image then, never releases more
 * than the documented bound per call, and on the encrypted path fails only with
 * IOTSEC_E_DIGEST_MISMATCH; the transfer-only check (no key) gives the same verdict. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "iotsec/iotsec.h"
#include "manifest_key.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define IMG_LEN 3000u
#define PAY_LEN 3008u


static const iotsec_crypto *crypto;
static uint8_t image[IMG_LEN], payload[PAY_LEN], fw_key[32];
static uint8_t mplain[IOTSEC_MANIFEST_MAX_LEN], menc[IOTSEC_MANIFEST_MAX_LEN];
static iotsec_manifest m_plain, m_enc;
static int have_aes;

static void setup(void)
{
    static iotsec_privkey sk;
    static iotsec_pubkey pk;
    static iotsec_trust_store ts;
    iotsec_manifest_fields f;
    iotsec_image_encrypt_ctx ec;
    iotsec_image_encrypt_result er;
    uint8_t iv[16], digest[32];
    size_t i, n = 0, n2 = 0, ml = 0;

    crypto = iotsec_crypto_openssl() != NULL ? iotsec_crypto_openssl() : iotsec_crypto_default();
    have_aes = iotsec_crypto_has(crypto, IOTSEC_CAP_AES_CBC);
    for (i = 0; i < IMG_LEN; i++)
        image[i] = (uint8_t)(i * 31u + 7u);
    for (i = 0; i < 32; i++)
        fw_key[i] = (uint8_t)(0x40 + i);
    for (i = 0; i < 16; i++)
        iv[i] = (uint8_t)(0xA0 + i);
    fuzz_manifest_key(crypto, &sk, &pk, &ts);
    if (iotsec_sha256(crypto, image, IMG_LEN, digest) != IOTSEC_OK)
        abort();
    memset(&f, 0, sizeof f);
    f.security_counter = 1;
    f.version = (const uint8_t *)"1.0.0";
    f.version_len = 5;
    f.device_class = (const uint8_t *)"fuzz";
    f.device_class_len = 4;
    f.image_size = IMG_LEN;
    f.image_digest = digest;
    if (iotsec_manifest_sign(&f, &sk, mplain, sizeof mplain, &ml) != IOTSEC_OK ||
        iotsec_manifest_verify(&ts, mplain, ml, &m_plain) != IOTSEC_OK)
        abort();
    if (have_aes) {
        if (iotsec_image_encrypt_init(&ec, crypto, fw_key, iv) != IOTSEC_OK ||
            iotsec_image_encrypt_update(&ec, image, IMG_LEN, payload, PAY_LEN, &n) != IOTSEC_OK ||
            iotsec_image_encrypt_final(&ec, payload + n, PAY_LEN - n, &n2, &er) != IOTSEC_OK ||
            n + n2 != PAY_LEN)
            abort();
        f.present = IOTSEC_MF_ENCRYPTION;
        f.enc_alg = IOTSEC_ENC_AES256_CBC;
        f.enc_key_id = er.key_id;
        f.enc_iv = er.iv;
        f.payload_size = er.payload_size;
        f.payload_digest = er.payload_digest;
        if (iotsec_manifest_sign(&f, &sk, menc, sizeof menc, &ml) != IOTSEC_OK ||
            iotsec_manifest_verify(&ts, menc, ml, &m_enc) != IOTSEC_OK)
            abort();
    }
}

/* chunk size from one schedule byte: 1–128, then steps up to 64 KiB */
static size_t chunk_of(uint8_t b)
{
    if (b < 128u)
        return (size_t)b + 1u;
    if (b == 255u)
        return 65536u;
    return (size_t)(b - 127u) * 509u;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    static uint8_t fed[PAY_LEN + 300], out[65536 + 16], got_plain[PAY_LEN + 64];
    const uint8_t *sched;
    size_t fed_len, sched_len, off = 0, k = 0, plain_len = 0, got = 0;
    iotsec_image_verify_ctx ctx;
    int encrypted, rc = IOTSEC_OK, expect_ok;
    const uint8_t *truth;
    size_t truth_len;

    if (!ready) {
        setup();
        ready = 1;
    }
    if (size < 1)
        return 0;
    encrypted = (data[0] & 1) && have_aes;
    truth = encrypted ? payload : image;
    truth_len = encrypted ? PAY_LEN : IMG_LEN;
    if (data[0] & 2) {
        uint8_t op = size > 1 ? data[1] % 4u : 0;
        size_t arg = size > 3 ? ((size_t)data[2] << 8 | data[3]) : 0;
        memcpy(fed, truth, truth_len);
        fed_len = truth_len;
        if (op == 1)
            fed[arg % truth_len] ^= (uint8_t)(1u << (arg % 8u));
        else if (op == 2)
            fed_len -= arg % 257u;
        else if (op == 3) {
            size_t extra = 1u + arg % 256u;
            memset(fed + truth_len, (int)(arg & 0xff), extra);
            fed_len += extra;
        }
        sched = size > 4 ? data + 4 : NULL;
        sched_len = size > 4 ? size - 4 : 0;
    } else {
        fed_len = size - 1 < sizeof fed ? size - 1 : sizeof fed;
        memcpy(fed, data + 1, fed_len);
        sched = data + 1;
        sched_len = size - 1;
    }
    expect_ok = fed_len == truth_len && memcmp(fed, truth, truth_len) == 0;

    if (iotsec_image_verify_init(&ctx, crypto, encrypted ? &m_enc : &m_plain,
                                 encrypted ? fw_key : NULL, encrypted ? 32u : 0u) != IOTSEC_OK)
        abort();
    while (off < fed_len) {
        size_t step = sched_len > 0 ? chunk_of(sched[k++ % sched_len]) : 2048u;
        if (step > fed_len - off)
            step = fed_len - off;
        rc = iotsec_image_verify_update(&ctx, fed + off, step, out, sizeof out, &got);
        if (rc != IOTSEC_OK)
            break;
        if (got > step + 15u || (!encrypted && got != step) || plain_len + got > sizeof got_plain)
            abort();
        memcpy(got_plain + plain_len, out, got);
        plain_len += got;
        off += step;
    }
    if (rc == IOTSEC_OK) {
        rc = iotsec_image_verify_final(&ctx, out, sizeof out, &got);
        if (rc == IOTSEC_OK) {
            memcpy(got_plain + plain_len, out, got);
            plain_len += got;
        }
    } else {
        iotsec_image_verify_cleanup(&ctx);
    }
    if ((rc == IOTSEC_OK) != expect_ok)
        abort();
    if (rc != IOTSEC_OK && rc != IOTSEC_E_DIGEST_MISMATCH)
        abort();
    if (rc == IOTSEC_OK && (plain_len != IMG_LEN || memcmp(got_plain, image, IMG_LEN) != 0))
        abort();
    /* transfer only (no key): the same bytes against the signed transferred size and
     * digest give the same verdict */
    if (iotsec_image_verify_init_transfer(&ctx, crypto, encrypted ? &m_enc : &m_plain) !=
        IOTSEC_OK)
        abort();
    rc = iotsec_image_verify_update(&ctx, fed, fed_len, NULL, 0, NULL);
    if (rc == IOTSEC_OK)
        rc = iotsec_image_verify_final(&ctx, NULL, 0, NULL);
    else
        iotsec_image_verify_cleanup(&ctx);
    if ((rc == IOTSEC_OK) != expect_ok || (rc != IOTSEC_OK && rc != IOTSEC_E_DIGEST_MISMATCH))
        abort();
    return 0;
}
