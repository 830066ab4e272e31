/*
 * libiotsec — telemetry frames v1, binary layout, key derivation, encrypt-then-MAC
 * (include/iotsec/frame.h; bindings-spec/SPEC.md §2, §5).
 *
 * Order of every open: bounded parse → constant-time tag check → direction, device and kid
 * against the keys → freshness (replay window) → decrypt and constant-time padding check →
 * commit. Nothing is trusted, and no state changes, before the step that allows it.
 */
#include "iotsec/frame.h"

#include <string.h>

#include "iotsec/error.h"
#include "iotsec/reader.h"
#include "iotsec/util.h"
#include "frame_int.h"

/* HKDF salt (bindings-spec/SPEC.md §2.2), without a terminating NUL. */
static const uint8_t frame_salt[15] = {'i', 'o', 't', 's', 'e', 'c', '-', 'f',
                                       'r', 'a', 'm', 'e', '-', 'v', '1'};

/* Bytes of the binary layout before the payload: 12 + id (≤ 64) + 4 + iv (16). */
#define HDR_BYTES_MAX (12u + IOTSEC_FRAME_ID_MAX + 4u + IOTSEC_FRAME_IV_LEN)

int iotsec__payload_len_ok(int encrypted, size_t len)
{
    if (encrypted) {
        if (len < IOTSEC_AES_BLOCK_LEN || len > IOTSEC_FRAME_CIPHER_MAX ||
            len % IOTSEC_AES_BLOCK_LEN != 0)
            return IOTSEC_E_BAD_LENGTH;
    } else if (len > IOTSEC_FRAME_PLAIN_MAX) {
        return IOTSEC_E_BAD_LENGTH;
    }
    return IOTSEC_OK;
}

/* ---- keys ---------------------------------------------------------------------------------- */

static int keys_ok(const iotsec_frame_keys *keys)
{
    return keys != NULL && keys->crypto != NULL && keys->mac.crypto != NULL &&
           keys->device_id_len >= 1 && keys->device_id_len <= IOTSEC_FRAME_ID_MAX &&
           keys->direction <= IOTSEC_FRAME_DOWNLINK;
}

int iotsec_frame_keys_derive(iotsec_frame_keys *keys, const iotsec_crypto *crypto,
                             const uint8_t master[IOTSEC_FRAME_MASTER_LEN],
                             const char *device_id, size_t id_len, uint8_t kid,
                             iotsec_frame_direction direction)
{
    uint8_t prk[IOTSEC_SHA256_LEN];
    uint8_t mac_key[IOTSEC_FRAME_MAC_KEY_LEN];
    uint8_t info[3u + 3u + IOTSEC_FRAME_ID_MAX];
    int rc;

    if (keys == NULL)
        return IOTSEC_E_INVALID_ARG;
    memset(keys, 0, sizeof *keys);
    if (crypto == NULL || master == NULL || iotsec_device_id_check(device_id, id_len) != IOTSEC_OK ||
        (direction != IOTSEC_FRAME_UPLINK && direction != IOTSEC_FRAME_DOWNLINK))
        return IOTSEC_E_INVALID_ARG;
    /* info = label || 0x00 || dir || kid || device_id; the label is patched below */
    info[0] = 'm';
    info[1] = 'a';
    info[2] = 'c';
    info[3] = 0x00;
    info[4] = (uint8_t)direction;
    info[5] = kid;
    memcpy(info + 6, device_id, id_len);
    rc = iotsec_hkdf_sha256_extract(crypto, frame_salt, sizeof frame_salt, master,
                                    IOTSEC_FRAME_MASTER_LEN, prk);
    if (rc == IOTSEC_OK)
        rc = iotsec_hkdf_sha256_expand(crypto, prk, info, 6u + id_len, mac_key, sizeof mac_key);
    if (rc == IOTSEC_OK) {
        info[0] = 'e';
        info[1] = 'n';
        info[2] = 'c';
        rc = iotsec_hkdf_sha256_expand(crypto, prk, info, 6u + id_len, keys->enc_key,
                                       sizeof keys->enc_key);
    }
    if (rc == IOTSEC_OK)
        rc = iotsec_hmac_setkey(&keys->mac, crypto, mac_key, sizeof mac_key);
    iotsec_zeroize(prk, sizeof prk);
    iotsec_zeroize(mac_key, sizeof mac_key);
    if (rc != IOTSEC_OK) {
        iotsec_frame_keys_cleanup(keys);
        return rc;
    }
    keys->crypto = crypto;
    memcpy(keys->device_id, device_id, id_len);
    keys->device_id_len = (uint8_t)id_len;
    keys->kid = kid;
    keys->direction = (uint8_t)direction;
    return IOTSEC_OK;
}

void iotsec_frame_keys_cleanup(iotsec_frame_keys *keys)
{
    if (keys == NULL)
        return;
    iotsec_hmac_cleanup(&keys->mac);
    iotsec_zeroize(keys, sizeof *keys);
}

/* ---- crypto steps ---------------------------------------------------------------------------- */

int iotsec__mac_verify(iotsec_hmac_ctx *mac, const uint8_t *a, size_t alen, const uint8_t *b,
                       size_t blen, const uint8_t tag[32])
{
    uint8_t expect[IOTSEC_HMAC_LEN];
    int rc;

    rc = iotsec_hmac_init(mac);
    if (rc == IOTSEC_OK)
        rc = iotsec_hmac_update(mac, a, alen);
    if (rc == IOTSEC_OK)
        rc = iotsec_hmac_update(mac, b, blen);
    if (rc == IOTSEC_OK)
        rc = iotsec_hmac_final(mac, expect);
    if (rc == IOTSEC_OK && iotsec_ct_compare(expect, tag, IOTSEC_HMAC_LEN) != 0)
        rc = IOTSEC_E_BAD_MAC;
    iotsec_zeroize(expect, sizeof expect);
    return rc;
}

/* Non-zero when b[0..16) does not end in valid PKCS#7 padding (1–16 bytes, each equal to
 * the count). Branch-free over the secret bytes: every byte is examined whatever the pad. */
static unsigned pkcs7_bad(const uint8_t b[16])
{
    unsigned pad = b[15];
    unsigned bad = ((pad - 1u) >> 4) & 0x0fffffffu; /* 0 exactly when 1 ≤ pad ≤ 16 */
    unsigned i;

    for (i = 0; i < 16u; i++) {
        /* all ones when i ≥ 16 − pad, i.e. 15 − i < pad */
        unsigned in_pad = 0u - (((15u - i) - pad) >> 31);
        bad |= ((unsigned)b[i] ^ pad) & in_pad;
    }
    return bad;
}

int iotsec__cbc_open(const iotsec_crypto *crypto, const uint8_t key[16], const uint8_t iv[16],
                     const uint8_t *in, size_t in_len, uint8_t *out, size_t out_cap,
                     size_t *out_len)
{
    iotsec_aes_cbc_ctx c;
    uint8_t last[IOTSEC_AES_BLOCK_LEN];
    size_t body, n;
    int rc;

    *out_len = 0;
    if (in_len == 0 || in_len % IOTSEC_AES_BLOCK_LEN != 0)
        return IOTSEC_E_INVALID_ARG;
    body = in_len - IOTSEC_AES_BLOCK_LEN; /* the plaintext is at least this long */
    if (out_cap < body)
        return IOTSEC_E_BUFFER_TOO_SMALL;
    rc = iotsec_aes_cbc_init(&c, crypto, IOTSEC_DECRYPT, key, IOTSEC_FRAME_ENC_KEY_LEN, iv);
    if (rc != IOTSEC_OK)
        return rc;
    rc = iotsec_aes_cbc_update(&c, in, out, body);
    if (rc == IOTSEC_OK) /* chaining continues: the last block goes to a local copy */
        rc = iotsec_aes_cbc_update(&c, in + body, last, sizeof last);
    iotsec_aes_cbc_cleanup(&c);
    if (rc == IOTSEC_OK && pkcs7_bad(last) != 0)
        rc = IOTSEC_E_DECRYPT;
    /* the last block is written only when both updates succeeded */
    n = rc == IOTSEC_OK ? IOTSEC_AES_BLOCK_LEN - (size_t)last[15] : 0;
    if (rc == IOTSEC_OK && out_cap - body < n)
        rc = IOTSEC_E_BUFFER_TOO_SMALL;
    if (rc == IOTSEC_OK) {
        if (n > 0)
            memcpy(out + body, last, n);
        *out_len = body + n;
    } else if (body > 0) {
        iotsec_zeroize(out, body);
    }
    iotsec_zeroize(last, sizeof last);
    return rc;
}

/* ---- binary layout ------------------------------------------------------------------------- */

static int parse_fail(iotsec_frame_header *h, int rc, const char *field, size_t off)
{
    h->err_field = field;
    h->err_offset = off;
    return rc;
}

static uint64_t load_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    size_t i;

    for (i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Bounded parse of a whole binary frame into h. On success *payload_off is the offset of
 * the payload field and *tag_off that of the tag. Every length is checked against what
 * remains before it is used (the reader); nothing may follow the tag. The fixed 12-byte
 * header comes in one bounded read of what is there (at most 12 bytes), examined field by
 * field, so a short input still gets the error of the first field that is wrong or absent. */
static int parse_binary(const uint8_t *f, size_t len, iotsec_frame_header *h,
                        size_t *payload_off, size_t *tag_off)
{
    iotsec_reader r;
    const uint8_t *p;
    size_t have, off;
    uint8_t id_len;
    uint32_t pl;

    memset(h, 0, sizeof *h);
    iotsec_reader_init(&r, f, len);
    have = iotsec_reader_remaining(&r);
    if (have > 12)
        have = 12;
    p = iotsec_reader_bytes(&r, have);
    if (have < 1)
        return parse_fail(h, IOTSEC_E_TRUNCATED, "version", 0);
    h->version = p[0];
    if (h->version != IOTSEC_FRAME_VERSION)
        return parse_fail(h, IOTSEC_E_BAD_VERSION, "version", 0);
    if (have < 2)
        return parse_fail(h, IOTSEC_E_TRUNCATED, "flags", 1);
    h->flags = p[1];
    if ((h->flags & ~(IOTSEC_FRAME_FLAG_ENCRYPTED | IOTSEC_FRAME_FLAG_DOWNLINK)) != 0)
        return parse_fail(h, IOTSEC_E_BAD_VALUE, "flags", 1);
    h->encrypted = (h->flags & IOTSEC_FRAME_FLAG_ENCRYPTED) != 0;
    h->direction = (h->flags & IOTSEC_FRAME_FLAG_DOWNLINK) ? IOTSEC_FRAME_DOWNLINK
                                                            : IOTSEC_FRAME_UPLINK;
    if (have < 3)
        return parse_fail(h, IOTSEC_E_TRUNCATED, "kid", 2);
    h->kid = p[2];
    if (have < 4)
        return parse_fail(h, IOTSEC_E_TRUNCATED, "id_len", 3);
    id_len = p[3];
    if (id_len == 0 || id_len > IOTSEC_FRAME_ID_MAX)
        return parse_fail(h, IOTSEC_E_BAD_LENGTH, "id_len", 3);
    if (have < 12)
        return parse_fail(h, IOTSEC_E_TRUNCATED, "ctr", 4);
    h->ctr = load_be(p + 4, 8);
    if (h->ctr == 0)
        return parse_fail(h, IOTSEC_E_BAD_VALUE, "ctr", 4);
    p = iotsec_reader_bytes(&r, id_len);
    if (p == NULL)
        return parse_fail(h, IOTSEC_E_TRUNCATED, "device_id", 12);
    if (iotsec_device_id_check((const char *)p, id_len) != IOTSEC_OK)
        return parse_fail(h, IOTSEC_E_BAD_VALUE, "device_id", 12);
    memcpy(h->device_id, p, id_len);
    h->device_id[id_len] = '\0';
    h->device_id_len = id_len;
    off = r.pos;
    p = iotsec_reader_bytes(&r, 4);
    if (p == NULL)
        return parse_fail(h, IOTSEC_E_TRUNCATED, "payload_len", off);
    pl = (uint32_t)load_be(p, 4);
    if (iotsec__payload_len_ok(h->encrypted, pl) != IOTSEC_OK)
        return parse_fail(h, IOTSEC_E_BAD_LENGTH, "payload_len", off);
    h->payload_len = pl;
    if (h->encrypted) {
        off = r.pos;
        p = iotsec_reader_bytes(&r, IOTSEC_FRAME_IV_LEN);
        if (p == NULL)
            return parse_fail(h, IOTSEC_E_TRUNCATED, "iv", off);
        memcpy(h->iv, p, IOTSEC_FRAME_IV_LEN);
    }
    *payload_off = r.pos;
    if (iotsec_reader_bytes(&r, pl) == NULL)
        return parse_fail(h, IOTSEC_E_TRUNCATED, "payload", *payload_off);
    *tag_off = r.pos;
    if (iotsec_reader_bytes(&r, IOTSEC_FRAME_TAG_LEN) == NULL)
        return parse_fail(h, IOTSEC_E_TRUNCATED, "tag", *tag_off);
    if (iotsec_reader_finish(&r) != IOTSEC_OK)
        return parse_fail(h, IOTSEC_E_TRAILING_DATA, "after tag", r.pos);
    return IOTSEC_OK;
}

size_t iotsec__frame_header_bytes(const iotsec_frame_header *h, uint8_t *out, size_t cap)
{
    iotsec_writer w;

    iotsec_writer_init(&w, out, cap);
    iotsec_writer_u8(&w, IOTSEC_FRAME_VERSION);
    iotsec_writer_u8(&w, h->flags);
    iotsec_writer_u8(&w, h->kid);
    iotsec_writer_u8(&w, (uint8_t)h->device_id_len);
    iotsec_writer_u64(&w, h->ctr);
    iotsec_writer_bytes(&w, h->device_id, h->device_id_len);
    iotsec_writer_u32(&w, (uint32_t)h->payload_len);
    if (h->encrypted)
        iotsec_writer_bytes(&w, h->iv, IOTSEC_FRAME_IV_LEN);
    return iotsec_writer_error(&w) == IOTSEC_OK ? w.pos : 0;
}

int iotsec__fresh_check(const iotsec__fresh *fresh, const char *device_id, size_t id_len,
                        uint8_t kid, uint64_t ctr)
{
    return fresh->window != NULL
               ? iotsec_replay_check(fresh->window, ctr)
               : iotsec_replay_store_check(fresh->store, (const uint8_t *)device_id, id_len,
                                           kid, ctr);
}

int iotsec__fresh_commit(const iotsec__fresh *fresh, const char *device_id, size_t id_len,
                         uint8_t kid, uint64_t ctr)
{
    return fresh->window != NULL
               ? iotsec_replay_commit(fresh->window, ctr)
               : iotsec_replay_store_check_and_commit(fresh->store, (const uint8_t *)device_id,
                                                      id_len, kid, ctr);
}

int iotsec__frame_open_common(iotsec_frame_keys *keys, const iotsec__fresh *fresh,
                              const iotsec_frame_header *h, const uint8_t *hb, size_t hb_len,
                              const uint8_t *pf, const uint8_t *tag, uint8_t *out,
                              size_t out_cap, size_t *out_len)
{
    size_t pf_len = h->payload_len, n = 0;
    int rc;

    /* 1. authenticate: one HMAC over header and payload field, compared in constant time */
    if (hb + hb_len == pf) /* contiguous (binary frame): one update */
        rc = iotsec__mac_verify(&keys->mac, hb, hb_len + pf_len, NULL, 0, tag);
    else
        rc = iotsec__mac_verify(&keys->mac, hb, hb_len, pf, pf_len, tag);
    if (rc != IOTSEC_OK)
        return rc;
    /* 2. the authentic header must name the keys' direction, device and kid */
    if (h->direction != keys->direction)
        return IOTSEC_E_WRONG_DIRECTION;
    if (h->kid != keys->kid || h->device_id_len != keys->device_id_len ||
        memcmp(h->device_id, keys->device_id, h->device_id_len) != 0)
        return IOTSEC_E_WRONG_DEVICE;
    /* 3. freshness, without changing any state yet */
    if (fresh != NULL) {
        rc = iotsec__fresh_check(fresh, h->device_id, h->device_id_len, h->kid, h->ctr);
        if (rc != IOTSEC_OK)
            return rc;
    }
    /* 4. decrypt (padding checked in constant time) or copy */
    if (h->encrypted) {
        rc = iotsec__cbc_open(keys->crypto, keys->enc_key, h->iv, pf, pf_len, out, out_cap, &n);
        if (rc != IOTSEC_OK)
            return rc;
    } else {
        if (out_cap < pf_len)
            return IOTSEC_E_BUFFER_TOO_SMALL;
        if (pf_len > 0 && out != pf)
            memmove(out, pf, pf_len);
        n = pf_len;
    }
    /* 5. everything passed: commit the counter (a store re-checks atomically: another
     * writer may have taken the counter since step 3) */
    if (fresh != NULL) {
        rc = iotsec__fresh_commit(fresh, h->device_id, h->device_id_len, h->kid, h->ctr);
        if (rc != IOTSEC_OK) {
            if (n > 0 && out != pf)
                iotsec_zeroize(out, n);
            return rc;
        }
    }
    *out_len = n;
    return IOTSEC_OK;
}

int iotsec__frame_open_args(iotsec_frame_keys *keys, const iotsec__fresh *fresh,
                            const void *in, uint8_t *out, size_t out_cap, size_t *out_len)
{
    if (out_len != NULL)
        *out_len = 0;
    if (!keys_ok(keys) || in == NULL || (out == NULL && out_cap != 0) || out_len == NULL)
        return IOTSEC_E_INVALID_ARG;
    if (fresh != NULL && fresh->window == NULL &&
        (fresh->store == NULL || fresh->store->ops == NULL))
        return IOTSEC_E_INVALID_ARG;
    if (fresh != NULL && fresh->window != NULL &&
        fresh->window->window > IOTSEC_REPLAY_MAX_WINDOW)
        return IOTSEC_E_INVALID_ARG;
    return IOTSEC_OK;
}

static int open_binary(iotsec_frame_keys *keys, const iotsec__fresh *fresh,
                       const uint8_t *frame, size_t frame_len, iotsec_frame_header *hdr,
                       uint8_t *out, size_t out_cap, size_t *out_len)
{
    iotsec_frame_header h;
    size_t payload_off = 0, tag_off = 0;
    int rc;

    rc = iotsec__frame_open_args(keys, fresh, frame, out, out_cap, out_len);
    if (rc != IOTSEC_OK)
        return rc;
    rc = parse_binary(frame, frame_len, &h, &payload_off, &tag_off);
    /* CBC decryption into out may run in place, but out must not overlap the ciphertext
     * otherwise: it would overwrite blocks it has not read yet */
    if (rc == IOTSEC_OK && h.encrypted && out != NULL && out != frame + payload_off &&
        (uintptr_t)out < (uintptr_t)(frame + payload_off) + h.payload_len &&
        (uintptr_t)(frame + payload_off) < (uintptr_t)out + h.payload_len)
        rc = IOTSEC_E_INVALID_ARG;
    if (rc == IOTSEC_OK)
        rc = iotsec__frame_open_common(keys, fresh, &h, frame, payload_off,
                                       frame + payload_off, frame + tag_off, out, out_cap,
                                       out_len);
    if (hdr != NULL)
        *hdr = h;
    return rc;
}

int iotsec_frame_peek(const uint8_t *frame, size_t frame_len, iotsec_frame_header *hdr)
{
    size_t payload_off, tag_off;

    if (frame == NULL || hdr == NULL)
        return IOTSEC_E_INVALID_ARG;
    return parse_binary(frame, frame_len, hdr, &payload_off, &tag_off);
}

int iotsec_frame_open(iotsec_frame_keys *keys, const uint8_t *frame, size_t frame_len,
                      iotsec_frame_header *hdr, uint8_t *out, size_t out_cap, size_t *out_len)
{
    return open_binary(keys, NULL, frame, frame_len, hdr, out, out_cap, out_len);
}

int iotsec_frame_open_checked(iotsec_frame_keys *keys, iotsec_replay_window *window,
                              const uint8_t *frame, size_t frame_len, iotsec_frame_header *hdr,
                              uint8_t *out, size_t out_cap, size_t *out_len)
{
    iotsec__fresh fresh = {window, NULL};

    return open_binary(keys, &fresh, frame, frame_len, hdr, out, out_cap, out_len);
}

int iotsec_frame_open_stored(iotsec_frame_keys *keys, iotsec_replay_store *store,
                             const uint8_t *frame, size_t frame_len, iotsec_frame_header *hdr,
                             uint8_t *out, size_t out_cap, size_t *out_len)
{
    iotsec__fresh fresh = {NULL, store};

    return open_binary(keys, &fresh, frame, frame_len, hdr, out, out_cap, out_len);
}

/* ---- sealing ------------------------------------------------------------------------------- */

int iotsec__frame_seal_args(iotsec_frame_keys *keys, uint64_t ctr, int encrypt,
                            const uint8_t *iv, const uint8_t *payload, size_t payload_len,
                            const void *out, const size_t *out_len)
{
    if (!keys_ok(keys) || out == NULL || out_len == NULL || ctr == 0 ||
        (payload == NULL && payload_len != 0) || payload_len > IOTSEC_FRAME_PLAIN_MAX ||
        (encrypt != 0 && encrypt != 1) || (iv != NULL && !encrypt))
        return IOTSEC_E_INVALID_ARG;
    if (encrypt && !iotsec_crypto_has(keys->crypto, IOTSEC_CAP_AES_CBC))
        return IOTSEC_E_UNSUPPORTED;
    return IOTSEC_OK;
}

/* The header of a frame about to be sealed; the IV is the caller's or a fresh random one. */
int iotsec__frame_seal_header(iotsec_frame_keys *keys, uint64_t ctr, int encrypt,
                              const uint8_t *iv, size_t payload_len, iotsec_frame_header *h)
{
    memset(h, 0, sizeof *h);
    h->version = IOTSEC_FRAME_VERSION;
    h->encrypted = encrypt;
    h->direction = keys->direction;
    h->flags = (uint8_t)((encrypt ? IOTSEC_FRAME_FLAG_ENCRYPTED : 0u) |
                         (keys->direction == IOTSEC_FRAME_DOWNLINK ? IOTSEC_FRAME_FLAG_DOWNLINK
                                                                   : 0u));
    h->kid = keys->kid;
    h->ctr = ctr;
    h->device_id_len = keys->device_id_len;
    memcpy(h->device_id, keys->device_id, keys->device_id_len);
    h->payload_len = encrypt ? (payload_len / 16u + 1u) * 16u : payload_len;
    if (!encrypt)
        return IOTSEC_OK;
    if (iv != NULL) {
        memcpy(h->iv, iv, IOTSEC_FRAME_IV_LEN);
        return IOTSEC_OK;
    }
    return iotsec_random(keys->crypto, h->iv, IOTSEC_FRAME_IV_LEN);
}

/* AES-128-CBC encrypt payload with PKCS#7 padding into out (padded length bytes; out must
 * not overlap payload). */
static int cbc_seal(const iotsec_crypto *crypto, const uint8_t key[16], const uint8_t iv[16],
                    const uint8_t *payload, size_t len, uint8_t *out)
{
    iotsec_aes_cbc_ctx c;
    uint8_t last[IOTSEC_AES_BLOCK_LEN];
    size_t full = len - len % IOTSEC_AES_BLOCK_LEN, rest = len - full;
    int rc;

    memset(last, (int)(IOTSEC_AES_BLOCK_LEN - rest), sizeof last);
    if (rest > 0)
        memcpy(last, payload + full, rest);
    rc = iotsec_aes_cbc_init(&c, crypto, IOTSEC_ENCRYPT, key, IOTSEC_FRAME_ENC_KEY_LEN, iv);
    if (rc == IOTSEC_OK)
        rc = iotsec_aes_cbc_update(&c, payload, out, full);
    if (rc == IOTSEC_OK)
        rc = iotsec_aes_cbc_update(&c, last, out + full, sizeof last);
    iotsec_aes_cbc_cleanup(&c);
    iotsec_zeroize(last, sizeof last);
    return rc;
}

int iotsec_frame_seal(iotsec_frame_keys *keys, uint64_t ctr, int encrypt, const uint8_t *iv,
                      const uint8_t *payload, size_t payload_len, uint8_t *out, size_t out_cap,
                      size_t *out_len)
{
    iotsec_frame_header h;
    size_t need, hb_len;
    uint8_t *tag;
    int rc;

    rc = iotsec__frame_seal_args(keys, ctr, encrypt, iv, payload, payload_len, out, out_len);
    if (rc != IOTSEC_OK)
        return rc;
    *out_len = 0;
    need = IOTSEC_FRAME_SEALED_LEN((size_t)keys->device_id_len, payload_len, encrypt);
    if (out_cap < need)
        return IOTSEC_E_BUFFER_TOO_SMALL;
    rc = iotsec__frame_seal_header(keys, ctr, encrypt, iv, payload_len, &h);
    if (rc != IOTSEC_OK)
        return rc;
    hb_len = iotsec__frame_header_bytes(&h, out, out_cap);
    if (encrypt)
        rc = cbc_seal(keys->crypto, keys->enc_key, h.iv, payload, payload_len, out + hb_len);
    else if (payload_len > 0)
        memcpy(out + hb_len, payload, payload_len);
    tag = out + hb_len + h.payload_len;
    if (rc == IOTSEC_OK)
        rc = iotsec_hmac_init(&keys->mac);
    if (rc == IOTSEC_OK)
        rc = iotsec_hmac_update(&keys->mac, out, hb_len + h.payload_len);
    if (rc == IOTSEC_OK)
        rc = iotsec_hmac_final(&keys->mac, tag);
    if (rc != IOTSEC_OK) {
        iotsec_zeroize(out, need);
        return rc;
    }
    *out_len = need;
    return IOTSEC_OK;
}
