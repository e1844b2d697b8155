#!/usr/bin/env bash
# gRPC load (issue 6): a tonic health server and a tonic client doing unary Check calls on
# 127.0.0.1, without and with the agent (default configuration), interleaved, repeated.
# The load, the agent start/stop (by PID) and the measurements are in bench/grpc_load.rs.
# Usage: sudo bench/grpc_load.sh [seconds=15] [repeats=3] [concurrency=32] [connections=2]
#        [agent mode: metrics (default config) | json (--json, stdout to /dev/null)]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
[ "$(id -u)" -eq 0 ] || { echo "benchmarks load kernel programs: run as root" >&2; exit 1; }
cargo build --release -p telegen --bin telegen --example grpc_load >&2
TELEGEN_BIN=${TELEGEN:-$ROOT/target/release/telegen} \
  exec "$ROOT/target/release/examples/grpc_load" "${1:-15}" "${2:-3}" "${3:-32}" "${4:-2}" "${5:-metrics}"
