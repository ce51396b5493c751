"""Statistical disclosure control of the published tables: no figure rests on fewer than
``min_cell`` respondents, and no hidden figure can be worked out from the figures shown.

A question's tables are cells (respondent counts, keyed by any hashable) tied by equations "this
total is the sum of these parts": a row's respondents are the sum of its choices (single choice),
a choice's overall count the sum over a breakdown's groups, all respondents the sum of a
breakdown's group sizes. A share shown with its group size gives its count away, so hiding a
figure hides its count, its share and its interval alike.

- **Primary suppression**: every cell counting 1 to ``min_cell - 1`` respondents is hidden; a group
  of fewer than ``min_cell`` respondents is hidden whole (its zeros too: "none of the 4" says what
  all 4 answered).
- **Secondary suppression**: an equation with exactly one hidden term would give it away (total
  minus the parts shown), so one more of its parts is hidden: the smallest one shown, a non-zero
  one first; the total only when no part is left. This is repeated until no equation has a single
  hidden term, across all the tables of a question at once (they share the overall figures).

This is the classic hypercube-free heuristic: it stops exact derivation by sums and differences
(the tests solve the linear system for every hidden cell); it does not bound how narrow the range
of a hidden cell may be, as an optimal (linear-programming) suppression such as tau-argus's would.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Equation:
    """``total`` = the sum of ``parts`` (all cell keys)."""

    total: Hashable
    parts: tuple[Hashable, ...]


def primary(counts: Mapping[Hashable, int], min_cell: int) -> set[Hashable]:
    """The cells counting 1 to ``min_cell - 1``."""
    return {key for key, count in counts.items() if 0 < count < min_cell}


def suppress(
    counts: Mapping[Hashable, int],
    equations: Sequence[Equation],
    min_cell: int,
    groups: Mapping[Hashable, Sequence[Hashable]] | None = None,
) -> frozenset[Hashable]:
    """The cells to hide: primary suppression, then secondary suppression until no equation gives
    a hidden term away. ``groups`` maps a group's size to the group's cells: a group whose size is
    hidden is hidden whole (its shares with one count known would give the size back)."""
    hidden = primary(counts, min_cell)
    groups = groups or {}
    changed = True
    while changed:
        changed = False
        for size, members in groups.items():
            if size in hidden and not hidden.issuperset(members):
                hidden.update(members)
                changed = True
        for equation in equations:
            terms = (equation.total, *equation.parts)
            if sum(1 for term in terms if term in hidden) != 1:
                continue
            shown = [part for part in equation.parts if part not in hidden]
            if shown:
                choice = min(shown, key=lambda part: (counts.get(part, 0) == 0, counts.get(part, 0), str(part)))
            elif equation.total not in hidden:
                choice = equation.total
            else:  # pragma: no cover - one hidden term and no shown term means a single-term equation
                continue
            hidden.add(choice)
            changed = True
    return frozenset(hidden)
