# shellcheck shell=bash
# Shell helpers shared by the scripted tests that drive the real backend and device simulator
# (tests/e2e/lib.sh for scripts/demo, examples/device-sim/tests/lib.sh). Sourced, not run;
# defines functions only and changes nothing when sourced.

# flip_byte FILE OFFSET: invert the bits of one byte in place (a tampered or damaged file).
# Returns 1 (with a message) when FILE has no byte at OFFSET.
flip_byte() {
    local b
    b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    [ -n "$b" ] || { echo "flip_byte: $1 has no byte at $2" >&2; return 1; }
    printf "\\$(printf '%03o' $((b ^ 255)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# wait_listening LOG PID: wait (at most 10 s) until the backend started as PID with
# `--listen 127.0.0.1:0` writes "listening on 127.0.0.1:PORT" to LOG; prints PORT. Returns 1
# when the process ended or the line did not come.
wait_listening() {
    local port i
    for i in $(seq 1 100); do
        port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$1" 2>/dev/null)
        if [ -n "$port" ]; then
            echo "$port"
            return 0
        fi
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# wait_for SECONDS CMD...: run CMD every 0.1 s until it succeeds (0) or SECONDS pass (1).
# CMD's arguments are expanded once, by the caller: to re-read a value each time, make CMD a
# function that reads it.
wait_for() {
    local n=$(($1 * 10)) i
    shift
    for ((i = 0; i < n; i++)); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}
