"""The meeting summary of a study, built once as an ordered list of typed blocks (a Title, then one
Heading per section followed by that section's paragraphs, bullets, facts, tables and charts).
Every renderer (markdown, html, pdf, pptx) walks this same list, so every format carries the
same sections in the same order."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Union

import pandas as pd

from .. import costs
from ..decision import StudyDecision, Thresholds, run_summary
from ..decision.compare import attention_paths
from ..ui.i18n import count_text, device_text, kind_label, money, num, study_question, t
from .context import (gap_lines, gap_table, key_answers, paper_lines, paper_notes, paper_table,
                      projection_table, speed_lines)
from .evidence import attribution_table, evidence_lines, recommendation_lines
from .text import (comparison_table, cost_quality_text, fit_text, inference_text,
                   listing, lr_sweep_note, lr_sweep_table, meeting_phrases, next_steps, progress_text,
                   recorded_text, say, validation_text, verdict_line)


CODE_SPAN = re.compile(r"`([^`\n]+)`")   # a command in a sentence, Markdown's `code`


def without_code_marks(text: str) -> str:
    """text with Markdown's code backticks removed, for the formats that draw no code font."""
    return CODE_SPAN.sub(r"\1", text)


@dataclass(frozen=True)
class Title:
    """The first block: the study's name, the verdict line, the question asked (user text, may be
    ''), and the minute the summary was made (the files' creation date)."""
    study: str
    verdict: str
    question: str
    created: str
    sep: str = ": "             # between study and verdict in a one-line title, in the language


@dataclass(frozen=True)
class Heading:
    """Starts a section (a Markdown '##', an HTML h2, a PDF bookmark, a PPTX slide)."""
    text: str


@dataclass(frozen=True)
class Paragraph:
    text: str
    small: bool = False


@dataclass(frozen=True)
class Bullets:
    """items: (lead, text) pairs; a lead ('' for none) is shown in bold before its text."""
    items: tuple[tuple[str, str], ...]
    small: bool = False


@dataclass(frozen=True)
class Facts:
    """Key-value lines ('GPU type: h100'); values may be user text, keys never are. sep: what
    comes between key and value in the report's language (': ', or Japanese '：')."""
    pairs: tuple[tuple[str, str], ...]
    small: bool = False
    sep: str = ": "


@dataclass(frozen=True, eq=False)
class Table:
    frame: pd.DataFrame      # cells shown as str(value); headers already translated
    small: bool = False      # reference material (the appendix): a smaller type where the format has one


@dataclass(frozen=True, eq=False)
class Chart:
    """A chart as Vega-Lite JSON ('' with nothing to draw) and the table of the numbers it draws.
    Markdown, which draws no pictures, shows the table; the other formats show the picture, and
    the table beside it only when with_table. empty: the sentence shown when there is neither."""
    spec: str
    table: pd.DataFrame = field(default_factory=pd.DataFrame)
    with_table: bool = False
    empty: str = ""

    def svg(self) -> str:
        """Inline SVG (vl-convert renders offline); '' for no chart."""
        import vl_convert
        if not self.spec:
            return ""
        svg = vl_convert.vegalite_to_svg(self.spec)
        return svg[svg.index("<svg"):]

    def png(self) -> bytes:
        """PNG for PDF and PPTX (offline, system fonts); b'' for no chart."""
        import vl_convert
        return vl_convert.vegalite_to_png(self.spec, scale=2) if self.spec else b""


Block = Union[Title, Heading, Paragraph, Bullets, Facts, Table, Chart]


def build(sd: StudyDecision, lang: str) -> list[Block]:
    """The summary of sd in lang: the Title, then the sections in reading order."""
    d = sd.decision
    bullets = lambda lines, small=False: Bullets(tuple(("", s) for s in lines), small)  # noqa: E731
    recorded, progress = recorded_text(sd.recorded, lang), progress_text(sd.runs, lang)
    summary = run_summary(sd.runs, sd.prices) if not sd.runs.empty else pd.DataFrame()  # trade-off, appendix
    return [Title(sd.study, verdict_line(d, lang), study_question(sd.question, lang), sd.created,
                  t("sep.title", lang)),
            *([Paragraph(recorded)] if recorded else []),
            *([Paragraph(progress)] if progress else []),
            *_thresholds_note(sd, lang),
            *_key_numbers(sd, lang),
            Heading(t("dec.reasons", lang)), bullets(say(r, lang) for r in d.reasons + d.needed + d.flips),
            *_evidence(sd, lang),
            Heading(t("rep.cost_quality", lang)), Paragraph(cost_quality_text(d, lang)),
            Paragraph(inference_text(sd.inference, lang)),
            *_projection(sd, lang),
            *_paper(sd, lang),
            *_gap(sd, lang),
            Heading(t("rep.chart", lang)), *_tradeoff(summary, lang),
            Heading(t("dec.lr", lang)), *_lr_chart(sd, lang),
            Heading(t("dec.risks", lang)), bullets((say(r, lang) for r in d.risks), small=True),
            Heading(t("rep.next_step", lang)), bullets(next_steps(sd, lang)),
            Heading(t("rep.phrases", lang)), bullets(meeting_phrases(sd, lang)),
            Heading(t("rep.repro", lang)), Facts(footer(sd, lang), small=True, sep=t("sep.label", lang)),
            Paragraph(validation_text(sd.val_tokens, lang), small=True),
            Heading(t("rep.glossary", lang)), _glossary(lang),
            *_appendix(summary, lang)]


def headings(blocks: list[Block]) -> list[str]:
    """The section headings in order (what every format must carry)."""
    return [b.text for b in blocks if isinstance(b, Heading)]


def _evidence(sd: StudyDecision, lang: str) -> list[Block]:
    """Where the gain comes from (the attribution table) and how sure we are; the recommendations
    that hold whatever the verdict, in bold, first."""
    d = sd.decision
    lead = (t("dec.recommend", lang) + t("sep.label", lang)).rstrip()   # "...: Whatever the verdict"
    recs = tuple((lead, line) for line in recommendation_lines(d, lang))
    table = attribution_table(d, lang)
    return [Heading(t("dec.evidence", lang)), Bullets(recs + tuple(("", s) for s in evidence_lines(d, lang))),
            *([Table(table)] if len(table) else [])]


def _thresholds_note(sd: StudyDecision, lang: str) -> list[Block]:
    """What the verdict was decided with, when the Decision page changed the defaults (the command
    line's report, with the defaults, could then read otherwise)."""
    th = sd.thresholds
    if th == Thresholds():
        return []
    return [Paragraph(t("rep.thresholds", lang).format(
        go=th.go_net_low, nogo=th.nogo_net_high, seeds=th.min_seeds, sizes=th.min_sizes,
        go_sizes=th.go_min_sizes))]


def _key_numbers(sd: StudyDecision, lang: str) -> list[Block]:
    """The four answers, the equal-token / equal-cost table and the curve the multiplier rests on."""
    d = sd.decision
    out: list[Block] = [Heading(t("rep.metrics", lang)), Bullets(tuple(key_answers(sd, lang)))]
    table = comparison_table(d, lang)
    if len(table):   # what minus what, and which sign favours DCFormer, as the Decision page says
        fingerprint = d.multiplier.corpus_fingerprint[:12] if d.multiplier is not None else ""
        out += [Table(table), Paragraph(t("dec.table_note", lang).format(
            fingerprint=fingerprint or "—", baseline=d.pair_labels()["transformer"]), small=True)]
    fit = fit_text(d, lang)
    return out + ([Paragraph(fit, small=True)] if fit else [])


def _projection(sd: StudyDecision, lang: str) -> list[Block]:
    """The target scale stated, then each architecture's GPU-hours and $ there and what DCFormer
    saves for equal quality (the Decision page's projection at load_decision's target)."""
    target = sd.target
    proj = sd.projection or (sd.projection_span[0] if sd.projection_span else None)
    price = proj.price_per_hour if proj is not None else target.price_per_hour \
        if target.price_per_hour is not None else costs.price_per_hour(target.gpu_kind, sd.prices)
    facts = Facts(((t("dec.target_params_n", lang), count_text(target.params, lang)),   # 4 億 500 万
                   (t("dec.target_tokens_n", lang), count_text(target.tokens, lang)),
                   (t("dec.gpu", lang), kind_label(target.gpu_kind, lang)),
                   (t("dec.price", lang), num(price, ",.2f"))), sep=t("sep.label", lang))
    out: list[Block] = [Heading(t("dec.projection", lang)), facts]
    table = projection_table(sd, lang)
    if table.empty:
        return out + [Paragraph(t("dec.proj.none", lang))]
    return out + [Table(table), *(Paragraph(line, small=True) for line in speed_lines(sd, lang))]


def _paper(sd: StudyDecision, lang: str) -> list[Block]:
    """The paper's published figures beside the study's, the finding per claim and the scale gap."""
    if sd.paper is None:
        return []
    return [Heading(t("paper.title", lang)), *(Paragraph(line) for line in paper_lines(sd.paper, lang)),
            Table(paper_table(sd.paper, lang)),
            Bullets(tuple(("", note) for note in paper_notes(sd.paper, lang)), small=True)]


def _gap(sd: StudyDecision, lang: str) -> list[Block]:
    """DCFormer minus the baseline over training per size: the sentences, the chart and its table."""
    from ..ui.charts import gap_curves
    lines = [Paragraph(line) for line in gap_lines(sd.gap, lang, sd.decision.baseline)]
    if sd.gap is None or sd.gap.empty:
        return [Heading(t("gap.title", lang)), *lines]
    spec = gap_curves(sd.gap, lang).properties(width=480, height=240).to_json()
    return [Heading(t("gap.title", lang)), *lines,
            Chart(spec, gap_table(sd.gap, lang), with_table=True, empty=t("gap.none", lang))]


def _run_table(runs: pd.DataFrame, lang: str, with_front: bool) -> pd.DataFrame:
    """The trade-off chart's numbers, one row per run (with_front: whether it is on the front)."""
    from ..ui.charts import run_name
    front = {True: t("chart.front.yes", lang), False: t("chart.front.no", lang)}
    table = pd.DataFrame({
        t("chart.axis.run", lang): runs["id"].astype(str),
        t("col.variant", lang): run_name(runs),            # a ladder's two Transformer++ rungs apart
        t("col.preset", lang): runs["preset"], t("col.seed", lang): runs["seed"],
        t("chart.axis.cost_usd", lang): [money(c) for c in runs["cost_usd"]],
        t("chart.axis.perplexity", lang): [num(p, ".3f") for p in runs["perplexity"]]})
    return table.assign(**{t("chart.axis.pareto", lang): runs["pareto"].map(front).to_numpy()}) \
        if with_front else table


def _tradeoff(runs: pd.DataFrame, lang: str) -> list[Block]:
    """Perplexity against cost per finished run (the Compare page's Pareto chart). A go/no-go reads
    the front only (the runs no other run beats on both cost and perplexity, cheapest first): the
    reference study's 45 rows, costs mostly "< $0.01", took two screens and said nothing more. So
    the table beside the chart (in every format; Markdown shows only the table) holds the front, a
    sentence counts the others, and every run is listed in the appendix (_appendix) at the end."""
    from ..ui.charts import pareto_scatter
    if runs.empty:
        return [Chart("", empty=t("rep.no_chart", lang))]
    front = runs[runs["pareto"]].sort_values(["cost_usd", "perplexity"], kind="stable")
    spec = pareto_scatter(runs, lang).properties(width=560).to_json()
    beaten = len(runs) - len(front)
    note = (t("rep.front_note", lang).format(front=len(front), total=len(runs), beaten=beaten) if beaten
            else t("rep.front_all", lang).format(total=len(runs)))
    return [Chart(spec, _run_table(front, lang, with_front=False), with_table=True,
                  empty=t("rep.no_chart", lang)), Paragraph(note, small=True)]


# The report's terms in reading order, each read in one plain sentence (gloss.<term>.name / .what)
GLOSSARY = ("multiplier", "net", "speed", "interval", "nats", "perplexity", "equal", "seeds", "qk_norm",
            "dcmha", "front", "fit", "winner", "methods")


def _glossary(lang: str) -> Facts:
    """What the report's terms mean for the decision, one sentence each, for a reader who does not
    use them every day."""
    return Facts(tuple((t(f"gloss.{term}.name", lang), t(f"gloss.{term}.what", lang)) for term in GLOSSARY),
                 small=True, sep=t("sep.label", lang))


def _appendix(runs: pd.DataFrame, lang: str) -> list[Block]:
    """Every finished run (run_summary's rows) with its cost, perplexity and place on the front,
    when the trade-off section showed only the front (nothing when every run is on it: that
    section lists them all)."""
    if runs.empty or runs["pareto"].all():
        return []
    return [Heading(t("rep.appendix_runs", lang)), Table(_run_table(runs, lang, with_front=True), small=True)]


def _lr_chart(sd: StudyDecision, lang: str) -> list[Block]:
    """Loss against learning rate with the sweep table beside it in every format, and what its
    losses are."""
    from ..ui.charts import lr_curves
    sweep = sd.decision.lr_sweep
    if sweep is None or sweep.empty:
        return [Chart("", empty=t("dec.lr_none", lang))]
    spec = lr_curves(sweep, lang).properties(width=480, height=240).to_json()
    return [Chart(spec, lr_sweep_table(sd.decision, lang), with_table=True, empty=t("dec.lr_none", lang)),
            Paragraph(lr_sweep_note(sd.decision, lang), small=True)]


FOOTER_FIELDS = ("runs", "commit", "versions", "corpus", "seeds", "devices", "attn_path", "date")


def footer(sd: StudyDecision, lang: str = "en") -> tuple[tuple[str, str], ...]:
    """What reproduces the study: run ids, commits, library versions, corpora, seeds, devices, date."""
    runs = sd.runs
    versions: dict = {}
    for v in runs.get("versions", pd.Series(dtype=object)):
        versions.update(v or {})

    def col(c: str) -> str:       # one column's distinct values, in order (seeds as numbers: 2 before 11)
        found = sorted(set(runs[c].dropna())) if c in runs else []
        return listing([str(int(x)) if isinstance(x, float) and x.is_integer() else str(x) for x in found],
                       lang)
    ids = listing(list(runs["id"].astype(str)), lang) if "id" in runs else ""
    devices = sorted({device_text(str(d), lang) for d in runs["device"].dropna()}) if "device" in runs else []
    values = (ids, col("git_commit"), listing([f"{k} {v}" for k, v in sorted(versions.items())], lang),
              col("corpus_fingerprint"), col("seed"), listing(devices, lang), attention_paths(runs), sd.created)
    return tuple((t(f"rep.foot.{key}", lang), value) for key, value in zip(FOOTER_FIELDS, values))
