"""Pure functions behind the pages: runs tables, headline numbers, Pareto front, config differences."""
import math

import numpy as np
import pandas as pd
import pytest

from dcpoc.decision.facts import run_price_per_hour, with_cost
from dcpoc.decision.views import (config_differences, downsample, filter_runs, flatten,
                                  headline_by_preset, headline_studies, live_runs_table, pareto_front,
                                  run_environment, run_summary, runs_table, status_counts)


def runs_frame(*rows: dict) -> pd.DataFrame:
    """Run records shaped like Store.list_runs (only the columns the functions read)."""
    base = {"study": "s", "preset": "tiny", "status": "succeeded", "seed": 1, "step": 20,
            "total_steps": 20, "final_val_loss": 4.0, "tokens_per_s": 1000.0,
            "peak_mem_bytes": 2**20, "wall_s": 10.0, "cost_usd": 0.001, "diverged": False,
            "corpus_spec": "pydoc", "corpus_fingerprint": "fp-pydoc", "device": "cpu",
            "config": {"train": {}}, "created_at": pd.Timestamp("2026-01-01", tz="UTC"),
            "finished_at": pd.Timestamp("2026-01-02", tz="UTC")}
    return pd.DataFrame([{**base, **row} for row in rows])


def test_runs_table_keeps_its_columns_and_loss_metrics():
    table = runs_table(runs_frame({"id": "a", "arch": "dcformer", "final_val_loss": math.log(2)}))
    assert table.loc[0, "bits_per_byte"] == pytest.approx(1.0)
    assert table.loc[0, "perplexity"] == pytest.approx(2.0)
    assert table.loc[0, "peak_mem_mb"] == pytest.approx(1.0)
    assert runs_table(pd.DataFrame()).empty
    assert status_counts(table)["succeeded"] == 1


def test_headline_by_preset_means_differences_speed_ratio_and_failures():
    runs = runs_frame(
        {"id": "t1", "arch": "transformer", "final_val_loss": 4.0, "tokens_per_s": 1000.0},
        {"id": "t2", "arch": "transformer", "final_val_loss": 4.2, "tokens_per_s": 1000.0},
        {"id": "d1", "arch": "dcformer", "final_val_loss": 3.9, "tokens_per_s": 700.0},
        {"id": "d2", "arch": "dcformer", "final_val_loss": None, "status": "failed"},
        {"id": "d3", "arch": "dcformer", "final_val_loss": math.nan, "status": "failed",
         "diverged": True},
        {"id": "d4", "arch": "dcformer", "status": "cancelled"},
        {"id": "x1", "arch": "dcformer", "preset": "cpu-demo", "final_val_loss": 3.0})
    head = headline_by_preset(runs).set_index("preset")
    tiny = head.loc["tiny"]
    assert tiny["loss_transformer"] == pytest.approx(4.1)
    assert tiny["loss_dcformer"] == pytest.approx(3.9)       # failed and diverged runs left out...
    assert tiny["loss_diff"] == pytest.approx(-0.2)
    assert tiny["speed_ratio"] == pytest.approx(0.7) and tiny["speed_device"] == "cpu"
    assert (tiny["n_transformer"], tiny["n_dcformer"]) == (2, 1)
    assert (tiny["failed_dcformer"], tiny["diverged_dcformer"]) == (1, 1)   # ...but counted
    assert (tiny["failed_transformer"], tiny["diverged_transformer"]) == (0, 0)
    assert (tiny["corpus"], tiny["corpus_fingerprint"], tiny["total_steps"]) == \
        ("pydoc", "fp-pydoc", 20)
    demo = head.loc["cpu-demo"]
    assert math.isnan(demo["loss_transformer"]) and math.isnan(demo["loss_diff"])
    assert math.isnan(demo["speed_ratio"]) and demo["speed_device"] == ""
    assert headline_by_preset(pd.DataFrame()).empty
    assert headline_by_preset(runs.iloc[0:0]).empty


def test_headline_pairs_seeds_as_the_verdict_does():
    # seed 3 has no DCFormer run: an unpaired mean would say -0.073, the seeds both ran say -0.010
    runs = runs_frame(*[{"id": f"t{s}", "arch": "transformer", "seed": s, "final_val_loss": v}
                        for s, v in ((1, 1.00), (2, 1.02), (3, 1.10))],
                      *[{"id": f"d{s}", "arch": "dcformer", "seed": s, "final_val_loss": v}
                        for s, v in ((1, 0.99), (2, 1.01))])
    row = headline_by_preset(runs).iloc[0]
    assert row["loss_diff"] == pytest.approx(-0.010)
    assert (row["loss_transformer"], row["loss_dcformer"]) == (pytest.approx(1.01), pytest.approx(1.00))
    assert (row["n_transformer"], row["n_dcformer"]) == (3, 2)     # every counted run still shown


def test_headline_takes_the_latest_study_by_default_and_any_study_on_request():
    day = lambda d: pd.Timestamp(f"2026-01-{d:02d}", tz="UTC")  # noqa: E731
    runs = runs_frame(
        {"id": "new", "arch": "dcformer", "study": "new", "finished_at": day(9)},
        {"id": "wait", "arch": "dcformer", "study": "queued", "status": "queued",
         "created_at": day(20), "finished_at": pd.NaT},
        {"id": "old", "arch": "transformer", "study": "old", "finished_at": day(5),
         "final_val_loss": 5.0},
        {"id": "bad", "arch": "transformer", "study": "failing", "status": "failed",
         "final_val_loss": None, "finished_at": day(7)},
        {"id": "adhoc", "arch": "transformer", "study": None, "finished_at": day(3)})
    assert headline_studies(runs) == ["new", "failing", "old", ""]
    assert headline_by_preset(runs)["n_dcformer"].tolist() == [1]          # study "new"
    assert headline_by_preset(runs, "old")["loss_transformer"].tolist() == [5.0]
    failing = headline_by_preset(runs, "failing").iloc[0]                # failures are a result
    assert failing["failed_transformer"] == 1 and failing["n_transformer"] == 0
    assert headline_by_preset(runs, "")["n_transformer"].tolist() == [1]   # outside any study
    assert headline_by_preset(runs, "queued").empty
    assert headline_studies(runs.iloc[0:0]) == []


def test_headline_compares_only_the_same_data_and_budget_and_speed_on_one_device():
    h100, two = "NVIDIA H100 80GB HBM3", {"train": {"nproc": 2}}
    runs = runs_frame(
        {"id": "t", "arch": "transformer", "final_val_loss": 4.0},
        {"id": "d", "arch": "dcformer", "final_val_loss": 3.5},
        {"id": "t-web", "arch": "transformer", "corpus_fingerprint": "fp-web", "final_val_loss": 9.0},
        {"id": "d-long", "arch": "dcformer", "total_steps": 2000, "final_val_loss": 1.0},
        {"id": "t-gpu", "arch": "transformer", "device": h100, "tokens_per_s": 50000.0},
        {"id": "t-gpu2", "arch": "transformer", "device": h100, "tokens_per_s": 90000.0,
         "config": two},
        {"id": "d-gpu2", "arch": "dcformer", "device": h100, "tokens_per_s": 72000.0,
         "config": two, "final_val_loss": 3.5},
        {"id": "d-gpu2b", "arch": "dcformer", "device": h100, "tokens_per_s": 72000.0,
         "config": two, "final_val_loss": 3.5})
    head = headline_by_preset(runs).set_index(["corpus_fingerprint", "total_steps"])
    assert len(head) == 3
    same = head.loc[("fp-pydoc", 20)]
    assert same["loss_transformer"] == pytest.approx(4.0)       # not averaged with fp-web's 9.0
    assert same["loss_dcformer"] == pytest.approx(3.5)          # nor with 2000 steps' 1.0
    # Speed from the device that ran both architectures most: two H100s (4 runs) over the CPU (2);
    # the one-H100 run is never divided by a two-H100 one.
    assert same["speed_device"] == "h100 x2" and same["speed_ratio"] == pytest.approx(0.8)
    assert (same["n_transformer"], same["n_dcformer"]) == (3, 3)
    assert math.isnan(head.loc[("fp-web", 20), "loss_dcformer"])
    assert head.loc[("fp-pydoc", 2000), "loss_dcformer"] == pytest.approx(1.0)


def test_live_runs_table_progress_eta_trend_and_cost_so_far():
    runs = runs_frame(
        {"id": "run", "arch": "dcformer", "status": "running", "step": 50, "total_steps": 200,
         "cost_usd": None, "device": "NVIDIA H100 80GB HBM3"},
        {"id": "done", "arch": "transformer"},
        {"id": "wait", "arch": "transformer", "status": "queued", "step": 0, "cost_usd": None,
         "device": None})
    steps = np.arange(1, 51)
    train_loss = pd.concat([
        pd.DataFrame({"run_id": "run", "step": steps, "value": 5.0 - steps / 100,
                      "wall_s": steps * 2.0}),
        pd.DataFrame({"run_id": "done", "step": [1, 2], "value": [5.0, 4.0], "wall_s": [1, 2.0]})])
    table = live_runs_table(runs, train_loss, prices={"h100": 3.6}, spark_points=10).set_index("id")
    assert table.loc["run", "progress"] == pytest.approx(0.25)
    assert table.loc["run", "eta_s"] == pytest.approx(150 * 2.0)        # 150 steps at 2 s each
    assert table.loc["run", "cost_so_far_usd"] == pytest.approx(100 / 3600 * 3.6)
    assert 2 <= len(table.loc["run", "loss_trend"]) <= 11
    assert table.loc["run", "loss_trend"][-1] == pytest.approx(4.5)     # the last point is kept
    assert table.loc["done", "progress"] == 1.0 and math.isnan(table.loc["done", "eta_s"])
    from dcpoc.costs import DEFAULT_PRICES_USD_PER_HOUR   # a finished run at today's table
    assert table.loc["done", "cost_so_far_usd"] == pytest.approx(10 / 3600 * DEFAULT_PRICES_USD_PER_HOUR["cpu"])
    assert table.loc["wait", "progress"] == 0.0 and table.loc["wait", "loss_trend"] == []
    assert table.loc["wait", "cost_so_far_usd"] == 0.0


def test_live_runs_table_without_metrics_or_runs():
    runs = runs_frame({"id": "q", "arch": "dcformer", "status": "queued", "step": 0,
                                "total_steps": 0})
    table = live_runs_table(runs, pd.DataFrame(columns=["run_id", "step", "value", "wall_s"]))
    assert table.loc[0, "progress"] == 0.0 and table.loc[0, "loss_trend"] == []
    assert live_runs_table(runs.iloc[0:0], pd.DataFrame()).empty


def test_run_price_follows_gpu_type_and_process_count():
    assert run_price_per_hour("cpu", {}) == pytest.approx(0.10)
    assert run_price_per_hour("NVIDIA A100-SXM4-40GB", {"train": {"nproc": 4}},
                              {"a100": 2.0}) == pytest.approx(8.0)
    assert run_price_per_hour("cpu", {"train": {"gpu_type": "h200"}}) == pytest.approx(3.5)
    assert math.isnan(run_price_per_hour("cpu", {"train": {"gpu_type": "tpu"}}))
    assert run_price_per_hour(math.nan, {}) == run_price_per_hour(None, None) == pytest.approx(0.10)


def test_downsample_keeps_first_and_last_of_each_group():
    frame = pd.DataFrame({"g": ["a"] * 1000 + ["b"] * 3, "x": list(range(1000)) + [0, 1, 2]})
    small = downsample(frame, ["g"], 100)
    a = small[small["g"] == "a"]["x"].tolist()
    assert len(a) <= 101 and a[0] == 0 and a[-1] == 999
    assert small[small["g"] == "b"]["x"].tolist() == [0, 1, 2]
    assert downsample(frame.iloc[0:0], ["g"], 10).empty


def test_pareto_front_minimises_both_and_ignores_nan():
    points = pd.DataFrame({"cost": [1.0, 2.0, 3.0, 1.5, 0.5, math.nan, 2.0],
                           "ppl": [10.0, 8.0, 9.0, 12.0, 20.0, 1.0, 8.0]})
    front = pareto_front(points, "cost", "ppl")
    assert front.tolist() == [True, True, False, False, True, False, False]
    assert not pareto_front(points.iloc[0:0], "cost", "ppl").any()


def test_run_summary_marks_the_front():
    runs = runs_frame({"id": "cheap", "arch": "transformer", "cost_usd": 1.0, "final_val_loss": 4.0},
                      {"id": "good", "arch": "dcformer", "cost_usd": 2.0, "final_val_loss": 3.0},
                      {"id": "bad", "arch": "dcformer", "cost_usd": 3.0, "final_val_loss": 3.5},
                      {"id": "nan", "arch": "dcformer", "final_val_loss": math.nan})
    summary = run_summary(runs).set_index("id")
    assert "nan" not in summary.index
    assert summary["pareto"].to_dict() == {"cheap": True, "good": True, "bad": False}


def test_with_cost_prices_each_point_by_its_run():
    runs = runs_frame({"id": "a", "arch": "dcformer", "device": "cpu"},
                      {"id": "b", "arch": "transformer", "device": "NVIDIA H200"})
    curves = pd.DataFrame({"run_id": ["a", "b"], "wall_s": [3600.0, 1800.0], "value": [4.0, 4.0]})
    out = with_cost(curves, runs, prices={"cpu": 0.2})
    assert out["cost_usd"].tolist() == pytest.approx([0.2, 3.5 / 2])
    assert out["arch"].tolist() == ["dcformer", "transformer"]


def test_config_differences_shows_only_fields_that_differ():
    one = {"preset": "tiny", "model": {"arch": "dcformer", "n_layer": 2}, "train": {"seed": 1}}
    two = {"preset": "tiny", "model": {"arch": "transformer", "n_layer": 2}, "train": {"seed": 1}}
    three = {"preset": "tiny", "model": {"arch": "transformer", "n_layer": 2}, "train": {"seed": 2,
                                                                                          "extra": 1}}
    diff = config_differences({"r1": one, "r2": two, "r3": three})
    assert list(diff.columns) == ["r1", "r2", "r3"]
    assert set(diff.index) == {"model.arch", "train.seed", "train.extra"}
    assert diff.loc["train.extra"].tolist() == [None, None, 1]
    assert config_differences({"r1": one, "r2": one}).empty
    numeric = config_differences({"a": {"train": {"seed": 1, "lr": 1e-3}}, "b": {"train": {"seed": 2}}})
    assert numeric.loc["train.seed"].tolist() == [1, 2] and numeric.loc["train.lr"].tolist() == [1e-3, None]
    assert config_differences({}).empty
    assert flatten({"a": {"b": {"c": 1}}, "d": 2}) == {"a.b.c": 1, "d": 2}


def test_filter_runs():
    runs = runs_frame({"id": "a", "arch": "dcformer", "study": "x"},
                      {"id": "b", "arch": "transformer", "study": "y", "status": "failed"})
    assert filter_runs(runs)["id"].tolist() == ["a", "b"]
    assert filter_runs(runs, study="x")["id"].tolist() == ["a"]
    assert filter_runs(runs, statuses=["failed"])["id"].tolist() == ["b"]
    assert filter_runs(runs, archs=["dcformer", "transformer"], statuses=[])["id"].tolist() == ["a", "b"]


def test_run_environment_rows():
    from datetime import datetime, timezone
    rows = dict(run_environment({"git_commit": "abc123", "device": "cpu", "mfu": None,
                                 "started_at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
                                 "versions": {"torch": "2.13.0", "python": "3.11"}}))
    assert rows["git_commit"] == "abc123" and rows["mfu"] == "—"
    assert rows["started_at"] == "2026-01-02 03:04:05 UTC"
    assert rows["version:torch"] == "2.13.0"
