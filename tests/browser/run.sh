#!/usr/bin/env bash
# Browser end-to-end test: boots `mamori demo` on a free loopback port with a throw-away data
# directory and drives it with the system Chromium through playwright-core (run.mjs).
#
#   cargo build --release --bin mamori && tests/browser/run.sh
#
# Needs: node >= 20 + npm, /usr/bin/chromium (Debian package `chromium`), Japanese fonts
# (fonts-ipaexfont) for readable screenshots. No browser is downloaded.
# Environment: MAMORI_TEST_BIN (default target/release/mamori), MAMORI_TEST_CHROMIUM (default
# /usr/bin/chromium), MAMORI_TEST_DEMO_WAIT (seconds to wait for the demo's banner, default 60).
# Screenshots go to tests/browser/screenshots/ (git-ignored).
#
# The demo must print, on stdout, one line each:
#   URL: <base url>
#   LOGIN: <login id> <password>
#   TOTP: <base32 secret>
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BIN="${MAMORI_TEST_BIN:-$ROOT/target/release/mamori}"
WAIT_SECONDS="${MAMORI_TEST_DEMO_WAIT:-60}"

say() { printf '[browser] %s\n' "$*"; }
die() { printf '[browser] error: %s\n' "$*" >&2; exit 1; }

[[ -x "$BIN" ]] || die "$BIN is missing; build it first: cargo build --release --bin mamori"
command -v node >/dev/null || die "node is not installed"
command -v npm >/dev/null || die "npm is not installed"

cd "$HERE"

# --- dependencies (playwright-core only; it never downloads a browser) ---------------------
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
wanted="$(node -p 'require("./package.json").dependencies["playwright-core"]')"
have="$(node -p 'try { require("./node_modules/playwright-core/package.json").version } catch { "" }')"
if [[ "$have" == "$wanted" ]]; then
  say "playwright-core $have already installed"
elif [[ -f package-lock.json ]]; then
  say "npm ci (playwright-core $wanted)"
  npm ci --no-audit --no-fund </dev/null
else
  say "npm install (playwright-core $wanted)"
  npm install --no-audit --no-fund </dev/null
fi

# --- start the demo ------------------------------------------------------------------------
PORT="$(node -e '
  const s = require("net").createServer();
  s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });
')"
DATA_DIR="$(mktemp -d)"
LOG_DIR="$(mktemp -d)"
OUT="$LOG_DIR/demo.stdout"
ERR="$LOG_DIR/demo.stderr"
SERVER_PID=""

show_server_output() {
  say "---- demo stdout (last 100 lines) ----"
  tail -n 100 "$OUT" 2>/dev/null || true
  say "---- demo stderr (last 100 lines) ----"
  tail -n 100 "$ERR" 2>/dev/null || true
}

# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  local rc=$? i
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$SERVER_PID" 2>/dev/null; then
      say "demo did not stop within 10 s of SIGTERM; killing it"
      kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$DATA_DIR" "$LOG_DIR"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

: >"$OUT"
: >"$ERR"
say "starting: $BIN demo --listen 127.0.0.1:$PORT --data-dir $DATA_DIR"
"$BIN" demo --listen "127.0.0.1:$PORT" --data-dir "$DATA_DIR" >"$OUT" 2>"$ERR" </dev/null &
SERVER_PID=$!

field() { # first value of a `NAME: value` line on the demo's stdout
  { sed -n "s/^[[:space:]]*$1:[[:space:]]*//p" "$OUT" | head -n 1 | tr -d '\r'; } || true
}

URL="" LOGIN_LINE="" TOTP_SECRET=""
for ((i = 0; i < WAIT_SECONDS * 4; i++)); do
  URL="$(field URL)"
  LOGIN_LINE="$(field LOGIN)"
  TOTP_SECRET="$(field TOTP)"
  [[ -n "$URL" && -n "$LOGIN_LINE" && -n "$TOTP_SECRET" ]] && break
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    wait "$SERVER_PID" && status=0 || status=$?
    SERVER_PID=""
    show_server_output
    die "demo exited (status $status) before printing URL/LOGIN/TOTP"
  fi
  sleep 0.25
done
if [[ -z "$URL" || -z "$LOGIN_LINE" || -z "$TOTP_SECRET" ]]; then
  show_server_output
  die "demo did not print all of 'URL:', 'LOGIN:', 'TOTP:' within ${WAIT_SECONDS} s"
fi
read -r LOGIN_ID LOGIN_PASSWORD <<<"$LOGIN_LINE"
[[ -n "${LOGIN_PASSWORD:-}" ]] || { show_server_output; die "LOGIN line has no password: 'LOGIN: <id> <password>'"; }
say "demo is up after $((i / 4)) s: $URL (login $LOGIN_ID)"

# --- drive it ------------------------------------------------------------------------------
status=0
MAMORI_TEST_URL="$URL" MAMORI_TEST_LOGIN="$LOGIN_ID" MAMORI_TEST_PASSWORD="$LOGIN_PASSWORD" \
  MAMORI_TEST_TOTP="$TOTP_SECRET" timeout --kill-after=10 360 node run.mjs </dev/null || status=$?

if [[ "$status" != 0 ]]; then
  show_server_output
  say "failed (status $status); screenshots in $HERE/screenshots"
fi
exit "$status"
