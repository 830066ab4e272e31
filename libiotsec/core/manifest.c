/*
 * libiotsec — firmware manifest v1 (include/iotsec/manifest.h, bindings-spec/SPEC.md §7).
 *
 * The verifier reads the fixed header and the sig_len field through the bounded reader,
 * authenticates header+body, and only then walks the TLV body, again through the reader.
 * The builder writes the canonical body with iotsec_writer, and checks its input with the
 * same value rules the parser applies (value_check below is shared), so whatever the
 * builder signs the verifier accepts.
 */
#include "iotsec/manifest.h"

#include <string.h>

#include "iotsec/error.h"
#include "iotsec/reader.h"
#include "iotsec/util.h"

static const uint8_t manifest_magic[4] = {'I', 'O', 'T', 'M'};

/* ---- shared value rules ------------------------------------------------------------------- */

/* Strict UTF-8 (RFC 3629 §4): no overlong forms, no surrogates, nothing above U+10FFFF. */
static int utf8_valid(const uint8_t *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        uint8_t c = s[i];
        size_t n, k;
        uint8_t lo = 0x80, hi = 0xBF; /* allowed range of the second byte */

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            if (c == 0xE0)
                lo = 0xA0; /* overlong */
            else if (c == 0xED)
                hi = 0x9F; /* surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            if (c == 0xF0)
                lo = 0x90; /* overlong */
            else if (c == 0xF4)
                hi = 0x8F; /* above U+10FFFF */
        } else {
            return 0;
        }
        if (len - i - 1u < n)
            return 0;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return 0;
        for (k = 2; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
        }
        i += n + 1u;
    }
    return 1;
}

int iotsec_manifest_utf8_check(const uint8_t *s, size_t len)
{
    if (s == NULL && len != 0)
        return IOTSEC_E_INVALID_ARG;
    return utf8_valid(s, len) ? IOTSEC_OK : IOTSEC_E_BAD_VALUE;
}

/* payload size of an AES-CBC/PKCS#7 encryption of image_size bytes: 1–16 bytes of padding */
static uint64_t padded_size(uint64_t image_size)
{
    return (image_size / 16u + 1u) * 16u;
}

/* The fields' value rules (bindings-spec/SPEC.md §7.2), shared by the builder and the parser. */
static int fields_check(const iotsec_manifest_fields *f)
{
    if (f->present & ~(uint32_t)IOTSEC_MF_ALL)
        return IOTSEC_E_MISSING_FIELD;
    if (f->version == NULL || f->device_class == NULL || f->image_digest == NULL)
        return IOTSEC_E_MISSING_FIELD;
    if ((f->present & IOTSEC_MF_ENCRYPTION) &&
        (f->enc_key_id == NULL || f->enc_iv == NULL || f->payload_digest == NULL))
        return IOTSEC_E_MISSING_FIELD;
    if ((f->present & IOTSEC_MF_DEVICE_ID) && f->device_id == NULL)
        return IOTSEC_E_MISSING_FIELD;
    if ((f->present & IOTSEC_MF_URI) && f->uri == NULL)
        return IOTSEC_E_MISSING_FIELD;
    if ((f->present & IOTSEC_MF_DESCRIPTION) && f->description == NULL && f->description_len)
        return IOTSEC_E_MISSING_FIELD;

    if (f->security_counter == UINT64_MAX)
        return IOTSEC_E_COUNTER_EXHAUSTED;
    if (f->version_len < 1u || f->version_len > IOTSEC_MANIFEST_VERSION_MAX)
        return IOTSEC_E_BAD_LENGTH;
    if (!utf8_valid(f->version, f->version_len))
        return IOTSEC_E_BAD_VALUE;
    if (f->device_class_len < 1u || f->device_class_len > IOTSEC_MANIFEST_CLASS_MAX)
        return IOTSEC_E_BAD_LENGTH;
    if (f->image_size < 1u || f->image_size > IOTSEC_MANIFEST_IMAGE_MAX)
        return IOTSEC_E_BAD_VALUE;
    if ((f->present & IOTSEC_MF_DEVICE_ID) &&
        (f->device_id_len < 1u || f->device_id_len > IOTSEC_MANIFEST_DEVICE_ID_MAX))
        return IOTSEC_E_BAD_LENGTH;
    if (f->present & IOTSEC_MF_ENCRYPTION) {
        if (f->enc_alg != IOTSEC_ENC_AES256_CBC)
            return IOTSEC_E_UNSUPPORTED;
        if (f->payload_size != padded_size(f->image_size))
            return IOTSEC_E_BAD_VALUE;
    }
    if ((f->present & IOTSEC_MF_CHUNK_SIZE) &&
        (f->chunk_size < IOTSEC_MANIFEST_CHUNK_MIN || f->chunk_size > IOTSEC_MANIFEST_CHUNK_MAX))
        return IOTSEC_E_BAD_VALUE;
    if ((f->present & IOTSEC_MF_URI) && (f->uri_len < 1u || f->uri_len > IOTSEC_MANIFEST_URI_MAX))
        return IOTSEC_E_BAD_LENGTH;
    return IOTSEC_OK;
}


/* ---- builder ------------------------------------------------------------------------------ */

static void put_tlv(iotsec_writer *w, uint8_t type, const void *value, size_t len)
{
    iotsec_writer_u8(w, type);
    iotsec_writer_u16(w, (uint16_t)len);
    iotsec_writer_bytes(w, value, len);
}

static void put_tlv_u64(iotsec_writer *w, uint8_t type, uint64_t v)
{
    iotsec_writer_u8(w, type);
    iotsec_writer_u16(w, 8);
    iotsec_writer_u64(w, v);
}

int iotsec_manifest_encode_body(const iotsec_manifest_fields *f, uint8_t *out, size_t cap,
                                size_t *out_len)
{
    iotsec_writer w;
    size_t need;
    int rc;

    if (f == NULL || out_len == NULL)
        return IOTSEC_E_INVALID_ARG;
    rc = fields_check(f);
    if (rc != IOTSEC_OK)
        return rc;
    /* a description longer than a body can hold cannot be a TLV length either */
    if ((f->present & IOTSEC_MF_DESCRIPTION) && f->description_len > IOTSEC_MANIFEST_BODY_MAX)
        return IOTSEC_E_BAD_LENGTH;

    /* types strictly ascending: the one canonical encoding */
    iotsec_writer_init(&w, out, cap);
    put_tlv_u64(&w, IOTSEC_MTLV_SECURITY_COUNTER, f->security_counter);
    put_tlv(&w, IOTSEC_MTLV_VERSION, f->version, f->version_len);
    put_tlv(&w, IOTSEC_MTLV_DEVICE_CLASS, f->device_class, f->device_class_len);
    put_tlv_u64(&w, IOTSEC_MTLV_IMAGE_SIZE, f->image_size);
    put_tlv(&w, IOTSEC_MTLV_IMAGE_DIGEST, f->image_digest, IOTSEC_SHA256_LEN);
    if (f->present & IOTSEC_MF_DEVICE_ID)
        put_tlv(&w, IOTSEC_MTLV_DEVICE_ID, f->device_id, f->device_id_len);
    if (f->present & IOTSEC_MF_NOT_AFTER)
        put_tlv_u64(&w, IOTSEC_MTLV_NOT_AFTER, f->not_after);
    if (f->present & IOTSEC_MF_ENCRYPTION) {
        iotsec_writer_u8(&w, IOTSEC_MTLV_ENCRYPTION);
        iotsec_writer_u16(&w, IOTSEC_MANIFEST_ENC_LEN);
        iotsec_writer_u8(&w, f->enc_alg);
        iotsec_writer_bytes(&w, f->enc_key_id, IOTSEC_KEY_ID_LEN);
        iotsec_writer_bytes(&w, f->enc_iv, IOTSEC_AES_BLOCK_LEN);
        put_tlv_u64(&w, IOTSEC_MTLV_PAYLOAD_SIZE, f->payload_size);
        put_tlv(&w, IOTSEC_MTLV_PAYLOAD_DIGEST, f->payload_digest, IOTSEC_SHA256_LEN);
    }
    if (f->present & IOTSEC_MF_CHUNK_SIZE) {
        iotsec_writer_u8(&w, IOTSEC_MTLV_CHUNK_SIZE);
        iotsec_writer_u16(&w, 4);
        iotsec_writer_u32(&w, f->chunk_size);
    }
    if (f->present & IOTSEC_MF_URI)
        put_tlv(&w, IOTSEC_MTLV_URI, f->uri, f->uri_len);
    if (f->present & IOTSEC_MF_DESCRIPTION)
        put_tlv(&w, IOTSEC_MTLV_DESCRIPTION, f->description, f->description_len);

    need = w.pos;
    if (need > IOTSEC_MANIFEST_BODY_MAX)
        return IOTSEC_E_BAD_LENGTH;
    rc = iotsec_writer_error(&w);
    if (rc != IOTSEC_OK)
        return rc;
    *out_len = need;
    return IOTSEC_OK;
}

int iotsec_manifest_fields_check(const iotsec_manifest_fields *fields)
{
    size_t body_len = 0;

    /* the counting writer applies every rule, the body length included */
    return iotsec_manifest_encode_body(fields, NULL, 0, &body_len);
}

/* Write header, body (already at out + 16), sig_len and signature. */
static int sign_in_place(const iotsec_privkey *sk, uint8_t *out, size_t cap, size_t body_len,
                         size_t *out_len)
{
    uint8_t key_id[IOTSEC_KEY_ID_LEN];
    size_t signed_len = IOTSEC_MANIFEST_HEADER_LEN + body_len, sig_len = 0;
    iotsec_writer w;
    uint8_t *sig_len_field;
    int rc;

    if (sk->sig_len == 0 || sk->sig_len > IOTSEC_MANIFEST_SIG_MAX)
        return IOTSEC_E_BAD_KEY;
    if (cap - signed_len < 2u + sk->sig_len)
        return IOTSEC_E_BUFFER_TOO_SMALL;
    rc = iotsec_privkey_key_id(sk, key_id);
    if (rc != IOTSEC_OK)
        return rc;

    iotsec_writer_init(&w, out, IOTSEC_MANIFEST_HEADER_LEN);
    iotsec_writer_bytes(&w, manifest_magic, sizeof manifest_magic);
    iotsec_writer_u8(&w, IOTSEC_MANIFEST_FORMAT);
    iotsec_writer_u8(&w, (uint8_t)sk->alg);
    iotsec_writer_u16(&w, (uint16_t)body_len);
    iotsec_writer_bytes(&w, key_id, sizeof key_id);
    rc = iotsec_writer_error(&w);
    if (rc != IOTSEC_OK)
        return rc;

    sig_len_field = out + signed_len;
    rc = iotsec_sign(sk, out, signed_len, sig_len_field + 2, cap - signed_len - 2u, &sig_len);
    if (rc != IOTSEC_OK)
        return rc;
    if (sig_len == 0 || sig_len > IOTSEC_MANIFEST_SIG_MAX)
        return IOTSEC_E_BACKEND;
    iotsec_writer_init(&w, sig_len_field, 2);
    iotsec_writer_u16(&w, (uint16_t)sig_len);
    *out_len = signed_len + 2u + sig_len;
    return IOTSEC_OK;
}

int iotsec_manifest_sign(const iotsec_manifest_fields *fields, const iotsec_privkey *sk,
                         uint8_t *out, size_t cap, size_t *out_len)
{
    size_t body_len = 0;
    int rc;

    if (fields == NULL || sk == NULL || out == NULL || out_len == NULL)
        return IOTSEC_E_INVALID_ARG;
    if (cap < IOTSEC_MANIFEST_HEADER_LEN)
        return IOTSEC_E_BUFFER_TOO_SMALL;
    rc = iotsec_manifest_encode_body(fields, out + IOTSEC_MANIFEST_HEADER_LEN,
                                     cap - IOTSEC_MANIFEST_HEADER_LEN, &body_len);
    if (rc == IOTSEC_OK)
        rc = sign_in_place(sk, out, cap, body_len, out_len);
    if (rc != IOTSEC_OK)
        iotsec_zeroize(out, cap);
    return rc;
}

int iotsec_manifest_sign_body(const uint8_t *body, size_t body_len, const iotsec_privkey *sk,
                              uint8_t *out, size_t cap, size_t *out_len)
{
    int rc;

    if ((body == NULL && body_len != 0) || sk == NULL || out == NULL || out_len == NULL)
        return IOTSEC_E_INVALID_ARG;
    if (body_len > IOTSEC_MANIFEST_BODY_MAX)
        return IOTSEC_E_BAD_LENGTH;
    if (cap < IOTSEC_MANIFEST_HEADER_LEN || cap - IOTSEC_MANIFEST_HEADER_LEN < body_len)
        return IOTSEC_E_BUFFER_TOO_SMALL;
    if (body_len != 0)
        memmove(out + IOTSEC_MANIFEST_HEADER_LEN, body, body_len);
    rc = sign_in_place(sk, out, cap, body_len, out_len);
    if (rc != IOTSEC_OK)
        iotsec_zeroize(out, cap);
    return rc;
}

/* ---- trust store ----------------------------------------------------------------------------- */

int iotsec_trust_store_init(iotsec_trust_store *store, const iotsec_pubkey *keys, size_t count)
{
    size_t i, j;

    if (store == NULL)
        return IOTSEC_E_INVALID_ARG;
    store->keys = NULL;
    store->count = 0;
    if (keys == NULL || count == 0)
        return IOTSEC_E_INVALID_ARG;
    for (i = 0; i < count; i++) {
        if (keys[i].crypto == NULL)
            return IOTSEC_E_INVALID_ARG;
        for (j = 0; j < i; j++) {
            if (memcmp(keys[i].key_id, keys[j].key_id, IOTSEC_KEY_ID_LEN) == 0)
                return IOTSEC_E_BAD_KEY;
        }
    }
    store->keys = keys;
    store->count = count;
    return IOTSEC_OK;
}

static const iotsec_pubkey *trust_store_find(const iotsec_trust_store *store,
                                             const uint8_t key_id[IOTSEC_KEY_ID_LEN])
{
    size_t i;

    for (i = 0; i < store->count; i++) {
        if (memcmp(store->keys[i].key_id, key_id, IOTSEC_KEY_ID_LEN) == 0)
            return &store->keys[i];
    }
    return NULL;
}

/* ---- verifier ---------------------------------------------------------------------------------- */

/* Pre-authentication: read the 16-byte header and the sig_len field only; locate the body and
 * the signature; check every length against its maximum and against the buffer. */
static int parse_header(const uint8_t *buf, size_t len, iotsec_manifest *m)
{
    iotsec_reader r;
    const uint8_t *magic;
    uint8_t format, sig_alg;
    uint16_t body_len, sig_len;
    size_t rest;

    iotsec_reader_init(&r, buf, len);
    magic = iotsec_reader_bytes(&r, sizeof manifest_magic);
    format = iotsec_reader_u8(&r);
    sig_alg = iotsec_reader_u8(&r);
    body_len = iotsec_reader_u16(&r);
    m->key_id = iotsec_reader_bytes(&r, IOTSEC_KEY_ID_LEN);
    if (iotsec_reader_error(&r) != IOTSEC_OK)
        return IOTSEC_E_TRUNCATED;
    if (memcmp(magic, manifest_magic, sizeof manifest_magic) != 0 ||
        format != IOTSEC_MANIFEST_FORMAT)
        return IOTSEC_E_BAD_VERSION;
    if (sig_alg >= 0x10u && sig_alg <= 0x1Fu)
        return IOTSEC_E_UNSUPPORTED; /* reserved for ML-DSA, LMS */
    if (sig_alg != IOTSEC_SIG_ED25519 && sig_alg != IOTSEC_SIG_ECDSA_P256 &&
        sig_alg != IOTSEC_SIG_RSA_PSS)
        return IOTSEC_E_BAD_VALUE;
    if (body_len > IOTSEC_MANIFEST_BODY_MAX)
        return IOTSEC_E_BAD_LENGTH;
    m->body = iotsec_reader_bytes(&r, body_len); /* located, not read */
    if (m->body == NULL)
        return IOTSEC_E_TRUNCATED;
    if (iotsec_reader_remaining(&r) == 0)
        return IOTSEC_E_BAD_SIGNATURE; /* no signature at all: never a skip */
    sig_len = iotsec_reader_u16(&r);
    if (iotsec_reader_error(&r) != IOTSEC_OK)
        return IOTSEC_E_TRUNCATED;
    if (sig_len > IOTSEC_MANIFEST_SIG_MAX)
        return IOTSEC_E_BAD_LENGTH;
    if (sig_len == 0)
        return IOTSEC_E_BAD_SIGNATURE;
    rest = iotsec_reader_remaining(&r);
    if (rest < sig_len)
        return IOTSEC_E_TRUNCATED;
    if (rest > sig_len)
        return IOTSEC_E_TRAILING_DATA;
    m->signature = iotsec_reader_bytes(&r, sig_len);
    if (iotsec_reader_finish(&r) != IOTSEC_OK)
        return IOTSEC_E_TRAILING_DATA;

    m->format = format;
    m->sig_alg = (iotsec_sig_alg)sig_alg;
    m->signed_data = buf;
    m->signed_len = IOTSEC_MANIFEST_HEADER_LEN + (size_t)body_len;
    m->body_len = body_len;
    m->sig_len = sig_len;
    return IOTSEC_OK;
}

/* Read one fixed-length big-endian value of a TLV. */
static uint64_t be_value(const uint8_t *v, size_t n)
{
    uint64_t x = 0;
    size_t i;

    for (i = 0; i < n; i++)
        x = (x << 8) | v[i];
    return x;
}

/* Length rule of a known type: exact length, or a range; 0 for an unknown critical type. */
static int tlv_length_ok(uint8_t type, size_t len)
{
    switch (type) {
    case IOTSEC_MTLV_SECURITY_COUNTER:
    case IOTSEC_MTLV_IMAGE_SIZE:
    case IOTSEC_MTLV_NOT_AFTER:
    case IOTSEC_MTLV_PAYLOAD_SIZE:
        return len == 8u;
    case IOTSEC_MTLV_VERSION:
        return len >= 1u && len <= IOTSEC_MANIFEST_VERSION_MAX;
    case IOTSEC_MTLV_DEVICE_CLASS:
        return len >= 1u && len <= IOTSEC_MANIFEST_CLASS_MAX;
    case IOTSEC_MTLV_DEVICE_ID:
        return len >= 1u && len <= IOTSEC_MANIFEST_DEVICE_ID_MAX;
    case IOTSEC_MTLV_IMAGE_DIGEST:
    case IOTSEC_MTLV_PAYLOAD_DIGEST:
        return len == IOTSEC_SHA256_LEN;
    case IOTSEC_MTLV_ENCRYPTION:
        return len == IOTSEC_MANIFEST_ENC_LEN;
    case IOTSEC_MTLV_CHUNK_SIZE:
        return len == 4u;
    case IOTSEC_MTLV_URI:
        return len >= 1u && len <= IOTSEC_MANIFEST_URI_MAX;
    default:
        return 1; /* description and unknown non-critical types: any length */
    }
}

/* Post-authentication: walk the TLV body (bounded reader), fill m->f, apply the rules. */
static int parse_body(iotsec_manifest *m)
{
    iotsec_manifest_fields *f = &m->f;
    iotsec_reader r;
    unsigned seen = 0; /* bit t set: required type t (1–5) or 9, 10 present */
    int prev = -1;
    int rc;

    memset(f, 0, sizeof *f);
    iotsec_reader_init(&r, m->body, m->body_len);
    while (iotsec_reader_remaining(&r) > 0) {
        uint8_t type = iotsec_reader_u8(&r);
        uint16_t len = iotsec_reader_u16(&r);
        const uint8_t *v = iotsec_reader_bytes(&r, len);

        if (v == NULL)
            return IOTSEC_E_TRUNCATED;
        if ((int)type <= prev)
            return IOTSEC_E_NON_CANONICAL; /* out of order or duplicated */
        prev = type;
        if (type < 0x80u && (type == 0 || type > IOTSEC_MTLV_URI))
            return IOTSEC_E_UNKNOWN_CRITICAL;
        if (!tlv_length_ok(type, len))
            return IOTSEC_E_BAD_LENGTH;
        if (type < 16u)
            seen |= 1u << type;
        switch (type) {
        case IOTSEC_MTLV_SECURITY_COUNTER:
            f->security_counter = be_value(v, 8);
            break;
        case IOTSEC_MTLV_VERSION:
            f->version = v;
            f->version_len = len;
            break;
        case IOTSEC_MTLV_DEVICE_CLASS:
            f->device_class = v;
            f->device_class_len = len;
            break;
        case IOTSEC_MTLV_IMAGE_SIZE:
            f->image_size = be_value(v, 8);
            break;
        case IOTSEC_MTLV_IMAGE_DIGEST:
            f->image_digest = v;
            break;
        case IOTSEC_MTLV_DEVICE_ID:
            f->present |= IOTSEC_MF_DEVICE_ID;
            f->device_id = v;
            f->device_id_len = len;
            break;
        case IOTSEC_MTLV_NOT_AFTER:
            f->present |= IOTSEC_MF_NOT_AFTER;
            f->not_after = be_value(v, 8);
            break;
        case IOTSEC_MTLV_ENCRYPTION:
            f->present |= IOTSEC_MF_ENCRYPTION;
            f->enc_alg = v[0];
            f->enc_key_id = v + 1;
            f->enc_iv = v + 1 + IOTSEC_KEY_ID_LEN;
            break;
        case IOTSEC_MTLV_PAYLOAD_SIZE:
            f->payload_size = be_value(v, 8);
            break;
        case IOTSEC_MTLV_PAYLOAD_DIGEST:
            f->payload_digest = v;
            break;
        case IOTSEC_MTLV_CHUNK_SIZE:
            f->present |= IOTSEC_MF_CHUNK_SIZE;
            f->chunk_size = (uint32_t)be_value(v, 4);
            break;
        case IOTSEC_MTLV_URI:
            f->present |= IOTSEC_MF_URI;
            f->uri = v;
            f->uri_len = len;
            break;
        case IOTSEC_MTLV_DESCRIPTION:
            f->present |= IOTSEC_MF_DESCRIPTION;
            f->description = v;
            f->description_len = len;
            break;
        default:
            break; /* unknown non-critical (≥ 0x80): skipped */
        }
    }
    if (iotsec_reader_finish(&r) != IOTSEC_OK)
        return IOTSEC_E_TRUNCATED;

    /* required fields, then the 0x08 ⇔ 0x09, 0x0A rule */
    if ((seen & 0x3Eu) != 0x3Eu)
        return IOTSEC_E_MISSING_FIELD;
    if (f->present & IOTSEC_MF_ENCRYPTION) {
        if ((seen & 0x600u) != 0x600u)
            return IOTSEC_E_MISSING_FIELD;
    } else if (seen & 0x600u) {
        return IOTSEC_E_BAD_VALUE; /* payload fields describe an encryption that is absent */
    }
    rc = fields_check(f);
    return rc;
}

/* Header, then (with a store) the signature, then the body. store == NULL parses without
 * authentication, for iotsec_manifest_parse_unverified only. */
static int manifest_read(const iotsec_trust_store *store, const uint8_t *buf, size_t len,
                         iotsec_manifest *m)
{
    const iotsec_pubkey *pk;
    int rc;

    memset(m, 0, sizeof *m);
    rc = parse_header(buf, len, m);
    if (rc == IOTSEC_OK && store != NULL) {
        pk = trust_store_find(store, m->key_id);
        if (pk == NULL)
            rc = IOTSEC_E_UNKNOWN_KEY;
        else if (pk->alg != m->sig_alg)
            rc = IOTSEC_E_BAD_SIGNATURE; /* a key is trusted for its own algorithm only */
        else
            rc = iotsec_verify(pk, m->signed_data, m->signed_len, m->signature, m->sig_len);
    }
    if (rc == IOTSEC_OK)
        rc = parse_body(m);
    if (rc != IOTSEC_OK) {
        memset(m, 0, sizeof *m);
        return rc;
    }
    m->verified = store != NULL;
    return IOTSEC_OK;
}

int iotsec_manifest_verify(const iotsec_trust_store *store, const uint8_t *buf, size_t len,
                           iotsec_manifest *m)
{
    if (m != NULL)
        memset(m, 0, sizeof *m);
    if (store == NULL || store->keys == NULL || store->count == 0 || buf == NULL || m == NULL)
        return IOTSEC_E_INVALID_ARG;
    return manifest_read(store, buf, len, m);
}

int iotsec_manifest_parse_unverified(const uint8_t *buf, size_t len, iotsec_manifest *m)
{
    if (m != NULL)
        memset(m, 0, sizeof *m);
    if (buf == NULL || m == NULL)
        return IOTSEC_E_INVALID_ARG;
    return manifest_read(NULL, buf, len, m);
}

/* ---- policy ------------------------------------------------------------------------------------- */

static int bytes_equal(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    return a_len == b_len && (a_len == 0 || memcmp(a, b, a_len) == 0);
}

int iotsec_manifest_check_policy(const iotsec_manifest *m, const iotsec_device_policy *p)
{
    const iotsec_manifest_fields *f;

    if (m == NULL || p == NULL)
        return IOTSEC_E_INVALID_ARG;
    if (p->skip & ~(uint32_t)(IOTSEC_POLICY_SKIP_CLASS | IOTSEC_POLICY_SKIP_COUNTER |
                              IOTSEC_POLICY_SKIP_EXPIRY))
        return IOTSEC_E_INVALID_ARG;
    if (!(p->skip & IOTSEC_POLICY_SKIP_CLASS) &&
        (p->device_class == NULL || p->device_class_len < 1u ||
         p->device_class_len > IOTSEC_MANIFEST_CLASS_MAX))
        return IOTSEC_E_INVALID_ARG;
    if (p->device_id == NULL && p->device_id_len != 0)
        return IOTSEC_E_INVALID_ARG;
    if (m->verified != 1)
        return IOTSEC_E_STATE;
    f = &m->f;

    if (!(p->skip & IOTSEC_POLICY_SKIP_CLASS) &&
        !bytes_equal(f->device_class, f->device_class_len, p->device_class, p->device_class_len))
        return IOTSEC_E_WRONG_TARGET;
    if ((f->present & IOTSEC_MF_DEVICE_ID) &&
        (p->device_id == NULL ||
         !bytes_equal(f->device_id, f->device_id_len, p->device_id, p->device_id_len)))
        return IOTSEC_E_WRONG_DEVICE;
    if (!(p->skip & IOTSEC_POLICY_SKIP_EXPIRY) && (f->present & IOTSEC_MF_NOT_AFTER) &&
        p->now > f->not_after)
        return IOTSEC_E_EXPIRED;
    if (f->security_counter == UINT64_MAX || p->stored_counter == UINT64_MAX)
        return IOTSEC_E_COUNTER_EXHAUSTED;
    if (!(p->skip & IOTSEC_POLICY_SKIP_COUNTER) && f->security_counter < p->stored_counter)
        return IOTSEC_E_ROLLBACK;
    return IOTSEC_OK;
}

const char *iotsec_sig_alg_name(int sig_alg)
{
    switch (sig_alg) {
    case IOTSEC_SIG_ED25519:
        return "ed25519";
    case IOTSEC_SIG_ECDSA_P256:
        return "p256";
    case IOTSEC_SIG_RSA_PSS:
        return "rsa-pss";
    default:
        return NULL;
    }
}
