"""What a shared dashboard server must refuse: corpus paths outside the allowed data folders, wrong
passwords, and database passwords shown on screen. Pure functions (no Streamlit, no database)."""
from __future__ import annotations

import hmac
import os
import re
from pathlib import Path

from .data import BUILTIN_CORPORA   # the names data.py accepts without a path (torch-free import)

DATA_DIRS_ENV = "DCPOC_DATA_DIRS"


class CorpusPathError(ValueError):
    """A corpus typed into the browser that the server will not read; str() is one line and
    ``reason`` one of: empty, no_dirs, outside, missing (for translated messages)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def allowed_data_dirs(value: str | None = None) -> list[Path]:
    """The folders of ``$DCPOC_DATA_DIRS`` (colon-separated), resolved; none when unset."""
    raw = os.environ.get(DATA_DIRS_ENV, "") if value is None else value
    return [Path(part).expanduser().resolve() for part in raw.split(os.pathsep) if part.strip()]


def confine_corpus(text: str, allowed: list[Path]) -> str:
    """The corpus spec for what a user typed: a built-in name, or ``text:PATH`` for a file or folder
    that lies inside one of the allowed folders once symlinks and '..' are resolved.

    A relative path is taken relative to the first allowed folder. Raises CorpusPathError."""
    typed = text.strip()
    if typed in BUILTIN_CORPORA:
        return typed
    raw = typed.removeprefix("text:").strip()
    if not raw:
        raise CorpusPathError("empty", "choose a built-in corpus or type a path")
    if not allowed:
        raise CorpusPathError("no_dirs", f"this server reads no corpus files: only the built-ins "
                              f"({', '.join(BUILTIN_CORPORA)}); the operator can allow folders "
                              f"with {DATA_DIRS_ENV}")
    path = Path(raw).expanduser()
    if not path.is_absolute():
        path = allowed[0] / path
    resolved = path.resolve()  # follows every symlink and folds '..'
    if not any(resolved.is_relative_to(folder) for folder in allowed):
        raise CorpusPathError("outside", f"{raw} is outside the allowed data folders "
                              f"({', '.join(str(f) for f in allowed)})")
    if not resolved.exists():
        raise CorpusPathError("missing", f"{raw} does not exist in the allowed data folders")
    return f"text:{resolved}"


def password_matches(given: str, expected: str) -> bool:
    """Constant-time comparison, so response time does not reveal how much of a guess was right."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def hide_url_password(url: str) -> str:
    """'postgresql://ann:secret@db/x' -> 'postgresql://ann:***@db/x'; other URLs unchanged."""
    return re.sub(r"^([A-Za-z0-9+.\-]+://[^:/@]*):[^@]*@", r"\1:***@", url)
