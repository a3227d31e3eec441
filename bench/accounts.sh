#!/usr/bin/env bash
# Directory sync benchmark, printed as a Markdown table: 20,000 directory users read from a real
# OpenLDAP server (AD-style entries, .ci/ldap.sh) and diffed against a 2,000-person roster.
# Target (issue #8): the whole sync ≤ 10 s on this machine.
#
#   bash bench/accounts.sh            # MAMORI_BENCH_USERS=20000, MAMORI_BENCH_ROSTER=2000
#
# It starts its own directory (MAMORI_TEST_LDAP_DIR=/tmp/mamori-ldap-bench, ports 23489/23736) so the
# test directory is left alone, builds the release binary, and makes a fresh data directory
# holding the domain as a ledger system and a roster whose staff numbers match the first
# 2,000 generated users. Rows:
#   baseline   ldapsearch (OpenLDAP's client) paging through the same users to /dev/null — what
#              reading the directory costs on its own
#   first      `mamori accounts sync ldap`: read, plan, and add every account in one transaction
#   again      the same sync over the result: nothing changes
#   dry run    read and plan only
set -euo pipefail
cd "$(dirname "$0")/.."
USERS=${MAMORI_BENCH_USERS:-20000}
ROSTER=${MAMORI_BENCH_ROSTER:-2000}
[[ -x /usr/bin/time ]] || { echo "GNU time is needed: apt-get install time" >&2; exit 1; }
command -v ldapsearch >/dev/null || { echo "ldapsearch is needed: apt-get install ldap-utils" >&2; exit 1; }
export MAMORI_TEST_LDAP_DIR=/tmp/mamori-ldap-bench MAMORI_TEST_LDAP_PORT=23489 MAMORI_TEST_LDAPS_PORT=23736
export MAMORI_TEST_LDAP_BULK=$((USERS - 9))
URL="ldap://127.0.0.1:$MAMORI_TEST_LDAP_PORT"
BASE="dc=clinic,dc=example"
BIND="cn=admin,$BASE"

cargo build --release -p mamori-server >&2
BIN=$PWD/target/release/mamori
echo "starting the directory with $USERS users…" >&2
.ci/ldap.sh start >&2
WORK=$(mktemp -d)
trap '.ci/ldap.sh stop >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
export MAMORI_AUTH__ARGON2_MEMORY_KIB=8192 MAMORI_AUTH__ARGON2_ITERATIONS=1
DATA=$WORK/data
printf mamori-ldap >"$WORK/ldap.pass"  # no line end: ldapsearch -y takes the whole file
chmod 600 "$WORK/ldap.pass"
echo "bench-password-long-enough-1" >"$WORK/admin.pass"
"$BIN" setup --data-dir "$DATA" --facility-kind hospital --facility-name ベンチ病院 --beds 300 \
  --admin-login kanri --admin-name 管理者 --admin-password-file "$WORK/admin.pass" >/dev/null
printf '\xef\xbb\xbfシステム名,種類,提供形態\n院内ドメイン,other,on_premises\n' >"$WORK/systems.csv"
"$BIN" import systems "$WORK/systems.csv" --data-dir "$DATA" >"$WORK/systems.out" || { cat "$WORK/systems.out" >&2; exit 1; }
# The roster: the staff numbers of the first $ROSTER generated users (B00001 … when 5 digits).
W=$(( ${#MAMORI_TEST_LDAP_BULK} > 4 ? ${#MAMORI_TEST_LDAP_BULK} : 4 ))
{
  printf '\xef\xbb\xbf職員番号,氏名,フリガナ,職種,所属\n'
  for i in $(seq 1 "$ROSTER"); do
    printf "B%0${W}d,職員 %d,ショクイン,nurse,病棟\n" "$i" "$i"
  done
} >"$WORK/persons.csv"
"$BIN" import persons "$WORK/persons.csv" --data-dir "$DATA" >"$WORK/persons.out" || { cat "$WORK/persons.out" >&2; exit 1; }

# run NAME -- command…: "wall_s peak_kib" appended to $WORK/NAME
run() {
  local name=$1
  shift 2
  /usr/bin/time -f '%e %M' -o "$WORK/$name.time" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" ||
    { echo "$name failed:" >&2; cat "$WORK/$name.err" "$WORK/$name.out" >&2; exit 1; }
  cat "$WORK/$name.time"
}
SYNC=("$BIN" accounts sync ldap --url "$URL" --bind-dn "$BIND" --password-file "$WORK/ldap.pass"
  --base "$BASE" --system 院内ドメイン --data-dir "$DATA")
base=$(run baseline -- ldapsearch -x -LLL -H "$URL" -D "$BIND" -y "$WORK/ldap.pass" -b "$BASE" \
  -E pr=400/noprompt "(objectClass=user)" sAMAccountName employeeNumber userAccountControl \
  lastLogonTimestamp pwdLastSet displayName)
first=$(run first -- "${SYNC[@]}")
again=$(run again -- "${SYNC[@]}")
dry=$(run dry -- "${SYNC[@]}" --dry-run)
read_users=$(grep -o '[0-9]* users' "$WORK/first.err" | head -1)
added=$(grep -o '追加 added [0-9]*' "$WORK/first.out" | head -1 | grep -o '[0-9]*$')
linked=$((added - $(grep -o '未連携 not linked to the roster ([0-9]*)' "$WORK/first.out" | grep -o '[0-9]*' || echo 0)))
row() { awk -v l="$1" -v t="$2" -v n="$3" 'BEGIN { split(t, a, " "); printf "| %s | %.2f | %.0f | %s |\n", l, a[1], a[2] / 1024, n }'; }
echo
echo "Directory: $read_users ($(slapd -VV 2>&1 | grep -o 'slapd [0-9.]*' | head -1), AD-style entries, paged 400 a page). Roster: $ROSTER persons. $(nproc) cores."
echo
echo "| step | wall (s) | peak RSS (MiB) | result |"
echo "|---|---|---|---|"
row "baseline: ldapsearch, same users, paged" "$base" "$(grep -c '^dn:' "$WORK/baseline.out") entries"
row "first sync (add every account)" "$first" "$added added, $linked linked to the roster"
row "second sync (nothing changes)" "$again" "$(grep -o '変更なし unchanged [0-9]*' "$WORK/again.out")"
row "dry run (read and plan only)" "$dry" "nothing written"
echo
echo "Target (issue #8): sync of 20,000 directory users and diff against a 2,000-person roster ≤ 10 s."
