/*
 * iotsec-backend serve — CRL monotonicity across restarts (budget.h; docs/DESIGN.md §7.4,
 * §10.4).
 *
 * The library's revocation holder refuses, for as long as the process lives, a reload whose
 * newest CRL of an issuer is older than the newest it has had in force (a lower cRLNumber,
 * or without numbers an earlier thisUpdate; the same number with other bytes too): its CRL
 * floors. This file keeps those floors in the database (crl_floors, through the storage
 * interface: db_floors.c), so that a restart does not forget them:
 *
 * - at start, before the listener opens, the stored floors are set on the holder. If the
 *   CRL files on disk are older than a stored floor (a CRL put back while the server was
 *   down, a backup restored), the server refuses to start — fail closed: serving would
 *   un-revoke every device revoked since. The message and the crl_rollback audit row name
 *   the issuer and both numbers; the operator puts the newest CRL back.
 * - then, and after every reload that succeeded, the holder's floors are stored (a row
 *   written only when its floor rose: audit crl_floor).
 * - a reload refused because it would go backwards is audited crl_rollback (the issuer,
 *   both numbers, the file); the current set stays in force, its revocations too.
 */
#include "server.h"

#include <string.h>

/* The library's one-line reason of the holder's last rollback refusal. */
static void last_refusal(struct server *s, char *text, size_t cap)
{
    size_t len;

    if (iotsec_revocation_holder_last_refusal(s->holder, text, cap, &len) != IOTSEC_OK ||
        len == 0)
        snprintf(text, cap, "a CRL older than the one in force");
}

/* Store the holder's floors; returns a library code. */
static int floors_store(struct server *s, const char *why)
{
    iotsec_crl_floor floors[IOTSEC_CRL_FLOORS_MAX];
    size_t n = 0;
    unsigned changed = 0;
    int rc;

    rc = iotsec_revocation_holder_crl_floors(s->holder, floors, IOTSEC_CRL_FLOORS_MAX, &n);
    if (rc == IOTSEC_OK && n > 0)
        rc = bk_db_crl_floors_put(s->db, floors, n, bk_now(), &changed);
    if (rc != IOTSEC_OK) {
        char code[48];
        bk_error(0, "cannot store the CRL floors (%s): a restart would not remember them",
                 bk_error_code(rc, code, sizeof code));
        audit(s, NULL, NULL, "crl_floor_failed",
              "%s: cannot store the CRL floors (%s); the server still refuses older CRLs, a "
              "restart would not",
              why, bk_error_code(rc, code, sizeof code));
        return rc;
    }
    if (changed > 0)
        audit(s, NULL, NULL, "crl_floor", "%s: %u CRL floor%s stored (%zu issuer%s)", why,
              changed, changed == 1 ? "" : "s", n, n == 1 ? "" : "s");
    return IOTSEC_OK;
}

int crl_floors_restore(struct server *s)
{
    iotsec_crl_floor stored[IOTSEC_CRL_FLOORS_MAX];
    char why[IOTSEC_REVOCATION_DETAIL_MAX], code[48];
    size_t n = 0, i;
    int rc;

    rc = bk_db_crl_floors(s->db, stored, IOTSEC_CRL_FLOORS_MAX, &n);
    if (rc != IOTSEC_OK)
        return bk_error(rc == IOTSEC_E_IO ? BK_EXIT_IO : BK_EXIT_REJECTED,
                        "--db: cannot read the CRL floors (crl_floors): %s",
                        bk_error_code(rc, code, sizeof code));
    for (i = 0; i < n; i++) {
        rc = iotsec_revocation_holder_set_crl_floor(s->holder, &stored[i]);
        if (rc == IOTSEC_E_ROLLBACK) {
            last_refusal(s, why, sizeof why);
            audit(s, NULL, NULL, "crl_rollback",
                  "at start: %s; not serving (the database remembers the newer one)", why);
            return bk_error(BK_EXIT_REJECTED,
                            "CRL rollback: %s. The database (list crl-floors) remembers a "
                            "newer CRL of this issuer than the --crl files hold, so serving "
                            "would un-revoke certificates; put the newest CRL back. Not "
                            "starting.",
                            why);
        }
        if (rc != IOTSEC_OK)
            return bk_error(BK_EXIT_REJECTED, "--db: CRL floor %zu of the database refused: %s",
                            i + 1, bk_error_code(rc, code, sizeof code));
    }
    rc = floors_store(s, "start");
    return rc == IOTSEC_OK ? BK_EXIT_OK : rc == IOTSEC_E_IO ? BK_EXIT_IO : BK_EXIT_REJECTED;
}

void crl_floors_save(struct server *s, const char *why)
{
    (void)floors_store(s, why);
}

void crl_rollback_refused(struct server *s, const char *why, const char *path)
{
    char text[IOTSEC_REVOCATION_DETAIL_MAX];

    last_refusal(s, text, sizeof text);
    audit(s, NULL, NULL, "crl_rollback", "%s: %s (%s); the CRL in force stays", why, text,
          path != NULL ? path : "-");
}
