"""The paper's published figures as data, and a study's own numbers set beside them.

Source: Xiao et al., "Improving Transformers with Dynamically Composable Multi-Head Attention"
(ICML 2024, arXiv 2405.08553) and the authors' released configurations, as summarised in the
project's DCMHA.md. Every figure carries its source; the notes shown to people are i18n keys.

The rule (compare_with_paper), per claim: the study *cannot speak* to it when it has no measurement,
when its largest size is more than SCALE_GAP_LIMIT times smaller than the paper's smallest (405M), or
when its interval is missing or too wide (a multiplier interval whose high / low exceeds
WIDE_INTERVAL, a loss interval that straddles 0); otherwise it *agrees* when its number is at least
as good as the published one (a multiplier interval reaching 1.7x or above, DCFormer's loss lower
beyond doubt, a speed ratio no more than SPEED_SLACK under the paper's ratio at that size), and it
*contradicts* otherwise. A speed ratio measured on a CPU cannot speak to the paper's (TPU) figures.
Torch-free and database-free."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import costs
from .compare import counted_runs, on_main_corpus
from .stats import Reason

SCALE_GAP_LIMIT = 100.0      # our largest size x this < the paper's smallest: too small to speak
WIDE_INTERVAL = 2.0          # multiplier interval high / low above this: too wide to speak
SPEED_SLACK = 0.05           # a speed ratio this far under the paper's still agrees (rounding)


@dataclass(frozen=True)
class PaperFigure:
    """One published figure: a value band [low, high] at model sizes [params_low, params_high]
    (tokens: the training tokens behind it, None where the paper states none here)."""
    claim: str
    params_low: float
    params_high: float
    low: float
    high: float
    tokens: float | None
    source_key: str            # i18n key of where it is published
    note_key: str              # i18n key of the note shown beside it (units, hardware)


# The compute multiplier: DCFormer matches Transformer++ trained with 1.7x to 2x the compute.
MULTIPLIER = PaperFigure("multiplier", 405e6, 6.9e9, 1.7, 2.0, None,
                         "paper.source.abstract", "paper.note.multiplier")
# Training loss at 405M after 13.5K steps (7.1B tokens): DCFormer++ 2.37, Transformer++ 2.46.
LOSS_DCFORMER, LOSS_TRANSFORMER = 2.37, 2.46
LOSS = PaperFigure("loss", 405e6, 405e6, LOSS_DCFORMER - LOSS_TRANSFORMER,
                   LOSS_DCFORMER - LOSS_TRANSFORMER, 7.1e9, "paper.source.loss",
                   "paper.note.loss")
# Training throughput of DCFormer relative to the same model without DCMHA, by size (TPU, unfused).
_CONFIGS = ("paper.source.configs", "paper.note.throughput")
THROUGHPUT = (PaperFigure("throughput", 405e6, 405e6, 0.45, 0.45, None, *_CONFIGS),
              PaperFigure("throughput", 1.4e9, 1.4e9, 0.60, 0.70, None, *_CONFIGS),
              PaperFigure("throughput", 6.9e9, 6.9e9, 0.77, 0.77, None, *_CONFIGS),
              PaperFigure("throughput", 13e9, 33e9, 0.80, 0.80, None, *_CONFIGS))
PAPER_SMALLEST = (405e6, 7.1e9)                 # parameters, tokens of the paper's smallest model
FINDINGS = ("agrees", "contradicts", "cannot")


def paper_speed_ratio(params: float) -> tuple[float, float]:
    """The paper's throughput ratio band at a model size: each bound interpolated linearly in
    log(parameters) between the published sizes, held at the end values outside them."""
    xs, lows, highs = [], [], []
    for fig in THROUGHPUT:
        for p in dict.fromkeys((fig.params_low, fig.params_high)):
            xs.append(math.log(p))
            lows.append(fig.low)
            highs.append(fig.high)
    x = math.log(max(params, 1.0))
    return float(np.interp(x, xs, lows)), float(np.interp(x, xs, highs))


@dataclass(frozen=True)
class PaperRow:
    """One claim: the paper's band, the study's number (mean, low, high; NaN / None where it has
    none), the finding (FINDINGS) and why, as an i18n Reason."""
    claim: str
    paper_low: float
    paper_high: float
    ours: float
    ours_low: float | None
    ours_high: float | None
    finding: str
    why: Reason
    source_key: str
    note_key: str


@dataclass(frozen=True)
class PaperComparison:
    """The study beside the paper: one row per claim, the overall finding, and the scale gap
    (our largest size in parameters and tokens against the paper's smallest; factor = theirs / ours)."""
    rows: tuple[PaperRow, ...]
    finding: str
    params: float
    tokens: float
    gap_params: float
    gap_tokens: float
    speed_device: str


def _largest(runs: pd.DataFrame) -> tuple[float, float]:
    """(parameters, tokens) of the study's largest counted size (NaN, NaN without runs)."""
    counted = on_main_corpus(counted_runs(runs)) if not runs.empty else runs
    if counted.empty:
        return math.nan, math.nan
    params = pd.to_numeric(counted["n_params"], errors="coerce").astype(float)
    top = counted[params.eq(params.max())]
    return float(params.max()), float(top["tokens"].max())


def _too_small(params: float) -> Reason | None:
    if not params > 0 or params * SCALE_GAP_LIMIT < PAPER_SMALLEST[0]:
        return ("paper.why.scale", {"gap": PAPER_SMALLEST[0] / params if params > 0 else math.inf,
                                    "limit": SCALE_GAP_LIMIT})
    return None


def within_reach(params: float) -> bool:
    """Whether a study whose largest size has params parameters is near enough the paper's scale
    for its claims (SCALE_GAP_LIMIT): otherwise every row cannot speak, whatever its interval."""
    return _too_small(params) is None


def _multiplier_row(mult, params: float) -> PaperRow:
    """The multiplier against the paper's baseline (Decision.paper_multiplier; None: the study ran
    no Transformer++ without QK-norm, which cannot compare)."""
    m = mult.multiplier if mult is not None else None
    mean = m.mean if m is not None else math.nan
    low, high = (m.low, m.high) if m is not None else (None, None)
    fig = MULTIPLIER
    values = {"low": fig.low, "high": fig.high, "m": mean}
    if mult is None:
        finding, why = "cannot", ("paper.why.baseline", {})
    elif not math.isfinite(mean):
        finding, why = "cannot", ("paper.why.none", {})
    elif (small := _too_small(params)) is not None:
        finding, why = "cannot", small
    elif low is None or high is None or not low > 0 or high / low > WIDE_INTERVAL:
        finding, why = "cannot", ("paper.why.wide", {"limit": WIDE_INTERVAL})
    elif high < fig.low:
        finding, why = "contradicts", ("paper.why.m_below", values)
    else:
        finding, why = "agrees", ("paper.why.m_reaches", values)
    return PaperRow("multiplier", fig.low, fig.high, mean, low, high, finding, why, fig.source_key, fig.note_key)


def _loss_row(equal_tokens: pd.DataFrame | None, params: float) -> PaperRow:
    fig = LOSS
    row = equal_tokens.iloc[-1] if equal_tokens is not None and len(equal_tokens) else None
    diff = float(row["loss_diff"]) if row is not None else math.nan
    low = row["loss_low"] if row is not None and row["loss_low"] is not None \
        and not pd.isna(row["loss_low"]) else None
    high = row["loss_high"] if row is not None and row["loss_high"] is not None \
        and not pd.isna(row["loss_high"]) else None
    if not math.isfinite(diff):
        finding, why = "cannot", ("paper.why.none", {})
    elif (small := _too_small(params)) is not None:
        finding, why = "cannot", small
    elif low is None or high is None or low <= 0 <= high:
        finding, why = "cannot", ("paper.why.straddles", {})
    elif high < 0:
        finding, why = "agrees", ("paper.why.loss_lower", {})
    else:
        finding, why = "contradicts", ("paper.why.loss_higher", {})
    return PaperRow("loss", fig.low, fig.high, diff, None if low is None else float(low),
                    None if high is None else float(high), finding, why, fig.source_key, fig.note_key)


def _loss_row_against_plain(decision, params: float) -> PaperRow:
    """The loss row against the paper's baseline, or 'cannot' where the study ran no plain
    Transformer++ at its largest size (against the QK-norm baseline the difference is smaller and
    does not compare, as for the multiplier)."""
    plain = _against_plain(decision)
    if plain is not None:
        return _loss_row(plain, params)
    return PaperRow("loss", LOSS.low, LOSS.high, math.nan, None, None, "cannot",
                    ("paper.why.baseline_loss", {}), LOSS.source_key, LOSS.note_key)


def _speed_row(mult, params: float) -> PaperRow:
    ratio = mult.speed_ratio if mult is not None else math.nan
    device = (mult.speed_device if mult is not None else "") or ""
    band = paper_speed_ratio(params if params > 0 else PAPER_SMALLEST[0])
    if not math.isfinite(ratio):
        finding, why = "cannot", ("paper.why.none", {})
    elif costs.device_kind(device.split(" x")[0]) == "cpu":
        finding, why = "cannot", ("paper.why.cpu", {})
    elif (small := _too_small(params)) is not None:
        finding, why = "cannot", small
    elif ratio >= band[0] - SPEED_SLACK:
        finding, why = "agrees", ("paper.why.speed_ok", {"low": band[0], "high": band[1]})
    else:
        finding, why = "contradicts", ("paper.why.speed_slow", {"low": band[0], "high": band[1]})
    return PaperRow("throughput", THROUGHPUT[0].low, THROUGHPUT[-1].high, ratio, None, None, finding,
                    why, THROUGHPUT[0].source_key, THROUGHPUT[0].note_key)


def _against_plain(decision) -> pd.DataFrame | None:
    """DCFormer minus the paper's baseline (Transformer++ without QK-norm) per size: a ladder's
    attribution 'total' rows when they reach the verdict's largest size, else the verdict's
    equal-token rows where its baseline is that one (the claim is read at the largest size, so
    both must mean the same size); None otherwise."""
    parts, tokens = decision.attribution, decision.equal_tokens
    total = parts[parts["part"].eq("total")].sort_values("params", kind="stable") \
        if parts is not None and len(parts) else None
    if total is not None and len(total) and tokens is not None and len(tokens) \
            and total["preset"].iloc[-1] == tokens["preset"].iloc[-1]:
        return total
    return tokens if decision.baseline == "transformer" else None   # against QK-norm: not the paper's


def compare_with_paper(decision, runs: pd.DataFrame) -> PaperComparison:
    """The study's multiplier, loss difference at its largest size and speed ratio beside the
    paper's (see the module's rule). ``decision``: a verdict.Decision; ``runs``: the study's runs."""
    params, tokens = _largest(runs)
    mult = decision.multiplier
    rows = (_multiplier_row(decision.paper_multiplier, params),
            _loss_row_against_plain(decision, params),
            _speed_row(mult, params))
    findings = {r.finding for r in rows}
    overall = "contradicts" if "contradicts" in findings else "agrees" if "agrees" in findings \
        else "cannot"
    gap = lambda theirs, ours: theirs / ours if ours > 0 else math.inf  # noqa: E731
    return PaperComparison(rows, overall, params, tokens, gap(PAPER_SMALLEST[0], params),
                           gap(PAPER_SMALLEST[1], tokens),
                           (mult.speed_device if mult is not None else "") or "")
