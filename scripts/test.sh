#!/usr/bin/env bash
# Lint, type-check and test Kaari. Tests that need PostgreSQL or Redis use the servers
# on 127.0.0.1 (override with KAARI_TEST_POSTGRES_URL / KAARI_TEST_REDIS_URL); without
# them they skip with a reason, except under CI=true, where a missing service fails.
# Extra arguments go to pytest (e.g. scripts/test.sh -k login).
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"

echo "== ruff" >&2
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy (strict)" >&2
.venv/bin/mypy
echo "== pytest" >&2
exec .venv/bin/pytest "$@"
