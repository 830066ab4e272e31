/* Fuzz target: the crypto adapters' own key readers on raw DER, at full speed — the
 * libsodium adapter's DER reader (Ed25519 SPKI / PKCS#8, and the classification of the
 * keys it cannot use: libiotsec/crypto/sodium.c) and the OpenSSL adapter's public-key load
 * (d2i_PUBKEY, key classification and size rules). tests/fuzz/fuzz_keyfile.c covers the
 * key-file decoders and the OpenSSL private-key load, whose OpenSSL 3.0 decoders cost
 * milliseconds a call; here the OpenSSL private-key load runs only on what libsodium took.
 *
 * Fixed key material, loaded once: the RFC 8032 §7.1 TEST 1 Ed25519 key in both backends
 * (tests/fuzz/manifest_key.h) and its signature of msg. No key is generated.
 *
 * Invariants:
 *   - only documented errors come back (IOTSEC_E_BAD_KEY, IOTSEC_E_UNSUPPORTED);
 *   - a public key libsodium loads, OpenSSL loads with the same key id; any other key
 *     OpenSSL loads is IOTSEC_E_UNSUPPORTED in libsodium;
 *   - a private key libsodium loads, OpenSSL loads with the same public key and key id, and
 *     its signature verifies in both backends;
 *   - a signature taken from the input verifies (or not) the same in both backends under
 *     the fixed key, and only the real signature verifies. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "iotsec/crypto.h"
#include "iotsec/error.h"
#include "manifest_key.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t msg[] = "iotsec fuzz keyload";

static iotsec_privkey fixed_sk[2];
static iotsec_pubkey fixed_pk[2];
static uint8_t fixed_sig[64];

static const iotsec_crypto *backend(int i)
{
    return i == 0 ? iotsec_crypto_openssl() : iotsec_crypto_sodium();
}

static void init_once(void)
{
    static int ready;
    iotsec_trust_store ts;
    size_t n = 0;
    int i;

    if (ready)
        return;
    for (i = 0; i < 2; i++)
        fuzz_manifest_key(backend(i), &fixed_sk[i], &fixed_pk[i], &ts);
    if (iotsec_sign(&fixed_sk[0], msg, sizeof msg, fixed_sig, sizeof fixed_sig, &n) !=
            IOTSEC_OK ||
        n != sizeof fixed_sig)
        abort();
    ready = 1;
}

static int load_err_ok(int rc)
{
    return rc == IOTSEC_OK || rc == IOTSEC_E_BAD_KEY || rc == IOTSEC_E_UNSUPPORTED;
}

static void pub_part(const uint8_t *data, size_t size)
{
    iotsec_pubkey po, ps;
    int ro = iotsec_pubkey_load(&po, iotsec_crypto_openssl(), data, size);
    int rs = iotsec_pubkey_load(&ps, iotsec_crypto_sodium(), data, size);

    if (!load_err_ok(ro) || !load_err_ok(rs))
        abort();
    if (rs == IOTSEC_OK &&
        (ro != IOTSEC_OK || po.alg != IOTSEC_SIG_ED25519 || ps.alg != IOTSEC_SIG_ED25519 ||
         memcmp(po.key_id, ps.key_id, IOTSEC_KEY_ID_LEN) != 0))
        abort();
    if (ro == IOTSEC_OK && po.alg != IOTSEC_SIG_ED25519 && rs != IOTSEC_E_UNSUPPORTED)
        abort();
    if (ro == IOTSEC_OK) {
        /* the input's tail as a signature: never anything but OK or BAD_SIGNATURE */
        size_t n = size < po.sig_len ? size : po.sig_len;
        int rc = iotsec_verify(&po, msg, sizeof msg, data + size - n, n);
        if (rc != IOTSEC_OK && rc != IOTSEC_E_BAD_SIGNATURE)
            abort();
        iotsec_pubkey_free(&po);
    }
    if (rs == IOTSEC_OK)
        iotsec_pubkey_free(&ps);
}

static void priv_part(const uint8_t *data, size_t size)
{
    iotsec_privkey ss, so;
    iotsec_pubkey pk;
    uint8_t spki[IOTSEC_SPKI_MAX_LEN], spki2[IOTSEC_SPKI_MAX_LEN], id[IOTSEC_KEY_ID_LEN];
    uint8_t id2[IOTSEC_KEY_ID_LEN], sig[IOTSEC_SIG_MAX_LEN];
    size_t spki_len = 0, spki2_len = 0, sig_len = 0;
    int rs = iotsec_privkey_load(&ss, iotsec_crypto_sodium(), data, size), ro;

    if (!load_err_ok(rs))
        abort();
    if (rs != IOTSEC_OK)
        return;
    /* libsodium took it: OpenSSL takes it too, as the same key */
    ro = iotsec_privkey_load(&so, iotsec_crypto_openssl(), data, size);
    if (ro != IOTSEC_OK || ss.alg != IOTSEC_SIG_ED25519 || so.alg != IOTSEC_SIG_ED25519 ||
        iotsec_privkey_public_spki(&ss, spki, sizeof spki, &spki_len) != IOTSEC_OK ||
        iotsec_privkey_public_spki(&so, spki2, sizeof spki2, &spki2_len) != IOTSEC_OK ||
        spki_len != spki2_len || memcmp(spki, spki2, spki_len) != 0 ||
        iotsec_privkey_key_id(&ss, id) != IOTSEC_OK ||
        iotsec_privkey_key_id(&so, id2) != IOTSEC_OK ||
        memcmp(id, id2, sizeof id) != 0)
        abort();
    /* its signature verifies in both backends */
    if (iotsec_sign(&ss, msg, sizeof msg, sig, sizeof sig, &sig_len) != IOTSEC_OK)
        abort();
    for (int i = 0; i < 2; i++) {
        if (iotsec_pubkey_load(&pk, backend(i), spki, spki_len) != IOTSEC_OK ||
            iotsec_verify(&pk, msg, sizeof msg, sig, sig_len) != IOTSEC_OK)
            abort();
        iotsec_pubkey_free(&pk);
    }
    iotsec_privkey_free(&so);
    iotsec_privkey_free(&ss);
}

/* a 64-byte input as an Ed25519 signature of msg under the fixed key: both backends agree,
 * and only the real signature verifies */
static void sig_part(const uint8_t *data, size_t size)
{
    int r0, r1, real;

    if (size != 64)
        return;
    r0 = iotsec_verify(&fixed_pk[0], msg, sizeof msg, data, size);
    r1 = iotsec_verify(&fixed_pk[1], msg, sizeof msg, data, size);
    real = memcmp(data, fixed_sig, sizeof fixed_sig) == 0;
    if (r0 != r1 || r0 != (real ? IOTSEC_OK : IOTSEC_E_BAD_SIGNATURE))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > 16384)
        return 0;
    init_once();
    pub_part(data, size);
    priv_part(data, size);
    sig_part(data, size);
    return 0;
}
