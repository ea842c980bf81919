#!/usr/bin/env bash
# Run on a GPU machine: `python -m dcpoc bench gpu` with its results, log, machine facts, the
# self-check database and the sm_90 register table in $OUT (default runs/gpu-bench). A Python
# without our database layer (the lent GPU image) gets the wheels of $GPU_KIT (default .gpu-kit/,
# made by scripts/gpu-kit.sh) installed into a scratch folder first. Exit status: bench gpu's (0 all
# passed, 1 a check or stage failed, 2 no GPU or bad input), 3 the kit is missing or does not fit.
# Extra arguments go to `bench gpu` (e.g. --budget-s 300).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-runs/gpu-bench}"
PYTHON="${PYTHON:-python3}"
mkdir -p "$OUT"
KIT="${GPU_KIT:-.gpu-kit}"
deps=$(mktemp -d)
if ! "$PYTHON" -c "import sqlalchemy, alembic" 2>/dev/null; then
  if ! compgen -G "$KIT/*.whl" >/dev/null; then
    echo "error: this Python lacks sqlalchemy/alembic and $KIT/ holds no wheels: run" \
      "scripts/gpu-kit.sh where the package index is reachable and carry $KIT/ here" | tee "$OUT/bench-gpu.log"
    exit 3
  fi
  if ! "$PYTHON" -m pip install --quiet --no-index --no-deps --target "$deps" "$KIT"/*.whl; then
    echo "error: the wheels in $KIT/ do not install on this Python ($("$PYTHON" -V 2>&1)): rerun" \
      "scripts/gpu-kit.sh with GPU_PYTHON_VERSION set to it" | tee "$OUT/bench-gpu.log"
    exit 3
  fi
fi
export PYTHONPATH="$PWD:$deps${PYTHONPATH:+:$PYTHONPATH}"
export DCPOC_HOME="${DCPOC_HOME:-$(mktemp -d)}"
unset DCPOC_DB   # the self-check rows go to $DCPOC_HOME/dcpoc.db, copied to $OUT below
{
  date -u
  nvidia-smi 2>&1 | head -15
  "$PYTHON" -c "import sys, torch, triton; print('python', sys.version.split()[0], 'torch',
torch.__version__, 'triton', triton.__version__)"
} >"$OUT/machine.txt" 2>&1
"$PYTHON" -m dcpoc bench gpu --out "$OUT/bench-gpu.json" "$@" 2>&1 | tee "$OUT/bench-gpu.log"
rc=${PIPESTATUS[0]}
if [ -f "$DCPOC_HOME/dcpoc.db" ]; then
  "$PYTHON" -c "import sqlite3, sys; src = sqlite3.connect(sys.argv[1]); dst = sqlite3.connect(sys.argv[2]);
src.backup(dst)" "$DCPOC_HOME/dcpoc.db" "$OUT/dcpoc.db"
fi
# registers and spills as this machine's Triton compiles the kernels (a minute; skipped without CUDA)
if [ "$rc" -ne 2 ]; then
  timeout 150 "$PYTHON" -m dcpoc.kernels.registers >"$OUT/registers.md" 2>&1
fi
exit "$rc"
