#!/usr/bin/env bash
# The whole test suite: unit, property, fixture-replay and tshark integration tests of every
# crate in the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/packages.sh
cargo test --workspace --locked
