/* libiotsec — device certificate chains: verification under the library's own CA rules,
 * with a refusal that names the check that failed (include/iotsec/x509.h, docs/DESIGN.md
 * §7.1).
 *
 * OpenSSL builds the chain and checks signatures, validity periods, the TLS-client purpose,
 * path lengths and name constraints (X509_verify_cert, without X509_V_FLAG_X509_STRICT,
 * with X509_V_FLAG_PARTIAL_CHAIN so that a pinned intermediate can be the anchor). Then the
 * library checks what strict mode used to check and what it cares about, as Go's
 * crypto/x509 and webpki do: every CA certificate (the anchor included) has basicConstraints
 * CA:TRUE and, if it has keyUsage, keyCertSign; the chain is at most max_depth certificates
 * below the anchor; every certificate below the anchor has consistent signature algorithm
 * fields, an EC key on a named curve and a valid serial; the leaf is no CA and may be used
 * for TLS client authentication. A refusal reported by OpenSSL is explained with the same
 * rules, so the reason names the certificate and the check. */
#include "iotsec/x509.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "iotsec/error.h"
#include "x509_internal.h"

#define NAME_TEXT_MAX 72u /* a name in a reason: enough to recognise it, short enough for two */

static void say(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;

    if (out == NULL || cap == 0)
        return;
    va_start(ap, fmt);
    (void)vsnprintf(out, cap, fmt, ap);
    va_end(ap);
}

void iotsec_x509i_name_text(const X509_NAME *name, char *out, size_t cap)
{
    BIO *bio;
    char *data = NULL;
    long got;
    size_t n;

    if (out == NULL || cap == 0)
        return;
    say(out, cap, "?");
    bio = BIO_new(BIO_s_mem());
    /* RFC 2253 with its escapes: control characters and bytes over 0x7f come out escaped,
     * so the text is one line of ASCII */
    if (bio != NULL && name != NULL && X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0) {
        got = BIO_get_mem_data(bio, &data);
        if (got > 0 && data != NULL) {
            n = (size_t)got;
            if (n < cap) {
                memcpy(out, data, n);
                out[n] = '\0';
            } else if (cap > 4u) {
                memcpy(out, data, cap - 4u);
                memcpy(out + cap - 4u, "...", 4u);
            }
        } else if (got == 0) {
            say(out, cap, "(empty name)");
        }
    }
    BIO_free(bio);
    ERR_clear_error();
}

static void subject_text(X509 *cert, char out[NAME_TEXT_MAX])
{
    iotsec_x509i_name_text(cert != NULL ? X509_get_subject_name(cert) : NULL, out, NAME_TEXT_MAX);
}

int iotsec_x509i_name_hash(const X509_NAME *name, uint8_t out[IOTSEC_NAME_HASH_LEN])
{
    const unsigned char *der = NULL;
    size_t len = 0;
    unsigned int n = 0;
    int ok;

    ok = name != NULL && X509_NAME_get0_der(name, &der, &len) == 1 && der != NULL &&
         EVP_Digest(der, len, out, &n, EVP_sha256(), NULL) == 1 && n == IOTSEC_NAME_HASH_LEN;
    ERR_clear_error();
    return ok ? IOTSEC_OK : IOTSEC_E_BACKEND;
}

int iotsec_x509i_key_hash(const X509 *cert, uint8_t out[IOTSEC_KEY_HASH_LEN])
{
    unsigned int n = 0;
    int ok = cert != NULL && X509_pubkey_digest(cert, EVP_sha256(), out, &n) == 1 &&
             n == IOTSEC_KEY_HASH_LEN;

    ERR_clear_error();
    return ok ? IOTSEC_OK : IOTSEC_E_BACKEND;
}

X509_STORE *iotsec_x509i_store_new(X509 *anchor)
{
    X509_STORE *store = X509_STORE_new();

    if (store == NULL || X509_STORE_add_cert(store, anchor) != 1 ||
        X509_STORE_set_flags(store, IOTSEC_X509I_VERIFY_FLAGS) != 1 ||
        X509_STORE_set_purpose(store, X509_PURPOSE_SSL_CLIENT) != 1) {
        X509_STORE_free(store);
        ERR_clear_error();
        return NULL;
    }
    return store;
}

/* ---- the library's rules ----------------------------------------------------------------- */

int iotsec_x509i_ca_rule(X509 *cert, char *why, size_t cap)
{
    uint32_t fl = X509_get_extension_flags(cert);
    char name[NAME_TEXT_MAX];

    if ((fl & EXFLAG_BCONS) == 0 || (fl & EXFLAG_CA) == 0) {
        subject_text(cert, name);
        say(why, cap, "CA certificate \"%s\" lacks basicConstraints CA:TRUE", name);
        return IOTSEC_E_UNTRUSTED;
    }
    if ((fl & EXFLAG_KUSAGE) != 0 && (X509_get_key_usage(cert) & KU_KEY_CERT_SIGN) == 0) {
        subject_text(cert, name);
        say(why, cap, "CA certificate \"%s\" keyUsage lacks keyCertSign", name);
        return IOTSEC_E_UNTRUSTED;
    }
    return IOTSEC_OK;
}

/* May the leaf authenticate a TLS client? extendedKeyUsage and keyUsage first (a CA used as
 * a device fails here already when its keyUsage is a CA's), then: it is no CA. */
static int leaf_rule(X509 *leaf, iotsec_x509i_result *res)
{
    uint32_t fl = X509_get_extension_flags(leaf);

    res->depth = 0;
    if ((fl & EXFLAG_XKUSAGE) != 0 && (X509_get_extended_key_usage(leaf) & XKU_SSL_CLIENT) == 0) {
        say(res->text, sizeof res->text, "certificate lacks the clientAuth extended key usage");
        res->x509_error = X509_V_ERR_INVALID_PURPOSE;
        return res->code = IOTSEC_E_POLICY;
    }
    if ((fl & EXFLAG_KUSAGE) != 0 && (X509_get_key_usage(leaf) & KU_DIGITAL_SIGNATURE) == 0) {
        say(res->text, sizeof res->text, "certificate keyUsage lacks digitalSignature");
        res->x509_error = X509_V_ERR_INVALID_PURPOSE;
        return res->code = IOTSEC_E_POLICY;
    }
    if ((fl & EXFLAG_NSCERT) != 0 && X509_check_purpose(leaf, X509_PURPOSE_SSL_CLIENT, 0) != 1) {
        say(res->text, sizeof res->text,
            "certificate's Netscape certificate type does not allow TLS clients");
        res->x509_error = X509_V_ERR_INVALID_PURPOSE;
        ERR_clear_error();
        return res->code = IOTSEC_E_POLICY;
    }
    if ((fl & EXFLAG_CA) != 0) {
        say(res->text, sizeof res->text,
            "certificate is a CA (basicConstraints CA:TRUE), not a device certificate");
        res->x509_error = X509_V_ERR_INVALID_CA;
        return res->code = IOTSEC_E_UNTRUSTED;
    }
    return IOTSEC_OK;
}

/* What strict mode checked and webpki checks, for a certificate below the anchor. */
static int cert_rule(X509 *cert, int depth, iotsec_x509i_result *res)
{
    const X509_ALGOR *outer = NULL, *inner = X509_get0_tbs_sigalg(cert);
    X509_ALGOR *pa = NULL;
    ASN1_OBJECT *alg = NULL;
    const void *pval = NULL;
    int ptype = V_ASN1_UNDEF;
    uint8_t key[IOTSEC_SERIAL_LEN];
    char name[NAME_TEXT_MAX], what[NAME_TEXT_MAX + 24];

    if (depth == 0) {
        say(what, sizeof what, "certificate");
    } else {
        subject_text(cert, name);
        say(what, sizeof what, "CA certificate \"%s\"", name);
    }
    res->depth = depth;
    X509_get0_signature(NULL, &outer, cert);
    if (outer == NULL || inner == NULL || X509_ALGOR_cmp(outer, inner) != 0) {
        say(res->text, sizeof res->text, "%s: its two signature algorithm fields differ", what);
        res->x509_error = X509_V_ERR_SIGNATURE_ALGORITHM_MISMATCH;
        return res->code = IOTSEC_E_UNTRUSTED;
    }
    if (X509_PUBKEY_get0_param(&alg, NULL, NULL, &pa, X509_get_X509_PUBKEY(cert)) == 1 &&
        OBJ_obj2nid(alg) == NID_X9_62_id_ecPublicKey) {
        X509_ALGOR_get0(NULL, &ptype, &pval, pa);
        if (ptype != V_ASN1_OBJECT) {
            say(res->text, sizeof res->text, "%s has an EC key with explicit curve parameters",
                what);
            res->x509_error = X509_V_ERR_EC_KEY_EXPLICIT_PARAMS;
            return res->code = IOTSEC_E_UNTRUSTED;
        }
    }
    if (iotsec_x509i_serial_key(X509_get0_serialNumber(cert), key) != IOTSEC_OK) {
        say(res->text, sizeof res->text, "%s: serial number zero, negative or over 20 bytes",
            what);
        res->x509_error = X509_V_ERR_CERT_REJECTED;
        return res->code = IOTSEC_E_BAD_VALUE;
    }
    ERR_clear_error();
    return IOTSEC_OK;
}

/* The verify callback: OpenSSL's default behaviour, stop at the first error (its error,
 * depth and certificate stay on the context for explain). */
static int first_error(int ok, X509_STORE_CTX *sctx)
{
    (void)sctx;
    return ok;
}

/* Explain a refusal of X509_verify_cert: err at depth, about cert cur. */
static void explain(iotsec_x509i_result *res, int err, int depth, X509 *cur, X509 *anchor,
                    unsigned max_depth)
{
    char name[NAME_TEXT_MAX], aname[NAME_TEXT_MAX], what[NAME_TEXT_MAX + 24];
    const char *why = X509_verify_cert_error_string(err);

    res->code = iotsec_x509i_err_code(err);
    res->x509_error = err;
    res->depth = depth;
    subject_text(anchor, aname);
    if (depth == 0 || cur == NULL) {
        say(what, sizeof what, "certificate");
    } else {
        subject_text(cur, name);
        say(what, sizeof what, "CA certificate \"%s\"", name);
    }
    switch (err) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
        say(res->text, sizeof res->text, "%s expired", what);
        break;
    case X509_V_ERR_CERT_NOT_YET_VALID:
        say(res->text, sizeof res->text, "%s not yet valid", what);
        break;
    case X509_V_ERR_CERT_CHAIN_TOO_LONG:
        res->code = IOTSEC_E_UNTRUSTED;
        say(res->text, sizeof res->text, "chain longer than %u below the trust anchor",
            max_depth);
        break;
    case X509_V_ERR_INVALID_CA:
        res->code = IOTSEC_E_UNTRUSTED;
        if (cur == NULL || depth == 0 || iotsec_x509i_ca_rule(cur, res->text, sizeof res->text) ==
                                             IOTSEC_OK)
            say(res->text, sizeof res->text, "%s is not a valid CA certificate", what);
        break;
    case X509_V_ERR_INVALID_PURPOSE:
        if (depth == 0 && cur != NULL && leaf_rule(cur, res) != IOTSEC_OK) {
            res->x509_error = err;
            break;
        }
        res->code = depth == 0 ? IOTSEC_E_POLICY : IOTSEC_E_UNTRUSTED;
        say(res->text, sizeof res->text, "%s is not usable for TLS client authentication%s",
            what, depth > 0 ? " (its extendedKeyUsage lacks clientAuth)" : "");
        break;
    case X509_V_ERR_PATH_LENGTH_EXCEEDED:
        res->code = IOTSEC_E_UNTRUSTED;
        say(res->text, sizeof res->text, "path length constraint of %s exceeded", what);
        break;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_UNTRUSTED:
        res->code = IOTSEC_E_UNTRUSTED;
        say(res->text, sizeof res->text, "%s does not chain to the trust anchor \"%s\" (%s)",
            what, aname, why);
        break;
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
        res->code = IOTSEC_E_UNTRUSTED;
        say(res->text, sizeof res->text,
            "%s: signature does not verify with its issuer's key (not issued under the trust "
            "anchor \"%s\")",
            what, aname);
        break;
    default:
        say(res->text, sizeof res->text, "%s refused: %s", what, why);
        break;
    }
}

void iotsec_x509i_verify(X509_STORE_CTX *sctx, X509 *anchor, unsigned max_depth, int64_t now,
                         iotsec_x509i_result *res)
{
    X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(sctx);
    STACK_OF(X509) *chain;
    int ok, n, i, err;

    memset(res, 0, sizeof *res);
    X509_VERIFY_PARAM_clear_flags(param, X509_V_FLAG_X509_STRICT);
    X509_VERIFY_PARAM_set_flags(param, IOTSEC_X509I_VERIFY_FLAGS);
    X509_VERIFY_PARAM_set_depth(param, (int)max_depth);
    X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_CLIENT);
    X509_STORE_CTX_set_time(sctx, 0, (time_t)now);
    X509_STORE_CTX_set_verify_cb(sctx, first_error);
    ok = X509_verify_cert(sctx);
    if (ok != 1) {
        err = X509_STORE_CTX_get_error(sctx);
        explain(res, err != X509_V_OK ? err : X509_V_ERR_UNSPECIFIED,
                X509_STORE_CTX_get_error_depth(sctx), X509_STORE_CTX_get_current_cert(sctx),
                anchor, max_depth);
        ERR_clear_error();
        return;
    }
    chain = X509_STORE_CTX_get0_chain(sctx);
    n = chain != NULL ? sk_X509_num(chain) : 0;
    if (n < 2 || X509_cmp(sk_X509_value(chain, n - 1), anchor) != 0) {
        res->code = IOTSEC_E_UNTRUSTED;
        res->x509_error = X509_V_ERR_CERT_UNTRUSTED;
        say(res->text, sizeof res->text,
            n < 2 ? "certificate is the trust anchor itself, not a certificate below it"
                  : "chain does not end at the trust anchor");
        ERR_clear_error();
        return;
    }
    if ((unsigned)(n - 1) > max_depth) {
        res->code = IOTSEC_E_UNTRUSTED;
        res->x509_error = X509_V_ERR_CERT_CHAIN_TOO_LONG;
        res->depth = n - 2;
        say(res->text, sizeof res->text, "chain longer than %u below the trust anchor",
            max_depth);
        ERR_clear_error();
        return;
    }
    for (i = 1; i < n; i++) {
        if (iotsec_x509i_ca_rule(sk_X509_value(chain, i), res->text, sizeof res->text) !=
            IOTSEC_OK) {
            res->code = IOTSEC_E_UNTRUSTED;
            res->x509_error = X509_V_ERR_INVALID_CA;
            res->depth = i;
            ERR_clear_error();
            return;
        }
    }
    for (i = 0; i < n - 1; i++) {
        if (cert_rule(sk_X509_value(chain, i), i, res) != IOTSEC_OK)
            return;
    }
    (void)leaf_rule(sk_X509_value(chain, 0), res);
    ERR_clear_error();
}

int iotsec_x509i_ca_chains(X509 *anchor, X509 *ca, STACK_OF(X509) *others, int64_t now,
                           char *why, size_t cap)
{
    X509_STORE *store;
    X509_STORE_CTX *sctx;
    STACK_OF(X509) *chain;
    char name[NAME_TEXT_MAX], aname[NAME_TEXT_MAX];
    int rc = IOTSEC_OK, i, n;

    if (X509_cmp(ca, anchor) == 0)
        return iotsec_x509i_ca_rule(anchor, why, cap);
    store = iotsec_x509i_store_new(anchor);
    sctx = X509_STORE_CTX_new();
    if (store == NULL || sctx == NULL || X509_STORE_CTX_init(sctx, store, ca, others) != 1) {
        X509_STORE_CTX_free(sctx);
        X509_STORE_free(store);
        ERR_clear_error();
        say(why, cap, "out of memory");
        return IOTSEC_E_NO_MEMORY;
    }
    /* a CRL issuer: any purpose, the chain's CAs valid now */
    X509_VERIFY_PARAM_set_purpose(X509_STORE_CTX_get0_param(sctx), X509_PURPOSE_ANY);
    X509_VERIFY_PARAM_set_depth(X509_STORE_CTX_get0_param(sctx), (int)IOTSEC_CHAIN_MAX);
    X509_STORE_CTX_set_time(sctx, 0, (time_t)now);
    if (X509_verify_cert(sctx) != 1) {
        subject_text(ca, name);
        subject_text(anchor, aname);
        say(why, cap, "intermediate \"%s\" does not chain to the trust anchor \"%s\" (%s)", name,
            aname, X509_verify_cert_error_string(X509_STORE_CTX_get_error(sctx)));
        rc = IOTSEC_E_UNTRUSTED;
    } else {
        chain = X509_STORE_CTX_get0_chain(sctx);
        n = chain != NULL ? sk_X509_num(chain) : 0;
        for (i = 0; rc == IOTSEC_OK && i < n; i++)
            rc = iotsec_x509i_ca_rule(sk_X509_value(chain, i), why, cap);
    }
    X509_STORE_CTX_free(sctx);
    X509_STORE_free(store);
    ERR_clear_error();
    return rc;
}

int iotsec_x509i_chain_links(STACK_OF(X509) *chain, iotsec_peer_identity *id)
{
    int n = chain != NULL ? sk_X509_num(chain) : 0, i, rc;
    iotsec_chain_link *l;

    if (n < 2 || (size_t)(n - 1) > IOTSEC_CHAIN_MAX)
        return IOTSEC_E_UNTRUSTED;
    memset(id->chain, 0, sizeof id->chain);
    id->chain_len = 0;
    for (i = 0; i + 1 < n; i++) {
        X509 *issuer = sk_X509_value(chain, i + 1);
        l = &id->chain[i];
        rc = iotsec_x509i_serial_key(X509_get0_serialNumber(sk_X509_value(chain, i)), l->serial);
        if (rc == IOTSEC_OK)
            rc = iotsec_x509i_name_hash(X509_get_subject_name(issuer), l->issuer);
        if (rc == IOTSEC_OK)
            rc = iotsec_x509i_key_hash(issuer, l->issuer_key);
        if (rc != IOTSEC_OK) {
            memset(id->chain, 0, sizeof id->chain);
            return rc;
        }
    }
    id->chain_len = (size_t)(n - 1);
    return IOTSEC_OK;
}

/* ---- public -------------------------------------------------------------------------------- */

int iotsec_x509_verify_chain(X509 *anchor, const iotsec_chain_policy *cp, X509 *const *certs,
                             size_t n, int64_t now, char *reason, size_t cap)
{
    iotsec_x509i_result res;
    STACK_OF(X509) *untrusted = NULL;
    X509_STORE *store = NULL;
    X509_STORE_CTX *sctx = NULL;
    unsigned depth = cp != NULL && cp->max_depth != 0 ? cp->max_depth : IOTSEC_CHAIN_DEPTH_DEFAULT;
    size_t i, extra = cp != NULL ? cp->intermediate_count : 0;
    int ok;

    if (reason != NULL && cap > 0)
        reason[0] = '\0';
    if (anchor == NULL || certs == NULL || n == 0 || certs[0] == NULL || now < 0 ||
        depth > IOTSEC_CHAIN_MAX || n > (size_t)INT32_MAX || extra > (size_t)INT32_MAX ||
        (extra > 0 && cp->intermediates == NULL) || (sizeof(time_t) < 8 && now > INT32_MAX))
        return IOTSEC_E_INVALID_ARG;
    for (i = 1; i < n; i++) {
        if (certs[i] == NULL)
            return IOTSEC_E_INVALID_ARG;
    }
    for (i = 0; i < extra; i++) {
        if (cp->intermediates[i] == NULL)
            return IOTSEC_E_INVALID_ARG;
    }
    untrusted = sk_X509_new_null();
    ok = untrusted != NULL;
    for (i = 1; ok && i < n; i++)
        ok = sk_X509_push(untrusted, certs[i]) > 0;
    for (i = 0; ok && i < extra; i++)
        ok = sk_X509_push(untrusted, cp->intermediates[i]) > 0;
    if (ok) {
        store = iotsec_x509i_store_new(anchor);
        sctx = X509_STORE_CTX_new();
        ok = store != NULL && sctx != NULL &&
             X509_STORE_CTX_init(sctx, store, certs[0], untrusted) == 1;
    }
    if (!ok) {
        X509_STORE_CTX_free(sctx);
        X509_STORE_free(store);
        sk_X509_free(untrusted);
        ERR_clear_error();
        return IOTSEC_E_NO_MEMORY;
    }
    iotsec_x509i_verify(sctx, anchor, depth, now, &res);
    X509_STORE_CTX_free(sctx);
    X509_STORE_free(store);
    sk_X509_free(untrusted); /* the certificates are borrowed */
    ERR_clear_error();
    if (res.code != IOTSEC_OK && reason != NULL && cap > 0)
        say(reason, cap, "%s", res.text);
    return res.code;
}

int iotsec_x509_verify(X509 *ca, X509 *cert, int64_t now)
{
    if (ca == NULL || cert == NULL || now < 0)
        return IOTSEC_E_INVALID_ARG;
    return iotsec_x509_verify_chain(ca, NULL, &cert, 1, now, NULL, 0);
}
