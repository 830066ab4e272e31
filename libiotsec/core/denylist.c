/* libiotsec — the denylist parser (include/iotsec/denylist.h).
 * Core code: no allocation, every line read through iotsec_reader_line. */
#include "iotsec/denylist.h"

#include <string.h>

#include "iotsec/error.h"
#include "iotsec/reader.h"
#include "iotsec/util.h"

static int starts_with(const uint8_t *line, size_t n, const char *prefix, size_t plen)
{
    return n >= plen && memcmp(line, prefix, plen) == 0;
}

static int is_blank(const uint8_t *line, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (line[i] != ' ' && line[i] != '\t')
            return 0;
    }
    return 1;
}

/* Classify one line. Returns IOTSEC_OK with e->kind set (IOTSEC_DENY_NONE for a blank or
 * comment line) and, when e is an entry, its value filled; or an error. */
static int parse_line(const uint8_t *line, size_t n, iotsec_deny_entry *e)
{
    static const char fp_prefix[] = "sha256:";
    static const char id_prefix[] = "id:";
    const size_t fp_plen = sizeof fp_prefix - 1u, id_plen = sizeof id_prefix - 1u;
    size_t got = 0;
    int rc;

    memset(e, 0, sizeof *e);
    if (is_blank(line, n) || line[0] == '#')
        return IOTSEC_OK;
    if (starts_with(line, n, fp_prefix, fp_plen)) {
        if (n - fp_plen != 2u * IOTSEC_FINGERPRINT_LEN)
            return IOTSEC_E_BAD_ENCODING;
        rc = iotsec_hex_decode((const char *)line + fp_plen, n - fp_plen, e->value,
                               sizeof e->value, &got, 0);
        if (rc != IOTSEC_OK)
            return IOTSEC_E_BAD_ENCODING;
        e->kind = IOTSEC_DENY_FINGERPRINT;
        e->len = (uint8_t)got;
        return IOTSEC_OK;
    }
    if (starts_with(line, n, id_prefix, id_plen)) {
        rc = iotsec_device_id_check(line + id_plen, n - id_plen);
        if (rc != IOTSEC_OK)
            return rc;
        e->kind = IOTSEC_DENY_DEVICE_ID;
        e->len = (uint8_t)(n - id_plen);
        memcpy(e->value, line + id_plen, n - id_plen);
        return IOTSEC_OK;
    }
    return IOTSEC_E_MALFORMED;
}

/* Walk every line; when storage is not NULL, store entries (up to cap). Counts entry lines
 * in *count. */
static int walk(const uint8_t *text, size_t len, iotsec_deny_entry *storage, size_t cap,
                size_t *count, size_t *err_line)
{
    iotsec_reader r;
    iotsec_deny_entry e;
    const uint8_t *line;
    size_t n = 0, lineno = 0, entries = 0;
    int rc;

    if (err_line != NULL)
        *err_line = 0;
    if ((text == NULL && len > 0) || count == NULL)
        return IOTSEC_E_INVALID_ARG;
    iotsec_reader_init(&r, text, len);
    for (;;) {
        lineno++;
        line = iotsec_reader_line(&r, IOTSEC_DENYLIST_LINE_MAX, &n);
        if (line == NULL)
            break;
        rc = parse_line(line, n, &e);
        if (rc != IOTSEC_OK) {
            if (err_line != NULL)
                *err_line = lineno;
            return rc;
        }
        if (e.kind == IOTSEC_DENY_NONE)
            continue;
        if (storage != NULL) {
            if (entries >= cap)
                return IOTSEC_E_BUFFER_TOO_SMALL;
            storage[entries] = e;
        }
        entries++;
    }
    rc = iotsec_reader_error(&r);
    if (rc != IOTSEC_OK) { /* only a line over IOTSEC_DENYLIST_LINE_MAX gets here */
        if (err_line != NULL)
            *err_line = lineno;
        return rc;
    }
    *count = entries;
    return IOTSEC_OK;
}

int iotsec_denylist_count(const uint8_t *text, size_t len, size_t *count, size_t *err_line)
{
    return walk(text, len, NULL, 0, count, err_line);
}

/* Total order: kind, then length, then bytes. */
static int entry_cmp(const iotsec_deny_entry *a, const iotsec_deny_entry *b)
{
    if (a->kind != b->kind)
        return a->kind < b->kind ? -1 : 1;
    if (a->len != b->len)
        return a->len < b->len ? -1 : 1;
    return memcmp(a->value, b->value, a->len);
}

static void sift_down(iotsec_deny_entry *v, size_t root, size_t n)
{
    iotsec_deny_entry tmp;
    size_t child;

    while ((child = 2u * root + 1u) < n) {
        if (child + 1u < n && entry_cmp(&v[child], &v[child + 1u]) < 0)
            child++;
        if (entry_cmp(&v[root], &v[child]) >= 0)
            return;
        tmp = v[root];
        v[root] = v[child];
        v[child] = tmp;
        root = child;
    }
}

/* In-place heapsort: O(n log n), no recursion, no allocation. */
static void sort_entries(iotsec_deny_entry *v, size_t n)
{
    iotsec_deny_entry tmp;
    size_t i;

    if (n < 2)
        return;
    for (i = n / 2u; i-- > 0;)
        sift_down(v, i, n);
    for (i = n - 1u; i > 0; i--) {
        tmp = v[0];
        v[0] = v[i];
        v[i] = tmp;
        sift_down(v, 0, i);
    }
}

int iotsec_denylist_parse(iotsec_denylist *dl, iotsec_deny_entry *storage, size_t cap,
                          const uint8_t *text, size_t len, size_t *err_line)
{
    size_t n = 0, i, out;
    int rc;

    if (err_line != NULL)
        *err_line = 0;
    if (dl == NULL || (storage == NULL && cap > 0))
        return IOTSEC_E_INVALID_ARG;
    /* validate the whole text first, so a bad line is reported even when cap is short */
    rc = walk(text, len, NULL, 0, &n, err_line);
    if (rc != IOTSEC_OK)
        return rc;
    if (n > cap)
        return IOTSEC_E_BUFFER_TOO_SMALL;
    rc = walk(text, len, storage, cap, &n, err_line);
    if (rc != IOTSEC_OK)
        return rc;
    sort_entries(storage, n);
    for (i = 0, out = 0; i < n; i++) {
        if (out > 0 && entry_cmp(&storage[out - 1u], &storage[i]) == 0)
            continue;
        if (out != i)
            storage[out] = storage[i];
        out++;
    }
    dl->entries = storage;
    dl->count = out;
    return IOTSEC_OK;
}

static int contains(const iotsec_denylist *dl, const iotsec_deny_entry *key)
{
    size_t lo = 0, hi = dl->count;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2u;
        int c = entry_cmp(&dl->entries[mid], key);
        if (c == 0)
            return 1;
        if (c < 0)
            lo = mid + 1u;
        else
            hi = mid;
    }
    return 0;
}

int iotsec_denylist_check(const iotsec_denylist *dl, const uint8_t *fingerprint,
                          const char *id, size_t id_len, iotsec_deny_kind *matched)
{
    iotsec_deny_entry key;

    if (matched != NULL)
        *matched = IOTSEC_DENY_NONE;
    if (dl == NULL || (id == NULL && id_len > 0) || (dl->entries == NULL && dl->count > 0))
        return IOTSEC_E_INVALID_ARG;
    if (fingerprint != NULL) {
        memset(&key, 0, sizeof key);
        key.kind = IOTSEC_DENY_FINGERPRINT;
        key.len = IOTSEC_FINGERPRINT_LEN;
        memcpy(key.value, fingerprint, IOTSEC_FINGERPRINT_LEN);
        if (contains(dl, &key)) {
            if (matched != NULL)
                *matched = IOTSEC_DENY_FINGERPRINT;
            return IOTSEC_E_REVOKED;
        }
    }
    /* an id that is not a valid device id cannot be on the list */
    if (id_len > 0 && id_len <= IOTSEC_DEVICE_ID_MAX) {
        memset(&key, 0, sizeof key);
        key.kind = IOTSEC_DENY_DEVICE_ID;
        key.len = (uint8_t)id_len;
        memcpy(key.value, id, id_len);
        if (contains(dl, &key)) {
            if (matched != NULL)
                *matched = IOTSEC_DENY_DEVICE_ID;
            return IOTSEC_E_REVOKED;
        }
    }
    return IOTSEC_OK;
}
