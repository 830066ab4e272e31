/*
 * Regression driver for the fuzz targets: runs LLVMFuzzerTestOneInput over every file named
 * on the command line (directories are walked one level), without libFuzzer, so `make check`
 * replays each corpus under ASan+UBSan (zstd's regression driver does the same). It also
 * feeds a few synthetic inputs (empty, all-zero, all-0xff, pseudo-random) of several sizes.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long n;

    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        if (f)
            fclose(f);
        return 1;
    }
    buf = malloc((size_t)n + 1u);
    if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        free(buf);
        fclose(f);
        return 1;
    }
    fclose(f);
    /* an exact-size heap copy, so ASan catches a read one past the end */
    {
        uint8_t *exact = malloc(n > 0 ? (size_t)n : 1u);
        if (exact == NULL) {
            free(buf);
            return 1;
        }
        memcpy(exact, buf, (size_t)n);
        LLVMFuzzerTestOneInput(exact, (size_t)n);
        free(exact);
    }
    free(buf);
    return 0;
}

static void run_synthetic(void)
{
    static const size_t sizes[] = {0, 1, 2, 3, 4, 7, 8, 12, 16, 17, 31, 32, 33, 64, 100, 255, 1024};
    uint32_t x = 0x12345678u;
    size_t i, j;

    for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        uint8_t *b = malloc(sizes[i] ? sizes[i] : 1u);
        if (b == NULL)
            return;
        memset(b, 0, sizes[i]);
        LLVMFuzzerTestOneInput(b, sizes[i]);
        memset(b, 0xff, sizes[i]);
        LLVMFuzzerTestOneInput(b, sizes[i]);
        for (j = 0; j < sizes[i]; j++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            b[j] = (uint8_t)x;
        }
        LLVMFuzzerTestOneInput(b, sizes[i]);
        free(b);
    }
}

int main(int argc, char **argv)
{
    int i, files = 0, errors = 0;

    run_synthetic();
    for (i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: %s: not found\n", argv[i]);
            errors++;
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            DIR *d = opendir(argv[i]);
            struct dirent *e;
            char path[4096];
            if (d == NULL) {
                errors++;
                continue;
            }
            while ((e = readdir(d)) != NULL) {
                if (e->d_name[0] == '.')
                    continue;
                snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
                errors += run_file(path);
                files++;
            }
            closedir(d);
        } else {
            errors += run_file(argv[i]);
            files++;
        }
    }
    printf("replayed %d corpus files\n", files);
    return errors ? 1 : 0;
}
