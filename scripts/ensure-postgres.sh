#!/usr/bin/env bash
# Installs PostgreSQL binaries if missing (Debian's package). The tests start a throwaway
# cluster of their own in a temp dir on a loopback port (tests/pg.py); nothing else is touched.
set -euo pipefail
find_bin() {
  for d in /usr/lib/postgresql/*/bin /usr/local/bin /usr/bin; do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
  done
  return 1
}
if ! find_bin >/dev/null; then
  echo "ensure-postgres: installing Debian's postgresql package" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq postgresql >/dev/null
fi
find_bin
