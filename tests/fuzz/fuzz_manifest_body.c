/* Fuzz target: the TLV body parser reached honestly. The input is a body; the harness signs
 * it with a fixed Ed25519 key (RFC 8032 TEST 1 seed) so that iotsec_manifest_verify gets
 * past the signature and parses arbitrary bodies. Invariants: the verifier and the
 * unverified parser agree; an accepted body whose types are all known re-encodes to exactly
 * the input (one canonical encoding); the builder accepts every field set the parser
 * accepted; every pointer lies inside the manifest. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "iotsec/iotsec.h"
#include "manifest_key.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static void inside(const uint8_t *p, size_t n, const uint8_t *buf, size_t len)
{
    if (n > 0 && (p == NULL || p < buf || n > len || p > buf + len - n))
        abort();
}

/* 1 when every TLV type of the (valid) body is one the builder writes */
static int only_known_types(const uint8_t *b, size_t n)
{
    iotsec_reader r;

    iotsec_reader_init(&r, b, n);
    while (iotsec_reader_remaining(&r) > 0) {
        uint8_t t = iotsec_reader_u8(&r);
        uint16_t l = iotsec_reader_u16(&r);
        (void)iotsec_reader_bytes(&r, l);
        if (t > IOTSEC_MTLV_URI && t != IOTSEC_MTLV_DESCRIPTION)
            return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static iotsec_privkey sk;
    static iotsec_pubkey pk;
    static iotsec_trust_store ts;
    static int ready;
    static uint8_t buf[IOTSEC_MANIFEST_MAX_LEN], body[IOTSEC_MANIFEST_BODY_MAX];
    iotsec_manifest m, u;
    size_t len = 0, body_len = 0;
    int rc;

    if (!ready) {
        fuzz_manifest_key(iotsec_crypto_default(), &sk, &pk, &ts);
        ready = 1;
    }
    rc = iotsec_manifest_sign_body(data, size, &sk, buf, sizeof buf, &len);
    if (size > IOTSEC_MANIFEST_BODY_MAX) {
        if (rc != IOTSEC_E_BAD_LENGTH)
            abort();
        return 0;
    }
    if (rc != IOTSEC_OK)
        abort();
    rc = iotsec_manifest_verify(&ts, buf, len, &m);
    if (rc != iotsec_manifest_parse_unverified(buf, len, &u))
        abort();
    if (rc != IOTSEC_OK) {
        /* a body error, never an authentication one: the signature is good */
        if (rc == IOTSEC_E_BAD_SIGNATURE || rc == IOTSEC_E_UNKNOWN_KEY || m.verified)
            abort();
        return 0;
    }
    inside(m.f.version, m.f.version_len, buf, len);
    inside(m.f.device_class, m.f.device_class_len, buf, len);
    inside(m.f.image_digest, 32, buf, len);
    inside(m.f.device_id, m.f.device_id_len, buf, len);
    inside(m.f.uri, m.f.uri_len, buf, len);
    inside(m.f.description, m.f.description_len, buf, len);
    if (m.f.present & IOTSEC_MF_ENCRYPTION) {
        inside(m.f.enc_key_id, 8, buf, len);
        inside(m.f.enc_iv, 16, buf, len);
        inside(m.f.payload_digest, 32, buf, len);
    }
    /* what the parser accepts the builder accepts, and re-encodes canonically */
    if (iotsec_manifest_encode_body(&m.f, body, sizeof body, &body_len) != IOTSEC_OK)
        abort();
    if (only_known_types(data, size) && (body_len != size || memcmp(body, data, size) != 0))
        abort();
    if (body_len > size)
        abort();
    return 0;
}
