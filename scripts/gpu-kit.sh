#!/usr/bin/env bash
# Download, on a machine with package-index access, the wheels that `python -m dcpoc bench gpu` needs
# and a GPU image without our requirements lacks (the lent image has torch, triton, numpy, pandas and
# tqdm, not our database layer: scripts/gpu-image-packages.txt), into .gpu-kit/ (git-ignored), for
# scripts/gpu-bench.sh to install there offline. GPU_PYTHON_VERSION: the GPU machine's Python
# (default 3.12, the lent image's).
set -euo pipefail
cd "$(dirname "$0")/.."
PY_VERSION="${GPU_PYTHON_VERSION:-3.12}"
if [ -z "${PYTHON:-}" ]; then   # pip of the project's environment if there is one
  PYTHON=python3
  [ -x .venv/bin/python ] && PYTHON=.venv/bin/python
fi
pinned() {   # the requirements.txt pin of one package, so the kit matches what the tests ran
  { grep -iE "^$1==" requirements.txt || true; } | head -1 | cut -d';' -f1 | tr -d ' '
}
KIT=(sqlalchemy alembic mako)
specs=()
for name in "${KIT[@]}"; do
  spec=$(pinned "$name")
  if [ -z "$spec" ]; then   # alembic's template engine is no direct requirement: the installed one
    spec="$name==$("$PYTHON" -c "import importlib.metadata as m; print(m.version('$name'))")"
  fi
  specs+=("$spec")
done
rm -rf .gpu-kit && mkdir -p .gpu-kit
"$PYTHON" -m pip download --isolated --quiet --no-deps --only-binary=:all: \
  --python-version "$PY_VERSION" --platform manylinux_2_28_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .gpu-kit "${specs[@]}"
echo "GPU kit for Python $PY_VERSION in .gpu-kit/: $(cd .gpu-kit && ls *.whl | tr '\n' ' ')"
