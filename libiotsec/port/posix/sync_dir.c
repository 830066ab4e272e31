/* libiotsec — internal POSIX helper: make a new directory entry durable (sync_dir.h). */
#include "sync_dir.h"

#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "iotsec/error.h"

int iotsec_posix_sync_dir_of(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    size_t n;
    int fd, rc;

    if (slash == NULL) {
        dir[0] = '.';
        dir[1] = '\0';
    } else {
        n = slash == path ? 1u : (size_t)(slash - path);
        if (n >= sizeof dir)
            return IOTSEC_E_IO;
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return IOTSEC_E_IO;
    rc = fsync(fd) == 0 ? IOTSEC_OK : IOTSEC_E_IO;
    close(fd);
    return rc;
}
