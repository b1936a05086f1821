#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for SECONDS each (default 60), JOBS at a time (default:
# the number of CPUs), with AddressSanitizer, after replaying the committed regression inputs.
#
#   tests/fuzz/run-cargo-fuzz.sh [SECONDS] [TARGET...]
#
# Env: JOBS=N, FUZZ_TOOLCHAIN=nightly (default: nightly if rustup has it, else stable with
# RUSTC_BOOTSTRAP=1, which accepts the -Z flags cargo-fuzz passes), SANITIZER=address|none.
# Needs `cargo install cargo-fuzz`. Corpora grow in fuzz/corpus/<target> (seeded from fixtures/
# on every run), crashes land in fuzz/artifacts/<target>, logs in fuzz/logs/<target>.log.
# Exit 1 if any target found a crash, a leak, a timeout (10 s per input) or an out-of-memory.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_PER_TARGET=${1:-60}
shift || true
ALL_TARGETS=(xor_frame reassembly link body capture decoder tdp klap aes_envelope tdp_datagram http linkie cloud_framing dns tls x509 cloud json_tree)
[ $# -gt 0 ] && TARGETS=("$@") || TARGETS=("${ALL_TARGETS[@]}")
JOBS=${JOBS:-$(nproc)}
SANITIZER=${SANITIZER:-address}

command -v cargo-fuzz >/dev/null || { echo "run-cargo-fuzz: cargo install cargo-fuzz" >&2; exit 2; }
if [ -z "${FUZZ_TOOLCHAIN:-}" ]; then
  if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then FUZZ_TOOLCHAIN=nightly; else FUZZ_TOOLCHAIN=stable; fi
fi
[ "$FUZZ_TOOLCHAIN" = nightly ] || export RUSTC_BOOTSTRAP=1
echo "run-cargo-fuzz: toolchain $FUZZ_TOOLCHAIN ($(cargo +"$FUZZ_TOOLCHAIN" --version)), sanitizer $SANITIZER, ${SECONDS_PER_TARGET}s x ${#TARGETS[@]} targets, $JOBS at a time"

cd fuzz
cargo +"$FUZZ_TOOLCHAIN" fuzz build -O --sanitizer "$SANITIZER" >/dev/null
BIN=target/x86_64-unknown-linux-gnu/release
"$BIN/seed" ../fixtures corpus >/dev/null
mkdir -p logs

# Regression inputs (crashes found earlier) must run clean.
for t in "${TARGETS[@]}"; do
  if compgen -G "regressions/$t/*" >/dev/null; then
    "$BIN/$t" -rss_limit_mb=2048 -timeout=10 regressions/$t/* >"logs/$t.regressions.log" 2>&1 ||
      { echo "run-cargo-fuzz: $t fails a regression input:"; tail -30 "logs/$t.regressions.log"; exit 1; }
  fi
done

run_one() {
  local t=$1 max_len
  case $t in
    capture | decoder) max_len=65536 ;;
    reassembly) max_len=16384 ;;
    *) max_len=8192 ;;
  esac
  mkdir -p "corpus/$t" "artifacts/$t"
  "$BIN/$t" "corpus/$t" -artifact_prefix="artifacts/$t/" -max_total_time="$SECONDS_PER_TARGET" \
    -timeout=10 -rss_limit_mb=2048 -max_len="$max_len" -print_final_stats=1 >"logs/$t.log" 2>&1
}
export -f run_one
export BIN SECONDS_PER_TARGET
start=$(date +%s)
status=0
printf '%s\n' "${TARGETS[@]}" | xargs -P "$JOBS" -I{} bash -c 'run_one {}' || status=1

printf '%-12s %12s %8s %8s %8s %s\n' target executions seconds exec/s corpus crashes
for t in "${TARGETS[@]}"; do
  runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "logs/$t.log" | grep -oE '[0-9]+$' || echo '?')
  secs=$(grep -oE 'Done [0-9]+ runs in [0-9]+ second' "logs/$t.log" | grep -oE '[0-9]+ second' | grep -oE '[0-9]+' || echo '?')
  rate=$(grep -oE 'stat::average_exec_per_sec: *[0-9]+' "logs/$t.log" | grep -oE '[0-9]+$' || echo '?')
  crashes=$(find "artifacts/$t" -type f | wc -l)
  corpus=$(find "corpus/$t" -type f | wc -l)
  printf '%-12s %12s %8s %8s %8s %s\n' "$t" "$runs" "$secs" "$rate" "$corpus" "$crashes"
  if [ "$crashes" -gt 0 ] || grep -qE '^SUMMARY|ERROR: libFuzzer' "logs/$t.log"; then
    status=1
    echo "  $t: $(grep -m1 -E 'panicked at|ERROR: (libFuzzer|AddressSanitizer)' "logs/$t.log")"
    find "artifacts/$t" -type f | sed 's/^/  artifact: fuzz\//'
  fi
done
echo "run-cargo-fuzz: $(( $(date +%s) - start )) s wall"
exit $status
