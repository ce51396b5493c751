"""Who is a member of a panel for its next wave: those who took part in the previous one
(complete or partial, AAPOR 1.1 and 1.2), never someone screened out of it by a full quota cell."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from handlers.panels import panel_members
from storage.database import Database
from storage.quotas import QuotaRepository
from storage.repositories import Repositories
from surveys.loader import load_survey_directory
from testkit.panel_waves import write_waves

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


async def test_someone_screened_out_of_a_wave_is_no_member_of_the_panel_however_much_they_answered(
    database: Database, tmp_path: Path
) -> None:
    write_waves(tmp_path / "forms")
    surveys = load_survey_directory(tmp_path / "forms")
    members: dict[str, int] = {}
    async with database.transaction() as connection:
        repos = Repositories(connection)
        for key, screened in (("5550101", False), ("5550102", True)):
            contact = await repos.contacts.touch("telegram", key, key, "en", NOW)
            response_id = await repos.responses.create(
                survey_id="lfs2026w1", survey_version="1", contact=contact, respondent=key, language="en", now=NOW
            )
            # Two answers of three: a partial interview unless screened out.
            await repos.responses.record_answer(response_id, "employed", "yes", NOW)
            await repos.responses.record_answer(response_id, "income", "100", NOW)
            if screened:
                await QuotaRepository(connection).screen_out(response_id, NOW)
            members[key] = contact.id
    async with database.reading() as connection:
        found = await panel_members(connection, surveys.values(), surveys["lfs2026w2"])
    assert found == {members["5550101"]}
