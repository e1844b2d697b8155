#!/usr/bin/env bash
# The whole test suite. Run as root: the end-to-end tests load kernel programs, create
# network namespaces and start real servers (nginx, dnsmasq, Prometheus, Python gRPC);
# without root they fail and say so. System packages come from .ci/run (Debian); the
# Python clients and servers are installed here, into a private venv under target/.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${TELEGEN_PYTHON:-}" ] && [ -f tests/requirements.txt ]; then
  venv="$(pwd)/target/ci-venv"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r tests/requirements.txt
  export TELEGEN_PYTHON="$venv/bin/python"
fi
exec cargo test --workspace --release "$@"
