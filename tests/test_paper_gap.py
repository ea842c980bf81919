"""The paper beside the study, the gap over training and the target's speed ratio: pure functions on
frames worked out by hand, then load_decision on a real SQLite store (a CPU study projected to an
H100 shows a range labelled as not measured there, never the CPU's ratio)."""
import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from dcpoc import costs
from dcpoc.decision import Interval, load_decision
from dcpoc.decision.gap import gap_over_training, gap_summary
from dcpoc.decision.multiplier import MultiplierResult, target_flops_ratio
from dcpoc.decision.paper import compare_with_paper, paper_speed_ratio
from dcpoc.decision.target_speed import target_speed
from dcpoc.decision.verdict import Decision
from dcpoc.report import context, say
from dcpoc.runs.store import Store
from dcpoc.ui.i18n import hours, money, t

from conftest import ladder, store_two_size_study


# ----------------------------------------------------------------------------- the paper
def test_paper_speed_ratio_interpolates_in_log_size_and_holds_at_the_ends():
    assert paper_speed_ratio(405e6) == (0.45, 0.45)
    assert paper_speed_ratio(1e6) == (0.45, 0.45)                # below 405M: the 405M figure
    assert paper_speed_ratio(1.4e9) == pytest.approx((0.60, 0.70))
    assert paper_speed_ratio(50e9) == (0.8, 0.8)
    w = (math.log(1e9) - math.log(405e6)) / (math.log(1.4e9) - math.log(405e6))
    assert paper_speed_ratio(1e9) == pytest.approx((0.45 + w * 0.15, 0.45 + w * 0.25))


def _decision(mean, low, high, speed=0.8, device="h100"):
    mult = MultiplierResult(None, pd.DataFrame(), Interval(mean, low, high, 3, "bootstrap"), speed, device,
                            Interval(mean * speed, None, None, 3), "fp", 4)
    tokens = pd.DataFrame([{"preset": "s4", "loss_diff": -0.05, "loss_low": -0.08, "loss_high": -0.02}])
    return Decision("GO", multiplier=mult, equal_tokens=tokens, baseline="transformer",
                    paper_multiplier=mult)


@pytest.mark.parametrize("mean, low, high, finding, why", [
    (2.0, 1.8, 2.2, "agrees", "paper.why.m_reaches"),
    (3.0, 2.6, 3.4, "agrees", "paper.why.m_reaches"),         # above the band is not against it
    (1.2, 1.1, 1.3, "contradicts", "paper.why.m_below"),
    (2.0, 0.9, 4.0, "cannot", "paper.why.wide"),               # high / low > 2
    (2.0, None, None, "cannot", "paper.why.wide")])
def test_the_multiplier_beside_the_paper(mean, low, high, finding, why):
    runs = ladder()                                            # largest size 64M parameters
    got = compare_with_paper(_decision(mean, low, high), runs)
    row = got.rows[0]
    assert (row.claim, row.finding, row.why[0]) == ("multiplier", finding, why)
    assert got.params == 6.4e7 and got.tokens == 8e8
    assert got.gap_params == pytest.approx(405e6 / 6.4e7) and got.gap_tokens == pytest.approx(7.1e9 / 8e8)


def test_the_papers_multiplier_is_compared_against_the_papers_baseline():
    """Regression (audit): the paper's 1.7x to 2x is against Transformer++ without QK-norm, but the
    row showed the verdict's multiplier, against Transformer++ + QK-norm: a ladder that reproduced
    the paper's 2x exactly (1.25x against the QK-norm rung) read as contradicting the paper."""
    from conftest import SIZES, run, tf_loss
    from dcpoc.decision import decide
    rows = []
    for preset, (params, tokens) in SIZES.items():
        compute = 6 * params * tokens
        for seed, eps in ((1, 0.0), (2, 0.002), (3, -0.002)):
            for variant, gain, speed in (("transformer", 1.0, 1000.0), ("transformer-qknorm", 1.6, 1000.0),
                                         ("dcformer", 2.0, 800.0)):
                row = run("dcformer" if variant == "dcformer" else "transformer", preset, seed,
                          tf_loss(gain * compute) + eps, speed=speed)
                rows.append(row | {"id": f"{variant}-{preset}-{seed}", "config": {
                    "train": {"nproc": 1, "lr": 1e-3}, "model": {"qk_norm": variant != "transformer"}}})
    runs = pd.DataFrame(rows)
    decision = decide(runs, "st")
    assert decision.baseline == "transformer-qknorm"
    assert decision.multiplier.multiplier.mean == pytest.approx(1.25, rel=0.02)
    assert decision.paper_multiplier.multiplier.mean == pytest.approx(2.0, rel=0.02)
    row = compare_with_paper(decision, runs).rows[0]
    assert (row.finding, row.ours) == ("agrees", decision.paper_multiplier.multiplier.mean)
    without_plain = runs[~runs["id"].str.startswith("transformer-")]    # QK-norm baseline only
    alone = decide(without_plain, "st")
    assert alone.baseline == "transformer-qknorm" and alone.paper_multiplier is None
    assert [r.why[0] for r in compare_with_paper(alone, without_plain).rows[:2]] == \
        ["paper.why.baseline", "paper.why.baseline_loss"]            # the loss row likewise


def test_a_study_far_below_the_papers_scale_cannot_speak_and_a_cpu_ratio_never_can():
    runs = ladder().assign(n_params=1e6)                       # 405x below the paper's 405M
    got = compare_with_paper(_decision(2.0, 1.8, 2.2, device="cpu"), runs)
    assert [r.finding for r in got.rows] == ["cannot"] * 3 and got.finding == "cannot"
    assert got.rows[0].why == ("paper.why.scale", {"gap": 405.0, "limit": 100.0})
    assert got.rows[2].why[0] == "paper.why.cpu"
    slow = compare_with_paper(_decision(2.0, 1.8, 2.2, speed=0.3), ladder())
    assert slow.rows[1].finding == "agrees" and slow.rows[2].finding == "contradicts"
    assert slow.finding == "contradicts"


def test_the_papers_loss_is_compared_with_dcformer_against_the_papers_baseline():
    # the paper's -0.09 is DCFormer++ against Transformer++ without QK-norm: in a ladder study that
    # is the attribution's total, not the verdict's pair (DCFormer against Transformer++ + QK-norm)
    decision = _decision(2.0, 1.8, 2.2)
    decision.attribution = pd.DataFrame([
        {"preset": "s4", "params": 6.4e7, "part": part, "loss_diff": d, "loss_low": lo, "loss_high": hi}
        for part, d, lo, hi in (("qk_norm", -0.04, -0.06, -0.02), ("dcmha", 0.01, -0.01, 0.03),
                                ("total", -0.03, -0.05, -0.01))])
    loss = compare_with_paper(decision, ladder()).rows[1]
    assert (loss.ours, loss.ours_low, loss.ours_high) == (-0.03, -0.05, -0.01)
    plain = compare_with_paper(_decision(2.0, 1.8, 2.2), ladder()).rows[1]   # no ladder: the pair
    assert plain.ours == -0.05
    decision.attribution["preset"] = "s3"      # the plain rung missing at the largest size: the pair
    assert compare_with_paper(decision, ladder()).rows[1].ours == -0.05


# ----------------------------------------------------------------------------- the gap
def _curves(runs, values):
    """val_loss rows: values[(arch, seed)] = losses at steps 100, 200, 300 (tokens = 1000 x step)."""
    rows = []
    for (arch, seed), losses in values.items():
        run_id = runs.loc[runs["arch"].eq(arch) & runs["seed"].eq(seed), "id"].iloc[0]
        rows += [{"run_id": run_id, "key": "val_loss", "step": s, "value": v, "tokens": 1000 * s,
                  "wall_s": float(s)} for s, v in zip((100, 200, 300), losses)]
    return pd.DataFrame(rows)


def test_dcformer_can_lead_early_and_be_caught():
    runs = ladder(presets=("s1",), seeds=(1, 2), noise=(0.0, 0.0))
    curves = _curves(runs, {("transformer", 1): [3.0, 2.5, 2.2], ("dcformer", 1): [2.8, 2.45, 2.21],
                            ("transformer", 2): [3.1, 2.6, 2.3], ("dcformer", 2): [3.0, 2.56, 2.31]})
    gaps = gap_over_training(runs, curves)
    assert gaps["step"].tolist() == [100, 200, 300] and gaps["n_seeds"].tolist() == [2, 2, 2]
    assert gaps["gap"].tolist() == pytest.approx([-0.15, -0.045, 0.01])
    assert gaps["gap_low"].tolist() == pytest.approx([-0.2, -0.05, 0.01])
    assert gaps["tokens"].tolist() == [1e5, 2e5, 3e5]
    # the size is DCFormer's, as the paper comparison states it (the pair's mean was no model's)
    sized = gap_over_training(runs.assign(n_params=runs["arch"].map({"dcformer": 915e3, "transformer": 870e3})),
                              curves)
    assert set(sized["params"]) == {915e3}
    row = gap_summary(gaps).iloc[0]
    assert (row["lead"], row["lead_step"], row["pattern"]) == (pytest.approx(-0.15), 100, "caught")
    lines = context.gap_lines(gaps, "en")
    assert "s1: largest lead -0.150 after 100 steps, +0.010 at the end (300 steps)" in lines[1]
    assert t("gap.pattern.caught", "en") in lines[1]
    assert len(lines) == 2                           # no tiny: no note on tiny's evaluations
    # tiny scores a 512-token subset during training and 4,096 tokens at the end: the page says so
    tiny = context.gap_lines(gaps.assign(preset="tiny"), "ja")
    assert tiny[1] == t("gap.tiny", "ja") and "比較できません" in tiny[1]
    assert tiny[2].startswith("tiny")


def test_the_gap_keeps_steps_every_pair_reached_and_takes_its_labels_as_parameters():
    runs = ladder(presets=("s1",), seeds=(1, 2), noise=(0.0, 0.0))
    curves = _curves(runs, {("transformer", 1): [3.0, 2.5, 2.2], ("dcformer", 1): [2.9, 2.3, 2.0],
                            ("transformer", 2): [3.0, 2.5, 2.2], ("dcformer", 2): [2.9, 2.3, 2.0]})
    curves = curves.drop(curves.index[-1])                     # seed 2's DCFormer misses step 300
    gaps = gap_over_training(runs, curves)
    assert gaps["step"].tolist() == [100, 200]
    assert gap_summary(gaps)["pattern"].tolist() == ["holds"]
    variants = runs.assign(variant=runs["arch"].map({"transformer": "transformer-qknorm",
                                                     "dcformer": "dcformer"}))
    same = gap_over_training(variants, curves, baseline="transformer-qknorm", column="variant")
    assert same.equals(gaps)
    assert gap_over_training(runs, curves.iloc[:0]).empty


# ----------------------------------------------------------------------------- the target's speed
MODEL_BENCH = {"result": {"date": "2026-12-01T10:00:00+00:00", "machine": {"device": "NVIDIA H100 80GB HBM3"},
                          "rows": [{"preset": "gpu-125m", "params": 1.25e8}, {"preset": "paper-405m",
                                                                               "params": 4.05e8}],
                          "dcformer_over_transformer": {"gpu-125m": 0.55, "paper-405m": 0.62}}}


def test_a_cpu_ratio_never_stands_for_a_gpu():
    runs = ladder().assign(device="cpu")
    got = target_speed(runs, "cpu", 0.8, "h100", 405e6)
    assert not got.measured and got.source == "range" and (got.low, got.high) == (0.45, 0.45)
    assert got.study_ratio == 0.8 and 0.8 not in (got.low, got.high)
    # a self-check on the H100 times attention only: supporting, the range stays
    check = [{"gpu_name": "NVIDIA H100 80GB HBM3", "triton_ms": 2.0, "torch_ms": 7.0}]
    supported = target_speed(runs, "cpu", 0.8, "h100", 405e6, selfchecks=check)
    assert not supported.measured and supported.kernel_speedup == pytest.approx(3.5)
    # a ratio measured on another GPU kind widens the range; one on the target's kind is used
    a100 = {"result": {**MODEL_BENCH["result"], "machine": {"device": "NVIDIA A100-SXM4-80GB"}}}
    wider = target_speed(runs, "cpu", 0.8, "h100", 405e6, benchmarks=[a100])
    assert (wider.low, wider.high) == (0.45, 0.62) and not wider.measured
    bench = target_speed(runs, "cpu", 0.8, "h100", 405e6, benchmarks=[a100, MODEL_BENCH])
    assert bench.measured and bench.ratio == 0.62 and bench.detail == "bench model paper-405m, 2026-12-01"
    own = target_speed(ladder(), "h100", 0.8, "h100", 405e6, benchmarks=[MODEL_BENCH])
    assert own.measured and own.source == "study" and own.ratio == 0.8


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_a_cpu_studys_projection_to_an_h100_is_a_labelled_range(dcpoc_home, lang):
    store = Store()
    store_two_size_study(store, "cpu")
    sd = load_decision(store, "cpu")
    assert sd.decision.multiplier.speed_ratio == pytest.approx(0.8)
    assert sd.projection is None and not sd.speed.measured
    slow, fast = sd.projection_span
    assert slow.speed_ratio == fast.speed_ratio == 0.45           # the paper's 405M ratio, not 0.8
    tf_hours = 8e9 / costs.assumed_tokens_per_s(6 * 405e6, "transformer", "h100") / 3600
    assert slow.dc_gpu_hours_same_tokens == pytest.approx(tf_hours / 0.45)
    rows = context.projection_rows(sd, lang)
    label = t("dec.speed.label", lang).format(kind="H100")
    assert rows[0][0] == t("dec.proj.tf", lang) and all(label in r[0] for r in rows[1:])
    assert rows[1][1] == hours(tf_hours / 0.45) and hours(tf_hours / 0.8) not in rows[1][1]
    caveat = [(k, v) for k, v in sd.decision.reasons if k.startswith("reason.speed_not_on_target")]
    assert len(caveat) == 1
    key, values = caveat[0]
    m = sd.decision.multiplier.multiplier
    assert m.exists and key != "reason.speed_not_on_target"     # the multiplier's interval is carried
    flops = target_flops_ratio(405e6)[0]
    high = m.high * flops * 0.45
    assert values["high"] == f"{high:.2f}" and values["low"] == f"{m.low * flops * 0.45:.2f}"
    assert (key == "reason.speed_not_on_target_below") == (high < 1.0)
    assert values["low"] in say(caveat[0], lang) and values["high"] in say(caveat[0], lang)
    note = context.speed_lines(sd, lang)[0]
    assert "0.45" in note and "0.80×" in note and "H100" in note
    # the same study measured on the H100 by `bench model`: one number at that ratio
    store.add_benchmark("model", MODEL_BENCH["result"])
    measured = load_decision(store, "cpu")
    assert measured.projection_span is None and measured.projection.speed_ratio == 0.62
    assert not any(key.startswith("reason.speed_not_on_target") for key, _ in measured.decision.reasons)
    assert np.isclose(measured.projection.tf_gpu_hours, tf_hours)
    # DCFormer dearer at equal quality: the last line says extra cost, as a positive amount
    dearer = dataclasses.replace(measured, projection=dataclasses.replace(measured.projection,
                                                                        saved_usd=-50.09))
    rows = {label: usd for label, _, usd in context.projection_rows(dearer, lang)}
    assert rows[t("dec.proj.extra", lang)] == money(50.09)
    # the saving over the multiplier's interval follows it: a point value hid a wide range
    p = measured.projection
    interval = [usd for label, _, usd in context.projection_rows(measured, lang) if "95%" in label]
    assert p.saved_low_usd is not None and len(interval) == 1
    signed = lambda usd: f"−{money(-usd)}" if usd < 0 else money(usd)   # noqa: E731
    to = t("sep.range", lang)                                           # 〜 in Japanese
    assert interval[0] in (f"{money(p.saved_low_usd)}{to}{money(p.saved_high_usd)}",
                           f"{money(-p.saved_high_usd)}{to}{money(-p.saved_low_usd)}",
                           f"{signed(p.saved_low_usd)}{to}{signed(p.saved_high_usd)}")
    table = context.projection_table(dearer, lang)
    assert list(table.columns) == [t(k, lang) for k in ("dec.projection", "dec.proj.hours", "dec.proj.cost")]


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_the_gap_chart_draws_a_line_a_band_and_zero(lang):
    runs = ladder(presets=("s1", "s2"), seeds=(1, 2), noise=(0.0, 0.0))
    values = {(a, s): [3.0, 2.5, 2.2] if a == "transformer" else [2.9, 2.45, 2.25]
              for a in ("transformer", "dcformer") for s in (1, 2)}
    curves = pd.concat([_curves(runs[runs["preset"].eq(p)], values) for p in ("s1", "s2")])
    gaps = gap_over_training(runs, curves)
    assert gaps["preset"].unique().tolist() == ["s1", "s2"]
    from dcpoc.ui.charts import gap_curves
    spec = gap_curves(gaps, lang).to_dict()
    assert spec["title"] == t("chart.gap", lang)
    assert [layer["mark"]["type"] for layer in spec["layer"]] == ["area", "line", "rule"]
    assert spec["layer"][1]["encoding"]["y"]["title"] == t("chart.axis.gap", lang)
    table = context.gap_table(gaps, lang)
    assert table[t("gap.col.pattern", lang)].tolist() == [t("gap.pattern.caught", lang)] * 2
    assert table[t("gap.col.lead", lang)].tolist() == ["-0.1000 (100)" if lang == "en" else "-0.1000（100）"] * 2
    # never ahead: no "largest lead" beside "never led"
    behind = {(a, s): [3.0, 2.5, 2.2] if a == "transformer" else [3.1, 2.6, 2.25]
              for a in ("transformer", "dcformer") for s in (1, 2)}
    curves = pd.concat([_curves(runs[runs["preset"].eq(p)], behind) for p in ("s1", "s2")])
    table = context.gap_table(gap_over_training(runs, curves), lang)
    assert table[t("gap.col.pattern", lang)].tolist() == [t("gap.pattern.behind", lang)] * 2
    assert table[t("gap.col.lead", lang)].tolist() == ["—"] * 2


def test_a_stored_h100_self_check_supports_but_never_sets_the_ratio(dcpoc_home):
    from dcpoc.kernels.selfcheck import SelfCheckResult
    from dcpoc.runs.selfchecks import save_selfcheck
    store = Store()
    store_two_size_study(store, "cpu")
    key = {"gpu_name": "NVIDIA H100 80GB HBM3", "triton_version": "3.7.1", "torch_version": "2.13",
           "git_commit": "abc", "n_heads": 4, "head_dim": 32}
    save_selfcheck(store, key, SelfCheckResult(True, None, 2.0, 5.0, {}))
    save_selfcheck(store, {**key, "git_commit": "old"}, SelfCheckResult(False, "mismatch", None, None, {}))
    from dcpoc.runs.selfcheck_rows import read_selfchecks
    assert [row["torch_ms"] for row in read_selfchecks(store, passed_only=True)] == [5.0]
    assert [row["git_commit"] for row in read_selfchecks(store)] == ["old", "abc"]
    sd = load_decision(store, "cpu")
    assert not sd.speed.measured and sd.projection_span[0].speed_ratio == 0.45
    assert sd.speed.kernel_speedup == pytest.approx(2.5)
    assert "2.5× as fast as the PyTorch path" in context.speed_lines(sd, "en")[1]


def _cpu_ladder_decision(multiplier, bench_ratio=None, device="cpu", tmp_path=None, **ladder_args):
    """load_decision of a ladder run on `device`, with a `bench model` H100 ratio at paper-405m
    recorded in its database when bench_ratio is given."""
    store = Store(f"sqlite:///{tmp_path / 'st.db'}")
    if bench_ratio is not None:
        bench = dict(MODEL_BENCH["result"], dcformer_over_transformer={"paper-405m": bench_ratio})
        store.add_benchmark("model", bench)
    runs = ladder(multiplier=multiplier, **ladder_args).assign(device=device)
    return load_decision(store, "st", runs=runs)


@pytest.mark.parametrize("cpu_ratio, bench_ratio, verdict, flip", [
    (0.8, 0.45, "NO-GO", "flip.target_nogo"), (0.8, 0.65, "CONDITIONAL", "flip.target_go"),
    (0.8, 0.9, "GO", "flip.go"), (0.5, 0.9, "CONDITIONAL", "flip.target_lifts")])
def test_a_speed_measured_on_the_target_gpu_judges_the_verdict(tmp_path, cpu_ratio, bench_ratio, verdict,
                                                               flip):
    """Review: after the next step (measure the speed on the H100) was done, the verdict kept the
    CPU's ratio: 'GO: adopt DCFormer' at a net benefit of 1.28 beside 'DCFormer costs $12.84 more'
    at the H100's measured ratio, where the net benefit was 0.72, under NO-GO's bar."""
    from dcpoc.report import key_answers, meeting_phrases, next_step_line, say
    sd = _cpu_ladder_decision(1.6, bench_ratio, tmp_path=tmp_path, speed_ratio=cpu_ratio)
    d = sd.decision
    assert sd.speed.measured and not sd.speed_first
    # at the CPU's ratio alone: GO at 0.8 (1.28), NO-GO at 0.5 (0.80)
    assert (d.multiplier.net_benefit.low > 1.1) == (cpu_ratio == 0.8)
    assert d.verdict == verdict and d.flips[0][0] == flip
    at_target = 1.6 * target_flops_ratio(405e6)[0] * bench_ratio
    assert d.target_net == pytest.approx(at_target, rel=0.01)
    reason = next(r for r in d.reasons if r[0] == "reason.speed_on_target")
    for lang in ("en", "ja"):
        assert f"{at_target:.2f}" in say(reason, lang) and f"{cpu_ratio:.2f}" in say(reason, lang)
        assert any(f"{at_target:.2f}×" in p for p in meeting_phrases(sd, lang))
        assert f"{bench_ratio:.2f}×" in key_answers(sd, lang)[-1][1]
        assert next_step_line(sd, lang) == "" or "bench model" not in next_step_line(sd, lang)


def test_a_loss_worse_beyond_doubt_asks_for_no_speed_measurement(tmp_path):
    """NO-GO from the loss alone said speed was not the cause, while its reasons still asked to
    measure the speed on the H100 before deciding."""
    sd = _cpu_ladder_decision(0.9, tmp_path=tmp_path, speed_ratio=1.6)
    d = sd.decision
    assert d.verdict == "NO-GO" and d.flips[0][0] == "flip.nogo_loss" and not sd.speed_first
    assert not any(key.startswith("reason.speed_not_on_target") for key, _ in d.reasons)


def test_speed_first_is_for_a_cpu_ratio_only(tmp_path):
    """Another GPU's ratio bounds the range the cost is priced over, and the answer says so; a
    CPU's is never used for a GPU, and measuring the target comes first."""
    from dcpoc.report import key_answers
    cpu = _cpu_ladder_decision(1.2, tmp_path=tmp_path, speed_ratio=0.85)
    assert cpu.decision.verdict == "CONDITIONAL" and cpu.speed_first
    a100 = _cpu_ladder_decision(1.2, device="NVIDIA A100", tmp_path=tmp_path / ".." / tmp_path.name,
                                speed_ratio=0.85)
    assert not a100.speed.measured and not a100.speed_first
    answer = key_answers(a100, "en")[-1][1]
    assert "ours measured on A100" in answer and "does not carry over" not in answer
