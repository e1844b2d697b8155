#!/usr/bin/env bash
# Installs what the test suite needs on a Debian machine, as root: the system packages
# (only those missing, so a warm machine is fast), and the kernel filesystems the agent
# and the tests use. scripts/test.sh and .ci/run both call it.
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
  echo "install-test-deps.sh must run as root (scripts/test.sh re-runs itself with sudo)" >&2
  exit 1
fi
pkgs=(clang llvm bpftool libbpf-dev iproute2 nftables tcpdump nginx-light dnsmasq-base
      prometheus curl dnsutils wrk python3-venv)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections || true
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf || true
mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing || true
