"""dcpoc home page: the decision overview (for now: run counts and the latest runs)."""
import streamlit as st

from dcpoc.analysis import runs_table, status_counts
from dcpoc.i18n import LANGUAGES, column_labels, t
from dcpoc.store import Store, StoreError, default_url

st.set_page_config(page_title="dcpoc", page_icon="⚖️", layout="wide")

lang = st.query_params.get("lang", "en")
lang = st.sidebar.selectbox(t("sidebar.language", lang), list(LANGUAGES), format_func=LANGUAGES.get,
                            index=list(LANGUAGES).index(lang) if lang in LANGUAGES else 0)
st.query_params["lang"] = lang


@st.cache_resource
def open_store(url: str) -> Store:
    return Store(url)


st.title(t("app.title", lang))
st.caption(t("app.caption", lang))
try:
    runs = runs_table(open_store(default_url()).list_runs())
except StoreError as e:
    st.error(f"{t('home.db_error', lang)}: {e}")
    st.stop()

if runs.empty:
    st.info(t("home.empty", lang))
    st.code("python -m dcpoc train --arch dcformer --preset cpu-demo --steps 300 --seed 1 --corpus pydoc")
else:
    st.subheader(t("home.status_counts", lang))
    counts = status_counts(runs)
    for column, (status, n) in zip(st.columns(len(counts)), counts.items()):
        column.metric(t(f"status.{status}", lang), n)
    st.subheader(t("home.latest", lang))
    st.dataframe(runs.rename(columns=column_labels(runs.columns, lang)), hide_index=True)
