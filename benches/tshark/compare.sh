#!/usr/bin/env bash
# Times, on one 100,000-message capture (kasa-fixturegen --bench 1000 50, 40 MB):
#   * tshark with the kasa plugin, with the built-in tplink-smarthome dissector, and with
#     neither, in three modes:
#       summary   the default one-line-per-frame output
#       fields    -T fields -e kasa.method   (built-in: -e tplink_smarthome.msg;
#                                             neither: -e frame.number)
#       verbose   -V
#   * kasa-decode --json against tshark -T fields -e kasa.method with the plugin.
# Runs are interleaved (plugin, built-in, neither, plugin, ...; kasa-decode, tshark, ...), the
# medians printed, then the ratios. Before timing, each condition is checked to decode what it
# should: 100,000 messages from the plugin, the built-in and kasa-decode, none from neither.
#
#   benches/tshark/compare.sh [RUNS]        (default 3 runs per cell)
#
# As root, tshark runs as uid 65534 (it ignores WIRESHARK_PLUGIN_DIR for root). Plugin-free
# conditions point WIRESHARK_PLUGIN_DIR at an empty tree, so no system plugin is loaded either.
set -euo pipefail
RUNS=${1:-3}
cd "$(dirname "$0")/../.."
cargo build --release -p kasa-decode >&2
# shellcheck source=benches/tshark/stage.sh
. benches/tshark/stage.sh bench.pcap 1000 50
MESSAGES=100000

# condition -> plugin dir and extra tshark options
declare -A DIR=([plugin]="$T/with" [builtin]="$T/empty" [neither]="$T/empty")
declare -A OPT=([plugin]="--disable-protocol tplink-smarthome" [builtin]="" [neither]="--disable-protocol tplink-smarthome")
declare -A FIELD=([plugin]=kasa.method [builtin]=tplink_smarthome.msg [neither]=frame.number)

tshark_c() { # condition, tshark arguments...
  local c=$1
  shift
  "${RUN[@]}" env WIRESHARK_PLUGIN_DIR="${DIR[$c]}" HOME="$T/home" tshark ${OPT[$c]} -r "$T/bench.pcap" "$@"
}

# Sanity: each condition decodes what it should, with all of the plugin's fields present.
n=$(tshark_c plugin -T fields -e kasa.method | grep -c 'system.get_sysinfo' || true)
echo "plugin: $n frames with kasa.method" >&2
[ "$n" = "$MESSAGES" ] || { echo "expected $MESSAGES" >&2; exit 1; }
n=$(tshark_c builtin -T fields -e tplink_smarthome.msg | grep -c 'get_sysinfo' || true)
echo "built-in: $n frames with tplink_smarthome.msg" >&2
[ "$n" = "$MESSAGES" ] || { echo "expected $MESSAGES" >&2; exit 1; }
n=$(tshark_c neither -Y 'kasa || tplink-smarthome' 2>/dev/null | wc -l || true)
echo "neither: $n frames of either protocol" >&2
# -V with the plugin: the Kasa layer with its fields and the JSON tree, on a response.
v=$(tshark_c plugin -V -c 5)
for want in 'TP-Link Kasa' 'Method: system.get_sysinfo' 'Model: HS110' 'Request in frame: 4' 'JavaScript Object Notation' 'Key: alias'; do
  grep -q "$want" <<<"$v" || { echo "plugin -V lacks \"$want\"" >&2; exit 1; }
done
n=$(./target/release/kasa-decode --json "$T/bench.pcap" | grep -c '"type":"message"' || true)
echo "kasa-decode: $n messages" >&2
[ "$n" = "$MESSAGES" ] || { echo "expected $MESSAGES" >&2; exit 1; }

elapsed() { # command... ; prints seconds
  local s e
  s=$(date +%s.%N)
  "$@" > /dev/null
  e=$(date +%s.%N)
  echo "$e - $s" | bc
}

declare -A TIMES
for mode in summary fields verbose; do
  for ((i = 0; i < RUNS; i++)); do
    for c in plugin builtin neither; do
      # shellcheck disable=SC2046
      TIMES[$c.$mode]+="$(elapsed tshark_c $c $(mode_args $c $mode)) "
    done
  done
done
for ((i = 0; i < RUNS; i++)); do
  TIMES[decode]+="$(elapsed ./target/release/kasa-decode --json "$T/bench.pcap") "
  TIMES[tshark_fields]+="$(elapsed tshark_c plugin -T fields -e kasa.method) "
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

printf '%-8s %10s %10s %10s %16s %16s\n' mode plugin built-in neither plugin/built-in plugin/neither
for mode in summary fields verbose; do
  p=$(echo "${TIMES[plugin.$mode]}" | median)
  b=$(echo "${TIMES[builtin.$mode]}" | median)
  n=$(echo "${TIMES[neither.$mode]}" | median)
  printf '%-8s %9.2fs %9.2fs %9.2fs %16.2f %16.2f\n' "$mode" "$p" "$b" "$n" "$(echo "$p / $b" | bc -l)" "$(echo "$p / $n" | bc -l)"
done
d=$(echo "${TIMES[decode]}" | median)
f=$(echo "${TIMES[tshark_fields]}" | median)
printf 'kasa-decode --json %.3fs, tshark -T fields -e kasa.method with the plugin %.2fs: kasa-decode %.1fx faster\n' "$d" "$f" "$(echo "$f / $d" | bc -l)"
echo "($RUNS interleaved runs per cell, medians; tshark $(tshark --version 2>/dev/null | head -1 | awk '{print $3}'), $MESSAGES messages)"
