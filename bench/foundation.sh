#!/usr/bin/env bash
# Foundation benchmarks: argon2id cost, login flood, and dashboard latency under load with and
# without a login flood. Prints Markdown tables; every number has its baseline in the same run.
#   bash bench/foundation.sh            (about two minutes after the release build)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p mamori-server -p xtask --bins >&2
echo "# mamori foundation benchmark — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
echo
./target/release/xtask bench-login --mamori target/release/mamori
echo
./target/release/xtask bench-dashboard --mamori target/release/mamori
