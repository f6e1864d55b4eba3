#!/usr/bin/env bash
# Installs Debian's nginx if missing (the load balancer of `make cluster` and tests/cluster).
# Only the binary is used: the cluster writes its own config into a temp dir and runs nginx
# in the foreground on loopback ports; the Debian service is not started.
set -euo pipefail
find_nginx() {
  for p in "$(command -v nginx 2>/dev/null || true)" /usr/sbin/nginx; do
    if [ -n "$p" ] && [ -x "$p" ]; then echo "$p"; return 0; fi
  done
  return 1
}
if ! find_nginx >/dev/null; then
  echo "ensure-nginx: installing Debian's nginx-light package" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  # policy-rc.d: do not start the packaged service (it would bind port 80)
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
  apt-get install -y -qq --no-install-recommends nginx >/dev/null || {
    rm -f /usr/sbin/policy-rc.d; exit 1; }
  rm -f /usr/sbin/policy-rc.d
fi
find_nginx
