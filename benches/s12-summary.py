#!/usr/bin/env python3
"""Summarizes S12 (benches/scenarios.sh): every request counted, throughput and latency
before/during/after the replica loss, the failures set against HAProxy's own counters (what
reached the killed replica and was cut off, what was redispatched), and the cluster against one
replica without Redis.

    python3 benches/s12-summary.py .build/scenarios 30
"""

import json
import re
import sys

out, secs = sys.argv[1], float(sys.argv[2])
third = secs / 3
# HAProxy's httplog line: ... backend/server Tr/Tw/Tc/Tr/Ta status bytes - - TERM ...
# (status -1: no response reached the client).
LINE = re.compile(r" berth/(\S+) \S+ (-1|\d{3}) \S+ \S+ \S+ (\S{4}) ")


def counters(transport):
    """Per-server HAProxy counter deltas over one run: {server: {field: delta}}."""
    def read(which):
        rows = {}
        with open(f"{out}/S12/stats-{transport}-{which}.csv") as f:
            header = f.readline().lstrip("# ").strip().split(",")
            for line in f:
                row = dict(zip(header, line.strip().split(",")))
                if row.get("pxname") in ("berth", "mcp"):
                    rows[row["svname"]] = row
        return rows
    try:
        before, after = read("before"), read("after")
    except FileNotFoundError:
        return {}
    fields = ("stot", "econ", "eresp", "wretr", "wredis", "cli_abrt", "srv_abrt", "hrsp_5xx")
    num = lambda row, k: int(row.get(k) or 0)
    return {sv: {k: num(after[sv], k) - num(before.get(sv, {}), k) for k in fields} for sv in after}


def phases(run):
    """Answers/s, errors and p50/p99 (worst second) before, during and after the loss."""
    result = {}
    for name, lo, hi in (("before", 0, third), ("during", third, 2 * third), ("after", 2 * third, secs + 1)):
        points = [p for p in run["timeline"] if lo <= p["t"] < hi]
        span = max(len(points), 1)
        answered = sum(p["answered"] for p in points)
        errors = sum(p["errors"] for p in points)
        p50 = max((p["latency_ms"]["p50"] for p in points if p["answered"]), default=0)
        p99 = max((p["latency_ms"]["p99"] for p in points if p["answered"]), default=0)
        result[name] = (answered / span, errors, p50, p99)
    return result


for transport in ("http", "legacy", "ws"):
    cluster = json.load(open(f"{out}/S12-{transport}.json"))
    single = json.load(open(f"{out}/S12-single-{transport}.json"))
    clustered = json.load(open(f"{out}/S12-clustered-{transport}.json"))
    t = cluster["totals"]
    errors = t["errors"]
    cut = {}
    try:
        for line in open(f"{out}/S12/haproxy-{transport}.log"):
            m = LINE.search(line)
            if m:
                server, status, term = m.groups()
                key = f"{server} {status} {term}"
                cut[key] = cut.get(key, 0) + 1
        rejoined = any("r2 is UP" in line for line in open(f"{out}/S12/haproxy-{transport}.log"))
    except FileNotFoundError:
        rejoined = False
    print(f"S12 {transport}: sent {t['sent']}, ok {t['ok']}, failed {sum(errors.values())} {errors or ''}, "
          f"unanswered {t['unanswered']}, dropped {t.get('dropped_by_chaos', 0)}")
    c = counters(transport)
    r2, front = c.get("r2", {}), c.get("FRONTEND", {})
    print(f"  HAProxy: r2 served {r2.get('stot')} requests; cut off on r2 (responses aborted by the server): "
          f"{r2.get('srv_abrt')} aborted + {r2.get('eresp')} response errors; connection failures to r2 "
          f"{r2.get('econ')}, redispatched to another replica {r2.get('wredis')}; 5xx sent to clients "
          f"{front.get('hrsp_5xx')}; r2 back in rotation: {rejoined}")
    print(f"  HAProxy log, abnormal requests by server/status/termination: {cut or 'none'}")
    for name, (rate, errs, p50, p99) in phases(cluster).items():
        print(f"  {name:6}: {rate:8.0f} answers/s, {errs} errors, worst-second p50 {p50} ms, p99 {p99} ms")
    alone, shared = single["totals"], clustered["totals"]
    rate = lambda x: x["answers_per_sec"] / max(alone["answers_per_sec"], 1e-9)
    print(f"  one replica, no Redis: {alone['answers_per_sec']:.0f} answers/s, p50 {alone['latency_ms']['p50']} ms | "
          f"one replica with Redis: {shared['answers_per_sec']:.0f} answers/s ({rate(shared):.2f}x), "
          f"p50 {shared['latency_ms']['p50']} ms, errors {sum(shared['errors'].values())} | "
          f"3 replicas through HAProxy: {t['answers_per_sec']:.0f} answers/s ({rate(t):.2f}x), p50 {t['latency_ms']['p50']} ms")

# Legacy `initialize` alone, each admitting a session into a full store (it reclaims one).
try:
    alone, shared = (json.load(open(f"{out}/S12-{mode}-sessions.json"))["totals"] for mode in ("single", "clustered"))
    ratio = shared["answers_per_sec"] / max(alone["answers_per_sec"], 1e-9)
    print(f"S12 initialize: one replica, no Redis: {alone['answers_per_sec']:.0f} sessions/s, p50 "
          f"{alone['latency_ms']['p50']} ms, errors {sum(alone['errors'].values())} | with Redis: "
          f"{shared['answers_per_sec']:.0f} sessions/s ({ratio:.2f}x), p50 {shared['latency_ms']['p50']} ms, "
          f"errors {sum(shared['errors'].values())}")
except FileNotFoundError:
    pass
