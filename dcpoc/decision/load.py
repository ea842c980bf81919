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
from .gap import gap_over_training
from .inference import inference_risk
from .multiplier import Projection, project, target_flops_ratio
from .paper import PaperComparison, compare_with_paper
from .target_speed import TargetSpeed, target_speed
from .verdict import Decision, Thresholds, decide, worse_beyond_doubt


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
    inference: dict | None = None         # the newest `bench infer` result (bench_infer.bench_infer)
    speed: TargetSpeed | None = None      # the speed ratio the projection used, and where from
    # Without a ratio measured on the target's kind: the projection at the range's slow and fast
    # ends (projection is then None: a CPU's ratio never prices a GPU).
    projection_span: tuple[Projection, Projection] | None = None
    paper: PaperComparison | None = None  # the study beside the paper's published figures
    gap: pd.DataFrame | None = None       # gap.gap_over_training: DCFormer minus baseline over training
    # (tokens scored, tokens of the whole split) of the runs' final evaluations, each distinct pair
    # once; () when the runs predate the record (train.py writes val_tokens / val_split_tokens).
    val_tokens: tuple[tuple[int, int], ...] = ()
    # An imported study's label (runs.bundle): {"date", "machine"} of the recorded results; None
    # for a study measured in this database.
    recorded: dict | None = None
    confirm_seeds: tuple[int, ...] = ()   # the study's confirmation seeds (confirmation.decisive_runs)

    @property
    def speed_first(self) -> bool:
        """Whether measuring the training speed on the target's GPU kind is the next step, before
        any run: a verdict that weighs speed (not one of too little evidence, nor a NO-GO on a loss
        worse beyond doubt) stands on a CPU's ratio, which says nothing about a GPU, and the cost
        on the target depends on that ratio; once measured there, the verdict is judged at it."""
        d = self.decision
        if self.speed is None or self.speed.measured or d.verdict not in ("GO", "CONDITIONAL", "NO-GO"):
            return False
        if self.speed.study_kind != "cpu":
            return False    # another GPU's ratio (it bounds the range priced) is a fair first read
        return not (d.verdict == "NO-GO" and worse_beyond_doubt(d.equal_tokens))


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
    study_row = (store.get_study(name) or {}) if name else {}
    config = study_row.get("config") or {}
    decision = decide(runs, name, thresholds, val_curves=curves, prices=prices,
                      confirm_seeds=config.get("confirm_seeds") or ())
    infer = store.list_benchmarks("infer")
    decision.risks = [inference_risk(infer[0]["result"] if infer else None) if key == "risk.inference"
                      else (key, values) for key, values in decision.risks]   # measured: say what
    confirm_seeds = config.get("confirm_seeds") or ()
    compared = decisive_frame(scoped, decision, confirm_seeds)   # the runs the verdict reads
    speed = _target_speed(store, decision, compared, target)
    loss_decides = decision.verdict == "NO-GO" and worse_beyond_doubt(decision.equal_tokens)
    if speed is not None and not speed.measured and decision.multiplier.multiplier.mean > 0 \
            and math.isfinite(speed.study_ratio) and not loss_decides:   # speed is not the cause
        decision.reasons.append(_unmeasured_reason(decision, speed, target,
                                                   thresholds.nogo_net_high))
    elif speed is not None and speed.measured and speed.source == "bench" and not loss_decides \
            and decision.verdict in ("GO", "CONDITIONAL", "NO-GO"):
        _judge_at_target(decision, speed, target, thresholds)
    projection, span = projection_at(decision, target, prices, speed)
    return StudyDecision(
        study=name, question=study_row.get("question") or "",
        decision=decision, runs=scoped,
        created=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        next=next_step(decision, runs, name, prices=prices, study_config=config),
        projection=projection, target=target, thresholds=thresholds,
        prices=prices, inference=infer[0]["result"] if infer else None, speed=speed,
        projection_span=span, paper=compare_with_paper(decision, scoped),
        gap=gap_over_training(compared, curves),
        val_tokens=validation_counts(store.get_metrics(ids, keys=list(_VAL_KEYS)) if ids else None),
        recorded=config.get("recorded"), confirm_seeds=tuple(config.get("confirm_seeds") or ()))


_VAL_KEYS = ("val_tokens", "val_split_tokens")


def decisive_frame(scoped: pd.DataFrame, decision: Decision, confirm_seeds: Any) -> pd.DataFrame:
    """The runs the verdict compares, labelled arch transformer / dcformer (a ladder study's
    baseline rung and DCFormer; at a confirmed size its fresh seeds only)."""
    from .attribution import pair_frame
    from .confirmation import decisive_runs
    from .facts import with_variant
    return pair_frame(decisive_runs(with_variant(scoped), confirm_seeds), decision.baseline,
                      decision.treatment)


def validation_counts(rows: pd.DataFrame | None) -> tuple[tuple[int, int], ...]:
    """The distinct (val_tokens, val_split_tokens) pairs among metric rows of several runs."""
    if rows is None or rows.empty:
        return ()
    wide = rows.pivot_table(index=["run_id", "step"], columns="key", values="value").dropna()
    if not set(_VAL_KEYS) <= set(wide.columns):
        return ()
    return tuple(sorted({(int(r[0]), int(r[1])) for r in wide[list(_VAL_KEYS)].to_numpy()}))


def _target_speed(store: Any, decision: Decision, compared: pd.DataFrame, target: Target
                  ) -> TargetSpeed | None:
    """Where the target's speed ratio comes from, from the runs the verdict compares (None
    without a multiplier result)."""
    from ..runs.selfcheck_rows import read_selfchecks   # here: decision never loads the database layer
    mult = decision.multiplier
    if mult is None:
        return None
    return target_speed(compared, mult.speed_device, mult.speed_ratio, target.gpu_kind, target.params,
                        store.list_benchmarks("model"), read_selfchecks(store, passed_only=True))


def _unmeasured_reason(decision: Decision, speed: TargetSpeed, target: Target,
                       nogo: float) -> tuple[str, dict]:
    """The verdict's caveat: its net benefit rests on a ratio measured elsewhere; at the target the
    net benefit is the multiplier times the range times the target's FLOPs-per-token ratio, given
    at the multiplier's point estimate and over its 95% interval (a point alone hid that the whole
    range can lie under NO-GO's bar)."""
    m = decision.multiplier.multiplier
    flops = target_flops_ratio(target.params)[0]
    point = _two(m.mean * flops * speed.low) + (f" – {_two(m.mean * flops * speed.high)}"
                                                if speed.high > speed.low else "")
    values = {"kind": speed.kind, "device": speed.study_device or "—", "ratio": speed.study_ratio,
              "net": point, "nogo": nogo}
    if not m.exists:
        return ("reason.speed_not_on_target", values)
    low, high = m.low * flops * speed.low, m.high * flops * speed.high
    key = "reason.speed_not_on_target_below" if high < nogo else "reason.speed_not_on_target_range"
    return (key, {**values, "low": _two(low), "high": _two(high)})


def _judge_at_target(decision: Decision, speed: TargetSpeed, target: Target,
                     thresholds: Thresholds) -> None:
    """The verdict where DCFormer would train: its net benefit rests on the study's own speed ratio
    (a CPU's, say), but `bench model` measured one on the target's kind. At that ratio (multiplier
    x target FLOPs ratio x measured ratio, over the multiplier's interval) a GO whose lower bound
    falls to GO's bar or under is CONDITIONAL, any verdict whose upper bound falls under NO-GO's
    bar is NO-GO, and a NO-GO (the study's own ratio's: one from the loss never comes here) whose
    upper bound there is not under it is CONDITIONAL: once measured, the study's CPU ratio no
    longer stands for the GPU. The reason says both numbers either way."""
    m = decision.multiplier.multiplier
    if not m.mean > 0:
        return
    flops = target_flops_ratio(target.params)[0]
    at = lambda mult: mult * flops * speed.ratio   # noqa: E731
    low, high = (at(m.low), at(m.high)) if m.exists else (at(m.mean), at(m.mean))
    values = {"kind": speed.kind, "device": speed.study_device or "—", "ratio": speed.study_ratio,
              "target_ratio": speed.ratio, "net": _two(at(m.mean)), "low": _two(low), "high": _two(high),
              "go": thresholds.go_net_low, "nogo": thresholds.nogo_net_high}
    decision.target_net = at(m.mean)
    decision.reasons.append(("reason.speed_on_target", values))
    if high < thresholds.nogo_net_high:
        decision.verdict, decision.flips = "NO-GO", [("flip.target_nogo", values)]
    elif decision.verdict == "GO" and not low > thresholds.go_net_low:
        decision.verdict, decision.flips = "CONDITIONAL", [("flip.target_go", values)]
    elif decision.verdict == "NO-GO":   # the study's own slow ratio said NO-GO; the target's does not
        decision.verdict, decision.flips = "CONDITIONAL", [("flip.target_lifts", values)]


def _two(value: float) -> str:
    """A net benefit to two decimals, ∞ when the multiplier is unbounded."""
    return "∞" if math.isinf(value) else f"{value:.2f}"


def projection_at(decision: Decision, target: Target, prices: Mapping[str, float],
                  speed: TargetSpeed | None = None
                  ) -> tuple[Projection | None, tuple[Projection, Projection] | None]:
    """The decision's multiplier carried to `target`: (projection, None) at a speed ratio measured on
    the target's kind (speed None: the study's own ratio, as measured); (None, (slow, fast)) at the
    range's two ends when none was; (None, None) without a multiplier or any ratio."""
    mult = decision.multiplier
    if mult is None or not mult.multiplier.mean > 0:
        return None, None
    price = target.price_per_hour if target.price_per_hour is not None \
        else costs.price_per_hour(target.gpu_kind, prices)
    flops = target_flops_ratio(target.params)[0]
    at = lambda ratio: project(target.params, target.tokens, target.gpu_kind, price, ratio,  # noqa: E731
                               mult.multiplier, flops_ratio=flops)
    if speed is not None and not speed.measured:
        return None, (at(speed.low), at(speed.high))
    ratio = speed.ratio if speed is not None else mult.speed_ratio
    if not (math.isfinite(ratio) and ratio > 0):
        return None, None
    return at(ratio), None
