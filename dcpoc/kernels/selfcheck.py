"""The Triton path checks itself on the machine it runs on: dcmha_triton against dcmha_torch (forward
and every gradient, float32 and bfloat16, causal and windowed) at a run's head count, head dim, rank
and composition switches, then both paths timed on the run's shape. attn_impl=auto uses Triton only
where it is correct AND faster; everything here is caught and recorded, never raised into a run.

Pure: no database. runs/selfchecks.py stores results and reuses them (the cache protocol below);
train.py asks choose_attention() which path a run trains on. checked() runs run_selfcheck() in a
process of its own (selfcheck_process.py), so a kernel that faults or hangs cannot take the caller
with it.

On the CPU the Triton kernels run only in Triton's interpreter (TRITON_INTERPRET=1); the check runs
there when DCPOC_SELFCHECK_ON_CPU=1 is also set (tests), at tiny sizes. DCPOC_INJECT_TRITON_FAULT=1
scales the Triton output inside this check by FAULT_SCALE, so the check must fail (tests, drills).
"""
from __future__ import annotations

import math
import os
import statistics
import time
import zlib
from dataclasses import asdict, dataclass, field
from typing import Any, Optional, Protocol

import torch
from torch import Tensor

from .reference import ComposeWeights

FAULT_ENV = "DCPOC_INJECT_TRITON_FAULT"
CPU_ENV = "DCPOC_SELFCHECK_ON_CPU"
FAULT_SCALE = 1.1
# Against a float64 dcmha_torch on the same rounded inputs. Looser than tests/test_triton_dcmha.py
# (1e-4, 2e-2) so GPU rounding never trips it; a wrong kernel is off by O(1).
TOL = {torch.float32: 1e-3, torch.bfloat16: 3e-2}
TIMED_TOKENS = 16384      # the timing's batch is capped to B x T <= this (speed per token is what counts)
CPU_GPU_NAME = "cpu (Triton interpreter)"


@dataclass(frozen=True)
class CheckSpec:
    """The shapes one self-check runs: the run's heads, head dim, rank, composition fields and
    window; check_len positions for the correctness cases, (batch, seq_len) for the timing."""
    n_heads: int
    head_dim: int
    rank: int
    pre: tuple[str, ...]                 # ComposeWeights fields present ("qw", "kw", "qdd", ...)
    post: tuple[str, ...]
    window: int                          # the windowed cases' window
    check_len: int
    batch: int
    seq_len: int
    timed_window: Optional[int] = None   # the timing's window (None: a global layer, the costliest)
    check_batch: int = 2
    dtype: str = "bfloat16"              # the timing's dtype (the run's: bf16 autocast on CUDA)
    warmup: int = 2
    steps: int = 5

    @property
    def shape(self) -> str:
        return f"B{self.batch}-H{self.n_heads}-T{self.seq_len}-d{self.head_dim}-R{self.rank}"


@dataclass
class SelfCheckResult:
    passed: bool
    error: Optional[str]                  # the first failure, one line
    triton_ms: Optional[float]            # forward+backward per step at spec's timing shape
    torch_ms: Optional[float]
    spec: dict
    cases: list[dict] = field(default_factory=list)
    injected_fault: bool = False
    crashed: bool = False                 # its process died, hung or lost its GPU (selfcheck_process)
    retry: bool = False                   # says nothing of the kernels (stopped, cut): not stored

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class AttnChoice:
    """The path a run trains on ('torch' | 'triton'), why, and the attn_impl the model is built
    with; check is the self-check it rests on (a stored row as a dict), if any."""
    path: str
    reason: str
    impl: str
    check: Optional[dict] = None


class CheckCache(Protocol):
    """Where self-checks are kept (runs/selfchecks.py: the database)."""

    def get(self, gpu_name: str, spec: CheckSpec) -> Optional[dict]: ...
    def put(self, gpu_name: str, spec: CheckSpec, result: SelfCheckResult) -> dict: ...


def interpreter_mode() -> bool:
    """Whether the self-check may run on CPU tensors here (interpreter and the opt-in both set)."""
    return os.environ.get("TRITON_INTERPRET") == "1" and os.environ.get(CPU_ENV) == "1"


def checkable(device: torch.device) -> bool:
    return device.type == "cuda" or (device.type == "cpu" and interpreter_mode())


def gpu_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else CPU_GPU_NAME


def spec_for_model(model: Any, train: Any, device: torch.device) -> CheckSpec:
    """The CheckSpec of a run (model: ModelConfig, train: TrainConfig); tiny sizes on the CPU."""
    def fields(on: bool) -> tuple[str, ...]:
        if not on:
            return ()
        q, k = model.dc_query, model.dc_key
        low, gate = model.dc_lowrank, model.dc_gate
        return tuple(name for name, keep in (("qw", q and low), ("kw", k and low), ("qdd", q and gate),
                                             ("kdd", k and gate), ("static", model.dc_static)) if keep)
    windows = model.layer_windows()
    local = [w for w in windows if w is not None]
    micro = train.micro_batch
    common = dict(n_heads=model.n_head, head_dim=model.head_dim, rank=model.dc_rank,
                  pre=fields(model.dc_pre), post=fields(model.dc_post))
    if device.type == "cpu":   # the interpreter: seconds, two 16-row blocks
        return CheckSpec(**common, window=5, check_len=17, batch=1, seq_len=16, dtype="float32",
                         warmup=0, steps=1, check_batch=1)
    check_len = min(model.seq_len, 257)
    window = min(local[0], check_len - 1) if local else max(1, check_len // 3)
    batch = max(1, min(micro, TIMED_TOKENS // model.seq_len))
    return CheckSpec(**common, window=window, check_len=check_len, batch=batch,
                     seq_len=model.seq_len, timed_window=None if None in windows else min(local))


def _inputs(spec: CheckSpec, B: int, T: int, dtype: torch.dtype, device: torch.device, seed: int):
    """q, k, v [B, H, T, d] and pre / post ComposeWeights (None when that side is off), as leaves."""
    gen = torch.Generator().manual_seed(seed)
    H, R = spec.n_heads, spec.rank

    def rand(*shape: int, scale: float = 1.0) -> Tensor:
        return (torch.randn(*shape, generator=gen) * scale).to(device, dtype).requires_grad_()

    def weights(names: tuple[str, ...]) -> Optional[ComposeWeights]:
        if not names:
            return None
        low = lambda n: rand(B, T, R, H, scale=0.5) if n in names else None  # noqa: E731
        return ComposeWeights(low("qw"), low("qw"), low("kw"), low("kw"),
                              rand(B, T, H, scale=0.5) if "qdd" in names else None,
                              rand(B, T, H, scale=0.5) if "kdd" in names else None,
                              rand(H, H, scale=0.5) if "static" in names else None)
    qkv = [rand(B, H, T, spec.head_dim) for _ in range(3)]
    return qkv, weights(spec.pre), weights(spec.post)


def _leaves(qkv: list[Tensor], pre, post) -> list[tuple[str, Tensor]]:
    out = list(zip(("q", "k", "v"), qkv))
    for side, w in (("pre", pre), ("post", post)):
        if w is not None:
            out += [(f"{side}.{f}", x) for f, x in zip(ComposeWeights._fields, w) if x is not None]
    return out


def _triton(q, k, v, pre, post, window: Optional[int]) -> Tensor:
    """dcmha_triton, with the injected fault when FAULT_ENV is set (tests: the check must fail)."""
    from . import dcmha_triton
    out = dcmha_triton(q, k, v, pre, post, causal=True, window=window)
    return out * FAULT_SCALE if os.environ.get(FAULT_ENV) == "1" else out


def _rel_err(tri: Tensor, ref: Tensor) -> float:
    diff, norm = (tri.double() - ref.double()).norm().item(), ref.double().norm().item()
    return diff / norm if norm > 0 else diff


def check_case(spec: CheckSpec, dtype: torch.dtype, window: Optional[int],
               device: torch.device) -> dict:
    """One case: relative error of the output and every gradient, Triton (dtype) against
    dcmha_torch in float64 on the same rounded values."""
    from . import dcmha_torch
    seed = zlib.crc32(f"{spec.shape}-{dtype}-{window}".encode())
    qkv, pre, post = _inputs(spec, spec.check_batch, spec.check_len, dtype, device, seed)
    leaves = _leaves(qkv, pre, post)
    grad_out = torch.randn(qkv[0].shape, generator=torch.Generator().manual_seed(seed + 1))
    grad_out = grad_out.to(device, dtype)
    tri_out = _triton(*qkv, pre, post, window)
    tri_grads = torch.autograd.grad(tri_out, [x for _, x in leaves], grad_out)
    ref_leaves = [x.detach().double().requires_grad_() for _, x in leaves]
    ref_w = iter(ref_leaves[3:])
    rebuild = lambda w: None if w is None else ComposeWeights(  # noqa: E731
        *(None if x is None else next(ref_w) for x in w))
    ref_pre, ref_post = rebuild(pre), rebuild(post)
    ref_out = dcmha_torch(*ref_leaves[:3], ref_pre, ref_post, causal=True, window=window)
    ref_grads = torch.autograd.grad(ref_out, ref_leaves, grad_out.double())
    errors = {"out": _rel_err(tri_out, ref_out)}
    errors.update({name: _rel_err(g, r) for (name, _), g, r in zip(leaves, tri_grads, ref_grads)})
    worst = max(errors, key=lambda n: errors[n] if math.isfinite(errors[n]) else math.inf)
    failed = [name for name, e in errors.items() if not e < TOL[dtype]]     # NaN fails too
    return {"dtype": str(dtype).removeprefix("torch."), "window": window, "errors": errors,
            "worst": worst, "failed": failed, "tolerance": TOL[dtype], "ok": not failed}


def _case_label(dtype: torch.dtype, window: Optional[int]) -> str:
    return f"{str(dtype).removeprefix('torch.')} " + (f"window {window}" if window else "causal")


def _time_ms(fn, spec: CheckSpec, device: torch.device) -> float:
    """Median ms of fn() (forward + backward) over spec.steps, after spec.warmup untimed calls."""
    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    for _ in range(spec.warmup):
        fn()
    times = []
    for _ in range(spec.steps):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def time_paths(spec: CheckSpec, device: torch.device) -> tuple[float, float]:
    """(triton_ms, torch_ms): forward+backward of one attention call at the timing shape."""
    from . import dcmha_torch
    dtype = getattr(torch, spec.dtype)
    qkv, pre, post = _inputs(spec, spec.batch, spec.seq_len, dtype, device, seed=7)
    leaves = [x for _, x in _leaves(qkv, pre, post)]
    # from a seeded generator: the run seeds its model right after, and this must not move it
    grad_out = torch.randn(qkv[0].shape, generator=torch.Generator().manual_seed(8)).to(device, dtype)
    window = spec.timed_window

    def step(fn) -> None:
        torch.autograd.grad(fn(*qkv, pre, post, window), leaves, grad_out)
    torch_fn = lambda q, k, v, a, b, w: dcmha_torch(q, k, v, a, b, causal=True, window=w)  # noqa: E731
    return _time_ms(lambda: step(_triton), spec, device), _time_ms(lambda: step(torch_fn), spec, device)


def run_selfcheck(spec: CheckSpec, device: torch.device) -> SelfCheckResult:
    """Every case, stopping at the first failure, then (if all passed) the timing. Never raises:
    an exception is a failure with its one-line text."""
    fault = os.environ.get(FAULT_ENV) == "1"
    result = SelfCheckResult(False, None, None, None, asdict(spec), injected_fault=fault)
    for dtype in (torch.float32, torch.bfloat16):
        for window in (None, spec.window):
            label = _case_label(dtype, window)
            try:
                case = check_case(spec, dtype, window, device)
            except Exception as e:     # a launch or compile error on this GPU: the check fails
                result.error = f"{label}: {one_line(e)}"
                return result
            result.cases.append(case)
            if not case["ok"]:
                first, n_bad = case["failed"][0], len(case["failed"])
                result.error = (f"{label}: {first} relative error {case['errors'][first]:.2e} over "
                                f"{case['tolerance']:g} ({n_bad} of {len(case['errors'])} values "
                                "off)" + (f"; {FAULT_ENV} is set" if fault else ""))
                return result
    try:
        result.triton_ms, result.torch_ms = time_paths(spec, device)
    except Exception as e:
        result.error = f"timing at {spec.shape}: {one_line(e)}"
        return result
    finally:
        if device.type == "cuda":
            torch.cuda.empty_cache()
    result.passed = True
    return result


def decide(passed: bool, error: Optional[str], triton_ms: Optional[float],
           torch_ms: Optional[float]) -> tuple[str, str]:
    """(path auto uses, why): Triton only if it passed and was faster."""
    if not passed:
        return "torch", f"self-check failed: {error}"
    if triton_ms is None or torch_ms is None:
        return "torch", "self-check passed but was not timed"
    timing = f"{triton_ms:.2f} ms vs {torch_ms:.2f} ms (Triton vs PyTorch, forward+backward)"
    if triton_ms < torch_ms:
        return "triton", f"self-check passed; Triton faster on this device: {timing}"
    return "torch", f"Triton slower on this device: {timing}"


def one_line(e: BaseException) -> str:
    return " ".join(f"{type(e).__name__}: {e}".split())


class SelfCheckError(RuntimeError):
    """attn_impl=triton was set but the Triton path failed its self-check (or cannot run here)."""


def record(name: str, spec: CheckSpec, result: SelfCheckResult) -> dict:
    """A self-check as stored (runs/selfchecks.py adds id, created_at, versions, commit)."""
    chosen, reason = decide(result.passed, result.error, result.triton_ms, result.torch_ms)
    return {"id": None, "created_at": None, "gpu_name": name, "n_heads": spec.n_heads,
            "head_dim": spec.head_dim, "passed": result.passed, "error": result.error,
            "triton_ms": result.triton_ms, "torch_ms": result.torch_ms, "chosen": chosen,
            "reason": reason, "injected_fault": result.injected_fault, "result": result.to_json()}


def checked(name: str, spec: CheckSpec, device: torch.device, cache: Optional[CheckCache] = None,
            *, fresh: bool = False, limit: Optional[float] = None, limit_why: str = "") -> dict:
    """The stored self-check for (device, versions, commit, shape), else a new one, run in a
    process of its own (selfcheck_process.py: a kernel fault cannot reach the caller), within
    limit seconds if given (limit_why: whose limit), and stored unless it says nothing of the
    kernels (retry). An injected fault is never served from, nor reused out of, the cache."""
    from .selfcheck_process import CRASH_ENV, run_isolated
    fault = os.environ.get(FAULT_ENV) == "1" or os.environ.get(CRASH_ENV) == "1"
    if cache is not None and not (fresh or fault):
        found = cache.get(name, spec)
        if found is not None and not found.get("injected_fault"):
            return found
    result = run_isolated(spec, device, limit, limit_why)
    result.injected_fault = result.injected_fault or fault
    if cache is not None and not result.retry:
        try:
            return cache.put(name, spec, result)
        except Exception:      # the database is busy or gone: the verdict still holds for this run
            pass
    return record(name, spec, result)


def outside_kernel_limits(model: Any) -> Optional[str]:
    """Why the fused kernels cannot take this model's attention (ModelConfig), or None."""
    from .triton_dcmha import HEAD_DIMS, MAX_HEADS, MAX_RANK
    low, high = HEAD_DIMS
    if not low <= model.head_dim <= high:
        return f"head dim {model.head_dim} is outside the Triton kernels' {low}..{high}"
    if model.n_head > MAX_HEADS:
        return f"{model.n_head} heads are more than the Triton kernels' {MAX_HEADS}"
    if model.dc_lowrank and model.dc_rank > MAX_RANK:
        return f"dc_rank {model.dc_rank} is above the Triton kernels' {MAX_RANK}"
    return None


def choose_attention(model: Any, train: Any, device: torch.device,
                     cache: Optional[CheckCache] = None, limit: Optional[float] = None,
                     limit_why: str = "") -> AttnChoice:
    """Which path a run (model: ModelConfig, train: TrainConfig) trains on, and why. Under
    attn_impl=auto nothing raises: a failed, slower or crashed Triton path means the PyTorch path.
    attn_impl=triton raises SelfCheckError with the self-check's one-line error."""
    impl = model.attn_impl
    if model.arch != "dcformer":
        return AttnChoice("torch", "Transformer++: PyTorch attention (no DCMHA)", impl)
    if impl in ("torch", "reference"):
        return AttnChoice("torch", f"attn_impl={impl} set in the config", impl)
    explicit = impl == "triton"
    if not checkable(device):
        if explicit:
            raise SelfCheckError("attn_impl=triton needs a CUDA GPU; use attn_impl=auto")
        return AttnChoice("torch", "CPU: the PyTorch path", "torch")
    from . import triton_available
    if not triton_available():
        if explicit:
            raise SelfCheckError("attn_impl=triton needs the triton package; use attn_impl=auto")
        return AttnChoice("torch", "triton is not installed: the PyTorch path", "torch")
    outside = outside_kernel_limits(model)
    if outside:
        if explicit:
            raise SelfCheckError(f"attn_impl=triton: {outside}; use attn_impl=auto, which trains "
                                 "on the PyTorch path")
        return AttnChoice("torch", f"{outside}: the PyTorch path", "torch")
    try:
        name = gpu_name(device)
        check = checked(name, spec_for_model(model, train, device), device, cache, limit=limit,
                        limit_why=limit_why)
    except Exception as e:      # never fail a run under auto; attn_impl=triton fails below
        check = {"passed": False, "error": f"the self-check could not run: {one_line(e)}",
                 "chosen": "torch", "id": None, "gpu_name": str(device)}
        check["reason"] = f"self-check failed: {check['error']}"
    if explicit:
        if not check["passed"]:
            raise SelfCheckError(f"attn_impl=triton: the Triton self-check failed on "
                                 f"{check['gpu_name']}: {check['error']}; use attn_impl=auto, "
                                 "which trains on the PyTorch path")
        return AttnChoice("triton", f"attn_impl=triton set in the config; {check['reason']}",
                          "triton", check)
    return AttnChoice(check["chosen"], check["reason"], check["chosen"], check)
