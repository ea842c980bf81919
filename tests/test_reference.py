"""dcmha_reference against a straightforward loop over (b, t, s), float64, to 1e-10."""
import math

import pytest
import torch

from dcpoc.kernels import ComposeWeights, dcmha, dcmha_reference


def loop_compose(a, w, b, t, s):
    """Compose the head vector a [H] at one (b, t, s), term by term as DCMHA.md writes it."""
    out = a.clone()
    if w.static is not None:
        out += a @ w.static
    if w.qw1 is not None:
        for r in range(w.qw1.shape[2]):
            out += torch.dot(w.qw1[b, t, r], a) * w.qw2[b, t, r]
    if w.kw1 is not None:
        for r in range(w.kw1.shape[2]):
            out += torch.dot(w.kw1[b, s, r], a) * w.kw2[b, s, r]
    if w.qdd is not None:
        out += w.qdd[b, t] * a
    if w.kdd is not None:
        out += w.kdd[b, s] * a
    return out


def loop_dcmha(q, k, v, pre, post, causal, window):
    B, H, T, d = q.shape
    out = torch.zeros_like(q)
    for b in range(B):
        for t in range(T):
            logits = torch.empty(H, T, dtype=q.dtype)
            keep = [(not causal or s <= t) and (window is None or s > t - window) for s in range(T)]
            for s in range(T):
                a = torch.stack([q[b, h, t] @ k[b, h, s] for h in range(H)]) / math.sqrt(d)
                logits[:, s] = loop_compose(a, pre, b, t, s) if pre is not None else a
            for s in range(T):
                if not keep[s]:
                    logits[:, s] = -math.inf
            probs = torch.softmax(logits, dim=-1)
            for s in range(T):
                if post is not None and keep[s]:
                    probs[:, s] = loop_compose(probs[:, s].clone(), post, b, t, s)
            for h in range(H):
                out[b, h, t] = probs[h] @ v[b, h]
    return out


def random_weights(B, T, H, R, static, gen, fields="all"):
    def r(*shape):
        return torch.randn(*shape, dtype=torch.float64, generator=gen) * 0.5
    w = ComposeWeights(r(B, T, R, H), r(B, T, R, H), r(B, T, R, H), r(B, T, R, H), r(B, T, H), r(B, T, H),
                       r(H, H) if static else None)
    if fields == "query-only":
        w = w._replace(kw1=None, kw2=None, kdd=None)
    return w


CASES = [
    # id, pre, post, static, causal, window, R
    ("pre-only", True, False, False, True, None, 2),
    ("post-only", False, True, False, True, None, 2),
    ("both", True, True, False, True, None, 2),
    ("both-static", True, True, True, True, None, 1),
    ("both-window3", True, True, False, True, 3, 2),
    ("both-noncausal", True, True, True, False, None, 1),
    ("none", False, False, False, True, None, 2),
]


@pytest.mark.parametrize("name,use_pre,use_post,static,causal,window,R", CASES, ids=[c[0] for c in CASES])
def test_reference_matches_loop(name, use_pre, use_post, static, causal, window, R):
    gen = torch.Generator().manual_seed(7)
    B, H, T, d = 2, 3, 6, 4
    q, k, v = (torch.randn(B, H, T, d, dtype=torch.float64, generator=gen) for _ in range(3))
    pre = random_weights(B, T, H, R, static, gen) if use_pre else None
    post = random_weights(B, T, H, R, static, gen) if use_post else None
    ref = dcmha_reference(q, k, v, pre, post, causal=causal, window=window)
    loop = loop_dcmha(q, k, v, pre, post, causal, window)
    assert ref.dtype == torch.float64 and ref.shape == (B, H, T, d)
    assert (ref - loop).abs().max().item() < 1e-10


def test_partial_fields_match_loop():
    gen = torch.Generator().manual_seed(3)
    B, H, T, d = 1, 4, 5, 4
    q, k, v = (torch.randn(B, H, T, d, dtype=torch.float64, generator=gen) for _ in range(3))
    pre = random_weights(B, T, H, 2, False, gen, fields="query-only")
    post = random_weights(B, T, H, 2, False, gen)._replace(qdd=None, kdd=None)
    ref = dcmha_reference(q, k, v, pre, post)
    assert (ref - loop_dcmha(q, k, v, pre, post, True, None)).abs().max().item() < 1e-10


def test_no_composition_is_plain_attention():
    gen = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(2, 4, 9, 8, dtype=torch.float64, generator=gen) for _ in range(3))
    plain = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert (dcmha_reference(q, k, v, None, None) - plain).abs().max().item() < 1e-12


def test_masked_positions_contribute_nothing_after_post_compose():
    """Values at future positions must not leak through post-composition (rows are not renormalised)."""
    gen = torch.Generator().manual_seed(5)
    B, H, T, d = 1, 2, 7, 4
    q, k, v = (torch.randn(B, H, T, d, dtype=torch.float64, generator=gen) for _ in range(3))
    post = random_weights(B, T, H, 2, True, gen)
    v2 = v.clone()
    v2[:, :, 4:] += 100.0
    out1 = dcmha_reference(q, k, v, None, post)
    out2 = dcmha_reference(q, k, v2, None, post)
    assert torch.allclose(out1[:, :, :4], out2[:, :, :4], atol=1e-12)


def test_decode_queries_are_the_last_positions():
    """q of length Tq attends as the last Tq of S positions (what a KV cache needs)."""
    gen = torch.Generator().manual_seed(2)
    B, H, S, d, R = 1, 2, 8, 4, 2
    q, k, v = (torch.randn(B, H, S, d, dtype=torch.float64, generator=gen) for _ in range(3))
    pre, post = (random_weights(B, S, H, R, False, gen) for _ in range(2))
    full = dcmha_reference(q, k, v, pre, post)
    tail = lambda w: w._replace(qw1=w.qw1[:, -3:], qw2=w.qw2[:, -3:], qdd=w.qdd[:, -3:])  # noqa: E731
    last = dcmha_reference(q[:, :, -3:], k, v, tail(pre), tail(post))
    assert (full[:, :, -3:] - last).abs().max().item() < 1e-12


def test_dispatch_on_cpu_matches_reference_and_rejects_unknown_impl():
    gen = torch.Generator().manual_seed(4)
    q, k, v = (torch.randn(1, 2, 5, 4, dtype=torch.float64, generator=gen) for _ in range(3))
    pre = random_weights(1, 5, 2, 2, False, gen)
    ref = dcmha_reference(q, k, v, pre, None)
    assert (dcmha(q, k, v, pre, None) - ref).abs().max().item() < 1e-12
    with pytest.raises(ValueError, match="unknown DCMHA impl"):
        dcmha(q, k, v, pre, None, impl="cuda-magic")


def test_triton_supports_the_kernel_ranges_only():
    from dcpoc.kernels import triton_supports
    q = torch.zeros(1, 4, 8, 16)
    assert triton_supports(q, q, None, None)
    assert not triton_supports(q.double(), q.double(), None, None)          # float64: the torch path
    assert not triton_supports(torch.zeros(1, 4, 8, 8), torch.zeros(1, 4, 8, 8), None, None)   # d 8
    assert not triton_supports(q[:, :, :1], q, None, None)                 # decode: Tq != S
    w = torch.zeros(1, 8, 5, 4)
    assert not triton_supports(q, q, ComposeWeights(qw1=w, qw2=w), None)   # rank 5
