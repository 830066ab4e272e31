/* libiotsec — revocation sets and the hot-reload holder (include/iotsec/revocation.h). */
#include "iotsec/revocation.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "iotsec/error.h"
#include "iotsec/file.h"
#include "x509_internal.h"

#define DENYLIST_FILE_MAX (64u * 1024u * 1024u)
/* Lookups search a sample of every SAMPLE_STRIDE-th serial first (1/16 of the keys: small
 * enough to stay in cache for a million serials), then one block of SAMPLE_STRIDE keys. */
#define SAMPLE_STRIDE 16u

typedef uint8_t serial_key[IOTSEC_SERIAL_LEN];

struct iotsec_revocation {
    int refs;     /* atomic */
    int sealed;   /* 0 while building; 1 = immutable */
    X509 *ca;
    uint32_t grace;
    int64_t stale_after;  /* earliest nextUpdate + grace; INT64_MAX without CRLs */
    serial_key *serials;  /* sorted and distinct once sealed */
    size_t n_serials, cap_serials;
    serial_key *sample;   /* serials[0], serials[B], serials[2B]… (B = SAMPLE_STRIDE) */
    size_t n_sample;
    uint8_t *deny_text;   /* every added denylist, validated, "\n"-joined (until sealed) */
    size_t deny_text_len;
    iotsec_deny_entry *deny_entries; /* parsed at seal */
    iotsec_denylist deny;
};

struct iotsec_revocation_holder {
    pthread_mutex_t lock;
    iotsec_revocation *current;
};

const char *iotsec_revocation_reason_name(int reason)
{
    switch (reason) {
    case IOTSEC_REVOKED_NONE: return "none";
    case IOTSEC_REVOKED_CRL: return "crl";
    case IOTSEC_REVOKED_FINGERPRINT: return "denylist-fingerprint";
    case IOTSEC_REVOKED_DEVICE_ID: return "denylist-id";
    default: return "?";
    }
}

/* ---- building ------------------------------------------------------------------------ */

int iotsec_revocation_new(iotsec_revocation **out, X509 *ca, uint32_t grace_seconds)
{
    iotsec_revocation *rs;

    if (out == NULL || ca == NULL)
        return IOTSEC_E_INVALID_ARG;
    *out = NULL;
    rs = calloc(1, sizeof *rs);
    if (rs == NULL)
        return IOTSEC_E_NO_MEMORY;
    if (X509_up_ref(ca) != 1) {
        free(rs);
        return IOTSEC_E_BACKEND;
    }
    rs->refs = 1;
    rs->ca = ca;
    rs->grace = grace_seconds;
    rs->stale_after = INT64_MAX;
    *out = rs;
    return IOTSEC_OK;
}

static void rs_free(iotsec_revocation *rs)
{
    X509_free(rs->ca);
    free(rs->serials);
    free(rs->sample);
    free(rs->deny_text);
    free(rs->deny_entries);
    free(rs);
}

iotsec_revocation *iotsec_revocation_ref(iotsec_revocation *rs)
{
    if (rs != NULL)
        __atomic_add_fetch(&rs->refs, 1, __ATOMIC_RELAXED);
    return rs;
}

void iotsec_revocation_unref(iotsec_revocation *rs)
{
    if (rs != NULL && __atomic_sub_fetch(&rs->refs, 1, __ATOMIC_ACQ_REL) == 0)
        rs_free(rs);
}

/* RFC 5280 §5.2, §5.3: which extensions this implementation processes. Any critical one
 * changes the CRL's scope (delta CRL, distribution point, indirect CRL), which a flat
 * serial set cannot honour, so it is refused. */
static int check_extensions(X509_CRL *crl)
{
    const STACK_OF(X509_REVOKED) *revoked = X509_CRL_get_REVOKED(crl);
    int i, j;

    for (i = 0; i < X509_CRL_get_ext_count(crl); i++) {
        if (X509_EXTENSION_get_critical(X509_CRL_get_ext(crl, i)))
            return IOTSEC_E_UNKNOWN_CRITICAL;
    }
    for (i = 0; i < sk_X509_REVOKED_num(revoked); i++) {
        const X509_REVOKED *r = sk_X509_REVOKED_value(revoked, i);
        for (j = 0; j < X509_REVOKED_get_ext_count(r); j++) {
            if (X509_EXTENSION_get_critical(X509_REVOKED_get_ext(r, j)))
                return IOTSEC_E_UNKNOWN_CRITICAL;
        }
    }
    return IOTSEC_OK;
}

/* Authenticate crl against ca (issuer name, cRLSign, signature). */
static int crl_authenticate(X509_CRL *crl, X509 *ca)
{
    EVP_PKEY *pub;

    if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(ca)) != 0)
        return IOTSEC_E_UNTRUSTED;
    if ((X509_get_extension_flags(ca) & EXFLAG_KUSAGE) != 0 &&
        (X509_get_key_usage(ca) & KU_CRL_SIGN) == 0)
        return IOTSEC_E_UNTRUSTED;
    pub = X509_get0_pubkey(ca);
    if (pub == NULL || X509_CRL_verify(crl, pub) != 1) {
        ERR_clear_error();
        return IOTSEC_E_UNTRUSTED;
    }
    return IOTSEC_OK;
}

/* thisUpdate ≤ now ≤ nextUpdate + grace; *stale_after gets nextUpdate + grace. */
static int crl_freshness(const X509_CRL *crl, int64_t now, uint32_t grace, int64_t *stale_after)
{
    int64_t this_update, next_update;
    const ASN1_TIME *nu = X509_CRL_get0_nextUpdate(crl);

    if (iotsec_x509i_time_to_unix(X509_CRL_get0_lastUpdate(crl), &this_update) != IOTSEC_OK)
        return IOTSEC_E_BAD_ENCODING;
    if (nu == NULL)
        return IOTSEC_E_MISSING_FIELD; /* RFC 5280 §5.1.2.5: conforming issuers include it */
    if (iotsec_x509i_time_to_unix(nu, &next_update) != IOTSEC_OK)
        return IOTSEC_E_BAD_ENCODING;
    if (this_update > now)
        return IOTSEC_E_NOT_YET_VALID;
    if (next_update > INT64_MAX - (int64_t)grace)
        next_update = INT64_MAX - (int64_t)grace;
    if (now > next_update + (int64_t)grace)
        return IOTSEC_E_EXPIRED;
    *stale_after = next_update + (int64_t)grace;
    return IOTSEC_OK;
}

/* Append the CRL's serials to rs (all or none). */
static int append_serials(iotsec_revocation *rs, X509_CRL *crl)
{
    const STACK_OF(X509_REVOKED) *revoked = X509_CRL_get_REVOKED(crl);
    size_t n = (size_t)(revoked != NULL ? sk_X509_REVOKED_num(revoked) : 0), i, need;
    serial_key *grown;
    int rc;

    if (n > SIZE_MAX / sizeof(serial_key) - rs->n_serials)
        return IOTSEC_E_NO_MEMORY;
    need = rs->n_serials + n;
    if (need > rs->cap_serials) {
        grown = realloc(rs->serials, need * sizeof(serial_key));
        if (grown == NULL)
            return IOTSEC_E_NO_MEMORY;
        rs->serials = grown;
        rs->cap_serials = need;
    }
    for (i = 0; i < n; i++) {
        const X509_REVOKED *r = sk_X509_REVOKED_value(revoked, (int)i);
        rc = iotsec_x509i_serial_key(X509_REVOKED_get0_serialNumber(r),
                                     rs->serials[rs->n_serials + i]);
        if (rc != IOTSEC_OK)
            return rc; /* n_serials unchanged: the partial copy is ignored */
    }
    rs->n_serials = need;
    return IOTSEC_OK;
}

int iotsec_revocation_add_crl(iotsec_revocation *rs, const uint8_t *data, size_t len,
                              int64_t now)
{
    X509_CRL *crl = NULL;
    int64_t stale_after = INT64_MAX;
    long version;
    int rc;

    if (rs == NULL || data == NULL || len == 0)
        return IOTSEC_E_INVALID_ARG;
    if (rs->sealed)
        return IOTSEC_E_STATE;
    /* parse → authenticate → freshness → policy (scope) → commit */
    rc = iotsec_x509_crl_decode(data, len, &crl);
    if (rc != IOTSEC_OK)
        return rc;
    version = X509_CRL_get_version(crl);
    if (version != 0 && version != 1)
        rc = IOTSEC_E_BAD_VERSION;
    if (rc == IOTSEC_OK)
        rc = crl_authenticate(crl, rs->ca);
    if (rc == IOTSEC_OK)
        rc = crl_freshness(crl, now, rs->grace, &stale_after);
    if (rc == IOTSEC_OK)
        rc = check_extensions(crl);
    if (rc == IOTSEC_OK)
        rc = append_serials(rs, crl);
    if (rc == IOTSEC_OK && stale_after < rs->stale_after)
        rs->stale_after = stale_after;
    X509_CRL_free(crl);
    return rc;
}

int iotsec_revocation_add_crl_file(iotsec_revocation *rs, const char *path, int64_t now)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc;

    if (rs == NULL || path == NULL)
        return IOTSEC_E_INVALID_ARG;
    if (rs->sealed)
        return IOTSEC_E_STATE;
    rc = iotsec_file_read(path, IOTSEC_X509_FILE_MAX, &buf, &len);
    if (rc == IOTSEC_OK)
        rc = len == 0 ? IOTSEC_E_BAD_ENCODING : iotsec_revocation_add_crl(rs, buf, len, now);
    free(buf);
    return rc;
}

int iotsec_revocation_add_denylist(iotsec_revocation *rs, const uint8_t *text, size_t len,
                                   size_t *err_line)
{
    size_t count = 0, total;
    uint8_t *grown;
    int rc;

    if (err_line != NULL)
        *err_line = 0;
    if (rs == NULL || (text == NULL && len > 0))
        return IOTSEC_E_INVALID_ARG;
    if (rs->sealed)
        return IOTSEC_E_STATE;
    rc = iotsec_denylist_count(text, len, &count, err_line);
    if (rc != IOTSEC_OK || len == 0)
        return rc;
    /* keep the validated text; seal parses all of it in one sorted list */
    if (len > SIZE_MAX - 1u - rs->deny_text_len)
        return IOTSEC_E_NO_MEMORY;
    total = rs->deny_text_len + len + 1u;
    grown = realloc(rs->deny_text, total);
    if (grown == NULL)
        return IOTSEC_E_NO_MEMORY;
    memcpy(grown + rs->deny_text_len, text, len);
    grown[total - 1u] = '\n';
    rs->deny_text = grown;
    rs->deny_text_len = total;
    return IOTSEC_OK;
}

int iotsec_revocation_add_denylist_file(iotsec_revocation *rs, const char *path,
                                        size_t *err_line)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc;

    if (err_line != NULL)
        *err_line = 0;
    if (rs == NULL || path == NULL)
        return IOTSEC_E_INVALID_ARG;
    if (rs->sealed)
        return IOTSEC_E_STATE;
    rc = iotsec_file_read(path, DENYLIST_FILE_MAX, &buf, &len);
    if (rc == IOTSEC_OK)
        rc = iotsec_revocation_add_denylist(rs, buf, len, err_line);
    free(buf);
    return rc;
}

static int serial_cmp(const void *a, const void *b)
{
    return memcmp(a, b, IOTSEC_SERIAL_LEN);
}

static int strictly_sorted(const uint8_t *v, size_t n)
{
    size_t i;

    for (i = 1; i < n; i++) {
        if (memcmp(v + (i - 1u) * IOTSEC_SERIAL_LEN, v + i * IOTSEC_SERIAL_LEN,
                   IOTSEC_SERIAL_LEN) >= 0)
            return 0;
    }
    return 1;
}

int iotsec_revocation_seal(iotsec_revocation *rs)
{
    size_t count = 0, i, out;
    int rc;

    if (rs == NULL)
        return IOTSEC_E_INVALID_ARG;
    if (rs->sealed)
        return IOTSEC_E_STATE;
    if (rs->deny_text_len > 0) {
        rc = iotsec_denylist_count(rs->deny_text, rs->deny_text_len, &count, NULL);
        if (rc != IOTSEC_OK)
            return rc;
        if (count > 0) {
            rs->deny_entries = calloc(count, sizeof *rs->deny_entries);
            if (rs->deny_entries == NULL)
                return IOTSEC_E_NO_MEMORY;
        }
        rc = iotsec_denylist_parse(&rs->deny, rs->deny_entries, count, rs->deny_text,
                                   rs->deny_text_len, NULL);
        if (rc != IOTSEC_OK) {
            free(rs->deny_entries);
            rs->deny_entries = NULL;
            return rc;
        }
        free(rs->deny_text);
        rs->deny_text = NULL;
        rs->deny_text_len = 0;
    }
    if (rs->n_serials > 1 && !strictly_sorted((const uint8_t *)rs->serials, rs->n_serials)) {
        /* CRL writers sort their entries (RFC 5280 does not require it); several CRLs or an
         * unsorted one need a sort, then duplicates go */
        qsort(rs->serials, rs->n_serials, sizeof(serial_key), serial_cmp);
        for (i = 1, out = 1; i < rs->n_serials; i++) {
            if (memcmp(rs->serials[out - 1u], rs->serials[i], IOTSEC_SERIAL_LEN) != 0) {
                if (out != i)
                    memcpy(rs->serials[out], rs->serials[i], IOTSEC_SERIAL_LEN);
                out++;
            }
        }
        rs->n_serials = out;
    }
    if (rs->n_serials > 0) {
        rs->n_sample = (rs->n_serials + SAMPLE_STRIDE - 1u) / SAMPLE_STRIDE;
        rs->sample = malloc(rs->n_sample * sizeof(serial_key));
        if (rs->sample == NULL)
            return IOTSEC_E_NO_MEMORY; /* sorting again on a retry is harmless */
        for (i = 0; i < rs->n_sample; i++)
            memcpy(rs->sample[i], rs->serials[i * SAMPLE_STRIDE], IOTSEC_SERIAL_LEN);
    }
    rs->sealed = 1;
    return IOTSEC_OK;
}

int iotsec_revocation_load(iotsec_revocation **out, const iotsec_revocation_config *cfg,
                           int64_t now, iotsec_revocation_error *err)
{
    iotsec_revocation *rs = NULL;
    size_t i, line = 0;
    const char *path = NULL;
    int rc;

    if (err != NULL) {
        err->path = NULL;
        err->line = 0;
    }
    if (out == NULL || cfg == NULL || (cfg->crl_paths == NULL && cfg->crl_count > 0))
        return IOTSEC_E_INVALID_ARG;
    *out = NULL;
    rc = iotsec_revocation_new(&rs, cfg->ca, cfg->grace_seconds);
    for (i = 0; rc == IOTSEC_OK && i < cfg->crl_count; i++) {
        path = cfg->crl_paths[i];
        rc = iotsec_revocation_add_crl_file(rs, path, now);
    }
    if (rc == IOTSEC_OK && cfg->denylist_path != NULL) {
        path = cfg->denylist_path;
        rc = iotsec_revocation_add_denylist_file(rs, path, &line);
    }
    if (rc == IOTSEC_OK) {
        path = NULL;
        rc = iotsec_revocation_seal(rs);
    }
    if (rc != IOTSEC_OK) {
        iotsec_revocation_unref(rs);
        if (err != NULL) {
            err->path = path;
            err->line = line;
        }
        return rc;
    }
    *out = rs;
    return IOTSEC_OK;
}

/* ---- checking ------------------------------------------------------------------------ */

static uint64_t load_be64(const uint8_t *p)
{
    return ((uint64_t)p[0] << 56) | ((uint64_t)p[1] << 48) | ((uint64_t)p[2] << 40) |
           ((uint64_t)p[3] << 32) | ((uint64_t)p[4] << 24) | ((uint64_t)p[5] << 16) |
           ((uint64_t)p[6] << 8) | (uint64_t)p[7];
}

/* memcmp order of two keys, without a library call: 8 + 8 + 4 bytes as big-endian words. */
static int key_cmp(const uint8_t *a, const uint8_t *b)
{
    uint64_t x = load_be64(a), y = load_be64(b);

    if (x == y) {
        x = load_be64(a + 8);
        y = load_be64(b + 8);
        if (x == y) {
            x = load_be64(a + 12); /* bytes 12..19; 12..15 are equal by now */
            y = load_be64(b + 12);
        }
    }
    return x < y ? -1 : x > y;
}

/* Binary search of key in the n sorted keys at v: *equal = 1 and its index if present, else
 * the number of keys below key. */
static size_t last_le(const uint8_t *v, size_t n, const uint8_t key[IOTSEC_SERIAL_LEN],
                      int *equal)
{
    size_t lo = 0, hi = n; /* keys below lo are < key, keys from hi on are > key */

    *equal = 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2u;
        int c = key_cmp(v + mid * IOTSEC_SERIAL_LEN, key);
        if (c == 0) {
            *equal = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1u;
        else
            hi = mid;
    }
    return lo;
}

static int serial_listed(const iotsec_revocation *rs, const uint8_t key[IOTSEC_SERIAL_LEN])
{
    size_t block, first, n;
    int equal;

    if (rs->n_serials == 0)
        return 0;
    /* which block: the last sample ≤ key */
    block = last_le((const uint8_t *)rs->sample, rs->n_sample, key, &equal);
    if (equal)
        return 1;
    if (block == 0)
        return 0; /* below the smallest serial */
    first = (block - 1u) * SAMPLE_STRIDE;
    n = rs->n_serials - first < SAMPLE_STRIDE ? rs->n_serials - first : SAMPLE_STRIDE;
    (void)last_le((const uint8_t *)rs->serials[first], n, key, &equal);
    return equal;
}

int iotsec_revocation_check_serial(const iotsec_revocation *rs,
                                   const uint8_t serial[IOTSEC_SERIAL_LEN])
{
    if (rs == NULL || serial == NULL)
        return IOTSEC_E_INVALID_ARG;
    if (!rs->sealed)
        return IOTSEC_E_STATE;
    return serial_listed(rs, serial) ? IOTSEC_E_REVOKED : IOTSEC_OK;
}

int iotsec_revocation_check(const iotsec_revocation *rs, const iotsec_peer_identity *id,
                            int64_t now, iotsec_revocation_reason *reason)
{
    iotsec_deny_kind kind = IOTSEC_DENY_NONE;
    int rc;

    if (reason != NULL)
        *reason = IOTSEC_REVOKED_NONE;
    if (rs == NULL || id == NULL || id->device_id_len > IOTSEC_DEVICE_ID_MAX)
        return IOTSEC_E_INVALID_ARG;
    if (!rs->sealed)
        return IOTSEC_E_STATE;
    /* a listed certificate is revoked whatever the age of the list that says so */
    if (serial_listed(rs, id->serial)) {
        if (reason != NULL)
            *reason = IOTSEC_REVOKED_CRL;
        return IOTSEC_E_REVOKED;
    }
    if (rs->deny.count > 0) {
        rc = iotsec_denylist_check(&rs->deny, id->fingerprint, id->device_id,
                                   id->device_id_len, &kind);
        if (rc != IOTSEC_OK) {
            if (reason != NULL && rc == IOTSEC_E_REVOKED)
                *reason = kind == IOTSEC_DENY_FINGERPRINT ? IOTSEC_REVOKED_FINGERPRINT
                                                          : IOTSEC_REVOKED_DEVICE_ID;
            return rc;
        }
    }
    /* not listed: only as good as the freshness of the CRLs (fail closed when stale) */
    if (now > rs->stale_after)
        return IOTSEC_E_EXPIRED;
    return IOTSEC_OK;
}

size_t iotsec_revocation_serial_count(const iotsec_revocation *rs)
{
    return rs != NULL ? rs->n_serials : 0;
}

size_t iotsec_revocation_denylist_count(const iotsec_revocation *rs)
{
    return rs != NULL ? rs->deny.count : 0;
}

int64_t iotsec_revocation_stale_after(const iotsec_revocation *rs)
{
    return rs != NULL ? rs->stale_after : 0;
}

/* ---- holder -------------------------------------------------------------------------- */

int iotsec_revocation_holder_new(iotsec_revocation_holder **out, iotsec_revocation *initial)
{
    iotsec_revocation_holder *h;

    if (out == NULL || initial == NULL)
        return IOTSEC_E_INVALID_ARG;
    *out = NULL;
    if (!initial->sealed)
        return IOTSEC_E_STATE;
    h = calloc(1, sizeof *h);
    if (h == NULL)
        return IOTSEC_E_NO_MEMORY;
    if (pthread_mutex_init(&h->lock, NULL) != 0) {
        free(h);
        return IOTSEC_E_NO_MEMORY;
    }
    h->current = iotsec_revocation_ref(initial);
    *out = h;
    return IOTSEC_OK;
}

void iotsec_revocation_holder_free(iotsec_revocation_holder *h)
{
    if (h == NULL)
        return;
    iotsec_revocation_unref(h->current);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

iotsec_revocation *iotsec_revocation_holder_get(iotsec_revocation_holder *h)
{
    iotsec_revocation *rs;

    if (h == NULL)
        return NULL;
    pthread_mutex_lock(&h->lock);
    rs = iotsec_revocation_ref(h->current);
    pthread_mutex_unlock(&h->lock);
    return rs;
}

int iotsec_revocation_holder_swap(iotsec_revocation_holder *h, iotsec_revocation *next,
                                  int64_t now, const iotsec_peer_identity *open, size_t n_open,
                                  uint8_t *revoked, size_t *n_revoked)
{
    iotsec_revocation *old;
    iotsec_revocation_reason why;
    size_t i, hits = 0;
    int rc;

    if (h == NULL || next == NULL || (n_open > 0 && (open == NULL || revoked == NULL)))
        return IOTSEC_E_INVALID_ARG;
    if (!next->sealed)
        return IOTSEC_E_STATE;
    if (now > next->stale_after)
        return IOTSEC_E_EXPIRED;
    for (i = 0; i < n_open; i++) {
        if (open[i].device_id_len > IOTSEC_DEVICE_ID_MAX)
            return IOTSEC_E_INVALID_ARG;
    }
    for (i = 0; i < n_open; i++) {
        rc = iotsec_revocation_check(next, &open[i], now, &why);
        revoked[i] = (uint8_t)(rc == IOTSEC_E_REVOKED ? why : IOTSEC_REVOKED_NONE);
        hits += revoked[i] != IOTSEC_REVOKED_NONE;
    }
    iotsec_revocation_ref(next);
    pthread_mutex_lock(&h->lock);
    old = h->current;
    h->current = next;
    pthread_mutex_unlock(&h->lock);
    iotsec_revocation_unref(old);
    if (n_revoked != NULL)
        *n_revoked = hits;
    return IOTSEC_OK;
}

int iotsec_revocation_reload(iotsec_revocation_holder *h, const iotsec_revocation_config *cfg,
                             int64_t now, const iotsec_peer_identity *open, size_t n_open,
                             uint8_t *revoked, size_t *n_revoked, iotsec_revocation_error *err)
{
    iotsec_revocation *next = NULL;
    int rc;

    if (h == NULL || (n_open > 0 && (open == NULL || revoked == NULL)))
        return IOTSEC_E_INVALID_ARG;
    rc = iotsec_revocation_load(&next, cfg, now, err);
    if (rc != IOTSEC_OK)
        return rc;
    rc = iotsec_revocation_holder_swap(h, next, now, open, n_open, revoked, n_revoked);
    iotsec_revocation_unref(next);
    return rc;
}
