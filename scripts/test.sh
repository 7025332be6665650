#!/usr/bin/env bash
# The whole test suite, as CI runs it: lint, the embedding example, docs, then
# every unit, contract and black-box test against real servers (PostgreSQL and
# SeaweedFS, started here by scripts/services.sh and stopped on exit, pass or
# fail) and a real browser (Chromium, installed by scripts/browser.sh). Ends
# with the test runner's summary.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== lint"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== embedding example"
cargo run --locked -q -p clasp-domain --example embed

echo "== docs (broken links or undocumented items fail)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked -q
cargo test --workspace --locked --doc -q

echo "== test servers"
trap 'scripts/services.sh down >/dev/null 2>&1' EXIT
servers=$(scripts/services.sh up)
eval "$servers"

echo "== browser (Chromium and playwright-core for the video test)"
browser=$(scripts/browser.sh)
eval "$browser"

echo "== tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi
