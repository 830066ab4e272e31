/* Fuzz target: certificate decoding and device identity (x509.h) and the handshake's checks
 * outside TLS (tls.h): iotsec_x509_cert_decode on arbitrary bytes (PEM or DER), then
 * iotsec_x509_identity under every identity source (commonName, SAN URI with and without a
 * required trust domain, SAN dNSName) and iotsec_tls_check_cert against a fixed device CA
 * with a denylist. Seeds: tests/fuzz/gen-x509-seeds.sh (leaves of this CA for every branch
 * of the identity rules, expired, CA, wrong-EKU, odd serials, another CA).
 *
 * Invariants checked:
 *   - decoding and identity return only documented errors, and a refused identity leaves
 *     the output untouched;
 *   - an identity passes iotsec_device_id_check byte for byte, matches itself through
 *     iotsec_identity_match, carries the certificate's serial and SHA-256 fingerprint;
 *   - a SAN URI accepted under a trust domain is accepted without one, with the same id,
 *     and one accepted without but refused with it is refused as IOTSEC_E_POLICY;
 *   - iotsec_tls_check_cert answers what iotsec_x509_verify, the identity and the
 *     denylist answer, in that order, and its verdict says the same (its identity with the
 *     verified chain: the certificate below the CA). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "iotsec/error.h"
#include "iotsec/revocation.h"
#include "iotsec/tls.h"
#include "iotsec/util.h"
#include "iotsec/x509.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* tests/fuzz/gen-x509-seeds.sh: "iotsec fuzz identity CA", P-256; the key is not kept */
static const char fuzz_ca_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBrjCCAVSgAwIBAgIUR96X56qs91BXoL4wceU7eofjap8wCgYIKoZIzj0EAwIw\n"
    "IjEgMB4GA1UEAwwXaW90c2VjIGZ1enogaWRlbnRpdHkgQ0EwIBcNMjYxMTIyMDAz\n"
    "NzM0WhgPMjEyNjEwMjkwMDM3MzRaMCIxIDAeBgNVBAMMF2lvdHNlYyBmdXp6IGlk\n"
    "ZW50aXR5IENBMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEzd2/u8PE3dRvr1Bc\n"
    "3fMXDrOW78Fr/SKqLduFRkLHtriQUD0FKdiS3HTbwJygUNvQL2G8tJVHiGYdAKfh\n"
    "RPTLyqNmMGQwHQYDVR0OBBYEFAsJymseOQcS0VQRn5Hq4NIGBt+1MB8GA1UdIwQY\n"
    "MBaAFAsJymseOQcS0VQRn5Hq4NIGBt+1MBIGA1UdEwEB/wQIMAYBAf8CAQAwDgYD\n"
    "VR0PAQH/BAQDAgEGMAoGCCqGSM49BAMCA0gAMEUCIQCbFJoF4fbcwp+E9Zipz5Xi\n"
    "9FbNsqKzURPzzd/roMEr5wIgWdcn1ZE8fGjtmBs70K2gnkU3wBZIqWX23DkEG50R\n"
    "Lvk=\n"
    "-----END CERTIFICATE-----\n";

static const char denylist[] = "id:revoked-1\n";

#define FUZZ_NOW 1893456000 /* 2030-01-01T00:00:00Z: after "expired", inside the others */
#define TD "fleet.example"

static X509 *ca;
static iotsec_revocation_holder *holder;

static void setup(void)
{
    iotsec_revocation *rs = NULL;

    if (iotsec_x509_cert_decode((const uint8_t *)fuzz_ca_pem, sizeof fuzz_ca_pem - 1u, &ca) !=
            IOTSEC_OK ||
        iotsec_revocation_new(&rs, ca, 0) != IOTSEC_OK ||
        iotsec_revocation_add_denylist(rs, (const uint8_t *)denylist, sizeof denylist - 1u,
                                       NULL) != IOTSEC_OK ||
        iotsec_revocation_seal(rs) != IOTSEC_OK || iotsec_revocation_holder_new(&holder, rs) !=
                                                       IOTSEC_OK)
        abort();
    iotsec_revocation_unref(rs);
}

static int identity_err_ok(int rc, iotsec_id_source src)
{
    switch (rc) {
    case IOTSEC_OK:
    case IOTSEC_E_MISSING_FIELD:
    case IOTSEC_E_MALFORMED:
    case IOTSEC_E_BAD_ENCODING:
    case IOTSEC_E_BAD_LENGTH:
    case IOTSEC_E_BAD_VALUE: return 1;
    case IOTSEC_E_POLICY: return src == IOTSEC_ID_SAN_URI;
    default: return 0;
    }
}

/* identity under policy p; checks the output; returns the result */
static int identity(X509 *cert, const iotsec_identity_policy *p, iotsec_peer_identity *id)
{
    iotsec_peer_identity before;
    uint8_t serial[IOTSEC_SERIAL_LEN], fp[IOTSEC_FINGERPRINT_LEN];
    int rc;

    memset(id, 0xa5, sizeof *id);
    before = *id;
    rc = iotsec_x509_identity(cert, p, id);
    if (!identity_err_ok(rc, p->source))
        abort();
    if (rc != IOTSEC_OK) {
        if (memcmp(id, &before, sizeof *id) != 0)
            abort();
        return rc;
    }
    if (id->source != p->source || id->device_id_len == 0 ||
        id->device_id_len > IOTSEC_DEVICE_ID_MAX ||
        strlen(id->device_id) != id->device_id_len ||
        iotsec_device_id_check(id->device_id, id->device_id_len) != IOTSEC_OK ||
        iotsec_identity_match(id, id->device_id, id->device_id_len) != IOTSEC_OK ||
        iotsec_identity_match(id, id->device_id, id->device_id_len - 1u) !=
            IOTSEC_E_IDENTITY_MISMATCH)
        abort();
    if (iotsec_x509_serial(cert, serial) != IOTSEC_OK ||
        memcmp(serial, id->serial, sizeof serial) != 0 ||
        iotsec_x509_fingerprint(cert, fp) != IOTSEC_OK ||
        memcmp(fp, id->fingerprint, sizeof fp) != 0)
        abort();
    return rc;
}

static void check_cert(X509 *cert, const iotsec_identity_policy *p, int vr, int ir,
                       const iotsec_peer_identity *id)
{
    iotsec_tls_policy tp;
    iotsec_tls_verdict v;
    int rc, want;

    memset(&tp, 0, sizeof tp);
    tp.ca = ca;
    tp.revocation = holder;
    tp.identity = *p;
    rc = iotsec_tls_check_cert(&tp, cert, FUZZ_NOW, &v);
    if (vr != IOTSEC_OK)
        want = vr;
    else if (ir != IOTSEC_OK)
        want = ir;
    else
        want = strcmp(id->device_id, "revoked-1") == 0 ? IOTSEC_E_REVOKED : IOTSEC_OK;
    if (rc != want || v.code != rc || memchr(v.detail, '\0', sizeof v.detail) == NULL)
        abort();
    /* the verdict's identity is the certificate's, with its verified chain of one: the
     * certificate, issued by the CA */
    if (vr == IOTSEC_OK && ir == IOTSEC_OK &&
        (!v.have_identity ||
         memcmp(&v.identity, id, offsetof(iotsec_peer_identity, chain_len)) != 0 ||
         v.identity.chain_len != 1 ||
         memcmp(v.identity.chain[0].serial, id->serial, IOTSEC_SERIAL_LEN) != 0))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const iotsec_identity_policy pol[4] = {{IOTSEC_ID_CN, NULL},
                                                  {IOTSEC_ID_SAN_URI, NULL},
                                                  {IOTSEC_ID_SAN_URI, TD},
                                                  {IOTSEC_ID_SAN_DNS, NULL}};
    static int ready;
    iotsec_peer_identity id[4];
    X509 *cert = NULL;
    int rc, ir[4], vr, i;

    if (!ready) {
        setup();
        ready = 1;
    }
    rc = iotsec_x509_cert_decode(data, size, &cert);
    if (rc != IOTSEC_OK) {
        if ((rc != IOTSEC_E_BAD_ENCODING && rc != IOTSEC_E_TRAILING_DATA &&
             !(rc == IOTSEC_E_INVALID_ARG && size == 0)) ||
            cert != NULL)
            abort();
        return 0;
    }
    for (i = 0; i < 4; i++)
        ir[i] = identity(cert, &pol[i], &id[i]);
    /* a trust domain only narrows: same id when both accept; POLICY when only it refuses */
    if (ir[2] == IOTSEC_OK && (ir[1] != IOTSEC_OK || strcmp(id[1].device_id, id[2].device_id)))
        abort();
    if (ir[1] == IOTSEC_OK && ir[2] != IOTSEC_OK && ir[2] != IOTSEC_E_POLICY)
        abort();
    if (ir[1] != IOTSEC_OK && ir[2] != ir[1])
        abort();
    vr = iotsec_x509_verify(ca, cert, FUZZ_NOW);
    if (vr != IOTSEC_OK && vr != IOTSEC_E_UNTRUSTED && vr != IOTSEC_E_EXPIRED &&
        vr != IOTSEC_E_NOT_YET_VALID && vr != IOTSEC_E_POLICY && vr != IOTSEC_E_BAD_VALUE)
        abort();
    /* the full check under each source once the chain verifies, else once */
    for (i = 0; i < (vr == IOTSEC_OK ? 4 : 1); i++)
        check_cert(cert, &pol[i], vr, ir[i], &id[i]);
    X509_free(cert);
    return 0;
}
