"""Presets, --set overrides with type checks, validation and the JSON round trip."""
import pytest

from dcpoc.config import PRESETS, ConfigError, RunConfig, make_config, parse_window_pattern


def test_presets_resolve_for_both_architectures():
    assert list(PRESETS) == ["tiny", "cpu-xs", "cpu-s", "cpu-demo", "gpu-xs", "gpu-s", "gpu-small",
                            "gpu-125m", "paper-405m"]
    for name in PRESETS:
        for arch in ("transformer", "dcformer"):
            run = make_config(arch, name)
            assert run.model.arch == arch and run.preset == name


def test_cpu_demo_is_the_documented_shape():
    run = make_config("dcformer", "cpu-demo")
    m, t = run.model, run.train
    assert (m.n_layer, m.n_embd, m.n_head, m.seq_len, t.batch_size) == (4, 128, 4, 128, 16)


def test_overrides_are_typed():
    run = make_config("dcformer", "tiny", ["lr=3e-4", "model.dc_rank=4", "qk_norm=off",
                                           "window_pattern=local:8,global", "train.seed=9"])
    assert run.train.lr == 3e-4 and isinstance(run.train.lr, float)
    assert run.model.dc_rank == 4 and run.model.qk_norm is False and run.train.seed == 9
    assert run.model.layer_windows() == [8, None]


@pytest.mark.parametrize("override,message", [
    ("nope=1", "unknown key 'nope'"),
    ("lr=fast", "expected a float"),
    ("n_layer=2.5", "expected an int"),
    ("qk_norm=maybe", "expected a bool"),
    ("lr", "is not key=value"),
    ("optim.lr=1", "unknown section"),
    ("n_head=3", "must be divisible by n_head"),
    ("lr=-1", r"^lr \(-1.0\) must be a number in \(0, 10\]"),
    ("lr=1e300", r"^lr \(1e\+300\) must be a number in \(0, 10\]"),   # trained into an overflow
    ("steps=99999999999999999999999", r"^steps \(9+\) must be between 1 and 1,000,000,000"),
    ("batch_size=100000000", r"^batch_size \(100000000\) must be between 1 and 65,536"),
    ("n_embd=1048576", r"^n_embd \(1048576\) must be between 1 and 65,536"),
    ("ffn_hidden=1000000000", r"^ffn_hidden \(1000000000\) must be between"),
    ("eval_batches=0", r"^eval_batches \(0\) must be between 1"),
    ("rope_base=0", r"^rope_base \(0.0\) must be a number above 1"),
    ("norm_eps=-1", r"^norm_eps \(-1.0\) must be in \(0, 1\)"),
    ("norm_eps=0", r"^norm_eps"),
    ("dc_init_std=1e30", r"^dc_init_std"),
    ("dc_init_std=-5", r"^dc_init_std"),
    ("warmup_frac=1", r"^warmup_frac \(1.0\) must be in \[0, 1\)"),
    ("vocab_size=10000000000000", r"^vocab_size \(10000000000000\) must be between 256 and"),
    ("dc_hidden=100000000000", r"^dc_hidden \(100000000000\) must be between 0 and"),
    ("val_tokens=100000000000000000000", r"^val_tokens \(1\d+\) must be between 1 and"),
    ("threads=100000000000000", r"^threads \(100000000000000\) must be between 0 and 4,096"),
    ("window_pattern=local:x", "window_pattern"),
    ("dc_rank=0", "dc_rank"),
    ("lr=nan", "expected a float"),
])
def test_bad_overrides_give_one_line(override, message):
    with pytest.raises(ConfigError, match=message) as info:
        make_config("dcformer", "tiny", [override])
    assert "\n" not in str(info.value)


def test_unknown_preset_and_arch():
    with pytest.raises(ConfigError, match="unknown preset 'huge'.*tiny"):
        make_config("dcformer", "huge")
    with pytest.raises(ConfigError, match="unknown arch"):
        make_config("mamba", "tiny")


def test_json_round_trip():
    run = make_config("dcformer", "cpu-demo", ["dc_static=true", "lr=2e-3"], steps=7, seed=3)
    again = RunConfig.from_json(run.to_json())
    assert again == run and again.train.steps == 7 and again.model.dc_static


def test_json_rejects_unknown_keys_and_bad_json():
    data = make_config("transformer", "tiny").to_dict()
    data["model"]["n_layers"] = 3
    with pytest.raises(ConfigError, match="n_layers"):
        RunConfig.from_dict(data)
    with pytest.raises(ConfigError, match="not valid JSON"):
        RunConfig.from_json("{oops")


def test_window_pattern_parsing():
    assert parse_window_pattern("global") == [None]
    assert parse_window_pattern("local:256, global") == [256, None]
    with pytest.raises(ConfigError):
        parse_window_pattern("local:0")
