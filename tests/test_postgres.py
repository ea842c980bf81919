"""The store on a real PostgreSQL server (workers on several machines share one through DCPOC_DB),
and the queue's claim race on PostgreSQL and SQLite: concurrent claimers never get the same run.

PostgreSQL tests need DCPOC_TEST_PG_URL (.ci/run starts Debian's postgresql and sets it); each test
gets a schema of its own, dropped afterwards."""
import json
import math
import os
import subprocess
import sys
from datetime import timedelta

import pytest

from dcpoc.config import make_config
from dcpoc.runs import create_run, run_worker
from dcpoc.runs.paths import now_utc
from dcpoc.runs.store import Store

from conftest import PG_URL, REPO_ROOT, needs_pg, wait_for

@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=needs_pg)])
def any_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'claims.db'}"
    return request.getfixturevalue("pg_url")


@needs_pg
def test_store_round_trip(pg_url):
    store = Store(pg_url)
    store.ensure_study("s", "why?", {"seeds": [1]})
    assert store.ensure_study("s") == store.get_study("s")["id"]
    run_id = store.create_run(arch="dcformer", preset="tiny", config={"a": 1}, seed=3,
                              corpus_spec="pydoc", study="s", versions={"torch": "x"})
    store.update_run(run_id, status="running", final_val_loss=float("nan"), step=4)
    row = store.get_run(run_id)
    assert (row["study"], row["seed"], row["config"], row["versions"]) == ("s", 3, {"a": 1},
                                                                          {"torch": "x"})
    assert row["diverged"] and row["final_val_loss"] is None and row["created_at"].tzinfo
    store.log_metrics(run_id, [{"step": s, "key": "train_loss", "value": v, "tokens": 10 * s}
                               for s, v in [(1, 2.0), (2, float("inf")), (3, float("nan"))]])
    store.log_metrics(run_id, [{"step": 1, "key": "train_loss", "value": 1.5}])   # replaces
    metrics = store.get_metrics(run_id)
    assert list(metrics["step"]) == [1, 2, 3] and metrics["value"][0] == 1.5
    assert list(metrics["nonfinite"][1:]) == ["inf", "nan"] and math.isnan(metrics["value"][2])
    assert store.truncate_metrics(run_id, 1) == 2
    store.heartbeat(run_id, 7)
    store.request_cancel(run_id)
    assert store.cancel_requested(run_id) and store.get_run(run_id)["step"] == 7
    assert store.stale_runs(now_utc() + timedelta(seconds=1))[0]["id"] == run_id
    assert not store.transition_run(run_id, ("queued",), status="cancelled")
    assert store.transition_run(run_id, ("running",), status="failed", error="x")
    frame = store.list_runs(study="s", status="failed")
    assert list(frame["id"]) == [run_id] and store.list_studies()["n_runs"].tolist() == [1]
    store.set_setting("prices", {"h100": 2.2})
    assert store.get_setting("prices") == {"h100": 2.2}
    store.delete_run(run_id)
    assert store.get_run(run_id) is None and store.get_metrics(run_id).empty


@needs_pg
def test_one_worker_per_host_and_device(pg_url):
    store = Store(pg_url)
    assert store.register_worker("w1", "h", 1, "cuda:0")
    assert not store.register_worker("w2", "h", 2, "cuda:0")
    assert store.register_worker("w3", "h", 3, "cuda:1")
    assert store.worker_heartbeat("w1", "r1") and not store.worker_heartbeat("w2")
    workers = store.list_workers()
    assert list(workers["id"]) == ["w1", "w3"] and workers["run_id"][0] == "r1"
    store.remove_worker("w1")
    assert list(store.list_workers()["id"]) == ["w3"]


CLAIMER = """
import json, os, sys, time
from pathlib import Path
from dcpoc.runs.store import Store
store, me, go = Store(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
(go.parent / f"ready-{me}").touch()
while not go.exists():   # start together, for a real race
    time.sleep(0.005)
claimed = []
while (run := store.claim_run(me, "host-" + me)) is not None:
    claimed.append(run["id"])
print(json.dumps(claimed))
"""


def test_concurrent_claimers_never_get_the_same_run(any_url, tmp_path):
    store = Store(any_url)
    queued = [store.create_run(arch="transformer", preset="tiny", config={}, seed=i,
                               corpus_spec="pydoc") for i in range(60)]
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    claimers = [subprocess.Popen([sys.executable, "-c", CLAIMER, any_url, f"c{i}", str(go)],
                                 cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, text=True)
                for i in range(3)]
    wait_for(lambda: all((tmp_path / f"ready-c{i}").exists() for i in range(3)), timeout=60)
    go.touch()
    claims = {f"c{i}": json.loads(p.communicate(timeout=120)[0]) for i, p in enumerate(claimers)}
    every = [run_id for ids in claims.values() for run_id in ids]
    assert sorted(every) == sorted(queued)                     # each run claimed exactly once
    for claimer, ids in claims.items():
        assert {store.get_run(i)["worker_id"] for i in ids} <= {claimer}
    assert store.claim_run("late", "h") is None


@needs_pg
def test_worker_trains_a_queued_run_on_postgres(pg_url, dcpoc_home, monkeypatch):
    monkeypatch.setenv("DCPOC_DB", pg_url)
    store = Store(pg_url)
    run_id = create_run(store, make_config("dcformer", "tiny", steps=3), study="pg")
    assert run_worker(store) == 1
    row = store.get_run(run_id)
    assert row["status"] == "succeeded", row["error"]
    assert list(store.get_metrics(run_id, ["train_loss"])["step"]) == [1, 2, 3]
