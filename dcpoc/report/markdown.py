"""The summary as Markdown (for a wiki or a chat): user text escaped, charts as their tables."""
from __future__ import annotations

import re

import pandas as pd

from .blocks import Block, Bullets, Chart, Facts, Heading, Paragraph, Table, Title


def md_escape(text: str) -> str:
    """User text as literal Markdown: on one line (so nothing starts a list or heading) with the
    inline markup characters escaped; dots and dashes stay readable (versions, dates)."""
    one_line = " ".join(str(text).split())
    escaped = "".join("\\" + c if c in "\\`*_{}[]<>()!|&\"" else c for c in one_line)
    if escaped[:1] in ("-", "+", "#", "="):            # would open a list or heading
        return "\\" + escaped
    return re.sub(r"^(\d+)([.)])(?=\s|$)", r"\1\\\2", escaped)   # "1. " would open a list; "2.50" not


def _table(frame: pd.DataFrame) -> list[str]:
    cols = list(frame.columns)
    return (["| " + " | ".join(map(str, cols)) + " |", "|" + "---|" * len(cols)]
            + ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
            + [""])


def _lines(block: Block) -> list[str]:
    if isinstance(block, Title):
        quote = [f"> {md_escape(block.question)}", ""] if block.question else []
        return [f"# {md_escape(block.study)}{block.sep}{block.verdict}", ""] + quote
    if isinstance(block, Heading):
        return [f"## {block.text}", ""]
    if isinstance(block, Paragraph):
        return [block.text, ""]
    if isinstance(block, Bullets):
        return [f"- **{lead}** {text}" if lead else f"- {text}" for lead, text in block.items] + [""]
    if isinstance(block, Facts):
        return [f"- {key}{block.sep}{md_escape(value) or '—'}" for key, value in block.pairs] + [""]
    if isinstance(block, Table):
        return _table(block.frame)
    if isinstance(block, Chart):            # no picture here: the numbers behind it
        return _table(block.table) if len(block.table) else [block.empty, ""]
    raise TypeError(f"no Markdown for {type(block).__name__}")


def to_markdown(blocks: list[Block]) -> str:
    """The blocks as one Markdown document."""
    return "\n".join(line for block in blocks for line in _lines(block)).rstrip("\n") + "\n"
