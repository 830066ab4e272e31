/* iotsec crl check — is a device certificate trusted and not revoked? (docs/DESIGN.md §7, §9)
 * The same checks as the mTLS handshake (tls.h: iotsec_tls_check_chain), on the chain a TLS
 * client would present. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/x509.h>

#include "cli.h"

#define MAX_CRLS 16
#define MAX_CHAIN 16 /* certificates read from CERT.pem or --intermediates */

static const char crl_usage[] =
    "Usage: iotsec crl check --ca CA.pem [--crl CRL.pem]... [--denylist FILE]\n"
    "                        [--intermediates FILE] [--max-depth N] [--crl-policy allow|require]\n"
    "                        [--id-source cn|uri|dns] [--trust-domain TD]\n"
    "                        [--grace SECONDS] [--now UNIX] CERT.pem\n"
    "Check a device certificate as the mTLS server does: its chain leads to the trust anchor\n"
    "(the only trusted certificate) through at most --max-depth certificates, every CA of it\n"
    "has basicConstraints CA:TRUE (and keyCertSign if it has keyUsage), every certificate is\n"
    "within its validity, the device's is usable for TLS client authentication, has a valid\n"
    "device identity, and no certificate of the chain is revoked.\n"
    "  --ca CA.pem          the trust anchor: a root, or a pinned intermediate; PEM or DER\n"
    "                       (required)\n"
    "  CERT.pem             the device certificate, followed by its intermediates as a TLS\n"
    "                       client presents them (PEM; a single certificate may be DER)\n"
    "  --intermediates FILE more intermediates to build the chain from (PEM; untrusted)\n"
    "  --max-depth N        most certificates below the anchor, the device's included, 1-8\n"
    "                       (default 2: root -> issuing CA -> device)\n"
    "  --crl CRL.pem        a CRL, PEM or DER, of the anchor or of an intermediate of the\n"
    "                       chain, signed by it and current: thisUpdate <= now <= nextUpdate +\n"
    "                       --grace; each certificate is looked up in its issuer's CRLs (up to\n"
    "                       16 --crl options; default: none)\n"
    "  --crl-policy allow|require  a level of the chain whose issuer has no --crl: not\n"
    "                       checked (allow, default) or refused (require)\n"
    "  --denylist FILE      neither the certificate's SHA-256 fingerprint nor its device id\n"
    "                       may be listed (lines 'sha256:<64 hex>', 'id:<device id>', '#'\n"
    "                       comments; default: none)\n"
    "  --id-source cn|uri|dns  where the device identity is: cn, the subject CN (default);\n"
    "                       uri, one SAN URI spiffe://TD/device/ID; dns, one SAN dNSName\n"
    "  --trust-domain TD    the SPIFFE trust domain for --id-source uri\n"
    "  --grace SECONDS      how long a CRL stays usable after its nextUpdate (default 0)\n"
    "  --now UNIX           the time of the check (default: the system clock)\n"
    "Any one input (--ca, a --crl, --denylist, --intermediates or CERT.pem) may be '-' for\n"
    "standard input.\n"
    "Exit status: 0 accepted ('ok: device ID sha256:FINGERPRINT ...' on stdout); 1 rejected:\n"
    "stderr names the check that failed and the IOTSEC_E_* code (e.g. 'CA certificate\n"
    "\"CN=X\" keyUsage lacks keyCertSign: IOTSEC_E_UNTRUSTED', 'chain longer than 2 below the\n"
    "trust anchor', 'CRL for intermediate \"CN=X\" expired'); 2 usage; 3 I/O.\n";

static void free_certs(X509 **v, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        X509_free(v[i]);
}

static int crl_check(int argc, char **argv)
{
    static const struct option opts[] = {{"ca", required_argument, NULL, 'c'},
                                         {"crl", required_argument, NULL, 'r'},
                                         {"denylist", required_argument, NULL, 'd'},
                                         {"id-source", required_argument, NULL, 's'},
                                         {"trust-domain", required_argument, NULL, 't'},
                                         {"grace", required_argument, NULL, 'g'},
                                         {"now", required_argument, NULL, 'n'},
                                         {"intermediates", required_argument, NULL, 'i'},
                                         {"max-depth", required_argument, NULL, 'm'},
                                         {"crl-policy", required_argument, NULL, 'p'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *ca_path = NULL, *deny_path = NULL, *cert_path, *crls[MAX_CRLS];
    const char *bundle_path = NULL;
    size_t n_crls = 0, line = 0, i, n_chain = 0, n_bundle = 0;
    uint64_t grace = 0, now_arg = 0, depth = 0;
    int have_now = 0, c, rc;
    iotsec_crl_policy crl_policy = IOTSEC_CRL_ALLOW_MISSING;
    iotsec_tls_policy policy;
    iotsec_tls_verdict v;
    iotsec_revocation *rs = NULL;
    iotsec_revocation_holder *holder = NULL;
    X509 *ca = NULL, *chain[MAX_CHAIN], *bundle[MAX_CHAIN];
    int64_t now;
    char fp_hex[2 * IOTSEC_FINGERPRINT_LEN + 1], why[IOTSEC_REVOCATION_DETAIL_MAX];
    cli_stdio io = {NULL, NULL};

    memset(&policy, 0, sizeof policy);
    policy.identity.source = IOTSEC_ID_CN;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'c': ca_path = optarg; break;
        case 'r':
            if (n_crls == MAX_CRLS)
                return cli_usage_error("crl check", "at most %d --crl options", MAX_CRLS);
            crls[n_crls++] = optarg;
            break;
        case 'd': deny_path = optarg; break;
        case 'i': bundle_path = optarg; break;
        case 's':
            if (strcmp(optarg, "cn") == 0)
                policy.identity.source = IOTSEC_ID_CN;
            else if (strcmp(optarg, "uri") == 0)
                policy.identity.source = IOTSEC_ID_SAN_URI;
            else if (strcmp(optarg, "dns") == 0)
                policy.identity.source = IOTSEC_ID_SAN_DNS;
            else
                return cli_usage_error("crl check", "--id-source: cn, uri or dns, not '%s'",
                                       optarg);
            break;
        case 't': policy.identity.trust_domain = optarg; break;
        case 'g':
            if ((rc = cli_parse_u64("crl check", "--grace", optarg, UINT32_MAX, &grace)) != CLI_OK)
                return rc;
            break;
        case 'n':
            if ((rc = cli_parse_u64("crl check", "--now", optarg, INT64_MAX, &now_arg)) != CLI_OK)
                return rc;
            have_now = 1;
            break;
        case 'm':
            if ((rc = cli_parse_u64("crl check", "--max-depth", optarg, IOTSEC_CHAIN_MAX,
                                    &depth)) != CLI_OK)
                return rc;
            if (depth == 0)
                return cli_usage_error("crl check", "--max-depth: 1 to %u", IOTSEC_CHAIN_MAX);
            break;
        case 'p':
            if (strcmp(optarg, "allow") == 0)
                crl_policy = IOTSEC_CRL_ALLOW_MISSING;
            else if (strcmp(optarg, "require") == 0)
                crl_policy = IOTSEC_CRL_REQUIRE;
            else
                return cli_usage_error("crl check", "--crl-policy: allow or require, not '%s'",
                                       optarg);
            break;
        case 'h': fputs(crl_usage, stdout); return CLI_OK;
        default: return cli_usage_error("crl check", "invalid option");
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error("crl check", "exactly one CERT.pem is required");
    cert_path = argv[optind];
    if (ca_path == NULL)
        return cli_usage_error("crl check", "--ca is required");
    if ((rc = cli_claim_stdin("crl check", &io, "--ca", ca_path)) != CLI_OK)
        return rc;
    for (i = 0; i < n_crls; i++) {
        if ((rc = cli_claim_stdin("crl check", &io, "--crl", crls[i])) != CLI_OK)
            return rc;
    }
    if ((rc = cli_claim_stdin("crl check", &io, "--denylist", deny_path)) != CLI_OK ||
        (rc = cli_claim_stdin("crl check", &io, "--intermediates", bundle_path)) != CLI_OK ||
        (rc = cli_claim_stdin("crl check", &io, "CERT.pem", cert_path)) != CLI_OK)
        return rc;
    now = have_now ? (int64_t)now_arg : (int64_t)time(NULL);

    rc = cli_cert_load(ca_path, &ca);
    if (rc != IOTSEC_OK)
        return cli_fail(rc, "%s", cli_in(ca_path));
    rc = cli_certs_load(cert_path, chain, MAX_CHAIN, &n_chain);
    if (rc != IOTSEC_OK) {
        rc = cli_fail(rc, "%s", cli_in(cert_path));
        goto out;
    }
    if (bundle_path != NULL) {
        rc = cli_certs_load(bundle_path, bundle, MAX_CHAIN, &n_bundle);
        if (rc != IOTSEC_OK) {
            rc = cli_fail(rc, "--intermediates %s", cli_in(bundle_path));
            goto out;
        }
    }
    rc = iotsec_revocation_new(&rs, ca, (uint32_t)grace);
    if (rc == IOTSEC_OK)
        rc = iotsec_revocation_set_crl_policy(rs, crl_policy);
    /* the intermediates' CRLs are verified with their certificates: those of CERT.pem and
     * the bundle (untrusted: a CRL is taken only from one that chains to the anchor, and
     * applies only to a chain through it); one that is no CA is left to the chain check,
     * which names what is wrong with it */
    for (i = 1; rc == IOTSEC_OK && i < n_chain + n_bundle; i++) {
        X509 *x = i < n_chain ? chain[i] : bundle[i - n_chain];
        int r = iotsec_revocation_add_ca(rs, x);
        if (r != IOTSEC_OK && r != IOTSEC_E_UNTRUSTED && r != IOTSEC_E_INVALID_ARG)
            rc = r;
    }
    for (i = 0; rc == IOTSEC_OK && i < n_crls; i++) {
        rc = cli_crl_add(rs, crls[i], now);
        if (rc != IOTSEC_OK) {
            size_t wl = 0;
            if (iotsec_revocation_last_refusal(rs, why, sizeof why, &wl) == IOTSEC_OK && wl > 0)
                rc = cli_fail(rc, "CRL %s: %s", cli_in(crls[i]), why);
            else
                rc = cli_fail(rc, "CRL %s", cli_in(crls[i]));
            goto out;
        }
    }
    if (rc == IOTSEC_OK && deny_path != NULL) {
        rc = cli_denylist_add(rs, deny_path, &line);
        if (rc != IOTSEC_OK) {
            rc = line > 0 ? cli_fail(rc, "denylist %s:%zu", cli_in(deny_path), line)
                          : cli_fail(rc, "denylist %s", cli_in(deny_path));
            goto out;
        }
    }
    if (rc == IOTSEC_OK)
        rc = iotsec_revocation_seal(rs);
    if (rc == IOTSEC_OK)
        rc = iotsec_revocation_holder_new(&holder, rs);
    if (rc != IOTSEC_OK) {
        rc = cli_fail(rc, "crl check");
        goto out;
    }
    policy.ca = ca;
    policy.revocation = holder;
    policy.chain.max_depth = (unsigned)depth;
    policy.chain.intermediates = bundle;
    policy.chain.intermediate_count = n_bundle;
    rc = iotsec_tls_check_chain(&policy, chain, n_chain, now, &v);
    if (rc != IOTSEC_OK) {
        rc = cli_error(cli_exit_code(rc), "%s: %s", cli_in(cert_path),
                       v.detail); /* names the check and the code */
        goto out;
    }
    (void)iotsec_hex_encode(v.identity.fingerprint, sizeof v.identity.fingerprint, fp_hex,
                            sizeof fp_hex);
    printf("ok: device %s sha256:%s (%zu revoked serials, %zu denylist entries checked; chain "
           "of %zu below the trust anchor)\n",
           v.identity.device_id, fp_hex, iotsec_revocation_serial_count(rs),
           iotsec_revocation_denylist_count(rs), v.identity.chain_len);
    rc = CLI_OK;
out:
    iotsec_revocation_holder_free(holder);
    iotsec_revocation_unref(rs);
    X509_free(ca);
    free_certs(chain, n_chain);
    free_certs(bundle, n_bundle);
    return rc;
}

int cmd_crl(int argc, char **argv)
{
    if (argc < 2) {
        fputs(crl_usage, stderr);
        return CLI_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(crl_usage, stdout);
        return CLI_OK;
    }
    if (strcmp(argv[1], "check") == 0)
        return crl_check(argc - 1, argv + 1);
    fprintf(stderr, "iotsec: crl: unknown command '%s'\n", argv[1]);
    fputs(crl_usage, stderr);
    return CLI_USAGE;
}
