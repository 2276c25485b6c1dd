#!/usr/bin/env bash
# Where a fresh call's instructions go, for `echo` and for the Python and JavaScript templates' tools:
# callgrind counts every user-space instruction of `berth bench` (fresh isolation, spares
# off), and the inclusive counts of a few functions, divided by the calls, say what
# instantiation (and, inside it, the component's start functions), the call and the
# teardown each cost. Deterministic: a change that saves 1 % shows as 1 %. The kernel's
# page work (copy-on-write faults, the slot's reset) is not in these counts.
#
#   benches/fresh-cost.sh          release build; the Python template built with componentize-py
#                                  from the test venv (make venv), the JavaScript one with npm (jco)
#
# Needs valgrind, `make plugins`, `make venv` and npm. Results: .build/fresh-cost/.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/berth-target}"
OUT=.build/fresh-cost
CALLS=${CALLS:-200}
WARMUP=20
rm -rf "$OUT" && mkdir -p "$OUT/echo" "$OUT/python" "$OUT/js"
cargo build --release -q -p berth
BERTH="$CARGO_TARGET_DIR/release/berth"
cp plugins/echo.wasm "$OUT/echo/"
"$BERTH" new pyg --lang python --dir "$OUT/pyg" > /dev/null
(cd "$OUT/pyg" && PATH="$PWD/../../venv/bin:$PATH" ./build.sh > build.log 2>&1) ||
  { echo "the Python template did not build: $OUT/pyg/build.log (make venv first)" >&2; exit 1; }
cp "$OUT/pyg/pyg.wasm" "$OUT/python/"
printf 'isolation = "fresh"\n' > "$OUT/python/pyg.toml"
"$BERTH" new jsg --lang js --dir "$OUT/jsg" > /dev/null
(cd "$OUT/jsg" && npm install --no-audit --no-fund --loglevel=error > build.log 2>&1 && npm run build >> build.log 2>&1) ||
  { echo "the JavaScript template did not build: $OUT/jsg/build.log" >&2; exit 1; }
cp "$OUT/jsg/jsg.wasm" "$OUT/js/"
printf 'isolation = "fresh"\n' > "$OUT/js/jsg.toml"
# A small pool: the default reserves more address space than valgrind can map.
printf '[pool]\ninstances = 4\nmax_memory_mib = 128\n' > "$OUT/small.toml"

# count NAME DIR TOOL ARGS N: callgrind over `berth bench` making N calls (after WARMUP).
count() {
  local name=$1 dir=$2 tool=$3 args=$4 n=$5
  valgrind --tool=callgrind --callgrind-out-file="$OUT/$name-$n.cg" --dump-instr=no "$BERTH" bench \
    --config "$OUT/small.toml" --plugins "$dir" --cache-dir "$OUT/cache" --tool "$tool" --args "$args" \
    --calls "$n" --warmup "$WARMUP" > "$OUT/$name-$n.log" 2>&1
  callgrind_annotate --inclusive=yes --threshold=100 "$OUT/$name-$n.cg" > "$OUT/$name-$n.annotated" 2> /dev/null
}

# measure NAME DIR TOOL ARGS: runs of CALLS and 2 x CALLS calls; their difference over CALLS is
# what one call costs, start-up and loading cancelled out.
measure() {
  local name=$1 dir=$2 tool=$3 args=$4
  # Compile into the cache first, outside the counts.
  "$BERTH" list --plugins "$dir" --cache-dir "$OUT/cache" > /dev/null 2>&1
  count "$name" "$dir" "$tool" "$args" "$CALLS"
  count "$name" "$dir" "$tool" "$args" $((2 * CALLS))
  python3 - "$OUT/$name-$CALLS.annotated" "$OUT/$name-$((2 * CALLS)).annotated" "$name" "$CALLS" <<'PY'
import re, sys
short, long, name, calls = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
# Inclusive counts of the first line naming each function. Instantiation and the wasm call run
# on wasmtime's fiber stacks, where callgrind loses the callers: the parts are the functions
# that do the work, not berth's frames around them.
parts = [
    ("all of it (program total)", r"PROGRAM TOTALS"),
    ("instantiation: the start functions (Instance::start_raw)", r"wasmtime::runtime::instance::Instance::start_raw \["),
    ("  of which ref.func (libcalls::raw::ref_func)", r"wasmtime::runtime::vm::libcalls::raw::ref_func \["),
    ("instantiation: imports built (Instantiator::build_imports)", r"Instantiator::build_imports \["),
    ("instantiation: the store's state (CallState::new)", r"berth::runtime::host::CallState::new \["),
    ("teardown (StoreInner dropped)", r"drop_in_place<wasmtime::runtime::store::StoreInner<berth::runtime::host::CallState>> \["),
]
def counts(path):
    lines = open(path).read().splitlines()
    found = {}
    for label, pattern in parts:
        line = next((l for l in lines if re.search(pattern, l)), None)
        found[label] = int(line.split()[0].replace(",", "")) if line else 0
    return found
a, b = counts(short), counts(long)
print(f"{name}: user-space instructions per fresh call (callgrind, runs of {calls} and {2 * calls} calls)")
for label, _ in parts:
    print(f"  {label:62s} {(b[label] - a[label]) // calls:>12,}")
PY
}
measure echo "$OUT/echo" echo '{"text":"hello"}' | tee "$OUT/results.txt"
measure python "$OUT/python" pyg_greet '{"name":"x"}' | tee -a "$OUT/results.txt"
measure js "$OUT/js" jsg_greet '{"name":"x"}' | tee -a "$OUT/results.txt"
