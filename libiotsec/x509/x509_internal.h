/* libiotsec — helpers shared by the files of libiotsec/x509/ (not installed, not exported:
 * the library is built with -fvisibility=hidden and these carry no IOTSEC_API). */
#ifndef IOTSEC_X509_INTERNAL_H
#define IOTSEC_X509_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/asn1.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "iotsec/x509.h"

/* ASN1_TIME (UTCTime or GeneralizedTime) → Unix seconds. IOTSEC_E_BAD_ENCODING if it does
 * not parse. */
int iotsec_x509i_time_to_unix(const ASN1_TIME *t, int64_t *out);
/* Unix seconds → a new ASN1_TIME (UTCTime before 2050, GeneralizedTime after), or NULL. */
ASN1_TIME *iotsec_x509i_time_from_unix(int64_t t);

/* A serial number → the IOTSEC_SERIAL_LEN index key. IOTSEC_E_BAD_VALUE for a zero,
 * negative or over-20-byte serial. */
int iotsec_x509i_serial_key(const ASN1_INTEGER *serial, uint8_t out[IOTSEC_SERIAL_LEN]);

/* The IOTSEC_E_* code for an X509_V_ERR_* value (X509_V_OK → IOTSEC_OK). */
int iotsec_x509i_err_code(int x509_err);

/* The verify flags and purpose every device-certificate check uses. */
#define IOTSEC_X509I_VERIFY_FLAGS X509_V_FLAG_X509_STRICT
#define IOTSEC_X509I_DEPTH 1 /* leaf + the device CA */

/* A new X509_STORE trusting ca alone, with the flags, depth and TLS-client purpose above. */
X509_STORE *iotsec_x509i_store_new(X509 *ca);

/* After OpenSSL accepted the chain of sctx: the leaf must be issued directly by ca (chain of
 * exactly leaf + ca) and must not be a CA. Returns X509_V_OK or the X509_V_ERR_* to
 * report. */
int iotsec_x509i_chain_check(X509_STORE_CTX *sctx, X509 *ca);

/* 1 if in[0..len) should be read as DER (it starts with a SEQUENCE tag), 0 for PEM. */
int iotsec_x509i_is_der(const uint8_t *in, size_t len);

#endif
