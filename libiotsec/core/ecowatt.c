/*
 * libiotsec — the legacy EcoWatt telemetry profile (include/iotsec/ecowatt.h;
 * bindings-spec/SPEC.md §4, docs/DESIGN.md §8). Same strict JSON reader as the v1 JSON
 * frames (frame_json.c); the MAC input is the seed's: ascii_decimal(nonce) || payload
 * base64 text, under the raw key.
 */
#include "iotsec/config.h"

#if !IOTSEC_NO_ECOWATT && !IOTSEC_NO_JSON /* the whole file; compiled out by IOTSEC_NO_ECOWATT */

#include "iotsec/ecowatt.h"

#include <string.h>

#include "iotsec/error.h"
#include "iotsec/frame.h"
#include "iotsec/reader.h"
#include "iotsec/util.h"
#include "frame_int.h"

int iotsec_ecowatt_keys_init(iotsec_ecowatt_keys *keys, const iotsec_crypto *crypto,
                             const uint8_t mac_key[IOTSEC_ECOWATT_MAC_KEY_LEN],
                             const uint8_t *enc_key)
{
    int rc;

    if (keys == NULL)
        return IOTSEC_E_INVALID_ARG;
    memset(keys, 0, sizeof *keys);
    if (crypto == NULL || mac_key == NULL)
        return IOTSEC_E_INVALID_ARG;
    rc = iotsec_hmac_setkey(&keys->mac, crypto, mac_key, IOTSEC_ECOWATT_MAC_KEY_LEN);
    if (rc != IOTSEC_OK) {
        iotsec_ecowatt_keys_cleanup(keys);
        return rc;
    }
    keys->crypto = crypto;
    if (enc_key != NULL) {
        memcpy(keys->enc_key, enc_key, IOTSEC_ECOWATT_ENC_KEY_LEN);
        keys->has_enc_key = 1;
    }
    return IOTSEC_OK;
}

void iotsec_ecowatt_keys_cleanup(iotsec_ecowatt_keys *keys)
{
    if (keys == NULL)
        return;
    iotsec_hmac_cleanup(&keys->mac);
    iotsec_zeroize(keys, sizeof *keys);
}

static int keys_ok(const iotsec_ecowatt_keys *keys)
{
    return keys != NULL && keys->crypto != NULL && keys->mac.crypto != NULL;
}

/* ---- parsing -------------------------------------------------------------------------------- */

enum { E_ID, E_NONCE, E_PAYLOAD, E_MAC, E_ENCRYPTED, E_IV, E_COUNT };
static const char *const eco_names[E_COUNT] = {"device_id", "nonce", "payload",
                                               "mac",       "encrypted", "iv"};

typedef struct eco_frame {
    iotsec_ecowatt_header h;
    uint8_t mac[IOTSEC_HMAC_LEN];
    iotsec__json_member payload; /* its text is what the MAC covers */
} eco_frame;

static int efail(iotsec_ecowatt_header *h, int rc, const char *field, size_t off)
{
    h->err_field = field;
    h->err_offset = off;
    return rc;
}

#define NEED(k)                                                                              \
    do {                                                                                     \
        if (idx[k] < 0)                                                                      \
            return efail(h, IOTSEC_E_MISSING_FIELD, eco_names[k], 0);                        \
    } while (0)
#define CHECK(k, expr)                                                                       \
    do {                                                                                     \
        int rc_ = (expr);                                                                    \
        if (rc_ != IOTSEC_OK)                                                                \
            return efail(h, rc_, eco_names[k], m[idx[k]].val_off);                           \
    } while (0)

/* Lowercase hex only (the seed's hexdigest); uppercase is a different text, rejected. */
static int mac_hex(const iotsec__json_member *mm, uint8_t out[IOTSEC_HMAC_LEN])
{
    size_t n = 0;

    if (!mm->is_string)
        return IOTSEC_E_BAD_VALUE;
    if (mm->val_len != 2u * IOTSEC_HMAC_LEN)
        return IOTSEC_E_BAD_LENGTH;
    return iotsec_hex_decode(mm->val, mm->val_len, out, IOTSEC_HMAC_LEN, &n,
                             IOTSEC_HEX_LOWER_ONLY);
}

/* `true` exactly: the member is only ever present with that value. */
static int is_true(const iotsec__json_member *mm)
{
    return !mm->is_string && mm->val_len == 4 && memcmp(mm->val, "true", 4) == 0
               ? IOTSEC_OK
               : IOTSEC_E_BAD_VALUE;
}

static int parse_eco(const char *js, size_t len, eco_frame *ef)
{
    iotsec__json_member m[IOTSEC__JSON_MAX_MEMBERS];
    iotsec_ecowatt_header *h = &ef->h;
    int idx[E_COUNT];
    size_t count = 0, off = 0;
    int rc;

    memset(ef, 0, sizeof *ef);
    rc = iotsec__json_object(js, len, IOTSEC_ECOWATT_JSON_MAX_LEN, m, &count, &off);
    if (rc != IOTSEC_OK)
        return efail(h, rc, "json", off);
    rc = iotsec__json_bind(m, count, eco_names, E_COUNT, idx, &off);
    if (rc != IOTSEC_OK)
        return efail(h, rc, rc == IOTSEC_E_MALFORMED ? "duplicate member" : "unknown member",
                     m[off].name_off);
    NEED(E_ID);
    NEED(E_NONCE);
    NEED(E_PAYLOAD);
    NEED(E_MAC);
    CHECK(E_ID, iotsec__json_device_id(&m[idx[E_ID]], h->device_id, &h->device_id_len));
    CHECK(E_NONCE, iotsec__json_uint(&m[idx[E_NONCE]], IOTSEC_ECOWATT_NONCE_MAX, &h->nonce));
    CHECK(E_NONCE, h->nonce != 0 ? IOTSEC_OK : IOTSEC_E_BAD_VALUE);
    if ((idx[E_ENCRYPTED] >= 0) != (idx[E_IV] >= 0))
        return efail(h, IOTSEC_E_MISSING_FIELD, idx[E_ENCRYPTED] >= 0 ? "iv" : "encrypted", 0);
    if (idx[E_ENCRYPTED] >= 0) {
        CHECK(E_ENCRYPTED, is_true(&m[idx[E_ENCRYPTED]]));
        CHECK(E_IV, iotsec__json_b64_exact(&m[idx[E_IV]], h->iv, IOTSEC_ECOWATT_IV_LEN));
        h->encrypted = 1;
    }
    CHECK(E_MAC, mac_hex(&m[idx[E_MAC]], ef->mac));
    ef->payload = m[idx[E_PAYLOAD]];
    return IOTSEC_OK;
}

/* Decode (out != NULL) or validate the payload text; sets h.payload_len. */
static int eco_payload(eco_frame *ef, uint8_t *out, size_t cap)
{
    iotsec_ecowatt_header *h = &ef->h;
    int rc = iotsec__json_payload(&ef->payload, h->encrypted, out, cap, &h->payload_len);

    if (rc != IOTSEC_OK && rc != IOTSEC_E_BUFFER_TOO_SMALL)
        return efail(h, rc, "payload", ef->payload.val_off);
    return rc;
}

int iotsec_ecowatt_peek(const char *json, size_t json_len, iotsec_ecowatt_header *hdr)
{
    eco_frame ef;
    int rc;

    if (json == NULL || hdr == NULL)
        return IOTSEC_E_INVALID_ARG;
    rc = parse_eco(json, json_len, &ef);
    if (rc == IOTSEC_OK)
        rc = eco_payload(&ef, NULL, 0);
    *hdr = ef.h;
    return rc;
}

/* ---- opening -------------------------------------------------------------------------------- */

/* The freshness argument of a receiver's open: a strict window, or a store reporting W = 0
 * (the profile's rule is nonce > last). */
static int strict_ok(const iotsec__fresh *fresh)
{
    unsigned w = 1;

    if (fresh->window != NULL)
        return fresh->window->window == 0;
    return fresh->store != NULL && iotsec_replay_store_window(fresh->store, &w) == IOTSEC_OK &&
           w == 0;
}

/* fresh NULL: stateless (iotsec_ecowatt_open). */
static int open_eco(iotsec_ecowatt_keys *keys, const iotsec__fresh *fresh, const char *json,
                    size_t json_len, iotsec_ecowatt_header *hdr, uint8_t *out, size_t out_cap,
                    size_t *out_len)
{
    eco_frame ef;
    char dec[20];
    uint8_t none[1];
    size_t dec_len, n = 0;
    int rc;

    if (out_len != NULL)
        *out_len = 0;
    if (!keys_ok(keys) || json == NULL || (out == NULL && out_cap != 0) || out_len == NULL)
        return IOTSEC_E_INVALID_ARG;
    if (fresh != NULL && !strict_ok(fresh))
        return IOTSEC_E_INVALID_ARG; /* the profile's rule is strict: nonce > last */
    /* 1. strict parse; the payload is decoded into out (decrypted there in place later) */
    rc = parse_eco(json, json_len, &ef);
    if (rc == IOTSEC_OK)
        rc = eco_payload(&ef, out != NULL ? out : none, out_cap); /* NULL: capacity 0 */
    /* 2. MAC over ascii_decimal(nonce) || payload text, compared in constant time */
    if (rc == IOTSEC_OK) {
        dec_len = iotsec_format_u64_dec(ef.h.nonce, dec);
        rc = iotsec__mac_verify(&keys->mac, (const uint8_t *)dec, dec_len,
                                (const uint8_t *)ef.payload.val, ef.payload.val_len, ef.mac);
    }
    /* 3. freshness: nonce > last, nothing recorded yet (a store is only read) */
    if (rc == IOTSEC_OK && fresh != NULL)
        rc = iotsec__fresh_check(fresh, ef.h.device_id, ef.h.device_id_len,
                                 IOTSEC_ECOWATT_REPLAY_KID, ef.h.nonce);
    /* 4. decrypt only now, and only with a configured key */
    if (rc == IOTSEC_OK) {
        n = ef.h.payload_len;
        if (ef.h.encrypted && !keys->has_enc_key)
            rc = IOTSEC_E_POLICY;
        else if (ef.h.encrypted)
            rc = iotsec__cbc_open(keys->crypto, keys->enc_key, ef.h.iv, out, ef.h.payload_len,
                                  out, out_cap, &n);
    }
    /* 5. commit (a store re-checks atomically: another writer may have taken the nonce) */
    if (rc == IOTSEC_OK && fresh != NULL)
        rc = iotsec__fresh_commit(fresh, ef.h.device_id, ef.h.device_id_len,
                                  IOTSEC_ECOWATT_REPLAY_KID, ef.h.nonce);
    if (rc == IOTSEC_OK) {
        *out_len = n;
    } else if (out != NULL) {
        iotsec_zeroize(out, ef.h.payload_len < out_cap ? ef.h.payload_len : out_cap);
    }
    if (hdr != NULL)
        *hdr = ef.h;
    return rc;
}

int iotsec_ecowatt_open(iotsec_ecowatt_keys *keys, const char *json, size_t json_len,
                        iotsec_ecowatt_header *hdr, uint8_t *out, size_t out_cap,
                        size_t *out_len)
{
    return open_eco(keys, NULL, json, json_len, hdr, out, out_cap, out_len);
}

int iotsec_ecowatt_open_checked(iotsec_ecowatt_keys *keys, iotsec_replay_window *window,
                                const char *json, size_t json_len, iotsec_ecowatt_header *hdr,
                                uint8_t *out, size_t out_cap, size_t *out_len)
{
    iotsec__fresh fresh = {window, NULL}; /* window NULL: refused by strict_ok */

    return open_eco(keys, &fresh, json, json_len, hdr, out, out_cap, out_len);
}

int iotsec_ecowatt_open_stored(iotsec_ecowatt_keys *keys, iotsec_replay_store *store,
                               const char *json, size_t json_len, iotsec_ecowatt_header *hdr,
                               uint8_t *out, size_t out_cap, size_t *out_len)
{
    iotsec__fresh fresh = {NULL, store};

    return open_eco(keys, &fresh, json, json_len, hdr, out, out_cap, out_len);
}

/* ---- sealing -------------------------------------------------------------------------------- */

int iotsec_ecowatt_seal(iotsec_ecowatt_keys *keys, const char *device_id, size_t id_len,
                        uint64_t nonce, int encrypt, const uint8_t *iv, const uint8_t *payload,
                        size_t payload_len, char *out, size_t out_cap, size_t *out_len)
{
    iotsec_writer w;
    uint8_t ivb[IOTSEC_ECOWATT_IV_LEN];
    uint8_t mac[IOTSEC_HMAC_LEN];
    char hex[2u * IOTSEC_HMAC_LEN + 1u];
    char dec[20];
    size_t text_start, dec_len;
    int rc;

    if (out_len != NULL)
        *out_len = 0;
    if (!keys_ok(keys) || out == NULL || out_len == NULL ||
        iotsec_device_id_check(device_id, id_len) != IOTSEC_OK || nonce == 0 ||
        nonce > IOTSEC_ECOWATT_NONCE_MAX || (payload == NULL && payload_len != 0) ||
        payload_len > IOTSEC_ECOWATT_PLAIN_MAX || (encrypt != 0 && encrypt != 1) ||
        (iv != NULL && !encrypt) || (encrypt && !keys->has_enc_key))
        return IOTSEC_E_INVALID_ARG;
    if (encrypt && !iotsec_crypto_has(keys->crypto, IOTSEC_CAP_AES_CBC))
        return IOTSEC_E_UNSUPPORTED;
    if (encrypt) {
        if (iv != NULL)
            memcpy(ivb, iv, sizeof ivb);
        else if ((rc = iotsec_random(keys->crypto, ivb, sizeof ivb)) != IOTSEC_OK)
            return rc;
    }
    iotsec_writer_init(&w, out, out_cap);
    iotsec_writer_str(&w, "{\"device_id\":\"");
    iotsec_writer_bytes(&w, device_id, id_len);
    iotsec_writer_str(&w, "\",\"nonce\":");
    iotsec__wr_u64(&w, nonce);
    if (encrypt) {
        iotsec_writer_str(&w, ",\"encrypted\":true,\"iv\":\"");
        iotsec__wr_base64(&w, ivb, sizeof ivb);
        iotsec_writer_str(&w, "\"");
    }
    iotsec_writer_str(&w, ",\"payload\":\"");
    text_start = w.pos;
    rc = iotsec__wr_payload_b64(&w, keys->crypto, encrypt, keys->enc_key, ivb, payload,
                                payload_len, NULL);
    if (rc == IOTSEC_OK)
        rc = iotsec_writer_error(&w);
    /* the MAC covers the decimal nonce and the base64 text just written */
    if (rc == IOTSEC_OK) {
        dec_len = iotsec_format_u64_dec(nonce, dec);
        rc = iotsec_hmac_init(&keys->mac);
        if (rc == IOTSEC_OK)
            rc = iotsec_hmac_update(&keys->mac, dec, dec_len);
        if (rc == IOTSEC_OK)
            rc = iotsec_hmac_update(&keys->mac, out + text_start, w.pos - text_start);
        if (rc == IOTSEC_OK)
            rc = iotsec_hmac_final(&keys->mac, mac);
    }
    if (rc == IOTSEC_OK)
        rc = iotsec_hex_encode(mac, sizeof mac, hex, sizeof hex);
    if (rc == IOTSEC_OK) {
        iotsec_writer_str(&w, "\",\"mac\":\"");
        iotsec_writer_bytes(&w, hex, 2u * IOTSEC_HMAC_LEN);
        iotsec_writer_str(&w, "\"}");
        rc = iotsec__wr_finish_text(&w, out_len);
    }
    iotsec_zeroize(ivb, sizeof ivb);
    if (rc != IOTSEC_OK) {
        *out_len = 0;
        iotsec_zeroize(out, out_cap);
    }
    return rc;
}

#else
/* ISO C wants at least one declaration in a translation unit */
typedef int iotsec__ecowatt_compiled_out;
#endif
