/*
 * libiotsec — the bounded reader and writer every parser and encoder uses.
 *
 * iotsec_reader is a cursor over a caller's buffer with a sticky error (QCBOR's
 * UsefulInputBuf): after the first read past the end every getter returns 0 / NULL and
 * iotsec_reader_error() reports IOTSEC_E_TRUNCATED, so a parser reads a whole header and
 * checks once. Bounds are checked as `remaining >= want`, which cannot overflow. Nothing is
 * copied: byte getters return pointers into the caller's buffer, valid as long as it is.
 *
 * iotsec_writer is the mirror: it appends big-endian integers and bytes into a caller's
 * buffer and turns the first overflow into a sticky IOTSEC_E_BUFFER_TOO_SMALL. A writer with
 * buf == NULL only counts (to size a buffer) and never fails.
 */
#ifndef IOTSEC_READER_H
#define IOTSEC_READER_H

#include <stddef.h>
#include <stdint.h>

#include "iotsec/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct iotsec_reader {
    const uint8_t *buf; /* start of the input */
    size_t len;         /* bytes in the input */
    size_t pos;         /* bytes consumed, 0 ≤ pos ≤ len */
    int err;            /* IOTSEC_OK or the first error */
} iotsec_reader;

IOTSEC_API void iotsec_reader_init(iotsec_reader *r, const void *buf, size_t len);
/* Big-endian unsigned integers of exactly 1, 2, 4 and 8 bytes. */
IOTSEC_API uint8_t iotsec_reader_u8(iotsec_reader *r);
IOTSEC_API uint16_t iotsec_reader_u16(iotsec_reader *r);
IOTSEC_API uint32_t iotsec_reader_u32(iotsec_reader *r);
IOTSEC_API uint64_t iotsec_reader_u64(iotsec_reader *r);
/* A pointer to the next n bytes (consumed), or NULL if fewer remain or on error.
 * n == 0 returns a valid pointer (the current position) without consuming. */
IOTSEC_API const uint8_t *iotsec_reader_bytes(iotsec_reader *r, size_t n);
/* The next byte without consuming it, or -1 at the end or on error. */
IOTSEC_API int iotsec_reader_peek(const iotsec_reader *r);
/* Consume the next line: returns a pointer to its first byte and its length without the
 * terminating "\n" (and without a "\r" before it); the last line may lack "\n". NULL at the
 * end of input or on error. A line longer than max_len sets IOTSEC_E_BAD_LENGTH. */
IOTSEC_API const uint8_t *iotsec_reader_line(iotsec_reader *r, size_t max_len, size_t *line_len);
/* Bytes not yet consumed (0 after an error). */
IOTSEC_API size_t iotsec_reader_remaining(const iotsec_reader *r);
/* IOTSEC_OK, or the first error (IOTSEC_E_TRUNCATED for a read past the end). */
IOTSEC_API int iotsec_reader_error(const iotsec_reader *r);
/* Record err (a negative code) unless an error is already recorded. */
IOTSEC_API void iotsec_reader_fail(iotsec_reader *r, int err);
/* At the end of a structure: the first error, or IOTSEC_E_TRAILING_DATA if bytes remain,
 * else IOTSEC_OK. */
IOTSEC_API int iotsec_reader_finish(const iotsec_reader *r);

typedef struct iotsec_writer {
    uint8_t *buf; /* NULL: count only */
    size_t cap;   /* capacity of buf in bytes */
    size_t pos;   /* bytes written (or counted) */
    int err;      /* IOTSEC_OK or IOTSEC_E_BUFFER_TOO_SMALL */
} iotsec_writer;

IOTSEC_API void iotsec_writer_init(iotsec_writer *w, void *buf, size_t cap);
IOTSEC_API void iotsec_writer_u8(iotsec_writer *w, uint8_t v);
IOTSEC_API void iotsec_writer_u16(iotsec_writer *w, uint16_t v);
IOTSEC_API void iotsec_writer_u32(iotsec_writer *w, uint32_t v);
IOTSEC_API void iotsec_writer_u64(iotsec_writer *w, uint64_t v);
/* Append n bytes (data may be NULL only if n == 0). */
IOTSEC_API void iotsec_writer_bytes(iotsec_writer *w, const void *data, size_t n);
/* Append the bytes of a NUL-terminated string (not the NUL). */
IOTSEC_API void iotsec_writer_str(iotsec_writer *w, const char *s);
/* Reserve n bytes and return a pointer to them for the caller to fill, or NULL (error set,
 * or counting writer). */
IOTSEC_API uint8_t *iotsec_writer_reserve(iotsec_writer *w, size_t n);
/* IOTSEC_OK or IOTSEC_E_BUFFER_TOO_SMALL. */
IOTSEC_API int iotsec_writer_error(const iotsec_writer *w);

#ifdef __cplusplus
}
#endif

#endif
