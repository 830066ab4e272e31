/*
 * Shared helpers for the Check suites in tests/unit/.
 *
 * Every suite runs per backend: add tests with tu_add_backend_test(tc, fn), and inside the
 * test use tu_backend(_i) (the loop index Check passes) to get the backend. A test that needs
 * a capability the backend lacks asserts the documented IOTSEC_E_UNSUPPORTED instead.
 */
#ifndef IOTSEC_TESTUTIL_H
#define IOTSEC_TESTUTIL_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

#include "iotsec/iotsec.h"

/* Number of backends built, and the i-th one (0 ≤ i < tu_backend_count()). */
int tu_backend_count(void);
const iotsec_crypto *tu_backend(int i);
/* Add fn as a loop test over every backend. */
#define tu_add_backend_test(tc, fn) tcase_add_loop_test((tc), (fn), 0, tu_backend_count())

/* Decode hex (whitespace ignored) into a malloc'd buffer; aborts the test on bad input. */
uint8_t *tu_hex(const char *hex, size_t *len);
/* Fill buf with a deterministic pattern seeded by seed. */
void tu_pattern(uint8_t *buf, size_t len, uint32_t seed);

/* A fresh temporary directory (removed by tu_tmpdir_cleanup); path returned is static per
 * call site's buffer. */
void tu_tmpdir(char *out, size_t cap);
void tu_tmpdir_cleanup(const char *dir);
/* Write data to dir/name; returns the full path in out. */
void tu_write_file(const char *dir, const char *name, const void *data, size_t len, char *out,
                   size_t cap);
/* Read a whole file (malloc'd). */
uint8_t *tu_read_file(const char *path, size_t *len);
/* Run a shell command (sh -c); returns its exit status, or -1 if it did not exit. Output
 * goes to the test's stderr unless redirected in cmd. */
int tu_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Run a suite built by make_suite (CK_ENV respected) and return the process exit status. */
int tu_run_suite(Suite *s);

#endif
