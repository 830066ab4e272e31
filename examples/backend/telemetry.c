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

/* ---- group commit ------------------------------------------------------------------------- */

enum frame_kind { FRAME_BINARY, FRAME_JSON, FRAME_ECOWATT };

/* A frame that passed the checks that need no database (peek, identity, keys known) and
 * waits for its batch. Its request stays open (c->pend) until the batch is answered. */
struct batch_frame {
    struct batch_frame *next;
    struct conn *c;               /* NULL: the connection went away (no answer) */
    struct evhttp_request *req;
    enum frame_kind kind;
    char device_id[BK_ID_MAX + 1];
    size_t id_len;
    int kid;                      /* −1: legacy */
    bk_device dev;                /* the device record (legacy keys): wiped when freed */
    uint8_t *body;
    size_t len;
    /* the outcome of the last run of the batch */
    int rc;
    uint64_t ctr;                 /* accepted: its counter / nonce */
    char text[192];               /* refused: where (malformed) or what */
};

static void frame_free(struct batch_frame *f)
{
    bk_device_wipe(&f->dev);
    free(f->body);
    free(f);
}

/* The order in which a batch takes its row locks (PostgreSQL): namespace, device id, kid,
 * the same in every process, so two batches never wait for each other in a cycle. */
static int frame_cmp(const void *a, const void *b)
{
    const struct batch_frame *x = *(const struct batch_frame *const *)a;
    const struct batch_frame *y = *(const struct batch_frame *const *)b;
    int nx = x->kind == FRAME_ECOWATT, ny = y->kind == FRAME_ECOWATT, c;

    if (nx != ny)
        return nx - ny;
    c = strcmp(x->device_id, y->device_id);
    if (c != 0)
        return c;
    return (x->kid > y->kid) - (x->kid < y->kid);
}

/* One frame inside the batch's transaction: open it against the store (the library checks
 * everything and writes the replay state only for a frame it accepts, as its last step),
 * then its telemetry and audit rows. A frame refused for its own reason (forgery, replay,
 * malformed, unknown key) writes nothing and does not affect the others: f->rc says why.
 * Returns IOTSEC_OK, or the database failure that fails the whole batch. */
static int run_frame(struct server *s, struct batch_frame *f)
{
    char detail[BK_DETAIL_MAX], digits[21];
    struct keys_entry *k = NULL;
    bk_telemetry t;
    size_t out_len = 0;
    const char *field = NULL;
    size_t offset = 0;
    int rc, encrypted = 0;

    f->text[0] = '\0';
    rc = get_keys(s, f->device_id, f->id_len, f->kid, &f->dev, &k);
    if (rc == IOTSEC_E_UNKNOWN_KEY) { /* removed since the frame arrived */
        f->rc = rc;
        snprintf(f->text, sizeof f->text, "device %s has no key generation %d", f->device_id,
                 f->kid);
        return IOTSEC_OK;
    }
    if (rc != IOTSEC_OK)
        return rc;
    if (f->kind == FRAME_ECOWATT) {
        iotsec_ecowatt_header hdr;
        memset(&hdr, 0, sizeof hdr);
        rc = iotsec_ecowatt_open_stored(&k->ecowatt, bk_db_ecowatt_store(s->db),
                                        (const char *)f->body, f->len, &hdr, s->plain,
                                        sizeof s->plain, &out_len);
        f->ctr = hdr.nonce;
        encrypted = hdr.encrypted;
        field = hdr.err_field;
        offset = hdr.err_offset;
    } else {
        iotsec_frame_header hdr;
        memset(&hdr, 0, sizeof hdr);
        rc = f->kind == FRAME_JSON
                 ? iotsec_frame_open_json_stored(&k->frame, bk_db_store(s->db),
                                                 (const char *)f->body, f->len, &hdr, s->plain,
                                                 sizeof s->plain, &out_len)
                 : iotsec_frame_open_stored(&k->frame, bk_db_store(s->db), f->body, f->len,
                                            &hdr, s->plain, sizeof s->plain, &out_len);
        f->ctr = hdr.ctr;
        encrypted = hdr.encrypted;
        field = hdr.err_field;
        offset = hdr.err_offset;
    }
    f->rc = rc;
    digits[iotsec_format_u64_dec(f->ctr, digits)] = '\0';
    if (rc == IOTSEC_E_IO || rc == IOTSEC_E_NO_MEMORY)
        return rc; /* the database (or memory) failed: the whole batch fails */
    if (rc != IOTSEC_OK) {
        if (iotsec_err_is_malformed(rc))
            where_text(f->text, sizeof f->text, field, offset);
        else if (f->kind == FRAME_ECOWATT)
            snprintf(f->text, sizeof f->text, "legacy frame, device %s, nonce %s",
                     f->device_id, digits);
        else
            snprintf(f->text, sizeof f->text, "%s frame, device %s, kid %d, counter %s",
                     f->kind == FRAME_JSON ? "JSON" : "binary", f->device_id, f->kid, digits);
        return IOTSEC_OK;
    }
    memset(&t, 0, sizeof t);
    t.received = bk_now();
    t.device_id = f->device_id;
    t.kid = f->kind == FRAME_ECOWATT ? -1 : f->kid;
    t.ctr = f->ctr;
    t.format = f->kind == FRAME_ECOWATT ? "ecowatt" : f->kind == FRAME_JSON ? "json" : "binary";
    t.encrypted = encrypted;
    t.payload = s->plain;
    t.payload_len = out_len;
    t.peer = f->c->peer;
    rc = bk_db_telemetry(s->db, &t);
    iotsec_zeroize(s->plain, out_len);
    if (rc != IOTSEC_OK)
        return rc;
    if (t.kid < 0)
        snprintf(detail, sizeof detail, "format %s, nonce %s, %zu payload bytes%s", t.format,
                 digits, out_len, encrypted ? ", encrypted" : "");
    else
        snprintf(detail, sizeof detail, "format %s, kid %d, ctr %s, %zu payload bytes%s",
                 t.format, t.kid, digits, out_len, encrypted ? ", encrypted" : "");
    return audit_on(s, s->db, f->c->peer, f->device_id, "accepted", detail);
}

/* Answer a frame of a batch that ran: committed, its 200 or its own refusal; not committed,
 * 503. Then the connection may read its next request. */
static void batch_answer(struct server *s, struct batch_frame *f, int committed, size_t n)
{
    struct request q;
    struct evbuffer *body;
    char digits[21];

    if (f->c == NULL)
        return;
    q.s = s;
    q.c = f->c;
    q.req = f->req;
    f->c->pend = NULL;
    if (!committed) {
        evhttp_add_header(evhttp_request_get_output_headers(q.req), "Retry-After", "1");
        reject(&q, 503, "unavailable", "the batch of %zu frames was not committed; none of"
               " them was stored", n);
    } else if (f->rc != IOTSEC_OK) {
        reject_rc(&q, f->rc, "%s", f->text);
    } else {
        digits[iotsec_format_u64_dec(f->ctr, digits)] = '\0';
        body = evbuffer_new();
        if (body != NULL)
            evbuffer_add_printf(body, "{\"accepted\":true,\"device_id\":\"%s\",\"ctr\":%s}",
                                f->device_id, digits);
        send_answer(&q, 200, "OK", "application/json", body);
        if (body != NULL)
            evbuffer_free(body);
    }
    conn_request_done(q.c);
}

#define BATCH_TRIES 4 /* runs of a batch the database aborted with SQLSTATE class 40 */

/* Run the batch gathered so far: one transaction, frames in lock order; commit; answer. */
static void batch_run(struct server *s)
{
    struct batch_frame *f, **v;
    size_t n = 0, i;
    int rc = IOTSEC_OK, tries, committed = 0;

    evtimer_del(s->ev_batch_due);
    event_del(s->ev_batch);
    if (s->batch_head == NULL)
        return;
    v = malloc(s->batch_n * sizeof *v);
    if (v == NULL) { /* answered one by one below, as not committed */
        rc = IOTSEC_E_NO_MEMORY;
        for (f = s->batch_head; f != NULL; f = f->next)
            n++;
    } else {
        for (f = s->batch_head; f != NULL; f = f->next)
            v[n++] = f;
        qsort(v, n, sizeof *v, frame_cmp);
    }
    f = s->batch_head;
    s->batch_head = NULL;
    s->batch_tail = &s->batch_head;
    s->batch_n = 0;
    for (tries = 0; v != NULL && tries < BATCH_TRIES; tries++) {
        rc = bk_db_begin(s->db);
        for (i = 0; rc == IOTSEC_OK && i < n; i++)
            if (v[i]->c != NULL) /* a frame whose device left is not stored */
                rc = run_frame(s, v[i]);
        if (rc == IOTSEC_OK) {
            rc = bk_db_commit(s->db); /* on failure the store has rolled back */
            if (rc == IOTSEC_OK) {
                committed = 1;
                break;
            }
        } else {
            bk_db_rollback(s->db);
        }
        if (!bk_db_retryable(s->db))
            break;
    }
    if (!committed) {
        char code[48];
        bk_error(0, "group commit of %zu frames failed (%s): %s", n,
                 bk_error_code(rc, code, sizeof code), bk_db_errmsg(s->db));
    } else {
        s->batch_commits++;
    }
    if (v != NULL) {
        for (i = 0; i < n; i++) {
            if (committed && v[i]->c != NULL && v[i]->rc == IOTSEC_OK)
                s->batch_frames++;
            batch_answer(s, v[i], committed, n);
            frame_free(v[i]);
        }
        free(v);
    } else {
        while (f != NULL) {
            struct batch_frame *next = f->next;
            batch_answer(s, f, 0, n);
            frame_free(f);
            f = next;
        }
    }
}

static void batch_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    batch_run(arg);
}

/* evhttp is freeing the connection of a waiting frame (the peer left, or shutdown): when
 * the request was detached from it, it is ours to free (as in conn_http_closed). */
static void batch_closed(struct evhttp_connection *evcon, void *arg)
{
    (void)evcon;
    batch_conn_gone(arg);
}

void batch_conn_gone(struct conn *c)
{
    struct batch_frame *f = c->pend;

    if (f == NULL)
        return;
    c->pend = NULL;
    if (f->req != NULL && evhttp_request_get_connection(f->req) == NULL)
        evhttp_request_free(f->req);
    f->req = NULL;
    f->c = NULL;
}

int batch_setup(struct server *s)
{
    s->batch_head = NULL;
    s->batch_tail = &s->batch_head;
    s->ev_batch = event_new(s->base, -1, 0, batch_cb, s);
    s->ev_batch_due = evtimer_new(s->base, batch_cb, s);
    if (s->ev_batch == NULL || s->ev_batch_due == NULL ||
        event_priority_set(s->ev_batch, BATCH_PRIORITIES - 1) != 0 ||
        event_priority_set(s->ev_batch_due, 0) != 0)
        return bk_error(BK_EXIT_IO, "cannot set up group commit");
    return BK_EXIT_OK;
}

void batch_free(struct server *s)
{
    struct batch_frame *f = s->batch_head, *next;

    for (; f != NULL; f = next) {
        next = f->next;
        if (f->c != NULL)
            f->c->pend = NULL;
        frame_free(f);
    }
    s->batch_head = NULL;
    s->batch_tail = &s->batch_head;
    s->batch_n = 0;
    if (s->ev_batch != NULL)
        event_free(s->ev_batch);
    if (s->ev_batch_due != NULL)
        event_free(s->ev_batch_due);
    s->ev_batch = s->ev_batch_due = NULL;
}

/* A checked frame joins the batch; its answer comes from batch_answer. */
static void batch_add(struct request *q, enum frame_kind kind, const char *id, size_t id_len,
                      int kid, const bk_device *dev, const uint8_t *body, size_t len)
{
    struct server *s = q->s;
    struct batch_frame *f = calloc(1, sizeof *f);
    struct timeval due = {0, BATCH_DELAY_MS * 1000};

    if (f == NULL || id_len > BK_ID_MAX || (f->body = malloc(len ? len : 1u)) == NULL) {
        free(f);
        internal_error(q, IOTSEC_E_NO_MEMORY, "queue frame");
        return;
    }
    memcpy(f->body, body, len);
    f->len = len;
    f->c = q->c;
    f->req = q->req;
    f->kind = kind;
    memcpy(f->device_id, id, id_len);
    f->device_id[id_len] = '\0';
    f->id_len = id_len;
    f->kid = kid;
    f->dev = *dev;
    q->c->pend = f;
    evhttp_connection_set_closecb(evhttp_request_get_connection(q->req), batch_closed, q->c);
    *s->batch_tail = f;
    s->batch_tail = &f->next;
    if (s->batch_n++ == 0) {
        event_active(s->ev_batch, EV_TIMEOUT, 0);
        evtimer_add(s->ev_batch_due, &due);
    }
    if (s->batch_n >= BATCH_MAX)
        event_active(s->ev_batch_due, EV_TIMEOUT, 0);
}

static void telemetry_v1(struct request *q, const bk_device *dev, const uint8_t *body,
                         size_t len, int json)
{
    struct server *s = q->s;
    iotsec_frame_header hdr;
    struct keys_entry *k = NULL;
    char where[96];
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
    batch_add(q, json ? FRAME_JSON : FRAME_BINARY, hdr.device_id, hdr.device_id_len,
              (int)hdr.kid, dev, body, len);
}

static void telemetry_ecowatt(struct request *q, const bk_device *dev, const char *body,
                              size_t len)
{
    struct server *s = q->s;
    iotsec_ecowatt_header hdr;
    struct keys_entry *k = NULL;
    char where[96];
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
    batch_add(q, FRAME_ECOWATT, hdr.device_id, hdr.device_id_len, -1, dev,
              (const uint8_t *)body, len);
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
