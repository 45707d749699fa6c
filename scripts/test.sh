#!/usr/bin/env bash
# The one test command: set up (scripts/setup.sh), lint, then run every test against the real
# parts (moto server, Docker engine, registry), which the test session starts itself.
# Extra arguments go to pytest, e.g. `scripts/test.sh -k notify`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
echo "[test] ruff"
.venv/bin/ruff check .
if compgen -G "infra/*.yaml" >/dev/null; then
  echo "[test] cfn-lint"
  .venv/bin/cfn-lint infra/*.yaml
fi
echo "[test] pytest"
exec .venv/bin/pytest "$@"
