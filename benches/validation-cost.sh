#!/usr/bin/env bash
# What berth's argument validation costs a call: `berth bench` of `echo`
# (64 bytes of text) with validation on (the default) and off
# (`validate = false` in its sidecar), fresh and reuse isolation, in
# interleaved rounds on one release binary. Prints the median per-round
# difference (on - off), which cancels the shared machine's load swings.
#
#   benches/validation-cost.sh [ROUNDS]
#   benches/validation-cost.sh callgrind
#
# `callgrind` counts instructions instead (valgrind, deterministic whatever
# else the machine does): the check's own instructions per call, and each
# variant's instructions per call from the difference of a 3,000- and a
# 1,000-call run. Needs `make plugins`. Results: .build/validation-cost/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/berth-target}"
cargo build --release -q -p berth
BERTH="$CARGO_TARGET_DIR/release/berth"
OUT=.build/validation-cost
rm -rf "$OUT" && mkdir -p "$OUT"
for variant in fresh-on fresh-off reuse-on reuse-off; do
  mkdir -p "$OUT/$variant" && cp plugins/echo.wasm "$OUT/$variant/"
  sidecar=""
  [[ $variant == reuse-* ]] && sidecar+=$'isolation = "reuse"\n'
  [[ $variant == *-off ]] && sidecar+=$'validate = false\n'
  [ -n "$sidecar" ] && printf '%s' "$sidecar" > "$OUT/$variant/echo.toml"
done
TEXT=0123456789012345678901234567890123456789012345678901234567890123
if [ "$ROUNDS" = callgrind ]; then
  # A small pool: the default reserves more address space than valgrind can map.
  printf '[pool]\ninstances = 4\nmax_memory_mib = 64\n' > "$OUT/small.toml"
  for variant in fresh-on fresh-off reuse-on reuse-off; do
    for calls in 1000 3000; do # the first run compiles into the cache; measure after it
      for _ in 1 2; do
        valgrind --tool=callgrind --callgrind-out-file="$OUT/$variant-$calls.callgrind" "$BERTH" bench \
          --config "$OUT/small.toml" --plugins "$OUT/$variant" --cache-dir "$OUT/cache" --tool echo \
          --args "{\"text\":\"$TEXT\"}" --calls "$calls" --warmup 0 > /dev/null 2> "$OUT/$variant-$calls.err"
      done
    done
    total() { grep -Eo 'Collected : [0-9]+' "$OUT/$variant-$1.err" | grep -Eo '[0-9]+'; }
    check=$(callgrind_annotate --inclusive=yes "$OUT/$variant-3000.callgrind" 2> /dev/null \
      | grep -E '=> .*tools::check_arguments \(' | head -1 | awk '{gsub(",", "", $1); print $1}')
    echo "$variant: $(( ($(total 3000) - $(total 1000)) / 2000 )) instructions per call;" \
      "check_arguments ${check:-0} instructions over 3000 calls"
  done
  exit 0
fi
for round in $(seq "$ROUNDS"); do
  for variant in fresh-on fresh-off reuse-on reuse-off; do
    "$BERTH" bench --plugins "$OUT/$variant" --cache-dir "$OUT/cache" --tool echo --args "{\"text\":\"$TEXT\"}" \
      --calls 100000 --warmup 5000 --json 2> /dev/null > "$OUT/$variant-$round.json"
  done
  echo "round $round done"
done
python3 - "$OUT" "$ROUNDS" <<'PY'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
def p(variant, r, key):
    return json.load(open(f"{out}/{variant}-{r}.json"))["latency_us"][key]
print(f"\nberth bench echo, {rounds} interleaved rounds (µs). On and off run back to back in each round, so")
print("the shared machine's load falls on both: the cost is the median of the per-round differences.\n")
print("| isolation | p50 on (median) | p50 off (median) | p50 on - off, per round (median) | per round (all) |\n|---|---:|---:|---:|---|")
for mode in ("fresh", "reuse"):
    on = [p(f"{mode}-on", r, "p50") for r in range(1, rounds + 1)]
    off = [p(f"{mode}-off", r, "p50") for r in range(1, rounds + 1)]
    diffs = [a - b for a, b in zip(on, off)]
    print(f"| {mode} | {statistics.median(on):.2f} | {statistics.median(off):.2f} | {statistics.median(diffs):+.2f} | {' '.join(f'{d:+.2f}' for d in diffs)} |")
PY
