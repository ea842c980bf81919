"""How often the compute multiplier's 95% interval holds the true multiplier, on simulated studies.

Each study: sizes s1..s3 of tests/conftest.py's ladder, n seeds per size and architecture,
Transformer++ on a known power law, DCFormer at `--true` times its compute, each run's loss plus
normal seed noise (sd `--sigma`; `--rho` of it shared by the two architectures of a seed). The
multiplier comes from dcpoc.decision.multiplier.compute_multiplier, the code the verdict uses; the
plain percentile interval is kept beside it for comparison. Prints one JSON line.

    python scripts/bootstrap_coverage.py --seeds 3 --studies 100
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from conftest import SIZES, run, tf_loss  # noqa: E402  (the fixtures' ladder, by hand)
from dcpoc.decision import multiplier as mult  # noqa: E402


def study(rng: np.random.Generator, seeds: int, true: float, sigma: float, rho: float) -> pd.DataFrame:
    rows = []
    for preset in ("s1", "s2", "s3"):
        params, tokens = SIZES[preset]
        compute = 6 * params * tokens
        for seed in range(1, seeds + 1):
            shared = rng.normal(0, sigma)
            own = rng.normal(0, sigma, 2)
            noise = math.sqrt(rho) * shared + math.sqrt(1 - rho) * own
            rows.append(run("transformer", preset, seed, tf_loss(compute) + noise[0]))
            rows.append(run("dcformer", preset, seed, tf_loss(true * compute) + noise[1]))
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--studies", type=int, default=100)
    parser.add_argument("--true", type=float, default=2.0)
    parser.add_argument("--sigma", type=float, default=0.01)
    parser.add_argument("--rho", type=float, default=0.0)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    held = {"shipped": 0, "percentile": 0}
    counted, start = 0, time.time()
    for _ in range(args.studies):
        result = mult.compute_multiplier(study(rng, args.seeds, args.true, args.sigma, args.rho))
        m = result.multiplier
        if not m.exists:
            continue
        counted += 1
        held["shipped"] += m.low <= args.true <= m.high
        factor = result.widening
        low, high = (m.mean * (b / m.mean) ** (1 / factor) for b in (m.low, m.high))   # undo the widening
        held["percentile"] += low <= args.true <= high
    print(json.dumps({**vars(args), "with_interval": counted, "factor": round(factor, 3),
                      **{f"coverage_{k}": round(v / max(counted, 1), 3) for k, v in held.items()},
                      "seconds": round(time.time() - start)}))


if __name__ == "__main__":
    main()
