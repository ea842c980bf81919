"""Ahead-of-time compilation of Triton launches for a GPU target, on any machine (no GPU needed).

The CPU interpreter checks what kernels compute, not whether they compile for a GPU or fit its
shared memory and registers. compile_launches runs a launcher with a kernel module's @triton.jit
kernels swapped for recorders that compile each launch for the target (Triton's bundled ptxas)
instead of running it. TRITON_INTERPRET must be unset when the kernel module is imported, so callers
usually run this in a fresh process (tests/test_triton_dcmha.py does).
"""
from __future__ import annotations

import contextlib
import io
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import torch
import triton

HOPPER_SHARED_BYTES = 227 * 1024     # per thread block on sm_90 (H100, H200)


@dataclass
class CompiledLaunch:
    kernel: str
    num_warps: int
    shared_bytes: int
    registers: int           # per thread, from ptxas -v (-1 if not reported)
    spill_bytes: int         # spill stores per thread, from ptxas -v (-1 if not reported)
    flags: dict              # the launch's bool constexprs (which variant of the kernel this is)
    loop_spill_stores: int = -1  # spill stores / reloads inside loop bodies, bytes per thread per
    loop_spill_loads: int = -1   # pass (see loop_spills; -1: no cuobjdump to read the SASS)


_TYPES = {torch.float32: "*fp32", torch.bfloat16: "*bf16", torch.float16: "*fp16", torch.int32: "*i32",
          torch.int64: "*i64"}


def _compile_one(kernel, args: tuple, kwargs: dict, target) -> CompiledLaunch:
    """Compile kernel for target with the signature and specialisation a real launch would get:
    tensors as 16-byte-aligned pointers, ints equal to 1 as constants, ints divisible by 16 hinted."""
    num_warps = kwargs.pop("num_warps", 4)
    num_stages = kwargs.pop("num_stages", 3)
    maxnreg = kwargs.pop("maxnreg", None)
    constants, signature, attrs = dict(kwargs), {}, {}
    flags = {name: value for name, value in kwargs.items() if isinstance(value, bool)}
    for i, (name, arg) in enumerate(zip(kernel.arg_names, args)):
        if isinstance(arg, torch.Tensor):
            signature[name] = _TYPES[arg.dtype]
            attrs[(i,)] = [["tt.divisibility", 16]]
        elif isinstance(arg, bool):
            constants[name] = arg
        elif isinstance(arg, int):
            if arg == 1:
                constants[name] = 1
            else:
                signature[name] = "i64" if abs(arg) >= 2**31 else "i32"
                if arg % 16 == 0:
                    attrs[(i,)] = [["tt.divisibility", 16]]
        elif isinstance(arg, float):
            signature[name] = "fp32"
        else:
            raise TypeError(f"{name}: cannot compile an argument of type {type(arg).__name__}")
    signature.update({name: "constexpr" for name in constants})
    signature = {name: signature[name] for name in kernel.arg_names}
    src = triton.compiler.ASTSource(fn=kernel, signature=signature, constexprs=constants, attrs=attrs)
    backend = triton.compiler.make_backend(target)
    options = backend.parse_options({"num_warps": num_warps, "num_stages": num_stages,
                                     **({} if maxnreg is None else {"maxnreg": maxnreg})})
    log = io.StringIO()
    with contextlib.redirect_stdout(log):      # ptxas -v output, printed by Triton on request
        compiled = triton.compile(src, target=target, options=options.__dict__)
    registers = re.findall(r"Used (\d+) registers", log.getvalue())
    spills = re.findall(r"(\d+) bytes spill stores", log.getvalue())
    return CompiledLaunch(kernel.fn.__name__ if hasattr(kernel, "fn") else kernel.__name__, num_warps,
                          compiled.metadata.shared, int(registers[-1]) if registers else -1,
                          int(spills[-1]) if spills else -1, flags,
                          *loop_spills(compiled.asm["cubin"]))


_SASS_LINE = re.compile(r"/\*([0-9a-f]{4,})\*/\s+(.*?)\s*;")
_SPILL = re.compile(r"^(?:@!?U?P\w+\s+)?(STL|LDL)((?:\.\w+)*)\s")
_SPILL_BYTES = {"U8": 1, "S8": 1, "U16": 2, "S16": 2, "64": 8, "128": 16}


def _cuobjdump() -> Optional[Path]:
    """Triton's bundled cuobjdump (triton.knobs, Triton 3.4 and later), or None."""
    try:
        path = Path(triton.knobs.nvidia.cuobjdump.path)
    except (AttributeError, RuntimeError):     # no such knob, or the knob finds no binary
        return None
    return path if path.is_file() else None


def loop_spills(cubin: bytes) -> tuple[int, int]:
    """sass_loop_spills of a compiled kernel, disassembled by Triton's bundled cuobjdump; (-1, -1)
    where this Triton has none or it fails."""
    tool = _cuobjdump()
    if tool is None:
        return -1, -1
    with tempfile.NamedTemporaryFile(suffix=".cubin") as f:
        f.write(cubin)
        f.flush()
        try:
            sass = subprocess.run([str(tool), "-sass", f.name], capture_output=True, text=True,
                                  check=True, timeout=120).stdout
        except (OSError, subprocess.SubprocessError):
            return -1, -1
    return sass_loop_spills(sass)


def sass_loop_spills(sass: str) -> tuple[int, int]:
    """(store bytes, reload bytes) per thread that spill instructions (STL, LDL) move inside loop
    bodies of a SASS listing, each body counted once; (-1, -1) if the listing holds no instruction.
    ptxas' spill count mixes these, which run on every iteration of a sweep, with spills before and
    after the loops (values kept across the sweep for its epilogue), which run once per program.
    Reloads without stores in a loop are loop-invariant values read back from L1 on each iteration;
    stores in a loop mean the body's live values do not fit in the registers. A loop body spans a
    backward branch's target to the branch, unless an unconditional EXIT lies between (a block
    after the exit that branches back is not a loop)."""
    code = [(int(m.group(1), 16), m.group(2)) for m in _SASS_LINE.finditer(sass)]
    if not code:
        return -1, -1
    exits = [addr for addr, op in code if op.split()[0] == "EXIT"]
    loops = [(lo, addr) for addr, op in code
             for lo in (int(t, 16) for t in re.findall(r"\bBRA\b.*?0x([0-9a-f]+)", op))
             if lo < addr and not any(lo <= e <= addr for e in exits)]
    moved = {"STL": 0, "LDL": 0}
    for addr, op in code:
        spill = _SPILL.match(op + " ")
        if spill and any(lo <= addr <= hi for lo, hi in loops):
            suffixes = spill.group(2).split(".")
            moved[spill.group(1)] += next((_SPILL_BYTES[x] for x in suffixes if x in _SPILL_BYTES), 4)
    return moved["STL"], moved["LDL"]


class _Recorder:
    def __init__(self, kernel, target, out: list):
        self.kernel, self.target, self.out = kernel, target, out

    def __getitem__(self, grid):
        def launch(*args, **kwargs):
            self.out.append(_compile_one(self.kernel, args, dict(kwargs), self.target))
        return launch


def compile_launches(module, kernel_names: list[str], launch: Callable[[], None], arch: int = 90,
                     warp_size: int = 32) -> list[CompiledLaunch]:
    """Run launch() with module.<kernel_names> compiling for cuda:arch instead of running; returns
    one CompiledLaunch per kernel launch, in order. Outputs of the launches stay unwritten."""
    import os
    from triton.backends.compiler import GPUTarget

    target = GPUTarget("cuda", arch, warp_size)
    compiled: list[CompiledLaunch] = []
    saved = {name: getattr(module, name) for name in kernel_names}
    # ptxas prints its -v report only when it runs: a kernel found in Triton's cache would report
    # nothing (-1), so every launch is compiled afresh
    knobs = {"TRITON_DUMP_PTXAS_LOG": "1", "TRITON_ALWAYS_COMPILE": "1"}
    old = {key: os.environ.get(key) for key in knobs}
    os.environ.update(knobs)
    try:
        for name, kernel in saved.items():
            setattr(module, name, _Recorder(kernel, target, compiled))
        launch()
    finally:
        for name, kernel in saved.items():
            setattr(module, name, kernel)
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return compiled
