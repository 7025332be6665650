#!/usr/bin/env bash
# Two (or more) `clasp` builds side by side on 30 MiB multipart uploads, as
# docs/performance.md's A/B figures were made: each build serves in turn on
# tmpfs (embedded SQLite, durability = fast), 3 GB are written to tmpfs and
# freed before each figure (so no build pays for this VM's fresh pages more
# than another), then `wrk` posts the same 30 MiB body for 3 s with 1 and
# with 8 connections; ROUNDS rounds (default 3). BODY_MIB (30), WARM_MB (3000),
# SECONDS_PER_FIGURE (3) and WRK (wrk on the PATH) change the file, the
# warm-up, the time per figure and the generator; each figure comes with the
# server's CPU time per MiB taken in, steadier than the rate on a shared VM; tests/blackbox/bench.rs runs it small so it keeps working.
#
#   bench/upload-ab.sh target/release/clasp /tmp/clasp-other
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 CLASP_BIN... (ROUNDS=3)" >&2; exit 2; }
work=$(mktemp -d)
shm=$(mktemp -d /dev/shm/clasp-ab.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work" "$shm"' EXIT
secret=0123456789abcdef0123456789abcdef0123456789
ticket=7b0f4c2e-8d1a-4e59-9c3b-2a6d5e8f1b07
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
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
cpu() { # cpu PID: the clock ticks the process has run, user and system
  awk '{print $14 + $15}' "/proc/$1/stat"
}
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
    for c in 1 8; do
      dd if=/dev/zero of="$shm/warm" bs=1M count="${WARM_MB:-3000}" 2>/dev/null
      rm "$shm/warm"
      before=$(cpu "$pid")
      "${WRK:-wrk}" -t1 -c"$c" -d"${SECONDS_PER_FIGURE:-3}"s --timeout 30s -s "$work/post.lua" -H "Authorization: Bearer $(cat "$work/key$n")" \
        "http://127.0.0.1:$port/v1/tickets/$ticket/attachments" >"$work/wrk.out"
      if grep -q "Non-2xx\|Socket errors" "$work/wrk.out"; then cat "$work/wrk.out" >&2; exit 1; fi
      rate=$(awk -v mib="$mib" '/Requests\/sec/ {printf "%.0f", $2 * mib}' "$work/wrk.out")
      # the server's CPU (every thread, user and system) per MiB it took in
      per=$(awk -v mib="$mib" -v t="$(( $(cpu "$pid") - before ))" -v hz="$(getconf CLK_TCK)" \
        '/requests in/ {printf "%.3f", ($1 > 0 ? t * 1000 / hz / ($1 * mib) : 0)}' "$work/wrk.out")
      echo "round $round  ${bins[$n]}  $c in flight: $rate MiB/s, $per ms of CPU per MiB"
    done
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    pid=
    rm -rf "${shm:?}/$n"
  done
done
