#!/usr/bin/env bash
# Creates .venv, installs Archivist and runs the demo on the embedded default (no servers).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
exec .venv/bin/archivist demo "$@"
