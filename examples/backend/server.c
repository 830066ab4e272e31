/*
 * iotsec-backend serve — the mTLS HTTPS/1.1 server (docs/DESIGN.md §10).
 *
 * libevent evhttp over bufferevent_openssl, one process, one thread, non-blocking. The TLS
 * context is configured by the library (iotsec_tls_server_setup: TLS 1.2+, client
 * certificate required, device CA only, identity and revocation checked in the handshake,
 * no session resumption); the backend adds connection limits (total and per peer, applied
 * right after the accept: conn_admit) and bookkeeping of open connections with their
 * identities (SSL ex_data; its free callback is the "connection closed" event).
 *
 * A telemetry request goes: size limit → rate limit (token bucket per TLS identity) →
 * device registered and enabled → peek (untrusted, to pick the keys) → frame device id =
 * certificate identity → open (tag, then decrypt) → in one SQLite transaction: replay
 * check-and-commit, telemetry row, audit row → commit → 200. Every rejection is answered
 * {"error":"<code>","detail":"…"} and writes an audit row (db.c), also printed as a JSON
 * line on stderr with --log-json.
 *
 * Timers: a connection has one deadline — the handshake and each request (from its first
 * byte to the complete request) get --read-timeout (10 s), an idle keep-alive connection
 * --idle-timeout (60 s). Connections are closed by shutdown(2) on their socket: evhttp then
 * sees end of file and frees them through its own path.
 *
 * Operations: SIGHUP and a change of a CRL or the denylist (polled every second) reload the
 * revocation set with iotsec_revocation_reload, which also reports the open connections it
 * revokes; those are closed. SIGTERM / SIGINT stop accepting, let requests in progress
 * finish (answered with Connection: close, at most --drain-timeout seconds), then exit 0.
 * Every SQLite transaction is synchronous inside a handler, so none is ever cut short.
 */
#include "backend.h"
#include "httpparse.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sqlite3.h>

#include "iotsec/ecowatt.h"
#include "iotsec/frame.h"
#include "iotsec/revocation.h"
#include "iotsec/tls.h"
#include "iotsec/x509.h"

/* ---- configuration ------------------------------------------------------------------------ */

#define MAX_CRLS 8
#define MAP_BUCKETS 1024u
#define FD_RESERVE 32u       /* descriptors besides connections: SQLite (3), listener,
                                stdio, event base, revocation files being read */
#define ACCEPT_PAUSE_MS 100  /* accept() failing (descriptors exhausted): pause this long */
#define PIECE (256u * 1024u)  /* a payload answer is read and sent this many bytes at a time */

struct config {
    const char *listen;
    const char *db_path;
    const char *ca_path;
    const char *cert_path;
    const char *key_path;
    const char *crl_paths[MAX_CRLS];
    size_t crl_count;
    const char *denylist_path;
    const char *pid_file;
    iotsec_identity_policy identity;
    unsigned window;
    int log_json;
    int sync_normal;
    size_t max_body;            /* bytes */
    unsigned read_timeout;      /* seconds: handshake, and one request from first byte */
    unsigned idle_timeout;      /* seconds: keep-alive between requests */
    unsigned drain_timeout;     /* seconds: SIGTERM grace for requests in progress */
    double rate;                /* frames per second per device; 0 = no limit */
    double burst;               /* bucket size */
    unsigned max_conns;         /* open connections in total */
    unsigned max_conns_per_peer;
    double audit_rate;          /* rejection rows per second per source; 0 = no limit */
    uint32_t crl_grace;         /* seconds a CRL stays usable past nextUpdate */
};

/* ---- state ---------------------------------------------------------------------------------- */

enum conn_state { CONN_HANDSHAKE, CONN_IDLE, CONN_REQUEST, CONN_HANDLER };

struct server;

/* A payload answer in progress (handle_payload): the next piece is read from the database
 * only once the previous one has left the output buffer, so a connection holds at most
 * PIECE bytes of it, however large the payload and however slowly the peer reads. */
struct download {
    struct evhttp_request *req;
    bk_payload payload;
    uint64_t next, last; /* bytes [next, last] of the payload not yet queued */
};

struct conn {
    struct server *srv;
    struct conn *prev, *next;
    struct bufferevent *bev;
    SSL *ssl;
    evutil_socket_t fd;       /* known from the ClientHello on */
    struct event *deadline;
    enum conn_state state;
    int in_handler;           /* our handler is writing the answer */
    int evhttp_error_noted;   /* an answer evhttp generated itself was audited */
    int closing;
    int admitted;             /* the connection limits were applied (conn_admit) */
    struct download *dl;      /* a payload answer being sent, or NULL */
    char addr[INET6_ADDRSTRLEN];   /* peer address, for the per-peer limit */
    char peer[INET6_ADDRSTRLEN + 8]; /* "addr:port", for the audit */
    int have_identity;
    int id_verified;          /* id is a verified identity (see verdict_cb) */
    iotsec_peer_identity id;
    int64_t not_after;        /* the client certificate's notAfter, Unix seconds */
    /* why the handshake failed, for its audit row */
    int alert_sent;
    const char *fail_event;
    char fail_detail[BK_DETAIL_MAX];
};

/* A small chained hash table keyed by (device id, kid). */
struct map_entry {
    struct map_entry *next;
    char id[BK_ID_MAX + 1];
    size_t id_len;
    int kid;
    void *value;
};

struct map {
    struct map_entry *b[MAP_BUCKETS];
    void (*free_value)(void *);
};

/* Cached receiver keys of one (device, kid); kid −1 holds the device's EcoWatt keys. */
struct keys_entry {
    uint8_t material[BK_LEGACY_MAC_LEN + BK_LEGACY_ENC_LEN + 1]; /* what the keys came from */
    size_t material_len;
    iotsec_frame_keys frame;
    iotsec_ecowatt_keys ecowatt;
};

/* Token bucket of one device. */
struct bucket {
    double tokens;
    double last; /* monotonic seconds */
};

/* The audit rows of rejections coming from one source — a device (its verified identity)
 * or, all together, peers that have none — are limited by a token bucket (--audit-rate),
 * so that a flood of refused connections or requests costs neither a row plus an fsync
 * each nor unbounded disk. Rows over the limit are counted, and the count is written as one
 * audit_suppressed row (poll_cb, every second; and at stop). */
struct gate {
    struct bucket b;
    unsigned long suppressed;
    char event[32]; /* the last suppressed event */
};
#define GATE_KID 1   /* map key of a device's gate in server.buckets (0: its frame bucket) */

struct stamp {
    int exists;
    struct stat st;
};

struct server {
    struct config cfg;
    const iotsec_crypto *crypto;
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *bound;
    SSL_CTX *ctx;
    X509 *ca;
    iotsec_revocation_holder *holder;
    iotsec_tls_policy policy;
    bk_db *db; /* replay window --replay-window: frames v1; its legacy store: W = 0 */
    struct conn *conns;
    size_t nconns;
    struct map keys;
    struct map buckets;            /* per device: frame token bucket, audit gate */
    struct gate anon_gate;         /* audit rows of peers without a verified identity */
    struct event *ev_hup, *ev_term, *ev_int, *ev_poll, *ev_drain, *ev_accept;
    unsigned long accept_pauses;
    time_t accept_logged;
    struct stamp crl_stamp[MAX_CRLS];
    struct stamp deny_stamp;
    char bound_addr[INET6_ADDRSTRLEN + 8];
    int draining;
    time_t drain_started;
    uint8_t plain[IOTSEC_FRAME_CIPHER_MAX + IOTSEC_AES_BLOCK_LEN]; /* opened payloads */
};

static int conn_index = -1; /* SSL ex_data index of struct conn */
/* The server whose listener reports accept() errors (evhttp owns the listener's callback
 * argument, so the error callback cannot be given one). */
static struct server *accept_server;

/* ---- small helpers ------------------------------------------------------------------------ */

static double mono_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint32_t map_hash(const char *id, size_t id_len, int kid)
{
    uint32_t h = 2166136261u;
    size_t i;

    for (i = 0; i < id_len; i++)
        h = (h ^ (uint8_t)id[i]) * 16777619u;
    h = (h ^ (uint32_t)(kid + 1)) * 16777619u;
    return h % MAP_BUCKETS;
}

static struct map_entry *map_find(struct map *m, const char *id, size_t id_len, int kid)
{
    struct map_entry *e;

    for (e = m->b[map_hash(id, id_len, kid)]; e != NULL; e = e->next)
        if (e->kid == kid && e->id_len == id_len && memcmp(e->id, id, id_len) == 0)
            return e;
    return NULL;
}

/* Find or add the entry; NULL when out of memory. New entries have value NULL. */
static struct map_entry *map_get(struct map *m, const char *id, size_t id_len, int kid)
{
    struct map_entry *e = map_find(m, id, id_len, kid);
    uint32_t h;

    if (e != NULL || id_len > BK_ID_MAX)
        return e;
    e = calloc(1, sizeof *e);
    if (e == NULL)
        return NULL;
    memcpy(e->id, id, id_len);
    e->id_len = id_len;
    e->kid = kid;
    h = map_hash(id, id_len, kid);
    e->next = m->b[h];
    m->b[h] = e;
    return e;
}

static void map_clear(struct map *m)
{
    size_t i;

    for (i = 0; i < MAP_BUCKETS; i++) {
        struct map_entry *e = m->b[i], *n;
        for (; e != NULL; e = n) {
            n = e->next;
            if (e->value != NULL && m->free_value != NULL)
                m->free_value(e->value);
            free(e);
        }
        m->b[i] = NULL;
    }
}

static void keys_entry_free(void *p)
{
    struct keys_entry *k = p;

    iotsec_frame_keys_cleanup(&k->frame);
    iotsec_ecowatt_keys_cleanup(&k->ecowatt);
    iotsec_zeroize(k, sizeof *k);
    free(k);
}

/* ---- audit ---------------------------------------------------------------------------------- */

/* Refill b (rate per second, at most burst tokens; a new bucket, last == 0, starts full),
 * then take one token if there is one: 1 when taken. */
static int bucket_take(struct bucket *b, double rate, double burst)
{
    double now = mono_now();

    b->tokens = b->last == 0 ? burst : b->tokens + (now - b->last) * rate;
    if (b->tokens > burst)
        b->tokens = burst;
    b->last = now;
    if (b->tokens < 1.0)
        return 0;
    b->tokens -= 1.0;
    return 1;
}

/* The audit gate of identity (NULL: the peers without one); NULL when out of memory. */
static struct gate *gate_of(struct server *s, const char *identity)
{
    struct map_entry *e;

    if (identity == NULL || *identity == '\0')
        return &s->anon_gate;
    e = map_get(&s->buckets, identity, strlen(identity), GATE_KID);
    if (e != NULL && e->value == NULL)
        e->value = calloc(1, sizeof(struct gate));
    return e != NULL ? e->value : NULL;
}

static int audit_row(struct server *s, bk_db *db, const char *peer, const char *identity,
                     const char *event, const char *detail);

/* Write the count of rows a gate suppressed, if any. */
static void gate_flush(struct server *s, struct gate *g, const char *identity)
{
    char detail[BK_DETAIL_MAX];

    if (g->suppressed == 0)
        return;
    snprintf(detail, sizeof detail,
             "%lu audit rows of rejections suppressed (over --audit-rate %g/s; last: %s)",
             g->suppressed, s->cfg.audit_rate, g->event);
    g->suppressed = 0;
    (void)audit_row(s, NULL, NULL, identity, "audit_suppressed", detail);
}

static void gates_flush(struct server *s)
{
    size_t i;
    struct map_entry *e;

    gate_flush(s, &s->anon_gate, NULL);
    for (i = 0; i < MAP_BUCKETS; i++)
        for (e = s->buckets.b[i]; e != NULL; e = e->next)
            if (e->kid == GATE_KID && e->value != NULL)
                gate_flush(s, e->value, e->id); /* e->id: NUL-padded by calloc */
}

/* Write an audit row on db (the server's main connection when NULL) and, with --log-json,
 * print it as one JSON line on stderr. A rejection (a row with a peer, outside a frame's
 * transaction) passes the gate of gate_id (a verified identity, or NULL) first; over the
 * limit it is only counted. */
static int audit_gated(struct server *s, bk_db *db, const char *peer, const char *identity,
                       const char *gate_id, const char *event, const char *detail)
{
    struct gate *g;

    if (db == NULL && peer != NULL && s->cfg.audit_rate > 0 &&
        (g = gate_of(s, gate_id)) != NULL &&
        !bucket_take(&g->b, s->cfg.audit_rate, 10.0 * s->cfg.audit_rate)) {
        g->suppressed++;
        snprintf(g->event, sizeof g->event, "%s", event);
        return IOTSEC_OK;
    }
    return audit_row(s, db, peer, identity, event, detail);
}

/* audit_gated for a row whose identity, if any, is verified (every caller but conn_free's
 * failed handshakes). */
static int audit_on(struct server *s, bk_db *db, const char *peer, const char *identity,
                    const char *event, const char *detail)
{
    return audit_gated(s, db, peer, identity, identity, event, detail);
}

static int audit_row(struct server *s, bk_db *db, const char *peer, const char *identity,
                     const char *event, const char *detail)
{
    int64_t now = bk_now();
    int rc = bk_db_audit(db != NULL ? db : s->db, now, peer, identity, event, detail);

    if (s->cfg.log_json) {
        char e_peer[128], e_id[160], e_event[64], e_detail[2 * BK_DETAIL_MAX];
        fprintf(stderr,
                "{\"time\":%lld,\"peer\":\"%s\",\"identity\":\"%s\",\"event\":\"%s\","
                "\"detail\":\"%s\"%s}\n",
                (long long)now, bk_json_escape(peer, e_peer, sizeof e_peer),
                bk_json_escape(identity, e_id, sizeof e_id),
                bk_json_escape(event, e_event, sizeof e_event),
                bk_json_escape(detail, e_detail, sizeof e_detail),
                rc == IOTSEC_OK ? "" : ",\"stored\":false");
    }
    if (rc != IOTSEC_OK)
        bk_error(0, "cannot write audit row (%s): %s", event, sqlite3_errmsg(bk_db_handle(s->db)));
    return rc;
}

static void audit(struct server *s, const char *peer, const char *identity, const char *event,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void audit(struct server *s, const char *peer, const char *identity, const char *event,
                  const char *fmt, ...)
{
    char detail[BK_DETAIL_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    (void)audit_on(s, NULL, peer, identity, event, detail);
}

static const char *conn_identity(const struct conn *c)
{
    return c->have_identity ? c->id.device_id : NULL;
}

/* ---- connections ---------------------------------------------------------------------------- */

static void conn_set_deadline(struct conn *c, unsigned seconds)
{
    struct timeval tv;

    tv.tv_sec = (time_t)seconds;
    tv.tv_usec = 0;
    evtimer_add(c->deadline, &tv);
}

/* Close a connection: evhttp sees end of file and frees it (and its SSL, which calls
 * conn_free). Safe to call twice, and while evhttp is already freeing it (the socket is
 * closed only when the SSL is freed). */
static void conn_close(struct conn *c)
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

static void conn_admit(struct conn *c);

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
                 "no complete TLS handshake within %u s", c->srv->cfg.read_timeout);
    } else if (c->state == CONN_REQUEST) {
        audit(c->srv, c->peer, conn_identity(c), "timeout",
              "request not complete within %u s", c->srv->cfg.read_timeout);
    }
    conn_close(c);
}

/* The SSL's ex_data free callback: the connection is gone (evhttp freed its bufferevent,
 * which freed the SSL and closed the socket). A connection that never completed its
 * handshake is a rejection and gets its audit row here. */
static void conn_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
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
    free(c->dl); /* not reached with a download: conn_http_closed ended it */
    iotsec_zeroize(c, sizeof *c);
    free(c);
}

/* Bytes arrived on an idle connection: a request begins; it gets --read-timeout. */
static void conn_input_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    struct conn *c = arg;

    (void)buf;
    if (info->n_added > 0 && c->state == CONN_IDLE) {
        c->state = CONN_REQUEST;
        conn_set_deadline(c, c->srv->cfg.read_timeout);
    }
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
        c->state == CONN_HANDSHAKE)
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
    if (c->deadline == NULL)
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
static void conn_learn_peer(struct conn *c)
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

/* Apply the connection limits to a new connection, as soon as its socket is known: on the
 * first turn of the event loop after the accept (conn_new's zero timer), or at its
 * ClientHello if that comes first. Connections that never send a byte count like any
 * other, so they cannot pile up past --max-conns / --max-conns-per-peer while they wait
 * for the handshake deadline. Over a limit the connection is closed at once. */
static void conn_admit(struct conn *c)
{
    struct server *s = c->srv;
    struct conn *o;
    unsigned same = 0, open = 0;

    if (c->admitted)
        return;
    c->admitted = 1;
    conn_learn_peer(c);
    /* the admitted connections still open; those accepted in the same turn of the loop
     * are admitted one after the other */
    for (o = s->conns; o != NULL; o = o->next) {
        if (o == c || !o->admitted || o->closing)
            continue;
        open++;
        same += o->addr[0] != '\0' && strcmp(o->addr, c->addr) == 0;
    }
    if (open >= s->cfg.max_conns || same >= s->cfg.max_conns_per_peer) {
        c->fail_event = "conn_limit";
        snprintf(c->fail_detail, sizeof c->fail_detail,
                 "too many connections (%u open, %u from this address)", open + 1u,
                 same + 1u);
        evtimer_del(c->deadline);
        conn_close(c);
        return;
    }
    conn_set_deadline(c, s->cfg.read_timeout);
}

/* First handshake message: a connection over the limits gets no handshake. */
static int client_hello_cb(SSL *ssl, int *alert, void *arg)
{
    struct conn *c = SSL_get_ex_data(ssl, conn_index);

    (void)arg;
    if (c == NULL)
        return SSL_CLIENT_HELLO_SUCCESS;
    conn_admit(c);
    if (c->closing) {
        *alert = SSL_AD_HANDSHAKE_FAILURE;
        return SSL_CLIENT_HELLO_ERROR;
    }
    return SSL_CLIENT_HELLO_SUCCESS;
}

/* The library's handshake verdict (from its verify callback). The device id of a refused
 * certificate goes into its audit row's identity column (docs/DESIGN.md §10: the certificate's
 * identity), but it is a verified identity only when the refusal is a revocation: the
 * library checks revocation only for a leaf whose chain to the device CA verified. Any
 * other refusal (unknown CA, self-signed, …) names a device id nobody vouches for —
 * anyone can write CN=<a real device> into a certificate of their own —: the detail says
 * so, and the row is limited with the peers that have no identity (audit gate), so a
 * stranger can neither use up a device's audit budget nor add gates at will. */
static void verdict_cb(void *arg, SSL *ssl, const iotsec_tls_verdict *v)
{
    struct conn *c = SSL_get_ex_data(ssl, conn_index);
    char code[48];
    int verified = v->code == IOTSEC_E_REVOKED && v->reason != IOTSEC_REVOKED_NONE;

    (void)arg;
    if (c == NULL || v->code == IOTSEC_OK)
        return;
    if (v->have_identity && !c->have_identity) {
        c->id = v->identity;
        c->have_identity = 1;
        c->id_verified = verified;
    }
    c->fail_event = verified ? "revoked" : "handshake_failed";
    snprintf(c->fail_detail, sizeof c->fail_detail, "%s: %s%s", bk_error_code(v->code, code, sizeof code),
             v->detail, v->have_identity && !verified ? " (device id unverified)" : "");
}

static void handshake_done(struct conn *c)
{
    iotsec_peer_identity id;
    int rc = iotsec_tls_peer_identity(c->ssl, NULL, &id);
    X509 *cert = SSL_get0_peer_certificate(c->ssl);
    int days = 0, secs = 0;

    /* the verify callback checked the validity period at the handshake; a connection may
     * outlive it, so its end is kept for the per-request check (authorize) */
    if (rc == IOTSEC_OK &&
        (cert == NULL || ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(cert)) != 1))
        rc = IOTSEC_E_BAD_ENCODING;
    if (rc != IOTSEC_OK) {
        char code[48];
        /* the verify callback accepted the certificate, so this cannot happen; if it does,
         * the peer is not served */
        c->fail_event = "handshake_failed";
        snprintf(c->fail_detail, sizeof c->fail_detail, "no identity after handshake: %s",
                 bk_error_code(rc, code, sizeof code));
        conn_close(c);
        return;
    }
    c->id = id;
    c->have_identity = 1;
    c->id_verified = 1;
    c->not_after = bk_now() + (int64_t)days * 86400 + secs;
    c->state = CONN_IDLE;
    c->fail_event = NULL;
    conn_set_deadline(c, c->srv->cfg.idle_timeout);
}

static void info_cb(const SSL *ssl, int where, int ret)
{
    struct conn *c = SSL_get_ex_data(ssl, conn_index);

    if (c == NULL || c->state != CONN_HANDSHAKE)
        return;
    conn_learn_peer(c);
    if (where & SSL_CB_HANDSHAKE_DONE) {
        handshake_done(c);
    } else if ((where & SSL_CB_ALERT) && (where & SSL_CB_WRITE)) {
        c->alert_sent = ret & 0xff;
    } else if ((where & SSL_CB_EXIT) && ret <= 0 && c->fail_event == NULL &&
               ERR_peek_last_error() != 0) {
        /* a fatal handshake error (a handshake that merely waits for bytes leaves the
         * error queue empty); the library's verdict, when there is one, came first */
        const char *why = ERR_reason_error_string(ERR_peek_last_error());
        c->fail_event = "handshake_failed";
        char alert[48] = "";
        if (c->alert_sent)
            snprintf(alert, sizeof alert, ", alert %d (%s)", c->alert_sent,
                     SSL_alert_desc_string_long(c->alert_sent));
        snprintf(c->fail_detail, sizeof c->fail_detail, "TLS handshake failed: %s%s",
                 why != NULL ? why : "error", alert);
    }
}

/* ---- answers --------------------------------------------------------------------------------- */

struct request {
    struct server *s;
    struct conn *c;
    struct evhttp_request *req;
};

static void answer_headers(struct request *q, const char *ctype)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(q->req);

    if (ctype != NULL)
        evhttp_add_header(h, "Content-Type", ctype);
    evhttp_add_header(h, "Cache-Control", "no-store");
    if (q->s->draining)
        evhttp_add_header(h, "Connection", "close");
}

static void send_answer(struct request *q, int status, const char *reason, const char *ctype,
                        struct evbuffer *body)
{
    answer_headers(q, ctype);
    evhttp_send_reply(q->req, status, reason, body);
}

/* The handler is done with the connection's request (its answer may still be leaving):
 * the connection waits for the next one — which may have begun already, pipelined behind
 * this one: then it is a request in progress and gets --read-timeout, not the idle
 * timeout (conn_input_cb only sees bytes that arrive on an idle connection). */
static void conn_request_done(struct conn *c)
{
    c->in_handler = 0;
    if (c->closing)
        return;
    if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0) {
        c->state = CONN_REQUEST;
        conn_set_deadline(c, c->srv->cfg.read_timeout);
    } else {
        c->state = CONN_IDLE;
        conn_set_deadline(c, c->srv->cfg.idle_timeout);
    }
}

static const char *status_reason(int status)
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
    case 429: return "Too Many Requests";
    case 503: return "Service Unavailable";
    default: return "Internal Server Error";
    }
}

/* Refuse the request: audit row (event = code), JSON error body. */
static void reject(struct request *q, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void reject(struct request *q, int status, const char *code, const char *fmt, ...)
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

/* Refuse with a library error: status from bk_http_status, code from its name. */
static void reject_rc(struct request *q, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void reject_rc(struct request *q, int rc, const char *fmt, ...)
{
    char detail[BK_DETAIL_MAX], code[48];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    reject(q, bk_http_status(rc), bk_error_code(rc, code, sizeof code), "%s%s%s", detail,
           detail[0] ? ": " : "", iotsec_strerror(rc));
}

static void internal_error(struct request *q, int rc, const char *what)
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
static int authorize(struct request *q, bk_device *dev)
{
    iotsec_revocation *rs = iotsec_revocation_holder_get(q->s->holder);
    iotsec_revocation_reason reason = IOTSEC_REVOKED_NONE;
    int64_t now = bk_now();
    int rc, found = 0;

    rc = rs != NULL ? iotsec_revocation_check(rs, &q->c->id, now, &reason) : IOTSEC_E_STATE;
    iotsec_revocation_unref(rs);
    if (rc != IOTSEC_OK || now > q->c->not_after) {
        /* answered, then closed by evhttp once the answer is written (a shutdown now would
         * discard it); no further request is read from this connection */
        if (!q->s->draining)
            evhttp_add_header(evhttp_request_get_output_headers(q->req), "Connection", "close");
        if (rc != IOTSEC_OK)
            reject_rc(q, rc, "certificate refused (%s)",
                      iotsec_revocation_reason_name((int)reason));
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
 * IOTSEC_OK, IOTSEC_E_UNKNOWN_KEY (no such key in the database) or another error. */
static int get_keys(struct server *s, const char *id, size_t id_len, int kid,
                    const bk_device *dev, struct keys_entry **out)
{
    uint8_t material[sizeof((struct keys_entry *)0)->material];
    size_t mlen;
    struct map_entry *e;
    struct keys_entry *k;
    int rc, found = 0;

    if (kid < 0) {
        if (!dev->legacy)
            return IOTSEC_E_UNKNOWN_KEY;
        memcpy(material, dev->legacy_mac, BK_LEGACY_MAC_LEN);
        memcpy(material + BK_LEGACY_MAC_LEN, dev->legacy_enc, BK_LEGACY_ENC_LEN);
        material[BK_LEGACY_MAC_LEN + BK_LEGACY_ENC_LEN] = (uint8_t)dev->has_legacy_enc;
        mlen = BK_LEGACY_MAC_LEN + BK_LEGACY_ENC_LEN + 1u;
    } else {
        rc = bk_db_device_key(s->db, id, id_len, (unsigned)kid, material, &found);
        if (rc != IOTSEC_OK)
            return rc;
        if (!found)
            return IOTSEC_E_UNKNOWN_KEY;
        mlen = BK_SECRET_LEN;
    }
    e = map_get(&s->keys, id, id_len, kid);
    if (e == NULL) {
        iotsec_zeroize(material, sizeof material);
        return IOTSEC_E_NO_MEMORY;
    }
    k = e->value;
    if (k != NULL && k->material_len == mlen && iotsec_ct_compare(k->material, material, mlen) == 0) {
        iotsec_zeroize(material, sizeof material);
        *out = k;
        return IOTSEC_OK;
    }
    if (k != NULL) {
        keys_entry_free(k);
        e->value = NULL;
    }
    k = calloc(1, sizeof *k);
    if (k == NULL) {
        iotsec_zeroize(material, sizeof material);
        return IOTSEC_E_NO_MEMORY;
    }
    memcpy(k->material, material, mlen);
    k->material_len = mlen;
    if (kid < 0)
        rc = iotsec_ecowatt_keys_init(&k->ecowatt, s->crypto, dev->legacy_mac,
                                      dev->has_legacy_enc ? dev->legacy_enc : NULL);
    else
        rc = iotsec_frame_keys_derive(&k->frame, s->crypto, material, id, id_len,
                                      (uint8_t)kid, IOTSEC_FRAME_UPLINK);
    iotsec_zeroize(material, sizeof material);
    if (rc != IOTSEC_OK) {
        keys_entry_free(k);
        return rc;
    }
    e->value = k;
    *out = k;
    return IOTSEC_OK;
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

static void handle_telemetry(struct request *q)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(q->req);
    size_t len = evbuffer_get_length(in);
    const char *ctype_text = evhttp_find_header(evhttp_request_get_input_headers(q->req),
                                                "Content-Type");
    enum backend_ctype ctype;
    const uint8_t *body;
    bk_device dev;

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
    if (!authorize(q, &dev))
        return;
    body = len > 0 ? evbuffer_pullup(in, -1) : (const uint8_t *)"";
    if (body == NULL) {
        internal_error(q, IOTSEC_E_NO_MEMORY, "read body");
        return;
    }
    if (ctype == BACKEND_CT_FRAME) {
        telemetry_v1(q, &dev, body, len, 0);
    } else {
        /* JSON: frame v1 has "v"; the EcoWatt profile has "nonce". The library's strict
         * v1 parser refuses the legacy members, so a legacy frame is recognised by its own
         * strict parser; if neither parses, the error of the profile the device is
         * configured for is reported. */
        iotsec_frame_header h1;
        iotsec_ecowatt_header h2;
        int rc1 = iotsec_frame_peek_json((const char *)body, len, &h1);
        int rc2 = rc1 == IOTSEC_OK ? rc1 : iotsec_ecowatt_peek((const char *)body, len, &h2);
        if (rc1 == IOTSEC_OK || (rc2 != IOTSEC_OK && !dev.legacy))
            telemetry_v1(q, &dev, body, len, 1);
        else
            telemetry_ecowatt(q, &dev, (const char *)body, len);
    }
    iotsec_zeroize(&dev, sizeof dev);
}

/* ---- firmware ----------------------------------------------------------------------------- */

static void handle_manifest(struct request *q, const char *query)
{
    const char *cls = NULL;
    size_t cls_len = 0, len = 0;
    uint8_t *buf = NULL;
    struct evbuffer *body;
    bk_device dev;
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
    if (!authorize(q, &dev))
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

static void handle_payload(struct request *q, const char *path)
{
    struct server *s = q->s;
    const char *range = evhttp_find_header(evhttp_request_get_input_headers(q->req), "Range");
    uint8_t digest[32];
    uint64_t size, first = 0, last = 0;
    bk_payload payload;
    struct download *d;
    char cr[80];
    bk_device dev;
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
    if (!authorize(q, &dev))
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

/* ---- dispatch ----------------------------------------------------------------------------- */

static struct conn *conn_of(struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
    SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;

    return ssl ? SSL_get_ex_data(ssl, conn_index) : NULL;
}

static void on_request(struct evhttp_request *req, void *arg)
{
    struct request q;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    const char *query = uri ? evhttp_uri_get_query(uri) : NULL;

    q.s = arg;
    q.req = req;
    q.c = conn_of(req);
    if (q.c == NULL || !q.c->have_identity) {
        /* cannot happen: evhttp only hands us requests of completed handshakes */
        evhttp_send_error(req, 403, "Forbidden");
        return;
    }
    if (q.c->dl != NULL) {
        /* evhttp re-enters the handler with the request of a download in progress only
         * on an internal error of the connection: give up on it */
        conn_close(q.c);
        return;
    }
    q.c->state = CONN_HANDLER;
    q.c->in_handler = 1;
    q.c->evhttp_error_noted = 0;
    evtimer_del(q.c->deadline);
    if (path == NULL) {
        reject(&q, 400, "bad_request", "no path");
    } else if (strcmp(path, "/v1/auth") == 0) {
        bk_device dev;
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
        handle_telemetry(&q);
    } else if (strcmp(path, "/v1/firmware/manifest") == 0) {
        handle_manifest(&q, query);
    } else if (strncmp(path, "/v1/firmware/payload/", 21) == 0 && query == NULL) {
        handle_payload(&q, path);
    } else {
        reject(&q, 404, "not_found", "no such endpoint");
    }
    if (q.c->dl == NULL) /* else the download ends it (download_more) */
        conn_request_done(q.c);
}

/* ---- revocation reload -------------------------------------------------------------------- */

static void revocation_config(struct server *s, iotsec_revocation_config *rc)
{
    memset(rc, 0, sizeof *rc);
    rc->ca = s->ca;
    rc->crl_paths = s->cfg.crl_paths;
    rc->crl_count = s->cfg.crl_count;
    rc->denylist_path = s->cfg.denylist_path;
    rc->grace_seconds = s->cfg.crl_grace;
}

static void reload_revocation(struct server *s, const char *why)
{
    iotsec_revocation_config rcfg;
    iotsec_revocation_error err = {NULL, 0};
    iotsec_peer_identity *ids = NULL;
    struct conn **who = NULL, *c;
    uint8_t *revoked = NULL;
    size_t n = 0, nrev = 0, i;
    char code[48];
    int rc;

    for (c = s->conns; c != NULL; c = c->next)
        n += c->have_identity && !c->closing;
    if (n > 0) {
        ids = calloc(n, sizeof *ids);
        who = calloc(n, sizeof *who);
        revoked = calloc(n, 1);
        if (ids == NULL || who == NULL || revoked == NULL) {
            audit(s, NULL, NULL, "reload_failed", "%s: out of memory", why);
            goto out;
        }
        i = 0;
        for (c = s->conns; c != NULL; c = c->next) {
            if (c->have_identity && !c->closing) {
                ids[i] = c->id;
                who[i++] = c;
            }
        }
    }
    revocation_config(s, &rcfg);
    rc = iotsec_revocation_reload(s->holder, &rcfg, bk_now(), ids, n, revoked, &nrev, &err);
    if (rc != IOTSEC_OK) {
        audit(s, NULL, NULL, "reload_failed",
              "%s: %s (%s, line %zu): %s; the previous revocation set stays in force", why,
              bk_error_code(rc, code, sizeof code), err.path ? err.path : "-", err.line,
              iotsec_strerror(rc));
        goto out;
    }
    {
        iotsec_revocation *rs = iotsec_revocation_holder_get(s->holder);
        audit(s, NULL, NULL, "reload", "%s: %zu revoked serials, %zu denylist entries, %zu "
              "open connections revoked", why, iotsec_revocation_serial_count(rs),
              iotsec_revocation_denylist_count(rs), nrev);
        iotsec_revocation_unref(rs);
    }
    for (i = 0; i < n; i++) {
        if (revoked[i] == 0)
            continue;
        audit(s, who[i]->peer, who[i]->id.device_id, "revoked",
              "open connection closed after reload (%s)",
              iotsec_revocation_reason_name(revoked[i]));
        conn_close(who[i]);
    }
out:
    free(ids);
    free(who);
    free(revoked);
}

static int stamp_changed(struct stamp *st, const char *path)
{
    struct stamp now;

    memset(&now, 0, sizeof now);
    now.exists = stat(path, &now.st) == 0;
    if (now.exists == st->exists &&
        (!now.exists ||
         (now.st.st_ino == st->st.st_ino && now.st.st_dev == st->st.st_dev &&
          now.st.st_size == st->st.st_size &&
          now.st.st_mtim.tv_sec == st->st.st_mtim.tv_sec &&
          now.st.st_mtim.tv_nsec == st->st.st_mtim.tv_nsec &&
          now.st.st_ctim.tv_sec == st->st.st_ctim.tv_sec &&
          now.st.st_ctim.tv_nsec == st->st.st_ctim.tv_nsec)))
        return 0;
    *st = now;
    return 1;
}

static int stamps_changed(struct server *s)
{
    int changed = 0;
    size_t i;

    for (i = 0; i < s->cfg.crl_count; i++)
        changed |= stamp_changed(&s->crl_stamp[i], s->cfg.crl_paths[i]);
    if (s->cfg.denylist_path != NULL)
        changed |= stamp_changed(&s->deny_stamp, s->cfg.denylist_path);
    return changed;
}

static void poll_cb(evutil_socket_t fd, short what, void *arg)
{
    struct server *s = arg;

    (void)fd;
    (void)what;
    if (stamps_changed(s))
        reload_revocation(s, "revocation files changed");
    gates_flush(s);
}

/* ---- signals and shutdown ---------------------------------------------------------------- */

static void drain_cb(evutil_socket_t fd, short what, void *arg)
{
    struct server *s = arg;
    struct conn *c;

    (void)fd;
    (void)what;
    for (c = s->conns; c != NULL; c = c->next)
        if (c->state != CONN_REQUEST && c->state != CONN_HANDLER)
            conn_close(c);
    if (s->nconns == 0 || time(NULL) - s->drain_started >= (time_t)s->cfg.drain_timeout)
        event_base_loopbreak(s->base);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
    struct server *s = arg;
    struct timeval tv = {0, 100000};

    (void)what;
    if (sig == SIGHUP) {
        (void)stamps_changed(s);
        reload_revocation(s, "SIGHUP");
        return;
    }
    if (s->draining)
        return;
    s->draining = 1;
    s->drain_started = time(NULL);
    fprintf(stderr, "iotsec-backend: %s: no longer accepting; finishing requests in "
                    "progress\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    if (s->bound != NULL) {
        evhttp_del_accept_socket(s->http, s->bound);
        s->bound = NULL;
    }
    s->ev_drain = event_new(s->base, -1, EV_PERSIST, drain_cb, s);
    if (s->ev_drain == NULL || event_add(s->ev_drain, &tv) != 0)
        event_base_loopbreak(s->base);
    else
        drain_cb(-1, 0, s);
}

/* ---- setup ---------------------------------------------------------------------------------- */

static int tls_setup(struct server *s)
{
    iotsec_revocation_config rcfg;
    iotsec_revocation_error err = {NULL, 0};
    iotsec_revocation *rs = NULL;
    int rc;

    rc = iotsec_x509_cert_load_file(s->cfg.ca_path, &s->ca);
    if (rc != IOTSEC_OK)
        return bk_error(BK_EXIT_IO, "--ca %s: %s", s->cfg.ca_path, iotsec_strerror(rc));
    revocation_config(s, &rcfg);
    (void)stamps_changed(s);
    rc = iotsec_revocation_load(&rs, &rcfg, bk_now(), &err);
    if (rc != IOTSEC_OK)
        return bk_error(rc == IOTSEC_E_IO ? BK_EXIT_IO : BK_EXIT_REJECTED,
                        "revocation: %s line %zu: %s", err.path ? err.path : "(set)",
                        err.line, iotsec_strerror(rc));
    rc = iotsec_revocation_holder_new(&s->holder, rs);
    iotsec_revocation_unref(rs);
    if (rc != IOTSEC_OK)
        return bk_error(BK_EXIT_IO, "revocation holder: %s", iotsec_strerror(rc));

    s->ctx = SSL_CTX_new(TLS_server_method());
    if (s->ctx == NULL)
        return bk_error(BK_EXIT_IO, "SSL_CTX_new failed");
    if (SSL_CTX_use_certificate_chain_file(s->ctx, s->cfg.cert_path) != 1)
        return bk_error(BK_EXIT_IO, "--cert %s: cannot load the certificate", s->cfg.cert_path);
    if (SSL_CTX_use_PrivateKey_file(s->ctx, s->cfg.key_path, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(s->ctx) != 1)
        return bk_error(BK_EXIT_IO, "--key %s: cannot load the key or it does not match "
                        "the certificate", s->cfg.key_path);
    s->policy.ca = s->ca;
    s->policy.revocation = s->holder;
    s->policy.identity = s->cfg.identity;
    s->policy.on_verdict = verdict_cb;
    s->policy.cb_arg = s;
    /* TLS 1.2+, client certificate against the device CA only, identity and revocation in
     * the verify callback, no session resumption (every handshake is verified in full) */
    rc = iotsec_tls_server_setup(s->ctx, &s->policy);
    if (rc != IOTSEC_OK)
        return bk_error(BK_EXIT_IO, "TLS policy: %s", iotsec_strerror(rc));
    SSL_CTX_set_client_hello_cb(s->ctx, client_hello_cb, s);
    SSL_CTX_set_info_callback(s->ctx, info_cb);
    return BK_EXIT_OK;
}

static int split_listen(const char *spec, char *host, size_t cap, uint16_t *port)
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
static void accept_error_cb(struct evconnlistener *lev, void *arg)
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

static void accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
    struct server *s = arg;

    (void)fd;
    (void)what;
    if (s->bound != NULL) /* NULL once draining: the listener is gone */
        evconnlistener_enable(evhttp_bound_socket_get_listener(s->bound));
}

/* Room for --max-conns connections: raise the soft descriptor limit as far as the hard
 * limit allows; if that is not enough, lower --max-conns to fit (a connection over it is
 * refused at once instead of an accept() failing). */
static int fd_budget(struct server *s)
{
    struct rlimit rl;
    rlim_t need = (rlim_t)s->cfg.max_conns + FD_RESERVE;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
        rl.rlim_cur >= need)
        return BK_EXIT_OK;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ? need : rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
        rl.rlim_cur >= need)
        return BK_EXIT_OK;
    if (rl.rlim_cur <= FD_RESERVE)
        return bk_error(BK_EXIT_USAGE, "only %llu file descriptors available; need more than %u",
                        (unsigned long long)rl.rlim_cur, FD_RESERVE);
    s->cfg.max_conns = (unsigned)(rl.rlim_cur - FD_RESERVE);
    bk_error(0, "--max-conns lowered to %u: the file descriptor limit is %llu",
             s->cfg.max_conns, (unsigned long long)rl.rlim_cur);
    return BK_EXIT_OK;
}

static int listen_setup(struct server *s)
{
    char host[256], addr[INET6_ADDRSTRLEN];
    uint16_t port;
    struct sockaddr_storage sa;
    socklen_t sl = sizeof sa;
    evutil_socket_t fd;

    if (split_listen(s->cfg.listen, host, sizeof host, &port) != 0)
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
    s->bound = evhttp_bind_socket_with_handle(s->http, host, port);
    if (s->bound == NULL)
        return bk_error(BK_EXIT_IO, "cannot listen on %s: %s", s->cfg.listen, strerror(errno));
    accept_server = s;
    evconnlistener_set_error_cb(evhttp_bound_socket_get_listener(s->bound), accept_error_cb);
    fd = evhttp_bound_socket_get_fd(s->bound);
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
    printf("listening on %s\n", s->bound_addr);
    fflush(stdout);
    return BK_EXIT_OK;
}

static int events_setup(struct server *s)
{
    struct timeval one = {1, 0};

    s->ev_hup = evsignal_new(s->base, SIGHUP, signal_cb, s);
    s->ev_term = evsignal_new(s->base, SIGTERM, signal_cb, s);
    s->ev_int = evsignal_new(s->base, SIGINT, signal_cb, s);
    s->ev_poll = event_new(s->base, -1, EV_PERSIST, poll_cb, s);
    s->ev_accept = evtimer_new(s->base, accept_resume_cb, s);
    if (s->ev_hup == NULL || s->ev_term == NULL || s->ev_int == NULL || s->ev_poll == NULL ||
        s->ev_accept == NULL ||
        evsignal_add(s->ev_hup, NULL) != 0 || evsignal_add(s->ev_term, NULL) != 0 ||
        evsignal_add(s->ev_int, NULL) != 0 || event_add(s->ev_poll, &one) != 0)
        return bk_error(BK_EXIT_IO, "cannot install signal handlers and timers");
    return BK_EXIT_OK;
}

static void server_free(struct server *s)
{
    int i;

    if (s->http != NULL)
        evhttp_free(s->http); /* frees open connections; their finalizers run below */
    s->http = NULL;
    for (i = 0; s->base != NULL && s->nconns > 0 && i < 100; i++)
        event_base_loop(s->base, EVLOOP_NONBLOCK);
    if (s->ev_hup)
        event_free(s->ev_hup);
    if (s->ev_term)
        event_free(s->ev_term);
    if (s->ev_int)
        event_free(s->ev_int);
    if (s->ev_poll)
        event_free(s->ev_poll);
    if (s->ev_drain)
        event_free(s->ev_drain);
    if (s->ev_accept)
        event_free(s->ev_accept);
    accept_server = NULL;
    if (s->base)
        event_base_free(s->base);
    map_clear(&s->keys);
    map_clear(&s->buckets);
    SSL_CTX_free(s->ctx);
    iotsec_revocation_holder_free(s->holder);
    X509_free(s->ca);
    bk_db_close(s->db);
    iotsec_zeroize(s->plain, sizeof s->plain);
}

/* ---- command line -------------------------------------------------------------------------- */

static void serve_usage(FILE *f)
{
    fputs("usage: iotsec-backend serve --db DB --ca DEVICE-CA.pem --cert SERVER.pem --key "
          "SERVER.key\n"
          "         [--listen 127.0.0.1:8443] [--crl CRL.pem]... [--denylist FILE]\n"
          "         [--identity cn|san-uri|san-dns] [--trust-domain D] [--replay-window 64]\n"
          "         [--log-json] [--pid-file FILE] [--max-body 71680] [--read-timeout 10]\n"
          "         [--idle-timeout 60] [--drain-timeout 5] [--rate 50] [--burst 100]\n"
          "         [--max-conns 1024] [--max-conns-per-peer 128] [--crl-grace 0]\n"
          "         [--sync normal|full] [--audit-rate 20]\n"
          "Serves docs/DESIGN.md §10 over mTLS only. --listen HOST:0 picks a free port; the\n"
          "actual address is printed as 'listening on HOST:PORT'. --rate 0 disables the\n"
          "per-device token bucket. --audit-rate limits the audit rows of rejections per\n"
          "device (and for all peers without a verified identity together; burst 10 s\n"
          "worth; 0 = no limit). SIGHUP or a change of a --crl/--denylist file reloads\n"
          "revocation; SIGTERM drains and exits 0.\n",
          f);
}

static int opt_u64(const char *opt, const char *v, uint64_t max, uint64_t *out)
{
    if (v == NULL || iotsec_parse_u64_dec(v, strlen(v), max, out) != IOTSEC_OK)
        return bk_error(BK_EXIT_USAGE, "%s: expected a decimal integer 0..%llu, got '%s'", opt,
                        (unsigned long long)max, v ? v : "");
    return BK_EXIT_OK;
}

static int parse_args(struct config *c, int argc, char **argv)
{
    int i;
    uint64_t v;

    memset(c, 0, sizeof *c);
    c->listen = "127.0.0.1:8443";
    c->window = IOTSEC_REPLAY_DEFAULT_WINDOW;
    c->max_body = 70u * 1024u;
    c->read_timeout = 10;
    c->idle_timeout = 60;
    c->drain_timeout = 5;
    c->rate = 50;
    c->burst = 100;
    c->max_conns = 1024;
    c->max_conns_per_peer = 128;
    c->audit_rate = 20;
    c->identity.source = IOTSEC_ID_CN;
    for (i = 1; i < argc; i++) {
        const char *o = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = BK_EXIT_OK, takes = 1;

        if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
            serve_usage(stdout);
            return -1;
        } else if (strcmp(o, "--log-json") == 0) {
            c->log_json = 1;
            takes = 0;
        } else if (val == NULL) {
            return bk_error(BK_EXIT_USAGE, "%s: missing value (see serve --help)", o);
        } else if (strcmp(o, "--listen") == 0) {
            c->listen = val;
        } else if (strcmp(o, "--db") == 0) {
            c->db_path = val;
        } else if (strcmp(o, "--ca") == 0) {
            c->ca_path = val;
        } else if (strcmp(o, "--cert") == 0) {
            c->cert_path = val;
        } else if (strcmp(o, "--key") == 0) {
            c->key_path = val;
        } else if (strcmp(o, "--crl") == 0) {
            if (c->crl_count == MAX_CRLS)
                return bk_error(BK_EXIT_USAGE, "at most %d --crl files", MAX_CRLS);
            c->crl_paths[c->crl_count++] = val;
        } else if (strcmp(o, "--denylist") == 0) {
            c->denylist_path = val;
        } else if (strcmp(o, "--pid-file") == 0) {
            c->pid_file = val;
        } else if (strcmp(o, "--trust-domain") == 0) {
            c->identity.trust_domain = val;
        } else if (strcmp(o, "--identity") == 0) {
            if (strcmp(val, "cn") == 0)
                c->identity.source = IOTSEC_ID_CN;
            else if (strcmp(val, "san-uri") == 0)
                c->identity.source = IOTSEC_ID_SAN_URI;
            else if (strcmp(val, "san-dns") == 0)
                c->identity.source = IOTSEC_ID_SAN_DNS;
            else
                return bk_error(BK_EXIT_USAGE, "--identity: cn, san-uri or san-dns");
        } else if (strcmp(o, "--sync") == 0) {
            if (strcmp(val, "normal") == 0)
                c->sync_normal = 1;
            else if (strcmp(val, "full") != 0)
                return bk_error(BK_EXIT_USAGE, "--sync: normal or full");
        } else if (strcmp(o, "--replay-window") == 0) {
            if ((rc = opt_u64(o, val, IOTSEC_REPLAY_MAX_WINDOW, &v)) == 0)
                c->window = (unsigned)v;
        } else if (strcmp(o, "--max-body") == 0) {
            if ((rc = opt_u64(o, val, IOTSEC_FRAME_JSON_MAX_LEN, &v)) == 0)
                c->max_body = (size_t)v;
        } else if (strcmp(o, "--read-timeout") == 0) {
            if ((rc = opt_u64(o, val, 3600, &v)) == 0)
                c->read_timeout = (unsigned)v;
        } else if (strcmp(o, "--idle-timeout") == 0) {
            if ((rc = opt_u64(o, val, 86400, &v)) == 0)
                c->idle_timeout = (unsigned)v;
        } else if (strcmp(o, "--drain-timeout") == 0) {
            if ((rc = opt_u64(o, val, 3600, &v)) == 0)
                c->drain_timeout = (unsigned)v;
        } else if (strcmp(o, "--rate") == 0) {
            if ((rc = opt_u64(o, val, 1000000, &v)) == 0)
                c->rate = (double)v;
        } else if (strcmp(o, "--burst") == 0) {
            if ((rc = opt_u64(o, val, 1000000, &v)) == 0)
                c->burst = (double)v;
        } else if (strcmp(o, "--max-conns") == 0) {
            if ((rc = opt_u64(o, val, 1000000, &v)) == 0)
                c->max_conns = (unsigned)v;
        } else if (strcmp(o, "--max-conns-per-peer") == 0) {
            if ((rc = opt_u64(o, val, 1000000, &v)) == 0)
                c->max_conns_per_peer = (unsigned)v;
        } else if (strcmp(o, "--audit-rate") == 0) {
            if ((rc = opt_u64(o, val, 1000000, &v)) == 0)
                c->audit_rate = (double)v;
        } else if (strcmp(o, "--crl-grace") == 0) {
            if ((rc = opt_u64(o, val, 86400u * 365u, &v)) == 0)
                c->crl_grace = (uint32_t)v;
        } else {
            return bk_error(BK_EXIT_USAGE, "unknown option %s (see serve --help)", o);
        }
        if (rc != BK_EXIT_OK)
            return rc;
        i += takes;
    }
    if (c->db_path == NULL || c->ca_path == NULL || c->cert_path == NULL ||
        c->key_path == NULL)
        return bk_error(BK_EXIT_USAGE, "serve needs --db, --ca, --cert and --key");
    if (c->read_timeout == 0 || c->idle_timeout == 0 || c->max_conns == 0 ||
        c->max_conns_per_peer == 0 || c->max_body == 0)
        return bk_error(BK_EXIT_USAGE, "timeouts, limits and --max-body must be positive");
    if (c->rate > 0 && c->burst < 1)
        return bk_error(BK_EXIT_USAGE, "--burst must be at least 1");
    return BK_EXIT_OK;
}

int bk_cmd_serve(int argc, char **argv)
{
    struct server *s = calloc(1, sizeof *s);
    char err[256];
    int rc, wrote_pid = 0;

    if (s == NULL)
        return bk_error(BK_EXIT_IO, "out of memory");
    rc = parse_args(&s->cfg, argc, argv);
    if (rc != BK_EXIT_OK) {
        free(s);
        return rc < 0 ? BK_EXIT_OK : rc;
    }
    s->keys.free_value = keys_entry_free;
    s->buckets.free_value = free;
    s->crypto = iotsec_crypto_openssl();
    if (s->crypto == NULL) {
        free(s);
        return bk_error(BK_EXIT_IO, "this build has no OpenSSL backend");
    }
    signal(SIGPIPE, SIG_IGN);
    if (conn_index < 0)
        conn_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, conn_free);
    rc = bk_db_open(&s->db, s->cfg.db_path, s->cfg.window, s->cfg.sync_normal, err, sizeof err);
    if (rc != IOTSEC_OK) {
        bk_error(0, "--db: %s", err);
        rc = rc == IOTSEC_E_IO ? BK_EXIT_IO : BK_EXIT_REJECTED;
        goto out;
    }
    rc = tls_setup(s);
    if (rc == BK_EXIT_OK) {
        s->base = event_base_new();
        rc = s->base ? BK_EXIT_OK : bk_error(BK_EXIT_IO, "event_base_new failed");
    }
    if (rc == BK_EXIT_OK)
        rc = events_setup(s);
    if (rc == BK_EXIT_OK)
        rc = fd_budget(s);
    if (rc == BK_EXIT_OK)
        rc = listen_setup(s);
    if (rc == BK_EXIT_OK && s->cfg.pid_file != NULL) {
        FILE *f = fopen(s->cfg.pid_file, "w");
        wrote_pid = f != NULL;
        if (f == NULL || fprintf(f, "%ld\n", (long)getpid()) < 0 || fclose(f) != 0)
            rc = bk_error(BK_EXIT_IO, "--pid-file %s: %s", s->cfg.pid_file, strerror(errno));
    }
    if (rc == BK_EXIT_OK) {
        audit(s, NULL, NULL, "start", "listening on %s", s->bound_addr);
        if (event_base_dispatch(s->base) < 0)
            rc = bk_error(BK_EXIT_IO, "event loop failed");
        else
        {
            gates_flush(s);
            audit(s, NULL, NULL, "stop", "%s", s->draining ? "drained" : "loop ended");
        }
    }
    if (wrote_pid)
        unlink(s->cfg.pid_file);
out:
    server_free(s);
    free(s);
    return rc;
}
