"""DCMHA kernels: public API and dispatch (DESIGN.md, "Kernel API").

Imports only torch; the Triton implementation is loaded lazily so this package imports on machines
without triton or CUDA.
"""
from __future__ import annotations

from typing import Optional

from torch import Tensor

from .reference import ComposeWeights, attention_mask, compose, dcmha_reference
from .torch_dcmha import dcmha_torch

IMPLS = ("auto", "reference", "triton")


def triton_available() -> bool:
    """True when the Triton DCMHA kernels can be imported (they need triton; launching needs CUDA
    or TRITON_INTERPRET=1)."""
    try:
        from . import triton_dcmha  # noqa: F401
    except ImportError:
        return False
    return True


def dcmha_triton(q: Tensor, k: Tensor, v: Tensor, pre: Optional[ComposeWeights],
                 post: Optional[ComposeWeights], *, causal: bool = True,
                 window: Optional[int] = None) -> Tensor:
    """DCMHA through the fused Triton kernels (same semantics as dcmha_reference)."""
    try:
        from .triton_dcmha import dcmha_triton as impl
    except ImportError as e:
        raise RuntimeError(f"the Triton DCMHA kernels are not available here ({e}); "
                           "use attn_impl=reference") from None
    return impl(q, k, v, pre, post, causal=causal, window=window)


def dcmha(q: Tensor, k: Tensor, v: Tensor, pre: Optional[ComposeWeights],
          post: Optional[ComposeWeights], *, causal: bool = True, window: Optional[int] = None,
          impl: str = "auto") -> Tensor:
    """DCMHA with dispatch: impl 'auto' takes Triton for CUDA tensors when available, else the
    reference; 'reference' and 'triton' force one. Shapes as in dcmha_reference."""
    if impl not in IMPLS:
        raise ValueError(f"unknown DCMHA impl '{impl}': use one of {', '.join(IMPLS)}")
    use_triton = impl == "triton" or (impl == "auto" and q.is_cuda and triton_available())
    fn = dcmha_triton if use_triton else dcmha_reference if impl == "reference" else dcmha_torch
    return fn(q, k, v, pre, post, causal=causal, window=window)


__all__ = ["ComposeWeights", "attention_mask", "compose", "dcmha", "dcmha_reference",
           "dcmha_torch", "dcmha_triton", "triton_available"]
