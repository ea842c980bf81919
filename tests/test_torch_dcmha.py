"""dcmha_torch against dcmha_reference: outputs and every gradient, float64 to 1e-10 and float32 to 1e-5.

Every test runs twice: with the C++ mixing kernels of compose_cpu (where they build) and with the
torch ops that replace them without a compiler (DCPOC_CPU_COMPOSE_KERNEL=0)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pytest
import torch

from dcpoc.kernels import ComposeWeights, dcmha, dcmha_reference, dcmha_torch
from dcpoc.kernels import torch_dcmha
from dcpoc.kernels.compose_cpu import ENV_SWITCH, compose_kernel

TOLERANCE = {torch.float64: 1e-10, torch.float32: 1e-5}
LOWRANK_Q, LOWRANK_K, GATES = ("qw1", "qw2"), ("kw1", "kw2"), ("qdd", "kdd")
ALL_FIELDS = ComposeWeights._fields


@dataclass(frozen=True)
class Shape:
    B: int
    H: int
    Tq: int
    S: int
    d: int
    R: int

    @property
    def id(self) -> str:
        t = f"T{self.S}" if self.Tq == self.S else f"Tq{self.Tq}-S{self.S}"
        return f"B{self.B}-H{self.H}-{t}-d{self.d}-R{self.R}"


# Which ComposeWeights fields are present in pre and in post (an empty set: that composition is None).
VARIANTS = {
    "pre+post": (set(ALL_FIELDS) - {"static"}, set(ALL_FIELDS) - {"static"}),
    "pre-only": (set(ALL_FIELDS) - {"static"}, set()),
    "post-only": (set(), set(ALL_FIELDS) - {"static"}),
    "neither": (set(), set()),
    "static": (set(ALL_FIELDS), set(ALL_FIELDS)),
    "static-alone": ({"static"}, {"static"}),
    "no-key-terms": ({*LOWRANK_Q, "qdd"}, {*LOWRANK_Q, "qdd", "static"}),
    "key-terms-only": ({*LOWRANK_K, "kdd"}, {*LOWRANK_K}),
    "static+key-terms": ({*LOWRANK_K, "static"}, {"kdd", "static"}),
    "no-gates": (set(ALL_FIELDS) - {*GATES, "static"}, set(ALL_FIELDS) - set(GATES)),
    "gates-only": (set(GATES), {"kdd"}),
}
MASKS = {"causal": (True, None), "causal-w5": (True, 5), "full": (False, None), "full-w5": (False, 5)}


@pytest.fixture(autouse=True, params=["cpp", "torch-ops"])
def mixing_path(request, monkeypatch) -> str:
    """Which path mixes the heads: compose_cpu's kernels or the torch ops (the no-compiler fallback)."""
    if request.param == "torch-ops":
        monkeypatch.setenv(ENV_SWITCH, "0")
    elif compose_kernel() is None:
        pytest.skip("the C++ compose kernel cannot be built here (no compiler or ninja)")
    return request.param


def make_inputs(shape: Shape, variant: str, dtype: torch.dtype, seed: int = 0):
    """Random q, k, v and compose weights (fields scaled so that composing changes the result a lot)."""
    gen = torch.Generator().manual_seed(seed)
    B, H, Tq, S, d, R = shape.B, shape.H, shape.Tq, shape.S, shape.d, shape.R

    def rand(*size: int, scale: float = 1.0) -> torch.Tensor:
        return (torch.randn(*size, generator=gen, dtype=torch.float64) * scale).to(dtype)

    q, k, v = rand(B, H, Tq, d), rand(B, H, S, d), rand(B, H, S, d)
    field_shapes = {"qw1": (B, Tq, R, H), "qw2": (B, Tq, R, H), "kw1": (B, S, R, H),
                    "kw2": (B, S, R, H), "qdd": (B, Tq, H), "kdd": (B, S, H), "static": (H, H)}

    def weights(present: set[str]) -> Optional[ComposeWeights]:
        if not present:
            return None
        return ComposeWeights(**{f: rand(*field_shapes[f], scale=0.5) if f in present else None
                                 for f in ALL_FIELDS})

    pre, post = (weights(p) for p in VARIANTS[variant])
    return q, k, v, pre, post


def leaves(q, k, v, pre, post) -> list[torch.Tensor]:
    """All inputs as gradient-requiring leaves, in a fixed order."""
    fields = [f for w in (pre, post) if w is not None for f in w if f is not None]
    return [x.requires_grad_() for x in (q, k, v, *fields)]


def run(fn, inputs, causal: bool, window: Optional[int], grad_out: torch.Tensor):
    xs = leaves(*inputs)
    out = fn(*inputs, causal=causal, window=window)
    return out.detach(), torch.autograd.grad(out, xs, grad_out)


def rel_err(test: torch.Tensor, ref: torch.Tensor) -> float:
    """||test - ref|| / ||ref||; the absolute error where ref is exactly 0 (e.g. window 1: dq = 0)."""
    err, norm = (test.double() - ref.double()).norm().item(), ref.double().norm().item()
    return err / norm if norm > 0 else err


def check_against_reference(shape: Shape, variant: str, causal: bool, window: Optional[int],
                            dtype: torch.dtype) -> None:
    inputs, ref_inputs = make_inputs(shape, variant, dtype), make_inputs(shape, variant, dtype)
    grad_out = torch.randn(shape.B, shape.H, shape.Tq, shape.d, dtype=dtype,
                           generator=torch.Generator().manual_seed(1))
    ref_out, ref_grads = run(dcmha_reference, ref_inputs, causal, window, grad_out)
    tor_out, tor_grads = run(dcmha_torch, inputs, causal, window, grad_out)
    assert tor_out.dtype == ref_out.dtype and tor_out.shape == ref_out.shape
    assert rel_err(tor_out, ref_out) < TOLERANCE[dtype], "output"
    names = ["q", "k", "v"] + [f"{c}.{f}" for c, w in zip(("pre", "post"), inputs[3:]) if w is not None
                               for f, x in zip(ALL_FIELDS, w) if x is not None]
    assert len(names) == len(ref_grads) == len(tor_grads)
    for name, tor_grad, ref_grad in zip(names, tor_grads, ref_grads):
        assert rel_err(tor_grad, ref_grad) < TOLERANCE[dtype], f"grad of {name}"


BASE = Shape(B=2, H=4, Tq=37, S=37, d=16, R=2)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("mask", MASKS, ids=list(MASKS))
@pytest.mark.parametrize("variant", VARIANTS, ids=list(VARIANTS))
def test_variants_and_masks(variant: str, mask: str, dtype: torch.dtype):
    causal, window = MASKS[mask]
    check_against_reference(BASE, variant, causal, window, dtype)


SHAPES = [
    Shape(B=2, H=4, Tq=37, S=37, d=16, R=1),
    Shape(B=2, H=4, Tq=37, S=37, d=16, R=4),
    Shape(B=3, H=1, Tq=37, S=37, d=8, R=2),
    Shape(B=1, H=4, Tq=1, S=12, d=8, R=2),       # decode: one query at the last position
    Shape(B=2, H=4, Tq=5, S=12, d=8, R=2),       # decode: the last 5 positions
]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("mask", ["causal", "causal-w5", "full"])
@pytest.mark.parametrize("variant", ["pre+post", "static", "no-key-terms"])
@pytest.mark.parametrize("shape", SHAPES, ids=[s.id for s in SHAPES])
def test_shapes(shape: Shape, variant: str, mask: str, dtype: torch.dtype):
    causal, window = MASKS[mask]
    check_against_reference(shape, variant, causal, window, dtype)


BLOCKED = [
    Shape(B=1, H=4, Tq=130, S=130, d=8, R=2),    # four query blocks at the default block size
    Shape(B=1, H=2, Tq=129, S=140, d=8, R=2),    # blocks of decode-style queries
    Shape(B=16, H=6, Tq=130, S=130, d=8, R=2),   # one chunk per batch row; groups of 4 + 2 heads
]


@pytest.mark.parametrize("mask", ["causal", "causal-w5"])
@pytest.mark.parametrize("shape", BLOCKED, ids=[s.id for s in BLOCKED])
def test_query_blocks_at_default_size(shape: Shape, mask: str):
    causal, window = MASKS[mask]
    assert len(torch_dcmha._query_blocks(shape.Tq, shape.S, causal, window)) == 4
    check_against_reference(shape, "pre+post", causal, window, torch.float64)


@pytest.mark.parametrize("window", [None, 1, 5, 40])
@pytest.mark.parametrize("shape", [BASE, SHAPES[-1]], ids=[BASE.id, SHAPES[-1].id])
def test_many_small_query_blocks(shape: Shape, window: Optional[int], monkeypatch):
    monkeypatch.setattr(torch_dcmha, "MIN_BLOCK_ROWS", 2)
    assert len(torch_dcmha._query_blocks(shape.Tq, shape.S, True, window)) > 1
    check_against_reference(shape, "static", True, window, torch.float64)


def test_a_second_backward_names_the_problem():
    """The blocks' scores are freed after the first backward: a second one says so in one line."""
    inputs = make_inputs(BASE, "pre+post", torch.float32)
    leaves(*inputs)
    out = dcmha_torch(*inputs)
    out.square().sum().backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="backward ran twice"):
        out.square().sum().backward()


def test_more_queries_than_keys_without_causal_mask():
    check_against_reference(Shape(B=2, H=4, Tq=12, S=5, d=8, R=2), "pre+post", False, None,
                            torch.float64)


def test_autocast_does_not_lower_the_compute_precision():
    q, k, v, pre, post = make_inputs(BASE, "pre+post", torch.float32)
    ref = dcmha_reference(q, k, v, pre, post)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, grads = run(dcmha_torch, (q, k, v, pre, post), True, None, torch.ones_like(ref))
    assert out.dtype == torch.float32 and rel_err(out, ref) < TOLERANCE[torch.float32]
    assert all(g.dtype == torch.float32 for g in grads)


def test_bfloat16_inputs_compute_in_float32():
    q, k, v, pre, post = make_inputs(BASE, "pre+post", torch.bfloat16)
    ref = dcmha_reference(q, k, v, pre, post)
    out = dcmha_torch(q, k, v, pre, post)
    assert out.dtype == torch.bfloat16
    assert rel_err(out, ref) < 1e-2


def test_dispatch_runs_dcmha_torch_on_the_cpu():
    q, k, v, pre, post = make_inputs(BASE, "pre+post", torch.float64)
    assert torch.equal(dcmha(q, k, v, pre, post), dcmha_torch(q, k, v, pre, post))
    assert torch.equal(dcmha(q, k, v, pre, post, impl="reference"), dcmha_reference(q, k, v, pre, post))


def test_bad_shapes_raise_value_error():
    q, k, v, pre, post = make_inputs(BASE, "pre+post", torch.float64)
    with pytest.raises(ValueError, match="expected q"):
        dcmha_torch(q, k[..., :8], v, pre, post)
    with pytest.raises(ValueError, match="low-rank pair"):
        dcmha_torch(q, k, v, pre._replace(qw2=None), post)
