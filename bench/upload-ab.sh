#!/usr/bin/env bash
# Two (or more) `clasp` builds side by side on 30 MiB multipart uploads, as
# docs/performance.md's A/B figures were made: each build serves in turn on
# tmpfs (embedded SQLite, durability = fast), 3 GB are written to tmpfs and
# freed before each figure (so no build pays for this VM's fresh pages more
# than another), then `wrk` posts the same 30 MiB body for 3 s with 1 and
# with 8 connections; ROUNDS rounds (default 3). BODY_MIB (30), WARM_MB (3000),
# SECONDS_PER_FIGURE (3) and WRK (wrk on the PATH) change the file, the
# warm-up, the time per figure and the generator; each figure comes with the
# server's CPU time per MiB taken in, steadier than the rate on a shared VM.
# With NGINX_BIN naming nginx's binary, nginx comes first in each round, tuned
# as the bench tunes it for PUTs (its dav module writing each body to a new
# file on the same tmpfs, 1 MiB body buffers, one worker per core), its CPU
# counted the same way: what receiving and writing the bytes costs a server
# that does nothing else, beside what Clasp spends. tests/blackbox/bench.rs
# runs it small so it keeps working.
#
#   NGINX_BIN=/usr/sbin/nginx bench/upload-ab.sh target/release/clasp /tmp/clasp-other
set -euo pipefail
# shellcheck source=bench/nginx.sh
. "$(dirname "$0")/nginx.sh"
[ $# -ge 1 ] || { echo "usage: $0 CLASP_BIN... (ROUNDS=3, NGINX_BIN=path)" >&2; exit 2; }
work=$(mktemp -d)
shm=$(mktemp -d /dev/shm/clasp-ab.XXXXXX)
chmod 755 "$work" "$shm" # nginx's workers run as another user
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work" "$shm"' EXIT
secret=0123456789abcdef0123456789abcdef0123456789
ticket=7b0f4c2e-8d1a-4e59-9c3b-2a6d5e8f1b07
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
mib=${BODY_MIB:-30}
python3 - "$work/body" "$mib" <<'PY'
import os, sys
head = b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\nContent-Type: application/pdf\r\n\r\n'
size = int(sys.argv[2]) * 1024 * 1024
open(sys.argv[1], "wb").write(head + b"%PDF-1.4\n" + os.urandom(size - 9) + b"\r\n--XyZ--\r\n")
PY
cat >"$work/post.lua" <<LUA
local f = io.open("$work/body", "rb"); wrk.body = f:read("*a"); f:close()
wrk.method = "POST"
wrk.headers["Content-Type"] = "multipart/form-data; boundary=XyZ"
LUA
cat >"$work/put.lua" <<LUA
local f = io.open("$work/body", "rb"); wrk.body = f:read("*a"); f:close()
wrk.method = "PUT"
local n = 0
-- every PUT a new file, as every upload is a new object in Clasp
request = function()
  n = n + 1
  return wrk.format(nil, "/put/" .. n .. "-" .. math.random(1e9) .. ".pdf")
end
LUA
cpu() { # cpu PID: the clock ticks PID and its children have run, user and system
  for p in "$1" $(pgrep -P "$1"); do awk '{print $14 + $15}' "/proc/$p/stat"; done | awk '{n += $1} END {print n}'
}
measure() { # measure NAME FILES WRK_ARGS...: 1 and 8 in flight against the server
  # $pid, its FILES (a directory, if any) removed after each figure
  local name=$1 files=$2; shift 2
  for c in 1 8; do
    dd if=/dev/zero of="$shm/warm" bs=1M count="${WARM_MB:-3000}" 2>/dev/null
    rm "$shm/warm"
    before=$(cpu "$pid")
    "${WRK:-wrk}" -t1 -c"$c" -d"${SECONDS_PER_FIGURE:-3}"s --timeout 30s "$@" >"$work/wrk.out"
    if grep -q "Non-2xx\|Socket errors" "$work/wrk.out"; then cat "$work/wrk.out" >&2; exit 1; fi
    rate=$(awk -v mib="$mib" '/Requests\/sec/ {printf "%.0f", $2 * mib}' "$work/wrk.out")
    # the server's CPU (every thread, user and system) per MiB it took in
    per=$(awk -v mib="$mib" -v t="$(( $(cpu "$pid") - before ))" -v hz="$(getconf CLK_TCK)" \
      '/requests in/ {printf "%.3f", ($1 > 0 ? t * 1000 / hz / ($1 * mib) : 0)}' "$work/wrk.out")
    echo "round $round  $name  $c in flight: $rate MiB/s, $per ms of CPU per MiB"
    if [ -n "$files" ]; then rm -rf "$files"; fi
  done
}
if [ -n "${NGINX_BIN:-}" ]; then
  nginx_port=$(free_port)
  mkdir -p "$work/nginx" "$shm/nginx/temp"
  chmod 777 "$shm/nginx" "$shm/nginx/temp"
  # as bench/src/procs.rs tunes it for PUTs
  nginx_conf "$work/nginx" "$(nproc)" <<CONF
  client_body_buffer_size 1m;
  client_body_temp_path $shm/nginx/temp;
  server {
    listen 127.0.0.1:$nginx_port;
    root $shm/nginx;
    location /put/ { dav_methods PUT; create_full_put_path on; client_max_body_size 64m; }
  }
CONF
fi
clasp() { # clasp N ARGS: build N's `clasp ARGS`, on its own data directory
  local n=$1; shift
  # exec: run in the background, the server is the job (its pid is $!)
  exec env -i PATH="$PATH" CLASP_DATA_DIR="$work/$n" CLASP_STORAGE_URL="file://$shm/$n" \
    CLASP_SIGNING_SECRET=$secret CLASP_LOG_LEVEL=warn CLASP_DURABILITY=fast \
    CLASP_LISTEN="127.0.0.1:$port" CLASP_ADMIN_LISTEN=127.0.0.1:0 "${bins[$n]}" "$@"
}
bins=("$@")
for n in "${!bins[@]}"; do
  (clasp "$n" admin tenant create --slug ab >/dev/null)
  (clasp "$n" admin key create --tenant ab --scopes attachments:write >"$work/key$n")
done
for round in $(seq "${ROUNDS:-3}"); do
  if [ -n "${NGINX_BIN:-}" ]; then
    "$NGINX_BIN" -c "$work/nginx/nginx.conf" -p "$work/nginx" 2>/dev/null &
    pid=$!
    until curl -s -o /dev/null "http://127.0.0.1:$nginx_port/"; do sleep 0.1; done
    measure "nginx PUT" "$shm/nginx/put" -s "$work/put.lua" "http://127.0.0.1:$nginx_port"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    pid=
  fi
  for n in "${!bins[@]}"; do
    clasp "$n" serve >/dev/null 2>"$work/serve.log" &
    pid=$!
    until curl -s -o /dev/null "http://127.0.0.1:$port/healthz"; do
      kill -0 "$pid" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
      sleep 0.1
    done
    # one upload first: a build that refuses it would measure its refusals
    status=$(curl -s -o "$work/probe" -w "%{http_code}" -H "Authorization: Bearer $(cat "$work/key$n")" \
      -H "Content-Type: multipart/form-data; boundary=XyZ" --data-binary @"$work/body" \
      "http://127.0.0.1:$port/v1/tickets/$ticket/attachments")
    [ "$status" = 201 ] || { echo "${bins[$n]} answered $status: $(cat "$work/probe")" >&2; exit 1; }
    measure "${bins[$n]}" "" -s "$work/post.lua" -H "Authorization: Bearer $(cat "$work/key$n")" \
      "http://127.0.0.1:$port/v1/tickets/$ticket/attachments"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    pid=
    rm -rf "${shm:?}/$n"
  done
done
