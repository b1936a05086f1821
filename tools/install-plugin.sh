#!/usr/bin/env bash
# Builds the plugin (release) and installs it for the Wireshark found by pkg-config:
#   user:  ~/.local/lib/wireshark/plugins/<major.minor>/epan/kasa.so
#   root:  $(pkg-config --variable=plugindir wireshark)/epan/kasa.so
#          (tshark ignores the personal folder when run as root)
# Usage: tools/install-plugin.sh [--print-path]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v pkg-config >/dev/null && pkg-config --exists wireshark || {
  echo "install-plugin: Wireshark development files not found; on Debian/Ubuntu:" >&2
  echo "  sudo apt-get install libwireshark-dev libglib2.0-dev libclang-dev pkg-config" >&2
  exit 1
}
VER=$(pkg-config --modversion wireshark | cut -d. -f1,2)
if [ "$(id -u)" = 0 ]; then
  DEST="$(pkg-config --variable=plugindir wireshark)/epan"
else
  DEST="$HOME/.local/lib/wireshark/plugins/$VER/epan"
fi
if [ "${1:-}" = --print-path ]; then
  echo "$DEST/kasa.so"
  exit 0
fi
cargo build --release --lib
mkdir -p "$DEST"
install -m 0644 target/release/libkasa_dissector.so "$DEST/kasa.so"
echo "installed $DEST/kasa.so for Wireshark $VER"
if command -v tshark >/dev/null; then
  tshark -G plugins 2>/dev/null | grep -F kasa.so || echo "warning: tshark -G plugins does not list kasa.so" >&2
fi
