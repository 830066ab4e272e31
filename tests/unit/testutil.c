/* Shared helpers for the Check suites (testutil.h). */
#include "testutil.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Every backend this build has, in the registry's order (the default first). */
static int backend_list(const iotsec_crypto *list[3])
{
    int n = 0;

    if (iotsec_crypto_openssl() != NULL)
        list[n++] = iotsec_crypto_openssl();
    if (iotsec_crypto_psa() != NULL)
        list[n++] = iotsec_crypto_psa();
    if (iotsec_crypto_sodium() != NULL)
        list[n++] = iotsec_crypto_sodium();
    return n;
}

int tu_backend_count(void)
{
    const iotsec_crypto *list[3];

    return backend_list(list);
}

const iotsec_crypto *tu_backend(int i)
{
    const iotsec_crypto *list[3];
    int n = backend_list(list);

    ck_assert_int_lt(i, n);
    return list[i];
}

uint8_t *tu_hex(const char *hex, size_t *len)
{
    size_t n = strlen(hex), i, o = 0;
    uint8_t *out = malloc(n / 2 + 1);
    int hi = -1;

    ck_assert_ptr_nonnull(out);
    for (i = 0; i < n; i++) {
        int v;
        char c = hex[i];
        if (isspace((unsigned char)c))
            continue;
        if (c >= '0' && c <= '9')
            v = c - '0';
        else if (c >= 'a' && c <= 'f')
            v = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v = c - 'A' + 10;
        else
            ck_abort_msg("bad hex digit in test vector: %c", c);
        if (hi < 0) {
            hi = v;
        } else {
            out[o++] = (uint8_t)((hi << 4) | v);
            hi = -1;
        }
    }
    ck_assert_msg(hi < 0, "odd hex length in test vector");
    *len = o;
    return out;
}

void tu_pattern(uint8_t *buf, size_t len, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1u;
    size_t i;

    for (i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (uint8_t)x;
    }
}

void tu_tmpdir(char *out, size_t cap)
{
    const char *base = getenv("TMPDIR");
    int n = snprintf(out, cap, "%s/iotsec-test-XXXXXX", base && *base ? base : "/tmp");
    ck_assert(n > 0 && (size_t)n < cap);
    ck_assert_ptr_nonnull(mkdtemp(out));
}

void tu_tmpdir_cleanup(const char *dir)
{
    if (dir != NULL && strstr(dir, "iotsec-test-") != NULL)
        (void)tu_sh("rm -rf '%s'", dir);
}

void tu_write_file(const char *dir, const char *name, const void *data, size_t len, char *out,
                   size_t cap)
{
    FILE *f;
    int n = snprintf(out, cap, "%s/%s", dir, name);

    ck_assert(n > 0 && (size_t)n < cap);
    f = fopen(out, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

uint8_t *tu_read_file(const char *path, size_t *len)
{
    uint8_t *buf = NULL;
    size_t n = 0;
    int rc = iotsec_file_read(path, (size_t)1 << 30, &buf, &n);

    ck_assert_msg(rc == IOTSEC_OK, "cannot read %s: %s", path, iotsec_strerror(rc));
    *len = n;
    return buf;
}

int tu_sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    int n, status;

    va_start(ap, fmt);
    n = vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    ck_assert(n > 0 && (size_t)n < sizeof cmd);
    status = system(cmd);
    if (status == -1 || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

int tu_run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
