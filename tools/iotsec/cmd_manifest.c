/* iotsec manifest sign | verify | show (docs/DESIGN.md §6, §9). Every decision is a libiotsec
 * call; this file reads files, streams images through the library and prints results. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define IO_CHUNK 65536u  /* bytes read from an image or payload file per step */
#define MAX_TRUST 16     /* --trust options accepted */

static const char manifest_usage[] =
    "Usage: iotsec manifest sign|verify|show [options]\n"
    "Exit status: 0 success/accepted, 1 rejected, 2 usage, 3 I/O.\n"
    "Firmware manifests v1 (bindings-spec/SPEC.md section 7). 'iotsec manifest <cmd> --help' for each.\n";

static const char sign_usage[] =
    "Usage: iotsec manifest sign --key KEY.pem --image FW.bin --version V\n"
    "                            --security-counter N --class C [--device-id D]\n"
    "                            [--not-after UNIX] [--chunk-size N] [--uri U]\n"
    "                            [--description TEXT]\n"
    "                            [--encrypt-key FWKEY.bin --payload-out FW.enc] --out M\n"
    "Sign a manifest for the image FW.bin with KEY.pem and write it to M.\n"
    "  --key KEY.pem          the signing key, PEM or DER, PKCS#8 or traditional: Ed25519,\n"
    "                         ECDSA P-256 or RSA (signs RSA-PSS); the key decides the algorithm\n"
    "  --image FW.bin         the firmware image, streamed (1 byte to 4 GiB)\n"
    "  --version V            the version string, 1-32 bytes of UTF-8\n"
    "  --security-counter N   anti-rollback counter, 0 .. 2^64-2\n"
    "  --class C              the device class, 1-64 bytes\n"
    "  --device-id D          bind the manifest to one device, 1-64 bytes (default: unbound)\n"
    "  --not-after UNIX       expiry in Unix seconds (default: none)\n"
    "  --chunk-size N         download chunk size hint, 256-65536 (default: none)\n"
    "  --uri U                where the payload is published, 1-256 bytes (default: none)\n"
    "  --description TEXT     free text, not critical (default: none; the whole body must\n"
    "                         stay within 3072 bytes)\n"
    "  --encrypt-key FWKEY.bin  a raw 32-byte AES-256 key: encrypt the image with\n"
    "                         AES-256-CBC/PKCS#7 under a random IV; the manifest carries the\n"
    "                         encryption, the payload size and the payload digest\n"
    "  --payload-out FW.enc   where the encrypted payload goes (needs --encrypt-key; mode 0644,\n"
    "                         written to a temporary file and renamed)\n"
    "  --out M                the signed manifest (mode 0644, replaced atomically)\n"
    "Inputs (--key, --image, --encrypt-key) may be '-' for standard input and outputs\n"
    "(--out, --payload-out) '-' for standard output, one of each at most; the summary line\n"
    "then goes to standard error. A payload streamed to standard output may be incomplete\n"
    "when the exit status is not 0.\n"
    "Exit status: 0 signed; 2 usage, including field values the manifest format refuses\n"
    "(e.g. --chunk-size outside 256-65536, an empty image) and a key file of the wrong\n"
    "length; 1 an unusable signing key; 3 I/O.\n";

static const char verify_usage[] =
    "Usage: iotsec manifest verify --trust PUB.pem [--trust PUB2.pem ...]\n"
    "                              (--image FW.bin | --payload FW.enc --decrypt-key FWKEY.bin)\n"
    "                              [--class C] [--device-id D] [--min-counter N]\n"
    "                              [--now UNIX] M\n"
    "Verify manifest M against the trusted keys, check the policy, then stream the image\n"
    "or the encrypted payload and compare sizes and digests.\n"
    "  --trust PUB.pem        a trusted public key, PEM or DER (SPKI, PKCS#1 or a certificate);\n"
    "                         up to 16, which allows key rotation (required)\n"
    "  --image FW.bin         the plain image (a manifest without encryption)\n"
    "  --payload FW.enc       the encrypted payload (an encrypted manifest), with\n"
    "  --decrypt-key FWKEY.bin  the raw 32-byte AES-256 firmware key\n"
    "  --class C              require this device class (default: not checked)\n"
    "  --device-id D          the device verifying; a manifest bound to another device, or\n"
    "                         bound to any device when this is absent, is refused\n"
    "  --min-counter N        require security_counter >= N (default: not checked)\n"
    "  --now UNIX             the time for the not_after check (default: the system clock)\n"
    "Skipped policy checks are named on standard error. Any one input (a --trust key,\n"
    "--image, --payload, --decrypt-key or M) may be '-' for standard input.\n"
    "Exit status: 0 accepted; 1 rejected (stderr names the IOTSEC_E_* code: signature,\n"
    "unknown key, policy, expired, digest or size mismatch, malformed manifest); 2 usage;\n"
    "3 I/O.\n";

static const char show_usage[] =
    "Usage: iotsec manifest show M\n"
    "Print the fields of manifest M ('-': standard input) as one JSON object on stdout:\n"
    "format, sig_alg, key_id, security_counter, version, device_class, image_size,\n"
    "image_digest and, when present, device_id, not_after (Unix seconds) with not_after_iso\n"
    "(ISO 8601 UTC), encryption {alg, key_id, iv}, payload_size, payload_digest, chunk_size,\n"
    "uri, description. Digests, key ids and the IV are lowercase hex. The signature is NOT\n"
    "checked (use 'iotsec manifest verify'); the format rules are.\n"
    "Exit status: 0 shown; 1 malformed; 2 usage; 3 I/O.\n";

/* ---- helpers ---------------------------------------------------------------------------- */

static void hex_print(FILE *f, const uint8_t *b, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        fprintf(f, "%02x", b[i]);
}

/* A JSON string of arbitrary bytes: UTF-8 text is kept, with ", \ and control characters
 * escaped; a value that is not UTF-8 has each byte ≥ 0x80 written as \u00XX. */
static void json_str(FILE *f, const uint8_t *s, size_t n)
{
    int utf8 = iotsec_manifest_utf8_check(s, n) == IOTSEC_OK;
    size_t i;

    fputc('"', f);
    for (i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8))
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void json_hex(FILE *f, const char *name, const uint8_t *b, size_t n)
{
    fprintf(f, ", \"%s\": \"", name);
    hex_print(f, b, n);
    fputc('"', f);
}

/* Stream a file through fn in IO_CHUNK steps. Returns CLI_OK, CLI_IO (message printed), or
 * the library error of fn (negative). */
typedef int (*chunk_fn)(void *arg, const uint8_t *data, size_t len);

static int stream_file(const char *path, chunk_fn fn, void *arg)
{
    uint8_t *buf = malloc(IO_CHUNK);
    FILE *f = cli_stream_open(path);
    int rc = CLI_OK;

    if (buf == NULL || f == NULL) {
        rc = cli_error(CLI_IO, "%s: %s", cli_in(path),
                       buf == NULL ? "out of memory" : strerror(errno));
        goto out;
    }
    for (;;) {
        size_t n = fread(buf, 1, IO_CHUNK, f);
        if (n > 0 && (rc = fn(arg, buf, n)) != IOTSEC_OK)
            break;
        if (n < IO_CHUNK) {
            if (ferror(f))
                rc = cli_error(CLI_IO, "reading %s: %s", cli_in(path), strerror(errno));
            break;
        }
    }
out:
    cli_stream_close(f);
    free(buf);
    return rc;
}

/* ---- sign ---------------------------------------------------------------------------------- */

struct sign_state {
    iotsec_sha256_ctx hash;          /* plain image */
    iotsec_image_encrypt_ctx enc;    /* encrypted image */
    int encrypt;
    uint64_t size;
    FILE *payload;                   /* encrypted: the temporary payload file */
    const char *payload_path;
    uint8_t *out;                    /* IO_CHUNK + 16 bytes of ciphertext */
};

static int sign_chunk(void *arg, const uint8_t *data, size_t len)
{
    struct sign_state *s = (struct sign_state *)arg;
    size_t got = 0;
    int rc;

    if (!s->encrypt) {
        if (len > IOTSEC_MANIFEST_IMAGE_MAX - s->size)
            return IOTSEC_E_BAD_VALUE;
        s->size += len;
        return iotsec_sha256_update(&s->hash, data, len);
    }
    rc = iotsec_image_encrypt_update(&s->enc, data, len, s->out, IO_CHUNK + 16u, &got);
    if (rc == IOTSEC_OK && got > 0 && fwrite(s->out, 1, got, s->payload) != got)
        return cli_error(CLI_IO, "writing %s: %s", cli_out(s->payload_path), strerror(errno));
    return rc;
}

/* Open "<path>.tmp.<pid>" for the payload, mode 0644. */
static FILE *open_temp(const char *path, char *tmp, size_t cap)
{
    int fd, n = snprintf(tmp, cap, "%s.tmp.%ld", path, (long)getpid());
    FILE *f;

    if (n < 0 || (size_t)n >= cap)
        return NULL;
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return NULL;
    f = fdopen(fd, "wb");
    if (f == NULL) {
        close(fd);
        unlink(tmp);
    }
    return f;
}

/* Flush, sync and close the temporary payload and move it over path. */
static int commit_temp(FILE *f, const char *tmp, const char *path)
{
    int ok = fflush(f) == 0 && fsync(fileno(f)) == 0;

    if (fclose(f) != 0)
        ok = 0;
    if (ok && rename(tmp, path) != 0)
        ok = 0;
    if (!ok) {
        int saved = errno;
        unlink(tmp);
        return cli_error(CLI_IO, "writing %s: %s", path, strerror(saved));
    }
    return CLI_OK;
}

static int manifest_sign(int argc, char **argv)
{
    static const struct option opts[] = {
        {"key", required_argument, NULL, 'k'},         {"image", required_argument, NULL, 'i'},
        {"version", required_argument, NULL, 'v'},     {"security-counter", required_argument, NULL, 'n'},
        {"class", required_argument, NULL, 'c'},       {"device-id", required_argument, NULL, 'd'},
        {"not-after", required_argument, NULL, 'a'},   {"chunk-size", required_argument, NULL, 's'},
        {"encrypt-key", required_argument, NULL, 'e'}, {"payload-out", required_argument, NULL, 'p'},
        {"uri", required_argument, NULL, 'u'},         {"description", required_argument, NULL, 'D'},
        {"out", required_argument, NULL, 'o'},         {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *key = NULL, *image = NULL, *version = NULL, *cls = NULL, *device_id = NULL;
    const char *enc_key = NULL, *payload_out = NULL, *uri = NULL, *desc = NULL, *out = NULL;
    uint64_t counter = 0, not_after = 0, chunk = 0;
    int have_counter = 0, have_not_after = 0, have_chunk = 0, c, rc;
    const iotsec_crypto *crypto;
    iotsec_manifest_fields f;
    iotsec_image_encrypt_result er;
    struct sign_state st;
    iotsec_privkey sk;
    uint8_t fw_key[IOTSEC_FW_KEY_LEN], iv[IOTSEC_AES_BLOCK_LEN], digest[IOTSEC_SHA256_LEN];
    uint8_t mbuf[IOTSEC_MANIFEST_MAX_LEN], key_id[IOTSEC_KEY_ID_LEN];
    size_t mlen = 0, got = 0;
    char tmp[4096];
    cli_stdio io = {NULL, NULL};
    FILE *info;

    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'k': key = optarg; break;
        case 'i': image = optarg; break;
        case 'v': version = optarg; break;
        case 'n':
            if ((rc = cli_parse_u64("manifest sign", "--security-counter", optarg, UINT64_MAX,
                                    &counter)) != CLI_OK)
                return rc;
            have_counter = 1;
            break;
        case 'c': cls = optarg; break;
        case 'd': device_id = optarg; break;
        case 'a':
            if ((rc = cli_parse_u64("manifest sign", "--not-after", optarg, UINT64_MAX,
                                    &not_after)) != CLI_OK)
                return rc;
            have_not_after = 1;
            break;
        case 's':
            if ((rc = cli_parse_u64("manifest sign", "--chunk-size", optarg, UINT32_MAX,
                                    &chunk)) != CLI_OK)
                return rc;
            have_chunk = 1;
            break;
        case 'e': enc_key = optarg; break;
        case 'p': payload_out = optarg; break;
        case 'u': uri = optarg; break;
        case 'D': desc = optarg; break;
        case 'o': out = optarg; break;
        case 'h': fputs(sign_usage, stdout); return CLI_OK;
        default: return cli_usage_error("manifest sign", "invalid option");
        }
    }
    if (optind != argc)
        return cli_usage_error("manifest sign", "unexpected argument '%s'", argv[optind]);
    if (key == NULL || image == NULL || version == NULL || !have_counter || cls == NULL ||
        out == NULL)
        return cli_usage_error("manifest sign", "--key, --image, --version, --security-counter, "
                                                "--class and --out are required");
    if ((enc_key == NULL) != (payload_out == NULL))
        return cli_usage_error("manifest sign", "--encrypt-key and --payload-out go together");
    if ((rc = cli_claim_stdin("manifest sign", &io, "--key", key)) != CLI_OK ||
        (rc = cli_claim_stdin("manifest sign", &io, "--image", image)) != CLI_OK ||
        (rc = cli_claim_stdin("manifest sign", &io, "--encrypt-key", enc_key)) != CLI_OK ||
        (rc = cli_claim_stdout("manifest sign", &io, "--payload-out", payload_out)) != CLI_OK ||
        (rc = cli_claim_stdout("manifest sign", &io, "--out", out)) != CLI_OK)
        return rc;
    if ((crypto = cli_crypto()) == NULL)
        return CLI_USAGE;

    /* the fields known before the image is read: refuse bad values before any work */
    memset(&f, 0, sizeof f);
    memset(digest, 0, sizeof digest);
    f.security_counter = counter;
    f.version = (const uint8_t *)version;
    f.version_len = strlen(version);
    f.device_class = (const uint8_t *)cls;
    f.device_class_len = strlen(cls);
    f.image_size = 1;
    f.image_digest = digest;
    if (device_id != NULL) {
        f.present |= IOTSEC_MF_DEVICE_ID;
        f.device_id = (const uint8_t *)device_id;
        f.device_id_len = strlen(device_id);
    }
    if (have_not_after) {
        f.present |= IOTSEC_MF_NOT_AFTER;
        f.not_after = not_after;
    }
    if (have_chunk) {
        f.present |= IOTSEC_MF_CHUNK_SIZE;
        f.chunk_size = (uint32_t)chunk;
    }
    if (uri != NULL) {
        f.present |= IOTSEC_MF_URI;
        f.uri = (const uint8_t *)uri;
        f.uri_len = strlen(uri);
    }
    if (desc != NULL) {
        f.present |= IOTSEC_MF_DESCRIPTION;
        f.description = (const uint8_t *)desc;
        f.description_len = strlen(desc);
    }
    if (enc_key != NULL) { /* placeholders of the right shape: the body length counts them */
        f.present |= IOTSEC_MF_ENCRYPTION;
        f.enc_alg = IOTSEC_ENC_AES256_CBC;
        f.enc_key_id = digest;
        f.enc_iv = digest;
        f.payload_size = IOTSEC_AES_BLOCK_LEN;
        f.payload_digest = digest;
    }
    if ((rc = iotsec_manifest_fields_check(&f)) != IOTSEC_OK) {
        cli_fail(rc, "manifest sign: the options describe an invalid manifest");
        return CLI_USAGE;
    }
    if (enc_key != NULL && (rc = cli_read_secret(enc_key, fw_key, sizeof fw_key)) != CLI_OK)
        return rc;

    rc = cli_privkey_load(&sk, crypto, key);
    if (rc != IOTSEC_OK) {
        iotsec_zeroize(fw_key, sizeof fw_key);
        return cli_fail(rc, "manifest sign: signing key %s", cli_in(key));
    }

    /* stream the image: hash it, or encrypt it into a temporary payload file */
    memset(&st, 0, sizeof st);
    st.encrypt = enc_key != NULL;
    st.payload_path = payload_out;
    if (st.encrypt) {
        st.out = malloc(IO_CHUNK + 16u);
        rc = st.out != NULL ? iotsec_random(crypto, iv, sizeof iv) : IOTSEC_E_NO_MEMORY;
        if (rc == IOTSEC_OK)
            rc = iotsec_image_encrypt_init(&st.enc, crypto, fw_key, iv);
        iotsec_zeroize(fw_key, sizeof fw_key);
        if (rc == IOTSEC_OK && cli_is_dash(payload_out))
            st.payload = stdout; /* streamed: no temporary file */
        else if (rc == IOTSEC_OK &&
                 (st.payload = open_temp(payload_out, tmp, sizeof tmp)) == NULL)
            rc = cli_error(CLI_IO, "%s: cannot create a temporary file: %s", payload_out,
                           strerror(errno));
    } else {
        rc = iotsec_sha256_init(&st.hash, crypto);
    }
    if (rc == IOTSEC_OK)
        rc = stream_file(image, sign_chunk, &st);
    if (rc == IOTSEC_OK && st.encrypt) {
        rc = iotsec_image_encrypt_final(&st.enc, st.out, IO_CHUNK + 16u, &got, &er);
        if (rc == IOTSEC_OK && fwrite(st.out, 1, got, st.payload) != got)
            rc = cli_error(CLI_IO, "writing %s: %s", cli_out(payload_out), strerror(errno));
        if (rc == IOTSEC_OK) {
            f.present |= IOTSEC_MF_ENCRYPTION;
            f.image_size = er.image_size;
            memcpy(digest, er.image_digest, sizeof digest);
            f.enc_alg = IOTSEC_ENC_AES256_CBC;
            f.enc_key_id = er.key_id;
            f.enc_iv = er.iv;
            f.payload_size = er.payload_size;
            f.payload_digest = er.payload_digest;
        }
    } else if (rc == IOTSEC_OK) {
        f.image_size = st.size;
        rc = iotsec_sha256_final(&st.hash, digest);
    }
    if (rc == IOTSEC_OK)
        rc = iotsec_manifest_sign(&f, &sk, mbuf, sizeof mbuf, &mlen);
    if (rc == IOTSEC_OK)
        rc = iotsec_privkey_key_id(&sk, key_id);
    iotsec_privkey_free(&sk);
    iotsec_sha256_cleanup(&st.hash);
    iotsec_image_encrypt_cleanup(&st.enc);
    free(st.out);

    if (st.payload == stdout) {
        if (fflush(stdout) != 0 && rc == IOTSEC_OK)
            rc = cli_error(CLI_IO, "writing standard output: %s", strerror(errno));
    } else if (st.payload != NULL) {
        if (rc == IOTSEC_OK) {
            rc = commit_temp(st.payload, tmp, payload_out);
        } else {
            fclose(st.payload);
            unlink(tmp);
        }
    }
    /* the options passed the field check: only the image size can be out of range now */
    if (rc == IOTSEC_E_BAD_VALUE || rc == IOTSEC_E_BAD_LENGTH) {
        cli_fail(rc, "manifest sign: %s: an image must have 1 to 2^32 bytes", cli_in(image));
        return CLI_USAGE;
    }
    if (rc < 0)
        return cli_fail(rc, "manifest sign");
    if (rc != CLI_OK)
        return rc;
    if ((rc = cli_write_output(out, mbuf, mlen, 0644)) != CLI_OK)
        return rc;
    info = cli_info(&io);
    fprintf(info, "signed %s: %s, key_id ", cli_out(out), iotsec_sig_alg_name(mbuf[5]));
    hex_print(info, key_id, sizeof key_id);
    fprintf(info, ", version %s, security_counter %llu, image_size %llu", version,
            (unsigned long long)counter, (unsigned long long)f.image_size);
    if (st.encrypt)
        fprintf(info, ", payload %s (%llu bytes, aes-256-cbc)", cli_out(payload_out),
                (unsigned long long)f.payload_size);
    fprintf(info, "\n");
    return CLI_OK;
}

/* ---- verify ------------------------------------------------------------------------------ */

struct verify_state {
    iotsec_image_verify_ctx ctx;
    uint8_t *out; /* IO_CHUNK + 16 bytes: decrypted plaintext, discarded */
};

static int verify_chunk(void *arg, const uint8_t *data, size_t len)
{
    struct verify_state *s = (struct verify_state *)arg;
    size_t got = 0;

    return iotsec_image_verify_update(&s->ctx, data, len, s->out, IO_CHUNK + 16u, &got);
}

static int manifest_verify(int argc, char **argv)
{
    static const struct option opts[] = {
        {"trust", required_argument, NULL, 't'},       {"image", required_argument, NULL, 'i'},
        {"payload", required_argument, NULL, 'p'},     {"decrypt-key", required_argument, NULL, 'k'},
        {"class", required_argument, NULL, 'c'},       {"device-id", required_argument, NULL, 'd'},
        {"min-counter", required_argument, NULL, 'm'}, {"now", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},              {NULL, 0, NULL, 0}};
    const char *trust[MAX_TRUST], *image = NULL, *payload = NULL, *dec_key = NULL;
    const char *cls = NULL, *device_id = NULL, *mpath;
    uint64_t min_counter = 0, now = 0;
    int have_min = 0, have_now = 0, ntrust = 0, nloaded = 0, c, rc, i;
    const iotsec_crypto *crypto;
    iotsec_pubkey keys[MAX_TRUST];
    iotsec_trust_store ts;
    iotsec_device_policy pol;
    iotsec_manifest m;
    struct verify_state vs;
    uint8_t fw_key[IOTSEC_FW_KEY_LEN], *mbuf = NULL;
    size_t mlen = 0, got = 0;
    const uint8_t *data_key = NULL;
    const char *data_path;
    cli_stdio io = {NULL, NULL};

    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            if (ntrust == MAX_TRUST)
                return cli_usage_error("manifest verify", "at most %d --trust keys", MAX_TRUST);
            trust[ntrust++] = optarg;
            break;
        case 'i': image = optarg; break;
        case 'p': payload = optarg; break;
        case 'k': dec_key = optarg; break;
        case 'c': cls = optarg; break;
        case 'd': device_id = optarg; break;
        case 'm':
            if ((rc = cli_parse_u64("manifest verify", "--min-counter", optarg, UINT64_MAX,
                                    &min_counter)) != CLI_OK)
                return rc;
            have_min = 1;
            break;
        case 'n':
            if ((rc = cli_parse_u64("manifest verify", "--now", optarg, UINT64_MAX, &now)) !=
                CLI_OK)
                return rc;
            have_now = 1;
            break;
        case 'h': fputs(verify_usage, stdout); return CLI_OK;
        default: return cli_usage_error("manifest verify", "invalid option");
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error("manifest verify", "exactly one manifest file is required");
    mpath = argv[optind];
    if (ntrust == 0)
        return cli_usage_error("manifest verify", "at least one --trust key is required");
    if ((image == NULL) == (payload == NULL))
        return cli_usage_error("manifest verify", "give either --image or --payload");
    if ((payload == NULL) != (dec_key == NULL))
        return cli_usage_error("manifest verify", "--payload and --decrypt-key go together");
    if (cls != NULL && (strlen(cls) < 1 || strlen(cls) > IOTSEC_MANIFEST_CLASS_MAX))
        return cli_usage_error("manifest verify", "--class: 1 to %u bytes",
                               IOTSEC_MANIFEST_CLASS_MAX);
    for (i = 0; i < ntrust; i++) {
        if ((rc = cli_claim_stdin("manifest verify", &io, "--trust", trust[i])) != CLI_OK)
            return rc;
    }
    if ((rc = cli_claim_stdin("manifest verify", &io, "--image", image)) != CLI_OK ||
        (rc = cli_claim_stdin("manifest verify", &io, "--payload", payload)) != CLI_OK ||
        (rc = cli_claim_stdin("manifest verify", &io, "--decrypt-key", dec_key)) != CLI_OK ||
        (rc = cli_claim_stdin("manifest verify", &io, "the manifest M", mpath)) != CLI_OK)
        return rc;
    if ((crypto = cli_crypto()) == NULL)
        return CLI_USAGE;
    if (dec_key != NULL) {
        if ((rc = cli_read_secret(dec_key, fw_key, sizeof fw_key)) != CLI_OK)
            return rc;
        data_key = fw_key;
    }

    for (i = 0; i < ntrust; i++) {
        rc = cli_pubkey_load(&keys[i], crypto, trust[i]);
        if (rc != IOTSEC_OK) {
            rc = cli_fail(rc, "manifest verify: trusted key %s", cli_in(trust[i]));
            goto out;
        }
        nloaded++;
    }
    rc = iotsec_trust_store_init(&ts, keys, (size_t)ntrust);
    if (rc != IOTSEC_OK) {
        rc = cli_fail(rc, "manifest verify: the trusted keys (two share a key id?)");
        goto out;
    }
    if ((rc = cli_read_file(mpath, CLI_INPUT_MAX, &mbuf, &mlen)) != CLI_OK)
        goto out;

    /* 1. signature, then the body */
    rc = iotsec_manifest_verify(&ts, mbuf, mlen, &m);
    if (rc != IOTSEC_OK) {
        rc = cli_fail(rc, "manifest verify: %s", cli_in(mpath));
        goto out;
    }
    /* 2. policy */
    memset(&pol, 0, sizeof pol);
    if (cls != NULL) {
        pol.device_class = (const uint8_t *)cls;
        pol.device_class_len = strlen(cls);
    } else {
        pol.skip |= IOTSEC_POLICY_SKIP_CLASS;
    }
    if (device_id != NULL) {
        pol.device_id = (const uint8_t *)device_id;
        pol.device_id_len = strlen(device_id);
    }
    if (have_min)
        pol.stored_counter = min_counter;
    else
        pol.skip |= IOTSEC_POLICY_SKIP_COUNTER;
    pol.now = have_now ? now : (uint64_t)time(NULL);
    if (cls == NULL || !have_min)
        fprintf(stderr, "iotsec: note: policy checks skipped: %s%s%s\n",
                cls == NULL ? "device class (no --class)" : "",
                cls == NULL && !have_min ? ", " : "",
                !have_min ? "security counter (no --min-counter)" : "");
    if (device_id == NULL)
        fprintf(stderr, "iotsec: note: no --device-id: a manifest bound to a device is "
                        "refused\n");
    rc = iotsec_manifest_check_policy(&m, &pol);
    if (rc != IOTSEC_OK) {
        rc = cli_fail(rc, "manifest verify: %s: policy", cli_in(mpath));
        goto out;
    }
    /* 3. the image or payload, streamed */
    memset(&vs, 0, sizeof vs);
    data_path = payload != NULL ? payload : image;
    rc = iotsec_image_verify_init(&vs.ctx, crypto, &m, data_key,
                                  data_key != NULL ? sizeof fw_key : 0);
    if (rc == IOTSEC_E_UNKNOWN_KEY && data_key == NULL) {
        rc = cli_fail(rc, "manifest verify: %s is encrypted: give --payload and --decrypt-key, "
                          "not --image", cli_in(mpath));
        goto out;
    }
    if (rc == IOTSEC_E_POLICY) {
        rc = cli_fail(rc, "manifest verify: %s is not encrypted: give --image, not --payload",
                      cli_in(mpath));
        goto out;
    }
    if (rc != IOTSEC_OK) {
        rc = cli_fail(rc, "manifest verify: %s", cli_in(data_key != NULL ? dec_key : mpath));
        goto out;
    }
    vs.out = malloc(IO_CHUNK + 16u);
    rc = vs.out != NULL ? stream_file(data_path, verify_chunk, &vs)
                        : cli_error(CLI_IO, "out of memory");
    if (rc == IOTSEC_OK)
        rc = iotsec_image_verify_final(&vs.ctx, vs.out, IO_CHUNK + 16u, &got);
    iotsec_image_verify_cleanup(&vs.ctx);
    free(vs.out);
    if (rc < 0) {
        rc = cli_fail(rc, "manifest verify: %s does not match the manifest",
                      cli_in(data_path));
        goto out;
    }
    if (rc != CLI_OK)
        goto out;
    printf("verified %s: %s, key_id ", cli_in(mpath), iotsec_sig_alg_name((int)m.sig_alg));
    hex_print(stdout, m.key_id, IOTSEC_KEY_ID_LEN);
    printf(", version %.*s, security_counter %llu, image_size %llu%s\n", (int)m.f.version_len,
           (const char *)m.f.version, (unsigned long long)m.f.security_counter,
           (unsigned long long)m.f.image_size,
           (m.f.present & IOTSEC_MF_ENCRYPTION) ? ", payload decrypted" : "");
    rc = CLI_OK;
out:
    for (i = 0; i < nloaded; i++)
        iotsec_pubkey_free(&keys[i]);
    iotsec_zeroize(fw_key, sizeof fw_key);
    free(mbuf);
    return rc;
}

/* ---- show -------------------------------------------------------------------------------------- */

static int manifest_show(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const iotsec_manifest_fields *f;
    iotsec_manifest m;
    uint8_t *buf = NULL;
    size_t len = 0;
    int c, rc;

    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'h': fputs(show_usage, stdout); return CLI_OK;
        default: return cli_usage_error("manifest show", "invalid option");
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error("manifest show", "exactly one manifest file is required");
    if ((rc = cli_read_file(argv[optind], CLI_INPUT_MAX, &buf, &len)) != CLI_OK)
        return rc;
    rc = iotsec_manifest_parse_unverified(buf, len, &m);
    if (rc != IOTSEC_OK) {
        free(buf);
        return cli_fail(rc, "manifest show: %s", cli_in(argv[optind]));
    }
    f = &m.f;
    printf("{\"format\": %u, \"sig_alg\": \"%s\"", (unsigned)m.format,
           iotsec_sig_alg_name((int)m.sig_alg));
    json_hex(stdout, "key_id", m.key_id, IOTSEC_KEY_ID_LEN);
    printf(", \"security_counter\": %llu, \"version\": ", (unsigned long long)f->security_counter);
    json_str(stdout, f->version, f->version_len);
    printf(", \"device_class\": ");
    json_str(stdout, f->device_class, f->device_class_len);
    printf(", \"image_size\": %llu", (unsigned long long)f->image_size);
    json_hex(stdout, "image_digest", f->image_digest, IOTSEC_SHA256_LEN);
    if (f->present & IOTSEC_MF_DEVICE_ID) {
        printf(", \"device_id\": ");
        json_str(stdout, f->device_id, f->device_id_len);
    }
    if (f->present & IOTSEC_MF_NOT_AFTER) {
        /* ISO 8601 for years 1970-9999; null beyond (the number stays exact) */
        char iso[32] = "";
        time_t t = (time_t)f->not_after;
        struct tm tm;
        printf(", \"not_after\": %llu, \"not_after_iso\": ", (unsigned long long)f->not_after);
        if (f->not_after <= 253402300799u && gmtime_r(&t, &tm) != NULL &&
            strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm) > 0)
            printf("\"%s\"", iso);
        else
            printf("null");
    }
    if (f->present & IOTSEC_MF_ENCRYPTION) {
        printf(", \"encryption\": {\"alg\": \"aes-256-cbc\"");
        json_hex(stdout, "key_id", f->enc_key_id, IOTSEC_KEY_ID_LEN);
        json_hex(stdout, "iv", f->enc_iv, IOTSEC_AES_BLOCK_LEN);
        printf("}, \"payload_size\": %llu", (unsigned long long)f->payload_size);
        json_hex(stdout, "payload_digest", f->payload_digest, IOTSEC_SHA256_LEN);
    }
    if (f->present & IOTSEC_MF_CHUNK_SIZE)
        printf(", \"chunk_size\": %u", (unsigned)f->chunk_size);
    if (f->present & IOTSEC_MF_URI) {
        printf(", \"uri\": ");
        json_str(stdout, f->uri, f->uri_len);
    }
    if (f->present & IOTSEC_MF_DESCRIPTION) {
        printf(", \"description\": ");
        json_str(stdout, f->description, f->description_len);
    }
    printf("}\n");
    free(buf);
    if (fflush(stdout) != 0)
        return cli_error(CLI_IO, "writing stdout: %s", strerror(errno));
    fprintf(stderr, "iotsec: note: the signature was not checked (iotsec manifest verify)\n");
    return CLI_OK;
}

int cmd_manifest(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error("manifest", "a subcommand is required: sign, verify or show");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(manifest_usage, stdout);
        return CLI_OK;
    }
    if (strcmp(argv[1], "sign") == 0)
        return manifest_sign(argc - 1, argv + 1);
    if (strcmp(argv[1], "verify") == 0)
        return manifest_verify(argc - 1, argv + 1);
    if (strcmp(argv[1], "show") == 0)
        return manifest_show(argc - 1, argv + 1);
    return cli_usage_error("manifest", "unknown subcommand '%s'", argv[1]);
}
