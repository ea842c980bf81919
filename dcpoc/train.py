"""The training loop. It reports through a small Sink; it does not know the database.

Steps are counted from 1 (the number of optimizer updates done). A checkpoint at step k holds the
model and optimizer after update k; batches are a pure function of (seed, step), so a run resumed
from step k continues exactly where the killed one was.

Under torchrun (RANK / WORLD_SIZE / LOCAL_RANK set) the model is wrapped in DistributedDataParallel:
every process takes its own contiguous slice of the same global batch, so the optimizer sees the
batch a single process would; only rank 0 evaluates, checkpoints and reports to the sink
(distributed.py). Checkpoint files: checkpoint.py.
"""
from __future__ import annotations

import math
import resource
import signal
import sys
import time
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Protocol

import torch

from . import costs
from .checkpoint import LoopState, load_checkpoint, save_checkpoint
from .config import ConfigError, RunConfig
from .data import Batches, load_corpus, split_corpus
from .distributed import Distributed, device_name, init_distributed, resolve_device
from .kernels.selfcheck import one_line
from .model import LanguageModel, count_parameters, flops_per_token
from .runs.paths import CHECKPOINT_NAME

HEARTBEAT_S = 2.0       # heartbeat and cancel-flag period
FLUSH_S = 2.0           # metrics are flushed at least this often
DIST_CHECK_LIMIT_S = 420.0   # rank 0's self-check under torchrun: inside NCCL's 10-minute timeout


class Sink(Protocol):
    """Where the loop reports. Every method must be cheap; rows are batched by the loop."""

    def on_start(self, info: dict) -> None: ...
    def on_metrics(self, rows: list[dict]) -> None: ...
    def holds_unstored(self) -> bool: ...   # metrics taken but not yet stored (a busy database)
    def on_checkpoint(self, step: int, path: str) -> None: ...
    def on_heartbeat(self, step: int) -> None: ...
    def should_cancel(self) -> bool: ...
    def on_end(self, status: str, summary: dict, error: str | None) -> None: ...


class NullSink:
    """A sink that records nothing (benchmarks, tests of the loop alone)."""

    def on_start(self, info: dict) -> None: pass
    def on_metrics(self, rows: list[dict]) -> None: pass
    def holds_unstored(self) -> bool: return False
    def on_checkpoint(self, step: int, path: str) -> None: pass
    def on_heartbeat(self, step: int) -> None: pass
    def should_cancel(self) -> bool: return False
    def on_end(self, status: str, summary: dict, error: str | None) -> None: pass


def lr_at(step: int, run: RunConfig) -> float:
    """Peak lr with linear warmup over warmup_frac of the steps, then cosine to min_lr_ratio."""
    t = run.train
    warmup = max(1, round(t.warmup_frac * t.steps))
    if step < warmup:
        return t.lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, t.steps - warmup)
    cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return t.lr * (t.min_lr_ratio + (1 - t.min_lr_ratio) * cosine)


def make_optimizer(model: LanguageModel, run: RunConfig) -> torch.optim.AdamW:
    """AdamW; no weight decay on vectors (norm scales); the dynamic-weight projection gets its own lr."""
    t = run.train
    dynamic = {id(p) for p in model.dynamic_parameters()}
    groups: dict[tuple[bool, bool], list] = {}
    for p in model.parameters():
        groups.setdefault((p.ndim >= 2, id(p) in dynamic), []).append(p)
    param_groups = [{"params": ps, "weight_decay": t.weight_decay if decay else 0.0,
                     "lr_mult": t.dc_lr_mult if dyn else 1.0}
                    for (decay, dyn), ps in groups.items()]
    return torch.optim.AdamW(param_groups, lr=t.lr, betas=(t.beta1, t.beta2), eps=t.adam_eps)


def evaluate(model: LanguageModel, batches: list, device: torch.device, autocast) -> float:
    """Mean validation loss in nats per byte over the given (x, y) batches, weighted by tokens (the
    last batch of a validation set may be shorter)."""
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad(), autocast:
        for x, y in batches:
            total += model(x.to(device), y.to(device))[1].item() * y.numel()
            count += y.numel()
    model.train()
    return total / count


def peak_memory_bytes(device: torch.device) -> int:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024   # peak RSS of the process


class StopSignals:
    """SIGTERM and the first Ctrl-C only ask the loop to stop at the next step boundary (with a
    checkpoint); a second Ctrl-C interrupts at once. Installed from the main thread only."""

    def __init__(self) -> None:
        self.requested = False
        self.interrupted = False   # a Ctrl-C asked: the command line exits 130, as interrupted commands do
        self.previous: dict[int, object] = {}

    def __enter__(self) -> "StopSignals":
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                self.previous[sig] = signal.signal(sig, self._handle)
            except ValueError:   # not the main thread: leave signals alone
                break
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum, frame) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True
        self.interrupted = self.interrupted or signum == signal.SIGINT


def prepare_data(run: RunConfig):
    """Corpus, training batches and the fixed validation set (at most val_tokens tokens; see
    Batches.validation); CorpusError on bad data."""
    t, m = run.train, run.model
    corpus = load_corpus(t.corpus)
    train_data, val_data = split_corpus(corpus, t.val_fraction)
    batches = Batches(train_data, val_data, m.seq_len, t.batch_size, t.seed, corpus_name=corpus.spec)
    return corpus, batches, batches.validation(t.val_tokens)


def preflight(run: RunConfig):
    """Every check that can fail on user input, before a run row is written: the device, the
    attention implementation and the data. Returns the corpus."""
    if resolve_device(run.train.device).type == "cpu":
        _check_cpu_memory(run)
    if run.model.arch == "dcformer" and run.model.attn_impl == "triton":
        from .kernels import triton_available
        from .kernels.selfcheck import interpreter_mode
        if not (torch.cuda.is_available() or interpreter_mode()) or not triton_available():
            raise ConfigError("attn_impl=triton needs a CUDA GPU and the triton package; "
                              "use attn_impl=auto")
    return prepare_data(run)[0]


def _check_cpu_memory(run: RunConfig) -> None:
    """ConfigError when a CPU run's estimated memory is over twice what this machine has free (the
    out-of-memory killer ends such a run without a word, mid-way; twice, because the estimate is
    rough)."""
    from .counts import training_memory_bytes
    try:
        lines = Path("/proc/meminfo").read_text().splitlines()
        free = int(next(line for line in lines if line.startswith("MemAvailable")).split()[1]) * 1024
    except (OSError, StopIteration, ValueError, IndexError):
        return          # not Linux, or not said: nothing to compare with
    need = training_memory_bytes(run.model, run.train.micro_batch)
    if need > 2 * free:
        raise ConfigError(f"preset {run.preset} needs about {need / 2**30:,.0f} GiB to train on the "
                          f"CPU and this machine has {free / 2**30:,.0f} GiB free: use a smaller "
                          "preset (cpu-demo, cpu-s, cpu-xs), a smaller batch_size, or a GPU")


def train(run: RunConfig, run_dir: Path, sink: Sink, *, resume: bool = False,
          progress: bool = False) -> dict:
    """Train until run.train.steps (or cancel). Returns the summary that is also passed to on_end.
    Under torchrun only rank 0 reports to ``sink``."""
    dist = Distributed.from_env()
    if dist.enabled and dist.world != run.train.nproc:
        raise ConfigError(f"the run asks for nproc={run.train.nproc} processes but torchrun "
                          f"started {dist.world}; start it with --nproc_per_node {run.train.nproc}")
    device = init_distributed(dist, run.train.device)
    try:
        return _train(run, Path(run_dir), sink if dist.is_main else NullSink(), dist, device,
                      resume, progress and dist.is_main)
    finally:
        if dist.enabled:
            torch.distributed.destroy_process_group()


def _train(run: RunConfig, run_dir: Path, sink: Sink, dist: Distributed, device: torch.device,
           resume: bool, progress: bool) -> dict:
    with StopSignals() as stop:
        try:
            loop = _setup(run, run_dir, sink, dist, device, resume, stop)
        except BaseException as e:
            sink.on_end("failed", _empty_summary(device, dist), one_line(e))
            raise
        status, error = "succeeded", None
        try:
            status = loop.train(progress)
        except KeyboardInterrupt:   # a second Ctrl-C: stop now; the last checkpoint stays valid
            loop.flush()
            status, stop.interrupted = "cancelled", True
        except BaseException as e:
            try:
                loop.flush()
            except Exception:   # noqa: BLE001 - the sink gave up on them: the end is still recorded
                pass
            sink.on_end("failed", loop.summary(), one_line(e))
            raise
    if status == "diverged":
        loop.diverged = True
        status, error = "failed", (f"training diverged (loss or gradient not finite at step "
                                   f"{loop.state.step}); lower the learning rate")
    summary = loop.summary()
    sink.on_end(status, summary, error)
    return {**summary, "status": status, "error": error, "interrupted": stop.interrupted}


def _setup(run: RunConfig, run_dir: Path, sink: Sink, dist: Distributed, device: torch.device,
           resume: bool, stop: StopSignals) -> "_Loop":
    t, m = run.train, run.model
    if device.type == "cpu":
        _check_cpu_memory(run)             # a worker's run: fail with the reason, not be OOM-killed
    if t.threads:
        torch.set_num_threads(t.threads)   # small models lose more to thread sync than they gain
    attention = _attention_path(run, sink, dist, device)   # before the seed: it draws no numbers
    if m.arch == "dcformer" and device.type == "cpu" and attention.path == "torch":
        from .kernels.compose_cpu import compose_kernel
        compose_kernel()   # a (re)build takes a minute: here, not inside the first timed step
    torch.manual_seed(t.seed)
    corpus, batches, val_set = prepare_data(run)
    model = LanguageModel(replace(m, attn_impl=attention.impl)).to(device)
    optimizer = make_optimizer(model, run)
    ckpt_path = Path(run_dir) / CHECKPOINT_NAME
    state = load_checkpoint(ckpt_path, model, optimizer) if resume and ckpt_path.exists() else LoopState()
    net = model
    if dist.enabled:   # after the checkpoint is loaded: DDP starts from rank 0's weights
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    step_fn = torch.compile(net) if t.compile else net
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext())
    flops = flops_per_token(m)["total"]
    sink.on_start({"n_params": count_parameters(m)["total"], "flops_per_token": flops,
                   "device": device_name(device), "corpus_fingerprint": corpus.fingerprint,
                   "start_step": state.step, "total_steps": t.steps,
                   "attn_path": attention.path, "attn_reason": attention.reason})
    return _Loop(run, model, net, step_fn, optimizer, batches, val_set, device, autocast, sink,
                 state, ckpt_path, flops, dist, stop)


def _attention_path(run: RunConfig, sink: Sink, dist: Distributed, device: torch.device):
    """The DCMHA path this run trains on and why (kernels/selfcheck.py), decided by rank 0 with
    the self-checks its sink keeps (StoreSink.selfcheck_cache) and broadcast to the other ranks."""
    from .kernels.selfcheck import AttnChoice, SelfCheckError, choose_attention
    choice = None
    if dist.is_main:
        try:
            # other ranks wait for rank 0's choice inside the process group's timeout
            limit = DIST_CHECK_LIMIT_S if dist.enabled else None
            choice = choose_attention(run.model, run.train, device,
                                      getattr(sink, "selfcheck_cache", None), limit,
                                      "the limit while other ranks wait (torchrun)")
        except SelfCheckError as e:          # attn_impl=triton and the check failed: stop now
            raise ConfigError(str(e)) from None
        print(f"attention path: {choice.path} ({choice.reason})", file=sys.stderr, flush=True)
    triton = dist.from_main(choice is not None and choice.path == "triton", device)
    if choice is None:
        dcmha = run.model.arch == "dcformer" and run.model.attn_impl in ("auto", "triton")
        path = "triton" if triton else "torch"
        choice = AttnChoice(path, "rank 0's choice", path if dcmha else run.model.attn_impl)
    return choice


def _empty_summary(device: torch.device, dist: Distributed) -> dict:
    """The summary of a run that failed before its first step."""
    return {"step": 0, "tokens_seen": 0, "wall_s": 0.0, "final_val_loss": math.nan,
            "tokens_per_s": 0.0, "peak_mem_bytes": peak_memory_bytes(device), "mfu": None,
            "device": device_name(device), "diverged": False, "record_s": 0.0,
            "n_devices": dist.world}


class _Loop:
    """The step loop and its bookkeeping (kept apart from setup so both read short)."""

    def __init__(self, run, model, net, step_fn, optimizer, batches, val_set, device, autocast,
                 sink, state, ckpt_path, flops, dist, stop):
        self.run, self.model, self.step_fn, self.optimizer = run, model, step_fn, optimizer
        self.net, self.dist, self.stop = net, dist, stop   # net: the DDP wrapper, or model itself
        self.batches, self.val_set, self.device, self.autocast = batches, val_set, device, autocast
        self.sink, self.state, self.ckpt_path, self.flops = sink, state, ckpt_path, flops
        self.rows: list[dict] = []
        self.diverged = False
        self.session_tokens, self.session_s = 0, 0.0   # tokens and seconds spent in train steps
        self.record_s = 0.0                             # seconds spent reporting to the sink
        self.last_flush = self.last_beat = self.session_start = time.monotonic()
        self.wall_before = state.wall_s                 # elapsed seconds of earlier sessions

    def train(self, progress: bool) -> str:
        t, state = self.run.train, self.state
        bar = _progress_bar(t.steps, state.step) if progress else None
        window_tokens, window_s = 0, 0.0
        while state.step < t.steps:
            step_s, tokens, loss, grad_norm = self.train_step()
            state.step += 1
            state.tokens += tokens
            # elapsed time, evaluation and checkpoints included: what the run costs
            state.wall_s = self.wall_before + time.monotonic() - self.session_start
            self.session_tokens += tokens
            self.session_s += step_s
            window_tokens, window_s = window_tokens + tokens, window_s + step_s
            self.record(state.step, train_loss=loss, lr=lr_at(state.step - 1, self.run), grad_norm=grad_norm)
            if not (math.isfinite(loss) and math.isfinite(grad_norm)):
                self.flush()     # the update was skipped: the last checkpoint stays good
                return "diverged"
            if state.step % t.log_every == 0 or state.step == t.steps:
                self.record(state.step, tokens_per_s=window_tokens / max(window_s, 1e-9))
                window_tokens, window_s = 0, 0.0
            if (state.step % t.eval_every == 0 or state.step == t.steps) and self.dist.is_main:
                self.validate(final=state.step == t.steps)
                if not math.isfinite(state.val_loss):
                    self.flush()
                    return "diverged"
            if state.step % t.ckpt_every == 0 or state.step == t.steps:
                self.checkpoint()
            if bar is not None:   # the postfix first, unrefreshed: one line per refresh, not two
                shown = {"loss": f"{loss:.3f}"}
                if math.isfinite(state.val_loss):      # nothing to show before the first evaluation
                    shown["val"] = f"{state.val_loss:.3f}"
                bar.set_postfix(shown, refresh=False)
                bar.update(1)
            if self.periodic():
                self.checkpoint()
                return "cancelled"
        self.flush()
        return "succeeded"

    def validate(self, final: bool) -> None:
        """The final evaluation scores the whole validation set (and records its size); the ones
        during training a cheap, fixed subset of eval_batches x batch_size of its windows."""
        t = self.run.train
        val = self.val_set if final else self.val_set.subset(t.eval_batches * t.batch_size)
        self.state.val_loss = evaluate(self.model, val.batches(t.batch_size), self.device,
                                       self.autocast)
        self.record(self.state.step, val_loss=self.state.val_loss)
        if final:
            self.record(self.state.step, val_tokens=val.tokens, val_split_tokens=val.split_tokens)

    def train_step(self) -> tuple[float, int, float, float]:
        t = self.run.train
        start = time.perf_counter()
        lr = lr_at(self.state.step, self.run)
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group["lr_mult"]
        x, y = self.batches.train_batch(self.state.step)   # the global batch: (batch_size, T)
        tokens = x.numel()
        x, y = self.dist.shard(x).to(self.device), self.dist.shard(y).to(self.device)
        loss_sum = 0.0
        micro = list(zip(x.chunk(t.grad_accum), y.chunk(t.grad_accum)))
        for i, (xm, ym) in enumerate(micro):
            # DDP all-reduces gradients once per step: on the last micro-batch only.
            last = i == len(micro) - 1
            with nullcontext() if last or not self.dist.enabled else self.net.no_sync():
                with self.autocast:
                    loss = self.step_fn(xm, ym)[1] / t.grad_accum
                loss.backward()
            loss_sum += loss.item()
        loss_sum = self.dist.mean(loss_sum, self.device)
        max_norm = t.grad_clip if t.grad_clip > 0 else float("inf")
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), max_norm).item()
        if math.isfinite(grad_norm):   # never let a non-finite gradient into the weights
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return time.perf_counter() - start, tokens, loss_sum, grad_norm

    def record(self, step: int, **values: float) -> None:
        for key, value in values.items():
            self.rows.append({"step": step, "key": key, "value": float(value),
                              "tokens": self.state.tokens, "wall_s": self.state.wall_s})

    def flush(self) -> None:
        start = time.monotonic()
        if self.rows:
            self.sink.on_metrics(self.rows)
            self.rows = []
        self.last_flush = time.monotonic()
        self.record_s += self.last_flush - start

    def checkpoint(self) -> None:
        if not self.dist.is_main:
            return
        self.flush()   # metrics up to the checkpoint step are stored before the checkpoint exists
        if self.sink.holds_unstored():
            return     # not stored yet (a busy database): a resume from here would leave a gap
        save_checkpoint(self.ckpt_path, self.model, self.optimizer, self.state, self.run)
        self.sink.on_checkpoint(self.state.step, str(self.ckpt_path))

    def periodic(self) -> bool:
        """Stop signals every step; flush, heartbeat and the cancel flag every few seconds. True
        means stop now (on every process: rank 0 decides)."""
        stop = self.dist.is_main and (self._periodic_main() or self.stop.requested)
        return self.dist.from_main(stop, self.device)

    def _periodic_main(self) -> bool:
        now = time.monotonic()
        if now - self.last_flush >= FLUSH_S:
            self.flush()
        if now - self.last_beat < HEARTBEAT_S:
            return False
        self.last_beat = now
        self.sink.on_heartbeat(self.state.step)
        cancel = self.sink.should_cancel()
        self.record_s += time.monotonic() - now
        return cancel

    def summary(self) -> dict:
        tokens_per_s = self.session_tokens / self.session_s if self.session_s > 0 else 0.0
        peak = costs.peak_flops(device_name(self.device))
        peak = peak * self.dist.world if peak else None
        return {"step": self.state.step, "tokens_seen": self.state.tokens, "wall_s": self.state.wall_s,
                "final_val_loss": self.state.val_loss, "tokens_per_s": tokens_per_s,
                "peak_mem_bytes": peak_memory_bytes(self.device),
                "mfu": self.flops * tokens_per_s / peak if peak else None,
                "device": device_name(self.device), "diverged": self.diverged,
                "record_s": self.record_s,
                "n_devices": self.dist.world}


def _progress_bar(total: int, initial: int):
    from tqdm import tqdm
    # into a file or a pipe every refresh is a line: one every 10 s there, not one per step
    return tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True,
                mininterval=0.1 if sys.stderr.isatty() else 10.0)
