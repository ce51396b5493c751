"""Weighted shares and means with 95% confidence intervals that account for the weights.

The uncertainty of a weighted estimate is that of a simple random sample of Kish's effective size
``n_eff = (Σw)² / Σw²`` (:func:`results.weighting.effective_size`), computed within the group the
estimate is about. A share's interval is Wilson's score interval at ``n_eff`` (it stays inside
0 to 100% and behaves for shares near the ends); a mean's is ``mean ± 1.96 · s_w / √(n_eff - 1)``,
``s_w²`` the weighted variance. Without margins every weight is 1, ``n_eff = n``, and these are the
textbook intervals. The median is the weighted median (the smallest value at which the cumulative
weight reaches half).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from results.weighting import effective_size

Z95 = 1.959963984540054


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float


def wilson(share: float, size: float, z: float = Z95) -> tuple[float, float]:
    """Wilson's score interval of ``share`` observed in a sample of (effective) ``size``."""
    if size <= 0:
        return (0.0, 1.0)
    centre = share + z * z / (2 * size)
    spread = z * math.sqrt(share * (1 - share) / size + z * z / (4 * size * size))
    divisor = 1 + z * z / size
    return (max(0.0, (centre - spread) / divisor), min(1.0, (centre + spread) / divisor))


def weighted_share(chosen: Sequence[bool], weights: Sequence[float]) -> Interval:
    """The weighted share of ``chosen`` respondents among all given, with its 95% interval."""
    total = sum(weights)
    part = sum(weight for picked, weight in zip(chosen, weights, strict=True) if picked)
    share = part / total if total else 0.0
    low, high = wilson(share, effective_size(weights))
    return Interval(share, low, high)


def weighted_mean(values: Sequence[float], weights: Sequence[float]) -> Interval:
    """The weighted mean of ``values`` with its 95% interval (a point interval for one value)."""
    total = sum(weights)
    mean = sum(value * weight for value, weight in zip(values, weights, strict=True)) / total
    variance = sum(weight * (value - mean) ** 2 for value, weight in zip(values, weights, strict=True)) / total
    size = effective_size(weights)
    spread = Z95 * math.sqrt(variance / (size - 1)) if size > 1 else 0.0
    return Interval(mean, mean - spread, mean + spread)


def weighted_median(values: Sequence[float], weights: Sequence[float]) -> float:
    """The smallest value at which the cumulative weight reaches half the total."""
    pairs = sorted(zip(values, weights, strict=True))
    half = sum(weights) / 2
    running = 0.0
    for value, weight in pairs:
        running += weight
        if running >= half - 1e-12:
            return value
    return pairs[-1][0]
