#!/usr/bin/env bash
# A throwaway ClamAV daemon for the tests, on loopback only:
#   - Debian's clamav-daemon (installed with apt if missing; its services are not
#     started and freshclam never runs: no signature download is possible here),
#   - a signature database written here: one signature, for the EICAR test
#     string, reported as `Clasp.Test.EICAR.UNOFFICIAL`,
#   - clamd on a free TCP port and a unix socket, in a fresh temporary directory.
#
#   scripts/clamav.sh up      start clamd; print the CLASP_TEST_CLAMAV_* variables to eval
#   scripts/clamav.sh down    stop it and remove its directory
#
# scripts/test.sh calls `up` before the tests and `down` on exit, pass or fail.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TOOLS=$ROOT/.tools
STATE=$TOOLS/clamav.state   # where `down` finds what `up` started

say() { echo "clamav: $*" >&2; }
die() { say "$*"; exit 1; }

# The EICAR anti-virus test file: harmless, and detected by every scanner.
EICAR='X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

ensure_clamd() {
  command -v clamd >/dev/null && return 0
  [ -x /usr/sbin/clamd ] && return 0
  say "clamd not found; installing Debian's clamav-daemon"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  # Nothing is started by the package scripts: policy-rc.d refuses, and without
  # systemd as PID 1 its units are not started either.
  local policy=/usr/sbin/policy-rc.d created=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null && $sudo chmod 755 "$policy" && created=1
  fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends clamav-daemon >&2 \
    || { $sudo apt-get update -q >&2 && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends clamav-daemon >&2; } \
    || { [ -n "$created" ] && $sudo rm -f "$policy"; die "could not install clamd: install Debian's 'clamav-daemon' package and retry"; }
  [ -n "$created" ] && $sudo rm -f "$policy"
  [ -x /usr/sbin/clamd ] || die "clamav-daemon installed but /usr/sbin/clamd is missing"
}

# Answers 0 when clamd at the unix socket $1 answers PING with PONG.
pong() {
  python3 - "$1" <<'EOF'
import socket, sys
try:
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(1)
    s.connect(sys.argv[1])
    s.sendall(b"zPING\0")
    sys.exit(0 if s.recv(16).startswith(b"PONG") else 1)
except OSError:
    sys.exit(1)
EOF
}

up() {
  [ -f "$STATE" ] && down
  mkdir -p "$TOOLS"
  ensure_clamd
  local run port clamd
  clamd=$(command -v clamd || echo /usr/sbin/clamd)
  run=$(mktemp -d /tmp/clasp-clamav.XXXXXX)
  chmod 755 "$run"
  mkdir -p "$run/db"
  # A body signature (.ndb: name, any file type, at any offset, hex bytes).
  printf 'Clasp.Test.EICAR:0:*:%s\n' "$(printf '%s' "$EICAR" | od -An -v -tx1 | tr -d ' \n')" \
    >"$run/db/clasp-test.ndb"
  port=$(free_port)
  # Running as root, clamd would switch to the `clamav` user (or fail without
  # one); User root keeps it as whoever runs the tests.
  local user=""
  [ "$(id -u)" = 0 ] && user="User root"
  cat >"$run/clamd.conf" <<EOF
Foreground yes
DatabaseDirectory $run/db
TCPSocket $port
TCPAddr 127.0.0.1
LocalSocket $run/clamd.sock
LocalSocketMode 660
StreamMaxLength 64M
MaxFileSize 64M
MaxScanSize 256M
LogFile $run/clamd.log
LogTime yes
PidFile $run/clamd.pid
$user
EOF
  echo "RUN=$run" >"$STATE"
  "$clamd" -c "$run/clamd.conf" >"$run/stdout.log" 2>&1 &
  echo $! >"$run/clamd.launcher.pid"
  local i
  for i in $(seq 1 180); do
    if pong "$run/clamd.sock"; then
      cat <<EOF
export CLASP_TEST_CLAMAV_TCP=tcp://127.0.0.1:$port
export CLASP_TEST_CLAMAV_SOCKET=unix:$run/clamd.sock
EOF
      say "clamd on 127.0.0.1:$port and $run/clamd.sock (state in $run)"
      return 0
    fi
    kill -0 "$(cat "$run/clamd.launcher.pid")" 2>/dev/null \
      || { tail -20 "$run/stdout.log" "$run/clamd.log" >&2 2>/dev/null; die "clamd exited"; }
    sleep 0.5
  done
  tail -20 "$run/clamd.log" >&2 2>/dev/null
  die "clamd did not answer PING within 90 s"
}

down() {
  [ -f "$STATE" ] || return 0
  local RUN="" pid i
  # shellcheck disable=SC1090
  . "$STATE"
  if [ -n "$RUN" ] && [ -f "$RUN/clamd.launcher.pid" ]; then
    pid=$(cat "$RUN/clamd.launcher.pid")
    kill "$pid" 2>/dev/null || true
    for i in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  [ -n "$RUN" ] && rm -rf "$RUN"
  rm -f "$STATE"
  say "stopped"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
