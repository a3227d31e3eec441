#!/usr/bin/env bash
# Throw-away OpenLDAP directory for the test suites, shaped like a small clinic's Active Directory.
#
#   .ci/ldap.sh start   create (first time) and start the server; idempotent
#   .ci/ldap.sh stop    stop the server if it is running; idempotent
#   .ci/ldap.sh status  exit 0 when the server answers (search of the base entry as admin)
#
# Directory: ${MAMORI_TEST_LDAP_DIR:-/tmp/mamori-ldap} (mode 0700): slapd.conf, schema/, db/ (mdb),
#            TLS files, slapd.pid, log in slapd.log
# Listens:   ldap://127.0.0.1:${MAMORI_TEST_LDAP_PORT:-23389} (StartTLS offered)
#            ldaps://127.0.0.1:${MAMORI_TEST_LDAPS_PORT:-23636}
# Suffix:    dc=clinic,dc=example
# Admin:     cn=admin,dc=clinic,dc=example / mamori-ldap: reads everything, writes nothing (the
#            test suites share the data; change clinic.ldif instead). An ordinary entry, not
#            slapd's rootdn (see admin_ldif below); there is no rootdn.
#   export MAMORI_TEST_LDAP=ldap://127.0.0.1:23389
#
# Entries:   tests/fixtures/ldap/clinic.ldif (its header lists every value) plus
#            ${MAMORI_TEST_LDAP_BULK:-1200} generated users bulk0001… in ou=Bulk, so that
#            (objectClass=user) finds 9 + N entries. A benchmark sets e.g. MAMORI_TEST_LDAP_BULK=20000.
# Schema:    core, cosine, inetorgperson, nis (msuser.schema needs its homeDirectory), and from
#            tests/fixtures/ldap: msuser.schema (the distribution's, with matching rules added:
#            see its header) and ad-domain.schema (securityPrincipal and domainDNS classes).
#
# The database is built with slapadd when it is missing, and rebuilt (server stopped first when
# running) whenever its inputs differ from the ones it was built from: the fixture files, the
# bulk count, or this script. So `MAMORI_TEST_LDAP_BULK=20000 .ci/ldap.sh start` after a default start
# rebuilds with 20000, and the next plain start rebuilds with 1200. The TLS files are kept.
# Otherwise start keeps the database (it only starts slapd, well under a second).
#
# Access:    without a bind only the root DSE and the schema can be read; any operation on
#            dc=clinic,dc=example fails with "Server is unwilling to perform (53), additional
#            info: authentication required" (AD answers operationsError (1) there). Bound
#            users other than the admin (none in the fixtures) may read.
# Limits:    slapd's default size limit of 500 entries per search applies to everyone, the admin
#            too: without the paged-results control a search stops at 500 ("Size limit exceeded",
#            4); with it all entries come back, whatever the page size (AD would cap a page at its
#            MaxPageSize, 1000; slapd takes the size asked for).
# Not AD:    no memberOf on users (groups carry member), no LDAP_MATCHING_RULE_IN_CHAIN
#            (1.2.840.113556.1.4.1941: matches nothing), (objectCategory=person) matches nothing
#            (AD expands it); 1.2.840.113556.1.4.803/804 (bit and/or) do work.
# TLS:       at first start a throw-away CA ($DIR/ca.pem) and a server certificate for 127.0.0.1 /
#            localhost signed by it are made with openssl; clients trust ca.pem
#            (LDAPTLS_CACERT=$DIR/ca.pem for the OpenLDAP tools, which check ldaps://localhost
#            against the machine's own hostname instead: use 127.0.0.1 with them).
#
# The ports sit below the kernel's ephemeral range (32768-60999 on Linux): a port inside it can
# be held for a moment by any outgoing connection on the machine (the test suites open many),
# and the server then fails to bind. Starting also retries a few times for the same reason.
#
# Uses the distribution's slapd (Debian: apt-get install slapd ldap-utils), never its system
# instance (/etc/ldap/slapd.d). slapd runs as the invoking user, root included; the directory
# must belong to that user.
set -euo pipefail

LDAP_DIR="${MAMORI_TEST_LDAP_DIR:-/tmp/mamori-ldap}"
LDAP_PORT="${MAMORI_TEST_LDAP_PORT:-23389}"
LDAPS_PORT="${MAMORI_TEST_LDAPS_PORT:-23636}"
BULK="${MAMORI_TEST_LDAP_BULK:-1200}"
HOST=127.0.0.1
SUFFIX="dc=clinic,dc=example"
ADMIN_DN="cn=admin,$SUFFIX"
ADMIN_PASSWORD=mamori-ldap
LDAP_URL="ldap://$HOST:$LDAP_PORT"
LDAPS_URL="ldaps://$HOST:$LDAPS_PORT"

SCRIPT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
REPO="$(cd "$(dirname "$SCRIPT")/.." && pwd)"
FIXTURES="$REPO/tests/fixtures/ldap"
SYSTEM_SCHEMA=/etc/ldap/schema
# Order matters: msuser.schema refers to attribute types of all the ones before it.
SCHEMAS=("$SYSTEM_SCHEMA/core.schema" "$SYSTEM_SCHEMA/cosine.schema" "$SYSTEM_SCHEMA/inetorgperson.schema"
  "$SYSTEM_SCHEMA/nis.schema" "$FIXTURES/msuser.schema" "$FIXTURES/ad-domain.schema")
FIXTURE_LDIF="$FIXTURES/clinic.ldif"

CONF="$LDAP_DIR/slapd.conf"
DB="$LDAP_DIR/db"
LOG="$LDAP_DIR/slapd.log"
PIDFILE="$LDAP_DIR/slapd.pid"
URLS_FILE="$LDAP_DIR/slapd.urls"  # the URLs the running server was started with
STAMP="$DB/mamori-fixture.sha256" # what the database was built from
CA="$LDAP_DIR/ca.pem"

log() { printf '[ldap.sh] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

need_tools() {
  local tool
  for tool in slapd slapadd slaptest slappasswd; do
    command -v "$tool" >/dev/null 2>&1 || [[ -x "/usr/sbin/$tool" ]] \
      || die "$tool not found (apt-get install slapd ldap-utils)"
  done
  for tool in ldapsearch openssl sha256sum; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found (apt-get install ldap-utils openssl)"
  done
  local file
  for file in "${SCHEMAS[@]}" "$FIXTURE_LDIF"; do
    [[ -r "$file" ]] || die "missing $file"
  done
  [[ "$BULK" =~ ^[0-9]+$ ]] || die "MAMORI_TEST_LDAP_BULK must be a number of users, not '$BULK'"
  BULK=$((10#$BULK))
}

# slapd and friends live in /usr/sbin, which a normal user's PATH may lack.
sbin() {
  local tool="$1"
  shift
  if command -v "$tool" >/dev/null 2>&1; then "$tool" "$@"; else "/usr/sbin/$tool" "$@"; fi
}

server_pid() {
  local pid
  [[ -f "$PIDFILE" ]] || return 1
  pid="$(head -n 1 "$PIDFILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  # Only a live slapd counts: the pid of a crashed server may belong to another process now.
  [[ "$(cat "/proc/$pid/comm" 2>/dev/null || true)" == slapd ]] || return 1
  [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)" != Z ]] || return 1
  printf '%s\n' "$pid"
}

is_running() { server_pid >/dev/null; }

admin_search() {
  # admin_search URL [ldapsearch args…]: base entry search as admin, quiet.
  local url="$1"
  shift
  LDAPTLS_CACERT="$CA" LDAPTLS_REQCERT=demand ldapsearch -LLL -x -o nettimeout=5 -H "$url" \
    -D "$ADMIN_DN" -w "$ADMIN_PASSWORD" -b "$SUFFIX" -s base "$@" dn >/dev/null 2>&1
}

answers() { admin_search "$LDAP_URL" && admin_search "$LDAPS_URL"; }

show_log() {
  if [[ -f "$LOG" ]]; then
    log "---- last lines of $LOG ----"
    tail -n 40 "$LOG" >&2 || true
  fi
}

prepare_dir() {
  mkdir -p "$LDAP_DIR"
  [[ -O "$LDAP_DIR" ]] || die "$LDAP_DIR belongs to $(stat -c %U "$LDAP_DIR"), not $(id -un): run as that user or set MAMORI_TEST_LDAP_DIR"
  chmod 0700 "$LDAP_DIR"
}

ensure_tls() {
  local key="$LDAP_DIR/server.key" cert="$LDAP_DIR/server.pem"
  if [[ -s "$CA" && -s "$LDAP_DIR/ca.key" && -s "$key" && -s "$cert" ]] \
    && openssl x509 -checkend 86400 -noout -in "$cert" >/dev/null 2>&1; then
    return 0
  fi
  log "making a throw-away CA ($CA) and a server certificate for $HOST / localhost"
  (
    umask 077
    cd "$LDAP_DIR"
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -keyout ca.key -out ca.pem \
      -subj "/O=mamori test/CN=mamori test LDAP CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
    openssl req -newkey rsa:2048 -nodes -sha256 -keyout server.key -out server.csr \
      -subj "/O=mamori test/CN=localhost"
    cat >server.ext <<EOF
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
EOF
    openssl x509 -req -sha256 -days 3650 -in server.csr -CA ca.pem -CAkey ca.key \
      -CAcreateserial -extfile server.ext -out server.pem
    rm -f server.csr server.ext ca.srl
    chmod 0644 ca.pem server.pem
  ) >"$LDAP_DIR/openssl.log" 2>&1 || { cat "$LDAP_DIR/openssl.log" >&2; die "openssl failed"; }
}

write_conf() {
  local schema
  mkdir -p "$LDAP_DIR/schema" "$DB"
  for schema in "${SCHEMAS[@]}"; do
    cp "$schema" "$LDAP_DIR/schema/"
  done
  {
    echo "# Generated by .ci/ldap.sh on each start; edits are lost."
    for schema in "${SCHEMAS[@]}"; do
      echo "include $LDAP_DIR/schema/$(basename "$schema")"
    done
    cat <<EOF

modulepath /usr/lib/ldap
moduleload back_mdb

pidfile $PIDFILE
argsfile $LDAP_DIR/slapd.args

TLSCACertificateFile $CA
TLSCertificateFile $LDAP_DIR/server.pem
TLSCertificateKeyFile $LDAP_DIR/server.key

# Root DSE and schema: readable by anyone (clients discover supportedControl there).
access to dn.base="" by * read
access to dn.base="cn=Subschema" by * read

database mdb
suffix "$SUFFIX"
directory $DB
# mdb's default map size (10 MiB) is too small for the 20000-user benchmark; the file is sparse.
maxsize 1073741824
index objectClass eq
index sAMAccountName eq
index member eq

# Like AD, which refuses searches before a bind: no anonymous operation on the data.
require authc
access to attrs=userPassword
  by dn.exact="$ADMIN_DN" read
  by anonymous auth
  by * none
access to *
  by users read
  by * none

# slapd's default 500 (soft = hard). prtotal: by default a paged search may not return more
# than the hard limit either; unlimited lets paging go past 500, as AD's does past MaxPageSize.
sizelimit size.soft=500 size.hard=500 size.prtotal=unlimited
EOF
  } >"$CONF.new"
  mv "$CONF.new" "$CONF"
  sbin slaptest -u -f "$CONF" >"$LDAP_DIR/slaptest.log" 2>&1 \
    || { cat "$LDAP_DIR/slaptest.log" >&2; die "slaptest refused $CONF"; }
}

# "<bulk count> <digest of the fixture files and this script>"
fixture_stamp() {
  printf '%s %s\n' "$BULK" "$(sha256sum "${SCHEMAS[@]}" "$FIXTURE_LDIF" "$SCRIPT" | awk '{print $1}' \
    | sha256sum | awk '{print $1}')"
}

db_is_current() {
  [[ -f "$DB/data.mdb" && -f "$STAMP" && "$(cat "$STAMP")" == "$(fixture_stamp)" ]]
}

# Why the database is not current, for the log.
stale_reason() {
  local built_bulk built_digest bulk digest
  read -r built_bulk built_digest <"$STAMP" 2>/dev/null || true
  read -r bulk digest < <(fixture_stamp)
  [[ "${built_bulk:-}" =~ ^[0-9]+$ ]] || built_bulk="an unknown number of"
  if [[ "$built_bulk" != "$bulk" ]]; then
    printf 'it holds %s bulk users, MAMORI_TEST_LDAP_BULK asks for %s' "$built_bulk" "$bulk"
  else
    printf 'the fixture files or this script changed since it was built'
  fi
}

# The admin: an ordinary entry, not the rootdn, because slapd exempts its rootdn from size
# limits (a limits statement does not change that), and the tests need the admin to meet them.
admin_ldif() {
  cat <<EOF
dn: $ADMIN_DN
objectClass: top
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: admin
description: directory administrator of the test directory (.ci/ldap.sh)
userPassword: $(sbin slappasswd -h '{SSHA}' -s "$ADMIN_PASSWORD")

EOF
}

# LDIF for the bulk users on stdout (values documented in the header of clinic.ldif).
bulk_ldif() {
  awk -v n="$BULK" -v suffix="$SUFFIX" '
    function b64_le32(v,   b0, b1, b2, b3) {
      # base64 of v as 4 little-endian bytes; mawk has no bit operators
      b0 = v % 256; b1 = int(v / 256) % 256; b2 = int(v / 65536) % 256; b3 = int(v / 16777216) % 256
      return b64_4(b0, b1, b2, b3)
    }
    function b64_be32(v) {
      return b64_4(int(v / 16777216) % 256, int(v / 65536) % 256, int(v / 256) % 256, v % 256)
    }
    function b64_4(b0, b1, b2, b3) {
      return substr(A, int(b0 / 4) + 1, 1) substr(A, (b0 % 4) * 16 + int(b1 / 16) + 1, 1) \
        substr(A, (b1 % 16) * 4 + int(b2 / 64) + 1, 1) substr(A, b2 % 64 + 1, 1) \
        substr(A, int(b3 / 4) + 1, 1) substr(A, (b3 % 4) * 16 + 1, 1) "=="
    }
    BEGIN {
      A = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
      # first 24 bytes of S-1-5-21-3623811015-3361044348-30300820-<rid>; then the RID
      SIDP = "AQUAAAAAAAUVAAAAx/f+13x3VciUWs4B"
      # first 12 bytes of the objectGUIDs; then the RID big-endian
      GUIDP = "bWFtb3JpobLD1OX2"
      SD = "AQAEgBQAAAAwAAAAAAAAAEwAAAABBQAAAAAABRUAAADH9/7XfHdVyJRazgEAAgAAAQUAAAAAAAUVAAAAx/f+13x3VciUWs4BAAIAAAIAVAADAAAAAAAkAP8BDwABBQAAAAAABRUAAADH9/7XfHdVyJRazgEAAgAAAAAUAP8BDwABAQAAAAAABRIAAAAAABQAlAACAAEBAAAAAAAFCwAAAA=="
      w = length(n ""); if (w < 4) w = 4
      for (i = 1; i <= n; i++) {
        num = sprintf("%0" w "d", i); sam = "bulk" num; rid = 10000 + i
        printf "dn: cn=%s,ou=Bulk,%s\n", sam, suffix
        print "objectClass: top\nobjectClass: person\nobjectClass: organizationalPerson"
        print "objectClass: user\nobjectClass: securityPrincipal"
        printf "cn: %s\nsn: テスト利用者\ngivenName: %s\ndisplayName: テスト利用者 %s\n", sam, num, num
        printf "sAMAccountName: %s\nuserPrincipalName: %s@clinic.example\n", sam, sam
        printf "employeeNumber: B%s\nuserAccountControl: 512\n", num
        print "pwdLastSet: 134247456000000000\nlastLogonTimestamp: 134379648000000000"
        print "accountExpires: 9223372036854775807\nprimaryGroupID: 513\nsAMAccountType: 805306368"
        printf "objectSid:: %s%s\nobjectGUID:: %s%s\n", SIDP, b64_le32(rid), GUIDP, b64_be32(rid)
        printf "instanceType: 4\nnTSecurityDescriptor:: %s\n", SD
        printf "objectCategory: cn=Person,cn=Schema,cn=Configuration,%s\n\n", suffix
      }
    }'
}

build_db() {
  local started
  started="$(date +%s%N)"
  log "building the database in $DB: $FIXTURE_LDIF + $BULK bulk users"
  rm -rf "$DB"
  mkdir -p "$DB"
  # -q: no consistency checks beyond the schema (fine for a fresh, throw-away database).
  if ! { cat "$FIXTURE_LDIF"; echo; admin_ldif; bulk_ldif; } \
    | sbin slapadd -q -f "$CONF" -b "$SUFFIX" >"$LDAP_DIR/slapadd.log" 2>&1; then
    cat "$LDAP_DIR/slapadd.log" >&2
    rm -rf "$DB"
    die "slapadd failed (log above: $LDAP_DIR/slapadd.log)"
  fi
  fixture_stamp >"$STAMP"
  log "database built in $((($(date +%s%N) - started) / 1000000)) ms"
}

launch() {
  local attempt pid i
  for attempt in 1 2 3 4 5; do
    log "starting slapd on $LDAP_URL and $LDAPS_URL (log: $LOG)"
    printf '\n==== %s start ====\n' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')" >>"$LOG"
    rm -f "$PIDFILE"
    # -d keeps slapd in the foreground and sends its log to the log file (the daemon would log
    # to syslog only); setsid detaches it from this shell. A container's large open-files
    # limit makes slapd allocate tables for all of them: 1024 descriptors are plenty here.
    (
      cd /
      ulimit -n 1024 2>/dev/null || true
      exec setsid "$(command -v slapd || echo /usr/sbin/slapd)" -f "$CONF" -h "$LDAP_URL/ $LDAPS_URL/" \
        -d stats </dev/null >>"$LOG" 2>&1
    ) &
    pid=$!
    for ((i = 0; i < 100; i++)); do
      # (alive first: a server of another directory may hold the ports and answer)
      if kill -0 "$pid" 2>/dev/null && answers && kill -0 "$pid" 2>/dev/null; then
        printf '%s %s\n' "$LDAP_URL" "$LDAPS_URL" >"$URLS_FILE"
        return 0
      fi
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
      # alive but not answering within 20 s: stop it before trying again
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
    if ((attempt == 5)); then
      show_log
      die "slapd did not start (are ports $LDAP_PORT / $LDAPS_PORT taken by another server?)"
    fi
    log "start attempt $attempt failed; retrying in 2 s"
    sleep 2
  done
}

stop_server() {
  local pid i
  pid="$(server_pid)" || return 0
  log "stopping slapd (pid $pid, $LDAP_DIR)"
  kill -TERM "$pid"
  for ((i = 0; i < 300; i++)); do
    is_running || { rm -f "$PIDFILE" "$URLS_FILE"; return 0; }
    sleep 0.1
  done
  show_log
  die "slapd (pid $pid) did not stop within 30 s"
}

cmd_start() {
  need_tools
  prepare_dir
  ensure_tls
  if is_running; then
    if ! db_is_current; then
      log "the database must be rebuilt: stopping slapd first"
      stop_server
    elif [[ "$(cat "$URLS_FILE" 2>/dev/null || true)" != "$LDAP_URL $LDAPS_URL" ]]; then
      log "running on other ports ($(cat "$URLS_FILE" 2>/dev/null || echo unknown)): restarting"
      stop_server
    elif answers; then
      log "already running ($LDAP_DIR)"
    else
      log "running but not answering as admin: restarting"
      stop_server
    fi
  fi
  if ! is_running; then
    write_conf
    if ! db_is_current; then
      [[ -f "$STAMP" ]] && log "rebuilding the database: $(stale_reason)"
      build_db
    fi
    launch
  fi
  cat >&2 <<EOF
[ldap.sh] ready ($BULK bulk users)
  ldap:    $LDAP_URL
  ldaps:   $LDAPS_URL   (CA: $CA)
  bind DN: $ADMIN_DN
  password: $ADMIN_PASSWORD
  base:    $SUFFIX
  export MAMORI_TEST_LDAP=$LDAP_URL
EOF
}

cmd_stop() {
  if is_running; then
    stop_server
  else
    log "not running"
  fi
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) is_running && admin_search "$LDAP_URL" ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
