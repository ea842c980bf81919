"""Real training runs on the tiny preset: learning, reproducibility, kill + resume, cancel."""
import math
import os
import signal
import subprocess
import sys
import time

import pytest

from dcpoc.config import make_config
from dcpoc.runs import create_run, execute_run
from dcpoc.runs.store import Store
from dcpoc.train import Distributed, NullSink, StopSignals, _setup, lr_at

from conftest import REPO_ROOT


def train_in_process(store, arch, steps=60, seed=1, overrides=()):
    run = make_config(arch, "tiny", list(overrides), steps=steps, seed=seed)
    run_id = create_run(store, run, status="running")
    summary = execute_run(store, run_id)
    return run_id, summary


@pytest.mark.parametrize("arch", ["transformer", "dcformer"])
def test_validation_loss_falls(dcpoc_home, arch):
    store = Store()
    run_id, summary = train_in_process(store, arch)
    val = store.get_metrics(run_id, ["val_loss"])
    assert summary["status"] == "succeeded" and list(val["step"]) == [20, 40, 60]
    assert val["value"].iloc[-1] < val["value"].iloc[0] < math.log(256)
    row = store.get_run(run_id)
    assert row["status"] == "succeeded" and row["final_val_loss"] == pytest.approx(val["value"].iloc[-1])
    assert row["tokens_per_s"] > 0 and row["wall_s"] > 0 and row["cost_usd"] > 0
    assert row["corpus_fingerprint"] and row["n_params"] > 0 and row["git_commit"]
    assert row["versions"]["torch"] and row["device"] == "cpu"


def test_cpu_run_is_reproducible_from_its_seed(dcpoc_home):
    store = Store()
    losses = []
    for seed in (5, 5, 6):
        run_id, _ = train_in_process(store, "dcformer", steps=15, seed=seed)
        losses.append(list(store.get_metrics(run_id, ["train_loss"])["value"]))
    assert losses[0] == losses[1]
    assert losses[0] != losses[2]


def test_a_compiled_dcformer_trains_on_the_cpu(dcpoc_home):
    """Regression: compile=true failed every DCFormer CPU run inside Inductor (the C++ compose
    kernel cannot be traced); the model now compiles around the kernels, with the same losses."""
    from conftest import run_cli
    losses = {}
    for compiled in ("false", "true"):
        done = run_cli("train", "--arch", "dcformer", "--preset", "tiny", "--steps", "3", "--seed", "3",
                       "--set", f"compile={compiled}", "--no-progress", timeout=600)
        assert done.returncode == 0 and "succeeded" in done.stdout, done.stderr[-2000:]
        run_id = done.stdout.split("run ")[1].split(":")[0]
        losses[compiled] = list(Store().get_metrics(run_id, ["train_loss"])["value"])
    assert losses["true"] == pytest.approx(losses["false"], rel=1e-4)


def test_final_evaluation_scores_the_stated_validation_tokens(dcpoc_home):
    """The final evaluation scores the whole pydoc validation split (non-overlapping windows) when
    val_tokens allows it, else a fixed sample of val_tokens; the count is recorded with the run, and
    the intermediate evaluations use a subset of the same windows."""
    from dcpoc.data import load_corpus, split_corpus
    store = Store()
    _, val = split_corpus(load_corpus("pydoc"), 0.1)
    whole = (val.size - 1) // 32 * 32                 # tiny's seq_len is 32
    counts = {}
    for cap in (4096, 10**6):
        run_id, summary = train_in_process(store, "transformer", steps=4,
                                           overrides=["eval_every=2", f"val_tokens={cap}"])
        rows = store.get_metrics(run_id, ["val_tokens", "val_split_tokens", "val_loss"])
        values = {(r.key, r.step): r.value for r in rows.itertuples()}
        assert summary["status"] == "succeeded" and set(rows["step"]) == {2, 4}
        assert values[("val_split_tokens", 4)] == whole and ("val_tokens", 2) not in values
        counts[cap] = values[("val_tokens", 4)]
        assert store.get_run(run_id)["final_val_loss"] == pytest.approx(values[("val_loss", 4)])
    assert counts[4096] == 4096 and counts[10**6] == whole > 4096


def test_schedule_warms_up_then_decays_to_ten_percent():
    run = make_config("dcformer", "tiny", steps=1000)
    peak = run.train.lr
    assert lr_at(0, run) == pytest.approx(peak / 10)          # warmup of 1% = 10 steps
    assert lr_at(9, run) == pytest.approx(peak)
    assert lr_at(999, run) == pytest.approx(0.1 * peak, rel=1e-3)
    assert all(lr_at(s, run) >= lr_at(s + 1, run) for s in range(10, 999))


def _start_cli_run(*extra):
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen([sys.executable, "-m", "dcpoc", "train", "--arch", "dcformer", "--preset",
                             "tiny", "--no-progress", *extra], cwd=REPO_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(predicate, timeout=120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def test_killed_run_resumes_with_contiguous_metrics(dcpoc_home):
    store = Store()
    steps = 400
    proc = _start_cli_run("--steps", str(steps), "--set", "ckpt_every=25", "--set", "eval_every=50")
    run_id = _wait_for(lambda: next(iter(store.list_runs()["id"]), None))
    _wait_for(lambda: (store.get_run(run_id)["step"] or 0) >= 100)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    killed = store.get_run(run_id)
    assert killed["status"] == "running" and killed["step"] < steps   # the kill left it mid-way
    # no worker watches a foreground run: `runs`, `study list` and the dashboard settle it
    from dcpoc.runs.worker import reap_dead_here
    assert reap_dead_here(store, grace_s=0.0) == [run_id] and reap_dead_here(store, 0.0) == []
    lost = store.get_run(run_id)
    assert lost["status"] == "failed" and lost["step"] == killed["step"]
    assert f"ended without a word (killed, or out of memory); resume it: python -m dcpoc train " \
           f"--resume {run_id}" in lost["error"]

    resumed = subprocess.run([sys.executable, "-m", "dcpoc", "train", "--resume", run_id, "--no-progress"],
                             cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    metrics = store.get_metrics(run_id)
    train_steps = list(metrics[metrics.key == "train_loss"]["step"])
    assert train_steps == list(range(1, steps + 1))                 # no gaps, no duplicates
    assert list(metrics[metrics.key == "val_loss"]["step"]) == list(range(50, steps + 1, 50))
    assert store.get_run(run_id)["status"] == "succeeded"

    # The resumed run continues exactly where the killed one was: same losses as an uninterrupted run.
    reference_id, _ = train_in_process(store, "dcformer", steps=steps,
                                       overrides=("ckpt_every=25", "eval_every=50"))
    ref = store.get_metrics(reference_id, ["train_loss"])["value"].to_numpy()
    got = metrics[metrics.key == "train_loss"]["value"].to_numpy()
    assert abs(ref - got).max() < 1e-5


def test_a_resume_whose_checkpoint_does_not_load_keeps_what_the_run_recorded(dcpoc_home):
    store = Store()
    run_id, _ = train_in_process(store, "transformer", steps=4)
    store.update_run(run_id, status="cancelled")            # as if stopped: resumable
    before = store.get_run(run_id)
    checkpoint = dcpoc_home / run_id / "checkpoint.pt"
    checkpoint.write_bytes(checkpoint.read_bytes()[:100])  # truncated
    resumed = subprocess.run([sys.executable, "-m", "dcpoc", "train", "--resume", run_id, "--no-progress"],
                             cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode != 0 and "Traceback" not in resumed.stderr
    after = store.get_run(run_id)
    assert after["status"] == "failed" and after["error"]
    for field in ("step", "tokens_seen", "final_val_loss", "wall_s", "tokens_per_s", "cost_usd"):
        assert after[field] == before[field], field


def test_cancel_flag_stops_a_running_run(dcpoc_home):
    store = Store()
    proc = _start_cli_run("--steps", "100000")
    run_id = _wait_for(lambda: next(iter(store.list_runs()["id"]), None))
    _wait_for(lambda: (store.get_run(run_id)["step"] or 0) >= 20)
    store.request_cancel(run_id)
    asked = time.monotonic()
    proc.wait(timeout=60)
    assert time.monotonic() - asked < 10
    row = store.get_run(run_id)
    assert proc.returncode == 0 and row["status"] == "cancelled" and 0 < row["step"] < 100000
    assert (dcpoc_home / run_id / "checkpoint.pt").exists()


def test_sigterm_stops_at_a_step_boundary_with_a_resumable_checkpoint(dcpoc_home):
    """SIGTERM only asks the loop to stop: the checkpoint's weights, optimizer and step agree, the
    run row points at it, and a resume finishes the run with contiguous metrics."""
    import torch
    store = Store()
    proc = _start_cli_run("--steps", "3000", "--set", "ckpt_every=100000")
    run_id = _wait_for(lambda: next(iter(store.list_runs()["id"]), None))
    _wait_for(lambda: (store.get_run(run_id)["step"] or 0) >= 20)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    row = store.get_run(run_id)
    assert row["status"] == "cancelled" and row["checkpoint_path"]
    ckpt = torch.load(row["checkpoint_path"], weights_only=False)
    adam_steps = {int(s["step"]) for s in ckpt["optimizer"]["state"].values()}
    assert adam_steps == {ckpt["state"]["step"]} and ckpt["state"]["step"] == row["step"]
    resumed = subprocess.run([sys.executable, "-m", "dcpoc", "train", "--resume", run_id, "--no-progress",
                              ], cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    steps = list(store.get_metrics(run_id, ["train_loss"])["step"])
    assert steps == list(range(1, 3001)) and store.get_run(run_id)["status"] == "succeeded"


def test_ctrl_c_stops_at_a_step_boundary_and_exits_as_interrupted(dcpoc_home):
    """The first Ctrl-C stops the run with a checkpoint like SIGTERM does, but the command exits 130
    (not 0: `train ... && report ...` must not go on) and says how to resume."""
    store = Store()
    proc = _start_cli_run("--steps", "3000", "--set", "ckpt_every=100000")
    run_id = _wait_for(lambda: next(iter(store.list_runs()["id"]), None))
    _wait_for(lambda: (store.get_run(run_id)["step"] or 0) >= 5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    row = store.get_run(run_id)
    assert proc.returncode == 130 and row["status"] == "cancelled" and row["checkpoint_path"]
    assert f"train --resume {run_id}" in err


class _RecordingSink(NullSink):
    def __init__(self):
        self.ended, self.checkpoints = None, []

    def on_checkpoint(self, step, path):
        self.checkpoints.append(step)

    def on_end(self, status, summary, error):
        self.ended = (status, summary, error)


def test_non_finite_gradient_is_never_applied(tmp_path):
    """A fault injected into one gradient at step 13: the run is flagged diverged, the update is
    skipped, and the checkpoint of step 10 stays finite."""
    import torch
    run = make_config("dcformer", "tiny", ["ckpt_every=10"], steps=40)
    sink = _RecordingSink()
    with StopSignals() as stop:
        loop = _setup(run, tmp_path, sink, Distributed(), torch.device("cpu"), False, stop)
        weight = loop.model.blocks[0].ffn.down.weight
        weight.register_hook(lambda g: g * float("inf") if loop.state.step == 12 else g)
        assert loop.train(progress=False) == "diverged"
    assert loop.state.step == 13 and sink.checkpoints == [10]
    assert torch.isfinite(weight).all()
    ckpt = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    assert ckpt["state"]["step"] == 10
    assert all(torch.isfinite(t).all() for t in ckpt["model"].values())


def test_failure_before_the_first_step_is_recorded(dcpoc_home, tmp_path):
    """A run whose setup fails (a corrupt checkpoint) ends 'failed' with the reason, not 'running'."""
    store = Store()
    run = make_config("transformer", "tiny", steps=5)
    run_id = create_run(store, run, status="running")
    folder = dcpoc_home / run_id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "checkpoint.pt").write_bytes(b"truncated")
    with pytest.raises(Exception, match="cannot be read"):
        execute_run(store, run_id, resume=True)
    row = store.get_run(run_id)
    assert row["status"] == "failed" and "cannot be read" in row["error"]


def test_a_cpu_run_that_cannot_fit_in_memory_is_refused_before_it_starts(dcpoc_home):
    """paper-405m on a CPU was killed by the out-of-memory killer at 22 GB, its row left running."""
    from conftest import run_cli
    done = run_cli("train", "--arch", "dcformer", "--preset", "paper-405m", "--steps", "1",
                   "--device", "cpu")
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert done.stderr.startswith("error: preset paper-405m needs about ") and "GiB free" in done.stderr
    assert Store().list_runs().empty
    # a worker's run (no preflight) fails with the same reason instead of being killed
    from dcpoc.config import make_config
    from dcpoc.runs import create_run, execute_run
    store = Store()
    run_id = create_run(store, make_config("transformer", "paper-405m", steps=1, device="cpu"),
                        status="running")
    from dcpoc.config import ConfigError
    with pytest.raises(ConfigError, match="needs about"):
        execute_run(store, run_id)
    row = store.get_run(run_id)
    assert row["status"] == "failed" and "needs about" in row["error"]
