/*
 * bench_mqtt — load generator for mosquitto with and without the iotsec plugin
 * (plugins/mosquitto/, docs/DESIGN.md §13).
 *
 * Run without arguments (as `make bench` does) it executes bench/bench_mqtt.sh, which makes
 * a device CA, N device certificates and secrets and the backend's database, starts
 * mosquitto twice on loopback — the same TLS listener (client certificate required, the
 * device CA), once plain and once with the plugin — and calls this program back in
 * generator mode for each measurement:
 *
 *   bench_mqtt gen HOST PORT CA.pem DIR DEVICES FORGED SECONDS WINDOW CTR_BASE
 *
 * DIR holds dev-<i>.pem, dev-<i>.key and dev-<i>.secret for i in 0 … DEVICES + FORGED − 1
 * and ops.pem, ops.key (an operator). Devices 0 … DEVICES − 1 publish binary frames v1
 * sealed by the library (64-byte payload, counters CTR_BASE + 1, + 2, …) to
 * devices/dev-<i>/telemetry with QoS 1, each keeping WINDOW messages in flight; devices
 * DEVICES … DEVICES + FORGED − 1 publish frames with a flipped tag byte (a flood of forged
 * frames). The operator subscribes to devices/+/telemetry (QoS 0) and counts what is
 * delivered. Each client is one libmosquitto connection (MQTT 5, TLS) with its own thread.
 * After a 0.5 s warm-up, PUBACKs arriving within SECONDS are counted; the output is one
 * line: "<legit ok/s> <legit refused/s> <forged ok/s> <forged refused/s> <delivered/s>"
 * (ok: PUBACK reason < 0x80; refused: 0x87).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "iotsec/iotsec.h"

#if BENCH_HAVE_MQTT
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <pthread.h>

#define WARMUP 0.5
#define PAYLOAD_LEN 64
#define MAX_CLIENTS 256

struct client {
    struct mosquitto *m;
    int index;
    int forged;
    iotsec_frame_keys keys;
    uint64_t ctr;
    char id[32];
    char topic[64];
    int connected;
    unsigned long ok, refused; /* PUBACKs, updated by the client's thread */
};

static unsigned window;
static unsigned long delivered;
static volatile int stopping;

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *msg)
{
    fprintf(stderr, "bench_mqtt: %s\n", msg);
    exit(1);
}

static void publish_next(struct client *c)
{
    uint8_t payload[PAYLOAD_LEN], frame[IOTSEC_FRAME_SEALED_LEN(32u, PAYLOAD_LEN, 0)];
    size_t len = 0;

    memset(payload, 'x', sizeof payload);
    c->ctr++;
    if (iotsec_frame_seal(&c->keys, c->ctr, 0, NULL, payload, sizeof payload, frame,
                          sizeof frame, &len) != IOTSEC_OK)
        die("iotsec_frame_seal failed");
    if (c->forged)
        frame[len - 1] ^= 0x01; /* the tag no longer verifies */
    if (mosquitto_publish_v5(c->m, NULL, c->topic, (int)len, frame, 1, false, NULL) !=
        MOSQ_ERR_SUCCESS && !stopping)
        fprintf(stderr, "bench_mqtt: %s: publish failed\n", c->id);
}

static void on_connect(struct mosquitto *m, void *obj, int rc, int flags,
                       const mosquitto_property *props)
{
    struct client *c = obj;
    unsigned i;

    (void)m;
    (void)flags;
    (void)props;
    if (rc != 0) {
        fprintf(stderr, "bench_mqtt: %s: CONNACK %d\n", c->id, rc);
        return;
    }
    __atomic_store_n(&c->connected, 1, __ATOMIC_SEQ_CST);
    if (c->index < 0) {
        mosquitto_subscribe_v5(m, NULL, "devices/+/telemetry", 0, 0, NULL);
        return;
    }
    for (i = 0; i < window; i++)
        publish_next(c);
}

static void on_publish(struct mosquitto *m, void *obj, int mid, int reason,
                       const mosquitto_property *props)
{
    struct client *c = obj;

    (void)m;
    (void)mid;
    (void)props;
    if (reason < 0x80)
        __atomic_fetch_add(&c->ok, 1, __ATOMIC_RELAXED);
    else
        __atomic_fetch_add(&c->refused, 1, __ATOMIC_RELAXED);
    if (!stopping)
        publish_next(c);
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg,
                       const mosquitto_property *props)
{
    (void)m;
    (void)obj;
    (void)msg;
    (void)props;
    __atomic_fetch_add(&delivered, 1, __ATOMIC_RELAXED);
}

static struct client *client_new(int index, int forged, const char *dir, const char *ca)
{
    struct client *c = calloc(1, sizeof *c);
    char cert[4096], key[4096], secret_path[4096];
    uint8_t secret[32];

    if (c == NULL)
        die("out of memory");
    c->index = index;
    c->forged = forged;
    if (index < 0) {
        snprintf(c->id, sizeof c->id, "ops");
    } else {
        snprintf(c->id, sizeof c->id, "dev-%d", index);
        snprintf(c->topic, sizeof c->topic, "devices/%s/telemetry", c->id);
        snprintf(secret_path, sizeof secret_path, "%s/%s.secret", dir, c->id);
        if (iotsec_file_read_secret(secret_path, secret, sizeof secret) != IOTSEC_OK ||
            iotsec_frame_keys_derive(&c->keys, iotsec_crypto_default(), secret, c->id,
                                     strlen(c->id), 0, IOTSEC_FRAME_UPLINK) != IOTSEC_OK)
            die("cannot read a device secret or derive its keys");
        iotsec_zeroize(secret, sizeof secret);
    }
    snprintf(cert, sizeof cert, "%s/%s.pem", dir, c->id);
    snprintf(key, sizeof key, "%s/%s.key", dir, c->id);
    c->m = mosquitto_new(c->id, true, c);
    if (c->m == NULL ||
        mosquitto_int_option(c->m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5) !=
            MOSQ_ERR_SUCCESS ||
        mosquitto_int_option(c->m, MOSQ_OPT_SEND_MAXIMUM, 65535) != MOSQ_ERR_SUCCESS ||
        mosquitto_tls_set(c->m, ca, NULL, cert, key, NULL) != MOSQ_ERR_SUCCESS)
        die("cannot set up a libmosquitto client");
    mosquitto_connect_v5_callback_set(c->m, on_connect);
    mosquitto_publish_v5_callback_set(c->m, on_publish);
    mosquitto_message_v5_callback_set(c->m, on_message);
    return c;
}

static void totals(struct client **cs, int n, unsigned long out[4])
{
    int i;

    memset(out, 0, 4 * sizeof *out);
    for (i = 0; i < n; i++) {
        if (cs[i]->index < 0)
            continue;
        out[cs[i]->forged ? 2 : 0] += __atomic_load_n(&cs[i]->ok, __ATOMIC_RELAXED);
        out[cs[i]->forged ? 3 : 1] += __atomic_load_n(&cs[i]->refused, __ATOMIC_RELAXED);
    }
}

static int run_gen(int argc, char **argv)
{
    struct client *cs[MAX_CLIENTS];
    unsigned long a[4], b[4], d0, d1;
    int devices, forged, port, n = 0, i;
    double seconds, t0, t1, end;
    uint64_t ctr_base;
    struct timespec ts;

    if (argc != 11)
        die("usage: bench_mqtt gen HOST PORT CA DIR DEVICES FORGED SECONDS WINDOW CTR_BASE");
    port = atoi(argv[3]);
    devices = atoi(argv[6]);
    forged = atoi(argv[7]);
    seconds = atof(argv[8]);
    window = (unsigned)atoi(argv[9]);
    ctr_base = strtoull(argv[10], NULL, 10);
    if (devices < 0 || forged < 0 || devices + forged + 1 > MAX_CLIENTS || seconds <= 0 ||
        window < 1 || window > 1000)
        die("bad arguments");
    mosquitto_lib_init();
    cs[n++] = client_new(-1, 0, argv[5], argv[4]);
    for (i = 0; i < devices + forged; i++) {
        cs[n] = client_new(i, i >= devices, argv[5], argv[4]);
        cs[n]->ctr = ctr_base;
        n++;
    }
    /* the subscriber first, so it sees every message */
    for (i = 0; i < n; i++) {
        if (mosquitto_connect(cs[i]->m, argv[2], port, 60) != MOSQ_ERR_SUCCESS ||
            mosquitto_loop_start(cs[i]->m) != MOSQ_ERR_SUCCESS)
            die("cannot connect");
        if (i == 0) {
            end = now_s() + 5;
            while (!__atomic_load_n(&cs[0]->connected, __ATOMIC_SEQ_CST) && now_s() < end)
                usleep(10000);
            usleep(100000); /* the SUBACK */
        }
    }
    end = now_s() + 10;
    for (i = 0; i < n; i++)
        while (!__atomic_load_n(&cs[i]->connected, __ATOMIC_SEQ_CST) && now_s() < end)
            usleep(10000);
    for (i = 0; i < n; i++)
        if (!cs[i]->connected)
            die("a client did not connect");
    ts.tv_sec = 0;
    ts.tv_nsec = (long)(WARMUP * 1e9);
    nanosleep(&ts, NULL);
    totals(cs, n, a);
    d0 = __atomic_load_n(&delivered, __ATOMIC_RELAXED);
    t0 = now_s();
    ts.tv_sec = (time_t)seconds;
    ts.tv_nsec = (long)((seconds - (double)(time_t)seconds) * 1e9);
    nanosleep(&ts, NULL);
    totals(cs, n, b);
    d1 = __atomic_load_n(&delivered, __ATOMIC_RELAXED);
    t1 = now_s() - t0;
    stopping = 1;
    for (i = 0; i < n; i++) {
        mosquitto_disconnect(cs[i]->m);
        mosquitto_loop_stop(cs[i]->m, false);
        mosquitto_destroy(cs[i]->m);
        iotsec_frame_keys_cleanup(&cs[i]->keys);
        free(cs[i]);
    }
    mosquitto_lib_cleanup();
    printf("%.1f %.1f %.1f %.1f %.1f\n", (double)(b[0] - a[0]) / t1, (double)(b[1] - a[1]) / t1,
           (double)(b[2] - a[2]) / t1, (double)(b[3] - a[3]) / t1, (double)(d1 - d0) / t1);
    return 0;
}

#else /* !BENCH_HAVE_MQTT */

static int run_gen(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "bench_mqtt: built without libmosquitto (Debian libmosquitto-dev)\n");
    return 2;
}

#endif

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "gen") == 0)
        return run_gen(argc, argv);
    if (argc != 1) {
        fprintf(stderr, "usage: bench_mqtt           (the whole benchmark)\n"
                        "       bench_mqtt gen ...   (see bench/bench_mqtt.c)\n");
        return 2;
    }
    execl("/bin/bash", "bash", "bench/bench_mqtt.sh", argv[0], (char *)NULL);
    perror("bench_mqtt: cannot run bench/bench_mqtt.sh (run from the source tree)");
    return 2;
}
