"""PDF line breaking and table columns (report/pdf.py): Japanese text fills its lines and follows
the line-start and line-end rules, Latin words and numbers stay whole, and fpdf2 draws the lines we
measured (it re-wraps nothing). Measured in the real embedded font."""
import pytest

from dcpoc.report.pdf import (_chunks, _segments, _words, cjk_font, column_bounds, column_widths,
                              lay_out_table, wrap_lines)

from conftest import skip_without_pdf_tools

JA = ("計算量倍率 0.97×（0.78〜1.15）、速度比 0.83× を掛けた正味の効果は 0.90× です。GO には下限が "
      "1.10 を超える必要があり、上限が 1.00 を下回れば NO-GO（見送り）です。Transformer++ + QK-norm "
      "と比べて、DCFormer の検証損失の差は +0.0057（95% 区間 -0.0039〜+0.0152）でした。")
NO_START = "、。）」〜ー"


def test_chunks_break_between_japanese_characters_but_keep_words_and_numbers_whole():
    assert _chunks("速度比 0.83× です。") == ["速", "度", "比 ", "0.83× ", "で", "す。"]
    assert _chunks("DCFormer の損失") == ["DCFormer ", "の", "損", "失"]
    assert _chunks("（見送り）です") == ["（見", "送", "り）", "で", "す"]   # no break after （ or before ）
    assert "".join(_chunks(JA)) == JA
    assert not any(c.startswith("。") for c in _chunks("値は 0.90× 。"))   # nor after a space


def test_wrapped_lines_fit_and_keep_the_japanese_line_rules():
    text = wrap_lines(JA, 24, len)
    lines = text.split("\n")
    assert all(len(line) <= 24 for line in lines) and len(lines) > 5
    assert all(line and line[0] not in NO_START and line[-1] != "（" for line in lines)
    longest = max(map(len, _chunks(JA)))
    assert all(len(line) > 24 - longest for line in lines[:-1])          # filled: greedy
    assert text.replace("\n", "").replace(" ", "") == JA.replace(" ", "")   # nothing lost
    for word in ("Transformer++", "QK-norm", "DCFormer", "+0.0057", "-0.0039〜"):
        assert any(word in line for line in lines), word
    assert wrap_lines("一行目\n二行目", 100, len) == "一行目\n二行目"    # given breaks stay


def test_a_heading_breaks_between_words_not_inside_one():
    """Japanese headings broke mid-word (モデルサイ / ズ, シー / ド数) beside a wide column."""
    assert _words("パープレキシティの差（95% 信頼区間）") == ["パープレキシティの差", "（95% ", "信頼区間）"]
    assert _words("モデルサイズ") == ["モデルサイズ"]
    assert wrap_lines("パープレキシティの差（95% 信頼区間）", 12, len, keep="words") == \
        "パープレキシティの差\n（95% 信頼区間）"
    assert wrap_lines("モデルサイズ", 6, len, keep="words") == "モデルサイズ"
    # a word wider than the column still breaks, at the usual Japanese break points
    assert wrap_lines("モデルサイズ", 4, len, keep="words") == "モデルサ\nイズ"


def _runs_of_whole(pieces: list[str], text: str) -> bool:
    """Whether each of text's lines is a run of whole pieces, in order (no piece broken)."""
    rest = list(pieces)
    for line in text.split("\n"):
        taken = ""
        while rest and len(taken.strip()) < len(line):
            taken += rest.pop(0)
        if taken.strip() != line:
            return False
    return not rest


PROSE = ("本調査の最大サイズは論文の最小サイズの 443 分の 1 しかなく、比較できる限度（100 分の 1）より小さすぎます。"
         "CPU（dcpoc の PyTorch 実装）での測定のため、4 億 500 万パラメータ・1 万 3500 ステップでは判断できません。")


def test_segments_end_after_a_particle_and_keep_words_and_numbers_whole():
    assert _segments("DCMHA の上乗せ") == ["DCMHA ", "の", "上乗せ"]
    assert _segments("比較できる限度（100 分の 1）より小さすぎます。") == \
        ["比較できる", "限度", "（100 ", "分の ", "1）", "より", "小さすぎます。"]
    assert _words("1 万 3500 ステップ") == ["1 万 ", "3500 ", "ステップ"]      # one number
    assert "".join(_segments(PROSE)) == PROSE


def test_a_table_value_breaks_between_words_not_inside_one():
    """The PDF broke 「DCMHA の上乗せ」 as 「DCMHA の上乗 / せ」: body text may break between any two
    Japanese characters, a table value only between segments where they fit."""
    assert wrap_lines("DCMHA の上乗せ", 9, len) == "DCMHA の上乗\nせ"                # body text
    assert wrap_lines("DCMHA の上乗せ", 9, len, keep="segments") == "DCMHA の\n上乗せ"
    assert wrap_lines("DCMHA の上乗せ", 2, len, keep="segments") == "DCMHA\nの上\n乗せ"  # 上乗せ cannot fit
    for width in (10, 14, 20, 30):
        text = wrap_lines(PROSE, width, len, keep="segments")
        # only a segment wider than the line (500 万パラメータ・ in 10) breaks inside
        pieces = [p for s in _segments(PROSE) for p in ([s] if len(s.rstrip()) <= width else _chunks(s))]
        assert _runs_of_whole(pieces, text), text
        assert all(len(line) <= width for line in text.split("\n")), text
        for word in ("限度", "測定のため、", "小さすぎます。", "判断できません。"):
            assert word in text.replace("\n", "|"), word


def test_a_piece_wider_than_the_line_is_left_whole_for_fpdf2_to_cut():
    assert wrap_lines("https://example.com/a/very/long/path", 10, len) == \
        "https://example.com/a/very/long/path"


def test_fpdf2_draws_the_lines_we_measured_and_they_are_full():
    skip_without_pdf_tools()
    from fpdf import FPDF
    pdf = FPDF(format="A4")
    pdf.add_font("cjk", "", cjk_font("ja"))
    pdf.add_page()
    pdf.set_font("cjk", size=9.5)
    width = pdf.epw - 2 * pdf.c_margin - 0.05
    ours = wrap_lines(JA * 2, width, pdf.get_string_width).split("\n")
    drawn = pdf.multi_cell(0, 5, "\n".join(ours), dry_run=True, output="LINES")
    assert drawn == ours and len(ours) >= 4
    assert all(pdf.get_string_width(line) > 0.85 * width for line in ours[:-1])   # a Latin word may wrap whole


def test_columns_get_their_values_width_when_the_page_allows_and_never_less_than_their_least():
    assert column_widths([10, 10], [20, 40], 120) == [40, 80]           # room to spare: scaled up
    wide = column_widths([10, 20, 10], [15, 200, 30], 100)
    assert sum(wide) == pytest.approx(100) and wide[0] >= 10 and wide[2] >= 10
    assert wide[1] > wide[2] > wide[0]                                   # shared by what each wants
    squeezed = column_widths([60, 60], [80, 90], 100)                    # even the leasts overflow
    assert squeezed == [50, 50]
    # a column that wants little gets all it wants (a heading on two lines, not three), the
    # others share the rest in proportion
    widths = column_widths([10, 10, 10], [12, 100, 60], 100)
    assert widths[0] == 12 and widths[1] == pytest.approx(10 + 68 * 90 / 140)


BREAKDOWN = [["モデルサイズ", "内訳", "比較", "シード対の数", "検証損失の差（95% 区間）", "速度（トークン/秒の比）"],
             ["cpu-xs", "QK-norm", "Transformer++ + QK-norm − Transformer++", "3", "-0.0763（-0.1655〜+0.0129）",
              "0.90×"],
             ["cpu-xs", "DCMHA の上乗せ", "DCFormer − （Transformer++ + QK-norm）", "3",
              "-0.0744（-0.4001〜+0.2514）", "0.75×"],
             ["cpu-xs", "合計", "DCFormer − Transformer++", "3", "-0.1507（-0.4512〜+0.1498）", "0.68×"]]


@pytest.mark.parametrize("page", [180, 140], ids=["A4", "narrow"])
def test_the_break_down_table_keeps_japanese_words_whole(page):
    """The report's break-down table, measured in the embedded font: 「DCMHA の上乗 / せ」 and a
    heading in three lines (速度 / （トークン/ / 秒の比）) on A4 before. A4 is 180 mm between the
    margins; at 140 mm the values must break, still between segments."""
    skip_without_pdf_tools()
    from fpdf import FPDF
    pdf = FPDF(format="A4")
    pdf.add_font("cjk", "", cjk_font("ja"))
    pdf.add_page()
    pdf.set_font("cjk", size=8)
    widths, cells = lay_out_table(BREAKDOWN, pdf.get_string_width, 2.25, page)
    assert sum(widths) == pytest.approx(page)
    for head, drawn in zip(BREAKDOWN[0], cells[0]):
        assert _runs_of_whole(_words(head), drawn), drawn
    for row, drawn_row in zip(BREAKDOWN[1:], cells[1:]):
        for value, drawn, width in zip(row, drawn_row, widths):
            assert _runs_of_whole(_segments(value), drawn), drawn
            assert all(pdf.get_string_width(line) <= width - 2.25 for line in drawn.split("\n"))
    assert "上乗せ" in cells[2][1].split("\n")[-1]
    if page == 180:
        assert cells[0][5] == "速度（トークン/\n秒の比）" and cells[2][1] == "DCMHA の上乗せ"
        assert all("\n" not in drawn for drawn in cells[0][:5])
    else:
        assert "\n" in cells[2][1]


def test_a_long_path_in_a_table_does_not_squeeze_the_numbers_beside_it(tmp_path):
    """A cell with one long unbreakable piece gets at most LEAST_SHARE of the page (fpdf2 cuts the
    piece); the numbers in the other columns stay whole. Read back with poppler's pdftotext."""
    skip_without_pdf_tools()
    import subprocess
    import pandas as pd
    from fpdf import FPDF
    from dcpoc.report.pdf import _Writer
    pdf = FPDF(format="A4")
    pdf.add_font("cjk", "", cjk_font("en"))
    pdf.add_font("cjk", "B", cjk_font("en"))
    pdf.add_page()
    path = "/data/" + "/".join(f"folder{i:02d}" for i in range(24)) + "/corpus.txt"
    frame = pd.DataFrame({"corpus": [path, "a\nb"], "loss": ["1.234", "2.5"], "ratio": ["0.97", "1.00"],
                          "note": ["一行目\n二行目", ""]})
    _Writer(pdf, "en").table(frame)
    (tmp_path / "t.pdf").write_bytes(bytes(pdf.output()))
    text = subprocess.run(["pdftotext", "-layout", str(tmp_path / "t.pdf"), "-"],
                          capture_output=True, text=True).stdout
    for value in ("1.234", "0.97", "2.5", "1.00", "一行目", "二行目"):
        assert value in text, (value, text)


def test_long_words_that_cannot_fit_whole_break_rather_than_squeeze_a_number():
    """Five columns of long kanji runs (one segment each) cannot all keep their words whole: they
    break where Japanese may, and the number column keeps its own width (scaling every column
    alike cut 123456 mid-digits)."""
    long_run = "大規模言語模型比較実験結果一覧表計算資源大規模言語模型比較実験"
    rows = [["n", "a", "b", "c", "d", "e"], ["123456"] + [long_run] * 5]
    width = lambda text: len(text) + 2      # noqa: E731
    least, most = column_bounds(rows, width, 100)
    assert sum(least) <= 100
    assert column_widths(least, most, 100)[0] >= width("123456")
