/* Fuzz target: the CRL loader. Bytes (PEM or DER) are decoded and, as a CRL, verified
 * against a fixed test device CA at a fixed time, then indexed. Whatever the input, the call
 * must either succeed or return an error without leaking, crashing or changing the set; the
 * seed corpus holds real CRLs of this CA (made by `iotsec ca crl` and `openssl ca -gencrl`),
 * a stale one, one from another CA of the same name and broken encodings. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "iotsec/error.h"
#include "iotsec/revocation.h"
#include "iotsec/x509.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* `iotsec ca init --name "iotsec fuzz CA" --days 36500` (P-256); the key is not kept. */
static const char fuzz_ca_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBeDCCAR6gAwIBAgIRAJCaqqY5RIlX8ex/CfoD2OIwCgYIKoZIzj0EAwIwGTEX\n"
    "MBUGA1UEAwwOaW90c2VjIGZ1enogQ0EwIBcNMjYxMTIyMDAwMzIzWhgPMjEyNjEw\n"
    "MjkwMDA4MjNaMBkxFzAVBgNVBAMMDmlvdHNlYyBmdXp6IENBMFkwEwYHKoZIzj0C\n"
    "AQYIKoZIzj0DAQcDQgAEyCUb1Nnd67U1iEpUJOW19m1kBMVHKSOhnt2w8oQSa/FX\n"
    "iay0gbPYwg5dZft407uwQisffNTgxPAwD+ywpkmJtaNFMEMwEgYDVR0TAQH/BAgw\n"
    "BgEB/wIBADAOBgNVHQ8BAf8EBAMCAQYwHQYDVR0OBBYEFKP7cJ6T72aGmS99f+ta\n"
    "5yqYSSV8MAoGCCqGSM49BAMCA0gAMEUCIQDbVcD1L0vvKIjFOqyzQyH4m534ZPTi\n"
    "cianqXHL11kaGQIgQXC0VneNgVeQjNhcpacSGoPgvq1Uoo/f10phklAB30U=\n"
    "-----END CERTIFICATE-----\n";

#define FUZZ_NOW 1893456000 /* 2030-01-01T00:00:00Z: inside the corpus CRLs' validity */

static X509 *fuzz_ca(void)
{
    static X509 *ca;

    if (ca == NULL &&
        iotsec_x509_cert_decode((const uint8_t *)fuzz_ca_pem, sizeof fuzz_ca_pem - 1u, &ca) !=
            IOTSEC_OK)
        abort();
    return ca;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    iotsec_revocation *rs = NULL;
    X509_CRL *crl = NULL;
    uint8_t serial[IOTSEC_SERIAL_LEN];
    int rc, i;

    if (size == 0)
        return 0;
    if (iotsec_x509_crl_decode(data, size, &crl) == IOTSEC_OK)
        X509_CRL_free(crl);
    if (iotsec_revocation_new(&rs, fuzz_ca(), 0) != IOTSEC_OK)
        abort();
    rc = iotsec_revocation_add_crl(rs, data, size, FUZZ_NOW);
    if (iotsec_revocation_seal(rs) != IOTSEC_OK)
        abort();
    /* a refused CRL adds nothing and sets no expiry */
    if (rc != IOTSEC_OK &&
        (iotsec_revocation_serial_count(rs) != 0 || iotsec_revocation_stale_after(rs) != INT64_MAX))
        abort();
    if (rc == IOTSEC_OK && iotsec_revocation_stale_after(rs) < FUZZ_NOW)
        abort();
    /* lookups on whatever was indexed: serials taken from the input, and zero */
    for (i = 0; i < 4; i++) {
        size_t off = size > IOTSEC_SERIAL_LEN ? (size - IOTSEC_SERIAL_LEN) * (size_t)i / 4u : 0;
        size_t n = size - off < IOTSEC_SERIAL_LEN ? size - off : IOTSEC_SERIAL_LEN;
        memset(serial, 0, sizeof serial);
        memcpy(serial + IOTSEC_SERIAL_LEN - n, data + off, n);
        rc = iotsec_revocation_check_serial(rs, serial);
        if (rc != IOTSEC_OK && rc != IOTSEC_E_REVOKED)
            abort();
    }
    iotsec_revocation_unref(rs);
    return 0;
}
