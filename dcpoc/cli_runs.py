"""`python -m dcpoc runs`, `cancel`, `resume` and `retry`: the runs as a table, stopping them, and
starting stopped ones again as the Runs page's buttons do."""
from __future__ import annotations

import argparse
import os
import sys


def cmd_restart(args: argparse.Namespace) -> int:
    """`resume` / `retry` RUN_ID...: each run queued again (a SLURM run as a new job, with the
    SLURM options given changed for it)."""
    from .cli_slurm import options_from_args
    from .runs.lifecycle import resume_run, retry_run
    from .runs.store import Store
    store = Store()
    changes = options_from_args(args)
    for run_id in args.runs:
        if args.command == "resume":
            resume_run(store, run_id, slurm_changes=changes)
            print(f"run {run_id}: queued to resume from its last checkpoint{_trainer(store, run_id)}")
        else:
            new_id = retry_run(store, run_id, slurm_changes=changes)
            print(f"run {run_id}: retried as run {new_id}{_trainer(store, new_id)}")
    return 0


def _trainer(store, run_id: str) -> str:
    """'; SLURM job N trains it' or '; a worker trains it'."""
    row = store.get_run(run_id)
    if row and row["executor"] == "slurm":
        return f"; SLURM job {row['job_id']} trains it"
    return "; a worker trains it (`python -m dcpoc runs` shows it)"


def resumed_as_job(args: argparse.Namespace) -> bool:
    """`train --resume ID` of a SLURM run: resumed as a new job, as `resume` does (it trained in
    this shell, on a login node, and left the old job's state for ever); True when done so. A local
    run with --executor slurm is refused: its checkpoint lies on this machine."""
    from .config import ConfigError
    from .runs.lifecycle import existing_run
    from .runs.status import RESTARTABLE
    from .runs.store import Store
    row = existing_run(Store(), args.resume)
    if "SLURM_JOB_ID" in os.environ or row["status"] not in RESTARTABLE:
        return False    # the job's own `train --resume` (its run queued to resume), or no resume
    if row["executor"] != "slurm":
        if args.executor == "slurm":
            raise ConfigError(f"run {args.resume} trained locally: its checkpoint is on this machine, "
                              "so it resumes here; drop --executor slurm (or retry it as a new run)")
        return False
    cmd_restart(argparse.Namespace(**{**vars(args), "command": "resume", "runs": [args.resume]}))
    return True


def cmd_cancel(args: argparse.Namespace) -> int:
    from .runs.lifecycle import cancel_run
    from .runs.store import Store
    from .runs.worker import reap_dead_here
    store = Store()
    reap_dead_here(store)   # a foreground run killed outside a worker: failed, nothing to stop
    for run_id in args.runs:
        status = cancel_run(store, run_id)
        print(f"run {run_id}: " + {"cancelled": "cancelled", "running": "stopping (cancel requested)"}
              .get(status, f"already {status}; nothing to cancel"))
    return 0


def _cell(value: object) -> str:
    """A runs-table cell as `runs` prints it: '-' for anything missing, thousands separated."""
    import numbers

    import pandas as pd
    if value is None or (not isinstance(value, (list, tuple)) and pd.isna(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.5g}"
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def cmd_runs(args: argparse.Namespace) -> int:
    from .decision import runs_table
    from .runs.executors import job_labels
    from .runs.store import Store
    from .runs.worker import reap_dead_here
    store = Store()
    reap_dead_here(store)   # a run killed outside a worker would read 'running' forever
    runs = store.list_runs(study=args.study, status=args.status, arch=args.arch)
    frame = runs_table(runs, store.prices())   # costs at today's price table, as every page
    if not frame.empty:   # as on the Runs page: a SLURM job's state by its status
        jobs = frame["id"].map(job_labels(runs))
        if jobs.str.len().sum() or args.json:
            frame.insert(frame.columns.get_loc("status") + 1, "job", jobs)
        if args.json:   # the id alone, for scancel / scontrol (None for a local run)
            frame.insert(frame.columns.get_loc("job") + 1, "job_id",
                         frame["id"].map(runs.set_index("id")["job_id"]))
    if args.json:   # with why a run failed (its first line: the log's tail follows it)
        frame["error"] = [e.splitlines()[0] if isinstance(e, str) and e else None for e in runs["error"]]
        print(frame.to_json(orient="records", indent=2, date_format="iso"))
    elif frame.empty and (args.study or args.status or args.arch):
        print("no run matches these filters (`python -m dcpoc runs` lists every run)")
    elif frame.empty:
        print("no runs yet: start one with `python -m dcpoc train --arch dcformer --preset tiny`")
    else:
        print(frame.map(_cell).to_string(index=False))
    warn_stalled_queue(store)
    return 0


def warn_stalled_queue(store) -> None:
    """One line on stderr when runs wait in the queue and no worker is alive to train them."""
    from .runs.registry import waiting_without_worker
    waiting = waiting_without_worker(store)
    if waiting and store.read_only:   # a worker started here would refuse the database
        print(f"note: {waiting} run(s) are queued and no worker is running; this database is open "
              "read-only here, so only a worker where it is writable can train them", file=sys.stderr)
    elif waiting:
        print(f"note: {waiting} run(s) are queued and no worker is running (it stopped: killed, out of "
              "memory, or the machine restarted); start one: python -m dcpoc worker", file=sys.stderr)
