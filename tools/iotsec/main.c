/* iotsec — the libiotsec command-line tool: keys, secrets, manifests, frames, CRLs, a CA.
 * Every security decision is a libiotsec call; this file only dispatches subcommands. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"version", cmd_version, "print the tool, library and backend versions"},
    {"keygen", cmd_keygen, "generate a signing key pair (Ed25519, P-256, RSA)"},
    {"secret", cmd_secret, "generate a random symmetric secret file"},
    {"frame", cmd_frame, "seal or open an authenticated telemetry frame"},
    {"manifest", cmd_manifest, "sign, verify and show firmware manifests"},
    {"ca", cmd_ca, "a small private device CA: init, issue, server, revoke, crl"},
    {"crl", cmd_crl, "check a device certificate against the CA, CRLs and a denylist"},
};

static void usage(FILE *out)
{
    size_t i;

    fprintf(out, "Usage: iotsec <command> [options]\n"
                 "       iotsec -V|--version\n"
                 "       iotsec -h|--help\n\nCommands:\n");
    for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out,
            "\nRun 'iotsec <command> --help' for a command's options.\n"
            "  -V, --version  print the version (as 'iotsec version') and exit\n"
            "  -h, --help     print this help and exit\n"
            "A file argument '-' means standard input (or standard output for an output);\n"
            "one argument at most may read standard input, and one write standard output.\n"
            "Exit status: 0 success/accepted, 1 rejected input, 2 usage, 3 I/O.\n"
            "Environment: IOTSEC_BACKEND=openssl|psa|sodium selects the crypto backend.\n");
}

int main(int argc, char **argv)
{
    size_t i;

    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        if (argc > 2) {
            fprintf(stderr, "iotsec: %s takes no arguments\n", argv[1]);
            return CLI_USAGE;
        }
        return cmd_version(1, argv + 1);
    }
    for (i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "iotsec: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return CLI_USAGE;
}
