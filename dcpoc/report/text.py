"""The decision in words, in a language: reasons, intervals, the three answers, the comparison and
learning-rate tables as people read them, the next step with its cost, and the meeting phrases.
Pages and the Overview use these without building a report; report.blocks assembles them."""
from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

import pandas as pd

from ..decision import Decision, Interval, Reason, lr_label
from ..decision.compare import sizes_named
from ..decision.confirmation import FRESH_SEEDS_DECIDE
from ..decision.inference import decode_speed_ratio
from ..decision.stats import Sized, row_interval
from ..runs.status import ACTIVE
from ..studies import ladder
from ..ui.i18n import device_text, duration, hours, kind_label, money, num, sentences, size_label, t

if TYPE_CHECKING:                     # annotations only: both load the run planner
    from ..decision import NextStep, StudyDecision

_FORMAT_KEYS = ("net_low", "net_high", "diff_low", "diff_high", "m_low", "m_high")
# values that name an i18n key (or are '' for nothing): a clause a Reason includes or leaves out
# (decision.evidence.size_trend's direction and note), worded in the reader's language
_PHRASE_VALUES = ("trend", "overlap")


class _Unbounded(float):
    """An infinite bound that any format spec writes as ∞ (a multiplier's upper bound is infinite
    when bootstrap resamples put DCFormer's loss below Transformer++'s fitted floor)."""

    def __format__(self, spec: str) -> str:
        return "∞" if self > 0 else "−∞"


def listing(values: list | tuple, lang: str) -> str:
    """A list as lang writes one ('a, b' / 'a、b'); a list of (head, items) groups as
    'head: a, b; head: c' ('head：a、b；head：c')."""
    if values and all(isinstance(v, (list, tuple)) and len(v) == 2 and isinstance(v[1], (list, tuple))
                      for v in values):
        return t("sep.group", lang).join(f"{head}{t('sep.label', lang)}{listing(items, lang)}"
                                         for head, items in values)
    return t("sep.list", lang).join(map(str, values))


def say(reason: Reason, lang: str) -> str:
    """A Reason (i18n key, values) as a sentence in lang."""
    key, values = reason
    clean = {k: (math.nan if v is None and k in _FORMAT_KEYS else v) for k, v in values.items()}
    if isinstance(clean.get("kind"), str):   # a price-table device kind: 'h100' reads 'H100'
        clean["kind"] = kind_label(clean["kind"], lang)
    if isinstance(clean.get("device"), str):   # a device label: 'cpu' reads 'CPU'
        clean["device"] = device_text(clean["device"], lang)
    for name in _PHRASE_VALUES:
        if clean.get(name):
            clean[name] = t(clean[name], lang)
    for name, value in clean.items():         # names listed as the language lists them
        if isinstance(value, (list, tuple)):
            clean[name] = listing([size_text(v, lang) if isinstance(v, Sized) else v for v in value], lang)
        elif isinstance(value, float) and math.isinf(value):
            clean[name] = _Unbounded(value)
        elif isinstance(value, Interval):     # a loss difference: '+0.0057 (-0.0039 to +0.0152)'
            clean[name] = interval_text(value, "+.4f", lang)
    return t(key, lang).format(**clean)


def size_text(size: str | Sized, lang: str) -> str:
    """A size as compare.sizes_named gives it: a preset as it is, a Sized with its budget
    ('tiny · 100 steps', as the Overview heads the size's card)."""
    if isinstance(size, Sized):
        return size_label(size.preset, lang, steps=size.steps, tokens=size.tokens)
    return str(size)


def size_labels(rows: pd.DataFrame, lang: str, among: pd.DataFrame | None = None) -> list[str]:
    """The size column of a table (compare.sizes_named, worded): the preset, with its budget
    where ``among`` (default: rows) holds that size at more than one budget."""
    return [size_text(size, lang) for size in sizes_named(rows, among)]


def interval_text(interval: Interval | None, spec: str, lang: str, suffix: str = "") -> str:
    """'1.82× (1.51–2.20)', or the mean and 'no interval' when none exists, '—' with no mean."""
    if interval is None or math.isnan(interval.mean):
        return "—"
    mean = num(interval.mean, spec, suffix)            # ∞ when unbounded
    low, high = num(interval.low, spec), num(interval.high, spec)
    if lang == "ja":   # full-width brackets and 〜, as the Japanese captions write a range
        return f"{mean}（{t('dec.no_interval', lang)}）" if not interval.exists else f"{mean}（{low}〜{high}）"
    if not interval.exists:
        return f"{mean} ({t('dec.no_interval', lang)})"
    # "-0.0383 to -0.0246": an en dash between two minus signs reads as arithmetic
    return f"{mean} ({low} to {high})" if min(interval.low, interval.high) < 0 else f"{mean} ({low}–{high})"


def interval_caption(interval: Interval | None, spec: str, lang: str) -> str:
    """The 95% interval shown under a headline number ('95% interval 0.61–1.17'), 'no interval',
    or '' when there is no number at all."""
    if interval is None or math.isnan(interval.mean):
        return ""
    if not interval.exists:
        return t("dec.no_interval", lang)
    return t("dec.interval95", lang).format(low=num(interval.low, spec), high=num(interval.high, spec))


def comparison_table(decision: Decision, lang: str) -> pd.DataFrame:
    """Equal-token and equal-cost rows, as people read them (translated headers, CI text)."""
    frames = [f for f in (decision.equal_tokens, decision.equal_cost) if f is not None and len(f)]
    if not frames:
        return pd.DataFrame()
    rows = pd.concat(frames, ignore_index=True)
    table = pd.DataFrame({
        t("col.preset", lang): size_labels(rows, lang),
        t("dec.table.basis", lang): rows["basis"].map(lambda b: t(f"dec.basis.{b}", lang)),
        t("dec.table.pairs", lang): rows["n_pairs"].astype(int),
        t("dec.table.loss_diff", lang): [interval_text(row_interval(r, "loss"), "+.4f", lang)
                                         for _, r in rows.iterrows()],
        t("dec.table.ppl_diff", lang): [interval_text(row_interval(r, "ppl"), "+.3f", lang)
                                        for _, r in rows.iterrows()],
        t("dec.table.spread", lang): [f"{r['loss_sd']:.4f}" if pd.notna(r.get("loss_sd")) else "—"
                                      for _, r in rows.iterrows()],
        # a 2-seed t interval has one degree of freedom: marked wherever the table is shown
        t("dec.table.flag", lang): [t("dec.unreliable", lang) if r.get("unreliable") in (True,) else ""
                                    for _, r in rows.iterrows()],
    })
    flags = table[t("dec.table.flag", lang)]
    return table if flags.ne("").any() else table.drop(columns=[flags.name])   # no empty column


def verdict_line(decision: Decision, lang: str) -> str:
    """The verdict as a headline ('GO: adopt DCFormer ...'). A CONDITIONAL whose net benefit is
    under 1 at its point estimate (as measured, the same quality costs more with DCFormer) reads
    'leaning against': 'promising' would tell the meeting the opposite of the numbers."""
    if decision.verdict == "CONDITIONAL" and leans_against(decision):
        return t("dec.verdict.CONDITIONAL_against", lang)
    return t(f"dec.verdict.{decision.verdict}", lang)


def leans_against(decision: Decision) -> bool:
    """The net benefit's point estimate is under 1: DCFormer's quality costs more than it saves
    (on the target's GPU where its speed was measured there)."""
    if math.isfinite(decision.target_net):
        return decision.target_net < 1.0
    mult = decision.multiplier
    return mult is not None and mult.net_benefit.mean < 1.0


def _speed_ratio_text(decision: Decision) -> str:
    mult = decision.multiplier
    return f"{mult.speed_ratio:.2f}×" if mult and math.isfinite(mult.speed_ratio) else "—"


def answers(decision: Decision, lang: str, dashboard: bool = False) -> list[tuple[str, str]]:
    """The decision maker's three questions with their short answers. The risks' answer points at
    where the list is: the report's section below, or (dashboard) the Decision page."""
    mult = decision.multiplier
    m = interval_text(mult.multiplier if mult else None, ".2f", lang, "×")
    net = interval_text(mult.net_benefit if mult else None, ".2f", lang, "×")
    return [(t("dec.q1", lang), t("dec.a1", lang).format(m=m, net=net)),
            (t("dec.q2", lang), t("dec.a2", lang).format(ratio=_speed_ratio_text(decision),
                                                         device=device_text(mult.speed_device if mult else None, lang))),
            (t("dec.q3", lang), t("dec.a3_dashboard", lang).format(page=t("nav.decision", lang))
             if dashboard else t("dec.a3", lang).format(section=t("dec.risks", lang)))]


def fit_text(decision: Decision, lang: str) -> str:
    """Which compute curve the multiplier rests on ('' without a fit)."""
    mult = decision.multiplier
    if mult is None or mult.fit is None:
        return ""
    kind = f"dec.fit.{mult.fit.kind}" + (f".{mult.fit.why}" if mult.fit.kind == "loglinear" else "")
    return t("dec.fit", lang).format(kind=t(kind, lang), n=mult.fit.n_points,
                                     baseline=decision.pair_labels()["transformer"])


def cost_quality_text(decision: Decision, lang: str) -> str:
    """Net benefit with the multiplier, speed ratio and FLOPs ratio it is made of."""
    mult = decision.multiplier
    return t("rep.cost_quality_text", lang).format(
        net=interval_text(mult.net_benefit if mult else None, ".2f", lang, "×"),
        m=interval_text(mult.multiplier if mult else None, ".2f", lang, "×"),
        ratio=_speed_ratio_text(decision),
        flops=f"{mult.flops_ratio:.2f}×" if mult and math.isfinite(mult.flops_ratio) else "—")


def inference_text(result: dict | None, lang: str) -> str:
    """The inference benchmark in one sentence (per-token latency of both architectures at the
    median and the 95th percentile, cache bytes per token), or how to measure it. The tokens/s
    ratio is the medians' (older results stored a mean-based one beside median latencies, and a
    reader dividing the two found another number)."""
    if not result:
        return t("rep.infer_none", lang)
    rows = {r["arch"]: r for r in result["rows"]}
    dc, tf = rows["dcformer"], rows["transformer"]
    return t("rep.infer", lang).format(
        preset=result["preset"], device=device_text(result["machine"]["device"], lang), date=result["date"][:10],
        threads=result["machine"].get("cores", "?"), decode=decode_speed_ratio(result),
        dc_p50=dc["latency_p50_ms"], tf_p50=tf["latency_p50_ms"],
        dc_p95=dc.get("latency_p95_ms", math.nan), tf_p95=tf.get("latency_p95_ms", math.nan),
        cache=result["dcformer_over_transformer"]["cache_bytes_per_token"])


def lr_sweep_table(decision: Decision, lang: str) -> pd.DataFrame:
    """The learning-rate sweep as people read it: per size (and token budget, where a size ran
    several) and rate, each architecture's mean validation loss over its seeds (a star marks its
    best rate) and the difference."""
    table = decision.lr_sweep
    if table is None or table.empty:
        return pd.DataFrame()
    labels = decision.pair_labels()
    rows = []
    for (preset, tokens, lr), cell in table.groupby(["preset", "tokens", "lr"], sort=False):
        by = cell.set_index("arch")
        loss = {a: float(by.loc[a, "loss"]) if a in by.index else math.nan for a in labels}
        mark = {a: "*" if a in by.index and bool(by.loc[a, "best"]) else "" for a in labels}
        size = size_labels(cell.head(1), lang, among=table)[0]
        diff = loss["dcformer"] - loss["transformer"]
        rows.append({t("dec.lr_col.preset", lang): size, t("dec.lr_col.lr", lang): lr_label(lr),
                     **{labels[a]: f"{loss[a]:.4f}{mark[a]}" if math.isfinite(loss[a]) else
                        t("dec.lr_diverged", lang) if loss[a] == math.inf else "—" for a in labels},
                     t("dec.lr_col.diff", lang).format(baseline=labels["transformer"]):
                         f"{diff:+.4f}" if math.isfinite(diff) else "—"})
    return pd.DataFrame(rows)


def lr_sweep_note(decision: Decision, lang: str) -> str:
    """What the sweep table's losses are and why the verdict's differ where a confirmation stage
    trained fresh seeds at the chosen rates ('' without a sweep)."""
    if decision.lr_sweep is None or decision.lr_sweep.empty:
        return ""
    if decision.confirmation not in FRESH_SEEDS_DECIDE:
        return t("dec.lr_note", lang)
    return t(f"dec.lr_note.{decision.confirmation}", lang)


def next_what(step: NextStep, lang: str) -> str:
    """The planned runs in words ('run cpu-demo with both architectures (seeds 1, 2)')."""
    return t("next.join", lang).join(say(part, lang) for part in step.parts)


def next_step_line(sd: StudyDecision, lang: str) -> str:
    """What to do next, with its cost: the speed on the target GPU first where the verdict stands
    on a CPU's ratio (StudyDecision.speed_first), then the planned runs ('Next step:
    <what> (n runs) — about <wall time>, <device-hours>, $<cost> on <device>.'); '' for neither."""
    runs = _planned_runs(sd.next, lang)
    if not sd.speed_first:
        return t("next.line", lang).format(**runs) if runs else ""
    speed = sd.speed
    first = t("next.speed_first", lang).format(
        kind=kind_label(speed.kind, lang), device=device_text(speed.study_device, lang),
        ratio=f"{speed.study_ratio:.2f}×" if math.isfinite(speed.study_ratio) else "—")
    if not runs:
        return first
    then = "next.then_confirm" if sd.decision.verdict == "GO" else "next.then"
    return sentences(lang, first, t(then, lang).format(**runs))


def _planned_runs(step: NextStep | None, lang: str) -> dict[str, str] | None:
    """The planned runs' fields of next.line / next.then (None without a plan)."""
    if step is None:
        return None
    e = step.estimate
    return dict(what=next_what(step, lang), n=str(int(e["n_runs"])),
                wall=duration(e["wall_s"], lang, estimate=True), hours=hours(e["device_hours"]),
                cost=money(e["cost_usd"]), device=device_text(step.device, lang))


def next_steps(sd: StudyDecision, lang: str) -> list[str]:
    """The next step with its cost (when there is one), then what to run next (insufficient
    evidence), else what would flip the verdict, else confirm."""
    line = next_step_line(sd, lang)
    d = sd.decision
    steps = [say(r, lang) for r in d.needed or d.flips] or [t("rep.next_none", lang)]
    return ([line] if line else []) + steps


def meeting_phrases(sd: StudyDecision, lang: str) -> list[str]:
    """Three to five plain sentences the decision maker can say: what was tested, the result with
    its interval, the net benefit, the recommendation, and what it costs to be sure."""
    d, runs = sd.decision, sd.runs
    phrases = []
    trained = runs[runs["status"].eq("succeeded")] if not runs.empty else runs   # not queued, failed
    if not trained.empty:
        presets = ladder(list(trained["preset"].dropna()))
        seeds = sorted({int(s) for s in trained["seed"].dropna()})
        phrases.append(t("phrase.tested", lang).format(n=len(trained), presets=listing(presets, lang),
                                                       seeds=listing(seeds, lang)))
    tokens = d.equal_tokens
    if tokens is not None and len(tokens):
        largest = tokens.iloc[-1]
        phrases.append(t("phrase.result", lang).format(
            preset=largest["preset"], diff=interval_text(row_interval(largest, "loss"), "+.4f", lang),
            baseline=d.pair_labels()["transformer"]))
    else:
        phrases.append(t("phrase.result_none", lang))
    mult = d.multiplier
    if math.isfinite(d.target_net):       # measured where DCFormer would train: that one
        phrases.append(t("phrase.net_target", lang).format(kind=kind_label(sd.speed.kind, lang),
                                                           net=f"{d.target_net:.2f}×"))
    elif mult is not None and math.isfinite(mult.net_benefit.mean):
        phrases.append(t("phrase.net", lang).format(net=interval_text(mult.net_benefit, ".2f", lang, "×")))
    phrases.append(t("phrase.verdict", lang).format(verdict=verdict_line(d, lang)))
    runs = _planned_runs(sd.next, lang)
    if sd.speed_first:
        phrases.append(t("phrase.speed_first", lang).format(kind=kind_label(sd.speed.kind, lang)))
    elif runs:
        phrases.append(t("phrase.next", lang).format(**runs))
    return phrases


def validation_text(counts: tuple[tuple[int, int], ...], lang: str) -> str:
    """How many validation tokens scored every run (StudyDecision.val_tokens), as a sentence."""
    if not counts:
        return t("rep.val.unknown", lang)
    if len(counts) > 1:
        return t("rep.val.mixed", lang).format(tokens=listing([f"{n:,}" for n, _ in counts], lang))
    tokens, split = counts[0]
    key = "rep.val.whole" if tokens == split else "rep.val.sample"
    return t(key, lang).format(tokens=f"{tokens:,}", split=f"{split:,}")


def recorded_text(recorded: dict | None, lang: str) -> str:
    """The label of an imported study's results ('' for results measured in this database)."""
    if not recorded:
        return ""
    machine = str(recorded.get("machine", "?"))     # as export wrote it: 'vm (cpu, AMD EPYC, 2 cores)'
    outer = re.fullmatch(r"(.*?) \((.*)\)", machine)
    if lang == "ja" and outer:      # the outer brackets only: 'Intel(R) Xeon(R)' keeps its own
        inner = re.sub(r"\b(\d+) cores?\b", r"\1 コア", outer[2]).replace(", ", "、")
        machine = f"{outer[1]}（{re.sub(r'^cpu', 'CPU', inner)}）"
    elif lang == "ja":
        machine += " "              # 'box で測定': a space between Latin and kana, none after ）
    return t("rep.recorded", lang).format(date=recorded.get("date", "?"), machine=machine)


def progress_text(runs: pd.DataFrame, lang: str) -> str:
    """'Study in progress: ...' while some of the study's runs are queued or running, else ''."""
    if runs is None or runs.empty:
        return ""
    active = int(runs["status"].isin(ACTIVE).sum())
    if not active:
        return ""
    return t("rep.in_progress", lang).format(done=len(runs) - active, total=len(runs), active=active)
