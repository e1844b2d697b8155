#!/usr/bin/env bash
# `telegen replay` against tshark on the same large capture, extracting the same fields
# (HTTP method/URI/status/host/lengths; DNS name/type/rcode/answers), in the same run.
# The capture is generated deterministically (crates/telegen/examples/gen_pcap.rs).
# Usage: bench/replay_vs_tshark.sh [MB=500] [repeats=2]   (tshark: apt-get install tshark)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MB=${1:-500}; REPS=${2:-2}
WORK=$(mktemp -d /tmp/telegen-replay-bench.XXXXXX); trap 'rm -rf "$WORK"' EXIT
command -v tshark >/dev/null || { echo "tshark missing: apt-get install tshark" >&2; exit 1; }
cd "$ROOT"
cargo build --release -q -p telegen --example gen_pcap
cargo build --release -q -p telegen
./target/release/examples/gen_pcap "$WORK/big.pcap" "$MB" >/dev/null
size=$(stat -c %s "$WORK/big.pcap")
echo "capture: $((size / 1000000)) MB, $(tcpdump -r "$WORK/big.pcap" 2>/dev/null | wc -l) packets"
echo "| run | tool | wall s | MB/s | peak RSS MB | records |"
echo "|---|---|---|---|---|---|"
for r in $(seq "$REPS"); do
  /usr/bin/time -f "%e %M" -o "$WORK/t" ./target/release/telegen replay --no-progress "$WORK/big.pcap" > "$WORK/out.json" 2>/dev/null
  read -r wall rss < "$WORK/t"
  echo "| $r | telegen replay | $wall | $(awk -v s="$size" -v w="$wall" 'BEGIN{printf "%.0f", s/1e6/w}') | $(awk -v k="$rss" 'BEGIN{printf "%.0f", k/1024}') | $(wc -l < "$WORK/out.json") |"
  /usr/bin/time -f "%e %M" -o "$WORK/t" tshark -r "$WORK/big.pcap" -Y "http or dns" -T json \
    -e http.request.method -e http.request.uri -e http.response.code -e http.host \
    -e http.content_length -e dns.qry.name -e dns.qry.type -e dns.flags.rcode -e dns.a > "$WORK/ts.json" 2>/dev/null
  read -r wall rss < "$WORK/t"
  echo "| $r | tshark 4.0 -T json | $wall | $(awk -v s="$size" -v w="$wall" 'BEGIN{printf "%.0f", s/1e6/w}') | $(awk -v k="$rss" 'BEGIN{printf "%.0f", k/1024}') | $(grep -c '"_index"' "$WORK/ts.json") |"
done
