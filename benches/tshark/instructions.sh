#!/usr/bin/env bash
# Instructions, not seconds: tshark with the kasa plugin against tshark with the built-in
# tplink-smarthome dissector, counted by valgrind (callgrind) on a 4,000-message capture
# (kasa-fixturegen --bench 40 50). A count does not move with the load of a shared machine, so
# this is the check to trust when compare.sh's times wander; it counts work, not cache misses
# or memory stalls, so it complements the timed ratios rather than replacing them.
#
# For each mode (summary, -T fields, -V) and condition it runs tshark twice: on the whole
# capture and with -c 1 (start-up and the first frame), and reports the difference, the cost of
# the other 4,239 frames, and the ratio plugin / built-in of those differences.
#
#   benches/tshark/instructions.sh          (about ten minutes on the 2-core machine)
#
# Conditions as in compare.sh (staged by stage.sh): the plugin with the built-in disabled; the
# built-in with no plugin.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v valgrind > /dev/null || { echo "instructions.sh needs valgrind" >&2; exit 1; }
# shellcheck source=benches/tshark/stage.sh
. benches/tshark/stage.sh small.pcap 40 50
declare -A DIR=([plugin]="$T/with" [builtin]="$T/empty")
declare -A OPT=([plugin]="--disable-protocol tplink-smarthome" [builtin]="")
declare -A FIELD=([plugin]=kasa.method [builtin]=tplink_smarthome.msg)

count() { # condition, tshark arguments... ; prints the instructions executed
  local c=$1
  shift
  # shellcheck disable=SC2086
  "${RUN[@]}" env WIRESHARK_PLUGIN_DIR="${DIR[$c]}" HOME="$T/home" \
    valgrind --tool=callgrind --callgrind-out-file=/dev/null \
    tshark ${OPT[$c]} -r "$T/small.pcap" "$@" 2>&1 > /dev/null |
    sed -n 's/.*refs: *//p' | tr -d ,
}

printf '%-8s %16s %16s %16s\n' mode plugin built-in plugin/built-in
for mode in summary fields verbose; do
  declare -A N=()
  for c in plugin builtin; do
    # shellcheck disable=SC2046
    whole=$(count $c $(mode_args $c $mode))
    # shellcheck disable=SC2046
    first=$(count $c $(mode_args $c $mode) -c 1)
    [ -n "$whole" ] && [ -n "$first" ] || { echo "valgrind printed no count" >&2; exit 1; }
    N[$c]=$((whole - first))
  done
  printf '%-8s %16d %16d %16.2f\n' "$mode" "${N[plugin]}" "${N[builtin]}" \
    "$(echo "${N[plugin]} / ${N[builtin]}" | bc -l)"
done
echo "(instructions for frames 2-4240 of a 4,000-message capture; tshark $(tshark --version 2>/dev/null | head -1 | awk '{print $3}'))"
