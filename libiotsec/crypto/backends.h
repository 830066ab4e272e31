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
#if IOTSEC_HAVE_PSA
extern const iotsec_crypto iotsec_backend_psa; /* libiotsec/crypto/psa.c */
#endif

/* Composition (docs/DESIGN.md §2, crypto.h: struct iotsec_crypto.fallback): PSA has no Ed25519,
 * so the PSA table names libsodium's as its fallback when this build has both (on a host,
 * Debian's libsodium; in firmware, libsodium's ref10 sources compiled in). Decided here,
 * beside the registry, so psa.c names no other backend. */
#if IOTSEC_HAVE_PSA
#if IOTSEC_HAVE_SODIUM
#define IOTSEC_PSA_FALLBACK (&iotsec_backend_sodium)
#else
#define IOTSEC_PSA_FALLBACK NULL
#endif
#endif

#endif
