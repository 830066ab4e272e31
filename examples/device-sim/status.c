/* iotsec-device-sim — status: boot record, both slots, sender counter (text or JSON).
 * Slots are re-verified by the library (as boot would, against the stored counter); a slot
 * that does not verify shows its version from an unverified parse, marked as such. */
#include "app.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct slot_info {
    int present;  /* a manifest parses */
    int verified; /* manifest and image verified against the stored counter */
    sim_manifest sm;
} slot_info;

static void probe_slot(const sim_state *st, const sim_trust *t, const iotsec_crypto *crypto,
                       int slot, uint64_t stored, slot_info *si)
{
    char path[SIM_PATH_MAX];

    memset(si, 0, sizeof *si);
    if (t != NULL && sim_slot_verify(st, t, crypto, slot, stored, &si->sm) == SIM_OK) {
        si->present = si->verified = 1;
        return;
    }
    /* for display only: never a decision */
    if (sim_slot_path(st, slot, 1, path) == SIM_OK && access(path, F_OK) == 0 &&
        sim_manifest_read(&si->sm, path) == SIM_OK &&
        iotsec_manifest_parse_unverified(si->sm.buf, si->sm.len, &si->sm.m) == IOTSEC_OK)
        si->present = 1;
}

static void json_string(const uint8_t *s, size_t len)
{
    size_t i;

    putchar('"');
    for (i = 0; i < len; i++) {
        if (s[i] == '"' || s[i] == '\\')
            printf("\\%c", s[i]);
        else if (s[i] < 0x20 || s[i] == 0x7f)
            printf("\\u%04x", s[i]);
        else
            putchar(s[i]);
    }
    putchar('"');
}

static void json_slot(const slot_info *si)
{
    const iotsec_manifest_fields *f = &si->sm.m.f;

    if (!si->present) {
        printf("null");
        return;
    }
    printf("{\"version\":");
    json_string(f->version, f->version_len);
    printf(",\"security_counter\":%llu,\"image_size\":%llu,\"encrypted\":%s,\"verified\":%s}",
           (unsigned long long)f->security_counter, (unsigned long long)f->image_size,
           (f->present & IOTSEC_MF_ENCRYPTION) ? "true" : "false",
           si->verified ? "true" : "false");
}

static void text_slot(int slot, const slot_info *si)
{
    const iotsec_manifest_fields *f = &si->sm.m.f;

    printf("slot %c: ", sim_slot_name(slot));
    if (!si->present) {
        printf("empty\n");
        return;
    }
    printf("version %.*s, security counter %llu, %llu bytes%s, %s\n", (int)f->version_len,
           (const char *)f->version, (unsigned long long)f->security_counter,
           (unsigned long long)f->image_size,
           (f->present & IOTSEC_MF_ENCRYPTION) ? " (delivered encrypted)" : "",
           si->verified ? "verified" : "NOT verified");
}

int sim_status(const sim_state *st, const iotsec_crypto *crypto, int json)
{
    static slot_info slots[SIM_SLOTS];
    char path[SIM_PATH_MAX];
    sim_boot_record rec;
    sim_trust trust;
    iotsec_counter_file nvs_file = {-1};
    iotsec_counter c;
    int rc, i, have_trust, have_ctr = 0;

    rc = sim_boot_read(st, &rec);
    if (rc == IOTSEC_E_CORRUPT)
        return sim_error(SIM_HALT, "%s: boot record damaged (both copies invalid)", st->root);
    if (rc != IOTSEC_OK)
        return sim_fail(SIM_IO, rc, "%s: cannot read the boot record", st->root);
    have_trust = sim_trust_load(&trust, st, crypto) == SIM_OK;
    sim_errors_mute(1);
    for (i = 0; i < SIM_SLOTS; i++)
        probe_slot(st, have_trust ? &trust : NULL, crypto, i, rec.counter, &slots[i]);
    sim_errors_mute(0);
    if (have_trust)
        sim_trust_free(&trust);
    /* the sender counter: opening it reads both NVS slots and writes nothing */
    if (sim_path(st, SIM_NVS_COUNTER, path) == SIM_OK && access(path, F_OK) == 0) {
        if ((rc = sim_nvs_open(st, &nvs_file, &c)) != SIM_OK)
            return rc;
        iotsec_counter_file_close(&nvs_file);
        have_ctr = 1;
    }

    if (json) {
        printf("{\"device_id\":");
        json_string((const uint8_t *)st->device_id, strlen(st->device_id));
        printf(",\"class\":");
        json_string((const uint8_t *)st->device_class, strlen(st->device_class));
        printf(",\"active\":\"%c\",\"pending\":%s,\"boot_attempts\":%u,"
               "\"security_counter\":%llu,\"slots\":{\"A\":",
               sim_slot_name(rec.active), rec.pending ? "true" : "false",
               (unsigned)rec.attempts, (unsigned long long)rec.counter);
        json_slot(&slots[0]);
        printf(",\"B\":");
        json_slot(&slots[1]);
        printf("},\"sender_counter\":{\"next\":%llu,\"reserved\":%llu}}\n",
               have_ctr ? (unsigned long long)c.next : 1ull,
               have_ctr ? (unsigned long long)c.reserved : 0ull);
        return SIM_OK;
    }
    printf("device %s, class %s\n", st->device_id, st->device_class);
    printf("active slot %c%s, boot attempts %u, stored security counter %llu\n",
           sim_slot_name(rec.active), rec.pending ? " (pending confirmation)" : "",
           (unsigned)rec.attempts, (unsigned long long)rec.counter);
    for (i = 0; i < SIM_SLOTS; i++)
        text_slot(i, &slots[i]);
    if (have_ctr)
        printf("sender counter: next %llu after this restart (reservation up to %llu)\n",
               (unsigned long long)c.next, (unsigned long long)c.reserved);
    else
        printf("sender counter: blank (next 1)\n");
    return SIM_OK;
}
