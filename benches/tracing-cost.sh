#!/usr/bin/env bash
# What tracing costs berth, in three A/B runs of benches/ab.sh (`berth bench` in process, and
# the S1 64-connection HTTP loads, interleaved rounds, B/A per round):
#
#   off    BASELINE_DIR/berth (a build from before tracing existed) against this build with
#          traces off: the cost of the tracing code when nobody traces
#   1.0    this build against itself with traces on, every call sampled (traceidratio 1.0)
#   0.01   the same, one trace in a hundred sampled (traceidratio 0.01)
#
# With traces on the spans go over OTLP/HTTP to berth-otlp-sink, a receiver that accepts
# and discards them, so what is measured is berth's own work: making the spans, queueing
# them, encoding and sending them. berth-load sends no trace context, so the sampler decides
# each call alone. The clustered loads run in the `off` comparison only (CLUSTER=0 otherwise).
#
#   benches/tracing-cost.sh BASELINE_DIR [ROUNDS]      (LOAD_SECS as ab.sh; default 10 here)
#
# Needs `make plugins`; builds the release binaries. Results: .build/tracing-cost/*.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
BASELINE=${1:?usage: benches/tracing-cost.sh BASELINE_DIR [ROUNDS]}
ROUNDS=${2:-3}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/berth-target}"
export LOAD_SECS=${LOAD_SECS:-10}
cargo build --release -q -p berth -p berth-benches -p berth-peers --bin berth --bin berth-load --bin berth-otlp-sink
HERE="$CARGO_TARGET_DIR/release"
OUT=.build/tracing-cost
mkdir -p "$OUT"

"$HERE/berth-otlp-sink" 127.0.0.1:0 > "$OUT/sink.log" &
SINK_PID=$!
trap 'kill $SINK_PID 2> /dev/null || true' EXIT
for _ in $(seq 50); do grep -q "listening on" "$OUT/sink.log" && break; sleep 0.1; done
ENDPOINT=$(sed -n 's/^berth-otlp-sink listening on //p' "$OUT/sink.log")
[ -n "$ENDPOINT" ] || { echo "berth-otlp-sink did not start" >&2; exit 1; }

echo "== traces off: $BASELINE/berth (A) against this build (B)"
benches/ab.sh "$BASELINE" "$HERE" "$ROUNDS" | tee "$OUT/off.txt"
for ratio in 1.0 0.01; do
  echo "== traces on at ratio $ratio: this build off (A) against on (B)"
  B_ENV="OTEL_EXPORTER_OTLP_ENDPOINT=$ENDPOINT OTEL_TRACES_SAMPLER=traceidratio OTEL_TRACES_SAMPLER_ARG=$ratio" \
    CLUSTER=0 benches/ab.sh "$HERE" "$HERE" "$ROUNDS" | tee "$OUT/on-$ratio.txt"
done
kill "$SINK_PID" && wait "$SINK_PID" 2> /dev/null || true
tail -1 "$OUT/sink.log"
