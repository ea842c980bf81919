"""Composition matrices, gates, attention maps and the distance from identity (dcpoc.inspect)."""
import pytest
import torch

from dcpoc.config import make_config
from dcpoc.inspect import (analyse, attention_frame, distance_frame, find_twin, gate_frame,
                           matrix_frame)
from dcpoc.model import LanguageModel

IDS = list(b"def add(a, b): return a + b")


def model(arch: str, *sets: str) -> LanguageModel:
    torch.manual_seed(0)
    return LanguageModel(make_config(arch, "tiny", ["n_layer=3", *sets]).model).double().eval()


@pytest.mark.parametrize("sets", [(), ("window_pattern=local:4,global",), ("dc_rank=1",)])
def test_zero_dynamic_output_weights_give_identity_at_every_layer_and_token(sets):
    dc = model("dcformer", *sets)
    with torch.no_grad():
        for block in dc.blocks:        # w2 and wd are the dynamic output weights
            block.attn.dynamic.w2.zero_()
            block.attn.dynamic.wd.zero_()
    eye = torch.eye(dc.cfg.n_head).tolist()
    for token in range(len(IDS)):
        result = analyse(dc, IDS, token=token)
        for layer in result["layers"]:
            assert len(layer["matrices"]) == 8          # pre/post x query/key x at/mean
            assert all(m == eye for m in layer["matrices"].values())
            assert all(v == 0.0 for v in layer["distance"].values())
            assert all(g == [0.0] * dc.cfg.n_head for g in layer["gates"].values())
            assert layer["attention_before"] == layer["attention_after"]


def test_trained_like_weights_move_away_from_identity_and_maps_are_causal():
    dc = model("dcformer", "dc_init_std=0.3")
    result = analyse(dc, IDS, token=5, head=1)
    assert result["token"] == 5 and result["head"] == 1 and len(result["tokens"]) == len(IDS)
    distances = distance_frame(result)
    assert len(distances) == 3 * 4 and (distances["distance"] > 0).all()
    after = torch.tensor(result["layers"][0]["attention_after"])
    before = torch.tensor(result["layers"][0]["attention_before"])
    assert torch.allclose(before.sum(-1), torch.ones(len(IDS)), atol=1e-4)
    assert after.triu(1).abs().max() == 0 and not torch.allclose(before, after, atol=1e-3)
    assert set(matrix_frame(result, 1, "at")["matrix"]) == {"pre_query", "pre_key", "post_query",
                                                             "post_key"}
    assert len(gate_frame(result, 2, "mean")) == 4 * dc.cfg.n_head


def test_a_token_or_head_outside_the_text_or_model_is_refused_not_wrapped():
    """--token 500 on a 27-token text showed token 14 (wrapped), --head 9 head 3 (clamped)."""
    from dcpoc.config import ConfigError
    dc = model("dcformer")
    assert analyse(dc, IDS, token=-len(IDS))["token"] == 0
    with pytest.raises(ConfigError, match=rf"query token {len(IDS)} is outside this text's {len(IDS)} tokens"):
        analyse(dc, IDS, token=len(IDS))
    with pytest.raises(ConfigError, match=rf"-{len(IDS) + 1} is outside"):
        analyse(dc, IDS, token=-len(IDS) - 1)
    with pytest.raises(ConfigError, match=rf"head {dc.cfg.n_head} does not exist: this model has {dc.cfg.n_head} heads"):
        analyse(dc, IDS, head=dc.cfg.n_head)


def test_local_window_maps_stay_inside_the_window():
    dc = model("dcformer", "dc_init_std=0.3", "window_pattern=local:4")
    after = torch.tensor(analyse(dc, IDS)["layers"][0]["attention_after"])
    assert after.tril(-4).abs().max() == 0


def test_transformer_gives_maps_only_and_twin_frames():
    tf = analyse(model("transformer"), IDS, head=1)
    assert all(not layer["matrices"] and layer["attention_before"] == layer["attention_after"]
               for layer in tf["layers"])
    dc = analyse(model("dcformer"), IDS, head=1)
    dc["twin"] = {"run": "x", "arch": "transformer",
                  "attention": [layer["attention_before"] for layer in tf["layers"]]}
    frame = attention_frame(dc, 0, {"before": "b", "after": "a", "twin": "t"})
    assert set(frame["panel"]) == {"b", "a", "t"} and len(frame) == 3 * len(IDS) ** 2


def test_find_twin_matches_study_preset_and_seed():
    import pandas as pd
    runs = pd.DataFrame([
        {"id": "d1", "arch": "dcformer", "study": "s", "preset": "tiny", "seed": 1, "status": "succeeded"},
        {"id": "t2", "arch": "transformer", "study": "s", "preset": "tiny", "seed": 2, "status": "succeeded"},
        {"id": "t1", "arch": "transformer", "study": "s", "preset": "tiny", "seed": 1, "status": "succeeded"},
        {"id": "t0", "arch": "transformer", "study": "o", "preset": "tiny", "seed": 1, "status": "succeeded"}])
    runs = runs.assign(config=[{}] * len(runs))       # QK-norm on, as configs before it was optional
    assert find_twin(runs, "d1") == "t1" and find_twin(runs, "zz") is None
    assert find_twin(runs[runs["id"] != "t1"], "d1") is None
    # a ladder: the rung that differs from DCFormer by DCMHA alone (QK-norm on, as DCFormer's)
    plain = {"id": "t3", "arch": "transformer", "study": "s", "preset": "tiny", "seed": 1,
             "status": "succeeded", "variant": "transformer"}
    ladder = pd.concat([pd.DataFrame([plain]), runs.drop(columns="config").assign(variant=runs["arch"].map(
        {"dcformer": "dcformer", "transformer": "transformer-qknorm"}))])
    assert find_twin(ladder, "d1") == "t1"


def test_a_twin_of_another_preset_is_refused_in_one_line(dcpoc_home):
    """A Transformer++ run of another size was accepted as the twin: its heads and context differ."""
    from conftest import run_cli
    ids = []
    for arch, preset in (("dcformer", "tiny"), ("transformer", "cpu-xs")):
        done = run_cli("train", "--arch", arch, "--preset", preset, "--steps", "2", "--no-progress")
        assert done.returncode == 0, done.stderr
        ids.append(done.stdout.split()[1])
    refused = run_cli("inspect", "--run", ids[0], "--text", "some text", "--twin", ids[1])
    last = refused.stderr.strip().splitlines()[-1]      # (a fresh machine first builds a kernel)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert last.startswith(f"error: --twin '{ids[1]}' is a cpu-xs run and '{ids[0]}' a tiny run")
