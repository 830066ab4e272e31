/*
 * libiotsec — authenticated telemetry frames v1, binary and JSON (bindings-spec/SPEC.md §2, §3), with the
 * receiver replay window of replay.h (§5).
 *
 * Binary layout (all integers big-endian):
 *
 *   0   1   version = 0x01
 *   1   1   flags: bit 0 encrypted (AES-128-CBC, PKCS#7), bit 1 downlink; bits 2–7 zero
 *   2   1   kid (key generation, 0–255)
 *   3   1   id_len (1–64)
 *   4   8   ctr (≥ 1)
 *   12  id  device_id, bytes of [A-Za-z0-9._:@-]
 *   …   4   payload_len (plaintext 0–65536; ciphertext 16–65552, a multiple of 16)
 *   …   16  iv (only when encrypted)
 *   …   pl  payload (ciphertext when encrypted)
 *   …   32  tag = HMAC-SHA256(mac_key, every byte before the tag)
 *
 * Nothing follows the tag. Encrypt-then-MAC: a receiver verifies the tag in constant time
 * before it trusts any field, then checks direction, device and kid against its keys, then
 * freshness (replay window), then decrypts and checks the padding in constant time.
 *
 * Keys (RFC 5869 HKDF-SHA256) from a per-device 32-byte master secret:
 *   PRK     = HKDF-Extract(salt = "iotsec-frame-v1", IKM = master)
 *   mac_key = HKDF-Expand(PRK, "mac" || 0x00 || dir || kid || device_id, 32)
 *   enc_key = HKDF-Expand(PRK, "enc" || 0x00 || dir || kid || device_id, 16)
 * dir is 0x00 for uplink (device → server) and 0x01 for downlink (server → device). Each
 * direction has its own keys, so a frame cannot be reflected back to its sender: a frame of
 * the other direction fails the tag check.
 *
 * JSON encoding of the same frame (HTTP/JSON transports), one object:
 *   {"v":1,"device_id":"…","kid":0,"ctr":42,"payload":"<base64>","mac":"<base64>"}
 * plus "enc":"aes-128-cbc","iv":"<base64>" when encrypted (payload is then the ciphertext),
 * plus "dir":"down" for downlink frames (absent = uplink). The tag is computed over the
 * binary layout rebuilt from the fields, so the two encodings carry the same tag and convert
 * into each other without keys. Parsing is strict (see iotsec_frame_from_json).
 *
 * Usage, receiver (server or device):
 *   iotsec_frame_peek(frame, len, &hdr)            untrusted: only to find the keys
 *   iotsec_frame_keys_derive(&keys, crypto, master_of(hdr.device_id), hdr.device_id,
 *                            hdr.device_id_len, hdr.kid, IOTSEC_FRAME_UPLINK)  (once; cache)
 *   iotsec_frame_open_checked(&keys, &window_of(device, kid), frame, len, &hdr,
 *                             out, cap, &out_len)  authenticated, fresh, committed
 *   (or iotsec_frame_open_stored(&keys, store, …) with a replay_store.h store, which keys
 *   the windows by the authenticated device_id and kid itself)
 * Sender: derive keys once, then iotsec_frame_seal with a strictly increasing counter.
 *
 * No allocation, no I/O. A keys object holds a keyed HMAC context that every seal and open
 * reuses (one HMAC per frame, no key schedule), so it is not const and must be used by one
 * thread at a time; give each thread its own keys object.
 */
#ifndef IOTSEC_FRAME_H
#define IOTSEC_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "iotsec/config.h"
#include "iotsec/crypto.h"
#include "iotsec/export.h"
#include "iotsec/replay.h"
#include "iotsec/replay_store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IOTSEC_FRAME_VERSION 0x01u
#define IOTSEC_FRAME_FLAG_ENCRYPTED 0x01u /* flags bit 0 */
#define IOTSEC_FRAME_FLAG_DOWNLINK 0x02u  /* flags bit 1 */
#define IOTSEC_FRAME_MASTER_LEN 32u       /* bytes of a device master secret */
#define IOTSEC_FRAME_MAC_KEY_LEN 32u      /* bytes of a derived MAC key */
#define IOTSEC_FRAME_ENC_KEY_LEN 16u      /* bytes of a derived AES-128 key */
#define IOTSEC_FRAME_IV_LEN 16u           /* bytes of the CBC IV */
#define IOTSEC_FRAME_TAG_LEN 32u          /* bytes of the HMAC-SHA256 tag */
#define IOTSEC_FRAME_ID_MAX 64u           /* longest device_id, bytes (shortest: 1) */
#define IOTSEC_FRAME_PLAIN_MAX 65536u     /* longest plaintext payload, bytes */
#define IOTSEC_FRAME_CIPHER_MAX 65552u    /* longest ciphertext payload, bytes */
#define IOTSEC_FRAME_JSON_CTR_MAX 9007199254740991u /* 2^53 − 1: largest ctr in JSON */
/* Fixed bytes of a frame: header 12, payload_len 4, tag 32 (add id_len, iv, payload). */
#define IOTSEC_FRAME_FIXED_LEN 48u

/* Exact length of a binary frame sealed from payload_len plaintext bytes (encrypted: 0/1):
 * PKCS#7 always adds 1–16 bytes, so the ciphertext is (payload_len / 16 + 1) × 16. */
#define IOTSEC_FRAME_SEALED_LEN(id_len, payload_len, encrypted)                              \
    ((encrypted) ? IOTSEC_FRAME_FIXED_LEN + (id_len) + IOTSEC_FRAME_IV_LEN +                 \
                       ((payload_len) / 16u + 1u) * 16u                                     \
                 : IOTSEC_FRAME_FIXED_LEN + (id_len) + (payload_len))
/* Longest binary frame: 48 + 64 + 16 + 65552 bytes. */
#define IOTSEC_FRAME_MAX_LEN 65680u

/* Upper bound of the JSON text (NUL included) for a frame whose device_id has id_len bytes
 * and whose payload field (ciphertext when encrypted) has field_len bytes. */
#define IOTSEC_FRAME_JSON_LEN(id_len, field_len)                                             \
    (192u + (id_len) + (((field_len) + 2u) / 3u) * 4u)
/* Longest JSON text this library parses, bytes (whitespace is free, but bounded). */
#define IOTSEC_FRAME_JSON_MAX_LEN 131072u

typedef enum iotsec_frame_direction {
    IOTSEC_FRAME_UPLINK = 0,  /* device → server; flags bit 1 clear; "dir" absent */
    IOTSEC_FRAME_DOWNLINK = 1 /* server → device; flags bit 1 set; "dir":"down" */
} iotsec_frame_direction;

/* Keys for one (device, kid, direction). Fill with iotsec_frame_keys_derive, release with
 * iotsec_frame_keys_cleanup (zeroizes). Fields are read-only for the caller. */
typedef struct iotsec_frame_keys {
    const iotsec_crypto *crypto;
    iotsec_hmac_ctx mac;                          /* keyed once with mac_key, reused */
    uint8_t enc_key[IOTSEC_FRAME_ENC_KEY_LEN];    /* AES-128 key */
    uint8_t device_id[IOTSEC_FRAME_ID_MAX];       /* the device the keys belong to */
    uint8_t device_id_len;                        /* 1–64 */
    uint8_t kid;                                  /* key generation */
    uint8_t direction;                            /* iotsec_frame_direction */
} iotsec_frame_keys;

/* The header fields of a frame. Filled by peek (UNTRUSTED: nothing was authenticated) and
 * by open (authentic once open returned IOTSEC_OK). */
typedef struct iotsec_frame_header {
    uint8_t version;                         /* always IOTSEC_FRAME_VERSION */
    uint8_t flags;                           /* raw flags byte */
    uint8_t kid;                             /* key generation 0–255 */
    uint8_t direction;                       /* iotsec_frame_direction (flags bit 1) */
    int encrypted;                           /* 1 when flags bit 0 is set */
    uint64_t ctr;                            /* counter, ≥ 1 */
    size_t device_id_len;                    /* 1–64 */
    char device_id[IOTSEC_FRAME_ID_MAX + 1]; /* device_id bytes, NUL-terminated */
    size_t payload_len;                      /* payload field bytes (ciphertext if encrypted) */
    uint8_t iv[IOTSEC_FRAME_IV_LEN];         /* the IV when encrypted, else zeros */
    /* Diagnostics, set only when a peek/open/parse fails on malformed input: the name of
     * the field being parsed ("flags", "id_len", "payload_len", "mac", a JSON member name,
     * …; a static string) and the byte offset in the input where it starts (binary) or the
     * character offset of the offending token (JSON). NULL / 0 otherwise. */
    const char *err_field;
    size_t err_offset;
} iotsec_frame_header;

/* ---- keys ---------------------------------------------------------------------------- */

/*
 * Derive the keys of one (device, kid, direction) from the device's 32-byte master secret
 * per bindings-spec/SPEC.md §2.2 (RFC 5869 HKDF-SHA256, salt "iotsec-frame-v1", info "mac"/"enc" || 0x00
 * || dir || kid || device_id), and key the HMAC context once. Call once per device and keep
 * the object: sealing or opening a frame then costs one HMAC over the frame.
 * device_id: id_len bytes (1–64) of [A-Za-z0-9._:@-], not NUL-terminated.
 * direction: IOTSEC_FRAME_UPLINK or IOTSEC_FRAME_DOWNLINK — the direction of the frames the
 * keys seal or open (a device seals uplink and opens downlink; a server the reverse).
 * Errors: IOTSEC_E_INVALID_ARG (NULL, bad device_id, bad direction), IOTSEC_E_UNSUPPORTED
 * (backend without HMAC-SHA256), IOTSEC_E_NO_MEMORY, IOTSEC_E_BACKEND. On error *keys is
 * zeroized.
 */
IOTSEC_API int iotsec_frame_keys_derive(iotsec_frame_keys *keys, const iotsec_crypto *crypto,
                                        const uint8_t master[IOTSEC_FRAME_MASTER_LEN],
                                        const char *device_id, size_t id_len, uint8_t kid,
                                        iotsec_frame_direction direction);

/* Release the HMAC context and zeroize the keys. Harmless on a zeroed object or NULL. */
IOTSEC_API void iotsec_frame_keys_cleanup(iotsec_frame_keys *keys);


/* ---- binary frames --------------------------------------------------------------------- */

/*
 * Seal payload[0..payload_len) (0–65536 bytes) into a binary frame for the keys' device,
 * kid and direction, with counter ctr (≥ 1; the caller keeps it strictly increasing per
 * (device, kid, direction), e.g. with the nonce store).
 * encrypt: 0 = plaintext payload; 1 = AES-128-CBC with PKCS#7 padding under the enc key,
 *   then the tag over the ciphertext (encrypt-then-MAC).
 * iv: the 16-byte IV to use, or NULL to draw a fresh random one from the backend (the only
 *   safe choice outside test vectors); must be NULL when encrypt is 0.
 * out: out_cap ≥ IOTSEC_FRAME_SEALED_LEN(id_len, payload_len, encrypt) bytes; it must not
 *   overlap payload. *out_len gets the frame length.
 * Errors: IOTSEC_E_INVALID_ARG (NULL, ctr 0, payload too long, iv without encryption, keys
 * not derived), IOTSEC_E_BUFFER_TOO_SMALL, IOTSEC_E_UNSUPPORTED (encrypt on a backend
 * without AES-CBC, e.g. libsodium), IOTSEC_E_BACKEND. Nothing useful is left in out on error.
 */
IOTSEC_API int iotsec_frame_seal(iotsec_frame_keys *keys, uint64_t ctr, int encrypt,
                                 const uint8_t *iv, const uint8_t *payload, size_t payload_len,
                                 uint8_t *out, size_t out_cap, size_t *out_len);

/*
 * Parse the header of a binary frame WITHOUT AUTHENTICATING IT. The result is attacker-
 * controlled: use it only to find which keys to try (device_id, kid, direction), never to
 * make a decision. The whole frame is parsed with the same bounded rules as open, so a frame
 * that peeks cleanly is well-formed.
 * Errors (malformed input; hdr->err_field / err_offset say which field and where):
 *   IOTSEC_E_TRUNCATED     the frame ends inside a field (including the tag)
 *   IOTSEC_E_BAD_VERSION   version byte is not 0x01
 *   IOTSEC_E_BAD_VALUE     reserved flag bits 2–7 set; ctr 0; device_id has a byte outside
 *                          [A-Za-z0-9._:@-]
 *   IOTSEC_E_BAD_LENGTH    id_len 0 or > 64; payload_len > 65536 (plaintext), or not a
 *                          multiple of 16 in 16–65552 (ciphertext)
 *   IOTSEC_E_TRAILING_DATA bytes after the tag
 *   IOTSEC_E_INVALID_ARG   NULL arguments
 */
IOTSEC_API IOTSEC_MUST_CHECK int iotsec_frame_peek(const uint8_t *frame, size_t frame_len,
                                                   iotsec_frame_header *hdr);

/*
 * Authenticate and open a binary frame, stateless (no replay check: see
 * iotsec_frame_open_checked, which is what a receiver should call).
 * Order: bounded parse (errors as iotsec_frame_peek) → constant-time tag check → direction,
 * device_id and kid against the keys → decrypt and constant-time PKCS#7 check.
 * out: the plaintext payload; out_cap ≥ hdr.payload_len always suffices (plaintext frame:
 *   exactly the payload length is needed; encrypted: the plaintext length). *out_len gets it.
 *   out may be a separate buffer or the payload field inside frame (decryption in place);
 *   for an encrypted frame any other overlap with the payload field is IOTSEC_E_INVALID_ARG
 *   (checked before the tag).
 * hdr (optional, may be NULL): filled with the frame's header; authentic only on IOTSEC_OK.
 * Errors, besides the malformed ones of peek:
 *   IOTSEC_E_BAD_MAC          the tag does not verify (forged, corrupted, wrong keys, or a
 *                             frame of the other direction, which has other keys)
 *   IOTSEC_E_WRONG_DIRECTION  the tag verifies but the direction bit is not the keys'
 *   IOTSEC_E_WRONG_DEVICE     the tag verifies but device_id or kid is not the keys'
 *   IOTSEC_E_DECRYPT          authentic ciphertext with invalid PKCS#7 padding
 *   IOTSEC_E_BUFFER_TOO_SMALL out_cap below the plaintext length (checked after the tag)
 *   IOTSEC_E_UNSUPPORTED      encrypted frame on a backend without AES-CBC (after the tag)
 *   IOTSEC_E_INVALID_ARG, IOTSEC_E_BACKEND
 * On any error out is zeroized up to out_cap bytes it may have touched and *out_len is 0.
 */
IOTSEC_API IOTSEC_MUST_CHECK int iotsec_frame_open(iotsec_frame_keys *keys,
                                                   const uint8_t *frame, size_t frame_len,
                                                   iotsec_frame_header *hdr, uint8_t *out,
                                                   size_t out_cap, size_t *out_len);

/*
 * The receiver's call: iotsec_frame_open plus the replay window, in the only safe order —
 * parse → tag → direction/device/kid → freshness (iotsec_replay_check) → decrypt → commit
 * (iotsec_replay_commit). The window changes only when IOTSEC_OK is returned; a forged,
 * malformed, replayed or undecryptable frame leaves it exactly as it was.
 * window: the state of this (device, kid) (iotsec_replay_init / iotsec_replay_decode). To
 * persist it in the same transaction as the frame, open against a copy, store frame and
 * iotsec_replay_encode(copy) together, and adopt the copy only when the store commits.
 * Errors: those of iotsec_frame_open, and IOTSEC_E_REPLAY (counter already seen or too old
 * for the window), IOTSEC_E_INVALID_ARG (window NULL or invalid).
 */
IOTSEC_API IOTSEC_MUST_CHECK int iotsec_frame_open_checked(
    iotsec_frame_keys *keys, iotsec_replay_window *window, const uint8_t *frame,
    size_t frame_len, iotsec_frame_header *hdr, uint8_t *out, size_t out_cap,
    size_t *out_len);

/*
 * iotsec_frame_open_checked over a replay store (replay_store.h: in memory, SQLite, or a
 * shared engine) instead of one window: parse → tag → direction/device/kid → read-only
 * iotsec_replay_store_check (refuses a replay before decrypting) → decrypt → the store's
 * atomic iotsec_replay_store_check_and_commit for (hdr.device_id, hdr.kid, hdr.ctr). Nothing
 * is recorded for a frame that fails any step. To store the frame in the same transaction
 * as its counter (docs/DESIGN.md §10): iotsec_replay_store_begin; open_stored; store the frame;
 * iotsec_replay_store_commit — or iotsec_replay_store_rollback, which also forgets the
 * counter. The legacy EcoWatt profile keeps its nonces in a store of its own, strict
 * (iotsec_ecowatt_open_stored, ecowatt.h): do not pass this store there.
 * Errors: those of iotsec_frame_open; IOTSEC_E_REPLAY (seen, too old, or taken by another
 * writer between check and commit; then out is zeroized); the store's IOTSEC_E_IO,
 * IOTSEC_E_CORRUPT, IOTSEC_E_NO_MEMORY; IOTSEC_E_INVALID_ARG (store NULL or without ops).
 */
IOTSEC_API IOTSEC_MUST_CHECK int iotsec_frame_open_stored(
    iotsec_frame_keys *keys, iotsec_replay_store *store, const uint8_t *frame,
    size_t frame_len, iotsec_frame_header *hdr, uint8_t *out, size_t out_cap,
    size_t *out_len);

/* ---- JSON frames ----------------------------------------------------------------------- */
/* Compiled out when the build sets IOTSEC_NO_JSON (iotsec/config.h): a firmware that only
 * speaks the binary encoding drops the JSON reader and writer. */
#if !IOTSEC_NO_JSON

/*
 * Seal like iotsec_frame_seal, written as the JSON encoding: one object, no whitespace,
 * members in the order v, device_id, kid, ctr, dir (downlink only), enc, iv (encrypted
 * only), payload, mac. out gets NUL-terminated text; out_cap ≥ IOTSEC_FRAME_JSON_LEN(id_len,
 * field_len) suffices (field_len: payload_len, or the padded ciphertext length);
 * *out_len gets the characters written, NUL excluded.
 * Errors: as iotsec_frame_seal, and IOTSEC_E_INVALID_ARG for ctr > 2^53 − 1 (not exactly
 * representable in JSON numbers).
 */
IOTSEC_API int iotsec_frame_seal_json(iotsec_frame_keys *keys, uint64_t ctr, int encrypt,
                                      const uint8_t *iv, const uint8_t *payload,
                                      size_t payload_len, char *out, size_t out_cap,
                                      size_t *out_len);

/*
 * Rebuild the binary frame from its JSON encoding, strictly and WITHOUT AUTHENTICATING it
 * (the tag is carried over unchecked; open the result, or call iotsec_frame_open_json).
 * json: json_len bytes (≤ IOTSEC_FRAME_JSON_MAX_LEN), UTF-8, not NUL-terminated (a NUL byte
 * is an error). frame: frame_cap ≥ the binary length (≤ IOTSEC_FRAME_MAX_LEN).
 * Rules (bindings-spec/SPEC.md §3): exactly one JSON object, optionally surrounded by whitespace;
 * members v, device_id, kid, ctr, payload, mac required, dir, enc, iv optional; v the
 * integer 1; kid an integer 0–255; ctr an integer 1 … 2^53 − 1; integers as plain digits
 * (no sign, fraction, exponent or leading zero); enc "aes-128-cbc" exactly when iv is
 * present; dir "down" or absent; device_id 1–64 characters of [A-Za-z0-9._:@-]; payload,
 * iv, mac strict base64 (RFC 4648 §4, padded, no whitespace, zero trailing bits), iv 16
 * bytes, mac 32 bytes, payload lengths as in the binary layout. Strings may not contain any
 * backslash escape or control character: no valid value needs one, and one spelling per
 * value keeps the encoding canonical. Unknown members, duplicate members, nested objects or
 * arrays are rejected.
 * Errors (hdr, optional, gets err_field / err_offset):
 *   IOTSEC_E_BAD_ENCODING    not JSON, not an object, an escape or control character in a
 *                            string, a number that is not plain digits, bad base64
 *   IOTSEC_E_NON_CANONICAL   base64 with non-zero trailing bits
 *   IOTSEC_E_TRUNCATED       the text ends inside the object
 *   IOTSEC_E_TRAILING_DATA   anything but whitespace after the object
 *   IOTSEC_E_UNKNOWN_CRITICAL an unknown member
 *   IOTSEC_E_MALFORMED       a duplicate member; more than 16 members
 *   IOTSEC_E_MISSING_FIELD   a required member absent; enc without iv or iv without enc
 *   IOTSEC_E_BAD_VERSION     v is an integer other than 1
 *   IOTSEC_E_BAD_VALUE       a member of the wrong JSON type; kid > 255; ctr 0 or > 2^53−1;
 *                            enc or dir with another value; device_id with a bad character
 *   IOTSEC_E_BAD_LENGTH      device_id empty or > 64; iv not 16 or mac not 32 bytes;
 *                            payload length outside the binary rules; json_len too long
 *   IOTSEC_E_BUFFER_TOO_SMALL frame_cap too small; IOTSEC_E_INVALID_ARG NULL arguments
 */
IOTSEC_API IOTSEC_MUST_CHECK int iotsec_frame_from_json(const char *json, size_t json_len,
                                                        uint8_t *frame, size_t frame_cap,
                                                        size_t *frame_len,
                                                        iotsec_frame_header *hdr);

/*
 * Write a binary frame as JSON (structure only: the frame is parsed as by peek and NOT
 * authenticated; its tag is carried over). Output as iotsec_frame_seal_json.
 * Errors: those of iotsec_frame_peek; IOTSEC_E_BAD_VALUE when ctr > 2^53 − 1 (the JSON
 * encoding cannot carry it); IOTSEC_E_BUFFER_TOO_SMALL; IOTSEC_E_INVALID_ARG.
 */
IOTSEC_API IOTSEC_MUST_CHECK int iotsec_frame_to_json(const uint8_t *frame, size_t frame_len,
                                                      char *out, size_t out_cap,
                                                      size_t *out_len);

/* Parse a JSON frame's header WITHOUT AUTHENTICATING IT (see iotsec_frame_peek: untrusted,
 * for key lookup only). Strict rules and errors as iotsec_frame_from_json. */
IOTSEC_API IOTSEC_MUST_CHECK int iotsec_frame_peek_json(const char *json, size_t json_len,
                                                        iotsec_frame_header *hdr);

/*
 * Authenticate and open a JSON frame, stateless: strict parse (iotsec_frame_from_json
 * rules) → the tag over the rebuilt binary layout, constant-time → direction, device, kid →
 * decrypt. No scratch frame buffer is needed: the payload is decoded into out and decrypted
 * in place, so out_cap must be ≥ the decoded payload field (the ciphertext length when
 * encrypted; hdr.payload_len after a peek), else IOTSEC_E_BUFFER_TOO_SMALL.
 * Errors: those of iotsec_frame_from_json and iotsec_frame_open. On error out is zeroized.
 */
IOTSEC_API IOTSEC_MUST_CHECK int iotsec_frame_open_json(iotsec_frame_keys *keys,
                                                        const char *json, size_t json_len,
                                                        iotsec_frame_header *hdr, uint8_t *out,
                                                        size_t out_cap, size_t *out_len);

/* iotsec_frame_open_json with the replay window, in the order and with the guarantees of
 * iotsec_frame_open_checked (the window changes only on IOTSEC_OK). */
IOTSEC_API IOTSEC_MUST_CHECK int iotsec_frame_open_json_checked(
    iotsec_frame_keys *keys, iotsec_replay_window *window, const char *json, size_t json_len,
    iotsec_frame_header *hdr, uint8_t *out, size_t out_cap, size_t *out_len);

/* iotsec_frame_open_json over a replay store, in the order and with the guarantees of
 * iotsec_frame_open_stored. */
IOTSEC_API IOTSEC_MUST_CHECK int iotsec_frame_open_json_stored(
    iotsec_frame_keys *keys, iotsec_replay_store *store, const char *json, size_t json_len,
    iotsec_frame_header *hdr, uint8_t *out, size_t out_cap, size_t *out_len);

#endif /* !IOTSEC_NO_JSON */

#ifdef __cplusplus
}
#endif

#endif
