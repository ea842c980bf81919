"""load_decision: the one entry point from a study in the database to everything a decision shows.
The Overview, the Decision page, the Report page and `python -m dcpoc report` all call it with the
same inputs, so two screens can never disagree about one study (the price table included)."""
from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import pandas as pd

from .. import costs
from .next_step import NextStep, next_step
from .facts import study_key
from .multiplier import Projection, project
from .verdict import Decision, Thresholds, decide


@dataclass(frozen=True)
class Target:
    """The scale a decision is projected to (the Decision page's inputs; the paper's 405M by default).
    price_per_hour None: the price table's price for gpu_kind."""
    params: float = 405e6
    tokens: float = 8e9
    gpu_kind: str = "h100"
    price_per_hour: float | None = None


@dataclass
class StudyDecision:
    """A study's decision with everything shown beside it. runs: the study's own runs
    (Store.list_runs rows); prices: the price table used for every cost in it."""
    study: str
    question: str
    decision: Decision
    runs: pd.DataFrame
    created: str
    next: NextStep | None = None
    projection: Projection | None = None
    target: Target = field(default_factory=Target)
    thresholds: Thresholds = field(default_factory=Thresholds)
    prices: dict[str, float] = field(default_factory=dict)
    inference: dict | None = None         # the newest `bench infer` result (bench.bench_infer)


def load_decision(store: Any, study: str | None, thresholds: Thresholds = Thresholds(),
                  prices: Mapping[str, float] | None = None, target: Target = Target(),
                  runs: pd.DataFrame | None = None) -> StudyDecision:
    """Decide on `study` ("" or None: the runs outside any study) from a Store. prices None: the
    store's price table. runs: the store's run list when the caller already holds it (a cached
    frame), else read here."""
    runs = store.list_runs() if runs is None else runs
    prices = store.prices() if prices is None else dict(prices)
    name = study or ""
    scoped = runs[study_key(runs).eq(name)] if not runs.empty else runs
    ids = list(scoped["id"]) if not scoped.empty else []
    curves = store.get_metrics(ids, keys=["val_loss"]) if ids else None
    decision = decide(runs, name, thresholds, val_curves=curves, prices=prices)
    infer = store.list_benchmarks("infer")
    return StudyDecision(
        study=name, question=((store.get_study(name) or {}).get("question") or "") if name else "",
        decision=decision, runs=scoped,
        created=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        next=next_step(decision, runs, name, prices=prices),
        projection=projection_at(decision, target, prices), target=target, thresholds=thresholds,
        prices=prices, inference=infer[0]["result"] if infer else None)


def projection_at(decision: Decision, target: Target, prices: Mapping[str, float]) -> Projection | None:
    """The decision's multiplier and speed ratio carried to `target` (None without both)."""
    mult = decision.multiplier
    if mult is None or not (mult.multiplier.mean > 0 and mult.speed_ratio > 0) \
            or not math.isfinite(mult.speed_ratio):
        return None
    price = target.price_per_hour if target.price_per_hour is not None \
        else costs.price_per_hour(target.gpu_kind, prices)
    return project(target.params, target.tokens, target.gpu_kind, price, mult.speed_ratio,
                   mult.multiplier)
