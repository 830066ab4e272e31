#!/usr/bin/env bash
# The PostgreSQL replay store against a real server: starts a private PostgreSQL cluster
# (tests/lib/pg.sh: initdb + pg_ctl into a temporary directory, unix socket only, fsync on),
# runs the Check suite $BUILD/tests/test_replay_pg with IOTSEC_TEST_PG_URI pointing at it
# (every database case: window behaviour, restart, transactions, window changes, foreign and
# damaged schemas, the EcoWatt namespace, lock timeouts, a deadlock, a lost connection, eight
# processes racing on the same counters), then stops the cluster and removes it. Run by
# scripts/run-tests in both builds (in the SANITIZE=1 one the suite is instrumented, the
# server is not). A build without the PostgreSQL store (no libpq) skips; a build with it but
# no PostgreSQL server installed fails (scripts/install-deps installs Debian's postgresql).
set -u
: "${BUILD:=build}"
cd "$(dirname "$0")/../.." || exit 1
if ! grep -q '^#define IOTSEC_HAVE_PG 1$' "$BUILD/include/iotsec/config.h" 2>/dev/null; then
    echo "replay_pg: skipped: $BUILD has no PostgreSQL store (IOTSEC_HAVE_PG 0: libpq not found)"
    exit 0
fi
suite=$PWD/$BUILD/tests/test_replay_pg
[ -x "$suite" ] || { echo "replay_pg: $suite not built (make tests)" >&2; exit 1; }

# shellcheck source=tests/lib/pg.sh
. tests/lib/pg.sh
pg_start || exit 1
echo "replay_pg: PostgreSQL $(pg_psql -Atc 'SHOW server_version') at $IOTSEC_TEST_PG_URI" \
    "(fsync $(pg_psql -Atc 'SHOW fsync'), synchronous_commit $(pg_psql -Atc 'SHOW synchronous_commit'))"
"$suite"
rc=$?
if [ $rc -ne 0 ]; then
    echo "replay_pg: FAIL: test_replay_pg exited $rc; the end of the server log:" >&2
    tail -20 "$PG_DIR/server.log" >&2
fi
exit $rc
