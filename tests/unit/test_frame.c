/* Check suite: telemetry frames v1 (include/iotsec/frame.h; bindings-spec/SPEC.md §2, §3, §5) — key
 * derivation against RFC 5869 HKDF, round trips of every encoding (plain and encrypted,
 * uplink and downlink), the committed vectors reproduced byte for byte (and their tags
 * recomputed by the openssl CLI), every single-byte change and every truncation rejected,
 * malformed length fields rejected without a state change, direction / device binding,
 * and the replay window through iotsec_frame_open_checked. Every test runs per backend;
 * libsodium has no AES-CBC, so encrypted cases assert IOTSEC_E_UNSUPPORTED there. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "../../tools/gen-vectors/gen_vectors.h"

static const uint8_t master[32] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
                                   0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
                                   0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
                                   0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f};
static const uint8_t iv0[16] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
                                0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f};
#define DEV "sensor-0042"

static int has_aes(const iotsec_crypto *c)
{
    return iotsec_crypto_has(c, IOTSEC_CAP_AES_CBC);
}

static void derive(iotsec_frame_keys *k, const iotsec_crypto *c, const char *dev, uint8_t kid,
                   iotsec_frame_direction dir)
{
    ck_assert_int_eq(iotsec_frame_keys_derive(k, c, master, dev, strlen(dev), kid, dir),
                     IOTSEC_OK);
}

/* Seal with OpenSSL (the only backend with AES), so sodium can be tested on openssl's
 * encrypted frames too. */
static size_t seal_ref(const char *dev, uint8_t kid, iotsec_frame_direction dir, uint64_t ctr,
                       int enc, const void *p, size_t n, uint8_t *out, size_t cap)
{
    iotsec_frame_keys k;
    size_t len = 0;

    derive(&k, iotsec_crypto_openssl(), dev, kid, dir);
    ck_assert_int_eq(iotsec_frame_seal(&k, ctr, enc, enc ? iv0 : NULL, (const uint8_t *)p, n,
                                       out, cap, &len),
                     IOTSEC_OK);
    iotsec_frame_keys_cleanup(&k);
    return len;
}

static void window_state(const iotsec_replay_window *w, uint8_t st[IOTSEC_REPLAY_STATE_LEN])
{
    size_t n = 0;

    ck_assert_int_eq(iotsec_replay_encode(w, st, IOTSEC_REPLAY_STATE_LEN, &n), IOTSEC_OK);
    ck_assert_uint_eq(n, IOTSEC_REPLAY_STATE_LEN);
}

/* ---- keys ------------------------------------------------------------------------------- */

START_TEST(test_keys_derive_rfc5869)
{
    const iotsec_crypto *c = tu_backend(_i);
    iotsec_frame_keys k;
    uint8_t prk[32], mk[32], ek[16], tag[32], fr[128];
    uint8_t info[6 + 11] = {'m', 'a', 'c', 0x00, 0x01, 0x07};
    size_t n = 0;

    /* downlink, kid 7: the keys are HKDF(salt "iotsec-frame-v1", master, info) */
    memcpy(info + 6, DEV, 11);
    ck_assert_int_eq(iotsec_hkdf_sha256_extract(c, (const uint8_t *)"iotsec-frame-v1", 15, master,
                                                32, prk),
                     IOTSEC_OK);
    ck_assert_int_eq(iotsec_hkdf_sha256_expand(c, prk, info, sizeof info, mk, 32), IOTSEC_OK);
    memcpy(info, "enc", 3);
    ck_assert_int_eq(iotsec_hkdf_sha256_expand(c, prk, info, sizeof info, ek, 16), IOTSEC_OK);
    derive(&k, c, DEV, 7, IOTSEC_FRAME_DOWNLINK);
    ck_assert_mem_eq(k.enc_key, ek, 16);
    ck_assert_uint_eq(k.kid, 7);
    ck_assert_uint_eq(k.direction, IOTSEC_FRAME_DOWNLINK);
    ck_assert_uint_eq(k.device_id_len, 11);
    /* the tag of a sealed frame is HMAC(mac_key, frame without tag) */
    ck_assert_int_eq(iotsec_frame_seal(&k, 3, 0, NULL, (const uint8_t *)"x", 1, fr, sizeof fr, &n),
                     IOTSEC_OK);
    ck_assert_uint_eq(n, IOTSEC_FRAME_SEALED_LEN(11u, 1u, 0));
    ck_assert_int_eq(iotsec_hmac_sha256(c, mk, 32, fr, n - 32, tag), IOTSEC_OK);
    ck_assert_mem_eq(tag, fr + n - 32, 32);
    ck_assert_uint_eq(fr[1], IOTSEC_FRAME_FLAG_DOWNLINK);
    iotsec_frame_keys_cleanup(&k);
    {
        static const uint8_t zero[sizeof k] = {0};
        ck_assert_mem_eq(&k, zero, sizeof k);
    }
    iotsec_frame_keys_cleanup(&k); /* twice is harmless */
    iotsec_frame_keys_cleanup(NULL);
    /* a cleaned-up keys object is refused */
    ck_assert_int_eq(iotsec_frame_seal(&k, 1, 0, NULL, NULL, 0, fr, sizeof fr, &n),
                     IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_frame_open(&k, fr, n, NULL, tag, sizeof tag, &n), IOTSEC_E_INVALID_ARG);
}
END_TEST

START_TEST(test_keys_derive_invalid)
{
    const iotsec_crypto *c = tu_backend(_i);
    iotsec_frame_keys k;
    static const char *const bad[] = {"", "a b", "a/b", "a\"b", "caf\xc3\xa9", "a\\b", "a,b"};
    char id65[66];
    size_t i;

    memset(id65, 'a', 65);
    id65[65] = '\0';
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&k, 0x5a, sizeof k);
        ck_assert_int_eq(iotsec_frame_keys_derive(&k, c, master, bad[i], strlen(bad[i]), 0,
                                                  IOTSEC_FRAME_UPLINK),
                         IOTSEC_E_INVALID_ARG);
        ck_assert_ptr_null(k.crypto); /* zeroized */
        ck_assert(iotsec_device_id_check(bad[i], strlen(bad[i])) != IOTSEC_OK);
    }
    ck_assert_int_eq(iotsec_frame_keys_derive(&k, c, master, id65, 65, 0, IOTSEC_FRAME_UPLINK),
                     IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_frame_keys_derive(&k, c, master, id65, 64, 0, IOTSEC_FRAME_UPLINK),
                     IOTSEC_OK);
    iotsec_frame_keys_cleanup(&k);
    ck_assert_int_eq(iotsec_frame_keys_derive(&k, c, master, "a", 1, 0, (iotsec_frame_direction)2),
                     IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_frame_keys_derive(&k, NULL, master, "a", 1, 0, IOTSEC_FRAME_UPLINK),
                     IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_frame_keys_derive(&k, c, NULL, "a", 1, 0, IOTSEC_FRAME_UPLINK),
                     IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_frame_keys_derive(NULL, c, master, "a", 1, 0, IOTSEC_FRAME_UPLINK),
                     IOTSEC_E_INVALID_ARG);
    ck_assert(iotsec_device_id_check("A-z.0_9:x@y", 11) == IOTSEC_OK);
    /* every byte value against the character class written out */
    for (i = 0; i < 256; i++) {
        char ch = (char)i;
        int want = (i >= 'A' && i <= 'Z') || (i >= 'a' && i <= 'z') || (i >= '0' && i <= '9') ||
                   i == '.' || i == '_' || i == ':' || i == '@' || i == '-';
        ck_assert_int_eq(iotsec_device_id_check(&ch, 1) == IOTSEC_OK, want);
    }
    ck_assert(iotsec_device_id_check(NULL, 0) != IOTSEC_OK);
}
END_TEST

/* ---- round trips ---------------------------------------------------------------------------- */

static const size_t sizes[] = {0, 1, 15, 16, 17, 31, 32, 255, 256, 1000, 65535, 65536};

START_TEST(test_roundtrip_binary)
{
    const iotsec_crypto *c = tu_backend(_i);
    static uint8_t payload[65536], fr[IOTSEC_FRAME_MAX_LEN], out[65536];
    iotsec_frame_keys tx, rx;
    iotsec_frame_header h;
    size_t s, n, m;
    int enc, dir;

    tu_pattern(payload, sizeof payload, 3);
    for (dir = 0; dir < 2; dir++) {
        derive(&tx, c, DEV, 9, (iotsec_frame_direction)dir);
        derive(&rx, c, DEV, 9, (iotsec_frame_direction)dir);
        for (enc = 0; enc < 2; enc++) {
            for (s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
                int rc = iotsec_frame_seal(&tx, 1000u + s, enc, NULL, payload, sizes[s], fr,
                                           sizeof fr, &n);
                if (enc && !has_aes(c)) {
                    ck_assert_int_eq(rc, IOTSEC_E_UNSUPPORTED);
                    continue;
                }
                ck_assert_int_eq(rc, IOTSEC_OK);
                ck_assert_uint_eq(n, IOTSEC_FRAME_SEALED_LEN(11u, sizes[s], enc));
                ck_assert_int_eq(iotsec_frame_peek(fr, n, &h), IOTSEC_OK);
                ck_assert_uint_eq(h.ctr, 1000u + s);
                ck_assert_int_eq(h.encrypted, enc);
                ck_assert_uint_eq(h.direction, (unsigned)dir);
                ck_assert_uint_eq(h.kid, 9);
                ck_assert_str_eq(h.device_id, DEV);
                memset(&h, 0, sizeof h);
                ck_assert_int_eq(iotsec_frame_open(&rx, fr, n, &h, out, sizeof out, &m), IOTSEC_OK);
                ck_assert_uint_eq(m, sizes[s]);
                ck_assert(m == 0 || memcmp(out, payload, m) == 0);
                ck_assert_uint_eq(h.ctr, 1000u + s);
                ck_assert_ptr_null(h.err_field);
                /* the exact plaintext length is enough room */
                ck_assert_int_eq(iotsec_frame_open(&rx, fr, n, NULL, out, sizes[s], &m), IOTSEC_OK);
                if (sizes[s] > 0) {
                    ck_assert_int_eq(iotsec_frame_open(&rx, fr, n, NULL, out, sizes[s] - 1, &m),
                                     IOTSEC_E_BUFFER_TOO_SMALL);
                    ck_assert_uint_eq(m, 0);
                } else {
                    ck_assert_int_eq(iotsec_frame_open(&rx, fr, n, NULL, NULL, 0, &m), IOTSEC_OK);
                }
            }
        }
        iotsec_frame_keys_cleanup(&tx);
        iotsec_frame_keys_cleanup(&rx);
    }
}
END_TEST

START_TEST(test_roundtrip_json)
{
    const iotsec_crypto *c = tu_backend(_i);
    static uint8_t payload[65536], fr[IOTSEC_FRAME_MAX_LEN], fb[IOTSEC_FRAME_MAX_LEN];
    static uint8_t out[65552];
    static char js[IOTSEC_FRAME_JSON_LEN(64u, 65552u)], js2[sizeof js];
    iotsec_frame_keys tx, rx;
    iotsec_frame_header h;
    size_t s, n, jl, jl2, m;
    int enc, dir;

    tu_pattern(payload, sizeof payload, 4);
    for (dir = 0; dir < 2; dir++) {
        derive(&tx, c, DEV, 0, (iotsec_frame_direction)dir);
        derive(&rx, c, DEV, 0, (iotsec_frame_direction)dir);
        for (enc = 0; enc < 2; enc++) {
            for (s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
                size_t field = enc ? (sizes[s] / 16 + 1) * 16 : sizes[s];
                int rc = iotsec_frame_seal_json(&tx, 7 + s, enc, enc ? iv0 : NULL, payload,
                                                sizes[s], js, sizeof js, &jl);
                if (enc && !has_aes(c)) {
                    ck_assert_int_eq(rc, IOTSEC_E_UNSUPPORTED);
                    continue;
                }
                ck_assert_int_eq(rc, IOTSEC_OK);
                ck_assert_uint_eq(strlen(js), jl);
                ck_assert_uint_le(jl + 1, IOTSEC_FRAME_JSON_LEN(11u, field));
                ck_assert(dir == 0 || strstr(js, "\"dir\":\"down\"") != NULL);
                ck_assert(dir == 1 || strstr(js, "\"dir\"") == NULL);
                ck_assert_int_eq(iotsec_frame_open_json(&rx, js, jl, &h, out, field, &m), IOTSEC_OK);
                ck_assert_uint_eq(m, sizes[s]);
                ck_assert(m == 0 || memcmp(out, payload, m) == 0);
                ck_assert_uint_eq(h.ctr, 7 + s);
                ck_assert_uint_eq(h.direction, (unsigned)dir);
                /* JSON decodes the field into out: it needs the ciphertext's room */
                if (field > 0)
                    ck_assert_int_eq(iotsec_frame_open_json(&rx, js, jl, NULL, out, field - 1, &m),
                                     IOTSEC_E_BUFFER_TOO_SMALL);
                /* the same frame in binary: JSON → binary and binary → JSON are exact */
                ck_assert_int_eq(iotsec_frame_seal(&tx, 7 + s, enc, enc ? iv0 : NULL, payload,
                                                   sizes[s], fr, sizeof fr, &n),
                                 IOTSEC_OK);
                ck_assert_int_eq(iotsec_frame_from_json(js, jl, fb, sizeof fb, &m, &h), IOTSEC_OK);
                ck_assert_uint_eq(m, n);
                ck_assert_mem_eq(fb, fr, n);
                ck_assert_int_eq(iotsec_frame_from_json(js, jl, fb, n - 1, &m, &h),
                                 IOTSEC_E_BUFFER_TOO_SMALL);
                ck_assert_int_eq(iotsec_frame_to_json(fr, n, js2, sizeof js2, &jl2), IOTSEC_OK);
                ck_assert_uint_eq(jl2, jl);
                ck_assert_str_eq(js2, js);
                ck_assert_int_eq(iotsec_frame_to_json(fr, n, js2, jl, &jl2),
                                 IOTSEC_E_BUFFER_TOO_SMALL);
                ck_assert_int_eq(iotsec_frame_peek_json(js, jl, &h), IOTSEC_OK);
                ck_assert_uint_eq(h.payload_len, field);
            }
        }
        iotsec_frame_keys_cleanup(&tx);
        iotsec_frame_keys_cleanup(&rx);
    }
}
END_TEST

START_TEST(test_seal_arguments)
{
    const iotsec_crypto *c = tu_backend(_i);
    static uint8_t payload[65537], fr[IOTSEC_FRAME_MAX_LEN + 32];
    char js[256];
    iotsec_frame_keys k;
    uint8_t a[128], b[128];
    size_t n = 99, need = IOTSEC_FRAME_SEALED_LEN(11u, 5u, 0);

    derive(&k, c, DEV, 0, IOTSEC_FRAME_UPLINK);
    ck_assert_int_eq(iotsec_frame_seal(&k, 0, 0, NULL, payload, 5, fr, sizeof fr, &n),
                     IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_frame_seal(&k, 1, 0, NULL, payload, 65537, fr, sizeof fr, &n),
                     IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_frame_seal(&k, 1, 0, iv0, payload, 5, fr, sizeof fr, &n),
                     IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_frame_seal(&k, 1, 2, NULL, payload, 5, fr, sizeof fr, &n),
                     IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_frame_seal(&k, 1, 0, NULL, NULL, 5, fr, sizeof fr, &n),
                     IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_frame_seal(&k, 1, 0, NULL, payload, 5, NULL, sizeof fr, &n),
                     IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_frame_seal(&k, 1, 0, NULL, payload, 5, fr, sizeof fr, NULL),
                     IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_frame_seal(NULL, 1, 0, NULL, payload, 5, fr, sizeof fr, &n),
                     IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_frame_seal(&k, 1, 0, NULL, payload, 5, fr, need - 1, &n),
                     IOTSEC_E_BUFFER_TOO_SMALL);
    ck_assert_int_eq(iotsec_frame_seal(&k, 1, 0, NULL, payload, 5, fr, need, &n), IOTSEC_OK);
    ck_assert_uint_eq(n, need);
    ck_assert_int_eq(iotsec_frame_seal(&k, UINT64_MAX, 0, NULL, payload, 5, fr, need, &n),
                     IOTSEC_OK);
    /* JSON cannot carry counters above 2^53 − 1 */
    ck_assert_int_eq(iotsec_frame_seal_json(&k, 9007199254740992u, 0, NULL, payload, 5, js,
                                            sizeof js, &n),
                     IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_frame_to_json(fr, need, js, sizeof js, &n), IOTSEC_E_BAD_VALUE);
    ck_assert_int_eq(iotsec_frame_seal_json(&k, 1, 0, NULL, payload, 5, js, 40, &n),
                     IOTSEC_E_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(n, 0);
    if (has_aes(c)) {
        /* a NULL IV is a fresh random one each time */
        size_t na, nb;
        ck_assert_int_eq(iotsec_frame_seal(&k, 1, 1, NULL, payload, 5, a, sizeof a, &na), IOTSEC_OK);
        ck_assert_int_eq(iotsec_frame_seal(&k, 1, 1, NULL, payload, 5, b, sizeof b, &nb), IOTSEC_OK);
        ck_assert_uint_eq(na, nb);
        ck_assert(memcmp(a + 27, b + 27, 16) != 0);
        ck_assert_int_eq(iotsec_frame_seal(&k, 1, 1, iv0, payload, 5, a,
                                           IOTSEC_FRAME_SEALED_LEN(11u, 5u, 1) - 1, &na),
                         IOTSEC_E_BUFFER_TOO_SMALL);
    } else {
        ck_assert_int_eq(iotsec_frame_seal(&k, 1, 1, iv0, payload, 5, a, sizeof a, &n),
                         IOTSEC_E_UNSUPPORTED);
        ck_assert_int_eq(iotsec_frame_seal_json(&k, 1, 1, NULL, payload, 5, js, sizeof js, &n),
                         IOTSEC_E_UNSUPPORTED);
    }
    iotsec_frame_keys_cleanup(&k);
}
END_TEST

/* ---- vectors ------------------------------------------------------------------------------- */

START_TEST(test_vectors_reproduced)
{
    size_t i;

    if (iotsec_crypto_openssl() == NULL)
        return; /* the vectors need AES-CBC: generated with the OpenSSL backend */
    for (i = 0; i < gen_nfiles; i++) {
        char path[256];
        char *mem = NULL;
        size_t mlen = 0, flen = 0;
        uint8_t *committed;
        FILE *f = open_memstream(&mem, &mlen);
        ck_assert_ptr_nonnull(f);
        gen_files[i].gen(f);
        ck_assert_int_eq(fclose(f), 0);
        snprintf(path, sizeof path, "bindings-spec/vectors/%s", gen_files[i].name);
        committed = tu_read_file(path, &flen);
        ck_assert_msg(flen == mlen && memcmp(committed, mem, mlen) == 0,
                      "%s differs from a fresh run of tools/gen-vectors/gen_frames.c "
                      "(regenerate it, see the generator's header, and review the diff)",
                      path);
        free(committed);
        free(mem);
    }
}
END_TEST

/* Every backend produces the vectors' plaintext frames byte for byte and opens all of them
 * (encrypted ones: IOTSEC_E_UNSUPPORTED after the tag verified, on a backend without AES). */
START_TEST(test_vectors_every_backend)
{
    const iotsec_crypto *c = tu_backend(_i);
    size_t i;

    if (iotsec_crypto_openssl() == NULL)
        return;
    for (i = 0; i < gen_nvecs; i++) {
        const struct gen_vec *v = &gen_vecs[i];
        iotsec_frame_keys k;
        uint8_t ref[512], fr[512], out[256];
        size_t n, rn, pn, m;
        const uint8_t *p = gen_vec_payload(v, &pn);
        int rc;

        rn = gen_vec_seal(v, ref, sizeof ref);
        ck_assert_int_eq(iotsec_frame_keys_derive(&k, c, gen_master, v->device_id,
                                                  strlen(v->device_id), v->kid,
                                                  (iotsec_frame_direction)v->dir),
                         IOTSEC_OK);
        rc = iotsec_frame_seal(&k, v->ctr, v->encrypt, v->iv, p, pn, fr, sizeof fr, &n);
        rc = rc == IOTSEC_OK ? iotsec_frame_open(&k, ref, rn, NULL, out, sizeof out, &m) : rc;
        if (v->encrypt && !has_aes(c)) {
            ck_assert_int_eq(rc, IOTSEC_E_UNSUPPORTED);
            ck_assert_int_eq(iotsec_frame_open(&k, ref, rn, NULL, out, sizeof out, &m),
                             IOTSEC_E_UNSUPPORTED);
        } else {
            ck_assert_int_eq(rc, IOTSEC_OK);
            ck_assert_uint_eq(n, rn);
            ck_assert_mem_eq(fr, ref, n);
            ck_assert_uint_eq(m, pn);
            ck_assert(m == 0 || memcmp(out, p, m) == 0);
        }
        iotsec_frame_keys_cleanup(&k);
    }
}
END_TEST

/* Independent check: the openssl command-line tool recomputes the tags of the vectors from
 * the derived mac_key (itself recomputed here with HKDF) over the frame without its tag. */
START_TEST(test_vector_tags_openssl_cli)
{
    size_t i;
    char dir[256];

    if (iotsec_crypto_openssl() == NULL)
        return;
    tu_tmpdir(dir, sizeof dir);
    for (i = 0; i < gen_nvecs; i++) {
        const struct gen_vec *v = &gen_vecs[i];
        uint8_t fr[512], mk[32], ek[16];
        char path[512], hexkey[65], tag_hex[65], line[300];
        size_t n = gen_vec_seal(v, fr, sizeof fr), len = 0;
        uint8_t *got;

        gen_vec_raw_keys(v, mk, ek);
        ck_assert_int_eq(iotsec_hex_encode(mk, 32, hexkey, sizeof hexkey), IOTSEC_OK);
        ck_assert_int_eq(iotsec_hex_encode(fr + n - 32, 32, tag_hex, sizeof tag_hex), IOTSEC_OK);
        tu_write_file(dir, "body.bin", fr, n - 32, path, sizeof path);
        ck_assert_int_eq(tu_sh("openssl dgst -sha256 -mac HMAC -macopt hexkey:%s -r '%s' "
                               "> '%s/tag.txt'",
                               hexkey, path, dir),
                         0);
        snprintf(line, sizeof line, "%s/tag.txt", dir);
        got = tu_read_file(line, &len);
        ck_assert_uint_ge(len, 64);
        ck_assert_msg(memcmp(got, tag_hex, 64) == 0, "%s: openssl says %.64s, frame has %s",
                      v->name, (const char *)got, tag_hex);
        free(got);
    }
    tu_tmpdir_cleanup(dir);
}
END_TEST

/* ---- tampering -------------------------------------------------------------------------------- */

/* Every one-byte change (all 255 other values at every offset) of a valid binary frame is
 * rejected, through the checked API, and the window does not move. */
START_TEST(test_every_byte_change_binary)
{
    const iotsec_crypto *c = tu_backend(_i);
    iotsec_frame_keys rx;
    iotsec_replay_window w;
    uint8_t st0[IOTSEC_REPLAY_STATE_LEN], st1[IOTSEC_REPLAY_STATE_LEN];
    uint8_t fr[256], out[256];
    size_t n, m, i;
    unsigned x;
    int enc;

    if (iotsec_crypto_openssl() == NULL)
        return;
    derive(&rx, c, DEV, 0, IOTSEC_FRAME_UPLINK);
    for (enc = 0; enc < 2; enc++) {
        n = seal_ref(DEV, 0, IOTSEC_FRAME_UPLINK, 50, enc, "temperature=21.5", 16, fr, sizeof fr);
        ck_assert_int_eq(iotsec_replay_init(&w, 64), IOTSEC_OK);
        ck_assert_int_eq(iotsec_replay_commit(&w, 40), IOTSEC_OK);
        window_state(&w, st0);
        for (i = 0; i < n; i++) {
            uint8_t orig = fr[i];
            for (x = 1; x < 256; x++) {
                fr[i] = (uint8_t)(orig ^ x);
                m = 77;
                ck_assert_msg(iotsec_frame_open_checked(&rx, &w, fr, n, NULL, out, sizeof out,
                                                        &m) != IOTSEC_OK,
                              "byte %zu ^ %02x accepted", i, x);
                ck_assert_uint_eq(m, 0);
            }
            fr[i] = orig;
        }
        window_state(&w, st1);
        ck_assert_mem_eq(st0, st1, sizeof st0);
        /* the untouched frame still opens, and only now the window moves */
        ck_assert_int_eq(iotsec_frame_open_checked(&rx, &w, fr, n, NULL, out, sizeof out, &m),
                         enc && !has_aes(c) ? IOTSEC_E_UNSUPPORTED : IOTSEC_OK);
    }
    iotsec_frame_keys_cleanup(&rx);
}
END_TEST

START_TEST(test_every_byte_change_json)
{
    const iotsec_crypto *c = tu_backend(_i);
    iotsec_frame_keys tx, rx;
    iotsec_replay_window w;
    uint8_t st0[IOTSEC_REPLAY_STATE_LEN], st1[IOTSEC_REPLAY_STATE_LEN];
    uint8_t out[256];
    char js[512];
    size_t n, m, i;
    unsigned x;
    int enc;

    derive(&tx, iotsec_crypto_default(), DEV, 0, IOTSEC_FRAME_DOWNLINK);
    derive(&rx, c, DEV, 0, IOTSEC_FRAME_DOWNLINK);
    for (enc = 0; enc < 2; enc++) {
        if (enc && !has_aes(iotsec_crypto_default()))
            break;
        ck_assert_int_eq(iotsec_frame_seal_json(&tx, 50, enc, enc ? iv0 : NULL,
                                                (const uint8_t *)"set rate=5", 10, js, sizeof js,
                                                &n),
                         IOTSEC_OK);
        ck_assert_int_eq(iotsec_replay_init(&w, 64), IOTSEC_OK);
        window_state(&w, st0);
        for (i = 0; i < n; i++) {
            char orig = js[i];
            for (x = 1; x < 256; x++) {
                js[i] = (char)((unsigned char)orig ^ x);
                m = 77;
                ck_assert_msg(iotsec_frame_open_json_checked(&rx, &w, js, n, NULL, out,
                                                             sizeof out, &m) != IOTSEC_OK,
                              "char %zu ^ %02x accepted: %s", i, x, js);
                ck_assert_uint_eq(m, 0);
            }
            js[i] = orig;
        }
        window_state(&w, st1);
        ck_assert_mem_eq(st0, st1, sizeof st0);
    }
    iotsec_frame_keys_cleanup(&tx);
    iotsec_frame_keys_cleanup(&rx);
}
END_TEST

START_TEST(test_every_truncation)
{
    const iotsec_crypto *c = tu_backend(_i);
    iotsec_frame_keys rx;
    iotsec_frame_header h;
    uint8_t fr[256], out[256];
    char js[512];
    size_t n, m, k, jl;
    int enc;

    if (iotsec_crypto_openssl() == NULL)
        return;
    derive(&rx, c, DEV, 0, IOTSEC_FRAME_UPLINK);
    for (enc = 0; enc < 2; enc++) {
        n = seal_ref(DEV, 0, IOTSEC_FRAME_UPLINK, 5, enc, "0123456789abcdefXYZ", 19, fr, sizeof fr);
        for (k = 0; k < n; k++) {
            ck_assert_int_eq(iotsec_frame_peek(fr, k, &h), IOTSEC_E_TRUNCATED);
            ck_assert_ptr_nonnull(h.err_field);
            ck_assert_int_eq(iotsec_frame_open(&rx, fr, k, NULL, out, sizeof out, &m),
                             IOTSEC_E_TRUNCATED);
        }
        ck_assert_int_eq(iotsec_frame_to_json(fr, n, js, sizeof js, &jl), IOTSEC_OK);
        for (k = 0; k < jl; k++)
            ck_assert_int_eq(iotsec_frame_open_json(&rx, js, k, NULL, out, sizeof out, &m),
                             IOTSEC_E_TRUNCATED);
    }
    iotsec_frame_keys_cleanup(&rx);
}
END_TEST

/* Malformed frames: a precise error, the field named, and no state change. */
START_TEST(test_malformed_no_state_change)
{
    const iotsec_crypto *c = tu_backend(_i);
    iotsec_frame_keys rx;
    iotsec_replay_window w;
    iotsec_frame_header h;
    uint8_t st0[IOTSEC_REPLAY_STATE_LEN], st1[IOTSEC_REPLAY_STATE_LEN];
    uint8_t fr[256], bad[300], out[256];
    size_t n, ne, m;
    struct {
        const char *what;
        size_t off;
        uint8_t val;
        int enc;
        int delta; /* bytes added (+1) or removed (−1) at the end */
        int err;
        const char *field;
    } cases[] = {
        {"version 0", 0, 0x00, 0, 0, IOTSEC_E_BAD_VERSION, "version"},
        {"reserved flag bit 2", 1, 0x04, 0, 0, IOTSEC_E_BAD_VALUE, "flags"},
        {"reserved flag bits", 1, 0xfc, 0, 0, IOTSEC_E_BAD_VALUE, "flags"},
        {"id_len 0", 3, 0, 0, 0, IOTSEC_E_BAD_LENGTH, "id_len"},
        {"id_len 65", 3, 65, 0, 0, IOTSEC_E_BAD_LENGTH, "id_len"},
        {"id_len past the buffer", 3, 64, 0, 0, IOTSEC_E_TRUNCATED, "device_id"},
        {"payload_len 65552 (plaintext)", 24, 0x01, 0, 0, IOTSEC_E_BAD_LENGTH, "payload_len"},
        {"payload_len past the buffer", 25, 0x01, 0, 0, IOTSEC_E_TRUNCATED, "payload"},
        {"payload_len short: tag misplaced, trailing bytes", 26, 0x02, 0, 0,
         IOTSEC_E_TRAILING_DATA, "after tag"},
        {"ciphertext 33 bytes", 26, 33, 1, 0, IOTSEC_E_BAD_LENGTH, "payload_len"},
        {"ciphertext 65568 bytes", 24, 0x01, 1, 0, IOTSEC_E_BAD_LENGTH, "payload_len"},
        {"ciphertext 0 bytes", 26, 0, 1, 0, IOTSEC_E_BAD_LENGTH, "payload_len"},
        {"trailing byte", 0, 0, 0, +1, IOTSEC_E_TRAILING_DATA, "after tag"},
        {"tag one byte short", 0, 0, 0, -1, IOTSEC_E_TRUNCATED, "tag"},
    };
    size_t i;

    if (iotsec_crypto_openssl() == NULL)
        return;
    derive(&rx, c, DEV, 0, IOTSEC_FRAME_UPLINK);
    n = seal_ref(DEV, 0, IOTSEC_FRAME_UPLINK, 9, 0, "payload-of-16-by", 16, fr, sizeof fr);
    ck_assert_int_eq(iotsec_replay_init(&w, 128), IOTSEC_OK);
    ck_assert_int_eq(iotsec_replay_commit(&w, 3), IOTSEC_OK);
    window_state(&w, st0);
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t src[256];
        size_t len;
        if (cases[i].enc)
            ne = seal_ref(DEV, 0, IOTSEC_FRAME_UPLINK, 9, 1, "payload-of-16-by", 16, src, sizeof src);
        else
            memcpy(src, fr, ne = n);
        memcpy(bad, src, ne);
        len = (size_t)((long)ne + cases[i].delta);
        if (cases[i].delta > 0)
            bad[ne] = 0;
        else if (cases[i].delta == 0)
            bad[cases[i].off] = cases[i].val;
        memset(out, 0xa5, sizeof out);
        m = 1;
        ck_assert_msg(iotsec_frame_open_checked(&rx, &w, bad, len, &h, out, sizeof out, &m) ==
                          cases[i].err,
                      "%s", cases[i].what);
        ck_assert_msg(h.err_field != NULL && strcmp(h.err_field, cases[i].field) == 0,
                      "%s: field %s", cases[i].what, h.err_field ? h.err_field : "(null)");
        ck_assert_uint_eq(m, 0);
        ck_assert_uint_eq(out[0], 0xa5); /* nothing written */
        ck_assert_int_eq(iotsec_frame_peek(bad, len, &h), cases[i].err);
        window_state(&w, st1);
        ck_assert_mem_eq(st0, st1, sizeof st0);
    }
    /* the offsets name where the field starts */
    memcpy(bad, fr, n);
    bad[25] = 0x01;
    ck_assert_int_eq(iotsec_frame_peek(bad, n, &h), IOTSEC_E_TRUNCATED);
    ck_assert_uint_eq(h.err_offset, 27);
    bad[25] = 0;
    bad[24] = 0x01;
    ck_assert_int_eq(iotsec_frame_peek(bad, n, &h), IOTSEC_E_BAD_LENGTH);
    ck_assert_uint_eq(h.err_offset, 23);
    ck_assert_int_eq(iotsec_frame_peek(NULL, n, &h), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_frame_peek(fr, n, NULL), IOTSEC_E_INVALID_ARG);
    iotsec_frame_keys_cleanup(&rx);
}
END_TEST

/* ---- direction, device, kid --------------------------------------------------------------- */

START_TEST(test_direction_and_device_binding)
{
    const iotsec_crypto *c = tu_backend(_i);
    iotsec_frame_keys up, down, other, kid1;
    iotsec_frame_header h;
    uint8_t fr[256], out[256];
    char js[512];
    size_t n, m, jl;

    derive(&up, c, DEV, 0, IOTSEC_FRAME_UPLINK);
    derive(&down, c, DEV, 0, IOTSEC_FRAME_DOWNLINK);
    derive(&other, c, "sensor-0043", 0, IOTSEC_FRAME_UPLINK);
    derive(&kid1, c, DEV, 1, IOTSEC_FRAME_UPLINK);
    /* the server's downlink frame, reflected to the server's uplink receiver */
    ck_assert_int_eq(iotsec_frame_seal(&down, 5, 0, NULL, (const uint8_t *)"cmd", 3, fr, sizeof fr,
                                       &n),
                     IOTSEC_OK);
    ck_assert_int_eq(iotsec_frame_open(&up, fr, n, &h, out, sizeof out, &m), IOTSEC_E_BAD_MAC);
    ck_assert_uint_eq(h.direction, IOTSEC_FRAME_DOWNLINK); /* parsed, but untrusted */
    ck_assert_int_eq(iotsec_frame_open(&down, fr, n, NULL, out, sizeof out, &m), IOTSEC_OK);
    ck_assert_int_eq(iotsec_frame_open(&other, fr, n, NULL, out, sizeof out, &m), IOTSEC_E_BAD_MAC);
    ck_assert_int_eq(iotsec_frame_open(&kid1, fr, n, NULL, out, sizeof out, &m), IOTSEC_E_BAD_MAC);
    ck_assert_int_eq(iotsec_frame_to_json(fr, n, js, sizeof js, &jl), IOTSEC_OK);
    ck_assert_int_eq(iotsec_frame_open_json(&up, js, jl, NULL, out, sizeof out, &m),
                     IOTSEC_E_BAD_MAC);
    /* authentic under the uplink key but flagged downlink: only a key holder sealing with
     * the wrong keys can make this; the receiver still refuses it */
    ck_assert_int_eq(iotsec_frame_seal(&up, 5, 0, NULL, (const uint8_t *)"cmd", 3, fr, sizeof fr, &n),
                     IOTSEC_OK);
    fr[1] = IOTSEC_FRAME_FLAG_DOWNLINK;
    ck_assert_int_eq(iotsec_hmac_init(&up.mac), IOTSEC_OK);
    ck_assert_int_eq(iotsec_hmac_update(&up.mac, fr, n - 32), IOTSEC_OK);
    ck_assert_int_eq(iotsec_hmac_final(&up.mac, fr + n - 32), IOTSEC_OK);
    ck_assert_int_eq(iotsec_frame_open(&up, fr, n, NULL, out, sizeof out, &m),
                     IOTSEC_E_WRONG_DIRECTION);
    ck_assert_int_eq(iotsec_frame_to_json(fr, n, js, sizeof js, &jl), IOTSEC_OK);
    ck_assert_int_eq(iotsec_frame_open_json(&up, js, jl, NULL, out, sizeof out, &m),
                     IOTSEC_E_WRONG_DIRECTION);
    /* authentic under this device's key but naming another device or kid */
    ck_assert_int_eq(iotsec_frame_seal(&other, 5, 0, NULL, (const uint8_t *)"cmd", 3, fr, sizeof fr,
                                       &n),
                     IOTSEC_OK);
    ck_assert_int_eq(iotsec_hmac_init(&up.mac), IOTSEC_OK);
    ck_assert_int_eq(iotsec_hmac_update(&up.mac, fr, n - 32), IOTSEC_OK);
    ck_assert_int_eq(iotsec_hmac_final(&up.mac, fr + n - 32), IOTSEC_OK);
    ck_assert_int_eq(iotsec_frame_open(&up, fr, n, NULL, out, sizeof out, &m),
                     IOTSEC_E_WRONG_DEVICE);
    ck_assert_int_eq(iotsec_frame_seal(&kid1, 5, 0, NULL, (const uint8_t *)"cmd", 3, fr, sizeof fr,
                                       &n),
                     IOTSEC_OK);
    ck_assert_int_eq(iotsec_hmac_init(&up.mac), IOTSEC_OK);
    ck_assert_int_eq(iotsec_hmac_update(&up.mac, fr, n - 32), IOTSEC_OK);
    ck_assert_int_eq(iotsec_hmac_final(&up.mac, fr + n - 32), IOTSEC_OK);
    ck_assert_int_eq(iotsec_frame_open(&up, fr, n, NULL, out, sizeof out, &m),
                     IOTSEC_E_WRONG_DEVICE);
    iotsec_frame_keys_cleanup(&up);
    iotsec_frame_keys_cleanup(&down);
    iotsec_frame_keys_cleanup(&other);
    iotsec_frame_keys_cleanup(&kid1);
}
END_TEST

/* MAC before padding: an authentic ciphertext with broken padding is IOTSEC_E_DECRYPT, and a
 * forged one with broken padding is IOTSEC_E_BAD_MAC (no padding oracle). */
START_TEST(test_padding_after_mac)
{
    const iotsec_crypto *c = tu_backend(_i);
    iotsec_frame_keys k;
    iotsec_replay_window w;
    iotsec_aes_cbc_ctx aes;
    uint8_t fr[256], out[256], pt[32], st0[IOTSEC_REPLAY_STATE_LEN], st1[IOTSEC_REPLAY_STATE_LEN];
    size_t n, m, last;
    unsigned pad;

    if (iotsec_crypto_openssl() == NULL)
        return;
    derive(&k, c, DEV, 0, IOTSEC_FRAME_UPLINK);
    ck_assert_int_eq(iotsec_replay_init(&w, 64), IOTSEC_OK);
    window_state(&w, st0);
    /* plaintext blocks whose last byte is not a valid PKCS#7 pad (0, 17, 255, and a pad
     * of 3 preceded by a wrong byte) */
    for (pad = 0; pad < 4; pad++) {
        n = seal_ref(DEV, 0, IOTSEC_FRAME_UPLINK, 11, 1, "0123456789abcdef", 16, fr, sizeof fr);
        ck_assert_uint_eq(n, IOTSEC_FRAME_SEALED_LEN(11u, 16u, 1));
        memset(pt, 0x41, sizeof pt);
        last = sizeof pt - 1;
        pt[last] = pad == 0 ? 0 : pad == 1 ? 17 : pad == 2 ? 255 : 3;
        if (pad == 3) {
            pt[last - 1] = 3;
            pt[last - 2] = 4;
        }
        ck_assert_int_eq(iotsec_aes_cbc_init(&aes, iotsec_crypto_openssl(), IOTSEC_ENCRYPT,
                                             k.enc_key, 16, fr + 27),
                         IOTSEC_OK);
        ck_assert_int_eq(iotsec_aes_cbc_update(&aes, pt, fr + 43, sizeof pt), IOTSEC_OK);
        iotsec_aes_cbc_cleanup(&aes);
        /* forged: the old tag no longer matches */
        ck_assert_int_eq(iotsec_frame_open_checked(&k, &w, fr, n, NULL, out, sizeof out, &m),
                         IOTSEC_E_BAD_MAC);
        ck_assert_int_eq(iotsec_hmac_init(&k.mac), IOTSEC_OK);
        ck_assert_int_eq(iotsec_hmac_update(&k.mac, fr, n - 32), IOTSEC_OK);
        ck_assert_int_eq(iotsec_hmac_final(&k.mac, fr + n - 32), IOTSEC_OK);
        memset(out, 0, sizeof out);
        ck_assert_int_eq(iotsec_frame_open_checked(&k, &w, fr, n, NULL, out, sizeof out, &m),
                         has_aes(c) ? IOTSEC_E_DECRYPT : IOTSEC_E_UNSUPPORTED);
        ck_assert_uint_eq(m, 0);
        ck_assert_uint_eq(out[0], 0); /* decrypted bytes wiped */
        window_state(&w, st1);
        ck_assert_mem_eq(st0, st1, sizeof st0);
    }
    iotsec_frame_keys_cleanup(&k);
}
END_TEST

/* ---- replay through the frame API --------------------------------------------------------- */

START_TEST(test_open_checked_replay)
{
    const iotsec_crypto *c = tu_backend(_i);
    iotsec_frame_keys tx, rx;
    iotsec_replay_window w, w2;
    uint8_t frames[8][128], out[64], st[IOTSEC_REPLAY_STATE_LEN];
    size_t len[8], m, sl;
    uint64_t ctrs[8] = {1, 2, 3, 10, 8, 100, 36, 37};
    char js[512];
    size_t i, jl;

    derive(&tx, c, DEV, 0, IOTSEC_FRAME_UPLINK);
    derive(&rx, c, DEV, 0, IOTSEC_FRAME_UPLINK);
    for (i = 0; i < 8; i++)
        ck_assert_int_eq(iotsec_frame_seal(&tx, ctrs[i], 0, NULL, (const uint8_t *)"t", 1,
                                           frames[i], sizeof frames[i], &len[i]),
                         IOTSEC_OK);
    ck_assert_int_eq(iotsec_replay_init(&w, 64), IOTSEC_OK);
    for (i = 0; i < 5; i++) /* 1, 2, 3, 10, then 8: reordered inside the window */
        ck_assert_int_eq(iotsec_frame_open_checked(&rx, &w, frames[i], len[i], NULL, out,
                                                   sizeof out, &m),
                         IOTSEC_OK);
    ck_assert_uint_eq(w.highest, 10);
    /* duplicates */
    ck_assert_int_eq(iotsec_frame_open_checked(&rx, &w, frames[2], len[2], NULL, out, sizeof out, &m),
                     IOTSEC_E_REPLAY);
    ck_assert_uint_eq(m, 0);
    ck_assert_int_eq(iotsec_frame_open_checked(&rx, &w, frames[4], len[4], NULL, out, sizeof out, &m),
                     IOTSEC_E_REPLAY);
    /* the stateless open still accepts it: freshness is the checked API's job */
    ck_assert_int_eq(iotsec_frame_open(&rx, frames[4], len[4], NULL, out, sizeof out, &m), IOTSEC_OK);
    /* window persists: encode, reload, continue */
    ck_assert_int_eq(iotsec_replay_encode(&w, st, sizeof st, &sl), IOTSEC_OK);
    ck_assert_int_eq(iotsec_replay_decode(&w2, st, sl), IOTSEC_OK);
    ck_assert_int_eq(iotsec_frame_open_checked(&rx, &w2, frames[3], len[3], NULL, out, sizeof out, &m),
                     IOTSEC_E_REPLAY);
    ck_assert_int_eq(iotsec_frame_open_checked(&rx, &w2, frames[5], len[5], NULL, out, sizeof out, &m),
                     IOTSEC_OK);
    /* too old: 100 − 36 = 64 ≥ W; 37 is the oldest still inside */
    ck_assert_int_eq(iotsec_frame_open_checked(&rx, &w2, frames[6], len[6], NULL, out, sizeof out, &m),
                     IOTSEC_E_REPLAY);
    ck_assert_int_eq(iotsec_frame_open_checked(&rx, &w2, frames[7], len[7], NULL, out, sizeof out, &m),
                     IOTSEC_OK);
    /* strict mode (the seed's rule): only increasing counters */
    ck_assert_int_eq(iotsec_replay_init(&w, 0), IOTSEC_OK);
    ck_assert_int_eq(iotsec_frame_open_checked(&rx, &w, frames[3], len[3], NULL, out, sizeof out, &m),
                     IOTSEC_OK);
    ck_assert_int_eq(iotsec_frame_open_checked(&rx, &w, frames[4], len[4], NULL, out, sizeof out, &m),
                     IOTSEC_E_REPLAY);
    ck_assert_int_eq(iotsec_frame_open_checked(&rx, &w, frames[3], len[3], NULL, out, sizeof out, &m),
                     IOTSEC_E_REPLAY);
    ck_assert_int_eq(iotsec_frame_open_checked(&rx, &w, frames[5], len[5], NULL, out, sizeof out, &m),
                     IOTSEC_OK);
    /* JSON through its checked API */
    ck_assert_int_eq(iotsec_replay_init(&w, 64), IOTSEC_OK);
    ck_assert_int_eq(iotsec_frame_to_json(frames[0], len[0], js, sizeof js, &jl), IOTSEC_OK);
    ck_assert_int_eq(iotsec_frame_open_json_checked(&rx, &w, js, jl, NULL, out, sizeof out, &m),
                     IOTSEC_OK);
    ck_assert_uint_eq(m, 1);
    ck_assert_int_eq(iotsec_frame_open_json_checked(&rx, &w, js, jl, NULL, out, sizeof out, &m),
                     IOTSEC_E_REPLAY);
    ck_assert_uint_eq(m, 0);
    /* misuse */
    ck_assert_int_eq(iotsec_frame_open_checked(&rx, NULL, frames[0], len[0], NULL, out, sizeof out,
                                               &m),
                     IOTSEC_E_INVALID_ARG);
    w.window = 2000;
    ck_assert_int_eq(iotsec_frame_open_checked(&rx, &w, frames[0], len[0], NULL, out, sizeof out, &m),
                     IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_frame_open_json_checked(&rx, NULL, js, jl, NULL, out, sizeof out, &m),
                     IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_frame_open(&rx, NULL, 5, NULL, out, sizeof out, &m), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_frame_open(&rx, frames[0], len[0], NULL, NULL, 5, &m),
                     IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_frame_open(&rx, frames[0], len[0], NULL, out, sizeof out, NULL),
                     IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_frame_open_json(&rx, NULL, 5, NULL, out, sizeof out, &m),
                     IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_frame_peek_json(NULL, 5, NULL), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_frame_from_json(js, jl, NULL, 5, &m, NULL), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_frame_to_json(NULL, 5, js, sizeof js, &m), IOTSEC_E_INVALID_ARG);
    iotsec_frame_keys_cleanup(&tx);
    iotsec_frame_keys_cleanup(&rx);
}
END_TEST

/* The same order over a replay store (replay_store.h; the in-memory one here): nothing is
 * recorded for a failed frame, a rolled-back transaction forgets the counter, and store
 * errors pass through. */
START_TEST(test_open_stored)
{
    const iotsec_crypto *c = tu_backend(_i);
    iotsec_frame_keys tx, rx, other_tx, other_rx;
    iotsec_replay_mem mem;
    iotsec_replay_mem_entry table[1];
    iotsec_replay_mem_intent journal[4];
    iotsec_replay_store *st, bad = {NULL, NULL};
    uint8_t fr[6][128], forged[128], out[64];
    size_t len[6], m, i, jl;
    char js[512];

    derive(&tx, c, DEV, 2, IOTSEC_FRAME_UPLINK);
    derive(&rx, c, DEV, 2, IOTSEC_FRAME_UPLINK);
    for (i = 0; i < 6; i++)
        ck_assert_int_eq(iotsec_frame_seal(&tx, i + 1, 0, NULL, (const uint8_t *)"reading", 7,
                                           fr[i], sizeof fr[i], &len[i]),
                         IOTSEC_OK);
    ck_assert_int_eq(iotsec_replay_mem_init(&mem, table, 1, journal, 4, 64), IOTSEC_OK);
    st = iotsec_replay_mem_store(&mem);
    ck_assert_int_eq(iotsec_frame_open_stored(&rx, st, fr[1], len[1], NULL, out, sizeof out, &m),
                     IOTSEC_OK);
    ck_assert_uint_eq(m, 7);
    ck_assert_int_eq(iotsec_frame_open_stored(&rx, st, fr[0], len[0], NULL, out, sizeof out, &m),
                     IOTSEC_OK); /* reordered */
    ck_assert_int_eq(iotsec_frame_open_stored(&rx, st, fr[1], len[1], NULL, out, sizeof out, &m),
                     IOTSEC_E_REPLAY);
    ck_assert_uint_eq(m, 0);
    /* a forged frame with a huge counter records nothing: ctr 3 is still fresh */
    memcpy(forged, fr[2], len[2]);
    memset(forged + 4, 0xff, 8);
    ck_assert_int_eq(iotsec_frame_open_stored(&rx, st, forged, len[2], NULL, out, sizeof out, &m),
                     IOTSEC_E_BAD_MAC);
    ck_assert_int_eq(iotsec_replay_store_check(st, (const uint8_t *)DEV, 11, 2, 3), IOTSEC_OK);
    /* inside a transaction; a rollback forgets the counter */
    ck_assert_int_eq(iotsec_replay_store_begin(st), IOTSEC_OK);
    ck_assert_int_eq(iotsec_frame_open_stored(&rx, st, fr[2], len[2], NULL, out, sizeof out, &m),
                     IOTSEC_OK);
    ck_assert_int_eq(iotsec_frame_open_stored(&rx, st, fr[2], len[2], NULL, out, sizeof out, &m),
                     IOTSEC_E_REPLAY);
    ck_assert_int_eq(iotsec_replay_store_rollback(st), IOTSEC_OK);
    ck_assert_int_eq(iotsec_frame_open_stored(&rx, st, fr[2], len[2], NULL, out, sizeof out, &m),
                     IOTSEC_OK);
    /* JSON */
    ck_assert_int_eq(iotsec_frame_to_json(fr[3], len[3], js, sizeof js, &jl), IOTSEC_OK);
    ck_assert_int_eq(iotsec_frame_open_json_stored(&rx, st, js, jl, NULL, out, sizeof out, &m),
                     IOTSEC_OK);
    ck_assert_int_eq(iotsec_frame_open_json_stored(&rx, st, js, jl, NULL, out, sizeof out, &m),
                     IOTSEC_E_REPLAY);
    /* the store's own errors pass through: its one-entry table is full */
    derive(&other_tx, c, "sensor-0099", 0, IOTSEC_FRAME_UPLINK);
    derive(&other_rx, c, "sensor-0099", 0, IOTSEC_FRAME_UPLINK);
    ck_assert_int_eq(iotsec_frame_seal(&other_tx, 1, 0, NULL, (const uint8_t *)"x", 1, fr[5],
                                       sizeof fr[5], &len[5]),
                     IOTSEC_OK);
    memset(out, 0x77, sizeof out);
    ck_assert_int_eq(iotsec_frame_open_stored(&other_rx, st, fr[5], len[5], NULL, out, sizeof out,
                                              &m),
                     IOTSEC_E_NO_MEMORY);
    ck_assert_uint_eq(m, 0);
    /* misuse */
    ck_assert_int_eq(iotsec_frame_open_stored(&rx, NULL, fr[4], len[4], NULL, out, sizeof out, &m),
                     IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_frame_open_stored(&rx, &bad, fr[4], len[4], NULL, out, sizeof out, &m),
                     IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_frame_open_json_stored(&rx, NULL, js, jl, NULL, out, sizeof out, &m),
                     IOTSEC_E_INVALID_ARG);
    iotsec_frame_keys_cleanup(&tx);
    iotsec_frame_keys_cleanup(&rx);
    iotsec_frame_keys_cleanup(&other_tx);
    iotsec_frame_keys_cleanup(&other_rx);
}
END_TEST

/* JSON details not in the vectors: error offsets and names, whitespace limits, the longest
 * accepted text. */
#define PJ(text) iotsec_frame_peek_json((text), strlen(text), &h)

START_TEST(test_json_details)
{
    iotsec_frame_header h;
    static char big[IOTSEC_FRAME_JSON_MAX_LEN + 2];
    const char *ok = "{\"v\":1,\"device_id\":\"d\",\"kid\":0,\"ctr\":1,\"payload\":\"\","
                     "\"mac\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}";
    size_t n = strlen(ok);

    ck_assert_int_eq(iotsec_frame_peek_json(ok, n, &h), IOTSEC_OK);
    ck_assert_str_eq(h.device_id, "d");
    ck_assert_uint_eq(h.payload_len, 0);
    /* whitespace-padded up to the limit is accepted, one more byte is too long */
    memset(big, ' ', sizeof big);
    memcpy(big, ok, n);
    ck_assert_int_eq(iotsec_frame_peek_json(big, IOTSEC_FRAME_JSON_MAX_LEN, &h), IOTSEC_OK);
    ck_assert_int_eq(iotsec_frame_peek_json(big, IOTSEC_FRAME_JSON_MAX_LEN + 1, &h),
                     IOTSEC_E_BAD_LENGTH);
    /* named member and the offset of its value */
    ck_assert_int_eq(PJ("{\"v\":1,\"device_id\":\"d\",\"kid\":300,\"ctr\":1,\"payload\":\"\","
                        "\"mac\":\"\"}"),
                     IOTSEC_E_BAD_VALUE);
    ck_assert_str_eq(h.err_field, "kid");
    ck_assert_uint_eq(h.err_offset, 29);
    ck_assert_int_eq(PJ("{\"v\":1,\"x\":2}"), IOTSEC_E_UNKNOWN_CRITICAL);
    ck_assert_str_eq(h.err_field, "unknown member");
    ck_assert_uint_eq(h.err_offset, 7);
    ck_assert_int_eq(PJ("{\"v\":1}"), IOTSEC_E_MISSING_FIELD);
    ck_assert_str_eq(h.err_field, "device_id");
    ck_assert_int_eq(PJ("  "), IOTSEC_E_TRUNCATED);
    ck_assert_int_eq(PJ("{\"v\":1,\"v\":1}"), IOTSEC_E_MALFORMED);
    ck_assert_str_eq(h.err_field, "duplicate member");
    ck_assert_int_eq(PJ("{\"v\":[1]}"), IOTSEC_E_BAD_VALUE);
    ck_assert_int_eq(PJ("{\"v\":1,\"v\":1,\"a\":\"\\u0041\"}"), IOTSEC_E_BAD_ENCODING);
    ck_assert_int_eq(PJ("{\"v\":1,\"device_id\":\"d\",\"kid\":tru,\"ctr\":1,\"payload\":\"\","
                        "\"mac\":\"\"}"),
                     IOTSEC_E_BAD_VALUE);
    ck_assert_int_eq(PJ("{\"v\" :\n1 }"), IOTSEC_E_MISSING_FIELD);
    ck_assert_int_eq(PJ("{1:1}"), IOTSEC_E_BAD_ENCODING);
    ck_assert_int_eq(PJ("{\"v\":1}}"), IOTSEC_E_TRAILING_DATA);
    ck_assert_int_eq(PJ("}"), IOTSEC_E_BAD_ENCODING);
    ck_assert_int_eq(PJ("x{\"v\":1}"), IOTSEC_E_BAD_ENCODING);
    ck_assert_int_eq(PJ("\"v\""), IOTSEC_E_BAD_ENCODING);
    /* an encrypted payload field may have up to 65552 bytes (87404 base64 characters) */
    {
        size_t o = (size_t)snprintf(big, sizeof big,
                                    "{\"v\":1,\"device_id\":\"d\",\"kid\":0,\"ctr\":1,"
                                    "\"enc\":\"aes-128-cbc\",\"iv\":\"AAAAAAAAAAAAAAAAAAAAAA==\","
                                    "\"mac\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\","
                                    "\"payload\":\"");
        memset(big + o, 'A', 87408);
        memcpy(big + o + 87408, "\"}", 2); /* text longer than any valid field */
        ck_assert_int_eq(iotsec_frame_peek_json(big, o + 87410, &h), IOTSEC_E_BAD_LENGTH);
        ck_assert_str_eq(h.err_field, "payload");
        ck_assert_uint_eq(h.err_offset, o - 1);
        memcpy(big + o + 87400, "AAA=\"}", 6); /* 65552 bytes */
        ck_assert_int_eq(iotsec_frame_peek_json(big, o + 87406, &h), IOTSEC_OK);
        ck_assert_uint_eq(h.payload_len, 65552);
        memcpy(big + o + 87400, "\"}", 2); /* 65550 bytes: not whole blocks */
        ck_assert_int_eq(iotsec_frame_peek_json(big, o + 87402, &h), IOTSEC_E_BAD_LENGTH);
        memcpy(big + o + 87404, "AAAA\"}", 6); /* 65555 bytes */
        memcpy(big + o + 87400, "AAAA", 4);
        ck_assert_int_eq(iotsec_frame_peek_json(big, o + 87410, &h), IOTSEC_E_BAD_LENGTH);
    }
}
END_TEST

/* iotsec_frame_open_json decodes the payload into out before it authenticates it; when the
 * decoded field then breaks a length rule (a ciphertext that is not whole blocks, padded up
 * to a plausible size) the attacker's bytes must not stay there: "on error out is
 * zeroized", as for every other failure. */
START_TEST(test_json_open_failure_clears_out)
{
    const iotsec_crypto *c = tu_backend(_i);
    iotsec_frame_keys rx;
    iotsec_frame_header h;
    uint8_t out[64];
    size_t m = 1, i;
    /* 17 bytes 'A' (0x41): not a whole number of AES blocks */
    const char *js = "{\"v\":1,\"device_id\":\"" DEV "\",\"kid\":0,\"ctr\":5,"
                     "\"enc\":\"aes-128-cbc\",\"iv\":\"AAAAAAAAAAAAAAAAAAAAAA==\","
                     "\"payload\":\"QUFBQUFBQUFBQUFBQUFBQUE=\","
                     "\"mac\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}";

    derive(&rx, c, DEV, 0, IOTSEC_FRAME_UPLINK);
    memset(out, 0xa5, sizeof out);
    ck_assert_int_eq(iotsec_frame_open_json(&rx, js, strlen(js), &h, out, sizeof out, &m),
                     IOTSEC_E_BAD_LENGTH);
    ck_assert_str_eq(h.err_field, "payload");
    ck_assert_uint_eq(m, 0);
    for (i = 0; i < sizeof out; i++)
        ck_assert_msg(out[i] == 0 || out[i] == 0xa5, "out[%zu] = 0x%02x", i, out[i]);
    iotsec_frame_keys_cleanup(&rx);
}
END_TEST

/* out inside the frame: the payload field itself (in place) works for every frame; any other
 * overlap with an encrypted payload field would let the CBC decryption overwrite ciphertext
 * it has not read yet (or depend on how the backend walks the blocks), yielding garbage that
 * may even pass the padding check, so it is refused before anything is decrypted. */
START_TEST(test_open_out_aliasing)
{
    const iotsec_crypto *c = tu_backend(_i);
    static const int shifts[] = {-35, -16, -3, 5, 16, 31};
    iotsec_frame_keys rx;
    iotsec_replay_window w;
    uint8_t pl[100], fr[400], f2[400], st0[IOTSEC_REPLAY_STATE_LEN], st1[IOTSEC_REPLAY_STATE_LEN];
    size_t n, m, i, pf;
    int enc;

    if (iotsec_crypto_openssl() == NULL)
        return;
    tu_pattern(pl, sizeof pl, 7);
    derive(&rx, c, DEV, 0, IOTSEC_FRAME_UPLINK);
    ck_assert_int_eq(iotsec_replay_init(&w, 64), IOTSEC_OK);
    for (enc = 0; enc < 2; enc++) {
        if (enc && !has_aes(c))
            break;
        n = seal_ref(DEV, 0, IOTSEC_FRAME_UPLINK, 10u + (unsigned)enc, enc, pl, sizeof pl, fr,
                     sizeof fr);
        pf = 12u + strlen(DEV) + 4u + (enc ? 16u : 0u);
        /* in place */
        memcpy(f2, fr, n);
        ck_assert_int_eq(iotsec_frame_open(&rx, f2, n, NULL, f2 + pf, sizeof f2 - pf, &m),
                         IOTSEC_OK);
        ck_assert_uint_eq(m, sizeof pl);
        ck_assert_mem_eq(f2 + pf, pl, sizeof pl);
        for (i = 0; i < sizeof shifts / sizeof shifts[0]; i++) {
            uint8_t *out;
            int rc;
            if ((long)pf + shifts[i] < 0)
                continue; /* before the frame (the plaintext header is shorter) */
            out = f2 + (long)pf + shifts[i];
            memcpy(f2, fr, n);
            window_state(&w, st0);
            m = 1;
            rc = iotsec_frame_open_checked(&rx, &w, f2, n, NULL, out,
                                           sizeof f2 - (size_t)(out - f2), &m);
            window_state(&w, st1);
            if (!enc) { /* a plaintext payload is moved with memmove: any overlap works */
                ck_assert_int_eq(rc, IOTSEC_OK);
                ck_assert_mem_eq(out, pl, sizeof pl);
                ck_assert_int_eq(iotsec_replay_init(&w, 64), IOTSEC_OK);
                continue;
            }
            ck_assert_msg(rc == IOTSEC_E_INVALID_ARG, "shift %d: %s", shifts[i],
                          iotsec_strerror(rc));
            ck_assert_uint_eq(m, 0);
            ck_assert_mem_eq(st0, st1, sizeof st0);
            ck_assert_mem_eq(f2, fr, n); /* nothing written */
        }
    }
    iotsec_frame_keys_cleanup(&rx);
}
END_TEST

static Suite *frame_suite(void)
{
    Suite *s = suite_create("frame");
    TCase *tc = tcase_create("frame");

    tcase_set_timeout(tc, 120);
    tu_add_backend_test(tc, test_keys_derive_rfc5869);
    tu_add_backend_test(tc, test_keys_derive_invalid);
    tu_add_backend_test(tc, test_roundtrip_binary);
    tu_add_backend_test(tc, test_roundtrip_json);
    tu_add_backend_test(tc, test_seal_arguments);
    tcase_add_test(tc, test_vectors_reproduced);
    tu_add_backend_test(tc, test_vectors_every_backend);
    tcase_add_test(tc, test_vector_tags_openssl_cli);
    tu_add_backend_test(tc, test_every_byte_change_binary);
    tu_add_backend_test(tc, test_every_byte_change_json);
    tu_add_backend_test(tc, test_every_truncation);
    tu_add_backend_test(tc, test_malformed_no_state_change);
    tu_add_backend_test(tc, test_direction_and_device_binding);
    tu_add_backend_test(tc, test_padding_after_mac);
    tu_add_backend_test(tc, test_open_checked_replay);
    tu_add_backend_test(tc, test_open_stored);
    tcase_add_test(tc, test_json_details);
    tu_add_backend_test(tc, test_json_open_failure_clears_out);
    tu_add_backend_test(tc, test_open_out_aliasing);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run_suite(frame_suite()); }
