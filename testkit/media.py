"""Small media files made in the test (never downloaded): pictures by Pillow, a fake voice note,
a PDF, the household-like survey with a photo, a voice note and a location, and the answers stored."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image
from sqlalchemy import text

from storage.database import Database

#: A household-like survey with every kind of media and location answer.
HOUSEHOLD_MEDIA_YAML = """
id: household
title: Household
questions:
  - {type: text, name: head, label: Name of the household head}
  - {type: image, name: house, label: Photo of the house, max_pixels: 640}
  - {type: audio, name: story, label: Tell us about the household}
  - {type: geopoint, name: where, label: Where is the house}
  - {type: file, name: paper, label: The household's certificate, required: false}
  - {type: geotrace, name: path, label: The path to the water point, required: false}
  - {type: integer, name: size, label: How many people live here}
"""


def picture(width: int, height: int, image_format: str = "JPEG", *, noisy: bool = False) -> bytes:
    """A picture of ``width`` x ``height`` pixels in ``image_format``; ``noisy``: full of detail,
    so that it compresses about as badly as a photo (a few hundred KB a megapixel)."""
    if noisy:
        channels = [Image.effect_noise((width, height), 80) for _ in range(3)]
        image = Image.merge("RGB", channels)
    else:
        image = Image.new("RGB", (width, height), (200, 120, 40))
    for x in range(0, width, max(1, width // 8)) if not noisy else ():
        image.putpixel((x, height // 2), (0, 0, 0))
    output = io.BytesIO()
    image.save(output, format=image_format)
    return output.getvalue()


def size_of(content: bytes) -> tuple[int, int]:
    """The width and height of a picture."""
    with Image.open(io.BytesIO(content)) as image:
        return image.size


#: Not a real Opus stream: the core keeps audio as sent and never decodes it.
VOICE_NOTE = b"OggS\x00\x02" + bytes(range(256)) * 8
#: A one-page PDF, small enough for any limit.
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def write_household_media_form(directory: Path) -> Path:
    """A forms folder ``directory/forms`` holding :data:`HOUSEHOLD_MEDIA_YAML` as household.yaml."""
    folder = directory / "forms"
    folder.mkdir()
    (folder / "household.yaml").write_text(HOUSEHOLD_MEDIA_YAML)
    return folder


async def stored_answers(database: Database | str) -> dict[str, str | None]:
    """Every stored answer, question name -> value, of ``database`` (or of the database at that URL)."""
    if isinstance(database, str):
        opened = Database(database)
        try:
            return await stored_answers(opened)
        finally:
            await opened.dispose()
    async with database.transaction() as connection:
        rows = (await connection.execute(text("SELECT question, value FROM answers"))).all()
    return {question: value for question, value in rows}
