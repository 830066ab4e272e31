# shellcheck shell=bash
# A private PostgreSQL cluster for the tests (Debian `postgresql`, installed by
# scripts/install-deps). Sourced, not run:
#
#   . tests/lib/pg.sh
#   pg_start || exit 1     # initdb + pg_ctl start into a new temporary directory
#   ... "$IOTSEC_TEST_PG_URI" ...
#   pg_stop                # also run by the EXIT trap pg_start installs
#
# pg_start creates a directory under ${TMPDIR:-/tmp}, runs initdb there (as the `postgres`
# user when run as root, since PostgreSQL refuses to run as root: the directory is chown'd to
# it and the commands run through runuser; as the invoking user otherwise) and starts the
# server with pg_ctl: unix socket only (listen_addresses = '', the socket in that directory,
# mode 0700), fsync on, synchronous_commit on, deadlock_timeout 100 ms, trust authentication (only the owner of the
# directory, and root, can reach the socket). It exports
#   IOTSEC_TEST_PG_URI   postgresql:///postgres?host=DIR&port=PORT&user=postgres
#   PG_DIR               the directory (data/ is the cluster, server.log its log)
#   PG_BINDIR            the server binaries (PG_BINDIR may be set beforehand to choose)
# and installs `trap pg_stop EXIT` (and INT/TERM); a caller with an EXIT trap of its own
# calls pg_stop from it. pg_stop stops the server (fast shutdown, then the postmaster's pid
# if that fails) and removes the directory; calling it twice is harmless. On a failure
# pg_start prints why, with the end of the server log, and returns 1.
#
# pg_psql ARGS...   psql on the private cluster (as its superuser), e.g. pg_psql -Atc 'SELECT 1'

PG_DIR=
PG_PORT=${PG_PORT:-5432} # only names the socket file inside PG_DIR: no TCP port is opened

# _pg_as CMD...: run a server binary as the cluster's owner
_pg_as() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# percent-encode a URI query value (the socket directory)
_pg_uri_encode() {
    local s=$1 out= c i
    for ((i = 0; i < ${#s}; i++)); do
        c=${s:i:1}
        case $c in
        [a-zA-Z0-9./_~-]) out+=$c ;;
        *) out+=$(printf '%%%02X' "'$c") ;;
        esac
    done
    printf '%s' "$out"
}

pg_start() {
    local d
    if [ -z "${PG_BINDIR:-}" ]; then
        for d in /usr/lib/postgresql/15/bin $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV); do
            if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
                PG_BINDIR=$d
                break
            fi
        done
    fi
    if [ -z "${PG_BINDIR:-}" ] || [ ! -x "$PG_BINDIR/initdb" ]; then
        echo "pg.sh: no PostgreSQL server (initdb, pg_ctl) under /usr/lib/postgresql/*/bin" \
            "(scripts/install-deps installs Debian's postgresql)" >&2
        return 1
    fi
    export PG_BINDIR
    if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
        echo "pg.sh: running as root, but there is no 'postgres' user to run the server" >&2
        return 1
    fi
    PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/iotsec-pg.XXXXXX") || return 1
    export PG_DIR
    trap pg_stop EXIT
    trap 'pg_stop; exit 130' INT
    trap 'pg_stop; exit 143' TERM
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres: "$PG_DIR" || return 1
        if ! runuser -u postgres -- test -w "$PG_DIR"; then
            echo "pg.sh: the postgres user cannot write $PG_DIR (set TMPDIR to a directory" \
                "it can reach)" >&2
            return 1
        fi
    fi
    if ! _pg_as "$PG_BINDIR/initdb" -D "$PG_DIR/data" -U postgres -A trust -E UTF8 \
        --locale=C >"$PG_DIR/initdb.log" 2>&1; then
        echo "pg.sh: initdb failed:" >&2
        tail -20 "$PG_DIR/initdb.log" >&2
        return 1
    fi
    _pg_as tee -a "$PG_DIR/data/postgresql.conf" >/dev/null <<EOF

# tests/lib/pg.sh: a private test cluster
listen_addresses = ''
unix_socket_directories = '$PG_DIR'
unix_socket_permissions = 0700
port = $PG_PORT
fsync = on
synchronous_commit = on
max_connections = 40
shared_buffers = 16MB
log_min_messages = warning
# deadlocks are broken after 100 ms instead of 1 s: the tests provoke them on purpose
deadlock_timeout = 100ms
EOF
    if ! _pg_as "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
        start >"$PG_DIR/pg_ctl.log" 2>&1; then
        echo "pg.sh: the server did not start:" >&2
        tail -20 "$PG_DIR/pg_ctl.log" "$PG_DIR/server.log" >&2 2>/dev/null
        return 1
    fi
    IOTSEC_TEST_PG_URI="postgresql:///postgres?host=$(_pg_uri_encode "$PG_DIR")&port=$PG_PORT&user=postgres"
    export IOTSEC_TEST_PG_URI
    if ! pg_psql -Atc 'SELECT 1' >/dev/null 2>"$PG_DIR/psql.log"; then
        echo "pg.sh: the server started but does not answer on $IOTSEC_TEST_PG_URI:" >&2
        cat "$PG_DIR/psql.log" >&2
        return 1
    fi
    return 0
}

pg_psql() {
    "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 "$IOTSEC_TEST_PG_URI" "$@"
}

pg_stop() {
    local pid
    [ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR" ] || return 0
    if [ -f "$PG_DIR/data/postmaster.pid" ]; then
        if ! _pg_as "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 30 stop \
            >>"$PG_DIR/pg_ctl.log" 2>&1; then
            pid=$(head -1 "$PG_DIR/data/postmaster.pid" 2>/dev/null)
            case $pid in '' | *[!0-9]*) ;; *) kill -9 "$pid" 2>/dev/null ;; esac
        fi
    fi
    rm -rf "$PG_DIR"
    PG_DIR=
}
