#!/usr/bin/env bash
# Builds telegen as the calling user and runs `telegen run` with root rights (directly
# when already root, else through sudo). Arguments go to `telegen run`, e.g.
# `scripts/run.sh --json` or `scripts/run.sh --config agent.yaml`.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin telegen
bin="$(pwd)/target/release/telegen"
if [ "$(id -u)" -eq 0 ]; then
  exec "$bin" run "$@"
fi
command -v sudo >/dev/null || { echo "telegen run needs root (loading kernel programs) and there is no sudo: run $bin run as root" >&2; exit 1; }
exec sudo "$bin" run "$@"
