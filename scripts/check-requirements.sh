#!/usr/bin/env bash
# Resolve requirements.txt as a new user's pip would: the public package index alone, no local wheel
# folders or pip configuration (--isolated), nothing installed counted (--ignore-installed). A dry run
# reads package metadata only. Fails when the pins conflict (torch 2.13.0 requires triton 3.7.1, for
# one), which this machine's CPU build of torch would otherwise hide.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if ! out=$("$PYTHON" -m pip install --isolated --dry-run --ignore-installed --quiet \
        --disable-pip-version-check -r requirements.txt 2>&1); then
    echo "requirements.txt does not resolve against the public package index:" >&2
    echo "$out" | grep -E "^ERROR|conflict|depends on|requested" >&2 || echo "$out" >&2
    exit 1
fi
echo "requirements.txt resolves against the public package index"
