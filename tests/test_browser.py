"""The dashboard in a real browser: `streamlit run app.py` on a free port with a temporary database,
Debian's chromium driven by Playwright. Launch a tiny study, watch it finish on the Runs page without
reloading, see the Compare charts drawn, cancel a long run. Screenshots of every page land in the
test's tmp folder."""
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from dcpoc.runs.store import Store

from conftest import REPO_ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="needs Debian's chromium at /usr/bin/chromium "
                              "(apt-get install -y chromium)"),
    pytest.mark.timeout(300),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (requirements.txt)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path, monkeypatch):
    """The dashboard on a free localhost port; yields its base URL. Stops the server and any
    worker it started (they are registered in this test's own database)."""
    home = tmp_path / "home"
    monkeypatch.setenv("DCPOC_HOME", str(home))
    monkeypatch.setenv("DCPOC_DB", f"sqlite:///{home / 'dcpoc.db'}")
    for name in ("DCPOC_PASSWORD", "DCPOC_NO_AUTOWORKER", "DCPOC_DATA_DIRS"):
        monkeypatch.delenv(name, raising=False)
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1"}
    log = open(tmp_path / "streamlit.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py",
                             "--server.headless", "true", "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
                            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, \
                    (tmp_path / "streamlit.log").read_text()
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        for worker in Store().list_workers().to_dict("records"):
            try:
                os.killpg(int(worker["pid"]), signal.SIGTERM)   # the worker leads its own session
            except OSError:
                pass


@pytest.fixture
def page(tmp_path):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(60_000)
        yield page
        browser.close()


def idle(page) -> None:
    """Wait until Streamlit has finished the current script run."""
    page.wait_for_timeout(300)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden")


def shoot(page, tmp_path: Path, name: str) -> None:
    """Streamlit scrolls inside its own container, so a tall window shows the whole page."""
    page.set_viewport_size({"width": 1400, "height": 2400})
    idle(page)
    page.wait_for_timeout(500)
    page.screenshot(path=str(tmp_path / "screenshots" / f"{name}.png"))
    page.set_viewport_size({"width": 1400, "height": 1000})


def launch_study(page, url: str, name: str, steps: int, archs_keep: int = 2) -> None:
    page.goto(f"{url}/Launch?lang=en")
    page.get_by_role("textbox", name="Study name", exact=True).fill(name)
    page.get_by_role("textbox", name="Study name", exact=True).press("Enter")
    idle(page)
    page.get_by_role("textbox", name="Seeds", exact=True).fill("1")
    page.get_by_role("textbox", name="Seeds", exact=True).press("Enter")
    idle(page)
    if archs_keep == 1:   # drop Transformer++ from the multiselect
        page.get_by_role("button", name="Remove Transformer++").click()
        idle(page)
    page.get_by_role("spinbutton", name="Steps per run", exact=True).fill(str(steps))
    page.get_by_role("spinbutton", name="Steps per run", exact=True).press("Enter")
    idle(page)
    page.get_by_role("button", name="Launch study").click()
    page.get_by_text(f"runs of study “{name}”").wait_for()


def test_launch_watch_compare_cancel_in_a_browser(server, page, tmp_path):
    (tmp_path / "screenshots").mkdir()
    page.goto(f"{server}/?lang=en")
    page.get_by_text("No runs yet").wait_for()
    shoot(page, tmp_path, "1-home-empty")

    launch_study(page, server, "browser-study", steps=10)
    assert "$" in page.get_by_test_id("stMetricValue").nth(3).inner_text()   # the cost estimate
    shoot(page, tmp_path, "2-launch")
    page.get_by_role("link", name="Watch them on the Runs page").click()
    # The page is not reloaded from here on: the live fragment shows the runs finish.
    page.locator('[role="gridcell"]', has_text="browser-study").first.wait_for(state="attached")
    page.get_by_role("heading", name="succeeded, step 10 of 10").wait_for(timeout=120_000)
    store = Store()
    deadline = time.monotonic() + 60
    while set(store.list_runs(study="browser-study")["status"]) != {"succeeded"}:
        assert time.monotonic() < deadline, store.list_runs()[["id", "status", "error"]]
        time.sleep(1)
    page.get_by_role("tab", name="Log").click()
    shoot(page, tmp_path, "3-runs")

    page.goto(f"{server}/Compare?lang=en")
    charts = page.locator(".vega-embed canvas, .vega-embed svg.marks")
    charts.nth(3).wait_for()                     # the first tab's curves, 2 bar charts, Pareto
    assert charts.count() >= 4
    shoot(page, tmp_path, "4-compare")

    launch_study(page, server, "long-study", steps=100_000, archs_keep=1)
    long_id = store.list_runs(study="long-study")["id"].iloc[0]
    page.goto(f"{server}/Runs?lang=en&study=long-study")
    page.get_by_role("heading", name=f"Run {long_id}: running").wait_for(timeout=90_000)
    page.get_by_role("button", name="Cancel").click()
    page.get_by_role("heading", name=f"Run {long_id}: cancelled").wait_for(timeout=60_000)
    assert store.get_run(long_id)["status"] == "cancelled"
    shoot(page, tmp_path, "5-runs-cancelled")

    page.goto(f"{server}/?lang=en")
    page.get_by_text("Next step: run cpu-xs").wait_for()         # the verdict card's plan
    page.get_by_role("link", name="Report", exact=True).first.click()
    button = page.get_by_role("button", name=re.compile(r"^Download \S+-en\.md$"))
    button.wait_for()
    idle(page)
    with page.expect_download() as info:
        button.click()
    saved = tmp_path / "report.md"
    info.value.save_as(saved)
    text = saved.read_text()
    assert info.value.suggested_filename.endswith(".md")
    assert "Insufficient evidence" in text and "Next step: run cpu-xs" in text
    assert "Phrases for the meeting" in text

    page.goto(f"{server}/?lang=ja")
    page.get_by_text("根拠不足：まだ判定できません").wait_for()   # a tiny one-size study: honest
    shoot(page, tmp_path, "6-home-ja")
    page.goto(f"{server}/Settings?lang=ja")
    page.get_by_text("デバイス 1 時間あたりの価格（USD）").wait_for()
    shoot(page, tmp_path, "7-settings-ja")
    assert len(list((tmp_path / "screenshots").glob("*.png"))) == 7


@pytest.fixture
def recorded_bundle(trained_home, tmp_path, monkeypatch):
    """A bundle of conftest's real tiny study s1, offered as the reference study (set before the
    server starts: it reads DCPOC_REFERENCE_BUNDLE)."""
    from dcpoc.runs.bundle import export_study
    source = Store(f"sqlite:///{trained_home / 'dcpoc.db'}")
    path = tmp_path / "s1.dcpoc-study.json.gz"
    recorded = export_study(source, "s1", path)["recorded"]
    monkeypatch.setenv("DCPOC_REFERENCE_BUNDLE", str(path))
    return source, recorded


def test_empty_dashboard_imports_the_recorded_study_in_a_browser(recorded_bundle, server, page,
                                                                   tmp_path):
    """An empty database: the Overview offers the shipped study, one click imports it, and the
    verdict shows at once, labelled as recorded results with their date and machine."""
    from dcpoc import report
    from dcpoc.decision import load_decision
    (tmp_path / "screenshots").mkdir()
    store, recorded = recorded_bundle
    source = load_decision(store, "s1")
    page.goto(f"{server}/?lang=en")
    button = page.get_by_role("button", name="Import the recorded reference study (s1, 4 runs")
    button.wait_for()
    shoot(page, tmp_path, "1-home-offer")
    button.click()
    page.get_by_text(report.verdict_line(source.decision, "en")).wait_for()
    page.get_by_text(f"measured on {recorded['date']} on the host {recorded['machine']}").first.wait_for()
    shoot(page, tmp_path, "2-home-imported")
    assert set(Store().list_runs()["id"]) == set(store.list_runs(study="s1")["id"])
    page.goto(f"{server}/Decision?lang=ja")
    page.get_by_text("記録済みの結果をインポートしたものです").first.wait_for()
    page.get_by_text(report.verdict_line(source.decision, "ja")).wait_for()
    shoot(page, tmp_path, "3-decision-ja")


@pytest.fixture
def shipped_bundle(tmp_path, monkeypatch):
    """The reference study shipped in benchmarks/ (the default offer: no override), and a store
    it was imported into apart from the server's, to know the verdict the page must show."""
    from dcpoc.runs.bundle import REFERENCE_BUNDLE, import_study
    monkeypatch.delenv("DCPOC_REFERENCE_BUNDLE", raising=False)
    assert REFERENCE_BUNDLE.is_file(), f"{REFERENCE_BUNDLE} is shipped with the repository"
    expected = Store(f"sqlite:///{tmp_path / 'expected.db'}")
    import_study(expected, REFERENCE_BUNDLE)
    return expected


def test_the_shipped_reference_study_imports_in_a_browser(shipped_bundle, server, page, tmp_path):
    """The study measured for this release: one click on an empty Overview, then its verdict and
    its attribution (QK-norm part, DCMHA part) on the Decision page, in both languages."""
    from dcpoc import report
    from dcpoc.decision import load_decision
    (tmp_path / "screenshots").mkdir()
    source = load_decision(shipped_bundle, "reference-cpu")
    n_runs = len(shipped_bundle.list_runs(study="reference-cpu"))
    page.goto(f"{server}/?lang=en")
    page.get_by_role("button", name=f"Import the recorded reference study (reference-cpu, {n_runs} runs").click()
    page.get_by_text(report.verdict_line(source.decision, "en")).wait_for()
    shoot(page, tmp_path, "1-home-reference")
    assert len(Store().list_runs(study="reference-cpu")) == n_runs == 45
    page.goto(f"{server}/Decision?lang=en")
    page.get_by_text(report.verdict_line(source.decision, "en")).wait_for()
    page.get_by_text("QK-norm").first.wait_for()
    shoot(page, tmp_path, "2-decision-reference")
    page.goto(f"{server}/Decision?lang=ja")
    page.get_by_text(report.verdict_line(source.decision, "ja")).wait_for()
    shoot(page, tmp_path, "3-decision-reference-ja")


# Per st.table: its width, its area's, and how many lines each header takes (a Range's client
# rects: one per line box).
TABLE_LAYOUT_JS = """() => [...document.querySelectorAll('[data-testid="stTable"]')].map(box => ({
    area: box.clientWidth,
    table: box.querySelector('table').getBoundingClientRect().width,
    headers: Object.fromEntries([...box.querySelectorAll('th p')].map(p => {
        const range = document.createRange();
        range.selectNodeContents(p);
        return [p.textContent, range.getClientRects().length];
    }))}))"""


def test_decision_tables_keep_japanese_words_whole_and_fit_in_a_browser(server, page):
    """The reference study's Decision page in Japanese: at 1280 px 「モデルサイズ」 heads its
    columns on one line (it broke as モデルサイ / ズ), and at 1280 and 800 px no table is wider
    than its area (the area clips: a wider table would hide its last columns)."""
    from dcpoc.runs.bundle import REFERENCE_BUNDLE, import_study
    import_study(Store(), REFERENCE_BUNDLE)   # the server's database, before its first page
    page.set_viewport_size({"width": 1280, "height": 1000})
    page.goto(f"{server}/Decision?lang=ja")
    page.get_by_test_id("stTable").nth(4).wait_for()   # the gap table, the page's last
    idle(page)
    for width in (1280, 800):
        page.set_viewport_size({"width": width, "height": 1000})
        tables = page.evaluate(TABLE_LAYOUT_JS)
        assert len(tables) == 5
        for table in tables:
            assert table["table"] <= table["area"] + 0.5, (width, table)
        if width == 1280:
            lines = [t["headers"]["モデルサイズ"] for t in tables if "モデルサイズ" in t["headers"]]
            assert lines and set(lines) == {1}, tables
