/* iotsec-device-sim — the secure-boot stand-in (docs/DESIGN.md §6, §11).
 *
 * Like a second-stage bootloader with ESP-IDF's app rollback: the boot record names the
 * active slot; its manifest and image are verified by the library before the image "runs"
 * (a refused confirmed image halts the device). A pending image (freshly installed by an
 * update) is started at most `max_attempts` times: each start is recorded before its
 * self-test runs, a passing self-test confirms it and only then raises the stored security
 * counter to the image's; when the attempts are used up, or the pending image fails
 * verification, the device rolls back to the other slot. */
#include "app.h"

#include <stdio.h>
#include <string.h>

static int record_write(const sim_state *st, sim_boot_record *rec)
{
    int rc = sim_boot_write(st, rec);

    if (rc != IOTSEC_OK)
        return sim_fail(SIM_IO, rc, "%s: cannot write the boot record", st->root);
    return SIM_OK;
}

static int roll_back(const sim_state *st, sim_boot_record *rec, const char *why)
{
    int from = rec->active;

    printf("boot: %s; rolling back from slot %c to slot %c\n", why, sim_slot_name(from),
           sim_slot_name(1 - from));
    rec->active = (uint8_t)(1 - from);
    rec->pending = 0;
    rec->attempts = 0;
    return record_write(st, rec); /* the stored counter stays: nothing was confirmed */
}

int sim_boot(const sim_state *st, const iotsec_crypto *crypto, const sim_boot_opts *o,
             sim_boot_result *res)
{
    sim_boot_record rec;
    sim_trust trust;
    char why[128];
    int rc, slot, rolled_back = 0;

    memset(res, 0, sizeof *res);
    sim_state_sweep(st);
    rc = sim_boot_read(st, &rec);
    if (rc == IOTSEC_E_CORRUPT)
        return sim_error(SIM_HALT, "secure boot: boot record damaged (both copies invalid); "
                         "halting");
    if (rc != IOTSEC_OK)
        return sim_fail(SIM_IO, rc, "%s: cannot read the boot record", st->root);
    if ((rc = sim_trust_load(&trust, st, crypto)) != SIM_OK)
        return rc;

    for (;;) {
        slot = rec.active;
        if (!rec.pending) {
            /* a confirmed image: it must verify, or the device halts (seed 004) */
            rc = sim_slot_verify(st, &trust, crypto, slot, rec.counter, &res->sm);
            if (rc != SIM_OK) {
                sim_trust_free(&trust);
                return sim_error(SIM_HALT, "secure boot: slot %c refused; halting",
                                 sim_slot_name(slot));
            }
            break;
        }
        if (rec.attempts >= o->max_attempts) {
            snprintf(why, sizeof why, "slot %c not confirmed after %u attempts",
                     sim_slot_name(slot), (unsigned)rec.attempts);
            rc = roll_back(st, &rec, why);
        } else if (sim_slot_verify(st, &trust, crypto, slot, rec.counter, &res->sm) != SIM_OK) {
            snprintf(why, sizeof why, "pending image in slot %c refused",
                     sim_slot_name(slot));
            rc = roll_back(st, &rec, why);
        } else {
            /* count the start before running the image: a crash during the self-test
             * must use up an attempt */
            rec.attempts++;
            if ((rc = record_write(st, &rec)) != SIM_OK)
                break;
            printf("boot: slot %c version ", sim_slot_name(slot));
            sim_print_version(stdout, &res->sm.m);
            printf(" pending: self-test, attempt %u of %u\n", (unsigned)rec.attempts,
                   o->max_attempts);
            if (o->self_test_fail) {
                printf("boot: self-test failed; rebooting\n");
                continue;
            }
            /* confirm: the stored counter rises to the verified image's counter, which
             * the policy check above found ≥ the stored one */
            rec.pending = 0;
            rec.attempts = 0;
            rec.counter = res->sm.m.f.security_counter;
            if ((rc = record_write(st, &rec)) != SIM_OK)
                break;
            printf("boot: confirmed slot %c; stored security counter now %llu\n",
                   sim_slot_name(slot), (unsigned long long)rec.counter);
            break;
        }
        if (rc != SIM_OK)
            break;
        rolled_back = 1;
    }
    sim_trust_free(&trust);
    if (rc != SIM_OK)
        return rc;
    res->slot = slot;
    res->record = rec;
    res->rolled_back = rolled_back;
    printf("boot: running slot %c version ", sim_slot_name(slot));
    sim_print_version(stdout, &res->sm.m);
    printf(" (security counter %llu)\n", (unsigned long long)res->sm.m.f.security_counter);
    fflush(stdout);
    return rolled_back ? SIM_ROLLED_BACK : SIM_OK;
}
