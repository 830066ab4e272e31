/* iotsec-device-sim — state directory, boot record, slots, simulated power loss (sim.h). */
#include "sim.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int errors_muted;

void sim_errors_mute(int muted)
{
    errors_muted = muted;
}

/* "iotsec-device-sim: <message>[: <library error>]" on stderr, unless muted */
static void report(int rc, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void report(int rc, const char *fmt, va_list ap)
{
    if (errors_muted)
        return;
    fputs("iotsec-device-sim: ", stderr);
    vfprintf(stderr, fmt, ap);
    if (rc != IOTSEC_OK)
        fprintf(stderr, ": %s", iotsec_strerror(rc));
    fputc('\n', stderr);
}

int sim_error(int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    report(IOTSEC_OK, fmt, ap);
    va_end(ap);
    return code;
}

int sim_fail(int code, int rc, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    report(rc, fmt, ap);
    va_end(ap);
    return code;
}

/* ---- simulated power loss --------------------------------------------------------------- */

static unsigned long power_limit; /* 0: disarmed */
static unsigned long power_count;

void sim_power_arm(unsigned long limit)
{
    power_limit = limit;
    power_count = 0;
}

unsigned long sim_power_remaining(void)
{
    return power_limit == 0 ? 0 : power_limit - power_count;
}

int sim_power_due(void)
{
    if (power_limit == 0)
        return 0;
    power_count++;
    return power_count >= power_limit;
}

void sim_power_fail(const char *what)
{
    char msg[SIM_PATH_MAX + 128];
    int n = snprintf(msg, sizeof msg,
                     "iotsec-device-sim: simulated power loss during a storage write (%s)\n",
                     what);
    size_t len = n > 0 ? ((size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1u) : 0;

    if (len > 0 && write(STDERR_FILENO, msg, len) < 0) {
        /* stderr is gone: end anyway */
    }
    _exit(SIM_POWER_LOSS);
}

void sim_power_tick(const char *what, int torn_fd, const void *data, size_t len, long long off)
{
    if (!sim_power_due())
        return;
    /* the power fails halfway through this write: half of it reaches the medium */
    if (torn_fd >= 0 && len > 1 && pwrite(torn_fd, data, len / 2, (off_t)off) < 0) {
        /* nothing more to lose: the process ends below */
    }
    sim_power_fail(what);
}

/* ---- paths and configuration ------------------------------------------------------------- */

int sim_path(const sim_state *st, const char *rel, char *out)
{
    int n = snprintf(out, SIM_PATH_MAX, "%s/%s", st->root, rel);

    if (n < 0 || n >= SIM_PATH_MAX)
        return sim_error(SIM_IO, "%s/%s: path too long", st->root, rel);
    return SIM_OK;
}

char sim_slot_name(int slot)
{
    return slot == 0 ? 'A' : 'B';
}

int sim_slot_path(const sim_state *st, int slot, int manifest, char *out)
{
    char rel[32];

    snprintf(rel, sizeof rel, "slots/%c.%s", slot == 0 ? 'a' : 'b',
             manifest ? "manifest" : "bin");
    return sim_path(st, rel, out);
}

/* a configuration value: printable ASCII without '=' */
static int config_value_ok(const uint8_t *v, size_t len, size_t max)
{
    size_t i;

    if (len == 0 || len > max)
        return 0;
    for (i = 0; i < len; i++)
        if (v[i] <= 0x20 || v[i] >= 0x7f || v[i] == '=')
            return 0;
    return 1;
}

/* an empty state rooted at root with the default settings (room is left for the longest
 * relative path) */
int sim_state_init(sim_state *st, const char *root)
{
    memset(st, 0, sizeof *st);
    if (strlen(root) >= sizeof st->root - 32)
        return sim_error(SIM_IO, "%s: path too long", root);
    strcpy(st->root, root);
    st->slot_size = SIM_DEFAULT_SLOT_SIZE;
    st->min_rate = SIM_DEFAULT_MIN_RATE;
    st->min_rate_time = SIM_DEFAULT_MIN_RATE_TIME;
    st->update_deadline = SIM_DEFAULT_UPDATE_DEADLINE;
    return SIM_OK;
}

/* The numeric settings of device.conf: key, range, where the value goes. */
struct setting {
    const char *key;
    uint64_t min, max;
};
static const struct setting settings[] = {
    {"slot_size", SIM_SLOT_SIZE_MIN, SIM_SLOT_SIZE_MAX},
    {"update_min_rate", 0, 1000000000},
    {"update_min_rate_time", 1, 3600},
    {"update_deadline", 1, 86400},
};
#define N_SETTINGS (sizeof settings / sizeof settings[0])

static uint64_t setting_get(const sim_state *st, size_t i)
{
    switch (i) {
    case 0: return st->slot_size;
    case 1: return st->min_rate;
    case 2: return st->min_rate_time;
    default: return st->update_deadline;
    }
}

static void setting_set(sim_state *st, size_t i, uint64_t v)
{
    switch (i) {
    case 0: st->slot_size = v; break;
    case 1: st->min_rate = (unsigned long)v; break;
    case 2: st->min_rate_time = (unsigned long)v; break;
    default: st->update_deadline = (unsigned long)v; break;
    }
}

int sim_state_open(sim_state *st, const char *root)
{
    char path[SIM_PATH_MAX];
    uint8_t *buf = NULL;
    size_t len = 0, line_len;
    const uint8_t *line;
    iotsec_reader r;
    uint64_t v;
    size_t i;
    int rc, bad = 0;

    if ((rc = sim_state_init(st, root)) != SIM_OK ||
        (rc = sim_path(st, SIM_CONFIG_FILE, path)) != SIM_OK)
        return rc;
    rc = iotsec_file_read(path, SIM_CONFIG_MAX, &buf, &len);
    if (rc != IOTSEC_OK)
        return sim_error(SIM_IO, "%s: not a provisioned device state (%s)", root,
                         rc == IOTSEC_E_IO ? strerror(errno) : iotsec_strerror(rc));
    iotsec_reader_init(&r, buf, len);
    /* every line must be valid: the line refused has been consumed already, so a damaged
     * last line would otherwise go unnoticed */
    while (!bad && (line = iotsec_reader_line(&r, SIM_CONFIG_MAX, &line_len)) != NULL) {
        const uint8_t *eq = memchr(line, '=', line_len);
        size_t klen, vlen;
        char *dst;
        size_t max;

        bad = 1;
        if (eq == NULL)
            break;
        klen = (size_t)(eq - line);
        vlen = line_len - klen - 1;
        for (i = 0; i < N_SETTINGS; i++)
            if (klen == strlen(settings[i].key) && memcmp(line, settings[i].key, klen) == 0)
                break;
        if (i < N_SETTINGS) { /* a number in range, canonical decimal */
            if (iotsec_parse_u64_dec((const char *)eq + 1, vlen, settings[i].max, &v) !=
                    IOTSEC_OK ||
                v < settings[i].min)
                break;
            setting_set(st, i, v);
            bad = 0;
            continue;
        }
        if (klen == 9 && memcmp(line, "device_id", 9) == 0) {
            dst = st->device_id;
            max = SIM_DEVICE_ID_MAX;
        } else if (klen == 5 && memcmp(line, "class", 5) == 0) {
            dst = st->device_class;
            max = SIM_CLASS_MAX;
        } else {
            break;
        }
        if (!config_value_ok(eq + 1, vlen, max))
            break;
        memcpy(dst, eq + 1, vlen);
        dst[vlen] = '\0';
        bad = 0;
    }
    rc = !bad && iotsec_reader_error(&r) == IOTSEC_OK && iotsec_reader_remaining(&r) == 0 &&
         st->device_id[0] != '\0' && st->device_class[0] != '\0';
    free(buf);
    if (!rc)
        return sim_error(SIM_IO, "%s: damaged configuration file", path);
    return SIM_OK;
}

int sim_state_write_config(const sim_state *st)
{
    char path[SIM_PATH_MAX], text[2 * SIM_CLASS_MAX + 64 + N_SETTINGS * 48];
    size_t i;
    int n, w, rc;

    if (!config_value_ok((const uint8_t *)st->device_id, strlen(st->device_id),
                         SIM_DEVICE_ID_MAX))
        return sim_error(SIM_USAGE, "--device-id: 1-%d printable characters without '='",
                         SIM_DEVICE_ID_MAX);
    if (!config_value_ok((const uint8_t *)st->device_class, strlen(st->device_class),
                         SIM_CLASS_MAX))
        return sim_error(SIM_USAGE, "--class: 1-%d printable characters without '='",
                         SIM_CLASS_MAX);
    n = snprintf(text, sizeof text, "device_id=%s\nclass=%s\n", st->device_id,
                 st->device_class);
    for (i = 0; i < N_SETTINGS; i++) {
        sim_state defaults;
        uint64_t v = setting_get(st, i);
        (void)sim_state_init(&defaults, "");
        if (v == setting_get(&defaults, i))
            continue;
        if (v < settings[i].min || v > settings[i].max)
            return sim_error(SIM_USAGE, "%s: %llu is outside %llu-%llu", settings[i].key,
                             (unsigned long long)v, (unsigned long long)settings[i].min,
                             (unsigned long long)settings[i].max);
        w = snprintf(text + n, sizeof text - (size_t)n, "%s=%llu\n", settings[i].key,
                     (unsigned long long)v);
        n += w;
    }
    if ((rc = sim_path(st, SIM_CONFIG_FILE, path)) != SIM_OK)
        return rc;
    if (sim_store_file(path, text, (size_t)n, 0600) != IOTSEC_OK)
        return sim_error(SIM_IO, "%s: %s", path, strerror(errno));
    return SIM_OK;
}

static int make_dir(const char *path)
{
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return sim_error(SIM_IO, "%s: %s", path, strerror(errno));
    if (chmod(path, 0700) != 0)
        return sim_error(SIM_IO, "%s: %s", path, strerror(errno));
    return SIM_OK;
}

int sim_state_create(sim_state *st, const char *root)
{
    static const char *const dirs[] = {"creds", "creds/trust", "slots", "nvs"};
    char path[SIM_PATH_MAX];
    struct stat sb;
    size_t i;
    int rc;

    if ((rc = sim_state_init(st, root)) != SIM_OK || (rc = make_dir(root)) != SIM_OK)
        return rc;
    if ((rc = sim_path(st, "boot", path)) != SIM_OK)
        return rc;
    if (stat(path, &sb) == 0)
        return sim_error(SIM_IO, "%s: already provisioned (remove the directory first)", root);
    for (i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        if ((rc = sim_path(st, dirs[i], path)) != SIM_OK || (rc = make_dir(path)) != SIM_OK)
            return rc;
    }
    return SIM_OK;
}

/* ---- files ----------------------------------------------------------------------------- */

int sim_store_file(const char *path, const void *data, size_t len, unsigned mode)
{
    sim_power_tick(path, -1, NULL, 0, 0);
    return iotsec_file_write_atomic(path, data, len, mode);
}

int sim_store_remove(const char *path)
{
    sim_power_tick(path, -1, NULL, 0, 0);
    if (unlink(path) != 0 && errno != ENOENT)
        return IOTSEC_E_IO;
    return IOTSEC_OK;
}

/* iotsec_file_write_atomic writes "<name>.tmp.XXXXXX" and renames it; a power loss between
 * the two leaves the temporary file behind */
static void sweep_dir(const char *dir)
{
    char path[SIM_PATH_MAX];
    struct dirent *e;
    DIR *d = opendir(dir);

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (strstr(e->d_name, ".tmp.") == NULL)
            continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < (int)sizeof path)
            (void)unlink(path);
    }
    closedir(d);
}

void sim_state_sweep(const sim_state *st)
{
    static const char *const dirs[] = {"slots", "creds", "creds/trust"};
    char path[SIM_PATH_MAX];
    size_t i;

    sweep_dir(st->root);
    for (i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
        if (sim_path(st, dirs[i], path) == SIM_OK)
            sweep_dir(path);
}

static int pwrite_full(int fd, const uint8_t *p, size_t len, off_t off)
{
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return IOTSEC_E_IO;
        p += n;
        len -= (size_t)n;
        off += n;
    }
    return IOTSEC_OK;
}

static int pread_full(int fd, uint8_t *p, size_t len, off_t off)
{
    while (len > 0) {
        ssize_t n = pread(fd, p, len, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return IOTSEC_E_IO;
        if (n == 0) { /* a short file reads as erased flash */
            memset(p, 0xff, len);
            return IOTSEC_OK;
        }
        p += n;
        len -= (size_t)n;
        off += n;
    }
    return IOTSEC_OK;
}

/* ---- boot record --------------------------------------------------------------------------
 * Like ESP-IDF's otadata: two copies in separate sectors, each
 *   magic "IOTB" | format u8 = 1 | active u8 | pending u8 | attempts u8 | seq u32 |
 *   counter u64 | crc32 u32 (CRC-32/IEEE of the 20 bytes before it)
 * The valid copy with the higher seq (serial arithmetic) wins, copy 0 on a tie; a new
 * record takes seq + 1 and goes to the copy not holding the current one, so a write torn
 * by power loss leaves the previous record intact. */

static const uint8_t boot_magic[4] = {'I', 'O', 'T', 'B'};

void sim_boot_encode(const sim_boot_record *rec, uint8_t out[SIM_BOOT_REC_LEN])
{
    iotsec_writer w;

    iotsec_writer_init(&w, out, SIM_BOOT_REC_LEN);
    iotsec_writer_bytes(&w, boot_magic, sizeof boot_magic);
    iotsec_writer_u8(&w, 1);
    iotsec_writer_u8(&w, rec->active);
    iotsec_writer_u8(&w, rec->pending);
    iotsec_writer_u8(&w, rec->attempts);
    iotsec_writer_u32(&w, rec->seq);
    iotsec_writer_u64(&w, rec->counter);
    iotsec_writer_u32(&w, iotsec_crc32(0, out, SIM_BOOT_REC_LEN - 4u));
}

/* 1 when buf holds a valid record (then decoded into rec) */
static int boot_decode(const uint8_t buf[SIM_BOOT_REC_LEN], sim_boot_record *rec)
{
    iotsec_reader r;
    const uint8_t *magic;
    uint8_t format;
    uint32_t crc;

    iotsec_reader_init(&r, buf, SIM_BOOT_REC_LEN);
    magic = iotsec_reader_bytes(&r, sizeof boot_magic);
    format = iotsec_reader_u8(&r);
    rec->active = iotsec_reader_u8(&r);
    rec->pending = iotsec_reader_u8(&r);
    rec->attempts = iotsec_reader_u8(&r);
    rec->seq = iotsec_reader_u32(&r);
    rec->counter = iotsec_reader_u64(&r);
    crc = iotsec_reader_u32(&r);
    return iotsec_reader_finish(&r) == IOTSEC_OK && magic != NULL &&
           memcmp(magic, boot_magic, sizeof boot_magic) == 0 && format == 1 &&
           rec->active < SIM_SLOTS && rec->pending <= 1 &&
           crc == iotsec_crc32(0, buf, SIM_BOOT_REC_LEN - 4u);
}

/* read both copies; *which gets the index of the current one */
static int boot_load(int fd, sim_boot_record *rec, int *which)
{
    uint8_t buf[2][SIM_BOOT_REC_LEN];
    sim_boot_record r[2];
    int ok[2], i;

    for (i = 0; i < 2; i++) {
        if (pread_full(fd, buf[i], SIM_BOOT_REC_LEN, (off_t)i * SIM_BOOT_SECTOR) != IOTSEC_OK)
            return IOTSEC_E_IO;
        ok[i] = boot_decode(buf[i], &r[i]);
    }
    if (!ok[0] && !ok[1])
        return IOTSEC_E_CORRUPT;
    if (ok[0] && ok[1])
        i = (int32_t)(r[1].seq - r[0].seq) > 0 ? 1 : 0;
    else
        i = ok[0] ? 0 : 1;
    *rec = r[i];
    *which = i;
    return IOTSEC_OK;
}

int sim_boot_read(const sim_state *st, sim_boot_record *rec)
{
    char path[SIM_PATH_MAX];
    int fd, rc, which;

    if (sim_path(st, SIM_BOOT_FILE, path) != SIM_OK)
        return IOTSEC_E_IO;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return IOTSEC_E_IO;
    rc = boot_load(fd, rec, &which);
    close(fd);
    return rc;
}

int sim_boot_write(const sim_state *st, sim_boot_record *rec)
{
    char path[SIM_PATH_MAX];
    uint8_t buf[SIM_BOOT_REC_LEN];
    sim_boot_record cur;
    int fd, rc, which, target;

    if (sim_path(st, SIM_BOOT_FILE, path) != SIM_OK)
        return IOTSEC_E_IO;
    fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return IOTSEC_E_IO;
    rc = boot_load(fd, &cur, &which);
    if (rc == IOTSEC_OK) {
        target = 1 - which;
        rec->seq = cur.seq + 1u;
    } else if (rc == IOTSEC_E_CORRUPT) { /* both damaged: start over in copy 0 */
        target = 0;
        rec->seq = 1;
        rc = IOTSEC_OK;
    }
    if (rc == IOTSEC_OK) {
        sim_boot_encode(rec, buf);
        sim_power_tick("boot record", fd, buf, sizeof buf, (long long)target * SIM_BOOT_SECTOR);
        rc = pwrite_full(fd, buf, sizeof buf, (off_t)target * SIM_BOOT_SECTOR);
        if (rc == IOTSEC_OK && fsync(fd) != 0)
            rc = IOTSEC_E_IO;
    }
    if (close(fd) != 0 && rc == IOTSEC_OK)
        rc = IOTSEC_E_IO;
    return rc;
}

int sim_boot_create(const sim_state *st, sim_boot_record *rec)
{
    char path[SIM_PATH_MAX];
    uint8_t file[2 * SIM_BOOT_SECTOR];

    if (sim_path(st, SIM_BOOT_FILE, path) != SIM_OK)
        return IOTSEC_E_IO;
    memset(file, 0xff, sizeof file); /* erased flash */
    rec->seq = 1;
    sim_boot_encode(rec, file);
    return sim_store_file(path, file, sizeof file, 0600);
}

/* ---- slot writer ------------------------------------------------------------------------- */

int sim_slot_writer_open(sim_slot_writer *w, const sim_state *st, int slot)
{
    char path[SIM_PATH_MAX];
    char what[32];

    w->fd = -1;
    w->off = 0;
    if (sim_slot_path(st, slot, 0, path) != SIM_OK)
        return IOTSEC_E_IO;
    snprintf(what, sizeof what, "erase slot %c", sim_slot_name(slot));
    sim_power_tick(what, -1, NULL, 0, 0);
    w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    return w->fd < 0 ? IOTSEC_E_IO : IOTSEC_OK;
}

int sim_slot_writer_write(sim_slot_writer *w, const uint8_t *data, size_t len)
{
    int rc;

    if (len == 0)
        return IOTSEC_OK;
    sim_power_tick("slot data", w->fd, data, len, (long long)w->off);
    rc = pwrite_full(w->fd, data, len, (off_t)w->off);
    if (rc == IOTSEC_OK)
        w->off += len;
    return rc;
}

int sim_slot_writer_close(sim_slot_writer *w)
{
    int rc = IOTSEC_OK;

    if (w->fd < 0)
        return IOTSEC_E_IO;
    if (fsync(w->fd) != 0)
        rc = IOTSEC_E_IO;
    if (close(w->fd) != 0)
        rc = IOTSEC_E_IO;
    w->fd = -1;
    return rc;
}
