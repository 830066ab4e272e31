/*
 * iotsec-backend serve — the HTTP/1.1 framing gate (RFC 9112; server.h).
 *
 * libevent's evhttp parses request heads more leniently than RFC 9112 (obs-fold, NUL and
 * control characters, bare LF, HTTP/1.1000000000000, any Transfer-Encoding other than
 * "chunked" read by Content-Length, duplicate Content-Length, content on GET, a missing
 * Host) and reads the whole of a body over --max-body before its 413. libevent 2.1 offers a
 * server no hook between the head and the body (evhttp_set_newreqcb / a server header
 * callback are 2.2), so the gate sits below evhttp, on the connection's input buffer:
 *
 *   1. armed when a request head is due (after the handshake; after each answer), it holds
 *      the head back from evhttp: the read low-watermark of the bufferevent is raised so
 *      that evhttp's read callback does not run, and bytes already buffered (pipelined
 *      requests) are moved aside (evhttp would read them at its next turn whatever the
 *      watermark);
 *   2. it copies the head as it arrives (at most BACKEND_HEAD_MAX bytes) and checks each
 *      complete line with backend_head_check (httpparse.c: bounded, fuzzed);
 *   3. on its verdict it acts outside the read path (gate_ev, this turn of the loop):
 *      - acceptable: the held bytes go back in front of the input, the watermark is
 *        lowered and evhttp reads the head — which evhttp parses as the gate did, since
 *        the gate accepts only the forms on which both agree;
 *      - refused: evhttp is set aside (the bufferevent's callbacks are the gate's until the
 *        connection ends; evhttp has seen none of the head, so its state is "waiting for a
 *        request" or "writing the previous answer"); the gate audits the refusal, writes
 *        its JSON answer with Connection: close, and closes the connection in stages
 *        (RFC 9112 §9.6): write side shut once the answer is out, then input read and
 *        discarded until the peer closes or --read-timeout passes — so the peer reads the
 *        answer instead of a reset. At the end evhttp gets its callbacks back and the
 *        connection's end-of-file, and frees the connection as it does for any peer that
 *        goes away.
 */
#include "server.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

/* ---- a refused head ------------------------------------------------------------------------ */

/* Hand the connection back to evhttp with the event that ends it: evhttp frees the
 * connection (and with it c, through conn_free). */
static void refused_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct conn *c = arg;
    bufferevent_event_cb eventcb = c->ev_eventcb;
    void *cbarg = c->ev_cbarg;

    bufferevent_setcb(bev, c->ev_readcb, c->ev_writecb, eventcb, cbarg);
    if (eventcb != NULL)
        eventcb(bev, what, cbarg); /* c is gone after this */
    else
        conn_close(c);
}

/* Lingering: whatever the peer still sends is read and discarded. */
static void refused_read_cb(struct bufferevent *bev, void *arg)
{
    struct evbuffer *in = bufferevent_get_input(bev);

    (void)arg;
    evbuffer_drain(in, evbuffer_get_length(in));
}

/* The answer is out: shut the write side (the peer sees the end of the connection). */
static void refused_write_cb(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;

    if (c->wr_shut || evbuffer_get_length(bufferevent_get_output(bev)) > 0)
        return;
    c->wr_shut = 1;
    if (c->fd >= 0)
        shutdown(c->fd, SHUT_WR);
}

static void refuse_head(struct conn *c)
{
    const backend_head *h = &c->hs;
    char detail[BK_DETAIL_MAX], esc[2 * BK_DETAIL_MAX], byte[24] = "";
    struct evbuffer *out = bufferevent_get_output(c->bev);
    struct evbuffer *in = bufferevent_get_input(c->bev);
    size_t body_len;

    if (h->byte >= 0)
        snprintf(byte, sizeof byte, " (byte 0x%02x)", (unsigned)h->byte & 0xffu);
    snprintf(detail, sizeof detail, "HTTP framing: line %u: %s%s", h->line, h->why, byte);
    audit(c->srv, c->peer, conn_identity(c), h->code, "%s", detail);
    /* evhttp is set aside until the connection ends (refused_event_cb) */
    bufferevent_getcb(c->bev, &c->ev_readcb, &c->ev_writecb, &c->ev_eventcb, &c->ev_cbarg);
    bufferevent_setcb(c->bev, refused_read_cb, refused_write_cb, refused_event_cb, c);
    bufferevent_setwatermark(c->bev, EV_READ, 0, 0);
    evbuffer_drain(c->held, evbuffer_get_length(c->held));
    evbuffer_drain(in, evbuffer_get_length(in));
    c->state = CONN_REFUSING;
    bk_json_escape(detail, esc, sizeof esc);
    body_len = strlen(h->code) + strlen(esc) + sizeof "{\"error\":\"\",\"detail\":\"\"}" - 1u;
    evbuffer_add_printf(out,
                        "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                        "Cache-Control: no-store\r\nConnection: close\r\n"
                        "Content-Length: %zu\r\n\r\n{\"error\":\"%s\",\"detail\":\"%s\"}",
                        h->status, status_reason(h->status), body_len, h->code, esc);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    /* the staged close is bounded: the peer has --read-timeout to go */
    conn_set_deadline(c, c->srv->cfg.read_timeout);
}

/* ---- the gate ------------------------------------------------------------------------------- */

/* Act on the verdict, outside the read path. */
static void gate_cb(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;

    (void)fd;
    (void)what;
    if (c->closing)
        return;
    if (c->gate == GATE_PASS) {
        c->gate = GATE_OFF;
        free(c->head);
        c->head = NULL;
        if (evbuffer_get_length(c->held) > 0)
            evbuffer_prepend_buffer(bufferevent_get_input(c->bev), c->held);
        bufferevent_setwatermark(c->bev, EV_READ, 0, 0);
        /* evhttp reads the head now if it is waiting for one; if it is still writing the
         * previous answer, it reads it when it starts waiting (the input is not empty) */
        bufferevent_trigger(c->bev, EV_READ, 0);
    } else if (c->gate == GATE_REFUSE) {
        c->gate = GATE_OFF;
        free(c->head);
        c->head = NULL;
        refuse_head(c);
    }
}

/* Copy n bytes of src from offset off into the head copy (as many as fit) and check the
 * head so far; on a verdict, schedule gate_cb. */
static void feed(struct conn *c, struct evbuffer *src, size_t off, size_t n)
{
    struct evbuffer_ptr pos;
    size_t room;
    ev_ssize_t got;
    int rc;

    if (c->head == NULL && (c->head = malloc(BACKEND_HEAD_MAX)) == NULL) {
        bk_error(0, "out of memory for a request head; connection closed");
        c->gate = GATE_OFF;
        conn_close(c);
        return;
    }
    room = BACKEND_HEAD_MAX - c->head_len;
    if (n > room)
        n = room;
    if (n > 0) {
        if (evbuffer_ptr_set(src, &pos, off, EVBUFFER_PTR_SET) != 0 ||
            (got = evbuffer_copyout_from(src, &pos, c->head + c->head_len, n)) < 0 ||
            (size_t)got != n) {
            bk_error(0, "cannot read a request head from its buffer; connection closed");
            c->gate = GATE_OFF;
            conn_close(c);
            return;
        }
        c->head_len += n;
    }
    rc = backend_head_check(&c->hs, c->head, c->head_len, c->srv->cfg.max_body);
    if (rc == IOTSEC_E_TRUNCATED)
        return;
    c->gate = rc == IOTSEC_OK ? GATE_PASS : GATE_REFUSE;
    event_active(c->gate_ev, EV_TIMEOUT, 0);
}

int framing_new(struct conn *c, struct event_base *base)
{
    c->gate_ev = evtimer_new(base, gate_cb, c);
    c->held = evbuffer_new();
    return c->gate_ev != NULL && c->held != NULL ? 0 : -1;
}

void framing_free(struct conn *c)
{
    if (c->gate_ev != NULL)
        event_free(c->gate_ev);
    if (c->held != NULL)
        evbuffer_free(c->held);
    free(c->head);
    c->head = NULL;
}

void framing_arm(struct conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    size_t n = evbuffer_get_length(in);

    c->gate = GATE_HOLD;
    c->head_len = 0;
    memset(&c->hs, 0, sizeof c->hs);
    /* evhttp's read callback waits until the head is released */
    bufferevent_setwatermark(c->bev, EV_READ, SIZE_MAX, 0);
    if (n > 0) {
        /* the start of a pipelined request: out of evhttp's reach until checked */
        evbuffer_add_buffer(c->held, in);
        feed(c, c->held, 0, n);
    }
}

void framing_input(struct conn *c, struct evbuffer *in, size_t n_added)
{
    size_t len = evbuffer_get_length(in);

    if (c->gate != GATE_HOLD || n_added == 0 || n_added > len)
        return;
    feed(c, in, len - n_added, n_added);
}
