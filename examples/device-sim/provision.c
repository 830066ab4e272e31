/* iotsec-device-sim — factory provisioning: credentials and a first verified image.
 *
 * Installs the device certificate and key, the pinned CA, the frame master secret, the
 * trusted firmware keys (the library refuses two keys with one key id), the optional
 * firmware decryption key and legacy EcoWatt keys, then verifies the first manifest and
 * image with the library exactly as an update would (signature, class, device id, expiry,
 * image digest) while copying the image into slot A. The boot record is written last:
 * its presence means "provisioned", with the stored security counter starting at the
 * first image's. Secrets get mode 0600, the directories 0700. */
#include "app.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iotsec/ecowatt.h"

#define CRED_FILE_MAX (64u * 1024u)

static int copy_file(const sim_state *st, const char *src, const char *rel, unsigned mode)
{
    char dst[SIM_PATH_MAX];
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc;

    if ((rc = sim_path(st, rel, dst)) != SIM_OK)
        return rc;
    rc = iotsec_file_read(src, CRED_FILE_MAX, &buf, &len);
    if (rc != IOTSEC_OK)
        return sim_error(SIM_IO, "%s: %s", src,
                         rc == IOTSEC_E_IO ? strerror(errno) : iotsec_strerror(rc));
    rc = sim_store_file(dst, buf, len, mode);
    iotsec_zeroize(buf, len);
    free(buf);
    if (rc != IOTSEC_OK)
        return sim_error(SIM_IO, "%s: %s", dst, strerror(errno));
    return SIM_OK;
}

/* a raw secret of exactly len bytes, stored with mode 0600 */
static int install_secret(const sim_state *st, const char *src, const char *rel, size_t len,
                          const char *opt)
{
    uint8_t secret[64];
    char dst[SIM_PATH_MAX];
    int rc;

    if ((rc = sim_path(st, rel, dst)) != SIM_OK)
        return rc;
    rc = iotsec_file_read_secret(src, secret, len);
    if (rc == IOTSEC_E_BAD_LENGTH)
        return sim_error(SIM_USAGE, "%s %s: a %zu-byte secret is required", opt, src, len);
    if (rc != IOTSEC_OK)
        return sim_error(SIM_IO, "%s %s: %s", opt, src, strerror(errno));
    rc = sim_store_file(dst, secret, len, 0600);
    iotsec_zeroize(secret, sizeof secret);
    if (rc != IOTSEC_OK)
        return sim_error(SIM_IO, "%s: %s", dst, strerror(errno));
    return SIM_OK;
}

static int install_trust(const sim_state *st, const iotsec_crypto *crypto,
                         const sim_provision_opts *o)
{
    iotsec_pubkey keys[SIM_MAX_TRUST];
    iotsec_trust_store store;
    char rel[64];
    int i, n = 0, rc = SIM_OK;

    memset(keys, 0, sizeof keys);
    for (i = 0; i < o->ntrust && rc == SIM_OK; i++) {
        int lrc = iotsec_pubkey_load_file(&keys[i], crypto, o->trust[i]);
        if (lrc != IOTSEC_OK)
            rc = sim_fail(lrc == IOTSEC_E_IO ? SIM_IO : SIM_USAGE, lrc,
                          "--trust %s: not a usable public key", o->trust[i]);
        else
            n++;
    }
    if (rc == SIM_OK) {
        int src = iotsec_trust_store_init(&store, keys, (size_t)n);
        if (src != IOTSEC_OK)
            rc = sim_fail(SIM_USAGE, src, "--trust: these keys cannot form a trust store");
    }
    for (i = 0; i < n; i++)
        iotsec_pubkey_free(&keys[i]);
    for (i = 0; i < o->ntrust && rc == SIM_OK; i++) {
        snprintf(rel, sizeof rel, SIM_CRED_TRUST_FMT, i);
        rc = copy_file(st, o->trust[i], rel, 0644);
    }
    return rc;
}

/* verify the first image with the library while copying it into slot A */
static int install_image(const sim_state *st, const iotsec_crypto *crypto,
                         const sim_provision_opts *o, uint64_t *counter)
{
    static sim_manifest sm;
    char path[SIM_PATH_MAX];
    iotsec_image_verify_ctx ctx;
    sim_slot_writer w;
    sim_trust trust;
    int rc;

    if ((rc = sim_manifest_read(&sm, o->manifest)) != SIM_OK)
        return rc;
    if ((rc = sim_trust_load(&trust, st, crypto)) != SIM_OK)
        return rc;
    rc = sim_manifest_accept(st, &trust, &sm, 0, 0, "--manifest");
    sim_trust_free(&trust);
    if (rc != SIM_OK)
        return rc;
    rc = iotsec_image_verify_init_plaintext(&ctx, crypto, &sm.m);
    if (rc != IOTSEC_OK)
        return sim_fail(SIM_REJECTED, rc, "--image: cannot start verification");
    if (sim_slot_writer_open(&w, st, 0) != IOTSEC_OK) {
        iotsec_image_verify_cleanup(&ctx);
        return sim_error(SIM_IO, "slot A: %s", strerror(errno));
    }
    rc = sim_image_stream_file(&ctx, o->image, &w);
    if (rc == IOTSEC_OK)
        rc = iotsec_image_verify_final(&ctx, NULL, 0, NULL);
    else
        iotsec_image_verify_cleanup(&ctx);
    if (sim_slot_writer_close(&w) != IOTSEC_OK && rc == IOTSEC_OK)
        rc = IOTSEC_E_IO;
    if (rc != IOTSEC_OK) {
        if (sim_slot_path(st, 0, 0, path) == SIM_OK)
            (void)sim_store_remove(path);
        if (rc == IOTSEC_E_IO)
            return sim_error(SIM_IO, "--image %s: %s", o->image, strerror(errno));
        return sim_fail(SIM_REJECTED, rc, "--image %s: does not match the signed manifest",
                        o->image);
    }
    if ((rc = sim_slot_path(st, 0, 1, path)) != SIM_OK)
        return rc;
    if (sim_store_file(path, sm.buf, sm.len, 0600) != IOTSEC_OK)
        return sim_error(SIM_IO, "%s: %s", path, strerror(errno));
    *counter = sm.m.f.security_counter;
    printf("provision: slot A version ");
    sim_print_version(stdout, &sm.m);
    printf(" (security counter %llu)\n", (unsigned long long)*counter);
    return SIM_OK;
}

int sim_provision(sim_state *st, const iotsec_crypto *crypto, const sim_provision_opts *o)
{
    sim_boot_record rec;
    int rc;

    if ((rc = iotsec_device_id_check(st->device_id, strlen(st->device_id))) != IOTSEC_OK)
        return sim_fail(SIM_USAGE, rc, "--device-id: 1-64 characters of [A-Za-z0-9._:@-]");
    /* without a certificate and key the device enrolls (enroll.c) */
    if ((rc = sim_state_write_config(st)) != SIM_OK ||
        (o->cert != NULL && (rc = copy_file(st, o->cert, SIM_CRED_CERT, 0644)) != SIM_OK) ||
        (o->key != NULL && (rc = copy_file(st, o->key, SIM_CRED_KEY, 0600)) != SIM_OK) ||
        (rc = copy_file(st, o->ca, SIM_CRED_CA, 0644)) != SIM_OK ||
        (rc = install_secret(st, o->secret, SIM_CRED_SECRET, SIM_FRAME_SECRET_LEN,
                             "--secret")) != SIM_OK)
        return rc;
    if (o->fw_key != NULL &&
        (rc = install_secret(st, o->fw_key, SIM_CRED_FW_KEY, SIM_FW_KEY_LEN, "--fw-key")) !=
            SIM_OK)
        return rc;
    if (o->legacy_mac_key != NULL &&
        (rc = install_secret(st, o->legacy_mac_key, SIM_CRED_LEGACY_MAC,
                             IOTSEC_ECOWATT_MAC_KEY_LEN, "--legacy-mac-key")) != SIM_OK)
        return rc;
    if (o->legacy_enc_key != NULL &&
        (rc = install_secret(st, o->legacy_enc_key, SIM_CRED_LEGACY_ENC,
                             IOTSEC_ECOWATT_ENC_KEY_LEN, "--legacy-enc-key")) != SIM_OK)
        return rc;
    if ((rc = install_trust(st, crypto, o)) != SIM_OK)
        return rc;
    memset(&rec, 0, sizeof rec);
    if ((rc = install_image(st, crypto, o, &rec.counter)) != SIM_OK)
        return rc;
    rec.active = 0;
    if (sim_boot_create(st, &rec) != IOTSEC_OK)
        return sim_error(SIM_IO, "%s: cannot write the boot record: %s", st->root,
                         strerror(errno));
    printf("provision: device %s (class %s) ready in %s\n", st->device_id, st->device_class,
           st->root);
    return SIM_OK;
}
