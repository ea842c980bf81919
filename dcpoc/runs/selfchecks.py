"""The selfchecks table: Triton self-checks (kernels/selfcheck.py) stored and reused while the GPU,
the triton and torch versions, the dcpoc commit and the whole checked shape (heads, head dim, rank,
composition terms, window, timed batch and length) stay the same; and `python -m dcpoc bench
selfcheck`, which runs one on demand."""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Optional

import torch

from ..kernels.selfcheck import (CPU_ENV, CheckSpec, SelfCheckResult, checkable, checked, decide,
                                 gpu_name, spec_for_model)
from .execute import git_commit, library_versions
from .selfcheck_rows import add_selfcheck, read_selfchecks
from .store import Store, StoreError

KERNELS = Path(__file__).resolve().parent.parent / "kernels"


def reuse_key(name: str, spec: CheckSpec) -> dict:
    """What a stored self-check must match to be reused. In a checkout with uncommitted changes the
    commit gets a digest of the kernel sources, so editing a kernel runs the check again."""
    versions, commit = library_versions(), git_commit()
    if commit == "unknown" or commit.endswith("-dirty"):
        digest = hashlib.sha256()
        for source in ("triton_dcmha.py", "torch_dcmha.py", "selfcheck.py", "__init__.py"):
            digest.update((KERNELS / source).read_bytes())
        commit = f"{commit}-{digest.hexdigest()[:10]}"
    return {"gpu_name": name, "triton_version": versions["triton"], "torch_version": torch.__version__,
            "git_commit": commit, "n_heads": spec.n_heads, "head_dim": spec.head_dim}


def _with_reason(check: dict) -> dict:
    """A stored self-check plus why auto chose its path and whether a fault was injected."""
    _, reason = decide(check["passed"], check["error"], check["triton_ms"], check["torch_ms"])
    return {**check, "reason": reason, "injected_fault": bool(check["result"].get("injected_fault"))}


def find_selfcheck(store: Store, key: dict, spec: Optional[CheckSpec] = None) -> Optional[dict]:
    """The newest stored self-check with this reuse key and (if given) this very CheckSpec, or
    None: a check at rank 2 says nothing about rank 4, a timing at T 1024 nothing about T 4096."""
    wanted = None if spec is None else json.loads(json.dumps(asdict(spec)))   # tuples as lists
    for found in read_selfchecks(store, key=key):
        if wanted is None or found["result"].get("spec") == wanted:
            return _with_reason(found)
    return None


def save_selfcheck(store: Store, key: dict, result: SelfCheckResult) -> dict:
    """Store one self-check under key; returns it as find_selfcheck would."""
    chosen, _ = decide(result.passed, result.error, result.triton_ms, result.torch_ms)
    return _with_reason(add_selfcheck(store, key, passed=result.passed, error=result.error,
                                      triton_ms=result.triton_ms, torch_ms=result.torch_ms,
                                      chosen=chosen, result=result.to_json()))


def list_selfchecks(store: Store, limit: int = 20) -> list[dict]:
    """The newest stored self-checks, newest first."""
    return [_with_reason(check) for check in read_selfchecks(store, limit=limit)]


class StoreCache:
    """kernels.selfcheck.CheckCache on the database."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, name: str, spec: CheckSpec) -> Optional[dict]:
        return find_selfcheck(self.store, reuse_key(name, spec), spec)

    def put(self, name: str, spec: CheckSpec, result: SelfCheckResult) -> dict:
        return save_selfcheck(self.store, reuse_key(name, spec), result)


def selfcheck_now(store: Optional[Store], preset: Optional[str] = None,
                  limit: Optional[float] = None, limit_why: str = "") -> Optional[dict]:
    """Run the self-check afresh for a preset's DCFormer shape on this machine's GPU (or, under the
    interpreter with DCPOC_SELFCHECK_ON_CPU=1, the CPU), in a process of its own (stopped after
    limit seconds if given, limit_why saying whose limit), and store it; None without one."""
    from ..config import make_config
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not checkable(device):
        return None
    run = make_config("dcformer", preset or ("gpu-small" if device.type == "cuda" else "tiny"))
    spec = spec_for_model(run.model, run.train, device)
    return checked(gpu_name(device), spec, device, StoreCache(store) if store is not None else None,
                   fresh=True, limit=limit, limit_why=limit_why)


def format_selfcheck(check: dict) -> str:
    """A stored self-check as the lines `bench selfcheck` prints."""
    result = check.get("result", {})
    spec = result.get("spec", {})
    head = (f"Triton self-check on {check['gpu_name']} (triton {check.get('triton_version', '?')}, "
            f"torch {check.get('torch_version', '?')}, dcpoc {check.get('git_commit', '?')}), "
            f"H {check['n_heads']}, d {check['head_dim']}: {'PASSED' if check['passed'] else 'FAILED'}")
    lines = [head]
    for case in result.get("cases", []):
        worst = case["worst"]
        lines.append(f"  {case['dtype']} {'window ' + str(case['window']) if case['window'] else 'causal'}: "
                     f"max relative error {case['errors'][worst]:.2e} ({worst}), tolerance "
                     f"{case['tolerance']:g}: {'ok' if case['ok'] else 'FAIL'}")
    if check["error"]:
        lines.append(f"  error: {check['error']}")
    if check["triton_ms"] is not None and spec:
        lines.append(f"  forward+backward at B{spec['batch']} T{spec['seq_len']} {spec['dtype']}: "
                     f"Triton {check['triton_ms']:.2f} ms, PyTorch {check['torch_ms']:.2f} ms")
    lines.append(f"attn_impl=auto trains on: {check['chosen']} ({check['reason']})")
    return "\n".join(lines)


def selfcheck_for_bench(preset: Optional[str] = None, deadline: Optional[float] = None) -> dict:
    """`bench gpu` runs the self-check first (at preset's DCFormer shape): printed, stored when the
    database is reachable, and returned JSON-ready for the benchmark's result. deadline
    (time.monotonic()): its process is stopped there."""
    try:
        store: Optional[Store] = Store()
    except StoreError as e:
        print(f"self-check not stored: {e}", flush=True)
        store = None
    left = None if deadline is None else max(1.0, deadline - time.monotonic())
    check = selfcheck_now(store, preset, left, "what was left of the benchmark's time budget "
                                               "(--budget-s)") or {}
    if check:
        print(format_selfcheck(check), flush=True)
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in check.items()}


def cmd_selfcheck(preset: Optional[str] = None) -> int:
    """`python -m dcpoc bench selfcheck`: run, store and print; one line without a GPU."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not checkable(device):
        print("no CUDA GPU here: nothing to check. On a GPU, `bench selfcheck` checks the Triton "
              "DCMHA kernels against the PyTorch path, times both and stores which one attn_impl=auto "
              f"uses; here every run trains on the PyTorch path (tests: TRITON_INTERPRET=1 "
              f"{CPU_ENV}=1 checks on the CPU)")
        return 0
    check = selfcheck_now(Store(), preset)
    print(format_selfcheck(check))
    return 0 if check["passed"] else 1
