/* Fuzz target: the denylist parser (core). Count and parse must agree; on success the
 * entries are sorted and distinct, every entry is found by iotsec_denylist_check and every
 * device-id entry passes iotsec_device_id_check; on failure a line number is reported. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "iotsec/denylist.h"
#include "iotsec/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int cmp(const iotsec_deny_entry *a, const iotsec_deny_entry *b)
{
    if (a->kind != b->kind)
        return a->kind < b->kind ? -1 : 1;
    if (a->len != b->len)
        return a->len < b->len ? -1 : 1;
    return memcmp(a->value, b->value, a->len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    iotsec_denylist dl;
    iotsec_deny_entry *st;
    iotsec_deny_kind kind;
    size_t count = 0, line = 0, line2 = 0, i, lines = 1;
    int rc, rc2;

    for (i = 0; i < size; i++)
        lines += data[i] == '\n';
    rc = iotsec_denylist_count(data, size, &count, &line);
    if (rc != IOTSEC_OK) {
        if (line == 0 || line > lines)
            abort();
        rc2 = iotsec_denylist_parse(&dl, NULL, 0, data, size, &line2);
        if (rc2 != rc || line2 != line)
            abort();
        return 0;
    }
    if (line != 0 || count > lines)
        abort();
    st = malloc((count ? count : 1u) * sizeof *st);
    if (st == NULL)
        abort();
    if (count > 0 && iotsec_denylist_parse(&dl, st, count - 1u, data, size, &line) !=
                         IOTSEC_E_BUFFER_TOO_SMALL)
        abort();
    if (iotsec_denylist_parse(&dl, st, count, data, size, &line) != IOTSEC_OK || dl.count > count)
        abort();
    for (i = 0; i < dl.count; i++) {
        const iotsec_deny_entry *e = &dl.entries[i];
        if (i > 0 && cmp(&dl.entries[i - 1], e) >= 0)
            abort();
        if (e->kind == IOTSEC_DENY_FINGERPRINT) {
            if (e->len != IOTSEC_FINGERPRINT_LEN ||
                iotsec_denylist_check(&dl, e->value, NULL, 0, &kind) != IOTSEC_E_REVOKED ||
                kind != IOTSEC_DENY_FINGERPRINT)
                abort();
        } else if (e->kind == IOTSEC_DENY_DEVICE_ID) {
            if (iotsec_device_id_check(e->value, e->len) != IOTSEC_OK ||
                iotsec_denylist_check(&dl, NULL, (const char *)e->value, e->len, &kind) !=
                    IOTSEC_E_REVOKED ||
                kind != IOTSEC_DENY_DEVICE_ID)
                abort();
        } else {
            abort();
        }
    }
    free(st);
    return 0;
}
