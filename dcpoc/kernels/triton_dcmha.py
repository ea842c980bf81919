"""Fused Triton DCMHA: forward and backward, exact, memory-linear (DCMHA.md, "Kernel design notes").

Every program holds ALL heads of its tile, so compose (which mixes heads pointwise in (t, s)) runs in
registers on [H, BLOCK_T, BLOCK_S] tiles: the head axis is axis 0, reductions over heads are tl.sum
over axis 0. The per-head matmuls are batched (3-D) tl.dot over the head axis.

    forward  (_dcmha_fwd_kernel), one program per (query block, batch):
        post present: sweep 1 over key blocks: L' = mask(pre(q k^T / sqrt(d))) -> per-head running max
                      and sum -> LSE; sweep 2: recompute L', P = exp(L' - LSE), P' = post(P), O += P' v.
        post absent:  one online (flash-style) sweep; pre-composition is pointwise so rescaling works.
    backward (mixing depends on s, so Delta = sum_s P dP is not dO . O when post is present):
        _dcmha_bwd_delta_kernel  per (query block, batch): Delta = sum_s P * post^T(dO v^T)
        _dcmha_bwd_dkdv_kernel   per (key block, batch), sweeping query blocks: dK, dV, the key-side
                                 weight gradients (kw1, kw2, kdd) and per-program partials of d static;
                                 on a GPU as two launches, dV then dK (registers, see _pick_blocks)
        _dcmha_bwd_dq_kernel     per (query block, batch), sweeping key blocks: dQ and the query-side
                                 weight gradients (qw1, qw2, qdd)
Saved for backward: q, k, v, O, LSE [B, H, T] float32 and the (caller-owned) weights. Nothing with
T x T elements exists anywhere: every (t, s) quantity lives in registers for one tile. Causal and window
masks also bound each sweep to the blocks that can hold a kept (t, s).

The head dim is contracted in chunks (_dot_over_d) and accumulated per chunk (_acc_over_s): a 3-D
tl.dot stages whole operands in shared memory, which overflows at 32 heads otherwise. Cross-compiled
for sm_90 (ptxas, Triton 3.6 to 3.9) every kernel needs 16 to 32 KiB of shared memory; registers
are the limit (see _pick_blocks). Known cost on a GPU: Triton spreads the head axis of the 3-D
tiles over warps, so each reduction over heads in compose is a cross-warp (shared memory) reduction.

Notation inside the kernels: compose(a)[g] = a[g] + sum_h a[h] M[h, g] with, at one (t, s),
    M = static + sum_r qw1[t, r]^T qw2[t, r] + sum_r kw1[s, r]^T kw2[s, r] + diag(qdd[t] + kdd[s]);
its transpose (for gradients) swaps w1 <-> w2 and uses static^T. Each kernel calls the side indexed by
tile axis 1 the "row" side and the side indexed by axis 2 the "col" side; the forward and dQ kernels
work on [H, t, s] tiles (row = query), the dK/dV kernel on [H, s, t] tiles (row = key).
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Iterator, Optional

import torch
import triton
import triton.language as tl
from torch import Tensor

from .reference import ComposeWeights

MAX_HEADS = 32
MAX_RANK = 4
HEAD_DIMS = (16, 128)


# ----------------------------------------------------------------------------------------------
# @triton.jit helpers: compose and its transpose on [H_PAD, X, Y] tiles
# ----------------------------------------------------------------------------------------------

@triton.jit
def _add_low_rank(out, a, w_ptr, offs_w, mask_w, stride_ww, R: tl.constexpr, TRANSPOSE: tl.constexpr):
    """out + sum_r (w1_r . a) w2_r with the dot over heads; a, out [H_PAD, X, Y]; the weight rows
    w1_r = row r and w2_r = row R + r of the packed side, loaded as [H_PAD, X, 1] or [H_PAD, 1, Y].
    TRANSPOSE (0/1) swaps w1 and w2 (the compose transpose used by the gradients)."""
    for r in tl.static_range(R):
        w_in = tl.load(w_ptr + (r + R * TRANSPOSE) * stride_ww + offs_w, mask=mask_w, other=0.0)
        w_out = tl.load(w_ptr + (r + R * (1 - TRANSPOSE)) * stride_ww + offs_w, mask=mask_w, other=0.0)
        coef = tl.sum(a * w_in, axis=0)                                       # (X, Y)
        out += w_out * coef[None, :, :]
    return out


@triton.jit
def _add_static(out, a, st_ptr, offs_h3, H: tl.constexpr, TRANSPOSE: tl.constexpr):
    """out[g] + sum_h a[h] st[h, g] (TRANSPOSE: out[h] + sum_g st[h, g] a[g]); st is [H, H] contiguous.
    H^2 work per element: the static term is optional and absent in the paper's DCFormer++."""
    mask_h3 = offs_h3 < H
    for j in tl.static_range(H):
        a_j = tl.sum(tl.where(offs_h3 == j, a, 0.0), axis=0)                 # (X, Y): head j
        if TRANSPOSE:
            w = tl.load(st_ptr + offs_h3 * H + j, mask=mask_h3, other=0.0)     # st[:, j]
        else:
            w = tl.load(st_ptr + j * H + offs_h3, mask=mask_h3, other=0.0)     # st[j, :]
        out += w * a_j[None, :, :]
    return out


@triton.jit
def _compose(a, row_ptr, offs_row, mask_row, col_ptr, offs_col, mask_col, st_ptr, offs_h3, stride_ww,
             ROW_LR: tl.constexpr, ROW_DD: tl.constexpr, COL_LR: tl.constexpr, COL_DD: tl.constexpr,
             HAS_ST: tl.constexpr, R: tl.constexpr, H: tl.constexpr, TRANSPOSE: tl.constexpr):
    """compose(a) (TRANSPOSE=0) or compose^T(a) (TRANSPOSE=1) of a [H_PAD, X, Y] tile. Row-side
    weights are indexed by axis 1 (offs_row [H_PAD, X, 1]), col-side by axis 2 ([H_PAD, 1, Y])."""
    out = a
    if ROW_LR:
        out = _add_low_rank(out, a, row_ptr, offs_row, mask_row, stride_ww, R, TRANSPOSE)
    if COL_LR:
        out = _add_low_rank(out, a, col_ptr, offs_col, mask_col, stride_ww, R, TRANSPOSE)
    if ROW_DD:
        out += tl.load(row_ptr + 2 * R * stride_ww + offs_row, mask=mask_row, other=0.0) * a
    if COL_DD:
        out += tl.load(col_ptr + 2 * R * stride_ww + offs_col, mask=mask_col, other=0.0) * a
    if HAS_ST:
        out = _add_static(out, a, st_ptr, offs_h3, H, TRANSPOSE)
    return out


@triton.jit
def _acc_row(acc, offs_w3, row: tl.constexpr, contrib):
    """acc[row] += contrib; acc [NW_PAD, H_PAD, X], contrib [H_PAD, X]. A where-update because a
    loop-carried accumulator per packed row would need a dynamic number of variables."""
    return acc + tl.where(offs_w3 == row, contrib[None, :, :], 0.0)


@triton.jit
def _compose_bwd(a, dout, acc, offs_w3, row_ptr, offs_row, mask_row, col_ptr, offs_col, mask_col,
                 st_ptr, offs_h3, stride_ww,
                 ROW_LR: tl.constexpr, ROW_DD: tl.constexpr, COL_LR: tl.constexpr,
                 COL_DD: tl.constexpr, HAS_ST: tl.constexpr, R: tl.constexpr, H: tl.constexpr):
    """Backward of out = compose(a) on one tile: returns (da = compose^T(dout), acc) where acc
    [NW_PAD, H_PAD, X] collects the row side's weight gradients, summed over axis 2:
        d w1_r[h, x] += sum_y a[h] (w2_r . dout);  d w2_r[g, x] += sum_y (w1_r . a) dout[g];
        d dd[h, x]   += sum_y a[h] dout[h]."""
    din = dout
    if ROW_LR:
        for r in tl.static_range(R):
            w1 = tl.load(row_ptr + r * stride_ww + offs_row, mask=mask_row, other=0.0)
            w2 = tl.load(row_ptr + (R + r) * stride_ww + offs_row, mask=mask_row, other=0.0)
            dcoef = tl.sum(w2 * dout, axis=0)                                 # (X, Y)
            coef = tl.sum(w1 * a, axis=0)                                     # (X, Y)
            din += w1 * dcoef[None, :, :]
            acc = _acc_row(acc, offs_w3, r, tl.sum(a * dcoef[None, :, :], axis=2))
            acc = _acc_row(acc, offs_w3, R + r, tl.sum(dout * coef[None, :, :], axis=2))
    if COL_LR:
        din = _add_low_rank(din, dout, col_ptr, offs_col, mask_col, stride_ww, R, 1)
    if ROW_DD:
        din += tl.load(row_ptr + 2 * R * stride_ww + offs_row, mask=mask_row, other=0.0) * dout
        acc = _acc_row(acc, offs_w3, 2 * R, tl.sum(a * dout, axis=2))
    if COL_DD:
        din += tl.load(col_ptr + 2 * R * stride_ww + offs_col, mask=mask_col, other=0.0) * dout
    if HAS_ST:
        din = _add_static(din, dout, st_ptr, offs_h3, H, 1)
    return din, acc


@triton.jit
def _static_grad(acc_st, a, dout, offs_h3, offs_h, H: tl.constexpr):
    """acc_st[h, g] += sum over the tile of a[h] dout[g]; acc_st [H_PAD, H_PAD]."""
    for g in tl.static_range(H):
        dout_g = tl.sum(tl.where(offs_h3 == g, dout, 0.0), axis=0)           # (X, Y)
        col = tl.sum(tl.sum(a * dout_g[None, :, :], axis=2), axis=1)         # (H_PAD,)
        acc_st += tl.where(offs_h[None, :] == g, col[:, None], 0.0)
    return acc_st


@triton.jit
def _store_side_grads(ptr, acc, offs_w3, offs_h, offs_x, stride_ww, stride_wh, T,
                      R: tl.constexpr, H: tl.constexpr):
    """One side's weight gradients acc [NW_PAD, H_PAD, X] (rows w1, w2, dd as _compose_bwd packs
    them) into its packed [2R+1, H, T] slab at ptr (the batch row), positions offs_x."""
    offs_gh = offs_h[None, :, None]
    offs_gx = offs_x[None, None, :]
    tl.store(ptr + offs_w3 * stride_ww + offs_gh * stride_wh + offs_gx, acc,
             mask=(offs_w3 < 2 * R + 1) & (offs_gh < H) & (offs_gx < T))


@triton.jit
def _keep(t, s, T, window, CAUSAL: tl.constexpr):
    """Keep-mask of (t, s) pairs (broadcast shapes): in range, t - window < s, and s <= t if causal.
    window = T + 1 stands for no window."""
    keep = (t < T) & (s < T) & (s > t - window)
    if CAUSAL:
        keep = keep & (s <= t)
    return keep


@triton.jit
def _load_heads(ptr, offs_h3, offs_x, offs_y, stride_h, stride_x, stride_y, H, T, D,
                X_IS_T: tl.constexpr, DOT_F32: tl.constexpr):
    """Tile [H_PAD, X, Y] of a [H, T, D] slab: (X, Y) = (positions, dims) if X_IS_T else (dims,
    positions). Out-of-range heads, positions and dims read as 0."""
    ptrs = ptr + offs_h3 * stride_h + offs_x[None, :, None] * stride_x + offs_y[None, None, :] * stride_y
    if X_IS_T:
        mask = (offs_h3 < H) & (offs_x[None, :, None] < T) & (offs_y[None, None, :] < D)
    else:
        mask = (offs_h3 < H) & (offs_x[None, :, None] < D) & (offs_y[None, None, :] < T)
    x = tl.load(ptrs, mask=mask, other=0.0)
    if DOT_F32:
        x = x.to(tl.float32)   # the interpreter's bf16 tl.dot is wrong; compute in float32 there
    return x


@triton.jit
def _dot_over_d(x_ptr, y_ptr, offs_h3, offs_x, offs_y, stride_xh, stride_xt, stride_xd,
                stride_yh, stride_yt, stride_yd, H, T, D, DC: tl.constexpr, NC: tl.constexpr,
                PRECISION: tl.constexpr, DOT_F32: tl.constexpr):
    """(H_PAD, X, Y) float32 = X[:, offs_x] @ Y[:, offs_y]^T per head, X and Y [H, T, D] slabs, the
    head dim taken in NC chunks of DC. Operands are (re)loaded chunk by chunk right before their dot
    (L1/L2 hits): a 3-D tl.dot stages whole operands in shared memory, so whole-d operands, or
    operands kept across the loop, overflow it (32 heads x d 64 needs over 227 KiB)."""
    acc = tl.zeros([offs_h3.shape[0], offs_x.shape[0], offs_y.shape[0]], tl.float32)
    for c in range(NC):   # a runtime loop, so chunks are loaded one at a time (no hoisting)
        offs_d = c * DC + tl.arange(0, DC)
        x = _load_heads(x_ptr, offs_h3, offs_x, offs_d, stride_xh, stride_xt, stride_xd, H, T, D,
                        True, DOT_F32)                                        # (H_PAD, X, DC)
        yT = _load_heads(y_ptr, offs_h3, offs_d, offs_y, stride_yh, stride_yd, stride_yt, H, T, D,
                         False, DOT_F32)                                      # (H_PAD, DC, Y)
        acc = tl.dot(x, yT, acc, input_precision=PRECISION)
    return acc


@triton.jit
def _acc_over_s(accs, p, y_ptr, offs_h3, offs_y, stride_yh, stride_yt, stride_yd, H, T, D,
                DC: tl.constexpr, NC: tl.constexpr, PRECISION: tl.constexpr, DOT_F32: tl.constexpr):
    """accs[c] + p @ Y[:, offs_y, chunk c] for every chunk: p (H_PAD, X, Y), accs NC x (H_PAD, X, DC)."""
    out = ()
    for c in tl.static_range(NC):
        offs_d = c * DC + tl.arange(0, DC)
        y = _load_heads(y_ptr, offs_h3, offs_y, offs_d, stride_yh, stride_yt, stride_yd, H, T, D,
                        True, DOT_F32)                                        # (H_PAD, Y, DC)
        out = out + (tl.dot(p.to(y.dtype), y, accs[c], input_precision=PRECISION),)
    return out


@triton.jit
def _zero_chunks(H_PAD: tl.constexpr, X: tl.constexpr, DC: tl.constexpr, NC: tl.constexpr):
    out = ()
    for c in tl.static_range(NC):
        out = out + (tl.zeros([H_PAD, X, DC], tl.float32),)
    return out


@triton.jit
def _store_chunks(ptr, tiles, scale, offs_h3, offs_x, stride_h, stride_x, stride_d, H, T, D,
                  DC: tl.constexpr, NC: tl.constexpr):
    """Store NC chunks (H_PAD, X, DC) times scale into a [H, T, D] slab, in the slab's dtype."""
    for c in tl.static_range(NC):
        offs_d = c * DC + tl.arange(0, DC)
        mask = (offs_h3 < H) & (offs_x[None, :, None] < T) & (offs_d[None, None, :] < D)
        tl.store(ptr + offs_h3 * stride_h + offs_x[None, :, None] * stride_x + offs_d[None, None, :] * stride_d,
                 (tiles[c] * scale).to(ptr.dtype.element_ty), mask=mask)


# ----------------------------------------------------------------------------------------------
# Kernels
# ----------------------------------------------------------------------------------------------

@triton.jit
def _dcmha_fwd_kernel(
        q_ptr, k_ptr, v_ptr, o_ptr, lse_ptr,
        pre_q_ptr, pre_k_ptr, pre_st_ptr, post_q_ptr, post_k_ptr, post_st_ptr,
        T, window, scale,
        stride_qb, stride_qh, stride_qt, stride_qd,
        stride_kb, stride_kh, stride_kt, stride_kd,
        stride_vb, stride_vh, stride_vt, stride_vd,
        stride_ob, stride_oh, stride_ot, stride_od,
        stride_lb, stride_lh,
        stride_pre_wb, stride_post_wb, stride_ww, stride_wh,
        H: tl.constexpr, H_PAD: tl.constexpr, D: tl.constexpr, DC: tl.constexpr, NC: tl.constexpr,
        HAS_PRE: tl.constexpr, PRE_QW: tl.constexpr, PRE_KW: tl.constexpr,
        PRE_QDD: tl.constexpr, PRE_KDD: tl.constexpr, PRE_ST: tl.constexpr, R_PRE: tl.constexpr,
        HAS_POST: tl.constexpr, POST_QW: tl.constexpr, POST_KW: tl.constexpr,
        POST_QDD: tl.constexpr, POST_KDD: tl.constexpr, POST_ST: tl.constexpr, R_POST: tl.constexpr,
        CAUSAL: tl.constexpr, BLOCK_T: tl.constexpr, BLOCK_S: tl.constexpr,
        PRECISION: tl.constexpr, DOT_F32: tl.constexpr):
    """Per query block: O and LSE. Tiles are [H_PAD, BT, BS]: the query side is the compose row side."""
    pid_t = tl.num_programs(0) - 1 - tl.program_id(0)    # longest causal rows first
    pid_b = tl.program_id(1).to(tl.int64)
    offs_h = tl.arange(0, H_PAD)
    offs_h3 = offs_h[:, None, None]                                          # (H_PAD, 1, 1)
    offs_t = pid_t * BLOCK_T + tl.arange(0, BLOCK_T)
    q_ptr += pid_b * stride_qb
    k_ptr += pid_b * stride_kb
    v_ptr += pid_b * stride_vb
    # query-side weights of both compositions: packed [B, 2R+1, H, T], read as (H_PAD, BT, 1)
    offs_wq = offs_h3 * stride_wh + offs_t[None, :, None]
    mask_wq = (offs_h3 < H) & (offs_t[None, :, None] < T)
    pre_q_ptr += pid_b * stride_pre_wb
    pre_k_ptr += pid_b * stride_pre_wb
    post_q_ptr += pid_b * stride_post_wb
    post_k_ptr += pid_b * stride_post_wb

    # key blocks that can hold a kept (t, s) for this query block
    t_start = pid_t * BLOCK_T
    lo = tl.maximum(t_start - window + 1, 0) // BLOCK_S * BLOCK_S
    if CAUSAL:
        hi = tl.minimum(t_start + BLOCK_T, T)
    else:
        hi = T

    m = tl.full([H_PAD, BLOCK_T], float("-inf"), tl.float32)                # running max
    l = tl.zeros([H_PAD, BLOCK_T], tl.float32)                               # running sum
    acc = _zero_chunks(H_PAD, BLOCK_T, DC, NC)                               # NC x (H_PAD, BT, DC)
    if HAS_POST:
        # sweep 1: LSE of the pre-composed, masked logits
        for start_s in range(lo, hi, BLOCK_S):
            offs_s = start_s + tl.arange(0, BLOCK_S)
            a = _dot_over_d(q_ptr, k_ptr, offs_h3, offs_t, offs_s, stride_qh, stride_qt, stride_qd, stride_kh,
                            stride_kt, stride_kd, H, T, D, DC, NC, PRECISION, DOT_F32) * scale  # (H_PAD, BT, BS)
            if HAS_PRE:
                offs_wk = offs_h3 * stride_wh + offs_s[None, None, :]
                mask_wk = (offs_h3 < H) & (offs_s[None, None, :] < T)
                a = _compose(a, pre_q_ptr, offs_wq, mask_wq, pre_k_ptr, offs_wk, mask_wk, pre_st_ptr,
                             offs_h3, stride_ww, PRE_QW, PRE_QDD, PRE_KW, PRE_KDD, PRE_ST, R_PRE, H, 0)
            keep = _keep(offs_t[:, None], offs_s[None, :], T, window, CAUSAL)[None, :, :]
            a = tl.where(keep, a, float("-inf"))
            m_new = tl.maximum(m, tl.max(a, axis=2))
            m_safe = tl.where(m_new == float("-inf"), 0.0, m_new)           # fully masked rows
            l = l * tl.exp(m - m_safe) + tl.sum(tl.exp(a - m_safe[:, :, None]), axis=2)
            m = m_new
        lse = m + tl.log(tl.where(l > 0.0, l, 1.0))                           # -inf on empty rows
        # sweep 2: normalise, post-compose, accumulate P' v
        for start_s in range(lo, hi, BLOCK_S):
            offs_s = start_s + tl.arange(0, BLOCK_S)
            a = _dot_over_d(q_ptr, k_ptr, offs_h3, offs_t, offs_s, stride_qh, stride_qt, stride_qd, stride_kh,
                            stride_kt, stride_kd, H, T, D, DC, NC, PRECISION, DOT_F32) * scale
            offs_wk = offs_h3 * stride_wh + offs_s[None, None, :]
            mask_wk = (offs_h3 < H) & (offs_s[None, None, :] < T)
            if HAS_PRE:
                a = _compose(a, pre_q_ptr, offs_wq, mask_wq, pre_k_ptr, offs_wk, mask_wk, pre_st_ptr,
                             offs_h3, stride_ww, PRE_QW, PRE_QDD, PRE_KW, PRE_KDD, PRE_ST, R_PRE, H, 0)
            keep = _keep(offs_t[:, None], offs_s[None, :], T, window, CAUSAL)[None, :, :]
            p = tl.exp(tl.where(keep, a - lse[:, :, None], float("-inf")))  # masked: exactly 0
            p = _compose(p, post_q_ptr, offs_wq, mask_wq, post_k_ptr, offs_wk, mask_wk, post_st_ptr,
                         offs_h3, stride_ww, POST_QW, POST_QDD, POST_KW, POST_KDD, POST_ST, R_POST, H, 0)
            acc = _acc_over_s(acc, p, v_ptr, offs_h3, offs_s, stride_vh, stride_vt, stride_vd, H, T, D,
                              DC, NC, PRECISION, DOT_F32)
        inv_l = tl.full([H_PAD, BLOCK_T], 1.0, tl.float32)
    else:
        # no post-composition: one online sweep with per-head rescaling, as in flash attention
        for start_s in range(lo, hi, BLOCK_S):
            offs_s = start_s + tl.arange(0, BLOCK_S)
            a = _dot_over_d(q_ptr, k_ptr, offs_h3, offs_t, offs_s, stride_qh, stride_qt, stride_qd, stride_kh,
                            stride_kt, stride_kd, H, T, D, DC, NC, PRECISION, DOT_F32) * scale
            if HAS_PRE:
                offs_wk = offs_h3 * stride_wh + offs_s[None, None, :]
                mask_wk = (offs_h3 < H) & (offs_s[None, None, :] < T)
                a = _compose(a, pre_q_ptr, offs_wq, mask_wq, pre_k_ptr, offs_wk, mask_wk, pre_st_ptr,
                             offs_h3, stride_ww, PRE_QW, PRE_QDD, PRE_KW, PRE_KDD, PRE_ST, R_PRE, H, 0)
            keep = _keep(offs_t[:, None], offs_s[None, :], T, window, CAUSAL)[None, :, :]
            a = tl.where(keep, a, float("-inf"))
            m_new = tl.maximum(m, tl.max(a, axis=2))
            m_safe = tl.where(m_new == float("-inf"), 0.0, m_new)
            alpha = tl.exp(m - m_safe)
            p = tl.exp(a - m_safe[:, :, None])
            l = l * alpha + tl.sum(p, axis=2)
            rescaled = ()
            for c in tl.static_range(NC):
                rescaled = rescaled + (acc[c] * alpha[:, :, None],)
            acc = _acc_over_s(rescaled, p, v_ptr, offs_h3, offs_s, stride_vh, stride_vt, stride_vd,
                              H, T, D, DC, NC, PRECISION, DOT_F32)
            m = m_new
        l = tl.where(l > 0.0, l, 1.0)                                         # rows past T
        lse = m + tl.log(l)
        inv_l = 1.0 / l

    _store_chunks(o_ptr + pid_b * stride_ob, acc, inv_l[:, :, None], offs_h3, offs_t, stride_oh,
                  stride_ot, stride_od, H, T, D, DC, NC)
    tl.store(lse_ptr + pid_b * stride_lb + offs_h[:, None] * stride_lh + offs_t[None, :], lse,
             mask=(offs_h[:, None] < H) & (offs_t[None, :] < T))


@triton.jit
def _dcmha_bwd_delta_kernel(
        q_ptr, k_ptr, v_ptr, do_ptr, lse_ptr, delta_ptr,
        pre_q_ptr, pre_k_ptr, pre_st_ptr, post_q_ptr, post_k_ptr, post_st_ptr,
        T, window, scale,
        stride_qb, stride_qh, stride_qt, stride_qd,
        stride_kb, stride_kh, stride_kt, stride_kd,
        stride_vb, stride_vh, stride_vt, stride_vd,
        stride_dob, stride_doh, stride_dot, stride_dod,
        stride_lb, stride_lh,
        stride_pre_wb, stride_post_wb, stride_ww, stride_wh,
        H: tl.constexpr, H_PAD: tl.constexpr, D: tl.constexpr, DC: tl.constexpr, NC: tl.constexpr,
        HAS_PRE: tl.constexpr, PRE_QW: tl.constexpr, PRE_KW: tl.constexpr,
        PRE_QDD: tl.constexpr, PRE_KDD: tl.constexpr, PRE_ST: tl.constexpr, R_PRE: tl.constexpr,
        HAS_POST: tl.constexpr, POST_QW: tl.constexpr, POST_KW: tl.constexpr,
        POST_QDD: tl.constexpr, POST_KDD: tl.constexpr, POST_ST: tl.constexpr, R_POST: tl.constexpr,
        CAUSAL: tl.constexpr, BLOCK_T: tl.constexpr, BLOCK_S: tl.constexpr,
        PRECISION: tl.constexpr, DOT_F32: tl.constexpr):
    """Per query block: Delta[h, t] = sum_s P[h, t, s] dP[h, t, s] with dP = post^T(dO v^T), float32."""
    pid_t = tl.num_programs(0) - 1 - tl.program_id(0)    # longest causal rows first
    pid_b = tl.program_id(1).to(tl.int64)
    offs_h = tl.arange(0, H_PAD)
    offs_h3 = offs_h[:, None, None]
    offs_t = pid_t * BLOCK_T + tl.arange(0, BLOCK_T)
    q_ptr += pid_b * stride_qb
    k_ptr += pid_b * stride_kb
    v_ptr += pid_b * stride_vb
    do_ptr += pid_b * stride_dob
    mask_l = (offs_h[:, None] < H) & (offs_t[None, :] < T)
    lse = tl.load(lse_ptr + pid_b * stride_lb + offs_h[:, None] * stride_lh + offs_t[None, :],
                  mask=mask_l, other=0.0)                                     # (H_PAD, BT)
    offs_wq = offs_h3 * stride_wh + offs_t[None, :, None]
    mask_wq = (offs_h3 < H) & (offs_t[None, :, None] < T)
    pre_q_ptr += pid_b * stride_pre_wb
    pre_k_ptr += pid_b * stride_pre_wb
    post_q_ptr += pid_b * stride_post_wb
    post_k_ptr += pid_b * stride_post_wb

    t_start = pid_t * BLOCK_T
    lo = tl.maximum(t_start - window + 1, 0) // BLOCK_S * BLOCK_S
    if CAUSAL:
        hi = tl.minimum(t_start + BLOCK_T, T)
    else:
        hi = T
    delta = tl.zeros([H_PAD, BLOCK_T], tl.float32)
    for start_s in range(lo, hi, BLOCK_S):
        offs_s = start_s + tl.arange(0, BLOCK_S)
        offs_wk = offs_h3 * stride_wh + offs_s[None, None, :]
        mask_wk = (offs_h3 < H) & (offs_s[None, None, :] < T)
        a = _dot_over_d(q_ptr, k_ptr, offs_h3, offs_t, offs_s, stride_qh, stride_qt, stride_qd, stride_kh,
                        stride_kt, stride_kd, H, T, D, DC, NC, PRECISION, DOT_F32) * scale  # (H_PAD, BT, BS)
        if HAS_PRE:
            a = _compose(a, pre_q_ptr, offs_wq, mask_wq, pre_k_ptr, offs_wk, mask_wk, pre_st_ptr,
                         offs_h3, stride_ww, PRE_QW, PRE_QDD, PRE_KW, PRE_KDD, PRE_ST, R_PRE, H, 0)
        keep = _keep(offs_t[:, None], offs_s[None, :], T, window, CAUSAL)[None, :, :]
        p = tl.exp(tl.where(keep, a - lse[:, :, None], float("-inf")))
        dp = _dot_over_d(do_ptr, v_ptr, offs_h3, offs_t, offs_s, stride_doh, stride_dot, stride_dod,
                         stride_vh, stride_vt, stride_vd, H, T, D, DC, NC, PRECISION, DOT_F32)  # dP'
        dp = _compose(dp, post_q_ptr, offs_wq, mask_wq, post_k_ptr, offs_wk, mask_wk, post_st_ptr,
                      offs_h3, stride_ww, POST_QW, POST_QDD, POST_KW, POST_KDD, POST_ST, R_POST, H, 1)
        delta += tl.sum(p * dp, axis=2)
    tl.store(delta_ptr + pid_b * stride_lb + offs_h[:, None] * stride_lh + offs_t[None, :], delta,
             mask=mask_l)


@triton.jit
def _dcmha_bwd_dkdv_kernel(
        q_ptr, k_ptr, v_ptr, do_ptr, lse_ptr, delta_ptr, dk_ptr, dv_ptr,
        pre_q_ptr, pre_k_ptr, pre_st_ptr, post_q_ptr, post_k_ptr, post_st_ptr,
        dpre_k_ptr, dpost_k_ptr, dpre_st_ptr, dpost_st_ptr,
        T, window, scale,
        stride_qb, stride_qh, stride_qt, stride_qd,
        stride_kb, stride_kh, stride_kt, stride_kd,
        stride_vb, stride_vh, stride_vt, stride_vd,
        stride_dob, stride_doh, stride_dot, stride_dod,
        stride_dkb, stride_dkh, stride_dkt, stride_dkd,
        stride_dvb, stride_dvh, stride_dvt, stride_dvd,
        stride_lb, stride_lh,
        stride_pre_wb, stride_post_wb, stride_ww, stride_wh, stride_stb, stride_stn,
        H: tl.constexpr, H_PAD: tl.constexpr, D: tl.constexpr, DC: tl.constexpr, NC: tl.constexpr,
        HAS_PRE: tl.constexpr, PRE_QW: tl.constexpr, PRE_KW: tl.constexpr,
        PRE_QDD: tl.constexpr, PRE_KDD: tl.constexpr, PRE_ST: tl.constexpr, R_PRE: tl.constexpr,
        NW_PRE_PAD: tl.constexpr,
        HAS_POST: tl.constexpr, POST_QW: tl.constexpr, POST_KW: tl.constexpr,
        POST_QDD: tl.constexpr, POST_KDD: tl.constexpr, POST_ST: tl.constexpr, R_POST: tl.constexpr,
        NW_POST_PAD: tl.constexpr,
        CAUSAL: tl.constexpr, BLOCK_T: tl.constexpr, BLOCK_S: tl.constexpr,
        PRECISION: tl.constexpr, DOT_F32: tl.constexpr, DO_DK: tl.constexpr, DO_DV: tl.constexpr):
    """Per key block: dK, dV, key-side weight gradients, and this block's share of d static.
    Tiles are [H_PAD, BS, BT] (keys on axis 1), so the key side is the compose row side.
    DO_DV: dV only; DO_DK: dK and every weight gradient. Both in one launch share the logits; two
    launches (one each) hold one [H_PAD, BS, d] accumulator instead of two (registers, _pick_blocks)."""
    pid_s = tl.program_id(0)
    pid_b = tl.program_id(1).to(tl.int64)
    offs_h = tl.arange(0, H_PAD)
    offs_h3 = offs_h[:, None, None]
    offs_s = pid_s * BLOCK_S + tl.arange(0, BLOCK_S)
    q_ptr += pid_b * stride_qb
    k_ptr += pid_b * stride_kb
    v_ptr += pid_b * stride_vb
    do_ptr += pid_b * stride_dob
    offs_wk = offs_h3 * stride_wh + offs_s[None, :, None]                     # (H_PAD, BS, 1)
    mask_wk = (offs_h3 < H) & (offs_s[None, :, None] < T)
    pre_q_ptr += pid_b * stride_pre_wb
    pre_k_ptr += pid_b * stride_pre_wb
    post_q_ptr += pid_b * stride_post_wb
    post_k_ptr += pid_b * stride_post_wb

    # query blocks that can hold a kept (t, s): t >= s (causal) and t < s + window
    s_start = pid_s * BLOCK_S
    if CAUSAL:
        lo = s_start // BLOCK_T * BLOCK_T
    else:
        lo = 0
    hi = tl.minimum(s_start + BLOCK_S - 1 + window, T)

    if DO_DK:
        dk = _zero_chunks(H_PAD, BLOCK_S, DC, NC)                             # NC x (H_PAD, BS, DC)
    if DO_DV:
        dv = _zero_chunks(H_PAD, BLOCK_S, DC, NC)
    offs_w_pre3 = tl.arange(0, NW_PRE_PAD)[:, None, None]
    offs_w_post3 = tl.arange(0, NW_POST_PAD)[:, None, None]
    acc_pre_k = tl.zeros([NW_PRE_PAD, H_PAD, BLOCK_S], tl.float32)            # packed-row grads
    acc_post_k = tl.zeros([NW_POST_PAD, H_PAD, BLOCK_S], tl.float32)
    acc_pre_st = tl.zeros([H_PAD, H_PAD], tl.float32)
    acc_post_st = tl.zeros([H_PAD, H_PAD], tl.float32)
    for start_t in range(lo, hi, BLOCK_T):
        offs_t = start_t + tl.arange(0, BLOCK_T)
        mask_l = (offs_h3 < H) & (offs_t[None, None, :] < T)
        offs_l = pid_b * stride_lb + offs_h3 * stride_lh + offs_t[None, None, :]
        lse = tl.load(lse_ptr + offs_l, mask=mask_l, other=0.0)               # (H_PAD, 1, BT)
        offs_wq = offs_h3 * stride_wh + offs_t[None, None, :]                 # (H_PAD, 1, BT)
        mask_wq = (offs_h3 < H) & (offs_t[None, None, :] < T)

        a = _dot_over_d(k_ptr, q_ptr, offs_h3, offs_s, offs_t, stride_kh, stride_kt, stride_kd, stride_qh,
                        stride_qt, stride_qd, H, T, D, DC, NC, PRECISION, DOT_F32) * scale  # L^T
        a_mixed = a
        if HAS_PRE:
            a_mixed = _compose(a, pre_k_ptr, offs_wk, mask_wk, pre_q_ptr, offs_wq, mask_wq,
                               pre_st_ptr, offs_h3, stride_ww, PRE_KW, PRE_KDD, PRE_QW, PRE_QDD,
                               PRE_ST, R_PRE, H, 0)
        keep = _keep(offs_t[None, :], offs_s[:, None], T, window, CAUSAL)[None, :, :]
        p = tl.exp(tl.where(keep, a_mixed - lse, float("-inf")))             # P^T
        if DO_DV:
            p_mixed = p
            if HAS_POST:
                p_mixed = _compose(p, post_k_ptr, offs_wk, mask_wk, post_q_ptr, offs_wq, mask_wq,
                                   post_st_ptr, offs_h3, stride_ww, POST_KW, POST_KDD, POST_QW,
                                   POST_QDD, POST_ST, R_POST, H, 0)
            dv = _acc_over_s(dv, p_mixed, do_ptr, offs_h3, offs_t, stride_doh, stride_dot, stride_dod,
                             H, T, D, DC, NC, PRECISION, DOT_F32)
        if DO_DK:
            delta = tl.load(delta_ptr + offs_l, mask=mask_l, other=0.0)       # (H_PAD, 1, BT)
            dp = _dot_over_d(v_ptr, do_ptr, offs_h3, offs_s, offs_t, stride_vh, stride_vt, stride_vd,
                             stride_doh, stride_dot, stride_dod, H, T, D, DC, NC, PRECISION,
                             DOT_F32)                                         # dP'^T
            if HAS_POST:
                if POST_ST:
                    acc_post_st = _static_grad(acc_post_st, p, dp, offs_h3, offs_h, H)
                dp, acc_post_k = _compose_bwd(p, dp, acc_post_k, offs_w_post3, post_k_ptr, offs_wk,
                                              mask_wk, post_q_ptr, offs_wq, mask_wq, post_st_ptr,
                                              offs_h3, stride_ww, POST_KW, POST_KDD, POST_QW,
                                              POST_QDD, POST_ST, R_POST, H)
            da = p * (dp - delta)                                             # dL'^T (softmax)
            if HAS_PRE:
                if PRE_ST:
                    acc_pre_st = _static_grad(acc_pre_st, a, da, offs_h3, offs_h, H)
                da, acc_pre_k = _compose_bwd(a, da, acc_pre_k, offs_w_pre3, pre_k_ptr, offs_wk,
                                             mask_wk, pre_q_ptr, offs_wq, mask_wq, pre_st_ptr,
                                             offs_h3, stride_ww, PRE_KW, PRE_KDD, PRE_QW, PRE_QDD,
                                             PRE_ST, R_PRE, H)
            dk = _acc_over_s(dk, da, q_ptr, offs_h3, offs_t, stride_qh, stride_qt, stride_qd, H, T,
                             D, DC, NC, PRECISION, DOT_F32)

    if DO_DV:
        _store_chunks(dv_ptr + pid_b * stride_dvb, dv, 1.0, offs_h3, offs_s, stride_dvh, stride_dvt,
                      stride_dvd, H, T, D, DC, NC)
    if DO_DK:   # dK and the weight gradients
        _store_chunks(dk_ptr + pid_b * stride_dkb, dk, scale, offs_h3, offs_s, stride_dkh, stride_dkt,
                      stride_dkd, H, T, D, DC, NC)
        # key-side weight gradients: packed [B, 2R+1, H, T] like the weights
        if HAS_PRE:
            _store_side_grads(dpre_k_ptr + pid_b * stride_pre_wb, acc_pre_k, offs_w_pre3, offs_h, offs_s,
                              stride_ww, stride_wh, T, R_PRE, H)
        if HAS_POST:
            _store_side_grads(dpost_k_ptr + pid_b * stride_post_wb, acc_post_k, offs_w_post3, offs_h,
                              offs_s, stride_ww, stride_wh, T, R_POST, H)
        # this program's partial d static [H, H]; the launcher sums the partials over (batch, block)
        offs_st = pid_b * stride_stb + pid_s * stride_stn + offs_h[:, None] * H + offs_h[None, :]
        mask_st = (offs_h[:, None] < H) & (offs_h[None, :] < H)
        if PRE_ST:
            tl.store(dpre_st_ptr + offs_st, acc_pre_st, mask=mask_st)
        if POST_ST:
            tl.store(dpost_st_ptr + offs_st, acc_post_st, mask=mask_st)


@triton.jit
def _dcmha_bwd_dq_kernel(
        q_ptr, k_ptr, v_ptr, do_ptr, lse_ptr, delta_ptr, dq_ptr,
        pre_q_ptr, pre_k_ptr, pre_st_ptr, post_q_ptr, post_k_ptr, post_st_ptr,
        dpre_q_ptr, dpost_q_ptr,
        T, window, scale,
        stride_qb, stride_qh, stride_qt, stride_qd,
        stride_kb, stride_kh, stride_kt, stride_kd,
        stride_vb, stride_vh, stride_vt, stride_vd,
        stride_dob, stride_doh, stride_dot, stride_dod,
        stride_dqb, stride_dqh, stride_dqt, stride_dqd,
        stride_lb, stride_lh,
        stride_pre_wb, stride_post_wb, stride_ww, stride_wh,
        H: tl.constexpr, H_PAD: tl.constexpr, D: tl.constexpr, DC: tl.constexpr, NC: tl.constexpr,
        HAS_PRE: tl.constexpr, PRE_QW: tl.constexpr, PRE_KW: tl.constexpr,
        PRE_QDD: tl.constexpr, PRE_KDD: tl.constexpr, PRE_ST: tl.constexpr, R_PRE: tl.constexpr,
        NW_PRE_PAD: tl.constexpr,
        HAS_POST: tl.constexpr, POST_QW: tl.constexpr, POST_KW: tl.constexpr,
        POST_QDD: tl.constexpr, POST_KDD: tl.constexpr, POST_ST: tl.constexpr, R_POST: tl.constexpr,
        NW_POST_PAD: tl.constexpr,
        CAUSAL: tl.constexpr, BLOCK_T: tl.constexpr, BLOCK_S: tl.constexpr,
        PRECISION: tl.constexpr, DOT_F32: tl.constexpr):
    """Per query block: dQ and the query-side weight gradients. Tiles are [H_PAD, BT, BS]."""
    pid_t = tl.num_programs(0) - 1 - tl.program_id(0)    # longest causal rows first
    pid_b = tl.program_id(1).to(tl.int64)
    offs_h = tl.arange(0, H_PAD)
    offs_h3 = offs_h[:, None, None]
    offs_t = pid_t * BLOCK_T + tl.arange(0, BLOCK_T)
    q_ptr += pid_b * stride_qb
    k_ptr += pid_b * stride_kb
    v_ptr += pid_b * stride_vb
    do_ptr += pid_b * stride_dob
    mask_l = (offs_h3 < H) & (offs_t[None, :, None] < T)
    offs_l = pid_b * stride_lb + offs_h3 * stride_lh + offs_t[None, :, None]
    lse = tl.load(lse_ptr + offs_l, mask=mask_l, other=0.0)                   # (H_PAD, BT, 1)
    delta = tl.load(delta_ptr + offs_l, mask=mask_l, other=0.0)
    offs_wq = offs_h3 * stride_wh + offs_t[None, :, None]
    mask_wq = mask_l
    pre_q_ptr += pid_b * stride_pre_wb
    pre_k_ptr += pid_b * stride_pre_wb
    post_q_ptr += pid_b * stride_post_wb
    post_k_ptr += pid_b * stride_post_wb

    t_start = pid_t * BLOCK_T
    lo = tl.maximum(t_start - window + 1, 0) // BLOCK_S * BLOCK_S
    if CAUSAL:
        hi = tl.minimum(t_start + BLOCK_T, T)
    else:
        hi = T
    dq = _zero_chunks(H_PAD, BLOCK_T, DC, NC)                                 # NC x (H_PAD, BT, DC)
    offs_w_pre3 = tl.arange(0, NW_PRE_PAD)[:, None, None]
    offs_w_post3 = tl.arange(0, NW_POST_PAD)[:, None, None]
    acc_pre_q = tl.zeros([NW_PRE_PAD, H_PAD, BLOCK_T], tl.float32)
    acc_post_q = tl.zeros([NW_POST_PAD, H_PAD, BLOCK_T], tl.float32)
    for start_s in range(lo, hi, BLOCK_S):
        offs_s = start_s + tl.arange(0, BLOCK_S)
        offs_wk = offs_h3 * stride_wh + offs_s[None, None, :]
        mask_wk = (offs_h3 < H) & (offs_s[None, None, :] < T)

        a = _dot_over_d(q_ptr, k_ptr, offs_h3, offs_t, offs_s, stride_qh, stride_qt, stride_qd, stride_kh,
                        stride_kt, stride_kd, H, T, D, DC, NC, PRECISION, DOT_F32) * scale  # (H_PAD, BT, BS)
        a_mixed = a
        if HAS_PRE:
            a_mixed = _compose(a, pre_q_ptr, offs_wq, mask_wq, pre_k_ptr, offs_wk, mask_wk,
                               pre_st_ptr, offs_h3, stride_ww, PRE_QW, PRE_QDD, PRE_KW, PRE_KDD,
                               PRE_ST, R_PRE, H, 0)
        keep = _keep(offs_t[:, None], offs_s[None, :], T, window, CAUSAL)[None, :, :]
        p = tl.exp(tl.where(keep, a_mixed - lse, float("-inf")))
        dp = _dot_over_d(do_ptr, v_ptr, offs_h3, offs_t, offs_s, stride_doh, stride_dot, stride_dod,
                         stride_vh, stride_vt, stride_vd, H, T, D, DC, NC, PRECISION, DOT_F32)  # dP'
        if HAS_POST:
            dp, acc_post_q = _compose_bwd(p, dp, acc_post_q, offs_w_post3, post_q_ptr, offs_wq,
                                          mask_wq, post_k_ptr, offs_wk, mask_wk, post_st_ptr,
                                          offs_h3, stride_ww, POST_QW, POST_QDD, POST_KW, POST_KDD,
                                          POST_ST, R_POST, H)
        da = p * (dp - delta)                                                 # dL'
        if HAS_PRE:
            da, acc_pre_q = _compose_bwd(a, da, acc_pre_q, offs_w_pre3, pre_q_ptr, offs_wq, mask_wq,
                                         pre_k_ptr, offs_wk, mask_wk, pre_st_ptr, offs_h3,
                                         stride_ww, PRE_QW, PRE_QDD, PRE_KW, PRE_KDD, PRE_ST, R_PRE, H)
        dq = _acc_over_s(dq, da, k_ptr, offs_h3, offs_s, stride_kh, stride_kt, stride_kd, H, T, D,
                         DC, NC, PRECISION, DOT_F32)

    _store_chunks(dq_ptr + pid_b * stride_dqb, dq, scale, offs_h3, offs_t, stride_dqh, stride_dqt,
                  stride_dqd, H, T, D, DC, NC)
    if HAS_PRE:
        _store_side_grads(dpre_q_ptr + pid_b * stride_pre_wb, acc_pre_q, offs_w_pre3, offs_h, offs_t,
                          stride_ww, stride_wh, T, R_PRE, H)
    if HAS_POST:
        _store_side_grads(dpost_q_ptr + pid_b * stride_post_wb, acc_post_q, offs_w_post3, offs_h, offs_t,
                          stride_ww, stride_wh, T, R_POST, H)


# ----------------------------------------------------------------------------------------------
# Launchers
# ----------------------------------------------------------------------------------------------

def _interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


@dataclass
class _Blocks:
    block_t: int
    block_s: int
    chunk: int        # head-dim chunk of the dot operands (DC)
    num_warps: int
    num_stages: int
    split_dkdv: bool = False   # dV and dK in two launches (one [H, BS, d] accumulator each)
    maxnreg: Optional[int] = None   # ptxas register cap per thread (None: 64K / threads, max 255)

    @property
    def launch_options(self) -> dict:
        return {} if self.maxnreg is None else {"maxnreg": self.maxnreg}


def _pick_blocks(h_pad: int, d: int, elem_bytes: int) -> _Blocks:
    """Tile sizes for H_PAD heads, head dim d and operands of elem_bytes bytes.

    Registers bound everything: a program holds several [H_PAD, BT, BS] float32 tiles (logits,
    probabilities, their gradients, compose temporaries) plus [H_PAD, BT, d] accumulators, so the
    (t, s) tile is the tl.dot minimum 16x16 (32x16 for one head, where a 16x16 tile would keep only
    2 of the 4 warps' MMAs busy), and the warps grow with the heads, one head per warp up to 16
    warps: 8 elements per thread per tile, the least a 3-D tl.dot layout gives (its warps split the
    head axis; more warps than heads replicate work and spilled far more when tried). dK and dV run
    as two launches (split_dkdv: one [H_PAD, BS, d] accumulator each, the dV launch recomputes the
    logits): the combined kernel spilled at nearly every shape. Measured with ptxas 12.8 (Triton
    3.7.1) for sm_90, bf16, R 2, causal, by `python -m dcpoc.kernels.registers`:
        16 heads x d 64, 16 warps, chunk 16: every launch at the 128-register cap of 16 warps,
            spills forward 100 B, delta 16, dV 96, dK 368, dQ 388 (combined dK/dV: 988); inside
            the sweeps only dK and dQ store spills (152 / 160 B per block), the others reload
            loop invariants (0 to 32 B); chunks of 32 or 64 spill more;
        8 heads x d 128, 8 warps, chunk 32: no spills, 234 to 255 registers (combined dK/dV: 492 B).
    The target, at most 128 registers and no spills (two 8-warp blocks per SM), is not reached and
    out of reach for this design (README, "GPU registers and spills": dK's and dQ's live state at
    the 16x16 minimum exceeds the register file even without compose's weight gradients or with d
    split four ways): capping 8 warps at 128 (maxnreg) spills like 16 warps do. At 16 heads, 8
    warps issue fewer instructions per tile (more of each reduction over heads stays inside a
    thread) and spill less in total (dV none, dK 336, dQ 364; as much inside the sweeps) but hold
    255 registers and half the warps: measure both on the GPU.
    The head dim is contracted in chunks of DC, so that a 3-D tl.dot operand, which Triton stages
    whole in shared memory, stays at H_PAD x 16 x DC x elem_bytes <= 8 KiB: without chunks 32 heads x
    d 64 needs over 227 KiB of shared memory; with them every kernel needs 16 to 32 KiB. One stage:
    there is no shared memory or register room to pipeline loads. Under the interpreter: 16x16 and
    chunks of 32, cheap and exercising several blocks and chunks at small sizes.
    """
    d_pad = max(16, triton.next_power_of_2(d))
    if _interpreting():
        return replace(_Blocks(16, 16, min(32, d_pad), 4, 1, split_dkdv=True), **_overrides)
    block_t = 32 if h_pad == 1 else 16
    num_warps = min(16, max(4, h_pad))
    chunk = min(d_pad, max(16, 512 // (h_pad * elem_bytes)))
    return replace(_Blocks(block_t, 16, chunk, num_warps, 1, split_dkdv=True), **_overrides)


# module-wide on purpose: autograd runs the backward launches on its own thread for CUDA tensors,
# and they must see the same choice as the forward (a thread-local or ContextVar would not)
_overrides: dict = {}


@contextmanager
def block_overrides(**fields) -> Iterator[None]:
    """Inside the with-block, every launch uses _pick_blocks' choice with these _Blocks fields
    replaced (e.g. num_warps=8, split_dkdv=False): `bench kernels` times such alternatives beside
    the default on a GPU, where only a measurement can choose between them."""
    unknown = set(fields) - set(_Blocks.__dataclass_fields__)
    if unknown:
        raise ValueError(f"unknown block fields {sorted(unknown)}: use {list(_Blocks.__dataclass_fields__)}")
    saved = dict(_overrides)
    _overrides.update(fields)
    try:
        yield
    finally:
        _overrides.clear()
        _overrides.update(saved)


@dataclass
class _Composition:
    """One composition's weights packed for the kernels: each side as [B, 2R+1, H, T] float32
    (rows 0..R-1 = w1, R..2R-1 = w2, 2R = gate; positions last so loads along t are contiguous).
    terms: which of QW, KW, QDD, KDD, ST (DCMHA.md's Compose terms) are present."""
    terms: dict[str, bool]
    rank: int
    q_side: Tensor
    k_side: Tensor
    static: Tensor

    @property
    def rows(self) -> int:
        return 2 * self.rank + 1


def _pack_side(w1: Optional[Tensor], w2: Optional[Tensor], gate: Optional[Tensor], rank: int,
               shape: tuple[int, int, int], device) -> Tensor:
    B, T, H = shape
    if w1 is None and gate is None:
        return torch.zeros(1, device=device, dtype=torch.float32)       # never read
    side = torch.zeros(B, 2 * rank + 1, H, T, device=device, dtype=torch.float32)
    if w1 is not None:
        r = w1.shape[2]
        side[:, :r] = w1.permute(0, 2, 3, 1)                             # [B, T, R, H] -> [B, R, H, T]
        side[:, rank:rank + r] = w2.permute(0, 2, 3, 1)
    if gate is not None:
        side[:, 2 * rank] = gate.transpose(1, 2)                         # [B, T, H] -> [B, H, T]
    return side


def _pack(w: ComposeWeights, shape: tuple[int, int, int], device) -> Optional[_Composition]:
    """None when the composition has no term at all (it is the identity then)."""
    terms = {"QW": w.qw1 is not None, "KW": w.kw1 is not None, "QDD": w.qdd is not None,
             "KDD": w.kdd is not None, "ST": w.static is not None}
    if not any(terms.values()):
        return None
    rank = max([x.shape[2] for x in (w.qw1, w.kw1) if x is not None], default=1)
    static = (torch.zeros(1, device=device, dtype=torch.float32) if w.static is None
              else w.static.to(torch.float32).contiguous())
    return _Composition(terms, rank, _pack_side(w.qw1, w.qw2, w.qdd, rank, shape, device),
                        _pack_side(w.kw1, w.kw2, w.kdd, rank, shape, device), static)


def _unpack_grads(comp: Optional[_Composition], w: ComposeWeights, d_q_side: Tensor,
                  d_k_side: Tensor, d_static: Optional[Tensor]) -> tuple[Optional[Tensor], ...]:
    """The packed gradient buffers back as one gradient per ComposeWeights field (None if absent)."""
    if comp is None:
        return (None,) * 7
    rank = comp.rank

    def low_rank(side, x, row0):
        return None if x is None else side[:, row0:row0 + x.shape[2]].permute(0, 3, 1, 2).to(x.dtype)

    def gate(side, x):
        return None if x is None else side[:, 2 * rank].transpose(1, 2).to(x.dtype)

    return (low_rank(d_q_side, w.qw1, 0), low_rank(d_q_side, w.qw2, rank),
            low_rank(d_k_side, w.kw1, 0), low_rank(d_k_side, w.kw2, rank),
            gate(d_q_side, w.qdd), gate(d_k_side, w.kdd),
            None if w.static is None else d_static.to(w.static.dtype))


def _common_args(q: Tensor, pre: Optional[_Composition], post: Optional[_Composition]):
    """Shared launch values: (weight pointers, weight strides, constexprs) for pre and post."""
    B, H, T, d = q.shape
    dummy = torch.zeros(1, device=q.device, dtype=torch.float32)
    pointers, strides_b, meta = [], [], {}
    for name, comp in (("PRE", pre), ("POST", post)):
        meta[f"HAS_{name}"] = comp is not None
        if comp is None:
            pointers += [dummy, dummy, dummy]
            strides_b.append(0)
            meta.update({f"{name}_{term}": False for term in ("QW", "KW", "QDD", "KDD", "ST")})
            meta[f"R_{name}"] = 1
        else:
            pointers += [comp.q_side, comp.k_side, comp.static]
            strides_b.append(comp.rows * H * T)
            meta.update({f"{name}_{term}": on for term, on in comp.terms.items()})
            meta[f"R_{name}"] = comp.rank
    h_pad = triton.next_power_of_2(H)
    blocks = _pick_blocks(h_pad, d, q.element_size())
    # float32 inputs get exact float32 dots (tf32 would cost ~1e-3 relative error); bf16 is bf16
    meta.update(H=H, H_PAD=h_pad, D=d, DC=blocks.chunk, NC=triton.cdiv(d, blocks.chunk),
                PRECISION="ieee" if q.dtype == torch.float32 else "tf32", DOT_F32=_interpreting())
    # packed sides are [B, rows, H, T] contiguous: row stride H*T, head stride T for pre and post
    return pointers, strides_b + [H * T, T], meta, blocks


def _launch_forward(q: Tensor, k: Tensor, v: Tensor, pre: Optional[_Composition],
                    post: Optional[_Composition], causal: bool, window: int) -> tuple[Tensor, Tensor]:
    """O [B, H, T, d] in v's dtype and LSE [B, H, T] float32, both poisoned with NaN first."""
    B, H, T, d = q.shape
    o = torch.full((B, H, T, d), float("nan"), device=q.device, dtype=v.dtype)
    lse = torch.full((B, H, T), float("nan"), device=q.device, dtype=torch.float32)
    pointers, w_strides, meta, blocks = _common_args(q, pre, post)
    grid = (triton.cdiv(T, blocks.block_t), B)
    _dcmha_fwd_kernel[grid](
        q, k, v, o, lse, *pointers,
        T, window, q.shape[-1] ** -0.5,
        *q.stride(), *k.stride(), *v.stride(), *o.stride(), *lse.stride()[:2], *w_strides,
        CAUSAL=causal, BLOCK_T=blocks.block_t, BLOCK_S=blocks.block_s,
        num_warps=blocks.num_warps, num_stages=blocks.num_stages, **blocks.launch_options, **meta)
    return o, lse


def _launch_backward(q: Tensor, k: Tensor, v: Tensor, o: Tensor, lse: Tensor, do: Tensor,
                     pre: Optional[_Composition], post: Optional[_Composition], causal: bool,
                     window: int):
    """dq, dk, dv and, per composition, (d q_side, d k_side, d static) packed like the weights."""
    B, H, T, d = q.shape
    pointers, w_strides, meta, blocks = _common_args(q, pre, post)
    scale = d ** -0.5
    nan = float("nan")

    def poisoned(*shape, dtype=torch.float32):
        return torch.full(shape, nan, device=q.device, dtype=dtype)

    if post is None:
        # no mixing after the softmax: Delta = sum_s P dP = dO . O as in flash attention
        delta = (do.float() * o.float()).sum(-1)
    else:
        delta = poisoned(B, H, T)
        _dcmha_bwd_delta_kernel[(triton.cdiv(T, blocks.block_t), B)](
            q, k, v, do, lse, delta, *pointers,
            T, window, scale,
            *q.stride(), *k.stride(), *v.stride(), *do.stride(), *lse.stride()[:2], *w_strides,
            CAUSAL=causal, BLOCK_T=blocks.block_t, BLOCK_S=blocks.block_s,
            num_warps=blocks.num_warps, num_stages=blocks.num_stages, **blocks.launch_options,
            **meta)
    assert delta.stride() == lse.stride()

    grads = {}
    for name, comp in (("pre", pre), ("post", post)):
        if comp is None:
            dummy = poisoned(1)
            grads[name] = (dummy, dummy, dummy)
            continue
        rows = comp.rows
        partials = poisoned(B, triton.cdiv(T, blocks.block_s), H, H) if comp.terms["ST"] else poisoned(1)
        grads[name] = (poisoned(B, rows, H, T), poisoned(B, rows, H, T), partials)
    nw_pad = {f"NW_{name.upper()}_PAD": triton.next_power_of_2(2 * meta[f"R_{name.upper()}"] + 1)
              for name in ("pre", "post")}
    dq, dk, dv = poisoned(*q.shape, dtype=q.dtype), poisoned(*k.shape, dtype=k.dtype), \
        poisoned(*v.shape, dtype=v.dtype)
    launch = dict(CAUSAL=causal, BLOCK_T=blocks.block_t, BLOCK_S=blocks.block_s,
                  num_warps=blocks.num_warps, num_stages=blocks.num_stages, **blocks.launch_options,
                  **meta, **nw_pad)
    n_sblocks = triton.cdiv(T, blocks.block_s)
    # one launch for dK and dV, or (split_dkdv) a dV launch then a dK launch: same values, bit for bit
    for do_dk, do_dv in ([(False, True), (True, False)] if blocks.split_dkdv else [(True, True)]):
        _dcmha_bwd_dkdv_kernel[(n_sblocks, B)](
            q, k, v, do, lse, delta, dk, dv, *pointers,
            grads["pre"][1], grads["post"][1], grads["pre"][2], grads["post"][2],
            T, window, scale,
            *q.stride(), *k.stride(), *v.stride(), *do.stride(), *dk.stride(), *dv.stride(),
            *lse.stride()[:2], *w_strides, n_sblocks * H * H, H * H, DO_DK=do_dk, DO_DV=do_dv,
            **launch)
    _dcmha_bwd_dq_kernel[(triton.cdiv(T, blocks.block_t), B)](
        q, k, v, do, lse, delta, dq, *pointers, grads["pre"][0], grads["post"][0],
        T, window, scale,
        *q.stride(), *k.stride(), *v.stride(), *do.stride(), *dq.stride(),
        *lse.stride()[:2], *w_strides, **launch)
    for name in ("pre", "post"):
        d_q_side, d_k_side, d_static = grads[name]
        grads[name] = (d_q_side, d_k_side, d_static.sum(dim=(0, 1)) if d_static.dim() == 4 else None)
    return dq, dk, dv, grads["pre"], grads["post"]


# ----------------------------------------------------------------------------------------------
# autograd
# ----------------------------------------------------------------------------------------------

class DCMHAFunction(torch.autograd.Function):
    """apply(q, k, v, causal, window, *14 weights): the 7 ComposeWeights fields of pre, then of
    post, None where absent. window is an int >= 1 (T + 1 for no window)."""

    @staticmethod
    def forward(ctx, q, k, v, causal, window, *weights):
        B, H, T, _ = q.shape
        pre_w, post_w = ComposeWeights(*weights[:7]), ComposeWeights(*weights[7:])
        pre, post = _pack(pre_w, (B, T, H), q.device), _pack(post_w, (B, T, H), q.device)
        o, lse = _launch_forward(q, k, v, pre, post, causal, window)
        ctx.save_for_backward(q, k, v, o, lse, *weights)   # O(T) each: no T x T tensor exists
        ctx.causal, ctx.window = causal, window
        return o

    @staticmethod
    def backward(ctx, do):
        q, k, v, o, lse, *weights = ctx.saved_tensors
        B, H, T, _ = q.shape
        pre_w, post_w = ComposeWeights(*weights[:7]), ComposeWeights(*weights[7:])
        pre, post = _pack(pre_w, (B, T, H), q.device), _pack(post_w, (B, T, H), q.device)
        dq, dk, dv, d_pre, d_post = _launch_backward(q, k, v, o, lse, do, pre, post, ctx.causal,
                                                     ctx.window)
        return (dq, dk, dv, None, None, *_unpack_grads(pre, pre_w, *d_pre),
                *_unpack_grads(post, post_w, *d_post))


# ----------------------------------------------------------------------------------------------
# Can this machine launch a Triton kernel at all?
# ----------------------------------------------------------------------------------------------

@triton.jit
def _plus_one_kernel(x_ptr, n, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tl.store(x_ptr + offs, tl.load(x_ptr + offs, mask=offs < n) + 1.0, mask=offs < n)


def launch_smoke(device: torch.device) -> None:
    """Build and run a one-line kernel: Triton's first launch on a machine compiles its launcher
    with the system C compiler and Python's headers, which neither the interpreter nor a
    cross-compile ever needs. Raises RuntimeError (one line) if the result is wrong; a missing
    compiler raises Triton's own error."""
    x = torch.arange(4, device=device, dtype=torch.float32)
    _plus_one_kernel[(1,)](x, 4, BLOCK=4)
    if x.tolist() != [1.0, 2.0, 3.0, 4.0]:
        raise RuntimeError(f"a one-line Triton kernel computed {x.tolist()} instead of [1, 2, 3, 4]")


# ----------------------------------------------------------------------------------------------
# Public function
# ----------------------------------------------------------------------------------------------

def _check_weights(w: object, name: str, q: Tensor) -> ComposeWeights:
    if w is None:
        return ComposeWeights()
    if not isinstance(w, ComposeWeights):
        raise ValueError(f"{name} must be a ComposeWeights or None, got {type(w).__name__}")
    B, H, T, _ = q.shape
    for field, x in zip(ComposeWeights._fields, w):
        if x is None:
            continue
        if not isinstance(x, Tensor) or not x.is_floating_point():
            raise ValueError(f"{name}.{field} must be a floating-point tensor")
        if x.device != q.device:
            raise ValueError(f"{name}.{field} is on {x.device} but q is on {q.device}")
    for w1, w2, side in ((w.qw1, w.qw2, "qw"), (w.kw1, w.kw2, "kw")):
        if (w1 is None) != (w2 is None):
            raise ValueError(f"{name}.{side}1 and {name}.{side}2 must be given together or not at all")
        if w1 is None:
            continue
        if w1.dim() != 4 or w1.shape[:2] != (B, T) or w1.shape[3] != H or w2.shape != w1.shape:
            raise ValueError(f"{name}.{side}1 and {name}.{side}2 must both be [B, T, R, H] = "
                             f"[{B}, {T}, R, {H}], got {list(w1.shape)} and {list(w2.shape)}")
        if not 1 <= w1.shape[2] <= MAX_RANK:
            raise ValueError(f"{name}.{side}1: rank R = {w1.shape[2]} is outside 1..{MAX_RANK}")
    for gate, field in ((w.qdd, "qdd"), (w.kdd, "kdd")):
        if gate is not None and tuple(gate.shape) != (B, T, H):
            raise ValueError(f"{name}.{field} must be [B, T, H] = [{B}, {T}, {H}], "
                             f"got {list(gate.shape)}")
    if w.static is not None and tuple(w.static.shape) != (H, H):
        raise ValueError(f"{name}.static must be [H, H] = [{H}, {H}], got {list(w.static.shape)}")
    return w


def dcmha_triton(q: Tensor, k: Tensor, v: Tensor, pre: Optional[ComposeWeights],
                 post: Optional[ComposeWeights], *, causal: bool = True,
                 window: Optional[int] = None) -> Tensor:
    """DCMHA through the fused Triton kernels, with autograd; semantics of dcmha_reference.

    q, k, v: [B, H, T, d] (self-attention: k and v have q's length), float32 or bfloat16 (one dtype),
    16 <= d <= 128, 1 <= H <= 32; any strides. pre / post: ComposeWeights or None, any field None
    (that term absent): qw1, qw2, kw1, kw2 [B, T, R, H] with 1 <= R <= 4, qdd, kdd [B, T, H],
    static [H, H]. causal keeps s <= t; window w (int >= 1) keeps t - w < s. Returns [B, H, T, d] in
    v's dtype; accumulation is float32. Raises ValueError on bad input.
    """
    for name, x in (("q", q), ("k", k), ("v", v)):
        if not isinstance(x, Tensor) or x.dim() != 4:
            raise ValueError(f"{name} must be a 4-d tensor [B, H, T, d]")
    if k.shape[2] != q.shape[2]:
        raise ValueError(f"dcmha_triton is self-attention only: q has {q.shape[2]} positions, "
                         f"k has {k.shape[2]} (use dcmha_reference)")
    if k.shape != q.shape or v.shape != q.shape:
        raise ValueError(f"q, k, v must have the same shape [B, H, T, d], got {list(q.shape)}, "
                         f"{list(k.shape)}, {list(v.shape)}")
    if not (q.dtype == k.dtype == v.dtype):
        raise ValueError(f"q, k, v must share one dtype, got {q.dtype}, {k.dtype}, {v.dtype}")
    if q.dtype not in (torch.float32, torch.bfloat16):
        raise ValueError(f"dcmha_triton supports float32 and bfloat16, got {q.dtype} "
                         "(use dcmha_reference)")
    if not (q.device == k.device == v.device):
        raise ValueError("q, k, v must be on one device")
    if not q.is_cuda and not _interpreting():
        raise ValueError("dcmha_triton needs CUDA tensors (or TRITON_INTERPRET=1 set before triton "
                         "is imported); use dcmha_reference on the CPU")
    B, H, T, d = q.shape
    if not HEAD_DIMS[0] <= d <= HEAD_DIMS[1]:
        raise ValueError(f"head dim {d} is outside {HEAD_DIMS[0]}..{HEAD_DIMS[1]}")
    if not 1 <= H <= MAX_HEADS:
        raise ValueError(f"{H} heads is outside 1..{MAX_HEADS}")
    if B < 1 or T < 1:
        raise ValueError(f"empty input: B = {B}, T = {T}")
    if not isinstance(causal, bool):
        raise ValueError(f"causal must be a bool, got {causal!r}")
    if window is not None and (isinstance(window, bool) or not isinstance(window, int) or window < 1):
        raise ValueError(f"window must be None or an int >= 1, got {window!r}")
    pre, post = _check_weights(pre, "pre", q), _check_weights(post, "post", q)
    window_eff = T + 1 if window is None else min(window, T + 1)   # T + 1: every key is in it
    return DCMHAFunction.apply(q, k, v, causal, window_eff, *pre, *post)
