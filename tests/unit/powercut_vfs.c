/* A SQLite VFS that models power cuts (powercut_vfs.h; tests only). */
#include "powercut_vfs.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One pending operation (since the file's last xSync). */
typedef struct pcv_op {
    int trunc;            /* 1: truncate to off; 0: write data[0..len) at off */
    sqlite3_int64 off;
    size_t len;
    unsigned char *data;
} pcv_op;

/* One file (one inode): its durable image, pending operations and directory state. */
typedef struct pcv_obj {
    struct pcv_obj *next;
    char *path;
    unsigned char *img; /* durable content */
    size_t len, cap;
    pcv_op *ops; /* written or truncated since the last xSync, in order */
    size_t nops, capops;
    int linked;         /* the name currently refers to this file */
    int durable_linked; /* after a power cut the name would refer to this file */
    int dirsync;        /* the next xSync also syncs the directory (unix: new journal/WAL) */
    int shm;            /* a WAL index (<path>-shm) was mapped for this file */
} pcv_obj;

typedef struct pcv_file {
    sqlite3_file base;
    pcv_obj *obj;       /* NULL: untracked (temporary file) */
    sqlite3_file *real; /* the wrapped VFS's file, right after this struct */
} pcv_file;

static struct {
    sqlite3_vfs vfs;
    sqlite3_vfs *real;
    int installed;
    pcv_obj *objs;
    uint64_t cut_at;
    int dead;
    unsigned flags;
    uint32_t rng;
    pcv_stats st;
    void (*on_write)(uint64_t n, void *arg);
    void *on_write_arg;
} g;

static void *xmalloc(size_t n)
{
    void *p = malloc(n != 0 ? n : 1);

    if (p == NULL) {
        fprintf(stderr, "powercut_vfs: out of memory\n");
        abort();
    }
    return p;
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n != 0 ? n : 1);

    if (q == NULL) {
        fprintf(stderr, "powercut_vfs: out of memory\n");
        abort();
    }
    return q;
}

static uint32_t rng_next(void)
{
    g.rng ^= g.rng << 13;
    g.rng ^= g.rng >> 17;
    g.rng ^= g.rng << 5;
    return g.rng;
}

/* ---- the model ------------------------------------------------------------------------ */

static void img_reserve(pcv_obj *o, size_t n)
{
    if (n > o->cap) {
        size_t cap = o->cap != 0 ? o->cap : 4096;
        while (cap < n)
            cap *= 2;
        o->img = xrealloc(o->img, cap);
        o->cap = cap;
    }
}

static void img_apply(pcv_obj *o, const pcv_op *op)
{
    size_t off = (size_t)op->off;

    if (op->trunc) {
        if (off > o->len) { /* growing truncate: zeros */
            img_reserve(o, off);
            memset(o->img + o->len, 0, off - o->len);
        }
        o->len = off;
        return;
    }
    img_reserve(o, off + op->len);
    if (off > o->len) /* a hole reads as zeros */
        memset(o->img + o->len, 0, off - o->len);
    memcpy(o->img + off, op->data, op->len);
    if (off + op->len > o->len)
        o->len = off + op->len;
}

static void ops_clear(pcv_obj *o)
{
    size_t i;

    for (i = 0; i < o->nops; i++)
        free(o->ops[i].data);
    o->nops = 0;
}

static void op_add(pcv_obj *o, int trunc, sqlite3_int64 off, const void *data, size_t len)
{
    pcv_op *op;

    if (o->nops == o->capops) {
        o->capops = o->capops != 0 ? 2 * o->capops : 16;
        o->ops = xrealloc(o->ops, o->capops * sizeof *o->ops);
    }
    op = &o->ops[o->nops++];
    op->trunc = trunc;
    op->off = off;
    op->len = len;
    op->data = NULL;
    if (!trunc) {
        op->data = xmalloc(len);
        memcpy(op->data, data, len);
    }
}

static size_t dir_len(const char *path)
{
    const char *slash = strrchr(path, '/');

    return slash == NULL ? 0 : (size_t)(slash - path);
}

/* The directory of path is synced: its durable entries become its current ones. */
static void dir_sync(const char *path)
{
    size_t n = dir_len(path);
    pcv_obj *o;

    for (o = g.objs; o != NULL; o = o->next) {
        if (dir_len(o->path) == n && strncmp(o->path, path, n) == 0)
            o->durable_linked = o->linked;
    }
    g.st.dir_syncs++;
}

static pcv_obj *find_linked(const char *path)
{
    pcv_obj *o;

    for (o = g.objs; o != NULL; o = o->next) {
        if (o->linked && strcmp(o->path, path) == 0)
            return o;
    }
    return NULL;
}

static pcv_obj *obj_new(const char *path)
{
    pcv_obj *o = xmalloc(sizeof *o);
    size_t n = strlen(path);

    memset(o, 0, sizeof *o);
    o->path = xmalloc(n + 1);
    memcpy(o->path, path, n + 1);
    o->next = g.objs;
    g.objs = o;
    g.st.files++;
    return o;
}

/* A file that exists on disk before the VFS saw it: durable as it is. NULL if missing. */
static pcv_obj *obj_adopt(const char *path)
{
    struct stat st;
    pcv_obj *o;
    size_t got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return NULL;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return NULL;
    }
    o = obj_new(path);
    img_reserve(o, (size_t)st.st_size);
    while (got < (size_t)st.st_size) {
        ssize_t r = pread(fd, o->img + got, (size_t)st.st_size - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    o->len = got;
    o->linked = 1;
    o->durable_linked = 1;
    return o;
}

static void objs_free(void)
{
    pcv_obj *o = g.objs, *next;

    for (; o != NULL; o = next) {
        next = o->next;
        ops_clear(o);
        free(o->ops);
        free(o->img);
        free(o->path);
        free(o);
    }
    g.objs = NULL;
}

/* Count one write event; 1 when it is the one the power goes at. */
static int write_event(void)
{
    g.st.writes++;
    if (g.cut_at != 0 && g.st.writes == g.cut_at) {
        g.dead = 1;
        return 1;
    }
    return 0;
}

/* ---- io methods ------------------------------------------------------------------------ */

static int f_close(sqlite3_file *f)
{
    pcv_file *p = (pcv_file *)f;
    int rc = SQLITE_OK;

    if (p->real->pMethods != NULL)
        rc = p->real->pMethods->xClose(p->real);
    p->base.pMethods = NULL;
    return g.dead ? SQLITE_OK : rc;
}

static int f_read(sqlite3_file *f, void *buf, int amt, sqlite3_int64 off)
{
    pcv_file *p = (pcv_file *)f;

    if (g.dead)
        return SQLITE_IOERR_READ;
    return p->real->pMethods->xRead(p->real, buf, amt, off);
}

static int f_write(sqlite3_file *f, const void *buf, int amt, sqlite3_int64 off)
{
    pcv_file *p = (pcv_file *)f;
    int rc;

    int cut;

    if (g.dead)
        return SQLITE_IOERR_WRITE;
    cut = p->obj != NULL && write_event();
    rc = p->real->pMethods->xWrite(p->real, buf, amt, off);
    if (rc == SQLITE_OK && p->obj != NULL && amt > 0)
        op_add(p->obj, 0, off, buf, (size_t)amt);
    /* the power goes as this write reaches the disk cache: it is pending, never synced, and
     * the caller never learns it was written */
    if (cut)
        return SQLITE_IOERR_WRITE;
    if (rc == SQLITE_OK && p->obj != NULL && g.on_write != NULL)
        g.on_write(g.st.writes, g.on_write_arg);
    return rc;
}

static int f_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    pcv_file *p = (pcv_file *)f;
    int rc;

    int cut;

    if (g.dead)
        return SQLITE_IOERR_TRUNCATE;
    cut = p->obj != NULL && write_event();
    rc = p->real->pMethods->xTruncate(p->real, size);
    if (rc == SQLITE_OK && p->obj != NULL)
        op_add(p->obj, 1, size, NULL, 0);
    if (cut)
        return SQLITE_IOERR_TRUNCATE;
    if (rc == SQLITE_OK && p->obj != NULL && g.on_write != NULL)
        g.on_write(g.st.writes, g.on_write_arg);
    return rc;
}

static int f_sync(sqlite3_file *f, int flags)
{
    pcv_file *p = (pcv_file *)f;
    pcv_obj *o = p->obj;
    size_t i;

    if (g.dead)
        return SQLITE_IOERR_FSYNC;
    if (g.flags & PCV_REAL_SYNC) {
        int rc = p->real->pMethods->xSync(p->real, flags);
        if (rc != SQLITE_OK)
            return rc;
    }
    if (o == NULL)
        return SQLITE_OK;
    if (!(g.flags & PCV_LIE_SYNC)) {
        for (i = 0; i < o->nops; i++)
            img_apply(o, &o->ops[i]);
    }
    ops_clear(o);
    if (o->dirsync) {
        o->dirsync = 0;
        dir_sync(o->path);
    }
    g.st.syncs++;
    return SQLITE_OK;
}

static int f_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
    pcv_file *p = (pcv_file *)f;

    if (g.dead)
        return SQLITE_IOERR_FSTAT;
    return p->real->pMethods->xFileSize(p->real, size);
}

static int f_lock(sqlite3_file *f, int level)
{
    pcv_file *p = (pcv_file *)f;

    if (g.dead)
        return SQLITE_IOERR_LOCK;
    return p->real->pMethods->xLock(p->real, level);
}

static int f_unlock(sqlite3_file *f, int level)
{
    pcv_file *p = (pcv_file *)f;

    return p->real->pMethods->xUnlock(p->real, level); /* releasing locks touches no disk */
}

static int f_check_reserved(sqlite3_file *f, int *out)
{
    pcv_file *p = (pcv_file *)f;

    if (g.dead)
        return SQLITE_IOERR_CHECKRESERVEDLOCK;
    return p->real->pMethods->xCheckReservedLock(p->real, out);
}

static int f_file_control(sqlite3_file *f, int op, void *arg)
{
    pcv_file *p = (pcv_file *)f;

    /* hints that would let unix extend the file outside xWrite/xTruncate */
    if (op == SQLITE_FCNTL_SIZE_HINT || op == SQLITE_FCNTL_CHUNK_SIZE)
        return SQLITE_OK;
    return p->real->pMethods->xFileControl(p->real, op, arg);
}

static int f_sector_size(sqlite3_file *f)
{
    pcv_file *p = (pcv_file *)f;

    return p->real->pMethods->xSectorSize(p->real);
}

static int f_device_characteristics(sqlite3_file *f)
{
    pcv_file *p = (pcv_file *)f;

    return p->real->pMethods->xDeviceCharacteristics(p->real);
}

static int f_shm_map(sqlite3_file *f, int region, int size, int extend, void volatile **pp)
{
    pcv_file *p = (pcv_file *)f;

    if (g.dead)
        return SQLITE_IOERR_SHMMAP;
    if (p->obj != NULL)
        p->obj->shm = 1;
    return p->real->pMethods->xShmMap(p->real, region, size, extend, pp);
}

static int f_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
    pcv_file *p = (pcv_file *)f;

    if (g.dead && !(flags & SQLITE_SHM_UNLOCK))
        return SQLITE_IOERR_SHMLOCK;
    return p->real->pMethods->xShmLock(p->real, offset, n, flags);
}

static void f_shm_barrier(sqlite3_file *f)
{
    pcv_file *p = (pcv_file *)f;

    p->real->pMethods->xShmBarrier(p->real);
}

static int f_shm_unmap(sqlite3_file *f, int delete_flag)
{
    pcv_file *p = (pcv_file *)f;

    return p->real->pMethods->xShmUnmap(p->real, g.dead ? 0 : delete_flag);
}

/* Version 2: no xFetch, so SQLite never uses memory-mapped I/O through this VFS. */
static const sqlite3_io_methods pcv_io = {
    2,
    f_close,
    f_read,
    f_write,
    f_truncate,
    f_sync,
    f_file_size,
    f_lock,
    f_unlock,
    f_check_reserved,
    f_file_control,
    f_sector_size,
    f_device_characteristics,
    f_shm_map,
    f_shm_lock,
    f_shm_barrier,
    f_shm_unmap,
    NULL,
    NULL,
};

/* ---- vfs methods ----------------------------------------------------------------------- */

static int v_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags,
                  int *out_flags)
{
    pcv_file *p = (pcv_file *)f;
    pcv_obj *o = NULL;
    int track = name != NULL && !(flags & SQLITE_OPEN_DELETEONCLOSE);
    int created = 0, rc, type = flags & 0x0FFF00; /* as unixOpen */

    (void)vfs;
    memset(p, 0, sizeof *p);
    p->real = (sqlite3_file *)(p + 1);
    if (g.dead)
        return SQLITE_IOERR;
    if (track) {
        o = find_linked(name);
        if (o == NULL)
            o = obj_adopt(name);
        created = o == NULL;
    }
    rc = g.real->xOpen(g.real, name, p->real, flags, out_flags);
    if (rc != SQLITE_OK) {
        p->base.pMethods = NULL;
        return rc;
    }
    if (track && created) {
        o = obj_new(name); /* created now: its name is not durable yet */
        o->linked = 1;
    }
    /* unixOpen: a journal, super-journal or WAL opened with SQLITE_OPEN_CREATE syncs its
     * directory at its first xSync */
    if (o != NULL && (flags & SQLITE_OPEN_CREATE) &&
        (type == SQLITE_OPEN_MAIN_JOURNAL || type == SQLITE_OPEN_SUPER_JOURNAL ||
         type == SQLITE_OPEN_WAL))
        o->dirsync = 1;
    p->obj = o;
    p->base.pMethods = &pcv_io;
    return SQLITE_OK;
}

static int v_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
    pcv_obj *o;
    int rc;

    (void)vfs;
    if (g.dead)
        return SQLITE_IOERR_DELETE;
    o = find_linked(name);
    if (o == NULL)
        o = obj_adopt(name); /* removing a file we never opened: it was durable */
    rc = g.real->xDelete(g.real, name, 0); /* the directory sync is modelled below */
    if (rc == SQLITE_OK && o != NULL) {
        o->linked = 0;
        if (sync_dir)
            dir_sync(name);
    }
    return rc;
}

static int v_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
    (void)vfs;
    if (g.dead)
        return SQLITE_IOERR_ACCESS;
    return g.real->xAccess(g.real, name, flags, out);
}

static int v_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
    (void)vfs;
    return g.real->xFullPathname(g.real, name, n, out);
}

static void *v_dlopen(sqlite3_vfs *vfs, const char *name)
{
    (void)vfs;
    return g.real->xDlOpen(g.real, name);
}

static void v_dlerror(sqlite3_vfs *vfs, int n, char *msg)
{
    (void)vfs;
    g.real->xDlError(g.real, n, msg);
}

static void (*v_dlsym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
    (void)vfs;
    return g.real->xDlSym(g.real, h, sym);
}

static void v_dlclose(sqlite3_vfs *vfs, void *h)
{
    (void)vfs;
    g.real->xDlClose(g.real, h);
}

static int v_randomness(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    return g.real->xRandomness(g.real, n, out);
}

static int v_sleep(sqlite3_vfs *vfs, int us)
{
    (void)vfs;
    return g.real->xSleep(g.real, us);
}

static int v_current_time(sqlite3_vfs *vfs, double *out)
{
    (void)vfs;
    return g.real->xCurrentTime(g.real, out);
}

static int v_last_error(sqlite3_vfs *vfs, int n, char *msg)
{
    (void)vfs;
    return g.real->xGetLastError(g.real, n, msg);
}

static int v_current_time64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
    (void)vfs;
    return g.real->xCurrentTimeInt64(g.real, out);
}

/* ---- public ---------------------------------------------------------------------------- */

int pcv_install(void)
{
    sqlite3_vfs *def;
    int rc;

    if (g.installed)
        return SQLITE_OK;
    rc = sqlite3_initialize();
    if (rc != SQLITE_OK)
        return rc;
    def = sqlite3_vfs_find(NULL);
    if (def == NULL || strcmp(def->zName, PCV_NAME) == 0 || def->iVersion < 2)
        return SQLITE_ERROR;
    g.real = def;
    memset(&g.vfs, 0, sizeof g.vfs);
    g.vfs.iVersion = 2;
    g.vfs.szOsFile = (int)sizeof(pcv_file) + def->szOsFile;
    g.vfs.mxPathname = def->mxPathname;
    g.vfs.zName = PCV_NAME;
    g.vfs.xOpen = v_open;
    g.vfs.xDelete = v_delete;
    g.vfs.xAccess = v_access;
    g.vfs.xFullPathname = v_full_pathname;
    g.vfs.xDlOpen = v_dlopen;
    g.vfs.xDlError = v_dlerror;
    g.vfs.xDlSym = v_dlsym;
    g.vfs.xDlClose = v_dlclose;
    g.vfs.xRandomness = v_randomness;
    g.vfs.xSleep = v_sleep;
    g.vfs.xCurrentTime = v_current_time;
    g.vfs.xGetLastError = v_last_error;
    g.vfs.xCurrentTimeInt64 = v_current_time64;
    rc = sqlite3_vfs_register(&g.vfs, 1);
    if (rc == SQLITE_OK)
        g.installed = 1;
    return rc;
}

void pcv_uninstall(void)
{
    if (!g.installed)
        return;
    (void)sqlite3_vfs_unregister(&g.vfs);
    (void)sqlite3_vfs_register(g.real, 1);
    g.installed = 0;
}

void pcv_on_write(void (*fn)(uint64_t n, void *arg), void *arg)
{
    g.on_write = fn;
    g.on_write_arg = arg;
}

void pcv_reseed(uint32_t seed)
{
    g.rng = seed != 0 ? seed : 0x2545f491u;
}

void pcv_arm(uint64_t cut_at, unsigned flags, uint32_t seed)
{
    objs_free();
    memset(&g.st, 0, sizeof g.st);
    g.cut_at = cut_at;
    g.flags = flags;
    g.dead = 0;
    g.rng = seed != 0 ? seed : 0x2545f491u;
}

uint64_t pcv_writes(void)
{
    return g.st.writes;
}

int pcv_cut_happened(void)
{
    return g.dead;
}

pcv_stats pcv_get_stats(void)
{
    return g.st;
}

static int write_all(const char *path, const unsigned char *data, size_t len)
{
    size_t done = 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);

    if (fd < 0)
        return -1;
    while (done < len) {
        ssize_t n = write(fd, data + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = errno;
            close(fd);
            errno = n == 0 ? EIO : e;
            return -1;
        }
        done += (size_t)n;
    }
    return close(fd);
}

/* Decide the fate of every pending operation (dropped, or kept with PCV_KEEP_SOME). */
static void settle_pending(void)
{
    pcv_obj *o;
    size_t i;

    for (o = g.objs; o != NULL; o = o->next) {
        for (i = 0; i < o->nops; i++) {
            if ((g.flags & PCV_KEEP_SOME) && (rng_next() & 1u)) {
                img_apply(o, &o->ops[i]);
                g.st.kept++;
            } else {
                g.st.dropped++;
            }
        }
        ops_clear(o);
    }
}

/* The file durably named o->path, NULL when the name would not exist after a cut. */
static pcv_obj *durable_at(const char *path)
{
    pcv_obj *d;

    for (d = g.objs; d != NULL; d = d->next) {
        if (d->durable_linked && strcmp(d->path, path) == 0)
            return d;
    }
    return NULL;
}

int pcv_materialize(void)
{
    pcv_obj *o, *d;
    int rc = 0;

    settle_pending();
    /* every name the VFS knows: the durable file's image, or nothing */
    for (o = g.objs; o != NULL && rc == 0; o = o->next) {
        d = durable_at(o->path);
        if (d != NULL && d != o)
            continue; /* handled when the loop reaches d */
        if (d == o) {
            if (!o->linked)
                g.st.resurrected++;
            rc = write_all(o->path, o->img, o->len);
        } else if (o->linked) {
            if (unlink(o->path) != 0 && errno != ENOENT)
                rc = -1;
            g.st.vanished++;
        }
    }
    for (o = g.objs; o != NULL && rc == 0; o = o->next) {
        if (o->shm) {
            char shm[4096];
            int n = snprintf(shm, sizeof shm, "%s-shm", o->path);
            if (n > 0 && (size_t)n < sizeof shm && unlink(shm) != 0 && errno != ENOENT)
                rc = -1;
        }
    }
    objs_free();
    g.dead = 1; /* the session is over: nothing more reaches the model */
    return rc;
}

int pcv_materialize_to(const char *dir)
{
    pcv_obj *o;
    int rc = 0;

    settle_pending();
    for (o = g.objs; o != NULL && rc == 0; o = o->next) {
        if (o->durable_linked) {
            char path[4096];
            const char *base = strrchr(o->path, '/');
            int n = snprintf(path, sizeof path, "%s/%s", dir, base != NULL ? base + 1 : o->path);
            if (n <= 0 || (size_t)n >= sizeof path) {
                errno = ENAMETOOLONG;
                return -1;
            }
            if (!o->linked)
                g.st.resurrected++;
            rc = write_all(path, o->img, o->len);
        } else if (o->linked && durable_at(o->path) == NULL) {
            g.st.vanished++;
        }
    }
    return rc;
}
