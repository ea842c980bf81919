#!/usr/bin/env bash
# Run on a GPU machine: `python -m dcpoc bench gpu` with its results, log, machine facts, the
# self-check database and the sm_90 register table in $OUT (default runs/gpu-bench). A Python
# without our database layer (the lent GPU image) gets the wheels of $GPU_KIT (default .gpu-kit/,
# made by scripts/gpu-kit.sh) installed into a scratch folder first. The whole script keeps within
# GPU_SCRIPT_LIMIT_S seconds (default 570, under a lent GPU's 600 s per command): bench gpu gets
# what is left less 120 s unless --budget-s is given, the register table the rest. Exit status:
# bench gpu's (0 complete, 1 something failed or was cut, 2 no GPU or bad input), 3 the kit is
# missing or does not fit. Extra arguments go to `bench gpu`. OUT and GPU_KIT may be relative to
# the directory this is started from.
set -uo pipefail
LIMIT_S="${GPU_SCRIPT_LIMIT_S:-570}"
PYTHON="${PYTHON:-python3}"
OUT="$(mkdir -p "${OUT:-runs/gpu-bench}" && cd "${OUT:-runs/gpu-bench}" && pwd)"
KIT="$(cd "${GPU_KIT:-$(dirname "$0")/../.gpu-kit}" 2>/dev/null && pwd || echo "${GPU_KIT:-.gpu-kit}")"
cd "$(dirname "$0")/.."
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
if ! "$PYTHON" -c "import sqlalchemy, alembic" 2>/dev/null; then
  if ! compgen -G "$KIT/*.whl" >/dev/null; then
    echo "error: this Python lacks sqlalchemy/alembic and $KIT holds no wheels: run" \
      "scripts/gpu-kit.sh where the package index is reachable and carry .gpu-kit/ here" | tee "$OUT/bench-gpu.log"
    exit 3
  fi
  if ! "$PYTHON" -m pip install --quiet --no-index --no-deps --target "$scratch/deps" "$KIT"/*.whl; then
    echo "error: the wheels in $KIT do not install on this Python ($("$PYTHON" -V 2>&1)): rerun" \
      "scripts/gpu-kit.sh with GPU_PYTHON_VERSION set to it" | tee "$OUT/bench-gpu.log"
    exit 3
  fi
  export PYTHONPATH="$scratch/deps${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export DCPOC_HOME="${DCPOC_HOME:-$scratch/home}"
unset DCPOC_DB   # the self-check rows go to $DCPOC_HOME/dcpoc.db, copied to $OUT below
{
  date -u
  nvidia-smi 2>&1 | head -15
  "$PYTHON" -c "import sys, torch, triton; print('python', sys.version.split()[0], 'torch',
torch.__version__, 'triton', triton.__version__)"
} >"$OUT/machine.txt" 2>&1
budget=()
case " $* " in *" --budget-s"*) ;; *) budget=(--budget-s "$((LIMIT_S - SECONDS - 120))") ;; esac
"$PYTHON" -m dcpoc bench gpu --out "$OUT/bench-gpu.json" "${budget[@]}" "$@" 2>&1 | tee "$OUT/bench-gpu.log"
rc=${PIPESTATUS[0]}
if [ -f "$DCPOC_HOME/dcpoc.db" ]; then
  "$PYTHON" -c "import sqlite3, sys; sqlite3.connect(sys.argv[1]).backup(sqlite3.connect(sys.argv[2]))" \
    "$DCPOC_HOME/dcpoc.db" "$OUT/dcpoc.db"
fi
# registers and spills as this machine's Triton compiles the kernels (about a minute); not after
# exit 2 (no GPU or bad input: nothing ran), nor when the time left is too short
left=$((LIMIT_S - SECONDS))
if [ "$rc" -ne 2 ] && [ "$left" -gt 30 ]; then
  timeout "$left" "$PYTHON" -m dcpoc.kernels.registers >"$OUT/registers.md" 2>&1
fi
exit "$rc"
