"""The statistics a decision rests on: a mean with its 95% interval (paired t over seeds, or a
bootstrap percentile interval), and Reason, the i18n key with its values that every text of a
decision is (so the same result reads in English and Japanese)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

Reason = tuple[str, dict]


class Sized(NamedTuple):
    """A size named with its budget in a Reason's values, where the study ran that size at more
    than one budget; report.text.say words it as the tables do ('tiny · 100 steps')."""
    preset: str
    steps: float
    tokens: float

# Two-sided 95% quantiles of Student's t (0.975 quantile) for 1..30 degrees of freedom.
T_975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
         2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
         2.060, 2.056, 2.052, 2.048, 2.045, 2.042)
Z_975 = 1.959964


def t_quantile_975(df: int) -> float:
    """Student's t 0.975 quantile: the table up to 30 degrees of freedom, beyond it the
    Cornish-Fisher expansion to second order, z + (z^3 + z) / (4 df) + (5 z^5 + 16 z^3 + 3 z) /
    (96 df^2) (2.0394 at df 31 against 2.0395; the first order alone gives 2.0365)."""
    if df < 1:
        raise ValueError("a t interval needs at least one degree of freedom")
    if df <= len(T_975):
        return T_975[df - 1]
    z = Z_975
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


@dataclass(frozen=True)
class Interval:
    """A mean with its 95% interval; low / high are None when no interval exists (reason says
    why, as an i18n Reason)."""
    mean: float
    low: float | None
    high: float | None
    n: int
    method: str = ""            # "paired-t", "bootstrap", "bootstrap-t" (widened), "pooled-welch", ""
    reason: Reason | None = None

    @property
    def exists(self) -> bool:
        return self.low is not None and self.high is not None


def row_interval(row: pd.Series, name: str) -> Interval:
    """The interval of `name` (loss, ppl) in one comparison or attribution row: its `name`_diff,
    and `name`_low / `name`_high when both exist (None and NaN: no interval)."""
    low, high = row[f"{name}_low"], row[f"{name}_high"]
    ok = low is not None and high is not None and not pd.isna(low) and not pd.isna(high)
    return Interval(float(row[f"{name}_diff"]), float(low) if ok else None,
                    float(high) if ok else None, int(row["n_pairs"]))


def paired_t_interval(differences: list[float] | np.ndarray) -> Interval:
    """Mean of per-seed differences and its 95% paired t interval: mean +- t(0.975, n-1) x s / sqrt(n),
    s the sample standard deviation (n - 1 denominator). One difference: no interval."""
    d = np.asarray(differences, dtype=float)
    d = d[np.isfinite(d)]
    n = len(d)
    if n == 0:
        return Interval(math.nan, None, None, 0, "", ("why.no_pairs", {}))
    mean = float(d.mean())
    if n == 1:
        return Interval(mean, None, None, 1, "", ("why.one_seed", {}))
    half = t_quantile_975(n - 1) * float(d.std(ddof=1)) / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n, "paired-t")


def replace_reason(interval: Interval, reason: Reason) -> Interval:
    """The same interval saying why it is missing."""
    return Interval(interval.mean, interval.low, interval.high, interval.n, interval.method, reason)


def percentile(samples: list[float] | np.ndarray, q: float) -> float:
    """The q-th percentile (0..100) by numpy's default linear interpolation, where a sample may be
    +inf: a percentile that interpolates towards an infinite sample is inf (numpy gives inf or NaN
    there, depending on where it falls)."""
    x = np.sort(np.asarray(samples, dtype=float))
    position = q / 100.0 * (len(x) - 1)
    below, above = int(math.floor(position)), int(math.ceil(position))
    if math.isinf(x[above]) and (position > below or math.isinf(x[below])):
        return float(x[above])
    return float(x[below] + (x[above] - x[below]) * (position - below)) if above > below else float(x[below])


def percentile_interval(mean: float, samples: list[float], n_boot: int, n: int) -> Interval:
    """Bootstrap percentile interval (a bound may be inf when resamples are); none when under half
    of the resamples could be fitted (the ladder is too short for a resample to keep two sizes)."""
    if len(samples) < max(20, n_boot // 2):
        return Interval(mean, None, None, n, "", ("why.bootstrap_degenerate", {}))
    return Interval(mean, percentile(samples, 2.5), percentile(samples, 97.5), n, "bootstrap")


UNRELIABLE_BELOW = 3      # a paired t interval from fewer seeds (one degree of freedom) is flagged


def unreliable(n_pairs: int) -> bool:
    """Whether an interval from n_pairs seeds is too fragile to trust: with 2 seeds the t interval
    has one degree of freedom, its width set by a single spread that can be tiny or huge by chance."""
    return 2 <= n_pairs < UNRELIABLE_BELOW


@dataclass(frozen=True)
class Pooled:
    """The mean difference pooled over sizes, each size keeping its own variance (Welch): sizes'
    spreads differ by far more than chance (35x between the reference study's smallest and largest
    size), so one common variance would overstate the precision that the noisiest size allows.
    interval: the n-weighted mean of all differences +- t(0.975, floor(df)) x se, se^2 =
    sum_g n_g s_g^2 / n_total^2 and df by Welch-Satterthwaite; agree: no pair of sizes differs by a
    Welch t test at 5%; apart names the first pair that does. Assumption: one mean at every size."""
    interval: Interval
    se: float
    df: float
    n_sizes: int
    agree: bool
    apart: tuple[str, str] | None = None
    min_n: int = 0                   # the fewest differences at one size (the test's power)


def welch(parts: list[tuple[float, int]]) -> tuple[float, float]:
    """(standard error, Welch-Satterthwaite degrees of freedom) of sum_g c_g mean_g, parts: one
    (c_g^2 s_g^2 / n_g, n_g) per group; with no spread at all, se 0 and df sum_g (n_g - 1)."""
    total = sum(v for v, _ in parts)
    if total <= 0:
        return 0.0, float(sum(n - 1 for _, n in parts))
    return math.sqrt(total), total**2 / sum(v**2 / (n - 1) for v, n in parts)


def _t(df: float) -> float:
    """t(0.975) at the whole degrees of freedom below a Welch df (the conservative side)."""
    return t_quantile_975(max(1, int(math.floor(df + 1e-9))))


def pooled_interval(groups: dict[str, list[float] | np.ndarray]) -> Pooled | None:
    """Pool per-size paired differences (groups: size -> its per-seed differences), each size with
    its own variance; None with fewer than 2 sizes or a size with under 2 differences (no spread
    of its own to weigh it by)."""
    clean = {k: np.asarray(v, dtype=float) for k, v in groups.items()}
    clean = {k: v[np.isfinite(v)] for k, v in clean.items() if np.isfinite(v).any()}
    if len(clean) < 2 or min(len(v) for v in clean.values()) < 2:
        return None
    n_total = sum(len(v) for v in clean.values())
    var = {k: float(v.var(ddof=1)) for k, v in clean.items()}
    se, df = welch([(len(v) * var[k] / n_total**2, len(v)) for k, v in clean.items()])
    mean = float(np.concatenate(list(clean.values())).mean())   # = sum n_g mean_g / n_total
    half = _t(df) * se

    def differ(a: str, b: str) -> bool:
        se_ab, df_ab = welch([(var[a] / len(clean[a]), len(clean[a])), (var[b] / len(clean[b]), len(clean[b]))])
        return abs(clean[a].mean() - clean[b].mean()) > _t(df_ab) * se_ab
    apart = next(((a, b) for i, a in enumerate(clean) for b in list(clean)[i + 1:] if differ(a, b)), None)
    return Pooled(Interval(mean, mean - half, mean + half, n_total, "pooled-welch"), se, df, len(clean),
                  apart is None, apart, min(len(v) for v in clean.values()))
