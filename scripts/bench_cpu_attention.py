"""Training-step throughput of Transformer++ vs DCFormer on the CPU, measured side by side.

    PYTHONPATH=. .venv/bin/python scripts/bench_cpu_attention.py [--impl torch|reference] [--steps 10]

One step = forward + backward + AdamW on a random batch of the preset's shape. Both models are built in
one process and their steps are interleaved, so machine noise hits both alike; the number to read is
the ratio DCFormer / Transformer++ of median tokens/s. --impl picks the DCMHA path the model runs
(torch = dcmha_torch, the dispatch default on the CPU; reference = the executable spec).
"""
from __future__ import annotations

import argparse
import statistics
import time

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


def make_step(arch: str, preset: str, seed: int):
    cfg = make_config(arch, preset)
    torch.manual_seed(seed)
    model = LanguageModel(cfg.model)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    B, T = cfg.train.batch_size, cfg.model.seq_len
    idx = torch.randint(0, cfg.model.vocab_size, (B, T + 1))

    def step() -> float:
        start = time.perf_counter()
        _, loss = model(idx[:, :-1], idx[:, 1:])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return time.perf_counter() - start

    return step, B * T


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--impl", choices=sorted(IMPLS), default="torch")
    parser.add_argument("--preset", default="cpu-demo")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="print the DCFormer op profile")
    args = parser.parse_args()
    use_dcmha(args.impl)
    steps = {arch: make_step(arch, args.preset, seed=1) for arch in ("transformer", "dcformer")}
    times: dict[str, list[float]] = {arch: [] for arch in steps}
    for i in range(args.warmup + args.steps):
        for arch, (step, _) in steps.items():
            elapsed = step()
            if i >= args.warmup:
                times[arch].append(elapsed)
    tok_s = {arch: steps[arch][1] / statistics.median(ts) for arch, ts in times.items()}
    print(f"preset {args.preset}, impl {args.impl}, threads {torch.get_num_threads()}, "
          f"median of {args.steps} steps")
    for arch, value in tok_s.items():
        print(f"  {arch:12s} {value:9.0f} tok/s   (step {1e3 * statistics.median(times[arch]):.1f} ms)")
    print(f"  ratio dcformer / transformer = {tok_s['dcformer'] / tok_s['transformer']:.3f}")
    if args.profile:
        step, _ = steps["dcformer"]
        with torch.profiler.profile() as prof:
            for _ in range(3):
                step()
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=30))


if __name__ == "__main__":
    main()
