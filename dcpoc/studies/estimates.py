"""What a plan of runs will cost before it runs: the hardware this server offers, the device a study is
priced on, the throughput finished runs measured, and the time, device-hours and dollars of the plan.
No Streamlit and no torch (the dashboard process never imports torch)."""
from __future__ import annotations

import shutil
import subprocess
from typing import Mapping

import pandas as pd

from .. import costs
from ..config import PRESETS, RunConfig
from ..counts import flops_per_token

CPU_PRESETS = ("tiny", "cpu-xs", "cpu-s", "cpu-demo")
STARTUP_S_PER_RUN = 5.0        # a run's process start, imports and corpus load (measured on a CPU)
# The GPU a study that asks for CUDA is priced on where this server has none (costs.device_kind
# maps it to h100), so a GPU study's plan and cost can be read on a laptop.
PLANNING_GPU = "NVIDIA H100 80GB HBM3"

# (preset, arch, device kind, processes): tokens/s is the throughput of all a run's processes
# together, so it is only reused for a run with as many.
ThroughputKey = tuple[str, str, str, int]


def detect_gpu() -> str | None:
    """The first CUDA GPU's name via nvidia-smi (no torch import), or None without one."""
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    names = [line.strip() for line in out.stdout.splitlines() if line.strip()]
    return names[0] if out.returncode == 0 and names else None


def runnable_presets(gpu_name: str | None) -> list[str]:
    """The preset ladder this hardware can run: all of it with a GPU, the CPU rungs without."""
    return list(PRESETS) if gpu_name else [p for p in PRESETS if p in CPU_PRESETS]


def estimate_device(requested: str, gpu_name: str | None) -> str:
    """The device name a run of the study will get: 'cpu', or the GPU's name; a study that asks
    for CUDA on a server without a GPU is priced on PLANNING_GPU."""
    if requested in ("auto", "cuda") and gpu_name:
        return gpu_name
    return PLANNING_GPU if requested == "cuda" else "cpu"


def measured_throughput(runs: pd.DataFrame) -> dict[ThroughputKey, float]:
    """Median training tokens/s of succeeded runs by (preset, arch, device kind, nproc)."""
    # decision imports studies (through runs): importing it at module level would be a cycle
    from ..decision import run_nproc
    if runs.empty:
        return {}
    done = runs[runs["status"].eq("succeeded")]
    speed = pd.to_numeric(done["tokens_per_s"], errors="coerce").astype(float)
    done = done.assign(speed=speed, kind=done["device"].fillna("cpu").map(costs.device_kind),
                       nproc=done["config"].map(run_nproc))
    done = done[done["speed"] > 0]
    medians = done.groupby(["preset", "arch", "kind", "nproc"])["speed"].median()
    return {(preset, arch, kind, int(nproc)): float(value)
            for (preset, arch, kind, nproc), value in medians.items()}


def estimate_study(plan: list[RunConfig], device_name: str,
                   measured: Mapping[ThroughputKey, float],
                   prices: Mapping[str, float] | None = None) -> dict[str, float]:
    """Totals for running every planned run one after the other on device_name: wall_s (training
    plus STARTUP_S_PER_RUN each), device_hours and cost_usd (training time only, as a finished run
    is priced), flops, tokens; n_runs and n_measured (runs whose throughput comes from finished
    runs of the same preset, arch, device kind and process count rather than costs' assumption)."""
    kind = costs.device_kind(device_name)
    total = {"n_runs": len(plan), "n_measured": 0, "tokens": 0, "wall_s": 0.0,
             "device_hours": 0.0, "cost_usd": 0.0, "flops": 0.0}
    for run in plan:
        tokens = run.train.steps * run.train.batch_size * run.model.seq_len
        fpt = flops_per_token(run.model)["total"]
        speed = measured.get((run.preset, run.model.arch, kind, run.train.nproc))
        if speed:
            total["n_measured"] += 1
        else:
            speed = costs.assumed_tokens_per_s(fpt, run.model.arch, device_name, run.train.nproc)
        one = costs.estimate_run(tokens, fpt, speed, device_name, run.train.nproc, prices,
                                 gpu_type=run.train.gpu_type)
        total["tokens"] += tokens
        for key in ("wall_s", "device_hours", "cost_usd", "flops"):
            total[key] += one[key]
        total["wall_s"] += STARTUP_S_PER_RUN
    return total
