"""The summary as an A4 PDF (fpdf2): one embedded Japanese TrueType font serves both languages,
every section heading is also a bookmark, and text is drawn as text, never interpreted (no markup)."""
from __future__ import annotations

import datetime as _dt
import glob
import io
import os
import shutil
import subprocess
from typing import Callable

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
_SLACK_MM = 0.05          # our measure and fpdf2's differ by rounding: never leave fpdf2 to re-wrap

# fpdf2 wraps a line only at a space, and Japanese puts none between words: a paragraph broke at
# its few spaces around Latin words and left lines half empty. (A zero-width space would be a break
# point to fpdf2, but the Japanese font has no glyph for it and fpdf2 then counts a full width.)
# So text is broken into lines here, measured in the font it is drawn in, with the usual Japanese
# rules (kinsoku): a line may break between two characters when either is Japanese, except before
# closing punctuation, a small kana or a long vowel mark, and after an opening bracket; Latin words
# and numbers stay whole and break at spaces.
_NO_LINE_START = frozenset("、。，．・：；？！ー〜～）」』】〕〉》］｝ぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ"
                           ")]},.:;!?%")
_NO_LINE_END = frozenset("（「『【〔〈《［｛([{")


def _wide(char: str) -> bool:
    return ord(char) >= 0x2E80           # CJK, kana and full-width forms


def _chunks(line: str) -> list[str]:
    """line cut where a new line may start; a space stays at the end of the chunk before it."""
    chunks, start = [], 0
    for i in range(1, len(line)):
        prev, char = line[i - 1], line[i]
        after_space = prev == " " and char != " " and char not in _NO_LINE_START
        wide_break = ((_wide(prev) or _wide(char)) and prev != " " and char != " "
                      and char not in _NO_LINE_START and prev not in _NO_LINE_END)
        if after_space or wide_break:
            chunks.append(line[start:i])
            start = i
    return chunks + [line[start:]]


_WORD_END = frozenset(" 、。・）」』】/")
_WORD_START = frozenset("（「『【")


def _words(line: str) -> list[str]:
    """_chunks merged into words: a new word only after a space or closing punctuation, or at an
    opening bracket, so that a column heading (モデルサイズ) does not break mid-word."""
    words: list[str] = []
    for chunk in _chunks(line):
        if words and words[-1][-1] not in _WORD_END and chunk[0] not in _WORD_START:
            words[-1] += chunk
        else:
            words.append(chunk)
    return words


SHORT_CELL_MM = 22.0     # a table value this short (a number, a name, 判断不能) is never broken
HEADING_MM = 16.0        # a column heading wraps within at least this width
LEAST_SHARE = 0.4        # no column claims more of the page as its least (a long path is cut)


def _least_width(text: str, width: Callable[[str], float]) -> float:
    """The narrowest a table cell may be: whole if short, else its longest unbreakable piece."""
    whole = _widest(text, width)
    return whole if whole <= SHORT_CELL_MM else max(map(width, _chunks(text.replace("\n", " "))))


def _widest(text: str, width: Callable[[str], float]) -> float:
    """The width of text's longest line."""
    return max(width(line) for line in text.split("\n"))


def column_widths(least: list[float], most: list[float], total: float) -> list[float]:
    """Table column widths summing to total: each at least its least, the room left shared in
    proportion to what each still wants (most - least); all scaled alike when the mosts leave
    room to spare or the leasts do not fit."""
    most = [max(high, low) for low, high in zip(least, most)]
    if sum(most) <= total:
        return [high * total / sum(most) for high in most]
    if sum(least) >= total:
        return [low * total / sum(least) for low in least]
    room, wants = total - sum(least), [high - low for low, high in zip(least, most)]
    return [low + room * want / sum(wants) for low, want in zip(least, wants)]


def wrap_lines(text: str, width: float, measure: Callable[[str], float], words: bool = False) -> str:
    """text with line breaks so that no line is wider than width by measure (the drawing font's
    width of a string), breaking at spaces and Japanese break points (above); words: at _words'
    boundaries, a word wider than a line broken at the Japanese break points inside it. A chunk
    wider than a line on its own stays whole for fpdf2 to cut."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        pieces = _chunks(paragraph) if not words else \
            [c for w in _words(paragraph) for c in ([w] if measure(w.rstrip()) <= width else _chunks(w))]
        for chunk in pieces:
            if line.strip() and measure((line + chunk).rstrip()) > width:
                lines.append(line.rstrip())
                line = chunk.lstrip()
            else:
                line += chunk
        lines.append(line.rstrip())
    return "\n".join(lines)


def cjk_font(lang: str = "en") -> str:
    """A TrueType font with Japanese glyphs: $DCPOC_PDF_FONT, Debian's IPAex Gothic, or the first
    .ttf fontconfig knows for Japanese. fpdf2 embeds a subset of it in the PDF."""
    given = os.environ.get(PDF_FONT_ENV)
    if given:
        if os.path.isfile(given):
            return _checked_font(given, lang)
        # the user set it: 'install a font or set DCPOC_PDF_FONT' would send them the wrong way
        raise ReportError(t("rep.font_no_file", lang).format(path=given))
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
        width = self.pdf.epw - 2 * self.pdf.c_margin - _SLACK_MM
        body = wrap_lines(without_code_marks(body), width, self.pdf.get_string_width)
        self.pdf.multi_cell(0, height, body, align="L", new_x="LMARGIN",
                            new_y="NEXT")
        self.pdf.set_text_color(0, 0, 0)

    def table(self, frame: pd.DataFrame) -> None:
        """Columns as wide as their values where the page allows (column_widths), each cell broken
        into lines here."""
        rows = [list(map(str, frame.columns))] + frame.astype(str).values.tolist()
        self.pdf.ln(1)
        self.pdf.set_font("cjk", size=8)
        pad = 2 * self.pdf.c_margin + self.pdf.line_width + _SLACK_MM   # around a cell's text
        width = lambda text: self.pdf.get_string_width(text) + pad      # noqa: E731
        # a heading wraps between words (モデル / サイズ is not one), within HEADING_MM at least
        least = [min(LEAST_SHARE * self.pdf.epw,
                     max([width("0000"), *(_least_width(row[j], width) for row in rows[1:]),
                          *map(width, _words(head)), min(width(head), HEADING_MM)]))
                 for j, head in enumerate(rows[0])]
        # a heading wraps rather than widen its column beyond its values
        most = [max([low, *(_widest(row[j], width) for row in rows[1:])])
                for j, low in enumerate(least)]
        widths = column_widths(least, most, self.pdf.epw)
        inner = [w - pad for w in widths]
        with self.pdf.table(col_widths=widths, text_align="LEFT", line_height=4.2) as table:
            for i, row in enumerate(rows):
                cells = table.row()
                for value, room in zip(row, inner):
                    cells.cell(wrap_lines(value, room, self.pdf.get_string_width, words=i == 0))
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

    class _Paged(FPDF):
        def footer(self) -> None:     # 'study · 2 / 5' on every page: a printout gets shuffled
            self.set_y(-9)
            self.set_font("cjk", "", 7.5)
            self.set_text_color(110)
            self.cell(0, 4, f"{title.study[:60]} · {self.page_no()} / {{nb}}", align="C")
            self.set_text_color(0)

    pdf = _Paged(format="A4")
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
