/*
 * Generator of the language-neutral test vectors for telemetry frames (bindings-spec/SPEC.md §2–§5):
 *
 *   bindings-spec/vectors/frame_v1.json      binary frames v1: keys, inputs, frames, and
 *                                            invalid frames with the error each must give
 *   bindings-spec/vectors/frame_json.json    the JSON encoding: canonical texts, equivalent
 *                                            spellings, invalid texts
 *   bindings-spec/vectors/ecowatt.json       the legacy EcoWatt profile
 *   bindings-spec/vectors/replay_window.json replay-window scenarios and corrupt states
 *
 * Every input is fixed (keys, IVs, counters), so the output is reproducible byte for byte.
 * While generating, every vector is checked: valid frames must open to their payload and
 * convert between encodings exactly, invalid ones must fail with the error written here by
 * hand; any disagreement aborts. This file is part of $(BUILD)/internal/libgenvectors.a
 * (declarations in gen_vectors.h; the program's main() is gen_frames_main.c):
 * tests/unit/test_frame.c links it and fails when the committed files differ from a fresh
 * run, so the vectors can never drift from the library. To regenerate after an intended
 * change:
 *
 *   make build/gen_frames && build/gen_frames bindings-spec/vectors
 *
 * The generator needs the OpenSSL backend (AES-128-CBC).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iotsec/iotsec.h"

#include "gen_vectors.h"

/* ---- output helpers --------------------------------------------------------------------- */

static void gen_die(const char *what, const char *name, int got, int want)
{
    fprintf(stderr, "gen_frames: %s '%s': got %s, want %s\n", what, name,
            iotsec_error_name(got) ? iotsec_error_name(got) : "?",
            iotsec_error_name(want) ? iotsec_error_name(want) : "?");
    abort();
}

static void gen_expect(int got, int want, const char *what, const char *name)
{
    if (got != want)
        gen_die(what, name, got, want);
}

static void put_hex(FILE *f, const uint8_t *p, size_t n)
{
    size_t i;

    fputc('"', f);
    for (i = 0; i < n; i++)
        fprintf(f, "%02x", p[i]);
    fputc('"', f);
}

/* A JSON string of ASCII text (every input here is ASCII): quote, backslash and control
 * characters escaped as \" \\ \u00XX, so the decoded string has exactly these bytes. */
static void put_str(FILE *f, const char *s, size_t n)
{
    size_t i;

    fputc('"', f);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20u || c >= 0x7fu)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void put_cstr(FILE *f, const char *s)
{
    put_str(f, s, strlen(s));
}

static const char *dir_name(int dir)
{
    return dir == IOTSEC_FRAME_DOWNLINK ? "down" : "up";
}

/* Replace the first occurrence of from in src by to, into out (cap bytes). */
static const char *subst(const char *src, const char *from, const char *to, char *out, size_t cap)
{
    const char *p = strstr(src, from);
    size_t a, b, c;

    if (p == NULL) {
        fprintf(stderr, "gen_frames: '%s' not found in %s\n", from, src);
        abort();
    }
    a = (size_t)(p - src);
    b = strlen(to);
    c = strlen(p + strlen(from));
    if (a + b + c + 1u > cap)
        abort();
    memcpy(out, src, a);
    memcpy(out + a, to, b);
    memcpy(out + a + b, p + strlen(from), c + 1u);
    return out;
}

/* ---- fixed inputs --------------------------------------------------------------------------- */

const uint8_t gen_master[32] = {
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f};
static const uint8_t gen_iv_a[16] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
                                     0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f};
static const uint8_t gen_iv_b[16] = {0xf0, 0xe1, 0xd2, 0xc3, 0xb4, 0xa5, 0x96, 0x87,
                                     0x78, 0x69, 0x5a, 0x4b, 0x3c, 0x2d, 0x1e, 0x0f};

#define GEN_ID64 "device-0123456789abcdef0123456789abcdef0123456789abcdef012345678"

static const uint8_t gen_pattern[32] = {
    0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 0x02, 0x03, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80,
    0xff, 0xfe, 0xfd, 0xfc, 0x7f, 0x80, 0x81, 0x82, 0xa5, 0x5a, 0xa5, 0x5a, 0x0f, 0xf0, 0x0f, 0xf0};

const struct gen_vec gen_vecs[] = {
    {"plain-uplink", "sensor-0042", 0, IOTSEC_FRAME_UPLINK, 1, 0, NULL,
     "{\"temp_c\":21.5,\"rh\":40}"},
    {"plain-uplink-empty", "sensor-0042", 0, IOTSEC_FRAME_UPLINK, 2, 0, NULL, ""},
    {"encrypted-uplink", "sensor-0042", 3, IOTSEC_FRAME_UPLINK, 42, 1, gen_iv_a, NULL},
    {"encrypted-downlink", "sensor-0042", 0, IOTSEC_FRAME_DOWNLINK, 7, 1, gen_iv_b,
     "reboot:now"},
    {"encrypted-empty", "sensor-0042", 255, IOTSEC_FRAME_UPLINK, 9, 1, gen_iv_a, ""},
    {"plain-downlink-charset", "A-z.0_9:x@y", 1, IOTSEC_FRAME_DOWNLINK, 9007199254740991u, 0,
     NULL, "set interval=60"},
    {"plain-id64", GEN_ID64, 2, IOTSEC_FRAME_UPLINK, 1000, 0, NULL, "x"},
    {"plain-ctr-max-binary-only", "sensor-0042", 0, IOTSEC_FRAME_UPLINK, UINT64_MAX, 0, NULL,
     "last"},
};
const size_t gen_nvecs = sizeof gen_vecs / sizeof gen_vecs[0];

const uint8_t *gen_vec_payload(const struct gen_vec *v, size_t *len)
{
    if (v->payload == NULL) {
        *len = sizeof gen_pattern;
        return gen_pattern;
    }
    *len = strlen(v->payload);
    return (const uint8_t *)v->payload;
}

static void vec_keys(const struct gen_vec *v, iotsec_frame_keys *keys)
{
    gen_expect(iotsec_frame_keys_derive(keys, iotsec_crypto_openssl(), gen_master, v->device_id,
                                        strlen(v->device_id), v->kid,
                                        (iotsec_frame_direction)v->dir),
               IOTSEC_OK, "derive", v->name);
}

/* The derived keys, recomputed with HKDF directly for the vector file. */
void gen_vec_raw_keys(const struct gen_vec *v, uint8_t mac_key[32], uint8_t enc_key[16])
{
    uint8_t info[6 + 64];
    size_t n = strlen(v->device_id);

    memcpy(info, "mac", 3);
    info[3] = 0;
    info[4] = (uint8_t)v->dir;
    info[5] = v->kid;
    memcpy(info + 6, v->device_id, n);
    gen_expect(iotsec_hkdf_sha256(iotsec_crypto_openssl(), (const uint8_t *)"iotsec-frame-v1", 15,
                                  gen_master, 32, info, 6 + n, mac_key, 32),
               IOTSEC_OK, "hkdf", v->name);
    memcpy(info, "enc", 3);
    gen_expect(iotsec_hkdf_sha256(iotsec_crypto_openssl(), (const uint8_t *)"iotsec-frame-v1", 15,
                                  gen_master, 32, info, 6 + n, enc_key, 16),
               IOTSEC_OK, "hkdf", v->name);
}

size_t gen_vec_seal(const struct gen_vec *v, uint8_t *out, size_t cap)
{
    iotsec_frame_keys keys;
    const uint8_t *p;
    size_t n, len = 0;

    vec_keys(v, &keys);
    p = gen_vec_payload(v, &n);
    gen_expect(iotsec_frame_seal(&keys, v->ctr, v->encrypt, v->iv, p, n, out, cap, &len),
               IOTSEC_OK, "seal", v->name);
    iotsec_frame_keys_cleanup(&keys);
    return len;
}

/* Open frame with the keys of v and check the outcome (and the payload when it opens). */
static void check_open(const struct gen_vec *v, const uint8_t *frame, size_t len, int want,
                       const char *name)
{
    iotsec_frame_keys keys;
    uint8_t out[256];
    size_t n = 0, pn;
    const uint8_t *p;

    vec_keys(v, &keys);
    gen_expect(iotsec_frame_open(&keys, frame, len, NULL, out, sizeof out, &n), want, "open",
               name);
    p = gen_vec_payload(v, &pn);
    if (want == IOTSEC_OK && (n != pn || (n > 0 && memcmp(out, p, n) != 0)))
        gen_die("payload of", name, 0, 0);
    iotsec_frame_keys_cleanup(&keys);
}

static void check_open_json(const struct gen_vec *v, const char *json, int want, const char *name)
{
    iotsec_frame_keys keys;
    uint8_t out[256];
    size_t n = 0;

    vec_keys(v, &keys);
    gen_expect(iotsec_frame_open_json(&keys, json, strlen(json), NULL, out, sizeof out, &n),
               want, "open_json", name);
    iotsec_frame_keys_cleanup(&keys);
}

/* Recompute the tag of a crafted frame with the keys of v (for authentic-but-wrong cases). */
static void retag(const struct gen_vec *v, uint8_t *frame, size_t len)
{
    iotsec_frame_keys keys;

    vec_keys(v, &keys);
    if (iotsec_hmac_init(&keys.mac) != IOTSEC_OK ||
        iotsec_hmac_update(&keys.mac, frame, len - 32u) != IOTSEC_OK ||
        iotsec_hmac_final(&keys.mac, frame + len - 32u) != IOTSEC_OK)
        abort();
    iotsec_frame_keys_cleanup(&keys);
}

/* ---- frame_v1.json ------------------------------------------------------------------------ */

static void put_invalid(FILE *f, int *first, const char *name, const char *keys_of,
                        const uint8_t *frame, size_t len, int err)
{
    fprintf(f, "%s\n    {\"name\": ", *first ? "" : ",");
    put_cstr(f, name);
    fprintf(f, ", \"keys\": ");
    put_cstr(f, keys_of);
    fprintf(f, ", \"frame\": ");
    put_hex(f, frame, len);
    fprintf(f, ", \"error\": \"%s\"}", iotsec_error_name(err));
    *first = 0;
}

/* Invalid case: frame[0..len) opened with the keys of v must give err. */
static void invalid_bin(FILE *f, int *first, const struct gen_vec *v, const char *name,
                        const uint8_t *frame, size_t len, int err)
{
    iotsec_frame_header h;

    check_open(v, frame, len, err, name);
    /* malformed input fails the same way in peek (before any key is involved) */
    if (iotsec_err_is_malformed(err))
        gen_expect(iotsec_frame_peek(frame, len, &h), err, "peek", name);
    put_invalid(f, first, name, v->name, frame, len, err);
}

static void gen_frame_v1(FILE *f)
{
    uint8_t fr[512], m[512];
    uint8_t mac_key[32], enc_key[16];
    size_t i, n, pn, k;
    int first = 1;
    const struct gen_vec *pv = &gen_vecs[0], *ev = &gen_vecs[2];

    fprintf(f, "{\n  \"format\": \"iotsec telemetry frame v1, binary layout\",\n"
               "  \"spec\": \"bindings-spec/SPEC.md section 2 (keys: RFC 5869 HKDF-SHA256, salt "
               "'iotsec-frame-v1', info label || 0x00 || dir || kid || device_id); tag = "
               "HMAC-SHA256(mac_key, frame without tag); AES-128-CBC with PKCS#7\",\n"
               "  \"generator\": \"tools/gen-vectors/gen_frames.c\",\n  \"vectors\": [");
    for (i = 0; i < gen_nvecs; i++) {
        const struct gen_vec *v = &gen_vecs[i];
        const uint8_t *p = gen_vec_payload(v, &pn);
        n = gen_vec_seal(v, fr, sizeof fr);
        check_open(v, fr, n, IOTSEC_OK, v->name);
        gen_vec_raw_keys(v, mac_key, enc_key);
        fprintf(f, "%s\n    {\"name\": ", i ? "," : "");
        put_cstr(f, v->name);
        fprintf(f, ", \"master\": ");
        put_hex(f, gen_master, sizeof gen_master);
        fprintf(f, ", \"device_id\": ");
        put_cstr(f, v->device_id);
        fprintf(f, ", \"kid\": %u, \"direction\": \"%s\", \"ctr\": %llu, \"encrypted\": %s, \"iv\": ",
                (unsigned)v->kid, dir_name(v->dir), (unsigned long long)v->ctr,
                v->encrypt ? "true" : "false");
        if (v->iv != NULL)
            put_hex(f, v->iv, 16);
        else
            fprintf(f, "null");
        fprintf(f, ", \"payload\": ");
        put_hex(f, p, pn);
        fprintf(f, ",\n     \"mac_key\": ");
        put_hex(f, mac_key, 32);
        fprintf(f, ", \"enc_key\": ");
        put_hex(f, enc_key, 16);
        fprintf(f, ",\n     \"frame\": ");
        put_hex(f, fr, n);
        fprintf(f, ",\n     \"tag\": ");
        put_hex(f, fr + n - 32, 32);
        fprintf(f, "}");
    }
    fprintf(f, "\n  ],\n  \"invalid\": [");

    /* malformed: built from the plain uplink frame (pv) and the encrypted one (ev) */
    n = gen_vec_seal(pv, fr, sizeof fr);
    invalid_bin(f, &first, pv, "empty", fr, 0, IOTSEC_E_TRUNCATED);
    for (k = 1; k < n; k += (k < 16 ? 1 : 11)) {
        char name[40];
        snprintf(name, sizeof name, "truncated-%zu", k);
        invalid_bin(f, &first, pv, name, fr, k, IOTSEC_E_TRUNCATED);
    }
    memcpy(m, fr, n);
    m[n] = 0x00;
    invalid_bin(f, &first, pv, "trailing-byte", m, n + 1, IOTSEC_E_TRAILING_DATA);
    memcpy(m, fr, n);
    m[0] = 0x02;
    invalid_bin(f, &first, pv, "version-2", m, n, IOTSEC_E_BAD_VERSION);
    memcpy(m, fr, n);
    m[1] = 0x04;
    invalid_bin(f, &first, pv, "reserved-flag-bit2", m, n, IOTSEC_E_BAD_VALUE);
    m[1] = 0x80;
    invalid_bin(f, &first, pv, "reserved-flag-bit7", m, n, IOTSEC_E_BAD_VALUE);
    memcpy(m, fr, n);
    m[3] = 0;
    invalid_bin(f, &first, pv, "id-len-0", m, n, IOTSEC_E_BAD_LENGTH);
    m[3] = 65;
    invalid_bin(f, &first, pv, "id-len-65", m, n, IOTSEC_E_BAD_LENGTH);
    m[3] = 255;
    invalid_bin(f, &first, pv, "id-len-255", m, n, IOTSEC_E_BAD_LENGTH);
    memcpy(m, fr, n);
    m[3] = 12; /* longer than the id: the rest is read as id, payload_len runs off the end */
    invalid_bin(f, &first, pv, "id-len-beyond-id", m, n, IOTSEC_E_BAD_VALUE);
    memcpy(m, fr, n);
    memset(m + 4, 0, 8);
    invalid_bin(f, &first, pv, "ctr-0", m, n, IOTSEC_E_BAD_VALUE);
    memcpy(m, fr, n);
    m[12 + 6] = ' ';
    invalid_bin(f, &first, pv, "device-id-space", m, n, IOTSEC_E_BAD_VALUE);
    m[12 + 6] = 0x00;
    invalid_bin(f, &first, pv, "device-id-nul", m, n, IOTSEC_E_BAD_VALUE);
    memcpy(m, fr, n);
    m[23] = 0x00; m[24] = 0x01; m[25] = 0x00; m[26] = 0x01; /* 65537 */
    invalid_bin(f, &first, pv, "plain-payload-len-65537", m, n, IOTSEC_E_BAD_LENGTH);
    m[23] = 0xff; m[24] = 0xff; m[25] = 0xff; m[26] = 0xff;
    invalid_bin(f, &first, pv, "payload-len-ffffffff", m, n, IOTSEC_E_BAD_LENGTH);
    m[23] = 0x00; m[24] = 0x00; m[25] = 0x01; m[26] = 0x00; /* 256 > what the buffer has */
    invalid_bin(f, &first, pv, "payload-len-beyond-buffer", m, n, IOTSEC_E_TRUNCATED);
    memcpy(m, fr, n);
    m[n - 1] ^= 0x01;
    invalid_bin(f, &first, pv, "tag-bit-flip", m, n, IOTSEC_E_BAD_MAC);
    memcpy(m, fr, n);
    m[27] ^= 0x20;
    invalid_bin(f, &first, pv, "payload-bit-flip", m, n, IOTSEC_E_BAD_MAC);
    memcpy(m, fr, n);
    m[11] = 0x02; /* ctr 1 -> 2: a counter changed in flight */
    invalid_bin(f, &first, pv, "ctr-changed", m, n, IOTSEC_E_BAD_MAC);
    memcpy(m, fr, n);
    m[1] = IOTSEC_FRAME_FLAG_DOWNLINK;
    invalid_bin(f, &first, pv, "direction-bit-flipped", m, n, IOTSEC_E_BAD_MAC);
    memcpy(m, fr, n);
    m[1] = IOTSEC_FRAME_FLAG_DOWNLINK;
    retag(pv, m, n);
    invalid_bin(f, &first, pv, "authentic-but-downlink", m, n, IOTSEC_E_WRONG_DIRECTION);
    memcpy(m, fr, n);
    m[2] = 1;
    retag(pv, m, n);
    invalid_bin(f, &first, pv, "authentic-but-other-kid", m, n, IOTSEC_E_WRONG_DEVICE);
    memcpy(m, fr, n);
    m[12 + 10] = '3'; /* sensor-0043 */
    retag(pv, m, n);
    invalid_bin(f, &first, pv, "authentic-but-other-device", m, n, IOTSEC_E_WRONG_DEVICE);
    {
        /* a downlink frame of the same device and kid, sent to the uplink receiver */
        struct gen_vec d = *pv;
        d.dir = IOTSEC_FRAME_DOWNLINK;
        n = gen_vec_seal(&d, m, sizeof m);
        invalid_bin(f, &first, pv, "downlink-frame-to-uplink-receiver", m, n, IOTSEC_E_BAD_MAC);
    }

    n = gen_vec_seal(ev, fr, sizeof fr); /* encrypted: 32-byte payload → 48-byte ciphertext */
    memcpy(m, fr, n);
    m[26] = 47; /* 47 bytes: not a multiple of 16 */
    invalid_bin(f, &first, ev, "ciphertext-len-47", m, n, IOTSEC_E_BAD_LENGTH);
    m[26] = 0;
    invalid_bin(f, &first, ev, "ciphertext-len-0", m, n, IOTSEC_E_BAD_LENGTH);
    m[24] = 0x01; m[25] = 0x00; m[26] = 0x20; /* 65568 */
    invalid_bin(f, &first, ev, "ciphertext-len-65568", m, n, IOTSEC_E_BAD_LENGTH);
    memcpy(m, fr, n);
    m[27] ^= 0x01; /* IV */
    invalid_bin(f, &first, ev, "iv-bit-flip", m, n, IOTSEC_E_BAD_MAC);
    memcpy(m, fr, n);
    m[n - 33] ^= 0x01; /* last ciphertext byte: would break the padding, but the MAC fails first */
    invalid_bin(f, &first, ev, "ciphertext-bit-flip", m, n, IOTSEC_E_BAD_MAC);
    {
        /* authentic ciphertext whose plaintext has no valid padding: encrypt 48 bytes
         * ending in 0x00 without padding and tag it */
        iotsec_frame_keys keys;
        iotsec_aes_cbc_ctx c;
        uint8_t pt[48];
        memcpy(m, fr, n);
        memset(pt, 0, sizeof pt);
        vec_keys(ev, &keys);
        if (iotsec_aes_cbc_init(&c, iotsec_crypto_openssl(), IOTSEC_ENCRYPT, keys.enc_key, 16,
                                m + 27) != IOTSEC_OK ||
            iotsec_aes_cbc_update(&c, pt, m + 43, sizeof pt) != IOTSEC_OK)
            abort();
        iotsec_aes_cbc_cleanup(&c);
        iotsec_frame_keys_cleanup(&keys);
        retag(ev, m, n);
        invalid_bin(f, &first, ev, "authentic-bad-padding", m, n, IOTSEC_E_DECRYPT);
    }
    fprintf(f, "\n  ]\n}\n");
}

/* ---- frame_json.json ---------------------------------------------------------------------- */

static void json_invalid(FILE *f, int *first, const struct gen_vec *v, const char *name,
                         const char *json, size_t len, int err)
{
    iotsec_frame_header h;
    iotsec_frame_keys keys;
    uint8_t out[256], fb[512];
    size_t n = 0;

    vec_keys(v, &keys);
    gen_expect(iotsec_frame_open_json(&keys, json, len, NULL, out, sizeof out, &n), err,
               "open_json", name);
    iotsec_frame_keys_cleanup(&keys);
    if (iotsec_err_is_malformed(err)) {
        gen_expect(iotsec_frame_peek_json(json, len, &h), err, "peek_json", name);
        gen_expect(iotsec_frame_from_json(json, len, fb, sizeof fb, &n, &h), err, "from_json",
                   name);
    }
    fprintf(f, "%s\n    {\"name\": ", *first ? "" : ",");
    put_cstr(f, name);
    fprintf(f, ", \"keys\": ");
    put_cstr(f, v->name);
    fprintf(f, ", \"json\": ");
    put_str(f, json, len);
    fprintf(f, ", \"error\": \"%s\"}", iotsec_error_name(err));
    *first = 0;
}

static void json_invalid_s(FILE *f, int *first, const struct gen_vec *v, const char *name,
                           const char *json, int err)
{
    json_invalid(f, first, v, name, json, strlen(json), err);
}

static size_t seal_vec_json(const struct gen_vec *v, char *out, size_t cap)
{
    iotsec_frame_keys keys;
    const uint8_t *p;
    size_t n, len = 0;

    vec_keys(v, &keys);
    p = gen_vec_payload(v, &n);
    gen_expect(iotsec_frame_seal_json(&keys, v->ctr, v->encrypt, v->iv, p, n, out, cap, &len),
               IOTSEC_OK, "seal_json", v->name);
    iotsec_frame_keys_cleanup(&keys);
    return len;
}

static void gen_frame_json(FILE *f)
{
    uint8_t fr[512], fb[512];
    char js[1024], alt[4096], jp[1024], je[1024], je2[1024];
    size_t i, n, jl, fl;
    int first = 1;
    const struct gen_vec *pv = &gen_vecs[0], *ev = &gen_vecs[2];
    iotsec_frame_header h;

    fprintf(f, "{\n  \"format\": \"iotsec telemetry frame v1, JSON encoding\",\n"
               "  \"spec\": \"bindings-spec/SPEC.md section 3: the tag is computed over the binary layout "
               "rebuilt from the members; keys as in frame_v1.json (same names)\",\n"
               "  \"generator\": \"tools/gen-vectors/gen_frames.c\",\n  \"vectors\": [");
    for (i = 0; i < gen_nvecs; i++) {
        const struct gen_vec *v = &gen_vecs[i];
        if (v->ctr > IOTSEC_FRAME_JSON_CTR_MAX)
            continue; /* not representable in JSON */
        n = gen_vec_seal(v, fr, sizeof fr);
        jl = seal_vec_json(v, js, sizeof js);
        /* both encodings carry the same frame */
        gen_expect(iotsec_frame_from_json(js, jl, fb, sizeof fb, &fl, &h), IOTSEC_OK,
                   "from_json", v->name);
        if (fl != n || memcmp(fb, fr, n) != 0)
            gen_die("json != binary for", v->name, 0, 0);
        gen_expect(iotsec_frame_to_json(fr, n, alt, sizeof alt, &fl), IOTSEC_OK, "to_json",
                   v->name);
        if (fl != jl || strcmp(alt, js) != 0)
            gen_die("to_json != seal_json for", v->name, 0, 0);
        check_open_json(v, js, IOTSEC_OK, v->name);
        fprintf(f, "%s\n    {\"name\": ", i ? "," : "");
        put_cstr(f, v->name);
        fprintf(f, ", \"json\": ");
        put_str(f, js, jl);
        fprintf(f, ",\n     \"frame\": ");
        put_hex(f, fr, n);
        fprintf(f, "}");
    }
    fprintf(f, "\n  ],\n  \"equivalent\": [");
    /* other spellings of the plain-uplink frame: same binary frame, opens the same */
    seal_vec_json(pv, jp, sizeof jp);
    n = gen_vec_seal(pv, fr, sizeof fr);
    {
        static const char *const names[] = {"whitespace", "reordered"};
        for (i = 0; i < 2; i++) {
            if (i == 0) {
                /* whitespace around every token */
                size_t o = 0, k;
                alt[o++] = ' ';
                alt[o++] = '\n';
                for (k = 0; jp[k] != '\0'; k++) {
                    alt[o++] = jp[k];
                    if (jp[k] == ':' || jp[k] == ',') {
                        alt[o++] = '\t';
                        alt[o++] = ' ';
                    }
                }
                alt[o++] = '\r';
                alt[o++] = '\n';
                alt[o] = '\0';
            } else {
                /* members in reverse order: {"mac":…,"payload":…,"ctr":…,"kid":…,
                 * "device_id":…,"v":1} */
                const char *mac = strstr(jp, "\"mac\":");
                const char *pay = strstr(jp, "\"payload\":");
                const char *ctr = strstr(jp, "\"ctr\":");
                const char *kid = strstr(jp, "\"kid\":");
                const char *dev = strstr(jp, "\"device_id\":");
                snprintf(alt, sizeof alt, "{%.*s,%.*s,%.*s,%.*s,%.*s,\"v\":1}",
                         (int)(strlen(mac) - 1), mac, (int)(mac - pay - 1), pay,
                         (int)(pay - ctr - 1), ctr, (int)(ctr - kid - 1), kid,
                         (int)(kid - dev - 1), dev);
            }
            gen_expect(iotsec_frame_from_json(alt, strlen(alt), fb, sizeof fb, &fl, &h),
                       IOTSEC_OK, "from_json", names[i]);
            if (fl != n || memcmp(fb, fr, n) != 0)
                gen_die("equivalent differs:", names[i], 0, 0);
            check_open_json(pv, alt, IOTSEC_OK, names[i]);
            fprintf(f, "%s\n    {\"name\": ", i ? "," : "");
            put_cstr(f, names[i]);
            fprintf(f, ", \"json\": ");
            put_cstr(f, alt);
            fprintf(f, ", \"frame\": ");
            put_hex(f, fr, n);
            fprintf(f, "}");
        }
    }
    fprintf(f, "\n  ],\n  \"invalid\": [");
    seal_vec_json(ev, je, sizeof je);
    json_invalid(f, &first, pv, "empty", jp, 0, IOTSEC_E_TRUNCATED);
    json_invalid(f, &first, pv, "truncated-half", jp, strlen(jp) / 2, IOTSEC_E_TRUNCATED);
    json_invalid(f, &first, pv, "truncated-before-brace", jp, strlen(jp) - 1, IOTSEC_E_TRUNCATED);
    json_invalid_s(f, &first, pv, "not-an-object", "[1,2]", IOTSEC_E_BAD_ENCODING);
    json_invalid_s(f, &first, pv, "v-2", subst(jp, "\"v\":1", "\"v\":2", alt, sizeof alt),
                   IOTSEC_E_BAD_VERSION);
    json_invalid_s(f, &first, pv, "v-string", subst(jp, "\"v\":1", "\"v\":\"1\"", alt, sizeof alt),
                   IOTSEC_E_BAD_VALUE);
    json_invalid_s(f, &first, pv, "v-true", subst(jp, "\"v\":1", "\"v\":true", alt, sizeof alt),
                   IOTSEC_E_BAD_VALUE);
    json_invalid_s(f, &first, pv, "kid-256", subst(jp, "\"kid\":0", "\"kid\":256", alt, sizeof alt),
                   IOTSEC_E_BAD_VALUE);
    json_invalid_s(f, &first, pv, "kid-negative",
                   subst(jp, "\"kid\":0", "\"kid\":-1", alt, sizeof alt), IOTSEC_E_BAD_ENCODING);
    json_invalid_s(f, &first, pv, "ctr-0", subst(jp, "\"ctr\":1", "\"ctr\":0", alt, sizeof alt),
                   IOTSEC_E_BAD_VALUE);
    json_invalid_s(f, &first, pv, "ctr-2^53",
                   subst(jp, "\"ctr\":1", "\"ctr\":9007199254740992", alt, sizeof alt),
                   IOTSEC_E_BAD_VALUE);
    json_invalid_s(f, &first, pv, "ctr-2^64",
                   subst(jp, "\"ctr\":1", "\"ctr\":18446744073709551616", alt, sizeof alt),
                   IOTSEC_E_BAD_VALUE);
    json_invalid_s(f, &first, pv, "ctr-leading-zero",
                   subst(jp, "\"ctr\":1", "\"ctr\":01", alt, sizeof alt), IOTSEC_E_BAD_ENCODING);
    json_invalid_s(f, &first, pv, "ctr-fraction",
                   subst(jp, "\"ctr\":1", "\"ctr\":1.0", alt, sizeof alt), IOTSEC_E_BAD_ENCODING);
    json_invalid_s(f, &first, pv, "ctr-exponent",
                   subst(jp, "\"ctr\":1", "\"ctr\":1e0", alt, sizeof alt), IOTSEC_E_BAD_ENCODING);
    json_invalid_s(f, &first, pv, "ctr-sign", subst(jp, "\"ctr\":1", "\"ctr\":+1", alt, sizeof alt),
                   IOTSEC_E_BAD_ENCODING);
    json_invalid_s(f, &first, pv, "ctr-string",
                   subst(jp, "\"ctr\":1", "\"ctr\":\"1\"", alt, sizeof alt), IOTSEC_E_BAD_VALUE);
    json_invalid_s(f, &first, pv, "ctr-null", subst(jp, "\"ctr\":1", "\"ctr\":null", alt, sizeof alt),
                   IOTSEC_E_BAD_VALUE);
    json_invalid_s(f, &first, pv, "dir-up",
                   subst(jp, "\"ctr\":1", "\"ctr\":1,\"dir\":\"up\"", alt, sizeof alt),
                   IOTSEC_E_BAD_VALUE);
    json_invalid_s(f, &first, pv, "unknown-member",
                   subst(jp, "\"ctr\":1", "\"ctr\":1,\"ts\":5", alt, sizeof alt),
                   IOTSEC_E_UNKNOWN_CRITICAL);
    json_invalid_s(f, &first, pv, "duplicate-member",
                   subst(jp, "\"ctr\":1", "\"ctr\":1,\"kid\":0", alt, sizeof alt),
                   IOTSEC_E_MALFORMED);
    json_invalid_s(f, &first, pv, "duplicate-ctr-bigger",
                   subst(jp, "\"ctr\":1", "\"ctr\":1,\"ctr\":99", alt, sizeof alt),
                   IOTSEC_E_MALFORMED);
    json_invalid_s(f, &first, pv, "object-closed-early",
                   subst(jp, ",\"mac\":", "}\"mac\":", alt, sizeof alt), IOTSEC_E_TRAILING_DATA);
    {
        const char *p = strstr(jp, ",\"mac\":");
        snprintf(alt, sizeof alt, "%.*s}", (int)(p - jp), jp);
        json_invalid_s(f, &first, pv, "no-mac-member", alt, IOTSEC_E_MISSING_FIELD);
    }
    json_invalid_s(f, &first, pv, "nested-object",
                   subst(jp, "\"ctr\":1", "\"ctr\":{\"n\":1}", alt, sizeof alt), IOTSEC_E_BAD_VALUE);
    json_invalid_s(f, &first, pv, "trailing-comma", subst(jp, "\"}", "\",}", alt, sizeof alt),
                   IOTSEC_E_BAD_ENCODING);
    json_invalid_s(f, &first, pv, "missing-comma",
                   subst(jp, ",\"kid\":", " \"kid\":", alt, sizeof alt), IOTSEC_E_BAD_ENCODING);
    json_invalid_s(f, &first, pv, "double-colon", subst(jp, "\"kid\":", "\"kid\"::", alt, sizeof alt),
                   IOTSEC_E_BAD_ENCODING);
    snprintf(alt, sizeof alt, "%s x", jp);
    json_invalid_s(f, &first, pv, "trailing-garbage", alt, IOTSEC_E_TRAILING_DATA);
    snprintf(alt, sizeof alt, "%s%s", jp, jp);
    json_invalid_s(f, &first, pv, "two-objects", alt, IOTSEC_E_TRAILING_DATA);
    snprintf(alt, sizeof alt, "%s", jp);
    json_invalid(f, &first, pv, "nul-after-object", alt, strlen(alt) + 1, IOTSEC_E_BAD_ENCODING);
    json_invalid_s(f, &first, pv, "escape-in-device-id",
                   subst(jp, "sensor-0042", "sensor\\u002d0042", alt, sizeof alt),
                   IOTSEC_E_BAD_ENCODING);
    json_invalid_s(f, &first, pv, "escaped-slash-in-base64",
                   subst(jp, "\"mac\":\"", "\"mac\":\"\\/", alt, sizeof alt), IOTSEC_E_BAD_ENCODING);
    json_invalid_s(f, &first, pv, "control-char-in-string",
                   subst(jp, "sensor-0042", "sensor\t0042", alt, sizeof alt), IOTSEC_E_BAD_ENCODING);
    json_invalid_s(f, &first, pv, "device-id-space",
                   subst(jp, "sensor-0042", "sensor 0042", alt, sizeof alt), IOTSEC_E_BAD_VALUE);
    json_invalid_s(f, &first, pv, "device-id-empty",
                   subst(jp, "sensor-0042", "", alt, sizeof alt), IOTSEC_E_BAD_LENGTH);
    json_invalid_s(f, &first, pv, "device-id-65",
                   subst(jp, "sensor-0042", GEN_ID64 "9", alt, sizeof alt), IOTSEC_E_BAD_LENGTH);
    {
        const char *p = strstr(jp, "\"payload\":\"") + 11;
        const char *q = strchr(p, '"');
        snprintf(alt, sizeof alt, "%.*s%s%s", (int)(p - jp), jp, "QR==", q);
        json_invalid_s(f, &first, pv, "payload-non-canonical-base64", alt, IOTSEC_E_NON_CANONICAL);
        snprintf(alt, sizeof alt, "%.*s%s%s", (int)(p - jp), jp, "QQ", q);
        json_invalid_s(f, &first, pv, "payload-missing-padding", alt, IOTSEC_E_BAD_ENCODING);
        snprintf(alt, sizeof alt, "%.*s%s%s", (int)(p - jp), jp, "QQ= =", q);
        json_invalid_s(f, &first, pv, "payload-whitespace", alt, IOTSEC_E_BAD_ENCODING);
        snprintf(alt, sizeof alt, "%.*s%s%s", (int)(p - jp), jp, "QUJD", q);
        json_invalid_s(f, &first, pv, "payload-changed", alt, IOTSEC_E_BAD_MAC);
    }
    {
        const char *p = strstr(jp, "\"mac\":\"") + 7;
        snprintf(alt, sizeof alt, "%.*sAAAA%s", (int)(p - jp), jp, p + 4);
        json_invalid_s(f, &first, pv, "mac-changed", alt, IOTSEC_E_BAD_MAC);
        snprintf(alt, sizeof alt, "%.*s%s", (int)(p - jp), jp, p + 4);
        json_invalid_s(f, &first, pv, "mac-29-bytes", alt, IOTSEC_E_BAD_LENGTH);
    }
    /* encrypted members */
    {
        const char *p = strstr(je, ",\"iv\":");
        const char *q = strstr(je, ",\"payload\":");
        snprintf(alt, sizeof alt, "%.*s%s", (int)(p - je), je, q);
        json_invalid_s(f, &first, ev, "enc-without-iv", alt, IOTSEC_E_MISSING_FIELD);
        p = strstr(je, ",\"enc\":");
        q = strstr(je, ",\"iv\":");
        snprintf(alt, sizeof alt, "%.*s%s", (int)(p - je), je, q);
        json_invalid_s(f, &first, ev, "iv-without-enc", alt, IOTSEC_E_MISSING_FIELD);
    }
    json_invalid_s(f, &first, ev, "enc-aes-256",
                   subst(je, "aes-128-cbc", "aes-256-cbc", alt, sizeof alt), IOTSEC_E_BAD_VALUE);
    json_invalid_s(f, &first, ev, "iv-15-bytes",
                   subst(je, "\"iv\":\"AAECAwQFBgcICQoLDA0ODw==\"",
                         "\"iv\":\"AAECAwQFBgcICQoLDA0O\"", alt, sizeof alt),
                   IOTSEC_E_BAD_LENGTH);
    json_invalid_s(f, &first, ev, "iv-changed",
                   subst(je, "\"iv\":\"AAECAwQFBgcICQoLDA0ODw==\"",
                         "\"iv\":\"AQECAwQFBgcICQoLDA0ODw==\"", alt, sizeof alt),
                   IOTSEC_E_BAD_MAC);
    {
        const char *p = strstr(je, "\"payload\":\"") + 11;
        const char *q = strchr(p, '"');
        snprintf(alt, sizeof alt, "%.*s%s%s", (int)(p - je), je, "AAAAAAAAAAAAAAAAAAAAAAAAAAA=", q);
        json_invalid_s(f, &first, ev, "ciphertext-20-bytes", alt, IOTSEC_E_BAD_LENGTH);
        snprintf(alt, sizeof alt, "%.*s%s", (int)(p - je), je, q);
        json_invalid_s(f, &first, ev, "ciphertext-empty", alt, IOTSEC_E_BAD_LENGTH);
    }
    /* a downlink frame for an uplink receiver */
    {
        struct gen_vec d = *pv;
        d.dir = IOTSEC_FRAME_DOWNLINK;
        seal_vec_json(&d, alt, sizeof alt);
        json_invalid_s(f, &first, pv, "downlink-frame-to-uplink-receiver", alt, IOTSEC_E_BAD_MAC);
        json_invalid_s(f, &first, pv, "dir-removed-from-downlink-frame",
                       subst(alt, ",\"dir\":\"down\"", "", je2, sizeof je2), IOTSEC_E_BAD_MAC);
    }
    {
        /* 17 members: more than any frame has */
        char big[1024];
        size_t o = (size_t)snprintf(big, sizeof big, "{");
        for (i = 0; i < 17; i++)
            o += (size_t)snprintf(big + o, sizeof big - o, "%s\"m%zu\":%zu", i ? "," : "", i, i);
        snprintf(big + o, sizeof big - o, "}");
        json_invalid_s(f, &first, pv, "17-members", big, IOTSEC_E_MALFORMED);
    }
    fprintf(f, "\n  ]\n}\n");
}

/* ---- ecowatt.json --------------------------------------------------------------------------- */

static const uint8_t eco_mac_key[32] = {
    0x5a, 0x7b, 0x3c, 0x9d, 0x2e, 0x4f, 0x1a, 0x6b, 0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe,
    0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xf0, 0xe1, 0xd2, 0xc3, 0xb4, 0xa5, 0x96, 0x87};
static const uint8_t eco_enc_key[16] = {0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6,
                                        0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c};

struct eco_vec {
    const char *name;
    const char *device_id;
    uint64_t nonce;
    int encrypt;
    const uint8_t *iv;
    const char *payload;
};

static const struct eco_vec eco_vecs[] = {
    {"plain", "EcoWatt-001", 10001, 0, NULL, "{\"v\":[230.1,229.8],\"i\":[4.2,4.1]}"},
    {"plain-nonce-1", "EcoWatt-001", 1, 0, NULL, "a"},
    {"plain-empty", "EcoWatt-001", 10002, 0, NULL, ""},
    {"encrypted", "EcoWatt-001", 10003, 1, gen_iv_a, "compressed-sensor-block"},
    {"encrypted-16", "EcoWatt-002", 9007199254740991u, 1, gen_iv_b, "0123456789abcdef"},
};

static void eco_keys(iotsec_ecowatt_keys *k, int with_enc)
{
    gen_expect(iotsec_ecowatt_keys_init(k, iotsec_crypto_openssl(), eco_mac_key,
                                        with_enc ? eco_enc_key : NULL),
               IOTSEC_OK, "ecowatt keys", "init");
}

static void eco_invalid(FILE *f, int *first, const char *name, const char *json, size_t len,
                        int err)
{
    iotsec_ecowatt_keys k;
    iotsec_ecowatt_header h;
    uint8_t out[256];
    size_t n = 0;

    eco_keys(&k, 1);
    gen_expect(iotsec_ecowatt_open(&k, json, len, NULL, out, sizeof out, &n), err, "eco open",
               name);
    iotsec_ecowatt_keys_cleanup(&k);
    if (iotsec_err_is_malformed(err))
        gen_expect(iotsec_ecowatt_peek(json, len, &h), err, "eco peek", name);
    fprintf(f, "%s\n    {\"name\": ", *first ? "" : ",");
    put_cstr(f, name);
    fprintf(f, ", \"json\": ");
    put_str(f, json, len);
    fprintf(f, ", \"error\": \"%s\"}", iotsec_error_name(err));
    *first = 0;
}

static void eco_invalid_s(FILE *f, int *first, const char *name, const char *json, int err)
{
    eco_invalid(f, first, name, json, strlen(json), err);
}

static void gen_ecowatt(FILE *f)
{
    iotsec_ecowatt_keys k;
    char js[1024], alt[4096], jp[1024], je[1024];
    uint8_t out[256];
    size_t i, jl, n;
    int first = 1;

    fprintf(f, "{\n  \"format\": \"legacy EcoWatt telemetry profile (compatibility only)\",\n"
               "  \"spec\": \"bindings-spec/SPEC.md section 4: mac = lowercase hex HMAC-SHA256(mac_key, "
               "ascii_decimal(nonce) || payload base64 text); AES-128-CBC/PKCS#7 under the raw "
               "enc_key when encrypted\",\n"
               "  \"generator\": \"tools/gen-vectors/gen_frames.c\",\n  \"mac_key\": ");
    put_hex(f, eco_mac_key, 32);
    fprintf(f, ",\n  \"enc_key\": ");
    put_hex(f, eco_enc_key, 16);
    fprintf(f, ",\n  \"vectors\": [");
    eco_keys(&k, 1);
    for (i = 0; i < sizeof eco_vecs / sizeof eco_vecs[0]; i++) {
        const struct eco_vec *v = &eco_vecs[i];
        size_t pl = strlen(v->payload);
        gen_expect(iotsec_ecowatt_seal(&k, v->device_id, strlen(v->device_id), v->nonce,
                                       v->encrypt, v->iv, (const uint8_t *)v->payload, pl, js,
                                       sizeof js, &jl),
                   IOTSEC_OK, "eco seal", v->name);
        gen_expect(iotsec_ecowatt_open(&k, js, jl, NULL, out, sizeof out, &n), IOTSEC_OK,
                   "eco open", v->name);
        if (n != pl || (n > 0 && memcmp(out, v->payload, n) != 0))
            gen_die("eco payload of", v->name, 0, 0);
        if (i == 0)
            memcpy(jp, js, jl + 1);
        if (i == 3)
            memcpy(je, js, jl + 1);
        fprintf(f, "%s\n    {\"name\": ", i ? "," : "");
        put_cstr(f, v->name);
        fprintf(f, ", \"device_id\": ");
        put_cstr(f, v->device_id);
        fprintf(f, ", \"nonce\": %llu, \"encrypted\": %s, \"iv\": ", (unsigned long long)v->nonce,
                v->encrypt ? "true" : "false");
        if (v->iv != NULL)
            put_hex(f, v->iv, 16);
        else
            fprintf(f, "null");
        fprintf(f, ", \"payload\": ");
        put_hex(f, (const uint8_t *)v->payload, pl);
        fprintf(f, ",\n     \"json\": ");
        put_str(f, js, jl);
        fprintf(f, "}");
    }
    fprintf(f, "\n  ],\n  \"weaknesses\": [");
    {
        /* docs/DESIGN.md §8: nonce 1000 + payload text "1234…" has the MAC input of nonce
         * 10001234 + "…": the second frame is a forgery made from the first, and opens. */
        static const uint8_t p[6] = {0xd7, 0x6d, 0xf8, 0x69, 0xb7, 0x1d}; /* "1234abcd" */
        char forged[1024];
        const char *mac;
        gen_expect(iotsec_ecowatt_seal(&k, "EcoWatt-001", 11, 1000, 0, NULL, p, sizeof p, js,
                                       sizeof js, &jl),
                   IOTSEC_OK, "eco seal", "ambiguous");
        if (strstr(js, "\"payload\":\"1234abcd\"") == NULL)
            gen_die("ambiguous payload text", js, 0, 0);
        mac = strstr(js, "\"mac\":");
        snprintf(forged, sizeof forged,
                 "{\"device_id\":\"EcoWatt-001\",\"nonce\":10001234,\"payload\":\"abcd\",%s", mac);
        gen_expect(iotsec_ecowatt_open(&k, forged, strlen(forged), NULL, out, sizeof out, &n),
                   IOTSEC_OK, "eco open", "ambiguous forgery");
        fprintf(f, "\n    {\"name\": \"nonce-digits-moved-from-payload\", \"captured\": ");
        put_str(f, js, jl);
        fprintf(f, ",\n     \"forged\": ");
        put_cstr(f, forged);
        fprintf(f, ",\n     \"mac_input\": \"10001234abcd\", \"note\": \"both verify: the legacy "
                   "MAC input is ambiguous (docs/DESIGN.md section 8)\"}");
    }
    {
        /* the IV is not authenticated: a changed IV changes the first plaintext block and
         * the frame still opens (the padding lives in the last block) */
        char forged[1024];
        const char *enc = je;
        subst(enc, "\"iv\":\"AAECAwQFBgcICQoLDA0ODw==\"", "\"iv\":\"AQECAwQFBgcICQoLDA0ODw==\"",
              forged, sizeof forged);
        gen_expect(iotsec_ecowatt_open(&k, forged, strlen(forged), NULL, out, sizeof out, &n),
                   IOTSEC_OK, "eco open", "iv forgery");
        if (n != strlen(eco_vecs[3].payload) || out[0] != (uint8_t)(eco_vecs[3].payload[0] ^ 1) ||
            memcmp(out + 1, eco_vecs[3].payload + 1, n - 1) != 0)
            gen_die("iv forgery did not flip the first byte", "iv", 0, 0);
        fprintf(f, ",\n    {\"name\": \"iv-not-authenticated\", \"captured\": ");
        put_cstr(f, je);
        fprintf(f, ",\n     \"forged\": ");
        put_cstr(f, forged);
        fprintf(f, ",\n     \"opens_to\": ");
        put_hex(f, out, n);
        fprintf(f, ", \"note\": \"the IV is not covered by the MAC: flipping an IV bit flips "
                   "the same plaintext bit (docs/DESIGN.md section 8)\"}");
    }
    iotsec_ecowatt_keys_cleanup(&k);
    fprintf(f, "\n  ],\n  \"invalid\": [");
    eco_invalid(f, &first, "empty", jp, 0, IOTSEC_E_TRUNCATED);
    eco_invalid(f, &first, "truncated", jp, strlen(jp) - 1, IOTSEC_E_TRUNCATED);
    {
        char up[1024];
        const char *p = strstr(jp, "\"mac\":\"") + 7;
        size_t o = (size_t)(p - jp), q;
        memcpy(up, jp, strlen(jp) + 1);
        for (q = o; up[q] != '"'; q++)
            if (up[q] >= 'a' && up[q] <= 'f')
                up[q] = (char)(up[q] - 'a' + 'A');
        eco_invalid_s(f, &first, "mac-uppercase-hex", up, IOTSEC_E_BAD_ENCODING);
        snprintf(alt, sizeof alt, "%.*s%s", (int)o, jp, p + 1);
        eco_invalid_s(f, &first, "mac-63-digits", alt, IOTSEC_E_BAD_LENGTH);
        snprintf(alt, sizeof alt, "%.*s%c%s", (int)o, jp, p[0] == '0' ? '1' : '0', p + 1);
        eco_invalid_s(f, &first, "mac-changed", alt, IOTSEC_E_BAD_MAC);
        snprintf(alt, sizeof alt, "%.*sg%s", (int)o, jp, p + 1);
        eco_invalid_s(f, &first, "mac-not-hex", alt, IOTSEC_E_BAD_ENCODING);
    }
    eco_invalid_s(f, &first, "nonce-changed",
                  subst(jp, "\"nonce\":10001", "\"nonce\":10002", alt, sizeof alt), IOTSEC_E_BAD_MAC);
    eco_invalid_s(f, &first, "nonce-0", subst(jp, "\"nonce\":10001", "\"nonce\":0", alt, sizeof alt),
                  IOTSEC_E_BAD_VALUE);
    eco_invalid_s(f, &first, "nonce-2^53",
                  subst(jp, "\"nonce\":10001", "\"nonce\":9007199254740992", alt, sizeof alt),
                  IOTSEC_E_BAD_VALUE);
    eco_invalid_s(f, &first, "nonce-string",
                  subst(jp, "\"nonce\":10001", "\"nonce\":\"10001\"", alt, sizeof alt),
                  IOTSEC_E_BAD_VALUE);
    eco_invalid_s(f, &first, "nonce-fraction",
                  subst(jp, "\"nonce\":10001", "\"nonce\":10001.0", alt, sizeof alt),
                  IOTSEC_E_BAD_ENCODING);
    eco_invalid_s(f, &first, "nonce-negative",
                  subst(jp, "\"nonce\":10001", "\"nonce\":-10001", alt, sizeof alt),
                  IOTSEC_E_BAD_ENCODING);
    eco_invalid_s(f, &first, "nonce-leading-zero",
                  subst(jp, "\"nonce\":10001", "\"nonce\":010001", alt, sizeof alt),
                  IOTSEC_E_BAD_ENCODING);
    eco_invalid_s(f, &first, "unknown-member",
                  subst(jp, "\"nonce\":10001", "\"nonce\":10001,\"ts\":1", alt, sizeof alt),
                  IOTSEC_E_UNKNOWN_CRITICAL);
    eco_invalid_s(f, &first, "duplicate-nonce",
                  subst(jp, "\"nonce\":10001", "\"nonce\":10001,\"nonce\":10001", alt, sizeof alt),
                  IOTSEC_E_MALFORMED);
    eco_invalid_s(f, &first, "encrypted-without-iv",
                  subst(jp, "\"nonce\":10001", "\"nonce\":10001,\"encrypted\":true", alt, sizeof alt),
                  IOTSEC_E_MISSING_FIELD);
    eco_invalid_s(f, &first, "encrypted-false",
                  subst(je, "\"encrypted\":true", "\"encrypted\":false", alt, sizeof alt),
                  IOTSEC_E_BAD_VALUE);
    eco_invalid_s(f, &first, "encrypted-string",
                  subst(je, "\"encrypted\":true", "\"encrypted\":\"true\"", alt, sizeof alt),
                  IOTSEC_E_BAD_VALUE);
    {
        const char *p = strstr(je, ",\"encrypted\":true");
        snprintf(alt, sizeof alt, "%.*s%s", (int)(p - je), je, p + 17);
        eco_invalid_s(f, &first, "iv-without-encrypted", alt, IOTSEC_E_MISSING_FIELD);
    }
    eco_invalid_s(f, &first, "escaped-slash-in-payload",
                  subst(jp, "\"payload\":\"", "\"payload\":\"\\/", alt, sizeof alt),
                  IOTSEC_E_BAD_ENCODING);
    {
        const char *p = strstr(jp, "\"payload\":\"") + 11;
        snprintf(alt, sizeof alt, "%.*sQR==%s", (int)(p - jp), jp, strchr(p, '"'));
        eco_invalid_s(f, &first, "payload-non-canonical", alt, IOTSEC_E_NON_CANONICAL);
    }
    eco_invalid_s(f, &first, "device-id-slash",
                  subst(jp, "EcoWatt-001", "EcoWatt/001", alt, sizeof alt), IOTSEC_E_BAD_VALUE);
    snprintf(alt, sizeof alt, "%s,", jp);
    eco_invalid_s(f, &first, "trailing-comma-after-object", alt, IOTSEC_E_TRAILING_DATA);
    {
        const char *p = strstr(jp, ",\"mac\":");
        snprintf(alt, sizeof alt, "%.*s}", (int)(p - jp), jp);
        eco_invalid_s(f, &first, "no-mac", alt, IOTSEC_E_MISSING_FIELD);
    }
    fprintf(f, "\n  ]\n}\n");
}

/* ---- replay_window.json ---------------------------------------------------------------------- */

struct replay_step {
    uint64_t ctr;
    int ok;
};

static void replay_scenario(FILE *f, int first, const char *name, unsigned w,
                            const struct replay_step *s, size_t n)
{
    iotsec_replay_window win, back;
    uint8_t st[IOTSEC_REPLAY_STATE_LEN];
    size_t i, len = 0;

    gen_expect(iotsec_replay_init(&win, w), IOTSEC_OK, "replay init", name);
    fprintf(f, "%s\n    {\"name\": ", first ? "" : ",");
    put_cstr(f, name);
    fprintf(f, ", \"window\": %u, \"steps\": [", w);
    for (i = 0; i < n; i++) {
        int want = s[i].ok ? IOTSEC_OK : IOTSEC_E_REPLAY;
        gen_expect(iotsec_replay_check(&win, s[i].ctr), want, "replay check", name);
        gen_expect(iotsec_replay_commit(&win, s[i].ctr), want, "replay commit", name);
        fprintf(f, "%s[%llu, \"%s\"]", i ? ", " : "", (unsigned long long)s[i].ctr,
                s[i].ok ? "accept" : "replay");
    }
    gen_expect(iotsec_replay_encode(&win, st, sizeof st, &len), IOTSEC_OK, "replay encode", name);
    gen_expect(iotsec_replay_decode(&back, st, len), IOTSEC_OK, "replay decode", name);
    if (back.highest != win.highest || back.window != win.window ||
        memcmp(back.bitmap, win.bitmap, sizeof win.bitmap) != 0)
        gen_die("replay state round trip", name, 0, 0);
    fprintf(f, "],\n     \"highest\": %llu, \"state\": ", (unsigned long long)win.highest);
    put_hex(f, st, len);
    fprintf(f, "}");
}

static void replay_corrupt(FILE *f, int first, const char *name, const uint8_t *st, size_t len)
{
    iotsec_replay_window w;

    gen_expect(iotsec_replay_decode(&w, st, len), IOTSEC_E_CORRUPT, "replay decode", name);
    fprintf(f, "%s\n    {\"name\": ", first ? "" : ",");
    put_cstr(f, name);
    fprintf(f, ", \"state\": ");
    put_hex(f, st, len);
    fprintf(f, "}");
}

static void gen_replay(FILE *f)
{
    static const struct replay_step w64[] = {
        {1, 1},   {1, 0},  {3, 1},  {2, 1},  {2, 0},   {0, 0},  {100, 1}, {37, 1},
        {37, 0},  {36, 0}, {99, 1}, {101, 1}, {38, 1}, {UINT64_MAX, 1}, {UINT64_MAX, 0},
        {UINT64_MAX - 63u, 1}, {UINT64_MAX - 64u, 0}, {1, 0}};
    static const struct replay_step strict[] = {{5, 1}, {5, 0}, {4, 0}, {6, 1}, {1000, 1}, {999, 0}};
    static const struct replay_step w128[] = {
        {200, 1}, {137, 1}, {136, 1}, {135, 1}, {73, 1},  {72, 0},  {264, 1}, {201, 1},
        {200, 0}, {137, 0}, {136, 0}, {265, 1}, {138, 1}, {139, 1}, {137, 0}, {393, 1},
        {266, 1}, {265, 0}};
    static const struct replay_step w1024[] = {{2000, 1}, {977, 1}, {976, 0}, {1500, 1},
                                               {1500, 0}, {3024, 1}, {2001, 1}, {2000, 0},
                                               {1999, 0}, {4048, 1}, {3025, 1}, {3024, 0}};
    static const struct replay_step w1[] = {{1, 1}, {1, 0}, {2, 1}, {1, 0}};
    uint8_t st[IOTSEC_REPLAY_STATE_LEN + 1];
    iotsec_replay_window w;
    size_t len = 0;

    fprintf(f, "{\n  \"format\": \"iotsec receiver replay window and its persisted state\",\n"
               "  \"spec\": \"bindings-spec/SPEC.md section 5 (RFC 4303 3.4.3 / RFC 6479); state: format u8 "
               "= 1, window u16, highest u64, 16 big-endian u64 words, word 0 bit d = counter "
               "highest - d\",\n"
               "  \"generator\": \"tools/gen-vectors/gen_frames.c\",\n  \"scenarios\": [");
    replay_scenario(f, 1, "window-64", 64, w64, sizeof w64 / sizeof w64[0]);
    replay_scenario(f, 0, "strict-w0", 0, strict, sizeof strict / sizeof strict[0]);
    replay_scenario(f, 0, "strict-w1", 1, w1, sizeof w1 / sizeof w1[0]);
    replay_scenario(f, 0, "word-boundaries-w128", 128, w128, sizeof w128 / sizeof w128[0]);
    replay_scenario(f, 0, "window-1024", 1024, w1024, sizeof w1024 / sizeof w1024[0]);
    fprintf(f, "\n  ],\n  \"corrupt_states\": [");
    /* start from a valid state: W = 64, highest 10, counters 10 and 8 seen */
    if (iotsec_replay_init(&w, 64) != IOTSEC_OK || iotsec_replay_commit(&w, 8) != IOTSEC_OK ||
        iotsec_replay_commit(&w, 10) != IOTSEC_OK ||
        iotsec_replay_encode(&w, st, sizeof st, &len) != IOTSEC_OK)
        abort();
    replay_corrupt(f, 1, "short", st, len - 1);
    st[len] = 0;
    replay_corrupt(f, 0, "long", st, len + 1);
    st[0] = 2;
    replay_corrupt(f, 0, "format-2", st, len);
    st[0] = 1;
    st[1] = 0x04; st[2] = 0x01; /* W = 1025 */
    replay_corrupt(f, 0, "window-1025", st, len);
    st[1] = 0x00; st[2] = 0x40;
    st[19 + 7] |= 0x01; /* word 1, bit 0: d = 64, beyond W */
    replay_corrupt(f, 0, "bit-beyond-window", st, len);
    st[19 + 7] &= 0xfe;
    st[11 + 7] &= 0xfe; /* bit 0 clear although highest > 0 */
    replay_corrupt(f, 0, "bit0-clear", st, len);
    st[11 + 7] |= 0x01;
    st[11 + 6] |= 0x04; /* d = 10: counter 0 */
    replay_corrupt(f, 0, "bit-for-counter-0", st, len);
    st[11 + 6] &= (uint8_t)~0x04u;
    memset(st + 3, 0, 8); /* highest 0 but bits set */
    replay_corrupt(f, 0, "highest-0-with-bits", st, len);
    fprintf(f, "\n  ]\n}\n");
}

/* ---- driver ------------------------------------------------------------------------------------ */

const struct gen_file gen_files[] = {
    {"frame_v1.json", gen_frame_v1},
    {"frame_json.json", gen_frame_json},
    {"ecowatt.json", gen_ecowatt},
    {"replay_window.json", gen_replay},
};
const size_t gen_nfiles = sizeof gen_files / sizeof gen_files[0];
