/*
 * iotsec-backend serve — revocation reload (docs/DESIGN.md §7, §10; server.h). SIGHUP and a
 * change of a CRL or the denylist (their stat(2) stamps, polled every second) reload the
 * revocation set with iotsec_revocation_reload, which also reports the open connections it
 * revokes; those are closed. A reload that fails keeps the previous set in force; one whose
 * CRL is older than the one in force is refused (crl_rollback) and the newest CRL of each
 * issuer is kept in the database (crlfloor.c).
 */
#include "server.h"

#include <stdlib.h>
#include <string.h>

void revocation_config(struct server *s, iotsec_revocation_config *rc)
{
    memset(rc, 0, sizeof *rc);
    rc->ca = s->ca;
    rc->crl_paths = s->cfg.crl_paths;
    rc->crl_count = s->cfg.crl_count;
    rc->denylist_path = s->cfg.denylist_path;
    rc->grace_seconds = s->cfg.crl_grace;
    pki_revocation_config(s, rc);
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
    if (rc == IOTSEC_E_ROLLBACK) { /* crlfloor.c: an older CRL, refused and audited */
        crl_rollback_refused(s, why, err.path);
        goto out;
    }
    if (rc != IOTSEC_OK) {
        char reason[IOTSEC_REVOCATION_DETAIL_MAX] = "";
        size_t rl = 0;
        /* the library's reason names the check (a CRL's issuer, its dates, a rollback) */
        if (iotsec_revocation_holder_last_refusal(s->holder, reason, sizeof reason, &rl) !=
            IOTSEC_OK)
            reason[0] = '\0';
        audit(s, NULL, NULL, "reload_failed",
              "%s: %s (%s, line %zu): %s%s%s; the previous revocation set stays in force", why,
              bk_error_code(rc, code, sizeof code), err.path ? err.path : "-", err.line,
              rl > 0 ? reason : "", rl > 0 ? ": " : "", iotsec_strerror(rc));
        goto out;
    }
    {
        iotsec_revocation *rs = iotsec_revocation_holder_get(s->holder);
        audit(s, NULL, NULL, "reload", "%s: %zu revoked serials, %zu denylist entries, %zu "
              "open connections revoked", why, iotsec_revocation_serial_count(rs),
              iotsec_revocation_denylist_count(rs), nrev);
        iotsec_revocation_unref(rs);
    }
    crl_floors_save(s, why); /* crlfloor.c: a restart remembers the newest CRL */
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

int stamps_changed(struct server *s)
{
    int changed = 0;
    size_t i;

    for (i = 0; i < s->cfg.crl_count; i++)
        changed |= stamp_changed(&s->crl_stamp[i], s->cfg.crl_paths[i]);
    if (s->cfg.denylist_path != NULL)
        changed |= stamp_changed(&s->deny_stamp, s->cfg.denylist_path);
    return changed;
}

void poll_cb(evutil_socket_t fd, short what, void *arg)
{
    struct server *s = arg;

    (void)fd;
    (void)what;
    if (stamps_changed(s))
        reload_revocation(s, "revocation files changed");
    gates_flush(s);
}

void hup_cb(evutil_socket_t sig, short what, void *arg)
{
    struct server *s = arg;

    (void)sig;
    (void)what;
    (void)stamps_changed(s);
    reload_revocation(s, "SIGHUP");
}
