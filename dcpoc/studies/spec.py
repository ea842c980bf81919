"""Studies: one PoC question expanded into runs (presets x architectures x learning rates x seeds).
Pure planning; queueing the planned runs is runs/stages.py's concern, picking the best learning
rate decision/tuning.py's, pricing a plan estimates.py's.

A learning-rate sweep is either run at every size ("each") or at the smallest size only
("smallest"): then the larger sizes are a second stage, queued once the sweep has finished, with
each architecture's best rate carried over (``carry_lr``).

A study runs variants (config.VARIANTS: the ablation ladder) when it names them; an older spec names
architectures instead, each with QK-norm on. With confirm_seeds, a confirmation stage follows the
sweep: those fresh seeds at each variant's chosen rate, at every size (``plan_confirmation``), so
that the comparison that decides is not made on the runs that chose the rates."""
from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field

from ..config import (ARCHS, PRESETS, VARIANTS, ConfigError, RunConfig, config_variant, make_config,
                      validate, variant_config)
from ..counts import count_parameters

MAX_NAME_LENGTH = 80
SWEEPS = ("none", "smallest", "each")
MIN_LADDER_SIZES = 3          # a compute-multiplier fit needs three compute values per architecture
MIN_LADDER_SPAN = 4.0         # ... spread over at least 4x in parameters


@dataclass
class StudySpec:
    name: str
    question: str = ""
    corpus: str = "pydoc"
    presets: list[str] = field(default_factory=lambda: ["tiny"])
    archs: list[str] = field(default_factory=lambda: list(ARCHS))
    seeds: list[int] = field(default_factory=lambda: [1])
    steps: int | None = None          # per run; None = the preset's
    tokens: int | None = None         # token budget per run instead of steps
    tokens_per_param: float | None = None  # or tokens scaled with size: this x the parameters
    overrides: list[str] = field(default_factory=list)
    device: str = "auto"
    nproc: int = 1
    sweep: str = "none"               # learning-rate sweep: none | smallest | each
    lr_grid: list[float] = field(default_factory=list)   # the rates swept ([] = around the default)
    evals_per_run: int = 0            # evaluations per run (0 = the preset's eval_every)
    workers: int = 1                  # CPU worker slots a launch starts (one-thread runs in parallel)
    variants: list[str] = field(default_factory=list)      # [] = archs, each with QK-norm on
    confirm_seeds: list[int] = field(default_factory=list)  # fresh seeds of the confirmation stage
    executor: str = "local"           # local (dcpoc workers) or slurm (one batch job per run)
    slurm: dict = field(default_factory=dict)   # SLURM options over the settings' defaults


@dataclass
class StudyPlan:
    """first: the runs queued at launch; later: the larger sizes that wait for the sweep at the
    smallest size (empty unless sweep == "smallest"); confirm: the confirmation stage (empty
    without confirm_seeds); later and confirm planned with a provisional learning rate."""
    first: list[RunConfig]
    later: list[RunConfig]
    confirm: list[RunConfig] = field(default_factory=list)

    @property
    def runs(self) -> list[RunConfig]:
        return self.first + self.later + self.confirm


def validate_name(name: str, longest: int = MAX_NAME_LENGTH) -> str:
    """A study name: 1 to `longest` printable characters (any script), no leading/trailing spaces.
    An import allows the database column's 200: a database may hold a longer name from before."""
    name = name.strip()
    if not name:
        raise ConfigError("the study needs a name")
    if len(name) > longest:
        raise ConfigError(f"study name is {len(name)} characters long; use at most {longest}")
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise ConfigError("study name contains control characters; use printable text only")
    return name


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


def steps_for_tokens(run: RunConfig, tokens: int) -> int:
    """Optimizer steps that consume at least `tokens` training tokens."""
    return max(1, math.ceil(tokens / (run.train.batch_size * run.model.seq_len)))


def tokens_budget(spec: StudySpec, preset: str) -> int | None:
    """Training tokens per run at a preset: the fixed budget, or tokens_per_param x the
    parameters (non-embedding, Transformer++ shape: both architectures train on the same tokens)."""
    if spec.tokens_per_param is not None:
        params = count_parameters(make_config("transformer", preset).model)["non_embedding"]
        return max(1, round(spec.tokens_per_param * params))
    return spec.tokens


def default_lr_grid(lr: float) -> list[float]:
    """Three rates a factor of about 3 apart around lr: lr / 3.33, lr, lr x 3 (1e-3 -> 3e-4, 1e-3,
    3e-3), rounded to two significant digits."""
    return [float(f"{v:.2g}") for v in (lr * 0.3, lr, lr * 3)]


def ladder(presets: list[str]) -> list[str]:
    """Presets in ladder order (smallest first), duplicates removed."""
    order = list(PRESETS)
    return sorted(set(presets), key=lambda p: order.index(p) if p in order else len(order))


def study_variants(spec: StudySpec) -> list[str]:
    """The variants a study runs, in ladder order: its variants, or (a spec from before the
    ladder) its architectures with QK-norm on."""
    names = spec.variants or [config_variant(a, {}) for a in spec.archs]
    return sorted(set(names), key=lambda v: VARIANTS.index(v) if v in VARIANTS else len(VARIANTS))


def lane(spec: StudySpec, run: RunConfig) -> str:
    """What a learning rate is chosen for: the run's variant in a study that names variants, its
    arch in an older one (their carried rates are keyed by arch)."""
    if spec.variants:
        return config_variant(run.model.arch, {"model": {"qk_norm": run.model.qk_norm}})
    return run.model.arch


def _check_variants(spec: StudySpec) -> None:
    if spec.variants:
        if any(v not in VARIANTS for v in spec.variants) or len(set(spec.variants)) != len(spec.variants):
            raise ConfigError(f"variants must be distinct names among {', '.join(VARIANTS)}")
        if any(o.split("=", 1)[0].strip() in ("qk_norm", "model.qk_norm") for o in spec.overrides):
            raise ConfigError("the variants set qk_norm: remove --set qk_norm, or name archs instead")
    elif not spec.archs or any(a not in ARCHS for a in spec.archs):
        unknown = [a for a in spec.archs if a not in ARCHS]
        named = f"unknown architecture(s) {', '.join(unknown)}: " if unknown else ""
        raise ConfigError(f"{named}architectures must be a non-empty subset of {', '.join(ARCHS)}")
    fresh = spec.confirm_seeds
    if fresh:
        if len(set(fresh)) != len(fresh) or min(fresh) < 0 or set(fresh) & set(spec.seeds):
            raise ConfigError("confirmation seeds must be distinct integers >= 0 that the sweep "
                              "does not use (fresh seeds), e.g. 101, 102, 103")
        if spec.sweep == "none":
            raise ConfigError("a confirmation stage re-checks the rates a sweep chose: set the "
                              "sweep to smallest or each, or drop the confirmation seeds")


def _check_spec(spec: StudySpec) -> None:
    validate_name(spec.name)
    if not spec.presets:
        raise ConfigError("choose at least one preset")
    if not spec.seeds or len(set(spec.seeds)) != len(spec.seeds):
        raise ConfigError("seeds must be a non-empty list of distinct integers")
    _check_variants(spec)
    if sum(x is not None for x in (spec.steps, spec.tokens, spec.tokens_per_param)) > 1:
        raise ConfigError("give one of steps, a token budget or tokens per parameter, not several")
    if spec.tokens is not None and spec.tokens < 1:
        raise ConfigError("the token budget must be at least 1")
    if spec.tokens_per_param is not None and not (0 < spec.tokens_per_param < 1e6):
        raise ConfigError("tokens per parameter must be a positive number (e.g. 20)")
    for preset in spec.presets:
        if preset not in PRESETS:
            raise ConfigError(f"unknown preset '{preset}': use one of {', '.join(PRESETS)}")
    if spec.sweep not in SWEEPS:
        raise ConfigError(f"sweep '{spec.sweep}' must be one of {', '.join(SWEEPS)}")
    if spec.sweep == "none" and spec.lr_grid:
        raise ConfigError("a learning-rate grid needs a sweep: set sweep to smallest or each")
    if spec.sweep != "none":
        if any(not (0 < lr < 1) or not math.isfinite(lr) for lr in spec.lr_grid):
            raise ConfigError("learning rates must be numbers between 0 and 1, e.g. 3e-4, 1e-3, 3e-3")
        if len(set(spec.lr_grid)) != len(spec.lr_grid):
            raise ConfigError("the learning-rate grid repeats a value; list distinct rates")
        if any(o.split("=", 1)[0].strip() in ("lr", "train.lr") for o in spec.overrides):
            raise ConfigError("lr is swept: remove --set lr, or turn the sweep off")
    if spec.evals_per_run < 0:
        raise ConfigError("evals per run must be >= 0 (0 = the preset's eval_every)")
    if not 1 <= spec.workers <= 64:
        raise ConfigError(f"workers ({spec.workers}) must be between 1 and 64")
    if spec.workers > 1 and spec.device != "cpu":
        raise ConfigError("several worker slots are CPU slots: set the device to cpu (and "
                          "threads=1), or use one worker per GPU (`worker --device cuda:N`)")


def _runs_at(spec: StudySpec, preset: str, lrs: list[float | None]) -> list[RunConfig]:
    runs = []
    tokens = tokens_budget(spec, preset)
    lanes = [variant_config(v) if spec.variants else (v, []) for v in
             (study_variants(spec) if spec.variants else spec.archs)]
    for seed in spec.seeds:            # seed-major: every variant of a seed finishes early
        for lr in lrs:
            for arch, switch in lanes:
                run = make_config(arch, preset, switch + spec.overrides, steps=spec.steps,
                                  seed=seed, corpus=spec.corpus, device=spec.device,
                                  nproc=spec.nproc)
                if tokens is not None:
                    run.train.steps = steps_for_tokens(run, tokens)
                if lr is not None:
                    run.train.lr = lr
                if spec.evals_per_run:
                    run.train.eval_every = max(1, run.train.steps // spec.evals_per_run)
                    run.train.ckpt_every = run.train.eval_every
                if tokens is not None:      # make_config checked the steps before the budget set them
                    _check_budget_run(run, preset, tokens)
                runs.append(run)
    return runs


def _check_budget_run(run: RunConfig, preset: str, tokens: int) -> None:
    """ConfigError naming the token budget when the steps it sets make an invalid run (a budget
    of 10^15 tokens queued runs of trillions of steps; 10^23 failed inside the database)."""
    try:
        validate(run)
    except ConfigError as e:
        raise ConfigError(f"a budget of {tokens:,} tokens per run at {preset} does not make a valid "
                          f"run ({e}): give a smaller --tokens or --tokens-per-param") from None


def sweep_grid(spec: StudySpec, preset: str) -> list[float]:
    """The rates swept at a preset: the spec's grid, else default_lr_grid of the preset's rate."""
    return list(spec.lr_grid) or default_lr_grid(float(PRESETS[preset]["train"]["lr"]))


def plan_stages(spec: StudySpec) -> StudyPlan:
    """Every run of the study, resolved and validated, split into what is queued at launch and
    what waits for the sweep; raises ConfigError naming the first problem."""
    _check_spec(spec)
    sizes = ladder(spec.presets)
    confirm = plan_confirmation(spec, {}) if spec.confirm_seeds else []
    if spec.sweep == "none":
        return StudyPlan([r for p in sizes for r in _runs_at(spec, p, [None])], [], confirm)
    if spec.sweep == "each":
        return StudyPlan([r for p in sizes for r in _runs_at(spec, p, sweep_grid(spec, p))], [],
                         confirm)
    first = _runs_at(spec, sizes[0], sweep_grid(spec, sizes[0]))
    return StudyPlan(first, [r for p in sizes[1:] for r in _runs_at(spec, p, [None])], confirm)


def plan_confirmation(spec: StudySpec, best: dict[str, float]) -> list[RunConfig]:
    """The confirmation stage: every size, every variant, the fresh confirm_seeds, each at the
    rate chosen for it at that size (best: "PRESET LANE" -> rate, see lane; a missing key keeps
    the preset's rate: the provisional plan)."""
    fresh = StudySpec(**{**spec.__dict__, "seeds": list(spec.confirm_seeds), "confirm_seeds": []})
    runs = [r for p in ladder(spec.presets) for r in _runs_at(fresh, p, [None])]
    for run in runs:
        run.train.lr = best.get(f"{run.preset} {lane(spec, run)}", run.train.lr)
    return runs


def plan_study(spec: StudySpec) -> list[RunConfig]:
    """Every run of the study (the later stage with its provisional learning rate)."""
    return plan_stages(spec).runs


def carry_lr(runs: list[RunConfig], best: dict[str, float]) -> list[RunConfig]:
    """The later stage's runs with each lane's best swept rate (best keyed by variant, or by arch
    for an older study); KeyError for one without (its sweep has no finished run)."""
    for run in runs:
        variant = config_variant(run.model.arch, {"model": {"qk_norm": run.model.qk_norm}})
        run.train.lr = best[variant if variant in best else run.model.arch]
    return runs


def ladder_problems(spec: StudySpec) -> list[tuple[str, dict]]:
    """Why this study cannot estimate the compute multiplier (i18n keys ladder.*), [] if it can:
    fewer than MIN_LADDER_SIZES sizes, a span under MIN_LADDER_SPAN in parameters, the same token
    budget at every size (tokens must grow with size), one architecture only."""
    sizes = ladder(spec.presets)
    problems: list[tuple[str, dict]] = []
    if {variant_config(v)[0] for v in study_variants(spec)} != set(ARCHS):
        problems.append(("ladder.one_arch", {}))
    if len(sizes) < MIN_LADDER_SIZES:
        problems.append(("ladder.few_sizes", {"n": len(sizes), "need": MIN_LADDER_SIZES}))
    params = [count_parameters(make_config("transformer", p).model)["non_embedding"] for p in sizes]
    span = max(params) / min(params) if params else 1.0
    if len(sizes) >= 2 and span < MIN_LADDER_SPAN:
        problems.append(("ladder.narrow", {"span": f"{span:.1f}", "need": f"{MIN_LADDER_SPAN:g}"}))
    if len(sizes) >= 2 and not _tokens_keep_up(spec, sizes):
        problems.append(("ladder.tokens_fixed", {}))
    return problems


def _tokens_keep_up(spec: StudySpec, sizes: list[str]) -> bool:
    """Whether the planned training tokens keep up with size: no larger size trains on fewer than
    half the tokens per parameter of the smallest (fixed steps along a ladder of one batch shape
    would leave the largest model several times under-trained)."""
    one = StudySpec(**{**spec.__dict__, "seeds": spec.seeds[:1], "archs": ["transformer"],
                       "variants": [], "sweep": "none", "lr_grid": [], "confirm_seeds": []})
    try:
        per_param = [r.train.steps * r.train.batch_size * r.model.seq_len
                     / count_parameters(r.model)["non_embedding"]
                     for r in (_runs_at(one, preset, [None])[0] for preset in sizes)]
    except ConfigError:
        return True        # plan_study reports the problem itself
    return min(per_param[1:]) >= 0.5 * per_param[0]


# ----------------------------------------------------------------------------- reference studies
# product text: ui/i18n.py holds it in every language (study.reference_question; a test keeps the
# English identical) and study_question shows it in the reader's
REFERENCE_QUESTION = ("Does DCMHA reach a lower loss than the best cheap baseline (Transformer++ with "
                      "QK-norm) for the same compute, each at its own best learning rate, and how "
                      "much of DCFormer's gain is QK-norm alone?")
REFERENCE_STUDIES: dict[str, StudySpec] = {
    # The ablation ladder (Transformer++ as the paper defines it, + QK-norm, DCFormer) at three
    # sizes. Every size swept (1e-3 and 3e-3) on one seed: a rate found on the smallest rung's
    # short run does not carry to the larger, longer runs. Then the confirmation stage: three fresh
    # seeds per variant at its chosen rate decide (no winner's curse). Traded to fit two hours on
    # a 2-core CPU: the sweep has one seed (a noisier choice of rate, which the fresh seeds then
    # judge without bias) and two rates. 45 one-thread runs (18 sweep + 27 confirmation): about
    # 90 min with its two CPU worker slots by the FLOP estimate.
    "reference-cpu": StudySpec(name="reference-cpu", question=REFERENCE_QUESTION, corpus="pydoc",
                               presets=["cpu-xs", "cpu-s", "cpu-demo"], seeds=[1],
                               tokens_per_param=5.0, sweep="each", lr_grid=[1e-3, 3e-3],
                               evals_per_run=10, device="cpu", overrides=["threads=1"], workers=2,
                               variants=list(VARIANTS), confirm_seeds=[101, 102, 103]),
    # The same design on a GPU: 45 runs, about an hour on one H100 by the FLOP estimate (35% MFU);
    # models this small rarely reach that, so budget about two GPU-hours (H100 / H200).
    "reference-gpu": StudySpec(name="reference-gpu", question=REFERENCE_QUESTION, corpus="stdlib",
                               presets=["gpu-xs", "gpu-s", "gpu-small"], seeds=[1],
                               tokens_per_param=10.0, sweep="each", lr_grid=[1e-3, 3e-3],
                               evals_per_run=10, device="cuda", variants=list(VARIANTS),
                               confirm_seeds=[101, 102, 103]),
}


def reference_study(name: str) -> StudySpec:
    """A copy of a shipped reference study; ConfigError for an unknown name."""
    if name not in REFERENCE_STUDIES:
        raise ConfigError(f"unknown reference study '{name}': use one of "
                          f"{', '.join(REFERENCE_STUDIES)}")
    spec = REFERENCE_STUDIES[name]
    return StudySpec(**{**spec.__dict__, "presets": list(spec.presets), "seeds": list(spec.seeds),
                        "archs": list(spec.archs), "lr_grid": list(spec.lr_grid),
                        "overrides": list(spec.overrides), "variants": list(spec.variants),
                        "confirm_seeds": list(spec.confirm_seeds)})
