"""A study's stages in the queue: launch_study queues the first stage; with a learning-rate sweep at
the smallest size, workers queue the larger sizes (each architecture at its best swept rate) once
the sweep has finished, exactly once however many workers look. With confirmation seeds, once every
earlier run has finished, workers queue the confirmation stage the same way: fresh seeds at each
variant's chosen rate at every size (decision/confirmation.py says why)."""
from __future__ import annotations

import dataclasses

from ..config import ConfigError, variant_of
from ..decision.tuning import run_lr
from ..studies.spec import (StudySpec, carry_lr, ladder, lane, plan_confirmation, plan_stages,
                            validate_name)
from .lifecycle import (folders_removed_on_failure, queued_row, refuse_recorded, remove_folders,
                        run_row, write_config)
from .paths import say, writable_home
from .registry import start_workers
from .status import ACTIVE, DONE, Status
from .store import Store, StoreError, new_run_id


def launch_study(store: Store, spec: StudySpec, *, start_worker: bool = True) -> list[str]:
    """Queue the study's first stage (ConfigError / CorpusError before anything is written) and
    start a worker unless one is alive; returns the run ids in queue order. With a sweep at the
    smallest size, the larger sizes are queued by advance_studies once the sweep has finished."""
    from ..data import load_corpus    # reads the corpus once: validation and fingerprint
    plan = plan_stages(spec)
    corpus = load_corpus(spec.corpus)
    name = validate_name(spec.name)
    refuse_recorded(store, name)
    writable_home()
    if spec.executor != "local":   # the scheduler and the cluster are checked before any write
        from .executors import check_cluster, slurm_options
        check_cluster(store, slurm_options(store, spec))
    config = {**dataclasses.asdict(spec), "later_stage": "waiting" if plan.later else "none",
              "confirm_stage": "waiting" if plan.confirm else "none"}
    if (plan.later or plan.confirm) and store.get_study(name) is not None:
        raise ConfigError(f"study '{name}' exists; a study whose later stages are queued by the "
                          "workers (a sweep at the smallest size queues its larger sizes, a "
                          "confirmation stage its fresh seeds) needs a study of its own: choose a "
                          "new name")
    # the runs' files first, then the study and its runs in one transaction, the launch's only
    # write to the database: a launch the database refuses queues nothing
    ids = [new_run_id() for _ in plan.first]
    with folders_removed_on_failure(ids):    # a refused write (read-only, locked) leaves none
        rows = [{**queued_row(run, corpus.fingerprint, spec.executor), "run_id": run_id,
                 "log_path": write_config(run_id, run)} for run_id, run in zip(ids, plan.first)]
        store.queue_study(name, spec.question, config, rows)
    if spec.executor == "slurm":
        from .executors import submit_queued
        submit_queued(store, ids)
    if start_worker:   # for SLURM: the worker loop reconciles the jobs (and queues later stages)
        start_workers(store, spec.workers)
    return ids


def study_stage(store: Store, name: str) -> dict:
    """Where a study with a sweep at its smallest size stands: state "none" (no later stage),
    "sweeping" (sweep runs still queued or running), "blocked" (the sweep ended without a finished
    run, succeeded or diverged, for every planned rate, seed and architecture: missing lists them;
    retry those runs), "ready" (best holds each lane's best rate: studies.spec.lane), or "queued"
    (the larger sizes were queued, with best)."""
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
    sweep = _by_lane(spec, runs[runs["preset"].eq(smallest)] if not runs.empty else runs)
    if sweep["status"].isin(ACTIVE).any():
        done = int(sweep["status"].isin(DONE).sum())
        return {"state": "sweeping", "spec": spec, "done": done, "total": len(sweep)}
    finished = sweep[sweep["status"].eq(Status.SUCCEEDED) | sweep["diverged"].eq(True)]
    have = {(a, lr, int(seed)) for a, lr, seed in
            zip(finished["arch"], finished["config"].map(run_lr), finished["seed"])}
    shown = _variant_names(spec)
    missing = [f"{shown[lane(spec, r)]} lr {r.train.lr:g} seed {r.train.seed}"
               for r in plan_stages(spec).first
               if (lane(spec, r), r.train.lr, r.train.seed) not in have]
    from ..decision.confirmation import chosen_rates   # here: decision imports runs.status
    best = {key.removeprefix(f"{smallest} "): lr      # "PRESET LANE" -> LANE
            for key, lr in chosen_rates(sweep, [smallest], bool(spec.variants)).items()}
    missing += [f"{shown[a]}: no run finished" for a in sorted(shown)
                if a not in best and not missing]
    if missing:
        return {"state": "blocked", "spec": spec, "missing": missing}
    fingerprints = sweep["corpus_fingerprint"].dropna()
    return {"state": "ready", "spec": spec, "best": best,
            "fingerprint": str(fingerprints.iloc[0]) if len(fingerprints) else ""}


def _variant_names(spec: StudySpec) -> dict[str, str]:
    """Each lane of the study's first stage -> its variant as `runs` names it (an older study's
    lane is the arch: 'transformer' is 'transformer-qknorm' there)."""
    return {lane(spec, r): variant_of(r.model.arch, r.model.qk_norm) for r in plan_stages(spec).first}


def _by_lane(spec: StudySpec, runs):
    """runs with arch replaced by what a rate is chosen for (studies.spec.lane): a ladder study's
    two Transformer++ variants choose their rates apart."""
    if not spec.variants or runs.empty:
        return runs
    return runs.assign(arch=runs["variant"])


def _spec(config: dict) -> StudySpec:
    return StudySpec(**{k: v for k, v in config.items() if k in StudySpec.__dataclass_fields__})


def confirm_stage(store: Store, name: str) -> dict:
    """Where a study's confirmation stage stands: "none" (it has none), "waiting" (earlier runs
    queued or running, or the larger sizes not queued yet), "blocked" (a size and variant without
    a finished run: missing lists them), "ready" (best: "PRESET LANE" -> chosen rate), "queued"."""
    config = (store.get_study(name) or {}).get("config") or {}
    state = config.get("confirm_stage", "none")
    if state == "queued":
        return {"state": "queued", "best": config.get("confirmed_lr", {})}
    if state != "waiting":
        return {"state": "none"}
    spec = _spec(config)
    runs = store.list_runs(study=name)
    earlier = runs[~runs["seed"].isin(spec.confirm_seeds)] if len(runs) else runs
    if config.get("later_stage") == "waiting" or earlier["status"].isin(ACTIVE).any():
        return {"state": "waiting", "spec": spec}
    from ..decision.confirmation import chosen_rates   # here: decision imports runs.status
    best = chosen_rates(earlier, ladder(spec.presets), bool(spec.variants))
    shown = _variant_names(spec)
    missing = [f"{preset} {shown[one]}: no run finished" for preset in ladder(spec.presets)
               for one in sorted(shown) if f"{preset} {one}" not in best]
    if missing:
        return {"state": "blocked", "spec": spec, "missing": missing}
    fingerprints = earlier["corpus_fingerprint"].dropna()
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
            new_ids += _queue_stage(store, name, "later_stage", "carried_lr", stage, runs)
        except (ConfigError, StoreError, ValueError, KeyError) as e:
            say(f"study {name}: the larger sizes cannot be queued yet ({e})")
    for name in _waiting_studies(store, "confirm_stage"):
        try:
            stage = confirm_stage(store, name)
            waiting = waiting or stage["state"] in ("waiting", "ready")
            if stage["state"] == "ready":
                new_ids += _queue_stage(store, name, "confirm_stage", "confirmed_lr", stage,
                                        plan_confirmation(stage["spec"], stage["best"]))
        except (ConfigError, StoreError, ValueError, KeyError) as e:
            say(f"study {name}: the confirmation stage cannot be queued yet ({e})")
    return new_ids, waiting


def _queue_stage(store: Store, name: str, key: str, rates_key: str, stage: dict,
                 runs: list) -> list[str]:
    """Flip the study's stage key from waiting to queued and insert its runs, in one transaction
    (nothing when another worker did it first); a SLURM study's runs are submitted by the
    reconciler. As at launch, the runs' files come first and the database is written once."""
    executor = stage["spec"].executor
    ids = [new_run_id() for _ in runs]
    with folders_removed_on_failure(ids):
        rows = [{**run_row(run, stage["fingerprint"]), "executor": executor, "run_id": run_id,
                 "log_path": write_config(run_id, run)} for run_id, run in zip(ids, runs)]
        queued = store.advance_study(name, key, "waiting", {key: "queued",
                                                            rates_key: stage["best"]}, rows)
    if queued is None:   # another worker queued the stage first
        remove_folders(ids)
        return []
    return ids



def _waiting_studies(store: Store, key: str = "later_stage") -> list[str]:
    return [row.name for row in store.list_studies().itertuples()
            if isinstance(row.config, dict) and row.config.get(key) == "waiting"]
