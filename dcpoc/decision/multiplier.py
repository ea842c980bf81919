"""The compute multiplier: Transformer++'s loss against training compute (a power law, or log-linear
on a short ladder), inverted at each DCFormer run's loss; the net benefit (the wall time Transformer++
needs for DCFormer's loss over DCFormer's), both with bootstrap intervals; and their projection to a
target scale in GPU-hours and $.

Compute is FLOPs, DCMHA's own included, so the multiplier already charges DCFormer for its extra
FLOPs per token; what the hardware adds is how fast each architecture turns FLOPs into tokens. Per
DCFormer run i at size p: net_i = multiplier_i x speed_p x flops_p, speed_p the tokens/s ratio and
flops_p the FLOPs-per-token ratio (DCFormer / Transformer++) at p, so speed_p x flops_p is the
ratio of FLOP/s. Multiplying by the tokens/s ratio alone would count the extra FLOPs twice."""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Mapping

import numpy as np
import pandas as pd

from .. import costs, counts
from ..config import PRESETS, make_config
from .compare import counted_runs, main_corpus, on_main_corpus, ratios_at_runs, speed_ratio
from .facts import device_label
from .resample import RESAMPLED, draw_plan, resample
from .stats import Z_975, Interval, Reason, percentile_interval, replace_reason, t_quantile_975

POWER_LAW_MIN_POINTS = 4
POWER_LAW_MIN_COMPUTES = 3
# why a fit is log-linear: under POWER_LAW_MIN_POINTS runs, under POWER_LAW_MIN_COMPUTES distinct
# compute values (seeds add runs, not compute values), or no power law fits (no A > 0, or the best
# alpha at an end of the scan)
LOGLINEAR_WHY = ("points", "computes", "no_power")
_ALPHAS = np.geomspace(1e-3, 3.0, 400)
_REFINE_ROUNDS = 10
BOOTSTRAP_SAMPLES = 300
BOOTSTRAP_SEED = 20240601
PER_RUN_COLUMNS = ["id", "preset", "seed", "loss", "compute", "tf_compute", "multiplier", "extrapolated"]


# ----------------------------------------------------------------------------- compute fit
@dataclass(frozen=True)
class ComputeFit:
    """Transformer++ val loss against training compute C (FLOPs).
    kind "power": L = E + A * C^-alpha; kind "loglinear": L = a + b * ln C (a=E, b=A, alpha=NaN),
    with why the power law was not used (LOGLINEAR_WHY; the label names it)."""
    kind: str
    E: float
    A: float
    alpha: float
    n_points: int
    why: str = ""

    def loss(self, compute: float | np.ndarray) -> np.ndarray:
        c = np.asarray(compute, dtype=float)
        if self.kind == "power":
            return self.E + self.A * c ** (-self.alpha)
        return self.E + self.A * np.log(c)

    def log_compute_for(self, loss: float) -> float:
        """ln of the compute at which this curve reaches loss (+inf below a power law's floor; NaN
        on a straight line that does not fall with compute, which says nothing about any loss),
        in logs: a flat curve's compute overflows a float (alpha near 0: a power 1/alpha)."""
        if self.kind == "power":
            if loss <= self.E or self.A <= 0:
                return math.inf
            return (math.log(self.A) - math.log(loss - self.E)) / self.alpha
        if self.A >= 0:
            return math.nan
        return (loss - self.E) / self.A

    def compute_for(self, loss: float) -> float:
        """The compute at which this curve reaches loss (inf when it never does or overflows)."""
        log_c = self.log_compute_for(loss)
        return math.exp(log_c) if log_c < 700.0 else math.inf if log_c > 0 else math.nan


def _power_sse(alphas: np.ndarray, x: np.ndarray, y: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For fixed alpha, L = E + A z with z = x^-alpha is a straight line in z: the least-squares E
    and A in closed form and the sum of squared errors, for every alpha at once."""
    z = x[None, :] ** (-np.asarray(alphas, dtype=float)[:, None])
    zc = z - z.mean(axis=1, keepdims=True)
    var = np.maximum((zc**2).sum(axis=1), 1e-300)
    A = (zc * (y - y.mean())[None, :]).sum(axis=1) / var
    E = y.mean() - A * z.mean(axis=1)
    sse = ((E[:, None] + A[:, None] * z - y[None, :]) ** 2).sum(axis=1)
    return sse, E, A


def _fit_power(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float] | None:
    """(E, A, alpha) of the power law on scaled compute x: alpha by the log-spaced scan, then
    refined by finer scans between the best point's neighbours (ten, each cutting the bracket 16
    times: one array call each, where a golden-section search needed sixty); None without an A > 0
    or when the best alpha is at an end of the scan (the least-squares optimum lies outside it:
    near alpha 0 the power law is the log-linear curve, with a floor that means nothing and an
    inversion that overflows)."""
    sse, _, A = _power_sse(_ALPHAS, x, y)
    sse = np.where(A > 0, sse, np.inf)
    if not np.isfinite(sse).any():
        return None
    best = int(np.argmin(sse))
    if best in (0, len(_ALPHAS) - 1):
        return None
    lo, hi = _ALPHAS[max(best - 1, 0)], _ALPHAS[min(best + 1, len(_ALPHAS) - 1)]
    for _ in range(_REFINE_ROUNDS):      # each round keeps 2 of 32 steps around its best point
        grid = np.linspace(lo, hi, 33)
        i = int(np.argmin(_power_sse(grid, x, y)[0]))
        lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, 32)]
    alpha = (lo + hi) / 2
    _, E, A = (v[0] for v in _power_sse(np.array([alpha]), x, y))
    return (float(E), float(A), float(alpha)) if A > 0 else None


def fit_compute_curve(compute: np.ndarray | list[float], loss: np.ndarray | list[float]
                      ) -> ComputeFit | None:
    """Fit Transformer++'s loss against compute: the power law with an irreducible term when there
    are >= 4 points (runs) on >= 3 distinct compute values (alpha by a log-spaced scan, then finer
    scans, E and A by least squares at each alpha, A > 0 required), otherwise the log-linear
    L = a + b ln C by least squares. None with fewer than 2 distinct compute values."""
    c = np.asarray(compute, dtype=float)
    y = np.asarray(loss, dtype=float)
    ok = np.isfinite(c) & np.isfinite(y) & (c > 0)
    c, y = c[ok], y[ok]
    if len(np.unique(c)) < 2:
        return None
    c0 = float(np.exp(np.mean(np.log(c))))     # scale: keeps C^-alpha near 1
    # the compute values first: with too few of them, more seeds (points) would not help
    why = ("computes" if len(np.unique(c)) < POWER_LAW_MIN_COMPUTES else
           "points" if len(c) < POWER_LAW_MIN_POINTS else "no_power")
    if why == "no_power":
        power = _fit_power(c / c0, y)
        if power is not None:
            E, A, alpha = power
            return ComputeFit("power", E, float(A * c0**alpha), alpha, len(c))
    b, a = np.polyfit(np.log(c), y, 1)
    return ComputeFit("loglinear", float(a), float(b), math.nan, len(c), why)


# ----------------------------------------------------------------------------- multiplier
@dataclass(frozen=True)
class MultiplierResult:
    """The compute multiplier (Transformer++ compute needed to reach a DCFormer run's loss, divided
    by that run's compute; geometric mean over DCFormer runs) and the net benefit (multiplier x
    speed_ratio x flops_ratio, see the module's docstring), each with a bootstrap 95% interval.
    speed_ratio and flops_ratio: DCFormer / Transformer++ tokens/s on speed_device and FLOPs per
    token at each DCFormer run's size, geometric means over the DCFormer runs (sizes weighted as
    the multiplier weighs them); NaN unless every DCFormer run's size has both."""
    fit: ComputeFit | None
    per_run: pd.DataFrame            # PER_RUN_COLUMNS, one row per DCFormer run
    multiplier: Interval
    speed_ratio: float
    speed_device: str
    net_benefit: Interval
    corpus_fingerprint: str
    n_sizes: int                     # distinct Transformer++ model sizes (presets; not token budgets)
    reason: Reason | None = None
    flops_ratio: float = math.nan
    unbounded: int = 0               # resamples with an infinite multiplier (see _bootstrap)
    resamples: int = 0               # resamples that could be fitted
    widening: float = 1.0            # small_sample_factor applied to both percentile intervals
    fewest_runs: int = 0             # ... for this many runs at a size (fewest_runs)
    # preset -> the net benefit of that size's DCFormer runs alone (point estimate, its own speed
    # and FLOPs ratios): the pooled mean averages a lead that shrinks with size away
    net_by_size: dict = field(default_factory=dict)


def _exp(x: float | np.ndarray) -> np.ndarray:
    """exp, inf past a float's range without a warning (a near-flat curve's multiplier)."""
    with np.errstate(over="ignore"):
        return np.exp(x)


def _log_multipliers(fit: ComputeFit, dc: pd.DataFrame) -> np.ndarray:
    """ln(Transformer++'s compute for each DCFormer run's loss / that run's compute): +inf where
    the curve never reaches the loss, NaN on a line that does not fall with compute; never -inf
    (the logs are taken before dividing)."""
    log_tf = np.array([fit.log_compute_for(loss) for loss in dc["loss"]], dtype=float)
    return log_tf - np.log(dc["compute"].to_numpy(float))


def _speed_parts(tf: pd.DataFrame, dc: pd.DataFrame, device: str, logm: np.ndarray
                 ) -> tuple[float, float, float]:
    """(speed ratio, FLOPs ratio, net benefit): geometric means over the DCFormer runs, NaN for all
    three unless every DCFormer run's size has a tokens/s ratio on device (a size left out would
    make the net benefit another set of runs than the multiplier's). A log multiplier of +inf (a
    loss below the fit's floor) makes the net benefit +inf."""
    at_run = ratios_at_runs(pd.concat([tf, dc]), device)
    ok = (np.isfinite(at_run["speed"]) & np.isfinite(at_run["flops"]) & ~np.isnan(logm)).to_numpy()
    if not len(ok) or not ok.all():
        return math.nan, math.nan, math.nan
    log_speed = np.log(at_run["speed"].to_numpy(float)[ok])
    log_flops = np.log(at_run["flops"].to_numpy(float)[ok])
    net = float(_exp((logm[ok] + log_speed + log_flops).mean()))
    return float(np.exp(log_speed.mean())), float(np.exp(log_flops.mean())), net


def _net_by_size(tf: pd.DataFrame, dc: pd.DataFrame, device: str, logm: np.ndarray) -> dict:
    """preset -> _speed_parts' net benefit over that size's DCFormer runs alone ({} without a
    speed ratio at every size)."""
    if not math.isfinite(_speed_parts(tf, dc, device, logm)[2]):
        return {}
    presets = dc["preset"].to_numpy()
    return {str(p): _speed_parts(tf, dc[presets == p], device, logm[presets == p])[2]
            for p in dict.fromkeys(presets)}


def _bootstrap(tf: pd.DataFrame, dc: pd.DataFrame, device: str, n_boot: int, seed: int
               ) -> tuple[list[float], list[float]]:
    """Resample the runs within each size (by seed pairs, see resample.resample), refit and invert: the geometric-mean
    multipliers and net benefits (tokens/s ratios from the same resample) of the resamples that
    could be fitted. A resample whose refit never reaches one of its DCFormer losses (below the
    power law's floor E) counts as an infinite multiplier: Transformer++ would need unbounded
    compute. Dropping it instead would pull the upper bound down, towards NO-GO, exactly when
    DCFormer looks best. A resample whose straight line does not fall with compute says nothing
    about any loss and is dropped."""
    rng = np.random.default_rng(seed)
    # the resampled columns only, the rows numbered from 0: a run row has dozens of columns, and
    # copying them 300 times was most of a decision's time
    tf, dc = (f[RESAMPLED].reset_index(drop=True) for f in (tf, dc))
    plan = draw_plan(tf, dc)
    boot_m, boot_net = [], []
    for _ in range(n_boot):
        tf_at, dc_at = resample(plan, rng)
        tf_b, dc_b = tf.iloc[tf_at], dc.iloc[dc_at]
        fit_b = fit_compute_curve(tf_b["compute"], tf_b["loss"])
        if fit_b is None:
            continue
        logm_b = _log_multipliers(fit_b, dc_b)
        if np.isnan(logm_b).any():
            continue
        boot_m.append(float(_exp(logm_b.mean())))
        boot_net.append(_speed_parts(tf_b, dc_b, device, logm_b)[2])
    return boot_m, boot_net


def small_sample_factor(tf: pd.DataFrame, dc: pd.DataFrame) -> float:
    """How much wider than the percentile bootstrap a 95% interval must be with a few seeds per
    size: a resample of n runs has the plug-in spread, sqrt((n-1)/n) of the seeds' own, and the
    spread is itself estimated, so t(0.975, df) stands for 1.96. n: the fewest runs of one side
    at one size (and budget) that has several; df: DCFormer's runs less its sizes. 1.53 at 3 seeds
    and 3 sizes, 2.30 at 2 seeds and 3 sizes, 1.0 in the limit. Measured coverage of the true
    multiplier (scripts/bootstrap_coverage.py, README): 97% at 3 seeds, 92% at 2 (the plain
    percentile interval: 76% and 64%)."""
    n = fewest_runs(tf, dc)
    df = int((dc.groupby(["preset", "tokens"], dropna=False).size() - 1).sum())
    if n < 2 or df < 1:
        return 1.0
    return t_quantile_975(df) * math.sqrt(n / (n - 1)) / Z_975


def fewest_runs(tf: pd.DataFrame, dc: pd.DataFrame) -> int:
    """The fewest runs of one architecture at one size and budget, among those with several (0
    when none has)."""
    groups = pd.concat([tf, dc]).groupby(["arch", "preset", "tokens"], dropna=False).size()
    return int(groups[groups > 1].min()) if (groups > 1).any() else 0


def widen(interval: Interval, factor: float) -> Interval:
    """The interval's bounds moved away from its mean by factor in log space (the multiplier and
    the net benefit are ratios): mean x (bound / mean) ^ factor; an infinite or zero bound stays."""
    if not interval.exists or factor == 1.0 or not interval.mean > 0 or math.isinf(interval.mean):
        return interval

    def away(bound: float, side: float) -> float:   # only outwards: a bound past the mean stays
        if bound <= 0 or math.isinf(bound) or (bound - interval.mean) * side <= 0:
            return bound
        return interval.mean * (bound / interval.mean) ** factor
    return Interval(interval.mean, away(interval.low, -1), away(interval.high, 1), interval.n, "bootstrap-t",
                    interval.reason)


def _per_run(fit: ComputeFit, tf: pd.DataFrame, dc: pd.DataFrame, logm: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({
        "id": dc["id"].to_numpy(), "preset": dc["preset"].to_numpy(), "seed": dc["seed"].to_numpy(),
        "loss": dc["loss"].to_numpy(), "compute": dc["compute"].to_numpy(),
        "tf_compute": _exp(logm) * dc["compute"].to_numpy(float), "multiplier": _exp(logm),
        # read off the curve outside the losses Transformer++ measured, on either side
        "extrapolated": ((dc["loss"] < tf["loss"].min()) | (dc["loss"] > tf["loss"].max())).to_numpy()})


def compute_multiplier(runs: pd.DataFrame, study: str | None = None,
                       n_boot: int = BOOTSTRAP_SAMPLES, seed: int = BOOTSTRAP_SEED
                       ) -> MultiplierResult:
    """Fit Transformer++ loss vs compute (fit_compute_curve) over the study's runs on its main
    corpus, invert it at each DCFormer run's loss, and bootstrap: resample the runs of each
    architecture with replacement (fixed seed), refit, and take the 2.5 / 97.5 percentiles of the
    geometric-mean multiplier and of the net benefit (whose speed ratio is recomputed from the same
    resample, so throughput noise is in its interval), widened for few seeds (small_sample_factor).
    Resampling stays within each size and token budget."""
    counted = counted_runs(runs, study)
    corpus, _ = main_corpus(counted)
    counted = on_main_corpus(counted)
    counted = counted.assign(speed_device=[device_label(d, c)
                                           for d, c in zip(counted["device"], counted["config"])])
    tf = counted[counted["arch"].eq("transformer") & (counted["compute"] > 0)]
    dc = counted[counted["arch"].eq("dcformer") & (counted["compute"] > 0)]
    device = speed_ratio(counted)[0] if not counted.empty else ""
    n_sizes = int(tf["preset"].nunique())    # the ladder is model sizes: budgets at one size add none
    none = Interval(math.nan, None, None, 0)
    ratio, flops, _ = _speed_parts(tf, dc, device, np.zeros(len(dc)))

    def missing(reason: Reason, fit: ComputeFit | None = None) -> MultiplierResult:
        return MultiplierResult(fit, pd.DataFrame(columns=PER_RUN_COLUMNS), replace_reason(none, reason),
                                ratio, device, replace_reason(none, reason), corpus, n_sizes, reason,
                                flops_ratio=flops)

    if dc.empty or tf.empty:
        return missing(("why.no_arch", {}))
    fit = fit_compute_curve(tf["compute"], tf["loss"])
    if fit is None:
        return missing(("why.one_size", {"n": n_sizes}))
    logm = _log_multipliers(fit, dc)
    if np.isnan(logm).any():
        return missing(("why.flat_curve", {}), fit)
    if not np.isfinite(logm).all():
        return missing(("why.beyond_fit", {}), fit)
    m_mean = float(_exp(logm.mean()))
    ratio, flops, net = _speed_parts(tf, dc, device, logm)
    if not (pd.concat([tf, dc]).groupby(["arch", "preset", "tokens"], dropna=False).size() > 1).any():
        # one run per size and side: resampling within sizes has nothing to vary (a zero-width
        # "interval" would pass for certainty)
        one = ("why.one_seed", {})
        return MultiplierResult(fit, _per_run(fit, tf, dc, logm),
                                Interval(m_mean, None, None, len(dc), "", one), ratio, device,
                                Interval(net, None, None, len(dc), "", one), corpus, n_sizes,
                                flops_ratio=flops)
    boot_m, boot_net = _bootstrap(tf, dc, device, n_boot, seed)
    factor = small_sample_factor(tf, dc)
    m_int = widen(percentile_interval(m_mean, boot_m, n_boot, len(dc)), factor)
    net_int = widen(percentile_interval(net, [v for v in boot_net if not math.isnan(v)], n_boot, len(dc)),
                    factor)
    if not math.isfinite(ratio):
        net_int = replace_reason(Interval(math.nan, None, None, len(dc)), ("why.no_speed", {}))
    return MultiplierResult(fit, _per_run(fit, tf, dc, logm), m_int, ratio, device, net_int,
                            corpus, n_sizes, flops_ratio=flops,
                            unbounded=sum(math.isinf(v) for v in boot_m), resamples=len(boot_m),
                            widening=factor, fewest_runs=fewest_runs(tf, dc),
                            net_by_size=_net_by_size(tf, dc, device, logm))


# ----------------------------------------------------------------------------- projection
@dataclass(frozen=True)
class Projection:
    """Training cost at the user's target for both architectures. Transformer++ throughput is
    costs.assumed_tokens_per_s at 6 x params FLOPs/token on the GPU kind; DCFormer's is that x the
    measured speed ratio. Equal quality: DCFormer trains on tokens / (multiplier x flops_ratio),
    the multiplier being in FLOPs and DCFormer's FLOPs per token flops_ratio x Transformer++'s."""
    params: float
    tokens: float
    gpu_kind: str
    price_per_hour: float
    speed_ratio: float
    multiplier: float
    tf_gpu_hours: float
    tf_cost_usd: float
    dc_gpu_hours_same_tokens: float
    dc_cost_same_tokens_usd: float
    dc_gpu_hours_equal_quality: float
    dc_cost_equal_quality_usd: float
    saved_usd: float                 # Transformer++ $ minus DCFormer's $ for equal quality
    saved_low_usd: float | None      # at the multiplier interval's bounds, measured speed ratio
    saved_high_usd: float | None
    flops_ratio: float = 1.0


def project(params: float, tokens: float, gpu_kind: str, price_per_hour: float | None,
            speed_ratio: float, multiplier: Interval | float,
            prices: Mapping[str, float] | None = None, flops_ratio: float = 1.0) -> Projection:
    """GPU-hours and $ of training a params-sized model on tokens with both architectures, and the
    $ DCFormer saves (negative: loses) for the quality Transformer++ gets from those tokens.
    flops_ratio: DCFormer / Transformer++ FLOPs per token at the target (target_flops_ratio)."""
    if params <= 0 or tokens <= 0:
        raise ValueError("target parameters and tokens must be positive")
    price = price_per_hour if price_per_hour is not None else costs.price_per_hour(gpu_kind, prices)
    m = multiplier if isinstance(multiplier, Interval) else Interval(float(multiplier), None, None, 1)
    device = "cpu" if gpu_kind == "cpu" else gpu_kind
    tf_speed = costs.assumed_tokens_per_s(6.0 * params, "transformer", device)
    tf_hours = tokens / tf_speed / 3600.0
    dc_hours = tf_hours / speed_ratio if speed_ratio > 0 else math.nan
    equal = dc_hours / (m.mean * flops_ratio) if m.mean > 0 else math.nan

    def saved(mult: float | None) -> float | None:     # a bound of 0: DCFormer never gets there
        return None if mult is None or not mult > 0 else (tf_hours - dc_hours / (mult * flops_ratio)) * price
    return Projection(params, tokens, gpu_kind, price, speed_ratio, m.mean, tf_hours,
                      tf_hours * price, dc_hours, dc_hours * price, equal, equal * price,
                      (tf_hours - equal) * price, saved(m.low), saved(m.high), flops_ratio)


# The paper's larger shapes (DCMHA.md, "Paper configurations": layers, D, heads, FFN): a target
# above the presets takes its FLOPs ratio from the shape nearest its size, where every target past
# ~160M read paper-405m's (1.045), DCMHA's share at 1.4B or 6.9B being smaller (1.037, 1.016).
PAPER_SHAPES = {"paper 834M": (24, 1536, 24, 4096), "paper 1.4B": (24, 2048, 32, 5504),
                "paper 2.8B": (32, 2560, 32, 6912), "paper 6.9B": (32, 4096, 32, 11008)}


def target_flops_ratio(params: float) -> tuple[float, str]:
    """DCFormer / Transformer++ training FLOPs per token at a target size, and the shape it is
    read from: the preset or paper shape whose Transformer++ parameter count is nearest in ratio
    (the shape of the model decides DCMHA's share; a target is given by its size only)."""
    from ..config import ModelConfig
    shapes = {name: make_config("transformer", name).model for name in PRESETS}
    shapes.update({name: ModelConfig(arch="transformer", n_layer=layers, n_embd=width, n_head=heads,
                                     ffn_hidden=ffn, seq_len=2048)
                   for name, (layers, width, heads, ffn) in PAPER_SHAPES.items()})
    sizes = {name: counts.count_parameters(model)["total"] for name, model in shapes.items()}
    nearest = min(sizes, key=lambda name: abs(math.log(sizes[name] / params)))
    total = {arch: counts.flops_per_token(replace(shapes[nearest], arch=arch))["total"]
             for arch in ("dcformer", "transformer")}
    return total["dcformer"] / total["transformer"], nearest