"""Every dashboard page through Streamlit's AppTest, against a database filled by real tiny training
runs of this test session; the Launch form's checks; Cancel; the login gate."""
import os
import re
import subprocess
import sys
import time

import pytest
from streamlit.testing.v1 import AppTest

from dcpoc.runs.store import Store
from dcpoc.ui import page as ui_page

from conftest import REPO_ROOT, by_label, errors, open_page, wait_for

PAGES = ["app.py", "pages/1_Launch.py", "pages/2_Runs.py", "pages/3_Compare.py",
         "pages/4_Settings.py", "pages/5_Inspect.py", "pages/6_Decision.py", "pages/7_Report.py"]


pytestmark = pytest.mark.usefixtures("fresh_caches")


@pytest.mark.parametrize("lang", ["en", "ja"])
@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_real_runs(trained, page, lang):
    at = open_page(page, lang)
    assert not errors(at)
    titles = {"app.py": ("DCFormer proof of concept", "概念実証"),
              "pages/1_Launch.py": ("Launch a study", "調査を開始"),
              "pages/2_Runs.py": ("Runs", "実行一覧"),
              "pages/3_Compare.py": ("Compare architectures", "アーキテクチャの比較"),
              "pages/4_Settings.py": ("Settings", "設定"),
              "pages/5_Inspect.py": ("Inspect: look inside DCFormer", "モデルの中身"),
              "pages/6_Decision.py": ("Decision", "導入判断"),
              "pages/7_Report.py": ("Meeting report", "会議用レポート")}[page]
    assert titles[lang == "ja"] in at.title[0].value
    links = [link.label for link in at.sidebar.get("page_link")]
    assert ("実行一覧" if lang == "ja" else "Runs") in links and len(links) == len(PAGES)
    assert all(link.proto.icon.startswith(":material/") for link in at.sidebar.get("page_link"))


def test_home_shows_headline_numbers_of_both_architectures(trained):
    at = open_page("app.py")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["succeeded"] == "4" and metrics["queued"] == "0"
    runs = trained.list_runs()
    tf = runs[runs["arch"] == "transformer"]["final_val_loss"].mean()
    assert metrics["Baseline val loss"] == f"{tf:.4f}"
    assert {m.help for m in at.metric if m.label == "Baseline val loss"} == {"Transformer++ + QK-norm"}
    speed = [value for label, value in metrics.items() if label.startswith("Speed ratio on ")]
    assert len(speed) == 1 and float(speed[0].rstrip("×")) > 0
    assert any("Insufficient evidence" in w.value for w in at.warning)   # tiny runs, one size
    assert at.selectbox(key="home_study").value == "s1"
    captions = [c.value for c in at.caption]
    assert "Transformer++ + QK-norm: 2 counted, 0 failed, 0 diverged  ·  DCFormer: 2 counted, " \
           "0 failed, 0 diverged" in captions
    assert len(at.dataframe[0].value) == 4


def test_runs_page_shows_progress_trend_curves_log_and_environment(trained):
    at = open_page("pages/2_Runs.py")
    table = at.dataframe[0].value
    assert len(table) == 4 and set(table["Progress"]) == {1.0}
    assert all(len(trend) == 20 for trend in table["Train loss trend"])   # 20 steps, all shown
    assert (table["Cost so far ($)"] > 0).all()
    assert len(at.get("vega_lite_chart")) == 1                            # the loss curves
    run = trained.get_run(by_label(at.selectbox, "Run to inspect").value)
    assert at.json[0].value and run["config"]["preset"] == "tiny"
    environment = at.dataframe[1].value
    assert "CPU" in set(environment["Value"]) and run["device"] == "cpu"     # the device as people write it
    assert by_label(at.button, "Cancel").disabled           # succeeded: nothing to cancel
    for x in ("Training tokens", "Training time (s)"):
        by_label(at.radio, "Against").set_value(
            {"Training tokens": "tokens", "Training time (s)": "wall_s"}[x]).run()
        assert not at.exception


@pytest.mark.parametrize("page", PAGES)
def test_pages_with_queued_runs_beside_finished_ones(trained_copy, page):
    from dcpoc.runs import launch_study
    from dcpoc.studies.spec import StudySpec
    launch_study(trained_copy, StudySpec(name="later", steps=5), start_worker=False)
    at = open_page(page, "ja")
    assert not errors(at)
    if page == "pages/2_Runs.py":
        table = at.dataframe[0].value
        assert len(table) == 6 and (table["ステータス"] == "待機中").sum() == 2


def test_runs_page_filters(trained):
    at = open_page("pages/2_Runs.py")
    by_label(at.multiselect, "Architecture").set_value(["dcformer"]).run()
    assert set(at.dataframe[0].value["Variant"]) == {"DCFormer"}   # named by variant
    by_label(at.multiselect, "Status").set_value(["failed"]).run()
    assert "No run matches" in at.info[0].value


def test_compare_draws_every_chart_and_the_config_difference(trained):
    at = open_page("pages/3_Compare.py")
    assert len(at.get("vega_lite_chart")) == 6     # 3 loss curves, 2 bar charts, the Pareto scatter
    # the four runs differ in arch and seed only, which each run's name gives
    assert "differ only in what each run's name gives" in at.info[0].value and not at.dataframe
    by_label(at.radio, "Compare").set_value("runs").run()
    assert not at.exception and len(at.get("vega_lite_chart")) == 6
    at = open_page("pages/3_Compare.py", "ja")
    assert "バリアント、プリセット、シード" in at.info[0].value


def test_settings_table_leaves_out_what_run_names_give(trained):
    from dcpoc.decision import config_differences
    runs = ui_page.load_runs(os.environ["DCPOC_DB"])
    configs = dict(zip(runs["id"], runs["config"]))
    changed = runs["id"].iloc[0]
    configs[changed] = {**configs[changed], "train": {**configs[changed]["train"], "lr": 0.5},
                        "model": {**configs[changed]["model"], "n_layer": 3}}
    table = ui_page.settings_table(config_differences(configs), runs, "en")
    # the learning rate first, then the layer count that is not the preset's; arch, QK-norm and
    # seed are in each row's name, not in columns
    assert list(table.columns) == ["Learning rate (train.lr)", "Layers (model.n_layer)"]
    assert all(" · Seed " in label for label in table.index)
    name = next(label for label in table.index if label.startswith(changed))
    assert table.loc[name].tolist() == ["0.5", "3"]
    assert set(table["Layers (model.n_layer)"]) == {"3", "2"}


def test_an_in_memory_database_is_one_sentence_on_every_page(tmp_path, monkeypatch):
    monkeypatch.setenv("DCPOC_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DCPOC_DB", "sqlite://")
    at = open_page("app.py")
    assert "in-memory database" in at.error[0].value


def test_settings_saves_prices_and_default_device(dcpoc_home):
    at = open_page("pages/4_Settings.py")
    by_label(at.number_input, "H100").set_value(2.2)
    by_label(at.button, "Save prices").click().run()
    assert Store().get_setting("prices")["h100"] == 2.2
    by_label(at.selectbox, "New studies run on").set_value("cpu").run()
    assert Store().get_setting("default_device") == "cpu"
    assert at.code[0].value.startswith("sqlite:///")
    by_label(at.selectbox, "Display language").set_value("ja").run()
    assert at.title[0].value == "設定" and at.query_params["lang"] in ("ja", ["ja"])


# ----------------------------------------------------------------------------- Launch

@pytest.fixture
def launch_page(dcpoc_home, monkeypatch):
    monkeypatch.setenv("DCPOC_NO_AUTOWORKER", "1")
    return open_page("pages/1_Launch.py")


def fill(at: AppTest, name: str = "study-a", archs=("transformer", "dcformer"), seeds="1, 2",
         steps: int = 5) -> AppTest:
    by_label(at.text_input, "Study name").input(name)
    by_label(at.multiselect, "Architectures").set_value(list(archs))
    by_label(at.text_input, "Seeds").input(seeds)
    by_label(at.number_input, "Steps per run").set_value(steps)
    return at.run()


def launch(at: AppTest) -> AppTest:
    return by_label(at.button, "Launch study").click().run()


def test_launch_shows_an_estimate_before_anything_is_queued(launch_page):
    at = fill(launch_page)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Runs"] == "4" and "$" in metrics["Cost"]
    assert metrics["Wall time (one after another)"].endswith(" s")
    assert Store().list_runs().empty


def test_launch_form_keeps_its_values_when_the_language_changes(launch_page):
    at = fill(launch_page, name="keep me", seeds="3, 4")
    at.sidebar.selectbox[0].set_value("ja").run()
    assert by_label(at.text_input, "調査名").value == "keep me"
    assert by_label(at.text_input, "シード").value == "3, 4"


def test_launch_rejects_an_empty_name_and_no_architecture(launch_page):
    at = launch(fill(launch_page, name="   ", archs=()))
    assert "Give the study a name." in errors(at)
    assert any("Choose at least one architecture" in e for e in errors(at))
    assert Store().list_runs().empty


def test_launch_rejects_bad_seeds_in_japanese(dcpoc_home, monkeypatch):
    monkeypatch.setenv("DCPOC_NO_AUTOWORKER", "1")
    at = open_page("pages/1_Launch.py", "ja")
    by_label(at.text_input, "調査名").input("日本語の調査")
    by_label(at.text_input, "シード").input("1, 1")
    at = by_label(at.button, "調査を開始").click().run()
    assert any("異なる整数" in e for e in errors(at))
    assert Store().list_runs().empty


@pytest.mark.parametrize("where", ["outside", "dotdot", "symlink"])
def test_launch_refuses_a_corpus_outside_the_data_dirs(launch_page, tmp_path, monkeypatch, where):
    allowed, secret = tmp_path / "data", tmp_path / "secret.txt"
    allowed.mkdir()
    secret.write_text("not for the browser\n" * 100)
    (allowed / "link.txt").symlink_to(secret)
    monkeypatch.setenv("DCPOC_DATA_DIRS", str(allowed))
    typed = {"outside": str(secret), "dotdot": f"{allowed}/../secret.txt",
             "symlink": str(allowed / "link.txt")}[where]
    at = fill(launch_page)
    by_label(at.radio, "Training text (corpus)").set_value("path").run()
    by_label(at.text_input, "Path on the server").input(typed)
    at = launch(at.run())
    assert any("outside the allowed data folders" in e for e in errors(at))
    assert Store().list_runs().empty


def test_launch_queues_a_valid_study_with_a_corpus_from_the_data_dirs(launch_page, tmp_path,
                                                                      monkeypatch):
    allowed = tmp_path / "data"
    allowed.mkdir()
    (allowed / "notes.txt").write_text("DCFormer composes attention heads dynamically.\n" * 400)
    monkeypatch.setenv("DCPOC_DATA_DIRS", str(allowed))
    at = fill(launch_page, name="study-b")
    by_label(at.radio, "Training text (corpus)").set_value("path").run()
    by_label(at.text_input, "Path on the server").input("notes.txt")
    at = launch(at.run())
    assert not errors(at), errors(at)
    runs = Store().list_runs(study="study-b")
    assert len(runs) == 4 and set(runs["status"]) == {"queued"}
    assert set(runs["corpus_spec"]) == {f"text:{(allowed / 'notes.txt').resolve()}"}
    assert {r["train"]["steps"] for r in runs["config"]} == {5}
    assert "Queued 4 runs" in at.success[0].value
    assert all(rid in at.success[0].value for rid in runs["id"])


def test_launch_from_reference_cpu_fills_the_form_and_shows_its_plan(launch_page):
    at = by_label(launch_page.radio, "Start from").set_value("reference-cpu").run()
    assert not at.exception, at.exception
    assert by_label(at.text_input, "Study name").value == "reference-cpu"
    assert by_label(at.multiselect, "Model sizes (presets)").value == ["cpu-xs", "cpu-s", "cpu-demo"]
    assert by_label(at.number_input, "Tokens per parameter").value == 5.0
    assert by_label(at.text_input, "Learning rates to sweep").value == "0.001, 0.003"
    assert by_label(at.checkbox, "Ablation ladder (splits QK-norm's effect from DCMHA's)").value
    assert by_label(at.text_input, "Confirmation seeds").value == "101, 102, 103"
    plan = at.dataframe[0].value     # every size swept (3 variants x 2 rates), then the confirmation
    assert len(plan) == 18 + 9 and set(plan["Learning rate"]) == {"0.001", "0.003", "chosen rate"}
    assert {m.label: m.value for m in at.metric}["Runs"] == "45"
    assert any(c.value.startswith("Stage 3, the confirmation") for c in at.caption)
    assert not at.warning                                      # a ladder fit for the multiplier
    assert any("threads=1" in c.value for c in at.caption)
    assert any("starts 2 CPU worker slots" in c.value for c in at.caption)
    assert Store().list_runs().empty
    by_label(at.radio, "Start from").set_value("blank").run()   # back to a blank form
    assert by_label(at.text_input, "Study name").value == ""
    assert by_label(at.multiselect, "Model sizes (presets)").value == ["tiny"]


def test_launch_warns_that_one_size_cannot_give_the_multiplier(launch_page):
    at = fill(launch_page)
    assert [w.value for w in at.warning] == [
        "1 model size(s): a reliable compute multiplier needs at least 3 sizes (with two, only a rough straight-line fit; with one, none)."]


def test_launch_shows_reference_gpu_priced_on_a_gpu_but_does_not_launch_it_here(dcpoc_home,
                                                                               monkeypatch):
    from dcpoc.ui import page as ui
    monkeypatch.setenv("DCPOC_NO_AUTOWORKER", "1")
    monkeypatch.setattr(ui, "detect_gpu", lambda: None)
    ui.detected_gpu.clear()
    try:
        at = open_page("pages/1_Launch.py", "ja")
        at = by_label(at.radio, "ひな形").set_value("reference-gpu").run()
        assert not at.exception, at.exception
        assert any("H100" in i.value for i in at.info)
        assert {m.label: m.value for m in at.metric}["実行数"] == "45"
        assert any("H100" in c.value for c in at.caption)
        assert by_label(at.button, "調査を開始").disabled
        monkeypatch.setattr(ui, "detect_gpu", lambda: "NVIDIA H200")   # with a GPU: launchable
        ui.detected_gpu.clear()
        at = open_page("pages/1_Launch.py")
        at = by_label(at.radio, "Start from").set_value("reference-gpu").run()
        assert not at.info and not by_label(at.button, "Launch study").disabled
        assert by_label(at.selectbox, "Device").value == "cuda"
        assert any(c.value.startswith("On NVIDIA H200:") for c in at.caption)
    finally:
        ui.detected_gpu.clear()


def test_launch_queues_only_the_sweep_of_a_smallest_size_sweep(launch_page):
    at = fill(launch_page, name="swept", seeds="1")
    by_label(at.multiselect, "Model sizes (presets)").set_value(["tiny", "cpu-xs"])
    by_label(at.radio, "Learning-rate sweep").set_value("smallest").run()
    by_label(at.text_input, "Learning rates to sweep").input("1e-3, 3e-3")
    at = launch(at.run())
    assert not errors(at), errors(at)
    runs = Store().list_runs(study="swept")
    assert len(runs) == 4 and set(runs["preset"]) == {"tiny"} and set(runs["status"]) == {"queued"}
    assert {r["train"]["lr"] for r in runs["config"]} == {1e-3, 3e-3}
    assert Store().get_study("swept")["config"]["later_stage"] == "waiting"
    assert "Queued 4 runs" in at.success[0].value
    assert "other 2 runs" in at.info[0].value


def test_launch_rejects_a_bad_rate_grid_in_one_line(launch_page):
    at = fill(launch_page, name="bad-grid")
    by_label(at.radio, "Learning-rate sweep").set_value("each").run()
    by_label(at.text_input, "Learning rates to sweep").input("fast, 1e-3")
    at = launch(at.run())
    assert errors(at) == ["Write distinct rates between 0 and 1, separated by commas, e.g. 3e-4, 1e-3, 3e-3."]
    assert Store().list_runs().empty


# ----------------------------------------------------------------------------- Cancel

def test_cancel_flips_a_queued_run(dcpoc_home, monkeypatch):
    monkeypatch.setenv("DCPOC_NO_AUTOWORKER", "1")
    at = launch(fill(open_page("pages/1_Launch.py"), name="to-cancel", archs=("dcformer",),
                     seeds="1"))
    run_id = Store().list_runs(study="to-cancel")["id"].iloc[0]
    at = open_page("pages/2_Runs.py")
    by_label(at.selectbox, "Run to inspect").set_value(run_id).run()
    by_label(at.button, "Cancel").click().run()
    assert not at.exception
    assert Store().get_run(run_id)["status"] == "cancelled"
    # drawn again after the action: the header no longer says queued above the confirmation
    assert [h.value for h in at.subheader if h.value.startswith(f"Run {run_id}")] == \
        [f"Run {run_id}: cancelled, step 0 of 5"]
    assert "Cancel requested" in at.success[0].value


def test_a_failed_run_is_explained_in_the_pages_language(dcpoc_home):
    from dcpoc.config import make_config
    from dcpoc.runs import create_run
    store = Store()
    run_id = create_run(store, make_config("transformer", "tiny", [], steps=3))
    error = ("lost: its process (pid 1) ended without a word (killed, or out of memory); resume it: "
             f"python -m dcpoc train --resume {run_id}\nstep 2 | loss 4.1")
    store.update_run(run_id, status="failed", error=error)
    at = open_page("pages/2_Runs.py", "ja")
    assert at.error[0].value.startswith("学習プロセスが応答のないまま停止しました")
    assert "下の「最初からやり直す」" in at.error[0].value                 # no checkpoint: the button that helps
    assert at.expander[0].label == "メッセージ全文とログの末尾（英語）" and any(c.value == error for c in at.code)


def test_a_slurm_runs_next_job_takes_a_time_limit_checked_before_anything_moves(dcpoc_home):
    """Resume kept the time limit a job had hit, so it hit it again: the Runs page asks for the
    next job's limit; a bad one is one line and queues nothing."""
    from dcpoc.config import make_config
    from dcpoc.runs import create_run
    store = Store()
    run_id = create_run(store, make_config("transformer", "tiny", [], steps=3), executor="slurm")
    store.update_run(run_id, status="failed", error="SLURM job 7 hit its time limit (00:01:00)")
    at = open_page("pages/2_Runs.py")
    limit = by_label(at.text_input, "Time limit of the new SLURM job")
    assert limit.value == ""                                    # the run's own: the partition's
    limit.set_value("an hour").run()
    by_label(at.button, "Retry from scratch").click().run()
    assert not at.exception and any("SLURM time limit 'an hour'" in e.value for e in at.error)
    assert len(store.list_runs()) == 1 and store.get_run(run_id)["status"] == "failed"


def test_cancel_stops_a_running_training_process(dcpoc_home):
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "dcpoc", "train", "--arch", "transformer",
                             "--preset", "tiny", "--steps", "100000", "--study", "long",
                             "--no-progress"], cwd=REPO_ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        store = Store()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            runs = store.list_runs(study="long")
            if not runs.empty and runs["status"].iloc[0] == "running" and runs["step"].iloc[0] > 0:
                break
            time.sleep(0.5)
        run_id = runs["id"].iloc[0]
        assert runs["status"].iloc[0] == "running"
        at = open_page("pages/2_Runs.py")
        assert by_label(at.selectbox, "Run to inspect").value == run_id
        by_label(at.button, "Cancel").click().run()
        assert not at.exception and "Cancel requested" in at.success[0].value
        assert proc.wait(timeout=30) == 0
        assert store.get_run(run_id)["status"] == "cancelled"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# ----------------------------------------------------------------------------- login gate

@pytest.mark.parametrize("page", PAGES)
def test_login_gate_blocks_every_page_without_the_password(dcpoc_home, monkeypatch, page):
    monkeypatch.setenv("DCPOC_PASSWORD", "open sesame")
    at = open_page(page)
    assert [t.value for t in at.title] == ["Sign in"]
    assert not at.dataframe and not at.metric and not at.get("page_link")
    assert [b.label for b in at.button] == ["Sign in"]


def test_login_gate_lets_the_right_password_in(dcpoc_home, monkeypatch):
    monkeypatch.setenv("DCPOC_PASSWORD", "open sesame")
    at = open_page("app.py")
    by_label(at.text_input, "Password").input("wrong")
    at.button[0].click().run()
    assert "That password is not correct." in errors(at)
    by_label(at.text_input, "Password").input("open sesame")
    at.button[0].click().run()
    assert "DCFormer proof of concept" in at.title[0].value


def test_login_gate_takes_the_password_from_streamlit_secrets(dcpoc_home):
    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=60)
    at.secrets["password"] = "from secrets"
    at.run()
    assert [t.value for t in at.title] == ["Sign in"]


# ----------------------------------------------------------------------------- no torch

def test_pages_never_import_torch(trained_home):
    """The dashboard process renders every page without importing torch (it trains nothing)."""
    script = f"""
import sys
from streamlit.testing.v1 import AppTest
for page in {PAGES!r}:
    at = AppTest.from_file({str(REPO_ROOT / 'app.py')!r}, default_timeout=60).run()
    if page != "app.py":
        at.switch_page(page).run()
    assert not at.exception, (page, at.exception)
print(sorted(m for m in sys.modules if m == "torch" or m.startswith("torch.")))
"""
    env = {**os.environ, "DCPOC_HOME": str(trained_home),
           "DCPOC_DB": f"sqlite:///{trained_home / 'dcpoc.db'}", "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_the_command_line_never_imports_streamlit():
    """Everything in dcpoc but ui/page.py loads without Streamlit: `python -m dcpoc train` would
    otherwise print Streamlit's "No runtime found" warnings for every cached function."""
    modules = sorted(".".join(p.relative_to(REPO_ROOT).with_suffix("").parts).removesuffix(".__init__")
                     for p in (REPO_ROOT / "dcpoc").rglob("*.py")
                     if p.name != "__main__.py" and p != REPO_ROOT / "dcpoc" / "ui" / "page.py"
                     and "migrations" not in p.parts)
    script = f"""
import importlib, sys
for name in {modules!r}:
    importlib.import_module(name)
print(sorted(m for m in sys.modules if m.split(".")[0] == "streamlit"))
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


# ----------------------------------------------------------------------------- dashboard chrome
EMOJI = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\uFE0F]")


def test_icons_are_material_symbols_not_emoji():
    """Debian's chromium has no colour-emoji font: an emoji icon shows as an empty box, while
    Streamlit bundles the Material Symbols font."""
    from streamlit.material_icon_names import ALL_MATERIAL_ICONS
    from dcpoc.ui import page as ui
    icons = [icon for _, _, icon in ui.PAGES] + [ui.APP_ICON, ui.NEXT_ICON, ui.DOWNLOAD_ICON]
    for icon in icons:
        match = re.fullmatch(r":material/([a-z0-9_]+):", icon)
        assert match and match.group(1) in ALL_MATERIAL_ICONS, icon
    sources = [REPO_ROOT / "app.py", *(REPO_ROOT / "pages").glob("*.py"),
               *(REPO_ROOT / "dcpoc" / "ui").glob("*.py")]
    found = [f"{p.relative_to(REPO_ROOT)}:{n}" for p in sources
             for n, line in enumerate(p.read_text().splitlines(), 1) if EMOJI.search(line)]
    assert not found, f"emoji in {found}"


def test_dashboard_config_is_read_from_the_repository_root():
    """scripts/dashboard.sh starts Streamlit at the repository root, so .streamlit/config.toml
    applies: no "Deploy" button (viewer toolbar), no file-name page list, no usage statistics."""
    script = """
from streamlit import config
config.get_config_options(force_reparse=True)
print([config.get_option(k) for k in ("client.toolbarMode", "client.showSidebarNavigation",
                                      "browser.gatherUsageStats", "server.address")])
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "['viewer', False, False, 'localhost']"
    launcher = (REPO_ROOT / "scripts" / "dashboard.sh").read_text()
    assert 'cd "$(dirname "$0")/.."' in launcher and "--browser.gatherUsageStats false" in launcher


# ----------------------------------------------------------------------------- SLURM executor
def test_launch_checks_the_slurm_options_before_queueing(launch_page):
    at = fill(launch_page, name="on-slurm", archs=("dcformer",), seeds="1")
    by_label(at.radio, "Executor").set_value("slurm").run()
    by_label(at.text_input, "Time limit per job").input("soon").run()
    at = launch(at)
    assert any(e.startswith("SLURM options: SLURM time limit 'soon'") for e in errors(at))
    assert Store().list_runs().empty


@pytest.mark.skipif(not os.environ.get("DCPOC_TEST_SLURM_CONF"),
                    reason="no local SLURM: set DCPOC_TEST_SLURM_CONF (scripts/system-deps.sh)")
def test_a_slurm_study_from_launch_to_cancel_on_the_runs_page(launch_page, monkeypatch):
    monkeypatch.setenv("SLURM_CONF", os.environ["DCPOC_TEST_SLURM_CONF"])
    at = fill(launch_page, name="paged-slurm", archs=("dcformer",), seeds="1", steps=100_000)
    by_label(at.radio, "Executor").set_value("slurm").run()
    at = launch(at)
    assert not errors(at), errors(at)
    run = Store().list_runs(study="paged-slurm").iloc[0]
    assert run["executor"] == "slurm" and run["job_id"]
    at = open_page("pages/2_Runs.py")
    assert "SLURM job" in at.dataframe[0].value.columns
    by_label(at.selectbox, "Run to inspect").set_value(run["id"]).run()
    assert any(f"SLURM job {run['job_id']}:" in c.value for c in at.caption)
    by_label(at.button, "Cancel").click().run()                  # the run and its job (scancel)
    assert not at.exception
    assert Store().get_run(run["id"])["status"] == "cancelled"
    from dcpoc.runs.executors import reconcile
    wait_for(lambda: reconcile(Store()) is not None and
             Store().get_run(run["id"])["job_state"] == "CANCELLED", timeout=30, every=0.5)


def test_run_pickers_share_one_label_and_name_the_study_where_they_mix_studies():
    import pandas as pd
    from dcpoc.ui import page as ui
    runs = pd.DataFrame({"id": ["ra", "rb"], "arch": ["dcformer", "transformer"], "preset": ["tiny"] * 2,
                         "seed": [1, 2], "study": ["st", None], "variant": ["dcformer", "transformer-qknorm"]})
    assert ui.run_labels(runs, "en") == {"ra": "ra · DCFormer · tiny · Seed 1",
                                         "rb": "rb · Transformer++ + QK-norm · tiny · Seed 2"}
    assert ui.run_labels(runs, "ja", study=True)["ra"] == "ra · DCFormer · tiny · シード 1 · st"
    assert ui.run_labels(runs, "en", study=True)["rb"].endswith("Seed 2")
