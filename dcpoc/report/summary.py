"""The decision in words: reasons rendered in a language, and the meeting summary (Markdown, a
self-contained HTML one-pager, a PDF one-pager and a short PPTX deck). No Streamlit, no torch."""
from __future__ import annotations

import datetime as _dt
import glob
import html
import io
import math
import os
import re
import shutil
import subprocess
from dataclasses import dataclass

import pandas as pd

from ..decision import analysis
from ..studies import planning
from ..config import ARCH_LABELS
from ..studies.spec import ladder
from ..ui.i18n import duration, hours, money, t

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
    next: planning.NextStep | None = None    # the planned next runs and their estimate
    inference: dict | None = None            # the newest `bench infer` result (bench.bench_infer)


def build_summary(runs: pd.DataFrame, study: str, question: str = "",
                  val_curves: pd.DataFrame | None = None,
                  thresholds: analysis.Thresholds = analysis.Thresholds(),
                  inference: dict | None = None) -> Summary:
    scoped = runs[analysis.study_key(runs).eq(study)] if not runs.empty else runs
    decision = analysis.decide(runs, study, thresholds, val_curves=val_curves)
    return Summary(study, question, decision, scoped,
                   _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                   planning.next_step(decision, runs, study), inference)


def inference_text(result: dict | None, lang: str) -> str:
    """The inference benchmark in one sentence (decode speed and latency of both architectures,
    cache bytes per token), or how to measure it."""
    if not result:
        return t("rep.infer_none", lang)
    rows = {r["arch"]: r for r in result["rows"]}
    ratios = result["dcformer_over_transformer"]
    return t("rep.infer", lang).format(
        preset=result["preset"], device=result["machine"]["device"], date=result["date"][:10],
        decode=ratios["decode_tokens_per_s"], dc_p50=rows["dcformer"]["latency_p50_ms"],
        tf_p50=rows["transformer"]["latency_p50_ms"], cache=ratios["cache_bytes_per_token"])


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
            "fit": fit_text(d, lang), "next": next_steps(d, lang, summary.next),
            "phrases": meeting_phrases(summary, lang), "lr": lr_sweep_table(d, lang),
            "inference": inference_text(summary.inference, lang)}


def _md_escape(text: str) -> str:
    """User text as literal Markdown: on one line (so nothing starts a list or heading) with the
    inline markup characters escaped; dots and dashes stay readable (versions, dates)."""
    one_line = " ".join(str(text).split())
    escaped = "".join("\\" + c if c in "\\`*_{}[]<>()!|&\"" else c for c in one_line)
    if escaped[:1] in ("-", "+", "#", "="):            # would open a list or heading
        return "\\" + escaped
    return re.sub(r"^(\d+)([.)])", r"\1\\\2", escaped)   # "1. " would open an ordered list


def _md_table(table: pd.DataFrame) -> list[str]:
    cols = list(table.columns)
    return (["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
            + ["| " + " | ".join(str(v) for v in row) + " |" for row in table.itertuples(index=False)]
            + [""])


def to_markdown(summary: Summary, lang: str) -> str:
    s = _sections(summary, lang)
    lines = [f"# {_md_escape(summary.study)}: {s['verdict']}", ""]
    if summary.question:
        lines += [f"> {_md_escape(summary.question)}", ""]
    lines += [f"- **{q}** {a}" for q, a in s["answers"]] + [""]
    lines += [f"## {t('dec.reasons', lang)}", ""] + [f"- {r}" for r in s["reasons"]] + [""]
    if len(s["table"]):
        lines += _md_table(s["table"])
    if s["fit"]:
        lines += [s["fit"], ""]
    lines += [s["inference"], ""]
    lines += [f"## {t('dec.lr', lang)}", ""] + (_md_table(s["lr"]) if len(s["lr"]) else
                                                 [t("dec.lr_none", lang), ""])
    lines += [f"## {t('dec.risks', lang)}", ""] + [f"- {r}" for r in s["risks"]] + [""]
    lines += [f"## {t('rep.next_step', lang)}", ""] + [f"- {r}" for r in s["next"]] + [""]
    lines += [f"## {t('rep.phrases', lang)}", ""] + [f"- {r}" for r in s["phrases"]] + [""]
    lines += ["---", ""] + [f"- {k}: {_md_escape(v) or '—'}" for k, v in _footer(summary)]
    return "\n".join(lines) + "\n"


def _chart_spec(summary: Summary, lang: str) -> str:
    """The trade-off chart's Vega-Lite JSON; '' with nothing to draw."""
    from ..ui.charts import pareto_scatter
    table = analysis.run_summary(summary.runs)
    if table.empty:
        return ""
    return pareto_scatter(table, lang).properties(width=560).to_json()


def _lr_chart_spec(summary: Summary, lang: str) -> str:
    """The loss-against-learning-rate chart's Vega-Lite JSON; '' without a sweep."""
    from ..ui.charts import lr_curves
    table = summary.decision.lr_sweep
    if table is None or table.empty:
        return ""
    return lr_curves(table, lang).properties(width=480, height=240).to_json()


def _svg(spec: str) -> str:
    """A chart as inline SVG (vl-convert renders offline); '' for no chart."""
    import vl_convert
    if not spec:
        return ""
    svg = vl_convert.vegalite_to_svg(spec)
    return svg[svg.index("<svg"):]


def _png(spec: str) -> bytes:
    """A chart as PNG for PDF and PPTX (offline, system fonts); b'' for no chart."""
    import vl_convert
    return vl_convert.vegalite_to_png(spec, scale=2) if spec else b""


def lr_sweep_table(decision: analysis.Decision, lang: str) -> pd.DataFrame:
    """The learning-rate sweep as people read it: per size (and token budget, where a size ran
    several) and rate, each architecture's mean validation loss over its seeds (a star marks its
    best rate) and the difference."""
    table = decision.lr_sweep
    if table is None or table.empty:
        return pd.DataFrame()
    budgets = table.groupby("preset")["tokens"].nunique()
    rows = []
    for (preset, tokens, lr), cell in table.groupby(["preset", "tokens", "lr"], sort=False):
        by = cell.set_index("arch")
        loss = {a: float(by.loc[a, "loss"]) if a in by.index else math.nan for a in ARCH_LABELS}
        mark = {a: "*" if a in by.index and bool(by.loc[a, "best"]) else "" for a in ARCH_LABELS}
        size = preset if budgets[preset] == 1 else f"{preset} ({tokens:,.0f} tokens)"
        diff = loss["dcformer"] - loss["transformer"]
        rows.append({t("dec.lr_col.preset", lang): size, t("dec.lr_col.lr", lang): analysis.lr_label(lr),
                     **{ARCH_LABELS[a]: f"{loss[a]:.4f}{mark[a]}" if math.isfinite(loss[a]) else
                        t("dec.lr_diverged", lang) if loss[a] == math.inf else "—" for a in ARCH_LABELS},
                     t("dec.lr_col.diff", lang): f"{diff:+.4f}" if math.isfinite(diff) else "—"})
    return pd.DataFrame(rows)


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
    parts.append(f"<p>{e(s['inference'])}</p>")
    parts.append(_svg(_chart_spec(summary, lang)))
    parts.append(f"<h2>{e(t('dec.lr', lang))}</h2>")
    if len(s["lr"]):
        parts.append(s["lr"].to_html(index=False, escape=True, border=0))
        parts.append(_svg(_lr_chart_spec(summary, lang)))
    else:
        parts.append(f"<p>{e(t('dec.lr_none', lang))}</p>")
    parts.append(f"<h2>{e(t('dec.risks', lang))}</h2><ul>"
                 + "".join(f"<li>{e(r)}</li>" for r in s["risks"]) + "</ul>")
    parts.append(f"<h2>{e(t('rep.next_step', lang))}</h2><ul>"
                 + "".join(f"<li>{e(r)}</li>" for r in s["next"]) + "</ul>")
    parts.append(f"<h2>{e(t('rep.phrases', lang))}</h2><ul>"
                 + "".join(f"<li>{e(r)}</li>" for r in s["phrases"]) + "</ul>")
    parts.append("<footer><dl>" + "".join(f"<dt>{e(k)}</dt><dd>{e(v) or '—'}</dd>"
                                         for k, v in _footer(summary)) + "</dl></footer></body></html>")
    return "".join(parts)


def cost_quality_text(decision: analysis.Decision, lang: str) -> str:
    """Net benefit with the multiplier and speed ratio it is made of."""
    mult = decision.multiplier
    ratio = f"{mult.speed_ratio:.2f}×" if mult and math.isfinite(mult.speed_ratio) else "—"
    return t("rep.cost_quality_text", lang).format(
        net=interval_text(mult.net_benefit if mult else None, ".2f", lang, "×"),
        m=interval_text(mult.multiplier if mult else None, ".2f", lang, "×"), ratio=ratio)


def next_what(step: planning.NextStep, lang: str) -> str:
    """The planned runs in words ('run cpu-demo with both architectures (seeds 1, 2)')."""
    return t("next.join", lang).join(say(part, lang) for part in step.parts)


def next_step_line(step: planning.NextStep | None, lang: str) -> str:
    """'Next step: <what> (n runs) — about <wall time>, <device-hours>, $<cost> on <device>.';
    '' without a planned step."""
    if step is None:
        return ""
    e = step.estimate
    return t("next.line", lang).format(what=next_what(step, lang), n=int(e["n_runs"]),
                                       wall=duration(e["wall_s"], lang), hours=hours(e["device_hours"]),
                                       cost=money(e["cost_usd"]), device=step.device)


def next_steps(decision: analysis.Decision, lang: str,
               step: planning.NextStep | None = None) -> list[str]:
    """The planned next runs with their cost (when given), then what to run next (insufficient
    evidence), else what would flip the verdict, else confirm."""
    line = next_step_line(step, lang)
    steps = [say(r, lang) for r in decision.needed or decision.flips] or [t("rep.next_none", lang)]
    return ([line] if line else []) + steps


def meeting_phrases(summary: "Summary", lang: str) -> list[str]:
    """Three to five plain sentences the decision maker can say: what was tested, the result with
    its interval, the net benefit, the recommendation, and what it costs to be sure."""
    d, runs = summary.decision, summary.runs
    phrases = []
    if not runs.empty:
        presets = ladder(list(runs["preset"].dropna()))
        seeds = sorted({int(s) for s in runs["seed"].dropna()})
        phrases.append(t("phrase.tested", lang).format(n=len(runs), presets=", ".join(presets),
                                                       seeds=", ".join(map(str, seeds))))
    tokens = d.equal_tokens
    if tokens is not None and len(tokens):
        largest = tokens.iloc[-1]
        phrases.append(t("phrase.result", lang).format(
            preset=largest["preset"], diff=interval_text(row_interval(largest, "loss"), "+.4f", lang)))
    else:
        phrases.append(t("phrase.result_none", lang))
    mult = d.multiplier
    if mult is not None and math.isfinite(mult.net_benefit.mean):
        phrases.append(t("phrase.net", lang).format(net=interval_text(mult.net_benefit, ".2f", lang, "×")))
    phrases.append(t("phrase.verdict", lang).format(verdict=verdict_line(d, lang)))
    if summary.next is not None:
        e = summary.next.estimate
        phrases.append(t("phrase.next", lang).format(what=next_what(summary.next, lang),
                                                     wall=duration(e["wall_s"], lang),
                                                     cost=money(e["cost_usd"])))
    return phrases


class ReportError(Exception):
    """A report that cannot be made here (e.g. no CJK font for the PDF); one sentence for the user."""


PDF_FONT_ENV = "DCPOC_PDF_FONT"
PDF_FONT_PACKAGE = "fonts-ipaexfont-gothic"
_PDF_FONT_PATHS = ("/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",
                   "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf")


def cjk_font(lang: str = "en") -> str:
    """A TrueType font with Japanese glyphs: $DCPOC_PDF_FONT, Debian's IPAex Gothic, or the first
    .ttf fontconfig knows for Japanese. fpdf2 embeds a subset of it in the PDF."""
    given = os.environ.get(PDF_FONT_ENV)
    if given:
        if os.path.isfile(given):
            return given
        raise ReportError(t("rep.font_missing", lang))
    for path in _PDF_FONT_PATHS:
        if os.path.isfile(path):
            return path
    if shutil.which("fc-list"):
        listed = subprocess.run(["fc-list", ":lang=ja", "file"], capture_output=True, text=True).stdout
        found = sorted(line.split(":")[0].strip() for line in listed.splitlines()
                       if line.split(":")[0].strip().lower().endswith(".ttf"))
        if found:
            return found[0]
    found = sorted(glob.glob("/usr/share/fonts/**/ipaex*.ttf", recursive=True))
    if found:
        return found[0]
    raise ReportError(t("rep.font_missing", lang))


def to_pdf(summary: Summary, lang: str) -> bytes:
    """The one-pager as PDF (A4): verdict, question, numbers, cost per quality, chart, risks, next
    step, then the reproducibility footer. One embedded CJK font serves both languages; text is
    drawn as text, never interpreted (no markup)."""
    from fpdf import FPDF
    font = cjk_font(lang)
    s = _sections(summary, lang)
    pdf = FPDF(format="A4")
    pdf.set_creation_date(_dt.datetime.strptime(summary.created, "%Y-%m-%d %H:%M UTC")
                          .replace(tzinfo=_dt.timezone.utc))
    pdf.set_title(summary.study)
    pdf.set_lang(lang)
    for style in ("", "B"):    # one weight: tables ask for bold headings
        pdf.add_font("cjk", style, font)
    pdf.set_margins(15, 12, 15)
    pdf.set_auto_page_break(True, 12)
    pdf.add_page()

    def text(body: str, size: float = 9.5, height: float = 4.8) -> None:
        pdf.set_font("cjk", size=size)
        pdf.multi_cell(0, height, body, align="L", new_x="LMARGIN", new_y="NEXT")

    def heading(body: str) -> None:
        pdf.ln(1.5)
        pdf.set_text_color(30, 60, 120)
        text(body, 11.5, 6)
        pdf.set_text_color(0, 0, 0)

    pdf.set_text_color(30, 60, 120)
    text(summary.study, 11, 6)
    pdf.set_text_color(0, 0, 0)
    text(s["verdict"], 17, 9)
    if summary.question:
        text(f"{t('rep.question', lang)}: {summary.question}", 10.5, 5.5)
    heading(t("rep.metrics", lang))
    for q, a in s["answers"]:
        text(f"• {q} {a}")
    if len(s["table"]):
        pdf.ln(1)
        pdf.set_font("cjk", size=8)
        with pdf.table(col_widths=(14, 14, 10, 31, 31), text_align="LEFT", line_height=4.2) as table:
            for row in [list(s["table"].columns)] + s["table"].astype(str).values.tolist():
                cells = table.row()
                for value in row:
                    cells.cell(str(value))
    if s["fit"]:
        text(s["fit"], 8)
    heading(t("rep.cost_quality", lang))
    text(cost_quality_text(summary.decision, lang))
    text(s["inference"])
    heading(t("rep.chart", lang))
    png = _png(_chart_spec(summary, lang))
    if png:
        pdf.image(io.BytesIO(png), w=120)
    else:
        text(t("rep.no_chart", lang))
    heading(t("dec.lr", lang))
    if len(s["lr"]):
        pdf.set_font("cjk", size=8)
        with pdf.table(text_align="LEFT", line_height=4.2) as table:
            for row in [list(s["lr"].columns)] + s["lr"].astype(str).values.tolist():
                cells = table.row()
                for value in row:
                    cells.cell(str(value))
        pdf.image(io.BytesIO(_png(_lr_chart_spec(summary, lang))), w=100)
    else:
        text(t("dec.lr_none", lang))
    heading(t("dec.risks", lang))
    for risk in s["risks"]:
        text(f"• {risk}", 8.5, 4.3)
    heading(t("rep.next_step", lang))
    for step in s["next"]:
        text(f"• {step}")
    heading(t("rep.phrases", lang))
    for phrase in s["phrases"]:
        text(f"• {phrase}")
    heading(t("rep.repro", lang))
    for key, value in _footer(summary):
        text(f"{key}: {value or '—'}", 7.5, 3.8)
    return bytes(pdf.output())


def to_pptx(summary: Summary, lang: str) -> bytes:
    """A six-slide deck: verdict, numbers, trade-off chart, learning-rate sweep, risks and next
    steps, reproducibility.
    python-pptx writes text as XML text nodes, so user text stays literal."""
    from pptx import Presentation
    from pptx.util import Inches, Pt
    s = _sections(summary, lang)
    deck = Presentation()
    deck.slide_width, deck.slide_height = Inches(13.333), Inches(7.5)
    created = _dt.datetime.strptime(summary.created, "%Y-%m-%d %H:%M UTC")
    deck.core_properties.title = summary.study
    deck.core_properties.created = deck.core_properties.modified = created
    title_only = deck.slide_layouts[5]

    def slide(title: str, layout=title_only):
        page = deck.slides.add_slide(layout)
        page.shapes.title.text = title
        page.shapes.title.left, page.shapes.title.width = Inches(0.5), Inches(12.3)
        return page

    def fill(frame, lines: list[str], size: int) -> None:
        frame.word_wrap = True
        for i, line in enumerate(lines):
            paragraph = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
            paragraph.text = line
            paragraph.font.size = Pt(size)

    def box(page, lines: list[str], size: int, top: float, height: float) -> None:
        fill(page.shapes.add_textbox(Inches(0.6), Inches(top), Inches(12.1), Inches(height))
             .text_frame, lines, size)

    first = deck.slides.add_slide(deck.slide_layouts[0])
    first.shapes.title.text = s["verdict"]
    first.placeholders[1].text = summary.study + (f"\n{summary.question}" if summary.question else "")

    numbers = slide(t("rep.metrics", lang))
    box(numbers, [f"{q} {a}" for q, a in s["answers"]]
        + [cost_quality_text(summary.decision, lang)] + ([s["fit"]] if s["fit"] else [])
        + [s["inference"]], 14, 1.5, 2.6)
    table = s["table"]
    if len(table):
        shape = numbers.shapes.add_table(len(table) + 1, len(table.columns), Inches(0.6), Inches(4.4),
                                         Inches(12.1), Inches(0.4 * (len(table) + 1)))
        for j, name in enumerate(table.columns):
            shape.table.cell(0, j).text = str(name)
        for i, row in enumerate(table.astype(str).values.tolist(), start=1):
            for j, value in enumerate(row):
                shape.table.cell(i, j).text = value
        for cell in shape.table.iter_cells():
            for paragraph in cell.text_frame.paragraphs:
                paragraph.font.size = Pt(12)

    chart = slide(t("rep.chart", lang))
    png = _png(_chart_spec(summary, lang))
    if png:
        chart.shapes.add_picture(io.BytesIO(png), Inches(1.5), Inches(1.5), height=Inches(5.6))
    else:
        box(chart, [t("rep.no_chart", lang)], 18, 1.6, 1.0)

    sweep = slide(t("dec.lr", lang))
    if len(s["lr"]):
        sweep.shapes.add_picture(io.BytesIO(_png(_lr_chart_spec(summary, lang))), Inches(0.6),
                                 Inches(1.4), height=Inches(3.6))
        box(sweep, [" | ".join(map(str, s["lr"].columns))]
            + [" | ".join(map(str, row)) for row in s["lr"].itertuples(index=False)], 10, 5.1, 2.2)
    else:
        box(sweep, [t("dec.lr_none", lang)], 16, 1.6, 1.0)

    risks = slide(t("rep.next_step", lang) + " / " + t("dec.risks", lang))
    box(risks, [f"▶ {step}" for step in s["next"]], 14, 1.3, 1.7)
    box(risks, [f"• {risk}" for risk in s["risks"]], 11, 3.0, 2.2)
    box(risks, [t("rep.phrases", lang)] + [f"• {p}" for p in s["phrases"]], 11, 5.2, 2.2)

    repro = slide(t("rep.repro", lang))
    box(repro, [f"{key}: {value or '—'}" for key, value in _footer(summary)], 12, 1.4, 5.6)
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


FORMATS = ("md", "html", "pdf", "pptx")
PPTX_SLIDES = 6


def render(summary: Summary, fmt: str, lang: str) -> bytes:
    """The summary as a file's bytes. Raises ReportError when this machine cannot make it (a PDF
    without a CJK font)."""
    if fmt == "md":
        return to_markdown(summary, lang).encode()
    if fmt == "html":
        return to_html(summary, lang).encode()
    if fmt == "pdf":
        return to_pdf(summary, lang)
    if fmt == "pptx":
        return to_pptx(summary, lang)
    raise ValueError(f"format '{fmt}': choose one of {', '.join(FORMATS)}")
