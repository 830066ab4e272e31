/* Fixtures shared by the manifest and image suites (fixture_manifest.h). */
#include "fixture_manifest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    const char *file;
    uint32_t cap;
} fx_keys[FX_NKEYS] = {
    {"ed25519-1", "manifest-ed25519-1.pem", IOTSEC_CAP_ED25519},
    {"ed25519-2", "manifest-ed25519-2.pem", IOTSEC_CAP_ED25519},
    {"ed25519-3", "manifest-ed25519-3.pem", IOTSEC_CAP_ED25519},
    {"p256", "manifest-p256.pem", IOTSEC_CAP_ECDSA_P256},
    {"rsa2048", "manifest-rsa2048.pem", IOTSEC_CAP_RSA_PSS},
};

const char *fx_key_path(int k)
{
    static char path[FX_NKEYS][512];
    const char *top = getenv("IOTSEC_SRCDIR");

    snprintf(path[k], sizeof path[k], "%s/bindings-spec/vectors/keys/%s",
             top != NULL && *top != '\0' ? top : ".", fx_keys[k].file);
    return path[k];
}

const char *fx_key_name(int k) { return fx_keys[k].name; }

uint32_t fx_key_cap(int k) { return fx_keys[k].cap; }

int fx_load_key(const iotsec_crypto *crypto, int k, iotsec_privkey *sk, iotsec_pubkey *pk)
{
    uint8_t spki[IOTSEC_SPKI_MAX_LEN];
    size_t spki_len = 0;
    int rc;

    rc = iotsec_privkey_load_file(sk, crypto, fx_key_path(k));
    if (rc != IOTSEC_OK)
        return rc;
    rc = iotsec_privkey_public_spki(sk, spki, sizeof spki, &spki_len);
    if (rc == IOTSEC_OK)
        rc = iotsec_pubkey_load(pk, crypto, spki, spki_len);
    if (rc != IOTSEC_OK)
        iotsec_privkey_free(sk);
    return rc;
}

void fx_fields_minimal(iotsec_manifest_fields *f, fx_storage *st)
{
    size_t i;

    memset(f, 0, sizeof *f);
    for (i = 0; i < sizeof st->image_digest; i++)
        st->image_digest[i] = (uint8_t)(0xA0 + i);
    f->security_counter = 7;
    f->version = (const uint8_t *)"1.4.2";
    f->version_len = 5;
    f->device_class = (const uint8_t *)"ecowatt-esp32";
    f->device_class_len = 13;
    f->image_size = 1000;
    f->image_digest = st->image_digest;
}

void fx_fields_full(iotsec_manifest_fields *f, fx_storage *st)
{
    size_t i;

    fx_fields_minimal(f, st);
    for (i = 0; i < sizeof st->payload_digest; i++)
        st->payload_digest[i] = (uint8_t)(0x40 + i);
    for (i = 0; i < sizeof st->enc_key_id; i++)
        st->enc_key_id[i] = (uint8_t)(0x10 + i);
    for (i = 0; i < sizeof st->enc_iv; i++)
        st->enc_iv[i] = (uint8_t)i;
    f->present = IOTSEC_MF_ALL;
    f->device_id = (const uint8_t *)"dev-0042";
    f->device_id_len = 8;
    f->not_after = 1900000000u;
    f->enc_alg = IOTSEC_ENC_AES256_CBC;
    f->enc_key_id = st->enc_key_id;
    f->enc_iv = st->enc_iv;
    f->payload_size = 1008; /* 1000 bytes + 8 bytes of PKCS#7 padding */
    f->payload_digest = st->payload_digest;
    f->chunk_size = 2048;
    f->uri = (const uint8_t *)"https://fw.example/ecowatt/1.4.2";
    f->uri_len = 32;
    f->description = (const uint8_t *)"nightly build";
    f->description_len = 13;
}

static int bytes_eq(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    if (alen != blen)
        return 0;
    if (alen == 0)
        return 1;
    return a != NULL && b != NULL && memcmp(a, b, alen) == 0;
}

int fx_fields_equal(const iotsec_manifest_fields *a, const iotsec_manifest_fields *b)
{
    uint32_t p = a->present;

    if (a->present != b->present || a->security_counter != b->security_counter ||
        a->image_size != b->image_size ||
        !bytes_eq(a->version, a->version_len, b->version, b->version_len) ||
        !bytes_eq(a->device_class, a->device_class_len, b->device_class, b->device_class_len) ||
        !bytes_eq(a->image_digest, 32, b->image_digest, 32))
        return 0;
    if ((p & IOTSEC_MF_DEVICE_ID) &&
        !bytes_eq(a->device_id, a->device_id_len, b->device_id, b->device_id_len))
        return 0;
    if ((p & IOTSEC_MF_NOT_AFTER) && a->not_after != b->not_after)
        return 0;
    if ((p & IOTSEC_MF_ENCRYPTION) &&
        (a->enc_alg != b->enc_alg || !bytes_eq(a->enc_key_id, 8, b->enc_key_id, 8) ||
         !bytes_eq(a->enc_iv, 16, b->enc_iv, 16) || a->payload_size != b->payload_size ||
         !bytes_eq(a->payload_digest, 32, b->payload_digest, 32)))
        return 0;
    if ((p & IOTSEC_MF_CHUNK_SIZE) && a->chunk_size != b->chunk_size)
        return 0;
    if ((p & IOTSEC_MF_URI) && !bytes_eq(a->uri, a->uri_len, b->uri, b->uri_len))
        return 0;
    if ((p & IOTSEC_MF_DESCRIPTION) &&
        !bytes_eq(a->description, a->description_len, b->description, b->description_len))
        return 0;
    return 1;
}
