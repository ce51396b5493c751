"""Timing helpers for rate-limit tests."""

from __future__ import annotations

import gc


def most_in_any_window(times: list[float], seconds: float) -> int:
    """The largest number of ``times`` inside any window [t, t + seconds)."""
    ordered = sorted(times)
    most, start = 0, 0
    for end, moment in enumerate(ordered):
        while moment - ordered[start] >= seconds:
            start += 1
        most = max(most, end - start + 1)
    return most


#: How many holders keep the heap frozen (see :func:`hold_collections`).
_holders = 0


def hold_collections() -> None:
    """Keep every object alive now out of the garbage collector's full passes (:func:`gc.freeze`)
    until the matching :func:`release_collections`; holders may nest.

    The fake Bot API stamps a call when its event loop reads it, so a pause of that loop stamps
    every call that arrived meanwhile at the same instant. A full collection of a test process
    (some 280,000 objects after the imports, more after many tests) paused it for 0.2-0.5 s on
    a loaded machine: the sends of two workers paced at 23 a second were counted as 26-32 in one
    second, all of the extra stamped within 3 ms of the collection's end. Frozen, the collections
    scan only what the run itself creates. Nothing is leaked: the release hands the objects back.
    """
    global _holders
    if _holders == 0:
        gc.freeze()
    _holders += 1


def release_collections() -> None:
    """End a :func:`hold_collections`; the last one hands the frozen objects back to the collector."""
    global _holders
    _holders -= 1
    if _holders == 0:
        gc.unfreeze()
