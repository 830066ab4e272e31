/*
 * libiotsec — the registry of the crypto backends this build has (include/iotsec/crypto.h:
 * iotsec_crypto_openssl, iotsec_crypto_sodium, iotsec_crypto_psa, iotsec_crypto_default, iotsec_crypto_by_name).
 * Which adapters exist is decided at build time (make BACKENDS="openssl sodium", recorded in
 * iotsec/config.h); a build with none is refused here, so iotsec_crypto_default() can keep
 * its promise of never returning NULL.
 */
#include <string.h>

#include "iotsec/config.h"
#include "iotsec/crypto.h"

#include "backends.h"

#if !IOTSEC_HAVE_OPENSSL && !IOTSEC_HAVE_SODIUM && !IOTSEC_HAVE_PSA
#error "libiotsec needs at least one crypto backend (make BACKENDS=\"openssl sodium psa\")"
#endif

/* Every built backend, most capable first: the first entry is the default. */
static const iotsec_crypto *const registry[] = {
#if IOTSEC_HAVE_OPENSSL
    &iotsec_backend_openssl,
#endif
#if IOTSEC_HAVE_PSA
    &iotsec_backend_psa,
#endif
#if IOTSEC_HAVE_SODIUM
    &iotsec_backend_sodium,
#endif
};

const iotsec_crypto *iotsec_crypto_openssl(void)
{
#if IOTSEC_HAVE_OPENSSL
    return &iotsec_backend_openssl;
#else
    return NULL;
#endif
}

const iotsec_crypto *iotsec_crypto_sodium(void)
{
#if IOTSEC_HAVE_SODIUM
    return &iotsec_backend_sodium;
#else
    return NULL;
#endif
}

const iotsec_crypto *iotsec_crypto_psa(void)
{
#if IOTSEC_HAVE_PSA
    return &iotsec_backend_psa;
#else
    return NULL;
#endif
}

const iotsec_crypto *iotsec_crypto_default(void)
{
    return registry[0];
}

const iotsec_crypto *iotsec_crypto_by_name(const char *name)
{
    size_t i;

    if (name == NULL)
        return NULL;
    for (i = 0; i < sizeof registry / sizeof registry[0]; i++)
        if (strcmp(registry[i]->name, name) == 0)
            return registry[i];
    return NULL;
}
