/* iotsec CLI — shared helpers (cli.h). */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

int cli_read_stdin(uint8_t **buf, size_t *len, size_t max)
{
    size_t cap = 4096, n = 0;
    uint8_t *p = malloc(cap);

    if (p == NULL)
        return cli_error(CLI_IO, "out of memory");
    for (;;) {
        size_t got;
        if (n == cap) {
            uint8_t *q;
            if (cap > max)
                break;
            cap *= 2;
            q = realloc(p, cap);
            if (q == NULL) {
                free(p);
                return cli_error(CLI_IO, "out of memory");
            }
            p = q;
        }
        got = fread(p + n, 1, cap - n, stdin);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(stdin)) {
        free(p);
        return cli_error(CLI_IO, "reading stdin: %s", strerror(errno));
    }
    if (n > max) { /* no frame or manifest is this long: rejected input, not I/O */
        free(p);
        return cli_error(CLI_REJECTED, "stdin: input larger than %zu bytes", (size_t)max);
    }
    *buf = p;
    *len = n;
    return CLI_OK;
}

int cli_write_stdout(const void *data, size_t len)
{
    if ((len > 0 && fwrite(data, 1, len, stdout) != len) || fflush(stdout) != 0)
        return cli_error(CLI_IO, "writing stdout: %s", strerror(errno));
    return CLI_OK;
}

int cli_read_file(const char *path, size_t max, uint8_t **buf, size_t *len)
{
    int rc = iotsec_file_read(path, max, buf, len);

    if (rc == IOTSEC_E_BAD_LENGTH)
        return cli_error(CLI_REJECTED, "%s: larger than %zu bytes", path, max);
    if (rc != IOTSEC_OK)
        return cli_error(CLI_IO, "%s: %s", path, strerror(errno));
    return CLI_OK;
}

int cli_read_secret(const char *path, uint8_t *out, size_t len)
{
    struct stat st;
    int rc;

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

int cli_check_overwrite(const char *path, int force)
{
    struct stat st;

    if (!force && stat(path, &st) == 0)
        return cli_error(CLI_IO, "%s: already exists (use --force to replace it)", path);
    return CLI_OK;
}
