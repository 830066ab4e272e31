/*
 * libiotsec — the legacy EcoWatt telemetry profile (bindings-spec/SPEC.md §4;
 * compatibility with the EcoWatt server of seed 001_61558d4a4882d304).
 *
 * Wire format, one JSON object:
 *   {"device_id":"…","nonce":N,"payload":"<base64>","mac":"<64 lowercase hex>"}
 * optionally with "encrypted":true,"iv":"<base64 of 16 bytes>" (both or neither), where
 *   mac = HMAC-SHA256(mac_key, ascii_decimal(N) || payload_base64_text)
 * with the raw 32-byte mac_key, and, when encrypted, payload = base64(AES-128-CBC(enc_key,
 * iv, PKCS#7(plaintext))) under the raw 16-byte enc_key. N is an integer 1 … 2^53 − 1.
 *
 * WEAKNESSES — this profile exists only to talk to devices already deployed with it
 * (docs/DESIGN.md §8); new devices use frame.h. Accept it only for devices configured for it.
 *  - The MAC covers neither the device_id nor the IV nor any version or direction: a frame
 *    can be replayed under another device's name if two devices share a key, the IV can be
 *    altered (changing the first plaintext block; the padding check then fails or the
 *    plaintext silently changes), and a server's frame can be reflected.
 *  - The decimal concatenation is ambiguous: nonce 1000 with payload text "1234…" has the
 *    same MAC input as nonce 10001234 with "…" (both begin "10001234…"). Whenever a
 *    captured payload text starts with four (eight, …) decimal digits, an attacker moves
 *    them into the nonce and gets a frame with a larger nonce and a shorter payload that
 *    is still valid base64, carries the same MAC and passes the strict `nonce > last` rule.
 *  - Raw keys, no key derivation, no key id: rotation needs out-of-band coordination.
 *  - Strict `nonce > last` (window 0) drops reordered frames, and the seed's device writes
 *    its nonce to flash on every frame.
 * What the library still enforces: strict parsing (unknown members, duplicates, escapes,
 * uppercase hex, non-canonical base64 rejected), the MAC verified in constant time before
 * the nonce is trusted or anything is decrypted, the nonce check after the MAC and before
 * decryption, and the PKCS#7 padding checked in constant time after the MAC.
 *
 * No allocation, no I/O. A keys object holds a keyed HMAC context reused by every frame; it
 * is not thread-safe (one thread at a time).
 */
#ifndef IOTSEC_ECOWATT_H
#define IOTSEC_ECOWATT_H

#include <stddef.h>
#include <stdint.h>

#include "iotsec/config.h"
#if IOTSEC_NO_ECOWATT || IOTSEC_NO_JSON
#error "iotsec/ecowatt.h: this libiotsec build has the EcoWatt legacy profile compiled out (IOTSEC_NO_ECOWATT or IOTSEC_NO_JSON in iotsec/config.h)"
#endif
#include "iotsec/crypto.h"
#include "iotsec/export.h"
#include "iotsec/replay.h"
#include "iotsec/replay_store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IOTSEC_ECOWATT_MAC_KEY_LEN 32u /* raw HMAC-SHA256 key, bytes */
#define IOTSEC_ECOWATT_ENC_KEY_LEN 16u /* raw AES-128 key, bytes */
#define IOTSEC_ECOWATT_IV_LEN 16u
#define IOTSEC_ECOWATT_NONCE_MAX 9007199254740991u /* 2^53 − 1 */
#define IOTSEC_ECOWATT_ID_MAX 64u                  /* device_id 1–64 of [A-Za-z0-9._:@-] */
#define IOTSEC_ECOWATT_PLAIN_MAX 65536u            /* longest plaintext payload, bytes */
#define IOTSEC_ECOWATT_CIPHER_MAX 65552u           /* longest ciphertext payload, bytes */
/* Upper bound of the JSON text (NUL included) for a device_id of id_len bytes and a payload
 * field (ciphertext when encrypted) of field_len bytes. */
#define IOTSEC_ECOWATT_JSON_LEN(id_len, field_len)                                           \
    (192u + (id_len) + (((field_len) + 2u) / 3u) * 4u)
/* Longest JSON text parsed, bytes. */
#define IOTSEC_ECOWATT_JSON_MAX_LEN 131072u
/* The kid under which iotsec_ecowatt_open_stored keeps a device's one nonce sequence in the
 * legacy replay store (the profile has no key generations). */
#define IOTSEC_ECOWATT_REPLAY_KID 0u

/* Keys of one legacy device. Fill with iotsec_ecowatt_keys_init; release with
 * iotsec_ecowatt_keys_cleanup (zeroizes). Read-only for the caller. */
typedef struct iotsec_ecowatt_keys {
    const iotsec_crypto *crypto;
    iotsec_hmac_ctx mac;                         /* keyed once with the raw mac_key */
    uint8_t enc_key[IOTSEC_ECOWATT_ENC_KEY_LEN]; /* valid when has_enc_key */
    int has_enc_key;                             /* 0: encrypted frames are refused */
} iotsec_ecowatt_keys;

/* The fields of a legacy frame: UNTRUSTED after peek; after open only nonce and payload are
 * authenticated (device_id and iv never are). */
typedef struct iotsec_ecowatt_header {
    size_t device_id_len;                       /* 1–64 */
    char device_id[IOTSEC_ECOWATT_ID_MAX + 1];  /* NUL-terminated */
    uint64_t nonce;                             /* 1 … 2^53 − 1 */
    int encrypted;                              /* "encrypted":true present */
    uint8_t iv[IOTSEC_ECOWATT_IV_LEN];          /* when encrypted, else zeros */
    size_t payload_len;                         /* decoded payload field bytes */
    const char *err_field;                      /* on malformed input: member name */
    size_t err_offset;                          /* and character offset */
} iotsec_ecowatt_header;

/*
 * Set up the keys of a legacy device: mac_key the raw 32-byte HMAC key, enc_key the raw
 * 16-byte AES-128 key or NULL when the device does not encrypt (encrypted frames are then
 * refused). Errors: IOTSEC_E_INVALID_ARG, IOTSEC_E_UNSUPPORTED (no HMAC-SHA256),
 * IOTSEC_E_NO_MEMORY, IOTSEC_E_BACKEND. On error *keys is zeroized.
 */
IOTSEC_API int iotsec_ecowatt_keys_init(iotsec_ecowatt_keys *keys, const iotsec_crypto *crypto,
                                        const uint8_t mac_key[IOTSEC_ECOWATT_MAC_KEY_LEN],
                                        const uint8_t *enc_key);

/* Release and zeroize. Harmless on a zeroed object or NULL. */
IOTSEC_API void iotsec_ecowatt_keys_cleanup(iotsec_ecowatt_keys *keys);

/*
 * Seal payload[0..payload_len) (≤ 65536 bytes) as a legacy frame with nonce (1 … 2^53 − 1;
 * strictly increasing per device), members in the order device_id, nonce, [encrypted, iv,]
 * payload, mac, no whitespace. encrypt: 1 = AES-128-CBC/PKCS#7 under the enc key (needs
 * one); iv: 16 bytes, or NULL for a random IV (must be NULL without encryption).
 * out: NUL-terminated text, out_cap ≥ IOTSEC_ECOWATT_JSON_LEN(id_len, field_len); *out_len
 * gets the characters written, NUL excluded.
 * Errors: IOTSEC_E_INVALID_ARG (NULL, bad device_id, nonce 0 or too large, payload too long,
 * iv without encryption, encryption without an enc key), IOTSEC_E_BUFFER_TOO_SMALL,
 * IOTSEC_E_UNSUPPORTED (encryption on a backend without AES-CBC), IOTSEC_E_BACKEND.
 */
IOTSEC_API int iotsec_ecowatt_seal(iotsec_ecowatt_keys *keys, const char *device_id,
                                   size_t id_len, uint64_t nonce, int encrypt,
                                   const uint8_t *iv, const uint8_t *payload,
                                   size_t payload_len, char *out, size_t out_cap,
                                   size_t *out_len);

/*
 * Parse a legacy frame WITHOUT AUTHENTICATING IT (for key lookup by device_id only).
 * Strict rules: one JSON object, whitespace around tokens allowed, nothing after it; members
 * device_id, nonce, payload, mac required, encrypted and iv both or neither; no other or
 * duplicate members; no backslash escape or control character in any string; nonce plain
 * digits 1 … 2^53 − 1; encrypted exactly `true`; mac 64 lowercase hex digits; payload and
 * iv strict base64 (iv 16 bytes; payload ≤ 65536 bytes, or 16–65552 and a multiple of 16
 * when encrypted); device_id 1–64 of [A-Za-z0-9._:@-].
 * Errors (hdr->err_field / err_offset name the member and where):
 *   IOTSEC_E_BAD_ENCODING (not JSON / not an object / escape / not digits / bad base64 /
 *   uppercase or non-hex mac), IOTSEC_E_NON_CANONICAL (base64 trailing bits),
 *   IOTSEC_E_TRUNCATED, IOTSEC_E_TRAILING_DATA, IOTSEC_E_UNKNOWN_CRITICAL (unknown member),
 *   IOTSEC_E_MALFORMED (duplicate, too many members), IOTSEC_E_MISSING_FIELD (required
 *   member absent, encrypted without iv or the reverse), IOTSEC_E_BAD_VALUE (wrong JSON
 *   type, nonce 0 or too large, encrypted not true, device_id character), IOTSEC_E_BAD_LENGTH
 *   (device_id, mac, iv or payload length; text longer than IOTSEC_ECOWATT_JSON_MAX_LEN),
 *   IOTSEC_E_INVALID_ARG.
 */
IOTSEC_API IOTSEC_MUST_CHECK int iotsec_ecowatt_peek(const char *json, size_t json_len,
                                                     iotsec_ecowatt_header *hdr);

/*
 * Authenticate and open a legacy frame, stateless: strict parse (as peek) → MAC over
 * ascii_decimal(nonce) || payload text, constant-time → decrypt and PKCS#7 check (only
 * when encrypted, only after the MAC). out: out_cap ≥ the decoded payload field (ciphertext
 * length when encrypted; hdr.payload_len after a peek); decryption happens in place.
 * Errors: those of peek, and IOTSEC_E_BAD_MAC, IOTSEC_E_POLICY (encrypted frame but the
 * keys have no enc key; after the MAC), IOTSEC_E_DECRYPT (bad padding), IOTSEC_E_UNSUPPORTED
 * (no AES-CBC in the backend), IOTSEC_E_BUFFER_TOO_SMALL, IOTSEC_E_BACKEND. On error out is
 * zeroized and *out_len is 0.
 */
IOTSEC_API IOTSEC_MUST_CHECK int iotsec_ecowatt_open(iotsec_ecowatt_keys *keys,
                                                     const char *json, size_t json_len,
                                                     iotsec_ecowatt_header *hdr, uint8_t *out,
                                                     size_t out_cap, size_t *out_len);

/*
 * The receiver's call: iotsec_ecowatt_open plus the seed's strict rule `nonce > last`,
 * in the order parse → MAC → freshness → decrypt → commit. window must be a strict window
 * (iotsec_replay_init(window, 0)): highest is the last accepted nonce, 0 before the first
 * frame (the first nonce may then be any valid value). It changes only on IOTSEC_OK.
 * Errors: those of iotsec_ecowatt_open, IOTSEC_E_REPLAY (nonce ≤ last), IOTSEC_E_INVALID_ARG
 * (window NULL or not strict).
 */
IOTSEC_API IOTSEC_MUST_CHECK int iotsec_ecowatt_open_checked(
    iotsec_ecowatt_keys *keys, iotsec_replay_window *window, const char *json,
    size_t json_len, iotsec_ecowatt_header *hdr, uint8_t *out, size_t out_cap,
    size_t *out_len);

/*
 * iotsec_ecowatt_open_checked over a replay store (replay_store.h) instead of one window, in
 * the order parse → MAC → read-only iotsec_replay_store_check (a replayed frame is refused
 * before anything is decrypted) → decrypt → the store's atomic
 * iotsec_replay_store_check_and_commit, for (hdr.device_id, IOTSEC_ECOWATT_REPLAY_KID,
 * hdr.nonce). Nothing is recorded for a frame that fails any step.
 * store must be the legacy profile's own store with W = 0 (strict `nonce > last`, as the
 * iotsec_replay_store_window operation reports), never the frame v1 store: for SQLite
 * iotsec_replay_sqlite_ecowatt_store(db) (same connection and transactions as the frame
 * store), in memory a separate iotsec_replay_mem made with window 0 (see replay_store.h).
 * device_id is not covered by the legacy MAC: look the keys up by hdr.device_id of a peek,
 * and bind the device to the transport's identity (docs/DESIGN.md §7).
 * To store the frame in the same transaction as its nonce (docs/DESIGN.md §10):
 * iotsec_replay_store_begin; open_stored; store the frame; iotsec_replay_store_commit — or
 * iotsec_replay_store_rollback, which also forgets the nonce.
 * out, out_cap, *out_len as for iotsec_ecowatt_open.
 * Errors: those of iotsec_ecowatt_open; IOTSEC_E_REPLAY (nonce ≤ the last accepted one, or
 * taken by another writer between check and commit; then out is zeroized); the store's
 * IOTSEC_E_IO, IOTSEC_E_CORRUPT, IOTSEC_E_NO_MEMORY; IOTSEC_E_INVALID_ARG (store NULL or
 * without ops, or not strict: no window operation, or W ≠ 0 — checked before parsing).
 */
IOTSEC_API IOTSEC_MUST_CHECK int iotsec_ecowatt_open_stored(
    iotsec_ecowatt_keys *keys, iotsec_replay_store *store, const char *json, size_t json_len,
    iotsec_ecowatt_header *hdr, uint8_t *out, size_t out_cap, size_t *out_len);

#ifdef __cplusplus
}
#endif

#endif
