"""No winner's curse. A learning-rate sweep picks each variant's rate on the sweep's seeds; comparing
the architectures on those same runs favours whichever got the luckier draw at its chosen rate. A
study with a confirmation stage trains fresh seeds (the spec's confirm_seeds) at each variant's
chosen rate once the sweep has finished: at a size where it did, only those runs decide.

States (Decision.confirmation): "confirmed" (every size decided on fresh seeds), "partial" (some
sizes), "pending" (as optimistic, while the study has confirmation seeds and runs still to come),
"optimistic" (a sweep chose the rates and no size has fresh seeds: the estimate is optimistic), ""
(no sweep: no rate was chosen on the data, nothing to confirm)."""
from __future__ import annotations

from collections.abc import Collection, Iterable

import pandas as pd

from .compare import counted_runs
from .facts import with_variant
from .tuning import best_lrs, diverged_rows, lr_table, swept_cells

FRESH_SEEDS_DECIDE = ("confirmed", "partial")   # the states where fresh seeds decide some size


def split_confirmation(runs: pd.DataFrame, confirm_seeds: Collection[int]
                       ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the runs that chose the rates: sweep and carried stages, the confirmation runs)."""
    if runs.empty or not confirm_seeds:
        return runs, runs.iloc[0:0]
    fresh = pd.to_numeric(runs["seed"], errors="coerce").isin([int(s) for s in confirm_seeds])
    return runs[~fresh], runs[fresh]


def decisive_runs(runs: pd.DataFrame, confirm_seeds: Collection[int]) -> pd.DataFrame:
    """The runs the comparison uses: at each preset the confirmation has settled (_confirmed_presets),
    the confirmation runs only; elsewhere (none yet, still running, or some variant missing) the
    sweep's runs, each variant at its best rate as compare.counted_runs picks."""
    selection, fresh = split_confirmation(runs, confirm_seeds)
    confirmed = _confirmed_presets(runs, fresh)
    if not confirmed:   # a fresh run finished for one rung only must not move that rung's mean
        return selection
    return pd.concat([selection[~selection["preset"].isin(confirmed)],
                      fresh[fresh["preset"].isin(confirmed)]])


def _confirmed_presets(runs: pd.DataFrame, fresh: pd.DataFrame) -> set:
    """The presets where every variant that ran there has a succeeded fresh run on one common seed:
    one finished confirmation run of one rung must not take the other rungs' sweep runs away."""
    if fresh.empty:
        return set()
    runs, fresh = with_variant(runs), with_variant(fresh)
    done = fresh[fresh["status"].eq("succeeded")]
    confirmed = set()
    for preset, at_size in done.groupby("preset"):
        variants = set(runs.loc[runs["preset"].eq(preset), "variant"])
        per_seed = at_size.groupby("seed")["variant"].agg(set)
        if any(variants <= ran for ran in per_seed):
            confirmed.add(preset)
    return confirmed


def confirmation_state(runs: pd.DataFrame, counted_selection: pd.DataFrame,
                       confirm_seeds: Collection[int], still_running: bool = False) -> str:
    """See the module docstring. ``counted_selection``: compare.counted_runs(..., best_lr=False)
    of the rate-choosing runs (a sweep shows as a cell with several rates); still_running: some of
    the study's runs are queued or running (a confirmation still to come)."""
    _, fresh = split_confirmation(runs, confirm_seeds)
    sizes = set(runs["preset"]) if len(runs) else set()
    done = _confirmed_presets(runs, fresh)
    if done and done >= sizes:
        return "confirmed"
    if done:
        return "partial"
    swept = swept_cells(lr_table(counted_selection)) if len(counted_selection) else counted_selection
    if not len(swept):
        return ""
    # pending only while runs are still to come: failed, cancelled or imported confirmations never end
    return "pending" if len(confirm_seeds) and still_running else "optimistic"


def chosen_rates(runs: pd.DataFrame, presets: Iterable[str], by_variant: bool,
                 swept_only: bool = False) -> dict[str, float]:
    """"PRESET LANE" -> the rate each lane's finished runs chose at each preset (tuning.best_lrs:
    lowest mean loss at the largest token budget); a lane is the run's variant where by_variant
    (a ladder study's two Transformer++ rungs choose apart), else its arch. A preset or lane
    without a finished run is missing. swept_only: {} unless some lane tried several rates. The
    worker's confirmation stage and the next step both choose with it."""
    if runs.empty:
        return {}
    if by_variant:
        runs = with_variant(runs).pipe(lambda f: f.assign(arch=f["variant"]))
    counted = counted_runs(runs, best_lr=False)
    if swept_only and swept_cells(lr_table(counted)).empty:
        return {}
    diverged = diverged_rows(runs)      # a rate that diverged on a seed: +inf, never chosen...
    cells = set(zip(counted["preset"], counted["arch"], counted["tokens"]))   # ...in a cell where
    keep = [cell in cells for cell in zip(diverged["preset"], diverged["arch"], diverged["tokens"])]
    tried = pd.concat([counted, diverged[keep]]) if any(keep) else counted    # another rate finished
    return {f"{preset} {lane}": lr for preset in presets
            for lane, lr in best_lrs(tried, preset).items()}
