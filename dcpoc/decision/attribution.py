"""Where DCFormer's gain comes from. A study may run the ablation ladder (config.VARIANTS): the paper's
Transformer++ (no QK-norm), Transformer++ with QK-norm, DCFormer (DCMHA + QK-norm). The decisive
comparison sets DCFormer against the best cheap baseline (Transformer++ with QK-norm when the study
ran it); where all three rungs ran at a size, the gain splits into the QK-norm part (almost free)
and the DCMHA part on top of it, each paired by seed with its interval and its speed cost.

Every comparison here reuses compare.py, which pairs the arch labels "transformer" (the lower rung)
and "dcformer" (the upper rung): pair_frame relabels any two variants that way."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..config import VARIANT_LABELS
from .compare import seed_pairs, compare_equal_tokens, counted_runs, on_main_corpus, speed_ratio
from .facts import device_label, with_variant
from .stats import Pooled, Reason, pooled_interval

# (part, lower rung, upper rung): DCFormer's whole gain over the paper's baseline is the sum of
# the first two when the same seeds ran all three rungs.
PARTS = (("qk_norm", "transformer", "transformer-qknorm"),
         ("dcmha", "transformer-qknorm", "dcformer"),
         ("total", "transformer", "dcformer"))
ATTRIBUTION_COLUMNS = ["preset", "params", "steps", "tokens", "part", "lower", "upper", "n_pairs", "seeds", "loss_diff",
                       "loss_low", "loss_high", "unreliable", "speed_ratio", "speed_device"]


def decisive_pair(runs: pd.DataFrame) -> tuple[str, str]:
    """(baseline, treatment) variants of the comparison the verdict rests on: DCFormer against
    Transformer++ with QK-norm when the runs have it, else against the paper's Transformer++. Runs
    with QK-norm off on both architectures (an older --set qk_norm=false study) compare like for
    like: DCFormer without QK-norm against Transformer++ without it."""
    present = set(with_variant(runs)["variant"]) if len(runs) else set()
    if "dcformer" not in present and "dcformer-noqknorm" in present:
        return ("transformer" if "transformer" in present else "transformer-qknorm"), "dcformer-noqknorm"
    if "transformer" in present and "transformer-qknorm" not in present:
        return "transformer", "dcformer"
    return "transformer-qknorm", "dcformer"


def pair_frame(runs: pd.DataFrame, lower: str, upper: str) -> pd.DataFrame:
    """The runs of two variants, labelled for compare.py: arch "transformer" for the lower rung,
    "dcformer" for the upper one (the real arch stays readable in the column variant)."""
    runs = with_variant(runs)
    if runs.empty:
        return runs
    frame = runs[runs["variant"].isin([lower, upper])]
    return frame.assign(arch=np.where(frame["variant"].eq(upper), "dcformer", "transformer"))


def size_differences(pair: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per size (preset), the per-seed differences upper minus lower in final val loss at equal
    tokens on the main corpus (what compare_equal_tokens averages), at the size's largest token
    budget with pairs, the one the verdict reads: a size relaunched at another budget mixed both
    comparisons into one sample. ``pair``: a pair_frame."""
    counted = on_main_corpus(counted_runs(pair)) if len(pair) else pair
    out: dict[str, np.ndarray] = {}
    budget: dict[str, float] = {}
    for (preset, tokens), group in (counted.groupby(["preset", "tokens"], sort=False)
                                    if len(counted) else []):
        pairs = seed_pairs(group)
        if len(pairs) and tokens >= budget.get(str(preset), -math.inf):
            out[str(preset)], budget[str(preset)] = (pairs["dc"] - pairs["tf"]).to_numpy(float), tokens
    return out


def pooled(pair: pd.DataFrame) -> Pooled | None:
    """The decisive difference pooled over sizes (stats.pooled_interval; None under two sizes)."""
    return pooled_interval(size_differences(pair))


def attribute(runs: pd.DataFrame) -> pd.DataFrame:
    """At each size where all three rungs have counted runs: rows for the QK-norm part, the DCMHA
    part and the total, each the paired loss difference upper minus lower (negative: the upper rung
    is better) with its 95% interval, whether it rests on 2 seeds only, and the upper rung's
    tokens/s over the lower rung's (the speed cost). Empty without the full ladder."""
    runs = _largest_budget(with_variant(runs))
    rows = []
    for part, lower, upper in PARTS:
        pair = pair_frame(runs, lower, upper)
        if pair.empty:
            return pd.DataFrame(columns=ATTRIBUTION_COLUMNS)
        counted = counted_runs(pair)
        counted = counted.assign(speed_device=[device_label(d, c) for d, c in
                                               zip(counted["device"], counted["config"])])
        for row in compare_equal_tokens(pair).to_dict("records"):
            device, ratio = speed_ratio(counted[counted["preset"].eq(row["preset"])])
            rows.append({**{k: row[k] for k in ATTRIBUTION_COLUMNS if k in row}, "part": part,
                         "lower": lower, "upper": upper, "speed_ratio": ratio,
                         "speed_device": device})
    frame = pd.DataFrame(rows, columns=ATTRIBUTION_COLUMNS)
    # one size per preset: the rungs differ by a few parameters (QK-norm's gains)
    frame["params"] = frame.groupby("preset")["params"].transform("max")
    complete = frame.groupby("preset")["part"].transform("nunique").eq(len(PARTS))
    return frame[complete].sort_values(["params", "part"], key=_part_order, kind="stable",
                                       ignore_index=True)


def _largest_budget(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs of each preset's largest token budget among its succeeded runs (a size that ran
    two budgets, e.g. relaunched with other --steps, is split once, at the longer one)."""
    if runs.empty or "tokens_seen" not in runs:
        return runs
    tokens = pd.to_numeric(runs["tokens_seen"], errors="coerce")
    done = tokens.where(runs["status"].eq("succeeded"))
    largest = done.groupby(runs["preset"]).transform("max")
    return runs[largest.isna() | tokens.eq(largest)]


def _part_order(column: pd.Series) -> pd.Series:
    if column.name == "part":
        return column.map({p: i for i, (p, _, _) in enumerate(PARTS)})
    return column


def free_part(attribution: pd.DataFrame | None) -> Reason | None:
    """The recommendation that does not depend on adopting DCFormer: what QK-norm alone gives the
    Transformer++ run today, at the largest size the ladder ran (rec.qk_norm when its interval lies
    below zero, rec.qk_norm_no_interval with one seed pair, rec.qk_norm_unclear otherwise; None
    without the ladder)."""
    if attribution is None or attribution.empty:
        return None
    qk = attribution[attribution["part"].eq("qk_norm")]
    row = qk.iloc[-1]                                   # sorted by size: the largest
    values = {"preset": row["preset"], "diff": row["loss_diff"], "low": _num(row["loss_low"]),
              "high": _num(row["loss_high"]), "ratio": _times(row["speed_ratio"]),
              "n": int(row["n_pairs"]), "base": VARIANT_LABELS["transformer"],
              "with": VARIANT_LABELS["transformer-qknorm"]}
    if math.isnan(values["high"]):                      # one seed pair: no interval to print
        return "rec.qk_norm_no_interval", values
    return ("rec.qk_norm" if values["high"] < 0 else "rec.qk_norm_unclear", values)


def _times(ratio: object) -> str:
    """A speed ratio as the recommendation prints it ("0.99×"; "—" where no device ran both)."""
    return f"{float(ratio):.2f}×" if ratio is not None and not pd.isna(ratio) else "—"


def _num(value: object) -> float:
    return float(value) if value is not None and not pd.isna(value) else math.nan
