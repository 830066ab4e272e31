/*
 * iotsec-backend serve — connection budgets (budget.c; docs/DESIGN.md §10.4, issue 19 item 1)
 * and the persistence of CRL floors (crlfloor.c; §7.4, issue 19 item 3).
 *
 * Budgets: connections that have not completed the TLS handshake ("pending") live in their
 * own pool (--max-pending) with their own deadline (--handshake-timeout), apart from the
 * authenticated connections (--max-conns), so a flood of TCP connections or half-open
 * handshakes can never take the slots of devices. Each device identity may hold at most
 * --max-conns-per-device authenticated connections, each peer address at most
 * --max-conns-per-peer connections. When a pool is full the connection most likely to be
 * an attacker's is closed to make room — never, while it has a choice, the newcomer:
 *
 *   pending pool full      the oldest pending connection of the address that holds the
 *                          most pending connections;
 *   per-peer limit         the oldest pending connection of that address (refused only
 *                          when all of the address's connections are authenticated);
 *   per-device limit       the device's connection idle the longest (the newcomer refused
 *                          only when all of the device's connections are busy);
 *   authenticated pool     the connection idle the longest, any device (the newcomer
 *                          refused only when none is idle).
 *
 * Every refusal and every connection closed to make room is audited as conn_limit
 * (rate-limited as every rejection is: --audit-rate), the detail naming the limit.
 */
#ifndef IOTSEC_BACKEND_BUDGET_H
#define IOTSEC_BACKEND_BUDGET_H

#include <stdint.h>

struct conn;
struct server;

/* A connection's place in the budgets (struct conn's member budget). */
struct conn_budget {
    uint64_t admitted;  /* admission order: lower is older (0: not admitted yet) */
    uint64_t idle_mark; /* order in which it last became idle (handshake done, answer sent) */
    double idle_at;     /* monotonic seconds at that moment, for the audit detail */
};

/* ---- budget.c --------------------------------------------------------------------------- */

/* A new connection, its peer address known (conn_admit): the per-peer limit and the pending
 * pool, making room by closing older pending connections when a limit is reached. Returns
 * 1 when c may proceed to its handshake, 0 when it is refused (c->fail_event and
 * c->fail_detail set: the caller closes it, conn_free audits it). */
int budget_admit(struct conn *c);
/* c completed its handshake (identity known): the per-device limit and the authenticated
 * pool, closing idle connections (the device's own first) to make room. Returns 1 when c is
 * served; 0 when it was refused (audited and closed here). */
int budget_authenticated(struct conn *c);
/* c became idle (its answer is sent, it waits for the next request). */
void budget_idle(struct conn *c);
/* The listening socket fd (bound by evhttp with libevent's accept queue of 128): a queue of
 * --max-conns + --max-pending connections (at least 128; the kernel caps it at
 * net.core.somaxconn). A queued connection costs the kernel a socket, no descriptor, and is
 * judged by the budgets once accepted; a queue too short under a burst drops SYNs
 * instead, the device's among them, and a device whose SYN is dropped retries only after a
 * second. */
void budget_listener(struct server *s, int fd);
/* Room for --max-conns + --max-pending connections: raises the soft descriptor limit as far
 * as the hard limit allows; if that is not enough, lowers --max-pending and --max-conns to
 * fit (one message on stderr). Returns a BK_EXIT_* code. */
int budget_fds(struct server *s);

/* ---- crlfloor.c ------------------------------------------------------------------------- */

/* Before serving: raise the revocation holder's CRL floors to those stored in the database
 * and store the floors of the set just loaded. A CRL on disk older than a stored floor (the
 * files went backwards while the server was down) fails closed: audit crl_rollback, a
 * message naming the issuer and both numbers, and BK_EXIT_REJECTED. */
int crl_floors_restore(struct server *s);
/* After a reload that succeeded: store the holder's floors (only those that rose). */
void crl_floors_save(struct server *s, const char *why);
/* A reload refused with IOTSEC_E_ROLLBACK: audit crl_rollback with the library's reason
 * (issuer, both numbers) and the file; the current set stays in force. */
void crl_rollback_refused(struct server *s, const char *why, const char *path);

#endif
