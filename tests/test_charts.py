"""Chart builders produce valid Vega-Lite with titles, units and one colour per architecture."""
import altair as alt
import pandas as pd
import pytest

from dcpoc.config import VARIANT_LABELS
from dcpoc.ui.charts import (ARCH_COLORS, ARCH_LABELS, VARIANT_COLORS, arch_bars, loss_curves,
                             pareto_scatter, val_loss_against)


def metrics() -> pd.DataFrame:
    rows = [{"key": key, "step": s, "value": 5 - s / 10 + (key == "val_loss") * 0.1,
             "tokens": s * 256, "wall_s": s * 0.5} for s in range(1, 21) for key in
            ("train_loss", "val_loss", "lr")]
    return pd.DataFrame(rows)


def summary() -> pd.DataFrame:
    return pd.DataFrame({"id": ["a", "b", "c"], "arch": ["transformer", "dcformer", "dcformer"],
                         "preset": "tiny", "seed": [1, 1, 2], "cost_usd": [1.0, 1.2, 2.0],
                         "perplexity": [60.0, 55.0, 58.0], "pareto": [True, True, False],
                         "tokens_per_s": [1000.0, 700.0, 720.0], "peak_mem_mb": [300.0, 320.0, None]})


def spec_of(chart: alt.TopLevelMixin) -> dict:
    return chart.to_dict(validate=True)   # raises on a spec Vega-Lite would reject


def colour_scale(spec: dict) -> dict:
    layers = spec.get("layer", [spec])
    return next(l["encoding"]["color"]["scale"] for l in layers
                if "scale" in l.get("encoding", {}).get("color", {}))


@pytest.mark.parametrize("lang", ["en", "ja"])
@pytest.mark.parametrize("x", ["step", "tokens", "wall_s"])
def test_loss_curves(x, lang):
    spec = spec_of(loss_curves(metrics(), "dcformer", x, lang))
    assert spec["title"] == ("Training and validation loss" if lang == "en" else "学習損失と検証損失")
    assert spec["encoding"]["y"]["title"] == ("Loss (nats/byte)" if lang == "en" else "損失（nats/byte）")
    assert spec["encoding"]["x"]["field"] == x
    assert colour_scale(spec) == {"domain": ["DCFormer"], "range": [VARIANT_COLORS["dcformer"]]}   # its own only
    assert VARIANT_COLORS["transformer"] == ARCH_COLORS["transformer"]   # one colour per arch everywhere
    values = next(iter(spec["datasets"].values()))
    assert {v["split"] for v in values} == ({"train", "validation"} if lang == "en" else {"学習", "検証"})


@pytest.mark.parametrize("x, unit", [("tokens", "tokens"), ("wall_s", "(s)"), ("cost_usd", "($)")])
def test_val_loss_against(x, unit):
    curves = metrics().query("key == 'val_loss'").assign(run_id="a", arch="transformer", cost_usd=1.0)
    spec = spec_of(val_loss_against(curves, x, "en"))
    assert unit in spec["encoding"]["x"]["title"]
    assert spec["title"] == f"Validation loss against {spec['encoding']['x']['title']}"
    assert spec["encoding"]["detail"]["field"] == "run_id"


@pytest.mark.parametrize("field", ["tokens_per_s", "peak_mem_mb"])
def test_arch_bars(field):
    spec = spec_of(arch_bars(summary(), field, "en"))
    assert spec["title"]["text"] in ("Throughput (higher is faster)", "Peak memory (lower is better)")
    # a line each: as one subtitle Vega cut 'dot: one run' off at half the page's width
    assert spec["title"]["subtitle"] == ["Bar: the mean of the runs shown (every size together)", "Dot: one run"]
    assert colour_scale(spec)["range"] == [ARCH_COLORS["transformer"], ARCH_COLORS["dcformer"]]


def test_a_ladders_qk_norm_rung_has_its_own_name_and_colour():
    runs = summary().assign(variant=lambda f: f["arch"].map({"transformer": "transformer-qknorm",
                                                              "dcformer": "dcformer"}))
    values = next(iter(spec_of(arch_bars(runs, "tokens_per_s", "en"))["datasets"].values()))
    assert {v["arch_label"] for v in values} == {"Transformer++ + QK-norm", "DCFormer"}


def test_pareto_scatter_draws_the_front_as_a_line():
    spec = spec_of(pareto_scatter(summary(), "ja"))
    assert spec["title"] == "費用に対するパープレキシティ"
    marks = [layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"]
             for layer in spec["layer"]]
    assert marks == ["line", "point"]


def test_charts_accept_empty_data():
    empty = summary().iloc[0:0]
    for chart in (pareto_scatter(empty, "en"), arch_bars(empty, "tokens_per_s", "en"),
                  loss_curves(metrics().iloc[0:0], "transformer", "step", "en")):
        spec_of(chart)
