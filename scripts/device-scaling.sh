#!/usr/bin/env bash
# The scaling sweep on a lent 16-core machine (run from the repository root there, with .device/ made by
# scripts/device-pack.sh carried along):
#   device run  carry=[".device"]  command="bash scripts/device-scaling.sh"  timeout_s=540
# Writes $OUT/scaling.json, $OUT/scaling.svg and $OUT/scaling.txt (the printed table).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT" /tmp/node-bin
xz -dc .device/node.xz > /tmp/node-bin/node && chmod +x /tmp/node-bin/node
export PATH=/tmp/node-bin:$PATH
node --version
nproc
cd .device/app
node dist/bench/scaling.js --workers "${WORKERS:-1,2,4,8,16}" --steps "${STEPS:-60}" --repeat "${REPEAT:-1}" \
  --data ../mnist --out "$OUT/scaling" 2>&1 | tee "$OUT/scaling.txt"
