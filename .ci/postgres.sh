#!/usr/bin/env bash
# Throw-away PostgreSQL cluster for the test suites.
#
#   .ci/postgres.sh start   create (first time) and start the cluster, ensure the role; idempotent
#   .ci/postgres.sh stop    stop the cluster if it is running; idempotent
#   .ci/postgres.sh status  exit 0 when it is running
#
# Cluster:  ${MAMORI_PG_DIR:-/tmp/mamori-pg}/data, unix socket in ${MAMORI_PG_DIR}, log in
#           ${MAMORI_PG_DIR}/postgresql.log
# Listens:  127.0.0.1:${MAMORI_PG_PORT:-25432} only (TCP auth scram-sha-256; the unix socket is trust, and only
#           reachable by the cluster owner because the directory is mode 0700)
# Role:     mamori / mamori, LOGIN CREATEDB
#   export MAMORI_TEST_POSTGRES=postgres://mamori:mamori@127.0.0.1:25432/postgres
#
# The port sits below the kernel's ephemeral range (32768-60999 on Linux): a port inside it can
# be held for a moment by any outgoing connection on the machine (the test suites open many),
# and the server then fails to bind. Starting also retries a few times for the same reason.
#
# Uses the distribution's binaries (/usr/lib/postgresql/<version>/bin, newest version found).
# When run as root the server runs as the `postgres` OS user (PostgreSQL refuses to run as root).
# Durability settings (fsync, synchronous_commit, full_page_writes) are left at their defaults.
set -euo pipefail

PG_DIR="${MAMORI_PG_DIR:-/tmp/mamori-pg}"
PG_DATA="$PG_DIR/data"
PG_LOG="$PG_DIR/postgresql.log"
PG_PORT="${MAMORI_PG_PORT:-25432}"
PG_HOST=127.0.0.1
ROLE=mamori
ROLE_PASSWORD=mamori

log() { printf '[postgres.sh] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

find_bindir() {
  local dir best=""
  # Newest major version wins (sort -V handles 9.6 < 15 < 16).
  for dir in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V); do
    [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]] && best="$dir"
  done
  [[ -n "$best" ]] || die "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin (apt-get install postgresql)"
  printf '%s\n' "$best"
}

BIN="$(find_bindir)"

if [[ "$(id -u)" == 0 ]]; then
  id postgres >/dev/null 2>&1 || die "running as root but there is no 'postgres' OS user"
  RUN_AS=postgres
  # runuser is util-linux (always present on Debian); su as fallback.
  as_owner() {
    if command -v runuser >/dev/null 2>&1; then
      (cd / && runuser -u postgres -- "$@")
    else
      (cd / && su -s /bin/sh postgres -c "$(printf '%q ' "$@")")
    fi
  }
else
  RUN_AS="$(id -un)"
  as_owner() { (cd / && "$@"); }
fi

is_running() {
  local pid state
  [[ -f "$PG_DATA/PG_VERSION" && -f "$PG_DATA/postmaster.pid" ]] || return 1
  # A postmaster killed with -9 can linger as a zombie, which pg_ctl status counts as alive.
  pid="$(head -n 1 "$PG_DATA/postmaster.pid")"
  state="$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)"
  [[ -n "$state" && "$state" != Z ]] || return 1
  as_owner "$BIN/pg_ctl" status -D "$PG_DATA" >/dev/null 2>&1
}

show_log() {
  if [[ -f "$PG_LOG" ]]; then
    log "---- last lines of $PG_LOG ----"
    tail -n 40 "$PG_LOG" >&2 || true
  fi
}

init_cluster() {
  log "initdb in $PG_DATA ($("$BIN/initdb" --version), owner $RUN_AS)"
  mkdir -p "$PG_DIR"
  # A half-made data dir from an interrupted initdb is useless: start over.
  rm -rf "$PG_DATA"
  if [[ "$RUN_AS" != "$(id -un)" ]]; then
    chown "$RUN_AS:" "$PG_DIR"
  fi
  chmod 0700 "$PG_DIR"
  # C collation + UTF8: byte-order sorting, like SQLite's default BINARY collation.
  as_owner "$BIN/initdb" -D "$PG_DATA" -U postgres --encoding=UTF8 --no-locale \
    --auth-local=trust --auth-host=scram-sha-256 >"$PG_DIR/initdb.log" 2>&1 \
    || { cat "$PG_DIR/initdb.log" >&2; die "initdb failed"; }
  # Listen on loopback TCP only; socket in our own directory, not /var/run/postgresql.
  as_owner tee -a "$PG_DATA/postgresql.conf" >/dev/null <<EOF

# --- mamori CI (.ci/postgres.sh) ---
listen_addresses = '$PG_HOST'
port = $PG_PORT
unix_socket_directories = '$PG_DIR'
password_encryption = 'scram-sha-256'
# test suites open a pool per test; the default 100 is tight when they run in parallel
max_connections = 200
EOF
}

ensure_role() {
  as_owner "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_DIR" -p "$PG_PORT" -U postgres -d postgres <<EOF >/dev/null
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$ROLE') THEN
    CREATE ROLE $ROLE LOGIN CREATEDB PASSWORD '$ROLE_PASSWORD';
  ELSE
    ALTER ROLE $ROLE LOGIN CREATEDB PASSWORD '$ROLE_PASSWORD';
  END IF;
END
\$\$;
EOF
}

wait_ready() {
  local i
  for ((i = 0; i < 120; i++)); do
    if "$BIN/pg_isready" -q -h "$PG_HOST" -p "$PG_PORT" -d postgres; then
      return 0
    fi
    sleep 0.5
  done
  show_log
  die "server did not become ready on $PG_HOST:$PG_PORT within 60 s"
}

cmd_start() {
  if is_running; then
    log "already running ($PG_DATA)"
  else
    [[ -f "$PG_DATA/PG_VERSION" ]] || init_cluster
    log "starting on $PG_HOST:$PG_PORT (log: $PG_LOG)"
    # An existing cluster may have been made with another port: the last `port =` line wins.
    as_owner sed -i "s/^port = .*/port = $PG_PORT/" "$PG_DATA/postgresql.conf"
    local attempt
    for attempt in 1 2 3 4 5; do
      if as_owner "$BIN/pg_ctl" start -D "$PG_DATA" -l "$PG_LOG" -w -t 60 >/dev/null; then
        break
      fi
      if ((attempt == 5)); then
        show_log
        die "pg_ctl start failed (is port $PG_PORT taken by another server?)"
      fi
      log "start attempt $attempt failed; retrying in 2 s"
      sleep 2
    done
  fi
  wait_ready
  ensure_role
  log "ready: postgres://$ROLE:$ROLE_PASSWORD@$PG_HOST:$PG_PORT/postgres"
}

cmd_stop() {
  if is_running; then
    log "stopping ($PG_DATA)"
    as_owner "$BIN/pg_ctl" stop -D "$PG_DATA" -m fast -w -t 60 >/dev/null \
      || { show_log; die "pg_ctl stop failed"; }
  else
    log "not running"
  fi
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) is_running ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
