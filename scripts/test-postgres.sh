#!/usr/bin/env bash
# Start a throwaway PostgreSQL server on 127.0.0.1 for the runtime package's dump tests,
# and print the variable that points them at it:
#
#     eval "$(scripts/test-postgres.sh)"
#
# Idempotent: a server this script started earlier on the same port is reused. As root on
# Debian or Ubuntu, PostgreSQL is installed with apt when missing. The cluster lives in a
# temporary folder, trusts local connections and holds no data worth keeping. Progress goes
# to stderr, the export line alone to stdout.
#
# Environment: TEST_POSTGRES_PORT (default 55432), TEST_POSTGRES_DIR (default
# /tmp/pipelines-test-postgres).
set -euo pipefail

port="${TEST_POSTGRES_PORT:-55432}"
data_dir="${TEST_POSTGRES_DIR:-/tmp/pipelines-test-postgres}"
url="postgresql+psycopg://postgres@127.0.0.1:$port/postgres"

server_binaries() {
    find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1
}

install_postgres() {
    if [ -n "$(server_binaries)" ]; then
        return 0
    fi
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        echo "error: PostgreSQL is not installed and this script can only install it as root" \
            "on Debian or Ubuntu; install it yourself, then run it again" >&2
        exit 1
    fi
    echo "Installing postgresql with apt-get" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
}

# initdb and the server refuse to run as root, so they run as the postgres user when root.
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

start_server() {
    local bin
    bin="$(server_binaries)"
    if [ ! -f "$data_dir/PG_VERSION" ]; then
        mkdir -p "$data_dir"
        [ "$(id -u)" = 0 ] && chown postgres "$data_dir"
        as_owner "$bin/initdb" --auth=trust --username=postgres -D "$data_dir" >/dev/null
    fi
    if ! as_owner "$bin/pg_ctl" status -D "$data_dir" >/dev/null 2>&1; then
        echo "Starting PostgreSQL on 127.0.0.1:$port, log in $data_dir/server.log" >&2
        as_owner "$bin/pg_ctl" start -w -D "$data_dir" -l "$data_dir/server.log" \
            -o "-p $port -k $data_dir -c listen_addresses=127.0.0.1" >/dev/null
    fi
}

install_postgres
start_server
echo "export PIPELINES_TEST_POSTGRES_URL=$url"
