/* Helpers shared by bench_counter.c and bench_replay_store.c (each a separate program): a
 * monotonic clock and the OpenSSL HMAC-SHA256 baseline both report their figures against. */
#ifndef IOTSEC_NONCE_BENCH_H
#define IOTSEC_NONCE_BENCH_H

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* OpenSSL HMAC-SHA256 of a 64-byte frame, per second, measured for max_s seconds */
static double raw_hmac(double max_s)
{
    uint8_t key[32], msg[64], mac[EVP_MAX_MD_SIZE];
    unsigned int maclen;
    unsigned long i = 0;
    double t0;

    memset(key, 7, sizeof key);
    memset(msg, 9, sizeof msg);
    t0 = now_s();
    do {
        unsigned k;
        for (k = 0; k < 256; k++) {
            msg[0] = (uint8_t)k;
            if (HMAC(EVP_sha256(), key, sizeof key, msg, sizeof msg, mac, &maclen) == NULL)
                exit(1);
        }
        i += 256;
    } while (now_s() - t0 < max_s);
    return (double)i / (now_s() - t0);
}

#endif
