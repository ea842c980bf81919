"""Pure-PyTorch DCMHA: the executable specification (DCMHA.md, "The pipeline of one DCMHA layer").

Everything is vectorised over positions and heads; float64 inputs are computed in float64, anything
else in float32. The Triton kernels and every faster path are tested against this file.
"""
from __future__ import annotations

from typing import NamedTuple, Optional

import torch
from torch import Tensor


class ComposeWeights(NamedTuple):
    """Dynamic weights of one composition (pre or post). A field that is None is a term left out.

    qw1, qw2: [B, T, R, H] query-wise low-rank (read at the query position t)
    kw1, kw2: [B, S, R, H] key-wise low-rank (read at the key position s)
    qdd: [B, T, H] query-wise gate;  kdd: [B, S, H] key-wise gate;  static: [H, H]
    """
    qw1: Optional[Tensor] = None
    qw2: Optional[Tensor] = None
    kw1: Optional[Tensor] = None
    kw2: Optional[Tensor] = None
    qdd: Optional[Tensor] = None
    kdd: Optional[Tensor] = None
    static: Optional[Tensor] = None


def compose(scores: Tensor, w: ComposeWeights) -> Tensor:
    """Mix the heads of scores [B, H, T, S] pointwise in (t, s); returns a new [B, H, T, S] tensor.

    a' = a + a @ static + sum_r (qw1_r . a) qw2_r + sum_r (kw1_r . a) kw2_r + qdd * a + kdd * a,
    every term computed from the unmixed a.
    """
    cast = lambda x: None if x is None else x.to(scores.dtype)  # noqa: E731
    qw1, qw2, kw1, kw2, qdd, kdd, static = (cast(x) for x in w)
    out = scores
    if static is not None:
        out = out + torch.einsum("bhts,hg->bgts", scores, static)
    if qw1 is not None:
        coef = torch.einsum("bhts,btrh->brts", scores, qw1)          # (B, R, T, S)
        out = out + torch.einsum("brts,btrh->bhts", coef, qw2)
    if kw1 is not None:
        coef = torch.einsum("bhts,bsrh->brts", scores, kw1)          # (B, R, T, S)
        out = out + torch.einsum("brts,bsrh->bhts", coef, kw2)
    if qdd is not None:
        out = out + scores * qdd.transpose(1, 2).unsqueeze(-1)       # (B, H, T, 1)
    if kdd is not None:
        out = out + scores * kdd.transpose(1, 2).unsqueeze(-2)       # (B, H, 1, S)
    return out


def attention_mask(t_q: int, t_k: int, causal: bool, window: Optional[int], device=None) -> Tensor:
    """Keep-mask [Tq, S] for queries at the last Tq of S positions: s <= t (causal), t - w < s (window)."""
    t = torch.arange(t_k - t_q, t_k, device=device).unsqueeze(1)
    s = torch.arange(t_k, device=device).unsqueeze(0)
    keep = torch.ones(t_q, t_k, dtype=torch.bool, device=device)
    if causal:
        keep &= s <= t
    if window is not None:
        keep &= s > t - window
    return keep


def compute_dtype(*tensors: Tensor) -> torch.dtype:
    return torch.float64 if any(x.dtype == torch.float64 for x in tensors) else torch.float32


def dcmha_reference(q: Tensor, k: Tensor, v: Tensor, pre: Optional[ComposeWeights],
                    post: Optional[ComposeWeights], *, causal: bool = True,
                    window: Optional[int] = None) -> Tensor:
    """DCMHA. q: [B, H, Tq, d]; k, v: [B, H, S, d] (queries are the last Tq positions); out [B, H, Tq, d]."""
    with torch.autocast(q.device.type, enabled=False):   # the spec computes in float32 or float64
        return _dcmha_reference(q, k, v, pre, post, causal, window)


def _dcmha_reference(q, k, v, pre, post, causal, window):
    dtype = compute_dtype(q, k, v)
    scale = q.shape[-1] ** -0.5
    logits = torch.matmul(q.to(dtype), k.to(dtype).transpose(-1, -2)) * scale   # (B, H, Tq, S)
    if pre is not None:
        logits = compose(logits, pre)
    keep = attention_mask(q.shape[2], k.shape[2], causal, window, device=q.device)
    logits = logits.masked_fill(~keep, float("-inf"))      # mask AFTER composing
    probs = torch.softmax(logits, dim=-1)
    if post is not None:
        probs = compose(probs, post)                       # not renormalised; masked stay 0
    return torch.matmul(probs, v.to(dtype)).to(v.dtype)
