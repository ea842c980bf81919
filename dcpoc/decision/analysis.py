"""Pure functions over run records (no Streamlit, no database, no GPU)."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pandas as pd

from .. import costs
from . import tuning
from ..config import ARCH_LABELS, ARCHS
from ..studies.spec import ladder
from .tuning import at_best_lr

RUNS_TABLE_COLUMNS = ["id", "study", "arch", "preset", "status", "seed", "lr", "step", "total_steps",
                      "val_loss", "perplexity", "bits_per_byte", "tokens_per_s", "peak_mem_mb",
                      "wall_s", "cost_usd", "diverged", "corpus"]


def loss_metrics(val_loss_nats: float) -> dict[str, float]:
    """Byte-level loss in nats/byte -> perplexity per byte and bits per byte (NaN stays NaN)."""
    if val_loss_nats is None or not math.isfinite(val_loss_nats):
        return {"perplexity": math.nan, "bits_per_byte": math.nan}
    return {"perplexity": math.exp(val_loss_nats), "bits_per_byte": val_loss_nats / math.log(2)}


def runs_table(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs listing: one row per run with final quality, speed, memory, time and cost."""
    if runs.empty:
        return pd.DataFrame(columns=RUNS_TABLE_COLUMNS)
    loss = pd.to_numeric(runs["final_val_loss"], errors="coerce").astype(float)
    table = pd.DataFrame({
        "id": runs["id"], "study": runs["study"], "arch": runs["arch"], "preset": runs["preset"],
        "status": runs["status"], "seed": runs["seed"],
        "lr": [tuning.run_lr(c) for c in runs["config"]], "step": runs["step"],
        "total_steps": runs["total_steps"], "val_loss": loss,
        "perplexity": np.exp(loss), "bits_per_byte": loss / math.log(2),
        "tokens_per_s": runs["tokens_per_s"],
        "peak_mem_mb": pd.to_numeric(runs["peak_mem_bytes"], errors="coerce") / 2**20,
        "wall_s": runs["wall_s"], "cost_usd": runs["cost_usd"], "diverged": runs["diverged"],
        "corpus": runs["corpus_spec"],
    })
    return table.reset_index(drop=True)


def status_counts(table: pd.DataFrame) -> dict[str, int]:
    """Number of runs per lifecycle status, in lifecycle order (all five, zeros included)."""
    order = ["queued", "running", "succeeded", "failed", "cancelled"]
    counts = table["status"].value_counts() if not table.empty else {}
    return {status: int(counts.get(status, 0)) for status in order}


# ----------------------------------------------------------------------------- live runs
ACTIVE_STATUSES = ("queued", "running")


def run_price_per_hour(device: str | None, config: dict | None,
                       prices: Mapping[str, float] | None = None) -> float:
    """$ per hour of a run: its device kind (or its config's gpu_type) x its process count, as the
    training process prices it."""
    train = (config or {}).get("train", {})
    try:   # a queued run has no device yet (None, or NaN in a frame): priced as the CPU
        return costs.run_price_per_hour(device, train.get("gpu_type", "auto"),
                                        train.get("nproc", 1), prices)
    except costs.PriceError:
        return math.nan


def downsample(frame: pd.DataFrame, by: list[str], max_points: int) -> pd.DataFrame:
    """At most max_points rows per group, evenly spaced, always keeping each group's first and last
    row (a chart of 5,000 steps reads the same from 200 of them)."""
    if frame.empty:
        return frame
    position = frame.groupby(by, sort=False).cumcount()
    size = frame.groupby(by, sort=False)[by[0]].transform("size")
    stride = np.ceil(size / max_points).clip(lower=1)
    keep = (position % stride == 0) | (position == size - 1)
    return frame[keep.to_numpy()]


def live_runs_table(runs: pd.DataFrame, train_loss: pd.DataFrame,
                    prices: Mapping[str, float] | None = None,
                    spark_points: int = 40) -> pd.DataFrame:
    """runs_table plus what a person watching runs wants: progress (0..1), eta_s (seconds left at
    the run's own pace so far), loss_trend (a short train-loss history) and cost_so_far_usd.

    ``train_loss``: metric rows (run_id, step, value, wall_s) of key train_loss for these runs."""
    table = runs_table(runs)
    extra = ["progress", "eta_s", "loss_trend", "cost_so_far_usd"]
    if table.empty:
        return pd.DataFrame(columns=RUNS_TABLE_COLUMNS + extra)
    total = pd.to_numeric(runs["total_steps"], errors="coerce").astype(float).to_numpy()
    step = pd.to_numeric(runs["step"], errors="coerce").astype(float).fillna(0).to_numpy()
    finished = runs["status"].eq("succeeded").to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        progress = np.where(finished, 1.0, np.where(total > 0, np.clip(step / total, 0.0, 1.0), 0.0))
    table["progress"] = np.nan_to_num(progress, nan=0.0)
    latest = (train_loss.sort_values(["run_id", "step"]).groupby("run_id").last()
              if not train_loss.empty else pd.DataFrame(columns=["step", "wall_s"]))
    last_step = runs["id"].map(latest["step"]).astype(float).to_numpy()
    last_wall = runs["id"].map(latest["wall_s"]).astype(float).to_numpy()
    running = runs["status"].eq("running").to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = (total - last_step) * last_wall / last_step
    table["eta_s"] = np.where(running & (last_step > 0), eta, np.nan)
    trend = downsample(train_loss.sort_values(["run_id", "step"]), ["run_id"], spark_points)
    trend = trend.assign(value=trend["value"].astype(float).round(4))
    sparks = trend.groupby("run_id")["value"].agg(list)
    table["loss_trend"] = [sparks.get(run_id, []) for run_id in runs["id"]]
    price = np.array([run_price_per_hour(d, c, prices)
                      for d, c in zip(runs["device"], runs["config"])], dtype=float)
    so_far = np.nan_to_num(last_wall, nan=0.0) / 3600.0 * price
    cost = pd.to_numeric(runs["cost_usd"], errors="coerce").astype(float).to_numpy()
    table["cost_so_far_usd"] = np.where(np.isfinite(cost), cost, so_far)
    return table


# ----------------------------------------------------------------------------- headline
FINISHED_STATUSES = ("succeeded", "failed")   # cancelled runs were stopped by a person: no result
# Runs compare only on the same data (corpus fingerprint) and the same step budget.
HEADLINE_GROUP = ["preset", "corpus_fingerprint", "total_steps"]
HEADLINE_COLUMNS = (HEADLINE_GROUP + ["corpus", "loss_transformer", "loss_dcformer", "loss_diff",
                                      "speed_ratio", "speed_device"]
                    + [f"{count}_{arch}" for count in ("n", "failed", "diverged") for arch in ARCHS])


def study_key(runs: pd.DataFrame) -> pd.Series:
    """Each run's study name; "" for runs trained outside any study (`dcpoc train` without
    --study, the quick start), which form a group of their own rather than join a study."""
    return runs["study"].fillna("").astype(str)


def headline_studies(runs: pd.DataFrame) -> list[str]:
    """The studies with finished (succeeded or failed) runs, the most recently finished first
    ("" stands for the runs outside any study)."""
    if runs.empty:
        return []
    done = runs[runs["status"].isin(FINISHED_STATUSES)]
    finished_at = done["finished_at"].fillna(done["created_at"])
    latest = finished_at.groupby(study_key(done), sort=False).max()
    return list(latest.sort_values(ascending=False, kind="stable", na_position="last").index)


def run_nproc(config: object) -> int:
    """A run's process count from its stored config (1 where it names none)."""
    train = config.get("train") if isinstance(config, Mapping) else None
    return int((train or {}).get("nproc", 1))


def device_label(device: object, config: object) -> str:
    """Where a run's speed was measured: its device kind (a queued run has none: the CPU), and
    its process count when above one (tokens/s is the throughput of all of them together)."""
    kind = costs.device_kind(device if isinstance(device, str) else "cpu")
    nproc = run_nproc(config)
    return kind if nproc == 1 else f"{kind} x{nproc}"


def headline_by_preset(runs: pd.DataFrame, study: str | None = None) -> pd.DataFrame:
    """The headline of one study (None: the most recently finished, see headline_studies), one
    row per (preset, corpus fingerprint, total steps): mean final val loss of each architecture
    over its succeeded runs with a finite loss, their difference (DCFormer minus Transformer++;
    negative favours DCFormer), the tokens/s ratio DCFormer / Transformer++ measured on one
    device (speed_device; see _speed_ratio), and per architecture the runs counted (n_*), failed
    (failed_*) and diverged (diverged_*). A group lacking an architecture shows NaN."""
    if runs.empty:
        return pd.DataFrame(columns=HEADLINE_COLUMNS)
    if study is None:
        studies = headline_studies(runs)
        study = studies[0] if studies else ""
    scoped = runs[study_key(runs).eq(study) & runs["status"].isin(FINISHED_STATUSES)]
    if scoped.empty:
        return pd.DataFrame(columns=HEADLINE_COLUMNS)
    loss = pd.to_numeric(scoped["final_val_loss"], errors="coerce").astype(float)
    diverged = scoped["diverged"].eq(True)   # training stops a diverged run as failed
    scoped = scoped.assign(
        loss=loss, diverged=diverged,
        counted=scoped["status"].eq("succeeded") & np.isfinite(loss) & ~diverged,
        failed=scoped["status"].eq("failed") & ~diverged,
        speed=pd.to_numeric(scoped["tokens_per_s"], errors="coerce").astype(float),
        speed_device=[device_label(d, c) for d, c in zip(scoped["device"], scoped["config"])])
    rows = [_headline_row(dict(zip(HEADLINE_GROUP, key)), group)
            for key, group in scoped.groupby(HEADLINE_GROUP, sort=False, dropna=False)]
    return pd.DataFrame(rows, columns=HEADLINE_COLUMNS)


def _headline_row(key: dict, group: pd.DataFrame) -> dict:
    counted = at_best_lr(group[group["counted"]].assign(tokens=0))   # one budget per group
    loss = counted.groupby("arch")["loss"].mean()
    tf_loss, dc_loss = loss.get("transformer", math.nan), loss.get("dcformer", math.nan)
    speed_device, speed_ratio = _speed_ratio(counted)
    row = {**key, "total_steps": int(key["total_steps"]), "corpus": group["corpus_spec"].iloc[0],
           "loss_transformer": tf_loss, "loss_dcformer": dc_loss, "loss_diff": dc_loss - tf_loss,
           "speed_ratio": speed_ratio, "speed_device": speed_device}
    for arch in ARCHS:
        mine = group["arch"].eq(arch)
        row[f"n_{arch}"] = int(counted["arch"].eq(arch).sum())   # at the rate the loss is from
        row[f"failed_{arch}"] = int((mine & group["failed"]).sum())
        row[f"diverged_{arch}"] = int((mine & group["diverged"]).sum())
    return row


def _speed_ratio(counted: pd.DataFrame) -> tuple[str, float]:
    """DCFormer / Transformer++ mean tokens/s on one device (kind and process count): tokens/s
    from different hardware are never divided. Of the devices that ran both architectures, the
    one with the most runs; ("", NaN) when none did."""
    fast = counted[counted["speed"] > 0]
    if fast.empty:
        return "", math.nan
    runs_per = fast.groupby(["speed_device", "arch"]).size().unstack().reindex(columns=ARCHS)
    both = runs_per[runs_per.notna().all(axis=1)]
    if both.empty:
        return "", math.nan
    device = both.sum(axis=1).sort_values(ascending=False, kind="stable").index[0]
    speed = fast[fast["speed_device"].eq(device)].groupby("arch")["speed"].mean()
    return device, float(speed["dcformer"] / speed["transformer"])


# ----------------------------------------------------------------------------- compare
def with_cost(curves: pd.DataFrame, runs: pd.DataFrame,
              prices: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Metric rows (run_id, wall_s, ...) plus arch and cost_usd: the $ spent by each point."""
    price = {r: run_price_per_hour(d, c, prices)
             for r, d, c in zip(runs["id"], runs["device"], runs["config"])}
    arch = dict(zip(runs["id"], runs["arch"]))
    out = curves.copy()
    out["arch"] = out["run_id"].map(arch)
    out["cost_usd"] = out["wall_s"].astype(float) / 3600.0 * out["run_id"].map(price).astype(float)
    return out


def pareto_front(frame: pd.DataFrame, x: str, y: str) -> pd.Series:
    """True for the points no other point beats on both x and y (lower is better for both); points
    with a NaN coordinate are never on the front."""
    ok = frame[[x, y]].notna().all(axis=1) & np.isfinite(frame[[x, y]].astype(float)).all(axis=1)
    front = pd.Series(False, index=frame.index)
    best_y = math.inf
    for index, row in frame[ok].sort_values([x, y], kind="stable").iterrows():
        if row[y] < best_y:
            front[index] = True
            best_y = row[y]
    return front


def run_summary(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per finished run for the Compare page: perplexity, cost, speed, memory, and whether
    the run is on the perplexity-versus-cost Pareto front."""
    table = runs_table(runs)
    table = table[np.isfinite(table["perplexity"].astype(float))].reset_index(drop=True)
    table["cost_usd"] = pd.to_numeric(table["cost_usd"], errors="coerce").astype(float)
    table["pareto"] = pareto_front(table, "cost_usd", "perplexity")
    return table


def flatten(config: Mapping, prefix: str = "") -> dict[str, object]:
    """{'model': {'n_layer': 2}} -> {'model.n_layer': 2}."""
    flat: dict[str, object] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def config_differences(configs: Mapping[str, Mapping]) -> pd.DataFrame:
    """Config fields (rows, dotted names) whose values are not the same in every run (columns, by
    run id). A field missing from a run counts as different and shows as None."""
    flat = {run_id: flatten(config) for run_id, config in configs.items()}
    fields = sorted(set().union(*flat.values())) if flat else []
    rows = {}
    for name in fields:
        values = [flat[run_id].get(name) for run_id in flat]
        if len({json.dumps(v, sort_keys=True, default=str) for v in values}) > 1 or \
                any(name not in f for f in flat.values()):
            rows[name] = [None if v is None else str(v) for v in values]
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(flat)).rename_axis("field")


def filter_runs(runs: pd.DataFrame, study: str | None = None, statuses: list[str] | None = None,
                archs: list[str] | None = None) -> pd.DataFrame:
    """The runs of the study (None: all), among the statuses and archs (empty or None: all)."""
    keep = pd.Series(True, index=runs.index)
    if study is not None:
        keep &= runs["study"].eq(study)
    if statuses:
        keep &= runs["status"].isin(statuses)
    if archs:
        keep &= runs["arch"].isin(archs)
    return runs[keep]


def run_environment(run: Mapping) -> list[tuple[str, str]]:
    """What a run ran on, as (field, text) rows: code commit, device, host and process, times,
    corpus fingerprint, size, then one row per library version (field 'version:NAME')."""
    def text(value: object) -> str:
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            return "—"
        if isinstance(value, float):
            return f"{value:.4g}"
        if hasattr(value, "isoformat"):
            return value.strftime("%Y-%m-%d %H:%M:%S UTC")
        return str(value)
    rows = [(name, text(run.get(name))) for name in
            ("git_commit", "device", "host", "pid", "created_at", "started_at", "finished_at",
             "heartbeat_at", "corpus_spec", "corpus_fingerprint", "n_params", "flops_per_token",
             "mfu")]
    rows += [(f"version:{lib}", str(v)) for lib, v in sorted((run.get("versions") or {}).items())]
    return rows


# ============================================================================= the decision
# Everything below turns one study's runs into the go / no-go answer. Texts are i18n keys with
# their values (Reason), so that the same result reads in English and Japanese.

Reason = tuple[str, dict]

# Two-sided 95% quantiles of Student's t (0.975 quantile) for 1..30 degrees of freedom.
T_975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
         2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
         2.060, 2.056, 2.052, 2.048, 2.045, 2.042)
Z_975 = 1.959964


def t_quantile_975(df: int) -> float:
    """Student's t 0.975 quantile: the table up to 30 degrees of freedom, beyond it the
    Cornish-Fisher expansion z + (z^3 + z) / (4 df) (off by under 0.002 at df 31)."""
    if df < 1:
        raise ValueError("a t interval needs at least one degree of freedom")
    if df <= len(T_975):
        return T_975[df - 1]
    return Z_975 + (Z_975**3 + Z_975) / (4 * df)


@dataclass(frozen=True)
class Interval:
    """A mean with its 95% interval; low / high are None when no interval exists (reason says
    why, as an i18n Reason)."""
    mean: float
    low: float | None
    high: float | None
    n: int
    method: str = ""            # "paired-t", "bootstrap", "" (none)
    reason: Reason | None = None

    @property
    def exists(self) -> bool:
        return self.low is not None and self.high is not None


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


def counted_runs(runs: pd.DataFrame, study: str | None = None, *, best_lr: bool = True
                 ) -> pd.DataFrame:
    """Succeeded, non-diverged runs with a finite final val loss (of one study when given), with
    numeric columns loss, tokens, fpt (FLOPs/token), compute (FLOPs), speed (tokens/s). Where a
    preset, token budget and architecture ran several learning rates, only the runs at the best
    one count (tuning.at_best_lr: each architecture at its own best rate), unless best_lr=False."""
    if runs.empty:
        return runs.assign(loss=[], tokens=[], fpt=[], compute=[], speed=[])
    scoped = runs if study is None else runs[study_key(runs).eq(study)]
    num_ = lambda c: pd.to_numeric(scoped[c], errors="coerce").astype(float)  # noqa: E731
    scoped = scoped.assign(loss=num_("final_val_loss"), tokens=num_("tokens_seen"),
                           fpt=num_("flops_per_token"), speed=num_("tokens_per_s"))
    scoped = scoped.assign(compute=scoped["fpt"] * scoped["tokens"])
    keep = (scoped["status"].eq("succeeded") & np.isfinite(scoped["loss"])
            & ~scoped["diverged"].eq(True))
    return at_best_lr(scoped[keep]) if best_lr else scoped[keep]


def main_corpus(counted: pd.DataFrame) -> tuple[str, int]:
    """The corpus fingerprint with the most counted runs, and how many fingerprints there are.
    Runs are only ever compared on one fingerprint (the same data, byte for byte)."""
    if counted.empty:
        return "", 0
    sizes = counted["corpus_fingerprint"].fillna("").value_counts(sort=True)
    return str(sizes.index[0]), int(len(sizes))


COMPARISON_COLUMNS = ["preset", "params", "basis", "n_pairs", "seeds", "loss_diff", "loss_low", "loss_high",
                      "ppl_diff", "ppl_low", "ppl_high", "loss_transformer", "loss_dcformer"]


def _comparison_row(preset: str, basis: str, pairs: pd.DataFrame, group: pd.DataFrame) -> dict:
    loss = paired_t_interval(pairs["dc"] - pairs["tf"])
    ppl = paired_t_interval(np.exp(pairs["dc"]) - np.exp(pairs["tf"]))
    params = pd.to_numeric(group["n_params"], errors="coerce").astype(float).mean()
    return {"preset": preset, "params": params, "basis": basis, "n_pairs": loss.n,
            "seeds": ",".join(str(int(s)) for s in sorted(pairs.index)),
            "loss_diff": loss.mean, "loss_low": loss.low, "loss_high": loss.high,
            "ppl_diff": ppl.mean, "ppl_low": ppl.low, "ppl_high": ppl.high,
            "loss_transformer": float(pairs["tf"].mean()) if len(pairs) else math.nan,
            "loss_dcformer": float(pairs["dc"].mean()) if len(pairs) else math.nan}


def _seed_pairs(group: pd.DataFrame, value: str = "loss") -> pd.DataFrame:
    """One row per seed run by both architectures: columns tf, dc (mean over repeats of a seed)."""
    by = group.groupby(["seed", "arch"])[value].mean().unstack()
    if not set(ARCHS) <= set(by.columns):
        return pd.DataFrame(columns=["tf", "dc"])
    return by[["transformer", "dcformer"]].dropna().set_axis(["tf", "dc"], axis=1)


def compare_equal_tokens(runs: pd.DataFrame, study: str | None = None) -> pd.DataFrame:
    """DCFormer minus Transformer++ at equal training tokens, per preset: runs of the main corpus
    (see main_corpus) paired by seed within the same (preset, tokens seen); mean difference of
    final val loss and of perplexity with a 95% paired t interval over seeds (None with one seed).
    Negative favours DCFormer."""
    counted = counted_runs(runs, study)
    corpus, _ = main_corpus(counted)
    counted = counted[counted["corpus_fingerprint"].fillna("").eq(corpus)]
    rows = [_comparison_row(preset, "tokens", _seed_pairs(group), group)
            for (preset, _tokens), group in counted.groupby(["preset", "tokens"], sort=False)]
    rows = [r for r in rows if r["n_pairs"] > 0]
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS).sort_values("params", kind="stable",
                                                                    ignore_index=True)


def loss_at_cost(curve: pd.DataFrame, cost_usd: float) -> float:
    """A run's val loss at a spend (linear between evaluations; NaN beyond its last one).
    ``curve``: rows with cost_usd and value, of one run."""
    curve = curve.sort_values("cost_usd")
    x, y = curve["cost_usd"].to_numpy(float), curve["value"].to_numpy(float)
    if len(x) == 0 or cost_usd > x[-1] * (1 + 1e-9) or cost_usd < x[0]:
        return math.nan
    return float(np.interp(cost_usd, x, y))


def compare_equal_cost(runs: pd.DataFrame, val_curves: pd.DataFrame, study: str | None = None,
                       prices: Mapping[str, float] | None = None) -> pd.DataFrame:
    """DCFormer minus Transformer++ at equal $, per preset: for each seed both runs are read at the
    spend of the cheaper of the two (its val-loss curve interpolated in $, each run priced by its own
    device), then the paired t interval over seeds as in compare_equal_tokens.
    ``val_curves``: metric rows (run_id, step, value, wall_s) of key val_loss."""
    counted = counted_runs(runs, study)
    corpus, _ = main_corpus(counted)
    counted = counted[counted["corpus_fingerprint"].fillna("").eq(corpus)]
    if counted.empty or val_curves.empty:
        return pd.DataFrame(columns=COMPARISON_COLUMNS)
    curves = with_cost(val_curves[val_curves["run_id"].isin(counted["id"])], counted, prices)
    curves = curves[np.isfinite(curves["value"].astype(float))]
    spent = curves.groupby("run_id")["cost_usd"].max()
    rows = []
    for (preset, _tokens), group in counted.groupby(["preset", "tokens"], sort=False):
        pairs = {}
        for seed, seed_runs in group.groupby("seed"):
            ids = {arch: seed_runs.loc[seed_runs["arch"].eq(arch), "id"].tolist() for arch in ARCHS}
            if not ids["transformer"] or not ids["dcformer"]:
                continue
            tf_id, dc_id = ids["transformer"][0], ids["dcformer"][0]
            budget = min(spent.get(tf_id, math.nan), spent.get(dc_id, math.nan))
            if not budget > 0:
                continue
            pairs[seed] = {name: loss_at_cost(curves[curves["run_id"].eq(run_id)], budget)
                           for name, run_id in (("tf", tf_id), ("dc", dc_id))}
        frame = pd.DataFrame.from_dict(pairs, orient="index", columns=["tf", "dc"]).dropna()
        if len(frame):
            rows.append(_comparison_row(preset, "cost", frame, group))
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS).sort_values("params", kind="stable",
                                                                    ignore_index=True)


# ----------------------------------------------------------------------------- compute fit
@dataclass(frozen=True)
class ComputeFit:
    """Transformer++ val loss against training compute C (FLOPs).
    kind "power": L = E + A * C^-alpha; kind "loglinear": L = a + b * ln C (a=E, b=A, alpha=NaN)."""
    kind: str
    E: float
    A: float
    alpha: float
    n_points: int

    def loss(self, compute: float | np.ndarray) -> np.ndarray:
        c = np.asarray(compute, dtype=float)
        if self.kind == "power":
            return self.E + self.A * c ** (-self.alpha)
        return self.E + self.A * np.log(c)

    def compute_for(self, loss: float) -> float:
        """The compute at which this curve reaches loss (inf when it never does)."""
        if self.kind == "power":
            if loss <= self.E or self.A <= 0:
                return math.inf
            return float((self.A / (loss - self.E)) ** (1.0 / self.alpha))
        if self.A >= 0:
            return math.inf
        return float(math.exp(min((loss - self.E) / self.A, 700.0)))


POWER_LAW_MIN_POINTS = 4
_ALPHAS = np.geomspace(1e-3, 3.0, 400)


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


def fit_compute_curve(compute: np.ndarray | list[float], loss: np.ndarray | list[float]
                      ) -> ComputeFit | None:
    """Fit Transformer++'s loss against compute: the power law with an irreducible term when there
    are >= 4 points on >= 3 distinct compute values (alpha by a log-spaced scan then golden-section
    refinement, E and A by least squares at each alpha, A > 0 required), otherwise the log-linear
    L = a + b ln C by least squares. None with fewer than 2 distinct compute values."""
    c = np.asarray(compute, dtype=float)
    y = np.asarray(loss, dtype=float)
    ok = np.isfinite(c) & np.isfinite(y) & (c > 0)
    c, y = c[ok], y[ok]
    if len(np.unique(c)) < 2:
        return None
    c0 = float(np.exp(np.mean(np.log(c))))     # scale: keeps C^-alpha near 1
    x = c / c0
    if len(c) >= POWER_LAW_MIN_POINTS and len(np.unique(c)) >= 3:
        sse, _, A = _power_sse(_ALPHAS, x, y)
        sse = np.where(A > 0, sse, np.inf)
        if np.isfinite(sse).any():
            best = int(np.argmin(sse))
            lo, hi = _ALPHAS[max(best - 1, 0)], _ALPHAS[min(best + 1, len(_ALPHAS) - 1)]
            golden = (math.sqrt(5) - 1) / 2
            for _ in range(60):
                a1, a2 = hi - golden * (hi - lo), lo + golden * (hi - lo)
                pair = _power_sse(np.array([a1, a2]), x, y)[0]
                if pair[0] < pair[1]:
                    hi = a2
                else:
                    lo = a1
            alpha = (lo + hi) / 2
            _, E, A = (v[0] for v in _power_sse(np.array([alpha]), x, y))
            if A > 0:
                return ComputeFit("power", float(E), float(A * c0**alpha), float(alpha), len(c))
    b, a = np.polyfit(np.log(c), y, 1)
    return ComputeFit("loglinear", float(a), float(b), math.nan, len(c))


@dataclass(frozen=True)
class MultiplierResult:
    """The compute multiplier (Transformer++ compute needed to reach a DCFormer run's loss, divided
    by that run's compute; geometric mean over DCFormer runs) and the net benefit (multiplier x
    DCFormer / Transformer++ tokens/s on one device), each with a bootstrap 95% interval."""
    fit: ComputeFit | None
    per_run: pd.DataFrame            # id, preset, seed, loss, compute, tf_compute, multiplier, extrapolated
    multiplier: Interval
    speed_ratio: float
    speed_device: str
    net_benefit: Interval
    corpus_fingerprint: str
    n_sizes: int                     # distinct Transformer++ compute values (the ladder)
    reason: Reason | None = None


BOOTSTRAP_SAMPLES = 300
BOOTSTRAP_SEED = 20240601


def _log_multipliers(fit: ComputeFit, dc: pd.DataFrame) -> np.ndarray:
    tf_compute = np.array([fit.compute_for(loss) for loss in dc["loss"]])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(tf_compute / dc["compute"].to_numpy(float))


def _device_speed_ratio(frame: pd.DataFrame, device: str) -> float:
    on = frame[frame["speed_device"].eq(device) & (frame["speed"] > 0)]
    speed = on.groupby("arch")["speed"].mean()
    if not set(ARCHS) <= set(speed.index):
        return math.nan
    return float(speed["dcformer"] / speed["transformer"])


def compute_multiplier(runs: pd.DataFrame, study: str | None = None,
                       n_boot: int = BOOTSTRAP_SAMPLES, seed: int = BOOTSTRAP_SEED
                       ) -> MultiplierResult:
    """Fit Transformer++ loss vs compute (fit_compute_curve) over the study's runs on its main
    corpus, invert it at each DCFormer run's loss, and bootstrap: resample the runs of each
    architecture with replacement (fixed seed), refit, and take the 2.5 / 97.5 percentiles of the
    geometric-mean multiplier and of the net benefit (whose speed ratio is recomputed from the same
    resample, so throughput noise is in its interval)."""
    counted = counted_runs(runs, study)
    corpus, _ = main_corpus(counted)
    counted = counted[counted["corpus_fingerprint"].fillna("").eq(corpus)]
    counted = counted.assign(speed_device=[device_label(d, c)
                                           for d, c in zip(counted["device"], counted["config"])])
    tf = counted[counted["arch"].eq("transformer") & (counted["compute"] > 0)]
    dc = counted[counted["arch"].eq("dcformer") & (counted["compute"] > 0)]
    device, ratio = _speed_ratio(counted) if not counted.empty else ("", math.nan)
    n_sizes = int(tf["compute"].nunique())
    empty = pd.DataFrame(columns=["id", "preset", "seed", "loss", "compute", "tf_compute",
                                  "multiplier", "extrapolated"])
    none = Interval(math.nan, None, None, 0)

    def missing(reason: Reason, fit: ComputeFit | None = None) -> MultiplierResult:
        return MultiplierResult(fit, empty, replace_reason(none, reason), ratio, device,
                                replace_reason(none, reason), corpus, n_sizes, reason)

    if dc.empty or tf.empty:
        return missing(("why.no_arch", {}))
    fit = fit_compute_curve(tf["compute"], tf["loss"])
    if fit is None:
        return missing(("why.one_size", {"n": n_sizes}))
    logm = _log_multipliers(fit, dc)
    per_run = pd.DataFrame({
        "id": dc["id"].to_numpy(), "preset": dc["preset"].to_numpy(), "seed": dc["seed"].to_numpy(),
        "loss": dc["loss"].to_numpy(), "compute": dc["compute"].to_numpy(),
        "tf_compute": np.exp(logm) * dc["compute"].to_numpy(float), "multiplier": np.exp(logm),
        "extrapolated": (dc["loss"] < tf["loss"].min()).to_numpy()})
    if not np.isfinite(logm).all():
        return missing(("why.beyond_fit", {}), fit)
    m_mean = float(np.exp(logm.mean()))
    rng = np.random.default_rng(seed)
    boot_m, boot_net = [], []
    for _ in range(n_boot):
        tf_b = tf.iloc[rng.integers(0, len(tf), len(tf))]
        dc_b = dc.iloc[rng.integers(0, len(dc), len(dc))]
        fit_b = fit_compute_curve(tf_b["compute"], tf_b["loss"])
        if fit_b is None:
            continue
        logm_b = _log_multipliers(fit_b, dc_b)
        if not np.isfinite(logm_b).all():
            continue
        m_b = float(np.exp(logm_b.mean()))
        boot_m.append(m_b)
        boot_net.append(m_b * _device_speed_ratio(pd.concat([tf_b, dc_b]), device))
    m_int = _percentile_interval(m_mean, boot_m, n_boot, len(dc))
    net_int = _percentile_interval(m_mean * ratio, [v for v in boot_net if math.isfinite(v)],
                                   n_boot, len(dc))
    if not math.isfinite(ratio):
        net_int = replace_reason(Interval(math.nan, None, None, len(dc)), ("why.no_speed", {}))
    return MultiplierResult(fit, per_run, m_int, ratio, device, net_int, corpus, n_sizes)


def replace_reason(interval: Interval, reason: Reason) -> Interval:
    return Interval(interval.mean, interval.low, interval.high, interval.n, interval.method, reason)


def _percentile_interval(mean: float, samples: list[float], n_boot: int, n: int) -> Interval:
    """Bootstrap percentile interval; none when under half of the resamples could be fitted (the
    ladder is too short for a resample to keep two sizes)."""
    if len(samples) < max(20, n_boot // 2):
        return Interval(mean, None, None, n, "", ("why.bootstrap_degenerate", {}))
    low, high = np.percentile(samples, [2.5, 97.5])
    return Interval(mean, float(low), float(high), n, "bootstrap")


# ----------------------------------------------------------------------------- projection
@dataclass(frozen=True)
class Projection:
    """Training cost at the user's target for both architectures. Transformer++ throughput is
    costs.assumed_tokens_per_s at 6 x params FLOPs/token on the GPU kind; DCFormer's is that x the
    measured speed ratio. Equal quality: DCFormer trains on tokens / multiplier."""
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


def project(params: float, tokens: float, gpu_kind: str, price_per_hour: float | None,
            speed_ratio: float, multiplier: Interval | float,
            prices: Mapping[str, float] | None = None) -> Projection:
    """GPU-hours and $ of training a params-sized model on tokens with both architectures, and the
    $ DCFormer saves (negative: loses) for the quality Transformer++ gets from those tokens."""
    if params <= 0 or tokens <= 0:
        raise ValueError("target parameters and tokens must be positive")
    price = price_per_hour if price_per_hour is not None else costs.price_per_hour(gpu_kind, prices)
    m = multiplier if isinstance(multiplier, Interval) else Interval(float(multiplier), None, None, 1)
    device = "cpu" if gpu_kind == "cpu" else gpu_kind
    tf_speed = costs.assumed_tokens_per_s(6.0 * params, "transformer", device)
    tf_hours = tokens / tf_speed / 3600.0
    dc_hours = tf_hours / speed_ratio if speed_ratio > 0 else math.nan
    equal = dc_hours / m.mean if m.mean > 0 else math.nan

    def saved(mult: float | None) -> float | None:
        return None if mult is None else (tf_hours - dc_hours / mult) * price
    return Projection(params, tokens, gpu_kind, price, speed_ratio, m.mean, tf_hours,
                      tf_hours * price, dc_hours, dc_hours * price, equal, equal * price,
                      (tf_hours - equal) * price, saved(m.low), saved(m.high))


# ----------------------------------------------------------------------------- verdict
@dataclass(frozen=True)
class Thresholds:
    """The go / no-go rule's knobs (defaults shown on the Decision page).
    GO: net benefit's 95% lower bound > go_net_low AND the equal-token loss difference's interval
    lies entirely below 0 at the largest size. NO-GO: net benefit's upper bound < nogo_net_high, or
    the loss interval lies entirely above 0 (DCFormer worse). Otherwise CONDITIONAL. Fewer than
    min_seeds paired seeds or min_sizes model sizes: insufficient evidence."""
    go_net_low: float = 1.1
    nogo_net_high: float = 1.0
    min_seeds: int = 2
    min_sizes: int = 2


@dataclass
class Decision:
    verdict: str                          # "GO" | "CONDITIONAL" | "NO-GO" | "INSUFFICIENT"
    reasons: list[Reason] = field(default_factory=list)
    flips: list[Reason] = field(default_factory=list)
    risks: list[Reason] = field(default_factory=list)      # i18n keys risk.* with mitigation keys
    needed: list[Reason] = field(default_factory=list)     # "run X more" when INSUFFICIENT
    equal_tokens: pd.DataFrame | None = None
    equal_cost: pd.DataFrame | None = None
    multiplier: MultiplierResult | None = None
    n_failed: int = 0
    corpora: int = 0
    lr_sweep: pd.DataFrame | None = None   # tuning.lr_table rows of the swept cells (main corpus)
    lr_sensitivity: dict | None = None     # tuning.sensitivity of the study, None without a sweep


RISKS = ("extrapolation", "seed_variance", "kernel", "inference", "operations")


def decide(runs: pd.DataFrame, study: str | None, thresholds: Thresholds = Thresholds(),
           val_curves: pd.DataFrame | None = None,
           prices: Mapping[str, float] | None = None) -> Decision:
    """The verdict on one study (see Thresholds for the rule). Insufficient evidence, with what to
    run, when: an architecture has no counted run, runs used different corpora, runs failed or
    diverged, fewer than min_sizes sizes, fewer than min_seeds paired seeds, or no fit / speed."""
    scoped = runs[study_key(runs).eq(study or "")] if not runs.empty else runs
    counted = counted_runs(scoped)
    _, corpora = main_corpus(counted)
    finished = scoped[scoped["status"].isin(FINISHED_STATUSES)] if not scoped.empty else scoped
    swept_away = tuning.sweep_casualties(finished, counted)   # a sweep's diverged high rates
    finished = finished[~finished["id"].isin(swept_away)] if not finished.empty else finished
    n_failed = int((finished["status"].eq("failed") | finished["diverged"].eq(True)).sum()) \
        if not finished.empty else 0
    tokens = compare_equal_tokens(scoped)
    cost = compare_equal_cost(scoped, val_curves, prices=prices) \
        if val_curves is not None else pd.DataFrame(columns=COMPARISON_COLUMNS)
    mult = compute_multiplier(scoped)
    decision = Decision("INSUFFICIENT", equal_tokens=tokens, equal_cost=cost, multiplier=mult,
                        n_failed=n_failed, corpora=corpora)
    decision.risks = [(f"risk.{name}", {}) for name in RISKS]
    used = _add_tuning(decision, scoped, counted)
    used = [used] if used else []
    needed = decision.needed
    for arch in ARCHS:
        if counted.empty or not counted["arch"].eq(arch).any():
            needed.append(("need.arch", {"arch": ARCH_LABELS[arch]}))
    if corpora > 1:
        needed.append(("need.corpus", {"n": corpora}))
    if n_failed:
        needed.append(("need.failed", {"n": n_failed}))
    if mult.n_sizes < thresholds.min_sizes:
        needed.append(("need.sizes", {"n": thresholds.min_sizes - mult.n_sizes,
                                      "have": mult.n_sizes}))
    pairs = int(tokens["n_pairs"].min()) if not tokens.empty else 0
    if pairs < thresholds.min_seeds:
        needed.append(("need.seeds", {"n": thresholds.min_seeds - pairs, "have": pairs}))
    if not math.isfinite(mult.speed_ratio):
        needed.append(("need.speed", {}))
    if not needed and not (mult.multiplier.exists and mult.net_benefit.exists):
        needed.append(mult.net_benefit.reason or mult.multiplier.reason or ("why.no_pairs", {}))
    if needed:
        decision.reasons = [("reason.insufficient", {}), *used]
        return decision

    largest = tokens.iloc[-1]          # sorted by parameter count: the largest size measured
    net, m = mult.net_benefit, mult.multiplier
    values = {"net": net.mean, "net_low": net.low, "net_high": net.high, "m": m.mean,
              "m_low": m.low, "m_high": m.high, "ratio": mult.speed_ratio,
              "go": thresholds.go_net_low, "nogo": thresholds.nogo_net_high,
              "preset": largest["preset"], "diff": largest["loss_diff"],
              "diff_low": largest["loss_low"], "diff_high": largest["loss_high"]}
    loss_better = largest["loss_high"] < 0
    loss_worse = largest["loss_low"] > 0
    decision.reasons = [("reason.net", values), ("reason.loss", values)]
    if net.high < thresholds.nogo_net_high or loss_worse:
        decision.verdict = "NO-GO"
        decision.flips = [("flip.nogo", {**values,
                                         "ratio_needed": thresholds.nogo_net_high / m.high})]
    elif net.low > thresholds.go_net_low and loss_better:
        decision.verdict = "GO"
        decision.flips = [("flip.go", {**values, "ratio_needed": thresholds.go_net_low / m.low})]
    else:
        decision.verdict = "CONDITIONAL"
        decision.flips = [("flip.conditional", {**values,
                                                "ratio_needed": thresholds.go_net_low / m.low})]
    if any(mult.per_run["extrapolated"]):
        decision.reasons.append(("reason.extrapolated", {}))
    decision.reasons += used
    return decision


def lr_label(lr: float) -> str:
    """A learning rate as people write it: 0.001 -> '1e-3', 0.0003 -> '3e-4'."""
    mantissa, exponent = f"{lr:.1e}".split("e")
    return f"{float(mantissa):g}e{int(exponent)}"


def _add_tuning(decision: Decision, scoped: pd.DataFrame, counted: pd.DataFrame) -> Reason | None:
    """The learning-rate facts of a Decision: the swept cells (lr_sweep), their sensitivity, the
    risk that goes with them (risk.tuning, + risk.tuning_flip when the sign of the difference
    depends on the rate, + risk.lr_edge when a best rate is the edge of its grid; risk.untuned when
    nothing was swept); returns the reason naming the rates the comparison used (None without a
    sweep)."""
    every = counted_runs(scoped, best_lr=False) if not scoped.empty else scoped
    corpus, _ = main_corpus(every)
    if not every.empty:
        every = every[every["corpus_fingerprint"].fillna("").eq(corpus)]
        diverged = tuning.diverged_rows(scoped)
        diverged = diverged[diverged["corpus_fingerprint"].fillna("").eq(corpus)]
        swept = pd.concat([every, diverged]) if len(diverged) else every
    else:
        swept = every
    decision.lr_sweep = tuning.swept_cells(tuning.lr_table(swept))
    found = decision.lr_sensitivity = tuning.sensitivity(swept)
    if found is None:
        decision.risks.insert(0, ("risk.untuned", {}))
        return None
    values = {"preset": found["preset"], "tf_lr": lr_label(found["best"]["transformer"]),
              "dc_lr": lr_label(found["best"]["dcformer"]),
              "tf_spread": found["spread"]["transformer"], "dc_spread": found["spread"]["dcformer"]}
    decision.risks.insert(0, ("risk.tuning", values))
    if found["flips"]:
        diffs = "; ".join(f"{lr_label(lr)}: {d:+.3f}" for lr, d in sorted(found["diff_by_lr"].items()))
        decision.risks.insert(1, ("risk.tuning_flip", {"diffs": diffs}))
    if found["edge"]:
        names = ", ".join(ARCH_LABELS[a] for a in found["edge"])
        decision.risks.insert(1, ("risk.lr_edge", {"archs": names}))
    if found["diverged"]:
        where = "; ".join(f"{ARCH_LABELS[a]} {', '.join(lr_label(x) for x in lrs)}"
                          for a, lrs in found["diverged"].items())
        decision.risks.insert(1, ("risk.lr_diverged", {"where": where, "preset": found["preset"]}))
    used = counted[counted["id"].isin(every["id"])]
    return ("reason.best_lr", {"rates": _rates_used(used), "n": len(used),
                               "excluded": len(every) - len(used)})


def _rates_used(used: pd.DataFrame) -> str:
    """'cpu-xs: Transformer++ 3e-3, DCFormer 1e-3; cpu-s: ...', smallest size first."""
    frame = tuning.with_lr(used)
    sizes = []
    for preset in ladder(list(frame["preset"])):
        here = frame[frame["preset"].eq(preset)]
        rates = {a: "/".join(lr_label(x) for x in sorted(set(here.loc[here["arch"].eq(a), "lr"])))
                 for a in ARCHS}
        sizes.append(f"{preset}: " + ", ".join(f"{ARCH_LABELS[a]} {r}" for a, r in rates.items() if r))
    return "; ".join(sizes)
