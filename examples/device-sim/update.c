/* iotsec-device-sim — over-the-air update (docs/DESIGN.md §6, §10, §11; seeds 001 and 002).
 *
 * Poll the manifest for this device's class, have the library verify it (signature with a
 * trusted key, class, device id, expiry, security counter ≥ stored), download the payload
 * in chunks with HTTP Range (chunk size from the manifest, 2048 by default), and feed each
 * chunk to the library's streaming verifier, which decrypts it into a bounded buffer; the
 * plaintext goes to the inactive slot. Only when the verifier's final check passes is the
 * slot given its manifest and marked pending in the boot record; then the device reboots
 * (re-executes `boot`), which runs the self-test and confirms or rolls back.
 *
 * Bounds (device.conf settings, README.md): a manifest whose image (or payload) does not
 * fit the inactive slot is refused before any payload byte is asked for; the whole update
 * (manifest and every chunk) has an overall deadline, and the download a minimum average
 * transfer rate, so a server that drips bytes cannot hold the device. */
#include "app.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_CHUNK 2048u

/* percent-encode s for a query value into out: RFC 3986 unreserved characters and the
 * pchar ':' and '@' pass — exactly the class characters the backend accepts unencoded */
static int url_escape(const char *s, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;

    for (; *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;
        int plain = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' ||
                    ch == '~' || ch == ':' || ch == '@';
        if (cap - n < 4)
            return -1;
        if (plain) {
            out[n++] = (char)ch;
        } else {
            out[n++] = '%';
            out[n++] = hex[ch >> 4];
            out[n++] = hex[ch & 15];
        }
    }
    out[n] = '\0';
    return 0;
}

static void progress(int tty, unsigned long long done, unsigned long long total)
{
    if (!tty)
        return;
    fprintf(stderr, "\rupdate: %llu / %llu bytes (%llu%%)", done, total,
            total ? done * 100u / total : 100u);
    if (done == total)
        fputc('\n', stderr);
    fflush(stderr);
}

/* the firmware key, when the device was given one (it then refuses plaintext firmware) */
static int load_fw_key(const sim_state *st, uint8_t key[SIM_FW_KEY_LEN], int *have)
{
    char path[SIM_PATH_MAX];
    int rc;

    *have = 0;
    if ((rc = sim_path(st, SIM_CRED_FW_KEY, path)) != SIM_OK)
        return rc;
    if (access(path, F_OK) != 0)
        return SIM_OK;
    rc = iotsec_file_read_secret(path, key, SIM_FW_KEY_LEN);
    if (rc != IOTSEC_OK)
        return sim_fail(SIM_IO, rc, "%s: cannot read the firmware key", path);
    *have = 1;
    return SIM_OK;
}

/* Re-execute this program as `boot` (the reboot), passing on what the boot needs. */
static int reboot(const sim_state *st, const sim_boot_opts *o, const char *argv0)
{
    static char a_boot[] = "boot", a_state[] = "--state", a_attempts[] = "--boot-attempts",
                a_power[] = "--power-loss-after-writes", a_fail[] = "--self-test-fail";
    static char prog[SIM_PATH_MAX], root[SIM_PATH_MAX], power[32], attempts[16];
    char *args[12];
    int n = 0;

    snprintf(prog, sizeof prog, "%s", argv0);
    snprintf(root, sizeof root, "%s", st->root);
    snprintf(attempts, sizeof attempts, "%u", o->max_attempts);
    args[n++] = prog;
    args[n++] = a_boot;
    args[n++] = a_state;
    args[n++] = root;
    args[n++] = a_attempts;
    args[n++] = attempts;
    if (sim_power_remaining() > 0) {
        snprintf(power, sizeof power, "%lu", sim_power_remaining());
        args[n++] = a_power;
        args[n++] = power;
    }
    if (o->self_test_fail)
        args[n++] = a_fail;
    args[n] = NULL;
    fflush(stdout);
    fflush(stderr);
    sim_net_global_cleanup();
    execvp(prog, args);
    return sim_error(SIM_IO, "reboot: cannot execute %s: %s", argv0, strerror(errno));
}

/* Download the payload of the accepted manifest m into slot, verifying as it goes.
 * Returns SIM_OK when the library's final check passed and the slot is flushed. */
static int download(const sim_state *st, sim_net *net, const iotsec_crypto *crypto,
                    const iotsec_manifest *m, int slot, uint64_t deadline_ms, int *chunks_out)
{
    uint8_t key[SIM_FW_KEY_LEN], tail[IOTSEC_AES_BLOCK_LEN];
    char url[128], range[64], hexd[2 * IOTSEC_SHA256_LEN + 1], mpath[SIM_PATH_MAX];
    iotsec_image_verify_ctx ctx;
    sim_slot_writer w = {-1, 0};
    uint8_t *in = NULL, *out = NULL;
    unsigned long long total, off = 0;
    size_t chunk, got, out_len, tail_len = 0;
    int encrypted = (m->f.present & IOTSEC_MF_ENCRYPTION) != 0;
    int have_key, rc, tty = isatty(STDERR_FILENO), chunks = 0;
    long status;
    uint64_t start_ms = sim_clock_ms(), elapsed;

    chunk = (m->f.present & IOTSEC_MF_CHUNK_SIZE) ? m->f.chunk_size : DEFAULT_CHUNK;
    total = encrypted ? m->f.payload_size : m->f.image_size;
    iotsec_hex_encode(encrypted ? m->f.payload_digest : m->f.image_digest, IOTSEC_SHA256_LEN,
                      hexd, sizeof hexd);
    snprintf(url, sizeof url, "/v1/firmware/payload/%s", hexd);

    if ((rc = load_fw_key(st, key, &have_key)) != SIM_OK)
        return rc;
    rc = iotsec_image_verify_init(&ctx, crypto, m, have_key ? key : NULL,
                                  have_key ? sizeof key : 0);
    iotsec_zeroize(key, sizeof key); /* the context holds its own key schedule */
    if (rc != IOTSEC_OK)
        return sim_fail(SIM_REJECTED, rc, "update: payload refused before download");
    in = malloc(chunk);
    out = malloc(IOTSEC_IMAGE_OUT_MAX(chunk));
    if (in == NULL || out == NULL) {
        rc = sim_error(SIM_IO, "out of memory");
        goto done;
    }
    /* the slot loses its old image: take its manifest away first, so it never pairs with
     * bytes it does not describe */
    if ((rc = sim_slot_path(st, slot, 1, mpath)) != SIM_OK)
        goto done;
    if (sim_store_remove(mpath) != IOTSEC_OK ||
        sim_slot_writer_open(&w, st, slot) != IOTSEC_OK) {
        rc = sim_error(SIM_IO, "slot %c: %s", sim_slot_name(slot), strerror(errno));
        goto done;
    }
    while (off < total) {
        size_t want = total - off < chunk ? (size_t)(total - off) : chunk;
        const uint8_t *plain;

        snprintf(range, sizeof range, "%llu-%llu", off, off + want - 1u);
        if ((rc = sim_net_get(net, url, range, in, want, &got, &status)) != SIM_OK) {
            char rate[64] = "no minimum rate";
            elapsed = sim_clock_ms() - start_ms;
            if (st->min_rate != 0)
                snprintf(rate, sizeof rate, "minimum %lu bytes/s over %lu s", st->min_rate,
                         st->min_rate_time);
            sim_error(rc, "update: download aborted after %llu of %llu bytes in %llu.%03llu s "
                      "(%s, deadline %lu s for the update; slot %c left unbootable)", off,
                      total, (unsigned long long)(elapsed / 1000u),
                      (unsigned long long)(elapsed % 1000u), rate, st->update_deadline,
                      sim_slot_name(slot));
            goto done;
        }
        if (status != 206 || got != want) {
            rc = sim_error(SIM_NETWORK, "update: range %s of %s: HTTP %ld with %zu bytes "
                           "(expected 206 with %zu)", range, url, status, got, want);
            goto done;
        }
        chunks++;
        if (encrypted) {
            rc = iotsec_image_verify_update(&ctx, in, got, out, IOTSEC_IMAGE_OUT_MAX(chunk),
                                            &out_len);
            plain = out;
        } else {
            rc = iotsec_image_verify_update(&ctx, in, got, NULL, 0, NULL);
            plain = in;
            out_len = got;
        }
        if (rc != IOTSEC_OK) {
            rc = sim_fail(SIM_REJECTED, rc, "update: payload refused at byte %llu", off);
            goto done;
        }
        if (sim_slot_writer_write(&w, plain, out_len) != IOTSEC_OK) {
            rc = sim_error(SIM_IO, "slot %c: %s", sim_slot_name(slot), strerror(errno));
            goto done;
        }
        off += got;
        progress(tty, off, total);
        /* the average rate so far, once a whole measuring time has passed (libcurl's
         * low-speed limit sees one request at a time: a server dripping each short chunk
         * just fast enough would pass it) */
        elapsed = sim_clock_ms() - start_ms;
        if (off < total && st->min_rate != 0 && elapsed >= st->min_rate_time * 1000u &&
            off * 1000u < (uint64_t)st->min_rate * elapsed) {
            rc = sim_error(SIM_NETWORK, "update: download too slow: %llu bytes in %llu.%03llu s "
                           "is under the minimum of %lu bytes/s (slot %c left unbootable)",
                           off, (unsigned long long)(elapsed / 1000u),
                           (unsigned long long)(elapsed % 1000u), st->min_rate,
                           sim_slot_name(slot));
            goto done;
        }
        if (off < total && sim_clock_ms() >= deadline_ms) {
            rc = sim_error(SIM_NETWORK, "update: deadline of %lu s passed after %llu of %llu "
                           "bytes (slot %c left unbootable)", st->update_deadline, off, total,
                           sim_slot_name(slot));
            goto done;
        }
    }
    rc = iotsec_image_verify_final(&ctx, tail, sizeof tail, &tail_len);
    if (rc != IOTSEC_OK) {
        rc = sim_fail(SIM_REJECTED, rc, "update: payload refused (slot %c left unbootable)",
                      sim_slot_name(slot));
        goto done;
    }
    if (sim_slot_writer_write(&w, tail, tail_len) != IOTSEC_OK ||
        sim_slot_writer_close(&w) != IOTSEC_OK) {
        rc = sim_error(SIM_IO, "slot %c: %s", sim_slot_name(slot), strerror(errno));
        goto done;
    }
    *chunks_out = chunks;
    rc = SIM_OK;
done:
    iotsec_image_verify_cleanup(&ctx);
    if (w.fd >= 0)
        (void)sim_slot_writer_close(&w);
    free(in);
    free(out);
    return rc;
}

int sim_update(const sim_state *st, const iotsec_crypto *crypto, const char *server,
               const sim_boot_opts *o, const char *argv0)
{
    static sim_boot_result booted;
    static sim_manifest next;
    char cls[3 * SIM_CLASS_MAX + 1], path[256 + 3 * SIM_CLASS_MAX], mpath[SIM_PATH_MAX];
    sim_net *net = NULL;
    sim_trust trust;
    sim_boot_record rec;
    const iotsec_manifest *m;
    int rc, slot, chunks = 0;
    long status;
    uint64_t deadline_ms;

    /* the URL is checked before anything else happens */
    if ((rc = sim_net_open(&net, st, server)) != SIM_OK)
        return rc;
    /* the update's clock starts now: every request from here on is bounded by it */
    deadline_ms = sim_clock_ms() + (uint64_t)st->update_deadline * 1000u;
    sim_net_limits(net, st->min_rate, st->min_rate_time, deadline_ms);
    rc = sim_boot(st, crypto, o, &booted);
    if (rc != SIM_OK && rc != SIM_ROLLED_BACK) {
        sim_net_close(net);
        return rc;
    }
    if ((rc = sim_trust_load(&trust, st, crypto)) != SIM_OK) {
        sim_net_close(net);
        return rc;
    }
    if (url_escape(st->device_class, cls, sizeof cls) != 0) {
        rc = sim_error(SIM_USAGE, "device class too long");
        goto done;
    }
    snprintf(path, sizeof path, "/v1/firmware/manifest?class=%s", cls);
    memset(&next, 0, sizeof next);
    if ((rc = sim_net_get(net, path, NULL, next.buf, sizeof next.buf, &next.len, &status)) !=
        SIM_OK)
        goto done;
    if (status == 404) {
        printf("update: no firmware published for class %s\n", st->device_class);
        rc = SIM_OK;
        goto done;
    }
    if (status != 200) {
        rc = sim_error(SIM_NETWORK, "update: manifest request answered HTTP %ld", status);
        goto done;
    }
    /* stored counter from the boot record just read by boot: the policy needs ≥ it */
    if ((rc = sim_manifest_accept(st, &trust, &next, booted.record.counter, 0, "update")) !=
        SIM_OK)
        goto done;
    m = &next.m;
    if (m->f.image_size == booted.sm.m.f.image_size &&
        memcmp(m->f.image_digest, booted.sm.m.f.image_digest, IOTSEC_SHA256_LEN) == 0 &&
        m->f.security_counter == booted.sm.m.f.security_counter) {
        printf("update: already running version ");
        sim_print_version(stdout, m);
        printf("\n");
        rc = SIM_OK;
        goto done;
    }
    slot = 1 - booted.slot;
    /* it must fit the slot: refused before a byte of it is asked for. A payload is the
     * image, or its AES-CBC encryption with PKCS#7 padding (at most one block more). */
    if (m->f.image_size > st->slot_size ||
        ((m->f.present & IOTSEC_MF_ENCRYPTION) &&
         m->f.payload_size > st->slot_size + IOTSEC_AES_BLOCK_LEN)) {
        char sizes[96];
        if (m->f.present & IOTSEC_MF_ENCRYPTION)
            snprintf(sizes, sizeof sizes, "image_size %llu, payload_size %llu bytes",
                     (unsigned long long)m->f.image_size, (unsigned long long)m->f.payload_size);
        else
            snprintf(sizes, sizeof sizes, "image_size %llu bytes",
                     (unsigned long long)m->f.image_size);
        rc = sim_error(SIM_REJECTED, "update: manifest refused before download: %s does not "
                       "fit slot %c (capacity %llu bytes, slot_size in device.conf)", sizes,
                       sim_slot_name(slot), (unsigned long long)st->slot_size);
        goto done;
    }
    if ((rc = download(st, net, crypto, m, slot, deadline_ms, &chunks)) != SIM_OK)
        goto done;
    if ((rc = sim_slot_path(st, slot, 1, mpath)) != SIM_OK)
        goto done;
    if (sim_store_file(mpath, next.buf, next.len, 0600) != IOTSEC_OK) {
        rc = sim_error(SIM_IO, "%s: %s", mpath, strerror(errno));
        goto done;
    }
    /* mark the new slot pending: the next boot starts it and it must confirm itself */
    rec = booted.record;
    rec.active = (uint8_t)slot;
    rec.pending = 1;
    rec.attempts = 0;
    if ((rc = sim_boot_write(st, &rec)) != IOTSEC_OK) {
        rc = sim_fail(SIM_IO, rc, "%s: cannot write the boot record", st->root);
        goto done;
    }
    printf("update: version ");
    sim_print_version(stdout, m);
    printf(" (security counter %llu, %llu bytes%s, %d chunks) written to slot %c; "
           "rebooting\n",
           (unsigned long long)m->f.security_counter, (unsigned long long)m->f.image_size,
           (m->f.present & IOTSEC_MF_ENCRYPTION) ? " decrypted" : "", chunks,
           sim_slot_name(slot));
    sim_trust_free(&trust);
    sim_net_close(net);
    return reboot(st, o, argv0);
done:
    sim_trust_free(&trust);
    sim_net_close(net);
    return rc;
}
