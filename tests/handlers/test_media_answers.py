"""Photos, voice notes, documents and locations as answers, through the real engine and database:
the file kept in the media store under a name of its own, the answer as contract16 stores it,
refusals (wrong type, too big, wrong kind of input) with the reason and the same question."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from bot.core.engine import Engine, load_pseudonymizer
from handlers.messages import KeptFile, Location, Upload
from storage.database import Database
from storage.media import STORED_NAME, FolderMediaStore, S3MediaStore, S3Settings
from surveys.loader import load_survey_text
from testkit.databases import copy_migrated_sqlite
from testkit.fakes.engine_user import EngineUser
from testkit.fakes.s3_server import ACCESS_KEY, SECRET_KEY, s3_server
from testkit.media import HOUSEHOLD_MEDIA_YAML, PDF, VOICE_NOTE, picture, size_of, stored_answers

SURVEY = load_survey_text(HOUSEHOLD_MEDIA_YAML, "household.yaml")


@pytest.fixture
async def media_engine(database: Database, tmp_path: Path) -> Engine:
    pseudonymizer = await load_pseudonymizer(database, "test-pseudonym-key-0123456789")
    store = FolderMediaStore(tmp_path / "media", max_bytes=200_000)
    return Engine(database, {SURVEY.id: SURVEY}, pseudonymizer, media=store)


def folder(engine: Engine) -> Path:
    assert isinstance(engine.media, FolderMediaStore)
    return engine.media.directory / SURVEY.id


async def test_photo_voice_note_location_and_points_are_answers_kept_under_new_names(media_engine: Engine) -> None:
    user = EngineUser(media_engine, "u1")
    await user.say("/survey household")
    replies = await user.say("Amina Diallo")
    assert "Photo of the house" in replies[-1].text and "📷 Send a photo." in replies[-1].text

    big = picture(1600, 1200)
    replies = await user.send_file(Upload("image", big, "image/jpeg", filename="amina_house.jpg"))
    assert "Tell us about the household" in replies[-1].text and "🎤" in replies[-1].text
    replies = await user.send_file(Upload("audio", VOICE_NOTE, "audio/ogg"))
    assert "Where is the house" in replies[-1].text
    assert replies[-1].location_button == "📍 Send my location"
    replies = await user.share_location(Location(-1.2921, 36.8219, 1661.0, 4.5))
    assert "certificate" in replies[-1].text
    replies = await user.send_file(Upload("file", PDF, "application/pdf", filename="certificate of Amina.pdf"))
    assert "path to the water point" in replies[-1].text

    await user.share_location(Location(-1.2921, 36.8219))
    replies = await user.say("-1.2925, 36.8230")
    assert "Points so far: 2." in replies[-1].text
    replies = await user.say("done")
    assert "How many people" in replies[-1].text
    await user.say("5")

    answers = await stored_answers(media_engine.database)
    kept = sorted(p.name for p in folder(media_engine).iterdir())
    assert sorted([answers["house"], answers["story"], answers["paper"]]) == kept
    for name in kept:
        assert STORED_NAME.match(name) and "amina" not in name.lower()
    assert answers["house"].endswith(".jpg") and answers["story"].endswith(".ogg")  # type: ignore[union-attr]
    assert answers["paper"].endswith(".pdf")  # type: ignore[union-attr]
    assert answers["where"] == "-1.2921 36.8219 1661 4.5"
    assert answers["path"] == "-1.2921 36.8219;-1.2925 36.823"
    assert answers["size"] == "5"
    # max_pixels: 640 — the longest side scaled down, the aspect kept.
    assert size_of((folder(media_engine) / str(answers["house"])).read_bytes()) == (640, 480)
    assert (folder(media_engine) / str(answers["story"])).read_bytes() == VOICE_NOTE


async def test_wrong_type_too_big_and_wrong_kind_get_the_reason_and_the_same_question(media_engine: Engine) -> None:
    user = EngineUser(media_engine, "u2")
    await user.say("/survey household")
    # A photo where a typed answer is awaited: say what is expected, keep the question.
    replies = await user.send_file(Upload("image", picture(10, 10), "image/jpeg"))
    assert "answered by typing" in replies[0].text and "Name of the household head" in replies[-1].text
    replies = await user.share_location(Location(1.0, 2.0))
    assert "answered by typing" in replies[0].text
    await user.say("Kofi")

    replies = await user.send_file(Upload("file", PDF, "application/pdf"))
    assert replies[0].text == "That file (application/pdf) is not accepted for this question."
    assert "Photo of the house" in replies[-1].text
    replies = await user.send_file(Upload("image", b"\xff\xd8 not a picture", "image/jpeg"))
    assert "could not be read" in replies[0].text
    replies = await user.send_file(Upload("image", picture(2000, 2000, "BMP"), "image/bmp"))
    assert "too big: the limit is 0.190735 MB" in replies[0].text
    replies = await user.send_file(Upload("image", b"", "image/jpeg", size=50_000_000))
    assert "too big" in replies[0].text
    replies = await user.say("here is my house")
    assert replies[0].text == "📷 Send a photo." and "Photo of the house" in replies[-1].text
    assert not folder(media_engine).exists()  # nothing refused was kept

    await user.send_file(Upload("image", picture(300, 200, "PNG"), "image/png"))
    await user.send_file(Upload("audio", VOICE_NOTE, "audio/ogg"))
    replies = await user.say("Nairobi")
    assert "not a location" in replies[0].text and "Where is the house" in replies[-1].text
    replies = await user.say("95, 36")
    assert "latitude (the first number) must be between -90 and 90" in replies[0].text
    await user.say("-1.2921 36.8219")

    answers = await stored_answers(media_engine.database)
    assert answers["head"] == "Kofi" and answers["where"] == "-1.2921 36.8219"
    assert answers["house"].endswith(".png")  # type: ignore[union-attr]
    assert len(list(folder(media_engine).iterdir())) == 2


async def test_without_a_media_store_files_are_refused_and_nothing_is_lost(database: Database) -> None:
    pseudonymizer = await load_pseudonymizer(database, "test-pseudonym-key-0123456789")
    engine = Engine(database, {SURVEY.id: SURVEY}, pseudonymizer)
    user = EngineUser(engine, "u3")
    await user.say("/survey household")
    await user.say("Ama")
    replies = await user.send_file(Upload("image", picture(20, 20), "image/jpeg"))
    assert "cannot be received" in replies[0].text and "Photo of the house" in replies[-1].text
    assert await stored_answers(engine.database) == {"head": "Ama"}


class CrashAfterWriting(FolderMediaStore):
    """A folder store whose first write succeeds and is then followed by a failure, as a crash
    between keeping the file and committing the answer would be."""

    crashed = False

    async def put(self, survey_id: str, name: str, content: bytes) -> None:
        await super().put(survey_id, name, content)
        if not self.crashed:
            self.crashed = True
            raise RuntimeError("the process dies here")


async def test_a_failure_after_the_file_is_kept_leaves_an_orphan_file_and_no_answer(
    database: Database, tmp_path: Path
) -> None:
    pseudonymizer = await load_pseudonymizer(database, "test-pseudonym-key-0123456789")
    store = CrashAfterWriting(tmp_path / "media")
    engine = Engine(database, {SURVEY.id: SURVEY}, pseudonymizer, media=store)
    user = EngineUser(engine, "u4")
    await user.say("/survey household")
    await user.say("Ama")
    replies = await user.send_file(Upload("image", picture(30, 20), "image/jpeg"))
    if "could not save that" in replies[-1].text:
        # SQLite: the update failed; nothing acknowledged, nothing stored, the person sends it again.
        assert await stored_answers(engine.database) == {"head": "Ama"}
        replies = await user.send_file(Upload("image", picture(30, 20), "image/jpeg"))
    # (PostgreSQL runs a failed shared transaction's updates again, each alone: the second try stores it.)
    assert "Tell us about the household" in replies[-1].text
    answers = await stored_answers(engine.database)
    kept = {p.name for p in (tmp_path / "media" / SURVEY.id).iterdir()}
    assert answers["house"] in kept and len(kept) == 2  # the answer's file, and one orphan


class WatchingStore(FolderMediaStore):
    """A folder store that notes, for each write, whether a transaction held the database then."""

    def __init__(self, directory: Path, database: Database) -> None:
        super().__init__(directory)
        self.database = database
        self.during_transaction: list[bool] = []

    async def put(self, survey_id: str, name: str, content: bytes) -> None:
        lock = self.database._write_lock
        self.during_transaction.append(lock is not None and lock.locked())
        await super().put(survey_id, name, content)


async def test_a_photo_is_scaled_and_kept_before_the_transaction_not_in_it(tmp_path: Path) -> None:
    database = Database(await copy_migrated_sqlite(tmp_path / "db.sqlite"))
    try:
        pseudonymizer = await load_pseudonymizer(database, "test-pseudonym-key-0123456789")
        store = WatchingStore(tmp_path / "media", database)
        engine = Engine(database, {SURVEY.id: SURVEY}, pseudonymizer, media=store)
        user = EngineUser(engine, "u5")
        await user.say("/survey household")
        await user.say("Ama")
        await user.send_file(Upload("image", picture(1000, 500), "image/jpeg"))
        await user.send_file(Upload("audio", VOICE_NOTE, "audio/ogg"))
        assert store.during_transaction == [False, False]  # SQLite's one writer never waited on them
        answers = await stored_answers(engine.database)
        assert sorted(p.name for p in (tmp_path / "media" / SURVEY.id).iterdir()) == sorted(
            [answers["house"], answers["story"]]  # type: ignore[list-item]
        )
        assert size_of((tmp_path / "media" / SURVEY.id / str(answers["house"])).read_bytes()) == (640, 320)
    finally:
        await database.dispose()


async def test_a_file_kept_for_another_question_is_prepared_again(media_engine: Engine) -> None:
    """Another worker moved the person on between keeping and answering: the first copy stays an orphan."""
    user = EngineUser(media_engine, "u6")
    await user.say("/survey household")
    await user.say("Ama")
    elsewhere = KeptFile(SURVEY.id, "paper", "f" * 32 + ".jpg")
    replies = await user.send_file(Upload("image", picture(100, 80), "image/jpeg", kept=elsewhere))
    assert "Tell us about the household" in replies[-1].text
    answers = await stored_answers(media_engine.database)
    assert answers["house"] != elsewhere.name and STORED_NAME.match(str(answers["house"]))
    assert (folder(media_engine) / str(answers["house"])).exists()


async def test_delete_my_data_deletes_the_files_sent_and_empties_their_answers(media_engine: Engine) -> None:
    user = EngineUser(media_engine, "u7")
    other = EngineUser(media_engine, "u8")
    for person in (user, other):
        await person.say("/survey household")
        await person.say("Ama")
        await person.send_file(Upload("image", picture(100, 80), "image/jpeg"))
        await person.send_file(Upload("audio", VOICE_NOTE, "audio/ogg"))
        await person.share_location(Location(1.0, 2.0))
    assert len(list(folder(media_engine).iterdir())) == 4
    await user.say("/delete_my_data")
    replies = await user.press("Yes")
    assert "deleted" in replies[-1].text.lower()
    async with media_engine.database.transaction() as connection:
        rows = (await connection.execute(text("SELECT response_id, question, value FROM answers"))).all()
    by_response: dict[str, dict[str, str | None]] = {}
    for response_id, question, value in rows:
        by_response.setdefault(response_id, {})[question] = value
    erased, kept = sorted(by_response.values(), key=lambda answers: answers["house"] is not None)
    assert erased["house"] is None and erased["story"] is None  # the photo and the voice are gone
    assert erased["head"] == "Ama" and erased["where"] == "1 2"  # the rest stays, anonymised
    assert sorted(p.name for p in folder(media_engine).iterdir()) == sorted([kept["house"], kept["story"]])  # type: ignore[list-item]


async def test_with_a_bucket_the_files_go_to_the_bucket(database: Database) -> None:
    with s3_server("office-media") as endpoint:
        settings = S3Settings(bucket="office-media", endpoint=endpoint, prefix="baraza/")
        environ = {settings.access_key_env: ACCESS_KEY, settings.secret_key_env: SECRET_KEY}
        store = S3MediaStore(settings, environ=environ)
        pseudonymizer = await load_pseudonymizer(database, "test-pseudonym-key-0123456789")
        engine = Engine(database, {SURVEY.id: SURVEY}, pseudonymizer, media=store)
        user = EngineUser(engine, "u9")
        await user.say("/survey household")
        await user.say("Ama")
        await user.send_file(Upload("image", picture(1280, 720), "image/jpeg"))
        await user.send_file(Upload("audio", VOICE_NOTE, "audio/ogg"))
        answers = await stored_answers(engine.database)
        assert await store.names(SURVEY.id) == sorted([answers["house"], answers["story"]])  # type: ignore[type-var]
        assert await store.get(SURVEY.id, str(answers["story"])) == VOICE_NOTE
        assert size_of(await store.get(SURVEY.id, str(answers["house"]))) == (640, 360)
