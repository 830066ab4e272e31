/* iotsec ca init | issue | server | revoke | crl — a small private device CA (docs/DESIGN.md §9).
 *
 * A CA directory holds:
 *   ca.pem      the CA certificate (PEM)
 *   ca.key      its private key, PKCS#8 PEM, mode 0600
 *   index       one line per issued certificate, rewritten atomically on every change:
 *                 <serial: 40 hex> <notAfter: Unix s> <revoked at: Unix s, 0 = valid>
 *                 <kind: d device | s server | c CA> <name>
 *               ('#' lines are comments)
 *   crlnumber   the number of the last CRL written (decimal), 0 before the first
 * and, for an intermediate (ca init --parent), also:
 *   chain.pem   the CA certificates from this one up to, not including, the root: what a
 *               device presents after its own certificate (ca issue appends it)
 *   root.pem    the root of the hierarchy (the trust anchor to give servers)
 * Certificates and CRLs are made by libiotsec (x509.h); this file keeps the records. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "cli.h"

#define INDEX_MAX (64u << 20)
#define INDEX_LINE_MAX 256u
#define MAX_DAYS 36500u
/* A CA directory is not a stream: "-" is refused rather than taken as a directory name. */
#define DIR_DASH "--dir -: a CA directory cannot be standard input or output"
#define BACKDATE 300 /* seconds: notBefore lies this far in the past, for clock skew */

static const char ca_usage[] =
    "Usage: iotsec ca <command> [options]   (a small private device CA)\n"
    "  iotsec ca init   --dir CA_DIR [--alg p256|rsa2048] [--name CN] [--days N]\n"
    "                   [--parent PARENT_DIR] [--path-len N|none] [--force]\n"
    "  iotsec ca issue  --dir CA_DIR --device-id ID --out-key K.pem --out-cert C.pem\n"
    "                   [--p12 FILE --password-file P] [--days N] [--force]\n"
    "  iotsec ca server --dir CA_DIR --name NAME [--ip IP] --out-key K.pem --out-cert C.pem\n"
    "                   [--days N] [--force]\n"
    "  iotsec ca revoke --dir CA_DIR (C.pem | --serial HEX)\n"
    "  iotsec ca crl    --dir CA_DIR --out CRL.pem [--days N] [--der]\n"
    "Run 'iotsec ca <command> --help' for details. Exit status: 0 done, 1 rejected (e.g. a\n"
    "certificate not in the CA's records, damaged records), 2 usage, 3 I/O.\n";

static const char init_usage[] =
    "Usage: iotsec ca init --dir CA_DIR [--alg p256|rsa2048] [--name CN] [--days N]\n"
    "                      [--parent PARENT_DIR] [--path-len N|none] [--force]\n"
    "Create a device CA in CA_DIR (created with mode 0700 if missing): a key in CA_DIR/ca.key\n"
    "(PKCS#8 PEM, mode 0600), its certificate CA_DIR/ca.pem (basicConstraints CA:TRUE with\n"
    "pathLenConstraint --path-len, critical; keyUsage keyCertSign, cRLSign critical) and its\n"
    "records (CA_DIR/index, CA_DIR/crlnumber). Without --parent the certificate is\n"
    "self-signed (a root); with --parent it is an intermediate issued by the CA in\n"
    "PARENT_DIR (recorded there, revocable with 'iotsec ca revoke --dir PARENT_DIR'), and\n"
    "CA_DIR also gets chain.pem (the CA certificates below the root, which 'ca issue' appends\n"
    "to every certificate so devices present their chain) and root.pem (the trust anchor).\n"
    "  --dir CA_DIR      the CA directory (required)\n"
    "  --parent DIR      the issuing CA's directory (its pathLenConstraint must not be 0)\n"
    "  --path-len N|none how many CA levels may follow below this CA, 0-16, or none for no\n"
    "                    limit (default 0: it issues device and server certificates only)\n"
    "  --alg p256|rsa2048  the CA key (default p256)\n"
    "  --name CN         the CA certificate's common name, 1-64 bytes (default\n"
    "                    \"iotsec device CA\")\n"
    "  --days N          validity in days, 1-36500 (default 3650)\n"
    "  --force           replace an existing CA (default: never replaced, exit 3)\n"
    "Exit status: 0 created; 1 the parent refuses (not a CA allowed to issue CAs, damaged\n"
    "records); 2 usage; 3 I/O (including an existing CA).\n";

static const char issue_usage[] =
    "Usage: iotsec ca issue --dir CA_DIR --device-id ID --out-key K.pem --out-cert C.pem\n"
    "                       [--days N] [--force]\n"
    "Generate a P-256 device key and a certificate issued by the CA in CA_DIR: CN = SAN\n"
    "dNSName = ID, a random positive 128-bit serial, extendedKeyUsage clientAuth, keyUsage\n"
    "digitalSignature. The serial is recorded in CA_DIR/index. When CA_DIR is an\n"
    "intermediate (ca init --parent), C.pem holds the certificate followed by CA_DIR/chain.pem.\n"
    "  --dir CA_DIR      the CA directory (required)\n"
    "  --device-id ID    the device id, 1-64 bytes of [A-Za-z0-9._:@-] (required)\n"
    "  --out-key K.pem   the device key, PKCS#8 PEM, mode 0600 (required); '-': standard\n"
    "                    output (refused when that is a terminal)\n"
    "  --out-cert C.pem  the certificate, PEM, mode 0644 (required); '-': standard output\n"
    "  --days N          validity in days, 1-36500 (default 365)\n"
    "  --force           replace existing output files (default: exit 3 if one exists)\n"
    "  --p12 FILE        also (or, without --out-key and --out-cert, only) write key,\n"
    "                    certificate and CA chain as PKCS#12, mode 0600: AES-256-CBC with\n"
    "                    PBKDF2-HMAC-SHA256, an HMAC-SHA256 MAC (for factories that inject\n"
    "                    keys; openssl pkcs12 and Python's cryptography read it)\n"
    "  --password-file P the PKCS#12 password: the file's first line, 1-1023 bytes\n"
    "One of --out-key and --out-cert at most may be '-'; the summary line then goes to\n"
    "standard error. Exit status: 0 issued; 1 damaged CA records; 2 usage; 3 I/O.\n";

static const char server_usage[] =
    "Usage: iotsec ca server --dir CA_DIR --name NAME [--ip IP] --out-key K.pem\n"
    "                        --out-cert C.pem [--days N] [--force]\n"
    "Generate a P-256 server key and a certificate issued by the CA in CA_DIR: CN = SAN\n"
    "dNSName = NAME, extendedKeyUsage serverAuth. The serial is recorded in CA_DIR/index.\n"
    "  --dir CA_DIR      the CA directory (required)\n"
    "  --name NAME       the server's DNS name, 1-64 bytes of [A-Za-z0-9._:@-] (required)\n"
    "  --ip IP           also a SAN iPAddress, IPv4 or IPv6 (default: none)\n"
    "  --out-key K.pem   the server key, PKCS#8 PEM, mode 0600 (required); '-': standard\n"
    "                    output (refused when that is a terminal)\n"
    "  --out-cert C.pem  the certificate, PEM, mode 0644 (required); '-': standard output\n"
    "  --days N          validity in days, 1-36500 (default 365)\n"
    "  --force           replace existing output files (default: exit 3 if one exists)\n"
    "One of --out-key and --out-cert at most may be '-'; the summary line then goes to\n"
    "standard error. Exit status: 0 issued; 1 damaged CA records; 2 usage; 3 I/O.\n";

static const char revoke_usage[] =
    "Usage: iotsec ca revoke --dir CA_DIR (C.pem | --serial HEX)\n"
    "Mark a certificate issued by this CA as revoked (now) in CA_DIR/index; 'iotsec ca crl'\n"
    "then publishes it. Revoking an already revoked certificate changes nothing.\n"
    "  --dir CA_DIR      the CA directory (required)\n"
    "  C.pem             the certificate, PEM or DER (of a chain file, the first); '-':\n"
    "                    standard input\n"
    "  --serial HEX      or its serial number, up to 40 hex digits\n"
    "Exit status: 0 revoked (or already revoked); 1 the certificate is not in this CA's\n"
    "records or was issued by another CA; 2 usage; 3 I/O.\n";

static const char crl_usage[] =
    "Usage: iotsec ca crl --dir CA_DIR --out CRL.pem [--days N] [--der]\n"
    "Write a v2 CRL (RFC 5280) of every certificate revoked in CA_DIR/index, signed by the\n"
    "CA: thisUpdate now, nextUpdate now + --days, the next cRLNumber (CA_DIR/crlnumber) and\n"
    "the authorityKeyIdentifier.\n"
    "  --dir CA_DIR      the CA directory (required)\n"
    "  --out CRL.pem     the CRL, mode 0644 (required); '-': standard output (the summary\n"
    "                    line then goes to standard error)\n"
    "  --days N          days until nextUpdate, 1-36500 (default 30)\n"
    "  --der             write DER instead of PEM\n"
    "Exit status: 0 written; 1 damaged CA records; 2 usage; 3 I/O.\n";

/* ---- the CA directory (struct record, struct ca_dir: cli.h) -------------------------- */

static int dir_path(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    return n > 0 && (size_t)n < cap ? CLI_OK : cli_error(CLI_USAGE, "%s: path too long", dir);
}

void ca_close(struct ca_dir *ca)
{
    if (ca->lock_fd1 > 0)
        close(ca->lock_fd1 - 1); /* releases the lock */
    X509_free(ca->cert);
    EVP_PKEY_free(ca->key);
    free(ca->recs);
    memset(ca, 0, sizeof *ca);
}

static int add_record(struct ca_dir *ca, const struct record *r)
{
    if (ca->n == ca->cap) {
        size_t cap = ca->cap ? 2 * ca->cap : 16;
        struct record *p = realloc(ca->recs, cap * sizeof *p);
        if (p == NULL)
            return cli_error(CLI_IO, "out of memory");
        ca->recs = p;
        ca->cap = cap;
    }
    ca->recs[ca->n++] = *r;
    return CLI_OK;
}

/* Next space-separated field of line[*pos..len); NULL if none. */
static const char *field(const uint8_t *line, size_t len, size_t *pos, size_t *flen)
{
    size_t start = *pos, end;
    const uint8_t *sp;

    if (start >= len)
        return NULL;
    sp = memchr(line + start, ' ', len - start);
    end = sp != NULL ? (size_t)(sp - line) : len;
    *flen = end - start;
    *pos = sp != NULL ? end + 1 : len;
    return (const char *)line + start;
}

static int parse_record(const uint8_t *line, size_t len, struct record *r)
{
    const char *f[5];
    size_t fl[5], pos = 0, got = 0, i;

    memset(r, 0, sizeof *r);
    for (i = 0; i < 5; i++) {
        f[i] = field(line, len, &pos, &fl[i]);
        if (f[i] == NULL)
            return IOTSEC_E_MALFORMED;
    }
    if (pos != len)
        return IOTSEC_E_TRAILING_DATA;
    if (iotsec_hex_decode(f[0], fl[0], r->serial, sizeof r->serial, &got, IOTSEC_HEX_LOWER_ONLY) !=
            IOTSEC_OK ||
        got != IOTSEC_SERIAL_LEN)
        return IOTSEC_E_BAD_ENCODING;
    if (iotsec_parse_u64_dec(f[1], fl[1], INT64_MAX, &r->not_after) != IOTSEC_OK ||
        iotsec_parse_u64_dec(f[2], fl[2], INT64_MAX, &r->revoked_at) != IOTSEC_OK)
        return IOTSEC_E_BAD_ENCODING;
    if (fl[3] != 1 || (f[3][0] != 'd' && f[3][0] != 's' && f[3][0] != 'c'))
        return IOTSEC_E_BAD_VALUE;
    r->kind = f[3][0];
    if (iotsec_device_id_check(f[4], fl[4]) != IOTSEC_OK)
        return IOTSEC_E_BAD_ENCODING;
    memcpy(r->name, f[4], fl[4]);
    return IOTSEC_OK;
}

int load_index(struct ca_dir *ca)
{
    char path[4096];
    uint8_t *buf = NULL;
    size_t len = 0, n = 0, lineno = 0;
    const uint8_t *line;
    iotsec_reader r;
    struct record rec;
    int rc;

    if ((rc = dir_path(path, sizeof path, ca->dir, "index")) != CLI_OK ||
        (rc = cli_read_file(path, INDEX_MAX, &buf, &len)) != CLI_OK)
        return rc;
    iotsec_reader_init(&r, buf, len);
    while ((line = iotsec_reader_line(&r, INDEX_LINE_MAX, &n)) != NULL) {
        lineno++;
        if (n == 0 || line[0] == '#')
            continue;
        rc = parse_record(line, n, &rec);
        if (rc != IOTSEC_OK) {
            free(buf);
            return cli_error(CLI_REJECTED, "%s:%zu: damaged record: %s", path, lineno,
                             iotsec_error_name(rc));
        }
        if ((rc = add_record(ca, &rec)) != CLI_OK) {
            free(buf);
            return rc;
        }
    }
    rc = iotsec_reader_error(&r);
    free(buf);
    if (rc != IOTSEC_OK)
        return cli_error(CLI_REJECTED, "%s:%zu: line too long", path, lineno + 1);
    return CLI_OK;
}

static int load_crl_number(struct ca_dir *ca)
{
    char path[4096];
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc;

    if ((rc = dir_path(path, sizeof path, ca->dir, "crlnumber")) != CLI_OK ||
        (rc = cli_read_file(path, 64, &buf, &len)) != CLI_OK)
        return rc;
    if (len > 0 && buf[len - 1] == '\n')
        len--;
    rc = iotsec_parse_u64_dec((const char *)buf, len, UINT64_MAX - 1, &ca->crl_number);
    free(buf);
    if (rc != IOTSEC_OK)
        return cli_error(CLI_REJECTED, "%s: not a CRL number", path);
    return CLI_OK;
}

/* Open CA_DIR: certificate, key (if need_key), records. */
static int ca_open(struct ca_dir *ca, const char *dir, int need_key)
{
    char path[4096];
    int rc;

    memset(ca, 0, sizeof *ca);
    ca->dir = dir;
    /* one writer of the records at a time: this tool, or the backend's enrollment */
    if ((rc = dir_path(path, sizeof path, dir, "lock")) != CLI_OK)
        return rc;
    {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0 && errno != ENOENT)
            return cli_error(CLI_IO, "%s: %s", path, strerror(errno));
        if (fd >= 0 && flock(fd, LOCK_EX) != 0) {
            close(fd);
            return cli_error(CLI_IO, "%s: %s", path, strerror(errno));
        }
        ca->lock_fd1 = fd >= 0 ? fd + 1 : 0;
    }
    if ((rc = dir_path(path, sizeof path, dir, "ca.pem")) != CLI_OK)
        return rc;
    rc = iotsec_x509_cert_load_file(path, &ca->cert);
    if (rc != IOTSEC_OK)
        return cli_fail(rc, "%s", path);
    if (need_key) {
        if ((rc = dir_path(path, sizeof path, dir, "ca.key")) != CLI_OK)
            return rc;
        rc = iotsec_x509_key_load_file(path, &ca->key);
        if (rc != IOTSEC_OK)
            return cli_fail(rc, "%s", path);
    }
    if ((rc = load_index(ca)) != CLI_OK || (rc = load_crl_number(ca)) != CLI_OK)
        return rc;
    return CLI_OK;
}

int save_index(const struct ca_dir *ca)
{
    static const char header[] =
        "# iotsec ca index v1: serial not_after revoked_at kind(d|s|c) name\n";
    char path[4096], hex[2 * IOTSEC_SERIAL_LEN + 1];
    size_t cap = sizeof header + ca->n * INDEX_LINE_MAX, pos, i;
    char *text = malloc(cap);
    int rc;

    if (text == NULL)
        return cli_error(CLI_IO, "out of memory");
    memcpy(text, header, sizeof header - 1);
    pos = sizeof header - 1;
    for (i = 0; i < ca->n; i++) {
        const struct record *r = &ca->recs[i];
        (void)iotsec_hex_encode(r->serial, sizeof r->serial, hex, sizeof hex);
        pos += (size_t)snprintf(text + pos, cap - pos, "%s %llu %llu %c %s\n", hex,
                                (unsigned long long)r->not_after,
                                (unsigned long long)r->revoked_at, r->kind, r->name);
    }
    rc = dir_path(path, sizeof path, ca->dir, "index");
    if (rc == CLI_OK && (rc = iotsec_file_write_atomic(path, text, pos, 0644)) != IOTSEC_OK)
        rc = cli_error(CLI_IO, "%s: %s", path, strerror(errno));
    free(text);
    return rc;
}

/* A serial as lowercase hex without leading zero bytes. */
static void serial_hex(const uint8_t serial[IOTSEC_SERIAL_LEN], char out[2 * IOTSEC_SERIAL_LEN + 1])
{
    size_t skip = 0;

    while (skip + 1 < IOTSEC_SERIAL_LEN && serial[skip] == 0)
        skip++;
    (void)iotsec_hex_encode(serial + skip, IOTSEC_SERIAL_LEN - skip, out,
                            2 * IOTSEC_SERIAL_LEN + 1);
}

static int parse_days(const char *cmd, const char *s, uint64_t *days)
{
    int rc = cli_parse_u64(cmd, "--days", s, MAX_DAYS, days);
    if (rc == CLI_OK && *days == 0)
        return cli_usage_error(cmd, "--days: must be at least 1");
    return rc;
}

/* ---- init ----------------------------------------------------------------------------- */

#define CHAIN_MAX 16 /* certificates in a chain.pem */

/* The certificates of dir/chain.pem into out (*n = 0 when the file does not exist: a root). */
static int load_chain(const char *dir, X509 **out, size_t *n)
{
    char path[4096];
    struct stat st;
    int rc;

    *n = 0;
    if ((rc = dir_path(path, sizeof path, dir, "chain.pem")) != CLI_OK)
        return rc;
    if (stat(path, &st) != 0)
        return errno == ENOENT ? CLI_OK : cli_error(CLI_IO, "%s: %s", path, strerror(errno));
    rc = iotsec_x509_certs_load_file(path, out, CHAIN_MAX, n);
    return rc == IOTSEC_OK ? CLI_OK : cli_fail(rc, "%s", path);
}

static void free_chain(X509 **v, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        X509_free(v[i]);
}

/* A name for the parent's records: cn with bytes outside the device id alphabet as '_'. */
static void record_name(const char *cn, char out[IOTSEC_DEVICE_ID_MAX + 1])
{
    size_t i, n = strlen(cn);

    if (n > IOTSEC_DEVICE_ID_MAX)
        n = IOTSEC_DEVICE_ID_MAX;
    for (i = 0; i < n; i++)
        out[i] = iotsec_device_id_check(cn + i, 1) == IOTSEC_OK ? cn[i] : '_';
    out[n] = '\0';
}

static int ca_init(int argc, char **argv)
{
    static const struct option opts[] = {{"dir", required_argument, NULL, 'd'},
                                         {"alg", required_argument, NULL, 'a'},
                                         {"name", required_argument, NULL, 'n'},
                                         {"days", required_argument, NULL, 'y'},
                                         {"parent", required_argument, NULL, 'P'},
                                         {"path-len", required_argument, NULL, 'L'},
                                         {"force", no_argument, NULL, 'f'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *dir = NULL, *alg = "p256", *name = "iotsec device CA", *parent_dir = NULL;
    char key_path[4096], cert_path[4096], path[4096], hex[2 * IOTSEC_SERIAL_LEN + 1];
    uint64_t days = 3650, plen = 0;
    int path_len = 0;
    iotsec_sig_alg sig;
    unsigned bits = 0;
    int force = 0, c, rc;
    EVP_PKEY *key = NULL;
    X509 *cert = NULL, *chain[CHAIN_MAX + 1];
    size_t n_parent_chain = 0;
    struct ca_dir parent;
    struct record rec;
    int64_t now = (int64_t)time(NULL);
    struct stat st;

    memset(&parent, 0, sizeof parent);
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 'a': alg = optarg; break;
        case 'n': name = optarg; break;
        case 'P': parent_dir = optarg; break;
        case 'L':
            if (strcmp(optarg, "none") == 0) {
                path_len = -1;
            } else {
                if ((rc = cli_parse_u64("ca init", "--path-len", optarg, 16, &plen)) != CLI_OK)
                    return rc;
                path_len = (int)plen;
            }
            break;
        case 'y':
            if ((rc = parse_days("ca init", optarg, &days)) != CLI_OK)
                return rc;
            break;
        case 'f': force = 1; break;
        case 'h': fputs(init_usage, stdout); return CLI_OK;
        default: return cli_usage_error("ca init", "invalid option");
        }
    }
    if (optind != argc)
        return cli_usage_error("ca init", "unexpected argument '%s'", argv[optind]);
    if (dir == NULL)
        return cli_usage_error("ca init", "--dir is required");
    if (cli_is_dash(dir) || (parent_dir != NULL && cli_is_dash(parent_dir)))
        return cli_usage_error("ca init", DIR_DASH);
    if (strcmp(alg, "p256") == 0) {
        sig = IOTSEC_SIG_ECDSA_P256;
    } else if (strcmp(alg, "rsa2048") == 0) {
        sig = IOTSEC_SIG_RSA_PSS; /* an rsaEncryption key; certificates use PKCS#1 v1.5 */
        bits = 2048;
    } else {
        return cli_usage_error("ca init", "--alg: expected p256 or rsa2048, got '%s'", alg);
    }
    if (*name == '\0' || strlen(name) > IOTSEC_DEVICE_ID_MAX)
        return cli_usage_error("ca init", "--name: 1-64 bytes");
    if (parent_dir != NULL) {
        if ((rc = ca_open(&parent, parent_dir, 1)) != CLI_OK ||
            (rc = load_chain(parent_dir, chain + 1, &n_parent_chain)) != CLI_OK) {
            ca_close(&parent);
            return rc;
        }
        if (n_parent_chain == CHAIN_MAX) {
            free_chain(chain + 1, n_parent_chain);
            ca_close(&parent);
            return cli_error(CLI_REJECTED, "%s/chain.pem: a chain of %u CAs is long enough",
                             parent_dir, CHAIN_MAX);
        }
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        rc = cli_error(CLI_IO, "%s: %s", dir, strerror(errno));
        goto out;
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        rc = cli_error(CLI_IO, "%s: not a directory", dir);
        goto out;
    }
    if ((rc = dir_path(key_path, sizeof key_path, dir, "ca.key")) != CLI_OK ||
        (rc = dir_path(cert_path, sizeof cert_path, dir, "ca.pem")) != CLI_OK ||
        (rc = cli_check_overwrite(key_path, force)) != CLI_OK ||
        (rc = cli_check_overwrite(cert_path, force)) != CLI_OK)
        goto out;
    rc = iotsec_keygen_files(sig, bits, key_path, NULL);
    if (rc == IOTSEC_OK)
        rc = iotsec_x509_key_load_file(key_path, &key);
    if (rc == IOTSEC_OK)
        rc = iotsec_x509_ca_create(key, name, path_len, now - BACKDATE,
                                   now + (int64_t)days * 86400, parent.cert, parent.key, &cert);
    if (rc != IOTSEC_OK && key != NULL)
        (void)unlink(key_path); /* no key without its certificate */
    if (rc == IOTSEC_E_POLICY) {
        rc = cli_fail(rc, "ca init %s: the CA in %s may not issue CAs (it lacks basicConstraints "
                          "CA:TRUE or keyCertSign, or its pathLenConstraint is 0: create it "
                          "with --path-len 1 or more)",
                      dir, parent_dir);
        goto out;
    }
    if (rc == IOTSEC_OK && parent_dir != NULL) {
        /* record first: no certificate of the parent exists outside its records */
        rc = iotsec_x509_serial(cert, rec.serial);
        if (rc == IOTSEC_OK) {
            rec.not_after = (uint64_t)(now + (int64_t)days * 86400);
            rec.revoked_at = 0;
            rec.kind = 'c';
            record_name(name, rec.name);
            if ((c = add_record(&parent, &rec)) != CLI_OK || (c = save_index(&parent)) != CLI_OK) {
                rc = c;
                goto out;
            }
        }
    }
    if (rc == IOTSEC_OK)
        rc = iotsec_x509_cert_write_file(cert, cert_path);
    if (rc == IOTSEC_OK && parent_dir != NULL) {
        X509 *root = n_parent_chain > 0 ? NULL : parent.cert;
        chain[0] = cert;
        if (dir_path(path, sizeof path, dir, "chain.pem") != CLI_OK ||
            iotsec_x509_certs_write_file(chain, n_parent_chain + 1, path) != IOTSEC_OK)
            rc = IOTSEC_E_IO;
        if (rc == IOTSEC_OK && root == NULL) {
            /* the parent's root */
            char rp[4096];
            if (dir_path(rp, sizeof rp, parent_dir, "root.pem") != CLI_OK ||
                iotsec_x509_cert_load_file(rp, &root) != IOTSEC_OK)
                rc = IOTSEC_E_IO;
            if (rc == IOTSEC_OK &&
                (dir_path(path, sizeof path, dir, "root.pem") != CLI_OK ||
                 iotsec_x509_cert_write_file(root, path) != IOTSEC_OK))
                rc = IOTSEC_E_IO;
            X509_free(root);
        } else if (rc == IOTSEC_OK &&
                   (dir_path(path, sizeof path, dir, "root.pem") != CLI_OK ||
                    iotsec_x509_cert_write_file(root, path) != IOTSEC_OK)) {
            rc = IOTSEC_E_IO;
        }
    }
    if (rc == IOTSEC_OK) {
        struct ca_dir empty;
        memset(&empty, 0, sizeof empty);
        empty.dir = dir;
        if ((c = save_index(&empty)) != CLI_OK) {
            rc = IOTSEC_E_IO;
        } else if (dir_path(path, sizeof path, dir, "crlnumber") != CLI_OK ||
                   iotsec_file_write_atomic(path, "0\n", 2, 0644) != IOTSEC_OK) {
            rc = IOTSEC_E_IO;
        }
    }
    if (rc != IOTSEC_OK) {
        rc = cli_fail(rc, "ca init %s", dir);
        goto out;
    }
    if (parent_dir != NULL) {
        serial_hex(rec.serial, hex);
        printf("created intermediate CA '%s' in %s under %s (%s, serial %s, valid %llu days)\n",
               name, dir, parent_dir, alg, hex, (unsigned long long)days);
    } else {
        printf("created CA '%s' in %s (%s, valid %llu days)\n", name, dir, alg,
               (unsigned long long)days);
    }
    rc = CLI_OK;
out:
    EVP_PKEY_free(key);
    X509_free(cert);
    free_chain(chain + 1, n_parent_chain);
    ca_close(&parent);
    return rc;
}

/* ---- issue / server ------------------------------------------------------------------- */

static int ca_issue_common(int argc, char **argv, int server)
{
    static const struct option opts[] = {{"dir", required_argument, NULL, 'd'},
                                         {"device-id", required_argument, NULL, 'i'},
                                         {"name", required_argument, NULL, 'n'},
                                         {"ip", required_argument, NULL, 'p'},
                                         {"out-key", required_argument, NULL, 'k'},
                                         {"out-cert", required_argument, NULL, 'c'},
                                         {"days", required_argument, NULL, 'y'},
                                         {"force", no_argument, NULL, 'f'},
                                         {"p12", required_argument, NULL, 'P'},
                                         {"password-file", required_argument, NULL, 'W'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *cmd = server ? "ca server" : "ca issue";
    const char *p12 = NULL, *pw_path = NULL;
    const char *dir = NULL, *id = NULL, *name = NULL, *ip = NULL, *out_key = NULL,
               *out_cert = NULL;
    uint64_t days = 365;
    int force = 0, c, rc;
    struct ca_dir ca;
    struct record rec;
    iotsec_x509_cert_params p;
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    char hex[2 * IOTSEC_SERIAL_LEN + 1];
    int64_t now = (int64_t)time(NULL);
    cli_stdio io = {NULL, NULL};
    cli_spool key_sp, cert_sp;
    const char *key_path, *cert_path;

    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 'i': id = optarg; break;
        case 'n': name = optarg; break;
        case 'p': ip = optarg; break;
        case 'k': out_key = optarg; break;
        case 'c': out_cert = optarg; break;
        case 'y':
            if ((rc = parse_days(cmd, optarg, &days)) != CLI_OK)
                return rc;
            break;
        case 'f': force = 1; break;
        case 'P': p12 = optarg; break;
        case 'W': pw_path = optarg; break;
        case 'h': fputs(server ? server_usage : issue_usage, stdout); return CLI_OK;
        default: return cli_usage_error(cmd, "invalid option");
        }
    }
    if (optind != argc)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (server ? (id != NULL || name == NULL) : (name != NULL || ip != NULL || id == NULL))
        return cli_usage_error(cmd, server ? "--name is required (not --device-id)"
                                           : "--device-id is required (not --name or --ip)");
    if ((p12 == NULL) != (pw_path == NULL))
        return cli_usage_error(cmd, "--p12 and --password-file go together");
    if (dir == NULL || (p12 == NULL && (out_key == NULL || out_cert == NULL)))
        return cli_usage_error(cmd, "--dir, and --out-key and --out-cert (or --p12) are "
                                    "required");
    if (p12 != NULL && (cli_is_dash(p12) || cli_is_dash(pw_path)))
        return cli_usage_error(cmd, "--p12 and --password-file are files, not '-'");
    if (cli_is_dash(dir))
        return cli_usage_error(cmd, DIR_DASH);
    if (server)
        id = name;
    if (iotsec_device_id_check(id, strlen(id)) != IOTSEC_OK)
        return cli_usage_error(cmd, "%s '%s': 1-64 bytes of [A-Za-z0-9._:@-] required",
                               server ? "--name" : "--device-id", id);
    if (ip != NULL) {
        unsigned char addr[16];
        if (inet_pton(AF_INET, ip, addr) != 1 && inet_pton(AF_INET6, ip, addr) != 1)
            return cli_usage_error(cmd, "--ip '%s': not an IPv4 or IPv6 address", ip);
    }
    if ((out_key != NULL &&
         ((rc = cli_claim_stdout(cmd, &io, "--out-key", out_key)) != CLI_OK ||
          (rc = cli_refuse_terminal(cmd, "--out-key", out_key)) != CLI_OK ||
          (rc = cli_check_overwrite(out_key, force)) != CLI_OK)) ||
        (out_cert != NULL &&
         ((rc = cli_claim_stdout(cmd, &io, "--out-cert", out_cert)) != CLI_OK ||
          (rc = cli_check_overwrite(out_cert, force)) != CLI_OK)) ||
        (p12 != NULL && (rc = cli_check_overwrite(p12, force)) != CLI_OK))
        return rc;
    if ((rc = ca_open(&ca, dir, 1)) != CLI_OK) {
        ca_close(&ca);
        return rc;
    }
    /* without --out-key / --out-cert (a --p12 bundle alone) they go to a private temporary
     * directory that is removed */
    if ((key_path = cli_spool_path(&key_sp, out_key ? out_key : "-", "key.pem")) == NULL) {
        ca_close(&ca);
        return CLI_IO;
    }
    if ((cert_path = cli_spool_path(&cert_sp, out_cert ? out_cert : "-", "cert.pem")) == NULL) {
        (void)cli_spool_finish(&key_sp, 0);
        ca_close(&ca);
        return CLI_IO;
    }
    memset(&p, 0, sizeof p);
    p.profile = server ? IOTSEC_X509_PROFILE_SERVER : IOTSEC_X509_PROFILE_DEVICE;
    p.common_name = id;
    p.san_dns = id;
    p.san_ip = ip;
    p.not_before = now - BACKDATE;
    p.not_after = now + (int64_t)days * 86400;
    rc = iotsec_keygen_files(IOTSEC_SIG_ECDSA_P256, 0, key_path, NULL);
    if (rc == IOTSEC_OK)
        rc = iotsec_x509_key_load_file(key_path, &key);
    if (rc == IOTSEC_OK)
        rc = iotsec_x509_ca_issue(ca.cert, ca.key, key, &p, &cert);
    if (rc == IOTSEC_OK)
        rc = iotsec_x509_serial(cert, rec.serial);
    if (rc != IOTSEC_OK) {
        rc = cli_fail(rc, "%s %s", cmd, id);
        goto out;
    }
    /* record first: no certificate of this CA exists outside its records */
    rec.not_after = (uint64_t)p.not_after;
    rec.revoked_at = 0;
    rec.kind = server ? 's' : 'd';
    memset(rec.name, 0, sizeof rec.name);
    memcpy(rec.name, id, strlen(id));
    if ((rc = add_record(&ca, &rec)) != CLI_OK || (rc = save_index(&ca)) != CLI_OK)
        goto out;
    {
        /* an intermediate's certificates carry the chain up to the root, as TLS sends it */
        X509 *all[CHAIN_MAX + 1];
        size_t n_chain = 0;
        if ((rc = load_chain(dir, all + 1, &n_chain)) != CLI_OK)
            goto out;
        all[0] = cert;
        rc = n_chain > 0 ? iotsec_x509_certs_write_file(all, n_chain + 1, cert_path)
                         : iotsec_x509_cert_write_file(cert, cert_path);
        free_chain(all + 1, n_chain);
    }
    if (rc != IOTSEC_OK) {
        rc = cli_fail(rc, "%s: writing %s", cmd, out_cert ? cli_out(out_cert) : cert_path);
        goto out;
    }
    if (p12 != NULL) {
        /* key, certificate and the CA chain (this CA, the CAs above it) for factories */
        X509 *cas[CHAIN_MAX + 1];
        size_t n_cas = 0, pw_len = 0, pw_read;
        uint8_t *pw = NULL;
        rc = cli_read_file(pw_path, 1024, &pw, &pw_len);
        if (rc != CLI_OK)
            goto out;
        pw_read = pw_len;
        while (pw_len > 0 && (pw[pw_len - 1] == '\n' || pw[pw_len - 1] == '\r'))
            pw_len--;
        if ((rc = load_chain(dir, cas, &n_cas)) == CLI_OK) {
            if (n_cas == 0) {
                cas[0] = ca.cert; /* a root: itself */
                X509_up_ref(ca.cert);
                n_cas = 1;
            } else {
                char rp[4096];
                X509 *root = NULL;
                if (dir_path(rp, sizeof rp, dir, "root.pem") == CLI_OK &&
                    iotsec_x509_cert_load_file(rp, &root) == IOTSEC_OK)
                    cas[n_cas++] = root;
            }
            rc = iotsec_x509_pkcs12_write_file(key, cert, cas, n_cas, (const char *)pw, pw_len,
                                               id, p12);
            free_chain(cas, n_cas);
            if (rc != IOTSEC_OK)
                rc = cli_fail(rc, "%s: --p12 %s (the password: 1-1023 bytes, no NUL)", cmd, p12);
        }
        cli_free_secret(pw, pw_read + 1u);
        if (rc != CLI_OK)
            goto out;
    }
    rc = CLI_OK;
out:
    c = cli_spool_finish(&key_sp, rc == CLI_OK && out_key != NULL);
    if (rc == CLI_OK)
        rc = c;
    c = cli_spool_finish(&cert_sp, rc == CLI_OK && out_cert != NULL);
    if (rc == CLI_OK)
        rc = c;
    if (rc == CLI_OK) {
        serial_hex(rec.serial, hex);
        fprintf(cli_info(&io), "issued %s certificate for '%s', serial %s, valid %llu days\n",
                server ? "server" : "device", id, hex, (unsigned long long)days);
    }
    EVP_PKEY_free(key);
    X509_free(cert);
    ca_close(&ca);
    return rc;
}

/* ---- revoke --------------------------------------------------------------------------- */

static int ca_revoke(int argc, char **argv)
{
    static const struct option opts[] = {{"dir", required_argument, NULL, 'd'},
                                         {"serial", required_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *dir = NULL, *serial_text = NULL, *cert_path = NULL;
    uint8_t serial[IOTSEC_SERIAL_LEN], raw[IOTSEC_SERIAL_LEN];
    char hex[2 * IOTSEC_SERIAL_LEN + 1];
    struct ca_dir ca;
    size_t i, n = 0;
    X509 *cert = NULL;
    int c, rc;

    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 's': serial_text = optarg; break;
        case 'h': fputs(revoke_usage, stdout); return CLI_OK;
        default: return cli_usage_error("ca revoke", "invalid option");
        }
    }
    if (optind < argc)
        cert_path = argv[optind++];
    if (optind != argc)
        return cli_usage_error("ca revoke", "unexpected argument '%s'", argv[optind]);
    if (dir == NULL || (cert_path == NULL) == (serial_text == NULL))
        return cli_usage_error("ca revoke", "--dir and one of C.pem or --serial are required");
    if (cli_is_dash(dir))
        return cli_usage_error("ca revoke", DIR_DASH);
    memset(serial, 0, sizeof serial);
    if (serial_text != NULL) {
        size_t len = strlen(serial_text);
        if (len % 2 != 0 || len > 2 * IOTSEC_SERIAL_LEN ||
            iotsec_hex_decode(serial_text, len, raw, sizeof raw, &n, 0) != IOTSEC_OK || n == 0)
            return cli_usage_error("ca revoke", "--serial: expected up to 40 hex digits");
        memcpy(serial + IOTSEC_SERIAL_LEN - n, raw, n);
    }
    if ((rc = ca_open(&ca, dir, 0)) != CLI_OK) {
        ca_close(&ca);
        return rc;
    }
    if (cert_path != NULL) {
        /* a chain file (ca issue of an intermediate) names its first certificate */
        X509 *all[CHAIN_MAX];
        size_t n_all = 0;
        rc = cli_certs_load(cert_path, all, CHAIN_MAX, &n_all);
        if (rc == IOTSEC_OK) {
            cert = all[0];
            free_chain(all + 1, n_all - 1);
        }
        if (rc == IOTSEC_OK &&
            X509_NAME_cmp(X509_get_issuer_name(cert), X509_get_subject_name(ca.cert)) != 0)
            rc = IOTSEC_E_UNTRUSTED;
        if (rc == IOTSEC_OK)
            rc = iotsec_x509_serial(cert, serial);
        X509_free(cert);
        if (rc != IOTSEC_OK) {
            ca_close(&ca);
            return cli_fail(rc, "ca revoke %s", cli_in(cert_path));
        }
    }
    serial_hex(serial, hex);
    for (i = 0; i < ca.n; i++) {
        if (memcmp(ca.recs[i].serial, serial, sizeof serial) == 0)
            break;
    }
    if (i == ca.n) {
        ca_close(&ca);
        return cli_fail(IOTSEC_E_UNTRUSTED, "ca revoke: serial %s is not in the records of %s",
                        hex, dir);
    }
    if (ca.recs[i].revoked_at != 0) {
        printf("serial %s ('%s') was already revoked at %llu\n", hex, ca.recs[i].name,
               (unsigned long long)ca.recs[i].revoked_at);
        ca_close(&ca);
        return CLI_OK;
    }
    ca.recs[i].revoked_at = (uint64_t)time(NULL);
    rc = save_index(&ca);
    if (rc == CLI_OK)
        printf("revoked serial %s ('%s'); run 'iotsec ca crl' to publish\n", hex, ca.recs[i].name);
    ca_close(&ca);
    return rc;
}

/* ---- crl ------------------------------------------------------------------------------ */

static int ca_crl(int argc, char **argv)
{
    static const struct option opts[] = {{"dir", required_argument, NULL, 'd'},
                                         {"out", required_argument, NULL, 'o'},
                                         {"days", required_argument, NULL, 'y'},
                                         {"der", no_argument, NULL, 'D'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *dir = NULL, *out = NULL;
    uint64_t days = 30;
    int der = 0, c, rc;
    struct ca_dir ca;
    iotsec_crl_entry *entries = NULL;
    X509_CRL *crl = NULL;
    size_t i, n = 0;
    char path[4096], num[24];
    int64_t now = (int64_t)time(NULL);
    cli_stdio io = {NULL, NULL};
    cli_spool sp;
    const char *out_path;

    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 'o': out = optarg; break;
        case 'y':
            if ((rc = parse_days("ca crl", optarg, &days)) != CLI_OK)
                return rc;
            break;
        case 'D': der = 1; break;
        case 'h': fputs(crl_usage, stdout); return CLI_OK;
        default: return cli_usage_error("ca crl", "invalid option");
        }
    }
    if (optind != argc)
        return cli_usage_error("ca crl", "unexpected argument '%s'", argv[optind]);
    if (dir == NULL || out == NULL)
        return cli_usage_error("ca crl", "--dir and --out are required");
    if (cli_is_dash(dir))
        return cli_usage_error("ca crl", DIR_DASH);
    (void)cli_claim_stdout("ca crl", &io, "--out", out);
    memset(&sp, 0, sizeof sp);
    if ((rc = ca_open(&ca, dir, 1)) != CLI_OK) {
        ca_close(&ca);
        return rc;
    }
    entries = calloc(ca.n ? ca.n : 1, sizeof *entries);
    if (entries == NULL) {
        ca_close(&ca);
        return cli_error(CLI_IO, "out of memory");
    }
    for (i = 0; i < ca.n; i++) {
        if (ca.recs[i].revoked_at == 0)
            continue;
        memcpy(entries[n].serial, ca.recs[i].serial, IOTSEC_SERIAL_LEN);
        entries[n].revoked_at = (int64_t)ca.recs[i].revoked_at;
        n++;
    }
    /* the number is committed before the CRL is written: a number is never reused */
    ca.crl_number++;
    rc = dir_path(path, sizeof path, dir, "crlnumber");
    if (rc == CLI_OK) {
        int len = snprintf(num, sizeof num, "%llu\n", (unsigned long long)ca.crl_number);
        if (iotsec_file_write_atomic(path, num, (size_t)len, 0644) != IOTSEC_OK)
            rc = cli_error(CLI_IO, "%s: %s", path, strerror(errno));
    }
    if (rc == CLI_OK) {
        rc = iotsec_x509_crl_create(ca.cert, ca.key, entries, n, ca.crl_number, now,
                                    now + (int64_t)days * 86400, &crl);
        if (rc == IOTSEC_OK)
            rc = (out_path = cli_spool_path(&sp, out, "crl")) == NULL
                     ? IOTSEC_E_IO
                     : iotsec_x509_crl_write_file(crl, out_path,
                                                  der ? IOTSEC_X509_DER : IOTSEC_X509_PEM);
        rc = rc == IOTSEC_OK ? cli_spool_finish(&sp, 1) : cli_fail(rc, "ca crl %s", cli_out(out));
        if (rc != CLI_OK)
            (void)cli_spool_finish(&sp, 0);
    }
    if (rc == CLI_OK)
        fprintf(cli_info(&io), "wrote CRL number %llu to %s: %zu revoked, next update in %llu "
                               "days\n",
                (unsigned long long)ca.crl_number, cli_out(out), n, (unsigned long long)days);
    X509_CRL_free(crl);
    free(entries);
    ca_close(&ca);
    return rc;
}

int cmd_ca(int argc, char **argv)
{
    if (argc < 2) {
        fputs(ca_usage, stderr);
        return CLI_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(ca_usage, stdout);
        return CLI_OK;
    }
    if (strcmp(argv[1], "init") == 0)
        return ca_init(argc - 1, argv + 1);
    if (strcmp(argv[1], "issue") == 0)
        return ca_issue_common(argc - 1, argv + 1, 0);
    if (strcmp(argv[1], "server") == 0)
        return ca_issue_common(argc - 1, argv + 1, 1);
    if (strcmp(argv[1], "revoke") == 0)
        return ca_revoke(argc - 1, argv + 1);
    if (strcmp(argv[1], "crl") == 0)
        return ca_crl(argc - 1, argv + 1);
    fprintf(stderr, "iotsec: ca: unknown command '%s'\n", argv[1]);
    fputs(ca_usage, stderr);
    return CLI_USAGE;
}
