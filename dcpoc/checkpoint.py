"""Checkpoint files (runs/<id>/checkpoint.pt): written atomically by the training loop, read back
to resume a run, or to load its model for generation and inspection.

A checkpoint holds the model's and the optimizer's state dicts, the loop's state (LoopState) and the
run's resolved config.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from .config import ConfigError, RunConfig
from .model import LanguageModel


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be read back; str() is one line."""


@dataclass
class LoopState:
    step: int = 0              # optimizer updates done
    tokens: int = 0            # training tokens seen
    wall_s: float = 0.0        # training wall time, summed over resumes
    val_loss: float = math.nan


def save_checkpoint(path: Path, model, optimizer, state: LoopState, run: RunConfig) -> None:
    """Write atomically and durably: a kill or power loss mid-write leaves the previous one intact."""
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "state": state.__dict__, "config": run.to_dict()}, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)   # the rename itself survives a crash only once the folder is synced
    finally:
        os.close(folder)


def load_checkpoint(path: Path, model, optimizer) -> LoopState:
    """Restore model and optimizer in place to resume a run; the loop's state at the checkpoint."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        return LoopState(**ckpt["state"])
    except Exception as e:
        raise CheckpointError(f"checkpoint {path} cannot be read ({type(e).__name__}); "
                              "retry the run instead of resuming it") from None


def load_checkpoint_model(path: Path, device: str = "cpu",
                          dtype: torch.dtype = torch.float32) -> tuple[LanguageModel, RunConfig]:
    """The model of a checkpoint file, in eval mode, and its run's config."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
        run = RunConfig.from_dict(ckpt["config"])
        model = LanguageModel(run.model)
        model.load_state_dict(ckpt["model"])
    except (OSError, KeyError, RuntimeError) as e:
        raise ConfigError(f"checkpoint {path} cannot be read ({type(e).__name__})") from None
    return model.to(device=device, dtype=dtype).eval(), run


def _where_its_weights_are(run: dict, store) -> str:
    """Why a finished run has no checkpoint here, and what to do."""
    import socket
    study = store.get_study(run["study"]) if run.get("study") else None
    if study and (study.get("config") or {}).get("recorded"):
        return "it is a recorded result imported from a study file, which carries no weights"
    if run.get("host") and run["host"] != socket.gethostname():
        return (f"it trained on {run['host']}; copy its folder {run['id']}/ from that machine's "
                "DCPOC_HOME into this one's")
    return "its checkpoint file was deleted or moved; train the run again to inspect it"


def load_run_model(run_id: str, store=None, device: str = "cpu",
                   dtype: torch.dtype = torch.float32) -> tuple[LanguageModel, RunConfig]:
    """The model of a run from runs/<id>/checkpoint.pt, in eval mode. ConfigError (one line) when
    the run or its checkpoint is missing."""
    from .runs.paths import found_checkpoint
    from .runs.status import Status
    from .runs.store import Store
    store = store or Store()
    run = store.get_run(run_id)
    if run is None:
        raise ConfigError(f"no run '{run_id}': list the runs with `python -m dcpoc runs`")
    path = found_checkpoint(run)
    if path is None and run["status"] == Status.SUCCEEDED:
        raise ConfigError(f"run '{run_id}' finished, but its checkpoint is not on this machine: "
                          + _where_its_weights_are(run, store))
    if path is None:
        raise ConfigError(f"run '{run_id}' has no checkpoint yet; wait until it has trained")
    return load_checkpoint_model(path, device, dtype)
