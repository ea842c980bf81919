"""Text generation from a finished run's checkpoint: sampling over the KV cache (kvcache.py)."""
from __future__ import annotations

import torch
from torch import Tensor

from .checkpoint import load_run_model
from .config import ConfigError
from .data import decode, encode
from .kvcache import KVCache, forward_cached
from .model import LanguageModel


def sample_next(logits: Tensor, temperature: float, top_k: int | None,
                generator: torch.Generator) -> Tensor:
    """One token id per row of logits (B, V); temperature 0 is greedy."""
    if temperature <= 0:
        return logits.argmax(dim=-1)
    logits = logits.double() / temperature
    if top_k is not None and 0 < top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


def generate_ids(model: LanguageModel, prompt: list[int], max_tokens: int, *,
                 temperature: float = 1.0, top_k: int | None = None, seed: int = 0) -> list[int]:
    """New token ids after the prompt. When the context reaches seq_len, the cache is rebuilt from
    the last half of it (the model never saw longer contexts)."""
    if not prompt:
        raise ConfigError("the prompt is empty: give at least one character")
    seq_len = model.cfg.seq_len
    device = next(model.parameters()).device
    generator = torch.Generator(device="cpu").manual_seed(seed)
    context = list(prompt[-seq_len:])
    cache = KVCache(model, 1)
    logits = forward_cached(model, torch.tensor([context], device=device), cache)[:, -1]
    out: list[int] = []
    for _ in range(max_tokens):
        token = int(sample_next(logits.cpu(), temperature, top_k, generator)[0])
        out.append(token)
        context.append(token)
        if cache.length == seq_len:
            context = context[-(seq_len // 2):]
            cache = KVCache(model, 1)
            step = torch.tensor([context], device=device)
        else:
            step = torch.tensor([[token]], device=device)
        logits = forward_cached(model, step, cache)[:, -1]
    return out


MAX_NEW_TOKENS = 100_000


def generate_text(run_id: str, prompt: str, max_tokens: int = 200, temperature: float = 0.8,
                  top_k: int | None = 40, seed: int = 0, device: str = "cpu") -> str:
    """The text a finished run writes after prompt (byte-level; invalid UTF-8 shown replaced)."""
    if not 0 <= max_tokens <= MAX_NEW_TOKENS:
        raise ConfigError(f"--max-tokens {max_tokens}: give a number from 0 to {MAX_NEW_TOKENS:,} "
                          "(bytes; a tiny model on a CPU writes a few hundred a second)")
    if temperature < 0:
        raise ConfigError(f"--temperature {temperature}: give a number >= 0 (0 is greedy)")
    model, _ = load_run_model(run_id, device=device)
    ids = generate_ids(model, encode(prompt), max_tokens, temperature=temperature, top_k=top_k,
                       seed=seed)
    return decode(ids)
