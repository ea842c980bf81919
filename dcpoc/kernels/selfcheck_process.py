"""The self-check in a Python process of its own.

A kernel that faults on a GPU (an illegal address, a misaligned access) leaves its process's CUDA
context unusable, and one that hangs never returns: run inside a training process, such a check
would take the run down with it, which attn_impl=auto promises never to do. So selfcheck.checked()
runs run_selfcheck() here, in a child Python on the same device, reads the result from a file, and
turns a child that died, hung or wrote nothing into a failed check (crashed=True) whose error says
how it ended and the last line it wrote. The parent launches no Triton kernel for the check.

DCPOC_INJECT_SELFCHECK_CRASH=1 makes the child die by SIGSEGV before its first case (tests,
drills); DCPOC_SELFCHECK_TIMEOUT_S caps the child's seconds (default DEFAULT_TIMEOUT_S).
"""
from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Optional

import torch

from .selfcheck import CheckSpec, SelfCheckResult, run_selfcheck

CRASH_ENV = "DCPOC_INJECT_SELFCHECK_CRASH"
TIMEOUT_ENV = "DCPOC_SELFCHECK_TIMEOUT_S"
# a cold check compiles every kernel in two dtypes, causal and windowed, then times both paths:
# minutes on a GPU machine's CPU; far beyond that the child is stuck
DEFAULT_TIMEOUT_S = 900.0
PACKAGE_ROOT = Path(__file__).resolve().parents[2]      # the folder that holds dcpoc/


def timeout_s() -> float:
    """DCPOC_SELFCHECK_TIMEOUT_S, else the default; a value that is no positive number is an error
    named in one line (it would otherwise let a hung check stall every run)."""
    raw = os.environ.get(TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ValueError(f"{TIMEOUT_ENV}={raw!r}: must be a number of seconds > 0 (default "
                         f"{DEFAULT_TIMEOUT_S:g}); unset it or fix it")
    return value


def run_isolated(spec: CheckSpec, device: torch.device,
                 timeout: Optional[float] = None) -> SelfCheckResult:
    """run_selfcheck(spec, device) in a child process, within timeout seconds (default
    timeout_s()). Never raises for what the child does: a crash, a hang or a missing result is a
    failed check with crashed=True."""
    timeout = timeout_s() if timeout is None else timeout
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")]))}
    with tempfile.TemporaryDirectory(prefix="dcpoc-selfcheck-") as tmp:
        out = Path(tmp) / "result.json"
        command = [sys.executable, "-m", "dcpoc.kernels.selfcheck_process",
                   json.dumps(asdict(spec)), str(out), str(device)]
        try:
            child = subprocess.run(command, env=env, capture_output=True, text=True,
                                   errors="replace", timeout=timeout)
        except subprocess.TimeoutExpired:
            return _crashed(spec, f"the self-check process did not finish within {timeout:g} s "
                                  f"and was stopped (a kernel that hangs, or {TIMEOUT_ENV} too low)")
        if child.returncode == 0 and out.exists():
            return _from_json(json.loads(out.read_text()))
        last = _last_line(child.stderr) or _last_line(child.stdout) or "no output"
        return _crashed(spec, f"the self-check process {_how_it_ended(child.returncode)}; its "
                              f"last line: {last}")


def _how_it_ended(code: int) -> str:
    if code < 0:
        try:
            return f"died of {signal.Signals(-code).name}"
        except ValueError:
            return f"died of signal {-code}"
    return f"exited with status {code} without a result"


def _last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def _crashed(spec: CheckSpec, error: str) -> SelfCheckResult:
    return SelfCheckResult(False, error, None, None, asdict(spec), crashed=True)


def _from_json(data: dict) -> SelfCheckResult:
    known = SelfCheckResult.__dataclass_fields__
    return SelfCheckResult(**{key: value for key, value in data.items() if key in known})


def _spec_from_json(data: dict) -> CheckSpec:
    # JSON turned the composition-field tuples into lists; CheckSpec is hashable with tuples
    return CheckSpec(**{key: tuple(value) if isinstance(value, list) else value
                        for key, value in data.items()})


def main(argv: list[str]) -> int:
    """Child: argv = [spec JSON, result path, device]."""
    spec, out, device = _spec_from_json(json.loads(argv[0])), Path(argv[1]), torch.device(argv[2])
    if os.environ.get(CRASH_ENV) == "1":     # a process that dies mid-check, as a fault would
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))     # and leaves no core file behind
        os.kill(os.getpid(), signal.SIGSEGV)
    result = run_selfcheck(spec, device)
    partial = out.with_suffix(".partial")
    partial.write_text(json.dumps(result.to_json()))
    partial.replace(out)                          # the parent never reads half a result
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
