#!/usr/bin/env bash
# Runs the load and chaos scenarios of SCENARIOS.md (short modes) against a
# release berth on loopback, one server per scenario, and writes one JSON
# result and one HTML report per run into .build/scenarios/.
#
#   benches/scenarios.sh              all scenarios (about 15 minutes)
#   benches/scenarios.sh S1 S4 S9     some of them
#   S10_SECS=1800 benches/scenarios.sh S10   the soak at its full 30 minutes
#   SERVER_BIN=/tmp/berth-old benches/scenarios.sh S2X   the same runs against another build of berth
#
# Client and server share the machine: every figure says so. Needs
# `make plugins fixtures` (the faulty fixture is the crash/slow/runaway plugin)
# and `ulimit -n` above 2x the largest connection count (the ladder holds 15,000).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/berth-target}"
OUT=.build/scenarios
BIN="$CARGO_TARGET_DIR/release"
SERVER="${SERVER_BIN:-$BIN/berth}"
PORT="${PORT:-18181}"
URL="http://127.0.0.1:$PORT"
ulimit -n "$(ulimit -Hn)" || true

cargo build --release -q -p berth -p berth-benches --bin berth --bin berth-load --bin berth-coldstart
mkdir -p "$OUT"
PLUGINS="$OUT/plugins"
rm -rf "$PLUGINS" && mkdir -p "$PLUGINS"
cp plugins/echo.wasm plugins/textkit.wasm .build/fixtures/faulty.wasm "$PLUGINS/"
# The runaway plugin gets a short deadline so S7 finishes quickly.
printf '[limits]\ndeadline_ms = 1000\nmemory_mib = 64\n' > "$PLUGINS/faulty.toml"

SERVER_PID=""
start() { # start CONFIG_TOML
  printf '%s\n' "$1" > "$OUT/berth.toml"
  "$SERVER" serve --plugins "$PLUGINS" --listen "127.0.0.1:$PORT" --config "$OUT/berth.toml" \
    --log warn > "$OUT/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 100); do
    curl -sf "$URL/healthz" > /dev/null && return 0
    sleep 0.1
  done
  echo "berth did not start: $(cat "$OUT/server.log")" >&2
  exit 1
}
stop() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2> /dev/null && wait "$SERVER_PID" 2> /dev/null || true
  SERVER_PID=""
}
trap stop EXIT
load() { # load NAME ARGS...
  local name=$1
  shift
  echo "== $name: berth-load $*"
  "$BIN/berth-load" --url "$URL" --server-pid "$SERVER_PID" --label "$name" \
    --out "$OUT/$name.json" --report "$OUT/$name.html" "$@" 2> "$OUT/$name.progress" | tee "$OUT/$name.txt"
}
metrics() { # metrics NAME: keep the server's /metrics after a run
  curl -s "$URL/metrics" > "$OUT/$1.metrics"
}

want() { [ $# -eq 0 ] || [[ " $* " == *" $SCENARIO "* ]]; }

run_COLD() { # cold start to the first answer, compiled-plugin cache warm
  mkdir -p "$OUT/coldstart" && cp plugins/echo.wasm plugins/textkit.wasm "$OUT/coldstart/"
  "$BIN/berth-coldstart" --berth "$SERVER" --plugins "$OUT/coldstart" --runs 20 | tee "$OUT/COLD.txt"
}
run_S1() { # baseline: 150 connections; erlmcp's target rate, then closed loop for capacity
  start ""
  load S1-open --connections 150 --rate 5000 --duration 60
  load S1-closed --connections 150 --duration 20
  load S1-64 --connections 64 --duration 20
  load S1-ws --transport ws --connections 64 --in-flight 32 --duration 20
  load S1-legacy --transport legacy --connections 64 --duration 20
  stop
}
run_S1R() { # S1 with isolation = "reuse" for echo (warm instances instead of one per call)
  local plugins_fresh=$PLUGINS
  PLUGINS="$OUT/plugins-reuse"
  rm -rf "$PLUGINS" && mkdir -p "$PLUGINS"
  cp plugins/echo.wasm "$PLUGINS/" && printf 'isolation = "reuse"\n' > "$PLUGINS/echo.toml"
  start ""
  load S1R-64 --connections 64 --duration 20
  load S1R-ws --transport ws --connections 64 --in-flight 32 --duration 20
  load S1R-ws-16x8 --transport ws --connections 16 --in-flight 8 --duration 20
  stop
  PLUGINS=$plugins_fresh
}
run_S2() { # connection ladder over WebSocket at a fixed 10,000 req/s, then HTTP closed loop
  start ""
  # 16 source addresses: 15,000 connections stay within each address's default quotas.
  load S2-ws --transport ws --ladder 150,500,1000,5000,10000,15000 --step 15 --ramp 5 --rate 10000 --sources 16
  stop
  start ""
  load S2-http --ladder 150,500,1000 --step 15 --ramp 3
  stop
}
run_S2C() { # 15,000 WebSocket connections at 10,000 req/s, steady and then with churn
  # Churn: about 1,000 connections a second close between calls and open again at once.
  # The per-second timeline separates the ramp, the steady (or churning) state and teardown.
  local common=(--transport ws --ladder 15000 --step 30 --ramp 10 --rate 10000 --sources 16)
  start ""
  load S2C-steady "${common[@]}"
  load S2C-churn "${common[@]}" --disconnect-every 1 --disconnect-fraction 0.0667 --churn
  stop
  python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
for name in ("S2C-steady", "S2C-churn"):
    run = json.load(open(f"{out}/{name}.json"))
    phases = {"ramp (to 15,000)": [], "held (15,000 open)": [], "teardown": []}
    for second in run["timeline"]:
        latency = second["latency_ms"]
        if not latency:
            continue
        phase = "ramp (to 15,000)" if second["t"] <= 13 else "teardown" if second["connections"] < 14900 else "held (15,000 open)"
        lag = second.get("send_lag_ms") or {"p99": 0, "max": 0}
        phases[phase].append((latency["p99"], latency["max"], second.get("client_lag_ms_max", 0), lag["p99"], lag["max"]))
    for phase, rows in phases.items():
        if rows:
            print(f"{name} {phase}: {len(rows)} s, per-second p99 {min(r[0] for r in rows)}-{max(r[0] for r in rows)} ms, "
                  f"max {max(r[1] for r in rows)} ms; the generator's own timer lag up to {max(r[2] for r in rows)} ms, "
                  f"its send lag p99 up to {max(r[3] for r in rows)} ms (max {max(r[4] for r in rows)} ms)")
    wake = run["totals"].get("close_wake_lag_ms")
    if wake:
        print(f"{name} close: the generator reached its connections to close them p50 {wake['p50']} ms, "
              f"p99 {wake['p99']} ms, last {wake['max']} ms late")
PY
}
run_S2X() { # 900 calling connections while 14,000 others open, call, and all close at once
  # Two generators: the held one's latencies show what the other's connect and close storms
  # cost established connections (berth's share), apart from the storming generator's own lag.
  # Its own source address keeps it within the per-source quotas; pacing is off, since this
  # scenario is about connections coming and going, not about sharing the CPU between sources.
  start $'[quota]\npace_to_share = false'
  local began storm_began
  began=$(date +%s.%N)
  "$BIN/berth-load" --url "$URL" --server-pid "$SERVER_PID" --label S2X-held --transport ws \
    --connections 900 --first-source 100 --ramp 3 --rate 1800 --duration 50 --out "$OUT/S2X-held.json" \
    --report "$OUT/S2X-held.html" > "$OUT/S2X-held.txt" 2> "$OUT/S2X-held.progress" &
  local held=$!
  sleep 5
  storm_began=$(date +%s.%N)
  load S2X-storm --transport ws --ladder 14000 --step 30 --ramp 10 --rate 8000 --sources 16
  wait "$held"
  cat "$OUT/S2X-held.txt"
  stop
  python3 - "$OUT" "$began" "$storm_began" <<'PY'
import json, sys
out, offset = sys.argv[1], float(sys.argv[3]) - float(sys.argv[2])
held = json.load(open(f"{out}/S2X-held.json"))["timeline"]
storm = json.load(open(f"{out}/S2X-storm.json"))
# The storming run's phases on the held run's clock: opening over its ramp, held, then
# every connection closed a second after its end.
ramp, step = storm["plan"]["ramp_secs"], storm["plan"]["step_secs"]
phases = [("alone, before", 0, offset), ("14,000 opening", offset, offset + ramp + 1),
          ("14,000 held", offset + ramp + 1, offset + step), ("14,000 closing", offset + step, offset + step + 3),
          ("alone, after", offset + step + 3, 1e9)]
for label, start, end in phases:
    rows = [s for s in held if s["latency_ms"] and start < s["t"] <= end]
    if rows:
        print(f"S2X 900 held while {label}: {len(rows)} s, per-second p99 "
              f"{min(r['latency_ms']['p99'] for r in rows)}-{max(r['latency_ms']['p99'] for r in rows)} ms, "
              f"max {max(r['latency_ms']['max'] for r in rows)} ms; its own send lag p99 up to "
              f"{max((r.get('send_lag_ms') or {'p99': 0})['p99'] for r in rows)} ms")
PY
}
run_S3() { # message bombing: 20 clients x 500 msg/s
  start ""
  load S3 --connections 20 --rate 10000 --duration 60
  stop
}
run_S4() { # overload: 20 ms calls, in-flight limit 64 (capacity ~3,200/s); 2x that offered, then back
  start $'[http]\nmax_in_flight = 64'
  local slow=(--mix faulty_slow --args 'faulty_slow={"ms":20}')
  load S4-before --connections 32 --duration 10 "${slow[@]}"
  load S4-overload --connections 512 --rate 6400 --duration 20 "${slow[@]}"
  load S4-after --connections 32 --duration 10 "${slow[@]}"
  metrics S4
  stop
}
run_S5() { # a plugin traps on 1 % of calls
  start ""
  load S5 --connections 64 --duration 30 --mix echo=99,faulty_trap=1
  metrics S5
  stop
}
run_S6() { # a slow plugin (300 ms) beside echo: echo measured alone, then with the slow load
  start ""
  load S6-alone --connections 32 --duration 20
  "$BIN/berth-load" --url "$URL" --connections 64 --duration 25 --mix faulty_slow \
    --args 'faulty_slow={"ms":300}' --label S6-slow > "$OUT/S6-slow.txt" 2> /dev/null &
  local slow=$!
  sleep 2
  load S6-with-slow --connections 32 --duration 20
  wait "$slow" || true
  cat "$OUT/S6-slow.txt"
  stop
}
run_S7() { # runaway plugins (infinite loop, memory bomb) beside echo
  start ""
  "$BIN/berth-load" --url "$URL" --connections 8 --duration 25 --mix faulty_spin=1,faulty_hog=1 \
    --label S7-runaway > "$OUT/S7-runaway.txt" 2> /dev/null &
  local runaway=$!
  sleep 2
  load S7-echo --connections 32 --duration 20
  wait "$runaway" || true
  cat "$OUT/S7-runaway.txt"
  metrics S7
  stop
}
run_S8() { # disconnect storms: 10 % of WebSocket clients drop mid-call every 10 s
  start ""
  load S8 --transport ws --connections 200 --in-flight 4 --duration 60 --disconnect-every 10 --disconnect-fraction 0.1
  sleep 2
  metrics S8
  stop
}
run_S9() { # hot reload under load: echo.wasm rewritten every 5 s at 1,000 req/s
  start ""
  load S9 --connections 32 --rate 1000 --duration 30 --reload-every 5 --reload-file "$PLUGINS/echo.wasm"
  stop
}
run_S10() { # soak (short mode: 3 minutes; S10_SECS=1800 for the full run) at a steady 5,000 req/s
  start ""
  load S10 --connections 64 --rate 5000 --duration "${S10_SECS:-180}"
  stop
}
run_S11() { # idle connections: RSS per held WebSocket connection
  start ""
  load S11 --transport ws --connections 10000 --idle --duration 20 --ramp 10 --sources 16
  stop
}
# cluster_up NAME: Redis, three replicas (r1-r3) and HAProxy with deploy/haproxy.cfg as shipped,
# on this run's ports; sets CL_DIR, CL_FRONT, CL_STATS, CL_REDIS, CL_PORTS, CL_PIDS, CL_HAPROXY.
cluster_up() {
  for tool in redis-server haproxy; do
    command -v "$tool" > /dev/null || { echo "$1 needs $tool (apt-get install redis-server haproxy)" >&2; return 1; }
  done
  CL_DIR="$OUT/$1" CL_REDIS=$((PORT + 10)) CL_FRONT=$((PORT + 20)) CL_STATS=$((PORT + 24))
  CL_PORTS=($((PORT + 21)) $((PORT + 22)) $((PORT + 23))) CL_PIDS=()
  rm -rf "$CL_DIR" && mkdir -p "$CL_DIR"
  redis-server --bind 127.0.0.1 --port "$CL_REDIS" --save "" --appendonly no > "$CL_DIR/redis.log" 2>&1 &
  CL_REDIS_PID=$!
  sed -e "s/127.0.0.1:8080/127.0.0.1:$CL_FRONT/" -e "s/127.0.0.1:8081/127.0.0.1:${CL_PORTS[0]}/" \
    -e "s/127.0.0.1:8082/127.0.0.1:${CL_PORTS[1]}/" -e "s/127.0.0.1:8083/127.0.0.1:${CL_PORTS[2]}/" \
    -e "s/127.0.0.1:8404/127.0.0.1:$CL_STATS/" \
    deploy/haproxy.cfg > "$CL_DIR/haproxy.cfg"
  for i in 0 1 2; do cluster_replica "$i" || return 1; done
  # Appending, so emptying the log between transports leaves no hole of NULs before new lines.
  haproxy -db -f "$CL_DIR/haproxy.cfg" 2>> "$CL_DIR/haproxy.log" &
  CL_HAPROXY=$!
  sleep 3 # two health checks: every replica in rotation
  curl -sf "http://127.0.0.1:$CL_FRONT/readyz" > /dev/null || { echo "HAProxy did not start: $(cat "$CL_DIR/haproxy.log")" >&2; return 1; }
}
cluster_replica() { # cluster_replica INDEX: start r(INDEX+1), wait until it answers
  BERTH_CLUSTER_SECRET=scenario-shared-secret-for-the-cluster "$SERVER" serve --plugins "$PLUGINS" \
    --listen "127.0.0.1:${CL_PORTS[$1]}" --redis "redis://127.0.0.1:$CL_REDIS" --replica-id "r$(($1 + 1))" \
    --log warn >> "$CL_DIR/r$(($1 + 1)).log" 2>&1 &
  CL_PIDS[$1]=$!
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:${CL_PORTS[$1]}/healthz" > /dev/null && return 0
    sleep 0.1
  done
  echo "replica r$(($1 + 1)) did not start" >&2
  return 1
}
cluster_down() { # stops HAProxy and the replicas (Redis goes with cluster_down_redis)
  kill "$CL_HAPROXY" "${CL_PIDS[@]}" 2> /dev/null || true
  wait "$CL_HAPROXY" "${CL_PIDS[@]}" 2> /dev/null || true
}
cluster_down_redis() {
  kill "$CL_REDIS_PID" 2> /dev/null || true
  wait "$CL_REDIS_PID" 2> /dev/null || true
}
# cluster_load NAME TRANSPORT SECS: berth-load through HAProxy in the background (its pid in CL_LOAD).
cluster_load() {
  local extra=(--connections 48)
  [ "$2" = ws ] && extra=(--connections 12 --in-flight 4)
  : > "$CL_DIR/haproxy.log"
  curl -s "http://127.0.0.1:$CL_STATS/stats;csv" > "$CL_DIR/stats-$2-before.csv"
  "$BIN/berth-load" --url "http://127.0.0.1:$CL_FRONT" --transport "$2" "${extra[@]}" --duration "$3" \
    --label "$1-$2" --out "$OUT/$1-$2.json" --report "$OUT/$1-$2.html" \
    2> "$OUT/$1-$2.progress" > "$OUT/$1-$2.txt" &
  CL_LOAD=$!
}
cluster_load_done() { # cluster_load_done NAME TRANSPORT: waits for the load, keeps HAProxy's view of it
  wait "$CL_LOAD" || true
  curl -s "http://127.0.0.1:$CL_STATS/stats;csv" > "$CL_DIR/stats-$2-after.csv"
  cat "$OUT/$1-$2.txt"
  cp "$CL_DIR/haproxy.log" "$CL_DIR/haproxy-$2.log"
}
run_S12() { # a cluster: Redis + HAProxy + 3 replicas; replica r2 killed (-9) mid-run, then restarted
  local secs="${S12_SECS:-30}"
  cluster_up S12 || return 1
  local transport
  for transport in http legacy ws; do
    echo "== S12-$transport: berth-load through HAProxy; r2 killed at $((secs / 3)) s, restarted at $((2 * secs / 3)) s"
    cluster_load S12 "$transport" "$secs"
    sleep $((secs / 3))
    kill -9 "${CL_PIDS[1]}"
    sleep $((secs / 3))
    cluster_replica 1
    cluster_load_done S12 "$transport"
  done
  cluster_down
  # The same loads against one replica, clustered and not, without HAProxy: the cost of
  # clustering itself, as a ratio measured in this run.
  # Then legacy `initialize` alone (16 sources, sessions never used, reclaimable at once, so
  # the store stays full and every admission reclaims one): clustered, one script in Redis.
  local mode
  for mode in single clustered; do
    local grace='[http]\nsession_grace_secs = 0\n'
    if [ "$mode" = clustered ]; then
      start "$(printf "$grace"'[cluster]\nredis_url = "redis://127.0.0.1:%s"\nsecret = "scenario-shared-secret-for-the-cluster"' "$CL_REDIS")"
    else
      start "$(printf "$grace")"
    fi
    for transport in http legacy ws; do
      local extra=(--connections 48)
      [ "$transport" = ws ] && extra=(--connections 12 --in-flight 4)
      load "S12-$mode-$transport" --transport "$transport" "${extra[@]}" --duration "$secs"
    done
    load "S12-$mode-sessions" --transport sessions --connections 16 --sources 16 --first-source 10 \
      --duration "$(((secs + 2) / 3))"
    stop
  done
  cluster_down_redis
  python3 benches/s12-summary.py "$OUT" "$secs" | tee "$OUT/S12-summary.txt"
}
run_S14() { # rolling restart: each of 3 replicas behind HAProxy in turn gets SIGTERM, drains, exits, restarts
  local secs="${S14_SECS:-45}"
  cluster_up S14 || return 1
  local transport
  for transport in http legacy ws; do
    echo "== S14-$transport: berth-load through HAProxy for $secs s; r1, r2, r3 restarted in turn from 5 s"
    : > "$OUT/S14-$transport.exits"
    cluster_load S14 "$transport" "$secs"
    sleep 5
    local i
    for i in 0 1 2; do
      local pid=${CL_PIDS[$i]} began=$SECONDS
      kill -TERM "$pid"
      local code=0
      wait "$pid" || code=$?
      echo "S14-$transport r$((i + 1)): SIGTERM, exited with $code after $((SECONDS - began)) s" | tee -a "$OUT/S14-$transport.exits"
      cluster_replica "$i"
      sleep 3 # two health checks: back in rotation before the next one goes
    done
    cluster_load_done S14 "$transport"
  done
  cluster_down
  cluster_down_redis
  python3 - "$OUT" <<'PY' | tee "$OUT/S14-summary.txt"
import json, sys
out = sys.argv[1]
for transport in ("http", "legacy", "ws"):
    t = json.load(open(f"{out}/S14-{transport}.json"))["totals"]
    errors = t["errors"]
    exits = open(f"{out}/S14-{transport}.exits").read().split("\n")
    codes = [line.rsplit("with ", 1)[1].split()[0] for line in exits if "exited with" in line]
    print(f"S14 {transport}: {t['sent']} sent, {t['answered']} answered, {sum(errors.values())} failed "
          f"{dict(errors) or ''}, {t['unanswered']} unanswered; replicas exited with {', '.join(codes)}")
PY
}
run_S13() { # one abusive source beside 20 well-behaved ones: defaults, then with a request rate limit
  local config
  for config in defaults rate; do
    if [ "$config" = rate ]; then start $'[quota]\nrequests_per_sec = 500'; else start ""; fi
    # 20 legacy clients, one per address 127.0.0.10-29, 1,000 calls/s together.
    local good=(--transport legacy --connections 20 --sources 20 --first-source 10 --rate 1000 --duration 20)
    load "S13-$config-alone" "${good[@]}"
    # The abuser (127.0.0.200) at full speed: 10 s of sessions it never uses
    # from 256 connections, then 15 s of closed-loop calls from 64.
    {
      "$BIN/berth-load" --url "$URL" --transport sessions --connections 256 --first-source 200 --duration 10 \
        --label "S13-$config-abuser-sessions" --out "$OUT/S13-$config-abuser-sessions.json" 2> /dev/null
      "$BIN/berth-load" --url "$URL" --connections 64 --first-source 200 --duration 15 \
        --label "S13-$config-abuser-requests" --out "$OUT/S13-$config-abuser-requests.json" 2> /dev/null
    } > "$OUT/S13-$config-abuser.txt" &
    local abuser=$!
    sleep 1
    load "S13-$config-with-abuser" "${good[@]}"
    wait "$abuser" || true
    cat "$OUT/S13-$config-abuser.txt"
    metrics "S13-$config"
    stop
    python3 - "$OUT" "$config" <<'PY'
import json, sys
out, config = sys.argv[1], sys.argv[2]
runs = {name: json.load(open(f"{out}/S13-{config}-{name}.json"))["totals"] for name in ("alone", "with-abuser")}
alone, mixed = runs["alone"], runs["with-abuser"]
errors = lambda t: sum(t["errors"].values())
ratio = mixed["latency_ms"]["p99"] / max(alone["latency_ms"]["p99"], 1e-9)
print(f"S13 {config}: well-behaved p99 {alone['latency_ms']['p99']} ms alone, {mixed['latency_ms']['p99']} ms "
      f"with the abuser ({ratio:.2f}x); {alone['answers_per_sec']:.0f} vs {mixed['answers_per_sec']:.0f} answers/s; "
      f"errors {errors(alone)} vs {errors(mixed)}")
PY
  done
}

for SCENARIO in COLD S1 S1R S2 S2C S2X S3 S4 S5 S6 S7 S8 S9 S10 S11 S12 S13 S14; do
  if want "$@"; then
    "run_$SCENARIO"
  fi
done
echo "results: $OUT/*.json, reports: $OUT/*.html"
