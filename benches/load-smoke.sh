#!/usr/bin/env bash
# CI smoke of the load generator: a few seconds per transport against a real
# berth on loopback; fails unless every request got exactly one answer and
# none failed. The full scenarios are benches/scenarios.sh (not run in CI).
set -euo pipefail
cd "$(dirname "$0")/.."
BERTH=${1:?usage: load-smoke.sh BERTH_BINARY LOAD_BINARY}
LOAD=${2:?usage: load-smoke.sh BERTH_BINARY LOAD_BINARY}
work=$(mktemp -d)
cp plugins/echo.wasm "$work/"
"$BERTH" serve --plugins "$work" --listen 127.0.0.1:0 --cache-dir "${TMPDIR:-/tmp}/berth-test-cache" \
  --log warn > "$work/stdout" 2> "$work/stderr" &
pid=$!
trap 'kill $pid 2> /dev/null; wait $pid 2> /dev/null; rm -rf "$work"' EXIT
url=""
for _ in $(seq 300); do
  url=$(sed -n 's/^berth listening on //p' "$work/stdout")
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "berth did not start: $(cat "$work/stderr")" >&2; exit 1; }
passed=0
failed=0
for transport in "http" "legacy" "ws --in-flight 8"; do
  # shellcheck disable=SC2086
  if "$LOAD" --url "${url%/mcp}" --transport $transport --connections 8 --duration 3 --server-pid "$pid" \
    --label "smoke-${transport%% *}" --expect-all-answered --expect-no-errors 2> /dev/null; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
  fi
done
# A two-step ladder with its HTML report: every chart in it must render (rsvg-convert).
if "$LOAD" --url "${url%/mcp}" --transport http --ladder 2,4 --step 1.5 --server-pid "$pid" \
  --label smoke-report --report "$work/report.html" --expect-all-answered --expect-no-errors > /dev/null 2>&1 \
  && benches/check-svg.sh "$work/report.html" 5; then
  passed=$((passed + 1))
else
  echo "the report's charts did not render" >&2
  failed=$((failed + 1))
fi
echo "load smoke: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
