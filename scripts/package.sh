#!/usr/bin/env bash
# The Debian package (README, "Deploying"): the binary, the hardened systemd
# unit (packaging/clasp.service), /etc/clasp/clasp.toml as a conffile and a
# `clasp` system user (packaging/debian/postinst), from cargo-deb, which is
# installed into the git-ignored .tools/ on first use.
#
#   scripts/package.sh              release build -> target/debian/clasp_<version>_amd64.deb
#   scripts/package.sh --dev OUT    package the debug binary already built (what
#                                   tests/blackbox/package.rs installs), into OUT
#   scripts/package.sh --tool       only install cargo-deb (scripts/test.sh, before
#                                   the tests, so that test does not compile it)
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO_DEB_VERSION=3.8.0
deb=$(scripts/cargo-tool.sh cargo-deb "$CARGO_DEB_VERSION")
if [ "${1:-}" = "--tool" ]; then
  exit 0
elif [ "${1:-}" = "--dev" ]; then
  out=${2:?usage: scripts/package.sh --dev OUT.deb}
  # The debug binary is what the test suite has built; a release build would
  # add minutes to every run for the same files around it.
  "$deb" -p clasp --no-build --profile dev -o "$out" 2> >(grep -v -e "dev profile is not supported" -e "To enable debug symbols" >&2)
else
  "$deb" -p clasp --locked
fi
