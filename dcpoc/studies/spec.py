"""Studies: one PoC question expanded into runs (presets x architectures x learning rates x seeds).
Pure planning; queueing the planned runs is runs/stages.py's concern, picking the best learning
rate decision/tuning.py's, pricing a plan estimates.py's.

A learning-rate sweep is either run at every size ("each") or at the smallest size only
("smallest"): then the larger sizes are a second stage, queued once the sweep has finished, with
each architecture's best rate carried over (``carry_lr``)."""
from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field

from ..config import ARCHS, PRESETS, ConfigError, RunConfig, make_config
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


@dataclass
class StudyPlan:
    """first: the runs queued at launch; later: the larger sizes that wait for the sweep at the
    smallest size (empty unless sweep == "smallest"), planned with a provisional learning rate."""
    first: list[RunConfig]
    later: list[RunConfig]

    @property
    def runs(self) -> list[RunConfig]:
        return self.first + self.later


def validate_name(name: str) -> str:
    """A study name: 1-80 printable characters (any script), no leading/trailing spaces."""
    name = name.strip()
    if not name:
        raise ConfigError("the study needs a name")
    if len(name) > MAX_NAME_LENGTH:
        raise ConfigError(f"study name is {len(name)} characters long; use at most {MAX_NAME_LENGTH}")
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


def _check_spec(spec: StudySpec) -> None:
    validate_name(spec.name)
    if not spec.presets:
        raise ConfigError("choose at least one preset")
    if not spec.archs or any(a not in ARCHS for a in spec.archs):
        raise ConfigError(f"architectures must be a non-empty subset of {', '.join(ARCHS)}")
    if not spec.seeds or len(set(spec.seeds)) != len(spec.seeds):
        raise ConfigError("seeds must be a non-empty list of distinct integers")
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
    for seed in spec.seeds:            # seed-major: both architectures of a seed finish early
        for lr in lrs:
            for arch in spec.archs:
                run = make_config(arch, preset, spec.overrides, steps=spec.steps, seed=seed,
                                  corpus=spec.corpus, device=spec.device, nproc=spec.nproc)
                if tokens is not None:
                    run.train.steps = steps_for_tokens(run, tokens)
                if lr is not None:
                    run.train.lr = lr
                if spec.evals_per_run:
                    run.train.eval_every = max(1, run.train.steps // spec.evals_per_run)
                    run.train.ckpt_every = run.train.eval_every
                runs.append(run)
    return runs


def sweep_grid(spec: StudySpec, preset: str) -> list[float]:
    """The rates swept at a preset: the spec's grid, else default_lr_grid of the preset's rate."""
    return list(spec.lr_grid) or default_lr_grid(float(PRESETS[preset]["train"]["lr"]))


def plan_stages(spec: StudySpec) -> StudyPlan:
    """Every run of the study, resolved and validated, split into what is queued at launch and
    what waits for the sweep; raises ConfigError naming the first problem."""
    _check_spec(spec)
    sizes = ladder(spec.presets)
    if spec.sweep == "none":
        return StudyPlan([r for p in sizes for r in _runs_at(spec, p, [None])], [])
    if spec.sweep == "each":
        return StudyPlan([r for p in sizes for r in _runs_at(spec, p, sweep_grid(spec, p))], [])
    first = _runs_at(spec, sizes[0], sweep_grid(spec, sizes[0]))
    return StudyPlan(first, [r for p in sizes[1:] for r in _runs_at(spec, p, [None])])


def plan_study(spec: StudySpec) -> list[RunConfig]:
    """Every run of the study (the later stage with its provisional learning rate)."""
    return plan_stages(spec).runs


def carry_lr(runs: list[RunConfig], best: dict[str, float]) -> list[RunConfig]:
    """The later stage's runs with each architecture's best swept rate; KeyError for an
    architecture without one (its sweep has no finished run)."""
    for run in runs:
        run.train.lr = best[run.model.arch]
    return runs


def ladder_problems(spec: StudySpec) -> list[tuple[str, dict]]:
    """Why this study cannot estimate the compute multiplier (i18n keys ladder.*), [] if it can:
    fewer than MIN_LADDER_SIZES sizes, a span under MIN_LADDER_SPAN in parameters, the same token
    budget at every size (tokens must grow with size), one architecture only."""
    sizes = ladder(spec.presets)
    problems: list[tuple[str, dict]] = []
    if set(spec.archs) != set(ARCHS):
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
                       "sweep": "none", "lr_grid": []})
    try:
        per_param = [r.train.steps * r.train.batch_size * r.model.seq_len
                     / count_parameters(r.model)["non_embedding"]
                     for r in (_runs_at(one, preset, [None])[0] for preset in sizes)]
    except ConfigError:
        return True        # plan_study reports the problem itself
    return min(per_param[1:]) >= 0.5 * per_param[0]


# ----------------------------------------------------------------------------- reference studies
REFERENCE_QUESTION = ("Does DCFormer reach a lower loss than Transformer++ for the same compute, "
                      "each at its own best learning rate?")
REFERENCE_STUDIES: dict[str, StudySpec] = {
    # Every size swept (1e-3 and 3e-3): a rate found on the smallest rung's short run does not
    # carry to the larger, longer runs (our first reference run picked the grid's top rate there).
    # 24 one-thread runs: about 50 min with its two CPU worker slots on a 2-core CPU, about 100
    # min with one.
    "reference-cpu": StudySpec(name="reference-cpu", question=REFERENCE_QUESTION, corpus="pydoc",
                               presets=["cpu-xs", "cpu-s", "cpu-demo"], seeds=[1, 2],
                               tokens_per_param=5.0, sweep="each", lr_grid=[1e-3, 3e-3],
                               evals_per_run=10, device="cpu", overrides=["threads=1"], workers=2),
    # About 31 min on one H100 by the FLOP estimate (35% MFU); models this small rarely reach
    # that, so budget about one GPU-hour (H100 / H200).
    "reference-gpu": StudySpec(name="reference-gpu", question=REFERENCE_QUESTION, corpus="stdlib",
                               presets=["gpu-xs", "gpu-s", "gpu-small"], seeds=[1, 2],
                               tokens_per_param=10.0, sweep="each", lr_grid=[1e-3, 3e-3],
                               evals_per_run=10, device="cuda"),
}


def reference_study(name: str) -> StudySpec:
    """A copy of a shipped reference study; ConfigError for an unknown name."""
    if name not in REFERENCE_STUDIES:
        raise ConfigError(f"unknown reference study '{name}': use one of "
                          f"{', '.join(REFERENCE_STUDIES)}")
    spec = REFERENCE_STUDIES[name]
    return StudySpec(**{**spec.__dict__, "presets": list(spec.presets), "seeds": list(spec.seeds),
                        "archs": list(spec.archs), "lr_grid": list(spec.lr_grid),
                        "overrides": list(spec.overrides)})
