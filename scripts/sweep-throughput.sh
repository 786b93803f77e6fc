#!/usr/bin/env bash
# Trials per hour of a queue sweep on this machine: one worker process with both cores (--workers 2)
# against two worker processes with one core each (--workers 1, pinned with taskset). The same trials at
# full budget each time (sweeps/asha-16-full.json: 16 trials × 9 epochs), so the work is the same.
# Needs a quiet machine, redis-server and the project built (npm ci). Prints one line per configuration.
#   scripts/sweep-throughput.sh [SPEC]
set -euo pipefail
cd "$(dirname "$0")/.."
spec=${1:-sweeps/asha-16-full.json}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cli=(node dist/src/cli/main.js)
trials=$(node -e "import('./dist/src/sweep/spec.js').then(async (m) => console.log((await m.readSweepSpec(process.argv[1])).trials.length))" "$spec")

measure() { # LABEL, then one "CORES THREADS" pair per worker process
  local label=$1; shift
  local port; port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" --daemonize yes --pidfile "$work/redis-$label.pid" >/dev/null
  sleep 0.5
  local queue="redis://127.0.0.1:$port" workers=() t0 t1
  for w in "$@"; do
    read -r cores threads <<<"$w"
    taskset -c "$cores" "${cli[@]}" worker --queue "$queue" --workers "$threads" >"$work/$label-worker-$cores.log" 2>&1 &
    workers+=($!)
  done
  t0=$(date +%s.%N)
  "${cli[@]}" sweep "$spec" --queue "$queue" --dir "$work/$label" >"$work/$label.log"
  t1=$(date +%s.%N)
  kill -INT "${workers[@]}"; wait "${workers[@]}" || true
  redis-cli -p "$port" shutdown nosave >/dev/null || true
  node -e "const [n, t0, t1, l] = process.argv.slice(1); const s = t1 - t0; console.log(\`\${l}: \${n} trials in \${s.toFixed(1)} s = \${(n * 3600 / s).toFixed(1)} trials per hour\`)" "$trials" "$t0" "$t1" "$label"
}

node -e "import('./dist/src/index.js').then((m) => console.log(m.describeMachine()))"
measure "1 worker process, 2 threads" "0-1 2"
measure "2 worker processes, 1 thread each" "0 1" "1 1"
