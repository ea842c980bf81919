"""Altair chart builders shared by the pages and the reports. Every chart has a title, axis titles
with units, and the same colour for an architecture everywhere (ARCH_COLORS)."""
from __future__ import annotations

import altair as alt
import pandas as pd

from .i18n import t

ARCH_COLORS = {"transformer": "#4C78A8", "dcformer": "#E45756"}   # blue / red, colour-blind safe
ARCH_LABELS = {"transformer": "Transformer++", "dcformer": "DCFormer"}
# x axes a loss curve can be drawn against: column -> i18n key of the axis title (with its unit)
CURVE_AXES = {"step": "chart.axis.step", "tokens": "chart.axis.tokens",
              "wall_s": "chart.axis.wall_s", "cost_usd": "chart.axis.cost_usd"}
AXIS_FORMATS = {"step": ",d", "tokens": "~s", "wall_s": ",~g", "cost_usd": "$~g"}   # d3-format
WIDTH = "container"


def _arch_color(lang: str) -> alt.Color:
    return alt.Color("arch_label:N", title=t("chart.axis.arch", lang),
                     scale=alt.Scale(domain=list(ARCH_LABELS.values()),
                                     range=list(ARCH_COLORS.values())))


def _with_arch_label(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(arch_label=frame["arch"].map(ARCH_LABELS).fillna(frame["arch"]))


def loss_curves(metrics: pd.DataFrame, arch: str, x: str, lang: str) -> alt.Chart:
    """One run's train and validation loss against x (step, tokens or wall_s).
    ``metrics``: rows (key in train_loss / val_loss, value, step, tokens, wall_s)."""
    split = {"train_loss": t("chart.split.train", lang), "val_loss": t("chart.split.val", lang)}
    data = metrics[metrics["key"].isin(list(split))].assign(
        split=lambda f: f["key"].map(split), arch=arch)
    data = _with_arch_label(data)[list(dict.fromkeys([x, "step", "value", "split", "arch_label"]))]
    return (alt.Chart(data, title=t("chart.loss_curves", lang)).mark_line(point=False)
            .encode(x=alt.X(f"{x}:Q", title=t(CURVE_AXES[x], lang), axis=alt.Axis(format=AXIS_FORMATS[x])),
                    y=alt.Y("value:Q", title=t("chart.axis.loss", lang), scale=alt.Scale(zero=False)),
                    color=_arch_color(lang),
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
            .encode(x=alt.X(f"{x}:Q", title=t(CURVE_AXES[x], lang), axis=alt.Axis(format=AXIS_FORMATS[x])),
                    y=alt.Y("value:Q", title=t("chart.axis.val_loss", lang), scale=alt.Scale(zero=False)),
                    color=_arch_color(lang), detail="run_id:N",
                    tooltip=[alt.Tooltip("run_id:N", title=t("chart.axis.run", lang)),
                             alt.Tooltip(f"{x}:Q", title=t(CURVE_AXES[x], lang), format=",.4g"),
                             alt.Tooltip("value:Q", title=t("chart.axis.val_loss", lang), format=".4f")])
            .properties(width=WIDTH, height=300))


def arch_bars(summary: pd.DataFrame, field: str, lang: str) -> alt.Chart:
    """Mean of field (tokens_per_s or peak_mem_mb) per architecture as bars, each run as a dot.
    ``summary``: one row per run (id, arch, field)."""
    data = _with_arch_label(summary)[["id", "arch_label", field]].dropna()
    axis = t(f"chart.axis.{field}", lang)
    base = alt.Chart(data)
    x = alt.X("arch_label:N", title=None, sort=list(ARCH_LABELS.values()),
              axis=alt.Axis(labelAngle=0))
    bars = base.mark_bar(opacity=0.7).encode(x=x, y=alt.Y(f"mean({field}):Q", title=axis),
                                             color=_arch_color(lang).legend(None))
    dots = base.mark_circle(size=50, color="black").encode(
        x=x, y=f"{field}:Q",
        tooltip=[alt.Tooltip("id:N", title=t("chart.axis.run", lang)),
                 alt.Tooltip(f"{field}:Q", title=axis, format=",.1f")])
    return (bars + dots).properties(title=t(f"chart.bars.{field}", lang), width=WIDTH, height=260)


def pareto_scatter(summary: pd.DataFrame, lang: str) -> alt.Chart:
    """Perplexity against cost per run, coloured by architecture, with the Pareto front (no run is
    both cheaper and better) drawn as a step line. ``summary``: analysis.run_summary rows."""
    front_labels = [t("chart.front.yes", lang), t("chart.front.no", lang)]
    data = _with_arch_label(summary).assign(
        front=lambda f: f["pareto"].map({True: front_labels[0], False: front_labels[1]}))
    data = data[["id", "arch_label", "preset", "seed", "cost_usd", "perplexity", "pareto", "front"]]
    x = alt.X("cost_usd:Q", title=t("chart.axis.cost_usd", lang),
              axis=alt.Axis(format=AXIS_FORMATS["cost_usd"]))
    y = alt.Y("perplexity:Q", title=t("chart.axis.perplexity", lang), scale=alt.Scale(zero=False))
    points = (alt.Chart(data).mark_point(size=90, filled=True)
              .encode(x=x, y=y, color=_arch_color(lang),
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
