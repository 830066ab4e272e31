/* Check suite: firmware manifest v1 (bindings-spec/SPEC.md §7) — sign → verify for every algorithm and
 * backend, interoperability with the openssl command-line tool in both directions, every
 * pre-authentication and body rule with the input that breaks it, trust store and key
 * rotation, device policy, and the committed vectors (bindings-spec/vectors/manifest_v1.json),
 * regenerated here and compared byte for byte. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture_manifest.h"
#include "testutil.h"

#define VECTORS_PATH "bindings-spec/vectors/manifest_v1.json"

/* ---- helpers ---------------------------------------------------------------------------- */

/* A hand-built TLV body, for the rules the builder refuses to break. */
typedef struct body {
    uint8_t b[4096];
    size_t len;
} body;

static void tlv(body *bd, unsigned type, const void *v, size_t len)
{
    ck_assert(bd->len + 3 + len <= sizeof bd->b);
    bd->b[bd->len++] = (uint8_t)type;
    bd->b[bd->len++] = (uint8_t)(len >> 8);
    bd->b[bd->len++] = (uint8_t)len;
    if (len)
        memcpy(bd->b + bd->len, v, len);
    bd->len += len;
}

static void tlv_u64(body *bd, unsigned type, uint64_t v)
{
    uint8_t x[8];
    int i;

    for (i = 0; i < 8; i++)
        x[i] = (uint8_t)(v >> (56 - 8 * i));
    tlv(bd, type, x, 8);
}

static const uint8_t digest_a[32] = {0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7,
                                     0xA8, 0xA9, 0xAA, 0xAB, 0xAC, 0xAD, 0xAE, 0xAF,
                                     0xB0, 0xB1, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6, 0xB7,
                                     0xB8, 0xB9, 0xBA, 0xBB, 0xBC, 0xBD, 0xBE, 0xBF};

/* The required TLVs 0x01–0x05 except those whose bit is set in omit (bit t = type t). */
static void required(body *bd, unsigned omit, unsigned up_to)
{
    if (!(omit & 0x02) && up_to >= 1)
        tlv_u64(bd, 0x01, 7);
    if (!(omit & 0x04) && up_to >= 2)
        tlv(bd, 0x02, "1.0.0", 5);
    if (!(omit & 0x08) && up_to >= 3)
        tlv(bd, 0x03, "cls", 3);
    if (!(omit & 0x10) && up_to >= 4)
        tlv_u64(bd, 0x04, 1000);
    if (!(omit & 0x20) && up_to >= 5)
        tlv(bd, 0x05, digest_a, 32);
}

/* Keys of the suite, loaded per test. */
typedef struct keyset {
    iotsec_privkey sk[FX_NKEYS];
    iotsec_pubkey pk[FX_NKEYS];
    int loaded[FX_NKEYS];
} keyset;

static void keys_load(keyset *ks, const iotsec_crypto *c)
{
    int k;

    memset(ks, 0, sizeof *ks);
    for (k = 0; k < FX_NKEYS; k++) {
        int rc = fx_load_key(c, k, &ks->sk[k], &ks->pk[k]);
        if (iotsec_crypto_has(c, fx_key_cap(k))) {
            ck_assert_msg(rc == IOTSEC_OK, "%s on %s: %s", fx_key_name(k), c->name,
                          iotsec_strerror(rc));
            ks->loaded[k] = 1;
        } else {
            /* libsodium: no P-256, no RSA — documented and expected */
            ck_assert_int_eq(rc, IOTSEC_E_UNSUPPORTED);
        }
    }
}

static void keys_free(keyset *ks)
{
    int k;

    for (k = 0; k < FX_NKEYS; k++) {
        if (ks->loaded[k]) {
            iotsec_privkey_free(&ks->sk[k]);
            iotsec_pubkey_free(&ks->pk[k]);
        }
    }
}

/* A trust store of the single key k. */
static void store_one(iotsec_trust_store *ts, const keyset *ks, int k)
{
    ck_assert_int_eq(iotsec_trust_store_init(ts, &ks->pk[k], 1), IOTSEC_OK);
}

/* Sign a hand-made body with key k and verify it with a store of k: returns the verdict. */
static int verify_body(const keyset *ks, int k, const body *bd, iotsec_manifest *m,
                       uint8_t *buf, size_t *len)
{
    iotsec_trust_store ts;

    ck_assert_int_eq(iotsec_manifest_sign_body(bd->b, bd->len, &ks->sk[k], buf,
                                               IOTSEC_MANIFEST_MAX_LEN, len),
                     IOTSEC_OK);
    store_one(&ts, ks, k);
    return iotsec_manifest_verify(&ts, buf, *len, m);
}

static int body_verdict(const keyset *ks, const body *bd)
{
    uint8_t buf[IOTSEC_MANIFEST_MAX_LEN];
    iotsec_manifest m;
    size_t len = 0;

    return verify_body(ks, FX_ED25519_1, bd, &m, buf, &len);
}

static uint16_t be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }

/* ---- sign → verify ------------------------------------------------------------------------ */

START_TEST(test_sign_verify_every_algorithm)
{
    const iotsec_crypto *c = tu_backend(_i);
    keyset ks;
    int k;

    keys_load(&ks, c);
    for (k = 0; k < FX_NKEYS; k++) {
        iotsec_manifest_fields f;
        fx_storage st;
        uint8_t buf[IOTSEC_MANIFEST_MAX_LEN];
        uint8_t key_id[8];
        iotsec_manifest m;
        iotsec_trust_store ts;
        size_t len = 0, body_len = 0;
        int pass;

        if (!ks.loaded[k])
            continue;
        for (pass = 0; pass < 2; pass++) {
            if (pass == 0)
                fx_fields_minimal(&f, &st);
            else
                fx_fields_full(&f, &st);
            ck_assert_int_eq(iotsec_manifest_sign(&f, &ks.sk[k], buf, sizeof buf, &len), IOTSEC_OK);
            ck_assert_int_eq(iotsec_manifest_encode_body(&f, NULL, 0, &body_len), IOTSEC_OK);
            /* header: magic, format, sig_alg from the key, body_len, key_id */
            ck_assert(memcmp(buf, "IOTM", 4) == 0);
            ck_assert_uint_eq(buf[4], 1);
            ck_assert_uint_eq(buf[5], (unsigned)ks.sk[k].alg);
            ck_assert_uint_eq(be16(buf + 6), body_len);
            ck_assert_int_eq(iotsec_privkey_key_id(&ks.sk[k], key_id), IOTSEC_OK);
            ck_assert(memcmp(buf + 8, key_id, 8) == 0);
            ck_assert(memcmp(key_id, ks.pk[k].key_id, 8) == 0);
            ck_assert_uint_eq(be16(buf + 16 + body_len), ks.sk[k].sig_len);
            ck_assert_uint_eq(len, 16 + body_len + 2 + ks.sk[k].sig_len);

            store_one(&ts, &ks, k);
            ck_assert_int_eq(iotsec_manifest_verify(&ts, buf, len, &m), IOTSEC_OK);
            ck_assert_int_eq(m.verified, 1);
            ck_assert_int_eq((int)m.sig_alg, (int)ks.sk[k].alg);
            ck_assert(fx_fields_equal(&f, &m.f));
            /* the parsed manifest points into the buffer: no copies */
            ck_assert_ptr_eq(m.signed_data, buf);
            ck_assert_ptr_eq(m.body, buf + 16);
            ck_assert(m.f.version >= buf && m.f.version < buf + len);
            ck_assert_ptr_eq(m.signature, buf + 16 + body_len + 2);
        }
    }
    keys_free(&ks);
}
END_TEST

/* ECDSA has no low-S rule (bindings-spec/SPEC.md §7.1): (r, n − s) verifies as well as (r, s). */
START_TEST(test_ecdsa_high_s)
{
    static const uint8_t n[32] = {0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00,
                                  0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                  0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84,
                                  0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51};
    const iotsec_crypto *c = tu_backend(_i);
    iotsec_manifest_fields f;
    fx_storage st;
    uint8_t buf[IOTSEC_MANIFEST_MAX_LEN], *s;
    iotsec_trust_store ts;
    iotsec_manifest m;
    size_t len = 0;
    unsigned borrow = 0;
    int i;
    keyset ks;

    keys_load(&ks, c);
    if (!ks.loaded[FX_P256]) {
        keys_free(&ks);
        return; /* libsodium: no P-256 (keys_load asserted UNSUPPORTED) */
    }
    fx_fields_minimal(&f, &st);
    ck_assert_int_eq(iotsec_manifest_sign(&f, &ks.sk[FX_P256], buf, sizeof buf, &len), IOTSEC_OK);
    store_one(&ts, &ks, FX_P256);
    ck_assert_int_eq(iotsec_manifest_verify(&ts, buf, len, &m), IOTSEC_OK);
    s = buf + len - 32;
    for (i = 31; i >= 0; i--) { /* s := n − s */
        unsigned d = (unsigned)n[i] - s[i] - borrow;
        borrow = d >> 8 & 1u;
        s[i] = (uint8_t)d;
    }
    ck_assert_uint_eq(borrow, 0);
    ck_assert_int_eq(iotsec_manifest_verify(&ts, buf, len, &m), IOTSEC_OK);
    /* s = 0 and s = n are not signatures */
    memset(s, 0, 32);
    ck_assert_int_eq(iotsec_manifest_verify(&ts, buf, len, &m), IOTSEC_E_BAD_SIGNATURE);
    memcpy(s, n, 32);
    ck_assert_int_eq(iotsec_manifest_verify(&ts, buf, len, &m), IOTSEC_E_BAD_SIGNATURE);
    keys_free(&ks);
}
END_TEST

/* The sodium backend cannot make or load P-256 / RSA keys: UNSUPPORTED, never a silent
 * success. The openssl backend loads them; a manifest signed with them is verified by the
 * openssl backend. The Ed25519 signature of one backend verifies in the other. */
START_TEST(test_cross_backend)
{
    const iotsec_crypto *o = iotsec_crypto_openssl(), *s = iotsec_crypto_sodium();
    keyset ko, kso;
    iotsec_manifest_fields f;
    fx_storage st;
    uint8_t buf[IOTSEC_MANIFEST_MAX_LEN], buf2[IOTSEC_MANIFEST_MAX_LEN];
    size_t len = 0, len2 = 0;
    iotsec_trust_store ts;
    iotsec_manifest m;

    if (o == NULL || s == NULL)
        return; /* one backend only: nothing to cross */
    keys_load(&ko, o);
    keys_load(&kso, s);
    fx_fields_full(&f, &st);
    ck_assert_int_eq(iotsec_manifest_sign(&f, &ko.sk[FX_ED25519_1], buf, sizeof buf, &len),
                     IOTSEC_OK);
    ck_assert_int_eq(iotsec_manifest_sign(&f, &kso.sk[FX_ED25519_1], buf2, sizeof buf2, &len2),
                     IOTSEC_OK);
    /* Ed25519 is deterministic: both backends produce the same manifest */
    ck_assert_uint_eq(len, len2);
    ck_assert(memcmp(buf, buf2, len) == 0);
    store_one(&ts, &kso, FX_ED25519_1);
    ck_assert_int_eq(iotsec_manifest_verify(&ts, buf, len, &m), IOTSEC_OK);
    keys_free(&ko);
    keys_free(&kso);
}
END_TEST

/* ---- interoperability with the openssl command-line tool --------------------------------- */

/* DER ECDSA-Sig-Value → raw r||s (32 + 32). */
static void ecdsa_der_to_raw(const uint8_t *der, size_t len, uint8_t raw[64])
{
    size_t pos = 2, i;

    ck_assert(len >= 8 && der[0] == 0x30 && der[1] == len - 2);
    memset(raw, 0, 64);
    for (i = 0; i < 2; i++) {
        size_t n;
        const uint8_t *v;
        ck_assert(der[pos] == 0x02);
        n = der[pos + 1];
        v = der + pos + 2;
        ck_assert(pos + 2 + n <= len);
        while (n > 32 && *v == 0) {
            v++;
            n--;
        }
        ck_assert(n <= 32);
        memcpy(raw + 32 * i + (32 - n), v, n);
        pos += 2 + (size_t)der[pos + 1];
    }
    ck_assert_uint_eq(pos, len);
}

/* raw r||s → DER ECDSA-Sig-Value; returns its length. */
static size_t ecdsa_raw_to_der(const uint8_t raw[64], uint8_t der[72])
{
    size_t o = 2, i;

    for (i = 0; i < 2; i++) {
        const uint8_t *v = raw + 32 * i;
        size_t n = 32;
        while (n > 1 && *v == 0) {
            v++;
            n--;
        }
        der[o++] = 0x02;
        der[o++] = (uint8_t)(n + (*v & 0x80 ? 1 : 0));
        if (*v & 0x80)
            der[o++] = 0;
        memcpy(der + o, v, n);
        o += n;
    }
    der[0] = 0x30;
    der[1] = (uint8_t)(o - 2);
    return o;
}

START_TEST(test_openssl_cli_interop)
{
    const iotsec_crypto *c = tu_backend(_i);
    static const int interop_keys[] = {FX_ED25519_1, FX_P256, FX_RSA2048};
    char dir[256], path[512], pub[512], sigp[512];
    keyset ks;
    size_t i;

    keys_load(&ks, c);
    tu_tmpdir(dir, sizeof dir);
    for (i = 0; i < sizeof interop_keys / sizeof interop_keys[0]; i++) {
        int k = interop_keys[i];
        iotsec_manifest_fields f;
        fx_storage st;
        uint8_t buf[IOTSEC_MANIFEST_MAX_LEN], der[72];
        size_t len = 0, signed_len, sig_len, n = 0;
        iotsec_trust_store ts;
        iotsec_manifest m;
        uint8_t *sig;

        if (!ks.loaded[k])
            continue;
        fx_fields_full(&f, &st);
        ck_assert_int_eq(iotsec_manifest_sign(&f, &ks.sk[k], buf, sizeof buf, &len), IOTSEC_OK);
        signed_len = 16u + be16(buf + 6);
        sig_len = be16(buf + signed_len);
        tu_write_file(dir, "signed.bin", buf, signed_len, path, sizeof path);
        snprintf(pub, sizeof pub, "%s/pub.pem", dir);
        snprintf(sigp, sizeof sigp, "%s/sig.bin", dir);
        ck_assert_int_eq(tu_sh("openssl pkey -in '%s' -pubout -out '%s' 2>/dev/null",
                               fx_key_path(k), pub), 0);

        /* 1. the library's signature verifies with the openssl tool */
        if (k == FX_P256) {
            tu_write_file(dir, "sig.bin", der, ecdsa_raw_to_der(buf + signed_len + 2, der),
                          sigp, sizeof sigp);
            ck_assert_int_eq(tu_sh("openssl dgst -sha256 -verify '%s' -signature '%s' '%s' "
                                   ">/dev/null", pub, sigp, path), 0);
        } else if (k == FX_RSA2048) {
            tu_write_file(dir, "sig.bin", buf + signed_len + 2, sig_len, sigp, sizeof sigp);
            ck_assert_int_eq(
                tu_sh("openssl dgst -sha256 -verify '%s' -sigopt rsa_padding_mode:pss "
                      "-sigopt rsa_pss_saltlen:32 -sigopt rsa_mgf1_md:sha256 -signature '%s' "
                      "'%s' >/dev/null", pub, sigp, path), 0);
        } else {
            tu_write_file(dir, "sig.bin", buf + signed_len + 2, sig_len, sigp, sizeof sigp);
            ck_assert_int_eq(tu_sh("openssl pkeyutl -verify -rawin -pubin -inkey '%s' -in '%s' "
                                   "-sigfile '%s' >/dev/null", pub, path, sigp), 0);
        }
        /* and a flipped byte does not (the tool really checks) */
        buf[20] ^= 1;
        tu_write_file(dir, "signed.bin", buf, signed_len, path, sizeof path);
        if (k == FX_ED25519_1)
            ck_assert_int_ne(tu_sh("openssl pkeyutl -verify -rawin -pubin -inkey '%s' -in '%s' "
                                   "-sigfile '%s' >/dev/null 2>&1", pub, path, sigp), 0);
        else
            ck_assert_int_ne(tu_sh("openssl dgst -sha256 -verify '%s' %s -signature '%s' '%s' "
                                   ">/dev/null 2>&1", pub,
                                   k == FX_RSA2048 ? "-sigopt rsa_padding_mode:pss" : "",
                                   sigp, path), 0);
        buf[20] ^= 1;
        tu_write_file(dir, "signed.bin", buf, signed_len, path, sizeof path);

        /* 2. a signature made by the openssl tool verifies in the library */
        if (k == FX_ED25519_1)
            ck_assert_int_eq(tu_sh("openssl pkeyutl -sign -rawin -inkey '%s' -in '%s' -out '%s'",
                                   fx_key_path(k), path, sigp), 0);
        else if (k == FX_RSA2048)
            ck_assert_int_eq(tu_sh("openssl dgst -sha256 -sign '%s' -sigopt rsa_padding_mode:pss "
                                   "-sigopt rsa_pss_saltlen:32 -sigopt rsa_mgf1_md:sha256 "
                                   "-out '%s' '%s'", fx_key_path(k), sigp, path), 0);
        else
            ck_assert_int_eq(tu_sh("openssl dgst -sha256 -sign '%s' -out '%s' '%s'",
                                   fx_key_path(k), sigp, path), 0);
        sig = tu_read_file(sigp, &n);
        if (k == FX_P256) {
            ecdsa_der_to_raw(sig, n, buf + signed_len + 2);
            n = 64;
        } else {
            ck_assert_uint_eq(n, sig_len);
            memcpy(buf + signed_len + 2, sig, n);
        }
        free(sig);
        store_one(&ts, &ks, k);
        ck_assert_int_eq(iotsec_manifest_verify(&ts, buf, signed_len + 2 + n, &m), IOTSEC_OK);
        ck_assert(fx_fields_equal(&f, &m.f));
    }
    tu_tmpdir_cleanup(dir);
    keys_free(&ks);
}
END_TEST

/* ---- tampering: flips, truncation, trailing bytes ------------------------------------------- */

START_TEST(test_every_byte_flip_rejected)
{
    const iotsec_crypto *c = tu_backend(_i);
    keyset ks;
    int k;

    keys_load(&ks, c);
    for (k = 0; k < FX_NKEYS; k++) {
        iotsec_manifest_fields f;
        fx_storage st;
        uint8_t buf[IOTSEC_MANIFEST_MAX_LEN];
        iotsec_trust_store ts;
        iotsec_manifest m;
        size_t len = 0, i;
        unsigned bit;

        if (!ks.loaded[k] || k == FX_ED25519_2 || k == FX_ED25519_3)
            continue;
        fx_fields_full(&f, &st);
        ck_assert_int_eq(iotsec_manifest_sign(&f, &ks.sk[k], buf, sizeof buf, &len), IOTSEC_OK);
        store_one(&ts, &ks, k);
        for (i = 0; i < len; i++) {
            for (bit = 0; bit < 8; bit += 7) { /* lowest and highest bit of every byte */
                int rc;
                buf[i] ^= (uint8_t)(1u << bit);
                rc = iotsec_manifest_verify(&ts, buf, len, &m);
                ck_assert_msg(rc != IOTSEC_OK, "%s: flip of byte %zu bit %u accepted",
                              fx_key_name(k), i, bit);
                ck_assert_int_eq(m.verified, 0);
                buf[i] ^= (uint8_t)(1u << bit);
            }
        }
        ck_assert_int_eq(iotsec_manifest_verify(&ts, buf, len, &m), IOTSEC_OK);
    }
    keys_free(&ks);
}
END_TEST

START_TEST(test_truncation_and_trailing)
{
    const iotsec_crypto *c = tu_backend(_i);
    iotsec_manifest_fields f;
    fx_storage st;
    uint8_t buf[IOTSEC_MANIFEST_MAX_LEN + 16];
    iotsec_trust_store ts;
    iotsec_manifest m;
    size_t len = 0, cut, body_len;
    keyset ks;

    keys_load(&ks, c);
    fx_fields_full(&f, &st);
    ck_assert_int_eq(iotsec_manifest_sign(&f, &ks.sk[FX_ED25519_1], buf, sizeof buf, &len),
                     IOTSEC_OK);
    body_len = be16(buf + 6);
    store_one(&ts, &ks, FX_ED25519_1);
    for (cut = 0; cut < len; cut++) {
        int rc = iotsec_manifest_verify(&ts, buf, cut, &m);
        if (cut == 16 + body_len)
            ck_assert_int_eq(rc, IOTSEC_E_BAD_SIGNATURE); /* signature missing altogether */
        else
            ck_assert_msg(rc == IOTSEC_E_TRUNCATED, "cut at %zu: %s", cut, iotsec_strerror(rc));
    }
    /* a heap copy of exactly the cut length, so a sanitizer sees any read past it */
    for (cut = 0; cut < 40; cut++) {
        uint8_t *exact = malloc(cut ? cut : 1);
        memcpy(exact, buf, cut);
        ck_assert_int_ne(iotsec_manifest_verify(&ts, exact, cut, &m), IOTSEC_OK);
        free(exact);
    }
    buf[len] = 0;
    ck_assert_int_eq(iotsec_manifest_verify(&ts, buf, len + 1, &m), IOTSEC_E_TRAILING_DATA);
    ck_assert_int_eq(iotsec_manifest_verify(&ts, buf, len + 16, &m), IOTSEC_E_TRAILING_DATA);
    ck_assert_int_eq(iotsec_manifest_verify(&ts, buf, len, &m), IOTSEC_OK);
    keys_free(&ks);
}
END_TEST

/* Pre-authentication header rules: each is found before the signature is looked at. */
START_TEST(test_header_rules)
{
    const iotsec_crypto *c = tu_backend(_i);
    iotsec_manifest_fields f;
    fx_storage st;
    uint8_t good[IOTSEC_MANIFEST_MAX_LEN], buf[IOTSEC_MANIFEST_MAX_LEN + 600];
    iotsec_trust_store ts;
    iotsec_manifest m;
    size_t len = 0, body_len, sig_off;
    keyset ks;

    keys_load(&ks, c);
    fx_fields_minimal(&f, &st);
    ck_assert_int_eq(iotsec_manifest_sign(&f, &ks.sk[FX_ED25519_1], good, sizeof good, &len),
                     IOTSEC_OK);
    body_len = be16(good + 6);
    sig_off = 16 + body_len;
    store_one(&ts, &ks, FX_ED25519_1);

#define MUT(expr, want)                                                                       \
    do {                                                                                      \
        memcpy(buf, good, len);                                                               \
        expr;                                                                                 \
        ck_assert_int_eq(iotsec_manifest_verify(&ts, buf, blen, &m), (want));                 \
    } while (0)
    {
        size_t blen = len;
        MUT(buf[0] = 'X', IOTSEC_E_BAD_VERSION);
        MUT(buf[3] = 'm', IOTSEC_E_BAD_VERSION);
        MUT(buf[4] = 0x00, IOTSEC_E_BAD_VERSION);
        MUT(buf[4] = 0x02, IOTSEC_E_BAD_VERSION);
        MUT(buf[5] = 0x10, IOTSEC_E_UNSUPPORTED); /* reserved: ML-DSA / LMS */
        MUT(buf[5] = 0x1F, IOTSEC_E_UNSUPPORTED);
        MUT(buf[5] = 0x00, IOTSEC_E_BAD_VALUE);
        MUT(buf[5] = 0x04, IOTSEC_E_BAD_VALUE);
        MUT(buf[5] = 0x20, IOTSEC_E_BAD_VALUE);
        MUT(buf[5] = 0xFF, IOTSEC_E_BAD_VALUE);
        /* a key trusted for Ed25519 is not used for another algorithm */
        MUT(buf[5] = 0x02, IOTSEC_E_BAD_SIGNATURE);
        MUT(buf[5] = 0x03, IOTSEC_E_BAD_SIGNATURE);
        /* body_len over the maximum, and over the buffer */
        MUT((buf[6] = 0x0C, buf[7] = 0x01), IOTSEC_E_BAD_LENGTH); /* 3073 */
        MUT((buf[6] = 0xFF, buf[7] = 0xFF), IOTSEC_E_BAD_LENGTH);
        MUT((buf[6] = 0x0C, buf[7] = 0x00), IOTSEC_E_TRUNCATED); /* 3072 > buffer */
        MUT(buf[7] = (uint8_t)(buf[7] + 70), IOTSEC_E_TRUNCATED);
        /* sig_len over the maximum, zero, and over the buffer */
        MUT((buf[sig_off] = 0x02, buf[sig_off + 1] = 0x01), IOTSEC_E_BAD_LENGTH); /* 513 */
        MUT((buf[sig_off] = 0xFF, buf[sig_off + 1] = 0xFF), IOTSEC_E_BAD_LENGTH);
        MUT((buf[sig_off] = 0, buf[sig_off + 1] = 65), IOTSEC_E_TRUNCATED);
        MUT((buf[sig_off] = 0, buf[sig_off + 1] = 63), IOTSEC_E_TRAILING_DATA);
        /* unknown key id */
        MUT(buf[8] ^= 0x01, IOTSEC_E_UNKNOWN_KEY);
        MUT(buf[15] ^= 0x80, IOTSEC_E_UNKNOWN_KEY);
    }
    {
        /* sig_len 0 with nothing after it: an empty signature is an error, not a skip */
        size_t blen = sig_off + 2;
        MUT((buf[sig_off] = 0, buf[sig_off + 1] = 0), IOTSEC_E_BAD_SIGNATURE);
    }
    {
        /* sig_len 512 (the maximum) passes the length rule but is not this key's length */
        size_t blen = sig_off + 2 + 512;
        MUT((buf[sig_off] = 0x02, buf[sig_off + 1] = 0x00, memset(buf + sig_off + 2, 0, 512)),
            IOTSEC_E_BAD_SIGNATURE);
    }
    {
        /* the right length but an all-zero signature */
        size_t blen = len;
        MUT(memset(buf + sig_off + 2, 0, 64), IOTSEC_E_BAD_SIGNATURE);
    }
#undef MUT
    /* argument checks */
    ck_assert_int_eq(iotsec_manifest_verify(NULL, good, len, &m), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_manifest_verify(&ts, NULL, len, &m), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_manifest_verify(&ts, good, len, NULL), IOTSEC_E_INVALID_ARG);
    keys_free(&ks);
}
END_TEST

/* A body of exactly 3072 bytes (the maximum) verifies; one more byte is refused before the
 * signature is checked, even when correctly signed. */
START_TEST(test_body_length_limit)
{
    const iotsec_crypto *c = tu_backend(_i);
    static uint8_t filler[3200];
    uint8_t buf[IOTSEC_MANIFEST_MAX_LEN + 8];
    iotsec_trust_store ts;
    iotsec_manifest m;
    size_t len = 0, req;
    keyset ks;
    body bd;

    keys_load(&ks, c);
    memset(filler, 'd', sizeof filler);
    memset(&bd, 0, sizeof bd);
    required(&bd, 0, 5);
    req = bd.len;
    tlv(&bd, 0x80, filler, 3072 - req - 3);
    ck_assert_uint_eq(bd.len, 3072);
    ck_assert_int_eq(verify_body(&ks, FX_ED25519_1, &bd, &m, buf, &len), IOTSEC_OK);
    ck_assert_uint_eq(m.f.description_len, 3072 - req - 3);
    ck_assert_ptr_eq(m.f.description, buf + 16 + req + 3);
    ck_assert_uint_eq(len, 16 + 3072 + 2 + 64);

    /* sign_body refuses 3073 bytes; a hand-made header announcing 3073 is BAD_LENGTH */
    bd.b[bd.len++] = 'x';
    ck_assert_int_eq(iotsec_manifest_sign_body(bd.b, bd.len, &ks.sk[FX_ED25519_1], buf,
                                               sizeof buf, &len),
                     IOTSEC_E_BAD_LENGTH);
    store_one(&ts, &ks, FX_ED25519_1);
    buf[6] = 0x0C;
    buf[7] = 0x01;
    ck_assert_int_eq(iotsec_manifest_verify(&ts, buf, sizeof buf, &m), IOTSEC_E_BAD_LENGTH);
    keys_free(&ks);
}
END_TEST

/* ---- body rules (after the signature) ----------------------------------------------------- */

START_TEST(test_body_order_and_criticality)
{
    const iotsec_crypto *c = tu_backend(_i);
    uint8_t buf[IOTSEC_MANIFEST_MAX_LEN];
    iotsec_manifest m;
    size_t len = 0;
    keyset ks;
    body bd;
    unsigned t;

    keys_load(&ks, c);
    /* the canonical order verifies */
    memset(&bd, 0, sizeof bd);
    required(&bd, 0, 5);
    ck_assert_int_eq(body_verdict(&ks, &bd), IOTSEC_OK);

    /* out of order: version before security_counter */
    memset(&bd, 0, sizeof bd);
    tlv(&bd, 0x02, "1.0.0", 5);
    tlv_u64(&bd, 0x01, 7);
    tlv(&bd, 0x03, "cls", 3);
    tlv_u64(&bd, 0x04, 1000);
    tlv(&bd, 0x05, digest_a, 32);
    ck_assert_int_eq(body_verdict(&ks, &bd), IOTSEC_E_NON_CANONICAL);
    /* out of order at the end: 0x80 then 0x0C */
    memset(&bd, 0, sizeof bd);
    required(&bd, 0, 5);
    tlv(&bd, 0x80, "d", 1);
    tlv(&bd, 0x0C, "u", 1);
    ck_assert_int_eq(body_verdict(&ks, &bd), IOTSEC_E_NON_CANONICAL);
    /* duplicated security_counter; duplicated non-critical type */
    memset(&bd, 0, sizeof bd);
    tlv_u64(&bd, 0x01, 7);
    tlv_u64(&bd, 0x01, 8);
    required(&bd, 0x02, 5);
    ck_assert_int_eq(body_verdict(&ks, &bd), IOTSEC_E_NON_CANONICAL);
    memset(&bd, 0, sizeof bd);
    required(&bd, 0, 5);
    tlv(&bd, 0x90, "a", 1);
    tlv(&bd, 0x90, "a", 1);
    ck_assert_int_eq(body_verdict(&ks, &bd), IOTSEC_E_NON_CANONICAL);

    /* unknown critical types: 0x00, 0x0D … 0x7F */
    for (t = 0x0D; t < 0x80; t += 0x19) {
        memset(&bd, 0, sizeof bd);
        required(&bd, 0, 5);
        tlv(&bd, t, "z", 1);
        ck_assert_msg(body_verdict(&ks, &bd) == IOTSEC_E_UNKNOWN_CRITICAL, "type 0x%02x", t);
    }
    memset(&bd, 0, sizeof bd);
    required(&bd, 0, 5);
    tlv(&bd, 0x7F, "z", 1);
    ck_assert_int_eq(body_verdict(&ks, &bd), IOTSEC_E_UNKNOWN_CRITICAL);
    memset(&bd, 0, sizeof bd);
    tlv(&bd, 0x00, "", 0);
    required(&bd, 0, 5);
    ck_assert_int_eq(body_verdict(&ks, &bd), IOTSEC_E_UNKNOWN_CRITICAL);

    /* unknown non-critical types (≥ 0x80) are skipped; the known fields are intact */
    memset(&bd, 0, sizeof bd);
    required(&bd, 0, 5);
    tlv(&bd, 0x81, "ignored", 7);
    tlv(&bd, 0xC0, NULL, 0);
    tlv(&bd, 0xFF, digest_a, 32);
    ck_assert_int_eq(verify_body(&ks, FX_ED25519_1, &bd, &m, buf, &len), IOTSEC_OK);
    ck_assert_uint_eq(m.f.security_counter, 7);
    ck_assert_uint_eq(m.f.image_size, 1000);
    ck_assert_uint_eq(m.f.present, 0);
    /* description (0x80) is known: parsed, any bytes, may be empty */
    memset(&bd, 0, sizeof bd);
    required(&bd, 0, 5);
    tlv(&bd, 0x80, "\xff\x00", 2);
    ck_assert_int_eq(verify_body(&ks, FX_ED25519_1, &bd, &m, buf, &len), IOTSEC_OK);
    ck_assert_uint_eq(m.f.present, IOTSEC_MF_DESCRIPTION);
    ck_assert_uint_eq(m.f.description_len, 2);

    /* a TLV that runs past the body; a TLV header cut short */
    memset(&bd, 0, sizeof bd);
    required(&bd, 0, 5);
    tlv(&bd, 0x0C, "https://x", 9);
    bd.b[bd.len - 10] = 10; /* uri length 10, one more than there is */
    ck_assert_int_eq(body_verdict(&ks, &bd), IOTSEC_E_TRUNCATED);
    memset(&bd, 0, sizeof bd);
    required(&bd, 0, 5);
    bd.b[bd.len++] = 0x0C;
    bd.b[bd.len++] = 0x00;
    ck_assert_int_eq(body_verdict(&ks, &bd), IOTSEC_E_TRUNCATED);
    keys_free(&ks);
}
END_TEST

START_TEST(test_body_required_fields)
{
    const iotsec_crypto *c = tu_backend(_i);
    uint8_t enc[25] = {0x01};
    keyset ks;
    body bd;
    unsigned t;

    keys_load(&ks, c);
    memset(&bd, 0, sizeof bd);
    ck_assert_int_eq(body_verdict(&ks, &bd), IOTSEC_E_MISSING_FIELD); /* empty body */
    for (t = 1; t <= 5; t++) {
        memset(&bd, 0, sizeof bd);
        required(&bd, 1u << t, 5);
        ck_assert_msg(body_verdict(&ks, &bd) == IOTSEC_E_MISSING_FIELD, "without 0x%02x", t);
    }
    /* 0x08 ⇒ 0x09 and 0x0A */
    memset(&bd, 0, sizeof bd);
    required(&bd, 0, 5);
    tlv(&bd, 0x08, enc, 25);
    tlv_u64(&bd, 0x09, 1008);
    ck_assert_int_eq(body_verdict(&ks, &bd), IOTSEC_E_MISSING_FIELD);
    memset(&bd, 0, sizeof bd);
    required(&bd, 0, 5);
    tlv(&bd, 0x08, enc, 25);
    tlv(&bd, 0x0A, digest_a, 32);
    ck_assert_int_eq(body_verdict(&ks, &bd), IOTSEC_E_MISSING_FIELD);
    memset(&bd, 0, sizeof bd);
    required(&bd, 0, 5);
    tlv(&bd, 0x08, enc, 25);
    tlv_u64(&bd, 0x09, 1008);
    tlv(&bd, 0x0A, digest_a, 32);
    ck_assert_int_eq(body_verdict(&ks, &bd), IOTSEC_OK);
    /* 0x09 / 0x0A without 0x08 describe nothing */
    memset(&bd, 0, sizeof bd);
    required(&bd, 0, 5);
    tlv_u64(&bd, 0x09, 1008);
    ck_assert_int_eq(body_verdict(&ks, &bd), IOTSEC_E_BAD_VALUE);
    memset(&bd, 0, sizeof bd);
    required(&bd, 0, 5);
    tlv(&bd, 0x0A, digest_a, 32);
    ck_assert_int_eq(body_verdict(&ks, &bd), IOTSEC_E_BAD_VALUE);
    keys_free(&ks);
}
END_TEST

/* One TLV with a given value appended after the required ones (or replacing one). */
static int verdict_with(const keyset *ks, unsigned type, const void *v, size_t len)
{
    body bd;

    memset(&bd, 0, sizeof bd);
    if (type <= 5) {
        required(&bd, 0, type - 1);
        tlv(&bd, type, v, len);
        required(&bd, (1u << (type + 1)) - 1u, 5);
    } else {
        required(&bd, 0, 5);
        tlv(&bd, type, v, len);
    }
    return body_verdict(ks, &bd);
}

static int verdict_u64(const keyset *ks, unsigned type, uint64_t v)
{
    uint8_t x[8];
    int i;

    for (i = 0; i < 8; i++)
        x[i] = (uint8_t)(v >> (56 - 8 * i));
    return verdict_with(ks, type, x, 8);
}

START_TEST(test_body_lengths_and_values)
{
    const iotsec_crypto *c = tu_backend(_i);
    static const uint8_t big[300] = {'a'};
    uint8_t str[300];
    uint8_t enc[25] = {0x01};
    body bd;
    keyset ks;

    keys_load(&ks, c);
    memset(str, 'v', sizeof str);
    /* fixed lengths */
    ck_assert_int_eq(verdict_with(&ks, 0x01, big, 7), IOTSEC_E_BAD_LENGTH);
    ck_assert_int_eq(verdict_with(&ks, 0x01, big, 9), IOTSEC_E_BAD_LENGTH);
    ck_assert_int_eq(verdict_with(&ks, 0x04, big, 4), IOTSEC_E_BAD_LENGTH);
    ck_assert_int_eq(verdict_with(&ks, 0x05, big, 31), IOTSEC_E_BAD_LENGTH);
    ck_assert_int_eq(verdict_with(&ks, 0x05, big, 33), IOTSEC_E_BAD_LENGTH);
    ck_assert_int_eq(verdict_with(&ks, 0x07, big, 4), IOTSEC_E_BAD_LENGTH);
    ck_assert_int_eq(verdict_with(&ks, 0x08, enc, 24), IOTSEC_E_BAD_LENGTH);
    ck_assert_int_eq(verdict_with(&ks, 0x0B, big, 2), IOTSEC_E_BAD_LENGTH);
    /* ranges of lengths */
    ck_assert_int_eq(verdict_with(&ks, 0x02, str, 0), IOTSEC_E_BAD_LENGTH);
    ck_assert_int_eq(verdict_with(&ks, 0x02, str, 32), IOTSEC_OK);
    ck_assert_int_eq(verdict_with(&ks, 0x02, str, 33), IOTSEC_E_BAD_LENGTH);
    ck_assert_int_eq(verdict_with(&ks, 0x03, str, 0), IOTSEC_E_BAD_LENGTH);
    ck_assert_int_eq(verdict_with(&ks, 0x03, str, 64), IOTSEC_OK);
    ck_assert_int_eq(verdict_with(&ks, 0x03, str, 65), IOTSEC_E_BAD_LENGTH);
    ck_assert_int_eq(verdict_with(&ks, 0x06, str, 0), IOTSEC_E_BAD_LENGTH);
    ck_assert_int_eq(verdict_with(&ks, 0x06, str, 64), IOTSEC_OK);
    ck_assert_int_eq(verdict_with(&ks, 0x06, str, 65), IOTSEC_E_BAD_LENGTH);
    ck_assert_int_eq(verdict_with(&ks, 0x0C, str, 0), IOTSEC_E_BAD_LENGTH);
    ck_assert_int_eq(verdict_with(&ks, 0x0C, str, 256), IOTSEC_OK);
    ck_assert_int_eq(verdict_with(&ks, 0x0C, str, 257), IOTSEC_E_BAD_LENGTH);
    /* values */
    ck_assert_int_eq(verdict_u64(&ks, 0x01, 0), IOTSEC_OK);
    ck_assert_int_eq(verdict_u64(&ks, 0x01, UINT64_MAX - 1), IOTSEC_OK);
    ck_assert_int_eq(verdict_u64(&ks, 0x01, UINT64_MAX), IOTSEC_E_COUNTER_EXHAUSTED);
    ck_assert_int_eq(verdict_u64(&ks, 0x04, 0), IOTSEC_E_BAD_VALUE);
    ck_assert_int_eq(verdict_u64(&ks, 0x04, 1), IOTSEC_OK);
    ck_assert_int_eq(verdict_u64(&ks, 0x04, 4294967296u), IOTSEC_OK);
    ck_assert_int_eq(verdict_u64(&ks, 0x04, 4294967297u), IOTSEC_E_BAD_VALUE);
    ck_assert_int_eq(verdict_u64(&ks, 0x04, UINT64_MAX), IOTSEC_E_BAD_VALUE);
    ck_assert_int_eq(verdict_u64(&ks, 0x07, 0), IOTSEC_OK);
    ck_assert_int_eq(verdict_u64(&ks, 0x07, UINT64_MAX), IOTSEC_OK);
    ck_assert_int_eq(verdict_with(&ks, 0x0B, "\x00\x00\x00\xff", 4), IOTSEC_E_BAD_VALUE);
    ck_assert_int_eq(verdict_with(&ks, 0x0B, "\x00\x00\x01\x00", 4), IOTSEC_OK);
    ck_assert_int_eq(verdict_with(&ks, 0x0B, "\x00\x01\x00\x00", 4), IOTSEC_OK);
    ck_assert_int_eq(verdict_with(&ks, 0x0B, "\x00\x01\x00\x01", 4), IOTSEC_E_BAD_VALUE);
    ck_assert_int_eq(verdict_with(&ks, 0x0B, "\xff\xff\xff\xff", 4), IOTSEC_E_BAD_VALUE);
    /* version: strict UTF-8 (RFC 3629) */
    ck_assert_int_eq(verdict_with(&ks, 0x02, "1.0-\xc3\xa9", 6), IOTSEC_OK);       /* é */
    ck_assert_int_eq(verdict_with(&ks, 0x02, "\xe2\x82\xac", 3), IOTSEC_OK);      /* € */
    ck_assert_int_eq(verdict_with(&ks, 0x02, "\xf0\x9f\x98\x80", 4), IOTSEC_OK);  /* U+1F600 */
    ck_assert_int_eq(verdict_with(&ks, 0x02, "\x80", 1), IOTSEC_E_BAD_VALUE);     /* lone cont. */
    ck_assert_int_eq(verdict_with(&ks, 0x02, "\xc0\x80", 2), IOTSEC_E_BAD_VALUE); /* overlong */
    ck_assert_int_eq(verdict_with(&ks, 0x02, "\xe0\x80\xaf", 3), IOTSEC_E_BAD_VALUE);
    ck_assert_int_eq(verdict_with(&ks, 0x02, "\xed\xa0\x80", 3), IOTSEC_E_BAD_VALUE); /* D800 */
    ck_assert_int_eq(verdict_with(&ks, 0x02, "\xf4\x90\x80\x80", 4), IOTSEC_E_BAD_VALUE);
    ck_assert_int_eq(verdict_with(&ks, 0x02, "\xf5\x80\x80\x80", 4), IOTSEC_E_BAD_VALUE);
    ck_assert_int_eq(verdict_with(&ks, 0x02, "1.\xe2\x82", 4), IOTSEC_E_BAD_VALUE); /* cut */
    ck_assert_int_eq(verdict_with(&ks, 0x02, "\xe2\x28\xa1", 3), IOTSEC_E_BAD_VALUE);
    /* encryption: unknown algorithm; payload_size must be image_size + PKCS#7 padding */
    memset(&bd, 0, sizeof bd);
    required(&bd, 0, 5);
    enc[0] = 0x02;
    tlv(&bd, 0x08, enc, 25);
    tlv_u64(&bd, 0x09, 1008);
    tlv(&bd, 0x0A, digest_a, 32);
    ck_assert_int_eq(body_verdict(&ks, &bd), IOTSEC_E_UNSUPPORTED);
    enc[0] = 0x01;
    {
        static const uint64_t bad_sizes[] = {1000, 1007, 1009, 1024, 0, 16};
        size_t i;
        for (i = 0; i < sizeof bad_sizes / sizeof bad_sizes[0]; i++) {
            memset(&bd, 0, sizeof bd);
            required(&bd, 0, 5); /* image_size 1000 */
            tlv(&bd, 0x08, enc, 25);
            tlv_u64(&bd, 0x09, bad_sizes[i]);
            tlv(&bd, 0x0A, digest_a, 32);
            ck_assert_int_eq(body_verdict(&ks, &bd), IOTSEC_E_BAD_VALUE);
        }
    }
    keys_free(&ks);
}
END_TEST

/* ---- builder ---------------------------------------------------------------------------- */

START_TEST(test_builder_checks)
{
    const iotsec_crypto *c = tu_backend(_i);
    static uint8_t desc[3100];
    iotsec_manifest_fields f, g;
    fx_storage st;
    uint8_t buf[IOTSEC_MANIFEST_MAX_LEN];
    size_t len = 0, body_len = 0;
    keyset ks;

    keys_load(&ks, c);
    fx_fields_full(&f, &st);
    ck_assert_int_eq(iotsec_manifest_fields_check(&f), IOTSEC_OK);
    ck_assert_int_eq(iotsec_manifest_fields_check(NULL), IOTSEC_E_INVALID_ARG);

#define BAD(mut, want)                                                                        \
    do {                                                                                      \
        g = f;                                                                                \
        mut;                                                                                  \
        ck_assert_int_eq(iotsec_manifest_fields_check(&g), (want));                           \
        ck_assert_int_eq(iotsec_manifest_sign(&g, &ks.sk[FX_ED25519_1], buf, sizeof buf, &len), \
                         (want));                                                             \
    } while (0)
    BAD(g.version = NULL, IOTSEC_E_MISSING_FIELD);
    BAD(g.device_class = NULL, IOTSEC_E_MISSING_FIELD);
    BAD(g.image_digest = NULL, IOTSEC_E_MISSING_FIELD);
    BAD(g.enc_iv = NULL, IOTSEC_E_MISSING_FIELD);
    BAD(g.payload_digest = NULL, IOTSEC_E_MISSING_FIELD);
    BAD(g.device_id = NULL, IOTSEC_E_MISSING_FIELD);
    BAD(g.uri = NULL, IOTSEC_E_MISSING_FIELD);
    BAD(g.present |= 0x40, IOTSEC_E_MISSING_FIELD);
    BAD(g.security_counter = UINT64_MAX, IOTSEC_E_COUNTER_EXHAUSTED);
    BAD(g.version_len = 0, IOTSEC_E_BAD_LENGTH);
    BAD(g.version_len = 33, IOTSEC_E_BAD_LENGTH);
    BAD((g.version = (const uint8_t *)"\xff", g.version_len = 1), IOTSEC_E_BAD_VALUE);
    BAD(g.device_class_len = 65, IOTSEC_E_BAD_LENGTH);
    BAD(g.device_id_len = 0, IOTSEC_E_BAD_LENGTH);
    BAD(g.uri_len = 257, IOTSEC_E_BAD_LENGTH);
    BAD(g.image_size = 0, IOTSEC_E_BAD_VALUE);
    BAD((g.image_size = 4294967297u, g.present &= ~IOTSEC_MF_ENCRYPTION), IOTSEC_E_BAD_VALUE);
    BAD(g.chunk_size = 255, IOTSEC_E_BAD_VALUE);
    BAD(g.chunk_size = 65537, IOTSEC_E_BAD_VALUE);
    BAD(g.payload_size = 1000, IOTSEC_E_BAD_VALUE);
    BAD(g.enc_alg = 0x02, IOTSEC_E_UNSUPPORTED);
    /* a description that makes the body longer than 3072 bytes */
    BAD((g.description = desc, g.description_len = 3000), IOTSEC_E_BAD_LENGTH);
    BAD((g.description = desc, g.description_len = sizeof desc), IOTSEC_E_BAD_LENGTH);
#undef BAD
    /* absent optional fields are ignored whatever their members hold */
    g = f;
    g.present = 0;
    g.uri = NULL;
    g.device_id_len = 999;
    ck_assert_int_eq(iotsec_manifest_fields_check(&g), IOTSEC_OK);

    /* capacities: counting, exact, one short */
    ck_assert_int_eq(iotsec_manifest_encode_body(&f, NULL, 0, &body_len), IOTSEC_OK);
    ck_assert_int_eq(iotsec_manifest_encode_body(&f, buf, body_len, &len), IOTSEC_OK);
    ck_assert_uint_eq(len, body_len);
    ck_assert_int_eq(iotsec_manifest_encode_body(&f, buf, body_len - 1, &len),
                     IOTSEC_E_BUFFER_TOO_SMALL);
    ck_assert_int_eq(iotsec_manifest_sign(&f, &ks.sk[FX_ED25519_1], buf, 16 + body_len + 2 + 64,
                                          &len), IOTSEC_OK);
    ck_assert_int_eq(iotsec_manifest_sign(&f, &ks.sk[FX_ED25519_1], buf, 16 + body_len + 2 + 63,
                                          &len), IOTSEC_E_BUFFER_TOO_SMALL);
    ck_assert_int_eq(iotsec_manifest_sign(&f, &ks.sk[FX_ED25519_1], buf, 15, &len),
                     IOTSEC_E_BUFFER_TOO_SMALL);
    ck_assert_int_eq(iotsec_manifest_sign(&f, &ks.sk[FX_ED25519_1], buf, 16 + body_len - 1, &len),
                     IOTSEC_E_BUFFER_TOO_SMALL);
    ck_assert_int_eq(iotsec_manifest_sign(NULL, &ks.sk[FX_ED25519_1], buf, sizeof buf, &len),
                     IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_manifest_sign_body(NULL, 5, &ks.sk[FX_ED25519_1], buf, sizeof buf,
                                               &len), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_manifest_sign_body(buf, 100, &ks.sk[FX_ED25519_1], buf, 115, &len),
                     IOTSEC_E_BUFFER_TOO_SMALL);
    ck_assert_int_eq(iotsec_manifest_encode_body(&f, buf, sizeof buf, NULL), IOTSEC_E_INVALID_ARG);

    /* canonical bytes of the minimal body, written out by hand */
    {
        static const char want_hex[] =
            "010008 0000000000000007"
            "020005 312e342e32"
            "03000d 65636f776174742d6573703332"
            "040008 00000000000003e8"
            "050020 a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf";
        size_t want_len = 0;
        uint8_t *want = tu_hex(want_hex, &want_len);
        fx_fields_minimal(&g, &st);
        ck_assert_int_eq(iotsec_manifest_encode_body(&g, buf, sizeof buf, &len), IOTSEC_OK);
        ck_assert_uint_eq(len, want_len);
        ck_assert(memcmp(buf, want, len) == 0);
        free(want);
    }
    keys_free(&ks);
}
END_TEST

/* A backend whose signer misbehaves (OpenSSL otherwise): the signer must not trust the
 * length a backend reports. */
static int sign_empty(const iotsec_privkey *sk, const uint8_t *msg, size_t msg_len, uint8_t *sig,
                      size_t sig_cap, size_t *sig_len)
{
    (void)sk;
    (void)msg;
    (void)msg_len;
    (void)sig;
    (void)sig_cap;
    *sig_len = 0;
    return IOTSEC_OK;
}

START_TEST(test_signer_distrusts_backend)
{
    const iotsec_crypto *o = iotsec_crypto_openssl();
    iotsec_crypto fake;
    iotsec_manifest_fields f;
    fx_storage st;
    iotsec_privkey sk;
    uint8_t buf[IOTSEC_MANIFEST_MAX_LEN];
    size_t len = 0, i;
    int nonzero = 0;

    ck_assert_ptr_nonnull(o);
    fake = *o;
    fake.sign = sign_empty;
    ck_assert_int_eq(iotsec_privkey_load_file(&sk, &fake, fx_key_path(FX_ED25519_1)), IOTSEC_OK);
    fx_fields_minimal(&f, &st);
    memset(buf, 0xEE, sizeof buf);
    ck_assert_int_eq(iotsec_manifest_sign(&f, &sk, buf, sizeof buf, &len), IOTSEC_E_BACKEND);
    for (i = 0; i < sizeof buf; i++)
        nonzero |= buf[i];
    ck_assert_int_eq(nonzero, 0); /* nothing half-signed is left in the buffer */
    /* a key that was never loaded (sig_len 0) is refused before any signing */
    iotsec_privkey_free(&sk);
    memset(&sk, 0, sizeof sk);
    sk.crypto = o;
    ck_assert_int_eq(iotsec_manifest_sign(&f, &sk, buf, sizeof buf, &len), IOTSEC_E_BAD_KEY);
}
END_TEST

/* ---- trust store and rotation ---------------------------------------------------------------- */

START_TEST(test_trust_store_rotation)
{
    const iotsec_crypto *c = tu_backend(_i);
    iotsec_manifest_fields f;
    fx_storage st;
    uint8_t m1[IOTSEC_MANIFEST_MAX_LEN], m2[IOTSEC_MANIFEST_MAX_LEN], m3[IOTSEC_MANIFEST_MAX_LEN];
    size_t l1 = 0, l2 = 0, l3 = 0;
    iotsec_pubkey trusted[2], dup[3];
    iotsec_trust_store ts;
    iotsec_manifest m;
    keyset ks;

    keys_load(&ks, c);
    fx_fields_minimal(&f, &st);
    ck_assert_int_eq(iotsec_manifest_sign(&f, &ks.sk[FX_ED25519_1], m1, sizeof m1, &l1), IOTSEC_OK);
    ck_assert_int_eq(iotsec_manifest_sign(&f, &ks.sk[FX_ED25519_2], m2, sizeof m2, &l2), IOTSEC_OK);
    ck_assert_int_eq(iotsec_manifest_sign(&f, &ks.sk[FX_ED25519_3], m3, sizeof m3, &l3), IOTSEC_OK);

    /* old and new key both trusted during the rotation; the third is unknown */
    trusted[0] = ks.pk[FX_ED25519_1];
    trusted[1] = ks.pk[FX_ED25519_2];
    ck_assert_int_eq(iotsec_trust_store_init(&ts, trusted, 2), IOTSEC_OK);
    ck_assert_int_eq(iotsec_manifest_verify(&ts, m1, l1, &m), IOTSEC_OK);
    ck_assert(memcmp(m.key_id, ks.pk[FX_ED25519_1].key_id, 8) == 0);
    ck_assert_int_eq(iotsec_manifest_verify(&ts, m2, l2, &m), IOTSEC_OK);
    ck_assert(memcmp(m.key_id, ks.pk[FX_ED25519_2].key_id, 8) == 0);
    ck_assert_int_eq(iotsec_manifest_verify(&ts, m3, l3, &m), IOTSEC_E_UNKNOWN_KEY);
    /* after the rotation only the new key */
    ck_assert_int_eq(iotsec_trust_store_init(&ts, &trusted[1], 1), IOTSEC_OK);
    ck_assert_int_eq(iotsec_manifest_verify(&ts, m1, l1, &m), IOTSEC_E_UNKNOWN_KEY);
    ck_assert_int_eq(iotsec_manifest_verify(&ts, m2, l2, &m), IOTSEC_OK);
    /* a key id in the header that names key 2 over a body signed by key 1 */
    memcpy(m1 + 8, ks.pk[FX_ED25519_2].key_id, 8);
    ck_assert_int_eq(iotsec_manifest_verify(&ts, m1, l1, &m), IOTSEC_E_BAD_SIGNATURE);

    /* duplicate key ids are refused when the store is made */
    dup[0] = ks.pk[FX_ED25519_1];
    dup[1] = ks.pk[FX_ED25519_2];
    dup[2] = ks.pk[FX_ED25519_1];
    ck_assert_int_eq(iotsec_trust_store_init(&ts, dup, 3), IOTSEC_E_BAD_KEY);
    ck_assert_ptr_null(ts.keys);
    ck_assert_uint_eq(ts.count, 0);
    ck_assert_int_eq(iotsec_manifest_verify(&ts, m2, l2, &m), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_trust_store_init(&ts, dup, 0), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_trust_store_init(&ts, NULL, 1), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_trust_store_init(NULL, dup, 1), IOTSEC_E_INVALID_ARG);
    memset(&dup[0], 0, sizeof dup[0]);
    ck_assert_int_eq(iotsec_trust_store_init(&ts, dup, 2), IOTSEC_E_INVALID_ARG);

    /* mixed algorithms in one store (openssl): each manifest finds its own key */
    if (ks.loaded[FX_P256] && ks.loaded[FX_RSA2048]) {
        iotsec_pubkey mixed[3];
        mixed[0] = ks.pk[FX_RSA2048];
        mixed[1] = ks.pk[FX_P256];
        mixed[2] = ks.pk[FX_ED25519_3];
        ck_assert_int_eq(iotsec_trust_store_init(&ts, mixed, 3), IOTSEC_OK);
        ck_assert_int_eq(iotsec_manifest_verify(&ts, m3, l3, &m), IOTSEC_OK);
        ck_assert_int_eq(iotsec_manifest_sign(&f, &ks.sk[FX_P256], m1, sizeof m1, &l1), IOTSEC_OK);
        ck_assert_int_eq(iotsec_manifest_verify(&ts, m1, l1, &m), IOTSEC_OK);
        ck_assert_int_eq(iotsec_manifest_sign(&f, &ks.sk[FX_RSA2048], m1, sizeof m1, &l1),
                         IOTSEC_OK);
        ck_assert_int_eq(iotsec_manifest_verify(&ts, m1, l1, &m), IOTSEC_OK);
        /* RSA key id, header claiming Ed25519 */
        m1[5] = 0x01;
        ck_assert_int_eq(iotsec_manifest_verify(&ts, m1, l1, &m), IOTSEC_E_BAD_SIGNATURE);
    }
    keys_free(&ks);
}
END_TEST

/* ---- policy ------------------------------------------------------------------------------------ */

START_TEST(test_policy)
{
    const iotsec_crypto *c = tu_backend(_i);
    iotsec_manifest_fields f;
    fx_storage st;
    uint8_t buf[IOTSEC_MANIFEST_MAX_LEN], plain_buf[IOTSEC_MANIFEST_MAX_LEN];
    size_t len = 0, plain_len = 0;
    iotsec_trust_store ts;
    iotsec_manifest m, plain, unverified;
    iotsec_device_policy p, q;
    keyset ks;

    keys_load(&ks, c);
    fx_fields_full(&f, &st); /* class ecowatt-esp32, device dev-0042, not_after 1900000000,
                                counter 7 */
    ck_assert_int_eq(iotsec_manifest_sign(&f, &ks.sk[FX_ED25519_1], buf, sizeof buf, &len),
                     IOTSEC_OK);
    fx_fields_minimal(&f, &st);
    ck_assert_int_eq(iotsec_manifest_sign(&f, &ks.sk[FX_ED25519_1], plain_buf, sizeof plain_buf,
                                          &plain_len), IOTSEC_OK);
    store_one(&ts, &ks, FX_ED25519_1);
    ck_assert_int_eq(iotsec_manifest_verify(&ts, buf, len, &m), IOTSEC_OK);
    ck_assert_int_eq(iotsec_manifest_verify(&ts, plain_buf, plain_len, &plain), IOTSEC_OK);

    memset(&p, 0, sizeof p);
    p.device_class = (const uint8_t *)"ecowatt-esp32";
    p.device_class_len = 13;
    p.device_id = (const uint8_t *)"dev-0042";
    p.device_id_len = 8;
    p.now = 1900000000u;
    p.stored_counter = 7;
    ck_assert_int_eq(iotsec_manifest_check_policy(&m, &p), IOTSEC_OK);

#define POL(mut, want)                                                                        \
    do {                                                                                      \
        q = p;                                                                                \
        mut;                                                                                  \
        ck_assert_int_eq(iotsec_manifest_check_policy(&m, &q), (want));                       \
    } while (0)
    POL(q.device_class_len = 12, IOTSEC_E_WRONG_TARGET);
    POL(q.device_class = (const uint8_t *)"ecowatt-esp33", IOTSEC_E_WRONG_TARGET);
    POL((q.device_class = (const uint8_t *)"ecowatt-esp32x", q.device_class_len = 14),
        IOTSEC_E_WRONG_TARGET);
    POL(q.skip = IOTSEC_POLICY_SKIP_CLASS, IOTSEC_OK);
    POL((q.device_class = NULL, q.device_class_len = 0, q.skip = IOTSEC_POLICY_SKIP_CLASS),
        IOTSEC_OK);
    POL(q.device_id = (const uint8_t *)"dev-0043", IOTSEC_E_WRONG_DEVICE);
    POL(q.device_id_len = 7, IOTSEC_E_WRONG_DEVICE);
    /* no device id configured: a manifest bound to a device is refused (fail closed) */
    POL((q.device_id = NULL, q.device_id_len = 0), IOTSEC_E_WRONG_DEVICE);
    POL(q.now = 1900000001u, IOTSEC_E_EXPIRED);
    POL(q.now = UINT64_MAX, IOTSEC_E_EXPIRED);
    POL(q.now = 0, IOTSEC_OK);
    /* the boot-time re-check of an installed image may skip expiry, and only expiry */
    POL((q.now = UINT64_MAX, q.skip = IOTSEC_POLICY_SKIP_EXPIRY), IOTSEC_OK);
    POL((q.now = UINT64_MAX, q.stored_counter = 8, q.skip = IOTSEC_POLICY_SKIP_EXPIRY),
        IOTSEC_E_ROLLBACK);
    POL((q.now = UINT64_MAX, q.device_id_len = 7, q.skip = IOTSEC_POLICY_SKIP_EXPIRY),
        IOTSEC_E_WRONG_DEVICE);
    POL(q.stored_counter = 8, IOTSEC_E_ROLLBACK);
    POL(q.stored_counter = 0, IOTSEC_OK);
    POL((q.stored_counter = 8, q.skip = IOTSEC_POLICY_SKIP_COUNTER), IOTSEC_OK);
    POL(q.stored_counter = UINT64_MAX, IOTSEC_E_COUNTER_EXHAUSTED);
    POL((q.stored_counter = UINT64_MAX, q.skip = IOTSEC_POLICY_SKIP_COUNTER),
        IOTSEC_E_COUNTER_EXHAUSTED);
    /* the order: class before device before expiry before counter */
    POL((q.device_class_len = 3, q.device_id = NULL, q.device_id_len = 0, q.now = UINT64_MAX,
         q.stored_counter = 9), IOTSEC_E_WRONG_TARGET);
    POL((q.device_id = NULL, q.device_id_len = 0, q.now = UINT64_MAX, q.stored_counter = 9),
        IOTSEC_E_WRONG_DEVICE);
    POL((q.now = UINT64_MAX, q.stored_counter = 9), IOTSEC_E_EXPIRED);
    /* misuse */
    POL(q.skip = 0x8, IOTSEC_E_INVALID_ARG);
    POL(q.device_class = NULL, IOTSEC_E_INVALID_ARG);
    POL(q.device_class_len = 0, IOTSEC_E_INVALID_ARG);
    POL(q.device_class_len = 65, IOTSEC_E_INVALID_ARG);
    POL((q.device_id = NULL, q.device_id_len = 3), IOTSEC_E_INVALID_ARG);
#undef POL
    ck_assert_int_eq(iotsec_manifest_check_policy(NULL, &p), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_manifest_check_policy(&m, NULL), IOTSEC_E_INVALID_ARG);

    /* a manifest without device_id or not_after: any device, no expiry */
    q = p;
    q.device_id = NULL;
    q.device_id_len = 0;
    q.now = UINT64_MAX;
    ck_assert_int_eq(iotsec_manifest_check_policy(&plain, &q), IOTSEC_OK);
    q.stored_counter = 8;
    ck_assert_int_eq(iotsec_manifest_check_policy(&plain, &q), IOTSEC_E_ROLLBACK);

    /* an unverified parse never passes policy; a manifest with a forged counter is refused */
    ck_assert_int_eq(iotsec_manifest_parse_unverified(buf, len, &unverified), IOTSEC_OK);
    ck_assert_int_eq(unverified.verified, 0);
    ck_assert(fx_fields_equal(&m.f, &unverified.f));
    ck_assert_int_eq(iotsec_manifest_check_policy(&unverified, &p), IOTSEC_E_STATE);
    plain.f.security_counter = UINT64_MAX;
    ck_assert_int_eq(iotsec_manifest_check_policy(&plain, &q), IOTSEC_E_COUNTER_EXHAUSTED);
    keys_free(&ks);
}
END_TEST

START_TEST(test_parse_unverified)
{
    const iotsec_crypto *c = tu_backend(_i);
    iotsec_manifest_fields f;
    fx_storage st;
    uint8_t buf[IOTSEC_MANIFEST_MAX_LEN];
    size_t len = 0;
    iotsec_manifest m;
    keyset ks;

    keys_load(&ks, c);
    fx_fields_full(&f, &st);
    ck_assert_int_eq(iotsec_manifest_sign(&f, &ks.sk[FX_ED25519_3], buf, sizeof buf, &len),
                     IOTSEC_OK);
    ck_assert_int_eq(iotsec_manifest_parse_unverified(buf, len, &m), IOTSEC_OK);
    ck_assert_int_eq(m.verified, 0);
    ck_assert(fx_fields_equal(&f, &m.f));
    /* header and body rules still apply */
    ck_assert_int_eq(iotsec_manifest_parse_unverified(buf, len - 1, &m), IOTSEC_E_TRUNCATED);
    buf[5] = 0x11;
    ck_assert_int_eq(iotsec_manifest_parse_unverified(buf, len, &m), IOTSEC_E_UNSUPPORTED);
    buf[5] = 0x01;
    buf[16] = 0x02; /* the first TLV type becomes 0x02, then 0x02 again */
    ck_assert_int_eq(iotsec_manifest_parse_unverified(buf, len, &m), IOTSEC_E_NON_CANONICAL);
    ck_assert_int_eq(iotsec_manifest_parse_unverified(NULL, len, &m), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_manifest_parse_unverified(buf, len, NULL), IOTSEC_E_INVALID_ARG);
    ck_assert_str_eq(iotsec_sig_alg_name(1), "ed25519");
    ck_assert_str_eq(iotsec_sig_alg_name(2), "p256");
    ck_assert_str_eq(iotsec_sig_alg_name(3), "rsa-pss");
    ck_assert_ptr_null(iotsec_sig_alg_name(0x10));
    ck_assert_int_eq(iotsec_manifest_utf8_check((const uint8_t *)"v1.0-\xc3\xa9", 7), IOTSEC_OK);
    ck_assert_int_eq(iotsec_manifest_utf8_check((const uint8_t *)"", 0), IOTSEC_OK);
    ck_assert_int_eq(iotsec_manifest_utf8_check(NULL, 0), IOTSEC_OK);
    ck_assert_int_eq(iotsec_manifest_utf8_check((const uint8_t *)"\xff", 1), IOTSEC_E_BAD_VALUE);
    ck_assert_int_eq(iotsec_manifest_utf8_check(NULL, 1), IOTSEC_E_INVALID_ARG);
    keys_free(&ks);
}
END_TEST

/* ---- vectors (bindings-spec/vectors/manifest_v1.json) ----------------------------------------- */

/* A growing text buffer. */
typedef struct text {
    char *p;
    size_t len, cap;
} text;

static void tx_printf(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tx_printf(text *t, const char *fmt, ...)
{
    va_list ap;
    int n;

    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(t->p ? t->p + t->len : NULL, t->p ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        ck_assert(n >= 0);
        if (t->p != NULL && (size_t)n < t->cap - t->len)
            break;
        t->cap = (t->cap + (size_t)n + 1) * 2;
        t->p = realloc(t->p, t->cap);
        ck_assert_ptr_nonnull(t->p);
    }
    t->len += (size_t)n;
}

static void tx_hex(text *t, const uint8_t *b, size_t n)
{
    size_t i;

    tx_printf(t, "\"");
    for (i = 0; i < n; i++)
        tx_printf(t, "%02x", b[i]);
    tx_printf(t, "\"");
}

/* A JSON string of bytes that are printable ASCII in every vector (checked). */
static void tx_ascii(text *t, const uint8_t *b, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        ck_assert(b[i] >= 0x20 && b[i] < 0x7f && b[i] != '"' && b[i] != '\\');
    tx_printf(t, "\"%.*s\"", (int)n, (const char *)b);
}

static void tx_fields(text *t, const iotsec_manifest_fields *f)
{
    tx_printf(t, "{\"security_counter\": %llu, \"version\": ",
              (unsigned long long)f->security_counter);
    tx_ascii(t, f->version, f->version_len);
    tx_printf(t, ", \"device_class\": ");
    tx_ascii(t, f->device_class, f->device_class_len);
    tx_printf(t, ", \"image_size\": %llu, \"image_digest\": ", (unsigned long long)f->image_size);
    tx_hex(t, f->image_digest, 32);
    if (f->present & IOTSEC_MF_DEVICE_ID) {
        tx_printf(t, ", \"device_id\": ");
        tx_ascii(t, f->device_id, f->device_id_len);
    }
    if (f->present & IOTSEC_MF_NOT_AFTER)
        tx_printf(t, ", \"not_after\": %llu", (unsigned long long)f->not_after);
    if (f->present & IOTSEC_MF_ENCRYPTION) {
        tx_printf(t, ", \"encryption\": {\"alg\": \"aes-256-cbc\", \"key_id\": ");
        tx_hex(t, f->enc_key_id, 8);
        tx_printf(t, ", \"iv\": ");
        tx_hex(t, f->enc_iv, 16);
        tx_printf(t, "}, \"payload_size\": %llu, \"payload_digest\": ",
                  (unsigned long long)f->payload_size);
        tx_hex(t, f->payload_digest, 32);
    }
    if (f->present & IOTSEC_MF_CHUNK_SIZE)
        tx_printf(t, ", \"chunk_size\": %u", (unsigned)f->chunk_size);
    if (f->present & IOTSEC_MF_URI) {
        tx_printf(t, ", \"uri\": ");
        tx_ascii(t, f->uri, f->uri_len);
    }
    if (f->present & IOTSEC_MF_DESCRIPTION) {
        tx_printf(t, ", \"description\": ");
        tx_ascii(t, f->description, f->description_len);
    }
    tx_printf(t, "}");
}

/* Everything the generator needs. */
typedef struct gen {
    const iotsec_crypto *c;
    keyset ks;
    iotsec_trust_store ts; /* ed25519-1, ed25519-2, p256, rsa2048 */
    iotsec_pubkey trusted[4];
    const char *old;       /* the committed file, or NULL */
    text out;
    int first;
} gen;

/* The manifest of a randomized signature (P-256, RSA-PSS with salt 32) as committed before,
 * when it is still a valid signature over the same signed bytes; else a fresh one. */
static void reuse_signature(gen *g, const char *name, uint8_t *buf, size_t *len)
{
    char key[128];
    const char *p;
    size_t signed_len = 16u + be16(buf + 6), n = 0;
    uint8_t *old = NULL;
    iotsec_manifest m;

    if (g->old == NULL)
        return;
    snprintf(key, sizeof key, "\"name\": \"%s\",", name);
    p = strstr(g->old, key);
    if (p == NULL || (p = strstr(p, "\"manifest_hex\": \"")) == NULL)
        return;
    p += strlen("\"manifest_hex\": \"");
    {
        const char *end = strchr(p, '"');
        char *hex;
        ck_assert_ptr_nonnull(end);
        hex = strndup(p, (size_t)(end - p));
        old = tu_hex(hex, &n);
        free(hex);
    }
    if (n > signed_len && n <= IOTSEC_MANIFEST_MAX_LEN && memcmp(old, buf, signed_len) == 0 &&
        iotsec_manifest_verify(&g->ts, old, n, &m) == IOTSEC_OK) {
        memcpy(buf, old, n);
        *len = n;
    }
    free(old);
}

/* Emit one vector: the manifest, and the verdict the library gives (asserted to be want). */
static void emit(gen *g, const char *name, const char *comment, const uint8_t *buf, size_t len,
                 int want, const iotsec_manifest_fields *fields, const char *extra)
{
    iotsec_manifest m;
    int rc = iotsec_manifest_verify(&g->ts, buf, len, &m);

    ck_assert_msg(rc == want, "vector %s: got %s, want %s", name, iotsec_error_name(rc),
                  iotsec_error_name(want));
    if (fields != NULL)
        ck_assert(fx_fields_equal(fields, &m.f));
    tx_printf(&g->out, "%s\n    {\"name\": \"%s\", \"comment\": \"%s\",\n     \"manifest_hex\": ",
              g->first ? "" : ",", name, comment);
    g->first = 0;
    tx_hex(&g->out, buf, len);
    tx_printf(&g->out, ",\n     \"result\": \"%s\"", iotsec_error_name(rc));
    if (fields != NULL) {
        tx_printf(&g->out, ",\n     \"sig_alg\": \"%s\", \"key\": \"%s\",\n     \"fields\": ",
                  iotsec_sig_alg_name((int)m.sig_alg),
                  m.sig_alg == IOTSEC_SIG_ED25519
                      ? (memcmp(m.key_id, g->ks.pk[FX_ED25519_1].key_id, 8) == 0 ? "ed25519-1"
                                                                                 : "ed25519-2")
                      : (m.sig_alg == IOTSEC_SIG_ECDSA_P256 ? "p256" : "rsa2048"));
        tx_fields(&g->out, fields);
    }
    if (extra != NULL)
        tx_printf(&g->out, ",\n     %s", extra);
    tx_printf(&g->out, "}");
}

static void sign_fields(gen *g, int k, const iotsec_manifest_fields *f, uint8_t *buf, size_t *len)
{
    ck_assert_int_eq(iotsec_manifest_sign(f, &g->ks.sk[k], buf, IOTSEC_MANIFEST_MAX_LEN, len),
                     IOTSEC_OK);
}

static void sign_raw(gen *g, const body *bd, uint8_t *buf, size_t *len)
{
    ck_assert_int_eq(iotsec_manifest_sign_body(bd->b, bd->len, &g->ks.sk[FX_ED25519_1], buf,
                                               IOTSEC_MANIFEST_MAX_LEN, len),
                     IOTSEC_OK);
}

/* NIST SP 800-38A F.2.5 AES-256 key and IV: the firmware key of the encrypted vectors. */
static const uint8_t nist_key[32] = {0x60, 0x3d, 0xeb, 0x10, 0x15, 0xca, 0x71, 0xbe,
                                     0x2b, 0x73, 0xae, 0xf0, 0x85, 0x7d, 0x77, 0x81,
                                     0x1f, 0x35, 0x2c, 0x07, 0x3b, 0x61, 0x08, 0xd7,
                                     0x2d, 0x98, 0x10, 0xa3, 0x09, 0x14, 0xdf, 0xf4};
static const uint8_t nist_iv[16] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
                                    0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f};

/* The image of the vectors: bytes i*7+3 (mod 256). */
static void vector_image(uint8_t *img, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        img[i] = (uint8_t)(i * 7u + 3u);
}

static char *generate_vectors(const iotsec_crypto *c, const char *old)
{
    gen g;
    iotsec_manifest_fields f, base;
    fx_storage st;
    uint8_t buf[IOTSEC_MANIFEST_MAX_LEN + 8], img[100], payload[112], digest[32];
    iotsec_image_encrypt_ctx ec;
    iotsec_image_encrypt_result er;
    size_t len = 0, n = 0, n2 = 0;
    text extra = {NULL, 0, 0};
    body bd;
    int i;

    memset(&g, 0, sizeof g);
    g.c = c;
    g.old = old;
    g.first = 1;
    keys_load(&g.ks, c);
    g.trusted[0] = g.ks.pk[FX_ED25519_1];
    g.trusted[1] = g.ks.pk[FX_ED25519_2];
    g.trusted[2] = g.ks.pk[FX_P256];
    g.trusted[3] = g.ks.pk[FX_RSA2048];
    ck_assert_int_eq(iotsec_trust_store_init(&g.ts, g.trusted, 4), IOTSEC_OK);

    tx_printf(&g.out, "{\n  \"format\": \"iotsec firmware manifest v1 (bindings-spec/SPEC.md section 7)\",\n"
                      "  \"comment\": \"Generated by tests/unit/test_manifest.c (set "
                      "IOTSEC_REGEN_VECTORS=1 to rewrite; the test fails when this file differs). "
                      "Keys are test keys from bindings-spec/vectors/keys/: never trust them. "
                      "Every vector is checked against the trust store 'trusted'; 'result' is the "
                      "IOTSEC_E_* name a verifier returns (IOTSEC_OK: accepted). Ed25519 and "
                      "RSA-PSS salt 0 signatures are deterministic; P-256 and RSA-PSS salt 32 "
                      "vectors are verify-only.\",\n  \"keys\": {");
    for (i = 0; i < FX_NKEYS; i++) {
        uint8_t spki[IOTSEC_SPKI_MAX_LEN];
        size_t spki_len = 0;
        ck_assert_int_eq(iotsec_privkey_public_spki(&g.ks.sk[i], spki, sizeof spki, &spki_len),
                         IOTSEC_OK);
        tx_printf(&g.out, "%s\n    \"%s\": {\"private_key_file\": \"keys/%s\", \"spki_hex\": ",
                  i ? "," : "", fx_key_name(i), strrchr(fx_key_path(i), '/') + 1);
        tx_hex(&g.out, spki, spki_len);
        tx_printf(&g.out, ", \"key_id\": ");
        tx_hex(&g.out, g.ks.pk[i].key_id, 8);
        tx_printf(&g.out, "}");
    }
    ck_assert_int_eq(iotsec_fw_key_id(c, nist_key, digest), IOTSEC_OK);
    tx_printf(&g.out, ",\n    \"firmware-aes256\": {\"raw_hex\": ");
    tx_hex(&g.out, nist_key, 32);
    tx_printf(&g.out, ", \"key_id\": ");
    tx_hex(&g.out, digest, 8);
    tx_printf(&g.out, "}\n  },\n  \"trusted\": [\"ed25519-1\", \"ed25519-2\", \"p256\", "
                      "\"rsa2048\"],\n  \"vectors\": [");

    /* -- accepted -- */
    vector_image(img, sizeof img);
    fx_fields_minimal(&base, &st);
    base.image_size = 33;
    ck_assert_int_eq(iotsec_sha256(c, img, 33, st.image_digest), IOTSEC_OK);
    sign_fields(&g, FX_ED25519_1, &base, buf, &len);
    extra.len = 0;
    tx_printf(&extra, "\"image_hex\": ");
    tx_hex(&extra, img, 33);
    emit(&g, "ed25519-minimal", "required fields only; plain image of 33 bytes", buf, len,
         IOTSEC_OK, &base, extra.p);

    /* all fields, AES-256-CBC payload of the 100-byte image */
    fx_fields_full(&f, &st);
    ck_assert_int_eq(iotsec_image_encrypt_init(&ec, c, nist_key, nist_iv), IOTSEC_OK);
    ck_assert_int_eq(iotsec_image_encrypt_update(&ec, img, sizeof img, payload, sizeof payload, &n),
                     IOTSEC_OK);
    ck_assert_int_eq(iotsec_image_encrypt_final(&ec, payload + n, sizeof payload - n, &n2, &er),
                     IOTSEC_OK);
    ck_assert_uint_eq(n + n2, sizeof payload);
    memcpy(st.image_digest, er.image_digest, 32);
    memcpy(st.payload_digest, er.payload_digest, 32);
    memcpy(st.enc_key_id, er.key_id, 8);
    memcpy(st.enc_iv, er.iv, 16);
    f.image_size = er.image_size;
    f.payload_size = er.payload_size;
    f.security_counter = 42;
    sign_fields(&g, FX_ED25519_1, &f, buf, &len);
    extra.len = 0;
    tx_printf(&extra, "\"image_hex\": ");
    tx_hex(&extra, img, sizeof img);
    tx_printf(&extra, ",\n     \"payload_hex\": ");
    tx_hex(&extra, payload, sizeof payload);
    tx_printf(&extra, ",\n     \"firmware_key\": \"firmware-aes256\"");
    emit(&g, "ed25519-encrypted-all-fields",
         "every field; the payload is AES-256-CBC/PKCS#7 of image_hex under firmware-aes256",
         buf, len, IOTSEC_OK, &f, extra.p);

    fx_fields_minimal(&f, &st);
    f.security_counter = 8;
    f.present = IOTSEC_MF_NOT_AFTER | IOTSEC_MF_CHUNK_SIZE;
    f.not_after = 1767225600u;
    f.chunk_size = 2048;
    sign_fields(&g, FX_ED25519_2, &f, buf, &len);
    emit(&g, "ed25519-second-key", "signed by the second trusted key (rotation)", buf, len,
         IOTSEC_OK, &f, NULL);

    memset(&bd, 0, sizeof bd);
    required(&bd, 0, 5);
    tlv(&bd, 0x80, "note", 4);
    tlv(&bd, 0x81, "skipped", 7);
    tlv(&bd, 0xFF, NULL, 0);
    sign_raw(&g, &bd, buf, &len);
    memset(&f, 0, sizeof f);
    f.security_counter = 7;
    f.version = (const uint8_t *)"1.0.0";
    f.version_len = 5;
    f.device_class = (const uint8_t *)"cls";
    f.device_class_len = 3;
    f.image_size = 1000;
    f.image_digest = digest_a;
    f.present = IOTSEC_MF_DESCRIPTION;
    f.description = (const uint8_t *)"note";
    f.description_len = 4;
    emit(&g, "ed25519-unknown-noncritical", "types 0x81 and 0xff are unknown and non-critical: "
         "skipped", buf, len, IOTSEC_OK, &f, NULL);

    {
        static uint8_t filler[3072];
        memset(filler, '.', sizeof filler);
        size_t req;
        memset(&bd, 0, sizeof bd);
        required(&bd, 0, 5);
        req = bd.len;
        tlv(&bd, 0x80, filler, 3072 - req - 3);
        sign_raw(&g, &bd, buf, &len);
        f.description = filler;
        f.description_len = 3072 - req - 3;
        emit(&g, "ed25519-body-3072", "the largest body", buf, len, IOTSEC_OK, &f, NULL);
    }

    fx_fields_minimal(&f, &st);
    memcpy(st.image_digest, digest_a, 32);
    f.security_counter = 9;
    f.present = IOTSEC_MF_DEVICE_ID;
    f.device_id = (const uint8_t *)"dev-0001";
    f.device_id_len = 8;
    g.ks.sk[FX_RSA2048].pss_salt_len = 0;
    sign_fields(&g, FX_RSA2048, &f, buf, &len);
    emit(&g, "rsa-pss-salt0", "RSA-PSS SHA-256 with salt length 0: deterministic", buf, len,
         IOTSEC_OK, &f, NULL);
    g.ks.sk[FX_RSA2048].pss_salt_len = 32;
    sign_fields(&g, FX_RSA2048, &f, buf, &len);
    reuse_signature(&g, "rsa-pss-salt32", buf, &len);
    emit(&g, "rsa-pss-salt32", "RSA-PSS SHA-256 with salt length 32 (what signers use): "
         "verify-only", buf, len, IOTSEC_OK, &f, NULL);
    sign_fields(&g, FX_P256, &f, buf, &len);
    reuse_signature(&g, "p256", buf, &len);
    emit(&g, "p256", "ECDSA P-256 SHA-256, raw r||s: verify-only", buf, len, IOTSEC_OK, &f, NULL);

    /* -- refused: header (before authentication) -- */
    fx_fields_minimal(&f, &st);
    memcpy(st.image_digest, digest_a, 32);
    sign_fields(&g, FX_ED25519_1, &f, buf, &len);
    {
        uint8_t good[IOTSEC_MANIFEST_MAX_LEN + 8];
        size_t glen = len, body_len = be16(buf + 6), so = 16 + body_len;
        memcpy(good, buf, len);
#define V(name, comment, mut, blen, want)                                                     \
    do {                                                                                      \
        memcpy(buf, good, glen);                                                              \
        mut;                                                                                  \
        emit(&g, name, comment, buf, blen, want, NULL, NULL);                                 \
    } while (0)
        V("bad-magic", "magic is not IOTM", buf[0] = 'J', glen, IOTSEC_E_BAD_VERSION);
        V("bad-format", "format 0x02", buf[4] = 2, glen, IOTSEC_E_BAD_VERSION);
        V("reserved-sig-alg", "sig_alg 0x10 is reserved for post-quantum", buf[5] = 0x10, glen,
          IOTSEC_E_UNSUPPORTED);
        V("unknown-sig-alg", "sig_alg 0x04", buf[5] = 0x04, glen, IOTSEC_E_BAD_VALUE);
        V("sig-alg-not-the-keys", "sig_alg 0x02 with the key id of an Ed25519 key", buf[5] = 0x02,
          glen, IOTSEC_E_BAD_SIGNATURE);
        V("body-len-over-max", "body_len 3073", (buf[6] = 0x0c, buf[7] = 0x01), glen,
          IOTSEC_E_BAD_LENGTH);
        V("body-len-over-buffer", "body_len larger than the bytes there", buf[7] = 0xff, glen,
          IOTSEC_E_TRUNCATED);
        V("sig-len-over-max", "sig_len 513", (buf[so] = 0x02, buf[so + 1] = 0x01), glen,
          IOTSEC_E_BAD_LENGTH);
        V("no-signature", "the manifest ends after the body", (void)0, so, IOTSEC_E_BAD_SIGNATURE);
        V("empty-signature", "sig_len 0", (buf[so] = 0, buf[so + 1] = 0), so + 2,
          IOTSEC_E_BAD_SIGNATURE);
        V("truncated-signature", "one byte of the signature missing", (void)0, glen - 1,
          IOTSEC_E_TRUNCATED);
        V("trailing-byte", "one byte after the signature", buf[glen] = 0, glen + 1,
          IOTSEC_E_TRAILING_DATA);
        V("unknown-key", "key_id of no trusted key", buf[8] ^= 0xff, glen, IOTSEC_E_UNKNOWN_KEY);
        V("flipped-body-byte", "security_counter changed after signing", buf[16 + 10] ^= 1, glen,
          IOTSEC_E_BAD_SIGNATURE);
        V("flipped-signature-byte", "last signature byte changed", buf[glen - 1] ^= 1, glen,
          IOTSEC_E_BAD_SIGNATURE);
#undef V
    }
    sign_fields(&g, FX_ED25519_3, &f, buf, &len);
    emit(&g, "untrusted-signer", "a valid signature by ed25519-3, which is not trusted", buf, len,
         IOTSEC_E_UNKNOWN_KEY, NULL, NULL);

    /* -- refused: body (after authentication), all signed by ed25519-1 -- */
#define B(name, comment, build, want)                                                         \
    do {                                                                                      \
        memset(&bd, 0, sizeof bd);                                                            \
        build;                                                                                \
        sign_raw(&g, &bd, buf, &len);                                                         \
        emit(&g, name, comment, buf, len, want, NULL, NULL);                                  \
    } while (0)
    B("tlv-out-of-order", "version (0x02) before security_counter (0x01)",
      (tlv(&bd, 0x02, "1.0.0", 5), tlv_u64(&bd, 0x01, 7), required(&bd, 0x06, 5)),
      IOTSEC_E_NON_CANONICAL);
    B("tlv-duplicate", "security_counter twice",
      (tlv_u64(&bd, 0x01, 7), required(&bd, 0, 5)), IOTSEC_E_NON_CANONICAL);
    B("unknown-critical", "type 0x0d is unknown and below 0x80",
      (required(&bd, 0, 5), tlv(&bd, 0x0d, "x", 1)), IOTSEC_E_UNKNOWN_CRITICAL);
    B("missing-image-digest", "no type 0x05", required(&bd, 0x20, 5), IOTSEC_E_MISSING_FIELD);
    B("empty-body", "no TLV at all", (void)0, IOTSEC_E_MISSING_FIELD);
    B("encryption-without-payload-digest", "0x08 and 0x09 without 0x0a",
      (required(&bd, 0, 5), tlv(&bd, 0x08, "\x01" "0123456789abcdef01234567", 25),
       tlv_u64(&bd, 0x09, 1008)),
      IOTSEC_E_MISSING_FIELD);
    B("payload-size-without-encryption", "0x09 without 0x08",
      (required(&bd, 0, 5), tlv_u64(&bd, 0x09, 1008)), IOTSEC_E_BAD_VALUE);
    B("payload-size-inconsistent", "payload_size is not image_size + PKCS#7 padding",
      (required(&bd, 0, 5), tlv(&bd, 0x08, "\x01" "0123456789abcdef01234567", 25),
       tlv_u64(&bd, 0x09, 1000), tlv(&bd, 0x0a, digest_a, 32)),
      IOTSEC_E_BAD_VALUE);
    B("unknown-encryption-alg", "encryption alg 0x02",
      (required(&bd, 0, 5), tlv(&bd, 0x08, "\x02" "0123456789abcdef01234567", 25),
       tlv_u64(&bd, 0x09, 1008), tlv(&bd, 0x0a, digest_a, 32)),
      IOTSEC_E_UNSUPPORTED);
    B("counter-exhausted", "security_counter UINT64_MAX",
      (tlv_u64(&bd, 0x01, UINT64_MAX), required(&bd, 0x02, 5)), IOTSEC_E_COUNTER_EXHAUSTED);
    B("image-size-zero", "image_size 0",
      (required(&bd, 0, 3), tlv_u64(&bd, 0x04, 0), tlv(&bd, 0x05, digest_a, 32)),
      IOTSEC_E_BAD_VALUE);
    B("image-size-over-4GiB", "image_size 2^32 + 1",
      (required(&bd, 0, 3), tlv_u64(&bd, 0x04, 4294967297u), tlv(&bd, 0x05, digest_a, 32)),
      IOTSEC_E_BAD_VALUE);
    B("version-not-utf8", "version 0xc0 0x80 (overlong NUL)",
      (tlv_u64(&bd, 0x01, 7), tlv(&bd, 0x02, "\xc0\x80", 2), required(&bd, 0x06, 5)),
      IOTSEC_E_BAD_VALUE);
    B("version-too-long", "version of 33 bytes",
      (tlv_u64(&bd, 0x01, 7), tlv(&bd, 0x02, "123456789012345678901234567890123", 33),
       required(&bd, 0x06, 5)),
      IOTSEC_E_BAD_LENGTH);
    B("image-digest-31-bytes", "image_digest of 31 bytes",
      (required(&bd, 0, 4), tlv(&bd, 0x05, digest_a, 31)), IOTSEC_E_BAD_LENGTH);
    B("chunk-size-255", "chunk_size below 256",
      (required(&bd, 0, 5), tlv(&bd, 0x0b, "\x00\x00\x00\xff", 4)), IOTSEC_E_BAD_VALUE);
    B("tlv-overruns-body", "the last TLV announces one byte more than the body holds",
      (required(&bd, 0, 5), tlv(&bd, 0x0c, "https://x", 9), bd.b[bd.len - 10] = 10),
      IOTSEC_E_TRUNCATED);
#undef B
    tx_printf(&g.out, "\n  ],\n");

    /* -- policy cases over ed25519-encrypted-all-fields -- */
    tx_printf(&g.out,
              "  \"policy\": {\n    \"comment\": \"Checks of a device policy against "
              "ed25519-encrypted-all-fields (class ecowatt-esp32, device_id dev-0042, not_after "
              "1900000000, security_counter 42). device_id null: no id configured.\",\n"
              "    \"manifest\": \"ed25519-encrypted-all-fields\",\n    \"cases\": [\n"
              "      {\"device_class\": \"ecowatt-esp32\", \"device_id\": \"dev-0042\", \"now\": "
              "1900000000, \"stored_counter\": 42, \"result\": \"IOTSEC_OK\"},\n"
              "      {\"device_class\": \"ecowatt-esp8266\", \"device_id\": \"dev-0042\", \"now\": "
              "0, \"stored_counter\": 0, \"result\": \"IOTSEC_E_WRONG_TARGET\"},\n"
              "      {\"device_class\": \"ecowatt-esp32\", \"device_id\": \"dev-0043\", \"now\": "
              "0, \"stored_counter\": 0, \"result\": \"IOTSEC_E_WRONG_DEVICE\"},\n"
              "      {\"device_class\": \"ecowatt-esp32\", \"device_id\": null, \"now\": 0, "
              "\"stored_counter\": 0, \"result\": \"IOTSEC_E_WRONG_DEVICE\"},\n"
              "      {\"device_class\": \"ecowatt-esp32\", \"device_id\": \"dev-0042\", \"now\": "
              "1900000001, \"stored_counter\": 0, \"result\": \"IOTSEC_E_EXPIRED\"},\n"
              "      {\"device_class\": \"ecowatt-esp32\", \"device_id\": \"dev-0042\", \"now\": "
              "0, \"stored_counter\": 43, \"result\": \"IOTSEC_E_ROLLBACK\"}\n    ]\n  }\n}\n");
    free(extra.p);
    keys_free(&g.ks);
    return g.out.p;
}

/* Check the policy cases of the file against the library (they are written above as text). */
static void check_policy_cases(const iotsec_crypto *c, const char *doc)
{
    static const struct {
        const char *cls, *id;
        uint64_t now, stored;
        int want;
    } cases[] = {
        {"ecowatt-esp32", "dev-0042", 1900000000u, 42, IOTSEC_OK},
        {"ecowatt-esp8266", "dev-0042", 0, 0, IOTSEC_E_WRONG_TARGET},
        {"ecowatt-esp32", "dev-0043", 0, 0, IOTSEC_E_WRONG_DEVICE},
        {"ecowatt-esp32", NULL, 0, 0, IOTSEC_E_WRONG_DEVICE},
        {"ecowatt-esp32", "dev-0042", 1900000001u, 0, IOTSEC_E_EXPIRED},
        {"ecowatt-esp32", "dev-0042", 0, 43, IOTSEC_E_ROLLBACK},
    };
    const char *p = strstr(doc, "\"name\": \"ed25519-encrypted-all-fields\"");
    keyset ks;
    iotsec_trust_store ts;
    iotsec_manifest m;
    uint8_t *buf;
    size_t n = 0, i;
    char *hex;

    ck_assert_ptr_nonnull(p);
    p = strstr(p, "\"manifest_hex\": \"") + strlen("\"manifest_hex\": \"");
    hex = strndup(p, (size_t)(strchr(p, '"') - p));
    buf = tu_hex(hex, &n);
    keys_load(&ks, c);
    store_one(&ts, &ks, FX_ED25519_1);
    ck_assert_int_eq(iotsec_manifest_verify(&ts, buf, n, &m), IOTSEC_OK);
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        iotsec_device_policy pol;
        memset(&pol, 0, sizeof pol);
        pol.device_class = (const uint8_t *)cases[i].cls;
        pol.device_class_len = strlen(cases[i].cls);
        pol.device_id = (const uint8_t *)cases[i].id;
        pol.device_id_len = cases[i].id ? strlen(cases[i].id) : 0;
        pol.now = cases[i].now;
        pol.stored_counter = cases[i].stored;
        ck_assert_int_eq(iotsec_manifest_check_policy(&m, &pol), cases[i].want);
    }
    keys_free(&ks);
    free(hex);
    free(buf);
}

START_TEST(test_vectors_file)
{
    const iotsec_crypto *c = iotsec_crypto_openssl();
    const char *regen = getenv("IOTSEC_REGEN_VECTORS");
    char *old = NULL, *fresh, *again;
    FILE *fp;

    ck_assert_msg(c != NULL, "the vectors need the OpenSSL backend (P-256, RSA)");
    fp = fopen(VECTORS_PATH, "rb");
    if (fp != NULL) {
        size_t n = 0;
        fclose(fp);
        old = (char *)tu_read_file(VECTORS_PATH, &n);
    }
    fresh = generate_vectors(c, old);
    /* generating again, reusing fresh's randomized signatures, gives the same bytes: every
     * other byte of the file is deterministic */
    again = generate_vectors(c, fresh);
    ck_assert_str_eq(fresh, again);
    if (regen != NULL && strcmp(regen, "1") == 0) {
        fp = fopen(VECTORS_PATH, "wb");
        ck_assert_ptr_nonnull(fp);
        ck_assert_uint_eq(fwrite(fresh, 1, strlen(fresh), fp), strlen(fresh));
        ck_assert_int_eq(fclose(fp), 0);
    } else {
        ck_assert_msg(old != NULL, "%s is missing: run with IOTSEC_REGEN_VECTORS=1", VECTORS_PATH);
        ck_assert_msg(strcmp(old, fresh) == 0,
                      "%s differs from what the library generates (IOTSEC_REGEN_VECTORS=1 "
                      "rewrites it)", VECTORS_PATH);
    }
    check_policy_cases(c, fresh);
    free(old);
    free(fresh);
    free(again);
}
END_TEST

static Suite *manifest_suite(void)
{
    Suite *s = suite_create("manifest");
    TCase *tc = tcase_create("manifest");

    tcase_set_timeout(tc, 120);
    tu_add_backend_test(tc, test_sign_verify_every_algorithm);
    tu_add_backend_test(tc, test_ecdsa_high_s);
    tcase_add_test(tc, test_cross_backend);
    tu_add_backend_test(tc, test_openssl_cli_interop);
    tu_add_backend_test(tc, test_every_byte_flip_rejected);
    tu_add_backend_test(tc, test_truncation_and_trailing);
    tu_add_backend_test(tc, test_header_rules);
    tu_add_backend_test(tc, test_body_length_limit);
    tu_add_backend_test(tc, test_body_order_and_criticality);
    tu_add_backend_test(tc, test_body_required_fields);
    tu_add_backend_test(tc, test_body_lengths_and_values);
    tu_add_backend_test(tc, test_builder_checks);
    tcase_add_test(tc, test_signer_distrusts_backend);
    tu_add_backend_test(tc, test_trust_store_rotation);
    tu_add_backend_test(tc, test_policy);
    tu_add_backend_test(tc, test_parse_unverified);
    tcase_add_test(tc, test_vectors_file);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run_suite(manifest_suite()); }
