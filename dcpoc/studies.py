"""Studies: one PoC question expanded into runs (presets x architectures x seeds). Pure planning;
queueing the planned runs is jobs.py's concern."""
from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass, field

from .config import ARCHS, PRESETS, ConfigError, RunConfig, make_config

MAX_NAME_LENGTH = 80


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
    overrides: list[str] = field(default_factory=list)
    device: str = "auto"
    nproc: int = 1


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


def steps_for_tokens(run: RunConfig, tokens: int) -> int:
    """Optimizer steps that consume at least `tokens` training tokens."""
    return max(1, math.ceil(tokens / (run.train.batch_size * run.model.seq_len)))


def plan_study(spec: StudySpec) -> list[RunConfig]:
    """Every run of the study, resolved and validated; raises ConfigError naming the first problem."""
    validate_name(spec.name)
    if not spec.presets:
        raise ConfigError("choose at least one preset")
    if not spec.archs or any(a not in ARCHS for a in spec.archs):
        raise ConfigError(f"architectures must be a non-empty subset of {', '.join(ARCHS)}")
    if not spec.seeds or len(set(spec.seeds)) != len(spec.seeds):
        raise ConfigError("seeds must be a non-empty list of distinct integers")
    if spec.steps is not None and spec.tokens is not None:
        raise ConfigError("give either steps or a token budget, not both")
    if spec.tokens is not None and spec.tokens < 1:
        raise ConfigError("the token budget must be at least 1")
    for preset in spec.presets:
        if preset not in PRESETS:
            raise ConfigError(f"unknown preset '{preset}': use one of {', '.join(PRESETS)}")
    runs = []
    for preset in spec.presets:
        for arch in spec.archs:
            for seed in spec.seeds:
                run = make_config(arch, preset, spec.overrides, steps=spec.steps, seed=seed,
                                  corpus=spec.corpus, device=spec.device, nproc=spec.nproc)
                if spec.tokens is not None:
                    run.train.steps = steps_for_tokens(run, spec.tokens)
                runs.append(run)
    return runs
