#!/usr/bin/env bash
# The README's demo command (`make demo`): set up what is needed, then run the whole pipeline
# locally through three stories (python -m localrig demo). Extra arguments go to the demo,
# e.g. `scripts/demo.sh --state-dir /tmp/rig`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/python -m localrig demo "$@"
