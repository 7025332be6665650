#!/usr/bin/env bash
# The benchmark suite (docs/performance.md, docs/benchmarks.md): builds `clasp` and
# `clasp-bench` in release mode, starts a throwaway PostgreSQL and SeaweedFS on
# loopback (scripts/services.sh, which also installs Debian's nginx and wrk; all stopped on
# exit), and runs `clasp-bench all`: transfers through `clasp serve` beside nginx and
# SeaweedFS (table, ratios, peak memory, docs/performance.svg), then listing pages on
# SQLite and PostgreSQL, then cost as work grows (lookups, pages and `clasp gc` on
# PostgreSQL at 10^4-10^6 attachments, uploads with quotas on and off).
# Arguments go to `clasp-bench all`, e.g.
# `./scripts/bench.sh --rounds 5 --sizes 1000,100000`.
# Exits with 1 when a deep listing page at the largest tenant costs more than twice
# one at the smallest; missed transfer goals are printed, not fatal.
set -euo pipefail
cd "$(dirname "$0")/.."
trap 'status=$?; scripts/services.sh down >/dev/null 2>&1 || true; echo "bench: $SECONDS s in all, build included" >&2; exit "$status"' EXIT
# The servers install and start (network and disk) while the release build
# takes the CPU; the measurements start once both are done.
mkdir -p .tools
services_env=.tools/bench-services.env
scripts/services.sh up >"$services_env" &
services_pid=$!
cargo build --release --locked -q -p clasp -p clasp-bench
wait "$services_pid"
eval "$(cat "$services_env")"
export CLASP_BENCH_POSTGRES_URL=${CLASP_BENCH_POSTGRES_URL:-$CLASP_TEST_POSTGRES_URL}
export CLASP_BENCH_NGINX=${CLASP_BENCH_NGINX:-$CLASP_TEST_NGINX}
export CLASP_BENCH_WRK=${CLASP_BENCH_WRK:-$CLASP_TEST_WRK}
export CLASP_BENCH_TUS=${CLASP_BENCH_TUS:-$CLASP_TEST_TUS}
target=${CARGO_TARGET_DIR:-target}/release
"$target/clasp-bench" all --clasp-bin "$target/clasp" "$@"
