/*
 * `make size`, profile "bootloader": what a secure bootloader calls — load the trusted key,
 * verify a manifest (any of the three signature algorithms), check the device policy, and
 * stream the image (plain or encrypted) through the verifier in 2 KiB chunks. Linked for
 * Cortex-M4 with --gc-sections only to be measured (never run). The objects a caller must
 * hold are the globals named caller_*: scripts/fw-size adds their sizes to the RAM figure.
 */
#include <stddef.h>
#include <stdint.h>

#include "iotsec/iotsec.h"

/* inputs a real bootloader reads from flash: opaque here, so nothing is folded away */
extern const uint8_t size_input[];
const uint8_t size_input[4096] = {1};

iotsec_pubkey caller_trusted_key;
iotsec_trust_store caller_trust_store;
iotsec_manifest caller_manifest;
iotsec_device_policy caller_policy;
iotsec_image_verify_ctx caller_image_ctx;

int main(void)
{
    const iotsec_crypto *c = iotsec_crypto_psa();
    static uint8_t chunk_out[IOTSEC_IMAGE_OUT_MAX(2048)];
    size_t off, out_len = 0;
    int rc;

    if (iotsec_pubkey_load(&caller_trusted_key, c, size_input, 91) != IOTSEC_OK ||
        iotsec_trust_store_init(&caller_trust_store, &caller_trusted_key, 1) != IOTSEC_OK)
        return 1;
    if (iotsec_manifest_verify(&caller_trust_store, size_input + 91, 512, &caller_manifest) !=
        IOTSEC_OK)
        return 2;
    caller_policy.device_class = size_input;
    caller_policy.device_class_len = 8;
    caller_policy.skip = IOTSEC_POLICY_SKIP_EXPIRY;
    if (iotsec_manifest_check_policy(&caller_manifest, &caller_policy) != IOTSEC_OK)
        return 3;
    rc = size_input[0] ? iotsec_image_verify_init(&caller_image_ctx, c, &caller_manifest,
                                                  size_input + 1024, 32)
                       : iotsec_image_verify_init_plaintext(&caller_image_ctx, c,
                                                            &caller_manifest);
    if (rc != IOTSEC_OK)
        return 4;
    for (off = 0; off + 2048 <= sizeof size_input; off += 2048) {
        if (iotsec_image_verify_update(&caller_image_ctx, size_input + off, 2048, chunk_out,
                                       sizeof chunk_out, &out_len) != IOTSEC_OK) {
            iotsec_image_verify_cleanup(&caller_image_ctx);
            return 5;
        }
    }
    rc = iotsec_image_verify_final(&caller_image_ctx, chunk_out, sizeof chunk_out, &out_len);
    iotsec_pubkey_free(&caller_trusted_key);
    return rc == IOTSEC_OK ? 0 : 6;
}
