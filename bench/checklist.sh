#!/usr/bin/env bash
# Checklist export benchmark: the sample clinic grown to 500 devices and 200 accounts, then
# `mamori checklist status --json` and `checklist export` as HTML, XLSX and PDF (with the
# Japanese font subset embedded), each a fresh process, against the ledger's own XLSX export of
# the same devices as the baseline. Prints a Markdown table.
#   bash bench/checklist.sh [--assets N] [--accounts N] [--runs N]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p mamori-server -p xtask --bins >&2
echo "# mamori checklist benchmark — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
echo
./target/release/xtask bench-checklist --mamori target/release/mamori "$@"
