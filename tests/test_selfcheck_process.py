"""The self-check runs in a process of its own (kernels/selfcheck_process.py): a check process that
dies (a real SIGSEGV, injected with DCPOC_INJECT_SELFCHECK_CRASH=1) or outlives its timeout is a
failed check (kept, unless it was stopped from outside or cut by a caller's limit), auto trains on the PyTorch path in the very process that asked, and `bench gpu`'s
later stages keep off the Triton kernels. The kernels run under Triton's interpreter."""
import os
from dataclasses import replace

import pytest
import torch

from dcpoc.bench_gpu import check_kernels_on_gpu, gaps, triton_withheld, _without_triton
from dcpoc.config import make_config
from dcpoc.kernels.selfcheck import CPU_ENV, FAULT_ENV, SelfCheckError, checked, choose_attention, gpu_name, spec_for_model
from dcpoc.kernels.selfcheck_process import CRASH_ENV, TIMEOUT_ENV, _ended, timeout_s
from dcpoc.runs import create_run, execute_run
from dcpoc.runs.selfchecks import StoreCache, list_selfchecks, selfcheck_for_bench
from dcpoc.runs.store import Store

from conftest import run_cli

CPU = torch.device("cpu")
TINY = make_config("dcformer", "tiny")
needs_interpreter = pytest.mark.skipif(
    os.environ.get("TRITON_INTERPRET") != "1" or torch.cuda.is_available(),
    reason="the CPU self-check runs under TRITON_INTERPRET=1")


@pytest.fixture
def on_cpu(dcpoc_home, monkeypatch):
    monkeypatch.setenv(CPU_ENV, "1")
    for name in (FAULT_ENV, CRASH_ENV, TIMEOUT_ENV):
        monkeypatch.delenv(name, raising=False)
    return Store()


@needs_interpreter
def test_a_check_process_that_dies_means_torch_under_auto_and_one_line_for_triton(on_cpu, monkeypatch):
    monkeypatch.setenv(CRASH_ENV, "1")
    cache = StoreCache(on_cpu)
    choice = choose_attention(TINY.model, TINY.train, CPU, cache)     # this process lives on
    assert (choice.path, choice.impl) == ("torch", "torch")
    assert choice.reason == ("self-check failed: the self-check process died of SIGSEGV; its last "
                             "line: no output")
    [row] = list_selfchecks(on_cpu)
    assert not row["passed"] and row["result"]["crashed"] and row["injected_fault"]
    assert row["triton_ms"] is None and row["result"]["cases"] == []
    with pytest.raises(SelfCheckError) as failed:
        choose_attention(replace(TINY.model, attn_impl="triton"), TINY.train, CPU, cache)
    assert "\n" not in str(failed.value) and "died of SIGSEGV" in str(failed.value)
    assert len(list_selfchecks(on_cpu)) == 2           # an injected crash is never reused

    monkeypatch.delenv(CRASH_ENV)
    healed = choose_attention(TINY.model, TINY.train, CPU, cache)
    assert healed.check["passed"] and not healed.check["result"]["crashed"]
    assert healed.check["result"]["cases"]               # the child's cases came back whole


@needs_interpreter
def test_a_run_under_auto_survives_a_check_process_that_dies(on_cpu, monkeypatch):
    monkeypatch.setenv(CRASH_ENV, "1")
    run_id = create_run(on_cpu, make_config("dcformer", "tiny", steps=3), status="running")
    summary = execute_run(on_cpu, run_id)
    row = on_cpu.get_run(run_id)
    assert summary["status"] == "succeeded" and row["status"] == "succeeded" and row["step"] == 3
    assert row["attn_path"] == "torch" and "died of SIGSEGV" in row["attn_reason"]


@needs_interpreter
def test_a_check_that_outlives_its_timeout_is_stopped_and_stored_as_failed(on_cpu, monkeypatch):
    monkeypatch.setenv(TIMEOUT_ENV, "0.3")        # less than the child needs to import torch
    spec = spec_for_model(TINY.model, TINY.train, CPU)
    cache = StoreCache(on_cpu)
    check = checked(gpu_name(CPU), spec, CPU, cache)
    assert not check["passed"] and check["result"]["crashed"] and check["chosen"] == "torch"
    assert check["error"].startswith("the self-check process did not finish within 0.3 s and was "
                                     "stopped")
    # a hang is kept, so the next run does not wait for it again; `bench selfcheck` reruns it
    assert checked(gpu_name(CPU), spec, CPU, cache)["id"] == check["id"]


@needs_interpreter
def test_a_check_cut_by_a_callers_limit_is_not_kept(on_cpu):
    """bench gpu's budget or torchrun's wait cut the check: that says nothing of the kernels, so
    nothing is stored and the next run checks again."""
    spec = spec_for_model(TINY.model, TINY.train, CPU)
    cache = StoreCache(on_cpu)
    cut = checked(gpu_name(CPU), spec, CPU, cache, limit=0.3, limit_why="the test's limit")
    assert not cut["passed"] and cut["result"]["retry"] and cut["id"] is None
    assert not cut["result"]["crashed"]                  # a limit, not a hang: Triton not withheld
    assert cut["error"].startswith("the self-check process did not finish within 0.3 s, the "
                                   "test's limit; not kept (a check with its full ")
    assert list_selfchecks(on_cpu) == []
    assert checked(gpu_name(CPU), spec, CPU, cache, limit=600)["passed"]   # a limit it keeps to


def test_a_check_process_stopped_from_outside_is_not_kept_but_a_crash_is():
    import signal
    spec = spec_for_model(TINY.model, TINY.train, CPU)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGKILL):
        stopped = _ended(spec, -sig, "KeyboardInterrupt")
        assert stopped.retry and not stopped.crashed and stopped.error.endswith("; not kept")
    for sig in (signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS):
        crash = _ended(spec, -sig, "no output")
        assert crash.crashed and not crash.retry and f"died of {sig.name}" in crash.error
    assert _ended(spec, 3, "ImportError: x").error == ("the self-check process exited with status 3 "
                                                       "without a result; its last line: ImportError: x")


@pytest.mark.parametrize("value", ["soon", "0", "-5", "nan"])
def test_a_bad_timeout_setting_is_one_line_naming_it(monkeypatch, value):
    monkeypatch.setenv(TIMEOUT_ENV, value)
    with pytest.raises(ValueError) as bad:
        timeout_s()
    assert str(bad.value).startswith(f"{TIMEOUT_ENV}={value!r}: must be a number of seconds > 0")


@needs_interpreter
def test_a_bad_timeout_setting_fails_explicit_triton_in_one_line_and_auto_says_why(on_cpu, monkeypatch):
    monkeypatch.setenv(TIMEOUT_ENV, "soon")
    done = run_cli("train", "--arch", "dcformer", "--preset", "tiny", "--steps", "2", "--no-progress",
                   "--set", "attn_impl=triton")
    assert done.returncode == 2, done.stderr
    assert f"{TIMEOUT_ENV}='soon': must be a number of seconds > 0" in done.stderr.strip().splitlines()[-1]
    auto = choose_attention(TINY.model, TINY.train, CPU, StoreCache(on_cpu))
    assert auto.path == "torch" and TIMEOUT_ENV in auto.reason


@needs_interpreter
def test_bench_gpu_keeps_its_later_stages_off_triton_after_a_crashed_check(on_cpu, monkeypatch):
    """The stage functions bench gpu wires together, fed the real crashed self-check."""
    monkeypatch.setenv(CRASH_ENV, "1")
    result = {"budget_s": 60, "skipped": [], "errors": {}, "selfcheck": selfcheck_for_bench()}
    why = triton_withheld(result)
    assert why and why.startswith("the self-check's process crashed on the Triton kernels (")
    impls = ("sdpa", "triton", "reference", "torch", "triton_8warps", "triton_one_dkdv")
    assert _without_triton(impls, result) == ("sdpa", "reference", "torch")
    with pytest.raises(RuntimeError, match="^not run: the self-check's process crashed"):
        check_kernels_on_gpu(why)
    assert ("no Triton kernel benchmarked and DCFormer timed on the PyTorch path: the "
            "self-check's process crashed") in gaps(result)
    monkeypatch.delenv(CRASH_ENV)
    passed = {**result, "selfcheck": selfcheck_for_bench()}
    assert triton_withheld(passed) is None and _without_triton(impls, passed) == impls


def test_bench_model_can_keep_dcformer_on_the_pytorch_path():
    from dcpoc.bench import bench_model
    result = bench_model("tiny", 1, "cpu", dcformer_impl="torch")
    dcformer = [r for r in result["rows"] if r["arch"] == "dcformer"]
    assert [(r["attn_impl"], r["attn_path"]) for r in dcformer] == [("torch", "torch")]
    assert result["skipped"] == {} and result["dcformer_over_transformer"]["tiny"] > 0
