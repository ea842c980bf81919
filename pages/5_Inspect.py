"""Inspect: a finished DCFormer run's head-composition matrices, gates and attention maps on a
text, next to the same head of its Transformer++ twin. The numbers come from
`python -m dcpoc inspect --json` in a subprocess: this process never imports torch."""
import streamlit as st

from dcpoc.ui import page as ui
from dcpoc.ui.charts import (attention_heatmaps, composition_heatmaps, gate_bars, identity_distance,
                             run_name)
from dcpoc.ui.i18n import t
from dcpoc.inspect import (attention_frame, distance_frame, find_twin, gate_frame, inspectable_runs,
                           matrix_frame, run_inspect_cli)

DEFAULT_TEXT = "def greet(name):\n    return 'Hello, ' + name\n\nprint(greet('world'))\n"


@st.cache_data(ttl=600, show_spinner=False, max_entries=32)
def inspection(run_id: str, text: str | None, sample: bool, token: int, head: int,
               twin: str | None) -> dict:
    return run_inspect_cli(run_id, text=text, sample=sample, token=token, head=head, twin=twin)


lang, url = ui.start_page("inspect.title")
st.caption(t("inspect.caption", lang))
runs = ui.load_runs(url)
finished, n_elsewhere = inspectable_runs(runs)
dcformer = finished[finished["arch"].eq("dcformer")] if not finished.empty else finished
if n_elsewhere:
    (st.info if dcformer.empty else st.caption)(t("inspect.elsewhere", lang).format(n=n_elsewhere))
if dcformer.empty:
    if not n_elsewhere:
        st.info(t("inspect.none", lang))
    # the way on: a DCFormer run trained here (cpu-demo takes minutes) has the weights to look into
    st.page_link("pages/1_Launch.py", label=t("inspect.go_launch", lang),
                 icon=ui.ICONS["pages/1_Launch.py"], query_params={"lang": lang})
    st.caption(t("home.empty_cli", lang))
    st.code("python -m dcpoc train --arch dcformer --preset cpu-demo --steps 300 --seed 1 --corpus pydoc")
    st.stop()

labels = ui.run_labels(dcformer, lang, study=True)
run_id = st.selectbox(t("inspect.run", lang), list(labels), format_func=labels.get)
twin = find_twin(finished, run_id)
twin_name = run_name(finished[finished["id"].eq(twin)]).iloc[0] if twin else ""
st.caption(f"{t('inspect.twin', lang)}{t('sep.label', lang)}{twin} ({twin_name})" if twin
           else t("inspect.no_twin", lang))

source = st.radio(t("inspect.source", lang), ["text", "sample"], horizontal=True,
                  format_func=lambda s: t(f"inspect.source.{s}", lang))
text = st.text_area(t("inspect.text", lang), DEFAULT_TEXT) if source == "text" else None
c1, c2 = st.columns(2)
token = int(c1.number_input(t("inspect.token", lang), value=-1, step=1))
n_head = int(dcformer.set_index("id").loc[run_id, "config"]["model"]["n_head"])
head = int(c2.number_input(t("inspect.head", lang), min_value=0, max_value=n_head - 1, value=0, step=1))
try:
    with st.spinner():
        result = inspection(run_id, text, source == "sample", token, head, twin)
except (RuntimeError, OSError, ValueError) as e:
    st.error(f"{t('inspect.error', lang)}: {e}")
    st.stop()
st.caption(t("inspect.tokens", lang).format(n=result["n_tokens"], token=result["token"],
                                            char=result["tokens"][result["token"]]))
if result.get("cut"):
    st.caption(t("inspect.cut", lang).format(**result["cut"]))

st.subheader(t("inspect.summary", lang))
st.altair_chart(identity_distance(distance_frame(result), lang))
st.caption(t("inspect.summary_help", lang))

layer = st.selectbox(t("inspect.layer", lang), list(range(len(result["layers"]))))
where = st.radio(t("inspect.where", lang), ["at", "mean"], horizontal=True,
                 format_func=lambda w: t(f"inspect.where.{w}", lang))
st.altair_chart(composition_heatmaps(matrix_frame(result, layer, where), lang))
st.altair_chart(gate_bars(gate_frame(result, layer, where), lang))
panels = {"before": t("inspect.before", lang), "after": t("inspect.after", lang),
          "twin": twin_name}
st.altair_chart(attention_heatmaps(attention_frame(result, layer, panels), lang))
