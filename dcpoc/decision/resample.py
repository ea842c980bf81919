"""Which runs one bootstrap resample draws (multiplier._bootstrap): row positions, drawn with
replacement within each size and token budget, by seed where both architectures ran the same seeds.
Positions, not rows: the bootstrap copies only the few columns it needs, once per resample."""
from __future__ import annotations

import numpy as np
import pandas as pd

# what a resample needs of a run: the ladder (fit and inversion) and the speed and FLOPs ratios
RESAMPLED = ["arch", "preset", "tokens", "seed", "loss", "compute", "fpt", "speed", "speed_device"]
# per size and budget: Transformer++ positions, DCFormer positions (None where a side has none),
# and whether they pair by seed (then the i-th of each is the same seed)
Plan = list[tuple["np.ndarray | None", "np.ndarray | None", bool]]


def _positions(frame: pd.DataFrame) -> dict[tuple, np.ndarray]:
    """(preset, tokens) -> the positions of its rows, in the order the sizes first appear."""
    keys = list(zip(frame["preset"], frame["tokens"]))
    at: dict[tuple, list[int]] = {}
    for i, key in enumerate(keys):
        at.setdefault(key, []).append(i)
    return {key: np.array(rows) for key, rows in at.items()}


def draw_plan(tf: pd.DataFrame, dc: pd.DataFrame) -> Plan:
    """Per size and token budget (Transformer++'s in the order they first appear, then DCFormer's
    own): the positions of its runs on each side, and whether both ran the same seeds there, each
    once (then b is ordered as a's seeds, so one drawn index is one seed on both sides)."""
    tf_at, dc_at = _positions(tf), _positions(dc)
    tf_seed, dc_seed = tf["seed"].to_numpy(), dc["seed"].to_numpy()
    plan: Plan = []
    for key in dict.fromkeys([*tf_at, *dc_at]):
        a, b = tf_at.get(key), dc_at.get(key)
        paired = (a is not None and b is not None and len(set(tf_seed[a])) == len(a)
                  and len(set(dc_seed[b])) == len(b) and set(tf_seed[a]) == set(dc_seed[b]))
        if paired:
            at = {seed: i for i, seed in zip(b, dc_seed[b])}
            b = np.array([at[seed] for seed in tf_seed[a]])
        plan.append((a, b, paired))
    return plan


def resample(plan: Plan, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the runs drawn with replacement within each size and token budget (every one
    keeps its count of runs: a resample that lost one would change the ladder and its mix, not the
    seed noise). Where both architectures ran the same seeds there, seeds are drawn and each brings
    both of its runs: a seed fixes the batches both see, so their losses move together, and
    resampling them apart would count that shared noise as if it were independent. Both sides
    must have runs (the bootstrap runs only then)."""
    tf_parts, dc_parts = [], []
    for a, b, paired in plan:
        if paired:
            drawn = rng.integers(0, len(a), len(a))
            tf_parts.append(a[drawn])
            dc_parts.append(b[drawn])
            continue
        tf_parts += [a[rng.integers(0, len(a), len(a))]] if a is not None else []
        dc_parts += [b[rng.integers(0, len(b), len(b))]] if b is not None else []
    return np.concatenate(tf_parts), np.concatenate(dc_parts)
