"""KV-cached decoding equals the full forward pass (both architectures, windows too, float64);
generation is reproducible from its seed; the CLI samples from a real tiny run."""
import pytest
import torch

from dcpoc.config import make_config
from dcpoc.generate import KVCache, forward_cached, generate_ids, load_checkpoint_model
from dcpoc.model import LanguageModel

from conftest import run_cli


def tiny_model(arch: str, windows: str = "global", **overrides) -> LanguageModel:
    sets = [f"window_pattern={windows}", "dc_init_std=0.3", "n_layer=3"]
    sets += [f"{k}={v}" for k, v in overrides.items()]
    run = make_config(arch, "tiny", sets)
    torch.manual_seed(0)
    return LanguageModel(run.model).double().eval()


CASES = [("transformer", "global"), ("transformer", "local:5,global"),
         ("dcformer", "global"), ("dcformer", "local:5,global"), ("dcformer", "local:3")]


@pytest.mark.parametrize("arch, windows", CASES, ids=[f"{a}-{w}" for a, w in CASES])
@pytest.mark.parametrize("prefill", [1, 9])
def test_cached_decoding_equals_full_forward(arch, windows, prefill):
    model = tiny_model(arch, windows)
    idx = torch.randint(0, 256, (2, 20), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        full, _ = model(idx)
    cache = KVCache(model, batch=2)
    steps = [forward_cached(model, idx[:, :prefill], cache)]
    steps += [forward_cached(model, idx[:, t:t + 1], cache) for t in range(prefill, 20)]
    cached = torch.cat(steps, dim=1)
    assert (cached - full).abs().max().item() < 1e-9


@pytest.mark.parametrize("override", [{"dc_post": "false"}, {"dc_key": "false"}, {"dc_static": "true"},
                                      {"dc_gate": "false"}, {"attn_impl": "reference"}])
def test_cached_decoding_with_dcmha_switches(override):
    model = tiny_model("dcformer", "local:4,global", **override)
    idx = torch.randint(0, 256, (1, 12), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        full, _ = model(idx)
    cache = KVCache(model, batch=1)
    cached = torch.cat([forward_cached(model, idx[:, :3], cache)]
                       + [forward_cached(model, idx[:, t:t + 1], cache) for t in range(3, 12)], 1)
    assert (cached - full).abs().max().item() < 1e-9


def test_dcformer_cache_holds_h_vectors_per_token_not_matrices():
    model = tiny_model("dcformer")
    cache = KVCache(model, batch=1)
    forward_cached(model, torch.zeros(1, 4, dtype=torch.long), cache)
    cfg = model.cfg
    H, R, d = cfg.n_head, cfg.dc_rank, cfg.head_dim
    per_layer_values = 2 * H * d + 2 * (2 * R * H + H)     # K, V + (kw1, kw2, kdd) x (pre, post)
    assert cache.bytes_per_token() == cfg.n_layer * per_layer_values * 8
    assert all(w.shape[-1] == H and w.dim() <= 4 for layer in cache.layers
               for w in layer.key_weights.values())


@pytest.mark.parametrize("arch", ["transformer", "dcformer"])
def test_generation_is_reproducible_from_its_seed_and_runs_past_seq_len(arch):
    model = tiny_model(arch).float()
    prompt = list(b"def f(")
    first = generate_ids(model, prompt, 50, temperature=1.0, top_k=20, seed=7)
    again = generate_ids(model, prompt, 50, temperature=1.0, top_k=20, seed=7)
    other = generate_ids(model, prompt, 50, temperature=1.0, top_k=20, seed=8)
    assert first == again and first != other and len(first) == 50   # 6 + 50 > seq_len 32
    greedy = generate_ids(model, prompt, 5, temperature=0.0)
    with torch.no_grad():
        expected = int(model(torch.tensor([prompt]))[0][0, -1].argmax())
    assert greedy[0] == expected


def test_generate_cli_from_a_real_tiny_run(dcpoc_home):
    done = run_cli("train", "--arch", "dcformer", "--preset", "tiny", "--steps", "5", "--no-progress")
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.split()[1]
    args = ("generate", "--run", run_id, "--prompt", "import ", "--max-tokens", "20", "--seed", "3")
    first, again = run_cli(*args), run_cli(*args)
    assert first.returncode == 0, first.stderr
    assert first.stdout == again.stdout and first.stdout.startswith("import ")
    bad = run_cli("generate", "--run", "nope", "--prompt", "x")
    assert bad.returncode == 2 and "no run 'nope'" in bad.stderr and "Traceback" not in bad.stderr
    ckpt_model, run = load_checkpoint_model(dcpoc_home / run_id / "checkpoint.pt")
    assert run.model.arch == "dcformer" and not ckpt_model.training


# ----------------------------------------------------------------------------- single-query decode


def random_weights(B: int, S: int, H: int, R: int, fields: str, gen: torch.Generator):
    """ComposeWeights in float64 with the named fields: q (qw1, qw2), k (kw1, kw2), g (qdd, kdd),
    s (static); query-wise fields hold one position, key-wise ones S."""
    from dcpoc.kernels import ComposeWeights
    rnd = lambda *shape: torch.randn(*shape, generator=gen, dtype=torch.float64)  # noqa: E731
    w = {}
    if "q" in fields:
        w.update(qw1=rnd(B, 1, R, H), qw2=rnd(B, 1, R, H))
    if "k" in fields:
        w.update(kw1=rnd(B, S, R, H), kw2=rnd(B, S, R, H))
    if "g" in fields:
        w.update(qdd=rnd(B, 1, H).tanh(), kdd=rnd(B, S, H).tanh())
    if "s" in fields:
        w["static"] = rnd(H, H) * 0.3
    return ComposeWeights(**w)


DECODE_CASES = [("qkg", "qkg"), ("qkg", None), (None, "qkg"), ("s", "s"), ("", ""), (None, None),
                ("qk", "g"), ("kg", "qs"), ("qkgs", "qkgs")]


@pytest.mark.parametrize("pre, post", DECODE_CASES, ids=[f"{a}-{b}" for a, b in DECODE_CASES])
@pytest.mark.parametrize("H, R", [(1, 1), (4, 1), (4, 2), (1, 2)])
@pytest.mark.parametrize("window", [None, 3, 50])
def test_dcmha_decode_equals_reference_for_one_query(pre, post, H, R, window):
    from dcpoc.kernels import dcmha_decode, dcmha_reference
    gen = torch.Generator().manual_seed(H * 10 + R)
    B, S, d = 2, 9, 8
    q, k, v = (torch.randn(B, H, n, d, generator=gen, dtype=torch.float64) for n in (1, S, S))
    wpre = None if pre is None else random_weights(B, S, H, R, pre, gen)
    wpost = None if post is None else random_weights(B, S, H, R, post, gen)
    expected = dcmha_reference(q, k, v, wpre, wpost, causal=True, window=window)
    got = dcmha_decode(q, k, v, wpre, wpost, window=window)
    assert got.shape == (B, H, 1, d) and got.dtype == torch.float64
    assert (got - expected).abs().max().item() < 1e-12
