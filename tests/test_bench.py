"""The benchmark commands run end to end on the CPU and write their JSON (timings are not asserted)."""
import json
import time

import torch

from dcpoc.config import make_config

from conftest import run_cli


def test_bench_model_writes_both_architectures_and_the_ratio(tmp_path, dcpoc_home):
    out = tmp_path / "model.json"
    result = run_cli("bench", "model", "--preset", "tiny", "--steps", "2", "--out", str(out))
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text())
    assert {r["arch"] for r in data["rows"]} == {"transformer", "dcformer"}
    assert {r["arch"]: r["attn_path"] for r in data["rows"]} == {"transformer": "sdpa", "dcformer": "torch"}
    assert data["dcformer_over_transformer"]["tiny"] > 0
    assert data["date"] and data["machine"]["cpu"] and data["command"].startswith("python -m dcpoc bench")
    assert "DCFormer / Transformer++ tokens/s" in result.stdout


def test_bench_kernels_on_cpu_says_it_runs_the_reference_paths_only(tmp_path, dcpoc_home):
    out = tmp_path / "kernels.json"
    result = run_cli("bench", "kernels", "--seq-lens", "32,64", "--out", str(out))
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text())
    assert "reference paths only" in data["note"] and "reference paths only" in result.stdout
    impls = {(r["T"], r["impl"]) for r in data["rows"] if "fwd_bwd_ms" in r}
    assert impls == {(t, i) for t in (32, 64) for i in ("sdpa", "reference", "torch")}
    assert all(r["fwd_ms_over_sdpa"] > 0 for r in data["rows"])


def test_bench_gpu_without_a_gpu_is_one_clear_line(dcpoc_home):
    result = run_cli("bench", "gpu")
    assert result.returncode == 2 and "needs a CUDA GPU" in result.stderr and "internal" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_impl_that_fails_is_recorded_and_the_benchmark_goes_on():
    import torch
    from dcpoc.bench import _measure
    from dcpoc.kernels import dcmha_torch
    q = torch.randn(1, 2, 8, 16, requires_grad=True)
    row = {}
    _measure(row, lambda: dcmha_torch(q, q[:, :1], q, None, None), [q], torch.device("cpu"))
    assert row["skipped"].startswith("failed: ") and "fwd_ms" not in row
    assert len(row["skipped"].splitlines()) == 1


def test_a_preset_out_of_memory_is_timed_again_at_half_its_micro_batch(monkeypatch):
    """On a GPU paper-405m's micro-batch may not fit: the preset is timed at half of it and says so.
    The fault is injected only for the first, full-size attempt; the retry trains for real."""
    from dcpoc import bench
    real, micros = bench._time_preset, []
    full = bench.preset_micro_batch("tiny")

    def out_of_memory_at_full_size(name, steps, dev, compile_model, deadline, micro, attn_impl):
        micros.append(micro)
        if micro == full:
            raise torch.OutOfMemoryError("CUDA out of memory (injected)")
        return real(name, steps, dev, compile_model, deadline, micro, attn_impl)
    monkeypatch.setattr(bench, "_time_preset", out_of_memory_at_full_size)
    result = bench.bench_model("tiny", 1, "cpu")
    assert micros == [full, full // 2] and result["skipped"] == {}
    assert result["notes"] == {"tiny": f"out of memory at micro-batch {full}: timed at {full // 2}"}
    seq_len = make_config("transformer", "tiny").model.seq_len
    assert {r["tokens_per_step"] for r in result["rows"]} == {full // 2 * seq_len}
    assert f"tiny: out of memory at micro-batch {full}: timed at {full // 2}" in \
        bench.format_result(result)


def test_a_preset_that_keeps_failing_is_skipped_with_its_reason(monkeypatch):
    from dcpoc import bench

    def always_out_of_memory(*args):
        raise torch.OutOfMemoryError("CUDA out of memory (injected)")
    monkeypatch.setattr(bench, "_time_preset", always_out_of_memory)
    result = bench.bench_model("tiny", 1, "cpu")
    full = bench.preset_micro_batch("tiny")
    assert result["rows"] == [] and result["skipped"] == {"tiny": f"out of memory at micro-batch {full // 2}"}


def test_a_deadline_inside_a_preset_ends_its_timed_rounds_after_three():
    """A preset started just before the budget ends stops timing at the deadline (at least 3 rounds)."""
    from dcpoc.bench import _time_preset
    rows = _time_preset("tiny", 50, torch.device("cpu"), False, deadline=time.monotonic() - 1)
    assert [r["timed_steps"] for r in rows] == [3, 3] and all(r["tokens_per_s"] > 0 for r in rows)


def test_bench_kernels_runs_only_the_impls_asked_for_and_always_sdpa():
    from dcpoc.bench import bench_kernels
    result = bench_kernels("cpu", [16], only=("torch",))
    assert [r["impl"] for r in result["rows"]] == ["sdpa", "torch"]
    assert result["rows"][1]["fwd_bwd_ms_over_sdpa"] > 0
