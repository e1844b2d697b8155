#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine too: installs the Debian packages it
# needs (scripts/install-test-deps.sh) and the Python clients and servers (a private venv
# under target/), then runs every test. The end-to-end tests load kernel programs, create
# network namespaces and start real servers, so it runs as root: as another user it
# re-runs itself through sudo, keeping this user's Rust toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null; then
    echo "scripts/test.sh needs root (the tests load kernel programs) and there is no sudo: run it as root" >&2
    exit 1
  fi
  exec sudo env PATH="$PATH" RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}" \
    CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}" "$0" "$@"
fi
./scripts/install-test-deps.sh
if [ -z "${TELEGEN_PYTHON:-}" ] && [ -f tests/requirements.txt ]; then
  venv="$(pwd)/target/ci-venv"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r tests/requirements.txt
  export TELEGEN_PYTHON="$venv/bin/python"
fi
exec cargo test --workspace --release "$@"
