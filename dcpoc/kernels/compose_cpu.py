"""The C++ kernels that torch_dcmha uses on the CPU (source: compose_cpu.cpp beside this).

On a CPU at small sizes, DCMHA's extra time is mostly passes over the [B, H, T, S] scores and small
ops: the torch ops mix the heads with 2H broadcast multiply-adds per composition and differentiate
them with about 3H more. Here, two functions do each composition's forward in one pass and its
backward (with the softmax backward fused into the post-composition's) in one pass per query row,
touching only the keys the mask keeps; two build every side's per-position H x H mixing matrices of
a layer in one call and differentiate them (torch's matmul over B*T batches of R x H matrices is
slow); two split the dynamic weights into w1 (RMS-normalised) and w2 in one pass each way. All use
torch's intra-op threads (at::parallel_for).

Built once per machine with torch.utils.cpp_extension (under a minute, cached; needs g++ and ninja),
like the decode kernel. Without a compiler, or with DCPOC_CPU_COMPOSE_KERNEL=0, torch_dcmha runs its
torch ops instead (the same semantics; tests hold both to the reference).
"""
from __future__ import annotations

import functools
import os
from pathlib import Path
from types import ModuleType
from typing import Optional

from .cpp_build import build

_SOURCE = Path(__file__).with_name("compose_cpu.cpp")
ENV_SWITCH = "DCPOC_CPU_COMPOSE_KERNEL"
# -ffp-contract=off: no implicit fused multiply-add, so the forward rounds like the torch ops it
# replaces; their AVX2/AVX-512 kernels do fuse addcmul, so on such machines the source fuses it too.
_CFLAGS = ["-O3", "-ffp-contract=off", "-fopenmp", "-Wno-psabi"]  # psabi: vector types stay internal
_FMA_CFLAGS = ["-mavx2", "-mfma"]


def _variant() -> tuple[str, list[str]]:
    """Extension name and flags for this CPU: the name differs per instruction set, so that a build
    cache shared by different machines never hands one a binary its CPU cannot run."""
    import torch
    if torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512"):
        return "dcpoc_compose_fma", _CFLAGS + _FMA_CFLAGS
    return "dcpoc_compose", _CFLAGS


def compose_kernel_enabled() -> bool:
    """False when DCPOC_CPU_COMPOSE_KERNEL=0 asks for the torch ops."""
    return os.environ.get(ENV_SWITCH, "1") != "0"


def compose_kernel() -> Optional[ModuleType]:
    """The compiled module (mix_*, sides_*, fields_*), or None when switched off or not buildable."""
    return _build() if compose_kernel_enabled() else None


@functools.lru_cache(maxsize=None)
def _build() -> Optional[ModuleType]:
    name, cflags = _variant()
    return build(name, _SOURCE, ["mix_forward", "mix_backward", "sides_forward", "sides_backward",
                                 "fields_forward", "fields_backward"],
                 "CPU compose kernel", cflags, ["-fopenmp"])
