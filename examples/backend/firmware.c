/*
 * iotsec-backend serve — the firmware endpoints (docs/DESIGN.md §10; server.h):
 * GET /v1/firmware/manifest?class=C, the current manifest of a class, and
 * GET /v1/firmware/payload/<digest-hex> with an optional Range, a published payload. A
 * payload answer is read from the database and sent PIECE bytes at a time, the next piece
 * only once the previous one has left the output buffer (struct download).
 */
#include "server.h"

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include "httpparse.h"

/* ---- manifest --------------------------------------------------------------------------------- */

void handle_manifest(struct request *q, const char *query, bk_device *dev)
{
    const char *cls = NULL;
    size_t cls_len = 0, len = 0;
    uint8_t *buf = NULL;
    struct evbuffer *body;
    int rc, found = 0;

    if (evhttp_request_get_command(q->req) != EVHTTP_REQ_GET) {
        reject(q, 405, "method_not_allowed", "use GET");
        return;
    }
    rc = backend_query_class(query ? query : "", query ? strlen(query) : 0, &cls, &cls_len);
    if (rc != IOTSEC_OK) {
        reject_rc(q, rc, "query must be class=<1-64 of [A-Za-z0-9._~:@-]>");
        return;
    }
    if (!authorize(q, dev))
        return;
    rc = bk_db_manifest(q->s->db, cls, cls_len, &buf, &len, &found);
    if (rc != IOTSEC_OK) {
        internal_error(q, rc, "manifest lookup");
        return;
    }
    if (!found) {
        reject(q, 404, "not_found", "no firmware published for class %.*s", (int)cls_len, cls);
        return;
    }
    body = evbuffer_new();
    if (body == NULL || evbuffer_add(body, buf, len) != 0) {
        free(buf);
        if (body != NULL)
            evbuffer_free(body);
        internal_error(q, IOTSEC_E_NO_MEMORY, "manifest");
        return;
    }
    free(buf);
    send_answer(q, 200, "OK", "application/octet-stream", body);
    evbuffer_free(body);
}

/* ---- payload ---------------------------------------------------------------------------------- */

/* Queue the next piece of the connection's download, or end the answer once everything
 * has been written (evhttp calls this each time the output buffer has drained). A read
 * failure after the status line was sent can only close the connection. */
static void download_more(struct evhttp_connection *evcon, void *arg)
{
    struct conn *c = arg;
    struct download *d = c->dl;
    struct evbuffer *buf;
    struct evbuffer_iovec v;
    struct evhttp_request *req;
    size_t n;
    int rc = IOTSEC_E_NO_MEMORY;

    (void)evcon;
    if (d == NULL || c->closing)
        return;
    if (d->next > d->last) { /* all of it written */
        req = d->req;
        c->dl = NULL;
        free(d);
        conn_request_done(c);
        evhttp_send_reply_end(req);
        return;
    }
    n = d->last - d->next + 1u < PIECE ? (size_t)(d->last - d->next + 1u) : PIECE;
    buf = evbuffer_new();
    if (buf != NULL && evbuffer_reserve_space(buf, (ev_ssize_t)n, &v, 1) == 1) {
        rc = bk_db_payload_read(c->srv->db, &d->payload, d->next, v.iov_base, n);
        v.iov_len = n;
        if (rc == IOTSEC_OK && evbuffer_commit_space(buf, &v, 1) != 0)
            rc = IOTSEC_E_NO_MEMORY;
    }
    if (rc != IOTSEC_OK) {
        char code[48];
        audit(c->srv, c->peer, conn_identity(c), "internal",
              "payload read failed at byte %llu (%s); connection closed",
              (unsigned long long)d->next, bk_error_code(rc, code, sizeof code));
        if (buf != NULL)
            evbuffer_free(buf);
        conn_close(c);
        return;
    }
    d->next += n;
    /* progress keeps the connection; a peer that stops reading is closed by this deadline */
    conn_set_deadline(c, c->srv->cfg.idle_timeout);
    evhttp_send_reply_chunk_with_cb(d->req, buf, download_more, c);
    evbuffer_free(buf);
}

/* evhttp is freeing the connection, before its requests: a download still in progress
 * ends here. When the peer went away (end of file, timeout), evhttp has already detached
 * the unfinished request from the connection and leaves it to us; otherwise (evhttp_free
 * at shutdown) it frees the request itself right after this. */
static void conn_http_closed(struct evhttp_connection *evcon, void *arg)
{
    struct conn *c = arg;
    struct download *d = c->dl;

    (void)evcon;
    if (d == NULL)
        return;
    c->dl = NULL;
    if (evhttp_request_get_connection(d->req) == NULL)
        evhttp_request_free(d->req);
    free(d);
}

void handle_payload(struct request *q, const char *path, bk_device *dev)
{
    struct server *s = q->s;
    const char *range = evhttp_find_header(evhttp_request_get_input_headers(q->req), "Range");
    uint8_t digest[32];
    uint64_t size, first = 0, last = 0;
    bk_payload payload;
    struct download *d;
    char cr[80];
    int rc, found = 0;

    if (evhttp_request_get_command(q->req) != EVHTTP_REQ_GET) {
        reject(q, 405, "method_not_allowed", "use GET");
        return;
    }
    rc = backend_payload_path(path, strlen(path), digest);
    if (rc != IOTSEC_OK) {
        reject_rc(q, rc, "path must end in 64 lowercase hex digits");
        return;
    }
    if (!authorize(q, dev))
        return;
    rc = bk_db_payload_find(s->db, digest, &payload, &found);
    if (rc != IOTSEC_OK) {
        internal_error(q, rc, "payload lookup");
        return;
    }
    if (!found) {
        reject(q, 404, "not_found", "no payload with this digest");
        return;
    }
    size = payload.size;
    if (range != NULL) {
        rc = backend_range_parse(range, strlen(range), size, &first, &last);
        if (rc == IOTSEC_E_BAD_VALUE) {
            snprintf(cr, sizeof cr, "bytes */%llu", (unsigned long long)size);
            evhttp_add_header(evhttp_request_get_output_headers(q->req), "Content-Range", cr);
            reject(q, 416, "range_not_satisfiable", "range outside the %llu-byte payload",
                   (unsigned long long)size);
            return;
        }
        if (rc != IOTSEC_OK) {
            reject(q, 400, "bad_range", "Range must be one bytes=a-b, bytes=a- or bytes=-n");
            return;
        }
    } else if (size == 0) {
        first = 1;
        last = 0; /* empty body */
    } else {
        last = size - 1u;
    }
    d = last < first ? NULL : calloc(1, sizeof *d);
    if (last >= first && d == NULL) {
        internal_error(q, IOTSEC_E_NO_MEMORY, "payload");
        return;
    }
    evhttp_add_header(evhttp_request_get_output_headers(q->req), "Accept-Ranges", "bytes");
    if (range != NULL) {
        snprintf(cr, sizeof cr, "bytes %llu-%llu/%llu", (unsigned long long)first,
                 (unsigned long long)last, (unsigned long long)size);
        evhttp_add_header(evhttp_request_get_output_headers(q->req), "Content-Range", cr);
    }
    if (d == NULL) { /* an empty payload, whole */
        send_answer(q, 200, "OK", "application/octet-stream", NULL);
        return;
    }
    d->req = q->req;
    d->payload = payload;
    d->next = first;
    d->last = last;
    snprintf(cr, sizeof cr, "%llu", (unsigned long long)(last - first + 1u));
    evhttp_add_header(evhttp_request_get_output_headers(q->req), "Content-Length", cr);
    answer_headers(q, "application/octet-stream");
    q->c->dl = d;
    evhttp_connection_set_closecb(evhttp_request_get_connection(q->req), conn_http_closed, q->c);
    evhttp_send_reply_start(q->req, range != NULL ? 206 : 200,
                            range != NULL ? "Partial Content" : "OK");
    download_more(NULL, q->c);
}
