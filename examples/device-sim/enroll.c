/* iotsec-device-sim enroll — getting the device certificate by enrollment (EST, RFC 7030
 * subset; docs/DESIGN.md §14), with a key made on the device that never leaves its state
 * directory.
 *
 *   enroll --token-file T   over server-authenticated TLS (the pinned CA), HTTP Basic with
 *                           the device id and its one-time bootstrap token: simpleenroll
 *   enroll --renew          over mTLS with the current certificate: simplereenroll (also
 *                           done by `run` when the certificate nears its end)
 *
 * Both: GET /cacerts (the CA certificates), a new P-256 key written to
 * creds/device.key.enroll (0600), a PKCS#10 request for it naming the device
 * (iotsec_est_csr_make), the answer decoded (iotsec_est_certs_decode) and accepted only if
 * the certificate is for this key, names this device and chains to the root /cacerts gave,
 * then written with its intermediates to creds/device.crt.enroll; both files then replace
 * creds/device.key and creds/device.crt (key first). */
#include "app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "iotsec/est.h"
#include "iotsec/file.h"
#include "iotsec/keyfile.h"
#include "iotsec/x509.h"

#define EST_PATH "/.well-known/est/"
#define ANSWER_MAX (64u * 1024u)
#define CAS_MAX 16
#define NEW_KEY "creds/device.key.enroll"
#define NEW_CERT "creds/device.crt.enroll"

static void free_certs(X509 **v, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        X509_free(v[i]);
}

/* The bootstrap token: the file's first line (at most 1024 bytes, no NUL). */
static int read_token(const char *path, char *out, size_t cap)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = iotsec_file_read(path, 4096, &buf, &len);

    if (rc != IOTSEC_OK)
        return sim_fail(SIM_IO, rc, "--token-file %s", path);
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        len--;
    if (len == 0 || len >= cap || memchr(buf, '\0', len) != NULL || memchr(buf, '\n', len)) {
        iotsec_zeroize(buf, len);
        free(buf);
        return sim_error(SIM_USAGE, "--token-file %s: one line of 1-1024 characters", path);
    }
    memcpy(out, buf, len);
    out[len] = '\0';
    iotsec_zeroize(buf, len);
    free(buf);
    return SIM_OK;
}

int sim_enroll(const sim_state *st, const char *server, const char *token_file, int renew)
{
    char token[1025] = "", key_path[SIM_PATH_MAX], cert_path[SIM_PATH_MAX];
    char new_key[SIM_PATH_MAX], new_cert[SIM_PATH_MAX], why[IOTSEC_X509_REASON_MAX];
    char serial_hex[2 * IOTSEC_SERIAL_LEN + 1];
    uint8_t *answer = malloc(ANSWER_MAX + 1u), serial[IOTSEC_SERIAL_LEN];
    X509 *cas[CAS_MAX], *got[4], *chain[CAS_MAX + 1];
    size_t n_cas = 0, n_got = 0, n_chain = 0, alen = 0, i, csr_len = 0;
    iotsec_chain_policy cp;
    iotsec_peer_identity id;
    EVP_PKEY *key = NULL;
    sim_net *net = NULL;
    char *csr = NULL;
    long status = 0;
    int rc;

    if (answer == NULL)
        return sim_error(SIM_IO, "out of memory");
    if (!renew && (rc = read_token(token_file, token, sizeof token)) != SIM_OK)
        goto out;
    if ((rc = sim_path(st, SIM_CRED_KEY, key_path)) != SIM_OK ||
        (rc = sim_path(st, SIM_CRED_CERT, cert_path)) != SIM_OK ||
        (rc = sim_path(st, NEW_KEY, new_key)) != SIM_OK ||
        (rc = sim_path(st, NEW_CERT, new_cert)) != SIM_OK)
        goto out;
    rc = renew ? sim_net_open(&net, st, server) : sim_net_open_anonymous(&net, st, server);
    if (rc != SIM_OK)
        goto out;
    /* the CA certificates: the issuing CA first, the root last */
    rc = sim_net_get(net, EST_PATH "cacerts", NULL, answer, ANSWER_MAX, &alen, &status);
    if (rc == SIM_OK && status != 200)
        rc = sim_error(SIM_SERVER_REJECTED, "enroll: /cacerts answered HTTP %ld", status);
    if (rc == SIM_OK && (rc = iotsec_est_certs_decode(answer, alen, cas, CAS_MAX, &n_cas)) !=
                            IOTSEC_OK)
        rc = sim_fail(SIM_REJECTED, rc, "enroll: /cacerts");
    if (rc != SIM_OK)
        goto out;
    /* the key, made here; only the request leaves */
    (void)unlink(new_key);
    rc = iotsec_keygen_files(IOTSEC_SIG_ECDSA_P256, 0, new_key, NULL);
    if (rc == IOTSEC_OK)
        rc = iotsec_x509_key_load_file(new_key, &key);
    if (rc == IOTSEC_OK)
        rc = iotsec_est_csr_make(key, st->device_id, &csr, &csr_len);
    if (rc != IOTSEC_OK) {
        rc = sim_fail(SIM_IO, rc, "enroll: the key and its request");
        goto out;
    }
    if (!renew && (rc = sim_net_basic_auth(net, st->device_id, token)) != SIM_OK)
        goto out;
    rc = sim_net_post(net, renew ? EST_PATH "simplereenroll" : EST_PATH "simpleenroll",
                      "application/pkcs10", (const uint8_t *)csr, csr_len, (char *)answer,
                      ANSWER_MAX + 1u, &alen, &status);
    if (rc != SIM_OK)
        goto out;
    if (status != 200) {
        rc = sim_error(SIM_SERVER_REJECTED, "enroll: the server refused: HTTP %ld %s", status,
                       (const char *)answer);
        goto out;
    }
    rc = iotsec_est_certs_decode(answer, alen, got, 4, &n_got);
    if (rc != IOTSEC_OK) {
        rc = sim_fail(SIM_REJECTED, rc, "enroll: the answer");
        goto out;
    }
    /* for this key, this device, under the root the server named */
    memset(&cp, 0, sizeof cp);
    cp.intermediates = cas;
    cp.intermediate_count = n_cas - 1u;
    if (X509_check_private_key(got[0], key) != 1) {
        rc = sim_error(SIM_REJECTED, "enroll: the certificate is not for the device's key");
        goto out;
    }
    rc = iotsec_x509_identity(got[0], NULL, &id);
    if (rc == IOTSEC_OK && strcmp(id.device_id, st->device_id) != 0)
        rc = IOTSEC_E_IDENTITY_MISMATCH;
    if (rc == IOTSEC_OK)
        rc = iotsec_x509_verify_chain(cas[n_cas - 1u], &cp, got, 1, (int64_t)time(NULL), why,
                                      sizeof why);
    if (rc != IOTSEC_OK) {
        rc = sim_fail(SIM_REJECTED, rc, "enroll: the certificate refused%s%s",
                      why[0] ? ": " : "", why);
        goto out;
    }
    /* the certificate and the intermediates, as the device presents them */
    chain[n_chain++] = got[0];
    for (i = 0; i + 1u < n_cas; i++)
        chain[n_chain++] = cas[i];
    rc = iotsec_x509_certs_write_file(chain, n_chain, new_cert);
    if (rc == IOTSEC_OK && (rename(new_key, key_path) != 0 || rename(new_cert, cert_path) != 0))
        rc = IOTSEC_E_IO;
    if (rc != IOTSEC_OK) {
        rc = sim_fail(SIM_IO, rc, "enroll: installing the key and certificate");
        goto out;
    }
    if (iotsec_x509_serial(got[0], serial) == IOTSEC_OK &&
        iotsec_hex_encode(serial, sizeof serial, serial_hex, sizeof serial_hex) == IOTSEC_OK)
        printf("enroll: %s certificate for %s, serial %s, key made on the device\n",
               renew ? "renewed" : "new", st->device_id, serial_hex);
    rc = SIM_OK;
out:
    if (rc != SIM_OK)
        (void)unlink(new_key);
    iotsec_zeroize(token, sizeof token);
    sim_net_close(net);
    free(csr);
    free(answer);
    EVP_PKEY_free(key);
    free_certs(cas, n_cas);
    free_certs(got, n_got);
    return rc;
}

int sim_enroll_due(const sim_state *st, int64_t now, int64_t renew_before)
{
    char path[SIM_PATH_MAX];
    X509 *certs[CAS_MAX + 1];
    size_t n = 0;
    int days = 0, secs = 0, pdays = 0, psecs = 0, due = 0;
    int64_t left, life;

    if (sim_path(st, SIM_CRED_CERT, path) != SIM_OK ||
        iotsec_x509_certs_load_file(path, certs, CAS_MAX + 1, &n) != IOTSEC_OK)
        return 0;
    /* time left, and the whole lifetime: renew within renew_before of the end, or in the
     * last third of the lifetime when renew_before is 0 */
    if (ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(certs[0])) == 1 &&
        ASN1_TIME_diff(&pdays, &psecs, X509_get0_notBefore(certs[0]),
                       X509_get0_notAfter(certs[0])) == 1) {
        left = (int64_t)days * 86400 + secs;
        life = (int64_t)pdays * 86400 + psecs;
        due = renew_before > 0 ? left < renew_before : left < life / 3;
    }
    (void)now;
    free_certs(certs, n);
    return due;
}
