"""KV-cached decoding equals the full forward pass (both architectures, windows too, float64);
generation is reproducible from its seed; the CLI samples from a real tiny run."""
import pytest
import torch

from dcpoc.config import make_config
from dcpoc.checkpoint import load_checkpoint_model
from dcpoc.generate import generate_ids
from dcpoc.kvcache import KVCache, forward_cached
from dcpoc.model import LanguageModel

from conftest import run_cli


def tiny_model(arch: str, windows: str = "global", **overrides) -> LanguageModel:
    sets = [f"window_pattern={windows}", "dc_init_std=0.3", "n_layer=3"]
    sets += [f"{k}={v}" for k, v in overrides.items()]
    run = make_config(arch, "tiny", sets)
    torch.manual_seed(0)
    return LanguageModel(run.model).double().eval()


@pytest.fixture(params=["cpu-kernel", "torch-ops"])
def decode_path(request, monkeypatch):
    """Run a test with DCFormer's fused CPU decode kernel and again with its torch-op fallback."""
    import dcpoc.kvcache as kvcache
    if request.param == "torch-ops":
        monkeypatch.setattr(kvcache, "cpu_decode_kernel", lambda: None)
    elif kvcache.cpu_decode_kernel() is None:
        pytest.skip("the CPU decode kernel cannot be built here")
    return request.param


CASES = [("transformer", "global"), ("transformer", "local:5,global"),
         ("dcformer", "global"), ("dcformer", "local:5,global"), ("dcformer", "local:3")]


@pytest.mark.parametrize("arch, windows", CASES, ids=[f"{a}-{w}" for a, w in CASES])
@pytest.mark.parametrize("prefill", [1, 9])
def test_cached_decoding_equals_full_forward(arch, windows, prefill, decode_path):
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
                                      {"dc_gate": "false"}, {"attn_impl": "reference"},
                                      {"dc_query": "false"}, {"dc_lowrank": "false"}, {"dc_pre": "false"},
                                      {"dc_key": "false", "dc_static": "true"}])
def test_cached_decoding_with_dcmha_switches(override, decode_path):
    model = tiny_model("dcformer", "local:4,global", **override)
    with torch.no_grad():
        for name, static in model.named_parameters():
            if ".static." in name:                       # zero at init: make it count
                static.copy_(torch.randn_like(static) * 0.3)
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
    # rows (kw1 x R, kw2 x R, kdd) of H values per key branch and position, positions last
    assert all(layer.key_rows.shape == (2, 2 * R + 1, 1, H, cache.max_len) for layer in cache.layers)


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
    endless = run_cli("generate", "--run", run_id, "--prompt", "x", "--max-tokens", "100000000")
    assert endless.returncode == 2 and endless.stderr.startswith("error: --max-tokens 100000000: give")
    latin1 = run_cli("generate", "--run", run_id, "--prompt", "caf\udce9 ", "--max-tokens", "3",
                     env={"PYTHONIOENCODING": "utf-8"})    # the byte 0xE9 on argv, not UTF-8
    assert latin1.returncode == 0 and latin1.stdout.startswith("caf\ufffd "), latin1.stderr
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


def test_dcmha_decode_rows_equals_reference_for_one_query():
    from dcpoc.kernels import dcmha_reference
    from dcpoc.kernels.decode import dcmha_decode_rows
    gen = torch.Generator().manual_seed(5)
    B, S, H, R, d = 2, 9, 4, 2, 8
    q, k, v = (torch.randn(B, H, n, d, generator=gen, dtype=torch.float64) for n in (1, S, S))
    pre, post = (random_weights(B, S, H, R, "qkgs", gen) for _ in range(2))

    def rows(w):   # the decode form: one matrix with the identity, key-wise fields positions last
        matrix = (torch.eye(H, dtype=torch.float64) + torch.diag_embed(w.qdd[:, 0])
                  + w.qw2[:, 0].mT @ w.qw1[:, 0] + w.static.T)
        return matrix, w.kw1.permute(2, 0, 3, 1), w.kw2.permute(2, 0, 3, 1), w.kdd.mT
    expected = dcmha_reference(q, k, v, pre, post, causal=True)
    got = dcmha_decode_rows(q, k, v, rows(pre), rows(post), scale=d ** -0.5)
    assert (got - expected).abs().max().item() < 1e-12


def test_fused_decode_projection_equals_the_model_projections():
    from dcpoc.kvcache import _decode_plan, _decode_weights
    model = tiny_model("dcformer")
    attn, D = model.blocks[0].attn, model.cfg.n_embd
    x = torch.randn(2, 1, D, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    with torch.no_grad():
        plan = _decode_plan(attn, batch=2)
        y = torch.nn.functional.linear(x, plan.weight)
        assert (y[..., :3 * D] - attn.qkv(x)).abs().max().item() < 1e-12
        _decode_weights(plan, y.view(2, -1))
        pre, post = attn.dynamic(x)
    R = plan.rank
    for comp, w in (("pre", pre), ("post", post)):
        q_index, k_index, _ = plan.comps[comp]
        for side, index in (("k", k_index), ("q", plan.key_side.shape[0] + q_index)):
            got = plan.dynamic[index]                                     # (B, n, H)
            assert (got[:, :R] - getattr(w, f"{side}w1")[:, 0]).abs().max().item() < 1e-12
            assert (got[:, R:2 * R] - getattr(w, f"{side}w2")[:, 0]).abs().max().item() < 1e-12
            assert (got[:, -1] - getattr(w, f"{side}dd")[:, 0]).abs().max().item() < 1e-12


def test_rope_matrices_rotate_as_apply_rope():
    from dcpoc.kvcache import rope_matrices
    from dcpoc.model import apply_rope, rope_tables
    cos, sin = rope_tables(7, 8, 10000.0)
    x = torch.randn(2, 3, 7, 8, dtype=torch.float64)
    assert (x.unsqueeze(-2) @ rope_matrices(cos, sin)).squeeze(-2).sub(apply_rope(x, cos, sin)).abs().max() < 1e-14


def test_bench_infer_reports_both_architectures_and_the_decode_path():
    from dcpoc.bench_infer import bench_infer, format_infer
    result = bench_infer("tiny", new_tokens=4, device="cpu", rounds=1)
    assert [r["arch"] for r in result["rows"]] == ["transformer", "dcformer"]
    assert result["dcformer_decode"] in ("fused CPU kernel", "torch ops")
    assert result["dcformer_over_transformer"]["cache_bytes_per_token"] > 1
    assert "DCFormer decode:" in format_infer(result)
    from dcpoc.ui.page import inference_table
    table = inference_table(result, "en")
    assert list(table.columns) == ["Transformer++", "DCFormer"]
    spread = table.loc["p50 spread across prompt lengths"]
    assert all(text.endswith("%") for text in spread)                  # a fraction, shown in percent
    decode = result["rows"][1]["decode_tokens_per_s"]
    assert table.loc["Generation (decode) tokens/s", "DCFormer"] == f"{decode:,.1f}"   # thousands separated
    assert "文章生成（デコード）トークン/秒" in inference_table(result, "ja").index
