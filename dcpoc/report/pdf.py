"""The summary as an A4 PDF (fpdf2): one embedded Japanese TrueType font serves both languages,
every section heading is also a bookmark, and text is drawn as text, never interpreted (no markup)."""
from __future__ import annotations

import datetime as _dt
import glob
import io
import os
import shutil
import subprocess

import pandas as pd

from ..ui.i18n import t
from .blocks import Block, Bullets, Chart, Facts, Heading, Paragraph, Table, Title, without_code_marks


class ReportError(Exception):
    """A report that cannot be made here (e.g. no CJK font for the PDF); one sentence for the user."""


PDF_FONT_ENV = "DCPOC_PDF_FONT"
PDF_FONT_PACKAGE = "fonts-ipaexfont-gothic"
_PDF_FONT_PATHS = ("/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",
                   "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf")
_BLUE = (30, 60, 120)


def cjk_font(lang: str = "en") -> str:
    """A TrueType font with Japanese glyphs: $DCPOC_PDF_FONT, Debian's IPAex Gothic, or the first
    .ttf fontconfig knows for Japanese. fpdf2 embeds a subset of it in the PDF."""
    given = os.environ.get(PDF_FONT_ENV)
    if given:
        if os.path.isfile(given):
            return _checked_font(given, lang)
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


def _checked_font(path: str, lang: str) -> str:
    """A user's font file must be TrueType or OpenType and draw Japanese: otherwise fpdf2 fails
    deep inside, or writes a PDF whose Japanese text is blank."""
    from fontTools.ttLib import TTFont, TTLibError    # fpdf2's own dependency
    try:
        with TTFont(path, fontNumber=0, lazy=True) as font:
            covered = font.getBestCmap() or {}
    except (TTLibError, OSError, ValueError) as e:
        raise ReportError(t("rep.font_unreadable", lang).format(env=PDF_FONT_ENV, path=path,
                                                                why=e)) from None
    missing = "".join(c for c in "日本語の報告" if ord(c) not in covered)
    if missing:
        raise ReportError(t("rep.font_not_japanese", lang).format(env=PDF_FONT_ENV, path=path,
                                                                  chars=missing))
    return path


class _Writer:
    """Draws blocks top to bottom on an FPDF document."""

    def __init__(self, pdf, lang: str) -> None:
        self.pdf, self.lang = pdf, lang

    def text(self, body: str, size: float = 9.5, height: float = 4.8, color=(0, 0, 0)) -> None:
        self.pdf.set_text_color(*color)
        self.pdf.set_font("cjk", size=size)
        self.pdf.multi_cell(0, height, without_code_marks(body), align="L", new_x="LMARGIN",
                            new_y="NEXT")
        self.pdf.set_text_color(0, 0, 0)

    def table(self, frame: pd.DataFrame) -> None:
        """Columns as wide as their longest cell (fpdf2 wraps what does not fit)."""
        rows = [list(map(str, frame.columns))] + frame.astype(str).values.tolist()
        width = lambda cell: sum(2 if ord(c) > 0x2E80 else 1 for c in cell)   # noqa: E731  (CJK: 2)
        widths = [max(4, max(width(row[j]) for row in rows)) for j in range(len(rows[0]))]
        self.pdf.ln(1)
        self.pdf.set_font("cjk", size=8)
        with self.pdf.table(col_widths=widths, text_align="LEFT", line_height=4.2) as table:
            for row in rows:
                cells = table.row()
                for value in row:
                    cells.cell(value)
        self.pdf.ln(1)

    def block(self, block: Block) -> None:
        if isinstance(block, Title):
            self.text(block.study, 11, 6, _BLUE)
            self.text(block.verdict, 17, 9)
            if block.question:
                self.text(f"{t('rep.question', self.lang)}{t('sep.label', self.lang)}{block.question}", 10.5, 5.5)
        elif isinstance(block, Heading):
            self.pdf.ln(1.5)
            self.pdf.start_section(block.text)            # the reader's bookmark pane
            self.text(block.text, 11.5, 6, _BLUE)
        elif isinstance(block, Paragraph):
            self.text(block.text, *((8, 4.2) if block.small else ()))
        elif isinstance(block, Bullets):
            for lead, body in block.items:
                self.text(f"• {lead} {body}" if lead else f"• {body}", *((8.5, 4.3) if block.small else ()))
        elif isinstance(block, Facts):
            for key, value in block.pairs:
                self.text(f"{key}{block.sep}{value or '—'}", *((7.5, 3.8) if block.small else ()))
        elif isinstance(block, Table):
            self.table(block.frame)
        elif isinstance(block, Chart):
            if not block.spec:
                self.text(block.empty)
                return
            if block.with_table:
                self.table(block.table)
            self.pdf.image(io.BytesIO(block.png()), w=110)
        else:
            raise TypeError(f"no PDF for {type(block).__name__}")


def to_pdf(blocks: list[Block], lang: str) -> bytes:
    """The blocks as an A4 PDF (blocks[0] is the Title). Raises ReportError without a CJK font."""
    from fpdf import FPDF
    title = blocks[0]
    assert isinstance(title, Title)
    font = cjk_font(lang)
    pdf = FPDF(format="A4")
    pdf.set_creation_date(_dt.datetime.strptime(title.created, "%Y-%m-%d %H:%M UTC")
                          .replace(tzinfo=_dt.timezone.utc))
    pdf.set_title(title.study)
    pdf.set_lang(lang)
    for style in ("", "B"):    # one weight: tables ask for bold headings
        pdf.add_font("cjk", style, font)
    pdf.set_margins(15, 12, 15)
    pdf.set_auto_page_break(True, 12)
    pdf.add_page()
    writer = _Writer(pdf, lang)
    for block, after in zip(blocks, blocks[1:] + [None]):
        if isinstance(block, Heading):    # keep a heading on the page of what follows it
            needed = 85 if isinstance(after, Chart) and after.spec else 25    # mm
            if pdf.will_page_break(needed):
                pdf.add_page()
        writer.block(block)
    return bytes(pdf.output())
