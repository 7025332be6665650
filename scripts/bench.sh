#!/usr/bin/env bash
# The benchmarks of docs/benchmarks.md: `clasp-bench listing`, in release mode, on
# SQLite and on PostgreSQL — the server of CLASP_BENCH_POSTGRES_URL when set, else a
# throwaway one started by scripts/services.sh and stopped on exit. Arguments go to
# the workload, e.g. `./scripts/bench.sh --sizes 1000,100000 --runs 20`.
# Prints a Markdown report; exits with 1 when a deep page at the largest tenant costs
# more than twice one at the smallest.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${CLASP_BENCH_POSTGRES_URL:-}" ]; then
  trap 'scripts/services.sh down >/dev/null 2>&1' EXIT
  eval "$(scripts/services.sh up)"
  export CLASP_BENCH_POSTGRES_URL=$CLASP_TEST_POSTGRES_URL
fi
cargo run --release --locked -q -p clasp-bench -- listing "$@"
