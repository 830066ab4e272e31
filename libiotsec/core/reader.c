/* libiotsec — bounded reader and writer (include/iotsec/reader.h). */
#include "iotsec/reader.h"

#include <string.h>

#include "iotsec/error.h"

void iotsec_reader_init(iotsec_reader *r, const void *buf, size_t len)
{
    r->buf = (const uint8_t *)buf;
    r->len = buf != NULL ? len : 0;
    r->pos = 0;
    r->err = IOTSEC_OK;
}

size_t iotsec_reader_remaining(const iotsec_reader *r)
{
    return r->err != IOTSEC_OK ? 0 : r->len - r->pos;
}

/* The single place that moves the cursor: returns the start of n bytes or NULL. */
static const uint8_t *take(iotsec_reader *r, size_t n)
{
    const uint8_t *p;

    if (r->err != IOTSEC_OK)
        return NULL;
    if (r->len - r->pos < n) { /* remaining >= want, written so it cannot overflow */
        r->err = IOTSEC_E_TRUNCATED;
        return NULL;
    }
    p = r->buf + r->pos;
    r->pos += n;
    return p;
}

uint8_t iotsec_reader_u8(iotsec_reader *r)
{
    const uint8_t *p = take(r, 1);
    return p ? p[0] : 0;
}

uint16_t iotsec_reader_u16(iotsec_reader *r)
{
    const uint8_t *p = take(r, 2);
    if (p == NULL)
        return 0;
    return (uint16_t)((p[0] << 8) | p[1]);
}

uint32_t iotsec_reader_u32(iotsec_reader *r)
{
    const uint8_t *p = take(r, 4);
    if (p == NULL)
        return 0;
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

uint64_t iotsec_reader_u64(iotsec_reader *r)
{
    const uint8_t *p = take(r, 8);
    uint64_t v = 0;
    int i;

    if (p == NULL)
        return 0;
    for (i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

const uint8_t *iotsec_reader_bytes(iotsec_reader *r, size_t n)
{
    if (n == 0 && r->err == IOTSEC_OK)
        return r->buf != NULL ? r->buf + r->pos : (const uint8_t *)"";
    return take(r, n);
}

int iotsec_reader_peek(const iotsec_reader *r)
{
    if (r->err != IOTSEC_OK || r->pos >= r->len)
        return -1;
    return r->buf[r->pos];
}

const uint8_t *iotsec_reader_line(iotsec_reader *r, size_t max_len, size_t *line_len)
{
    const uint8_t *start, *nl;
    size_t avail, n, consumed;

    if (r->err != IOTSEC_OK || r->pos >= r->len)
        return NULL;
    start = r->buf + r->pos;
    avail = r->len - r->pos;
    nl = (const uint8_t *)memchr(start, '\n', avail);
    n = nl != NULL ? (size_t)(nl - start) : avail;
    consumed = nl != NULL ? n + 1u : n;
    if (n > 0 && start[n - 1] == '\r')
        n--;
    if (n > max_len) {
        r->err = IOTSEC_E_BAD_LENGTH;
        return NULL;
    }
    (void)take(r, consumed);
    if (line_len != NULL)
        *line_len = n;
    return start;
}

int iotsec_reader_error(const iotsec_reader *r) { return r->err; }

void iotsec_reader_fail(iotsec_reader *r, int err)
{
    if (r->err == IOTSEC_OK && err < 0)
        r->err = err;
}

int iotsec_reader_finish(const iotsec_reader *r)
{
    if (r->err != IOTSEC_OK)
        return r->err;
    return r->pos == r->len ? IOTSEC_OK : IOTSEC_E_TRAILING_DATA;
}

/* ---- writer ---------------------------------------------------------------------------- */

void iotsec_writer_init(iotsec_writer *w, void *buf, size_t cap)
{
    w->buf = (uint8_t *)buf;
    w->cap = buf != NULL ? cap : 0;
    w->pos = 0;
    w->err = IOTSEC_OK;
}

uint8_t *iotsec_writer_reserve(iotsec_writer *w, size_t n)
{
    uint8_t *p;

    if (w->err != IOTSEC_OK)
        return NULL;
    if (w->buf == NULL) { /* counting writer */
        if ((size_t)-1 - w->pos < n)
            w->err = IOTSEC_E_BUFFER_TOO_SMALL;
        else
            w->pos += n;
        return NULL;
    }
    if (w->cap - w->pos < n) {
        w->err = IOTSEC_E_BUFFER_TOO_SMALL;
        return NULL;
    }
    p = w->buf + w->pos;
    w->pos += n;
    return p;
}

void iotsec_writer_bytes(iotsec_writer *w, const void *data, size_t n)
{
    uint8_t *p = iotsec_writer_reserve(w, n);
    if (p != NULL && n != 0)
        memcpy(p, data, n);
}

static void put_be(iotsec_writer *w, uint64_t v, size_t n)
{
    uint8_t b[8];
    size_t i;

    for (i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8u * (n - 1u - i)));
    iotsec_writer_bytes(w, b, n);
}

void iotsec_writer_u8(iotsec_writer *w, uint8_t v) { put_be(w, v, 1); }
void iotsec_writer_u16(iotsec_writer *w, uint16_t v) { put_be(w, v, 2); }
void iotsec_writer_u32(iotsec_writer *w, uint32_t v) { put_be(w, v, 4); }
void iotsec_writer_u64(iotsec_writer *w, uint64_t v) { put_be(w, v, 8); }

void iotsec_writer_str(iotsec_writer *w, const char *s) { iotsec_writer_bytes(w, s, strlen(s)); }

int iotsec_writer_error(const iotsec_writer *w) { return w->err; }
