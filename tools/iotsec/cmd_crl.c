/* iotsec crl check — is a device certificate trusted and not revoked? (docs/DESIGN.md §7, §9)
 * The same checks as the mTLS handshake (tls.h: iotsec_tls_check_cert). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/x509.h>

#include "cli.h"

#define MAX_CRLS 16

static const char crl_usage[] =
    "Usage: iotsec crl check --ca CA.pem [--crl CRL.pem]... [--denylist FILE]\n"
    "                        [--id-source cn|uri|dns] [--trust-domain TD]\n"
    "                        [--grace SECONDS] [--now UNIX] CERT.pem\n"
    "Check a device certificate as the mTLS server does: issued directly by the device CA\n"
    "(the only trust anchor), within its validity, usable for TLS client authentication,\n"
    "with a valid device identity, and not revoked.\n"
    "  --ca CA.pem          the device CA certificate, PEM or DER (required)\n"
    "  --crl CRL.pem        a CRL, PEM or DER, signed by the CA and current: thisUpdate <=\n"
    "                       now <= nextUpdate + --grace; the certificate's serial must be on\n"
    "                       none (up to 16 --crl options; default: none)\n"
    "  --denylist FILE      neither the certificate's SHA-256 fingerprint nor its device id\n"
    "                       may be listed (lines 'sha256:<64 hex>', 'id:<device id>', '#'\n"
    "                       comments; default: none)\n"
    "  --id-source cn|uri|dns  where the device identity is: cn, the subject CN (default);\n"
    "                       uri, one SAN URI spiffe://TD/device/ID; dns, one SAN dNSName\n"
    "  --trust-domain TD    the SPIFFE trust domain for --id-source uri\n"
    "  --grace SECONDS      how long a CRL stays usable after its nextUpdate (default 0)\n"
    "  --now UNIX           the time of the check (default: the system clock)\n"
    "Any one input (--ca, a --crl, --denylist or CERT.pem) may be '-' for standard input.\n"
    "Exit status: 0 accepted ('ok: device ID sha256:FINGERPRINT ...' on stdout); 1 rejected,\n"
    "the IOTSEC_E_* code on stderr (revoked, untrusted, expired certificate or stale CRL, bad\n"
    "CRL or denylist line); 2 usage; 3 I/O.\n";

static int crl_check(int argc, char **argv)
{
    static const struct option opts[] = {{"ca", required_argument, NULL, 'c'},
                                         {"crl", required_argument, NULL, 'r'},
                                         {"denylist", required_argument, NULL, 'd'},
                                         {"id-source", required_argument, NULL, 's'},
                                         {"trust-domain", required_argument, NULL, 't'},
                                         {"grace", required_argument, NULL, 'g'},
                                         {"now", required_argument, NULL, 'n'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *ca_path = NULL, *deny_path = NULL, *cert_path, *crls[MAX_CRLS];
    size_t n_crls = 0, line = 0, i;
    uint64_t grace = 0, now_arg = 0;
    int have_now = 0, c, rc;
    iotsec_tls_policy policy;
    iotsec_tls_verdict v;
    iotsec_revocation *rs = NULL;
    iotsec_revocation_holder *holder = NULL;
    X509 *ca = NULL, *cert = NULL;
    int64_t now;
    char fp_hex[2 * IOTSEC_FINGERPRINT_LEN + 1];
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
        (rc = cli_claim_stdin("crl check", &io, "CERT.pem", cert_path)) != CLI_OK)
        return rc;
    now = have_now ? (int64_t)now_arg : (int64_t)time(NULL);

    rc = cli_cert_load(ca_path, &ca);
    if (rc != IOTSEC_OK)
        return cli_fail(rc, "%s", cli_in(ca_path));
    rc = cli_cert_load(cert_path, &cert);
    if (rc != IOTSEC_OK) {
        rc = cli_fail(rc, "%s", cli_in(cert_path));
        goto out;
    }
    rc = iotsec_revocation_new(&rs, ca, (uint32_t)grace);
    for (i = 0; rc == IOTSEC_OK && i < n_crls; i++) {
        rc = cli_crl_add(rs, crls[i], now);
        if (rc != IOTSEC_OK) {
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
    rc = iotsec_tls_check_cert(&policy, cert, now, &v);
    if (rc != IOTSEC_OK) {
        rc = cli_error(cli_exit_code(rc), "%s: %s", cli_in(cert_path),
                       v.detail); /* names the code */
        goto out;
    }
    (void)iotsec_hex_encode(v.identity.fingerprint, sizeof v.identity.fingerprint, fp_hex,
                            sizeof fp_hex);
    printf("ok: device %s sha256:%s (%zu revoked serials, %zu denylist entries checked)\n",
           v.identity.device_id, fp_hex, iotsec_revocation_serial_count(rs),
           iotsec_revocation_denylist_count(rs));
    rc = CLI_OK;
out:
    iotsec_revocation_holder_free(holder);
    iotsec_revocation_unref(rs);
    X509_free(ca);
    X509_free(cert);
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
