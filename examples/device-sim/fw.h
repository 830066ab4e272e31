/* iotsec-device-sim — firmware trust: trusted keys, manifest acceptance, slot verification
 * (docs/DESIGN.md §6). Every decision is a libiotsec call; these helpers only read files. */
#ifndef IOTSEC_DEVICE_SIM_FW_H
#define IOTSEC_DEVICE_SIM_FW_H

#include <stdio.h>

#include "iotsec/image.h"
#include "iotsec/manifest.h"
#include "sim.h"

/* The device's trusted firmware keys (creds/trust/N.pem) as a library trust store. */
typedef struct sim_trust {
    iotsec_pubkey keys[SIM_MAX_TRUST];
    size_t count;
    iotsec_trust_store store;
} sim_trust;

/* A manifest's bytes and, once accepted, its verified view (pointers into buf). */
typedef struct sim_manifest {
    uint8_t buf[IOTSEC_MANIFEST_MAX_LEN];
    size_t len;
    iotsec_manifest m;
} sim_manifest;

/* The wall clock in Unix seconds (0 if unavailable). */
uint64_t sim_now(void);

/* Load the trusted keys of a provisioned device (the library refuses duplicate key ids). */
int sim_trust_load(sim_trust *t, const sim_state *st, const iotsec_crypto *crypto);
void sim_trust_free(sim_trust *t);

/* This device's policy: its class and id, the clock, the stored security counter. */
void sim_policy_init(iotsec_device_policy *p, const sim_state *st, uint64_t stored_counter);

/* Read a manifest file (at most IOTSEC_MANIFEST_MAX_LEN bytes) into sm. */
int sim_manifest_read(sim_manifest *sm, const char *path);
/* iotsec_manifest_verify with the trusted keys, then iotsec_manifest_check_policy with this
 * device's policy (plus extra_skip: IOTSEC_POLICY_SKIP_EXPIRY for the boot-time re-check of
 * an installed image, 0 when installing). Prints the refusal (prefixed by what); SIM_OK or
 * SIM_REJECTED. */
int sim_manifest_accept(const sim_state *st, const sim_trust *t, sim_manifest *sm,
                        uint64_t stored_counter, uint32_t extra_skip, const char *what);

/* Feed the file at path to a started plain-image verification; with copy_to, each chunk
 * is also written there (one storage write each). Returns an IOTSEC_* code. */
int sim_image_stream_file(iotsec_image_verify_ctx *ctx, const char *path,
                          sim_slot_writer *copy_to);

/* Secure-boot check of a slot: its manifest (signature, class, device, counter ≥
 * stored_counter) and its image (size and digest of the plaintext), all by the library.
 * On SIM_OK sm holds the verified manifest. Prints why a slot is refused. */
int sim_slot_verify(const sim_state *st, const sim_trust *t, const iotsec_crypto *crypto,
                    int slot, uint64_t stored_counter, sim_manifest *sm);

/* Print the manifest's version string. */
void sim_print_version(FILE *out, const iotsec_manifest *m);

#endif
