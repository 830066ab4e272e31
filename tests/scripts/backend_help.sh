#!/usr/bin/env bash
# iotsec-backend's help texts and manual page (examples/backend/iotsec-backend.8) name every
# option each command accepts; -V / --version print "iotsec-backend <libiotsec version>".
# The options are read from the source (serve.c's parse_args, admin.c's option tables), so
# an option added without its documentation fails here. Needs BUILD ($BUILD/iotsec-backend).
set -u
: "${BUILD:=build}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd) || exit 1
SRV=$(cd "$BUILD" && pwd)/iotsec-backend
SRC=$ROOT/examples/backend
MAN=$SRC/iotsec-backend.8
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

[ -x "$SRV" ] || { echo "FAIL: no $SRV"; exit 1; }

# ---- version --------------------------------------------------------------------------------
want=$(sed -n 's/^#define IOTSEC_VERSION_STRING "\(.*\)"$/\1/p' "$ROOT/include/iotsec/version.h")
for v in -V --version; do
    out=$("$SRV" "$v"); rc=$?
    [ "$rc" -eq 0 ] || fail "$v: exit $rc"
    [ "$out" == "iotsec-backend $want" ] || fail "$v: '$out', expected 'iotsec-backend $want'"
done
grep -q -- '--version' <("$SRV" --help) || fail "--help does not mention --version"

# ---- options of each command, from the source ------------------------------------------------
# serve: parse_args compares o with each option
serve_opts=$(grep -o 'strcmp(o, "--[a-z-]*")' "$SRC/serve.c" | sed 's/.*"\(--[a-z-]*\)".*/\1/' |
    sort -u)
[ "$(echo "$serve_opts" | wc -l)" -ge 20 ] || fail "serve: options not found in serve.c"
# admin commands: the option table inside each bk_cmd_<name> function
admin_opts() { # FUNCTION
    awk -v f="int $1(" 'index($0, f) == 1 { on = 1 } on && /^}/ { on = 0 } on' "$SRC/admin.c" |
        grep -o '{"--[a-z-]*"' | sed 's/{"//; s/"//' | sort -u
}

# check CMD OPTIONS...: each option in CMD --help and in the manual page's section of CMD
check() {
    local cmd=$1 o help section
    shift
    help=$("$SRV" "$cmd" --help) || fail "$cmd --help: exit $?"
    # the manual page from ".SS cmd" to the next .SS/.SH, with roff's \- as -
    section=$(awk -v s=".SS $cmd" '$0 == s { on = 1; next } on && /^\.S[SH] / { on = 0 } on' \
        "$MAN" | sed 's/\\-/-/g')
    [ -n "$section" ] || fail "$MAN: no section .SS $cmd"
    for o in "$@" --help; do
        grep -q -- "$o\b" <<<"$help" || fail "$cmd --help does not describe $o"
        [ "$o" == --help ] && continue
        grep -q -- "^\.BI\? $o\b" <<<"$section" || fail "$MAN: .SS $cmd does not describe $o"
    done
}

# shellcheck disable=SC2086 # word splitting of the option lists is intended
check serve $serve_opts
for c in add-device:bk_cmd_add_device disable-device:bk_cmd_disable_device \
    publish-firmware:bk_cmd_publish_firmware list:bk_cmd_list; do
    opts=$(admin_opts "${c#*:}")
    [ -n "$opts" ] || fail "${c%%:*}: options not found in admin.c"
    # shellcheck disable=SC2086
    check "${c%%:*}" $opts
done

# ---- top-level help: every command, and the manual page renders without warnings -----------
for c in serve add-device disable-device publish-firmware list; do
    grep -q "^  $c " <("$SRV" --help) || fail "--help does not list $c"
done
if command -v groff >/dev/null; then
    warn=$(LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "$MAN" 2>&1)
    [ -z "$warn" ] || fail "groff warnings: $warn"
fi
"$SRV" --bogus >/dev/null 2>&1
rc=$?
[ "$rc" -eq 2 ] || fail "unknown option: exit $rc, expected 2"

[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "backend help: version, every option of every command in --help and in the manual"
