/* libiotsec — internal POSIX helper shared by the storage ports (not exported). */
#ifndef IOTSEC_POSIX_SYNC_DIR_H
#define IOTSEC_POSIX_SYNC_DIR_H

/* fsync the directory holding path, so an entry just created in it survives a power cut.
 * Returns IOTSEC_OK or IOTSEC_E_IO (errno kept). */
int iotsec_posix_sync_dir_of(const char *path);

#endif
