"""Benchmarks: training throughput of both architectures side by side, and the GPU check script.

Timings on shared machines are noisy, so both architectures are measured in alternating rounds in one
process and the ratio is what to read. Results are JSON with date, machine and command.
"""
from __future__ import annotations

import contextlib
import json
import platform
import statistics
import sys
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import torch

from .config import ConfigError, make_config
from .distributed import device_name, resolve_device
from .kernels.selfcheck import one_line
from .model import LanguageModel, count_parameters
from .train import make_optimizer


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


def bench_result(kind: str, device: torch.device, **body) -> dict:
    """A benchmark result: its kind, the UTC date, the command and the machine, then body."""
    return {"benchmark": kind, "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": "python -m dcpoc " + " ".join(sys.argv[1:]), "machine": _machine(device), **body}


def _train_step_timer(arch: str, preset: str, device: torch.device, compile_model: bool,
                      micro: int | None = None, attn_impl: str = "auto"):
    """A closure that runs one training step (forward, backward, AdamW) and returns seconds;
    micro: the micro-batch (default the preset's batch over its accumulation steps)."""
    run = make_config(arch, preset)
    run = replace(run, model=replace(run.model, attn_impl=attn_impl))
    torch.manual_seed(0)
    model = LanguageModel(run.model).to(device)
    optimizer = make_optimizer(model, run)
    step_model = torch.compile(model) if compile_model else model
    micro = micro or run.train.micro_batch
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


def preset_micro_batch(preset: str) -> int:
    run = make_config("transformer", preset)
    return run.train.micro_batch


def bench_model(preset: str | None = None, steps: int | None = None, device: str = "auto",
                compile_model: bool = False, deadline: float | None = None,
                dcformer_impl: str = "auto") -> dict:
    """Training tokens/s of Transformer++ and DCFormer, alternating rounds, median step time.
    deadline (time.monotonic()): presets not started by then are listed as skipped, and one that
    has started stops its timed rounds there (after 3). A preset out of GPU memory is timed once
    more at half its micro-batch; one whose DCFormer fails on the Triton path once more on the
    PyTorch path (both said in notes); a preset that still fails is listed as skipped, and the
    others still run. dcformer_impl="torch" keeps DCFormer off the Triton kernels (bench gpu after
    a crashed self-check)."""
    dev = resolve_device(device)
    # on a GPU the paper's shape first: its ratio is the one issue 12 sets a target for
    presets = [preset] if preset else (["paper-405m", "gpu-125m"] if dev.type == "cuda" else ["cpu-demo"])
    steps = steps or 20
    rows, skipped, notes = [], {}, {}
    for name in presets:
        if deadline is not None and time.monotonic() >= deadline:
            skipped[name] = "time budget spent"
            continue
        rows += _time_preset_or_retry(name, steps, dev, compile_model, deadline, skipped, notes,
                                      dcformer_impl)
    ratios = {}
    for name in presets:
        by_arch = {r["arch"]: r for r in rows if r["preset"] == name}
        if len(by_arch) == 2:
            ratios[name] = by_arch["dcformer"]["tokens_per_s"] / by_arch["transformer"]["tokens_per_s"]
    return bench_result("model", dev, steps=steps, rows=rows, dcformer_over_transformer=ratios,
                        skipped=skipped, notes=notes)


def _time_preset_or_retry(name: str, steps: int, dev: torch.device, compile_model: bool,
                          deadline: float | None, skipped: dict, notes: dict,
                          attn_impl: str = "auto") -> list[dict]:
    """_time_preset, retried once at half the micro-batch after running out of GPU memory and
    once on the PyTorch path after a failure on the Triton path; what happened goes into skipped
    (nothing timed) or notes (timed otherwise than asked)."""
    micro = preset_micro_batch(name)
    while True:   # each retry changes what is tried, and a second failure of a kind returns
        try:
            return _time_preset(name, steps, dev, compile_model, deadline, micro, attn_impl)
        except torch.OutOfMemoryError:
            if micro < 2 or name in notes:
                skipped[name] = f"out of memory at micro-batch {micro}"
                return []
            notes[name] = f"out of memory at micro-batch {micro}: timed at {micro // 2}"
            micro //= 2
        except Exception as e:   # noqa: BLE001 - e.g. a kernel that fails on this GPU
            if attn_impl == "torch" or _attention_path("dcformer", dev) != "triton":
                skipped[name] = f"failed: {one_line(e)}"
                return []
            notes[name] = "; ".join(filter(None, [notes.get(name), f"the Triton path failed "
                                                  f"({one_line(e)}): DCFormer timed on the PyTorch path"]))
            attn_impl = "torch"
        finally:
            if dev.type == "cuda":
                torch.cuda.empty_cache()


def _time_preset(name: str, steps: int, dev: torch.device, compile_model: bool,
                 deadline: float | None = None, micro: int | None = None,
                 attn_impl: str = "auto") -> list[dict]:
    """Both architectures of one preset, warmed up, then timed in alternating rounds."""
    rows = []
    timers = {arch: _train_step_timer(arch, name, dev, compile_model, micro, attn_impl)
              for arch in ("transformer", "dcformer")}
    times: dict[str, list[float]] = {arch: [] for arch in timers}
    peak: dict[str, int | None] = {}
    for arch, (step, _, _) in timers.items():      # warm-up (and compile) outside the timing
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
            torch.cuda.reset_peak_memory_stats(dev)
            resident = torch.cuda.memory_allocated(dev)   # both models, earlier archs' optimizer state
        for _ in range(3):
            step()
        # the step's own peak (activations, gradients, optimizer state) above what was resident
        peak[arch] = torch.cuda.max_memory_allocated(dev) - resident if dev.type == "cuda" else None
    for round_ in range(steps):
        if round_ >= 3 and deadline is not None and time.monotonic() >= deadline:
            break
        for arch, (step, _, _) in timers.items():
            times[arch].append(step())
    for arch, (_, tokens, run) in timers.items():
        median = statistics.median(times[arch])
        path = "torch" if attn_impl == "torch" and arch == "dcformer" else _attention_path(arch, dev)
        rows.append({"preset": name, "arch": arch, "tokens_per_step": tokens,
                     "median_step_s": median, "tokens_per_s": tokens / median,
                     "timed_steps": len(times[arch]),
                     "params": count_parameters(run.model)["total"], "peak_mem_bytes": peak[arch],
                     "attn_impl": run.model.attn_impl, "attn_path": path,
                     "compile": compile_model})
    return rows


def _attention_path(arch: str, dev: torch.device) -> str:
    """The attention a benchmark step of arch runs: the model's attn_impl=auto dispatch takes the
    Triton kernels for CUDA tensors when triton imports (kernels.dcmha), else the PyTorch path."""
    from .kernels import triton_available
    if arch != "dcformer":
        return "sdpa"
    return "triton" if dev.type == "cuda" and triton_available() else "torch"


def random_attention_inputs(B: int, H: int, T: int, d: int, R: int, dtype: torch.dtype,
                            device: torch.device, seed: int = 0) -> tuple:
    """(q, k, v, pre, post): q, k, v [B,H,T,d] and pre/post ComposeWeights of the shapes the model
    produces, every tensor a leaf that requires grad."""
    from .kernels import ComposeWeights
    gen = torch.Generator(device=device).manual_seed(seed)

    def t(*shape, scale=1.0):
        return (scale * torch.randn(*shape, device=device, generator=gen)).to(dtype).requires_grad_()

    def weights():
        return ComposeWeights(t(B, T, R, H, scale=0.3), t(B, T, R, H, scale=0.3), t(B, T, R, H, scale=0.3),
                              t(B, T, R, H, scale=0.3), t(B, T, H, scale=0.3), t(B, T, H, scale=0.3))
    return t(B, H, T, d), t(B, H, T, d), t(B, H, T, d), weights(), weights()


# dcmha_triton with other _pick_blocks choices, timed beside the default on a GPU: the register
# trade-offs README's "GPU registers and spills" describes, which only a measurement can settle
TRITON_ALTERNATIVES = {"triton_8warps": {"num_warps": 8}, "triton_one_dkdv": {"split_dkdv": False}}


def _blocks_for(impl: str) -> contextlib.AbstractContextManager:
    """The block_overrides context an impl runs in (forward and backward), else a null context."""
    if impl not in TRITON_ALTERNATIVES:
        return contextlib.nullcontext()
    from .kernels.triton_dcmha import block_overrides
    return block_overrides(**TRITON_ALTERNATIVES[impl])


# the rows issue 12's targets read (plain attention, our kernels, the eager spec, the PyTorch path)
CORE_IMPLS = ("sdpa", "triton", "reference", "torch")
COMPILED_AT_T = 2048   # torch.compile of the reference: one length only (each length is a compile)


def _kernel_impls(device: torch.device) -> dict:
    """name -> fn(q, k, v, pre, post, T) -> out (None when that impl does not run at this T), in
    the order a GPU run should spend its budget: CORE_IMPLS, the Triton alternatives, then the
    compiled reference (two cold compiles, with and without grad)."""
    import torch.nn.functional as F
    from .kernels import dcmha_reference, dcmha_torch, dcmha_triton
    impls = {
        "sdpa": lambda q, k, v, pre, post, T: F.scaled_dot_product_attention(q, k, v, is_causal=True),
        "reference": lambda q, k, v, pre, post, T: dcmha_reference(q, k, v, pre, post),
        "torch": lambda q, k, v, pre, post, T: dcmha_torch(q, k, v, pre, post),
    }
    if device.type == "cuda":   # on the CPU a smoke test of the reference paths only
        compiled = torch.compile(dcmha_reference, dynamic=False)
        triton = lambda q, k, v, pre, post, T: dcmha_triton(q, k, v, pre, post)  # noqa: E731
        impls = {"sdpa": impls["sdpa"], "triton": triton, "reference": impls["reference"],
                 "torch": impls["torch"]}
        for name in TRITON_ALTERNATIVES:   # the same kernels with other tiles (bench_kernels)
            impls[name] = triton
        impls["reference_compiled"] = lambda q, k, v, pre, post, T: (
            compiled(q, k, v, pre, post) if T == COMPILED_AT_T else None)
    return impls


def _time_ms(fn, device: torch.device, reps: int) -> float:
    if device.type == "cuda":
        from triton.testing import do_bench
        return float(do_bench(fn, warmup=10, rep=max(50, reps * 10), return_mode="median"))
    fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def _measure(row: dict, run, leaves: list, dev: torch.device) -> None:
    """Forward and forward+backward ms (and on a GPU the peak memory above what was allocated)
    of run() into row; a failure (out of memory, a kernel that does not compile) is recorded in
    row["skipped"] and the benchmark goes on."""
    gpu = dev.type == "cuda"
    try:
        if run() is None:
            row["skipped"] = f"compiled at T {COMPILED_AT_T} only (one compile per length)"
            return
        out_grad = torch.randn_like(leaves[0])

        def fwd_bwd():
            run().backward(out_grad)
            for x in leaves:
                x.grad = None
        with torch.no_grad():
            row["fwd_ms"] = _time_ms(run, dev, 5)
        row["fwd_bwd_ms"] = _time_ms(fwd_bwd, dev, 5)
        if gpu:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats(dev)
            base = torch.cuda.memory_allocated(dev)
            fwd_bwd()
            row["peak_mem_bytes"] = torch.cuda.max_memory_allocated(dev) - base
    except torch.OutOfMemoryError:
        row["skipped"] = "out of memory"
    except Exception as e:   # noqa: BLE001 - one impl failing must not end the benchmark
        row["skipped"] = f"failed: {one_line(e)}"
    finally:
        if gpu:
            torch.cuda.empty_cache()


def bench_kernels(device: str = "auto", seq_lens: list[int] | None = None,
                  deadline: float | None = None, only: tuple[str, ...] | None = None) -> dict:
    """Forward and forward+backward time and peak memory of plain attention (SDPA) and every DCMHA
    path, same inputs, side by side; ratios to SDPA. GPU: bf16, H 16, d 64, B x T = 32K tokens.
    FLOPs (causal attention core, forward): 2 x 2 x B x H x T^2 x d / 2; backward 2.5x that.
    deadline (time.monotonic()): rows not started by then are marked skipped. only: these impls
    (SDPA always runs: every ratio is to it)."""
    dev = resolve_device(device)
    gpu = dev.type == "cuda"
    H, d, R = (16, 64, 2) if gpu else (4, 32, 2)
    tokens = 32768 if gpu else 2048
    # on a GPU T 2048 first: issue 12's targets are set there, and a budget may end the run early
    seq_lens = seq_lens or ([2048, 512, 1024, 4096, 8192] if gpu else [128, 256, 512])
    dtype = torch.bfloat16 if gpu else torch.float32
    impls = {name: fn for name, fn in _kernel_impls(dev).items()
             if only is None or name in only or name == "sdpa"}
    rows = []
    for T in seq_lens:
        B = max(1, tokens // T)
        q, k, v, pre, post = random_attention_inputs(B, H, T, d, R, dtype, dev)
        leaves = [q, k, v, *pre[:6], *post[:6]]
        flops_fwd = 2 * 2 * B * H * T * T * d / 2
        for name, impl in impls.items():
            row = {"T": T, "B": B, "impl": name, "flops_fwd": flops_fwd}
            rows.append(row)
            if deadline is not None and time.monotonic() >= deadline:
                row["skipped"] = "time budget spent"
                continue
            with _blocks_for(name):
                _measure(row, lambda: impl(q, k, v, pre, post, T), leaves, dev)
    rows.sort(key=lambda r: r["T"])   # stable: impls keep their order within one T
    for row in rows:   # ratios to SDPA at the same T
        sdpa = next(r for r in rows if r["T"] == row["T"] and r["impl"] == "sdpa")
        for key in ("fwd_ms", "fwd_bwd_ms"):
            if key in row and key in sdpa:
                row[f"{key}_over_sdpa"] = row[key] / sdpa[key]
    note = None if gpu else ("no GPU: the reference paths only (SDPA, dcmha_reference, dcmha_torch) "
                             "at small sizes in float32; the Triton kernels need CUDA")
    return bench_result("kernels", dev, dtype=str(dtype), heads=H, head_dim=d, rank=R,
                   tokens_per_batch=tokens, rows=rows, note=note)


def result_path(kind: str, out: str | None) -> Path:
    """--out, or runs/bench-KIND-<unix time>.json."""
    from .runs import home_dir
    return Path(out) if out else home_dir() / f"bench-{kind}-{int(time.time())}.json"


def write_result(result: dict, out: str | None) -> Path:
    path = result_path(result["benchmark"], out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2))
    return path


def format_checks(checks: list[dict]) -> str:
    return "\n".join(f"check {c['shape']} {c['dtype']} window={c['window']}: max rel error "
                     f"{c['max_rel_error']:.2e} ({'ok' if c['ok'] else 'FAIL'}, tol {c['tolerance']})"
                     for c in checks)


def format_result(result: dict) -> str:
    head = f"{result['date']}  {result['machine']['device']}  ({result['machine']['cpu']})"
    if result["benchmark"] == "gpu":
        from .bench_gpu import format_gpu
        return format_gpu(result)
    if result["benchmark"] == "infer":
        from .bench_infer import format_infer
        return format_infer(result)
    if result["benchmark"] == "kernels":
        lines = [head, f"{result['dtype']}, H {result['heads']}, d {result['head_dim']}, "
                       f"R {result['rank']}, B x T = {result['tokens_per_batch']}"]
        if result["note"]:
            lines.append(result["note"])
        lines.append(f"{'T':>6} {'impl':<20}{'fwd ms':>10}{'x sdpa':>8}{'fwd+bwd ms':>12}{'x sdpa':>8}{'peak MB':>9}")
        for r in result["rows"]:
            if "skipped" in r:
                lines.append(f"{r['T']:>6} {r['impl']:<20}  skipped: {r['skipped']}")
                continue
            mem = f"{r['peak_mem_bytes'] / 2**20:.0f}" if r.get("peak_mem_bytes") else "n/a"
            lines.append(f"{r['T']:>6} {r['impl']:<20}{r['fwd_ms']:>10.2f}{r.get('fwd_ms_over_sdpa', 1):>8.2f}"
                         f"{r['fwd_bwd_ms']:>12.2f}{r.get('fwd_bwd_ms_over_sdpa', 1):>8.2f}{mem:>9}")
        return "\n".join(lines)
    lines = [f"{head}  ({result['steps']} timed steps each)",
             f"{'preset':<12}{'arch':<13}{'tokens/s':>12}{'step ms':>10}{'peak MB':>10}"]
    for r in result["rows"]:
        mem = f"{r['peak_mem_bytes'] / 2**20:.0f}" if r["peak_mem_bytes"] else "n/a"
        lines.append(f"{r['preset']:<12}{r['arch']:<13}{r['tokens_per_s']:>12.0f}"
                     f"{r['median_step_s'] * 1e3:>10.1f}{mem:>10}")
    for name, ratio in result["dcformer_over_transformer"].items():
        lines.append(f"{name}: DCFormer / Transformer++ tokens/s = {ratio:.3f}")
    for name, why in result.get("skipped", {}).items():
        lines.append(f"{name}: skipped ({why})")
    for name, note in result.get("notes", {}).items():
        lines.append(f"{name}: {note}")
    return "\n".join(lines)
