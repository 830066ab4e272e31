/*
 * tools/gen-vectors — the C generators of bindings-spec/vectors/ as an internal library,
 * $(BUILD)/internal/libgenvectors.a (tools/gen-vectors/build.mk). It is linked by the
 * generator programs ($(BUILD)/gen_frames from gen_frames_main.c, $(BUILD)/gen_firmware from
 * gen_firmware_main.c) and by the Check suites that compare a fresh run with the committed
 * files (tests/unit/test_frame.c, tests/unit/test_vectors.c). Not installed, not part of the
 * library's interface. Every generator needs the OpenSSL backend and aborts on any
 * disagreement with the library.
 */
#ifndef IOTSEC_GEN_VECTORS_H
#define IOTSEC_GEN_VECTORS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "iotsec/iotsec.h"

/* ---- gen_frames.c: frame_v1.json, frame_json.json, ecowatt.json, replay_window.json ---- */

/* One valid telemetry frame of the vectors (keys derived from gen_master). */
struct gen_vec {
    const char *name;
    const char *device_id;
    uint8_t kid;
    int dir; /* iotsec_frame_direction */
    uint64_t ctr;
    int encrypt;
    const uint8_t *iv;
    const char *payload; /* text, or NULL for a fixed 32-byte pattern */
};

/* The frames of frame_v1.json, and their number. */
extern const struct gen_vec gen_vecs[];
extern const size_t gen_nvecs;
/* The master secret every vector's keys are derived from. */
extern const uint8_t gen_master[32];

/* The payload of v (its text, or the 32-byte pattern). */
const uint8_t *gen_vec_payload(const struct gen_vec *v, size_t *len);
/* Seal v with the OpenSSL backend into out (cap bytes); returns the frame's length. */
size_t gen_vec_seal(const struct gen_vec *v, uint8_t *out, size_t cap);
/* v's derived MAC and encryption keys, recomputed with HKDF directly. */
void gen_vec_raw_keys(const struct gen_vec *v, uint8_t mac_key[32], uint8_t enc_key[16]);

/* The files gen_frames writes: a name in bindings-spec/vectors/ and its generator. */
struct gen_file {
    const char *name;
    void (*gen)(FILE *f);
};
extern const struct gen_file gen_files[];
extern const size_t gen_nfiles;

/* ---- gen_firmware.c: firmware_image.json ---------------------------------------------- */

/* Write firmware_image.json to f. */
void gen_firmware(FILE *f);

#define GEN_FW_IMAGE_LEN 100u   /* plaintext image: bytes i*7+3 (mod 256), as manifest_v1.json */
#define GEN_FW_PAYLOAD_LEN 112u /* its AES-256-CBC/PKCS#7 encryption */

/* The manifests of the file. */
enum { GEN_FW_M_PLAIN, GEN_FW_M_ENCRYPTED, GEN_FW_M_UNBOUND, GEN_FW_M_BAD_PADDING, GEN_FW_M_COUNT };

/* The signer, the image and its encryptions, and the manifests signed over them (made with
 * the OpenSSL backend; gen_fw_setup aborts without it). */
typedef struct gen_fw_state {
    const iotsec_crypto *c;
    iotsec_privkey sk;
    iotsec_pubkey pk;
    iotsec_trust_store ts;
    uint8_t image[GEN_FW_IMAGE_LEN];
    uint8_t payload[GEN_FW_PAYLOAD_LEN];     /* encryption of image */
    uint8_t bad_payload[GEN_FW_PAYLOAD_LEN]; /* raw CBC of image + 12 bytes of 0x00 padding */
    uint8_t buf[GEN_FW_M_COUNT][IOTSEC_MANIFEST_MAX_LEN];
    size_t len[GEN_FW_M_COUNT];
    iotsec_manifest m[GEN_FW_M_COUNT];
} gen_fw_state;

void gen_fw_setup(gen_fw_state *s);
void gen_fw_teardown(gen_fw_state *s);

/* An image case: bytes fed to iotsec_image_verify_* and the first error they give. */
enum { GEN_FW_KEY_NONE, GEN_FW_KEY_FW, GEN_FW_KEY_OTHER, GEN_FW_KEY_SHORT };
enum { GEN_FW_SRC_IMAGE, GEN_FW_SRC_PAYLOAD, GEN_FW_SRC_BAD_PAYLOAD };
struct gen_fw_image_case {
    const char *name;
    const char *comment;
    int manifest;       /* GEN_FW_M_* */
    int plaintext_mode; /* 1: iotsec_image_verify_init_plaintext */
    int key;            /* GEN_FW_KEY_* */
    size_t chunk;       /* bytes per update */
    int src;            /* GEN_FW_SRC_*: the bytes fed, */
    size_t len;         /* this many of them (zeros past the end of src), */
    int flip;           /* with byte flip ^= 0x01 (-1: none) */
    int want;
    const char *fails_at; /* "init", "update", "final"; NULL when accepted */
};
extern const struct gen_fw_image_case gen_fw_image_cases[];
extern const size_t gen_fw_nimages;
/* Run case v on backend c: init, updates of chunk bytes, final. Returns the first error, *at
 * the step that gave it, and the plaintext released in out (512 bytes). */
int gen_fw_run(const iotsec_crypto *c, const gen_fw_state *s, const struct gen_fw_image_case *v,
               uint8_t *out, size_t *out_len, const char **at);

/* A policy case: iotsec_manifest_check_policy on one of the manifests. */
struct gen_fw_policy_case {
    const char *name;
    int manifest;             /* GEN_FW_M_* */
    const char *device_class; /* NULL: none given (only with IOTSEC_POLICY_SKIP_CLASS) */
    const char *device_id;    /* NULL: the device has no id configured */
    uint64_t now;
    uint64_t stored;
    uint32_t skip;
    int want;
};
extern const struct gen_fw_policy_case gen_fw_policy_cases[];
extern const size_t gen_fw_npolicy;
/* Check policy case v against the library; returns its result. */
int gen_fw_policy_run(const gen_fw_state *s, const struct gen_fw_policy_case *v);

#endif
