#!/usr/bin/env bash
# valgrind memcheck of tshark with the plugin over captures, and a per-packet leak check.
#
#   tests/fuzz/valgrind.sh [CAPTURE...]      (default: every fixtures/**/*.pcap*)
#
# 1. memcheck: `tshark -2 -nVxr` under valgrind (two passes, full tree, hex) for each capture.
#    Fails on any error (invalid read/write, uninitialised value, bad free, definite leak) whose
#    stack passes through the plugin (kasa.so, kasa_dissector, kasa_decoder). Errors elsewhere
#    (libwireshark, glib) are counted and listed but do not fail; known ones are suppressed by
#    tests/fuzz/valgrind.supp.
# 2. leaks per packet: two captures read at 1x and 2x length: TCP, the benchmark capture of
#    `kasa-fixturegen --bench` with 20 and 40 connections of 5 exchanges (200 and 400
#    messages); UDP, the discovery fixture once and twice (mergecap -a; a TCP capture cannot be
#    doubled so, tshark takes the copy for retransmissions). The bytes definitely lost through
#    the plugin must be equal for 1x and 2x (a leak per packet or message would double); tshark's
#    own totals and allocation counts are reported beside them.
#
# Env: JOBS (default: CPUs). Builds the plugin (release, with line tables) in target/valgrind.
# Logs stay in target/valgrind/logs.
set -euo pipefail
cd "$(dirname "$0")/../.."
JOBS=${JOBS:-$(nproc)}
ROOT=$PWD
CARGO_PROFILE_RELEASE_DEBUG=line-tables-only cargo build --release --lib --quiet --target-dir target/valgrind
VER=$(pkg-config --modversion wireshark | cut -d. -f1,2)
LOGS=$ROOT/target/valgrind/logs
rm -rf "$LOGS" && mkdir -p "$LOGS"
WORK=$(mktemp -d /tmp/kasa-valgrind.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/plugins/$VER/epan" "$WORK/home" "$WORK/in"
cp target/valgrind/release/libkasa_dissector.so "$WORK/plugins/$VER/epan/kasa.so"
if [ $# -gt 0 ]; then FILES=("$@"); else
  mapfile -t FILES < <(find fixtures -name '*.pcap' -o -name '*.pcapng' | grep -v node_modules | sort)
fi
cargo run --release --quiet -p kasa-fixturegen -- --bench "$WORK/in/1x-bench_tcp.pcap" 20 5 >/dev/null
cargo run --release --quiet -p kasa-fixturegen -- --bench "$WORK/in/2x-bench_tcp.pcap" 40 5 >/dev/null
UDP=fixtures/synthetic/udp_discovery_multi.pcap
cp "$UDP" "$WORK/in/1x-udp_discovery.pcap"
mergecap -a -F pcap -w "$WORK/in/2x-udp_discovery.pcap" "$UDP" "$UDP"
LEAK_PAIRS="bench_tcp.pcap udp_discovery.pcap"
chmod -R a+rwX "$WORK" "$LOGS"
RUN_AS=""
[ "$(id -u)" = 0 ] && RUN_AS="setpriv --reuid=65534 --regid=65534 --clear-groups" && chown -R 65534 "$WORK/home" "$LOGS"
export WORK LOGS RUN_AS ROOT

# Runs one capture under memcheck; the log is $LOGS/<name>.log.
vg() {
  local in=$1 name
  name=$(basename "$in")
  [ -e "$in" ] || in="$ROOT/$in"
  # shellcheck disable=SC2086
  $RUN_AS env WIRESHARK_PLUGIN_DIR="$WORK/plugins" HOME="$WORK/home" G_SLICE=always-malloc \
    valgrind --tool=memcheck --keep-debuginfo=yes --num-callers=40 \
    --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite \
    --suppressions="$ROOT/tests/fuzz/valgrind.supp" --log-file="$LOGS/$(echo "$name" | tr / _).log" \
    tshark --disable-protocol tplink-smarthome -o tcp.reassemble_out_of_order:TRUE \
    --enable-heuristic kasa_tcp --enable-heuristic kasa_udp \
    -o 'uat:kasa_credentials:"user@example.com","secret"' -2 -nVxr "$in" >/dev/null 2>&1 || true
}
export -f vg

# Error blocks of a log (separated by "==pid== " lines), one per line with frames joined.
blocks() {
  awk '/^==[0-9]+== $/ { if (b != "") print b; b = ""; next }
       /^==[0-9]+== / { sub(/^==[0-9]+== +/, ""); b = b " | " $0 }
       END { if (b != "") print b }' "$1" |
    grep -E 'Invalid (read|write|free)|uninitialised|Conditional jump|Mismatched|Syscall param|overlap|definitely lost in loss record' || true
}
plugin_bytes() { # definitely lost bytes (direct) whose stack passes through the plugin
  blocks "$1" | { grep 'kasa' || true; } | sed -nE 's/^ \| ([0-9,]+) (bytes|\().*/\1/p' | tr -d , |
    awk '{ s += $1 } END { print s + 0 }'
}
lost() { # "definitely lost" total of a log, or 0
  { grep -oE 'definitely lost: [0-9,]+ bytes' "$1" || echo 0; } | grep -oE '[0-9,]+' | tr -d , | head -1
}

start=$(date +%s)
echo "valgrind: ${#FILES[@]} captures + 2 leak pairs, $JOBS jobs ($(valgrind --version))"
{ printf '%s\n' "${FILES[@]}"; ls "$WORK"/in/*; } | xargs -P "$JOBS" -I{} bash -c 'vg {}'

status=0
total_errors=0
for log in "$LOGS"/*.log; do
  errs=$(blocks "$log" | wc -l)
  total_errors=$((total_errors + errs))
  ours=$(blocks "$log" | grep -c 'kasa' || true)
  summary=$(grep -oE 'ERROR SUMMARY: [0-9]+ errors' "$log" || echo "no summary (valgrind died?)")
  if [ "$ours" -gt 0 ]; then
    status=1
    echo "FAIL $(basename "$log" .log): $ours error(s) through the plugin:"
    blocks "$log" | grep 'kasa' | cut -c1-600 | sed 's/^/  /'
  elif ! grep -q 'ERROR SUMMARY' "$log"; then
    status=1
    echo "FAIL $(basename "$log" .log): $summary"
  elif [ "$errs" -gt 0 ]; then
    echo "note $(basename "$log" .log): $errs unsuppressed error(s) outside the plugin ($summary)"
  fi
done
echo "valgrind: $(ls "$LOGS"/*.log | wc -l) runs, $total_errors unsuppressed errors, none through the plugin: $([ $status = 0 ] && echo yes || echo NO)"

for n in $LEAK_PAIRS; do
  f=$n
  one="$LOGS/1x-$n.log" two="$LOGS/2x-$n.log"
  p1=$(plugin_bytes "$one") p2=$(plugin_bytes "$two")
  t1=$(lost "$one") t2=$(lost "$two")
  f1=$({ grep -oE 'total heap usage: [0-9,]+ allocs' "$one" || echo 0; } | grep -oE '[0-9,]+' | tr -d , | head -1)
  f2=$({ grep -oE 'total heap usage: [0-9,]+ allocs' "$two" || echo 0; } | grep -oE '[0-9,]+' | tr -d , | head -1)
  echo "leak $f: definitely lost through the plugin ${p1:-0} B (1x) / ${p2:-0} B (2x); all of tshark ${t1:-?} / ${t2:-?} B; allocations $f1 / $f2"
  [ "${p1:-0}" = "${p2:-0}" ] || { status=1; echo "FAIL: the plugin's definite loss grows with the capture"; }
done
echo "valgrind: $(($(date +%s) - start)) s"
exit $status
