#!/usr/bin/env python3
"""The table of benches/compare.sh: medians over rounds per server, transport
and connection count, berth's figures as ratios to the floor and the peer (and,
with BASELINE=DIR, to an earlier berth build run in the same rounds) and, over
HTTP, to the wasm floor (the floor with a bare wasmtime call): fresh to fresh, reuse to warm.

    python3 benches/compare_table.py .build/compare   (reads runs/*.json, writes compare.json)
"""
import json
import pathlib
import re
import statistics
import sys

out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".build/compare")
cells = {}
machine = None
for path in sorted((out / "runs").glob("*.json")):
    run = json.loads(path.read_text())
    match = re.fullmatch(r"(.+)-(http|legacy|ws)-(\d+)-r(\d+)", run["label"])
    if not match:
        continue
    server, transport, connections, _ = match.groups()
    totals = run["totals"]
    errors = sum(totals["errors"].values()) + totals["unanswered"]
    cell = cells.setdefault((server, transport, int(connections)), {"rps": [], "p50": [], "p99": [], "errors": 0})
    cell["rps"].append(totals["answers_per_sec"])
    cell["p50"].append(totals["latency_ms"]["p50"])
    cell["p99"].append(totals["latency_ms"]["p99"])
    cell["errors"] += errors
    machine = run.get("machine", machine)

medians = {
    key: {
        "answers_per_sec": statistics.median(c["rps"]),
        "p50_ms": statistics.median(c["p50"]),
        "p99_ms": statistics.median(c["p99"]),
        "rounds": len(c["rps"]),
        "errors": c["errors"],
    }
    for key, c in cells.items()
}


def ratio(key, anchor):
    base = medians.get(anchor)
    if not base or not base["answers_per_sec"]:
        return None
    return medians[key]["answers_per_sec"] / base["answers_per_sec"]


rows = []
baseline = any(key[0].startswith("base-") for key in medians)
wasm_floor = any(key[0].startswith("wasm-") for key in medians)
print("| server | transport | connections | answers/s | p50 ms | p99 ms | × floor | × peer |"
      + (" × base |" if baseline else "") + (" × wasm floor |" if wasm_floor else "") + " errors |")
print("|---|---|---:|---:|---:|---:|---:|---:|" + ("---:|" if baseline else "") + ("---:|" if wasm_floor else "")
      + "---:|")
order = {"floor": 0, "peer": 1, "wasm-fresh": 2, "base-fresh": 3, "berth-fresh": 4, "wasm-warm": 5, "base-reuse": 6,
         "berth-reuse": 7, "base-spares": 8, "berth-spares": 9}
# The wasm floor each berth mode is held to: the same kind of instance, over HTTP.
wasm_anchor = {"fresh": "wasm-fresh", "spares": "wasm-fresh", "reuse": "wasm-warm"}
for key in sorted(medians, key=lambda k: (k[2], order.get(k[0], 9), k[1])):
    server, transport, connections = key
    m = medians[key]
    # Ratios compare like with like: HTTP to the floor's HTTP, each transport to the
    # peer's same transport (WebSocket, which the peer lacks, to its HTTP).
    # berth's rows (this build and an earlier one) and the wasm floor's get ratios to the anchors.
    held_to_anchors = server.startswith(("berth", "base", "wasm"))
    to_floor = ratio(key, ("floor", "http", connections)) if held_to_anchors else None
    peer_transport = transport if transport != "ws" else "http"
    to_peer = ratio(key, ("peer", peer_transport, connections)) if held_to_anchors else None
    # This build to the earlier one, same isolation, transport and connections.
    to_base = ratio(key, (server.replace("berth-", "base-"), transport, connections)) if server.startswith("berth") else None
    mode = server.split("-", 1)[-1]
    anchor = wasm_anchor.get(mode) if server.startswith(("berth", "base")) and transport != "ws" else None
    to_wasm = ratio(key, (anchor, "http", connections)) if anchor else None
    fmt = lambda r: f"{r:.2f}" if r is not None else ""
    print(
        f"| {server} | {transport} | {connections} | {m['answers_per_sec']:,.0f} | {m['p50_ms']:.3f} | "
        f"{m['p99_ms']:.3f} | {fmt(to_floor)} | {fmt(to_peer)} |" + (f" {fmt(to_base)} |" if baseline else "")
        + (f" {fmt(to_wasm)} |" if wasm_floor else "") + f" {m['errors']} |"
    )
    rows.append({"server": server, "transport": transport, "connections": connections, **m,
                 "ratio_to_floor": to_floor, "ratio_to_peer": to_peer, "ratio_to_base": to_base,
                 "ratio_to_wasm_floor": to_wasm})
(out / "compare.json").write_text(json.dumps({"machine": machine, "rows": rows}, indent=2))
