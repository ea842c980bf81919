"""Altair chart builders shared by the pages and the reports. Every chart has a title, axis titles
with units, and the same colour for an architecture everywhere (ARCH_COLORS)."""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from ..config import ARCH_LABELS, VARIANT_LABELS
from .i18n import t

ARCH_COLORS = {"transformer": "#4C78A8", "dcformer": "#E45756"}   # blue / red, colour-blind safe
# the ablation ladder's rungs: the two architectures keep their colours, QK-norm's rung is green
VARIANT_COLORS = {"transformer": ARCH_COLORS["transformer"], "transformer-qknorm": "#54A24B",
                  "dcformer": ARCH_COLORS["dcformer"], "dcformer-noqknorm": "#B279A2"}
# x axes a loss curve can be drawn against: column -> i18n key of the axis title (with its unit)
CURVE_AXES = {"step": "chart.axis.step", "tokens": "chart.axis.tokens",
              "wall_s": "chart.axis.wall_s", "cost_usd": "chart.axis.cost_usd"}
AXIS_FORMATS = {"step": ",d", "tokens": "~s", "wall_s": ",~f", "cost_usd": "$~g"}   # d3-format (~g wrote 1e+2)
# Japanese counts by 万 and 億 (i18n.count_text), not the SI letters of "~s" (0.5M, 4.5M)
JA_COUNT_LABEL = ("datum.value >= 1e8 ? format(datum.value / 1e8, ',~f') + ' 億' : datum.value >= 1e4 ? "
                  "format(datum.value / 1e4, ',~f') + ' 万' : format(datum.value, ',~f')")


def _axis(field: str, lang: str) -> alt.Axis:
    """An x axis for field: counts of tokens in the reader's units, the rest by AXIS_FORMATS."""
    if field == "tokens" and lang == "ja":
        return alt.Axis(labelExpr=JA_COUNT_LABEL)
    return alt.Axis(format=AXIS_FORMATS[field])
WIDTH = "container"


def _variant_scale(data: pd.DataFrame) -> alt.Scale:
    """Each variant's fixed colour, for the ones in data's arch_label (the legend lists those)."""
    shown = [v for v in VARIANT_COLORS if VARIANT_LABELS[v] in set(data["arch_label"])]
    return alt.Scale(domain=[VARIANT_LABELS[v] for v in shown], range=[VARIANT_COLORS[v] for v in shown])


def _arch_color(data: pd.DataFrame, lang: str) -> alt.Color:
    return alt.Color("arch_label:N", title=t("chart.axis.arch", lang), scale=_variant_scale(data))


def run_name(frame: pd.DataFrame) -> pd.Series:
    """Each run's display name: its variant's where the frame has one (a ladder's two Transformer++
    rungs apart), else its architecture's."""
    named = frame["variant"] if "variant" in frame else frame["arch"]
    return named.map(VARIANT_LABELS).fillna(frame["arch"])


def _with_arch_label(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(arch_label=run_name(frame))


def loss_curves(metrics: pd.DataFrame, variant: str, x: str, lang: str) -> alt.Chart:
    """One run's train and validation loss against x (step, tokens or wall_s); variant names it.
    ``metrics``: rows (key in train_loss / val_loss, value, step, tokens, wall_s)."""
    split = {"train_loss": t("chart.split.train", lang), "val_loss": t("chart.split.val", lang)}
    data = metrics[metrics["key"].isin(list(split))].assign(
        split=lambda f: f["key"].map(split), arch=variant)
    data = _with_arch_label(data)[list(dict.fromkeys([x, "step", "value", "split", "arch_label"]))]
    return (alt.Chart(data, title=t("chart.loss_curves", lang)).mark_line(point=False)
            .encode(x=alt.X(f"{x}:Q", title=t(CURVE_AXES[x], lang), axis=_axis(x, lang)),
                    y=alt.Y("value:Q", title=t("chart.axis.loss", lang), scale=alt.Scale(zero=False)),
                    color=_arch_color(data, lang),
                    strokeDash=alt.StrokeDash("split:N", title=t("chart.axis.split", lang),
                                              sort=list(split.values())),
                    tooltip=[alt.Tooltip("step:Q", title=t("chart.axis.step", lang)),
                             alt.Tooltip("value:Q", title=t("chart.axis.loss", lang), format=".4f"),
                             alt.Tooltip("split:N", title=t("chart.axis.split", lang))])
            .properties(width=WIDTH, height=320))


def val_loss_against(curves: pd.DataFrame, x: str, lang: str) -> alt.Chart:
    """Validation loss of several runs against x (tokens, wall_s or cost_usd), one line per run,
    coloured by architecture. ``curves``: rows (run_id, arch, value, x)."""
    data = _with_arch_label(curves)[["run_id", "arch_label", "value", x]]
    title = t("chart.val_vs", lang).format(x=t(CURVE_AXES[x], lang))
    return (alt.Chart(data, title=title).mark_line(point=True)
            .encode(x=alt.X(f"{x}:Q", title=t(CURVE_AXES[x], lang), axis=_axis(x, lang)),
                    y=alt.Y("value:Q", title=t("chart.axis.val_loss", lang), scale=alt.Scale(zero=False)),
                    color=_arch_color(data, lang), detail="run_id:N",
                    tooltip=[alt.Tooltip("run_id:N", title=t("chart.axis.run", lang)),
                             alt.Tooltip(f"{x}:Q", title=t(CURVE_AXES[x], lang), format=",.4g"),
                             alt.Tooltip("value:Q", title=t("chart.axis.val_loss", lang), format=".4f")])
            .properties(width=WIDTH, height=300))


def arch_bars(summary: pd.DataFrame, field: str, lang: str) -> alt.Chart:
    """Mean of field (tokens_per_s or peak_mem_mb) per architecture as horizontal bars, each run as
    a dot (a vertical bar's long name, "Transformer++ + QK-norm", was dropped from its axis).
    ``summary``: one row per run (id, arch, field)."""
    data = _with_arch_label(summary)[["id", "arch_label", field]].dropna()
    axis = t(f"chart.axis.{field}", lang)
    base = alt.Chart(data)
    y = alt.Y("arch_label:N", title=None, sort=[VARIANT_LABELS[v] for v in VARIANT_COLORS],
              axis=alt.Axis(labelLimit=300))
    bars = base.mark_bar(opacity=0.7).encode(y=y, x=alt.X(f"mean({field}):Q", title=axis),
                                             color=_arch_color(data, lang).legend(None))
    dots = base.mark_circle(size=50, color="black").encode(
        y=y, x=f"{field}:Q",
        tooltip=[alt.Tooltip("id:N", title=t("chart.axis.run", lang)),
                 alt.Tooltip(f"{field}:Q", title=axis, format=",.1f")])
    # one line per part: Vega cuts a subtitle at the chart's width, and half a chart lost 'dot: ...'
    title = alt.TitleParams(t(f"chart.bars.{field}", lang),
                            subtitle=[t("chart.bars.note", lang), t("chart.bars.note_dot", lang)])
    # Streamlit fits the whole chart (titles and axes included) into the height: room for those
    # first, then a band per variant (at 60 px a variant, two variants' bars had no height left)
    return (bars + dots).properties(title=title, width=WIDTH,
                                   height=120 + 50 * max(1, data["arch_label"].nunique()))


def pareto_scatter(summary: pd.DataFrame, lang: str) -> alt.Chart:
    """Perplexity against cost per run, coloured by architecture, with the Pareto front (no run is
    both cheaper and better) drawn as a step line. ``summary``: decision.views.run_summary rows."""
    front_labels = [t("chart.front.yes", lang), t("chart.front.no", lang)]
    data = _with_arch_label(summary).assign(
        front=lambda f: f["pareto"].map({True: front_labels[0], False: front_labels[1]}))
    data = data[["id", "arch_label", "preset", "seed", "cost_usd", "perplexity", "pareto", "front"]]
    x = alt.X("cost_usd:Q", title=t("chart.axis.cost_usd", lang),
              axis=alt.Axis(format=AXIS_FORMATS["cost_usd"]))
    y = alt.Y("perplexity:Q", title=t("chart.axis.perplexity", lang), scale=alt.Scale(zero=False))
    points = (alt.Chart(data).mark_point(size=90, filled=True)
              .encode(x=x, y=y, color=_arch_color(data, lang),
                      shape=alt.Shape("front:N", title=t("chart.axis.pareto", lang),
                                      scale=alt.Scale(domain=front_labels, range=["diamond", "circle"])),
                      tooltip=[alt.Tooltip("id:N", title=t("chart.axis.run", lang)),
                               alt.Tooltip("preset:N", title=t("col.preset", lang)),
                               alt.Tooltip("seed:Q", title=t("col.seed", lang)),
                               alt.Tooltip("cost_usd:Q", title=t("chart.axis.cost_usd", lang), format="$.5f"),
                               alt.Tooltip("perplexity:Q", title=t("chart.axis.perplexity", lang),
                                           format=".3f")]))
    front = (alt.Chart(data[data["pareto"]].sort_values("cost_usd"))
             .mark_line(interpolate="step-after", color="gray", strokeDash=[4, 3])
             .encode(x=x, y=y))
    return (front + points).properties(title=t("chart.pareto", lang), width=WIDTH, height=340)


# ----------------------------------------------------------------------------- inside DCFormer
# Matrix / gate names from dcpoc.inspect ('pre_query', ...) -> i18n keys "inspect.matrix.<name>".
COMPOSITION_NAMES = ("pre_query", "pre_key", "post_query", "post_key")


def _matrix_label(frame: pd.DataFrame, column: str, lang: str) -> pd.DataFrame:
    return frame.assign(label=frame[column].map(lambda n: t(f"inspect.matrix.{n}", lang)))


def composition_heatmaps(matrices: pd.DataFrame, lang: str) -> alt.Chart:
    """One H x H heat map per composition matrix (identity = 1 on the diagonal, 0 elsewhere).
    ``matrices``: rows (matrix, source, target, value) from inspect.matrix_frame."""
    data = _matrix_label(matrices, "matrix", lang)
    order = [t(f"inspect.matrix.{n}", lang) for n in COMPOSITION_NAMES]
    return (alt.Chart(data).mark_rect()
            .encode(x=alt.X("target:O", title=t("chart.axis.target_head", lang)),
                    y=alt.Y("source:O", title=t("chart.axis.source_head", lang)),
                    color=alt.Color("value:Q", title=t("chart.axis.weight", lang),
                                    scale=alt.Scale(scheme="redblue", domainMid=0, reverse=True)),
                    tooltip=[alt.Tooltip("source:O", title=t("chart.axis.source_head", lang)),
                             alt.Tooltip("target:O", title=t("chart.axis.target_head", lang)),
                             alt.Tooltip("value:Q", title=t("chart.axis.weight", lang), format=".4f")])
            .properties(width=150, height=150)
            .facet(column=alt.Column("label:N", title=None, sort=order))
            .properties(title=t("chart.composition", lang)))


def attention_heatmaps(maps: pd.DataFrame, lang: str) -> alt.Chart:
    """Attention maps of one head side by side (before / after composition, Transformer++).
    ``maps``: rows (panel, query, key, value) from inspect.attention_frame."""
    return (alt.Chart(maps).mark_rect()
            .encode(x=alt.X("key:O", title=t("chart.axis.key_pos", lang), axis=alt.Axis(labels=False)),
                    y=alt.Y("query:O", title=t("chart.axis.query_pos", lang), axis=alt.Axis(labels=False)),
                    color=alt.Color("value:Q", title=t("chart.axis.attention", lang),
                                    scale=alt.Scale(scheme="redblue", domainMid=0, reverse=True)),
                    tooltip=[alt.Tooltip("query:O", title=t("chart.axis.query_pos", lang)),
                             alt.Tooltip("key:O", title=t("chart.axis.key_pos", lang)),
                             alt.Tooltip("value:Q", title=t("chart.axis.attention", lang), format=".4f")])
            .properties(width=220, height=220)
            .facet(column=alt.Column("panel:N", title=None, sort=list(dict.fromkeys(maps["panel"]))))
            .properties(title=t("chart.attention_maps", lang)))


def identity_distance(distances: pd.DataFrame, lang: str) -> alt.Chart:
    """Per layer, how far each composition is from identity (mean ||M - I||_F), grouped bars.
    ``distances``: rows (layer, matrix, distance) from inspect.distance_frame."""
    return _grouped_bars(_matrix_label(distances, "matrix", lang), "layer", "distance",
                         "chart.identity_distance", "chart.axis.layer", "chart.axis.distance", 260, lang)


def gate_bars(gates: pd.DataFrame, lang: str) -> alt.Chart:
    """Gate values per head (tanh, in [-1, 1]) of one layer, grouped by gate.
    ``gates``: rows (gate, head, value) from inspect.gate_frame."""
    return _grouped_bars(_matrix_label(gates, "gate", lang), "head", "value",
                         "chart.gates", "chart.axis.head", "chart.axis.gate", 240, lang)


def _grouped_bars(data: pd.DataFrame, x: str, y: str, title_key: str, x_key: str, y_key: str,
                  height: int, lang: str) -> alt.Chart:
    """Bars of y per x, one bar per composition (the ``label`` column) side by side."""
    order = [t(f"inspect.matrix.{n}", lang) for n in COMPOSITION_NAMES]
    # padding: with xOffset bars the autosized view cut the y title and the title's first letter
    return (alt.Chart(data, title=t(title_key, lang), padding={"left": 28, "top": 6}).mark_bar()
            .encode(x=alt.X(f"{x}:O", title=t(x_key, lang), axis=alt.Axis(labelAngle=0)),
                    xOffset=alt.XOffset("label:N", sort=order),
                    y=alt.Y(f"{y}:Q", title=t(y_key, lang)),
                    color=alt.Color("label:N", title=t("chart.axis.matrix", lang), sort=order),
                    tooltip=[alt.Tooltip(f"{x}:O", title=t(x_key, lang)),
                             alt.Tooltip("label:N", title=t("chart.axis.matrix", lang)),
                             alt.Tooltip(f"{y}:Q", title=t(y_key, lang), format=".4f")])
            .properties(width=WIDTH, height=height))


def lr_curves(table: pd.DataFrame, lang: str) -> alt.Chart:
    """Mean validation loss against the learning rate (log axis), one line per architecture and
    model size, the best rate of each drawn filled. ``table``: tuning.lr_table rows."""
    finite = table[np.isfinite(table["loss"].astype(float))]       # a diverged rate has no point
    data = _with_arch_label(finite)[["preset", "tokens", "lr", "loss", "n", "best", "arch_label"]]
    base = alt.Chart(data, title=t("chart.lr_curves", lang))
    x = alt.X("lr:Q", title=t("chart.axis.lr", lang), scale=alt.Scale(type="log"),
              axis=alt.Axis(format="~e", values=sorted(set(data["lr"].astype(float)))))
    y = alt.Y("loss:Q", title=t("chart.axis.val_loss", lang), scale=alt.Scale(zero=False))
    tooltip = [alt.Tooltip("preset:N", title=t("chart.axis.preset", lang)),
               alt.Tooltip("lr:Q", title=t("chart.axis.lr", lang), format="~e"),
               alt.Tooltip("loss:Q", title=t("chart.axis.val_loss", lang), format=".4f"),
               alt.Tooltip("n:Q", title=t("chart.axis.seeds", lang))]
    dash = alt.StrokeDash("preset:N", title=t("chart.axis.preset", lang))
    lines = base.mark_line().encode(x=x, y=y, color=_arch_color(data, lang), strokeDash=dash,
                                    detail="tokens:Q")   # two budgets of one size: two lines
    points = base.mark_point(size=90).encode(
        x=x, y=y, color=_arch_color(data, lang), tooltip=tooltip,
        fill=alt.condition("datum.best", alt.Fill("arch_label:N", title=t("chart.axis.arch", lang),
                                                  scale=_variant_scale(data)), alt.value("white")))
    return (lines + points).properties(width=WIDTH, height=280)


def gap_curves(gaps: pd.DataFrame, lang: str) -> alt.Chart:
    """DCFormer minus the baseline's validation loss against training tokens, one line per model
    size (mean over seeds) with a band from the lowest to the highest seed, and a rule at 0 (below
    it DCFormer leads). ``gaps``: decision.gap.gap_over_training rows."""
    data = gaps[["preset", "params", "step", "tokens", "n_seeds", "gap", "gap_low", "gap_high"]]
    order = list(dict.fromkeys(data.sort_values("params", kind="stable")["preset"]))
    x = alt.X("tokens:Q", title=t("chart.axis.tokens", lang), axis=_axis("tokens", lang))
    # an explicit scheme: the theme's palette drew one size in a blue too pale to see on white
    color = alt.Color("preset:N", title=t("chart.axis.preset", lang), sort=order,
                      scale=alt.Scale(scheme="category10"))
    base = alt.Chart(data)
    band = base.mark_area(opacity=0.2).encode(x=x, y=alt.Y("gap_low:Q", title=t("chart.axis.gap", lang)),
                                              y2="gap_high:Q", color=color)
    line = base.mark_line(point=True).encode(
        x=x, y=alt.Y("gap:Q", title=t("chart.axis.gap", lang)), color=color,
        tooltip=[alt.Tooltip("preset:N", title=t("chart.axis.preset", lang)),
                 alt.Tooltip("step:Q", title=t("chart.axis.step", lang), format=",d"),
                 alt.Tooltip("tokens:Q", title=t("chart.axis.tokens", lang), format=",.4g"),
                 alt.Tooltip("gap:Q", title=t("chart.axis.gap", lang), format="+.4f"),
                 alt.Tooltip("n_seeds:Q", title=t("chart.axis.seeds", lang))])
    zero = alt.Chart(pd.DataFrame({"y": [0.0]})).mark_rule(color="gray", strokeDash=[4, 3]).encode(y="y:Q")
    return (band + line + zero).properties(title=t("chart.gap", lang), width=WIDTH, height=280)
