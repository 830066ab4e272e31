/* libiotsec — POSIX file port for the sender counter (include/iotsec/counter.h). */
#include "iotsec/counter_file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iotsec/error.h"
#include "sync_dir.h"

#define FILE_LEN (IOTSEC_COUNTER_SLOTS * IOTSEC_COUNTER_RECORD_LEN)

static int file_read(void *ctx, unsigned slot, uint8_t buf[IOTSEC_COUNTER_RECORD_LEN])
{
    const iotsec_counter_file *f = ctx;
    size_t got = 0;

    if (f == NULL || f->fd < 0 || slot >= IOTSEC_COUNTER_SLOTS)
        return IOTSEC_E_INVALID_ARG;
    while (got < IOTSEC_COUNTER_RECORD_LEN) {
        ssize_t n = pread(f->fd, buf + got, IOTSEC_COUNTER_RECORD_LEN - got,
                          (off_t)(slot * IOTSEC_COUNTER_RECORD_LEN + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return IOTSEC_E_IO;
        if (n == 0)
            break; /* end of file: the rest of the slot is blank */
        got += (size_t)n;
    }
    memset(buf + got, 0xff, IOTSEC_COUNTER_RECORD_LEN - got);
    return IOTSEC_OK;
}

static int file_write(void *ctx, unsigned slot, const uint8_t buf[IOTSEC_COUNTER_RECORD_LEN])
{
    const iotsec_counter_file *f = ctx;
    size_t done = 0;

    if (f == NULL || f->fd < 0 || slot >= IOTSEC_COUNTER_SLOTS)
        return IOTSEC_E_INVALID_ARG;
    while (done < IOTSEC_COUNTER_RECORD_LEN) {
        ssize_t n = pwrite(f->fd, buf + done, IOTSEC_COUNTER_RECORD_LEN - done,
                           (off_t)(slot * IOTSEC_COUNTER_RECORD_LEN + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return IOTSEC_E_IO;
        done += (size_t)n;
    }
    return IOTSEC_OK;
}

static int file_flush(void *ctx)
{
    const iotsec_counter_file *f = ctx;

    if (f == NULL || f->fd < 0)
        return IOTSEC_E_INVALID_ARG;
    while (fsync(f->fd) != 0) {
        if (errno != EINTR)
            return IOTSEC_E_IO;
    }
    return IOTSEC_OK;
}

/* close fd keeping errno, return rc */
static int fail_close(int fd, int rc)
{
    int saved = errno;

    close(fd);
    errno = saved;
    return rc;
}

int iotsec_counter_file_open(iotsec_counter_file *f, const char *path,
                             iotsec_counter_port *port)
{
    struct stat st;
    int fd, created = 0, tries;

    if (f == NULL || path == NULL || port == NULL)
        return IOTSEC_E_INVALID_ARG;
    f->fd = -1;
    /* open an existing file, or create it exclusively; retry if another process races us */
    for (tries = 0;; tries++) {
        fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0 || errno != ENOENT || tries == 3)
            break;
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0) {
            created = 1;
            break;
        }
        if (errno != EEXIST)
            break;
    }
    if (fd < 0)
        return IOTSEC_E_IO;
    if (created && (fchmod(fd, 0600) != 0 || iotsec_posix_sync_dir_of(path) != IOTSEC_OK))
        return fail_close(fd, IOTSEC_E_IO);
    if (fstat(fd, &st) != 0)
        return fail_close(fd, IOTSEC_E_IO);
    if (!S_ISREG(st.st_mode) || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0 ||
        st.st_uid != geteuid()) {
        errno = EPERM;
        return fail_close(fd, IOTSEC_E_IO);
    }
    if (st.st_size > (off_t)FILE_LEN)
        return fail_close(fd, IOTSEC_E_CORRUPT);
    f->fd = fd;
    port->ctx = f;
    port->read = file_read;
    port->write = file_write;
    port->flush = file_flush;
    return IOTSEC_OK;
}

void iotsec_counter_file_close(iotsec_counter_file *f)
{
    if (f == NULL || f->fd < 0)
        return;
    close(f->fd);
    f->fd = -1;
}
