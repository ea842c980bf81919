"""The summary as a PowerPoint deck: a title slide with the verdict, then one slide per section
(its heading as the slide title), blocks stacked top to bottom; what does not fit under the blocks
above it goes on a continuation slide with the same title, a table taller than a slide over several
(its header row on each). python-pptx writes text as XML text nodes, so user text stays literal."""
from __future__ import annotations

import datetime as _dt
import io
import math
from typing import Iterator

import pandas as pd

from .blocks import (Block, Bullets, Chart, Facts, Heading, Paragraph, Table, Title,
                     without_code_marks)

_LEFT, _WIDTH, _TOP, _BOTTOM = 0.6, 12.1, 1.4, 7.2     # inches on a 13.333 x 7.5 slide
_SLIDE_HEIGHT = 7.5
_NOTE_SIZE, _NOTE_FLOOR = 11, 9                          # points: a note's size, and its least


def _wrapped_rows(line: str, size: int, width_in: float) -> int:
    """Rows a line takes at `size` points in a box width_in inches wide (0.1 inch of margins each
    side): full-width (CJK) characters are about `size` wide, others about half."""
    width_pt = max(size, width_in * 72 - 14)
    return max(1, math.ceil(sum(size if ord(c) > 0x2E80 else 0.52 * size for c in line) / width_pt))


def _text_height(lines: list[str], size: int) -> float:
    """Inches a full-width text box of these lines needs at `size` points."""
    return sum(_wrapped_rows(line, size, _WIDTH) for line in lines) * size * 1.25 / 72 + 0.15


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
        first = self.deck.slides.add_slide(self.deck.slide_layouts[0])
        first.shapes.title.text = block.verdict
        first.placeholders[1].text = block.study + (f"\n{block.question}" if block.question else "")
        created = _dt.datetime.strptime(block.created, "%Y-%m-%d %H:%M UTC")
        props = self.deck.core_properties
        props.title, props.created, props.modified = block.study, created, created
        # what comes before the first section (the note on an imported study's recorded results)
        # goes under the subtitle
        self.slide, self.top, self.title = first, 6.1, block.study

    def section(self, title: str) -> None:
        from pptx.util import Inches
        self.slide = self.deck.slides.add_slide(self.deck.slide_layouts[5])     # title only
        self.slide.shapes.title.text = title
        self.slide.shapes.title.left, self.slide.shapes.title.width = Inches(0.5), Inches(12.3)
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
            if self.top + _text_height(texts, size) > _BOTTOM and self.top + small <= _SLIDE_HEIGHT - 0.05:
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

    def table(self, frame: pd.DataFrame, size: int = 12) -> None:
        """The table under what is here, else on a continuation slide; rows past a slide's room go
        on the next one, under the header repeated."""
        header, *rows = _row_heights(frame, size)
        for start, end in self._parts(rows, fixed=header, after=0.15):
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

    def chart(self, block: Chart) -> None:
        from pptx.util import Inches
        if not block.spec:
            self.text([("", block.empty)], 16)
            return
        size = 10
        table_h = sum(_row_heights(block.table, size)) + 0.15 if block.with_table else 0.0
        self._room(1.5 + min(table_h, 2.0))   # a chart of 1.5 inches at least, and its table's start
        height = max(1.5, min(5.6, _BOTTOM - self.top - table_h))
        self.slide.shapes.add_picture(io.BytesIO(block.png()), Inches(_LEFT), Inches(self.top),
                                      height=Inches(height))
        self.top += height + 0.1
        if block.with_table:
            self.table(block.table, size)

    def block(self, block: Block) -> None:
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
            self.table(block.frame, 10 if block.small else 12)
        elif isinstance(block, Chart):
            self.chart(block)
        else:
            raise TypeError(f"no PPTX for {type(block).__name__}")


def to_pptx(blocks: list[Block]) -> bytes:
    """The blocks as a .pptx file's bytes (blocks[0] is the Title)."""
    deck = _Deck()
    for block in blocks:
        deck.block(block)
    out = io.BytesIO()
    deck.deck.save(out)
    return out.getvalue()
