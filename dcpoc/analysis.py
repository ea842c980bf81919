"""Pure functions over run records (no Streamlit, no database, no GPU)."""
from __future__ import annotations

import json
import math
from typing import Mapping

import numpy as np
import pandas as pd

from . import costs

RUNS_TABLE_COLUMNS = ["id", "study", "arch", "preset", "status", "seed", "step", "total_steps",
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
        "status": runs["status"], "seed": runs["seed"], "step": runs["step"],
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
def headline_by_preset(runs: pd.DataFrame) -> pd.DataFrame:
    """Per preset, over succeeded runs with a finite loss: mean final val loss of each architecture,
    their difference (DCFormer minus Transformer++; negative favours DCFormer), the tokens/s ratio
    (DCFormer / Transformer++) and the run counts. Presets lacking either architecture show NaN."""
    columns = ["preset", "loss_transformer", "loss_dcformer", "loss_diff", "speed_ratio",
               "n_transformer", "n_dcformer"]
    if runs.empty:
        return pd.DataFrame(columns=columns)
    loss = pd.to_numeric(runs["final_val_loss"], errors="coerce").astype(float)
    done = runs.assign(loss=loss)[runs["status"].eq("succeeded") & np.isfinite(loss)]
    if done.empty:
        return pd.DataFrame(columns=columns)
    grouped = done.groupby(["preset", "arch"])
    stats = grouped.agg(loss=("loss", "mean"), speed=("tokens_per_s", "mean"), n=("id", "size"))
    rows = []
    for preset in dict.fromkeys(done["preset"]):
        get = lambda arch, col: (stats.loc[(preset, arch), col]  # noqa: E731
                                 if (preset, arch) in stats.index else math.nan)
        tf_loss, dc_loss = get("transformer", "loss"), get("dcformer", "loss")
        tf_speed, dc_speed = get("transformer", "speed"), get("dcformer", "speed")
        rows.append({"preset": preset, "loss_transformer": tf_loss, "loss_dcformer": dc_loss,
                     "loss_diff": dc_loss - tf_loss,
                     "speed_ratio": dc_speed / tf_speed if tf_speed else math.nan,
                     "n_transformer": int(np.nan_to_num(get("transformer", "n"))),
                     "n_dcformer": int(np.nan_to_num(get("dcformer", "n")))})
    return pd.DataFrame(rows, columns=columns)


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
