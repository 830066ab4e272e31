/* Fuzz target: key files and key loading — iotsec_pubkey_decode / iotsec_privkey_decode
 * (PEM or DER, SPKI, PKCS#1, PKCS#8, traditional, a certificate's key; libiotsec/posix/
 * keyfile.c) and the backend adapters' iotsec_pubkey_load / iotsec_privkey_load on raw DER,
 * for OpenSSL and for libsodium (which has its own DER reading for Ed25519 and for
 * classifying the keys it cannot use).
 *
 * Invariants checked:
 *   - decoding is a fixed point: the canonical DER a key file decodes to decodes to itself;
 *   - the two backends agree: a key libsodium loads, OpenSSL loads with the same key id;
 *     a canonical Ed25519 key OpenSSL loads, libsodium loads too; any other SPKI or PKCS#8
 *     key OpenSSL loads is IOTSEC_E_UNSUPPORTED there;
 *   - a key loaded from raw DER has the key id of the canonical DER the key-file decoder
 *     makes of the same bytes;
 *   - a loaded private key signs (Ed25519, P-256) what its own public key verifies, and a
 *     signature taken from the input never crashes a verifier;
 *   - only documented errors come back;
 *   - only the formats keyfile.h names are read: an input that is neither DER (first byte
 *     0x30) nor text with a PEM "-----BEGIN " line (an MSBLOB or PVK file, say) is
 *     IOTSEC_E_BAD_KEY for both decoders.
 *
 * Speed: no key is generated here, per input or at all. The key-file decoders classify
 * their input (DER shape or PEM label) before OpenSSL sees it and then call one parser, and
 * the OpenSSL adapter's private-key load checks the PKCS#8 shape first, so every input goes
 * through every call (no pre-filter): what is no key costs microseconds there.
 * tests/fuzz/fuzz_keyload.c fuzzes the adapters' own parsers alone. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "iotsec/crypto.h"
#include "iotsec/error.h"
#include "iotsec/keyfile.h"
#include "iotsec/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t msg[] = "iotsec fuzz keyfile";

static int has_text(const uint8_t *in, size_t len, const char *marker)
{
    size_t m = strlen(marker), i;

    for (i = 0; i + m <= len; i++)
        if (memcmp(in + i, marker, m) == 0)
            return 1;
    return 0;
}

/* Could a key-file decoder read in at all: DER or text with a PEM boundary? */
static int keyfile_shaped(const uint8_t *in, size_t len)
{
    return in[0] == 0x30 || has_text(in, len, "-----BEGIN ");
}

static int load_err_ok(int rc)
{
    return rc == IOTSEC_OK || rc == IOTSEC_E_BAD_KEY || rc == IOTSEC_E_UNSUPPORTED;
}

/* pubkey_load with both backends on der; returns OpenSSL's result, the key in *po */
static int load_pub_both(const uint8_t *der, size_t len, iotsec_pubkey *po, int canonical)
{
    iotsec_pubkey ps;
    int ro = iotsec_pubkey_load(po, iotsec_crypto_openssl(), der, len);
    int rs = iotsec_pubkey_load(&ps, iotsec_crypto_sodium(), der, len);

    if (!load_err_ok(ro) || !load_err_ok(rs))
        abort();
    if (rs == IOTSEC_OK &&
        (ro != IOTSEC_OK || po->alg != IOTSEC_SIG_ED25519 || ps.alg != IOTSEC_SIG_ED25519 ||
         memcmp(po->key_id, ps.key_id, IOTSEC_KEY_ID_LEN) != 0))
        abort();
    if (ro == IOTSEC_OK && po->alg != IOTSEC_SIG_ED25519 && rs != IOTSEC_E_UNSUPPORTED)
        abort();
    if (canonical && ro == IOTSEC_OK && po->alg == IOTSEC_SIG_ED25519 && rs != IOTSEC_OK)
        abort();
    if (rs == IOTSEC_OK)
        iotsec_pubkey_free(&ps);
    return ro;
}

/* a signature from the input (its last sig_len bytes, or all of it) never verifies
 * wrongly: only IOTSEC_OK or IOTSEC_E_BAD_SIGNATURE */
static void verify_input_sig(const iotsec_pubkey *pk, const uint8_t *data, size_t size)
{
    size_t n = size < pk->sig_len ? size : pk->sig_len;
    int rc = iotsec_verify(pk, msg, sizeof msg, data + size - n, n);

    if (rc != IOTSEC_OK && rc != IOTSEC_E_BAD_SIGNATURE)
        abort();
}

static void pub_part(const uint8_t *data, size_t size)
{
    iotsec_pubkey raw, canon;
    uint8_t *der = NULL, *der2 = NULL;
    size_t der_len = 0, der2_len = 0;
    int rr, rd, rc;

    /* raw DER straight into the adapters */
    rr = load_pub_both(data, size, &raw, 0);
    if (rr == IOTSEC_OK)
        verify_input_sig(&raw, data, size);
    /* the key-file decoder */
    rd = iotsec_pubkey_decode(data, size, &der, &der_len);
    if (rd != IOTSEC_OK && rd != IOTSEC_E_BAD_KEY && rd != IOTSEC_E_UNSUPPORTED)
        abort();
    if (!keyfile_shaped(data, size) && rd != IOTSEC_E_BAD_KEY)
        abort(); /* no other format (MSBLOB, PVK) is read */
    if (rd != IOTSEC_OK && (der != NULL || der_len != 0))
        abort();
    if (rr == IOTSEC_OK && rd != IOTSEC_OK)
        abort(); /* a key the adapter takes, the key-file reader takes too */
    if (rd == IOTSEC_OK) {
        if (iotsec_pubkey_decode(der, der_len, &der2, &der2_len) != IOTSEC_OK ||
            der2_len != der_len || memcmp(der, der2, der_len) != 0)
            abort();
        rc = load_pub_both(der, der_len, &canon, 1);
        if (rr == IOTSEC_OK &&
            (rc != IOTSEC_OK || memcmp(raw.key_id, canon.key_id, IOTSEC_KEY_ID_LEN) != 0))
            abort();
        if (rc == IOTSEC_OK)
            iotsec_pubkey_free(&canon);
    }
    if (rr == IOTSEC_OK)
        iotsec_pubkey_free(&raw);
    free(der);
    free(der2);
}

/* load der as a private key in both backends; check they agree and that the key signs
 * what its public key verifies */
static void load_priv_both(const uint8_t *der, size_t len, int canonical)
{
    iotsec_privkey so, ss;
    iotsec_pubkey pk;
    uint8_t spki[IOTSEC_SPKI_MAX_LEN], spki2[IOTSEC_SPKI_MAX_LEN], id[IOTSEC_KEY_ID_LEN];
    uint8_t sig[IOTSEC_SIG_MAX_LEN];
    size_t spki_len = 0, spki2_len = 0, sig_len = 0;
    int ro = iotsec_privkey_load(&so, iotsec_crypto_openssl(), der, len);
    int rs = iotsec_privkey_load(&ss, iotsec_crypto_sodium(), der, len);

    if (!load_err_ok(ro) || !load_err_ok(rs))
        abort();
    /* PKCS#8 of another algorithm is unsupported there (both adapters read PKCS#8 only) */
    if (canonical && ro == IOTSEC_OK && so.alg != IOTSEC_SIG_ED25519 &&
        rs != IOTSEC_E_UNSUPPORTED)
        abort();
    if (canonical && ro == IOTSEC_OK && so.alg == IOTSEC_SIG_ED25519 && rs != IOTSEC_OK)
        abort();
    if (rs == IOTSEC_OK) {
        if (ro != IOTSEC_OK || so.alg != IOTSEC_SIG_ED25519 ||
            iotsec_privkey_public_spki(&ss, spki2, sizeof spki2, &spki2_len) != IOTSEC_OK)
            abort();
    }
    if (ro == IOTSEC_OK) {
        if (iotsec_privkey_public_spki(&so, spki, sizeof spki, &spki_len) != IOTSEC_OK ||
            iotsec_privkey_key_id(&so, id) != IOTSEC_OK)
            abort();
        if (rs == IOTSEC_OK && (spki_len != spki2_len || memcmp(spki, spki2, spki_len) != 0))
            abort();
        /* the public half loads (the size rules are the same for both halves, and the
         * public key of an Ed25519 seed is never of small order) with the same key id */
        if (iotsec_pubkey_load(&pk, iotsec_crypto_openssl(), spki, spki_len) != IOTSEC_OK ||
            memcmp(pk.key_id, id, IOTSEC_KEY_ID_LEN) != 0)
            abort();
        /* RSA signing costs milliseconds and the OpenSSL adapter does not pairwise-check
         * RSA private keys (documented there); sign with the others */
        if (so.alg != IOTSEC_SIG_RSA_PSS) {
            if (iotsec_sign(&so, msg, sizeof msg, sig, sizeof sig, &sig_len) != IOTSEC_OK ||
                iotsec_verify(&pk, msg, sizeof msg, sig, sig_len) != IOTSEC_OK)
                abort();
        }
        iotsec_pubkey_free(&pk);
        iotsec_privkey_free(&so);
    }
    if (rs == IOTSEC_OK)
        iotsec_privkey_free(&ss);
}

static void priv_part(const uint8_t *data, size_t size)
{
    uint8_t *der = NULL, *der2 = NULL;
    size_t der_len = 0, der2_len = 0;
    int rd;

    load_priv_both(data, size, 0);
    rd = iotsec_privkey_decode(data, size, &der, &der_len);
    if (rd != IOTSEC_OK && rd != IOTSEC_E_BAD_KEY && rd != IOTSEC_E_UNSUPPORTED)
        abort();
    if (!keyfile_shaped(data, size) && rd != IOTSEC_E_BAD_KEY)
        abort();
    if (rd != IOTSEC_OK && (der != NULL || der_len != 0))
        abort();
    if (rd == IOTSEC_OK) {
        if (iotsec_privkey_decode(der, der_len, &der2, &der2_len) != IOTSEC_OK ||
            der2_len != der_len || memcmp(der, der2, der_len) != 0)
            abort();
        load_priv_both(der, der_len, 1);
        iotsec_zeroize(der, der_len);
        iotsec_zeroize(der2, der2_len);
    }
    free(der);
    free(der2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > 16384)
        return 0;
    pub_part(data, size);
    priv_part(data, size);
    return 0;
}
