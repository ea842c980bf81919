"""The Triton path's self-check (kernels/selfcheck.py, runs/selfchecks.py): the real kernels in
Triton's CPU interpreter against dcmha_torch, stored in a real SQLite file and reused; an injected
fault (DCPOC_INJECT_TRITON_FAULT=1) must lead auto to the PyTorch path with the reason recorded and
no failed run, and an explicit attn_impl=triton to fail at once with one line. Tiny shapes: each
self-check takes seconds under the interpreter."""
import json
import os
from dataclasses import replace

import pytest
import torch

from dcpoc.config import make_config
from dcpoc.kernels.selfcheck import (CPU_ENV, FAULT_ENV, SelfCheckError, checked, choose_attention,
                                     decide, gpu_name, spec_for_model)
from dcpoc.runs import create_run, execute_run
from dcpoc.runs.selfchecks import (StoreCache, format_selfcheck, list_selfchecks, reuse_key,
                                   selfcheck_for_bench)
from dcpoc.runs.store import Store

from dcpoc.decision import load_decision, run_environment
from dcpoc.decision.compare import attention_paths
from dcpoc.report.blocks import footer

from conftest import open_page, run_cli

CPU = torch.device("cpu")
INTERPRET = os.environ.get("TRITON_INTERPRET") == "1"
needs_interpreter = pytest.mark.skipif(not INTERPRET or torch.cuda.is_available(),
                                       reason="the CPU self-check runs under TRITON_INTERPRET=1")
TINY = make_config("dcformer", "tiny")


@pytest.fixture
def on_cpu(dcpoc_home, monkeypatch):
    """A fresh database, the self-check allowed on the CPU, no injected fault."""
    monkeypatch.setenv(CPU_ENV, "1")
    monkeypatch.delenv(FAULT_ENV, raising=False)
    return Store()


def test_auto_uses_triton_only_when_it_passed_and_was_faster():
    assert decide(True, None, 1.0, 2.0)[0] == "triton"
    path, reason = decide(True, None, 3.0, 2.0)
    assert path == "torch" and reason.startswith("Triton slower") and "3.00 ms vs 2.00 ms" in reason
    path, reason = decide(False, "float32 causal: out relative error 1e-01", None, None)
    assert path == "torch" and reason == "self-check failed: float32 causal: out relative error 1e-01"
    assert decide(True, None, None, 2.0)[0] == "torch"


def test_paths_without_a_check(monkeypatch):
    monkeypatch.delenv(CPU_ENV, raising=False)
    auto = choose_attention(TINY.model, TINY.train, CPU)
    assert (auto.path, auto.reason, auto.impl) == ("torch", "CPU: the PyTorch path", "torch")
    tf = make_config("transformer", "tiny")
    assert choose_attention(tf.model, tf.train, CPU).path == "torch"
    ref = choose_attention(replace(TINY.model, attn_impl="reference"), TINY.train, CPU)
    assert ref.impl == "reference" and "attn_impl=reference" in ref.reason
    with pytest.raises(SelfCheckError, match="needs a CUDA GPU"):
        choose_attention(replace(TINY.model, attn_impl="triton"), TINY.train, CPU)


@needs_interpreter
def test_a_passing_check_is_stored_and_reused_until_its_key_changes(on_cpu):
    cache, spec = StoreCache(on_cpu), spec_for_model(TINY.model, TINY.train, CPU)
    first = checked(gpu_name(CPU), spec, CPU, cache)
    assert first["passed"] and first["error"] is None and first["id"] is not None, first["error"]
    assert first["triton_ms"] > 0 and first["torch_ms"] > 0
    assert (first["chosen"], first["reason"]) == decide(True, None, first["triton_ms"],
                                                        first["torch_ms"])
    assert [c["ok"] for c in first["result"]["cases"]] == [True] * 4   # fp32 / bf16 x causal / window
    printed = format_selfcheck(first).splitlines()      # what `bench selfcheck` prints
    assert printed[0].startswith("Triton self-check on cpu (Triton interpreter)")
    assert "PASSED" in printed[0] and sum(line.endswith(": ok") for line in printed) == 4
    assert printed[-1] == f"attn_impl=auto trains on: {first['chosen']} ({first['reason']})"
    key = reuse_key(gpu_name(CPU), spec)
    assert {k: first[k] for k in key} == key and key["torch_version"] == torch.__version__

    again = choose_attention(TINY.model, TINY.train, CPU, cache)     # reused: no second row
    assert again.check["id"] == first["id"] and again.check["created_at"] == first["created_at"]
    assert (again.path, again.reason, again.impl) == (first["chosen"], first["reason"], first["chosen"])
    assert len(list_selfchecks(on_cpu)) == 1

    other = checked(gpu_name(CPU), replace(spec, n_heads=1), CPU, cache)   # another head count
    assert other["id"] != first["id"] and other["n_heads"] == 1
    assert len(list_selfchecks(on_cpu)) == 2
    # same heads and head dim, another rank or window: that check says nothing for this one
    for changed in (replace(spec, rank=1), replace(spec, window=3), replace(spec, post=())):
        assert cache.get(gpu_name(CPU), changed) is None
    assert cache.get(gpu_name(CPU), spec)["id"] == first["id"]


@needs_interpreter
def test_a_model_outside_the_kernels_limits_trains_on_torch_without_a_check(on_cpu):
    cache = StoreCache(on_cpu)
    assert choose_attention(TINY.model, TINY.train, CPU, cache).check["passed"]  # a check exists
    wide = replace(TINY.model, dc_rank=5)       # the config allows rank 8; the kernels take 4
    choice = choose_attention(wide, TINY.train, CPU, cache)
    assert (choice.path, choice.impl, choice.check) == ("torch", "torch", None)
    assert choice.reason == "dc_rank 5 is above the Triton kernels' 4: the PyTorch path"
    assert len(list_selfchecks(on_cpu)) == 1                 # nothing ran or was stored for it
    with pytest.raises(SelfCheckError, match=r"^attn_impl=triton: dc_rank 5 is above .* use attn_impl=auto"):
        choose_attention(replace(wide, attn_impl="triton"), TINY.train, CPU, cache)


@needs_interpreter
def test_a_fault_makes_auto_choose_torch_and_explicit_triton_fail(on_cpu, monkeypatch):
    monkeypatch.setenv(FAULT_ENV, "1")
    cache = StoreCache(on_cpu)
    choice = choose_attention(TINY.model, TINY.train, CPU, cache)
    assert (choice.path, choice.impl) == ("torch", "torch")
    assert choice.reason.startswith("self-check failed: float32 causal: out relative error")
    [row] = list_selfchecks(on_cpu)
    assert not row["passed"] and row["chosen"] == "torch" and FAULT_ENV in row["error"]
    assert row["injected_fault"] and row["triton_ms"] is None
    with pytest.raises(SelfCheckError) as failed:
        choose_attention(replace(TINY.model, attn_impl="triton"), TINY.train, CPU, cache)
    message = str(failed.value)
    assert "\n" not in message and message.startswith("attn_impl=triton: the Triton self-check failed")
    assert "relative error" in message and "use attn_impl=auto" in message

    in_json = json.loads(json.dumps(selfcheck_for_bench()))   # `bench gpu` runs it first
    assert in_json["chosen"] == "torch" and in_json["created_at"] and not in_json["passed"]

    monkeypatch.delenv(FAULT_ENV)      # a faulty verdict is never reused once the fault is gone
    healed = checked(gpu_name(CPU), spec_for_model(TINY.model, TINY.train, CPU), CPU, cache)
    assert healed["passed"] and not healed["injected_fault"] and healed["id"] != row["id"]


@needs_interpreter
def test_a_run_under_auto_with_a_fault_trains_on_torch(on_cpu, monkeypatch):
    monkeypatch.setenv(FAULT_ENV, "1")
    run = make_config("dcformer", "tiny", steps=4)
    run_id = create_run(on_cpu, run, status="running")
    summary = execute_run(on_cpu, run_id)
    row = on_cpu.get_run(run_id)
    assert summary["status"] == "succeeded" and row["status"] == "succeeded" and row["error"] is None
    assert row["attn_path"] == "torch"
    assert row["attn_reason"].startswith("self-check failed: ") and FAULT_ENV in row["attn_reason"]
    assert on_cpu.list_runs()["attn_path"].tolist() == ["torch"]
    monkeypatch.delenv(CPU_ENV)     # the same run without a check: the check moved no random state
    plain_id = create_run(on_cpu, run, status="running")
    execute_run(on_cpu, plain_id)
    losses = [on_cpu.get_metrics(i, ["train_loss"])["value"].tolist() for i in (run_id, plain_id)]
    assert losses[0] == losses[1] and on_cpu.get_run(plain_id)["attn_reason"] == "CPU: the PyTorch path"


@needs_interpreter
def test_explicit_triton_with_a_fault_fails_at_once_with_one_line(on_cpu):
    done = run_cli("train", "--arch", "dcformer", "--preset", "tiny", "--steps", "4", "--no-progress",
                   "--set", "attn_impl=triton", env={FAULT_ENV: "1"})
    assert done.returncode == 2, done.stderr
    error = done.stderr.strip().splitlines()[-1]
    assert error.startswith("error: attn_impl=triton: the Triton self-check failed on cpu")
    [run] = on_cpu.list_runs().to_dict("records")
    assert run["status"] == "failed" and run["step"] == 0
    assert "the Triton self-check failed" in run["error"] and "\n" not in run["error"]


def test_a_plain_cpu_run_records_the_torch_path_everywhere(dcpoc_home, monkeypatch, fresh_caches):
    """Without the opt-in a CPU run trains on torch with no check; the path reaches the run's
    environment, the Runs page, the Decision page's speed ratio and the report footer."""
    monkeypatch.delenv(CPU_ENV, raising=False)
    store = Store()
    for arch, reason in (("dcformer", "CPU: the PyTorch path"), ("transformer", "Transformer++")):
        run_id = create_run(store, make_config(arch, "tiny", steps=2, device="cpu"), status="running")
        execute_run(store, run_id)
        row = store.get_run(run_id)
        assert row["status"] == "succeeded" and row["attn_path"] == "torch"
        assert row["attn_reason"].startswith(reason)
        assert dict(run_environment(row))["attn_reason"] == row["attn_reason"]
    assert list_selfchecks(store) == []
    runs = store.list_runs()
    assert attention_paths(runs) == "torch" and attention_paths(runs, "cpu") == "torch"
    assert attention_paths(runs, "h100") == ""
    assert ("DCFormer attention path", "torch") in footer(load_decision(store, None))
    at = open_page("pages/2_Runs.py")
    assert any(c.value.startswith("Trained on the torch attention path: ") for c in at.caption)
    at = open_page("pages/6_Decision.py")
    assert "Measured with DCFormer on the torch attention path (CPU)." in [c.value for c in at.caption]


@needs_interpreter
def test_bench_selfcheck_on_the_cpu_interpreter(dcpoc_home):
    """On demand, stored; with the fault it stops at the first case (a passing run's lines are
    checked in-process above) and exits 1."""
    done = run_cli("bench", "selfcheck", env={CPU_ENV: "1", FAULT_ENV: "1"})
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("Triton self-check on cpu (Triton interpreter)") and "FAILED" in lines[0]
    assert lines[1].endswith(": FAIL") and lines[2].startswith("  error: float32 causal: out ")
    assert lines[-1].startswith("attn_impl=auto trains on: torch (self-check failed: ")
    [row] = list_selfchecks(Store())
    assert not row["passed"] and row["error"] in lines[2]


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU machine runs the check")
def test_bench_selfcheck_without_a_gpu_says_so_in_one_line(dcpoc_home):
    done = run_cli("bench", "selfcheck", env={CPU_ENV: "0"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("\n") == 1 and done.stdout.startswith("no CUDA GPU here")
