/* Fuzz target: build → sign → verify round trip. The input chooses a field set (counter,
 * sizes, optional fields, string lengths and bytes); whatever the builder accepts must
 * verify and parse back to the same fields, and whatever it refuses must be refused with
 * one of its documented errors. The field comparison is the unit tests' fx_fields_equal,
 * linked from tests/unit/fixture_manifest.o (tests/fuzz/build.mk). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/fixture_manifest.h"
#include "manifest_key.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


/* a little cursor over the input: bytes past the end read as 0 */
typedef struct cur {
    const uint8_t *p;
    size_t n, i;
} cur;

static uint8_t u8(cur *c) { return c->i < c->n ? c->p[c->i++] : 0; }

static uint64_t u64(cur *c)
{
    uint64_t v = 0;
    int i;
    for (i = 0; i < 8; i++)
        v = v << 8 | u8(c);
    return v;
}

/* a byte string of length given by the next byte (0–255), taken from the input */
static const uint8_t *str(cur *c, size_t *len)
{
    size_t want = u8(c), have = c->i < c->n ? c->n - c->i : 0;
    const uint8_t *p = c->p + (c->i < c->n ? c->i : c->n);

    *len = want < have ? want : have;
    c->i += *len;
    return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static iotsec_privkey sk;
    static iotsec_pubkey pk;
    static iotsec_trust_store ts;
    static int ready;
    static uint8_t buf[IOTSEC_MANIFEST_MAX_LEN];
    iotsec_manifest_fields f;
    iotsec_manifest m;
    size_t len = 0;
    cur c = {data, size, 0};
    int rc;

    if (!ready) {
        fuzz_manifest_key(iotsec_crypto_default(), &sk, &pk, &ts);
        ready = 1;
    }
    memset(&f, 0, sizeof f);
    f.present = u8(&c) & IOTSEC_MF_ALL;
    f.security_counter = u64(&c);
    f.image_size = u64(&c) % 8589934592u; /* 0 … 2^33: both sides of the limit */
    f.not_after = u64(&c);
    f.chunk_size = (uint32_t)(u64(&c) % 70000u);
    f.enc_alg = (uint8_t)(u8(&c) % 3u);
    f.payload_size = (u8(&c) & 1) ? (f.image_size / 16u + 1u) * 16u : u64(&c);
    f.version = str(&c, &f.version_len);
    f.device_class = str(&c, &f.device_class_len);
    f.device_id = str(&c, &f.device_id_len);
    f.uri = str(&c, &f.uri_len);
    if (c.i + 56u > c.n) /* the fixed-size values must have their bytes in the input */
        return 0;
    f.image_digest = data + c.i;
    f.enc_key_id = data + c.i + 32;
    f.enc_iv = data + c.i + 40;
    f.payload_digest = data + c.i + 24;
    f.description = data + c.i + 56;
    f.description_len = c.n - c.i - 56;

    rc = iotsec_manifest_sign(&f, &sk, buf, sizeof buf, &len);
    if (rc != iotsec_manifest_fields_check(&f))
        abort();
    if (rc != IOTSEC_OK) {
        if (rc != IOTSEC_E_BAD_LENGTH && rc != IOTSEC_E_BAD_VALUE &&
            rc != IOTSEC_E_MISSING_FIELD && rc != IOTSEC_E_COUNTER_EXHAUSTED &&
            rc != IOTSEC_E_UNSUPPORTED)
            abort();
        return 0;
    }
    if (iotsec_manifest_verify(&ts, buf, len, &m) != IOTSEC_OK || !fx_fields_equal(&f, &m.f))
        abort();
    return 0;
}
