"""dcpoc home page: the headline numbers so far, runs by status, the latest runs, where to start."""
import streamlit as st

from dcpoc import ui
from dcpoc.analysis import headline_by_preset, runs_table, status_counts
from dcpoc.charts import ARCH_LABELS
from dcpoc.i18n import num, t

st.set_page_config(page_title="dcpoc", page_icon="⚖️", layout="wide")
lang, url = ui.start_page("app.title")
st.caption(t("app.caption", lang))
runs = ui.load_runs(url)

if runs.empty:
    st.info(t("home.empty", lang))
    st.page_link("pages/1_Launch.py", label=t("home.go_launch", lang), icon="🚀",
                 query_params={"lang": lang})
    st.caption(t("home.empty_cli", lang))
    st.code("python -m dcpoc train --arch dcformer --preset cpu-demo --steps 300 --seed 1 --corpus pydoc")
    st.stop()

with st.container(border=True):
    st.subheader(t("home.verdict", lang))
    st.caption(t("home.verdict_placeholder", lang))
    headline = headline_by_preset(runs)
    if headline.empty:
        st.info(t("home.no_results", lang))
    for row in headline.itertuples():
        st.markdown(f"**{row.preset}**  ·  " + t("home.n_runs", lang).format(
            tf=row.n_transformer, dc=row.n_dcformer))
        c1, c2, c3, c4 = st.columns(4)
        c1.metric(t("home.loss_of", lang).format(arch=ARCH_LABELS["transformer"]),
                  num(row.loss_transformer, ".4f"))
        c2.metric(t("home.loss_of", lang).format(arch=ARCH_LABELS["dcformer"]),
                  num(row.loss_dcformer, ".4f"))
        c3.metric(t("home.loss_diff", lang), num(row.loss_diff, "+.4f"), help=t("home.loss_diff_help", lang))
        c4.metric(t("home.speed_ratio", lang), num(row.speed_ratio, ".2f", "×"),
                  help=t("home.speed_ratio_help", lang))

st.subheader(t("home.status_counts", lang))
for column, (status, n) in zip(st.columns(5), status_counts(runs).items()):
    column.metric(t(f"status.{status}", lang), n)

st.subheader(t("home.latest", lang))
ui.show_runs(runs_table(runs.head(10)), lang)

st.subheader(t("home.start", lang))
st.markdown(t("home.start_text", lang))
for script, label, icon in ui.PAGES[1:]:
    st.page_link(script, label=t(label, lang), icon=icon, query_params={"lang": lang})
