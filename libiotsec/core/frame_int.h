/*
 * libiotsec — internal helpers shared by frame.c, frame_json.c and ecowatt.c. Not installed,
 * not exported (the library is built with -fvisibility=hidden).
 */
#ifndef IOTSEC_FRAME_INT_H
#define IOTSEC_FRAME_INT_H

#include <stddef.h>
#include <stdint.h>

#include "iotsec/crypto.h"
#include "iotsec/frame.h"
#include "iotsec/reader.h"
#include "iotsec/replay.h"
#include "iotsec/replay_store.h"

/* ---- flat JSON objects (frame_json.c) ----------------------------------------------------- */

#define IOTSEC__JSON_MAX_MEMBERS 16u

/* One member of a flat object. Strings are given without their quotes; they contain no
 * backslash and no control character (the tokenizer rejects both). */
typedef struct iotsec__json_member {
    const char *name;
    size_t name_len;
    const char *val;
    size_t val_len;
    int is_string;     /* 1: string value; 0: primitive (number, true, false, null) */
    size_t name_off;   /* offset of the name's opening quote in the text */
    size_t val_off;    /* offset of the value's first character (its quote for strings) */
} iotsec__json_member;

/* Tokenize json[0..len) (len ≤ max_len) as exactly one flat JSON object surrounded by
 * optional whitespace, with jsmn (strict) and a check of every gap between tokens, so the
 * grammar is exact. Members are returned in text order; names are not interpreted.
 * Errors: IOTSEC_E_BAD_LENGTH (len > max_len), IOTSEC_E_BAD_ENCODING (syntax, NUL byte,
 * escape or control character in a string, root not an object), IOTSEC_E_TRUNCATED (ends
 * inside the object), IOTSEC_E_TRAILING_DATA, IOTSEC_E_MALFORMED (more than
 * IOTSEC__JSON_MAX_MEMBERS members), IOTSEC_E_BAD_VALUE (an object or array as a value).
 * *err_off gets the offset of the problem. */
int iotsec__json_object(const char *json, size_t len, size_t max_len, iotsec__json_member *m,
                        size_t *count, size_t *err_off);

/* Bind members to a table of names: idx[k] = index in m of names[k], or -1 if absent.
 * Errors: IOTSEC_E_UNKNOWN_CRITICAL (a name not in the table), IOTSEC_E_MALFORMED (a name
 * twice); *bad gets the offending member's index. */
int iotsec__json_bind(const iotsec__json_member *m, size_t count, const char *const *names,
                      size_t n_names, int *idx, size_t *bad);

/* An unsigned integer member: plain digits, ≤ max. IOTSEC_E_BAD_VALUE for a string, true,
 * false, null or a value above max; IOTSEC_E_BAD_ENCODING for a sign, fraction, exponent or
 * leading zero. */
int iotsec__json_uint(const iotsec__json_member *m, uint64_t max, uint64_t *out);

/* A string member equal to lit: IOTSEC_E_BAD_VALUE otherwise (other type or text). */
int iotsec__json_lit(const iotsec__json_member *m, const char *lit);

/* A strict base64 string member of at most max decoded bytes. out == NULL validates only.
 * Errors: IOTSEC_E_BAD_VALUE (not a string), IOTSEC_E_BAD_LENGTH (longer than max),
 * IOTSEC_E_BAD_ENCODING, IOTSEC_E_NON_CANONICAL, IOTSEC_E_BUFFER_TOO_SMALL (out_cap). */
int iotsec__json_b64(const iotsec__json_member *m, size_t max, uint8_t *out, size_t out_cap,
                     size_t *dec_len);

/* A strict base64 string member of exactly len decoded bytes (IV, tag): as
 * iotsec__json_b64, and IOTSEC_E_BAD_LENGTH for any other length. */
int iotsec__json_b64_exact(const iotsec__json_member *m, uint8_t *out, size_t len);

/* The payload member: strict base64 whose decoded length obeys the binary layout's rules
 * (iotsec__payload_len_ok), decoded into out (out == NULL: validated only). */
int iotsec__json_payload(const iotsec__json_member *m, int encrypted, uint8_t *out,
                         size_t out_cap, size_t *dec_len);

/* A device_id member: string of 1–64 bytes of [A-Za-z0-9._:@-]; copied NUL-terminated.
 * IOTSEC_E_BAD_VALUE (type, character), IOTSEC_E_BAD_LENGTH (empty, > 64). */
int iotsec__json_device_id(const iotsec__json_member *m, char out[65], size_t *out_len);

/* Append len bytes as base64 text (no NUL) to w. */
void iotsec__wr_base64(iotsec_writer *w, const uint8_t *data, size_t len);
/* Append v in decimal. */
void iotsec__wr_u64(iotsec_writer *w, uint64_t v);
/* Append a NUL and report: IOTSEC_OK with *out_len = characters before the NUL, or the
 * writer's error. */
int iotsec__wr_finish_text(iotsec_writer *w, size_t *out_len);

/* Write the payload field — the plaintext, or its PKCS#7-padded AES-128-CBC encryption
 * under key/iv — as base64 to w, streaming through a small stack buffer. When mac is not
 * NULL every field byte is also fed to it (HMAC update). */
int iotsec__wr_payload_b64(iotsec_writer *w, const iotsec_crypto *crypto, int encrypt,
                           const uint8_t *key, const uint8_t *iv, const uint8_t *payload,
                           size_t len, iotsec_hmac_ctx *mac);

/* ---- crypto steps (frame.c) ---------------------------------------------------------------- */

/* HMAC(a || b) with the keyed context, compared in constant time with tag[0..32).
 * IOTSEC_OK, IOTSEC_E_BAD_MAC, or a backend error. b may be NULL when blen is 0. */
int iotsec__mac_verify(iotsec_hmac_ctx *mac, const uint8_t *a, size_t alen, const uint8_t *b,
                       size_t blen, const uint8_t tag[32]);

/* AES-128-CBC decrypt in[0..in_len) (a non-zero multiple of 16) and remove PKCS#7 padding,
 * checked in constant time. out may equal in (in place); other overlap is not allowed.
 * Needs out_cap ≥ the plaintext length. Errors: IOTSEC_E_DECRYPT (bad padding),
 * IOTSEC_E_BUFFER_TOO_SMALL, IOTSEC_E_UNSUPPORTED, IOTSEC_E_BACKEND. On error the bytes of
 * out written are zeroized. */
int iotsec__cbc_open(const iotsec_crypto *crypto, const uint8_t key[16], const uint8_t iv[16],
                     const uint8_t *in, size_t in_len, uint8_t *out, size_t out_cap,
                     size_t *out_len);

/* The binary bytes before the payload field (version … payload_len, iv) of h, written to
 * out (cap ≥ 96 suffices). Returns the length, 0 if cap is too small. */
size_t iotsec__frame_header_bytes(const iotsec_frame_header *h, uint8_t *out, size_t cap);

/* Where an open checks and records freshness: one replay window, or a replay store (the
 * other member NULL). A NULL iotsec__fresh pointer means stateless. */
typedef struct iotsec__fresh {
    iotsec_replay_window *window;
    iotsec_replay_store *store;
} iotsec__fresh;

/* Freshness of (device_id, kid, ctr) without changing any state: iotsec_replay_check on the
 * window, or the store's read-only iotsec_replay_store_check. */
int iotsec__fresh_check(const iotsec__fresh *fresh, const char *device_id, size_t id_len,
                        uint8_t kid, uint64_t ctr);

/* Record ctr once every check passed: iotsec_replay_commit on the window, or the store's
 * atomic check-and-commit (which re-checks: another writer may have taken ctr since). */
int iotsec__fresh_commit(const iotsec__fresh *fresh, const char *device_id, size_t id_len,
                         uint8_t kid, uint64_t ctr);

/* Argument checks shared by the open functions. Sets *out_len to 0 when it can.
 * IOTSEC_OK or IOTSEC_E_INVALID_ARG. */
int iotsec__frame_open_args(iotsec_frame_keys *keys, const iotsec__fresh *fresh,
                            const void *in, uint8_t *out, size_t out_cap, size_t *out_len);

/* Steps 2–6 of an open, after a successful parse into h: tag over hb[0..hb_len) || pf
 * (payload field, h->payload_len bytes) checked against tag, then direction, device, kid,
 * freshness (window or store read-only check), decryption or copy into out (pf == out: in
 * place), then the commit (window commit, or the store's atomic check-and-commit). */
int iotsec__frame_open_common(iotsec_frame_keys *keys, const iotsec__fresh *fresh,
                              const iotsec_frame_header *h, const uint8_t *hb, size_t hb_len,
                              const uint8_t *pf, const uint8_t *tag, uint8_t *out,
                              size_t out_cap, size_t *out_len);

/* Argument checks shared by the seal functions: IOTSEC_OK, IOTSEC_E_INVALID_ARG or
 * IOTSEC_E_UNSUPPORTED (encryption without AES-CBC). */
int iotsec__frame_seal_args(iotsec_frame_keys *keys, uint64_t ctr, int encrypt,
                            const uint8_t *iv, const uint8_t *payload, size_t payload_len,
                            const void *out, const size_t *out_len);

/* Fill h for sealing: the keys' device, kid and direction; payload_len is the field length
 * (padded when encrypting); the IV is iv or fresh random bytes. */
int iotsec__frame_seal_header(iotsec_frame_keys *keys, uint64_t ctr, int encrypt,
                              const uint8_t *iv, size_t payload_len, iotsec_frame_header *h);

/* Payload length rules of the binary layout: plaintext ≤ 65536; ciphertext a multiple of
 * 16 in 16–65552. IOTSEC_OK or IOTSEC_E_BAD_LENGTH. */
int iotsec__payload_len_ok(int encrypted, size_t len);

#endif
