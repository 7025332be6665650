#!/usr/bin/env bash
# The whole test suite, as CI runs it: lint, the embedding example, docs, the
# crates' MSRV, packaging and licenses (scripts/crate-checks.sh), a
# short run of every cargo-fuzz target over its committed corpus
# (scripts/fuzz.sh smoke), then every unit, contract and black-box test against
# real servers (PostgreSQL and SeaweedFS, started here by scripts/services.sh,
# and ClamAV's clamd, by scripts/clamav.sh; all stopped on exit, pass or fail),
# a real browser (Chromium, installed by scripts/browser.sh) and schemathesis
# fuzzing the binary from its /openapi.json (installed by
# scripts/openapi-tools.sh, with the validator and client generator that check
# the document). Ends with the test runner's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
# A one-shot build gains nothing from incremental caches, which took 2.3 GiB
# of a fresh clone's target/ (CI disks are not large).
export CARGO_INCREMENTAL=0
# Each step says how far into the run it starts, so a slow CI shows which
# step grew (CI must stay under 35 minutes on two cores).
phase() { echo "== $* (at ${SECONDS} s)"; }

phase "lint"
cargo fmt --all -- --check
# fuzz/ is a workspace of its own, which the line above does not reach.
cargo fmt --manifest-path fuzz/Cargo.toml --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

phase "embedding example"
cargo run --locked -q -p clasp-domain --features test-util --example embed

phase "docs (broken links or undocumented items fail)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked -q
cargo test --workspace --locked --doc -q

phase "fuzz smoke (every cargo-fuzz target briefly over its corpus), in the background"
# It builds beside the crate checks and while the servers and tools below
# install (mostly waiting on the network and disk), so its single-core fuzz
# runs fill the other core; its outcome is checked before the tests. (Started
# after the crate checks, it kept the tests waiting three minutes.)
mkdir -p .tools
fuzz_log=.tools/fuzz-smoke.log
scripts/fuzz.sh smoke >"$fuzz_log" 2>&1 &
fuzz_pid=$!
# Each clean-up step may fail (the fuzz run has usually ended by then); under
# `set -e` a failing step would turn a passing run's exit code into 1.
stop_all() {
  local status=$?
  kill "$fuzz_pid" 2>/dev/null || true
  scripts/services.sh down >/dev/null 2>&1 || true
  scripts/clamav.sh down >/dev/null 2>&1 || true
  exit "$status"
}
trap stop_all EXIT

phase "crates (MSRV, cargo package, cargo deny)"
scripts/crate-checks.sh

phase "test servers"
servers=$(scripts/services.sh up)
eval "$servers"

phase "clamd (ClamAV, with a test database of one EICAR signature)"
clamav=$(scripts/clamav.sh up)
eval "$clamav"

phase "browser (Chromium and playwright-core for the video test)"
browser=$(scripts/browser.sh)
eval "$browser"

phase "cargo-deb (for the Debian package test)"
scripts/package.sh --tool

phase "OpenAPI tools (schemathesis, openapi-spec-validator, openapi-python-client)"
st=$(scripts/openapi-tools.sh)
eval "$st"

phase "fuzz smoke result"
if wait "$fuzz_pid"; then
  grep -E '^(fuzz:|Done|stat::number_of_executed_units)' "$fuzz_log"
else
  tail -n 80 "$fuzz_log"
  echo "the fuzz smoke run failed (whole log: $fuzz_log)" >&2
  exit 1
fi

phase "tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi
