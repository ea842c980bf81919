"""The Launch page's logic: hardware ladder, form checks, study estimates (no Streamlit, no torch)."""
import pandas as pd
import pytest

from dcpoc import costs
from dcpoc.config import make_config
from dcpoc.planning import (MAX_RUNS_PER_STUDY, STARTUP_S_PER_RUN, LaunchForm, check_form, detect_gpu,
                            estimate_device, estimate_study, measured_throughput, parse_seeds,
                            plan_for_estimate, runnable_presets)
from dcpoc.studies import plan_study

CPU = ["tiny", "cpu-demo"]


def test_hardware_ladder(monkeypatch):
    assert runnable_presets(None) == CPU
    assert runnable_presets("NVIDIA H200")[-1] == "paper-405m"
    monkeypatch.setenv("PATH", "/nonexistent")
    assert detect_gpu() is None
    assert estimate_device("auto", None) == "cpu" and estimate_device("cpu", "NVIDIA H100") == "cpu"
    assert estimate_device("cuda", "NVIDIA H100") == "NVIDIA H100"


@pytest.mark.parametrize("text, seeds", [("1", [1]), ("1, 2,3", [1, 2, 3]), (" 4 5 ", [4, 5])])
def test_parse_seeds(text, seeds):
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text", ["", "1, 1", "a", "1.5", "-1"])
def test_parse_seeds_rejects(text):
    with pytest.raises(ValueError):
        parse_seeds(text)


def test_a_valid_form_becomes_a_study_spec():
    spec, problems = check_form(LaunchForm(name=" my study ", question="why?", seeds="1, 2",
                                           budget_kind="tokens", budget=10_000), [], CPU)
    assert problems == {}
    assert (spec.name, spec.corpus, spec.seeds, spec.tokens, spec.steps) == \
        ("my study", "pydoc", [1, 2], 10_000, None)
    assert len(plan_study(spec)) == 4


@pytest.mark.parametrize("change, field, key", [
    ({"name": "  "}, "name", "launch.err.name_empty"),
    ({"name": "x" * 81}, "name", "launch.err.name_bad"),
    ({"name": "a\x07b"}, "name", "launch.err.name_bad"),
    ({"question": "?" * 2001}, "question", "launch.err.question_long"),
    ({"corpus": "/etc/passwd"}, "corpus", "launch.err.corpus_no_dirs"),
    ({"presets": []}, "presets", "launch.err.no_preset"),
    ({"presets": ["gpu-125m"]}, "presets", "launch.err.preset_hw"),
    ({"archs": []}, "archs", "launch.err.no_arch"),
    ({"seeds": "1,1"}, "seeds", "launch.err.seeds"),
    ({"seeds": " ".join(map(str, range(101)))}, "seeds", "launch.err.too_many"),
    ({"budget": 0}, "budget", "launch.err.budget"),
])
def test_form_problems_by_field(change, field, key):
    spec, problems = check_form(LaunchForm(**{"name": "s", **change}), [], CPU)
    assert spec is None and problems[field][0] == key


def test_plan_study_is_the_last_check():
    spec, problems = check_form(LaunchForm(name="s", device="tpu"), [], CPU)
    assert spec is None and problems["plan"][0] == "launch.err.plan"
    assert "device 'tpu'" in problems["plan"][1]["detail"]
    assert check_form(LaunchForm(name="s", budget=10**8), [], CPU)[1]["budget"][0] == "launch.err.budget"
    assert MAX_RUNS_PER_STUDY >= 2 * 2 * 10


def test_estimate_needs_only_the_fields_that_decide_cost():
    assert len(plan_for_estimate(LaunchForm(name="", seeds="1 2 3"), [], CPU)) == 6
    assert plan_for_estimate(LaunchForm(name="", archs=[]), [], CPU) is None


def test_estimate_study_uses_measured_throughput_when_there_is_some():
    plan = plan_study(check_form(LaunchForm(name="s", seeds="1", budget=100), [], CPU)[0])
    tokens = 100 * 8 * 32   # tiny: batch 8 x seq 32
    measured = {("tiny", "transformer", "cpu", 1): 1000.0}
    estimate = estimate_study(plan, "cpu", measured, prices={"cpu": 0.36})
    assert estimate["n_runs"] == 2 and estimate["n_measured"] == 1
    assert estimate["tokens"] == 2 * tokens
    dc = make_config("dcformer", "tiny", steps=100).model
    from dcpoc.counts import flops_per_token
    assumed = costs.assumed_tokens_per_s(flops_per_token(dc)["total"], "dcformer", "cpu")
    training_s = tokens / 1000.0 + tokens / assumed
    assert estimate["wall_s"] == pytest.approx(training_s + 2 * STARTUP_S_PER_RUN)
    assert estimate["cost_usd"] == pytest.approx(training_s / 3600 * 0.36)
    assert estimate["device_hours"] == pytest.approx(training_s / 3600)


def test_measured_throughput_takes_the_median_of_succeeded_runs_per_device_kind():
    runs = pd.DataFrame({"preset": "tiny", "arch": "dcformer",
                         "status": ["succeeded", "succeeded", "succeeded", "failed", "succeeded"],
                         "tokens_per_s": [100.0, 300.0, 200.0, 5.0, 9000.0],
                         "device": ["cpu", "cpu", "cpu", "cpu", "NVIDIA H100 80GB"],
                         "config": [{"train": {}}] * 5})
    assert measured_throughput(runs) == {("tiny", "dcformer", "cpu", 1): 200.0,
                                         ("tiny", "dcformer", "h100", 1): 9000.0}
    assert measured_throughput(runs.iloc[0:0]) == {}


def test_measured_throughput_is_reused_only_for_as_many_processes():
    # Two H100s train twice as many tokens/s as one: their speed must not price a 1-GPU plan.
    runs = pd.DataFrame({"preset": "tiny", "arch": "transformer", "status": "succeeded",
                         "tokens_per_s": [2000.0, 1000.0], "device": "NVIDIA H100 80GB",
                         "config": [{"train": {"nproc": 2}}, {"train": {"nproc": 1}}]})
    measured = measured_throughput(runs)
    assert measured == {("tiny", "transformer", "h100", 2): 2000.0,
                        ("tiny", "transformer", "h100", 1): 1000.0}
    tokens = 100 * 8 * 32   # tiny: batch 8 x seq 32
    for nproc, speed in ((1, 1000.0), (2, 2000.0)):
        plan = [make_config("transformer", "tiny", [f"nproc={nproc}"], steps=100)]
        estimate = estimate_study(plan, "NVIDIA H100 80GB", measured, prices={"h100": 3.6})
        assert estimate["n_measured"] == 1
        assert estimate["wall_s"] == pytest.approx(tokens / speed + STARTUP_S_PER_RUN)
        assert estimate["device_hours"] == pytest.approx(tokens / speed / 3600 * nproc)
    only_two = {k: v for k, v in measured.items() if k[3] == 2}
    one_gpu = [make_config("transformer", "tiny", ["nproc=1"], steps=100)]
    assert estimate_study(one_gpu, "NVIDIA H100 80GB", only_two)["n_measured"] == 0
