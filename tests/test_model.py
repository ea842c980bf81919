"""Model equivalences: zeroed dynamic weights = Transformer++, causality, counts."""
import pytest
import torch

from dcpoc.config import make_config
from dcpoc.model import (DynamicWeightProjection, LanguageModel, count_parameters, flops_per_token,
                         rope_tables)


def twin_models(overrides=()):
    """A DCFormer with zeroed dynamic output weights and a Transformer++ sharing all other weights."""
    torch.manual_seed(0)
    dc = LanguageModel(make_config("dcformer", "tiny", list(overrides)).model).double()
    tf = LanguageModel(make_config("transformer", "tiny", list(overrides)).model).double()
    missing, unexpected = tf.load_state_dict(dc.state_dict(), strict=False)
    assert not missing and all(".dynamic." in name for name in unexpected)
    return dc, tf


@pytest.mark.parametrize("overrides", [(), ("window_pattern=local:5,global",), ("qk_norm=false",),
                                       ("dc_static=true", "dc_rank=1")],
                         ids=["global", "local5-global", "no-qknorm", "static-R1"])
def test_zeroed_dynamic_weights_equal_transformer(overrides):
    dc, tf = twin_models(overrides)
    idx = torch.randint(0, 256, (2, 32), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        for block in dc.blocks:
            block.attn.dynamic.w2.zero_()
            block.attn.dynamic.wd.zero_()
    assert torch.allclose(dc(idx)[0], tf(idx)[0], atol=1e-12, rtol=0)
    with torch.no_grad():   # and the comparison is not vacuous: nonzero weights change the logits
        dc.blocks[0].attn.dynamic.wd.normal_(0, 0.5)
    assert not torch.allclose(dc(idx)[0], tf(idx)[0], atol=1e-6)


def test_fresh_dcformer_is_near_identity():
    dc, tf = twin_models()
    idx = torch.randint(0, 256, (2, 32), generator=torch.Generator().manual_seed(1))
    assert (dc(idx)[0] - tf(idx)[0]).abs().max().item() < 1e-2


@pytest.mark.parametrize("arch", ["transformer", "dcformer"])
@pytest.mark.parametrize("window", ["global", "local:4,global"])
def test_causality(arch, window):
    torch.manual_seed(0)
    run = make_config(arch, "tiny", [f"window_pattern={window}", "dc_init_std=0.3"])
    model = LanguageModel(run.model).double()
    idx = torch.randint(0, 256, (2, 32), generator=torch.Generator().manual_seed(3))
    changed = idx.clone()
    changed[:, 20:] = (changed[:, 20:] + 17) % 256
    with torch.no_grad():
        a, b = model(idx)[0], model(changed)[0]
    assert torch.allclose(a[:, :20], b[:, :20], atol=1e-12)
    assert not torch.allclose(a[:, 20:], b[:, 20:])


@pytest.mark.parametrize("preset", ["tiny", "cpu-demo"])
@pytest.mark.parametrize("arch", ["transformer", "dcformer"])
@pytest.mark.parametrize("overrides", [(), ("dc_static=true", "dc_post=false", "dc_gate=false"),
                                       ("dc_key=false", "dc_rank=4", "qk_norm=false")],
                         ids=["default", "static-prepost-nogate", "querywise-R4"])
def test_parameter_count_matches_model(preset, arch, overrides):
    cfg = make_config(arch, preset, list(overrides)).model
    model = LanguageModel(cfg)
    counts = count_parameters(cfg)
    assert counts["total"] == sum(p.numel() for p in model.parameters())
    assert counts["dynamic"] == sum(p.numel() for p in model.dynamic_parameters())


@pytest.mark.parametrize("overrides", [(), ("dc_lowrank=false",), ("dc_gate=false", "dc_key=false")],
                         ids=["default", "gates-only", "lowrank-querywise"])
@pytest.mark.parametrize("kernel", ["1", "0"])
def test_dynamic_weights_follow_the_spec(overrides, kernel, monkeypatch):
    """DCMHA.md, per branch i: hidden = GELU(X W1_i); (w1 | w2) = hidden W2_i with w1 RMS-normalised
    over the heads (eps 1e-6, no scale); gate = tanh(X Wd_i); with and without the C++ split."""
    monkeypatch.setenv("DCPOC_CPU_COMPOSE_KERNEL", kernel)
    cfg = make_config("dcformer", "tiny", list(overrides)).model
    torch.manual_seed(0)
    dyn = DynamicWeightProjection(cfg).double()        # float64: orders of summation do not matter
    with torch.no_grad():
        for p in dyn.parameters():
            p.normal_(0, 0.5)
    x = torch.randn(2, 5, cfg.n_embd, dtype=torch.float64)
    pre, post = dyn(x)
    H, R, C = cfg.n_head, cfg.dc_rank, cfg.dc_hidden_resolved
    for i, name in enumerate(dyn.branches):
        comp, side = name.split("_")
        fields = (pre if comp == "pre" else post)._asdict()
        if cfg.dc_lowrank:
            out = torch.nn.functional.gelu(x @ dyn.w1[:, i * C:(i + 1) * C]) @ dyn.w2[i]
            w1, w2 = out[..., :R * H].view(2, 5, R, H), out[..., R * H:].view(2, 5, R, H)
            w1 = w1 / torch.sqrt(w1.square().mean(-1, keepdim=True) + 1e-6)
            torch.testing.assert_close(fields[f"{side}w1"], w1, rtol=1e-10, atol=1e-12)
            torch.testing.assert_close(fields[f"{side}w2"], w2, rtol=1e-10, atol=1e-12)
        else:
            assert fields[f"{side}w1"] is None and fields[f"{side}w2"] is None
        if cfg.dc_gate:
            gate = torch.tanh(x @ dyn.wd[:, i * H:(i + 1) * H])
            torch.testing.assert_close(fields[f"{side}dd"], gate, rtol=1e-10, atol=1e-12)
        else:
            assert fields[f"{side}dd"] is None


def test_dcmha_extra_parameters_match_paper_formula():
    """DCMHA.md: 20*D*H + 64*H^2 extra parameters per layer at R = 2."""
    cfg = make_config("dcformer", "paper-405m").model
    D, H, L = cfg.n_embd, cfg.n_head, cfg.n_layer
    assert count_parameters(cfg)["dynamic"] == L * (20 * D * H + 64 * H * H)
    assert (cfg.n_layer, cfg.n_embd, cfg.n_head, cfg.head_dim, cfg.ffn_hidden, cfg.seq_len) == \
        (24, 1024, 16, 64, 2816, 2048)


def test_flops_per_token():
    tf = flops_per_token(make_config("transformer", "cpu-demo").model)
    dc = flops_per_token(make_config("dcformer", "cpu-demo").model)
    assert tf["compose"] == 0 and dc["compose"] > 0
    assert dc["total"] > tf["total"] > 6 * count_parameters(make_config("transformer", "cpu-demo").model)["non_embedding"] - 1
    local = flops_per_token(make_config("dcformer", "cpu-demo", ["window_pattern=local:16"]).model)
    assert local["attention"] < dc["attention"] and local["compose"] < dc["compose"]


def test_ablation_switches_remove_terms():
    cfg = make_config("dcformer", "tiny", ["dc_pre=false", "dc_gate=false"]).model
    pre, post = LanguageModel(cfg).blocks[0].attn.dynamic(torch.randn(1, 4, cfg.n_embd))
    assert pre is None and post.qdd is None and post.kdd is None and post.qw1.shape == (1, 4, 2, 2)


def test_attention_prologue_methods_match_the_projection():
    """project_qkv / compose_weights / branch_weights: the public prologue other modules use."""
    torch.manual_seed(0)
    cfg = make_config("dcformer", "tiny", ["dc_init_std=0.3"]).model
    attn = LanguageModel(cfg).double().blocks[0].attn
    x = torch.randn(2, 5, cfg.n_embd, dtype=torch.float64)
    cos, sin = rope_tables(5, cfg.head_dim, cfg.rope_base)
    q, k, v = attn.project_qkv(x, cos, sin)
    assert q.shape == k.shape == v.shape == (2, cfg.n_head, 5, cfg.head_dim)
    pre, post = attn.compose_weights(x)
    dyn = attn.dynamic
    w1, w2, wd = dyn.branch_weights(dyn.branches)          # the module's own order
    gates = torch.tanh(x @ wd.T).view(2, 5, len(dyn.branches), cfg.n_head)
    assert torch.equal(gates[:, :, dyn.branches.index("post_k")], post.kdd)
    assert w1.shape == (len(dyn.branches) * dyn.hidden, cfg.n_embd) and w2.shape[0] == len(dyn.branches)
    assert dyn.static_matrix("pre") is None
    tf = LanguageModel(make_config("transformer", "tiny").model).blocks[0].attn
    assert tf.compose_weights(x.float()) == (None, None)
