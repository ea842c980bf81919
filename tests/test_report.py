"""The meeting summary from real tiny runs: Markdown and self-contained HTML, both languages."""
import re

import pytest

from dcpoc import report
from test_pages import fresh_caches, trained, trained_home  # noqa: F401

EVIL = '<script>alert(1)</script> & "x"'


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_markdown_and_html_hold_the_verdict_and_escape_user_text(trained, lang):
    runs = trained.list_runs()
    summary = report.build_summary(runs, "s1", question=EVIL)
    summary.study = EVIL                                   # a hostile name, as typed
    md = report.render(summary, "md", lang).decode()
    assert report.verdict_line(summary.decision, lang) in md
    assert "<script>" not in md and runs["id"].iloc[0] in md
    page = report.render(summary, "html", lang).decode()
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert not re.search(r"https?://(?!www\.w3\.org/)", page)   # SVG namespaces only
    assert "<svg" in page and summary.decision.verdict == "INSUFFICIENT"
    assert ("Insufficient evidence" if lang == "en" else "根拠不足") in page


def test_report_command_writes_the_same_markdown(trained, tmp_path):
    from conftest import run_cli
    out = tmp_path / "s1.md"
    done = run_cli("report", "--study", "s1", "--format", "md", "--lang", "ja", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "根拠不足" in out.read_text() and "INSUFFICIENT" in done.stdout
    bad = run_cli("report", "--study", "nope", "--out", str(out))
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "nope" in bad.stderr
