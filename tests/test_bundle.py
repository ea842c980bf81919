"""`study export` / `study import`: a study as one file, round-tripped through real SQLite files (and
PostgreSQL when DCPOC_TEST_PG_URL is set) with real tiny runs; clashes, damaged files and newer
formats each give one line and change nothing; the empty Overview offers the shipped bundle."""
import gzip
import io
import json
import math

import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from dcpoc.runs.bundle import VERSION, BundleError, export_study, import_study, read_bundle
from dcpoc.runs.store import Store

from conftest import open_page, run_cli
from conftest import needs_pg

STUDY = "s1"   # conftest's trained_home: tiny runs, 2 seeds x 2 architectures


@pytest.fixture
def source(trained_copy):
    """The trained study, with a NaN and an inf metric so the nonfinite flags travel too."""
    run_id = trained_copy.list_runs(study=STUDY)["id"].iloc[0]
    trained_copy.log_metrics(run_id, [{"step": 1, "key": "probe", "value": math.nan},
                                      {"step": 2, "key": "probe", "value": math.inf}])
    return trained_copy


@pytest.fixture
def bundle(source, tmp_path):
    path = tmp_path / f"{STUDY}.dcpoc-study.json.gz"
    export_study(source, STUDY, path)
    return path


def table_rows(url: str) -> dict[str, list[tuple]]:
    """Every row of the tables a bundle carries (ids of auto-numbered rows left out)."""
    engine = create_engine(url)
    queries = {"studies": "SELECT name, question, created_at FROM studies ORDER BY name",
               "runs": "SELECT * FROM runs ORDER BY id",
               "metrics": "SELECT run_id, step, key, value, finite, nonfinite, tokens, wall_s "
                          "FROM metrics ORDER BY run_id, key, step",
               "benchmarks": "SELECT kind, created_at, machine, result_json FROM benchmarks"}
    with engine.connect() as conn:
        rows = {name: [tuple(r) for r in conn.execute(text(q))] for name, q in queries.items()}
    engine.dispose()
    return rows


def stored(store: Store) -> dict:
    """The study as the Store returns it (the same shapes on SQLite and PostgreSQL)."""
    runs = store.list_runs(study=STUDY).sort_values("id", ignore_index=True)
    study = {k: v for k, v in store.get_study(STUDY).items() if k != "id"}
    study["config"] = {k: v for k, v in study["config"].items() if k != "recorded"}
    return {"study": study, "runs": runs, "metrics": store.get_metrics(list(runs["id"])),
            "benchmarks": [{k: v for k, v in b.items() if k != "id"}
                           for b in store.list_benchmarks("infer")]}


def check_round_trip(source: Store, target_url: str, bundle) -> None:
    target = Store(target_url)
    summary = import_study(target, bundle)
    assert summary["study"] == STUDY and summary["n_runs"] == 4
    got, want = stored(target), stored(source)
    assert got["study"] == want["study"] and got["benchmarks"] == want["benchmarks"]
    pd.testing.assert_frame_equal(got["runs"], want["runs"])
    pd.testing.assert_frame_equal(got["metrics"], want["metrics"])
    assert len(got["metrics"]) == summary["n_metrics"] and len(got["runs"].columns) > 40
    probe = got["metrics"][got["metrics"]["key"].eq("probe")]
    assert list(probe["finite"]) == [False, False] and list(probe["nonfinite"]) == ["nan", "inf"]
    recorded = target.get_study(STUDY)["config"]["recorded"]
    assert recorded["machine"] and recorded["date"]


def test_round_trip_into_an_empty_sqlite_keeps_every_row(source, bundle, tmp_path):
    check_round_trip(source, f"sqlite:///{tmp_path / 'empty.db'}", bundle)


@needs_pg
def test_round_trip_into_postgresql_keeps_every_row(source, bundle, pg_url):  # noqa: F811
    check_round_trip(source, pg_url, bundle)


def test_the_newest_inference_benchmark_travels_with_the_study(source, tmp_path):
    from dcpoc import bench_infer
    result = bench_infer.bench_infer("tiny", 4, "cpu", rounds=1)   # real, small: the Compare page's table
    source.add_benchmark("infer", result)
    # A newer result from another device is not this study's: it stays behind.
    source.add_benchmark("infer", {**result, "machine": {**result["machine"], "device": "NVIDIA H100"}})
    path = tmp_path / "with-bench.dcpoc-study.json.gz"
    export_study(source, STUDY, path)
    target = Store(f"sqlite:///{tmp_path / 'empty.db'}")
    import_study(target, path)
    assert [b["result"] for b in target.list_benchmarks("infer")] == [result]


def test_imported_study_decides_and_reports_as_recorded(source, bundle, tmp_path):
    from dcpoc import report
    from dcpoc.decision import load_decision
    target = Store(f"sqlite:///{tmp_path / 'empty.db'}")
    import_study(target, bundle)
    mine, theirs = load_decision(source, STUDY), load_decision(target, STUDY)
    assert theirs.decision.verdict == mine.decision.verdict
    assert theirs.recorded and mine.recorded is None
    assert theirs.val_tokens == mine.val_tokens == ((4096, theirs.val_tokens[0][1]),)
    text = report.render(theirs, "md", "en").decode()
    assert f"measured on {theirs.recorded['date']} on the host {theirs.recorded['machine']}" in text
    assert "same fixed sample of 4,096 tokens" in text
    # the recorded note comes before the first section: the deck had no slide for it (a crash)
    from pptx import Presentation
    deck = Presentation(io.BytesIO(report.render(theirs, "pptx", "ja")))
    title_slide = " ".join(shape.text_frame.text for shape in deck.slides[0].shapes if shape.has_text_frame)
    assert report.recorded_text(theirs.recorded, "ja") in title_slide     # the machine in Japanese
    assert all(s.top + s.height <= deck.slide_height for s in deck.slides[0].shapes)


@pytest.mark.parametrize("damage, message", [
    (lambda raw: raw[: len(raw) // 2], "not gzip or cut short"),
    (lambda raw: b"PK\x03\x04 a zip, not a bundle", "not gzip"),
    (lambda raw: gzip.compress(b'{"format": "dcpoc-study", "ver'), "not JSON"),
    (lambda raw: gzip.compress(json.dumps({"format": "dcpoc-study", "version": 1}).encode()),
     "missing study, runs"),
    (lambda raw: gzip.compress(json.dumps({"hello": 1}).encode()), "no 'dcpoc-study' format mark"),
], ids=["truncated", "not-gzip", "bad-json", "missing-keys", "no-format"])
def test_damaged_file_is_one_line_and_changes_nothing(bundle, tmp_path, damage, message):
    target = Store(f"sqlite:///{tmp_path / 'target.db'}")
    before = table_rows(target.url)
    broken = tmp_path / "broken.dcpoc-study.json.gz"
    broken.write_bytes(damage(bundle.read_bytes()))
    with pytest.raises(BundleError) as e:
        import_study(target, broken)
    assert message in str(e.value) and "\n" not in str(e.value) and "export it again" in str(e.value)
    assert table_rows(target.url) == before


def edited(bundle, tmp_path, change) -> object:
    data = json.loads(gzip.decompress(bundle.read_bytes()))
    change(data)
    path = tmp_path / "edited.dcpoc-study.json.gz"
    path.write_bytes(gzip.compress(json.dumps(data).encode()))
    return path


def test_an_imported_study_has_no_stage_left_for_a_worker_to_queue(bundle, tmp_path):
    """Recorded results stay as recorded: a stage still waiting in the exporting database (a sweep
    that ended blocked) is not queued by the importing database's worker."""
    from dcpoc.runs.stages import advance_stages
    path = edited(bundle, tmp_path, lambda d: d["study"]["config"].update(
        later_stage="waiting", confirm_stage="waiting", confirm_seeds=[11]))
    target = Store(f"sqlite:///{tmp_path / 'target.db'}")
    import_study(target, path)
    config = target.get_study(STUDY)["config"]
    assert (config["later_stage"], config["confirm_stage"]) == ("none", "none")
    assert advance_stages(target) == ([], False) and len(target.list_runs()) == 4


def test_unreadable_path_is_one_line(tmp_path):
    target = Store(f"sqlite:///{tmp_path / 'target.db'}")
    with pytest.raises(BundleError, match="^cannot read .*give a readable"):
        import_study(target, tmp_path)                       # a folder, not a file
    with pytest.raises(BundleError, match="^no file .*missing"):
        import_study(target, tmp_path / "missing.dcpoc-study.json.gz")


def test_newer_format_asks_to_upgrade_and_changes_nothing(bundle, tmp_path):
    target = Store(f"sqlite:///{tmp_path / 'target.db'}")
    before = table_rows(target.url)
    newer = edited(bundle, tmp_path, lambda d: d.update(version=VERSION + 1))
    with pytest.raises(BundleError, match=f"format version {VERSION + 1}, newer .* upgrade dcpoc"):
        import_study(target, newer)
    assert table_rows(target.url) == before


def test_a_bad_row_is_damage_and_changes_nothing(bundle, tmp_path):
    target = Store(f"sqlite:///{tmp_path / 'target.db'}")
    before = table_rows(target.url)
    bad = edited(bundle, tmp_path, lambda d: d["metrics"].append(["r-unknown", 1, "x", 1.0, True,
                                                                  None, 1, 1.0]))
    with pytest.raises(BundleError, match="bad row.*a metric of a run not in the bundle"):
        import_study(target, bad)
    assert table_rows(target.url) == before


@pytest.mark.parametrize("edit, says", [
    (lambda run: run.update(config_json="{bad"), "its config is not a JSON object"),
    (lambda run: run.update(final_val_loss="abc"), "final_val_loss is str 'abc'"),
    (lambda run: run.update(status="running"), "status 'running' (a bundle holds finished runs only)"),
    (lambda run: run.pop("arch"), "no arch"),
    (lambda run: run.update(seed=True), "seed is bool"),
    (lambda run: run.update(status=None), "status None (a bundle holds finished runs only)"),
    # another arch silently left the verdict's pairs; 10**30 failed inside the INSERT
    (lambda run: run.update(arch="gpt"), "arch 'gpt' (one of transformer, dcformer)"),
    (lambda run: run.update(step=-5), "step -5 outside 0 to total_steps"),
    (lambda run: run.update(step=10**30), "step 1000000000000000000000000000000 is out of range"),
])
def test_a_hand_edited_run_is_refused_by_name_and_changes_nothing(bundle, tmp_path, edit, says):
    """A run whose config was not JSON imported, and then every listing of the database failed on
    it; a text loss failed inside the INSERT with pages of SQL. Each is refused in one line."""
    target = Store(f"sqlite:///{tmp_path / 'target.db'}")
    before = table_rows(target.url)
    bad = edited(bundle, tmp_path, lambda d: edit(d["runs"][0]))
    with pytest.raises(BundleError) as refused:
        import_study(target, bad)
    message = str(refused.value)
    assert says in message and "bad row" in message and "\n" not in message
    assert table_rows(target.url) == before and target.list_runs().empty


def _duplicate_first_run(d):
    d["runs"].append(dict(d["runs"][0]))


@pytest.mark.parametrize("edit, says", [
    (lambda d: d["study"].update(name=""), "study name '': the study needs a name"),
    (lambda d: d["study"].update(name="z" * 500), "use at most 200"),
    (_duplicate_first_run, "appears twice"),
    (lambda d: d["metrics"].append(list(d["metrics"][0])), "a metric row (run, step, key) appears twice"),
    (lambda d: d.update(study=5), "its study is int, not dict"),
    (lambda d: d.update(metrics={"a": 1}), "its metrics is dict, not list"),
])
def test_a_hand_edited_bundle_is_refused_in_words_and_changes_nothing(bundle, tmp_path, edit, says):
    """A study name the CLI refuses (every later runs table padded to 500 characters), a run twice
    (the database's UNIQUE error said 'retry'), a study that is not an object (raw Python text)."""
    target = Store(f"sqlite:///{tmp_path / 'target.db'}")
    before = table_rows(target.url)
    with pytest.raises(BundleError) as refused:
        import_study(target, edited(bundle, tmp_path, edit))
    assert says in str(refused.value) and "\n" not in str(refused.value)
    assert table_rows(target.url) == before


def test_a_long_study_name_from_an_older_database_still_imports(bundle, tmp_path):
    """`train --study` took 90 characters before it checked names: such a study's export must still
    import (up to the column's 200), and a new run may not make another one."""
    target = Store(f"sqlite:///{tmp_path / 'target.db'}")
    import_study(target, edited(bundle, tmp_path, lambda d: d["study"].update(name="n" * 90)))
    assert target.get_study("n" * 90) is not None
    done = run_cli("train", "--arch", "transformer", "--preset", "tiny", "--steps", "1", "--study", "m" * 90,
                   env={"DCPOC_DB": f"sqlite:///{tmp_path / 'other.db'}"})
    assert done.returncode == 2 and "use at most 80" in done.stderr and done.stderr.count("\n") == 1


def test_a_metric_that_is_not_a_number_is_refused_by_run(bundle, tmp_path):
    target = Store(f"sqlite:///{tmp_path / 'target.db'}")

    def text_value(d):
        value = d["metric_columns"].index("value") if "metric_columns" in d else 3
        d["metrics"][0][value] = "abc"
    with pytest.raises(BundleError, match=r"bad row: ValueError run \w+: a metric row .* is not a number"):
        import_study(target, edited(bundle, tmp_path, text_value))
    assert target.list_runs().empty


def test_a_bundle_without_runs_is_refused(bundle, tmp_path):
    target = Store(f"sqlite:///{tmp_path / 'target.db'}")
    with pytest.raises(BundleError, match="it holds no runs"):
        import_study(target, edited(bundle, tmp_path, lambda d: d.update(runs=[], metrics=[])))


def test_clash_of_study_name_or_run_id_changes_nothing(bundle, tmp_path):
    target = Store(f"sqlite:///{tmp_path / 'target.db'}")
    import_study(target, bundle)
    before = table_rows(target.url)
    with pytest.raises(BundleError, match=f"study '{STUDY}' already exists"):
        import_study(target, bundle)
    renamed = edited(bundle, tmp_path, lambda d: d["study"].update(name="other"))
    with pytest.raises(BundleError, match=r"run id\(s\) r\w+(, r\w+)* of \S*edited.* already exist"):
        import_study(target, renamed)
    assert table_rows(target.url) == before and target.get_study("other") is None


def test_export_refuses_unknown_or_unfinished_studies(source, tmp_path):
    with pytest.raises(BundleError, match="no study named 'nope'"):
        export_study(source, "nope", tmp_path / "x.gz")
    source.create_run(arch="dcformer", preset="tiny", config={}, seed=9, corpus_spec="pydoc",
                      study=STUDY)   # queued
    with pytest.raises(BundleError, match="still has 1 queued or running runs"):
        export_study(source, STUDY, tmp_path / "x.gz")
    assert not (tmp_path / "x.gz").exists()


def test_reexport_keeps_the_original_recorded_label(bundle, tmp_path):
    target = Store(f"sqlite:///{tmp_path / 'target.db'}")
    import_study(target, bundle)
    again = tmp_path / "again.dcpoc-study.json.gz"
    export_study(target, STUDY, again)
    assert read_bundle(again)["recorded"] == read_bundle(bundle)["recorded"]


def test_cli_export_and_import(trained, tmp_path):
    out = tmp_path / "s1.dcpoc-study.json.gz"
    done = run_cli("study", "export", "--study", STUDY, "--out", str(out))
    assert done.returncode == 0 and "4 runs" in done.stdout, done.stderr
    env = {"DCPOC_DB": f"sqlite:///{tmp_path / 'fresh.db'}"}
    done = run_cli("study", "import", str(out), env=env)
    assert done.returncode == 0 and f"imported study '{STUDY}': 4 runs" in done.stdout, done.stderr
    listed = run_cli("study", "list", env=env)
    assert listed.returncode == 0 and "recorded results (imported): measured" in listed.stdout
    done = run_cli("study", "import", str(out), env=env)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "already exists" in done.stderr
    # a run of this machine is not added to results measured elsewhere
    env_home = {**env, "DCPOC_HOME": str(tmp_path / "home")}
    done = run_cli("train", "--arch", "transformer", "--preset", "tiny", "--steps", "2", "--study", STUDY,
                   env=env_home)
    assert done.returncode == 2 and "holds recorded results" in done.stderr, done.stderr
    assert "4 runs" in run_cli("study", "list", env=env).stdout
    done = run_cli("study", "import", str(tmp_path / "missing.gz"), env=env)
    assert done.returncode == 2 and done.stderr.startswith("error: no file")


def test_empty_overview_offers_the_reference_bundle(bundle, tmp_path, monkeypatch, fresh_caches):
    home = tmp_path / "empty-home"
    monkeypatch.setenv("DCPOC_HOME", str(home))
    monkeypatch.setenv("DCPOC_DB", f"sqlite:///{home / 'dcpoc.db'}")
    monkeypatch.setenv("DCPOC_REFERENCE_BUNDLE", str(bundle))
    at = open_page("app.py")
    button = [b for b in at.button if b.label.startswith("Import the recorded reference study")]
    assert button and f"({STUDY}, 4 runs," in button[0].label
    button[0].click().run()
    assert not at.exception, at.exception
    assert [s for s in at.info if "Recorded results, imported" in s.value]
    assert Store().get_study(STUDY)["config"]["recorded"]
    for page in ("pages/2_Runs.py", "pages/3_Compare.py", "pages/6_Decision.py",
                 "pages/7_Report.py"):
        at = open_page(page)
        assert [s for s in at.info if "Recorded results, imported" in s.value], page


def test_no_offer_without_the_bundle_file(tmp_path, monkeypatch, fresh_caches):
    home = tmp_path / "empty-home"
    monkeypatch.setenv("DCPOC_HOME", str(home))
    monkeypatch.setenv("DCPOC_DB", f"sqlite:///{home / 'dcpoc.db'}")
    monkeypatch.setenv("DCPOC_REFERENCE_BUNDLE", str(tmp_path / "absent.dcpoc-study.json.gz"))
    at = open_page("app.py")
    assert not [b for b in at.button if b.label.startswith("Import the recorded")]
    assert [s for s in at.info if "No runs yet" in s.value]


def test_report_and_export_write_next_to_the_user_without_out(trained, tmp_path):
    """The README's `report --study NAME --format md` and `study export --study NAME` failed
    ('--out is required'): both now write STUDY-LANG.FORMAT / STUDY.dcpoc-study.json.gz here."""
    import os
    import subprocess
    import sys

    from conftest import REPO_ROOT
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    for args, written in ((["report", "--study", STUDY, "--lang", "ja"], f"{STUDY}-ja.md"),
                          (["study", "export", "--study", STUDY], f"{STUDY}.dcpoc-study.json.gz")):
        done = subprocess.run([sys.executable, "-m", "dcpoc", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0 and (tmp_path / written).stat().st_size > 0, done.stderr
        assert written in done.stdout
