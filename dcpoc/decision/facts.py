"""One run's facts read from its record: the study it belongs to, its process count, the device its
speed was measured on, its price per hour and the $ spent by each of its metric points.

A leaf: it imports nothing from dcpoc.runs, so dcpoc.studies and dcpoc.runs can import these names
while the rest of dcpoc.decision (which reads the run states from dcpoc.runs.status) is loading."""
from __future__ import annotations

import math
from typing import Mapping

import pandas as pd

from .. import costs
from ..config import config_variant


def study_key(runs: pd.DataFrame) -> pd.Series:
    """Each run's study name; "" for runs trained outside any study (`dcpoc train` without
    --study, the quick start), which form a group of their own rather than join a study."""
    return runs["study"].fillna("").astype(str)


def with_variant(runs: pd.DataFrame) -> pd.DataFrame:
    """runs with a column variant (arch + QK-norm, config.VARIANTS): Store.list_runs frames have it,
    a frame built another way gets it from each run's arch and stored config."""
    if "variant" in runs:
        return runs
    return runs.assign(variant=[config_variant(a, c) for a, c in zip(runs["arch"], runs["config"])]
                       if len(runs) else [])


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


def run_prices(runs: pd.DataFrame, prices: Mapping[str, float] | None = None) -> pd.Series:
    """$ per hour of each run (run_price_per_hour), on the runs' index."""
    return pd.Series([run_price_per_hour(d, c, prices) for d, c in zip(runs["device"], runs["config"])],
                     index=runs.index, dtype=float)


def with_cost(curves: pd.DataFrame, runs: pd.DataFrame,
              prices: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Metric rows (run_id, wall_s, ...) plus arch, variant and cost_usd: the $ spent by each point."""
    price = dict(zip(runs["id"], run_prices(runs, prices)))
    out = curves.copy()
    out["arch"] = out["run_id"].map(dict(zip(runs["id"], runs["arch"])))
    out["variant"] = out["run_id"].map(dict(zip(runs["id"], with_variant(runs)["variant"])))
    out["cost_usd"] = out["wall_s"].astype(float) / 3600.0 * out["run_id"].map(price).astype(float)
    return out
