/*
 * Mbed TLS 2.28 configuration of the firmware build (make firmware): the PSA Crypto core
 * with exactly what libiotsec's PSA backend (libiotsec/crypto/psa.c) uses — SHA-256,
 * HMAC, AES-CBC, ECDSA P-256, RSA-PSS — and nothing of TLS, X.509, files, time or threads.
 * Passed with -DMBEDTLS_CONFIG_FILE to Mbed TLS's sources and to every file that includes
 * psa/crypto.h.
 *
 * Entropy: a microcontroller has a TRNG and supplies mbedtls_hardware_poll() for it
 * (MBEDTLS_ENTROPY_HARDWARE_ALT). QEMU's mps2-an386 has none: the test firmware supplies a
 * TEST-ONLY source (firmware/test_entropy.c) that must never be linked into a product.
 */
#ifndef IOTSEC_FIRMWARE_MBEDTLS_CONFIG_H
#define IOTSEC_FIRMWARE_MBEDTLS_CONFIG_H

/* platform */
#define MBEDTLS_HAVE_ASM
#define MBEDTLS_PLATFORM_C
#define MBEDTLS_NO_PLATFORM_ENTROPY
#define MBEDTLS_ENTROPY_HARDWARE_ALT
#define MBEDTLS_ENTROPY_FORCE_SHA256 /* no SHA-512 in this build */
#define MBEDTLS_AES_ROM_TABLES       /* AES tables in flash, not 8.7 KB of RAM */

/* primitives */
#define MBEDTLS_AES_C
#define MBEDTLS_CIPHER_C
#define MBEDTLS_CIPHER_MODE_CBC
#define MBEDTLS_SHA256_C
#define MBEDTLS_MD_C /* PSA_WANT_ALG_HMAC needs it */
#define MBEDTLS_BIGNUM_C
#define MBEDTLS_ECP_C
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED
#define MBEDTLS_ECP_NIST_OPTIM
#define MBEDTLS_ECDSA_C
#define MBEDTLS_RSA_C
#define MBEDTLS_PKCS1_V21
#define MBEDTLS_OID_C
#define MBEDTLS_ASN1_PARSE_C
#define MBEDTLS_ASN1_WRITE_C
#define MBEDTLS_PK_C       /* PSA's RSA import and export go through pk in 2.28 */
#define MBEDTLS_PK_PARSE_C
#define MBEDTLS_PK_WRITE_C

/* random: entropy (the hardware hook) into CTR_DRBG */
#define MBEDTLS_ENTROPY_C
#define MBEDTLS_CTR_DRBG_C

/* the PSA Crypto core, volatile keys only (no storage, no ITS) */
#define MBEDTLS_PSA_CRYPTO_C
#define MBEDTLS_PSA_KEY_SLOT_COUNT 16

#include "mbedtls/check_config.h"

#endif
