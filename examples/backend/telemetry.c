/*
 * iotsec-backend serve — POST /v1/telemetry (docs/DESIGN.md §10; server.h).
 *
 * A telemetry request goes: size limit → rate limit (token bucket per TLS identity) →
 * Content-Type → device registered and enabled → peek (untrusted, to pick the keys) →
 * frame device id = certificate identity → open (tag, then decrypt) → in one SQLite
 * transaction: replay check-and-commit, telemetry row, audit row → commit → 200. Receiver
 * keys are derived once per (device, kid) and cached in server.keys.
 */
#include "server.h"

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include "httpparse.h"

/* ---- receiver keys ---------------------------------------------------------------------------- */

void keys_entry_free(void *p)
{
    struct keys_entry *k = p;

    iotsec_frame_keys_cleanup(&k->frame);
    iotsec_ecowatt_keys_cleanup(&k->ecowatt);
    iotsec_zeroize(k, sizeof *k);
    free(k);
}

/* ---- telemetry ------------------------------------------------------------------------------ */

/* Token bucket of the connection's device; 1 when a frame may be taken. */
static int rate_take(struct server *s, const iotsec_peer_identity *id)
{
    struct map_entry *e;

    if (s->cfg.rate <= 0)
        return 1;
    e = map_get(&s->buckets, id->device_id, id->device_id_len, 0);
    if (e != NULL && e->value == NULL)
        e->value = calloc(1, sizeof(struct bucket));
    if (e == NULL || e->value == NULL)
        return 0;
    return bucket_take(e->value, s->cfg.rate, s->cfg.burst);
}

/* The receiver keys of (device, kid) — kid −1: the device's EcoWatt keys — derived once
 * and cached; re-derived when the database holds other key material (rotation). Returns
 * IOTSEC_OK, IOTSEC_E_UNKNOWN_KEY (no such key in the database) or another error. The copy
 * of the key material (a frame master secret, or the legacy keys) is wiped at the one
 * exit, on every path. */
static int get_keys(struct server *s, const char *id, size_t id_len, int kid,
                    const bk_device *dev, struct keys_entry **out)
{
    uint8_t material[sizeof((struct keys_entry *)0)->material];
    size_t mlen;
    struct map_entry *e;
    struct keys_entry *k;
    int rc, found = 0;

    memset(material, 0, sizeof material);
    if (kid < 0) {
        rc = IOTSEC_E_UNKNOWN_KEY;
        if (!dev->legacy)
            goto out;
        memcpy(material, dev->legacy_mac, BK_LEGACY_MAC_LEN);
        memcpy(material + BK_LEGACY_MAC_LEN, dev->legacy_enc, BK_LEGACY_ENC_LEN);
        material[BK_LEGACY_MAC_LEN + BK_LEGACY_ENC_LEN] = (uint8_t)dev->has_legacy_enc;
        mlen = BK_LEGACY_MAC_LEN + BK_LEGACY_ENC_LEN + 1u;
    } else {
        rc = bk_db_device_key(s->db, id, id_len, (unsigned)kid, material, &found);
        if (rc == IOTSEC_OK && !found)
            rc = IOTSEC_E_UNKNOWN_KEY;
        if (rc != IOTSEC_OK)
            goto out;
        mlen = BK_SECRET_LEN;
    }
    rc = IOTSEC_E_NO_MEMORY;
    e = map_get(&s->keys, id, id_len, kid);
    if (e == NULL)
        goto out;
    k = e->value;
    if (k != NULL && k->material_len == mlen && iotsec_ct_compare(k->material, material, mlen) == 0) {
        *out = k;
        rc = IOTSEC_OK;
        goto out;
    }
    if (k != NULL) {
        keys_entry_free(k);
        e->value = NULL;
    }
    k = calloc(1, sizeof *k);
    if (k == NULL)
        goto out;
    memcpy(k->material, material, mlen);
    k->material_len = mlen;
    if (kid < 0)
        rc = iotsec_ecowatt_keys_init(&k->ecowatt, s->crypto, dev->legacy_mac,
                                      dev->has_legacy_enc ? dev->legacy_enc : NULL);
    else
        rc = iotsec_frame_keys_derive(&k->frame, s->crypto, material, id, id_len,
                                      (uint8_t)kid, IOTSEC_FRAME_UPLINK);
    if (rc != IOTSEC_OK) {
        keys_entry_free(k); /* wipes it */
        goto out;
    }
    e->value = k;
    *out = k;
out:
    iotsec_zeroize(material, sizeof material);
    return rc;
}

/* Where a malformed frame went wrong, for the detail text. */
static void where_text(char *buf, size_t cap, const char *field, size_t offset)
{
    if (field != NULL)
        snprintf(buf, cap, "field %s at offset %zu", field, offset);
    else
        snprintf(buf, cap, "frame");
}

/* The frame's device id must be the certificate's identity (byte for byte). */
static int same_identity(const struct conn *c, const char *id, size_t id_len)
{
    return iotsec_identity_match(&c->id, id, id_len) == IOTSEC_OK;
}

/* Inside the open transaction on db, after the frame's counter was accepted by the store:
 * telemetry row and audit row, commit, then 200. On any failure the transaction is rolled
 * back (which also forgets the counter) and the request refused. */
static void store_frame(struct request *q, bk_db *db, const bk_telemetry *t)
{
    char detail[BK_DETAIL_MAX], digits[21];
    struct evbuffer *body;
    int rc;

    digits[iotsec_format_u64_dec(t->ctr, digits)] = '\0';
    rc = bk_db_telemetry(db, t);
    if (rc == IOTSEC_OK) {
        if (t->kid < 0)
            snprintf(detail, sizeof detail, "format %s, nonce %s, %zu payload bytes%s",
                     t->format, digits, t->payload_len, t->encrypted ? ", encrypted" : "");
        else
            snprintf(detail, sizeof detail, "format %s, kid %d, ctr %s, %zu payload bytes%s",
                     t->format, t->kid, digits, t->payload_len,
                     t->encrypted ? ", encrypted" : "");
        rc = audit_on(q->s, db, q->c->peer, t->device_id, "accepted", detail);
    }
    if (rc == IOTSEC_OK)
        rc = bk_db_commit(db); /* on failure the store has rolled back */
    else
        bk_db_rollback(db);
    if (rc != IOTSEC_OK) {
        internal_error(q, rc, "store frame");
        return;
    }
    body = evbuffer_new();
    if (body != NULL)
        evbuffer_add_printf(body, "{\"accepted\":true,\"device_id\":\"%s\",\"ctr\":%s}",
                            t->device_id, digits);
    send_answer(q, 200, "OK", "application/json", body);
    if (body != NULL)
        evbuffer_free(body);
}

/* A failed open inside the transaction: roll it back (the library recorded nothing for the
 * frame), then refuse, saying where a malformed frame went wrong or else what was refused. */
static void refuse_open(struct request *q, int rc, const char *field, size_t offset,
                        const char *what)
{
    char where[96];

    bk_db_rollback(q->s->db);
    where_text(where, sizeof where, field, offset);
    reject_rc(q, rc, "%s", iotsec_err_is_malformed(rc) ? where : what);
}

/* An opened frame (plaintext in s->plain): its rows, the commit and the 200, then the
 * plaintext is wiped. */
static void accept_frame(struct request *q, int kid, uint64_t ctr, const char *format,
                         int encrypted, size_t len)
{
    bk_telemetry t;

    memset(&t, 0, sizeof t);
    t.received = bk_now();
    t.device_id = q->c->id.device_id;
    t.kid = kid;
    t.ctr = ctr;
    t.format = format;
    t.encrypted = encrypted;
    t.payload = q->s->plain;
    t.payload_len = len;
    t.peer = q->c->peer;
    store_frame(q, q->s->db, &t);
    iotsec_zeroize(q->s->plain, len);
}

static void telemetry_v1(struct request *q, const bk_device *dev, const uint8_t *body,
                         size_t len, int json)
{
    struct server *s = q->s;
    iotsec_frame_header hdr;
    struct keys_entry *k = NULL;
    char where[96], digits[21], what[192];
    size_t out_len = 0;
    unsigned kid;
    int rc;

    memset(&hdr, 0, sizeof hdr);
    rc = json ? iotsec_frame_peek_json((const char *)body, len, &hdr)
              : iotsec_frame_peek(body, len, &hdr);
    if (rc != IOTSEC_OK) {
        where_text(where, sizeof where, hdr.err_field, hdr.err_offset);
        reject_rc(q, rc, "%s", where);
        return;
    }
    if (!same_identity(q->c, hdr.device_id, hdr.device_id_len)) {
        reject_rc(q, IOTSEC_E_IDENTITY_MISMATCH, "frame for device %s on the connection of %s",
                  hdr.device_id, q->c->id.device_id);
        return;
    }
    rc = get_keys(s, hdr.device_id, hdr.device_id_len, hdr.kid, dev, &k);
    if (rc == IOTSEC_E_UNKNOWN_KEY) {
        reject_rc(q, rc, "device %s has no key generation %u", hdr.device_id, hdr.kid);
        return;
    }
    if (rc != IOTSEC_OK) {
        internal_error(q, rc, "frame keys");
        return;
    }
    digits[iotsec_format_u64_dec(hdr.ctr, digits)] = '\0';
    kid = hdr.kid;
    rc = bk_db_begin(s->db);
    if (rc != IOTSEC_OK) {
        internal_error(q, rc, "begin transaction");
        return;
    }
    /* tag → direction/device/kid → read-only replay check → decrypt → check-and-commit,
     * all in the library; the counter becomes durable with the rows below */
    rc = json ? iotsec_frame_open_json_stored(&k->frame, bk_db_store(s->db), (const char *)body,
                                              len, &hdr, s->plain, sizeof s->plain, &out_len)
              : iotsec_frame_open_stored(&k->frame, bk_db_store(s->db), body, len, &hdr,
                                         s->plain, sizeof s->plain, &out_len);
    if (rc != IOTSEC_OK) {
        snprintf(what, sizeof what, "%s frame, device %s, kid %u, counter %s",
                 json ? "JSON" : "binary", q->c->id.device_id, kid, digits);
        refuse_open(q, rc, hdr.err_field, hdr.err_offset, what);
        return;
    }
    accept_frame(q, hdr.kid, hdr.ctr, json ? "json" : "binary", hdr.encrypted, out_len);
}

static void telemetry_ecowatt(struct request *q, const bk_device *dev, const char *body,
                              size_t len)
{
    struct server *s = q->s;
    iotsec_ecowatt_header hdr;
    struct keys_entry *k = NULL;
    char where[96], digits[21], what[192];
    size_t out_len = 0;
    int rc;

    memset(&hdr, 0, sizeof hdr);
    rc = iotsec_ecowatt_peek(body, len, &hdr);
    if (rc != IOTSEC_OK) {
        where_text(where, sizeof where, hdr.err_field, hdr.err_offset);
        reject_rc(q, rc, "legacy frame: %s", where);
        return;
    }
    if (!same_identity(q->c, hdr.device_id, hdr.device_id_len)) {
        reject_rc(q, IOTSEC_E_IDENTITY_MISMATCH, "frame for device %s on the connection of %s",
                  hdr.device_id, q->c->id.device_id);
        return;
    }
    if (!dev->legacy) {
        reject_rc(q, IOTSEC_E_POLICY, "device %s is not configured for the legacy EcoWatt "
                  "profile", hdr.device_id);
        return;
    }
    rc = get_keys(s, hdr.device_id, hdr.device_id_len, -1, dev, &k);
    if (rc != IOTSEC_OK) {
        internal_error(q, rc, "legacy keys");
        return;
    }
    digits[iotsec_format_u64_dec(hdr.nonce, digits)] = '\0';
    rc = bk_db_begin(s->db);
    if (rc != IOTSEC_OK) {
        internal_error(q, rc, "begin transaction");
        return;
    }
    /* MAC → read-only strict nonce check → decrypt → check-and-commit, all in the library,
     * against the database's legacy namespace; the nonce becomes durable with the rows */
    rc = iotsec_ecowatt_open_stored(&k->ecowatt, bk_db_ecowatt_store(s->db), body, len, &hdr,
                                    s->plain, sizeof s->plain, &out_len);
    if (rc != IOTSEC_OK) {
        snprintf(what, sizeof what, "legacy frame, device %s, nonce %s", q->c->id.device_id,
                 digits);
        refuse_open(q, rc, hdr.err_field, hdr.err_offset, what);
        return;
    }
    accept_frame(q, -1, hdr.nonce, "ecowatt", hdr.encrypted, out_len);
}

void handle_telemetry(struct request *q, bk_device *dev)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(q->req);
    size_t len = evbuffer_get_length(in);
    const char *ctype_text = evhttp_find_header(evhttp_request_get_input_headers(q->req),
                                                "Content-Type");
    enum backend_ctype ctype;
    const uint8_t *body;

    if (evhttp_request_get_command(q->req) != EVHTTP_REQ_POST) {
        reject(q, 405, "method_not_allowed", "telemetry is sent with POST");
        return;
    }
    if (len > q->s->cfg.max_body) {
        reject(q, 413, "too_large", "body of %zu bytes, limit %zu", len, q->s->cfg.max_body);
        return;
    }
    if (!rate_take(q->s, &q->c->id)) {
        reject(q, 429, "rate_limited", "device %s over %g frames/s (burst %g)",
               q->c->id.device_id, q->s->cfg.rate, q->s->cfg.burst);
        return;
    }
    if (backend_content_type(ctype_text, ctype_text ? strlen(ctype_text) : 0, &ctype) !=
        IOTSEC_OK) {
        reject(q, 415, "unsupported_media_type",
               "Content-Type must be application/iotsec-frame or application/json");
        return;
    }
    if (!authorize(q, dev))
        return;
    body = len > 0 ? evbuffer_pullup(in, -1) : (const uint8_t *)"";
    if (body == NULL) {
        internal_error(q, IOTSEC_E_NO_MEMORY, "read body");
        return;
    }
    if (ctype == BACKEND_CT_FRAME) {
        telemetry_v1(q, dev, body, len, 0);
    } else {
        /* JSON: frame v1 has "v"; the EcoWatt profile has "nonce". The library's strict
         * v1 parser refuses the legacy members, so a legacy frame is recognised by its own
         * strict parser; if neither parses, the error of the profile the device is
         * configured for is reported. */
        iotsec_frame_header h1;
        iotsec_ecowatt_header h2;
        int rc1 = iotsec_frame_peek_json((const char *)body, len, &h1);
        int rc2 = rc1 == IOTSEC_OK ? rc1 : iotsec_ecowatt_peek((const char *)body, len, &h2);
        if (rc1 == IOTSEC_OK || (rc2 != IOTSEC_OK && !dev->legacy))
            telemetry_v1(q, dev, body, len, 1);
        else
            telemetry_ecowatt(q, dev, (const char *)body, len);
    }
}
