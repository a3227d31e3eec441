#!/usr/bin/env bash
# Sealed-log benchmarks: durable append (group commit and one record per commit) against plain
# write+fdatasync, bundle verification against sha256sum of the same file, and the time from
# acknowledgement to a signed tree head. Prints a Markdown table; baselines are measured in the
# same run on the same disk.
#   bash bench/seal.sh                          (a few minutes after the release build)
#   SEAL_BENCH_VERIFY_N=10000000 bash bench/seal.sh   (the full 10M-record verify; ~3.6 GB)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p mamori-seal --examples >&2
echo "# mamori-seal benchmark — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
echo
./target/release/examples/seal_bench
