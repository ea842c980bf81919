"""Building a C++ CPU kernel (compose_cpu.cpp, decode_cpu.cpp) with torch.utils.cpp_extension, once
per machine and source: a line while it builds, the torch ops when it cannot be built.

torch guards a build with a lock file in the build folder and waits, without end, for it to go. A
build that was killed (a Ctrl-C during a first run, a cancelled job) leaves the lock behind, and
every later run then hung at its first DCFormer step on this machine. A lock older than any build
takes is removed here, with a line that says so.

torch's build folder is per user, not per install, and its compile commands name the include
folders of the torch that builds. Two installs (two checkouts, two virtual environments) sharing one
folder therefore rebuilt each other's kernel on every switch; the folder name carries a short hash of
the torch install's location, so each install keeps its own build.
"""
from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Optional

STALE_LOCK_S = 300.0      # a build takes under two minutes; a lock this old was left by a dead one


def install_name(name: str) -> str:
    """name_<8 hex digits>: the extension's name (and build folder) for this torch install."""
    import torch
    where = str(Path(torch.__file__).resolve().parent)
    return f"{name}_{hashlib.sha1(where.encode()).hexdigest()[:8]}"


def build(name: str, source: Path, functions: list[str], what: str, cflags: list[str],
          ldflags: Optional[list[str]] = None) -> Optional[ModuleType]:
    """The compiled module, or None (and a line on stderr) without a compiler or ninja."""
    name = install_name(name)
    try:
        from torch.utils import cpp_extension
        build_dir = Path(cpp_extension._get_build_directory(name, False))
        built = [p.stat().st_mtime for p in build_dir.glob("*.so")]
        if not built or max(built) < source.stat().st_mtime:   # none yet, or older than the source
            print(f"building the {what} (once per machine and version, under two minutes)",
                  file=sys.stderr)
        clear_stale_lock(build_dir)
    except Exception:  # only the message and the lock check depend on this private helper
        pass
    try:
        from torch.utils.cpp_extension import load_inline
        return load_inline(name, cpp_sources=[source.read_text()], functions=functions,
                           extra_cflags=cflags, extra_ldflags=ldflags or [])
    except Exception as e:  # no compiler or ninja: the torch ops are the fallback
        print(f"the {what} is not available ({type(e).__name__}); using torch ops", file=sys.stderr)
        return None


def clear_stale_lock(build_dir: Path) -> None:
    """Wait while another process builds in build_dir; remove its lock once older than
    STALE_LOCK_S (the process that made it is gone)."""
    lock, said = build_dir / "lock", False
    while True:
        try:
            age = time.time() - lock.stat().st_mtime
        except FileNotFoundError:
            return
        if age > STALE_LOCK_S:
            print(f"removing {lock}: left {age / 60:.0f} min ago by a build that was stopped",
                  file=sys.stderr)
            lock.unlink(missing_ok=True)
            return
        if not said:
            print(f"waiting for another process's build in {build_dir} (a lock left by a stopped "
                  f"build is removed after {STALE_LOCK_S / 60:g} min)", file=sys.stderr)
            said = True
        time.sleep(1.0)
