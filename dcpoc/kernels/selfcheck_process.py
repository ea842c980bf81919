"""The self-check in a Python process of its own.

A kernel that faults on a GPU (an illegal or misaligned address) leaves its process's CUDA context
unusable, and one that hangs never returns: run inside a training process, such a check would take
the run down with it, which attn_impl=auto promises never to do. So selfcheck.checked() runs
run_selfcheck() here, in a child Python on the same device, and reads the result from a file. The
parent launches no Triton kernel for the check. The result's crashed flag marks a check that left
its process unusable: a child that died or hung, or one whose CUDA context no longer works after a
failed case (probed); `bench gpu` then keeps its own process off the Triton kernels. Its retry flag
marks a check that says nothing about the kernels (stopped from outside, cut by a caller's time
limit, a GPU that admits one process only): it is not stored, and the next run checks again.

The child runs in a session of its own, so a Ctrl-C or a cancel sent to the run's process group
does not kill it mid-check, and it dies with its parent (PR_SET_PDEATHSIG). On a timeout its whole
group is killed (ptxas included). It starts in an empty folder, so a dcpoc/ folder in the
caller's working directory cannot stand in for this package. DCPOC_INJECT_SELFCHECK_CRASH=1 makes
the child die by SIGSEGV before its first case (tests, drills); DCPOC_SELFCHECK_TIMEOUT_S caps its
seconds.
"""
from __future__ import annotations

import ctypes
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

from .selfcheck import CheckSpec, SelfCheckResult, one_line, run_selfcheck

CRASH_ENV = "DCPOC_INJECT_SELFCHECK_CRASH"
TIMEOUT_ENV = "DCPOC_SELFCHECK_TIMEOUT_S"
# a cold check compiles every kernel in two dtypes, causal and windowed, then times both paths:
# minutes on a GPU machine's CPU; far beyond that the child is stuck
DEFAULT_TIMEOUT_S = 900.0
PACKAGE_ROOT = Path(__file__).resolve().parents[2]      # the folder that holds dcpoc/
_FROM_OUTSIDE = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGKILL}   # a person, a cancel
_ONE_PROCESS_GPU = "busy or unavailable"     # CUDA's words for an exclusive-process GPU in use


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


def run_isolated(spec: CheckSpec, device: torch.device, limit: Optional[float] = None,
                 limit_why: str = "") -> SelfCheckResult:
    """run_selfcheck(spec, device) in a child process within timeout_s() seconds, or within limit
    if that is shorter (limit_why names whose limit it is). Never raises for what the child does."""
    timeout = timeout_s()
    cut = limit is not None and limit < timeout
    timeout = min(timeout, limit) if cut else timeout
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")]))}
    with tempfile.TemporaryDirectory(prefix="dcpoc-selfcheck-") as tmp:
        out = Path(tmp) / "result.json"
        command = [sys.executable, "-m", "dcpoc.kernels.selfcheck_process",
                   json.dumps(asdict(spec)), str(out), str(device), str(os.getpid())]
        # cwd tmp: this package, not a dcpoc/ folder in the caller's working directory
        child = subprocess.Popen(command, env=env, cwd=tmp, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, errors="replace",
                                 start_new_session=True)
        try:
            stdout, stderr = child.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(child)
            if cut:          # the caller's limit, not a hang: nothing learnt about the kernels
                return _failed(spec, f"the self-check process did not finish within {timeout:g} s, "
                                     f"{limit_why}; not kept (a check with its full "
                                     f"{TIMEOUT_ENV} runs in `python -m dcpoc bench selfcheck` "
                                     "or a single-process run, and is then reused)", retry=True)
            return _crashed(spec, f"the self-check process did not finish within {timeout:g} s "
                                  f"and was stopped (a kernel that hangs, or {TIMEOUT_ENV} too low)")
        except BaseException:        # Ctrl-C or an error here: the child goes with it
            _kill_group(child)
            raise
        if out.exists():             # written whole (renamed into place), whatever the exit
            return _from_json(json.loads(out.read_text()))
        return _ended(spec, child.returncode, _last_line(stderr) or _last_line(stdout) or "no output")


def _kill_group(child: subprocess.Popen) -> None:
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        child.communicate(timeout=10)
    except subprocess.TimeoutExpired:   # a grandchild outside the group still holds the pipes
        child.kill()


def _ended(spec: CheckSpec, code: int, last: str) -> SelfCheckResult:
    """The check of a child that wrote no result: how it ended and its last line."""
    if code < 0:
        try:
            sig = signal.Signals(-code)
            how = f"died of {sig.name}"
        except ValueError:
            sig, how = None, f"died of signal {-code}"
    else:
        sig, how = None, f"exited with status {code} without a result"
    error = f"the self-check process {how}; its last line: {last}"
    if sig in _FROM_OUTSIDE:         # stopped by someone or something else: says nothing of kernels
        return _failed(spec, error + "; not kept", retry=True)
    return _crashed(spec, error)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def _crashed(spec: CheckSpec, error: str) -> SelfCheckResult:
    return SelfCheckResult(False, error, None, None, asdict(spec), crashed=True)


def _failed(spec: CheckSpec, error: str, retry: bool) -> SelfCheckResult:
    return SelfCheckResult(False, error, None, None, asdict(spec), retry=retry)


def _from_json(data: dict) -> SelfCheckResult:
    known = SelfCheckResult.__dataclass_fields__
    return SelfCheckResult(**{key: value for key, value in data.items() if key in known})


def _spec_from_json(data: dict) -> CheckSpec:
    # JSON turned the composition-field tuples into lists; CheckSpec is hashable with tuples
    return CheckSpec(**{key: tuple(value) if isinstance(value, list) else value
                        for key, value in data.items()})


def _cuda_still_works(device: torch.device) -> Optional[str]:
    """None if the device still runs a kernel after a failed check, else why not (a fault such as
    an illegal address is sticky: every later CUDA call in the process fails)."""
    try:
        torch.cuda.synchronize(device)
        torch.ones(1, device=device).add_(1).item()
        return None
    except Exception as e:   # noqa: BLE001 - the answer
        return one_line(e)


def _die_with_parent(parent: int) -> None:
    """Linux: SIGKILL this process when its parent dies (a training process killed with -9), and
    exit now if it died already (while this process imported torch)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        os._exit(1)


def main(argv: list[str]) -> int:
    """Child: argv = [spec JSON, result path, device, parent pid]."""
    _die_with_parent(int(argv[3]))
    spec, out, device = _spec_from_json(json.loads(argv[0])), Path(argv[1]), torch.device(argv[2])
    if os.environ.get(CRASH_ENV) == "1":     # a process that dies mid-check, as a fault would
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))     # and leaves no core file behind
        os.kill(os.getpid(), signal.SIGSEGV)
    result = run_selfcheck(spec, device)
    if not result.passed and result.error and _ONE_PROCESS_GPU in result.error:
        result.retry = True
        result.error += ("; the GPU admits one process at a time (exclusive-process mode) and the "
                         "run holds it: run `python -m dcpoc bench selfcheck` before training")
    elif not result.passed and device.type == "cuda":
        broken = _cuda_still_works(device)
        if broken:
            result.crashed = True
            result.error = f"{result.error}; the GPU is unusable in that process after it: {broken}"
    partial = out.with_suffix(".partial")
    partial.write_text(json.dumps(result.to_json()))
    partial.replace(out)                     # the parent never reads half a result
    sys.stdout.flush()
    os._exit(0)     # the result is out: a fault in CUDA's teardown must not turn it into a crash


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
