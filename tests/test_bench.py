"""The benchmark commands run end to end on the CPU and write their JSON (timings are not asserted)."""
import json

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
