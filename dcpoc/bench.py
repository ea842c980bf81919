"""Benchmarks: training throughput of both architectures side by side, and the GPU check script.

Timings on shared machines are noisy, so both architectures are measured in alternating rounds in one
process and the ratio is what to read. Results are JSON with date, machine and command.
"""
from __future__ import annotations

import json
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from .config import make_config
from .model import LanguageModel, count_parameters
from .train import device_name, make_optimizer, resolve_device


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _machine(device: torch.device) -> dict:
    return {"device": device_name(device), "cpu": _cpu_model(),
            "cores": torch.get_num_threads(), "torch": torch.__version__,
            "python": platform.python_version()}


def _result(kind: str, device: torch.device, **body) -> dict:
    return {"benchmark": kind, "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": "python -m dcpoc " + " ".join(sys.argv[1:]), "machine": _machine(device), **body}


def _train_step_timer(arch: str, preset: str, device: torch.device, compile_model: bool):
    """A closure that runs one training step (forward, backward, AdamW) and returns seconds."""
    run = make_config(arch, preset)
    torch.manual_seed(0)
    model = LanguageModel(run.model).to(device)
    optimizer = make_optimizer(model, run)
    step_model = torch.compile(model) if compile_model else model
    micro = run.train.batch_size // run.train.grad_accum
    x = torch.randint(0, 256, (micro, run.model.seq_len), device=device)
    y = torch.randint(0, 256, (micro, run.model.seq_len), device=device)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")

    def step() -> float:
        start = time.perf_counter()
        with autocast:
            loss = step_model(x, y)[1]
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - start

    return step, x.numel(), run


def bench_model(preset: str | None = None, steps: int | None = None, device: str = "auto",
                compile_model: bool = False) -> dict:
    """Training tokens/s of Transformer++ and DCFormer, alternating rounds, median step time."""
    dev = resolve_device(device)
    presets = [preset] if preset else (["gpu-125m", "paper-405m"] if dev.type == "cuda" else ["cpu-demo"])
    steps = steps or 20
    rows = []
    for name in presets:
        timers = {arch: _train_step_timer(arch, name, dev, compile_model) for arch in ("transformer", "dcformer")}
        times: dict[str, list[float]] = {arch: [] for arch in timers}
        peak: dict[str, int | None] = {}
        for arch, (step, _, _) in timers.items():      # warm-up (and compile) outside the timing
            if dev.type == "cuda":
                torch.cuda.reset_peak_memory_stats(dev)
            for _ in range(3):
                step()
            peak[arch] = torch.cuda.max_memory_allocated(dev) if dev.type == "cuda" else None
        for _ in range(steps):
            for arch, (step, _, _) in timers.items():
                times[arch].append(step())
        for arch, (_, tokens, run) in timers.items():
            median = statistics.median(times[arch])
            rows.append({"preset": name, "arch": arch, "tokens_per_step": tokens,
                         "median_step_s": median, "tokens_per_s": tokens / median,
                         "params": count_parameters(run.model)["total"], "peak_mem_bytes": peak[arch],
                         "attn_impl": run.model.attn_impl, "compile": compile_model})
    ratios = {}
    for name in presets:
        by_arch = {r["arch"]: r for r in rows if r["preset"] == name}
        ratios[name] = by_arch["dcformer"]["tokens_per_s"] / by_arch["transformer"]["tokens_per_s"]
    return _result("model", dev, steps=steps, rows=rows, dcformer_over_transformer=ratios)


def bench_gpu() -> dict:
    """The prepared GPU script: DCMHA dispatch path vs reference in fp32 and bf16, then bench model."""
    if not torch.cuda.is_available():
        raise RuntimeError("bench gpu needs a CUDA GPU; on a CPU run `python -m dcpoc bench model`")
    from .kernels import dcmha, dcmha_reference
    from .kernels.reference import ComposeWeights
    dev = torch.device("cuda")
    checks = []
    for dtype, tol in ((torch.float32, 1e-4), (torch.bfloat16, 2e-2)):
        torch.manual_seed(0)
        B, H, T, d, R = 2, 4, 257, 64, 2
        q, k, v = (torch.randn(B, H, T, d, device=dev, dtype=dtype, requires_grad=True) for _ in range(3))
        def weights():
            t = lambda *s: (0.3 * torch.randn(*s, device=dev, dtype=dtype)).requires_grad_()  # noqa: E731
            return ComposeWeights(t(B, T, R, H), t(B, T, R, H), t(B, T, R, H), t(B, T, R, H),
                                  t(B, T, H), t(B, T, H))
        pre, post = weights(), weights()
        inputs = [q, k, v, *pre[:6], *post[:6]]
        errors = {}
        for name, fn in (("dispatch", dcmha), ("reference", dcmha_reference)):
            out = fn(q, k, v, pre, post, causal=True, window=None)
            grads = torch.autograd.grad(out.float().square().sum(), inputs)
            errors[name] = (out.float(), [g.float() for g in grads])
        ref_out, ref_grads = errors["reference"]
        tri_out, tri_grads = errors["dispatch"]
        rel = lambda a, b: ((a - b).norm() / b.norm().clamp_min(1e-30)).item()  # noqa: E731
        worst = max([rel(tri_out, ref_out)] + [rel(a, b) for a, b in zip(tri_grads, ref_grads)])
        checks.append({"dtype": str(dtype), "max_rel_error": worst, "tolerance": tol, "ok": worst < tol})
    model = bench_model(device="cuda", steps=10)
    return _result("gpu", dev, checks=checks, model=model)


def write_result(result: dict, out: str | None) -> Path:
    from .jobs import home_dir
    path = Path(out) if out else home_dir() / f"bench-{result['benchmark']}-{int(time.time())}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2))
    return path


def format_result(result: dict) -> str:
    if result["benchmark"] == "gpu":
        lines = [f"{c['dtype']}: max rel error {c['max_rel_error']:.2e} "
                 f"({'ok' if c['ok'] else 'FAIL'}, tol {c['tolerance']})" for c in result["checks"]]
        return "\n".join(lines + [format_result(result["model"])])
    lines = [f"{result['date']}  {result['machine']['device']}  ({result['steps']} timed steps each)",
             f"{'preset':<12}{'arch':<13}{'tokens/s':>12}{'step ms':>10}{'peak MB':>10}"]
    for r in result["rows"]:
        mem = f"{r['peak_mem_bytes'] / 2**20:.0f}" if r["peak_mem_bytes"] else "n/a"
        lines.append(f"{r['preset']:<12}{r['arch']:<13}{r['tokens_per_s']:>12.0f}"
                     f"{r['median_step_s'] * 1e3:>10.1f}{mem:>10}")
    for name, ratio in result["dcformer_over_transformer"].items():
        lines.append(f"{name}: DCFormer / Transformer++ tokens/s = {ratio:.3f}")
    return "\n".join(lines)
