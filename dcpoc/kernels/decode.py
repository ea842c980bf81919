"""Single-query DCMHA for KV-cached decoding: the semantics of dcmha_reference with Tq = 1.

The one query is the last of S positions, so the causal mask keeps every key and a window w keeps
the last w. Composition works straight from the per-token dynamic weights: the query-wise terms
(low-rank, static) form one H x H matrix for the single query; the key-wise low-rank terms are two
small batched matmuls over the cached kw1, kw2 [B, S, R, H]; both gates are one elementwise factor.
No H x H matrix is built per key. Inference only: run under torch.no_grad or inference_mode.
"""
from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Optional

import torch
from torch import Tensor

from .cpp_build import build
from .reference import ComposeWeights, compute_dtype


def _query_matrix(w: ComposeWeights, dtype: torch.dtype) -> Optional[Tensor]:
    """The query-wise low-rank plus static terms as one matrix M [B or 1, H, H]: out = M @ a."""
    m = None
    if w.qw1 is not None:    # sum_r qw2[r, g] qw1[r, h]; qw1, qw2: (B, 1, R, H)
        m = w.qw2[:, 0].to(dtype).mT @ w.qw1[:, 0].to(dtype)
    if w.static is not None:  # a @ static mixes h -> g, i.e. static^T acting on a
        st = w.static.to(dtype).mT.unsqueeze(0)
        m = st if m is None else m + st
    return m


def _gate(w: ComposeWeights, dtype: torch.dtype) -> Optional[Tensor]:
    """1 + qdd[g] + kdd[s, g] as a factor of shape (B, H, 1 or S); None when no gate is on."""
    g = None
    if w.qdd is not None:
        g = w.qdd[:, 0].to(dtype).unsqueeze(-1) + 1.0              # (B, H, 1)
    if w.kdd is not None:
        kdd = w.kdd.to(dtype).mT                                   # (B, H, S)
        g = kdd + 1.0 if g is None else g + kdd
    return g


def compose_decode(a: Tensor, w: ComposeWeights) -> Tensor:
    """compose() for one query: a [B, H, S] (scores of the last position over S keys) -> [B, H, S]."""
    dtype = a.dtype
    gate = _gate(w, dtype)
    out = a if gate is None else a * gate                          # identity and both gates
    m = _query_matrix(w, dtype)
    if m is not None:
        out = torch.baddbmm(out, m.expand(a.shape[0], -1, -1), a)
    if w.kw1 is not None:
        col = a.mT.unsqueeze(-1)                                   # (B, S, H, 1)
        coef = w.kw1.to(dtype) @ col                               # (B, S, R, 1)
        out = out + (w.kw2.to(dtype).mT @ coef).squeeze(-1).mT     # (B, H, S)
    return out


def _last(w: Optional[ComposeWeights], n: int) -> Optional[ComposeWeights]:
    """Key-wise fields cut to their last n positions (the window)."""
    if w is None:
        return None
    cut = lambda x: None if x is None else x[:, -n:]  # noqa: E731
    return w._replace(kw1=cut(w.kw1), kw2=cut(w.kw2), kdd=cut(w.kdd))


def dcmha_decode(q: Tensor, k: Tensor, v: Tensor, pre: Optional[ComposeWeights],
                 post: Optional[ComposeWeights], *, window: Optional[int] = None) -> Tensor:
    """DCMHA of one causal query. q: [B, H, 1, d]; k, v: [B, H, S, d]; key-wise fields of pre and
    post hold S positions, query-wise fields one. Returns [B, H, 1, d] in v's dtype."""
    if window is not None and window < k.shape[2]:
        # keys outside the window get probability 0 and composition is pointwise in (t, s)
        k, v, n = k[:, :, -window:], v[:, :, -window:], window
        pre, post = _last(pre, n), _last(post, n)
    dtype = compute_dtype(q, k, v)
    with torch.autocast(q.device.type, enabled=False):
        a = (q.to(dtype) @ k.to(dtype).mT).squeeze(2) * q.shape[-1] ** -0.5   # (B, H, S)
        if pre is not None:
            a = compose_decode(a, pre)
        p = torch.softmax(a, dim=-1)
        if post is not None:
            p = compose_decode(p, post)
        return (p.unsqueeze(2) @ v.to(dtype)).to(v.dtype)          # (B, H, 1, d)


# ----------------------------------------------------------------------------- heads-first layout
# The KV-cached decode step (kvcache.py) keeps the key-wise fields with the heads and positions
# last, kw1 and kw2 [R, B, H, S], kdd [B, H, S], so that every key-wise term is elementwise against
# the scores a [B, H, S] with no transposes, and folds the identity and the query-wise terms
# (low-rank, gate, static) into one H x H matrix for the single query. At batch 1 on a CPU the step
# time is mostly the op count, so these functions use as few ops as they can.


def compose_decode_rows(a: Tensor, matrix: Tensor, kw1: Optional[Tensor], kw2: Optional[Tensor],
                        kdd: Optional[Tensor]) -> Tensor:
    """compose() for one query. a [B, H, S]; matrix [B, H, H] with
    matrix[g, h] = [g == h] (1 + qdd[g]) + sum_r qw2[r, g] qw1[r, h] + static[h, g];
    kw1, kw2 [R, B, H, S] and kdd [B, H, S], or None. Returns a new [B, H, S]."""
    base = None
    if kw1 is not None:
        base = (kw2 * (kw1 * a).sum(2, keepdim=True)).sum(0)       # sum_r (kw1_r . a) kw2_r
    if kdd is not None:
        base = a * kdd if base is None else torch.addcmul(base, a, kdd)
    return torch.bmm(matrix, a) if base is None else torch.baddbmm(base, matrix, a)


def dcmha_decode_rows(q: Tensor, k: Tensor, v: Tensor, pre: Optional[tuple], post: Optional[tuple],
                      *, scale: float) -> Tensor:
    """DCMHA of one causal query that sees every one of the S keys given (the caller cuts the
    window). q [B, H, 1, d]; k, v [B, H, S, d]; pre, post: (matrix, kw1, kw2, kdd) as in
    compose_decode_rows, or None for a composition that is off; scale multiplies q . k (1 when q
    comes scaled). float32 or float64, computed in that dtype (the caller leaves autocast and lower
    precisions to dcmha_decode). Returns [B, H, 1, d]."""
    a = (q @ k.mT).squeeze(2)                                      # (B, H, S)
    if scale != 1.0:
        a = a.mul_(scale)
    if pre is not None:
        a = compose_decode_rows(a, *pre)
    p = torch.softmax(a, dim=-1)
    if post is not None:
        p = compose_decode_rows(p, *post)
    return p.unsqueeze(2) @ v


# ----------------------------------------------------------------------------- fused CPU kernel
# One C++ function for a DCFormer decode step after the qkv projection (kvcache.py): the dynamic
# weights from the fused projection's output, the key-side ones into the cache, the query-wise
# matrix, then single-query DCMHA. It does what _attend_decode_dcformer's torch ops do (the tests
# hold both to the full forward pass), in one call instead of some forty: at batch 1 on a CPU the
# eager step is op overhead, as Transformer++'s would be without its one fused
# scaled_dot_product_attention. The source is decode_cpu.cpp beside this file, built once per
# machine with torch.utils.cpp_extension (about a minute, cached; needs g++ and ninja); without
# them, or with DCPOC_CPU_DECODE_KERNEL=0, the torch ops run.

_CPU_DECODE_SOURCE = Path(__file__).with_name("decode_cpu.cpp")


@functools.lru_cache(maxsize=None)
def cpu_decode_kernel():
    """The compiled fused decode step (module with dcformer_decode), or None when it cannot be
    built here or DCPOC_CPU_DECODE_KERNEL=0."""
    if os.environ.get("DCPOC_CPU_DECODE_KERNEL", "1") == "0":
        return None
    return build("dcpoc_decode", _CPU_DECODE_SOURCE, ["dcformer_decode"], "CPU decode kernel", ["-O3"])
