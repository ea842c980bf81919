"""The command line's SLURM parts: the executor flags of `train` and `study plan|launch`, a single run
submitted as a batch job (`train --executor slurm`), and `python -m dcpoc slurm
check|reconcile|defaults`."""
from __future__ import annotations

import argparse
import sys
import time

SLURM_FLAGS = ("partition", "account", "nodes", "gpus_per_node", "cpus_per_task", "time_limit")


def add_executor_flags(parser: argparse.ArgumentParser, *, with_executor: bool = True) -> None:
    """--executor and the SLURM options (each default: the settings', see `slurm defaults`)."""
    if with_executor:
        parser.add_argument("--executor", choices=("local", "slurm"), default=None,
                            help="local (dcpoc workers, the default) or slurm (one sbatch job per "
                            "run; its state is reconciled into the database)")
    parser.add_argument("--partition", help="SLURM partition (default: the cluster's)")
    parser.add_argument("--account", help="SLURM account to charge")
    parser.add_argument("--nodes", type=int, help="nodes per run (DDP across nodes: srun + torchrun)")
    parser.add_argument("--gpus-per-node", type=int, metavar="N", help="GPUs per node (0: CPU only)")
    parser.add_argument("--cpus-per-task", type=int, metavar="N", help="CPUs per node of a run")
    parser.add_argument("--time-limit", metavar="T", help="SLURM time limit per job, e.g. 30, "
                        "2:00:00 or 1-00:00:00 (a run that hits it is resumable)")
    parser.add_argument("--sbatch", dest="sbatch_lines", action="append", default=[],
                        metavar="OPTION", help="another #SBATCH line, e.g. --sbatch=--qos=high")


def options_from_args(args: argparse.Namespace) -> dict:
    """The SLURM options given on the command line (absent ones are left out)."""
    given = {name: getattr(args, name, None) for name in SLURM_FLAGS}
    given = {k: v for k, v in given.items() if v is not None}
    if getattr(args, "sbatch_lines", None):
        given["extra"] = list(args.sbatch_lines)
    return given


def add_slurm_parser(sub) -> None:
    p = sub.add_parser("slurm", help="SLURM: check the cluster, reconcile job states, defaults")
    slurm = p.add_subparsers(dest="slurm_command", required=True, parser_class=type(p))
    q = slurm.add_parser("check", help="check that runs can be submitted here (client commands, "
                         "database and DCPOC_HOME reachable from the nodes, options accepted)")
    add_executor_flags(q, with_executor=False)
    q = slurm.add_parser("reconcile", help="fold the scheduler's job states into the runs (and "
                         "submit queued SLURM runs without a job); a worker does this too")
    q.add_argument("--forever", action="store_true", help="keep reconciling every --poll seconds")
    q.add_argument("--poll", type=float, default=10.0, metavar="S")
    q = slurm.add_parser("defaults", help="show or set the default SLURM options (settings)")
    add_executor_flags(q, with_executor=False)
    q.add_argument("--reset", action="store_true", help="forget every default")


def cmd_slurm(args: argparse.Namespace) -> int:
    from .runs.executors import SETTINGS_KEY, check_cluster, default_options, reconcile
    from .runs.slurm import SlurmOptions
    from .runs.store import Store
    store = Store()
    if args.slurm_command == "check":
        options = default_options(store).merged(options_from_args(args))
        check_cluster(store, options)
        print(f"ok: SLURM accepts runs with {_describe(options.to_dict())}")
        return 0
    if args.slurm_command == "defaults":
        if args.reset or options_from_args(args):
            base = SlurmOptions() if args.reset else default_options(store)
            store.set_setting(SETTINGS_KEY, base.merged(options_from_args(args)).to_dict())
        print(_describe(default_options(store).to_dict()))
        return 0
    from .runs.stages import advance_stages
    while True:
        advance_stages(store)   # a SLURM study's larger sizes, once its sweep has finished
        seen = reconcile(store)
        print(", ".join(f"{run} {state}" for run, state in seen.items()) or "no SLURM job to look at")
        if not args.forever:
            return 0
        sys.stdout.flush()
        time.sleep(max(args.poll, 1.0))


def _describe(options: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in options.items() if v not in ("", [], None)) or \
        "the cluster's defaults"


def submit_single(args: argparse.Namespace, run, corpus) -> int:
    """`train --executor slurm`: queue the run and submit it as a batch job; prints the job id."""
    from .runs import create_run
    from .runs.executors import check_cluster, default_options, submit_run
    from .runs.store import Store
    store = Store()
    options = default_options(store).merged(options_from_args(args))
    check_cluster(store, options)   # before the run is written: a refusal loses nothing
    run_id = create_run(store, run, corpus_fingerprint=corpus.fingerprint, study=args.study,
                        executor="slurm")
    job_id = submit_run(store, store.get_run(run_id), options)
    print(f"run {run_id}: submitted as SLURM job {job_id}; watch it with `python -m dcpoc runs` "
          "(a worker or `python -m dcpoc slurm reconcile --forever` keeps its state current)")
    return 0
