"""Responses with photos, recordings, documents and points, seeded straight into the database and
the media store, for the export tests (tests/storage, tests/bot/cli)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storage.database import Database
from storage.media import MediaStore, new_name
from storage.pseudonyms import Pseudonymizer
from storage.repositories import Repositories
from surveys.loader import load_survey_text
from testkit.media import HOUSEHOLD_MEDIA_YAML, PDF, VOICE_NOTE, picture

NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
SURVEY = load_survey_text(HOUSEHOLD_MEDIA_YAML, "household.yaml")
PSEUDONYM = Pseudonymizer("media-export-test-key-0123456789")
PHOTO = picture(64, 48)


class Seeded:
    """The stored names of the seeded files: the first response's, the second's (absent from the
    store), and the anonymous response's (left out of the default export)."""

    def __init__(self) -> None:
        self.house, self.story, self.paper = new_name("jpg"), new_name("ogg"), new_name("pdf")
        self.lost = new_name("jpg")
        self.anonymous = new_name("jpg")


async def add_response(
    repos: Repositories, number: int, answers: dict[str, str | None], *, anonymous: bool = False
) -> None:
    contact = await repos.contacts.touch("web", str(number), str(number), "en", NOW)
    started = NOW + timedelta(hours=number)
    response_id = await repos.responses.create(
        survey_id=SURVEY.id,
        survey_version=SURVEY.version,
        contact=None if anonymous else contact,
        respondent="" if anonymous else PSEUDONYM("web", str(number)),
        language="en",
        now=started,
        channel="web",
    )
    for name, value in answers.items():
        await repos.responses.record_answer(response_id, name, value, started)
    await repos.responses.complete(response_id, started + timedelta(seconds=60))


async def seed(database: Database, store: MediaStore) -> Seeded:
    names = Seeded()
    for name, content in (
        (names.house, PHOTO), (names.story, VOICE_NOTE), (names.paper, PDF), (names.anonymous, PHOTO),
    ):  # fmt: skip
        await store.put(SURVEY.id, name, content)
    async with database.transaction() as connection:
        repos = Repositories(connection)
        await add_response(
            repos, 1,
            {"head": "A", "house": names.house, "story": names.story, "where": "-1.2921 36.8219 1661 4.5",
             "paper": names.paper, "path": "-1.2921 36.8219;-1.2925 36.823", "size": "5"},
        )  # fmt: skip
        await add_response(
            repos, 2, {"head": "B", "house": names.lost, "story": None, "where": "-1.3 36.8", "size": "2"}
        )
        await add_response(repos, 3, {"head": "C", "house": names.anonymous, "where": None}, anonymous=True)
    return names
