"""Where the gain comes from and how sure we are, as people read it: the attribution table (QK-norm
part, DCMHA part, total, each with its interval and speed cost), the evidence sentences (baseline,
pooled interval, 2-seed intervals, confirmation) and the recommendations that hold without DCFormer.
The Decision page and report.blocks both show these."""
from __future__ import annotations

import pandas as pd

from ..config import VARIANT_LABELS
from ..decision import Decision
from ..decision.stats import row_interval
from ..ui.i18n import num, t
from .text import interval_text, say, size_labels

PART_KEYS = {"qk_norm": "att.part.qk_norm", "dcmha": "att.part.dcmha", "total": "att.part.total"}


def attribution_table(decision: Decision, lang: str) -> pd.DataFrame:
    """One row per (size, part): the rungs compared, seeds, the loss difference with its interval
    (marked when it rests on 2 seeds) and the speed ratio; empty without the ladder."""
    rows = decision.attribution
    if rows is None or rows.empty:
        return pd.DataFrame()
    flag = lambda r: f" — {t('dec.unreliable', lang)}" if r["unreliable"] else ""  # noqa: E731
    return pd.DataFrame({
        # the budget where the comparison table shows the size at several (the ladder reads the longest)
        t("col.preset", lang): size_labels(rows, lang, among=decision.equal_tokens),
        t("att.col.part", lang): [t(PART_KEYS[p], lang) for p in rows["part"]],
        t("att.col.rungs", lang): [f"{VARIANT_LABELS[u]} − {_operand(VARIANT_LABELS[lo], lang)}"
                                   for lo, u in zip(rows["lower"], rows["upper"])],
        t("dec.table.pairs", lang): rows["n_pairs"].astype(int),
        t("att.col.loss", lang): [interval_text(row_interval(r, "loss"), "+.4f", lang) + flag(r)
                                  for _, r in rows.iterrows()],
        t("att.col.speed", lang): [num(x, ".2f", "×") for x in rows["speed_ratio"]],
    })


def evidence_lines(decision: Decision, lang: str) -> list[str]:
    """The evidence sentences in order (baseline, attribution, pooled, 2 seeds, confirmation)."""
    lines = [say(r, lang) for r in decision.evidence]
    if decision.attribution is None or decision.attribution.empty:
        lines.insert(1, t("att.none", lang))
    return lines


def recommendation_lines(decision: Decision, lang: str) -> list[str]:
    """What holds whatever the verdict (QK-norm alone), [] without the ladder."""
    return [say(r, lang) for r in decision.recommendations]


def _operand(label: str, lang: str) -> str:
    """A subtracted label, bracketed when it is itself a sum: "A − B + QK-norm" reads as arithmetic."""
    if " + " not in label:
        return label
    return f"（{label}）" if lang == "ja" else f"({label})"
