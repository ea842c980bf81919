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

CPU_PRESETS = ("tiny", "cpu-xs", "cpu-s", "cpu-demo")
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


# ----------------------------------------------------------------------------- the next step
@dataclass
class NextStep:
    """The runs that answer a Decision's open items, and what they cost: parts are i18n Reasons
    (next.what.*) naming what is run, specs the StudySpecs planned (each a grid of the study's
    corpus, steps and nproc), plan every RunConfig, estimate estimate_study's totals on device."""
    parts: list[Reason]
    specs: list[StudySpec]
    plan: list[RunConfig]
    estimate: dict[str, float]
    device: str


Reason = tuple[str, dict]


def _ladder_order(presets) -> list[str]:
    return sorted(set(presets), key=lambda p: list(PRESETS).index(p) if p in PRESETS else len(PRESETS))


def study_spec_from_runs(runs: pd.DataFrame, study: str | None) -> StudySpec | None:
    """What the study ran, read back from its runs: presets (ladder order), archs, seeds, corpus
    (the most used), nproc, and the step budget (one shared step count; None where every run used
    its preset's default; otherwise the token budget the runs shared, else the largest step count).
    None for a study without runs."""
    if runs.empty:
        return None
    scoped = runs[runs["study"].fillna("").astype(str).eq(study or "")]
    scoped = scoped[scoped["preset"].isin(list(PRESETS))]
    if scoped.empty:
        return None
    steps = (pd.to_numeric(scoped["total_steps"], errors="coerce").dropna().astype(int)
             if "total_steps" in scoped else pd.Series(dtype=int))
    steps = steps[steps > 0]   # a row without a resolved config (total_steps 0) says nothing
    defaults = scoped["preset"].map(lambda p: PRESETS[p]["train"]["steps"])
    spec = StudySpec(name=study or "next", corpus=str(scoped["corpus_spec"].dropna().mode().iloc[0])
                     if scoped["corpus_spec"].notna().any() else "pydoc",
                     presets=_ladder_order(scoped["preset"]),
                     archs=[a for a in ARCHS if a in set(scoped["arch"])],
                     seeds=sorted({int(s) for s in scoped["seed"].dropna()}) or [1],
                     nproc=max(run_nproc(c) for c in scoped["config"]))
    if steps.nunique() == 1:
        spec.steps = int(steps.iloc[0])
    elif len(steps) and (steps.to_numpy() == defaults.loc[steps.index].to_numpy()).all():
        spec.steps = None
    else:
        tokens = (pd.to_numeric(scoped["tokens_seen"], errors="coerce").dropna()
                  if "tokens_seen" in scoped else pd.Series(dtype=float))
        if len(tokens) and tokens.nunique() == 1:
            spec.tokens = int(tokens.iloc[0])
        else:
            spec.steps = int(steps.max()) if len(steps) else None
    return spec


def _larger_presets(spec: StudySpec, n: int) -> list[str]:
    """The next n presets of the ladder the study has not run, larger ones first after its
    largest; smaller unrun ones only when the ladder ends."""
    ladder = list(PRESETS)
    top = max(ladder.index(p) for p in spec.presets)
    above = [p for p in ladder[top + 1:] if p not in spec.presets]
    below = [p for p in reversed(ladder[:top]) if p not in spec.presets]
    return (above + below)[:max(n, 0)]


def _new_seeds(spec: StudySpec, n: int) -> list[int]:
    start = max(spec.seeds) + 1
    return list(range(start, start + max(n, 0)))


def _study_device(runs: pd.DataFrame, study: str | None) -> str:
    scoped = runs[runs["study"].fillna("").astype(str).eq(study or "")] if not runs.empty else runs
    devices = scoped["device"].dropna() if "device" in scoped else pd.Series(dtype=object)
    return str(devices.mode().iloc[0]) if len(devices) else "cpu"


def next_step(decision, runs: pd.DataFrame, study: str | None, device_name: str | None = None,
              measured: Mapping[ThroughputKey, float] | None = None,
              prices: Mapping[str, float] | None = None) -> NextStep | None:
    """The concrete runs for a Decision (analysis.Decision) and their estimate (estimate_study on
    device_name, default the device most of the study's runs used; throughput measured from the
    runs where available). need.sizes: the next larger unrun preset(s) for both architectures and
    the study's seeds; need.seeds: new seeds (after the largest) at every preset, new presets
    included; need.arch: the missing architecture at the study's presets and seeds; need.failed:
    the failed runs again. CONDITIONAL: one more seed at every size; GO: the next larger preset to
    confirm; NO-GO, or nothing to plan: None."""
    spec = study_spec_from_runs(runs, study)
    if spec is None:
        return None
    needed = {key: values for key, values in decision.needed}
    if decision.verdict == "CONDITIONAL":
        needed = {"need.seeds": {"n": 1}}
    elif decision.verdict == "GO":
        needed = {"need.sizes": {"n": 1}}
    elif decision.verdict == "NO-GO":
        return None
    base = dict(name=spec.name, question="", corpus=spec.corpus, steps=spec.steps, tokens=spec.tokens,
                device="auto", nproc=spec.nproc)
    specs: list[StudySpec] = []
    parts: list[Reason] = []
    new_presets = _larger_presets(spec, needed["need.sizes"]["n"]) if "need.sizes" in needed else []
    new_seeds = _new_seeds(spec, needed["need.seeds"]["n"]) if "need.seeds" in needed else []
    if new_presets:
        specs.append(StudySpec(presets=new_presets, archs=list(ARCHS),
                               seeds=spec.seeds + new_seeds, **base))
        parts.append(("next.what.sizes", {"presets": ", ".join(new_presets),
                                          "seeds": ", ".join(map(str, spec.seeds + new_seeds))}))
    if new_seeds:
        specs.append(StudySpec(presets=list(spec.presets), archs=list(ARCHS), seeds=new_seeds, **base))
        parts.append(("next.what.seeds", {"seeds": ", ".join(map(str, new_seeds)),
                                          "presets": ", ".join(spec.presets + new_presets)}))
    if "need.arch" in needed:
        missing = [a for a in ARCHS if a not in spec.archs]
        if missing:
            specs.append(StudySpec(presets=list(spec.presets), archs=missing, seeds=list(spec.seeds),
                                   **base))
            parts.append(("next.what.arch", {"arch": needed["need.arch"]["arch"],
                                             "presets": ", ".join(spec.presets)}))
    if "need.failed" in needed:
        scoped = runs[runs["study"].fillna("").astype(str).eq(study or "")]
        failed = scoped[scoped["status"].eq("failed") | scoped["diverged"].eq(True)]
        failed = failed[failed["preset"].isin(list(PRESETS)) & failed["arch"].isin(list(ARCHS))]
        for row in failed.itertuples():
            specs.append(StudySpec(presets=[row.preset], archs=[row.arch], seeds=[int(row.seed)],
                                   **base))
        if len(failed):
            parts.append(("next.what.failed", {"n": len(failed)}))
    if not specs:
        return None
    try:
        plan = [run for one in specs for run in plan_study(one)]
    except ConfigError:   # the study's own settings no longer plan (e.g. an edited preset)
        return None
    device = device_name or _study_device(runs, study)
    measured = measured_throughput(runs) if measured is None else measured
    return NextStep(parts, specs, plan, estimate_study(plan, device, measured, prices), device)
