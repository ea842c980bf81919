"""The KV cache and cached forward passes, for both architectures.

The cache holds, per layer, the rotated keys and the values of every position seen so far and, for
DCFormer, the key-side dynamic weights of each position (kw1, kw2 [R, H] and kdd [H] for pre and
post: a few H-vectors per token, never an H x H matrix). A step feeds new tokens at the next
positions: their queries attend over the cached keys through the same DCMHA path as training, with
the queries as the last Tq of S positions, so cached decoding gives the logits of a full forward pass.

A one-token decode step (both architectures, float32/float64, no autocast) takes a path with
fewer ops, since at batch 1 on a CPU the step time is mostly the op count: for both, q and k share
one RMS norm and one rotary matmul (rope_matrix); DCFormer fuses its dynamic-weight projection
into the qkv matmul, then on the CPU runs the rest of its attention in one fused kernel (the
counterpart of Transformer++'s one scaled_dot_product_attention), else kernels/decode.py's
heads-first torch ops. The key-side weights are cached with the positions last
(key_rows (n_key, 2R + 1, B, H, Tmax)). Every path equals the general one, and the tests hold
them to the full forward pass.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .kernels import ComposeWeights, attention_mask, dcmha, dcmha_decode
from .kernels.decode import cpu_decode_kernel, dcmha_decode_rows
from .model import Attention, LanguageModel

QUERY_FIELDS = ("qw1", "qw2", "qdd")


def rope_matrices(cos: Tensor, sin: Tensor) -> Tensor:
    """(T, d, d) matrices with apply_rope(x, cos[t], sin[t]) = x @ m[t], from cos, sin (T, d/2)."""
    T, half = cos.shape
    m = cos.new_zeros(T, 2 * half, 2 * half)
    i = torch.arange(half, device=cos.device)
    m[:, i, i], m[:, i + half, i + half] = cos, cos
    m[:, i + half, i], m[:, i, i + half] = -sin, sin
    return m


@dataclass
class DecodePlan:
    """One DCFormer layer's weights for a one-token decode step, fused once when the cache is made
    (a cache is tied to the weights it was made with), and the buffers and views of that step.
    The branches are reordered key-side first; a token's dynamic weights are one tensor
    (nb, B, n, H) of rows w1 (R, RMS-normalised), w2 (R), gate (1)."""
    weight: Tensor                    # (3D + nb*C + nb*H, D): rows of qkv, W1 / sqrt(2) and Wd
    w2: Tensor | None                 # (nb, C, n*H): each branch's W2 / sqrt(2), zero at the gate row
    hidden: tuple[int, int]           # (start, width) of the GELU input / sqrt(2) in weight's output
    gates: tuple[int, int]            # (start, width) of tanh's input
    rank: int                         # R, or 0 when low-rank is off
    eps: Tensor                       # the RMS norm's eps of w1, as a tensor
    # comp -> (index among the query branches, index among the key branches, a matrix to add:
    # static^T, plus the identity when the comp has no query side)
    comps: dict[str, tuple[int | None, int | None, Tensor | None]]
    dynamic: Tensor                   # (nb, B, n, H): the step's dynamic weights, and views of it:
    w1: Tensor | None = None          # (nb, B, R, H)
    gate: Tensor | None = None        # (nb, B, H)
    key_side: Tensor | None = None    # (n_key, n, B, H), as a position of the key cache
    qw1: Tensor | None = None         # (n_query * B, R, H)
    qw2_t: Tensor | None = None       # (n_query * B, H, R)
    qdd: Tensor | None = None         # (n_query * B, H)
    eye: Tensor | None = None         # (n_query * B, H, H) when the gates are off
    # the fused CPU kernel's arguments (kernels/decode.py): sizes and offsets, then the matrices
    # the compositions add
    meta: list[int] | None = None
    statics: tuple[Tensor, Tensor] | None = None


def _decode_plan(attn: Attention, batch: int) -> DecodePlan:
    dyn, D, H = attn.dynamic, attn.qkv.weight.shape[1], attn.n_head
    order = ([b for b in dyn.branches if b.endswith("_k")]
             + [b for b in dyn.branches if b.endswith("_q")])
    nb, C, n_key = len(order), dyn.hidden, sum(b.endswith("_k") for b in order)
    R, n_query = dyn.rank if dyn.lowrank else 0, nb - n_key
    w1, w2, wd = dyn.branch_weights(order)
    parts, hidden, gates = [attn.qkv.weight], (0, 0), (0, 0)
    # GELU(h) = (z + z erf(z)) / sqrt(2) with z = h / sqrt(2): both 1 / sqrt(2) go into the weights
    if R:
        parts.append(w1 * 0.5 ** 0.5)
        hidden = (3 * D, nb * C)
        w2 = w2 * 0.5 ** 0.5                                            # (nb, C, 2RH)
        if dyn.gate:
            w2 = torch.cat([w2, w2.new_zeros(nb, C, H)], dim=2)
    if dyn.gate:
        parts.append(wd)
        gates = (3 * D + hidden[1], nb * H)
    weight = torch.cat(parts)
    eye = torch.eye(H, dtype=weight.dtype, device=weight.device)
    comps = {}
    for comp in dyn.comps:
        q_index = order.index(f"{comp}_q") - n_key if f"{comp}_q" in order else None
        k_index = order.index(f"{comp}_k") if f"{comp}_k" in order else None
        static = dyn.static_matrix(comp)
        static = None if static is None else static.T
        if q_index is None:
            static = eye if static is None else static + eye
        comps[comp] = (q_index, k_index, static)
    dynamic = weight.new_zeros(nb, batch, 2 * R + dyn.gate, H)
    plan = DecodePlan(weight, w2, hidden, gates, R, weight.new_tensor(dyn.W1_EPS), comps, dynamic)
    query = dynamic[n_key:]
    if R:
        plan.w1 = dynamic[:, :, :R]
        plan.qw1 = query[:, :, :R].reshape(n_query * batch, R, H)
        plan.qw2_t = query[:, :, R:2 * R].reshape(n_query * batch, R, H).mT
    if dyn.gate:
        plan.gate, plan.qdd = dynamic[:, :, -1], query[:, :, -1].reshape(n_query * batch, H)
    else:
        plan.eye = eye.expand(n_query * batch, H, H)
    if n_key:
        plan.key_side = dynamic[:n_key].permute(0, 2, 1, 3)
    plan.meta = [*hidden[:1], C if R else 0, gates[0], nb, n_key, R, int(dyn.gate)]
    for comp in ("pre", "post"):
        q_index, k_index, _ = comps.get(comp, (None, None, None))
        plan.meta += [int(comp in comps), -1 if q_index is None else q_index,
                      -1 if k_index is None else k_index]
    none = weight.new_zeros(0)
    plan.statics = tuple(none if comps.get(c, (0, 0, None))[2] is None else comps[c][2].contiguous()
                         for c in ("pre", "post"))
    if plan.w2 is None:
        plan.w2 = none
    return plan


@dataclass
class LayerCache:
    """Preallocated per-layer buffers; the first `length` positions are filled."""
    k: Tensor                                    # (B, H, Tmax, d), rotated
    v: Tensor                                    # (B, H, Tmax, d)
    qk_weight: Tensor | None = None              # (2, 1, d): QK-norm scales (DCFormer: q's x d^-0.5)
    # DCFormer: the key-side fields of each key branch, positions last (kernels/decode.py):
    # (n_key, n, B, H, Tmax), rows kw1 (R), kw2 (R), kdd (1): a few H-vectors per token
    key_rows: Tensor | None = None
    plan: DecodePlan | None = None
    fields: dict[str, tuple[Tensor | None, Tensor | None, Tensor | None]] | None = None

    def key_fields(self, comp: str, s0: int, s1: int) -> tuple[Tensor | None, Tensor | None,
                                                                Tensor | None]:
        """kw1, kw2 (R, B, H, S) and kdd (B, H, S) of comp at positions [s0, s1) (None: off)."""
        return tuple(None if x is None else x.narrow(-1, s0, s1 - s0) for x in self.fields[comp])


class KVCache:
    def __init__(self, model: LanguageModel, batch: int, max_len: int | None = None):
        cfg = model.cfg
        self.max_len = max_len or cfg.seq_len
        self.length = 0
        p = next(model.parameters())
        shape = (batch, cfg.n_head, self.max_len, cfg.head_dim)
        self.rope_matrix = rope_matrices(model.rope_cos[:self.max_len],
                                         model.rope_sin[:self.max_len]).to(p.dtype)
        self.layers = []
        for block in model.blocks:
            attn = block.attn
            layer = LayerCache(torch.zeros(shape, dtype=p.dtype, device=p.device),
                               torch.zeros(shape, dtype=p.dtype, device=p.device))
            with torch.no_grad():
                if attn.q_norm is not None:
                    scale = cfg.head_dim ** -0.5 if attn.dynamic is not None else 1.0
                    layer.qk_weight = torch.stack([attn.q_norm.weight * scale,
                                                   attn.k_norm.weight]).unsqueeze(1)
                if attn.dynamic is not None:
                    layer.plan = plan = _decode_plan(attn, batch)
                    R = plan.rank
                    if plan.key_side is not None:
                        layer.key_rows = torch.zeros(*plan.key_side.shape, self.max_len,
                                                     dtype=p.dtype, device=p.device)
                    layer.fields = {}
                    for comp, (_, k_index, _) in plan.comps.items():
                        rows = None if k_index is None else layer.key_rows[k_index]
                        layer.fields[comp] = (None, None, None) if rows is None else (
                            rows[:R] if R else None, rows[R:2 * R] if R else None,
                            rows[-1] if plan.gate is not None else None)
            self.layers.append(layer)

    def bytes_per_token(self) -> int:
        """Cache memory per position over all layers and the batch (K, V and key-side weights)."""
        total = 0
        for layer in self.layers:
            for x in (layer.k, layer.v, layer.key_rows):
                if x is not None:
                    total += x.element_size() * x.numel() // self.max_len
        return total


def _store_key_weights(layer: LayerCache, comp: str, w: ComposeWeights, start: int,
                       end: int) -> None:
    """Write the key-side fields of w (B, Tn, R, H) for positions [start, end) into the cache."""
    kw1, kw2, kdd = layer.key_fields(comp, start, end)
    if kw1 is not None:
        kw1.copy_(w.kw1.permute(2, 0, 3, 1))
        kw2.copy_(w.kw2.permute(2, 0, 3, 1))
    if kdd is not None:
        kdd.copy_(w.kdd.mT)


def _cached_weights(layer: LayerCache, comp: str, w: ComposeWeights | None, s0: int,
                    s1: int) -> ComposeWeights | None:
    """Query-side fields of the new tokens plus key-side fields of cached positions [s0, s1)."""
    if w is None:
        return None
    kw1, kw2, kdd = layer.key_fields(comp, s0, s1)
    as_keys = lambda x, *dims: None if x is None else x.permute(*dims).contiguous()  # noqa: E731
    return ComposeWeights(**{f: getattr(w, f) for f in QUERY_FIELDS}, kw1=as_keys(kw1, 1, 3, 0, 2),
                          kw2=as_keys(kw2, 1, 3, 0, 2), kdd=as_keys(kdd, 0, 2, 1), static=w.static)


def _attend(attn: Attention, x: Tensor, cos: Tensor, sin: Tensor, layer: LayerCache,
            start: int) -> Tensor:
    """Attention of new tokens x (B, Tn, D) at positions [start, start+Tn) over the cache."""
    B, Tn, D = x.shape
    q, k, v = attn.project_qkv(x, cos, sin)                             # (B, H, Tn, d)
    end = start + Tn
    layer.k[:, :, start:end], layer.v[:, :, start:end] = k, v
    # keys older than the window of the first new query are never seen again: leave them out
    s0 = 0 if attn.window is None else max(0, start - attn.window + 1)
    keys, values = layer.k[:, :, s0:end], layer.v[:, :, s0:end]       # (B, H, S, d)
    if attn.dynamic is not None:
        pre, post = attn.compose_weights(x)
        for comp, w in (("pre", pre), ("post", post)):
            if w is not None:
                _store_key_weights(layer, comp, w, start, end)
        pre, post = (_cached_weights(layer, c, w, s0, end) for c, w in (("pre", pre), ("post", post)))
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


def _decode_qkv(attn: Attention, qkv: Tensor, layer: LayerCache, rope: Tensor,
                start: int) -> tuple[Tensor, Tensor, Tensor]:
    """q (B, H, 1, d) and the keys and values (B, H, S, d) that one new token at position start
    attends to, from its qkv projection (B, 1, 3D); writes its k and v into the cache."""
    B, H, d = qkv.shape[0], attn.n_head, attn.head_dim
    qkv = qkv.view(B, 3, H, d)
    qk = qkv.narrow(1, 0, 2)                                           # (B, 2, H, d)
    if layer.qk_weight is not None:
        qk = F.rms_norm(qk, (d,), eps=attn.q_norm.eps) * layer.qk_weight
    qk = qk @ rope                                                     # rotary at this position
    layer.k.select(2, start).copy_(qk.select(1, 1))
    layer.v.select(2, start).copy_(qkv.select(1, 2))
    s0 = 0 if attn.window is None else max(0, start + 1 - attn.window)   # the one query's window
    return (qk.select(1, 0).unsqueeze(2), layer.k.narrow(2, s0, start + 1 - s0),
            layer.v.narrow(2, s0, start + 1 - s0))


def _attend_decode(attn: Attention, x: Tensor, layer: LayerCache, rope: Tensor,
                   start: int) -> Tensor:
    """_attend for one new Transformer++ token x (B, 1, D) in float32/float64."""
    B, _, D = x.shape
    q, keys, values = _decode_qkv(attn, F.linear(x, attn.qkv.weight), layer, rope, start)
    y = F.scaled_dot_product_attention(q, keys, values)               # the one query sees every key
    return attn.proj(y.view(B, 1, D))


def _decode_weights(plan: DecodePlan, y: Tensor) -> None:
    """Write one token's dynamic weights into plan.dynamic from the fused projection's output
    y (B, N)."""
    B, R = y.shape[0], plan.rank
    if R:
        z = y.narrow(1, *plan.hidden)
        hidden = torch.addcmul(z, z, torch.erf(z)).view(B, -1, plan.w2.shape[1]).transpose(0, 1)
        torch.bmm(hidden, plan.w2, out=plan.dynamic.view(plan.w2.shape[0], B, -1))
        norm = torch.linalg.vector_norm(plan.w1, dim=-1, keepdim=True)
        plan.w1.mul_(torch.addcmul(plan.eps, norm, norm, value=1 / plan.w1.shape[-1]).rsqrt_())
    if plan.gate is not None:
        torch.tanh(y.narrow(1, *plan.gates).view(B, -1, plan.gate.shape[-1]).transpose(0, 1),
                   out=plan.gate)


def _attend_decode_dcformer(attn: Attention, x: Tensor, layer: LayerCache, rope: Tensor,
                            start: int, kernel=None) -> Tensor:
    """_attend for one new DCFormer token x (B, 1, D) in float32/float64 with fewer ops: one matmul
    gives q, k, v and the dynamic weights' inputs; then either the fused CPU kernel (kernel, from
    kernels.decode.cpu_decode_kernel) or torch ops: the key-side fields go to the cache in one copy,
    and the query-side ones become one H x H matrix per composition (kernels/decode.py)."""
    B, _, D = x.shape
    plan, H = layer.plan, attn.n_head
    y = F.linear(x, plan.weight)                                      # (B, 1, 3D + nb*C + nb*H)
    q, keys, values = _decode_qkv(attn, y.narrow(2, 0, 3 * D), layer, rope, start)
    S = keys.shape[2]
    scale = 1.0 if layer.qk_weight is not None else attn.head_dim ** -0.5   # else folded into q
    if kernel is not None:
        rows = plan.w2.new_zeros(0) if layer.key_rows is None else layer.key_rows
        out = kernel.dcformer_decode(y.view(B, -1), q, layer.k, layer.v, rows, plan.w2, *plan.statics,
                                     plan.meta + [start, start + 1 - S, S], scale)
        return attn.proj(out)                                         # (B, 1, D)
    _decode_weights(plan, y.view(B, -1))
    if plan.key_side is not None:
        layer.key_rows.select(-1, start).copy_(plan.key_side)
    matrices = ()
    if plan.qw1 is not None or plan.qdd is not None:                 # (n_query * B, H, H)
        m = torch.diag_embed(plan.qdd + 1) if plan.qdd is not None else plan.eye
        if plan.qw1 is not None:                                      # + sum_r qw2[r, g] qw1[r, h]
            m = torch.baddbmm(m, plan.qw2_t, plan.qw1)
        matrices = m.view(-1, B, H, H).unbind(0)
    s0 = start + 1 - S
    pre = post = None
    for comp, (q_index, _, static) in plan.comps.items():
        if q_index is None:
            m = static.expand(B, H, H)
        else:
            m = matrices[q_index] if static is None else matrices[q_index] + static
        kw1, kw2, kdd = layer.fields[comp]
        fields = (m, None if kw1 is None else kw1.narrow(-1, s0, S),
                  None if kw2 is None else kw2.narrow(-1, s0, S),
                  None if kdd is None else kdd.narrow(-1, s0, S))
        if comp == "pre":
            pre = fields
        else:
            post = fields
    y = dcmha_decode_rows(q, keys, values, pre, post, scale=scale)
    return attn.proj(y.view(B, 1, D))


@torch.inference_mode()
def forward_cached(model: LanguageModel, idx: Tensor, cache: KVCache) -> Tensor:
    """Logits (B, Tn, V) of new tokens idx (B, Tn) at the cache's next positions; fills the cache.
    A prefill is one call with the prompt, a decode step one call with one token."""
    start, Tn = cache.length, idx.shape[1]
    if start + Tn > cache.max_len:
        raise ValueError(f"{start + Tn} positions do not fit a cache of {cache.max_len}")
    cos, sin = model.rope_cos[start:start + Tn], model.rope_sin[start:start + Tn]
    h = model.embed(idx)
    # one new token in the cache's dtype takes the decode paths; others (a prefill, bf16, autocast)
    # the general one
    decode = (Tn == 1 and h.dtype == cache.rope_matrix.dtype and h.dtype in (torch.float32, torch.float64)
              and not torch.is_autocast_enabled(h.device.type))
    rope = cache.rope_matrix[start]
    kernel = (cpu_decode_kernel() if decode and h.device.type == "cpu" and cache.layers[0].plan is not None
              else None)
    for block, layer in zip(model.blocks, cache.layers):
        x = block.attn_norm(h)
        if not decode:
            h = h + _attend(block.attn, x, cos, sin, layer, start)
        elif layer.plan is not None:
            h = h + _attend_decode_dcformer(block.attn, x, layer, rope, start, kernel)
        else:
            h = h + _attend_decode(block.attn, x, layer, rope, start)
        h = h + block.ffn(block.ffn_norm(h))
    cache.length = start + Tn
    return model.head(model.norm(h))
