"""The ``engagement:`` section checked with clear errors, and the status rules (met, on track by
the trend of the last months carried to the date set, behind, no data)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.config import ConfigError, load_settings
from handlers.engagement import (
    BEHIND,
    BELOW,
    NO_DATA,
    ON_TRACK,
    EngagementError,
    Objective,
    TrendPoint,
    evaluate,
    project,
    read_engagement,
)
from storage.database import Database
from storage.engagement import WorkingDays
from testkit.engagement import GROUPS, seed_engagement

GOOD = {"id": "registered", "metric": "registered_users", "target": 2000}


@pytest.mark.parametrize(
    ("objective", "message"),
    [
        ({**GOOD, "metric": "followers"}, "engagement.objectives[0] (registered): unknown metric 'followers' (metrics: registered_users,"),
        ({"id": "x", "metric": "registered_users"}, "engagement.objectives[0] (x): 'target' is missing"),
        ({**GOOD, "target": "many"}, "target must be a number, not 'many'"),
        ({**GOOD, "by": "June"}, "by must be a date such as 2027-06-30, not 'June'"),
        ({**GOOD, "direction": "up"}, "direction must be 'above' or 'below', not 'up'"),
        ({**GOOD, "min_share": 0.1}, "min_share_per and min_share go together"),
        ({**GOOD, "min_share_per": "region", "min_share": 0.1}, "min_share_per can only be user_group"),
        ({**GOOD, "colour": "red"}, "unknown key(s) colour"),
        ({"id": "s", "metric": "satisfaction_good_share", "target": 70}, "needs survey, question, good"),
        ({"id": "s", "metric": "notice_read_share", "target": 70}, "target is a share between 0 and 1 (0.70 for 70%), not 70"),
        ({**GOOD, "id": "Registered users"}, "id must be a short name"),
    ],
)  # fmt: skip
def test_a_wrong_objective_is_refused_with_where_and_why(objective: dict[str, Any], message: str) -> None:
    with pytest.raises(EngagementError) as raised:
        read_engagement({"objectives": [objective]})
    assert message in str(raised.value)


def test_an_id_used_twice_and_a_wrong_week_are_refused() -> None:
    with pytest.raises(EngagementError, match="the id 'registered' is used twice"):
        read_engagement({"objectives": [GOOD, GOOD]})
    with pytest.raises(EngagementError, match=r"working_week must list days such as \[mon"):
        read_engagement({"working_week": ["someday"]})


def test_config_yaml_errors_name_the_file(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("engagement:\n  objectives:\n    - {id: a, metric: nothing, target: 1}\n")
    with pytest.raises(ConfigError, match=rf"{config}: engagement.objectives\[0\] \(a\): unknown metric 'nothing'"):
        load_settings(config, environ={})


def test_the_shipped_configuration_has_the_four_objectives_of_the_issue() -> None:
    settings = load_settings(Path(__file__).resolve().parents[2] / "config.yaml", environ={})
    objectives = {o.id: o for o in settings.engagement.objectives}
    assert list(objectives) == ["registered", "request_time", "satisfaction", "notices_read"]
    assert objectives["request_time"].direction == BELOW, "a time is a maximum by default"
    assert settings.engagement.working_days.holidays == (date(2026, 12, 25), date(2027, 1, 1))


def test_working_days_leave_out_weekends_and_holidays() -> None:
    week = WorkingDays(holidays=(date(2027, 1, 1),))
    assert week.between(date(2026, 12, 31), date(2026, 12, 31)) == 0, "answered the same day"
    assert week.between(date(2026, 12, 31), date(2027, 1, 4)) == 1, "Thursday to Monday over New Year: Thursday only"
    assert WorkingDays(weekmask="0111110").between(date(2027, 1, 3), date(2027, 1, 10)) == 5, "Sunday to Thursday"


def test_the_trend_of_the_last_three_months_decides_on_track_or_behind() -> None:
    at = datetime(2027, 3, 31, tzinfo=UTC)
    objective = Objective("registered", "registered_users", 2000, by=date(2027, 6, 30))
    rising = [TrendPoint(f"2026-{m:02d}", v) for m, v in ((12, 1000), (1, 1200), (2, 1400))] + [
        TrendPoint("2027-03", 1600)
    ]
    projected = project(objective, 1600, rising, at)
    assert projected is not None and projected == pytest.approx(1600 + 200 * 91 / 30.4375)
    assert objective.meets(projected) and not objective.meets(1600)
    flat = [TrendPoint(p.month, 1600) for p in rising]
    assert project(objective, 1600, flat, at) == 1600
    assert project(objective, 1600, rising[-1:], at) is None, "one month is no trend"
    assert project(Objective("x", "registered_users", 2000), 1600, rising, at) is None, "no date: no projection"


async def test_a_rising_register_is_on_track_for_a_near_target_and_behind_for_a_far_one(database: Database) -> None:
    now = datetime(2027, 3, 17, 12, 0, tzinfo=UTC)
    await seed_engagement(database, now)
    settings = read_engagement(
        {
            "objectives": [
                {"id": "near", "metric": "registered_users", "target": 60, "by": "2027-12-31"},
                {"id": "far", "metric": "registered_users", "target": 1000, "by": "2027-12-31"},
                {"id": "late", "metric": "registered_users", "target": 60, "by": "2027-01-31"},
                {
                    "id": "nobody",
                    "metric": "satisfaction_good_share",
                    "target": 0.5,
                    "survey": "nosuch",
                    "question": "q",
                    "good": [1],
                },
            ]
        }
    )
    async with database.reading() as connection:
        found = {s.objective.id: s for s in await evaluate(connection, settings, now, GROUPS)}
    assert found["near"].value is not None and found["near"].value < 60
    assert (found["near"].status, found["far"].status, found["late"].status) == (ON_TRACK, BEHIND, BEHIND)
    assert found["near"].projected is not None and found["near"].projected >= 60
    assert len(found["near"].trend) == 12 and found["near"].trend[-1].month == "2027-03"
    assert found["nobody"].value is None and found["nobody"].status == NO_DATA


def test_a_count_over_the_month_under_way_does_not_bend_the_trend_down() -> None:
    # New registrations rising by 50 a month; on 7 March, March has only a week of them so far.
    at = datetime(2027, 3, 7, 12, 0, tzinfo=UTC)
    objective = Objective("joining", "new_registrations", 700, by=date(2027, 9, 30))
    points = [TrendPoint(month, value) for month, value in (("2026-12", 500), ("2027-01", 550), ("2027-02", 600))]
    projected = project(objective, 640, [*points, TrendPoint("2027-03", 150)], at)
    assert projected is not None and projected == pytest.approx(
        640 + 50 * (date(2027, 9, 30) - at.date()).days / 30.4375
    )
    # A stock (or a share) read in the month under way is a fair point of the trend.
    stock = Objective("registered", "registered_users", 2000, by=date(2027, 9, 30))
    rising = [*points, TrendPoint("2027-03", 650)]
    assert project(stock, 650, rising, at) == pytest.approx(650 + 50 * (date(2027, 9, 30) - at.date()).days / 30.4375)
