#!/usr/bin/env bash
# Installs (or removes) the Kasa plugin for the installed Wireshark.
#
#   tools/install-plugin.sh [--user | --system] [--profile] [--file PATH]
#   tools/install-plugin.sh --uninstall [--user | --system]
#   tools/install-plugin.sh [--user | --system] --print-path
#
# Where:
#   --user    ~/.local/lib/wireshark/plugins/<major.minor>/epan/kasa.so
#             (with --profile: ~/.config/wireshark/profiles/Kasa, or $XDG_CONFIG_HOME/wireshark/...)
#   --system  $(pkg-config --variable=plugindir wireshark)/epan/kasa.so, or Wireshark's own
#             "Global Plugins" folder (tshark -G folders) without pkg-config
#             (with --profile: <Wireshark's global configuration folder>/profiles/Kasa)
#             DESTDIR, when set, is put in front of both (staging for a package).
#   neither   --system for root (tshark ignores the personal folder when run as root),
#             --user otherwise: what tools/setup.sh and the CI rely on.
#
# Without --file the plugin is built from this tree (cargo build --release --lib); --file
# installs a prebuilt one instead, e.g. a release artefact
# kasa-<version>-wireshark-<major.minor>-linux-<arch>.so from tools/package.sh.
#
# A Wireshark plugin loads only into the major.minor it was built for. Before installing, the
# plugin's exported plugin_want_major / plugin_want_minor are read (nm and objdump, binutils)
# and compared with the installed Wireshark's version (pkg-config wireshark, else tshark
# --version); a mismatch is refused with exit status 3 and nothing is installed.
# --uninstall removes kasa.so (and the Kasa profile, if installed) from the chosen place.
set -euo pipefail
CALLER_DIR=$(pwd)
cd "$(dirname "$0")/.."

die() {
  echo "install-plugin: $*" >&2
  exit "${EXIT:-1}"
}
usage() {
  sed -n '4,6p' "$0" | sed 's/^# *//' >&2
  exit 2
}

SCOPE=auto ACTION=install PROFILE=false FILE="" PRINT=false
while [ $# -gt 0 ]; do
  case "$1" in
    --user) SCOPE=user ;;
    --system) SCOPE=system ;;
    --uninstall) ACTION=uninstall ;;
    --profile) PROFILE=true ;;
    --file)
      [ $# -ge 2 ] || usage
      FILE=$2
      shift
      ;;
    --file=*) FILE=${1#--file=} ;;
    --print-path) PRINT=true ;;
    -h | --help) usage ;;
    *)
      echo "install-plugin: unknown argument '$1'" >&2
      usage
      ;;
  esac
  shift
done
if [ "$SCOPE" = auto ]; then
  if [ "$(id -u)" = 0 ]; then SCOPE=system; else SCOPE=user; fi
fi
if [ "$ACTION" = uninstall ] && { [ -n "$FILE" ] || $PROFILE; }; then
  die "--uninstall takes only --user or --system (it removes the plugin and the Kasa profile)"
fi

have_pc() { command -v pkg-config >/dev/null && pkg-config --exists wireshark; }
have_tshark() { command -v tshark >/dev/null; }
tshark_folder() { # the value of one line of tshark -G folders
  tshark -G folders 2>/dev/null | sed -n "s/^$1:[[:space:]]*//p" | head -1
}

# The installed Wireshark's major.minor.
if have_pc; then
  WS_FULL=$(pkg-config --modversion wireshark)
elif have_tshark; then
  WS_FULL=$(tshark --version 2>/dev/null | sed -n '1s/^TShark (Wireshark) \([0-9][0-9.]*\).*/\1/p')
else
  WS_FULL=""
fi
WS=$(echo "$WS_FULL" | cut -d. -f1,2)
if have_pc && have_tshark; then
  TSHARK_WS=$(tshark --version 2>/dev/null | sed -n '1s/^TShark (Wireshark) \([0-9]*\.[0-9]*\).*/\1/p')
  if [ -n "$TSHARK_WS" ] && [ "$TSHARK_WS" != "$WS" ]; then
    echo "install-plugin: warning: pkg-config finds Wireshark $WS_FULL, but $(command -v tshark) is $TSHARK_WS; installing for $WS" >&2
  fi
fi
case "$WS" in
  [0-9]*.[0-9]*) ;;
  *)
    if [ -z "$FILE" ] && [ "$ACTION" = install ]; then
      die "Wireshark development files not found (pkg-config wireshark); on Debian/Ubuntu:
  sudo apt-get install libwireshark-dev libglib2.0-dev libclang-dev pkg-config"
    fi
    die "no installed Wireshark found (neither pkg-config wireshark nor tshark)"
    ;;
esac

# Where the plugin and the profile go.
if [ "$SCOPE" = user ]; then
  [ -n "${HOME:-}" ] || die "HOME is not set"
  DEST="$HOME/.local/lib/wireshark/plugins/$WS/epan"
  PROFILE_DEST="${XDG_CONFIG_HOME:-$HOME/.config}/wireshark/profiles/Kasa"
else
  if have_pc; then
    PLUGINDIR=$(pkg-config --variable=plugindir wireshark)
  elif have_tshark; then
    PLUGINDIR=$(tshark_folder "Global Plugins")
  else
    PLUGINDIR=""
  fi
  [ -n "$PLUGINDIR" ] || die "cannot tell Wireshark's global plugin folder (no pkg-config wireshark, no tshark)"
  GLOBAL_CONF=""
  if have_tshark; then GLOBAL_CONF=$(tshark_folder "Global configuration"); fi
  if [ -z "$GLOBAL_CONF" ] && have_pc; then
    GLOBAL_CONF="$(pkg-config --variable=prefix wireshark)/share/wireshark"
  fi
  DEST="${DESTDIR:-}$PLUGINDIR/epan"
  PROFILE_DEST="${DESTDIR:-}$GLOBAL_CONF/profiles/Kasa"
fi

if $PRINT; then
  echo "$DEST/kasa.so"
  exit 0
fi

if [ "$ACTION" = uninstall ]; then
  removed=false
  if [ -e "$DEST/kasa.so" ]; then
    rm -f "$DEST/kasa.so"
    echo "removed $DEST/kasa.so"
    removed=true
  fi
  # Only a profile this script installed (it carries the marker file).
  if [ -e "$PROFILE_DEST/.kasa-dissector" ]; then
    rm -rf "$PROFILE_DEST"
    echo "removed profile $PROFILE_DEST"
    removed=true
  elif [ -d "$PROFILE_DEST" ]; then
    echo "install-plugin: left $PROFILE_DEST alone (not installed by this script)" >&2
  fi
  $removed || echo "install-plugin: nothing to remove for Wireshark $WS ($SCOPE): no $DEST/kasa.so"
  exit 0
fi

# The plugin: built here, or given.
if [ -n "$FILE" ]; then
  case "$FILE" in /*) ;; *) FILE="$CALLER_DIR/$FILE" ;; esac
  [ -f "$FILE" ] || die "--file $FILE: no such file"
  SO=$FILE
else
  cargo build --release --lib
  SO="${CARGO_TARGET_DIR:-target}/release/libkasa_dissector.so"
  [ -f "$SO" ] || die "the build left no $SO"
fi

# The Wireshark version the plugin was built for, from its exported data symbols.
command -v nm >/dev/null && command -v objdump >/dev/null && command -v readelf >/dev/null ||
  die "nm, objdump and readelf (binutils) are needed to check the plugin's Wireshark version; on Debian/Ubuntu: sudo apt-get install binutils"
symbol_int() { # symbol_int FILE SYMBOL: the 32-bit value of an exported data symbol
  local file=$1 sym=$2 addr bytes endian
  addr=$(nm -D --defined-only "$file" 2>/dev/null | awk -v s="$sym" '$3 == s { print $1; exit }')
  [ -n "$addr" ] || return 1
  bytes=$(objdump -s --start-address=$((16#$addr)) --stop-address=$((16#$addr + 4)) "$file" 2>/dev/null |
    awk '/^ [0-9a-f]+ [0-9a-f]+/ { print $2; exit }')
  [ ${#bytes} = 8 ] || return 1
  endian=$(readelf -h "$file" 2>/dev/null | sed -n 's/^ *Data:.*, *\([a-z]*\) endian.*/\1/p')
  case "$endian" in
    big) echo $((16#$bytes)) ;;
    little) echo $((16#${bytes:6:2}${bytes:4:2}${bytes:2:2}${bytes:0:2})) ;;
    *) return 1 ;;
  esac
}
MAJOR=$(symbol_int "$SO" plugin_want_major) && MINOR=$(symbol_int "$SO" plugin_want_minor) ||
  die "$SO is not a Wireshark plugin (no exported plugin_want_major / plugin_want_minor)"
if [ "$MAJOR.$MINOR" != "$WS" ]; then
  EXIT=3 die "refusing to install $SO: it was built for Wireshark $MAJOR.$MINOR, but the installed Wireshark is $WS_FULL.
  Wireshark loads a plugin only into the major.minor it was built for. Rebuild it here
  (tools/install-plugin.sh without --file), or take the release artefact for Wireshark $WS
  (kasa-<version>-wireshark-$WS-<os>-<arch>.so)."
fi

mkdir -p "$DEST"
install -m 0644 "$SO" "$DEST/kasa.so"
echo "installed $DEST/kasa.so for Wireshark $WS_FULL"

if $PROFILE; then
  [ -d profile/Kasa ] || die "profile/Kasa not found in $(pwd)"
  mkdir -p "$PROFILE_DEST"
  for f in profile/Kasa/*; do
    install -m 0644 "$f" "$PROFILE_DEST/"
  done
  : >"$PROFILE_DEST/.kasa-dissector"
  echo "installed profile $PROFILE_DEST (Wireshark: Edit › Configuration Profiles › Kasa; tshark -C Kasa)"
fi

if [ -z "${DESTDIR:-}" ] && have_tshark; then
  if [ "$SCOPE" = user ] && [ "$(id -u)" = 0 ]; then
    echo "install-plugin: note: tshark run as root ignores the personal plugin folder" >&2
  elif [ "$SCOPE" = system ] && [ "$(id -u)" != 0 ]; then
    :
  else
    tshark -G plugins 2>/dev/null | grep -F kasa.so || echo "warning: tshark -G plugins does not list kasa.so" >&2
  fi
fi
