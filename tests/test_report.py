"""The meeting summary from real tiny runs (study s1 of the shared trained database), read through
load_decision as the CLI and the Report page read it: every format carries the same sections,
user text stays literal, and every cost uses the store's price table."""
import html
import io
import json
import re
import subprocess

import pandas as pd
import pytest

from conftest import run_cli, skip_without_pdf_tools, store_two_budget_study, store_two_size_study
from dcpoc import report
from dcpoc.decision import load_decision
pytestmark = pytest.mark.usefixtures("fresh_caches")

EVIL = '<script>alert(1)</script> & "x"'


def hostile(store):
    """s1's decision with a hostile study name and question, as typed."""
    sd = load_decision(store, "s1")
    sd.study, sd.question = EVIL, EVIL
    return sd


def pdf_text(data: bytes, tmp_path) -> str:
    """The PDF's text as poppler's pdftotext reads it (.ci/run installs poppler-utils)."""
    path = tmp_path / "r.pdf"
    path.write_bytes(data)
    done = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def pptx_texts(data: bytes) -> list[str]:
    """Each slide's text: text boxes and table cells."""
    from pptx import Presentation
    slides = []
    for slide in Presentation(io.BytesIO(data)).slides:
        parts = [shape.text_frame.text for shape in slide.shapes if shape.has_text_frame]
        parts += [cell.text for shape in slide.shapes if shape.has_table for cell in shape.table.iter_cells()]
        slides.append("\n".join(parts))
    return slides


def headings(fmt: str, data: bytes, tmp_path) -> list[str]:
    """The section headings a reader of that format sees, in order."""
    if fmt == "md":
        return [line[3:] for line in data.decode().splitlines() if line.startswith("## ")]
    if fmt == "html":
        return [html.unescape(h) for h in re.findall(r"<h2>(.*?)</h2>", data.decode())]
    if fmt == "pdf":                          # the bookmarks, each also a line of the page text
        lines = {line.strip() for line in pdf_text(data, tmp_path).splitlines()}
        xml = subprocess.run(["pdftohtml", "-xml", "-i", "-stdout", str(tmp_path / "r.pdf")],
                             capture_output=True, text=True).stdout
        marks = [html.unescape(m) for m in re.findall(r'<item page="\d+">(.*?)</item>', xml)]
        assert all(m in lines for m in marks), (marks, lines)
        return marks
    from pptx import Presentation
    titles = [slide.shapes.title.text for slide in Presentation(io.BytesIO(data)).slides][1:]
    return [title for i, title in enumerate(titles) if i == 0 or title != titles[i - 1]]  # continued


def every_format_text(sd, lang: str, tmp_path) -> dict[str, str]:
    """The report of ``sd`` in every format, as the text a reader sees."""
    return {"md": report.render(sd, "md", lang).decode(),
            "html": html.unescape(report.render(sd, "html", lang).decode()),
            "pdf": pdf_text(report.render(sd, "pdf", lang), tmp_path),
            "pptx": "\n".join(pptx_texts(report.render(sd, "pptx", lang)))}


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_every_format_carries_the_same_sections(trained, tmp_path, lang):
    from dcpoc.ui.i18n import t
    skip_without_pdf_tools()
    sd = load_decision(trained, "s1")
    found = {fmt: headings(fmt, report.render(sd, fmt, lang), tmp_path) for fmt in report.FORMATS}
    assert found["md"] == found["html"] == found["pdf"] == found["pptx"], found
    for key in ("rep.metrics", "rep.cost_quality", "dec.projection", "rep.chart", "dec.lr", "dec.risks",
                "rep.next_step", "rep.phrases", "rep.repro", "rep.glossary"):
        assert t(key, lang) in found["md"]


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_markdown_and_html_hold_the_verdict_and_escape_user_text(trained, lang):
    sd = hostile(trained)
    md = report.render(sd, "md", lang).decode()
    assert report.verdict_line(sd.decision, lang) in md
    assert "<script>" not in md and sd.runs["id"].iloc[0] in md
    page = report.render(sd, "html", lang).decode()
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert not re.search(r"https?://(?!www\.w3\.org/)", page)   # SVG namespaces only
    assert "<svg" in page and sd.decision.verdict == "INSUFFICIENT"
    assert ("Insufficient evidence" if lang == "en" else "根拠不足") in page


@pytest.mark.parametrize("stored", ["en", "ja"])
def test_the_reference_question_reads_in_the_reports_language_and_a_users_as_typed(trained, stored):
    from dcpoc.ui.i18n import t
    sd = load_decision(trained, "s1")
    sd.question = t("study.reference_question", stored)   # a Launch page in either language stores it
    for lang, other in (("en", "ja"), ("ja", "en")):
        page = html.unescape(report.render(sd, "html", lang).decode())
        assert t("study.reference_question", lang) in page
        assert t("study.reference_question", other) not in page
    sd.question = "Does DCMHA help on our notes?"
    assert "> Does DCMHA help on our notes?" in report.render(sd, "md", "ja").decode()


def test_markdown_shows_the_numbers_behind_the_trade_off_chart(trained):
    sd = load_decision(trained, "s1")
    md = report.render(sd, "md", "en").decode()
    section = md.split("## Trade-off: quality against cost", 1)[1].split("## ", 1)[0]
    assert "| Run | Variant | Preset | Seed | Cost ($) | Perplexity (per byte) |" in section
    listed = [run_id for run_id in sd.runs["id"] if f"| {run_id} |" in section]
    appendix = md.split("## Appendix: every run", 1)[1] if "## Appendix: every run" in md else section
    assert listed and all(f"| {run_id} |" in appendix for run_id in sd.runs["id"])


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The shipped reference study (45 runs, 3 sizes), imported into an empty database."""
    from pathlib import Path

    from dcpoc.runs.bundle import import_study
    from dcpoc.runs.store import Store
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('reference') / 'ref.db'}")
    import_study(store, Path(__file__).parent.parent / "benchmarks" / "reference-cpu.dcpoc-study.json.gz")
    return load_decision(store, "reference-cpu")


def test_the_reference_report_states_the_size_trend_beside_the_pooled_estimate(reference):
    md = report.render(reference, "md", "en").decode()
    lines = md.splitlines()
    pooled = next(i for i, line in enumerate(lines) if line.startswith("- Pooled over 3 sizes"))
    assert lines[pooled + 1] == (
        "- Size by size, smallest first, the equal-token loss difference (DCFormer minus the baseline, "
        "nats/byte; point estimates) is cpu-xs -0.0744, cpu-s -0.0130, cpu-demo +0.0057. DCFormer's lead "
        "shrinks as the model grows and is gone at the largest size. The sizes' 95% intervals all overlap, "
        "so these seeds cannot yet tell the sizes apart: a pattern to check at a larger size, not yet a "
        "measured trend.")
    ja = report.render(reference, "md", "ja").decode()
    assert "cpu-xs -0.0744、cpu-s -0.0130、cpu-demo +0.0057 です。モデルが大きくなるほど" in ja


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_the_reference_report_gives_one_next_step_and_the_cost_up_front(reference, lang):
    """Review (a Japanese reader): the next step planned one more seed right above 'more seeds
    alone cannot give GO' and the reason's 'measure the speed on H100 first'; and what DCFormer
    costs at scale was nowhere on the first page, where the net benefit used the CPU's speed ratio
    while the cost table used the paper's."""
    from dcpoc.ui.i18n import device_text, money, t
    sd = reference
    assert sd.speed_first and sd.next is None        # seeds cannot give GO; no larger CPU size
    assert "flip.seeds_cannot" in [key for key, _ in sd.decision.flips]
    md = report.render(sd, "md", lang).decode()
    key_numbers = md.split("## ", 2)[1]
    question, answer = report.key_answers(sd, lang)[-1]
    assert question == t("dec.q4", lang) and f"**{question}** {answer}" in key_numbers
    low, high = sd.projection_span
    assert money(low.tf_cost_usd) in answer and money(low.dc_cost_equal_quality_usd) in answer
    assert ("0.83×" in answer and "H100" in answer and
            ("does not carry over" in answer if lang == "en" else "当てはまりません" in answer))
    line = report.next_step_line(sd, lang)
    assert line == t("next.speed_first", lang).format(
        kind="H100", device=device_text(sd.speed.study_device, lang), ratio="0.83×")
    steps = md.split(t("rep.next_step", lang), 1)[1].split("## ", 1)[0]
    assert line in steps and ("seed" not in line if lang == "en" else "シード" not in line)
    phrases = report.meeting_phrases(sd, lang)
    assert phrases[-1] == t("phrase.speed_first", lang).format(kind="H100")


def test_the_reference_trade_off_shows_the_front_and_the_appendix_every_run(reference):
    md = report.render(reference, "md", "en").decode()
    body, appendix = md.split("## Trade-off: quality against cost", 1)[1].split("## ", 1)[0], \
        md.split("## Appendix: every run", 1)[1]
    runs = reference.runs["id"]
    assert len(runs) == 45 and all(f"| {run_id} |" in appendix for run_id in runs)
    shown = [run_id for run_id in runs if f"| {run_id} |" in body]
    assert len(shown) == 13 and appendix.count("| on the front |") == 13
    row = {run_id: next(line for line in appendix.splitlines() if f"| {run_id} |" in line) for run_id in runs}
    assert all(row[run_id].endswith("| on the front |") for run_id in shown)   # the body: the front only
    assert "13 runs of 45 on the Pareto front" in body and "other 32" in body
    assert md.rstrip().splitlines()[-1].startswith("| ")       # the appendix comes last
    deck = report.render(reference, "pptx", "en")
    from pptx import Presentation
    titles = [slide.shapes.title.text for slide in Presentation(io.BytesIO(deck)).slides]
    assert titles[-1] == "Appendix: every run" and "Trade-off: quality against cost" in titles


def test_the_reference_report_in_japanese_uses_one_term_for_one_thing(reference):
    ja = report.render(reference, "md", "ja").decode()
    assert "信頼区間" not in ja and "最大学習率" not in ja
    assert not re.search(r"\d シード", ja) and "シード 3 個" in ja
    assert "判定は GO（採用）／条件付き／NO-GO（見送り）の 3 段階で" in ja
    lr_table = ja.split("## 学習率への感度", 1)[1]
    assert lr_table.lstrip().startswith("| モデルサイズ | 学習率 |")


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_every_format_states_the_projection_at_the_target(trained, tmp_path, lang):
    from dcpoc.decision import project
    from dcpoc.ui.i18n import hours, money, t
    skip_without_pdf_tools()
    sd = load_decision(trained, "s1")
    assert sd.projection is None                           # one size: no multiplier yet
    assert t("dec.proj.none", lang) in report.render(sd, "md", lang).decode()
    sd.projection = project(sd.target.params, sd.target.tokens, "h100", 2.5, 0.9, 1.8)
    wanted = [money(sd.projection.tf_cost_usd), money(sd.projection.dc_cost_equal_quality_usd),
              money(sd.projection.saved_usd), hours(sd.projection.tf_gpu_hours), "405", "H100", "2.50",
              t("dec.proj.dc_same", lang), t("dec.target_tokens_n", lang)]
    texts = every_format_text(sd, lang, tmp_path)
    for fmt, text in texts.items():
        assert all(w in text for w in wanted), (fmt, [w for w in wanted if w not in text])


def test_report_command_writes_the_same_markdown(trained, tmp_path):
    out = tmp_path / "s1.md"
    done = run_cli("report", "--study", "s1", "--format", "md", "--lang", "ja", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "根拠不足" in out.read_text() and "INSUFFICIENT" in done.stdout
    bad = run_cli("report", "--study", "nope", "--out", str(out))
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "nope" in bad.stderr


def test_report_command_prices_the_next_step_with_the_stores_price_table(trained_copy, tmp_path):
    """Regression: `prices --set cpu=100` then `report` priced the next step at the default $0.10/h
    ('< $0.01'), since the report took no price table. Every format now carries the store's price."""
    from dcpoc.ui.i18n import money
    skip_without_pdf_tools()
    done = run_cli("prices", "--set", "cpu=100")
    assert done.returncode == 0, done.stderr
    sd = load_decision(trained_copy, "s1", prices={"cpu": 100.0})
    step = sd.next
    assert step is not None and step.device == "cpu" and money(step.estimate["cost_usd"]) != "< $0.01"
    line = report.next_step_line(sd, "en")
    squeeze = lambda text: "".join(text.split())   # noqa: E731  (PDF and PPTX wrap lines)
    for fmt in report.FORMATS:
        out = tmp_path / f"s1.{fmt}"
        done = run_cli("report", "--study", "s1", "--format", fmt, "--out", str(out))
        assert done.returncode == 0, done.stderr
        data = out.read_bytes()
        text = {"md": lambda: data.decode(), "html": lambda: html.unescape(data.decode()),
                "pdf": lambda: pdf_text(data, tmp_path), "pptx": lambda: "\n".join(pptx_texts(data))}[fmt]()
        assert squeeze(line) in squeeze(text), (fmt, line)
    # the runs' own costs too: stored at the price of the day they ran, shown at today's
    from dcpoc.decision import run_summary, runs_table
    runs = trained_copy.list_runs()
    priced = run_summary(runs, {"cpu": 100.0})
    wall = dict(zip(runs["id"], runs["wall_s"]))
    assert priced["cost_usd"].tolist() == pytest.approx([wall[i] / 36.0 for i in priced["id"]])
    assert runs_table(runs)["cost_usd"].tolist() == pytest.approx(runs["cost_usd"].tolist())
    assert run_cli("prices", "--set", "cpu=90000").returncode == 0   # tiny runs: cents at last
    md = report.render(load_decision(trained_copy, "s1"), "md", "en").decode()
    dearest = money(run_summary(runs, {"cpu": 90000.0})["cost_usd"].max())
    assert dearest in md and dearest != "< $0.01"
    listed = run_cli("runs", "--json")
    assert {r["id"]: r["cost_usd"] for r in json.loads(listed.stdout)} == pytest.approx(
        {i: c * 900 for i, c in zip(priced["id"], priced["cost_usd"])})


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_pdf_holds_the_verdict_in_a_cjk_font_and_user_text_literally(trained, tmp_path, lang):
    skip_without_pdf_tools()
    sd = hostile(trained)
    data = report.render(sd, "pdf", lang)
    assert data.startswith(b"%PDF")
    text = pdf_text(data, tmp_path)
    assert report.verdict_line(sd.decision, lang) in text
    assert EVIL in text and sd.runs["id"].iloc[0] in text
    assert ("Risks and mitigations" if lang == "en" else "リスクと対策") in text
    n = text.count("\f")                                     # pdftotext ends each page with one
    assert n >= 2 and f"1 / {n}" in text and f"{n} / {n}" in text    # every page numbered
    fonts = subprocess.run(["pdffonts", str(tmp_path / "r.pdf")], capture_output=True, text=True)
    assert "IPAexGothic" in fonts.stdout                     # embedded, so any viewer shows it
    pages = subprocess.run(["pdftoppm", "-png", "-r", "40", str(tmp_path / "r.pdf"), str(tmp_path / "p")],
                           capture_output=True)
    assert pages.returncode == 0 and (tmp_path / "p-1.png").exists()


def test_pdf_without_a_cjk_font_names_the_package(trained, monkeypatch, tmp_path):
    from dcpoc.report import pdf
    monkeypatch.delenv(report.PDF_FONT_ENV, raising=False)
    monkeypatch.setattr(pdf, "_PDF_FONT_PATHS", [str(tmp_path / "none.ttf")])   # a machine without one
    monkeypatch.setenv("PATH", str(tmp_path))                                  # no fc-list
    monkeypatch.setattr(pdf.glob, "glob", lambda *args, **kwargs: [])
    with pytest.raises(report.ReportError, match="fonts-ipaexfont-gothic"):
        report.render(load_decision(trained, "s1"), "pdf", "en")


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_a_mistyped_pdf_font_path_is_named(trained, monkeypatch, tmp_path, lang):
    """It said 'install fonts-ipaexfont-gothic or set DCPOC_PDF_FONT' to a user who had set it
    (and had the font): the path was mistyped."""
    from dcpoc.ui.i18n import t
    missing = str(tmp_path / "missing.ttf")
    monkeypatch.setenv(report.PDF_FONT_ENV, missing)
    with pytest.raises(report.ReportError) as caught:
        report.render(load_decision(trained, "s1"), "pdf", lang)
    assert str(caught.value) == t("rep.font_no_file", lang).format(path=missing)
    assert "apt-get" not in str(caught.value)


def _latin_only_font(path):
    """A real TrueType file that draws only 'A' (fontTools' builder)."""
    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    builder = FontBuilder(1000, isTTF=True)
    builder.setupGlyphOrder([".notdef", "A"])
    builder.setupCharacterMap({ord("A"): "A"})
    pen = TTGlyphPen(None)
    pen.moveTo((0, 0)), pen.lineTo((500, 700)), pen.lineTo((1000, 0)), pen.closePath()
    builder.setupGlyf({".notdef": TTGlyphPen(None).glyph(), "A": pen.glyph()})
    builder.setupHorizontalMetrics({".notdef": (500, 0), "A": (1000, 0)})
    builder.setupHorizontalHeader(ascent=800, descent=-200)
    builder.setupNameTable({"familyName": "Latin Only", "styleName": "Regular"})
    builder.setupOS2(), builder.setupPost()
    builder.save(str(path))
    return path


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_pdf_refuses_a_font_that_is_not_one_or_draws_no_japanese(trained, monkeypatch, tmp_path, lang):
    """DCPOC_PDF_FONT at a text file failed inside fpdf2 (an internal error); at a Latin-only font it
    wrote a PDF whose Japanese was blank. Both are one sentence in the report's language now."""
    from dcpoc.ui.i18n import t
    sd = load_decision(trained, "s1")
    (tmp_path / "notes.ttf").write_text("not a font")
    for path, key in ((tmp_path / "notes.ttf", "rep.font_unreadable"),
                      (_latin_only_font(tmp_path / "latin.ttf"), "rep.font_not_japanese")):
        monkeypatch.setenv(report.PDF_FONT_ENV, str(path))
        with pytest.raises(report.ReportError) as caught:
            report.render(sd, "pdf", lang)
        assert str(caught.value).startswith(t(key, lang).split("{path}")[0].format(env=report.PDF_FONT_ENV))
        assert str(path) in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_pptx_has_a_verdict_slide_then_one_slide_per_section(trained, lang):
    from pptx import Presentation

    from dcpoc.ui.i18n import t
    sd = hostile(trained)
    data = report.render(sd, "pptx", lang)
    deck = Presentation(io.BytesIO(data))
    titles = [slide.shapes.title.text for slide in deck.slides]
    texts = pptx_texts(data)
    assert report.verdict_line(sd.decision, lang) in texts[0] and EVIL in texts[0]
    chart = deck.slides[titles.index(t("rep.chart", lang))]
    assert any(shape.shape_type == 13 for shape in chart.shapes)     # the chart picture
    repro = titles.index(t("rep.repro", lang))     # last but for the appendix of every run
    assert sd.runs["id"].iloc[0] in texts[repro]
    assert set(titles[repro + 1:]) <= {t("rep.glossary", lang), t("rep.appendix_runs", lang)}
    glossary = texts[titles.index(t("rep.glossary", lang))]     # the terms, read in one slide
    assert t("gloss.multiplier.name", lang) in glossary and t("gloss.methods.name", lang) in glossary
    for slide in deck.slides:                                        # nothing runs off a slide
        assert all(s.top + s.height <= deck.slide_height for s in slide.shapes), slide.shapes.title.text


@pytest.mark.parametrize("fmt", ["pdf", "pptx"])
def test_report_command_writes_pdf_and_pptx(trained, tmp_path, fmt):
    if fmt == "pdf":
        skip_without_pdf_tools()
    out = tmp_path / f"s1.{fmt}"
    done = run_cli("report", "--study", "s1", "--format", fmt, "--lang", "ja", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert out.read_bytes()[:4] == (b"%PDF" if fmt == "pdf" else b"PK\x03\x04")


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_markdown_has_the_next_step_with_its_cost_and_meeting_phrases(trained, lang):
    from dcpoc import studies
    from dcpoc.ui.i18n import duration, money
    sd = load_decision(trained, "s1")
    md = report.render(sd, "md", lang).decode()
    assert md.startswith(f"# s1{': ' if lang == 'en' else ' ｜ '}{report.verdict_line(sd.decision, lang)}")
    step = sd.next                          # one size, seeds 1 and 2: the next preset, same seeds
    assert step is not None and {r.preset for r in step.plan} == {"cpu-xs"}
    assert sorted(r.train.seed for r in step.plan) == [1, 1, 2, 2]
    assert step.estimate == studies.estimate_study(step.plan, step.device,
                                                   studies.measured_throughput(trained.list_runs()))
    line = report.next_step_line(sd, lang)
    assert line in md and money(step.estimate["cost_usd"]) in line
    assert duration(step.estimate["wall_s"], lang, estimate=True) in line
    assert ("Next step: run cpu-xs" if lang == "en" else "次のステップ：cpu-xs を") in line
    assert ("## Phrases for the meeting" if lang == "en" else "## 会議で使えるフレーズ") in md
    phrases = report.meeting_phrases(sd, lang)
    assert 3 <= len(phrases) <= 5 and all(f"- {p}" in md for p in phrases)
    row = sd.decision.equal_tokens.iloc[-1]
    low, high = f"{row['loss_low']:+.4f}", f"{row['loss_high']:+.4f}"
    diff = (f"{row['loss_diff']:+.4f}（{low}〜{high}）" if lang == "ja" else
            f"{row['loss_diff']:+.4f} ({low} to {high})" if min(row['loss_low'], row['loss_high']) < 0 else
            f"{row['loss_diff']:+.4f} ({low}–{high})")
    assert diff in phrases[1]                                   # the result with its interval
    assert f"{len(sd.runs)}" in phrases[0] and ("1, 2" if lang == "en" else "1、2") in phrases[0]
    assert report.verdict_line(sd.decision, lang) in phrases[-2]
    assert money(step.estimate["cost_usd"]) in phrases[-1]
    page = report.render(sd, "html", lang).decode()
    assert html.escape(line) in page and html.escape(phrases[1]) in page


def test_markdown_escape_keeps_versions_and_prices_readable_and_user_text_inert():
    from dcpoc.report.markdown import md_escape
    assert md_escape("torch 2.13.0, 2026-11-29") == "torch 2.13.0, 2026-11-29" and md_escape("2.50") == "2.50"
    assert md_escape("1. first\n# not a heading *bold*") == "1\\. first # not a heading \\*bold\\*"
    assert md_escape("- item") == "\\- item" and md_escape("[x](javascript:1)") == "\\[x\\]\\(javascript:1\\)"


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_every_format_carries_the_inference_benchmark(trained, lang):
    from dcpoc.bench_infer import bench_infer
    result = bench_infer("tiny", new_tokens=4, device="cpu", rounds=1)     # a real measurement
    sd = load_decision(trained, "s1")
    assert report.inference_text(None, lang) in report.render(sd, "md", lang).decode()
    sd.inference = result
    line = report.inference_text(result, lang)
    rows = {r["arch"]: r for r in result["rows"]}
    ratio = rows["transformer"]["latency_p50_ms"] / rows["dcformer"]["latency_p50_ms"]
    assert f"{ratio:.2f}" in line                     # the medians' ratio: the numbers beside it agree
    for arch in ("dcformer", "transformer"):          # not medians alone
        assert f"{rows[arch]['latency_p50_ms']:.2f}" in line and f"{rows[arch]['latency_p95_ms']:.2f}" in line
    assert ("plain" in line and "thread" in line) or ("QK-norm なし" in line and "スレッド" in line)
    assert line in report.render(sd, "md", lang).decode()
    assert html.escape(line) in report.render(sd, "html", lang).decode()
    assert "".join(line.split()) in "".join("".join(pptx_texts(report.render(sd, "pptx", lang))).split())


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_every_format_sets_the_paper_beside_the_study_and_the_gap_over_training(trained, tmp_path, lang):
    from dcpoc.ui.i18n import t
    skip_without_pdf_tools()
    sd = load_decision(trained, "s1")
    assert sd.paper is not None and sd.paper.finding == "cannot"       # tiny runs: far below 405M
    wanted = [t("paper.title", lang), t("paper.claim.multiplier", lang), t("paper.claim.throughput", lang),
              t("paper.col.paper", lang), "0.45", "2.37", t("gap.title", lang)]
    texts = every_format_text(sd, lang, tmp_path)
    for fmt, text in texts.items():
        assert all(w in text for w in wanted), (fmt, [w for w in wanted if w not in text])
    assert t("paper.overall.cannot", lang) in texts["md"] and t("paper.finding.cannot", lang) in texts["html"]
    assert t("paper.note.throughput", lang) in texts["md"]


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_every_format_states_the_validation_tokens(trained, lang):
    """s1's tiny runs score a fixed 4,096-token sample of pydoc's validation split (the tiny
    preset's val_tokens); the report says so in the reproducibility section."""
    sd = load_decision(trained, "s1")
    (tokens, split), = sd.val_tokens
    assert tokens == 4096 and split > tokens
    line = report.validation_text(sd.val_tokens, lang)
    assert "4,096" in line and f"{split:,}" in line
    assert line in report.render(sd, "md", lang).decode()
    assert html.escape(line) in report.render(sd, "html", lang).decode()


def test_validation_text_names_whole_split_mixed_and_unrecorded_counts():
    assert "whole validation split" in report.validation_text(((40832, 40832),), "en")
    assert "different numbers" in report.validation_text(((4096, 40832), (40832, 40832)), "en")
    assert "not recorded" in report.validation_text((), "en")
    assert "40,832" in report.validation_text(((40832, 40832),), "ja")


def test_the_footer_lists_seeds_as_numbers_in_the_readers_language():
    """Seeds 2 and 11 in number order (as text 11 would come first); lists and the key-value
    separator as Japanese writes them."""
    from types import SimpleNamespace

    import pandas as pd
    from dcpoc.report.blocks import footer
    runs = pd.DataFrame({"id": ["ra", "rb", "rc"], "seed": [11.0, 2.0, None], "device": ["cpu"] * 3,
                         "git_commit": ["abc", "abc", "def"], "arch": ["dcformer"] * 3,
                         "attn_path": ["torch"] * 3})
    sd = SimpleNamespace(runs=runs, created="2026-12-07 08:00 UTC")
    en, ja = dict(footer(sd, "en")), dict(footer(sd, "ja"))
    assert en["seeds"] == "2, 11" and en["runs"] == "ra, rb, rc" and en["commit"] == "abc, def"
    assert ja["シード"] == "2、11" and ja["コミット"] == "abc、def"


def test_pptx_continues_what_does_not_fit_on_a_slide_of_the_same_title():
    """A long Japanese paragraph, then a table of wrapped rows taller than a slide: nothing runs
    off a slide; the table goes on under its header repeated, on slides with the section's title."""
    from pptx import Presentation
    from pptx.util import Emu

    from dcpoc.report.blocks import Bullets, Heading, Paragraph, Table, Title
    from dcpoc.report.pptx import to_pptx
    cell = "合成前のクエリ側の重みが効いている区間の検証損失の差（95% 信頼区間）" * 2
    frame = pd.DataFrame({"モデルサイズ": [f"cpu-{i}" for i in range(24)], "説明": [cell] * 24,
                          "値": [f"{i / 7:.4f}" for i in range(24)]})
    bullets = Bullets(tuple(("", "確認ステージの実行がまだ終わっていないため、" * 5) for _ in range(14)))
    blocks = [Title("s", "条件付き", "", "2026-12-07 12:00 UTC"), Heading("効果の出どころ"),
              Paragraph("計算量倍率の区間は広く、" * 40), Table(frame), bullets]
    deck = Presentation(io.BytesIO(to_pptx(blocks)))
    slides = list(deck.slides)[1:]
    assert len(slides) >= 3 and {s.shapes.title.text for s in slides} == {"効果の出どころ"}
    tables = [shape.table for s in slides for shape in s.shapes if shape.has_table]
    assert len(tables) >= 2 and sum(len(t.rows) - 1 for t in tables) == 24
    assert {t.cell(0, 1).text for t in tables} == {"説明"}
    texts = [p.text for s in slides for shape in s.shapes if shape.has_text_frame and shape != s.shapes.title
             for p in shape.text_frame.paragraphs]
    assert sum(text.startswith("• 確認ステージ") for text in texts) == 14   # every bullet, on its slides
    for slide in deck.slides:
        for shape in slide.shapes:
            bottom = shape.top + (sum(r.height for r in shape.table.rows) if shape.has_table else shape.height)
            assert Emu(bottom).inches <= 7.5, slide.shapes.title.text


def assert_laid_out(data: bytes, lang: str) -> None:
    """Every slide of the deck: each shape inside the slide; the title a box of real height below
    the slide's top edge, above the content; no two shapes overlapping; every text box wrapping;
    a chart alone on its slide at least half the slide wide; no continuation slide holding one
    line alone. A Japanese deck's runs (tables' too) say ja-JP and name a Japanese typeface; an
    English deck's name none."""
    from itertools import combinations

    from pptx import Presentation
    from pptx.enum.shapes import MSO_SHAPE_TYPE
    from pptx.oxml.ns import qn
    deck = Presentation(io.BytesIO(data))
    width, height = deck.slide_width, deck.slide_height
    previous = None
    for slide in deck.slides:
        title, shapes = slide.shapes.title, list(slide.shapes)
        where = (title.text, [shape.name for shape in shapes])
        assert 0 < title.top and title.height > 0 and title.top + title.height < height, where
        assert abs(title.left + title.width / 2 - width / 2) < width / 100, where   # centred
        for shape in shapes:
            assert shape.left >= 0 and shape.top >= 0, where
            assert shape.left + shape.width <= width and shape.top + shape.height <= height, where
            assert not shape.has_text_frame or shape.text_frame.word_wrap, where
        for a, b in combinations(shapes, 2):      # 9 EMU to spare: inches rounded to whole EMU
            apart = (a.left + a.width <= b.left + 9 or b.left + b.width <= a.left + 9
                     or a.top + a.height <= b.top + 9 or b.top + b.height <= a.top + 9)
            assert apart, (where, a.name, b.name)
        content = [shape for shape in shapes if shape != title]
        if len(content) == 1 and content[0].shape_type == MSO_SHAPE_TYPE.PICTURE:
            assert content[0].width >= width / 2, where
        if title.text == previous and len(content) == 1 and content[0].has_text_frame:
            assert len(content[0].text_frame.paragraphs) > 1, where    # a lone line, continued
        previous = title.text
        frames = [shape.text_frame for shape in shapes if shape.has_text_frame]
        frames += [cell.text_frame for shape in shapes if shape.has_table
                   for cell in shape.table.iter_cells()]
        for run in (run for frame in frames for paragraph in frame.paragraphs for run in paragraph.runs):
            props = run._r.find(qn("a:rPr"))
            ea = props.find(qn("a:ea")) if props is not None else None
            if lang == "ja":
                assert props.get("lang") == "ja-JP" and ea is not None and ea.get("typeface"), run.text
            else:
                assert ea is None and (props is None or props.get("lang") != "ja-JP"), run.text


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_every_slide_of_the_reference_deck_is_laid_out_inside_it(reference, lang):
    """The reviewer's reading of the deck: section titles of no height on the slide's top edge, a
    4:3 title slide whose question ran into the note under it, the trade-off chart a 2.8-inch
    thumbnail alone on its slide, the fit's formula alone on a 'Key numbers' slide, Japanese runs
    with no language."""
    from pptx import Presentation
    from pptx.util import Inches

    from dcpoc.ui.i18n import t
    data = report.render(reference, "pptx", lang)
    assert_laid_out(data, lang)
    slides = list(Presentation(io.BytesIO(data)).slides)
    subtitle = slides[0].placeholders[1]
    assert reference.question and subtitle.text_frame.paragraphs[1].runs[0].font.size.pt <= 24
    chart = [s for s in slides if s.shapes.title.text == t("rep.chart", lang)][0]
    picture = [shape for shape in chart.shapes if shape.shape_type == 13][0]
    assert picture.height >= Inches(5)
    # the four answers and the table take two slides; the formula stays with the table's note
    metrics = [slides.index(s) for s in slides if s.shapes.title.text == t("rep.metrics", lang)]
    texts = pptx_texts(data)
    assert 1 <= len(metrics) <= 2 and "L = E + A·C^-α" in texts[metrics[-1]]
    assert t("dec.table_note", lang)[:10] in texts[metrics[-1]]


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_a_question_of_the_longest_allowed_length_stays_on_the_title_slide(lang):
    """The subtitle held the whole question at 32 points and ran into the note under it."""
    from dcpoc.report.blocks import Heading, Paragraph, Title
    from dcpoc.report.pptx import to_pptx
    from dcpoc.ui.launch_form import MAX_QUESTION_LENGTH
    verdict, question, note = {
        "en": ("CONDITIONAL: no gain shown yet, leaning against", "Same loss for less compute? ",
               "Recorded results, imported: measured on 2026-12-06. "),
        "ja": ("条件付き：効果は未確認（見送り寄り）", "同じ計算量で損失は下がるか？",
               "記録済みの結果をインポートしたものです。")}[lang]
    question = (question * MAX_QUESTION_LENGTH)[:MAX_QUESTION_LENGTH]
    blocks = [Title("s" * 60, verdict, question, "2026-12-07 12:00 UTC"), Paragraph(note * 4),
              Heading("Key numbers")]
    assert_laid_out(to_pptx(blocks, lang), lang)


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_a_study_still_running_says_so_and_plans_nothing_yet(trained_copy, lang):
    """A report pulled mid-study read like a finished one: it counted queued runs as trained and
    planned runs that were already queued. Now it says how many are still to come, counts only
    trained runs, and plans the next step once they are done."""
    from dcpoc.config import make_config
    from dcpoc.runs.lifecycle import create_run
    from dcpoc.ui.i18n import t
    finished = load_decision(trained_copy, "s1")
    assert finished.next is not None and report.progress_text(finished.runs, lang) == ""
    for seed in (3, 4):
        create_run(trained_copy, make_config("dcformer", "tiny", seed=seed), study="s1")
    sd = load_decision(trained_copy, "s1")
    total, done = len(sd.runs), len(finished.runs)
    assert sd.next is None
    note = t("rep.in_progress", lang).format(done=done, total=total, active=2)
    md = report.render(sd, "md", lang).decode()
    assert note in md and md.index(note) < md.index("## ")          # under the title, first
    from dcpoc.report.text import listing
    tested = t("phrase.tested", lang).format(n=done, presets="tiny", seeds=listing([1, 2], lang))
    assert tested in md and report.next_step_line(sd, lang) == ""


def test_a_command_reads_as_code_in_html_and_without_backticks_in_pdf_and_pptx(trained, tmp_path):
    """Markdown's `code` marks showed as raw backticks in the PDF and the deck."""
    skip_without_pdf_tools()
    sd = load_decision(trained, "s1")
    command = "python -m dcpoc bench infer"
    assert f"`{command}`" in report.render(sd, "md", "ja").decode()
    assert f"<code>{command}</code>" in report.render(sd, "html", "ja").decode()
    for text in (pdf_text(report.render(sd, "pdf", "ja"), tmp_path),
                 "\n".join(pptx_texts(report.render(sd, "pptx", "ja")))):
        assert "`" not in text and command in "".join(text.split("\n"))


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_a_report_decided_with_other_thresholds_says_which(trained, lang):
    """The Report page decides with the Decision page's thresholds; the file says so, since the
    command line's report (defaults) could read otherwise."""
    from dcpoc.decision import Thresholds
    from dcpoc.ui.i18n import t
    plain = report.render(load_decision(trained, "s1"), "md", lang).decode()
    assert t("rep.thresholds", lang).split("{")[0] not in plain
    strict = Thresholds(go_net_low=1.5, min_seeds=3)
    md = report.render(load_decision(trained, "s1", strict), "md", lang).decode()
    assert t("rep.thresholds", lang).format(go=1.5, nogo=1.0, seeds=3, sizes=strict.min_sizes,
                                            go_sizes=strict.go_min_sizes) in md


def test_a_note_that_just_misses_a_slide_is_not_a_slide_of_its_own():
    """The Japanese deck's 'Key numbers' ran on to a slide holding only the fit's formula: a note
    that misses the room by a little goes smaller into the bottom margin; a long one still moves on."""
    from dcpoc.report.pptx import _BOTTOM, _Deck
    deck = _Deck()
    deck.section("Key numbers")
    deck.top = _BOTTOM - 0.3
    deck.text([("", "当てはめ：べき乗則（到達下限 E を含む、L = E + A·C^-α）。" * 3)], 11)
    assert len(deck.deck.slides) == 1
    deck.top = _BOTTOM - 0.3
    deck.text([("", "a much longer note " * 120)], 11)
    assert len(deck.deck.slides) == 2


def test_the_recorded_machine_reads_as_japanese():
    """'vm (cpu, AMD EPYC, 2 cores)' was left in English in the Japanese summary's opening line."""
    recorded = {"date": "2026-12-06", "machine": "vm (cpu, AMD EPYC, 2 cores)"}
    assert "ホスト vm（CPU、AMD EPYC、2 コア）で測定" in report.recorded_text(recorded, "ja")
    assert "on the host vm (cpu, AMD EPYC, 2 cores)" in report.recorded_text(recorded, "en")
    # the numbers are here (a table of them follows); the runs' files are what the import lacks
    assert "学習ログとチェックポイント" in report.recorded_text(recorded, "ja")
    assert "training logs and checkpoints" in report.recorded_text(recorded, "en")
    intel = {"date": "2026-12-06", "machine": "box (cpu, Intel(R) Xeon(R) Gold, 8 cores)"}
    assert "box（CPU、Intel(R) Xeon(R) Gold、8 コア）で測定" in report.recorded_text(intel, "ja")
    assert "box で測定" in report.recorded_text({"date": "d", "machine": "box"}, "ja")


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_the_shipped_inference_benchmark_reads_one_ratio_and_is_a_measured_risk(reference, lang):
    """The report said 0.81 (medians) and the Compare page 0.76 (the mean-based ratio an older
    result stored) for one benchmark; and the risks still asked to run `bench infer`."""
    from dcpoc.decision.inference import decode_speed_ratio
    from dcpoc.ui.page import inference_table
    result = reference.inference
    assert f"{result['dcformer_over_transformer']['decode_tokens_per_s']:.2f}" == "0.76"   # as stored
    assert f"{decode_speed_ratio(result):.2f}" == "0.81"
    md = report.render(reference, "md", lang).decode()
    assert "0.81" in report.inference_text(result, lang) and "0.76" not in report.inference_text(result, lang)
    [risk] = [r for r in reference.decision.risks if r[0].startswith("risk.inference")]
    line = report.say(risk, lang)
    assert risk[0] == "risk.inference_measured" and "0.81" in line and line in md
    assert ("測定済み" in line and "本番の GPU で再測定" in line) if lang == "ja" else \
        ("Measured on CPU" in line and "again on the production GPU" in line)
    table = inference_table(result, lang)
    decode = table.loc[table.index[1]]
    assert float(decode["DCFormer"].replace(",", "")) / float(decode["Transformer++"].replace(",", "")) \
        == pytest.approx(decode_speed_ratio(result), abs=1e-3)


def test_the_japanese_report_counts_in_man_and_oku_and_writes_ranges_with_a_wave_dash(reference):
    ja = report.render(reference, "md", "ja").decode()
    assert "パラメータ数：4 億 500 万" in ja and "学習トークン数：80 億" in ja      # the target
    assert "4 億 500 万・71 億" in ja and "パラメータ 91.5 万・学習トークン 419 万" in ja   # the scale gap
    assert not re.search(r"\d[KMB]\b", ja) and " – " not in ja
    assert re.search(r"\$\d+\.\d\d〜\$\d+\.\d\d", ja)                          # the cost range
    en = report.render(reference, "md", "en").decode()
    assert "Parameters: 405M" in en and "915K" in en and re.search(r"\$\d+\.\d\d – \$\d+\.\d\d", en)


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_the_risk_answer_says_where_the_risks_are(reference, lang):
    """The Overview said 'see the risks below' above no risk list: it names the Decision page; the
    report names its own section, which follows."""
    from dcpoc.ui.i18n import t
    (_, in_report), = [qa for qa in report.answers(reference.decision, lang) if qa[0] == t("dec.q3", lang)]
    (_, on_page), = [qa for qa in report.answers(reference.decision, lang, dashboard=True)
                     if qa[0] == t("dec.q3", lang)]
    assert t("dec.risks", lang) in in_report and t("nav.decision", lang) in on_page
    assert t("dec.risks", lang) not in on_page
    md = report.render(reference, "md", lang).decode()
    assert md.index(in_report) < md.index(f"## {t('dec.risks', lang)}")
    if lang == "ja":
        assert "「導入判断」ページ" in on_page and "後述の「リスクと対策」" in in_report


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_the_report_ends_with_its_terms_read_plainly(reference, lang):
    """The executive met 'Pareto front', 'Welch', 'winner's curse' with no reading of them."""
    from dcpoc.report.blocks import GLOSSARY
    from dcpoc.ui.i18n import t
    md = report.render(reference, "md", lang).decode()
    section = md.split(f"## {t('rep.glossary', lang)}")[1].split("\n## ")[0]
    lines = [line for line in section.splitlines() if line.startswith("- ")]
    assert len(lines) == len(GLOSSARY)
    body = md.split(f"## {t('rep.glossary', lang)}")[0].lower()
    for term in ("front", "winner", "interval"):                 # terms the report uses, defined
        assert t(f"gloss.{term}.name", lang).lower() in body
        assert any(line.startswith(f"- {t(f'gloss.{term}.name', lang)}") for line in lines)


def test_a_size_run_at_two_budgets_names_the_budget_in_every_table_row(dcpoc_home):
    """A study relaunched with other --steps has tiny at 20 and at 60 steps: the comparison rows
    (equal tokens and equal cost), the 2-seed caveat and the Markdown report say which budget each
    row is, as the Overview heads its cards ('tiny · 60 steps'); cpu-xs, at one budget, stays bare."""
    from dcpoc.report.evidence import evidence_lines
    from dcpoc.report.text import comparison_table
    from dcpoc.runs.store import Store
    store = Store()
    store_two_budget_study(store, "two")
    sd = load_decision(store, "two")
    en, ja = comparison_table(sd.decision, "en"), comparison_table(sd.decision, "ja")
    assert list(en["Preset"]) == ["tiny · 20 steps", "tiny · 60 steps", "cpu-xs"] * 2
    assert list(en["Compared at"]) == ["equal tokens"] * 3 + ["equal cost"] * 3
    assert list(ja["モデルサイズ"]) == ["tiny · 20 ステップ", "tiny · 60 ステップ", "cpu-xs"] * 2
    two_seeds = [line for line in evidence_lines(sd.decision, "en") if line.startswith("Unreliable")]
    assert two_seeds[0].startswith("Unreliable interval at tiny · 20 steps, tiny · 60 steps, cpu-xs:")
    md = report.render(sd, "md", "en").decode()
    assert "| tiny · 20 steps | equal tokens |" in md and "| tiny · 60 steps | equal cost |" in md
    assert "| tiny | equal" not in md
    # one budget per size: the bare preset, as before
    store_two_size_study(store, "one")
    assert list(comparison_table(load_decision(store, "one").decision, "en")["Preset"]) == ["tiny", "cpu-xs"]
