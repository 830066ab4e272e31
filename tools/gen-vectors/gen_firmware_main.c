/* gen_firmware: writes firmware_image.json (gen_firmware.c) into OUT_DIR. See gen_firmware.c
 * for what it holds and how to regenerate it: make build/gen_firmware && build/gen_firmware
 * bindings-spec/vectors */
#include <stdio.h>

#include "iotsec/iotsec.h"

#include "gen_vectors.h"

int main(int argc, char **argv)
{
    char path[4096];
    FILE *f;

    if (argc != 2) {
        fprintf(stderr, "usage: gen_firmware OUT_DIR   (e.g. bindings-spec/vectors)\n");
        return 2;
    }
    if (iotsec_crypto_openssl() == NULL) {
        fprintf(stderr, "gen_firmware: needs the OpenSSL backend\n");
        return 2;
    }
    snprintf(path, sizeof path, "%s/firmware_image.json", argv[1]);
    f = fopen(path, "w");
    if (f == NULL) {
        perror(path);
        return 3;
    }
    gen_firmware(f);
    if (fclose(f) != 0) {
        perror(path);
        return 3;
    }
    printf("wrote %s\n", path);
    return 0;
}
