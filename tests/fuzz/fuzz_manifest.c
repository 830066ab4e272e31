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
#include "manifest_key.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static iotsec_privkey sk;
    static iotsec_pubkey pk;
    static iotsec_trust_store ts;
    static int ready;
    iotsec_manifest m, u;
    int rc, ru;

    if (!ready) {
        fuzz_manifest_key(iotsec_crypto_default(), &sk, &pk, &ts);
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
