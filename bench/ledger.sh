#!/usr/bin/env bash
# Ledger benchmark: generate a 50,000-device XLSX, import it (dry run, then commit), export it
# to XLSX and CSV, re-import the export (must change nothing), then measure the device list
# (search, filters, deep pages) over HTTPS with /healthz as the baseline. Prints Markdown tables.
#   bash bench/ledger.sh [--rows N]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p mamori-server -p xtask --bins >&2
echo "# mamori ledger benchmark — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
echo
./target/release/xtask bench-ledger --mamori target/release/mamori "$@"
