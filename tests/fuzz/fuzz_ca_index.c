/* Fuzz target: the records file of `iotsec ca` (CA_DIR/index, tools/iotsec/cmd_ca.c) — the
 * CA's persisted state, one line per issued certificate:
 *     <serial: 40 hex> <notAfter> <revoked at> <kind: d|s|c> <name>
 * The tool's code is linked from $(BUILD)/internal/libiotsec-cli.a (tests/fuzz/build.mk;
 * declarations in tools/iotsec/cli.h); the file is read by the tool's own load_index from a
 * scratch directory (in /dev/shm when there is one). The tool's messages about damaged
 * records go to a null stream while it runs.
 *
 * Invariants checked: a file that loads holds one record per line that is neither empty nor
 * a comment, each with a 20-byte serial, times ≤ INT64_MAX, kind 'd', 's' or 'c' and a name that
 * passes iotsec_device_id_check; what save_index writes loads back to the same records, and
 * writing those again gives the same bytes (one canonical form). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../tools/iotsec/cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir1[64], dir2[64];
static FILE *quiet;

static void cleanup(void)
{
    char p[128];

    snprintf(p, sizeof p, "%s/index", dir1);
    unlink(p);
    snprintf(p, sizeof p, "%s/index", dir2);
    unlink(p);
    rmdir(dir1);
    rmdir(dir2);
    if (quiet != NULL)
        fclose(quiet);
}

static void setup(void)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

    snprintf(dir1, sizeof dir1, "%s/iotsec-fuzz-XXXXXX", base);
    snprintf(dir2, sizeof dir2, "%s/iotsec-fuzz-XXXXXX", base);
    if (mkdtemp(dir1) == NULL || mkdtemp(dir2) == NULL || (quiet = fopen("/dev/null", "w")) == NULL)
        abort();
    atexit(cleanup);
}

/* load_index with the tool's messages silenced (sanitizer reports still reach fd 2) */
static int load_quiet(struct ca_dir *ca, const char *dir)
{
    FILE *saved = stderr;
    int rc;

    memset(ca, 0, sizeof *ca);
    ca->dir = dir;
    stderr = quiet;
    rc = load_index(ca);
    stderr = saved;
    return rc;
}

static void read_all(const char *dir, uint8_t *buf, size_t cap, size_t *n)
{
    char p[128];
    FILE *f;

    snprintf(p, sizeof p, "%s/index", dir);
    if ((f = fopen(p, "rb")) == NULL)
        abort();
    *n = fread(buf, 1, cap, f);
    fclose(f);
}

static int same_records(const struct ca_dir *a, const struct ca_dir *b)
{
    size_t i;

    if (a->n != b->n)
        return 0;
    for (i = 0; i < a->n; i++) {
        const struct record *x = &a->recs[i], *y = &b->recs[i];
        if (memcmp(x->serial, y->serial, sizeof x->serial) != 0 || x->not_after != y->not_after ||
            x->revoked_at != y->revoked_at || x->kind != y->kind || strcmp(x->name, y->name) != 0)
            return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    static uint8_t text1[1u << 20], text2[1u << 20];
    struct ca_dir ca, ca2, ca3;
    const uint8_t *p = data, *end = data + size;
    size_t lines = 0, i, n1 = 0, n2 = 0;
    char path[128];
    FILE *f;

    if (!ready) {
        setup();
        ready = 1;
    }
    if (size > 65536)
        return 0;
    snprintf(path, sizeof path, "%s/index", dir1);
    if ((f = fopen(path, "wb")) == NULL || (size > 0 && fwrite(data, 1, size, f) != size) ||
        fclose(f) != 0)
        abort();
    if (load_quiet(&ca, dir1) != CLI_OK) {
        if (ca.n != 0 && ca.recs == NULL)
            abort();
        ca_close(&ca);
        return 0;
    }
    /* one record per line that is not empty and not a comment */
    while (p < end) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
        if (n > 0 && p[n - 1] == '\r')
            n--;
        lines += n > 0 && p[0] != '#';
        p = nl != NULL ? nl + 1 : end;
    }
    if (ca.n != lines)
        abort();
    for (i = 0; i < ca.n; i++) {
        const struct record *r = &ca.recs[i];
        if (r->not_after > INT64_MAX || r->revoked_at > INT64_MAX ||
            (r->kind != 'd' && r->kind != 's' && r->kind != 'c') ||
            iotsec_device_id_check(r->name, strlen(r->name)) != IOTSEC_OK)
            abort();
    }
    /* saved and loaded again: the same records; saved again: the same bytes */
    ca.dir = dir2;
    if (save_index(&ca) != CLI_OK || load_quiet(&ca2, dir2) != CLI_OK || !same_records(&ca, &ca2))
        abort();
    read_all(dir2, text1, sizeof text1, &n1);
    if (save_index(&ca2) != CLI_OK || load_quiet(&ca3, dir2) != CLI_OK ||
        !same_records(&ca, &ca3))
        abort();
    read_all(dir2, text2, sizeof text2, &n2);
    if (n1 != n2 || memcmp(text1, text2, n1) != 0)
        abort();
    ca_close(&ca);
    ca_close(&ca2);
    ca_close(&ca3);
    return 0;
}
