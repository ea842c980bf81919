"""Pure functions over run records (no Streamlit, no database, no GPU)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

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
