#!/usr/bin/env bash
# The agent's footprint on this machine, against tools that do part of the same work:
#
#   bash bench/agent.sh            # AGENT_RUNS=5, AGENT_SPOOL_EVENTS=100000
#
# - full inventory (target #9: ≤ 3 s) against `dpkg-query -W`, which lists the packages only,
#   and `apt-get -s upgrade`, which finds the pending upgrades (its security ones are counted);
# - the spool: appending device events in synced batches of 100, then reading and acknowledging
#   them all, against `dd` writing the same bytes with a sync per 100 records' worth.
#
# Prints a Markdown table (median wall time of AGENT_RUNS runs, peak RSS). Needs GNU time.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${AGENT_RUNS:-5}
EVENTS=${AGENT_SPOOL_EVENTS:-100000}
command -v /usr/bin/time >/dev/null || { echo "needs GNU time (/usr/bin/time)" >&2; exit 2; }

cargo build --release -q -p mamori-agent --example agent_bench >&2
BIN=target/release/examples/agent_bench
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# median wall seconds and max RSS (MiB) of RUNS runs of a command; last stdout line kept.
measure() {
  local walls=() rss=0 out=""
  for _ in $(seq "$RUNS"); do
    rm -rf "$TMP/spool"
    out=$(/usr/bin/time -f '%e %M' -o "$TMP/t" "$@" 2>/dev/null | tail -1 || true)
    read -r w m < "$TMP/t"
    walls+=("$w")
    (( m > rss )) && rss=$m
  done
  local med
  med=$(printf '%s\n' "${walls[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  echo "$med|$((rss / 1024))|$out"
}

cores=$(nproc)
echo "Machine: $cores cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(. /etc/os-release; echo "$PRETTY_NAME"). Median of $RUNS runs."
echo
echo "| step | wall (s) | peak RSS (MiB) | result |"
echo "|---|---|---|---|"
if command -v dpkg-query >/dev/null; then
  IFS='|' read -r w r o < <(measure sh -c 'dpkg-query -W | wc -l')
  echo "| baseline: dpkg-query -W (packages only) | $w | $r | $o packages |"
fi
if command -v apt-get >/dev/null; then
  IFS='|' read -r w r o < <(measure sh -c 'apt-get -s upgrade 2>/dev/null | grep "^Inst" | grep -ic security')
  echo "| baseline: apt-get -s upgrade (security upgrades only) | $w | $r | $o security upgrades |"
fi
IFS='|' read -r w r o < <(measure "$BIN" inventory)
echo "| mamori-agent full inventory | $w | $r | $o |"
bytes=$((EVENTS * 190))
IFS='|' read -r w r o < <(measure sh -c "dd if=/dev/zero of=$TMP/dd bs=19000 count=$((EVENTS / 100)) oflag=dsync 2>/dev/null; echo $bytes bytes")
echo "| baseline: dd, same bytes, a sync per 100 records | $w | $r | $o |"
IFS='|' read -r w r o < <(measure "$BIN" spool "$TMP/spool" "$EVENTS")
echo "| mamori-agent spool: append (synced per 100), read, ack | $w | $r | $o |"
IFS='|' read -r w r o < <(measure sh -c "rm -rf $TMP/lo; mkdir -p $TMP/lo; $BIN log-only $TMP/lo 1000")
echo "| baseline: the durable log alone (one synced spool append per device) | $w | $r | $o |"
IFS='|' read -r w r o < <(measure sh -c "rm -rf $TMP/usb; mkdir -p $TMP/usb; $BIN usb $TMP/usb 1000")
echo "| mamori-agent USB decision: uevent → signed policy verified → sysfs read → durable log → authorized | $w | $r | $o |"

# Idle footprint: the agent as it runs on a PC (USB control on a recorded sysfs tree, the real
# kernel uevent socket, the media watch on the real mount table, the cycle every 15 minutes
# against a server it cannot reach — a PC on a closed network), watched for IDLE seconds after
# its first cycle. The hour is projected from both: four cycles and the idle rate between them.
IDLE=${AGENT_IDLE_SECONDS:-120}
cargo build --release -q -p mamori-agent --bin mamori-agent >&2
AGENT=target/release/mamori-agent
"$BIN" state "$TMP/idle" >/dev/null
"$AGENT" --state-dir "$TMP/idle/state" run --sysfs "$TMP/idle/sys" > "$TMP/idle.log" 2>&1 &
pid=$!
sleep 10
kill -0 "$pid" 2>/dev/null || { cat "$TMP/idle.log" >&2; echo "the agent stopped" >&2; exit 1; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
t1=$(ticks "$pid")
sleep "$IDLE"
t2=$(ticks "$pid")
rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
kill "$pid"; wait "$pid" 2>/dev/null || true
sleep "$IDLE" & spid=$!
sleep 1
srss=$(awk '/^VmRSS/ {print $2}' "/proc/$spid/status")
kill "$spid"; wait "$spid" 2>/dev/null || true
clk=$(getconf CLK_TCK)
read -r first idle hour < <(awk -v t1="$t1" -v t2="$t2" -v clk="$clk" -v idle="$IDLE" 'BEGIN {
  first = t1 / clk; rate = (t2 - t1) / clk / idle;
  printf "%.2f %.3f %.3f\n", first, rate * 100, (4 * first + rate * 3600) / 3600 * 100 }')
echo "| baseline: an idle process (sleep), resident memory | – | $((srss / 1024)) | floor of any process |"
echo "| mamori-agent running: first cycle (inventory, offline upload) | – | $((hwm / 1024)) peak | ${first} s CPU |"
echo "| mamori-agent running: idle after it, ${IDLE} s | – | $((rss / 1024)) | ${idle} % of a core |"
echo "| mamori-agent running: projected hour (4 cycles + idle) | – | – | ${hour} % of a core |"
echo
echo "Targets (issue #9): full inventory ≤ 3 s; decision latency p99 ≤ 100 ms; idle RSS ≤ 30 MB; CPU ≤ 0.5 % of a core over an hour."
