#!/usr/bin/env bash
# What a crate others depend on must keep (issue 21, docs/library.md):
#   - the declared MSRV (`rust-version` in Cargo.toml) builds the workspace:
#     the toolchain is installed with rustup if missing, and checks into its own
#     target directory so the stable build's stays warm;
#   - `cargo package -p clasp-domain` succeeds (the crate builds from its own
#     package, as crates.io would see it);
#   - `cargo deny check licenses bans sources` (cargo-deny is installed into the
#     git-ignored .tools/ on first use). Advisories are not checked: the RustSec
#     database lives on GitHub, which these machines cannot reach.
set -euo pipefail
cd "$(dirname "$0")/.."
msrv=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
[ -n "$msrv" ] || { echo "crate-checks: no rust-version in Cargo.toml" >&2; exit 1; }

echo "crate-checks: MSRV $msrv"
rustup toolchain list | grep -q "^$msrv-" || rustup toolchain install "$msrv" --profile minimal >&2
CARGO_TARGET_DIR=.tools/msrv-target cargo "+$msrv" check --workspace --all-targets --locked -q

echo "crate-checks: cargo package -p clasp-domain"
cargo package -p clasp-domain --locked -q

echo "crate-checks: cargo deny check licenses bans sources"
deny=$(scripts/cargo-tool.sh cargo-deny 0.20.2)
"$deny" --log-level error check licenses bans sources
