"""The meeting summary from real tiny runs: Markdown and self-contained HTML, both languages."""
import re

import pytest

from dcpoc.report import summary as report
from conftest import skip_without_pdf_tools
pytestmark = pytest.mark.usefixtures("fresh_caches")

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


def pdf_text(data: bytes, tmp_path) -> str:
    """The PDF's text as poppler's pdftotext reads it (.ci/run installs poppler-utils)."""
    import subprocess
    path = tmp_path / "r.pdf"
    path.write_bytes(data)
    done = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_pdf_holds_the_verdict_in_a_cjk_font_and_user_text_literally(trained, tmp_path, lang):
    import subprocess
    skip_without_pdf_tools()
    summary = report.build_summary(trained.list_runs(), "s1", question=EVIL)
    summary.study = EVIL
    data = report.render(summary, "pdf", lang)
    assert data.startswith(b"%PDF")
    text = pdf_text(data, tmp_path)
    assert report.verdict_line(summary.decision, lang) in text
    assert EVIL in text and trained.list_runs()["id"].iloc[0] in text
    assert ("Risks and mitigations" if lang == "en" else "リスクと対策") in text
    fonts = subprocess.run(["pdffonts", str(tmp_path / "r.pdf")], capture_output=True, text=True)
    assert "IPAexGothic" in fonts.stdout                     # embedded, so any viewer shows it
    pages = subprocess.run(["pdftoppm", "-png", "-r", "40", str(tmp_path / "r.pdf"), str(tmp_path / "p")],
                           capture_output=True)
    assert pages.returncode == 0 and (tmp_path / "p-1.png").exists()


def test_pdf_without_a_cjk_font_names_the_package(trained, monkeypatch, tmp_path):
    monkeypatch.setenv(report.PDF_FONT_ENV, str(tmp_path / "missing.ttf"))
    summary = report.build_summary(trained.list_runs(), "s1")
    with pytest.raises(report.ReportError, match="fonts-ipaexfont-gothic"):
        report.render(summary, "pdf", "en")


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_pptx_opens_with_the_expected_slides(trained, lang):
    import io

    from pptx import Presentation
    summary = report.build_summary(trained.list_runs(), "s1", question=EVIL)
    deck = Presentation(io.BytesIO(report.render(summary, "pptx", lang)))
    assert len(deck.slides) == report.PPTX_SLIDES
    texts = [" ".join(shape.text_frame.text for shape in slide.shapes if shape.has_text_frame)
             for slide in deck.slides]
    assert report.verdict_line(summary.decision, lang) in texts[0] and EVIL in texts[0]
    assert any(shape.shape_type == 13 for shape in deck.slides[2].shapes)     # the chart picture
    assert ("Reproducibility" if lang == "en" else "再現のための情報") in texts[-1]
    assert summary.runs["id"].iloc[0] in texts[-1]


@pytest.mark.parametrize("fmt", ["pdf", "pptx"])
def test_report_command_writes_pdf_and_pptx(trained, tmp_path, fmt):
    from conftest import run_cli
    if fmt == "pdf":
        skip_without_pdf_tools()
    out = tmp_path / f"s1.{fmt}"
    done = run_cli("report", "--study", "s1", "--format", fmt, "--lang", "ja", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert out.read_bytes()[:4] == (b"%PDF" if fmt == "pdf" else b"PK\x03\x04")


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_markdown_has_the_next_step_with_its_cost_and_meeting_phrases(trained, lang):
    from dcpoc.studies import planning
    from dcpoc.ui.i18n import duration, money
    runs = trained.list_runs()
    summary = report.build_summary(runs, "s1")
    md = report.render(summary, "md", lang).decode()
    step = summary.next                     # one size, seeds 1 and 2: the next preset, same seeds
    assert step is not None and {r.preset for r in step.plan} == {"cpu-xs"}
    assert sorted(r.train.seed for r in step.plan) == [1, 1, 2, 2]
    assert step.estimate == planning.estimate_study(step.plan, step.device,
                                                    planning.measured_throughput(runs))
    line = report.next_step_line(step, lang)
    assert line in md and money(step.estimate["cost_usd"]) in line
    assert duration(step.estimate["wall_s"], lang) in line
    assert ("Next step: run cpu-xs" if lang == "en" else "次のステップ：cpu-xs を") in line
    assert ("## Phrases for the meeting" if lang == "en" else "## 会議で使えるフレーズ") in md
    phrases = report.meeting_phrases(summary, lang)
    assert 3 <= len(phrases) <= 5 and all(f"- {p}" in md for p in phrases)
    row = summary.decision.equal_tokens.iloc[-1]
    diff = f"{row['loss_diff']:+.4f} ({row['loss_low']:+.4f}–{row['loss_high']:+.4f})"
    assert diff in phrases[1]                                   # the result with its interval
    assert f"{len(summary.runs)}" in phrases[0] and "1, 2" in phrases[0]
    assert report.verdict_line(summary.decision, lang) in phrases[-2]
    assert money(step.estimate["cost_usd"]) in phrases[-1]
    import html
    page = report.render(summary, "html", lang).decode()
    assert html.escape(line) in page and html.escape(phrases[1]) in page


def test_markdown_escape_keeps_versions_readable_and_user_text_inert():
    from dcpoc.report.summary import _md_escape
    assert _md_escape("torch 2.13.0, 2026-11-29") == "torch 2.13.0, 2026-11-29"
    assert _md_escape("1. first\n# not a heading *bold*") == "1\\. first # not a heading \\*bold\\*"
    assert _md_escape("- item") == "\\- item" and _md_escape("[x](javascript:1)") == "\\[x\\]\\(javascript:1\\)"


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_every_format_carries_the_inference_benchmark(trained, lang):
    from dcpoc.bench import bench_infer
    result = bench_infer("tiny", new_tokens=4, device="cpu", rounds=1)     # a real measurement
    summary = report.build_summary(trained.list_runs(), "s1", inference=result)
    line = report.inference_text(result, lang)
    ratio = f"{result['dcformer_over_transformer']['decode_tokens_per_s']:.2f}"
    assert ratio in line and ("DCFormer decodes at" in line or "DCFormer の生成速度" in line)
    assert line in report.to_markdown(summary, lang)
    assert report.inference_text(None, lang) in report.to_markdown(report.build_summary(
        trained.list_runs(), "s1"), lang)
