#!/usr/bin/env bash
# Two (or more) `clasp` builds side by side on 1 MiB downloads through a signed
# URL, as docs/performance.md's download A/B figures were made, with nginx's
# sendfile of the same file beside them when NGINX_BIN names its binary. Each
# server runs in turn on the first core (`taskset -c 0`, one worker: what each
# does on one core) and `wrk -t1` on the last, so the generator never takes the
# server's core; a warm-up of 2 s, then CONNECTIONS (16) connections for
# SECONDS_PER_FIGURE (5) s; ROUNDS rounds (default 3). BODY_MIB (1) and WRK
# (wrk on the PATH) change the file and the generator; tests/blackbox/bench.rs
# runs it small so it keeps working. On one core nothing is pinned. Each
# figure comes with the server's context switches a download (all threads of
# the server and of its child processes, from /proc): trips to a thread pool
# show there before they show in the rate.
#
#   NGINX_BIN=/usr/sbin/nginx bench/download-ab.sh /tmp/clasp-old target/release/clasp
set -euo pipefail
# shellcheck source=bench/nginx.sh
. "$(dirname "$0")/nginx.sh"
[ $# -ge 1 ] || { echo "usage: $0 CLASP_BIN... (ROUNDS=3, NGINX_BIN=path)" >&2; exit 2; }
work=$(mktemp -d)
chmod 755 "$work" # nginx's worker runs as another user
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
secret=0123456789abcdef0123456789abcdef0123456789
ticket=7b0f4c2e-8d1a-4e59-9c3b-2a6d5e8f1b07
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
mib=${BODY_MIB:-1}
seconds=${SECONDS_PER_FIGURE:-5}
connections=${CONNECTIONS:-16}
last=$(($(nproc) - 1))
server_cpu=() generator_cpu=()
if [ "$last" -gt 0 ]; then server_cpu=(taskset -c 0) generator_cpu=(taskset -c "$last"); fi
python3 - "$work" "$mib" <<'PY'
import os, sys
size = int(sys.argv[2]) * 1024 * 1024
data = b"%PDF-1.4\n" + os.urandom(size - 9)
open(os.path.join(sys.argv[1], "file.pdf"), "wb").write(data)
head = b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\nContent-Type: application/pdf\r\n\r\n'
open(os.path.join(sys.argv[1], "body"), "wb").write(head + data + b"\r\n--XyZ--\r\n")
PY
clasp() { # clasp N ARGS: build N's `clasp ARGS`, on its own data directory (exec: run
  # in the background, the server is the job, its pid $!; on the server's core)
  local n=$1; shift
  exec "${server_cpu[@]}" env -i PATH="$PATH" CLASP_DATA_DIR="$work/$n" CLASP_STORAGE_URL="file://$work/$n/blobs" \
    CLASP_SIGNING_SECRET=$secret CLASP_LOG_LEVEL=warn \
    CLASP_LISTEN="127.0.0.1:$port" CLASP_ADMIN_LISTEN=127.0.0.1:0 "${bins[$n]}" "$@"
}
switches() { # switches PID: context switches so far of PID's threads and its children's
  for p in "$1" $(pgrep -P "$1"); do cat /proc/"$p"/task/*/status 2>/dev/null; done |
    awk '/ctxt_switches/ {n += $2} END {print n + 0}'
}
measure() { # measure NAME URL: one figure of `wrk` against URL, served by $pid
  "${generator_cpu[@]}" "${WRK:-wrk}" -t1 -c"$connections" -d2s "$2" >/dev/null
  local before; before=$(switches "$pid")
  "${generator_cpu[@]}" "${WRK:-wrk}" -t1 -c"$connections" -d"${seconds}s" --timeout 30s "$2" >"$work/wrk.out"
  local after; after=$(switches "$pid")
  if grep -q "Non-2xx\|Socket errors" "$work/wrk.out"; then cat "$work/wrk.out" >&2; exit 1; fi
  rate=$(awk -v mib="$mib" '/Requests\/sec/ {printf "%.0f", $2 * mib}' "$work/wrk.out")
  echo "round $round  $1  $connections in flight: $rate MiB/s"
  awk -v n=$((after - before)) '/requests in/ {printf "round %s  %s  context switches a download: %.2f\n", r, name, n / $1}' \
    r="$round" name="$1" "$work/wrk.out"
}
bins=("$@")
for n in "${!bins[@]}"; do
  (clasp "$n" admin tenant create --slug ab >/dev/null)
  (clasp "$n" admin key create --tenant ab --scopes attachments:read,attachments:write >"$work/key$n")
done
if [ -n "${NGINX_BIN:-}" ]; then
  nginx_port=$(free_port)
  mkdir -p "$work/nginx/www"
  cp "$work/file.pdf" "$work/nginx/www/file.pdf"
  # as the bench's nginx serves downloads: sendfile, long keep-alive
  nginx_conf "$work/nginx" 1 <<CONF
  sendfile on;
  tcp_nopush on;
  server { listen 127.0.0.1:$nginx_port; root $work/nginx/www; }
CONF
fi
for round in $(seq "${ROUNDS:-3}"); do
  if [ -n "${NGINX_BIN:-}" ]; then
    "${server_cpu[@]}" "$NGINX_BIN" -c "$work/nginx/nginx.conf" -p "$work/nginx" &
    pid=$!
    pids=("$pid")
    until curl -s -o /dev/null "http://127.0.0.1:$nginx_port/file.pdf"; do sleep 0.1; done
    measure "nginx sendfile" "http://127.0.0.1:$nginx_port/file.pdf"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
  fi
  for n in "${!bins[@]}"; do
    clasp "$n" serve >/dev/null 2>"$work/serve.log" &
    pid=$!
    pids=("$pid")
    until curl -s -o /dev/null "http://127.0.0.1:$port/healthz"; do
      kill -0 "$pid" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
      sleep 0.1
    done
    key=$(cat "$work/key$n")
    id=$(curl -sf -H "Authorization: Bearer $key" -H "Content-Type: multipart/form-data; boundary=XyZ" \
      --data-binary @"$work/body" "http://127.0.0.1:$port/v1/tickets/$ticket/attachments" |
      python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
    url=$(curl -sf -H "Authorization: Bearer $key" \
      "http://127.0.0.1:$port/v1/tickets/$ticket/attachments/$id/download" |
      python3 -c 'import json, sys; print(json.load(sys.stdin)["signed_url"])')
    measure "${bins[$n]}" "$url"
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
done
