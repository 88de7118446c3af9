#!/usr/bin/env bash
# Make a Docker engine available for `nox -s build`, and wait until it answers.
#
# Idempotent: an engine that already answers (Docker Desktop, a system service, an earlier
# run of this script) is used as it is. What is missing of the engine, a local OCI registry
# (the image tests start one) and debootstrap (for scripts/standin-images.sh) is installed
# with apt, as root on Debian or Ubuntu; a daemon is then started in the background without
# a bridge network, so that builds and containers use the host's network and nothing is
# routed anywhere else.
#
# Environment: DOCKERD_LOG (default /tmp/dockerd.log) receives the daemon's output;
# DOCKERD_WAIT_SECONDS (default 60) bounds the wait.
set -euo pipefail

log_file="${DOCKERD_LOG:-/tmp/dockerd.log}"
wait_seconds="${DOCKERD_WAIT_SECONDS:-60}"

engine_answers() {
    docker info >/dev/null 2>&1
}

missing_packages() {
    # The engine is needed only where none answers (GitHub runners and Docker Desktop have one);
    # the registry and debootstrap are needed by the tests everywhere.
    engine_answers || command -v dockerd >/dev/null || echo docker.io
    command -v docker-registry >/dev/null || echo docker-registry
    command -v debootstrap >/dev/null || echo debootstrap
}

install_packages() {
    local packages
    packages="$(missing_packages | tr '\n' ' ')"
    [ -n "${packages// /}" ] || return 0
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        echo "error: $packages are missing and this script can only install them as root" \
            "on Debian or Ubuntu; install them yourself, then run it again" >&2
        exit 1
    fi
    echo "Installing $packages with apt-get"
    apt-get update -qq
    # shellcheck disable=SC2086  # one word per package
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $packages
}

start_daemon() {
    echo "Starting dockerd (no bridge network), log in $log_file"
    setsid dockerd --bridge=none --iptables=false --ip-masq=false >"$log_file" 2>&1 </dev/null &
}

wait_for_engine() {
    local waited=0
    until engine_answers; do
        if [ "$waited" -ge "$wait_seconds" ]; then
            echo "error: the Docker engine did not answer within ${wait_seconds}s;" \
                "read $log_file for the reason" >&2
            exit 1
        fi
        sleep 1
        waited=$((waited + 1))
    done
}

install_packages
if engine_answers; then
    echo "Docker engine already running"
    exit 0
fi
if ! pgrep -x dockerd >/dev/null; then
    start_daemon
fi
wait_for_engine
echo "Docker engine running: $(docker version --format '{{.Server.Version}}')"
