"""The office's engagement objectives: what ``engagement:`` in config.yaml says, and where each
objective stands (its value from the data, its trend month by month, met / on track / behind).

An objective names a metric of :data:`storage.engagement.METRICS`, a target, whether the value
should be above it (the default) or below it, and optionally a date to reach it by and a minimum
share of every user group. :func:`read_engagement` checks the section and says what is wrong
with the objective's position and id; :func:`evaluate` computes the figures. The dashboard's
Objectives page and ``baraza report engagement`` both show what :func:`evaluate` returns.

Status: **met** when the value meets the target (and every user group has its minimum share);
**on track** when it does not yet but the trend of the last three months, carried on to the
``by`` date, reaches it; **behind** otherwise; **no data** when there is nothing to measure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from common.errors import BarazaError
from storage.engagement import (
    COUNT,
    DAYS,
    DEFAULT_WEEKMASK,
    METRICS,
    SHARE,
    Metric,
    MetricParams,
    WorkingDays,
    registered_by_group,
    shares,
)

ABOVE, BELOW = "above", "below"
MET, ON_TRACK, BEHIND, NO_DATA = "met", "on track", "behind", "no data"
OBJECTIVE_KEYS = {
    "id", "label", "metric", "target", "direction", "by", "min_share_per", "min_share",
    "survey", "question", "good", "window_days",
}  # fmt: skip
SECTION_KEYS = {"objectives", "working_week", "holidays", "window_days"}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
OBJECTIVE_ID = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
#: Flows (answer times, satisfaction...) are measured over the last this many days.
DEFAULT_WINDOW_DAYS = 90
#: The trend: this many months, the current one included.
TREND_MONTHS = 12
#: The projection follows the change over the last this many months.
PROJECTION_MONTHS = 3
DAYS_PER_MONTH = 30.4375


class EngagementError(BarazaError):
    """``engagement:`` in config.yaml is wrong; the message says where and why."""


@dataclass(frozen=True)
class Objective:
    """One measurable objective of the office's strategy."""

    id: str
    metric: str
    target: float
    direction: str = ABOVE
    by: date | None = None
    label: str | None = None
    #: ``user_group``: every configured user group must have at least ``min_share`` of the value.
    min_share_per: str | None = None
    min_share: float | None = None
    params: MetricParams = field(default_factory=MetricParams)
    window_days: int = DEFAULT_WINDOW_DAYS

    @property
    def definition(self) -> Metric:
        return METRICS[self.metric]

    @property
    def title(self) -> str:
        return self.label or self.definition.label.capitalize()

    def meets(self, value: float) -> bool:
        return value <= self.target if self.direction == BELOW else value >= self.target


@dataclass(frozen=True)
class EngagementSettings:
    """``engagement:`` in config.yaml."""

    objectives: tuple[Objective, ...] = ()
    working_days: WorkingDays = field(default_factory=WorkingDays)


@dataclass(frozen=True)
class TrendPoint:
    month: str  # YYYY-MM
    value: float | None


@dataclass(frozen=True)
class ObjectiveStatus:
    """Where an objective stands at ``at``."""

    objective: Objective
    at: datetime
    value: float | None
    status: str
    trend: tuple[TrendPoint, ...]
    #: The value projected to the ``by`` date (None without one, or without a trend).
    projected: float | None = None
    #: With ``min_share_per``: each group's share, and the groups below the minimum.
    group_shares: Mapping[str, float] = field(default_factory=dict)
    short_groups: tuple[str, ...] = ()

    @property
    def trend_points(self) -> list[tuple[str, float | None]]:
        return [(point.month, point.value) for point in self.trend]

    @property
    def value_text(self) -> str:
        return format_value(self.objective.definition.unit, self.value)

    @property
    def target_text(self) -> str:
        sign = "≤" if self.objective.direction == BELOW else "≥"
        by = f" by {self.objective.by.isoformat()}" if self.objective.by else ""
        return f"{sign} {format_value(self.objective.definition.unit, self.objective.target)}{by}"


def format_value(unit: str, value: float | None) -> str:
    """``1,234``, ``72%``, ``2.5 working days``; a dash for no value."""
    if value is None:
        return "–"
    if unit == SHARE:
        return f"{100 * value:.0f}%"
    if unit == DAYS:
        return f"{value:g} working day{'' if value == 1 else 's'}"
    return f"{value:,.0f}"


# ---------------------------------------------------------------------- reading the settings


def _number(value: Any, where: str, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise EngagementError(f"{where}: {what} must be a number, not {value!r}")
    return float(value)


def _day(value: Any, where: str, what: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise EngagementError(f"{where}: {what} must be a date such as 2027-06-30, not {value!r}") from None


def _working_days(section: Mapping[str, Any]) -> WorkingDays:
    weekmask = DEFAULT_WEEKMASK
    if "working_week" in section:
        days = section["working_week"]
        if not isinstance(days, list) or not days or not all(str(d).lower()[:3] in WEEKDAYS for d in days):
            raise EngagementError(
                f"engagement.working_week must list days such as [mon, tue, wed, thu, fri], not {days!r}"
            )
        chosen = {str(d).lower()[:3] for d in days}
        weekmask = "".join("1" if day in chosen else "0" for day in WEEKDAYS)
    holidays: tuple[date, ...] = ()
    if "holidays" in section:
        if not isinstance(section["holidays"], list):
            raise EngagementError("engagement.holidays must be a list of dates such as [2027-01-01]")
        holidays = tuple(_day(d, "engagement.holidays", "each holiday") for d in section["holidays"])
    return WorkingDays(weekmask, holidays)


def _objective(raw: Any, index: int, working_days: WorkingDays, window_days: int) -> Objective:
    where = f"engagement.objectives[{index}]"
    if not isinstance(raw, Mapping):
        raise EngagementError(
            f"{where}: an objective is a mapping such as {{id: registered, metric: registered_users, target: 2000}}"
        )
    if isinstance(raw.get("id"), str):
        where += f" ({raw['id']})"
    unknown = sorted(set(map(str, raw)) - OBJECTIVE_KEYS)
    if unknown:
        raise EngagementError(
            f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(OBJECTIVE_KEYS))})"
        )
    for key in ("id", "metric", "target"):
        if key not in raw:
            raise EngagementError(f"{where}: '{key}' is missing")
    objective_id = str(raw["id"])
    if not OBJECTIVE_ID.match(objective_id):
        raise EngagementError(f"{where}: id must be a short name such as request_time (lowercase, digits, _)")
    metric = str(raw["metric"])
    if metric not in METRICS:
        raise EngagementError(f"{where}: unknown metric '{metric}' (metrics: {', '.join(METRICS)})")
    definition = METRICS[metric]
    missing = [key for key in definition.needs if key not in raw]
    if missing:
        raise EngagementError(f"{where}: the metric {metric} needs {', '.join(missing)}")
    target = _number(raw["target"], where, "target")
    if definition.unit == SHARE and not 0 <= target <= 1:
        raise EngagementError(f"{where}: target is a share between 0 and 1 (0.70 for 70%), not {target:g}")
    direction = str(raw.get("direction", BELOW if definition.unit == DAYS else ABOVE))
    if direction not in (ABOVE, BELOW):
        raise EngagementError(f"{where}: direction must be 'above' or 'below', not '{direction}'")
    min_share_per = raw.get("min_share_per")
    min_share = raw.get("min_share")
    if (min_share_per is None) != (min_share is None):
        raise EngagementError(f"{where}: min_share_per and min_share go together")
    if min_share_per is not None:
        if min_share_per != "user_group":
            raise EngagementError(f"{where}: min_share_per can only be user_group, not '{min_share_per}'")
        if metric != "registered_users":
            raise EngagementError(f"{where}: min_share_per applies to registered_users only")
        min_share = _number(min_share, where, "min_share")
        if not 0 < min_share < 1:
            raise EngagementError(f"{where}: min_share is a share between 0 and 1 (0.10 for 10%)")
    good = raw.get("good", ())
    if not isinstance(good, list | tuple):
        raise EngagementError(f"{where}: good must be a list of answer values such as [4, 5]")
    window = raw.get("window_days", window_days)
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise EngagementError(f"{where}: window_days must be a whole number of days (1 or more)")
    label = raw.get("label")
    return Objective(
        id=objective_id,
        metric=metric,
        target=target,
        direction=direction,
        by=_day(raw["by"], where, "by") if raw.get("by") is not None else None,
        label=None if label is None else str(label),
        min_share_per=None if min_share_per is None else str(min_share_per),
        min_share=None if min_share is None else float(min_share),
        params=MetricParams(
            survey=None if raw.get("survey") is None else str(raw["survey"]),
            question=None if raw.get("question") is None else str(raw["question"]),
            good=tuple(str(value) for value in good),
            working_days=working_days,
        ),
        window_days=window,
    )


def read_engagement(section: Mapping[str, Any]) -> EngagementSettings:
    """The ``engagement:`` section, checked; raises :class:`EngagementError` naming what is wrong."""
    unknown = sorted(set(map(str, section)) - SECTION_KEYS)
    if unknown:
        raise EngagementError(
            f"engagement: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(SECTION_KEYS))})"
        )
    working_days = _working_days(section)
    window = section.get("window_days", DEFAULT_WINDOW_DAYS)
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise EngagementError("engagement.window_days must be a whole number of days (1 or more)")
    raw = section.get("objectives") or []
    if not isinstance(raw, list):
        raise EngagementError("engagement.objectives must be a list of objectives")
    objectives = tuple(_objective(item, index, working_days, window) for index, item in enumerate(raw))
    seen: set[str] = set()
    for objective in objectives:
        if objective.id in seen:
            raise EngagementError(f"engagement.objectives: the id '{objective.id}' is used twice")
        seen.add(objective.id)
    return EngagementSettings(objectives, working_days)


# ---------------------------------------------------------------------- the figures


def month_starts(until: datetime, months: int) -> list[datetime]:
    """The first moments (UTC) of the ``months`` months up to the one holding ``until``, oldest first."""
    last = (until - timedelta(microseconds=1)).astimezone(UTC)  # ``until`` itself is not in the window
    year, month = last.year, last.month
    starts = []
    for _ in range(months):
        starts.append(datetime(year, month, 1, tzinfo=UTC))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return starts[::-1]


def next_month(start: datetime) -> datetime:
    return datetime(start.year + start.month // 12, start.month % 12 + 1, 1, tzinfo=UTC)


def month_windows(until: datetime, months: int = TREND_MONTHS) -> list[tuple[datetime, datetime]]:
    """The windows of the trend: each month, the last one up to ``until``."""
    return [(start, min(next_month(start), until)) for start in month_starts(until, months)]


def project(objective: Objective, value: float, points: Sequence[TrendPoint], at: datetime) -> float | None:
    """The value at ``objective.by`` if it keeps changing as over the last months (None: cannot tell)."""
    if objective.by is None:
        return None
    definition = objective.definition
    if not definition.stock and definition.unit == COUNT:
        # A count over the month under way holds only its first days: not a point of the trend.
        points = [point for point in points if point.month != f"{at.astimezone(UTC):%Y-%m}"]
    known = [point.value for point in points if point.value is not None][-(PROJECTION_MONTHS + 1) :]
    if len(known) < 2:
        return None
    per_month = (known[-1] - known[0]) / (len(known) - 1)
    months_left = max(0.0, (objective.by - at.date()).days / DAYS_PER_MONTH)
    return value + per_month * months_left


async def evaluate_one(
    connection: AsyncConnection,
    objective: Objective,
    at: datetime,
    groups: Sequence[str],
    *,
    months: int = TREND_MONTHS,
) -> ObjectiveStatus:
    """Where ``objective`` stands at ``at``."""
    windows = [(at - timedelta(days=objective.window_days), at), *month_windows(at, months)]
    # The value now and the trend in one go (one query for the metrics that can).
    value, *values = await objective.definition.values(connection, objective.params, windows)
    points = tuple(TrendPoint(f"{start:%Y-%m}", found) for (start, _), found in zip(windows[1:], values, strict=True))
    group_shares: dict[str, float] = {}
    short: tuple[str, ...] = ()
    if objective.min_share_per == "user_group" and objective.min_share is not None:
        group_shares = shares(await registered_by_group(connection, at), groups)
        short = tuple(group for group, share in group_shares.items() if share < objective.min_share)
    projected = project(objective, value, points, at) if value is not None else None
    if value is None:
        status = NO_DATA
    elif objective.meets(value) and not short:
        status = MET
    elif (
        objective.by is not None and at.date() <= objective.by and projected is not None and objective.meets(projected)
    ):
        status = ON_TRACK
    else:
        status = BEHIND
    return ObjectiveStatus(objective, at, value, status, points, projected, group_shares, short)


async def evaluate(
    connection: AsyncConnection,
    settings: EngagementSettings,
    at: datetime,
    groups: Sequence[str],
    *,
    months: int = TREND_MONTHS,
) -> list[ObjectiveStatus]:
    """Every objective of ``settings`` at ``at``, in the order of the configuration."""
    return [await evaluate_one(connection, objective, at, groups, months=months) for objective in settings.objectives]


__all__ = [
    "ABOVE",
    "BEHIND",
    "BELOW",
    "MET",
    "NO_DATA",
    "ON_TRACK",
    "EngagementError",
    "EngagementSettings",
    "Objective",
    "ObjectiveStatus",
    "TrendPoint",
    "evaluate",
    "format_value",
    "read_engagement",
]
