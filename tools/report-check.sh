#!/usr/bin/env bash
# Renders `kasa-decode --report` of the energy-meter fixture in a real headless browser
# (Debian's chromium), as a user opening the HTML file would see it, and checks what it drew:
#   * the browser's DOM after loading (--dump-dom) holds the device table and the power plot
#     (an <svg> with its polyline), i.e. the page rendered from the file alone (chromium runs
#     with networking disabled: a page that needed the network would miss parts);
#   * a full-page screenshot, written to docs/screenshots/report.png (the README shows it),
#     that is not blank.
# Installs chromium and imagemagick with apt when missing. Exit 0 when all holds; 1 with the
# reason otherwise; 0 with "skipped: ..." only when chromium cannot be installed here.
# Usage: tools/report-check.sh [CAPTURE]   (needs target/release/kasa-decode: tools/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
CAPTURE=${1:-fixtures/recorded/hs110-audit-kasa.pcapng}
BIN=${KASA_DECODE:-target/release/kasa-decode}
say() { echo "report-check: $*"; }
[ -x "$BIN" ] || { say "no $BIN (run tools/setup.sh first)"; exit 1; }
if ! command -v chromium >/dev/null || ! command -v convert >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium imagemagick >/dev/null ||
      { say "skipped: chromium could not be installed"; exit 0; }
  else
    say "skipped: chromium or imagemagick missing and not root to install them"; exit 0
  fi
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$BIN" --report "$work/report.html" "$CAPTURE"
# The browser, without network access (a proxy that does not exist) and without a sandbox
# (root in CI); its profile in the temp dir.
browse() {
  timeout 120 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --user-data-dir="$work/profile" --proxy-server=127.0.0.1:9 --proxy-bypass-list='<-loopback>' \
    "$@" "file://$work/report.html" 2>"$work/chromium.err"
}
browse --dump-dom >"$work/dom.html" || { say "chromium failed:"; tail -5 "$work/chromium.err"; exit 1; }
mac=$(python3 -c 'import json,sys
e=json.load(open(sys.argv[1]))
print(next(m["device"]["mac"] for m in e["messages"] if m.get("device") and not m["device"]["generated"]))' "${CAPTURE%.pcapng}.expected.json")
grep -q "<td>$mac</td>" "$work/dom.html" || { say "the rendered page lacks the device's MAC $mac"; exit 1; }
grep -q "Power (W)" "$work/dom.html" || { say "the rendered page lacks the power plot"; exit 1; }
grep -q "<polyline" "$work/dom.html" || { say "the rendered page has no plotted line"; exit 1; }
browse --window-size=1000,1800 --screenshot="$work/shot.png" >/dev/null || { say "screenshot failed"; exit 1; }
colours=$(convert "$work/shot.png" -format '%k' info:)
[ "$colours" -gt 16 ] || { say "the screenshot is blank ($colours colours)"; exit 1; }
mkdir -p docs/screenshots
convert "$work/shot.png" -resize 800x -strip -colors 64 docs/screenshots/report.png
say "ok: device $mac and the power plot rendered; docs/screenshots/report.png ($(stat -c %s docs/screenshots/report.png) bytes, $colours colours)"
