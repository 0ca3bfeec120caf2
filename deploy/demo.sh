#!/usr/bin/env bash
# On a fresh machine: install what the node needs, start it (Kafka, PostgreSQL, SMTP, five services), run the demo.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash deploy/install.sh
bash deploy/node.sh start
# shellcheck source=/dev/null
source "${MC_STATE_DIR:-$ROOT/.run}/env"
.venv/bin/python -m deploy.demo
