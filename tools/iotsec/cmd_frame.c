/* iotsec frame seal | open — telemetry frames v1 (binary, JSON) and the legacy EcoWatt
 * profile (docs/DESIGN.md §4, §9). Every decision is a libiotsec call; this file moves bytes. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char frame_usage[] =
    "Usage: iotsec frame seal|open [options] [FILE]   (iotsec frame seal --help, open --help)\n"
    "Seal a payload into an authenticated telemetry frame (v1 binary or JSON, or the legacy\n"
    "EcoWatt JSON profile), or authenticate and open one. Exit status: 0 accepted, 1 rejected\n"
    "(malformed, bad MAC, wrong direction or device), 2 usage, 3 I/O.\n";

static const char seal_usage[] =
    "Usage: iotsec frame seal --secret S.bin --device-id D [--kid K] --ctr N [--encrypt]\n"
    "                         [--direction up|down] [--format binary|json] [--iv HEX]\n"
    "                         [--out FRAME] [PAYLOAD]\n"
    "       iotsec frame seal --format ecowatt --mac-key K.bin [--enc-key E.bin]\n"
    "                         --device-id D --nonce N [--iv HEX] [--out FRAME] [PAYLOAD]\n"
    "Read the payload (at most 65536 bytes) from the file PAYLOAD (default, or '-':\n"
    "standard input) and write the frame to --out (default, or '-': standard output).\n"
    "  --secret S.bin     the device's 32-byte frame master secret (keys: HKDF-SHA256 per\n"
    "                     device, kid and direction)\n"
    "  --device-id D      1-64 characters of [A-Za-z0-9._:@-]\n"
    "  --kid K            key generation 0-255 (default 0)\n"
    "  --ctr N            frame counter, 1 and up (JSON: at most 2^53-1); never reuse one\n"
    "  --encrypt          encrypt the payload (AES-128-CBC, PKCS#7; encrypt-then-MAC)\n"
    "  --direction up|down  up: device to server (default); down: server to device\n"
    "  --format binary|json|ecowatt   default binary\n"
    "  --iv HEX           32 hex digits: fixed IV, for reproducible test vectors only\n"
    "                     (needs --encrypt or --enc-key; otherwise the IV is random)\n"
    "  --mac-key K.bin    ecowatt: the raw 32-byte HMAC key\n"
    "  --enc-key E.bin    ecowatt: the raw 16-byte AES-128 key; turns encryption on\n"
    "  --nonce N          ecowatt: nonce 1 .. 2^53-1, strictly increasing\n"
    "  --out FRAME        write the frame to FRAME (mode 0644, replaced atomically)\n"
    "                     instead of standard output\n"
    "Any secret file may be '-' (standard input) if the payload is then a named file: one\n"
    "argument at most reads standard input (exit 2 otherwise). Exit status: 0 sealed;\n"
    "1 rejected (a payload over 65536 bytes); 2 usage, including a secret of the wrong\n"
    "length; 3 I/O.\n";

static const char open_usage[] =
    "Usage: iotsec frame open --secret S.bin [--direction up|down] [--format binary|json]\n"
    "                         [--json --out PAYLOAD | --out PAYLOAD] [FRAME]\n"
    "       iotsec frame open --format ecowatt --mac-key K.bin [--enc-key E.bin]\n"
    "                         [--json --out PAYLOAD | --out PAYLOAD] [FRAME]\n"
    "Authenticate the frame read from the file FRAME (default, or '-': standard input) and\n"
    "write its payload to standard output; the header goes to standard error as one JSON\n"
    "line: {\"v\",\"device_id\",\"kid\",\"ctr\",\"dir\",\"encrypted\"} (ecowatt:\n"
    "{\"format\":\"ecowatt\",\"device_id\",\"nonce\",\"encrypted\"}). Stateless: no replay\n"
    "window is kept. The keys are derived from the secret and the device id and kid the\n"
    "frame names; the frame must have the direction given.\n"
    "  --secret S.bin     the 32-byte frame master secret (v1 frames)\n"
    "  --direction up|down  the direction the frame must have (default up)\n"
    "  --format binary|json|ecowatt   default binary\n"
    "  --mac-key K.bin    ecowatt: the raw 32-byte HMAC key\n"
    "  --enc-key E.bin    ecowatt: the raw 16-byte AES-128 key (needed for an encrypted frame)\n"
    "  --out PAYLOAD      write the payload to PAYLOAD (mode 0600, replaced atomically; a\n"
    "                     device such as /dev/null is written in place) instead of standard\n"
    "                     output\n"
    "  --json             print the header JSON line on standard output instead of standard\n"
    "                     error; needs --out PAYLOAD with a file name (not '-')\n"
    "Any secret file may be '-' (standard input) if the frame is then a named file: one\n"
    "argument at most reads standard input (exit 2 otherwise).\n"
    "Exit status: 0 accepted; 1 rejected, stderr names the IOTSEC_E_* code: malformed input\n"
    "(the message says which field and at which byte or character), a bad MAC, a frame of\n"
    "the other direction, a bad padding, a frame over 1 MiB; 2 usage, including a secret of\n"
    "the wrong length; 3 I/O. Nothing is written when the frame is rejected.\n";

enum fmt { FMT_BINARY, FMT_JSON, FMT_ECOWATT };

struct frame_opts {
    const char *secret, *mac_key, *enc_key, *device_id, *iv_hex, *ctr_s, *nonce_s;
    const char *in;  /* the FILE argument, or NULL (standard input) */
    const char *out; /* --out, or NULL (standard output) */
    uint64_t kid;
    int encrypt, downlink, fmt, json;
};

static int parse_opts(const char *cmd, const char *usage, int argc, char **argv,
                      struct frame_opts *o)
{
    static const struct option opts[] = {{"secret", required_argument, NULL, 's'},
                                         {"mac-key", required_argument, NULL, 'm'},
                                         {"enc-key", required_argument, NULL, 'e'},
                                         {"device-id", required_argument, NULL, 'd'},
                                         {"kid", required_argument, NULL, 'k'},
                                         {"ctr", required_argument, NULL, 'c'},
                                         {"nonce", required_argument, NULL, 'n'},
                                         {"encrypt", no_argument, NULL, 'E'},
                                         {"direction", required_argument, NULL, 'D'},
                                         {"format", required_argument, NULL, 'f'},
                                         {"iv", required_argument, NULL, 'i'},
                                         {"out", required_argument, NULL, 'o'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c, rc;

    memset(o, 0, sizeof *o);
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's': o->secret = optarg; break;
        case 'm': o->mac_key = optarg; break;
        case 'e': o->enc_key = optarg; break;
        case 'd': o->device_id = optarg; break;
        case 'k':
            if ((rc = cli_parse_u64(cmd, "--kid", optarg, 255, &o->kid)) != CLI_OK)
                return rc;
            break;
        case 'c': o->ctr_s = optarg; break;
        case 'n': o->nonce_s = optarg; break;
        case 'E': o->encrypt = 1; break;
        case 'D':
            if (strcmp(optarg, "up") == 0)
                o->downlink = 0;
            else if (strcmp(optarg, "down") == 0)
                o->downlink = 1;
            else
                return cli_usage_error(cmd, "--direction: expected up or down, got '%s'", optarg);
            break;
        case 'f':
            if (strcmp(optarg, "binary") == 0)
                o->fmt = FMT_BINARY;
            else if (strcmp(optarg, "json") == 0)
                o->fmt = FMT_JSON;
            else if (strcmp(optarg, "ecowatt") == 0)
                o->fmt = FMT_ECOWATT;
            else
                return cli_usage_error(cmd, "--format: expected binary, json or ecowatt, got '%s'",
                                       optarg);
            break;
        case 'i': o->iv_hex = optarg; break;
        case 'o': o->out = optarg; break;
        case 'j': o->json = 1; break;
        case 'h': fputs(usage, stdout); return -1;
        default:
            return cli_usage_error(cmd, "invalid option '%s'",
                                   optind > 0 && optind <= argc ? argv[optind - 1] : "?");
        }
    }
    if (optind < argc)
        o->in = argv[optind++];
    if (optind != argc)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    return CLI_OK;
}

/* Claim standard input and output for the "-" arguments and the implicit streams. */
static int claim_stdio(const char *cmd, const struct frame_opts *o, const char *input,
                       const char *output, cli_stdio *io)
{
    int rc;

    if ((rc = cli_claim_stdin(cmd, io, "--secret", o->secret)) != CLI_OK ||
        (rc = cli_claim_stdin(cmd, io, "--mac-key", o->mac_key)) != CLI_OK ||
        (rc = cli_claim_stdin(cmd, io, "--enc-key", o->enc_key)) != CLI_OK ||
        (rc = cli_claim_stdin(cmd, io, o->in != NULL ? input : "the input (no file argument)",
                              o->in != NULL ? o->in : "-")) != CLI_OK)
        return rc;
    if (o->json && (rc = cli_claim_stdout(cmd, io, "--json", "-")) != CLI_OK)
        return rc;
    return cli_claim_stdout(cmd, io, o->out != NULL ? "--out" : output,
                            o->out != NULL ? o->out : "-");
}

/* Options that belong to the other profile are usage errors, not silently ignored. */
static int check_profile(const char *cmd, const struct frame_opts *o, const char *dir_opt_seen)
{
    if (o->fmt == FMT_ECOWATT) {
        if (o->secret != NULL)
            return cli_usage_error(cmd, "--secret is for v1 frames; ecowatt takes --mac-key");
        if (o->mac_key == NULL)
            return cli_usage_error(cmd, "--format ecowatt needs --mac-key");
        if (o->ctr_s != NULL || o->kid != 0 || o->encrypt || dir_opt_seen != NULL)
            return cli_usage_error(cmd, "--ctr, --kid, --encrypt and --direction are not "
                                        "part of the ecowatt profile (use --nonce, --enc-key)");
    } else {
        if (o->mac_key != NULL || o->enc_key != NULL || o->nonce_s != NULL)
            return cli_usage_error(cmd, "--mac-key, --enc-key and --nonce need --format ecowatt");
        if (o->secret == NULL)
            return cli_usage_error(cmd, "--secret is required");
    }
    return CLI_OK;
}

/* Was a --direction option given? (ecowatt has none.) */
static const char *direction_given(int argc, char **argv)
{
    int i;

    for (i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--direction", 11) == 0)
            return argv[i];
    }
    return NULL;
}

static int parse_iv(const char *cmd, const char *hex, uint8_t iv[16])
{
    size_t n = 0;

    if (strlen(hex) != 32 || iotsec_hex_decode(hex, 32, iv, 16, &n, 0) != IOTSEC_OK || n != 16)
        return cli_usage_error(cmd, "--iv: expected 32 hex digits, got '%s'", hex);
    return CLI_OK;
}

/* The secrets a profile needs, read from their raw files (lengths checked: exit 2). */
struct frame_secrets {
    uint8_t master[IOTSEC_FRAME_MASTER_LEN];
    uint8_t mac_key[IOTSEC_ECOWATT_MAC_KEY_LEN];
    uint8_t enc_key[IOTSEC_ECOWATT_ENC_KEY_LEN];
};

static int read_secrets(const struct frame_opts *o, struct frame_secrets *sec)
{
    int rc;

    memset(sec, 0, sizeof *sec);
    if (o->fmt != FMT_ECOWATT)
        return cli_read_secret(o->secret, sec->master, sizeof sec->master);
    rc = cli_read_secret(o->mac_key, sec->mac_key, sizeof sec->mac_key);
    if (rc == CLI_OK && o->enc_key != NULL)
        rc = cli_read_secret(o->enc_key, sec->enc_key, sizeof sec->enc_key);
    if (rc != CLI_OK)
        iotsec_zeroize(sec, sizeof *sec);
    return rc;
}

/* ---- seal ----------------------------------------------------------------------------------- */

static int frame_seal(int argc, char **argv)
{
    const char *cmd = "frame seal";
    struct frame_opts o;
    const iotsec_crypto *crypto;
    struct frame_secrets sec;
    uint8_t iv[16];
    uint8_t *payload = NULL, *out = NULL;
    size_t payload_len = 0, out_cap, out_len = 0, id_len;
    uint64_t ctr = 0;
    int rc, have_iv = 0, encrypt;
    cli_stdio io = {NULL, NULL};

    rc = parse_opts(cmd, seal_usage, argc, argv, &o);
    if (rc != CLI_OK)
        return rc < 0 ? CLI_OK : rc;
    if ((rc = check_profile(cmd, &o, direction_given(argc, argv))) != CLI_OK)
        return rc;
    if (o.json)
        return cli_usage_error(cmd, "--json is an option of 'frame open'");
    if ((rc = claim_stdio(cmd, &o, "the PAYLOAD argument", "the frame (no --out)", &io)) !=
        CLI_OK)
        return rc;
    if (o.device_id == NULL)
        return cli_usage_error(cmd, "--device-id is required");
    id_len = strlen(o.device_id);
    if (iotsec_device_id_check(o.device_id, id_len) != IOTSEC_OK)
        return cli_usage_error(cmd, "--device-id: 1-64 characters of [A-Za-z0-9._:@-], got '%s'",
                               o.device_id);
    encrypt = o.fmt == FMT_ECOWATT ? o.enc_key != NULL : o.encrypt;
    if (o.iv_hex != NULL) {
        if (!encrypt)
            return cli_usage_error(cmd, "--iv needs encryption (--encrypt, or --enc-key for ecowatt)");
        if ((rc = parse_iv(cmd, o.iv_hex, iv)) != CLI_OK)
            return rc;
        have_iv = 1;
    }
    if (o.fmt == FMT_ECOWATT) {
        if (o.nonce_s == NULL)
            return cli_usage_error(cmd, "--nonce is required with --format ecowatt");
        if ((rc = cli_parse_u64(cmd, "--nonce", o.nonce_s, IOTSEC_ECOWATT_NONCE_MAX, &ctr)) !=
            CLI_OK)
            return rc;
        if (ctr == 0)
            return cli_usage_error(cmd, "--nonce: must be at least 1");
    } else {
        if (o.ctr_s == NULL)
            return cli_usage_error(cmd, "--ctr is required");
        if ((rc = cli_parse_u64(cmd, "--ctr", o.ctr_s,
                                o.fmt == FMT_JSON ? IOTSEC_FRAME_JSON_CTR_MAX : UINT64_MAX,
                                &ctr)) != CLI_OK)
            return rc;
        if (ctr == 0)
            return cli_usage_error(cmd, "--ctr: must be at least 1");
    }
    if ((crypto = cli_crypto()) == NULL)
        return CLI_USAGE;
    if ((rc = read_secrets(&o, &sec)) != CLI_OK)
        return rc;
    rc = cli_read_file(o.in != NULL ? o.in : "-", CLI_INPUT_MAX, &payload, &payload_len);
    if (rc == CLI_OK && payload_len > IOTSEC_FRAME_PLAIN_MAX)
        rc = cli_error(CLI_REJECTED,
                       "frame seal: the payload has %zu bytes; a frame carries at most %u",
                       payload_len, IOTSEC_FRAME_PLAIN_MAX);
    if (rc == CLI_OK) {
        size_t field = encrypt ? (payload_len / 16u + 1u) * 16u : payload_len;
        out_cap = o.fmt == FMT_BINARY   ? IOTSEC_FRAME_SEALED_LEN(id_len, payload_len, encrypt)
                  : o.fmt == FMT_JSON ? IOTSEC_FRAME_JSON_LEN(id_len, field)
                                      : IOTSEC_ECOWATT_JSON_LEN(id_len, field);
        out = malloc(out_cap);
        if (out == NULL)
            rc = cli_error(CLI_IO, "out of memory");
    }
    if (rc == CLI_OK && o.fmt == FMT_ECOWATT) {
        iotsec_ecowatt_keys ek;
        int lrc = iotsec_ecowatt_keys_init(&ek, crypto, sec.mac_key,
                                           o.enc_key ? sec.enc_key : NULL);
        if (lrc == IOTSEC_OK)
            lrc = iotsec_ecowatt_seal(&ek, o.device_id, id_len, ctr, encrypt, have_iv ? iv : NULL,
                                      payload, payload_len, (char *)out, out_cap, &out_len);
        iotsec_ecowatt_keys_cleanup(&ek);
        if (lrc != IOTSEC_OK)
            rc = cli_fail(lrc, "frame seal");
    } else if (rc == CLI_OK) {
        iotsec_frame_keys keys;
        int lrc = iotsec_frame_keys_derive(&keys, crypto, sec.master, o.device_id, id_len,
                                           (uint8_t)o.kid,
                                           o.downlink ? IOTSEC_FRAME_DOWNLINK : IOTSEC_FRAME_UPLINK);
        if (lrc == IOTSEC_OK && o.fmt == FMT_BINARY)
            lrc = iotsec_frame_seal(&keys, ctr, encrypt, have_iv ? iv : NULL, payload,
                                    payload_len, out, out_cap, &out_len);
        else if (lrc == IOTSEC_OK)
            lrc = iotsec_frame_seal_json(&keys, ctr, encrypt, have_iv ? iv : NULL, payload,
                                         payload_len, (char *)out, out_cap, &out_len);
        iotsec_frame_keys_cleanup(&keys);
        if (lrc != IOTSEC_OK)
            rc = cli_fail(lrc, "frame seal");
    }
    if (rc == CLI_OK)
        rc = cli_write_output(o.out != NULL ? o.out : "-", out, out_len, 0644);
    iotsec_zeroize(&sec, sizeof sec);
    if (payload != NULL)
        iotsec_zeroize(payload, payload_len);
    free(payload);
    free(out);
    return rc;
}

/* ---- open ----------------------------------------------------------------------------------- */

/* Exit 1 for malformed input, naming the field and where it is. */
static int malformed(int lrc, const char *what, const char *field, size_t off, const char *unit)
{
    return cli_fail(lrc, "frame open: malformed %s: field '%s' at %s %zu", what,
                    field != NULL ? field : "?", unit, off);
}

/* The header JSON line of an opened frame: device id ≤ 64 characters of a JSON-safe
 * alphabet, so it always fits. */
#define HEADER_MAX 256

static int open_v1(const struct frame_opts *o, const iotsec_crypto *crypto,
                   const uint8_t master[32], const uint8_t *in, size_t in_len, uint8_t **out,
                   size_t *out_len, char header[HEADER_MAX])
{
    iotsec_frame_header h;
    iotsec_frame_keys keys;
    const char *kind = o->fmt == FMT_JSON ? "JSON frame" : "frame";
    const char *unit = o->fmt == FMT_JSON ? "character" : "byte";
    iotsec_frame_direction want = o->downlink ? IOTSEC_FRAME_DOWNLINK : IOTSEC_FRAME_UPLINK;
    int lrc;

    /* untrusted header: only to pick the keys */
    lrc = o->fmt == FMT_JSON ? iotsec_frame_peek_json((const char *)in, in_len, &h)
                             : iotsec_frame_peek(in, in_len, &h);
    if (lrc != IOTSEC_OK)
        return malformed(lrc, kind, h.err_field, h.err_offset, unit);
    *out = malloc(h.payload_len > 0 ? h.payload_len : 1u);
    if (*out == NULL)
        return cli_error(CLI_IO, "out of memory");
    lrc = iotsec_frame_keys_derive(&keys, crypto, master, h.device_id, h.device_id_len, h.kid,
                                   want);
    if (lrc == IOTSEC_OK)
        lrc = o->fmt == FMT_JSON
                  ? iotsec_frame_open_json(&keys, (const char *)in, in_len, &h, *out,
                                           h.payload_len, out_len)
                  : iotsec_frame_open(&keys, in, in_len, &h, *out, h.payload_len, out_len);
    iotsec_frame_keys_cleanup(&keys);
    if (lrc == IOTSEC_E_BAD_MAC && h.direction != (uint8_t)want)
        return cli_fail(lrc, "frame open: %s from device '%s' (its unauthenticated header says "
                             "%s, but --direction is %s)",
                        kind, h.device_id, h.direction ? "down" : "up", o->downlink ? "down" : "up");
    if (lrc != IOTSEC_OK)
        return cli_fail(lrc, "frame open: %s from device '%s', kid %u, ctr %llu", kind,
                        h.device_id, (unsigned)h.kid, (unsigned long long)h.ctr);
    snprintf(header, HEADER_MAX,
            "{\"v\":%u,\"device_id\":\"%s\",\"kid\":%u,\"ctr\":%llu,\"dir\":\"%s\","
            "\"encrypted\":%s}\n",
            (unsigned)h.version, h.device_id, (unsigned)h.kid, (unsigned long long)h.ctr,
            h.direction ? "down" : "up", h.encrypted ? "true" : "false");
    return CLI_OK;
}

static int open_ecowatt(const iotsec_crypto *crypto, const uint8_t mac_key[32],
                        const uint8_t *enc_key, const uint8_t *in, size_t in_len,
                        uint8_t **out, size_t *out_len, char header[HEADER_MAX])
{
    iotsec_ecowatt_header h;
    iotsec_ecowatt_keys keys;
    int lrc;

    lrc = iotsec_ecowatt_peek((const char *)in, in_len, &h);
    if (lrc != IOTSEC_OK)
        return malformed(lrc, "ecowatt frame", h.err_field, h.err_offset, "character");
    *out = malloc(h.payload_len > 0 ? h.payload_len : 1u);
    if (*out == NULL)
        return cli_error(CLI_IO, "out of memory");
    lrc = iotsec_ecowatt_keys_init(&keys, crypto, mac_key, enc_key);
    if (lrc == IOTSEC_OK)
        lrc = iotsec_ecowatt_open(&keys, (const char *)in, in_len, &h, *out, h.payload_len,
                                  out_len);
    iotsec_ecowatt_keys_cleanup(&keys);
    if (lrc == IOTSEC_E_POLICY)
        return cli_fail(lrc, "frame open: ecowatt frame from '%s' is encrypted and no --enc-key "
                             "was given",
                        h.device_id);
    if (lrc != IOTSEC_OK)
        return cli_fail(lrc, "frame open: ecowatt frame from device '%s', nonce %llu",
                        h.device_id, (unsigned long long)h.nonce);
    snprintf(header, HEADER_MAX,
             "{\"format\":\"ecowatt\",\"device_id\":\"%s\",\"nonce\":%llu,\"encrypted\":%s}\n",
            h.device_id, (unsigned long long)h.nonce, h.encrypted ? "true" : "false");
    return CLI_OK;
}

static int frame_open(int argc, char **argv)
{
    const char *cmd = "frame open";
    struct frame_opts o;
    const iotsec_crypto *crypto;
    struct frame_secrets sec;
    uint8_t *in = NULL, *out = NULL;
    size_t in_len = 0, out_len = 0;
    char header[HEADER_MAX] = "";
    int rc;
    cli_stdio io = {NULL, NULL};

    rc = parse_opts(cmd, open_usage, argc, argv, &o);
    if (rc != CLI_OK)
        return rc < 0 ? CLI_OK : rc;
    if ((rc = check_profile(cmd, &o, direction_given(argc, argv))) != CLI_OK)
        return rc;
    if (o.device_id != NULL || o.ctr_s != NULL || o.nonce_s != NULL || o.kid != 0 ||
        o.encrypt || o.iv_hex != NULL)
        return cli_usage_error(cmd, "--device-id, --kid, --ctr, --nonce, --encrypt and --iv are "
                                    "seal options (open reads them from the frame)");
    if (o.json && (o.out == NULL || cli_is_dash(o.out)))
        return cli_usage_error(cmd, "--json prints the header on standard output: give the "
                                    "payload a file with --out PAYLOAD (not '-'; /dev/null "
                                    "discards it)");
    if ((rc = claim_stdio(cmd, &o, "the FRAME argument", "the payload (no --out)", &io)) !=
        CLI_OK)
        return rc;
    if ((crypto = cli_crypto()) == NULL)
        return CLI_USAGE;
    if ((rc = read_secrets(&o, &sec)) != CLI_OK)
        return rc;
    rc = cli_read_file(o.in != NULL ? o.in : "-", CLI_INPUT_MAX, &in, &in_len);
    if (rc == CLI_OK)
        rc = o.fmt == FMT_ECOWATT
                 ? open_ecowatt(crypto, sec.mac_key, o.enc_key ? sec.enc_key : NULL, in, in_len,
                                &out, &out_len, header)
                 : open_v1(&o, crypto, sec.master, in, in_len, &out, &out_len, header);
    if (rc == CLI_OK)
        rc = cli_write_output(o.out != NULL ? o.out : "-", out, out_len, 0600);
    if (rc == CLI_OK) {
        /* the header after the payload is stored: --json output means "opened and written" */
        FILE *hf = o.json ? stdout : stderr;
        if (fputs(header, hf) < 0 || fflush(hf) != 0)
            rc = cli_error(CLI_IO, "writing %s: %s", o.json ? "standard output" : "standard error",
                           strerror(errno));
    }
    iotsec_zeroize(&sec, sizeof sec);
    if (out != NULL)
        iotsec_zeroize(out, out_len);
    free(in);
    free(out);
    return rc;
}

int cmd_frame(int argc, char **argv)
{
    if (argc < 2) {
        fputs(frame_usage, stderr);
        return CLI_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(frame_usage, stdout);
        return CLI_OK;
    }
    if (strcmp(argv[1], "seal") == 0)
        return frame_seal(argc - 1, argv + 1);
    if (strcmp(argv[1], "open") == 0)
        return frame_open(argc - 1, argv + 1);
    return cli_usage_error("frame", "unknown frame command '%s' (seal or open)", argv[1]);
}
