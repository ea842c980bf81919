"""The one reader and writer of the selfchecks table, torch-free: the decision reads passed checks
as speed evidence without importing torch; runs/selfchecks.py (which runs checks) stores them here."""
from __future__ import annotations

import json
from typing import Any, Optional

from sqlalchemy import select

from .rows import as_utc
from .schema import SelfCheck
from .store import Store

# the columns a stored self-check is reused by (runs/selfchecks.py: reuse_key)
KEY_COLUMNS = ("gpu_name", "triton_version", "torch_version", "git_commit", "n_heads", "head_dim")


def _row_dict(row: SelfCheck) -> dict[str, Any]:
    return {"id": row.id, "created_at": as_utc(row.created_at),
            **{c: getattr(row, c) for c in KEY_COLUMNS},
            "passed": bool(row.passed), "error": row.error, "triton_ms": row.triton_ms,
            "torch_ms": row.torch_ms, "chosen": row.chosen,
            "result": json.loads(row.result_json or "{}")}


def read_selfchecks(store: Store, *, key: Optional[dict] = None, passed_only: bool = False,
                    limit: Optional[int] = None) -> list[dict]:
    """Stored self-checks, newest first: those matching every column of key (KEY_COLUMNS), only
    the passed ones if asked, at most limit."""
    query = select(SelfCheck)
    for column, value in (key or {}).items():
        query = query.where(getattr(SelfCheck, column) == value)
    if passed_only:
        query = query.where(SelfCheck.passed.is_(True))
    query = query.order_by(SelfCheck.created_at.desc(), SelfCheck.id.desc()).limit(limit)
    with store.session() as session:
        return [_row_dict(row) for row in session.scalars(query)]


def add_selfcheck(store: Store, key: dict, *, passed: bool, error: Optional[str],
                  triton_ms: Optional[float], torch_ms: Optional[float], chosen: str,
                  result: dict) -> dict:
    """Store one self-check under key; returns it as read_selfchecks does."""
    with store.session(write=True) as session:
        row = SelfCheck(**key, passed=passed, error=error, triton_ms=triton_ms, torch_ms=torch_ms,
                        chosen=chosen, result_json=json.dumps(result))
        session.add(row)
        session.flush()
        return _row_dict(row)
