"""Between Python values and the run database's rows: the public shapes the Store returns (a run as
a dict with RUN_FIELDS, frames with fixed dtypes), and the checks and conversions on what callers
write (run fields, metric rows). NaN and inf stay honest: SQLite turns NaN into NULL, so a metric
keeps a ``finite`` flag and which ``nonfinite`` value it was, and a run its ``diverged`` flag."""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Boolean, Float, Integer

from ..config import ARCHS
from .schema import Run, UTCDateTime
from .status import STATUSES

_RUN_COLUMNS = [c.key for c in Run.__table__.columns]
_JSON_ALIASES = {"config": "config_json", "versions": "versions_json"}
# Public shape of a run (get_run keys, list_runs columns): JSON decoded, study name added.
RUN_FIELDS = ["id", "study"] + [c.removesuffix("_json") for c in _RUN_COLUMNS[1:]]
WORKER_FIELDS = ["id", "host", "pid", "device", "started_at", "heartbeat_at", "run_id"]
METRIC_FIELDS = ["run_id", "step", "key", "value", "finite", "nonfinite", "tokens", "wall_s"]
_FLOAT_COLUMNS = {c.key for c in Run.__table__.columns if isinstance(c.type, Float)}
_TIME_COLUMNS = {c.key for c in Run.__table__.columns if isinstance(c.type, UTCDateTime)}
_DTYPES = [(Float, "float64"), (Integer, "Int64"), (Boolean, "bool"),
           (UTCDateTime, "datetime64[us, UTC]")]
# Fixed frame dtypes, so that an empty frame or a column of NULLs is still numeric / datetime.
RUN_DTYPES = {c.key: dtype for c in Run.__table__.columns
              for sql_type, dtype in _DTYPES if isinstance(c.type, sql_type)}


def as_utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)  # naive input is taken to be UTC already
    return value


def nonfinite(value: float | None) -> str | None:
    """'nan', 'inf' or '-inf' (None counts as NaN); None for a finite value."""
    if value is None or math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return None


def run_dict(run: Run, study: str | None) -> dict[str, Any]:
    """A run row as the dict callers get (keys RUN_FIELDS, JSON decoded)."""
    out: dict[str, Any] = {"id": run.id, "study": study}
    for col in _RUN_COLUMNS[1:]:
        value = getattr(run, col)
        if col.endswith("_json"):
            out[col.removesuffix("_json")] = json.loads(value) if value else {}
        else:
            out[col] = value
    return out


def run_values(fields: dict[str, Any]) -> dict[str, Any]:
    """Public field names and Python values -> run column values; ValueError on bad input."""
    values: dict[str, Any] = {}
    for name, value in fields.items():
        col = _JSON_ALIASES.get(name, name)
        if col not in _RUN_COLUMNS or col == "id":
            raise ValueError(f"unknown run field {name!r}; known: "
                             f"{', '.join(sorted(set(_RUN_COLUMNS) - {'id'}))}, study")
        if col.endswith("_json") and not isinstance(value, str):
            value = json.dumps(value if value is not None else {})
        elif col in _FLOAT_COLUMNS and value is not None:
            value = float(value)
            if not math.isfinite(value):
                value = None  # portable: SQLite would turn NaN into NULL anyway
        elif col in _TIME_COLUMNS:
            value = as_utc(value)
        values[col] = value
    if "status" in values and values["status"] not in STATUSES:
        raise ValueError(f"unknown run status {values['status']!r}; "
                         f"one of {', '.join(STATUSES)}")
    if "arch" in values and values["arch"] not in ARCHS:
        raise ValueError(f"unknown arch {values['arch']!r}; one of {', '.join(ARCHS)}")
    if "final_val_loss" in fields and "diverged" not in fields:
        loss = fields["final_val_loss"]
        values["diverged"] = loss is not None and not math.isfinite(float(loss))
    return values


def metric_rows(run_id: str, rows: list[dict]) -> dict[tuple[int, str], dict[str, Any]]:
    """Metric rows ({'step', 'key', 'value', optional 'tokens', 'wall_s'}) as column values keyed
    by (step, key), the last row winning; ValueError for a row without step or key."""
    latest: dict[tuple[int, str], dict[str, Any]] = {}
    for row in rows:
        try:
            step, key = int(row["step"]), str(row["key"])
        except KeyError as e:
            raise ValueError(f"metric row {row!r} lacks {e.args[0]!r}") from e
        value = row.get("value")
        value = None if value is None else float(value)
        which = nonfinite(value)
        tokens, wall_s = row.get("tokens"), row.get("wall_s")
        latest[(step, key)] = {
            "run_id": run_id, "step": step, "key": key,
            "value": None if which else value, "finite": which is None,
            "nonfinite": which, "tokens": None if tokens is None else int(tokens),
            "wall_s": None if wall_s is None else float(wall_s)}
    return latest
