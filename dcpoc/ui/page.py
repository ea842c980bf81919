"""Streamlit helpers the pages share: language (kept in the URL), navigation, the login gate, the
cached store and cached frames. Nothing else in dcpoc imports Streamlit."""
from __future__ import annotations

import math
import os

import pandas as pd
import streamlit as st

from ..report.text import interval_caption, say
from .charts import ARCH_LABELS, run_name
from .i18n import LANGUAGES, STRINGS, num, setting_label, setting_value, t
from ..studies import detect_gpu
from ..config import PRESETS
from .launch_form import Problem
from ..security import password_matches
from ..runs.status import ACTIVE
from ..runs.store import Store, StoreError, default_url
from ..decision import StudyDecision, Target, Thresholds, load_decision
from ..decision.inference import decode_tokens_per_s
from ..decision.facts import with_variant

# Icons are Streamlit's bundled Material Symbols font (":material/name:"), never emoji: a browser
# without a colour-emoji font (Debian's chromium) draws an emoji as an empty box.
# (script relative to app.py, i18n key of its label, icon); app.py lists the sidebar in this order
PAGES = [("app.py", "nav.home", ":material/home:"),
         ("pages/1_Launch.py", "nav.launch", ":material/rocket_launch:"),
         ("pages/2_Runs.py", "nav.runs", ":material/monitoring:"),
         ("pages/3_Compare.py", "nav.compare", ":material/balance:"),
         ("pages/4_Settings.py", "nav.settings", ":material/settings:"),
         ("pages/5_Inspect.py", "nav.inspect", ":material/search:"),
         ("pages/6_Decision.py", "nav.decision", ":material/explore:"),
         ("pages/7_Report.py", "nav.report", ":material/description:")]
ICONS = {script: icon for script, _, icon in PAGES}   # a link to a page shows the page's icon
APP_ICON = ":material/balance:"          # the browser tab's
NEXT_ICON = ":material/arrow_forward:"   # the next step's line
DOWNLOAD_ICON = ":material/download:"
RECORDED_ICON = ":material/history:"   # recorded (imported) results
PROGRESS_ICON = ":material/hourglass_top:"   # a study whose runs are still queued or running
REFRESH_S = 3.0        # live parts rerun this often while a run is queued or running
IDLE_REFRESH_S = 15.0  # ... and this often otherwise (a run launched elsewhere still shows up)
FRAME_TTL_S = 2.0      # cached frames are at most this old
NO_AUTOWORKER_ENV = "DCPOC_NO_AUTOWORKER"   # "1": Launch queues runs without starting a worker
# st.table cells break Japanese only at spaces and punctuation (モデルサイズ, not モデルサイ / ズ), in
# a table area at least this wide: the Decision page's widest table on those terms, the gap table
# with its longest course phrase, needs 759 px (47.4 rem at the dashboard's 14 px table text), and
# 1280 px with the sidebar open leaves 820. Narrower, cells break as before: keep-all there made
# three of the five tables outgrow a 468 px area (688, 609, 759 px), and the table's box clips, it
# does not scroll. Latin text breaks at spaces either way. Streamlit's own <p> rule needs !important.
KEEP_WORDS_MIN_REM = 49
TABLE_STYLE = f"""<style>
[data-testid="stTable"] {{ container-type: inline-size; }}
@container (min-width: {KEEP_WORDS_MIN_REM}rem) {{
  [data-testid="stTable"] :is(th, td) p {{ word-break: keep-all !important; overflow-wrap: break-word !important; }}
}}
</style>"""


def start_page(title_key: str) -> tuple[str, str]:
    """Sidebar (language, navigation), login gate, title. Returns (lang, database URL); stops the
    page with one clear sentence when the database cannot be opened."""
    # wide on every page: the centred layout left about 700 px at 1280, and the decision's tables
    # hid their numbers behind a sideways scroll
    st.set_page_config(page_title="dcpoc", page_icon=APP_ICON, layout="wide")
    st.html(TABLE_STYLE)   # style only: Streamlit sends it to the event container, it takes no space
    lang = language_selector()
    login_gate(lang)
    for script, label, icon in PAGES:
        st.sidebar.page_link(script, label=t(label, lang), icon=icon, query_params={"lang": lang})
    st.title(t(title_key, lang))
    try:
        url = default_url()   # refuses an in-memory DCPOC_DB
        store(url)
    except StoreError as e:
        st.error(f"{t('home.db_error', lang)}: {e}")
        st.stop()
    return lang, url


def language() -> str:
    """The language in the URL's ?lang= (English when absent or unknown), written back to the URL
    so that a shared link keeps its language."""
    lang = st.query_params.get("lang", "en")
    lang = lang if lang in LANGUAGES else "en"
    if st.query_params.get("lang") != lang:
        st.query_params["lang"] = lang
    return lang


def language_selector(label: str = "Language / 言語", where=None) -> str:
    """A selector that switches the page's language by rewriting ?lang= before the rerun draws
    anything, so the whole page changes at once. The default label is in both languages so that
    anyone can find it."""
    lang = language()
    options = list(LANGUAGES)
    key = f"lang-{label}-{lang}"   # a fresh widget per language: it always shows the current one
    (where or st.sidebar).selectbox(label, options, index=options.index(lang),
                                    format_func=LANGUAGES.get, key=key,
                                    on_change=_set_language, args=(key,))
    return lang


def _set_language(key: str) -> None:
    st.query_params["lang"] = st.session_state[key]


def login_gate(lang: str) -> None:
    """When DCPOC_PASSWORD (or the Streamlit secret 'password') is set, stop every page until the
    session has given it."""
    expected = os.environ.get("DCPOC_PASSWORD") or _secret_password()
    if not expected or st.session_state.get("dcpoc_logged_in"):
        return
    st.title(t("login.title", lang))
    with st.form("login"):
        given = st.text_input(t("login.password", lang), type="password")
        submitted = st.form_submit_button(t("login.submit", lang))
    if submitted and password_matches(given, expected):
        st.session_state["dcpoc_logged_in"] = True
        st.rerun()
    if submitted:
        st.error(t("login.wrong", lang))
    st.stop()


def _secret_password() -> str | None:
    try:
        return st.secrets.get("password")
    except Exception:   # no secrets.toml at all: Streamlit raises rather than returning None
        return None


# number formats of run-table columns (decision.views.RUNS_TABLE_COLUMNS and live_runs_table's extras)
_FORMATS = {"lr": "%.1e", "val_loss": "%.4f", "perplexity": "%.2f", "bits_per_byte": "%.3f", "tokens_per_s": "%,.0f",
            "peak_mem_mb": "%,.0f", "wall_s": "%,.1f", "cost_usd": "$%.4f", "cost_so_far_usd": "$%.4f"}


def show_runs(table: pd.DataFrame, lang: str) -> None:
    """A runs table as people read it: status words in lang, architecture display names,
    translated headers, readable number formats, a progress bar and a loss sparkline."""
    # one column named by the variant: the ablation ladder's two Transformer++ rungs apart
    shown = table.assign(status=table["status"].map(lambda s: t(f"status.{s}", lang)),
                         arch=run_name(table))
    if "variant" in table:
        shown = shown.drop(columns=["variant"]).rename(columns={"arch": "variant"})
    labels = {c: t(f"col.{c}", lang) if f"col.{c}" in STRINGS else c for c in shown.columns}
    config: dict = {}
    for name, label in labels.items():
        if name == "progress":
            config[label] = st.column_config.ProgressColumn(min_value=0.0, max_value=1.0,
                                                            format="percent")
        elif name == "loss_trend":
            config[label] = st.column_config.LineChartColumn()
        elif name in _FORMATS:
            config[label] = st.column_config.NumberColumn(format=_FORMATS[name])
    st.dataframe(shown.rename(columns=labels), hide_index=True, column_config=config)


def run_labels(runs: pd.DataFrame, lang: str, study: bool = False) -> dict[str, str]:
    """'id · variant · preset · seed n' per run id, for run pickers (the variant tells the
    ladder's plain Transformer++ from the one with QK-norm); study: ' · study' after it, where
    the picker mixes studies."""
    names = run_name(with_variant(runs))
    studies = runs["study"] if study and "study" in runs else pd.Series([None] * len(runs))
    return {r.id: f"{r.id} · {name} · {r.preset} · {t('col.seed', lang)} {r.seed}"
            + (f" · {where}" if isinstance(where, str) and where else "")
            for r, name, where in zip(runs.itertuples(), names, studies)}


# Fields each row's name already gives (variant = arch + QK-norm, preset, seed): repeated as
# columns they pushed the settings that do tell runs apart off-screen.
NAMED_IN_LABEL = ("model.arch", "model.qk_norm", "preset", "train.seed")
# Read first when present: what a user sets per run (the rest follow in key order).
FIRST_SETTINGS = ("train.lr", "train.steps", "train.dc_lr_mult")


def settings_table(differences: pd.DataFrame, runs: pd.DataFrame, lang: str) -> pd.DataFrame:
    """config_differences' fields against runs, turned for reading: one row per run (named by
    id, variant, preset and seed), one column per setting named in lang, values worded
    (i18n.setting_value). Left out: what the row's name gives (NAMED_IN_LABEL) and model fields
    every run holds at its preset's value. Empty (no columns) when nothing else differs."""
    labels = run_labels(runs, lang)
    presets = dict(zip(runs["id"], runs["preset"]))
    keys = [key for key in differences.index
            if key not in NAMED_IN_LABEL and not _preset_gives(key, differences.loc[key], presets)]
    keys.sort(key=lambda key: (FIRST_SETTINGS.index(key) if key in FIRST_SETTINGS else len(FIRST_SETTINGS),
                               key))
    table = pd.DataFrame({setting_label(key, lang): [setting_value(key, v, lang) for v in differences.loc[key]]
                          for key in keys},
                         index=[labels[run_id] for run_id in differences.columns])
    return table.rename_axis(t("col.id", lang))


def _preset_gives(key: str, values: pd.Series, presets: dict) -> bool:
    """Whether a model field holds, in every run (values by run id), its preset's value."""
    section, _, name = key.partition(".")
    if section != "model":
        return False
    shapes = [PRESETS.get(presets.get(run_id), {}).get("model", {}) for run_id in values.index]
    return all(name in shape and shape[name] == value for shape, value in zip(shapes, values))


# bench infer's row fields as the Compare page shows them: (field, i18n key, format); the
# spread is a fraction (max - min over min of the prompt lengths' median latencies)
# the tail at p95, as the report quotes it (p99 of a few hundred tokens is a handful of samples)
INFERENCE_COLUMNS = (("prefill_tokens_per_s", "compare.infer_col.prefill", "{:,.0f}"),
                     ("decode_tokens_per_s", "compare.infer_col.decode", "{:,.1f}"),
                     ("latency_p50_ms", "compare.infer_col.p50", "{:,.2f}"),
                     ("latency_p95_ms", "compare.infer_col.p95", "{:,.2f}"),
                     ("latency_spread", "compare.infer_col.spread", "{:.0%}"),
                     ("cache_bytes_per_token", "compare.infer_col.cache", "{:,}"))


def inference_table(bench: dict, lang: str) -> pd.DataFrame:
    """A `bench infer` result as a table: a column per architecture, a row per measure (narrow:
    two columns), numbers formatted for reading (thousands separators, one precision per
    measure, the spread in percent); decode tokens/s as decision.inference defines it, a measure
    an older result lacks as a dash."""
    def cell(row: dict, field: str, fmt: str) -> str:
        value = row.get(field)
        return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else fmt.format(value)
    return pd.DataFrame({ARCH_LABELS.get(row["arch"], row["arch"]):
                         {t(key, lang): cell({**row, "decode_tokens_per_s": decode_tokens_per_s(row)}, field, fmt)
                          for field, key, fmt in INFERENCE_COLUMNS}
                         for row in bench["rows"]})


def headline_metrics(decision, lang: str) -> list:
    """Compute multiplier, net benefit and speed ratio as three metrics, each interval in a caption
    under its mean (a mean with its interval overflows a metric at three columns and was cut off).
    Returns the three columns, for what a page adds under them."""
    mult, labels = decision.multiplier, decision.pair_labels()
    baseline = labels["transformer"]
    columns = st.columns(3)
    for column, (key, help_key), interval in zip(
            columns, (("dec.multiplier", "dec.multiplier_help"), ("dec.net", "dec.net_help")),
            (mult.multiplier, mult.net_benefit)):
        column.metric(t(key, lang), num(interval.mean if interval else None, ".2f", "×"),
                      help=t(help_key, lang).format(baseline=baseline))
        column.caption(interval_caption(interval, ".2f", lang))
        column.caption(t("dec.above_one", lang).format(arch=labels["dcformer"]))   # not good news under 1
    columns[2].metric(t("dec.speed", lang), num(mult.speed_ratio, ".2f", "×"))
    columns[2].caption(t("dec.speed_scope", lang))   # not one size's ratio (the per-size cards)
    return columns


def autoworker() -> bool:
    """Whether launching a study starts a worker (tests set DCPOC_NO_AUTOWORKER=1 to inspect the
    queue as it was left)."""
    return os.environ.get(NO_AUTOWORKER_ENV) != "1"


def refresh_every(runs: pd.DataFrame) -> float:
    """The live-update period for a page showing these runs."""
    active = not runs.empty and runs["status"].isin(ACTIVE).any()
    return REFRESH_S if active else IDLE_REFRESH_S


def problem_text(problem: Problem, lang: str) -> str:
    """A form problem in lang (a Reason: lists joined as lang lists them)."""
    return say(problem, lang)


@st.cache_resource(show_spinner=False)
def store(url: str) -> Store:
    return Store(url)


@st.cache_resource(show_spinner=False)
def detected_gpu() -> str | None:
    return detect_gpu()


@st.cache_data(ttl=FRAME_TTL_S, show_spinner=False)
def load_runs(url: str) -> pd.DataFrame:
    from ..runs.worker import reap_dead_here
    reap_dead_here(store(url))   # a run killed outside a worker: failed, not 'running' forever
    return store(url).list_runs()


@st.cache_data(ttl=FRAME_TTL_S, show_spinner=False)
def load_metrics(url: str, run_ids: tuple[str, ...], keys: tuple[str, ...]) -> pd.DataFrame:
    return store(url).get_metrics(list(run_ids), keys=list(keys))


@st.cache_data(ttl=FRAME_TTL_S, show_spinner=False)
def load_settings(url: str) -> dict:
    s = store(url)
    return {"prices": s.prices(),
            "default_device": s.get_setting("default_device", "auto")}


_DECISION_SETTINGS = "decision_settings"   # session_state: (Thresholds, Target) of the Decision page


def decision_settings() -> tuple[Thresholds, Target]:
    """The thresholds and target scale set on the Decision page in this browser session (the
    defaults until then): Overview and Report decide with them too, so no page shows another
    verdict than the one the user set up."""
    return st.session_state.get(_DECISION_SETTINGS, (Thresholds(), Target()))


def keep_decision_settings(thresholds: Thresholds, target: Target) -> None:
    st.session_state[_DECISION_SETTINGS] = (thresholds, target)


def decision_settings_note(lang: str) -> None:
    """A caption on a page that decides with settings other than the defaults."""
    thresholds, target = decision_settings()
    if thresholds != Thresholds() or target != Target():
        st.caption(t("dec.settings_used", lang))


@st.cache_data(ttl=FRAME_TTL_S, show_spinner=False)
def study_decision(url: str, study: str | None, thresholds: Thresholds, target: Target) -> StudyDecision:
    """The one way a page gets a study's decision (load_decision on the store's own price table), so
    the Overview and the Decision page always agree."""
    return load_decision(store(url), study, thresholds, prices=None, target=target, runs=load_runs(url))


@st.cache_data(ttl=FRAME_TTL_S, show_spinner=False)
def load_recorded(url: str) -> dict[str, dict]:
    """Imported studies' labels by study name ({"date", "machine"}; runs.bundle)."""
    return {row.name: row.config["recorded"] for row in store(url).list_studies().itertuples()
            if isinstance(row.config, dict) and row.config.get("recorded")}


def progress_note(runs: pd.DataFrame, lang: str) -> None:
    """While a study's runs are queued or running: its verdict is provisional (report.progress_text)."""
    from ..report import progress_text
    text = progress_text(runs, lang)
    if text:
        st.warning(text, icon=PROGRESS_ICON)


def recorded_note(url: str, studies, lang: str) -> None:
    """The one label of recorded (imported) results, shown by every page that shows a study."""
    from ..report.text import recorded_text
    labels = load_recorded(url)
    for name in dict.fromkeys(s for s in studies if s in labels):
        st.info(f"**{name}**: {recorded_text(labels[name], lang)}", icon=RECORDED_ICON)


@st.cache_data(show_spinner=False)
def _bundle_summary(path: str, mtime: float) -> dict:
    from ..runs.bundle import read_bundle
    bundle = read_bundle(path)
    return {"study": bundle["study"]["name"], "n": len(bundle["runs"]), **bundle["recorded"]}


def offer_reference_import(url: str, lang: str) -> None:
    """On an empty database: the button that imports the shipped reference study, when its
    bundle file is there (a damaged one is not offered)."""
    from ..runs.bundle import BundleError, import_study, reference_bundle
    path = reference_bundle()
    try:
        summary = _bundle_summary(str(path), path.stat().st_mtime)
    except (OSError, BundleError):
        return
    st.info(t("home.import_offer", lang), icon=RECORDED_ICON)
    if st.button(t("home.import_button", lang).format(**summary), type="primary"):
        try:
            done = import_study(store(url), path)
        except StoreError as e:
            st.error(f"{t('home.import_failed', lang)}: {e}")
            return
        changed()
        st.toast(t("home.import_done", lang).format(study=done["study"], n=done["n_runs"]))
        st.rerun()


def changed() -> None:
    """After a write from the UI: forget cached frames so the next rerun shows it."""
    load_runs.clear()
    load_recorded.clear()
    load_metrics.clear()
    load_settings.clear()
    study_decision.clear()


def stalled_queue_notice(url: str, runs: pd.DataFrame, lang: str) -> None:
    """When runs wait in the queue and no worker is alive (the one serving it was killed, ran out
    of memory, or the machine restarted): say so, with a button that starts the workers. Without
    it the queue waited for ever in silence."""
    from ..runs.registry import restart_workers, waiting_without_worker
    waiting = waiting_without_worker(store(url), runs)
    if not waiting:
        return
    if store(url).read_only:   # a worker started from here would refuse the database
        st.info(t("runs.no_worker_read_only", lang).format(n=waiting))
        return
    st.warning(t("runs.no_worker", lang).format(n=waiting))
    if st.button(t("runs.start_worker", lang), key="start_worker"):
        pids = restart_workers(store(url))
        if pids:   # none: one registered meanwhile, and it serves the queue
            st.success(t("runs.worker_started", lang).format(pids=", ".join(map(str, pids))))
