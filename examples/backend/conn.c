/*
 * iotsec-backend serve — connections (server.h): the listener and accept, the connection
 * budgets (applied right after the accept: conn_admit, and at the end of the handshake;
 * the budgets themselves are in budget.c), the one deadline of each connection (handshake:
 * --handshake-timeout; request: --read-timeout; idle keep-alive: --idle-timeout), closing,
 * and the bookkeeping of open connections (SSL ex_data; its free callback is the
 * "connection closed" event). The TLS side of a connection — context and
 * handshake callbacks — is in tls.c.
 */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>

int conn_index = -1; /* SSL ex_data index of struct conn */
struct server *accept_server;

const char *conn_identity(const struct conn *c)
{
    return c->have_identity ? c->id.device_id : NULL;
}

/* ---- connections ---------------------------------------------------------------------------- */

void conn_set_deadline(struct conn *c, unsigned seconds)
{
    struct timeval tv;

    tv.tv_sec = (time_t)seconds;
    tv.tv_usec = 0;
    evtimer_add(c->deadline, &tv);
}

/* Close a connection: evhttp sees end of file and frees it (and its SSL, which calls
 * conn_free). Safe to call twice, and while evhttp is already freeing it (the socket is
 * closed only when the SSL is freed). */
void conn_close(struct conn *c)
{
    evutil_socket_t fd = c->fd >= 0 ? c->fd : bufferevent_getfd(c->bev);

    if (c->closing)
        return;
    c->closing = 1;
    /* a peer that never sent a byte has not met the TLS layer yet: its socket is known to
     * the bufferevent only */
    if (fd >= 0)
        shutdown(fd, SHUT_RDWR);
}

static void conn_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;

    (void)fd;
    (void)what;
    if (c->closing)
        return;
    if (!c->admitted) {
        conn_admit(c);
        return;
    }
    if (c->state == CONN_HANDSHAKE) {
        c->fail_event = "handshake_failed";
        snprintf(c->fail_detail, sizeof c->fail_detail,
                 "no complete TLS handshake within %u s", c->srv->cfg.handshake_timeout);
    } else if (c->state == CONN_REFUSING) {
        /* the staged close of a refused head: the peer did not close in time */
    } else if (c->state == CONN_REQUEST) {
        audit(c->srv, c->peer, conn_identity(c), "timeout",
              "request not complete within %u s", c->srv->cfg.read_timeout);
    }
    conn_close(c);
}

/* The SSL's ex_data free callback: the connection is gone (evhttp freed its bufferevent,
 * which freed the SSL and closed the socket). A connection that never completed its
 * handshake is a rejection and gets its audit row here. */
void conn_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
               void *argp)
{
    struct conn *c = ptr;
    struct server *s;

    (void)parent;
    (void)ad;
    (void)idx;
    (void)argl;
    (void)argp;
    if (c == NULL)
        return;
    s = c->srv;
    if (c->state == CONN_HANDSHAKE) {
        if (c->fail_event == NULL) {
            c->fail_event = "handshake_failed";
            snprintf(c->fail_detail, sizeof c->fail_detail,
                     "connection closed before the TLS handshake completed");
        }
        (void)audit_gated(s, NULL, c->peer, conn_identity(c),
                          c->id_verified ? conn_identity(c) : NULL, c->fail_event,
                          c->fail_detail);
    }
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    s->nconns--;
    event_free(c->deadline);
    framing_free(c);
    free(c->dl); /* not reached with a download: conn_http_closed ended it */
    batch_conn_gone(c);
    iotsec_zeroize(c, sizeof *c);
    free(c);
}

/* Bytes arrived on an idle connection: a request begins; it gets --read-timeout. */
static void conn_input_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    struct conn *c = arg;

    if (info->n_added > 0 && c->state == CONN_IDLE) {
        c->state = CONN_REQUEST;
        conn_set_deadline(c, c->srv->cfg.read_timeout);
    }
    framing_input(c, buf, info->n_added);
}

/* Answers that evhttp writes by itself (before our handler runs: body over the limit,
 * malformed HTTP, a method it does not serve) bypass our handler; watch the output buffer
 * so that they are audited too. 1xx interim answers (100 Continue) are not rejections. */
static void conn_output_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info,
                           void *arg)
{
    struct conn *c = arg;
    struct evbuffer_ptr pos;
    char line[16];
    ev_ssize_t n;
    iotsec_reader r;
    const uint8_t *digits;
    uint64_t status = 0;

    if (info->n_added == 0 || c->in_handler || c->evhttp_error_noted ||
        c->state == CONN_HANDSHAKE || c->state == CONN_REFUSING)
        return;
    if (evbuffer_ptr_set(buf, &pos, info->orig_size, EVBUFFER_PTR_SET) != 0)
        return;
    n = evbuffer_copyout_from(buf, &pos, line, sizeof line);
    if (n < 12)
        return;
    /* "HTTP/1.x NNN " — our own output, read through the bounded reader all the same */
    iotsec_reader_init(&r, line, (size_t)n);
    if (iotsec_reader_bytes(&r, 9) == NULL || memcmp(line, "HTTP/1.", 7) != 0)
        return;
    digits = iotsec_reader_bytes(&r, 3);
    if (digits == NULL ||
        iotsec_parse_u64_dec((const char *)digits, 3, 999, &status) != IOTSEC_OK ||
        status < 200)
        return;
    c->evhttp_error_noted = 1;
    if (status == 413)
        audit(c->srv, c->peer, conn_identity(c), "too_large",
              "request body over %zu bytes, refused by libevent before reading it",
              c->srv->cfg.max_body);
    else
        audit(c->srv, c->peer, conn_identity(c), "http_error",
              "libevent answered %u (malformed HTTP, headers too large or method not served)",
              (unsigned)status);
}

/* evhttp's bufferevent factory: every connection is TLS (never plaintext). Returning NULL
 * would make evhttp fall back to a plain socket, so an allocation failure stops the
 * server instead (fail closed). */
static struct bufferevent *conn_new(struct event_base *base, void *arg)
{
    struct server *s = arg;
    struct conn *c = calloc(1, sizeof *c);
    SSL *ssl = SSL_new(s->ctx);

    if (c == NULL || ssl == NULL)
        goto fatal;
    c->srv = s;
    c->fd = -1;
    c->ssl = ssl;
    c->state = CONN_HANDSHAKE;
    snprintf(c->peer, sizeof c->peer, "?");
    c->deadline = evtimer_new(base, conn_deadline_cb, c);
    if (c->deadline == NULL || framing_new(c, base) != 0)
        goto fatal;
    c->bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                            BEV_OPT_CLOSE_ON_FREE);
    if (c->bev == NULL)
        goto fatal;
    /* from here the SSL (and with it c) is owned by the bufferevent */
    SSL_set_ex_data(ssl, conn_index, c);
    c->next = s->conns;
    if (s->conns != NULL)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    if (evbuffer_add_cb(bufferevent_get_input(c->bev), conn_input_cb, c) == NULL ||
        evbuffer_add_cb(bufferevent_get_output(c->bev), conn_output_cb, c) == NULL)
        goto fatal;
    /* evhttp gives the bufferevent its socket right after this returns: the limits are
     * applied on the next turn of the loop (conn_deadline_cb → conn_admit) */
    conn_set_deadline(c, 0);
    return c->bev;
fatal:
    bk_error(0, "out of memory creating a TLS connection; stopping (plain HTTP is never "
                "served)");
    abort();
}

/* Learn the peer address from the connection's socket (once). */
void conn_learn_peer(struct conn *c)
{
    struct sockaddr_storage sa;
    socklen_t sl = sizeof sa;
    unsigned port = 0;
    int one = 1;

    if (c->fd >= 0)
        return;
    c->fd = bufferevent_getfd(c->bev);
    if (c->fd < 0)
        return;
    /* answers leave as several TLS records: without this, Nagle's algorithm holds the
     * last one back until the peer's delayed ACK (40 ms per request) */
    (void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (getpeername(c->fd, (struct sockaddr *)&sa, &sl) != 0)
        return;
    if (sa.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&sa;
        inet_ntop(AF_INET, &in->sin_addr, c->addr, sizeof c->addr);
        port = ntohs(in->sin_port);
    } else if (sa.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, c->addr, sizeof c->addr);
        port = ntohs(in6->sin6_port);
    }
    snprintf(c->peer, sizeof c->peer, "%s:%u", c->addr, port);
}

/* Apply the connection budgets to a new connection, as soon as its socket is known: on the
 * first turn of the event loop after the accept (conn_new's zero timer), or at its
 * ClientHello if that comes first. Connections that never send a byte count like any
 * other, so they cannot pile up past --max-pending / --max-conns-per-peer while they wait
 * for the handshake deadline (--handshake-timeout). A full pool makes room by closing an
 * older connection (budget.c); a connection refused is closed at once. */
void conn_admit(struct conn *c)
{
    struct server *s = c->srv;

    if (c->admitted)
        return;
    c->admitted = 1;
    conn_learn_peer(c);
    /* ---- budget.c: pending pool, per-peer limit ---- */
    if (!budget_admit(c)) {
        evtimer_del(c->deadline);
        conn_close(c);
        return;
    }
    conn_set_deadline(c, s->cfg.handshake_timeout);
}

/* The handler is done with the connection's request (its answer may still be leaving):
 * the connection waits for the next one — which may have begun already, pipelined behind
 * this one: then it is a request in progress and gets --read-timeout, not the idle
 * timeout (conn_input_cb only sees bytes that arrive on an idle connection). */
void conn_request_done(struct conn *c)
{
    int begun;

    c->in_handler = 0;
    if (c->closing)
        return;
    begun = evbuffer_get_length(bufferevent_get_input(c->bev)) > 0;
    framing_arm(c); /* the next request's head, which may have begun already */
    if (c->closing)
        return;
    if (begun) {
        c->state = CONN_REQUEST;
        conn_set_deadline(c, c->srv->cfg.read_timeout);
    } else {
        c->state = CONN_IDLE;
        budget_idle(c); /* budget.c: idle since, for closing the longest idle first */
        conn_set_deadline(c, c->srv->cfg.idle_timeout);
    }
}

/* ---- listener --------------------------------------------------------------------------------- */

int listen_split(const char *spec, char *host, size_t cap, uint16_t *port)
{
    const char *colon = strrchr(spec, ':');
    const char *h = spec;
    size_t hl;
    uint64_t p;

    if (colon == NULL)
        return -1;
    hl = (size_t)(colon - spec);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl == 0 || hl >= cap ||
        iotsec_parse_u64_dec(colon + 1, strlen(colon + 1), 65535, &p) != IOTSEC_OK)
        return -1;
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (uint16_t)p;
    return 0;
}

/* accept() failed for a reason other than a transient one — in practice the descriptor
 * limit (EMFILE/ENFILE) under a flood of connections. libevent would retry at once, for
 * ever, printing a warning each time (a busy loop writing megabytes of log per second):
 * stop accepting for ACCEPT_PAUSE_MS instead, so that deadlines and the connection limits
 * free descriptors, and say so at most every 10 s. */
void accept_error_cb(struct evconnlistener *lev, void *arg)
{
    struct server *s = accept_server;
    struct timeval tv = {0, ACCEPT_PAUSE_MS * 1000};
    int err = EVUTIL_SOCKET_ERROR();
    time_t now = time(NULL);

    (void)arg;
    evconnlistener_disable(lev);
    if (s == NULL || evtimer_add(s->ev_accept, &tv) != 0) {
        bk_error(0, "accept failed (%s) and cannot be resumed; stopping",
                 evutil_socket_error_to_string(err));
        if (s != NULL)
            event_base_loopbreak(s->base);
        return;
    }
    s->accept_pauses++;
    if (now - s->accept_logged >= 10) {
        s->accept_logged = now;
        audit(s, NULL, NULL, "accept_paused",
              "accept failed (%s): not accepting for %d ms (%lu pauses so far, %zu open "
              "connections)",
              evutil_socket_error_to_string(err), ACCEPT_PAUSE_MS, s->accept_pauses,
              s->nconns);
    }
}

void accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
    struct server *s = arg;

    (void)fd;
    (void)what;
    if (s->bound != NULL) /* NULL once draining: the listener is gone */
        evconnlistener_enable(evhttp_bound_socket_get_listener(s->bound));
}

int listen_setup(struct server *s)
{
    char host[256], addr[INET6_ADDRSTRLEN];
    uint16_t port;
    struct sockaddr_storage sa;
    socklen_t sl = sizeof sa;
    evutil_socket_t fd;

    if (listen_split(s->cfg.listen, host, sizeof host, &port) != 0)
        return bk_error(BK_EXIT_USAGE, "--listen %s: expected HOST:PORT", s->cfg.listen);
    s->http = evhttp_new(s->base);
    if (s->http == NULL)
        return bk_error(BK_EXIT_IO, "evhttp_new failed");
    evhttp_set_bevcb(s->http, conn_new, s);
    evhttp_set_gencb(s->http, on_request, s);
    /* every ordinary method reaches the handler, which answers 405 with a JSON body */
    evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                            EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_max_headers_size(s->http, 8192);
    evhttp_set_max_body_size(s->http, (ev_ssize_t)s->cfg.max_body);
    /* a body over the limit is read and discarded before the 413, so the client (which may
     * still be sending) gets the answer instead of a reset; the request deadline bounds it */
    evhttp_set_flags(s->http, EVHTTP_SERVER_LINGERING_CLOSE);
    /* a backstop only: the per-connection deadline (conn_set_deadline) is what applies */
    evhttp_set_timeout(s->http, (int)(s->cfg.idle_timeout + s->cfg.read_timeout));
    if (s->listen_fd >= 0)
        s->bound = evhttp_accept_socket_with_handle(s->http, s->listen_fd);
    else
        s->bound = evhttp_bind_socket_with_handle(s->http, host, port);
    if (s->bound == NULL)
        return bk_error(BK_EXIT_IO, "cannot listen on %s: %s", s->cfg.listen, strerror(errno));
    accept_server = s;
    evconnlistener_set_error_cb(evhttp_bound_socket_get_listener(s->bound), accept_error_cb);
    fd = evhttp_bound_socket_get_fd(s->bound);
    budget_listener(s, fd); /* budget.c: an accept queue to fit a burst */
    if (getsockname(fd, (struct sockaddr *)&sa, &sl) != 0)
        return bk_error(BK_EXIT_IO, "getsockname: %s", strerror(errno));
    if (sa.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, addr, sizeof addr);
        snprintf(s->bound_addr, sizeof s->bound_addr, "[%s]:%u", addr,
                 (unsigned)ntohs(in6->sin6_port));
    } else {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&sa;
        inet_ntop(AF_INET, &in->sin_addr, addr, sizeof addr);
        snprintf(s->bound_addr, sizeof s->bound_addr, "%s:%u", addr,
                 (unsigned)ntohs(in->sin_port));
    }
    if (s->ready_fd >= 0) { /* a worker: the parent says where it listens */
        ssize_t w = write(s->ready_fd, "r", 1);
        (void)w;
        close(s->ready_fd);
        s->ready_fd = -1;
        return BK_EXIT_OK;
    }
    printf("listening on %s\n", s->bound_addr);
    fflush(stdout);
    return BK_EXIT_OK;
}
