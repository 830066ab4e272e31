/* gen_frames: writes the frame vectors (gen_frames.c) into OUT_DIR. See gen_frames.c for
 * what they hold and how to regenerate them: make build/gen_frames && build/gen_frames
 * bindings-spec/vectors */
#include <stdio.h>

#include "iotsec/iotsec.h"

#include "gen_vectors.h"

int main(int argc, char **argv)
{
    size_t i;

    if (argc != 2) {
        fprintf(stderr, "usage: gen_frames OUT_DIR   (e.g. bindings-spec/vectors)\n");
        return 2;
    }
    if (iotsec_crypto_openssl() == NULL) {
        fprintf(stderr, "gen_frames: needs the OpenSSL backend\n");
        return 2;
    }
    for (i = 0; i < gen_nfiles; i++) {
        char path[4096];
        FILE *f;
        snprintf(path, sizeof path, "%s/%s", argv[1], gen_files[i].name);
        f = fopen(path, "w");
        if (f == NULL) {
            perror(path);
            return 3;
        }
        gen_files[i].gen(f);
        if (fclose(f) != 0) {
            perror(path);
            return 3;
        }
        printf("wrote %s\n", path);
    }
    return 0;
}
