# Sourced by the bench scripts that run servers side by side (compare.sh, http-cost.sh):
# `serve NAME COMMAND...` starts a server with its output in $OUT/NAME.out and .log and
# waits for the URL it prints; URL[NAME] and PID[NAME] hold them after. Every server
# started is stopped when the script exits.
PIDS=()
trap 'for pid in "${PIDS[@]}"; do kill "$pid" 2> /dev/null || true; done; wait 2> /dev/null || true' EXIT
declare -A URL PID
serve() {
  local name=$1
  shift
  "$@" > "$OUT/$name.out" 2> "$OUT/$name.log" &
  PIDS+=($!)
  PID[$name]=$!
  for _ in $(seq 600); do
    local url
    url=$(grep -o 'http://[0-9.:]*' "$OUT/$name.out" | head -n 1 || true)
    if [ -n "$url" ]; then
      URL[$name]=$url
      return 0
    fi
    sleep 0.1
  done
  echo "$name did not start: $(cat "$OUT/$name.log")" >&2
  exit 1
}
