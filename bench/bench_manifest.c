/*
 * Benchmark: firmware manifests and streaming image verification, as ratios against raw
 * OpenSSL primitives measured in the same run (never a pass/fail test).
 *
 *   1. a 16 MiB plain image through iotsec_image_verify_* (64 KiB chunks) vs raw EVP SHA-256
 *   2. a 16 MiB AES-256-CBC payload (hash, decrypt, hash) vs raw EVP AES-256-CBC decrypt and
 *      vs the raw sum of the same three primitives
 *   3. manifest verifications per second per algorithm (iotsec_manifest_verify: header,
 *      key lookup, signature, TLV parse) vs raw EVP_DigestVerify over the same bytes,
 *      plus `openssl speed` for reference
 *   4. peak RSS (getrusage ru_maxrss) of a child process streaming 16 MiB and 256 MiB images
 *      (plain and encrypted) from files: bounded RAM means the two figures match
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "iotsec/iotsec.h"

#define MIB (1024u * 1024u)
#define CHUNK 65536u
#define KEYS "bindings-spec/vectors/keys/"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_manifest: %s: %s\n", what, iotsec_strerror(rc));
    exit(1);
}

/* random image bytes (OpenSSL's generator: the content does not matter, only its size) */
static void fill(uint8_t *b, size_t n)
{
    if (RAND_bytes(b, (int)n) != 1)
        die("RAND_bytes", IOTSEC_E_BACKEND);
}

/* ---- fixtures ------------------------------------------------------------------------------ */

static iotsec_privkey g_sk;
static iotsec_pubkey g_pk;
static iotsec_trust_store g_ts;
static const uint8_t fw_key[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                   17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static void load_key(const iotsec_crypto *c, const char *file, iotsec_privkey *sk,
                     iotsec_pubkey *pk)
{
    uint8_t spki[IOTSEC_SPKI_MAX_LEN];
    size_t spki_len = 0;
    int rc = iotsec_privkey_load_file(sk, c, file);

    if (rc == IOTSEC_OK)
        rc = iotsec_privkey_public_spki(sk, spki, sizeof spki, &spki_len);
    if (rc == IOTSEC_OK)
        rc = iotsec_pubkey_load(pk, c, spki, spki_len);
    if (rc != IOTSEC_OK)
        die(file, rc);
}

/* A verified manifest for an image (plain) or its payload (encrypted), built from the
 * sizes and digests given. */
static void make_manifest(uint64_t image_size, const uint8_t image_digest[32],
                          const iotsec_image_encrypt_result *er, uint8_t *buf,
                          iotsec_manifest *m)
{
    iotsec_manifest_fields f;
    size_t len = 0;
    int rc;

    memset(&f, 0, sizeof f);
    f.security_counter = 1;
    f.version = (const uint8_t *)"1.0.0";
    f.version_len = 5;
    f.device_class = (const uint8_t *)"bench";
    f.device_class_len = 5;
    f.image_size = image_size;
    f.image_digest = image_digest;
    if (er != NULL) {
        f.present = IOTSEC_MF_ENCRYPTION;
        f.enc_alg = IOTSEC_ENC_AES256_CBC;
        f.enc_key_id = er->key_id;
        f.enc_iv = er->iv;
        f.payload_size = er->payload_size;
        f.payload_digest = er->payload_digest;
    }
    rc = iotsec_manifest_sign(&f, &g_sk, buf, IOTSEC_MANIFEST_MAX_LEN, &len);
    if (rc == IOTSEC_OK)
        rc = iotsec_manifest_verify(&g_ts, buf, len, m);
    if (rc != IOTSEC_OK)
        die("manifest", rc);
}

/* Encrypt img into pay (capacity n + 16); returns the result. */
static void encrypt_image(const iotsec_crypto *c, const uint8_t *img, size_t n, uint8_t *pay,
                          iotsec_image_encrypt_result *er)
{
    static const uint8_t iv[16] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6};
    iotsec_image_encrypt_ctx ec;
    size_t got = 0, got2 = 0;
    int rc = iotsec_image_encrypt_init(&ec, c, fw_key, iv);

    if (rc == IOTSEC_OK)
        rc = iotsec_image_encrypt_update(&ec, img, n, pay, n + 16, &got);
    if (rc == IOTSEC_OK)
        rc = iotsec_image_encrypt_final(&ec, pay + got, n + 16 - got, &got2, er);
    if (rc != IOTSEC_OK)
        die("encrypt", rc);
}

/* ---- 1, 2: streaming throughput ------------------------------------------------------------------ */

static double raw_sha256(const uint8_t *b, size_t n)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char d[32];
    unsigned dl = 0;
    double t = now_s();
    size_t off;

    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    for (off = 0; off < n; off += CHUNK)
        EVP_DigestUpdate(md, b + off, CHUNK);
    EVP_DigestFinal_ex(md, d, &dl);
    EVP_MD_CTX_free(md);
    return now_s() - t;
}

static double raw_aes_dec(const uint8_t *in, uint8_t *out, size_t n)
{
    static const uint8_t iv[16] = {0};
    EVP_CIPHER_CTX *cx = EVP_CIPHER_CTX_new();
    int ol = 0;
    double t = now_s();
    size_t off;

    EVP_DecryptInit_ex(cx, EVP_aes_256_cbc(), NULL, fw_key, iv);
    EVP_CIPHER_CTX_set_padding(cx, 0);
    for (off = 0; off < n; off += CHUNK)
        EVP_DecryptUpdate(cx, out, &ol, in + off, (int)CHUNK);
    EVP_CIPHER_CTX_free(cx);
    return now_s() - t;
}

static double lib_verify(const iotsec_crypto *c, const iotsec_manifest *m, const uint8_t *key,
                         const uint8_t *b, size_t n, uint8_t *out)
{
    iotsec_image_verify_ctx ctx;
    double t = now_s();
    size_t off, got = 0;
    int rc = iotsec_image_verify_init(&ctx, c, m, key, key ? 32u : 0u);

    for (off = 0; rc == IOTSEC_OK && off < n; off += CHUNK) {
        size_t step = n - off < CHUNK ? n - off : CHUNK;
        rc = iotsec_image_verify_update(&ctx, b + off, step, out, out ? CHUNK + 16u : 0u, &got);
    }
    if (rc == IOTSEC_OK)
        rc = iotsec_image_verify_final(&ctx, out, out ? CHUNK + 16u : 0u, &got);
    if (rc != IOTSEC_OK)
        die("image verify", rc);
    return now_s() - t;
}

/* best of `reps` runs, in MB/s (1 MB = 10^6 bytes) */
#define BEST(expr, bytes, reps, out_mbps)                                                     \
    do {                                                                                      \
        double best_ = 1e9;                                                                   \
        int r_;                                                                               \
        for (r_ = 0; r_ < (reps); r_++) {                                                     \
            double t_ = (expr);                                                               \
            if (t_ < best_)                                                                   \
                best_ = t_;                                                                   \
        }                                                                                     \
        (out_mbps) = (double)(bytes) / best_ / 1e6;                                           \
    } while (0)

static void bench_stream(const iotsec_crypto *c)
{
    const size_t n = 16u * MIB;
    uint8_t *img = malloc(n), *pay = malloc(n + 16), *scratch = malloc(n + 16);
    uint8_t *out = malloc(CHUNK + 16u), digest[32];
    uint8_t mbuf[IOTSEC_MANIFEST_MAX_LEN], ebuf[IOTSEC_MANIFEST_MAX_LEN];
    iotsec_image_encrypt_result er;
    iotsec_manifest mp, me;
    double sha, lib_plain, aes, lib_enc;
    int rc;

    if (img == NULL || pay == NULL || scratch == NULL || out == NULL)
        die("malloc", IOTSEC_E_NO_MEMORY);
    fill(img, n);
    if ((rc = iotsec_sha256(c, img, n, digest)) != IOTSEC_OK)
        die("sha256", rc);
    make_manifest(n, digest, NULL, mbuf, &mp);
    encrypt_image(c, img, n, pay, &er);
    make_manifest(n, er.image_digest, &er, ebuf, &me);

    BEST(raw_sha256(img, n), n, 5, sha);
    BEST(lib_verify(c, &mp, NULL, img, n, NULL), n, 5, lib_plain);
    printf("plain image, 16 MiB, 64 KiB chunks:\n");
    printf("  raw OpenSSL SHA-256          %8.1f MB/s\n", sha);
    printf("  iotsec_image_verify (plain)  %8.1f MB/s   ratio %.3f (target >= 0.9)\n", lib_plain,
           lib_plain / sha);

    BEST(raw_aes_dec(pay, scratch, n), n, 5, aes);
    BEST(lib_verify(c, &me, fw_key, pay, n + 16u, out), n + 16u, 5, lib_enc);
    {
        /* the same work done with raw primitives: SHA-256(ct) + AES-CBC decrypt + SHA-256(pt) */
        double composite = 1.0 / (1.0 / sha + 1.0 / aes + 1.0 / sha);
        printf("encrypted payload, 16 MiB, 64 KiB chunks:\n");
        printf("  raw OpenSSL AES-256-CBC dec  %8.1f MB/s\n", aes);
        printf("  raw SHA + AES-dec + SHA      %8.1f MB/s   (computed from the two above)\n",
               composite);
        printf("  iotsec_image_verify (enc)    %8.1f MB/s   ratio %.3f of the raw sum, %.3f of raw "
               "AES\n", lib_enc, lib_enc / composite, lib_enc / aes);
    }
    free(img);
    free(pay);
    free(scratch);
    free(out);
}

/* ---- 3: signatures ---------------------------------------------------------------------------- */

static double raw_verify_rate(const char *file, int alg, const uint8_t *msg, size_t msg_len,
                              const uint8_t *sig, size_t sig_len, double secs)
{
    FILE *fp = fopen(file, "rb");
    EVP_PKEY *pkey = NULL;
    unsigned char der[80];
    const unsigned char *s = sig;
    size_t slen = sig_len;
    double t0 = now_s(), t;
    long n = 0;

    if (fp == NULL)
        die(file, IOTSEC_E_IO);
    pkey = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
    fclose(fp);
    if (pkey == NULL)
        die("PEM_read_PrivateKey", IOTSEC_E_BACKEND);
    if (alg == IOTSEC_SIG_ECDSA_P256) {
        /* raw r||s → DER, once (OpenSSL verifies DER) */
        size_t o = 2, i;
        for (i = 0; i < 2; i++) {
            const uint8_t *v = sig + 32 * i;
            size_t k = 32;
            while (k > 1 && *v == 0) {
                v++;
                k--;
            }
            der[o++] = 0x02;
            der[o++] = (uint8_t)(k + (*v & 0x80 ? 1 : 0));
            if (*v & 0x80)
                der[o++] = 0;
            memcpy(der + o, v, k);
            o += k;
        }
        der[0] = 0x30;
        der[1] = (uint8_t)(o - 2);
        s = der;
        slen = o;
    }
    do {
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        EVP_PKEY_CTX *pctx = NULL;
        EVP_DigestVerifyInit(md, &pctx, alg == IOTSEC_SIG_ED25519 ? NULL : EVP_sha256(), NULL,
                             pkey);
        if (alg == IOTSEC_SIG_RSA_PSS) {
            EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
            EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_AUTO);
            EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256());
        }
        if (EVP_DigestVerify(md, s, slen, msg, msg_len) != 1)
            die("EVP_DigestVerify", IOTSEC_E_BAD_SIGNATURE);
        EVP_MD_CTX_free(md);
        n++;
        t = now_s() - t0;
    } while (t < secs);
    EVP_PKEY_free(pkey);
    return (double)n / t;
}

static double lib_verify_rate(const iotsec_trust_store *ts, const uint8_t *buf, size_t len,
                              double secs)
{
    iotsec_manifest m;
    double t0 = now_s(), t;
    long n = 0;

    do {
        int rc = iotsec_manifest_verify(ts, buf, len, &m);
        if (rc != IOTSEC_OK)
            die("iotsec_manifest_verify", rc);
        n++;
        t = now_s() - t0;
    } while (t < secs);
    return (double)n / t;
}

static void bench_signatures(void)
{
    static const struct {
        const char *name, *file;
    } algs[] = {{"ed25519", KEYS "manifest-ed25519-1.pem"},
                {"p256", KEYS "manifest-p256.pem"},
                {"rsa-pss-2048", KEYS "manifest-rsa2048.pem"}};
    const iotsec_crypto *backends[2] = {iotsec_crypto_openssl(), iotsec_crypto_sodium()};
    uint8_t digest[32] = {0}, buf[IOTSEC_MANIFEST_MAX_LEN];
    size_t i, b;

    printf("manifest verifications per second (1 s each; full iotsec_manifest_verify vs raw "
           "EVP_DigestVerify of the same bytes):\n");
    for (i = 0; i < sizeof algs / sizeof algs[0]; i++) {
        for (b = 0; b < 2; b++) {
            const iotsec_crypto *c = backends[b];
            iotsec_privkey sk;
            iotsec_pubkey pk;
            iotsec_trust_store ts;
            iotsec_manifest_fields f;
            size_t len = 0, signed_len;
            double lib, raw;
            int rc;

            if (c == NULL)
                continue;
            rc = iotsec_privkey_load_file(&sk, c, algs[i].file);
            if (rc == IOTSEC_E_UNSUPPORTED)
                continue; /* libsodium: Ed25519 only */
            iotsec_privkey_free(&sk);
            load_key(c, algs[i].file, &sk, &pk);
            if ((rc = iotsec_trust_store_init(&ts, &pk, 1)) != IOTSEC_OK)
                die("trust store", rc);
            memset(&f, 0, sizeof f);
            f.security_counter = 3;
            f.version = (const uint8_t *)"2.1.0";
            f.version_len = 5;
            f.device_class = (const uint8_t *)"ecowatt-esp32";
            f.device_class_len = 13;
            f.image_size = 1u << 20;
            f.image_digest = digest;
            if ((rc = iotsec_manifest_sign(&f, &sk, buf, sizeof buf, &len)) != IOTSEC_OK)
                die("sign", rc);
            signed_len = 16u + (size_t)(buf[6] << 8 | buf[7]);
            lib = lib_verify_rate(&ts, buf, len, 1.0);
            raw = raw_verify_rate(algs[i].file, (int)sk.alg, buf, signed_len, buf + signed_len + 2,
                                  len - signed_len - 2, 1.0);
            printf("  %-13s %-8s %9.0f /s   raw OpenSSL %9.0f /s   ratio %.3f%s\n", algs[i].name,
                   c->name, lib, raw, lib / raw,
                   b == 1 ? " (libsodium backend vs raw OpenSSL)" : "");
            iotsec_privkey_free(&sk);
            iotsec_pubkey_free(&pk);
        }
    }
}

static void openssl_speed(void)
{
    FILE *p = popen("openssl speed -seconds 1 ed25519 ecdsap256 rsa2048 2>/dev/null", "r");
    char line[512];
    int show = 0;

    printf("openssl speed -seconds 1 ed25519 ecdsap256 rsa2048 (for reference):\n");
    if (p == NULL) {
        printf("  (openssl not available)\n");
        return;
    }
    while (fgets(line, sizeof line, p) != NULL) {
        /* the summary tables start with a header containing "sign/s" or "verify/s" */
        if (strstr(line, "sign/s") != NULL || strstr(line, "verify/s") != NULL)
            show = 1;
        if (show)
            printf("  %s", line);
    }
    pclose(p);
}

/* ---- 4: peak RSS ------------------------------------------------------------------------------- */

/* Write an n-byte image (and, when pay_path, its encrypted payload) in CHUNK steps; return
 * the image digest and the encryption result. */
static void make_files(const iotsec_crypto *c, const char *img_path, const char *pay_path,
                       size_t n, uint8_t digest[32], iotsec_image_encrypt_result *er)
{
    static const uint8_t iv[16] = {5};
    FILE *fi = fopen(img_path, "wb"), *fp = pay_path ? fopen(pay_path, "wb") : NULL;
    uint8_t *b = malloc(CHUNK), *o = malloc(CHUNK + 16u);
    iotsec_sha256_ctx h;
    iotsec_image_encrypt_ctx ec;
    size_t off, got = 0;
    int rc;

    if (fi == NULL || b == NULL || o == NULL || (pay_path && fp == NULL))
        die("make_files", IOTSEC_E_IO);
    rc = iotsec_sha256_init(&h, c);
    if (rc == IOTSEC_OK && pay_path)
        rc = iotsec_image_encrypt_init(&ec, c, fw_key, iv);
    for (off = 0; rc == IOTSEC_OK && off < n; off += CHUNK) {
        fill(b, CHUNK);
        rc = iotsec_sha256_update(&h, b, CHUNK);
        if (fwrite(b, 1, CHUNK, fi) != CHUNK)
            rc = IOTSEC_E_IO;
        if (rc == IOTSEC_OK && pay_path) {
            rc = iotsec_image_encrypt_update(&ec, b, CHUNK, o, CHUNK + 16u, &got);
            if (rc == IOTSEC_OK && fwrite(o, 1, got, fp) != got)
                rc = IOTSEC_E_IO;
        }
    }
    if (rc == IOTSEC_OK)
        rc = iotsec_sha256_final(&h, digest);
    if (rc == IOTSEC_OK && pay_path) {
        rc = iotsec_image_encrypt_final(&ec, o, CHUNK + 16u, &got, er);
        if (rc == IOTSEC_OK && fwrite(o, 1, got, fp) != got)
            rc = IOTSEC_E_IO;
    }
    if (fclose(fi) != 0 || (fp && fclose(fp) != 0))
        rc = IOTSEC_E_IO;
    if (rc != IOTSEC_OK)
        die("make_files", rc);
    free(b);
    free(o);
}

/* In a child process: stream path through the verifier with a 64 KiB buffer; returns the
 * child's peak RSS in KiB, or -1 if the verification failed. */
static long rss_of_verify(const iotsec_crypto *c, const iotsec_manifest *m, const uint8_t *key,
                          const char *path, double *secs)
{
    int fds[2];
    pid_t pid;
    long kib = -1;
    double t0 = now_s();

    if (pipe(fds) != 0)
        die("pipe", IOTSEC_E_IO);
    pid = fork();
    if (pid == 0) {
        static uint8_t in[CHUNK], out[CHUNK + 16u];
        iotsec_image_verify_ctx ctx;
        struct rusage ru;
        int fd = open(path, O_RDONLY), rc;
        ssize_t r;
        size_t got = 0;
        long res = -1;

        rc = fd >= 0 ? iotsec_image_verify_init(&ctx, c, m, key, key ? 32u : 0u) : IOTSEC_E_IO;
        while (rc == IOTSEC_OK && (r = read(fd, in, CHUNK)) > 0)
            rc = iotsec_image_verify_update(&ctx, in, (size_t)r, out, sizeof out, &got);
        if (rc == IOTSEC_OK)
            rc = iotsec_image_verify_final(&ctx, out, sizeof out, &got);
        if (rc == IOTSEC_OK && getrusage(RUSAGE_SELF, &ru) == 0)
            res = ru.ru_maxrss;
        if (write(fds[1], &res, sizeof res) != (ssize_t)sizeof res)
            _exit(1);
        _exit(0);
    }
    close(fds[1]);
    if (read(fds[0], &kib, sizeof kib) != (ssize_t)sizeof kib)
        kib = -1;
    close(fds[0]);
    waitpid(pid, NULL, 0);
    *secs = now_s() - t0;
    return kib;
}

static void bench_rss(const iotsec_crypto *c)
{
    static const size_t sizes[] = {16u * MIB, 256u * MIB};
    char dir[] = "/tmp/iotsec-bench-XXXXXX", img[64], pay[64];
    size_t i;

    if (mkdtemp(dir) == NULL)
        die("mkdtemp", IOTSEC_E_IO);
    snprintf(img, sizeof img, "%s/fw.bin", dir);
    snprintf(pay, sizeof pay, "%s/fw.enc", dir);
    printf("peak RSS of a child process streaming an image from a file (64 KiB reads):\n");
    for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        uint8_t digest[32], mb[IOTSEC_MANIFEST_MAX_LEN], eb[IOTSEC_MANIFEST_MAX_LEN];
        iotsec_image_encrypt_result er;
        iotsec_manifest mp, me;
        double tp = 0, te = 0;
        long rp, re;

        make_files(c, img, pay, sizes[i], digest, &er);
        make_manifest(sizes[i], digest, NULL, mb, &mp);
        make_manifest(sizes[i], er.image_digest, &er, eb, &me);
        rp = rss_of_verify(c, &mp, NULL, img, &tp);
        re = rss_of_verify(c, &me, fw_key, pay, &te);
        printf("  %4zu MiB  plain: max RSS %6ld KiB (%.2f s)   encrypted: max RSS %6ld KiB "
               "(%.2f s)\n", sizes[i] / MIB, rp, tp, re, te);
        unlink(img);
        unlink(pay);
    }
    rmdir(dir);
    printf("  (sizeof iotsec_image_verify_ctx = %zu bytes; the backend's SHA/AES state is "
           "allocated by OpenSSL)\n", sizeof(iotsec_image_verify_ctx));
}

int main(void)
{
    const iotsec_crypto *c = iotsec_crypto_openssl();
    double t0 = now_s();

    if (c == NULL) {
        printf("bench_manifest: needs the OpenSSL backend\n");
        return 0;
    }
    load_key(c, KEYS "manifest-ed25519-1.pem", &g_sk, &g_pk);
    if (iotsec_trust_store_init(&g_ts, &g_pk, 1) != IOTSEC_OK)
        die("trust store", IOTSEC_E_BAD_KEY);
    bench_stream(c);
    bench_signatures();
    openssl_speed();
    bench_rss(c);
    iotsec_privkey_free(&g_sk);
    iotsec_pubkey_free(&g_pk);
    printf("total %.1f s\n", now_s() - t0);
    return 0;
}
