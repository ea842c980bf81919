"""`python -m dcpoc bench infer`: KV-cached decoding of both architectures side by side (batch 1),
the numbers the Compare page and the report's cost section read."""
from __future__ import annotations

import statistics
import time

import torch

from .bench import bench_result
from .config import make_config
from .distributed import resolve_device
from .model import LanguageModel


def _infer_round(model, prompt_len: int, new_tokens: int, device: torch.device) -> dict:
    """One KV-cached generation at batch 1: prefill seconds, per-token decode seconds, cache bytes."""
    from .generate import KVCache, forward_cached

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    gen = torch.Generator().manual_seed(prompt_len)
    prompt = torch.randint(0, 256, (1, prompt_len), generator=gen).to(device)
    tokens = torch.randint(0, 256, (new_tokens, 1, 1), generator=gen).to(device)
    cache = KVCache(model, 1)
    start = time.perf_counter()
    forward_cached(model, prompt, cache)
    sync()
    prefill_s = time.perf_counter() - start
    latencies = []
    for token in tokens:   # teacher-forced: the speed does not depend on which token comes
        start = time.perf_counter()
        forward_cached(model, token, cache)
        sync()
        latencies.append(time.perf_counter() - start)
    return {"prefill_s": prefill_s, "latencies": latencies, "bytes_per_token": cache.bytes_per_token()}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def bench_infer(preset: str | None = None, new_tokens: int | None = None, device: str = "auto",
                rounds: int = 3) -> dict:
    """KV-cached inference of fresh random models of both architectures, alternating, batch 1:
    prefill tokens/s, decode tokens/s (1 / median per-token latency: a few steps slowed by another
    job on a shared machine moved a mean-based ratio 7x), latency p50/p95/p99 and the
    spread of the median latency across prompt lengths ((max - min) / min), cache bytes per token
    (K and V: 2 x n_layer x D values; DCFormer adds 2 x (2R + 1) x H per layer for the key-side
    dynamic weights). Ratios are DCFormer over Transformer++. On the CPU DCFormer's decode step
    uses the fused kernel of kernels/decode.py when it builds (the result says which)."""
    from .kernels.decode import cpu_decode_kernel
    dev = resolve_device(device)
    name = preset or ("gpu-small" if dev.type == "cuda" else "cpu-demo")
    models = {}
    for arch in ("transformer", "dcformer"):
        run = make_config(arch, name)
        torch.manual_seed(0)
        models[arch] = LanguageModel(run.model).to(dev).eval()
    seq_len = run.model.seq_len
    new_tokens = new_tokens or min(64, seq_len // 2)
    prompt_lens = sorted({max(1, min(seq_len - new_tokens, seq_len * f // 8)) for f in (1, 2, 4)})
    for model in models.values():   # warm-up outside the timing
        _infer_round(model, prompt_lens[0], 4, dev)
    raw: dict[str, dict[int, list[dict]]] = {a: {n: [] for n in prompt_lens} for a in models}
    for _ in range(rounds):
        for n in prompt_lens:
            for arch, model in models.items():
                raw[arch][n].append(_infer_round(model, n, new_tokens, dev))
    rows = [_infer_row(arch, name, raw[arch], prompt_lens) for arch in models]
    by = {r["arch"]: r for r in rows}
    ratios = {k: by["dcformer"][k] / by["transformer"][k]
              for k in ("decode_tokens_per_s", "prefill_tokens_per_s", "cache_bytes_per_token",
                        "latency_p50_ms", "latency_p99_ms")}
    kernel = dev.type == "cpu" and cpu_decode_kernel() is not None
    return bench_result("infer", dev, preset=name, batch=1, new_tokens=new_tokens, rounds=rounds,
                   prompt_lens=prompt_lens, rows=rows, dcformer_over_transformer=ratios,
                   dcformer_decode="fused CPU kernel" if kernel else "torch ops")


def _infer_row(arch: str, preset: str, raw: dict[int, list[dict]], prompt_lens: list[int]) -> dict:
    all_lat = [x for n in prompt_lens for r in raw[n] for x in r["latencies"]]
    p50_by_len = {n: statistics.median([x for r in raw[n] for x in r["latencies"]]) * 1e3
                  for n in prompt_lens}
    prefill = [n / statistics.median(r["prefill_s"] for r in raw[n]) for n in prompt_lens]
    return {"arch": arch, "preset": preset,
            "decode_tokens_per_s": 1.0 / statistics.median(all_lat),
            "prefill_tokens_per_s": statistics.median(prefill),
            "latency_p50_ms": statistics.median(all_lat) * 1e3,   # decode tokens/s is its inverse
            "latency_p95_ms": _percentile(all_lat, 95) * 1e3,
            "latency_p99_ms": _percentile(all_lat, 99) * 1e3,
            "latency_p50_ms_by_prompt_len": {str(n): v for n, v in p50_by_len.items()},
            "latency_spread": (max(p50_by_len.values()) - min(p50_by_len.values()))
            / min(p50_by_len.values()),
            "cache_bytes_per_token": raw[prompt_lens[0]][0]["bytes_per_token"]}


def format_infer(result: dict) -> str:
    lines = [f"{result['date']}  {result['machine']['device']}  ({result['machine']['cpu']}), "
             f"preset {result['preset']}, batch 1, prompts {result['prompt_lens']}, "
             f"{result['new_tokens']} new tokens x {result['rounds']} rounds, "
             f"{result['machine']['cores']} threads, DCFormer decode: {result.get('dcformer_decode', 'torch ops')}",
             f"{'arch':<13}{'prefill tok/s':>14}{'decode tok/s':>13}{'p50 ms':>8}{'p95 ms':>8}"
             f"{'p99 ms':>8}{'spread':>8}{'cache B/tok':>12}"]
    for r in result["rows"]:
        lines.append(f"{r['arch']:<13}{r['prefill_tokens_per_s']:>14.0f}{r['decode_tokens_per_s']:>13.1f}"
                     f"{r['latency_p50_ms']:>8.2f}{r['latency_p95_ms']:>8.2f}{r['latency_p99_ms']:>8.2f}"
                     f"{r['latency_spread']:>8.2f}{r['cache_bytes_per_token']:>12,}")
    ratios = result["dcformer_over_transformer"]
    lines.append("DCFormer / Transformer++: " + ", ".join(f"{k} {v:.3f}" for k, v in ratios.items()))
    return "\n".join(lines)
