"""Look inside a DCFormer: effective head-composition matrices, gates and attention maps on a text.

Composition at a query position t and key position s mixes the heads' values a (a row vector over
heads) as a' = a @ (I + static + Q[t] + K[s]) (DCMHA.md, Compose), with the query-wise matrix
Q[t] = sum_r qw1[t,r]^T qw2[t,r] + diag(qdd[t]) and the key-wise K[s] built the same way. This module
reports I + static + Q[t] ("query-wise") and I + K[s] ("key-wise") for pre and post, at one token and
averaged over the text, and how far each is from the identity (Frobenius norm of matrix - I).

Torch is imported inside the functions that need it: the dashboard imports this module only for
run_inspect_cli and find_twin, which run `python -m dcpoc inspect` in a subprocess instead.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd

COMPS = ("pre", "post")
SIDES = ("query", "key")
REPO_ROOT = Path(__file__).resolve().parent.parent


# ----------------------------------------------------------------------------- torch side


def composition_matrices(w, n_head: int, T: int) -> dict[str, Any]:
    """I + static + Q[t] (query) and I + K[s] (key) of one ComposeWeights for batch row 0:
    {"query": (T, H, H), "key": (T, H, H)} tensors; source head on rows, target head on columns."""
    import torch
    ref = next(x for x in w if x is not None)
    eye = torch.eye(n_head, dtype=torch.float64, device=ref.device).expand(T, n_head, n_head)

    def side(w1, w2, gate):
        m = eye.clone()
        if w1 is not None:
            m = m + torch.einsum("trh,trg->thg", w1[0].double(), w2[0].double())
        if gate is not None:
            m = m + torch.diag_embed(gate[0].double())
        return m
    query = side(w.qw1, w.qw2, w.qdd)
    if w.static is not None:
        query = query + w.static.double()
    return {"query": query, "key": side(w.kw1, w.kw2, w.kdd)}


def _layer_inputs(model, idx) -> list:
    """The normalised input X (B, T, D) of every attention layer, from one forward pass."""
    inputs: list = []
    hooks = [b.attn.register_forward_pre_hook(lambda m, args: inputs.append(args[0]))
             for b in model.blocks]
    try:
        model(idx)
    finally:
        for h in hooks:
            h.remove()
    return inputs


def _attention_maps(attn, x, cos, sin, pre, post):
    """Probabilities (H, T, T) before composition (plain softmax of the masked logits) and after
    (the DCMHA pipeline: pre-compose, mask, softmax, post-compose), batch row 0, float64."""
    import torch
    from .kernels import attention_mask, compose
    T = x.shape[1]
    q, k, _ = attn.project_qkv(x, cos, sin)                                  # (B, H, T, d)
    logits = q.double() @ k.double().transpose(-1, -2) * attn.head_dim ** -0.5   # (B, H, T, T)
    keep = attention_mask(T, T, True, attn.window, device=x.device)
    before = torch.softmax(logits.masked_fill(~keep, float("-inf")), dim=-1)
    if pre is None and post is None:
        return before[0], before[0]
    composed = compose(logits, pre) if pre is not None else logits
    after = torch.softmax(composed.masked_fill(~keep, float("-inf")), dim=-1)
    if post is not None:
        after = compose(after, post)
    return before[0], after[0]


def _distance(m) -> float:
    """Mean over tokens of ||M - I||_F; m: (T, H, H)."""
    import torch
    eye = torch.eye(m.shape[-1], dtype=m.dtype, device=m.device)
    return float((m - eye).flatten(1).norm(dim=1).mean())


def _rounded(x, digits: int = 5) -> list:
    return x.detach().cpu().double().round(decimals=digits).tolist()


def analyse(model, ids: list[int], token: int = -1, head: int = 0) -> dict[str, Any]:
    """Per layer: composition matrices (pre/post x query/key, at `token` and averaged over the text),
    gates per head, distances from identity, and the attention map of `head` before and after
    composition. A Transformer++ model gives its attention maps only. JSON-serialisable."""
    import torch
    from .config import ConfigError
    T = len(ids)
    H = model.cfg.n_head
    if not -T <= token < T:      # was wrapped around: another token than the one asked for
        raise ConfigError(f"query token {token} is outside this text's {T} tokens: use 0 to {T - 1} "
                          f"(or -1 to -{T} from the end)")
    if not 0 <= head < H:        # was clamped: another head than the one asked for
        raise ConfigError(f"head {head} does not exist: this model has {H} heads, 0 to {H - 1}")
    token = token % T
    idx = torch.tensor([ids], device=next(model.parameters()).device)
    layers = []
    with torch.no_grad():
        cos, sin = model.rope_cos[:T], model.rope_sin[:T]
        for i, (block, x) in enumerate(zip(model.blocks, _layer_inputs(model, idx))):
            attn = block.attn
            pre, post = attn.compose_weights(x)
            before, after = _attention_maps(attn, x, cos, sin, pre, post)
            layer = {"layer": i, "window": attn.window, "attention_before": _rounded(before[head]),
                     "attention_after": _rounded(after[head]), "matrices": {}, "gates": {},
                     "distance": {}}
            for comp, w in (("pre", pre), ("post", post)):
                if w is not None:
                    _add_composition(layer, comp, w, H, T, token)
            layers.append(layer)
    return {"arch": model.cfg.arch, "n_head": H, "n_tokens": T, "token": token, "head": head,
            "tokens": [bytes([b]).decode("latin-1") for b in ids], "layers": layers}


def _add_composition(layer: dict, comp: str, w, H: int, T: int, token: int) -> None:
    mats = composition_matrices(w, H, T)
    for side, m in mats.items():
        layer["matrices"][f"{comp}_{side}_at"] = _rounded(m[token])
        layer["matrices"][f"{comp}_{side}_mean"] = _rounded(m.mean(0))
        layer["distance"][f"{comp}_{side}"] = _distance(m)
    for side, gate in (("query", w.qdd), ("key", w.kdd)):
        if gate is not None:
            layer["gates"][f"{comp}_{side}_at"] = _rounded(gate[0, token])
            layer["gates"][f"{comp}_{side}_mean"] = _rounded(gate[0].mean(0))


def inspect_run(run_id: str, *, text: str | None = None, sample: bool = False, token: int = -1,
                head: int = 0, twin: str | None = None) -> dict[str, Any]:
    """analyse() for a run's checkpoint on text (or a validation sample of its corpus), plus the
    same head's attention maps of a Transformer++ twin when given."""
    from .checkpoint import load_run_model
    from .config import ConfigError
    from .data import encode
    model, run = load_run_model(run_id)
    if model.cfg.arch != "dcformer":
        raise ConfigError(f"run '{run_id}' is a {model.cfg.arch} run: inspect a dcformer run "
                          "(pass the Transformer++ run as --twin)")
    if sample:
        text = validation_sample(run.train.corpus, run.train.val_fraction, model.cfg.seq_len)
    given = encode(text or "")
    ids = given[-model.cfg.seq_len:]
    if len(ids) < 2:
        raise ConfigError("the text is too short: give at least two characters")
    cut = {"kept": len(ids), "given": len(given)} if len(given) > len(ids) else None
    result = {"run": run_id, "text": bytes(ids).decode("utf-8", errors="replace"), "cut": cut,
              **analyse(model, ids, token, head), "twin": None}
    if twin:
        twin_model, twin_run = load_run_model(twin)
        if twin_model.cfg.arch != "transformer":
            raise ConfigError(f"--twin '{twin}' is a {twin_model.cfg.arch} run: give a Transformer++ run")
        if twin_run.preset != run.preset:   # other heads and context: maps that do not line up
            raise ConfigError(f"--twin '{twin}' is a {twin_run.preset} run and '{run_id}' a "
                              f"{run.preset} run: give the Transformer++ run of the same preset")
        twin_ids = ids[-twin_model.cfg.seq_len:]
        shown = analyse(twin_model, twin_ids, token, head)
        result["twin"] = {"run": twin, "arch": twin_model.cfg.arch,
                          "attention": [layer["attention_before"] for layer in shown["layers"]]}
    return result


def validation_sample(corpus: str, val_fraction: float, n_bytes: int) -> str:
    """The first n_bytes of the validation split of a corpus, decoded."""
    from .data import load_corpus, split_corpus
    _, val = split_corpus(load_corpus(corpus), val_fraction)
    return bytes(val[:n_bytes].tolist()).decode("utf-8", errors="replace")


def format_inspection(result: dict[str, Any]) -> str:
    """A plain-text summary: distance from identity per layer."""
    lines = [f"run {result['run']}: {result['n_tokens']} tokens, query token {result['token']}, "
             f"head {result['head']}" + (f"; the text's last {result['cut']['kept']} of "
                                         f"{result['cut']['given']} bytes (the model's context)"
                                         if result.get("cut") else "")
             + (f"; Transformer++ twin {result['twin']['run']}" if result.get("twin") else ""),
             "distance from identity (mean over tokens of ||M - I||_F):"]
    frame = distance_frame(result)
    lines.append(frame.pivot(index="layer", columns="matrix", values="distance")
                 .to_string(float_format=lambda v: f"{v:.4f}"))
    return "\n".join(lines)


# ----------------------------------------------------------------------------- frames (no torch)


def distance_frame(result: dict[str, Any]) -> pd.DataFrame:
    """Rows (layer, matrix, distance): matrix is e.g. 'pre_query'."""
    return pd.DataFrame([{"layer": layer["layer"], "matrix": name, "distance": value}
                         for layer in result["layers"] for name, value in layer["distance"].items()],
                        columns=["layer", "matrix", "distance"])


def matrix_frame(result: dict[str, Any], layer: int, where: str) -> pd.DataFrame:
    """Rows (matrix, source, target, value) of one layer's matrices; where is 'at' or 'mean'."""
    rows = []
    for key, m in result["layers"][layer]["matrices"].items():
        if key.endswith(f"_{where}"):
            rows += [{"matrix": key.removesuffix(f"_{where}"), "source": h, "target": g, "value": v}
                     for h, row in enumerate(m) for g, v in enumerate(row)]
    return pd.DataFrame(rows, columns=["matrix", "source", "target", "value"])


def gate_frame(result: dict[str, Any], layer: int, where: str) -> pd.DataFrame:
    """Rows (gate, head, value) of one layer; where is 'at' or 'mean'."""
    rows = [{"gate": key.removesuffix(f"_{where}"), "head": h, "value": v}
            for key, g in result["layers"][layer]["gates"].items() if key.endswith(f"_{where}")
            for h, v in enumerate(g)]
    return pd.DataFrame(rows, columns=["gate", "head", "value"])


def attention_frame(result: dict[str, Any], layer: int, labels: dict[str, str]) -> pd.DataFrame:
    """Rows (panel, query, key, value) of the chosen head: before / after composition and the
    twin's; labels maps 'before', 'after', 'twin' to the panel titles."""
    maps = {labels["before"]: result["layers"][layer]["attention_before"],
            labels["after"]: result["layers"][layer]["attention_after"]}
    twin = result.get("twin")
    if twin and layer < len(twin["attention"]):
        maps[labels["twin"]] = twin["attention"][layer]
    return pd.DataFrame([{"panel": panel, "query": t, "key": s, "value": v}
                         for panel, m in maps.items() for t, row in enumerate(m)
                         for s, v in enumerate(row)], columns=["panel", "query", "key", "value"])


def inspectable_runs(runs: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """(the succeeded runs whose weights are on this machine, how many succeeded DCFormer runs'
    weights are not): imported recorded results carry only their numbers."""
    from .runs.paths import found_checkpoint
    finished = runs[runs["status"].eq("succeeded")] if not runs.empty else runs
    here = [found_checkpoint(run) is not None for run in finished.to_dict("records")]
    here = pd.Series(here, index=finished.index, dtype=bool)
    return finished[here], int((~here & finished["arch"].eq("dcformer")).sum()) if len(finished) else 0


def find_twin(runs: pd.DataFrame, run_id: str) -> str | None:
    """A succeeded Transformer++ run of the same study, preset and seed as run_id (newest first),
    one with the DCFormer run's QK-norm setting first: in a ladder, the rung that differs from it
    by DCMHA alone."""
    from .decision.facts import with_variant
    runs = with_variant(runs)
    run = runs[runs["id"].eq(run_id)]
    if run.empty:
        return None
    r = run.iloc[0]
    same_study = runs["study"].eq(r["study"]) if pd.notna(r["study"]) else runs["study"].isna()
    twins = runs[runs["arch"].eq("transformer") & runs["status"].eq("succeeded") & same_study
                 & runs["preset"].eq(r["preset"]) & runs["seed"].eq(r["seed"])]
    qk_norm = r["variant"] != "dcformer-noqknorm"
    twins = twins.assign(other=twins["variant"].eq("transformer-qknorm") != qk_norm)
    return None if twins.empty else str(twins.sort_values("other", kind="stable").iloc[0]["id"])


def run_inspect_cli(run_id: str, *, text: str | None, sample: bool, token: int, head: int,
                    twin: str | None, timeout_s: float = 120) -> dict[str, Any]:
    """`python -m dcpoc inspect ... --json` in a subprocess, so the caller never imports torch.
    RuntimeError with the command's one-line error when it fails."""
    args = [sys.executable, "-m", "dcpoc", "inspect", "--run", run_id, "--token", str(token),
            "--head", str(head), "--json"]
    args += ["--sample"] if sample else [f"--text={text or ''}"]   # = keeps a leading '-' a value
    args += ["--twin", twin] if twin else []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p)}
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout_s, env=env,
                          cwd=REPO_ROOT)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        raise RuntimeError(lines[-1] if lines else f"exit code {done.returncode}")
    return json.loads(done.stdout)
