"""A short soak: ``kill -9`` of ``baraza run`` at random moments while users answer the survey,
look up figures and a broadcast goes out, with the fake Bot API failing some calls (429, 5xx,
timeouts, dropped connections). ``make soak`` runs the same with 50+ kills (testkit/soak.py, whose
docstring defines "acknowledged", "lost", "duplicated" and "could not continue")."""

from __future__ import annotations

from pathlib import Path

import pytest

from testkit.soak import SoakConfig, soak

pytestmark = pytest.mark.slow  # kill -9 soak

CONFIG = SoakConfig(
    kills=6, survey_users=5, lookup_users=2, broadcast_contacts=80, broadcast_rate=10.0, fault_rate=0.05, seed=7
)


async def test_kill_9_at_random_moments_with_a_flaky_bot_api_loses_and_duplicates_nothing(
    database_url: str, tmp_path: Path
) -> None:
    result = await soak(database_url, tmp_path, CONFIG, database_url.split("+", 1)[0])
    print(result.report())
    assert result.kills == CONFIG.kills
    assert sum(result.faults.values()) > 0, "the Bot API did fail some calls"
    assert result.answers_acknowledged > 0 and result.lookups_answered > 0
    assert result.finished == result.respondents
    assert result.answers_lost == 0
    assert result.answers_duplicated == 0
    assert result.could_not_continue == 0
    assert result.lookups_unanswered == 0
    assert result.broadcast_recipients == CONFIG.broadcast_contacts
    assert result.broadcast_duplicated == 0
    assert result.broadcast_not_completed == 0
    assert result.broadcast_sent + result.broadcast_unknown == CONFIG.broadcast_contacts
