"""Compute and money: the $ per device-hour price table, device peak FLOP/s, cost of a run.

Prices are editable (settings key "prices" in the database); the defaults below are typical on-demand
cloud prices per device-hour in late 2026 and are only a starting point for the user's own numbers.
"""
from __future__ import annotations

from typing import Mapping

class PriceError(ValueError):
    """A bad price-table entry typed by the user; str() is one line."""


DEFAULT_PRICES_USD_PER_HOUR: dict[str, float] = {
    "cpu": 0.10,     # a 2-core cloud VM
    "a100": 1.80,
    "h100": 2.50,
    "h200": 3.50,
    "other-gpu": 2.00,
}

# Dense bf16 tensor-core peak FLOP/s, for MFU. CPUs have no meaningful entry (MFU is GPU only).
PEAK_BF16_FLOPS: dict[str, float] = {"a100": 312e12, "h100": 989e12, "h200": 989e12}


def device_kind(device_name: str) -> str:
    """Price-table key for a device name such as 'NVIDIA H200' or 'cpu'."""
    name = device_name.lower()
    if name == "cpu" or not name:
        return "cpu"
    for kind in ("h200", "h100", "a100"):
        if kind in name:
            return kind
    return "other-gpu"


def peak_flops(device_name: str) -> float | None:
    return PEAK_BF16_FLOPS.get(device_kind(device_name))


def price_per_hour(kind: str, prices: Mapping[str, float] | None = None) -> float:
    table = {**DEFAULT_PRICES_USD_PER_HOUR, **(prices or {})}
    if kind not in table:
        raise PriceError(f"no price for device kind '{kind}': known kinds are {', '.join(table)}")
    return float(table[kind])


def run_price_per_hour(device_name: str | None, gpu_type: str | None = "auto", n_devices: int = 1,
                       prices: Mapping[str, float] | None = None) -> float:
    """$ per hour of a run: the price of its gpu_type (or, for 'auto', of its device's kind) x its
    device count. The one place a run is priced: recorded cost, charts and estimates all use it."""
    if gpu_type in ("auto", None, ""):
        kind = device_kind(device_name if isinstance(device_name, str) and device_name else "cpu")
    else:
        kind = gpu_type
    return price_per_hour(kind, prices) * max(1, int(n_devices or 1))


def run_cost_usd(wall_s: float, device_name: str, n_devices: int = 1,
                 prices: Mapping[str, float] | None = None, kind: str = "auto") -> float:
    """$ of a run: device-hours x price of its device kind (kind 'auto' = from the device name)."""
    return wall_s / 3600.0 * run_price_per_hour(device_name, kind, n_devices, prices)


def training_flops(flops_per_token: float, tokens: int) -> float:
    return flops_per_token * tokens


MAX_PRICE_USD_PER_HOUR = 100_000.0   # per device-hour: far above any price, below a typo such as 2e30


def parse_price(item: str) -> tuple[str, float]:
    """'h100=2.20' -> ('h100', 2.2); a ValueError names the problem."""
    kind, sep, raw = item.partition("=")
    kind = kind.strip().lower()
    if not sep or kind not in DEFAULT_PRICES_USD_PER_HOUR:
        raise PriceError(f"price '{item}': write KIND=USD with KIND one of "
                         f"{', '.join(DEFAULT_PRICES_USD_PER_HOUR)}")
    try:
        usd = float(raw)
    except ValueError:
        usd = -1.0
    if not 0 <= usd <= MAX_PRICE_USD_PER_HOUR:   # 2e30 for 2.30 spoilt every cost, plan and report
        raise PriceError(f"price '{item}': USD per hour must be a number from 0 to "
                         f"{MAX_PRICE_USD_PER_HOUR:,.0f}")
    return kind, usd


# Throughput assumed before anything was measured on this machine: model FLOP utilisation of
# Transformer++ by device kind, and DCFormer's speed relative to it (measured ratios replace both).
ASSUMED_MFU = {"cpu": None, "a100": 0.35, "h100": 0.35, "h200": 0.35, "other-gpu": 0.25}
ASSUMED_CPU_FLOPS = 5e10          # effective FLOP/s of a small 2-core CPU at cpu-demo scale
ASSUMED_DCFORMER_SPEED = {"cpu": 0.65, "gpu": 0.75}


def assumed_tokens_per_s(flops_per_token: float, arch: str, device_name: str, n_devices: int = 1) -> float:
    """A default training throughput from FLOPs, for estimates before a run was measured."""
    kind = device_kind(device_name)
    if kind == "cpu":
        flops = ASSUMED_CPU_FLOPS
    else:
        flops = (PEAK_BF16_FLOPS.get(kind, 300e12)) * ASSUMED_MFU[kind] * n_devices
    speed = 1.0 if arch == "transformer" else ASSUMED_DCFORMER_SPEED["cpu" if kind == "cpu" else "gpu"]
    return flops / flops_per_token * speed


def estimate_run(tokens: int, flops_per_token: float, tokens_per_s: float, device_name: str,
                 n_devices: int = 1, prices: Mapping[str, float] | None = None,
                 gpu_type: str = "auto") -> dict[str, float]:
    """Wall time, device-hours, $ and FLOPs of training `tokens` at `tokens_per_s`."""
    wall_s = tokens / tokens_per_s
    return {"wall_s": wall_s, "device_hours": wall_s / 3600 * n_devices,
            "cost_usd": run_cost_usd(wall_s, device_name, n_devices, prices, kind=gpu_type),
            "flops": training_flops(flops_per_token, tokens)}
