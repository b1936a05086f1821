#!/usr/bin/env bash
# Opens fixtures in the real Wireshark GUI (Qt) with the release plugin, on a private Xvfb
# display, takes the README's screenshots and checks mechanically what the window shows:
#   * the plugin loaded: `tshark -G plugins`, run as the same user with the same environment
#     as the GUI, lists kasa.so from the private plugin folder;
#   * for each shot, the frame's details pane as Wireshark itself renders it: the script selects
#     the Kasa layer (Edit › Find Packet, string "<the protocol's name>" in Packet details),
#     expands it (View › Expand Subtrees, Shift+Right), copies the pane (Edit › Copy › All Visible
#     Items, Ctrl+Alt+Shift+A) and reads the clipboard (xclip): the first line must name the
#     frame and the Kasa layer's lines must equal those of `tshark -2 -V` for that frame; the
#     window title must name the file, and the screenshot must not be blank;
#   * the statistics tree (Statistics › Kasa › Devices and methods, opened from the menu, since
#     Wireshark's -z does not open stats trees): the dialog's Copy button's text must hold the
#     same rows as `tshark -z kasa,tree`.
# Screenshots go to docs/screenshots/gui-*.png (the README shows them).
# Installs wireshark-qt xvfb imagemagick xdotool xclip with apt when missing. Exit 0 when all
# holds; 1 with the reason otherwise; 0 with "gui-check: skipped: <reason>" only when this
# machine cannot run the GUI (packages missing and no apt or not root, or no X server).
# Wireshark ignores WIRESHARK_PLUGIN_DIR and the personal plugin folder when run as root: as
# root the GUI and tshark run as uid 65534 (setpriv), with HOME in the temp dir, as the tshark
# tests do (tests/common/mod.rs).
# Usage: tools/gui-check.sh   (builds the release plugin with cargo when it is not up to date)
#   GUI_CHECK_WAIT=seconds: how long to wait for a window (120); GUI_CHECK_KEEP=1: keep the temp
#   dir (Wireshark's log, the texts copied from the GUI, the full-size screenshots).
set -euo pipefail
cd "$(dirname "$0")/.."
say() { echo "gui-check: $*"; }
skip() { say "skipped: $*"; exit 0; }
fail() { say "FAILED: $*"; exit 1; }

# The shots: name, capture, frame, display filter of the packet list, what it shows.
SHOTS=(
  "request|fixtures/recorded/hs110-kasa.pcapng|22|kasa|a request (XOR over TCP)"
  "response|fixtures/recorded/klap-v2-default.pcapng|11|kasa|a response with three methods and the device (KLAP)"
  "malformed|fixtures/synthetic/garbage_9999.pcap|17|kasa|a random UDP datagram to port 9999"
)
STATS_CAPTURE=fixtures/recorded/hs110-kasa.pcapng
# Generous waits: a CI machine with 2 busy cores.
WAIT_WINDOW=${GUI_CHECK_WAIT:-120}

# --- Packages ---------------------------------------------------------------------------------
missing=()
command -v wireshark >/dev/null || missing+=(wireshark-qt)
command -v tshark >/dev/null || missing+=(tshark)
command -v Xvfb >/dev/null || missing+=(xvfb)
{ command -v import >/dev/null && command -v convert >/dev/null; } || missing+=(imagemagick)
command -v xdotool >/dev/null || missing+=(xdotool)
command -v xclip >/dev/null || missing+=(xclip)
command -v python3 >/dev/null || missing+=(python3)
if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null || skip "${missing[*]} missing and no apt-get to install them"
  [ "$(id -u)" = 0 ] || skip "${missing[*]} missing and not root to install them"
  say "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null ||
    skip "apt-get could not install ${missing[*]}"
fi

# --- The plugin, in a private folder ------------------------------------------------------------
${CARGO:-cargo} build --release --lib --quiet
SO=target/release/libkasa_dissector.so
[ -f "$SO" ] || fail "no $SO after cargo build --release --lib"
ver=$(tshark -v 2>/dev/null | sed -n '1s/.*(Wireshark) \([0-9]*\.[0-9]*\).*/\1/p')
[ -n "$ver" ] || fail "cannot read the Wireshark version from tshark -v"

work=$(mktemp -d /tmp/kasa-gui-check.XXXXXX)
xvfb_pid=
ws_pid=
cleanup() {
  [ -z "$ws_pid" ] || kill "$ws_pid" 2>/dev/null || true
  if [ -n "$xvfb_pid" ]; then kill "$xvfb_pid" 2>/dev/null || true; wait "$xvfb_pid" 2>/dev/null || true; fi
  if [ -n "${GUI_CHECK_KEEP:-}" ]; then say "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
mkdir -p "$work/plugins/$ver/epan" "$work/home/.config/wireshark" "$work/files" "$work/runtime" "$work/out"
cp "$SO" "$work/plugins/$ver/epan/kasa.so"
# The window layout (packet list, details, bytes stacked; their heights), and Find Packet set to
# a case-sensitive string search in the packet details: recent_common and recent are the files
# in which Wireshark keeps these between runs.
cat >"$work/home/.config/wireshark/recent_common" <<'EOF'
gui.geometry_main_x: 0
gui.geometry_main_y: 0
gui.geometry_main_width: 1200
gui.geometry_main_height: 960
gui.geometry_main_maximized: FALSE
gui.search_in: PACKET_DETAILS
gui.search_type: STRING
gui.search_char_set: NARROW_AND_WIDE
gui.search_case_sensitive: TRUE
privs.warn_if_elevated: FALSE
EOF
cat >"$work/home/.config/wireshark/recent" <<'EOF'
gui.geometry_main_upper_pane: 190
gui.geometry_main_lower_pane: 520
EOF
chmod -R a+rX "$work"
chmod 700 "$work/runtime"
as_root=false
if [ "$(id -u)" = 0 ]; then
  as_root=true
  chown -R 65534:65534 "$work/home" "$work/runtime"
fi
# Runs a Wireshark program the way the tests run tshark: unprivileged, private plugin folder
# and HOME. A command prefix, not a function, so that a program started in the background is
# the child whose pid $! gives (setpriv and env exec it).
user_cmd() {
  local envs=(WIRESHARK_PLUGIN_DIR="$work/plugins" HOME="$work/home" XDG_RUNTIME_DIR="$work/runtime"
    DISPLAY="${DISPLAY:-}")
  if $as_root; then
    cmd=(setpriv --reuid=65534 --regid=65534 --clear-groups env "${envs[@]}")
  else
    cmd=(env "${envs[@]}")
  fi
}
as_user() {
  local cmd
  user_cmd
  "${cmd[@]}" "$@"
}
TS=(--disable-protocol tplink-smarthome -o tcp.reassemble_out_of_order:TRUE)

as_user tshark -G plugins >"$work/plugins.txt" 2>/dev/null || true
grep -qE "^kasa\.so[[:space:]].*$work/plugins/$ver/epan/kasa\.so" "$work/plugins.txt" ||
  fail "tshark -G plugins (uid $($as_root && echo 65534 || id -u), WIRESHARK_PLUGIN_DIR=$work/plugins) does not list kasa.so: $(grep -i kasa "$work/plugins.txt" || echo none)"
layer=$(as_user tshark -G protocols 2>/dev/null | awk -F'\t' '$3 == "kasa" { print $1 }')
[ -n "$layer" ] || fail "tshark -G protocols lists no protocol kasa"
say "plugin loaded: $(grep '^kasa\.so' "$work/plugins.txt" | tr '\t' ' ' | tr -s ' ')"

# --- A display of our own ---------------------------------------------------------------------
Xvfb -displayfd 3 -screen 0 1280x1024x24 -nolisten tcp 3>"$work/display" 2>"$work/xvfb.log" &
xvfb_pid=$!
for _ in $(seq 1 60); do
  [ -s "$work/display" ] && break
  kill -0 "$xvfb_pid" 2>/dev/null || break
  sleep 0.5
done
[ -s "$work/display" ] || skip "no X server: Xvfb did not start ($(tail -1 "$work/xvfb.log" 2>/dev/null))"
export DISPLAY=":$(tr -d '\n' <"$work/display")"
say "Xvfb on $DISPLAY"

# Waits for a window whose name matches the regex $1; prints its id.
wait_window() {
  timeout "$WAIT_WINDOW" xdotool search --sync --name "$1" 2>/dev/null | head -1
}
start_wireshark() {
  local cmd
  user_cmd
  "${cmd[@]}" wireshark "${TS[@]}" -o gui.layout_type:1 "$@" >"$work/wireshark.log" 2>&1 &
  ws_pid=$!
}
stop_wireshark() {
  [ -n "$ws_pid" ] || return 0
  kill "$ws_pid" 2>/dev/null || true
  for _ in $(seq 1 20); do kill -0 "$ws_pid" 2>/dev/null || break; sleep 0.5; done
  kill -9 "$ws_pid" 2>/dev/null || true
  wait "$ws_pid" 2>/dev/null || true
  ws_pid=
}
# The Kasa layers of a details text (tshark -V, or the GUI's copy): each top-level line that
# is the protocol's name (alone, or followed by " (transport)" and/or ", summary") and the
# lines indented under it.
kasa_block() {
  awk -v name="$layer" '/^$/ { next }
    index($0, name) == 1 && (length($0) == length(name) || substr($0, length(name) + 1, 2) == ", " || substr($0, length(name) + 1, 2) == " (") { p = 1; print; next }
    /^[^ ]/ { p = 0 } p'
}
# The rows of a stats tree text (tshark -z, or the GUI dialog's Copy) as "path | columns",
# sorted (the GUI sorts its rows by its own column order).
stats_rows() {
  python3 -c '
import sys
rows, stack, width = [], [], None
for l in sys.stdin.read().splitlines():
    if l.startswith("Topic / Item"):
        width = l.index("Count")
        continue
    if width is None or not l.strip() or set(l.strip()) <= {"-", "="}:
        continue
    depth = len(l) - len(l.lstrip(" "))
    stack = stack[:depth] + [l[:width].strip()]
    rows.append(" / ".join(stack) + " | " + " ".join(l[width:].split()))
print("\n".join(sorted(rows)))'
}
# Stores a window's screenshot as docs/screenshots/gui-$2.png, after checking it is not blank.
save_png() {
  local wid=$1 name=$2 colours
  import -window "$wid" "$work/out/$name.png"
  colours=$(convert "$work/out/$name.png" -format '%k' info:)
  [ "$colours" -gt 16 ] || { say "$name: the screenshot is blank ($colours colours)"; return 1; }
  mkdir -p docs/screenshots
  convert "$work/out/$name.png" -resize '1000x>' -colors 128 -strip "docs/screenshots/gui-$name.png"
  say "$name: docs/screenshots/gui-$name.png ($(stat -c %s "docs/screenshots/gui-$name.png") bytes, $colours colours)"
}
stage() {
  local dst="$work/files/$(basename "$1")"
  cp "$1" "$dst"
  chmod a+r "$dst"
  echo "$dst"
}

# --- Packet details shots ---------------------------------------------------------------------
# One attempt: opens the capture on the displayed frame before $frame, finds the Kasa layer
# (which selects $frame and the layer), expands it, copies the pane and compares.
details_attempt() {
  local name=$1 file=$2 frame=$3 filter=$4 prev=$5 capture=$6 wid title
  start_wireshark -r "$file" -Y "$filter" -g "$prev"
  wid=$(wait_window "^$(basename "$file")\$")
  [ -n "$wid" ] || { say "$name: no Wireshark window within ${WAIT_WINDOW}s: $(tail -3 "$work/wireshark.log")"; return 1; }
  sleep 4
  timeout 30 xdotool windowfocus --sync "$wid"
  sleep 1
  xdotool key ctrl+f
  sleep 2
  xdotool type --delay 40 "$layer"
  xdotool key Return
  sleep 3
  xdotool key Escape
  sleep 1
  xdotool key shift+Right
  sleep 3
  xdotool key ctrl+alt+shift+a
  sleep 2
  timeout 20 xclip -o -selection clipboard >"$work/$name.gui" 2>/dev/null || true
  if ! head -1 "$work/$name.gui" | grep -q "^Frame $frame:"; then
    say "$name: the details pane shows $(head -1 "$work/$name.gui" | cut -c1-60 || true), not frame $frame"
    return 1
  fi
  kasa_block <"$work/$name.gui" >"$work/$name.gui.kasa"
  if ! cmp -s "$work/$name.gui.kasa" "$work/$name.tshark"; then
    say "$name: the GUI's details of frame $frame differ from tshark -2 -V:"
    diff "$work/$name.gui.kasa" "$work/$name.tshark" | head -20 || true
    return 1
  fi
  title=$(xdotool getwindowname "$wid")
  [[ $title == *"$(basename "$file")"* ]] || { say "$name: window title '$title' lacks the file name"; return 1; }
  save_png "$wid" "$name" || return 1
  say "$name: frame $frame of $capture: window '$title', the Kasa layer as tshark -2 -V shows it ($(wc -l <"$work/$name.tshark") lines)"
}
details_shot() {
  local name=$1 capture=$2 frame=$3 filter=$4 file prev
  file=$(stage "$capture")
  as_user tshark "${TS[@]}" -r "$file" -Y "$filter" -T fields -e frame.number >"$work/$name.frames" 2>/dev/null
  grep -qx "$frame" "$work/$name.frames" || fail "$name: frame $frame of $capture is not displayed by filter '$filter'"
  # -g goes to the displayed frame before ours (the last one when ours is the first); Find then
  # moves forward to ours.
  prev=$(awk -v f="$frame" '$1 == f { print (NR > 1 ? last : "") ; found = 1; exit } { last = $1 }' "$work/$name.frames")
  [ -n "$prev" ] || prev=$(tail -1 "$work/$name.frames")
  as_user tshark "${TS[@]}" -2 -r "$file" -V -Y "frame.number == $frame" 2>/dev/null | kasa_block >"$work/$name.tshark"
  [ -s "$work/$name.tshark" ] || fail "$name: tshark -V shows no $layer layer in frame $frame of $capture"
  for attempt in 1 2 3; do
    if details_attempt "$name" "$file" "$frame" "$filter" "$prev" "$capture"; then
      stop_wireshark
      return 0
    fi
    stop_wireshark
    say "$name: attempt $attempt failed"
  done
  fail "$name: the GUI did not show the Kasa layer of frame $frame of $capture"
}

for s in "${SHOTS[@]}"; do
  IFS='|' read -r name capture frame filter _ <<<"$s"
  details_shot "$name" "$capture" "$frame" "$filter"
done

# --- Statistics › Kasa › Devices and methods ------------------------------------------------------
stats_attempt() {
  local file=$1 wid dlg
  start_wireshark -r "$file"
  wid=$(wait_window "^$(basename "$file")\$")
  [ -n "$wid" ] || { say "stats: no Wireshark window within ${WAIT_WINDOW}s"; return 1; }
  sleep 4
  timeout 30 xdotool windowfocus --sync "$wid"
  sleep 1
  # Kasa is the last entry of the Statistics menu (plugins' trees come last, and this plugin is
  # the only one in the private folder): open the menu, wrap up to it, open its submenu, take
  # its first entry. The dialog's title checks that this is what opened.
  xdotool key alt+s
  sleep 2
  xdotool key Up
  sleep 1
  xdotool key Right
  sleep 1
  xdotool key Return
  dlg=$(WAIT_WINDOW=60 wait_window "Devices and methods")
  [ -n "$dlg" ] || { say "stats: Statistics › Kasa › Devices and methods did not open"; return 1; }
  xdotool windowsize --sync "$dlg" 1000 700
  xdotool windowmove --sync "$dlg" 100 100
  timeout 30 xdotool windowfocus --sync "$dlg"
  sleep 4
  # The dialog's Copy button (bottom right, left of "Save as…" and "Close").
  xdotool mousemove --window "$dlg" 764 676
  sleep 1
  xdotool click 1
  sleep 2
  timeout 20 xclip -o -selection clipboard 2>/dev/null | stats_rows >"$work/stats.gui" || true
  [ -s "$work/stats.gui" ] || { say "stats: the dialog's Copy gave no stats tree"; return 1; }
  if ! cmp -s "$work/stats.gui" "$work/stats.tshark"; then
    say "stats: the GUI's tree differs from tshark -z kasa,tree:"
    diff "$work/stats.gui" "$work/stats.tshark" | head -20 || true
    return 1
  fi
  save_png "$dlg" stats || return 1
  say "stats: '$(xdotool getwindowname "$dlg")' holds the $(wc -l <"$work/stats.tshark") rows of tshark -z kasa,tree"
}
file=$(stage "$STATS_CAPTURE")
as_user tshark "${TS[@]}" -q -r "$file" -z kasa,tree 2>/dev/null | stats_rows >"$work/stats.tshark"
[ -s "$work/stats.tshark" ] || fail "tshark -z kasa,tree printed no tree for $STATS_CAPTURE"
ok=false
for attempt in 1 2 3; do
  if stats_attempt "$file"; then ok=true; stop_wireshark; break; fi
  stop_wireshark
  say "stats: attempt $attempt failed"
done
$ok || fail "the GUI's Statistics › Kasa › Devices and methods did not match tshark -z kasa,tree"
say "ok: plugin loaded in the GUI; ${#SHOTS[@]} frames and the stats tree as tshark shows them; screenshots in docs/screenshots/gui-*.png"
