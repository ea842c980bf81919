"""Every visible string exists in English and Japanese; the formatting helpers."""
import math
import re

import pytest

from dcpoc.config import DEVICES, RunConfig
from dcpoc.costs import DEFAULT_PRICES_USD_PER_HOUR
from dcpoc.decision.confirmation import FRESH_SEEDS_DECIDE
from dcpoc.decision.multiplier import LOGLINEAR_WHY
from dcpoc.decision.verdict import RISKS
from dcpoc.decision.views import RUNS_TABLE_COLUMNS, flatten
from dcpoc.report import FORMATS
from dcpoc.report.blocks import FOOTER_FIELDS, GLOSSARY
from dcpoc.runs.status import STATUSES
from dcpoc.studies import REFERENCE_STUDIES, SWEEPS
from dcpoc.ui.charts import COMPOSITION_NAMES
from dcpoc.ui.i18n import LANGUAGES, STRINGS, duration, failure_text, num, setting_label, setting_value, t
from dcpoc.ui.launch_form import BUDGET_KINDS

from conftest import REPO_ROOT

SOURCES = [REPO_ROOT / "app.py", *sorted((REPO_ROOT / "pages").glob("*.py")),
           *sorted((REPO_ROOT / "dcpoc").rglob("*.py"))]
# Keys built at run time (t(f"family.{name}")), by family.
DYNAMIC = ([f"status.{s}" for s in STATUSES] + [f"settings.device.{d}" for d in DEVICES]
           + [f"settings.kind.{k}" for k in DEFAULT_PRICES_USD_PER_HOUR]
           + [f"col.{c}" for c in RUNS_TABLE_COLUMNS]                  # page.show_runs
           + [f"col.{c}" for c in ("progress", "eta", "loss_trend", "cost_so_far_usd")]   # Runs
           + [f"launch.corpus.{c}" for c in ("pydoc", "stdlib", "path")]
           + [f"launch.budget.{b}" for b in BUDGET_KINDS]
           + [f"launch.start.{s}" for s in ("blank", *REFERENCE_STUDIES)]
           + [f"launch.sweep.{s}" for s in SWEEPS]
           + [f"rep.foot.{f}" for f in FOOTER_FIELDS]                     # report.blocks.footer
           + [f"dec.lr_note.{s}" for s in FRESH_SEEDS_DECIDE]              # report.text.lr_sweep_note
           + [f"launch.plan.stage{n}" for n in (1, 2)]
           + [f"launch.est.measured_{b}" for b in ("all", "some", "none")]   # Launch's estimate basis
           + [f"next.what.{w}_ladder" for w in ("sizes", "seeds", "confirm")]   # next_step._part
           + [f"launch.col.{c}" for c in ("stage", "preset", "arch", "seeds", "lr", "steps", "tokens")]
           + [f"launch.err.corpus_{r}" for r in ("empty", "no_dirs", "outside", "missing")]
           + [f"dec.verdict.{v}" for v in ("GO", "CONDITIONAL", "NO-GO", "INSUFFICIENT")]
           + ["dec.fit.power"] + [f"dec.fit.loglinear.{why}" for why in LOGLINEAR_WHY]
           + [f"dec.basis.{b}" for b in ("tokens", "cost")]
           + [f"risk.{name}" for name in RISKS]
           + [f"rep.format.{f}" for f in FORMATS]
           + [f"compare.by.{m}" for m in ("study", "runs")]
           + [f"gloss.{term}.{part}" for term in GLOSSARY for part in ("name", "what")]
           + [key for key in STRINGS if key.startswith("setting.")]   # i18n.setting_label; see below
           + [f"chart.bars.{f}" for f in ("tokens_per_s", "peak_mem_mb")]
           + [f"chart.axis.{f}" for f in ("tokens_per_s", "peak_mem_mb")]
           + [f"inspect.matrix.{n}" for n in COMPOSITION_NAMES]
           + [f"inspect.source.{s}" for s in ("text", "sample")]
           + [f"inspect.where.{w}" for w in ("at", "mean")]
           + [f"env.{f}" for f in ("git_commit", "device", "attn_path", "attn_reason", "host", "pid",
                                   "created_at", "started_at",
                                   "finished_at", "heartbeat_at", "corpus_spec",
                                   "corpus_fingerprint", "n_params", "flops_per_token", "mfu")])


def literal_keys() -> set[str]:
    keys = set()
    for path in SOURCES:
        text = path.read_text()
        keys |= set(re.findall(r'\bt\(\s*"([a-z_]+\.[a-z0-9_.\-]+)"', text))
        keys |= set(re.findall(r'"(launch\.err\.[a-z_]+)"', text))
        keys |= set(re.findall(r'"(nav\.[a-z]+)"', text))
    return keys


def quoted_keys() -> set[str]:
    """Catalogue keys written as a string anywhere in the sources, the catalogue's own entries
    ("key": {...}) excepted: t("key"), and keys handed on as data, e.g. a Reason ("need.seeds", {})."""
    text = "\n".join(path.read_text() for path in SOURCES)
    return {key for key in STRINGS
            if re.search(rf'"{re.escape(key)}"(?!\s*:\s*{{)|\'{re.escape(key)}\'', text)}


@pytest.mark.parametrize("key", sorted(literal_keys() | set(DYNAMIC)))
def test_every_used_key_is_translated(key):
    assert key in STRINGS, f"{key} is used but has no strings"
    for lang in LANGUAGES:
        assert STRINGS[key].get(lang, "").strip(), f"{key} lacks {lang}"


def test_every_catalogue_key_is_used():
    unused = sorted(set(STRINGS) - quoted_keys() - set(DYNAMIC))
    assert not unused, f"in dcpoc/ui/i18n.py but used nowhere (remove, or add its family to DYNAMIC): {unused}"


def test_japanese_strings_are_japanese_and_keep_the_placeholders():
    japanese = re.compile(r"[\u3000-\u30ff\u4e00-\u9fff\uff00-\uffef]")   # punctuation, kana, kanji, full-width forms
    for key, entry in STRINGS.items():
        assert set(re.findall(r"{(\w+)}", entry["en"])) == set(re.findall(r"{(\w+)}", entry["ja"])), key
        if not re.fullmatch(r"[A-Za-z0-9 ()/\-+]+", entry["en"]) or key.startswith("nav."):
            assert japanese.search(entry["ja"]), f"{key}: {entry['ja']!r} has no Japanese"


def test_t_falls_back_to_english():
    assert t("nav.runs", "fr") == "Runs" and t("nav.runs", "ja") == "実行一覧"


@pytest.mark.parametrize("seconds, en, ja", [
    (0, "0 s", "0 秒"), (0.4, "under 1 s", "1 秒未満"), (59, "59 s", "59 秒"), (65, "1 min 05 s", "1 分 05 秒"),
    (3725, "1 h 02 min", "1 時間 02 分"), (90000, "1 d 1 h", "1 日 1 時間"),
    (math.nan, "—", "—"), (None, "—", "—"), (-1, "—", "—")])
def test_duration(seconds, en, ja):
    assert duration(seconds, "en") == en and duration(seconds, "ja") == ja


def test_an_estimated_duration_drops_seconds_from_ten_minutes_on():
    assert duration(9 * 60 + 7, "en", estimate=True) == "9 min 07 s"
    assert duration(31 * 60 + 4, "en", estimate=True) == "31 min"
    assert duration(31 * 60 + 40, "ja", estimate=True) == "32 分"
    assert duration(2 * 3600 + 3 * 60 + 40, "ja", estimate=True) == "2 時間 04 分"
    assert duration(31 * 60 + 4, "ja") == "31 分 04 秒"   # a measured time keeps its seconds


def test_num():
    assert num(1.23456, ".2f") == "1.23" and num(math.nan) == "—" and num(None) == "—"
    assert num(0.7, ".2f", "×") == "0.70×"


@pytest.mark.parametrize("value, en, ja", [
    (915_234, "915K", "91.5 万"), (4.19e6, "4.19M", "419 万"), (4.05e8, "405M", "4 億 500 万"),
    (7.1e9, "7.1B", "71 億"), (8e9, "8B", "80 億"), (1.234e9, "1.23B", "12 億 3,000 万"), (5000, "5K", "5,000"),
    # 10M to 100M: 1,000 to 9,999 万 (a 3-digit format wrote 2.6e+03 万 for gpu-small)
    (14_359_680, "14.4M", "1,440 万"), (25_961_984, "26M", "2,600 万"), (85_348_608, "85.3M", "8,530 万"),
    (0, "—", "—"), (None, "—", "—"), (math.nan, "—", "—")])
def test_counts_read_in_the_readers_units(value, en, ja):
    """Parameters and tokens: K/M/B are English abbreviations; a Japanese reader counts in 万 and 億."""
    from dcpoc.ui.i18n import count_text
    assert count_text(value, "en") == en and count_text(value, "ja") == ja


def test_money_and_hours():
    from dcpoc.ui.i18n import hours, money
    assert money(1234.5) == "$1,234.50" and money(0.004) == "< $0.01" and money(0) == "$0.00"
    assert money(math.nan) == "—" and hours(0.001) == "< 0.01" and hours(2.5) == "2.50"
    assert duration(0.2, "ja") == "1 秒未満"


def test_recorded_attention_reasons_read_in_the_readers_language():
    from dcpoc.kernels.selfcheck import decide
    from dcpoc.ui.i18n import attention_reason
    _, slower = decide(True, None, 2.0, 1.0)
    _, failed = decide(False, "output differs by 3e-1", None, None)
    for reason, ja in ((slower, "このデバイスでは Triton の方が低速："),
                       (failed, "セルフチェックに失敗したため PyTorch 実装：output differs by 3e-1"),
                       ("CPU: the PyTorch path", "CPU のため PyTorch 実装"),
                       ("attn_impl=torch set in the config", "設定で attn_impl=torch が指定されています")):
        assert attention_reason(reason, "en") == reason
        assert attention_reason(reason, "ja").startswith(ja), attention_reason(reason, "ja")
    both = f"attn_impl=triton set in the config; {slower}"
    assert attention_reason(both, "ja").startswith("設定で attn_impl=triton が指定されています。このデバイス")
    assert attention_reason("a reason from a newer dcpoc", "ja") == "a reason from a newer dcpoc"
    assert attention_reason(None, "ja") == "—"


def test_device_kinds_read_as_people_write_them():
    from dcpoc.ui.i18n import kind_label
    assert kind_label("h100", "en") == "H100" and kind_label("other-gpu", "ja") == "その他の GPU"
    assert kind_label("tpu-v5", "ja") == "tpu-v5"   # not in the price table: as given


def test_headline_interval_captions():
    from dcpoc.decision import Interval
    from dcpoc.report.text import interval_caption
    assert interval_caption(Interval(1.0, 0.5, 1.5, 3), ".2f", "en") == "95% interval 0.50–1.50"
    assert interval_caption(Interval(1.0, 0.5, 1.5, 3), ".2f", "ja") == "95% 区間 0.50〜1.50"
    assert interval_caption(Interval(1.0, None, None, 1), ".2f", "ja") == "区間なし"
    assert interval_caption(Interval(math.nan, None, None, 0), ".2f", "en") == ""
    assert interval_caption(None, ".2f", "en") == ""


def test_config_settings_are_worded_for_the_reader():
    assert setting_label("model.qk_norm", "en") == "QK-norm (model.qk_norm)"
    assert setting_label("train.lr", "ja") == "学習率 (train.lr)"
    assert setting_label("model.no_such_key", "ja") == "model.no_such_key"      # not in the catalogue: the key
    assert setting_value("model.qk_norm", True, "ja") == "あり"
    assert setting_value("model.dc_static", False, "en") == "no"
    assert setting_value("model.arch", "transformer", "en") == "Transformer++"
    assert setting_value("train.extra", None, "en") == "(not set)"
    assert setting_value("train.lr", 0.001, "en") == "0.001"
    assert setting_value("train.seed", 0, "en") == "0"               # 0 is a value, not missing


def test_every_worded_setting_is_a_real_config_key():
    keys = set(flatten(RunConfig().to_dict()))
    named = {key.removeprefix("setting.") for key in STRINGS if key.startswith("setting.")}
    assert named <= keys, f"not config keys: {sorted(named - keys)}"


def test_every_config_key_has_a_name_in_both_languages():
    """The Compare page's settings table names each differing key (ckpt_every had none)."""
    import dataclasses

    from dcpoc.config import ModelConfig, TrainConfig
    keys = [f"{section}.{f.name}" for section, cls in (("model", ModelConfig), ("train", TrainConfig))
            for f in dataclasses.fields(cls)]
    unnamed = [key for key in keys if f"setting.{key}" not in STRINGS]
    assert not unnamed, unnamed
    assert setting_label("train.ckpt_every", "ja") == "チェックポイントの間隔（ステップ） (train.ckpt_every)"


def test_japanese_text_uses_full_width_colons():
    """A colon in Japanese text is the full-width ：, never ': ' (the Japanese reviews' rule); the
    product's name 'dcpoc: DCFormer' is a name."""
    import re
    from dcpoc.ui.i18n import STRINGS
    half_width = re.compile(r"[:;] |[:;]$|(?<=[\u3000-\u30ff\u4e00-\u9fff]):")   # 'x: ', a last ':', '字:'
    assert [k for k, v in STRINGS.items() if half_width.search(v.get("ja", "")) and k != "app.title"] == []


def test_a_recorded_failure_is_said_in_the_readers_language_with_the_buttons_it_can_use():
    lost = ("lost: its process (pid 23104) ended without a word (killed, or out of memory); resume it: "
            "python -m dcpoc train --resume r677912d17c\nstep 40 | loss 2.1")
    ja = failure_text(lost, restartable=True, has_checkpoint=True, lang="ja")
    assert ja.startswith("学習プロセスが応答のないまま停止しました（強制終了、またはメモリ不足）。下の「チェックポイントから再開」")
    assert ja.endswith("（英語）：" + lost.splitlines()[0])          # the first line only; the tail below
    en = failure_text(lost, restartable=True, has_checkpoint=False, lang="en")
    assert "stopped without a word" in en and "“Retry from scratch” below starts a new run" in en
    assert failure_text("killed: it did not stop within 5 s of the cancel request", False, True,
                        "en").startswith("It was cancelled, and killed")
    assert failure_text("SLURM job 42 was cancelled (scancel); resume or retry it", True, True,
                        "ja").startswith("SLURM ジョブが取り消されました")
    other = failure_text("RuntimeError: boom", restartable=False, has_checkpoint=False, lang="en")
    assert other == "Training stopped with an error.\n\nRecorded message: RuntimeError: boom"   # no button offered
