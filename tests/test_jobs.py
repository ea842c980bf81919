"""The queue and the worker with real processes: studies queued and trained, cancel, kill + reap +
resume, retry, two workers on one queue and two CPU slots at once, bad study specs, the status
moves the code makes, one DCPOC_HOME for the database and the artifacts. Tiny preset, a real
SQLite file."""
import ast
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import torch

from dcpoc.config import ConfigError, make_config
from dcpoc.data import CorpusError
from dcpoc.runs import (RunError, cancel_run, create_run, launch_study, resume_run, retry_run,
                        run_worker, worker_alive)
from dcpoc.runs import status as run_status
from dcpoc.runs.execute import _take
from dcpoc.runs.status import Status, can_move
from dcpoc.runs.store import Store
from dcpoc.runs.worker import reap_lost_runs
from dcpoc.studies.spec import StudySpec

from conftest import REPO_ROOT, run_cli, start_worker, wait_for


def queue_tiny(store, arch="transformer", steps=3, overrides=(), study=None) -> str:
    return create_run(store, make_config(arch, "tiny", list(overrides), steps=steps), study=study)


def test_launch_queues_the_study_and_a_detached_worker_trains_it(dcpoc_home):
    store = Store()
    out = run_cli("study", "launch", "--name", "ladder", "--question", "same loss for less?",
                  "--presets", "tiny", "--archs", "transformer,dcformer", "--seeds", "1,2",
                  "--steps", "3")
    assert out.returncode == 0 and "1 worker(s) started (pid" in out.stdout, out.stderr
    ids = out.stdout.splitlines()[0].split(": ", 1)[1].split(", ")

    # Cancelling a queued run is immediate; the worker (seconds per run) never starts them.
    asked = time.monotonic()
    assert [cancel_run(store, run_id) for run_id in ids[2:]] == ["cancelled", "cancelled"]
    assert time.monotonic() - asked < 1
    runs = store.list_runs(study="ladder").set_index("id").loc[ids]
    assert list(zip(runs.arch, runs.seed)) == [("transformer", 1), ("dcformer", 1),
                                               ("transformer", 2), ("dcformer", 2)]
    assert set(runs.total_steps) == {3} and store.get_study("ladder")["config"]["seeds"] == [1, 2]

    expected = ["succeeded"] * 2 + ["cancelled"] * 2
    wait_for(lambda: [store.get_run(i)["status"] for i in ids] == expected, timeout=90)
    wait_for(lambda: not worker_alive(store), timeout=30)     # queue empty: the worker exits
    assert "worker processed 2 runs" in (dcpoc_home / "worker.log").read_text()
    first = store.get_run(ids[0])
    assert first["worker_id"] and first["git_commit"] and first["versions"]["torch"]
    assert "succeeded" in (dcpoc_home / ids[0] / "log.txt").read_text()
    assert not (dcpoc_home / ids[2] / "log.txt").exists()
    listed = run_cli("study", "list", "--json")
    assert json.loads(listed.stdout)[0] | {"created_at": None} == {
        "name": "ladder", "runs": 4, "queued": 0, "running": 0, "succeeded": 2, "failed": 0,
        "cancelled": 2, "created_at": None, "question": "same loss for less?", "stage": "none",
        "carried_lr": {}, "recorded": None}


def test_a_second_launch_leaves_its_runs_to_the_worker_the_first_one_started(dcpoc_home):
    """The first launch's worker registers only once torch has loaded; a second launch in those
    seconds started another worker, which found the slot taken and exited, and said it started."""
    store = Store()
    common = ("--presets", "tiny", "--archs", "transformer", "--seeds", "1", "--steps", "3")
    first = run_cli("study", "launch", "--name", "first", *common)
    second = run_cli("study", "launch", "--name", "second", *common)
    assert "1 worker(s) started (pid" in first.stdout, first.stderr
    assert "a worker is already running; it will take these runs" in second.stdout, second.stderr
    wait_for(lambda: set(store.list_runs()["status"]) == {"succeeded"}, timeout=120)
    wait_for(lambda: not worker_alive(store), timeout=30)
    assert "worker processed 2 runs" in (dcpoc_home / "worker.log").read_text()


def test_cancel_stops_a_running_run_within_5_s(dcpoc_home):
    store = Store()
    run_id = queue_tiny(store, steps=100000)
    worker = start_worker()
    wait_for(lambda: (store.get_run(run_id)["step"] or 0) > 0)
    assert cancel_run(store, run_id) == "running"
    asked = time.monotonic()
    wait_for(lambda: store.get_run(run_id)["status"] != "running", timeout=10)
    assert time.monotonic() - asked < 5
    assert worker.wait(timeout=30) == 0
    row = store.get_run(run_id)
    assert row["status"] == "cancelled" and row["error"] is None and row["checkpoint_path"]


def test_worker_kills_a_run_that_ignores_cancel(dcpoc_home):
    store = Store()
    run_id = queue_tiny(store, steps=100000)
    worker = start_worker()
    wait_for(lambda: (store.get_run(run_id)["step"] or 0) > 0)
    os.kill(store.get_run(run_id)["pid"], signal.SIGSTOP)      # a hung process cannot honour it
    cancel_run(store, run_id)
    asked = time.monotonic()
    assert worker.wait(timeout=30) == 0
    assert time.monotonic() - asked < 8
    row = store.get_run(run_id)
    assert row["status"] == "cancelled" and row["error"].startswith("killed:")


def test_killed_run_is_reaped_then_resumed_with_contiguous_metrics(dcpoc_home):
    store = Store()
    steps = 200
    run_id = queue_tiny(store, "dcformer", steps, ["ckpt_every=10", "eval_every=50"])
    worker = start_worker()
    wait_for(lambda: (store.get_run(run_id)["step"] or 0) >= 40)
    worker.kill()                                              # the machine "reboots": the
    os.kill(store.get_run(run_id)["pid"], signal.SIGKILL)      # worker and the run die at once
    worker.wait()
    killed = time.monotonic()
    assert store.get_run(run_id)["status"] == "running"
    reaped = wait_for(lambda: reap_lost_runs(store, stale_after_s=2), timeout=10, every=0.2)
    assert reaped == [run_id]
    assert time.monotonic() - killed < 2 + 3
    row = store.get_run(run_id)
    assert row["status"] == "failed" and row["error"].startswith("lost: no heartbeat since")
    assert f"--run-id {run_id}" in row["error"]                # the log tail

    resume_run(store, run_id, start_worker=False)
    assert store.get_run(run_id)["status"] == "queued"
    assert run_worker(store) == 1
    row = store.get_run(run_id)
    assert row["status"] == "succeeded" and row["error"] is None
    metrics = store.get_metrics(run_id)
    assert list(metrics[metrics.key == "train_loss"]["step"]) == list(range(1, steps + 1))
    assert list(metrics[metrics.key == "val_loss"]["step"]) == [50, 100, 150, 200]
    assert "--resume" in (dcpoc_home / run_id / "log.txt").read_text()


@pytest.mark.usefixtures("fresh_caches")
def test_a_queue_left_without_a_worker_is_named_and_started_again(dcpoc_home):
    """A worker killed while runs waited left them queued for ever, with no word anywhere."""
    from datetime import datetime, timedelta, timezone

    from conftest import by_label, open_page
    from dcpoc.runs import waiting_without_worker
    store = Store()
    run_id = queue_tiny(store, steps=3)
    assert waiting_without_worker(store) == 0          # just queued: its worker may be starting
    store.update_run(run_id, created_at=datetime.now(timezone.utc) - timedelta(minutes=1))
    assert waiting_without_worker(store) == 1
    slurm = store.create_run(arch="transformer", preset="tiny", config={}, seed=1, corpus_spec="builtin",
                             executor="slurm")
    store.update_run(slurm, created_at=datetime.now(timezone.utc) - timedelta(minutes=1))
    assert waiting_without_worker(store) == 1            # a SLURM run is its job's to train, not a worker's
    store.update_run(slurm, status="cancelled")
    assert "1 run(s) are queued and no worker is running" in run_cli("runs").stderr
    assert "python -m dcpoc worker" in run_cli("study", "list").stderr
    at = open_page("app.py", "ja")
    assert any("ワーカーが動いていません" in w.value for w in at.warning)
    at = open_page("pages/2_Runs.py")
    assert any("1 run(s) are queued and no worker" in w.value for w in at.warning)
    by_label(at.button, "Start a worker").click().run()
    assert any("Worker started (pid" in s.value for s in at.success)
    wait_for(lambda: store.get_run(run_id)["status"] == "succeeded", timeout=120)
    wait_for(lambda: not worker_alive(store), timeout=30)     # queue empty: the worker exits
    assert waiting_without_worker(store) == 0 and run_cli("runs").stderr == ""
    pid = int(next(s.value for s in at.success if "pid" in s.value).split("pid ")[1].split(")")[0])
    wait_for(lambda: not os.path.exists(f"/proc/{pid}"), timeout=10)   # reaped, not left a zombie


def test_resume_and_retry_from_the_command_line(dcpoc_home):
    """The Runs page's Resume and Retry had no command: `train --resume` trains in the foreground,
    and `--executor slurm` beside it was ignored. SLURM options are refused for a local run."""
    store = Store()
    run_id = queue_tiny(store, steps=3)
    assert cancel_run(store, run_id) == "cancelled"
    slurm = run_cli("retry", run_id, "--time-limit", "30")
    assert slurm.returncode == 2 and slurm.stderr.count("\n") == 1
    assert "trains locally: SLURM options (time_limit) apply only to runs trained as SLURM jobs" in slurm.stderr
    moved = run_cli("train", "--resume", run_id, "--executor", "slurm")
    assert moved.returncode == 2 and "drop --executor slurm" in moved.stderr
    assert run_cli("resume", run_id).stderr.startswith("error: run " + run_id + " has no checkpoint")
    retried = run_cli("retry", run_id)
    assert retried.returncode == 0, retried.stderr
    new_id = retried.stdout.split("retried as run ")[1].split(";")[0]
    assert "a worker trains it" in retried.stdout
    wait_for(lambda: store.get_run(new_id)["status"] == "succeeded", timeout=120)
    assert store.get_run(run_id)["status"] == "cancelled"       # the old run stays as it was


def test_worker_marks_a_dead_run_failed_and_retry_queues_a_copy(dcpoc_home):
    store = Store()
    run_id = queue_tiny(store, steps=100000, study="s")
    worker = start_worker()
    wait_for(lambda: (store.get_run(run_id)["step"] or 0) > 0)
    os.kill(store.get_run(run_id)["pid"], signal.SIGKILL)      # the worker survives and notices
    assert worker.wait(timeout=30) == 0
    row = store.get_run(run_id)
    assert row["status"] == "failed" and "signal SIGKILL" in row["error"]
    from dcpoc.ui.i18n import failure_text
    said = failure_text(row["error"], True, bool(row["checkpoint_path"]), "ja")
    assert said.startswith("学習プロセスが実行の完了前に終了しました。")       # in the reader's language,
    assert ("チェックポイントから再開" if row["checkpoint_path"] else "最初からやり直す") in said   # the button named
    assert said.endswith("記録されたメッセージ（英語）：" + row["error"].splitlines()[0])

    new_id = retry_run(store, run_id, start_worker=False)
    new = store.get_run(new_id)
    assert new_id != run_id and new["status"] == "queued" and new["study"] == "s"
    assert new["config"] == row["config"]
    with pytest.raises(RunError, match="only a failed or cancelled run"):
        retry_run(store, new_id)
    assert cancel_run(store, new_id) == "cancelled"
    with pytest.raises(RunError, match="no checkpoint"):
        resume_run(store, new_id)


def test_a_run_queued_to_resume_is_claimed_only_on_its_host(dcpoc_home):
    store = Store()
    run_id = queue_tiny(store)
    # It last ran on machine-a: its checkpoint is under machine-a's DCPOC_HOME, not here.
    store.update_run(run_id, status="failed", host="machine-a", checkpoint_path="/a/ckpt.pt")
    fresh = queue_tiny(store)
    resume_run(store, run_id, start_worker=False)
    assert store.get_run(run_id)["resume_requested"]

    assert store.claim_run("w-b", "machine-b", run_id=run_id) is None
    assert store.claim_run("w-b", "machine-b")["id"] == fresh     # passes over the older run
    assert run_worker(store) == 0                                  # a real worker on this host
    out = run_cli("train", "--resume", run_id, "--no-progress")
    assert out.returncode != 0 and out.stderr.count("\n") == 1, out.stderr
    assert f"run {run_id} is queued to resume on host machine-a" in out.stderr
    row = store.get_run(run_id)
    assert row["status"] == "queued" and row["resume_requested"] and row["host"] == "machine-a"

    claimed = store.claim_run("w-a", "machine-a")
    assert claimed["id"] == run_id and claimed["resume_requested"]
    assert store.get_run(run_id)["worker_id"] == "w-a"


def test_a_worker_passes_over_runs_that_ask_for_gpus_it_does_not_have(dcpoc_home, capsys):
    """A CPU worker used to claim a run set to device cuda (or to 2 GPUs) and fail it; it now
    leaves it queued for a worker with the GPUs, trains what it can, and says why it stopped."""
    import torch
    from dcpoc.runs.worker import DeviceFit, run_worker
    store = Store()
    on_gpu = create_run(store, make_config("transformer", "tiny", [], steps=3, device="cuda"))
    two_gpus = create_run(store, make_config("transformer", "tiny", ["nproc=2"], steps=3, device="cuda"))
    anywhere = queue_tiny(store)
    runs = {run_id: store.get_run(run_id) for run_id in (on_gpu, two_gpus, anywhere)}
    fits = lambda device, run_id: DeviceFit(device).accepts(runs[run_id])   # noqa: E731
    assert [fits("cpu:1", r) for r in (on_gpu, two_gpus, anywhere)] == [False, False, True]
    assert [fits("cuda:0", r) for r in (on_gpu, two_gpus, anywhere)] == [True, False, True]
    assert fits("cuda:2,3", two_gpus) and fits("auto", on_gpu) == (torch.cuda.device_count() >= 1)
    two_procs = create_run(store, make_config("transformer", "tiny", ["nproc=2"], steps=3))
    assert DeviceFit("cpu").accepts(store.get_run(two_procs))    # auto, 2 processes: gloo on the CPU
    assert DeviceFit("cuda:0").accepts(store.get_run(two_procs)) is False   # 1 GPU for 2 processes
    store.update_run(two_procs, status="cancelled")

    assert run_worker(store, device="cpu") == 1                  # trains the run it can
    assert store.get_run(anywhere)["status"] == "succeeded"
    assert {store.get_run(r)["status"] for r in (on_gpu, two_gpus)} == {"queued"}
    said = capsys.readouterr()
    assert "left 2 queued run(s) that ask for more GPUs than device cpu has (0)" in said.out + said.err

    # a sweep only a GPU can train holds its study's later stage: a CPU worker does not wait on it
    spec = StudySpec(name="gpu-sweep", presets=["tiny", "cpu-xs"], steps=3, sweep="smallest",
                     lr_grid=[1e-3, 3e-3], device="cuda")
    swept = launch_study(store, spec, start_worker=False)
    assert run_worker(store, device="cpu") == 0
    assert {store.get_run(r)["status"] for r in swept} == {"queued"}


def test_cli_resume_takes_a_stopped_run_by_compare_and_set(dcpoc_home):
    store = Store()
    here = socket.gethostname()
    checkpoint = dcpoc_home / "ckpt.pt"
    checkpoint.write_bytes(b"")
    run_ids = [queue_tiny(store) for _ in range(2)]
    for run_id in run_ids:
        store.update_run(run_id, status="failed", host=here, checkpoint_path=str(checkpoint))

    # `train --resume` read the run as failed; a worker claimed it after a resume request since.
    taken, raced = run_ids
    stale = store.get_run(raced)
    resume_run(store, raced, start_worker=False)
    assert store.claim_run("w1", here)["id"] == raced
    with pytest.raises(RunError, match=rf"^run {raced} was taken meanwhile \(it is now running\)"):
        _take(store, stale, resume=True)
    assert store.get_run(raced)["worker_id"] == "w1"

    stale = store.get_run(taken)
    _take(store, stale, resume=True)
    row = store.get_run(taken)
    assert (row["status"], row["pid"], row["host"]) == ("running", os.getpid(), here)
    with pytest.raises(RunError, match="taken meanwhile"):     # a second reader of the same row
        _take(store, stale, resume=True)
    with pytest.raises(RunError, match="only a failed or cancelled run"):
        resume_run(store, taken, start_worker=False)


def test_two_workers_never_claim_the_same_run(dcpoc_home):
    store = Store()
    ids = {queue_tiny(store, steps=2) for _ in range(3)}
    first = start_worker("--device", "cpu:0")
    wait_for(lambda: worker_alive(store))
    same_device = start_worker("--device", "cpu:0")
    other = start_worker("--device", "cpu:1")
    out = same_device.communicate(timeout=60)[0]
    assert "already serves device cpu:0" in out and same_device.returncode == 0
    claims = []
    for worker in (first, other):
        out = worker.communicate(timeout=120)[0]
        claims += [line.split()[3].rstrip(":") for line in out.splitlines()
                   if line.endswith("seed 1")]
    assert sorted(claims) == sorted(ids)                       # each run claimed exactly once
    assert all(store.get_run(i)["status"] == "succeeded" for i in ids)


def test_a_study_with_two_cpu_slots_trains_two_runs_at_once(dcpoc_home):
    store = Store()
    # One run per slot: the first slot cannot take the second run before its first one ends, so
    # the second slot (started moments later) must train it meanwhile.
    ids = launch_study(store, StudySpec(name="pair", presets=["tiny"], seeds=[1], steps=60,
                                        overrides=["threads=1"], device="cpu", workers=2))
    wait_for(lambda: set(store.list_runs(study="pair")["status"]) == {"succeeded"}, timeout=180,
             every=0.5)
    wait_for(lambda: not worker_alive(store), timeout=30)
    runs = store.list_runs(study="pair").set_index("id").loc[ids]
    logs = [(dcpoc_home / run_id / "log.txt").read_text() for run_id in ids]
    assert sorted("(device cpu:1)" in log for log in logs) == [False, True]
    assert runs["worker_id"].nunique() == 2
    assert runs["started_at"].max() < runs["finished_at"].min()      # the intervals overlap


STATUS_NAMES = {name: getattr(run_status, name) for name in ("ACTIVE", "DONE", "FINISHED", "RESTARTABLE")}
# execute._take moves a run from the status it read, (status,), and only under `status in RESTARTABLE`
DYNAMIC_SOURCES = {"status": run_status.RESTARTABLE}


def _statuses(node: ast.expr) -> set[str]:
    """The statuses an argument of transition_run names: Status.X, a named set, or a tuple of them."""
    if isinstance(node, (ast.Tuple, ast.List)):
        return set().union(*(_statuses(e) for e in node.elts))
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "Status":
        return {Status[node.attr].value}
    if isinstance(node, ast.Name) and node.id in {**STATUS_NAMES, **DYNAMIC_SOURCES}:
        return set({**STATUS_NAMES, **DYNAMIC_SOURCES}[node.id])
    raise AssertionError(f"line {node.lineno}: cannot read the statuses of {ast.unparse(node)}")


def test_every_status_move_the_code_makes_is_in_the_table():
    moves = set()
    for path in sorted((REPO_ROOT / "dcpoc" / "runs").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "transition_run":
                to = next(k.value for k in node.keywords if k.arg == "status")
                moves |= {(src, dst) for src in _statuses(node.args[1]) for dst in _statuses(to)}
    assert len(moves) >= 8, moves                         # the calls were found
    # a same-status move only updates fields (a cancelled run's error when its worker stops)
    illegal = [(src, dst) for src, dst in moves if src != dst and not can_move(src, dst)]
    assert not illegal, illegal
    assert set(run_status.ACTIVE) | set(run_status.DONE) == set(run_status.STATUSES)
    assert all(can_move(s, Status.QUEUED) for s in run_status.RESTARTABLE)


def test_a_succeeded_run_cannot_move(dcpoc_home):
    assert not any(can_move(Status.SUCCEEDED, s) for s in Status)
    store = Store()
    run_id = queue_tiny(store)
    store.update_run(run_id, status=Status.SUCCEEDED, checkpoint_path=str(dcpoc_home / "ckpt.pt"))
    assert cancel_run(store, run_id) == "succeeded"
    with pytest.raises(RunError, match="only a failed or cancelled run can be retried"):
        retry_run(store, run_id, start_worker=False)
    with pytest.raises(RunError, match="only a failed or cancelled run can be resumed"):
        resume_run(store, run_id, start_worker=False)
    for resume in (True, False):   # `train --resume` and `train --run-id` say the same
        with pytest.raises(RunError, match="already finished; start a new run"):
            _take(store, store.get_run(run_id), resume=resume)
    row = store.get_run(run_id)
    assert row["status"] == "succeeded" and not row["cancel_requested"]


@pytest.mark.parametrize("home", ["~/poc", ""])
def test_the_database_and_the_run_folders_share_one_home(tmp_path, monkeypatch, home):
    """DCPOC_HOME=~/poc and DCPOC_HOME="" (unset) are read the same way by the store's default
    URL and by the run folders: a real train puts its database and runs/<id>/ side by side."""
    monkeypatch.delenv("DCPOC_DB", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    monkeypatch.setenv("DCPOC_HOME", home)
    cwd = tmp_path / "cwd"                     # the unset default ./runs lands under it
    cwd.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    out = subprocess.run([sys.executable, "-m", "dcpoc", "train", "--arch", "transformer",
                          "--preset", "tiny", "--steps", "3", "--no-progress"],
                         cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    run_id = out.stdout.split()[1]
    folder = tmp_path / "user" / "poc" if home else cwd / "runs"
    assert (folder / "dcpoc.db").is_file() and (folder / run_id / "config.json").is_file()
    assert sorted(p.name for p in tmp_path.rglob("dcpoc.db")) == ["dcpoc.db"]
    assert not (cwd / "~").exists()


@pytest.mark.parametrize("changes, error, match", [
    ({"presets": ["huge"]}, ConfigError, "unknown preset 'huge'"),
    ({"archs": ["rnn"]}, ConfigError, "architectures must be"),
    ({"seeds": [1, 1]}, ConfigError, "distinct"),
    ({"steps": 5, "tokens": 100}, ConfigError, "not several"),
    ({"name": "  "}, ConfigError, "needs a name"),
    ({"overrides": ["nope=1"]}, ConfigError, "unknown key 'nope'"),
    ({"corpus": "text:/no/such/file"}, CorpusError, "does not exist"),
])
def test_bad_study_specs_queue_nothing(dcpoc_home, changes, error, match):
    store = Store()
    spec = StudySpec(**{"name": "bad", "presets": ["tiny"], "steps": 2, **changes})
    with pytest.raises(error, match=match):
        launch_study(store, spec)
    assert store.list_runs().empty and store.list_studies().empty


@pytest.mark.parametrize("args", [
    ["--presets", "huge"], ["--seeds", "1,x"], ["--steps", "2", "--tokens", "9"],
    ["--corpus", "text:/no/such/file"],
])
def test_cli_bad_study_is_one_line(dcpoc_home, args):
    out = run_cli("study", "launch", "--name", "bad", *args)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.startswith("error: ") and out.stderr.count("\n") == 1, out.stderr


def test_study_plan_prints_runs_and_totals(dcpoc_home):
    out = run_cli("study", "plan", "--name", "p", "--presets", "tiny,cpu-demo", "--seeds", "1,2")
    assert out.returncode == 0, out.stderr
    assert "(from FLOP counts: no run of these shapes was measured here yet)" in out.stdout
    assert out.stdout.count("\ntiny ") == 4 and out.stdout.count("\ncpu-demo ") == 4
    assert "device-hours" in out.stdout and "$" in out.stdout
    assert not Store().list_runs().shape[0]                    # planning queues nothing


@pytest.mark.skipif(torch.cuda.is_available(), reason="auto is the CPU only on a machine without a GPU")
def test_an_auto_worker_beside_a_cpu_worker_exits(dcpoc_home, capsys):
    """`study launch --workers 2` starts workers for cpu and cpu:1; a plain `python -m dcpoc worker`
    (auto) beside them trained a third run on two cores. On a machine without a GPU auto is cpu."""
    import socket
    from dcpoc.runs.worker import run_worker
    store = Store()
    queue_tiny(store, steps=2)
    assert store.register_worker("wslot", socket.gethostname(), os.getpid(), "cpu")   # alive: us
    assert run_worker(store, device="auto") == 0
    assert "a worker already serves device cpu on" in capsys.readouterr().out
    assert store.list_runs()["status"].tolist() == ["queued"]


def test_launching_into_a_study_name_in_use_says_the_runs_join_it(dcpoc_home):
    args = ("study", "launch", "--name", "a", "--presets", "tiny", "--steps", "2", "--no-worker")
    first = run_cli(*args)
    assert first.returncode == 0 and "added to" not in first.stdout, first.stderr
    again = run_cli(*args[:-2], "5", "--no-worker")
    assert again.returncode == 0, again.stderr
    assert "queued 2 runs of study 'a' (added to the 2 runs it already had: the verdict compares " \
           "them all; a new --name starts a separate study)" in again.stdout
    asked = run_cli(*args[:-1], "--question", "another?", "--no-worker")   # not taken: said so
    assert "it keeps no question (--question is not used); a new --name" in asked.stdout, asked.stdout


@pytest.mark.usefixtures("fresh_caches")
def test_the_launch_page_warns_that_a_name_in_use_joins_its_study(dcpoc_home, monkeypatch):
    from conftest import by_label, open_page
    monkeypatch.setenv("DCPOC_NO_AUTOWORKER", "1")      # the queue as the launch left it
    assert run_cli("study", "launch", "--name", "a", "--presets", "tiny", "--steps", "2",
                   "--no-worker").returncode == 0
    at = open_page("pages/1_Launch.py", "ja")
    by_label(at.text_input, "調査名").set_value("a").run()
    assert any("既に 2 件の実行があります" in w.value for w in at.warning)
    at = open_page("pages/1_Launch.py")
    by_label(at.text_input, "Study name").set_value("a").run()
    assert any("already has 2 runs" in w.value for w in at.warning)
    by_label(at.button, "Launch study").click().run()
    assert any("added to the 2 runs it already had" in s.value for s in at.success), \
        [e.value for e in at.error]
    assert len(Store().list_runs(study="a")) > 2
    # a plan with a later stage cannot join it: the warning says so before the click
    at = open_page("pages/1_Launch.py")
    by_label(at.text_input, "Study name").set_value("a").run()
    at.multiselect(key="launch_presets").set_value(["tiny", "cpu-xs"]).run()
    at.radio(key="launch_sweep").set_value("smallest").run()     # cpu-xs waits for tiny's sweep
    assert any("needs a study of its own" in w.value for w in at.warning), [w.value for w in at.warning]
    assert not any("already has" in w.value for w in at.warning)


def test_the_dead_run_reaper_leaves_what_it_cannot_judge(dcpoc_home):
    """reap_dead_here marks failed only a run of this host whose process is gone and that no live
    worker watches: not another host's, not a SLURM job's, not one without a pid yet."""
    import socket
    from dcpoc.runs.worker import reap_dead_here
    store = Store()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()                                                    # a pid that has ended
    here = socket.gethostname()
    assert store.register_worker("wlive", here, os.getpid(), "cpu:7")
    cases = {"watched": dict(host=here, pid=gone.pid, worker_id="wlive"),
             "elsewhere": dict(host="another-host", pid=gone.pid),
             "no-pid": dict(host=here, pid=None),
             "slurm": dict(host=here, pid=gone.pid, executor="slurm", job_id="42"),
             "dead": dict(host=here, pid=gone.pid)}
    ids = {}
    for name, fields in cases.items():
        ids[name] = queue_tiny(store, steps=2)
        store.update_run(ids[name], status="running", **fields)
    assert reap_dead_here(store, grace_s=0.0) == [ids["dead"]]
    assert {n: store.get_run(i)["status"] for n, i in ids.items()} == {
        "watched": "running", "elsewhere": "running", "no-pid": "running", "slurm": "running",
        "dead": "failed"}
