"""A run's states as data: the one list of statuses, the moves between them, and the named sets every
query, page and count uses. Status is a str, so rows and frames hold plain strings."""
from __future__ import annotations

from enum import Enum


class Status(str, Enum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    def __str__(self) -> str:
        return self.value


STATUSES: tuple[str, ...] = tuple(s.value for s in Status)   # display and count order

# Who moves a run where: a worker claims a queued run; training ends it; a person cancels queued or
# running work; retry re-queues and resume re-starts a failed or cancelled run; a run whose process
# died after a cancel (torchrun stopping its other ranks) is recorded as failed; a SLURM run whose
# job ended before the training took it (a lost node, a failed start) is failed while queued.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.QUEUED: frozenset({Status.RUNNING, Status.CANCELLED, Status.FAILED}),
    Status.RUNNING: frozenset({Status.SUCCEEDED, Status.FAILED, Status.CANCELLED}),
    Status.SUCCEEDED: frozenset(),
    Status.FAILED: frozenset({Status.QUEUED, Status.RUNNING}),
    Status.CANCELLED: frozenset({Status.QUEUED, Status.RUNNING, Status.FAILED}),
}

ACTIVE = (Status.QUEUED.value, Status.RUNNING.value)            # work still to happen
DONE = (Status.SUCCEEDED.value, Status.FAILED.value, Status.CANCELLED.value)   # a process ended it
FINISHED = (Status.SUCCEEDED.value, Status.FAILED.value)   # with a result; cancelled: a person stopped it
RESTARTABLE = (Status.FAILED.value, Status.CANCELLED.value)     # retry or resume


def can_move(src: str, dst: str) -> bool:
    """Whether a run may go from status src to dst."""
    return Status(dst) in TRANSITIONS[Status(src)]
