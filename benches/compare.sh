#!/usr/bin/env bash
# berth beside its anchors, in one run: the floor (berth-floor: axum + serde_json,
# no MCP, no wasm), the wasm floor (berth-floor-wasm: the floor's server with the echo
# component called straight through wasmtime on berth's engine, a fresh instance per call
# and warm ones: the most a wasm host on this stack answers here), the peer (berth-peer:
# the official Rust SDK's Streamable HTTP server, native echo), berth with a fresh
# instance per call, and berth with warm instances (isolation = "reuse"). Every server runs for the whole run;
# berth-load drives one at a time, `tools/call echo` with 64 bytes, at 1, 16 and
# 64 connections (WebSocket: 8 in flight each), in interleaved rounds so the
# shared machine's mood falls on all of them. Prints one table of medians, each
# berth figure as a ratio to the floor, to the peer and (HTTP) to the wasm floor with
# the same kind of instance; JSON and a chart (SVG) beside it.
#
#   benches/compare.sh                 3 rounds of 5 s per cell, release builds (~10 min)
#   ROUNDS=5 SECS=10 benches/compare.sh
#   benches/compare.sh --smoke BIN_DIR  CI: one short round at 8 connections with the
#                                       binaries in BIN_DIR; fails unless every request
#                                       to every server was answered once, without error
#   BASELINE=DIR benches/compare.sh     also DIR/berth (an earlier build) in the same rounds,
#                                       as base-fresh and base-reuse; berth's rows get a
#                                       ratio to it (before/after a change, in one run)
#   SPARES=1 benches/compare.sh         also berth-spares: fresh isolation with `spares = 1`
#                                       (over HTTP; with BASELINE, base-spares too)
#   PROFILE=production benches/compare.sh  every server built with that cargo profile instead of
#                                       release (with BASELINE=$CARGO_TARGET_DIR/release: the
#                                       production build against the release one, in one run)
#
# Needs `make plugins`. Results: .build/compare/.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/berth-target}"
OUT=.build/compare
SMOKE=""
if [ "${1:-}" = "--smoke" ]; then
  SMOKE=1
  BIN=${2:?usage: benches/compare.sh --smoke BIN_DIR}
  ROUNDS=1 SECS=1 CONNECTIONS="8"
else
  PROFILE=${PROFILE:-release}
  BIN="$CARGO_TARGET_DIR/$PROFILE"
  ROUNDS=${ROUNDS:-3} SECS=${SECS:-5} CONNECTIONS=${CONNECTIONS:-"1 16 64"}
  cargo build --profile "$PROFILE" -q -p berth -p berth-benches -p berth-peers \
    --bin berth --bin berth-load --bin berth-floor --bin berth-peer --bin berth-chart --bin berth-floor-wasm
fi
ulimit -n "$(ulimit -Hn)" || true
rm -rf "$OUT" && mkdir -p "$OUT/runs" "$OUT/fresh" "$OUT/reuse" "$OUT/spares"
cp plugins/echo.wasm "$OUT/fresh/"
cp plugins/echo.wasm "$OUT/reuse/"
cp plugins/echo.wasm "$OUT/spares/"
printf 'isolation = "reuse"\n' > "$OUT/reuse/echo.toml"
printf 'spares = 1\n' > "$OUT/spares/echo.toml"
MODES=(fresh reuse)
[ -n "${SPARES:-}" ] && MODES+=(spares)

# shellcheck source=benches/servers.sh
source benches/servers.sh
serve floor "$BIN/berth-floor" 127.0.0.1:0
serve peer "$BIN/berth-peer" 127.0.0.1:0
for isolation in fresh warm; do
  serve "wasm-$isolation" "$BIN/berth-floor-wasm" "$isolation" 127.0.0.1:0
done
for mode in "${MODES[@]}"; do
  serve "berth-$mode" "$BIN/berth" serve --plugins "$OUT/$mode" --cache-dir "$OUT/cache" --listen 127.0.0.1:0 \
    --no-watch --log warn
done

# What is measured: server and transport (the floor answers 2026-07-28 calls only).
CELLS=(floor:http wasm-fresh:http wasm-warm:http peer:http peer:legacy berth-fresh:http berth-fresh:legacy
  berth-fresh:ws berth-reuse:http berth-reuse:legacy berth-reuse:ws)
[ -n "${SPARES:-}" ] && CELLS+=(berth-spares:http)
if [ -n "${BASELINE:-}" ]; then
  [ -x "$BASELINE/berth" ] || { echo "BASELINE=$BASELINE holds no berth binary" >&2; exit 1; }
  for mode in "${MODES[@]}"; do
    # A cache of its own: the two builds' compiled artifacts may differ.
    serve "base-$mode" "$BASELINE/berth" serve --plugins "$OUT/$mode" --cache-dir "$OUT/cache-base" \
      --listen 127.0.0.1:0 --no-watch --log warn
  done
  CELLS+=(base-fresh:http base-fresh:legacy base-fresh:ws base-reuse:http base-reuse:legacy base-reuse:ws)
  [ -n "${SPARES:-}" ] && CELLS+=(base-spares:http)
fi
checks=()
[ -n "$SMOKE" ] && checks=(--expect-all-answered --expect-no-errors)
failed=0
for round in $(seq "$ROUNDS"); do
  for connections in $CONNECTIONS; do
    # Rotate the order each round: no server always goes first or last.
    count=${#CELLS[@]}
    for i in $(seq 0 $((count - 1))); do
      cell=${CELLS[$(((i + round) % count))]}
      server=${cell%%:*} transport=${cell##*:}
      extra=()
      [ "$transport" = ws ] && extra=(--in-flight 8)
      name="$server-$transport-$connections-r$round"
      if ! "$BIN/berth-load" --url "${URL[$server]}" --transport "$transport" --connections "$connections" \
        --duration "$SECS" --server-pid "${PID[$server]}" --label "$name" --out "$OUT/runs/$name.json" \
        "${extra[@]}" "${checks[@]}" > "$OUT/runs/$name.txt" 2> /dev/null; then
        echo "FAILED: $name: $(cat "$OUT/runs/$name.txt")" >&2
        failed=$((failed + 1))
      fi
    done
  done
done
if [ -n "$SMOKE" ]; then
  echo "compare smoke: ${#CELLS[@]} servers and transports, $failed failed"
  [ "$failed" -eq 0 ]
  # The table and its chart from the smoke's figures: the chart must render.
  python3 benches/compare_table.py "$OUT" > "$OUT/compare.md"
  "$BIN/berth-chart" "$OUT/compare.json" "$OUT/compare.svg"
  benches/check-svg.sh "$OUT/compare.svg" 1
  exit
fi
python3 benches/compare_table.py "$OUT" | tee "$OUT/compare.md"
"$BIN/berth-chart" "$OUT/compare.json" "$OUT/compare.svg"
echo "JSON: $OUT/compare.json; chart: $OUT/compare.svg"
