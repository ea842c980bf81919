#!/usr/bin/env bash
# Install, then start the dashboard on http://localhost:8501 (localhost only). Extra arguments go
# to `streamlit run`, e.g. --server.port 8600.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m streamlit run app.py --server.address localhost \
    --browser.gatherUsageStats false "$@"
