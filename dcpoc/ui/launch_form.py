"""The Launch page's form as plain values: its checks (each problem an i18n key by field), its starting
points (blank or a reference study), the widget state that shows a form, and the preview of the plan
it would queue. No Streamlit: the page reads widgets into a LaunchForm and calls these."""
from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass, field, replace

import pandas as pd

from ..config import ARCH_LABELS, ARCHS, DEVICES, VARIANT_LABELS, VARIANTS, ConfigError, config_variant
from ..runs.slurm import SlurmError, SlurmOptions, parse_extra
from ..security import BUILTIN_CORPORA, CorpusPathError, confine_corpus
from ..studies import (MAX_NAME_LENGTH, REFERENCE_STUDIES, StudyPlan, StudySpec, default_lr_grid,
                       ladder, ladder_problems, parse_lr_grid, parse_seeds, plan_stages, plan_study,
                       reference_study, runnable_presets, validate_name)
from ..decision.verdict import lr_label
from .i18n import study_question, t

MAX_RUNS_PER_STUDY = 200       # a web form must not queue an unbounded amount of work
MAX_STEPS = 10_000_000
MAX_TOKENS = 10**13
MAX_TOKENS_PER_PARAM = 1e6     # studies accepts tokens_per_param below this
MAX_QUESTION_LENGTH = 2000
BUDGET_KINDS = ("steps", "tokens", "tokens_per_param", "preset")
# What a budget field shows before anyone types in it, by kind.
BUDGET_DEFAULTS: dict[str, float] = {"steps": 100, "tokens": 1_000_000, "tokens_per_param": 20.0}
START_BLANK = "blank"
STAGE_KEYS = {1: "launch.plan.stage1", 2: "launch.plan.stage2", 3: "launch.plan.stage3"}

# A problem with one form field: an i18n key and the values its text needs.
Problem = tuple[str, dict]


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
    executor: str = "local"        # local | slurm
    slurm: dict = field(default_factory=dict)   # SlurmOptions fields; extra as typed, one a line
    ladder: bool = False           # the ablation ladder (config.VARIANTS) instead of archs
    confirm_seeds: str = ""        # fresh seeds of the confirmation stage as typed; '' = none


# ----------------------------------------------------------------------------- checks
def _count_runs(form: LaunchForm, n_seeds: int, n_lrs: int, n_confirm: int = 0) -> int:
    lanes = len(VARIANTS) if form.ladder else len(form.archs)
    per_size = lanes * n_seeds
    n_sizes = len(set(form.presets))
    confirm = lanes * n_confirm * n_sizes
    if form.sweep == "each":
        return per_size * n_sizes * n_lrs + confirm
    if form.sweep == "smallest":
        return per_size * (n_lrs + n_sizes - 1) + confirm
    return per_size * n_sizes + confirm


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


def _check_text(form: LaunchForm, allowed_dirs: list, problems: dict[str, Problem]
                ) -> tuple[str, str]:
    """The valid name and confined corpus ('' where invalid, with its problem added)."""
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
    return name, corpus


def _check_grid(form: LaunchForm, offered_presets: list[str], problems: dict[str, Problem]
                ) -> tuple[list[int], list[float]]:
    """The seeds and swept rates ([] where invalid, with its problem added), after the presets,
    architectures, budget and the number of runs they make are checked."""
    if not form.presets:
        problems["presets"] = ("launch.err.no_preset", {})
    elif any(p not in offered_presets for p in form.presets):
        problems["presets"] = ("launch.err.preset_hw", {"presets": list(offered_presets)})
    if not form.archs and not form.ladder:
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
    confirm: list[int] = []
    if form.confirm_seeds.strip():
        try:
            confirm = parse_seeds(form.confirm_seeds)
        except ValueError:
            problems["confirm_seeds"] = ("launch.err.confirm_seeds", {})
    n_runs = _count_runs(form, len(seeds), len(lr_grid) or len(default_lr_grid(1e-3)), len(confirm))
    if n_runs > MAX_RUNS_PER_STUDY:
        problems["seeds"] = ("launch.err.too_many", {"n": n_runs, "max": MAX_RUNS_PER_STUDY})
    return seeds, lr_grid


def _check_slurm(form: LaunchForm, problems: dict[str, Problem]) -> dict:
    """The SLURM options of a slurm form as the study stores them ({} for local, or invalid with
    its problem added under 'executor')."""
    if form.executor != "slurm":
        return {}
    given = dict(form.slurm)
    try:
        if isinstance(given.get("extra"), str):
            given["extra"] = parse_extra(given["extra"])
        return {k: v for k, v in SlurmOptions.from_dict(given).to_dict().items()
                if v not in ("", [], None)}
    except SlurmError as e:
        problems["executor"] = ("launch.err.slurm", {"detail": str(e)})
        return {}


def check_form(form: LaunchForm, allowed_dirs: list, offered_presets: list[str]
               ) -> tuple[StudySpec | None, dict[str, Problem]]:
    """The StudySpec of a valid form, or None and the problems by field (name, question, corpus,
    presets, archs, seeds, budget, lrs, plan). The rate grid counts only with a sweep (the page
    disables its field otherwise). plan_study is the last check, so nothing the training process
    would refuse gets queued."""
    problems: dict[str, Problem] = {}
    name, corpus = _check_text(form, allowed_dirs, problems)
    seeds, lr_grid = _check_grid(form, offered_presets, problems)
    confirm = parse_seeds(form.confirm_seeds) if form.confirm_seeds.strip() and \
        "confirm_seeds" not in problems else []
    slurm = _check_slurm(form, problems)
    if problems:
        return None, problems
    kind = form.budget_kind
    spec = StudySpec(name=name, question=form.question.strip(), corpus=corpus,
                     presets=list(form.presets), archs=list(form.archs), seeds=seeds,
                     steps=int(form.budget) if kind == "steps" else None,
                     tokens=int(form.budget) if kind == "tokens" else None,
                     tokens_per_param=float(form.budget) if kind == "tokens_per_param" else None,
                     overrides=list(form.overrides), device=form.device, sweep=form.sweep,
                     lr_grid=lr_grid, evals_per_run=form.evals_per_run, workers=form.workers,
                     executor=form.executor, slurm=slurm,
                     variants=list(VARIANTS) if form.ladder else [], confirm_seeds=confirm)
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
                      workers=spec.workers, ladder=bool(spec.variants),
                      confirm_seeds=", ".join(map(str, spec.confirm_seeds)))


def start_form(start: str, offered_presets: list[str], device: str = "auto",
               lang: str = "en", taken: Collection[str] = ()) -> LaunchForm:
    """The form for a starting point: START_BLANK or a reference study's name (its question in
    lang; its name, or name-2, name-3 ... when `taken` already holds it: the recorded reference
    study the Overview imports has the reference's own name)."""
    if start == START_BLANK:
        return blank_form(offered_presets, device)
    form = form_from_spec(reference_study(start))
    name = next(n for n in (form.name, *(f"{form.name}-{i}" for i in range(2, 10**6)))
                if n not in taken)
    return replace(form, question=study_question(form.question, lang), name=name)


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
            "launch_device": form.device, "launch_sweep": form.sweep, "launch_lrs": form.lrs,
            "launch_ladder": form.ladder, "launch_confirm_seeds": form.confirm_seeds}


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
    after the sweep, at each architecture's best rate, stage 3 (the confirmation) after every
    earlier run, fresh seeds at each variant's chosen rate."""
    rows: dict[tuple, dict] = {}
    ladder_plan = any(not r.model.qk_norm for r in stages.runs)   # name the variants apart
    for stage, runs in ((1, stages.first), (2, stages.later), (3, stages.confirm)):
        for run in runs:
            lr = None if stage > 1 else run.train.lr
            variant = config_variant(run.model.arch, {"model": {"qk_norm": run.model.qk_norm}})
            label = VARIANT_LABELS[variant] if ladder_plan else ARCH_LABELS.get(run.model.arch, run.model.arch)
            row = rows.setdefault((stage, run.preset, lr, variant), {
                "stage": t(STAGE_KEYS[stage], lang), "preset": run.preset, "arch": label, "seeds": [],
                "lr": t("launch.plan.best" if stage == 2 else "launch.plan.chosen", lang)
                if lr is None else lr_label(lr),   # as the grid is typed and the report writes it
                "steps": f"{run.train.steps:,}",      # thousands apart, as the estimate's caption
                "tokens": f"{run.train.steps * run.train.batch_size * run.model.seq_len:,}"})
            row["seeds"].append(run.train.seed)
    table = pd.DataFrame(list(rows.values()),
                         columns=["stage", "preset", "arch", "seeds", "lr", "steps", "tokens"])
    table["seeds"] = table["seeds"].map(lambda seeds: t("sep.list", lang).join(map(str, seeds)))
    return table.rename(columns={c: t(f"launch.col.{c}", lang) for c in table.columns})
