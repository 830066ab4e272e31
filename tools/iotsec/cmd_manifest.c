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
#include "pkcs11.h"

#define IO_CHUNK 65536u  /* bytes read from an image or payload file per step */
#define MAX_TRUST 16     /* --trust options accepted */

static const char manifest_usage[] =
    "Usage: iotsec manifest sign|attach|verify|show [options]\n"
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
    "Two-step signing (an HSM or cloud KMS without PKCS#11):\n"
    "  --tbs-out TBS.bin      instead of --out: write the bytes to be signed (header and\n"
    "                         body); sign them elsewhere, then 'iotsec manifest attach'\n"
    "  --pub PUB.pem          instead of --key with --tbs-out: the signer's public key,\n"
    "                         which fixes sig_alg and key_id\n"
    "PKCS#11 (a token or HSM; the key never leaves it):\n"
    "  --pkcs11-module LIB    the PKCS#11 module (e.g. /usr/lib/softhsm/libsofthsm2.so);\n"
    "                         --key is then an RFC 7512 URI 'pkcs11:token=T;object=O' (or\n"
    "                         id=%01) of the private key, with pin-value=P or\n"
    "                         pin-source=file:F in its query ('?pin-source=...') or path\n"
    "  --pin-file F           the user PIN, first line of F (instead of the URI's)\n"
    "  --pub PUB.pem          with --pkcs11-module: the public key (default: the token's\n"
    "                         public key object with the same id or label)\n"
    "Inputs (--key, --image, --encrypt-key, --pub, --pin-file) may be '-' for standard input\n"
    "and outputs (--out, --tbs-out, --payload-out) '-' for standard output, one of each at\n"
    "most; the summary line\n"
    "then goes to standard error. A payload streamed to standard output may be incomplete\n"
    "when the exit status is not 0.\n"
    "Exit status: 0 signed; 2 usage, including field values the manifest format refuses\n"
    "(e.g. --chunk-size outside 256-65536, an empty image) and a key file of the wrong\n"
    "length; 1 an unusable signing key (with PKCS#11: a wrong PIN, no such token or\n"
    "object, a refused mechanism); 3 I/O (including a PKCS#11 module that cannot be loaded).\n";

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

/* The bytes a signature covers (bindings-spec/SPEC.md §7.1): the 16-byte header (magic,
 * format, sig_alg and key_id of pk, body_len) and the canonical body of f. */
static int build_tbs(const iotsec_manifest_fields *f, const iotsec_pubkey *pk, uint8_t *out,
                     size_t cap, size_t *len)
{
    size_t body_len = 0;
    int rc;

    if (cap < IOTSEC_MANIFEST_HEADER_LEN)
        return IOTSEC_E_BUFFER_TOO_SMALL;
    rc = iotsec_manifest_encode_body(f, out + IOTSEC_MANIFEST_HEADER_LEN,
                                     cap - IOTSEC_MANIFEST_HEADER_LEN, &body_len);
    if (rc != IOTSEC_OK)
        return rc;
    memcpy(out, "IOTM", 4);
    out[4] = IOTSEC_MANIFEST_FORMAT;
    out[5] = (uint8_t)pk->alg;
    out[6] = (uint8_t)(body_len >> 8);
    out[7] = (uint8_t)body_len;
    memcpy(out + 8, pk->key_id, IOTSEC_KEY_ID_LEN);
    *len = IOTSEC_MANIFEST_HEADER_LEN + body_len;
    return IOTSEC_OK;
}

/* Append sig_len and sig to the TBS bytes in buf[0..*len) and verify the result with pk
 * alone. Returns IOTSEC_OK or the verifier's error (IOTSEC_E_BAD_SIGNATURE, …). */
static int complete_manifest(uint8_t *buf, size_t cap, size_t *len, const uint8_t *sig,
                             size_t sig_len, const iotsec_pubkey *pk)
{
    iotsec_trust_store ts;
    iotsec_manifest m;
    int rc;

    if (sig_len == 0 || sig_len > IOTSEC_MANIFEST_SIG_MAX || cap - *len < 2u + sig_len)
        return IOTSEC_E_BAD_SIGNATURE;
    buf[*len] = (uint8_t)(sig_len >> 8);
    buf[*len + 1] = (uint8_t)sig_len;
    memcpy(buf + *len + 2, sig, sig_len);
    *len += 2u + sig_len;
    if ((rc = iotsec_trust_store_init(&ts, pk, 1)) != IOTSEC_OK)
        return rc;
    return iotsec_manifest_verify(&ts, buf, *len, &m);
}

/* Sign f through a PKCS#11 token: Ed25519 over the TBS bytes, ECDSA and RSA-PSS over their
 * SHA-256; the result is verified with pk before it is returned. */
static int sign_pkcs11(struct p11_signer *p11, const iotsec_manifest_fields *f,
                       const iotsec_pubkey *pk, const iotsec_crypto *crypto, uint8_t *out,
                       size_t cap, size_t *len)
{
    uint8_t digest[IOTSEC_SHA256_LEN], sig[IOTSEC_MANIFEST_SIG_MAX];
    size_t sig_len = 0;
    int rc = build_tbs(f, pk, out, cap, len);

    if (rc != IOTSEC_OK)
        return rc;
    if (pk->alg == IOTSEC_SIG_ED25519) {
        rc = p11_sign(p11, pk->alg, out, *len, sig, sizeof sig, &sig_len);
    } else {
        rc = iotsec_sha256(crypto, out, *len, digest);
        if (rc != IOTSEC_OK)
            return cli_fail(rc, "manifest sign: SHA-256");
        rc = p11_sign(p11, pk->alg, digest, sizeof digest, sig, sizeof sig, &sig_len);
    }
    if (rc != CLI_OK)
        return rc;
    if (sig_len != pk->sig_len)
        return cli_error(CLI_REJECTED, "manifest sign: the token's key is not the public "
                                       "key's: a %zu-byte signature, the public key's have %zu",
                         sig_len, pk->sig_len);
    rc = complete_manifest(out, cap, len, sig, sig_len, pk);
    if (rc != IOTSEC_OK)
        return cli_fail(rc, "manifest sign: the token's signature does not verify with the "
                            "public key (is it the key pair of the private key object?)");
    return IOTSEC_OK;
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
        {"pub", required_argument, NULL, 'P'},         {"tbs-out", required_argument, NULL, 'T'},
        {"pkcs11-module", required_argument, NULL, 'M'}, {"pin-file", required_argument, NULL, 'N'},
        {NULL, 0, NULL, 0}};
    const char *pub_path = NULL, *tbs_out = NULL, *p11_module = NULL, *pin_file = NULL;
    iotsec_pubkey pub;
    int have_pub = 0, have_sk = 0;
    struct p11_signer *p11 = NULL;
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
        case 'P': pub_path = optarg; break;
        case 'T': tbs_out = optarg; break;
        case 'M': p11_module = optarg; break;
        case 'N': pin_file = optarg; break;
        case 'h': fputs(sign_usage, stdout); return CLI_OK;
        default: return cli_usage_error("manifest sign", "invalid option");
        }
    }
    if (optind != argc)
        return cli_usage_error("manifest sign", "unexpected argument '%s'", argv[optind]);
    if (tbs_out != NULL && out != NULL)
        return cli_usage_error("manifest sign", "--tbs-out replaces --out (the manifest is "
                                                "completed by 'iotsec manifest attach')");
    if (tbs_out != NULL && (key != NULL || p11_module != NULL || pub_path == NULL))
        return cli_usage_error("manifest sign", "--tbs-out takes --pub PUB.pem (the public half "
                                                "of the signing key) instead of --key");
    if (tbs_out == NULL && p11_module == NULL && pub_path != NULL)
        return cli_usage_error("manifest sign", "--pub goes with --tbs-out or --pkcs11-module");
    if (pin_file != NULL && p11_module == NULL)
        return cli_usage_error("manifest sign", "--pin-file goes with --pkcs11-module");
    if (p11_module != NULL && (key == NULL || strncmp(key, "pkcs11:", 7) != 0))
        return cli_usage_error("manifest sign", "--pkcs11-module needs --key 'pkcs11:token=...;"
                                                "object=...' (an RFC 7512 URI)");
    if (p11_module == NULL && key != NULL && strncmp(key, "pkcs11:", 7) == 0)
        return cli_usage_error("manifest sign", "a pkcs11: URI as --key needs --pkcs11-module LIB");
    if ((key == NULL && tbs_out == NULL) || image == NULL || version == NULL || !have_counter ||
        cls == NULL || (out == NULL && tbs_out == NULL))
        return cli_usage_error("manifest sign", "--key (or --pub with --tbs-out), --image, "
                                                "--version, --security-counter, --class and "
                                                "--out (or --tbs-out) are required");
    if ((enc_key == NULL) != (payload_out == NULL))
        return cli_usage_error("manifest sign", "--encrypt-key and --payload-out go together");
    if ((rc = cli_claim_stdin("manifest sign", &io, "--key", key)) != CLI_OK ||
        (rc = cli_claim_stdin("manifest sign", &io, "--image", image)) != CLI_OK ||
        (rc = cli_claim_stdin("manifest sign", &io, "--encrypt-key", enc_key)) != CLI_OK ||
        (rc = cli_claim_stdout("manifest sign", &io, "--payload-out", payload_out)) != CLI_OK ||
        (rc = cli_claim_stdout("manifest sign", &io, "--out", out)) != CLI_OK ||
        (rc = cli_claim_stdout("manifest sign", &io, "--tbs-out", tbs_out)) != CLI_OK ||
        (rc = cli_claim_stdin("manifest sign", &io, "--pub", pub_path)) != CLI_OK ||
        (rc = cli_claim_stdin("manifest sign", &io, "--pin-file", pin_file)) != CLI_OK)
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

    if (pub_path != NULL) {
        rc = cli_pubkey_load(&pub, crypto, pub_path);
        if (rc != IOTSEC_OK) {
            iotsec_zeroize(fw_key, sizeof fw_key);
            return cli_fail(rc, "manifest sign: public key %s", cli_in(pub_path));
        }
        have_pub = 1;
    }
    if (p11_module != NULL) {
        /* open the token and log in before the image is read: a wrong PIN fails fast */
        rc = p11_open_signer(p11_module, key, pin_file, &p11);
        if (rc == CLI_OK && !have_pub) {
            rc = p11_public_key(p11, crypto, &pub);
            have_pub = rc == CLI_OK;
        }
        if (rc != CLI_OK) {
            iotsec_zeroize(fw_key, sizeof fw_key);
            if (have_pub)
                iotsec_pubkey_free(&pub);
            p11_close(p11);
            return rc;
        }
    } else if (tbs_out == NULL) {
        rc = cli_privkey_load(&sk, crypto, key);
        if (rc != IOTSEC_OK) {
            iotsec_zeroize(fw_key, sizeof fw_key);
            return cli_fail(rc, "manifest sign: signing key %s", cli_in(key));
        }
        have_sk = 1;
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
    if (rc == IOTSEC_OK && tbs_out != NULL) {
        rc = build_tbs(&f, &pub, mbuf, sizeof mbuf, &mlen);
        memcpy(key_id, pub.key_id, sizeof key_id);
    } else if (rc == IOTSEC_OK && p11 != NULL) {
        rc = sign_pkcs11(p11, &f, &pub, crypto, mbuf, sizeof mbuf, &mlen);
        memcpy(key_id, pub.key_id, sizeof key_id);
    } else if (rc == IOTSEC_OK) {
        rc = iotsec_manifest_sign(&f, &sk, mbuf, sizeof mbuf, &mlen);
        if (rc == IOTSEC_OK)
            rc = iotsec_privkey_key_id(&sk, key_id);
    }
    if (have_sk)
        iotsec_privkey_free(&sk);
    if (have_pub)
        iotsec_pubkey_free(&pub);
    p11_close(p11);
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
    if (tbs_out != NULL) {
        if ((rc = cli_write_output(tbs_out, mbuf, mlen, 0644)) != CLI_OK)
            return rc;
        info = cli_info(&io);
        fprintf(info, "to be signed %s: %zu bytes for %s, key_id ", cli_out(tbs_out), mlen,
                iotsec_sig_alg_name(mbuf[5]));
        hex_print(info, key_id, sizeof key_id);
        fprintf(info, ", version %s, security_counter %llu, image_size %llu%s\n", version,
                (unsigned long long)counter, (unsigned long long)f.image_size,
                mbuf[5] == IOTSEC_SIG_ED25519 ? "; sign the bytes (pure Ed25519)"
                : mbuf[5] == IOTSEC_SIG_ECDSA_P256 ? "; sign their SHA-256 (ECDSA, DER or raw r||s)"
                : "; sign their SHA-256 (RSA-PSS, MGF1-SHA-256, salt 32)");
        fprintf(info, "then: iotsec manifest attach --tbs %s --sig SIG.bin --pub PUB.pem "
                      "--out M\n", cli_out(tbs_out));
        return CLI_OK;
    }
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

/* ---- attach ------------------------------------------------------------------------------ */

static const char attach_usage[] =
    "Usage: iotsec manifest attach --tbs TBS.bin --sig SIG.bin --pub PUB.pem\n"
    "                              [--sig-format auto|raw|der] --out M\n"
    "Complete a manifest from the bytes 'iotsec manifest sign --tbs-out' wrote and a\n"
    "signature made over them elsewhere (an HSM, a cloud KMS, openssl pkeyutl): the\n"
    "signature is checked with PUB.pem before M is written.\n"
    "  --tbs TBS.bin          the to-be-signed bytes (manifest header and body)\n"
    "  --sig SIG.bin          the signature: Ed25519 64 bytes; ECDSA P-256 as DER (what KMSs\n"
    "                         and openssl produce; converted to raw r||s) or raw r||s (64\n"
    "                         bytes); RSA-PSS (SHA-256, MGF1-SHA-256) the modulus length\n"
    "  --pub PUB.pem          the public key of the signer, PEM or DER; its algorithm and key\n"
    "                         id must be the ones in the TBS header\n"
    "  --sig-format F         ECDSA: auto (default: 64 bytes are raw r||s, else DER; a\n"
    "                         64-byte DER value is tried too), raw or der\n"
    "  --out M                the signed manifest (mode 0644, replaced atomically)\n"
    "Any one input may be '-' for standard input, --out '-' for standard output.\n"
    "Exit status: 0 written; 1 rejected (a signature that does not verify, a TBS that is not\n"
    "a manifest header and body, or one made for another key); 2 usage; 3 I/O.\n";

/* A DER ECDSA-Sig-Value (SEQUENCE of two INTEGERs) to raw r||s of 32 bytes each.
 * Returns 0, or -1 if sig is not one (strict DER lengths; values of at most 32 bytes). */
static int ecdsa_der_to_raw(const uint8_t *d, size_t n, uint8_t raw[64])
{
    size_t pos = 2, i;

    if (n < 8 || d[0] != 0x30 || d[1] >= 0x80 || (size_t)d[1] + 2 != n)
        return -1;
    memset(raw, 0, 64);
    for (i = 0; i < 2; i++) {
        size_t len;
        const uint8_t *v;
        if (pos + 2 > n || d[pos] != 0x02 || d[pos + 1] >= 0x80)
            return -1;
        len = d[pos + 1];
        v = d + pos + 2;
        if (len == 0 || pos + 2 + len > n || (v[0] & 0x80) ||
            (len > 1 && v[0] == 0 && !(v[1] & 0x80)))
            return -1;
        pos += 2 + len;
        while (len > 0 && *v == 0) {
            v++;
            len--;
        }
        if (len > 32)
            return -1;
        memcpy(raw + 32 * i + (32 - len), v, len);
    }
    return pos == n ? 0 : -1;
}

static int manifest_attach(int argc, char **argv)
{
    static const struct option opts[] = {
        {"tbs", required_argument, NULL, 't'},  {"sig", required_argument, NULL, 's'},
        {"pub", required_argument, NULL, 'p'},  {"out", required_argument, NULL, 'o'},
        {"sig-format", required_argument, NULL, 'f'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *tbs = NULL, *sigp = NULL, *pubp = NULL, *out = NULL, *fmt = "auto";
    uint8_t *tbuf = NULL, *sbuf = NULL, mbuf[IOTSEC_MANIFEST_MAX_LEN], raw[64];
    size_t tlen = 0, slen = 0, mlen = 0;
    const uint8_t *sig;
    size_t sig_len;
    iotsec_pubkey pk;
    const iotsec_crypto *crypto;
    cli_stdio io = {NULL, NULL};
    int c, rc, have_pk = 0, is_der = 0;

    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 't': tbs = optarg; break;
        case 's': sigp = optarg; break;
        case 'p': pubp = optarg; break;
        case 'o': out = optarg; break;
        case 'f': fmt = optarg; break;
        case 'h': fputs(attach_usage, stdout); return CLI_OK;
        default: return cli_usage_error("manifest attach", "invalid option");
        }
    }
    if (optind != argc)
        return cli_usage_error("manifest attach", "unexpected argument '%s'", argv[optind]);
    if (tbs == NULL || sigp == NULL || pubp == NULL || out == NULL)
        return cli_usage_error("manifest attach", "--tbs, --sig, --pub and --out are required");
    if (strcmp(fmt, "auto") != 0 && strcmp(fmt, "raw") != 0 && strcmp(fmt, "der") != 0)
        return cli_usage_error("manifest attach", "--sig-format: auto, raw or der");
    if ((rc = cli_claim_stdin("manifest attach", &io, "--tbs", tbs)) != CLI_OK ||
        (rc = cli_claim_stdin("manifest attach", &io, "--sig", sigp)) != CLI_OK ||
        (rc = cli_claim_stdin("manifest attach", &io, "--pub", pubp)) != CLI_OK ||
        (rc = cli_claim_stdout("manifest attach", &io, "--out", out)) != CLI_OK)
        return rc;
    if ((crypto = cli_crypto()) == NULL)
        return CLI_USAGE;
    rc = cli_pubkey_load(&pk, crypto, pubp);
    if (rc != IOTSEC_OK)
        return cli_fail(rc, "manifest attach: public key %s", cli_in(pubp));
    have_pk = 1;
    if ((rc = cli_read_file(tbs, CLI_INPUT_MAX, &tbuf, &tlen)) != CLI_OK ||
        (rc = cli_read_file(sigp, CLI_INPUT_MAX, &sbuf, &slen)) != CLI_OK)
        goto out;
    /* the TBS: a header and exactly body_len bytes of body, made for this key */
    if (tlen < IOTSEC_MANIFEST_HEADER_LEN || memcmp(tbuf, "IOTM", 4) != 0 ||
        tbuf[4] != IOTSEC_MANIFEST_FORMAT ||
        ((size_t)tbuf[6] << 8 | tbuf[7]) != tlen - IOTSEC_MANIFEST_HEADER_LEN ||
        tlen - IOTSEC_MANIFEST_HEADER_LEN > IOTSEC_MANIFEST_BODY_MAX) {
        rc = cli_fail(IOTSEC_E_BAD_VERSION, "manifest attach: %s is not the output of 'iotsec "
                      "manifest sign --tbs-out' (a manifest header and body)", cli_in(tbs));
        goto out;
    }
    if (tbuf[5] != (uint8_t)pk.alg || memcmp(tbuf + 8, pk.key_id, IOTSEC_KEY_ID_LEN) != 0) {
        rc = cli_fail(IOTSEC_E_UNKNOWN_KEY, "manifest attach: %s was made for another key "
                      "(sig_alg or key_id differs from %s)", cli_in(tbs), cli_in(pubp));
        goto out;
    }
    sig = sbuf;
    sig_len = slen;
    if (pk.alg == IOTSEC_SIG_ECDSA_P256 && strcmp(fmt, "raw") != 0 &&
        (strcmp(fmt, "der") == 0 || slen != 64)) {
        if (ecdsa_der_to_raw(sbuf, slen, raw) != 0) {
            rc = cli_fail(IOTSEC_E_BAD_SIGNATURE, "manifest attach: %s: not an ECDSA signature "
                          "(neither DER ECDSA-Sig-Value nor 64 bytes of raw r||s)", cli_in(sigp));
            goto out;
        }
        sig = raw;
        sig_len = sizeof raw;
        is_der = 1;
    }
    if (sig_len != pk.sig_len) {
        rc = cli_fail(IOTSEC_E_BAD_SIGNATURE, "manifest attach: %s: %zu bytes, the key's "
                      "signatures have %zu", cli_in(sigp), sig_len, pk.sig_len);
        goto out;
    }
    memcpy(mbuf, tbuf, tlen);
    mlen = tlen;
    rc = complete_manifest(mbuf, sizeof mbuf, &mlen, sig, sig_len, &pk);
    if (rc == IOTSEC_E_BAD_SIGNATURE && !is_der && pk.alg == IOTSEC_SIG_ECDSA_P256 &&
        strcmp(fmt, "auto") == 0 && ecdsa_der_to_raw(sbuf, slen, raw) == 0) {
        /* auto: 64 bytes that are not raw r||s may still be a (rare) 64-byte DER value */
        is_der = 1;
        mlen = tlen;
        rc = complete_manifest(mbuf, sizeof mbuf, &mlen, raw, sizeof raw, &pk);
    }
    if (rc != IOTSEC_OK) {
        rc = cli_fail(rc, "manifest attach: the signature %s does not verify over %s with %s",
                      cli_in(sigp), cli_in(tbs), cli_in(pubp));
        goto out;
    }
    if ((rc = cli_write_output(out, mbuf, mlen, 0644)) != CLI_OK)
        goto out;
    fprintf(cli_info(&io), "attached %s: %s%s signature verified, key_id ", cli_out(out),
            iotsec_sig_alg_name((int)pk.alg), is_der ? " (DER converted to r||s)" : "");
    hex_print(cli_info(&io), pk.key_id, IOTSEC_KEY_ID_LEN);
    fprintf(cli_info(&io), ", %zu bytes\n", mlen);
    rc = CLI_OK;
out:
    if (have_pk)
        iotsec_pubkey_free(&pk);
    free(tbuf);
    free(sbuf);
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
        return cli_usage_error("manifest", "a subcommand is required: sign, attach, verify or show");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(manifest_usage, stdout);
        return CLI_OK;
    }
    if (strcmp(argv[1], "sign") == 0)
        return manifest_sign(argc - 1, argv + 1);
    if (strcmp(argv[1], "verify") == 0)
        return manifest_verify(argc - 1, argv + 1);
    if (strcmp(argv[1], "attach") == 0)
        return manifest_attach(argc - 1, argv + 1);
    if (strcmp(argv[1], "show") == 0)
        return manifest_show(argc - 1, argv + 1);
    return cli_usage_error("manifest", "unknown subcommand '%s'", argv[1]);
}
