#!/usr/bin/env bash
# Runs the official MCP conformance suites against a real `berth serve` that
# serves the conformance plugin:
#   @modelcontextprotocol/conformance@0.1.16          (2025-11-25 era, active suite)
#   @modelcontextprotocol/conformance@0.2.0-alpha.12  --requirements 2026-07-28
#   @modelcontextprotocol/conformance@0.2.0-alpha.12  --requirements 2025-11-25
# The suites need Node 22: the npm package `node@22` provides it, installed
# with each suite into .build/conformance/ (this machine's own node may be 20).
# It fails when a scored scenario fails, or one of the Tasks extension's
# scenarios (unscored for 2026-07-28, but berth implements the extension).
# Usage: tests/conformance/run.sh BERTH_BINARY   (make test-conformance does this)
set -euo pipefail

berth=${1:?usage: run.sh BERTH_BINARY}
root=$(cd "$(dirname "$0")/../.." && pwd)
work="$root/.build/conformance"
fixtures="$root/.build/fixtures"
mkdir -p "$work"

install_suite() {
  local version=$1 dir="$work/$1"
  if [ ! -f "$dir/.installed" ]; then
    echo "installing @modelcontextprotocol/conformance@$version and node@22 into $dir"
    mkdir -p "$dir"
    (cd "$dir" && [ -f package.json ] || echo '{"private":true}' > "$dir/package.json")
    npm install --prefix "$dir" --no-audit --no-fund --loglevel=error \
      "node@22" "@modelcontextprotocol/conformance@$version"
    touch "$dir/.installed"
  fi
}

install_suite 0.1.16
install_suite 0.2.0-alpha.12

plugins=$(mktemp -d)
log=$(mktemp)
trap 'kill "$server_pid" 2>/dev/null || true; rm -rf "$plugins" "$log"' EXIT
cp "$fixtures/conformance.wasm" "$plugins/"
BERTH_LOG=warn "$berth" serve --plugins "$plugins" --cache-dir "$root/.build/cache" \
  --listen 127.0.0.1:0 > "$log" 2>&1 &
server_pid=$!
url=""
for _ in $(seq 1 300); do
  url=$(sed -n 's/^berth listening on //p' "$log")
  [ -n "$url" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$log"; echo "berth serve exited"; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { cat "$log"; echo "berth serve did not start"; exit 1; }
# The suites check DNS-rebinding protection, which needs a localhost URL.
url=${url/127.0.0.1/localhost}
echo "conformance server: $url"

failed=0
passed=0
# The suites' own "Total:" lines count unscored scenarios too; they are shown
# reworded so that only this script's last line reads as the tally.
show() {
  sed -n '/=== SUMMARY ===/,$p' "$1" | grep -E "$2" \
    | sed -E -e 's/^Total: /all checks, scored or not: /' -e 's/([0-9]+) passed, ([0-9]+) failed/\1 ok, \2 not ok/' || true
}
run_suite() {
  local version=$1; shift
  local dir="$work/$version"
  local out="$work/last-run-$version${1:+-$2}.log"
  echo "=== conformance@$version server $* ==="
  if "$dir/node_modules/.bin/node" "$dir/node_modules/@modelcontextprotocol/conformance/dist/index.js" \
      server --url "$url" "$@" > "$out" 2>&1; then
    show "$out" '^(Total|Not scored)|✗'
    echo "conformance@$version $*: every scored scenario passed"
    passed=$((passed + 1))
  else
    show "$out" '.'
    echo "conformance@$version $*: FAILED (full log: $out)"
    failed=$((failed + 1))
  fi
}

# The Tasks extension's scenarios run unscored under 2026-07-28; berth implements the
# extension, so a failing one fails this script too.
extension_tally() {
  local out=$1 pass fail
  pass=$(sed -n '/=== SUMMARY ===/,$p' "$out" | grep -cE '^✓ tasks-' || true)
  fail=$(sed -n '/=== SUMMARY ===/,$p' "$out" | grep -cE '^✗ tasks-' || true)
  echo "extension io.modelcontextprotocol/tasks: $pass scenarios passed, $fail failed"
  if [ "$fail" -gt 0 ]; then
    sed -n '/=== SUMMARY ===/,$p' "$out" | grep -E '^✗ tasks-'
    failed=$((failed + 1))
  fi
}

run_suite 0.1.16
run_suite 0.2.0-alpha.12 --requirements 2026-07-28
extension_tally "$work/last-run-0.2.0-alpha.12-2026-07-28.log"
run_suite 0.2.0-alpha.12 --requirements 2025-11-25
echo "conformance: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
