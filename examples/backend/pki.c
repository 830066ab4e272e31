/*
 * iotsec-backend serve — certificate chains (docs/DESIGN.md §7.1, §10; server.h): the device
 * certificates may chain to --ca through intermediates, sent by the devices or given as an
 * untrusted bundle (--intermediates, whose CAs' CRLs may then be given with --crl), at most
 * --max-depth certificates below --ca; a chain level whose issuer has no CRL is allowed or
 * refused (--crl-policy). Every decision is the library's (iotsec_tls_server_setup,
 * iotsec_revocation_load / _reload); this file only carries the options there.
 */
#include "server.h"

#include <string.h>

int pki_serve_option(struct config *c, const char *o, const char *val, int *rc)
{
    uint64_t v = 0;

    *rc = BK_EXIT_OK;
    if (strcmp(o, "--intermediates") == 0) {
        c->intermediates_path = val;
    } else if (strcmp(o, "--max-depth") == 0) {
        if (iotsec_parse_u64_dec(val, strlen(val), IOTSEC_CHAIN_MAX, &v) != IOTSEC_OK || v == 0)
            *rc = bk_error(BK_EXIT_USAGE, "--max-depth: 1 to %u, got '%s'", IOTSEC_CHAIN_MAX,
                           val);
        c->max_depth = (unsigned)v;
    } else if (strcmp(o, "--crl-policy") == 0) {
        if (strcmp(val, "allow") == 0)
            c->crl_policy = IOTSEC_CRL_ALLOW_MISSING;
        else if (strcmp(val, "require") == 0)
            c->crl_policy = IOTSEC_CRL_REQUIRE;
        else
            *rc = bk_error(BK_EXIT_USAGE, "--crl-policy: allow or require");
    } else {
        return 0;
    }
    return 1;
}

int pki_setup(struct server *s)
{
    int rc;

    if (s->cfg.intermediates_path == NULL)
        return BK_EXIT_OK;
    rc = iotsec_x509_certs_load_file(s->cfg.intermediates_path, s->bundle, PKI_BUNDLE_MAX,
                                     &s->n_bundle);
    if (rc != IOTSEC_OK)
        return bk_error(rc == IOTSEC_E_IO ? BK_EXIT_IO : BK_EXIT_REJECTED,
                        "--intermediates %s: %s", s->cfg.intermediates_path,
                        iotsec_strerror(rc));
    return BK_EXIT_OK;
}

void pki_tls_policy(struct server *s, iotsec_tls_policy *p)
{
    p->chain.max_depth = s->cfg.max_depth;
    p->chain.intermediates = s->n_bundle > 0 ? s->bundle : NULL;
    p->chain.intermediate_count = s->n_bundle;
}

void pki_revocation_config(struct server *s, iotsec_revocation_config *rc)
{
    rc->intermediates = s->n_bundle > 0 ? s->bundle : NULL;
    rc->intermediate_count = s->n_bundle;
    rc->crl_policy = s->cfg.crl_policy;
}

void pki_free(struct server *s)
{
    size_t i;

    for (i = 0; i < s->n_bundle; i++)
        X509_free(s->bundle[i]);
    s->n_bundle = 0;
}
