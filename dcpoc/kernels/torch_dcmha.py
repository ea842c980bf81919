"""Fast pure-PyTorch DCMHA (same semantics as reference.dcmha_reference, what the CPU runs).

The trick: compose is linear in the head vector a at each (t, s), so each side's terms fold into one
H x H mixing matrix per position,

    Aq[b, t] = static + sum_r qw1[b,t,r]^T qw2[b,t,r] + diag(qdd[b,t])     (query side)
    Ak[b, s] = sum_r kw1[b,s,r]^T kw2[b,s,r] + diag(kdd[b,s])              (key side)
    a'[g] = a[g] + sum_h a[h] (Aq[b,t,h,g] + Ak[b,s,h,g]).

The folding is a few ops on small [B, T, H, H] tensors that autograd differentiates as usual. The big
[B, H, T, S] work runs in one autograd.Function with a hand-written backward, so that each compose costs
2H fused multiply-adds over [B, H, T, S] (forward and backward alike), the mask is an additive bias
riding on the first of them, and only the tensors the backward needs are kept:

    forward   L = q k^T / sqrt(d);  L' = mix(L) + bias;  P = softmax(L');  P' = mix(P);  O = P' v
    backward  dP' = dO v^T;  dv = P'^T dO;  dP = mix^T(dP');  dAq = sum_s P dP';  dAk = sum_t P dP';
              dL' = softmax_backward(dP, P);  dL = mix^T(dL');  dA = sums of L dL';  dq, dk from dL.

Masked positions have P = 0, so they stay exactly 0 after post-mixing and get no gradient, as in the
reference. (For finite inputs the bias equals the reference's masked_fill of the composed logits.)
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from .reference import ComposeWeights, attention_mask, compute_dtype

Mixing = tuple[Optional[Tensor], Optional[Tensor]]      # (Aq [B, H, G, Tq], Ak [B, H, G, S]) or None


def _side_matrix(w1: Optional[Tensor], w2: Optional[Tensor], gate: Optional[Tensor],
                 static: Optional[Tensor], positions: tuple[int, int], dtype: torch.dtype
                 ) -> Optional[Tensor]:
    """One side's mixing matrices, laid out [B, H, G, T] (source head h, target head g, position t).

    w1, w2: [B, T, R, H]; gate: [B, T, H]; static: [H, H]; positions: (B, T). None if no term is given.
    """
    if (w1 is None) != (w2 is None):
        raise ValueError("a low-rank pair (w1, w2) of ComposeWeights must be given together or not at all")
    matrix = None                                                                 # (B, T, H, G)
    if w1 is not None:
        matrix = torch.matmul(w1.to(dtype).transpose(-1, -2), w2.to(dtype))
    if gate is not None:
        diag = torch.diag_embed(gate.to(dtype))
        matrix = diag if matrix is None else matrix + diag
    if static is not None:
        static = static.to(dtype)
        matrix = static.expand(*positions, *static.shape) if matrix is None else matrix + static
    return None if matrix is None else matrix.permute(0, 2, 3, 1).contiguous()


def _mixing(w: Optional[ComposeWeights], t_q: int, t_k: int, batch: int,
            dtype: torch.dtype) -> Optional[Mixing]:
    """(Aq, Ak) of one composition; None when w is None or has no term at all."""
    if w is None:
        return None
    aq = _side_matrix(w.qw1, w.qw2, w.qdd, w.static, (batch, t_q), dtype)
    ak = _side_matrix(w.kw1, w.kw2, w.kdd, None, (batch, t_k), dtype)
    return None if aq is None and ak is None else (aq, ak)


def _mix(x: Tensor, mixing: Optional[Mixing], bias: Optional[Tensor] = None,
         out: Optional[Tensor] = None) -> Tensor:
    """out[:, g] = x[:, g] + sum_h x[:, h] (Aq[:, h, g] + Ak[:, h, g]) (+ bias); x [B, H, T, S].

    Writes into out when given (it must not be x); with no mixing and no bias, returns x itself.
    """
    terms = []                                        # (h, broadcastable mixing weights)
    if mixing is not None:
        aq, ak = mixing
        for h in range(x.shape[1]):
            if aq is not None:
                terms.append((h, aq[:, h].unsqueeze(-1)))                   # (B, G, T, 1)
            if ak is not None:
                terms.append((h, ak[:, h].unsqueeze(-2)))                   # (B, G, 1, S)
    if bias is not None:
        out = torch.add(x, bias, out=out)
    elif terms:
        h, weights = terms.pop(0)
        out = torch.addcmul(x, x[:, h:h + 1], weights, out=out)
    elif out is None:
        return x
    else:
        return out.copy_(x)
    for h, weights in terms:
        out.addcmul_(x[:, h:h + 1], weights)
    return out


def _transposed(mixing: Optional[Mixing]) -> Optional[Mixing]:
    """The mixing of the adjoint map: swap source and target heads."""
    if mixing is None:
        return None
    aq, ak = (None if a is None else a.transpose(1, 2).contiguous() for a in mixing)
    return aq, ak


def _mixing_grads(x: Tensor, dy: Tensor, mixing: Mixing, work: Tensor) -> Mixing:
    """Gradients of y = mix(x) w.r.t. Aq, Ak: dAq[h, g, t] = sum_s x[h] dy[g], dAk[h, g, s] = sum_t.

    work: a scratch tensor shaped like x, overwritten.
    """
    aq, ak = mixing
    grad_aq = None if aq is None else torch.empty_like(aq)
    grad_ak = None if ak is None else torch.empty_like(ak)
    for h in range(x.shape[1]):
        prod = torch.mul(x[:, h:h + 1], dy, out=work)                       # (B, G, T, S)
        if grad_aq is not None:
            torch.sum(prod, dim=-1, out=grad_aq[:, h])
        if grad_ak is not None:
            torch.sum(prod, dim=-2, out=grad_ak[:, h])
    return grad_aq, grad_ak


def _pair(a: Optional[Tensor], b: Optional[Tensor]) -> Optional[Mixing]:
    return None if a is None and b is None else (a, b)


class _DCMHA(torch.autograd.Function):
    """Attention with pre/post head mixing. Inputs in the compute dtype; mixings as from _mixing.

    Allocates three [B, H, Tq, S] tensors in forward (all kept for backward) and two in backward.
    """

    @staticmethod
    def forward(ctx, q: Tensor, k: Tensor, v: Tensor, aq_pre: Optional[Tensor], ak_pre: Optional[Tensor],
                aq_post: Optional[Tensor], ak_post: Optional[Tensor], bias: Optional[Tensor]) -> Tensor:
        pre, post = _pair(aq_pre, ak_pre), _pair(aq_post, ak_post)
        scale = q.shape[-1] ** -0.5
        logits = torch.matmul(q, k.transpose(-1, -2)).mul_(scale)          # (B, H, Tq, S)
        if pre is None:
            probs = logits if bias is None else logits.add_(bias)
        else:
            probs = _mix(logits, pre, bias)
        torch.softmax(probs, dim=-1, out=probs)
        mixed = _mix(probs, post)                                          # (B, H, Tq, S)
        ctx.save_for_backward(q, k, v, None if pre is None else logits, probs, mixed,
                              aq_pre, ak_pre, aq_post, ak_post)
        ctx.scale = scale
        return torch.matmul(mixed, v)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out: Tensor):
        q, k, v, logits, probs, mixed, aq_pre, ak_pre, aq_post, ak_post = ctx.saved_tensors
        pre, post = _pair(aq_pre, ak_pre), _pair(aq_post, ak_post)
        grad_out = grad_out.contiguous()
        grad_mixed = torch.matmul(grad_out, v.transpose(-1, -2))           # (B, H, Tq, S)
        grad_v = torch.matmul(mixed.transpose(-1, -2), grad_out)
        grad_post = grad_pre = (None, None)
        grad_probs, spare = grad_mixed, None
        if post is not None:
            work = torch.empty_like(grad_mixed)
            grad_post = _mixing_grads(probs, grad_mixed, post, work)
            grad_probs, spare = _mix(grad_mixed, _transposed(post), out=work), grad_mixed
        torch.ops.aten._softmax_backward_data.out(grad_probs, probs, -1, probs.dtype,
                                                  grad_input=grad_probs)   # in place
        grad_logits = grad_probs
        if pre is not None:
            spare = torch.empty_like(grad_probs) if spare is None else spare
            grad_pre = _mixing_grads(logits, grad_probs, pre, spare)
            grad_logits = _mix(grad_probs, _transposed(pre), out=spare)
        grad_logits.mul_(ctx.scale)
        grad_q = torch.matmul(grad_logits, k)
        grad_k = torch.matmul(grad_logits.transpose(-1, -2), q)
        return grad_q, grad_k, grad_v, *grad_pre, *grad_post, None


def dcmha_torch(q: Tensor, k: Tensor, v: Tensor, pre: Optional[ComposeWeights],
                post: Optional[ComposeWeights], *, causal: bool = True,
                window: Optional[int] = None) -> Tensor:
    """DCMHA, same semantics as dcmha_reference, with a hand-written backward.

    q: [B, H, Tq, d]; k, v: [B, H, S, d] (queries are the last Tq of S positions); pre/post: the
    ComposeWeights of DCMHA.md (any field may be None). Returns [B, H, Tq, d] in v's dtype.
    """
    if q.dim() != 4 or k.shape != v.shape or k.dim() != 4 or q.shape[:2] != k.shape[:2] \
            or q.shape[-1] != k.shape[-1]:
        raise ValueError(f"expected q [B, H, Tq, d] and k, v [B, H, S, d]; got q {tuple(q.shape)}, "
                         f"k {tuple(k.shape)}, v {tuple(v.shape)}")
    dtype = compute_dtype(q, k, v)
    t_q, t_k = q.shape[2], k.shape[2]
    bias = None
    if causal or window is not None:
        keep = attention_mask(t_q, t_k, causal, window, device=q.device)
        bias = torch.zeros(t_q, t_k, dtype=dtype, device=q.device).masked_fill_(~keep, float("-inf"))
    batch = q.shape[0]
    pre_mix = _mixing(pre, t_q, t_k, batch, dtype)
    post_mix = _mixing(post, t_q, t_k, batch, dtype)
    out = _DCMHA.apply(q.to(dtype), k.to(dtype), v.to(dtype), *(pre_mix or (None, None)),
                       *(post_mix or (None, None)), bias)
    return out.to(v.dtype)
