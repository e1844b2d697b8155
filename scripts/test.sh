#!/usr/bin/env bash
# The whole test suite. Run as root: the end-to-end tests load kernel programs, create
# network namespaces and start real servers; without root they fail and say so.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo test --workspace --release "$@"
