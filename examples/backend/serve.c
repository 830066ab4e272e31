/*
 * iotsec-backend serve — the subcommand (docs/DESIGN.md §10; the server's design is described
 * in server.h): options, the setup order (database, TLS, event base, signals and timers,
 * descriptor budget, listener, pid file), the event loop, SIGTERM / SIGINT draining, and
 * teardown.
 */
#include "est_server.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* SIGTERM / SIGINT: stop accepting, let requests in progress finish (answered with
 * Connection: close, at most --drain-timeout seconds), then leave the loop. (SIGHUP is
 * reload.c's hup_cb.) */
static void stop_cb(evutil_socket_t sig, short what, void *arg)
{
    struct server *s = arg;
    struct timeval tv = {0, 100000};

    (void)what;
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

/* ---- setup and teardown ------------------------------------------------------------------ */

static int events_setup(struct server *s)
{
    struct timeval one = {1, 0};

    s->ev_hup = evsignal_new(s->base, SIGHUP, hup_cb, s);
    s->ev_term = evsignal_new(s->base, SIGTERM, stop_cb, s);
    s->ev_int = evsignal_new(s->base, SIGINT, stop_cb, s);
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
    batch_free(s);
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
    pki_free(s);
    est_free(s);
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
          "         [--sync normal|full] [--audit-rate 20] [--handshake-timeout 5]\n"
          "         [--max-pending 256] [--max-conns-per-device 4] [--intermediates FILE]\n"
          "         [--max-depth 2] [--crl-policy allow|require] [--est-ca-dir DIR]\n"
          "         [--est-days 365] [--workers N|auto]\n"
          "Serves the device API over HTTPS/1.1 with mutual TLS only (TLS 1.2+, a client\n"
          "certificate of the device CA required; plain HTTP is never served): GET /v1/auth,\n"
          "POST /v1/telemetry, GET /v1/firmware/manifest?class=C and\n"
          "GET /v1/firmware/payload/<digest>. Runs in the foreground.\n"
          "\n"
          "required:\n"
          "  --db DB                 the database: an SQLite file (created mode 0600), or a\n"
          "                          PostgreSQL database named by a postgresql:// URI\n"
          "  --ca DEVICE-CA.pem      the trust anchor (a root or a pinned intermediate):\n"
          "                          client certificates must chain to it\n"
          "  --cert SERVER.pem       the server certificate and its chain (PEM)\n"
          "  --key SERVER.key        the server certificate's private key (PEM)\n"
          "options:\n"
          "  --listen HOST:PORT      where to listen (127.0.0.1:8443); HOST:0 picks a free\n"
          "                          port; the actual address is printed on stdout as\n"
          "                          'listening on HOST:PORT'\n"
          "  --crl CRL.pem           a CRL (PEM or DER) of the device CA or of a CA of its\n"
          "                          chain; repeat for up to 8\n"
          "  --crl-grace SECONDS     how long a CRL stays usable past its nextUpdate (0)\n",
          f);
    fputs("  --intermediates FILE    untrusted intermediate CAs (PEM) to build device chains\n"
          "                          from besides those the devices send; their CRLs may\n"
          "                          then be given with --crl\n"
          "  --max-depth N           most certificates below --ca in a device's chain, its\n"
          "                          own included, 1-8 (2: root -> issuing CA -> device)\n"
          "  --crl-policy P          a chain level whose issuer has no --crl: allow (the\n"
          "                          default) or require (refused)\n"
          "  --est-ca-dir DIR        offer enrollment (EST: /.well-known/est/cacerts,\n"
          "                          simpleenroll with a bootstrap token, simplereenroll over\n"
          "                          mTLS), issuing with the iotsec ca directory DIR; clients\n"
          "                          may then connect without a certificate, to enroll only\n"
          "  --est-days N            validity of enrolled certificates, 1-3650 days (365)\n"
          "  --denylist FILE         refused certificates, one a line: sha256:<64 hex> (the\n"
          "                          certificate's fingerprint) or id:<device id>\n"
          "  --identity SOURCE       where the device id is read: cn (the default), san-uri\n"
          "                          (spiffe://<trust-domain>/device/<id>) or san-dns\n"
          "  --trust-domain D        with --identity san-uri: the trust domain required\n"
          "  --replay-window N       replay window of frames v1: how far below the highest\n"
          "                          counter seen a new counter is still accepted, 0-1024\n"
          "                          (64)\n"
          "  --max-body BYTES        largest request body, 1-131072 (71680)\n"
          "  --read-timeout SECONDS  each request, from its first byte to its end, 1-3600\n"
          "                          (10)\n"
          "  --handshake-timeout SECONDS\n"
          "                          a new connection, from its accept to the end of its\n"
          "                          TLS handshake, 1-3600 (5)\n"
          "  --idle-timeout SECONDS  an idle keep-alive connection, 1-86400 (60)\n",
          f);
    fputs("  --drain-timeout SECONDS after SIGTERM or SIGINT, the time left to requests in\n"
          "                          progress, 0-3600 (5)\n"
          "  --rate N                telemetry frames per second per device; 0 = no limit\n"
          "                          (50)\n"
          "  --burst N               the size of that token bucket, at least 1 (100)\n"
          "  --max-conns N           authenticated connections (handshake complete) in\n"
          "                          total (1024); when full, the connection idle the\n"
          "                          longest is closed for a new one\n"
          "  --max-pending N         connections whose TLS handshake is not complete, a\n"
          "                          pool apart (256); when full, the oldest of the address\n"
          "                          with the most is closed for a new one\n"
          "  --max-conns-per-device N\n"
          "                          authenticated connections of one device identity (4);\n"
          "                          over it, the device's connection idle the longest is\n"
          "                          closed for the new one (refused if none is idle)\n"
          "  --max-conns-per-peer N  connections per peer address (128); over it, the\n"
          "                          address's oldest pending handshake is closed (the new\n"
          "                          connection refused if all are authenticated)\n"
          "  --audit-rate N          audit rows of rejections per second per device, and for\n"
          "                          all peers without a verified identity together (burst\n"
          "                          10 s worth; the rest counted in audit_suppressed rows);\n"
          "                          0 = no limit (20)\n"
          "  --sync MODE             durability of a commit: full (the default: an\n"
          "                          acknowledged frame survives a power cut; PostgreSQL:\n"
          "                          synchronous_commit on) or normal (SQLite\n"
          "                          synchronous=NORMAL; PostgreSQL synchronous_commit off)\n"
          "  --workers N|auto        serve with N processes (1-256; auto: one per core) on\n"
          "                          one port (SO_REUSEPORT), each with its own event loop\n"
          "                          and database connection; a worker that dies is\n"
          "                          started again; signals go to every worker (1)\n"
          "  --log-json              also print every audit row as a JSON line on stderr\n"
          "  --pid-file FILE         write the process id to FILE (removed at exit; with\n"
          "                          --workers, the parent's)\n"
          "  -h, --help              print this help and exit\n"
          "\n"
          "Frames that arrive together are committed in one transaction (group commit);\n"
          "each 200 is sent after its commit, a failed commit answers 503 to every frame\n"
          "of the batch.\n"
          "SIGHUP or a change of a --crl or --denylist file reloads revocation (open\n"
          "connections of newly revoked devices are closed); SIGTERM or SIGINT stops\n"
          "accepting, lets requests in progress finish and exits 0.\n"
          "Exit status: 0 stopped by SIGTERM or SIGINT; 1 the database or a revocation file\n"
          "refused (another schema version, a CRL that does not verify or is stale, a CRL\n"
          "older than the newest the database remembers for its issuer); 2 usage; 3 I/O (a\n"
          "file, the listening socket, the TLS setup).\n",
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
    c->workers = 1;
    c->rate = 50;
    c->burst = 100;
    c->max_conns = 1024;
    c->max_conns_per_peer = 128;
    c->handshake_timeout = 5;    /* budget.c */
    c->max_pending = 256;        /* budget.c */
    c->max_conns_per_device = 4; /* budget.c */
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
        } else if (strcmp(o, "--handshake-timeout") == 0) { /* budget.c */
            if ((rc = opt_u64(o, val, 3600, &v)) == 0)
                c->handshake_timeout = (unsigned)v;
        } else if (strcmp(o, "--max-pending") == 0) { /* budget.c */
            if ((rc = opt_u64(o, val, 1000000, &v)) == 0)
                c->max_pending = (unsigned)v;
        } else if (strcmp(o, "--max-conns-per-device") == 0) { /* budget.c */
            if ((rc = opt_u64(o, val, 1000000, &v)) == 0)
                c->max_conns_per_device = (unsigned)v;
        } else if (strcmp(o, "--audit-rate") == 0) {
            if ((rc = opt_u64(o, val, 1000000, &v)) == 0)
                c->audit_rate = (double)v;
        } else if (pki_serve_option(c, o, val, &rc)) {
            /* pki.c: --intermediates, --max-depth, --crl-policy */
        } else if (est_serve_option(c, o, val, &rc)) {
            /* est.c: --est-ca-dir, --est-days */
        } else if (strcmp(o, "--workers") == 0) { /* workers.c */
            if (val != NULL && strcmp(val, "auto") == 0) {
                long n = sysconf(_SC_NPROCESSORS_ONLN);
                c->workers = n < 1 ? 1u : n > 256 ? 256u : (unsigned)n;
            } else if ((rc = opt_u64(o, val, 256, &v)) == 0) {
                c->workers = (unsigned)v;
                if (v == 0)
                    rc = bk_error(BK_EXIT_USAGE, "--workers: 1-256 or auto");
            }
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
        c->max_conns_per_peer == 0 || c->max_body == 0 || c->handshake_timeout == 0 ||
        c->max_pending == 0 || c->max_conns_per_device == 0)
        return bk_error(BK_EXIT_USAGE, "timeouts, limits and --max-body must be positive");
    if (c->rate > 0 && c->burst < 1)
        return bk_error(BK_EXIT_USAGE, "--burst must be at least 1");
    return BK_EXIT_OK;
}

int bk_cmd_serve(int argc, char **argv)
{
    struct server *s = calloc(1, sizeof *s);
    int rc;

    if (s == NULL)
        return bk_error(BK_EXIT_IO, "out of memory");
    rc = parse_args(&s->cfg, argc, argv);
    if (rc != BK_EXIT_OK) {
        free(s);
        return rc < 0 ? BK_EXIT_OK : rc;
    }
    s->listen_fd = -1;
    s->ready_fd = -1;
    if (s->cfg.workers > 1) {
        rc = workers_main(s);
        free(s);
        return rc;
    }
    rc = serve_run(s);
    free(s);
    return rc;
}

int serve_run(struct server *s)
{
    char err[256];
    int rc, wrote_pid = 0;

    s->keys.free_value = keys_entry_free;
    s->buckets.free_value = free;
    s->crypto = iotsec_crypto_openssl();
    if (s->crypto == NULL)
        return bk_error(BK_EXIT_IO, "this build has no OpenSSL backend");
    signal(SIGPIPE, SIG_IGN);
    if (conn_index < 0)
        conn_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, conn_free);
    rc = bk_db_open(&s->db, s->cfg.db_path, s->cfg.window, s->cfg.sync_normal, err, sizeof err);
    if (rc != IOTSEC_OK) {
        bk_error(0, "--db: %s", err);
        rc = rc == IOTSEC_E_IO ? BK_EXIT_IO : BK_EXIT_REJECTED;
        goto out;
    }
    rc = est_setup(s);
    if (rc == BK_EXIT_OK)
        rc = tls_setup(s);
    if (rc == BK_EXIT_OK)
        rc = crl_floors_restore(s); /* crlfloor.c: CRL floors from the database */
    if (rc == BK_EXIT_OK) {
        s->base = event_base_new();
        rc = s->base != NULL && event_base_priority_init(s->base, BATCH_PRIORITIES) == 0
                 ? BK_EXIT_OK
                 : bk_error(BK_EXIT_IO, "event_base_new failed");
    }
    if (rc == BK_EXIT_OK)
        rc = events_setup(s);
    if (rc == BK_EXIT_OK)
        rc = batch_setup(s);
    if (rc == BK_EXIT_OK)
        rc = budget_fds(s); /* budget.c */
    if (rc == BK_EXIT_OK)
        rc = listen_setup(s);
    if (rc == BK_EXIT_OK && s->cfg.pid_file != NULL && s->listen_fd < 0) { /* not a worker */
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
            audit(s, NULL, NULL, "stop", "%s; %lu frames acknowledged in %lu commits",
                  s->draining ? "drained" : "loop ended", s->batch_frames, s->batch_commits);
        }
    }
    if (wrote_pid)
        unlink(s->cfg.pid_file);
out:
    server_free(s);
    return rc;
}
