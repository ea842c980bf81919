"""Decision-grade evidence on fixtures with known answers: the ablation ladder's attribution (QK-norm
part, DCMHA part), the pooled interval against a hand computation, 2-seed intervals flagged, the
confirmation runs deciding instead of the sweep runs that chose the rates, and the confirmation
stage in the worker's stage machine."""
import math

import pandas as pd
import pytest

from dcpoc.config import ConfigError, variant_config, variant_of
from dcpoc.decision import compare_equal_tokens, decide
from dcpoc.decision.attribution import attribute, decisive_pair
from dcpoc.decision.stats import pooled_interval
from dcpoc.report.text import say
from dcpoc.studies.spec import StudySpec, plan_stages

SIZES = {"s1": (1e6, 1e8), "s2": (4e6, 2e8), "s3": (1.6e7, 4e8)}
SPEED = {"transformer": 1000.0, "transformer-qknorm": 990.0, "dcformer": 800.0}
QK_PART, DCMHA_PART = -0.08, -0.03
# per-seed noise of each part: the parts' means are QK_PART and DCMHA_PART exactly
QK_NOISE, DC_NOISE = (0.0, 0.01, -0.01), (0.004, -0.002, -0.002)


def run(variant, preset, seed, loss, lr=1e-3):
    arch, _ = variant_config(variant)
    params, tokens = SIZES[preset]
    return {"id": f"{variant}-{preset}-{seed}-{lr}", "study": "st", "arch": arch, "preset": preset,
            "status": "succeeded", "seed": seed, "final_val_loss": loss, "tokens_seen": tokens,
            "flops_per_token": 6 * params, "n_params": params, "tokens_per_s": SPEED[variant],
            "diverged": False, "corpus_fingerprint": "fp", "corpus_spec": "pydoc",
            "device": "NVIDIA H100",
            "config": {"model": {"qk_norm": variant != "transformer"}, "train": {"nproc": 1, "lr": lr}},
            "wall_s": tokens / SPEED[variant], "cost_usd": 1.0, "total_steps": 100,
            "finished_at": pd.Timestamp("2026-01-01"), "created_at": pd.Timestamp("2026-01-01")}


def ladder_runs(seeds=(1, 2, 3), presets=tuple(SIZES), rungs=("transformer", "transformer-qknorm", "dcformer")):
    rows = []
    for preset in presets:
        base = 3.0 - 0.2 * list(SIZES).index(preset)
        for seed, qk, dc in zip(seeds, QK_NOISE, DC_NOISE):
            loss = {"transformer": base, "transformer-qknorm": base + QK_PART + qk}
            loss["dcformer"] = loss["transformer-qknorm"] + DCMHA_PART + dc
            rows += [run(v, preset, seed, loss[v]) for v in rungs]
    return pd.DataFrame(rows)


def test_variants_name_arch_and_qk_norm():
    assert variant_of("transformer", False) == "transformer"
    assert variant_of("transformer", True) == "transformer-qknorm"
    assert variant_of("dcformer", True) == "dcformer" and variant_of("dcformer", False) == "dcformer-noqknorm"
    assert variant_config("transformer") == ("transformer", ["qk_norm=false"])
    with pytest.raises(ConfigError, match="unknown variant"):
        variant_config("mamba")


def test_attribution_splits_the_gain_into_its_known_parts():
    table = attribute(ladder_runs())
    assert list(table["part"]) == ["qk_norm", "dcmha", "total"] * 3
    largest = table[table["preset"].eq("s3")].set_index("part")
    assert largest.loc["qk_norm", "loss_diff"] == pytest.approx(QK_PART)
    assert largest.loc["dcmha", "loss_diff"] == pytest.approx(DCMHA_PART)
    assert largest.loc["total", "loss_diff"] == pytest.approx(QK_PART + DCMHA_PART)
    # the QK-norm part's interval by hand: differences -0.08, -0.07, -0.09: s = 0.01
    half = 4.303 * 0.01 / math.sqrt(3)
    assert largest.loc["qk_norm", "loss_low"] == pytest.approx(QK_PART - half)
    assert largest.loc["qk_norm", "speed_ratio"] == pytest.approx(0.99)
    assert largest.loc["dcmha", "speed_ratio"] == pytest.approx(800 / 990)
    assert not largest["unreliable"].any()


def test_verdict_is_about_dcmha_on_the_best_cheap_baseline_and_qk_norm_is_its_own_advice():
    decision = decide(ladder_runs(), "st")
    assert (decision.baseline, decision.treatment) == ("transformer-qknorm", "dcformer")
    assert decision.equal_tokens["loss_diff"].to_numpy() == pytest.approx([DCMHA_PART] * 3)
    assert decision.multiplier.speed_ratio == pytest.approx(800 / 990)
    # the seed-to-seed spread shown beside each interval: sd of 0.004, -0.002, -0.002 = sqrt(12e-6)
    assert decision.equal_tokens["loss_sd"].to_numpy() == pytest.approx([math.sqrt(12e-6)] * 3)
    [(key, values)] = decision.recommendations
    assert key == "rec.qk_norm" and values["diff"] == pytest.approx(QK_PART) and values["preset"] == "s3"
    keys = [k for k, _ in decision.evidence]
    assert keys[:2] == ["ev.baseline", "ev.attribution"] and "ev.confirm.none" in keys
    # each part's interval reads as the language writes one, as everywhere else in the report
    attribution = decision.evidence[1]
    assert "DCMHA on top of it -0.0300 (" in say(attribution, "en") and " to " in say(attribution, "en")
    assert "DCMHA を加えて -0.0300（" in say(attribution, "ja") and "〜" in say(attribution, "ja")
    assert "[" not in say(attribution, "en") + say(attribution, "ja")
    assert "risk.no_qknorm_baseline" not in [k for k, _ in decision.risks]
    # without the QK-norm rung, the paper's Transformer++ is the baseline and the risk is named
    bare = decide(ladder_runs(rungs=("transformer", "dcformer")), "st")
    assert bare.baseline == "transformer" and bare.attribution.empty and not bare.recommendations
    assert bare.equal_tokens["loss_diff"].to_numpy() == pytest.approx([QK_PART + DCMHA_PART] * 3)
    assert bare.risks[0][0] == "risk.no_qknorm_baseline"


def test_a_size_with_two_token_budgets_is_split_once_at_the_longer_one():
    runs = ladder_runs()
    shorter = runs[runs["preset"].eq("s3")]
    shorter = shorter.assign(id=shorter["id"] + "-short", tokens_seen=shorter["tokens_seen"] / 2,
                             final_val_loss=shorter["final_val_loss"] + 0.5)
    table = attribute(pd.concat([runs, shorter], ignore_index=True))
    assert list(table["part"]) == ["qk_norm", "dcmha", "total"] * 3
    largest = table[table["preset"].eq("s3")].set_index("part")
    assert largest.loc["dcmha", "loss_diff"] == pytest.approx(DCMHA_PART)
    assert decide(pd.concat([runs, shorter], ignore_index=True), "st").evidence   # no crash


def test_one_seed_pair_gives_qk_norm_advice_without_an_interval():
    from dcpoc.ui.i18n import t
    [(key, values)] = decide(ladder_runs(seeds=(1,)), "st").recommendations
    assert key == "rec.qk_norm_no_interval" and values["n"] == 1
    for lang in ("en", "ja"):
        assert "nan" not in t(key, lang).format(**values)


def test_the_overview_headline_shows_the_rungs_the_verdict_compares():
    from dcpoc.decision import headline_by_preset
    head = headline_by_preset(ladder_runs(), "st").set_index("preset")
    assert head["loss_diff"].to_numpy() == pytest.approx([DCMHA_PART] * 3)
    assert set(head["n_transformer"]) == {3} and head.loc["s1", "speed_ratio"] == pytest.approx(800 / 990)


def test_old_runs_without_qk_norm_in_their_config_keep_their_meaning():
    old = ladder_runs(rungs=("transformer-qknorm", "dcformer"))
    old["config"] = [{"train": {"nproc": 1}}] * len(old)      # written before the switch existed
    assert decisive_pair(old) == ("transformer-qknorm", "dcformer")
    decision = decide(old, "st")
    assert decision.equal_tokens["loss_diff"].to_numpy() == pytest.approx([DCMHA_PART] * 3)
    assert decision.attribution.empty


def test_pooled_interval_by_hand():
    # a: n 3, mean -0.2, s^2 0.01; b: n 2, mean -0.3, s^2 0.02; pooled mean (3 x -0.2 + 2 x -0.3) / 5
    got = pooled_interval({"a": [-0.1, -0.2, -0.3], "b": [-0.2, -0.4]})
    va, vb = 3 * 0.01 / 25, 2 * 0.02 / 25                  # n_g s_g^2 / n_total^2
    df = (va + vb) ** 2 / (va**2 / 2 + vb**2 / 1)          # Welch-Satterthwaite: 2.39
    assert got.df == pytest.approx(df) == pytest.approx(2.39, abs=0.01) and got.se == pytest.approx(math.sqrt(va + vb))
    assert got.n_sizes == 2 and got.interval.mean == pytest.approx(-0.24) and got.interval.n == 5
    half = 4.303 * math.sqrt(va + vb)                      # t at floor(2.39) = 2 degrees of freedom
    assert (got.interval.low, got.interval.high) == (pytest.approx(-0.24 - half), pytest.approx(-0.24 + half))
    assert got.interval.method == "pooled-welch"
    # agree: |-0.2 - -0.3| = 0.1 < t(floor(df_ab)) x sqrt(0.01 / 3 + 0.02 / 2)
    assert got.agree and got.apart is None
    apart = pooled_interval({"a": [-0.1, -0.11, -0.09], "b": [0.5, 0.51, 0.49]})
    assert not apart.agree and apart.apart == ("a", "b")
    assert pooled_interval({"a": [-0.1, -0.2]}) is None                 # one size
    assert pooled_interval({"a": [-0.1], "b": [-0.2]}) is None          # no spread of their own
    assert pooled_interval({"a": [-0.1, -0.2], "b": [-0.2]}) is None    # b has none


def test_a_noisy_size_does_not_lend_its_precision_to_a_quiet_one():
    # the reference study's shape: spreads 35x apart. A common variance (sd about 0.08) would call
    # a quiet size's 0.05 shift chance; Welch reads each size's own spread, so the two quiet sizes,
    # 10 standard errors apart, are not pooled, and the pooled interval is no narrower than the
    # noisy size allows
    noisy, quiet, shifted = [-0.2, 0.0, 0.2], [0.000, 0.002, 0.004], [0.050, 0.052, 0.054]
    assert pooled_interval({"xs": noisy, "s": quiet, "demo": shifted}).apart == ("s", "demo")
    got = pooled_interval({"xs": noisy, "s": quiet, "demo": quiet})
    assert got.agree and got.df < 3                         # the noisy size's 2 dfs dominate
    assert got.se == pytest.approx(math.sqrt(3 * 0.04) / 9, rel=1e-3)


def test_pooled_estimate_reaches_the_decision_where_sizes_agree():
    decision = decide(ladder_runs(), "st")
    assert decision.pooled.agree and decision.pooled.interval.mean == pytest.approx(DCMHA_PART)
    assert "ev.pooled" in [k for k, _ in decision.evidence]


def ladder_with_parts(parts: dict[str, float]) -> pd.DataFrame:
    """ladder_runs with DCMHA's part set per size (each seed's noise as DC_NOISE)."""
    rows = []
    for preset, part in parts.items():
        base = 3.0 - 0.2 * list(SIZES).index(preset)
        for seed, qk, dc in zip((1, 2, 3), QK_NOISE, DC_NOISE):
            loss = {"transformer": base, "transformer-qknorm": base + QK_PART + qk}
            loss["dcformer"] = loss["transformer-qknorm"] + part + dc
            rows += [run(v, preset, seed, loss[v]) for v in loss]
    return pd.DataFrame(rows)


def by_size(decision):
    return next(values for key, values in decision.evidence if key == "ev.by_size")


def test_the_pooled_estimate_reads_each_size_at_the_budget_the_verdict_reads():
    """Regression (audit): a size relaunched at a second token budget went into the pooled
    interval as one sample of both budgets: DCFormer 0.02 better at s2's short budget and 0.03
    worse at its long one (the one the verdict reads) pooled to 'no two sizes differ'."""
    from conftest import SIZES, run
    from dcpoc.decision.attribution import pooled, size_differences
    rows = []
    for preset, budgets in (("s1", ((1, -0.02),)), ("s2", ((1, -0.02), (2, 0.03)))):
        for scale, gain in budgets:
            tokens = SIZES[preset][1] * scale
            for seed, eps in zip((1, 2, 3), (0.0, 0.004, -0.003)):
                rows.append(run("transformer", preset, seed, 3.0, tokens=tokens) | {"id": f"t{preset}{scale}{seed}"})
                rows.append(run("dcformer", preset, seed, 3.0 + gain + eps, tokens=tokens)
                            | {"id": f"d{preset}{scale}{seed}"})
    diffs = size_differences(pd.DataFrame(rows))
    assert list(diffs) == ["s1", "s2"] and len(diffs["s2"]) == 3
    assert diffs["s2"] == pytest.approx([0.03, 0.034, 0.027])
    assert not pooled(pd.DataFrame(rows)).agree             # s1 better, s2 worse: they differ


def test_the_size_trend_stands_beside_the_pooled_estimate_in_size_order():
    # the reference study's shape: DCFormer's lead at the smallest size is gone at the largest
    decision = decide(ladder_with_parts({"s3": 0.006, "s1": -0.07, "s2": -0.01}), "st")
    keys = [k for k, _ in decision.evidence]
    assert keys.index("ev.by_size") == keys.index("ev.pooled_apart") + 1
    values = by_size(decision)
    assert values == {"values": ["s1 -0.0700", "s2 -0.0100", "s3 +0.0060"],
                      "trend": "ev.trend.lead_gone", "overlap": ""}    # narrow intervals: apart
    assert say(("ev.by_size", values), "en") == (
        "Size by size, smallest first, the equal-token loss difference (DCFormer minus the baseline, "
        "nats/byte; point estimates) is s1 -0.0700, s2 -0.0100, s3 +0.0060. DCFormer's lead shrinks as "
        "the model grows and is gone at the largest size.")
    assert say(("ev.by_size", values), "ja").endswith(
        "s1 -0.0700、s2 -0.0100、s3 +0.0060 です。モデルが大きくなるほど DCFormer のリードは縮まり、"
        "最大サイズではなくなります。")


def test_no_direction_is_claimed_when_the_sizes_go_up_and_down():
    values = by_size(decide(ladder_with_parts({"s1": -0.01, "s2": -0.07, "s3": 0.006}), "st"))
    assert values["trend"] == "" and values["values"] == ["s1 -0.0100", "s2 -0.0700", "s3 +0.0060"]
    assert "grows" not in say(("ev.by_size", values), "en")
    assert "モデルが大きくなるほど" not in say(("ev.by_size", values), "ja")
    # one mean at every size (ladder_runs): not a trend either, and every interval overlaps
    same = by_size(decide(ladder_runs(), "st"))
    assert same["trend"] == "" and same["overlap"] == "ev.by_size.overlap"


@pytest.mark.parametrize("diffs, trend", [
    ((-0.07, -0.04, -0.01), "ev.trend.lead_shrinks"), ((-0.07, -0.01, 0.0), "ev.trend.lead_gone"),
    ((0.0, 0.01, 0.02), "ev.trend.behind_grows"), ((0.05, 0.02, 0.0), "ev.trend.behind_shrinks"),
    ((0.05, 0.02, -0.01), "ev.trend.lead_won"), ((0.0, -0.02, -0.05), "ev.trend.lead_grows"),
    ((-0.02, -0.02, -0.03), "")])
def test_size_trend_words_follow_the_signs_at_both_ends(diffs, trend):
    from dcpoc.decision.evidence import size_trend
    table = pd.DataFrame({"preset": ["a", "b", "c"], "params": [3e6, 1e6, 2e6],   # rows not in size order
                          "loss_diff": [diffs[2], diffs[0], diffs[1]],
                          "loss_low": [diffs[2] - 0.1, diffs[0] - 0.1, diffs[1] - 0.1],
                          "loss_high": [diffs[2] + 0.1, diffs[0] + 0.1, diffs[1] + 0.1]})
    key, values = size_trend(table)
    assert key == "ev.by_size" and values["trend"] == trend and values["overlap"] == "ev.by_size.overlap"
    assert [v.split()[0] for v in values["values"]] == ["b", "c", "a"]
    assert size_trend(table.iloc[:1]) is None and size_trend(None) is None


def test_two_seed_intervals_are_flagged_unreliable_on_the_page_and_in_the_report():
    from dcpoc.report.text import comparison_table
    two = ladder_runs(seeds=(1, 2))
    table = compare_equal_tokens(two[two["config"].map(lambda c: c["model"]["qk_norm"])])
    assert table["unreliable"].all() and not compare_equal_tokens(ladder_runs())["unreliable"].any()
    decision = decide(two, "st")
    assert "ev.two_seeds" in [k for k, _ in decision.evidence]
    shown = comparison_table(decision, "en")
    assert set(shown["Note"]) == {"2 seeds: unreliable"}
    assert set(comparison_table(decision, "ja")["注記"]) == {"シード 2 個：信頼性が低い"}


def swept_with_confirmation():
    """Sweep seed 1 at two rates, where DCFormer's best rate looks lucky (-0.10), then fresh seeds
    101-103 at the chosen rates, where DCMHA's part is the honest -0.01."""
    rows = []
    for preset in SIZES:
        base = 3.0 - 0.2 * list(SIZES).index(preset)
        for lr, tf_loss, dc_loss in ((1e-3, base, base - 0.10), (3e-3, base + 0.05, base + 0.2)):
            rows += [run("transformer-qknorm", preset, 1, tf_loss, lr), run("dcformer", preset, 1, dc_loss, lr)]
        for seed, eps in zip((101, 102, 103), (0.0, 0.003, -0.003)):
            rows += [run("transformer-qknorm", preset, seed, base + eps),
                     run("dcformer", preset, seed, base - 0.01 + eps + eps / 3)]
    return pd.DataFrame(rows)


def test_the_overview_card_counts_the_fresh_seeds_the_verdict_decides_on():
    """The Overview's per-size card and the verdict read the same runs: with the confirmation
    settled, the fresh seeds only (the lucky sweep draw once leaked into the card)."""
    from dcpoc.decision import headline_by_preset
    runs = swept_with_confirmation()
    verdict = decide(runs, "st", confirm_seeds=[101, 102, 103]).equal_tokens.set_index("preset")
    card = headline_by_preset(runs, "st", [101, 102, 103]).set_index("preset")
    assert card["loss_diff"].to_numpy() == pytest.approx(verdict.loc[card.index, "loss_diff"].to_numpy())
    assert card["loss_diff"].to_numpy() == pytest.approx([-0.01] * 3)
    assert set(card["n_transformer"]) == {3} and set(card["baseline"]) == {"transformer-qknorm"}
    assert set(card["treatment"]) == {"dcformer"}
    sweep_included = headline_by_preset(runs, "st")   # without the study's seeds: its old reading
    assert (sweep_included["loss_diff"] < -0.02).all()
    # one rung's fresh run finished first: card and verdict both stay on the sweep's runs
    first = runs.index[runs["seed"] > 100][0]
    one_done = runs.assign(status=["succeeded" if i == first or s < 100 else "queued"
                                   for i, s in zip(runs.index, runs["seed"])])
    early = decide(one_done, "st", confirm_seeds=[101, 102, 103]).equal_tokens.set_index("preset")
    card = headline_by_preset(one_done, "st", [101, 102, 103]).set_index("preset")
    assert card["loss_diff"].to_numpy() == pytest.approx(early.loc[card.index, "loss_diff"].to_numpy())
    assert set(card["n_transformer"]) == {1}


def test_one_best_rate_for_both_is_not_called_a_need_for_own_tuning():
    risks = dict(decide(swept_with_confirmation(), "st", confirm_seeds=[101, 102, 103]).risks)
    assert "risk.tuning" not in risks            # both did best at 1e-3
    same = risks["risk.tuning_same"]
    assert same["tf_lr"] == same["dc_lr"] == "0.001" and same["baseline"] == "Transformer++ + QK-norm"
    sweep = swept_with_confirmation().query("seed == 1").copy()   # DCFormer better at 3e-3 here
    dc = sweep["arch"].eq("dcformer")
    sweep.loc[dc, "final_val_loss"] = 10 - sweep.loc[dc, "final_val_loss"]
    own = dict(decide(sweep, "st").risks)
    assert "risk.tuning" in own and own["risk.tuning"]["dc_lr"] == "0.003"


def test_the_confirmation_runs_decide_and_no_confirmation_is_called_optimistic():
    runs = swept_with_confirmation()
    confirmed = decide(runs, "st", confirm_seeds=[101, 102, 103])
    assert confirmed.confirmation == "confirmed"
    assert set(confirmed.equal_tokens["seeds"]) == {"101,102,103"}
    assert confirmed.equal_tokens["loss_diff"].to_numpy() == pytest.approx([-0.01] * 3)
    assert len(confirmed.lr_sweep) and "reason.optimistic" not in [k for k, _ in confirmed.reasons]
    chosen_on_sweep = dict(confirmed.reasons)["reason.best_lr_chosen"]    # the sweep chose, fresh seeds decide
    assert (chosen_on_sweep["n"], chosen_on_sweep["excluded"]) == (6, 6)
    sweep_only = runs[runs["seed"].eq(1)]
    optimistic = decide(sweep_only, "st")
    assert optimistic.confirmation == "optimistic"
    assert optimistic.equal_tokens["loss_diff"].to_numpy() == pytest.approx([-0.10] * 3)   # the lucky draw
    assert "ev.confirm.optimistic" in [k for k, _ in optimistic.evidence]
    assert "reason.best_lr" in dict(optimistic.reasons)              # the sweep's runs are compared
    # the sweep table says whose losses it shows: the fresh seeds' verdict differs from it
    from dcpoc.report import lr_sweep_note
    from dcpoc.ui.i18n import t
    assert lr_sweep_note(confirmed, "ja") == t("dec.lr_note.confirmed", "ja")
    assert lr_sweep_note(optimistic, "en") == t("dec.lr_note", "en")
    # fresh seeds still queued: the sweep's runs keep deciding until one of them has finished
    pending = runs.assign(status=["queued" if s > 100 else "succeeded" for s in runs["seed"]])
    waiting = decide(pending, "st", confirm_seeds=[101, 102, 103])
    assert waiting.confirmation == "pending" and set(waiting.equal_tokens["seeds"]) == {"1"}
    assert "ev.confirm.pending" in [k for k, _ in waiting.evidence]      # not "launch with seeds"
    # the confirmation runs failed (or an imported study's never ran): nothing is still to come
    given_up = runs.assign(status=["failed" if s > 100 else "succeeded" for s in runs["seed"]])
    assert decide(given_up, "st", confirm_seeds=[101, 102, 103]).confirmation == "optimistic"
    # one rung's fresh run finished first (the worker runs them in turn): still the sweep's runs
    first = runs.index[(runs["seed"] > 100)][0]
    one_done = pending.assign(status=["succeeded" if i == first or s < 100 else "queued"
                                      for i, s in zip(pending.index, pending["seed"])])
    early = decide(one_done, "st", confirm_seeds=[101, 102, 103])
    assert early.confirmation == "pending" and set(early.equal_tokens["seeds"]) == {"1"}
    assert len(early.equal_tokens) == 3                          # no size lost its comparison


# ----------------------------------------------------------------------------- plans and stages
def ladder_spec(**changes) -> StudySpec:
    return StudySpec(**{"name": "ladder", "presets": ["tiny", "cpu-xs"], "seeds": [1], "steps": 4,
                        "variants": ["transformer", "transformer-qknorm", "dcformer"], "sweep": "each",
                        "lr_grid": [1e-3, 1e-2], "confirm_seeds": [11, 12],
                        "overrides": ["batch_size=4", "seq_len=32", "eval_batches=1", "threads=1"],
                        **changes})


def test_a_ladder_plan_sets_qk_norm_per_variant_and_plans_the_confirmation():
    plan = plan_stages(ladder_spec())
    assert len(plan.first) == 2 * 2 * 3 and plan.later == [] and len(plan.confirm) == 2 * 2 * 3
    assert {(r.model.arch, r.model.qk_norm) for r in plan.first} == {
        ("transformer", False), ("transformer", True), ("dcformer", True)}
    assert {r.train.seed for r in plan.confirm} == {11, 12}
    for bad, match in ((dict(confirm_seeds=[1, 11]), "fresh seeds"),
                       (dict(sweep="none", lr_grid=[]), "re-checks the rates"),
                       (dict(overrides=["qk_norm=false"]), "remove --set qk_norm"),
                       (dict(variants=["transformer", "mamba"]), "variants must be")):
        with pytest.raises(ConfigError, match=match):
            plan_stages(ladder_spec(**bad))


def test_confirmation_stage_waits_then_queues_fresh_seeds_at_each_chosen_rate_once(dcpoc_home):
    from dcpoc.runs import launch_study
    from dcpoc.runs.stages import advance_stages, confirm_stage
    from dcpoc.runs.store import Store
    store = Store()
    ids = launch_study(store, ladder_spec(), start_worker=False)
    assert len(ids) == 12 and advance_stages(store) == ([], True)       # sweep queued: waiting
    assert confirm_stage(store, "ladder")["state"] == "waiting"
    rows = store.list_runs(study="ladder").set_index("id").loc[ids]
    for run_id, variant, preset, config in zip(ids, rows["variant"], rows["preset"], rows["config"]):
        lr = config["train"]["lr"]
        if variant == "dcformer" and preset == "cpu-xs":
            store.update_run(run_id, status="failed", error="boom")
            continue
        # the paper's Transformer++ likes the high rate at tiny, every other lane the low one
        wins = (lr == 1e-2) == (variant == "transformer" and preset == "tiny")
        store.update_run(run_id, status="succeeded", final_val_loss=1.0 if wins else 1.2, tokens_seen=256)
    blocked = confirm_stage(store, "ladder")
    assert blocked["state"] == "blocked" and blocked["missing"] == ["cpu-xs dcformer: no run finished"]
    assert advance_stages(store) == ([], False)                          # a worker may stop
    for run_id in rows.index[rows["variant"].eq("dcformer") & rows["preset"].eq("cpu-xs")]:
        store.update_run(run_id, status="succeeded", final_val_loss=1.0 + rows.loc[run_id, "config"]["train"]["lr"],
                         tokens_seen=256)
    ready = confirm_stage(store, "ladder")
    assert ready["best"] == {"tiny transformer": 1e-2, "tiny transformer-qknorm": 1e-3, "tiny dcformer": 1e-3,
                             "cpu-xs transformer": 1e-3, "cpu-xs transformer-qknorm": 1e-3,
                             "cpu-xs dcformer": 1e-3}
    queued, _ = advance_stages(store)
    assert len(queued) == 12 and advance_stages(store)[0] == []          # the stage flipped once
    fresh = store.list_runs(study="ladder").set_index("id").loc[queued]
    assert set(fresh["seed"]) == {11, 12} and set(fresh["status"]) == {"queued"}
    chosen = {(p, v, c["train"]["lr"]) for p, v, c in zip(fresh["preset"], fresh["variant"], fresh["config"])}
    assert chosen == {(k.split()[0], k.split()[1], lr) for k, lr in ready["best"].items()}
    assert confirm_stage(store, "ladder") == {"state": "queued", "best": ready["best"]}
    assert (dcpoc_home / queued[0] / "config.json").exists()
    with pytest.raises(ConfigError, match="needs a study of its own"):
        launch_study(store, ladder_spec(), start_worker=False)
    from conftest import run_cli
    import json
    [listed] = json.loads(run_cli("study", "list", "--json").stdout)
    assert listed["confirm_stage"] == "queued" and listed["confirmed_lr"] == ready["best"]
    assert "confirmation stage: fresh seeds queued at the chosen rates: tiny " in run_cli("study", "list").stdout
    for run_id in queued:     # once nothing is left to train, the stage reads as done (it was "queued")
        store.update_run(run_id, status="succeeded")
    assert "confirmation stage: done; fresh seeds trained at the chosen rates: " in run_cli("study", "list").stdout
    store.update_run(queued[0], status="failed")
    assert "confirmation stage: ended with runs failed or cancelled" in run_cli("study", "list").stdout


def test_a_real_worker_runs_the_sweep_then_the_confirmation_into_the_report(dcpoc_home):
    """Tiny real runs: the worker trains the ladder's sweep, queues the fresh seeds itself and
    trains them; the decision rests on those, with the QK-norm part split off."""
    from dcpoc import report
    from dcpoc.decision import load_decision
    from dcpoc.runs import launch_study, run_worker
    from dcpoc.runs.store import Store
    store = Store()
    spec = ladder_spec(name="real-ladder", presets=["tiny"], confirm_seeds=[11, 12])
    launch_study(store, spec, start_worker=False)
    assert run_worker(store) == 6 + 6
    runs = store.list_runs(study="real-ladder")
    assert set(runs["status"]) == {"succeeded"} and set(runs["seed"]) == {1, 11, 12}
    found = load_decision(store, "real-ladder")
    d = found.decision
    assert d.confirmation == "confirmed" and set(d.equal_tokens["seeds"]) == {"11,12"}
    assert bool(d.equal_tokens["unreliable"].iloc[0])                # two fresh seeds: flagged
    assert list(d.attribution["part"]) == ["qk_norm", "dcmha", "total"]
    assert d.recommendations[0][0] in ("rec.qk_norm", "rec.qk_norm_unclear")
    text = report.render(found, "md", "en").decode()
    section = text.split("## Where the gain comes from, and how sure we are", 1)[1].split("\n## ", 1)[0]
    assert "Confirmed: the comparison that decides uses fresh seeds (11, 12)" in section
    assert "| tiny | QK-norm | Transformer++ + QK-norm − Transformer++ | 2 |" in section
    ja = report.render(found, "md", "ja").decode()
    assert "## 効果の出どころと確からしさ" in ja and "確認済み" in ja


def test_reference_cpu_plan_fits_two_hours_on_two_cpu_slots():
    """What `study plan --reference reference-cpu` prints, from FLOP counts: at most ~100 min with
    its two worker slots (the stage barrier before the confirmation adds up to one run's time)."""
    from dcpoc.studies import estimate_study, reference_study
    ref = reference_study("reference-cpu")
    total = estimate_study(plan_stages(ref).runs, "cpu", {})
    assert ref.workers == 2 and total["n_runs"] == 45
    assert total["wall_s"] / ref.workers <= 100 * 60


def test_cli_plans_the_ladder_with_its_confirmation_and_refuses_bad_seeds(dcpoc_home):
    from conftest import run_cli
    out = run_cli("study", "plan", "--name", "l", "--presets", "tiny", "--ladder", "--sweep", "each",
                  "--lrs", "1e-3,3e-3", "--confirm-seeds", "11,12", "--steps", "5")
    assert out.returncode == 0, out.stderr
    assert out.stdout.count(" transformer-qknorm ") == 2 + 2 and out.stdout.count(" chosen+ ") == 6
    assert "optimistic" not in out.stdout
    swept = run_cli("study", "plan", "--name", "l", "--presets", "tiny", "--sweep", "each", "--steps", "5")
    assert swept.returncode == 0 and "the estimate is optimistic" in swept.stdout
    bad = run_cli("study", "plan", "--name", "l", "--presets", "tiny", "--ladder", "--sweep", "each",
                  "--confirm-seeds", "11,x")
    assert bad.returncode == 2 and bad.stderr.startswith("error: --confirm-seeds")
    clash = run_cli("study", "plan", "--name", "l", "--presets", "tiny", "--variants", "transformer,gpt")
    assert clash.returncode == 2 and "variants must be" in clash.stderr
    for flags in (["--ladder", "--archs", "dcformer"], ["--archs", "dcformer", "--variants", "transformer"]):
        both = run_cli("study", "plan", "--name", "l", "--presets", "tiny", *flags)   # one silently won
        assert both.returncode == 2 and both.stderr.startswith("error: give one of ") and \
            both.stderr.count("\n") == 1, both.stderr
