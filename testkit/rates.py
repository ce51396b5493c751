"""Timing helpers for rate-limit tests."""

from __future__ import annotations


def most_in_any_window(times: list[float], seconds: float) -> int:
    """The largest number of ``times`` inside any window [t, t + seconds)."""
    ordered = sorted(times)
    most, start = 0, 0
    for end, moment in enumerate(ordered):
        while moment - ordered[start] >= seconds:
            start += 1
        most = max(most, end - start + 1)
    return most
