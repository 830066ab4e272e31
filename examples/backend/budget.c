/*
 * iotsec-backend serve — connection budgets (budget.h; docs/DESIGN.md §10.4).
 *
 * Two pools: connections that have not completed their TLS handshake (pending, at most
 * --max-pending, each closed after --handshake-timeout) and authenticated ones (at most
 * --max-conns, at most --max-conns-per-device per device identity). The address limit
 * (--max-conns-per-peer) counts both. A limit reached makes room rather than refuse the
 * newcomer, by closing the connection an attacker most likely holds:
 *
 * - pending pool full: the oldest pending connection of the address with the most pending
 *   connections. A flood from a few addresses loses its own oldest handshakes; a device
 *   behind its own address, one handshake in progress, is closed only if every other
 *   address has no more pending connections than it has and its handshake is the oldest —
 *   the attacker must open --max-pending connections from as many addresses during one
 *   handshake of the device.
 * - per-peer limit: the oldest pending connection of that address (a device behind a NAT
 *   shared with an attacker is not refused while the attacker's handshakes are pending);
 *   only when all of the address's connections are authenticated is the newcomer refused.
 * - per-device limit: the device's connection idle the longest. A device that lost its
 *   network and reconnects (its old connections still open on the server until their idle
 *   timeout) is served at once instead of being locked out for --idle-timeout; a stolen
 *   certificate holds at most --max-conns-per-device connections whatever it does, and can
 *   only displace connections of its own identity, which it can impersonate anyway. The
 *   newcomer is refused only when all of the device's connections are busy.
 * - authenticated pool full: the connection idle the longest, any device; the newcomer is
 *   refused only when every authenticated connection is busy.
 *
 * Counts are taken by walking the list of open connections (at most --max-conns +
 * --max-pending, a few thousand pointer hops per new connection); connections being closed
 * do not count. Every refusal and every connection closed for room is an audit row
 * conn_limit, rate-limited per source (--audit-rate).
 */
#include "server.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

static uint64_t budget_seq; /* admission and idle order (one server per process) */

static double mono_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int same_addr(const struct conn *a, const struct conn *b)
{
    return a->addr[0] != '\0' && strcmp(a->addr, b->addr) == 0;
}

static int same_device(const struct conn *a, const struct conn *b)
{
    return a->have_identity && b->have_identity && a->id.device_id_len == b->id.device_id_len &&
           memcmp(a->id.device_id, b->id.device_id, a->id.device_id_len) == 0;
}

/* Close pending connection v to make room; conn_free writes its audit row (conn_limit). */
static void evict_pending(struct conn *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void evict_pending(struct conn *v, const char *fmt, ...)
{
    va_list ap;

    v->fail_event = "conn_limit";
    va_start(ap, fmt);
    vsnprintf(v->fail_detail, sizeof v->fail_detail, fmt, ap);
    va_end(ap);
    evtimer_del(v->deadline);
    conn_close(v);
}

/* ---- pending connections -------------------------------------------------------------------- */

static int by_addr_then_age(const void *pa, const void *pb)
{
    const struct conn *a = *(struct conn *const *)pa, *b = *(struct conn *const *)pb;
    int d = strcmp(a->addr, b->addr);

    if (d != 0)
        return d;
    return a->budget.admitted < b->budget.admitted ? -1 : a->budget.admitted > b->budget.admitted;
}

/* The pending connection to close when the pool is full (c, the newcomer, excluded): the
 * oldest of the address with the most pending connections (of two such addresses, the one
 * whose oldest is older). *from gets that address's count. */
static struct conn *pending_victim(struct server *s, const struct conn *c, size_t *from)
{
    struct conn *o, **v, *best = NULL, *oldest = NULL;
    size_t n = 0, i, run, best_run = 0;

    *from = 0;
    for (o = s->conns; o != NULL; o = o->next)
        n += o != c && o->admitted && !o->closing && o->state == CONN_HANDSHAKE;
    if (n == 0)
        return NULL;
    v = malloc(n * sizeof *v);
    if (v == NULL) {
        /* out of memory: the oldest pending connection, whatever its address */
        for (o = s->conns; o != NULL; o = o->next)
            if (o != c && o->admitted && !o->closing && o->state == CONN_HANDSHAKE &&
                (oldest == NULL || o->budget.admitted < oldest->budget.admitted))
                oldest = o;
        *from = 1;
        return oldest;
    }
    i = 0;
    for (o = s->conns; o != NULL && i < n; o = o->next)
        if (o != c && o->admitted && !o->closing && o->state == CONN_HANDSHAKE)
            v[i++] = o;
    qsort(v, n, sizeof *v, by_addr_then_age);
    for (i = 0; i < n; i += run) {
        for (run = 1; i + run < n && strcmp(v[i + run]->addr, v[i]->addr) == 0; run++)
            ;
        if (run > best_run ||
            (run == best_run && v[i]->budget.admitted < best->budget.admitted)) {
            best = v[i];
            best_run = run;
        }
    }
    free(v);
    *from = best_run;
    return best;
}

int budget_admit(struct conn *c)
{
    struct server *s = c->srv;
    struct conn *o, *oldest_here = NULL, *v;
    unsigned same = 0, pending = 0;
    size_t from;

    c->budget.admitted = ++budget_seq;
    for (o = s->conns; o != NULL; o = o->next) {
        if (o == c || !o->admitted || o->closing)
            continue;
        if (same_addr(o, c)) {
            same++;
            if (o->state == CONN_HANDSHAKE &&
                (oldest_here == NULL || o->budget.admitted < oldest_here->budget.admitted))
                oldest_here = o;
        }
        pending += o->state == CONN_HANDSHAKE;
    }
    if (same >= s->cfg.max_conns_per_peer) {
        if (oldest_here == NULL) {
            c->fail_event = "conn_limit";
            snprintf(c->fail_detail, sizeof c->fail_detail,
                     "refused: %u connections from this address, all authenticated "
                     "(--max-conns-per-peer %u)",
                     same, s->cfg.max_conns_per_peer);
            return 0;
        }
        evict_pending(oldest_here,
                      "closed for a newer connection of the same address: %u connections "
                      "from it (--max-conns-per-peer %u), this the oldest handshake",
                      same + 1u, s->cfg.max_conns_per_peer);
        pending--;
    }
    if (pending >= s->cfg.max_pending) {
        v = pending_victim(s, c, &from);
        if (v == NULL) { /* cannot happen: pending > 0 */
            c->fail_event = "conn_limit";
            snprintf(c->fail_detail, sizeof c->fail_detail,
                     "refused: %u handshakes in progress (--max-pending %u)", pending,
                     s->cfg.max_pending);
            return 0;
        }
        evict_pending(v,
                      "closed for a newer connection: %u handshakes in progress "
                      "(--max-pending %u), this the oldest of the address with the most "
                      "(%zu)",
                      pending + 1u, s->cfg.max_pending, from);
    }
    return 1;
}

/* ---- authenticated connections ------------------------------------------------------------ */

/* The connection idle the longest (c excluded), of c's device when mine. */
static struct conn *oldest_idle(struct server *s, const struct conn *c, int mine)
{
    struct conn *o, *best = NULL;

    for (o = s->conns; o != NULL; o = o->next)
        if (o != c && !o->closing && o->state == CONN_IDLE && (!mine || same_device(o, c)) &&
            (best == NULL || o->budget.idle_mark < best->budget.idle_mark))
            best = o;
    return best;
}

/* Close idle authenticated connection v to make room, with its audit row. */
static void evict_idle(struct server *s, struct conn *v, const char *why)
{
    audit(s, v->peer, conn_identity(v), "conn_limit",
          "closed after %.0f s idle, the longest: %s", mono_seconds() - v->budget.idle_at, why);
    conn_close(v);
}

static void refuse_authenticated(struct server *s, struct conn *c, const char *why)
{
    audit(s, c->peer, conn_identity(c), "conn_limit", "refused after the handshake: %s", why);
    conn_close(c);
}

int budget_authenticated(struct conn *c)
{
    struct server *s = c->srv;
    struct conn *o, *v;
    unsigned auth = 0, mine = 0;
    char why[160];

    for (o = s->conns; o != NULL; o = o->next) {
        if (o == c || o->closing || o->state == CONN_HANDSHAKE)
            continue;
        auth++;
        mine += same_device(o, c) ? 1u : 0u;
    }
    if (mine >= s->cfg.max_conns_per_device) {
        v = oldest_idle(s, c, 1);
        snprintf(why, sizeof why,
                 "device %s has %u connections open (--max-conns-per-device %u)%s",
                 c->id.device_id, mine + 1u, s->cfg.max_conns_per_device,
                 v == NULL ? ", none idle" : "");
        if (v == NULL) {
            refuse_authenticated(s, c, why);
            return 0;
        }
        evict_idle(s, v, why);
        auth--;
    }
    if (auth >= s->cfg.max_conns) {
        v = oldest_idle(s, c, 0);
        snprintf(why, sizeof why, "%u authenticated connections open (--max-conns %u)%s",
                 auth + 1u, s->cfg.max_conns, v == NULL ? ", none idle" : "");
        if (v == NULL) {
            refuse_authenticated(s, c, why);
            return 0;
        }
        evict_idle(s, v, why);
    }
    budget_idle(c);
    return 1;
}

void budget_idle(struct conn *c)
{
    c->budget.idle_mark = ++budget_seq;
    c->budget.idle_at = mono_seconds();
}

/* ---- the listener and descriptors -------------------------------------------------------- */

void budget_listener(struct server *s, int fd)
{
    unsigned long want = (unsigned long)s->cfg.max_conns + s->cfg.max_pending;
    int backlog = want < 128u ? 128 : want > 65535u ? 65535 : (int)want;

    /* listen(2) on a listening socket only changes its backlog */
    (void)listen(fd, backlog);
}

int budget_fds(struct server *s)
{
    struct rlimit rl;
    rlim_t need = (rlim_t)s->cfg.max_conns + s->cfg.max_pending + FD_RESERVE, avail;
    unsigned pending;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
        rl.rlim_cur >= need)
        return BK_EXIT_OK;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ? need : rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
        rl.rlim_cur >= need)
        return BK_EXIT_OK;
    if (rl.rlim_cur < FD_RESERVE + 2u)
        return bk_error(BK_EXIT_USAGE, "only %llu file descriptors available; need more than %u",
                        (unsigned long long)rl.rlim_cur, FD_RESERVE + 1u);
    /* a quarter of what is left (at least one) for handshakes, the rest for devices */
    avail = rl.rlim_cur - FD_RESERVE;
    pending = (unsigned)(avail / 4u > 0 ? avail / 4u : 1u);
    if (pending > s->cfg.max_pending)
        pending = s->cfg.max_pending;
    if (avail - pending > s->cfg.max_conns)
        pending = (unsigned)(avail - s->cfg.max_conns);
    s->cfg.max_pending = pending;
    s->cfg.max_conns = (unsigned)(avail - pending);
    bk_error(0, "--max-conns lowered to %u and --max-pending to %u: the file descriptor "
                "limit is %llu",
             s->cfg.max_conns, s->cfg.max_pending, (unsigned long long)rl.rlim_cur);
    return BK_EXIT_OK;
}
