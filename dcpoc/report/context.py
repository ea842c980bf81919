"""The decision's context in words, in a language: the paper's published figures beside the study's
own, the gap over training per size, and the projection's cost lines with where its speed ratio came
from (measured on the target's kind, or a range labelled as not measured there). The Decision page
and report.blocks both use these, so they read the same."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pandas as pd

from ..config import VARIANT_LABELS
from ..decision.gap import gap_summary
from ..decision.paper import LOSS_DCFORMER, LOSS_TRANSFORMER, MULTIPLIER, THROUGHPUT
from ..ui.i18n import count_text, device_text, hours, kind_label, money, sentences, t
from .text import answers, interval_text, say

if TYPE_CHECKING:
    from ..decision import StudyDecision
    from ..decision.paper import PaperComparison, PaperRow


def _factor(value: float, lang: str) -> str:
    """A scale gap in prose: '443×'; Japanese prose says '443 倍' (× is for values in tables)."""
    if not math.isfinite(value):
        return "—"
    number = f"{value:,.0f}" if value >= 10 else f"{value:.1f}"
    return f"{number} 倍" if lang == "ja" else f"{number}×"


def _paper_value(row: PaperRow, lang: str) -> str:
    if row.claim == "multiplier":
        return t("paper.val.multiplier", lang).format(low=MULTIPLIER.low, high=MULTIPLIER.high)
    if row.claim == "loss":
        return t("paper.val.loss", lang).format(dc=LOSS_DCFORMER, tf=LOSS_TRANSFORMER,
                                                diff=LOSS_DCFORMER - LOSS_TRANSFORMER)
    return t("paper.val.throughput", lang).format(low=THROUGHPUT[0].low, high=THROUGHPUT[-1].high)


def _ours(row: PaperRow, comparison: PaperComparison, lang: str) -> str:
    from ..decision import Interval
    interval = Interval(row.ours, row.ours_low, row.ours_high, 0)
    if row.claim == "multiplier":
        return interval_text(interval, ".2f", lang, "×")
    if row.claim == "loss":
        return interval_text(interval, "+.4f", lang)
    if not math.isfinite(row.ours):
        return "—"
    return t("paper.ours.speed", lang).format(ratio=f"{row.ours:.2f}×",
                                              device=device_text(comparison.speed_device, lang))


_CLAIMS = {"multiplier": "paper.claim.multiplier", "loss": "paper.claim.loss",
           "throughput": "paper.claim.throughput"}
_FINDINGS = {"agrees": "paper.finding.agrees", "contradicts": "paper.finding.contradicts",
             "cannot": "paper.finding.cannot"}
_OVERALL = {"agrees": "paper.overall.agrees", "contradicts": "paper.overall.contradicts",
            "cannot": "paper.overall.cannot"}


def paper_table(comparison: PaperComparison, lang: str) -> pd.DataFrame:
    """One row per published claim: the paper's figure, the study's, the finding and why."""
    return pd.DataFrame({
        t("paper.col.claim", lang): [t(_CLAIMS[r.claim], lang) for r in comparison.rows],
        t("paper.col.paper", lang): [_paper_value(r, lang) for r in comparison.rows],
        t("paper.col.ours", lang): [_ours(r, comparison, lang) for r in comparison.rows],
        t("paper.col.finding", lang): [t(_FINDINGS[r.finding], lang) for r in comparison.rows],
        t("paper.col.why", lang): [say(r.why, lang) for r in comparison.rows]})


def paper_items(comparison: PaperComparison, lang: str) -> list[str]:
    """paper_table as one Markdown line per claim, for the Decision page: as a five-column table
    at 800 px the browser squeezed the finding to a character a line beside the sentences."""
    return [t("paper.item", lang).format(claim=t(_CLAIMS[r.claim], lang), paper=_paper_value(r, lang),
                                         ours=_ours(r, comparison, lang),
                                         finding=t(_FINDINGS[r.finding], lang), why=say(r.why, lang))
            for r in comparison.rows]


def paper_lines(comparison: PaperComparison, lang: str) -> list[str]:
    """The overall finding and the scale gap, in two sentences."""
    gap = t("paper.gap", lang).format(params=count_text(comparison.params, lang), tokens=count_text(comparison.tokens, lang),
                                      gap_p=_factor(comparison.gap_params, lang),
                                      gap_t=_factor(comparison.gap_tokens, lang))
    return [t(_OVERALL[comparison.finding], lang), gap]


def paper_notes(comparison: PaperComparison, lang: str) -> list[str]:
    """The notes on each published figure (units, hardware) and its source."""
    return [t("paper.note_line", lang).format(claim=t(_CLAIMS[r.claim], lang), note=t(r.note_key, lang),
                                              source=t(r.source_key, lang)) for r in comparison.rows]


# ----------------------------------------------------------------------------- the target's speed
def speed_lines(sd: StudyDecision, lang: str) -> list[str]:
    """Where the projection's speed ratio comes from, and the self-check beside it if any."""
    speed = sd.speed
    if speed is None:
        return []
    if speed.measured:
        key = "dec.speed.study" if speed.source == "study" else "dec.speed.bench"
        lines = [t(key, lang).format(kind=kind_label(speed.kind, lang), ratio=speed.ratio, detail=speed.detail)]
    else:
        ratio = f"{speed.study_ratio:.2f}×" if math.isfinite(speed.study_ratio) else "—"
        times = lambda v: f"{v:.2f}×"  # noqa: E731
        lines = [t("dec.speed.range", lang).format(
            kind=kind_label(speed.kind, lang), span=_span(speed.low, speed.high, times, lang),
            paper=_span(speed.paper_low, speed.paper_high, times, lang), ratio=ratio,
            device=device_text(speed.study_device, lang))]
    if math.isfinite(speed.kernel_speedup):
        lines.append(t("dec.speed.kernel", lang).format(kind=kind_label(speed.kind, lang),
                                                        x=speed.kernel_speedup))
    return lines


def _span(low: float, high: float, fmt, lang: str) -> str:
    """'a – b' ('a〜b' in Japanese; slow end first), or one value when both ends agree."""
    a, b = fmt(low), fmt(high)
    return a if a == b else f"{a}{t('sep.range', lang)}{b}"


def projection_rows(sd: StudyDecision, lang: str) -> list[tuple[str, str, str]]:
    """(label, GPU-hours, $) per line of the projection: single values at a ratio measured on the
    target's kind, 'slow – fast' ranges (labelled not measured) otherwise; [] without a projection."""
    keys = ("dec.proj.tf", "dec.proj.dc_same", "dec.proj.dc_equal", "dec.proj.saved")
    fields = (("tf_gpu_hours", "tf_cost_usd"), ("dc_gpu_hours_same_tokens", "dc_cost_same_tokens_usd"),
              ("dc_gpu_hours_equal_quality", "dc_cost_equal_quality_usd"), (None, "saved_usd"))
    if sd.projection is not None:
        ends = (sd.projection, sd.projection)
        label = ""
    elif sd.projection_span is not None:
        ends = sd.projection_span
        label = t('dec.speed.label', lang).format(kind=kind_label(sd.target.gpu_kind, lang))
    else:
        return []
    rows = []
    for key, (h, usd) in zip(keys, fields):
        low, high = getattr(ends[0], usd), getattr(ends[1], usd)
        if key == "dec.proj.saved" and max(low, high) < 0:   # DCFormer costs more: say so, unsigned
            key, low, high = "dec.proj.extra", -low, -high
        name = t(key, lang)
        if key != "dec.proj.tf":                            # Transformer++ needs no DCFormer ratio
            name = _labelled(name, label, lang)
        rows.append((name,
                     _span(getattr(ends[0], h), getattr(ends[1], h), hours, lang) if h else hours(None),
                     _span(low, high, money, lang)))
    interval = _saving_interval(ends, lang)
    return rows + ([(_labelled(interval[0], label, lang), hours(None), interval[1])] if interval else [])


def key_answers(sd: StudyDecision, lang: str, dashboard: bool = False) -> list[tuple[str, str]]:
    """The decision maker's questions with their short answers: the three the verdict answers
    (text.answers; dashboard: as the Overview words them), then what it costs at the target
    (cost_answer) where there is a projection."""
    cost = cost_answer(sd, lang)
    return answers(sd.decision, lang, dashboard=dashboard) + ([cost] if cost else [])


def cost_answer(sd: StudyDecision, lang: str) -> tuple[str, str] | None:
    """The decision maker's fourth question, what DCFormer costs at the target, answered from the
    projection: both architectures' cost at equal quality, the difference, and which speed ratio
    priced it (measured on the target's kind, or the paper's range with the study's own ratio named
    as not carrying over). None without a projection."""
    ends = (sd.projection, sd.projection) if sd.projection is not None else sd.projection_span
    if ends is None:
        return None
    kind = kind_label(sd.target.gpu_kind, lang)
    tf = money(ends[0].tf_cost_usd)
    dc = _span(ends[0].dc_cost_equal_quality_usd, ends[1].dc_cost_equal_quality_usd, money, lang)
    extra = sorted(e.dc_cost_equal_quality_usd - e.tf_cost_usd for e in ends)
    if extra[0] >= 0:
        diff = t("dec.a4.more", lang).format(usd=_span(extra[0], extra[1], money, lang))
    elif extra[1] <= 0:
        diff = t("dec.a4.less", lang).format(usd=_span(-extra[1], -extra[0], money, lang))
    else:
        diff = t("dec.a4.either", lang).format(less=money(-extra[0]), more=money(extra[1]))
    values = dict(params=count_text(sd.target.params, lang), tokens=count_text(sd.target.tokens, lang),
                  kind=kind, tf=tf, dc=dc, diff=diff)
    speed = sd.speed
    if sd.projection is not None:
        answer = t("dec.a4.measured", lang).format(ratio=f"{sd.projection.speed_ratio:.2f}×", **values)
    else:
        answer = t("dec.a4.range" if speed.study_kind == "cpu" else "dec.a4.range_gpu", lang).format(
            span=_span(speed.low, speed.high, lambda v: f"{v:.2f}×", lang),
            device=device_text(speed.study_device, lang),
            ratio=f"{speed.study_ratio:.2f}×" if math.isfinite(speed.study_ratio) else "—", **values)
    shrinks = dict(sd.decision.flips).get("flip.go_shrinks")
    if shrinks:   # the projection carries the pooled multiplier, which the verdict says shrinks
        answer = sentences(lang, answer, t("dec.a4.shrinks", lang).format(**shrinks))
    return t("dec.q4", lang), answer


def _at_step(value: float, step: int, lang: str) -> str:
    """'-0.1550 (112)': a gap and the step it was read at (full-width brackets in Japanese)."""
    return f"{value:+.4f}（{step:,}）" if lang == "ja" else f"{value:+.4f} ({step:,})"


def _labelled(name: str, label: str, lang: str) -> str:
    """'DCFormer (same tokens) (not measured)' reads 'DCFormer (same tokens, not measured)'."""
    if not label:
        return name
    return f"{name[:-1]}{t('sep.list', lang)}{label}{name[-1]}" if name[-1] in ")）" else f"{name} ({label})"


def _saving_interval(ends: tuple, lang: str) -> tuple[str, str] | None:
    """(label, '$a – $b') of the saving over the multiplier's 95% interval at the speed range's
    ends: a point saving of $46 hid that the interval reaches from $33 to $67 (None without one)."""
    lows = [e.saved_low_usd for e in ends if e.saved_low_usd is not None and math.isfinite(e.saved_low_usd)]
    highs = [e.saved_high_usd for e in ends if e.saved_high_usd is not None]
    if not lows or not highs:
        return None
    low, high = min(lows), max(highs)
    if high < 0:                                  # DCFormer dearer across the interval: unsigned
        return t("dec.proj.extra_interval", lang), _span(-high, -low, money, lang)
    if low >= 0:
        return t("dec.proj.saved_interval", lang), _span(low, high, money, lang)
    signed = lambda usd: f"−{money(-usd)}" if usd < 0 else money(usd)   # noqa: E731
    return t("dec.proj.saved_interval_signed", lang), f"{signed(low)}{t('sep.range', lang)}{signed(high)}"


def projection_table(sd: StudyDecision, lang: str) -> pd.DataFrame:
    """projection_rows as a table (item, GPU-hours, cost); empty without a projection."""
    rows = projection_rows(sd, lang)
    return pd.DataFrame({t("dec.projection", lang): [label for label, _, _ in rows],
                         t("dec.proj.hours", lang): [h for _, h, _ in rows],
                         t("dec.proj.cost", lang): [usd for _, _, usd in rows]})


# ----------------------------------------------------------------------------- the gap over training
def gap_lines(gaps: pd.DataFrame | None, lang: str, baseline: str = "transformer") -> list[str]:
    """The note on how to read the gap, then one sentence per size (or the 'none yet' sentence);
    baseline: the variant DCFormer is compared with (the decision's baseline)."""
    if gaps is None or gaps.empty:
        return [t("gap.none", lang)]
    patterns = {p: t(k, lang) for p, k in (("holds", "gap.pattern.holds"), ("narrows", "gap.pattern.narrows"),
                                          ("caught", "gap.pattern.caught"), ("behind", "gap.pattern.behind"))}
    lines = [t("gap.note", lang).format(baseline=VARIANT_LABELS.get(baseline, baseline))]
    summary = gap_summary(gaps)
    # tiny scores 2 batches during training and 4,096 tokens at the end (config.PRESETS): a
    # subset big enough to track the final value would slow every test that trains tiny
    if summary["preset"].eq("tiny").any():
        lines.append(t("gap.tiny", lang))
    for row in summary.itertuples(index=False):
        key = "gap.line_behind" if row.pattern == "behind" else "gap.line"
        lines.append(t(key, lang).format(preset=row.preset, lead=row.lead, lead_step=row.lead_step,
                                                final=row.final, final_step=row.final_step,
                                                pattern=patterns[row.pattern]))
    return lines


def gap_table(gaps: pd.DataFrame | None, lang: str) -> pd.DataFrame:
    """Per size: parameters, seeds, largest lead and where, the gap at the end, and the course."""
    if gaps is None or gaps.empty:
        return pd.DataFrame()
    summary = gap_summary(gaps)
    patterns = {"holds": "gap.pattern.holds", "narrows": "gap.pattern.narrows",
                "caught": "gap.pattern.caught", "behind": "gap.pattern.behind"}
    return pd.DataFrame({
        t("col.preset", lang): summary["preset"],
        t("gap.col.params", lang): [count_text(p, lang) for p in summary["params"]],
        t("chart.axis.seeds", lang): summary["n_seeds"],
        # never led: its closest approach is no lead, so the column says none
        t("gap.col.lead", lang): ["—" if p == "behind" else _at_step(v, s, lang)
                                  for v, s, p in zip(summary["lead"], summary["lead_step"], summary["pattern"])],
        t("gap.col.final", lang): [_at_step(v, s, lang) for v, s in zip(summary["final"], summary["final_step"])],
        t("gap.col.pattern", lang): [t(patterns[p], lang) for p in summary["pattern"]]})
