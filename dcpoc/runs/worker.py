"""The worker: claims queued runs one at a time and trains each in its own process (log in
runs/<id>/log.txt), heartbeats for it, kills it when a cancel is not honoured in time, settles the
status of a process that died, reaps runs whose machine went silent, and queues a study's next
stage when its sweep has finished. One worker per host and device (registry.py)."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from datetime import timedelta

from ..config import ConfigError, RunConfig, variant_of
from .paths import log_tail, now_utc, run_dir, say
from .processes import (CANCEL_GRACE_S, child_env, kill_tree, pid_alive, sigterm_as_interrupt,
                        start_detached, stop, train_command)
from .registry import (WORKER_STALE_S, WorkerInfo, forget_dead_workers, register, worker_live,
                       still_registered)
from .executors import PeriodicReconcile
from .stages import advance_stages
from .status import Status
from .store import Store, StoreError, UnknownRunError

LOST_AFTER_S = 30.0       # a running run whose heartbeat is older is lost
DEAD_GRACE_S = 10.0       # a run of this machine whose process is gone this long is lost at once
WORKER_BEAT_S = 2.0       # worker heartbeat period (its own row and the run it supervises)
WATCH_S = 0.25            # how often the worker looks at its run's process and cancel flag
DEVICE_PATTERN = re.compile(r"auto|cpu(:\d+)?|cuda(:\d+(,\d+)*)?")


class DeviceFit:
    """Which queued runs a worker's device can train: a run that asks for CUDA (or for nproc GPUs)
    is left to a worker that has them, where this one would only fail it. The GPUs are counted
    once, when a run first asks (importing torch for it only then)."""

    def __init__(self, device: str) -> None:
        self.device, self._gpus = device, None
        self.passed: set[str] = set()     # the runs passed over in the last claim
        self._said: set[str] = set()

    def gpus(self) -> int:
        if self._gpus is None:
            if self.device.startswith("cpu"):
                self._gpus = 0
            elif self.device.startswith("cuda:"):
                self._gpus = len(self.device.removeprefix("cuda:").split(","))
            else:   # auto or cuda: every GPU this process sees
                import torch
                self._gpus = torch.cuda.device_count()
        return self._gpus

    def accepts(self, run: dict) -> bool:
        try:
            train = RunConfig.from_dict(run["config"]).train
        except ConfigError:
            return True            # the worker fails it with the config's own error
        if train.device == "cuda":
            ok = self.gpus() >= train.nproc
        else:   # cpu: any worker; auto: one process anywhere, nproc on the CPU or on nproc GPUs
            ok = train.device == "cpu" or train.nproc == 1 or self.gpus() == 0 or self.gpus() >= train.nproc
        if not ok:
            self.passed.add(run["id"])
        return ok

    def say_passed(self, worker: "WorkerInfo") -> None:
        """Why this worker leaves runs queued (once per set of runs): they wait for a worker with
        the GPUs they ask for."""
        if self.passed and self.passed != self._said:
            say(f"worker {worker.id}: left {len(self.passed)} queued run(s) that ask for more GPUs "
                f"than device {self.device} has ({self.gpus()}), e.g. {sorted(self.passed)[0]}: start "
                "a worker with that many GPUs (python -m dcpoc worker --device cuda:0,1,...), or "
                "queue them again with device=cpu or fewer processes (nproc)")
        self._said = set(self.passed)


def reap_lost_runs(store: Store, stale_after_s: float = LOST_AFTER_S) -> list[str]:
    """Mark failed every running run without a heartbeat for stale_after_s (its process and worker
    died: killed, out of memory, machine rebooted), with its log tail; returns their ids. A run
    whose process is alive on this machine is left alone (a long compile of the first step)."""
    cutoff = now_utc() - timedelta(seconds=stale_after_s)
    here = socket.gethostname()
    lost = []
    for run in store.stale_runs(cutoff):
        if run["host"] == here and run["pid"] and pid_alive(int(run["pid"])):
            continue
        if run["executor"] == "slurm" and run["job_id"]:
            continue   # its job's state settles it (executors.reconcile)
        last = run["heartbeat_at"] or run["started_at"] or run["created_at"]
        error = (f"lost: no heartbeat since {last:%Y-%m-%d %H:%M:%S} UTC (host {run['host']}, "
                 f"pid {run['pid']}); resume it from its last checkpoint")
        if _mark_lost(store, run, cutoff, error):
            lost.append(run["id"])
    forget_dead_workers(store, max(stale_after_s, WORKER_STALE_S))
    return lost


def reap_dead_here(store: Store, grace_s: float = DEAD_GRACE_S) -> list[str]:
    """Mark failed, at once, the running runs of this machine whose process is gone (a `train`
    killed with SIGKILL or by the out-of-memory killer shows as running forever otherwise, as no
    worker watches it). `runs`, `study list` and the dashboard call it before they read the runs;
    grace_s spares a run whose process is starting. Returns their ids; a database that is locked
    or read-only leaves them as they are (the readers still show what it holds)."""
    cutoff = now_utc() - timedelta(seconds=grace_s)
    here, lost = socket.gethostname(), []
    try:
        # a live worker settles its own runs (and knows their processes better than a pid does)
        watched = {w["id"] for w in store.list_workers().to_dict("records") if worker_live(w)}
        for run in store.stale_runs(cutoff):
            if run["host"] != here or not run["pid"] or pid_alive(int(run["pid"])) \
                    or run["executor"] == "slurm" or run.get("worker_id") in watched:
                continue
            error = (f"lost: its process (pid {run['pid']}) ended without a word (killed, or out "
                     f"of memory); resume it: python -m dcpoc train --resume {run['id']}")
            if _mark_lost(store, run, cutoff, error):
                lost.append(run["id"])
    except StoreError:
        pass
    return lost


def _mark_lost(store: Store, run: dict, cutoff, error: str) -> bool:
    """Running -> failed with error and the log's tail, unless it gave a sign of life since cutoff."""
    tail = log_tail(run["id"])
    return store.transition_run(run["id"], (Status.RUNNING,), stale_before=cutoff,
                                status=Status.FAILED, finished_at=now_utc(),
                                error=error + ("\n" + tail if tail else ""))


def run_worker(store: Store, *, forever: bool = False, poll_s: float = 1.0,
               device: str | None = None, lost_after_s: float = LOST_AFTER_S) -> int:
    """Claim queued runs one at a time and train each in its own process; returns how many were
    processed. Exits when the queue is empty unless forever. A second worker for the same host and
    device exits at once (returns 0): one device trains one run at a time.

    device: auto (every visible device), cpu, cpu:K (one more CPU slot), cuda:N or cuda:N,M
    (those GPUs, through CUDA_VISIBLE_DEVICES)."""
    device = device or "auto"
    if not DEVICE_PATTERN.fullmatch(device):
        raise ConfigError(f"worker device '{device}': use auto, cpu, cpu:K, cuda, cuda:N or "
                          "cuda:N,M")
    if poll_s <= 0 or lost_after_s <= 0:
        raise ConfigError("the poll interval and the lost-run timeout must be positive seconds")
    if device == "auto" and DeviceFit("auto").gpus() == 0:
        device = "cpu"   # auto is the CPU here: one registration, so a second CPU worker exits
    worker = register(store, device)
    if worker is None:
        say(f"a worker already serves device {device} on {socket.gethostname()}; exiting")
        return 0
    say(f"worker {worker.id} (pid {os.getpid()}) serves device {device} on {worker.host}")
    processed = 0
    slurm_reconciler = PeriodicReconcile()
    device_fit = DeviceFit(device)
    try:
        with sigterm_as_interrupt():
            while still_registered(store, worker):
                reap_lost_runs(store, lost_after_s)
                slurm_busy = slurm_reconciler.due(store)
                # waiting is judged as the stages are read, before the claim: another worker may
                # finish the sweep between them, and its later stage must not be missed
                _, waiting = advance_stages(store)
                waiting = waiting or slurm_busy
                device_fit.passed.clear()
                run = store.claim_run(worker.id, worker.host, accepts=device_fit.accepts)
                if run is not None:
                    _supervise(store, worker, run)
                    processed += 1
                elif forever or (waiting and not device_fit.passed):
                    # a stage that waits on runs only another worker can train is not this one's
                    device_fit.say_passed(worker)
                    _idle(store, worker, poll_s)
                else:
                    device_fit.say_passed(worker)
                    break
    except KeyboardInterrupt:
        say(f"worker {worker.id} stopped")
    finally:
        store.remove_worker(worker.id)
    return processed


def _idle(store: Store, worker: WorkerInfo, poll_s: float) -> None:
    deadline = time.monotonic() + poll_s
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(left, WORKER_BEAT_S))
        store.worker_heartbeat(worker.id)


def _supervise(store: Store, worker: WorkerInfo, run: dict) -> None:
    """Train a claimed run in its own process group, log to runs/<id>/log.txt, and settle its
    status if the process ended without recording one."""
    run_id, resume = run["id"], bool(run["resume_requested"])
    try:
        config = RunConfig.from_dict(run["config"])
    except ConfigError as e:
        store.transition_run(run_id, (Status.RUNNING,), status=Status.FAILED,
                             finished_at=now_utc(), error=f"bad stored config: {e}")
        return
    nproc = config.train.nproc
    folder = run_dir(run_id)
    folder.mkdir(parents=True, exist_ok=True)
    # the variant and rate tell a ladder's or a sweep's runs apart in the worker's log
    variant = variant_of(config.model.arch, config.model.qk_norm)
    say(f"run {run_id}: {variant} {run['preset']} lr {config.train.lr:g} seed {run['seed']}"
        f"{' (resume)' if resume else ''}{f', {nproc} processes' if nproc > 1 else ''}")
    command = train_command(run_id, resume=resume, nproc=nproc)
    with open(folder / "log.txt", "ab") as log:
        # Says where and how the run was started, even if the process dies before printing.
        log.write(f"{now_utc():%Y-%m-%d %H:%M:%S} worker {worker.id} on {worker.host} "
                  f"(device {worker.device}): {' '.join(command[1:])}\n".encode())
        log.flush()
        proc = start_detached(command, child_env(store.url, worker.device, worker.id), log)
    store.update_run(run_id, pid=proc.pid, log_path=str(folder / "log.txt"))
    try:
        killed = _watch(store, worker, run_id, proc)
    except KeyboardInterrupt:   # the worker is being stopped: stop its run as a cancel would
        stop(proc)
        store.transition_run(run_id, (Status.RUNNING, Status.CANCELLED), status=Status.CANCELLED,
                             finished_at=now_utc(), error="stopped with its worker; resume it")
        raise
    _settle(store, run_id, proc.returncode, killed)
    final = store.get_run(run_id)
    say(f"run {run_id}: {final['status'] if final else 'deleted'}")


def _watch(store: Store, worker: WorkerInfo, run_id: str, proc: subprocess.Popen) -> str | None:
    """Wait for the run's process; heartbeat for it (start-up and a first compiled step can take
    longer than the loop's heartbeat period) and kill it if a cancel is not honoured in time.
    Returns why it was killed, or None."""
    cancel_seen, last_beat = None, 0.0
    while proc.poll() is None:
        now = time.monotonic()
        try:
            if now - last_beat >= WORKER_BEAT_S:
                store.heartbeat(run_id)
                store.worker_heartbeat(worker.id, run_id)
                last_beat = now
            if cancel_seen is None and store.cancel_requested(run_id):
                cancel_seen = now
        except UnknownRunError:
            kill_tree(proc)
            return "the run was deleted"
        except StoreError as e:   # a busy or unreachable database: keep the run going
            say(f"run {run_id}: {e}")
        if cancel_seen is not None and now - cancel_seen >= CANCEL_GRACE_S:
            kill_tree(proc)
            return f"killed: it did not stop within {CANCEL_GRACE_S:g} s of the cancel request"
        time.sleep(WATCH_S)
    return None


def _settle(store: Store, run_id: str, returncode: int, killed: str | None) -> None:
    """Record how a run's process ended when it could not say so itself (killed, or died)."""
    if killed:
        store.transition_run(run_id, (Status.RUNNING,), status=Status.CANCELLED,
                             finished_at=now_utc(), error=killed)
        return
    row = store.get_run(run_id)
    if row is None:
        return
    # "cancelled" without a cancel request and a failing exit: torchrun stopped the other ranks
    # because one of them failed.
    died = row["status"] == Status.RUNNING or (
        returncode != 0 and row["status"] == Status.CANCELLED and not row["cancel_requested"])
    if died:
        how = (f"signal {signal.Signals(-returncode).name}" if returncode < 0
               else f"exit code {returncode}")
        tail = log_tail(run_id)
        store.transition_run(run_id, (Status.RUNNING, Status.CANCELLED), status=Status.FAILED,
                             finished_at=now_utc(),
                             error=f"the training process ended with {how} before the run "
                                   f"finished" + ("\n" + tail if tail else ""))
