#!/usr/bin/env bash
# Kernel-side cost per HTTP request, program by program: nginx + wrk (as in http_wrk.sh)
# with the agent, kernel.bpf_stats_enabled=1 for the run, `bpftool prog show` before and
# after. Usage: sudo bench/bpf_prog_cost.sh [seconds=10]
# A/B two builds in the same minutes: TELEGEN=/path/to/old/telegen bench/bpf_prog_cost.sh
source "$(dirname "$0")/lib.sh"
SECS=${1:-10}
command -v bpftool >/dev/null || { echo "needs bpftool" >&2; exit 1; }
start_nginx 18088
start_agent
was=$(sysctl -n kernel.bpf_stats_enabled)
sysctl -qw kernel.bpf_stats_enabled=1
bpftool -j prog show > "$WORK/p0.json"
out=$(taskset -c 1 wrk -t1 -c2 -d"${SECS}s" http://127.0.0.1:18088/ 2>&1)
bpftool -j prog show > "$WORK/p1.json"
sysctl -qw kernel.bpf_stats_enabled="$was"
req=$(awk '/requests in/ {print $1}' <<<"$out")
echo "requests: $req"
python3 - "$WORK/p0.json" "$WORK/p1.json" "$req" <<'PY'
import json, sys
before = {p["id"]: p for p in json.load(open(sys.argv[1]))}
after, req = json.load(open(sys.argv[2])), int(sys.argv[3])
rows = []
for p in after:
    if not p.get("name", "").startswith("tg_"):
        continue
    p0 = before.get(p["id"], {})
    n = p.get("run_cnt", 0) - p0.get("run_cnt", 0)
    t = p.get("run_time_ns", 0) - p0.get("run_time_ns", 0)
    if n:
        rows.append((t, n, p["name"]))
print("| program | runs per request | ns per run | ns per request |")
print("|---|---|---|---|")
for t, n, name in sorted(rows, reverse=True):
    print(f"| {name} | {n / req:.2f} | {t / n:.0f} | {t / req:.0f} |")
print(f"| total | | | {sum(r[0] for r in rows) / req:.0f} |")
PY
stop_agent
