#!/usr/bin/env bash
# wrk against nginx on loopback (keep-alive, 2 connections, small responses), without and
# with the agent (TCP + HTTP tracing, default settings), interleaved, repeated.
# Usage: sudo bench/http_wrk.sh [seconds=20] [repeats=3]
# AGENT_YAML: extra configuration under `agent:` (e.g. a smaller ring_buffer_size).
source "$(dirname "$0")/lib.sh"
SECS=${1:-20}; REPS=${2:-3}
start_nginx 18088
echo "| run | agent | requests/s | p99 latency | agent CPU % of one core | agent RSS MB, max during the load (start-up peak) | HTTP spans counted | events lost |"
echo "|---|---|---|---|---|---|---|---|"
for r in $(seq "$REPS"); do
  for mode in off on; do
    if [ $mode = on ]; then start_agent "$(printf "${AGENT_YAML:-}")"; rss_watch "$AGENT_PID"; a0=$(cpu_ticks "$AGENT_PID"); fi
    out=$(taskset -c 1 wrk -t1 -c2 -d"${SECS}s" --latency http://127.0.0.1:18088/ 2>&1)
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out"); p99=$(awk '$1=="99%" {print $2}' <<<"$out")
    if [ $mode = on ]; then
      a1=$(cpu_ticks "$AGENT_PID"); cpu=$(awk -v a="$a0" -v b="$a1" -v t="$TICK" -v s="$SECS" 'BEGIN{printf "%.1f", (b-a)/t/s*100}')
      sleep 2; spans=$(metric_sum 'http_server_requests_total{'); lost=$(metric_sum 'telegen_events_dropped_total{'); rss="$(rss_max) ($(hwm_mb "$AGENT_PID"))"; stop_agent
    else cpu=-; rss=-; spans=-; lost=-; fi
    echo "| $r | $mode | $rps | $p99 | $cpu | $rss | $spans | $lost |"
  done
done
