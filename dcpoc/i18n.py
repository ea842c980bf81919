"""UI and report strings in English and Japanese. Every visible string of the app comes from here."""
from __future__ import annotations

import math

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
    "home.empty": {"en": "No runs yet. Launch a study from the browser to get the first numbers.",
                   "ja": "まだ実行がありません。ブラウザからスタディを開始して最初の数値を得ましょう。"},
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
    "col.progress": {"en": "Progress", "ja": "進捗"},
    "col.eta": {"en": "Time left", "ja": "残り時間"},
    "col.loss_trend": {"en": "Train loss trend", "ja": "学習損失の推移"},
    "col.cost_so_far_usd": {"en": "Cost so far ($)", "ja": "現在までのコスト ($)"},

    "nav.home": {"en": "Overview", "ja": "概要"},
    "nav.launch": {"en": "Launch a study", "ja": "スタディを開始"},
    "nav.runs": {"en": "Runs", "ja": "実行一覧"},
    "nav.compare": {"en": "Compare", "ja": "比較"},
    "nav.settings": {"en": "Settings", "ja": "設定"},

    "login.title": {"en": "Sign in", "ja": "サインイン"},
    "login.password": {"en": "Password", "ja": "パスワード"},
    "login.submit": {"en": "Sign in", "ja": "サインイン"},
    "login.wrong": {"en": "That password is not correct.", "ja": "パスワードが正しくありません。"},

    "home.empty_cli": {"en": "Or, from a terminal:", "ja": "またはターミナルから:"},
    "home.go_launch": {"en": "Launch your first study", "ja": "最初のスタディを開始する"},
    "home.verdict": {"en": "Verdict: not decided yet", "ja": "判定: まだ出ていません"},
    "home.verdict_placeholder": {
        "en": "Placeholder: the GO / CONDITIONAL / NO-GO rule (seed statistics, compute multiplier) "
              "comes in a later release. Below are the raw headline numbers from finished runs: "
              "mean final validation loss of each architecture per preset, and their speed ratio.",
        "ja": "仮表示です。GO / 条件付き / NO-GO の判定ルール（シード間の統計、計算量倍率）は今後の"
              "リリースで追加されます。以下は完了した実行から得た主要な数値です。プリセットごとの各アーキ"
              "テクチャの最終検証損失の平均と、速度の比です。"},
    "home.no_results": {"en": "No finished run with a validation loss yet.",
                        "ja": "検証損失のある完了済みの実行はまだありません。"},
    "home.n_runs": {"en": "{tf} Transformer++ runs, {dc} DCFormer runs",
                    "ja": "Transformer++ {tf} 件、DCFormer {dc} 件"},
    "home.loss_of": {"en": "{arch} val loss", "ja": "{arch} の検証損失"},
    "home.loss_diff": {"en": "Loss difference", "ja": "損失の差"},
    "home.loss_diff_help": {"en": "DCFormer's loss minus Transformer++'s. Negative means DCFormer "
                                  "reaches a lower (better) loss.",
                            "ja": "DCFormer の損失から Transformer++ の損失を引いた値。マイナスなら "
                                  "DCFormer の損失が低い（良い）ことを意味します。"},
    "home.speed_ratio": {"en": "Speed ratio", "ja": "速度比"},
    "home.speed_ratio_help": {"en": "Training tokens per second of DCFormer divided by Transformer++'s; "
                                    "below 1 means DCFormer trains slower.",
                              "ja": "DCFormer の学習トークン/秒を Transformer++ のもので割った値。"
                                    "1 未満なら DCFormer の学習が遅いことを意味します。"},
    "home.start": {"en": "Where to start", "ja": "はじめに"},
    "home.start_text": {
        "en": "1. **Launch a study**: pick presets, both architectures and a few seeds; the estimate "
              "shows time and cost before anything runs.\n2. **Runs**: watch progress live, cancel "
              "or resume.\n3. **Compare**: quality against tokens, time and money.\n4. **Settings**: "
              "your GPU prices.",
        "ja": "1. **スタディを開始**: プリセット、両アーキテクチャ、いくつかのシードを選びます。実行前に"
              "所要時間とコストの見積もりが表示されます。\n2. **実行一覧**: 進捗をリアルタイムで確認し、"
              "キャンセルや再開ができます。\n3. **比較**: トークン数・時間・費用に対する品質を比較します。"
              "\n4. **設定**: GPU の価格を設定します。"},

    "launch.title": {"en": "Launch a study", "ja": "スタディを開始"},
    "launch.hardware_gpu": {"en": "This server has a GPU ({gpu}): every preset is offered.",
                            "ja": "このサーバーには GPU（{gpu}）があります。すべてのプリセットを選べます。"},
    "launch.hardware_cpu": {"en": "This server has no GPU: only the CPU presets are offered.",
                            "ja": "このサーバーには GPU がないため、CPU 向けのプリセットのみ選べます。"},
    "launch.name": {"en": "Study name", "ja": "スタディ名"},
    "launch.name_hint": {"en": "e.g. dcformer-vs-transformer-june", "ja": "例: dcformer比較-6月"},
    "launch.question": {"en": "Question this study answers", "ja": "このスタディで答えたい問い"},
    "launch.question_hint": {"en": "e.g. Does DCFormer reach the same loss with less compute on our data?",
                             "ja": "例: 自社データで DCFormer は少ない計算量で同じ損失に達するか？"},
    "launch.corpus": {"en": "Training text (corpus)", "ja": "学習テキスト（コーパス）"},
    "launch.corpus.pydoc": {"en": "Python documentation (built-in)", "ja": "Python ドキュメント（組み込み）"},
    "launch.corpus.stdlib": {"en": "Python standard library source (built-in)",
                             "ja": "Python 標準ライブラリのソース（組み込み）"},
    "launch.corpus.path": {"en": "A file or folder on the server", "ja": "サーバー上のファイルまたはフォルダ"},
    "launch.corpus_path": {"en": "Path on the server", "ja": "サーバー上のパス"},
    "launch.corpus_path_help": {"en": "A UTF-8 text file, or a folder of .txt / .md / .jsonl files, "
                                      "inside one of the allowed data folders.",
                                "ja": "許可されたデータフォルダ内の UTF-8 テキストファイル、または "
                                      ".txt / .md / .jsonl ファイルを含むフォルダ。"},
    "launch.data_dirs": {"en": "Allowed data folders (DCPOC_DATA_DIRS): {dirs}",
                         "ja": "許可されたデータフォルダ (DCPOC_DATA_DIRS): {dirs}"},
    "launch.presets": {"en": "Model sizes (presets)", "ja": "モデルサイズ（プリセット）"},
    "launch.presets_help": {"en": "tiny: seconds on a CPU; cpu-demo: minutes on a CPU; the gpu-* and "
                                  "paper-405m rungs need a GPU.",
                            "ja": "tiny: CPU で数秒、cpu-demo: CPU で数分。gpu-* と paper-405m は GPU が必要です。"},
    "launch.archs": {"en": "Architectures", "ja": "アーキテクチャ"},
    "launch.seeds": {"en": "Seeds", "ja": "シード"},
    "launch.seeds_help": {"en": "Distinct whole numbers separated by commas; each seed repeats every run "
                                "so that differences can be told from noise.",
                          "ja": "カンマ区切りの異なる整数。シードごとに全実行を繰り返し、差がばらつきに"
                                "よるものか見分けられるようにします。"},
    "launch.budget_kind": {"en": "Training length", "ja": "学習の長さ"},
    "launch.budget.steps": {"en": "Steps per run", "ja": "実行あたりのステップ数"},
    "launch.budget.tokens": {"en": "Tokens per run", "ja": "実行あたりのトークン数"},
    "launch.budget.preset": {"en": "The preset's default", "ja": "プリセットの既定値"},
    "launch.device": {"en": "Device", "ja": "デバイス"},
    "launch.estimate": {"en": "Estimate for the whole study", "ja": "スタディ全体の見積もり"},
    "launch.estimate_wait": {"en": "Fix the fields above to see the estimate.",
                             "ja": "上の入力を正しくすると見積もりが表示されます。"},
    "launch.est.runs": {"en": "Runs", "ja": "実行数"},
    "launch.est.wall": {"en": "Wall time (one after another)", "ja": "所要時間（順番に実行）"},
    "launch.est.device_hours": {"en": "Device-hours", "ja": "デバイス時間"},
    "launch.est.cost": {"en": "Cost", "ja": "コスト"},
    "launch.est.basis": {"en": "On {device}: throughput measured on earlier runs for {measured} of {total} "
                               "runs, assumed for the rest; {tokens} training tokens, {flops} FLOPs. "
                               "The wall time adds about {startup} s of start-up per run; device-hours "
                               "and cost count training time, as finished runs do.",
                         "ja": "{device} で計算。{total} 件中 {measured} 件は過去の実行で測定したスループット、"
                               "残りは想定値を使用。学習トークン {tokens}、{flops} FLOP。所要時間には実行ごとに"
                               "約 {startup} 秒の起動時間を含みます。デバイス時間とコストは、完了した実行と同じく"
                               "学習時間のみで計算します。"},
    "launch.submit": {"en": "Launch study", "ja": "スタディを開始"},
    "launch.failed": {"en": "Not launched", "ja": "開始できませんでした"},
    "launch.queued": {"en": "Queued {n} runs of study “{study}”: {ids}",
                      "ja": "スタディ「{study}」の {n} 件の実行を登録しました: {ids}"},
    "launch.go_runs": {"en": "Watch them on the Runs page", "ja": "実行一覧で進捗を見る"},
    "launch.err.name_empty": {"en": "Give the study a name.", "ja": "スタディ名を入力してください。"},
    "launch.err.name_bad": {"en": "Use at most {max} printable characters.",
                            "ja": "表示可能な文字で {max} 文字以内にしてください。"},
    "launch.err.question_long": {"en": "Keep the question under {max} characters.",
                                 "ja": "問いは {max} 文字以内にしてください。"},
    "launch.err.corpus_empty": {"en": "Type a path, or choose a built-in corpus.",
                                "ja": "パスを入力するか、組み込みのコーパスを選んでください。"},
    "launch.err.corpus_no_dirs": {"en": "This server reads no files from the browser: only the built-in "
                                        "corpora. The operator can allow folders with DCPOC_DATA_DIRS.",
                                  "ja": "このサーバーはブラウザから指定されたファイルを読みません（組み込み"
                                        "コーパスのみ）。運用担当者が DCPOC_DATA_DIRS でフォルダを許可できます。"},
    "launch.err.corpus_outside": {"en": "{path} is outside the allowed data folders.",
                                  "ja": "{path} は許可されたデータフォルダの外にあります。"},
    "launch.err.corpus_missing": {"en": "{path} does not exist.", "ja": "{path} は存在しません。"},
    "launch.err.no_preset": {"en": "Choose at least one preset.", "ja": "プリセットを 1 つ以上選んでください。"},
    "launch.err.preset_hw": {"en": "This hardware can run only: {presets}.",
                             "ja": "このハードウェアで実行できるのは {presets} のみです。"},
    "launch.err.no_arch": {"en": "Choose at least one architecture (both, to compare them).",
                           "ja": "アーキテクチャを 1 つ以上選んでください（比較するには両方）。"},
    "launch.err.seeds": {"en": "Write distinct whole numbers, e.g. 1, 2, 3.",
                         "ja": "異なる整数を入力してください（例: 1, 2, 3）。"},
    "launch.err.too_many": {"en": "That makes {n} runs; one study may have at most {max}.",
                            "ja": "実行数が {n} 件になります。1 つのスタディは最大 {max} 件です。"},
    "launch.err.budget": {"en": "Use a whole number from 1 to {max}.",
                          "ja": "1 から {max} までの整数を入力してください。"},
    "launch.err.plan": {"en": "The study cannot run as set: {detail}",
                        "ja": "この設定ではスタディを実行できません: {detail}"},

    "runs.title": {"en": "Runs", "ja": "実行一覧"},
    "runs.all": {"en": "All studies", "ja": "すべてのスタディ"},
    "runs.none": {"en": "No run matches these filters.", "ja": "条件に合う実行はありません。"},
    "runs.capped": {"en": "Newest {n} runs at most; narrow the filters to see others. Updates live.",
                    "ja": "新しい順に最大 {n} 件を表示。ほかの実行は絞り込みで表示できます。自動で更新されます。"},
    "runs.pick": {"en": "Run to inspect", "ja": "詳しく見る実行"},
    "runs.gone": {"en": "This run no longer exists.", "ja": "この実行は存在しません。"},
    "runs.detail": {"en": "Run {id}: {status}, step {step} of {total}",
                    "ja": "実行 {id}: {status}（ステップ {step} / {total}）"},
    "runs.cancel": {"en": "Cancel", "ja": "キャンセル"},
    "runs.cancel_done": {"en": "Cancel requested; a running run stops within seconds.",
                         "ja": "キャンセルを要求しました。実行中の場合は数秒以内に停止します。"},
    "runs.retry": {"en": "Retry from scratch", "ja": "最初からやり直す"},
    "runs.retry_done": {"en": "Queued again as run {id}.", "ja": "実行 {id} として再登録しました。"},
    "runs.resume": {"en": "Resume from checkpoint", "ja": "チェックポイントから再開"},
    "runs.resume_help": {"en": "Continue from the last saved step; the step count and metrics continue "
                               "without gaps.",
                         "ja": "最後に保存したステップから続けます。ステップ数と指標は途切れずに続きます。"},
    "runs.resume_done": {"en": "Queued to resume.", "ja": "再開を登録しました。"},
    "runs.tab.curves": {"en": "Loss curves", "ja": "損失曲線"},
    "runs.tab.log": {"en": "Log", "ja": "ログ"},
    "runs.tab.config": {"en": "Configuration", "ja": "設定内容"},
    "runs.tab.env": {"en": "Environment", "ja": "実行環境"},
    "runs.x_axis": {"en": "Against", "ja": "横軸"},
    "runs.no_metrics": {"en": "No metrics recorded yet.", "ja": "まだ指標が記録されていません。"},
    "runs.no_log": {"en": "(no log yet)", "ja": "（ログはまだありません）"},
    "runs.env.field": {"en": "Item", "ja": "項目"},
    "runs.env.value": {"en": "Value", "ja": "値"},
    "env.git_commit": {"en": "Code commit", "ja": "コードのコミット"},
    "env.device": {"en": "Device", "ja": "デバイス"},
    "env.host": {"en": "Host", "ja": "ホスト"},
    "env.pid": {"en": "Process id", "ja": "プロセス ID"},
    "env.created_at": {"en": "Created", "ja": "作成日時"},
    "env.started_at": {"en": "Started", "ja": "開始日時"},
    "env.finished_at": {"en": "Finished", "ja": "終了日時"},
    "env.heartbeat_at": {"en": "Last heartbeat", "ja": "最終ハートビート"},
    "env.corpus_spec": {"en": "Corpus", "ja": "コーパス"},
    "env.corpus_fingerprint": {"en": "Corpus fingerprint (SHA-256)", "ja": "コーパスの指紋 (SHA-256)"},
    "env.n_params": {"en": "Parameters", "ja": "パラメータ数"},
    "env.flops_per_token": {"en": "Training FLOPs per token", "ja": "トークンあたりの学習 FLOP"},
    "env.mfu": {"en": "Model FLOP utilisation", "ja": "モデル FLOP 利用率 (MFU)"},

    "compare.title": {"en": "Compare architectures", "ja": "アーキテクチャの比較"},
    "compare.caption": {"en": "Finished runs only. Lower loss and perplexity are better.",
                        "ja": "完了した実行のみ。損失とパープレキシティは低いほど良い値です。"},
    "compare.none": {"en": "No finished run yet: launch a study and come back when it is done.",
                     "ja": "完了した実行はまだありません。スタディを開始し、完了後に戻ってください。"},
    "compare.by": {"en": "Compare", "ja": "比較の対象"},
    "compare.by.study": {"en": "A study", "ja": "スタディ"},
    "compare.by.runs": {"en": "Runs I pick", "ja": "選んだ実行"},
    "compare.no_study": {"en": "No finished run belongs to a study.",
                         "ja": "スタディに属する完了済みの実行はありません。"},
    "compare.pick": {"en": "Runs", "ja": "実行"},
    "compare.pick_some": {"en": "Pick at least one run.", "ja": "実行を 1 つ以上選んでください。"},
    "compare.tab.tokens": {"en": "Per token", "ja": "トークン数あたり"},
    "compare.tab.wall_s": {"en": "Per hour of training", "ja": "学習時間あたり"},
    "compare.tab.cost_usd": {"en": "Per dollar", "ja": "費用あたり"},
    "compare.pareto_help": {"en": "The dashed line is the Pareto front: the runs that no other run beats "
                                  "on both cost and perplexity.",
                            "ja": "破線はパレートフロント（コストとパープレキシティの両方で他の実行に負けない実行）です。"},
    "compare.config": {"en": "Settings that differ between these runs",
                       "ja": "これらの実行で異なる設定"},
    "compare.config_same": {"en": "All these runs share one configuration.",
                            "ja": "これらの実行はすべて同じ設定です。"},
    "compare.field": {"en": "Setting", "ja": "設定項目"},

    "settings.title": {"en": "Settings", "ja": "設定"},
    "settings.prices": {"en": "Price per device-hour (USD)", "ja": "デバイス 1 時間あたりの価格 (USD)"},
    "settings.prices_help": {"en": "Used for every cost on these pages and for runs that finish from now on.",
                             "ja": "各ページのコスト表示と、今後完了する実行のコスト計算に使います。"},
    "settings.kind.cpu": {"en": "CPU", "ja": "CPU"},
    "settings.kind.a100": {"en": "A100", "ja": "A100"},
    "settings.kind.h100": {"en": "H100", "ja": "H100"},
    "settings.kind.h200": {"en": "H200", "ja": "H200"},
    "settings.kind.other-gpu": {"en": "Other GPU", "ja": "その他の GPU"},
    "settings.save": {"en": "Save prices", "ja": "価格を保存"},
    "settings.reset": {"en": "Back to defaults", "ja": "既定値に戻す"},
    "settings.saved": {"en": "Prices saved.", "ja": "価格を保存しました。"},
    "settings.device": {"en": "Default device", "ja": "既定のデバイス"},
    "settings.device_label": {"en": "New studies run on", "ja": "新しいスタディの実行先"},
    "settings.device.auto": {"en": "Automatic (GPU when present)", "ja": "自動（GPU があれば GPU）"},
    "settings.device.cpu": {"en": "CPU", "ja": "CPU"},
    "settings.device.cuda": {"en": "GPU (CUDA)", "ja": "GPU (CUDA)"},
    "settings.database": {"en": "Database in use", "ja": "使用中のデータベース"},
    "settings.database_help": {"en": "Read-only here: set DCPOC_DB before starting the dashboard to "
                                     "change it.",
                               "ja": "ここでは変更できません。変更するにはダッシュボード起動前に DCPOC_DB を設定します。"},
    "settings.language": {"en": "Language", "ja": "言語"},
    "settings.language_label": {"en": "Display language", "ja": "表示言語"},

    "chart.axis.arch": {"en": "Architecture", "ja": "アーキテクチャ"},
    "chart.axis.run": {"en": "Run", "ja": "実行"},
    "chart.axis.step": {"en": "Step", "ja": "ステップ"},
    "chart.axis.tokens": {"en": "Training tokens", "ja": "学習トークン数"},
    "chart.axis.wall_s": {"en": "Training time (s)", "ja": "学習時間 (秒)"},
    "chart.axis.cost_usd": {"en": "Cost ($)", "ja": "コスト ($)"},
    "chart.axis.loss": {"en": "Loss (nats/byte)", "ja": "損失 (nats/byte)"},
    "chart.axis.val_loss": {"en": "Validation loss (nats/byte)", "ja": "検証損失 (nats/byte)"},
    "chart.axis.split": {"en": "Data", "ja": "データ"},
    "chart.axis.perplexity": {"en": "Perplexity (per byte)", "ja": "パープレキシティ (バイト単位)"},
    "chart.axis.pareto": {"en": "Pareto front", "ja": "パレートフロント"},
    "chart.front.yes": {"en": "on the front", "ja": "フロント上"},
    "chart.front.no": {"en": "beaten", "ja": "他の実行に劣る"},
    "chart.axis.tokens_per_s": {"en": "Training tokens per second", "ja": "学習トークン/秒"},
    "chart.axis.peak_mem_mb": {"en": "Peak memory (MB)", "ja": "ピークメモリ (MB)"},
    "chart.split.train": {"en": "train", "ja": "学習"},
    "chart.split.val": {"en": "validation", "ja": "検証"},
    "chart.loss_curves": {"en": "Training and validation loss", "ja": "学習損失と検証損失"},
    "chart.val_vs": {"en": "Validation loss against {x}", "ja": "{x} に対する検証損失"},
    "chart.bars.tokens_per_s": {"en": "Throughput (higher is faster)", "ja": "スループット（高いほど速い）"},
    "chart.bars.peak_mem_mb": {"en": "Peak memory (lower is better)", "ja": "ピークメモリ（低いほど良い）"},
    "chart.pareto": {"en": "Perplexity against cost", "ja": "コストに対するパープレキシティ"},

    "unit.lt1s": {"en": "under 1 s", "ja": "1 秒未満"},
    "unit.s": {"en": "{n} s", "ja": "{n} 秒"},
    "unit.min": {"en": "{m} min {s} s", "ja": "{m} 分 {s} 秒"},
    "unit.h": {"en": "{h} h {m} min", "ja": "{h} 時間 {m} 分"},
    "unit.d": {"en": "{d} d {h} h", "ja": "{d} 日 {h} 時間"},
}


def t(key: str, lang: str = "en") -> str:
    """The string for key in lang (English when the language lacks it)."""
    entry = STRINGS[key]
    return entry.get(lang) or entry["en"]


def column_labels(columns, lang: str) -> dict[str, str]:
    """Display names for table columns that have a translation."""
    return {c: t(f"col.{c}", lang) for c in columns if f"col.{c}" in STRINGS}


def num(value: float | None, spec: str = ".4g", suffix: str = "") -> str:
    """A number for display; a dash where there is none (NaN, None)."""
    if value is None or not math.isfinite(float(value)):
        return "—"
    return f"{float(value):{spec}}{suffix}"


def duration(seconds: float | None, lang: str = "en") -> str:
    """'42 s', '3 min 05 s', '2 h 10 min', '3 d 4 h' (in lang); a dash where there is none."""
    if seconds is None or not math.isfinite(float(seconds)) or seconds < 0:
        return "—"
    if 0 < seconds < 0.5:
        return t("unit.lt1s", lang)
    total = round(float(seconds))
    if total < 60:
        return t("unit.s", lang).format(n=total)
    if total < 3600:
        return t("unit.min", lang).format(m=total // 60, s=f"{total % 60:02d}")
    if total < 86400:
        return t("unit.h", lang).format(h=total // 3600, m=f"{total % 3600 // 60:02d}")
    return t("unit.d", lang).format(d=total // 86400, h=total % 86400 // 3600)


def money(usd: float | None) -> str:
    """'$1,234.56'; amounts under a cent as '< $0.01' (tiny runs cost fractions of a cent)."""
    if usd is None or not math.isfinite(float(usd)):
        return "—"
    if 0 < usd < 0.01:
        return "< $0.01"
    return f"${usd:,.2f}"


def hours(value: float | None) -> str:
    """Device-hours: '12.50'; '< 0.01' for less."""
    if value is None or not math.isfinite(float(value)):
        return "—"
    return "< 0.01" if 0 < value < 0.01 else f"{value:,.2f}"
