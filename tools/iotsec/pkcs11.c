/* iotsec CLI — signing through a PKCS#11 module (pkcs11.h). The module is dlopen'ed; the
 * PKCS#11 types come from p11-kit's pkcs11.h (libp11-kit-dev), nothing else of p11-kit or
 * OpenSSL is used. Built without that header, every entry point says so (exit 2). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "pkcs11.h"

#ifndef IOTSEC_HAVE_P11KIT

struct p11_signer {
    int unused;
};

int p11_open_signer(const char *module, const char *uri, const char *pin_file,
                    struct p11_signer **out)
{
    (void)module;
    (void)uri;
    (void)pin_file;
    *out = NULL;
    return cli_error(CLI_USAGE, "pkcs11: this iotsec was built without PKCS#11 support "
                                "(install libp11-kit-dev and rebuild)");
}

int p11_public_key(struct p11_signer *p, const iotsec_crypto *crypto, iotsec_pubkey *pk)
{
    (void)p;
    (void)crypto;
    (void)pk;
    return CLI_USAGE;
}

int p11_sign(struct p11_signer *p, iotsec_sig_alg alg, const uint8_t *msg, size_t len,
             uint8_t *sig, size_t cap, size_t *sig_len)
{
    (void)p;
    (void)alg;
    (void)msg;
    (void)len;
    (void)sig;
    (void)cap;
    (void)sig_len;
    return CLI_USAGE;
}

void p11_close(struct p11_signer *p)
{
    (void)p;
}

#else

#include <dlfcn.h>
#include <p11-kit/pkcs11.h>

#define URI_FIELD_MAX 256u

struct p11_signer {
    void *dl;
    CK_FUNCTION_LIST_PTR f;
    int initialized, logged_in, have_session;
    CK_SESSION_HANDLE session;
    CK_OBJECT_HANDLE key;
    CK_KEY_TYPE key_type;
    char token[URI_FIELD_MAX];
    char object[URI_FIELD_MAX];
};

/* the parsed URI: each field decoded, with a flag for presence */
struct p11_uri {
    char token[URI_FIELD_MAX], object[URI_FIELD_MAX], serial[URI_FIELD_MAX];
    char model[URI_FIELD_MAX], manufacturer[URI_FIELD_MAX], type[URI_FIELD_MAX];
    char pin_value[URI_FIELD_MAX], pin_source[URI_FIELD_MAX];
    uint8_t id[URI_FIELD_MAX];
    size_t id_len;
    int has_token, has_object, has_serial, has_model, has_manufacturer, has_type, has_id;
    int has_pin_value, has_pin_source;
};

static const char *rv_name(CK_RV rv)
{
    switch (rv) {
    case CKR_OK: return "CKR_OK";
    case CKR_PIN_INCORRECT: return "CKR_PIN_INCORRECT (wrong PIN)";
    case CKR_PIN_LOCKED: return "CKR_PIN_LOCKED";
    case CKR_PIN_LEN_RANGE: return "CKR_PIN_LEN_RANGE (wrong PIN)";
    case CKR_PIN_EXPIRED: return "CKR_PIN_EXPIRED";
    case CKR_USER_PIN_NOT_INITIALIZED: return "CKR_USER_PIN_NOT_INITIALIZED";
    case CKR_MECHANISM_INVALID: return "CKR_MECHANISM_INVALID (the token lacks the mechanism)";
    case CKR_MECHANISM_PARAM_INVALID: return "CKR_MECHANISM_PARAM_INVALID";
    case CKR_KEY_TYPE_INCONSISTENT: return "CKR_KEY_TYPE_INCONSISTENT";
    case CKR_KEY_FUNCTION_NOT_PERMITTED: return "CKR_KEY_FUNCTION_NOT_PERMITTED (CKA_SIGN false)";
    case CKR_TOKEN_NOT_PRESENT: return "CKR_TOKEN_NOT_PRESENT";
    case CKR_DEVICE_ERROR: return "CKR_DEVICE_ERROR";
    case CKR_GENERAL_ERROR: return "CKR_GENERAL_ERROR";
    case CKR_FUNCTION_FAILED: return "CKR_FUNCTION_FAILED";
    case CKR_ARGUMENTS_BAD: return "CKR_ARGUMENTS_BAD";
    case CKR_DATA_LEN_RANGE: return "CKR_DATA_LEN_RANGE";
    case CKR_USER_TYPE_INVALID: return "CKR_USER_TYPE_INVALID";
    default: return "CKR_*";
    }
}

static int p11_err(int code, CK_RV rv, const char *what)
{
    return cli_error(code, "pkcs11: %s: %s (0x%lx)", what, rv_name(rv), (unsigned long)rv);
}

/* ---- RFC 7512 URI ------------------------------------------------------------------------- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decode s[0..n) into out (cap bytes, NUL-terminated when text). -1 on error. */
static int pct_decode(const char *s, size_t n, uint8_t *out, size_t cap, size_t *len)
{
    size_t i, o = 0;

    for (i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            int h, l;
            if (i + 2 >= n)
                return -1;
            h = hexval(s[i + 1]);
            l = hexval(s[i + 2]);
            if (h < 0 || l < 0)
                return -1;
            c = h * 16 + l;
            i += 2;
        }
        if (o + 1 >= cap)
            return -1;
        out[o++] = (uint8_t)c;
    }
    out[o] = 0;
    *len = o;
    return 0;
}

static int uri_attr(struct p11_uri *u, const char *a, size_t n, int query)
{
    const char *eq = memchr(a, '=', n);
    size_t klen, vlen, got = 0;
    char key[32], *dst = NULL;
    int *flag = NULL;

    if (n == 0)
        return 0;
    if (eq == NULL)
        return cli_error(CLI_USAGE, "pkcs11: URI attribute '%.*s' has no '='", (int)n, a);
    klen = (size_t)(eq - a);
    vlen = n - klen - 1;
    if (klen >= sizeof key)
        return cli_error(CLI_USAGE, "pkcs11: unknown URI attribute '%.*s'", (int)klen, a);
    memcpy(key, a, klen);
    key[klen] = 0;
    if (strcmp(key, "id") == 0 && !query) {
        if (pct_decode(eq + 1, vlen, u->id, sizeof u->id, &u->id_len) != 0)
            return cli_error(CLI_USAGE, "pkcs11: URI attribute id: bad percent-encoding");
        u->has_id = 1;
        return CLI_OK;
    }
#define F(name, field)                                                                     \
    else if (strcmp(key, name) == 0) { dst = u->field; flag = &u->has_##field; }
    if (0) {
    }
    F("token", token) F("object", object) F("serial", serial) F("model", model)
    F("manufacturer", manufacturer) F("type", type) F("pin-value", pin_value)
    F("pin-source", pin_source)
#undef F
    else if (strncmp(key, "module-", 7) == 0 || strncmp(key, "slot-", 5) == 0 ||
             strncmp(key, "library-", 8) == 0)
        return CLI_OK; /* the module is --pkcs11-module; slots are found by token */
    else
        return cli_error(CLI_USAGE, "pkcs11: unknown URI attribute '%s'", key);
    if (pct_decode(eq + 1, vlen, (uint8_t *)dst, URI_FIELD_MAX, &got) != 0 ||
        strlen(dst) != got)
        return cli_error(CLI_USAGE, "pkcs11: URI attribute %s: bad percent-encoding or too long",
                         key);
    *flag = 1;
    return CLI_OK;
}

static int uri_parse(const char *uri, struct p11_uri *u)
{
    const char *p, *q, *end;
    int rc;

    memset(u, 0, sizeof *u);
    if (strncmp(uri, "pkcs11:", 7) != 0)
        return cli_error(CLI_USAGE, "pkcs11: --key must be a pkcs11: URI");
    p = uri + 7;
    q = strchr(p, '?');
    end = q != NULL ? q : p + strlen(p);
    while (p < end) { /* path attributes, ';'-separated */
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *stop = semi != NULL ? semi : end;
        if ((rc = uri_attr(u, p, (size_t)(stop - p), 0)) != CLI_OK)
            return rc;
        p = semi != NULL ? semi + 1 : end;
    }
    if (q != NULL) { /* query attributes, '&'-separated */
        p = q + 1;
        end = p + strlen(p);
        while (p < end) {
            const char *amp = memchr(p, '&', (size_t)(end - p));
            const char *stop = amp != NULL ? amp : end;
            if ((rc = uri_attr(u, p, (size_t)(stop - p), 1)) != CLI_OK)
                return rc;
            p = amp != NULL ? amp + 1 : end;
        }
    }
    if (u->has_type && strcmp(u->type, "private") != 0)
        return cli_error(CLI_USAGE, "pkcs11: type=%s: the signing key is type=private", u->type);
    if (!u->has_object && !u->has_id)
        return cli_error(CLI_USAGE, "pkcs11: the URI names no key: give object=LABEL or id=%%XX");
    return CLI_OK;
}

/* A space-padded PKCS#11 string field equals s? */
static int padded_eq(const unsigned char *field, size_t n, const char *s)
{
    size_t len = strlen(s), i;

    if (len > n || memcmp(field, s, len) != 0)
        return 0;
    for (i = len; i < n; i++)
        if (field[i] != ' ')
            return 0;
    return 1;
}

/* The PIN: first line of the file (a trailing \r\n or \n stripped). */
static int read_pin(const char *path, char *pin, size_t cap)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = cli_read_file(path, 4096, &buf, &len);

    if (rc != CLI_OK)
        return rc;
    {
        size_t n = 0;
        while (n < len && buf[n] != '\n' && buf[n] != '\r')
            n++;
        if (n == 0 || n >= cap) {
            cli_free_secret(buf, len);
            return cli_error(CLI_USAGE, "pkcs11: %s: the PIN must be 1 to %zu characters on the "
                                        "first line", cli_in(path), cap - 1);
        }
        memcpy(pin, buf, n);
        pin[n] = 0;
    }
    cli_free_secret(buf, len);
    return CLI_OK;
}

/* ---- open, find, log in ----------------------------------------------------------------- */

int p11_open_signer(const char *module, const char *uri, const char *pin_file,
                    struct p11_signer **out)
{
    struct p11_uri u;
    struct p11_signer *p;
    CK_C_GetFunctionList get;
    CK_SLOT_ID slots[64], slot = 0;
    CK_ULONG nslots = 64, i, nfound = 0, count = 0;
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE tmpl[3];
    CK_ULONG ntmpl = 0;
    CK_OBJECT_HANDLE found[2];
    CK_RV rv;
    char pin[URI_FIELD_MAX];
    int rc;

    *out = NULL;
    if ((rc = uri_parse(uri, &u)) != CLI_OK)
        return rc;
    if (pin_file != NULL) {
        rc = read_pin(pin_file, pin, sizeof pin);
    } else if (u.has_pin_source) {
        const char *path = u.pin_source;
        if (strncmp(path, "file://", 7) == 0)
            path += 7;
        else if (strncmp(path, "file:", 5) == 0)
            path += 5;
        rc = read_pin(path, pin, sizeof pin);
    } else if (u.has_pin_value) {
        if (u.pin_value[0] == 0)
            rc = cli_error(CLI_USAGE, "pkcs11: pin-value is empty");
        else
            memcpy(pin, u.pin_value, strlen(u.pin_value) + 1);
    } else {
        rc = cli_error(CLI_USAGE, "pkcs11: no PIN: give --pin-file F, or pin-source=file:F or "
                                  "pin-value=P in the URI");
    }
    iotsec_zeroize(u.pin_value, sizeof u.pin_value);
    if (rc != CLI_OK)
        return rc;

    if ((p = calloc(1, sizeof *p)) == NULL) {
        iotsec_zeroize(pin, sizeof pin);
        return cli_error(CLI_IO, "pkcs11: out of memory");
    }
    memcpy(p->token, u.has_token ? u.token : "(any)", strlen(u.has_token ? u.token : "(any)") + 1);
    memcpy(p->object, u.has_object ? u.object : "(by id)",
           strlen(u.has_object ? u.object : "(by id)") + 1);
    p->dl = dlopen(module, RTLD_NOW | RTLD_LOCAL);
    if (p->dl == NULL) {
        rc = cli_error(CLI_IO, "pkcs11: cannot load module %s: %s", module, dlerror());
        goto fail;
    }
    *(void **)(&get) = dlsym(p->dl, "C_GetFunctionList");
    if (get == NULL) {
        rc = cli_error(CLI_IO, "pkcs11: %s is not a PKCS#11 module (no C_GetFunctionList)",
                       module);
        goto fail;
    }
    if ((rv = get(&p->f)) != CKR_OK || p->f == NULL) {
        rc = p11_err(CLI_IO, rv, "C_GetFunctionList");
        goto fail;
    }
    if ((rv = p->f->C_Initialize(NULL)) != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
        rc = p11_err(CLI_IO, rv, "C_Initialize");
        goto fail;
    }
    p->initialized = 1;
    if ((rv = p->f->C_GetSlotList(CK_TRUE, slots, &nslots)) != CKR_OK) {
        rc = p11_err(CLI_REJECTED, rv, "C_GetSlotList");
        goto fail;
    }
    for (i = 0; i < nslots; i++) {
        CK_TOKEN_INFO ti;
        if (p->f->C_GetTokenInfo(slots[i], &ti) != CKR_OK ||
            !(ti.flags & CKF_TOKEN_INITIALIZED))
            continue;
        if ((u.has_token && !padded_eq(ti.label, sizeof ti.label, u.token)) ||
            (u.has_serial && !padded_eq(ti.serialNumber, sizeof ti.serialNumber, u.serial)) ||
            (u.has_model && !padded_eq(ti.model, sizeof ti.model, u.model)) ||
            (u.has_manufacturer &&
             !padded_eq(ti.manufacturerID, sizeof ti.manufacturerID, u.manufacturer)))
            continue;
        if (nfound++ == 0)
            slot = slots[i];
    }
    if (nfound == 0) {
        rc = cli_error(CLI_REJECTED, "pkcs11: no token %s%s%s in %s", u.has_token ? "'" : "",
                       u.has_token ? u.token : "matching the URI", u.has_token ? "'" : "",
                       module);
        goto fail;
    }
    if (nfound > 1) {
        rc = cli_error(CLI_REJECTED, "pkcs11: %lu tokens match the URI: name one with token=",
                       (unsigned long)nfound);
        goto fail;
    }
    if ((rv = p->f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &p->session)) !=
        CKR_OK) {
        rc = p11_err(CLI_REJECTED, rv, "C_OpenSession");
        goto fail;
    }
    p->have_session = 1;
    rv = p->f->C_Login(p->session, CKU_USER, (CK_UTF8CHAR_PTR)pin, (CK_ULONG)strlen(pin));
    iotsec_zeroize(pin, sizeof pin);
    if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
        char what[URI_FIELD_MAX + 32];
        snprintf(what, sizeof what, "login to token '%s'", p->token);
        rc = p11_err(CLI_REJECTED, rv, what);
        goto fail;
    }
    p->logged_in = 1;

    tmpl[ntmpl].type = CKA_CLASS;
    tmpl[ntmpl].pValue = &cls;
    tmpl[ntmpl++].ulValueLen = sizeof cls;
    if (u.has_object) {
        tmpl[ntmpl].type = CKA_LABEL;
        tmpl[ntmpl].pValue = u.object;
        tmpl[ntmpl++].ulValueLen = (CK_ULONG)strlen(u.object);
    }
    if (u.has_id) {
        tmpl[ntmpl].type = CKA_ID;
        tmpl[ntmpl].pValue = u.id;
        tmpl[ntmpl++].ulValueLen = (CK_ULONG)u.id_len;
    }
    if ((rv = p->f->C_FindObjectsInit(p->session, tmpl, ntmpl)) != CKR_OK) {
        rc = p11_err(CLI_REJECTED, rv, "C_FindObjectsInit");
        goto fail;
    }
    rv = p->f->C_FindObjects(p->session, found, 2, &count);
    p->f->C_FindObjectsFinal(p->session);
    if (rv != CKR_OK) {
        rc = p11_err(CLI_REJECTED, rv, "C_FindObjects");
        goto fail;
    }
    if (count == 0) {
        rc = cli_error(CLI_REJECTED, "pkcs11: no private key object %s%s%s in token '%s'",
                       u.has_object ? "'" : "", u.has_object ? u.object : "with that id",
                       u.has_object ? "'" : "", p->token);
        goto fail;
    }
    if (count > 1) {
        rc = cli_error(CLI_REJECTED, "pkcs11: several private keys match '%s' in token '%s': "
                                     "add id= to the URI", p->object, p->token);
        goto fail;
    }
    p->key = found[0];
    {
        CK_ATTRIBUTE a = {CKA_KEY_TYPE, &p->key_type, sizeof p->key_type};
        if ((rv = p->f->C_GetAttributeValue(p->session, p->key, &a, 1)) != CKR_OK) {
            rc = p11_err(CLI_REJECTED, rv, "reading the key type");
            goto fail;
        }
    }
    if (p->key_type != CKK_EC && p->key_type != CKK_RSA && p->key_type != CKK_EC_EDWARDS) {
        rc = cli_error(CLI_REJECTED, "pkcs11: key '%s' is of type 0x%lx: only Ed25519, EC P-256 "
                                     "and RSA sign manifests", p->object,
                       (unsigned long)p->key_type);
        goto fail;
    }
    *out = p;
    return CLI_OK;
fail:
    iotsec_zeroize(pin, sizeof pin);
    p11_close(p);
    return rc;
}

/* ---- the public key --------------------------------------------------------------------- */

/* Read attribute type of obj into buf (cap bytes). Returns its length, or -1. */
static long get_attr(struct p11_signer *p, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type,
                     uint8_t *buf, size_t cap)
{
    CK_ATTRIBUTE a;

    a.type = type;
    a.pValue = buf;
    a.ulValueLen = (CK_ULONG)cap;
    if (p->f->C_GetAttributeValue(p->session, obj, &a, 1) != CKR_OK ||
        a.ulValueLen == (CK_ULONG)-1 || a.ulValueLen > cap)
        return -1;
    return (long)a.ulValueLen;
}

/* DER: write a tag and length for a content of n bytes at out; returns bytes written. */
static size_t der_hdr(uint8_t *out, uint8_t tag, size_t n)
{
    out[0] = tag;
    if (n < 0x80) {
        out[1] = (uint8_t)n;
        return 2;
    }
    if (n < 0x100) {
        out[1] = 0x81;
        out[2] = (uint8_t)n;
        return 3;
    }
    out[1] = 0x82;
    out[2] = (uint8_t)(n >> 8);
    out[3] = (uint8_t)n;
    return 4;
}

/* A DER INTEGER of the unsigned big-endian v[0..n) into out; returns bytes written. */
static size_t der_uint(uint8_t *out, const uint8_t *v, size_t n)
{
    size_t pad, h;

    while (n > 1 && v[0] == 0) {
        v++;
        n--;
    }
    pad = (v[0] & 0x80) ? 1 : 0;
    h = der_hdr(out, 0x02, n + pad);
    if (pad)
        out[h] = 0;
    memcpy(out + h + pad, v, n);
    return h + pad + n;
}

/* An EC point attribute: DER OCTET STRING (PKCS#11 2.40) or the raw point. */
static const uint8_t *ec_point(const uint8_t *a, long n, size_t want, int *ok)
{
    *ok = 0;
    if (n == (long)want) {
        *ok = 1;
        return a;
    }
    if (n == (long)want + 2 && a[0] == 0x04 && a[1] == want) {
        *ok = 1;
        return a + 2;
    }
    return a;
}

int p11_public_key(struct p11_signer *p, const iotsec_crypto *crypto, iotsec_pubkey *pk)
{
    static const uint8_t p256_oid[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
    static const uint8_t p256_spki[] = {0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48,
                                        0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
                                        0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00};
    static const uint8_t ed_spki[] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b,
                                      0x65, 0x70, 0x03, 0x21, 0x00};
    static const uint8_t rsa_alg[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7,
                                      0x0d, 0x01, 0x01, 0x01, 0x05, 0x00};
    uint8_t id[256], label[256], a1[1024], a2[1024], spki[1200], inner[1100];
    long id_len, label_len, n1, n2;
    size_t len = 0;
    CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
    CK_ATTRIBUTE tmpl[2];
    CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE, found[2];
    CK_ULONG count = 0;
    int ok = 0, rc;

    /* the public key object with the private key's CKA_ID, else with its label */
    id_len = get_attr(p, p->key, CKA_ID, id, sizeof id);
    label_len = get_attr(p, p->key, CKA_LABEL, label, sizeof label);
    tmpl[0].type = CKA_CLASS;
    tmpl[0].pValue = &cls;
    tmpl[0].ulValueLen = sizeof cls;
    if (id_len > 0) {
        tmpl[1].type = CKA_ID;
        tmpl[1].pValue = id;
        tmpl[1].ulValueLen = (CK_ULONG)id_len;
    } else {
        tmpl[1].type = CKA_LABEL;
        tmpl[1].pValue = label;
        tmpl[1].ulValueLen = (CK_ULONG)(label_len > 0 ? label_len : 0);
    }
    if (p->f->C_FindObjectsInit(p->session, tmpl, 2) == CKR_OK) {
        if (p->f->C_FindObjects(p->session, found, 2, &count) == CKR_OK && count == 1)
            pub = found[0];
        p->f->C_FindObjectsFinal(p->session);
    }

    if (p->key_type == CKK_RSA) {
        CK_OBJECT_HANDLE o = pub != CK_INVALID_HANDLE ? pub : p->key;
        n1 = get_attr(p, o, CKA_MODULUS, a1, 520);
        n2 = get_attr(p, o, CKA_PUBLIC_EXPONENT, a2, 16);
        if (n1 > 0 && n2 > 0) {
            size_t in = 0, bits;
            uint8_t ints[560];
            size_t il = der_uint(ints, a1, (size_t)n1);
            il += der_uint(ints + il, a2, (size_t)n2);
            in = der_hdr(inner, 0x30, il);
            memcpy(inner + in, ints, il);
            in += il;
            /* BIT STRING: 0 unused bits, then the RSAPublicKey */
            bits = in + 1;
            {
                uint8_t body[1200];
                size_t b = 0;
                memcpy(body, rsa_alg, sizeof rsa_alg);
                b = sizeof rsa_alg;
                b += der_hdr(body + b, 0x03, bits);
                body[b++] = 0;
                memcpy(body + b, inner, in);
                b += in;
                len = der_hdr(spki, 0x30, b);
                memcpy(spki + len, body, b);
                len += b;
            }
            ok = 1;
        }
    } else if (pub != CK_INVALID_HANDLE) {
        const uint8_t *pt;
        n1 = get_attr(p, pub, CKA_EC_POINT, a1, sizeof a1);
        n2 = get_attr(p, pub, CKA_EC_PARAMS, a2, sizeof a2);
        if (p->key_type == CKK_EC && n1 > 0 && n2 == (long)sizeof p256_oid &&
            memcmp(a2, p256_oid, sizeof p256_oid) == 0) {
            pt = ec_point(a1, n1, 65, &ok);
            if (ok) {
                memcpy(spki, p256_spki, sizeof p256_spki);
                memcpy(spki + sizeof p256_spki, pt, 65);
                len = sizeof p256_spki + 65;
            }
        } else if (p->key_type == CKK_EC) {
            return cli_error(CLI_REJECTED, "pkcs11: key '%s': an EC key on a curve other than "
                                           "P-256", p->object);
        } else if (n1 > 0) {
            pt = ec_point(a1, n1, 32, &ok);
            if (ok) {
                memcpy(spki, ed_spki, sizeof ed_spki);
                memcpy(spki + sizeof ed_spki, pt, 32);
                len = sizeof ed_spki + 32;
            }
        }
    }
    if (!ok)
        return cli_error(CLI_REJECTED, "pkcs11: no usable public key object for '%s' in token "
                                       "'%s' (same CKA_ID): give --pub PUB.pem", p->object,
                         p->token);
    rc = iotsec_pubkey_load(pk, crypto, spki, len);
    if (rc != IOTSEC_OK)
        return cli_fail(rc, "pkcs11: the public key of '%s'", p->object);
    return CLI_OK;
}

/* ---- sign -------------------------------------------------------------------------------- */

int p11_sign(struct p11_signer *p, iotsec_sig_alg alg, const uint8_t *msg, size_t len,
             uint8_t *sig, size_t cap, size_t *sig_len)
{
    CK_RSA_PKCS_PSS_PARAMS pss;
    CK_MECHANISM mech;
    CK_ULONG out = (CK_ULONG)cap;
    CK_KEY_TYPE want;
    CK_RV rv;

    memset(&mech, 0, sizeof mech);
    switch (alg) {
    case IOTSEC_SIG_ED25519:
        mech.mechanism = CKM_EDDSA;
        want = CKK_EC_EDWARDS;
        break;
    case IOTSEC_SIG_ECDSA_P256:
        mech.mechanism = CKM_ECDSA;
        want = CKK_EC;
        break;
    case IOTSEC_SIG_RSA_PSS:
        pss.hashAlg = CKM_SHA256;
        pss.mgf = CKG_MGF1_SHA256;
        pss.sLen = 32;
        mech.mechanism = CKM_RSA_PKCS_PSS;
        mech.pParameter = &pss;
        mech.ulParameterLen = sizeof pss;
        want = CKK_RSA;
        break;
    default:
        return cli_error(CLI_REJECTED, "pkcs11: unsupported signature algorithm");
    }
    if (p->key_type != want)
        return cli_error(CLI_REJECTED, "pkcs11: key '%s' does not match its public key's "
                                       "algorithm (%s)", p->object, iotsec_sig_alg_name((int)alg));
    if ((rv = p->f->C_SignInit(p->session, &mech, p->key)) != CKR_OK)
        return p11_err(CLI_REJECTED, rv, "C_SignInit");
    if ((rv = p->f->C_Sign(p->session, (CK_BYTE_PTR)(uintptr_t)msg, (CK_ULONG)len, sig, &out)) !=
        CKR_OK)
        return p11_err(CLI_REJECTED, rv, "C_Sign");
    *sig_len = (size_t)out;
    return CLI_OK;
}

void p11_close(struct p11_signer *p)
{
    if (p == NULL)
        return;
    if (p->logged_in)
        p->f->C_Logout(p->session);
    if (p->have_session)
        p->f->C_CloseSession(p->session);
    if (p->initialized)
        p->f->C_Finalize(NULL);
    if (p->dl != NULL)
        dlclose(p->dl);
    free(p);
}

#endif
