/*
 * iotsec CLI — shared helpers for the subcommands (tools/iotsec/cmd_*.c).
 *
 * Exit codes (DESIGN.md §9): 0 accepted/success; 1 input rejected (malformed, failed
 * authentication, failed policy; stderr names the IOTSEC_E_* code); 2 usage, including a
 * secret file of the wrong length; 3 I/O.
 */
#ifndef IOTSEC_CLI_H
#define IOTSEC_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "iotsec/iotsec.h"

enum { CLI_OK = 0, CLI_REJECTED = 1, CLI_USAGE = 2, CLI_IO = 3 };

/* Maximum input read from stdin or a file by a subcommand (frames, manifests). */
#define CLI_INPUT_MAX (1u << 20)

/* The backend to use: $IOTSEC_BACKEND ("openssl", "psa", "sodium") or the default. Prints an error
 * and returns NULL if the named backend is not built. */
const iotsec_crypto *cli_crypto(void);

/* Exit code for a library error: IOTSEC_E_IO → 3, IOTSEC_E_INVALID_ARG → 2, others → 1. */
int cli_exit_code(int rc);
/* Print "iotsec: <context>: IOTSEC_E_NAME: text" on stderr; return cli_exit_code(rc). */
int cli_fail(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print "iotsec: <message>" and "Try 'iotsec <cmd> --help'." on stderr; return 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print "iotsec: <message>" on stderr (no code); return code. */
int cli_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parse a decimal option value (strict, ≤ max); prints a usage error naming opt on failure.
 * Returns 0 on success, 2 on error. */
int cli_parse_u64(const char *cmd, const char *opt, const char *s, uint64_t max, uint64_t *out);

/* Read all of stdin (≤ max bytes) into a malloc'd buffer. Returns 0, 1 (more than max bytes:
 * rejected input) or 3 (I/O). */
int cli_read_stdin(uint8_t **buf, size_t *len, size_t max);
/* Write all of data to stdout and flush. Returns 0 or 3. */
int cli_write_stdout(const void *data, size_t len);
/* Read a file (≤ max bytes). Returns 0, 1 (larger than max: rejected input) or 3 (I/O),
 * with a message naming path. */
int cli_read_file(const char *path, size_t max, uint8_t **buf, size_t *len);
/* Read a raw secret of exactly len bytes. Returns 0; 2 if the file has another length
 * (message says which); 3 if unreadable. */
int cli_read_secret(const char *path, uint8_t *out, size_t len);
/* Refuse to overwrite path unless force; returns 0 or 3 with a message. */
int cli_check_overwrite(const char *path, int force);

/* Subcommands: argv[0] is the subcommand name. */
int cmd_version(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_secret(int argc, char **argv);
int cmd_frame(int argc, char **argv);
int cmd_manifest(int argc, char **argv);
int cmd_ca(int argc, char **argv);
int cmd_crl(int argc, char **argv);

#endif
