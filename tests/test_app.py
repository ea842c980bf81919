"""The home page through Streamlit's AppTest, on a real SQLite file."""
from datetime import datetime, timezone

from streamlit.testing.v1 import AppTest

from dcpoc.runs.store import Store

from conftest import REPO_ROOT


def _app():
    return AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=30)


def test_home_without_runs_says_how_to_start(dcpoc_home):
    at = _app().run()
    assert not at.exception
    assert [i for i in at.info if "No runs yet" in i.value] and "python -m dcpoc train" in at.code[0].value
    # the shipped reference study is offered first (benchmarks/reference-cpu.dcpoc-study.json.gz)
    assert at.button[0].label.startswith("Import the recorded reference study (reference-cpu, 45 runs")


def test_home_lists_runs_with_counts_in_both_languages(dcpoc_home):
    store = Store()
    run_id = store.create_run(arch="dcformer", preset="tiny", config={}, seed=1, corpus_spec="pydoc",
                              status="succeeded")
    store.update_run(run_id, final_val_loss=1.5, tokens_per_s=1000.0, wall_s=10.0, cost_usd=0.01)
    store.create_run(arch="transformer", preset="tiny", config={}, seed=1, corpus_spec="pydoc")
    at = _app().run()
    assert not at.exception
    table = at.dataframe[0].value
    assert run_id in set(table["Run"]) and len(table) == 2
    assert abs(table.loc[table["Run"] == run_id, "Bits per byte"].iloc[0] - 1.5 / 0.693147) < 1e-3
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["succeeded"] == "1" and metrics["queued"] == "1"

    at.sidebar.selectbox[0].set_value("ja").run()
    assert not at.exception
    assert "概念実証" in at.title[0].value and at.query_params["lang"] in ("ja", ["ja"])
    assert "検証損失（nats/byte）" in at.dataframe[0].value.columns


def test_home_headline_is_one_study_with_its_failures_and_a_study_picker(dcpoc_home):
    store = Store()

    def finished(study, arch, status="succeeded", loss=None):
        run_id = store.create_run(arch=arch, preset="tiny", config={}, seed=1, corpus_spec="pydoc",
                                  corpus_fingerprint="fp1", study=study, status=status,
                                  total_steps=20)
        store.update_run(run_id, final_val_loss=loss, tokens_per_s=1000.0, device="cpu",
                         finished_at=datetime.now(timezone.utc))
    finished("old", "transformer", loss=9.0)
    finished("old", "dcformer", loss=8.0)
    finished("new", "transformer", loss=4.0)
    finished("new", "dcformer", loss=3.5)
    finished("new", "dcformer", status="failed")
    finished("new", "dcformer", status="failed", loss=float("nan"))      # diverged
    at = _app().run()
    assert not at.exception
    picker = at.selectbox(key="home_study")
    assert picker.value == "new" and picker.options == ["new", "old"]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Baseline val loss"] == "4.0000" and metrics["Loss difference"] == "-0.5000"
    assert [m.help for m in at.metric if m.label == "Baseline val loss"] == ["Transformer++ + QK-norm"]
    assert "Speed ratio on CPU" in metrics
    assert "DCFormer: 1 counted, 1 failed, 1 diverged" in " ".join(c.value for c in at.caption)

    picker.set_value("old").run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["Baseline val loss"] == "9.0000"

    at.sidebar.selectbox[0].set_value("ja").run()             # the picked study stays picked
    assert not at.exception
    assert "DCFormer：集計 1 件、失敗 0 件、発散 0 件" in " ".join(c.value for c in at.caption)
