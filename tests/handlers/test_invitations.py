"""Fieldwork rules without a database: sampling, dispositions, AAPOR rates, quiet hours, reminders in YAML."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, time, timedelta

import pytest

from handlers.invitations import (
    Disposition,
    FieldworkError,
    QuietHours,
    Tally,
    build_report,
    disposition,
    draw_sample,
    tally,
)
from storage.invitations import Candidate, InvitationFacts
from surveys.errors import SurveyFileError
from surveys.loader import load_survey_text

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def people(n: int) -> list[Candidate]:
    regions = ["north", "south", "east"]
    # 60% north, 30% south, 10% east
    return [
        Candidate(
            i,
            "telegram" if i % 2 else "whatsapp",
            str(i),
            "public",
            regions[0 if i % 10 < 6 else 1 if i % 10 < 9 else 2],
            "en",
        )
        for i in range(1, n + 1)
    ]


# --------------------------------------------------------------------------- sampling


def test_a_seeded_sample_is_repeatable_and_changes_with_the_seed() -> None:
    pool = people(400)
    first = draw_sample(pool, 150, stratify_by="region", seed=7)
    again = draw_sample(list(reversed(pool)), 150, stratify_by="region", seed=7)
    other = draw_sample(pool, 150, stratify_by="region", seed=8)
    assert [c.contact_id for c, _ in first] == [c.contact_id for c, _ in again]
    assert [c.contact_id for c, _ in first] != [c.contact_id for c, _ in other]
    assert len({c.contact_id for c, _ in first}) == 150


def test_a_stratified_sample_is_proportional_with_largest_remainders() -> None:
    pool = people(400)  # north 240, south 120, east 40
    chosen = draw_sample(pool, 150, stratify_by="region", seed=1)
    counts = Counter(stratum for _, stratum in chosen)
    # 150 * 240/400 = 90, 150 * 120/400 = 45, 150 * 40/400 = 15
    assert counts == {"north": 90, "south": 45, "east": 15}
    assert all(c.region == stratum for c, stratum in chosen)
    odd = draw_sample(pool, 7, stratify_by="region", seed=1)  # 4.2, 2.1, 0.7: east gets the remainder
    assert Counter(s for _, s in odd) == {"north": 4, "south": 2, "east": 1}


def test_sampling_everyone_or_more_than_there_are_takes_all() -> None:
    pool = people(20)
    assert len(draw_sample(pool, None)) == 20
    assert len(draw_sample(pool, 50, stratify_by="channel")) == 20
    with pytest.raises(FieldworkError, match="cannot stratify by 'shoe_size'"):
        draw_sample(pool, 5, stratify_by="shoe_size")


# --------------------------------------------------------------------------- dispositions


def facts(**changes: object) -> InvitationFacts:
    values: dict[str, object] = {
        "invitation_id": 1,
        "survey_id": "s",
        "wave": 1,
        "contact_id": 1,
        "channel": "telegram",
        "user_key": "1",
        "user_group": "public",
        "stratum": None,
        "invited_at": T0,
        "delivery_status": "sent",
        "delivery_error": None,
        "completed": False,
        "started_at": None,
        "completed_at": None,
        "answered": 0,
        "response_language": None,
        "refused_at": None,
        "reminders_received": 0,
    }
    values.update(changes)
    return InvitationFacts(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"completed": True, "started_at": T0, "answered": 10}, Disposition.COMPLETE),
        ({"started_at": T0, "answered": 5}, Disposition.PARTIAL),  # 5 of 10: half
        ({"started_at": T0, "answered": 6, "screened_out": True}, Disposition.SCREENED_OUT),  # a full quota cell
        ({"started_at": T0, "screened_out": True, "refused_at": T0}, Disposition.SCREENED_OUT),
        ({"started_at": T0, "answered": 4}, Disposition.BREAK_OFF),
        ({"started_at": T0, "answered": 4, "refused_at": T0}, Disposition.BREAK_OFF),  # started, then /stop
        ({"refused_at": T0 + timedelta(hours=1)}, Disposition.REFUSAL),
        ({"delivery_status": "failed", "delivery_error": "blocked"}, Disposition.REFUSAL),
        ({"delivery_status": "skipped", "delivery_error": "opted out"}, Disposition.REFUSAL),
        ({"delivery_status": "failed", "delivery_error": "chat not found"}, Disposition.NOT_DELIVERED),
        ({"delivery_status": "pending"}, Disposition.NOT_DELIVERED),
        ({"delivery_status": "unknown"}, Disposition.NON_CONTACT),
        ({}, Disposition.NON_CONTACT),
    ],
)
def test_the_disposition_follows_what_happened(changes: dict[str, object], expected: Disposition) -> None:
    assert disposition(facts(**changes), 10) == expected


def test_codes_are_aapor_codes() -> None:
    assert Disposition.COMPLETE.code == "1.1" and Disposition.PARTIAL.code == "1.2"
    assert Disposition.REFUSAL.code == "2.11" and Disposition.BREAK_OFF.code == "2.12"
    assert Disposition.NON_CONTACT.code == "2.20"


# --------------------------------------------------------------------------- rates


def test_rates_equal_the_aapor_formulas_computed_by_hand() -> None:
    counts = {
        Disposition.COMPLETE: 40,
        Disposition.PARTIAL: 10,
        Disposition.BREAK_OFF: 5,
        Disposition.REFUSAL: 15,
        Disposition.NON_CONTACT: 20,
        Disposition.NOT_DELIVERED: 10,
    }
    found = Tally(counts)
    # I=40 P=10 R=20 NC=20 O=0 U=10; e = 90/90 = 1
    assert found.rr1 == pytest.approx(40 / 100)
    assert found.rr2 == pytest.approx(50 / 100)
    assert found.rr3 == pytest.approx(40 / 100)
    assert found.rr4 == pytest.approx(50 / 100)
    assert found.coop1 == pytest.approx(40 / 70)
    assert found.coop2 == pytest.approx(50 / 70)
    assert found.ref1 == pytest.approx(20 / 100)
    with_e = Tally(counts, e=0.5)  # RR3 = I / (I+P+R+NC+O + e*U) = 40 / 95
    assert with_e.rr3 == pytest.approx(40 / 95) and with_e.rr4 == pytest.approx(50 / 95)
    screened = Tally({**counts, Disposition.SCREENED_OUT: 10})  # e = 90 / 100
    assert screened.eligibility == pytest.approx(0.9)
    assert screened.rr3 == pytest.approx(40 / (90 + 0.9 * 10))
    assert Tally().rr1 is None, "no invitations: no rate rather than a division by zero"


def test_the_report_breaks_the_counts_down() -> None:
    from handlers.invitations import DispositionRow

    def row(channel: str, group: str, wave: int, found: Disposition) -> DispositionRow:
        return DispositionRow("p", "s", wave, channel, group, "", found, T0, None, 0, None, "")

    rows = [
        row("telegram", "public", 1, Disposition.COMPLETE),
        row("telegram", "media", 1, Disposition.NON_CONTACT),
        row("whatsapp", "public", 2, Disposition.COMPLETE),
        row("whatsapp", "public", 2, Disposition.REFUSAL),
    ]
    report = build_report("s", rows)
    assert report.overall.rr1 == pytest.approx(2 / 4)
    assert report.by["channel"]["telegram"].rr1 == pytest.approx(1 / 2)
    assert report.by["user_group"]["public"].coop1 == pytest.approx(2 / 3)
    assert report.by["wave"]["2"].ref1 == pytest.approx(1 / 2)
    assert tally([Disposition.COMPLETE]).total == 1


# --------------------------------------------------------------------------- quiet hours


def test_quiet_hours_span_midnight_in_the_office_time_zone() -> None:
    quiet = QuietHours.parse("Africa/Nairobi", "21:00-08:00")  # UTC+3
    assert quiet.start == time(21) and quiet.end == time(8)
    day = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # 12:00 in Nairobi
    assert quiet.next_allowed(day) == day
    evening = datetime(2026, 12, 1, 19, 0, tzinfo=UTC)  # 22:00 in Nairobi
    assert quiet.next_allowed(evening) == datetime(2026, 12, 2, 5, 0, tzinfo=UTC)
    early = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)  # 05:00 in Nairobi
    assert quiet.next_allowed(early) == datetime(2026, 12, 2, 5, 0, tzinfo=UTC)
    assert QuietHours.parse("UTC", "none").next_allowed(evening) == evening
    with pytest.raises(FieldworkError, match="time zone"):
        QuietHours.parse("Mars/Olympus", "21:00-08:00")
    with pytest.raises(FieldworkError, match="21:00-08:00"):
        QuietHours.parse("UTC", "late")


# --------------------------------------------------------------------------- reminders in the survey file

SURVEY = """id: s
title: A survey
reminders:
{reminders}
questions:
  - {{type: text, name: q1, label: One}}
"""


def test_reminders_are_read_from_the_survey_file() -> None:
    survey = load_survey_text(
        SURVEY.format(
            reminders="  - {after: 36h, text: Still time!}\n  - {after: 5d, text: {en: Last call, fr: Dernier appel}}"
        ),
        "s.yaml",
    )
    assert [r.after for r in survey.reminders] == [timedelta(hours=36), timedelta(days=5)]
    assert survey.reminders[1].text.translations == {"en": "Last call", "fr": "Dernier appel"}


def test_bad_reminders_are_reported_with_their_line() -> None:
    with pytest.raises(SurveyFileError) as caught:
        load_survey_text(
            SURVEY.format(
                reminders="  - {after: soon, text: Hi}\n  - {after: 2d, text: A}\n  - {after: 1d, text: B}\n  - {text: C}"
            ),
            "s.yaml",
        )
    problems = [str(p) for p in caught.value.problems]
    assert "s.yaml:4: after of reminder 1 must be a duration such as 2d, 36h or 90m" in problems
    assert "s.yaml:6: reminder 3 must come after the reminder before it" in problems
    assert any(p.startswith("s.yaml:7: reminder 4 needs 'after'") for p in problems)
