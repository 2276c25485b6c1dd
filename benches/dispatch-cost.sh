#!/usr/bin/env bash
# Instructions per in-process `echo` call on a warm instance, through berth and through bare
# wasmtime: the counts behind criterion's `dispatch/echo/reuse` ÷ `baseline/echo/warm` ratio,
# from callgrind (deterministic, user space only). Each mode runs CALLS and 6 × CALLS calls;
# the difference over 5 × CALLS is one call, start-up and compilation cancelled out.
#
#   benches/dispatch-cost.sh          release build; needs `make plugins` and valgrind
#
# Prints, per call: the whole call, the wasm call inside it (wasmtime's `TypedFunc::call_impl`,
# the plugin's code and the lowering and lifting of its arguments and result: the same in both),
# and the rest. `berth-unvalidated` is berth with the argument check off (`validate = false`);
# the request copy that criterion makes outside its timing is subtracted. Results: .build/dispatch-cost/.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/berth-target}"
OUT=.build/dispatch-cost
CALLS=${CALLS:-2000}
rm -rf "$OUT" && mkdir -p "$OUT"
cargo build --release -q -p berth-benches --bin berth-dispatch-count
BIN="$CARGO_TARGET_DIR/release/berth-dispatch-count"
# berth compiles into its cache on first load; one run first keeps that out of both counts.
"$BIN" berth 1 > /dev/null

# count MODE N: callgrind over N calls; writes inclusive per-function counts.
count() {
  valgrind --tool=callgrind --callgrind-out-file="$OUT/$1-$2.cg" --dump-instr=no "$BIN" "$1" "$2" > "$OUT/$1-$2.log" 2>&1
  callgrind_annotate --auto=no --inclusive=yes --threshold=100 "$OUT/$1-$2.cg" > "$OUT/$1-$2.annotated" 2> /dev/null
}
for mode in bare berth berth-unvalidated clones; do
  count "$mode" "$CALLS"
  count "$mode" $((6 * CALLS))
done
python3 - "$OUT" "$CALLS" <<'PY'
import re, sys
out, calls = sys.argv[1], int(sys.argv[2])

def counts(path):
    found = {}
    for line in open(path):
        m = re.match(r"\s*([\d,]+) \([ \d.]+%\)\s+(.*)$", line)
        if m:
            found.setdefault(m.group(2), int(m.group(1).replace(",", "")))
    return found

def per_call(mode, pattern):
    short, long = counts(f"{out}/{mode}-{calls}.annotated"), counts(f"{out}/{mode}-{6 * calls}.annotated")
    key = next((k for k in long if re.search(pattern, k)), None)
    if key is None:
        return 0.0
    return (long[key] - short.get(key, 0)) / (5 * calls)

clone = per_call("clones", "PROGRAM TOTALS")
print(f"{'instructions per call':<40} {'whole call':>11} {'wasm call':>10} {'the rest':>10}")
for mode in ["bare", "berth", "berth-unvalidated"]:
    total = per_call(mode, "PROGRAM TOTALS") - (clone if mode != "bare" else 0)
    wasm = per_call(mode, r"TypedFunc<Params,Return>::call_impl")
    print(f"{mode:<40} {total:>11,.0f} {wasm:>10,.0f} {total - wasm:>10,.0f}")
print(f"(the request copy subtracted from berth's rows: {clone:,.0f})")
# berth's call, layer by layer: each row includes the ones below it (inclusive counts of the
# functions named; the compiler inlines most of berth's async functions into these).
layers = [
    ("exchange: routing, era, snapshot, measures", "PROGRAM TOTALS"),
    ("router: the tool call (lookup, access, argument check, result)", r"router/tools\.rs:berth::router::tools::.*::call_tool::\{\{closure\}\}"),
    ("  of it the arguments read for the schema check", r"Request::checked_arguments"),
    ("router: the instance round (permit, lease, context, release)", r"router/rounds\.rs:berth::router::rounds::.*::rounds::\{\{closure\}\}"),
    ("sandbox: the call under its deadline (timer, wasmtime's fiber)", r"runtime/sandbox/mod\.rs:<core::pin::Pin<P> as core::future::future::Future>::poll"),
    ("wasm call (TypedFunc::call_impl)", r"TypedFunc<Params,Return>::call_impl"),
]
print()
print(f"{'berth, layer by layer (inclusive)':<66} {'per call':>9}")
for label, pattern in layers:
    value = per_call("berth", pattern) - (clone if pattern == "PROGRAM TOTALS" else 0)
    print(f"{label:<66} {value:>9,.0f}")
PY
