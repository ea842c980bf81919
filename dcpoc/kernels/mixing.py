"""Per-position mixing matrices of a composition (torch_dcmha's module docstring gives the math), and
the split of the model's dynamic weights into their fields: with the torch ops, or with compose_cpu's
C++ kernels on the CPU (one call for every side of a layer; one pass each way for the split).
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from .compose_cpu import compose_kernel
from .reference import ComposeWeights

# (Aq [B, H, G, Tq], Ak [B, H, G, S]) of one composition, H = source head, G = target head;
# either may be None (no term on that side), not both.
Mixing = tuple[Optional[Tensor], Optional[Tensor]]


def _side_matrix(w1: Optional[Tensor], w2: Optional[Tensor], gate: Optional[Tensor],
                 dtype: torch.dtype) -> Optional[Tensor]:
    """Sum of one side's dynamic terms as per-position matrices [B, T, H, G]; None if none is given.

    w1, w2: [B, T, R, H] (low-rank: sum_r w1[r]^T w2[r]); gate: [B, T, H] (diagonal).
    """
    matrix = None
    if w1 is not None:
        matrix = torch.matmul(w1.to(dtype).transpose(-1, -2), w2.to(dtype))      # (B, T, H, G)
    if gate is not None:
        diag = torch.diag_embed(gate.to(dtype))
        matrix = diag if matrix is None else matrix + diag
    return matrix


def _check_pairs(w: ComposeWeights) -> None:
    for w1, w2 in ((w.qw1, w.qw2), (w.kw1, w.kw2)):
        if (w1 is None) != (w2 is None):
            raise ValueError("the low-rank pair (w1, w2) of ComposeWeights must be given together")


def build_mixing(w: Optional[ComposeWeights], batch: int, t_q: int,
                 dtype: torch.dtype) -> Optional[Mixing]:
    """(Aq, Ak) of one composition, identity included; None when w is None or has no term."""
    if w is None:
        return None
    _check_pairs(w)
    aq = _side_matrix(w.qw1, w.qw2, w.qdd, dtype)
    ak = _side_matrix(w.kw1, w.kw2, w.kdd, dtype)
    if w.static is not None:                                       # constant in t: query side
        static = w.static.to(dtype)
        aq = static.expand(batch, t_q, *static.shape) if aq is None else aq + static
    if aq is None and ak is None:
        return None
    side = aq if aq is not None else ak
    eye = torch.eye(side.shape[-1], dtype=dtype, device=side.device)
    if aq is not None:
        aq = aq + eye
    else:
        ak = ak + eye
    # Position last, so that a row of weights broadcasts along the other position axis of the scores.
    aq, ak = (None if m is None else m.permute(0, 2, 3, 1).contiguous() for m in (aq, ak))
    return aq, ak


def or_empty(tensors: Iterable[Optional[Tensor]], like: Tensor) -> list[Tensor]:
    """Tensors as compose_cpu takes them: an empty tensor (like's dtype and device) for each None."""
    return [like.new_empty(0) if x is None else x for x in tensors]


class _SideMatrices(torch.autograd.Function):
    """Mixing matrices [B, H, G, positions] of several sides in one compose_cpu call. Side i: fields
    4i..4i+3 = the low-rank pair (w1, w2 [B, T, R, H]), the gate [B, T, H], the static [H, H], any
    may be None, plus the identity where eyes[i]; the same bits as build_mixing's torch ops."""

    @staticmethod
    def forward(ctx, kernel, eyes: list[bool], positions: list[int], batch: int, heads: int,
                *fields: Optional[Tensor]) -> tuple[Tensor, ...]:
        ctx.kernel = kernel
        ctx.present = [f is not None for f in fields]
        w1s, w2s, gates, statics = (fields[i::4] for i in range(4))
        ctx.save_for_backward(*w1s, *w2s)
        like = next(f for f in fields if f is not None)
        return tuple(kernel.sides_forward(*(or_empty(xs, like) for xs in (w1s, w2s, gates, statics)),
                                          [int(e) for e in eyes], positions, batch, heads))

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, *grads: Tensor):
        saved, n = ctx.saved_tensors, len(grads)
        flat = ctx.kernel.sides_backward([g.contiguous() for g in grads],
                                         or_empty(saved[:n], grads[0]), or_empty(saved[n:], grads[0]),
                                         [int(p) for p in ctx.present[2::4]],
                                         [int(p) for p in ctx.present[3::4]])
        return None, None, None, None, None, *(g if on else None for g, on in zip(flat, ctx.present))


def build_mixings_cpp(compositions: tuple[Optional[ComposeWeights], ...], batch: int, t_q: int,
                      dtype: torch.dtype, kernel) -> list[Optional[Mixing]]:
    """build_mixing of every composition by one compose_cpu call: (Aq, Ak) with the identity, or None
    for a composition that is None or has no term."""
    sides = []                          # (composition, side 0 = query / 1 = key, fields, eye, positions)
    for c, w in enumerate(compositions):
        if w is None:
            continue
        _check_pairs(w)
        qw1, qw2, kw1, kw2, qdd, kdd, static = (None if x is None else x.to(dtype).contiguous()
                                                for x in w)
        has_q = qw1 is not None or qdd is not None or static is not None
        if has_q:
            sides.append((c, 0, (qw1, qw2, qdd, static), True, t_q))
        if kw1 is not None or kdd is not None:
            t_k = (kw1 if kw1 is not None else kdd).shape[1]
            sides.append((c, 1, (kw1, kw2, kdd, None), not has_q, t_k))
    mixings: list[Optional[Mixing]] = [None] * len(compositions)
    if not sides:
        return mixings
    heads = next(x for side in sides for x in side[2] if x is not None).shape[-1]
    matrices = _SideMatrices.apply(kernel, [side[3] for side in sides], [side[4] for side in sides],
                                   batch, heads, *(x for side in sides for x in side[2]))
    for (c, which, *_), matrix in zip(sides, matrices):
        pair = list(mixings[c] or (None, None))
        pair[which] = matrix
        mixings[c] = (pair[0], pair[1])
    return mixings


class _DynamicFields(torch.autograd.Function):
    """dynamic_fields by compose_cpu's one pass, forward and backward."""

    @staticmethod
    def forward(ctx, kernel, dw: Tensor, eps: float) -> tuple[Tensor, Tensor]:
        w1, w2, inv = kernel.fields_forward(dw, eps)
        ctx.kernel = kernel
        ctx.save_for_backward(w1, inv)
        return w1, w2

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_w1: Tensor, grad_w2: Tensor):
        w1, inv = ctx.saved_tensors
        return None, ctx.kernel.fields_backward(grad_w1.contiguous(), grad_w2.contiguous(), w1, inv), None


@torch.compiler.disable          # the C++ kernel is opaque to Dynamo, as dcmha's (kernels/__init__)
def dynamic_fields(dw: Tensor, eps: float) -> tuple[Tensor, Tensor]:
    """The low-rank fields of dynamic weights dw [..., 2, R, H] (hidden @ W2 per token and branch,
    DCMHA.md): w1 RMS-normalised over the heads (no scale, eps) and w2, each [..., R, H].
    compose_cpu's one pass for float CPU tensors (both contiguous), else the torch ops (w2 a view)."""
    kernel = compose_kernel() if dw.device.type == "cpu" else None
    if kernel is None or dw.dtype not in (torch.float32, torch.float64):
        return F.rms_norm(dw.select(-3, 0), (dw.shape[-1],), eps=eps), dw.select(-3, 1)
    lead, (rank, heads) = dw.shape[:-3], dw.shape[-2:]
    w1, w2 = _DynamicFields.apply(kernel, dw.reshape(-1, 2, rank, heads).contiguous(), eps)
    return w1.view(*lead, rank, heads), w2.view(*lead, rank, heads)
