/*
 * iotsec-backend — the example mTLS backend of libiotsec (docs/DESIGN.md §10): one binary, the
 * server (serve) and the admin subcommands that manage its database.
 */
#include "backend.h"

#include <string.h>

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} commands[] = {
    {"serve", bk_cmd_serve, "run the mTLS HTTPS server"},
    {"add-device", bk_cmd_add_device, "register a device and its frame secret"},
    {"disable-device", bk_cmd_disable_device, "refuse a device from now on"},
    {"publish-firmware", bk_cmd_publish_firmware, "verify and publish a manifest and payload"},
    {"list", bk_cmd_list, "print devices, audit, telemetry, firmware, payloads, CRL floors"},
};

static void usage(FILE *f)
{
    size_t i;

    fprintf(f,
            "usage: iotsec-backend <command> [options]   (libiotsec %s)\n"
            "       iotsec-backend -V | --version\n"
            "       iotsec-backend -h | --help\n"
            "The example mTLS backend of libiotsec: an HTTPS/1.1 server with mutual TLS for a\n"
            "device fleet (telemetry frames, firmware manifests and payloads), and the admin\n"
            "commands that manage its database.\n\ncommands:\n",
            IOTSEC_VERSION_STRING);
    for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-18s %s\n", commands[i].name, commands[i].help);
    fputs("\noptions:\n"
          "  -h, --help         print this help and exit\n"
          "  -V, --version      print 'iotsec-backend VERSION' (the libiotsec version), exit\n"
          "\n'iotsec-backend <command> --help' describes a command.\n"
          "Exit status: 0 success; 1 refused (input that does not verify, an existing key,\n"
          "an unknown device, a database of another schema version); 2 usage; 3 I/O.\n",
          f);
}

int main(int argc, char **argv)
{
    size_t i;

    if (argc < 2) {
        usage(stderr);
        return BK_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return BK_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        printf("iotsec-backend %s\n", iotsec_version());
        return BK_EXIT_OK;
    }
    for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    bk_error(0, "unknown command '%s'", argv[1]);
    usage(stderr);
    return BK_EXIT_USAGE;
}
