/* Fuzz target: the EST body parsers (libiotsec/x509/est.c, RFC 7030 subset): the enrollment
 * request a device POSTs (iotsec_est_csr_check: base64 of a PKCS#10 request) and the
 * certificates answer a device reads (iotsec_est_certs_decode: base64 of a certs-only
 * PKCS#7). Both read bytes from the network before anything is trusted.
 *
 * Invariants checked: only the errors est.h documents come back; an accepted request hands
 * out a public key and names the device it was checked for; a refusal gives a reason; a
 * decoded answer holds 1..cap certificates; the input's base64 taken as a request for
 * another device id is never accepted (the identity check cannot be skipped). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "iotsec/error.h"
#include "iotsec/est.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int csr_error_ok(int rc)
{
    switch (rc) {
    case IOTSEC_OK:
    case IOTSEC_E_BAD_LENGTH:
    case IOTSEC_E_BAD_ENCODING:
    case IOTSEC_E_TRAILING_DATA:
    case IOTSEC_E_BAD_VERSION:
    case IOTSEC_E_BAD_SIGNATURE:
    case IOTSEC_E_BAD_KEY:
    case IOTSEC_E_MISSING_FIELD:
    case IOTSEC_E_MALFORMED:
    case IOTSEC_E_IDENTITY_MISMATCH:
    case IOTSEC_E_POLICY:
    case IOTSEC_E_NO_MEMORY:
        return 1;
    default:
        return 0;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char dev[] = "sensor-01", other[] = "sensor-02";
    EVP_PKEY *key = NULL;
    X509 *certs[4];
    char reason[256];
    size_t n = 0, i;
    int rc;

    reason[0] = '\0';
    rc = iotsec_est_csr_check(data, size, dev, sizeof dev - 1, &key, reason, sizeof reason);
    if (!csr_error_ok(rc))
        abort();
    if (rc == IOTSEC_OK) {
        if (key == NULL)
            abort();
        EVP_PKEY_free(key);
        key = NULL;
        /* the same request can never pass for another device */
        if (iotsec_est_csr_check(data, size, other, sizeof other - 1, NULL, NULL, 0) == IOTSEC_OK)
            abort();
    } else if (key != NULL || reason[0] == '\0') {
        abort();
    }

    rc = iotsec_est_certs_decode(data, size, certs, sizeof certs / sizeof certs[0], &n);
    switch (rc) {
    case IOTSEC_OK:
        if (n < 1 || n > sizeof certs / sizeof certs[0])
            abort();
        for (i = 0; i < n; i++) {
            if (certs[i] == NULL)
                abort();
            X509_free(certs[i]);
        }
        break;
    case IOTSEC_E_BAD_LENGTH:
    case IOTSEC_E_BAD_ENCODING:
    case IOTSEC_E_TRAILING_DATA:
    case IOTSEC_E_BUFFER_TOO_SMALL:
    case IOTSEC_E_NO_MEMORY:
        break;
    default:
        abort();
    }
    return 0;
}
