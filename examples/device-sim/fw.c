/* iotsec-device-sim — firmware trust: trusted keys, manifest acceptance, slot verification.
 * Every decision here is a libiotsec call (manifest.h, image.h); this file reads files. */
#include "fw.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

uint64_t sim_now(void)
{
    time_t t = time(NULL);

    return t < 0 ? 0 : (uint64_t)t;
}

int sim_trust_load(sim_trust *t, const sim_state *st, const iotsec_crypto *crypto)
{
    char rel[64], path[SIM_PATH_MAX];
    int rc, i;

    memset(t, 0, sizeof *t);
    for (i = 0; i < SIM_MAX_TRUST; i++) {
        snprintf(rel, sizeof rel, SIM_CRED_TRUST_FMT, i);
        if ((rc = sim_path(st, rel, path)) != SIM_OK) {
            sim_trust_free(t);
            return rc;
        }
        if (access(path, F_OK) != 0)
            break;
        rc = iotsec_pubkey_load_file(&t->keys[t->count], crypto, path);
        if (rc != IOTSEC_OK) {
            sim_trust_free(t);
            return sim_fail(SIM_IO, rc, "%s: cannot load trusted firmware key", path);
        }
        t->count++;
    }
    if (t->count == 0)
        return sim_error(SIM_IO, "%s: no trusted firmware key installed", st->root);
    rc = iotsec_trust_store_init(&t->store, t->keys, t->count);
    if (rc != IOTSEC_OK) {
        sim_trust_free(t);
        return sim_fail(SIM_IO, rc, "%s: trusted firmware keys refused", st->root);
    }
    return SIM_OK;
}

void sim_trust_free(sim_trust *t)
{
    size_t i;

    for (i = 0; i < t->count; i++)
        iotsec_pubkey_free(&t->keys[i]);
    memset(t, 0, sizeof *t);
}

void sim_policy_init(iotsec_device_policy *p, const sim_state *st, uint64_t stored_counter)
{
    memset(p, 0, sizeof *p);
    p->device_class = (const uint8_t *)st->device_class;
    p->device_class_len = strlen(st->device_class);
    p->device_id = (const uint8_t *)st->device_id;
    p->device_id_len = strlen(st->device_id);
    p->now = sim_now();
    p->stored_counter = stored_counter;
    p->skip = 0; /* a device skips no check */
}

int sim_manifest_accept(const sim_state *st, const sim_trust *t, sim_manifest *sm,
                        uint64_t stored_counter, uint32_t extra_skip, const char *what)
{
    iotsec_device_policy policy;
    int rc;

    rc = iotsec_manifest_verify(&t->store, sm->buf, sm->len, &sm->m);
    if (rc != IOTSEC_OK)
        return sim_fail(SIM_REJECTED, rc, "%s: manifest refused", what);
    sim_policy_init(&policy, st, stored_counter);
    policy.skip |= extra_skip;
    rc = iotsec_manifest_check_policy(&sm->m, &policy);
    if (rc != IOTSEC_OK) {
        memset(&sm->m, 0, sizeof sm->m);
        return sim_fail(SIM_REJECTED, rc, "%s: manifest refused by device policy", what);
    }
    return SIM_OK;
}

int sim_manifest_read(sim_manifest *sm, const char *path)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc;

    memset(sm, 0, sizeof *sm);
    rc = iotsec_file_read(path, IOTSEC_MANIFEST_MAX_LEN, &buf, &len);
    if (rc == IOTSEC_E_BAD_LENGTH)
        return sim_error(SIM_REJECTED, "%s: larger than any manifest (%u bytes)", path,
                         (unsigned)IOTSEC_MANIFEST_MAX_LEN);
    if (rc != IOTSEC_OK)
        return sim_error(SIM_IO, "%s: %s", path, strerror(errno));
    memcpy(sm->buf, buf, len);
    sm->len = len;
    free(buf);
    return SIM_OK;
}

int sim_image_stream_file(iotsec_image_verify_ctx *ctx, const char *path,
                          sim_slot_writer *copy_to)
{
    uint8_t chunk[4096];
    int fd, rc = IOTSEC_OK;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return IOTSEC_E_IO;
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = IOTSEC_E_IO;
            break;
        }
        if (n == 0)
            break;
        /* a plain image is its own plaintext: no output buffer needed */
        rc = iotsec_image_verify_update(ctx, chunk, (size_t)n, NULL, 0, NULL);
        if (rc == IOTSEC_OK && copy_to != NULL)
            rc = sim_slot_writer_write(copy_to, chunk, (size_t)n);
        if (rc != IOTSEC_OK)
            break;
    }
    close(fd);
    return rc;
}

int sim_slot_verify(const sim_state *st, const sim_trust *t, const iotsec_crypto *crypto,
                    int slot, uint64_t stored_counter, sim_manifest *sm)
{
    char mpath[SIM_PATH_MAX], ipath[SIM_PATH_MAX], what[64];
    iotsec_image_verify_ctx ctx;
    int rc;

    if ((rc = sim_slot_path(st, slot, 1, mpath)) != SIM_OK ||
        (rc = sim_slot_path(st, slot, 0, ipath)) != SIM_OK)
        return rc;
    snprintf(what, sizeof what, "slot %c", sim_slot_name(slot));
    if (access(mpath, F_OK) != 0)
        return sim_error(SIM_REJECTED, "%s: no manifest (empty slot)", what);
    /* the manifest is read once; the copy verified here is the one whose counter is used
     * (no second read between check and use) */
    if ((rc = sim_manifest_read(sm, mpath)) != SIM_OK)
        return rc == SIM_IO ? SIM_REJECTED : rc;
    /* an installed image was checked for expiry when it was installed; it must keep
     * booting after its manifest's not_after, or the device could not update itself */
    if ((rc = sim_manifest_accept(st, t, sm, stored_counter, IOTSEC_POLICY_SKIP_EXPIRY, what)) !=
        SIM_OK)
        return rc;
    rc = iotsec_image_verify_init_plaintext(&ctx, crypto, &sm->m);
    if (rc == IOTSEC_OK) {
        rc = sim_image_stream_file(&ctx, ipath, NULL);
        if (rc == IOTSEC_OK)
            rc = iotsec_image_verify_final(&ctx, NULL, 0, NULL);
        else
            iotsec_image_verify_cleanup(&ctx);
    }
    if (rc != IOTSEC_OK) {
        memset(&sm->m, 0, sizeof sm->m);
        return sim_fail(rc == IOTSEC_E_IO ? SIM_IO : SIM_REJECTED, rc,
                        "%s: image does not match its signed manifest", what);
    }
    return SIM_OK;
}

void sim_print_version(FILE *out, const iotsec_manifest *m)
{
    fprintf(out, "%.*s", (int)m->f.version_len, (const char *)m->f.version);
}
