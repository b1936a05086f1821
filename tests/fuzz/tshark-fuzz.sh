#!/usr/bin/env bash
# tshark-level fuzzing of the plugin, after Wireshark's own tools/fuzz-test.sh: every capture
# under fixtures/ is mutated with editcap (fixed seeds, so a round is reproducible) and read by
# tshark with the plugin, once single-pass and once two-pass (-2), with -nVx (full tree and hex).
#
#   tests/fuzz/tshark-fuzz.sh [ROUNDS] [FIRST_ROUND]      (default 1 round, from round 0)
#
# Round r uses seed 5000+r and cycles through four mutations (editcap "and friends"):
#   r%4 = 0: -E 0.02            2 % of the bytes of each frame replaced (Wireshark's default)
#   r%4 = 1: -E 0.005           light damage, most frames still reach the plugin
#   r%4 = 2: -E 0.01 -s 40..1500  damage, and every frame cut to a seed-chosen snaplen
#   r%4 = 3: -E 0.01 -C -1..-64   damage, and a seed-chosen number of bytes chopped off the end
# The TCP and UDP heuristics are both enabled, and tcp.reassemble_out_of_order is on.
#
# A run fails on: a signal (WIRESHARK_ABORT_ON_DISSECTOR_BUG makes a dissector bug abort), a
# non-zero exit, a run over TIME_BOUND seconds (default 60), or in the output: "Dissector bug",
# "assertion", "panicked", "Plugin internal error" (a caught Rust panic). "[Malformed Packet:
# KASA]" is counted, not failed: it is tcp_dissect_pdus's ReportedBoundsError when a frame's IP
# length claims more bytes than were captured and TCP cannot desegment (fewer than the 4 header
# bytes reach the length callback), as for every fixed-header TCP dissector; it is caught by
# Wireshark. A failing input is kept in target/tshark-fuzz/failures/ with its reproduction.
#
# Triage: a failing input is read again without the plugin, by Wireshark's built-in
# tplink-smarthome dissector (which also uses tcp_dissect_pdus). If that fails the same way, the
# bug is Wireshark's and is counted apart ("wireshark bug"), not as a failure. Seen with 4.0.17:
# `packet-tcp.c:3566: failed assertion "fd_head"` in out-of-order TCP reassembly
# (tcp.reassemble_out_of_order:TRUE), a caught dissector bug unless WIRESHARK_ABORT_ON_DISSECTOR_BUG.
#
# Env: JOBS (default: CPUs), TIME_BOUND, FIXTURES (a space-separated list; default every
# fixtures/**/*.pcap*). Builds the plugin in release mode and installs it into a private
# plugin folder; as root, tshark runs as uid 65534 (tshark ignores WIRESHARK_PLUGIN_DIR for root).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${1:-1}
FIRST=${2:-0}
JOBS=${JOBS:-$(nproc)}
TIME_BOUND=${TIME_BOUND:-60}

cargo build --release --lib --quiet
VER=$(pkg-config --modversion wireshark | cut -d. -f1,2)
WORK=$(mktemp -d /tmp/kasa-tshark-fuzz.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/plugins/$VER/epan" "$WORK/noplugins/$VER/epan" "$WORK/home" "$WORK/mut"
cp target/release/libkasa_dissector.so "$WORK/plugins/$VER/epan/kasa.so"
if [ -n "${FIXTURES:-}" ]; then
  read -ra FILES <<<"$FIXTURES"
else
  mapfile -t FILES < <(find fixtures -name '*.pcap' -o -name '*.pcapng' | grep -v node_modules | sort)
fi
chmod -R a+rwX "$WORK"
RUN_AS=()
if [ "$(id -u)" = 0 ]; then
  chown -R 65534:65534 "$WORK/home" "$WORK/mut"
  RUN_AS=(setpriv --reuid=65534 --regid=65534 --clear-groups)
fi
FAILDIR=$PWD/target/tshark-fuzz/failures
mkdir -p "$FAILDIR"
export WORK TIME_BOUND FAILDIR
export RUN_AS_STR="${RUN_AS[*]}"

# One (round, capture): mutate, read single- and two-pass, check. Prints one line on failure.
one() {
  local round=$1 in=$2 seed=$((5000 + $1)) mode=$(($1 % 4)) name out opts
  name=$(echo "$in" | tr / _)
  out="$WORK/mut/r$round-$name"
  case $mode in
    0) opts=(-E 0.02) ;;
    1) opts=(-E 0.005) ;;
    2) opts=(-E 0.01 -s $((40 + seed * 7919 % 1460))) ;;
    3) opts=(-E 0.01 -C -$((1 + seed * 104729 % 64))) ;;
  esac
  # A capture cut mid-record makes editcap stop with an error after writing what it read.
  editcap --seed "$seed" "${opts[@]}" "$in" "$out" >/dev/null 2>&1 || [ -s "$out" ] || return 0
  chmod a+r "$out"
  local pass log rc why
  for pass in 1 2; do
    log="$WORK/mut/r$round-$name.$pass.log"
    set +e
    # The credential of the recorded KLAP fixtures: their mutated sessions are decrypted too.
    # shellcheck disable=SC2086
    timeout -s KILL "$TIME_BOUND" $RUN_AS_STR env \
      WIRESHARK_PLUGIN_DIR="$WORK/plugins" HOME="$WORK/home" \
      WIRESHARK_ABORT_ON_DISSECTOR_BUG=1 WIRESHARK_ABORT_ON_TOO_MANY_ITEMS=1 \
      tshark --disable-protocol tplink-smarthome -o tcp.reassemble_out_of_order:TRUE \
      --enable-heuristic kasa_tcp --enable-heuristic kasa_udp \
      -o 'uat:kasa_credentials:"user@example.com","secret"' \
      $([ $pass = 2 ] && echo -2) -nVxr "$out" 2>"$log.err" |
      grep -aoE 'Dissector bug[^]]*|[Aa]ssertion[^]]*|panicked[^]]*|Plugin internal error|Malformed Packet: KASA' |
      sort | uniq -c | head -5 >"$log.hits"
    rc=${PIPESTATUS[0]}
    set -e
    why=""
    grep -q 'Malformed Packet: KASA' "$log.hits" && echo "$round $name $pass" >>"$WORK/malformed.$BASHPID"
    sed -i '/Malformed Packet: KASA/d' "$log.hits"
    if [ "$rc" = 137 ]; then why="over ${TIME_BOUND}s"
    elif [ "$rc" -gt 128 ]; then why="signal $((rc - 128))"
    elif [ "$rc" != 0 ]; then why="exit $rc"
    elif [ -s "$log.hits" ]; then why="output: $(tr -s ' \n' ' ' <"$log.hits")"
    elif grep -qaE 'Dissector bug|assertion|panicked|aborting|AddressSanitizer' "$log.err"; then
      why="stderr: $(head -c 300 "$log.err")"
    fi
    if [ -n "$why" ]; then
      # The same input without the plugin, read by the built-in dissector.
      set +e
      # shellcheck disable=SC2086
      (timeout -s KILL "$TIME_BOUND" $RUN_AS_STR env \
        WIRESHARK_PLUGIN_DIR="$WORK/noplugins" HOME="$WORK/home" \
        WIRESHARK_ABORT_ON_DISSECTOR_BUG=1 WIRESHARK_ABORT_ON_TOO_MANY_ITEMS=1 \
        tshark -o tcp.reassemble_out_of_order:TRUE $([ $pass = 2 ] && echo -2) -nVxr "$out" \
        >/dev/null 2>"$log.builtin.err") | cat # (in a pipeline: no "Aborted" job notice)
      local brc=${PIPESTATUS[0]}
      set -e
      if [ "$brc" != 0 ] && [ "$brc" = "$rc" ]; then
        cp "$out" "$FAILDIR/wireshark-r$round-$name"
        echo "wireshark bug (also without the plugin) round $round pass $pass $name: $why; $(head -c 200 "$log.err" | tr '\n' ' ')"
        echo "$round $name" >>"$WORK/wsbug.$BASHPID"
        rm -f "$out" "$WORK/mut/r$round-$name".*
        return 0
      fi
      cp "$out" "$FAILDIR/r$round-$name"
      echo "FAIL round $round pass $pass $name: $why"
      echo "  reproduce: editcap --seed $seed ${opts[*]} $in x.pcap; tshark -nVx$([ $pass = 2 ] && echo ' -2')r x.pcap  (kept: $FAILDIR/r$round-$name)"
      echo "  stderr: $(head -c 500 "$log.err")"
      return 0
    fi
  done
  rm -f "$out" "$WORK/mut/r$round-$name".*
  echo ok >>"$WORK/ok.$round.$BASHPID"
}
export -f one

start=$(date +%s)
echo "tshark-fuzz: tshark $(tshark --version 2>/dev/null | head -1 | awk '{print $3}'), ${#FILES[@]} captures, rounds $FIRST..$((FIRST + ROUNDS - 1)), $JOBS jobs, ${TIME_BOUND}s bound per run"
for ((r = FIRST; r < FIRST + ROUNDS; r++)); do
  for f in "${FILES[@]}"; do printf '%s %s\n' "$r" "$f"; done
done | xargs -P "$JOBS" -L 1 bash -c 'one "$0" "$1"' | tee "$WORK/failures.txt"
count() { cat "$@" 2>/dev/null | wc -l || true; }
runs=$(($(count "$WORK"/ok.*) + $(count "$WORK"/wsbug.*)))
fails=$(grep -c '^FAIL' "$WORK/failures.txt" || true)
malformed=$(count "$WORK"/malformed.*)
wsbugs=$(count "$WORK"/wsbug.*)
echo "tshark-fuzz: $ROUNDS rounds, $((runs + fails)) mutated captures, $(((runs + fails) * 2)) tshark runs, $fails failures, $wsbugs Wireshark bugs reproduced without the plugin, $malformed runs with a caught [Malformed Packet: KASA], $(($(date +%s) - start)) s"
[ "$fails" = 0 ]
