"""Registers and spills per Triton DCMHA kernel on a GPU target, measured on any machine.

Spills and full register files make a kernel slow on a real GPU, and ptxas (bundled with Triton)
reports both without one. `python -m dcpoc.kernels.registers` cross-compiles every kernel through the
real launchers (triton_utils.compile_launches; sm_90 by default) at the shapes that matter and prints
one row per kernel launch: block sizes, warps, registers per thread, spill bytes per thread, the
spill stores and reloads inside the sweep loops (read from the SASS: those run once per block of
the sweep, the rest once per program), shared memory. The compile runs in a fresh process because
TRITON_INTERPRET must be unset when the kernels are defined (tests set it), so measure() works from
tests and notebooks too.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

KERNELS = ["_dcmha_fwd_kernel", "_dcmha_bwd_delta_kernel", "_dcmha_bwd_dkdv_kernel",
           "_dcmha_bwd_dq_kernel"]
# 65,536 registers per SM: at 128 per thread two blocks of 8 warps (or one of 16) stay resident
MAX_REGISTERS = 128


@dataclass(frozen=True)
class Shape:
    """One compile: H heads x head dim d, rank R, dtype, every compose term but static unless
    static, in both compositions (the paper's DCFormer++ layer is R 2, causal, no static)."""
    heads: int
    head_dim: int
    rank: int = 2
    dtype: str = "bfloat16"
    static: bool = False
    causal: bool = True
    window: Optional[int] = None

    @property
    def label(self) -> str:
        return f"H{self.heads} d{self.head_dim} {self.dtype} R{self.rank}"


# the paper's 405M-1.4B shape (16 x 64) and a d-128 shape (8 x 128), bf16, causal
TARGET_SHAPES = (Shape(16, 64), Shape(8, 128))


def _compile_shape(shape: Shape) -> list[dict]:
    """Compile every launch of one forward and backward for sm_90, in this process (TRITON_INTERPRET
    must be unset). One dict per launch: CompiledLaunch's fields plus the block sizes."""
    import torch
    from . import triton_dcmha as m, triton_utils
    from .reference import ComposeWeights

    B, T, H, d, R = 1, 64, shape.heads, shape.head_dim, shape.rank
    q = torch.zeros(B, H, T, d, dtype=getattr(torch, shape.dtype))
    w = ComposeWeights(*(torch.zeros(B, T, R, H) for _ in range(4)), torch.zeros(B, T, H),
                       torch.zeros(B, T, H), torch.zeros(H, H) if shape.static else None)
    window = T + 1 if shape.window is None else shape.window

    def launch():
        pre, post = m._pack(w, (B, T, H), q.device), m._pack(w, (B, T, H), q.device)
        o, lse = m._launch_forward(q, q, q, pre, post, shape.causal, window)
        m._launch_backward(q, q, q, o, lse, q, pre, post, shape.causal, window)

    blocks = m._pick_blocks(m.triton.next_power_of_2(H), d, q.element_size())
    rows = []
    for c in triton_utils.compile_launches(m, KERNELS, launch):
        part = {(True, False): " dK", (False, True): " dV"}.get(
            (c.flags.get("DO_DK"), c.flags.get("DO_DV")), "")
        rows.append({**asdict(shape), "kernel": c.kernel.removeprefix("_dcmha_").removesuffix("_kernel")
                     + part, "block_t": blocks.block_t, "block_s": blocks.block_s, "chunk": blocks.chunk,
                     "num_warps": c.num_warps, "registers": c.registers, "spill_bytes": c.spill_bytes,
                     "loop_spill_stores": c.loop_spill_stores, "loop_spill_loads": c.loop_spill_loads,
                     "shared_bytes": c.shared_bytes})
    return rows


def measure(shapes: tuple[Shape, ...] = TARGET_SHAPES, timeout: float = 600) -> list[dict]:
    """Cross-compile shapes in a fresh process; one dict per kernel launch (see _compile_shape).
    Raises RuntimeError with the compiler's message if a compile fails."""
    env = {key: value for key, value in os.environ.items() if key != "TRITON_INTERPRET"}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[2]),
                                         env.get("PYTHONPATH", "")])
    run = subprocess.run([sys.executable, "-m", "dcpoc.kernels.registers", "--worker",
                          json.dumps([asdict(s) for s in shapes])],
                         env=env, capture_output=True, text=True, timeout=timeout)
    if run.returncode != 0:
        raise RuntimeError(f"cross-compiling the DCMHA kernels failed: {run.stderr[-3000:]}")
    return [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]


def format_table(rows: list[dict]) -> str:
    """A Markdown table: shape, kernel, blocks (t x s, head-dim chunk), warps, registers, spills
    (ptxas' total, and the stores / reloads inside the sweep loops), shared memory."""
    lines = ["| shape | kernel | BLOCK_T x BLOCK_S, chunk | warps | registers | spill bytes "
             "| in the sweep: stores / reloads | shared KiB |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {Shape(**{k: r[k] for k in Shape.__dataclass_fields__}).label} | {r['kernel']} "
                     f"| {r['block_t']} x {r['block_s']}, {r['chunk']} | {r['num_warps']} "
                     f"| {r['registers']} | {r['spill_bytes']} "
                     f"| {r['loop_spill_stores']} / {r['loop_spill_loads']} "
                     f"| {r['shared_bytes'] / 1024:g} |")
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dcpoc.kernels.registers",
                                     description="Registers and spills per DCMHA kernel, sm_90")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        for shape in json.loads(args.worker):
            for row in _compile_shape(Shape(**shape)):
                print(json.dumps(row), flush=True)
        return 0
    rows = measure()
    print(format_table(rows))
    over = [r for r in rows if r["registers"] > MAX_REGISTERS or r["spill_bytes"] != 0]
    print(f"\ntarget: <= {MAX_REGISTERS} registers and no spills per thread; "
          f"{len(rows) - len(over)} of {len(rows)} launches meet it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
