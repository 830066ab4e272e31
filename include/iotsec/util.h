/*
 * libiotsec — dependency-free helpers: constant-time comparison, zeroization, strict
 * base64 and hex codecs, strict decimal numbers, CRC-32.
 *
 * None of these allocate or call the OS; all are safe to call from several threads.
 */
#ifndef IOTSEC_UTIL_H
#define IOTSEC_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "iotsec/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Compare a[0..len) and b[0..len) in time that depends only on len.
 * Returns 0 when equal, -1 when different (never a byte difference). */
IOTSEC_API IOTSEC_MUST_CHECK int iotsec_ct_compare(const void *a, const void *b, size_t len);

/* Overwrite len bytes with zeros in a way the compiler may not remove. */
IOTSEC_API void iotsec_zeroize(void *p, size_t len);

/* ---- base64 (RFC 4648 §4: standard alphabet, with padding) ---------------------------- */

/* Characters needed to encode n bytes (without the terminating NUL). */
#define IOTSEC_BASE64_ENCODED_LEN(n) ((((n) + 2u) / 3u) * 4u)
/* Upper bound of bytes decoded from n characters. */
#define IOTSEC_BASE64_DECODED_MAX(n) (((n) / 4u) * 3u)

/* Encode in[0..in_len) into out as NUL-terminated text; out_cap must be at least
 * IOTSEC_BASE64_ENCODED_LEN(in_len) + 1. *out_len (optional) gets the characters written,
 * NUL excluded. Errors: IOTSEC_E_INVALID_ARG, IOTSEC_E_BUFFER_TOO_SMALL. */
IOTSEC_API int iotsec_base64_encode(const uint8_t *in, size_t in_len, char *out,
                                    size_t out_cap, size_t *out_len);
/* Decode exactly in[0..in_len) (not NUL-terminated). Strict: length a multiple of 4, only
 * the standard alphabet, '=' only as the final one or two characters, and the unused bits
 * of the last symbol zero. Errors: IOTSEC_E_BAD_ENCODING (any character outside the
 * alphabet, whitespace, wrong length or padding), IOTSEC_E_NON_CANONICAL (non-zero trailing
 * bits), IOTSEC_E_BUFFER_TOO_SMALL, IOTSEC_E_INVALID_ARG. Writes nothing on error. */
IOTSEC_API int iotsec_base64_decode(const char *in, size_t in_len, uint8_t *out,
                                    size_t out_cap, size_t *out_len);

/* ---- hex (RFC 4648 §8) --------------------------------------------------------------- */

#define IOTSEC_HEX_LOWER_ONLY 0x1u /* iotsec_hex_decode: reject 'A'–'F' */

/* Encode as lowercase hex, NUL-terminated; out_cap ≥ 2 × in_len + 1.
 * Errors: IOTSEC_E_INVALID_ARG, IOTSEC_E_BUFFER_TOO_SMALL. */
IOTSEC_API int iotsec_hex_encode(const uint8_t *in, size_t in_len, char *out, size_t out_cap);
/* Decode in[0..in_len) (even length, digits 0-9a-fA-F, or lowercase only with
 * IOTSEC_HEX_LOWER_ONLY). Errors: IOTSEC_E_BAD_ENCODING, IOTSEC_E_BUFFER_TOO_SMALL,
 * IOTSEC_E_INVALID_ARG. Writes nothing on error. */
IOTSEC_API int iotsec_hex_decode(const char *in, size_t in_len, uint8_t *out, size_t out_cap,
                                 size_t *out_len, unsigned flags);

/* ---- decimal ------------------------------------------------------------------------- */

/* Parse s[0..len) as a plain decimal integer: one or more ASCII digits, no sign, no
 * whitespace, no leading zero unless the number is exactly "0", value ≤ max.
 * Errors: IOTSEC_E_BAD_ENCODING (empty, non-digit, leading zero), IOTSEC_E_BAD_VALUE
 * (greater than max, including overflow of 64 bits), IOTSEC_E_INVALID_ARG. */
IOTSEC_API int iotsec_parse_u64_dec(const char *s, size_t len, uint64_t max, uint64_t *out);
/* Write v in decimal (no NUL); returns the digit count (1–20); buf needs 20 bytes. */
IOTSEC_API size_t iotsec_format_u64_dec(uint64_t v, char buf[20]);

/* ---- device ids --------------------------------------------------------------------- */

#define IOTSEC_DEVICE_ID_MAX 64u /* longest device id, bytes (shortest: 1) */

/* Check that id[0..len) is a device id (bindings-spec/SPEC.md §1.2): 1–64 bytes, each in [A-Za-z0-9._:@-]
 * (so no NUL, no space, no '/', nothing outside ASCII). The one definition used by frames,
 * the denylist, certificate identities and the CLI. Returns IOTSEC_OK; IOTSEC_E_BAD_LENGTH
 * (len 0 or over 64); IOTSEC_E_BAD_ENCODING (a byte outside the alphabet);
 * IOTSEC_E_INVALID_ARG (id NULL with len > 0). */
IOTSEC_API IOTSEC_MUST_CHECK int iotsec_device_id_check(const void *id, size_t len);

/* ---- CRC-32/IEEE (ISO-HDLC: reflected poly 0xEDB88320, init and xorout 0xFFFFFFFF) ---- */

/* CRC of data[0..len), continuing from crc (pass 0 to start). crc32("123456789") is
 * 0xCBF43926. */
IOTSEC_API uint32_t iotsec_crc32(uint32_t crc, const void *data, size_t len);

#ifdef __cplusplus
}
#endif

#endif
