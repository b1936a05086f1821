#!/usr/bin/env bash
# Builds the release artifact of the plugin for the Wireshark that pkg-config finds (set
# PKG_CONFIG_PATH to pick another one) and names it
#
#   kasa-<crate version>-wireshark-<major.minor>-<os>-<arch>.so
#   e.g. kasa-0.1.0-wireshark-4.0-linux-x86_64.so
#
# The artifact is built with KASA_NO_LINK=1: no DT_NEEDED on libwireshark.so.N, so the epan
# symbols resolve from the Wireshark that loads it. Put into another minor's Wireshark, it is
# then refused with Wireshark's own "The plugin 'kasa.so' was compiled for Wireshark version
# 4.N" instead of a dlopen error about a missing libwireshark soname. It serves exactly the
# one major.minor in its name; install it as .../plugins/<major.minor>/epan/kasa.so.
#
# Usage: tools/package.sh [--out DIR]   (default DIR: target/package)
# Honours CARGO_TARGET_DIR. Prints the artifact's path on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=target/package
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT=$2; shift 2 ;;
    *) echo "usage: tools/package.sh [--out DIR]" >&2; exit 2 ;;
  esac
done
command -v pkg-config >/dev/null && pkg-config --exists wireshark || {
  echo "package: pkg-config finds no wireshark (install libwireshark-dev, or set PKG_CONFIG_PATH)" >&2
  exit 1
}
WS=$(pkg-config --modversion wireshark | cut -d. -f1,2)
VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
[ -n "$VERSION" ] || { echo "package: no version in Cargo.toml" >&2; exit 1; }
OS=$(uname -s | tr '[:upper:]' '[:lower:]')
ARCH=$(uname -m)
TARGET=${CARGO_TARGET_DIR:-target}

KASA_NO_LINK=1 cargo build --release --locked --lib >&2
SO="$TARGET/release/libkasa_dissector.so"
NAME="kasa-$VERSION-wireshark-$WS-$OS-$ARCH.so"
mkdir -p "$OUT"
cp "$SO" "$OUT/$NAME"
if command -v strip >/dev/null; then strip --strip-unneeded "$OUT/$NAME"; fi

# The loader needs these four data/function symbols (plus plugin_describe from 4.4 on).
if command -v nm >/dev/null; then
  for s in plugin_version plugin_want_major plugin_want_minor plugin_register plugin_describe; do
    nm -D --defined-only "$OUT/$NAME" | grep -qw "$s" || { echo "package: $NAME lacks $s" >&2; exit 1; }
  done
fi
if command -v readelf >/dev/null && readelf -d "$OUT/$NAME" | grep -q 'NEEDED.*libwireshark'; then
  echo "package: $NAME still links libwireshark (KASA_NO_LINK ignored?)" >&2
  exit 1
fi
echo "$OUT/$NAME"
