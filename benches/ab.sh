#!/usr/bin/env bash
# A/B of two berth builds on this machine, in one run: `berth bench` (echo,
# fresh and reuse isolation) and the S1 64-connection HTTP load (berth-load,
# echo; 2026-07-28 fresh and reuse, and 2025-11-25 sessions), each in
# interleaved rounds (A, B, A, B, ...) so that whatever else the shared box is
# doing falls on both. With redis-server on the PATH the same loads also run
# clustered (one replica on a local Redis: 2026-07-28 and sessions), so the
# clustered request path is compared too. Prints B/A as the median of the
# per-round ratios, including the server's CPU time per answer (what a fix
# saves, even when the load generator caps the rate).
#
#   benches/ab.sh A_DIR B_DIR [ROUNDS]
#   LOAD_SECS=10 benches/ab.sh A_DIR B_DIR 5      (shorter loads; default 20 s)
#   CLUSTER=0 benches/ab.sh A_DIR B_DIR           (skip the clustered loads)
#   LOADS=0 benches/ab.sh A_DIR B_DIR 9           (`berth bench` only: many quick rounds)
#   B_ENV="OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318" benches/ab.sh DIR DIR
#                                                 (variables for side B's berth only: one build
#                                                  with and without a setting, as tracing-cost.sh does)
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

# Side B's berth runs with B_ENV's variables added.
read -ra B_VARS <<< "${B_ENV:-}"
side_env() { # side_env SIDE: the variables of that side, for `env`
  if [ "$1" = B ] && [ ${#B_VARS[@]} -gt 0 ]; then printf '%s\n' "${B_VARS[@]}"; fi
}
bench() { # bench SIDE BIN MODE ROUND
  mapfile -t vars < <(side_env "$1")
  env "${vars[@]}" "$2/berth" bench --plugins "$OUT/$3" --cache-dir "$OUT/cache" --tool echo --args "{\"text\":\"$TEXT\"}" \
    --calls 50000 --warmup 5000 --json > "$OUT/bench-$1-$3-$4.json"
}
# Load modes: plugin folder, berth-load transport, clustered or not.
MODES="fresh reuse legacy"
[ "${LOADS:-1}" = 1 ] || MODES=""
REDIS_PORT=$((PORT + 1))
if [ "${LOADS:-1}" = 1 ] && [ "${CLUSTER:-1}" = 1 ] && command -v redis-server > /dev/null; then
  MODES="$MODES cluster-http cluster-legacy"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no > "$OUT/redis.log" 2>&1 &
  REDIS_PID=$!
  trap 'kill $REDIS_PID 2> /dev/null || true' EXIT
  for _ in $(seq 100); do redis-cli -p "$REDIS_PORT" ping > /dev/null 2>&1 && break; sleep 0.1; done
fi
load() { # load SIDE BIN ROUND MODE
  local plugins=fresh transport=http cluster=()
  case $4 in
    reuse) plugins=reuse ;;
    legacy) transport=legacy ;;
    cluster-http) cluster=(--redis "redis://127.0.0.1:$REDIS_PORT") ;;
    cluster-legacy) cluster=(--redis "redis://127.0.0.1:$REDIS_PORT"); transport=legacy ;;
  esac
  # Each clustered run starts from an empty Redis: no sessions of the last run count against the cap.
  [ ${#cluster[@]} -gt 0 ] && redis-cli -p "$REDIS_PORT" flushall > /dev/null
  mapfile -t vars < <(side_env "$1")
  env "${vars[@]}" BERTH_CLUSTER_SECRET=ab-shared-secret-for-the-comparison "$2/berth" serve --plugins "$OUT/$plugins" \
    --cache-dir "$OUT/cache" --listen "127.0.0.1:$PORT" --no-watch --log warn "${cluster[@]}" \
    > "$OUT/server-$1-$3-$4.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" > /dev/null && break; sleep 0.1; done
  "$LOAD" --url "http://127.0.0.1:$PORT" --server-pid "$pid" --connections 64 --duration "${LOAD_SECS:-20}" \
    --transport "$transport" --label "S1-64-$1-$4" --out "$OUT/load-$1-$3-$4.json" > /dev/null 2>&1
  kill "$pid" && wait "$pid" 2> /dev/null || true
}

# The machine's load swings over seconds, so each pair runs back to back:
# in-process benches in ABBA order (the two sides' runs straddle the same
# moment), then the two loads, whose order alternates round by round.
for round in $(seq "$ROUNDS"); do
  echo "round $round"
  bench A "$A" fresh "$round"; bench B "$B" fresh "$round"
  bench B "$B" reuse "$round"; bench A "$A" reuse "$round"
  for mode in $MODES; do
    if [ $((round % 2)) = 1 ]; then
      load A "$A" "$round" $mode; load B "$B" "$round" $mode
    else
      load B "$B" "$round" $mode; load A "$A" "$round" $mode
    fi
  done
done

python3 - "$OUT" "$ROUNDS" "$A" "$B" "$MODES" <<'EOF'
import json, statistics, sys
out, rounds, a, b, modes = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5].split()
R = range(1, rounds + 1)
def bench(side, mode, r, key):
    doc = json.load(open(f"{out}/bench-{side}-{mode}-{r}.json"))
    return doc["calls_per_sec"] if key == "calls/s" else doc["latency_us"][key]
def load(side, r, path, mode="fresh"):
    doc = json.load(open(f"{out}/load-{side}-{r}-{mode}.json"))
    if path == ["server CPU per answer"]:
        return doc["server"]["cpu_secs"] * 1e6 / doc["totals"]["answered"]
    for part in path:
        doc = doc[part]
    return doc
rows = []
for mode in ("fresh", "reuse"):
    for key, unit in (("p50", "µs"), ("p99", "µs"), ("calls/s", "")):
        rows.append((f"berth bench echo {mode} {key} {unit}".strip(), [(bench("A", mode, r, key), bench("B", mode, r, key)) for r in R]))
names = {"fresh": "2026-07-28 fresh", "reuse": "2026-07-28 reuse", "legacy": "sessions fresh",
         "cluster-http": "clustered 2026-07-28 fresh", "cluster-legacy": "clustered sessions fresh"}
for mode in modes:
    for name, path in (("answers/s", ["totals", "answers_per_sec"]), ("p50 ms", ["totals", "latency_ms", "p50"]),
                       ("p99 ms", ["totals", "latency_ms", "p99"]), ("server CPU µs per answer", ["server CPU per answer"])):
        rows.append((f"S1 HTTP 64 conns {names[mode]} {name}", [(load("A", r, path, mode), load("B", r, path, mode)) for r in R]))
errors = {side: sum(sum(load(side, r, ["totals", "errors"], m).values()) for r in R for m in modes) for side in "AB"}
print(f"\nA = {a}\nB = {b}\n{rounds} interleaved rounds; load errors A {errors['A']}, B {errors['B']}")
print("A and B run back to back in each round, so the shared machine's load falls on both: B/A is the")
print("median of the per-round ratios (the medians of A and B alone are shown for scale).\n")
print("| figure | A (median) | B (median) | B/A per round (median) | B/A per round (all) |\n|---|---:|---:|---:|---|")
for name, pairs in rows:
    ratios = [vb / va for va, vb in pairs]
    med_a, med_b = statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)
    print(f"| {name} | {med_a:,.2f} | {med_b:,.2f} | {statistics.median(ratios):.2f} | {' '.join(f'{x:.2f}' for x in ratios)} |")
EOF
