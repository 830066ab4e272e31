/* iotsec-device-sim — the MQTT transport over libmosquitto (mqtt.h).
 *
 * Transport policy as for HTTPS (net.c): TLS only (the URL is checked before any
 * connection), the broker verified against the pinned CA alone with its host name or IP
 * checked, TLS 1.2 or later, the device's certificate and key. Every frame decision is a
 * library call: sealing in telemetry.c, opening commands here (iotsec_frame_open_checked /
 * iotsec_frame_open_json_checked against the persisted replay window). */
#include "mqtt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "iotsec/file.h"
#include "iotsec/frame.h"

#if SIM_HAVE_MQTT

#include <mosquitto.h>
#include <mqtt_protocol.h>

#define HOST_MAX 256
#define TOPIC_MAX 160
#define WAIT_MS 10000L

struct sim_mqtt {
    struct mosquitto *mosq;
    char host[HOST_MAX];
    int port;
    char telemetry[TOPIC_MAX];
    char commands[TOPIC_MAX];
    /* events the callbacks report */
    int connack;           /* 1 once answered */
    int connack_rc;        /* its reason code */
    int disconnected;
    int disconnect_rc;
    int pending_mid;       /* the PUBLISH waiting for its PUBACK */
    int puback_done;
    int puback_reason;
    int pending_sub;       /* the SUBSCRIBE waiting for its SUBACK */
    int suback_done;
    int suback_reason;     /* the granted QoS, or a reason code >= 0x80 */
    /* listen */
    const sim_state *st;
    iotsec_frame_keys down;
    iotsec_replay_window window;
    char window_path[SIM_PATH_MAX];
    unsigned long seen, refused;
    int store_failed;
};

static double mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static int refuse_insecure(const char *url)
{
    return sim_error(SIM_INSECURE_URL,
                     "refusing '%s': only mqtts:// URLs are allowed (the device never talks "
                     "plain MQTT)",
                     url);
}

/* mqtts://HOST[:PORT][/], HOST a name, an IPv4 address or [IPv6]. */
static int parse_url(const char *url, char *host, size_t cap, int *port)
{
    const char *h, *end, *colon;
    size_t len;

    if (strncasecmp(url, "mqtts://", 8) != 0)
        return refuse_insecure(url);
    h = url + 8;
    len = strlen(h);
    while (len > 0 && h[len - 1] == '/')
        len--;
    end = h + len;
    if (*h == '[') {
        const char *rb = memchr(h, ']', len);
        if (rb == NULL || rb == h + 1)
            return sim_error(SIM_USAGE, "--broker %s: malformed IPv6 address", url);
        if ((size_t)(rb - h - 1) >= cap)
            return sim_error(SIM_USAGE, "--broker %s: host too long", url);
        memcpy(host, h + 1, (size_t)(rb - h - 1));
        host[rb - h - 1] = '\0';
        colon = rb + 1 < end ? rb + 1 : NULL;
        if (colon != NULL && *colon != ':')
            return sim_error(SIM_USAGE, "--broker %s: expected :PORT after the address", url);
    } else {
        colon = memchr(h, ':', len);
        len = colon != NULL ? (size_t)(colon - h) : len;
        if (len == 0 || len >= cap)
            return sim_error(SIM_USAGE, "--broker %s: no host, or host too long", url);
        memcpy(host, h, len);
        host[len] = '\0';
        if (strpbrk(host, "/?#@") != NULL)
            return sim_error(SIM_USAGE, "--broker %s: mqtts://HOST[:PORT] only", url);
    }
    *port = 8883;
    if (colon != NULL) {
        uint64_t v;
        if (iotsec_parse_u64_dec(colon + 1, (size_t)(end - colon - 1), 65535, &v) != IOTSEC_OK ||
            v == 0)
            return sim_error(SIM_USAGE, "--broker %s: port must be 1-65535", url);
        *port = (int)v;
    }
    return SIM_OK;
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc, int flags,
                       const mosquitto_property *props)
{
    sim_mqtt *m = obj;

    (void)mosq;
    (void)flags;
    (void)props;
    m->connack = 1;
    m->connack_rc = rc;
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc,
                          const mosquitto_property *props)
{
    sim_mqtt *m = obj;

    (void)mosq;
    (void)props;
    m->disconnected = 1;
    m->disconnect_rc = rc;
}

static void on_publish(struct mosquitto *mosq, void *obj, int mid, int reason,
                       const mosquitto_property *props)
{
    sim_mqtt *m = obj;

    (void)mosq;
    (void)props;
    if (mid == m->pending_mid) {
        m->puback_done = 1;
        m->puback_reason = reason;
    }
}

static void on_subscribe(struct mosquitto *mosq, void *obj, int mid, int count,
                         const int *granted, const mosquitto_property *props)
{
    sim_mqtt *m = obj;

    (void)mosq;
    (void)props;
    if (mid == m->pending_sub) {
        m->suback_done = 1;
        m->suback_reason = count > 0 ? granted[0] : MQTT_RC_UNSPECIFIED;
    }
}

/* Run the network loop until *flag is set, the connection is lost, or ms pass.
 * Returns SIM_OK when the flag was set. */
static int wait_for(sim_mqtt *m, const int *flag, long ms, const char *what)
{
    double end = mono_ms() + (double)ms;
    int rc;

    while (!*flag) {
        if (m->disconnected)
            return sim_error(SIM_NETWORK, "%s:%d: disconnected by the broker while waiting for "
                             "%s (%s)", m->host, m->port, what,
                             mosquitto_reason_string(m->disconnect_rc));
        if (mono_ms() >= end)
            return sim_error(SIM_NETWORK, "%s:%d: no %s within %ld ms", m->host, m->port, what,
                             ms);
        rc = mosquitto_loop(m->mosq, 100, 1);
        if (*flag || m->disconnected)
            continue;
        if (rc == MOSQ_ERR_TLS)
            return sim_error(SIM_NETWORK, "%s:%d: TLS failure (broker certificate not issued "
                             "by the pinned CA, wrong name, or our certificate refused)",
                             m->host, m->port);
        if (rc != MOSQ_ERR_SUCCESS)
            return sim_error(SIM_NETWORK, "%s:%d: %s while waiting for %s", m->host, m->port,
                             rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc),
                             what);
    }
    return SIM_OK;
}

int sim_mqtt_open(sim_mqtt **out, const sim_state *st, const char *broker)
{
    char cert[SIM_PATH_MAX], key[SIM_PATH_MAX], ca[SIM_PATH_MAX];
    sim_mqtt *m;
    int rc, n;

    *out = NULL;
    m = calloc(1, sizeof *m);
    if (m == NULL)
        return sim_error(SIM_IO, "out of memory");
    if ((rc = parse_url(broker, m->host, sizeof m->host, &m->port)) != SIM_OK ||
        (rc = sim_path(st, SIM_CRED_CERT, cert)) != SIM_OK ||
        (rc = sim_path(st, SIM_CRED_KEY, key)) != SIM_OK ||
        (rc = sim_path(st, SIM_CRED_CA, ca)) != SIM_OK) {
        free(m);
        return rc;
    }
    n = snprintf(m->telemetry, sizeof m->telemetry, "devices/%s/telemetry", st->device_id);
    if (n < 0 || (size_t)n >= sizeof m->telemetry ||
        (n = snprintf(m->commands, sizeof m->commands, "devices/%s/cmd/#", st->device_id)) < 0 ||
        (size_t)n >= sizeof m->commands) {
        free(m);
        return sim_error(SIM_USAGE, "device id too long for a topic");
    }
    mosquitto_lib_init();
    m->mosq = mosquitto_new(st->device_id, true, m);
    if (m->mosq == NULL) {
        mosquitto_lib_cleanup();
        free(m);
        return sim_error(SIM_IO, "libmosquitto: cannot create a client");
    }
    mosquitto_connect_v5_callback_set(m->mosq, on_connect);
    mosquitto_disconnect_v5_callback_set(m->mosq, on_disconnect);
    mosquitto_publish_v5_callback_set(m->mosq, on_publish);
    mosquitto_subscribe_v5_callback_set(m->mosq, on_subscribe);
    if (mosquitto_int_option(m->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5) !=
            MOSQ_ERR_SUCCESS ||
        mosquitto_tls_set(m->mosq, ca, NULL, cert, key, NULL) != MOSQ_ERR_SUCCESS ||
        mosquitto_tls_opts_set(m->mosq, 1 /* SSL_VERIFY_PEER */, "tlsv1.2", NULL) !=
            MOSQ_ERR_SUCCESS ||
        mosquitto_tls_insecure_set(m->mosq, false) != MOSQ_ERR_SUCCESS) {
        sim_mqtt_close(m);
        return sim_error(SIM_IO, "libmosquitto: cannot use the credentials in %s/creds", st->root);
    }
    rc = mosquitto_connect(m->mosq, m->host, m->port, 30);
    if (rc == MOSQ_ERR_TLS) {
        sim_mqtt_close(m);
        return sim_error(SIM_NETWORK, "%s: TLS failure (broker certificate not issued by the "
                         "pinned CA, or wrong name)", broker);
    }
    if (rc != MOSQ_ERR_SUCCESS) {
        sim_mqtt_close(m);
        return sim_error(SIM_NETWORK, "%s: %s", broker,
                         rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
    }
    rc = wait_for(m, &m->connack, WAIT_MS, "CONNACK");
    if (rc == SIM_OK && m->connack_rc != 0)
        rc = sim_error(SIM_NETWORK, "%s: the broker refused the device: CONNACK %d (%s)",
                       broker, m->connack_rc, mosquitto_reason_string(m->connack_rc));
    if (rc != SIM_OK) {
        sim_mqtt_close(m);
        return rc;
    }
    *out = m;
    return SIM_OK;
}

void sim_mqtt_close(sim_mqtt *m)
{
    if (m == NULL)
        return;
    if (m->connack && !m->disconnected && m->connack_rc == 0 &&
        mosquitto_disconnect(m->mosq) == MOSQ_ERR_SUCCESS) {
        int i;
        for (i = 0; i < 10 && !m->disconnected; i++) /* send the DISCONNECT */
            if (mosquitto_loop(m->mosq, 50, 1) != MOSQ_ERR_SUCCESS)
                break;
    }
    mosquitto_destroy(m->mosq);
    mosquitto_lib_cleanup();
    iotsec_frame_keys_cleanup(&m->down);
    iotsec_zeroize(m, sizeof *m);
    free(m);
}

const char *sim_mqtt_reason_text(int reason)
{
    return mosquitto_reason_string(reason);
}

int sim_mqtt_publish_telemetry(sim_mqtt *m, const uint8_t *payload, size_t len, int *reason)
{
    int mid = 0, rc;

    if (len > INT32_MAX)
        return sim_error(SIM_USAGE, "frame too long");
    m->puback_done = 0;
    m->pending_mid = -1;
    rc = mosquitto_publish_v5(m->mosq, &mid, m->telemetry, (int)len, payload, 1, false, NULL);
    if (rc != MOSQ_ERR_SUCCESS)
        return sim_error(SIM_NETWORK, "%s:%d: cannot publish: %s", m->host, m->port,
                         mosquitto_strerror(rc));
    m->pending_mid = mid; /* callbacks run only inside mosquitto_loop */
    rc = wait_for(m, &m->puback_done, WAIT_MS, "PUBACK");
    if (rc != SIM_OK)
        return rc;
    *reason = m->puback_reason;
    return SIM_OK;
}

/* ---- listen: commands as downlink frames ------------------------------------------------ */

/* a command's plaintext on stdout as one line of printable ASCII (\xHH for any other byte) */
static void print_text(const uint8_t *a, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (a[i] >= 0x20 && a[i] < 0x7f)
            putchar(a[i]);
        else
            printf("\\x%02x", a[i]);
    }
    putchar('\n');
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg,
                       const mosquitto_property *props)
{
    static uint8_t plain[IOTSEC_FRAME_CIPHER_MAX];
    sim_mqtt *m = obj;
    iotsec_replay_window w = m->window; /* opened against a copy, adopted once stored */
    iotsec_frame_header hdr;
    const uint8_t *buf = msg->payload;
    size_t len = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0u, i, out_len = 0;
    uint8_t enc[IOTSEC_REPLAY_STATE_LEN];
    int rc;

    (void)mosq;
    (void)props;
    m->seen++;
    memset(&hdr, 0, sizeof hdr);
    for (i = 0; i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n');
         i++) {
    }
    if (len == 0)
        rc = IOTSEC_E_TRUNCATED;
    else if (i < len && buf[i] == '{')
        rc = iotsec_frame_open_json_checked(&m->down, &w, (const char *)buf, len, &hdr, plain,
                                            sizeof plain, &out_len);
    else
        rc = iotsec_frame_open_checked(&m->down, &w, buf, len, &hdr, plain, sizeof plain,
                                       &out_len);
    if (rc == IOTSEC_OK) {
        size_t elen = 0;
        /* the window is durable before the command is acted on: a replay after a reboot is
         * refused too */
        rc = iotsec_replay_encode(&w, enc, sizeof enc, &elen);
        if (rc == IOTSEC_OK)
            rc = sim_store_file(m->window_path, enc, elen, 0600);
        if (rc != IOTSEC_OK) {
            m->store_failed = 1;
            (void)sim_fail(SIM_IO, rc, "%s: cannot store the command replay window",
                           m->window_path);
        } else {
            m->window = w;
            printf("command %lu topic=%s ctr=%llu: ", m->seen, msg->topic,
                   (unsigned long long)hdr.ctr);
            print_text(plain, out_len);
        }
    } else {
        m->refused++;
        printf("command %lu topic=%s: refused %s\n", m->seen, msg->topic,
               iotsec_error_name(rc));
    }
    iotsec_zeroize(plain, sizeof plain);
    fflush(stdout);
}

/* The commands' replay window from nvs/cmd-window (a fresh one when absent; damaged state
 * is refused, never reset). */
static int window_load(sim_mqtt *m)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc;

    if ((rc = sim_path(m->st, SIM_NVS_CMD_WINDOW, m->window_path)) != SIM_OK)
        return rc;
    if (access(m->window_path, F_OK) != 0) {
        (void)iotsec_replay_init(&m->window, IOTSEC_REPLAY_DEFAULT_WINDOW);
        return SIM_OK;
    }
    rc = iotsec_file_read(m->window_path, IOTSEC_REPLAY_STATE_LEN + 1u, &buf, &len);
    if (rc == IOTSEC_OK)
        rc = iotsec_replay_decode(&m->window, buf, len);
    free(buf);
    if (rc != IOTSEC_OK)
        return sim_fail(SIM_IO, rc, "%s: cannot read the command replay window",
                        m->window_path);
    return SIM_OK;
}

int sim_listen(const sim_state *st, const iotsec_crypto *crypto, const char *broker,
               const sim_boot_opts *bo, const sim_listen_opts *lo)
{
    static sim_boot_result booted;
    uint8_t secret[SIM_FRAME_SECRET_LEN];
    char path[SIM_PATH_MAX];
    sim_mqtt *m = NULL;
    double end;
    int rc, mid = 0;

    rc = sim_boot(st, crypto, bo, &booted);
    if (rc != SIM_OK && rc != SIM_ROLLED_BACK)
        return rc;
    if ((rc = sim_mqtt_open(&m, st, broker)) != SIM_OK)
        return rc;
    m->st = st;
    if ((rc = window_load(m)) != SIM_OK || (rc = sim_path(st, SIM_CRED_SECRET, path)) != SIM_OK)
        goto done;
    if ((rc = iotsec_file_read_secret(path, secret, sizeof secret)) != IOTSEC_OK) {
        rc = sim_fail(SIM_IO, rc, "%s: cannot read the frame master secret", path);
        goto done;
    }
    /* the device opens downlink frames of its own id, key generation 0 */
    rc = iotsec_frame_keys_derive(&m->down, crypto, secret, st->device_id,
                                  strlen(st->device_id), 0, IOTSEC_FRAME_DOWNLINK);
    iotsec_zeroize(secret, sizeof secret);
    if (rc != IOTSEC_OK) {
        rc = sim_fail(SIM_REJECTED, rc, "cannot derive the downlink frame keys");
        goto done;
    }
    mosquitto_message_v5_callback_set(m->mosq, on_message);
    m->suback_done = 0;
    m->pending_sub = -1;
    rc = mosquitto_subscribe_v5(m->mosq, &mid, m->commands, 1, 0, NULL);
    if (rc != MOSQ_ERR_SUCCESS) {
        rc = sim_error(SIM_NETWORK, "cannot subscribe to %s: %s", m->commands,
                       mosquitto_strerror(rc));
        goto done;
    }
    m->pending_sub = mid;
    if ((rc = wait_for(m, &m->suback_done, WAIT_MS, "SUBACK")) != SIM_OK)
        goto done;
    if (m->suback_reason >= 0x80) {
        rc = sim_error(SIM_NETWORK, "the broker refused the subscription to %s: %s",
                       m->commands, mosquitto_reason_string(m->suback_reason));
        goto done;
    }
    printf("listening on %s\n", m->commands);
    fflush(stdout);
    end = mono_ms() + (double)lo->timeout_ms;
    rc = SIM_OK;
    while (m->seen < lo->count && !m->store_failed) {
        int lrc;
        if (m->disconnected) {
            rc = sim_error(SIM_NETWORK, "disconnected by the broker (%s)",
                           mosquitto_reason_string(m->disconnect_rc));
            goto done;
        }
        if (mono_ms() >= end) {
            rc = sim_error(SIM_NETWORK, "%lu of %lu commands within %lu ms", m->seen,
                           lo->count, lo->timeout_ms);
            goto done;
        }
        lrc = mosquitto_loop(m->mosq, 100, 1);
        if (lrc != MOSQ_ERR_SUCCESS && !m->disconnected) {
            rc = sim_error(SIM_NETWORK, "connection lost: %s", mosquitto_strerror(lrc));
            goto done;
        }
    }
    rc = m->store_failed ? SIM_IO : m->refused > 0 ? SIM_REJECTED : SIM_OK;
done:
    sim_mqtt_close(m);
    return rc;
}

#else /* !SIM_HAVE_MQTT */

struct sim_mqtt {
    int unused;
};

static int no_mqtt(void)
{
    return sim_error(SIM_USAGE, "this build has no MQTT transport (libmosquitto-dev was not "
                     "installed when it was built)");
}

int sim_mqtt_open(sim_mqtt **out, const sim_state *st, const char *broker)
{
    (void)st;
    (void)broker;
    *out = NULL;
    return no_mqtt();
}

void sim_mqtt_close(sim_mqtt *m)
{
    (void)m;
}

int sim_mqtt_publish_telemetry(sim_mqtt *m, const uint8_t *payload, size_t len, int *reason)
{
    (void)m;
    (void)payload;
    (void)len;
    *reason = 0;
    return no_mqtt();
}

const char *sim_mqtt_reason_text(int reason)
{
    (void)reason;
    return "?";
}

int sim_listen(const sim_state *st, const iotsec_crypto *crypto, const char *broker,
               const sim_boot_opts *bo, const sim_listen_opts *lo)
{
    (void)st;
    (void)crypto;
    (void)broker;
    (void)bo;
    (void)lo;
    return no_mqtt();
}

#endif /* SIM_HAVE_MQTT */
