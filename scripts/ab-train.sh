#!/usr/bin/env bash
# A/B training throughput of two builds of mnist-dp, alternated on the same machine (machines are noisy:
# A, B, A, B, … so that a slow minute hits both), `npm run bench:train` once per run, medians at the end.
#
#   scripts/ab-train.sh BASE_DIR NEW_DIR [ROUNDS] -- [bench:train flags]
#   scripts/ab-train.sh /tmp/ab-base . 3 -- --kernels wasm-relaxed --workers 1,2
#   scripts/ab-train.sh /tmp/ab-base . 3 -- --model cnn --lr 0.05 --kernels wasm-relaxed --workers 1,2
#
# Both folders must be built (npm run build). Rows with and without bench:train's conv column (issue 16) both parse. Prints one line per run and a table of medians per worker count.
set -euo pipefail
base=$1; new=$2; rounds=${3:-3}
shift 3 || true
[ "${1:-}" = "--" ] && shift
log=$(mktemp)
for ((i = 1; i <= rounds; i++)); do
  for side in A B; do
    dir=$base; [ "$side" = B ] && dir=$new
    (cd "$dir" && node dist/bench/train.js "$@") | awk -v s="$side" -v r="$i" '/^wasm|^ts/ {c = ($2 ~ /^[0-9]+$/) ? 2 : 3; print s, r, $c, $(c + 1); fflush()}' | tee -a "$log"
  done
done
echo "workers  A median samples/s  B median samples/s  B/A"
for w in $(awk '{print $3}' "$log" | sort -un); do
  a=$(awk -v w="$w" '$1=="A" && $3==w {print $4}' "$log" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')
  b=$(awk -v w="$w" '$1=="B" && $3==w {print $4}' "$log" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')
  echo "$w $a $b" | awk '{printf "%7d  %18d  %18d  %.3f\n", $1, $2, $3, $3/$2}'
done
rm -f "$log"
