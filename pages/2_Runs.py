"""Runs: every run with progress, ETA, loss trend and cost so far; one run in detail (loss curves,
log, config, environment) with Cancel / Retry / Resume. Both parts update live."""
import streamlit as st

from dcpoc.runs import cancel_run, log_tail, resume_run, retry_run
from dcpoc.runs.executors import job_label, job_labels, reconcile_quietly, run_options, slurm_to_settle
from dcpoc.ui import page as ui
from dcpoc.decision import downsample, filter_runs, live_runs_table, run_environment
from dcpoc.ui.charts import ARCH_LABELS, CURVE_AXES, loss_curves
from dcpoc.config import ARCHS, config_variant
from dcpoc.ui.i18n import attention_reason, device_text, duration, failure_text, t
from dcpoc.runs.status import ACTIVE, RESTARTABLE, STATUSES
from dcpoc.runs.store import StoreError

MAX_ROWS = 100
# what a run is doing first: at 800 px with the sidebar open the first five columns are what shows
COLUMNS = ["id", "status", "progress", "eta", "arch", "variant", "study", "preset", "seed", "loss_trend",
           "val_loss", "cost_so_far_usd", "tokens_per_s"]

lang, url = ui.start_page("runs.title")
if slurm_to_settle(ui.load_runs(url)):   # one squeue call folds the jobs' states in
    reconcile_quietly(ui.store(url))
    ui.changed()
runs = ui.load_runs(url)
studies = [None, *sorted(runs["study"].dropna().unique())]
asked = st.query_params.get("study")
c1, c2, c3 = st.columns(3)
study = c1.selectbox(t("col.study", lang), studies, index=studies.index(asked) if asked in studies else 0,
                     format_func=lambda s: t("runs.all", lang) if s is None else s)
statuses = c2.multiselect(t("col.status", lang), STATUSES, format_func=lambda s: t(f"status.{s}", lang),
                          placeholder=t("ui.all", lang))   # nothing picked: every status
archs = c3.multiselect(t("col.arch", lang), ARCHS, format_func=ARCH_LABELS.get, placeholder=t("ui.all", lang))
ui.recorded_note(url, [study] if study else studies, lang)
ui.stalled_queue_notice(url, runs, lang)


@st.fragment(run_every=ui.refresh_every(runs))
def runs_table() -> None:
    shown = filter_runs(ui.load_runs(url), study, statuses, archs).head(MAX_ROWS)
    if shown.empty:
        st.info(t("runs.none", lang))
        return
    trend = ui.load_metrics(url, tuple(shown["id"]), ("train_loss",))
    table = live_runs_table(shown, trend, ui.load_settings(url)["prices"])
    table["eta"] = table["eta_s"].map(lambda s: duration(s, lang))
    table["job"] = table["id"].map(job_labels(shown))    # SLURM state next to the status
    at = COLUMNS.index("status") + 1
    columns = COLUMNS[:at] + ["job"] * bool(table["job"].str.len().sum()) + COLUMNS[at:]
    ui.show_runs(table[columns].rename(columns={"job": t("col.job", lang)}), lang)
    st.caption(t("runs.capped", lang).format(n=MAX_ROWS))


runs_table()
shown = filter_runs(runs, study, statuses, archs).head(MAX_ROWS)
if shown.empty:
    st.stop()
labels = ui.run_labels(shown, lang)
ids = list(labels)
asked = st.query_params.get("run")
run_id = st.selectbox(t("runs.pick", lang), ids, index=ids.index(asked) if asked in ids else 0,
                      format_func=labels.get)


@st.fragment(run_every=ui.refresh_every(runs))
def run_detail(run_id: str) -> None:
    store = ui.store(url)
    run = store.get_run(run_id)
    if run is None:
        st.warning(t("runs.gone", lang))
        return
    st.subheader(t("runs.detail", lang).format(id=run_id, status=t(f"status.{run['status']}", lang),
                                               step=f"{run['step'] or 0:,}",
                                               total=f"{run['total_steps'] or 0:,}"))
    if run["job_id"]:
        st.caption(t("runs.slurm_job", lang).format(job=run["job_id"], state=job_label(run)))
    if run["attn_path"]:
        st.caption(t("runs.attn_path", lang).format(path=run["attn_path"],
                                                    reason=attention_reason(run["attn_reason"], lang)))
    if run["error"]:   # recorded in English for the command line: said in lang, the buttons named
        st.error(failure_text(run["error"], run["status"] in RESTARTABLE, bool(run["checkpoint_path"]), lang))
        with st.expander(t("fail.details", lang)):
            st.code(run["error"], language=None)
    changes = None    # a SLURM run's next job: the limit it hit can be raised here
    if run["executor"] == "slurm" and run["status"] in RESTARTABLE:
        changes = {"time_limit": st.text_input(t("runs.time_limit", lang), help=t("runs.time_limit_help", lang),
                                               value=run_options(store, run).time_limit)}
    b1, b2, b3 = st.columns(3)
    done = None
    try:
        if b1.button(t("runs.cancel", lang), disabled=run["status"] not in ACTIVE,
                     help=t("runs.slurm_cancel_help", lang) if run["job_id"] else None):
            cancel_run(store, run_id)
            done = t("runs.cancel_done", lang)
        if b2.button(t("runs.retry", lang), disabled=run["status"] not in RESTARTABLE):
            done = t("runs.retry_done", lang).format(id=retry_run(store, run_id, start_worker=ui.autoworker(),
                                                                  slurm_changes=changes))
        if b3.button(t("runs.resume", lang), help=t("runs.resume_help", lang),
                     disabled=run["status"] not in RESTARTABLE or not run["checkpoint_path"]):
            resume_run(store, run_id, start_worker=ui.autoworker(), slurm_changes=changes)
            done = t("runs.resume_done", lang)
    except (ValueError, StoreError) as e:   # the run moved on meanwhile (finished, cancelled...)
        st.error(str(e))
    if done:   # drawn again, so the header above shows the run's new status, not the old one
        ui.changed()
        st.session_state["run_action_done"] = done
        st.rerun()
    if "run_action_done" in st.session_state:
        st.success(st.session_state.pop("run_action_done"))
    curves, log, config, environment = st.tabs([t("runs.tab.curves", lang), t("runs.tab.log", lang),
                                                t("runs.tab.config", lang), t("runs.tab.env", lang)])
    with curves:
        x = st.radio(t("runs.x_axis", lang), ["step", "tokens", "wall_s"], horizontal=True,
                     format_func=lambda c: t(CURVE_AXES[c], lang))
        metrics = ui.load_metrics(url, (run_id,), ("train_loss", "val_loss"))
        if metrics.empty:
            st.info(t("runs.no_metrics", lang))
        else:
            st.altair_chart(loss_curves(downsample(metrics, ["key"], 400),
                                        config_variant(run["arch"], run["config"]), x, lang))
    imported = run["study"] in ui.load_recorded(url)   # a study file carries no logs
    log.code(log_tail(run_id, lines=40) or t("runs.no_log_imported" if imported else "runs.no_log", lang),
             language=None)
    config.json(run["config"])
    environment.dataframe(
        [{t("runs.env.field", lang): t(f"env.{k}", lang) if not k.startswith("version:")
          else k.removeprefix("version:"),
          t("runs.env.value", lang): attention_reason(v, lang) if k == "attn_reason"
          else device_text(v, lang) if k == "device" and v != "—" else v}
         for k, v in run_environment(run)], hide_index=True)


run_detail(run_id)
