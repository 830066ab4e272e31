/*
 * iotsec CLI — shared helpers for the subcommands (tools/iotsec/cmd_*.c).
 *
 * Exit codes (docs/DESIGN.md §9): 0 accepted/success; 1 input rejected (malformed, failed
 * authentication, failed policy; stderr names the IOTSEC_E_* code); 2 usage, including a
 * secret file of the wrong length; 3 I/O.
 */
#ifndef IOTSEC_CLI_H
#define IOTSEC_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

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

/* ---- the "-" convention -------------------------------------------------------------------
 * A file argument "-" names standard input (for an input) or standard output (for an
 * output). Standard input can be read by one argument per invocation and standard output
 * written by one: a subcommand claims each "-" it is given (and the stream it uses when an
 * argument is left out, e.g. `frame open` reading the frame from stdin), and a second claim
 * is a usage error. Input read from "-" has the same size bound as a file. */

/* Is path "-"? */
int cli_is_dash(const char *path);
/* The name to print for an input / output path: "standard input" / "standard output" for
 * "-", otherwise path. */
const char *cli_in(const char *path);
const char *cli_out(const char *path);

/* Which argument has claimed standard input and standard output (NULL: none yet). */
typedef struct cli_stdio {
    const char *in, *out;
} cli_stdio;

/* If path is "-", claim standard input (or output) for the argument named what (e.g.
 * "--secret"). Returns 0, or 2 with a usage message naming both arguments if another
 * argument claimed it already. */
int cli_claim_stdin(const char *cmd, cli_stdio *s, const char *what, const char *path);
int cli_claim_stdout(const char *cmd, cli_stdio *s, const char *what, const char *path);
/* Where informational lines go: stdout, or stderr when standard output carries data. */
FILE *cli_info(const cli_stdio *s);
/* A usage error (2) if path is "-" and standard output is a terminal: a secret (private
 * key, raw secret) is not written to a screen and its scrollback. */
int cli_refuse_terminal(const char *cmd, const char *what, const char *path);

/* Read all of path, or of standard input if path is "-" (at most max bytes, max <
 * SIZE_MAX), into a new malloc'd buffer with a NUL appended past *len; a buffer that is
 * grown is zeroized before it is freed. Library codes: IOTSEC_OK, IOTSEC_E_IO (errno kept),
 * IOTSEC_E_BAD_LENGTH (more than max bytes), IOTSEC_E_NO_MEMORY, IOTSEC_E_INVALID_ARG. A
 * path that is not "-" is read by iotsec_file_read (regular files only). */
int cli_input(const char *path, size_t max, uint8_t **buf, size_t *len);
/* Zeroize and free a buffer (NULL is harmless). */
void cli_free_secret(uint8_t *buf, size_t len);
/* As cli_input, printing the error: returns 0, 1 (larger than max: rejected input) or 3. */
int cli_read_file(const char *path, size_t max, uint8_t **buf, size_t *len);
/* Read a raw secret of exactly len bytes from a file or "-". Returns 0; 2 if it has
 * another length (the message says which); 3 if unreadable. */
int cli_read_secret(const char *path, uint8_t *out, size_t len);
/* Open path for streaming (rb), or return stdin for "-"; NULL with errno set on failure.
 * Close with cli_stream_close (stdin stays open). */
FILE *cli_stream_open(const char *path);
void cli_stream_close(FILE *f);

/* Write all of data to stdout and flush. Returns 0 or 3. */
int cli_write_stdout(const void *data, size_t len);
/* Write data to path: "-" is standard output; an existing path that is not a regular file
 * (a device such as /dev/null, a FIFO) is written in place; anything else is replaced
 * atomically (iotsec_file_write_atomic) with the given mode. Returns 0 or 3. */
int cli_write_output(const char *path, const void *data, size_t len, unsigned mode);
/* Refuse to overwrite path unless force ("-" is never refused); returns 0 or 3. */
int cli_check_overwrite(const char *path, int force);

/* Output through a library function that writes a named file (key generation,
 * certificates, CRLs): for "-" the library writes a file in a new private directory
 * (mode 0700, under $TMPDIR or /tmp), which cli_spool_finish copies to standard output
 * and removes. */
typedef struct cli_spool {
    char dir[4096];  /* the temporary directory; "" when path is not "-" */
    char file[4200]; /* the file in it */
} cli_spool;
/* The path to give the library: path itself, or for "-" a file name in a new temporary
 * directory. NULL on failure (message printed: exit 3). */
const char *cli_spool_path(cli_spool *sp, const char *path, const char *name);
/* If spooled: when ok, copy the file to standard output (the in-memory copy is zeroized);
 * in any case remove the file and the directory. Returns 0, or 3 if the copy failed. */
int cli_spool_finish(cli_spool *sp, int ok);

/* Loaders that accept "-": a file path goes to the library's file function, "-" is read
 * with the same size bound and decoded by the library. They return library codes. */
#define CLI_KEY_FILE_MAX (64u * 1024u)       /* key files (keyfile.h) */
#define CLI_DENYLIST_MAX (64u * 1024u * 1024u) /* denylist files (revocation.h) */
int cli_pubkey_load(iotsec_pubkey *pk, const iotsec_crypto *crypto, const char *path);
int cli_privkey_load(iotsec_privkey *sk, const iotsec_crypto *crypto, const char *path);
int cli_cert_load(const char *path, struct x509_st **out);
/* A chain file (1..cap certificates, iotsec_x509_certs_decode) or "-". */
int cli_certs_load(const char *path, struct x509_st **out, size_t cap, size_t *n);
int cli_crl_add(iotsec_revocation *rs, const char *path, int64_t now);
int cli_denylist_add(iotsec_revocation *rs, const char *path, size_t *err_line);

/* Subcommands: argv[0] is the subcommand name. */
int cmd_version(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_secret(int argc, char **argv);
int cmd_frame(int argc, char **argv);
int cmd_manifest(int argc, char **argv);
int cmd_ca(int argc, char **argv);
int cmd_crl(int argc, char **argv);

/* ---- cmd_ca.c: the records of a CA directory (CA_DIR/index) ------------------------------
 * Also linked by tests/fuzz/fuzz_ca_index.c (from $(BUILD)/internal/libiotsec-cli.a). */
struct record {
    uint8_t serial[IOTSEC_SERIAL_LEN];
    uint64_t not_after;
    uint64_t revoked_at; /* 0 = not revoked */
    char kind;           /* 'd' device, 's' server */
    char name[IOTSEC_DEVICE_ID_MAX + 1];
};

struct ca_dir {
    const char *dir;
    struct x509_st *cert;    /* X509 */
    struct evp_pkey_st *key; /* EVP_PKEY */
    struct record *recs;
    size_t n, cap;
    uint64_t crl_number;
    int lock_fd1; /* CA_DIR/lock, held (flock) while open, + 1; 0: none. The backend's
                     enrollment appends to the index under the same lock. */
};

/* Append the records of ca->dir/index to ca (a damaged record or line is rejected with a
 * message naming it). Returns 0, 1 (rejected), 2 or 3. */
int load_index(struct ca_dir *ca);
/* Rewrite ca->dir/index atomically with ca's records. Returns 0, 2 or 3. */
int save_index(const struct ca_dir *ca);
/* Free what ca holds and clear it. */
void ca_close(struct ca_dir *ca);

#endif
