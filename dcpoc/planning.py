"""Behind the Launch page: what this machine can run, the study form's checks, and what a study will
cost before it is queued. No Streamlit and no torch (the dashboard process never imports torch)."""
from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Mapping

import pandas as pd

from . import costs
from .analysis import run_nproc
from .config import ARCHS, PRESETS, ConfigError, RunConfig
from .counts import flops_per_token
from .security import CorpusPathError, confine_corpus
from .studies import MAX_NAME_LENGTH, StudySpec, plan_study, validate_name

CPU_PRESETS = ("tiny", "cpu-demo")
MAX_RUNS_PER_STUDY = 200       # a web form must not queue an unbounded amount of work
MAX_STEPS = 10_000_000
MAX_TOKENS = 10**13
MAX_QUESTION_LENGTH = 2000
STARTUP_S_PER_RUN = 5.0        # a run's process start, imports and corpus load (measured on a CPU)

# A problem with one form field: an i18n key and the values its text needs.
Problem = tuple[str, dict]


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
    """The device name a run of the study will get: 'cpu', or the GPU's name."""
    return gpu_name if requested in ("auto", "cuda") and gpu_name else "cpu"


def parse_seeds(text: str) -> list[int]:
    """'1, 2 3' -> [1, 2, 3]; ValueError unless a non-empty list of distinct integers >= 0."""
    parts = [p for p in re.split(r"[,\s]+", text.strip()) if p]
    seeds = [int(p) for p in parts]   # ValueError on a non-integer
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise ValueError(text)
    return seeds


@dataclass
class LaunchForm:
    """The Launch page's widgets, as plain values."""
    name: str = ""
    question: str = ""
    corpus: str = "pydoc"          # a built-in name, or a path typed by the user
    presets: list[str] = field(default_factory=lambda: ["tiny"])
    archs: list[str] = field(default_factory=lambda: list(ARCHS))
    seeds: str = "1"
    budget_kind: str = "steps"     # steps | tokens | preset
    budget: int = 60
    device: str = "auto"


def check_form(form: LaunchForm, allowed_dirs: list, offered_presets: list[str]
               ) -> tuple[StudySpec | None, dict[str, Problem]]:
    """The StudySpec of a valid form, or None and the problems by field (name, question, corpus,
    presets, archs, seeds, budget, plan). plan_study is the last check, so nothing the training
    process would refuse gets queued."""
    problems: dict[str, Problem] = {}
    try:
        name = validate_name(form.name)
    except ConfigError:
        name = ""
        problems["name"] = (("launch.err.name_empty", {}) if not form.name.strip() else
                            ("launch.err.name_bad", {"max": MAX_NAME_LENGTH}))
    if len(form.question) > MAX_QUESTION_LENGTH:
        problems["question"] = ("launch.err.question_long", {"max": MAX_QUESTION_LENGTH})
    try:
        corpus = confine_corpus(form.corpus, allowed_dirs)
    except CorpusPathError as e:
        corpus = ""
        problems["corpus"] = (f"launch.err.corpus_{e.reason}", {"path": form.corpus.strip()})
    if not form.presets:
        problems["presets"] = ("launch.err.no_preset", {})
    elif any(p not in offered_presets for p in form.presets):
        problems["presets"] = ("launch.err.preset_hw", {"presets": ", ".join(offered_presets)})
    if not form.archs:
        problems["archs"] = ("launch.err.no_arch", {})
    try:
        seeds = parse_seeds(form.seeds)
    except ValueError:
        seeds = []
        problems["seeds"] = ("launch.err.seeds", {})
    limit = MAX_STEPS if form.budget_kind == "steps" else MAX_TOKENS
    if form.budget_kind != "preset" and not 1 <= form.budget <= limit:
        problems["budget"] = ("launch.err.budget", {"max": f"{limit:,}"})
    n_runs = len(form.presets) * len(form.archs) * len(seeds)
    if n_runs > MAX_RUNS_PER_STUDY:
        problems["seeds"] = ("launch.err.too_many", {"n": n_runs, "max": MAX_RUNS_PER_STUDY})
    if problems:
        return None, problems
    spec = StudySpec(name=name, question=form.question.strip(), corpus=corpus,
                     presets=list(form.presets), archs=list(form.archs), seeds=seeds,
                     steps=form.budget if form.budget_kind == "steps" else None,
                     tokens=form.budget if form.budget_kind == "tokens" else None,
                     device=form.device)
    try:
        plan_study(spec)
    except ConfigError as e:
        return None, {"plan": ("launch.err.plan", {"detail": str(e)})}
    return spec, {}


# (preset, arch, device kind, processes): tokens/s is the throughput of all a run's processes
# together, so it is only reused for a run with as many.
ThroughputKey = tuple[str, str, str, int]


def measured_throughput(runs: pd.DataFrame) -> dict[ThroughputKey, float]:
    """Median training tokens/s of succeeded runs by (preset, arch, device kind, nproc)."""
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


def plan_for_estimate(form: LaunchForm, allowed_dirs: list, offered_presets: list[str]
                      ) -> list[RunConfig] | None:
    """The planned runs as soon as the fields that decide cost are valid (the name and question do
    not), so the estimate shows while the form is still being filled in; None otherwise."""
    draft = LaunchForm(**{**form.__dict__, "name": "estimate", "question": ""})
    spec, _ = check_form(draft, allowed_dirs, offered_presets)
    return plan_study(spec) if spec is not None else None
