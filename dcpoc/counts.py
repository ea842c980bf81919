"""Parameter and FLOP counts of a model config, by arithmetic alone.

No torch here: the dashboard (which never imports torch) estimates study costs from these counts.
dcpoc.model re-exports both functions.
"""
from __future__ import annotations

from .config import ModelConfig


def count_parameters(cfg: ModelConfig) -> dict[str, int]:
    """Parameter counts without allocating the model: total, embedding (a lookup, no matmul),
    non_embedding (includes the output head) and dynamic (the DCMHA extra)."""
    D, H, F_, L, V = cfg.n_embd, cfg.n_head, cfg.ffn_hidden, cfg.n_layer, cfg.vocab_size
    per_layer = 4 * D * D + 3 * D * F_ + 2 * D + (2 * cfg.head_dim if cfg.qk_norm else 0)
    dynamic = 0
    if cfg.arch == "dcformer":
        n_branches = (cfg.dc_pre + cfg.dc_post) * (cfg.dc_query + cfg.dc_key)
        C, R = cfg.dc_hidden_resolved, cfg.dc_rank
        dynamic = n_branches * ((D * C + C * 2 * R * H) * cfg.dc_lowrank + D * H * cfg.dc_gate)
        dynamic = L * (dynamic + (cfg.dc_pre + cfg.dc_post) * H * H * cfg.dc_static)
    total = L * per_layer + dynamic + 2 * V * D + D
    return {"total": total, "embedding": V * D, "non_embedding": total - V * D, "dynamic": dynamic}


def flops_per_token(cfg: ModelConfig) -> dict[str, float]:
    """Training FLOPs per token (forward + backward = 3x forward).

    matmul: 6 x (non-embedding parameters incl. the output head). attention: QK^T and PV,
    2 x 2 x T_eff x D per layer forward, T_eff = T/2 causal (or the window). compose (DCFormer):
    per (t, s) pair and composition, 4 R H flops per low-rank side and 2 H per gate side, plus 2 H^2
    for a static matrix; all three taken x3 for training.
    """
    params = count_parameters(cfg)
    matmul = 6.0 * params["non_embedding"]
    attention = compose = 0.0
    for window in cfg.layer_windows():
        t_eff = cfg.seq_len / 2 if window is None else min(window, cfg.seq_len / 2)
        attention += 3 * 4 * t_eff * cfg.n_embd
        if cfg.arch == "dcformer":
            H, R = cfg.n_head, cfg.dc_rank
            sides = cfg.dc_query + cfg.dc_key
            per_comp = sides * (4 * R * H * cfg.dc_lowrank + 2 * H * cfg.dc_gate) + 2 * H * H * cfg.dc_static
            compose += 3 * t_eff * per_comp * (cfg.dc_pre + cfg.dc_post)
    return {"matmul": matmul, "attention": attention, "compose": compose,
            "total": matmul + attention + compose}


def training_memory_bytes(cfg: ModelConfig, micro_batch: int) -> float:
    """A rough estimate of a float32 training step's memory on the CPU: weights, gradients and
    AdamW's two moments (16 bytes a parameter), the activations autograd keeps per layer (the usual
    34 x B T D + 5 x B H T^2 values, doubled for float32, plus DCMHA's [B, H, T, T] score tensors)
    and the logits with their gradient. Good to a factor of about two at large sizes (small models
    also pay fixed overheads it leaves out): for refusing a run that cannot fit, not for planning."""
    B, T, D, H, L = micro_batch, cfg.seq_len, cfg.n_embd, cfg.n_head, cfg.n_layer
    per_layer = 2 * (34 * B * T * D + 5 * B * H * T * T)
    if cfg.arch == "dcformer":
        per_layer += 4 * 4 * B * H * T * T      # pre, post, probabilities and their gradients
    return 16.0 * count_parameters(cfg)["total"] + L * per_layer + 12.0 * B * T * cfg.vocab_size
