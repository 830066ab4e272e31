/*
 * iotsec CLI — signing through a PKCS#11 module (docs/DESIGN.md §9): `iotsec manifest sign
 * --pkcs11-module LIB --key 'pkcs11:token=T;object=O'`. The module is dlopen'ed and called
 * through its C_GetFunctionList; the header is p11-kit's (libp11-kit-dev); no OpenSSL here.
 * Functions return CLI exit codes and print their messages ("iotsec: pkcs11: ...").
 */
#ifndef IOTSEC_CLI_PKCS11_H
#define IOTSEC_CLI_PKCS11_H

#include <stddef.h>
#include <stdint.h>

#include "iotsec/iotsec.h"

struct p11_signer;

/* Load module, find the token and the private key the RFC 7512 URI names, log in with the
 * PIN of pin_file (first line) or of the URI (pin-value, pin-source). Returns CLI_OK and
 * *out, or 2 (usage: a bad URI, no PIN), 1 (no such token or object, a wrong PIN, a key
 * type not supported) or 3 (the module cannot be loaded or the PIN file read). */
int p11_open_signer(const char *module, const char *uri, const char *pin_file,
                    struct p11_signer **out);
/* The public key of the private key: from the token's public key object with the same
 * CKA_ID (or label), or an RSA private key's modulus and exponent. */
int p11_public_key(struct p11_signer *p, const iotsec_crypto *crypto, iotsec_pubkey *pk);
/* Sign: Ed25519 (CKM_EDDSA) over msg; ECDSA P-256 (CKM_ECDSA, raw r||s) and RSA-PSS
 * (CKM_RSA_PKCS_PSS, SHA-256, MGF1-SHA-256, salt 32) over msg = a SHA-256 digest. alg must
 * be the key's. */
int p11_sign(struct p11_signer *p, iotsec_sig_alg alg, const uint8_t *msg, size_t len,
             uint8_t *sig, size_t cap, size_t *sig_len);
/* Log out, close, unload (NULL is harmless). */
void p11_close(struct p11_signer *p);

#endif
