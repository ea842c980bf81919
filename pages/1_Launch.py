"""Launch: a study form (a blank study or a reference one; name, question, corpus, presets,
architectures, seeds, budget, learning-rate sweep), its plan by stage with the ladder's warnings and
its cost estimate, and the button that queues it."""
import streamlit as st

from dcpoc.config import ARCH_LABELS, ARCHS
from dcpoc.runs import StoreError, launch_study
from dcpoc.runs.executors import default_options
from dcpoc.security import BUILTIN_CORPORA, allowed_data_dirs
from dcpoc.studies import (PLANNING_GPU, REFERENCE_STUDIES, STARTUP_S_PER_RUN, SWEEPS, estimate_device,
                           estimate_study, measured_throughput, runnable_presets)
from dcpoc.ui import page as ui
from dcpoc.ui.i18n import device_text, duration, hours, money, t
from dcpoc.ui.launch_form import (BUDGET_KINDS, START_BLANK, LaunchForm, check_form, form_choices,
                                  form_state, plan_only, plan_table, preview_study, start_form)

lang, url = ui.start_page("launch.title")
gpu = ui.detected_gpu()
offered = runnable_presets(gpu)
data_dirs = allowed_data_dirs()
settings = ui.load_settings(url)
st.caption(t("launch.hardware_gpu", lang).format(gpu=gpu) if gpu else t("launch.hardware_cpu", lang))

# Keyed widgets keep what was typed when the language (and so every label) changes; they take
# their first values from session state, which a starting point overwrites.
st.session_state.setdefault("launch_start", START_BLANK)
for key, value in form_state(start_form(START_BLANK, offered, settings["default_device"])).items():
    st.session_state.setdefault(key, value)


def _fill_from_start() -> None:
    taken = set(ui.store(url).list_studies()["name"])   # e.g. the imported recorded reference
    form = start_form(st.session_state["launch_start"], offered, settings["default_device"], lang,
                      taken)
    st.session_state.update(form_state(form))


def _start_label(start: str) -> str:
    label = t(f"launch.start.{start}", lang)
    return t("launch.start.plan_only_label", lang).format(label=label) if plan_only(start, gpu) else label


start = st.radio(t("launch.start", lang), [START_BLANK, *REFERENCE_STUDIES], format_func=_start_label,
                 help=t("launch.start_help", lang), key="launch_start", on_change=_fill_from_start)
preview_only = plan_only(start, gpu)
carried = start_form(start, offered)   # what a reference sets without a widget: evals, overrides
if preview_only:
    st.info(t("launch.start.plan_only", lang).format(gpu=PLANNING_GPU, study=start))
preset_choices, devices = form_choices(start, gpu)

name = st.text_input(t("launch.name", lang), max_chars=80, placeholder=t("launch.name_hint", lang),
                     key="launch_name")
slots = {"name": st.empty()}
joined = int(ui.load_runs(url)["study"].eq(name.strip()).sum()) if name.strip() else 0
name_note = st.empty()   # filled once the plan is known: whether the runs can join that study
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
presets = st.multiselect(t("launch.presets", lang), preset_choices, help=t("launch.presets_help", lang),
                         key="launch_presets", placeholder=t("ui.choose", lang))
slots["presets"] = st.empty()
ablation = st.checkbox(t("launch.ladder", lang), help=t("launch.ladder_help", lang), key="launch_ladder")
archs = st.multiselect(t("launch.archs", lang), list(ARCHS), format_func=ARCH_LABELS.get,
                       disabled=ablation, key="launch_archs", placeholder=t("ui.choose", lang))
slots["archs"] = st.empty()
seeds = st.text_input(t("launch.seeds", lang), help=t("launch.seeds_help", lang), key="launch_seeds")
slots["seeds"] = st.empty()
budget_kind = st.radio(t("launch.budget_kind", lang), BUDGET_KINDS, horizontal=True,
                       format_func=lambda k: t(f"launch.budget.{k}", lang), key="launch_budget_kind")
budget = 0
if budget_kind == "tokens_per_param":
    budget = st.number_input(t("launch.budget.tokens_per_param", lang), min_value=0.0, step=1.0,
                             format="%g", help=t("launch.budget_ratio_help", lang),
                             key="launch_budget_tokens_per_param")
elif budget_kind != "preset":
    budget = st.number_input(t(f"launch.budget.{budget_kind}", lang), min_value=1, step=10,
                             key=f"launch_budget_{budget_kind}")
slots["budget"] = st.empty()
sweep = st.radio(t("launch.sweep", lang), SWEEPS, format_func=lambda s: t(f"launch.sweep.{s}", lang),
                 help=t("launch.sweep_help", lang), key="launch_sweep")
lrs = st.text_input(t("launch.lrs", lang), placeholder=t("launch.lrs_hint", lang),
                    help=t("launch.lrs_help", lang), disabled=sweep == "none", key="launch_lrs")
slots["lrs"] = st.empty()
confirm_seeds = st.text_input(t("launch.confirm_seeds", lang), help=t("launch.confirm_seeds_help", lang),
                              disabled=sweep == "none", key="launch_confirm_seeds")
slots["confirm_seeds"] = st.empty()
if st.session_state["launch_device"] not in devices:   # e.g. cuda after a plan-only reference
    st.session_state["launch_device"] = devices[0]
device = st.selectbox(t("launch.device", lang), devices,
                      format_func=lambda d: t(f"settings.device.{d}", lang), key="launch_device")
executor = st.radio(t("launch.executor", lang), ["local", "slurm"], horizontal=True,
                    help=t("launch.executor_help", lang), key="launch_executor",
                    format_func={"local": t("launch.executor.local", lang),
                                 "slurm": t("launch.executor.slurm", lang)}.get)
slurm: dict = {}
if executor == "slurm":   # the settings' defaults fill the fields (`python -m dcpoc slurm defaults`)
    defaults = default_options(ui.store(url))
    s1, s2, s3, s4 = st.columns(4)
    slurm = {"partition": s1.text_input(t("launch.slurm.partition", lang), defaults.partition),
             "account": s2.text_input(t("launch.slurm.account", lang), defaults.account),
             "gpus_per_node": s3.number_input(t("launch.slurm.gpus_per_node", lang), 0, 64,
                                              defaults.gpus_per_node),
             "nodes": s4.number_input(t("launch.slurm.nodes", lang), 1, 512, defaults.nodes),
             "time_limit": st.text_input(t("launch.slurm.time_limit", lang), defaults.time_limit,
                                         help=t("launch.slurm.time_limit_help", lang)),
             "extra": st.text_area(t("launch.slurm.extra", lang), "\n".join(
                 line.removeprefix("#SBATCH ") for line in defaults.extra),
                 help=t("launch.slurm.extra_help", lang))}
slots["executor"] = st.empty()
if carried.evals_per_run:
    st.caption(t("launch.start.evals", lang).format(n=carried.evals_per_run))
if carried.overrides:
    st.caption(t("launch.start.overrides", lang).format(overrides=", ".join(carried.overrides)))
if carried.workers > 1:
    st.caption(t("launch.start.workers", lang).format(n=carried.workers))

form = LaunchForm(name=name, question=question,
                  corpus=corpus_path if corpus_choice == "path" else corpus_choice,
                  presets=presets, archs=archs, seeds=seeds, budget_kind=budget_kind, budget=budget,
                  device=device, sweep=sweep, lrs=lrs, overrides=carried.overrides,
                  evals_per_run=carried.evals_per_run, workers=carried.workers,
                  executor=executor, slurm=slurm, ladder=ablation,
                  confirm_seeds=confirm_seeds if sweep != "none" else "")
spec, problems = check_form(form, data_dirs, offered)

# A plan-only reference is planned and priced with its presets, though this hardware lacks them.
preview = preview_study(form, data_dirs, preset_choices)
if joined:   # a plan with a later stage is refused into it; else the runs join it, compared together
    staged = preview is not None and bool(preview.stages.later or preview.stages.confirm)
    name_note.warning(t("launch.name_own" if staged else "launch.name_joins", lang).format(
        study=name.strip(), n=joined))
st.subheader(t("launch.plan", lang))
if preview is None:
    st.info(t("launch.estimate_wait", lang))
else:
    st.dataframe(plan_table(preview.stages, lang), hide_index=True)
    if preview.stages.later:
        st.caption(t("launch.plan.later_note", lang).format(preset=preview.stages.first[0].preset))
    if preview.stages.confirm:
        st.caption(t("launch.plan.confirm_note", lang))
    for problem in preview.ladder:
        st.warning(ui.problem_text(problem, lang))

    st.subheader(t("launch.estimate", lang))
    device_name = estimate_device(device, gpu)
    estimate = estimate_study(preview.stages.runs, device_name,
                              measured_throughput(ui.load_runs(url)), settings["prices"])
    # two by two, as the Overview: four abreast cut the cost off at 800 px with the sidebar open
    (c1, c2), (c3, c4) = st.columns(2), st.columns(2)
    c1.metric(t("launch.est.runs", lang), estimate["n_runs"])
    c2.metric(t("launch.est.wall", lang), duration(estimate["wall_s"], lang, estimate=True))
    if spec is not None and spec.workers > 1:
        c2.caption(t("launch.est.workers", lang).format(
            n=spec.workers, wall=duration(estimate["wall_s"] / spec.workers, lang, estimate=True)))
    c3.metric(t("launch.est.device_hours", lang), hours(estimate["device_hours"]))
    c4.metric(t("launch.est.cost", lang), money(estimate["cost_usd"]))
    measured, total = estimate["n_measured"], estimate["n_runs"]
    basis = "all" if measured == total else "none" if measured == 0 else "some"
    st.caption(t("launch.est.basis", lang).format(device=device_text(device_name, lang),
                                                  throughput=t(f"launch.est.measured_{basis}", lang).format(
                                                      measured=measured, total=total),
                                                  tokens=f"{estimate['tokens']:,}",
                                                  flops=f"{estimate['flops']:.3g}",
                                                  startup=f"{STARTUP_S_PER_RUN:g}"))

if st.button(t("launch.submit", lang), type="primary", disabled=preview_only):
    st.session_state["launch_tried"] = True
    if spec is not None:
        try:
            run_ids = launch_study(ui.store(url), spec, start_worker=ui.autoworker())
            n_later = len(preview.stages.later) if preview is not None else 0
            st.session_state["launched"] = (spec.name, run_ids, n_later, joined)
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
    study, run_ids, n_later, joined = st.session_state["launched"]
    st.success(t("launch.queued_joined" if joined else "launch.queued", lang).format(
        n=len(run_ids), study=study, ids=", ".join(run_ids), before=joined))
    if n_later:
        st.info(t("launch.queued_later", lang).format(n=n_later))
    st.page_link("pages/2_Runs.py", label=t("launch.go_runs", lang), icon=ui.ICONS["pages/2_Runs.py"],
                 query_params={"lang": lang, "study": study})
