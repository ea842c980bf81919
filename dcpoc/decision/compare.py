"""Which runs count and how the architectures compare: a study's counted runs on its main corpus,
DCFormer minus Transformer++ at equal training tokens and at equal $ (paired by seed), and the
tokens/s ratio of the architectures on one device."""
from __future__ import annotations

import math
from typing import Mapping

import numpy as np
import pandas as pd

from ..config import ARCHS
from ..runs.status import Status
from .facts import device_label, study_key, with_cost
from .stats import Sized, paired_t_interval, unreliable
from .tuning import at_best_lr, diverged_rows

SUCCEEDED = Status.SUCCEEDED.value
COMPARISON_COLUMNS = ["preset", "params", "steps", "tokens", "basis", "n_pairs", "seeds", "loss_diff", "loss_low", "loss_high",
                      "ppl_diff", "ppl_low", "ppl_high", "loss_transformer", "loss_dcformer",
                      "unreliable", "loss_sd"]


# ----------------------------------------------------------------------------- counted runs
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
    keep = (scoped["status"].eq(SUCCEEDED) & np.isfinite(scoped["loss"])
            & ~scoped["diverged"].eq(True))
    return at_best_lr(scoped[keep], diverged_rows(scoped)) if best_lr else scoped[keep]


def main_corpus(counted: pd.DataFrame) -> tuple[str, int]:
    """The corpus fingerprint with the most counted runs, and how many fingerprints there are.
    Runs are only ever compared on one fingerprint (the same data, byte for byte)."""
    if counted.empty:
        return "", 0
    sizes = counted["corpus_fingerprint"].fillna("").value_counts(sort=True)
    return str(sizes.index[0]), int(len(sizes))


def on_main_corpus(counted: pd.DataFrame) -> pd.DataFrame:
    """The counted runs of the main corpus only."""
    corpus, _ = main_corpus(counted)
    return counted[counted["corpus_fingerprint"].fillna("").eq(corpus)]


def speed_ratio(counted: pd.DataFrame) -> tuple[str, float]:
    """DCFormer / Transformer++ mean tokens/s on one device (kind and process count): tokens/s
    from different hardware are never divided. Of the devices that ran both architectures, the
    one with the most runs; ("", NaN) when none did. ``counted``: rows with speed, speed_device."""
    fast = counted[counted["speed"] > 0]
    if fast.empty:
        return "", math.nan
    runs_per = fast.groupby(["speed_device", "arch"]).size().unstack().reindex(columns=ARCHS)
    both = runs_per[runs_per.notna().all(axis=1)]
    if both.empty:
        return "", math.nan
    device = both.sum(axis=1).sort_values(ascending=False, kind="stable").index[0]
    return device, device_speed_ratio(fast, device)


def ratios_at_runs(counted: pd.DataFrame, device: str) -> pd.DataFrame:
    """DCFormer / Transformer++ at each DCFormer run's size (preset): the mean tokens/s on device
    (speed; NaN where the device did not run both there) and the mean FLOPs per token (flops);
    index: those rows' index. ``counted``: rows with speed, speed_device, fpt. In numpy, not a
    pandas groupby: the bootstrap calls this for every resample."""
    arch = counted["arch"].to_numpy()
    size, sizes = pd.factorize(counted["preset"])          # -1: no preset, no size (as groupby)
    speed, fpt = counted["speed"].to_numpy(float), counted["fpt"].to_numpy(float)
    timed = (counted["speed_device"].to_numpy() == device) & (speed > 0)

    def mean_by_size(values: np.ndarray, rows: np.ndarray) -> np.ndarray:   # NaN where none
        rows = rows & ~np.isnan(values) & (size >= 0)
        count = np.bincount(size[rows], minlength=len(sizes) + 1)   # + 1: the last reads -1 as NaN
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.bincount(size[rows], values[rows], minlength=len(count)) / count

    is_dc, is_tf = arch == "dcformer", arch == "transformer"
    with np.errstate(invalid="ignore", divide="ignore"):
        speed_ratio = mean_by_size(speed, timed & is_dc) / mean_by_size(speed, timed & is_tf)
        flops_ratio = mean_by_size(fpt, is_dc) / mean_by_size(fpt, is_tf)
    return pd.DataFrame({"speed": speed_ratio[size[is_dc]], "flops": flops_ratio[size[is_dc]]},
                        index=counted.index[is_dc], dtype=float)


def study_speed_ratio(counted: pd.DataFrame, device: str) -> float:
    """DCFormer / Transformer++ tokens/s on device across sizes: the geometric mean of each size's
    ratio over the DCFormer runs at sizes that have one (as the net benefit weighs sizes); NaN
    without any."""
    speed = ratios_at_runs(counted, device)["speed"].to_numpy(float) if not counted.empty else []
    speed = np.asarray(speed)[np.isfinite(speed)] if len(speed) else np.array([])
    return float(np.exp(np.log(speed).mean())) if len(speed) else math.nan


def device_speed_ratio(frame: pd.DataFrame, device: str) -> float:
    """DCFormer / Transformer++ mean tokens/s of the rows measured on device (NaN without both)."""
    on = frame[frame["speed_device"].eq(device) & (frame["speed"] > 0)]
    speed = on.groupby("arch")["speed"].mean()
    if not set(ARCHS) <= set(speed.index):
        return math.nan
    return float(speed["dcformer"] / speed["transformer"])


# ----------------------------------------------------------------------------- comparisons
def _comparison_row(preset: str, basis: str, pairs: pd.DataFrame, group: pd.DataFrame) -> dict:
    loss = paired_t_interval(pairs["dc"] - pairs["tf"])
    ppl = paired_t_interval(np.exp(pairs["dc"]) - np.exp(pairs["tf"]))
    params = pd.to_numeric(group["n_params"], errors="coerce").astype(float).mean()
    # the budget, so that a size run at two budgets reads as two sizes' rows, not one twice
    steps = (pd.to_numeric(group["total_steps"], errors="coerce").astype(float).max()
             if "total_steps" in group else math.nan)
    return {"preset": preset, "params": params, "steps": steps, "tokens": float(group["tokens"].max()),
            "basis": basis, "n_pairs": loss.n,
            "seeds": ",".join(str(int(s)) for s in sorted(pairs.index)),
            "loss_diff": loss.mean, "loss_low": loss.low, "loss_high": loss.high,
            "ppl_diff": ppl.mean, "ppl_low": ppl.low, "ppl_high": ppl.high,
            "loss_transformer": float(pairs["tf"].mean()) if len(pairs) else math.nan,
            "loss_dcformer": float(pairs["dc"].mean()) if len(pairs) else math.nan,
            "unreliable": unreliable(loss.n),   # 2 seeds: one degree of freedom
            # seed-to-seed spread: the sample sd of the per-seed differences (NaN with one seed)
            "loss_sd": float((pairs["dc"] - pairs["tf"]).std(ddof=1)) if len(pairs) > 1 else math.nan}


def seed_pairs(group: pd.DataFrame, value: str = "loss") -> pd.DataFrame:
    """One row per seed run by both architectures: columns tf, dc (mean over repeats of a seed)."""
    by = group.groupby(["seed", "arch"])[value].mean().unstack()
    if not set(ARCHS) <= set(by.columns):
        return pd.DataFrame(columns=["tf", "dc"])
    return by[["transformer", "dcformer"]].dropna().set_axis(["tf", "dc"], axis=1)


def _comparison_frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS).sort_values("params", kind="stable",
                                                                    ignore_index=True)


def compare_equal_tokens(runs: pd.DataFrame, study: str | None = None) -> pd.DataFrame:
    """DCFormer minus Transformer++ at equal training tokens, per preset: runs of the main corpus
    (see main_corpus) paired by seed within the same (preset, tokens seen); mean difference of
    final val loss and of perplexity with a 95% paired t interval over seeds (None with one seed).
    Negative favours DCFormer. Rows by size, and at one size by token budget (the last row is the
    largest size's longest budget, the one the verdict reads)."""
    counted = on_main_corpus(counted_runs(runs, study))
    groups = sorted(counted.groupby(["preset", "tokens"], sort=False), key=lambda item: item[0][1])
    rows = [_comparison_row(preset, "tokens", seed_pairs(group), group) for (preset, _), group in groups]
    return _comparison_frame([r for r in rows if r["n_pairs"] > 0])


def sizes_named(rows: pd.DataFrame, among: pd.DataFrame | None = None) -> list[str | Sized]:
    """Each row's size (rows: columns preset, tokens, steps, e.g. compare_equal_tokens'): its
    preset, or a Sized naming the budget too where ``among`` (default: rows) holds that preset at
    more than one token budget, so that two rows of one size can be told apart. With one budget
    per size, the bare presets."""
    among = rows if among is None else among
    if rows.empty:
        return []
    budgets = among.groupby("preset")["tokens"].nunique() if len(among) else pd.Series(dtype=int)
    steps = rows["steps"] if "steps" in rows else pd.Series(math.nan, index=rows.index)
    return [Sized(str(p), float(n), float(tok)) if budgets.get(p, 0) > 1 else str(p)
            for p, n, tok in zip(rows["preset"], steps, rows["tokens"])]


def loss_at_cost(curve: pd.DataFrame, cost_usd: float) -> float:
    """A run's val loss at a spend (linear between evaluations; NaN beyond its last one).
    ``curve``: rows with cost_usd and value, of one run."""
    curve = curve.sort_values("cost_usd")
    x, y = curve["cost_usd"].to_numpy(float), curve["value"].to_numpy(float)
    if len(x) == 0 or cost_usd > x[-1] * (1 + 1e-9) or cost_usd < x[0]:
        return math.nan
    return float(np.interp(cost_usd, x, y))


def _cost_pairs(group: pd.DataFrame, curves: pd.DataFrame, spent: pd.Series) -> pd.DataFrame:
    """Per seed of one (preset, tokens) group: both runs' losses at the cheaper run's total spend."""
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
    return pd.DataFrame.from_dict(pairs, orient="index", columns=["tf", "dc"]).dropna()


def compare_equal_cost(runs: pd.DataFrame, val_curves: pd.DataFrame, study: str | None = None,
                       prices: Mapping[str, float] | None = None) -> pd.DataFrame:
    """DCFormer minus Transformer++ at equal $, per preset: for each seed both runs are read at the
    spend of the cheaper of the two (its val-loss curve interpolated in $, each run priced by its own
    device), then the paired t interval over seeds as in compare_equal_tokens. Both curves are read
    on the evaluations made during training only: the final one scores the whole validation split
    (train.py), about 0.02 nats lower than the subset, so reading the cheaper run at its end against
    the other between subset points would compare two different test sets.
    ``val_curves``: metric rows (run_id, step, value, wall_s) of key val_loss."""
    counted = on_main_corpus(counted_runs(runs, study))
    if counted.empty or val_curves.empty:
        return pd.DataFrame(columns=COMPARISON_COLUMNS)
    val_curves = val_curves[val_curves["run_id"].isin(counted["id"])]
    final = val_curves["step"].eq(val_curves.groupby("run_id")["step"].transform("max"))
    curves = with_cost(val_curves[~final], counted, prices)
    curves = curves[np.isfinite(curves["value"].astype(float))]
    spent = curves.groupby("run_id")["cost_usd"].max()
    rows = []
    # budgets in the equal-token table's order: a size's shorter budget first
    groups = sorted(counted.groupby(["preset", "tokens"], sort=False), key=lambda item: item[0][1])
    for (preset, _tokens), group in groups:
        frame = _cost_pairs(group, curves, spent)
        if len(frame):
            rows.append(_comparison_row(preset, "cost", frame, group))
    return _comparison_frame(rows)


def attention_paths(runs: pd.DataFrame, speed_device: str | None = None) -> str:
    """The distinct paths of the DCFormer runs in ``runs`` ('torch', 'triton' or 'torch, triton';
    '' when none is recorded). With speed_device: only the runs the speed ratio counts (succeeded,
    main corpus, best learning rate, measured on that device; see speed_ratio)."""
    if runs.empty or "attn_path" not in runs:
        return ""
    if speed_device is not None:
        counted = on_main_corpus(counted_runs(runs))
        on_device = [device_label(d, c) == speed_device
                     for d, c in zip(counted["device"], counted["config"])]
        runs = counted[pd.Series(on_device, index=counted.index, dtype=bool) & (counted["speed"] > 0)]
    dc = runs[runs["arch"].eq("dcformer")]
    return ", ".join(sorted({str(p) for p in dc["attn_path"].dropna()}))
