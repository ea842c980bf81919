"""The speed ratio a projection to a target device kind may use. A study's DCFormer / Transformer++
tokens/s ratio says how the two ran *where the study ran*: on a CPU that is dcpoc's PyTorch path on a
CPU, which says nothing about the Triton kernel on an H100. So a projection to a kind uses a ratio
measured on that kind, in this order:

  1. the study's own runs on that kind (both architectures);
  2. the newest `bench model` result on that kind (its preset nearest the target in parameters);
and without one it uses a RANGE, labelled "not measured on <kind>": the paper's reported ratios at
the target's size (paper.paper_speed_ratio), widened by our ratios measured on other GPU kinds
(a CPU's never: another code path on other hardware).

A Triton self-check on that kind (selfchecks) times DCMHA attention alone, Triton against PyTorch:
it is not a whole-model DCFormer / Transformer++ ratio, so it never sets the ratio; it is shown as
supporting evidence (the kernel ran on that GPU, and how much faster than the PyTorch path).
Torch-free and database-free: the caller passes benchmark and self-check rows."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import costs
from .compare import counted_runs, on_main_corpus, study_speed_ratio
from .facts import device_label
from .paper import paper_speed_ratio


@dataclass(frozen=True)
class TargetSpeed:
    """Where the target's speed ratio comes from. measured: ratio was measured on the target's kind
    (low == high == ratio); otherwise low / high bound the range the projection is given over.
    source: 'study' | 'bench' | 'range'. study_device / study_ratio: what the study measured
    (shown, never used for another kind). kernel_speedup: PyTorch / Triton attention time of the
    newest passed self-check on the target's kind (NaN without one)."""
    kind: str
    measured: bool
    ratio: float
    low: float
    high: float
    source: str
    detail: str
    study_device: str
    study_ratio: float
    paper_low: float
    paper_high: float
    kernel_speedup: float = math.nan

    @property
    def study_kind(self) -> str:
        """The device kind the study's own ratio was measured on ('cpu', 'h100', ...)."""
        return label_kind(self.study_device)


def label_kind(label: str) -> str:
    """'h100 x8' -> 'h100'; a device name ('NVIDIA H100 80GB') -> its kind."""
    return costs.device_kind(str(label).split(" x")[0]) if label else ""


def _study_ratio_on(runs: pd.DataFrame, kind: str) -> float:
    """The study's DCFormer / Transformer++ ratio from its runs on one device kind (one process),
    per size as the verdict reads it (compare.study_speed_ratio)."""
    counted = on_main_corpus(counted_runs(runs)) if not runs.empty else runs
    if counted.empty:
        return math.nan
    counted = counted.assign(speed_device=[device_label(d, c)
                                           for d, c in zip(counted["device"], counted["config"])])
    return study_speed_ratio(counted, kind)


def _bench_ratio(benchmarks: list[dict], kind: str, params: float) -> tuple[float, str]:
    """The newest `bench model` result on kind: its ratio at the preset nearest params (log scale)."""
    for row in benchmarks:
        result = row.get("result") or {}
        if label_kind((result.get("machine") or {}).get("device", "")) != kind:
            continue
        ratios = result.get("dcformer_over_transformer") or {}
        sizes = {r["preset"]: float(r.get("params") or 0) for r in result.get("rows", [])}
        usable = [p for p in ratios if sizes.get(p, 0) > 0 and math.isfinite(ratios[p])]
        if not usable:
            continue
        best = min(usable, key=lambda p: abs(math.log(sizes[p]) - math.log(params)))
        return float(ratios[best]), f"bench model {best}, {str(result.get('date', ''))[:10]}"
    return math.nan, ""


def _other_gpu_ratios(benchmarks: list[dict], kind: str, params: float,
                      study_device: str, study_ratio: float) -> list[float]:
    """Our ratios measured on GPU kinds other than the target's (newest bench per kind, and the
    study's own when it ran on a GPU)."""
    found = {}
    for row in benchmarks:
        other = label_kind(((row.get("result") or {}).get("machine") or {}).get("device", ""))
        if other not in ("", "cpu", kind) and other not in found:
            ratio, _ = _bench_ratio([row], other, params)
            if math.isfinite(ratio):
                found[other] = ratio
    if label_kind(study_device) not in ("", "cpu", kind) and math.isfinite(study_ratio):
        found.setdefault(label_kind(study_device), study_ratio)
    return list(found.values())


def _kernel_speedup(selfchecks: list[dict], kind: str) -> float:
    for row in selfchecks:
        if label_kind(row.get("gpu_name", "")) == kind and (row.get("triton_ms") or 0) > 0 \
                and (row.get("torch_ms") or 0) > 0:
            return float(row["torch_ms"]) / float(row["triton_ms"])
    return math.nan


def target_speed(runs: pd.DataFrame, study_device: str, study_ratio: float, kind: str, params: float,
                 benchmarks: list[dict] | None = None, selfchecks: list[dict] | None = None
                 ) -> TargetSpeed:
    """The speed ratio for a projection to `kind` at `params` parameters (see the module's order).
    ``runs``: the study's runs; study_device / study_ratio: its MultiplierResult's speed_device and
    speed_ratio; ``benchmarks``: Store.list_benchmarks('model') rows, newest first;
    ``selfchecks``: runs.selfcheck_rows.read_selfchecks(store, passed_only=True), newest first."""
    benchmarks, selfchecks = benchmarks or [], selfchecks or []
    paper_low, paper_high = paper_speed_ratio(params)
    common = dict(kind=kind, study_device=study_device, study_ratio=study_ratio, paper_low=paper_low,
                  paper_high=paper_high, kernel_speedup=_kernel_speedup(selfchecks, kind))
    ratio = study_ratio if label_kind(study_device) == kind and math.isfinite(study_ratio) \
        else _study_ratio_on(runs, kind)
    if math.isfinite(ratio):
        return TargetSpeed(measured=True, ratio=ratio, low=ratio, high=ratio, source="study",
                           detail="", **common)
    ratio, detail = _bench_ratio(benchmarks, kind, params)
    if math.isfinite(ratio):
        return TargetSpeed(measured=True, ratio=ratio, low=ratio, high=ratio, source="bench",
                           detail=detail, **common)
    band = [paper_low, paper_high, *_other_gpu_ratios(benchmarks, kind, params, study_device,
                                                      study_ratio)]
    return TargetSpeed(measured=False, ratio=math.nan, low=float(np.min(band)),
                       high=float(np.max(band)), source="range", detail="", **common)
