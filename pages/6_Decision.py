"""Decision: the verdict of a study under the user's thresholds, and its cost at the target scale."""
import streamlit as st

from dcpoc import costs
from dcpoc import report
from dcpoc.report import evidence
from dcpoc.decision import Target, Thresholds, headline_studies
from dcpoc.decision.compare import attention_paths
from dcpoc.ui import page as ui
from dcpoc.report import context
from dcpoc.ui.charts import gap_curves, lr_curves
from dcpoc.ui.i18n import device_text, kind_label, t

lang, url = ui.start_page("dec.page_title")
studies = headline_studies(ui.load_runs(url))
if not studies:
    st.info(t("dec.no_study", lang))
    st.stop()
study = st.selectbox(t("col.study", lang), studies, format_func=lambda s: s or t("home.no_study", lang))
ui.recorded_note(url, [study], lang)

kept, target_kept = ui.decision_settings()     # what this session set here before (Overview, Report use it)
with st.sidebar.expander(t("dec.thresholds", lang), expanded=True):
    thresholds = Thresholds(
        go_net_low=st.number_input(t("dec.go_net_low", lang), 0.0, 10.0, kept.go_net_low, 0.05),
        nogo_net_high=st.number_input(t("dec.nogo_net_high", lang), 0.0, 10.0, kept.nogo_net_high, 0.05),
        min_seeds=int(st.number_input(t("dec.min_seeds", lang), 1, 20, kept.min_seeds)),
        min_sizes=int(st.number_input(t("dec.min_sizes", lang), 2, 10, kept.min_sizes)),
        go_min_sizes=int(st.number_input(t("dec.go_min_sizes", lang), 2, 10, kept.go_min_sizes)))
    if thresholds.nogo_net_high > thresholds.go_net_low:   # the rule checks NO-GO first
        st.warning(t("dec.bars_cross", lang).format(nogo=thresholds.nogo_net_high, go=thresholds.go_net_low))

# The target inputs sit below the verdict but are read first: the decision carries the projection.
verdict_area = st.container()
st.subheader(t("dec.projection", lang))
c1, c2, c3, c4 = st.columns(4)
params_m = c1.number_input(t("dec.target_params", lang), 1.0, 1e6, target_kept.params / 1e6)
tokens_b = c2.number_input(t("dec.target_tokens", lang), 0.001, 1e5, target_kept.tokens / 1e9)
kinds = [k for k in costs.DEFAULT_PRICES_USD_PER_HOUR if k != "cpu"]
gpu = c3.selectbox(t("dec.gpu", lang), kinds, index=kinds.index(target_kept.gpu_kind),
                   format_func=lambda k: kind_label(k, lang))
table_price = costs.price_per_hour(gpu, ui.load_settings(url)["prices"])
kept_price = target_kept.price_per_hour if gpu == target_kept.gpu_kind else None
price = c4.number_input(t("dec.price", lang), 0.0, costs.MAX_PRICE_USD_PER_HOUR,
                        min(table_price if kept_price is None else kept_price, costs.MAX_PRICE_USD_PER_HOUR), 0.1)
# a price equal to the table's is the table's: it follows the Settings page from then on
target = Target(params_m * 1e6, tokens_b * 1e9, gpu, None if price == table_price else price)
ui.keep_decision_settings(thresholds, target)
found = ui.study_decision(url, study, thresholds, target)
decision = found.decision

with verdict_area:
    ui.progress_note(found.runs, lang)
    (st.success if decision.verdict == "GO" else st.error if decision.verdict == "NO-GO"
     else st.warning)(report.verdict_line(decision, lang))
    for reason in decision.reasons:
        st.markdown(f"- {report.say(reason, lang)}")
    if decision.needed:
        st.subheader(t("dec.needed", lang))
        for reason in decision.needed:
            st.markdown(f"- {report.say(reason, lang)}")
    step_line = report.next_step_line(found, lang)
    if step_line:
        st.info(step_line, icon=ui.NEXT_ICON)
    if decision.flips:
        st.subheader(t("dec.flips", lang))
        for reason in decision.flips:
            st.markdown(f"- {report.say(reason, lang)}")

    mult = decision.multiplier
    c3 = ui.headline_metrics(decision, lang)[2]
    if mult.speed_device:   # which DCMHA path DCFormer's tokens/s were measured on
        c3.caption(t("dec.speed_path", lang).format(
            path=attention_paths(found.runs, mult.speed_device) or "—", device=device_text(mult.speed_device, lang)))
    st.caption(report.fit_text(decision, lang))
    st.caption(report.validation_text(found.val_tokens, lang))
    table = report.comparison_table(decision, lang)
    if len(table):
        st.table(table, hide_index=True)
        st.caption(t("dec.table_note", lang).format(fingerprint=mult.corpus_fingerprint[:12] or "—",
                                                    baseline=decision.pair_labels()["transformer"]))

    st.subheader(t("dec.evidence", lang))
    for line in evidence.recommendation_lines(decision, lang):
        st.success(line)
    for line in evidence.evidence_lines(decision, lang):
        st.markdown(f"- {line}")
    attribution = evidence.attribution_table(decision, lang)
    if len(attribution):
        st.table(attribution, hide_index=True)

    st.subheader(t("dec.lr", lang))
    if decision.lr_sweep is not None and len(decision.lr_sweep):
        st.altair_chart(lr_curves(decision.lr_sweep, lang))
        st.table(report.lr_sweep_table(decision, lang), hide_index=True)
        st.caption(report.lr_sweep_note(decision, lang))
    else:
        st.info(t("dec.lr_none", lang))

projected = context.projection_table(found, lang)
if len(projected):   # a table: metric labels this long were cut off
    st.table(projected, hide_index=True)
    for line in context.speed_lines(found, lang):
        st.caption(line)
else:
    st.info(t("dec.proj.none", lang))

if found.paper is not None:
    st.subheader(t("paper.title", lang))
    for line in context.paper_lines(found.paper, lang):
        st.markdown(line)
    for item in context.paper_items(found.paper, lang):
        st.markdown(f"- {item}")
    for note in context.paper_notes(found.paper, lang):
        st.caption(note)

st.subheader(t("gap.title", lang))
for line in context.gap_lines(found.gap, lang, found.decision.baseline):
    st.markdown(line)
if found.gap is not None and len(found.gap):
    st.altair_chart(gap_curves(found.gap, lang))
    st.table(context.gap_table(found.gap, lang), hide_index=True)

st.subheader(t("dec.risks", lang))
for reason in decision.risks:
    st.markdown(f"- {report.say(reason, lang)}")
