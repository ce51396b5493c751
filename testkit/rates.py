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


def keep_collections_short() -> None:
    """Collect once, then keep every object alive now out of the garbage collector's full passes
    (:func:`gc.freeze`): call it once a process has imported what it needs.

    The fake Bot API stamps a call when its event loop reads it, so a pause of that loop
    stamps every call that arrived meanwhile at the same instant. A full collection of a test
    process (some 280,000 objects after the imports) paused it for 0.2-0.5 s on a loaded
    machine: the sends of two workers paced at 23 a second were counted as 26-32 in one second,
    all of the extra stamped within 3 ms of the collection's end. Frozen, the collections scan
    only what the run itself creates.
    """
    gc.collect()
    gc.freeze()
