"""How far a Decision can be trusted, in words (i18n Reasons ev.*, rec.*, risk.*): which baseline the
verdict is about, where the gain comes from (attribution.py), the pooled interval over sizes, the
intervals that rest on two seeds, and whether a confirmation stage removed the winner's curse."""
from __future__ import annotations

from collections.abc import Collection
from typing import Any

import pandas as pd

from ..config import VARIANT_LABELS
from .attribution import attribute, free_part, pooled
from .compare import counted_runs, sizes_named
from ..runs.status import ACTIVE
from .confirmation import confirmation_state
from .stats import Interval, Reason, row_interval


CONFIRM_KEYS = {"confirmed": "ev.confirm.confirmed", "partial": "ev.confirm.partial",
                "pending": "ev.confirm.pending", "optimistic": "ev.confirm.optimistic",
                "": "ev.confirm.none"}


def add_evidence(decision: Any, scoped: pd.DataFrame, chosen: pd.DataFrame, pair: pd.DataFrame,
                 selection: pd.DataFrame, confirm_seeds: Collection[int]) -> None:
    """Fill a Decision's baseline-related fields. scoped: the study's runs (column variant);
    chosen: the runs that decide (confirmation.decisive_runs); pair / selection: the decisive pair's
    frames (attribution.pair_frame) of chosen and of the rate-choosing runs."""
    base, treat = VARIANT_LABELS[decision.baseline], VARIANT_LABELS[decision.treatment]
    decision.attribution = attribute(chosen)
    decision.pooled = pooled(pair)
    decision.confirmation = confirmation_state(
        pair, counted_runs(selection, best_lr=False) if len(selection) else selection, confirm_seeds,
        still_running=bool(len(scoped)) and scoped["status"].isin(ACTIVE).any())
    evidence = [("ev.baseline", {"base": base, "treat": treat})]
    if decision.baseline == "transformer" and decision.treatment == "dcformer":
        decision.risks.insert(0, ("risk.no_qknorm_baseline", {"base": base}))
    if decision.attribution is not None and len(decision.attribution):
        evidence.append(("ev.attribution", _attribution_values(decision.attribution)))
        rec = free_part(decision.attribution)
        decision.recommendations = [rec] if rec else []
    evidence += _pooled_reasons(decision.pooled)
    trend = size_trend(decision.equal_tokens)
    if trend is not None:       # beside the pooled mean, which assumes one mean at every size
        evidence.append(trend)
    mult = decision.multiplier
    if mult is not None and mult.widening > 1.0 and mult.multiplier.exists:
        evidence.append(("ev.widened", {"factor": f"{mult.widening:.2f}", "n": mult.fewest_runs}))
    if mult is not None and mult.unbounded:
        evidence.append(("ev.unbounded", {"n": mult.unbounded, "total": mult.resamples}))
    tokens = decision.equal_tokens
    fragile = tokens[tokens["unreliable"].eq(True)] if tokens is not None and len(tokens) else None
    if fragile is not None and len(fragile):
        # a size run at two budgets names each (tiny · 100 steps), as the comparison table does
        evidence.append(("ev.two_seeds", {"presets": sizes_named(fragile, tokens)}))
    seeds = [str(s) for s in sorted(confirm_seeds)]
    evidence.append((CONFIRM_KEYS[decision.confirmation], {"seeds": seeds}))
    decision.evidence = evidence


def _attribution_values(table: pd.DataFrame) -> dict:
    """The largest size's split: QK-norm part, DCMHA part, total, and the speed cost of each."""
    largest = table[table["params"].eq(table["params"].max())].set_index("part")
    values: dict = {"preset": str(largest["preset"].iloc[0])}
    for part in ("qk_norm", "dcmha", "total"):
        row = largest.loc[part]
        values[part] = row_interval(row, "loss")
        values[f"{part}_speed"] = f"{row['speed_ratio']:.2f}×" if pd.notna(row["speed_ratio"]) else "—"
    return values


def _pooled_reasons(found: Any) -> list[tuple[str, dict]]:
    if found is None:
        return []
    values = {"n": found.interval.n, "sizes": found.n_sizes, "df": f"{found.df:.1f}", "se": f"{found.se:.4f}",
              "min_n": found.min_n,
              "diff": _interval(found.interval.mean, found.interval.low, found.interval.high)}
    if found.agree:
        return [("ev.pooled", values)]
    return [("ev.pooled_apart", {**values, "a": found.apart[0], "b": found.apart[1]})]


# the direction of the per-size differences in plain words, by (direction, where DCFormer stands
# at the smallest and at the largest size): "up" means the difference (DCFormer minus the baseline)
# rises with size, i.e. DCFormer fares worse as the model grows
TREND_KEYS = {("up", "lead"): "ev.trend.lead_shrinks", ("up", "lead_gone"): "ev.trend.lead_gone",
              ("up", "behind"): "ev.trend.behind_grows", ("down", "behind"): "ev.trend.behind_shrinks",
              ("down", "lead_won"): "ev.trend.lead_won", ("down", "lead"): "ev.trend.lead_grows"}


def size_trend(equal_tokens: pd.DataFrame | None) -> Reason | None:
    """ev.by_size: the equal-token loss differences (DCFormer minus the baseline) size by size,
    smallest first, as point estimates; with their direction in words (trend, an i18n key) only
    when they rise or fall at every step, and a note (overlap, an i18n key) when every two sizes'
    95% intervals overlap, since these seeds then cannot tell the sizes apart. None under two
    sizes. A size run at several token budgets counts at its longest, as the verdict reads it."""
    if equal_tokens is None or equal_tokens.empty:
        return None
    rows = equal_tokens.sort_values("params", kind="stable").groupby("preset", sort=False).tail(1)
    rows = rows[pd.notna(rows["loss_diff"])].sort_values("params", kind="stable")
    if len(rows) < 2:
        return None
    diffs = rows["loss_diff"].astype(float).tolist()
    steps = [b - a for a, b in zip(diffs, diffs[1:])]
    first, last = diffs[0], diffs[-1]
    trend = ""
    if all(step > 0 for step in steps):
        trend = TREND_KEYS["up", "behind" if first >= 0 else "lead_gone" if last >= 0 else "lead"]
    elif all(step < 0 for step in steps):
        trend = TREND_KEYS["down", "lead" if first <= 0 else "lead_won" if last < 0 else "behind"]
    low = pd.to_numeric(rows["loss_low"], errors="coerce")
    high = pd.to_numeric(rows["loss_high"], errors="coerce")
    overlap = bool(low.notna().all() and high.notna().all() and low.max() <= high.min())
    return "ev.by_size", {"values": [f"{p} {d:+.4f}" for p, d in zip(rows["preset"], diffs)],
                          "trend": trend, "overlap": "ev.by_size.overlap" if overlap else ""}


def _interval(mean: float, low: object, high: object) -> Interval:
    """A loss difference with its interval (None bounds: none), which report.text.say writes as
    the reader's language writes an interval."""
    missing = low is None or high is None or pd.isna(low) or pd.isna(high)
    return Interval(float(mean), None if missing else float(low), None if missing else float(high), 0)
