# libiotsec's portable sources: the one list both build systems read. The Makefile reads it
# (one path per line between `set(NAME` and `)`; keep that shape), CMakeLists.txt includes
# it. Paths are relative to the top of the tree. tests/scripts/cmake_firmware.sh checks that
# every libiotsec/core/*.c is listed exactly once.
#
# IOTSEC_CORE_SOURCES     always built
# IOTSEC_JSON_SOURCES     the JSON frame encoding; left out with NO_JSON / IOTSEC_NO_JSON
# IOTSEC_ECOWATT_SOURCES  the legacy EcoWatt profile (JSON); left out with NO_ECOWATT or NO_JSON
# IOTSEC_CRYPTO_SOURCES   the backend registry; each backend adds libiotsec/crypto/<name>.c
#                         (openssl, sodium, psa)
# The host-only parts (libiotsec/port/posix/, libiotsec/store/, libiotsec/x509/) are built
# by the Makefile alone.
set(IOTSEC_CORE_SOURCES
    libiotsec/core/counter.c
    libiotsec/core/crypto.c
    libiotsec/core/denylist.c
    libiotsec/core/error.c
    libiotsec/core/frame.c
    libiotsec/core/image.c
    libiotsec/core/manifest.c
    libiotsec/core/reader.c
    libiotsec/core/replay.c
    libiotsec/core/replay_store_mem.c
    libiotsec/core/util.c
    libiotsec/core/version.c
)
set(IOTSEC_JSON_SOURCES
    libiotsec/core/frame_json.c
)
set(IOTSEC_ECOWATT_SOURCES
    libiotsec/core/ecowatt.c
)
set(IOTSEC_CRYPTO_SOURCES
    libiotsec/crypto/registry.c
)
