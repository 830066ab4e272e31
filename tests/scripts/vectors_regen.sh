#!/usr/bin/env bash
# Every vector file is reproduced byte for byte by its generator: the Python models' here,
# the C generator programs' ($BUILD/gen_frames, $BUILD/gen_firmware: tools/gen-vectors/) here
# too, and the C-generated files also by their Check suites, which link the generators'
# code (frame_v1, frame_json, ecowatt, replay_window by test_frame; manifest_v1 by
# test_manifest; firmware_image by test_vectors). Every file in bindings-spec/vectors/ is
# claimed by one of them, so no vector file can be edited by hand or left without a generator.
set -u
: "${BUILD:=build}"
cd "$(dirname "$0")/../.." || exit 1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/iotsec-vectors.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failures=0

# file -> how it is generated and checked
declare -A owner=(
    [counter_record.json]="python3 tools/gen-vectors/gen_counter.py"
    [frame_v1.json]="$BUILD/gen_frames (tools/gen-vectors/gen_frames.c), test_frame"
    [frame_json.json]="$BUILD/gen_frames (tools/gen-vectors/gen_frames.c), test_frame"
    [ecowatt.json]="$BUILD/gen_frames (tools/gen-vectors/gen_frames.c), test_frame"
    [replay_window.json]="$BUILD/gen_frames (tools/gen-vectors/gen_frames.c), test_frame"
    [manifest_v1.json]="tests/unit/test_manifest.c (IOTSEC_REGEN_VECTORS=1)"
    [firmware_image.json]="$BUILD/gen_firmware (tools/gen-vectors/gen_firmware.c), test_vectors"
)
for f in bindings-spec/vectors/*.json; do
    name=$(basename "$f")
    if [ -z "${owner[$name]+x}" ]; then
        echo "vectors_regen: FAIL: $f has no generator (add it to tests/scripts/vectors_regen.sh)" >&2
        failures=$((failures + 1))
    fi
done

python3 tools/gen-vectors/gen_counter.py "$tmp/counter_record.json" || failures=$((failures + 1))
if ! cmp -s "$tmp/counter_record.json" bindings-spec/vectors/counter_record.json; then
    echo "vectors_regen: FAIL: bindings-spec/vectors/counter_record.json differs from" \
        "python3 tools/gen-vectors/gen_counter.py:" >&2
    diff -u bindings-spec/vectors/counter_record.json "$tmp/counter_record.json" | head -20 >&2
    failures=$((failures + 1))
fi

# the C generator programs, each run into a scratch directory: what they write is committed
for gen in gen_frames gen_firmware; do
    if [ ! -x "$BUILD/$gen" ]; then
        echo "vectors_regen: FAIL: $BUILD/$gen is not built (make $BUILD/$gen)" >&2
        failures=$((failures + 1))
        continue
    fi
    mkdir -p "$tmp/$gen"
    if ! "$BUILD/$gen" "$tmp/$gen" >/dev/null; then
        echo "vectors_regen: FAIL: $BUILD/$gen $tmp/$gen" >&2
        failures=$((failures + 1))
        continue
    fi
    for f in "$tmp/$gen"/*; do
        name=$(basename "$f")
        if ! cmp -s "$f" "bindings-spec/vectors/$name"; then
            echo "vectors_regen: FAIL: bindings-spec/vectors/$name differs from $BUILD/$gen:" >&2
            diff -u "bindings-spec/vectors/$name" "$f" | head -20 >&2
            failures=$((failures + 1))
        fi
    done
done

if [ "$failures" -ne 0 ]; then
    exit 1
fi
echo "vectors_regen: counter_record.json and the files of gen_frames and gen_firmware" \
    "reproduced; every vector file has a generator"
