#!/usr/bin/env bash
# What an idle berth's memory is made of: a release berth serving the two
# bundled plugins (echo, textkit), three seconds after it started, then again
# after 5 s of load (64 HTTP connections). Printed twice: as built (mimalloc
# commits its arena lazily, see .cargo/config.toml) and with mimalloc's own
# default (MIMALLOC_ARENA_EAGER_COMMIT=2, eager on Linux), same binary.
#
#   benches/idle-memory.sh
#
# RssAnon is memory berth owns (heap, stacks); RssFile is mostly the berth
# binary's code pages: clean, shared by every berth process through the page
# cache and dropped by the kernel under pressure. `sync` runs first, since a
# just-built binary's pages count as dirty until they are written back.
# Needs `make plugins`. Results: .build/idle-memory/.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/berth-target}"
cargo build --release -q -p berth -p berth-benches --bin berth --bin berth-load
BIN="$CARGO_TARGET_DIR/release"
OUT=.build/idle-memory
rm -rf "$OUT" && mkdir -p "$OUT/plugins"
cp plugins/echo.wasm plugins/textkit.wasm "$OUT/plugins/"
sync

# memory PID: the figures that say what the process holds, in kB.
memory() {
  local status rollup
  status=$(grep -E '^(VmRSS|RssAnon|RssFile):' "/proc/$1/status" | awk '{printf "%s %s  ", $1, $2}')
  rollup=$(grep -E '^(Private_Dirty|Private_Clean|Shared_Clean):' "/proc/$1/smaps_rollup" | awk '{printf "%s %s  ", $1, $2}')
  echo "$status$rollup"
}

# start SETTING PORT: a release berth on PORT, with mimalloc's setting SETTING ("as built" for none).
start() {
  local environment=()
  [ "$1" != "as built" ] && environment=("$1")
  env "${environment[@]}" "$BIN/berth" serve --plugins "$OUT/plugins" --cache-dir "$OUT/cache" \
    --listen 127.0.0.1:"$2" --no-watch --log warn > "$OUT/serve-$2.log" 2>&1 &
  pid=$!
}

port=18750
for setting in "as built" "MIMALLOC_ARENA_EAGER_COMMIT=2"; do
  port=$((port + 1))
  # The first start compiles the plugins into the cache; measure a start that loads them from it.
  start "$setting" $port
  sleep 5 && kill "$pid" && wait "$pid" 2> /dev/null || true
  start "$setting" $port
  sleep 3
  echo "$setting, idle:       $(memory $pid)" | tee -a "$OUT/results.txt"
  "$BIN/berth-load" --url "http://127.0.0.1:$port" --connections 64 --duration 5 > "$OUT/load-$port.txt" 2>&1
  sleep 2
  echo "$setting, after load: $(memory $pid)" | tee -a "$OUT/results.txt"
  kill "$pid" && wait "$pid" 2> /dev/null || true
done
