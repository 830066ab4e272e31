/* Benchmark: sender counters (counter.h). Flash writes per 1,000,000 counters for R = 1 and
 * R = 1024 (counting in-memory port), counters per second on the in-memory port and on the
 * POSIX file port with real fsync; ratios against the raw primitives measured in the same
 * run: one OpenSSL HMAC-SHA256 of a 64-byte frame (what sealing costs anyway) and one raw
 * pwrite + fsync of 20 bytes (what a reservation costs at least). Bounded runtime; the
 * file port runs in a temporary directory that is removed. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "iotsec/iotsec.h"
#include "nonce_bench.h"

typedef struct counting {
    uint8_t flash[2][IOTSEC_COUNTER_RECORD_LEN];
    unsigned long writes, flushes;
} counting;

static int c_read(void *ctx, unsigned slot, uint8_t buf[IOTSEC_COUNTER_RECORD_LEN])
{
    memcpy(buf, ((counting *)ctx)->flash[slot], IOTSEC_COUNTER_RECORD_LEN);
    return IOTSEC_OK;
}

static int c_write(void *ctx, unsigned slot, const uint8_t buf[IOTSEC_COUNTER_RECORD_LEN])
{
    counting *c = ctx;

    memcpy(c->flash[slot], buf, IOTSEC_COUNTER_RECORD_LEN);
    c->writes++;
    return IOTSEC_OK;
}

static int c_flush(void *ctx)
{
    ((counting *)ctx)->flushes++;
    return IOTSEC_OK;
}

/* n counters from a blank counting port with step R; returns seconds, *writes set */
static double run_memory(uint32_t step, unsigned long n, unsigned long *writes)
{
    counting cp;
    iotsec_counter_port port = {&cp, c_read, c_write, c_flush};
    iotsec_counter c;
    uint64_t ctr = 0, sum = 0;
    unsigned long i;
    double t0;

    memset(&cp, 0xff, sizeof cp.flash);
    cp.writes = cp.flushes = 0;
    if (iotsec_counter_open(&c, &port, step) != IOTSEC_OK)
        exit(1);
    t0 = now_s();
    for (i = 0; i < n; i++) {
        if (iotsec_counter_next(&c, &ctr) != IOTSEC_OK)
            exit(1);
        sum += ctr;
    }
    t0 = now_s() - t0;
    if (ctr != n || sum != (uint64_t)n * (n + 1u) / 2u || cp.flushes != cp.writes)
        exit(1);
    *writes = cp.writes;
    return t0;
}

/* counters per second on the file port: at most n counters or max_s seconds */
static double run_file(const char *dir, uint32_t step, unsigned long n, double max_s,
                       unsigned long *done)
{
    char path[512];
    iotsec_counter_file f;
    iotsec_counter_port port;
    iotsec_counter c;
    uint64_t ctr;
    unsigned long i;
    double t0, t;

    snprintf(path, sizeof path, "%s/ctr-%u.bin", dir, (unsigned)step);
    if (iotsec_counter_file_open(&f, path, &port) != IOTSEC_OK ||
        iotsec_counter_open(&c, &port, step) != IOTSEC_OK)
        exit(1);
    t0 = now_s();
    for (i = 0; i < n; i++) {
        if (iotsec_counter_next(&c, &ctr) != IOTSEC_OK)
            exit(1);
        if ((i & 63u) == 0 && now_s() - t0 > max_s) {
            i++;
            break;
        }
    }
    t = now_s() - t0;
    iotsec_counter_file_close(&f);
    unlink(path);
    *done = i;
    return (double)i / t;
}

/* raw pwrite of 20 bytes + fsync per second */
static double raw_fsync(const char *dir, double max_s)
{
    char path[512];
    uint8_t rec[IOTSEC_COUNTER_RECORD_LEN] = {0};
    unsigned long i = 0;
    double t0;
    int fd;

    snprintf(path, sizeof path, "%s/raw.bin", dir);
    fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        exit(1);
    t0 = now_s();
    do {
        rec[0] = (uint8_t)i;
        if (pwrite(fd, rec, sizeof rec, (off_t)((i & 1u) * sizeof rec)) != (ssize_t)sizeof rec ||
            fsync(fd) != 0)
            exit(1);
        i++;
    } while (now_s() - t0 < max_s);
    t0 = now_s() - t0;
    close(fd);
    unlink(path);
    return (double)i / t0;
}

int main(void)
{
    const unsigned long million = 1000000ul;
    unsigned long w1, w1024, n1, n1024;
    double t1, t1024, file1, file1024, fs, hm;
    char dir[256];
    const char *base = getenv("TMPDIR");

    snprintf(dir, sizeof dir, "%s/iotsec-bench-XXXXXX", base && *base ? base : "/tmp");
    if (mkdtemp(dir) == NULL)
        return 1;
    t1 = run_memory(1, million, &w1);
    t1024 = run_memory(IOTSEC_COUNTER_DEFAULT_STEP, million, &w1024);
    hm = raw_hmac(0.5);
    fs = raw_fsync(dir, 1.0);
    file1024 = run_file(dir, IOTSEC_COUNTER_DEFAULT_STEP, million, 3.0, &n1024);
    file1 = run_file(dir, 1, 2000, 2.0, &n1);
    rmdir(dir);

    printf("flash writes per 1,000,000 counters (blank device, counting port):\n");
    printf("  R = 1      %9lu writes (one per counter)\n", w1);
    printf("  R = 1024   %9lu writes (ceil(10^6 / 1024) = 977)\n", w1024);
    printf("counters per second, in-memory port:\n");
    printf("  R = 1      %12.0f /s\n", (double)million / t1);
    printf("  R = 1024   %12.0f /s   = %.1f x OpenSSL HMAC-SHA256(64 B) rate (%.0f /s)\n",
           (double)million / t1024, (double)million / t1024 / hm, hm);
    printf("counters per second, POSIX file port (pwrite + fsync):\n");
    printf("  R = 1024   %12.0f /s   (%lu counters, %lu fsyncs)\n", file1024, n1024,
           (n1024 + 1023u) / 1024u);
    printf("  R = 1      %12.0f /s   (%lu counters) = %.2f x raw pwrite+fsync (%.0f /s)\n",
           file1, n1, file1 / fs, fs);
    return 0;
}
