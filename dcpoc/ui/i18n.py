"""UI and report strings in English and Japanese. Every visible string of the app comes from here."""
from __future__ import annotations

import math
import re

from ..config import ARCH_LABELS

LANGUAGES = {"en": "English", "ja": "日本語"}

STRINGS: dict[str, dict[str, str]] = {
    "app.title": {"en": "dcpoc: DCFormer proof of concept",
                  "ja": "dcpoc: DCFormer 概念実証ワークベンチ"},
    "app.caption": {"en": "Does DCFormer give the same quality for less compute, at what speed cost, "
                          "and is it safe to adopt? Every number here comes from a real training run.",
                    "ja": "DCFormer は少ない計算量で同じ品質を出せるか、速度の代償はどれほどか、"
                          "導入して安全か。ここに示す数値はすべて実際の学習実行から得たものです。"},
    "home.status_counts": {"en": "Runs by status", "ja": "ステータス別の実行数"},
    "home.latest": {"en": "Latest runs", "ja": "最近の実行"},
    "home.empty": {"en": "No runs yet. Launch a study from the browser to get the first numbers.",
                   "ja": "まだ実行がありません。ブラウザから調査を開始して最初の数値を得ましょう。"},
    "home.db_error": {"en": "The database cannot be opened", "ja": "データベースを開けません"},
    "status.queued": {"en": "queued", "ja": "待機中"},
    "status.running": {"en": "running", "ja": "実行中"},
    "status.succeeded": {"en": "succeeded", "ja": "成功"},
    "status.failed": {"en": "failed", "ja": "失敗"},
    "status.cancelled": {"en": "cancelled", "ja": "キャンセル"},
    "col.id": {"en": "Run", "ja": "実行 ID"},
    "col.study": {"en": "Study", "ja": "調査"},
    "col.arch": {"en": "Architecture", "ja": "アーキテクチャ"},
    "col.variant": {"en": "Variant", "ja": "バリアント"},
    "col.preset": {"en": "Preset", "ja": "モデルサイズ"},
    "col.status": {"en": "Status", "ja": "ステータス"},
    "col.seed": {"en": "Seed", "ja": "シード"},
    "col.lr": {"en": "Learning rate", "ja": "学習率"},
    "col.step": {"en": "Step", "ja": "ステップ"},
    "col.total_steps": {"en": "Total steps", "ja": "総ステップ"},
    "col.val_loss": {"en": "Val loss (nats/byte)", "ja": "検証損失（nats/byte）"},
    "col.perplexity": {"en": "Perplexity (per byte)", "ja": "パープレキシティ（バイト単位）"},
    "col.bits_per_byte": {"en": "Bits per byte", "ja": "ビット/バイト"},
    "col.tokens_per_s": {"en": "Tokens/s", "ja": "トークン/秒"},
    "col.peak_mem_mb": {"en": "Peak memory (MB)", "ja": "ピークメモリ（MB）"},
    "col.wall_s": {"en": "Wall time (s)", "ja": "経過時間（秒）"},
    "col.cost_usd": {"en": "Cost ($)", "ja": "費用（$）"},
    "col.diverged": {"en": "Diverged", "ja": "発散"},
    "col.corpus": {"en": "Corpus", "ja": "コーパス"},
    "col.progress": {"en": "Progress", "ja": "進捗"},
    "col.eta": {"en": "Time left", "ja": "残り時間"},
    "col.loss_trend": {"en": "Train loss trend", "ja": "学習損失の推移"},
    "col.cost_so_far_usd": {"en": "Cost so far ($)", "ja": "現在までの費用（$）"},

    "nav.home": {"en": "Overview", "ja": "概要"},
    "nav.launch": {"en": "Launch a study", "ja": "調査を開始"},
    "nav.runs": {"en": "Runs", "ja": "実行一覧"},
    "nav.compare": {"en": "Compare", "ja": "比較"},
    "nav.settings": {"en": "Settings", "ja": "設定"},
    "nav.inspect": {"en": "Inspect", "ja": "モデルの中身"},
    "nav.decision": {"en": "Decision", "ja": "導入判断"},
    "nav.report": {"en": "Report", "ja": "会議用レポート"},

    "login.title": {"en": "Sign in", "ja": "サインイン"},
    "login.password": {"en": "Password", "ja": "パスワード"},
    "login.submit": {"en": "Sign in", "ja": "サインイン"},
    "login.wrong": {"en": "That password is not correct.", "ja": "パスワードが正しくありません。"},

    "home.empty_cli": {"en": "Or, from a terminal:", "ja": "またはターミナルから："},
    "home.go_launch": {"en": "Launch your first study", "ja": "最初の調査を開始する"},
    # --- the decision (decision.verdict.decide) and the meeting summary (dcpoc/report/)
    "dec.verdict.GO": {"en": "GO: adopt DCFormer", "ja": "GO：DCFormer の採用を推奨"},
    "dec.verdict.CONDITIONAL": {"en": "CONDITIONAL: promising, not yet proven",
                                "ja": "条件付き：有望だが未確定"},
    "dec.verdict.CONDITIONAL_against": {"en": "CONDITIONAL: no gain shown yet, leaning against",
                                        "ja": "条件付き：効果は未確認（見送り寄り）"},
    "dec.verdict.NO-GO": {"en": "NO-GO: stay with Transformer++",
                          "ja": "NO-GO（見送り）：Transformer++ を継続"},
    "dec.verdict.INSUFFICIENT": {"en": "Insufficient evidence: no verdict yet",
                                 "ja": "根拠不足：まだ判定できません"},
    "dec.card": {"en": "Verdict", "ja": "判定"},
    "dec.reasons": {"en": "Why", "ja": "理由"},
    "dec.needed": {"en": "What to run next", "ja": "次に実行すべきこと"},
    "dec.flips": {"en": "What would change the verdict", "ja": "判定が変わる条件"},
    "dec.risks": {"en": "Risks and mitigations", "ja": "リスクと対策"},
    "dec.q1": {"en": "Same quality for less compute?", "ja": "少ない計算量で同じ品質を出せるか？"},
    "dec.q2": {"en": "Easy to drop into what we run?", "ja": "既存の環境に導入しやすいか？"},
    "dec.q3": {"en": "Risks in operation?", "ja": "運用上のリスクは？"},
    "dec.a1": {"en": "Compute multiplier {m}; net of speed {net}.",
               "ja": "計算量倍率は {m}、速度差を差し引いた正味の効果は {net}です。"},
    "dec.a2": {"en": "Same training loop and data; only the attention layer changes. Training speed "
                     "ratio {ratio} on {device}.",
               "ja": "学習ループとデータはそのままで、変わるのはアテンション層のみです。"
                     "{device} での学習速度比は {ratio} です。"},
    "dec.a3": {"en": "See “{section}” below: small-scale extrapolation, seed variance, kernel maturity, "
                     "inference speed, operations.",
               "ja": "後述の「{section}」をご確認ください（小規模からの外挿、シードによるばらつき、カーネルの"
                     "成熟度、推論速度、運用負荷）。"},
    # the Overview shows no risk list: it says which page has it
    "dec.a3_dashboard": {"en": "The risks (small-scale extrapolation, seed variance, kernel maturity, "
                               "inference speed, operations) and their mitigations are on the {page} page.",
                         "ja": "リスク（小規模からの外挿、シードによるばらつき、カーネルの成熟度、推論速度、"
                               "運用負荷）と対策は「{page}」ページにまとめています。"},
    "dec.multiplier": {"en": "Compute multiplier", "ja": "計算量倍率"},
    "dec.multiplier_help": {"en": "How much more training compute {baseline} needs to reach "
                                  "DCFormer's loss (the paper reports 1.7× to 2×). 95% bootstrap "
                                  "interval over runs.",
                            "ja": "DCFormer と同じ損失に達するのに {baseline} が必要とする学習計算量の倍率"
                                  "（論文では 1.7〜2 倍）。実行単位のブートストラップによる 95% 区間。"},
    "dec.net": {"en": "Net benefit", "ja": "正味の効果"},
    "dec.above_one": {"en": "Above 1: {arch} ahead; below 1: behind",
                      "ja": "1 を超えれば {arch} が有利、1 未満なら不利"},
    "dec.net_help": {"en": "The training time (and $) {baseline} needs to reach DCFormer's loss, over "
                           "DCFormer's: multiplier × speed ratio × DCFormer's FLOPs per token relative "
                           "to {baseline}'s (the multiplier already charges DCMHA's extra FLOPs and the "
                           "lower tokens/s charges them again, so the FLOPs ratio gives them back). "
                           "Above 1: the same quality costs less.",
                     "ja": "DCFormer と同じ損失に達するまでに {baseline} が要する学習時間（と費用）÷ "
                           "DCFormer の学習時間。倍率 × 速度比 × {baseline} に対する DCFormer の"
                           "トークンあたり FLOP の比で求めます（倍率は DCMHA の追加 FLOP を既に計上し、"
                           "トークン/秒の低下でも同じ FLOP が計上されるため、FLOP の比で二重計上を"
                           "戻します）。1 を超えれば同じ品質をより安く得られます。"},
    "dec.speed_scope": {"en": "every size of the study: the geometric mean of each size's ratio "
                              "(DCFormer's mean tokens/s over the baseline's at that size)",
                        "ja": "調査の全サイズの値：各サイズの速度比（そのサイズでの DCFormer の"
                              "平均トークン/秒 ÷ ベースラインの平均）の幾何平均"},
    "dec.speed": {"en": "Speed ratio", "ja": "速度比"},
    "dec.speed_path": {"en": "Measured with DCFormer on the {path} attention path ({device}).",
                       "ja": "DCFormer は {path} のアテンション実装で計測しました（{device}）。"},
    "dec.fit": {"en": "Fit: {kind} over {n} {baseline} runs",
                "ja": "当てはめ：{baseline} の {n} 件の実行に対する{kind}"},
    "dec.fit.power": {"en": "power law with irreducible term (L = E + A·C^-α)",
                      "ja": "べき乗則（到達下限 E を含む、L = E + A·C^-α）"},
    # dec.fit.loglinear.{why}: the condition multiplier.fit_compute_curve fell back on
    "dec.fit.loglinear.points": {"en": "log-linear fit (L = a + b·ln C; the power law needs at least "
                                       "4 runs)",
                                 "ja": "対数線形の当てはめ（L = a + b·ln C、べき乗則には 4 件以上の実行が"
                                       "必要なため）"},
    "dec.fit.loglinear.computes": {"en": "log-linear fit (L = a + b·ln C; the power law needs at least "
                                         "3 distinct training compute values)",
                                   "ja": "対数線形の当てはめ（L = a + b·ln C、べき乗則には異なる学習計算量が "
                                         "3 つ以上必要なため）"},
    "dec.fit.loglinear.no_power": {"en": "log-linear fit (L = a + b·ln C; no power law with α between "
                                         "0.001 and 3 fits these runs)",
                                   "ja": "対数線形の当てはめ（L = a + b·ln C、α が 0.001〜3 の範囲のべき乗則が"
                                         "当てはまらないため）"},
    "dec.no_interval": {"en": "no interval", "ja": "区間なし"},
    "dec.interval95": {"en": "95% interval {low}–{high}", "ja": "95% 区間 {low}〜{high}"},
    "dec.table.basis": {"en": "Compared at", "ja": "比較条件"},
    "dec.basis.tokens": {"en": "equal tokens", "ja": "同一トークン数"},
    "dec.basis.cost": {"en": "equal cost", "ja": "同一費用"},
    "dec.table.pairs": {"en": "Seed pairs", "ja": "シード対の数"},
    "dec.table.loss_diff": {"en": "Loss difference (95% CI)", "ja": "損失の差（95% 区間）"},
    "dec.table.ppl_diff": {"en": "Perplexity difference (95% CI)",
                           "ja": "パープレキシティの差（95% 区間）"},
    "dec.table_note": {"en": "DCFormer minus ({baseline}), runs paired by seed on one corpus "
                             "({fingerprint}); negative favours DCFormer. Interval: paired t over seeds.",
                       "ja": "DCFormer −（{baseline}）。同一コーパス（{fingerprint}）の実行をシードで"
                             "対応付けた差で、負なら DCFormer が優位。区間はシード間の対応のある t 区間。"},
    "dec.page_title": {"en": "Decision", "ja": "導入判断"},
    # --- the Report page and the PDF / PPTX exports (dcpoc/report/)
    "rep.page_title": {"en": "Meeting report", "ja": "会議用レポート"},
    "rep.lang": {"en": "Report language", "ja": "レポートの言語"},
    "rep.format": {"en": "Format", "ja": "形式"},
    "rep.format.md": {"en": "Markdown (wiki, chat)", "ja": "Markdown（Wiki・チャット向け）"},
    "rep.format.html": {"en": "HTML page (self-contained)", "ja": "HTML（1 ファイルで完結）"},
    "rep.format.pdf": {"en": "PDF (A4, to print)", "ja": "PDF（A4・印刷向け）"},
    "rep.format.pptx": {"en": "PowerPoint deck", "ja": "PowerPoint 資料"},
    "rep.download": {"en": "Download {name}", "ja": "{name} をダウンロード"},
    "rep.preview": {"en": "Preview (the Markdown version; every format has the same sections)",
                    "ja": "プレビュー（Markdown 版。どの形式も同じ章立てです）"},
    "rep.in_progress": {"en": "Study in progress: {done} of {total} runs finished, {active} queued or "
                              "running. This verdict reads the finished runs only and may change; the next "
                              "step is planned once they are all done.",
                        "ja": "調査は進行中です：{total} 件中 {done} 件が完了し、{active} 件が待機中または"
                              "実行中です。この判定は完了した実行だけに基づく暫定のもので、変わる可能性があります。"
                              "次のステップは全件の完了後に計画します。"},
    "rep.thresholds": {"en": "Decided with thresholds other than the defaults: GO when the net benefit's lower "
                             "bound is above {go:.2f}, NO-GO when its upper bound is below {nogo:.2f}; "
                             "{seeds} seeds a size, {sizes} sizes for a verdict, {go_sizes} for GO.",
                       "ja": "既定値とは異なるしきい値で判定しています：正味の効果の下限が {go:.2f} を超えれば GO（採用）、"
                             "上限が {nogo:.2f} を下回れば NO-GO（見送り）とし、各サイズにシード {seeds} 個、"
                             "判定にはモデルサイズ {sizes} 個、GO には {go_sizes} 個を必要とします。"},
    "rep.no_study": {"en": "No study with finished runs yet: launch one first.",
                     "ja": "完了した実行を含む調査がまだありません。先に調査を開始してください。"},
    "rep.question": {"en": "Question", "ja": "検討事項"},
    "rep.metrics": {"en": "Key numbers", "ja": "主要な数値"},
    "rep.cost_quality": {"en": "Cost per quality", "ja": "品質あたりの費用"},
    "rep.cost_quality_text": {"en": "Net benefit {net} (compute multiplier {m} × training speed ratio "
                                    "{ratio} × FLOPs per token {flops}: the multiplier already counts "
                                    "DCMHA's extra FLOPs). Above 1×, the same quality costs less with "
                                    "DCFormer.",
                              "ja": "正味の効果は {net}（計算量倍率 {m} × 学習速度比 {ratio} × "
                                    "トークンあたり FLOP の比 {flops}。倍率は DCMHA の追加 FLOP を既に"
                                    "計上しています）です。"
                                    "1 倍を超えれば、同じ品質を DCFormer でより安く得られます。"},
    "rep.next_step": {"en": "Next step", "ja": "次のステップ"},
    "rep.next_none": {"en": "Confirm the result at one larger size on the production GPU before "
                            "committing.",
                      "ja": "本格導入の前に、本番で使う GPU で一段大きいサイズを検証します。"},
    "rep.chart": {"en": "Trade-off: quality against cost", "ja": "トレードオフ：品質と費用"},
    "rep.front_note": {"en": "The table lists the {front} runs of {total} on the Pareto front, cheapest first: "
                              "for each, no other run is both cheaper and better (lower perplexity). Each of "
                              "the other {beaten} is beaten on both by a run on the front. The appendix at the "
                              "end lists every run.",
                       "ja": "表は {total} 件の実行のうちパレートフロント上の {front} 件を、費用の安い順に示して"
                             "います。フロント上の実行とは、費用とパープレキシティの両方でそれを上回る実行が他にない"
                             "ものです。残りの {beaten} 件は、いずれもフロント上のある実行に両方で劣ります。全実行の"
                             "一覧は末尾の付録にあります。"},
    "rep.front_all": {"en": "All {total} runs are on the Pareto front: no run is both cheaper and better (lower "
                            "perplexity) than another.",
                      "ja": "{total} 件の実行はすべてパレートフロント上にあります。費用とパープレキシティの両方で"
                            "他を上回る実行はありません。"},
    "rep.appendix_runs": {"en": "Appendix: every run", "ja": "付録：全実行の一覧"},
    "rep.no_chart": {"en": "No finished run to chart yet.",
                     "ja": "グラフにできる完了済みの実行はまだありません。"},
    "rep.repro": {"en": "Reproducibility", "ja": "再現のための情報"},
    "rep.glossary": {"en": "Terms used in this report", "ja": "この報告書の用語"},
    "gloss.multiplier.name": {"en": "Compute multiplier", "ja": "計算量倍率"},
    "gloss.multiplier.what": {"en": "how many times more training compute the baseline needs to reach DCFormer's "
                                    "loss. Above 1 favours DCFormer.",
                              "ja": "ベースラインが DCFormer と同じ損失に達するまでに必要な学習計算量の倍数。1 を超え"
                                    "れば DCFormer が有利です。"},
    "gloss.net.name": {"en": "Net benefit", "ja": "正味の効果"},
    "gloss.net.what": {"en": "the compute multiplier after DCFormer's slower steps are paid for: how much less "
                             "the same quality costs. Above 1, DCFormer saves money; the verdict rests on it.",
                       "ja": "DCFormer の 1 ステップあたりの遅さを差し引いた後の計算量倍率。同じ品質をどれだけ安く"
                             "得られるかを表し、1 を超えれば費用が下がります。判定はこの値に基づきます。"},
    "gloss.speed.name": {"en": "Speed ratio", "ja": "速度比"},
    "gloss.speed.what": {"en": "DCFormer's training tokens per second divided by the baseline's on the same "
                               "machine. Under 1, DCFormer trains slower.",
                         "ja": "同じマシンでの DCFormer の学習トークン/秒をベースラインの値で割った比。1 未満なら "
                               "DCFormer の学習は遅いことを示します。"},
    "gloss.interval.name": {"en": "95% interval", "ja": "95% 区間"},
    "gloss.interval.what": {"en": "the range that holds the true value with 95% confidence, given the seeds "
                                  "run. A range that includes 1 (or 0 for a loss difference) shows no "
                                  "difference yet; more seeds narrow it.",
                            "ja": "実行したシードから見て、真の値が 95% の確からしさで入る範囲。1（損失の差なら 0）"
                                  "を含む範囲は、まだ差が示されていないことを意味します。シードを増やすと狭まります。"},
    "gloss.nats.name": {"en": "nats/byte", "ja": "nats/byte"},
    "gloss.nats.what": {"en": "the unit of the validation loss: the model's surprise per byte of text (lower is "
                              "better). A difference of 0.01 is about 1% in perplexity.",
                        "ja": "検証損失の単位で、テキスト 1 バイトあたりのモデルの「驚き」（低いほど良い）。0.01 の差は"
                              "パープレキシティで約 1% に当たります。"},
    "gloss.perplexity.name": {"en": "Perplexity (per byte)", "ja": "パープレキシティ（バイト単位）"},
    "gloss.perplexity.what": {"en": "the validation loss as a number of choices: how many next bytes the "
                                    "model hesitates between. Lower is better.",
                              "ja": "検証損失を選択肢の数で表したもの。次の 1 バイトについてモデルが迷う候補の数で、"
                                    "低いほど良い値です。"},
    "gloss.equal.name": {"en": "Equal tokens, equal cost", "ja": "同一トークン数、同一費用"},
    "gloss.equal.what": {"en": "the two ways to compare: after training on the same text, or after spending the "
                               "same money (DCFormer's slower steps buy fewer tokens).",
                         "ja": "比較の 2 つの方法。同じ量のテキストで学習した後で比べるか、同じ費用をかけた後で"
                               "比べるか（DCFormer はステップが遅いため、同じ費用で学習できるトークンは少なくな"
                               "ります）。"},
    "gloss.seeds.name": {"en": "Seed", "ja": "シード"},
    "gloss.seeds.what": {"en": "a run's random start. Running several seeds shows how much a result varies by "
                               "chance alone.",
                         "ja": "実行の乱数の初期値。複数のシードで実行すると、結果が偶然だけでどれだけ変わるかが分かり"
                               "ます。"},
    "gloss.qk_norm.name": {"en": "QK-norm", "ja": "QK-norm"},
    "gloss.qk_norm.what": {"en": "a small change to attention that DCFormer includes. The baseline gets it too, so "
                                 "that DCFormer's own part (DCMHA) is measured apart from it.",
                           "ja": "DCFormer に含まれるアテンションの小さな変更。ベースラインにも加えることで、DCFormer"
                                 " 固有の部分（DCMHA）の効果をこれと切り分けて測ります。"},
    "gloss.dcmha.name": {"en": "DCMHA", "ja": "DCMHA"},
    "gloss.dcmha.what": {"en": "DCFormer's attention: its heads share what they attend to, mixed anew for "
                               "every token.",
                         "ja": "DCFormer のアテンション。各ヘッドの注目先をトークンごとに組み合わせ直して共有します。"},
    "gloss.front.name": {"en": "Pareto front", "ja": "パレートフロント"},
    "gloss.front.what": {"en": "the runs that no other run beats on both cost and perplexity: the best trade-offs "
                               "on offer.",
                         "ja": "費用とパープレキシティの両方で他の実行に負けない実行の集まり。選べる中で最良の"
                               "トレードオフです。"},
    "gloss.fit.name": {"en": "Fit", "ja": "当てはめ"},
    "gloss.fit.what": {"en": "a curve of loss against training compute drawn through the baseline's runs (a "
                             "power law with a floor, L = E + A·C^-α, where E is the loss no amount of compute "
                             "goes below; when no power law can be fitted, a straight line in log compute). The compute "
                             "multiplier is read off it.",
                       "ja": "ベースラインの実行を通る、学習計算量に対する損失の曲線（下限付きのべき乗則 "
                             "L = E + A·C^-α。E は計算量をいくら増やしても下回らない損失。べき乗則を当てはめられないときは"
                             "計算量の対数に対する直線）。計算量倍率はこの曲線から読み取ります。"},
    "gloss.winner.name": {"en": "Winner's curse", "ja": "勝者の呪い"},
    "gloss.winner.what": {"en": "the run picked as best in a learning-rate sweep looks better than it is, partly "
                                "by luck. The confirmation stage trains fresh seeds at the chosen rate to "
                                "remove that bias.",
                          "ja": "学習率の探索で最良として選んだ実行は、運の分だけ実際より良く見えます。確認ステージ"
                                "では選んだ学習率で新しいシードを学習し、この偏りを取り除きます。"},
    "gloss.methods.name": {"en": "Welch, bootstrap", "ja": "Welch 法、ブートストラップ"},
    "gloss.methods.what": {"en": "the statistical methods that compute the intervals from few runs. Reading the "
                                 "numbers does not need them.",
                           "ja": "少ない実行から区間を計算する統計手法。数値を読むうえで理解は不要です。"},
    "rep.val.whole": {"en": "Validation: every run is scored on the same {tokens} tokens, the whole "
                            "validation split in non-overlapping windows.",
                      "ja": "検証：すべての実行を同じ {tokens} トークン（検証用分割全体を重ならない窓に"
                            "区切ったもの）で評価しています。"},
    "rep.val.sample": {"en": "Validation: every run is scored on the same fixed sample of {tokens} "
                             "tokens (of {split} in the validation split).",
                       "ja": "検証：すべての実行を同じ固定サンプル {tokens} トークン（検証用分割の "
                             "{split} トークンのうち）で評価しています。"},
    "rep.val.mixed": {"en": "Validation: the runs were scored on different numbers of validation "
                            "tokens ({tokens}); compare their losses with care.",
                      "ja": "検証：実行ごとに評価したトークン数が異なります（{tokens}）。損失の比較には"
                            "注意してください。"},
    "rep.val.unknown": {"en": "Validation: the number of validation tokens was not recorded for these "
                              "runs (trained by an earlier dcpoc).",
                        "ja": "検証：これらの実行では検証トークン数が記録されていません（以前の dcpoc "
                              "で学習しました）。"},
    # what an imported study lacks is the runs' files, not their numbers (the tables below hold them)
    "rep.recorded": {"en": "Recorded results, imported: measured on {date} on the host {machine}. Every "
                           "number is here; the runs' training logs and checkpoints (model weights) are "
                           "not in this database.",
                     "ja": "記録済みの結果をインポートしたものです：{date} にホスト {machine}で測定しま"
                           "した。数値はすべてそろっていますが、学習ログとチェックポイント（モデルの重み）"
                           "はこのデータベースにはありません。"},
    "home.import_offer": {"en": "Want a real verdict now? dcpoc ships the recorded results of the "
                                "reference study: import them and every page works at once.",
                          "ja": "今すぐ実際の判定を見たいですか？ dcpoc には参照調査の記録済み"
                                "結果が同梱されています。インポートするとすべてのページがすぐに使えます。"},
    "home.import_button": {"en": "Import the recorded reference study ({study}, {n} runs, {date}, "
                                 "{machine})",
                           "ja": "記録済みの参照調査をインポートします（{study}、{n} 件の実行、{date}、"
                                 "{machine}）"},
    "home.import_done": {"en": "Imported study {study}: {n} runs of recorded results.",
                         "ja": "調査 {study} をインポートしました：記録済みの結果 {n} 件の実行です。"},
    "home.import_failed": {"en": "The import failed, nothing was changed",
                           "ja": "インポートに失敗しました。何も変更していません"},
    "rep.font_no_file": {"en": "DCPOC_PDF_FONT={path}: no such file; fix the path to a .ttf file, or unset "
                               "DCPOC_PDF_FONT to use the installed Japanese font.",
                         "ja": "DCPOC_PDF_FONT={path}：ファイルがありません。.ttf ファイルへのパスを直す"
                               "か、DCPOC_PDF_FONT を解除してインストール済みの日本語フォントを使ってください。"},
    "rep.font_missing": {"en": "No Japanese font for the PDF: install Debian's fonts-ipaexfont-gothic "
                               "(apt-get install fonts-ipaexfont-gothic) or set DCPOC_PDF_FONT to a "
                               ".ttf file.",
                         "ja": "PDF 用の日本語フォントが見つかりません。Debian の fonts-ipaexfont-gothic を"
                               "インストールする（apt-get install fonts-ipaexfont-gothic）か、"
                               "DCPOC_PDF_FONT に .ttf ファイルを指定してください。"},
    "rep.foot.runs": {"en": "runs", "ja": "実行 ID"},
    "rep.foot.commit": {"en": "commit", "ja": "コミット"},
    "rep.foot.versions": {"en": "versions", "ja": "バージョン"},
    "rep.foot.corpus": {"en": "corpus (SHA-256)", "ja": "コーパス（SHA-256）"},
    "rep.foot.seeds": {"en": "seeds", "ja": "シード"},
    "rep.foot.devices": {"en": "devices", "ja": "デバイス"},
    "rep.foot.attn_path": {"en": "DCFormer attention path", "ja": "DCFormer のアテンション実装"},
    "rep.foot.date": {"en": "date", "ja": "作成日時"},
    "sep.list": {"en": ", ", "ja": "、"},
    "sep.clause": {"en": "; ", "ja": "。"},
    "sep.label": {"en": ": ", "ja": "："},
    "sep.range": {"en": " – ", "ja": "〜"},
    "sep.title": {"en": ": ", "ja": " ｜ "},
    "sep.group": {"en": "; ", "ja": "；"},
    "rep.font_unreadable": {"en": "{env}={path} is not a TrueType or OpenType font ({why}); point it "
                                  "at a .ttf or .otf file, or unset it to use fonts-ipaexfont-gothic.",
                            "ja": "{env}={path} は TrueType / OpenType フォントではありません（{why}）。"
                                  ".ttf か .otf ファイルを指定するか、設定を外して "
                                  "fonts-ipaexfont-gothic を使ってください。"},
    "rep.font_not_japanese": {"en": "{env}={path} has no Japanese glyphs (none for {chars}); point it "
                                    "at a Japanese font, or unset it to use fonts-ipaexfont-gothic.",
                              "ja": "{env}={path} のフォントには日本語の字形がありません（「{chars}」が含"
                                    "まれていません）。日本語フォントを指定するか、"
                                    "{env} の設定を解除して fonts-ipaexfont-gothic を使ってくだ"
                                    "さい。"},
    "dec.settings_used": {"en": "Decided with the thresholds and target scale set on the Decision page "
                                "in this session (not the defaults).",
                          "ja": "このセッションで判定ページに設定したしきい値と本番規模で判定しています（既定値ではありません）。"},
    "dec.thresholds": {"en": "Thresholds", "ja": "判定しきい値"},
    "dec.go_net_low": {"en": "GO when net benefit's lower bound exceeds (default 1.1)",
                       "ja": "GO の条件：正味の効果の下限がこの値を超える（既定 1.1）"},
    "dec.nogo_net_high": {"en": "NO-GO when net benefit's upper bound is below (default 1.0)",
                          "ja": "NO-GO（見送り）の条件：正味の効果の上限がこの値を下回る（既定 1.0）"},
    "dec.min_seeds": {"en": "Seeds needed per size (default 2)", "ja": "サイズごとに必要なシード数（既定 2）"},
    "dec.bars_cross": {"en": "NO-GO's bar ({nogo:.2f}) is above GO's ({go:.2f}): an interval can meet both "
                             "rules, and NO-GO is checked first. Set NO-GO's bar at or below GO's.",
                       "ja": "NO-GO の基準（{nogo:.2f}）が GO の基準（{go:.2f}）を上回っています。1 つの区間が"
                             "両方の条件を満たすことがあり、その場合は NO-GO が先に判定されます。NO-GO の基準は GO 以下にしてください。"},
    "dec.min_sizes": {"en": "Model sizes needed for any verdict (default 2)",
                      "ja": "判定に必要なモデルサイズ数（既定 2）"},
    "dec.go_min_sizes": {"en": "Model sizes GO needs (default 3)",
                         "ja": "GO に必要なモデルサイズ数（既定 3）"},
    "dec.target_params": {"en": "Parameters (millions)", "ja": "パラメータ数（百万）"},
    "dec.target_params_n": {"en": "Parameters", "ja": "パラメータ数"},
    "dec.target_tokens_n": {"en": "Training tokens", "ja": "学習トークン数"},
    "dec.target_tokens": {"en": "Training tokens (billions)", "ja": "学習トークン数（十億）"},
    "dec.gpu": {"en": "GPU type", "ja": "GPU の種類"},
    "dec.price": {"en": "Price per GPU-hour ($)", "ja": "GPU 1 時間あたりの価格（$）"},
    "dec.projection": {"en": "Projection at the target", "ja": "本番規模での試算"},
    "dec.proj.tf": {"en": "Transformer++", "ja": "Transformer++"},
    "dec.proj.dc_same": {"en": "DCFormer, same tokens", "ja": "DCFormer（同一トークン数）"},
    "dec.proj.dc_equal": {"en": "DCFormer, equal quality", "ja": "DCFormer（同等品質）"},
    "dec.proj.hours": {"en": "GPU-hours", "ja": "GPU 時間（h）"},
    "dec.proj.cost": {"en": "Cost", "ja": "費用"},
    "dec.proj.saved": {"en": "Saved for equal quality", "ja": "同等品質での削減額"},
    "dec.proj.extra": {"en": "Extra cost for equal quality (DCFormer costs more)",
                       "ja": "同等品質での追加費用（DCFormer の方が高い）"},
    "dec.proj.saved_interval": {"en": "Saved for equal quality, over the multiplier's 95% interval",
                                "ja": "同等品質での削減額（計算量倍率の 95% 区間）"},
    "dec.proj.extra_interval": {"en": "Extra cost for equal quality, over the multiplier's 95% interval",
                                "ja": "同等品質での追加費用（計算量倍率の 95% 区間）"},
    "dec.proj.saved_interval_signed": {"en": "Saved for equal quality, over the multiplier's 95% interval "
                                             "(− is an extra cost)",
                                       "ja": "同等品質での削減額（計算量倍率の 95% 区間。− は追加費用）"},
    "dec.proj.none": {"en": "No projection until the compute multiplier and speed ratio are measured.",
                      "ja": "計算量倍率と速度比が測定されるまで試算できません。"},
    "dec.open_decision": {"en": "Open the decision page", "ja": "導入判断ページを開く"},
    "dec.no_study": {"en": "No finished study yet.", "ja": "完了した調査がまだありません。"},
    "reason.insufficient": {"en": "Not enough evidence for a verdict yet.",
                            "ja": "判定に足る根拠がまだ揃っていません。"},
    "reason.net": {"en": "Net benefit {net:.2f} (95% interval {net_low:.2f} to {net_high:.2f}): compute "
                         "multiplier {m:.2f} × speed ratio {ratio:.2f} (DCFormer's tokens/s over the "
                         "baseline's, geometric mean over the sizes) × FLOPs per token {flops:.2f} "
                         "(the multiplier already counts DCMHA's extra FLOPs). GO needs the lower bound "
                         "above {go:.2f}; NO-GO when the upper bound is below {nogo:.2f}; CONDITIONAL in between.",
                   "ja": "正味の効果は {net:.2f}（95% 区間 {net_low:.2f}〜{net_high:.2f}）で、計算量倍率 "
                         "{m:.2f} × 速度比 {ratio:.2f}（DCFormer とベースラインのトークン/秒の比、サイズ間の"
                         "幾何平均）× トークンあたり FLOP の比 {flops:.2f} から"
                         "求めています（倍率は DCMHA の追加 FLOP を既に計上）。判定は GO（採用）／条件付き／"
                         "NO-GO（見送り）の 3 段階で、GO には下限が {go:.2f} を超える必要があり、上限が {nogo:.2f} "
                         "を下回れば NO-GO、その間は条件付きです。"},
    "reason.loss": {"en": "At equal tokens on {preset}, DCFormer's val loss differs by {diff:+.4f} "
                          "(95% interval {diff_low:+.4f} to {diff_high:+.4f}).",
                    "ja": "{preset} で同一トークン数のとき、DCFormer の検証損失の差は {diff:+.4f}"
                          "（95% 区間 {diff_low:+.4f}〜{diff_high:+.4f}）です。"},
    "reason.cost": {"en": "At equal training cost on {preset}, DCFormer's val loss differs by {diff}; "
                          "its point estimate is lower than the baseline's at {better} of {sizes} sizes.",
                    "ja": "{preset} で学習費用を揃えると、DCFormer の検証損失の差は {diff}です。"
                          "DCFormer の損失（点推定）がベースラインを下回ったのは {sizes} サイズ中 {better} サイズです。"},
    "reason.cost_none": {"en": "At equal training cost on {preset}, DCFormer's val loss differs by {diff}; "
                               "at none of the {sizes} sizes is its point estimate lower than the baseline's.",
                         "ja": "{preset} で学習費用を揃えると、DCFormer の検証損失の差は {diff}です。"
                               "費用を揃えると、{sizes} サイズのいずれでも DCFormer の損失（点推定）は"
                               "ベースラインを下回りませんでした。"},
    "reason.cost_all": {"en": "At equal training cost on {preset}, DCFormer's val loss differs by {diff}; "
                              "its point estimate is lower than the baseline's at all {sizes} sizes.",
                        "ja": "{preset} で学習費用を揃えると、DCFormer の検証損失の差は {diff}です。"
                              "{sizes} サイズすべてで DCFormer の損失（点推定）がベースラインを下回りました。"},
    "reason.loss_one_seed": {"en": "At equal tokens on {preset}, DCFormer's val loss differs by {diff:+.4f} "
                                   "on one seed: no interval, so the loss decides nothing (GO needs it "
                                   "below zero beyond doubt).",
                             "ja": "{preset} で同一トークン数のとき、DCFormer の検証損失の差は 1 シードで "
                                   "{diff:+.4f} です。区間がないため損失では判定できません（GO には"
                                   "損失差が確実に 0 を下回る必要があります）。"},
    # -- where the gain comes from, how sure (decision/evidence.py, report/evidence.py) -------------
    "ev.baseline": {"en": "The verdict compares {treat} with {base}, the best cheap baseline this study ran.",
                    "ja": "判定は {treat} を、本調査で実行した最良の低コストなベースラインである {base}"
                          " と比較しています。"},
    "ev.attribution": {"en": "Where the gain comes from at {preset} (val loss difference in nats/byte with "
                             "its 95% interval; speed = tokens/s ratio): QK-norm alone {qk_norm} at "
                             "{qk_norm_speed}; DCMHA on top of it {dcmha} at {dcmha_speed}; together "
                             "{total} at {total_speed}.",
                       "ja": "{preset} での効果の内訳（検証損失の差 nats/byte と 95% 区間、速度はトークン/秒"
                             "の比）：QK-norm のみで {qk_norm}（速度 {qk_norm_speed}）、その上に DCMHA を"
                             "加えて {dcmha}（速度 {dcmha_speed}）、合計 {total}（速度 {total_speed}）です。"},
    "ev.pooled": {"en": "Pooled over {sizes} sizes ({n} seed pairs): {diff} nats/byte, each size keeping "
                        "its own seed-to-seed spread (Welch: standard error {se}, {df} degrees of freedom). "
                        "Assumption: one mean at every size; no two sizes differ detectably (Welch's t test "
                        "at the 5% level, which with {min_n} seeds at a size finds only large differences).",
                  "ja": "{sizes} サイズをまとめた推定（シード対 {n} 組）は nats/byte 単位で "
                        "{diff}です。シード間のばらつきはサイズごとに別々に扱っています（Welch 法：標準誤差"
                        " {se}、自由度 {df}）。前提：平均はどのサイズでも共通とみなしています。どの 2 "
                        "サイズの間にも検出できる差はありません（Welch の t 検定、5% 水準。ただし 1 "
                        "サイズあたりシード {min_n} 個では、大きな差しか検出できません）。"},
    "ev.pooled_apart": {"en": "Not pooled: {a} and {b} differ beyond chance (Welch's t test at the 5% level), "
                              "so one mean for all {sizes} sizes would hide a trend. Read each size on its "
                              "own (pooling would give {diff} from {n} pairs; at least {min_n} seeds a size).",
                        "ja": "サイズをまとめた推定は使いません：{a} と {b} の結果の違いは偶然の範囲を超えていま"
                              "す（Welch の t 検定、5% 水準）。{sizes} サイズに共通の平均を 1 つ当"
                              "てはめると、サイズによる傾向が隠れてしまいます。各サイズの結果を個別にお読みください（まと"
                              "めた場合はシード対 {n} 組で {diff}。1 サイズあたりシード {min_n} 個"
                              "以上）。"},
    "ev.by_size": {"en": "Size by size, smallest first, the equal-token loss difference (DCFormer minus the "
                         "baseline, nats/byte; point estimates) is {values}.{trend}{overlap}",
                   "ja": "サイズ別（小さい順）に見た同一トークン数での検証損失の差（DCFormer − ベースライン、"
                         "nats/byte、点推定）は {values} です。{trend}{overlap}"},
    "ev.trend.lead_shrinks": {"en": " DCFormer's lead shrinks as the model grows.",
                              "ja": "モデルが大きくなるほど DCFormer のリードは縮まります。"},
    "ev.trend.lead_gone": {"en": " DCFormer's lead shrinks as the model grows and is gone at the largest size.",
                           "ja": "モデルが大きくなるほど DCFormer のリードは縮まり、最大サイズではなくなります。"},
    "ev.trend.lead_grows": {"en": " DCFormer's lead grows as the model grows.",
                            "ja": "モデルが大きくなるほど DCFormer のリードは広がります。"},
    "ev.trend.behind_grows": {"en": " DCFormer falls further behind as the model grows.",
                              "ja": "モデルが大きくなるほど DCFormer の遅れは広がります。"},
    "ev.trend.behind_shrinks": {"en": " DCFormer's deficit shrinks as the model grows.",
                                "ja": "モデルが大きくなるほど DCFormer の遅れは縮まります。"},
    "ev.trend.lead_won": {"en": " DCFormer's deficit shrinks as the model grows and turns into a lead at the "
                                "largest size.",
                          "ja": "モデルが大きくなるほど DCFormer の遅れは縮まり、最大サイズではリードに変わります。"},
    "ev.by_size.overlap": {"en": " The sizes' 95% intervals all overlap, so these seeds cannot yet tell the "
                                 "sizes apart: a pattern to check at a larger size, not yet a measured trend.",
                           "ja": "ただし各サイズの 95% 区間はすべて重なっており、このシード数ではサイズ間の違いを"
                                 "まだ区別できません。傾向として確定したものではなく、より大きなサイズで確かめるべき"
                                 "パターンです。"},
    "ev.widened": {"en": "With as few as {n} runs at a size, the compute multiplier's and the net benefit's "
                         "intervals are the bootstrap's widened {factor}×: a bootstrap over so few runs is too "
                         "narrow (on simulated studies the plain one held the true multiplier 76% of the "
                         "time at 3 seeds, the widened one 97%).",
                   "ja": "1 サイズあたりの実行が {n} 件と少ないため、計算量倍率と正味の効果の区間は、ブートストラップ"
                         "区間を {factor} 倍に広げています。実行がこれほど少ないと、ブートストラップ区間は狭すぎるためです"
                         "（模擬実験では、元の区間が真の倍率を含んだのはシード 3 個で 76%、広げた区間は 97% でした）。"},
    "ev.unbounded": {"en": "In {n} of {total} bootstrap resamples a DCFormer loss lies below the lowest loss "
                           "the refitted Transformer++ curve can reach, so Transformer++ would need unbounded "
                           "compute there: those resamples count as an infinite multiplier, and an upper "
                           "bound they reach reads ∞.",
                     "ja": "ブートストラップ再標本 {total} 個のうち {n} 個では、DCFormer の損失"
                           "が、当てはめ直した Transformer++ の曲線が到達できる最低の損失を下回ります。"
                           "この損失に達するには Transformer++ に無限の計算量が必要になるため、これらの"
                           "再標本では倍率を無限大として数えます。区間の上限がこれらの再標本に及ぶ場合、上限は ∞ と"
                           "表示します。"},
    "ev.two_seeds": {"en": "Unreliable interval at {presets}: only 2 seeds, so the t interval has one degree "
                           "of freedom and its width rests on a single spread (far too narrow or too wide "
                           "by chance). Run a third seed.",
                     "ja": "{presets} の区間は信頼できません：シードが 2 個しかなく、t 区間の自由度は 1 で、"
                           "幅はたまたまのばらつき 1 つで決まります（偶然に狭すぎたり広すぎたりします）。"
                           "3 つ目のシードを実行してください。"},
    "ev.confirm.confirmed": {"en": "Confirmed: the comparison that decides uses fresh seeds ({seeds}) at each "
                                   "variant's chosen learning rate, not the sweep runs that chose it (no "
                                   "winner's curse).",
                             "ja": "確認済み：判定に用いる比較は、学習率を選んだ探索の実行ではなく、各バリアントの"
                                   "選ばれた学習率で新しいシード（{seeds}）を用いた実行です（学習率選びの偶然による過大評価、いわゆる勝者の呪いは含まれません）。"},
    "ev.confirm.partial": {"en": "Partly confirmed: at some sizes the comparison uses fresh seeds ({seeds}); at "
                                 "the others it uses the sweep's own runs, whose estimates are optimistic.",
                           "ja": "一部のみ確認済み：一部のサイズでは新しいシード（{seeds}）で比較していますが、"
                                 "残りのサイズでは探索自体の実行を用いており、その推定は楽観的です。"},
    "ev.confirm.optimistic": {"en": "Optimistic: no confirmation stage. The learning rates were chosen on the "
                                    "same runs that are compared, so the luck of the best-looking rate counts "
                                    "as gain (winner's curse). Launch with confirmation seeds to remove it.",
                              "ja": "楽観的な推定です：確認ステージがありません。比較する実行そのもので学習率を"
                                    "選んだため、最良に見えた学習率の運の良さが効果に含まれます（勝者の呪い）。"
                                    "確認用シードを指定して実行すると取り除けます。"},
    "ev.confirm.pending": {"en": "Optimistic for now: the learning rates were chosen on the same runs that are "
                                 "compared. The confirmation stage (seeds {seeds}) has not finished; once it "
                                 "has, only its runs decide.",
                           "ja": "現時点では楽観的な推定です：比較する実行そのもので学習率を選んでいます。確認ステージ"
                                 "（シード {seeds}）はまだ完了していません。完了後は確認ステージの実行だけで判定します。"},
    "ev.confirm.none": {"en": "No learning-rate sweep: no rate was chosen on the data, so there is nothing "
                              "to confirm.",
                        "ja": "学習率の探索はありません：データに基づいて選んだ学習率がないため、確認するものは"
                              "ありません。"},
    "reason.optimistic": {"en": "Optimistic: no confirmation stage (the learning rates were chosen on the "
                                "compared runs).",
                          "ja": "楽観的な推定です：確認ステージがありません（比較した実行で学習率を選んでいます）。"},
    "reason.pending": {"en": "Optimistic until the confirmation stage finishes (the learning rates were "
                             "chosen on the compared runs).",
                       "ja": "確認ステージが完了するまでは楽観的な推定です（比較した実行で学習率を選んでいます）。"},
    "rec.qk_norm": {"en": "Whatever the verdict: add QK-norm to the {base} we run today. At {preset}, "
                          "{with} is {diff:+.4f} nats/byte ({low:+.4f} to {high:+.4f}, {n} seeds) at "
                          "{ratio} the speed: almost free.",
                    "ja": "判定がどうであれ、現在の {base} に QK-norm を加えることをお勧めします。"
                          "{preset} では {with} と {base} の検証損失の差が {diff:+.4f}"
                          " nats/byte（{low:+.4f}〜{high:+.4f}、シード {n} 個）、"
                          "速度比は {ratio} で、追加の費用はほとんどかかりません。"},
    "rec.qk_norm_unclear": {"en": "QK-norm alone: at {preset}, {with} differs from {base} by {diff:+.4f} "
                                  "nats/byte ({low:+.4f} to {high:+.4f}, {n} seeds) at {ratio} the "
                                  "speed; the interval includes zero, so its gain is not established yet.",
                            "ja": "QK-norm のみの効果：{preset} で {with} と {base} の差は {diff:+.4f} "
                                  "nats/byte（{low:+.4f}〜{high:+.4f}、シード {n} 個）、速度比は {ratio} "
                                  "です。区間が 0 を含むため、効果はまだ確認できていません。"},
    "rec.qk_norm_no_interval": {"en": "QK-norm alone: at {preset}, {with} differs from {base} by "
                                      "{diff:+.4f} nats/byte from {n} seed pair (no interval yet) at "
                                      "{ratio} the speed; more seeds will tell whether it is a gain.",
                                "ja": "QK-norm のみの効果：{preset} で {with} と {base} の差は"
                                      " {diff:+.4f} nats/byte、"
                                      "速度比は {ratio} です（シード対 {n} 組のため区間はまだありません）。"
                                      "効果かどうかはシードを増やすと分かります。"},
    "risk.no_qknorm_baseline": {"en": "The baseline is {base} without QK-norm: part of DCFormer's gain may be "
                                      "QK-norm, which Transformer++ gets almost for free. Run the ablation "
                                      "ladder (--ladder) to split it.",
                                "ja": "ベースラインは QK-norm なしの {base} です："
                                      "DCFormer の効果の一部は、Transformer++ でもほぼ無償で得られる Q"
                                      "K-norm によるものかもしれません。段階的アブレーション（--ladder）"
                                      "を実行して分けてください。"},
    "dec.evidence": {"en": "Where the gain comes from, and how sure we are", "ja": "効果の出どころと確からしさ"},
    "dec.recommend": {"en": "Recommendations that do not depend on DCFormer",
                      "ja": "DCFormer の採否に関わらない提案"},
    "att.none": {"en": "No ablation ladder at any size: the gain cannot be split into its QK-norm and "
                       "DCMHA parts.",
                 "ja": "どのサイズにも段階的アブレーションがないため、"
                       "効果を QK-norm と DCMHA の部分に分けられません。"},
    "att.col.part": {"en": "Part", "ja": "内訳"},
    "att.col.rungs": {"en": "Compared", "ja": "比較"},
    "att.col.loss": {"en": "Val loss difference (95% interval)", "ja": "検証損失の差（95% 区間）"},
    "att.col.speed": {"en": "Speed (tokens/s ratio)", "ja": "速度（トークン/秒の比）"},
    "att.part.qk_norm": {"en": "QK-norm", "ja": "QK-norm"},
    "att.part.dcmha": {"en": "DCMHA on top", "ja": "DCMHA の上乗せ"},
    "att.part.total": {"en": "Total", "ja": "合計"},
    "dec.table.spread": {"en": "Seed-to-seed sd", "ja": "シード間の標準偏差"},
    "dec.table.flag": {"en": "Note", "ja": "注記"},
    "dec.unreliable": {"en": "2 seeds: unreliable", "ja": "シード 2 個：信頼性が低い"},
    "reason.best_lr": {"en": "Each variant is compared at its own best learning rate ({rates}): "
                             "{n} runs counted, {excluded} sweep runs at other rates left out of the "
                             "comparison.",
                       "ja": "各バリアントをそれぞれ最良の学習率で比較しています（{rates}）。比較に"
                             "用いた実行は {n} 件で、他の学習率の探索実行 {excluded} 件は比較から除外して"
                             "います。"},
    "reason.best_lr_chosen": {"en": "Each variant's learning rate was chosen on the sweep "
                                    "({rates}; {n} sweep runs at those rates, {excluded} at other "
                                    "rates); where fresh-seed runs at those rates have finished, "
                                    "only they are compared.",
                              "ja": "各バリアントの学習率は探索で選びました（{rates}。その学習率の"
                                    "探索実行 {n} 件、他の学習率 {excluded} 件）。その学習率で新しい"
                                    "シードの実行が完了したサイズでは、それらだけを比較しています。"},
    "reason.extrapolated": {"en": "Some DCFormer losses lie outside the losses Transformer++ measured "
                                  "(below its best or above its worst): the multiplier extrapolates the fit.",
                            "ja": "DCFormer の損失の一部が、Transformer++ で測定した損失の範囲外（その"
                                  "最良値より低い、または最悪値より高い）にあります。そのため、倍率は当てはめ曲線の外挿による"
                                  "ものです。"},
    "flip.go": {"en": "It would drop from GO if the lower bound fell to {go:.2f} or below, e.g. a speed "
                      "ratio under {ratio_needed:.2f} on your hardware.",
                "ja": "下限が {go:.2f} 以下に下がれば GO ではなくなります。例えば、"
                      "実際に使うハードウェアで速度比が {ratio_needed:.2f} を下回る場合です。"},
    "flip.conditional": {"en": "GO needs a net-benefit lower bound above {go:.2f}: a speed ratio of at "
                               "least {ratio_needed:.2f} (now {ratio:.2f}) would give it.",
                         "ja": "GO には正味の効果の下限が {go:.2f} を超える必要があります。速度比が "
                               "{ratio_needed:.2f} 以上（現在 {ratio:.2f}）になれば満たします。"},
    "flip.conditional_both": {"en": "GO needs two things: a net-benefit lower bound above {go:.2f} (a speed "
                                    "ratio of at least {ratio_needed:.2f} would give it; now {ratio:.2f}), "
                                    "and DCFormer's loss at {preset} "
                                    "below the baseline's beyond doubt (its interval is now {diff_low:+.4f} "
                                    "to {diff_high:+.4f}; more seeds at that size narrow it).",
                              "ja": "GO には 2 つの条件を満たす必要があります。"
                                    "1 つは正味の効果の下限が {go:.2f} を超えることで、"
                                    "速度比が {ratio_needed:.2f} 以上（現在 {ratio:.2f}）になれば"
                                    "満たします。"
                                    "もう 1 つは {preset} で DCFormer の損失がベースラインを確実に下回"
                                    "ることで、現在の区間は {diff_low:+.4f}〜{diff_high:+.4f}"
                                    " です（このサイズでシードを増やすと区間が狭まります）。"},
    "flip.conditional_loss": {"en": "The net benefit already clears GO's bar (lower bound {net_low:.2f} > "
                                    "{go:.2f}); GO also needs DCFormer's loss at {preset} below the "
                                    "baseline's beyond doubt (its interval is now {diff_low:+.4f} to "
                                    "{diff_high:+.4f}; more seeds at that size narrow it).",
                              "ja": "正味の効果は GO の基準をすでに満たしています（下限 {net_low:.2f} > "
                                    "{go:.2f}）。GO にはさらに、{preset} で DCFormer の損失がベースラインを"
                                    "確実に下回ることが必要です（現在の区間は {diff_low:+.4f}〜"
                                    "{diff_high:+.4f}。このサイズでシードを増やすと区間が狭まります）。"},
    "flip.conditional_one_seed": {"en": "The net benefit already clears GO's bar (lower bound "
                                        "{net_low:.2f} > {go:.2f}); GO also needs DCFormer's loss at "
                                        "{preset} below the baseline's beyond doubt, which one seed "
                                        "cannot show: run more seeds at that size.",
                                  "ja": "正味の効果は GO の基準をすでに満たしています（下限 {net_low:.2f} > "
                                        "{go:.2f}）。GO にはさらに、{preset} で DCFormer の損失が"
                                        "ベースラインを確実に下回ることが必要ですが、1 シードでは示せません。"
                                        "このサイズでシードを増やしてください。"},
    "flip.conditional_one_seed_both": {"en": "GO needs a net-benefit lower bound above {go:.2f} (now "
                                             "{net_low:.2f}) and DCFormer's loss at {preset} below the "
                                             "baseline's beyond doubt, which one seed cannot show: run "
                                             "more seeds at that size.",
                                       "ja": "GO には、正味の効果の下限が {go:.2f} を超えること（現在 "
                                             "{net_low:.2f}）と、{preset} で DCFormer の損失がベースライン"
                                             "を確実に下回ることが必要です。1 シードでは示せないため、この"
                                             "サイズでシードを増やしてください。"},
    "flip.narrower": {"en": "More seeds and sizes can also give it: the net benefit's point estimate "
                            "({net:.2f}) is above {go:.2f}, so a narrower interval around it would clear "
                            "the bar.",
                      "ja": "シードとサイズを増やすことでも満たせます。正味の効果の点推定（{net:.2f}）は "
                            "{go:.2f} を上回っているため、区間が狭まれば基準を超えます。"},
    "flip.seeds_cannot": {"en": "More seeds alone cannot give GO: the net benefit's point estimate ({net:.2f}) "
                                "is below {go:.2f}, and more seeds only narrow the interval around it. They "
                                "can confirm or rule out NO-GO (upper bound now {net_high:.2f}; NO-GO "
                                "below {nogo:.2f}). What could change the answer: the speed ratio on the "
                                "GPU you would train on, and the multiplier at larger sizes.",
                          "ja": "シードを増やすだけでは GO になりません。正味の効果の点推定（{net:.2f}）が "
                                "{go:.2f} を下回っており、シードの追加はその周りの区間を狭めるだけだから"
                                "です。NO-GO かどうかの確認には役立ちます（現在の上限は {net_high:.2f}、"
                                "{nogo:.2f} 未満なら NO-GO）。結論を変えうるのは、実際に学習に使う GPU "
                                "での速度比と、より大きなサイズでの計算量倍率です。"},
    "flip.faster_than_baseline": {"en": "A speed ratio of {ratio_needed:.2f} means DCFormer training "
                                        "faster than {baseline} although it computes {flops:.2f}× as "
                                        "much per token: no kernel makes that likely, so this route "
                                        "is closed in practice.",
                                  "ja": "速度比 {ratio_needed:.2f} とは、トークンあたりの計算量が "
                                        "{flops:.2f} 倍あるにもかかわらず、DCFormer が {baseline} より"
                                        "速く学習することを意味します。カーネルの改良で届く見込みは"
                                        "低く、この道は事実上閉ざされています。"},
    "flip.go_shrinks": {"en": "The net benefit over all sizes clears GO's bar (lower bound {net_low:.2f} > "
                              "{go:.2f}), but at the largest size, {preset}, it is {net_largest:.2f} on "
                              "its own: DCFormer's advantage shrinks as the model grows, and the target is "
                              "larger still. A larger size decides whether it holds.",
                        "ja": "全サイズを通した正味の効果は GO の基準を満たしています（下限 {net_low:.2f} > "
                              "{go:.2f}）。しかし最大サイズの {preset} 単独では {net_largest:.2f} です。"
                              "DCFormer の優位はモデルが大きくなるにつれて縮んでおり、目標はさらに大きい"
                              "サイズです。優位が保たれるかは、より大きなサイズで確かめる必要があります。"},
    "flip.nogo_loss": {"en": "It would leave NO-GO only if DCFormer's loss at {preset} were no longer worse "
                             "than the baseline's beyond doubt (its interval is now {diff_low:+.4f} to "
                             "{diff_high:+.4f}): speed is not what holds it back.",
                       "ja": "{preset} で DCFormer の損失がベースラインより明らかに悪い状態（現在の区間は "
                             "{diff_low:+.4f}〜{diff_high:+.4f}）が解消されない限り、NO-GO（見送り）から外れ"
                             "ません。速度が原因ではありません。"},
    "flip.go_sizes_also": {"en": "GO also needs {need} model sizes (the study has {n}): add a size above "
                                 "the largest.",
                           "ja": "また、GO にはモデルサイズが {need} 個必要です（この調査は {n} 個）。"
                                 "最大サイズより大きいサイズを追加してください。"},
    "flip.go_sizes": {"en": "Everything else says GO, but the study has {n} model sizes and GO needs "
                            "{need}: with fewer, nothing checks the compute curve (through two sizes it "
                            "is a straight line). Add a size above the largest.",
                      "ja": "ほかの条件はすべて GO を示していますが、モデルサイズは {n} 個で、GO には "
                            "{need} 個が必要です。それより少ないと計算量曲線を検証できません（2 サイズ"
                            "では直線になります）。最大サイズより大きいサイズを追加してください。"},
    "flip.nogo": {"en": "It would leave NO-GO with a speed ratio of at least {ratio_needed:.2f} (now "
                        "{ratio:.2f}), e.g. from a faster kernel, and a loss interval not above zero.",
                  "ja": "速度比が {ratio_needed:.2f} 以上（現在 {ratio:.2f}。カーネルの高速化などによる）になり、"
                        "かつ損失差の区間全体が 0 を上回る（DCFormer の損失が明らかに悪い）状態でなければ、"
                        "NO-GO（見送り）から外れます。"},
    "ladder.one_arch": {"en": "Only one architecture: there is nothing to compare; choose both.",
                        "ja": "アーキテクチャが 1 つだけでは比較できません。両方を選んでください。"},
    "ladder.few_sizes": {"en": "{n} model size(s): a reliable compute multiplier needs at least "
                               "{need} sizes (with two, only a rough straight-line fit; with one, none).",
                         "ja": "モデルサイズが {n} 個です。信頼できる計算量倍率の推定には {need} サイズ以上"
                               "が必要です（2 サイズでは直線による粗い当てはめのみ、1 サイズでは推定不可）。"},
    "ladder.narrow": {"en": "The sizes span only {span}× in parameters: the multiplier fit needs at "
                            "least {need}×, so it cannot be estimated reliably.",
                      "ja": "サイズのパラメータ数の幅が {span} 倍しかありません。倍率の当てはめには "
                            "{need} 倍以上が必要なため、信頼できる推定ができません。"},
    "ladder.tokens_fixed": {"en": "The training tokens do not grow with size: scale them with size "
                                  "(tokens per parameter) so larger models are not under-trained.",
                            "ja": "学習トークン数がサイズとともに増えていません。大きなモデルが学習不足に"
                                  "ならないよう、トークン数をサイズに比例させてください（パラメータあたりの"
                                  "トークン数）。"},
    "next.what.sizes": {"en": "run {presets} with both architectures (seeds {seeds})",
                        "ja": "{presets} を両アーキテクチャで実行（シード {seeds}）"},
    "next.what.seeds": {"en": "add seed(s) {seeds} for both architectures at {presets}",
                        "ja": "{presets} で両アーキテクチャにシード {seeds} を追加"},
    "next.what.sizes_ladder": {"en": "run {presets} with every variant of the ladder ({variants}; "
                                     "seeds {seeds})",
                               "ja": "{presets} を段階的アブレーションの全バリアント（{variants}）"
                                     "で実行（シード {seeds}）"},
    "next.what.seeds_ladder": {"en": "add seed(s) {seeds} for every variant ({variants}) at {presets}",
                               "ja": "{presets} で全バリアント（{variants}）にシード {seeds} を追加"},
    "next.what.confirm_ladder": {"en": "add confirmation seed(s) {seeds} for every variant "
                                       "({variants}) at its chosen learning rate, at {presets}",
                                 "ja": "{presets} で全バリアント（{variants}）に、"
                                       "それぞれに選ばれた学習率で確認用シード {seeds} を追加"},
    "next.what.confirm": {"en": "add confirmation seed(s) {seeds} for both architectures at their "
                                "chosen learning rates, at {presets}",
                          "ja": "{presets} で両アーキテクチャに、"
                                "それぞれに選ばれた学習率で確認用シード {seeds} を追加"},
    "next.what.arch": {"en": "run {arch} at {presets}", "ja": "{presets} で {arch} を実行"},
    "next.what.failed": {"en": "rerun the {n} failed run(s)", "ja": "失敗した {n} 件を再実行"},
    "next.join": {"en": "; ", "ja": "、"},
    "next.line": {"en": "Next step: {what} ({n} runs) — about {wall}, {hours} device-hours, {cost} "
                        "on {device}.",
                  "ja": "次のステップ：{what}（計 {n} 件）— 所要時間は約 {wall}、デバイス時間 {hours} "
                        "時間、費用 {cost}（{device}）の見込みです。"},
    "next.speed_first": {"en": "Next step: measure the training speed on {kind}. Run `python -m dcpoc "
                               "bench model` on one {kind} with this database (DCPOC_DB; a few "
                               "minutes): the net benefit uses the speed ratio measured on {device} "
                               "({ratio}), which says nothing about {kind}, and the cost at scale "
                               "depends on it; once measured, the verdict and the projection use it.",
                         "ja": "次のステップ：{kind} で学習速度を測定してください。{kind} 1 台で、この"
                               "データベースを指定して（DCPOC_DB）`python -m dcpoc bench model` を実行"
                               "します（数分）。正味の効果は {device} で測った速度比（{ratio}）による"
                               "もので、{kind} での速度は分かりません。本番規模の費用はこの速度比で決まり、"
                               "測定後の判定と試算にはその値が使われます。"},
    "next.then": {"en": "Then: {what} ({n} runs) — about {wall}, {hours} device-hours, {cost} on {device}.",
                  "ja": "その後：{what}（計 {n} 件）— 所要時間は約 {wall}、デバイス時間 {hours} 時間、"
                        "費用 {cost}（{device}）の見込みです。"},
    "next.then_confirm": {"en": "Then, to confirm the GO at a larger size: {what} ({n} runs) — about {wall}, "
                                "{hours} device-hours, {cost} on {device}.",
                          "ja": "その後、より大きなサイズで GO を確かめるため：{what}（計 {n} 件）— 所要時間"
                                "は約 {wall}、デバイス時間 {hours} 時間、費用 {cost}（{device}）の見込みです。"},
    "phrase.speed_first": {"en": "The next step we would take is to measure the training speed on "
                                 "{kind} (a few minutes on one GPU): what DCFormer costs at scale "
                                 "depends on it.",
                           "ja": "次の一手は {kind} での学習速度の測定です（GPU 1 台で数分）。本番規模"
                                 "での DCFormer の費用はこの値で決まります。"},
    "rep.phrases": {"en": "Phrases for the meeting", "ja": "会議で使えるフレーズ"},
    "phrase.tested": {"en": "We trained Transformer++ and DCFormer on the same data: {n} runs at "
                            "{presets}, seeds {seeds}.",
                      "ja": "同じデータで Transformer++ と DCFormer を学習させ、{presets} のサイズ、"
                            "シード {seeds} で計 {n} 件の実行を比較しました。"},
    "phrase.result": {"en": "At {preset}, with equal training tokens, DCFormer's validation loss "
                            "differs from {baseline} by {diff}; below zero favours DCFormer.",
                      "ja": "{preset} で学習トークン数を揃えると、"
                            "DCFormer と {baseline} の検証損失の差は {diff}でした（マイ"
                            "ナスなら DCFormer が優位）。"},
    "phrase.result_none": {"en": "We have no pair of runs to compare yet, so there is no result "
                                 "to quote.",
                           "ja": "比較できる実行の組がまだないため、お伝えできる結果はありません。"},
    "phrase.net": {"en": "Counting its speed, DCFormer's net benefit is {net}; above 1× the same "
                         "quality costs less.",
                   "ja": "速度差も含めた DCFormer の正味の効果は {net}です。1 倍を超えれば、"
                         "同じ品質をより安く得られます。"},
    "phrase.net_target": {"en": "Counting its speed measured on {kind}, DCFormer's net benefit there is "
                                "{net}; above 1× the same quality costs less.",
                          "ja": "{kind} で測った速度を含めると、DCFormer の正味の効果は {net}です。1 倍を"
                                "超えれば、同じ品質をより安く得られます。"},
    "phrase.verdict": {"en": "Our recommendation today: {verdict}.",
                       "ja": "現時点の結論は「{verdict}」です。"},
    "phrase.next": {"en": "The next step we would take is to {what} (about {wall}, {cost}).",
                    "ja": "次の一手は「{what}」で、所要時間は約 {wall}、"
                          "費用は {cost} の見込みです。"},
    "need.arch": {"en": "Run {arch}: no finished run of it yet.",
                  "ja": "{arch} を実行してください（完了した実行がまだありません）。"},
    "need.corpus": {"en": "Runs used {n} different corpora: rerun on one corpus.",
                    "ja": "実行が {n} 種類のコーパスにまたがっています。1 つのコーパスで揃えて再実行してください。"},
    "need.failed": {"en": "{n} runs failed or diverged: rerun them or find the cause.",
                    "ja": "{n} 件の実行が失敗または発散しました。再実行するか原因を調べてください。"},
    "need.sizes": {"en": "Run {n} more model size(s) (have {have}): the compute fit needs a ladder.",
                   "ja": "モデルサイズをあと {n} 種類実行してください（現在 {have} 種類）。計算量の当てはめには"
                         "複数サイズが必要です。"},
    "need.seeds": {"en": "Run {n} more seed(s) of both architectures (have {have} paired): one seed "
                         "gives no interval.",
                   "ja": "両アーキテクチャでシードをあと {n} 個実行してください（現在のシード対は {have}"
                         " 組）。シードが 1 個では 95% 区間を出せません。"},
    "need.speed": {"en": "Measure both architectures at every size on the same device to get the "
                         "speed ratio.",
                   "ja": "速度比を得るため、すべてのサイズで両アーキテクチャを同じデバイスで測定してください。"},
    "why.no_pairs": {"en": "No seed run by both architectures.", "ja": "両方で実行したシードがありません。"},
    "why.one_seed": {"en": "One seed: no interval exists.", "ja": "シードが 1 つのため区間は出せません。"},
    "why.no_arch": {"en": "Both architectures are needed.", "ja": "両アーキテクチャの実行が必要です。"},
    "why.one_size": {"en": "Transformer++ ran at {n} compute value(s): a fit needs two.",
                     "ja": "Transformer++ の計算量が {n} 種類のみで、当てはめには 2 種類以上が必要です。"},
    "why.beyond_fit": {"en": "A DCFormer loss lies below the lowest loss Transformer++'s fitted curve can "
                             "reach: no finite multiplier on this ladder. A larger size gives the curve a "
                             "lower Transformer++ loss to fit.",
                       "ja": "DCFormer の損失のいずれかが、Transformer++ の当てはめ曲線が到達でき"
                             "る最低の損失を下回っているため、今回のサイズ構成では有限の倍率が得られません。より大きなサ"
                             "イズを実行すれば、Transformer++ のより低い損失を曲線の当てはめに使えます。"},
    "why.unbounded": {"en": "The compute multiplier is not pinned down: in {n} of {total} bootstrap resamples "
                            "Transformer++'s refitted curve never reaches a DCFormer loss (its floor lies "
                            "within the seeds' noise of DCFormer's losses), so the interval is unbounded above "
                            "while its lower bound does not clear GO's bar. A larger size (a lower "
                            "Transformer++ loss to fit) or more seeds pin the floor down.",
                      "ja": "計算量倍率が定まりません：ブートストラップ再標本 {total} 個のうち {n} 個で、"
                            "当てはめ直した Transformer++ の曲線が DCFormer の損失に届きません"
                            "（曲線が到達できる最低の損失と DCFormer の損失との差が、シード間のばらつきの範囲"
                            "内にあります）。そのため区間の上限は ∞ となり、一方で下限は GO の基準を超えていませ"
                            "ん。より大きなサイズを実行する（Transformer++ のより低い損失を当てはめに使え"
                            "る）か、シードを増やせば、この最低の損失が定まります。"},
    "why.flat_curve": {"en": "Transformer++'s loss does not fall with compute across these sizes: the fitted "
                             "line gives no multiplier. Larger sizes, or more seeds to see through the noise, "
                             "are needed.",
                       "ja": "これらのサイズでは、計算量を増やしても Transformer++ の損失が下がっていない"
                             "ため、当てはめた直線から倍率は得られません。より大きなサイズを実行するか、ばらつきに埋もれ"
                             "た傾向を捉えられるようシードを増やす必要があります。"},
    "why.bootstrap_degenerate": {"en": "Too few runs for a bootstrap interval.",
                                 "ja": "ブートストラップ区間を出すには実行数が足りません。"},
    "why.no_speed": {"en": "No speed ratio measured on one device.",
                     "ja": "同一デバイスでの速度比が測定されていません。"},
    "risk.untuned": {"en": "One shared learning rate: both architectures were trained at the same rate, "
                           "and DCFormer is more sensitive to it, so the comparison can flip with the "
                           "rate. Mitigation: sweep the rate per architecture (a study with a sweep).",
                     "ja": "学習率が共通：両アーキテクチャを同じ学習率で学習しており、DCFormer は学習率に"
                           "より敏感なため、学習率次第で比較結果が逆転し得ます。対策：アーキテクチャごとに"
                           "学習率を探索する調査を実行してください。"},
    "risk.tuning": {"en": "DCFormer needs its own tuning: at {preset} the best rates were "
                          "{baseline} {tf_lr} and DCFormer {dc_lr}; across the rates tried the loss "
                          "moved by {tf_spread:.3f} ({baseline}) and {dc_spread:.3f} nats/byte "
                          "(DCFormer). Mitigation: budget a learning-rate sweep for every adoption.",
                    "ja": "DCFormer には専用の調整が必要です。{preset} での最良の学習率は {baseline} が "
                          "{tf_lr}、DCFormer が {dc_lr} で、試した学習率の範囲で損失は {tf_spread:.3f}"
                          "（{baseline}）、{dc_spread:.3f} nats/byte（DCFormer）変動しました。対策：導入時には"
                          "必ず学習率探索の予算を確保してください。"},
    "risk.tuning_same": {"en": "The learning rate matters: at {preset} both did best at {tf_lr}, but "
                               "across the rates tried the loss moved by {tf_spread:.3f} ({baseline}) "
                               "and {dc_spread:.3f} nats/byte (DCFormer). Mitigation: sweep the rate "
                               "again at production scale.",
                         "ja": "学習率の影響があります。{preset} では両者とも {tf_lr} が最良でしたが、試した"
                               "学習率の範囲で損失は {tf_spread:.3f}（{baseline}）、{dc_spread:.3f} "
                               "nats/byte（DCFormer）変動しました。対策：本番規模でも学習率を探索してください。"},
    "risk.tuning_flip": {"en": "At one shared rate the answer changes sign (DCFormer minus "
                               "({baseline}) by rate: {diffs} nats/byte): a single-rate comparison "
                               "would have been misleading.",
                         "ja": "どの学習率で揃えて比べるかによって、差の符号が逆転します（学習率ごとの DCFormer"
                               " −（{baseline}）：{diffs} nats/byte）。"
                               "単一の学習率だけで比較していたら、誤った結論になっていたところです。"},
    "risk.lr_diverged": {"en": "Training diverged at {preset} at these rates ({where}). Mitigation: keep "
                               "to the rates that trained, and watch the loss of every production run.",
                         "ja": "{preset} では、次の学習率で学習が発散しました（{where}）。対策：発散しなか"
                               "った学習率の範囲で学習し、本番のすべての実行で損失を監視してください。"},
    "risk.lr_edge": {"en": "The best rate of {archs} is at the edge of the grid tried: a better one may "
                           "lie outside it. Mitigation: widen the grid.",
                     "ja": "{archs} の最良の学習率が探索範囲の端にあり、"
                           "範囲外により良い学習率があるかもしれません。対策：探索範囲を広げてください。"},
    "risk.extrapolation": {"en": "Small-scale extrapolation: the PoC's models are far smaller than "
                                 "production. Mitigation: confirm at one larger size before committing.",
                           "ja": "小規模からの外挿：PoC のモデルは本番よりはるかに小規模です。対策：本格導入の前に、"
                                 "一段大きいサイズで確認してください。"},
    "risk.seed_variance": {"en": "Seed variance: differences this small can come from the random seed. "
                                 "Mitigation: at least 3 seeds at the decisive size.",
                           "ja": "シードによるばらつき：この程度の差は乱数シードでも生じ得ます。対策：判断に"
                                 "使うサイズでシード 3 個以上を回してください。"},
    "risk.kernel": {"en": "Kernel maturity: the fused DCMHA kernel is new and its speed depends on the "
                          "GPU. Mitigation: benchmark on the production GPU before adoption.",
                    "ja": "カーネルの成熟度：DCMHA の融合カーネルは新しく、速度は GPU に依存します。対策："
                          "導入前に本番 GPU でベンチマークしてください。"},
    "rep.infer": {"en": "Inference ({preset} on {device}, {threads} thread(s), {date}, batch 1; against plain "
                        "Transformer++): per generated token DCFormer takes {dc_p50:.2f} against "
                        "{tf_p50:.2f} ms at the median (a generation speed ratio of {decode:.2f}× in "
                        "tokens/s), and "
                        "{dc_p95:.2f} against {tf_p95:.2f} ms at the 95th percentile; its cache holds "
                        "{cache:.2f}× the bytes per token.",
                  "ja": "推論（{preset}、{device}、{threads} スレッド、{date}、バッチ 1。比較相手は QK-norm "
                        "なしの Transformer++）：1 トークンの生成に DCFormer は中央値で {dc_p50:.2f} ms"
                        "（Transformer++ は {tf_p50:.2f} ms。文章生成の速度比はトークン/秒で {decode:.2f} 倍）、95 パーセン"
                        "タイルで {dc_p95:.2f} ms（同 {tf_p95:.2f} ms）かかり、1 トークンあたりのキャッシュ"
                        "容量は {cache:.2f} 倍です。"},
    "rep.infer_none": {"en": "Inference speed not measured yet: run `python -m dcpoc bench infer`.",
                       "ja": "推論速度は未計測です。`python -m dcpoc bench infer` を実行してください。"},
    "risk.inference": {"en": "Inference speed: DCFormer recombines its attention heads (DCMHA's "
                             "composition), which adds work for every generated token. Mitigation: "
                             "measure serving latency and cost with `python -m dcpoc bench infer`.",
                       "ja": "推論速度：DCFormer はアテンションのヘッドを組み合わせ直す処理（DCMHA の合成）の分、"
                             "生成する 1 トークンごとの計算が増えます。対策：`python -m dcpoc bench infer` で"
                             "推論の遅延と費用を測ってください。"},
    "risk.inference_measured": {"en": "Inference speed: DCFormer recombines its attention heads (DCMHA's "
                                      "composition), which adds work for every generated token. Measured on "
                                      "{device} ({preset}, batch 1, {date}): a generation speed ratio of "
                                      "{ratio:.2f}× Transformer++'s tokens/s. Mitigation: measure it again on "
                                      "the production GPU (`python -m dcpoc bench infer`).",
                                "ja": "推論速度：DCFormer はアテンションのヘッドを組み合わせ直す処理（DCMHA の合成）"
                                      "の分、生成する 1 トークンごとの計算が増えます。{device} では測定済みで"
                                      "（{preset}、バッチ 1、{date}）、文章生成の速度は Transformer++ の "
                                      "{ratio:.2f} 倍（トークン/秒）でした。対策：本番の GPU で再測定してください"
                                      "（`python -m dcpoc bench infer`）。"},
    "risk.operations": {"en": "Operational complexity: a custom kernel and model code to maintain. "
                              "Mitigation: keep the PyTorch reference path as a fallback and pin versions.",
                        "ja": "運用の複雑さ：独自カーネルとモデルコードの保守が必要です。対策：PyTorch の"
                              "参照実装を代替経路として残し、バージョンを固定してください。"},
    "home.no_results": {"en": "No finished run with a validation loss yet.",
                        "ja": "検証損失のある完了済みの実行はまだありません。"},
    "home.no_study": {"en": "(runs outside any study)", "ja": "（調査に属さない実行）"},
    "home.scope": {"en": "Only runs on the same corpus with the same number of steps are compared; "
                         "speeds only on the same device.",
                   "ja": "比較するのは同じコーパス・同じステップ数の実行どうしのみ、速度は同じデバイス"
                         "どうしのみです。"},
    "home.group": {"en": "corpus {corpus} ({fingerprint})",
                   "ja": "コーパス {corpus}（{fingerprint}）"},
    # a size named with its budget (size_label): the Overview's card heading, and any table row
    # of a size the study ran at more than one budget
    "size.steps": {"en": "{preset} · {steps} steps", "ja": "{preset} · {steps} ステップ"},
    "size.tokens": {"en": "{preset} · {tokens} tokens", "ja": "{preset} · {tokens} トークン"},
    "home.arch_counts": {"en": "{arch}: {n} counted, {failed} failed, {diverged} diverged",
                         "ja": "{arch}：集計 {n} 件、失敗 {failed} 件、発散 {diverged} 件"},
    "home.loss_of": {"en": "{arch} val loss", "ja": "{arch} の検証損失"},
    "home.loss_baseline": {"en": "Baseline val loss", "ja": "ベースラインの検証損失"},
    "home.loss_diff": {"en": "Loss difference", "ja": "損失の差"},
    "home.loss_diff_help": {"en": "DCFormer's loss minus {baseline}'s, over the runs the verdict "
                                  "compares. Negative means DCFormer reaches a lower (better) loss.",
                            "ja": "DCFormer の損失から {baseline} の損失を引いた値（判定と同じ実行で集計）。"
                                  "マイナスなら DCFormer の損失が低い（良い）ことを意味します。"},
    "home.speed_ratio_on": {"en": "Speed ratio on {device}", "ja": "{device} での速度比"},
    "home.speed_ratio_help": {"en": "Training tokens per second of DCFormer divided by {baseline}'s at "
                                    "this size, both measured on the same device kind and number of "
                                    "processes; below 1 means DCFormer trains slower.",
                              "ja": "この規模での DCFormer の学習トークン/秒を {baseline} のもので割った値"
                                    "（同じ種類のデバイス・同じプロセス数で測定したもの同士）。"
                                    "1 未満なら DCFormer の学習が遅いことを意味します。"},
    "home.start": {"en": "Where to start", "ja": "はじめに"},
    "home.start_text": {
        "en": "1. **Launch a study**: pick presets, both architectures (or the ablation ladder) and a "
              "few seeds; the estimate shows time and cost before anything runs.\n2. **Runs**: watch "
              "progress live, cancel or resume.\n3. **Compare**: quality against tokens, time and "
              "money.\n4. **Decision**: the verdict, where the gain comes from, the projection to your "
              "target size.\n5. **Report**: the meeting summary in Markdown, HTML, PDF or PowerPoint, "
              "English or Japanese.\n6. **Inspect**: what DCFormer's head composition learned, beside "
              "the same head of a Transformer++ twin (text from a trained run: `python -m dcpoc "
              "generate`).\n7. **Settings**: your GPU prices.",
        "ja": "1. **調査を開始**：プリセット、両アーキテクチャ（または段階的アブレーション）、"
              "いくつかのシードを選びます。実行前に所要時間と費用の見積もりが表示されます。"
              "\n2. **実行一覧**：進捗をリアルタイムで確認し、キャンセルや再開ができます。"
              "\n3. **比較**：トークン数・時間・費用に対する品質を比較します。"
              "\n4. **導入判断**：判定、改善の内訳、本番規模での試算を示します。"
              "\n5. **会議用レポート**：会議用のまとめを Markdown・HTML・PDF・PowerPoint で、"
              "日本語または英語で出力します。"
              "\n6. **モデルの中身**：DCFormer のヘッド合成が学んだ内容を、Transformer++ の"
              "対照実行の同じヘッドと並べて確認します（学習済みモデルによる文章生成は "
              "`python -m dcpoc generate` で行えます）。"
              "\n7. **設定**：GPU の価格を設定します。"},

    "launch.title": {"en": "Launch a study", "ja": "調査を開始"},
    "launch.hardware_gpu": {"en": "This server has a GPU ({gpu}): every preset is offered.",
                            "ja": "このサーバーには GPU（{gpu}）があります。すべてのプリセットを選べます。"},
    "launch.hardware_cpu": {"en": "This server has no GPU: only the CPU presets are offered.",
                            "ja": "このサーバーには GPU がないため、CPU 向けのプリセットのみ選べます。"},
    "launch.start": {"en": "Start from", "ja": "ひな形"},
    "launch.start_help": {"en": "A reference study fills in the form with a fair comparison: three "
                                "sizes, tokens scaled with size, and a learning-rate sweep. Every "
                                "field can still be changed.",
                          "ja": "参照調査を選ぶと、公平な比較の設定（3 つのサイズ、サイズに比例した"
                                "トークン数、学習率探索）がフォームに入力されます。各項目は後から"
                                "変更できます。"},
    "launch.start.blank": {"en": "A blank study", "ja": "空の調査"},
    "launch.start.reference-cpu": {"en": "Reference study for a CPU (3 sizes, learning-rate sweep)",
                                   "ja": "CPU 向け参照調査（3 サイズ、学習率探索付き）"},
    "launch.start.reference-gpu": {"en": "Reference study for one GPU (3 sizes, learning-rate sweep)",
                                   "ja": "GPU 1 基向け参照調査（3 サイズ、学習率探索付き）"},
    "launch.start.plan_only_label": {"en": "{label}: plan only, needs a GPU",
                                     "ja": "{label}：計画の確認のみ（GPU が必要）"},
    "launch.start.plan_only": {"en": "This server has no GPU, so this study cannot be launched here. "
                                     "Its plan and cost are shown for one {gpu}; launch it on a GPU "
                                     "server (python -m dcpoc study launch --reference {study}).",
                               "ja": "このサーバーには GPU がないため、この調査はここでは開始できません。"
                                     "計画と費用は {gpu} 1 基の場合を示しています。GPU サーバーで開始して"
                                     "ください（python -m dcpoc study launch --reference {study}）。"},
    "launch.start.evals": {"en": "From the reference study: each run is evaluated {n} times.",
                           "ja": "参照調査の設定：各実行で {n} 回評価します。"},
    "launch.start.workers": {"en": "From the reference study: the launch starts {n} CPU worker slots, "
                                   "so {n} one-thread runs train at once.",
                             "ja": "参照調査の設定：開始時に CPU ワーカーを {n} 個起動し、1 スレッドの実行を "
                                   "{n} 件ずつ並行して学習します。"},
    "launch.start.overrides": {"en": "From the reference study: every run also sets {overrides}.",
                               "ja": "参照調査の設定：全実行に {overrides} も指定します。"},
    "launch.name": {"en": "Study name", "ja": "調査名"},
    "launch.name_hint": {"en": "e.g. dcformer-vs-transformer-june", "ja": "例：dcformer比較-6月"},
    "launch.question": {"en": "Question this study answers", "ja": "この調査で答えたい問い"},
    # the reference studies' question: product text, so shown in the reader's language
    "study.reference_question": {
        "en": "Does DCMHA reach a lower loss than the best cheap baseline (Transformer++ with QK-norm) "
              "for the same compute, each at its own best learning rate, and how much of DCFormer's "
              "gain is QK-norm alone?",
        "ja": "同じ計算量で、DCMHA は最良の低コストなベースライン（Transformer++ + QK-norm）より低い損失"
              "に達するか（それぞれ自身の最適な学習率で比較）。また、DCFormer の改善のうち QK-norm だけ"
              "による分はどれほどか？"},
    "launch.question_hint": {"en": "e.g. Does DCFormer reach the same loss with less compute on our data?",
                             "ja": "例：自社データで DCFormer は少ない計算量で同じ損失に達するか？"},
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
                         "ja": "許可されたデータフォルダ（DCPOC_DATA_DIRS）：{dirs}"},
    "launch.presets": {"en": "Model sizes (presets)", "ja": "モデルサイズ（プリセット）"},
    "launch.presets_help": {"en": "tiny: seconds on a CPU; cpu-xs, cpu-s, cpu-demo: minutes on a CPU; "
                                  "the gpu-* and paper-405m rungs need a GPU.",
                            "ja": "tiny：CPU で数秒、cpu-xs・cpu-s・cpu-demo：CPU で数分。gpu-* と "
                                  "paper-405m は GPU が必要です。"},
    "launch.archs": {"en": "Architectures", "ja": "アーキテクチャ"},
    "launch.seeds": {"en": "Seeds", "ja": "シード"},
    "launch.seeds_help": {"en": "Distinct whole numbers separated by commas; each seed repeats every run "
                                "so that differences can be told from noise.",
                          "ja": "カンマ区切りの異なる整数。シードごとに全実行を繰り返し、差がばらつきに"
                                "よるものか見分けられるようにします。"},
    "launch.budget_kind": {"en": "Training length", "ja": "学習の長さ"},
    "launch.budget.steps": {"en": "Steps per run", "ja": "実行あたりのステップ数"},
    "launch.budget.tokens": {"en": "Tokens per run", "ja": "実行あたりのトークン数"},
    "launch.budget.tokens_per_param": {"en": "Tokens per parameter", "ja": "パラメータあたりのトークン数"},
    "launch.budget.preset": {"en": "The preset's default", "ja": "プリセットの既定値"},
    "launch.budget_ratio_help": {"en": "Each size trains on this many tokens per (non-embedding) "
                                       "parameter, so larger models get more tokens. Needed to "
                                       "estimate the compute multiplier.",
                                 "ja": "各サイズを（埋め込みを除く）パラメータ 1 つあたりこのトークン数で"
                                       "学習します。大きなモデルほど多くのトークンで学習するため、"
                                       "計算量倍率の推定に必要です。"},
    "launch.sweep": {"en": "Learning-rate sweep", "ja": "学習率探索"},
    "launch.sweep_help": {"en": "Each variant is compared at its own best learning rate, so "
                                "neither wins only because the default rate happens to suit it.",
                          "ja": "各バリアントをそれぞれ最良の学習率で比較し、既定の学習率との"
                                "相性だけで優劣が決まらないようにします。"},
    "launch.sweep.none": {"en": "None: each preset's own rate",
                          "ja": "なし（各プリセットの既定の学習率）"},
    "launch.sweep.smallest": {"en": "At the smallest size; the best rate carries over to the larger sizes",
                              "ja": "最小サイズで探索し、最良の学習率を大きいサイズに引き継ぐ"},
    "launch.sweep.each": {"en": "At every size", "ja": "全サイズで探索"},
    "launch.lrs": {"en": "Learning rates to sweep", "ja": "探索する学習率"},
    "launch.lrs_hint": {"en": "e.g. 3e-4, 1e-3, 3e-3", "ja": "例：3e-4, 1e-3, 3e-3"},
    "launch.lrs_help": {"en": "Separated by commas. Empty: three rates around each preset's own "
                              "(÷3.3, ×1, ×3).",
                        "ja": "カンマ区切りで入力します。空欄の場合は、各プリセットの既定値を中心とした "
                              "3 つの値（÷3.3、×1、×3）を使います。"},
    "launch.device": {"en": "Device", "ja": "デバイス"},
    "launch.executor": {"en": "Executor", "ja": "実行環境"},
    "launch.executor_help": {
        "en": "Where the runs train: this machine's dcpoc workers, or a SLURM cluster (each run "
              "is one batch job; the compute nodes must reach the database and DCPOC_HOME).",
        "ja": "実行する場所を選びます。このマシンの dcpoc ワーカーか、"
              "SLURM クラスター（1 実行が 1 バッチジョブになります。"
              "計算ノードからデータベースと DCPOC_HOME にアクセスできる必要があります）です。"},
    "launch.executor.local": {"en": "This machine's workers", "ja": "このマシンのワーカー"},
    "launch.executor.slurm": {"en": "SLURM cluster (sbatch)", "ja": "SLURM クラスター（sbatch）"},
    "launch.slurm.partition": {"en": "Partition (empty: the cluster's default)",
                               "ja": "パーティション（空欄ならクラスターの既定）"},
    "launch.slurm.account": {"en": "Account (empty: your default)",
                             "ja": "アカウント（空欄なら既定）"},
    "launch.slurm.gpus_per_node": {"en": "GPUs per node", "ja": "ノードあたりの GPU 数"},
    "launch.slurm.nodes": {"en": "Nodes per run", "ja": "1 実行あたりのノード数"},
    "launch.slurm.time_limit": {"en": "Time limit per job", "ja": "ジョブあたりの制限時間"},
    "launch.slurm.time_limit_help": {
        "en": "SLURM syntax: minutes, HH:MM:SS or D-HH:MM:SS; empty: the partition's limit. A run "
              "that hits it can be resumed from its checkpoint.",
        "ja": "SLURM の書式（分、HH:MM:SS、D-HH:MM:SS）で指定します。空欄ならパーティションの上限です。"
              "上限に達した実行はチェックポイントから再開できます。"},
    "launch.slurm.extra": {"en": "More #SBATCH options, one a line",
                           "ja": "追加の #SBATCH オプション（1 行に 1 つ）"},
    "launch.slurm.extra_help": {"en": "For example --qos=high or --constraint=a100.",
                                "ja": "例：--qos=high や --constraint=a100 などです。"},
    "launch.err.slurm": {"en": "SLURM options: {detail}", "ja": "SLURM の設定に問題があります：{detail}"},
    "launch.plan": {"en": "Runs of the study", "ja": "調査の実行計画"},
    "launch.plan.stage1": {"en": "1: queued at launch", "ja": "1：開始時に登録"},
    "launch.plan.stage2": {"en": "2: after the sweep", "ja": "2：探索完了後に登録"},
    "launch.plan.stage3": {"en": "3: confirmation", "ja": "3：確認ステージ"},
    "launch.plan.confirm_note": {"en": "Stage 3, the confirmation, is queued automatically once every earlier "
                                       "run has finished: fresh seeds at each variant's chosen rate. The "
                                       "comparison that decides uses them.",
                                 "ja": "ステージ 3（確認）は、それまでの実行がすべて終わると自動で登録されます：各"
                                       "バリアントの選ばれた学習率で新しいシードを学習します。判定に用いる比較は"
                                       "これらを使います。"},
    "launch.plan.chosen": {"en": "chosen rate", "ja": "選ばれた学習率"},
    "launch.ladder": {"en": "Ablation ladder (splits QK-norm's effect from DCMHA's)",
                      "ja": "段階的アブレーション（QK-norm と DCMHA の効果を分けて測る）"},
    "launch.ladder_help": {"en": "Run three variants instead of the architectures above: Transformer++ as the "
                                 "paper defines it (no QK-norm), Transformer++ with QK-norm, and DCFormer "
                                 "(DCMHA + QK-norm). The decision then splits DCFormer's gain into the QK-norm "
                                 "part (almost free) and the DCMHA part on top of it.",
                           "ja": "上のアーキテクチャの代わりに 3 つのバリアントを実行します：論文の定義どおりの "
                                 "Transformer++（QK-norm なし）、Transformer++ + QK-norm、DCFormer（DCMHA + "
                                 "QK-norm）。判定では DCFormer の効果を、ほぼ無償の QK-norm の部分と、その上に"
                                 "加わる DCMHA の部分に分けます。"},
    "launch.confirm_seeds": {"en": "Confirmation seeds", "ja": "確認用シード"},
    "launch.confirm_seeds_help": {"en": "Fresh seeds trained after the sweep at each variant's chosen rate, "
                                        "e.g. 101, 102, 103; the comparison that decides uses them (no "
                                        "winner's curse). Empty: no confirmation stage, and the report "
                                        "calls the estimate optimistic.",
                                  "ja": "探索の後、各バリアントの選ばれた学習率で学習する新しいシードです（例："
                                        "101, 102, 103）。判定に用いる比較はこれらを使います（勝者の呪いを避けます）。"
                                        "空欄の場合は確認ステージを行わず、レポートでは推定が楽観的であると明記します。"},
    "launch.err.confirm_seeds": {"en": "Write distinct whole numbers that the sweep does not use, e.g. 101, 102, 103.",
                                 "ja": "探索で使わない、重複のない整数を書いてください（例：101, 102, 103）。"},
    "launch.plan.best": {"en": "best of the sweep", "ja": "探索での最良値"},
    "launch.plan.later_note": {"en": "Stage 2 is queued automatically once the sweep at {preset} has "
                                     "finished, each variant at its own best rate. The estimate "
                                     "below includes it.",
                               "ja": "ステージ 2 は {preset} での探索が完了すると自動で登録され、"
                                     "各バリアントはそれぞれ最良の学習率で学習します。下の見積もりにも含まれています。"},
    "launch.col.stage": {"en": "Stage", "ja": "ステージ"},
    "launch.col.preset": {"en": "Preset", "ja": "モデルサイズ"},
    "launch.col.arch": {"en": "Variant", "ja": "バリアント"},
    "launch.col.seeds": {"en": "Seeds", "ja": "シード"},
    "launch.col.lr": {"en": "Learning rate", "ja": "学習率"},
    "launch.col.steps": {"en": "Steps", "ja": "ステップ数"},
    "launch.col.tokens": {"en": "Tokens per run", "ja": "実行あたりのトークン数"},
    "launch.estimate": {"en": "Estimate for the whole study", "ja": "調査全体の見積もり"},
    "launch.estimate_wait": {"en": "Fix the fields above to see the estimate.",
                             "ja": "上の入力を正しくすると見積もりが表示されます。"},
    "launch.est.runs": {"en": "Runs", "ja": "実行数"},
    "launch.est.wall": {"en": "Wall time (one after another)", "ja": "所要時間（順番に実行）"},
    "launch.est.workers": {"en": "with its {n} worker slots: about {wall}",
                           "ja": "ワーカー {n} 個で並行実行すると約 {wall}"},
    "launch.est.device_hours": {"en": "Device-hours", "ja": "デバイス時間（h）"},
    "launch.est.cost": {"en": "Cost", "ja": "費用"},
    "launch.est.basis": {"en": "On {device}: {throughput}; {tokens} training tokens, {flops} FLOPs. "
                               "The wall time adds about {startup} s of start-up per run; device-hours "
                               "and cost count training time, as finished runs do.",
                         "ja": "{device} で計算。{throughput}。学習トークン {tokens}、{flops} FLOP。所要時間には"
                               "実行ごとに約 {startup} 秒の起動時間を含みます。デバイス時間と費用は、完了した"
                               "実行と同じく学習時間のみで計算します。"},
    "launch.est.measured_all": {"en": "throughput measured on earlier runs for all {total} runs",
                                "ja": "全 {total} 件とも過去の実行で測定したスループットを使用"},
    "launch.est.measured_some": {"en": "throughput measured on earlier runs for {measured} of {total} runs, "
                                       "assumed for the rest",
                                 "ja": "{total} 件中 {measured} 件は過去の実行で測定したスループット、残りは"
                                       "想定値を使用"},
    "launch.est.measured_none": {"en": "assumed throughput for all {total} runs (none measured here yet)",
                                 "ja": "全 {total} 件とも想定スループットを使用（この環境での測定はまだありません）"},
    "launch.submit": {"en": "Launch study", "ja": "調査を開始"},
    "launch.failed": {"en": "Not launched", "ja": "開始できませんでした"},
    "launch.queued": {"en": "Queued {n} runs of study “{study}”: {ids}",
                      "ja": "調査「{study}」の {n} 件の実行を登録しました：{ids}"},
    "launch.queued_joined": {"en": "Queued {n} runs of study “{study}”, added to the {before} runs it already "
                                   "had (the verdict compares them all): {ids}",
                             "ja": "調査「{study}」に {n} 件の実行を登録し、既存の {before} 件に追加しました（判定は"
                                   "すべてを比較します）：{ids}"},
    "launch.name_own": {"en": "A study named “{study}” already exists, and this plan has a later stage (a "
                               "learning-rate sweep's larger sizes or confirmation seeds), which needs a study "
                               "of its own: choose a new name.",
                         "ja": "「{study}」という名前の調査は既に存在します。この計画には後のステージ（学習率探索後の"
                               "大きいサイズ、または確認用のシード）があり、専用の調査が必要です。新しい名前を"
                               "付けてください。"},
    "launch.name_joins": {"en": "A study named “{study}” already has {n} runs. Launching adds these runs to "
                                "it: the verdict then compares old and new runs together, whatever their "
                                "steps or settings, and the study keeps its question. Choose a new name "
                                "for a separate study.",
                          "ja": "「{study}」という名前の調査には既に {n} 件の実行があります。開始するとこれらの"
                                "実行はその調査に追加され、判定はステップ数や設定にかかわらず新旧の実行をまとめて"
                                "比較します。質問は元のままです。別の調査にするには新しい名前を付けてください。"},
    "launch.queued_later": {"en": "The other {n} runs, at the larger sizes, are queued when the sweep "
                                  "has finished.",
                            "ja": "大きいサイズの残り {n} 件は、探索の完了後に登録されます。"},
    "launch.go_runs": {"en": "Watch them on the Runs page", "ja": "実行一覧で進捗を見る"},
    "launch.err.name_empty": {"en": "Give the study a name.", "ja": "調査名を入力してください。"},
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
                         "ja": "異なる整数を入力してください（例：1, 2, 3）。"},
    "launch.err.too_many": {"en": "That makes {n} runs; one study may have at most {max}.",
                            "ja": "実行数が {n} 件になります。1 つの調査は最大 {max} 件です。"},
    "launch.err.budget": {"en": "Use a whole number from 1 to {max}.",
                          "ja": "1 から {max} までの整数を入力してください。"},
    "launch.err.budget_ratio": {"en": "Use a number above 0 and below {max}, e.g. 20.",
                                "ja": "0 より大きく {max} 未満の数値を入力してください（例：20）。"},
    "launch.err.lrs": {"en": "Write distinct rates between 0 and 1, separated by commas, e.g. 3e-4, "
                             "1e-3, 3e-3.",
                       "ja": "0 より大きく 1 未満の異なる値をカンマ区切りで入力してください"
                             "（例：3e-4, 1e-3, 3e-3）。"},
    "launch.err.plan": {"en": "The study cannot run as set: {detail}",
                        "ja": "この設定では調査を実行できません：{detail}"},

    "runs.title": {"en": "Runs", "ja": "実行一覧"},
    "runs.all": {"en": "All studies", "ja": "すべての調査"},
    "ui.all": {"en": "All", "ja": "すべて"},
    "ui.choose": {"en": "Choose", "ja": "選択してください"},
    "runs.none": {"en": "No run matches these filters.", "ja": "条件に合う実行はありません。"},
    "runs.capped": {"en": "Newest {n} runs at most; narrow the filters to see others. Updates live.",
                    "ja": "新しい順に最大 {n} 件を表示。ほかの実行は絞り込みで表示できます。自動で更新されます。"},
    "runs.pick": {"en": "Run to inspect", "ja": "詳しく見る実行"},
    "runs.gone": {"en": "This run no longer exists.", "ja": "この実行は存在しません。"},
    "runs.detail": {"en": "Run {id}: {status}, step {step} of {total}",
                    "ja": "実行 {id}：{status}（ステップ {step} / {total}）"},
    "runs.cancel": {"en": "Cancel", "ja": "キャンセル"},
    # why a run stopped, in the reader's language (runs.failure_text); the recorded English follows
    "fail.lost": {"en": "Its training process stopped without a word (killed, or out of memory).",
                  "ja": "学習プロセスが応答のないまま停止しました（強制終了、またはメモリ不足）。"},
    "fail.killed": {"en": "Its training process ended before the run finished.",
                    "ja": "学習プロセスが実行の完了前に終了しました。"},
    "fail.worker": {"en": "It stopped with its worker.", "ja": "ワーカーの停止とともに止まりました。"},
    "fail.slurm": {"en": "Its SLURM job stopped before the run finished.",
                   "ja": "SLURM ジョブが実行の完了前に止まりました。"},
    "fail.cancel_killed": {"en": "It was cancelled, and killed because it did not stop in time.",
                           "ja": "キャンセル後、時間内に停止しなかったため強制終了しました。"},
    "fail.slurm_cancelled": {"en": "Its SLURM job was cancelled (scancel).",
                             "ja": "SLURM ジョブが取り消されました（scancel）。"},
    "fail.other": {"en": "Training stopped with an error.", "ja": "学習がエラーで止まりました。"},
    "fail.resume": {"en": "{why} “{resume}” below continues it from its last checkpoint; “{retry}” "
                          "starts a new run from the beginning.",
                    "ja": "{why}下の「{resume}」で最後のチェックポイントから続けられます。「{retry}」"
                          "は新しい実行として最初から学習します。"},
    "fail.retry": {"en": "{why} It has no checkpoint: “{retry}” below starts a new run from the beginning.",
                   "ja": "{why}チェックポイントがないため、下の「{retry}」で新しい実行として最初から学習できます。"},
    "fail.recorded": {"en": "Recorded message: {first}", "ja": "記録されたメッセージ（英語）：{first}"},
    "fail.details": {"en": "The whole message and the log's last lines",
                     "ja": "メッセージ全文とログの末尾（英語）"},
    "runs.cancel_done": {"en": "Cancel requested; a running run stops within seconds.",
                         "ja": "キャンセルを要求しました。実行中の場合は数秒以内に停止します。"},
    "runs.retry": {"en": "Retry from scratch", "ja": "最初からやり直す"},
    "runs.retry_done": {"en": "Queued again as run {id}.", "ja": "実行 {id} として再登録しました。"},
    "runs.resume": {"en": "Resume from checkpoint", "ja": "チェックポイントから再開"},
    "runs.resume_help": {"en": "Continue from the last saved step; the step count and metrics continue "
                               "without gaps.",
                         "ja": "最後に保存したステップから続けます。ステップ数と指標は途切れずに続きます。"},
    "runs.time_limit": {"en": "Time limit of the new SLURM job", "ja": "新しい SLURM ジョブの制限時間"},
    "runs.time_limit_help": {"en": "Minutes, HH:MM:SS or D-HH:MM:SS (empty: the partition's). A job that "
                                   "hit its limit resumes from its checkpoint; give it a longer one here.",
                             "ja": "分、HH:MM:SS、D-HH:MM:SS のいずれか（空欄ならパーティションの既定値）。"
                                   "制限時間に達したジョブはチェックポイントから再開できます。ここで"
                                   "より長い時間を指定してください。"},
    "runs.resume_done": {"en": "Queued to resume.", "ja": "再開を登録しました。"},
    "col.job": {"en": "SLURM job", "ja": "SLURM ジョブ"},
    "runs.slurm_job": {"en": "SLURM job {job}: {state}",
                       "ja": "SLURM ジョブ {job}：{state}"},
    "runs.slurm_cancel_help": {"en": "For a SLURM run this also cancels its batch job (scancel).",
                               "ja": "SLURM の実行では、バッチジョブも取り消します（scancel）。"},
    "runs.attn_path": {"en": "Trained on the {path} attention path: {reason}",
                       "ja": "{path} のアテンション実装で学習しました。理由：{reason}"},
    "runs.tab.curves": {"en": "Loss curves", "ja": "損失曲線"},
    "runs.tab.log": {"en": "Log", "ja": "ログ"},
    "runs.tab.config": {"en": "Configuration", "ja": "設定内容"},
    "runs.tab.env": {"en": "Environment", "ja": "環境情報"},
    "runs.x_axis": {"en": "Against", "ja": "横軸"},
    "runs.no_metrics": {"en": "No metrics recorded yet.", "ja": "まだ指標が記録されていません。"},
    "runs.no_log": {"en": "(no log yet)", "ja": "（ログはまだありません）"},
    "runs.no_log_imported": {"en": "(an imported run: a study file carries no logs)",
                             "ja": "（インポートした実行のため、ログはありません）"},
    "runs.env.field": {"en": "Item", "ja": "項目"},
    "runs.env.value": {"en": "Value", "ja": "値"},
    "env.git_commit": {"en": "Code commit", "ja": "コードのコミット"},
    "env.device": {"en": "Device", "ja": "デバイス"},
    "env.attn_path": {"en": "Attention path (DCMHA)", "ja": "アテンションの実装（DCMHA）"},
    "env.attn_reason": {"en": "Why this path", "ja": "この実装を使った理由"},
    # the attention-path reasons (kernels/selfcheck.py) are recorded in English with the run;
    # attention_reason shows them in the reader's language
    "attn.reason.cpu": {"en": "CPU: the PyTorch path", "ja": "CPU のため PyTorch 実装"},
    "attn.reason.transformer": {"en": "Transformer++: PyTorch attention (no DCMHA)",
                                "ja": "Transformer++ のため PyTorch のアテンション（DCMHA なし）"},
    "attn.reason.config": {"en": "attn_impl={impl} set in the config",
                           "ja": "設定で attn_impl={impl} が指定されています"},
    "attn.reason.no_triton": {"en": "triton is not installed: the PyTorch path",
                              "ja": "triton が入っていないため PyTorch 実装"},
    "attn.reason.failed": {"en": "self-check failed: {error}",
                           "ja": "セルフチェックに失敗したため PyTorch 実装：{error}"},
    "attn.reason.untimed": {"en": "self-check passed but was not timed",
                            "ja": "セルフチェックは合格しましたが、速度は測定されていません"},
    "attn.reason.faster": {"en": "self-check passed; Triton faster on this device: {timing}",
                           "ja": "セルフチェック合格、このデバイスでは Triton の方が高速：{timing}"},
    "attn.reason.slower": {"en": "Triton slower on this device: {timing}",
                           "ja": "このデバイスでは Triton の方が低速：{timing}"},
    "attn.reason.rank0": {"en": "rank 0's choice", "ja": "ランク 0 の選択に従う"},
    "env.host": {"en": "Host", "ja": "ホスト"},
    "env.pid": {"en": "Process id", "ja": "プロセス ID"},
    "env.created_at": {"en": "Created", "ja": "作成日時"},
    "env.started_at": {"en": "Started", "ja": "開始日時"},
    "env.finished_at": {"en": "Finished", "ja": "終了日時"},
    "env.heartbeat_at": {"en": "Last heartbeat", "ja": "最終ハートビート"},
    "env.corpus_spec": {"en": "Corpus", "ja": "コーパス"},
    "env.corpus_fingerprint": {"en": "Corpus fingerprint (SHA-256)", "ja": "コーパスの指紋（SHA-256）"},
    "env.n_params": {"en": "Parameters", "ja": "パラメータ数"},
    "env.flops_per_token": {"en": "Training FLOPs per token", "ja": "トークンあたりの学習 FLOP"},
    "env.mfu": {"en": "Model FLOP utilisation", "ja": "モデル FLOP 利用率（MFU）"},

    "compare.title": {"en": "Compare architectures", "ja": "アーキテクチャの比較"},
    "compare.caption": {"en": "Finished runs only. Lower loss and perplexity are better.",
                        "ja": "完了した実行のみ。損失とパープレキシティは低いほど良い値です。"},
    "compare.none": {"en": "No finished run yet: launch a study and come back when it is done.",
                     "ja": "完了した実行はまだありません。調査を開始し、完了後に戻ってください。"},
    "compare.by": {"en": "Compare", "ja": "比較の対象"},
    "compare.by.study": {"en": "A study", "ja": "調査"},
    "compare.by.runs": {"en": "Runs I pick", "ja": "選んだ実行"},
    "compare.no_study": {"en": "No finished run belongs to a study.",
                         "ja": "調査に属する完了済みの実行はありません。"},
    "compare.pick": {"en": "Runs", "ja": "実行"},
    "compare.pick_some": {"en": "Pick at least one run.", "ja": "実行を 1 つ以上選んでください。"},
    "compare.tab.tokens": {"en": "Against tokens", "ja": "横軸：学習トークン数"},
    "compare.tab.wall_s": {"en": "Against training time", "ja": "横軸：学習時間"},
    "compare.tab.cost_usd": {"en": "Against cost", "ja": "横軸：費用"},
    "compare.pareto_help": {"en": "The dashed line is the Pareto front: the runs that no other run beats "
                                  "on both cost and perplexity.",
                            "ja": "破線はパレートフロント（費用とパープレキシティの両方で他の実行に負けない実行）です。"},
    "compare.config": {"en": "Settings that differ between these runs",
                       "ja": "これらの実行で異なる設定"},
    "compare.config_same": {"en": "All these runs share one configuration.",
                            "ja": "これらの実行はすべて同じ設定です。"},
    "runs.no_worker": {"en": "{n} run(s) are queued and no worker is running to train them (none was "
                             "started, or the one serving the queue stopped: killed, out of memory, or the "
                             "machine restarted). Start one here, or with `python -m dcpoc worker`.",
                       "ja": "{n} 件の実行が待機中ですが、学習を進めるワーカーが動いていません（起動されていないか、"
                             "キューを処理していたワーカーが停止しました：強制終了、メモリ不足、またはマシンの"
                             "再起動）。ここで起動するか、`python -m dcpoc worker` を実行してください。"},
    "runs.no_worker_read_only": {
        "en": "{n} run(s) are queued and no worker is running. This database is open read-only "
              "here, so only a worker where it is writable can train them.",
        "ja": "{n} 件の実行が待機中で、ワーカーは動いていません。このデータベースはここでは読み取り専用"
              "なので、書き込みできる場所のワーカーだけが学習できます。"},
    "runs.start_worker": {"en": "Start a worker", "ja": "ワーカーを起動"},
    "runs.worker_started": {"en": "Worker started (pid {pids}); the queued runs train in order.",
                            "ja": "ワーカーを起動しました（pid {pids}）。待機中の実行を順に学習します。"},
    "compare.config_named": {"en": "These runs differ only in what each run's name gives: variant, preset "
                                   "and seed (the Runs page's Configuration tab shows every key).",
                             "ja": "これらの実行の違いは、各実行の名前が示すもの（バリアント、プリセット、シード）"
                                   "だけです（すべてのキーは「実行一覧」ページの「設定内容」タブにあります）。"},
    "compare.config_help": {"en": "One row per run, named by id, variant, preset and seed; those, and the "
                                  "model shape a preset gives, are not repeated as columns. The config key "
                                  "is in brackets (the Runs page's Configuration tab shows every key).",
                            "ja": "1 行が 1 つの実行で、名前は ID・バリアント・プリセット・シードです。これらと、"
                                  "プリセットが決めるモデルの形は列に繰り返しません。括弧内は設定キーです（すべての"
                                  "キーは「実行一覧」ページの「設定内容」タブにあります）。"},
    "value.yes": {"en": "yes", "ja": "あり"},
    "value.no": {"en": "no", "ja": "なし"},
    "value.missing": {"en": "(not set)", "ja": "（未設定）"},
    # the config fields a comparison most often shows; the rest keep their key
    "setting.preset": {"en": "Preset", "ja": "プリセット"},
    "setting.model.arch": {"en": "Architecture", "ja": "アーキテクチャ"},
    "setting.model.qk_norm": {"en": "QK-norm", "ja": "QK-norm"},
    "setting.model.n_layer": {"en": "Layers", "ja": "層数"},
    "setting.model.n_embd": {"en": "Model width", "ja": "モデル幅"},
    "setting.model.n_head": {"en": "Heads", "ja": "ヘッド数"},
    "setting.model.ffn_hidden": {"en": "FFN width", "ja": "FFN 幅"},
    "setting.model.seq_len": {"en": "Sequence length", "ja": "系列長"},
    "setting.model.window_pattern": {"en": "Attention windows", "ja": "アテンション窓"},
    "setting.model.attn_impl": {"en": "DCMHA path", "ja": "DCMHA の実装"},
    "setting.model.dc_pre": {"en": "Pre-composition", "ja": "softmax 前の合成"},
    "setting.model.dc_post": {"en": "Post-composition", "ja": "softmax 後の合成"},
    "setting.model.dc_query": {"en": "Query-wise terms", "ja": "クエリ側の項"},
    "setting.model.dc_key": {"en": "Key-wise terms", "ja": "キー側の項"},
    "setting.model.dc_gate": {"en": "Gates", "ja": "ゲート"},
    "setting.model.dc_lowrank": {"en": "Low-rank terms", "ja": "低ランク項"},
    "setting.model.dc_rank": {"en": "DCMHA rank R", "ja": "DCMHA のランク R"},
    "setting.model.dc_static": {"en": "Static composition", "ja": "静的合成"},
    "setting.train.seed": {"en": "Seed", "ja": "シード"},
    "setting.train.lr": {"en": "Learning rate", "ja": "学習率"},
    "setting.train.dc_lr_mult": {"en": "DCMHA learning-rate multiplier", "ja": "DCMHA の学習率倍率"},
    "setting.train.steps": {"en": "Steps", "ja": "ステップ数"},
    "setting.train.batch_size": {"en": "Batch size", "ja": "バッチサイズ"},
    "setting.train.corpus": {"en": "Corpus", "ja": "コーパス"},
    "setting.train.device": {"en": "Device", "ja": "デバイス"},
    "setting.train.nproc": {"en": "GPUs", "ja": "GPU 数"},
    "setting.train.threads": {"en": "CPU threads", "ja": "CPU スレッド数"},
    "setting.train.compile": {"en": "torch.compile", "ja": "torch.compile の使用"},
    "setting.model.vocab_size": {"en": "Vocabulary size", "ja": "語彙サイズ"},
    "setting.model.norm_eps": {"en": "Norm epsilon", "ja": "正規化のイプシロン"},
    "setting.model.rope_base": {"en": "RoPE base", "ja": "RoPE の基数"},
    "setting.model.dc_hidden": {"en": "DCMHA hidden width", "ja": "DCMHA の中間幅"},
    "setting.model.dc_init_std": {"en": "DCMHA initial scale", "ja": "DCMHA の初期値の標準偏差"},
    "setting.train.grad_accum": {"en": "Gradient accumulation", "ja": "勾配累積の回数"},
    "setting.train.min_lr_ratio": {"en": "Final learning-rate ratio", "ja": "最終学習率の比"},
    "setting.train.warmup_frac": {"en": "Warm-up share", "ja": "ウォームアップの割合"},
    "setting.train.weight_decay": {"en": "Weight decay", "ja": "重み減衰"},
    "setting.train.beta1": {"en": "AdamW beta1", "ja": "AdamW の beta1"},
    "setting.train.beta2": {"en": "AdamW beta2", "ja": "AdamW の beta2"},
    "setting.train.adam_eps": {"en": "AdamW epsilon", "ja": "AdamW のイプシロン"},
    "setting.train.grad_clip": {"en": "Gradient clipping", "ja": "勾配クリッピング"},
    "setting.train.val_fraction": {"en": "Validation share", "ja": "検証用データの割合"},
    "setting.train.eval_every": {"en": "Evaluate every (steps)", "ja": "評価の間隔（ステップ）"},
    "setting.train.eval_batches": {"en": "Evaluation batches", "ja": "評価のバッチ数"},
    "setting.train.val_tokens": {"en": "Final evaluation tokens", "ja": "最終評価のトークン数"},
    "setting.train.log_every": {"en": "Log every (steps)", "ja": "記録の間隔（ステップ）"},
    "setting.train.ckpt_every": {"en": "Checkpoint every (steps)", "ja": "チェックポイントの間隔（ステップ）"},
    "setting.train.gpu_type": {"en": "Price-table GPU", "ja": "価格表の GPU 種別"},

    "settings.title": {"en": "Settings", "ja": "設定"},
    "settings.prices": {"en": "Price per device-hour (USD)", "ja": "デバイス 1 時間あたりの価格（USD）"},
    "settings.prices_help": {"en": "Used for every cost on these pages and for runs that finish from now on.",
                             "ja": "各ページの費用表示と、今後完了する実行の費用計算に使います。"},
    "settings.kind.cpu": {"en": "CPU", "ja": "CPU"},
    "settings.kind.a100": {"en": "A100", "ja": "A100"},
    "settings.kind.h100": {"en": "H100", "ja": "H100"},
    "settings.kind.h200": {"en": "H200", "ja": "H200"},
    "settings.kind.other-gpu": {"en": "Other GPU", "ja": "その他の GPU"},
    "settings.save": {"en": "Save prices", "ja": "価格を保存"},
    "settings.reset": {"en": "Back to defaults", "ja": "既定値に戻す"},
    "settings.saved": {"en": "Prices saved.", "ja": "価格を保存しました。"},
    "settings.device": {"en": "Default device", "ja": "既定のデバイス"},
    "settings.device_label": {"en": "New studies run on", "ja": "新しい調査の実行先"},
    "settings.device.auto": {"en": "Automatic (GPU when present)", "ja": "自動（GPU があれば GPU）"},
    "settings.device.cpu": {"en": "CPU", "ja": "CPU"},
    "settings.device.cuda": {"en": "GPU (CUDA)", "ja": "GPU（CUDA）"},
    "settings.database": {"en": "Database in use", "ja": "使用中のデータベース"},
    "settings.database_help": {"en": "Read-only here: set DCPOC_DB before starting the dashboard to "
                                     "change it.",
                               "ja": "ここでは変更できません。変更するにはダッシュボード起動前に DCPOC_DB を設定します。"},
    "settings.language": {"en": "Language", "ja": "言語"},
    "settings.language_label": {"en": "Display language", "ja": "表示言語"},

    "chart.lr_curves": {"en": "Validation loss against learning rate (filled: best)",
                        "ja": "学習率に対する検証損失（塗りつぶし：最良）"},
    "chart.axis.lr": {"en": "Peak learning rate", "ja": "学習率"},
    "chart.axis.preset": {"en": "Model size", "ja": "モデルサイズ"},
    "chart.axis.seeds": {"en": "Seeds", "ja": "シード数"},
    "dec.lr": {"en": "Learning-rate sensitivity", "ja": "学習率への感度"},
    "dec.lr_none": {"en": "No learning-rate sweep in this study: both architectures ran at one rate.",
                    "ja": "この調査には学習率探索がありません。両アーキテクチャとも同じ学習率です。"},
    "dec.lr_note": {"en": "Mean validation loss over each size's seeds at each rate; * marks each variant's "
                          "best rate, the one the verdict compares.",
                    "ja": "各サイズ・各学習率でのシード平均の検証損失です。* は各バリアントの最良の学習率で、"
                          "判定はその学習率の実行を比較しています。"},
    "dec.lr_note.confirmed": {"en": "Mean validation loss of the sweep's runs at each rate; * marks each "
                                    "variant's best rate. The verdict compares fresh seeds trained at those "
                                    "rates (the confirmation stage), so its numbers differ from these.",
                              "ja": "探索の実行について、各学習率での検証損失の平均です。* は各バリアントの"
                                    "最良の学習率です。判定はその学習率で新しいシードを学習した実行（確認"
                                    "ステージ）を比較するため、判定の数値はこの表と異なります。"},
    "dec.lr_note.partial": {"en": "Mean validation loss of the sweep's runs at each rate; * marks each "
                                  "variant's best rate. At the sizes whose confirmation stage has "
                                  "finished the verdict compares fresh seeds trained at those rates, so "
                                  "its numbers there differ from these.",
                            "ja": "探索の実行について、各学習率での検証損失の平均です。* は各バリアントの"
                                  "最良の学習率です。確認ステージが完了したサイズでは、判定はその学習率で"
                                  "新しいシードを学習した実行を比較するため、そのサイズの判定の数値はこの表"
                                  "と異なります。"},
    "dec.lr_col.preset": {"en": "Model size", "ja": "モデルサイズ"},
    "dec.lr_col.lr": {"en": "Learning rate", "ja": "学習率"},
    "dec.lr_col.diff": {"en": "DCFormer − ({baseline})", "ja": "差（DCFormer −（{baseline}））"},
    "dec.lr_diverged": {"en": "diverged", "ja": "発散"},
    "chart.axis.arch": {"en": "Variant", "ja": "バリアント"},   # the legend lists variants (QK-norm apart)
    "chart.axis.run": {"en": "Run", "ja": "実行"},
    "chart.axis.step": {"en": "Step", "ja": "ステップ"},
    "chart.axis.tokens": {"en": "Training tokens", "ja": "学習トークン数"},
    "chart.axis.wall_s": {"en": "Training time (s)", "ja": "学習時間（秒）"},
    "chart.axis.cost_usd": {"en": "Cost ($)", "ja": "費用（$）"},
    "chart.axis.loss": {"en": "Loss (nats/byte)", "ja": "損失（nats/byte）"},
    "chart.axis.val_loss": {"en": "Validation loss (nats/byte)", "ja": "検証損失（nats/byte）"},
    "chart.axis.split": {"en": "Data", "ja": "データ"},
    "chart.axis.perplexity": {"en": "Perplexity (per byte)", "ja": "パープレキシティ（バイト単位）"},
    "chart.axis.pareto": {"en": "Pareto front", "ja": "パレートフロント"},
    "chart.front.yes": {"en": "on the front", "ja": "フロント上"},
    "chart.front.no": {"en": "beaten", "ja": "他の実行に劣る"},
    "chart.axis.tokens_per_s": {"en": "Training tokens per second", "ja": "学習トークン/秒"},
    "chart.axis.peak_mem_mb": {"en": "Peak memory (MB)", "ja": "ピークメモリ（MB）"},
    "chart.split.train": {"en": "train", "ja": "学習"},
    "chart.split.val": {"en": "validation", "ja": "検証"},
    "chart.loss_curves": {"en": "Training and validation loss", "ja": "学習損失と検証損失"},
    "chart.val_vs": {"en": "Validation loss against {x}", "ja": "{x}に対する検証損失"},
    "chart.bars.tokens_per_s": {"en": "Throughput (higher is faster)", "ja": "スループット（高いほど速い）"},
    "chart.bars.peak_mem_mb": {"en": "Peak memory (lower is better)", "ja": "ピークメモリ（低いほど良い）"},
    "chart.bars.note": {"en": "Bar: the mean of the runs shown (every size together)",
                        "ja": "棒：表示中の実行の平均（全サイズをまとめたもの）"},
    "chart.bars.note_dot": {"en": "Dot: one run", "ja": "点：各実行"},
    "chart.pareto": {"en": "Perplexity against cost", "ja": "費用に対するパープレキシティ"},
    "chart.composition": {"en": "Effective head-composition matrices (identity = no composition)",
                          "ja": "実効的なヘッド合成行列（単位行列 = 合成なし）"},
    "chart.attention_maps": {"en": "Attention map of the chosen head", "ja": "選んだヘッドのアテンションマップ"},
    "chart.identity_distance": {"en": "Distance of composition from identity per layer",
                                "ja": "層ごとの合成の単位行列からの距離"},
    "chart.gates": {"en": "Gate values per head", "ja": "ヘッドごとのゲート値"},
    "chart.axis.source_head": {"en": "Source head", "ja": "入力ヘッド"},
    "chart.axis.target_head": {"en": "Target head", "ja": "出力ヘッド"},
    "chart.axis.weight": {"en": "Weight", "ja": "重み"},
    "chart.axis.query_pos": {"en": "Query position", "ja": "クエリ位置"},
    "chart.axis.key_pos": {"en": "Key position", "ja": "キー位置"},
    "chart.axis.attention": {"en": "Attention weight", "ja": "アテンション重み"},
    "chart.axis.layer": {"en": "Layer", "ja": "層"},
    # short: a rotated axis title longer than the plot pushed the chart's title over the heading
    "chart.axis.distance": {"en": "Mean ||M - I|| (Frobenius)", "ja": "単位行列との距離"},
    "chart.axis.matrix": {"en": "Composition", "ja": "合成"},
    "chart.axis.head": {"en": "Head", "ja": "ヘッド"},
    "chart.axis.gate": {"en": "Gate (tanh)", "ja": "ゲート（tanh）"},
    "inspect.matrix.pre_query": {"en": "pre, query-wise", "ja": "softmax 前・クエリ側"},
    "inspect.matrix.pre_key": {"en": "pre, key-wise", "ja": "softmax 前・キー側"},
    "inspect.matrix.post_query": {"en": "post, query-wise", "ja": "softmax 後・クエリ側"},
    "inspect.matrix.post_key": {"en": "post, key-wise", "ja": "softmax 後・キー側"},
    "inspect.title": {"en": "Inspect: look inside DCFormer", "ja": "モデルの中身：DCFormer の内部を見る"},
    "inspect.caption": {"en": "How much each layer mixes its attention heads on a text, and what a "
                              "head attends to before and after composition, next to the same head "
                              "of Transformer++. Computed in a separate process from the checkpoint.",
                        "ja": "テキスト上で各層がアテンションヘッドをどれだけ混ぜているか、合成の前後で"
                              "ヘッドがどこに注目しているかを、Transformer++ の同じヘッドと並べて示します。"
                              "チェックポイントから別プロセスで計算します。"},
    "inspect.none": {"en": "No finished DCFormer run yet: train one and come back.",
                     "ja": "完了した DCFormer の実行がまだありません。学習してから戻ってください。"},
    "inspect.go_launch": {"en": "Train a DCFormer run to inspect (cpu-demo: a few minutes on a CPU)",
                          "ja": "調べる DCFormer の実行を学習する（cpu-demo：CPU で数分）"},
    "inspect.run": {"en": "DCFormer run", "ja": "DCFormer の実行"},
    "inspect.elsewhere": {"en": "{n} finished DCFormer run(s) have no checkpoint on this machine (e.g. "
                                "recorded results imported from a study file, which carry no weights): "
                                "they cannot be inspected here.",
                          "ja": "完了した DCFormer の実行のうち {n} 件は、このマシンにチェックポイントがあり"
                                "ません（調査ファイルからインポートした記録済みの結果など。重みは含ま"
                                "れません）。ここでは中身を確認できません。"},
    "inspect.twin": {"en": "Its twin without DCMHA (same study, preset, seed)",
                     "ja": "DCMHA なしの対照実行（同じ調査・プリセット・シード）"},
    "inspect.no_twin": {"en": "No Transformer++ run with the same study, preset and seed.",
                        "ja": "同じ調査・プリセット・シードの Transformer++ 実行がありません。"},
    "inspect.source": {"en": "Text", "ja": "テキスト"},
    "inspect.source.text": {"en": "Type a text", "ja": "テキストを入力"},
    "inspect.source.sample": {"en": "A validation sample", "ja": "検証データのサンプル"},
    "inspect.text": {"en": "Text to look at", "ja": "調べるテキスト"},
    "inspect.token": {"en": "Query token (-1 = last)", "ja": "クエリトークン（-1 = 最後）"},
    "inspect.head": {"en": "Head of the attention maps", "ja": "アテンションマップのヘッド"},
    "inspect.layer": {"en": "Layer", "ja": "層"},
    "inspect.where": {"en": "Matrices", "ja": "行列"},
    "inspect.where.at": {"en": "At the query token", "ja": "クエリトークンで"},
    "inspect.where.mean": {"en": "Averaged over the text", "ja": "テキスト全体の平均"},
    "inspect.summary": {"en": "Where DCMHA does work", "ja": "DCMHA が働いている場所"},
    "inspect.summary_help": {"en": "0 means the layer passes heads through unmixed, as Transformer++ "
                                   "does; larger means more composition.",
                             "ja": "0 はその層がヘッドを混ぜずに通すこと（Transformer++ と同じ）を意味し、"
                                   "大きいほど合成が強いことを示します。"},
    "inspect.cut": {"en": "The model reads at most its context: the text's last {kept} of {given} bytes are shown.",
                    "ja": "モデルが読めるのは文脈長までです：テキストの末尾 {kept} バイト（全 {given} バイト中）を表示しています。"},
    "inspect.tokens": {"en": "{n} tokens; query token {token} is '{char}'",
                       "ja": "{n} トークン。クエリトークン {token} は '{char}'"},
    "inspect.before": {"en": "DCFormer before composition", "ja": "DCFormer 合成前"},
    "inspect.after": {"en": "DCFormer after composition", "ja": "DCFormer 合成後"},
    "inspect.error": {"en": "The inspection failed", "ja": "内部の計算に失敗しました"},
    "compare.infer": {"en": "Inference speed (latest benchmark)", "ja": "推論速度（最新のベンチマーク）"},
    "compare.infer_none": {"en": "No inference benchmark yet: run `python -m dcpoc bench infer`.",
                           "ja": "推論ベンチマークがまだありません。`python -m dcpoc bench infer` を実行してください。"},
    "compare.infer_caption": {"en": "{preset} on {device}, batch 1, measured {date}. Fresh random models: "
                                    "speed does not depend on training.",
                              "ja": "{preset}、{device}、バッチ 1、{date} に計測。ランダム初期化のモデル"
                                    "（速度は学習に依存しません）。"},
    "compare.infer_decode": {"en": "Generation speed ratio (decode)", "ja": "文章生成の速度比（デコード）"},
    "compare.infer_cache": {"en": "Cache size ratio", "ja": "キャッシュサイズ比"},
    "compare.infer_prefill": {"en": "Prompt-reading speed ratio (prefill)",
                              "ja": "入力（プロンプト）処理の速度比（プリフィル）"},
    "compare.infer_col.decode": {"en": "Generation (decode) tokens/s", "ja": "文章生成（デコード）トークン/秒"},
    "compare.infer_col.prefill": {"en": "Prompt reading (prefill) tokens/s",
                                  "ja": "入力処理（プリフィル）トークン/秒"},
    "compare.infer_col.p50": {"en": "Latency p50 (ms)", "ja": "レイテンシ p50（ms）"},
    "compare.infer_col.p95": {"en": "Latency p95 per token (ms)", "ja": "1 トークンの遅延 p95（ms）"},
    "compare.infer_col.spread": {"en": "p50 spread across prompt lengths", "ja": "プロンプト長による p50 の差"},
    "compare.infer_col.cache": {"en": "Cache bytes per token", "ja": "トークンあたりキャッシュ（バイト）"},
    "compare.infer_ratio_help": {"en": "DCFormer divided by Transformer++. Speeds are tokens/s; generation's "
                                       "is 1 / the median latency per generated token, as in the report.",
                                 "ja": "DCFormer を Transformer++ で割った値。速度はトークン/秒で、文章生成の速度は"
                                       "1 トークンの生成にかかる時間の中央値の逆数です（レポートと同じ定義）。"},

    # ---- the paper beside the study, the gap over training, the target's speed ratio
    "paper.title": {"en": "The paper beside our numbers", "ja": "論文の数値と本調査の比較"},
    "paper.col.claim": {"en": "Published claim", "ja": "論文の主張"},
    "paper.col.paper": {"en": "Paper", "ja": "論文"},
    "paper.col.ours": {"en": "This study", "ja": "本調査"},
    "paper.note_line": {"en": "{claim}: {note} ({source})", "ja": "{claim}：{note}（{source}）"},
    "paper.col.finding": {"en": "Finding", "ja": "照合結果"},
    "paper.col.why": {"en": "Why", "ja": "理由"},
    "paper.item": {"en": "**{claim}**: the paper {paper}; this study {ours}. **{finding}**: {why}",
                   "ja": "**{claim}**：論文 {paper}、本調査 {ours}。**{finding}**：{why}"},
    "paper.claim.multiplier": {"en": "Compute multiplier against Transformer++ without QK-norm (as in "
                                     "the paper)",
                               "ja": "計算量倍率（論文と同じく QK-norm なしの Transformer++ に対する値）"},
    "paper.why.baseline_loss": {"en": "The paper's loss difference is against Transformer++ without QK-norm, "
                                      "which this study did not run at its largest size: against the "
                                      "verdict's baseline with QK-norm the difference is smaller and does "
                                      "not compare.",
                                "ja": "論文の損失差は QK-norm なしの Transformer++ に対する値ですが、本調査では"
                                      "最大サイズでそれを実行していません。判定のベースライン（QK-norm あり）"
                                      "に対する差は小さめに出るため、比較できません。"},
    "paper.why.baseline": {"en": "The paper's multiplier is against Transformer++ without QK-norm, which "
                                 "this study did not run: against the verdict's baseline with QK-norm "
                                 "the multiplier reads lower and does not compare.",
                           "ja": "論文の倍率は QK-norm なしの Transformer++ に対する値ですが、本調査では"
                                 "それを実行していません。判定のベースライン（QK-norm あり）に対する倍率"
                                 "は低めに出るため、比較できません。"},
    "paper.claim.loss": {"en": "Loss, DCFormer minus Transformer++ (no QK-norm, as in the paper)",
                         "ja": "損失の差（DCFormer − Transformer++、論文と同じく QK-norm なし）"},
    "paper.claim.throughput": {"en": "Training speed ratio", "ja": "学習速度比"},
    "paper.val.multiplier": {"en": "{low:.1f}× to {high:.1f}× at 405M to 6.9B",
                             "ja": "4 億 500 万〜69 億パラメータで {low:.1f}×〜{high:.1f}×"},
    "paper.val.loss": {"en": "{dc:.2f} against {tf:.2f} ({diff:+.2f}) at 405M, 13.5K steps",
                       "ja": "4 億 500 万パラメータ・1 万 3500 ステップで {dc:.2f} 対 {tf:.2f}（{diff:+.2f}）"},
    "paper.val.throughput": {"en": "about {low:.2f}× at 405M up to about {high:.2f}× at 13B-33B",
                             "ja": "4 億 500 万パラメータで約 {low:.2f}×、130 億〜330 億パラメータで約 {high:.2f}×"},
    "paper.ours.speed": {"en": "{ratio} on {device}", "ja": "{device} で {ratio}"},
    "paper.source.abstract": {"en": "arXiv 2405.08553, abstract", "ja": "arXiv 2405.08553、要旨"},
    "paper.source.loss": {"en": "arXiv 2405.08553, 405M, 13.5K steps",
                          "ja": "arXiv 2405.08553、4 億 500 万パラメータ、1 万 3500 ステップ"},
    "paper.source.configs": {"en": "the authors' released configurations",
                             "ja": "著者が公開した設定ファイル"},
    "paper.note.multiplier": {"en": "DCFormer matches Transformer++ trained with this much more compute.",
                              "ja": "DCFormer は、この倍率だけ多くの計算量で学習した Transformer++ と同等の品質です。"},
    "paper.note.loss": {"en": "The paper's training loss per token on its corpus; this study measures validation "
                              "loss per byte on its own corpus, so only the sign compares.",
                        "ja": "論文の値は論文のコーパスでのトークンあたり学習損失です。本調査は独自のコーパスでの"
                              "バイトあたり検証損失を測るため、比較できるのは符号のみです。"},
    "paper.note.throughput": {"en": "DCFormer's training tokens/s relative to the same model without DCMHA, "
                                    "on TPUs without a fused kernel.",
                              "ja": "DCMHA なしの同じモデルに対する DCFormer の学習トークン/秒の比で、"
                                    "融合カーネルなしの TPU での値です。"},
    "paper.finding.agrees": {"en": "agrees", "ja": "一致"},
    "paper.finding.contradicts": {"en": "contradicts", "ja": "矛盾"},
    "paper.finding.cannot": {"en": "cannot speak to it", "ja": "判断不能"},
    "paper.overall.agrees": {"en": "Overall, this study agrees with the published claims it can speak to.",
                             "ja": "全体として、本調査は判断できる範囲で論文の主張と一致しています。"},
    "paper.overall.contradicts": {"en": "Overall, this study contradicts at least one published claim.",
                                  "ja": "全体として、本調査は論文の主張の少なくとも 1 つと矛盾しています。"},
    "paper.overall.cannot": {"en": "Overall, this study cannot speak to the published claims yet.",
                             "ja": "全体として、本調査はまだ論文の主張について判断できません。"},
    "paper.gap": {"en": "Scale gap: this study's largest size has {params} parameters and {tokens} training "
                        "tokens; the paper's smallest has 405M and 7.1B ({gap_p} the parameters, {gap_t} the tokens).",
                  "ja": "規模の差：本調査の最大サイズはパラメータ {params}・学習トークン {tokens} で、論文の最小"
                        "サイズは 4 億 500 万・71 億です（論文はパラメータが {gap_p}、トークンが {gap_t}の規模です）。"},
    "paper.why.none": {"en": "Not measured by this study yet.", "ja": "本調査ではまだ測定していません。"},
    "paper.why.scale": {"en": "This study's largest size is {gap:,.0f}× smaller than the paper's smallest "
                              "(the limit is {limit:,.0f}×).",
                        "ja": "本調査の最大サイズは論文の最小サイズの {gap:,.0f} 分の 1 しかなく、比較できる限度"
                              "（{limit:,.0f} 分の 1）より小さすぎます。"},
    "paper.why.wide": {"en": "The interval is missing or spans more than a factor of {limit:.0f}.",
                       "ja": "区間がないか、{limit:.0f} 倍を超える幅があります。"},
    "paper.why.straddles": {"en": "The interval is missing or includes zero.",
                            "ja": "区間がないか、0 を含んでいます。"},
    "paper.why.m_below": {"en": "The whole interval lies below the paper's {low:.1f}×.",
                          "ja": "区間全体が論文の {low:.1f} 倍を下回っています。"},
    "paper.why.m_reaches": {"en": "The interval reaches the paper's {low:.1f}× to {high:.1f}× or more.",
                            "ja": "区間が論文の {low:.1f} 倍〜{high:.1f} 倍、またはそれ以上に届いています。"},
    "paper.why.loss_lower": {"en": "DCFormer's loss is lower beyond doubt, as in the paper.",
                             "ja": "論文と同じく、DCFormer の損失が明確に低くなっています。"},
    "paper.why.loss_higher": {"en": "DCFormer's loss is higher beyond doubt, unlike the paper.",
                              "ja": "論文と異なり、DCFormer の損失が明確に高くなっています。"},
    "paper.why.cpu": {"en": "Measured on a CPU (dcpoc's PyTorch path): it says nothing about GPUs or TPUs.",
                      "ja": "CPU（dcpoc の PyTorch 実装）での測定のため、GPU や TPU での速度は判断できません。"},
    "paper.why.speed_ok": {"en": "At or above the paper's {low:.2f}× to {high:.2f}× at this size.",
                           "ja": "このサイズでの論文の {low:.2f} 倍〜{high:.2f} 倍と同等以上です。"},
    "paper.why.speed_slow": {"en": "Slower than the paper's {low:.2f}× to {high:.2f}× at this size.",
                             "ja": "このサイズでの論文の {low:.2f} 倍〜{high:.2f} 倍より遅くなっています。"},
    "reason.speed_not_on_target": {
        "en": "Speed not measured on {kind}: the net benefit above uses the speed ratio measured on {device} "
              "({ratio:.2f}), which says nothing about {kind}. With the paper's ratios for the target size "
              "(and ours measured on other GPUs) the net benefit on {kind} would be {net}.",
        "ja": "{kind} での速度は未測定です。上記の正味の効果は {device} で測った速度比"
              "（{ratio:.2f}）を使っており、{kind} での速度については何も言えません。"
              "目標サイズについて論文が報告する速度比（他の GPU での本調査の測定値があればそれも含む）"
              "を使うと、{kind} での正味の効果は {net} になります。"},
    "reason.speed_not_on_target_range": {
        "en": "Speed not measured on {kind}: the net benefit above uses the speed ratio measured on {device} "
              "({ratio:.2f}), which says nothing about {kind}. With the paper's ratios for the target size "
              "(and ours measured on other GPUs) the net benefit on {kind} would be {net} ({low} to {high} "
              "with the multiplier's uncertainty, its 95% interval).",
        "ja": "{kind} での速度は未測定です。上記の正味の効果は {device} で測った速度比"
              "（{ratio:.2f}）を使っており、{kind} での速度については何も言えません。"
              "目標サイズについて論文が報告する速度比（他の GPU での本調査の測定値があればそれも含む）"
              "を使うと、{kind} での正味の効果は {net}（計算量倍率の不確かさを含めると {low}〜{high}）になります。"},
    "reason.speed_not_on_target_below": {
        "en": "Speed not yet measured on {kind}; estimated with the paper's speed ratios, the result is "
              "unfavourable to DCFormer. The net benefit above uses the speed ratio measured on {device} "
              "({ratio:.2f}), which says nothing about {kind}. With the paper's ratios for the target size "
              "(and ours measured on other GPUs) the net benefit on {kind} would be {net} ({low} to {high} "
              "with the multiplier's uncertainty, its 95% interval): all of it under NO-GO's bar of "
              "{nogo:.2f}. Measure the speed on {kind} (`python -m dcpoc "
              "bench model`) before deciding.",
        "ja": "{kind} での速度はまだ測定していません。論文の速度比で見積もると、DCFormer には不利な"
              "結果になります。上記の正味の効果は {device} で測った速度比（{ratio:.2f}）を使っており、"
              "{kind} での速度については何も言えません。目標サイズについて論文が報告する速度比（他の GPU "
              "での本調査の測定値があればそれも含む）を使うと、{kind} での正味の効果は {net}（計算量倍率の"
              "不確かさを含めると {low}〜{high}）で、すべて NO-GO の基準 {nogo:.2f} を下回ります。判断の前に {kind} で速度を測定してくだ"
              "さい（`python -m dcpoc bench model`）。"},
    "reason.speed_on_target": {
        "en": "Speed measured on {kind}: DCFormer trains at {target_ratio:.2f}× Transformer++'s tokens/s "
              "there. The net benefit above uses the speed ratio measured on {device} ({ratio:.2f}); at "
              "the ratio measured on {kind} it is {net} ({low} to {high} over the multiplier's 95% "
              "interval), and the verdict is judged at that.",
        "ja": "{kind} で速度を測定しました。{kind} での DCFormer の学習速度は Transformer++ の {target_ratio:.2f}"
              " 倍です。上記の正味の効果は {device} で測った速度比（{ratio:.2f}）によるもので、{kind} で"
              "測った速度比では {net}（計算量倍率の 95% 区間で {low}〜{high}）です。判定はこの値で行い"
              "ます。"},
    "flip.target_go": {"en": "On {kind}, at the speed measured there, the net benefit's lower bound is {low}, "
                             "not above GO's bar of {go:.2f}: the study's own {device} speed would say GO, "
                             "the GPU DCFormer would train on does not. A faster kernel there, or a "
                             "larger multiplier at larger sizes, could change it.",
                       "ja": "{kind} で測った速度では正味の効果の下限は {low} で、GO の基準 {go:.2f} を超え"
                             "ません。本調査の {device} での速度なら GO ですが、実際に学習する GPU では"
                             "そうなりません。その GPU でのカーネルの高速化か、より大きなサイズでの計算量"
                             "倍率の向上があれば変わりえます。"},
    "flip.target_lifts": {"en": "The speed measured on {device} ({ratio:.2f}) would say NO-GO, but on {kind}, "
                                "at the speed measured there, the net benefit is {net} ({low} to {high}), "
                                "not all under NO-GO's bar of {nogo:.2f}; GO needs its lower bound above "
                                "{go:.2f}.",
                          "ja": "{device} で測った速度（{ratio:.2f}）では NO-GO ですが、{kind} で測った速度では"
                                "正味の効果は {net}（{low}〜{high}）で、すべてが NO-GO の基準 {nogo:.2f} を下回る"
                                "わけではありません。GO には下限が {go:.2f} を超える必要があります。"},
    "flip.target_nogo": {"en": "On {kind}, at the speed measured there, the net benefit is {net} ({low} to "
                               "{high}): all of it under NO-GO's bar of {nogo:.2f}. It would take a "
                               "faster kernel on {kind}, or a larger multiplier at larger sizes.",
                         "ja": "{kind} で測った速度では正味の効果は {net}（{low}〜{high}）で、すべて NO-GO"
                               " の基準 {nogo:.2f} を下回ります。{kind} でのカーネルの高速化か、より大きな"
                               "サイズでの計算量倍率の向上が必要です。"},
    "dec.speed.study": {"en": "Speed ratio on {kind}: {ratio:.2f}×, measured by this study's runs on {kind}.",
                        "ja": "{kind} での速度比：{ratio:.2f} 倍（本調査の {kind} での実行による測定値）。"},
    "dec.speed.bench": {"en": "Speed ratio on {kind}: {ratio:.2f}×, measured on {kind} ({detail}).",
                        "ja": "{kind} での速度比：{ratio:.2f} 倍（{kind} での測定値、{detail}）。"},
    "dec.speed.range": {"en": "Not measured on {kind}: costs are given for a speed ratio of {span} (the "
                              "paper reports {paper} at this size on TPUs, unfused; ratios we measured on "
                              "other GPUs, where there are any, widen it). This study's {ratio} "
                              "on {device} is not used: it times another code path on other hardware. Run "
                              "`python -m dcpoc bench model` on {kind} to measure it.",
                        "ja": "{kind} では未測定です。費用は速度比 {span} で示しています（論文ではこのサ"
                              "イズで {paper}、融合カーネルなしの TPU での値です。"
                              "他の GPU での本調査の測定値があれば、それで幅を広げます）。"
                              "本調査の {device} での {ratio} は、"
                              "別の実装と別のハードウェアでの値のため使っていません。"
                              "{kind} で `python -m dcpoc bench model` を実行する"
                              "と測定できます。"},
    "dec.speed.label": {"en": "not measured on {kind}", "ja": "{kind} では未測定"},
    "dec.q4": {"en": "What does it cost at scale?", "ja": "本番規模での費用は？"},
    "dec.a4.measured": {"en": "Training {params} parameters on {tokens} tokens on {kind}: Transformer++ "
                              "costs {tf}; DCFormer costs {dc} for the same quality ({diff}), at the "
                              "speed ratio measured on {kind} ({ratio}).",
                        "ja": "{kind} でパラメータ {params}、{tokens}トークンを学習すると、Transformer++ "
                              "は {tf}、同じ品質の DCFormer は {dc}（{diff}）です（{kind} で測った速度比 "
                              "{ratio} による）。"},
    "dec.a4.range": {"en": "Training {params} parameters on {tokens} tokens on {kind}: Transformer++ "
                           "costs {tf}; DCFormer costs {dc} for the same quality ({diff}), at speed "
                           "ratios of {span} (the paper's for this size, widened by ours on other "
                           "GPUs where measured), since speed has not been measured on {kind}. The net "
                           "benefit above uses the speed ratio measured on {device} ({ratio}), which "
                           "does not carry over to {kind}.",
                     "ja": "{kind} でパラメータ {params}、{tokens}トークンを学習すると、Transformer++ "
                           "は {tf}、同じ品質の DCFormer は {dc}（{diff}）です。{kind} での速度は未測定"
                           "のため、速度比 {span}（論文が報告するこのサイズの値。他の GPU での本調査の"
                           "測定値があればそれで幅を広げます）で見積もっています。上記の正味の効果は "
                           "{device} で測った速度比（{ratio}）によるもので、{kind} には当てはまりません。"},
    "dec.a4.range_gpu": {"en": "Training {params} parameters on {tokens} tokens on {kind}: Transformer++ "
                               "costs {tf}; DCFormer costs {dc} for the same quality ({diff}), at "
                               "speed ratios of {span} (the paper's for this size and ours measured on "
                               "{device}), since speed has not been measured on {kind}.",
                         "ja": "{kind} でパラメータ {params}、{tokens}トークンを学習すると、Transformer++ "
                               "は {tf}、同じ品質の DCFormer は {dc}（{diff}）です。{kind} での速度は未測定"
                               "のため、速度比 {span}（論文が報告するこのサイズの値と、本調査の {device} "
                               "での測定値）で見積もっています。"},
    "dec.a4.shrinks": {"en": "This uses the multiplier over all sizes; the verdict holds GO back because at "
                             "the largest size, {preset}, the net benefit is {net_largest:.2f} on its own.",
                       "ja": "この試算は全サイズを通した計算量倍率によるものです。最大サイズの {preset} "
                             "単独では正味の効果が {net_largest:.2f} のため、判定は GO を保留しています。"},
    "dec.a4.more": {"en": "{usd} more than Transformer++", "ja": "Transformer++ より {usd} 高い"},
    "dec.a4.less": {"en": "{usd} less than Transformer++", "ja": "Transformer++ より {usd} 安い"},
    "dec.a4.either": {"en": "from {less} less to {more} more than Transformer++",
                      "ja": "Transformer++ より {less} 安い〜{more} 高い"},
    "dec.speed.kernel": {"en": "Triton self-check on {kind}: DCMHA attention ran {x:.1f}× as fast as the "
                               "PyTorch path (attention only: supporting evidence, not a model speed ratio).",
                         "ja": "{kind} での Triton セルフチェック：DCMHA アテンションは PyTorch 実装の {x:.1f} 倍の"
                               "速さでした（アテンションのみの値で、モデル全体の速度比ではなく補足情報です）。"},
    "gap.title": {"en": "The gap over training", "ja": "学習経過に沿った差"},
    "gap.note": {"en": "DCFormer minus {baseline} validation loss at each evaluation, mean over seeds (band: "
                       "lowest to highest seed). Negative favours DCFormer.",
                 "ja": "各評価時点での DCFormer と {baseline} の検証損失の差で、シードの平均です（帯は最小〜最大"
                       "のシード）。負の値は DCFormer が優位であることを示します。"},
    "gap.tiny": {"en": "At tiny the evaluations during training score a subset of 512 validation tokens, the "
                       "final one 4,096 (on tiny runs the subset read up to 0.17 nats/byte lower): tiny's "
                       "last point is not comparable with its earlier ones, so read its course from those.",
                 "ja": "tiny では学習中の評価は検証トークン 512 の部分集合、最終評価は 4,096 トークンで行います"
                       "（tiny の実行では部分集合の方が最大 0.17 nats/byte 低く出ました）。そのため tiny の最後の点は"
                       "それ以前の点と比較できません。経過はそれ以前の点から読み取ってください。"},
    "gap.none": {"en": "No validation curves paired by seed yet.",
                 "ja": "シードで対応づけられた検証曲線がまだありません。"},
    "gap.line": {"en": "{preset}: largest lead {lead:+.3f} after {lead_step:,} steps, {final:+.3f} at the end "
                       "({final_step:,} steps): {pattern}.",
                 "ja": "{preset}：最大のリードは {lead_step:,} ステップ時点の {lead:+.3f}、終了時点"
                       "（{final_step:,} ステップ）では {final:+.3f} です。{pattern}。"},
    "gap.line_behind": {"en": "{preset}: DCFormer never led; {final:+.3f} at the end ({final_step:,} steps).",
                        "ja": "{preset}：DCFormer は一度もリードしておらず、終了時点（{final_step:,} ステップ）では "
                              "{final:+.3f} です。"},
    "gap.pattern.holds": {"en": "DCFormer keeps its lead", "ja": "DCFormer がリードを保っています"},
    "gap.pattern.narrows": {"en": "DCFormer's lead narrows", "ja": "DCFormer のリードは縮まっています"},
    "gap.pattern.caught": {"en": "DCFormer led early and was caught", "ja": "DCFormer は序盤にリードしましたが追いつかれました"},
    "gap.pattern.behind": {"en": "DCFormer never led", "ja": "DCFormer は一度もリードしていません"},
    "gap.col.params": {"en": "Parameters", "ja": "パラメータ数"},
    "gap.col.lead": {"en": "Largest lead (step)", "ja": "最大のリード（ステップ）"},
    "gap.col.final": {"en": "At the end (step)", "ja": "終了時点（ステップ）"},
    "gap.col.pattern": {"en": "Course", "ja": "推移"},
    "chart.gap": {"en": "DCFormer minus baseline over training", "ja": "学習経過に沿った DCFormer とベースラインの差"},
    "chart.axis.gap": {"en": "Val loss difference (nats/byte)", "ja": "検証損失の差（nats/byte）"},

    "unit.lt1s": {"en": "under 1 s", "ja": "1 秒未満"},
    "unit.s": {"en": "{n} s", "ja": "{n} 秒"},
    "unit.min": {"en": "{m} min {s} s", "ja": "{m} 分 {s} 秒"},
    "unit.min_only": {"en": "{m} min", "ja": "{m} 分"},
    "unit.h": {"en": "{h} h {m} min", "ja": "{h} 時間 {m} 分"},
    "unit.d": {"en": "{d} d {h} h", "ja": "{d} 日 {h} 時間"},
}


def t(key: str, lang: str = "en") -> str:
    """The string for key in lang (English when the language lacks it)."""
    entry = STRINGS[key]
    return entry.get(lang) or entry["en"]


_ATTN_REASONS = [(re.compile(pattern), key) for pattern, key in (
    (r"CPU: the PyTorch path$", "attn.reason.cpu"),
    (r"Transformer\+\+: PyTorch attention \(no DCMHA\)$", "attn.reason.transformer"),
    (r"attn_impl=(?P<impl>\w+) set in the config$", "attn.reason.config"),
    (r"triton is not installed: the PyTorch path$", "attn.reason.no_triton"),
    (r"self-check failed: (?P<error>.*)$", "attn.reason.failed"),
    (r"self-check passed but was not timed$", "attn.reason.untimed"),
    (r"self-check passed; Triton faster on this device: (?P<timing>.*)$", "attn.reason.faster"),
    (r"Triton slower on this device: (?P<timing>.*)$", "attn.reason.slower"),
    (r"rank 0's choice$", "attn.reason.rank0"))]


def attention_reason(reason: str | None, lang: str) -> str:
    """A run's recorded attention-path reason (English, kernels/selfcheck.py) in lang; the parts
    of it the catalogue knows, joined as lang joins clauses (attn_impl=triton adds the check's
    reason), the rest (error texts, timings) as recorded."""
    if not reason:
        return "—"
    parts = []
    for part in reason.split("; ", 1) if reason.startswith("attn_impl=") else [reason]:
        for pattern, key in _ATTN_REASONS:
            found = pattern.match(part)
            if found:
                part = t(key, lang).format(**found.groupdict())
                break
        parts.append(part)
    return t("sep.clause", lang).join(parts)


# a run's recorded error (English: runs/worker.py, runs/executors.py) by its first line -> fail.*
_FAILURES = [(re.compile(pattern), key) for pattern, key in (
    (r"lost: ", "fail.lost"), (r"the training process ended with ", "fail.killed"),
    (r"stopped with its worker", "fail.worker"), (r"killed: ", "fail.cancel_killed"),
    (r"SLURM job \S+ was cancelled", "fail.slurm_cancelled"), (r"SLURM job ", "fail.slurm"))]


def failure_text(error: str, restartable: bool, has_checkpoint: bool, lang: str) -> str:
    """Why a run stopped in lang and what the Runs page's buttons can do about it (the recorded
    message tells a command-line user to run `train --resume`), then the recorded first line."""
    first = error.splitlines()[0] if error else ""
    key = next((key for pattern, key in _FAILURES if pattern.match(first)), "fail.other")
    lead = t(key, lang)
    if restartable:
        lead = t("fail.resume" if has_checkpoint else "fail.retry", lang).format(
            why=lead, resume=t("runs.resume", lang), retry=t("runs.retry", lang))   # the buttons' own labels
    return f"{lead}\n\n{t('fail.recorded', lang).format(first=first)}"


def size_label(preset: str, lang: str, steps: object = None, tokens: object = None) -> str:
    """A model size with its training budget, as the Overview heads a size's card and the tables
    name a size the study ran at several budgets: 'tiny · 100 steps' ('tiny · 100 ステップ'); by
    tokens where the step count is not known; the bare preset without either."""
    if _positive(steps):
        return t("size.steps", lang).format(preset=preset, steps=f"{int(float(steps)):,}")
    if _positive(tokens):
        return t("size.tokens", lang).format(preset=preset, tokens=f"{float(tokens):,.0f}")
    return str(preset)


def _positive(value: object) -> bool:
    """A known budget: a finite number above 0 (None, NaN and a run's unresolved 0 are not)."""
    try:
        return math.isfinite(float(value)) and float(value) > 0
    except (TypeError, ValueError):
        return False


def kind_label(kind: str, lang: str) -> str:
    """A price-table device kind as people write it: 'h100' -> 'H100', 'other-gpu' -> 'Other GPU'."""
    key = f"settings.kind.{kind}"
    return t(key, lang) if key in STRINGS else kind


def device_text(device: str | None, lang: str) -> str:
    """A device as people write it: the decision's labels ('cpu', 'h100 x2', decision.facts.
    device_label) as 'CPU', 'H100 ×2'; a device's own name ('NVIDIA H100 80GB HBM3') as it is."""
    if not device:
        return "—"
    kind, sep, count = device.partition(" x")
    if f"settings.kind.{kind}" in STRINGS and (not sep or count.isdigit()):
        return kind_label(kind, lang) + (f" ×{count}" if sep else "")
    return device


def study_question(question: str, lang: str) -> str:
    """A study's question in lang: the reference studies' question is product text, shown in lang
    whichever language it was stored in; a user's own question stays as typed."""
    if question.strip() in STRINGS["study.reference_question"].values():
        return t("study.reference_question", lang)
    return question


def setting_label(key: str, lang: str) -> str:
    """A config key (dotted, 'model.qk_norm') as a reader names it, the key in brackets for the
    engineer: 'QK-norm (model.qk_norm)'; a key the catalogue lacks as it is."""
    name = f"setting.{key}"
    return f"{t(name, lang)} ({key})" if name in STRINGS else key


def setting_value(key: str, value: object, lang: str) -> str:
    """A config value worded for a table: switches as yes / no, architectures by name, a key a
    run lacks as '(not set)', the rest as written."""
    if value is None:
        return t("value.missing", lang)
    if isinstance(value, bool):
        return t("value.yes" if value else "value.no", lang)
    if key == "model.arch":
        return ARCH_LABELS.get(str(value), str(value))
    return str(value)


def column_labels(columns, lang: str) -> dict[str, str]:
    """Display names for table columns that have a translation."""
    return {c: t(f"col.{c}", lang) for c in columns if f"col.{c}" in STRINGS}


def num(value: float | None, spec: str = ".4g", suffix: str = "") -> str:
    """A number for display; ∞ for an unbounded one; a dash where there is none (NaN, None)."""
    if value is None or math.isnan(float(value)):
        return "—"
    if math.isinf(float(value)):
        return ("∞" if float(value) > 0 else "−∞") + suffix
    return f"{float(value):{spec}}{suffix}"


def sentences(lang: str, *parts: str) -> str:
    """Sentences one after another as lang writes them: a space between them in English, none in
    Japanese (the full stop 。 already separates them)."""
    return ("" if lang == "ja" else " ").join(p for p in parts if p)


def count_text(value: float | None, lang: str = "en") -> str:
    """A large count (parameters, tokens) as a reader says it, to 3 significant digits: '915K',
    '405M', '7.1B'; in Japanese by 万 and 億, '91.5 万', '4 億 500 万', '71 億'; '—' for none."""
    if value is None or not (math.isfinite(float(value)) and float(value) > 0):
        return "—"
    value = float(f"{float(value):.3g}")
    if lang != "ja":
        for div, unit in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
            if value >= div:
                return f"{value / div:.3g}{unit}"
        return f"{value:.0f}"
    if value >= 1e12:
        return f"{value / 1e12:.3g} 兆"
    if value >= 1e8:
        oku, man = divmod(round(value / 1e4), 10_000)
        return f"{oku:,} 億" + (f" {man:,} 万" if man else "")
    if value >= 1e4:   # value already has 3 significant digits: 2,600 万, 91.5 万 (never 2.6e+03)
        man = value / 1e4
        return (f"{man:,.0f}" if man >= 100 else f"{man:g}") + " 万"
    return f"{value:,.0f}"


def duration(seconds: float | None, lang: str = "en", estimate: bool = False) -> str:
    """'42 s', '3 min 05 s', '2 h 10 min', '3 d 4 h' (in lang); a dash where there is none.
    estimate: from 10 minutes on, whole minutes only ('31 min'): seconds would claim a precision
    an estimate does not have."""
    if seconds is None or not math.isfinite(float(seconds)) or seconds < 0:
        return "—"
    if 0 < seconds < 0.5:
        return t("unit.lt1s", lang)
    total = round(float(seconds))
    if estimate and total >= 600:
        total = round(total / 60) * 60
    if total < 60:
        return t("unit.s", lang).format(n=total)
    if estimate and 600 <= total < 3600:
        return t("unit.min_only", lang).format(m=total // 60)
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
