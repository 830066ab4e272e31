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
    {"list", bk_cmd_list, "print devices, audit, telemetry, firmware or payloads"},
};

static void usage(FILE *f)
{
    size_t i;

    fprintf(f, "usage: iotsec-backend <command> [options]   (libiotsec %s)\n\ncommands:\n",
            IOTSEC_VERSION_STRING);
    for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-18s %s\n", commands[i].name, commands[i].help);
    fputs("\n'iotsec-backend <command> --help' describes a command.\n", f);
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
    for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    bk_error(0, "unknown command '%s'", argv[1]);
    usage(stderr);
    return BK_EXIT_USAGE;
}
