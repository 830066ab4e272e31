/*
 * `make size`, profile "full": every exported function of the firmware build of libiotsec
 * (core with JSON and EcoWatt, the PSA backend, libsodium's as its Ed25519 fallback). The
 * link keeps them all: the Makefile passes -Wl,--undefined=<f> for each global function
 * of libiotsec.a, so --gc-sections treats each as a root. The objects a caller of the
 * whole API may hold at once are the globals named caller_*.
 */
#include <stddef.h>
#include <stdint.h>

#include "iotsec/iotsec.h"

iotsec_pubkey caller_trusted_key;
iotsec_privkey caller_signing_key;
iotsec_trust_store caller_trust_store;
iotsec_manifest caller_manifest;
iotsec_device_policy caller_policy;
iotsec_image_verify_ctx caller_image_ctx;
iotsec_image_encrypt_ctx caller_image_encrypt_ctx;
iotsec_frame_keys caller_uplink_keys;
iotsec_frame_keys caller_downlink_keys;
iotsec_counter caller_counter;
iotsec_replay_window caller_replay_window;

/* referenced, so --gc-sections keeps them and scripts/fw-size finds their sizes */
static void *const kept_objects[] = {
    &caller_trusted_key,   &caller_signing_key,       &caller_trust_store,
    &caller_manifest,      &caller_policy,            &caller_image_ctx,
    &caller_image_encrypt_ctx, &caller_uplink_keys,   &caller_downlink_keys,
    &caller_counter,       &caller_replay_window,
};

int main(void)
{
    void *const *volatile objs = kept_objects;

    return iotsec_crypto_psa() != NULL && objs[0] != NULL ? 0 : 1;
}
