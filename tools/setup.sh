#!/usr/bin/env bash
# One command from a fresh clone to a decoded capture: installs the system packages, builds the
# decoder, the CLI and the plugin, installs the plugin for the detected Wireshark, and decodes a
# bundled recorded capture with kasa-decode and with tshark.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/packages.sh
cargo build --release -p kasa-decode
tools/install-plugin.sh
CAPTURE=fixtures/recorded/hs110-kasa.pcapng
echo
echo "== kasa-decode $CAPTURE"
target/release/kasa-decode "$CAPTURE" | cut -c1-200
echo
echo "== tshark -r $CAPTURE -Y kasa"
tshark -r "$CAPTURE" -Y kasa 2>/dev/null | cut -c1-200
