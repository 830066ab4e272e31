/* Fuzz target: the device simulator's persisted state (examples/device-sim/state.c) — the
 * two-copy boot record and the device.conf configuration file. state.c needs only libc and
 * the library (no libcurl): this target links its object alone (tests/fuzz/build.mk;
 * declarations in examples/device-sim/sim.h). Its files live in a scratch directory (in
 * /dev/shm when there is one) made once per process.
 *
 * Input: byte 0 bit 0 chooses the part; the rest is the file.
 *   Boot record: bytes 0–23 are copy 0 (at offset 0 of the file), bytes 24–47 copy 1 (at
 *   offset 512), the gap reads as erased flash; a short input makes a short file. Checked
 *   against a model written from the format comment in state.c: sim_boot_read returns the
 *   valid copy with the newer sequence (serial arithmetic, copy 0 on a tie) or
 *   IOTSEC_E_CORRUPT when neither is valid, and the record re-encodes to that copy's bytes;
 *   then sim_boot_write puts the next record into the other copy only (the current one
 *   stays byte for byte, so a torn write cannot lose it) and reads back as written.
 *   Configuration: accepted exactly when every line is "device_id=V" or "class=V" with V
 *   1–64 printable ASCII bytes other than '=', or a setting "slot_size=N",
 *   "update_min_rate=N", "update_min_rate_time=N" or "update_deadline=N" with N a decimal
 *   without sign or leading zero in the setting's range (the last line may lack its "\n";
 *   a "\r" before "\n" is dropped) and both keys are present; the values are the last
 *   ones given (the defaults for settings not given), and writing them back with
 *   sim_state_write_config reads back the same. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../examples/device-sim/sim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REC SIM_BOOT_REC_LEN

static char root[64];
static sim_state st;

static void rm(const char *rel)
{
    char p[SIM_PATH_MAX];
    if (sim_path(&st, rel, p) == SIM_OK)
        unlink(p);
}

static void cleanup(void)
{
    sim_state_sweep(&st);
    rm(SIM_BOOT_FILE);
    rm(SIM_CONFIG_FILE);
    rmdir(root);
}

static void setup(void)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

    snprintf(root, sizeof root, "%s/iotsec-fuzz-XXXXXX", base);
    if (mkdtemp(root) == NULL || sim_state_init(&st, root) != SIM_OK)
        abort();
    sim_errors_mute(1);
    atexit(cleanup);
}

static void write_file(const char *rel, const uint8_t *p, size_t n)
{
    char path[SIM_PATH_MAX];
    FILE *f;

    if (sim_path(&st, rel, path) != SIM_OK || (f = fopen(path, "wb")) == NULL ||
        (n > 0 && fwrite(p, 1, n, f) != n) || fclose(f) != 0)
        abort();
}

static void read_file(const char *rel, uint8_t *p, size_t cap, size_t *n)
{
    char path[SIM_PATH_MAX];
    FILE *f;

    if (sim_path(&st, rel, path) != SIM_OK || (f = fopen(path, "rb")) == NULL)
        abort();
    *n = fread(p, 1, cap, f);
    fclose(f);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* the model: is this 24-byte copy a valid record (format comment in state.c)? */
static int model_valid(const uint8_t *c)
{
    return memcmp(c, "IOTB", 4) == 0 && c[4] == 1 && c[5] < SIM_SLOTS && c[6] <= 1 &&
           be32(c + 20) == iotsec_crc32(0, c, 20);
}

static void boot_part(const uint8_t *data, size_t size)
{
    uint8_t file[2 * SIM_BOOT_SECTOR], after[2 * SIM_BOOT_SECTOR + 1], enc[REC];
    const uint8_t *copy[2];
    size_t flen, alen = 0;
    sim_boot_record rec, next, back;
    int ok[2], which, rc;

    memset(file, 0xff, sizeof file);
    if (size <= REC) {
        memcpy(file, data, size);
        flen = size;
    } else {
        size_t second = size - REC < REC ? size - REC : REC;
        memcpy(file, data, REC);
        memcpy(file + SIM_BOOT_SECTOR, data + REC, second);
        flen = SIM_BOOT_SECTOR + second;
    }
    write_file(SIM_BOOT_FILE, file, flen);
    copy[0] = file;
    copy[1] = file + SIM_BOOT_SECTOR;
    ok[0] = model_valid(copy[0]);
    ok[1] = model_valid(copy[1]);

    rc = sim_boot_read(&st, &rec);
    if (!ok[0] && !ok[1]) {
        if (rc != IOTSEC_E_CORRUPT)
            abort();
        which = -1;
    } else {
        if (ok[0] && ok[1])
            which = (int32_t)(be32(copy[1] + 8) - be32(copy[0] + 8)) > 0 ? 1 : 0;
        else
            which = ok[0] ? 0 : 1;
        sim_boot_encode(&rec, enc);
        if (rc != IOTSEC_OK || memcmp(enc, copy[which], REC) != 0)
            abort();
    }

    /* the next record goes to the other copy; the current one is left as it was */
    memset(&next, 0, sizeof next);
    next.active = which >= 0 ? (uint8_t)(1u - rec.active) : 0;
    next.pending = 1;
    next.attempts = which >= 0 ? (uint8_t)(rec.attempts + 1u) : 0;
    next.counter = which >= 0 ? rec.counter : 0;
    if (sim_boot_write(&st, &next) != IOTSEC_OK)
        abort();
    if (next.seq != (which >= 0 ? rec.seq + 1u : 1u))
        abort();
    read_file(SIM_BOOT_FILE, after, sizeof after, &alen);
    if (which >= 0 && memcmp(after + (size_t)which * SIM_BOOT_SECTOR, copy[which], REC) != 0)
        abort();
    sim_boot_encode(&next, enc);
    {
        size_t target = which >= 0 ? (size_t)(1 - which) : 0;
        if (alen < target * SIM_BOOT_SECTOR + REC ||
            memcmp(after + target * SIM_BOOT_SECTOR, enc, REC) != 0)
            abort();
    }
    if (sim_boot_read(&st, &back) != IOTSEC_OK || back.seq != next.seq ||
        back.active != next.active || back.pending != next.pending ||
        back.attempts != next.attempts || back.counter != next.counter)
        abort();
}

/* the model of one configuration value */
static int model_value(const uint8_t *v, size_t n)
{
    size_t i;

    if (n == 0 || n > 64)
        return 0;
    for (i = 0; i < n; i++)
        if (v[i] < 0x21 || v[i] > 0x7e || v[i] == '=')
            return 0;
    return 1;
}

/* the model of a setting's value: canonical decimal within [min, max] */
static int model_number(const uint8_t *v, size_t n, uint64_t min, uint64_t max, uint64_t *out)
{
    uint64_t x = 0;
    size_t i;

    if (n == 0 || n > 20 || (n > 1 && v[0] == '0'))
        return 0;
    for (i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9' || x > (UINT64_MAX - (uint64_t)(v[i] - '0')) / 10u)
            return 0;
        x = x * 10u + (uint64_t)(v[i] - '0');
    }
    if (x < min || x > max)
        return 0;
    *out = x;
    return 1;
}

static void config_part(const uint8_t *data, size_t size)
{
    static const struct {
        const char *key;
        uint64_t min, max, def;
    } keys[] = {
        {"slot_size", 4096, 1ull << 32, 4u * 1024u * 1024u},
        {"update_min_rate", 0, 1000000000, 1024},
        {"update_min_rate_time", 1, 3600, 30},
        {"update_deadline", 1, 86400, 1800},
    };
    const uint8_t *id = NULL, *cls = NULL, *p = data, *end = data + size;
    size_t id_len = 0, cls_len = 0, k;
    uint64_t val[4], num;
    sim_state got, again;
    int want = size <= SIM_CONFIG_MAX, rc;

    for (k = 0; k < 4; k++)
        val[k] = keys[k].def;

    /* the model */
    while (want && p < end) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
        const uint8_t *eq;
        if (n > 0 && p[n - 1] == '\r')
            n--;
        eq = memchr(p, '=', n);
        for (k = 0; eq != NULL && k < 4; k++)
            if ((size_t)(eq - p) == strlen(keys[k].key) &&
                memcmp(p, keys[k].key, (size_t)(eq - p)) == 0)
                break;
        if (eq != NULL && k < 4) {
            if (model_number(eq + 1, n - (size_t)(eq - p) - 1u, keys[k].min, keys[k].max, &num))
                val[k] = num;
            else
                want = 0;
        } else if (eq == NULL || !model_value(eq + 1, n - (size_t)(eq - p) - 1u)) {
            want = 0;
        } else if ((size_t)(eq - p) == 9 && memcmp(p, "device_id", 9) == 0) {
            id = eq + 1;
            id_len = n - 10u;
        } else if ((size_t)(eq - p) == 5 && memcmp(p, "class", 5) == 0) {
            cls = eq + 1;
            cls_len = n - 6u;
        } else {
            want = 0;
        }
        p = nl != NULL ? nl + 1 : end;
    }
    want = want && id != NULL && cls != NULL;

    write_file(SIM_CONFIG_FILE, data, size);
    rc = sim_state_open(&got, root);
    if (rc != (want ? SIM_OK : SIM_IO))
        abort();
    if (!want)
        return;
    if (strlen(got.device_id) != id_len || memcmp(got.device_id, id, id_len) != 0 ||
        strlen(got.device_class) != cls_len || memcmp(got.device_class, cls, cls_len) != 0 ||
        got.slot_size != val[0] || got.min_rate != val[1] || got.min_rate_time != val[2] ||
        got.update_deadline != val[3])
        abort();
    /* written back and read again: the same values */
    if (sim_state_write_config(&got) != SIM_OK || sim_state_open(&again, root) != SIM_OK ||
        strcmp(again.device_id, got.device_id) != 0 ||
        strcmp(again.device_class, got.device_class) != 0 ||
        again.slot_size != got.slot_size || again.min_rate != got.min_rate ||
        again.min_rate_time != got.min_rate_time ||
        again.update_deadline != got.update_deadline)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;

    if (!ready) {
        setup();
        ready = 1;
    }
    if (size < 1)
        return 0;
    if (data[0] & 1)
        config_part(data + 1, size - 1);
    else
        boot_part(data + 1, size - 1);
    return 0;
}
