/*
 * libiotsec — the POSIX file port of the sender counter (libiotsec/port/posix/counter_file.c):
 * the two 20-byte counter record slots of counter.h in one file, written with pwrite and
 * made durable with fsync. Present in host builds (iotsec/config.h IOTSEC_HAVE_POSIX);
 * firmware supplies its own iotsec_counter_port over flash or NVS.
 */
#ifndef IOTSEC_COUNTER_FILE_H
#define IOTSEC_COUNTER_FILE_H

#include "iotsec/config.h"
#if !IOTSEC_HAVE_POSIX
#error "iotsec/counter_file.h: this libiotsec build does not have the POSIX port (libiotsec/port/posix/) (IOTSEC_HAVE_POSIX is 0 in iotsec/config.h)"
#endif

#include "iotsec/counter.h"
#include "iotsec/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A file holding slot 0 at offset 0 and slot 1 at offset 20 (40 bytes once both were
 * written). A missing file is created with O_CREAT | O_EXCL, mode 0600 and its directory
 * entry made durable; a short file reads as blank (0xFF) slots; writes are pwrite at the
 * slot's offset and flush is fsync. */
typedef struct iotsec_counter_file {
    int fd; /* -1 when closed */
} iotsec_counter_file;

/* Open (creating if missing) the counter file at path and fill *port with hooks on f (f must
 * outlive every iotsec_counter using port). Symbolic links are refused (O_NOFOLLOW).
 * Errors: IOTSEC_E_INVALID_ARG (NULL); IOTSEC_E_IO (cannot open or create — errno is kept —,
 * not a regular file, writable by group or others, or owned by another user);
 * IOTSEC_E_CORRUPT (longer than 40 bytes: not a counter file, left untouched). */
IOTSEC_API IOTSEC_MUST_CHECK int iotsec_counter_file_open(iotsec_counter_file *f,
                                                          const char *path,
                                                          iotsec_counter_port *port);

/* Close the file (idempotent; f->fd becomes −1). Every completed iotsec_counter_next was
 * already flushed, so nothing is lost. */
IOTSEC_API void iotsec_counter_file_close(iotsec_counter_file *f);

#ifdef __cplusplus
}
#endif

#endif
