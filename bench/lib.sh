# Shared helpers for the benchmark scripts (sourced). Root only; loopback only.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TELEGEN=${TELEGEN:-$ROOT/target/release/telegen}
TICK=$(getconf CLK_TCK)
WORK=$(mktemp -d /tmp/telegen-bench.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

[ "$(id -u)" -eq 0 ] || { echo "benchmarks load kernel programs: run as root" >&2; exit 1; }
[ -x "$TELEGEN" ] || (cd "$ROOT" && cargo build --release -p telegen >/dev/null)

# cpu_ticks PID: user+system clock ticks of a process so far.
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
# hwm_mb PID: peak resident set size in MB.
hwm_mb() { awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
# rss_watch PID: samples the resident set every 250 ms in the background (start it once
# the agent is up); rss_max stops the sampler and prints the largest sample in MB.
rss_watch() {
  ( m=0; while kill -0 "$1" 2>/dev/null; do
      v=$(awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || true)
      if [ "${v:-0}" -gt "$m" ]; then m=$v; echo "$m" > "$WORK/rss.max"; fi
      sleep 0.25
    done ) &
  RSS_WATCH=$!; PIDS+=("$RSS_WATCH")
}
rss_max() {
  kill "$RSS_WATCH" 2>/dev/null || true; wait "$RSS_WATCH" 2>/dev/null || true
  awk '{printf "%.1f", $1/1024}' "$WORK/rss.max" 2>/dev/null || echo "-"; rm -f "$WORK/rss.max"
}

# start_agent [extra yaml under agent:] -> sets AGENT_PID, AGENT_METRICS. AGENT_WRAP runs
# the agent under a wrapper command (e.g. "nice -n 10", "chrt --idle 0").
start_agent() {
  local port=19464
  printf 'agent:\n  exporters:\n    prometheus:\n      listen: 127.0.0.1:%s\n%s' "$port" "${1:-}" > "$WORK/agent.yaml"
  ${AGENT_WRAP:-} "$TELEGEN" run --config "$WORK/agent.yaml" > /dev/null 2> "$WORK/agent.log" &
  AGENT_PID=$!
  PIDS+=("$AGENT_PID")
  AGENT_METRICS="http://127.0.0.1:$port/metrics"
  for _ in $(seq 100); do curl -sf "$AGENT_METRICS" > /dev/null && return 0; sleep 0.1; done
  echo "agent did not start:" >&2; cat "$WORK/agent.log" >&2; exit 1
}
stop_agent() { kill -TERM "$AGENT_PID"; wait "$AGENT_PID" || true; }
# metric_sum PREFIX: sum of the agent's samples whose line starts with PREFIX.
metric_sum() { curl -s "$AGENT_METRICS" | awk -v p="$1" 'index($0, p) == 1 {s += $NF} END {printf "%.0f", s}'; }
# start_nginx PORT: nginx (1 worker, keep-alive, `return 200 "hello"`) on 127.0.0.1:PORT.
start_nginx() {
  mkdir -p "$WORK/nginx/logs"
  cat > "$WORK/nginx/nginx.conf" <<CONF
daemon off; worker_processes 1; pid $WORK/nginx/nginx.pid; error_log $WORK/nginx/logs/error.log;
events { worker_connections 1024; }
http { access_log off; keepalive_requests 100000;
  server { listen 127.0.0.1:$1; location / { return 200 "hello\n"; } } }
CONF
  /usr/sbin/nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" & PIDS+=($!)
  sleep 0.5
}
