"""The figure a lookup answers with, and how numbers and periods are written in each language.

Pure (Babel for the local number and date forms); the handler puts these pieces into the
bot's sentences (``ctx.texts``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from babel.dates import format_date, format_skeleton
from babel.numbers import format_decimal

from catalogue.model import Indicator, Observation, in_language

#: ``texts(key, **params)``: the bot's sentence ``key`` in the user's language.
TextLookup = Callable[..., str]

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_SEMESTER = re.compile(r"^(\d{4})-S([12])$")
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_YEAR = re.compile(r"^(\d{4})$")


@dataclass(frozen=True)
class Figure:
    """The observation to show, the one before it, and whether it is the period asked for."""

    observation: Observation
    previous: Observation | None
    #: False when the user named a period that has no value: the latest is shown instead.
    period_found: bool = True

    @property
    def change(self) -> float | None:
        if self.previous is None or self.previous.value is None or self.observation.value is None:
            return None
        return self.observation.value - self.previous.value

    @property
    def relative_change(self) -> float | None:
        """The change as a share of the previous value (None when that is zero or missing)."""
        change = self.change
        if change is None or not self.previous or not self.previous.value:
            return None
        return change / abs(self.previous.value)


def figure_for(observations: Sequence[Observation], period: str | None) -> Figure | None:
    """The figure for ``period`` (the latest observation within it, so "2024" on a monthly
    series is December 2024 or the latest month of 2024), else the latest; None without values.

    ``observations`` are in period order, as the store returns them.
    """
    valued = [o for o in observations if o.value is not None]
    if not valued:
        return None
    chosen = len(valued) - 1
    found = True
    if period:
        within = [i for i, o in enumerate(valued) if o.period == period or o.period.startswith(period + "-")]
        if not within and len(period) > 4:
            # A month or quarter asked of an annual series: that year's figure.
            within = [i for i, o in enumerate(valued) if o.period == period[:4]]
        if within:
            chosen = within[-1]
        else:
            found = False
    previous = valued[chosen - 1] if chosen > 0 else None
    return Figure(valued[chosen], previous, found)


def is_percentage(indicator: Indicator) -> bool:
    """Whether the unit is a percentage, so that changes are in percentage points."""
    unit = " ".join(indicator.unit.values()).casefold()
    return "%" in unit or "percent" in unit or "pourcent" in unit


def format_number(value: float, decimals: int, language: str, *, signed: bool = False) -> str:
    """``value`` with ``decimals`` decimals in the local form (``12,345.7``; ``12 345,7``)."""
    pattern = "#,##0" + ("." + "0" * decimals if decimals > 0 else "")
    if signed:
        pattern = f"+{pattern};-{pattern}"
    return format_decimal(round(value, decimals), format=pattern, locale=language)


def format_period(period: str, language: str, texts: TextLookup) -> str:
    """An SDMX period as people write it: ``March 2024``, ``mars 2024``, ``Q3 2024``."""
    if found := _MONTH.match(period):
        month = int(found.group(2))
        if 1 <= month <= 12:
            return format_skeleton("yMMMM", date(int(found.group(1)), month, 1), locale=language)
    if found := _QUARTER.match(period):
        return texts("period_quarter", quarter=found.group(2), year=found.group(1))
    if found := _SEMESTER.match(period):
        return texts("period_semester", semester=found.group(2), year=found.group(1))
    if found := _DAY.match(period):
        try:
            return format_date_long(date(*(int(part) for part in found.groups())), language)
        except ValueError:
            return period
    return period


def format_date_long(day: date, language: str) -> str:
    """A date as the language writes it in full: ``April 15, 2024``, ``15 de abril de 2024``."""
    return format_date(day, format="long", locale=language)


def with_unit(number: str, unit: str) -> str:
    """``4.2 %``, ``24,650,312 persons``: the number and its unit (if any)."""
    return f"{number} {unit}".strip()


def period_position(period: str) -> float | None:
    """Where a period falls on a time axis, in years (None when it is not a known form)."""
    if found := _YEAR.match(period):
        return float(found.group(1))
    if found := _MONTH.match(period):
        return int(found.group(1)) + (int(found.group(2)) - 1) / 12
    if found := _QUARTER.match(period):
        return int(found.group(1)) + (int(found.group(2)) - 1) / 4
    if found := _SEMESTER.match(period):
        return int(found.group(1)) + (int(found.group(2)) - 1) / 2
    if found := _DAY.match(period):
        return int(found.group(1)) + (int(found.group(2)) - 1) / 12 + (int(found.group(3)) - 1) / 365
    return None


def unit_of(indicator: Indicator, language: str) -> str:
    return in_language(indicator.unit, language)
