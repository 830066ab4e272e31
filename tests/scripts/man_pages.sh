#!/usr/bin/env bash
# The hand-written man pages: each one present renders without a single warning
# (groff -man -ww, or mandoc -T lint where groff is absent), and every long option that a
# program's --help texts print — the top level, each command's, each subcommand's —
# appears in the program's page. A program whose binary ($BUILD/...) or page is absent is
# skipped. Needs groff (Debian: groff-base) or mandoc.
set -uo pipefail
: "${BUILD:=build}"
cd "$(dirname "$0")/../.."
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
failed=0
checked=0
page_failed=0
fail() { echo "man_pages: FAIL: $*"; failed=1; page_failed=1; }

# program  page
PAGES="iotsec tools/iotsec/iotsec.1
iotsec-device-sim examples/device-sim/iotsec-device-sim.1
iotsec-backend examples/backend/iotsec-backend.8"

if command -v groff >/dev/null 2>&1; then
    # lint PAGE: warnings on stderr; render PAGE: plain ASCII text, no hyphenation
    lint() { groff -man -Tutf8 -ww -z "$1" 2>&1 >/dev/null; }
    render() { groff -man -Tascii -P-cbou -rHY=0 -rLL=100n "$1" 2>/dev/null; }
elif command -v mandoc >/dev/null 2>&1; then
    lint() { mandoc -T lint -W warning "$1" 2>&1; }
    render() { mandoc -T ascii "$1" 2>/dev/null | sed 's/.\x08//g'; }
else
    echo "man_pages: FAIL: neither groff nor mandoc is installed (Debian: apt-get install groff-base)"
    exit 1
fi

# help_texts PROG: every --help text of PROG (top level, commands, subcommands) on stdout.
# Commands are the lines of the top-level help indented by two spaces and starting with a
# lowercase word; subcommands are the words after "PROG CMD " in a command's help
# ("iotsec frame seal|open", "iotsec ca init ...").
help_texts() {
    local prog=$1 name cmd sub top
    name=$(basename "$prog")
    top=$("$prog" --help) || { fail "$name --help exits $?"; return; }
    printf '%s\n' "$top"
    for cmd in $(printf '%s\n' "$top" | sed -n 's/^  \([a-z][a-z0-9-]*\)\([ ].*\)\{0,1\}$/\1/p' | sort -u); do
        local text
        text=$("$prog" "$cmd" --help 2>/dev/null) || { fail "$name $cmd --help exits non-zero"; continue; }
        printf '%s\n' "$text"
        for sub in $(printf '%s\n' "$text" | grep -o "$name $cmd [a-z][a-z0-9|-]*" | cut -d' ' -f3 |
            tr '|' '\n' | sort -u); do
            # a word of the usage line that is not a subcommand prints no help: not ours to judge
            "$prog" "$cmd" "$sub" --help 2>/dev/null
        done
    done
}

while read -r prog page; do
    bin=$BUILD/$prog
    if [ ! -f "$page" ]; then
        echo "man_pages: $page absent, skipped"
        continue
    fi
    checked=$((checked + 1))
    page_failed=0
    # 1. no warning (and only ASCII: a UTF-8 byte is an "invalid input character" to troff)
    warnings=$(lint "$page")
    [ -z "$warnings" ] || fail "$page: warnings:
$warnings"
    if LC_ALL=C grep -n '[^[:print:][:space:]]' "$page" >"$T/nonascii"; then
        fail "$page: non-ASCII bytes (use troff escapes such as \\(em): $(head -3 "$T/nonascii")"
    fi
    render "$page" >"$T/page.txt"
    [ -s "$T/page.txt" ] || { fail "$page renders to nothing"; continue; }
    grep -q '^NAME' "$T/page.txt" && grep -q '^SYNOPSIS' "$T/page.txt" ||
        fail "$page: no NAME or SYNOPSIS section"
    # 2. every long option of the program's --help texts is in the page
    if [ ! -x "$bin" ]; then
        echo "man_pages: $bin not built, option check of $page skipped"
        continue
    fi
    help_texts "$bin" >"$T/help.txt"
    opts=$(grep -o -- '--[a-z][a-z0-9-]*[a-z0-9]' "$T/help.txt" | sort -u)
    [ -n "$opts" ] || fail "$prog: no long option found in its --help texts"
    missing=""
    for o in $opts; do
        grep -Eq -- "$o([^a-z0-9-]|\$)" "$T/page.txt" || missing="$missing $o"
    done
    [ -z "$missing" ] || fail "$page lacks options that $prog --help prints:$missing"
    [ $page_failed -eq 0 ] &&
        echo "man_pages: $page: renders cleanly; the $(echo "$opts" | wc -l) options of $prog --help are all documented"
done <<<"$PAGES"

[ "$checked" -gt 0 ] || fail "no man page found"
if [ $failed -ne 0 ]; then
    echo "man_pages: FAILED"
    exit 1
fi
echo "man_pages: ok"
