"""Training-step throughput of Transformer++ vs DCFormer on the CPU, measured side by side.

    PYTHONPATH=. .venv/bin/python scripts/bench_cpu_attention.py [--impl torch reference] [--steps 20]

One step = forward + backward + AdamW on a random batch of the preset's shape (cpu-demo: 4 layers,
D 128, 4 heads, seq 128, batch 16). Transformer++ and one DCFormer per --impl (the DCMHA path its
attention runs: torch = dcmha_torch, the CPU default; reference = the executable spec) are built in one
process and their steps interleaved, so machine noise hits all alike. The numbers to read are the
ratios DCFormer / Transformer++ of median tokens/s. Work per step, for orientation: about 6 x 0.83M
matmul parameters x 2048 tokens = 10 GFLOP shared by both; DCMHA adds per layer six [B,H,T,S] x d
matmuls (0.4 GFLOP) and about 40 passes of 4 MB over [B,H,T,S] tensors in forward + backward.
"""
from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import torch

import dcpoc.model as model_module
from dcpoc.config import make_config
from dcpoc.kernels import dcmha_reference, dcmha_torch
from dcpoc.model import LanguageModel

IMPLS = {"torch": dcmha_torch, "reference": dcmha_reference}


def use_dcmha(impl: str) -> None:
    """Point the model's attention at one DCMHA implementation (ignores the model's attn_impl)."""
    fn = IMPLS[impl]
    model_module.dcmha = lambda q, k, v, pre, post, *, causal, window, impl: fn(
        q, k, v, pre, post, causal=causal, window=window)


def make_step(arch: str, preset: str, seed: int) -> tuple[Callable[[], None], int]:
    """A closure running one training step of a fresh model, and the tokens per step."""
    cfg = make_config(arch, preset)
    torch.manual_seed(seed)
    model = LanguageModel(cfg.model)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    B, T = cfg.train.batch_size, cfg.model.seq_len
    idx = torch.randint(0, cfg.model.vocab_size, (B, T + 1))

    def step() -> None:
        _, loss = model(idx[:, :-1], idx[:, 1:])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step, B * T


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--impl", nargs="+", choices=sorted(IMPLS), default=["torch"])
    parser.add_argument("--preset", default="cpu-demo")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="print the op profile of DCFormer")
    args = parser.parse_args()
    runs = {"transformer": (None, *make_step("transformer", args.preset, seed=1))}
    for impl in args.impl:
        runs[f"dcformer/{impl}"] = (impl, *make_step("dcformer", args.preset, seed=1))
    wall: dict[str, list[float]] = {name: [] for name in runs}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    for i in range(args.warmup + args.steps):
        for name, (impl, step, _) in runs.items():
            if impl is not None:
                use_dcmha(impl)
            wall0, cpu0 = time.perf_counter(), time.process_time()
            step()
            if i >= args.warmup:
                wall[name].append(time.perf_counter() - wall0)
                cpu[name].append(time.process_time() - cpu0)
    print(f"preset {args.preset}, {torch.get_num_threads()} threads, median of {args.steps} steps "
          f"(ratio = tokens/s over Transformer++'s; cpu = process CPU time, all threads)")
    base_wall, base_cpu = statistics.median(wall["transformer"]), statistics.median(cpu["transformer"])
    for name, (_, _, tokens) in runs.items():
        step_wall, step_cpu = statistics.median(wall[name]), statistics.median(cpu[name])
        print(f"  {name:20s} {tokens / step_wall:8.0f} tok/s  step {1e3 * step_wall:6.1f} ms  "
              f"ratio {base_wall / step_wall:.3f}   cpu {1e3 * step_cpu:6.1f} ms  "
              f"ratio {base_cpu / step_cpu:.3f}")
    if args.profile:
        impl, step, _ = runs[f"dcformer/{args.impl[0]}"]
        use_dcmha(impl)
        with torch.profiler.profile() as prof:
            for _ in range(3):
                step()
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=30))


if __name__ == "__main__":
    main()
