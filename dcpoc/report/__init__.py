"""The meeting summary of a study in four formats (Markdown, HTML, PDF, PPTX) and two languages:
blocks.py builds it once as an ordered list of blocks from a StudyDecision (decision.load_decision),
one renderer per format walks that list, and text.py holds the sentences and tables pages show too.
No Streamlit, no torch."""
from __future__ import annotations

from typing import TYPE_CHECKING

from .context import key_answers
from .pdf import PDF_FONT_ENV, PDF_FONT_PACKAGE, ReportError, cjk_font
from .text import (answers, comparison_table, cost_quality_text, fit_text, inference_text,
                   interval_text, lr_sweep_note, lr_sweep_table, meeting_phrases, next_step_line,
                   next_steps, next_what, progress_text, recorded_text, say, validation_text,
                   verdict_line)

if TYPE_CHECKING:
    from ..decision import StudyDecision

FORMATS = ("md", "html", "pdf", "pptx")

__all__ = ["FORMATS", "PDF_FONT_ENV", "PDF_FONT_PACKAGE", "ReportError", "answers", "cjk_font",
           "comparison_table", "cost_quality_text", "fit_text", "inference_text", "interval_text",
           "key_answers", "lr_sweep_note", "lr_sweep_table", "meeting_phrases", "next_step_line", "next_steps",
           "next_what", "progress_text", "recorded_text", "render", "say", "validation_text", "verdict_line"]


def render(sd: StudyDecision, fmt: str, lang: str) -> bytes:
    """The summary of sd as a file's bytes in fmt. Raises ReportError when this machine cannot
    make it (a PDF without a CJK font), ValueError for an unknown format."""
    if fmt not in FORMATS:
        raise ValueError(f"format '{fmt}': choose one of {', '.join(FORMATS)}")
    from .blocks import build
    blocks = build(sd, lang)
    if fmt == "md":
        from .markdown import to_markdown
        return to_markdown(blocks).encode()
    if fmt == "html":
        from .html import to_html
        return to_html(blocks, lang).encode()
    if fmt == "pdf":
        from .pdf import to_pdf
        return to_pdf(blocks, lang)
    from .pptx import to_pptx
    return to_pptx(blocks, lang)
