#!/usr/bin/env bash
# Installs the system packages the project builds and tests with (Debian/Ubuntu), when they
# are missing. Needs root (or sudo). The Rust toolchain itself comes from rustup, not apt:
# Debian 12's rustc is too old for edition 2024.
set -euo pipefail
PKGS=(tshark libwireshark-dev libglib2.0-dev libclang-dev pkg-config gcc libc6-dev util-linux tcpdump binutils)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "packages: installing ${missing[*]}" >&2
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v cargo >/dev/null || {
  echo "packages: cargo not found: install Rust >= 1.85 with rustup (https://rustup.rs)" >&2
  exit 1
}
