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
_NUMBER_UNIT = frozenset("万億兆")


def _new_word(before: str, chunk: str) -> bool:
    """Whether a word starts at chunk: after a space or closing punctuation, or at an opening
    bracket, but not inside a number (1 万 3500)."""
    if chunk[0] in _NUMBER_UNIT and before[-2:-1].isdigit() and before[-1] == " ":
        return False
    return before[-1] in _WORD_END or chunk[0] in _WORD_START


def _hiragana(char: str) -> bool:
    return "\u3041" <= char <= "\u309f"


def _new_segment(before: str, chunk: str) -> bool:
    """Whether a segment starts at chunk: where a word does, or where a run of hiragana (a
    particle, a verb's ending) meets what follows: 論文の|最小サイズ, できる|限度, の|上乗せ."""
    return _new_word(before, chunk) or (_hiragana(before[-1]) and not _hiragana(chunk[0]))


def _merged(line: str, starts: Callable[[str, str], bool]) -> list[str]:
    """line's _chunks joined, a new piece only where starts(piece before, chunk) says."""
    pieces: list[str] = []
    for chunk in _chunks(line):
        if pieces and not starts(pieces[-1], chunk):
            pieces[-1] += chunk
        else:
            pieces.append(chunk)
    return pieces


def _words(line: str) -> list[str]:
    """line in words (_new_word), so that a column heading (モデルサイズ) does not break mid-word."""
    return _merged(line, _new_word)


def _segments(line: str) -> list[str]:
    """line in the pieces a Japanese reader breaks a phrase at (_new_segment): a table value keeps
    上乗せ whole, and its prose fills lines without breaking 限度 or 測定."""
    return _merged(line, _new_segment)


# what stays whole where it fits, finest last: body text breaks between any two Japanese
# characters, as Japanese is set; a table value at segments; a column heading at words
_SPLITS: dict[str, tuple[Callable[[str], list[str]], ...]] = {
    "chunks": (_chunks,), "segments": (_segments, _chunks), "words": (_words, _segments, _chunks)}


def _pieces(text: str, splits: tuple[Callable[[str], list[str]], ...],
            fits: Callable[[str], bool]) -> list[str]:
    """text cut by splits[0]; a piece that does not fit cut again by the next split."""
    first, *finer = splits
    return [piece for part in first(text)
            for piece in ([part] if not finer or fits(part) else _pieces(part, tuple(finer), fits))]


def wrap_lines(text: str, width: float, measure: Callable[[str], float], keep: str = "chunks") -> str:
    """text with line breaks so that no line is wider than width by measure (the drawing font's
    width of a string), breaking at spaces and Japanese break points (above); keep: "segments" or
    "words" break only between those where they fit on a line (_SPLITS). A chunk wider than a line
    on its own stays whole for fpdf2 to cut."""
    fits = lambda piece: measure(piece.rstrip()) <= width      # noqa: E731
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for chunk in _pieces(paragraph, _SPLITS[keep], fits):
            if line.strip() and measure((line + chunk).rstrip()) > width:
                lines.append(line.rstrip())
                line = chunk.lstrip()
            else:
                line += chunk
        lines.append(line.rstrip())
    return "\n".join(lines)


SHORT_CELL_MM = 22.0     # a table value this short (a number, a name, 判断不能) is never broken
HEADING_MM = 16.0        # a column heading wraps within at least this width
LEAST_SHARE = 0.4        # no column claims more of the page as its least (a long path is cut)


def _least_width(text: str, width: Callable[[str], float],
                 split: Callable[[str], list[str]] = _segments) -> float:
    """The narrowest a table cell may be: whole if short, else its widest piece by split (by
    default _segments, so that no column is so narrow that a Japanese word in it must break:
    上乗 / せ)."""
    whole = _widest(text, width)
    if whole <= SHORT_CELL_MM:
        return whole
    return max(width(piece.rstrip()) for piece in split(text.replace("\n", " ")))


def _heading_width(heading: str, width: Callable[[str], float]) -> float:
    """The width a column heading asks for: whole if short, else on two lines (_two_lines)."""
    if width(heading) <= SHORT_CELL_MM:
        return width(heading)
    return max(map(width, _two_lines(heading, width)))


def _two_lines(heading: str, measure: Callable[[str], float]) -> list[str]:
    """heading on two lines, broken between the words that make the longer line shortest:
    パープレキシティの差 / （95% 区間）, where filling the first line broke inside the bracket."""
    words = _words(heading)
    splits = [["".join(words[:k]).rstrip(), "".join(words[k:]).rstrip()] for k in range(1, len(words))]
    return min(splits, key=lambda lines: max(map(measure, lines)), default=[heading])


def heading_lines(heading: str, width: float, measure: Callable[[str], float]) -> str:
    """A column heading broken into lines (wrap_lines between words), balanced when on two."""
    lines = wrap_lines(heading, width, measure, keep="words")
    if lines.count("\n") == 1 and "\n" not in heading:
        balanced = _two_lines(heading, measure)
        if max(map(measure, balanced)) <= width:
            return "\n".join(balanced)
    return lines


def _widest(text: str, width: Callable[[str], float]) -> float:
    """The width of text's longest line."""
    return max(width(line) for line in text.split("\n"))


def column_widths(least: list[float], most: list[float], total: float,
                  small_first: bool = True) -> list[float]:
    """Table column widths summing to total: each at least its least; of the room left, a column
    that wants (most - least) no more than an even share gets it all if small_first, the others
    share the rest in proportion to what they want; all scaled alike when the mosts leave room to
    spare or the leasts do not fit."""
    most = [max(high, low) for low, high in zip(least, most)]
    if sum(most) <= total:
        return [high * total / sum(most) for high in most]
    if sum(least) >= total:
        return [low * total / sum(least) for low in least]
    # small wants first (a number's column, a heading on two lines): shared in proportion, a long
    # text's column took most of the room and left them a heading in three lines
    room, wants = total - sum(least), [high - low for low, high in zip(least, most)]
    widths = list(least)
    waiting = sorted((j for j, want in enumerate(wants) if want > 0), key=wants.__getitem__)
    while small_first and waiting and wants[waiting[0]] <= room / len(waiting):
        j = waiting.pop(0)
        widths[j], room = most[j], room - wants[j]
    rest = sum(wants[j] for j in waiting)
    for j in waiting:
        widths[j] += room * wants[j] / rest
    return widths


def _least_column(head: str, column: list[str], width: Callable[[str], float], page: float,
                  split: Callable[[str], list[str]]) -> float:
    """A column's least width (column_bounds): its heading's widest word, its values' least widths
    by split, never over LEAST_SHARE of the page."""
    return min(LEAST_SHARE * page,
               max([width("0000"), *(_least_width(value, width, split) for value in column),
                    *(width(word.rstrip()) for word in _words(head)), min(width(head), HEADING_MM)]))


def column_bounds(rows: list[list[str]], width: Callable[[str], float],
                  page: float) -> tuple[list[float], list[float]]:
    """Each column's least and most width for column_widths; rows[0] holds the headings, width
    measures a cell holding a text (padding included), page is the table's width."""
    heads = rows[0]
    columns = [[row[j] for row in rows[1:]] for j in range(len(heads))]
    # a heading wraps between words (モデル / サイズ is not one), within HEADING_MM at least
    least = [_least_column(head, column, width, page, _segments) for head, column in zip(heads, columns)]
    if sum(least) > page:   # whole words do not fit: break them where Japanese may, rather than
        # scale every column alike, a number's too, below its width
        least = [_least_column(head, column, width, page, _chunks) for head, column in zip(heads, columns)]
    values = [max([low, *(_widest(value, width) for value in column)])
              for low, column in zip(least, columns)]
    # headings on one line where the page allows; else on two at most, rather than widen their
    # columns beyond their values
    most = [max(high, width(head)) for high, head in zip(values, heads)]
    if sum(most) > page:
        most = [max(high, _heading_width(head, width)) for high, head in zip(values, heads)]
    return least, most


def lay_out_table(rows: list[list[str]], measure: Callable[[str], float], pad: float,
                  page: float) -> tuple[list[float], list[list[str]]]:
    """Column widths summing to page, and rows with each text broken into lines that fit its
    column: headings (rows[0]) between words, values between segments. measure: the drawing
    font's width of a string; pad: a cell's width around its text."""
    width = lambda text: measure(text) + pad      # noqa: E731
    least, most = column_bounds(rows, width, page)
    # small wants first shortens a table of numbers; beside a long text that sets a row's height
    # anyway, it only narrows the text's column and adds lines: the shorter table wins
    tables = [_broken(rows, column_widths(least, most, page, first), measure, pad) for first in (True, False)]
    return min(tables, key=lambda table: sum(max((cell.count("\n") for cell in row), default=0) for row in table[1]))


def _broken(rows: list[list[str]], widths: list[float], measure: Callable[[str], float],
            pad: float) -> tuple[list[float], list[list[str]]]:
    """widths, and rows with their texts broken into lines in columns that wide (lay_out_table)."""
    inner = [w - pad for w in widths]
    heads = [heading_lines(head, room, measure) for head, room in zip(rows[0], inner)]
    return widths, [heads] + [[wrap_lines(value, room, measure, keep="segments")
                               for value, room in zip(row, inner)] for row in rows[1:]]


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
        """Columns as wide as their values where the page allows, each cell broken into lines here
        (lay_out_table)."""
        rows = [list(map(str, frame.columns))] + frame.astype(str).values.tolist()
        self.pdf.ln(1)
        self.pdf.set_font("cjk", size=8)
        pad = 2 * self.pdf.c_margin + self.pdf.line_width + _SLACK_MM   # around a cell's text
        widths, cells = lay_out_table(rows, self.pdf.get_string_width, pad, self.pdf.epw)
        with self.pdf.table(col_widths=widths, text_align="LEFT", line_height=4.2) as table:
            for row in cells:
                drawn = table.row()
                for text in row:
                    drawn.cell(text)
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
