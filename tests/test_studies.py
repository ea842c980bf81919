"""Fair studies: learning-rate sweep plans, best-rate selection, the rate carried to the larger
sizes, ladder warnings, the shipped reference studies, and a shrunken reference study trained end
to end by a real worker into a report."""
import itertools
import math
import os

import pandas as pd
import pytest

from dcpoc.decision import tuning
from dcpoc.config import ConfigError
from dcpoc.studies.spec import (REFERENCE_STUDIES, StudySpec, carry_lr, default_lr_grid, ladder_problems,
                           plan_stages, plan_study, reference_study)

from conftest import run_cli


def spec(**changes) -> StudySpec:
    return StudySpec(**{"name": "s", "presets": ["cpu-demo", "tiny", "cpu-s"], "seeds": [1, 2],
                        "steps": 10, **changes})


# ----------------------------------------------------------------------------- plans
def test_sweep_at_the_smallest_size_then_the_rest_waits():
    plan = plan_stages(spec(sweep="smallest", lr_grid=[3e-4, 1e-3, 3e-3]))
    assert {r.preset for r in plan.first} == {"tiny"}          # ladder order, not the given order
    assert sorted({(r.model.arch, r.train.lr) for r in plan.first}) == sorted(
        (a, lr) for a in ("transformer", "dcformer") for lr in (3e-4, 1e-3, 3e-3))
    assert len(plan.first) == 3 * 2 * 2
    assert [r.preset for r in plan.later] == ["cpu-s"] * 4 + ["cpu-demo"] * 4
    assert [(r.train.seed, r.model.arch) for r in plan.first[:2]] == [(1, "transformer"), (1, "dcformer")]


def test_sweep_each_size_queues_everything_at_once_with_the_default_grid():
    plan = plan_stages(spec(sweep="each", presets=["tiny", "cpu-demo"]))
    assert plan.later == []
    assert sorted({(r.preset, r.train.lr) for r in plan.first}) == [
        ("cpu-demo", 0.0003), ("cpu-demo", 0.001), ("cpu-demo", 0.003),
        ("tiny", 0.0009), ("tiny", 0.003), ("tiny", 0.009)]
    assert default_lr_grid(1e-3) == [3e-4, 1e-3, 3e-3]


def test_no_sweep_keeps_the_preset_rate():
    runs = plan_study(spec())
    assert {(r.preset, r.train.lr) for r in runs} == {("tiny", 3e-3), ("cpu-s", 1e-3), ("cpu-demo", 1e-3)}


def test_carried_rate_reaches_the_larger_sizes_configs():
    plan = plan_stages(spec(sweep="smallest", lr_grid=[1e-3, 3e-3]))
    carried = carry_lr(plan.later, {"transformer": 3e-3, "dcformer": 1e-3})
    assert {(r.preset, r.model.arch, r.to_dict()["train"]["lr"]) for r in carried} == {
        (p, a, lr) for p in ("cpu-s", "cpu-demo") for a, lr in (("transformer", 3e-3), ("dcformer", 1e-3))}
    with pytest.raises(KeyError):
        carry_lr(plan_stages(spec(sweep="smallest")).later, {"transformer": 1e-3})


def test_tokens_per_parameter_scales_the_budget_and_evals_per_run():
    plan = plan_study(spec(steps=None, tokens_per_param=2.0, evals_per_run=4))
    steps = {r.preset: r.train.steps for r in plan}
    assert steps["tiny"] < steps["cpu-s"] < steps["cpu-demo"]
    tokens = {r.preset: r.train.steps * r.train.batch_size * r.model.seq_len for r in plan}
    assert tokens["cpu-demo"] == pytest.approx(2.0 * 836_992, rel=0.01)   # Transformer++ non-embedding
    assert all(r.train.eval_every == max(1, r.train.steps // 4) for r in plan)
    both = {(r.preset, r.model.arch): r.train.steps for r in plan}
    assert both[("cpu-s", "dcformer")] == both[("cpu-s", "transformer")]     # same tokens for both


@pytest.mark.parametrize("changes, match", [
    ({"sweep": "sometimes"}, "sweep 'sometimes'"),
    ({"lr_grid": [1e-3]}, "needs a sweep"),
    ({"sweep": "each", "lr_grid": [1e-3, 1e-3]}, "repeats"),
    ({"sweep": "each", "lr_grid": [0.0]}, "between 0 and 1"),
    ({"sweep": "each", "overrides": ["lr=1e-3"]}, "lr is swept"),
    ({"tokens_per_param": 5.0}, "not several"),
    ({"steps": None, "tokens_per_param": -1.0}, "positive"),
    # a budget the steps cannot hold: it queued runs of trillions of steps (10^23: an internal error
    # after the study was written)
    ({"steps": None, "tokens": 10**15}, r"budget of 1,000,000,000,000,000 tokens per run at .* smaller --tokens"),
    ({"steps": None, "tokens": 10**23}, "steps .* must be between 1 and 1,000,000,000"),
])
def test_bad_sweep_specs_are_one_line_errors(changes, match):
    with pytest.raises(ConfigError, match=match) as e:
        plan_study(spec(**changes))
    assert "\n" not in str(e.value)


def test_a_budget_too_large_writes_nothing(dcpoc_home):
    done = run_cli("study", "launch", "--name", "huge", "--tokens", str(10**23), "--no-worker")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "--tokens" in done.stderr, done.stderr
    assert "no studies yet" in run_cli("study", "list").stdout


# ----------------------------------------------------------------------------- best rate
def _runs(rows) -> pd.DataFrame:
    """counted_runs-like rows: (preset, arch, lr, seed, loss)."""
    return pd.DataFrame([{"id": f"r{i}", "preset": p, "arch": a, "seed": s, "loss": loss,
                          "tokens": 1000.0, "config": {"train": {"lr": lr}}}
                         for i, (p, a, lr, s, loss) in enumerate(rows)])


SWEEP = _runs([(p, a, lr, s, loss)
               for p, a, lr, s, loss in [
                   ("tiny", "transformer", 3e-4, 1, 1.40), ("tiny", "transformer", 3e-4, 2, 1.42),
                   ("tiny", "transformer", 1e-3, 1, 1.35), ("tiny", "transformer", 1e-3, 2, 1.35),
                   ("tiny", "transformer", 3e-3, 1, 1.33), ("tiny", "transformer", 3e-3, 2, 1.33),
                   ("tiny", "dcformer", 3e-4, 1, 1.38), ("tiny", "dcformer", 3e-4, 2, 1.38),
                   ("tiny", "dcformer", 1e-3, 1, 1.30), ("tiny", "dcformer", 1e-3, 2, 1.31),
                   ("tiny", "dcformer", 3e-3, 1, 1.35), ("tiny", "dcformer", 3e-3, 2, 1.35),
                   ("cpu-s", "transformer", 3e-3, 1, 1.20), ("cpu-s", "dcformer", 1e-3, 1, 1.15)]])


def test_best_rate_per_architecture_and_the_runs_compared():
    assert tuning.best_lrs(SWEEP, "tiny") == {"transformer": 3e-3, "dcformer": 1e-3}
    table = tuning.lr_table(SWEEP)
    tiny = table[table["preset"].eq("tiny")]
    assert tiny.loc[tiny["arch"].eq("dcformer") & tiny["lr"].eq(1e-3), "loss"].item() == pytest.approx(1.305)
    assert list(tiny.loc[tiny["best"] & tiny["edge"], "arch"]) == ["transformer"]   # 3e-3: grid edge
    kept = tuning.at_best_lr(SWEEP)
    assert sorted(zip(kept["preset"], kept["arch"], kept["config"].map(tuning.run_lr))) == sorted(
        [("tiny", "transformer", 3e-3)] * 2 + [("tiny", "dcformer", 1e-3)] * 2
        + [("cpu-s", "transformer", 3e-3), ("cpu-s", "dcformer", 1e-3)])


def test_ties_go_to_the_lower_rate():
    tied = _runs([("tiny", "transformer", 3e-3, 1, 1.3), ("tiny", "transformer", 1e-3, 1, 1.3)])
    assert tuning.best_lrs(tied, "tiny") == {"transformer": 1e-3}


def test_sensitivity_reports_spread_and_a_flip_of_the_difference():
    found = tuning.sensitivity(SWEEP)
    assert found["preset"] == "tiny" and found["best"] == {"transformer": 3e-3, "dcformer": 1e-3}
    assert found["spread"]["transformer"] == pytest.approx(0.08)
    assert found["diff_by_lr"][1e-3] == pytest.approx(1.305 - 1.35)
    assert found["diff_by_lr"][3e-3] == pytest.approx(0.02)
    assert found["flips"] and found["edge"] == ["transformer"]
    assert tuning.sensitivity(SWEEP[SWEEP["preset"].eq("cpu-s")]) is None     # no sweep there


# ----------------------------------------------------------------------------- ladders
def test_a_narrow_or_short_ladder_gets_the_warning():
    keys = lambda s: [k for k, _ in ladder_problems(s)]  # noqa: E731
    assert keys(spec(presets=["tiny"])) == ["ladder.few_sizes"]
    assert keys(spec(presets=["cpu-xs", "cpu-s"], steps=None, tokens_per_param=5.0)) == [
        "ladder.few_sizes", "ladder.narrow"]
    assert keys(spec(presets=["cpu-xs", "cpu-s", "cpu-demo"])) == ["ladder.tokens_fixed"]
    assert keys(spec(presets=["cpu-xs", "cpu-s", "cpu-demo"], steps=None, tokens_per_param=5.0,
                     archs=["dcformer"])) == ["ladder.one_arch"]


@pytest.mark.parametrize("name", list(REFERENCE_STUDIES))
def test_reference_studies_can_estimate_the_multiplier(name):
    """The ladder (3 variants) at 3 sizes, every size swept on one seed, then 3 fresh seeds per
    variant at its chosen rate decide (the confirmation stage)."""
    from dcpoc.config import VARIANTS
    ref = reference_study(name)
    assert ladder_problems(ref) == [] and ref.sweep == "each"
    assert ref.variants == list(VARIANTS) and len(ref.confirm_seeds) >= 3
    plan = plan_stages(ref)
    assert len(plan.first) == 3 * 3 * 2 and plan.later == [] and len(plan.confirm) == 3 * 3 * 3
    assert {(r.preset, r.train.lr) for r in plan.first} == {(p, lr) for p in ref.presets for lr in (1e-3, 3e-3)}
    ref.presets.append("tiny")                   # a copy: the shipped spec is unchanged
    assert "tiny" not in REFERENCE_STUDIES[name].presets
    with pytest.raises(ConfigError, match="unknown reference study"):
        reference_study("reference-tpu")


def test_cli_plans_a_reference_study_with_its_cost(dcpoc_home):
    out = run_cli("study", "plan", "--reference", "reference-gpu")
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("\ngpu-xs ") == 15 and out.stdout.count("\ngpu-small ") == 15   # 6 swept + 9 fresh
    assert "device-hours" in out.stdout and "warning" not in out.stdout
    cpu = run_cli("study", "plan", "--reference", "reference-cpu", "--sweep", "smallest")
    assert cpu.returncode == 0 and cpu.stdout.count(" best* ") == 6 and "with 2 CPU worker slots" in cpu.stdout
    narrow = run_cli("study", "plan", "--name", "n", "--presets", "tiny,cpu-xs", "--steps", "5")
    assert narrow.returncode == 0 and "warning: 2 model size(s)" in narrow.stdout
    bad = run_cli("study", "plan", "--reference", "reference-cpu", "--lrs", "1e-3,x")
    assert bad.returncode == 2 and bad.stderr.startswith("error: --lrs")


# ----------------------------------------------------------------------------- end to end
MINI = dict(name="mini-reference", question="same loss for less?", presets=["tiny", "cpu-xs"],
            seeds=[1, 2], steps=8, sweep="smallest", lr_grid=[1e-3, 1e-2], evals_per_run=2,
            overrides=["batch_size=4", "seq_len=32", "eval_batches=1", "threads=1"])


def test_shrunken_reference_study_runs_through_the_worker_into_a_report(dcpoc_home):
    from dcpoc import report
    from dcpoc.decision import Decision, counted_runs, load_decision
    from dcpoc.runs import launch_study, run_worker, study_stage
    from dcpoc.runs.store import Store
    store = Store()
    first = launch_study(store, StudySpec(**MINI), start_worker=False)
    assert len(first) == 8 and study_stage(store, "mini-reference")["state"] == "sweeping"
    assert run_worker(store) == 12                       # the sweep, then the carried stage
    runs = store.list_runs(study="mini-reference")
    assert set(runs["status"]) == {"succeeded"} and len(runs) == 12
    sweep = counted_runs(runs[runs["preset"].eq("tiny")], best_lr=False)
    best = tuning.best_lrs(sweep, "tiny")
    larger = runs[runs["preset"].eq("cpu-xs")]
    assert {(a, tuning.run_lr(c)) for a, c in zip(larger["arch"], larger["config"])} == set(best.items())
    stage = study_stage(store, "mini-reference")
    assert stage == {"state": "queued", "best": best}
    counted = counted_runs(runs)
    assert len(counted[counted["preset"].eq("tiny")]) == 4          # the best rate's runs only
    summary = load_decision(store, "mini-reference")
    text = report.render(summary, "md", "en").decode()
    assert text.startswith("# mini-reference: ") and all(math.isfinite(v) for v in best.values())
    sweep_section = text.split("## Learning-rate sensitivity", 1)[1].split("## ", 1)[0]
    assert sweep_section.count("| tiny |") == 2 and sweep_section.count("*") >= 2
    same_rate = best["transformer"] == best["dcformer"]      # one best rate: no rate of its own
    assert ("The learning rate matters: at tiny both did best at" if same_rate
            else "DCFormer needs its own tuning: at tiny the best rates were") in text
    assert "Each variant is compared at its own best learning rate" in text
    assert summary.decision.lr_sensitivity["best"] == best
    ja = report.render(summary, "md", "ja").decode()
    assert "## 学習率への感度" in ja and ("学習率の影響があります" if same_rate else "DCFormer には専用の調整が必要") in ja
    from dcpoc.decision.next_step import next_step               # a larger size keeps the swept rates
    step = next_step(Decision("INSUFFICIENT", needed=[("need.sizes", {"n": 1, "have": 2})]),
                     runs, "mini-reference")
    assert {r.preset for r in step.plan} == {"cpu-s"}
    assert {(r.model.arch, r.train.lr) for r in step.plan} == set(best.items())


def test_later_stage_waits_for_the_sweep_and_is_queued_once(dcpoc_home):
    """Sweep rows written directly (no training): queued -> sweeping; failed DCFormer runs ->
    blocked, naming them; once retries of them finished (one diverged at the high rate, which
    still answers the sweep) -> the larger sizes are queued, and a second advance (another worker)
    finds the stage already flipped and queues nothing. A second staged sweep into the same study
    is refused."""
    from dcpoc.runs import launch_study, retry_run, study_stage
    from dcpoc.runs.stages import _queue_stage, advance_studies
    from dcpoc.runs.store import Store
    store = Store()
    ids = launch_study(store, StudySpec(**MINI), start_worker=False)
    assert advance_studies(store) == [] and study_stage(store, "mini-reference")["state"] == "sweeping"
    rows = store.list_runs(study="mini-reference").set_index("id").loc[ids]
    for run_id, arch, config in zip(ids, rows["arch"], rows["config"]):
        if arch == "dcformer":
            store.update_run(run_id, status="failed", error="boom")
        else:                                        # the lower rate wins
            store.update_run(run_id, status="succeeded", final_val_loss=1.0 + config["train"]["lr"],
                             tokens_seen=256)
    blocked = study_stage(store, "mini-reference")
    assert blocked["state"] == "blocked" and len(blocked["missing"]) == 4
    assert "dcformer lr 0.01 seed 1" in blocked["missing"] and advance_studies(store) == []
    for run_id in rows.index[rows["arch"].eq("dcformer")]:
        retried = retry_run(store, run_id, start_worker=False)
        high = store.get_run(retried)["config"]["train"]["lr"] == 1e-2
        store.update_run(retried, status="failed" if high else "succeeded",
                         final_val_loss=math.nan if high else 1.5, tokens_seen=256)
    assert study_stage(store, "mini-reference")["best"] == {"transformer": 1e-3, "dcformer": 1e-3}
    ready = study_stage(store, "mini-reference")
    queued = advance_studies(store)
    assert len(queued) == 4 and advance_studies(store) == []          # the stage flipped once
    # a worker that read the stage as ready, then lost the race: it queues nothing, leaves no files
    before = (set(os.listdir(dcpoc_home)), len(store.list_runs()))
    later_runs = carry_lr(plan_stages(ready["spec"]).later, ready["best"])
    assert _queue_stage(store, "mini-reference", "later_stage", "carried_lr", ready, later_runs) == []
    assert (set(os.listdir(dcpoc_home)), len(store.list_runs())) == before
    later = store.list_runs(study="mini-reference").set_index("id").loc[queued]
    assert set(later["preset"]) == {"cpu-xs"} and set(later["status"]) == {"queued"}
    assert {c["train"]["lr"] for c in later["config"]} == {1e-3}
    assert (dcpoc_home / queued[0] / "config.json").exists()
    with pytest.raises(ConfigError, match="needs a study of its own"):
        launch_study(store, StudySpec(**MINI), start_worker=False)


def test_study_list_says_blocked_and_names_the_variants_as_runs_does(dcpoc_home):
    """README: a blocked sweep shows `blocked` in `study list`, with what is missing named as
    `runs` names it (transformer-qknorm, not the arch alone)."""
    from dcpoc.runs import launch_study
    from dcpoc.runs.store import Store
    store = Store()
    for run_id in launch_study(store, StudySpec(**MINI), start_worker=False):
        store.update_run(run_id, status="failed", error="boom")
    listed = run_cli("study", "list").stdout
    line = next(line for line in listed.splitlines() if "learning-rate sweep" in line)
    assert line.startswith("  learning-rate sweep: blocked, runs missing: retry them"), line
    assert "transformer-qknorm lr 0.001 seed 1" in line and "dcformer lr 0.01 seed 2" in line
    assert "transformer-qknorm" in run_cli("runs").stdout


def test_best_rate_is_chosen_per_corpus_and_unkeyed_runs_stay():
    a = _runs([("tiny", "transformer", 1e-3, 1, 1.0), ("tiny", "transformer", 3e-3, 1, 1.1)])
    b = _runs([("tiny", "transformer", 1e-3, 1, 2.1), ("tiny", "transformer", 3e-3, 1, 2.0)])
    both = pd.concat([a.assign(corpus_fingerprint="A"), b.assign(corpus_fingerprint="B", id=["b0", "b1"])],
                     ignore_index=True)
    kept = tuning.at_best_lr(both)
    assert sorted(zip(kept["corpus_fingerprint"], kept["config"].map(tuning.run_lr))) == [("A", 1e-3), ("B", 3e-3)]
    no_tokens = a.assign(tokens=[1000.0, math.nan])
    assert len(tuning.at_best_lr(no_tokens)) == 2        # the run without a token count is not dropped


def test_a_diverged_high_rate_is_a_sweep_result_not_a_failure():
    from dcpoc.decision import decide
    rows = []
    for preset, params, tf, dc in (("cpu-xs", 1e5, 2.0, 1.9), ("cpu-s", 3e5, 1.8, 1.7), ("cpu-demo", 8e5, 1.6, 1.5)):
        for seed, eps in ((1, 0.0), (2, 0.004)):
            for arch, loss in (("transformer", tf + eps), ("dcformer", dc + eps)):
                for lr, extra in ((1e-3, 0.0), (3e-3, math.nan if arch == "dcformer" else 0.05)):
                    rows.append({"id": f"{preset}-{arch}-{seed}-{lr}", "study": "st", "arch": arch,
                                 "preset": preset, "seed": seed, "final_val_loss": loss + extra,
                                 "status": "failed" if math.isnan(extra) else "succeeded",
                                 "diverged": math.isnan(extra), "tokens_seen": 20 * params,
                                 "flops_per_token": 6 * params, "n_params": params,
                                 "tokens_per_s": 1000.0, "corpus_fingerprint": "fp", "corpus_spec": "pydoc",
                                 "device": "cpu", "config": {"train": {"lr": lr, "nproc": 1}},
                                 "wall_s": 1.0, "cost_usd": 0.0, "created_at": pd.Timestamp("2026-01-01"),
                                 "finished_at": pd.Timestamp("2026-01-01")})
    decision = decide(pd.DataFrame(rows), "st")
    assert decision.n_failed == 0 and "need.failed" not in dict(decision.needed)
    assert decision.lr_sensitivity["preset"] == "cpu-demo"             # the largest swept size
    reason = dict(decision.reasons)["reason.best_lr"]
    from dcpoc.report.text import listing
    assert listing(reason["rates"], "en") == (
        "cpu-xs: Transformer++ + QK-norm 0.001, DCFormer 0.001; cpu-s: Transformer++ + QK-norm 0.001, "
        "DCFormer 0.001; cpu-demo: Transformer++ + QK-norm 0.001, DCFormer 0.001")
    assert listing(reason["rates"], "ja").startswith(
        "cpu-xs：Transformer++ + QK-norm 0.001、DCFormer 0.001；cpu-s：")
    assert (reason["n"], reason["excluded"]) == (12, 6)
    from dcpoc.report import lr_sweep_table
    table = lr_sweep_table(decision, "en")
    assert set(table.loc[table["Learning rate"].eq("0.003"), "DCFormer"]) == {"diverged"}
    risk = dict(decision.risks)["risk.lr_diverged"]
    assert risk == {"where": [("DCFormer", ["0.003"])], "preset": "cpu-demo"}


def test_the_sweep_table_names_the_budget_of_a_size_swept_at_two():
    # cpu-xs swept at 20 and at 40 steps, cpu-s at 20: the two cpu-xs cells say their step counts
    # (as the Overview and the comparison table do, in the reader's language), cpu-s stays bare
    from dcpoc.decision import decide
    from dcpoc.report import lr_sweep_table
    rows = []
    for preset, params, steps in (("cpu-xs", 1e5, 20), ("cpu-xs", 1e5, 40), ("cpu-s", 3e5, 20)):
        for seed, arch, lr in itertools.product((1, 2), ("transformer", "dcformer"), (1e-3, 3e-3)):
            rows.append({"id": f"{preset}-{steps}-{arch}-{seed}-{lr}", "study": "st", "arch": arch,
                         "preset": preset, "seed": seed, "status": "succeeded", "diverged": False,
                         "final_val_loss": 2.0 - steps / 100 + lr * 10 + 0.001 * seed,
                         "total_steps": steps, "tokens_seen": steps * 256, "flops_per_token": 6 * params,
                         "n_params": params, "tokens_per_s": 1000.0, "corpus_fingerprint": "fp",
                         "corpus_spec": "pydoc", "device": "cpu",
                         "config": {"train": {"lr": lr, "nproc": 1}}, "wall_s": 1.0, "cost_usd": 0.0,
                         "created_at": pd.Timestamp("2026-01-01"), "finished_at": pd.Timestamp("2026-01-01")})
    decision = decide(pd.DataFrame(rows), "st")
    assert list(dict.fromkeys(lr_sweep_table(decision, "en")["Model size"])) == [
        "cpu-s", "cpu-xs · 20 steps", "cpu-xs · 40 steps"]
    assert list(dict.fromkeys(lr_sweep_table(decision, "ja")["モデルサイズ"])) == [
        "cpu-s", "cpu-xs · 20 ステップ", "cpu-xs · 40 ステップ"]


def test_a_rate_that_diverged_on_one_seed_is_not_chosen_on_the_others():
    # DCFormer at 1e-3: 1.05 on seed 1, diverged on seed 2; at 3e-3: 1.08 and 1.09. The survivor's
    # 1.05 alone must not make 1e-3 the rate the comparison and the confirmation stage use
    from dcpoc.decision.compare import counted_runs
    from dcpoc.decision.confirmation import chosen_rates
    rows = [("dcformer", 1e-3, 1, 1.05), ("dcformer", 1e-3, 2, math.nan), ("dcformer", 3e-3, 1, 1.08),
            ("dcformer", 3e-3, 2, 1.09), ("transformer", 1e-3, 1, 1.10), ("transformer", 1e-3, 2, 1.11)]
    runs = pd.DataFrame([{"id": f"r{i}", "study": "st", "arch": arch, "preset": "tiny", "seed": seed,
                          "final_val_loss": loss, "status": "failed" if math.isnan(loss) else "succeeded",
                          "diverged": math.isnan(loss), "tokens_seen": 1000.0 if loss == loss else 400.0,
                          "total_steps": 10, "flops_per_token": 6.0, "tokens_per_s": 1.0,
                          "corpus_fingerprint": "fp",
                          "config": {"train": {"lr": lr, "batch_size": 10}, "model": {"seq_len": 10}}}
                         for i, (arch, lr, seed, loss) in enumerate(rows)])
    kept = counted_runs(runs)
    assert set(kept.loc[kept["arch"].eq("dcformer"), "config"].map(tuning.run_lr)) == {3e-3}
    assert chosen_rates(runs, ["tiny"], by_variant=False) == {"tiny dcformer": 3e-3,
                                                               "tiny transformer": 1e-3}


def test_next_step_keeps_the_study_settings():
    from dcpoc.decision.next_step import study_spec_from_runs
    plan = plan_study(reference_study("reference-cpu"))
    runs = pd.DataFrame([{"id": f"r{i}", "study": "ref", "preset": r.preset, "arch": r.model.arch,
                          "seed": r.train.seed, "config": r.to_dict(), "total_steps": r.train.steps,
                          "corpus_spec": "pydoc", "status": "succeeded", "tokens_seen": 1.0}
                         for i, r in enumerate(plan)])
    spec = study_spec_from_runs(runs, "ref")
    assert (spec.tokens_per_param, spec.steps, spec.tokens) == (5.0, None, None)
    assert spec.overrides == ["threads=1"] and (spec.sweep, spec.lr_grid) == ("each", [1e-3, 3e-3])


def test_a_ladder_sweep_carries_each_variants_own_rate(dcpoc_home):
    """Sweep rows written directly (no training): the two Transformer++ rungs choose their rates
    apart (the stage reads variants, as the confirmation stage does), and the carried stage queues
    each variant at its own rate."""
    from dcpoc.config import VARIANTS
    from dcpoc.runs import launch_study, study_stage
    from dcpoc.runs.stages import advance_studies
    from dcpoc.runs.store import Store
    store = Store()
    spec = StudySpec(**{**MINI, "seeds": [1], "variants": list(VARIANTS)})
    ids = launch_study(store, spec, start_worker=False)
    rows = store.list_runs(study="mini-reference").set_index("id").loc[ids]
    wins_high = "transformer"                    # only this rung is better at the higher rate
    for run_id, variant, config in zip(ids, rows["variant"], rows["config"]):
        lr = config["train"]["lr"]
        loss = 1.0 - lr if variant == wins_high else 1.0 + lr
        store.update_run(run_id, status="succeeded", final_val_loss=loss, tokens_seen=256)
    chosen = {"transformer": 1e-2, "transformer-qknorm": 1e-3, "dcformer": 1e-3}
    assert study_stage(store, "mini-reference")["best"] == chosen
    queued_ids = advance_studies(store)
    queued = store.list_runs(study="mini-reference").set_index("id").loc[queued_ids]
    assert {(v, c["train"]["lr"]) for v, c in zip(queued["variant"], queued["config"])} == set(chosen.items())
