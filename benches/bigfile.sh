#!/usr/bin/env bash
# kasa-decode on a capture of about 1 GB: peak memory, wall time against the time to read the
# file's records alone, and the time to the first output line.
#
#   benches/bigfile.sh [CONNECTIONS] [PAIRS]     (default 25000 × 50: 2.5 M messages, ~1 GB)
#
# The capture comes from the fixture generator (`kasa-fixturegen --bench`, as
# benches/tshark/compare.sh makes its 100,000-message one) in a temporary directory (BIGFILE_DIR,
# default /tmp), and is deleted at the end. Figures:
#   * read only: `examples/read_records.rs` of the decoder crate (kasa_decoder::capture::Reader,
#     every record, nothing decoded), after `cat FILE > /dev/null` has put the file in the page
#     cache (both timed);
#   * kasa-decode --json FILE > /dev/null under /usr/bin/time -v: wall time and peak RSS
#     (targets: < 64 MiB);
#   * kasa-decode --json FILE | (first line): seconds from start to the first line (target: < 1 s).
set -euo pipefail
cd "$(dirname "$0")/.."
CONNS=${1:-25000}
PAIRS=${2:-50}
T=$(mktemp -d "${BIGFILE_DIR:-/tmp}/kasa-bigfile.XXXXXX")
trap 'rm -rf "$T"' EXIT
TARGET=${CARGO_TARGET_DIR:-target}

cargo build --release -p kasa-fixturegen -p kasa-decode >&2
cargo build --release -p kasa-decoder --example read_records >&2
need=$(( CONNS * PAIRS * 850 / 1024 / 1024 + 100 ))
avail=$(df -Pm "$T" | awk 'NR == 2 { print $4 }')
if [ "$avail" -lt "$need" ]; then
  echo "bigfile: $T has $avail MiB free, the capture needs about $need MiB" >&2
  exit 1
fi

cap="$T/big.pcap"
"$TARGET/release/kasa-fixturegen" --bench "$cap" "$CONNS" "$PAIRS" >&2
size=$(stat -c %s "$cap")
echo "capture: $CONNS connections x $PAIRS pairs, $(( size / 1000000 )) MB"

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

t0=$(now); cat "$cap" > /dev/null; t1=$(now)
echo "cat > /dev/null:            $(secs "$t0" "$t1") s"
t0=$(now); "$TARGET/release/examples/read_records" "$cap"; t1=$(now)
echo "read records only:          $(secs "$t0" "$t1") s"

/usr/bin/time -v "$TARGET/release/kasa-decode" --json "$cap" > /dev/null 2> "$T/time.txt" || {
  cat "$T/time.txt" >&2
  exit 1
}
wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { print $2 }' "$T/time.txt")
rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$T/time.txt")
echo "kasa-decode --json:         $wall (m:ss), peak RSS $(( rss / 1024 )) MiB"
/usr/bin/time -v "$TARGET/release/kasa-decode" "$cap" > /dev/null 2> "$T/time.txt"
wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { print $2 }' "$T/time.txt")
rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$T/time.txt")
echo "kasa-decode (text):         $wall (m:ss), peak RSS $(( rss / 1024 )) MiB"

t0=$(now)
first=$("$TARGET/release/kasa-decode" --json "$cap" | { IFS= read -r line; now; cat > /dev/null; })
echo "first line after:           $(secs "$t0" "$first") s"
