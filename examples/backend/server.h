/*
 * iotsec-backend serve — the mTLS HTTPS/1.1 server (docs/DESIGN.md §10): its shared state and the
 * declarations its files share (not part of any public interface).
 *
 * libevent evhttp over bufferevent_openssl, one process, one thread, non-blocking. The TLS
 * context is configured by the library (iotsec_tls_server_setup: TLS 1.2+, client
 * certificate required, device CA only, identity and revocation checked in the handshake,
 * no session resumption); the backend adds connection budgets (budget.c: a pool apart for
 * connections whose handshake is not complete, limits per device and per peer, applied
 * right after the accept — conn_admit — and when the handshake completes) and bookkeeping
 * of open connections with their identities (SSL ex_data; its free callback is the
 * "connection closed" event).
 *
 * A telemetry request goes: size limit → rate limit (token bucket per TLS identity) →
 * device registered and enabled → peek (untrusted, to pick the keys) → frame device id =
 * certificate identity → open (tag, then decrypt) → in one SQLite transaction: replay
 * check-and-commit, telemetry row, audit row → commit → 200. Every rejection is answered
 * {"error":"<code>","detail":"…"} and writes an audit row (db.c), also printed as a JSON
 * line on stderr with --log-json.
 *
 * Timers: a connection has one deadline — the handshake gets --handshake-timeout (5 s) from
 * the accept, each request (from its first byte to the complete request) --read-timeout
 * (10 s), an idle keep-alive connection --idle-timeout (60 s). Connections are closed by shutdown(2) on their socket: evhttp then
 * sees end of file and frees them through its own path.
 *
 * Operations: SIGHUP and a change of a CRL or the denylist (polled every second) reload the
 * revocation set with iotsec_revocation_reload, which also reports the open connections it
 * revokes; those are closed. SIGTERM / SIGINT stop accepting, let requests in progress
 * finish (answered with Connection: close, at most --drain-timeout seconds), then exit 0.
 * Every SQLite transaction is synchronous inside a handler, so none is ever cut short.
 *
 * Files (one per seam):
 *   serve.c      the serve subcommand: options, setup order, signals, drain, teardown
 *   conn.c       connections: accept, limits, deadlines, close, the listener
 *   tls.c        TLS: the server context, the handshake callbacks, verdicts
 *   framing.c    the HTTP/1.1 framing gate: request heads checked before evhttp reads them
 *   http.c       answers (JSON errors), authorization, dispatch, GET /v1/auth
 *   telemetry.c  POST /v1/telemetry: rate limit, frame keys, open, store
 *   firmware.c   GET /v1/firmware/manifest and /v1/firmware/payload/<digest>
 *   reload.c     revocation reload: CRL/denylist watcher, SIGHUP
 *   budget.c     connection budgets: pending pool, per-device and per-peer limits
 *   crlfloor.c   CRL floors kept in the database: restored at start, stored on reload
 *   pki.c        chains: --intermediates, --max-depth, --crl-policy
 *   est.c        enrollment (EST, /.well-known/est/...); db_est.c its tables
 *   audit.c      audit rows, rate-limited per source (--audit-rate)
 *   map.c        the per-device hash table and token buckets
 *   db.c, db_admin.c, db_floors.c  storage (every SQLite call; backend.h declares it)
 */
#ifndef IOTSEC_BACKEND_SERVER_H
#define IOTSEC_BACKEND_SERVER_H

#include "backend.h"
#include "httpparse.h"
#include "budget.h"

#include <netinet/in.h>
#include <sys/stat.h>
#include <time.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "iotsec/ecowatt.h"
#include "iotsec/frame.h"
#include "iotsec/revocation.h"
#include "iotsec/tls.h"
#include "iotsec/x509.h"

/* ---- configuration ------------------------------------------------------------------------ */

#define MAX_CRLS 8
#define PKI_BUNDLE_MAX 16 /* certificates in --intermediates */
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
    unsigned read_timeout;      /* seconds: one request from its first byte */
    unsigned idle_timeout;      /* seconds: keep-alive between requests */
    unsigned drain_timeout;     /* seconds: SIGTERM grace for requests in progress */
    double rate;                /* frames per second per device; 0 = no limit */
    double burst;               /* bucket size */
    unsigned max_conns;         /* authenticated connections (budget.c) */
    unsigned max_conns_per_peer;
    /* ---- budget.c: connection budgets ---- */
    unsigned handshake_timeout;    /* seconds: accept to completed TLS handshake */
    unsigned max_pending;          /* connections whose handshake is not complete */
    unsigned max_conns_per_device; /* authenticated connections of one identity */
    double audit_rate;          /* rejection rows per second per source; 0 = no limit */
    uint32_t crl_grace;         /* seconds a CRL stays usable past nextUpdate */
    /* chains (pki.c): untrusted intermediates bundle, depth below --ca, CRL policy */
    const char *intermediates_path;
    unsigned max_depth;         /* 0 = the library's default (2) */
    iotsec_crl_policy crl_policy;
    /* enrollment (est.c): the issuing CA directory (NULL: off), certificate days */
    const char *est_ca_dir;
    unsigned est_days;
    unsigned workers;           /* serve --workers: processes (workers.c); 1 = no fork */
};

/* ---- state ---------------------------------------------------------------------------------- */

/* CONN_REFUSING: a request head was refused by the framing gate, which answers it and
 * closes the connection (framing.c) */
enum conn_state { CONN_HANDSHAKE, CONN_IDLE, CONN_REQUEST, CONN_HANDLER, CONN_REFUSING };

/* The framing gate of a connection (framing.c): off (the head is with evhttp, or no head
 * is due), holding a head back from evhttp while it arrives, or a verdict to act on. */
enum gate_state { GATE_OFF, GATE_HOLD, GATE_PASS, GATE_REFUSE };

struct server;
struct est_state;

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
    int anonymous;            /* no client certificate (enrollment on): EST paths only */
    iotsec_peer_identity id;
    int64_t not_after;        /* the client certificate's notAfter, Unix seconds */
    /* why the handshake failed, for its audit row */
    int alert_sent;
    const char *fail_event;
    char fail_detail[BK_DETAIL_MAX];
    /* the framing gate (framing.c) */
    enum gate_state gate;
    struct event *gate_ev;    /* acts on the gate's verdict, outside the read path */
    struct evbuffer *held;    /* the start of a pipelined head, out of evhttp's reach */
    char *head;               /* copy of the head so far (BACKEND_HEAD_MAX bytes) or NULL */
    size_t head_len;
    backend_head hs;          /* the head's check */
    /* evhttp's callbacks, set aside while a refused head is answered */
    bufferevent_data_cb ev_readcb, ev_writecb;
    bufferevent_event_cb ev_eventcb;
    void *ev_cbarg;
    int wr_shut;              /* the write side was shut after the refusal's answer */
    struct conn_budget budget; /* budget.c: place in the connection budgets */
    struct batch_frame *pend; /* telemetry.c: a frame waiting for its batch's commit */
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
    X509 *bundle[PKI_BUNDLE_MAX]; /* --intermediates (pki.c) */
    size_t n_bundle;
    struct est_state *est;        /* enrollment (est.c), or NULL */
    int listen_fd;              /* a worker's own SO_REUSEPORT socket, or −1 (bind --listen) */
    int ready_fd;               /* a worker: written once it listens (workers.c), or −1 */
    /* ---- telemetry.c: group commit ---- */
    struct batch_frame *batch_head, **batch_tail; /* frames of the batch being gathered */
    size_t batch_n;
    struct event *ev_batch;     /* lowest priority: runs once the loop has drained its input */
    struct event *ev_batch_due; /* highest priority: the batch's size or delay bound */
    unsigned long batch_commits, batch_frames; /* batches committed, frames acknowledged */
};

/* The request a handler is answering. */
struct request {
    struct server *s;
    struct conn *c;
    struct evhttp_request *req;
};

extern int conn_index; /* SSL ex_data index of struct conn (conn.c) */
/* The server whose listener reports accept() errors (evhttp owns the listener's callback
 * argument, so the error callback cannot be given one). Set by listen_setup. */
extern struct server *accept_server;

/* ---- map.c: per-device state --------------------------------------------------------------- */

/* Find or add the entry; NULL when out of memory. New entries have value NULL. */
struct map_entry *map_get(struct map *m, const char *id, size_t id_len, int kid);
void map_clear(struct map *m);
/* Refill b (rate per second, at most burst tokens; a new bucket, last == 0, starts full),
 * then take one token if there is one: 1 when taken. */
int bucket_take(struct bucket *b, double rate, double burst);

/* ---- audit.c ------------------------------------------------------------------------------ */

/* Write the count of rows each gate suppressed, if any (every second, and at stop). */
void gates_flush(struct server *s);
/* Write an audit row on db (the server's main connection when NULL) and, with --log-json,
 * print it as one JSON line on stderr. A rejection (a row with a peer, outside a frame's
 * transaction) passes the gate of gate_id (a verified identity, or NULL) first; over the
 * limit it is only counted. */
int audit_gated(struct server *s, bk_db *db, const char *peer, const char *identity,
                const char *gate_id, const char *event, const char *detail);
/* audit_gated for a row whose identity, if any, is verified. */
int audit_on(struct server *s, bk_db *db, const char *peer, const char *identity,
             const char *event, const char *detail);
/* audit_on with a printf-style detail, on the server's main connection. */
void audit(struct server *s, const char *peer, const char *identity, const char *event,
           const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* ---- conn.c: connections -------------------------------------------------------------------- */

/* The connection's certificate identity, or NULL before the handshake told it. */
const char *conn_identity(const struct conn *c);
void conn_set_deadline(struct conn *c, unsigned seconds);
/* Close a connection (evhttp sees end of file and frees it); safe to call twice. */
void conn_close(struct conn *c);
/* Learn the peer address from the connection's socket (once). */
void conn_learn_peer(struct conn *c);
/* Apply the connection limits to a new connection (once); over a limit it is closed. */
void conn_admit(struct conn *c);
/* The SSL's ex_data free callback: the connection is gone. */
void conn_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp);
/* The handler is done with the connection's request: it waits for the next one. */
void conn_request_done(struct conn *c);
/* accept() failed: pause accepting (the listener's error callback). */
void accept_error_cb(struct evconnlistener *lev, void *arg);
void accept_resume_cb(evutil_socket_t fd, short what, void *arg);
/* evhttp on --listen (or a worker's listen_fd), every connection TLS; prints "listening on
 * HOST:PORT" (a worker tells ready_fd instead). */
int listen_setup(struct server *s);
/* Split --listen HOST:PORT ([v6]:PORT); 0 or −1. */
int listen_split(const char *spec, char *host, size_t cap, uint16_t *port);

/* ---- serve.c, workers.c: the server and its workers ------------------------------------ */

/* Run the server of s (configured) until SIGTERM / SIGINT; frees s's contents; the exit
 * status. */
int serve_run(struct server *s);
/* serve --workers N, N > 1: the parent (see workers.c); the exit status. */
int workers_main(struct server *s);

/* ---- framing.c: the HTTP/1.1 framing gate ------------------------------------------------ */

/* Create / free the gate's parts of a connection (conn_new, conn_free); -1 when out of
 * memory. */
int framing_new(struct conn *c, struct event_base *base);
void framing_free(struct conn *c);
/* A request head is due: hold it back from evhttp until it is complete and checked (after
 * the handshake, and after each answer; bytes already buffered are its start). */
void framing_arm(struct conn *c);
/* n_added bytes arrived at the end of the connection's input buffer (conn_input_cb). */
void framing_input(struct conn *c, struct evbuffer *in, size_t n_added);

/* ---- tls.c ---------------------------------------------------------------------------------- */

/* Device CA, initial revocation set, server certificate and key, the library's TLS policy
 * and the backend's handshake callbacks. Returns a BK_EXIT_* code (message printed). */
int tls_setup(struct server *s);

/* ---- http.c: answers, authorization, dispatch ------------------------------------------- */

/* The reason phrase of an HTTP status this backend sends. */
const char *status_reason(int status);
void answer_headers(struct request *q, const char *ctype);
void send_answer(struct request *q, int status, const char *reason, const char *ctype,
                 struct evbuffer *body);
/* Refuse the request: audit row (event = code), JSON error body. */
void reject(struct request *q, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Refuse with a library error: status from bk_http_status, code from its name. */
void reject_rc(struct request *q, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void internal_error(struct request *q, int rc, const char *what);
/* Certificate still valid, device registered and enabled: 1 when the request may proceed;
 * otherwise it was answered. Fills dev (the caller wipes it, on_request). */
int authorize(struct request *q, bk_device *dev);
/* evhttp's handler of every request. */
void on_request(struct evhttp_request *req, void *arg);

/* ---- telemetry.c, firmware.c ------------------------------------------------------------ */

/* The map's value destructor of cached receiver keys (server.keys). */
void keys_entry_free(void *p);
/* The endpoints. dev is the request's device record, owned by on_request (which wipes it
 * on every path): a handler fills it through authorize and never keeps it. */
void handle_telemetry(struct request *q, bk_device *dev);
/* Group commit (docs/DESIGN.md §12): a checked frame joins the current batch and its
 * request stays open (c->pend) until the batch ran in one transaction: 200 only after the
 * commit; a failed commit answers 503 to every frame of the batch and stores none. The
 * batch closes when the event loop has no other work left (an event of the lowest of
 * BATCH_PRIORITIES priorities), after BATCH_MAX frames or BATCH_DELAY_MS. */
#define BATCH_PRIORITIES 3 /* event base priorities: 0 bounds, 1 everything else, 2 batch */
#define BATCH_MAX 128
#define BATCH_DELAY_MS 5
int batch_setup(struct server *s);
/* Forget every frame still waiting (shutdown, after evhttp_free) and free the events. */
void batch_free(struct server *s);
/* The connection is going away: its frame, if any, is not answered. */
void batch_conn_gone(struct conn *c);
void handle_manifest(struct request *q, const char *query, bk_device *dev);
void handle_payload(struct request *q, const char *path, bk_device *dev);

/* ---- pki.c: chains (--intermediates, --max-depth, --crl-policy) ------------------------ */

/* Parse one of pki.c's serve options (o with its value val): 1 when it was one (*rc set to
 * BK_EXIT_OK or the usage error), 0 when o is not one of them. */
int pki_serve_option(struct config *c, const char *o, const char *val, int *rc);
/* Load --intermediates into s->bundle. Returns a BK_EXIT_* code (message printed). */
int pki_setup(struct server *s);
/* The chain part of the TLS policy and of the revocation configuration. */
void pki_tls_policy(struct server *s, iotsec_tls_policy *p);
void pki_revocation_config(struct server *s, iotsec_revocation_config *rc);
void pki_free(struct server *s);

/* ---- reload.c: revocation reload -------------------------------------------------------- */

void revocation_config(struct server *s, iotsec_revocation_config *rc);
/* Take note of the revocation files' current state; 1 if any changed since the last call. */
int stamps_changed(struct server *s);
/* Every second: reload when a revocation file changed; flush the audit gates. */
void poll_cb(evutil_socket_t fd, short what, void *arg);
/* SIGHUP: reload the revocation set. */
void hup_cb(evutil_socket_t sig, short what, void *arg);

#endif
