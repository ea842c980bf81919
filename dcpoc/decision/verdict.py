"""The go / no-go rule: Thresholds, the Decision (verdict, reasons, what would flip it, risks, what
to run when the evidence is insufficient) and decide(), which assembles it from one study's runs.
Texts are i18n Reasons so that the same result reads in English and Japanese."""
from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Mapping

import pandas as pd

from ..config import ARCH_LABELS, ARCHS, VARIANT_LABELS
from ..runs.status import FINISHED, Status
from ..studies.spec import MIN_LADDER_SIZES, ladder
from . import tuning
from .attribution import decisive_pair, pair_frame
from .compare import (COMPARISON_COLUMNS, compare_equal_cost, compare_equal_tokens, counted_runs,
                      main_corpus, on_main_corpus)
from .confirmation import FRESH_SEEDS_DECIDE, decisive_runs, split_confirmation
from .evidence import add_evidence
from .facts import study_key, with_variant
from .multiplier import BOOTSTRAP_SAMPLES, MultiplierResult, compute_multiplier
from .paper import within_reach
from .stats import Pooled, Reason, row_interval

RISKS = ("extrapolation", "seed_variance", "kernel", "inference", "operations")


@dataclass(frozen=True)
class Thresholds:
    """The go / no-go rule's knobs (defaults shown on the Decision page).
    GO: net benefit's 95% lower bound > go_net_low AND the equal-token loss difference's interval
    lies entirely below 0 at the largest size. NO-GO: net benefit's upper bound < nogo_net_high, or
    the loss interval lies entirely above 0 (DCFormer worse). Otherwise CONDITIONAL. Fewer than
    min_seeds paired seeds or min_sizes model sizes: insufficient evidence. GO also needs
    go_min_sizes sizes: through two the compute curve is a straight line that nothing checks (the
    planner asks for MIN_LADDER_SIZES too), so two sizes can say NO-GO or CONDITIONAL, not adopt."""
    go_net_low: float = 1.1
    nogo_net_high: float = 1.0
    min_seeds: int = 2
    min_sizes: int = 2
    go_min_sizes: int = MIN_LADDER_SIZES


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
    baseline: str = "transformer-qknorm"   # the variants the verdict compares (attribution.py)
    treatment: str = "dcformer"
    attribution: pd.DataFrame | None = None   # attribution.attribute rows: the gain split by rung
    pooled: Pooled | None = None           # the decisive difference pooled over sizes
    confirmation: str = ""                 # confirmation.py: confirmed | partial | pending | optimistic | ""
    evidence: list[Reason] = field(default_factory=list)        # how sure, in words (ev.*)
    # the multiplier against Transformer++ without QK-norm, the paper's baseline (the verdict's own
    # where that is its baseline; None where the study ran no plain Transformer++): paper.py
    paper_multiplier: MultiplierResult | None = None
    # the net benefit at a speed ratio measured on the target's GPU kind (load._judge_at_target),
    # NaN where none was: the verdict's lean then reads it, not the study's own device's
    target_net: float = math.nan
    recommendations: list[Reason] = field(default_factory=list)  # what holds without DCFormer (rec.*)

    def pair_labels(self) -> dict[str, str]:
        """The compared pair's display names by the arch pair_frame gives them: transformer is the
        baseline variant (Transformer++ with QK-norm unless the study lacks it), dcformer the
        treatment."""
        return {"transformer": VARIANT_LABELS.get(self.baseline, "Transformer++"),
                "dcformer": VARIANT_LABELS.get(self.treatment, "DCFormer")}


# the caveat a verdict carries when the sweep's own runs chose the rates (confirmation.py)
OPTIMISTIC_REASONS = {"optimistic": "reason.optimistic", "pending": "reason.pending"}


def decide(runs: pd.DataFrame, study: str | None, thresholds: Thresholds = Thresholds(),
           val_curves: pd.DataFrame | None = None,
           prices: Mapping[str, float] | None = None, confirm_seeds: Collection[int] = ()
           ) -> Decision:
    """The verdict on one study (see Thresholds for the rule). Insufficient evidence, with what to
    run, when: an architecture has no counted run, runs used different corpora, runs failed or
    diverged, fewer than min_sizes sizes, fewer than min_seeds paired seeds, or no fit / speed.
    DCFormer is compared with the best cheap baseline (attribution.decisive_pair); at a size with
    runs of confirm_seeds (the confirmation stage's fresh seeds), only those runs decide."""
    scoped = with_variant(runs[study_key(runs).eq(study or "")] if not runs.empty else runs)
    baseline, treatment = decisive_pair(scoped)
    chosen = decisive_runs(scoped, confirm_seeds)
    pair = pair_frame(chosen, baseline, treatment)
    counted = counted_runs(pair)
    _, corpora = main_corpus(counted)
    tokens = compare_equal_tokens(pair)
    cost = compare_equal_cost(pair, val_curves, prices=prices) \
        if val_curves is not None else pd.DataFrame(columns=COMPARISON_COLUMNS)
    mult = compute_multiplier(pair)
    decision = Decision("INSUFFICIENT", equal_tokens=tokens, equal_cost=cost, multiplier=mult,
                        n_failed=_n_failed(scoped), corpora=corpora, baseline=baseline,
                        treatment=treatment, paper_multiplier=_plain_multiplier(chosen, baseline,
                                                                                treatment, mult))
    decision.risks = [(f"risk.{name}", {}) for name in RISKS]
    selection = pair_frame(split_confirmation(scoped, confirm_seeds)[0], baseline, treatment)
    used = _add_tuning(decision, selection, counted_runs(selection))
    add_evidence(decision, scoped, chosen, pair, selection, confirm_seeds)
    if used and decision.confirmation in FRESH_SEEDS_DECIDE:
        used = ("reason.best_lr_chosen", used[1])     # fresh seeds decide, not the sweep's runs
    used = [used] if used else []
    decision.needed = _needed(decision, counted, thresholds)
    if decision.needed:
        decision.reasons = [("reason.insufficient", {}), *used]
        return decision
    _judge(decision, thresholds)
    if any(mult.per_run["extrapolated"]):
        decision.reasons.append(("reason.extrapolated", {}))
    decision.reasons += used
    caveat = OPTIMISTIC_REASONS.get(decision.confirmation)   # rates chosen on the compared runs
    if caveat:
        decision.reasons.append((caveat, {}))
    return decision


def _n_failed(scoped: pd.DataFrame) -> int:
    """Failed or diverged finished runs, not counting a sweep's diverged high rates (each variant's
    own sweep: arch relabelled to the variant so the ladder's two Transformer++ rungs stay apart)."""
    if scoped.empty:
        return 0
    scoped = scoped.assign(arch=scoped["variant"])
    counted = counted_runs(scoped)
    finished = scoped[scoped["status"].isin(FINISHED)]
    swept_away = tuning.sweep_casualties(finished, counted)
    finished = finished[~finished["id"].isin(swept_away)] if not finished.empty else finished
    if finished.empty:
        return 0
    return int((finished["status"].eq(Status.FAILED.value) | finished["diverged"].eq(True)).sum())


def _needed(decision: Decision, counted: pd.DataFrame, thresholds: Thresholds) -> list[Reason]:
    """What to run before a verdict can be given (need.* Reasons); [] when the evidence suffices."""
    mult, tokens = decision.multiplier, decision.equal_tokens
    needed: list[Reason] = []
    for arch in ARCHS:
        if counted.empty or not counted["arch"].eq(arch).any():
            needed.append(("need.arch", {"arch": ARCH_LABELS[arch]}))
    if decision.corpora > 1:
        needed.append(("need.corpus", {"n": decision.corpora}))
    if decision.n_failed:
        needed.append(("need.failed", {"n": decision.n_failed}))
    if mult.n_sizes < thresholds.min_sizes:
        needed.append(("need.sizes", {"n": thresholds.min_sizes - mult.n_sizes,
                                      "have": mult.n_sizes}))
    # every size both architectures finished counts: one whose runs never pair by seed has 0 pairs
    # (not skipped, or the next size down would pass for the largest); a size where one side is
    # still running is left to finish
    paired = tokens.groupby("preset")["n_pairs"].min() if not tokens.empty else pd.Series(dtype=int)
    both = counted.groupby("preset")["arch"].nunique() if not counted.empty else pd.Series(dtype=int)
    sizes = set(both.index[both >= len(ARCHS)])
    pairs = int(min((paired.get(p, 0) for p in sizes), default=0))
    if pairs < thresholds.min_seeds:
        needed.append(("need.seeds", {"n": thresholds.min_seeds - pairs, "have": pairs}))
    if not math.isfinite(mult.speed_ratio):
        needed.append(("need.speed", {}))
    if not needed and not (mult.multiplier.exists and mult.net_benefit.exists):
        needed.append(mult.net_benefit.reason or mult.multiplier.reason or ("why.no_pairs", {}))
    elif not needed and math.isinf(mult.net_benefit.high) and not mult.net_benefit.low > thresholds.go_net_low \
            and not worse_beyond_doubt(tokens):
        # unbounded above and short of GO below: Transformer++'s floor is within the seeds' noise
        # of DCFormer's losses, and the interval says nothing (an infinite bound would also
        # silence NO-GO). Unbounded with a lower bound past GO's bar is still a GO.
        needed.append(("why.unbounded", {"n": mult.unbounded, "total": mult.resamples}))
    return needed


def _plain_multiplier(chosen: pd.DataFrame, baseline: str, treatment: str,
                      mult: MultiplierResult) -> MultiplierResult | None:
    """The multiplier against the paper's baseline, Transformer++ without QK-norm, on the runs the
    verdict reads: the verdict's own where that is its baseline, else one fitted on the study's
    plain Transformer++ runs (a ladder's lowest rung); None without any. The QK-norm baseline
    reaches a lower loss at each compute, so its multiplier reads lower: a study that reproduced
    the paper's 2x against plain Transformer++ was reported as contradicting it."""
    if baseline == "transformer":
        return mult
    plain = pair_frame(chosen, "transformer", treatment)
    if plain.empty or not plain["arch"].eq("transformer").any():
        return None
    # its interval matters only where the paper's row can speak: a study far below the paper's
    # scale gets the point estimate (the bootstrap took as long as the verdict's own, ~6 s)
    params = pd.to_numeric(plain["n_params"], errors="coerce").max() if "n_params" in plain else math.nan
    return compute_multiplier(plain, n_boot=BOOTSTRAP_SAMPLES if within_reach(float(params)) else 0)


def worse_beyond_doubt(tokens: pd.DataFrame) -> bool:
    """DCFormer's loss at the largest size above the baseline's beyond doubt (a NO-GO on its own)."""
    if tokens is None or tokens.empty:
        return False
    low = tokens.iloc[-1]["loss_low"]
    return low is not None and pd.notna(low) and low > 0


def _judge(decision: Decision, thresholds: Thresholds) -> None:
    """Set the verdict, its two reasons (net benefit, loss at the largest size) and what would flip
    it, once the evidence suffices. NO-GO wins over GO: either the net benefit's upper bound is
    under nogo_net_high or DCFormer's loss is worse beyond doubt at the largest size."""
    mult = decision.multiplier
    largest = decision.equal_tokens.iloc[-1]    # sorted by parameter count: the largest size measured
    net, m = mult.net_benefit, mult.multiplier
    values = {"net": net.mean, "net_low": net.low, "net_high": net.high, "m": m.mean,
              "m_low": m.low, "m_high": m.high, "ratio": mult.speed_ratio, "flops": mult.flops_ratio,
              "go": thresholds.go_net_low, "nogo": thresholds.nogo_net_high,
              "preset": largest["preset"], "diff": largest["loss_diff"],
              "diff_low": largest["loss_low"], "diff_high": largest["loss_high"]}
    low, high = largest["loss_low"], largest["loss_high"]
    interval = low is not None and high is not None and pd.notna(low) and pd.notna(high)
    # one seed: neither
    loss_better, loss_worse = interval and high < 0, worse_beyond_doubt(decision.equal_tokens)
    decision.reasons = [("reason.net", values),
                        ("reason.loss" if interval else "reason.loss_one_seed", values),
                        *_equal_cost_reason(decision.equal_cost, largest["preset"])]
    net_met = net.low > thresholds.go_net_low
    sizes = {"n": mult.n_sizes, "need": thresholds.go_min_sizes}
    sizes_short = mult.n_sizes < thresholds.go_min_sizes
    # the pooled net benefit averages the sizes: a lead that shrinks with size can clear GO's bar
    # while the largest size alone is under it, and the target is larger still
    at_largest = mult.net_by_size.get(largest["preset"], math.nan) if mult.n_sizes > 1 else math.nan
    values["net_largest"] = at_largest
    if net.high < thresholds.nogo_net_high or loss_worse:
        decision.verdict = "NO-GO"
        # NO-GO from the loss alone: no speed ratio would lift it
        flip = "flip.nogo" if net.high < thresholds.nogo_net_high else "flip.nogo_loss"
        ratio = _needed_ratio(thresholds.nogo_net_high, net.high, mult.speed_ratio)
    elif net_met and loss_better and sizes_short:
        decision.verdict, flip, ratio = "CONDITIONAL", "flip.go_sizes", math.nan
    elif net_met and loss_better and math.isfinite(at_largest) and at_largest <= thresholds.go_net_low:
        decision.verdict, flip, ratio = "CONDITIONAL", "flip.go_shrinks", math.nan
    elif net_met and loss_better:
        decision.verdict, flip = "GO", "flip.go"
        ratio = _needed_ratio(thresholds.go_net_low, net.low, mult.speed_ratio)
    else:   # say every GO condition still open: a speed ratio alone would not flip a loss tie
        decision.verdict, ratio = "CONDITIONAL", _needed_ratio(thresholds.go_net_low, net.low,
                                                               mult.speed_ratio)
        flip = _conditional_flip(net_met, loss_better, interval)
    decision.flips = [(flip, {**values, **sizes, "ratio_needed": ratio})]
    if flip in ("flip.conditional", "flip.conditional_both", "flip.conditional_one_seed_both",
                "flip.nogo") and ratio > 1 \
            and math.isfinite(mult.flops_ratio):
        # a ratio above 1 reads as a tuning target; it means DCFormer training faster than the
        # baseline while computing more per token
        decision.flips.append(("flip.faster_than_baseline",
                               {"ratio_needed": ratio, "baseline": decision.pair_labels()["transformer"],
                                "flops": mult.flops_ratio}))
    if decision.verdict == "CONDITIONAL" and not net_met and math.isfinite(net.mean):
        # more seeds narrow the interval around the point estimate: under the bar they cannot lift
        # the lower bound past it (the meeting would otherwise buy seeds to reach GO)
        decision.flips.append(("flip.narrower" if net.mean > thresholds.go_net_low
                               else "flip.seeds_cannot", values))
    if decision.verdict == "CONDITIONAL" and flip != "flip.go_sizes" and sizes_short:
        decision.flips.append(("flip.go_sizes_also", sizes))


def _equal_cost_reason(cost: pd.DataFrame | None, preset: str) -> list[Reason]:
    """The comparison that prices quality: at equal training cost, the loss difference at the
    largest size and at how many sizes DCFormer's point estimate is the lower ([] without one)."""
    if cost is None or cost.empty or not cost["preset"].eq(preset).any():
        return []
    row = cost[cost["preset"].eq(preset)].iloc[-1]
    if not pd.notna(row["loss_diff"]):
        return []
    diff = row_interval(row, "loss")
    # a size with several token budgets has a row each: the last (longest) speaks for the size
    sizes = cost.assign(d=pd.to_numeric(cost["loss_diff"], errors="coerce")).dropna(subset=["d"])
    diffs = sizes.groupby("preset", sort=False)["d"].last()
    better = int((diffs < 0).sum())
    key = "reason.cost_none" if better == 0 else "reason.cost_all" if better == len(diffs) else "reason.cost"
    return [(key, {"preset": preset, "diff": diff, "better": better, "sizes": len(diffs)})]


def _needed_ratio(bar: float, net_bound: float, speed_ratio: float) -> float:
    """The speed ratio that would put the net benefit's bound at bar, the rest as measured: the
    net benefit is proportional to the speed ratio, so the bound scales with it (the interval the
    page shows, throughput noise included). NaN for a bound of 0 or inf: no speed ratio moves it."""
    ok = 0 < net_bound < math.inf and 0 < speed_ratio < math.inf
    return bar * speed_ratio / net_bound if ok else math.nan


def _conditional_flip(net_met: bool, loss_better: bool, interval: bool) -> str:
    """The flip text of a CONDITIONAL: the net benefit short, the loss not surely lower (one seed:
    no interval), or both."""
    if loss_better:
        return "flip.conditional"
    if not interval:
        return "flip.conditional_one_seed" if net_met else "flip.conditional_one_seed_both"
    return "flip.conditional_loss" if net_met else "flip.conditional_both"


# ----------------------------------------------------------------------------- learning rates
def lr_label(lr: float) -> str:
    """A learning rate as the Launch page's grid shows it and a reader writes it: 0.001, 0.0003
    (two significant digits; the report wrote 1e-3 beside the Launch page's 0.001)."""
    return f"{float(f'{lr:.2g}'):.10f}".rstrip("0").rstrip(".")


def _swept_runs(scoped: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(every counted run of the main corpus at any rate, those plus the diverged ones): what a
    learning-rate sweep tried."""
    every = counted_runs(scoped, best_lr=False) if not scoped.empty else scoped
    if every.empty:
        return every, every
    corpus, _ = main_corpus(every)
    every = on_main_corpus(every)
    diverged = tuning.diverged_rows(scoped)
    diverged = diverged[diverged["corpus_fingerprint"].fillna("").eq(corpus)]
    return every, (pd.concat([every, diverged]) if len(diverged) else every)


def _add_tuning(decision: Decision, scoped: pd.DataFrame, counted: pd.DataFrame) -> Reason | None:
    """The learning-rate facts of a Decision: the swept cells (lr_sweep), their sensitivity, the
    risk that goes with them (risk.tuning, + risk.tuning_flip when the sign of the difference
    depends on the rate, + risk.lr_edge when a best rate is the edge of its grid; risk.untuned when
    nothing was swept); returns the reason naming the rates the comparison used (None without a
    sweep)."""
    every, swept = _swept_runs(scoped)
    sweep = tuning.swept_cells(tuning.lr_table(swept))   # the pair relabelled: name its variants
    decision.lr_sweep = sweep.assign(variant=sweep["arch"].map(
        {"transformer": decision.baseline, "dcformer": decision.treatment}))
    found = decision.lr_sensitivity = tuning.sensitivity(swept)
    if found is None:
        decision.risks.insert(0, ("risk.untuned", {}))
        return None
    labels = decision.pair_labels()   # a ladder's baseline is Transformer++ with QK-norm, relabelled
    tf_lr, dc_lr = (lr_label(found["best"][a]) for a in ("transformer", "dcformer"))
    values = {"preset": found["preset"], "baseline": labels["transformer"], "tf_lr": tf_lr,
              "dc_lr": dc_lr, "tf_spread": found["spread"]["transformer"],
              "dc_spread": found["spread"]["dcformer"]}
    # one best rate for both: the rate matters, but DCFormer needs no rate of its own
    decision.risks.insert(0, ("risk.tuning" if tf_lr != dc_lr else "risk.tuning_same", values))
    if found["flips"]:
        diffs = [(lr_label(lr), [f"{d:+.3f}"]) for lr, d in sorted(found["diff_by_lr"].items())]
        decision.risks.insert(1, ("risk.tuning_flip", {"diffs": diffs, "baseline": labels["transformer"]}))
    if found["edge"]:
        names = [labels[a] for a in found["edge"]]   # say() joins them in the reader's language
        decision.risks.insert(1, ("risk.lr_edge", {"archs": names}))
    if found["diverged"]:
        where = [(labels[a], [lr_label(x) for x in lrs]) for a, lrs in found["diverged"].items()]
        decision.risks.insert(1, ("risk.lr_diverged", {"where": where, "preset": found["preset"]}))
    used = counted[counted["id"].isin(every["id"])]
    return ("reason.best_lr", {"rates": _rates_used(used, labels), "n": len(used),
                               "excluded": len(every) - len(used)})


def _rates_used(used: pd.DataFrame, labels: dict[str, str]) -> list[tuple[str, list[str]]]:
    """[('cpu-xs', ['Transformer++ + QK-norm 3e-3', 'DCFormer 1e-3']), ('cpu-s', ...)], smallest
    size first (say() writes 'cpu-xs: ..., ...; cpu-s: ...' in the reader's language); labels: the
    pair's display name per side (arch transformer / dcformer)."""
    frame = tuning.with_lr(used)
    sizes = []
    for preset in ladder(list(frame["preset"])):
        here = frame[frame["preset"].eq(preset)]
        rates = {a: "/".join(lr_label(x) for x in sorted(set(here.loc[here["arch"].eq(a), "lr"])))
                 for a in ARCHS}
        sizes.append((preset, [f"{labels[a]} {r}" for a, r in rates.items() if r]))
    return sizes
