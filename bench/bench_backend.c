/*
 * bench_backend — load generator for examples/backend, and the same load against nginx.
 *
 * Run without arguments (as `make bench` does) it executes bench/bench_backend.sh, which
 * makes a device CA, N device certificates and secrets, starts iotsec-backend and nginx
 * (Debian nginx-light, one worker, ssl_verify_client on with the same CA, certificate and
 * CRL) on loopback, and calls this program back in generator mode for each measurement:
 *
 *   bench_backend gen conn|telemetry HOST PORT CA.pem DIR DEVICES SECONDS PROCS CTR_BASE
 *
 * DIR holds dev-<i>.pem, dev-<i>.key and dev-<i>.secret for i in 0 … DEVICES − 1. PROCS
 * processes share the devices; each runs one epoll loop over non-blocking OpenSSL clients.
 *   conn       every device loops: TCP connect, full TLS handshake with its client
 *              certificate (no resumption), GET /v1/auth, answer read, close. TLS 1.3 lets
 *              the client finish before the server has checked its certificate, so a
 *              connection counts only when the answer is a 200: a full mTLS handshake the
 *              server accepted, plus one tiny request, on both servers alike.
 *   telemetry  every device opens one keep-alive connection and POSTs binary frames v1
 *              sealed by the library (counter CTR_BASE + 1, + 2, …) one after another.
 * After a 0.5 s warm-up, events completing within SECONDS are counted; the output is one
 * line: "<ok> <errors> <per second> <p50 ms> <p99 ms>" (latency: connect → answer, or
 * request → answer).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "iotsec/iotsec.h"

#define WARMUP 0.5
#define RESP_MAX 4096
#define PAYLOAD_LEN 64

enum mode { MODE_CONN, MODE_TELEMETRY };
enum state { ST_CONNECT, ST_HANDSHAKE, ST_WRITE, ST_READ };

struct client {
    int fd;
    SSL *ssl;
    SSL_CTX *ctx;
    enum state st;
    int dev;
    double t0;       /* start of the timed event */
    char req[IOTSEC_FRAME_MAX_LEN + 256];
    size_t req_len;
    char resp[RESP_MAX];
    size_t resp_len;
    uint64_t ctr;
    iotsec_frame_keys keys;
};

struct run {
    enum mode mode;
    struct sockaddr_in addr;
    int ep;
    double start, stop;
    unsigned long ok, err;
    double *lat;
    size_t nlat, cap;
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_backend: %s\n", what);
    exit(2);
}

static void record(struct run *r, double t0, int good)
{
    double t = now_s();

    if (t < r->start + WARMUP || t > r->stop)
        return;
    if (!good) {
        r->err++;
        return;
    }
    r->ok++;
    if (r->nlat == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 65536;
        r->lat = realloc(r->lat, r->cap * sizeof *r->lat);
        if (r->lat == NULL)
            die("out of memory");
    }
    r->lat[r->nlat++] = (t - t0) * 1000.0;
}

static void watch(struct run *r, struct client *c, uint32_t events, int add)
{
    struct epoll_event ev;

    ev.events = events;
    ev.data.ptr = c;
    if (epoll_ctl(r->ep, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c->fd, &ev) != 0)
        die("epoll_ctl");
}

static void client_close(struct run *r, struct client *c)
{
    if (c->ssl != NULL) {
        (void)SSL_shutdown(c->ssl); /* best effort close_notify, never waited for */
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->fd >= 0) {
        epoll_ctl(r->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
}

static void prepare_request(struct run *r, struct client *c)
{
    uint8_t payload[PAYLOAD_LEN], frame[IOTSEC_FRAME_SEALED_LEN(IOTSEC_FRAME_ID_MAX, PAYLOAD_LEN, 0)];
    size_t flen = 0;
    int n;

    if (r->mode == MODE_CONN) {
        n = snprintf(c->req, sizeof c->req,
                     "GET /v1/auth HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        c->req_len = (size_t)n;
        return;
    }
    c->ctr++;
    n = snprintf((char *)payload, sizeof payload, "{\"t\":%.3f,\"v\":%lu}", now_s(),
                 (unsigned long)c->ctr);
    memset(payload + n, ' ', sizeof payload - (size_t)n);
    if (iotsec_frame_seal(&c->keys, c->ctr, 0, NULL, payload, sizeof payload, frame,
                          sizeof frame, &flen) != IOTSEC_OK)
        die("iotsec_frame_seal failed");
    n = snprintf(c->req, sizeof c->req,
                 "POST /v1/telemetry HTTP/1.1\r\nHost: localhost\r\n"
                 "Content-Type: application/iotsec-frame\r\nContent-Length: %zu\r\n\r\n",
                 flen);
    memcpy(c->req + n, frame, flen);
    c->req_len = (size_t)n + flen;
}

static void client_connect(struct run *r, struct client *c)
{
    int one = 1;

    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c->fd < 0)
        die("socket");
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->t0 = now_s();
    c->resp_len = 0;
    if (connect(c->fd, (struct sockaddr *)&r->addr, sizeof r->addr) != 0 &&
        errno != EINPROGRESS)
        die("connect");
    c->st = ST_CONNECT;
    watch(r, c, EPOLLOUT, 1);
}

/* Parse a complete HTTP answer in c->resp: returns the status, 0 if incomplete, −1 if
 * malformed. */
static int parse_answer(struct client *c)
{
    char *end, *cl;
    size_t hdr, body = 0;
    int status;

    c->resp[c->resp_len < RESP_MAX ? c->resp_len : RESP_MAX - 1] = '\0';
    end = strstr(c->resp, "\r\n\r\n");
    if (end == NULL)
        return c->resp_len >= RESP_MAX - 1 ? -1 : 0;
    hdr = (size_t)(end - c->resp) + 4u;
    if (strncmp(c->resp, "HTTP/1.", 7) != 0)
        return -1;
    status = atoi(c->resp + 9);
    for (cl = c->resp; (cl = strchr(cl, '\n')) != NULL && cl < end; cl++)
        if (strncasecmp(cl + 1, "Content-Length:", 15) == 0)
            body = (size_t)strtoul(cl + 16, NULL, 10);
    if (c->resp_len < hdr + body)
        return 0;
    return status;
}

/* Drive one client as far as it goes without blocking. */
static void step(struct run *r, struct client *c)
{
    int rc, err;

    for (;;) {
        switch (c->st) {
        case ST_CONNECT: {
            socklen_t sl = sizeof err;
            if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &sl) != 0 || err != 0) {
                record(r, c->t0, 0);
                client_close(r, c);
                client_connect(r, c);
                return;
            }
            c->ssl = SSL_new(c->ctx);
            if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1)
                die("SSL_new");
            SSL_set_tlsext_host_name(c->ssl, "localhost");
            SSL_set_connect_state(c->ssl);
            c->st = ST_HANDSHAKE;
            break;
        }
        case ST_HANDSHAKE:
            rc = SSL_do_handshake(c->ssl);
            if (rc == 1) {
                prepare_request(r, c);
                c->st = ST_WRITE;
                if (r->mode == MODE_TELEMETRY)
                    c->t0 = now_s();
                break;
            }
            goto wants;
        case ST_WRITE:
            rc = SSL_write(c->ssl, c->req, (int)c->req_len);
            if (rc > 0) {
                c->st = ST_READ;
                c->resp_len = 0;
                break;
            }
            goto wants;
        case ST_READ:
            rc = SSL_read(c->ssl, c->resp + c->resp_len, (int)(RESP_MAX - 1 - c->resp_len));
            if (rc > 0) {
                int status;
                c->resp_len += (size_t)rc;
                status = parse_answer(c);
                if (status == 0)
                    break;
                record(r, c->t0, status == 200);
                if (r->mode == MODE_CONN || status != 200) {
                    client_close(r, c);
                    client_connect(r, c);
                    return;
                }
                prepare_request(r, c);
                c->t0 = now_s();
                c->st = ST_WRITE;
                break;
            }
            goto wants;
        }
        continue;
    wants:
        err = SSL_get_error(c->ssl, rc);
        if (err == SSL_ERROR_WANT_READ) {
            watch(r, c, EPOLLIN, 0);
            return;
        }
        if (err == SSL_ERROR_WANT_WRITE) {
            watch(r, c, EPOLLOUT, 0);
            return;
        }
        ERR_clear_error();
        record(r, c->t0, 0);
        client_close(r, c);
        client_connect(r, c);
        return;
    }
}

static SSL_CTX *device_ctx(const char *ca, const char *dir, int i)
{
    char cert[512], key[512];
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    snprintf(cert, sizeof cert, "%s/dev-%d.pem", dir, i);
    snprintf(key, sizeof key, "%s/dev-%d.key", dir, i);
    if (ctx == NULL || SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1 ||
        SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
        die("cannot load a device certificate or key");
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    return ctx;
}

/* One generator process over devices [first, last). Writes its results to fd. */
static void generate(enum mode mode, const char *host, int port, const char *ca,
                     const char *dir, int first, int last, double seconds, uint64_t ctr_base,
                     int out)
{
    struct run r;
    struct client *cl;
    struct epoll_event evs[64];
    int n = last - first, i;

    memset(&r, 0, sizeof r);
    r.mode = mode;
    r.addr.sin_family = AF_INET;
    r.addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &r.addr.sin_addr) != 1)
        die("HOST must be an IPv4 address");
    r.ep = epoll_create1(0);
    cl = calloc((size_t)n, sizeof *cl);
    if (r.ep < 0 || cl == NULL)
        die("setup");
    r.start = now_s();
    r.stop = r.start + WARMUP + seconds;
    for (i = 0; i < n; i++) {
        struct client *c = &cl[i];
        char path[512], id[32];
        uint8_t secret[32];

        c->dev = first + i;
        c->ctx = device_ctx(ca, dir, c->dev);
        c->ctr = ctr_base;
        if (mode == MODE_TELEMETRY) {
            snprintf(path, sizeof path, "%s/dev-%d.secret", dir, c->dev);
            snprintf(id, sizeof id, "dev-%d", c->dev);
            if (iotsec_file_read_secret(path, secret, sizeof secret) != IOTSEC_OK ||
                iotsec_frame_keys_derive(&c->keys, iotsec_crypto_default(), secret, id,
                                         strlen(id), 0, IOTSEC_FRAME_UPLINK) != IOTSEC_OK)
                die("cannot derive frame keys");
            iotsec_zeroize(secret, sizeof secret);
        }
        client_connect(&r, c);
    }
    while (now_s() < r.stop) {
        int k = epoll_wait(r.ep, evs, 64, 50);
        for (i = 0; i < k; i++)
            step(&r, evs[i].data.ptr);
    }
    {
        unsigned long hdr[3] = {r.ok, r.err, (unsigned long)r.nlat};
        size_t want = r.nlat * sizeof *r.lat;
        const char *p = (const char *)r.lat;
        if (write(out, hdr, sizeof hdr) != (ssize_t)sizeof hdr)
            die("write");
        while (want > 0) {
            ssize_t w = write(out, p, want);
            if (w <= 0)
                die("write");
            p += w;
            want -= (size_t)w;
        }
    }
    for (i = 0; i < n; i++) {
        client_close(&r, &cl[i]);
        SSL_CTX_free(cl[i].ctx);
        iotsec_frame_keys_cleanup(&cl[i].keys);
    }
    free(cl);
    free(r.lat);
    close(r.ep);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static int run_gen(int argc, char **argv)
{
    enum mode mode;
    int port, devices, procs, p, *rfds;
    double seconds;
    unsigned long ok = 0, err = 0;
    double *lat = NULL;
    size_t nlat = 0;
    uint64_t ctr_base;

    if (argc != 11)
        die("usage: bench_backend gen conn|telemetry HOST PORT CA DIR DEVICES SECONDS PROCS "
            "CTR_BASE");
    mode = strcmp(argv[2], "conn") == 0 ? MODE_CONN : MODE_TELEMETRY;
    port = atoi(argv[4]);
    devices = atoi(argv[7]);
    seconds = atof(argv[8]);
    procs = atoi(argv[9]);
    ctr_base = strtoull(argv[10], NULL, 10);
    if (devices < 1 || procs < 1 || procs > devices || seconds <= 0)
        die("bad numbers");
    signal(SIGPIPE, SIG_IGN);
    rfds = calloc((size_t)procs, sizeof *rfds);
    if (rfds == NULL)
        die("out of memory");
    for (p = 0; p < procs; p++) { /* the processes run concurrently */
        int fds[2];
        pid_t pid;
        if (pipe(fds) != 0)
            die("pipe");
        pid = fork();
        if (pid < 0)
            die("fork");
        if (pid == 0) {
            close(fds[0]);
            generate(mode, argv[3], port, argv[5], argv[6], devices * p / procs,
                     devices * (p + 1) / procs, seconds, ctr_base, fds[1]);
            _exit(0);
        }
        close(fds[1]);
        rfds[p] = fds[0];
    }
    for (p = 0; p < procs; p++) {
        unsigned long hdr[3];
        size_t want;
        char *dst;
        if (read(rfds[p], hdr, sizeof hdr) != (ssize_t)sizeof hdr)
            die("a generator process failed");
        ok += hdr[0];
        err += hdr[1];
        lat = realloc(lat, (nlat + hdr[2] + 1) * sizeof *lat);
        if (lat == NULL)
            die("out of memory");
        want = hdr[2] * sizeof *lat;
        dst = (char *)(lat + nlat);
        while (want > 0) {
            ssize_t n = read(rfds[p], dst, want);
            if (n <= 0)
                die("short read from a generator process");
            dst += n;
            want -= (size_t)n;
        }
        nlat += hdr[2];
        close(rfds[p]);
    }
    free(rfds);
    while (wait(NULL) > 0)
        ;
    qsort(lat, nlat, sizeof *lat, cmp_double);
    printf("%lu %lu %.1f %.3f %.3f\n", ok, err, (double)ok / seconds,
           nlat ? lat[nlat / 2] : 0.0, nlat ? lat[(nlat * 99) / 100] : 0.0);
    free(lat);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "gen") == 0)
        return run_gen(argc, argv);
    if (argc != 1) {
        fprintf(stderr, "usage: bench_backend           (the whole benchmark)\n"
                        "       bench_backend gen ...   (see bench/bench_backend.c)\n");
        return 2;
    }
    execl("/bin/bash", "bash", "bench/bench_backend.sh", argv[0], (char *)NULL);
    perror("bench_backend: cannot run bench/bench_backend.sh (run from the source tree)");
    return 2;
}
