"""The `bench infer` result's speed read one way, for the report, the risks and the Compare page.

Decode (generation) speed is tokens/s = 1 / the median latency per generated token, and its ratio
is DCFormer's over Transformer++'s. Results stored before that definition carry a mean-based
decode tokens/s beside their median latencies (the shipped reference measured 0.76 that way
against 0.81 from the medians), so the speed is always derived from the median here."""
from __future__ import annotations

import math


def decode_tokens_per_s(row: dict) -> float:
    """One architecture's generated tokens per second: 1 / its median per-token latency."""
    p50 = row.get("latency_p50_ms")
    return 1000.0 / p50 if p50 and math.isfinite(p50) and p50 > 0 else math.nan


def decode_speed_ratio(result: dict) -> float:
    """DCFormer's decode tokens/s over Transformer++'s (under 1: DCFormer generates slower)."""
    rows = {r["arch"]: r for r in result["rows"]}
    return decode_tokens_per_s(rows["dcformer"]) / decode_tokens_per_s(rows["transformer"])


def inference_risk(result: dict | None) -> tuple[str, dict]:
    """The inference risk as a Reason: how to measure it, or (with a benchmark) what was measured
    and that the production GPU is still to measure."""
    if not result:
        return ("risk.inference", {})
    return ("risk.inference_measured", {"ratio": decode_speed_ratio(result), "preset": result["preset"],
                                        "device": result["machine"]["device"], "date": result["date"][:10]})
