# Sourced by compare.sh and instructions.sh (from the repository's root): builds the plugin and
# kasa-fixturegen, writes the benchmark capture `kasa-fixturegen --bench $T/$1 $2 $3`, and stages
# tshark's conditions in a temporary folder $T, removed on exit:
#   $T/with   a plugin tree holding only kasa.so     $T/empty  an empty one (no plugin at all)
#   $T/home   tshark's home
# RUN is the prefix a tshark command takes: as root, tshark ignores WIRESHARK_PLUGIN_DIR, so it
# runs as uid 65534. mode_args CONDITION MODE prints a mode's tshark options, the field from the
# caller's FIELD table.
cargo build --release --lib -p kasa-dissector >&2
cargo build --release -p kasa-fixturegen >&2

WS_VER=$(pkg-config --modversion wireshark | cut -d. -f1,2)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/with/$WS_VER/epan" "$T/empty/$WS_VER/epan" "$T/home"
cp target/release/libkasa_dissector.so "$T/with/$WS_VER/epan/kasa.so"
./target/release/kasa-fixturegen --bench "$T/$1" "$2" "$3" >&2
chmod -R a+rX "$T"

RUN=()
if [ "$(id -u)" = 0 ]; then
  chown 65534 "$T/home"
  RUN=(setpriv --reuid=65534 --regid=65534 --clear-groups)
fi

mode_args() { # condition mode
  case $2 in
    summary) ;;
    fields) echo "-T fields -e ${FIELD[$1]}" ;;
    verbose) echo "-V" ;;
  esac
}
