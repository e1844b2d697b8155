#!/usr/bin/env bash
# dnsperf at a fixed rate against dnsmasq on loopback (port 5353, one of the default DNS
# ports), with the agent running: queries sent vs queries the agent counted, agent CPU
# and RSS. Usage: sudo bench/dns_load.sh [qps=20000] [seconds=30]
source "$(dirname "$0")/lib.sh"
QPS=${1:-20000}; SECS=${2:-30}
command -v dnsperf >/dev/null || apt-get install -y -qq dnsperf >/dev/null
dnsmasq --no-daemon --conf-file=/dev/null --no-resolv --no-hosts --bind-interfaces \
  --listen-address=127.0.0.1 --port=5353 --user=root --local=/bench.test/ \
  --address=/bench.test/10.7.7.7 --cache-size=0 --dns-forward-max=10000 2>/dev/null & PIDS+=($!)
for i in $(seq 1000); do echo "h$i.bench.test A"; done > "$WORK/queries"
sleep 0.5
start_agent
rss_watch "$AGENT_PID"
a0=$(cpu_ticks "$AGENT_PID")
out=$(taskset -c 1 dnsperf -s 127.0.0.1 -p 5353 -d "$WORK/queries" -Q "$QPS" -l "$SECS" -c 4 2>&1)
a1=$(cpu_ticks "$AGENT_PID")
sleep 7   # the timeout (5 s) passes for anything unanswered
sent=$(awk '/Queries sent/ {print $3}' <<<"$out"); done_=$(awk '/Queries completed/ {print $3}' <<<"$out")
counted=$(metric_sum 'telegen_dns_queries_total{'); timeouts=$(metric_sum 'telegen_dns_queries_total{domain="_other",query_type="A",response_code="TIMEOUT"}')
drops=$(metric_sum 'telegen_events_dropped_total{source="kernel",reason="payload_')
cpu=$(awk -v a="$a0" -v b="$a1" -v t="$TICK" -v s="$SECS" 'BEGIN{printf "%.1f", (b-a)/t/s*100}')
echo "| target qps | seconds | sent | completed | agent counted | kernel payload drops | agent CPU % of one core | agent RSS MB, max during the load (start-up peak) |"
echo "|---|---|---|---|---|---|---|---|"
echo "| $QPS | $SECS | $sent | $done_ | $counted | $drops | $cpu | $(rss_max) ($(hwm_mb "$AGENT_PID")) |"
stop_agent
