/* Fuzz target: the manifest verifier on arbitrary bytes — the pre-authentication header
 * read (magic, format, sig_alg, body_len, key_id, sig_len, trailing bytes) against a trust
 * store of the RFC 8032 TEST 1 Ed25519 key, and the unverified parser (which then runs the
 * TLV body rules on whatever body the input has). Invariants: a manifest that verifies is
 * marked verified, spans the whole input and parses to the same fields unverified; the two
 * parsers agree on every error that is not an authentication failure. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "iotsec/iotsec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* RFC 8032 §7.1 TEST 1 public key */
static const uint8_t test1_pub[32] = {0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7,
                                      0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64, 0x07, 0x3a,
                                      0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25,
                                      0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static iotsec_pubkey pk;
    static iotsec_trust_store ts;
    static int ready;
    iotsec_manifest m, u;
    int rc, ru;

    if (!ready) {
        if (iotsec_pubkey_load_ed25519_raw(&pk, iotsec_crypto_default(), test1_pub) != IOTSEC_OK ||
            iotsec_trust_store_init(&ts, &pk, 1) != IOTSEC_OK)
            abort();
        ready = 1;
    }
    rc = iotsec_manifest_verify(&ts, data, size, &m);
    ru = iotsec_manifest_parse_unverified(data, size, &u);
    if (u.verified != 0)
        abort();
    if (rc == IOTSEC_OK) {
        if (m.verified != 1 || ru != IOTSEC_OK || m.signed_len + 2u + m.sig_len != size ||
            m.signed_data != data || m.f.security_counter != u.f.security_counter ||
            m.f.image_size != u.f.image_size || m.f.present != u.f.present)
            abort();
    } else {
        if (m.verified != 0)
            abort();
        /* anything but an authentication failure is a format error both parsers find */
        if (rc != IOTSEC_E_UNKNOWN_KEY && rc != IOTSEC_E_BAD_SIGNATURE && ru != rc)
            abort();
        if (!iotsec_err_is_malformed(rc) && !iotsec_err_is_auth(rc) &&
            !iotsec_err_is_policy(rc) && rc != IOTSEC_E_UNSUPPORTED)
            abort();
    }
    if (ru == IOTSEC_OK && u.f.version_len > 0 &&
        iotsec_manifest_utf8_check(u.f.version, u.f.version_len) != IOTSEC_OK)
        abort();
    return 0;
}
