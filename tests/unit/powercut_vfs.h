/*
 * A SQLite VFS for power-cut tests (tests only, not part of libiotsec).
 *
 * "powercut" wraps the default VFS (unix) and keeps, for every file it sees, a model of what
 * a disk would hold after a power cut, in the way of SQLite's own crash tests (src/test6.c):
 *
 *  - Data. Writes and truncates go through to the real file at once (so reads, locks and the
 *    WAL index behave exactly as with unix), and each is also recorded in a per-file list of
 *    operations since that file's last xSync. xSync applies the list to the file's DURABLE
 *    IMAGE (an in-memory copy of what the disk holds for sure) and empties it. The real
 *    fsync is not called (the model alone decides what is durable; tests run fast on any
 *    file system) unless PCV_REAL_SYNC is given.
 *  - Names. Whether a directory entry survives is modelled too: a file created through
 *    xOpen, or removed through xDelete, changes the durable directory only at the next
 *    directory sync, which happens where the unix VFS does one: the first xSync of a file
 *    it created as a rollback journal, super-journal or WAL (unixOpen's UNIXFILE_DIRSYNC),
 *    and xDelete with dirSync set. A directory sync makes every earlier creation and
 *    removal in that directory durable (as an ext4 journal commit does). A file that already
 *    exists when the VFS first sees it (libiotsec creates the database itself and syncs its
 *    directory) counts as durable, content and name.
 *  - The cut. Write events (xWrite and xTruncate, counted across all files from pcv_arm)
 *    are numbered from 1; at event number cut_at the power goes as that write reaches the
 *    disk's cache: it is recorded as pending (never synced), the call fails with
 *    SQLITE_IOERR_WRITE (or _TRUNCATE) and, from then on, every call that could touch the
 *    disk fails with an
 *    SQLITE_IOERR_* code (xClose, xUnlock and unlocking xShmLock still run, so the caller
 *    can close its connections; xShmUnmap never deletes). The process is otherwise left
 *    running, as if frozen: nothing it does later reaches the modelled disk.
 *  - Or a frozen process. pcv_on_write registers a function called after every write
 *    event (the write is then pending: in the disk's cache, not synced). A test forks
 *    there: the child is the machine at the instant the power went — it never returns into
 *    SQLite — and writes the modelled disk into a directory of its own with
 *    pcv_materialize_to, while the parent goes on undisturbed.
 *  - Reboot. After the caller closed every connection, pcv_materialize rewrites the real
 *    files as the disk would be after the cut: every name in the durable directory gets
 *    its file's durable image (a removed but not yet durably removed file comes back), every
 *    other name the VFS created is removed, and each database's -shm file is removed (the
 *    WAL index is volatile: SQLite rebuilds it from the WAL, as it does when the first
 *    connection finds a stale one). With PCV_KEEP_SOME, each operation still pending at the
 *    cut (written, not synced) independently reached the disk or not (whole operations, in
 *    order, chosen by a seeded generator): a disk that wrote back part of its cache.
 *    Without it every unsynced operation is dropped.
 *
 * Simplifications, deliberate: a write is never torn inside itself (SQLite relies on
 * SQLITE_IOCAP_POWERSAFE_OVERWRITE, which unix reports, and on WAL frame checksums); the
 * -shm file is not modelled (it is not durable state); files opened without a name or with
 * SQLITE_OPEN_DELETEONCLOSE (temporary files) are passed through untracked; memory-mapped
 * I/O is off (the io methods are version 2, so SQLite never asks for xFetch), and size and
 * chunk hints are swallowed, so no byte reaches a file other than through xWrite/xTruncate.
 * One process, one thread.
 */
#ifndef IOTSEC_TEST_POWERCUT_VFS_H
#define IOTSEC_TEST_POWERCUT_VFS_H

#include <stdint.h>

#define PCV_NAME "powercut"

/* flags of pcv_arm */
#define PCV_KEEP_SOME 0x1u /* at the cut each unsynced operation survives with p = 1/2 */
#define PCV_LIE_SYNC 0x2u  /* negative control: xSync reports success, makes nothing durable */
#define PCV_REAL_SYNC 0x4u /* also fsync the real files (slow; durability is modelled anyway) */

/* Counters of one armed session (since pcv_arm). */
typedef struct pcv_stats {
    uint64_t writes;      /* write events (xWrite, xTruncate) performed or cut */
    uint64_t syncs;       /* successful xSync calls on tracked files */
    uint64_t dir_syncs;   /* directory syncs modelled */
    uint64_t files;       /* files tracked */
    uint64_t dropped;     /* pending operations dropped at materialize */
    uint64_t kept;        /* pending operations kept at materialize (PCV_KEEP_SOME) */
    uint64_t resurrected; /* removed files brought back at materialize (removal not durable) */
    uint64_t vanished;    /* created files removed at materialize (creation not durable) */
} pcv_stats;

/* Register the VFS as SQLite's default, wrapping the current default (which must not be
 * the powercut VFS itself). 0 or an SQLite error code. */
int pcv_install(void);
/* Make the wrapped VFS the default again and unregister (idempotent). */
void pcv_uninstall(void);
/* Forget every tracked file and start counting write events from 1; the power goes at
 * event cut_at (0: never). seed drives PCV_KEEP_SOME. */
void pcv_arm(uint64_t cut_at, unsigned flags, uint32_t seed);
/* Write events so far (the cut one included). */
uint64_t pcv_writes(void);
/* 1 once the power has been cut. */
int pcv_cut_happened(void);
/* Rewrite the real files as the modelled disk holds them (see top); call after every
 * connection using the VFS was closed. Works without a cut too (power lost right now).
 * Then forgets every tracked file. 0, or -1 with errno set. */
int pcv_materialize(void);
/* Call fn(n, arg) after write event n was performed and recorded (NULL: none). */
void pcv_on_write(void (*fn)(uint64_t n, void *arg), void *arg);
/* Write the modelled disk (as pcv_materialize would leave it) into the existing directory
 * dir: each durable name's image as dir/<base name>; nothing else is touched, the real
 * files and the model stay as they are except that PCV_KEEP_SOME choices are applied to the
 * model (call it once per process: in a forked child). 0, or -1 with errno set. */
int pcv_materialize_to(const char *dir);
/* Reseed the PCV_KEEP_SOME generator. */
void pcv_reseed(uint32_t seed);
/* Counters since the last pcv_arm. */
pcv_stats pcv_get_stats(void);

#endif
