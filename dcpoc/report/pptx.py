"""The summary as a PowerPoint deck: a title slide with the verdict, then one slide per section
(its heading as the slide title), blocks stacked top to bottom; what does not fit under the blocks
above it goes on a continuation slide with the same title, a table taller than a slide over several
(its header row on each). Every shape is placed with all four of its coordinates on the 16:9 slide,
text sized by _fit so that it fits its box. A table or chart keeps the notes under it on its slide;
a chart alone on a slide fills it. A Japanese deck tags every run ja-JP with a Japanese typeface.
python-pptx writes text as XML text nodes, so user text stays literal."""
from __future__ import annotations

import datetime as _dt
import io
import math
import struct
from typing import Iterator

import pandas as pd

from .blocks import (Block, Bullets, Chart, Facts, Heading, Paragraph, Table, Title,
                     without_code_marks)

_LEFT, _WIDTH, _TOP, _BOTTOM = 0.6, 12.1, 1.4, 7.2     # inches on a 13.333 x 7.5 slide
_SLIDE_HEIGHT = 7.5
_TITLE_TOP, _TITLE_HEIGHT = 0.25, 1.0                    # a section slide's title box, inches
_NOTE_SIZE, _NOTE_FLOOR = 11, 9                          # points: a note's size, and its least
_NOTE_MARGIN = _SLIDE_HEIGHT - 0.05 - _BOTTOM            # inches of bottom margin a note may take
_MIN_CHART = 3.0                                         # inches: a chart's least readable height
# Yu Gothic: Windows 8.1+ and macOS 10.9+; charset -128 (Shift JIS) lets an app without it
# substitute a Japanese gothic (Meiryo, MS PGothic, Hiragino) rather than a Latin font
_JA_TYPEFACE = {"typeface": "Yu Gothic", "pitchFamily": "34", "charset": "-128"}


def _wrapped_rows(line: str, size: int, width_in: float) -> int:
    """Rows a line takes at `size` points in a box width_in inches wide (0.1 inch of margins each
    side): full-width (CJK) characters are about `size` wide, others about half."""
    width_pt = max(size, width_in * 72 - 14)
    return max(1, math.ceil(sum(size if ord(c) > 0x2E80 else 0.52 * size for c in line) / width_pt))


def _text_height(lines: list[str], size: int, width_in: float = _WIDTH) -> float:
    """Inches a text box of these lines, width_in inches wide, needs at `size` points."""
    return sum(_wrapped_rows(line, size, width_in) for line in lines) * size * 1.25 / 72 + 0.15


def _fit(lines: list[str], sizes: tuple[int, ...], height_in: float,
         width_in: float = _WIDTH) -> tuple[int, float]:
    """(size, inches tall): the largest of sizes at which the lines fit height_in, else the least."""
    size = next((s for s in sizes if _text_height(lines, s, width_in) <= height_in), sizes[-1])
    return size, _text_height(lines, size, width_in)


def _fill(frame, lines: list[str], size: int) -> None:
    """Lines as the paragraphs of a placeholder's text, at size points, wrapped in its box."""
    from pptx.enum.text import MSO_AUTO_SIZE
    from pptx.util import Pt
    frame.word_wrap, frame.auto_size = True, MSO_AUTO_SIZE.NONE
    for i, line in enumerate(lines):
        run = (frame.paragraphs[0] if i == 0 else frame.add_paragraph()).add_run()
        run.text, run.font.size = line, Pt(size)


def _height_per_width(png: bytes) -> float:
    """A PNG's height over its width, from its header."""
    width, height = struct.unpack(">II", png[16:24])
    return height / width


def _tag_japanese(deck) -> None:
    """Every run of every text box, placeholder and table cell: language ja-JP, Japanese typeface,
    so that PowerPoint, Keynote and LibreOffice pick the same Japanese font."""
    from pptx.oxml.ns import qn
    shapes = [shape for slide in deck.slides for shape in slide.shapes]
    frames = [shape.text_frame for shape in shapes if shape.has_text_frame]
    frames += [cell.text_frame for shape in shapes if shape.has_table for cell in shape.table.iter_cells()]
    for run in (run for frame in frames for paragraph in frame.paragraphs for run in paragraph.runs):
        props = run._r.get_or_add_rPr()
        props.set("lang", "ja-JP")
        props.set("altLang", "en-US")
        if props.find(qn("a:ea")) is None:
            ea = props.makeelement(qn("a:ea"), _JA_TYPEFACE)
            props.insert_element_before(ea, "a:cs", "a:sym", "a:hlinkClick", "a:hlinkMouseOver",
                                        "a:rtl", "a:extLst")


def _row_heights(frame: pd.DataFrame, size: int) -> list[float]:
    """Inches per table row (the header first), each as tall as its most wrapped cell."""
    column_in = _WIDTH / max(1, len(frame.columns))
    rows = [[str(c) for c in frame.columns]] + frame.astype(str).values.tolist()
    return [max(_wrapped_rows(cell, size, column_in) for cell in row) * size * 1.25 / 72 + 0.12
            for row in rows]


class _Deck:
    """Adds slides and stacks blocks on the current one (top: the next free position, inches)."""

    def __init__(self) -> None:
        from pptx import Presentation
        from pptx.util import Inches
        self.deck = Presentation()
        self.deck.slide_width, self.deck.slide_height = Inches(13.333), Inches(7.5)
        self.slide, self.top, self.title = None, _TOP, ""

    def _room(self, height: float) -> None:
        """A continuation slide (same title) when height inches do not fit under what is here."""
        if self.top + height > _BOTTOM and self.top > _TOP:
            self.section(self.title)

    def title_slide(self, block: Title) -> None:
        """The verdict, then the study's name and question under it, across the 16:9 slide's
        width, each in the largest size that fits its room (a question may be 2,000 characters);
        what comes before the first section (the note on an imported study's recorded results)
        goes under them."""
        from pptx.util import Inches
        first = self.deck.slides.add_slide(self.deck.slide_layouts[0])
        verdict = [block.verdict]
        subtitle = [block.study] + ([block.question] if block.question else [])
        boxes = ((first.shapes.title, verdict, _fit(verdict, (40, 36, 32, 28), 1.6)),  # 2 rows at 40
                 (first.placeholders[1], subtitle, _fit(subtitle, (24, 20, 18, 16, 14, 12, 10, 8), 2.6)))
        top = 1.2
        for shape, lines, (size, height) in boxes:
            shape.left, shape.top, shape.width, shape.height = (
                Inches(_LEFT), Inches(top), Inches(_WIDTH), Inches(height))
            _fill(shape.text_frame, lines, size)
            top += height + 0.25
        created = _dt.datetime.strptime(block.created, "%Y-%m-%d %H:%M UTC")
        props = self.deck.core_properties
        props.title, props.created, props.modified = block.study, created, created
        self.slide, self.top, self.title = first, top + 0.1, block.study

    def section(self, title: str) -> None:
        """A slide with this title, in a box above the content, in a size at which it fits."""
        from pptx.util import Inches
        self.slide = self.deck.slides.add_slide(self.deck.slide_layouts[5])     # title only
        shape = self.slide.shapes.title
        shape.left, shape.top, shape.width, shape.height = (
            Inches(_LEFT), Inches(_TITLE_TOP), Inches(_WIDTH), Inches(_TITLE_HEIGHT))
        _fill(shape.text_frame, [title], _fit([title], (32, 28, 24), _TITLE_HEIGHT)[0])
        self.top, self.title = _TOP, title

    def _parts(self, heights: list[float], fixed: float, after: float = 0.0) -> Iterator[tuple[int, int]]:
        """(start, end) runs of consecutive items (of these heights, inches) that fit a slide each,
        under `fixed` inches every part repeats (a table's header, a text box's margin). The first
        goes under what is here if the whole fits there, else on a continuation slide (the first
        item alone deciding when the whole fits no slide); one more between parts."""
        whole = fixed + sum(heights) + after
        self._room(whole if whole <= _BOTTOM - _TOP else fixed + (heights[0] if heights else 0.0))
        start = 0
        while True:
            end, room = start, _BOTTOM - self.top - fixed
            while end < len(heights) and (heights[end] <= room or end == start):
                room -= heights[end]
                end += 1
            yield start, end
            if end >= len(heights):
                return
            self.section(self.title)
            start = end

    def text(self, lines: list[tuple[str, str]], size: int) -> None:
        """(bold lead, text) lines in text boxes: one under what is here if they fit, else on a
        continuation slide; lines past a slide's room go on the next one."""
        if not lines:
            return
        texts = [f"{lead} {body}" for lead, body in lines]
        if size <= _NOTE_SIZE and self.top > _TOP:   # a note: on a slide of its own it reads as empty
            small = _text_height(texts, _NOTE_FLOOR)
            fits_margin = self.top + small <= _BOTTOM + _NOTE_MARGIN
            if self.top + _text_height(texts, size) > _BOTTOM and fits_margin:
                self._text_box(lines, small, _NOTE_FLOOR)   # smaller, into the bottom margin
                return
        heights = [_text_height([text], size) - 0.15 for text in texts]
        for start, end in self._parts(heights, fixed=0.15):
            self._text_box(lines[start:end], sum(heights[start:end]) + 0.15, size)

    def _text_box(self, lines: list[tuple[str, str]], height: float, size: int) -> None:
        from pptx.util import Inches, Pt
        frame = self.slide.shapes.add_textbox(Inches(_LEFT), Inches(self.top), Inches(_WIDTH),
                                              Inches(height)).text_frame
        frame.word_wrap = True
        for i, (lead, body) in enumerate(lines):
            paragraph = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
            for part, bold in ((f"{lead} " if lead else "", True), (body, False)):
                if part:
                    run = paragraph.add_run()
                    run.text, run.font.size, run.font.bold = without_code_marks(part), Pt(size), bold
        self.top += height

    def table(self, frame: pd.DataFrame, size: int = 12, keep: float = 0.0) -> None:
        """The table (and keep inches under it) under what is here, else on a continuation slide;
        rows past a slide's room go on the next one, under the header repeated."""
        header, *rows = _row_heights(frame, size)
        for start, end in self._parts(rows, fixed=header, after=0.15 + keep):
            self._table_part(frame.iloc[start:end], [header] + rows[start:end], size)

    def _table_part(self, frame: pd.DataFrame, heights: list[float], size: int) -> None:
        from pptx.util import Inches, Pt
        shape = self.slide.shapes.add_table(len(frame) + 1, len(frame.columns), Inches(_LEFT),
                                            Inches(self.top), Inches(_WIDTH), Inches(sum(heights)))
        for i, height in enumerate(heights):
            shape.table.rows[i].height = Inches(height)
        for j, name in enumerate(frame.columns):
            shape.table.cell(0, j).text = str(name)
        for i, row in enumerate(frame.astype(str).values.tolist(), start=1):
            for j, value in enumerate(row):
                shape.table.cell(i, j).text = value
        for cell in shape.table.iter_cells():
            for paragraph in cell.text_frame.paragraphs:
                paragraph.font.size = Pt(size)
        self.top += sum(heights) + 0.15

    def chart(self, block: Chart, keep: float = 0.0) -> None:
        """The chart as large as fits (a slide's content area at most), with its table and keep
        inches under it when those fit here beside a chart of readable height; else the chart fills
        the room here (on a new slide when not even a readable chart fits) and its table follows."""
        from pptx.util import Inches
        if not block.spec:
            self.text([("", block.empty)], 16)
            return
        png = block.png()
        full = min(_BOTTOM - _TOP, _WIDTH * _height_per_width(png))
        under = (sum(_row_heights(block.table, 10)) + 0.15 if block.with_table else 0.0) + keep
        least = min(full, _MIN_CHART)
        self._room(least)
        room = _BOTTOM - self.top - 0.15    # 0.1 under the chart, 0.05 to spare
        height = min(full, room - under) if room - under >= least else min(full, room)
        picture = self.slide.shapes.add_picture(io.BytesIO(png), Inches(_LEFT), Inches(self.top),
                                                height=Inches(height))
        picture.left = Inches(_LEFT) + (Inches(_WIDTH) - picture.width) // 2
        self.top += height + 0.1
        if block.with_table:
            self.table(block.table, 10, keep)

    def block(self, block: Block, notes: tuple[tuple[str, str], ...] = ()) -> None:
        """One block; notes: the small paragraphs under a table or chart, kept on its slide (at
        their least size they may take the bottom margin, so keep is what they need above it)."""
        keep = max(0.0, _text_height([body for _, body in notes], _NOTE_FLOOR) - _NOTE_MARGIN) \
            if notes else 0.0
        if isinstance(block, Title):
            self.title_slide(block)
        elif isinstance(block, Heading):
            self.section(block.text)
        elif isinstance(block, Paragraph):
            self.text([("", block.text)], 11 if block.small else 14)
        elif isinstance(block, Bullets):
            self.text([(lead, f"• {body}" if not lead else body) for lead, body in block.items],
                      11 if block.small else 14)
        elif isinstance(block, Facts):
            self.text([("", f"{key}{block.sep}{value or '—'}") for key, value in block.pairs],
                      11 if block.small else 14)
        elif isinstance(block, Table):
            self.table(block.frame, 10 if block.small else 12, keep)
        elif isinstance(block, Chart):
            self.chart(block, keep)
        else:
            raise TypeError(f"no PPTX for {type(block).__name__}")
        self.text(list(notes), _NOTE_SIZE)


def to_pptx(blocks: list[Block], lang: str = "en") -> bytes:
    """The blocks as a .pptx file's bytes (blocks[0] is the Title). The small paragraphs right
    after a table or chart are its notes: one text box, kept on the slide it ends on, so that
    none starts a slide of its own."""
    deck, i = _Deck(), 0
    while i < len(blocks):
        block, i, notes = blocks[i], i + 1, []
        while isinstance(block, (Table, Chart)) and i < len(blocks) and \
                isinstance(blocks[i], Paragraph) and blocks[i].small:
            notes.append(("", blocks[i].text))
            i += 1
        deck.block(block, tuple(notes))
    if lang == "ja":
        _tag_japanese(deck.deck)
    out = io.BytesIO()
    deck.deck.save(out)
    return out.getvalue()
