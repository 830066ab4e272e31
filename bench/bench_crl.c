/*
 * Benchmark: a CRL with 1,000,000 revoked serials (docs/DESIGN.md §7).
 *
 * The CRL (DER) and its CA certificate are generated once with the OpenSSL API (the
 * library's CRL writer, iotsec_x509_crl_create) and cached out of the tree in
 * ${XDG_CACHE_HOME:-$HOME/.cache}/libiotsec-bench/; the generation time is printed when it
 * happens. Serials are a deterministic function of their index, so hits can be regenerated
 * without storing them.
 *
 * Printed, in one run on the same bytes:
 *   load   libiotsec: decode + signature + freshness + index (sorted 20-byte keys)
 *          OpenSSL:   d2i_X509_CRL + X509_CRL_verify, then the sort its first lookup does
 *   lookup median nanoseconds per lookup over 1000 batches of 100 random serials, hits and
 *          misses separately: iotsec_revocation_check_serial (binary search) against
 *          X509_CRL_get0_by_serial (OpenSSL's sorted stack search)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "iotsec/iotsec.h"

#define N_REVOKED 1000000u
#define BATCHES 1000u
#define BATCH 100u
#define CACHE_TAG "crl-1m-v1"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* The serial of index i: 128 pseudo-random bits, as an IOTSEC_SERIAL_LEN key. Indexes
 * ≥ N_REVOKED give serials that are not on the CRL (with overwhelming probability). */
static void serial_of(uint64_t i, uint8_t key[IOTSEC_SERIAL_LEN])
{
    uint64_t a = splitmix64(2 * i + 1), b = splitmix64(2 * i + 2);
    int k;

    memset(key, 0, IOTSEC_SERIAL_LEN);
    for (k = 0; k < 8; k++) {
        key[4 + k] = (uint8_t)(a >> (56 - 8 * k));
        key[12 + k] = (uint8_t)(b >> (56 - 8 * k));
    }
    if (key[4] == 0)
        key[4] = 1; /* never zero, always 16 bytes */
}

static int cache_dir(char *out, size_t cap)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char base[1024];
    int n;

    if (xdg != NULL && *xdg != '\0')
        n = snprintf(base, sizeof base, "%s", xdg);
    else
        n = snprintf(base, sizeof base, "%s/.cache", home != NULL ? home : "/tmp");
    if (n <= 0 || (size_t)n >= sizeof base)
        return -1;
    (void)mkdir(base, 0700);
    n = snprintf(out, cap, "%s/libiotsec-bench", base);
    if (n <= 0 || (size_t)n >= cap || (mkdir(out, 0700) != 0 && errno != EEXIST))
        return -1;
    return 0;
}

/* Generate the CA and the CRL into the cache. */
static int generate(const char *ca_path, const char *crl_path)
{
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *ca = NULL;
    X509_CRL *crl = NULL;
    iotsec_crl_entry *e = malloc(N_REVOKED * sizeof *e);
    int64_t t = (int64_t)time(NULL);
    double t0 = now_s(), t1;
    uint64_t i;
    int rc;

    if (key == NULL || e == NULL)
        return -1;
    rc = iotsec_x509_ca_self_sign(key, "bench CRL CA", t - 86400, t + 20 * 365 * 86400LL, &ca);
    for (i = 0; i < N_REVOKED; i++) {
        serial_of(i, e[i].serial);
        e[i].revoked_at = t - 3600;
    }
    if (rc == IOTSEC_OK)
        rc = iotsec_x509_crl_create(ca, key, e, N_REVOKED, 1, t - 3600, t + 10 * 365 * 86400LL,
                                    &crl);
    t1 = now_s();
    if (rc == IOTSEC_OK)
        rc = iotsec_x509_cert_write_file(ca, ca_path);
    if (rc == IOTSEC_OK)
        rc = iotsec_x509_crl_write_file(crl, crl_path, IOTSEC_X509_DER);
    printf("generated %u-entry CRL in %.2f s (+ %.2f s to write) -> %s\n", N_REVOKED, t1 - t0,
           now_s() - t1, crl_path);
    X509_CRL_free(crl);
    X509_free(ca);
    EVP_PKEY_free(key);
    free(e);
    return rc == IOTSEC_OK ? 0 : -1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return v[n / 2];
}

static volatile int sink;

int main(void)
{
    char dir[1100], ca_path[1200], crl_path[1200];
    struct stat st;
    X509 *ca = NULL;
    X509_CRL *crl;
    iotsec_revocation *rs = NULL;
    uint8_t *der = NULL, (*keys)[IOTSEC_SERIAL_LEN];
    ASN1_INTEGER **ints;
    X509_REVOKED *rev;
    size_t der_len = 0, q, b, nq = (size_t)BATCHES * BATCH;
    double t0, lib_load, ossl_parse, ossl_sort, *lib_ns, *ossl_ns, med[2][2];
    const unsigned char *p;
    uint32_t x = 12345;
    int hit, rc, found;

    if (cache_dir(dir, sizeof dir) != 0) {
        fprintf(stderr, "bench_crl: no cache directory\n");
        return 1;
    }
    snprintf(ca_path, sizeof ca_path, "%s/%s-ca.pem", dir, CACHE_TAG);
    snprintf(crl_path, sizeof crl_path, "%s/%s.der", dir, CACHE_TAG);
    if ((stat(crl_path, &st) != 0 || stat(ca_path, &st) != 0) && generate(ca_path, crl_path) != 0) {
        fprintf(stderr, "bench_crl: generating the CRL failed\n");
        return 1;
    }
    if (iotsec_x509_cert_load_file(ca_path, &ca) != IOTSEC_OK ||
        iotsec_file_read(crl_path, IOTSEC_X509_FILE_MAX, &der, &der_len) != IOTSEC_OK) {
        fprintf(stderr, "bench_crl: cannot read the cache (%s)\n", dir);
        return 1;
    }
    printf("CRL: %u revoked serials, %.1f MB DER (cached in %s)\n", N_REVOKED,
           (double)der_len / 1e6, dir);

    /* ---- load ---- */
    t0 = now_s();
    rc = iotsec_revocation_new(&rs, ca, 0);
    if (rc == IOTSEC_OK)
        rc = iotsec_revocation_add_crl(rs, der, der_len, (int64_t)time(NULL));
    if (rc == IOTSEC_OK)
        rc = iotsec_revocation_seal(rs);
    lib_load = now_s() - t0;
    if (rc != IOTSEC_OK || iotsec_revocation_serial_count(rs) != N_REVOKED) {
        fprintf(stderr, "bench_crl: load failed: %s\n", iotsec_strerror(rc));
        return 1;
    }
    t0 = now_s();
    p = der;
    crl = d2i_X509_CRL(NULL, &p, (long)der_len);
    if (crl == NULL || X509_CRL_verify(crl, X509_get0_pubkey(ca)) != 1) {
        fprintf(stderr, "bench_crl: OpenSSL cannot load the CRL\n");
        return 1;
    }
    ossl_parse = now_s() - t0;

    /* ---- queries: pre-built keys and ASN1_INTEGERs, hits then misses ---- */
    keys = malloc(2 * nq * sizeof *keys);
    ints = malloc(2 * nq * sizeof *ints);
    lib_ns = malloc(BATCHES * sizeof *lib_ns);
    ossl_ns = malloc(BATCHES * sizeof *ossl_ns);
    if (keys == NULL || ints == NULL || lib_ns == NULL || ossl_ns == NULL)
        return 1;
    for (q = 0; q < 2 * nq; q++) {
        BIGNUM *bn;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        serial_of(q < nq ? x % N_REVOKED : N_REVOKED + q, keys[q]);
        bn = BN_bin2bn(keys[q], IOTSEC_SERIAL_LEN, NULL);
        ints[q] = BN_to_ASN1_INTEGER(bn, NULL);
        BN_free(bn);
    }
    /* OpenSSL sorts the entries on the first lookup: part of its load */
    t0 = now_s();
    sink = X509_CRL_get0_by_serial(crl, &rev, ints[0]);
    ossl_sort = now_s() - t0;

    for (hit = 0; hit < 2; hit++) {
        size_t base = hit == 0 ? 0 : nq; /* pass 0: hits, pass 1: misses */
        for (b = 0; b < BATCHES; b++) {
            size_t first = base + b * BATCH;
            found = 0;
            t0 = now_s();
            for (q = first; q < first + BATCH; q++)
                found += iotsec_revocation_check_serial(rs, keys[q]) == IOTSEC_E_REVOKED;
            lib_ns[b] = (now_s() - t0) * 1e9 / BATCH;
            if (found != (hit == 0 ? (int)BATCH : 0)) {
                fprintf(stderr, "bench_crl: libiotsec lookup gave a wrong answer\n");
                return 1;
            }
            found = 0;
            t0 = now_s();
            for (q = first; q < first + BATCH; q++)
                found += X509_CRL_get0_by_serial(crl, &rev, ints[q]) == 1;
            ossl_ns[b] = (now_s() - t0) * 1e9 / BATCH;
            if (found != (hit == 0 ? (int)BATCH : 0)) {
                fprintf(stderr, "bench_crl: OpenSSL lookup gave a wrong answer\n");
                return 1;
            }
        }
        med[hit][0] = median(lib_ns, BATCHES);
        med[hit][1] = median(ossl_ns, BATCHES);
    }

    printf("%-34s %12s %12s %8s\n", "", "libiotsec", "OpenSSL", "ratio");
    printf("%-34s %10.3f s %10.3f s %8.2f\n", "load (parse+verify+index/sort)", lib_load,
           ossl_parse + ossl_sort, lib_load / (ossl_parse + ossl_sort));
    printf("%-34s %12s %10.3f s\n", "  OpenSSL d2i + X509_CRL_verify", "", ossl_parse);
    printf("%-34s %12s %10.3f s\n", "  OpenSSL sort on first lookup", "", ossl_sort);
    printf("%-34s %9.0f ns %9.0f ns %8.2f\n", "lookup, hit (median of 1000x100)", med[0][0],
           med[0][1], med[0][0] / med[0][1]);
    printf("%-34s %9.0f ns %9.0f ns %8.2f\n", "lookup, miss (median of 1000x100)", med[1][0],
           med[1][1], med[1][0] / med[1][1]);
    printf("index memory: %.1f MB (%u x %u-byte keys)\n",
           (double)N_REVOKED * IOTSEC_SERIAL_LEN / 1e6, N_REVOKED, IOTSEC_SERIAL_LEN);

    for (q = 0; q < 2 * nq; q++)
        ASN1_INTEGER_free(ints[q]);
    free(ints);
    free(keys);
    free(lib_ns);
    free(ossl_ns);
    free(der);
    X509_CRL_free(crl);
    X509_free(ca);
    iotsec_revocation_unref(rs);
    return 0;
}
