#!/usr/bin/env bash
# A/B of two berth builds on this machine, in one run: `berth bench` (echo,
# fresh and reuse isolation) and the S1 64-connection HTTP load (berth-load,
# echo, 2026-07-28), each in interleaved rounds (A, B, A, B, ...) so that
# whatever else the shared box is doing falls on both. Prints the median of
# each figure and B/A.
#
#   benches/ab.sh A_DIR B_DIR [ROUNDS]
#
# A_DIR and B_DIR each hold a release `berth` binary (for example a copy of
# an older build, and $CARGO_TARGET_DIR/release). The load generator is
# always B_DIR's berth-load (or $CARGO_TARGET_DIR/release/berth-load), so
# only the server differs. Needs `make plugins`. Results: .build/ab/.
set -euo pipefail
cd "$(dirname "$0")/.."
A=${1:?usage: benches/ab.sh A_DIR B_DIR [ROUNDS]}
B=${2:?usage: benches/ab.sh A_DIR B_DIR [ROUNDS]}
ROUNDS=${3:-3}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/berth-target}"
LOAD="$B/berth-load"
[ -x "$LOAD" ] || LOAD="$CARGO_TARGET_DIR/release/berth-load"
for bin in "$A/berth" "$B/berth" "$LOAD"; do
  [ -x "$bin" ] || { echo "missing $bin" >&2; exit 1; }
done
OUT=.build/ab
rm -rf "$OUT" && mkdir -p "$OUT/fresh" "$OUT/reuse"
cp plugins/echo.wasm "$OUT/fresh/"
cp plugins/echo.wasm "$OUT/reuse/"
printf 'isolation = "reuse"\n' > "$OUT/reuse/echo.toml"
TEXT=0123456789012345678901234567890123456789012345678901234567890123
PORT=${PORT:-18191}

bench() { # bench SIDE BIN MODE ROUND
  "$2/berth" bench --plugins "$OUT/$3" --cache-dir "$OUT/cache" --tool echo --args "{\"text\":\"$TEXT\"}" \
    --calls 100000 --warmup 5000 --json > "$OUT/bench-$1-$3-$4.json"
}
load() { # load SIDE BIN ROUND
  "$2/berth" serve --plugins "$OUT/fresh" --cache-dir "$OUT/cache" --listen "127.0.0.1:$PORT" --no-watch \
    --log warn > "$OUT/server-$1-$3.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" > /dev/null && break; sleep 0.1; done
  "$LOAD" --url "http://127.0.0.1:$PORT" --server-pid "$pid" --connections 64 --duration 20 \
    --label "S1-64-$1" --out "$OUT/load-$1-$3.json" > /dev/null 2>&1
  kill "$pid" && wait "$pid" 2> /dev/null || true
}

for round in $(seq "$ROUNDS"); do
  for side in A B; do
    bin=$A && [ "$side" = B ] && bin=$B
    echo "round $round: $side ($bin)"
    bench "$side" "$bin" fresh "$round"
    bench "$side" "$bin" reuse "$round"
    load "$side" "$bin" "$round"
  done
done

python3 - "$OUT" "$ROUNDS" "$A" "$B" <<'EOF'
import json, statistics, sys
out, rounds, a, b = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
def med(values): return statistics.median(values)
rows = []
for mode in ("fresh", "reuse"):
    for key, label in (("p50", "p50 µs"), ("p99", "p99 µs")):
        get = lambda side: med([json.load(open(f"{out}/bench-{side}-{mode}-{r}.json"))["latency_us"][key] for r in range(1, rounds + 1)])
        rows.append((f"berth bench echo {mode} {label}", get("A"), get("B")))
    get = lambda side: med([json.load(open(f"{out}/bench-{side}-{mode}-{r}.json"))["calls_per_sec"] for r in range(1, rounds + 1)])
    rows.append((f"berth bench echo {mode} calls/s", get("A"), get("B")))
load = lambda side, path: med([eval_path(json.load(open(f"{out}/load-{side}-{r}.json")), path) for r in range(1, rounds + 1)])
def eval_path(doc, path):
    for part in path:
        doc = doc[part]
    return doc
rows.append(("S1 HTTP 64 conns answers/s", load("A", ["totals", "answers_per_sec"]), load("B", ["totals", "answers_per_sec"])))
rows.append(("S1 HTTP 64 conns p50 ms", load("A", ["totals", "latency_ms", "p50"]), load("B", ["totals", "latency_ms", "p50"])))
rows.append(("S1 HTTP 64 conns p99 ms", load("A", ["totals", "latency_ms", "p99"]), load("B", ["totals", "latency_ms", "p99"])))
errors = {side: sum(sum(json.load(open(f"{out}/load-{side}-{r}.json"))["totals"]["errors"].values()) for r in range(1, rounds + 1)) for side in "AB"}
print(f"\nA = {a}\nB = {b}\nmedians of {rounds} interleaved rounds; load errors A {errors['A']}, B {errors['B']}\n")
print(f"| figure | A | B | B/A |\n|---|---:|---:|---:|")
for name, va, vb in rows:
    print(f"| {name} | {va:,.2f} | {vb:,.2f} | {vb / va:.2f} |")
EOF
