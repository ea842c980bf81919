"""Learning-rate sweeps, read back from finished runs: loss against rate per architecture, the best
rate of each (what the comparison uses and what a sweep carries to larger sizes), and how much the
choice matters. Pure pandas; a run's rate is its stored config's train.lr.

A "cell" is the runs of one (preset, tokens seen, architecture): the sweep compares rates within a
cell, over the seeds each rate ran."""
from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from .config import ARCHS

CELL = ["preset", "tokens", "arch"]
TABLE_COLUMNS = ["preset", "tokens", "arch", "lr", "n", "loss", "loss_sd", "best", "edge"]
TIE_NATS = 1e-9       # two rates whose mean losses differ by less are tied: the lower one wins


def run_lr(config: object) -> float:
    """A run's peak learning rate from its stored config (NaN where it names none)."""
    train = config.get("train") if isinstance(config, Mapping) else None
    value = (train or {}).get("lr")
    return float(value) if isinstance(value, (int, float)) else math.nan


def with_lr(runs: pd.DataFrame) -> pd.DataFrame:
    """runs with a numeric column lr."""
    return runs.assign(lr=[run_lr(c) for c in runs["config"]] if len(runs) else [])


def lr_table(counted: pd.DataFrame) -> pd.DataFrame:
    """Mean final val loss per (preset, tokens, arch, lr) over seeds, its sample sd, and flags:
    best (the lowest mean in its cell; ties to the lower rate) and edge (the best rate is the
    lowest or highest one tried, with at least 3 tried: the optimum may lie outside the grid).
    ``counted``: analysis.counted_runs rows (columns loss, tokens, config ...)."""
    if counted.empty:
        return pd.DataFrame(columns=TABLE_COLUMNS)
    frame = with_lr(counted)
    frame = frame[np.isfinite(frame["lr"])]
    table = (frame.groupby(CELL + ["lr"])["loss"].agg(n="count", loss="mean", loss_sd="std")
             .reset_index().sort_values(CELL + ["lr"], ignore_index=True))
    table["best"] = False
    table["edge"] = False
    for _, cell in table.groupby(CELL, sort=False):
        best = _best_index(cell)
        table.loc[best, "best"] = True
        if len(cell) >= 3 and cell.loc[best, "lr"] in (cell["lr"].min(), cell["lr"].max()):
            table.loc[best, "edge"] = True
    return table[TABLE_COLUMNS]


def _best_index(cell: pd.DataFrame) -> int:
    """Index of the lowest mean loss in a cell sorted by rate; ties go to the lower rate."""
    lowest = cell["loss"].min()
    return int(cell.index[(cell["loss"] - lowest).abs() <= TIE_NATS][0])


def at_best_lr(counted: pd.DataFrame) -> pd.DataFrame:
    """The runs at their cell's best rate (every run of a cell with a single rate)."""
    if counted.empty:
        return counted
    table = lr_table(counted)
    best = table.loc[table["best"], CELL + ["lr"]]
    frame = with_lr(counted)
    keep = frame.merge(best, on=CELL + ["lr"], how="left", indicator=True)["_merge"].eq("both")
    return counted[keep.to_numpy() | ~np.isfinite(frame["lr"].to_numpy())]


def best_lrs(counted: pd.DataFrame, preset: str) -> dict[str, float]:
    """Each architecture's best rate at a preset (its largest token budget there); an
    architecture without a finished run there is missing."""
    table = lr_table(counted)
    table = table[table["preset"].eq(preset) & table["best"]]
    if table.empty:
        return {}
    table = table[table["tokens"].eq(table.groupby("arch")["tokens"].transform("max"))]
    return {str(row.arch): float(row.lr) for row in table.itertuples()}


def swept_cells(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of cells that tried more than one rate."""
    if table.empty:
        return table
    tried = table.groupby(CELL)["lr"].transform("nunique")
    return table[tried > 1]


def sensitivity(counted: pd.DataFrame) -> dict | None:
    """What the sweep says, for the risk "DCFormer needs its own tuning" (None without a sweep of
    both architectures at one size and token budget): at the swept cell with the most rates
    (largest preset on a tie), per architecture the loss spread over the rates tried and the
    best rate; per shared rate DCFormer minus Transformer++ (seed means); whether that difference
    changes sign across rates (flips); the rates whose best lies on the grid's edge."""
    table = swept_cells(lr_table(counted))
    if table.empty:
        return None
    both = table.groupby(["preset", "tokens"])["arch"].nunique()
    both = both[both == len(ARCHS)]
    if both.empty:
        return None
    sizes = table.set_index(["preset", "tokens"]).loc[both.index].reset_index()
    counts = sizes.groupby(["preset", "tokens"])["lr"].nunique()
    preset, tokens = counts.sort_values(kind="stable").index[-1]
    cell = sizes[sizes["preset"].eq(preset) & sizes["tokens"].eq(tokens)]
    wide = cell.pivot(index="lr", columns="arch", values="loss")
    spread = {arch: float(wide[arch].max() - wide[arch].min()) for arch in ARCHS}
    best = {arch: float(cell.loc[cell["arch"].eq(arch) & cell["best"], "lr"].iloc[0]) for arch in ARCHS}
    diffs = (wide["dcformer"] - wide["transformer"]).dropna()
    return {"preset": str(preset), "tokens": float(tokens), "spread": spread, "best": best,
            "diff_by_lr": {float(k): float(v) for k, v in diffs.items()},
            "flips": bool(len(diffs) and diffs.max() > 0 > diffs.min()),
            "edge": sorted(str(a) for a in cell.loc[cell["best"] & cell["edge"], "arch"])}
