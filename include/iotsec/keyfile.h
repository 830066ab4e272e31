/*
 * libiotsec — key files (libiotsec/posix/, OpenSSL build).
 *
 * Private keys are written as PKCS#8 PEM ("PRIVATE KEY", RFC 5958 / RFC 7468) with mode
 * 0600, public keys as SubjectPublicKeyInfo PEM ("PUBLIC KEY"). On input PEM or DER is
 * accepted, PKCS#8 or traditional ("RSA PRIVATE KEY", "EC PRIVATE KEY") for private keys,
 * SPKI or PKCS#1 ("RSA PUBLIC KEY") for public keys, and a certificate's public key
 * ("CERTIFICATE"). Encrypted private keys are refused (no passphrase prompt in a library).
 * The input is classified first (DER: the outer SEQUENCE's shape; PEM: the label of the
 * first block with a label read here, other blocks and text being passed over) and one
 * parser reads it; no other format is tried: Microsoft MSBLOB and PVK files, other PEM
 * labels and DER of another shape are IOTSEC_E_BAD_KEY.
 * The loaded key can live in any backend: a key file parsed by OpenSSL is handed to the
 * backend as DER, so an Ed25519 key file works with libsodium too.
 */
#ifndef IOTSEC_KEYFILE_H
#define IOTSEC_KEYFILE_H

#include "iotsec/config.h"
#if !IOTSEC_HAVE_X509
#error "iotsec/keyfile.h: this libiotsec build does not have the OpenSSL X.509 part (libiotsec/x509/) (IOTSEC_HAVE_X509 is 0 in iotsec/config.h)"
#endif

#include <stddef.h>
#include <stdint.h>

#include "iotsec/crypto.h"
#include "iotsec/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Convert a public key file's contents (PEM or DER, as above) to canonical SPKI DER in a
 * new malloc'd buffer (*der, free() it). Errors: IOTSEC_E_BAD_KEY (no key found, trailing
 * garbage in DER, a format or shape not read here, an encrypted key), IOTSEC_E_UNSUPPORTED
 * (key type we do not use), IOTSEC_E_NO_MEMORY. */
IOTSEC_API int iotsec_pubkey_decode(const uint8_t *in, size_t in_len, uint8_t **der,
                                    size_t *der_len);
/* Convert a private key file's contents (PEM or DER) to PKCS#8 DER in a new malloc'd buffer
 * (*der; the caller zeroizes and frees it). Errors as iotsec_pubkey_decode. */
IOTSEC_API int iotsec_privkey_decode(const uint8_t *in, size_t in_len, uint8_t **der,
                                     size_t *der_len);

/* Load a public / private key file into crypto. Errors: IOTSEC_E_IO (cannot read),
 * IOTSEC_E_BAD_LENGTH (file over 64 KiB), and those of the decode and load functions. */
IOTSEC_API int iotsec_pubkey_load_file(iotsec_pubkey *pk, const iotsec_crypto *crypto,
                                       const char *path);
IOTSEC_API int iotsec_privkey_load_file(iotsec_privkey *sk, const iotsec_crypto *crypto,
                                        const char *path);

/* Generate a key pair: IOTSEC_SIG_ED25519 (bits ignored), IOTSEC_SIG_ECDSA_P256 (bits
 * ignored), IOTSEC_SIG_RSA_PSS (bits 2048, 3072 or 4096; the key is rsaEncryption). Writes
 * the private key as PKCS#8 PEM to priv_path (mode 0600, atomically) and, if pub_path is not
 * NULL, the public key as SPKI PEM (mode 0644). Errors: IOTSEC_E_INVALID_ARG (alg or bits),
 * IOTSEC_E_BACKEND, IOTSEC_E_IO. */
IOTSEC_API int iotsec_keygen_files(iotsec_sig_alg alg, unsigned bits, const char *priv_path,
                                   const char *pub_path);

#ifdef __cplusplus
}
#endif

#endif
