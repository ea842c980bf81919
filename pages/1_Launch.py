"""Launch: a study form (name, question, corpus, presets, architectures, seeds, budget), its cost
estimate, and the button that queues it."""
import streamlit as st

from dcpoc import jobs, ui
from dcpoc.charts import ARCH_LABELS
from dcpoc.config import ARCHS, DEVICES
from dcpoc.i18n import duration, hours, money, t
from dcpoc.planning import (STARTUP_S_PER_RUN, LaunchForm, check_form, estimate_device,
                            estimate_study, measured_throughput, plan_for_estimate,
                            runnable_presets)
from dcpoc.security import BUILTIN_CORPORA, allowed_data_dirs
from dcpoc.store import StoreError

lang, url = ui.start_page("launch.title")
gpu = ui.detected_gpu()
offered = runnable_presets(gpu)
data_dirs = allowed_data_dirs()
settings = ui.load_settings(url)
st.caption(t("launch.hardware_gpu", lang).format(gpu=gpu) if gpu else t("launch.hardware_cpu", lang))

# Keyed widgets keep what was typed when the language (and so every label) changes.
name = st.text_input(t("launch.name", lang), max_chars=80, placeholder=t("launch.name_hint", lang),
                     key="launch_name")
slots = {"name": st.empty()}
question = st.text_area(t("launch.question", lang), placeholder=t("launch.question_hint", lang),
                        key="launch_question")
slots["question"] = st.empty()
corpus_choice = st.radio(t("launch.corpus", lang), [*BUILTIN_CORPORA, "path"], horizontal=True,
                         format_func=lambda c: t(f"launch.corpus.{c}", lang), key="launch_corpus")
corpus_path = ""
if corpus_choice == "path":
    corpus_path = st.text_input(t("launch.corpus_path", lang), help=t("launch.corpus_path_help", lang),
                                key="launch_corpus_path")
    st.caption(t("launch.data_dirs", lang).format(dirs=", ".join(map(str, data_dirs)) or "—"))
slots["corpus"] = st.empty()
presets = st.multiselect(t("launch.presets", lang), offered, default=offered[:1],
                         help=t("launch.presets_help", lang), key="launch_presets")
slots["presets"] = st.empty()
archs = st.multiselect(t("launch.archs", lang), list(ARCHS), default=list(ARCHS),
                       format_func=ARCH_LABELS.get, key="launch_archs")
slots["archs"] = st.empty()
seeds = st.text_input(t("launch.seeds", lang), "1, 2", help=t("launch.seeds_help", lang),
                      key="launch_seeds")
slots["seeds"] = st.empty()
budget_kind = st.radio(t("launch.budget_kind", lang), ["steps", "tokens", "preset"], horizontal=True,
                       format_func=lambda k: t(f"launch.budget.{k}", lang), key="launch_budget_kind")
budget = int(st.number_input(t(f"launch.budget.{budget_kind}", lang), min_value=1,
                             value=100 if budget_kind == "steps" else 1_000_000, step=10,
                             disabled=budget_kind == "preset", key=f"launch_budget_{budget_kind}"))
slots["budget"] = st.empty()
devices = [d for d in DEVICES if gpu or d != "cuda"]
device = st.selectbox(t("launch.device", lang), devices,
                      index=devices.index(settings["default_device"])
                      if settings["default_device"] in devices else 0,
                      format_func=lambda d: t(f"settings.device.{d}", lang), key="launch_device")

form = LaunchForm(name=name, question=question,
                  corpus=corpus_path if corpus_choice == "path" else corpus_choice,
                  presets=presets, archs=archs, seeds=seeds, budget_kind=budget_kind, budget=budget,
                  device=device)
spec, problems = check_form(form, data_dirs, offered)

st.subheader(t("launch.estimate", lang))
plan = plan_for_estimate(form, data_dirs, offered)
if plan is None:
    st.info(t("launch.estimate_wait", lang))
else:
    device_name = estimate_device(device, gpu)
    estimate = estimate_study(plan, device_name, measured_throughput(ui.load_runs(url)),
                              settings["prices"])
    c1, c2, c3, c4 = st.columns(4)
    c1.metric(t("launch.est.runs", lang), estimate["n_runs"])
    c2.metric(t("launch.est.wall", lang), duration(estimate["wall_s"], lang))
    c3.metric(t("launch.est.device_hours", lang), hours(estimate["device_hours"]))
    c4.metric(t("launch.est.cost", lang), money(estimate["cost_usd"]))
    st.caption(t("launch.est.basis", lang).format(device=device_name, measured=estimate["n_measured"],
                                                  total=estimate["n_runs"],
                                                  tokens=f"{estimate['tokens']:,}",
                                                  flops=f"{estimate['flops']:.3g}",
                                                  startup=f"{STARTUP_S_PER_RUN:g}"))

if st.button(t("launch.submit", lang), type="primary"):
    st.session_state["launch_tried"] = True
    if spec is not None:
        try:
            run_ids = jobs.launch_study(ui.store(url), spec, start_worker=ui.autoworker())
            st.session_state["launched"] = (spec.name, run_ids)
            ui.changed()
        except (ValueError, StoreError) as e:   # ConfigError, CorpusError, a locked database
            st.error(f"{t('launch.failed', lang)}: {e}")
if st.session_state.get("launch_tried"):
    for field, slot in slots.items():
        if field in problems:
            slot.error(ui.problem_text(problems[field], lang))
    if "plan" in problems:
        st.error(ui.problem_text(problems["plan"], lang))
if "launched" in st.session_state:
    study, run_ids = st.session_state["launched"]
    st.success(t("launch.queued", lang).format(n=len(run_ids), study=study, ids=", ".join(run_ids)))
    st.page_link("pages/2_Runs.py", label=t("launch.go_runs", lang), icon="📈",
                 query_params={"lang": lang, "study": study})
