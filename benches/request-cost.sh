#!/usr/bin/env bash
# Instructions a server spends on one `tools/call echo` over Streamable HTTP
# (2026-07-28, 64 bytes of text, one keep-alive connection), counted by
# valgrind's callgrind: deterministic, so a fix that saves 1 % shows as 1 %
# whatever else this shared machine is doing. Counts user-space instructions
# only (the kernel's socket work is not in them) and one request at a time.
#
#   benches/request-cost.sh                      berth (fresh and reuse), berth-floor and the wasm floor
#                                                (berth-floor-wasm fresh and warm), release builds
#   benches/request-cost.sh BERTH [BERTH...]     other berth binaries too (e.g. one built at an older commit)
#
# EXTRA_CONFIG=FILE appends FILE to the servers' config (access rules, an audit sink, named
# tokens); TOKEN=T makes the client send `Authorization: Bearer T`; TAG=NAME prefixes the
# result names. benches/access-cost.sh uses them.
#
# Each server runs under callgrind; 300 requests warm it up, its counters are
# zeroed, N=2000 more are sent and its counters dumped: instructions / N is
# the figure. Needs `make plugins` and valgrind. Results: .build/request-cost/.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/berth-target}"
N=${N:-2000}
OUT=.build/request-cost
rm -rf "$OUT" && mkdir -p "$OUT/fresh" "$OUT/reuse"
cp plugins/echo.wasm "$OUT/fresh/" && cp plugins/echo.wasm "$OUT/reuse/"
printf 'isolation = "reuse"\n' > "$OUT/reuse/echo.toml"
# A small pool: the default reserves more address space than valgrind can map.
printf '[pool]\ninstances = 4\nmax_memory_mib = 64\n' > "$OUT/small.toml"
if [ -n "${EXTRA_CONFIG:-}" ]; then
  cat "$EXTRA_CONFIG" >> "$OUT/small.toml"
fi
if [ $# -eq 0 ]; then
  cargo build --release -q -p berth -p berth-peers -p berth-benches --bin berth --bin berth-floor --bin berth-floor-wasm
  set -- "$CARGO_TARGET_DIR/release/berth"
  FLOOR="$CARGO_TARGET_DIR/release/berth-floor"
  WASM_FLOOR="$CARGO_TARGET_DIR/release/berth-floor-wasm"
else
  FLOOR="" WASM_FLOOR=""
fi

# client PORT COUNT: COUNT sequential calls on one connection; fails on any non-200 answer.
client() {
  python3 - "$1" "$2" "${TOKEN:-}" <<'PY'
import http.client, json, sys
port, count, token = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
conn = http.client.HTTPConnection("127.0.0.1", port)
headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
           "MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": "echo"}
if token:
    headers["Authorization"] = f"Bearer {token}"
meta = {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}}
for i in range(count):
    body = {"jsonrpc": "2.0", "id": i, "method": "tools/call",
            "params": {"name": "echo", "arguments": {"text": "x" * 64}, "_meta": meta}}
    conn.request("POST", "/mcp", json.dumps(body), headers)
    response = conn.getresponse()
    answer = response.read()
    if response.status != 200 or b'"result"' not in answer:
        sys.exit(f"request {i}: HTTP {response.status}: {answer[:200]!r}")
PY
}

# measure NAME PORT COMMAND...: instructions per request of the server COMMAND starts on PORT.
measure() {
  local name=$1 port=$2
  shift 2
  valgrind --tool=callgrind --callgrind-out-file="$OUT/$name.%p" --dump-instr=no "$@" > "$OUT/$name.log" 2>&1 &
  local pid=$!
  for _ in $(seq 600); do
    curl -s -o /dev/null -X POST http://127.0.0.1:"$port"/mcp -d '{}' && break
    sleep 0.2
  done
  client "$port" 300
  callgrind_control --zero "$pid" > /dev/null 2>&1
  client "$port" "$N"
  callgrind_control --dump=measured "$pid" > /dev/null 2>&1
  kill "$pid" && wait "$pid" 2> /dev/null || true
  callgrind_annotate "$(ls "$OUT/$name".*.1)" > "$OUT/$name.annotated" 2> /dev/null
  local total
  total=$(awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}' "$OUT/$name.annotated")
  printf '%-40s %9d instructions per request\n' "$name" $((total / N)) | tee -a "$OUT/results.txt"
}

port=18700
if [ -n "$FLOOR" ]; then
  measure floor $port "$FLOOR" 127.0.0.1:$port
fi
if [ -n "$WASM_FLOOR" ]; then
  for isolation in warm fresh; do
    port=$((port + 1))
    measure "wasm-floor-$isolation" $port "$WASM_FLOOR" "$isolation" 127.0.0.1:$port --small-pool
  done
fi
for berth in "$@"; do
  tag=${TAG:+$TAG-}$(basename "$(dirname "$berth")")-$(basename "$berth")
  for mode in reuse fresh; do
    port=$((port + 1))
    measure "$tag-$mode" $port "$berth" serve --config "$OUT/small.toml" --plugins "$OUT/$mode" \
      --cache-dir "$OUT/cache" --listen 127.0.0.1:$port --no-watch --log warn
  done
done
