/*
 * libiotsec — the backend tables this directory defines (internal, not installed). Each
 * adapter (openssl.c, sodium.c, ...) defines one const table with designated initialisers;
 * registry.c is the only reader, and the only place that knows which adapters were built
 * (iotsec/config.h). The core (libiotsec/core/) never names a backend.
 */
#ifndef IOTSEC_CRYPTO_BACKENDS_H
#define IOTSEC_CRYPTO_BACKENDS_H

#include "iotsec/config.h"
#include "iotsec/crypto.h"

#if IOTSEC_HAVE_OPENSSL
extern const iotsec_crypto iotsec_backend_openssl; /* libiotsec/crypto/openssl.c */
#endif
#if IOTSEC_HAVE_SODIUM
extern const iotsec_crypto iotsec_backend_sodium; /* libiotsec/crypto/sodium.c */
#endif

#endif
