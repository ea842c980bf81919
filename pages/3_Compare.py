"""Compare: finished runs of a study (or picked runs) side by side: validation loss against tokens,
wall time and $, throughput and memory, perplexity against cost with the Pareto front, and the
config fields that differ."""
import streamlit as st

from dcpoc.ui import page as ui
from dcpoc.decision import config_differences, downsample, run_summary, with_cost
from dcpoc.decision.inference import decode_speed_ratio
from dcpoc.ui.charts import arch_bars, pareto_scatter, val_loss_against
from dcpoc.ui.i18n import device_text, t

lang, url = ui.start_page("compare.title")
st.caption(t("compare.caption", lang))
finished = ui.load_runs(url)
finished = finished[finished["status"].eq("succeeded")]
if finished.empty:
    st.info(t("compare.none", lang))
    st.stop()

mode = st.radio(t("compare.by", lang), ["study", "runs"], horizontal=True,
                format_func=lambda m: t(f"compare.by.{m}", lang))
if mode == "study":
    studies = list(dict.fromkeys(finished["study"].dropna()))   # newest first
    if not studies:
        st.info(t("compare.no_study", lang))
        st.stop()
    study = st.selectbox(t("col.study", lang), studies)
    chosen = finished[finished["study"].eq(study)]
else:
    labels = ui.run_labels(finished, lang)
    picked = st.multiselect(t("compare.pick", lang), list(labels), default=list(labels)[:4],
                            format_func=labels.get, placeholder=t("ui.choose", lang))
    chosen = finished[finished["id"].isin(picked)]
if chosen.empty:
    st.info(t("compare.pick_some", lang))
    st.stop()

ui.recorded_note(url, chosen["study"].dropna(), lang)
prices = ui.load_settings(url)["prices"]
curves = ui.load_metrics(url, tuple(chosen["id"]), ("val_loss",))
curves = with_cost(downsample(curves, ["run_id"], 200), chosen, prices)
for tab, x in zip(st.tabs([t("compare.tab.tokens", lang), t("compare.tab.wall_s", lang),
                           t("compare.tab.cost_usd", lang)]), ["tokens", "wall_s", "cost_usd"]):
    tab.altair_chart(val_loss_against(curves, x, lang))

summary = run_summary(chosen, ui.load_settings(url)["prices"])
c1, c2 = st.columns(2)
c1.altair_chart(arch_bars(summary, "tokens_per_s", lang))
c2.altair_chart(arch_bars(summary, "peak_mem_mb", lang))
st.altair_chart(pareto_scatter(summary, lang))
st.caption(t("compare.pareto_help", lang))

st.subheader(t("compare.config", lang))
differences = config_differences(dict(zip(chosen["id"], chosen["config"])))
settings = ui.settings_table(differences, chosen, lang)
if differences.empty:
    st.info(t("compare.config_same", lang))
elif settings.columns.empty:
    st.info(t("compare.config_named", lang))
else:
    st.dataframe(settings)
    st.caption(t("compare.config_help", lang))

st.subheader(t("compare.infer", lang))
infer = ui.store(url).list_benchmarks("infer")
if not infer:
    st.info(t("compare.infer_none", lang))
else:
    bench = infer[0]["result"]
    st.caption(t("compare.infer_caption", lang).format(
        preset=bench["preset"], device=device_text(bench["machine"]["device"], lang),
        date=bench["date"][:16].replace("T", " ")))
    ratios = {**bench["dcformer_over_transformer"], "decode_tokens_per_s": decode_speed_ratio(bench)}
    for column, key, name in zip(st.columns(3), ("decode_tokens_per_s", "prefill_tokens_per_s",
                                                 "cache_bytes_per_token"),
                                 ("compare.infer_decode", "compare.infer_prefill", "compare.infer_cache")):
        column.metric(t(name, lang), f"{ratios[key]:.2f}×", help=t("compare.infer_ratio_help", lang))
    st.dataframe(ui.inference_table(bench, lang))
