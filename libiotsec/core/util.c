/* libiotsec — dependency-free helpers (include/iotsec/util.h). */
#include "iotsec/util.h"

#include "iotsec/error.h"

int iotsec_ct_compare(const void *a, const void *b, size_t len)
{
    const volatile uint8_t *pa = (const volatile uint8_t *)a;
    const volatile uint8_t *pb = (const volatile uint8_t *)b;
    uint8_t diff = 0;
    size_t i;

    for (i = 0; i < len; i++)
        diff = (uint8_t)(diff | (pa[i] ^ pb[i]));
    /* (diff - 1) >> 8 is all ones exactly when diff == 0 */
    return (int)((((unsigned)diff - 1u) >> 8) & 1u) - 1;
}

void iotsec_zeroize(void *p, size_t len)
{
    volatile uint8_t *v = (volatile uint8_t *)p;
    size_t i;

    if (p == NULL)
        return;
    for (i = 0; i < len; i++)
        v[i] = 0;
}

/* ---- base64 ---------------------------------------------------------------------------- */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int iotsec_base64_encode(const uint8_t *in, size_t in_len, char *out, size_t out_cap,
                         size_t *out_len)
{
    size_t need, i, o = 0;

    if ((in == NULL && in_len != 0) || out == NULL)
        return IOTSEC_E_INVALID_ARG;
    if (in_len > ((size_t)-1 - 3u) / 4u * 3u)
        return IOTSEC_E_INVALID_ARG;
    need = IOTSEC_BASE64_ENCODED_LEN(in_len);
    if (out_cap < need + 1u)
        return IOTSEC_E_BUFFER_TOO_SMALL;
    for (i = 0; in_len - i >= 3u; i += 3u) {
        uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8) | in[i + 2];
        out[o++] = b64_alphabet[(v >> 18) & 63u];
        out[o++] = b64_alphabet[(v >> 12) & 63u];
        out[o++] = b64_alphabet[(v >> 6) & 63u];
        out[o++] = b64_alphabet[v & 63u];
    }
    if (in_len - i == 1u) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = b64_alphabet[(v >> 18) & 63u];
        out[o++] = b64_alphabet[(v >> 12) & 63u];
        out[o++] = '=';
        out[o++] = '=';
    } else if (in_len - i == 2u) {
        uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8);
        out[o++] = b64_alphabet[(v >> 18) & 63u];
        out[o++] = b64_alphabet[(v >> 12) & 63u];
        out[o++] = b64_alphabet[(v >> 6) & 63u];
        out[o++] = '=';
    }
    out[o] = '\0';
    if (out_len != NULL)
        *out_len = o;
    return IOTSEC_OK;
}

/* value of a base64 symbol, or -1 */
static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int iotsec_base64_decode(const char *in, size_t in_len, uint8_t *out, size_t out_cap,
                         size_t *out_len)
{
    size_t pad = 0, need, i, o = 0;

    if ((in == NULL && in_len != 0) || (out == NULL && out_cap != 0) || out_len == NULL)
        return IOTSEC_E_INVALID_ARG;
    if (in_len % 4u != 0)
        return IOTSEC_E_BAD_ENCODING;
    if (in_len > 0 && in[in_len - 1] == '=') {
        pad = 1;
        if (in[in_len - 2] == '=')
            pad = 2;
    }
    /* every character before the padding must be in the alphabet */
    for (i = 0; i < in_len - pad; i++) {
        if (b64_value(in[i]) < 0)
            return IOTSEC_E_BAD_ENCODING;
    }
    /* the unused low bits of the last symbol must be zero (RFC 4648 §3.5) */
    if (pad == 1 && (b64_value(in[in_len - 2]) & 0x3) != 0)
        return IOTSEC_E_NON_CANONICAL;
    if (pad == 2 && (b64_value(in[in_len - 3]) & 0xf) != 0)
        return IOTSEC_E_NON_CANONICAL;
    need = in_len / 4u * 3u - pad;
    if (out_cap < need)
        return IOTSEC_E_BUFFER_TOO_SMALL;
    for (i = 0; i < in_len; i += 4u) {
        uint32_t v = ((uint32_t)b64_value(in[i]) << 18) | ((uint32_t)b64_value(in[i + 1]) << 12);
        out[o++] = (uint8_t)(v >> 16);
        if (i + 4u == in_len && pad == 2)
            break;
        v |= (uint32_t)b64_value(in[i + 2]) << 6;
        out[o++] = (uint8_t)(v >> 8);
        if (i + 4u == in_len && pad == 1)
            break;
        v |= (uint32_t)b64_value(in[i + 3]);
        out[o++] = (uint8_t)v;
    }
    *out_len = o;
    return IOTSEC_OK;
}

/* ---- hex ------------------------------------------------------------------------------- */

int iotsec_hex_encode(const uint8_t *in, size_t in_len, char *out, size_t out_cap)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;

    if ((in == NULL && in_len != 0) || out == NULL)
        return IOTSEC_E_INVALID_ARG;
    if (in_len > ((size_t)-1 - 1u) / 2u || out_cap < in_len * 2u + 1u)
        return IOTSEC_E_BUFFER_TOO_SMALL;
    for (i = 0; i < in_len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0xf];
    }
    out[2 * in_len] = '\0';
    return IOTSEC_OK;
}

static int hex_value(char c, unsigned flags)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F' && !(flags & IOTSEC_HEX_LOWER_ONLY))
        return c - 'A' + 10;
    return -1;
}

int iotsec_hex_decode(const char *in, size_t in_len, uint8_t *out, size_t out_cap,
                      size_t *out_len, unsigned flags)
{
    size_t i;

    if ((in == NULL && in_len != 0) || (out == NULL && out_cap != 0) || out_len == NULL)
        return IOTSEC_E_INVALID_ARG;
    if (in_len % 2u != 0)
        return IOTSEC_E_BAD_ENCODING;
    for (i = 0; i < in_len; i++) {
        if (hex_value(in[i], flags) < 0)
            return IOTSEC_E_BAD_ENCODING;
    }
    if (out_cap < in_len / 2u)
        return IOTSEC_E_BUFFER_TOO_SMALL;
    for (i = 0; i < in_len; i += 2u)
        out[i / 2u] = (uint8_t)((hex_value(in[i], flags) << 4) | hex_value(in[i + 1], flags));
    *out_len = in_len / 2u;
    return IOTSEC_OK;
}

/* ---- decimal --------------------------------------------------------------------------- */

int iotsec_parse_u64_dec(const char *s, size_t len, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    size_t i;

    if ((s == NULL && len != 0) || out == NULL)
        return IOTSEC_E_INVALID_ARG;
    if (len == 0)
        return IOTSEC_E_BAD_ENCODING;
    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return IOTSEC_E_BAD_ENCODING;
    }
    if (s[0] == '0' && len > 1)
        return IOTSEC_E_BAD_ENCODING;
    for (i = 0; i < len; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10u)
            return IOTSEC_E_BAD_VALUE;
        v = v * 10u + d;
    }
    if (v > max)
        return IOTSEC_E_BAD_VALUE;
    *out = v;
    return IOTSEC_OK;
}

size_t iotsec_format_u64_dec(uint64_t v, char buf[20])
{
    char tmp[20];
    size_t n = 0, i;

    do {
        tmp[n++] = (char)('0' + (int)(v % 10u));
        v /= 10u;
    } while (v != 0);
    for (i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    return n;
}

/* ---- device ids ------------------------------------------------------------------------ */

/* [A-Za-z0-9._:@-] as a 256-bit set: bit (c & 31) of word c >> 5 (one lookup per byte on
 * the receive path, instead of a chain of range tests) */
static const uint32_t id_chars[8] = {0x00000000u, 0x07ff6000u, 0x87ffffffu, 0x07fffffeu,
                                     0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u};

int iotsec_device_id_check(const void *id, size_t len)
{
    const uint8_t *p = (const uint8_t *)id;
    size_t i;

    if (id == NULL && len > 0)
        return IOTSEC_E_INVALID_ARG;
    if (len == 0 || len > IOTSEC_DEVICE_ID_MAX)
        return IOTSEC_E_BAD_LENGTH;
    for (i = 0; i < len; i++) {
        if (((id_chars[p[i] >> 5] >> (p[i] & 31u)) & 1u) == 0)
            return IOTSEC_E_BAD_ENCODING;
    }
    return IOTSEC_OK;
}

/* ---- CRC-32 ---------------------------------------------------------------------------- */

uint32_t iotsec_crc32(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = (const uint8_t *)data;
    size_t i;
    int k;

    if (p == NULL)
        return crc;
    crc = ~crc;
    for (i = 0; i < len; i++) {
        crc ^= p[i];
        for (k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}
