#!/usr/bin/env bash
# Times tshark on one 100,000-message capture with the kasa plugin, with the built-in
# tplink-smarthome dissector, and with neither; in summary, -T fields and -V modes.
# Runs are interleaved (plugin, built-in, neither, plugin, ...), medians printed, then ratios.
#
#   benches/tshark/compare.sh [RUNS]        (default 3 runs per cell)
#
# As root, tshark runs as uid 65534 (it ignores WIRESHARK_PLUGIN_DIR for root). Plugin-free
# conditions point WIRESHARK_PLUGIN_DIR at an empty tree, so no system plugin is loaded either.
set -euo pipefail
RUNS=${1:-3}
cd "$(dirname "$0")/../.."
cargo build --release --lib -p kasa-dissector >&2
cargo build --release -p kasa-fixturegen >&2

WS_VER=$(pkg-config --modversion wireshark | cut -d. -f1,2)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/with/$WS_VER/epan" "$T/empty/$WS_VER/epan" "$T/home"
cp target/release/libkasa_dissector.so "$T/with/$WS_VER/epan/kasa.so"
./target/release/kasa-fixturegen --bench "$T/bench.pcap" 1000 50 >&2
chmod -R a+rX "$T"

RUN=()
if [ "$(id -u)" = 0 ]; then
  chown 65534 "$T/home"
  RUN=(setpriv --reuid=65534 --regid=65534 --clear-groups)
fi

# condition -> plugin dir and extra tshark options
declare -A DIR=([plugin]="$T/with" [builtin]="$T/empty" [neither]="$T/empty")
declare -A OPT=([plugin]="--disable-protocol tplink-smarthome" [builtin]="" [neither]="--disable-protocol tplink-smarthome")
declare -A MODE=([summary]="" [fields]="-T fields -e frame.number -e json.key" [verbose]="-V")

# Sanity: each condition decodes what it should.
for c in plugin builtin neither; do
  n=$("${RUN[@]}" env WIRESHARK_PLUGIN_DIR="${DIR[$c]}" HOME="$T/home" tshark ${OPT[$c]} -r "$T/bench.pcap" -Y json -T fields -e frame.number | wc -l)
  echo "$c: $n frames with JSON" >&2
done

time_one() { # condition mode
  local s e
  s=$(date +%s.%N)
  "${RUN[@]}" env WIRESHARK_PLUGIN_DIR="${DIR[$1]}" HOME="$T/home" tshark ${OPT[$1]} -r "$T/bench.pcap" ${MODE[$2]} > /dev/null
  e=$(date +%s.%N)
  echo "$e - $s" | bc
}

declare -A TIMES
for mode in summary fields verbose; do
  for ((i = 0; i < RUNS; i++)); do
    for c in plugin builtin neither; do
      TIMES[$c.$mode]+="$(time_one $c $mode) "
    done
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

printf '%-8s %10s %10s %10s %16s %16s\n' mode plugin built-in neither plugin/built-in plugin/neither
for mode in summary fields verbose; do
  p=$(echo "${TIMES[plugin.$mode]}" | median)
  b=$(echo "${TIMES[builtin.$mode]}" | median)
  n=$(echo "${TIMES[neither.$mode]}" | median)
  printf '%-8s %9.2fs %9.2fs %9.2fs %16.2f %16.2f\n' "$mode" "$p" "$b" "$n" "$(echo "$p / $b" | bc -l)" "$(echo "$p / $n" | bc -l)"
done
echo "($RUNS interleaved runs per cell, medians; tshark $(tshark --version 2>/dev/null | head -1 | awk '{print $3}'), 100,000 messages)"
