#!/usr/bin/env bash
# Offline Sigma scan benchmark, printed as a Markdown table: `mamori detect scan` against
# chainsaw (`chainsaw hunt`), same Sigma rules, same .evtx files, same machine, in one run.
#
#   SIGMA_RULES=../shared/testdata/sigma/rules/windows \
#   EVTX_DIR=/path/to/hayabusa-sample-evtx \
#   CHAINSAW=/path/to/chainsaw CHAINSAW_MAPPING=/path/to/chainsaw/mappings/sigma-event-logs-all.yml \
#   bash bench/detect.sh
#
# EVTX_DIR defaults to ../shared/testdata/evtx (small: about 1,700 events); the public
# hayabusa-sample-evtx collection (about 600 files) is the corpus the targets are set on. It is
# read where it lies and never copied into the repository. The script does not build chainsaw;
# without CHAINSAW only mamori is measured.
#
# Rule load: the time to load the rules and scan one small file (both tools). Throughput: events
# (as mamori counts them) per second of wall time for the whole run, and per CPU-second (user +
# system) once the rules are loaded — the corpus run's CPU time minus the rule-load run's —
# which is "per core" for a tool that uses several (parse + match + output). Peak memory: the
# largest resident set (GNU time).
set -euo pipefail
cd "$(dirname "$0")/.."
RULES=${SIGMA_RULES:-../shared/testdata/sigma/rules/windows}
EVTX=${EVTX_DIR:-../shared/testdata/evtx}
RUNS=${DETECT_RUNS:-3}
[[ -d "$RULES" ]] || { echo "no Sigma rules at $RULES (set SIGMA_RULES)" >&2; exit 1; }
[[ -d "$EVTX" ]] || { echo "no .evtx folder at $EVTX (set EVTX_DIR)" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "GNU time is needed: apt-get install time" >&2; exit 1; }
cargo build --release -p mamori-server >&2
BIN=$PWD/target/release/mamori
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# The smallest .evtx file, for the rule-load measurement.
SMALL=$(find "$EVTX" -name '*.evtx' -printf '%s %p\n' | sort -n | awk 'NR == 1 { sub(/^[0-9]+ /, ""); print }')
mkdir -p "$WORK/one" && cp "$SMALL" "$WORK/one/"
FILES=$(find "$EVTX" -name '*.evtx' | wc -l)
BYTES=$(find "$EVTX" -name '*.evtx' -printf '%s\n' | awk '{s+=$1} END {print s}')

# run NAME OUT -- command…: wall s, cpu s, peak KiB into $WORK/NAME.tsv (one line per run).
run() {
  local name=$1 out=$2
  shift 3
  /usr/bin/time -f '%e\t%U\t%S\t%M' -o "$WORK/$name.time" "$@" >"$out" 2>"$WORK/$name.err" || true
  awk -F'\t' '{printf "%s\t%.2f\t%s\n", $1, $2 + $3, $4}' "$WORK/$name.time" >>"$WORK/$name.tsv"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }

# mamori: rule load, then the corpus.
for _ in $(seq "$RUNS"); do
  run mamori-load /dev/null -- "$BIN" detect scan --rules "$RULES" "$WORK/one" --json
  run mamori "$WORK/mamori.jsonl" -- "$BIN" detect scan --rules "$RULES" "$EVTX" --json
done
EVENTS=$(awk 'match($0, /イベント [0-9]+ 件/) { s = substr($0, RSTART, RLENGTH); gsub(/[^0-9]/, "", s); print s; exit }' "$WORK/mamori.err")
DETECTIONS=$(wc -l <"$WORK/mamori.jsonl")
LOADED=$(awk 'match($0, /ルール [0-9]+ 件を読み込み/) { s = substr($0, RSTART, RLENGTH); gsub(/[^0-9]/, "", s); print s; exit }' "$WORK/mamori-load.err")

HAVE_CHAINSAW=
if [[ -n "${CHAINSAW:-}" ]]; then
  [[ -x "$CHAINSAW" ]] || { echo "CHAINSAW=$CHAINSAW is not executable" >&2; exit 1; }
  MAPPING=${CHAINSAW_MAPPING:-$(dirname "$CHAINSAW")/mappings/sigma-event-logs-all.yml}
  [[ -f "$MAPPING" ]] || { echo "no chainsaw mapping at $MAPPING (set CHAINSAW_MAPPING)" >&2; exit 1; }
  for _ in $(seq "$RUNS"); do
    run chainsaw-load /dev/null -- "$CHAINSAW" hunt -q --skip-errors -s "$RULES" --mapping "$MAPPING" "$WORK/one" --jsonl
    run chainsaw "$WORK/chainsaw.jsonl" -- "$CHAINSAW" hunt -q --skip-errors -s "$RULES" --mapping "$MAPPING" "$EVTX" --jsonl
  done
  HAVE_CHAINSAW=1
fi

col() { cut -f"$2" "$WORK/$1.tsv" | median; }
row() {
  local name=$1 label=$2 hits=$3
  local load load_cpu wall cpu kib
  load=$(col "$name-load" 1)
  load_cpu=$(col "$name-load" 2)
  wall=$(col "$name" 1)
  cpu=$(col "$name" 2)
  kib=$(col "$name" 3)
  awk -v l="$label" -v load="$load" -v lcpu="$load_cpu" -v wall="$wall" -v cpu="$cpu" -v kib="$kib" -v n="$EVENTS" -v hits="$hits" 'BEGIN {
    w = wall > 0 ? n / wall : 0
    scan = cpu - lcpu; c = scan > 0 ? n / scan : 0
    printf "| %s | %.2f | %.2f | %.2f | %d | %d | %.0f | %s |\n", l, load, wall, cpu, w, c, kib / 1024, hits }'
}

echo
echo "Corpus: $FILES .evtx files, $(awk -v b="$BYTES" 'BEGIN {printf "%.0f", b / 1e6}') MB, $EVENTS events ($EVTX)"
echo "Rules: $RULES ($LOADED loaded by mamori). Median of $RUNS runs. $(nproc) cores."
echo
echo "| tool | rule load + 1 small file (s) | corpus wall (s) | corpus CPU (s) | events/s, all in (wall) | events/s per core, after the rules are loaded | peak RSS (MiB) | detections |"
echo "|---|---|---|---|---|---|---|---|"
row mamori "mamori detect scan" "$DETECTIONS"
if [[ -n "$HAVE_CHAINSAW" ]]; then
  row chainsaw "chainsaw hunt $("$CHAINSAW" --version | awk '{print $2}')" "$(wc -l <"$WORK/chainsaw.jsonl")"
else
  echo "| chainsaw | (not run: set CHAINSAW) | | | | | | |"
fi
echo
echo "Targets (issue #7): rule load ≤ 1 s, ≥ 25,000 events/s per core, peak memory ≤ 512 MB."
