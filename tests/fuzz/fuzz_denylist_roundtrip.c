/* Fuzz target: denylist build → parse round trip. The input chooses a list of entries
 * (fingerprints and device ids, duplicates allowed) and how the file is written (LF or CRLF,
 * upper- or lower-case hex, comments and blank lines between entries, last line with or
 * without "\n"); the harness writes the text in the format of denylist.h and parses it.
 * Invariants: the count is the number of entry lines; the parsed list holds exactly the
 * distinct entries written — each is found by iotsec_denylist_check — and nothing else: a
 * fingerprint or id one bit away from a written one is not found unless it was written too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "iotsec/denylist.h"
#include "iotsec/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ENTRIES 64u

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:@-";

typedef struct cur {
    const uint8_t *p;
    size_t n, i;
} cur;

static uint8_t u8(cur *c) { return c->i < c->n ? c->p[c->i++] : 0; }

static void put(char *text, size_t *len, const char *s, size_t n)
{
    memcpy(text + *len, s, n);
    *len += n;
}

static int written(const iotsec_deny_entry *e, size_t n, uint8_t kind, const uint8_t *v,
                   size_t len)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (e[i].kind == kind && e[i].len == len && memcmp(e[i].value, v, len) == 0)
            return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char text[MAX_ENTRIES * 160u + 64u];
    static const char hex_lo[] = "0123456789abcdef", hex_up[] = "0123456789ABCDEF";
    iotsec_deny_entry want[MAX_ENTRIES], st[MAX_ENTRIES];
    iotsec_denylist dl;
    iotsec_deny_kind kind;
    cur c = {data, size, 0};
    uint8_t style = u8(&c);
    const char *eol = (style & 1) ? "\r\n" : "\n";
    size_t eol_len = (style & 1) ? 2u : 1u, len = 0, n = 0, count = 0, line = 0, i, j, distinct;

    while (n < MAX_ENTRIES && c.i < c.n) {
        uint8_t b = u8(&c);
        iotsec_deny_entry *e = &want[n++];
        memset(e, 0, sizeof *e);
        if (b & 0x40) { /* a comment or blank line before the entry */
            if (b & 0x20)
                put(text, &len, "# note", 6);
            else if (b & 0x10)
                put(text, &len, " \t", 2);
            put(text, &len, eol, eol_len);
        }
        if (b & 1) {
            const char *hex = (b & 2) ? hex_up : hex_lo;
            e->kind = IOTSEC_DENY_FINGERPRINT;
            e->len = IOTSEC_FINGERPRINT_LEN;
            put(text, &len, "sha256:", 7);
            for (i = 0; i < IOTSEC_FINGERPRINT_LEN; i++) {
                e->value[i] = u8(&c);
                text[len++] = hex[e->value[i] >> 4];
                text[len++] = hex[e->value[i] & 15u];
            }
        } else {
            e->kind = IOTSEC_DENY_DEVICE_ID;
            e->len = (uint8_t)(1u + (b >> 1) % IOTSEC_DEVICE_ID_MAX);
            put(text, &len, "id:", 3);
            for (i = 0; i < e->len; i++) {
                e->value[i] = (uint8_t)alphabet[u8(&c) % (sizeof alphabet - 1u)];
                text[len++] = (char)e->value[i];
            }
        }
        if (c.i < c.n || !(style & 2))
            put(text, &len, eol, eol_len);
    }

    if (iotsec_denylist_count((const uint8_t *)text, len, &count, &line) != IOTSEC_OK ||
        count != n || line != 0)
        abort();
    if (iotsec_denylist_parse(&dl, st, n, (const uint8_t *)text, len, &line) != IOTSEC_OK)
        abort();
    for (i = 0, distinct = 0; i < n; i++) {
        for (j = 0; j < i; j++)
            if (want[j].kind == want[i].kind && want[j].len == want[i].len &&
                memcmp(want[j].value, want[i].value, want[i].len) == 0)
                break;
        distinct += j == i;
    }
    if (dl.count != distinct)
        abort();
    for (i = 0; i < n; i++) {
        const iotsec_deny_entry *e = &want[i];
        uint8_t near[IOTSEC_DEVICE_ID_MAX];
        if (e->kind == IOTSEC_DENY_FINGERPRINT) {
            if (iotsec_denylist_check(&dl, e->value, NULL, 0, &kind) != IOTSEC_E_REVOKED ||
                kind != IOTSEC_DENY_FINGERPRINT)
                abort();
            memcpy(near, e->value, IOTSEC_FINGERPRINT_LEN);
            near[i % IOTSEC_FINGERPRINT_LEN] ^= 1;
            if (iotsec_denylist_check(&dl, near, NULL, 0, &kind) !=
                (written(want, n, IOTSEC_DENY_FINGERPRINT, near, IOTSEC_FINGERPRINT_LEN)
                     ? IOTSEC_E_REVOKED
                     : IOTSEC_OK))
                abort();
        } else {
            if (iotsec_denylist_check(&dl, NULL, (const char *)e->value, e->len, &kind) !=
                    IOTSEC_E_REVOKED ||
                kind != IOTSEC_DENY_DEVICE_ID)
                abort();
            /* one byte shorter: another id */
            if (e->len > 1 &&
                iotsec_denylist_check(&dl, NULL, (const char *)e->value, e->len - 1u, &kind) !=
                    (written(want, n, IOTSEC_DENY_DEVICE_ID, e->value, e->len - 1u)
                         ? IOTSEC_E_REVOKED
                         : IOTSEC_OK))
                abort();
            /* an id is never taken for a fingerprint and the other way round */
            if (e->len == IOTSEC_FINGERPRINT_LEN &&
                iotsec_denylist_check(&dl, e->value, NULL, 0, &kind) !=
                    (written(want, n, IOTSEC_DENY_FINGERPRINT, e->value, e->len)
                         ? IOTSEC_E_REVOKED
                         : IOTSEC_OK))
                abort();
        }
    }
    return 0;
}
