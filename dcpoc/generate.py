"""Text generation from a finished run's checkpoint, with a KV cache for both architectures.

The cache holds, per layer, the rotated keys and the values of every position seen so far and, for
DCFormer, the key-side dynamic weights of each position (kw1, kw2 [R, H] and kdd [H] for pre and
post: a few H-vectors per token, never an H x H matrix). A step feeds new tokens at the next
positions: their queries attend over the cached keys through the same DCMHA path as training, with
the queries as the last Tq of S positions, so cached decoding gives the logits of a full forward pass.
A one-token decode step takes the single-query path (kernels/decode.py) and a batched
dynamic-weight projection; both equal the general ones.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from .config import ConfigError, RunConfig
from .data import decode, encode
from .kernels import ComposeWeights, attention_mask, dcmha, dcmha_decode
from .model import Attention, LanguageModel, apply_rope

KEY_FIELDS = ("kw1", "kw2", "kdd")     # the key-side ComposeWeights fields a cache keeps per token
QUERY_FIELDS = ("qw1", "qw2", "qdd")


# ----------------------------------------------------------------------------- loading


def load_run_model(run_id: str, store=None, device: str = "cpu",
                   dtype: torch.dtype = torch.float32) -> tuple[LanguageModel, RunConfig]:
    """The model of a run from runs/<id>/checkpoint.pt, in eval mode. ConfigError (one line) when
    the run or its checkpoint is missing."""
    from .jobs import run_dir
    from .store import Store
    run = (store or Store()).get_run(run_id)
    if run is None:
        raise ConfigError(f"no run '{run_id}': list the runs with `python -m dcpoc runs`")
    path = Path(run.get("checkpoint_path") or run_dir(run_id) / "checkpoint.pt")
    if not path.exists():
        path = run_dir(run_id) / "checkpoint.pt"
    if not path.exists():
        raise ConfigError(f"run '{run_id}' has no checkpoint yet ({path}); wait until it has trained")
    return load_checkpoint_model(path, device, dtype)


def load_checkpoint_model(path: Path, device: str = "cpu",
                          dtype: torch.dtype = torch.float32) -> tuple[LanguageModel, RunConfig]:
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
        run = RunConfig.from_dict(ckpt["config"])
        model = LanguageModel(run.model)
        model.load_state_dict(ckpt["model"])
    except (OSError, KeyError, RuntimeError) as e:
        raise ConfigError(f"checkpoint {path} cannot be read ({type(e).__name__})") from None
    return model.to(device=device, dtype=dtype).eval(), run


# ----------------------------------------------------------------------------- the cache


@dataclass
class LayerCache:
    """Preallocated per-layer buffers; the first `length` positions are filled."""
    k: Tensor                                    # (B, H, Tmax, d), rotated
    v: Tensor                                    # (B, H, Tmax, d)
    key_weights: dict[str, Tensor] = field(default_factory=dict)   # "pre.kw1": (B, Tmax, R, H) ...


class KVCache:
    def __init__(self, model: LanguageModel, batch: int, max_len: int | None = None):
        cfg = model.cfg
        self.max_len = max_len or cfg.seq_len
        self.length = 0
        p = next(model.parameters())
        shape = (batch, cfg.n_head, self.max_len, cfg.head_dim)
        self.layers = []
        for block in model.blocks:
            layer = LayerCache(torch.zeros(shape, dtype=p.dtype, device=p.device),
                               torch.zeros(shape, dtype=p.dtype, device=p.device))
            self.layers.append(layer)

    def bytes_per_token(self) -> int:
        """Cache memory per position over all layers and the batch (K, V and key-side weights)."""
        total = 0
        for layer in self.layers:
            for x in (layer.k, layer.v, *layer.key_weights.values()):
                total += x.element_size() * x.numel() // self.max_len
        return total


def _store_key_weights(layer: LayerCache, name: str, w: ComposeWeights, start: int,
                       max_len: int) -> None:
    """Write the key-side fields of w for positions [start, start + Tn) into the cache."""
    for f in KEY_FIELDS:
        value = getattr(w, f)
        if value is None:
            continue
        key = f"{name}.{f}"
        if key not in layer.key_weights:
            layer.key_weights[key] = value.new_zeros(value.shape[0], max_len, *value.shape[2:])
        layer.key_weights[key][:, start:start + value.shape[1]] = value


def _cached_weights(layer: LayerCache, name: str, w: ComposeWeights | None, s0: int,
                    s1: int) -> ComposeWeights | None:
    """Query-side fields of the new tokens plus key-side fields of cached positions [s0, s1)."""
    if w is None:
        return None
    keys = {f: layer.key_weights[f"{name}.{f}"][:, s0:s1] if getattr(w, f) is not None else None
            for f in KEY_FIELDS}
    return ComposeWeights(**{f: getattr(w, f) for f in QUERY_FIELDS}, **keys, static=w.static)


def _decode_weights(dyn, x: Tensor) -> tuple[ComposeWeights | None, ComposeWeights | None]:
    """DynamicWeightProjection.forward for one new token x (B, 1, D) with fewer, batched ops:
    the branch MLP is one bmm over branches (nb, B, C) @ (nb, C, 2RH) instead of an einsum."""
    B = x.shape[0]
    H, R, nb = dyn.n_head, dyn.rank, len(dyn.branches)
    fields: dict[str, dict[str, Tensor]] = {c: {} for c in dyn.comps}
    if dyn.lowrank:
        hidden = F.gelu(x.view(B, -1) @ dyn.w1).view(B, nb, dyn.hidden).transpose(0, 1)
        dw = torch.bmm(hidden, dyn.w2).view(nb, B, 1, 2, R, H)      # (nb, B, T=1, 2, R, H)
        w1 = F.rms_norm(dw[:, :, :, 0], (H,), eps=1e-6)             # (nb, B, 1, R, H)
        for i, name in enumerate(dyn.branches):
            comp, side = name.split("_")
            fields[comp][f"{side}w1"], fields[comp][f"{side}w2"] = w1[i], dw[i, :, :, 1]
    if dyn.gate:
        gates = torch.tanh(x @ dyn.wd).view(B, 1, nb, H)
        for i, name in enumerate(dyn.branches):
            comp, side = name.split("_")
            fields[comp][f"{side}dd"] = gates[:, :, i]
    for comp, matrix in dyn.static.items():
        fields[comp]["static"] = matrix
    return tuple(ComposeWeights(**fields[c]) if c in fields else None for c in ("pre", "post"))


def _attend(attn: Attention, x: Tensor, cos: Tensor, sin: Tensor, layer: LayerCache,
            start: int) -> Tensor:
    """Attention of new tokens x (B, Tn, D) at positions [start, start+Tn) over the cache."""
    B, Tn, D = x.shape
    q, k, v = attn.qkv(x).view(B, Tn, 3, attn.n_head, attn.head_dim).permute(2, 0, 3, 1, 4)
    if attn.q_norm is not None:
        q, k = attn.q_norm(q), attn.k_norm(k)
    q, k = apply_rope(q, cos, sin).to(v.dtype), apply_rope(k, cos, sin).to(v.dtype)
    end = start + Tn
    layer.k[:, :, start:end], layer.v[:, :, start:end] = k, v
    # keys older than the window of the first new query are never seen again: leave them out
    s0 = 0 if attn.window is None else max(0, start - attn.window + 1)
    keys, values = layer.k[:, :, s0:end], layer.v[:, :, s0:end]       # (B, H, S, d)
    if attn.dynamic is not None:
        pre, post = attn.dynamic(x) if Tn > 1 else _decode_weights(attn.dynamic, x)
        for name, w in (("pre", pre), ("post", post)):
            if w is not None:
                _store_key_weights(layer, name, w, start, layer.k.shape[2])
        pre, post = (_cached_weights(layer, n, w, s0, end) for n, w in (("pre", pre), ("post", post)))
        if Tn == 1:     # decode step: the single-query path, no H x H matrix per key
            y = dcmha_decode(q, keys, values, pre, post, window=attn.window)
        else:
            y = dcmha(q, keys, values, pre, post, causal=True, window=attn.window,
                      impl=attn.cfg.attn_impl)
    elif Tn == 1 and attn.window is None:
        y = F.scaled_dot_product_attention(q, keys, values)           # one query sees every key
    else:
        keep = attention_mask(Tn, end - s0, True, attn.window, device=x.device)
        y = F.scaled_dot_product_attention(q, keys, values, attn_mask=keep)
    return attn.proj(y.transpose(1, 2).reshape(B, Tn, D))


@torch.inference_mode()
def forward_cached(model: LanguageModel, idx: Tensor, cache: KVCache) -> Tensor:
    """Logits (B, Tn, V) of new tokens idx (B, Tn) at the cache's next positions; fills the cache.
    A prefill is one call with the prompt, a decode step one call with one token."""
    start, Tn = cache.length, idx.shape[1]
    if start + Tn > cache.max_len:
        raise ValueError(f"{start + Tn} positions do not fit a cache of {cache.max_len}")
    cos, sin = model.rope_cos[start:start + Tn], model.rope_sin[start:start + Tn]
    h = model.embed(idx)
    for block, layer in zip(model.blocks, cache.layers):
        h = h + _attend(block.attn, block.attn_norm(h), cos, sin, layer, start)
        h = h + block.ffn(block.ffn_norm(h))
    cache.length = start + Tn
    return model.head(model.norm(h))


# ----------------------------------------------------------------------------- sampling


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


def generate_text(run_id: str, prompt: str, max_tokens: int = 200, temperature: float = 0.8,
                  top_k: int | None = 40, seed: int = 0, device: str = "cpu") -> str:
    """The text a finished run writes after prompt (byte-level; invalid UTF-8 shown replaced)."""
    if max_tokens < 0:
        raise ConfigError(f"--max-tokens {max_tokens}: give a number >= 0")
    if temperature < 0:
        raise ConfigError(f"--temperature {temperature}: give a number >= 0 (0 is greedy)")
    model, _ = load_run_model(run_id, device=device)
    ids = generate_ids(model, encode(prompt), max_tokens, temperature=temperature, top_k=top_k,
                       seed=seed)
    return decode(ids)
