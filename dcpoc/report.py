"""The decision in words: reasons rendered in a language, and the meeting summary (Markdown and a
self-contained HTML one-pager). No Streamlit, no torch."""
from __future__ import annotations

import datetime as _dt
import html
import math
from dataclasses import dataclass

import pandas as pd

from . import analysis
from .i18n import t

_FORMAT_KEYS = ("net_low", "net_high", "diff_low", "diff_high", "m_low", "m_high")


def say(reason: analysis.Reason, lang: str) -> str:
    """A Reason (i18n key, values) as a sentence in lang."""
    key, values = reason
    clean = {k: (math.nan if v is None and k in _FORMAT_KEYS else v) for k, v in values.items()}
    return t(key, lang).format(**clean)


def interval_text(interval: analysis.Interval | None, spec: str, lang: str, suffix: str = "") -> str:
    """'1.82× (1.51–2.20)', or the mean and 'no interval' when none exists, '—' with no mean."""
    if interval is None or not math.isfinite(interval.mean):
        return "—"
    mean = f"{interval.mean:{spec}}{suffix}"
    if not interval.exists:
        return f"{mean} ({t('dec.no_interval', lang)})"
    return f"{mean} ({interval.low:{spec}}–{interval.high:{spec}})"


def row_interval(row: pd.Series, name: str) -> analysis.Interval:
    low, high = row[f"{name}_low"], row[f"{name}_high"]
    ok = low is not None and high is not None and not pd.isna(low) and not pd.isna(high)
    return analysis.Interval(float(row[f"{name}_diff"]), float(low) if ok else None,
                             float(high) if ok else None, int(row["n_pairs"]))


def comparison_table(decision: analysis.Decision, lang: str) -> pd.DataFrame:
    """Equal-token and equal-cost rows, as people read them (translated headers, CI text)."""
    frames = [f for f in (decision.equal_tokens, decision.equal_cost) if f is not None and len(f)]
    if not frames:
        return pd.DataFrame()
    rows = pd.concat(frames, ignore_index=True)
    return pd.DataFrame({
        t("col.preset", lang): rows["preset"],
        t("dec.table.basis", lang): rows["basis"].map(lambda b: t(f"dec.basis.{b}", lang)),
        t("dec.table.pairs", lang): rows["n_pairs"].astype(int),
        t("dec.table.loss_diff", lang): [interval_text(row_interval(r, "loss"), "+.4f", lang)
                                         for _, r in rows.iterrows()],
        t("dec.table.ppl_diff", lang): [interval_text(row_interval(r, "ppl"), "+.3f", lang)
                                        for _, r in rows.iterrows()],
    })


def verdict_line(decision: analysis.Decision, lang: str) -> str:
    return t(f"dec.verdict.{decision.verdict}", lang)


def answers(decision: analysis.Decision, lang: str) -> list[tuple[str, str]]:
    """The decision maker's three questions with their short answers."""
    mult = decision.multiplier
    m = interval_text(mult.multiplier if mult else None, ".2f", lang, "×")
    net = interval_text(mult.net_benefit if mult else None, ".2f", lang, "×")
    ratio = f"{mult.speed_ratio:.2f}×" if mult and math.isfinite(mult.speed_ratio) else "—"
    return [(t("dec.q1", lang), t("dec.a1", lang).format(m=m, net=net)),
            (t("dec.q2", lang), t("dec.a2", lang).format(ratio=ratio,
                                                         device=(mult.speed_device if mult else "") or "—")),
            (t("dec.q3", lang), t("dec.a3", lang))]


def fit_text(decision: analysis.Decision, lang: str) -> str:
    mult = decision.multiplier
    if mult is None or mult.fit is None:
        return ""
    return t("dec.fit", lang).format(kind=t(f"dec.fit.{mult.fit.kind}", lang), n=mult.fit.n_points)


# ----------------------------------------------------------------------------- the meeting summary
@dataclass
class Summary:
    study: str
    question: str
    decision: analysis.Decision
    runs: pd.DataFrame          # the study's runs (store.list_runs rows)
    created: str


def build_summary(runs: pd.DataFrame, study: str, question: str = "",
                  val_curves: pd.DataFrame | None = None,
                  thresholds: analysis.Thresholds = analysis.Thresholds()) -> Summary:
    scoped = runs[analysis.study_key(runs).eq(study)] if not runs.empty else runs
    decision = analysis.decide(runs, study, thresholds, val_curves=val_curves)
    return Summary(study, question, decision, scoped,
                   _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))


def _footer(summary: Summary) -> list[tuple[str, str]]:
    runs = summary.runs
    versions = {}
    for v in runs.get("versions", pd.Series(dtype=object)):
        versions.update(v or {})
    col = lambda c: ", ".join(sorted({str(x) for x in runs[c].dropna()})) if c in runs else ""  # noqa: E731
    return [("runs", ", ".join(runs["id"].astype(str))), ("commit", col("git_commit")),
            ("versions", ", ".join(f"{k} {v}" for k, v in sorted(versions.items()))),
            ("corpus", col("corpus_fingerprint")), ("seeds", col("seed")),
            ("devices", col("device")), ("date", summary.created)]


def _sections(summary: Summary, lang: str) -> dict:
    d = summary.decision
    return {"verdict": verdict_line(d, lang), "answers": answers(d, lang),
            "reasons": [say(r, lang) for r in d.reasons + d.needed + d.flips],
            "risks": [say(r, lang) for r in d.risks], "table": comparison_table(d, lang),
            "fit": fit_text(d, lang)}


def _md_escape(text: str) -> str:
    return "".join("\\" + c if c in "\\`*_{}[]<>()#+-.!|&\"" else c for c in str(text))


def to_markdown(summary: Summary, lang: str) -> str:
    s = _sections(summary, lang)
    lines = [f"# {_md_escape(summary.study)}: {s['verdict']}", ""]
    if summary.question:
        lines += [f"> {_md_escape(summary.question)}", ""]
    lines += [f"- **{q}** {a}" for q, a in s["answers"]] + [""]
    lines += [f"## {t('dec.reasons', lang)}", ""] + [f"- {r}" for r in s["reasons"]] + [""]
    if len(s["table"]):
        cols = list(s["table"].columns)
        lines += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in s["table"].itertuples(index=False)]
        lines += [""]
    if s["fit"]:
        lines += [s["fit"], ""]
    lines += [f"## {t('dec.risks', lang)}", ""] + [f"- {r}" for r in s["risks"]] + [""]
    lines += ["---", ""] + [f"- {k}: {_md_escape(v) or '—'}" for k, v in _footer(summary)]
    return "\n".join(lines) + "\n"


def _chart_svg(summary: Summary, lang: str) -> str:
    """The trade-off chart as inline SVG (vl-convert renders offline); '' with nothing to draw."""
    from .charts import pareto_scatter
    import vl_convert
    table = analysis.run_summary(summary.runs)
    if table.empty:
        return ""
    chart = pareto_scatter(table, lang).properties(width=560)
    svg = vl_convert.vegalite_to_svg(chart.to_json())
    return svg[svg.index("<svg"):]


def to_html(summary: Summary, lang: str) -> str:
    """A self-contained one-pager: no script, no external URL; user text escaped."""
    e = html.escape
    s = _sections(summary, lang)
    parts = [f"<!doctype html><html lang='{lang}'><head><meta charset='utf-8'>",
             f"<title>{e(summary.study)}</title><style>body{{font-family:sans-serif;max-width:60em;"
             "margin:2em auto}}table{border-collapse:collapse}td,th{border:1px solid #999;"
             "padding:.2em .5em}footer{font-size:.8em;color:#555}</style></head><body>",
             f"<h1>{e(summary.study)}: {e(s['verdict'])}</h1>"]
    if summary.question:
        parts.append(f"<blockquote>{e(summary.question)}</blockquote>")
    parts.append("<ul>" + "".join(f"<li><b>{e(q)}</b> {e(a)}</li>" for q, a in s["answers"]) + "</ul>")
    parts.append(f"<h2>{e(t('dec.reasons', lang))}</h2><ul>"
                 + "".join(f"<li>{e(r)}</li>" for r in s["reasons"]) + "</ul>")
    if len(s["table"]):
        parts.append(s["table"].to_html(index=False, escape=True, border=0))
    if s["fit"]:
        parts.append(f"<p>{e(s['fit'])}</p>")
    parts.append(_chart_svg(summary, lang))
    parts.append(f"<h2>{e(t('dec.risks', lang))}</h2><ul>"
                 + "".join(f"<li>{e(r)}</li>" for r in s["risks"]) + "</ul>")
    parts.append("<footer><dl>" + "".join(f"<dt>{e(k)}</dt><dd>{e(v) or '—'}</dd>"
                                         for k, v in _footer(summary)) + "</dl></footer></body></html>")
    return "".join(parts)


FORMATS = ("md", "html")


def render(summary: Summary, fmt: str, lang: str) -> bytes:
    if fmt == "md":
        return to_markdown(summary, lang).encode()
    if fmt == "html":
        return to_html(summary, lang).encode()
    raise ValueError(f"format '{fmt}': choose one of {', '.join(FORMATS)}")
