"""A study as one file: `python -m dcpoc study export` writes it, `study import` reads it into any
database, so a new user sees a real verdict in the first minute instead of after an hour of training.

The bundle is gzip'd JSON: a format name and version, the study row (its config carries the
'recorded' label: when and on which machine the results were measured), every run row with all
its columns (ids kept), every metric row with its finite / nonfinite flags, the newest benchmark
of each kind the pages show measured on the runs' device, the corpora's fingerprints, and when and
where it was exported.
An import is one transaction: a clash (the study's name or a run id already present), a damaged
file or a bundle of a newer format is one line of BundleError and leaves the database unchanged.
"""
from __future__ import annotations

import gzip
import json
import math
import os
import platform
import zlib
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from ..config import ARCHS, ConfigError
from ..studies.spec import validate_name
from .engine import StoreError
from .schema import Benchmark, Metric, Run, Study, UTCDateTime
from .status import ACTIVE, Status
from .store import Store

FORMAT = "dcpoc-study"
VERSION = 1                       # bump when a reader of the old version would misread a new file
SUFFIX = ".dcpoc-study.json.gz"
REFERENCE_BUNDLE_ENV = "DCPOC_REFERENCE_BUNDLE"   # the bundle the empty Overview offers
REFERENCE_BUNDLE = Path(__file__).resolve().parents[2] / "benchmarks" / f"reference-cpu{SUFFIX}"
BENCHMARK_KINDS = ("infer",)      # the kinds a page shows (the newest on the study's devices)
_KEYS = ("study", "runs", "metrics", "benchmarks", "corpora", "recorded", "exported_at")
_RUN_COLUMNS = {c.key: c for c in Run.__table__.columns}
_METRIC_COLUMNS = [c.key for c in Metric.__table__.columns if c.key != "id"]


class BundleError(StoreError):
    """A study bundle that cannot be written or read; str() is one line naming what to do."""


def reference_bundle() -> Path:
    """The shipped reference study's bundle (``$DCPOC_REFERENCE_BUNDLE`` overrides the path)."""
    return Path(os.environ.get(REFERENCE_BUNDLE_ENV) or REFERENCE_BUNDLE)


# ----------------------------------------------------------------------------- export
def export_study(store: Store, name: str, path: str | Path) -> dict:
    """Write study ``name`` with its runs, metrics and benchmarks to ``path``; its summary
    (study, n_runs, n_metrics, recorded). Refuses a study that still has queued or running runs."""
    study = store.get_study(name)
    if study is None:
        raise BundleError(f"no study named '{name}' in {store.url}; "
                          "`python -m dcpoc study list` shows the studies")
    with store.session() as session:
        runs = session.scalars(select(Run).where(Run.study_id == study["id"])
                               .order_by(Run.created_at, Run.id)).all()
        active = [r.id for r in runs if r.status in ACTIVE]
        if active:
            raise BundleError(f"study '{name}' still has {len(active)} queued or running runs "
                              f"({', '.join(active[:3])}); export it when they have finished")
        run_rows = [{key: _to_json(getattr(r, key)) for key in _RUN_COLUMNS} for r in runs]
        ids = [r["id"] for r in run_rows]
        metrics = session.execute(select(*(getattr(Metric, c) for c in _METRIC_COLUMNS))
                                  .where(Metric.run_id.in_(ids))
                                  .order_by(Metric.run_id, Metric.key, Metric.step)).all()
        metric_rows = [[_to_json(v) for v in row] for row in metrics]
    recorded = study["config"].get("recorded") or _recorded(run_rows, study)
    bundle = {
        "format": FORMAT, "version": VERSION,
        "study": {"name": study["name"], "question": study["question"],
                  "created_at": _to_json(study["created_at"]),
                  "config": {**study["config"], "recorded": recorded}},
        "runs": run_rows, "metric_columns": _METRIC_COLUMNS, "metrics": metric_rows,
        "benchmarks": _benchmarks(store, {r["device"] for r in run_rows}),
        "corpora": sorted({(r["corpus_spec"], r["corpus_fingerprint"]) for r in run_rows}),
        "recorded": recorded, "exported_at": _to_json(datetime.now(timezone.utc)),
        "exported_on": platform.node()}
    data = gzip.compress(json.dumps(bundle, separators=(",", ":")).encode())
    try:
        Path(path).write_bytes(data)
    except OSError as e:
        raise BundleError(f"cannot write {path} ({e.strerror}); choose a writable --out path") from e
    return {"study": name, "n_runs": len(run_rows), "n_metrics": len(metric_rows),
            "recorded": recorded, "path": str(path), "bytes": len(data)}


def _recorded(runs: list[dict], study: dict) -> dict:
    """When (the last run's finish) and where (devices and hosts) the results were measured."""
    finished = sorted(r["finished_at"] for r in runs if r["finished_at"])
    devices = sorted({r["device"] for r in runs if r["device"]})
    hosts = sorted({r["host"] for r in runs if r["host"]})
    detail = ", ".join(devices) or "?"
    if "cpu" in devices and platform.node() in hosts:   # exported where it ran: name the CPU
        detail += f", {_cpu_model()}, {os.cpu_count()} cores"
    machine = f"{', '.join(hosts) or '?'} ({detail})"
    date = finished[-1] if finished else _to_json(study["created_at"])
    return {"date": date[:10], "machine": machine}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return " ".join(line.split(":", 1)[1].split())
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _benchmarks(store: Store, devices: set[str]) -> list[dict]:
    """The newest benchmark of each kind the pages show, when it was measured on a device the
    study's runs trained on (a GPU's speeds say nothing about a CPU study)."""
    out = []
    for kind in BENCHMARK_KINDS:
        for b in store.list_benchmarks(kind):
            machine = b["result"].get("machine") if isinstance(b["result"], dict) else None
            if isinstance(machine, dict) and machine.get("device") in devices:
                out.append({"kind": b["kind"], "created_at": _to_json(b["created_at"]),
                            "machine": b["machine"], "result": b["result"]})
                break
    return out


def _to_json(value: Any) -> Any:
    """A column value as JSON: datetimes as ISO UTC text, non-finite floats as None (the
    database already holds them as NULL with a flag)."""
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# ----------------------------------------------------------------------------- import
def read_bundle(path: str | Path) -> dict:
    """The bundle in ``path``, checked: BundleError for a missing, damaged or newer file."""
    shown = str(path)     # as the user gave it: the messages' commands must work as written
    damaged = (f"{shown} is not a readable dcpoc study bundle ({{}}); export it again with "
               "`python -m dcpoc study export`")
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise BundleError(f"no file {path}; give the path of a {SUFFIX} file") from None
    except OSError as e:
        raise BundleError(f"cannot read {path} ({e.strerror}); give a readable {SUFFIX} file") from None
    try:
        bundle = json.loads(gzip.decompress(raw))
    except (OSError, EOFError, zlib.error) as e:
        raise BundleError(damaged.format(f"not gzip or cut short: {e}")) from None
    except (ValueError, UnicodeDecodeError) as e:
        raise BundleError(damaged.format(f"not JSON: {str(e)[:80]}")) from None
    if not isinstance(bundle, dict) or bundle.get("format") != FORMAT:
        raise BundleError(damaged.format(f"no '{FORMAT}' format mark"))
    version = bundle.get("version")
    if not isinstance(version, int):
        raise BundleError(damaged.format("no format version"))
    if version > VERSION:
        raise BundleError(f"{shown} has bundle format version {version}, newer than this dcpoc "
                          f"reads ({VERSION}); upgrade dcpoc (git pull; pip install -r "
                          "requirements.txt) and import it again")
    missing = [k for k in _KEYS if k not in bundle]
    if missing:
        raise BundleError(damaged.format(f"missing {', '.join(missing)}"))
    return bundle


def import_study(store: Store, path: str | Path) -> dict:
    """Import the bundle in ``path`` into ``store`` in one transaction, keeping its run ids and
    study name; its summary (study, n_runs, n_metrics, recorded). Nothing is written on error."""
    bundle = read_bundle(path)
    name = str(path)
    try:
        study, runs, metrics, benchmarks = _rows(bundle)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise BundleError(f"{name} is not a readable dcpoc study bundle (bad row: "
                          f"{type(e).__name__} {str(e)[:160]}); export it again") from None
    summary = {"study": study.name, "n_runs": len(runs), "n_metrics": len(metrics),
               "recorded": bundle["recorded"]}
    with store.session(write=True) as session:   # one transaction: all or nothing
        if session.scalar(select(Study.id).where(Study.name == study.name)) is not None:
            raise BundleError(f"study '{study.name}' already exists in {store.url}; import it into "
                              "another database: DCPOC_DB=sqlite:///PATH python -m dcpoc study import "
                              f"{name}")
        ids = [r.id for r in runs]
        clash = session.scalars(select(Run.id).where(Run.id.in_(ids)).limit(3)).all()
        if clash:
            raise BundleError(f"run id(s) {', '.join(clash)} of {name} already exist in "
                              f"{store.url}; import it into another database: "
                              f"DCPOC_DB=sqlite:///PATH python -m dcpoc study import {name}")
        session.add(study)
        session.flush()
        for run in runs:
            run.study_id = study.id
        session.add_all(runs)
        session.flush()
        if metrics:
            session.execute(Metric.__table__.insert(), metrics)
        for bench in benchmarks:
            if not _has_benchmark(session, bench):
                session.add(bench)
    return summary


def _rows(bundle: dict) -> tuple[Study, list[Run], list[dict], list[Benchmark]]:
    """ORM rows of the bundle (not yet added to a session); KeyError/TypeError/ValueError on a
    malformed entry."""
    s = bundle["study"]
    for key, kind in (("study", dict), ("runs", list), ("metrics", list), ("benchmarks", list),
                      ("recorded", dict)):
        if not isinstance(bundle[key], kind):
            raise ValueError(f"its {key} is {type(bundle[key]).__name__}, not {kind.__name__}")
    try:   # a name the CLI would refuse (empty, 500 characters) made every later runs table unreadable
        validate_name(str(s["name"]), longest=Study.__table__.c.name.type.length)
    except ConfigError as e:
        raise ValueError(f"study name {str(s['name'])[:20]!r}: {e}") from None
    config = {**dict(s["config"]), "recorded": dict(bundle["recorded"])}
    for stage in ("later_stage", "confirm_stage"):   # recorded results: no worker adds runs to them
        if config.get(stage) == "waiting":
            config[stage] = "none"
    study = Study(name=str(s["name"]), question=str(s["question"]),
                  created_at=_from_json(s["created_at"], UTCDateTime()),
                  config_json=json.dumps(config))
    runs = []
    if not bundle["runs"]:
        raise ValueError("it holds no runs")
    for row in bundle["runs"]:
        if not isinstance(row, dict):
            raise ValueError(f"a run is {type(row).__name__}, not an object")
        _check_run(row)
        values = {k: _from_json(v, _RUN_COLUMNS[k].type) for k, v in row.items() if k != "study_id"}
        runs.append(Run(**values))
    ids = {r.id for r in runs}
    if len(ids) < len(runs):          # the database's UNIQUE error blamed the database, not the file
        raise ValueError(f"run {next(r.id for r in runs if sum(x.id == r.id for x in runs) > 1)} "
                         "appears twice")
    columns = list(bundle.get("metric_columns", _METRIC_COLUMNS))
    if set(columns) != set(_METRIC_COLUMNS):
        raise ValueError(f"metric columns {columns}")
    if not all(isinstance(row, list) and len(row) == len(columns) for row in bundle["metrics"]):
        raise ValueError(f"a metric row is not a list of {len(columns)} values")
    metrics = [dict(zip(columns, row, strict=True)) for row in bundle["metrics"]]
    keys = {(m["run_id"], m["step"], m["key"]) for m in metrics}
    if len(keys) < len(metrics):
        raise ValueError("a metric row (run, step, key) appears twice")
    if any(m["run_id"] not in ids for m in metrics):
        raise ValueError("a metric of a run not in the bundle")
    number = lambda v: v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))  # noqa: E731
    for m in metrics:   # a text value failed inside the INSERT, with pages of SQL
        if not isinstance(m["step"], int) or not isinstance(m["key"], str) or not number(m["value"]) \
                or not number(m.get("wall_s")) or not (m.get("tokens") is None or isinstance(m["tokens"], int)):
            raise ValueError(f"run {m['run_id']}: a metric row ({m['key']!r} at step "
                             f"{m['step']!r}) is not a number")
    benchmarks = [Benchmark(kind=str(b["kind"]), created_at=_from_json(b["created_at"], UTCDateTime()),
                            machine=str(b["machine"]), result_json=json.dumps(b["result"]))
                  for b in bundle["benchmarks"]]
    return study, runs, metrics, benchmarks


ENDED = (Status.SUCCEEDED.value, Status.FAILED.value, Status.CANCELLED.value)
_PYTHON_TYPES = {"Integer": (int,), "BigInteger": (int,), "Float": (int, float), "Boolean": (bool,),
                 "String": (str,), "Text": (str,)}   # by SQLAlchemy type name; dates are parsed


def _check_run(row: dict) -> None:
    """ValueError naming the run and the field when a row could not have been exported: unknown or
    missing columns, a value of the wrong type, an unfinished status, a config that is not a JSON
    object (every later read of the runs would fail on it)."""
    where = f"run {row.get('id', '?')}"
    unknown = set(row) - set(_RUN_COLUMNS)
    if unknown:
        raise ValueError(f"{where}: unknown column(s) {sorted(unknown)}")
    for key, column in _RUN_COLUMNS.items():
        value = row.get(key)
        if value is None:
            if not column.nullable and column.default is None:
                raise ValueError(f"{where}: no {key}")
            continue
        kinds = _PYTHON_TYPES.get(type(column.type).__name__, ())
        wrong_bool = isinstance(value, bool) and bool not in kinds
        if kinds and (not isinstance(value, kinds) or wrong_bool):
            raise ValueError(f"{where}: {key} is {type(value).__name__} {str(value)[:20]!r}")
    for key, column in _RUN_COLUMNS.items():   # beyond 64 bits: an OverflowError inside the INSERT
        value = row.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63:
            raise ValueError(f"{where}: {key} {value} is out of range")
    if row.get("arch") not in ARCHS:   # another name silently dropped the run from the verdict's pairs
        raise ValueError(f"{where}: arch {row.get('arch')!r} (one of {', '.join(ARCHS)})")
    step, total = row.get("step"), row.get("total_steps")
    if (step is not None and step < 0) or (step is not None and total is not None and step > total):
        raise ValueError(f"{where}: step {step} outside 0 to total_steps ({total})")
    if row.get("status") not in ENDED:   # a missing status would default to queued: trained again
        raise ValueError(f"{where}: status {row.get('status')!r} (a bundle holds finished runs only)")
    try:
        config = json.loads(row.get("config_json") or "{}")
    except ValueError:
        config = None
    if not isinstance(config, dict):
        raise ValueError(f"{where}: its config is not a JSON object")


def _from_json(value: Any, sql_type: Any) -> Any:
    if value is not None and isinstance(sql_type, UTCDateTime):
        return datetime.fromisoformat(value)
    return value


def _has_benchmark(session: Any, bench: Benchmark) -> bool:
    """The same result (kind, time, machine) is already stored: an earlier import brought it."""
    return bool(session.scalar(select(func.count(Benchmark.id)).where(
        Benchmark.kind == bench.kind, Benchmark.created_at == bench.created_at,
        Benchmark.machine == bench.machine)))
