/*
 * iotsec-backend serve — audit rows (server.h). Every rejection writes a row (time, peer
 * address, certificate identity, event, detail; docs/DESIGN.md §10) through the storage
 * interface (bk_db_audit), also printed as one JSON line on stderr with --log-json.
 *
 * The audit rows of rejections coming from one source — a device (its verified identity)
 * or, all together, peers that have none — are limited by a token bucket (--audit-rate),
 * so that a flood of refused connections or requests costs neither a row plus an fsync
 * each nor unbounded disk. Rows over the limit are counted, and the count is written as one
 * audit_suppressed row (poll_cb, every second; and at stop).
 */
#include "server.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

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

void gates_flush(struct server *s)
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
int audit_gated(struct server *s, bk_db *db, const char *peer, const char *identity,
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
int audit_on(struct server *s, bk_db *db, const char *peer, const char *identity,
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
        bk_error(0, "cannot write audit row (%s): %s", event, bk_db_errmsg(s->db));
    return rc;
}

void audit(struct server *s, const char *peer, const char *identity, const char *event,
           const char *fmt, ...)
{
    char detail[BK_DETAIL_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    (void)audit_on(s, NULL, peer, identity, event, detail);
}
