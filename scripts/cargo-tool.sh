#!/usr/bin/env bash
# Installs a cargo subcommand the other scripts run (cargo-deny, cargo-deb,
# cargo-fuzz) from crates.io into the git-ignored .tools/<name>, unless that
# version is there already, and prints the path of its binary:
#
#   scripts/cargo-tool.sh NAME VERSION
#
# The build is unoptimised and without debug info. These tools run for
# seconds in a test run, while an optimised build of cargo-deny alone took
# 184 s of a fresh run on two cores. Unoptimised: cargo-deny 64 s, cargo-deb
# 25 s (57 optimised), cargo-fuzz 21 s (34).
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: scripts/cargo-tool.sh NAME VERSION}
version=${2:?usage: scripts/cargo-tool.sh NAME VERSION}
root=.tools/$name
bin=$root/bin/$name
if [ "$("$bin" --version 2>/dev/null)" != "$name $version" ]; then
  echo "cargo-tool: installing $name $version into $root" >&2
  CARGO_PROFILE_DEV_DEBUG=0 cargo install --debug --locked -q --root "$root" \
    --version "$version" "$name" >&2
fi
echo "$PWD/$bin"
