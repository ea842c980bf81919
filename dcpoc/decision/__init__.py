"""The decision: from a study's runs to comparisons, the compute multiplier, tuning facts, the verdict
and the next step. Torch-free and database-free: it reads frames (load.py reads them from a Store).

    facts.py       one run's study, process count, device, price per hour, $ per metric point
    inference.py   the `bench infer` result's decode speed, one definition (1 / median latency)
    stats.py       Interval, paired t interval, bootstrap percentiles, Reason (i18n key + values)
    compare.py     counted runs, main corpus, equal-token and equal-$ comparisons, speed ratio
    multiplier.py  Transformer++ compute fit, multiplier and net benefit, projection to a target
    target_speed.py the speed ratio a projection to a device kind may use (measured there, or a range)
    paper.py       the paper's published figures, and the study beside them (agrees / contradicts / cannot)
    gap.py         DCFormer minus the baseline over training, per size, paired by seed
    tuning.py      learning-rate sweeps: best rates, sensitivity, casualties
    attribution.py the ablation ladder: the decisive pair (DCFormer vs the best cheap baseline),
                   the gain split into its QK-norm part and its DCMHA part, the pooled interval
    confirmation.py the confirmation stage's fresh seeds decide (no winner's curse)
    evidence.py    how sure a Decision is, in words (baseline, attribution, pooled, 2 seeds)
    verdict.py     Thresholds, Decision, decide()
    views.py       the tables pages show (runs listing, headline, Pareto front, config differences)
    next_step.py   the runs that answer a Decision's open items, and their cost
    load.py        load_decision(): the one entry point for the Overview, Decision page, report, CLI
"""
from __future__ import annotations

from importlib import import_module
from typing import Any

# facts first: dcpoc.studies imports run_nproc from here, and compare's import of dcpoc.runs.status
# loads dcpoc.runs, which loads dcpoc.studies, while this package is still half built.
from .facts import run_nproc, study_key, with_cost  # isort: skip
from .compare import compare_equal_cost, compare_equal_tokens, counted_runs, main_corpus
from .multiplier import Projection, compute_multiplier, fit_compute_curve, project
from .stats import Interval, Reason, paired_t_interval, t_quantile_975
from .verdict import Decision, Thresholds, decide, lr_label
from .views import (config_differences, downsample, filter_runs, headline_by_preset, headline_studies,
                    live_runs_table, run_environment, run_summary, runs_table, status_counts)

# load.py and next_step.py plan runs with dcpoc.studies, whose estimates import run_nproc from here:
# loading them on first use lets `import dcpoc.studies` come first without a cycle.
# (The function next_step is not exported: the submodule of that name would shadow it here.)
_LAZY = {"load_decision": "load", "StudyDecision": "load", "Target": "load", "NextStep": "next_step"}

__all__ = ["Decision", "Interval", "Projection", "Reason", "Thresholds", "compare_equal_cost",
           "compare_equal_tokens", "compute_multiplier", "config_differences", "counted_runs",
           "decide", "downsample", "filter_runs", "fit_compute_curve", "headline_by_preset",
           "headline_studies", "live_runs_table", "lr_label", "main_corpus", "paired_t_interval",
           "project", "run_environment", "run_nproc", "run_summary", "runs_table", "status_counts",
           "study_key", "t_quantile_975", "with_cost", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
