#!/usr/bin/env bash
# The README's "Many captures: DuckDB" example, run as written and checked.
#
# Copies the recorded captures that need no secrets and carry no TLS (their expected files
# list no "args" and no "tls_keys") into target/duckdb/captures/, decodes them with
#   kasa-decode --json captures/*.pcapng > all.jsonl
# runs the SQL query found in README.md between the markers `<!-- duckdb-query:start -->` and
# `<!-- duckdb-query:end -->` (so the README's text is what runs) with DuckDB's Python package,
# and compares every row (file, method, responses, errors) with what the captures' expected
# files say (the peers' logs, see fixtures/record/README.md): responses per method, and those
# whose err_code is present and not 0.
#
# DuckDB comes from PyPI into a venv under target/duckdb-venv (python3 -m venv; on Debian,
# python3-venv is installed with apt-get when missing and running as root). kasa-decode is
# built in release mode unless KASA_DECODE names a binary.
# Usage: tools/duckdb-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd -P)
DUCKDB_VERSION=2.0.1
VENV=target/duckdb-venv
WORK=target/duckdb
say() { echo "duckdb-check: $*" >&2; }

if ! "$VENV/bin/python" -c "import duckdb, sys; sys.exit(duckdb.__version__ != '$DUCKDB_VERSION')" 2>/dev/null; then
  rm -rf "$VENV"
  if ! python3 -m venv "$VENV" 2>/dev/null; then
    rm -rf "$VENV"
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      say "installing python3-venv (apt-get)"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    fi
    python3 -m venv "$VENV" || { say "python3 -m venv failed (install python3-venv)"; exit 1; }
  fi
  say "pip install duckdb==$DUCKDB_VERSION into $VENV"
  "$VENV/bin/pip" install -q "duckdb==$DUCKDB_VERSION"
fi

if [ -z "${KASA_DECODE:-}" ]; then
  cargo build --release --locked -p kasa-decode >&2
  KASA_DECODE="$ROOT/${CARGO_TARGET_DIR:-target}/release/kasa-decode"
fi

rm -rf "$WORK"
mkdir -p "$WORK/captures"
"$VENV/bin/python" - "$ROOT" "$WORK/captures" <<'EOF'
import glob, json, os, shutil, sys
root, dest = sys.argv[1], sys.argv[2]
n = 0
for exp in sorted(glob.glob(os.path.join(root, "fixtures/recorded/*.expected.json"))):
    e = json.load(open(exp))
    cap = exp[: -len(".expected.json")] + ".pcapng"
    if e.get("args") or "tls_keys" in e or not os.path.exists(cap):
        continue
    shutil.copy(cap, dest)
    n += 1
print(f"duckdb-check: {n} captures", file=sys.stderr)
EOF

# The README's command, in the folder that holds captures/.
(cd "$WORK" && "$KASA_DECODE" --json captures/*.pcapng >all.jsonl)

"$VENV/bin/python" - "$ROOT" "$WORK" <<'EOF'
import glob, json, os, re, sys
import duckdb

root, work = sys.argv[1], sys.argv[2]
readme = open(os.path.join(root, "README.md"), encoding="utf-8").read()
m = re.search(r"<!-- duckdb-query:start -->\s*```sql\n(.*?)```\s*<!-- duckdb-query:end -->", readme, re.S)
if not m:
    sys.exit("duckdb-check: no query between the duckdb-query markers in README.md")
query = m.group(1)
os.chdir(work)
rows = duckdb.sql(query).fetchall()

# What the expected files say: per capture and method, responses and errors (every method
# of a message counts once; an HTTP answer without a body is not shown, see
# tests/common/expected.rs).
want = []
for cap in sorted(glob.glob("captures/*.pcapng")):
    stem = os.path.basename(cap)[: -len(".pcapng")]
    e = json.load(open(os.path.join(root, "fixtures/recorded", stem + ".expected.json")))
    per = {}
    for msg in e["messages"]:
        if msg.get("empty_body") or msg["direction"] != "response":
            continue
        for name, code in zip(msg["method"], msg["err_code"]):
            r = per.setdefault(name, [0, 0])
            r[0] += 1
            r[1] += code is not None and code != 0
    want += [(cap, name, n, errs) for name, (n, errs) in sorted(per.items())]

got = [tuple(r) for r in rows]
if got != want:
    for w in want:
        if w not in got:
            print("duckdb-check: missing", w, file=sys.stderr)
    for g in got:
        if g not in want:
            print("duckdb-check: unexpected", g, file=sys.stderr)
    sys.exit(f"duckdb-check: FAILED: the query's {len(got)} rows differ from the expected files' {len(want)}")
files = len({r[0] for r in got})
print(f"duckdb-check: ok: {len(got)} rows (file, method, responses, errors) over {files} captures match the expected files (DuckDB {duckdb.__version__})", file=sys.stderr)
EOF
