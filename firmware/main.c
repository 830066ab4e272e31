/*
 * Test firmware for QEMU's mps2-an386 (Cortex-M4), run by `make firmware-check`: every
 * bindings-spec vector through libiotsec with the PSA backend (Mbed TLS, Ed25519 from the
 * libsodium ref10 fallback). Output and exit go through Arm semihosting (picolibc's
 * --oslib=semihost): the exit status is the number of failed checks (capped at 255).
 */
#include <stdio.h>
#include <string.h>

#include "iotsec/iotsec.h"
#include "spec_vectors.h"

/* The stack's lowest bytes are painted before the run; the first unpainted byte gives the
 * deepest use (picolibc.ld's __stack and __stack_size bound the stack). */
extern char __stack[];
extern char __stack_size[];

static void report(void *ctx, const char *group, const char *name, const char *what, int got,
                   int want)
{
    const char *g = iotsec_error_name(got), *w = iotsec_error_name(want);

    (void)ctx;
    printf("FAIL: %s %s: %s: got %s, want %s\n", group, name, what, g ? g : "?", w ? w : "?");
}

__attribute__((noinline)) static void paint_stack(void)
{
    char *sp = (char *)__builtin_frame_address(0); /* below: free stack */
    char *low = __stack - (size_t)__stack_size;
    char *p;

    for (p = low; p + 256 < sp; p++)
        *p = (char)0xa5;
}

static size_t stack_used(void)
{
    char *low = __stack - (size_t)__stack_size;
    char *p = low;

    while (p < __stack && *p == (char)0xa5)
        p++;
    return (size_t)(__stack - p);
}

int main(void)
{
    const iotsec_crypto *c = iotsec_crypto_psa();
    spec_counts n = {0, 0};

    paint_stack();
    if (c == NULL || !iotsec_crypto_has(c, IOTSEC_CAP_ED25519 | IOTSEC_CAP_AES_CBC |
                                               IOTSEC_CAP_ECDSA_P256 | IOTSEC_CAP_RSA_PSS)) {
        printf("firmware: the psa backend (with its Ed25519 fallback) is missing\n");
        return 1;
    }
    spec_vectors_run(c, &n, report, NULL);
    printf("firmware: libiotsec %s, backend %s (+ %s for Ed25519), peak stack %u bytes\n",
           iotsec_version(), c->name, c->fallback != NULL ? c->fallback->name : "none",
           (unsigned)stack_used());
    printf("firmware: %u passed, %u failed\n", n.passed, n.failed);
    return n.failed > 255u ? 255 : (int)n.failed;
}
