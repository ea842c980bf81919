"""DCMHA kernels: public API and dispatch (DESIGN.md, "Kernel API").

Imports only torch; the Triton implementation is loaded lazily so this package imports on machines
without triton or CUDA.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from .reference import ComposeWeights, attention_mask, compose, dcmha_reference
from .mixing import dynamic_fields
from .torch_dcmha import dcmha_torch
from .decode import compose_decode, dcmha_decode

IMPLS = ("auto", "torch", "reference", "triton")


def triton_available() -> bool:
    """True when the Triton DCMHA kernels can be imported (they need triton; launching needs CUDA
    or TRITON_INTERPRET=1)."""
    try:
        from . import triton_dcmha  # noqa: F401
    except ImportError:
        return False
    return True


def triton_supports(q: Tensor, k: Tensor, pre: Optional[ComposeWeights],
                    post: Optional[ComposeWeights]) -> bool:
    """Whether the fused kernels take these inputs (self-attention, float32/bf16, their head-dim,
    head-count and rank ranges); auto dispatch falls back to dcmha_torch otherwise."""
    from .triton_dcmha import HEAD_DIMS, MAX_HEADS, MAX_RANK
    import torch
    ranks = [w.shape[2] for c in (pre, post) if c is not None for w in (c.qw1, c.kw1) if w is not None]
    return (q.dtype in (torch.float32, torch.bfloat16) and q.shape == k.shape
            and HEAD_DIMS[0] <= q.shape[-1] <= HEAD_DIMS[1] and 1 <= q.shape[1] <= MAX_HEADS
            and all(r <= MAX_RANK for r in ranks))


def dcmha_triton(q: Tensor, k: Tensor, v: Tensor, pre: Optional[ComposeWeights],
                 post: Optional[ComposeWeights], *, causal: bool = True,
                 window: Optional[int] = None) -> Tensor:
    """DCMHA through the fused Triton kernels (same semantics as dcmha_reference)."""
    try:
        from .triton_dcmha import dcmha_triton as impl
    except ImportError as e:
        raise RuntimeError(f"the Triton DCMHA kernels are not available here ({e}); "
                           "use attn_impl=torch") from None
    return impl(q, k, v, pre, post, causal=causal, window=window)


# compile=true compiles the model around DCMHA: Dynamo cannot trace the C++ and Triton kernels
# (on the CPU every DCFormer run failed inside Inductor), so they run as they are, between graphs
@torch.compiler.disable
def dcmha(q: Tensor, k: Tensor, v: Tensor, pre: Optional[ComposeWeights],
          post: Optional[ComposeWeights], *, causal: bool = True, window: Optional[int] = None,
          impl: str = "auto") -> Tensor:
    """DCMHA with dispatch: impl 'auto' takes Triton for CUDA tensors when available, else
    dcmha_torch (the fast PyTorch path); 'torch', 'reference' (the spec) and 'triton' force one.
    Shapes as in dcmha_reference."""
    if impl not in IMPLS:
        raise ValueError(f"unknown DCMHA impl '{impl}': use one of {', '.join(IMPLS)}")
    use_triton = impl == "triton" or (impl == "auto" and q.is_cuda and triton_available()
                                      and triton_supports(q, k, pre, post))
    fn = dcmha_triton if use_triton else dcmha_reference if impl == "reference" else dcmha_torch
    return fn(q, k, v, pre, post, causal=causal, window=window)


__all__ = ["ComposeWeights", "attention_mask", "compose", "dcmha", "dcmha_reference",
           "compose_decode", "dcmha_decode", "dcmha_torch", "dcmha_triton", "dynamic_fields",
           "triton_available", "triton_supports"]
