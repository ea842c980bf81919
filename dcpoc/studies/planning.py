"""Behind the Launch page: what this machine can run, the study form's checks, and what a study will
cost before it is queued. No Streamlit and no torch (the dashboard process never imports torch)."""
from __future__ import annotations

import math
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pandas as pd

from .. import costs
from ..decision import tuning
from ..decision.analysis import counted_runs, run_nproc
from ..config import ARCHS, DEVICES, PRESETS, ConfigError, RunConfig, make_config
from ..counts import count_parameters, flops_per_token
from ..ui.i18n import t
from ..security import BUILTIN_CORPORA, CorpusPathError, confine_corpus
from .spec import (MAX_NAME_LENGTH, REFERENCE_STUDIES, StudyPlan, StudySpec,
                      default_lr_grid, ladder, ladder_problems, plan_stages, plan_study,
                      reference_study, validate_name)

CPU_PRESETS = ("tiny", "cpu-xs", "cpu-s", "cpu-demo")
MAX_RUNS_PER_STUDY = 200       # a web form must not queue an unbounded amount of work
MAX_STEPS = 10_000_000
MAX_TOKENS = 10**13
MAX_TOKENS_PER_PARAM = 1e6     # studies accepts tokens_per_param below this
MAX_QUESTION_LENGTH = 2000
STARTUP_S_PER_RUN = 5.0        # a run's process start, imports and corpus load (measured on a CPU)
# The GPU a study that asks for CUDA is priced on where this server has none (costs.device_kind
# maps it to h100), so a GPU study's plan and cost can be read on a laptop.
PLANNING_GPU = "NVIDIA H100 80GB HBM3"
BUDGET_KINDS = ("steps", "tokens", "tokens_per_param", "preset")
# What a budget field shows before anyone types in it, by kind.
BUDGET_DEFAULTS: dict[str, float] = {"steps": 100, "tokens": 1_000_000, "tokens_per_param": 20.0}
START_BLANK = "blank"

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
    """The device name a run of the study will get: 'cpu', or the GPU's name; a study that asks
    for CUDA on a server without a GPU is priced on PLANNING_GPU."""
    if requested in ("auto", "cuda") and gpu_name:
        return gpu_name
    return PLANNING_GPU if requested == "cuda" else "cpu"


def parse_seeds(text: str) -> list[int]:
    """'1, 2 3' -> [1, 2, 3]; ValueError unless a non-empty list of distinct integers >= 0."""
    parts = [p for p in re.split(r"[,\s]+", text.strip()) if p]
    seeds = [int(p) for p in parts]   # ValueError on a non-integer
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise ValueError(text)
    return seeds


def parse_lr_grid(text: str) -> list[float]:
    """'3e-4, 1e-3 3e-3' -> [0.0003, 0.001, 0.003]; '' -> [] (the default grid around each
    preset's rate); ValueError unless distinct finite rates between 0 and 1."""
    rates = [float(p) for p in re.split(r"[,\s]+", text.strip()) if p]   # ValueError on a word
    if any(not math.isfinite(r) or not 0 < r < 1 for r in rates) or len(set(rates)) != len(rates):
        raise ValueError(text)
    return rates


@dataclass
class LaunchForm:
    """The Launch page's widgets, as plain values; overrides, evals_per_run and workers come with a
    reference study (the form has no widget for them)."""
    name: str = ""
    question: str = ""
    corpus: str = "pydoc"          # a built-in name, or a path typed by the user
    presets: list[str] = field(default_factory=lambda: ["tiny"])
    archs: list[str] = field(default_factory=lambda: list(ARCHS))
    seeds: str = "1"
    budget_kind: str = "steps"     # steps | tokens | tokens_per_param | preset
    budget: float = 60             # a whole number for steps and tokens
    device: str = "auto"
    sweep: str = "none"            # learning-rate sweep: none | smallest | each
    lrs: str = ""                  # the swept rates as typed; '' = around each preset's rate
    overrides: list[str] = field(default_factory=list)
    evals_per_run: int = 0
    workers: int = 1


def _count_runs(form: LaunchForm, n_seeds: int, n_lrs: int) -> int:
    per_size = len(form.archs) * n_seeds
    n_sizes = len(set(form.presets))
    if form.sweep == "each":
        return per_size * n_sizes * n_lrs
    if form.sweep == "smallest":
        return per_size * (n_lrs + n_sizes - 1)
    return per_size * n_sizes


def _check_budget(form: LaunchForm) -> Problem | None:
    if form.budget_kind == "preset":
        return None
    if form.budget_kind == "tokens_per_param":
        ok = math.isfinite(form.budget) and 0 < form.budget < MAX_TOKENS_PER_PARAM
        return None if ok else ("launch.err.budget_ratio", {"max": f"{MAX_TOKENS_PER_PARAM:,.0f}"})
    limit = MAX_STEPS if form.budget_kind == "steps" else MAX_TOKENS
    if not (float(form.budget).is_integer() and 1 <= form.budget <= limit):
        return ("launch.err.budget", {"max": f"{limit:,}"})
    return None


def check_form(form: LaunchForm, allowed_dirs: list, offered_presets: list[str]
               ) -> tuple[StudySpec | None, dict[str, Problem]]:
    """The StudySpec of a valid form, or None and the problems by field (name, question, corpus,
    presets, archs, seeds, budget, lrs, plan). The rate grid counts only with a sweep (the page
    disables its field otherwise). plan_study is the last check, so nothing the training process
    would refuse gets queued."""
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
    budget_problem = _check_budget(form)
    if budget_problem:
        problems["budget"] = budget_problem
    lr_grid: list[float] = []
    if form.sweep != "none":
        try:
            lr_grid = parse_lr_grid(form.lrs)
        except ValueError:
            problems["lrs"] = ("launch.err.lrs", {})
    n_lrs = len(lr_grid) or len(default_lr_grid(1e-3))
    n_runs = _count_runs(form, len(seeds), n_lrs)
    if n_runs > MAX_RUNS_PER_STUDY:
        problems["seeds"] = ("launch.err.too_many", {"n": n_runs, "max": MAX_RUNS_PER_STUDY})
    if problems:
        return None, problems
    kind = form.budget_kind
    spec = StudySpec(name=name, question=form.question.strip(), corpus=corpus,
                     presets=list(form.presets), archs=list(form.archs), seeds=seeds,
                     steps=int(form.budget) if kind == "steps" else None,
                     tokens=int(form.budget) if kind == "tokens" else None,
                     tokens_per_param=float(form.budget) if kind == "tokens_per_param" else None,
                     overrides=list(form.overrides), device=form.device, sweep=form.sweep,
                     lr_grid=lr_grid, evals_per_run=form.evals_per_run, workers=form.workers)
    try:
        plan_study(spec)
    except ConfigError as e:
        return None, {"plan": ("launch.err.plan", {"detail": str(e)})}
    return spec, {}


# ----------------------------------------------------------------------------- starting points
def blank_form(offered_presets: list[str], device: str = "auto") -> LaunchForm:
    """What the form shows for a blank study: the smallest preset here, two seeds, 100 steps."""
    return LaunchForm(presets=list(offered_presets[:1]), seeds="1, 2", budget_kind="steps",
                      budget=BUDGET_DEFAULTS["steps"], device=device)


def form_from_spec(spec: StudySpec) -> LaunchForm:
    """The form that check_form turns back into spec."""
    kind, budget = "preset", BUDGET_DEFAULTS["steps"]
    for candidate, value in (("steps", spec.steps), ("tokens", spec.tokens),
                             ("tokens_per_param", spec.tokens_per_param)):
        if value is not None:
            kind, budget = candidate, value
    corpus = spec.corpus.removeprefix("text:")
    return LaunchForm(name=spec.name, question=spec.question, corpus=corpus,
                      presets=ladder(spec.presets), archs=list(spec.archs),
                      seeds=", ".join(map(str, spec.seeds)), budget_kind=kind, budget=budget,
                      device=spec.device, sweep=spec.sweep,
                      lrs=", ".join(f"{lr:g}" for lr in spec.lr_grid),
                      overrides=list(spec.overrides), evals_per_run=spec.evals_per_run,
                      workers=spec.workers)


def start_form(start: str, offered_presets: list[str], device: str = "auto") -> LaunchForm:
    """The form for a starting point: START_BLANK or a reference study's name."""
    if start == START_BLANK:
        return blank_form(offered_presets, device)
    return form_from_spec(reference_study(start))


def plan_only(start: str, gpu_name: str | None) -> bool:
    """Whether a starting point can be planned and priced here but not launched: a reference
    study whose presets or device this hardware lacks."""
    if start not in REFERENCE_STUDIES:
        return False
    spec = REFERENCE_STUDIES[start]
    offered = runnable_presets(gpu_name)
    return any(p not in offered for p in spec.presets) or (spec.device == "cuda" and not gpu_name)


def form_choices(start: str, gpu_name: str | None) -> tuple[list[str], list[str]]:
    """The presets and devices the form offers: this hardware's, plus what a plan-only reference
    study needs so that its plan and cost can be shown."""
    presets = runnable_presets(gpu_name)
    devices = [d for d in DEVICES if gpu_name or d != "cuda"]
    if plan_only(start, gpu_name):
        spec = REFERENCE_STUDIES[start]
        presets += [p for p in ladder(spec.presets) if p not in presets]
        devices += [spec.device] if spec.device not in devices else []
    return presets, devices


def form_state(form: LaunchForm) -> dict[str, object]:
    """The Launch page's widget values (session-state keys launch_*) that show form; every
    budget field gets a value, the form's kind its budget, the others their default."""
    builtin = form.corpus in BUILTIN_CORPORA
    budgets = {f"launch_budget_{kind}": (float(value) if kind == "tokens_per_param" else int(value))
               for kind, value in {**BUDGET_DEFAULTS, form.budget_kind: form.budget}.items()
               if kind != "preset"}
    return {"launch_name": form.name, "launch_question": form.question,
            "launch_corpus": form.corpus if builtin else "path",
            "launch_corpus_path": "" if builtin else form.corpus,
            "launch_presets": list(form.presets), "launch_archs": list(form.archs),
            "launch_seeds": form.seeds, "launch_budget_kind": form.budget_kind, **budgets,
            "launch_device": form.device, "launch_sweep": form.sweep, "launch_lrs": form.lrs}


# ----------------------------------------------------------------------------- the plan
@dataclass
class StudyPreview:
    """What the form would queue: the spec (named 'estimate' while the name is not valid yet), its
    runs by stage, and why it cannot estimate the compute multiplier (i18n ladder.* problems)."""
    spec: StudySpec
    stages: StudyPlan
    ladder: list[Problem]


def preview_study(form: LaunchForm, allowed_dirs: list, offered_presets: list[str]
                  ) -> StudyPreview | None:
    """The preview as soon as the fields that decide cost are valid (the name and question do
    not), so the plan and estimate show while the form is still being filled in; None otherwise."""
    draft = LaunchForm(**{**form.__dict__, "name": "estimate", "question": ""})
    spec, _ = check_form(draft, allowed_dirs, offered_presets)
    if spec is None:
        return None
    return StudyPreview(spec, plan_stages(spec), ladder_problems(spec))


def plan_table(stages: StudyPlan, lang: str = "en") -> pd.DataFrame:
    """The runs as a table in lang, one row per stage, preset, learning rate and architecture
    with its seeds: stage 1 is queued at launch, stage 2 (a sweep at the smallest size only)
    after the sweep, at each architecture's best rate."""
    from ..ui.charts import ARCH_LABELS   # altair: only where a table is drawn, not in the CLI
    rows: dict[tuple, dict] = {}
    for stage, runs in ((1, stages.first), (2, stages.later)):
        for run in runs:
            lr = None if stage == 2 else run.train.lr
            row = rows.setdefault((stage, run.preset, lr, run.model.arch), {
                "stage": t(f"launch.plan.stage{stage}", lang), "preset": run.preset,
                "arch": ARCH_LABELS.get(run.model.arch, run.model.arch), "seeds": [],
                "lr": t("launch.plan.best", lang) if lr is None else f"{lr:g}",
                "steps": run.train.steps,
                "tokens": run.train.steps * run.train.batch_size * run.model.seq_len})
            row["seeds"].append(run.train.seed)
    table = pd.DataFrame(list(rows.values()),
                         columns=["stage", "preset", "arch", "seeds", "lr", "steps", "tokens"])
    table["seeds"] = table["seeds"].map(lambda seeds: ", ".join(map(str, seeds)))
    return table.rename(columns={c: t(f"launch.col.{c}", lang) for c in table.columns})


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
                     presets=ladder(list(scoped["preset"])),
                     archs=[a for a in ARCHS if a in set(scoped["arch"])],
                     seeds=sorted({int(s) for s in scoped["seed"].dropna()}) or [1],
                     nproc=max(run_nproc(c) for c in scoped["config"]))
    ratio = _tokens_per_param(scoped)
    if steps.nunique() == 1:
        spec.steps = int(steps.iloc[0])
    elif len(steps) and (steps.to_numpy() == defaults.loc[steps.index].to_numpy()).all():
        spec.steps = None
    elif ratio is not None:
        spec.tokens_per_param = ratio
    else:
        tokens = (pd.to_numeric(scoped["tokens_seen"], errors="coerce").dropna()
                  if "tokens_seen" in scoped else pd.Series(dtype=float))
        if len(tokens) and tokens.nunique() == 1:
            spec.tokens = int(tokens.iloc[0])
        else:
            spec.steps = int(steps.max()) if len(steps) else None
    threads = {int((c.get("train") or {}).get("threads", 0)) for c in scoped["config"]
               if isinstance(c, dict)}
    if len(threads) == 1 and threads != {0}:
        spec.overrides = [f"threads={threads.pop()}"]
    rates = tuning.with_lr(scoped).groupby("preset")["lr"].apply(lambda x: sorted(set(x.dropna())))
    if len(rates) and all(len(r) > 1 for r in rates):      # every size swept: sweep the next ones
        spec.sweep, spec.lr_grid = "each", sorted({lr for r in rates for lr in r})
    return spec


def _tokens_per_param(scoped: pd.DataFrame) -> float | None:
    """The tokens-per-parameter ratio runs of several presets share (within 2%), else None."""
    ratios = []
    for preset, config, steps in zip(scoped["preset"], scoped["config"], scoped["total_steps"]):
        config = config if isinstance(config, dict) else {}
        model, train = config.get("model", {}), config.get("train", {})
        if not (model and train and steps):
            return None
        params = count_parameters(make_config("transformer", preset).model)["non_embedding"]
        ratios.append(int(steps) * train.get("batch_size", 0) * model.get("seq_len", 0) / params)
    if scoped["preset"].nunique() < 2 or not ratios or min(ratios) <= 0:
        return None
    return float(f"{np.median(ratios):.2g}") if max(ratios) / min(ratios) < 1.02 else None


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


def _carry_swept_lr(plan: list[RunConfig], runs: pd.DataFrame, study: str | None) -> None:
    """A study that swept the learning rate plans its next runs at each architecture's best swept
    rate (tuning.sensitivity's sweep), as its own later stage did; others keep the preset's."""
    if runs.empty or "config" not in runs or "final_val_loss" not in runs:
        return
    scoped = runs[runs["study"].fillna("").astype(str).eq(study or "")]
    found = tuning.sensitivity(counted_runs(scoped, best_lr=False)) if not scoped.empty else None
    for run in plan if found else []:
        run.train.lr = found["best"].get(run.model.arch, run.train.lr)


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
                tokens_per_param=spec.tokens_per_param, overrides=list(spec.overrides),
                sweep=spec.sweep, lr_grid=list(spec.lr_grid), device="auto", nproc=spec.nproc)
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
        failed = failed[failed["preset"].isin(list(PRESETS)) & failed["arch"].isin(list(ARCHS))
                        & ~failed["id"].isin(tuning.sweep_casualties(scoped, counted_runs(scoped)))]
        for row in failed.itertuples():   # again at its own rate
            again = {**base, "sweep": "none", "lr_grid": [],
                     "overrides": base["overrides"] + [f"lr={tuning.run_lr(row.config)!r}"]}
            specs.append(StudySpec(presets=[row.preset], archs=[row.arch], seeds=[int(row.seed)],
                                   **again))
        if len(failed):
            parts.append(("next.what.failed", {"n": len(failed)}))
    if not specs:
        return None
    try:
        plan = []
        for one in specs:
            planned = plan_study(one)
            if one.sweep == "none" and not any(o.startswith("lr=") for o in one.overrides):
                _carry_swept_lr(planned, runs, study)
            plan += planned
    except ConfigError:   # the study's own settings no longer plan (e.g. an edited preset)
        return None
    device = device_name or _study_device(runs, study)
    measured = measured_throughput(runs) if measured is None else measured
    return NextStep(parts, specs, plan, estimate_study(plan, device, measured, prices), device)
