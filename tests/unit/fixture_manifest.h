/*
 * Fixtures shared by the manifest and image suites: the fixed test keys of
 * bindings-spec/vectors/keys/ and a sample set of manifest fields.
 */
#ifndef IOTSEC_FIXTURE_MANIFEST_H
#define IOTSEC_FIXTURE_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "iotsec/iotsec.h"

/* The fixed test keys. */
enum { FX_ED25519_1, FX_ED25519_2, FX_ED25519_3, FX_P256, FX_RSA2048, FX_NKEYS };

/* Path of key k's PKCS#8 PEM file (relative to the source tree, or $IOTSEC_SRCDIR). */
const char *fx_key_path(int k);
/* Short name: "ed25519-1", …, "p256", "rsa2048". */
const char *fx_key_name(int k);
/* The capability a backend needs for key k. */
uint32_t fx_key_cap(int k);
/* Load key k's private key and its public key into crypto. Returns the first error
 * (IOTSEC_E_UNSUPPORTED when crypto lacks the algorithm); on error nothing stays loaded. */
int fx_load_key(const iotsec_crypto *crypto, int k, iotsec_privkey *sk, iotsec_pubkey *pk);

/* Sample manifest fields. fx_fields_minimal sets only the required ones; the digest points
 * to storage inside *st, which must outlive *f. */
typedef struct fx_storage {
    uint8_t image_digest[32];
    uint8_t payload_digest[32];
    uint8_t enc_key_id[8];
    uint8_t enc_iv[16];
} fx_storage;
void fx_fields_minimal(iotsec_manifest_fields *f, fx_storage *st);
/* Every optional field set (encryption with made-up but consistent sizes). */
void fx_fields_full(iotsec_manifest_fields *f, fx_storage *st);

/* Compare two field sets (pointers compared by content). Returns 1 when equal. */
int fx_fields_equal(const iotsec_manifest_fields *a, const iotsec_manifest_fields *b);

#endif
