/*
 * libiotsec — telemetry frames v1, JSON encoding (include/iotsec/frame.h; bindings-spec/SPEC.md §3),
 * and the strict flat-object JSON reader shared with the EcoWatt profile (frame_int.h).
 *
 * Tokens come from jsmn (strict mode, a fixed token array on the stack, no allocation);
 * jsmn alone accepts some invalid JSON (trailing commas, missing commas), so every gap
 * between two tokens is checked too: only whitespace and exactly the one separator the
 * grammar puts there. Strings may not contain escapes or control characters, so a string's
 * bytes are its value.
 */
#include "iotsec/config.h"

#if !IOTSEC_NO_JSON /* the whole file; compiled out by IOTSEC_NO_JSON */

#define JSMN_STATIC
#define JSMN_STRICT
/* jsmn is bundled unmodified (third_party/jsmn/, MIT); its int/unsigned mixing is its own,
 * so -Wconversion is silenced for that header alone. */
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wsign-conversion"
#endif
#include "third_party/jsmn/jsmn.h"
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#include <string.h>

#include "iotsec/error.h"
#include "iotsec/frame.h"
#include "iotsec/reader.h"
#include "iotsec/util.h"
#include "frame_int.h"

/* ---- flat JSON objects -------------------------------------------------------------------- */

/* One object token, a key and a value per member, and one spare so that a 17th member is
 * seen as "too many" rather than as a parse error. */
#define JSON_TOKENS (1u + 2u * IOTSEC__JSON_MAX_MEMBERS + 1u)

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* [from, to) holds only whitespace and, when sep is not 0, exactly one sep. */
static int gap_ok(const char *js, size_t from, size_t to, char sep)
{
    int seen = 0;

    if (from > to)
        return 0;
    for (; from < to; from++) {
        if (is_ws(js[from]))
            continue;
        if (sep != 0 && js[from] == sep && !seen) {
            seen = 1;
            continue;
        }
        return 0;
    }
    return sep == 0 || seen;
}

/* A string's bytes: no control character (JSON forbids them raw) and no backslash (we
 * accept no escapes). Returns the offset of the first bad byte, or len. */
static size_t string_bad_at(const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20u || c == '\\')
            return i;
    }
    return len;
}

static int jsmn_error(int n)
{
    if (n == JSMN_ERROR_NOMEM)
        return IOTSEC_E_MALFORMED; /* more members (or nested values) than a frame has */
    if (n == JSMN_ERROR_PART)
        return IOTSEC_E_TRUNCATED;
    return IOTSEC_E_BAD_ENCODING;
}

int iotsec__json_object(const char *js, size_t len, size_t max_len, iotsec__json_member *m,
                        size_t *count, size_t *err_off)
{
    jsmn_parser p;
    jsmntok_t t[JSON_TOKENS];
    const char *nul;
    size_t pos, k, i, bad;
    int n;

    *count = 0;
    *err_off = 0;
    if (len > max_len || len > 0x7fffffffu)
        return IOTSEC_E_BAD_LENGTH;
    nul = len > 0 ? (const char *)memchr(js, '\0', len) : NULL;
    if (nul != NULL) { /* jsmn would stop there silently */
        *err_off = (size_t)(nul - js);
        return IOTSEC_E_BAD_ENCODING;
    }
    jsmn_init(&p);
    n = jsmn_parse(&p, js, len, t, JSON_TOKENS);
    if (n < 0) {
        /* an error after the root object closed is trailing data */
        if (p.toknext >= 1 && t[0].type == JSMN_OBJECT && t[0].end >= 0 &&
            p.pos >= (unsigned)t[0].end) {
            *err_off = (size_t)t[0].end;
            return IOTSEC_E_TRAILING_DATA;
        }
        *err_off = p.pos;
        return jsmn_error(n);
    }
    if (n == 0) { /* empty or only whitespace */
        *err_off = len;
        return IOTSEC_E_TRUNCATED;
    }
    if (t[0].type != JSMN_OBJECT || !gap_ok(js, 0, (size_t)t[0].start, 0)) {
        *err_off = (size_t)t[0].start;
        return IOTSEC_E_BAD_ENCODING;
    }
    if (t[0].size < 0 || (size_t)t[0].size > IOTSEC__JSON_MAX_MEMBERS) {
        *err_off = (size_t)t[0].start;
        return IOTSEC_E_MALFORMED;
    }
    pos = (size_t)t[0].start + 1u;
    k = 1;
    for (i = 0; i < (size_t)t[0].size; i++, k += 2) {
        const jsmntok_t *key, *val;
        size_t ks, ke, vs, ve;

        if (k + 1u >= (size_t)n) {
            *err_off = pos;
            return IOTSEC_E_BAD_ENCODING;
        }
        key = &t[k];
        val = &t[k + 1u];
        if (key->type != JSMN_STRING || key->size != 1) {
            *err_off = (size_t)key->start;
            return IOTSEC_E_BAD_ENCODING;
        }
        if (val->type == JSMN_OBJECT || val->type == JSMN_ARRAY) {
            *err_off = (size_t)val->start;
            return IOTSEC_E_BAD_VALUE;
        }
        if (val->size != 0) {
            *err_off = (size_t)val->start;
            return IOTSEC_E_BAD_ENCODING;
        }
        ks = (size_t)key->start - 1u; /* the quotes belong to the raw span */
        ke = (size_t)key->end + 1u;
        vs = (size_t)val->start - (val->type == JSMN_STRING ? 1u : 0u);
        ve = (size_t)val->end + (val->type == JSMN_STRING ? 1u : 0u);
        if (!gap_ok(js, pos, ks, i > 0 ? ',' : 0)) {
            *err_off = pos;
            return IOTSEC_E_BAD_ENCODING;
        }
        if (!gap_ok(js, ke, vs, ':')) {
            *err_off = ke;
            return IOTSEC_E_BAD_ENCODING;
        }
        m[i].name = js + key->start;
        m[i].name_len = (size_t)(key->end - key->start);
        m[i].val = js + val->start;
        m[i].val_len = (size_t)(val->end - val->start);
        m[i].is_string = val->type == JSMN_STRING;
        m[i].name_off = ks;
        m[i].val_off = vs;
        bad = string_bad_at(m[i].name, m[i].name_len);
        if (bad < m[i].name_len) {
            *err_off = (size_t)key->start + bad;
            return IOTSEC_E_BAD_ENCODING;
        }
        if (m[i].is_string && (bad = string_bad_at(m[i].val, m[i].val_len)) < m[i].val_len) {
            *err_off = (size_t)val->start + bad;
            return IOTSEC_E_BAD_ENCODING;
        }
        pos = ve;
    }
    if (!gap_ok(js, pos, (size_t)t[0].end - 1u, 0)) { /* e.g. a trailing comma */
        *err_off = pos;
        return IOTSEC_E_BAD_ENCODING;
    }
    if (!gap_ok(js, (size_t)t[0].end, len, 0) || k != (size_t)n) {
        *err_off = (size_t)t[0].end;
        return IOTSEC_E_TRAILING_DATA;
    }
    *count = (size_t)t[0].size;
    return IOTSEC_OK;
}

int iotsec__json_bind(const iotsec__json_member *m, size_t count, const char *const *names,
                      size_t n_names, int *idx, size_t *bad)
{
    size_t i, k;

    for (k = 0; k < n_names; k++)
        idx[k] = -1;
    for (i = 0; i < count; i++) {
        for (k = 0; k < n_names; k++) {
            if (strlen(names[k]) == m[i].name_len &&
                memcmp(names[k], m[i].name, m[i].name_len) == 0)
                break;
        }
        *bad = i;
        if (k == n_names)
            return IOTSEC_E_UNKNOWN_CRITICAL;
        if (idx[k] >= 0)
            return IOTSEC_E_MALFORMED; /* duplicate member */
        idx[k] = (int)i;
    }
    return IOTSEC_OK;
}

int iotsec__json_uint(const iotsec__json_member *m, uint64_t max, uint64_t *out)
{
    char c = m->val_len > 0 ? m->val[0] : '\0';

    if (m->is_string || c == 't' || c == 'f' || c == 'n')
        return IOTSEC_E_BAD_VALUE; /* a string, true, false or null: not a number */
    return iotsec_parse_u64_dec(m->val, m->val_len, max, out);
}

int iotsec__json_lit(const iotsec__json_member *m, const char *lit)
{
    size_t n = strlen(lit);

    if (!m->is_string || m->val_len != n || memcmp(m->val, lit, n) != 0)
        return IOTSEC_E_BAD_VALUE;
    return IOTSEC_OK;
}

int iotsec__json_b64(const iotsec__json_member *m, size_t max, uint8_t *out, size_t out_cap,
                     size_t *dec_len)
{
    uint8_t tmp[48];
    size_t off = 0, total = 0, d;
    int rc;

    *dec_len = 0;
    if (!m->is_string)
        return IOTSEC_E_BAD_VALUE;
    if (m->val_len > IOTSEC_BASE64_ENCODED_LEN(max))
        return IOTSEC_E_BAD_LENGTH;
    if (out != NULL)
        return iotsec_base64_decode(m->val, m->val_len, out, out_cap, dec_len);
    /* validate only, 64 characters at a time: padding may end only the last piece */
    while (off < m->val_len) {
        size_t n = m->val_len - off < 64u ? m->val_len - off : 64u;
        if (off + n < m->val_len && m->val[off + n - 1u] == '=')
            return IOTSEC_E_BAD_ENCODING;
        rc = iotsec_base64_decode(m->val + off, n, tmp, sizeof tmp, &d);
        if (rc != IOTSEC_OK)
            return rc;
        total += d;
        off += n;
    }
    *dec_len = total;
    return IOTSEC_OK;
}

int iotsec__json_b64_exact(const iotsec__json_member *m, uint8_t *out, size_t len)
{
    size_t n = 0;
    int rc = iotsec__json_b64(m, len, out, len, &n);

    if (rc == IOTSEC_E_BUFFER_TOO_SMALL || (rc == IOTSEC_OK && n != len))
        return IOTSEC_E_BAD_LENGTH;
    return rc;
}

int iotsec__json_payload(const iotsec__json_member *m, int encrypted, uint8_t *out,
                         size_t out_cap, size_t *dec_len)
{
    int rc = iotsec__json_b64(m, encrypted ? IOTSEC_FRAME_CIPHER_MAX : IOTSEC_FRAME_PLAIN_MAX,
                              out, out_cap, dec_len);

    return rc == IOTSEC_OK ? iotsec__payload_len_ok(encrypted, *dec_len) : rc;
}

int iotsec__json_device_id(const iotsec__json_member *m, char out[65], size_t *out_len)
{
    if (!m->is_string)
        return IOTSEC_E_BAD_VALUE;
    if (m->val_len == 0 || m->val_len > IOTSEC_FRAME_ID_MAX)
        return IOTSEC_E_BAD_LENGTH;
    if (iotsec_device_id_check(m->val, m->val_len) != IOTSEC_OK)
        return IOTSEC_E_BAD_VALUE;
    memcpy(out, m->val, m->val_len);
    out[m->val_len] = '\0';
    *out_len = m->val_len;
    return IOTSEC_OK;
}

/* ---- bounded text writer ------------------------------------------------------------------ */

void iotsec__wr_base64(iotsec_writer *w, const uint8_t *data, size_t len)
{
    size_t enc = IOTSEC_BASE64_ENCODED_LEN(len), n = 0;

    if (w->err != IOTSEC_OK)
        return;
    if (w->buf == NULL) {
        w->pos += enc;
        return;
    }
    /* the encoder writes a NUL after the text: it needs one byte more, which the final NUL
     * of every text we write needs anyway */
    if (w->cap - w->pos < enc + 1u ||
        iotsec_base64_encode(data, len, (char *)w->buf + w->pos, w->cap - w->pos, &n) !=
            IOTSEC_OK) {
        w->err = IOTSEC_E_BUFFER_TOO_SMALL;
        return;
    }
    w->pos += n;
}

void iotsec__wr_u64(iotsec_writer *w, uint64_t v)
{
    char buf[20];
    size_t n = iotsec_format_u64_dec(v, buf);

    iotsec_writer_bytes(w, buf, n);
}

int iotsec__wr_finish_text(iotsec_writer *w, size_t *out_len)
{
    size_t n = w->pos;

    iotsec_writer_u8(w, 0);
    if (iotsec_writer_error(w) != IOTSEC_OK)
        return iotsec_writer_error(w);
    *out_len = n;
    return IOTSEC_OK;
}

/* 480 bytes: a multiple of 3 (base64 pieces concatenate) and of 16 (whole AES blocks). */
#define STREAM_CHUNK 480u

int iotsec__wr_payload_b64(iotsec_writer *w, const iotsec_crypto *crypto, int encrypt,
                           const uint8_t *key, const uint8_t *iv, const uint8_t *payload,
                           size_t len, iotsec_hmac_ctx *mac)
{
    iotsec_aes_cbc_ctx c;
    uint8_t buf[STREAM_CHUNK];
    size_t total, off;
    int rc = IOTSEC_OK;

    if (!encrypt) {
        for (off = 0; off < len && rc == IOTSEC_OK; off += STREAM_CHUNK) {
            size_t n = len - off < STREAM_CHUNK ? len - off : STREAM_CHUNK;
            if (mac != NULL)
                rc = iotsec_hmac_update(mac, payload + off, n);
            iotsec__wr_base64(w, payload + off, n);
        }
        return rc;
    }
    total = (len / 16u + 1u) * 16u; /* PKCS#7 always pads */
    rc = iotsec_aes_cbc_init(&c, crypto, IOTSEC_ENCRYPT, key, IOTSEC_FRAME_ENC_KEY_LEN, iv);
    for (off = 0; off < total && rc == IOTSEC_OK; off += STREAM_CHUNK) {
        size_t n = total - off < STREAM_CHUNK ? total - off : STREAM_CHUNK;
        size_t have = off < len ? (len - off < n ? len - off : n) : 0;
        if (have > 0)
            memcpy(buf, payload + off, have);
        memset(buf + have, (int)(total - len), n - have);
        rc = iotsec_aes_cbc_update(&c, buf, buf, n);
        if (rc == IOTSEC_OK && mac != NULL)
            rc = iotsec_hmac_update(mac, buf, n);
        iotsec__wr_base64(w, buf, n);
    }
    iotsec_aes_cbc_cleanup(&c);
    iotsec_zeroize(buf, sizeof buf);
    return rc;
}

/* ---- JSON frames ---------------------------------------------------------------------------- */

enum { F_V, F_ID, F_KID, F_CTR, F_DIR, F_ENC, F_IV, F_PAYLOAD, F_MAC, F_COUNT };
static const char *const frame_names[F_COUNT] = {"v",   "device_id", "kid", "ctr", "dir",
                                                 "enc", "iv",        "payload", "mac"};

/* A parsed JSON frame: header, tag, and where the payload text is (decoded later into the
 * caller's buffer). */
typedef struct json_frame {
    iotsec_frame_header h;
    uint8_t tag[IOTSEC_FRAME_TAG_LEN];
    iotsec__json_member payload;
} json_frame;

static int jfail(iotsec_frame_header *h, int rc, const char *field, size_t off)
{
    h->err_field = field;
    h->err_offset = off;
    return rc;
}

/* A required member; IOTSEC_E_MISSING_FIELD when absent. */
#define NEED(k)                                                                              \
    do {                                                                                     \
        if (idx[k] < 0)                                                                      \
            return jfail(h, IOTSEC_E_MISSING_FIELD, frame_names[k], 0);                      \
    } while (0)
/* Run a member check; on failure record the member and where its value starts. */
#define CHECK(k, expr)                                                                       \
    do {                                                                                     \
        int rc_ = (expr);                                                                    \
        if (rc_ != IOTSEC_OK)                                                                \
            return jfail(h, rc_, frame_names[k], m[idx[k]].val_off);                         \
    } while (0)

/* Strict parse of everything but the payload's base64 (decoded by the caller). */
static int parse_json(const char *js, size_t len, json_frame *jf)
{
    iotsec__json_member m[IOTSEC__JSON_MAX_MEMBERS];
    iotsec_frame_header *h = &jf->h;
    int idx[F_COUNT];
    size_t count = 0, off = 0;
    uint64_t v = 0;
    int rc;

    memset(jf, 0, sizeof *jf);
    rc = iotsec__json_object(js, len, IOTSEC_FRAME_JSON_MAX_LEN, m, &count, &off);
    if (rc != IOTSEC_OK)
        return jfail(h, rc, "json", off);
    rc = iotsec__json_bind(m, count, frame_names, F_COUNT, idx, &off);
    if (rc != IOTSEC_OK)
        return jfail(h, rc, rc == IOTSEC_E_MALFORMED ? "duplicate member" : "unknown member",
                     m[off].name_off);
    NEED(F_V);
    NEED(F_ID);
    NEED(F_KID);
    NEED(F_CTR);
    NEED(F_PAYLOAD);
    NEED(F_MAC);
    CHECK(F_V, iotsec__json_uint(&m[idx[F_V]], UINT64_MAX, &v));
    CHECK(F_V, v == IOTSEC_FRAME_VERSION ? IOTSEC_OK : IOTSEC_E_BAD_VERSION);
    h->version = IOTSEC_FRAME_VERSION;
    CHECK(F_ID, iotsec__json_device_id(&m[idx[F_ID]], h->device_id, &h->device_id_len));
    CHECK(F_KID, iotsec__json_uint(&m[idx[F_KID]], 255u, &v));
    h->kid = (uint8_t)v;
    CHECK(F_CTR, iotsec__json_uint(&m[idx[F_CTR]], IOTSEC_FRAME_JSON_CTR_MAX, &h->ctr));
    CHECK(F_CTR, h->ctr != 0 ? IOTSEC_OK : IOTSEC_E_BAD_VALUE);
    if (idx[F_DIR] >= 0) {
        CHECK(F_DIR, iotsec__json_lit(&m[idx[F_DIR]], "down"));
        h->direction = IOTSEC_FRAME_DOWNLINK;
    }
    if ((idx[F_ENC] >= 0) != (idx[F_IV] >= 0))
        return jfail(h, IOTSEC_E_MISSING_FIELD, idx[F_ENC] >= 0 ? "iv" : "enc", 0);
    if (idx[F_ENC] >= 0) {
        CHECK(F_ENC, iotsec__json_lit(&m[idx[F_ENC]], "aes-128-cbc"));
        CHECK(F_IV, iotsec__json_b64_exact(&m[idx[F_IV]], h->iv, IOTSEC_FRAME_IV_LEN));
        h->encrypted = 1;
    }
    CHECK(F_MAC, iotsec__json_b64_exact(&m[idx[F_MAC]], jf->tag, IOTSEC_FRAME_TAG_LEN));
    h->flags = (uint8_t)((h->encrypted ? IOTSEC_FRAME_FLAG_ENCRYPTED : 0u) |
                         (h->direction == IOTSEC_FRAME_DOWNLINK ? IOTSEC_FRAME_FLAG_DOWNLINK : 0u));
    jf->payload = m[idx[F_PAYLOAD]];
    return IOTSEC_OK;
}

/* Decode (out != NULL) or validate the payload text; sets h.payload_len. */
static int json_payload(json_frame *jf, uint8_t *out, size_t cap)
{
    iotsec_frame_header *h = &jf->h;
    int rc = iotsec__json_payload(&jf->payload, h->encrypted, out, cap, &h->payload_len);

    if (rc != IOTSEC_OK && rc != IOTSEC_E_BUFFER_TOO_SMALL)
        return jfail(h, rc, "payload", jf->payload.val_off);
    return rc;
}

int iotsec_frame_peek_json(const char *json, size_t json_len, iotsec_frame_header *hdr)
{
    json_frame jf;
    int rc;

    if (json == NULL || hdr == NULL)
        return IOTSEC_E_INVALID_ARG;
    rc = parse_json(json, json_len, &jf);
    if (rc == IOTSEC_OK)
        rc = json_payload(&jf, NULL, 0);
    *hdr = jf.h;
    return rc;
}

int iotsec_frame_from_json(const char *json, size_t json_len, uint8_t *frame, size_t frame_cap,
                           size_t *frame_len, iotsec_frame_header *hdr)
{
    json_frame jf;
    size_t hb, total = 0;
    int rc;

    if (frame_len != NULL)
        *frame_len = 0;
    if (json == NULL || frame == NULL || frame_len == NULL)
        return IOTSEC_E_INVALID_ARG;
    rc = parse_json(json, json_len, &jf);
    if (rc == IOTSEC_OK) {
        /* the header length does not depend on payload_len's value */
        hb = iotsec__frame_header_bytes(&jf.h, frame, frame_cap);
        if (hb == 0)
            rc = IOTSEC_E_BUFFER_TOO_SMALL;
        else
            rc = json_payload(&jf, frame + hb, frame_cap - hb);
        if (rc == IOTSEC_OK) {
            total = hb + jf.h.payload_len + IOTSEC_FRAME_TAG_LEN;
            if (frame_cap < total)
                rc = IOTSEC_E_BUFFER_TOO_SMALL;
        }
        if (rc == IOTSEC_OK) {
            /* rewrite the header now that payload_len is known, then append the tag */
            (void)iotsec__frame_header_bytes(&jf.h, frame, frame_cap);
            memcpy(frame + hb + jf.h.payload_len, jf.tag, IOTSEC_FRAME_TAG_LEN);
            *frame_len = total;
        }
    }
    if (hdr != NULL)
        *hdr = jf.h;
    return rc;
}

static int open_json(iotsec_frame_keys *keys, const iotsec__fresh *fresh, const char *json, size_t json_len, iotsec_frame_header *hdr, uint8_t *out,
                     size_t out_cap, size_t *out_len)
{
    json_frame jf;
    uint8_t hb[12u + IOTSEC_FRAME_ID_MAX + 4u + IOTSEC_FRAME_IV_LEN];
    uint8_t none[1];
    size_t hb_len;
    int rc;

    rc = iotsec__frame_open_args(keys, fresh, json, out, out_cap, out_len);
    if (rc != IOTSEC_OK)
        return rc;
    rc = parse_json(json, json_len, &jf);
    /* the payload field is decoded into out, authenticated there and decrypted in place */
    if (out == NULL) /* capacity 0: only an empty payload fits */
        out = none;
    if (rc == IOTSEC_OK)
        rc = json_payload(&jf, out, out_cap);
    if (rc == IOTSEC_OK) {
        hb_len = iotsec__frame_header_bytes(&jf.h, hb, sizeof hb);
        rc = iotsec__frame_open_common(keys, fresh, &jf.h, hb, hb_len, out,
                                       jf.tag, out, out_cap, out_len);
    }
    /* the field may have been decoded into out before a length rule or the tag refused it */
    if (rc != IOTSEC_OK && out_cap > 0)
        iotsec_zeroize(out, jf.h.payload_len < out_cap ? jf.h.payload_len : out_cap);
    if (hdr != NULL)
        *hdr = jf.h;
    return rc;
}

int iotsec_frame_open_json(iotsec_frame_keys *keys, const char *json, size_t json_len,
                           iotsec_frame_header *hdr, uint8_t *out, size_t out_cap,
                           size_t *out_len)
{
    return open_json(keys, NULL, json, json_len, hdr, out, out_cap, out_len);
}

int iotsec_frame_open_json_checked(iotsec_frame_keys *keys, iotsec_replay_window *window,
                                   const char *json, size_t json_len, iotsec_frame_header *hdr,
                                   uint8_t *out, size_t out_cap, size_t *out_len)
{
    iotsec__fresh fresh = {window, NULL};

    return open_json(keys, &fresh, json, json_len, hdr, out, out_cap, out_len);
}

int iotsec_frame_open_json_stored(iotsec_frame_keys *keys, iotsec_replay_store *store,
                                  const char *json, size_t json_len, iotsec_frame_header *hdr,
                                  uint8_t *out, size_t out_cap, size_t *out_len)
{
    iotsec__fresh fresh = {NULL, store};

    return open_json(keys, &fresh, json, json_len, hdr, out, out_cap, out_len);
}

/* {"v":1,"device_id":"…","kid":K,"ctr":N[,"dir":"down"][,"enc":"aes-128-cbc","iv":"…"],
 * "payload":"   — everything before the payload text. */
static void write_prefix(iotsec_writer *w, const iotsec_frame_header *h)
{
    iotsec_writer_str(w, "{\"v\":1,\"device_id\":\"");
    iotsec_writer_bytes(w, h->device_id, h->device_id_len);
    iotsec_writer_str(w, "\",\"kid\":");
    iotsec__wr_u64(w, h->kid);
    iotsec_writer_str(w, ",\"ctr\":");
    iotsec__wr_u64(w, h->ctr);
    if (h->direction == IOTSEC_FRAME_DOWNLINK)
        iotsec_writer_str(w, ",\"dir\":\"down\"");
    if (h->encrypted) {
        iotsec_writer_str(w, ",\"enc\":\"aes-128-cbc\",\"iv\":\"");
        iotsec__wr_base64(w, h->iv, IOTSEC_FRAME_IV_LEN);
        iotsec_writer_str(w, "\"");
    }
    iotsec_writer_str(w, ",\"payload\":\"");
}

/* ","mac":"…"} and the NUL. */
static int write_suffix(iotsec_writer *w, const uint8_t tag[IOTSEC_FRAME_TAG_LEN], size_t *out_len)
{
    iotsec_writer_str(w, "\",\"mac\":\"");
    iotsec__wr_base64(w, tag, IOTSEC_FRAME_TAG_LEN);
    iotsec_writer_str(w, "\"}");
    return iotsec__wr_finish_text(w, out_len);
}

int iotsec_frame_to_json(const uint8_t *frame, size_t frame_len, char *out, size_t out_cap,
                         size_t *out_len)
{
    iotsec_frame_header h;
    iotsec_writer w;
    size_t hb_len;
    int rc;

    if (out_len != NULL)
        *out_len = 0;
    if (frame == NULL || out == NULL || out_len == NULL)
        return IOTSEC_E_INVALID_ARG;
    rc = iotsec_frame_peek(frame, frame_len, &h);
    if (rc != IOTSEC_OK)
        return rc;
    if (h.ctr > IOTSEC_FRAME_JSON_CTR_MAX)
        return IOTSEC_E_BAD_VALUE;
    hb_len = frame_len - h.payload_len - IOTSEC_FRAME_TAG_LEN;
    iotsec_writer_init(&w, out, out_cap);
    write_prefix(&w, &h);
    iotsec__wr_base64(&w, frame + hb_len, h.payload_len);
    return write_suffix(&w, frame + hb_len + h.payload_len, out_len);
}

int iotsec_frame_seal_json(iotsec_frame_keys *keys, uint64_t ctr, int encrypt,
                           const uint8_t *iv, const uint8_t *payload, size_t payload_len,
                           char *out, size_t out_cap, size_t *out_len)
{
    iotsec_frame_header h;
    iotsec_writer w;
    uint8_t hb[12u + IOTSEC_FRAME_ID_MAX + 4u + IOTSEC_FRAME_IV_LEN];
    uint8_t tag[IOTSEC_FRAME_TAG_LEN];
    size_t hb_len;
    int rc;

    rc = iotsec__frame_seal_args(keys, ctr, encrypt, iv, payload, payload_len, out, out_len);
    if (rc != IOTSEC_OK)
        return rc;
    *out_len = 0;
    if (ctr > IOTSEC_FRAME_JSON_CTR_MAX)
        return IOTSEC_E_INVALID_ARG;
    rc = iotsec__frame_seal_header(keys, ctr, encrypt, iv, payload_len, &h);
    if (rc != IOTSEC_OK)
        return rc;
    /* the tag covers the binary layout: header bytes, then each payload field byte as it
     * is streamed out as base64 */
    hb_len = iotsec__frame_header_bytes(&h, hb, sizeof hb);
    rc = iotsec_hmac_init(&keys->mac);
    if (rc == IOTSEC_OK)
        rc = iotsec_hmac_update(&keys->mac, hb, hb_len);
    iotsec_writer_init(&w, out, out_cap);
    write_prefix(&w, &h);
    if (rc == IOTSEC_OK)
        rc = iotsec__wr_payload_b64(&w, keys->crypto, encrypt, keys->enc_key, h.iv, payload,
                                    payload_len, &keys->mac);
    if (rc == IOTSEC_OK)
        rc = iotsec_hmac_final(&keys->mac, tag);
    if (rc == IOTSEC_OK)
        rc = write_suffix(&w, tag, out_len);
    if (rc != IOTSEC_OK) {
        *out_len = 0;
        iotsec_zeroize(out, out_cap);
    }
    return rc;
}

#else
/* ISO C wants at least one declaration in a translation unit */
typedef int iotsec__frame_json_compiled_out;
#endif
