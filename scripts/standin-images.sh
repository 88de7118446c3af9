#!/usr/bin/env bash
# Build local stand-ins for the public Python and uv images, for machines that reach no
# container registry, and print the variables that point the build settings at them:
#
#     eval "$(scripts/standin-images.sh)"
#     uv run nox -s build -- rj_sec__x
#
# Idempotent: an image that already exists is reused. Only package managers download
# anything: debootstrap fetches Debian bookworm (minbase, with Python 3) from the Debian
# mirror and pip fetches the uv wheel from PyPI; the uv image holds the binaries of that
# wheel. Progress goes to stderr, the export lines alone to stdout.
#
# Environment: STANDIN_PREFIX (default pipelines-standin) names the images, DEBIAN_MIRROR
# (default http://deb.debian.org/debian) is where debootstrap downloads from, UV_VERSION
# (default: the version the settings pin) selects the uv wheel.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix="${STANDIN_PREFIX:-pipelines-standin}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

pinned_uv_version() {
    PYTHONPATH="$root/tools/src" python3 -c \
        'from pipeline_tools.settings import Settings; print(Settings.uv_image.rsplit(":", 1)[1])'
}

uv_version="${UV_VERSION:-$(pinned_uv_version)}"
python_image="$prefix/python:3.11-bookworm"
uv_image="$prefix/uv:$uv_version"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

image_exists() {
    docker image inspect "$1" >/dev/null 2>&1
}

build_python_image() {
    local rootfs="$work/rootfs"
    echo "Building $python_image with debootstrap (about a minute)" >&2
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates,git \
        bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
        || { cat "$work/debootstrap.log" >&2; exit 1; }
    # The CA bundle of the host: TLS to the package registries is re-signed on some networks.
    cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
    rm -rf "$rootfs/var/cache/apt/archives/"*.deb "$rootfs/var/lib/apt/lists/"*
    tar -C "$rootfs" -c . | docker import \
        --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["python3"]' \
        - "$python_image" >/dev/null
}

build_uv_image() {
    echo "Building $uv_image from the uv $uv_version wheel" >&2
    python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$work/wheel" \
        "uv==$uv_version" >"$work/pip.log" 2>&1 \
        || { cat "$work/pip.log" >&2; exit 1; }
    mkdir -p "$work/uv"
    python3 - "$work/wheel" "$work/uv" <<'PYTHON'
import pathlib, sys, zipfile

wheel = next(pathlib.Path(sys.argv[1]).glob("uv-*.whl"))
target = pathlib.Path(sys.argv[2])
with zipfile.ZipFile(wheel) as archive:
    for member in archive.namelist():
        name = member.rsplit("/", 1)[-1]
        if ".data/scripts/" in member and name in {"uv", "uvx"}:
            (target / name).write_bytes(archive.read(member))
            (target / name).chmod(0o755)
PYTHON
    # Like the official image: the two binaries at the root of an otherwise empty filesystem.
    tar -C "$work/uv" -c uv uvx | docker import - "$uv_image" >/dev/null
}

image_exists "$python_image" || build_python_image
image_exists "$uv_image" || build_uv_image
echo "Stand-in images ready: $python_image $uv_image" >&2
echo "export PIPELINES_PYTHON_IMAGE=$python_image"
echo "export PIPELINES_UV_IMAGE=$uv_image"
