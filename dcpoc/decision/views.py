"""The tables the pages show, built from run records: the runs listing (live: progress, ETA, loss
trend, $ so far), counts by status, the headline per preset, the Compare page's per-run summary
with its Pareto front, config differences, filters and a run's environment."""
from __future__ import annotations

import json
import math
from typing import Collection, Mapping

import numpy as np
import pandas as pd

from ..config import ARCHS
from ..runs.status import FINISHED, STATUSES, Status
from . import tuning
from .attribution import decisive_pair, pair_frame
from .compare import seed_pairs, speed_ratio
from .confirmation import decisive_runs
from .facts import device_label, run_prices, study_key, with_variant

RUNS_TABLE_COLUMNS = ["id", "study", "arch", "variant", "preset", "status", "seed", "lr", "step",
                      "total_steps",
                      "val_loss", "perplexity", "bits_per_byte", "tokens_per_s", "peak_mem_mb",
                      "wall_s", "cost_usd", "diverged", "corpus"]
LIVE_COLUMNS = ["progress", "eta_s", "loss_trend", "cost_so_far_usd"]
# Runs compare only on the same data (corpus fingerprint) and the same step budget.
HEADLINE_GROUP = ["preset", "corpus_fingerprint", "total_steps"]
HEADLINE_COLUMNS = (HEADLINE_GROUP + ["corpus", "baseline", "treatment", "loss_transformer",
                                      "loss_dcformer", "loss_diff", "speed_ratio", "speed_device"]
                    + [f"{count}_{arch}" for count in ("n", "failed", "diverged") for arch in ARCHS])


# ----------------------------------------------------------------------------- runs listing
def runs_table(runs: pd.DataFrame, prices: Mapping[str, float] | None = None) -> pd.DataFrame:
    """The runs listing: one row per run with final quality, speed, memory, time and cost. prices:
    the price table to cost each run's device-hours at (the one every other number uses), else the
    cost stored when the run ended (the table of that day)."""
    if runs.empty:
        return pd.DataFrame(columns=RUNS_TABLE_COLUMNS)
    loss = pd.to_numeric(runs["final_val_loss"], errors="coerce").astype(float)
    table = pd.DataFrame({
        "id": runs["id"], "study": runs["study"], "arch": runs["arch"],
        "variant": with_variant(runs)["variant"], "preset": runs["preset"],
        "status": runs["status"], "seed": runs["seed"],
        "lr": [tuning.run_lr(c) for c in runs["config"]], "step": runs["step"],
        "total_steps": runs["total_steps"], "val_loss": loss,
        "perplexity": np.exp(loss), "bits_per_byte": loss / math.log(2),
        "tokens_per_s": runs["tokens_per_s"],
        "peak_mem_mb": pd.to_numeric(runs["peak_mem_bytes"], errors="coerce") / 2**20,
        "wall_s": runs["wall_s"], "cost_usd": _cost(runs, prices), "diverged": runs["diverged"],
        "corpus": runs["corpus_spec"],
    })
    return table.reset_index(drop=True)


def _cost(runs: pd.DataFrame, prices: Mapping[str, float] | None) -> pd.Series:
    """Each finished run's $ at prices; the stored cost_usd without prices, and for a run that has
    none yet (running: live_runs_table costs its progress so far)."""
    stored = pd.to_numeric(runs["cost_usd"], errors="coerce").astype(float)
    if prices is None:
        return stored
    wall = pd.to_numeric(runs["wall_s"], errors="coerce").astype(float)
    price = run_prices(runs, prices)
    return (wall / 3600.0 * price).where(wall.notna() & stored.notna() & price.notna(), stored)


def status_counts(table: pd.DataFrame) -> dict[str, int]:
    """Number of runs per lifecycle status, in lifecycle order (all five, zeros included)."""
    counts = table["status"].value_counts() if not table.empty else {}
    return {status: int(counts.get(status, 0)) for status in STATUSES}


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
    table = runs_table(runs, prices)
    if table.empty:
        return pd.DataFrame(columns=RUNS_TABLE_COLUMNS + LIVE_COLUMNS)
    total = pd.to_numeric(runs["total_steps"], errors="coerce").astype(float).to_numpy()
    step = pd.to_numeric(runs["step"], errors="coerce").astype(float).fillna(0).to_numpy()
    finished = runs["status"].eq(Status.SUCCEEDED.value).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        progress = np.where(finished, 1.0, np.where(total > 0, np.clip(step / total, 0.0, 1.0), 0.0))
    table["progress"] = np.nan_to_num(progress, nan=0.0)
    latest = (train_loss.sort_values(["run_id", "step"]).groupby("run_id").last()
              if not train_loss.empty else pd.DataFrame(columns=["step", "wall_s"]))
    last_step = runs["id"].map(latest["step"]).astype(float).to_numpy()
    last_wall = runs["id"].map(latest["wall_s"]).astype(float).to_numpy()
    running = runs["status"].eq(Status.RUNNING.value).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = (total - last_step) * last_wall / last_step
    table["eta_s"] = np.where(running & (last_step > 0), eta, np.nan)
    trend = downsample(train_loss.sort_values(["run_id", "step"]), ["run_id"], spark_points)
    trend = trend.assign(value=trend["value"].astype(float).round(4))
    sparks = trend.groupby("run_id")["value"].agg(list)
    table["loss_trend"] = [sparks.get(run_id, []) for run_id in runs["id"]]
    price = run_prices(runs, prices).to_numpy()
    so_far = np.nan_to_num(last_wall, nan=0.0) / 3600.0 * price
    cost = table["cost_usd"].astype(float).to_numpy()
    table["cost_so_far_usd"] = np.where(np.isfinite(cost), cost, so_far)
    return table


# ----------------------------------------------------------------------------- headline
def headline_studies(runs: pd.DataFrame) -> list[str]:
    """The studies with finished (succeeded or failed) runs, the most recently finished first
    ("" stands for the runs outside any study)."""
    if runs.empty:
        return []
    done = runs[runs["status"].isin(FINISHED)]
    finished_at = done["finished_at"].fillna(done["created_at"])
    latest = finished_at.groupby(study_key(done), sort=False).max()
    return list(latest.sort_values(ascending=False, kind="stable", na_position="last").index)


def headline_by_preset(runs: pd.DataFrame, study: str | None = None,
                       confirm_seeds: Collection[int] = ()) -> pd.DataFrame:
    """The headline of one study (None: the most recently finished, see headline_studies), one
    row per (preset, corpus fingerprint, total steps), over the runs the verdict compares (a
    ladder's decisive pair, relabelled transformer / dcformer, its variants in `baseline` and
    `treatment`; at a size the confirmation stage (confirm_seeds) has settled, the fresh seeds
    only): mean final val loss of each side over the seeds both sides ran (succeeded, finite
    loss; paired by seed as the verdict pairs them; each side's own mean where no seed pairs),
    their difference (DCFormer minus the baseline; negative favours DCFormer; NaN without a
    pair), the tokens/s ratio DCFormer / baseline measured on one device (speed_device; see
    compare.speed_ratio), and per side the runs counted (n_*), failed (failed_*) and diverged
    (diverged_*). A group lacking a side shows NaN."""
    if runs.empty:
        return pd.DataFrame(columns=HEADLINE_COLUMNS)
    if study is None:
        studies = headline_studies(runs)
        study = studies[0] if studies else ""
    every = runs[study_key(runs).eq(study)]
    if not every["status"].isin(FINISHED).any():
        return pd.DataFrame(columns=HEADLINE_COLUMNS)
    # the pair and the runs the verdict compares (verdict.decide picks both from every run)
    baseline, treatment = decisive_pair(every)
    scoped = pair_frame(decisive_runs(with_variant(every), confirm_seeds), baseline, treatment)
    scoped = scoped[scoped["status"].isin(FINISHED)]
    loss = pd.to_numeric(scoped["final_val_loss"], errors="coerce").astype(float)
    diverged = scoped["diverged"].eq(True)   # training stops a diverged run as failed
    scoped = scoped.assign(
        loss=loss, diverged=diverged,
        counted=scoped["status"].eq(Status.SUCCEEDED.value) & np.isfinite(loss) & ~diverged,
        failed=scoped["status"].eq(Status.FAILED.value) & ~diverged,
        speed=pd.to_numeric(scoped["tokens_per_s"], errors="coerce").astype(float),
        speed_device=[device_label(d, c) for d, c in zip(scoped["device"], scoped["config"])])
    rows = [{**_headline_row(dict(zip(HEADLINE_GROUP, key)), group), "baseline": baseline,
             "treatment": treatment}
            for key, group in scoped.groupby(HEADLINE_GROUP, sort=False, dropna=False)]
    return pd.DataFrame(rows, columns=HEADLINE_COLUMNS)


def _headline_row(key: dict, group: pd.DataFrame) -> dict:
    counted = tuning.at_best_lr(group[group["counted"]].assign(tokens=0),   # one budget per group
                                tuning.diverged_rows(group).assign(tokens=0))
    pairs = seed_pairs(counted)   # as the verdict reads them: seeds both sides ran, paired
    if len(pairs):
        tf_loss, dc_loss = float(pairs["tf"].mean()), float(pairs["dc"].mean())
    else:                         # nothing to pair: each side's own mean, no difference
        loss = counted.groupby("arch")["loss"].mean()
        tf_loss, dc_loss = loss.get("transformer", math.nan), loss.get("dcformer", math.nan)
    speed_device, ratio = speed_ratio(counted)
    row = {**key, "total_steps": int(key["total_steps"]), "corpus": group["corpus_spec"].iloc[0],
           "loss_transformer": tf_loss, "loss_dcformer": dc_loss,
           "loss_diff": dc_loss - tf_loss if len(pairs) else math.nan,
           "speed_ratio": ratio, "speed_device": speed_device}
    for arch in ARCHS:
        mine = group["arch"].eq(arch)
        row[f"n_{arch}"] = int(counted["arch"].eq(arch).sum())   # at the rate the loss is from
        row[f"failed_{arch}"] = int((mine & group["failed"]).sum())
        row[f"diverged_{arch}"] = int((mine & group["diverged"]).sum())
    return row


# ----------------------------------------------------------------------------- compare page
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


def run_summary(runs: pd.DataFrame, prices: Mapping[str, float] | None = None) -> pd.DataFrame:
    """One row per finished run for the Compare page: perplexity, cost (at prices, as runs_table),
    speed, memory, and whether the run is on the perplexity-versus-cost Pareto front."""
    table = runs_table(runs, prices)
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
    run id), values as stored (the page words them). A field missing from a run counts as
    different and shows as None."""
    flat = {run_id: flatten(config) for run_id, config in configs.items()}
    fields = sorted(set().union(*flat.values())) if flat else []
    rows = {}
    for name in fields:
        values = [flat[run_id].get(name) for run_id in flat]
        if len({json.dumps(v, sort_keys=True, default=str) for v in values}) > 1 or \
                any(name not in f for f in flat.values()):
            rows[name] = values
    # object dtype: a run whose differing values are all numbers keeps 1 as 1 (not 1.0) and a
    # missing field as None (not NaN)
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(flat),
                                  dtype=object).rename_axis("field")


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
            ("git_commit", "device", "attn_path", "attn_reason", "host", "pid", "created_at",
             "started_at", "finished_at",
             "heartbeat_at", "corpus_spec", "corpus_fingerprint", "n_params", "flops_per_token",
             "mfu")]
    rows += [(f"version:{lib}", str(v)) for lib, v in sorted((run.get("versions") or {}).items())]
    return rows
