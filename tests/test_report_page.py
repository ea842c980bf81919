"""The Report page through AppTest on real tiny runs: it renders in both languages, and its download
button serves the bytes `python -m dcpoc report` writes for the same study, format and language."""
import io
import re

import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

from conftest import run_cli, skip_without_pdf_tools
from dcpoc import report
from dcpoc.ui.i18n import t
from conftest import by_label, errors, open_page

pytestmark = pytest.mark.usefixtures("fresh_caches")

STAMP = re.compile(rb"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC")   # the summary's minute, in the footer


@pytest.fixture
def served(monkeypatch):
    """The bytes behind each media URL the page hands out (AppTest keeps them in a mock store)."""
    files: dict[str, bytes] = {}
    original = MemoryMediaFileStorage.get_url

    def get_url(self, file_id):
        url = original(self, file_id)
        files[url] = self.get_file(file_id).content
        return url
    monkeypatch.setattr(MemoryMediaFileStorage, "get_url", get_url)
    return files


def download(at, served) -> bytes:
    buttons = at.get("download_button")
    assert len(buttons) == 1
    return served[buttons[0].proto.url]


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_report_page_serves_what_the_command_line_writes(trained, served, tmp_path, lang):
    skip_without_pdf_tools()   # the page builds every format, the PDF included
    at = open_page("pages/7_Report.py", lang)
    assert not errors(at)
    assert at.title[0].value == ("Meeting report" if lang == "en" else "会議用レポート")
    assert t("dec.verdict.INSUFFICIENT", lang) in at.markdown[0].value
    preview = " ".join(m.value for m in at.expander[0].markdown)   # the Markdown report, rendered
    assert ("## Key numbers" if lang == "en" else "## 主要な数値") in preview
    fmt_label = "Format" if lang == "en" else "形式"
    by_format: dict[str, bytes] = {}
    for fmt in report.FORMATS:
        by_label(at.radio, fmt_label).set_value(fmt).run()
        assert not at.exception and not errors(at)
        data = by_format[fmt] = download(at, served)
        if fmt in ("md", "html"):
            out = tmp_path / f"s1.{fmt}"
            done = run_cli("report", "--study", "s1", "--format", fmt, "--lang", lang, "--out", str(out))
            assert done.returncode == 0, done.stderr
            assert STAMP.sub(b"", data) == STAMP.sub(b"", out.read_bytes())
        elif fmt == "pdf":
            assert data.startswith(b"%PDF")
        else:                     # the verdict, then a slide per section the Markdown has (or more)
            from pptx import Presentation
            sections = [line[3:].decode() for line in by_format["md"].splitlines() if line.startswith(b"## ")]
            titles = [s.shapes.title.text for s in Presentation(io.BytesIO(data)).slides][1:]
            assert list(dict.fromkeys(titles)) == sections   # a continued section repeats its title


def test_report_language_is_chosen_apart_from_the_page_language(trained, served):
    at = open_page("pages/7_Report.py", "en")
    by_label(at.selectbox, "Report language").set_value("ja").run()
    assert not at.exception
    assert "根拠不足" in download(at, served).decode() and at.title[0].value == "Meeting report"


def test_report_page_prices_the_next_step_with_the_stores_price_table(trained_copy, served):
    """The page reads the study through load_decision, the saved price table included."""
    from dcpoc.decision import load_decision
    done = run_cli("prices", "--set", "cpu=100")
    assert done.returncode == 0, done.stderr
    line = report.next_step_line(load_decision(trained_copy, "s1", prices={"cpu": 100.0}), "en")
    assert "< $0.01" not in line.split("device-hours")[1]
    at = open_page("pages/7_Report.py", "en")
    assert line in download(at, served).decode()
