#!/usr/bin/env bash
# Install what the tests need, then run the whole suite: unit, integration (real Kafka and PostgreSQL) and end to end
# (the five services as processes, kcat as the LMS, a real SMTP server). The tests start the infrastructure they need.
# Extra arguments go to pytest, e.g. `bash deploy/test.sh -m "not e2e"`.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash deploy/install.sh
.venv/bin/ruff check --quiet .
.venv/bin/python -m pytest "$@"
