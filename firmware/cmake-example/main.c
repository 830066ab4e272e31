/*
 * The tiny firmware of firmware/cmake-example: built by CMake against libiotsec's
 * CMakeLists.txt, run on QEMU mps2-an386 by tests/scripts/cmake_firmware.sh when QEMU is
 * there. Derives frame keys, seals a frame and opens it against a replay window (the
 * same frame again is a replay), and checks SHA-256("abc"). Exit status: failures.
 */
#include <stdio.h>
#include <string.h>

#include "iotsec/iotsec.h"

static unsigned failures;

static void check(int ok, const char *what)
{
    printf("%s: %s\n", ok ? "ok" : "FAIL", what);
    if (!ok)
        failures++;
}

int main(void)
{
    static const uint8_t abc_sha256[32] = {
        0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
        0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    const iotsec_crypto *c = iotsec_crypto_psa();
    uint8_t master[IOTSEC_FRAME_MASTER_LEN], digest[32], frame[128], plain[32];
    iotsec_frame_keys up, server; /* the device seals uplink; the server opens it */
    iotsec_replay_window w;
    size_t len = 0, plain_len = 0;

    check(c != NULL && iotsec_crypto_has(c, IOTSEC_CAP_ED25519 | IOTSEC_CAP_AES_CBC),
          "psa backend with its Ed25519 fallback");
    if (c == NULL)
        return 1;
    check(iotsec_sha256(c, "abc", 3, digest) == IOTSEC_OK &&
              memcmp(digest, abc_sha256, sizeof digest) == 0,
          "SHA-256(\"abc\")");
    memset(master, 7, sizeof master);
    check(iotsec_frame_keys_derive(&up, c, master, "tiny-1", 6, 0, IOTSEC_FRAME_UPLINK) ==
                  IOTSEC_OK &&
              iotsec_frame_keys_derive(&server, c, master, "tiny-1", 6, 0,
                                       IOTSEC_FRAME_UPLINK) == IOTSEC_OK,
          "frame keys");
    check(iotsec_frame_seal(&up, 1, 1, NULL, (const uint8_t *)"hello", 5, frame, sizeof frame,
                            &len) == IOTSEC_OK,
          "seal an encrypted frame");
    check(iotsec_replay_init(&w, IOTSEC_REPLAY_DEFAULT_WINDOW) == IOTSEC_OK, "replay window");
    check(iotsec_frame_open_checked(&server, &w, frame, len, NULL, plain, sizeof plain,
                                    &plain_len) == IOTSEC_OK &&
              plain_len == 5 && memcmp(plain, "hello", 5) == 0,
          "open it");
    check(iotsec_frame_open_checked(&server, &w, frame, len, NULL, plain, sizeof plain,
                                    &plain_len) == IOTSEC_E_REPLAY,
          "the same frame again is a replay");
    iotsec_frame_keys_cleanup(&up);
    iotsec_frame_keys_cleanup(&server);
    printf("cmake-example: libiotsec %s, %u failed\n", iotsec_version(), failures);
    return (int)failures;
}
