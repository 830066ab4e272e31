/* iotsec CLI — shared helpers (cli.h). */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

const iotsec_crypto *cli_crypto(void)
{
    const char *name = getenv("IOTSEC_BACKEND");
    const iotsec_crypto *c;

    if (name == NULL || *name == '\0')
        return iotsec_crypto_default();
    c = iotsec_crypto_by_name(name);
    if (c == NULL)
        fprintf(stderr, "iotsec: IOTSEC_BACKEND=%s: no such backend in this build\n", name);
    return c;
}

int cli_exit_code(int rc)
{
    if (rc == IOTSEC_OK)
        return CLI_OK;
    if (rc == IOTSEC_E_IO)
        return CLI_IO;
    if (rc == IOTSEC_E_INVALID_ARG)
        return CLI_USAGE;
    return CLI_REJECTED;
}

int cli_fail(int rc, const char *fmt, ...)
{
    va_list ap;

    fputs("iotsec: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, ": %s\n", iotsec_strerror(rc));
    return cli_exit_code(rc);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fputs("iotsec: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'iotsec %s --help'.\n", cmd);
    return CLI_USAGE;
}

int cli_error(int code, const char *fmt, ...)
{
    va_list ap;

    fputs("iotsec: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

int cli_parse_u64(const char *cmd, const char *opt, const char *s, uint64_t max, uint64_t *out)
{
    if (s == NULL || iotsec_parse_u64_dec(s, strlen(s), max, out) != IOTSEC_OK)
        return cli_usage_error(cmd, "%s: expected a decimal integer 0..%llu, got '%s'", opt,
                               (unsigned long long)max, s ? s : "");
    return CLI_OK;
}

/* ---- the "-" convention ------------------------------------------------------------------ */

int cli_is_dash(const char *path)
{
    return path != NULL && strcmp(path, "-") == 0;
}

const char *cli_in(const char *path)
{
    return cli_is_dash(path) ? "standard input" : path;
}

const char *cli_out(const char *path)
{
    return cli_is_dash(path) ? "standard output" : path;
}

static int claim(const char *cmd, const char **slot, const char *what, const char *path,
                 const char *stream, const char *verb)
{
    if (!cli_is_dash(path))
        return CLI_OK;
    if (*slot != NULL)
        return cli_usage_error(cmd, "%s and %s both %s %s ('-'); only one %s may be '-'",
                               *slot, what, verb, stream,
                               strcmp(verb, "read") == 0 ? "input" : "output");
    *slot = what;
    return CLI_OK;
}

int cli_claim_stdin(const char *cmd, cli_stdio *s, const char *what, const char *path)
{
    return claim(cmd, &s->in, what, path, "standard input", "read");
}

int cli_claim_stdout(const char *cmd, cli_stdio *s, const char *what, const char *path)
{
    return claim(cmd, &s->out, what, path, "standard output", "write");
}

FILE *cli_info(const cli_stdio *s)
{
    return s->out != NULL ? stderr : stdout;
}

int cli_refuse_terminal(const char *cmd, const char *what, const char *path)
{
    if (cli_is_dash(path) && isatty(STDOUT_FILENO))
        return cli_usage_error(cmd, "%s -: refusing to write a secret to a terminal; redirect "
                                    "or pipe standard output", what);
    return CLI_OK;
}

/* Read f to its end, at most max bytes (one more is read to detect excess). */
static int read_stream(FILE *f, size_t max, uint8_t **buf, size_t *len)
{
    size_t cap = max < 4096 ? max + 1 : 4096, n = 0;
    uint8_t *p = malloc(cap + 1);

    if (p == NULL)
        return IOTSEC_E_NO_MEMORY;
    for (;;) {
        size_t got;
        if (n == cap) {
            size_t ncap;
            uint8_t *q;
            if (cap > max)
                break; /* max + 1 bytes read: too long */
            ncap = cap > (max + 1) / 2 ? max + 1 : 2 * cap;
            q = malloc(ncap + 1);
            if (q == NULL) {
                cli_free_secret(p, n);
                return IOTSEC_E_NO_MEMORY;
            }
            memcpy(q, p, n);
            cli_free_secret(p, n); /* the input may be a secret: no stale copy in the heap */
            p = q;
            cap = ncap;
        }
        got = fread(p + n, 1, cap - n, f);
        n += got;
        if (got == 0 || feof(f) || ferror(f))
            break;
    }
    if (ferror(f)) {
        int saved = errno;
        cli_free_secret(p, n);
        errno = saved;
        return IOTSEC_E_IO;
    }
    if (n > max) {
        cli_free_secret(p, n);
        return IOTSEC_E_BAD_LENGTH;
    }
    p[n] = 0;
    *buf = p;
    *len = n;
    return IOTSEC_OK;
}

int cli_input(const char *path, size_t max, uint8_t **buf, size_t *len)
{
    if (path == NULL || buf == NULL || len == NULL || max > (size_t)-1 / 2)
        return IOTSEC_E_INVALID_ARG;
    *buf = NULL;
    *len = 0;
    if (cli_is_dash(path))
        return read_stream(stdin, max, buf, len);
    return iotsec_file_read(path, max, buf, len);
}

void cli_free_secret(uint8_t *buf, size_t len)
{
    if (buf == NULL)
        return;
    iotsec_zeroize(buf, len);
    free(buf);
}

int cli_read_file(const char *path, size_t max, uint8_t **buf, size_t *len)
{
    int rc = cli_input(path, max, buf, len);

    if (rc == IOTSEC_E_BAD_LENGTH) /* no input of ours is this long: rejected, not I/O */
        return cli_error(CLI_REJECTED, "%s: larger than %zu bytes", cli_in(path), max);
    if (rc == IOTSEC_E_NO_MEMORY)
        return cli_error(CLI_IO, "%s: out of memory", cli_in(path));
    if (rc != IOTSEC_OK)
        return cli_error(CLI_IO, "%s: %s", cli_in(path), strerror(errno));
    return CLI_OK;
}

int cli_read_secret(const char *path, uint8_t *out, size_t len)
{
    struct stat st;
    uint8_t *buf = NULL;
    size_t got = 0;
    int rc;

    if (cli_is_dash(path)) {
        rc = cli_input(path, len, &buf, &got);
        if (rc == IOTSEC_E_BAD_LENGTH)
            return cli_error(CLI_USAGE, "standard input: a %zu-byte secret is required, it has "
                                        "more bytes", len);
        if (rc != IOTSEC_OK)
            return cli_error(CLI_IO, "standard input: %s",
                             rc == IOTSEC_E_NO_MEMORY ? "out of memory" : strerror(errno));
        if (got != len) {
            cli_free_secret(buf, got);
            return cli_error(CLI_USAGE, "standard input: a %zu-byte secret is required, it has "
                                        "%zu bytes", len, got);
        }
        memcpy(out, buf, len);
        cli_free_secret(buf, got);
        return CLI_OK;
    }
    if (stat(path, &st) != 0)
        return cli_error(CLI_IO, "%s: %s", path, strerror(errno));
    if (S_ISREG(st.st_mode) && (unsigned long long)st.st_size != len)
        return cli_error(CLI_USAGE, "%s: a %zu-byte secret is required, the file has %lld bytes",
                         path, len, (long long)st.st_size);
    rc = iotsec_file_read_secret(path, out, len);
    if (rc == IOTSEC_E_BAD_LENGTH)
        return cli_error(CLI_USAGE, "%s: a %zu-byte secret is required", path, len);
    if (rc != IOTSEC_OK)
        return cli_error(CLI_IO, "%s: %s", path, strerror(errno));
    return CLI_OK;
}

FILE *cli_stream_open(const char *path)
{
    return cli_is_dash(path) ? stdin : fopen(path, "rb");
}

void cli_stream_close(FILE *f)
{
    if (f != NULL && f != stdin)
        fclose(f);
}

int cli_write_stdout(const void *data, size_t len)
{
    if ((len > 0 && fwrite(data, 1, len, stdout) != len) || fflush(stdout) != 0)
        return cli_error(CLI_IO, "writing standard output: %s", strerror(errno));
    return CLI_OK;
}

/* Write all of data to an existing non-regular file (a device, a FIFO) in place. */
static int write_in_place(const char *path, const uint8_t *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
    int saved;

    if (fd < 0)
        return -1;
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            saved = errno;
            close(fd);
            errno = saved;
            return -1;
        }
        data += n;
        len -= (size_t)n;
    }
    return close(fd);
}

int cli_write_output(const char *path, const void *data, size_t len, unsigned mode)
{
    struct stat st;

    if (cli_is_dash(path))
        return cli_write_stdout(data, len);
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
        /* e.g. /dev/null: never replaced by a regular file */
        if (write_in_place(path, (const uint8_t *)data, len) != 0)
            return cli_error(CLI_IO, "writing %s: %s", path, strerror(errno));
        return CLI_OK;
    }
    if (iotsec_file_write_atomic(path, data, len, mode) != IOTSEC_OK)
        return cli_error(CLI_IO, "writing %s: %s", path, strerror(errno));
    return CLI_OK;
}

int cli_check_overwrite(const char *path, int force)
{
    struct stat st;

    if (!force && !cli_is_dash(path) && stat(path, &st) == 0)
        return cli_error(CLI_IO, "%s: already exists (use --force to replace it)", path);
    return CLI_OK;
}

/* ---- spooled output ------------------------------------------------------------------------ */

const char *cli_spool_path(cli_spool *sp, const char *path, const char *name)
{
    const char *tmp = getenv("TMPDIR");
    int n;

    memset(sp, 0, sizeof *sp);
    if (!cli_is_dash(path))
        return path;
    if (tmp == NULL || *tmp == '\0')
        tmp = "/tmp";
    n = snprintf(sp->dir, sizeof sp->dir, "%s/iotsec.XXXXXX", tmp);
    if (n < 0 || (size_t)n >= sizeof sp->dir) {
        sp->dir[0] = '\0';
        cli_error(CLI_IO, "%s: temporary directory path too long", tmp);
        return NULL;
    }
    if (mkdtemp(sp->dir) == NULL) { /* mode 0700 */
        cli_error(CLI_IO, "%s: cannot create a temporary directory: %s", tmp, strerror(errno));
        sp->dir[0] = '\0';
        return NULL;
    }
    n = snprintf(sp->file, sizeof sp->file, "%s/%s", sp->dir, name);
    if (n < 0 || (size_t)n >= sizeof sp->file) {
        (void)rmdir(sp->dir);
        sp->dir[0] = '\0';
        cli_error(CLI_IO, "%s: temporary path too long", tmp);
        return NULL;
    }
    return sp->file;
}

int cli_spool_finish(cli_spool *sp, int ok)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = CLI_OK;

    if (sp->dir[0] == '\0')
        return CLI_OK;
    if (ok) {
        rc = cli_input(sp->file, IOTSEC_X509_FILE_MAX, &buf, &len);
        rc = rc == IOTSEC_OK ? cli_write_stdout(buf, len)
                             : cli_error(CLI_IO, "%s: %s", sp->file, strerror(errno));
        cli_free_secret(buf, len);
    }
    (void)unlink(sp->file);
    if (rmdir(sp->dir) != 0 && rc == CLI_OK)
        rc = cli_error(CLI_IO, "%s: %s", sp->dir, strerror(errno));
    memset(sp, 0, sizeof *sp);
    return rc;
}

/* ---- loaders that accept "-" ------------------------------------------------------------------ */

int cli_pubkey_load(iotsec_pubkey *pk, const iotsec_crypto *crypto, const char *path)
{
    uint8_t *buf = NULL, *der = NULL;
    size_t len = 0, der_len = 0;
    int rc;

    if (!cli_is_dash(path))
        return iotsec_pubkey_load_file(pk, crypto, path);
    rc = cli_input(path, CLI_KEY_FILE_MAX, &buf, &len);
    if (rc == IOTSEC_OK)
        rc = iotsec_pubkey_decode(buf, len, &der, &der_len);
    if (rc == IOTSEC_OK)
        rc = iotsec_pubkey_load(pk, crypto, der, der_len);
    free(buf);
    free(der);
    return rc;
}

int cli_privkey_load(iotsec_privkey *sk, const iotsec_crypto *crypto, const char *path)
{
    uint8_t *buf = NULL, *der = NULL;
    size_t len = 0, der_len = 0;
    int rc;

    if (!cli_is_dash(path))
        return iotsec_privkey_load_file(sk, crypto, path);
    rc = cli_input(path, CLI_KEY_FILE_MAX, &buf, &len);
    if (rc == IOTSEC_OK)
        rc = iotsec_privkey_decode(buf, len, &der, &der_len);
    cli_free_secret(buf, len);
    if (rc == IOTSEC_OK)
        rc = iotsec_privkey_load(sk, crypto, der, der_len);
    cli_free_secret(der, der_len);
    return rc;
}

int cli_cert_load(const char *path, struct x509_st **out)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc;

    if (!cli_is_dash(path))
        return iotsec_x509_cert_load_file(path, out);
    *out = NULL;
    rc = cli_input(path, IOTSEC_X509_FILE_MAX, &buf, &len);
    if (rc == IOTSEC_OK)
        rc = len == 0 ? IOTSEC_E_BAD_ENCODING : iotsec_x509_cert_decode(buf, len, out);
    free(buf);
    return rc;
}

int cli_certs_load(const char *path, struct x509_st **out, size_t cap, size_t *n)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc;

    if (!cli_is_dash(path))
        return iotsec_x509_certs_load_file(path, out, cap, n);
    *n = 0;
    rc = cli_input(path, IOTSEC_X509_FILE_MAX, &buf, &len);
    if (rc == IOTSEC_OK)
        rc = len == 0 ? IOTSEC_E_BAD_ENCODING : iotsec_x509_certs_decode(buf, len, out, cap, n);
    free(buf);
    return rc;
}

int cli_crl_add(iotsec_revocation *rs, const char *path, int64_t now)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc;

    if (!cli_is_dash(path))
        return iotsec_revocation_add_crl_file(rs, path, now);
    rc = cli_input(path, IOTSEC_X509_FILE_MAX, &buf, &len);
    if (rc == IOTSEC_OK)
        rc = len == 0 ? IOTSEC_E_BAD_ENCODING : iotsec_revocation_add_crl(rs, buf, len, now);
    free(buf);
    return rc;
}

int cli_denylist_add(iotsec_revocation *rs, const char *path, size_t *err_line)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc;

    if (err_line != NULL)
        *err_line = 0;
    if (!cli_is_dash(path))
        return iotsec_revocation_add_denylist_file(rs, path, err_line);
    rc = cli_input(path, CLI_DENYLIST_MAX, &buf, &len);
    if (rc == IOTSEC_OK)
        rc = iotsec_revocation_add_denylist(rs, buf, len, err_line);
    free(buf);
    return rc;
}
