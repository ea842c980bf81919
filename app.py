"""dcpoc home page: the headline numbers so far, runs by status, the latest runs, where to start."""
import streamlit as st

from dcpoc import report
from dcpoc.decision import (headline_by_preset, headline_studies, run_summary,
                            runs_table, status_counts)
from dcpoc.ui import page as ui
from dcpoc.config import VARIANT_LABELS
from dcpoc.ui.charts import pareto_scatter
from dcpoc.ui.i18n import device_text, num, size_label, t

lang, url = ui.start_page("app.title")
st.caption(t("app.caption", lang))
runs = ui.load_runs(url)

if runs.empty:
    ui.offer_reference_import(url, lang)
    st.info(t("home.empty", lang))
    st.page_link("pages/1_Launch.py", label=t("home.go_launch", lang),
                 icon=ui.ICONS["pages/1_Launch.py"], query_params={"lang": lang})
    st.caption(t("home.empty_cli", lang))
    st.code("python -m dcpoc train --arch dcformer --preset cpu-demo --steps 300 --seed 1 --corpus pydoc")
    st.stop()

with st.container(border=True):
    st.subheader(t("dec.card", lang))
    studies = headline_studies(runs)   # the most recently finished first: the default
    if studies:
        study = st.selectbox(t("col.study", lang), studies, key="home_study",
                             format_func=lambda s: s or t("home.no_study", lang))
        st.caption(t("home.scope", lang))
        ui.recorded_note(url, [study], lang)
        found = ui.study_decision(url, study, *ui.decision_settings())   # as set on the Decision page
        ui.decision_settings_note(lang)
        decision = found.decision
        ui.progress_note(found.runs, lang)
        (st.success if decision.verdict == "GO" else st.error if decision.verdict == "NO-GO"
         else st.warning)(report.verdict_line(decision, lang))
        for question, answer in report.key_answers(found, lang, dashboard=True):
            st.markdown(f"**{question}** {answer}")
        ui.headline_metrics(decision, lang)
        for reason in decision.reasons + decision.needed:
            st.markdown(f"- {report.say(reason, lang)}")
        step_line = report.next_step_line(found, lang)
        if step_line:
            st.info(step_line, icon=ui.NEXT_ICON)
        summary = run_summary(found.runs, found.prices)
        if len(summary):
            st.altair_chart(pareto_scatter(summary, lang))
        st.page_link("pages/6_Decision.py", label=t("dec.open_decision", lang),
                     icon=ui.ICONS["pages/6_Decision.py"], query_params={"lang": lang})
    else:
        study, found = None, None
        st.info(t("home.no_results", lang))
    # the runs the verdict compares, so that the card and the verdict show the same numbers
    for row in headline_by_preset(runs, study, found.confirm_seeds if found else ()).itertuples():
        st.markdown(f"**{size_label(row.preset, lang, steps=row.total_steps)}**  ·  " + t(
            "home.group", lang).format(corpus=row.corpus, fingerprint=row.corpus_fingerprint[:12] or "—"))
        labels = {"transformer": VARIANT_LABELS[row.baseline], "dcformer": VARIANT_LABELS[row.treatment]}
        st.caption("  ·  ".join(t("home.arch_counts", lang).format(
            arch=label, n=getattr(row, f"n_{arch}"), failed=getattr(row, f"failed_{arch}"),
            diverged=getattr(row, f"diverged_{arch}")) for arch, label in labels.items()))
        # two by two: four metrics abreast cut their values off on a laptop with the sidebar open
        (c1, c2), (c3, c4) = st.columns(2), st.columns(2)
        c1.metric(t("home.loss_baseline", lang), num(row.loss_transformer, ".4f"),   # a long name was cut
                  help=labels["transformer"])
        c2.metric(t("home.loss_of", lang).format(arch=labels["dcformer"]), num(row.loss_dcformer, ".4f"))
        c3.metric(t("home.loss_diff", lang), num(row.loss_diff, "+.4f"),
                  help=t("home.loss_diff_help", lang).format(baseline=labels["transformer"]))
        c4.metric(t("home.speed_ratio_on", lang).format(device=device_text(row.speed_device, lang)),
                  num(row.speed_ratio, ".2f", "×"),
                  help=t("home.speed_ratio_help", lang).format(baseline=labels["transformer"]))

st.subheader(t("home.status_counts", lang))
ui.stalled_queue_notice(url, runs, lang)
for column, (status, n) in zip(st.columns(5), status_counts(runs).items()):
    column.metric(t(f"status.{status}", lang), n)

st.subheader(t("home.latest", lang))
latest = runs_table(runs.head(10), ui.load_settings(url)["prices"])
first = ["id", "status", "arch", "variant", "preset", "seed", "val_loss", "cost_usd"]   # what fits at 800 px
ui.show_runs(latest[first + [c for c in latest.columns if c not in first]], lang)

st.subheader(t("home.start", lang))
st.markdown(t("home.start_text", lang))
for script, label, icon in ui.PAGES[1:]:
    st.page_link(script, label=t(label, lang), icon=icon, query_params={"lang": lang})
