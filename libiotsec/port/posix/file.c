/* libiotsec — POSIX file helpers (include/iotsec/file.h). */
#include "iotsec/file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iotsec/error.h"
#include "iotsec/util.h"
#include "sync_dir.h"

/* read exactly len bytes or fail */
static int read_full(int fd, uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = read(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return IOTSEC_E_IO;
        buf += n;
        len -= (size_t)n;
    }
    return IOTSEC_OK;
}

int iotsec_file_read(const char *path, size_t max_len, uint8_t **buf, size_t *len)
{
    struct stat st;
    uint8_t *p;
    size_t size;
    int fd, rc, saved;

    if (path == NULL || buf == NULL || len == NULL || max_len == (size_t)-1)
        return IOTSEC_E_INVALID_ARG;
    *buf = NULL;
    *len = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return IOTSEC_E_IO;
    if (fstat(fd, &st) != 0) {
        saved = errno;
        close(fd);
        errno = saved;
        return IOTSEC_E_IO;
    }
    if (!S_ISREG(st.st_mode)) { /* a device, FIFO or directory: refuse, and say why */
        saved = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
        close(fd);
        errno = saved;
        return IOTSEC_E_IO;
    }
    if ((unsigned long long)st.st_size > max_len) {
        close(fd);
        return IOTSEC_E_BAD_LENGTH;
    }
    size = (size_t)st.st_size;
    p = malloc(size + 1u);
    if (p == NULL) {
        close(fd);
        return IOTSEC_E_NO_MEMORY;
    }
    rc = read_full(fd, p, size);
    saved = errno;
    close(fd);
    if (rc != IOTSEC_OK) {
        free(p);
        errno = saved;
        return rc;
    }
    p[size] = 0;
    *buf = p;
    *len = size;
    return IOTSEC_OK;
}

int iotsec_file_read_secret(const char *path, uint8_t *out, size_t len)
{
    uint8_t *buf = NULL;
    size_t n = 0;
    int rc;

    if (path == NULL || out == NULL || len == 0)
        return IOTSEC_E_INVALID_ARG;
    rc = iotsec_file_read(path, len, &buf, &n);
    if (rc == IOTSEC_OK && n != len)
        rc = IOTSEC_E_BAD_LENGTH;
    if (rc == IOTSEC_OK)
        memcpy(out, buf, len);
    if (buf != NULL) {
        iotsec_zeroize(buf, n);
        free(buf);
    }
    return rc;
}

static int write_full(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return IOTSEC_E_IO;
        p += n;
        len -= (size_t)n;
    }
    return IOTSEC_OK;
}

int iotsec_file_write_atomic(const char *path, const void *data, size_t len, unsigned mode)
{
    char tmp[PATH_MAX];
    int fd, rc, n;

    if (path == NULL || (data == NULL && len != 0))
        return IOTSEC_E_INVALID_ARG;
    /* a fresh unique name (mkstemp: O_EXCL, mode 0600): a name made from the pid alone would
     * collide with the temporary a writer of the same pid left behind when the power failed
     * before its rename (pids repeat across reboots), and every later write would fail */
    n = snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return IOTSEC_E_INVALID_ARG;
    fd = mkstemp(tmp);
    if (fd < 0)
        return IOTSEC_E_IO;
    /* the umask must not widen or narrow the requested mode */
    rc = fcntl(fd, F_SETFD, FD_CLOEXEC) == 0 && fchmod(fd, (mode_t)(mode & 07777u)) == 0
             ? IOTSEC_OK
             : IOTSEC_E_IO;
    if (rc == IOTSEC_OK)
        rc = write_full(fd, (const uint8_t *)data, len);
    if (rc == IOTSEC_OK && fsync(fd) != 0)
        rc = IOTSEC_E_IO;
    if (close(fd) != 0 && rc == IOTSEC_OK)
        rc = IOTSEC_E_IO;
    if (rc == IOTSEC_OK && rename(tmp, path) != 0)
        rc = IOTSEC_E_IO;
    if (rc != IOTSEC_OK) {
        int saved = errno;
        unlink(tmp);
        errno = saved;
        return rc;
    }
    return iotsec_posix_sync_dir_of(path);
}
