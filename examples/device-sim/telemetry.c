/* iotsec-device-sim — telemetry over mTLS (docs/DESIGN.md §4, §5, §10, §11, §13).
 *
 * Counters come from the library's sender counter store (two-slot reservation record in
 * nvs/, POSIX file port wrapped so the power-loss simulator sees its writes); frames are
 * sealed by the library (binary v1, JSON v1 or the legacy EcoWatt profile) and POSTed to
 * /v1/telemetry, or published to a broker (mqtt.c). Each answer is printed as
 * "frame N ctr=C: HTTP S BODY" or "frame N ctr=C: MQTT PUBACK R TEXT". */
#include "app.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "iotsec/counter_file.h"
#include "iotsec/ecowatt.h"
#include "iotsec/frame.h"
#include "mqtt.h"

/* ---- the NVS port: the library's file port, with every write seen by the power-loss
 * simulator (a write cut by the power leaves a torn record: new first half, old rest) ---- */

static iotsec_counter_port nvs_inner;

static int nvs_read(void *ctx, unsigned slot, uint8_t buf[IOTSEC_COUNTER_RECORD_LEN])
{
    (void)ctx;
    return nvs_inner.read(nvs_inner.ctx, slot, buf);
}

static int nvs_write(void *ctx, unsigned slot, const uint8_t buf[IOTSEC_COUNTER_RECORD_LEN])
{
    uint8_t torn[IOTSEC_COUNTER_RECORD_LEN];

    (void)ctx;
    if (sim_power_due()) {
        if (nvs_inner.read(nvs_inner.ctx, slot, torn) != IOTSEC_OK)
            memset(torn, 0xff, sizeof torn);
        memcpy(torn, buf, sizeof torn / 2);
        (void)nvs_inner.write(nvs_inner.ctx, slot, torn);
        sim_power_fail("NVS counter record");
    }
    return nvs_inner.write(nvs_inner.ctx, slot, buf);
}

static int nvs_flush(void *ctx)
{
    (void)ctx;
    return nvs_inner.flush(nvs_inner.ctx);
}

int sim_nvs_open(const sim_state *st, iotsec_counter_file *f, iotsec_counter *c)
{
    char path[SIM_PATH_MAX];
    iotsec_counter_port port;
    int rc;

    if ((rc = sim_path(st, SIM_NVS_COUNTER, path)) != SIM_OK)
        return rc;
    rc = iotsec_counter_file_open(f, path, &nvs_inner);
    if (rc != IOTSEC_OK)
        return sim_fail(SIM_IO, rc, "%s: cannot open the sender counter", path);
    port.ctx = NULL;
    port.read = nvs_read;
    port.write = nvs_write;
    port.flush = nvs_flush;
    rc = iotsec_counter_open(c, &port, IOTSEC_COUNTER_DEFAULT_STEP);
    if (rc != IOTSEC_OK) {
        iotsec_counter_file_close(f);
        return sim_fail(SIM_IO, rc, "%s: cannot read the sender counter", path);
    }
    return SIM_OK;
}

/* the frame keys of this device: derived (v1) or the legacy raw keys (EcoWatt) */
typedef struct sender {
    enum sim_format format;
    iotsec_frame_keys keys;
    iotsec_ecowatt_keys legacy;
} sender;

static int sender_init(sender *s, const sim_state *st, const iotsec_crypto *crypto,
                       const sim_run_opts *ro)
{
    uint8_t secret[SIM_FRAME_SECRET_LEN], mac[IOTSEC_ECOWATT_MAC_KEY_LEN],
        enc[IOTSEC_ECOWATT_ENC_KEY_LEN];
    char path[SIM_PATH_MAX];
    int rc, have_enc;

    memset(s, 0, sizeof *s);
    s->format = ro->format;
    if (ro->format != SIM_FMT_ECOWATT) {
        if ((rc = sim_path(st, SIM_CRED_SECRET, path)) != SIM_OK)
            return rc;
        if ((rc = iotsec_file_read_secret(path, secret, sizeof secret)) != IOTSEC_OK)
            return sim_fail(SIM_IO, rc, "%s: cannot read the frame master secret", path);
        rc = iotsec_frame_keys_derive(&s->keys, crypto, secret, st->device_id,
                                      strlen(st->device_id), 0, IOTSEC_FRAME_UPLINK);
        iotsec_zeroize(secret, sizeof secret);
        if (rc != IOTSEC_OK)
            return sim_fail(SIM_REJECTED, rc, "cannot derive the frame keys");
        return SIM_OK;
    }
    if ((rc = sim_path(st, SIM_CRED_LEGACY_MAC, path)) != SIM_OK)
        return rc;
    if (access(path, F_OK) != 0)
        return sim_error(SIM_USAGE, "--format ecowatt: the device was provisioned without "
                         "--legacy-mac-key");
    if ((rc = iotsec_file_read_secret(path, mac, sizeof mac)) != IOTSEC_OK)
        return sim_fail(SIM_IO, rc, "%s: cannot read the legacy MAC key", path);
    /* from here on mac holds the key: every path below ends at the zeroization */
    have_enc = 0;
    if ((rc = sim_path(st, SIM_CRED_LEGACY_ENC, path)) == SIM_OK) {
        have_enc = access(path, F_OK) == 0;
        if (ro->encrypt && !have_enc)
            rc = sim_error(SIM_USAGE, "--format ecowatt --encrypt: the device was provisioned "
                           "without --legacy-enc-key");
        else if (have_enc && (rc = iotsec_file_read_secret(path, enc, sizeof enc)) != IOTSEC_OK)
            rc = sim_fail(SIM_IO, rc, "%s: cannot read the legacy encryption key", path);
    }
    if (rc == SIM_OK) {
        rc = iotsec_ecowatt_keys_init(&s->legacy, crypto, mac, have_enc ? enc : NULL);
        if (rc != IOTSEC_OK)
            rc = sim_fail(SIM_REJECTED, rc, "cannot set up the legacy keys");
    }
    iotsec_zeroize(mac, sizeof mac);
    iotsec_zeroize(enc, sizeof enc);
    return rc;
}

static void sender_cleanup(sender *s)
{
    iotsec_frame_keys_cleanup(&s->keys);
    iotsec_ecowatt_keys_cleanup(&s->legacy);
}

/* seal one reading; *ctype gets the content type */
static int seal(sender *s, const sim_state *st, uint64_t ctr, int encrypt,
                const uint8_t *payload, size_t payload_len, uint8_t *out, size_t cap,
                size_t *out_len, const char **ctype)
{
    size_t id_len = strlen(st->device_id);

    switch (s->format) {
    case SIM_FMT_BINARY:
        *ctype = "application/iotsec-frame";
        return iotsec_frame_seal(&s->keys, ctr, encrypt, NULL, payload, payload_len, out, cap,
                                 out_len);
    case SIM_FMT_JSON:
        *ctype = "application/json";
        return iotsec_frame_seal_json(&s->keys, ctr, encrypt, NULL, payload, payload_len,
                                      (char *)out, cap, out_len);
    case SIM_FMT_ECOWATT:
    default:
        *ctype = "application/json";
        return iotsec_ecowatt_seal(&s->legacy, st->device_id, id_len, ctr, encrypt, NULL,
                                   payload, payload_len, (char *)out, cap, out_len);
    }
}

/* The server's answer on stdout as one line of printable ASCII: any other byte (escape
 * sequences, CR, NUL) as \xHH, so a server cannot write terminal control sequences to the
 * device's console or forge lines in its log. */
static void print_answer(const char *a, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)a[i];
        if (ch >= 0x20 && ch < 0x7f)
            putchar(ch);
        else
            printf("\\x%02x", ch);
    }
    putchar('\n');
}

static void pause_ms(unsigned long ms)
{
    struct timespec ts;

    ts.tv_sec = (time_t)(ms / 1000u);
    ts.tv_nsec = (long)(ms % 1000u) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int sim_run(const sim_state *st, const iotsec_crypto *crypto, const char *server,
            const sim_boot_opts *bo, const sim_run_opts *ro)
{
    static sim_boot_result booted;
    uint8_t frame[2048];
    char payload[256], answer[1024];
    sim_net *net = NULL;
    sim_mqtt *mq = NULL;
    iotsec_counter_file nvs_file = {-1};
    iotsec_counter ctr_store;
    sender snd;
    unsigned long i;
    int rc, rejected = 0;

    rc = ro->transport == SIM_TRANSPORT_MQTT ? sim_mqtt_open(&mq, st, server)
                                             : sim_net_open(&net, st, server);
    if (rc != SIM_OK)
        return rc;
    rc = sim_boot(st, crypto, bo, &booted);
    if (rc != SIM_OK && rc != SIM_ROLLED_BACK) {
        sim_net_close(net);
        sim_mqtt_close(mq);
        return rc;
    }
    if ((rc = sender_init(&snd, st, crypto, ro)) != SIM_OK) {
        sim_net_close(net);
        sim_mqtt_close(mq);
        return rc;
    }
    if ((rc = sim_nvs_open(st, &nvs_file, &ctr_store)) != SIM_OK)
        goto done;
    for (i = 1; i <= ro->frames; i++) {
        uint64_t ctr;
        size_t plen, flen, alen;
        const char *ctype;
        long status;
        int n;

        rc = iotsec_counter_next(&ctr_store, &ctr);
        if (rc != IOTSEC_OK) {
            rc = sim_fail(rc == IOTSEC_E_IO ? SIM_IO : SIM_REJECTED, rc,
                          "sender counter refused a new counter");
            goto done;
        }
        n = snprintf(payload, sizeof payload,
                     "{\"seq\":%lu,\"fw\":\"%.*s\",\"pv_w\":%lu,\"temp_c\":%lu.%lu}", i,
                     (int)booted.sm.m.f.version_len, (const char *)booted.sm.m.f.version,
                     1200u + (unsigned long)(ctr % 97u), 35u + (unsigned long)(ctr % 7u),
                     (unsigned long)(ctr % 10u));
        plen = n > 0 && (size_t)n < sizeof payload ? (size_t)n : 0;
        rc = seal(&snd, st, ctr, ro->encrypt, (const uint8_t *)payload, plen, frame,
                  sizeof frame, &flen, &ctype);
        if (rc != IOTSEC_OK) {
            rc = sim_fail(SIM_REJECTED, rc, "cannot seal frame %lu", i);
            goto done;
        }
        if (mq != NULL) { /* the broker's PUBACK reason code is the answer */
            int reason = 0;
            if ((rc = sim_mqtt_publish_telemetry(mq, frame, flen, &reason)) != SIM_OK)
                goto done;
            printf("frame %lu ctr=%llu: MQTT PUBACK %d %s\n", i, (unsigned long long)ctr,
                   reason, sim_mqtt_reason_text(reason));
            fflush(stdout);
            rejected |= reason >= 0x80;
            if (i < ro->frames && ro->interval_ms > 0)
                pause_ms(ro->interval_ms);
            continue;
        }
        rc = sim_net_post(net, "/v1/telemetry", ctype, frame, flen, answer, sizeof answer,
                          &alen, &status);
        if (rc != SIM_OK)
            goto done;
        while (alen > 0 && (answer[alen - 1] == '\n' || answer[alen - 1] == '\r'))
            answer[--alen] = '\0';
        printf("frame %lu ctr=%llu: HTTP %ld ", i, (unsigned long long)ctr, status);
        print_answer(answer, alen);
        fflush(stdout);
        if (status < 200 || status > 299)
            rejected = 1;
        if (i < ro->frames && ro->interval_ms > 0)
            pause_ms(ro->interval_ms);
    }
    rc = rejected ? SIM_SERVER_REJECTED : SIM_OK;
done:
    iotsec_counter_file_close(&nvs_file);
    sender_cleanup(&snd);
    sim_net_close(net);
    sim_mqtt_close(mq);
    return rc;
}
