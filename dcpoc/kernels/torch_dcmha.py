"""Fast pure-PyTorch DCMHA: same semantics as reference.dcmha_reference; what the CPU runs.

The trick: compose is linear in the head vector a at each (t, s), so all of one composition folds into
one H x H mixing matrix per query position plus one per key position,

    Aq[b, t] = I + static + sum_r qw1[b,t,r]^T qw2[b,t,r] + diag(qdd[b,t])     (query side)
    Ak[b, s] =              sum_r kw1[b,s,r]^T kw2[b,s,r] + diag(kdd[b,s])     (key side)
    a'[g] = sum_h a[h] (Aq[b,t,h,g] + Ak[b,s,h,g])

(the identity, the unmixed a, rides on whichever side is present). Building Aq, Ak is a few ops on
small [B, T, H, H] tensors that autograd differentiates as usual. The [B, H, Tq, S] work is one
autograd.Function with a hand-written backward in which mixing is 2H fused multiply-adds
(addcmul) over [B, H, Tq, S] that broadcast one head's scores against one row of Aq or Ak, the mask is
an additive bias folded into the first of them, and each gradient of Aq, Ak is a product and two sums:

    forward   L = (q / sqrt(d)) k^T;  P = softmax(mix(L) + bias);  P' = mix(P);  O = P' v
    backward  dP' = dO v^T;  dv = P'^T dO;  dAq = sum_s P dP', dAk = sum_t P dP';  dP = mix^T(dP')
              dL' = softmax_backward(dP, P);  dA(pre) from L, dL';  dL = mix^T(dL');  dq, dk from dL

mix^T mixes with the transposed matrices. Masked positions have P = 0, so they stay exactly 0 after
post-mixing and get no gradient, as in the reference (for finite inputs the bias is exactly its
masked_fill of the composed logits). Saved for backward: q, k, v, Aq, Ak, L, P, P'; the backward
allocates two more [B, H, Tq, S] tensors and writes everything else in place.

On the CPU the mixing passes (forward, and the backward with the softmax's) run as compose_cpu's C++
kernels when they build: the same forward bits, gradients equal up to reassociation, masked keys
skipped; the mask then lives in the kernel instead of the bias. DCPOC_CPU_COMPOSE_KERNEL=0 or no
compiler: the torch ops above.

Under the causal mask the queries are cut into blocks of at least MIN_BLOCK_ROWS rows, each run as its
own problem over only the keys it can see (compose is pointwise in (t, s), so this is exact): two
blocks skip a quarter of the [Tq, S] work, eight nearly half.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from .compose_cpu import compose_kernel
from .reference import ComposeWeights, attention_mask, compute_dtype

# (Aq [B, H, G, Tq], Ak [B, H, G, S]) of one composition, H = source head, G = target head;
# either may be None (no term on that side), not both.
Mixing = tuple[Optional[Tensor], Optional[Tensor]]

MIN_BLOCK_ROWS = 64     # query rows per block at least: smaller blocks cost more in op overhead
MAX_BLOCKS = 8


def _side_matrix(w1: Optional[Tensor], w2: Optional[Tensor], gate: Optional[Tensor],
                 dtype: torch.dtype) -> Optional[Tensor]:
    """Sum of one side's dynamic terms as per-position matrices [B, T, H, G]; None if none is given.

    w1, w2: [B, T, R, H] (low-rank: sum_r w1[r]^T w2[r]); gate: [B, T, H] (diagonal).
    """
    if (w1 is None) != (w2 is None):
        raise ValueError("the low-rank pair (w1, w2) of ComposeWeights must be given together")
    matrix = None
    if w1 is not None:
        matrix = torch.matmul(w1.to(dtype).transpose(-1, -2), w2.to(dtype))      # (B, T, H, G)
    if gate is not None:
        diag = torch.diag_embed(gate.to(dtype))
        matrix = diag if matrix is None else matrix + diag
    return matrix


def _mixing(w: Optional[ComposeWeights], batch: int, t_q: int, dtype: torch.dtype) -> Optional[Mixing]:
    """(Aq, Ak) of one composition, identity included; None when w is None or has no term."""
    if w is None:
        return None
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


class _SideMatrix(torch.autograd.Function):
    """One side's mixing matrices [B, H, G, positions] by compose_cpu: the low-rank product (w1, w2
    [B, T, R, H]), the gate [B, T, H], the static [H, H] and the identity (eye), any may be absent;
    the same bits as _mixing's torch ops."""

    @staticmethod
    def forward(ctx, kernel, w1: Optional[Tensor], w2: Optional[Tensor], gate: Optional[Tensor],
                static: Optional[Tensor], eye: bool, batch: int, positions: int, heads: int) -> Tensor:
        empty = torch.empty(0)
        ctx.kernel, ctx.flags = kernel, (gate is not None, static is not None)
        ctx.save_for_backward(w1, w2)
        return kernel.side_forward(*(empty if x is None else x for x in (w1, w2, gate, static)), eye,
                                   batch, positions, heads)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor):
        w1, w2 = ctx.saved_tensors
        empty = grad.new_empty(0)
        grads = ctx.kernel.side_backward(grad.contiguous(), empty if w1 is None else w1,
                                         empty if w2 is None else w2, *ctx.flags)
        present = (w1 is not None, w2 is not None, *ctx.flags)
        return None, *(g if on else None for g, on in zip(grads, present)), None, None, None, None


def _mixing_cpp(w: Optional[ComposeWeights], batch: int, t_q: int, dtype: torch.dtype,
                kernel) -> Optional[Mixing]:
    """_mixing by compose_cpu's side_forward: (Aq, Ak), identity included; None when w has no term."""
    if w is None:
        return None
    for w1, w2 in ((w.qw1, w.qw2), (w.kw1, w.kw2)):
        if (w1 is None) != (w2 is None):
            raise ValueError("the low-rank pair (w1, w2) of ComposeWeights must be given together")
    cast = lambda x: None if x is None else x.to(dtype).contiguous()  # noqa: E731
    fields = [cast(x) for x in w]
    qw1, qw2, kw1, kw2, qdd, kdd, static = fields
    present = [x for x in fields if x is not None]
    if not present:
        return None
    heads = present[0].shape[-1]
    has_q = qw1 is not None or qdd is not None or static is not None
    has_k = kw1 is not None or kdd is not None
    aq = _SideMatrix.apply(kernel, qw1, qw2, qdd, static, True, batch, t_q, heads) if has_q else None
    ak = None
    if has_k:
        t_k = (kw1 if kw1 is not None else kdd).shape[1]
        ak = _SideMatrix.apply(kernel, kw1, kw2, kdd, None, not has_q, batch, t_k, heads)
    return aq, ak


def _mix(x: Tensor, mixing: Mixing, bias: Optional[Tensor] = None,
         out: Optional[Tensor] = None) -> Tensor:
    """out[:, g] = sum_h x[:, h] (Aq[:, h, g] + Ak[:, h, g]) (+ bias); x, out [B, H, T, S].

    out, when given, must not overlap x.
    """
    terms = []                                                # one head's scores x one mixing row
    aq, ak = mixing
    for h in range(x.shape[1]):
        if aq is not None:
            terms.append((h, aq[:, h].unsqueeze(-1)))                       # (B, G, T, 1)
        if ak is not None:
            terms.append((h, ak[:, h].unsqueeze(-2)))                       # (B, G, 1, S)
    h, weights = terms[0]
    if bias is None:
        out = torch.mul(x[:, h:h + 1], weights, out=out)
    else:
        out = torch.addcmul(bias, x[:, h:h + 1], weights, out=out)
    for h, weights in terms[1:]:
        out.addcmul_(x[:, h:h + 1], weights)
    return out


def _transposed(mixing: Mixing) -> Mixing:
    """The mixing of the adjoint map: source and target heads swapped."""
    aq, ak = (None if m is None else m.transpose(1, 2).contiguous() for m in mixing)
    return aq, ak


def _mixing_grads(x: Tensor, grad_y: Tensor, mixing: Mixing, work: Tensor) -> Mixing:
    """Gradients of y = mix(x) w.r.t. (Aq, Ak): sums of x[:, h] * grad_y[:, g] over s and over t.

    x, grad_y [B, H, T, S]; work: scratch of the same shape, overwritten.
    """
    aq, ak = mixing
    grad_aq = None if aq is None else torch.empty_like(aq)
    grad_ak = None if ak is None else torch.empty_like(ak)
    for h in range(x.shape[1]):
        prod = torch.mul(x[:, h:h + 1], grad_y, out=work)                   # (B, G, T, S)
        if grad_aq is not None:
            torch.sum(prod, dim=-1, out=grad_aq[:, h])
        if grad_ak is not None:
            torch.sum(prod, dim=-2, out=grad_ak[:, h])
    return grad_aq, grad_ak


def _pair(aq: Optional[Tensor], ak: Optional[Tensor]) -> Optional[Mixing]:
    return None if aq is None and ak is None else (aq, ak)


def _cpp(x: Tensor, mixing: Mixing) -> tuple[Tensor, Tensor]:
    """A mixing as compose_cpu takes it: contiguous, an empty tensor for an absent side."""
    return tuple(x.new_empty(0) if m is None else m.contiguous() for m in mixing)


class _DCMHA(torch.autograd.Function):
    """Attention with pre/post head mixing; tensors in the compute dtype, mixings from _mixing.

    mask: (causal, window or -1), the mask that bias adds; `kernel` is compose_cpu's module or None
    (then the torch ops mix). Both paths give the same forward bits; backwards agree to rounding.
    """

    @staticmethod
    def forward(ctx, q: Tensor, k: Tensor, v: Tensor, aq_pre: Optional[Tensor], ak_pre: Optional[Tensor],
                aq_post: Optional[Tensor], ak_post: Optional[Tensor], bias: Optional[Tensor],
                mask: tuple[bool, int], kernel) -> Tensor:
        pre, post = _pair(aq_pre, ak_pre), _pair(aq_post, ak_post)
        scale = q.shape[-1] ** -0.5
        logits = torch.matmul(q * scale, k.transpose(-1, -2))              # (B, H, Tq, S)
        ctx.mask, ctx.kernel = mask, kernel
        if kernel is not None:
            return _DCMHA._forward_cpp(ctx, q, k, v, logits, pre, post, bias, scale)
        if pre is not None:
            probs = _mix(logits, pre, bias)
        elif bias is not None:
            probs = logits.add_(bias)
        else:
            probs = logits
        torch.softmax(probs, dim=-1, out=probs)
        mixed = probs if post is None else _mix(probs, post)
        ctx.save_for_backward(q, k, v, logits if pre is not None else None, probs, mixed,
                              aq_pre, ak_pre, aq_post, ak_post)
        ctx.scale = scale
        return torch.matmul(mixed, v)

    @staticmethod
    def _forward_cpp(ctx, q: Tensor, k: Tensor, v: Tensor, logits: Tensor, pre: Optional[Mixing],
                     post: Optional[Mixing], bias: Optional[Tensor], scale: float) -> Tensor:
        """forward with compose_cpu's one-pass mixing; saves the mixings contiguous."""
        pre, post = (None if m is None else tuple(None if x is None else x.contiguous() for x in m)
                     for m in (pre, post))
        if pre is not None:
            probs = ctx.kernel.mix_forward(logits, *_cpp(logits, pre), *ctx.mask, float("-inf"))
        elif bias is not None:
            probs = logits.add_(bias)
        else:
            probs = logits
        torch.softmax(probs, dim=-1, out=probs)
        mixed = probs if post is None else ctx.kernel.mix_forward(probs, *_cpp(probs, post),
                                                                  *ctx.mask, 0.0)
        ctx.save_for_backward(q, k, v, logits if pre is not None else None, probs, mixed,
                              *(pre or (None, None)), *(post or (None, None)))
        ctx.scale = scale
        return torch.matmul(mixed, v)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out: Tensor):
        with torch.autocast(grad_out.device.type, enabled=False):      # float32 stays float32
            if ctx.kernel is not None:
                return _DCMHA._backward_cpp(ctx, grad_out)
            return _DCMHA._backward(ctx, grad_out)

    @staticmethod
    def _backward_cpp(ctx, grad_out: Tensor):
        """_backward with compose_cpu: one kernel per composition, the softmax's folded into post's."""
        q, k, v, logits, probs, mixed, aq_pre, ak_pre, aq_post, ak_post = ctx.saved_tensors
        grad = torch.matmul(grad_out, v.transpose(-1, -2))                 # dP', then dL', dL in place
        grad_v = torch.matmul(mixed.transpose(-1, -2), grad_out)
        # row chunks per batch row: enough parallel work at small batches, independent of the threads
        chunks, empty = -(-16 // q.shape[0]), grad.new_empty(0)
        grad_pre = grad_post = (None, None)
        if aq_post is not None or ak_post is not None:
            grad_post = ctx.kernel.mix_backward(probs, grad, *_cpp(grad, (aq_post, ak_post)), probs,
                                                *ctx.mask, chunks)
        else:
            torch.ops.aten._softmax_backward_data.out(grad, probs, -1, probs.dtype, grad_input=grad)
        if logits is not None:
            grad_pre = ctx.kernel.mix_backward(logits, grad, *_cpp(grad, (aq_pre, ak_pre)), empty,
                                               *ctx.mask, chunks)
        grad_pre, grad_post = ([None if m is None else g for m, g in zip(ms, gs)] for ms, gs in
                               (((aq_pre, ak_pre), grad_pre), ((aq_post, ak_post), grad_post)))
        grad_q = torch.matmul(grad, k).mul_(ctx.scale)
        grad_k = torch.matmul(grad.transpose(-1, -2), q).mul_(ctx.scale)
        return grad_q, grad_k, grad_v, *grad_pre, *grad_post, None, None, None

    @staticmethod
    def _backward(ctx, grad_out: Tensor):
        q, k, v, logits, probs, mixed, aq_pre, ak_pre, aq_post, ak_post = ctx.saved_tensors
        pre, post = _pair(aq_pre, ak_pre), _pair(aq_post, ak_post)
        grad_mixed = torch.matmul(grad_out, v.transpose(-1, -2))           # (B, H, Tq, S)
        grad_v = torch.matmul(mixed.transpose(-1, -2), grad_out)
        grad_pre = grad_post = (None, None)
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
        grad_q = torch.matmul(grad_logits, k).mul_(ctx.scale)
        grad_k = torch.matmul(grad_logits.transpose(-1, -2), q).mul_(ctx.scale)
        return grad_q, grad_k, grad_v, *grad_pre, *grad_post, None, None, None


def _query_blocks(t_q: int, t_k: int, causal: bool, window: Optional[int]
                  ) -> list[tuple[int, int, int, int]]:
    """Split the queries into blocks (i0, i1, s0, s1): query rows [i0, i1) see only keys [s0, s1).

    Under the causal mask a block needs no key after its last query (nor, with a window, before
    its first query's window), so the blocks skip about a quarter (2 blocks) to a half (many) of
    the [Tq, S] work. Each block is the same problem with its queries at the last positions.
    """
    if not causal or t_q < 2 * MIN_BLOCK_ROWS or t_q > t_k or (window is not None and window < 1):
        return [(0, t_q, 0, t_k)]
    n_blocks = min(t_q // MIN_BLOCK_ROWS, MAX_BLOCKS)
    edges = [round(i * t_q / n_blocks) for i in range(n_blocks + 1)]
    first = t_k - t_q                                         # position of query row 0
    return [(i0, i1, 0 if window is None else max(0, first + i0 - window + 1), first + i1)
            for i0, i1 in zip(edges, edges[1:])]


def _positions(matrices: Optional[Tensor], start: int, stop: int) -> Optional[Tensor]:
    """The mixing matrices [B, H, G, T] of positions [start, stop), or None."""
    return None if matrices is None else matrices[..., start:stop]


def _mask_bias(t_q: int, t_k: int, causal: bool, window: Optional[int], dtype: torch.dtype,
               device: torch.device) -> Optional[Tensor]:
    """Additive mask [Tq, S]: 0 where attention_mask keeps, -inf elsewhere; None if nothing is masked."""
    if not causal and window is None:
        return None
    keep = attention_mask(t_q, t_k, causal, window, device=device)
    return torch.zeros(t_q, t_k, dtype=dtype, device=device).masked_fill_(~keep, float("-inf"))


def dcmha_torch(q: Tensor, k: Tensor, v: Tensor, pre: Optional[ComposeWeights],
                post: Optional[ComposeWeights], *, causal: bool = True,
                window: Optional[int] = None) -> Tensor:
    """DCMHA with the semantics of dcmha_reference, faster (see the module docstring).

    q: [B, H, Tq, d]; k, v: [B, H, S, d] (queries are the last Tq of the S positions); pre, post:
    ComposeWeights (DCMHA.md; any field may be None) or None. Computes in float32, or float64 for
    float64 inputs; returns [B, H, Tq, d] in v's dtype. Not twice differentiable.
    """
    if q.dim() != 4 or k.dim() != 4 or k.shape != v.shape or q.shape[:2] != k.shape[:2] \
            or q.shape[-1] != k.shape[-1]:
        raise ValueError(f"expected q [B, H, Tq, d] and k, v [B, H, S, d]; got q {tuple(q.shape)}, "
                         f"k {tuple(k.shape)}, v {tuple(v.shape)}")
    dtype, out_dtype = compute_dtype(q, k, v), v.dtype
    batch, t_q, t_k = q.shape[0], q.shape[2], k.shape[2]
    with torch.autocast(q.device.type, enabled=False):                 # compute in dtype, as specified
        q, k, v = q.to(dtype), k.to(dtype), v.to(dtype)
        kernel = compose_kernel() if q.device.type == "cpu" else None
        if kernel is not None:
            aq_pre, ak_pre = _mixing_cpp(pre, batch, t_q, dtype, kernel) or (None, None)
            aq_post, ak_post = _mixing_cpp(post, batch, t_q, dtype, kernel) or (None, None)
        else:
            aq_pre, ak_pre = _mixing(pre, batch, t_q, dtype) or (None, None)
            aq_post, ak_post = _mixing(post, batch, t_q, dtype) or (None, None)
        mask = (causal, -1 if window is None else window)
        outs = []
        for i0, i1, s0, s1 in _query_blocks(t_q, t_k, causal, window):
            kernel_masks = kernel is not None and (aq_pre is not None or ak_pre is not None)
            bias = None if kernel_masks else _mask_bias(i1 - i0, s1 - s0, causal, window, dtype,
                                                        q.device)
            outs.append(_DCMHA.apply(q[:, :, i0:i1], k[:, :, s0:s1], v[:, :, s0:s1],
                                     _positions(aq_pre, i0, i1), _positions(ak_pre, s0, s1),
                                     _positions(aq_post, i0, i1), _positions(ak_post, s0, s1), bias,
                                     mask, kernel))
        out = outs[0] if len(outs) == 1 else torch.cat(outs, dim=2)
        return out.to(out_dtype)
