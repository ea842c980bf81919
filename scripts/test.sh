#!/usr/bin/env bash
# Install everything the tests need, then run the whole suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    source scripts/system-deps.sh   # Debian packages and a local PostgreSQL (sets DCPOC_TEST_PG_URL)
else
    echo "note: not root on Debian: install postgresql, chromium, fonts-ipaexfont-gothic," \
         "poppler-utils, slurm-wlm and munge yourself (and set DCPOC_TEST_PG_URL, and" \
         "DCPOC_TEST_SLURM_CONF after scripts/slurm-local.sh start), or their tests are skipped" >&2
fi
bash scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
