"""Transformer++ and DCFormer (DCMHA.md). DCFormer = Transformer++ with attention replaced by DCMHA.

Reading order: norm, rotary, dynamic-weight projection, attention, feed-forward, block, model
(parameter and FLOP counts: counts.py).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import ModelConfig
# Re-exported: the counts live in counts.py, torch-free, so that the dashboard can use them.
from .counts import count_parameters, flops_per_token  # noqa: F401
from .kernels import ComposeWeights, attention_mask, dcmha, dynamic_fields

BRANCH_NAMES = ("pre_q", "pre_k", "post_q", "post_k")


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        return F.rms_norm(x, (x.shape[-1],), self.weight, self.eps)


def rope_tables(seq_len: int, head_dim: int, base: float, device=None) -> tuple[Tensor, Tensor]:
    """cos, sin of shape (T, d/2) for rotary embeddings."""
    inv_freq = 1.0 / base ** (torch.arange(0, head_dim, 2, device=device, dtype=torch.float64) / head_dim)
    angles = torch.outer(torch.arange(seq_len, device=device, dtype=torch.float64), inv_freq)
    return angles.cos(), angles.sin()


def apply_rope(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate (first half, second half) pairs of x: (B, H, T, d) by position."""
    x1, x2 = x.chunk(2, dim=-1)
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


class DynamicWeightProjection(nn.Module):
    """Per-token compose weights from the normalised layer input X (B, T, D).

    One fused projection for the active branches (pre/post x query/key): hidden = GELU(X W1),
    (w1 | w2) = hidden W2 with w1 RMS-normalised over heads; gates = tanh(X Wd).
    """
    W1_EPS = 1e-6           # eps of w1's RMS norm (no learned scale)

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        H, R, C, D = cfg.n_head, cfg.dc_rank, cfg.dc_hidden_resolved, cfg.n_embd
        comps = [c for c, on in (("pre", cfg.dc_pre), ("post", cfg.dc_post)) if on]
        sides = [s for s, on in (("q", cfg.dc_query), ("k", cfg.dc_key)) if on]
        self.branches = [f"{c}_{s}" for c in comps for s in sides]
        self.n_head, self.rank, self.hidden = H, R, C
        nb = len(self.branches)
        self.lowrank = cfg.dc_lowrank and nb > 0
        self.gate = cfg.dc_gate and nb > 0
        if self.lowrank:
            self.w1 = nn.Parameter(torch.randn(D, nb * C) * math.sqrt(2.0 / (D + C)))
            self.w2 = nn.Parameter(torch.randn(nb, C, 2 * R * H) * cfg.dc_init_std)
        if self.gate:
            self.wd = nn.Parameter(torch.randn(D, nb * H) * cfg.dc_init_std)
        self.static = nn.ParameterDict(
            {c: nn.Parameter(torch.zeros(H, H)) for c in ("pre", "post")
             if cfg.dc_static and getattr(cfg, f"dc_{c}")})
        self.comps = comps

    def forward(self, x: Tensor) -> tuple[ComposeWeights | None, ComposeWeights | None]:
        """(pre, post) compose weights of x (B, T, D): fields (B, T, R, H) and (B, T, H); None
        for a composition that is off."""
        B, T, _ = x.shape
        H, R, nb = self.n_head, self.rank, len(self.branches)
        fields: dict[str, dict[str, Tensor]] = {c: {} for c in self.comps}
        # X W1 and X Wd as one product (one backward product, no sum of two input gradients), and
        # branch-major (nb, B, T, ...) fields, so that the kernels take each branch without a copy.
        maps = ([self.w1] if self.lowrank else []) + ([self.wd] if self.gate else [])
        joint = (maps[0] if len(maps) == 1 else torch.cat(maps, dim=1)) if maps else None  # cat copies
        projected = None if joint is None else x @ joint                   # (B, T, nb*C + nb*H)
        if self.lowrank:
            hidden = F.gelu(projected[..., :nb * self.hidden])
            hidden = hidden.reshape(B * T, nb, self.hidden).transpose(0, 1)        # (nb, BT, C)
            dw = torch.bmm(hidden, self.w2).view(nb, B, T, 2, R, H)
            w1, w2 = dynamic_fields(dw, self.W1_EPS)                           # (nb, B, T, R, H)
            for name, w1_branch, w2_branch in zip(self.branches, w1.unbind(0), w2.unbind(0)):
                comp, side = name.split("_")
                fields[comp][f"{side}w1"], fields[comp][f"{side}w2"] = w1_branch, w2_branch
        if self.gate:
            gates = torch.tanh(projected[..., -nb * H:])
            gates = gates.reshape(B * T, nb, H).transpose(0, 1).contiguous()     # (nb, BT, H)
            for name, gate in zip(self.branches, gates.view(nb, B, T, H).unbind(0)):
                comp, side = name.split("_")
                fields[comp][f"{side}dd"] = gate
        for comp, matrix in self.static.items():
            fields[comp]["static"] = matrix
        pre = ComposeWeights(**fields["pre"]) if "pre" in fields else None
        post = ComposeWeights(**fields["post"]) if "post" in fields else None
        return pre, post

    def branch_weights(self, order: list[str]) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
        """The parameters with the branches in `order` (a permutation of self.branches), as maps of
        X: W1^T (nb*C, D) and Wd^T (nb*H, D) (rows of an F.linear weight) and W2 (nb, C, 2RH);
        None where low-rank or the gates are off. Views or copies: never written to."""
        perm = [self.branches.index(b) for b in order]
        nb, H, C = len(order), self.n_head, self.hidden
        w1 = w2 = wd = None
        if self.lowrank:
            D = self.w1.shape[0]
            w1, w2 = self.w1.view(D, nb, C)[:, perm].reshape(D, nb * C).T, self.w2[perm]
        if self.gate:
            D = self.wd.shape[0]
            wd = self.wd.view(D, nb, H)[:, perm].reshape(D, nb * H).T
        return w1, w2, wd

    def static_matrix(self, comp: str) -> Tensor | None:
        """The static H x H matrix of comp ('pre' or 'post'), None when absent."""
        return self.static[comp] if comp in self.static else None


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig, window: int | None):
        super().__init__()
        self.cfg, self.window = cfg, window
        self.n_head, self.head_dim = cfg.n_head, cfg.head_dim
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd, bias=False)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd, bias=False)
        self.q_norm = RMSNorm(cfg.head_dim, cfg.norm_eps) if cfg.qk_norm else None
        self.k_norm = RMSNorm(cfg.head_dim, cfg.norm_eps) if cfg.qk_norm else None
        self.dynamic = DynamicWeightProjection(cfg) if cfg.arch == "dcformer" else None

    def project_qkv(self, x: Tensor, cos: Tensor, sin: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """q, k, v (B, H, T, d) of the normalised input x (B, T, D) at the positions of cos, sin
        (T, d/2): QK-norm (when on), then rotary on q and k; all three in v's dtype."""
        B, T, _ = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.n_head, self.head_dim).permute(2, 0, 3, 1, 4)
        if self.q_norm is not None:                                   # (B, H, T, d)
            q, k = self.q_norm(q), self.k_norm(k)
        # one dtype for the kernels (under autocast the norms and rotary may return float32)
        return apply_rope(q, cos, sin).to(v.dtype), apply_rope(k, cos, sin).to(v.dtype), v

    def compose_weights(self, x: Tensor) -> tuple[ComposeWeights | None, ComposeWeights | None]:
        """(pre, post) compose weights of x (B, T, D); (None, None) for Transformer++."""
        return self.dynamic(x) if self.dynamic is not None else (None, None)

    def forward(self, x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
        B, T, D = x.shape
        q, k, v = self.project_qkv(x, cos, sin)
        if self.dynamic is not None:
            pre, post = self.dynamic(x)
            y = dcmha(q, k, v, pre, post, causal=True, window=self.window, impl=self.cfg.attn_impl)
        elif self.window is None:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            keep = attention_mask(T, T, True, self.window, device=x.device)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)
        return self.proj(y.transpose(1, 2).reshape(B, T, D))


class SwiGLU(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.gate_up = nn.Linear(dim, 2 * hidden, bias=False)
        self.down = nn.Linear(hidden, dim, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        gate, up = self.gate_up(x).chunk(2, dim=-1)
        return self.down(F.silu(gate) * up)


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig, window: int | None):
        super().__init__()
        self.attn_norm = RMSNorm(cfg.n_embd, cfg.norm_eps)
        self.attn = Attention(cfg, window)
        self.ffn_norm = RMSNorm(cfg.n_embd, cfg.norm_eps)
        self.ffn = SwiGLU(cfg.n_embd, cfg.ffn_hidden)

    def forward(self, h: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
        h = h + self.attn(self.attn_norm(h), cos, sin)
        return h + self.ffn(self.ffn_norm(h))


class LanguageModel(nn.Module):
    """Decoder-only byte-level LM; cfg.arch picks Transformer++ or DCFormer attention."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.blocks = nn.ModuleList(Block(cfg, w) for w in cfg.layer_windows())
        self.norm = RMSNorm(cfg.n_embd, cfg.norm_eps)
        self.head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)   # untied
        cos, sin = rope_tables(cfg.seq_len, cfg.head_dim, cfg.rope_base)
        self.register_buffer("rope_cos", cos.float(), persistent=False)
        self.register_buffer("rope_sin", sin.float(), persistent=False)
        self._init_weights()

    def _init_weights(self) -> None:
        residual_std = 0.02 / math.sqrt(2 * self.cfg.n_layer)
        for name, module in self.named_modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                std = residual_std if name.endswith(("attn.proj", "ffn.down")) else 0.02
                nn.init.normal_(module.weight, mean=0.0, std=std)

    def forward(self, idx: Tensor, targets: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """idx (B, T) int64 -> logits (B, T, V); loss (mean cross-entropy in nats) when targets given."""
        T = idx.shape[1]
        if T > self.cfg.seq_len:
            raise ValueError(f"sequence of {T} tokens is longer than seq_len {self.cfg.seq_len}")
        cos, sin = self.rope_cos[:T], self.rope_sin[:T]
        h = self.embed(idx)
        for block in self.blocks:
            h = block(h, cos, sin)
        logits = self.head(self.norm(h))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.float().flatten(0, 1), targets.flatten())
        return logits, loss

    def dynamic_parameters(self) -> list[nn.Parameter]:
        """Parameters of the dynamic-weight projections (their own lr multiplier)."""
        return [p for n, p in self.named_parameters() if ".dynamic." in n]
