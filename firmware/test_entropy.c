/*
 * TEST-ONLY entropy for QEMU, which emulates no TRNG: Mbed TLS's MBEDTLS_ENTROPY_HARDWARE_ALT
 * hook filled from a counter and the SysTick-free cycle of a xorshift generator. It is NOT
 * random. It exists so the test firmware's PSA RNG (ECDSA nonces, RSA-PSS salts, IVs) runs
 * at all; a product supplies mbedtls_hardware_poll() from its TRNG instead and never links
 * this file (the Makefile links it only into build/firmware/iotsec-test.elf).
 */
#include <stddef.h>
#include <string.h>

int mbedtls_hardware_poll(void *data, unsigned char *output, size_t len, size_t *olen);

int mbedtls_hardware_poll(void *data, unsigned char *output, size_t len, size_t *olen)
{
    static unsigned long long x = 0x9e3779b97f4a7c15ull;
    size_t i;

    (void)data;
    for (i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        output[i] = (unsigned char)(x >> 32);
    }
    *olen = len;
    return 0;
}
