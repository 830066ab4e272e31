/* libiotsec — internal helpers of libiotsec/x509/keyfile.c shared with libiotsec/x509/
 * (not installed, not exported: the library is built with -fvisibility=hidden). */
#ifndef IOTSEC_POSIX_KEYFILE_INT_H
#define IOTSEC_POSIX_KEYFILE_INT_H

#include <stddef.h>
#include <stdint.h>

/* Read the private key file at path (at most 64 KiB; PEM or DER, PKCS#8 or traditional) and
 * return it as PKCS#8 DER in a new buffer (*der, *der_len; release it with
 * iotsec_posix_secret_free). The file's bytes are zeroized before they are freed. Errors:
 * those of iotsec_file_read and iotsec_privkey_decode. */
int iotsec_posix_privkey_file_der(const char *path, uint8_t **der, size_t *der_len);

/* Zeroize len bytes at p and free(p). Harmless on NULL. */
void iotsec_posix_secret_free(uint8_t *p, size_t len);

#endif
