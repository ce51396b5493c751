"""What a photo answer costs; prints the figures.

    .venv/bin/python -m bench.media_answers [--photos 200] [--rounds 10]

1. checking and scaling a picture (:func:`handlers.media.prepared`): a 12-megapixel JPEG scaled
   to ``max_pixels: 1024``, and a 2-megapixel one kept as sent (only decoded to check it);
2. keeping a file: the folder store (written, synced, renamed) and an S3 bucket on moto's local
   server (the client's own overhead; a real bucket adds the network);
3. photo answers end to end through the engine on SQLite with the folder store: ``--photos``
   people each answer a photo question (1280x960, ``max_pixels: 640``) one after another.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from bench.machine import describe
from bot.core.engine import Engine, load_pseudonymizer
from handlers.media import Prepared, prepared
from handlers.messages import Upload
from storage.database import Database
from storage.media import FolderMediaStore, MediaStore, S3MediaStore, S3Settings, new_name
from surveys.loader import load_survey_text
from testkit.fakes.engine_user import EngineUser
from testkit.fakes.s3_server import ACCESS_KEY, SECRET_KEY, s3_server
from testkit.media import picture

SURVEY = load_survey_text(
    """
id: photos
title: Photos
questions:
  - {type: image, name: big, label: Big, max_pixels: 1024}
  - {type: image, name: house, label: House, max_pixels: 640}
  - {type: image, name: kept, label: Kept}
""",
    "photos.yaml",
)


def timed_ms(action: object, rounds: int) -> float:
    """The median milliseconds of ``rounds`` calls of ``action``."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()  # type: ignore[operator]
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def scaling(rounds: int) -> None:
    twelve = picture(4000, 3000, noisy=True)
    two = picture(1600, 1200, noisy=True)
    big = timed_ms(lambda: prepared(SURVEY.question("big"), Upload("image", twelve, "image/jpeg")), rounds)
    kept = timed_ms(lambda: prepared(SURVEY.question("kept"), Upload("image", two, "image/jpeg")), rounds)
    result = prepared(SURVEY.question("big"), Upload("image", twelve, "image/jpeg"))
    assert isinstance(result, Prepared)
    print(
        f"scale a 12 MP JPEG ({len(twelve) / 1024:.0f} KB) to 1024 px: {big:.0f} ms (-> {len(result.content) / 1024:.0f} KB)"
    )
    print(f"check a 2 MP JPEG kept as sent: {kept:.1f} ms")


async def keeping(rounds: int) -> None:
    content = picture(1280, 960, noisy=True)
    with tempfile.TemporaryDirectory() as folder:
        await _put_times("folder store", FolderMediaStore(Path(folder)), content, rounds)
    with s3_server("bench-media") as endpoint:
        settings = S3Settings(bucket="bench-media", endpoint=endpoint)
        environ = {settings.access_key_env: ACCESS_KEY, settings.secret_key_env: SECRET_KEY}
        await _put_times("S3 bucket (moto, 127.0.0.1)", S3MediaStore(settings, environ=environ), content, rounds)


async def _put_times(what: str, store: MediaStore, content: bytes, rounds: int) -> None:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        await store.put("photos", new_name("jpg"), content)
        times.append((time.perf_counter() - started) * 1000)
    print(f"keep a {len(content) / 1024:.0f} KB file, {what}: {statistics.median(times):.1f} ms median")


async def end_to_end(photos: int) -> None:
    content = picture(1280, 960, noisy=True)
    with tempfile.TemporaryDirectory() as folder:
        database = Database(f"sqlite+aiosqlite:///{folder}/bench.db")
        await database.migrate()
        try:
            pseudonymizer = await load_pseudonymizer(database, "bench-pseudonym-key-0123456789")
            store = FolderMediaStore(Path(folder) / "media")
            engine = Engine(database, {SURVEY.id: SURVEY}, pseudonymizer, media=store)
            users = [EngineUser(engine, f"p{i}") for i in range(photos)]
            for user in users:
                await user.say("/survey photos")
                await user.send_file(Upload("image", picture(64, 48), "image/jpeg"))  # the "big" question
            started = time.perf_counter()
            for user in users:
                replies = await user.send_file(Upload("image", content, "image/jpeg"))
                assert "Kept" in replies[-1].text
            elapsed = time.perf_counter() - started
        finally:
            await database.dispose()
    print(
        f"photo answers through the engine (1280x960 -> 640 px, SQLite, folder): {photos / elapsed:.1f}/s,"
        f" {elapsed / photos * 1000:.0f} ms each"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--photos", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=10)
    arguments = parser.parse_args()
    print(describe())
    scaling(arguments.rounds)
    asyncio.run(keeping(arguments.rounds * 5))
    asyncio.run(end_to_end(arguments.photos))


if __name__ == "__main__":
    main()
