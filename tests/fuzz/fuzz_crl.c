/* Fuzz target: the CRL loader and revocation sets (libiotsec/x509/revocation.c).
 *
 * The CAs are built once per process (tests/fuzz/fuzz_crl_ca.h, made with the seed corpus
 * by tests/fuzz/gen-crl-seeds.sh): a P-256 and an RSA-2048 device CA, and the older
 * "iotsec fuzz CA" of the first seeds. Each input is
 *   1. decoded (iotsec_x509_crl_decode), PEM or DER;
 *   2. added as it is to a set of each CA at a fixed time: parse → issuer → signature (ECDSA,
 *      RSA PKCS#1, RSASSA-PSS) → freshness → scope → cRLNumber → serials;
 *   3. when it decodes, signed again by the P-256 CA (issuer set to that CA's name) and
 *      added to a P-256 set: mutated CRLs then get past the signature check, so the freshness,
 *      extension, cRLNumber and serial rules and the index see them too.
 * Whatever the input: a refused CRL adds nothing and sets no expiry (and changes no floor);
 * an accepted one is fresh at the fixed time, every serial it lists is found by lookup
 * (and by iotsec_revocation_check with an identity of that serial), its floor is the one
 * its own cRLNumber / thisUpdate gives, the same bytes again are accepted above that floor,
 * and a holder keeps the floor across a swap. Lookups of serials taken from the input
 * never fail otherwise. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "fuzz_crl_ca.h"
#include "iotsec/error.h"
#include "iotsec/revocation.h"
#include "iotsec/x509.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* `iotsec ca init --name "iotsec fuzz CA" --days 36500` (P-256); the key is not kept. The
 * CA of the first seeds (iotsec-ca-*, openssl-ca-*). */
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

/* 2030-01-01T00:00:00Z: after every seed's thisUpdate (2026), before their nextUpdate
 * (2126), after the stale seeds' */
#define FUZZ_NOW 1893456000

enum { CA_P256, CA_RSA, CA_OLD, N_CA };

static X509 *cas[N_CA];
static EVP_PKEY *p256_key;

static X509 *cert_of(const char *pem)
{
    X509 *c = NULL;

    if (iotsec_x509_cert_decode((const uint8_t *)pem, strlen(pem), &c) != IOTSEC_OK)
        abort();
    return c;
}

static void init_once(void)
{
    BIO *bio;

    if (cas[0] != NULL)
        return;
    cas[CA_P256] = cert_of(fuzz_crl_ca_p256_pem);
    cas[CA_RSA] = cert_of(fuzz_crl_ca_rsa_pem);
    cas[CA_OLD] = cert_of(fuzz_ca_pem);
    bio = BIO_new_mem_buf(fuzz_crl_key_p256_pem, -1);
    p256_key = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (p256_key == NULL || X509_check_private_key(cas[CA_P256], p256_key) != 1)
        abort();
}

/* The floor a CRL of ca should give: its own cRLNumber (0 = none) and thisUpdate. */
static void floor_of_input(X509_CRL *crl, int *has_number, uint8_t number[IOTSEC_CRL_NUMBER_LEN],
                           int64_t *this_update)
{
    ASN1_INTEGER *num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
    const ASN1_TIME *tu = X509_CRL_get0_lastUpdate(crl);
    int day = 0, sec = 0;
    static ASN1_TIME *epoch;

    memset(number, 0, IOTSEC_CRL_NUMBER_LEN);
    *has_number = num != NULL;
    if (num != NULL) {
        const unsigned char *p = ASN1_STRING_get0_data(num);
        int n = ASN1_STRING_length(num);
        while (n > 0 && p[0] == 0) {
            p++;
            n--;
        }
        if (n > (int)IOTSEC_CRL_NUMBER_LEN)
            abort(); /* the library refuses those */
        memcpy(number + IOTSEC_CRL_NUMBER_LEN - (size_t)n, p, (size_t)n);
        ASN1_INTEGER_free(num);
    }
    if (epoch == NULL && (epoch = ASN1_TIME_set(NULL, 0)) == NULL)
        abort();
    if (tu == NULL || ASN1_TIME_diff(&day, &sec, epoch, tu) != 1)
        abort();
    *this_update = (int64_t)day * 86400 + sec;
}

/* Add crl_bytes to a new set of ca; check the invariants; return the add's result. */
static int check_set(X509 *ca, const uint8_t *crl_bytes, size_t len)
{
    iotsec_revocation *rs = NULL, *again = NULL;
    iotsec_revocation_holder *h = NULL;
    iotsec_crl_floor fl[IOTSEC_CRL_FLOORS_MAX], hf[IOTSEC_CRL_FLOORS_MAX];
    iotsec_peer_identity id;
    X509_CRL *crl = NULL;
    const STACK_OF(X509_REVOKED) *revoked;
    uint8_t number[IOTSEC_CRL_NUMBER_LEN];
    size_t n = 0, nh = 0;
    int64_t this_update;
    int rc, has_number, i;

    if (iotsec_revocation_new(&rs, ca, 0) != IOTSEC_OK)
        abort();
    rc = iotsec_revocation_add_crl(rs, crl_bytes, len, FUZZ_NOW);
    if (iotsec_revocation_seal(rs) != IOTSEC_OK)
        abort(); /* no floor set: seal cannot refuse */
    if (iotsec_revocation_crl_floors(rs, fl, IOTSEC_CRL_FLOORS_MAX, &n) != IOTSEC_OK)
        abort();
    if (rc != IOTSEC_OK) {
        /* a refused CRL adds nothing, sets no expiry and no floor */
        if (iotsec_revocation_serial_count(rs) != 0 ||
            iotsec_revocation_stale_after(rs) != INT64_MAX || n != 0)
            abort();
        iotsec_revocation_unref(rs);
        return rc;
    }
    if (iotsec_revocation_stale_after(rs) < FUZZ_NOW || n != 1)
        abort();
    if (iotsec_x509_crl_decode(crl_bytes, len, &crl) != IOTSEC_OK)
        abort(); /* accepted, so it decodes */
    floor_of_input(crl, &has_number, number, &this_update);
    if (fl[0].has_number != has_number || memcmp(fl[0].number, number, sizeof number) != 0 ||
        fl[0].this_update != this_update)
        abort();
    /* every listed serial is found, by serial and by identity */
    revoked = X509_CRL_get_REVOKED(crl);
    if (iotsec_revocation_serial_count(rs) > (size_t)sk_X509_REVOKED_num(revoked))
        abort();
    memset(&id, 0, sizeof id);
    memcpy(id.device_id, "fuzz", 5);
    id.device_id_len = 4;
    for (i = 0; i < sk_X509_REVOKED_num(revoked) && i < 64; i++) {
        const ASN1_INTEGER *s = X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revoked, i));
        const unsigned char *p = ASN1_STRING_get0_data(s);
        int sn = ASN1_STRING_length(s);
        while (sn > 0 && p[0] == 0) {
            p++;
            sn--;
        }
        if (sn <= 0 || sn > (int)IOTSEC_SERIAL_LEN)
            abort(); /* accepted: every serial is a valid key */
        memset(id.serial, 0, sizeof id.serial);
        memcpy(id.serial + IOTSEC_SERIAL_LEN - (size_t)sn, p, (size_t)sn);
        if (iotsec_revocation_check_serial(rs, id.serial) != IOTSEC_E_REVOKED ||
            iotsec_revocation_check(rs, &id, FUZZ_NOW, NULL) != IOTSEC_E_REVOKED)
            abort();
    }
    /* the same bytes above their own floor: accepted; a holder keeps the floor */
    if (iotsec_revocation_new(&again, ca, 0) != IOTSEC_OK ||
        iotsec_revocation_set_crl_floor(again, &fl[0]) != IOTSEC_OK ||
        iotsec_revocation_add_crl(again, crl_bytes, len, FUZZ_NOW) != IOTSEC_OK ||
        iotsec_revocation_seal(again) != IOTSEC_OK)
        abort();
    if (iotsec_revocation_holder_new(&h, rs) != IOTSEC_OK ||
        iotsec_revocation_holder_swap(h, again, FUZZ_NOW, NULL, 0, NULL, NULL) != IOTSEC_OK ||
        iotsec_revocation_holder_crl_floors(h, hf, IOTSEC_CRL_FLOORS_MAX, &nh) != IOTSEC_OK ||
        nh != 1 || memcmp(&hf[0], &fl[0], sizeof hf[0]) != 0)
        abort();
    iotsec_revocation_holder_free(h);
    iotsec_revocation_unref(again);
    X509_CRL_free(crl);
    iotsec_revocation_unref(rs);
    return rc;
}

/* Step 3: the decoded CRL, issuer set to the P-256 CA, signed by it. */
static void check_resigned(X509_CRL *crl)
{
    unsigned char *der = NULL;
    int n;

    if (X509_CRL_set_issuer_name(crl, X509_get_subject_name(cas[CA_P256])) != 1 ||
        X509_CRL_sign(crl, p256_key, EVP_sha256()) <= 0) {
        ERR_clear_error();
        return; /* OpenSSL cannot encode what it decoded (some odd inputs): nothing to add */
    }
    n = i2d_X509_CRL(crl, &der);
    if (n > 0)
        (void)check_set(cas[CA_P256], der, (size_t)n);
    OPENSSL_free(der);
    ERR_clear_error();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    iotsec_revocation *rs = NULL;
    X509_CRL *crl = NULL;
    uint8_t serial[IOTSEC_SERIAL_LEN];
    int rc, i, c;

    if (size == 0)
        return 0;
    init_once();
    for (c = 0; c < N_CA; c++)
        (void)check_set(cas[c], data, size);
    if (iotsec_x509_crl_decode(data, size, &crl) == IOTSEC_OK) {
        check_resigned(crl);
        X509_CRL_free(crl);
    }
    /* lookups on whatever was indexed: serials taken from the input, and zero */
    if (iotsec_revocation_new(&rs, cas[CA_P256], 0) != IOTSEC_OK)
        abort();
    (void)iotsec_revocation_add_crl(rs, data, size, FUZZ_NOW);
    if (iotsec_revocation_seal(rs) != IOTSEC_OK)
        abort();
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
