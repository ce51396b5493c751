"""What machine a benchmark ran on, so that figures taken on different machines can be compared.

Rates move with the CPU: the same commit gave 4,611 answers/s on one 2-core machine and 1,669/s
on another. Every benchmark prints :func:`describe`, whose reference figure (a fixed piece of
pure-Python work, best of three) scales the way the bot's own CPU time does.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

#: Iterations of the reference loop (about half a second on a fast core).
REFERENCE_ITERATIONS = 5_000_000


def cpu_model() -> str:
    """The CPU's model name as the kernel reports it, else the platform's processor string."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def reference_seconds() -> float:
    """Seconds one core takes for a fixed pure-Python loop (best of three runs)."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for number in range(REFERENCE_ITERATIONS):
            total += number
        best = min(best, time.perf_counter() - started)
    return best


def describe() -> str:
    """One line: CPUs, model, load average and the reference figure."""
    return (
        f"machine: {os.cpu_count()} CPUs ({cpu_model()}), load average {os.getloadavg()[0]:.1f},"
        f" reference loop {reference_seconds():.2f} s (lower is faster)"
    )
