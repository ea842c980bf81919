"""Home's verdict card and the Decision page through AppTest, on real tiny runs of this session:
one size is not enough evidence, and both pages say so in both languages."""
import pytest

from conftest import by_label, errors, open_page

pytestmark = pytest.mark.usefixtures("fresh_caches")

INSUFFICIENT = {"en": "Insufficient evidence", "ja": "根拠不足"}
MORE_SIZES = {"en": "more model size", "ja": "モデルサイズをあと"}
NEXT_STEP = {"en": "Next step: run cpu-xs", "ja": "次のステップ：cpu-xs を"}


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_home_verdict_card_says_insufficient_evidence(trained, lang):
    at = open_page("app.py", lang)
    assert not errors(at)
    assert any(INSUFFICIENT[lang] in w.value for w in at.warning)
    assert any(MORE_SIZES[lang] in m.value for m in at.markdown)
    assert len(at.get("vega_lite_chart")) == 1                 # the trade-off chart
    assert any(NEXT_STEP[lang] in i.value and "$" in i.value for i in at.info)


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_decision_page_updates_with_thresholds_and_target(trained, lang):
    at = open_page("pages/6_Decision.py", lang)
    assert not errors(at)
    assert INSUFFICIENT[lang] in at.warning[0].value
    texts = " ".join(m.value for m in at.markdown)
    assert MORE_SIZES[lang] in texts
    assert any(NEXT_STEP[lang] in i.value and "$" in i.value for i in at.info)
    assert len(at.dataframe) == 1 and len(at.dataframe[0].value) >= 1    # equal tokens (and cost)
    assert any(("Seed pairs" if lang == "en" else "シード対の数") == c
               for c in at.dataframe[0].value.columns)
    # fewer sizes required is still one short; the seeds rule moves with its threshold
    label = "Seeds needed per size (default 2)" if lang == "en" else "サイズごとに必要なシード数（既定 2）"
    by_label(at.number_input, label).set_value(5).run()
    assert not at.exception
    texts = " ".join(m.value for m in at.markdown)
    assert ("3 more seed" if lang == "en" else "シードをあと 3 個") in texts
    price = "Price per GPU-hour ($)" if lang == "en" else "GPU 1 時間あたりの価格 ($)"
    by_label(at.number_input, price).set_value(9.0).run()
    assert not at.exception
