#!/usr/bin/env bash
# One source list, two build systems: libiotsec/sources.cmake is read by the Makefile and by
# CMakeLists.txt (the CMake build for embedding in CMake-based firmware).
#  1. the list names every libiotsec/core/*.c exactly once, and only files that exist
#     (a core file missing from it would be built by neither build system);
#  2. CMakeLists.txt, configured with the ARM toolchain file (cmake/arm-none-eabi.cmake,
#     picolibc), builds a tiny firmware (firmware/cmake-example) against the Mbed TLS and
#     libsodium ref10 libraries `make firmware` cross-built, warnings-clean; QEMU runs it
#     when installed (mps2-an386, exit status = failures);
#  3. IOTSEC_NO_JSON=ON leaves the JSON and EcoWatt sources out and says so in config.h.
# Part 2 and 3 are skipped, saying so, only when cmake or the ARM toolchain is absent
# (scripts/install-deps installs both) and in the sanitizer pass.
set -u
: "${BUILD:=build}"
cd "$(dirname "$0")/../.." || exit 1
top=$PWD
fail() { echo "cmake_firmware: FAIL: $*"; exit 1; }

# 1. the list
list=libiotsec/sources.cmake
listed=$(sed -n '/^set(IOTSEC_[A-Z_]*_SOURCES$/,/^)/s/^ *\(libiotsec\/[^ ]*\.c\) *$/\1/p' "$list" | sort)
[ -n "$listed" ] || fail "$list lists no sources"
dups=$(echo "$listed" | uniq -d)
[ -z "$dups" ] || fail "$list lists twice: $dups"
for f in $listed; do [ -f "$f" ] || fail "$list names $f, which does not exist"; done
for f in libiotsec/core/*.c; do
    echo "$listed" | grep -qx "$f" || fail "$f is not in $list (neither build would compile it)"
done
echo "cmake_firmware: $list lists all $(echo "$listed" | wc -l) portable sources"

if [ "${SANITIZE:-}" = 1 ]; then
    echo "cmake_firmware: build skipped in the sanitizer build (the plain build runs it)"
    exit 0
fi
for tool in cmake arm-none-eabi-gcc; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "cmake_firmware: build skipped: $tool is not installed (scripts/install-deps installs it)"
        exit 0
    fi
done
unset MAKEFLAGS MFLAGS MAKELEVEL
log=$(mktemp "${TMPDIR:-/tmp}/iotsec-cmakefw.XXXXXX")
trap 'rm -f "$log"' EXIT
make -s BUILD="$BUILD" WERROR=1 firmware >"$log" 2>&1 || { cat "$log"; fail "make firmware"; }
case $BUILD in /*) build_abs=$BUILD ;; *) build_abs=$top/$BUILD ;; esac
fw_src=${FW_SRC:-build/firmware-src}   # firmware/firmware.mk's default
case $fw_src in /*) ;; *) fw_src=$top/$fw_src ;; esac

# 2. the tiny firmware
out=$build_abs/cmake-firmware
rm -rf "$out"
cmake -S firmware/cmake-example -B "$out" -DCMAKE_TOOLCHAIN_FILE="$top/cmake/arm-none-eabi.cmake" \
    -DCMAKE_BUILD_TYPE=MinSizeRel -DIOTSEC_FW_DIR="$build_abs/firmware" \
    -DIOTSEC_FW_SRC="$fw_src" >"$log" 2>&1 || { cat "$log"; fail "cmake configure"; }
cmake --build "$out" -j2 >"$log" 2>&1 || { cat "$log"; fail "cmake build"; }
if grep -q 'warning:' "$log"; then cat "$log"; fail "warnings in the CMake build"; fi
grep -qx '#define IOTSEC_HAVE_PSA 1' "$out/libiotsec/include/iotsec/config.h" ||
    fail "config.h without the PSA backend"
[ -f "$out/tiny.elf" ] || fail "no tiny.elf"
echo "cmake_firmware: CMake (arm-none-eabi, picolibc) built $(arm-none-eabi-size "$out/tiny.elf" | awk 'NR == 2 { print $1 " bytes of text" }') for tiny.elf"
if command -v qemu-system-arm >/dev/null 2>&1; then
    timeout 60 qemu-system-arm -M mps2-an386 -display none -monitor none -serial none \
        -chardev stdio,id=shc -semihosting-config enable=on,target=native,chardev=shc \
        -kernel "$out/tiny.elf" >"$log" 2>&1
    rc=$?
    [ "$rc" = 0 ] || { cat "$log"; fail "tiny.elf on QEMU exited $rc"; }
    grep '^cmake-example:' "$log" | sed 's/^/cmake_firmware: /'
else
    echo "cmake_firmware: qemu-system-arm absent: tiny.elf built, not run"
fi

# 3. subsetting
sub=$build_abs/cmake-firmware-nojson
rm -rf "$sub"
cmake -S firmware/cmake-example -B "$sub" -DCMAKE_TOOLCHAIN_FILE="$top/cmake/arm-none-eabi.cmake" \
    -DCMAKE_BUILD_TYPE=MinSizeRel -DIOTSEC_FW_DIR="$build_abs/firmware" \
    -DIOTSEC_FW_SRC="$fw_src" -DIOTSEC_NO_JSON=ON >"$log" 2>&1 ||
    { cat "$log"; fail "cmake configure (IOTSEC_NO_JSON)"; }
cmake --build "$sub" --target iotsec -j2 >"$log" 2>&1 || { cat "$log"; fail "cmake build (IOTSEC_NO_JSON)"; }
if grep -q 'warning:' "$log"; then cat "$log"; fail "warnings in the IOTSEC_NO_JSON build"; fi
grep -qx '#define IOTSEC_NO_JSON 1' "$sub/libiotsec/include/iotsec/config.h" &&
    grep -qx '#define IOTSEC_NO_ECOWATT 1' "$sub/libiotsec/include/iotsec/config.h" ||
    fail "IOTSEC_NO_JSON not in config.h"
members=$(arm-none-eabi-ar t "$sub/libiotsec/libiotsec.a")
echo "$members" | grep -q 'frame_json\|ecowatt' && fail "IOTSEC_NO_JSON still builds frame_json/ecowatt"
echo "$members" | grep -q 'frame\.c' || fail "IOTSEC_NO_JSON lost the core"
echo "cmake_firmware: IOTSEC_NO_JSON=ON builds $(echo "$members" | wc -l) objects, no JSON/EcoWatt"
echo "cmake_firmware: ok"
