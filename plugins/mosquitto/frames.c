/*
 * iotsec mosquitto plugin — telemetry frames (plugin.h).
 *
 * The order is the backend's (docs/DESIGN.md §10.2) with the MQTT topic in place of the URL:
 * certificate still valid (revocation set current now, notAfter) → topic names the
 * certificate's device → no retained telemetry → device registered and enabled → size →
 * untrusted peek → frame device id = certificate identity → keys of (device, kid) from the
 * database → library open against the backend's replay store (tag, direction/device/kid,
 * read-only replay check, decryption, atomic check-and-commit). The counter is durable when
 * this returns IOTSEC_OK, before mosquitto forwards the message or acknowledges it.
 * A binary frame starts with its version byte 0x01; a JSON payload ('{') is a frame v1 if it
 * parses as one, else the EcoWatt profile for a device registered with legacy keys.
 */
#include "plugin.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "iotsec/ecowatt.h"
#include "iotsec/frame.h"

/* Audit a refusal of c's message (event: the error's code) and return rc. */
static int refuse(mq_plugin *p, mq_client *c, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int refuse(mq_plugin *p, mq_client *c, int rc, const char *fmt, ...)
{
    char code[48], detail[MQ_DETAIL_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    /* storage, memory and crypto-library failures are the backend's "internal" */
    mq_audit(p, &c->gate, c->peer, c->id.device_id,
             iotsec_err_is_backend(rc) ? "internal" : mq_error_code(rc, code, sizeof code), "%s",
             detail);
    return rc;
}

static void where_text(char *buf, size_t cap, const char *field, size_t offset)
{
    if (field != NULL)
        snprintf(buf, cap, "field %s at offset %zu", field, offset);
    else
        snprintf(buf, cap, "frame");
}

static int open_v1(mq_plugin *p, mq_client *c, const char *topic, const uint8_t *buf,
                   size_t len, int json)
{
    iotsec_frame_header hdr;
    iotsec_frame_keys keys;
    uint8_t secret[MQ_SECRET_LEN];
    char where[96], digits[21];
    size_t out_len = 0;
    unsigned kid;
    int rc, found = 0;

    memset(&hdr, 0, sizeof hdr);
    memset(&keys, 0, sizeof keys);
    rc = json ? iotsec_frame_peek_json((const char *)buf, len, &hdr)
              : iotsec_frame_peek(buf, len, &hdr);
    if (rc != IOTSEC_OK) {
        where_text(where, sizeof where, hdr.err_field, hdr.err_offset);
        return refuse(p, c, rc, "%s on %s", where, topic);
    }
    if (iotsec_identity_match(&c->id, hdr.device_id, hdr.device_id_len) != IOTSEC_OK)
        return refuse(p, c, IOTSEC_E_IDENTITY_MISMATCH, "frame for device %s on %s",
                      hdr.device_id, topic);
    kid = hdr.kid;
    rc = mq_store_key(p, hdr.device_id, hdr.device_id_len, kid, secret, &found);
    if (rc == IOTSEC_OK && !found)
        return refuse(p, c, IOTSEC_E_UNKNOWN_KEY, "device %s has no key generation %u (%s)",
                      hdr.device_id, kid, topic);
    if (rc == IOTSEC_OK)
        rc = iotsec_frame_keys_derive(&keys, p->crypto, secret, hdr.device_id,
                                      hdr.device_id_len, (uint8_t)kid, IOTSEC_FRAME_UPLINK);
    iotsec_zeroize(secret, sizeof secret);
    if (rc != IOTSEC_OK) {
        iotsec_frame_keys_cleanup(&keys);
        return refuse(p, c, rc, "frame keys: %s (%s)", iotsec_strerror(rc), topic);
    }
    digits[iotsec_format_u64_dec(hdr.ctr, digits)] = '\0';
    /* tag → direction/device/kid → read-only replay check → decrypt → check-and-commit,
     * all in the library, against the backend's replay table */
    rc = json ? iotsec_frame_open_json_stored(&keys, iotsec_replay_sqlite_store(p->db),
                                              (const char *)buf, len, &hdr, p->plain,
                                              sizeof p->plain, &out_len)
              : iotsec_frame_open_stored(&keys, iotsec_replay_sqlite_store(p->db), buf, len,
                                         &hdr, p->plain, sizeof p->plain, &out_len);
    iotsec_frame_keys_cleanup(&keys);
    /* the plaintext is not needed (the broker forwards the frame as it came): wiped; the
     * library already wiped it on a refusal */
    iotsec_zeroize(p->plain, out_len);
    if (rc != IOTSEC_OK) {
        if (iotsec_err_is_malformed(rc)) {
            where_text(where, sizeof where, hdr.err_field, hdr.err_offset);
            return refuse(p, c, rc, "%s on %s", where, topic);
        }
        return refuse(p, c, rc, "%s frame, kid %u, counter %s on %s", json ? "JSON" : "binary",
                      kid, digits, topic);
    }
    mq_audit(p, NULL, c->peer, c->id.device_id, "accepted",
             "format %s, kid %u, ctr %s, %zu payload bytes%s, topic %s", json ? "json" : "binary",
             kid, digits, out_len, hdr.encrypted ? ", encrypted" : "", topic);
    return IOTSEC_OK;
}

static int open_ecowatt(mq_plugin *p, mq_client *c, const char *topic, const mq_device *dev,
                        const char *buf, size_t len)
{
    iotsec_ecowatt_header hdr;
    iotsec_ecowatt_keys keys;
    char where[96], digits[21];
    size_t out_len = 0;
    int rc;

    memset(&hdr, 0, sizeof hdr);
    memset(&keys, 0, sizeof keys);
    rc = iotsec_ecowatt_peek(buf, len, &hdr);
    if (rc != IOTSEC_OK) {
        where_text(where, sizeof where, hdr.err_field, hdr.err_offset);
        return refuse(p, c, rc, "legacy frame: %s on %s", where, topic);
    }
    /* the legacy MAC does not cover the device id: the certificate identity binds it */
    if (iotsec_identity_match(&c->id, hdr.device_id, hdr.device_id_len) != IOTSEC_OK)
        return refuse(p, c, IOTSEC_E_IDENTITY_MISMATCH, "frame for device %s on %s",
                      hdr.device_id, topic);
    rc = iotsec_ecowatt_keys_init(&keys, p->crypto, dev->legacy_mac,
                                  dev->has_legacy_enc ? dev->legacy_enc : NULL);
    if (rc != IOTSEC_OK)
        return refuse(p, c, rc, "legacy keys: %s (%s)", iotsec_strerror(rc), topic);
    digits[iotsec_format_u64_dec(hdr.nonce, digits)] = '\0';
    /* MAC → read-only strict nonce check → decrypt → check-and-commit, in the database's
     * legacy namespace */
    rc = iotsec_ecowatt_open_stored(&keys, iotsec_replay_sqlite_ecowatt_store(p->db), buf, len,
                                    &hdr, p->plain, sizeof p->plain, &out_len);
    iotsec_ecowatt_keys_cleanup(&keys);
    iotsec_zeroize(p->plain, out_len);
    if (rc != IOTSEC_OK) {
        if (iotsec_err_is_malformed(rc)) {
            where_text(where, sizeof where, hdr.err_field, hdr.err_offset);
            return refuse(p, c, rc, "legacy frame: %s on %s", where, topic);
        }
        return refuse(p, c, rc, "legacy frame, nonce %s on %s", digits, topic);
    }
    mq_audit(p, NULL, c->peer, c->id.device_id, "accepted",
             "format ecowatt, nonce %s, %zu payload bytes%s, topic %s", digits, out_len,
             hdr.encrypted ? ", encrypted" : "", topic);
    return IOTSEC_OK;
}

int mq_telemetry_verify(mq_plugin *p, mq_client *c, const char *topic, const char *topic_id,
                        const void *payload, uint32_t len, int retain)
{
    const uint8_t *buf = payload;
    mq_device dev;
    size_t i;
    int rc, found = 0;

    if (strcmp(topic_id, c->id.device_id) != 0)
        return refuse(p, c, IOTSEC_E_IDENTITY_MISMATCH,
                      "telemetry topic %s names another device than the certificate's", topic);
    if (retain)
        return refuse(p, c, IOTSEC_E_POLICY, "retained telemetry refused on %s (a subscriber "
                      "would be sent the frame again)", topic);
    rc = mq_store_device(p, c->id.device_id, c->id.device_id_len, &dev, &found);
    if (rc != IOTSEC_OK) {
        mq_audit(p, NULL, c->peer, c->id.device_id, "internal", "device lookup failed (%s)",
                 iotsec_error_name(rc));
        return rc;
    }
    if (!found) {
        mq_audit(p, &c->gate, c->peer, c->id.device_id, "unknown_device",
                 "device %s is not registered (%s)", c->id.device_id, topic);
        return IOTSEC_E_POLICY;
    }
    if (!dev.enabled) {
        iotsec_zeroize(&dev, sizeof dev);
        mq_audit(p, &c->gate, c->peer, c->id.device_id, "device_disabled",
                 "device %s is disabled (%s)", c->id.device_id, topic);
        return IOTSEC_E_POLICY;
    }
    if (payload == NULL || len == 0) {
        iotsec_zeroize(&dev, sizeof dev);
        return refuse(p, c, IOTSEC_E_TRUNCATED, "empty payload on %s", topic);
    }
    if (len > p->opt.max_payload) {
        iotsec_zeroize(&dev, sizeof dev);
        mq_audit(p, &c->gate, c->peer, c->id.device_id, "too_large",
                 "payload of %lu bytes on %s, limit %zu", (unsigned long)len, topic,
                 p->opt.max_payload);
        return IOTSEC_E_BAD_LENGTH;
    }
    for (i = 0; i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n');
         i++) {
    }
    if (i == len || buf[i] != '{') {
        rc = open_v1(p, c, topic, buf, len, 0);
    } else {
        /* JSON: frame v1 has "v", the EcoWatt profile "nonce"; neither parser accepts the
         * other's members, so the one that parses decides; if neither does, the error of
         * the profile the device is registered for is reported (as the backend does) */
        iotsec_frame_header h1;
        iotsec_ecowatt_header h2;
        int rc1 = iotsec_frame_peek_json((const char *)buf, len, &h1);
        int rc2 = rc1 == IOTSEC_OK ? rc1 : iotsec_ecowatt_peek((const char *)buf, len, &h2);
        if (rc1 == IOTSEC_OK || (rc2 != IOTSEC_OK && !dev.legacy))
            rc = open_v1(p, c, topic, buf, len, 1);
        else if (!dev.legacy)
            rc = refuse(p, c, IOTSEC_E_POLICY, "device %s is not configured for the legacy "
                        "EcoWatt profile (%s)", c->id.device_id, topic);
        else
            rc = open_ecowatt(p, c, topic, &dev, (const char *)buf, len);
    }
    iotsec_zeroize(&dev, sizeof dev);
    return rc;
}
