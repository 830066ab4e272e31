/* iotsec version | keygen | secret */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cmd_version(int argc, char **argv)
{
    const iotsec_crypto *o = iotsec_crypto_openssl(), *s = iotsec_crypto_sodium();
    const iotsec_crypto *p = iotsec_crypto_psa();

    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("Usage: iotsec version   (also: iotsec -V, iotsec --version)\n"
               "Print one line: the tool's version, the linked library's version and the crypto\n"
               "backends built in, e.g. 'iotsec 0.1.0 (libiotsec 0.1.0; backends: openssl psa\n"
               "sodium)'. Exit status: 0; 2 usage (an argument was given).\n");
        return CLI_OK;
    }
    if (argc > 1)
        return cli_usage_error("version", "unexpected argument '%s'", argv[1]);
    printf("iotsec %s (libiotsec %s; backends:%s%s%s)\n", IOTSEC_VERSION_STRING,
           iotsec_version(), o ? " openssl" : "", p ? " psa" : "", s ? " sodium" : "");
    return CLI_OK;
}

static const char keygen_usage[] =
    "Usage: iotsec keygen --alg ed25519|p256|rsa2048|rsa3072|rsa4096 --out KEY.pem\n"
    "                     [--pub PUB.pem] [--force]\n"
    "Generate a signing key pair.\n"
    "  --alg ALG      ed25519, p256 (ECDSA P-256), rsa2048, rsa3072 or rsa4096 (RSA-PSS)\n"
    "  --out KEY.pem  the private key, PKCS#8 PEM, mode 0600; '-': standard output (refused\n"
    "                 when that is a terminal)\n"
    "  --pub PUB.pem  also write the public key, SubjectPublicKeyInfo PEM, mode 0644;\n"
    "                 '-': standard output\n"
    "  --force        replace existing files (default: an existing file is an error, exit 3)\n"
    "The key id is printed as 'key_id <16 hex>' (on stderr when a key goes to standard\n"
    "output): the manifest key_id, the first 8 bytes of SHA-256 over the public key's DER\n"
    "SPKI. A key written to '-' passes through a file in a new private temporary directory\n"
    "($TMPDIR or /tmp, mode 0700) that is removed at once. Exit status: 0 written; 2 usage\n"
    "(including --out and --pub both '-'); 3 I/O (including an existing file).\n";

int cmd_keygen(int argc, char **argv)
{
    static const struct option opts[] = {{"alg", required_argument, NULL, 'a'},
                                         {"out", required_argument, NULL, 'o'},
                                         {"pub", required_argument, NULL, 'p'},
                                         {"force", no_argument, NULL, 'f'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *alg = NULL, *out = NULL, *pub = NULL, *priv_path, *pub_path = NULL;
    iotsec_sig_alg sig_alg;
    unsigned bits = 0;
    int force = 0, c, rc, rc2;
    iotsec_privkey sk;
    cli_stdio io = {NULL, NULL};
    cli_spool priv_sp, pub_sp;
    uint8_t key_id[IOTSEC_KEY_ID_LEN];
    char hex[2 * IOTSEC_KEY_ID_LEN + 1];

    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'a': alg = optarg; break;
        case 'o': out = optarg; break;
        case 'p': pub = optarg; break;
        case 'f': force = 1; break;
        case 'h': fputs(keygen_usage, stdout); return CLI_OK;
        default: return cli_usage_error("keygen", "invalid option");
        }
    }
    if (optind != argc)
        return cli_usage_error("keygen", "unexpected argument '%s'", argv[optind]);
    if (alg == NULL || out == NULL)
        return cli_usage_error("keygen", "--alg and --out are required");
    if (strcmp(alg, "ed25519") == 0) {
        sig_alg = IOTSEC_SIG_ED25519;
    } else if (strcmp(alg, "p256") == 0) {
        sig_alg = IOTSEC_SIG_ECDSA_P256;
    } else if (strncmp(alg, "rsa", 3) == 0 &&
               (strcmp(alg + 3, "2048") == 0 || strcmp(alg + 3, "3072") == 0 ||
                strcmp(alg + 3, "4096") == 0)) {
        sig_alg = IOTSEC_SIG_RSA_PSS;
        bits = (unsigned)atoi(alg + 3);
    } else {
        return cli_usage_error("keygen", "--alg: unknown algorithm '%s'", alg);
    }
    if ((rc = cli_claim_stdout("keygen", &io, "--out", out)) != CLI_OK ||
        (rc = cli_claim_stdout("keygen", &io, "--pub", pub)) != CLI_OK ||
        (rc = cli_refuse_terminal("keygen", "--out", out)) != CLI_OK)
        return rc;
    if ((rc = cli_check_overwrite(out, force)) != CLI_OK ||
        (pub != NULL && (rc = cli_check_overwrite(pub, force)) != CLI_OK))
        return rc;
    if ((priv_path = cli_spool_path(&priv_sp, out, "key.pem")) == NULL)
        return CLI_IO;
    if (pub != NULL && (pub_path = cli_spool_path(&pub_sp, pub, "pub.pem")) == NULL) {
        (void)cli_spool_finish(&priv_sp, 0);
        return CLI_IO;
    }
    rc = iotsec_keygen_files(sig_alg, bits, priv_path, pub_path);
    if (rc != IOTSEC_OK) {
        rc = cli_fail(rc, "keygen %s", cli_out(out));
    } else {
        /* read the key back through the library: proves the file loads, gives its key id */
        rc = iotsec_privkey_load_file(&sk, iotsec_crypto_openssl(), priv_path);
        if (rc == IOTSEC_OK) {
            rc = iotsec_privkey_key_id(&sk, key_id);
            iotsec_privkey_free(&sk);
        }
        if (rc != IOTSEC_OK)
            rc = cli_fail(rc, "keygen: reading back %s", cli_out(out));
    }
    rc2 = cli_spool_finish(&priv_sp, rc == CLI_OK);
    if (rc == CLI_OK)
        rc = rc2;
    if (pub != NULL) {
        rc2 = cli_spool_finish(&pub_sp, rc == CLI_OK);
        if (rc == CLI_OK)
            rc = rc2;
    }
    if (rc != CLI_OK)
        return rc;
    (void)iotsec_hex_encode(key_id, sizeof key_id, hex, sizeof hex);
    fprintf(cli_info(&io), "key_id %s\n", hex);
    return CLI_OK;
}

static const char secret_usage[] =
    "Usage: iotsec secret --bytes 32|16 --out FILE [--force]\n"
    "Write a random symmetric secret as a raw binary file (mode 0600): 32 bytes for a frame\n"
    "master secret, a legacy MAC key or a firmware key; 16 bytes for a legacy encryption key.\n"
    "  --bytes N   32 or 16 (required)\n"
    "  --out FILE  the file to write (required); '-': standard output (refused when that is\n"
    "              a terminal)\n"
    "  --force     replace an existing file (default: an existing file is an error, exit 3)\n"
    "The randomness comes from the crypto backend ($IOTSEC_BACKEND). Exit status: 0 written;\n"
    "2 usage; 3 I/O (including an existing file).\n";

int cmd_secret(int argc, char **argv)
{
    static const struct option opts[] = {{"bytes", required_argument, NULL, 'b'},
                                         {"out", required_argument, NULL, 'o'},
                                         {"force", no_argument, NULL, 'f'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *out = NULL;
    uint64_t bytes = 0;
    int force = 0, c, rc;
    uint8_t secret[32];
    const iotsec_crypto *crypto;

    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            if ((rc = cli_parse_u64("secret", "--bytes", optarg, 32, &bytes)) != CLI_OK)
                return rc;
            break;
        case 'o': out = optarg; break;
        case 'f': force = 1; break;
        case 'h': fputs(secret_usage, stdout); return CLI_OK;
        default: return cli_usage_error("secret", "invalid option");
        }
    }
    if (optind != argc)
        return cli_usage_error("secret", "unexpected argument '%s'", argv[optind]);
    if (out == NULL || (bytes != 16 && bytes != 32))
        return cli_usage_error("secret", "--out and --bytes 16|32 are required");
    if ((rc = cli_refuse_terminal("secret", "--out", out)) != CLI_OK ||
        (rc = cli_check_overwrite(out, force)) != CLI_OK)
        return rc;
    if ((crypto = cli_crypto()) == NULL)
        return CLI_USAGE;
    rc = iotsec_random(crypto, secret, (size_t)bytes);
    if (rc != IOTSEC_OK) {
        iotsec_zeroize(secret, sizeof secret);
        return cli_fail(rc, "secret %s", cli_out(out));
    }
    if (cli_is_dash(out)) {
        rc = cli_write_stdout(secret, (size_t)bytes);
    } else {
        rc = iotsec_file_write_atomic(out, secret, (size_t)bytes, 0600);
        rc = rc == IOTSEC_OK ? CLI_OK : cli_fail(rc, "secret %s", out);
    }
    iotsec_zeroize(secret, sizeof secret);
    return rc;
}
