"""The Launch page's logic (ui.launch_form, studies.estimates): hardware ladder, form checks, study
estimates, and the next step's runs (decision.next_step). None of it imports Streamlit or torch."""
import pandas as pd
import pytest

from dcpoc import costs
from dcpoc.config import make_config
from dcpoc.decision.next_step import next_step
from dcpoc.report.text import next_what
from dcpoc.studies import (PLANNING_GPU, REFERENCE_STUDIES, STARTUP_S_PER_RUN, StudySpec, detect_gpu,
                           estimate_device, estimate_study, measured_throughput, parse_lr_grid,
                           parse_seeds, plan_stages, plan_study, reference_study, runnable_presets)
from dcpoc.studies.spec import REFERENCE_QUESTION
from dcpoc.ui.i18n import t
from dcpoc.ui.launch_form import (MAX_RUNS_PER_STUDY, LaunchForm, check_form, form_choices,
                                  form_from_spec, form_state, plan_only, plan_table, preview_study,
                                  start_form)

CPU = ["tiny", "cpu-xs", "cpu-s", "cpu-demo"]


def test_hardware_ladder(monkeypatch):
    assert runnable_presets(None) == CPU
    assert runnable_presets("NVIDIA H200")[-1] == "paper-405m"
    monkeypatch.setenv("PATH", "/nonexistent")
    assert detect_gpu() is None
    assert estimate_device("auto", None) == "cpu" and estimate_device("cpu", "NVIDIA H100") == "cpu"
    assert estimate_device("cuda", "NVIDIA H100") == "NVIDIA H100"
    # a GPU study is still priced on a server without one, on a GPU the price table knows
    assert estimate_device("cuda", None) == PLANNING_GPU and costs.device_kind(PLANNING_GPU) == "h100"


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
    from dcpoc.ui.page import problem_text
    if key == "launch.err.preset_hw":       # the presets this machine offers, listed in the language
        assert "tiny、cpu-xs" in problem_text(problems[field], "ja")
        assert "tiny, cpu-xs" in problem_text(problems[field], "en")


def test_plan_study_is_the_last_check():
    spec, problems = check_form(LaunchForm(name="s", device="tpu"), [], CPU)
    assert spec is None and problems["plan"][0] == "launch.err.plan"
    assert "device 'tpu'" in problems["plan"][1]["detail"]
    assert check_form(LaunchForm(name="s", budget=10**8), [], CPU)[1]["budget"][0] == "launch.err.budget"
    assert MAX_RUNS_PER_STUDY >= 2 * 2 * 10


def test_estimate_needs_only_the_fields_that_decide_cost():
    assert len(preview_study(LaunchForm(name="", seeds="1 2 3"), [], CPU).stages.runs) == 6
    assert preview_study(LaunchForm(name="", archs=[]), [], CPU) is None


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


# ----------------------------------------------------------------------------- sweeps, ladders, references
def test_a_form_with_a_sweep_and_tokens_per_parameter_becomes_a_study_spec():
    form = LaunchForm(name="fair", presets=["tiny", "cpu-xs"], seeds="1", budget_kind="tokens_per_param",
                      budget=2.5, sweep="smallest", lrs="3e-4, 1e-3 3e-3")
    spec, problems = check_form(form, [], CPU)
    assert problems == {}
    assert (spec.tokens_per_param, spec.steps, spec.tokens) == (2.5, None, None)
    assert (spec.sweep, spec.lr_grid) == ("smallest", [3e-4, 1e-3, 3e-3])
    stages = plan_stages(spec)
    assert {(r.preset, r.train.lr) for r in stages.first} == {("tiny", lr) for lr in spec.lr_grid}
    assert {r.preset for r in stages.later} == {"cpu-xs"} and len(stages.later) == 2
    # an empty grid sweeps around each preset's own rate; a grid without a sweep is ignored
    each, _ = check_form(LaunchForm(name="s", sweep="each", lrs=" "), [], CPU)
    assert each.lr_grid == [] and len(plan_study(each)) == 2 * 3
    plain, _ = check_form(LaunchForm(name="s", sweep="none", lrs="not looked at"), [], CPU)
    assert (plain.sweep, plain.lr_grid) == ("none", [])


@pytest.mark.parametrize("text", ["fast", "1e-3, 1e-3", "0", "1.5", "-1e-3", "nan", "inf"])
def test_a_bad_learning_rate_grid_is_one_problem(text):
    with pytest.raises(ValueError):
        parse_lr_grid(text)
    spec, problems = check_form(LaunchForm(name="s", sweep="smallest", lrs=text), [], CPU)
    assert spec is None and problems == {"lrs": ("launch.err.lrs", {})}


@pytest.mark.parametrize("budget", [0.0, -1.0, 1e6, float("nan")])
def test_tokens_per_parameter_must_be_positive_and_bounded(budget):
    problems = check_form(LaunchForm(name="s", budget_kind="tokens_per_param", budget=budget), [], CPU)[1]
    assert problems["budget"][0] == "launch.err.budget_ratio"
    assert check_form(LaunchForm(name="s", budget=2.5), [], CPU)[1]["budget"][0] == "launch.err.budget"


def test_the_run_limit_counts_the_swept_rates():
    # 4 presets x 2 archs x 9 seeds = 72 runs; x 3 rates at every size = 216 > MAX_RUNS_PER_STUDY
    form = LaunchForm(name="s", presets=CPU, seeds=" ".join(map(str, range(9))))
    assert check_form(form, [], CPU)[1] == {}
    problems = check_form(LaunchForm(**{**form.__dict__, "sweep": "each"}), [], CPU)[1]
    assert problems["seeds"] == ("launch.err.too_many", {"n": 216, "max": MAX_RUNS_PER_STUDY})
    # at the smallest size only: (3 rates + 3 larger sizes) x 2 archs x 9 seeds
    assert check_form(LaunchForm(**{**form.__dict__, "sweep": "smallest"}), [], CPU)[1] == {}
    assert len(plan_study(check_form(LaunchForm(**{**form.__dict__, "sweep": "smallest"}), [], CPU)[0])) \
        == 6 * 2 * 9


def test_the_plan_table_groups_seeds_and_names_the_carried_rate():
    form = LaunchForm(name="", presets=["tiny", "cpu-xs"], seeds="1, 2", budget=10, sweep="smallest",
                      lrs="1e-3, 3e-3")
    preview = preview_study(form, [], CPU)
    table = plan_table(preview.stages, "en")
    assert list(table.columns) == ["Stage", "Preset", "Variant", "Seeds", "Learning rate", "Steps",
                                   "Tokens per run"]
    assert table.values.tolist() == [
        ["1: queued at launch", "tiny", "Transformer++", "1, 2", "0.001", "10", "2,560"],
        ["1: queued at launch", "tiny", "DCFormer", "1, 2", "0.001", "10", "2,560"],
        ["1: queued at launch", "tiny", "Transformer++", "1, 2", "0.003", "10", "2,560"],
        ["1: queued at launch", "tiny", "DCFormer", "1, 2", "0.003", "10", "2,560"],
        ["2: after the sweep", "cpu-xs", "Transformer++", "1, 2", "best of the sweep", "10", "20,480"],
        ["2: after the sweep", "cpu-xs", "DCFormer", "1, 2", "best of the sweep", "10", "20,480"]]
    ja = plan_table(preview.stages, "ja")
    assert ja.columns[0] == "ステージ" and ja.iloc[-1, 4] == "探索での最良値" and ja.iloc[0, 3] == "1、2"
    # without a sweep every run is queued at launch, at its preset's rate
    plain = plan_table(preview_study(LaunchForm(name="", seeds="1"), [], CPU).stages)
    assert plain["Stage"].tolist() == ["1: queued at launch"] * 2 and plain["Learning rate"].tolist() == ["0.003"] * 2


def test_the_preview_warns_why_a_ladder_cannot_give_the_multiplier():
    assert [k for k, _ in preview_study(LaunchForm(name=""), [], CPU).ladder] == ["ladder.few_sizes"]
    two = preview_study(LaunchForm(name="", presets=["tiny", "cpu-xs"], archs=["dcformer"]), [], CPU)
    assert [k for k, _ in two.ladder] == ["ladder.one_arch", "ladder.few_sizes", "ladder.narrow"]
    fixed = preview_study(LaunchForm(name="", presets=["cpu-xs", "cpu-s", "cpu-demo"], budget=50), [], CPU)
    assert [k for k, _ in fixed.ladder] == ["ladder.tokens_fixed"]      # 50 steps at every size


@pytest.mark.parametrize("name", list(REFERENCE_STUDIES))
def test_a_reference_study_prefills_the_form_and_comes_back_unchanged(name):
    form = start_form(name, CPU)
    reference = reference_study(name)
    assert (form.name, form.budget_kind, form.budget, form.sweep) == \
        (name, "tokens_per_param", reference.tokens_per_param, "each")
    assert form.lrs == "0.001, 0.003" and form.seeds == "1"
    assert form.ladder and form.confirm_seeds == "101, 102, 103"     # the ladder, confirmed
    assert (form.overrides, form.evals_per_run, form.workers) == \
        (reference.overrides, 10, reference.workers)
    offered, _ = form_choices(name, None)
    spec, problems = check_form(form, [], offered)
    assert problems == {} and spec == reference
    preview = preview_study(form, [], offered)
    assert len(preview.stages.runs) == 45 and len(preview.stages.first) == 18
    table = plan_table(preview.stages)
    assert set(table["Variant"]) == {"Transformer++", "Transformer++ + QK-norm", "DCFormer"}
    assert (table["Stage"] == "3: confirmation").sum() == 9 and "chosen rate" in set(table["Learning rate"])
    assert preview.ladder == []


def test_a_reference_starts_under_a_free_name_when_its_own_is_taken():
    # the Overview imports the recorded reference-cpu under that name: a new launch needs another
    assert start_form("reference-cpu", CPU).name == "reference-cpu"
    assert start_form("reference-cpu", CPU, taken={"reference-cpu"}).name == "reference-cpu-2"
    assert start_form("reference-cpu", CPU, taken={"reference-cpu", "reference-cpu-2"}).name == \
        "reference-cpu-3"


def test_reference_cpu_fills_the_widgets():
    state = form_state(start_form("reference-cpu", CPU))
    assert state["launch_presets"] == ["cpu-xs", "cpu-s", "cpu-demo"]
    assert (state["launch_budget_kind"], state["launch_budget_tokens_per_param"]) == ("tokens_per_param", 5.0)
    assert (state["launch_sweep"], state["launch_lrs"]) == ("each", "0.001, 0.003")
    assert (state["launch_corpus"], state["launch_corpus_path"], state["launch_device"]) == ("pydoc", "", "cpu")
    assert state["launch_budget_steps"] == 100 and isinstance(state["launch_budget_tokens_per_param"], float)
    assert state["launch_question"] == REFERENCE_QUESTION == t("study.reference_question", "en")
    in_japanese = form_state(start_form("reference-cpu", CPU, "auto", "ja"))
    assert in_japanese["launch_question"] == t("study.reference_question", "ja") != REFERENCE_QUESTION
    blank = form_state(start_form("blank", CPU, "auto"))
    assert (blank["launch_name"], blank["launch_presets"], blank["launch_seeds"]) == ("", ["tiny"], "1, 2")
    assert (blank["launch_budget_kind"], blank["launch_budget_steps"], blank["launch_sweep"]) == ("steps", 100, "none")
    path = form_state(form_from_spec(StudySpec(name="p", corpus="text:/data/notes.txt")))
    assert (path["launch_corpus"], path["launch_corpus_path"], path["launch_budget_kind"]) == \
        ("path", "/data/notes.txt", "preset")


def test_reference_gpu_is_planned_everywhere_but_launched_only_with_a_gpu():
    assert plan_only("reference-gpu", None) and not plan_only("reference-gpu", "NVIDIA H200")
    assert not plan_only("reference-cpu", None) and not plan_only("blank", None)
    presets, devices = form_choices("reference-gpu", None)
    assert presets == CPU + ["gpu-xs", "gpu-s", "gpu-small"] and devices == ["auto", "cpu", "cuda"]
    assert form_choices("blank", None) == (CPU, ["auto", "cpu"])
    form = start_form("reference-gpu", CPU)
    assert check_form(form, [], CPU)[1]["presets"][0] == "launch.err.preset_hw"
    preview = preview_study(form, [], presets)
    estimate = estimate_study(preview.stages.runs, estimate_device(form.device, None), {})
    assert estimate["n_runs"] == 45 and estimate["cost_usd"] > 0   # 18 swept + 27 confirmation
    assert estimate == estimate_study(plan_study(reference_study("reference-gpu")), PLANNING_GPU, {})


def test_every_launch_key_built_at_run_time_is_translated():
    from dcpoc.ui.i18n import LANGUAGES, STRINGS
    from dcpoc.studies import SWEEPS
    from dcpoc.ui.launch_form import BUDGET_KINDS
    keys = ([f"launch.budget.{k}" for k in BUDGET_KINDS] + [f"launch.sweep.{s}" for s in SWEEPS]
            + [f"launch.start.{s}" for s in ["blank", *REFERENCE_STUDIES]]
            + [f"launch.plan.stage{n}" for n in (1, 2)]
            + [f"launch.col.{c}" for c in ("stage", "preset", "arch", "seeds", "lr", "steps", "tokens")])
    for key in keys:
        assert all(STRINGS[key].get(lang, "").strip() for lang in LANGUAGES), key


# ----------------------------------------------------------------------------- the next step
def _study_runs(presets=("tiny",), seeds=(1, 2), status="succeeded"):
    rows = []
    for preset in presets:
        for arch in ("transformer", "dcformer"):
            for seed in seeds:
                rows.append({"id": f"{arch}-{preset}-{seed}", "study": "st", "arch": arch,
                             "preset": preset, "seed": seed, "status": status, "total_steps": 60,
                             "tokens_seen": 60 * 8 * 32, "corpus_spec": "pydoc", "device": "cpu",
                             "config": {"train": {"nproc": 1}}, "tokens_per_s": 5000.0,
                             "diverged": False})
    return pd.DataFrame(rows)


def _decision(verdict, needed=()):
    from dcpoc.decision import Decision
    return Decision(verdict, needed=list(needed))


def test_next_step_adds_the_next_preset_with_the_same_seeds():
    runs = _study_runs()
    step = next_step(_decision("INSUFFICIENT", [("need.sizes", {"n": 1, "have": 1})]), runs, "st")
    assert [(r.preset, r.model.arch, r.train.seed, r.train.steps) for r in step.plan] == [
        ("cpu-xs", "transformer", 1, 60), ("cpu-xs", "dcformer", 1, 60),
        ("cpu-xs", "transformer", 2, 60), ("cpu-xs", "dcformer", 2, 60)]
    expected = plan_study(StudySpec(name="st", presets=["cpu-xs"], seeds=[1, 2], steps=60))
    assert step.estimate == estimate_study(expected, "cpu", measured_throughput(runs))
    assert step.estimate["n_runs"] == 4 and step.estimate["n_measured"] == 0   # cpu-demo: assumed
    assert step.parts == [("next.what.sizes", {"presets": ["cpu-xs"], "seeds": ["1", "2"]})]
    # lists, joined in the reader's language
    assert "シード 1、2" in next_what(step, "ja") and "(seeds 1, 2)" in next_what(step, "en")


def test_next_step_adds_seeds_everywhere_and_uses_measured_speed():
    runs = _study_runs(presets=("tiny", "cpu-xs"), seeds=(1,))
    step = next_step(_decision("INSUFFICIENT", [("need.seeds", {"n": 2, "have": 1})]), runs, "st")
    assert sorted((r.preset, r.model.arch, r.train.seed) for r in step.plan) == sorted(
        (p, a, s) for p in ("tiny", "cpu-xs") for a in ("transformer", "dcformer") for s in (2, 3))
    assert step.estimate["n_measured"] == 8                  # tokens/s of the finished runs
    assert step.estimate == estimate_study(step.plan, "cpu", measured_throughput(runs))
    # both at once: new seeds at the new preset too, old seeds at the new preset
    both = next_step(_decision("INSUFFICIENT", [("need.sizes", {"n": 1, "have": 1}),
                                                ("need.seeds", {"n": 1, "have": 1})]),
                     _study_runs(seeds=(1,)), "st")
    assert sorted((r.preset, r.train.seed) for r in both.plan) == sorted(
        [("cpu-xs", 1)] * 2 + [("cpu-xs", 2)] * 2 + [("tiny", 2)] * 2)
    # the new size runs the new seed in its own part: the second names only the sizes already run
    # (it once read "... at tiny, cpu-xs", cpu-xs twice for 6 runs)
    assert both.parts == [("next.what.sizes", {"presets": ["cpu-xs"], "seeds": ["1", "2"]}),
                          ("next.what.seeds", {"seeds": ["2"], "presets": ["tiny"]})]
    assert next_what(both, "en") == ("run cpu-xs with both architectures (seeds 1, 2); "
                                     "add seed(s) 2 for both architectures at tiny")
    assert both.estimate["n_runs"] == len(both.plan) == 6


def test_next_step_by_verdict():
    runs = _study_runs()
    conditional = next_step(_decision("CONDITIONAL"), runs, "st")
    assert {(r.preset, r.train.seed) for r in conditional.plan} == {("tiny", 3)}
    assert len(conditional.plan) == 2
    go = next_step(_decision("GO"), runs, "st")
    assert {r.preset for r in go.plan} == {"cpu-xs"}
    assert next_step(_decision("NO-GO"), runs, "st") is None
    assert next_step(_decision("INSUFFICIENT", [("need.speed", {})]), runs, "st") is None
    assert next_step(_decision("GO"), runs.iloc[:0], "st") is None
    on_gpu = next_step(_decision("GO"), runs, "st", device_name="NVIDIA H100")
    assert on_gpu.device == "NVIDIA H100" and on_gpu.estimate["cost_usd"] > 0


def test_a_cpu_study_grows_by_the_sizes_a_cpu_can_run():
    """At the CPU ladder's top, 'one more size' planned gpu-xs priced on the CPU (days), then the
    test preset tiny: a CPU has no size left to add; priced on a GPU, the ladder's next rung."""
    runs = _study_runs(presets=("cpu-xs", "cpu-s", "cpu-demo"))
    more = _decision("INSUFFICIENT", [("need.sizes", {"n": 1, "have": 3})])
    assert next_step(more, runs, "st") is None
    assert {r.preset for r in next_step(more, runs, "st", device_name="NVIDIA H100").plan} == {"gpu-xs"}
    # GO's next size is a larger one: never a smaller rung
    assert next_step(_decision("GO"), _study_runs(presets=("cpu-s", "cpu-demo")), "st") is None
    # runs that never reached a device (failed at once) but ask for CUDA: a GPU study, planned on a GPU
    unplaced = _study_runs(presets=("gpu-xs",), status="failed")
    unplaced = unplaced.assign(device=None, config=[{"train": {"device": "cuda", "nproc": 1}}] * len(unplaced))
    assert {r.preset for r in next_step(more, unplaced, "st").plan} == {"gpu-s"}
    # while some are still queued, nothing is planned: what they add decides what is missing
    assert next_step(more, unplaced.assign(status="queued"), "st") is None


def test_a_conditional_plans_what_its_flips_name():
    from dcpoc.decision import Decision
    tie = Decision("CONDITIONAL", flips=[("flip.conditional_loss", {}), ("flip.go_sizes_also", {"n": 2, "need": 3})])
    runs = _study_runs(presets=("tiny", "cpu-xs"))
    planned = {(r.preset, r.train.seed) for r in next_step(tie, runs, "st").plan}
    assert ("cpu-s", 1) in planned and any(seed == 3 for _, seed in planned)   # a size and a seed
    held = Decision("CONDITIONAL", flips=[("flip.go_sizes", {"n": 2, "need": 4})])
    assert {r.preset for r in next_step(held, runs, "st").plan} == {"cpu-s", "cpu-demo"}


def test_next_step_runs_the_missing_architecture_and_failed_runs_again():
    runs = _study_runs(seeds=(1, 2))
    runs = runs[runs["arch"].eq("transformer")].assign(config=[{"train": {"nproc": 1, "lr": 2e-3}}] * 2,
                                                       final_val_loss=[2.0, float("nan")],
                                                       flops_per_token=1e6, corpus_fingerprint="f")
    runs.loc[runs["seed"].eq(2), "status"] = "failed"
    step = next_step(_decision("INSUFFICIENT", [("need.arch", {"arch": "DCFormer"}),
                                                ("need.failed", {"n": 1})]), runs, "st")
    assert step.parts == [("next.what.arch", {"arch": "DCFormer", "presets": ["tiny"]}),
                          ("next.what.failed", {"n": 1})]
    assert [(r.model.arch, r.train.seed) for r in step.plan] == [("dcformer", 1), ("dcformer", 2),
                                                                  ("transformer", 2)]
    assert step.plan[-1].train.lr == 2e-3          # the failed run again, at its own rate


def _ladder_runs():
    """A finished ladder study at tiny and cpu-xs: seed 1 swept at 1e-3 and 3e-3 (DCFormer best at
    1e-3, both Transformer++ variants at 3e-3), then confirmation seeds 101 and 102 at those rates."""
    chosen = {"transformer": 3e-3, "transformer-qknorm": 3e-3, "dcformer": 1e-3}
    rows = []
    for preset in ("tiny", "cpu-xs"):
        for variant, rate in chosen.items():
            arch, qk = ("dcformer", True) if variant == "dcformer" else ("transformer", variant.endswith("qknorm"))
            sweep = [(1, lr, 2.0 - 0.1 * (lr == rate)) for lr in (1e-3, 3e-3)]
            for seed, lr, loss in sweep + [(101, rate, 1.9), (102, rate, 1.9)]:
                rows.append({"id": f"{variant}-{preset}-{seed}-{lr}", "study": "st", "arch": arch,
                             "preset": preset, "seed": seed, "status": "succeeded", "total_steps": 60,
                             "tokens_seen": 60 * 8 * 32, "corpus_spec": "pydoc", "device": "cpu",
                             "corpus_fingerprint": "f", "flops_per_token": 1e6, "final_val_loss": loss,
                             "config": {"train": {"nproc": 1, "lr": lr}, "model": {"qk_norm": qk}},
                             "tokens_per_s": 5000.0, "diverged": False})
    return pd.DataFrame(rows), chosen


def test_next_step_of_a_ladder_study_adds_confirmation_seeds_at_the_chosen_rates():
    runs, chosen = _ladder_runs()
    config = {"variants": ["transformer", "transformer-qknorm", "dcformer"], "confirm_seeds": [101, 102],
              "confirm_stage": "queued",
              "confirmed_lr": {f"{p} {v}": lr for p in ("tiny", "cpu-xs") for v, lr in chosen.items()}}
    step = next_step(_decision("CONDITIONAL"), runs, "st", study_config=config)
    assert step.parts == [("next.what.confirm_ladder", {
        "seeds": ["103"], "presets": ["tiny", "cpu-xs"],
        "variants": ["Transformer++", "Transformer++ + QK-norm", "DCFormer"]})]
    planned = {(r.preset, r.model.arch, r.model.qk_norm, r.train.seed, r.train.lr) for r in step.plan}
    assert len(step.plan) == 6 and planned == {
        (p, "dcformer" if v == "dcformer" else "transformer", v != "transformer", 103, lr)
        for p in ("tiny", "cpu-xs") for v, lr in chosen.items()}
    # without the stored stage the chosen rates come from the sweep itself, per variant and size
    assert {(r.preset, r.model.qk_norm, r.train.lr) for r in next_step(
        _decision("CONDITIONAL"), runs, "st", study_config={**config, "confirm_stage": "waiting"}).plan} \
        == {(p, v != "transformer", lr) for p in ("tiny", "cpu-xs") for v, lr in chosen.items()}
    grown = next_step(_decision("GO"), runs, "st", study_config=config)
    assert grown.parts[0][0] == "next.what.sizes_ladder" and grown.parts[0][1]["presets"] == ["cpu-s"]
    # the new size is swept (seed 1, two rates) and confirmed (seeds 101, 102): 3 x (2 + 2) runs
    assert len(grown.plan) == 12 and {r.preset for r in grown.plan} == {"cpu-s"}
    assert {r.train.seed for r in grown.plan} == {1, 101, 102}
    plain = next_step(_decision("CONDITIONAL"), runs, "st")      # no stored config: both archs
    assert plain.parts[0][0] == "next.what.seeds"


def test_studies_never_import_the_ui():
    """The CLI plans and prices studies without the dashboard's strings or charts."""
    import ast
    from conftest import REPO_ROOT
    for path in (REPO_ROOT / "dcpoc" / "studies").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert not (node.module or "").startswith(("ui", "dcpoc.ui")), path.name


def test_the_ladder_checkbox_and_confirmation_seeds_reach_the_spec():
    form = LaunchForm(name="l", presets=["tiny"], archs=[], seeds="1", sweep="each", lrs="1e-3, 3e-3",
                      ladder=True, confirm_seeds="11, 12")
    spec, problems = check_form(form, [], CPU)
    assert problems == {} and spec.variants == ["transformer", "transformer-qknorm", "dcformer"]
    assert spec.confirm_seeds == [11, 12] and len(preview_study(form, [], CPU).stages.confirm) == 6
    bad = LaunchForm(**{**form.__dict__, "confirm_seeds": "11, x"})
    assert check_form(bad, [], CPU)[1] == {"confirm_seeds": ("launch.err.confirm_seeds", {})}
    reused = LaunchForm(**{**form.__dict__, "confirm_seeds": "1, 12"})       # a sweep seed is not fresh
    assert "fresh seeds" in check_form(reused, [], CPU)[1]["plan"][1]["detail"]
