/* libiotsec — revocation sets and the hot-reload holder (include/iotsec/revocation.h). */
#include "iotsec/revocation.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "iotsec/error.h"
#include "iotsec/file.h"
#include "iotsec/util.h"
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
    /* CRL monotonicity */
    uint8_t issuer[IOTSEC_CRL_ISSUER_LEN];          /* SHA-256 of the CA subject's DER */
    iotsec_crl_floor floors[IOTSEC_CRL_FLOORS_MAX]; /* set with iotsec_revocation_set_crl_floor */
    size_t n_floors;
    size_t n_crls;         /* CRLs added */
    int have_newest;       /* newest: the newest CRL added (its position), newest_index its */
    iotsec_crl_floor newest; /* 0-based rank among the CRLs added */
    size_t newest_index;
    char refusal[IOTSEC_REVOCATION_DETAIL_MAX]; /* the last ROLLBACK of seal, or "" */
    const char *floor_what; /* how refusal names the floor: "floor" or "one in force" */
};

struct iotsec_revocation_holder {
    pthread_mutex_t lock;
    iotsec_revocation *current;
    iotsec_crl_floor floors[IOTSEC_CRL_FLOORS_MAX]; /* newest ever in force, per issuer */
    size_t n_floors;
    char refusal[IOTSEC_REVOCATION_DETAIL_MAX]; /* the last ROLLBACK, or "" */
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

/* ---- CRL positions and floors --------------------------------------------------------- */

static int sha256(const uint8_t *in, size_t len, uint8_t out[32])
{
    unsigned int n = 0;
    int ok = EVP_Digest(in, len, out, &n, EVP_sha256(), NULL) == 1 && n == 32u;

    ERR_clear_error();
    return ok ? IOTSEC_OK : IOTSEC_E_BACKEND;
}

/* SHA-256 of a Name's DER: the issuer key of a floor. */
static int name_hash(const X509_NAME *name, uint8_t out[IOTSEC_CRL_ISSUER_LEN])
{
    const unsigned char *der = NULL;
    size_t len = 0;

    if (name == NULL || X509_NAME_get0_der(name, &der, &len) != 1 || der == NULL) {
        ERR_clear_error();
        return IOTSEC_E_BACKEND;
    }
    return sha256(der, len, out);
}

static int all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    size_t i;

    for (i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

static int floor_valid(const iotsec_crl_floor *f)
{
    return f != NULL && (f->has_number == 0 || f->has_number == 1) &&
           (f->has_number || all_zero(f->number, IOTSEC_CRL_NUMBER_LEN));
}

enum { POS_OLDER = -1, POS_SAME = 0, POS_NEWER = 1, POS_CONFLICT = 2 };

/* Where CRL position a stands against floor b of the same issuer (iotsec_crl_floor). */
static int pos_cmp(const iotsec_crl_floor *a, const iotsec_crl_floor *b)
{
    int c;

    if (a->has_number && b->has_number)
        c = memcmp(a->number, b->number, IOTSEC_CRL_NUMBER_LEN);
    else
        c = a->this_update < b->this_update ? -1 : a->this_update > b->this_update;
    if (c < 0)
        return POS_OLDER;
    if (c > 0)
        return POS_NEWER;
    if (!all_zero(a->digest, IOTSEC_CRL_DIGEST_LEN) &&
        !all_zero(b->digest, IOTSEC_CRL_DIGEST_LEN) &&
        memcmp(a->digest, b->digest, IOTSEC_CRL_DIGEST_LEN) != 0)
        return POS_CONFLICT;
    return POS_SAME;
}

static iotsec_crl_floor *floor_find(iotsec_crl_floor *v, size_t n, const uint8_t *issuer)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (memcmp(v[i].issuer, issuer, IOTSEC_CRL_ISSUER_LEN) == 0)
            return &v[i];
    }
    return NULL;
}

/* Raise the floor of f->issuer in v[0..*n) (capacity IOTSEC_CRL_FLOORS_MAX) to f: a newer f
 * replaces it, the same f fills in an unknown digest, an older or conflicting f is ignored
 * (a floor never goes down). IOTSEC_E_INVALID_ARG when a new issuer does not fit. */
static int floor_raise(iotsec_crl_floor *v, size_t *n, const iotsec_crl_floor *f)
{
    iotsec_crl_floor *cur = floor_find(v, *n, f->issuer);

    if (cur == NULL) {
        if (*n >= IOTSEC_CRL_FLOORS_MAX)
            return IOTSEC_E_INVALID_ARG;
        v[(*n)++] = *f;
        return IOTSEC_OK;
    }
    switch (pos_cmp(f, cur)) {
    case POS_NEWER:
        *cur = *f;
        break;
    case POS_SAME:
        if (all_zero(cur->digest, IOTSEC_CRL_DIGEST_LEN))
            memcpy(cur->digest, f->digest, IOTSEC_CRL_DIGEST_LEN);
        break;
    default:
        break;
    }
    return IOTSEC_OK;
}

/* The position of an authenticated CRL: cRLNumber (RFC 5280 §5.2.3), thisUpdate, digest. */
static int crl_position(X509_CRL *crl, const uint8_t issuer[IOTSEC_CRL_ISSUER_LEN],
                        iotsec_crl_floor *out)
{
    ASN1_INTEGER *num;
    unsigned char *der = NULL;
    int crit = -1, n, rc;

    memset(out, 0, sizeof *out);
    memcpy(out->issuer, issuer, IOTSEC_CRL_ISSUER_LEN);
    num = X509_CRL_get_ext_d2i(crl, NID_crl_number, &crit, NULL);
    if (num == NULL && crit != -1) {
        ERR_clear_error();
        return IOTSEC_E_MALFORMED; /* does not decode (crit ≥ 0) or appears twice (-2) */
    }
    if (num != NULL) {
        const unsigned char *p = ASN1_STRING_get0_data(num);
        int len = ASN1_STRING_length(num);
        if (ASN1_STRING_type(num) != V_ASN1_INTEGER) {
            ASN1_INTEGER_free(num);
            return IOTSEC_E_BAD_VALUE; /* negative */
        }
        while (len > 0 && p[0] == 0) {
            p++;
            len--;
        }
        if (len > (int)IOTSEC_CRL_NUMBER_LEN) {
            ASN1_INTEGER_free(num);
            return IOTSEC_E_BAD_VALUE;
        }
        if (len > 0)
            memcpy(out->number + IOTSEC_CRL_NUMBER_LEN - (size_t)len, p, (size_t)len);
        out->has_number = 1;
        ASN1_INTEGER_free(num);
    }
    if (iotsec_x509i_time_to_unix(X509_CRL_get0_lastUpdate(crl), &out->this_update) !=
        IOTSEC_OK)
        return IOTSEC_E_BAD_ENCODING;
    n = i2d_X509_CRL(crl, &der);
    if (n <= 0) {
        ERR_clear_error();
        return IOTSEC_E_BACKEND;
    }
    rc = sha256(der, (size_t)n, out->digest);
    OPENSSL_free(der);
    return rc;
}

/* "CRL number 42" / "CRL number 0x0102…" / "thisUpdate 2026-01-02T03:04:05Z". by_number
 * says which of the two the comparison used. */
static void pos_text(const iotsec_crl_floor *f, int by_number, char *out, size_t cap)
{
    size_t i = 0, k;
    int w;

    if (by_number) {
        while (i < IOTSEC_CRL_NUMBER_LEN && f->number[i] == 0)
            i++;
        if (IOTSEC_CRL_NUMBER_LEN - i <= 8u) {
            uint64_t v = 0;
            for (k = i; k < IOTSEC_CRL_NUMBER_LEN; k++)
                v = (v << 8) | f->number[k];
            (void)snprintf(out, cap, "CRL number %llu", (unsigned long long)v);
        } else {
            w = snprintf(out, cap, "CRL number 0x");
            for (k = i; w > 0 && (size_t)w + 2u < cap && k < IOTSEC_CRL_NUMBER_LEN; k++)
                w += snprintf(out + w, cap - (size_t)w, "%02x", f->number[k]);
        }
    } else {
        time_t t = (time_t)f->this_update;
        struct tm tm;
        char when[32];
        if (f->this_update == (int64_t)t && gmtime_r(&t, &tm) != NULL &&
            strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm) > 0)
            (void)snprintf(out, cap, "thisUpdate %s", when);
        else
            (void)snprintf(out, cap, "thisUpdate %lld", (long long)f->this_update);
    }
}

/* One line naming the issuer (the CA's subject, RFC 2253, and the start of the key), the
 * candidate's position and the floor's, for a refusal (verdict POS_OLDER or POS_CONFLICT). */
static void refusal_text(char *out, size_t cap, X509 *ca, const iotsec_crl_floor *cand,
                         const iotsec_crl_floor *floor, int verdict, const char *what)
{
    char name[96] = "?", a[64], b[64], key[17];
    BIO *bio = BIO_new(BIO_s_mem());
    int by_number = cand->has_number && floor->has_number;
    char *data = NULL;
    long got;

    if (bio != NULL && ca != NULL &&
        X509_NAME_print_ex(bio, X509_get_subject_name(ca), 0, XN_FLAG_RFC2253) >= 0) {
        got = BIO_get_mem_data(bio, &data);
        if (got > 0 && data != NULL) {
            size_t n = (size_t)got < sizeof name - 1u ? (size_t)got : sizeof name - 1u;
            memcpy(name, data, n);
            name[n] = '\0';
        }
    }
    BIO_free(bio);
    ERR_clear_error();
    if (iotsec_hex_encode(cand->issuer, 8, key, sizeof key) != IOTSEC_OK)
        key[0] = '\0';
    pos_text(cand, by_number, a, sizeof a);
    pos_text(floor, by_number, b, sizeof b);
    if (verdict == POS_CONFLICT)
        (void)snprintf(out, cap, "CRL of issuer \"%s\" (name hash %s) refused: %s is the same as "
                       "the %s but the CRL differs (a changed CRL needs a new number)",
                       name, key, a, what);
    else
        (void)snprintf(out, cap, "CRL of issuer \"%s\" (name hash %s) refused: %s is older than "
                       "the %s, %s", name, key, a, what, b);
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
    if (name_hash(X509_get_subject_name(ca), rs->issuer) != IOTSEC_OK) {
        X509_free(ca);
        free(rs);
        return IOTSEC_E_BACKEND;
    }
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
    iotsec_crl_floor pos;
    int64_t stale_after = INT64_MAX;
    long version;
    int rc, v;

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
        rc = crl_position(crl, rs->issuer, &pos);
    if (rc == IOTSEC_OK)
        rc = append_serials(rs, crl);
    if (rc == IOTSEC_OK) {
        if (stale_after < rs->stale_after)
            rs->stale_after = stale_after;
        /* the newest CRL; between two at the same position the larger digest, so the
         * choice does not depend on the order the CRLs came in */
        v = rs->have_newest ? pos_cmp(&pos, &rs->newest) : POS_NEWER;
        if (v == POS_NEWER ||
            (v == POS_CONFLICT &&
             memcmp(pos.digest, rs->newest.digest, IOTSEC_CRL_DIGEST_LEN) > 0)) {
            rs->newest = pos;
            rs->newest_index = rs->n_crls;
            rs->have_newest = 1;
        }
        rs->n_crls++;
    }
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
    /* monotonicity first: a refused seal leaves the set as it was */
    if (rs->have_newest) {
        const iotsec_crl_floor *f = floor_find(rs->floors, rs->n_floors, rs->issuer);
        int v = f != NULL ? pos_cmp(&rs->newest, f) : POS_NEWER;
        if (v == POS_OLDER || v == POS_CONFLICT) {
            refusal_text(rs->refusal, sizeof rs->refusal, rs->ca, &rs->newest, f, v,
                         rs->floor_what != NULL ? rs->floor_what : "floor");
            return IOTSEC_E_ROLLBACK;
        }
    }
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

int iotsec_revocation_set_crl_floor(iotsec_revocation *rs, const iotsec_crl_floor *floor)
{
    int ca_known;

    if (rs == NULL || !floor_valid(floor))
        return IOTSEC_E_INVALID_ARG;
    if (rs->sealed)
        return IOTSEC_E_STATE;
    if (floor_find(rs->floors, rs->n_floors, floor->issuer) == NULL) {
        /* keep a place for the CA's own floor (iotsec_revocation_crl_floors adds it) */
        ca_known = floor_find(rs->floors, rs->n_floors, rs->issuer) != NULL ||
                   memcmp(floor->issuer, rs->issuer, IOTSEC_CRL_ISSUER_LEN) == 0;
        if (rs->n_floors + 1u + (ca_known ? 0u : 1u) > IOTSEC_CRL_FLOORS_MAX)
            return IOTSEC_E_INVALID_ARG;
    }
    return floor_raise(rs->floors, &rs->n_floors, floor);
}

/* The floors of rs merged with its newest CRL (at most IOTSEC_CRL_FLOORS_MAX). */
static size_t set_floors(const iotsec_revocation *rs, iotsec_crl_floor v[IOTSEC_CRL_FLOORS_MAX])
{
    size_t n = rs->n_floors;

    memcpy(v, rs->floors, n * sizeof *v);
    if (rs->have_newest)
        (void)floor_raise(v, &n, &rs->newest); /* fits: set_crl_floor keeps a place */
    return n;
}

static int copy_floors(const iotsec_crl_floor *v, size_t count, iotsec_crl_floor *out,
                       size_t cap, size_t *n)
{
    if (count > cap)
        return IOTSEC_E_BUFFER_TOO_SMALL;
    if (count > 0)
        memcpy(out, v, count * sizeof *v);
    *n = count;
    return IOTSEC_OK;
}

int iotsec_revocation_crl_floors(const iotsec_revocation *rs, iotsec_crl_floor *out,
                                 size_t cap, size_t *n)
{
    iotsec_crl_floor v[IOTSEC_CRL_FLOORS_MAX];

    if (n != NULL)
        *n = 0;
    if (rs == NULL || n == NULL || (out == NULL && cap > 0))
        return IOTSEC_E_INVALID_ARG;
    return copy_floors(v, set_floors(rs, v), out, cap, n);
}

static int copy_text(const char *src, char *text, size_t cap, size_t *len)
{
    size_t n = strlen(src);

    if (n >= cap)
        return IOTSEC_E_BUFFER_TOO_SMALL;
    memcpy(text, src, n + 1u);
    *len = n;
    return IOTSEC_OK;
}

int iotsec_revocation_last_refusal(const iotsec_revocation *rs, char *text, size_t cap,
                                   size_t *len)
{
    if (len != NULL)
        *len = 0;
    if (rs == NULL || text == NULL || len == NULL)
        return IOTSEC_E_INVALID_ARG;
    return copy_text(rs->refusal, text, cap, len);
}

/* ---- floors as text ------------------------------------------------------------------ */

#define FLOOR_MAGIC "crl-floor v1 issuer="

int iotsec_crl_floor_format(const iotsec_crl_floor *floor, char *text, size_t cap, size_t *len)
{
    char issuer[2 * IOTSEC_CRL_ISSUER_LEN + 1], number[2 * IOTSEC_CRL_NUMBER_LEN + 1];
    char digest[2 * IOTSEC_CRL_DIGEST_LEN + 1];
    int w;

    if (len != NULL)
        *len = 0;
    if (!floor_valid(floor) || text == NULL || len == NULL)
        return IOTSEC_E_INVALID_ARG;
    if (iotsec_hex_encode(floor->issuer, IOTSEC_CRL_ISSUER_LEN, issuer, sizeof issuer) !=
            IOTSEC_OK ||
        iotsec_hex_encode(floor->number, IOTSEC_CRL_NUMBER_LEN, number, sizeof number) !=
            IOTSEC_OK ||
        iotsec_hex_encode(floor->digest, IOTSEC_CRL_DIGEST_LEN, digest, sizeof digest) !=
            IOTSEC_OK)
        return IOTSEC_E_INVALID_ARG;
    w = snprintf(text, cap, FLOOR_MAGIC "%s number=%s this_update=%lld digest=%s", issuer,
                 floor->has_number ? number : "-", (long long)floor->this_update, digest);
    if (w < 0 || (size_t)w >= cap) {
        if (cap > 0)
            text[0] = '\0';
        return IOTSEC_E_BUFFER_TOO_SMALL;
    }
    *len = (size_t)w;
    return IOTSEC_OK;
}

/* Read "<word><hex of n bytes>" at *p (exact, lowercase) and advance. */
static int take_hex(const char **p, const char *end, const char *word, uint8_t *out, size_t n)
{
    size_t wl = strlen(word), got = 0;

    if ((size_t)(end - *p) < wl + 2u * n || memcmp(*p, word, wl) != 0)
        return 0;
    *p += wl;
    if (iotsec_hex_decode(*p, 2u * n, out, n, &got, IOTSEC_HEX_LOWER_ONLY) != IOTSEC_OK ||
        got != n)
        return 0;
    *p += 2u * n;
    return 1;
}

int iotsec_crl_floor_parse(const char *text, size_t len, iotsec_crl_floor *out)
{
    iotsec_crl_floor f;
    const char *p = text, *end, *digits;
    uint64_t mag = 0;
    int neg = 0;

    if (text == NULL || out == NULL)
        return IOTSEC_E_INVALID_ARG;
    end = text + len;
    if (len > 0 && end[-1] == '\n') {
        end--;
        if (end > text && end[-1] == '\r')
            end--;
    }
    memset(&f, 0, sizeof f);
    if (!take_hex(&p, end, FLOOR_MAGIC, f.issuer, IOTSEC_CRL_ISSUER_LEN))
        return IOTSEC_E_BAD_ENCODING;
    if ((size_t)(end - p) >= 9u && memcmp(p, " number=-", 9) == 0) {
        p += 9;
    } else if (take_hex(&p, end, " number=", f.number, IOTSEC_CRL_NUMBER_LEN)) {
        f.has_number = 1;
    } else {
        return IOTSEC_E_BAD_ENCODING;
    }
    if ((size_t)(end - p) < 13u || memcmp(p, " this_update=", 13) != 0)
        return IOTSEC_E_BAD_ENCODING;
    p += 13;
    if (p < end && *p == '-') {
        neg = 1;
        p++;
    }
    for (digits = p; p < end && *p >= '0' && *p <= '9'; p++)
        ;
    if (p == digits ||
        iotsec_parse_u64_dec(digits, (size_t)(p - digits),
                             neg ? (uint64_t)INT64_MAX + 1u : (uint64_t)INT64_MAX,
                             &mag) != IOTSEC_OK ||
        (neg && mag == 0))
        return IOTSEC_E_BAD_ENCODING;
    f.this_update = neg ? (mag == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)mag)
                        : (int64_t)mag;
    if (!take_hex(&p, end, " digest=", f.digest, IOTSEC_CRL_DIGEST_LEN) || p != end)
        return IOTSEC_E_BAD_ENCODING;
    *out = f;
    return IOTSEC_OK;
}

/* iotsec_revocation_load with floors set on the new set before it is sealed; on a refused
 * seal (IOTSEC_E_ROLLBACK) the reason is copied to refusal (cap IOTSEC_REVOCATION_DETAIL_MAX),
 * if given. */
static int load_floored(iotsec_revocation **out, const iotsec_revocation_config *cfg,
                        const iotsec_crl_floor *floors, size_t n_floors, int64_t now,
                        iotsec_revocation_error *err, char *refusal)
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
    if (rc == IOTSEC_OK && refusal != NULL)
        rs->floor_what = "one in force"; /* the floors are a holder's */
    for (i = 0; rc == IOTSEC_OK && i < n_floors; i++)
        rc = iotsec_revocation_set_crl_floor(rs, &floors[i]);
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
        if (rc == IOTSEC_E_ROLLBACK) {
            path = cfg->crl_paths[rs->newest_index];
            if (refusal != NULL)
                memcpy(refusal, rs->refusal, sizeof rs->refusal);
        }
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

int iotsec_revocation_load(iotsec_revocation **out, const iotsec_revocation_config *cfg,
                           int64_t now, iotsec_revocation_error *err)
{
    return load_floored(out, cfg, NULL, 0, now, err, NULL);
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
    h->n_floors = set_floors(initial, h->floors);
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

/* Under h->lock: is next's newest CRL at least as new as h's floor for its issuer? Then
 * merged[0..*n_merged) gets h's floors raised by next's. Else IOTSEC_E_ROLLBACK with the
 * reason in h->refusal. */
static int holder_admit(iotsec_revocation_holder *h, const iotsec_revocation *next,
                        iotsec_crl_floor merged[IOTSEC_CRL_FLOORS_MAX], size_t *n_merged)
{
    iotsec_crl_floor nf[IOTSEC_CRL_FLOORS_MAX];
    const iotsec_crl_floor *f;
    size_t n = h->n_floors, nn, i;
    int v, rc;

    if (next->have_newest) {
        f = floor_find(h->floors, h->n_floors, next->newest.issuer);
        v = f != NULL ? pos_cmp(&next->newest, f) : POS_NEWER;
        if (v == POS_OLDER || v == POS_CONFLICT) {
            refusal_text(h->refusal, sizeof h->refusal, next->ca, &next->newest, f, v,
                         "one in force");
            return IOTSEC_E_ROLLBACK;
        }
    }
    memcpy(merged, h->floors, n * sizeof *merged);
    nn = set_floors(next, nf);
    for (i = 0; i < nn; i++) {
        rc = floor_raise(merged, &n, &nf[i]);
        if (rc != IOTSEC_OK)
            return rc;
    }
    *n_merged = n;
    return IOTSEC_OK;
}

int iotsec_revocation_holder_swap(iotsec_revocation_holder *h, iotsec_revocation *next,
                                  int64_t now, const iotsec_peer_identity *open, size_t n_open,
                                  uint8_t *revoked, size_t *n_revoked)
{
    iotsec_crl_floor merged[IOTSEC_CRL_FLOORS_MAX];
    iotsec_revocation *old;
    iotsec_revocation_reason why;
    uint8_t *mask = NULL;
    size_t i, hits = 0, n_merged = 0;
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
    /* the verdicts go to a scratch mask: revoked is written only if the swap happens */
    if (n_open > 0 && (mask = malloc(n_open)) == NULL)
        return IOTSEC_E_NO_MEMORY;
    for (i = 0; i < n_open; i++) {
        rc = iotsec_revocation_check(next, &open[i], now, &why);
        mask[i] = (uint8_t)(rc == IOTSEC_E_REVOKED ? why : IOTSEC_REVOKED_NONE);
        hits += mask[i] != IOTSEC_REVOKED_NONE;
    }
    pthread_mutex_lock(&h->lock);
    rc = holder_admit(h, next, merged, &n_merged);
    if (rc == IOTSEC_OK) {
        old = h->current;
        h->current = iotsec_revocation_ref(next);
        memcpy(h->floors, merged, n_merged * sizeof *merged);
        h->n_floors = n_merged;
    }
    pthread_mutex_unlock(&h->lock);
    if (rc == IOTSEC_OK) {
        iotsec_revocation_unref(old);
        if (n_open > 0)
            memcpy(revoked, mask, n_open);
        if (n_revoked != NULL)
            *n_revoked = hits;
    }
    free(mask);
    return rc;
}

int iotsec_revocation_reload(iotsec_revocation_holder *h, const iotsec_revocation_config *cfg,
                             int64_t now, const iotsec_peer_identity *open, size_t n_open,
                             uint8_t *revoked, size_t *n_revoked, iotsec_revocation_error *err)
{
    iotsec_crl_floor floors[IOTSEC_CRL_FLOORS_MAX];
    char refusal[IOTSEC_REVOCATION_DETAIL_MAX];
    iotsec_revocation *next = NULL;
    size_t n_floors;
    int rc;

    if (h == NULL || (n_open > 0 && (open == NULL || revoked == NULL)))
        return IOTSEC_E_INVALID_ARG;
    pthread_mutex_lock(&h->lock);
    n_floors = h->n_floors;
    memcpy(floors, h->floors, n_floors * sizeof *floors);
    pthread_mutex_unlock(&h->lock);
    refusal[0] = '\0';
    rc = load_floored(&next, cfg, floors, n_floors, now, err, refusal);
    if (rc == IOTSEC_E_ROLLBACK) {
        pthread_mutex_lock(&h->lock);
        memcpy(h->refusal, refusal, sizeof refusal);
        pthread_mutex_unlock(&h->lock);
    }
    if (rc != IOTSEC_OK)
        return rc;
    rc = iotsec_revocation_holder_swap(h, next, now, open, n_open, revoked, n_revoked);
    iotsec_revocation_unref(next);
    return rc;
}

int iotsec_revocation_holder_crl_floors(iotsec_revocation_holder *h, iotsec_crl_floor *out,
                                        size_t cap, size_t *n)
{
    int rc;

    if (n != NULL)
        *n = 0;
    if (h == NULL || n == NULL || (out == NULL && cap > 0))
        return IOTSEC_E_INVALID_ARG;
    pthread_mutex_lock(&h->lock);
    rc = copy_floors(h->floors, h->n_floors, out, cap, n);
    pthread_mutex_unlock(&h->lock);
    return rc;
}

int iotsec_revocation_holder_set_crl_floor(iotsec_revocation_holder *h,
                                           const iotsec_crl_floor *floor)
{
    const iotsec_revocation *cur;
    size_t n;
    int rc = IOTSEC_OK, v;

    if (h == NULL || !floor_valid(floor))
        return IOTSEC_E_INVALID_ARG;
    pthread_mutex_lock(&h->lock);
    cur = h->current;
    if (cur->have_newest &&
        memcmp(cur->newest.issuer, floor->issuer, IOTSEC_CRL_ISSUER_LEN) == 0) {
        v = pos_cmp(&cur->newest, floor);
        if (v == POS_OLDER || v == POS_CONFLICT) {
            refusal_text(h->refusal, sizeof h->refusal, cur->ca, &cur->newest, floor, v,
                         "floor");
            rc = IOTSEC_E_ROLLBACK;
        }
    }
    if (rc == IOTSEC_OK) {
        n = h->n_floors;
        rc = floor_raise(h->floors, &n, floor);
        h->n_floors = n;
    }
    pthread_mutex_unlock(&h->lock);
    return rc;
}

int iotsec_revocation_holder_last_refusal(iotsec_revocation_holder *h, char *text, size_t cap,
                                          size_t *len)
{
    int rc;

    if (len != NULL)
        *len = 0;
    if (h == NULL || text == NULL || len == NULL)
        return IOTSEC_E_INVALID_ARG;
    pthread_mutex_lock(&h->lock);
    rc = copy_text(h->refusal, text, cap, len);
    pthread_mutex_unlock(&h->lock);
    return rc;
}
