"""`python -m dcpoc bench gpu`: the prepared script for a lent or new GPU, in stages, inside a budget.

A GPU may be lent for a few minutes only, and a command that overruns is killed, so the script runs
the stages most worth having first (a one-line kernel launch, the self-check at the paper's shape,
correctness in float32 and bf16, the kernel benchmark at T 2048, the paper-405m model benchmark,
then the other lengths and the compiled reference), rewrites its JSON after every stage (a killed
run leaves what finished), skips what no longer fits the time budget, and records a failing stage's
one-line error instead of losing the stages after it. scripts/gpu-bench.sh runs it on a machine
that has PyTorch and Triton but not our other requirements (the GPU image): see README.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable, Optional

import torch

from .bench import (CORE_IMPLS, TRITON_ALTERNATIVES, bench_kernels, bench_model, bench_result,
                    format_checks, format_result, random_attention_inputs)
from .config import ConfigError
from .kernels.selfcheck import one_line

# a lent GPU's command may run 600 s: the stages' budget leaves room for Python and CUDA start-up,
# a unit started just before the deadline, and scripts/gpu-bench.sh's register table
DEFAULT_BUDGET_S = 420.0
KERNEL_T = 2048                       # issue 12's kernel targets are set at T 2048
MORE_LENGTHS = [512, 1024, 4096, 8192]
SELFCHECK_PRESET = "paper-405m"       # H 16, d 64: the shape the kernel and model stages time


def launch_check(deadline: float, device: str = "cuda") -> dict:
    """Whether this machine can build and launch a Triton kernel at all: a failure here is the
    environment (C compiler, Python headers, driver), not our kernels."""
    from .kernels.triton_dcmha import launch_smoke
    started = time.monotonic()
    launch_smoke(torch.device(device))
    return {"ok": True, "seconds": round(time.monotonic() - started, 1)}


def triton_withheld(result: dict) -> Optional[str]:
    """Why this process must launch no Triton kernel, or None: the self-check's own process died
    or hung on them (selfcheck_process.py), and a CUDA fault here would end every later stage."""
    check = result.get("selfcheck") or {}
    if (check.get("result") or {}).get("crashed"):
        return f"the self-check's process crashed on the Triton kernels ({check.get('error')})"
    return None


def _without_triton(impls: tuple[str, ...], result: dict) -> tuple[str, ...]:
    return impls if triton_withheld(result) is None else tuple(
        impl for impl in impls if not impl.startswith("triton"))


def more_kernels(deadline: float, impls: tuple[str, ...] = CORE_IMPLS) -> dict:
    """The kernel benchmark at the other lengths, then the compiled reference at T 2048 (two cold
    compiles): after the model stage, since issue 12's targets do not read them."""
    result = bench_kernels("cuda", MORE_LENGTHS, deadline, only=impls)
    compiled = bench_kernels("cuda", [KERNEL_T], deadline, only=("reference_compiled",))
    result["rows"] = sorted(result["rows"] + compiled["rows"], key=lambda row: row["T"])
    return result


def check_kernels_on_gpu(withheld: Optional[str] = None) -> list[dict]:
    """dcmha_triton against dcmha_reference on the GPU: output and every gradient, fp32 and bf16.
    withheld: triton_withheld()'s reason, which stops the stage before any launch."""
    if withheld:
        raise RuntimeError(f"not run: {withheld}")
    from .kernels import dcmha_reference, dcmha_triton
    dev = torch.device("cuda")
    checks = []
    cases = [(torch.float32, 1e-4, None), (torch.bfloat16, 2e-2, None), (torch.float32, 1e-4, 64)]
    for dtype, tol, window in cases:
        B, H, T, d, R = 2, 16, 333, 64, 2
        q, k, v, pre, post = random_attention_inputs(B, H, T, d, R, dtype, dev, seed=1)
        leaves = [q, k, v, *pre[:6], *post[:6]]
        results = {}
        for name, fn in (("triton", dcmha_triton), ("reference", dcmha_reference)):
            out = fn(q, k, v, pre, post, causal=True, window=window)
            grads = torch.autograd.grad(out.float().square().sum(), leaves)
            results[name] = [out.float()] + [g.float() for g in grads]
        errors = [((a - b).norm() / b.norm().clamp_min(1e-30)).item()
                  for a, b in zip(results["triton"], results["reference"])]
        checks.append({"dtype": str(dtype), "window": window, "shape": f"B{B}-H{H}-T{T}-d{d}-R{R}",
                       "max_rel_error": max(errors), "tolerance": tol, "ok": max(errors) < tol})
    return checks


Stage = tuple[str, Callable[[float], object]]   # (name, fn(deadline) -> JSON-ready result)


def run_stages(result: dict, stages: list[Stage], out: Path, budget_s: float,
               echo: Callable[[str, object], None] = lambda name, value: None) -> dict:
    """Run stages in order into result[name], writing result as JSON to out after each one.
    A stage that would start past the budget is listed in result["skipped"]; one that raises is
    listed in result["errors"] with a one-line message and the next stage still runs. Each stage
    gets the deadline (time.monotonic()) so a long one can stop early, leaving its rows marked
    skipped."""
    deadline = time.monotonic() + budget_s
    result.update(budget_s=budget_s, skipped=[], errors={})
    out.parent.mkdir(parents=True, exist_ok=True)
    for name, fn in stages:
        started = time.monotonic()
        if started >= deadline:
            result["skipped"].append(name)
        else:
            try:
                result[name] = fn(deadline)
                echo(name, result[name])
            except Exception as e:   # noqa: BLE001 - recorded; the next stage may still work
                result["errors"][name] = one_line(e)
                print(f"stage {name} failed: {one_line(e)}", flush=True)
            result.setdefault("stage_s", {})[name] = round(time.monotonic() - started, 1)
        out.write_text(json.dumps(result, indent=2, default=str))   # str: never lose the file
    return result


def _echo(name: str, value: object) -> None:
    if name == "checks":
        print(format_checks(value), flush=True)
    elif name in ("kernels", "model", "kernels_more"):
        print(format_result(value), flush=True)


def bench_gpu(out: Path, budget_s: float | None = None) -> dict:
    """The prepared GPU script: self-check, kernel checks, then the kernel and model benchmarks.
    Stages, benchmark rows and presets not started within budget_s seconds are skipped (one that
    has started runs to its end). JSON is rewritten at out after every stage."""
    budget_s = DEFAULT_BUDGET_S if budget_s is None else budget_s
    if not budget_s > 0:
        raise ConfigError(f"--budget-s {budget_s:g}: must be > 0 seconds")
    if not torch.cuda.is_available():
        raise ConfigError("bench gpu needs a CUDA GPU; on a CPU run `python -m dcpoc bench model` or `bench kernels`")
    from .runs.selfchecks import selfcheck_for_bench
    result = bench_result("gpu", torch.device("cuda"))
    # after a crashed self-check the later stages keep to what cannot fault on our kernels
    stages: list[Stage] = [
        ("launch", launch_check),
        ("selfcheck", lambda deadline: selfcheck_for_bench(SELFCHECK_PRESET, deadline)),
        ("checks", lambda deadline: check_kernels_on_gpu(triton_withheld(result))),
        ("kernels", lambda deadline: bench_kernels(
            "cuda", [KERNEL_T], deadline,
            only=_without_triton(CORE_IMPLS + tuple(TRITON_ALTERNATIVES), result))),
        ("model", lambda deadline: bench_model(
            device="cuda", steps=10, deadline=deadline,
            dcformer_impl="auto" if triton_withheld(result) is None else "torch")),
        ("kernels_more", lambda deadline: more_kernels(deadline, _without_triton(CORE_IMPLS, result))),
    ]
    return run_stages(result, stages, out, budget_s, _echo)


def gaps(result: dict) -> list[str]:
    """What keeps a `bench gpu` result from complete, one line each: stages skipped for the
    budget or failed, a failed self-check or kernel check, benchmark rows and presets not run for
    the budget or failed. Rows skipped for lack of memory are findings (the eager reference at long
    T), not gaps."""
    lines = []
    if result.get("skipped"):
        lines.append(f"skipped (time budget of {result['budget_s']:g} s spent): "
                     + ", ".join(result["skipped"]))
    lines += [f"stage {name} failed: {error}" for name, error in result.get("errors", {}).items()]
    if result.get("selfcheck", {}).get("passed") is False:
        lines.append(f"self-check failed: {result['selfcheck'].get('error')}")
    if triton_withheld(result):
        lines.append("no Triton kernel benchmarked and DCFormer timed on the PyTorch path: "
                     "the self-check's process crashed")
    lines += [f"check {c['shape']} {c['dtype']} window={c['window']} failed: error "
              f"{c['max_rel_error']:.2e} over {c['tolerance']}" for c in result.get("checks", [])
              if not c["ok"]]
    for stage in ("kernels", "kernels_more"):
        for row in result.get(stage, {}).get("rows", []):
            if row.get("skipped", "").startswith(("failed", "time budget")):
                lines.append(f"kernels T {row['T']} {row['impl']}: {row['skipped']}")
    for preset, why in result.get("model", {}).get("skipped", {}).items():
        lines.append(f"model {preset}: {why}")
    for preset, note in result.get("model", {}).get("notes", {}).items():
        lines.append(f"model {preset}: {note}")
    return lines


def format_gaps(result: dict) -> str:
    """gaps(result) as text ('' for a complete result)."""
    return "\n".join(gaps(result))


def format_gpu(result: dict) -> str:
    """The stages that ran, in order, then what was skipped or failed."""
    lines = []
    if "launch" in result:
        lines.append(f"Triton launches a kernel here ({result['launch']['seconds']:g} s)")
    if "selfcheck" in result:
        lines.append(f"auto trains on: {result['selfcheck'].get('chosen', '?')}")
    if "checks" in result:
        lines.append(format_checks(result["checks"]))
    for name in ("kernels", "model", "kernels_more"):
        if name in result:
            lines.append(format_result(result[name]))
    return "\n".join(lines + gaps(result))
