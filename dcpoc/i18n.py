"""UI and report strings in English and Japanese. Every visible string of the app comes from here."""
from __future__ import annotations

LANGUAGES = {"en": "English", "ja": "日本語"}

STRINGS: dict[str, dict[str, str]] = {
    "app.title": {"en": "dcpoc: DCFormer proof of concept",
                  "ja": "dcpoc: DCFormer 概念実証ワークベンチ"},
    "app.caption": {"en": "Does DCFormer give the same quality for less compute, at what speed cost, "
                          "and is it safe to adopt? Every number here comes from a real training run.",
                    "ja": "DCFormer は少ない計算量で同じ品質を出せるか、速度の代償はどれほどか、"
                          "導入して安全か。ここに示す数値はすべて実際の学習実行から得たものです。"},
    "sidebar.language": {"en": "Language", "ja": "言語"},
    "home.status_counts": {"en": "Runs by status", "ja": "ステータス別の実行数"},
    "home.latest": {"en": "Latest runs", "ja": "最近の実行"},
    "home.empty": {"en": "No runs yet. Start one from a terminal:",
                   "ja": "まだ実行がありません。ターミナルから開始してください:"},
    "home.db_error": {"en": "The database cannot be opened", "ja": "データベースを開けません"},
    "status.queued": {"en": "queued", "ja": "待機中"},
    "status.running": {"en": "running", "ja": "実行中"},
    "status.succeeded": {"en": "succeeded", "ja": "成功"},
    "status.failed": {"en": "failed", "ja": "失敗"},
    "status.cancelled": {"en": "cancelled", "ja": "キャンセル"},
    "col.id": {"en": "Run", "ja": "実行 ID"},
    "col.study": {"en": "Study", "ja": "スタディ"},
    "col.arch": {"en": "Architecture", "ja": "アーキテクチャ"},
    "col.preset": {"en": "Preset", "ja": "プリセット"},
    "col.status": {"en": "Status", "ja": "ステータス"},
    "col.seed": {"en": "Seed", "ja": "シード"},
    "col.step": {"en": "Step", "ja": "ステップ"},
    "col.total_steps": {"en": "Total steps", "ja": "総ステップ"},
    "col.val_loss": {"en": "Val loss (nats/byte)", "ja": "検証損失 (nats/byte)"},
    "col.perplexity": {"en": "Perplexity (per byte)", "ja": "パープレキシティ (バイト単位)"},
    "col.bits_per_byte": {"en": "Bits per byte", "ja": "ビット/バイト"},
    "col.tokens_per_s": {"en": "Tokens/s", "ja": "トークン/秒"},
    "col.peak_mem_mb": {"en": "Peak memory (MB)", "ja": "ピークメモリ (MB)"},
    "col.wall_s": {"en": "Wall time (s)", "ja": "経過時間 (秒)"},
    "col.cost_usd": {"en": "Cost ($)", "ja": "コスト ($)"},
    "col.diverged": {"en": "Diverged", "ja": "発散"},
    "col.corpus": {"en": "Corpus", "ja": "コーパス"},
}


def t(key: str, lang: str = "en") -> str:
    """The string for key in lang (English when the language lacks it)."""
    entry = STRINGS[key]
    return entry.get(lang) or entry["en"]


def column_labels(columns, lang: str) -> dict[str, str]:
    """Display names for table columns that have a translation."""
    return {c: t(f"col.{c}", lang) for c in columns if f"col.{c}" in STRINGS}
