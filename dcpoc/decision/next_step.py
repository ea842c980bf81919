"""The next step of a study: the concrete runs that answer a Decision's open items (larger sizes, more
seeds, the missing architecture, failed runs again), planned with the study's own settings as read
back from its runs, and what they will cost (studies.estimate_study)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np
import pandas as pd

from ..config import ARCHS, PRESETS, VARIANT_LABELS, VARIANTS, ConfigError, RunConfig, make_config
from ..counts import count_parameters
from ..runs.status import ACTIVE
from ..studies import (StudySpec, ThroughputKey, estimate_device, estimate_study, ladder,
                       measured_throughput, plan_study, runnable_presets)
from ..studies.spec import lane
from . import tuning
from .compare import counted_runs
from .confirmation import chosen_rates
from .facts import run_nproc, study_key, with_variant
from .stats import Reason


@dataclass
class NextStep:
    """The runs that answer a Decision's open items, and what they cost: parts are i18n Reasons
    (next.what.*) naming what is run, specs the StudySpecs planned (each a grid of the study's
    corpus, steps and nproc), plan every RunConfig, estimate estimate_study's totals on device."""
    parts: list[Reason]
    specs: list[StudySpec]
    plan: list[RunConfig]
    estimate: dict[str, float]
    device: str


def _scoped(runs: pd.DataFrame, study: str | None) -> pd.DataFrame:
    return runs[study_key(runs).eq(study or "")]


# ----------------------------------------------------------------------------- what the study ran
def study_spec_from_runs(runs: pd.DataFrame, study: str | None) -> StudySpec | None:
    """What the study ran, read back from its runs: presets (ladder order), archs, seeds, corpus
    (the most used), nproc, and the step budget (one shared step count; None where every run used
    its preset's default; otherwise the token budget the runs shared, else the largest step count).
    None for a study without runs."""
    if runs.empty:
        return None
    scoped = _scoped(runs, study)
    scoped = scoped[scoped["preset"].isin(list(PRESETS))]
    if scoped.empty:
        return None
    spec = StudySpec(name=study or "next", corpus=str(scoped["corpus_spec"].dropna().mode().iloc[0])
                     if scoped["corpus_spec"].notna().any() else "pydoc",
                     presets=ladder(list(scoped["preset"])),
                     archs=[a for a in ARCHS if a in set(scoped["arch"])],
                     seeds=sorted({int(s) for s in scoped["seed"].dropna()}) or [1],
                     nproc=max(run_nproc(c) for c in scoped["config"]))
    _read_budget(spec, scoped)
    threads = {int((c.get("train") or {}).get("threads", 0)) for c in scoped["config"]
               if isinstance(c, dict)}
    if len(threads) == 1 and threads != {0}:
        spec.overrides = [f"threads={threads.pop()}"]
    rates = tuning.with_lr(scoped).groupby("preset")["lr"].apply(lambda x: sorted(set(x.dropna())))
    if len(rates) and all(len(r) > 1 for r in rates):      # every size swept: sweep the next ones
        spec.sweep, spec.lr_grid = "each", sorted({lr for r in rates for lr in r})
    return spec


def _read_budget(spec: StudySpec, scoped: pd.DataFrame) -> None:
    """Sets spec's steps, tokens_per_param or tokens from the budget the scoped runs shared."""
    steps = (pd.to_numeric(scoped["total_steps"], errors="coerce").dropna().astype(int)
             if "total_steps" in scoped else pd.Series(dtype=int))
    steps = steps[steps > 0]   # a row without a resolved config (total_steps 0) says nothing
    defaults = scoped["preset"].map(lambda p: PRESETS[p]["train"]["steps"])
    ratio = _tokens_per_param(scoped)
    if steps.nunique() == 1:
        spec.steps = int(steps.iloc[0])
    elif len(steps) and (steps.to_numpy() == defaults.loc[steps.index].to_numpy()).all():
        spec.steps = None
    elif ratio is not None:
        spec.tokens_per_param = ratio
    else:
        tokens = (pd.to_numeric(scoped["tokens_seen"], errors="coerce").dropna()
                  if "tokens_seen" in scoped else pd.Series(dtype=float))
        if len(tokens) and tokens.nunique() == 1:
            spec.tokens = int(tokens.iloc[0])
        else:
            spec.steps = int(steps.max()) if len(steps) else None


def _tokens_per_param(scoped: pd.DataFrame) -> float | None:
    """The tokens-per-parameter ratio runs of several presets share (within 2%), else None."""
    ratios = []
    for preset, config, steps in zip(scoped["preset"], scoped["config"], scoped["total_steps"]):
        config = config if isinstance(config, dict) else {}
        model, train = config.get("model", {}), config.get("train", {})
        if not (model and train and steps):
            return None
        params = count_parameters(make_config("transformer", preset).model)["non_embedding"]
        ratios.append(int(steps) * train.get("batch_size", 0) * model.get("seq_len", 0) / params)
    if scoped["preset"].nunique() < 2 or not ratios or min(ratios) <= 0:
        return None
    return float(f"{np.median(ratios):.2g}") if max(ratios) / min(ratios) < 1.02 else None


def _study_device(runs: pd.DataFrame, study: str | None) -> str:
    """The device most of the study's runs trained on; before any has, the device its runs ask
    for (cuda: priced on the planning GPU)."""
    scoped = _scoped(runs, study) if not runs.empty else runs
    devices = scoped["device"].dropna() if "device" in scoped else pd.Series(dtype=object)
    if len(devices):
        return str(devices.mode().iloc[0])
    asked = [(c.get("train") or {}).get("device", "auto") if isinstance(c, dict) else "auto"
             for c in scoped.get("config", [])]
    return estimate_device("cuda" if "cuda" in asked else "cpu", None)


# ----------------------------------------------------------------------------- what to run next
# an INSUFFICIENT whose compute curve cannot give the multiplier an interval
CURVE_REASONS = {"why.beyond_fit", "why.unbounded", "why.bootstrap_degenerate", "why.flat_curve"}


def _needed(decision) -> dict[str, dict] | None:
    """The open items to plan for, by need.* key: the Decision's own; for GO the next larger size;
    for CONDITIONAL one more seed (a larger size where more seeds cannot give GO), and the sizes GO
    still lacks (larger ones: "above"); None for NO-GO."""
    if decision.verdict == "NO-GO":
        return None
    if decision.verdict == "GO":
        return {"need.sizes": {"n": 1, "above": True}}
    if decision.verdict != "CONDITIONAL":
        needed = {key: values for key, values in decision.needed}
        if needed.keys() & CURVE_REASONS:      # a larger size gives the curve a lower loss to fit
            needed.setdefault("need.sizes", {"n": 1, "above": True})
            needed.setdefault("need.seeds", {"n": 1})
        return needed
    flips = dict(decision.flips)
    sizes = flips.get("flip.go_sizes") or flips.get("flip.go_sizes_also")
    needed = {"need.sizes": {"n": sizes["need"] - sizes["n"], "above": True}} if sizes else {}
    if flips.keys() & {"flip.seeds_cannot", "flip.go_shrinks", "flip.target_go"}:
        # the net benefit's point estimate is under GO's bar (pooled, at the largest size, or at
        # the speed measured on the target GPU):
        # seeds only narrow the interval around it, so the runs that can change the answer are a
        # larger size (the multiplier there); the speed on the target GPU is the other
        # (StudyDecision.speed_first)
        needed.setdefault("need.sizes", {"n": 1, "above": True})
    elif "flip.go_sizes" not in flips:         # a loss or net benefit still open: another seed
        needed["need.seeds"] = {"n": 1}
    return needed


def _larger_presets(spec: StudySpec, n: int, device: str, above: bool = False) -> list[str]:
    """The next n presets of the ladder the study has not run that device can run (a CPU: its
    rungs only), larger ones first after its largest; unless above, smaller unrun ones when those
    end (never the test preset tiny)."""
    order = list(PRESETS)
    largest = max(order.index(p) for p in spec.presets)
    runnable = [p for p in runnable_presets(None if device == "cpu" else device) if p not in spec.presets]
    larger = [p for p in runnable if order.index(p) > largest]
    smaller = [] if above else [p for p in reversed(runnable) if order.index(p) < largest and p != "tiny"]
    return (larger + smaller)[:max(n, 0)]


def _new_seeds(taken: list[int], n: int) -> list[int]:
    start = max(taken) + 1
    return list(range(start, start + max(n, 0)))


def _part(key: str, spec: StudySpec, **params: list[str]) -> Reason:
    """A next.what.* Reason (lists, which say() joins in the reader's language); a ladder study's
    names its variants (key + "_ladder")."""
    if spec.variants:
        return f"{key}_ladder", {**params, "variants": [VARIANT_LABELS.get(v, v) for v in spec.variants]}
    return key, params


def _growth(spec: StudySpec, needed: dict[str, dict], base: dict, confirm_seeds: list[int],
            sweep: str, device: str) -> tuple[list[StudySpec], list[Reason]]:
    """need.sizes: the next larger preset(s) for every lane with the study's sweep seeds (new
    ones included) and, in a study with a confirmation stage, its confirmation seeds; need.seeds:
    new seeds at every preset, new presets included: in a study with a confirmation stage, fresh
    confirmation seeds at each lane's chosen rate (no new sweep). sweep: the study's own sweep
    setting (a sweep at the smallest size reads back from the runs as none)."""
    specs: list[StudySpec] = []
    parts: list[Reason] = []
    sizes = needed.get("need.sizes")
    new_presets = _larger_presets(spec, sizes["n"], device, bool(sizes.get("above"))) if sizes else []
    # after every seed the study has run or will run (fresh seeds still to come are taken too)
    new_seeds = _new_seeds(spec.seeds + confirm_seeds, needed["need.seeds"]["n"]) \
        if "need.seeds" in needed else []
    into_confirm = bool(confirm_seeds and sweep != "none")
    if new_presets:
        sweep_seeds = [s for s in spec.seeds if s not in confirm_seeds] or spec.seeds
        grown = (dict(seeds=sweep_seeds, confirm_seeds=confirm_seeds + new_seeds) if into_confirm
                 else dict(seeds=spec.seeds + new_seeds))
        specs.append(StudySpec(presets=new_presets, **grown, **base))
        every_seed = grown["seeds"] + grown.get("confirm_seeds", [])
        parts.append(_part("next.what.sizes", spec, presets=list(new_presets),
                           seeds=[str(s) for s in every_seed]))
    if new_seeds:
        again = {**base, "sweep": "none", "lr_grid": []} if into_confirm else base
        specs.append(StudySpec(presets=list(spec.presets), seeds=new_seeds, **again))
        # the sizes already run only: a new size runs these seeds in its own part above, and
        # naming it twice read as twice the runs
        parts.append(_part("next.what.confirm" if into_confirm else "next.what.seeds", spec,
                           seeds=[str(s) for s in new_seeds], presets=list(spec.presets)))
    return specs, parts


def _missing_arch(spec: StudySpec, needed: dict[str, dict], base: dict
                  ) -> tuple[list[StudySpec], list[Reason]]:
    """need.arch: the architecture the study lacks, at its presets and seeds."""
    missing = [a for a in ARCHS if a not in spec.archs]
    if "need.arch" not in needed or not missing:
        return [], []
    return ([StudySpec(presets=list(spec.presets), seeds=list(spec.seeds),
                       **{**base, "archs": missing, "variants": []})],
            [("next.what.arch", {"arch": needed["need.arch"]["arch"],
                                 "presets": list(spec.presets)})])


def _failed_again(runs: pd.DataFrame, study: str | None, needed: dict[str, dict], base: dict
                  ) -> tuple[list[StudySpec], list[Reason]]:
    """need.failed: each failed or diverged run again at its own rate, except the high rates a
    sweep lost (tuning.sweep_casualties), which are a sweep's result rather than a failure."""
    if "need.failed" not in needed:
        return [], []
    scoped = with_variant(_scoped(runs, study))
    scoped = scoped[scoped["arch"].isin(list(ARCHS))]
    if base["variants"]:   # a ladder's two Transformer++ rungs are separate sweep cells
        scoped = scoped.assign(arch=scoped["variant"])
    failed = scoped[scoped["status"].eq("failed") | scoped["diverged"].eq(True)]
    failed = failed[failed["preset"].isin(list(PRESETS))
                    & ~failed["id"].isin(tuning.sweep_casualties(scoped, counted_runs(scoped)))]
    specs = []
    for row in failed.itertuples():
        again = {**base, "sweep": "none", "lr_grid": [],
                 "overrides": base["overrides"] + [f"lr={tuning.run_lr(row.config)!r}"]}
        lanes = {"variants": [row.variant]} if base["variants"] else {"archs": [row.arch]}
        specs.append(StudySpec(presets=[row.preset], seeds=[int(row.seed)], **{**again, **lanes}))
    return specs, ([("next.what.failed", {"n": len(failed)})] if len(failed) else [])


def _chosen_rates(runs: pd.DataFrame, study: str | None, spec: StudySpec,
                  confirmed: Mapping[str, float]) -> dict[str, float]:
    """"PRESET LANE" -> the rate each lane runs at (lane: variant in a ladder study, else arch):
    the confirmation stage's chosen rates where it was queued, else each lane's best swept rate
    per preset; {} for a study that swept nothing (every run keeps its preset's rate)."""
    if confirmed:
        return dict(confirmed)
    scoped = _scoped(runs, study) if not runs.empty else runs
    if scoped.empty or "final_val_loss" not in scoped:
        return {}
    return chosen_rates(scoped, spec.presets, bool(spec.variants), swept_only=True)


def _at_chosen_rates(plan: list[RunConfig], spec: StudySpec, rates: Mapping[str, float]) -> None:
    """Each run at its lane's chosen rate at its size, or (a new size) the rate its lane carries
    from the largest size that has one, as the study's own later stage does."""
    by_size = list(reversed(ladder(list(PRESETS))))
    for run in plan:
        one = lane(spec, run)
        found = rates.get(f"{run.preset} {one}")
        for preset in by_size if found is None else []:
            found = rates.get(f"{preset} {one}")
            if found is not None:
                break
        if found is not None:
            run.train.lr = found


def _plan(specs: list[StudySpec], rates: Mapping[str, float]) -> list[RunConfig] | None:
    """Every spec's runs (a run without its own rate or sweep at its lane's chosen rate), or None
    where the study's own settings no longer plan (e.g. an edited preset)."""
    plan = []
    try:
        for one in specs:
            planned = plan_study(one)
            if one.sweep == "none" and not any(o.startswith("lr=") for o in one.overrides):
                _at_chosen_rates(planned, one, rates)
            plan += planned
    except ConfigError:
        return None
    return plan


def next_step(decision, runs: pd.DataFrame, study: str | None, device_name: str | None = None,
              measured: Mapping[ThroughputKey, float] | None = None,
              prices: Mapping[str, float] | None = None,
              study_config: Mapping | None = None) -> NextStep | None:
    """The concrete runs for a Decision (decision.Decision) and their estimate (estimate_study on
    device_name, default the device most of the study's runs used; throughput measured from the
    runs where available). need.sizes: the next larger unrun preset(s) for every lane (both
    architectures, or a ladder study's variants) and the study's seeds; need.seeds: new seeds (after the largest) at every preset, new presets
    included; need.arch: the missing architecture at the study's presets and seeds; need.failed:
    the failed runs again. CONDITIONAL: one more seed at every size (a larger size instead where
    seeds cannot give GO: flip.seeds_cannot); GO: the next larger preset to confirm; NO-GO, or nothing to plan: None. study_config (the study's stored config): a ladder
    study plans its variants, and one with a confirmation stage adds confirmation seeds at the
    chosen rates instead of sweeping again. None while some of the study's runs are queued or
    running: what they add decides what is still missing."""
    if not runs.empty and _scoped(runs, study)["status"].isin(ACTIVE).any():
        return None
    spec = study_spec_from_runs(runs, study)
    needed = _needed(decision) if spec is not None else None
    if needed is None:
        return None
    config = study_config or {}
    spec.variants = [v for v in config.get("variants") or [] if v in VARIANTS]
    confirm_seeds = [int(s) for s in config.get("confirm_seeds") or []]
    confirmed = config.get("confirmed_lr") or {} if config.get("confirm_stage") == "queued" else {}
    base = dict(name=spec.name, question="", corpus=spec.corpus, steps=spec.steps, tokens=spec.tokens,
                tokens_per_param=spec.tokens_per_param, overrides=list(spec.overrides),
                sweep=spec.sweep, lr_grid=list(spec.lr_grid), device="auto", nproc=spec.nproc,
                variants=list(spec.variants))
    device = device_name or _study_device(runs, study)
    specs, parts = [], []
    for more_specs, more_parts in (_growth(spec, needed, base, confirm_seeds,
                                           str(config.get("sweep") or spec.sweep), device),
                                   _missing_arch(spec, needed, base),
                                   _failed_again(runs, study, needed, base)):
        specs += more_specs
        parts += more_parts
    plan = _plan(specs, _chosen_rates(runs, study, spec, confirmed)) if specs else None
    if plan is None:
        return None
    measured = measured_throughput(runs) if measured is None else measured
    return NextStep(parts, specs, plan, estimate_study(plan, device, measured, prices), device)
