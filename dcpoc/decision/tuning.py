"""Learning-rate sweeps, read back from finished runs: loss against rate per architecture, the best
rate of each (what the comparison uses and what a sweep carries to larger sizes), and how much the
choice matters. Pure pandas; a run's rate is its stored config's train.lr.

A "cell" is the runs of one (corpus fingerprint, preset, tokens seen, architecture): the sweep
compares rates within a cell, over the seeds each rate ran."""
from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..config import ARCHS, PRESETS

CELL = ["preset", "tokens", "arch"]   # + corpus_fingerprint where the runs have one
TABLE_COLUMNS = ["preset", "tokens", "arch", "lr", "n", "loss", "loss_sd", "best", "edge", "steps"]
TIE_NATS = 1e-9       # two rates whose mean losses differ by less are tied: the lower one wins


def run_lr(config: object) -> float:
    """A run's peak learning rate from its stored config (NaN where it names none)."""
    train = config.get("train") if isinstance(config, Mapping) else None
    value = (train or {}).get("lr")
    return float(value) if isinstance(value, (int, float)) else math.nan


def with_lr(runs: pd.DataFrame) -> pd.DataFrame:
    """runs with a numeric column lr."""
    return runs.assign(lr=[run_lr(c) for c in runs["config"]] if len(runs) else [])


def _cell(frame: pd.DataFrame) -> list[str]:
    return (["corpus_fingerprint"] if "corpus_fingerprint" in frame else []) + CELL


def lr_table(counted: pd.DataFrame) -> pd.DataFrame:
    """Mean final val loss per (corpus, preset, tokens, arch, lr) over seeds, its sample sd, the
    runs' step count (steps; NaN where the runs do not say), and flags: best (the lowest mean in its cell; ties to the lower rate) and edge (the best rate is
    the lowest or highest of two or more tried: the optimum may lie outside the grid).
    ``counted``: compare.counted_runs rows (columns loss, tokens, config ...)."""
    if counted.empty:
        return pd.DataFrame(columns=TABLE_COLUMNS)
    frame = with_lr(counted)
    cell_keys = _cell(frame)
    frame = frame.assign(**({"corpus_fingerprint": frame["corpus_fingerprint"].fillna("")}
                            if "corpus_fingerprint" in frame else {}))
    frame = frame[np.isfinite(frame["lr"])]
    # steps: the budget a table names where a size ran several (report.text.size_labels)
    frame = frame.assign(steps=pd.to_numeric(frame["total_steps"], errors="coerce").astype(float)
                         if "total_steps" in frame else np.nan)
    table = (frame.groupby(cell_keys + ["lr"])
             .agg(n=("loss", "count"), loss=("loss", "mean"), loss_sd=("loss", "std"),
                  steps=("steps", "max"))
             .reset_index().sort_values(cell_keys + ["lr"], ignore_index=True))
    table["best"] = False
    table["edge"] = False
    for _, cell in table.groupby(cell_keys, sort=False):
        best = _best_index(cell)
        table.loc[best, "best"] = True
        if len(cell) >= 2 and cell.loc[best, "lr"] in (cell["lr"].min(), cell["lr"].max()):
            table.loc[best, "edge"] = True
    return table[[c for c in cell_keys if c not in TABLE_COLUMNS] + TABLE_COLUMNS]


def _best_index(cell: pd.DataFrame) -> int:
    """Index of the lowest mean loss in a cell sorted by rate; ties go to the lower rate. A rate
    that diverged on any seed has mean +inf: never best while another rate has none (when every
    rate has, the lowest rate)."""
    lowest = cell["loss"].min()
    if not math.isfinite(lowest):
        return int(cell.index[0])
    return int(cell.index[(cell["loss"] - lowest).abs() <= TIE_NATS][0])


def at_best_lr(counted: pd.DataFrame, diverged: pd.DataFrame | None = None) -> pd.DataFrame:
    """The runs at their cell's best rate (every run of a cell with a single rate). diverged:
    diverged_rows of the same runs, so that a rate that diverged on a seed is not chosen on its
    other seeds' losses (the sweep table counts them the same way)."""
    if counted.empty:
        return counted
    table = lr_table(counted if diverged is None or diverged.empty else pd.concat([counted, diverged]))
    frame = with_lr(counted)
    keys = _cell(frame) + ["lr"]
    if "corpus_fingerprint" in frame:
        frame = frame.assign(corpus_fingerprint=frame["corpus_fingerprint"].fillna(""))
    best = table.loc[table["best"], keys]
    keep = frame[keys].merge(best, on=keys, how="left", indicator=True)["_merge"].eq("both")
    unkeyed = frame[keys].isna().any(axis=1)   # no rate or no tokens: not part of any sweep
    return counted[keep.to_numpy() | unkeyed.to_numpy()]


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
    tried = table.groupby(_cell(table))["lr"].transform("nunique")
    return table[tried > 1]


def sensitivity(counted: pd.DataFrame) -> dict | None:
    """What the sweep says, for the risk "DCFormer needs its own tuning" (None without a sweep of
    both architectures at one size and token budget): at the swept cell with the most rates
    (the largest preset on a tie), per architecture the loss spread over the rates tried and the
    best rate; per shared rate DCFormer minus Transformer++ (seed means); whether that difference
    changes sign across rates (flips); the rates whose best lies on the grid's edge; the rates at
    which an architecture diverged (loss +inf in the table: see diverged_rows)."""
    table = swept_cells(lr_table(counted))
    if table.empty:
        return None
    both = table.groupby(["preset", "tokens"])["arch"].nunique()
    both = both[both == len(ARCHS)]
    if both.empty:
        return None
    sizes = table.set_index(["preset", "tokens"]).loc[both.index].reset_index()
    counts = sizes.groupby(["preset", "tokens"])["lr"].nunique().reset_index()
    ladder = {p: i for i, p in enumerate(PRESETS)}
    counts = counts.assign(rung=counts["preset"].map(ladder).fillna(len(ladder)))
    # the most rates tried, then the largest size: the sweep closest to what is decided on
    preset, tokens = counts.sort_values(["lr", "rung", "tokens"]).iloc[-1][["preset", "tokens"]]
    cell = sizes[sizes["preset"].eq(preset) & sizes["tokens"].eq(tokens)]
    wide = cell.pivot(index="lr", columns="arch", values="loss")
    finite = wide.where(np.isfinite(wide))
    spread = {arch: float(finite[arch].max() - finite[arch].min()) for arch in ARCHS}
    diverged = {arch: [float(lr) for lr in wide.index[np.isinf(wide[arch])]] for arch in ARCHS}
    best = {arch: float(cell.loc[cell["arch"].eq(arch) & cell["best"], "lr"].iloc[0]) for arch in ARCHS}
    diffs = (finite["dcformer"] - finite["transformer"]).dropna()
    return {"preset": str(preset), "tokens": float(tokens), "spread": spread, "best": best,
            "diff_by_lr": {float(k): float(v) for k, v in diffs.items()},
            "flips": bool(len(diffs) and diffs.max() > 0 > diffs.min()),
            "diverged": {arch: lrs for arch, lrs in diverged.items() if lrs},
            "edge": sorted(str(a) for a in cell.loc[cell["best"] & cell["edge"], "arch"])}


def sweep_casualties(runs: pd.DataFrame, counted: pd.DataFrame) -> set[str]:
    """Ids of failed or diverged runs at a rate other than the one their (preset, architecture)
    is compared at: a high rate that diverged is a sweep's answer, not a run to redo.
    ``counted``: the compared runs (at_best_lr)."""
    if runs.empty or counted.empty:
        return set()
    bad = with_lr(runs[runs["status"].eq("failed") | runs["diverged"].eq(True)])
    bad = bad[np.isfinite(bad["lr"])]
    used = with_lr(counted)
    used = used[np.isfinite(used["lr"])]
    used_rates = set(zip(used["preset"], used["arch"], used["lr"]))
    cells = {(p, a) for p, a, _ in used_rates}
    return {str(r.id) for r in bad.itertuples()
            if (r.preset, r.arch) in cells and (r.preset, r.arch, r.lr) not in used_rates}


def diverged_rows(runs: pd.DataFrame) -> pd.DataFrame:
    """Diverged runs as lr_table input: loss +inf, tokens the planned budget (total_steps x batch
    x sequence, since the run stopped early; tokens_seen where the config does not say), so they
    land in the cell of the rate they diverged at."""
    bad = runs[runs["diverged"].eq(True)] if len(runs) else runs
    if bad.empty:
        return bad.assign(loss=[], tokens=[])
    steps = bad["total_steps"] if "total_steps" in bad else pd.Series(0, index=bad.index)
    seen = pd.to_numeric(bad["tokens_seen"], errors="coerce") if "tokens_seen" in bad else steps * math.nan
    tokens = [_planned_tokens(c, n) or float(x) for c, n, x in zip(bad["config"], steps, seen)]
    return bad.assign(loss=math.inf, tokens=tokens)


def _planned_tokens(config: object, steps: object) -> float:
    train = config.get("train") if isinstance(config, Mapping) else None
    model = config.get("model") if isinstance(config, Mapping) else None
    if not train or not model or not steps or pd.isna(steps):
        return 0.0
    return float(int(steps) * train.get("batch_size", 0) * model.get("seq_len", 0))
