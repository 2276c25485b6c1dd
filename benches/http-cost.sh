#!/usr/bin/env bash
# Where a server's CPU goes per HTTP answer: the floor (berth-floor: axum + serde_json,
# no MCP, no wasm) and the wasm floor (berth-floor-wasm: the floor calling echo through bare
# wasmtime, fresh and warm) beside berth with a fresh instance per call and with warm instances,
# `tools/call echo` (64 bytes) over HTTP 2026-07-28, in interleaved rounds. For each
# server: answers/s, and per answer the server's user and system CPU (from
# /proc/PID/stat), its threads' context switches (from /proc/PID/task/*/status) and,
# where `perf` may read tracepoints, its system calls and how many threads it woke (its
# own tokio workers and the load generator's, both count). Medians of the rounds.
#
#   benches/http-cost.sh                       3 rounds of 5 s at 16 connections
#   CONNECTIONS=64 ROUNDS=5 SECS=5 benches/http-cost.sh
#   RATE=10000 benches/http-cost.sh             open loop: every server gets the same calls/s
#                                              (each closed-loop server sets its own pace,
#                                              and how busy the load generator is changes
#                                              what a server's system calls cost)
#   PROFILE=1 benches/http-cost.sh             then one more run each of the floor and berth
#                                              reuse under `perf record` (DWARF stacks): µs
#                                              per answer, and share of the samples, of each
#                                              part of a request (the parts add up)
#
# Needs `make plugins`. Results: .build/http-cost/.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/berth-target}"
OUT=.build/http-cost
BIN="$CARGO_TARGET_DIR/release"
ROUNDS=${ROUNDS:-3} SECS=${SECS:-5} CONNECTIONS=${CONNECTIONS:-16}
PACE=()
[ -n "${RATE:-}" ] && PACE=(--rate "$RATE")
[ -f plugins/echo.wasm ] || { echo "plugins/echo.wasm is missing: run make plugins first" >&2; exit 1; }
cargo build --release -q -p berth -p berth-benches -p berth-peers --bin berth --bin berth-load --bin berth-floor \
  --bin berth-floor-wasm
ulimit -n "$(ulimit -Hn)" || true
rm -rf "$OUT" && mkdir -p "$OUT/runs" "$OUT/fresh" "$OUT/reuse"
cp plugins/echo.wasm "$OUT/fresh/"
cp plugins/echo.wasm "$OUT/reuse/"
printf 'isolation = "reuse"\n' > "$OUT/reuse/echo.toml"
TICK=$(getconf CLK_TCK)

# shellcheck source=benches/servers.sh
source benches/servers.sh
serve floor "$BIN/berth-floor" 127.0.0.1:0
for isolation in fresh warm; do
  serve "wasm-$isolation" "$BIN/berth-floor-wasm" "$isolation" 127.0.0.1:0
done
for mode in fresh reuse; do
  serve "berth-$mode" "$BIN/berth" serve --plugins "$OUT/$mode" --cache-dir "$OUT/cache" --listen 127.0.0.1:0 \
    --no-watch --log warn
done
SERVERS=(floor wasm-fresh wasm-warm berth-fresh berth-reuse)

cpu_ticks() { awk '{print $14, $15}' "/proc/$1/stat"; } # user and system, in clock ticks
switches() { cat /proc/"$1"/task/*/status 2> /dev/null | awk '/ctxt_switches/ {n += $2} END {print n}'; }
# System calls and wakeups need perf and tracepoint access (root, or perf_event_paranoid ≤ -1).
TRACEPOINTS=sched:sched_waking,raw_syscalls:sys_enter
WAKEUPS=""
if command -v perf > /dev/null && perf stat -e "$TRACEPOINTS" -o /dev/null -- true 2> /dev/null; then
  WAKEUPS=1
fi

one_run() { # one_run SERVER NAME: a load run against SERVER, its figures in runs/NAME.cost
  local server=$1 name=$2 pid=${PID[$1]}
  local before after switches_before switches_after perf_pid=""
  before=$(cpu_ticks "$pid")
  switches_before=$(switches "$pid")
  if [ -n "$WAKEUPS" ]; then
    perf stat -e "$TRACEPOINTS" -x, -o "$OUT/runs/$name.perf" -p "$pid" -- sleep "$((SECS + 1))" 2> /dev/null &
    perf_pid=$!
  fi
  "$BIN/berth-load" --url "${URL[$server]}" --transport http --connections "$CONNECTIONS" --duration "$SECS" \
    "${PACE[@]}" --label "$name" --out "$OUT/runs/$name.json" --expect-no-errors > "$OUT/runs/$name.txt" 2>&1 ||
    { echo "FAILED: $name: $(cat "$OUT/runs/$name.txt")" >&2; exit 1; }
  after=$(cpu_ticks "$pid")
  switches_after=$(switches "$pid")
  local wakeups="-" syscalls="-"
  if [ -n "$perf_pid" ]; then
    kill -INT "$perf_pid" 2> /dev/null || true
    wait "$perf_pid" 2> /dev/null || true
    wakeups=$(awk -F, '/sched_waking/ {print $1}' "$OUT/runs/$name.perf")
    syscalls=$(awk -F, '/sys_enter/ {print $1}' "$OUT/runs/$name.perf")
  fi
  python3 - "$OUT/runs/$name.json" "$before" "$after" "$switches_before" "$switches_after" "$wakeups" "$syscalls" "$TICK" \
    > "$OUT/runs/$name.cost" << 'EOF'
import json, sys
report, before, after, s0, s1, wakeups, syscalls, tick = sys.argv[1:]
totals = json.load(open(report))["totals"]
answered, secs = totals["answered"], totals["elapsed_secs"]
(u0, k0), (u1, k1) = map(int, before.split()), map(int, after.split())
us = 1e6 / int(tick) / answered
print(json.dumps({
    "answers_per_sec": answered / secs,
    "user_us": (u1 - u0) * us, "system_us": (k1 - k0) * us,
    "switches": (int(s1) - int(s0)) / answered,
    "wakeups": None if not wakeups.isdigit() else int(wakeups) / answered,
    "syscalls": None if not syscalls.isdigit() else int(syscalls) / answered,
}))
EOF
}

for round in $(seq "$ROUNDS"); do
  for i in $(seq 0 $((${#SERVERS[@]} - 1))); do
    server=${SERVERS[$(((i + round) % ${#SERVERS[@]}))]}
    one_run "$server" "$server-r$round"
  done
done

python3 - "$OUT" "$CONNECTIONS" "${RATE:-}" "${SERVERS[@]}" << 'EOF' | tee "$OUT/cost.md"
import json, statistics, sys, glob
out, connections, rate, servers = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None
def show(value, digits):
    return "-" if value is None else f"{value:,.{digits}f}"
pace = f", open loop at {rate} calls/s" if rate else ""
print(f"HTTP 2026-07-28 `tools/call echo`, {connections} connections{pace}; medians of the rounds")
print()
print("| server | answers/s | user µs / answer | system µs / answer | CPU µs / answer | system calls / answer | context switches / answer | threads woken / answer |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for server in servers:
    runs = [json.load(open(path)) for path in sorted(glob.glob(f"{out}/runs/{server}-r*.cost"))]
    pick = lambda key: median([run[key] for run in runs])
    cpu = median([run["user_us"] + run["system_us"] for run in runs])
    print(f"| {server} | {show(pick('answers_per_sec'), 0)} | {show(pick('user_us'), 1)} | {show(pick('system_us'), 1)} "
          f"| {show(cpu, 1)} | {show(pick('syscalls'), 2)} | {show(pick('switches'), 3)} | {show(pick('wakeups'), 3)} |")
EOF

[ -n "${PROFILE:-}" ] || exit 0
command -v perf > /dev/null || { echo "PROFILE=1 needs perf" >&2; exit 1; }
# One more run each of the floor and berth reuse under perf, with DWARF stacks (release
# builds keep no frame pointers) copied 64 KiB deep: berth's nested futures need more than
# the default 8 KiB to unwind to the connection's task. DEBUGINFOD_URLS is emptied and
# inlines are not resolved, or perf waits on lookups it cannot make offline.
for server in floor berth-reuse; do
  pid=${PID[$server]}
  before=$(cpu_ticks "$pid")
  perf record -q -F 1000 --call-graph dwarf,65528 -p "$pid" -o "$OUT/$server.perf.data" -- sleep "$SECS" 2> /dev/null &
  perf_pid=$!
  "$BIN/berth-load" --url "${URL[$server]}" --transport http --connections "$CONNECTIONS" --duration "$SECS" \
    "${PACE[@]}" --out "$OUT/$server.profiled.json" > /dev/null 2>&1
  wait "$perf_pid" || true
  after=$(cpu_ticks "$pid")
  echo "$before $after" > "$OUT/$server.profiled.cpu"
  DEBUGINFOD_URLS= perf script -i "$OUT/$server.perf.data" --no-inline -F comm,ip,sym 2> /dev/null \
    > "$OUT/$server.stacks.txt"
  rm -f "$OUT/$server.perf.data"
done
python3 - "$OUT" "$TICK" floor berth-reuse << 'EOF' | tee "$OUT/profile.md"
import json, sys
out, tick, servers = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
# Each sample goes to the first part (in this order) that one of its frames names, so the
# parts do not overlap and add up to the whole.
PARTS = [
    ("the wasm call, on its own stack (wasmtime's fiber, the plugin's code)",
     lambda f: f.startswith("wasm[") or "fiber_start" in f or "wasmtime_builtin" in f),
    ("berth's handler: the JSON-RPC parse", lambda f: f.startswith("berth_protocol::jsonrpc::parse")),
    ("berth's handler: the tool call (routing, checks, instance, result)",
     lambda f: "berth::router::tools::" in f and "call_tool" in f),
    ("berth's handler: the rest (body, headers, exchange, answer)",
     lambda f: f.startswith("berth::transport::http::post::post::")),
    ("the floor's handler (parse, answer)", lambda f: f.startswith("berth_floor::answer")),
    ("writing the answer: hyper's flush, writev and the kernel's loopback delivery",
     lambda f: "Buffered<T,B>::poll_flush" in f),
    ("reading the request: hyper's read and parse of the head",
     lambda f: "Conn<I,B,T>::poll_read_head" in f),
    ("tokio workers going idle and being woken", lambda f: "park_internal" in f),
    ("the rest of the connection's task: axum routing, middleware, hyper's dispatch",
     lambda f: "axum::serve::handle_connection" in f),
]
OTHER = "other: outside a connection's task, or stacks that did not unwind"
columns = []
for server in servers:
    answered = json.load(open(f"{out}/{server}.profiled.json"))["totals"]["answered"]
    u0, k0, u1, k1 = map(int, open(f"{out}/{server}.profiled.cpu").read().split())
    cpu_us = ((u1 - u0) + (k1 - k0)) * 1e6 / tick / answered
    counts, total = {}, 0
    for sample in open(f"{out}/{server}.stacks.txt").read().split("\n\n"):
        frames = [line.strip().split(None, 1)[-1] for line in sample.splitlines()[1:] if line.strip()]
        if not frames:
            continue
        total += 1
        part = next((label for label, names in PARTS if any(names(f) for f in frames)), OTHER)
        counts[part] = counts.get(part, 0) + 1
    columns.append((server, answered, cpu_us, counts, max(total, 1)))
print("Each server profiled in one more run: " + "; ".join(
    f"{server} {answered:,} answers, {cpu_us:.1f} µs of CPU per answer" for server, answered, cpu_us, _, _ in columns))
print()
print("| part of a request, µs of server CPU per answer (share of its samples) | " + " | ".join(c[0] for c in columns) + " |")
print("|---|" + "---:|" * len(columns))
for label in [label for label, _ in PARTS] + [OTHER]:
    cells = []
    for _, _, cpu_us, counts, total in columns:
        share = 100 * counts.get(label, 0) / total
        cells.append("-" if not counts.get(label) else f"{share * cpu_us / 100:.1f} ({share:.1f} %)")
    if any(cell != "-" for cell in cells):
        print(f"| {label} | " + " | ".join(cells) + " |")
EOF
