/* iotsec-backend — small helpers shared by the server and the admin commands (backend.h). */
#include "backend.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>

void bk_device_wipe(bk_device *dev)
{
    if (dev != NULL)
        iotsec_zeroize(dev, sizeof *dev);
}

int64_t bk_now(void)
{
    return (int64_t)time(NULL);
}

char *bk_json_escape(const char *s, char *out, size_t out_cap)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;

    if (out_cap == 0)
        return out;
    for (; s != NULL && *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        char tmp[7];
        size_t n;

        if (c == '"' || c == '\\') {
            tmp[0] = '\\';
            tmp[1] = (char)c;
            n = 2;
        } else if (c < 0x20u || c >= 0x7fu) {
            tmp[0] = '\\';
            tmp[1] = 'u';
            tmp[2] = '0';
            tmp[3] = '0';
            tmp[4] = hex[c >> 4];
            tmp[5] = hex[c & 15u];
            n = 6;
        } else {
            tmp[0] = (char)c;
            n = 1;
        }
        if (out_cap - o <= n)
            break;
        memcpy(out + o, tmp, n);
        o += n;
    }
    out[o] = '\0';
    return out;
}

const char *bk_error_code(int rc, char *buf, size_t cap)
{
    const char *name = iotsec_error_name(rc);
    size_t i = 0;

    if (name == NULL)
        name = "IOTSEC_E_UNKNOWN";
    if (strncmp(name, "IOTSEC_E_", 9) == 0)
        name += 9;
    for (; name[i] != '\0' && i + 1 < cap; i++) {
        char c = name[i];
        buf[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    if (cap > 0)
        buf[i] = '\0';
    return buf;
}

int bk_http_status(int rc)
{
    switch (rc) {
    case IOTSEC_OK:
        return 200;
    case IOTSEC_E_REPLAY:
        return 409;
    case IOTSEC_E_BAD_MAC:
    case IOTSEC_E_UNKNOWN_KEY:
    case IOTSEC_E_DECRYPT:
    case IOTSEC_E_UNTRUSTED:
    case IOTSEC_E_BAD_SIGNATURE:
    case IOTSEC_E_DIGEST_MISMATCH:
        return 401;
    case IOTSEC_E_BUFFER_TOO_SMALL:
        return 413;
    default:
        break;
    }
    if (iotsec_err_is_malformed(rc))
        return 400;
    if (iotsec_err_is_auth(rc))
        return 401;
    if (iotsec_err_is_policy(rc))
        return 403;
    return 500;
}

int bk_error(int code, const char *fmt, ...)
{
    va_list ap;

    fputs("iotsec-backend: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}
