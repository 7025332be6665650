#!/usr/bin/env bash
# What the OpenAPI black-box tests need, installed if missing, from PyPI into a
# virtual environment in the git-ignored .tools/openapi: schemathesis (fuzzes the
# API from /openapi.json), openapi-spec-validator (the document must be valid)
# and openapi-python-client (a client generated from it must build); and
# python-docx and openpyxl, which write the real Office files the upload-policy
# test sends; and kubernetes-validate, which checks the Kubernetes manifests
# against the API schemas it ships; and standardwebhooks, the Standard Webhooks
# specification's own verifier, which checks every webhook delivery's signature;
# and tuspy, tus's Python client, which the tus tests upload with.
# Prints the CLASP_TEST_* variables to eval (scripts/test.sh does).
set -euo pipefail
cd "$(dirname "$0")/.."
PACKAGES=(schemathesis==4.32.5 openapi-spec-validator==0.9.0 openapi-python-client==0.29.1
  python-docx==1.1.2 openpyxl==3.1.5 kubernetes-validate==1.37.0 standardwebhooks==1.3.0 tuspy==1.1.0)
TOOLS=$PWD/.tools/openapi
STAMP=$TOOLS/installed
say() { echo "openapi-tools: $*" >&2; }

if [ "$(cat "$STAMP" 2>/dev/null)" != "${PACKAGES[*]}" ]; then
  say "installing ${PACKAGES[*]} from PyPI into .tools/openapi"
  rm -rf "$TOOLS"
  python3 -m venv "$TOOLS" \
    || { say "could not make a virtual environment (python3 -m venv; Debian: python3-venv)"; exit 1; }
  "$TOOLS/bin/pip" install -q --disable-pip-version-check "${PACKAGES[@]}" >&2 \
    || { say "could not install ${PACKAGES[*]} from PyPI"; exit 1; }
  echo "${PACKAGES[*]}" > "$STAMP"
fi
echo "export CLASP_TEST_SCHEMATHESIS=$TOOLS/bin/st"
echo "export CLASP_TEST_OPENAPI_SPEC_VALIDATOR=$TOOLS/bin/openapi-spec-validator"
echo "export CLASP_TEST_OPENAPI_PYTHON_CLIENT=$TOOLS/bin/openapi-python-client"
echo "export CLASP_TEST_OPENAPI_PYTHON=$TOOLS/bin/python"
echo "export CLASP_TEST_KUBERNETES_VALIDATE=$TOOLS/bin/kubernetes-validate"
