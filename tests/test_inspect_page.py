"""The Inspect page through AppTest for a real tiny DCFormer run and its Transformer++ twin, in both
languages; the Compare page's inference section reads the latest stored infer benchmark."""

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dcpoc.runs.store import Store

from conftest import REPO_ROOT, home_env, train_tiny_runs


@pytest.fixture(scope="module")
def twin_home(tmp_path_factory):
    """One real tiny run per architecture, same study, preset and seed."""
    home = train_tiny_runs(tmp_path_factory.mktemp("inspect") / "home", "pair", steps=10)
    return home_env(home)


@pytest.fixture
def twins(twin_home, monkeypatch):
    for key, value in twin_home.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("DCPOC_PASSWORD", raising=False)
    st.cache_data.clear()
    # A Store engine cached by an earlier test of this process, after the page's inspect
    # subprocess had opened the same SQLite file, failed with "disk I/O error": start fresh.
    st.cache_resource.clear()
    return Store()


def open_page(page: str, lang: str) -> AppTest:
    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=120)
    at.query_params["lang"] = lang
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_inspect_page_renders_a_real_run_and_its_twin(twins, lang):
    runs = twins.list_runs()
    dc = runs[runs["arch"] == "dcformer"]["id"].iloc[0]
    tf = runs[runs["arch"] == "transformer"]["id"].iloc[0]
    at = open_page("pages/5_Inspect.py", lang)
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value == ("モデルの中身：DCFormer の内部を見る" if lang == "ja" else "Inspect: look inside DCFormer")
    assert at.selectbox[1].value == dc if at.selectbox[0].label.startswith("Language") else True
    assert any(tf in c.value for c in at.caption)                  # the twin is found
    assert len(at.get("vega_lite_chart")) == 4                      # summary, matrices, gates, maps
    at.radio[1].set_value("mean").run()
    assert not at.exception and not at.error


def test_inspect_page_reports_a_bad_text_in_one_sentence(twins):
    at = open_page("pages/5_Inspect.py", "en")
    at.text_area[0].set_value("x").run()
    assert at.error and "too short" in at.error[0].value


def test_a_text_longer_than_the_context_says_it_was_cut(twins):
    """inspect cut a 5,000-character text to the model's context without a word."""
    from conftest import run_cli
    from dcpoc.ui.i18n import t
    dc = twins.list_runs().query("arch == 'dcformer'").iloc[0]
    seq_len = dc["config"]["model"]["seq_len"]
    done = run_cli("inspect", "--run", dc["id"], "--text", "ab" * 2500)
    assert done.returncode == 0 and f"the text's last {seq_len} of 5000 bytes" in done.stdout
    at = open_page("pages/5_Inspect.py", "ja")
    at.text_area[0].set_value("ab" * 2500).run()
    assert t("inspect.cut", "ja").format(kept=seq_len, given=5000) in [c.value for c in at.caption]


def test_a_dcformer_run_is_refused_as_the_twin(twins):
    from conftest import run_cli
    dc = twins.list_runs().query("arch == 'dcformer'")["id"].iloc[0]
    done = run_cli("inspect", "--run", dc, "--text", "some text", "--twin", dc)
    assert done.returncode == 2 and "give a Transformer++ run" in done.stderr, done.stderr


def test_compare_page_shows_the_latest_infer_benchmark(twins):
    at = open_page("pages/3_Compare.py", "en")
    assert any("bench infer" in i.value for i in at.info)
    # an older result: a mean-based decode tokens/s (and ratio 0.8) beside median latencies whose
    # ratio is 0.75; the page shows the medians' one, as the report does
    rows = [{"arch": a, "decode_tokens_per_s": d, "prefill_tokens_per_s": 100.0, "latency_p50_ms": p50,
             "latency_p95_ms": 2.0, "latency_p99_ms": 3.0, "latency_spread": 0.1, "cache_bytes_per_token": c}
            for a, d, p50, c in (("transformer", 50.0, 15.0, 4096), ("dcformer", 40.0, 20.0, 4736))]
    twins.add_benchmark("infer", {"preset": "cpu-demo", "date": "2026-01-01T00:00:00+00:00",
                                  "machine": {"device": "cpu"}, "rows": rows,
                                  "dcformer_over_transformer": {"decode_tokens_per_s": 0.8,
                                                                "prefill_tokens_per_s": 0.5,
                                                                "cache_bytes_per_token": 1.156}})
    at = open_page("pages/3_Compare.py", "ja")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["文章生成の速度比（デコード）"] == "0.75×" and metrics["キャッシュサイズ比"] == "1.16×"
    table = at.dataframe[-1].value          # a column per architecture, a row per measure
    assert table.loc["トークンあたりキャッシュ（バイト）", "Transformer++"] == "4,096"
    assert table.loc["プロンプト長による p50 の差", "DCFormer"] == "10%"
    assert table.loc["文章生成（デコード）トークン/秒", "DCFormer"] == "50.0"      # 1 / 20 ms
    assert table.loc["1 トークンの遅延 p95（ms）", "DCFormer"] == "2.00"           # the report's tail


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_runs_without_weights_here_are_named_not_offered(twins, lang):
    """A finished run whose checkpoint is on another machine (imported recorded results) was
    offered, and inspecting it said 'wait until it has trained' in English."""
    from pathlib import Path

    from conftest import run_cli
    from dcpoc.ui.i18n import t
    dc = twins.list_runs().query("arch == 'dcformer'").iloc[0]
    weights = Path(dc["checkpoint_path"])
    weights.rename(weights.with_suffix(".away"))
    try:
        at = open_page("pages/5_Inspect.py", lang)
        assert [i.value for i in at.info] == [t("inspect.elsewhere", lang).format(n=1)]
        # and the way on: train a DCFormer run here
        assert t("inspect.go_launch", lang) in [link.label for link in at.get("page_link")]
        done = run_cli("inspect", "--run", dc["id"], "--text", "some text")
        assert done.returncode == 2 and "its checkpoint is not on this machine" in done.stderr, done.stderr
    finally:
        weights.with_suffix(".away").rename(weights)
