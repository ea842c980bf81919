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
masked_fill of the composed logits). Saved for backward: q (scaled), k, v, Aq, Ak and each block's
L, P, P' (kept only when a backward will follow); the backward allocates one or two more
[B, H, Tq, S] tensors per block and writes everything else in place.

On the CPU the mixing passes (forward, and the backward with the softmax's) run as compose_cpu's C++
kernels when they build: the same forward bits, gradients equal up to reassociation, masked keys
skipped; the mask then lives in the kernel instead of the bias. So do a layer's mixing matrices (one
call for every side) and the model's split of its dynamic weights (both in mixing.py).
DCPOC_CPU_COMPOSE_KERNEL=0 or no compiler: the torch ops above.

Under the causal mask the queries are cut into blocks of at least MIN_BLOCK_ROWS rows, each run as its
own problem over only the keys it can see (compose is pointwise in (t, s), so this is exact): two
blocks skip a quarter of the [Tq, S] work, four three eighths, eight nearly half. One autograd Function
runs all blocks, each reading the whole-sequence mixings and inputs in place and writing its share
of their gradients, so blocks cost no slicing, concatenation or accumulation through autograd; at
cpu-demo (T = 128, 2026-12-06, paired training steps) four blocks of 32 rows were as fast as two of 64
or up to 3% faster (4 of 5 pairs), eight of 16 about 8% slower.
"""
from __future__ import annotations

from typing import NamedTuple, Optional

import torch
from torch import Tensor

from .compose_cpu import compose_kernel
from .mixing import Mixing, build_mixing, build_mixings_cpp, or_empty
from .reference import ComposeWeights, attention_mask, compute_dtype


MIN_BLOCK_ROWS = 32     # query rows per block at least: smaller blocks cost more in op overhead
MAX_BLOCKS = 8


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


def _transposed(mixing: Optional[Mixing]) -> Optional[Mixing]:
    """The mixing of the adjoint map: source and target heads swapped."""
    if mixing is None:
        return None
    aq, ak = (None if m is None else m.transpose(1, 2).contiguous() for m in mixing)
    return aq, ak


class Block(NamedTuple):
    """Query rows [i0, i1) that see only keys [s0, s1) (_query_blocks)."""
    i0: int
    i1: int
    s0: int
    s1: int


def _at_block(mixing: Optional[Mixing], block: Block) -> Optional[Mixing]:
    """Views of a whole-sequence mixing at one block's positions: query rows, then keys."""
    if mixing is None:
        return None
    aq, ak = mixing
    return (None if aq is None else aq[..., block.i0:block.i1],
            None if ak is None else ak[..., block.s0:block.s1])


def _add_mixing_grads(x: Tensor, grad_y: Tensor, grads: Mixing, block: Block, work: Tensor) -> None:
    """Gradients of a block's y = mix(x) w.r.t. (Aq, Ak): sums of x[:, h] * grad_y[:, g] over s,
    written to the block's query rows of grad Aq, and over t, added to its keys of grad Ak.

    x, grad_y, work [B, H, Tq, S] (work: scratch, overwritten); grads: whole-sequence [B, H, G, T].
    """
    grad_aq, grad_ak = grads
    for h in range(x.shape[1]):
        prod = torch.mul(x[:, h:h + 1], grad_y, out=work)                   # (B, G, Tq, S)
        if grad_aq is not None:
            torch.sum(prod, dim=-1, out=grad_aq[:, h, :, block.i0:block.i1])
        if grad_ak is not None:
            grad_ak[:, h, :, block.s0:block.s1] += prod.sum(dim=-2)


def _add_keys(total: Optional[Tensor], like: Tensor, block: Block, value: Tensor) -> Tensor:
    """total[:, :, s0:s1] += value for a block's keys; total starts as the first value when that
    block sees every key of `like` [B, H, S, d], else as zeros."""
    if total is None and block.s0 == 0 and block.s1 == like.shape[2]:
        return value
    total = torch.zeros_like(like) if total is None else total
    total[:, :, block.s0:block.s1] += value
    return total


def _pair(aq: Optional[Tensor], ak: Optional[Tensor]) -> Optional[Mixing]:
    return None if aq is None and ak is None else (aq, ak)


def _cpp(x: Tensor, mixing: Optional[Mixing]) -> tuple[Tensor, Tensor]:
    """A mixing (or its gradients) as compose_cpu takes it: an empty tensor for an absent side."""
    return tuple(or_empty(mixing or (None, None), x))


class _DCMHA(torch.autograd.Function):
    """Attention with pre/post head mixing, one query block after another (_query_blocks).

    Tensors in the compute dtype; the mixings are build_mixing's, contiguous, over the whole sequence (a
    block reads its positions in place). mask: (causal, window or -1). kernel: compose_cpu's module,
    or None: then the torch ops mix and the mask is an additive bias. Both paths give the same
    forward bits; backwards agree to rounding. One Function for all blocks, so that no block
    slices, concatenates or accumulates its inputs' gradients through autograd.
    """

    @staticmethod
    def forward(ctx, q: Tensor, k: Tensor, v: Tensor, aq_pre: Optional[Tensor], ak_pre: Optional[Tensor],
                aq_post: Optional[Tensor], ak_post: Optional[Tensor], blocks: list[Block],
                mask: tuple[bool, int], kernel, keep: bool) -> Tensor:
        """keep: whether a backward will follow (else no block's scores outlive the block)."""
        pre, post = _pair(aq_pre, ak_pre), _pair(aq_post, ak_post)
        ctx.blocks, ctx.mask, ctx.kernel, ctx.scale = blocks, mask, kernel, q.shape[-1] ** -0.5
        q = q * ctx.scale                                   # once, not per block; saved scaled
        outs = []
        ctx.scores = []   # per block (logits or None, probs, mixed): intermediates, so kept on ctx
        for block in blocks:
            logits, probs, mixed = _DCMHA._scores(ctx, q, k, block, pre, post)
            # (matmul's out= on a block's rows would fall back to one product per (b, h))
            outs.append(torch.matmul(mixed, v[:, :, block.s0:block.s1]))      # (B, H, Tq', d)
            if keep:
                ctx.scores.append((logits if pre is not None else None, probs, mixed))
        ctx.save_for_backward(q, k, v, aq_pre, ak_pre, aq_post, ak_post)
        return outs[0] if len(outs) == 1 else torch.cat(outs, dim=2)

    @staticmethod
    def _scores(ctx, q: Tensor, k: Tensor, block: Block, pre: Optional[Mixing],
                post: Optional[Mixing]) -> tuple[Tensor, Tensor, Tensor]:
        """One block's logits L, probabilities P = softmax(mix_pre(L) + mask), P' = mix_post(P)."""
        kernel, (causal, window) = ctx.kernel, ctx.mask
        logits = torch.matmul(q[:, :, block.i0:block.i1],          # q scaled by 1/sqrt(d)
                              k[:, :, block.s0:block.s1].transpose(-1, -2))  # (B, H, Tq', S')
        if kernel is not None and pre is not None:                      # the kernel masks
            probs = kernel.mix_forward(logits, *_cpp(logits, pre), block.i0, block.s0, *ctx.mask,
                                       float("-inf"))
        else:
            bias = _mask_bias(block.i1 - block.i0, block.s1 - block.s0, causal,
                              None if window < 0 else window, logits.dtype, logits.device)
            if pre is not None:
                probs = _mix(logits, _at_block(pre, block), bias)
            else:
                probs = logits if bias is None else logits.add_(bias)
        torch.softmax(probs, dim=-1, out=probs)
        if post is None:
            mixed = probs
        elif kernel is not None:
            mixed = kernel.mix_forward(probs, *_cpp(probs, post), block.i0, block.s0, *ctx.mask, 0.0)
        else:
            mixed = _mix(probs, _at_block(post, block))
        return logits, probs, mixed

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out: Tensor):
        with torch.autocast(grad_out.device.type, enabled=False):      # float32 stays float32
            if ctx.scores is None:
                raise RuntimeError("dcmha_torch's backward ran twice over one forward: the scores "
                                   "are freed after the first (retain_graph is not supported)")
            q, k, v, *mixings = ctx.saved_tensors               # q scaled by 1/sqrt(d)
            pre, post = _pair(*mixings[:2]), _pair(*mixings[2:])
            grad_out = grad_out.contiguous()     # else each block's products copy their slices
            grad_q, grad_k, grad_v = torch.empty_like(q), None, None
            # query-side rows: each written by its block; key side: summed over blocks
            grads = [None if m is None else torch.empty_like(m) if i % 2 == 0 else torch.zeros_like(m)
                     for i, m in enumerate(mixings)]
            grad_pre, grad_post = _pair(*grads[:2]), _pair(*grads[2:])
            pre_t, post_t = (None, None) if ctx.kernel is not None else map(_transposed, (pre, post))
            # the last block first: without a window it sees every key and starts the sums of dK, dV
            for block, scores in reversed(list(zip(ctx.blocks, ctx.scores))):
                qb, kb = q[:, :, block.i0:block.i1], k[:, :, block.s0:block.s1]
                grad_out_b = grad_out[:, :, block.i0:block.i1]
                grad_v = _add_keys(grad_v, v, block, torch.matmul(scores[2].transpose(-1, -2), grad_out_b))
                grad = torch.matmul(grad_out_b, v[:, :, block.s0:block.s1].transpose(-1, -2))   # dP'
                if ctx.kernel is not None:
                    grad = _DCMHA._scores_backward_cpp(ctx, block, scores, grad, pre, post, grad_pre,
                                                       grad_post)
                else:
                    grad = _DCMHA._scores_backward(block, scores, grad, pre_t, post_t, grad_pre,
                                                   grad_post)
                torch.mul(torch.matmul(grad, kb), ctx.scale, out=grad_q[:, :, block.i0:block.i1])
                grad_k = _add_keys(grad_k, k, block, torch.matmul(grad.transpose(-1, -2), qb))
            ctx.scores = None
            return grad_q, grad_k, grad_v, *grads, None, None, None, None

    @staticmethod
    def _scores_backward_cpp(ctx, block: Block, scores: tuple, grad: Tensor, pre: Optional[Mixing],
                             post: Optional[Mixing], grad_pre: Optional[Mixing],
                             grad_post: Optional[Mixing]) -> Tensor:
        """dL of one block from dP' (overwritten) by compose_cpu: one kernel per composition, the
        softmax's backward folded into post's; the mixings' gradients land in grad_pre, grad_post."""
        logits, probs, _ = scores
        # row chunks per batch row: enough parallel work at small batches, independent of the threads
        chunks, offsets = -(-16 // grad.shape[0]), (block.i0, block.s0)
        if post is not None:
            ctx.kernel.mix_backward(probs, grad, *_cpp(grad, post), probs, *offsets, *ctx.mask, chunks,
                                    *_cpp(grad, grad_post))
        else:
            torch.ops.aten._softmax_backward_data.out(grad, probs, -1, probs.dtype, grad_input=grad)
        if logits is not None:
            ctx.kernel.mix_backward(logits, grad, *_cpp(grad, pre), grad.new_empty(0), *offsets,
                                    *ctx.mask, chunks, *_cpp(grad, grad_pre))
        return grad

    @staticmethod
    def _scores_backward(block: Block, scores: tuple, grad_mixed: Tensor, pre_t: Optional[Mixing],
                         post_t: Optional[Mixing], grad_pre: Optional[Mixing],
                         grad_post: Optional[Mixing]) -> Tensor:
        """dL of one block from dP' by the torch ops; pre_t, post_t: the transposed mixings."""
        logits, probs, _ = scores
        grad_probs, spare = grad_mixed, None
        if post_t is not None:
            work = torch.empty_like(grad_mixed)
            _add_mixing_grads(probs, grad_mixed, grad_post, block, work)
            grad_probs, spare = _mix(grad_mixed, _at_block(post_t, block), out=work), grad_mixed
        torch.ops.aten._softmax_backward_data.out(grad_probs, probs, -1, probs.dtype,
                                                  grad_input=grad_probs)   # in place
        if logits is None:
            return grad_probs
        spare = torch.empty_like(grad_probs) if spare is None else spare
        _add_mixing_grads(logits, grad_probs, grad_pre, block, spare)
        return _mix(grad_probs, _at_block(pre_t, block), out=spare)


def _query_blocks(t_q: int, t_k: int, causal: bool, window: Optional[int]) -> list[Block]:
    """Split the queries into blocks: query rows [i0, i1) see only keys [s0, s1).

    Under the causal mask a block needs no key after its last query (nor, with a window, before
    its first query's window), so the blocks skip about a quarter (2 blocks) to a half (many) of
    the [Tq, S] work. Each block is the same problem with its queries at the last positions.
    """
    if not causal or t_q < 2 * MIN_BLOCK_ROWS or t_q > t_k or (window is not None and window < 1):
        return [Block(0, t_q, 0, t_k)]
    n_blocks = min(t_q // MIN_BLOCK_ROWS, MAX_BLOCKS)
    edges = [round(i * t_q / n_blocks) for i in range(n_blocks + 1)]
    first = t_k - t_q                                         # position of query row 0
    return [Block(i0, i1, 0 if window is None else max(0, first + i0 - window + 1), first + i1)
            for i0, i1 in zip(edges, edges[1:])]


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
        # contiguous once, else each block's products copy their slices (v arrives permuted)
        q, k, v = (x.to(dtype).contiguous() for x in (q, k, v))
        kernel = compose_kernel() if q.device.type == "cpu" else None
        if kernel is None:
            mixings = [build_mixing(w, batch, t_q, dtype) for w in (pre, post)]
        else:
            mixings = build_mixings_cpp((pre, post), batch, t_q, dtype, kernel)
        (aq_pre, ak_pre), (aq_post, ak_post) = (m or (None, None) for m in mixings)
        mask = (causal, -1 if window is None else window)
        inputs = (q, k, v, aq_pre, ak_pre, aq_post, ak_post)
        keep = torch.is_grad_enabled() and any(x is not None and x.requires_grad for x in inputs)
        out = _DCMHA.apply(*inputs, _query_blocks(t_q, t_k, causal, window), mask, kernel, keep)
        return out.to(out_dtype)
