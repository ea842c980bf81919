"""`python -m dcpoc study plan|launch|list`: a study's spec from the command line, its plan by stage
with time and cost, launching it onto the queue, and the list of studies with their stages."""
from __future__ import annotations

import argparse
import json

from .config import ConfigError, config_variant
from .data import load_corpus

def cmd_study(args: argparse.Namespace) -> int:
    from .runs.store import Store
    if args.study_command == "list":
        return _study_list(Store(), args.json)
    if args.study_command in ("export", "import"):
        return _study_bundle(Store(), args)
    spec = _study_spec(args)
    if args.study_command == "plan":
        return _study_plan(Store(), spec)
    from .runs import home_dir, launch_study, start_workers
    store = Store()
    before = store.list_runs(study=spec.name.strip())   # a name in use: its runs are joined
    ids = launch_study(store, spec, start_worker=False)
    kept = store.get_study(spec.name.strip())["question"] if len(before) else ""
    joined = (f" (added to the {len(before)} runs it already had: the verdict compares them all; "
              + ((f"its question stays {kept!r}; " if kept else "it keeps no question (--question is not "
                  "used); ") if spec.question and spec.question != kept else "")
              + "a new --name starts a separate study)" if len(before) else "")
    print(f"queued {len(ids)} runs of study '{spec.name.strip()}'{joined}: {', '.join(ids)}")
    if spec.executor == "slurm":
        jobs = [store.get_run(run_id)["job_id"] for run_id in ids]
        print(f"submitted as SLURM jobs {', '.join(j or '-' for j in jobs)}; the worker below "
              "folds their states in (or run `python -m dcpoc slurm reconcile --forever`)")
    if args.no_worker:
        print("no worker started: run `python -m dcpoc worker` to train them")
        return 0
    pids = start_workers(store, spec.workers)
    print(f"{len(pids)} worker(s) started (pid {', '.join(map(str, pids))}, log "
          f"{home_dir() / 'worker.log'})" if pids else
          "a worker is already running; it will take these runs")
    return 0


def _basis(total: dict) -> str:
    """Where an estimate's speeds come from: measured runs, FLOP counts, or both."""
    measured, runs = total["n_measured"], total["n_runs"]
    if measured == runs:
        return "every run from measured throughput"
    if measured == 0:
        return "from FLOP counts: no run of these shapes was measured here yet"
    return f"{measured} of {runs} runs from measured throughput, the rest from FLOP counts"


def _study_bundle(store, args: argparse.Namespace) -> int:
    from .runs.bundle import SUFFIX, export_study, import_study
    if args.study_command == "export":
        done = export_study(store, args.study, args.out or f"{args.study}{SUFFIX}")
        print(f"wrote {done['path']}: study '{done['study']}', {done['n_runs']} runs, "
              f"{done['n_metrics']:,} metric rows, {done['bytes']:,} bytes (recorded "
              f"{done['recorded']['date']} on {done['recorded']['machine']})")
    else:
        done = import_study(store, args.file)
        print(f"imported study '{done['study']}': {done['n_runs']} runs, {done['n_metrics']:,} "
              f"metric rows (recorded {done['recorded']['date']} on {done['recorded']['machine']})")
    return 0


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _study_spec(args: argparse.Namespace):
    """The StudySpec of `study plan|launch`: a reference study or the defaults, changed by every
    option given."""
    from .studies import StudySpec, parse_seeds, reference_study
    spec = reference_study(args.reference) if args.reference else StudySpec(name=args.name or "")
    if not args.reference and not args.name:
        raise ConfigError("give the study a --name (or start from --reference)")
    if args.seeds is not None:
        try:
            spec.seeds = parse_seeds(args.seeds)
        except ValueError:
            raise ConfigError(f"--seeds '{args.seeds}': write distinct integers >= 0 separated by "
                              "commas") from None
    if args.lrs is not None:
        try:
            spec.lr_grid = [float(x) for x in _split(args.lrs)]
        except ValueError:
            raise ConfigError(f"--lrs '{args.lrs}': write rates separated by commas, e.g. "
                              "3e-4,1e-3,3e-3") from None
    if any(x is not None for x in (args.steps, args.tokens, args.tokens_per_param)):
        spec.steps, spec.tokens, spec.tokens_per_param = args.steps, args.tokens, args.tokens_per_param
    for field_name in ("name", "question", "corpus", "device", "nproc", "sweep", "evals_per_run",
                       "workers"):
        if getattr(args, field_name, None) is not None:
            setattr(spec, field_name, getattr(args, field_name))
    if args.presets is not None:
        spec.presets = _split(args.presets)
    _study_variants(spec, args)
    spec.overrides = [*spec.overrides, *args.overrides]
    from .cli_slurm import options_from_args
    spec.executor = args.executor or spec.executor
    spec.slurm = {**spec.slurm, **options_from_args(args)}
    return spec


def _study_variants(spec, args: argparse.Namespace) -> None:
    """--archs (QK-norm on, as before the ladder), --variants / --ladder, --confirm-seeds."""
    from .config import VARIANTS, variant_config
    from .studies import parse_seeds
    given = [flag for flag, on in (("--archs", args.archs is not None), ("--ladder", args.ladder),
                                   ("--variants", args.variants is not None)) if on]
    if len(given) > 1:   # each names the whole set of models: one would silently win
        raise ConfigError(f"give one of {' and '.join(given)}: --archs (QK-norm on), --variants, "
                          "or --ladder (all three variants)")
    if args.archs is not None:
        spec.archs, spec.variants = _split(args.archs), []
    if args.ladder or args.variants is not None:
        spec.variants = list(VARIANTS) if args.ladder else _split(args.variants)
        spec.archs = sorted({variant_config(v)[0] for v in spec.variants if v in VARIANTS})
    if args.confirm_seeds is not None:
        try:
            spec.confirm_seeds = ([] if args.confirm_seeds.strip().lower() == "none"
                                  else parse_seeds(args.confirm_seeds))
        except ValueError:
            raise ConfigError(f"--confirm-seeds '{args.confirm_seeds}': write distinct integers >= 0 "
                              "separated by commas, e.g. 101,102,103, or none") from None


def _study_plan(store, spec) -> int:
    from .counts import count_parameters
    from .ui.i18n import t
    from .studies import (detect_gpu, estimate_device, estimate_study, ladder_problems,
                          measured_throughput, plan_stages)
    plan = plan_stages(spec)
    load_corpus(spec.corpus)   # a bad corpus is reported now, not when the runs start
    device = estimate_device(spec.device, detect_gpu())
    measured = measured_throughput(store.list_runs())
    prices = store.prices()
    print(f"study '{spec.name.strip()}': {len(plan.runs)} runs, estimated for {device}")
    print(f"{'preset':<11}{'variant':<20}{'seed':>5}{'lr':>9}{'steps':>9}{'tokens':>13}{'params':>12}"
          f"{'nproc':>6}{'time':>10}{'$':>10}")
    staged = ([("", r) for r in plan.first] + [("best*", r) for r in plan.later]
              + [("chosen+", r) for r in plan.confirm])
    for mark, run in staged:
        one = estimate_study([run], device, measured, prices)
        lr = mark or f"{run.train.lr:g}"
        variant = config_variant(run.model.arch, {"model": {"qk_norm": run.model.qk_norm}})
        print(f"{run.preset:<11}{variant:<20}{run.train.seed:>5}{lr:>9}{run.train.steps:>9,}"
              f"{one['tokens']:>13,}{count_parameters(run.model)['total']:>12,}{run.train.nproc:>6}"
              f"{_duration(one['wall_s']):>10}{one['cost_usd']:>10.2f}")
    total = estimate_study(plan.runs, device, measured, prices)
    print(f"total: {_duration(total['wall_s'])} of training one run after another, "
          f"{total['device_hours']:.2f} device-hours, ${total['cost_usd']:.2f} ({_basis(total)})")
    if spec.workers > 1:
        print(f"with {spec.workers} CPU worker slots (`study launch` starts them): about "
              f"{_duration(total['wall_s'] / spec.workers)}")
    if plan.later:
        print("* best: each architecture's best rate of the sweep at the smallest size; these "
              "runs are queued when the sweep has finished")
    if plan.confirm:
        print("+ chosen: the confirmation stage, fresh seeds at each variant's chosen rate at each "
              "size; queued when the sweep has finished, and the comparison that decides uses them")
    elif spec.sweep != "none":
        print("note: no confirmation stage: the rates are chosen on the runs that are compared, "
              "so the estimate is optimistic (add --confirm-seeds 101,102,103)")
    for key, values in ladder_problems(spec):
        print("warning: " + t(key, "en").format(**values))
    return 0


def _confirm_fields(stage: dict) -> dict:
    """A study's confirmation stage for `study list` (nothing for a study without one): waiting,
    blocked (with what is missing), ready or queued, and the chosen rates it used."""
    if stage["state"] == "none":
        return {}
    return {"confirm_stage": stage["state"], "confirmed_lr": stage.get("best", {}),
            **({"confirm_missing": stage["missing"]} if "missing" in stage else {})}


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


STAGE_WORDS = {"sweeping": "running; the larger sizes wait for it",
               "blocked": "blocked, runs missing: retry them on the Runs page",
               "ready": "done; the larger sizes are queued by the next worker",
               "queued": "done; the larger sizes were queued with the best rates"}
CONFIRM_WORDS = {"waiting": "waits for the sweep and the larger sizes",
                 "blocked": "blocked, runs missing: retry them on the Runs page",
                 "ready": "ready; the next worker queues fresh seeds at the chosen rates",
                 "queued": "fresh seeds queued at the chosen rates",
                 "done": "done; fresh seeds trained at the chosen rates",
                 "ended": "ended with runs failed or cancelled: retry them on the Runs page"}


def _rates(best: dict[str, float]) -> str:
    """': cpu-s dcformer 0.001, cpu-s transformer 0.003' (nothing when no rate is chosen yet)."""
    return (": " + ", ".join(f"{key} {lr:g}" for key, lr in best.items())) if best else ""


def _study_list(store, as_json: bool) -> int:
    from .runs import study_stage
    from .runs.stages import confirm_stage
    from .runs.status import ACTIVE, STATUSES
    from .runs.worker import reap_dead_here
    reap_dead_here(store)
    studies = store.list_studies()
    runs = store.list_runs()
    counts = runs.groupby(["study", "status"]).size().unstack(fill_value=0)
    rows = []
    for study in studies.itertuples():
        by_status = counts.loc[study.name] if study.name in counts.index else {}
        stage = study_stage(store, study.name)
        rows.append({"name": study.name, "runs": int(study.n_runs),
                     **{s: int(by_status.get(s, 0)) for s in STATUSES},
                     "created_at": study.created_at.isoformat(), "question": study.question,
                     "stage": stage["state"], "carried_lr": stage.get("best", {}),
                     "recorded": (study.config or {}).get("recorded"),
                     **({"missing": stage["missing"]} if "missing" in stage else {}),
                     **_confirm_fields(confirm_stage(store, study.name))})
    from .cli_runs import warn_stalled_queue
    warn_stalled_queue(store)
    if as_json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
    elif not rows:
        print("no studies yet: queue one with `python -m dcpoc study launch --name NAME`")
    else:
        for row in rows:
            states = ", ".join(f"{row[s]} {s}" for s in STATUSES if row[s])
            print(f"{row['name']}: {row['runs']} runs ({states or 'none'})"
                  + (f" - {row['question']}" if row["question"] else ""))
            if row["recorded"]:
                print(f"  recorded results (imported): measured {row['recorded'].get('date')} on "
                      f"{row['recorded'].get('machine')}")
            if row["stage"] != "none":
                print(f"  learning-rate sweep: {STAGE_WORDS[row['stage']]}"
                      + _rates(row["carried_lr"])
                      + (f" ({', '.join(row['missing'])})" if row.get("missing") else ""))
            if "confirm_stage" in row:
                # the last stage: queued with nothing queued or running in the study has ended
                state = row["confirm_stage"]
                if state == "queued" and not any(row[s] for s in ACTIVE):
                    state = "ended" if row["failed"] or row["cancelled"] else "done"
                print(f"  confirmation stage: {CONFIRM_WORDS[state]}"
                      + _rates(row["confirmed_lr"])
                      + (f" ({', '.join(row['confirm_missing'])})" if row.get("confirm_missing") else ""))
    return 0
