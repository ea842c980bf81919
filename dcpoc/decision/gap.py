"""The gap over training: per model size, DCFormer minus the baseline's validation loss against the
tokens seen, from the runs' validation curves, paired by seed. At small scale DCFormer can lead early
and be caught later; the final loss alone hides that, so a board sees the whole course.

Pairing: within a size (preset), the runs of the largest token budget on the study's main corpus that
count (compare.counted_runs: succeeded, not diverged, each side at its best learning rate); for each
seed run by both sides, the two val_loss curves joined on the evaluation step (the same preset and
budget evaluate at the same steps, so a step is the same tokens seen for both). Per step: the mean
gap over seeds and its spread (lowest, highest); only steps every pair reached are kept, so the mean
never changes which seeds it is made of. Negative: DCFormer lower (better).

The labels are parameters: `column` names the frame column that tells the two sides apart ('arch'
today; 'variant' once runs carry variants) and `baseline` / `treatment` its values."""
from __future__ import annotations

import pandas as pd

from .compare import counted_runs, on_main_corpus

GAP_COLUMNS = ["preset", "params", "step", "tokens", "n_seeds", "gap", "gap_low", "gap_high"]
SUMMARY_COLUMNS = ["preset", "params", "n_seeds", "lead", "lead_step", "lead_tokens", "final",
                   "final_step", "final_tokens", "pattern"]
PATTERNS = ("holds", "narrows", "caught", "behind")


def _pairs(group: pd.DataFrame, column: str, baseline: str, treatment: str) -> list[tuple[str, str]]:
    """(baseline run id, treatment run id) per seed run by both sides, smallest seed first."""
    out = []
    for _seed, runs in group.groupby("seed", sort=True):
        base = runs.loc[runs[column].eq(baseline), "id"].tolist()
        treat = runs.loc[runs[column].eq(treatment), "id"].tolist()
        if base and treat:
            out.append((base[0], treat[0]))
    return out


def _pair_gap(curves: pd.DataFrame, base_id: str, treat_id: str) -> pd.DataFrame:
    """Rows (step, tokens, gap) where both runs have a finite val_loss at that step."""
    cols = ["step", "tokens", "value"]
    base = curves.loc[curves["run_id"].eq(base_id), cols]
    treat = curves.loc[curves["run_id"].eq(treat_id), ["step", "value"]]
    both = base.merge(treat, on="step", suffixes=("_b", "_t")).dropna(subset=["value_b", "value_t"])
    return pd.DataFrame({"step": both["step"].astype(int), "tokens": both["tokens"].astype(float),
                         "gap": both["value_t"].astype(float) - both["value_b"].astype(float)})


def gap_over_training(runs: pd.DataFrame, curves: pd.DataFrame | None, baseline: str = "transformer",
                      treatment: str = "dcformer", column: str = "arch") -> pd.DataFrame:
    """GAP_COLUMNS, one row per (size, evaluation step), sizes smallest first. ``runs``: the study's
    runs (Store.list_runs rows); ``curves``: Store.get_metrics rows of key val_loss."""
    if runs.empty or curves is None or curves.empty:
        return pd.DataFrame(columns=GAP_COLUMNS)
    counted = on_main_corpus(counted_runs(runs))
    curves = curves[curves["key"].eq("val_loss")] if "key" in curves else curves
    frames = []
    for preset, group in counted.groupby("preset", sort=False):
        group = group[group["tokens"].eq(group["tokens"].max())]       # the longest budget
        per_seed = [_pair_gap(curves, b, t) for b, t in _pairs(group, column, baseline, treatment)]
        per_seed = [f for f in per_seed if len(f)]
        if not per_seed:
            continue
        joined = pd.concat(per_seed, ignore_index=True)
        by = joined.groupby("step")
        frame = pd.DataFrame({"tokens": by["tokens"].mean(), "n_seeds": by["gap"].size(),
                              "gap": by["gap"].mean(), "gap_low": by["gap"].min(),
                              "gap_high": by["gap"].max()}).reset_index()
        frame = frame[frame["n_seeds"].eq(len(per_seed))]
        # DCFormer's size, as the paper comparison states it (the pair's mean matches no model)
        treated = group[group[column].eq(treatment)]
        params = float(pd.to_numeric(treated["n_params"], errors="coerce").astype(float).mean())
        frames.append(frame.assign(preset=preset, params=params))
    if not frames:
        return pd.DataFrame(columns=GAP_COLUMNS)
    out = pd.concat(frames, ignore_index=True)[GAP_COLUMNS]
    return out.sort_values(["params", "preset", "step"], kind="stable", ignore_index=True)


def _pattern(lead: float, final: float) -> str:
    """How the course ended: 'behind' (DCFormer never led), 'caught' (it led, the end is level or
    behind), 'narrows' (still ahead with under half its largest lead), 'holds' (at least half)."""
    if not lead < 0:
        return "behind"
    if not final < 0:
        return "caught"
    return "holds" if final <= lead / 2 else "narrows"


def gap_summary(gaps: pd.DataFrame) -> pd.DataFrame:
    """SUMMARY_COLUMNS, one row per size: its largest lead (most negative mean gap) and where, the
    gap at the last step all pairs reached, and the pattern (PATTERNS)."""
    rows = []
    for preset, frame in gaps.groupby("preset", sort=False):
        frame = frame.sort_values("step")
        best = frame.loc[frame["gap"].idxmin()]
        last = frame.iloc[-1]
        lead = float(best["gap"])
        rows.append({"preset": preset, "params": float(frame["params"].iloc[0]),
                     "n_seeds": int(frame["n_seeds"].min()), "lead": lead,
                     "lead_step": int(best["step"]), "lead_tokens": float(best["tokens"]),
                     "final": float(last["gap"]), "final_step": int(last["step"]),
                     "final_tokens": float(last["tokens"]),
                     "pattern": _pattern(lead, float(last["gap"]))})
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)

