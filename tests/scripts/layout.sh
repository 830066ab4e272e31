#!/usr/bin/env bash
# The layout rules of docs/DESIGN.md §1, checked on the tree:
#   1. the portable core (libiotsec/core/) compiles to objects whose only references outside
#      the core are the C library's mem* and str* functions (nm -u), built here without
#      sanitizers or hardening flags so the answer does not depend on the build;
#   2. the core includes no header beyond the C library's string.h and the freestanding
#      stddef.h, stdint.h, limits.h, and nothing outside the tree (include/iotsec, core/);
#   3. every other directory under libiotsec/ includes only the C library, POSIX, and the one
#      dependency it is named after (crypto/openssl.c: OpenSSL; crypto/sodium.c: libsodium;
#      x509/: OpenSSL; store/sqlite.c: SQLite; store/postgres.c: libpq; port/posix/: POSIX);
#   4. no file under libiotsec/ or include/ includes a header of another dependency, and the
#      public headers the core uses include only the freestanding set and string.h.
set -u
: "${BUILD:=build}"
cd "$(dirname "$0")/../.." || exit 1
T=$(mktemp -d "${TMPDIR:-/tmp}/iotsec-layout.XXXXXX")
trap 'rm -rf "$T"' EXIT
fail=0

# 1. symbols
mkdir -p "$T/inc/iotsec" "$T/obj"
scripts/gen-config OPENSSL=0 SODIUM=0 PSA=0 POSIX=0 SQLITE=0 PG=0 X509=0 NO_JSON=0 NO_ECOWATT=0 \
    >"$T/inc/iotsec/config.h"
for c in libiotsec/core/*.c; do
    ${CC:-cc} -std=c99 -O2 -fno-stack-protector -fno-sanitize=all -I"$T/inc" -Iinclude \
        -c "$c" -o "$T/obj/$(basename "$c" .c).o" || { echo "layout: FAIL: $c does not compile alone" >&2; fail=1; }
done
nm -u "$T"/obj/*.o | awk 'NF==2 {print $2}' | sort -u >"$T/undef"
nm --defined-only "$T"/obj/*.o | awk 'NF==3 {print $3}' | sort -u >"$T/def"
outside=$(comm -23 "$T/undef" "$T/def" | grep -Ev '^(mem|str)[a-z0-9_]*$' || true)
if [ -n "$outside" ]; then
    echo "layout: FAIL: libiotsec/core/ refers to symbols beyond the C library's mem*/str*:" $outside >&2
    fail=1
else
    echo "layout: core objects refer outside the core only to:" $(comm -23 "$T/undef" "$T/def")
fi

# 2-4. includes
python3 - <<'PY' || fail=1
import glob, os, re, sys

CLIB = set("""assert.h ctype.h errno.h float.h inttypes.h iso646.h limits.h locale.h math.h
setjmp.h signal.h stdalign.h stdarg.h stdbool.h stddef.h stdint.h stdio.h stdlib.h string.h
time.h wchar.h wctype.h""".split())
POSIX = re.compile(r"^(unistd|fcntl|pthread|poll|dirent|strings|sys/[a-z_]+|netinet/[a-z_]+|"
                   r"arpa/inet|netdb|termios|syslog|sched)\.h$")
CORE_ALLOWED = {"string.h", "stddef.h", "stdint.h", "limits.h"}
DEPS = {  # dependency -> header pattern
    "OpenSSL": re.compile(r"^openssl/"),
    "libsodium": re.compile(r"^sodium(\.h|/)"),
    "SQLite": re.compile(r"^sqlite3\.h$"),
    "libpq": re.compile(r"^(libpq-fe|postgres_ext|pg_config)\.h$"),
    "PSA Crypto / Mbed TLS": re.compile(r"^(psa|mbedtls)/"),
    "jsmn (bundled: use libiotsec/core/third_party/jsmn/jsmn.h)": re.compile(r"^jsmn\.h$"),
    "libevent": re.compile(r"^event2?/"),
    "libcurl": re.compile(r"^curl/"),
    "mosquitto": re.compile(r"^mosquitto"),
}
# directory (or file) -> (the dependency it is named after, or None; POSIX allowed?)
RULES = [
    ("libiotsec/core/", None, False),
    ("libiotsec/crypto/openssl.c", "OpenSSL", False),
    ("libiotsec/crypto/sodium.c", "libsodium", False),
    ("libiotsec/crypto/psa.c", "PSA Crypto / Mbed TLS", False),
    ("libiotsec/crypto/", None, False),
    ("libiotsec/x509/", "OpenSSL", True),
    ("libiotsec/store/sqlite.c", "SQLite", True),
    ("libiotsec/store/postgres.c", "libpq", True),
    ("libiotsec/store/", None, True),
    ("libiotsec/port/posix/", None, True),
    ("libiotsec/port/", None, False),
    ("include/iotsec/", None, False),
]
errors = []
inc_re = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)

def rule_for(path):
    for prefix, dep, posix in RULES:
        if path == prefix or (prefix.endswith("/") and path.startswith(prefix)):
            return prefix, dep, posix
    return None

files = sorted(glob.glob("libiotsec/**/*.[ch]", recursive=True) + glob.glob("include/iotsec/*.h"))
for path in files:
    if "/third_party/" in path:
        continue
    r = rule_for(path)
    if r is None:
        errors.append("%s: directory not in the layout (docs/DESIGN.md §1)" % path)
        continue
    prefix, dep, posix = r
    text = open(path, encoding="utf-8").read()
    for m in inc_re.finditer(text):
        kind, h = m.group(1), m.group(2)
        line = text.count("\n", 0, m.start()) + 1
        where = "%s:%d" % (path, line)
        if kind == '"':
            # quoted: inside the tree, and the core reaches only the core and public headers
            base = os.path.dirname(path)
            cands = [os.path.normpath(os.path.join(base, h)), os.path.join("include", h)]
            if h == "iotsec/config.h":
                continue
            hit = [c for c in cands if os.path.exists(c)]
            if not hit:
                errors.append("%s: \"%s\" is not a file of the tree" % (where, h))
            elif prefix == "libiotsec/core/" and not (hit[0].startswith("libiotsec/core/") or
                                                       hit[0].startswith("include/iotsec/")):
                errors.append("%s: the core includes %s from outside core/" % (where, hit[0]))
            continue
        named = [d for d, pat in DEPS.items() if pat.search(h)]
        if prefix in ("libiotsec/core/", "include/iotsec/"):
            ok = h in CORE_ALLOWED or (prefix == "include/iotsec/" and h in CLIB)
            if not ok:
                errors.append("%s: <%s>: %s may include only %s" % (
                    where, h, prefix, ", ".join(sorted(CORE_ALLOWED))))
            continue
        if named:
            if named[0] != dep:
                errors.append("%s: <%s> is %s; %s is named after %s" % (
                    where, h, named[0], prefix, dep or "no dependency"))
        elif h in CLIB:
            pass
        elif POSIX.match(h):
            if not posix:
                errors.append("%s: <%s> is POSIX; %s is not a POSIX directory" % (where, h, prefix))
        else:
            errors.append("%s: <%s> is an unknown dependency" % (where, h))

# The public headers the core is built against: only the freestanding set and string.h.
for e in errors:
    print("layout: FAIL:", e, file=sys.stderr)
print("layout: %d files under libiotsec/ and include/iotsec/ checked, %d violations" % (len(files), len(errors)))
sys.exit(1 if errors else 0)
PY
exit $fail
