/*
 * libiotsec — POSIX file helpers (libiotsec/posix/): bounded reads and durable writes.
 *
 * Plumbing for the ports and front-ends: read a whole file with a size limit, read a raw
 * secret of an exact length, and replace a file atomically (temporary file, fsync, rename,
 * fsync of the directory) with a chosen mode. Not available in firmware builds.
 */
#ifndef IOTSEC_FILE_H
#define IOTSEC_FILE_H

#include "iotsec/config.h"
#if !IOTSEC_HAVE_POSIX
#error "iotsec/file.h: this libiotsec build does not have the POSIX port (libiotsec/port/posix/) (IOTSEC_HAVE_POSIX is 0 in iotsec/config.h)"
#endif

#include <stddef.h>
#include <stdint.h>

#include "iotsec/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Read all of path (at most max_len bytes) into a new malloc'd buffer (*buf, free() it;
 * a NUL is appended past *len for text use). Errors: IOTSEC_E_INVALID_ARG, IOTSEC_E_IO
 * (cannot open or read; errno is kept), IOTSEC_E_BAD_LENGTH (larger than max_len),
 * IOTSEC_E_NO_MEMORY. */
IOTSEC_API int iotsec_file_read(const char *path, size_t max_len, uint8_t **buf, size_t *len);

/* Read a raw secret that must be exactly len bytes (frame master secret 32, legacy MAC key
 * 32, legacy encryption key 16, firmware key 32). Errors: IOTSEC_E_IO, IOTSEC_E_BAD_LENGTH
 * (file size differs from len), IOTSEC_E_INVALID_ARG. */
IOTSEC_API int iotsec_file_read_secret(const char *path, uint8_t *out, size_t len);

/* Atomically replace path with data[0..len) created with mode (e.g. 0600 for secrets):
 * write a temporary file "<path>.tmp.XXXXXX" (a fresh unique name, created exclusively) in
 * the same directory, fsync, rename over path, fsync the directory. A temporary left behind
 * by a power cut never blocks a later write; removing such leftovers is the caller's
 * choice. Errors: IOTSEC_E_IO, IOTSEC_E_INVALID_ARG. */
IOTSEC_API int iotsec_file_write_atomic(const char *path, const void *data, size_t len,
                                        unsigned mode);

#ifdef __cplusplus
}
#endif

#endif
