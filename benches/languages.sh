#!/usr/bin/env bash
# What one call costs per plugin language: `berth new` scaffolds the same
# greeting tool in Rust, Python, JavaScript, TypeScript and C; each is built with
# its toolchain and measured with `berth bench` (in process: parse, dispatch,
# serialize), on a fresh instance per call and on a warm one, in the same run; beside it,
# the same call straight through wasmtime on berth's engine (berth-bare: no berth code), so
# what is berth's and what is wasmtime's own cost of each language's instance shows.
#
#   benches/languages.sh            prints a Markdown table; JSON per run in .build/languages/
#
# Needs what `make test` installs: the wasm32-wasip2 target, the Python venv
# with componentize-py (.build/venv), npm, and `make c-toolchain` for C. Fresh calls of interpreted
# languages boot their runtime every time, so they get fewer calls.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/berth-target}"
cargo build --release -q -p berth -p berth-benches --bin berth --bin berth-bare
BERTH="$CARGO_TARGET_DIR/release/berth"
BARE="$CARGO_TARGET_DIR/release/berth-bare"
OUT=.build/languages
rm -rf "$OUT" && mkdir -p "$OUT"
VENV_BIN="$PWD/.build/venv/bin"
[ -x "$VENV_BIN/componentize-py" ] || { echo "run 'make venv' first (componentize-py)" >&2; exit 1; }

build() { # build LANG: scaffold and build the greeter; prints the .wasm path
  local lang=$1 name="greet-$1" project="$OUT/greet-$1"
  "$BERTH" new "$name" --lang "$lang" --dir "$project" > /dev/null
  case $lang in
    rust)
      (cd "$project" && cargo build --release --target wasm32-wasip2 -q)
      echo "$CARGO_TARGET_DIR/wasm32-wasip2/release/greet_rust.wasm" ;;
    python)
      PATH="$VENV_BIN:$PATH" "$project/build.sh" > /dev/null
      echo "$project/$name.wasm" ;;
    js | ts)
      (cd "$project" && npm install --no-audit --no-fund --loglevel=error > /dev/null && npm run build > /dev/null)
      echo "$project/$name.wasm" ;;
    c)
      (cd "$project" && PATH="$PWD/../../tools/bin:$PATH" make > /dev/null)
      echo "$project/$name.wasm" ;;
  esac
}

for lang in rust python js ts c; do
  wasm=$(build $lang)
  for isolation in fresh reuse; do
    dir="$OUT/plugins-$lang-$isolation"
    mkdir -p "$dir" && cp "$wasm" "$dir/greet-$lang.wasm"
    printf 'isolation = "%s"\n' "$isolation" > "$dir/greet-$lang.toml"
    calls=20000 warmup=2000
    if [ $isolation = fresh ] && [ $lang != rust ] && [ $lang != c ]; then calls=300 warmup=20; fi
    "$BERTH" bench --plugins "$dir" --cache-dir "$OUT/cache" --tool "greet_${lang}_greet" --args '{"name":"Ada"}' \
      --calls $calls --warmup $warmup --json --log warn > "$OUT/$lang-$isolation.json"
  done
  # The template names its tool greet_<lang>_greet itself, so berth and wasmtime call it alike.
  calls=20000 warmup=2000
  if [ $lang != rust ] && [ $lang != c ]; then calls=300 warmup=20; fi
  "$BARE" "$wasm" "greet_${lang}_greet" '{"name":"Ada"}' $calls $warmup --json > "$OUT/$lang-bare.json"
  echo "$lang: $(wc -c < "$wasm") bytes" >&2
done

python3 - "$OUT" <<'PY'
import json, os, sys
out = sys.argv[1]
names = {"rust": "Rust", "python": "Python (componentize-py)", "js": "JavaScript (jco, QuickJS)",
         "ts": "TypeScript (tsc + jco)", "c": "C (wit-bindgen, clang)"}
print("| language | component size | fresh p50 µs | fresh p99 µs | fresh page faults / call | reuse p50 µs | reuse p99 µs | reuse calls/s "
      "| bare wasmtime fresh p50 µs | bare wasmtime warm p50 µs |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for lang, label in names.items():
    fresh = json.load(open(f"{out}/{lang}-fresh.json"))
    reuse = json.load(open(f"{out}/{lang}-reuse.json"))
    bare = json.load(open(f"{out}/{lang}-bare.json"))
    size = os.path.getsize(f"{out}/plugins-{lang}-fresh/greet-{lang}.wasm")
    faults = fresh.get("page_faults_per_call")
    faults = "n/a" if faults is None else f"{faults:,.1f}"
    print(f"| {label} | {size / 1024:,.0f} KiB | {fresh['latency_us']['p50']:,.1f} | {fresh['latency_us']['p99']:,.1f} "
          f"| {faults} | {reuse['latency_us']['p50']:,.1f} | {reuse['latency_us']['p99']:,.1f} | {reuse['calls_per_sec']:,.0f} "
          f"| {bare['fresh_us']['p50']:,.1f} | {bare['warm_us']['p50']:,.1f} |")
PY
