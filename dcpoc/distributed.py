"""Where a training process runs: its device, and its place among torchrun's processes.

Under torchrun (RANK / WORLD_SIZE / LOCAL_RANK set) every process takes its own contiguous slice of
the same global batch, one GPU per process; a lone process is rank 0 of 1.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from .config import ConfigError


def resolve_device(requested: str) -> torch.device:
    """The device of 'cpu', 'cuda' or 'auto'; ConfigError when CUDA is asked for but absent."""
    if requested == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' requested but no CUDA GPU is visible; use --device cpu or auto")
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(requested)


def device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"


@dataclass
class Distributed:
    """This process's place among torchrun's processes; a lone process is rank 0 of 1."""
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls) -> "Distributed":
        env = os.environ
        return cls(int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1)),
                   int(env.get("LOCAL_RANK", 0)))

    def shard(self, batch: torch.Tensor) -> torch.Tensor:
        """This process's contiguous slice of the global batch (dim 0)."""
        per = batch.shape[0] // self.world
        return batch[self.rank * per:(self.rank + 1) * per]

    def mean(self, value: float, device: torch.device) -> float:
        """The mean of value over all processes."""
        if not self.enabled:
            return value
        total = torch.tensor([value], dtype=torch.float64 if device.type == "cpu" else torch.float32,
                             device=device)
        torch.distributed.all_reduce(total)
        return total.item() / self.world

    def from_main(self, flag: bool, device: torch.device) -> bool:
        """Rank 0's flag on every process (the cancel decision must be taken by all at once)."""
        if not self.enabled:
            return flag
        value = torch.tensor([float(flag)], device=device)
        torch.distributed.broadcast(value, src=0)
        return bool(value.item())


def init_distributed(dist: Distributed, requested: str) -> torch.device:
    """This process's device; under torchrun also joins the process group (nccl on CUDA, gloo on
    CPU), one GPU per process."""
    device = resolve_device(requested)
    if not dist.enabled:
        return device
    if device.type == "cuda":
        if torch.cuda.device_count() <= dist.local_rank:
            raise ConfigError(f"{dist.world} processes need {dist.world} GPUs but "
                              f"{torch.cuda.device_count()} are visible; lower nproc")
        device = torch.device("cuda", dist.local_rank)
        torch.cuda.set_device(device)
    torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device
