#!/usr/bin/env bash
# Creates .venv, installs Archivist with its test and dev tools, then runs ruff, mypy and the
# whole pytest suite (integration tests need RabbitMQ and PostgreSQL; they fail, never skip).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test,dev]'
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/pytest "$@"
