/*
 * iotsec-backend serve — HTTP (server.h): answers (every rejection answered
 * {"error":"<code>","detail":"…"} with its audit row), the authorization every endpoint
 * shares (certificate still valid, device registered and enabled), the dispatch of a
 * request to its endpoint, and GET /v1/auth. The endpoints themselves are in telemetry.c
 * and firmware.c.
 */
#include "est_server.h"

#include <stdarg.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/keyvalq_struct.h>

/* ---- answers --------------------------------------------------------------------------------- */

void answer_headers(struct request *q, const char *ctype)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(q->req);

    if (ctype != NULL)
        evhttp_add_header(h, "Content-Type", ctype);
    evhttp_add_header(h, "Cache-Control", "no-store");
    if (q->s->draining)
        evhttp_add_header(h, "Connection", "close");
}

void send_answer(struct request *q, int status, const char *reason, const char *ctype,
                 struct evbuffer *body)
{
    answer_headers(q, ctype);
    evhttp_send_reply(q->req, status, reason, body);
}

const char *status_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 206: return "Partial Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Internal Server Error";
    }
}

void reject(struct request *q, int status, const char *code, const char *fmt, ...)
{
    char detail[BK_DETAIL_MAX], esc[2 * BK_DETAIL_MAX];
    struct evbuffer *body = evbuffer_new();
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    (void)audit_on(q->s, NULL, q->c->peer, conn_identity(q->c), code, detail);
    if (body != NULL)
        evbuffer_add_printf(body, "{\"error\":\"%s\",\"detail\":\"%s\"}", code,
                            bk_json_escape(detail, esc, sizeof esc));
    if (status == 429)
        evhttp_add_header(evhttp_request_get_output_headers(q->req), "Retry-After", "1");
    send_answer(q, status, status_reason(status), "application/json", body);
    if (body != NULL)
        evbuffer_free(body);
}

void reject_rc(struct request *q, int rc, const char *fmt, ...)
{
    char detail[BK_DETAIL_MAX], code[48];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    reject(q, bk_http_status(rc), bk_error_code(rc, code, sizeof code), "%s%s%s", detail,
           detail[0] ? ": " : "", iotsec_strerror(rc));
}

void internal_error(struct request *q, int rc, const char *what)
{
    char code[48];

    bk_error(0, "%s: %s", what, iotsec_strerror(rc));
    reject(q, 500, "internal", "%s failed (%s)", what, bk_error_code(rc, code, sizeof code));
}

/* ---- authorization shared by every endpoint ------------------------------------------------ */

/* The device behind the TLS identity must be registered and enabled, and the certificate
 * must still be valid — not revoked by the current set (a reload may have happened since
 * the handshake) and not past its notAfter (a busy keep-alive connection never idles out).
 * Returns 1 when the request may proceed; otherwise it was answered. */
int authorize(struct request *q, bk_device *dev)
{
    iotsec_revocation *rs = iotsec_revocation_holder_get(q->s->holder);
    iotsec_revocation_reason reason = IOTSEC_REVOKED_NONE;
    char why[IOTSEC_REVOCATION_DETAIL_MAX] = "";
    int64_t now = bk_now();
    int rc, found = 0;

    /* every level of the connection's chain against its issuer's CRLs; why names it */
    rc = rs != NULL ? iotsec_revocation_check_detail(rs, &q->c->id, now, &reason, NULL, why,
                                                     sizeof why, NULL)
                    : IOTSEC_E_STATE;
    iotsec_revocation_unref(rs);
    if (rc != IOTSEC_OK || now > q->c->not_after) {
        /* answered, then closed by evhttp once the answer is written (a shutdown now would
         * discard it); no further request is read from this connection */
        if (!q->s->draining)
            evhttp_add_header(evhttp_request_get_output_headers(q->req), "Connection", "close");
        if (rc != IOTSEC_OK)
            reject_rc(q, rc, "certificate refused (%s)",
                      why[0] != '\0' ? why : iotsec_revocation_reason_name((int)reason));
        else
            reject_rc(q, IOTSEC_E_EXPIRED, "certificate expired %lld s ago, since the handshake",
                      (long long)(now - q->c->not_after));
        return 0;
    }
    rc = bk_db_device(q->s->db, q->c->id.device_id, q->c->id.device_id_len, dev, &found);
    if (rc != IOTSEC_OK) {
        internal_error(q, rc, "device lookup");
        return 0;
    }
    if (!found) {
        reject(q, 403, "unknown_device", "device %s is not registered", q->c->id.device_id);
        return 0;
    }
    if (!dev->enabled) {
        reject(q, 403, "device_disabled", "device %s is disabled", q->c->id.device_id);
        return 0;
    }
    return 1;
}

/* ---- dispatch ----------------------------------------------------------------------------- */

static struct conn *conn_of(struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
    SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;

    return ssl ? SSL_get_ex_data(ssl, conn_index) : NULL;
}

/* Every request: its device record (authorize fills it, with the device's legacy EcoWatt
 * keys) belongs to this function and is wiped at its one exit, whichever endpoint ran and
 * wherever it returned. */
void on_request(struct evhttp_request *req, void *arg)
{
    struct request q;
    bk_device dev;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    const char *query = uri ? evhttp_uri_get_query(uri) : NULL;

    memset(&dev, 0, sizeof dev);
    q.s = arg;
    q.req = req;
    q.c = conn_of(req);
    if (q.c == NULL || (!q.c->have_identity && !q.c->anonymous)) {
        /* cannot happen: evhttp only hands us requests of completed handshakes */
        evhttp_send_error(req, 403, "Forbidden");
        goto out;
    }
    if (q.c->dl != NULL) {
        /* evhttp re-enters the handler with the request of a download in progress only
         * on an internal error of the connection: give up on it */
        conn_close(q.c);
        goto out;
    }
    if (q.c->closing) {
        /* budget.c: a request read in the same turn as the handshake of a connection the
         * budgets refused (or one closed for room, or by a reload) is not served */
        goto out;
    }
    q.c->state = CONN_HANDLER;
    q.c->in_handler = 1;
    q.c->evhttp_error_noted = 0;
    evtimer_del(q.c->deadline);
    if (path == NULL) {
        reject(&q, 400, "bad_request", "no path");
    } else if (est_path(path)) {
        est_dispatch(&q, path, query); /* enrollment (est.c) */
    } else if (!q.c->have_identity) {
        /* a connection without a client certificate (possible only with enrollment on)
         * reaches the EST paths and nothing else */
        if (!q.s->draining)
            evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
        reject(&q, 403, "untrusted", "a client certificate is required (without one, only "
                                     "enrollment at /.well-known/est/ is open)");
    } else if (strcmp(path, "/v1/auth") == 0) {
        if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
            reject(&q, 405, "method_not_allowed", "use GET");
        } else if (query != NULL) {
            reject(&q, 400, "bad_request", "/v1/auth takes no query");
        } else if (authorize(&q, &dev)) {
            struct evbuffer *body = evbuffer_new();
            if (body != NULL)
                evbuffer_add_printf(body, "AUTH OK %s", q.c->id.device_id);
            send_answer(&q, 200, "OK", "text/plain", body);
            if (body != NULL)
                evbuffer_free(body);
        }
    } else if (strcmp(path, "/v1/telemetry") == 0 && query == NULL) {
        handle_telemetry(&q, &dev);
    } else if (strcmp(path, "/v1/firmware/manifest") == 0) {
        handle_manifest(&q, query, &dev);
    } else if (strncmp(path, "/v1/firmware/payload/", 21) == 0 && query == NULL) {
        handle_payload(&q, path, &dev);
    } else {
        reject(&q, 404, "not_found", "no such endpoint");
    }
    if (q.c->dl == NULL && q.c->pend == NULL) /* else the download (download_more) or the
                                                 frame's batch (batch_answer) ends it */
        conn_request_done(q.c);
out:
    bk_device_wipe(&dev);
}
