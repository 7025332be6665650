#!/usr/bin/env bash
# What the browser test needs, installed if missing: Debian's chromium, and
# playwright-core from the npm registry into the git-ignored .tools/browser.
# Prints the CLASP_TEST_* variables to eval (scripts/test.sh does).
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS=$PWD/.tools/browser
say() { echo "browser: $*" >&2; }

if [ ! -x /usr/bin/chromium ]; then
  say "installing Debian's chromium"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >&2 \
    || { $sudo apt-get update -q >&2 && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >&2; } \
    || { say "could not install chromium (apt-get install chromium)"; exit 1; }
fi
if [ ! -d "$TOOLS/node_modules/playwright-core" ]; then
  say "installing playwright-core into .tools/browser"
  mkdir -p "$TOOLS"
  npm install --silent --no-audit --no-fund --prefix "$TOOLS" playwright-core@1 >&2 \
    || { say "could not install playwright-core from the npm registry"; exit 1; }
fi
echo "export CLASP_TEST_CHROMIUM=/usr/bin/chromium"
echo "export CLASP_TEST_PLAYWRIGHT=$TOOLS/node_modules/playwright-core"
