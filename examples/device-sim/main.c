/* iotsec-device-sim — a POSIX program that behaves as an ESP32-class device does
 * (docs/DESIGN.md §11): A/B slots with a secure-boot check, OTA with rollback, mTLS telemetry.
 * This file parses the command line and dispatches; see app.h for the subcommands. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "mqtt.h"

/* The firmware version this build reports (`-V`, `--version`). The demo builds the simulator twice
 * with different values (examples/device-sim/build.mk, $(BUILD)/firmware/) to get two real
 * firmware images. */
#ifndef SIM_FIRMWARE_VERSION
#define SIM_FIRMWARE_VERSION "0.0.0-dev"
#endif

enum {
    O_STATE = 256, O_SERVER, O_DEVICE_ID, O_CERT, O_KEY, O_CA, O_SECRET, O_TRUST, O_FW_KEY,
    O_CLASS, O_IMAGE, O_MANIFEST, O_LEGACY_MAC, O_LEGACY_ENC, O_FRAMES, O_INTERVAL, O_FORMAT,
    O_ENCRYPT, O_JSON, O_SELF_TEST_FAIL, O_ATTEMPTS, O_POWER, O_HELP, O_TRANSPORT, O_BROKER,
    O_COUNT, O_TIMEOUT
};

/* which subcommands accept an option */
#define C_PROVISION 0x01u
#define C_BOOT 0x02u
#define C_RUN 0x04u
#define C_UPDATE 0x08u
#define C_STATUS 0x10u
#define C_LISTEN 0x20u
#define C_ALL 0x3Fu
#define C_BOOTS (C_BOOT | C_RUN | C_UPDATE | C_LISTEN) /* subcommands that boot the device */

struct optdef {
    struct option lo;
    unsigned cmds;
};

static const struct optdef optdefs[] = {
    {{"state", required_argument, NULL, O_STATE}, C_ALL},
    {{"server", required_argument, NULL, O_SERVER}, C_RUN | C_UPDATE},
    {{"device-id", required_argument, NULL, O_DEVICE_ID}, C_PROVISION},
    {{"cert", required_argument, NULL, O_CERT}, C_PROVISION},
    {{"key", required_argument, NULL, O_KEY}, C_PROVISION},
    {{"ca", required_argument, NULL, O_CA}, C_PROVISION},
    {{"secret", required_argument, NULL, O_SECRET}, C_PROVISION},
    {{"trust", required_argument, NULL, O_TRUST}, C_PROVISION},
    {{"fw-key", required_argument, NULL, O_FW_KEY}, C_PROVISION},
    {{"class", required_argument, NULL, O_CLASS}, C_PROVISION},
    {{"image", required_argument, NULL, O_IMAGE}, C_PROVISION},
    {{"manifest", required_argument, NULL, O_MANIFEST}, C_PROVISION},
    {{"legacy-mac-key", required_argument, NULL, O_LEGACY_MAC}, C_PROVISION},
    {{"legacy-enc-key", required_argument, NULL, O_LEGACY_ENC}, C_PROVISION},
    {{"frames", required_argument, NULL, O_FRAMES}, C_RUN},
    {{"interval-ms", required_argument, NULL, O_INTERVAL}, C_RUN},
    {{"format", required_argument, NULL, O_FORMAT}, C_RUN},
    {{"encrypt", no_argument, NULL, O_ENCRYPT}, C_RUN},
    {{"json", no_argument, NULL, O_JSON}, C_STATUS},
    {{"self-test-fail", no_argument, NULL, O_SELF_TEST_FAIL}, C_BOOTS},
    {{"boot-attempts", required_argument, NULL, O_ATTEMPTS}, C_BOOTS},
    {{"power-loss-after-writes", required_argument, NULL, O_POWER},
     C_PROVISION | C_BOOTS},
    {{"help", no_argument, NULL, O_HELP}, C_ALL},
    {{"transport", required_argument, NULL, O_TRANSPORT}, C_RUN},
    {{"broker", required_argument, NULL, O_BROKER}, C_RUN | C_LISTEN},
    {{"count", required_argument, NULL, O_COUNT}, C_LISTEN},
    {{"timeout-ms", required_argument, NULL, O_TIMEOUT}, C_LISTEN},
};
#define N_OPTS (sizeof optdefs / sizeof optdefs[0])

static const char usage_text[] =
    "Usage: iotsec-device-sim <command> --state DIR [options]\n"
    "       iotsec-device-sim -V|--version\n"
    "       iotsec-device-sim -h|--help\n"
    "\n"
    "A simulated ESP32-class device over a state directory: A/B slots with a secure-boot\n"
    "check, over-the-air updates with rollback, mTLS telemetry. Every security decision\n"
    "is a libiotsec call.\n"
    "\n"
    "Commands:\n"
    "  provision --state DIR --device-id D --cert C.pem --key K.pem --ca CA.pem\n"
    "            --secret S.bin --trust PUB.pem [--trust PUB2.pem ...] [--fw-key FW.key]\n"
    "            [--legacy-mac-key K.bin [--legacy-enc-key E.bin]]\n"
    "            --class C --image FW.bin --manifest M\n"
    "      install credentials and a first image (verified) into slot A\n"
    "  boot      --state DIR [--self-test-fail] [--boot-attempts N]\n"
    "      secure boot: verify the active slot; confirm or roll back a pending image\n"
    "  run       --state DIR --server https://HOST:PORT [--frames N] [--interval-ms MS]\n"
    "            [--format binary|json|ecowatt] [--encrypt]\n"
    "  run       --state DIR --transport mqtt --broker mqtts://HOST:PORT [--frames N] ...\n"
    "      boot, then send N telemetry frames and print each answer\n"
    "  listen    --state DIR --broker mqtts://HOST:PORT [--count N] [--timeout-ms MS]\n"
    "      boot, subscribe to devices/<id>/cmd/# and open N commands (downlink frames)\n"
    "  update    --state DIR --server https://HOST:PORT [--self-test-fail]\n"
    "      fetch, verify and install the class's firmware, then reboot into it\n"
    "  status    --state DIR [--json]\n"
    "      active slot, versions, counters, pending flag\n"
    "\n";
/* in two parts: C99 compilers need not take string literals over 4095 bytes */
static const char usage_options[] =
    "Options:\n"
    "  --state DIR          the device's state directory (created by provision, mode 0700)\n"
    "  --device-id D        provision: the device id, at most 64 characters\n"
    "  --cert C.pem, --key K.pem   provision: the device's TLS client certificate and key\n"
    "  --ca CA.pem          provision: the CA pinned for the server (the only one trusted)\n"
    "  --secret S.bin       provision: the 32-byte frame master secret\n"
    "  --trust PUB.pem      provision: a trusted firmware signing key (up to 8)\n"
    "  --fw-key FW.key      provision: the 32-byte firmware decryption key; a device that\n"
    "                       has one refuses plaintext firmware (default: none)\n"
    "  --legacy-mac-key K.bin, --legacy-enc-key E.bin   provision: the legacy EcoWatt keys\n"
    "                       (32 and 16 bytes; default: none)\n"
    "  --class C            provision: the device class, at most 64 characters\n"
    "  --image FW.bin, --manifest M   provision: the first image and its signed manifest\n"
    "  --server URL         run, update: the backend, https:// only\n"
    "  --transport T        run: https (default: POST to --server) or mqtt (publish to\n"
    "                       devices/<id>/telemetry on --broker, QoS 1)\n"
    "  --broker URL         run --transport mqtt, listen: the MQTT broker, mqtts:// only\n"
    "                       (port 8883 by default)\n"
    "  --count N            listen: commands to receive, 1-1000000 (default 1)\n"
    "  --timeout-ms MS      listen: give up after MS, 1-86400000 (default 30000)\n"
    "  --frames N           run: frames to send, 0-1000000 (default 1)\n"
    "  --interval-ms MS     run: pause between frames, 0-3600000 (default 0)\n"
    "  --format F           run: binary, json or ecowatt (default binary)\n"
    "  --encrypt            run: encrypt the payloads (ecowatt: needs --legacy-enc-key)\n"
    "  --json               status: one JSON object instead of text\n"
    "  --self-test-fail     boot, run, update, listen: the new image's self-test fails (a\n"
    "                       bad build)\n"
    "  --boot-attempts N    boot, run, update, listen: starts of a pending image before rollback,\n"
    "                       1-255 (default 3)\n"
    "  --power-loss-after-writes N   provision, boot, run, update, listen: end the process\n"
    "                       abruptly at the Nth storage write (slot data, boot record, NVS),\n"
    "                       as a power cut would\n"
    "  -V, --version        print the firmware version of this build and exit\n"
    "  -h, --help           print this help and exit\n"
    "\n"
    "Exit status: 0 success, 1 rejected by the library (also: a command refused), 2 usage,\n"
    "3 local I/O, 4 network or TLS failure (also: a broker refusing the device), 5 secure\n"
    "boot halted, 6 non-https/mqtts URL refused, 7 telemetry rejected by the server or\n"
    "broker, 8 simulated power loss, 9 rolled back to the previous slot.\n";

static void usage(FILE *f)
{
    fputs(usage_text, f);
    fputs(usage_options, f);
}

static int usage_error(const char *fmt, const char *arg)
{
    fputs("iotsec-device-sim: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\nTry 'iotsec-device-sim --help'.\n", stderr);
    return SIM_USAGE;
}

static int parse_ulong(const char *opt, const char *s, unsigned long min, unsigned long max,
                       unsigned long *out)
{
    uint64_t v;

    if (iotsec_parse_u64_dec(s, strlen(s), max, &v) != IOTSEC_OK || v < min) {
        fprintf(stderr, "iotsec-device-sim: --%s: expected an integer %lu-%lu, got '%s'\n",
                opt, min, max, s);
        return SIM_USAGE;
    }
    *out = (unsigned long)v;
    return SIM_OK;
}

struct args {
    const char *state, *server, *broker, *device_id, *device_class;
    sim_listen_opts listen;
    sim_provision_opts prov;
    sim_boot_opts boot;
    sim_run_opts run;
    int json;
    unsigned long power;
};

static int parse(int argc, char **argv, unsigned cmd, struct args *a)
{
    struct option lo[N_OPTS + 1];
    unsigned long v;
    size_t i;
    int c, rc;

    memset(lo, 0, sizeof lo);
    for (i = 0; i < N_OPTS; i++)
        lo[i] = optdefs[i].lo;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", lo, NULL)) != -1) {
        const char *arg = optarg;

        if (c == '?')
            return usage_error("unknown option '%s'", argv[optind - 1]);
        if (c == ':')
            return usage_error("option '%s' needs a value", argv[optind - 1]);
        for (i = 0; i < N_OPTS; i++)
            if (optdefs[i].lo.val == c)
                break;
        if (i == N_OPTS || (optdefs[i].cmds & cmd) == 0)
            return usage_error("option '%s' does not apply to this command", argv[optind - 1]);
        switch (c) {
        case O_STATE: a->state = arg; break;
        case O_SERVER: a->server = arg; break;
        case O_DEVICE_ID: a->device_id = arg; break;
        case O_CERT: a->prov.cert = arg; break;
        case O_KEY: a->prov.key = arg; break;
        case O_CA: a->prov.ca = arg; break;
        case O_SECRET: a->prov.secret = arg; break;
        case O_FW_KEY: a->prov.fw_key = arg; break;
        case O_CLASS: a->device_class = arg; break;
        case O_IMAGE: a->prov.image = arg; break;
        case O_MANIFEST: a->prov.manifest = arg; break;
        case O_LEGACY_MAC: a->prov.legacy_mac_key = arg; break;
        case O_LEGACY_ENC: a->prov.legacy_enc_key = arg; break;
        case O_TRUST:
            if (a->prov.ntrust == SIM_MAX_TRUST)
                return usage_error("at most 8 --trust keys%s", "");
            a->prov.trust[a->prov.ntrust++] = arg;
            break;
        case O_FRAMES:
            if ((rc = parse_ulong("frames", arg, 0, 1000000, &a->run.frames)) != SIM_OK)
                return rc;
            break;
        case O_INTERVAL:
            if ((rc = parse_ulong("interval-ms", arg, 0, 3600000, &a->run.interval_ms)) !=
                SIM_OK)
                return rc;
            break;
        case O_FORMAT:
            if (strcmp(arg, "binary") == 0)
                a->run.format = SIM_FMT_BINARY;
            else if (strcmp(arg, "json") == 0)
                a->run.format = SIM_FMT_JSON;
            else if (strcmp(arg, "ecowatt") == 0)
                a->run.format = SIM_FMT_ECOWATT;
            else
                return usage_error("--format: binary, json or ecowatt, not '%s'", arg);
            break;
        case O_ENCRYPT: a->run.encrypt = 1; break;
        case O_TRANSPORT:
            if (strcmp(arg, "https") == 0)
                a->run.transport = SIM_TRANSPORT_HTTPS;
            else if (strcmp(arg, "mqtt") == 0)
                a->run.transport = SIM_TRANSPORT_MQTT;
            else
                return usage_error("--transport: https or mqtt, not '%s'", arg);
            break;
        case O_BROKER: a->broker = arg; break;
        case O_COUNT:
            if ((rc = parse_ulong("count", arg, 1, 1000000, &a->listen.count)) != SIM_OK)
                return rc;
            break;
        case O_TIMEOUT:
            if ((rc = parse_ulong("timeout-ms", arg, 1, 86400000, &a->listen.timeout_ms)) !=
                SIM_OK)
                return rc;
            break;
        case O_JSON: a->json = 1; break;
        case O_SELF_TEST_FAIL: a->boot.self_test_fail = 1; break;
        case O_ATTEMPTS:
            if ((rc = parse_ulong("boot-attempts", arg, 1, 255, &v)) != SIM_OK)
                return rc;
            a->boot.max_attempts = (unsigned)v;
            break;
        case O_POWER:
            if ((rc = parse_ulong("power-loss-after-writes", arg, 1, 1000000000, &a->power)) !=
                SIM_OK)
                return rc;
            break;
        case O_HELP:
        default:
            usage(stdout);
            exit(SIM_OK);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    if (a->state == NULL)
        return usage_error("--state DIR is required%s", "");
    if (cmd == C_RUN && a->run.transport == SIM_TRANSPORT_MQTT) {
        if (a->broker == NULL || a->server != NULL)
            return usage_error("run --transport mqtt takes --broker URL, not --server%s", "");
    } else if (cmd == C_RUN && a->broker != NULL) {
        return usage_error("--broker needs --transport mqtt%s", "");
    } else if ((cmd & (C_RUN | C_UPDATE)) && a->server == NULL) {
        return usage_error("--server URL is required%s", "");
    }
    if (cmd == C_LISTEN && a->broker == NULL)
        return usage_error("--broker URL is required%s", "");
    if (cmd == C_PROVISION) {
        if (a->device_id == NULL || a->prov.cert == NULL || a->prov.key == NULL ||
            a->prov.ca == NULL || a->prov.secret == NULL || a->prov.ntrust == 0 ||
            a->device_class == NULL || a->prov.image == NULL || a->prov.manifest == NULL)
            return usage_error("provision needs --device-id, --cert, --key, --ca, --secret, "
                               "--trust, --class, --image and --manifest%s", "");
        if (a->prov.legacy_enc_key != NULL && a->prov.legacy_mac_key == NULL)
            return usage_error("--legacy-enc-key needs --legacy-mac-key%s", "");
    }
    return SIM_OK;
}

static int dispatch(unsigned cmd, struct args *a, const char *argv0)
{
    static sim_boot_result booted;
    const iotsec_crypto *crypto = iotsec_crypto_default();
    sim_state st;
    int rc;

    if (cmd == C_PROVISION) {
        if ((rc = sim_state_create(&st, a->state)) != SIM_OK)
            return rc;
        if (strlen(a->device_id) > SIM_DEVICE_ID_MAX || strlen(a->device_class) > SIM_CLASS_MAX)
            return usage_error("--device-id and --class: at most 64 characters%s", "");
        strcpy(st.device_id, a->device_id);
        strcpy(st.device_class, a->device_class);
        return sim_provision(&st, crypto, &a->prov);
    }
    if ((rc = sim_state_open(&st, a->state)) != SIM_OK)
        return rc;
    switch (cmd) {
    case C_BOOT: return sim_boot(&st, crypto, &a->boot, &booted);
    case C_RUN:
        return sim_run(&st, crypto,
                       a->run.transport == SIM_TRANSPORT_MQTT ? a->broker : a->server, &a->boot,
                       &a->run);
    case C_LISTEN: return sim_listen(&st, crypto, a->broker, &a->boot, &a->listen);
    case C_UPDATE: return sim_update(&st, crypto, a->server, &a->boot, argv0);
    default: return sim_status(&st, crypto, a->json);
    }
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        unsigned cmd;
    } cmds[] = {{"provision", C_PROVISION}, {"boot", C_BOOT}, {"run", C_RUN},
                {"update", C_UPDATE}, {"status", C_STATUS}, {"listen", C_LISTEN}};
    struct args a;
    size_t i;
    int rc;

    if (argc < 2) {
        usage(stderr);
        return SIM_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return SIM_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        if (argc > 2)
            return usage_error("%s takes no arguments", argv[1]);
        printf("iotsec-device-sim firmware %s (libiotsec %s)\n", SIM_FIRMWARE_VERSION,
               IOTSEC_VERSION_STRING);
        return SIM_OK;
    }
    for (i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (strcmp(argv[1], cmds[i].name) == 0)
            break;
    if (i == sizeof cmds / sizeof cmds[0])
        return usage_error("unknown command '%s'", argv[1]);
    memset(&a, 0, sizeof a);
    a.boot.max_attempts = SIM_DEFAULT_ATTEMPTS;
    a.run.frames = 1;
    a.listen.count = 1;
    a.listen.timeout_ms = 30000;
    if ((rc = parse(argc - 1, argv + 1, cmds[i].cmd, &a)) != SIM_OK)
        return rc;
    sim_power_arm(a.power);
    sim_net_global_init();
    rc = dispatch(cmds[i].cmd, &a, argv[0]);
    fflush(stdout);
    sim_net_global_cleanup();
    return rc;
}
