"""The sink the training loop reports to: the only place that joins train and the store. It writes
metrics in small batched transactions, heartbeats from a thread of its own, and prices the run
when it ends. A database that is busy (locked by another process past the busy timeout) or briefly
unreachable does not stop the run: metrics wait in memory and go in with the next batch, for up to
BUSY_PATIENCE_S; a heartbeat or checkpoint note that fails is given again by the next one."""
from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from .. import costs
from .paths import now_utc
from .status import Status
from .store import Store, StoreError, UnknownRunError

if TYPE_CHECKING:
    from .selfchecks import StoreCache


class StoreSink:
    """Sink of the training loop that writes to the store in small batched transactions.

    A daemon thread heartbeats on its own, so a long first (compiled) step, evaluation or
    checkpoint does not make the run look lost to a reaper on another machine."""

    BACKGROUND_HEARTBEAT_S = 5.0
    BUSY_PATIENCE_S = 600.0      # metrics kept in memory this long before the run gives up

    def __init__(self, store: Store, run_id: str):
        self.store, self.run_id = store, run_id
        self._pending: list[dict] = []            # metric rows the database has not taken yet
        self._busy_since: float | None = None
        self._stopped = threading.Event()
        self._beater = threading.Thread(target=self._beat, name=f"heartbeat-{run_id}", daemon=True)
        self._beater.start()

    def _beat(self) -> None:
        while not self._stopped.wait(self.BACKGROUND_HEARTBEAT_S):
            try:
                self.store.heartbeat(self.run_id)
            except StoreError:   # a busy or briefly unreachable database: the next beat retries
                pass

    def _stop_heartbeat(self) -> None:
        self._stopped.set()

    def on_start(self, info: dict) -> None:
        # Metrics past the checkpoint we restart from would be duplicated: drop them first.
        self.store.truncate_metrics(self.run_id, info["start_step"])
        self.store.update_run(self.run_id, status=Status.RUNNING, n_params=info["n_params"],
                              flops_per_token=info["flops_per_token"], device=info["device"],
                              corpus_fingerprint=info["corpus_fingerprint"], step=info["start_step"],
                              total_steps=info["total_steps"], heartbeat_at=now_utc(),
                              attn_path=info.get("attn_path"), attn_reason=info.get("attn_reason"))

    @property
    def selfcheck_cache(self) -> "StoreCache":
        """The stored Triton self-checks (kernels/selfcheck.py reuses them; see selfchecks.py)."""
        from .selfchecks import StoreCache   # imported here: selfchecks imports execute, then us
        return StoreCache(self.store)

    def on_metrics(self, rows: list[dict]) -> None:
        self._pending += rows
        try:
            self.store.log_metrics(self.run_id, self._pending)
        except UnknownRunError:   # the run's row is gone: nothing to wait for
            raise
        except StoreError:
            self._busy_since = self._busy_since or time.monotonic()
            if time.monotonic() - self._busy_since > self.BUSY_PATIENCE_S:
                raise
            return
        self._pending, self._busy_since = [], None

    def holds_unstored(self) -> bool:
        return bool(self._pending)

    def _patiently(self, write) -> None:
        """write() until it goes through or BUSY_PATIENCE_S has passed (then its StoreError)."""
        since = self._busy_since or time.monotonic()
        while True:
            try:
                return write()
            except UnknownRunError:
                raise
            except StoreError:
                if time.monotonic() - since > self.BUSY_PATIENCE_S:
                    raise
                time.sleep(1.0)

    def _flush(self) -> None:
        """The metrics still waiting, now (on_end), waiting out a busy database."""
        if self._pending:
            self._patiently(lambda: self.store.log_metrics(self.run_id, self._pending))
            self._pending, self._busy_since = [], None

    def on_checkpoint(self, step: int, path: str) -> None:
        try:
            self.store.update_run(self.run_id, checkpoint_path=path, step=step)
        except StoreError:   # the file is written; the next checkpoint or the end records it
            pass

    def on_heartbeat(self, step: int) -> None:
        try:
            self.store.heartbeat(self.run_id, step)
        except StoreError:   # the background beat and the next step retry
            pass

    def should_cancel(self) -> bool:
        try:
            return self.store.cancel_requested(self.run_id)
        except StoreError:   # unreachable for a moment: asked again in a few seconds
            return False

    def on_end(self, status: str, summary: dict, error: str | None) -> None:
        self._stop_heartbeat()
        self._flush()
        self._patiently(lambda: self._record_end(status, summary, error))

    def _record_end(self, status: str, summary: dict, error: str | None) -> None:
        prices = self.store.prices()
        run = self.store.get_run(self.run_id)
        if summary["step"] == 0 and run and (run.get("step") or 0) > 0:
            # failed before its first step (a resume whose checkpoint does not load): what an
            # earlier process trained and recorded stays
            self.store.update_run(self.run_id, status=status, error=error, finished_at=now_utc())
            return
        kind = run["config"]["train"].get("gpu_type", "auto") if run else "auto"
        try:
            cost = costs.run_cost_usd(summary["wall_s"], summary["device"],
                                      summary.get("n_devices", 1), prices=prices, kind=kind)
        except costs.PriceError:   # no price for its kind: the run's results still count
            cost = None
        self.store.update_run(
            self.run_id, status=status, error=error, finished_at=now_utc(), step=summary["step"],
            tokens_seen=summary["tokens_seen"], wall_s=summary["wall_s"],
            final_val_loss=summary["final_val_loss"], diverged=summary["diverged"],
            tokens_per_s=summary["tokens_per_s"],
            peak_mem_bytes=summary["peak_mem_bytes"], mfu=summary["mfu"], cost_usd=cost)
