/*
 * The bindings-spec vectors (the JSON files of bindings-spec/vectors/, as C tables made by
 * firmware/gen_vectors.py) run through libiotsec's public API with one crypto backend: the
 * test firmware runs them on the emulated Cortex-M4 (firmware/main.c), and the host's Check
 * suite tests/unit/test_spec_vectors.c runs the same file against every backend.
 *
 * Portable C99 without stdio or malloc: buffers are static (the device has no heap to spare
 * for them), failures go to the caller's report function. The semantics are those of the
 * reference runner bindings-spec/python/run_vectors.py, one step for each of its checks
 * that the C API can express.
 */
#include "spec_vectors.h"

#include <string.h>

#include "iotsec/iotsec.h"

/* ---- the tables' shapes (filled by the generated header) ---------------------------------- */

struct fv_frame {
    const char *name;
    const uint8_t *master;
    const char *device_id;
    uint8_t kid, dir;
    uint64_t ctr;
    int encrypted;
    const uint8_t *iv, *payload;
    size_t payload_len;
    const uint8_t *enc_key, *frame;
    size_t frame_len;
};
struct fv_invalid {
    const char *name;
    int keys;
    const uint8_t *frame;
    size_t frame_len;
    int error;
};
struct fv_json {
    const char *name;
    int keys;
    const char *json;
    size_t json_len;
    const uint8_t *frame;
    size_t frame_len;
};
struct fv_json_invalid {
    const char *name;
    int keys;
    const char *json;
    size_t json_len;
    int error;
};
struct fv_ecowatt {
    const char *name, *device_id;
    uint64_t nonce;
    int encrypted;
    const uint8_t *iv, *payload;
    size_t payload_len;
    const char *json;
    size_t json_len;
};
struct fv_weakness {
    const char *name, *captured;
    size_t captured_len;
    const char *forged;
    size_t forged_len;
    const uint8_t *opens_to;
    size_t opens_to_len;
};
struct fv_step {
    uint64_t ctr;
    int accept;
};
struct fv_replay {
    const char *name;
    unsigned window;
    const struct fv_step *steps;
    size_t nsteps;
    uint64_t highest;
    const uint8_t *state;
    size_t state_len;
};
struct fv_corrupt {
    const char *name;
    const uint8_t *state;
    size_t state_len;
};
struct fv_key {
    const char *name;
    const uint8_t *spki;
    size_t spki_len;
    const uint8_t *key_id;
};
struct fv_manifest {
    const char *name;
    const uint8_t *manifest;
    size_t manifest_len;
    int result;
    int sig_alg;
    const uint8_t *key_id, *image;
    size_t image_len;
    const uint8_t *payload;
    size_t payload_len;
    const uint8_t *fw_key;
};
struct fv_policy {
    const char *name, *device_class, *device_id;
    uint64_t now, stored_counter;
    uint32_t skip;
    int result;
    int manifest;
};
struct fv_fw_manifest {
    const char *name;
    const uint8_t *manifest;
    size_t manifest_len;
};
struct fv_fw_image {
    const char *name;
    int manifest, plaintext;
    const uint8_t *key;
    size_t key_len, chunk;
    const uint8_t *input;
    size_t input_len;
    int result;
    const char *fails_at;
};
struct fv_record {
    uint32_t seq;
    uint64_t reserved;
    const uint8_t *encoded;
};
struct fv_record_invalid {
    const char *name;
    const uint8_t *encoded;
    size_t encoded_len;
    int error;
};
struct fv_boot {
    const char *name;
    const uint8_t *slot0, *slot1;
    uint32_t step;
    int error;
    uint64_t first_counter;
    unsigned write_slot;
    uint32_t write_seq;
    uint64_t write_reserved;
    const uint8_t *write_record;
};

#include "spec_vectors_data.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- reporting ---------------------------------------------------------------------------- */

static spec_report_fn report_fn;
static void *report_ctx;
static spec_counts *counts;

/* Count one check: cond true passes it; otherwise the report gets the group, the vector's
 * name, what was checked and the codes got / wanted. Returns cond. */
static int check(int cond, const char *group, const char *name, const char *what, int got,
                 int want)
{
    if (cond) {
        counts->passed++;
    } else {
        counts->failed++;
        if (report_fn != NULL)
            report_fn(report_ctx, group, name, what, got, want);
    }
    return cond;
}

static int check_rc(int got, int want, const char *group, const char *name, const char *what)
{
    return check(got == want, group, name, what, got, want);
}

static int is_malformed(int rc) { return iotsec_err_is_malformed(rc); }

/* Scratch space: the largest vector is a few KB; the streamed image needs its own. */
static uint8_t buf_a[8192];
static uint8_t buf_b[8192];
static char text[8192];

/* ---- frames ------------------------------------------------------------------------------- */

static int frame_keys(iotsec_frame_keys *k, const iotsec_crypto *c, const struct fv_frame *v)
{
    return iotsec_frame_keys_derive(k, c, v->master, v->device_id, strlen(v->device_id), v->kid,
                                    v->dir ? IOTSEC_FRAME_DOWNLINK : IOTSEC_FRAME_UPLINK);
}

static void run_frame_v1(const iotsec_crypto *c)
{
    size_t i, n;
    iotsec_frame_keys k;
    iotsec_frame_header h;
    iotsec_replay_window w;
    int rc;

    for (i = 0; i < COUNT(fv_frames); i++) {
        const struct fv_frame *v = &fv_frames[i];
        if (!check_rc(frame_keys(&k, c, v), IOTSEC_OK, "frame_v1", v->name, "derive"))
            continue;
        check(memcmp(k.enc_key, v->enc_key, IOTSEC_FRAME_ENC_KEY_LEN) == 0, "frame_v1", v->name,
              "enc_key", 0, 0);
        rc = iotsec_frame_seal(&k, v->ctr, v->encrypted, v->iv, v->payload, v->payload_len,
                               buf_a, sizeof buf_a, &n);
        if (check_rc(rc, IOTSEC_OK, "frame_v1", v->name, "seal"))
            check(n == v->frame_len && memcmp(buf_a, v->frame, n) == 0, "frame_v1", v->name,
                  "seal bytes", 0, 0);
        rc = iotsec_frame_open(&k, v->frame, v->frame_len, &h, buf_b, sizeof buf_b, &n);
        if (check_rc(rc, IOTSEC_OK, "frame_v1", v->name, "open"))
            check(n == v->payload_len && memcmp(buf_b, v->payload, n) == 0 && h.ctr == v->ctr &&
                      h.kid == v->kid && h.encrypted == v->encrypted,
                  "frame_v1", v->name, "open payload and header", 0, 0);
        (void)iotsec_replay_init(&w, 64);
        rc = iotsec_frame_open_checked(&k, &w, v->frame, v->frame_len, &h, buf_b, sizeof buf_b, &n);
        check_rc(rc, IOTSEC_OK, "frame_v1", v->name, "open_checked");
        check(w.highest == v->ctr, "frame_v1", v->name, "window highest", 0, 0);
        rc = iotsec_frame_open_checked(&k, &w, v->frame, v->frame_len, &h, buf_b, sizeof buf_b, &n);
        check_rc(rc, IOTSEC_E_REPLAY, "frame_v1", v->name, "replayed");
        iotsec_frame_keys_cleanup(&k);
    }
    for (i = 0; i < COUNT(fv_frame_invalid); i++) {
        const struct fv_invalid *v = &fv_frame_invalid[i];
        if (!check_rc(frame_keys(&k, c, &fv_frames[v->keys]), IOTSEC_OK, "frame_v1 invalid",
                      v->name, "derive"))
            continue;
        rc = iotsec_frame_open(&k, v->frame, v->frame_len, &h, buf_b, sizeof buf_b, &n);
        check_rc(rc, v->error, "frame_v1 invalid", v->name, "open");
        (void)iotsec_replay_init(&w, 64);
        rc = iotsec_frame_open_checked(&k, &w, v->frame, v->frame_len, &h, buf_b, sizeof buf_b, &n);
        check_rc(rc, v->error, "frame_v1 invalid", v->name, "open_checked");
        check(w.highest == 0, "frame_v1 invalid", v->name, "window unchanged", 0, 0);
        rc = iotsec_frame_peek(v->frame, v->frame_len, &h);
        check_rc(rc, is_malformed(v->error) ? v->error : IOTSEC_OK, "frame_v1 invalid", v->name,
                 "peek");
        iotsec_frame_keys_cleanup(&k);
    }
}

#if !IOTSEC_NO_JSON
static void run_frame_json(const iotsec_crypto *c)
{
    size_t i, n;
    iotsec_frame_keys k;
    iotsec_frame_header h;
    iotsec_replay_window w;
    int rc;

    for (i = 0; i < COUNT(fv_json_vectors) + COUNT(fv_json_equivalent); i++) {
        int equiv = i >= COUNT(fv_json_vectors);
        const struct fv_json *v =
            equiv ? &fv_json_equivalent[i - COUNT(fv_json_vectors)] : &fv_json_vectors[i];
        const struct fv_frame *b = &fv_frames[v->keys];
        const char *g = equiv ? "frame_json equivalent" : "frame_json";
        if (!check_rc(frame_keys(&k, c, b), IOTSEC_OK, g, v->name, "derive"))
            continue;
        if (!equiv) {
            rc = iotsec_frame_seal_json(&k, b->ctr, b->encrypted, b->iv, b->payload,
                                        b->payload_len, text, sizeof text, &n);
            if (check_rc(rc, IOTSEC_OK, g, v->name, "seal_json"))
                check(n == v->json_len && memcmp(text, v->json, n) == 0, g, v->name,
                      "seal_json text", 0, 0);
            rc = iotsec_frame_to_json(v->frame, v->frame_len, text, sizeof text, &n);
            if (check_rc(rc, IOTSEC_OK, g, v->name, "to_json"))
                check(n == v->json_len && memcmp(text, v->json, n) == 0, g, v->name,
                      "to_json text", 0, 0);
        }
        rc = iotsec_frame_open_json(&k, v->json, v->json_len, &h, buf_b, sizeof buf_b, &n);
        if (check_rc(rc, IOTSEC_OK, g, v->name, "open_json"))
            check(n == b->payload_len && memcmp(buf_b, b->payload, n) == 0, g, v->name,
                  "open_json payload", 0, 0);
        rc = iotsec_frame_from_json(v->json, v->json_len, buf_a, sizeof buf_a, &n, &h);
        if (check_rc(rc, IOTSEC_OK, g, v->name, "from_json"))
            check(n == v->frame_len && memcmp(buf_a, v->frame, n) == 0, g, v->name,
                  "from_json bytes", 0, 0);
        if (!equiv) {
            (void)iotsec_replay_init(&w, 0);
            rc = iotsec_frame_open_json_checked(&k, &w, v->json, v->json_len, &h, buf_b,
                                                sizeof buf_b, &n);
            check_rc(rc, IOTSEC_OK, g, v->name, "open_json_checked");
            rc = iotsec_frame_open_json_checked(&k, &w, v->json, v->json_len, &h, buf_b,
                                                sizeof buf_b, &n);
            check_rc(rc, IOTSEC_E_REPLAY, g, v->name, "replayed");
        }
        iotsec_frame_keys_cleanup(&k);
    }
    for (i = 0; i < COUNT(fv_json_invalid); i++) {
        const struct fv_json_invalid *v = &fv_json_invalid[i];
        int want_peek = is_malformed(v->error) ? v->error : IOTSEC_OK;
        if (!check_rc(frame_keys(&k, c, &fv_frames[v->keys]), IOTSEC_OK, "frame_json invalid",
                      v->name, "derive"))
            continue;
        rc = iotsec_frame_open_json(&k, v->json, v->json_len, &h, buf_b, sizeof buf_b, &n);
        check_rc(rc, v->error, "frame_json invalid", v->name, "open_json");
        (void)iotsec_replay_init(&w, 64);
        rc = iotsec_frame_open_json_checked(&k, &w, v->json, v->json_len, &h, buf_b, sizeof buf_b,
                                            &n);
        check_rc(rc, v->error, "frame_json invalid", v->name, "open_json_checked");
        check(w.highest == 0, "frame_json invalid", v->name, "window unchanged", 0, 0);
        check_rc(iotsec_frame_peek_json(v->json, v->json_len, &h), want_peek,
                 "frame_json invalid", v->name, "peek_json");
        check_rc(iotsec_frame_from_json(v->json, v->json_len, buf_a, sizeof buf_a, &n, &h),
                 want_peek, "frame_json invalid", v->name, "from_json");
        iotsec_frame_keys_cleanup(&k);
    }
}
#endif

#if !IOTSEC_NO_ECOWATT && !IOTSEC_NO_JSON
static void run_ecowatt(const iotsec_crypto *c)
{
    iotsec_ecowatt_keys k, k_noenc;
    iotsec_ecowatt_header h;
    iotsec_replay_window w;
    size_t i, n;
    int rc;

    if (!check_rc(iotsec_ecowatt_keys_init(&k, c, FV_ECOWATT_MAC_KEY, FV_ECOWATT_ENC_KEY),
                  IOTSEC_OK, "ecowatt", "keys", "init"))
        return;
    if (!check_rc(iotsec_ecowatt_keys_init(&k_noenc, c, FV_ECOWATT_MAC_KEY, NULL), IOTSEC_OK,
                  "ecowatt", "keys", "init without enc key")) {
        iotsec_ecowatt_keys_cleanup(&k);
        return;
    }
    for (i = 0; i < COUNT(fv_ecowatt_vectors); i++) {
        const struct fv_ecowatt *v = &fv_ecowatt_vectors[i];
        rc = iotsec_ecowatt_seal(&k, v->device_id, strlen(v->device_id), v->nonce, v->encrypted,
                                 v->iv, v->payload, v->payload_len, text, sizeof text, &n);
        if (check_rc(rc, IOTSEC_OK, "ecowatt", v->name, "seal"))
            check(n == v->json_len && memcmp(text, v->json, n) == 0, "ecowatt", v->name,
                  "seal text", 0, 0);
        rc = iotsec_ecowatt_open(&k, v->json, v->json_len, &h, buf_b, sizeof buf_b, &n);
        if (check_rc(rc, IOTSEC_OK, "ecowatt", v->name, "open"))
            check(n == v->payload_len && memcmp(buf_b, v->payload, n) == 0 && h.nonce == v->nonce,
                  "ecowatt", v->name, "open payload", 0, 0);
        (void)iotsec_replay_init(&w, 0);
        rc = iotsec_ecowatt_open_checked(&k, &w, v->json, v->json_len, &h, buf_b, sizeof buf_b,
                                         &n);
        check_rc(rc, IOTSEC_OK, "ecowatt", v->name, "open_checked");
        rc = iotsec_ecowatt_open_checked(&k, &w, v->json, v->json_len, &h, buf_b, sizeof buf_b,
                                         &n);
        check_rc(rc, IOTSEC_E_REPLAY, "ecowatt", v->name, "replayed");
        if (v->encrypted)
            check_rc(iotsec_ecowatt_open(&k_noenc, v->json, v->json_len, &h, buf_b, sizeof buf_b,
                                         &n),
                     IOTSEC_E_POLICY, "ecowatt", v->name, "open without an enc key");
    }
    for (i = 0; i < COUNT(fv_ecowatt_weak); i++) {
        const struct fv_weakness *v = &fv_ecowatt_weak[i];
        check_rc(iotsec_ecowatt_open(&k, v->captured, v->captured_len, &h, buf_b, sizeof buf_b,
                                     &n),
                 IOTSEC_OK, "ecowatt weakness", v->name, "captured");
        rc = iotsec_ecowatt_open(&k, v->forged, v->forged_len, &h, buf_b, sizeof buf_b, &n);
        if (check_rc(rc, IOTSEC_OK, "ecowatt weakness", v->name, "forged accepted") &&
            v->opens_to != NULL)
            check(n == v->opens_to_len && memcmp(buf_b, v->opens_to, n) == 0, "ecowatt weakness",
                  v->name, "forged plaintext", 0, 0);
    }
    for (i = 0; i < COUNT(fv_ecowatt_invalid); i++) {
        const struct fv_json_invalid *v = &fv_ecowatt_invalid[i];
        check_rc(iotsec_ecowatt_open(&k, v->json, v->json_len, &h, buf_b, sizeof buf_b, &n),
                 v->error, "ecowatt invalid", v->name, "open");
        check_rc(iotsec_ecowatt_peek(v->json, v->json_len, &h),
                 is_malformed(v->error) ? v->error : IOTSEC_OK, "ecowatt invalid", v->name, "peek");
    }
    iotsec_ecowatt_keys_cleanup(&k);
    iotsec_ecowatt_keys_cleanup(&k_noenc);
}
#endif

/* ---- replay window ------------------------------------------------------------------------ */

static void run_replay(void)
{
    iotsec_replay_window w, w2;
    uint8_t state[IOTSEC_REPLAY_STATE_LEN];
    size_t i, j, n;

    for (i = 0; i < COUNT(fv_replay); i++) {
        const struct fv_replay *s = &fv_replay[i];
        check_rc(iotsec_replay_init(&w, s->window), IOTSEC_OK, "replay", s->name, "init");
        for (j = 0; j < s->nsteps; j++) {
            int want = s->steps[j].accept ? IOTSEC_OK : IOTSEC_E_REPLAY;
            check_rc(iotsec_replay_check(&w, s->steps[j].ctr), want, "replay", s->name, "check");
            check_rc(iotsec_replay_commit(&w, s->steps[j].ctr), want, "replay", s->name, "commit");
        }
        check(w.highest == s->highest, "replay", s->name, "highest", 0, 0);
        if (check_rc(iotsec_replay_encode(&w, state, sizeof state, &n), IOTSEC_OK, "replay",
                     s->name, "encode"))
            check(n == s->state_len && memcmp(state, s->state, n) == 0, "replay", s->name,
                  "state bytes", 0, 0);
        if (check_rc(iotsec_replay_decode(&w2, s->state, s->state_len), IOTSEC_OK, "replay",
                     s->name, "decode") &&
            check_rc(iotsec_replay_encode(&w2, state, sizeof state, &n), IOTSEC_OK, "replay",
                     s->name, "re-encode"))
            check(n == s->state_len && memcmp(state, s->state, n) == 0, "replay", s->name,
                  "decode round trip", 0, 0);
    }
    for (i = 0; i < COUNT(fv_replay_corrupt); i++)
        check_rc(iotsec_replay_decode(&w, fv_replay_corrupt[i].state, fv_replay_corrupt[i].state_len),
                 IOTSEC_E_CORRUPT, "replay corrupt", fv_replay_corrupt[i].name, "decode");
}

/* ---- manifests and images ------------------------------------------------------------------ */

/* Stream input through an image verifier in chunks of `chunk` bytes; the output is compared
 * with want (want_len bytes) when everything passed. Returns the first error; *step names
 * where ("init", "update", "final"). */
static int stream_image(const iotsec_crypto *c, const iotsec_manifest *m, int plaintext,
                        const uint8_t *key, size_t key_len, const uint8_t *in, size_t in_len,
                        size_t chunk, const uint8_t *want, size_t want_len, const char **step)
{
    static iotsec_image_verify_ctx ctx;
    size_t pos = 0, got = 0, n = 0;
    int rc;

    *step = "init";
    rc = plaintext ? iotsec_image_verify_init_plaintext(&ctx, c, m)
                   : iotsec_image_verify_init(&ctx, c, m, key, key_len);
    if (rc != IOTSEC_OK)
        return rc;
    *step = "update";
    while (pos < in_len) {
        size_t take = in_len - pos < chunk ? in_len - pos : chunk;
        rc = iotsec_image_verify_update(&ctx, in + pos, take, buf_b, sizeof buf_b, &n);
        if (rc != IOTSEC_OK)
            goto out;
        if (want != NULL && (got + n > want_len || memcmp(buf_b, want + got, n) != 0))
            rc = IOTSEC_E_DIGEST_MISMATCH; /* released bytes that are not the image */
        if (rc != IOTSEC_OK)
            goto out;
        got += n;
        pos += take;
    }
    *step = "final";
    rc = iotsec_image_verify_final(&ctx, buf_b, sizeof buf_b, &n);
    if (rc == IOTSEC_OK && want != NULL &&
        (got + n != want_len || memcmp(buf_b, want + got, n) != 0))
        rc = IOTSEC_E_DIGEST_MISMATCH;
out:
    iotsec_image_verify_cleanup(&ctx);
    return rc;
}

static void set_policy(iotsec_device_policy *pol, const struct fv_policy *p)
{
    memset(pol, 0, sizeof *pol);
    pol->device_class = (const uint8_t *)p->device_class;
    pol->device_class_len = p->device_class != NULL ? strlen(p->device_class) : 0;
    pol->device_id = (const uint8_t *)p->device_id;
    pol->device_id_len = p->device_id != NULL ? strlen(p->device_id) : 0;
    pol->now = p->now;
    pol->stored_counter = p->stored_counter;
    pol->skip = p->skip;
}

static void run_manifest(const iotsec_crypto *c)
{
    static iotsec_pubkey keys[COUNT(fv_manifest_trusted)];
    iotsec_trust_store ts;
    iotsec_manifest m, policy_m;
    size_t i, loaded = 0;
    int rc, have_policy = 0;
    const char *step;

    for (i = 0; i < COUNT(fv_manifest_trusted); i++) {
        const struct fv_key *k = &fv_manifest_trusted[i];
        if (!check_rc(iotsec_pubkey_load(&keys[i], c, k->spki, k->spki_len), IOTSEC_OK,
                      "manifest_v1 key", k->name, "load"))
            goto done;
        loaded++;
        check(memcmp(keys[i].key_id, k->key_id, IOTSEC_KEY_ID_LEN) == 0, "manifest_v1 key",
              k->name, "key id", 0, 0);
    }
    if (!check_rc(iotsec_trust_store_init(&ts, keys, loaded), IOTSEC_OK, "manifest_v1",
                  "trust store", "init"))
        goto done;
    for (i = 0; i < COUNT(fv_manifests); i++) {
        const struct fv_manifest *v = &fv_manifests[i];
        rc = iotsec_manifest_verify(&ts, v->manifest, v->manifest_len, &m);
        if (!check_rc(rc, v->result, "manifest_v1", v->name, "verify"))
            continue;
        if (is_malformed(v->result))
            check_rc(iotsec_manifest_parse_unverified(v->manifest, v->manifest_len, &m),
                     v->result, "manifest_v1", v->name, "parse_unverified");
        if (rc != IOTSEC_OK)
            continue;
        check(m.sig_alg == (iotsec_sig_alg)v->sig_alg, "manifest_v1", v->name, "sig_alg",
              (int)m.sig_alg, v->sig_alg);
        check(v->key_id != NULL && memcmp(m.key_id, v->key_id, IOTSEC_KEY_ID_LEN) == 0,
              "manifest_v1", v->name, "key_id", 0, 0);
        if (i == FV_MANIFEST_POLICY_INDEX) {
            policy_m = m;
            have_policy = 1;
        }
        if (v->image == NULL)
            continue;
        if (v->payload != NULL) {
            rc = stream_image(c, &m, 0, v->fw_key, IOTSEC_FW_KEY_LEN, v->payload, v->payload_len,
                              13, v->image, v->image_len, &step);
            check_rc(rc, IOTSEC_OK, "manifest_v1", v->name, "payload (13-byte chunks)");
            rc = stream_image(c, &m, 1, NULL, 0, v->image, v->image_len, 2048, v->image,
                              v->image_len, &step);
            check_rc(rc, IOTSEC_OK, "manifest_v1", v->name, "plaintext re-check");
        } else {
            rc = stream_image(c, &m, 0, NULL, 0, v->image, v->image_len, 5, v->image,
                              v->image_len, &step);
            check_rc(rc, IOTSEC_OK, "manifest_v1", v->name, "image (5-byte chunks)");
        }
    }
    if (check(have_policy, "manifest_v1", "policy", "manifest verified", 0, 0)) {
        for (i = 0; i < COUNT(fv_manifest_policy); i++) {
            iotsec_device_policy pol;
            set_policy(&pol, &fv_manifest_policy[i]);
            check_rc(iotsec_manifest_check_policy(&policy_m, &pol), fv_manifest_policy[i].result,
                     "manifest_v1 policy", fv_manifest_policy[i].device_class, "check_policy");
        }
    }
done:
    for (i = 0; i < loaded; i++)
        iotsec_pubkey_free(&keys[i]);
}

/* Encrypt a 48 KiB image on the device, sign its manifest with the Ed25519 test signer, and
 * stream the payload through the verifier in 2 KiB chunks, as a bootloader receiving an
 * update does. */
#define BIG_IMAGE_LEN (48u * 1024u + 5u)
static uint8_t big_image[BIG_IMAGE_LEN];
static uint8_t big_payload[BIG_IMAGE_LEN + 16u];

static void run_big_image(const iotsec_crypto *c, const iotsec_manifest *unused)
{
    static const uint8_t iv[IOTSEC_AES_BLOCK_LEN] = {0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe,
                                                     0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
    static iotsec_image_encrypt_ctx enc;
    iotsec_image_encrypt_result res;
    iotsec_manifest_fields f;
    iotsec_privkey sk;
    iotsec_pubkey pk;
    iotsec_trust_store ts;
    iotsec_manifest m;
    uint8_t digest[IOTSEC_SHA256_LEN], key_id[IOTSEC_KEY_ID_LEN];
    uint8_t manifest[1024];
    size_t i, n = 0, pos = 0, mlen = 0;
    const char *step;
    int rc;

    (void)unused;
    for (i = 0; i < BIG_IMAGE_LEN; i++)
        big_image[i] = (uint8_t)(i * 7u + (i >> 8));
    if (!check_rc(iotsec_sha256(c, big_image, BIG_IMAGE_LEN, digest), IOTSEC_OK, "image 2 KiB",
                  "48 KiB", "digest"))
        return;
    rc = iotsec_image_encrypt_init(&enc, c, FV_FW_AES_KEY, iv);
    for (i = 0; rc == IOTSEC_OK && i < BIG_IMAGE_LEN; i += 2048u) {
        size_t take = BIG_IMAGE_LEN - i < 2048u ? BIG_IMAGE_LEN - i : 2048u;
        rc = iotsec_image_encrypt_update(&enc, big_image + i, take, big_payload + pos,
                                         sizeof big_payload - pos, &n);
        pos += n;
    }
    if (rc == IOTSEC_OK)
        rc = iotsec_image_encrypt_final(&enc, big_payload + pos, sizeof big_payload - pos, &n, &res);
    iotsec_image_encrypt_cleanup(&enc);
    if (!check_rc(rc, IOTSEC_OK, "image 2 KiB", "48 KiB", "encrypt"))
        return;
    pos += n;
    if (!check_rc(iotsec_fw_key_id(c, FV_FW_AES_KEY, key_id), IOTSEC_OK, "image 2 KiB", "48 KiB",
                  "key id"))
        return;
    memset(&f, 0, sizeof f);
    f.present = IOTSEC_MF_ENCRYPTION;
    f.security_counter = 9;
    f.version = (const uint8_t *)"3.1.4";
    f.version_len = 5;
    f.device_class = (const uint8_t *)"ecowatt-esp32";
    f.device_class_len = 13;
    f.image_size = BIG_IMAGE_LEN;
    f.image_digest = digest;
    f.enc_alg = IOTSEC_ENC_AES256_CBC;
    f.enc_key_id = key_id;
    f.enc_iv = iv;
    f.payload_size = res.payload_size;
    f.payload_digest = res.payload_digest;
    if (!check_rc(iotsec_privkey_load_ed25519_seed(&sk, c, FV_FW_SIGNER_SEED), IOTSEC_OK,
                  "image 2 KiB", "48 KiB", "signer key"))
        return;
    rc = iotsec_manifest_sign(&f, &sk, manifest, sizeof manifest, &mlen);
    iotsec_privkey_free(&sk);
    if (!check_rc(rc, IOTSEC_OK, "image 2 KiB", "48 KiB", "sign manifest") ||
        !check_rc(iotsec_pubkey_load(&pk, c, FV_FW_SIGNER_SPKI, FV_FW_SIGNER_SPKI_LEN), IOTSEC_OK,
                  "image 2 KiB", "48 KiB", "load signer"))
        return;
    (void)iotsec_trust_store_init(&ts, &pk, 1);
    rc = iotsec_manifest_verify(&ts, manifest, mlen, &m);
    if (check_rc(rc, IOTSEC_OK, "image 2 KiB", "48 KiB", "verify manifest")) {
        rc = stream_image(c, &m, 0, FV_FW_AES_KEY, IOTSEC_FW_KEY_LEN, big_payload, pos, 2048u,
                          big_image, BIG_IMAGE_LEN, &step);
        check_rc(rc, IOTSEC_OK, "image 2 KiB", "48 KiB", "stream 2 KiB chunks");
        big_payload[pos / 2] ^= 0x40; /* one flipped bit in transit */
        rc = stream_image(c, &m, 0, FV_FW_AES_KEY, IOTSEC_FW_KEY_LEN, big_payload, pos, 2048u,
                          NULL, 0, &step);
        check_rc(rc, IOTSEC_E_DIGEST_MISMATCH, "image 2 KiB", "48 KiB", "tampered payload");
    }
    iotsec_pubkey_free(&pk);
}

static void run_firmware(const iotsec_crypto *c)
{
    static iotsec_manifest ms[COUNT(fv_fw_manifests)];
    static int ok[COUNT(fv_fw_manifests)];
    iotsec_pubkey pk;
    iotsec_trust_store ts;
    size_t i;
    const char *step;
    int rc;

    if (!check_rc(iotsec_pubkey_load(&pk, c, FV_FW_SIGNER_SPKI, FV_FW_SIGNER_SPKI_LEN), IOTSEC_OK,
                  "firmware", "signer", "load"))
        return;
    (void)iotsec_trust_store_init(&ts, &pk, 1);
    for (i = 0; i < COUNT(fv_fw_manifests); i++)
        ok[i] = check_rc(iotsec_manifest_verify(&ts, fv_fw_manifests[i].manifest,
                                                fv_fw_manifests[i].manifest_len, &ms[i]),
                         IOTSEC_OK, "firmware manifest", fv_fw_manifests[i].name, "verify");
    for (i = 0; i < COUNT(fv_fw_images); i++) {
        const struct fv_fw_image *v = &fv_fw_images[i];
        if (!ok[v->manifest])
            continue;
        rc = stream_image(c, &ms[v->manifest], v->plaintext, v->key, v->key_len, v->input,
                          v->input_len, v->chunk, v->result == IOTSEC_OK ? FV_FW_IMAGE : NULL,
                          FV_FW_IMAGE_LEN, &step);
        if (check_rc(rc, v->result, "firmware image", v->name, "result") && rc != IOTSEC_OK)
            check(v->fails_at != NULL && strcmp(step, v->fails_at) == 0, "firmware image",
                  v->name, "failing step", 0, 0);
    }
    for (i = 0; i < COUNT(fv_fw_policy); i++) {
        iotsec_device_policy pol;
        if (!ok[fv_fw_policy[i].manifest])
            continue;
        set_policy(&pol, &fv_fw_policy[i]);
        check_rc(iotsec_manifest_check_policy(&ms[fv_fw_policy[i].manifest], &pol),
                 fv_fw_policy[i].result, "firmware policy", fv_fw_policy[i].name, "check_policy");
    }
    run_big_image(c, NULL);
    iotsec_pubkey_free(&pk);
}

/* ---- sender counter ------------------------------------------------------------------------- */

struct slot_port {
    uint8_t slots[2][IOTSEC_COUNTER_RECORD_LEN];
    unsigned writes, flushes, last_slot;
    uint8_t last[IOTSEC_COUNTER_RECORD_LEN];
};

static int sp_read(void *ctx, unsigned slot, uint8_t buf[IOTSEC_COUNTER_RECORD_LEN])
{
    memcpy(buf, ((struct slot_port *)ctx)->slots[slot], IOTSEC_COUNTER_RECORD_LEN);
    return IOTSEC_OK;
}

static int sp_write(void *ctx, unsigned slot, const uint8_t buf[IOTSEC_COUNTER_RECORD_LEN])
{
    struct slot_port *p = (struct slot_port *)ctx;
    memcpy(p->slots[slot], buf, IOTSEC_COUNTER_RECORD_LEN);
    memcpy(p->last, buf, IOTSEC_COUNTER_RECORD_LEN);
    p->last_slot = slot;
    p->writes++;
    return IOTSEC_OK;
}

static int sp_flush(void *ctx)
{
    ((struct slot_port *)ctx)->flushes++;
    return IOTSEC_OK;
}

static void run_counter(void)
{
    static struct slot_port port_state;
    iotsec_counter_record rec;
    iotsec_counter_port port;
    iotsec_counter ctr;
    uint8_t enc[IOTSEC_COUNTER_RECORD_LEN];
    uint64_t first = 0;
    size_t i;
    int rc;

    for (i = 0; i < COUNT(fv_records); i++) {
        const struct fv_record *v = &fv_records[i];
        memset(&rec, 0, sizeof rec);
        rec.seq = v->seq;
        rec.reserved = v->reserved;
        if (check_rc(iotsec_counter_record_encode(&rec, enc), IOTSEC_OK, "counter record",
                     "encode", "encode"))
            check(memcmp(enc, v->encoded, sizeof enc) == 0, "counter record", "encode", "bytes",
                  (int)i, 0);
        if (check_rc(iotsec_counter_record_decode(&rec, v->encoded, IOTSEC_COUNTER_RECORD_LEN),
                     IOTSEC_OK, "counter record", "decode", "decode"))
            check(rec.seq == v->seq && rec.reserved == v->reserved, "counter record", "decode",
                  "fields", (int)i, 0);
    }
    for (i = 0; i < COUNT(fv_record_invalid); i++)
        check_rc(iotsec_counter_record_decode(&rec, fv_record_invalid[i].encoded,
                                              fv_record_invalid[i].encoded_len),
                 fv_record_invalid[i].error, "counter invalid", fv_record_invalid[i].name, "decode");
    for (i = 0; i < COUNT(fv_boot); i++) {
        const struct fv_boot *v = &fv_boot[i];
        memset(&port_state, 0, sizeof port_state);
        memcpy(port_state.slots[0], v->slot0, IOTSEC_COUNTER_RECORD_LEN);
        memcpy(port_state.slots[1], v->slot1, IOTSEC_COUNTER_RECORD_LEN);
        port.ctx = &port_state;
        port.read = sp_read;
        port.write = sp_write;
        port.flush = sp_flush;
        rc = iotsec_counter_open(&ctr, &port, v->step);
        if (rc == IOTSEC_OK)
            rc = iotsec_counter_next(&ctr, &first);
        if (v->error != IOTSEC_OK) {
            check_rc(rc, v->error, "counter boot", v->name, "next");
            check(port_state.writes == 0 && port_state.flushes == 0, "counter boot", v->name,
                  "nothing written", (int)port_state.writes, 0);
            continue;
        }
        if (!check_rc(rc, IOTSEC_OK, "counter boot", v->name, "next"))
            continue;
        check(first == v->first_counter, "counter boot", v->name, "first counter", (int)first,
              (int)v->first_counter);
        check(port_state.writes == 1 && port_state.last_slot == v->write_slot &&
                  memcmp(port_state.last, v->write_record, IOTSEC_COUNTER_RECORD_LEN) == 0,
              "counter boot", v->name, "write", (int)port_state.writes, 1);
        check(port_state.flushes == 1, "counter boot", v->name, "flush",
              (int)port_state.flushes, 1);
    }
}

/* ---- entry ---------------------------------------------------------------------------------- */

void spec_vectors_run(const iotsec_crypto *crypto, spec_counts *out, spec_report_fn report,
                      void *ctx)
{
    counts = out;
    report_fn = report;
    report_ctx = ctx;
    run_frame_v1(crypto);
#if !IOTSEC_NO_JSON
    run_frame_json(crypto);
#endif
#if !IOTSEC_NO_ECOWATT && !IOTSEC_NO_JSON
    run_ecowatt(crypto);
#endif
    run_replay();
    run_manifest(crypto);
    run_firmware(crypto);
    run_counter();
    counts = NULL;
}
