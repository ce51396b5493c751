"""Quotas as pure values: which cell a respondent is in, and whether it is full.

A quota (:class:`surveys.model.Quota`) limits the completes of each of its cells; a cell is the
tuple of a respondent's values of the quota's ``by`` fields: contact fields (known when the
survey starts) or questions of the survey (known once answered). The storage of cells and the
counting of completes are :mod:`storage.quotas`'; the conversation's use of them
:mod:`handlers.quotas`'. Nothing here does I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from surveys.model import Quota, Survey

Cell = tuple[str, ...]


def cell_of(quota: Quota, contact: Mapping[str, str | None], answers: Mapping[str, str | None]) -> Cell | None:
    """The respondent's cell of ``quota``, or None while one of its fields is unknown (a contact
    field the register does not hold, a question not answered yet or skipped)."""
    values: list[str] = []
    for name in quota.by:
        value = answers.get(name) if name in quota.questions else contact.get(name)
        if value is None or value == "":
            return None
        values.append(str(value))
    return tuple(values)


def known_cells(
    survey: Survey, contact: Mapping[str, str | None], answers: Mapping[str, str | None]
) -> dict[str, Cell]:
    """The cells of ``survey``'s quotas known so far, by quota key."""
    found: dict[str, Cell] = {}
    for quota in survey.quotas:
        cell = cell_of(quota, contact, answers)
        if cell is not None:
            found[quota.key] = cell
    return found


def quota_by_key(survey: Survey, key: str) -> Quota | None:
    return next((quota for quota in survey.quotas if quota.key == key), None)


def target(survey: Survey, key: str, cell: Cell) -> int | None:
    """The target of ``cell`` of the quota ``key``; None: the cell is not limited."""
    quota = quota_by_key(survey, key)
    return None if quota is None else quota.targets.get(cell)


def is_full(target_: int | None, completes: int) -> bool:
    """A limited cell is full once its completes reach the target (a target of 0 is always full)."""
    return target_ is not None and completes >= target_


def encode_cell(cell: Cell) -> str:
    """A cell as stored: a JSON list (values may hold any character)."""
    return json.dumps(list(cell), ensure_ascii=False)


def decode_cell(text: str) -> Cell:
    return tuple(str(value) for value in json.loads(text))


def cell_label(cell: Cell) -> str:
    """A cell as people read it: ``researcher / female``."""
    return " / ".join(cell)


@dataclass(frozen=True)
class CellStatus:
    """One cell of a quota, live: its target, completes, responses in progress and whether it is full."""

    quota: str
    cell: Cell
    target: int
    completes: int
    in_progress: int

    @property
    def full(self) -> bool:
        return is_full(self.target, self.completes)

    @property
    def status(self) -> str:
        return "full" if self.full else "open"

    @property
    def label(self) -> str:
        return cell_label(self.cell)


def cell_statuses(survey: Survey, counts: Mapping[tuple[str, Cell], tuple[int, int]]) -> list[CellStatus]:
    """Every cell with a target of every quota of ``survey``, in file order, with its counts
    (``counts[(quota key, cell)] = (completes, in progress)``; a cell without any is at 0)."""
    rows = []
    for quota in survey.quotas:
        for cell, goal in quota.targets.items():
            completes, in_progress = counts.get((quota.key, cell), (0, 0))
            rows.append(CellStatus(quota.key, cell, goal, completes, in_progress))
    return rows


def full_cells(statuses: list[CellStatus]) -> set[tuple[str, Cell]]:
    return {(row.quota, row.cell) for row in statuses if row.full}


def in_open_cells(survey: Survey, contact: Mapping[str, str | None], full: set[tuple[str, Cell]]) -> bool:
    """Whether a contact is in no full cell of the quotas known from contact fields alone (the
    quotas that involve a question cannot be steered: the cell is known only once answered)."""
    for quota in survey.quotas:
        if not quota.steerable:
            continue
        cell = cell_of(quota, contact, {})
        if cell is not None and (quota.key, cell) in full:
            return False
    return True
