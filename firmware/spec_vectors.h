/*
 * The bindings-spec vectors as a C test, for the test firmware (firmware/main.c on QEMU) and
 * the host (tests/unit/test_spec_vectors.c): firmware/spec_vectors.c runs every vector of
 * bindings-spec/vectors/ with one crypto backend and counts checks passed and failed.
 */
#ifndef IOTSEC_FIRMWARE_SPEC_VECTORS_H
#define IOTSEC_FIRMWARE_SPEC_VECTORS_H

#include "iotsec/crypto.h"

typedef struct spec_counts {
    unsigned passed;
    unsigned failed;
} spec_counts;

/* Called for each failed check: the vector group and name, what was checked, the code got
 * and the one wanted (0 and 0 when the check compares bytes). */
typedef void (*spec_report_fn)(void *ctx, const char *group, const char *name, const char *what,
                               int got, int want);

/* Run every vector with crypto, adding to *counts; report (may be NULL) hears each failure.
 * Not reentrant: static buffers (the device has no heap to spare for them). */
void spec_vectors_run(const iotsec_crypto *crypto, spec_counts *counts, spec_report_fn report,
                      void *ctx);

#endif
