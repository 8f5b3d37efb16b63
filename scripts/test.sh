#!/usr/bin/env bash
# The whole test run on a fresh machine: brings up RabbitMQ, PostgreSQL and Chromium
# (scripts/services.sh: installs and starts what is missing), creates .venv, installs Archivist
# with its test and dev tools, then runs ruff, mypy, the layers contract (lint-imports) and the whole pytest suite. Integration tests
# fail, never skip, when a service is missing. Services elsewhere: ARCHIVIST_SERVICES=none plus
# ARCHIVIST_TEST_AMQP_URL / ARCHIVIST_TEST_POSTGRES_URL / ARCHIVIST_TEST_S3_URL (with
# ARCHIVIST_TEST_S3_ACCESS_KEY and _SECRET_KEY) for the S3-compatible server.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
./scripts/services.sh
echo "test: services up in $((SECONDS - started)) s"
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test,dev]'
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/lint-imports --no-cache
.venv/bin/pytest "$@"
