/* Check suite: enrollment (include/iotsec/est.h, docs/DESIGN.md §14): bootstrap tokens (made,
 * hashed bound to the device, checked: wrong, used, expired), certificate requests checked
 * (proof of possession, the device's name, key types, base64 with line breaks, garbage) and
 * made, certs-only PKCS#7 answers both ways, cross-checked with the openssl CLI. */
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "testutil.h"
#include "x509_fixture.h"
#include "iotsec/est.h"

START_TEST(test_est_tokens)
{
    char text[IOTSEC_EST_TOKEN_TEXT_LEN + 1], text2[IOTSEC_EST_TOKEN_TEXT_LEN + 1];
    uint8_t stored[IOTSEC_EST_TOKEN_HASH_LEN], h[IOTSEC_EST_TOKEN_HASH_LEN];
    int64_t now = 1800000000;

    ck_assert_int_eq(iotsec_est_token_new("dev-1", 5, text, stored), IOTSEC_OK);
    ck_assert_uint_eq(strlen(text), IOTSEC_EST_TOKEN_TEXT_LEN);
    ck_assert_uint_eq(strspn(text, "0123456789abcdef"), IOTSEC_EST_TOKEN_TEXT_LEN);
    ck_assert_int_eq(iotsec_est_token_new("dev-1", 5, text2, h), IOTSEC_OK);
    ck_assert_str_ne(text, text2);
    /* the hash of the presented token for the same device matches, for another not */
    ck_assert_int_eq(iotsec_est_token_hash("dev-1", 5, text, strlen(text), h), IOTSEC_OK);
    ck_assert_int_eq(memcmp(h, stored, sizeof h), 0);
    ck_assert_int_eq(iotsec_est_token_check(stored, now + 10, 0, h, now), IOTSEC_OK);
    ck_assert_int_eq(iotsec_est_token_check(stored, now, 0, h, now), IOTSEC_OK);
    ck_assert_int_eq(iotsec_est_token_check(stored, now - 1, 0, h, now), IOTSEC_E_EXPIRED);
    ck_assert_int_eq(iotsec_est_token_check(stored, now + 10, now - 5, h, now), IOTSEC_E_REPLAY);
    ck_assert_int_eq(iotsec_est_token_hash("dev-2", 5, text, strlen(text), h), IOTSEC_OK);
    ck_assert_int_eq(iotsec_est_token_check(stored, now + 10, 0, h, now), IOTSEC_E_BAD_MAC);
    /* a wrong token says nothing about use or expiry */
    ck_assert_int_eq(iotsec_est_token_check(stored, now - 1, now - 5, h, now), IOTSEC_E_BAD_MAC);
    ck_assert_int_eq(iotsec_est_token_hash("dev-1", 5, text2, strlen(text2), h), IOTSEC_OK);
    ck_assert_int_eq(iotsec_est_token_check(stored, now + 10, 0, h, now), IOTSEC_E_BAD_MAC);
    /* misuse */
    ck_assert_int_eq(iotsec_est_token_new("bad id", 6, text, h), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_est_token_hash("dev-1", 5, text, 1025, h), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_est_token_check(NULL, 0, 0, h, now), IOTSEC_E_INVALID_ARG);
    ck_assert_int_eq(iotsec_est_token_check(stored, 0, -1, h, now), IOTSEC_E_INVALID_ARG);
}
END_TEST

static int check(const char *b64, const char *id, EVP_PKEY **key, char *why)
{
    return iotsec_est_csr_check((const uint8_t *)b64, strlen(b64), id, strlen(id), key, why,
                                256);
}

START_TEST(test_est_requests)
{
    EVP_PKEY *k = fx_p256(), *got = NULL, *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    char *b64 = NULL, *ed64 = NULL, *bad64 = NULL, why[256], dir[256];
    uint8_t *text;
    size_t len = 0;
    int rc;

    ck_assert_int_eq(iotsec_est_csr_make(k, "dev-9", &b64, &len), IOTSEC_OK);
    ck_assert_uint_eq(len, strlen(b64));
    ck_assert_ptr_nonnull(strchr(b64, '\n')); /* lines of 64 */
    ck_assert_int_eq(check(b64, "dev-9", &got, why), IOTSEC_OK);
    ck_assert_int_eq(EVP_PKEY_eq(got, k), 1);
    EVP_PKEY_free(got);
    ck_assert_int_eq(check(b64, "dev-8", NULL, why), IOTSEC_E_IDENTITY_MISMATCH);
    ck_assert_str_eq(why, "the request names another device than dev-8");
    ck_assert_int_eq(iotsec_est_csr_make(ed, "dev-ed", &ed64, &len), IOTSEC_OK);
    ck_assert_int_eq(check(ed64, "dev-ed", NULL, why), IOTSEC_OK);
    ck_assert_int_eq(iotsec_est_csr_make(p384, "dev-384", &bad64, &len), IOTSEC_OK);
    ck_assert_int_eq(check(bad64, "dev-384", NULL, why), IOTSEC_E_BAD_KEY);
    free(bad64);
    /* a flipped bit in the signature: no proof of possession */
    {
        uint8_t der[2048];
        size_t n = 0, i, k2 = 0;
        char flat[4096], out[4096];
        for (i = 0; b64[i] != '\0'; i++)
            if (b64[i] != '\n')
                flat[k2++] = b64[i];
        ck_assert_int_eq(iotsec_base64_decode(flat, k2, der, sizeof der, &n), IOTSEC_OK);
        der[n - 3] ^= 1;
        ck_assert_int_eq(iotsec_base64_encode(der, n, out, sizeof out, NULL), IOTSEC_OK);
        ck_assert_int_eq(check(out, "dev-9", NULL, why), IOTSEC_E_BAD_SIGNATURE);
        ck_assert_ptr_nonnull(strstr(why, "proof of possession"));
        /* trailing bytes */
        der[n - 3] ^= 1;
        der[n] = 0;
        ck_assert_int_eq(iotsec_base64_encode(der, n + 1, out, sizeof out, NULL), IOTSEC_OK);
        ck_assert_int_eq(check(out, "dev-9", NULL, why), IOTSEC_E_TRAILING_DATA);
    }
    ck_assert_int_eq(check("not base64!", "dev-9", NULL, why), IOTSEC_E_BAD_ENCODING);
    ck_assert_int_eq(check("AAAA", "dev-9", NULL, why), IOTSEC_E_BAD_ENCODING);
    ck_assert_int_eq(check("", "dev-9", NULL, why), IOTSEC_E_BAD_LENGTH);
    ck_assert_int_eq(check(b64, "bad id", NULL, why), IOTSEC_E_INVALID_ARG);
    /* requests made by the openssl CLI: names, SANs, two CNs */
    tu_tmpdir(dir, sizeof dir);
    ck_assert_int_eq(tu_sh("cd '%s' && for x in ok:'/CN=dev-1' san:'/CN=dev-1' bad:'/CN=dev-1' "
                           "two:'/CN=dev-1/CN=dev-2' none:'/O=acme'; do n=${x%%%%:*}; s=${x#*:}; "
                           "e=; [ $n = san ] && e='-addext subjectAltName=DNS:dev-1'; "
                           "[ $n = bad ] && e='-addext subjectAltName=DNS:evil.example'; "
                           "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                           "-keyout $n.key -subj \"$s\" $e -outform DER 2>/dev/null | base64 > "
                           "$n.b64 || exit 1; done",
                           dir),
                     0);
    {
        static const struct {
            const char *name;
            int rc;
        } cases[] = {{"ok", IOTSEC_OK},
                     {"san", IOTSEC_OK},
                     {"bad", IOTSEC_E_POLICY},
                     {"two", IOTSEC_E_MALFORMED},
                     {"none", IOTSEC_E_MISSING_FIELD}};
        size_t i;
        char path[512];
        for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            snprintf(path, sizeof path, "%s/%s.b64", dir, cases[i].name);
            text = tu_read_file(path, &len);
            rc = iotsec_est_csr_check(text, len, "dev-1", 5, NULL, why, sizeof why);
            ck_assert_msg(rc == cases[i].rc, "%s: %d (%s)", cases[i].name, rc, why);
            free(text);
        }
    }
    tu_tmpdir_cleanup(dir);
    free(b64);
    free(ed64);
    EVP_PKEY_free(k);
    EVP_PKEY_free(ed);
    EVP_PKEY_free(p384);
}
END_TEST

START_TEST(test_est_certs)
{
    fx_ca root, inter;
    EVP_PKEY *k = fx_p256();
    X509 *dev, *in[3], *out[4] = {NULL, NULL, NULL, NULL};
    char *b64 = NULL, dir[256], path[512];
    size_t len = 0, n = 0, i;

    fx_ca_make(&root, NULL, "EST Root", 1);
    fx_ca_make(&inter, &root, "EST Issuing CA", 0);
    dev = fx_issue(&inter, k, "dev-est");
    in[0] = dev;
    in[1] = inter.cert;
    in[2] = root.cert;
    ck_assert_int_eq(iotsec_est_certs_encode(in, 3, &b64, &len), IOTSEC_OK);
    ck_assert_int_eq(iotsec_est_certs_decode((const uint8_t *)b64, len, out, 4, &n), IOTSEC_OK);
    ck_assert_uint_eq(n, 3);
    for (i = 0; i < 3; i++) {
        ck_assert_int_eq(X509_cmp(out[i], in[i]), 0);
        X509_free(out[i]);
    }
    ck_assert_int_eq(iotsec_est_certs_decode((const uint8_t *)b64, len, out, 2, &n),
                     IOTSEC_E_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(n, 0);
    /* openssl reads it */
    tu_tmpdir(dir, sizeof dir);
    tu_write_file(dir, "p7.b64", b64, len, path, sizeof path);
    ck_assert_int_eq(tu_sh("base64 -d '%s' | openssl pkcs7 -inform DER -print_certs -noout | "
                           "grep -c subject= | grep -qx 3",
                           path),
                     0);
    tu_tmpdir_cleanup(dir);
    ck_assert_int_eq(iotsec_est_certs_decode((const uint8_t *)"AAAA", 4, out, 4, &n),
                     IOTSEC_E_BAD_ENCODING);
    ck_assert_int_eq(iotsec_est_certs_encode(in, 0, &b64, &len), IOTSEC_E_INVALID_ARG);
    free(b64);
    X509_free(dev);
    EVP_PKEY_free(k);
    fx_ca_free(&root);
    fx_ca_free(&inter);
}
END_TEST

static Suite *est_suite(void)
{
    Suite *s = suite_create("est");
    TCase *t = tcase_create("est");

    tcase_set_timeout(t, 60);
    tcase_add_test(t, test_est_tokens);
    tcase_add_test(t, test_est_requests);
    tcase_add_test(t, test_est_certs);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return tu_run_suite(est_suite()); }
