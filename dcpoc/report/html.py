"""The summary as a self-contained HTML one-pager: no script, no external URL, user text escaped,
charts as inline SVG."""
from __future__ import annotations

import html
import re

from .blocks import CODE_SPAN, Block, Bullets, Chart, Facts, Heading, Paragraph, Table, Title

# Japanese may break between any two characters, so a table's auto layout squeezed short cells
# (判断不能, printed one character a line) and split headers mid-word beside a long column: headers
# break at spaces and punctuation only (keep-all), short cells not at all (nw); headers left-aligned
# (pandas right-aligns the header row, which left Japanese headers ragged)
_STYLE = ("body{font-family:sans-serif;max-width:60em;margin:2em auto}table{border-collapse:collapse}"
          "td,th{border:1px solid #999;padding:.2em .5em}th{word-break:keep-all;text-align:left}.nw{white-space:nowrap}"
          ".small{font-size:.8em;color:#555}dt{font-weight:bold}")
_SHORT_CELL = re.compile(r"<td>([^<]{1,10})</td>")


def _table(frame, small: bool = False) -> str:
    """A DataFrame as an HTML table, its short cells marked unbreakable (nw)."""
    table = frame.to_html(index=False, escape=True, border=0, classes="small" if small else None)
    return _SHORT_CELL.sub(r"<td class='nw'>\1</td>", table)


def _escape(text: str) -> str:
    """Escaped text, Markdown's `code` spans as <code> (after escaping: user text stays inert)."""
    return CODE_SPAN.sub(r"<code>\1</code>", html.escape(text))


def _part(block: Block) -> str:
    e = _escape
    if isinstance(block, Title):
        quote = f"<blockquote>{e(block.question)}</blockquote>" if block.question else ""
        return f"<h1>{e(block.study)}{e(block.sep)}{e(block.verdict)}</h1>{quote}"
    if isinstance(block, Heading):
        return f"<h2>{e(block.text)}</h2>"
    small = " class='small'" if getattr(block, "small", False) else ""
    if isinstance(block, Paragraph):
        return f"<p{small}>{e(block.text)}</p>"
    if isinstance(block, Bullets):
        return f"<ul{small}>" + "".join(f"<li><b>{e(lead)}</b> {e(text)}</li>" if lead else
                                        f"<li>{e(text)}</li>" for lead, text in block.items) + "</ul>"
    if isinstance(block, Facts):
        return f"<dl{small}>" + "".join(f"<dt>{e(k)}</dt><dd>{e(v) or '—'}</dd>"
                                        for k, v in block.pairs) + "</dl>"
    if isinstance(block, Table):
        return _table(block.frame, block.small)
    if isinstance(block, Chart):
        if not block.spec:
            return f"<p>{e(block.empty)}</p>"
        table = _table(block.table) if block.with_table else ""
        return table + block.svg()
    raise TypeError(f"no HTML for {type(block).__name__}")


def to_html(blocks: list[Block], lang: str) -> str:
    """The blocks as one HTML page (blocks[0] is the Title)."""
    title = blocks[0]
    assert isinstance(title, Title)
    head = (f"<!doctype html><html lang='{html.escape(lang)}'><head><meta charset='utf-8'>"
            f"<title>{html.escape(title.study)}</title><style>{_STYLE}</style></head><body>")
    return head + "".join(_part(block) for block in blocks) + "</body></html>"
