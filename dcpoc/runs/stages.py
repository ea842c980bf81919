"""A study's stages in the queue: launch_study queues the first stage; with a learning-rate sweep at
the smallest size, workers queue the larger sizes (each architecture at its best swept rate) once
the sweep has finished, exactly once however many workers look."""
from __future__ import annotations

import dataclasses

from ..config import ConfigError
from ..decision.tuning import best_lrs, run_lr
from ..studies.spec import StudySpec, carry_lr, ladder, plan_stages, validate_name
from .lifecycle import create_run, run_row, write_run_files
from .paths import say
from .registry import start_workers
from .status import ACTIVE, DONE, Status
from .store import Store, StoreError


def launch_study(store: Store, spec: StudySpec, *, start_worker: bool = True) -> list[str]:
    """Queue the study's first stage (ConfigError / CorpusError before anything is written) and
    start a worker unless one is alive; returns the run ids in queue order. With a sweep at the
    smallest size, the larger sizes are queued by advance_studies once the sweep has finished."""
    from ..data import load_corpus    # reads the corpus once: validation and fingerprint
    plan = plan_stages(spec)
    corpus = load_corpus(spec.corpus)
    name = validate_name(spec.name)
    config = {**dataclasses.asdict(spec), "later_stage": "waiting" if plan.later else "none"}
    if plan.later and store.get_study(name) is not None:
        raise ConfigError(f"study '{name}' exists; a sweep at the smallest size queues its larger "
                          "sizes later and needs a study of its own: choose a new name")
    store.ensure_study(name, spec.question, config=config)
    ids = [create_run(store, run, corpus_fingerprint=corpus.fingerprint, study=name)
           for run in plan.first]
    if start_worker:
        start_workers(store, spec.workers)
    return ids


def study_stage(store: Store, name: str) -> dict:
    """Where a study with a sweep at its smallest size stands: state "none" (no later stage),
    "sweeping" (sweep runs still queued or running), "blocked" (the sweep ended without a finished
    run, succeeded or diverged, for every planned rate, seed and architecture: missing lists them;
    retry those runs), "ready" (best holds each architecture's best rate), or "queued" (the
    larger sizes were queued, with best)."""
    study = store.get_study(name)
    config = study["config"] if study else {}
    later = config.get("later_stage", "none")
    if later == "queued":
        return {"state": "queued", "best": config.get("carried_lr", {})}
    if later != "waiting":
        return {"state": "none"}
    spec = StudySpec(**{k: v for k, v in config.items() if k in StudySpec.__dataclass_fields__})
    smallest = ladder(spec.presets)[0]
    runs = store.list_runs(study=name)
    sweep = runs[runs["preset"].eq(smallest)] if not runs.empty else runs
    if sweep["status"].isin(ACTIVE).any():
        done = int(sweep["status"].isin(DONE).sum())
        return {"state": "sweeping", "spec": spec, "done": done, "total": len(sweep)}
    finished = sweep[sweep["status"].eq(Status.SUCCEEDED) | sweep["diverged"].eq(True)]
    have = {(a, lr, int(seed)) for a, lr, seed in
            zip(finished["arch"], finished["config"].map(run_lr), finished["seed"])}
    missing = [f"{r.model.arch} lr {r.train.lr:g} seed {r.train.seed}"
               for r in plan_stages(spec).first
               if (r.model.arch, r.train.lr, r.train.seed) not in have]
    from ..decision import counted_runs   # here: decision imports runs.status, so not at the top
    best = best_lrs(counted_runs(sweep), smallest)
    missing += [f"{a}: no run finished" for a in spec.archs if a not in best and not missing]
    if missing:
        return {"state": "blocked", "spec": spec, "missing": missing}
    fingerprints = sweep["corpus_fingerprint"].dropna()
    return {"state": "ready", "spec": spec, "best": best,
            "fingerprint": str(fingerprints.iloc[0]) if len(fingerprints) else ""}


def advance_studies(store: Store) -> list[str]:
    """Queue the larger sizes of every study whose sweep has finished, each architecture at its
    best swept rate; returns the new run ids. Safe from several workers at once: the study's stage
    flips from waiting to queued in the same transaction that inserts the runs. A study that
    cannot advance (an edited preset, a locked database) is reported and skipped."""
    return advance_stages(store)[0]


def advance_stages(store: Store) -> tuple[list[str], bool]:
    """advance_studies, and whether a study's later stage was still to come when looked at (sweep
    runs queued or running, or the sweep done): a worker that would otherwise stop keeps polling
    for it."""
    new_ids: list[str] = []
    waiting = False
    for name in _waiting_studies(store):
        try:
            stage = study_stage(store, name)
            waiting = waiting or stage["state"] in ("sweeping", "ready")
            if stage["state"] != "ready":
                continue
            runs = carry_lr(plan_stages(stage["spec"]).later, stage["best"])
            rows = [run_row(run, stage["fingerprint"]) for run in runs]
            ids = store.advance_study(name, "later_stage", "waiting",
                                      {"later_stage": "queued", "carried_lr": stage["best"]}, rows)
            for run_id, run in zip(ids or [], runs):
                write_run_files(store, run_id, run)
            new_ids += ids or []
        except (ConfigError, StoreError, ValueError, KeyError) as e:
            say(f"study {name}: the larger sizes cannot be queued yet ({e})")
    return new_ids, waiting


def _waiting_studies(store: Store) -> list[str]:
    return [row.name for row in store.list_studies().itertuples()
            if isinstance(row.config, dict) and row.config.get("later_stage") == "waiting"]
