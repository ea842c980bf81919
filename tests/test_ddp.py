"""Several processes with DistributedDataParallel, on the CPU (gloo): the worker starts a run with
nproc=2 under torchrun, and its training matches one process on the same global batch."""
import sys
import time

import pytest
import torch

from dcpoc.config import make_config
from dcpoc.runs import cancel_run, create_run, execute_run, run_worker
from dcpoc.runs.processes import train_command
from dcpoc.runs.store import Store
from dcpoc.train import Distributed

from conftest import start_worker, wait_for

# grad_accum=2 so that each process also accumulates (model.no_sync on the first micro-batch).
OVERRIDES = ["grad_accum=2", "eval_every=2", "ckpt_every=2"]


def test_torchrun_command_is_an_argument_list():
    assert train_command("r1", resume=False, nproc=1) == [
        sys.executable, "-m", "dcpoc", "train", "--run-id", "r1", "--no-progress"]
    ddp = train_command("r1", resume=True, nproc=2)
    assert ddp[:6] == [sys.executable, "-m", "torch.distributed.run", "--standalone",
                       "--nproc_per_node", "2"]
    assert ddp[6:] == ["-m", "dcpoc", "train", "--resume", "r1", "--no-progress"]


def test_two_processes_train_like_one(dcpoc_home):
    store = Store()
    steps = 4
    single_id = create_run(store, make_config("dcformer", "tiny", OVERRIDES, steps=steps),
                           status="running")
    execute_run(store, single_id)
    ddp_config = make_config("dcformer", "tiny", OVERRIDES + ["nproc=2"], steps=steps)
    ddp_id = create_run(store, ddp_config)
    assert run_worker(store) == 1

    single, ddp = store.get_run(single_id), store.get_run(ddp_id)
    assert ddp["status"] == "succeeded", ddp["error"]
    assert "torch.distributed.run --standalone --nproc_per_node 2" in \
        (dcpoc_home / ddp_id / "log.txt").read_text()
    assert ddp["tokens_seen"] == single["tokens_seen"] == steps * 8 * 32   # global batch 8 x T 32
    ref = store.get_metrics(single_id, ["train_loss"])
    got = store.get_metrics(ddp_id, ["train_loss"])
    assert list(got["step"]) == list(range(1, steps + 1))
    assert abs(ref["value"].to_numpy() - got["value"].to_numpy()).max() < 1e-4
    val = store.get_metrics(ddp_id, ["val_loss"])
    assert list(val["step"]) == [2, 4]                     # rank 0 alone reports: no duplicates
    assert ddp["final_val_loss"] == pytest.approx(single["final_val_loss"], abs=1e-4)
    assert ddp["cost_usd"] == pytest.approx(
        single["cost_usd"] * 2 * ddp["wall_s"] / single["wall_s"], rel=1e-6)   # two devices


def test_cancel_reaches_every_process(dcpoc_home):
    store = Store()
    run_id = create_run(store, make_config("transformer", "tiny", ["nproc=2"], steps=100000))
    worker = start_worker()
    wait_for(lambda: (store.get_run(run_id)["step"] or 0) > 0, timeout=60)
    assert cancel_run(store, run_id) == "running"
    asked = time.monotonic()
    wait_for(lambda: store.get_run(run_id)["status"] != "running", timeout=10)
    assert time.monotonic() - asked < 5
    worker.wait(timeout=30)
    row = store.get_run(run_id)
    assert row["status"] == "cancelled" and row["error"] is None   # honoured, not killed
    assert (dcpoc_home / run_id / "checkpoint.pt").exists()


def test_each_process_takes_its_own_slice_of_the_global_batch():
    batch = torch.arange(8 * 3).reshape(8, 3)
    slices = [Distributed(rank=r, world=4).shard(batch) for r in range(4)]
    assert all(s.shape == (2, 3) for s in slices)
    assert torch.equal(torch.cat(slices), batch)
