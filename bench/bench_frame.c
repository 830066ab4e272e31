/*
 * Benchmark: telemetry frames opened per second (iotsec_frame_open, OpenSSL backend) for
 * 64, 256 and 1024-byte payloads, plaintext and encrypted, beside the raw OpenSSL
 * primitives over the same bytes, measured in the same run:
 *
 *   raw HMAC   OpenSSL's one-shot HMAC(EVP_sha256(), key, 32, msg, n, …) over exactly the
 *              bytes a frame's tag covers (the frame minus its 32-byte tag), key given each
 *              time: what a receiver without a cached key context pays. Printed as well:
 *              EVP_MAC with the key set once and re-initialised per message (the reuse the
 *              library does), for reference.
 *   raw AES    EVP AES-128-CBC decryption (no padding) of the frame's ciphertext, with the
 *              key and IV set per message as a frame needs.
 *
 * Ratios are library / raw (1.0 = as fast as the bare primitives; the library adds the
 * bounded parse, the constant-time compare, the header checks and the padding check).
 * Target (issue 3): plaintext 256-byte frames at ≥ 0.8 of raw HMAC. Each figure is measured
 * for about 0.5 s; this is a benchmark, never a pass/fail test.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "iotsec/iotsec.h"

/* Each figure: the best of ROUNDS interleaved runs of RUN_SECONDS / ROUNDS each, so that
 * load from other processes on a shared machine biases library and raw alike. */
#define RUN_SECONDS 0.5
#define ROUNDS 3

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static volatile uint8_t sink;

static void die(const char *what)
{
    fprintf(stderr, "bench_frame: %s failed\n", what);
    exit(1);
}

/* Operations per second of op(ctx), run for RUN_SECONDS / ROUNDS in batches of 256. */
static double rate1(void (*op)(void *), void *ctx)
{
    double t0, t;
    unsigned long n = 0;
    unsigned i;

    for (i = 0; i < 1000; i++) /* warm up */
        op(ctx);
    t0 = now();
    do {
        for (i = 0; i < 256; i++)
            op(ctx);
        n += 256;
        t = now();
    } while (t - t0 < RUN_SECONDS / ROUNDS);
    return (double)n / (t - t0);
}

/* Best of ROUNDS interleaved runs of each of up to four operations: out[k] for ops[k]. */
static void rates(void (*const *ops)(void *), size_t n_ops, void *ctx, double *out)
{
    size_t r, k;

    for (k = 0; k < n_ops; k++)
        out[k] = 0;
    for (r = 0; r < ROUNDS; r++) {
        for (k = 0; k < n_ops; k++) {
            double v = rate1(ops[k], ctx);
            if (v > out[k])
                out[k] = v;
        }
    }
}

struct job {
    iotsec_frame_keys *keys;
    const uint8_t *frame;
    size_t frame_len;
    const char *json;
    size_t json_len;
    uint8_t out[2048];
    uint8_t mac_key[32];
    uint8_t enc_key[16];
    const uint8_t *iv;
    const uint8_t *ct;
    size_t ct_len;
    EVP_MAC_CTX *mac;
    EVP_CIPHER_CTX *aes;
};

static void op_open(void *p)
{
    struct job *j = p;
    size_t n;

    if (iotsec_frame_open(j->keys, j->frame, j->frame_len, NULL, j->out, sizeof j->out, &n) !=
        IOTSEC_OK)
        die("iotsec_frame_open");
    sink ^= j->out[0];
}

static void op_open_json(void *p)
{
    struct job *j = p;
    size_t n;

    if (iotsec_frame_open_json(j->keys, j->json, j->json_len, NULL, j->out, sizeof j->out, &n) !=
        IOTSEC_OK)
        die("iotsec_frame_open_json");
    sink ^= j->out[0];
}

static void op_hmac_oneshot(void *p)
{
    struct job *j = p;
    unsigned char tag[32];
    unsigned int n = 0;

    if (HMAC(EVP_sha256(), j->mac_key, 32, j->frame, j->frame_len - 32, tag, &n) == NULL)
        die("HMAC");
    sink ^= tag[0];
}

static void op_hmac_reuse(void *p)
{
    struct job *j = p;
    unsigned char tag[32];
    size_t n = 0;

    if (EVP_MAC_init(j->mac, NULL, 0, NULL) != 1 ||
        EVP_MAC_update(j->mac, j->frame, j->frame_len - 32) != 1 ||
        EVP_MAC_final(j->mac, tag, &n, sizeof tag) != 1)
        die("EVP_MAC");
    sink ^= tag[0];
}

static void op_aes(void *p)
{
    struct job *j = p;
    int n = 0;

    if (EVP_DecryptInit_ex(j->aes, EVP_aes_128_cbc(), NULL, j->enc_key, j->iv) != 1 ||
        EVP_CIPHER_CTX_set_padding(j->aes, 0) != 1 ||
        EVP_DecryptUpdate(j->aes, j->out, &n, j->ct, (int)j->ct_len) != 1)
        die("EVP_Decrypt");
    sink ^= j->out[0];
}

/* raw HMAC and raw AES back to back: the primitives an encrypted frame needs */
static void op_hmac_aes(void *p)
{
    op_hmac_oneshot(p);
    op_aes(p);
}

int main(void)
{
    static const size_t sizes[] = {64, 256, 1024};
    static const uint8_t master[32] = {1, 2, 3};
    static const uint8_t iv[16] = {9};
    const iotsec_crypto *c = iotsec_crypto_openssl();
    iotsec_frame_keys keys;
    uint8_t payload[1024], frame[2048];
    char json[4096];
    struct job j;
    size_t s;
    EVP_MAC *mac;
    OSSL_PARAM params[2];

    if (c == NULL)
        die("the OpenSSL backend");
    if (iotsec_frame_keys_derive(&keys, c, master, "bench-device-0001", 17, 0,
                                 IOTSEC_FRAME_UPLINK) != IOTSEC_OK)
        die("derive");
    memset(&j, 0, sizeof j);
    j.keys = &keys;
    {
        /* the derived keys, for the raw primitives */
        uint8_t info[6 + 17] = {'m', 'a', 'c', 0, 0, 0};
        memcpy(info + 6, "bench-device-0001", 17);
        if (iotsec_hkdf_sha256(c, (const uint8_t *)"iotsec-frame-v1", 15, master, 32, info,
                               sizeof info, j.mac_key, 32) != IOTSEC_OK)
            die("hkdf");
        memcpy(j.enc_key, keys.enc_key, 16);
    }
    mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    j.mac = mac ? EVP_MAC_CTX_new(mac) : NULL;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    if (j.mac == NULL || EVP_MAC_init(j.mac, j.mac_key, 32, params) != 1)
        die("EVP_MAC setup");
    j.aes = EVP_CIPHER_CTX_new();
    if (j.aes == NULL)
        die("EVP_CIPHER_CTX_new");
    memset(payload, 0x5a, sizeof payload);

    printf("frames opened per second (OpenSSL backend; %s); ratio = library / raw primitives\n",
           OpenSSL_version(OPENSSL_VERSION));
    printf("raw HMAC = HMAC() one-shot, key each time; raw AES = EVP AES-128-CBC decrypt, key+IV "
           "each time\n\n");
    printf("%-8s %-9s %12s %12s %7s %12s %7s\n", "payload", "", "open/s", "raw/s", "ratio",
           "MAC-reuse/s", "ratio");
    for (s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        static void (*const plain_ops[])(void *) = {op_open, op_hmac_oneshot, op_hmac_reuse,
                                                    op_open_json};
        static void (*const enc_ops[])(void *) = {op_open, op_hmac_aes, op_aes};
        size_t n = 0, jl = 0;
        double r[4];

        /* plaintext */
        if (iotsec_frame_seal(&keys, 1, 0, NULL, payload, sizes[s], frame, sizeof frame, &n) !=
                IOTSEC_OK ||
            iotsec_frame_to_json(frame, n, json, sizeof json, &jl) != IOTSEC_OK)
            die("seal");
        j.frame = frame;
        j.frame_len = n;
        j.json = json;
        j.json_len = jl;
        rates(plain_ops, 4, &j, r);
        printf("%-8zu %-9s %12.0f %12.0f %7.2f %12.0f %7.2f   (frame %zu B; JSON open %.0f/s)\n",
               sizes[s], "plain", r[0], r[1], r[0] / r[1], r[2], r[0] / r[2], n, r[3]);
        /* encrypted */
        if (iotsec_frame_seal(&keys, 1, 1, iv, payload, sizes[s], frame, sizeof frame, &n) !=
            IOTSEC_OK)
            die("seal encrypted");
        j.frame_len = n;
        j.iv = frame + 12 + 17 + 4;
        j.ct = j.iv + 16;
        j.ct_len = n - (12 + 17 + 4 + 16) - 32;
        rates(enc_ops, 3, &j, r);
        printf("%-8zu %-9s %12.0f %12.0f %7.2f   (raw = HMAC() + AES-CBC over %zu + %zu B; AES "
               "alone %.0f/s)\n",
               sizes[s], "encrypted", r[0], r[1], r[0] / r[1], n - 32, j.ct_len, r[2]);
    }
    EVP_CIPHER_CTX_free(j.aes);
    EVP_MAC_CTX_free(j.mac);
    EVP_MAC_free(mac);
    iotsec_frame_keys_cleanup(&keys);
    return 0;
}
