/* Check suite: key files (include/iotsec/keyfile.h) and file helpers (include/iotsec/file.h),
 * run per backend.
 *
 * Every key form keyfile.h promises to read is made by the `openssl` command-line tool in a
 * temporary directory: PKCS#8 PEM and DER, traditional "EC PRIVATE KEY" / "RSA PRIVATE KEY"
 * PEM and DER, SPKI PEM and DER, PKCS#1 "RSA PUBLIC KEY", a certificate. Each loads with the
 * key id openssl's SPKI DER gives (sha256sum, first 8 bytes). Encrypted keys, garbage and DER
 * with trailing bytes are refused, and so are formats keyfile.h does not name (MSBLOB, PVK,
 * PEM labels whose contents have another structure, DER of another shape). Generated key
 * files have modes 0600 / 0644, whatever the umask, and load in both backends (Ed25519). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

static char kf_dir[256];

static void kf_path(const char *name, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/%s", kf_dir, name);
    ck_assert(n > 0 && (size_t)n < cap);
}

static uint8_t *kf_read(const char *name, size_t *len)
{
    char path[512];

    kf_path(name, path, sizeof path);
    return tu_read_file(path, len);
}

static void kf_write(const char *name, const void *data, size_t len)
{
    char path[512];

    tu_write_file(kf_dir, name, data, len, path, sizeof path);
}

static void kf_setup(void)
{
    tu_tmpdir(kf_dir, sizeof kf_dir);
    ck_assert_int_eq(
        tu_sh("cd '%s' && set -e; exec 2>/dev/null;"
              /* Ed25519 */
              "openssl genpkey -quiet -algorithm ED25519 -out ed.pem;"
              "openssl pkey -in ed.pem -pubout -out ed.spki.pem;"
              "openssl pkey -in ed.pem -pubout -outform DER -out ed.spki.der;"
              "openssl pkey -in ed.pem -outform DER -out ed.p8.der;"
              /* P-256: PKCS#8, traditional, SPKI, certificate, encrypted */
              "openssl genpkey -quiet -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out p256.pem;"
              "openssl pkcs8 -topk8 -nocrypt -in p256.pem -outform DER -out p256.p8.der;"
              "openssl ec -in p256.pem -out p256.trad.pem;"
              "openssl ec -in p256.pem -outform DER -out p256.trad.der;"
              "openssl pkey -in p256.pem -pubout -out p256.spki.pem;"
              "openssl pkey -in p256.pem -pubout -outform DER -out p256.spki.der;"
              "openssl req -new -x509 -key p256.pem -subj /CN=device-1 -days 2 -out cert.pem;"
              "openssl pkcs8 -topk8 -in p256.pem -passout pass:secret -out enc.p8.pem;"
              "openssl pkcs8 -topk8 -in p256.pem -passout pass:secret -outform DER "
              "-out enc.p8.der;"
              "openssl ec -in p256.pem -aes128 -passout pass:secret -out enc.trad.pem;"
              /* RSA-2048: PKCS#8, traditional, SPKI, PKCS#1 public */
              "openssl genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.pem;"
              "openssl rsa -in rsa.pem -traditional -out rsa.trad.pem;"
              "openssl rsa -in rsa.pem -traditional -outform DER -out rsa.trad.der;"
              "openssl pkey -in rsa.pem -pubout -out rsa.spki.pem;"
              "openssl pkey -in rsa.pem -pubout -outform DER -out rsa.spki.der;"
              "openssl rsa -in rsa.pem -RSAPublicKey_out -out rsa.pkcs1.pem;"
              "openssl rsa -in rsa.pem -RSAPublicKey_out -outform DER -out rsa.pkcs1.der;"
              /* formats nobody asked for: Microsoft MSBLOB (private and public) and PVK */
              "openssl rsa -in rsa.pem -outform 'MS PRIVATEKEYBLOB' -out rsa.msblob;"
              "openssl rsa -in rsa.pem -pubout -outform 'MS PUBLICKEYBLOB' -out rsa.pub.msblob;"
              "openssl rsa -in rsa.pem -outform PVK -pvk-none -out rsa.pvk;"
              /* PEM labels that do not match their contents, or are not read */
              "sed 's/ PRIVATE KEY-/ EC PRIVATE KEY-/' p256.pem > p256.p8-as-ec.pem;"
              "sed 's/ EC PRIVATE KEY-/ RSA PRIVATE KEY-/' p256.trad.pem > p256.ec-as-rsa.pem;"
              "sed 's/ PRIVATE KEY-/ DSA PRIVATE KEY-/' p256.pem > p256.p8-as-dsa.pem;"
              "sed 's/ RSA PUBLIC KEY-/ PUBLIC KEY-/' rsa.pkcs1.pem > rsa.pkcs1-as-spki.pem;"
              "sed 's/ PUBLIC KEY-/ RSA PUBLIC KEY-/' rsa.spki.pem > rsa.spki-as-pkcs1.pem;"
              "sed 's/ PUBLIC KEY-/ CERTIFICATE-/' p256.spki.pem > p256.spki-as-cert.pem;"
              /* blocks read past: EC parameters before the key (`openssl ecparam -genkey`),
               * a private key before the public one */
              "openssl ecparam -name prime256v1 -param_enc named_curve -out p256.params.pem;"
              "cat p256.params.pem p256.trad.pem > p256.with-params.pem;"
              "cat p256.pem p256.spki.pem > p256.both.pem;"
              "openssl x509 -in cert.pem -outform DER -out cert.der;"
              /* a key type libiotsec does not use */
              "openssl genpkey -quiet -algorithm X25519 -out x25519.pem;"
              "openssl pkey -in x25519.pem -pubout -out x25519.spki.pem;"
              /* key ids: SHA-256 over openssl's SPKI DER, first 8 bytes */
              "for k in ed p256 rsa; do sha256sum < $k.spki.der | cut -c1-16 > $k.id; done",
              kf_dir),
        0);
}

static void kf_teardown(void) { tu_tmpdir_cleanup(kf_dir); }

/* Write dst: the bytes of src followed by extra[0..n). Returns them (malloc'd; *len bytes). */
static uint8_t *kf_copy_append(const char *src, const char *dst, const void *extra, size_t n,
                               size_t *len)
{
    size_t src_len;
    uint8_t *buf = kf_read(src, &src_len);

    buf = realloc(buf, src_len + n);
    ck_assert_ptr_nonnull(buf);
    memcpy(buf + src_len, extra, n);
    *len = src_len + n;
    kf_write(dst, buf, *len);
    return buf;
}

/* 1 if the file holds the text marker (proves the CLI wrote the form the test claims). */
static int kf_has(const char *name, const char *marker)
{
    size_t len;
    uint8_t *buf = kf_read(name, &len);
    int found = strstr((const char *)buf, marker) != NULL;

    free(buf);
    return found;
}

static void assert_key_id(const char *key, const uint8_t id[IOTSEC_KEY_ID_LEN])
{
    char name[32], hex[2 * IOTSEC_KEY_ID_LEN + 1];
    uint8_t *want;
    size_t n;

    snprintf(name, sizeof name, "%s.id", key);
    want = kf_read(name, &n);
    ck_assert_uint_eq(n, 17);
    ck_assert_int_eq(iotsec_hex_encode(id, IOTSEC_KEY_ID_LEN, hex, sizeof hex), IOTSEC_OK);
    ck_assert_msg(memcmp(hex, want, 16) == 0, "%s: key_id %s, openssl says %.16s", key, hex,
                  (const char *)want);
    free(want);
}

/* Load the key file name (public when pub, else private) in c and free it again; writes its
 * key id to id on success. Returns the library's code. */
static int file_rc(const iotsec_crypto *c, const char *name, int pub,
                   uint8_t id[IOTSEC_KEY_ID_LEN])
{
    char path[512];
    iotsec_pubkey pk;
    iotsec_privkey sk;
    int rc;

    kf_path(name, path, sizeof path);
    rc = pub ? iotsec_pubkey_load_file(&pk, c, path) : iotsec_privkey_load_file(&sk, c, path);
    if (rc == IOTSEC_OK && pub) {
        memcpy(id, pk.key_id, IOTSEC_KEY_ID_LEN);
        iotsec_pubkey_free(&pk);
    } else if (rc == IOTSEC_OK) {
        ck_assert_int_eq(iotsec_privkey_key_id(&sk, id), IOTSEC_OK);
        iotsec_privkey_free(&sk);
    }
    return rc;
}

#define pub_file_rc(c, name, id) file_rc((c), (name), 1, (id))
#define priv_file_rc(c, name, id) file_rc((c), (name), 0, (id))

/* The outcome rc (key id id) of loading file, a form of key, in c: the marker (NULL for DER)
 * proves the CLI wrote that form; then OK with openssl's key id, or IOTSEC_E_UNSUPPORTED for
 * an EC or RSA key in a backend without them (the file decodes; the backend refuses). */
static void assert_form_loaded(const iotsec_crypto *c, const char *file, const char *key,
                               const char *marker, int rc, const uint8_t id[IOTSEC_KEY_ID_LEN])
{
    if (marker != NULL)
        ck_assert_msg(kf_has(file, marker), "%s lacks %s", file, marker);
    if (strcmp(key, "ed") != 0 &&
        !iotsec_crypto_has(c, IOTSEC_CAP_ECDSA_P256 | IOTSEC_CAP_RSA_PSS)) {
        ck_assert_msg(rc == IOTSEC_E_UNSUPPORTED, "%s: %s", file, iotsec_strerror(rc));
        return;
    }
    ck_assert_msg(rc == IOTSEC_OK, "%s: %s", file, iotsec_strerror(rc));
    assert_key_id(key, id);
}

static const struct {
    const char *file, *key, *marker; /* marker: NULL for DER */
} private_forms[] = {
    {"ed.pem", "ed", "-----BEGIN PRIVATE KEY-----"},
    {"ed.p8.der", "ed", NULL},
    {"p256.pem", "p256", "-----BEGIN PRIVATE KEY-----"},
    {"p256.p8.der", "p256", NULL},
    {"p256.trad.pem", "p256", "-----BEGIN EC PRIVATE KEY-----"},
    {"p256.trad.der", "p256", NULL},
    {"rsa.pem", "rsa", "-----BEGIN PRIVATE KEY-----"},
    {"rsa.trad.pem", "rsa", "-----BEGIN RSA PRIVATE KEY-----"},
    {"rsa.trad.der", "rsa", NULL},
};

static const struct {
    const char *file, *key, *marker, *spki_der;
} public_forms[] = {
    {"ed.spki.pem", "ed", "-----BEGIN PUBLIC KEY-----", "ed.spki.der"},
    {"ed.spki.der", "ed", NULL, "ed.spki.der"},
    {"p256.spki.pem", "p256", "-----BEGIN PUBLIC KEY-----", "p256.spki.der"},
    {"p256.spki.der", "p256", NULL, "p256.spki.der"},
    {"cert.pem", "p256", "-----BEGIN CERTIFICATE-----", "p256.spki.der"},
    {"rsa.spki.pem", "rsa", "-----BEGIN PUBLIC KEY-----", "rsa.spki.der"},
    {"rsa.spki.der", "rsa", NULL, "rsa.spki.der"},
    {"rsa.pkcs1.pem", "rsa", "-----BEGIN RSA PUBLIC KEY-----", "rsa.spki.der"},
    {"rsa.pkcs1.der", "rsa", NULL, "rsa.spki.der"},
};

START_TEST(test_private_key_forms)
{
    const iotsec_crypto *c = tu_backend(_i);
    uint8_t id[IOTSEC_KEY_ID_LEN];
    size_t k;

    for (k = 0; k < sizeof private_forms / sizeof private_forms[0]; k++) {
        int rc = priv_file_rc(c, private_forms[k].file, id);
        assert_form_loaded(c, private_forms[k].file, private_forms[k].key,
                           private_forms[k].marker, rc, id);
    }
}
END_TEST

START_TEST(test_public_key_forms)
{
    const iotsec_crypto *c = tu_backend(_i);
    uint8_t id[IOTSEC_KEY_ID_LEN], *in, *want, *der;
    size_t k, in_len, want_len, der_len;

    for (k = 0; k < sizeof public_forms / sizeof public_forms[0]; k++) {
        int rc = pub_file_rc(c, public_forms[k].file, id);
        assert_form_loaded(c, public_forms[k].file, public_forms[k].key, public_forms[k].marker,
                           rc, id);
        /* decoding is the backend-independent step: always openssl's SPKI DER */
        in = kf_read(public_forms[k].file, &in_len);
        want = kf_read(public_forms[k].spki_der, &want_len);
        ck_assert_int_eq(iotsec_pubkey_decode(in, in_len, &der, &der_len), IOTSEC_OK);
        ck_assert_uint_eq(der_len, want_len);
        ck_assert_mem_eq(der, want, der_len);
        free(der);
        free(want);
        free(in);
    }
}
END_TEST

/* A private key and its public key file are the same key: a signature made with one
 * verifies with the other, in this backend. */
START_TEST(test_key_file_pairs_sign_verify)
{
    static const char *const pairs[][2] = {
        {"ed.pem", "ed.spki.pem"}, {"p256.trad.pem", "cert.pem"}, {"rsa.trad.der", "rsa.pkcs1.pem"}};
    const iotsec_crypto *c = tu_backend(_i);
    uint8_t sig[IOTSEC_SIG_MAX_LEN];
    char path[512];
    size_t k, sig_len;

    for (k = 0; k < 3; k++) {
        iotsec_privkey sk;
        iotsec_pubkey pk;
        if (k > 0 && !iotsec_crypto_has(c, IOTSEC_CAP_ECDSA_P256 | IOTSEC_CAP_RSA_PSS))
            break;
        kf_path(pairs[k][0], path, sizeof path);
        ck_assert_int_eq(iotsec_privkey_load_file(&sk, c, path), IOTSEC_OK);
        kf_path(pairs[k][1], path, sizeof path);
        ck_assert_int_eq(iotsec_pubkey_load_file(&pk, c, path), IOTSEC_OK);
        ck_assert_int_eq(sk.alg, pk.alg);
        ck_assert_int_eq(iotsec_sign(&sk, (const uint8_t *)"frame", 5, sig, sizeof sig, &sig_len),
                         IOTSEC_OK);
        ck_assert_int_eq(iotsec_verify(&pk, (const uint8_t *)"frame", 5, sig, sig_len), IOTSEC_OK);
        ck_assert_int_eq(iotsec_verify(&pk, (const uint8_t *)"framf", 5, sig, sig_len),
                         IOTSEC_E_BAD_SIGNATURE);
        iotsec_privkey_free(&sk);
        iotsec_pubkey_free(&pk);
    }
}
END_TEST

/* Files that are refused, and with which code. */
START_TEST(test_refused_key_files)
{
    static const char *const encrypted[] = {"enc.p8.pem", "enc.p8.der", "enc.trad.pem"};
    static const char garbage[] = "this is not a key\n";
    static const char bad_pem[] = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0C!!==\n"
                                  "-----END PUBLIC KEY-----\n";
    const iotsec_crypto *c = tu_backend(_i);
    uint8_t id[IOTSEC_KEY_ID_LEN], *buf, *der = NULL, *big;
    size_t k, len, der_len = 0;
    char path[512];
    iotsec_pubkey pk;
    iotsec_privkey sk;

    /* encrypted private keys: no passphrase prompt in a library */
    for (k = 0; k < sizeof encrypted / sizeof encrypted[0]; k++) {
        ck_assert_msg(priv_file_rc(c, encrypted[k], id) == IOTSEC_E_BAD_KEY, "%s", encrypted[k]);
        buf = kf_read(encrypted[k], &len);
        ck_assert_int_eq(iotsec_privkey_decode(buf, len, &der, &der_len), IOTSEC_E_BAD_KEY);
        ck_assert_ptr_null(der);
        free(buf);
    }
    /* garbage, empty, broken PEM body */
    kf_write("garbage", garbage, strlen(garbage));
    kf_write("empty", "", 0);
    kf_write("bad.pem", bad_pem, strlen(bad_pem));
    ck_assert_int_eq(priv_file_rc(c, "garbage", id), IOTSEC_E_BAD_KEY);
    ck_assert_int_eq(pub_file_rc(c, "garbage", id), IOTSEC_E_BAD_KEY);
    ck_assert_int_eq(priv_file_rc(c, "empty", id), IOTSEC_E_BAD_KEY);
    ck_assert_int_eq(pub_file_rc(c, "empty", id), IOTSEC_E_BAD_KEY);
    ck_assert_int_eq(pub_file_rc(c, "bad.pem", id), IOTSEC_E_BAD_KEY);
    /* public where private is expected and the reverse */
    ck_assert_int_eq(priv_file_rc(c, "ed.spki.pem", id), IOTSEC_E_BAD_KEY);
    ck_assert_int_eq(priv_file_rc(c, "cert.pem", id), IOTSEC_E_BAD_KEY);
    ck_assert_int_eq(pub_file_rc(c, "ed.p8.der", id), IOTSEC_E_BAD_KEY);

    /* DER with one trailing byte: not one structure (keyfile.h) */
    buf = kf_copy_append("ed.spki.der", "ed.spki.trail", "\0", 1, &len);
    ck_assert_int_eq(iotsec_pubkey_decode(buf, len, &der, &der_len), IOTSEC_E_BAD_KEY);
    ck_assert_int_eq(pub_file_rc(c, "ed.spki.trail", id), IOTSEC_E_BAD_KEY);
    free(buf);
    buf = kf_copy_append("p256.p8.der", "p256.p8.trail", "0", 1, &len);
    ck_assert_int_eq(iotsec_privkey_decode(buf, len, &der, &der_len), IOTSEC_E_BAD_KEY);
    ck_assert_int_eq(priv_file_rc(c, "p256.p8.trail", id), IOTSEC_E_BAD_KEY);
    free(buf);
    /* DER is never read as text: trailing bytes that spell a PEM boundary are still trailing
     * bytes, and key bytes that spell one are still a key (fuzz_keyfile findings) */
    buf = kf_copy_append("ed.spki.der", "ed.spki.trailpem", "-----BEGIN X", 12, &len);
    ck_assert_int_eq(iotsec_pubkey_decode(buf, len, &der, &der_len), IOTSEC_E_BAD_KEY);
    ck_assert_int_eq(pub_file_rc(c, "ed.spki.trailpem", id), IOTSEC_E_BAD_KEY);
    free(buf);
    buf = kf_copy_append("p256.p8.der", "p256.p8.trailpem", "\n-----BEGIN ", 12, &len);
    ck_assert_int_eq(iotsec_privkey_decode(buf, len, &der, &der_len), IOTSEC_E_BAD_KEY);
    ck_assert_int_eq(priv_file_rc(c, "p256.p8.trailpem", id), IOTSEC_E_BAD_KEY);
    free(buf);
    {
        static const uint8_t marker_key[44] = "\x30\x2a\x30\x05\x06\x03\x2b\x65\x70\x03\x21\x00"
                                              "-----BEGIN CERTIFICATE-----\0\0\0\0";
        ck_assert_int_eq(iotsec_pubkey_decode(marker_key, sizeof marker_key, &der, &der_len),
                         IOTSEC_OK);
        ck_assert_uint_eq(der_len, sizeof marker_key);
        ck_assert_mem_eq(der, marker_key, sizeof marker_key);
        ck_assert_int_eq(iotsec_pubkey_load(&pk, c, der, der_len), IOTSEC_OK);
        iotsec_pubkey_free(&pk);
        free(der);
        der = NULL;
    }
    /* PEM may carry explanatory text outside its boundaries (RFC 7468 §2) */
    free(kf_copy_append("ed.spki.pem", "ed.spki.text", "comment after key\n", 18, &len));
    ck_assert_int_eq(pub_file_rc(c, "ed.spki.text", id), IOTSEC_OK);
    assert_key_id("ed", id);

    /* a key type libiotsec does not use: decodes, then unsupported */
    ck_assert_int_eq(priv_file_rc(c, "x25519.pem", id), IOTSEC_E_UNSUPPORTED);
    ck_assert_int_eq(pub_file_rc(c, "x25519.spki.pem", id), IOTSEC_E_UNSUPPORTED);

    /* no file; a file over the 64 KiB limit; NULL arguments */
    ck_assert_int_eq(priv_file_rc(c, "missing.pem", id), IOTSEC_E_IO);
    ck_assert_int_eq(pub_file_rc(c, "missing.pem", id), IOTSEC_E_IO);
    big = calloc(1, 64 * 1024 + 1);
    ck_assert_ptr_nonnull(big);
    kf_write("big.pem", big, 64 * 1024 + 1);
    kf_write("max.pem", big, 64 * 1024);
    free(big);
    ck_assert_int_eq(pub_file_rc(c, "big.pem", id), IOTSEC_E_BAD_LENGTH);
    ck_assert_int_eq(priv_file_rc(c, "big.pem", id), IOTSEC_E_BAD_LENGTH);
    ck_assert_int_eq(pub_file_rc(c, "max.pem", id), IOTSEC_E_BAD_KEY); /* read, not a key */
    kf_path("ed.pem", path, sizeof path);
    ck_assert_int_eq(iotsec_privkey_load_file(NULL, c, path), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_privkey_load_file(&sk, NULL, path), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_privkey_load_file(&sk, c, NULL), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_pubkey_load_file(NULL, c, path), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_pubkey_load_file(&pk, NULL, path), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_pubkey_load_file(&pk, c, NULL), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_pubkey_decode(NULL, 1, &der, &der_len), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_pubkey_decode((const uint8_t *)"x", 1, NULL, &der_len),
                     IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_pubkey_decode((const uint8_t *)"x", 1, &der, NULL),
                     IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_privkey_decode(NULL, 1, &der, &der_len), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_privkey_decode((const uint8_t *)"x", 1, NULL, &der_len),
                     IOTSEC_E_INVALID_ARG);
}
END_TEST

/* Only the formats keyfile.h names are read: each PEM label is routed to the parser of its
 * structure (and its contents must have that shape), DER is read by its outer shape, and
 * no other format OpenSSL knows is tried. */
START_TEST(test_key_file_formats_routed)
{
    static const struct {
        const char *file;
        int pub, rc; /* rc: IOTSEC_OK means "loads as the expected key" */
        const char *key;
    } cases[] = {
        /* Microsoft formats: refused both ways, although OpenSSL's decoders read them */
        {"rsa.msblob", 0, IOTSEC_E_BAD_KEY, NULL},
        {"rsa.msblob", 1, IOTSEC_E_BAD_KEY, NULL},
        {"rsa.pub.msblob", 1, IOTSEC_E_BAD_KEY, NULL},
        {"rsa.pub.msblob", 0, IOTSEC_E_BAD_KEY, NULL},
        {"rsa.pvk", 0, IOTSEC_E_BAD_KEY, NULL},
        {"rsa.pvk", 1, IOTSEC_E_BAD_KEY, NULL},
        /* a label whose contents have another structure, and labels not read */
        {"p256.p8-as-ec.pem", 0, IOTSEC_E_BAD_KEY, NULL},
        {"p256.ec-as-rsa.pem", 0, IOTSEC_E_BAD_KEY, NULL},
        {"p256.p8-as-dsa.pem", 0, IOTSEC_E_BAD_KEY, NULL},
        {"rsa.pkcs1-as-spki.pem", 1, IOTSEC_E_BAD_KEY, NULL},
        {"rsa.spki-as-pkcs1.pem", 1, IOTSEC_E_BAD_KEY, NULL},
        {"p256.spki-as-cert.pem", 1, IOTSEC_E_BAD_KEY, NULL},
        {"p256.params.pem", 0, IOTSEC_E_BAD_KEY, NULL},
        /* the block with a label read here is found after others */
        {"p256.with-params.pem", 0, IOTSEC_OK, "p256"},
        {"p256.both.pem", 1, IOTSEC_OK, "p256"},
        {"p256.both.pem", 0, IOTSEC_OK, "p256"},
        /* DER: a certificate gives its public key; shapes of the other direction refused */
        {"cert.der", 1, IOTSEC_OK, "p256"},
        {"cert.der", 0, IOTSEC_E_BAD_KEY, NULL},
        {"p256.spki.der", 0, IOTSEC_E_BAD_KEY, NULL},
        {"p256.trad.der", 1, IOTSEC_E_BAD_KEY, NULL},
        {"rsa.trad.der", 1, IOTSEC_E_BAD_KEY, NULL},
        {"rsa.pkcs1.der", 0, IOTSEC_E_BAD_KEY, NULL},
    };
    /* DER of no shape read here: SEQ { INTEGER 0 }; an Ed25519 SPKI whose BIT STRING is an
     * OCTET STRING; PKCS#8 version 2; indefinite length; a multi-byte tag inside */
    static const uint8_t wrong[][16] = {
        {0x30, 0x03, 0x02, 0x01, 0x00},
        {0x30, 0x0c, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x03, 0x00, 0x01, 0x02},
        {0x30, 0x0e, 0x02, 0x01, 0x02, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x02,
         0x04, 0x00},
        {0x30, 0x80, 0x02, 0x01, 0x00, 0x00, 0x00},
        {0x30, 0x04, 0x1f, 0x81, 0x01, 0x00},
    };
    static const size_t wrong_len[] = {5, 14, 16, 7, 6};
    const iotsec_crypto *c = tu_backend(_i);
    uint8_t id[IOTSEC_KEY_ID_LEN], *buf, *der = NULL;
    size_t k, len, der_len = 0;
    iotsec_privkey sk;

    for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int rc = file_rc(c, cases[k].file, cases[k].pub, id);
        if (cases[k].rc != IOTSEC_OK) {
            ck_assert_msg(rc == cases[k].rc, "%s (%s): %s", cases[k].file,
                          cases[k].pub ? "public" : "private", iotsec_strerror(rc));
            buf = kf_read(cases[k].file, &len);
            ck_assert_int_eq(cases[k].pub ? iotsec_pubkey_decode(buf, len, &der, &der_len)
                                          : iotsec_privkey_decode(buf, len, &der, &der_len),
                             cases[k].rc);
            ck_assert_ptr_null(der);
            free(buf);
        } else {
            assert_form_loaded(c, cases[k].file, cases[k].key, NULL, rc, id);
        }
    }
    ck_assert_msg(kf_has("p256.with-params.pem", "-----BEGIN EC PARAMETERS-----"), "params");
    /* the files are what they claim: MSBLOB and PVK magic */
    buf = kf_read("rsa.msblob", &len);
    ck_assert(len > 8 && buf[0] == 0x07 && buf[1] == 0x02);
    free(buf);
    buf = kf_read("rsa.pub.msblob", &len);
    ck_assert(len > 8 && buf[0] == 0x06 && buf[1] == 0x02);
    free(buf);
    buf = kf_read("rsa.pvk", &len);
    ck_assert(len > 8 && memcmp(buf, "\x1e\xf1\xb5\xb0", 4) == 0);
    free(buf);
    for (k = 0; k < sizeof wrong_len / sizeof wrong_len[0]; k++) {
        ck_assert_int_eq(iotsec_pubkey_decode(wrong[k], wrong_len[k], &der, &der_len),
                         IOTSEC_E_BAD_KEY);
        ck_assert_int_eq(iotsec_privkey_decode(wrong[k], wrong_len[k], &der, &der_len),
                         IOTSEC_E_BAD_KEY);
        ck_assert_ptr_null(der);
        ck_assert_int_eq(iotsec_privkey_load(&sk, c, wrong[k], wrong_len[k]), IOTSEC_E_BAD_KEY);
    }
    /* the crypto adapters read PKCS#8 only (iotsec/crypto.h): a traditional key's DER is
     * refused there, while the key-file reader converts it */
    buf = kf_read("p256.trad.der", &len);
    ck_assert_int_eq(iotsec_privkey_load(&sk, c, buf, len), IOTSEC_E_BAD_KEY);
    free(buf);
    buf = kf_read("rsa.trad.der", &len);
    ck_assert_int_eq(iotsec_privkey_load(&sk, c, buf, len), IOTSEC_E_BAD_KEY);
    free(buf);
}
END_TEST

/* ---- key generation ------------------------------------------------------------------------ */

static unsigned file_mode(const char *path)
{
    struct stat st;

    ck_assert_int_eq(stat(path, &st), 0);
    return (unsigned)(st.st_mode & 07777);
}

START_TEST(test_keygen_files)
{
    static const struct {
        iotsec_sig_alg alg;
        unsigned bits;
        uint32_t cap;
    } algs[] = {{IOTSEC_SIG_ED25519, 0, IOTSEC_CAP_ED25519},
                {IOTSEC_SIG_ECDSA_P256, 0, IOTSEC_CAP_ECDSA_P256},
                {IOTSEC_SIG_RSA_PSS, 2048, IOTSEC_CAP_RSA_PSS}};
    static const mode_t umasks[] = {022, 077, 0};
    const iotsec_crypto *c = tu_backend(_i), *other = iotsec_crypto_default();
    char priv[512], pub[512], name[64];
    uint8_t id_sk[IOTSEC_KEY_ID_LEN], sig[IOTSEC_SIG_MAX_LEN];
    size_t k, sig_len;

    for (k = 0; k < sizeof algs / sizeof algs[0]; k++) {
        iotsec_privkey sk;
        iotsec_pubkey pk;
        int rc;

        snprintf(name, sizeof name, "gen%zu.key", k);
        kf_path(name, priv, sizeof priv);
        snprintf(name, sizeof name, "gen%zu.pub", k);
        kf_path(name, pub, sizeof pub);
        umask(umasks[k]);
        ck_assert_int_eq(iotsec_keygen_files(algs[k].alg, algs[k].bits, priv, pub), IOTSEC_OK);
        umask(022);
        ck_assert_uint_eq(file_mode(priv), 0600);
        ck_assert_uint_eq(file_mode(pub), 0644);
        /* openssl reads both, as PKCS#8 and SPKI PEM */
        ck_assert_int_eq(tu_sh("grep -q -- '-----BEGIN PRIVATE KEY-----' '%s' && "
                               "openssl pkey -in '%s' -noout && "
                               "grep -q -- '-----BEGIN PUBLIC KEY-----' '%s' && "
                               "openssl pkey -pubin -in '%s' -noout",
                               priv, priv, pub, pub),
                         0);
        rc = iotsec_privkey_load_file(&sk, c, priv);
        if (!iotsec_crypto_has(c, algs[k].cap)) {
            ck_assert_int_eq(rc, IOTSEC_E_UNSUPPORTED);
            ck_assert_int_eq(iotsec_pubkey_load_file(&pk, c, pub), IOTSEC_E_UNSUPPORTED);
            continue;
        }
        ck_assert_int_eq(rc, IOTSEC_OK);
        ck_assert_int_eq(sk.alg, algs[k].alg);
        ck_assert_int_eq(iotsec_pubkey_load_file(&pk, c, pub), IOTSEC_OK);
        ck_assert_int_eq(iotsec_privkey_key_id(&sk, id_sk), IOTSEC_OK);
        ck_assert_mem_eq(id_sk, pk.key_id, IOTSEC_KEY_ID_LEN);
        ck_assert_int_eq(iotsec_sign(&sk, (const uint8_t *)"m", 1, sig, sizeof sig, &sig_len),
                         IOTSEC_OK);
        ck_assert_int_eq(iotsec_verify(&pk, (const uint8_t *)"m", 1, sig, sig_len), IOTSEC_OK);
        iotsec_pubkey_free(&pk);
        /* the same files in the other backend: same key id, the signature verifies */
        if (iotsec_crypto_has(other, algs[k].cap)) {
            ck_assert_int_eq(iotsec_pubkey_load_file(&pk, other, pub), IOTSEC_OK);
            ck_assert_mem_eq(id_sk, pk.key_id, IOTSEC_KEY_ID_LEN);
            ck_assert_int_eq(iotsec_verify(&pk, (const uint8_t *)"m", 1, sig, sig_len),
                             IOTSEC_OK);
            iotsec_pubkey_free(&pk);
        }
        iotsec_privkey_free(&sk);
    }
    /* Ed25519 key files load in every backend built, with one key id */
    if (tu_backend_count() > 1) {
        uint8_t id0[IOTSEC_KEY_ID_LEN], id1[IOTSEC_KEY_ID_LEN];
        iotsec_privkey sk;
        kf_path("gen0.key", priv, sizeof priv);
        ck_assert_int_eq(iotsec_privkey_load_file(&sk, tu_backend(0), priv), IOTSEC_OK);
        ck_assert_int_eq(iotsec_privkey_key_id(&sk, id0), IOTSEC_OK);
        iotsec_privkey_free(&sk);
        ck_assert_int_eq(iotsec_privkey_load_file(&sk, tu_backend(1), priv), IOTSEC_OK);
        ck_assert_int_eq(iotsec_privkey_key_id(&sk, id1), IOTSEC_OK);
        iotsec_privkey_free(&sk);
        ck_assert_mem_eq(id0, id1, IOTSEC_KEY_ID_LEN);
    }
    /* no public file requested: only the private one is written */
    kf_path("solo.key", priv, sizeof priv);
    ck_assert_int_eq(iotsec_keygen_files(IOTSEC_SIG_ED25519, 0, priv, NULL), IOTSEC_OK);
    ck_assert_uint_eq(file_mode(priv), 0600);
    /* refused: unknown algorithm, RSA sizes outside 2048/3072/4096, no path, no directory */
    kf_path("never.key", priv, sizeof priv);
    ck_assert_int_eq(iotsec_keygen_files((iotsec_sig_alg)0x7f, 0, priv, NULL),
                     IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_keygen_files(IOTSEC_SIG_RSA_PSS, 1024, priv, NULL),
                     IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_keygen_files(IOTSEC_SIG_RSA_PSS, 8192, priv, NULL),
                     IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_keygen_files(IOTSEC_SIG_RSA_PSS, 0, priv, NULL), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(access(priv, F_OK), -1);
    ck_assert_int_eq(iotsec_keygen_files(IOTSEC_SIG_ED25519, 0, NULL, NULL), IOTSEC_E_INVALID_ARG);
    kf_path("no-such-dir/x.key", priv, sizeof priv);
    ck_assert_int_eq(iotsec_keygen_files(IOTSEC_SIG_ED25519, 0, priv, NULL), IOTSEC_E_IO);
}
END_TEST

/* ---- file helpers ------------------------------------------------------------------------------ */

START_TEST(test_file_read_secret)
{
    uint8_t secret[32], out[32], big[33];
    char path[512];

    (void)_i;
    tu_pattern(secret, sizeof secret, 7);
    kf_write("s32", secret, 32);
    kf_write("s31", secret, 31);
    memcpy(big, secret, 32);
    big[32] = 0;
    kf_write("s33", big, 33);
    kf_path("s32", path, sizeof path);
    memset(out, 0, sizeof out);
    ck_assert_int_eq(iotsec_file_read_secret(path, out, 32), IOTSEC_OK);
    ck_assert_mem_eq(out, secret, 32);
    /* 16-byte legacy encryption key: a 32-byte file is the wrong length */
    ck_assert_int_eq(iotsec_file_read_secret(path, out, 16), IOTSEC_E_BAD_LENGTH);
    kf_path("s31", path, sizeof path);
    ck_assert_int_eq(iotsec_file_read_secret(path, out, 32), IOTSEC_E_BAD_LENGTH);
    kf_path("s33", path, sizeof path);
    ck_assert_int_eq(iotsec_file_read_secret(path, out, 32), IOTSEC_E_BAD_LENGTH);
    kf_path("missing", path, sizeof path);
    ck_assert_int_eq(iotsec_file_read_secret(path, out, 32), IOTSEC_E_IO);
    ck_assert_int_eq(iotsec_file_read_secret(kf_dir, out, 32), IOTSEC_E_IO); /* a directory */
    ck_assert_int_eq(iotsec_file_read_secret(NULL, out, 32), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_file_read_secret(path, NULL, 32), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_file_read_secret(path, out, 0), IOTSEC_E_INVALID_ARG);
}
END_TEST

START_TEST(test_file_read)
{
    uint8_t *buf = NULL;
    size_t len = 99;
    char path[512];

    (void)_i;
    kf_write("ten", "0123456789", 10);
    kf_write("zero", "", 0);
    kf_path("ten", path, sizeof path);
    ck_assert_int_eq(iotsec_file_read(path, 10, &buf, &len), IOTSEC_OK);
    ck_assert_uint_eq(len, 10);
    ck_assert_mem_eq(buf, "0123456789", 10);
    ck_assert_uint_eq(buf[10], 0); /* NUL appended for text use */
    free(buf);
    ck_assert_int_eq(iotsec_file_read(path, 9, &buf, &len), IOTSEC_E_BAD_LENGTH);
    ck_assert_ptr_null(buf);
    ck_assert_int_eq(iotsec_file_read(path, (size_t)-1, &buf, &len), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_file_read(NULL, 10, &buf, &len), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_file_read(path, 10, NULL, &len), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_file_read(path, 10, &buf, NULL), IOTSEC_E_INVALID_ARG);
    kf_path("zero", path, sizeof path);
    ck_assert_int_eq(iotsec_file_read(path, 10, &buf, &len), IOTSEC_OK);
    ck_assert_uint_eq(len, 0);
    ck_assert_ptr_nonnull(buf);
    free(buf);
    ck_assert_int_eq(iotsec_file_read(kf_dir, 1 << 20, &buf, &len), IOTSEC_E_IO);
    kf_path("missing", path, sizeof path);
    ck_assert_int_eq(iotsec_file_read(path, 10, &buf, &len), IOTSEC_E_IO);
}
END_TEST

START_TEST(test_file_write_atomic)
{
    static const unsigned modes[] = {0600, 0640, 0644, 0400};
    char path[512], sub[512];
    uint8_t *buf;
    size_t k, len;

    (void)_i;
    ck_assert_int_eq(tu_sh("rm -rf '%s/w' && mkdir '%s/w'", kf_dir, kf_dir), 0);
    kf_path("w/state", path, sizeof path);
    for (k = 0; k < sizeof modes / sizeof modes[0]; k++) {
        char data[16];
        int n = snprintf(data, sizeof data, "version %zu", k);
        /* the umask neither narrows (077) nor widens (000) the requested mode */
        umask(k % 2 ? 077 : 0);
        ck_assert_int_eq(iotsec_file_write_atomic(path, data, (size_t)n, modes[k]), IOTSEC_OK);
        umask(022);
        ck_assert_uint_eq(file_mode(path), modes[k]);
        buf = tu_read_file(path, &len);
        ck_assert_uint_eq(len, (size_t)n);
        ck_assert_mem_eq(buf, data, len);
        free(buf);
    }
    /* nothing but the file is left in its directory (no temporary) */
    ck_assert_int_eq(tu_sh("test \"$(ls -A '%s/w')\" = state", kf_dir), 0);
    ck_assert_int_eq(iotsec_file_write_atomic(path, NULL, 0, 0600), IOTSEC_OK);
    ck_assert_int_eq(iotsec_file_read_secret(path, (uint8_t *)sub, 1), IOTSEC_E_BAD_LENGTH);
    ck_assert_int_eq(iotsec_file_write_atomic(path, NULL, 1, 0600), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_file_write_atomic(NULL, "x", 1, 0600), IOTSEC_E_INVALID_ARG);
    kf_path("no-such-dir/state", sub, sizeof sub);
    ck_assert_int_eq(iotsec_file_write_atomic(sub, "x", 1, 0600), IOTSEC_E_IO);
    /* a temporary file left by a writer that died before its rename (a power cut), under
     * the name this process would pick if names were made from the pid alone (process ids
     * repeat across reboots): the next write still succeeds and leaves it alone */
    {
        char stale[600];
        snprintf(stale, sizeof stale, "%s.tmp.%ld", path, (long)getpid());
        ck_assert_int_eq(tu_sh("printf torn > '%s'", stale), 0);
        ck_assert_int_eq(iotsec_file_write_atomic(path, "after", 5, 0600), IOTSEC_OK);
        buf = tu_read_file(path, &len);
        ck_assert_uint_eq(len, 5);
        ck_assert_mem_eq(buf, "after", 5);
        free(buf);
        buf = tu_read_file(stale, &len);
        ck_assert_uint_eq(len, 4);
        free(buf);
        ck_assert_int_eq(unlink(stale), 0);
        ck_assert_int_eq(tu_sh("test \"$(ls -A '%s/w')\" = state", kf_dir), 0);
    }
    /* a relative path (directory "."), written from inside the directory */
    ck_assert_int_eq(chdir(kf_dir), 0);
    ck_assert_int_eq(iotsec_file_write_atomic("rel", "abc", 3, 0600), IOTSEC_OK);
    ck_assert_uint_eq(file_mode("rel"), 0600);
}
END_TEST

static Suite *keyfile_suite(void)
{
    Suite *s = suite_create("keyfile");
    TCase *tc = tcase_create("keyfile");

    tcase_set_timeout(tc, 60);
    tcase_add_unchecked_fixture(tc, kf_setup, kf_teardown);
    tu_add_backend_test(tc, test_private_key_forms);
    tu_add_backend_test(tc, test_public_key_forms);
    tu_add_backend_test(tc, test_key_file_pairs_sign_verify);
    tu_add_backend_test(tc, test_refused_key_files);
    tu_add_backend_test(tc, test_key_file_formats_routed);
    tu_add_backend_test(tc, test_keygen_files);
    tu_add_backend_test(tc, test_file_read_secret);
    tu_add_backend_test(tc, test_file_read);
    tu_add_backend_test(tc, test_file_write_atomic);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run_suite(keyfile_suite()); }
