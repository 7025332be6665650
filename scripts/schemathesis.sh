#!/usr/bin/env bash
# What the schemathesis black-box test needs, installed if missing: schemathesis
# from PyPI into a virtual environment in the git-ignored .tools/schemathesis.
# Prints the CLASP_TEST_* variable to eval (scripts/test.sh does).
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=4.32.5
TOOLS=$PWD/.tools/schemathesis
say() { echo "schemathesis: $*" >&2; }

if [ "$("$TOOLS/bin/st" --version 2>/dev/null)" != "st, version $VERSION" ]; then
  say "installing schemathesis $VERSION from PyPI into .tools/schemathesis"
  rm -rf "$TOOLS"
  python3 -m venv "$TOOLS" \
    || { say "could not make a virtual environment (python3 -m venv; Debian: python3-venv)"; exit 1; }
  "$TOOLS/bin/pip" install -q --disable-pip-version-check "schemathesis==$VERSION" >&2 \
    || { say "could not install schemathesis from PyPI"; exit 1; }
fi
echo "export CLASP_TEST_SCHEMATHESIS=$TOOLS/bin/st"
