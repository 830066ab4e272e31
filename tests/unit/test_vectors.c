/* Check suite: the bindings-spec vectors no module suite regenerates —
 * bindings-spec/vectors/firmware_image.json (tools/gen-vectors/gen_firmware.c): the committed
 * file is reproduced byte for byte by a fresh run, and every image and policy case gives the
 * same result on every backend (a backend without AES-CBC gives IOTSEC_E_UNSUPPORTED exactly
 * where the case needs to decrypt). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "../../tools/gen-vectors/gen_vectors.h"

#define FIRMWARE_VECTORS "bindings-spec/vectors/firmware_image.json"

START_TEST(test_firmware_vectors_reproduced)
{
    char *mem = NULL;
    size_t mlen = 0, flen = 0;
    uint8_t *committed;
    FILE *f;

    ck_assert_msg(iotsec_crypto_openssl() != NULL, "the vectors need the OpenSSL backend");
    f = open_memstream(&mem, &mlen);
    ck_assert_ptr_nonnull(f);
    gen_firmware(f);
    ck_assert_int_eq(fclose(f), 0);
    committed = tu_read_file(FIRMWARE_VECTORS, &flen);
    ck_assert_msg(flen == mlen && memcmp(committed, mem, mlen) == 0,
                  "%s differs from a fresh run of tools/gen-vectors/gen_firmware.c (regenerate "
                  "it, see the generator's header, and review the diff)",
                  FIRMWARE_VECTORS);
    free(committed);
    free(mem);
}
END_TEST

/* The image cases on each backend: the manifests verify with the backend's own copy of the
 * signer key; a case that reaches the AES key schedule gives IOTSEC_E_UNSUPPORTED without
 * AES-CBC, every other case gives the vector's result at the same step. */
START_TEST(test_firmware_images_every_backend)
{
    const iotsec_crypto *c = tu_backend(_i);
    gen_fw_state *s;
    iotsec_pubkey pk;
    iotsec_trust_store ts;
    uint8_t spki[IOTSEC_SPKI_MAX_LEN];
    size_t spki_len = 0, i;
    int k;

    if (iotsec_crypto_openssl() == NULL)
        return;
    s = calloc(1, sizeof *s);
    ck_assert_ptr_nonnull(s);
    gen_fw_setup(s);
    ck_assert_int_eq(iotsec_privkey_public_spki(&s->sk, spki, sizeof spki, &spki_len), IOTSEC_OK);
    ck_assert_int_eq(iotsec_pubkey_load(&pk, c, spki, spki_len), IOTSEC_OK);
    ck_assert_int_eq(iotsec_trust_store_init(&ts, &pk, 1), IOTSEC_OK);
    for (k = 0; k < GEN_FW_M_COUNT; k++) {
        iotsec_manifest m;
        ck_assert_int_eq(iotsec_manifest_verify(&ts, s->buf[k], s->len[k], &m), IOTSEC_OK);
        ck_assert_mem_eq(&m.f.security_counter, &s->m[k].f.security_counter, sizeof(uint64_t));
    }
    for (i = 0; i < gen_fw_nimages; i++) {
        const struct gen_fw_image_case *v = &gen_fw_image_cases[i];
        uint8_t out[512];
        size_t out_len = 0;
        const char *at = NULL;
        int rc = gen_fw_run(c, s, v, out, &out_len, &at);
        int needs_aes = !v->plaintext_mode && v->key == GEN_FW_KEY_FW &&
                        (s->m[v->manifest].f.present & IOTSEC_MF_ENCRYPTION) != 0;

        if (needs_aes && !iotsec_crypto_has(c, IOTSEC_CAP_AES_CBC)) {
            ck_assert_msg(rc == IOTSEC_E_UNSUPPORTED && strcmp(at, "init") == 0,
                          "%s on %s: %s at %s", v->name, c->name, iotsec_error_name(rc), at);
            continue;
        }
        ck_assert_msg(rc == v->want, "%s on %s: %s, want %s", v->name, c->name,
                      iotsec_error_name(rc), iotsec_error_name(v->want));
        if (rc == IOTSEC_OK) {
            ck_assert_uint_eq(out_len, GEN_FW_IMAGE_LEN);
            ck_assert_mem_eq(out, s->image, GEN_FW_IMAGE_LEN);
        } else {
            ck_assert_str_eq(at, v->fails_at);
        }
    }
    for (i = 0; i < gen_fw_npolicy; i++)
        ck_assert_int_eq(gen_fw_policy_run(s, &gen_fw_policy_cases[i]),
                         gen_fw_policy_cases[i].want);
    iotsec_pubkey_free(&pk);
    gen_fw_teardown(s);
    free(s);
}
END_TEST

static Suite *vectors_suite(void)
{
    Suite *s = suite_create("vectors");
    TCase *tc = tcase_create("vectors");

    tcase_add_test(tc, test_firmware_vectors_reproduced);
    tu_add_backend_test(tc, test_firmware_images_every_backend);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run_suite(vectors_suite()); }
