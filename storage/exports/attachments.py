"""The files behind media answers, next to an export as KoBoToolbox gives them.

A media answer (image, audio, video, file) is stored as the media store's name for the file,
``<uuid4 hex>.<ext>``, and the export's column holds that name. :func:`media_names` reads, in
the order they were given, the names that the exported responses hold (the same selection as
the table: ``--since``, ``--until``, ``--complete-only``, anonymous responses), and
:func:`copy_attachments` puts the files into ``attachments/`` of a folder or a zip archive, so
that the table's value is the file's name inside ``attachments/``.

A value that is not a stored name (an answer an older version stored as text) is never used
as a path; a file the store no longer has is counted and reported, not fatal.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from storage.database import Database
from storage.exports.responses import ExportOptions, _filters, response_passes
from storage.media import STORED_NAME, MediaStore, MediaStoreError
from storage.models import AnswerRow, ResponseRow
from surveys.model import MEDIA_TYPES, Survey

#: The folder, beside the table or inside the zip, that holds the files.
ATTACHMENTS = "attachments"
NAMES_BATCH = 2000


@dataclass(frozen=True)
class Attached:
    """What went into ``attachments/``: how many files, and which names the store lacked."""

    files: int
    missing: tuple[str, ...]
    unsafe: int

    def notes(self) -> list[str]:
        notes = []
        if self.missing:
            shown = ", ".join(self.missing[:5]) + (" ..." if len(self.missing) > 5 else "")
            notes.append(
                f"attachments: {len(self.missing)} file(s) named in the answers are not in the media store: {shown}"
            )
        if self.unsafe:
            notes.append(f"attachments: {self.unsafe} media answer(s) are not file names (older text answers): skipped")
        return notes


def media_questions(survey: Survey) -> list[str]:
    """The questions of ``survey`` answered with a file."""
    return [question.name for question in survey.data_questions if question.type in MEDIA_TYPES]


async def media_names(database: Database, survey: Survey, options: ExportOptions) -> AsyncIterator[str]:
    """The stored names of the files answered in the exported responses, oldest answer first;
    for a media question inside a repeat, those of the passes the repeat tables hold (a pass
    dropped by a "no" or a lower ``repeat_count`` keeps its answers but is not exported)."""
    questions = media_questions(survey)
    if not questions:
        return
    repeated = {
        question.name for question in survey.data_questions if question.type in MEDIA_TYPES and question.repeats
    }
    if repeated:
        async for name in _names_in_passes(database, survey, options, repeated):
            yield name
    statement = (
        select(AnswerRow.value)
        .join(ResponseRow, ResponseRow.id == AnswerRow.response_id)
        .where(
            *_filters(survey, options),
            AnswerRow.question.in_([name for name in questions if name not in repeated]),
            AnswerRow.value.is_not(None),
        )
        .order_by(AnswerRow.id)
        .execution_options(yield_per=NAMES_BATCH)
    )
    async with database.reading() as connection:
        result = await connection.stream(statement)
        async for batch in result.partitions(NAMES_BATCH):
            for (value,) in batch:
                yield str(value)


async def _names_in_passes(
    database: Database, survey: Survey, options: ExportOptions, repeated: set[str]
) -> AsyncIterator[str]:
    """The names answered to the media questions ``repeated`` (inside repeats) in the passes that exist."""
    async for _, passes in response_passes(database, survey, options):
        for instance in passes:
            for name, value in instance.values.items():
                if name in repeated and value is not None:
                    yield value


class _Sink:
    """Where the files go: a folder or an open zip archive."""

    def __init__(self, folder: Path | None = None, archive: zipfile.ZipFile | None = None) -> None:
        self.folder = folder
        self.archive = archive
        self.written: set[str] = set()

    def there_before(self, name: str) -> bool:
        """A folder exported into before keeps its files: they are not fetched again."""
        if self.folder is not None and (self.folder / name).is_file():
            self.written.add(name)
            return True
        return False

    def put(self, name: str, content: bytes) -> None:
        self.written.add(name)
        if self.archive is not None:
            # Photos, recordings and videos are compressed already: stored as they are.
            self.archive.writestr(zipfile.ZipInfo(f"{ATTACHMENTS}/{name}"), content, zipfile.ZIP_STORED)
            return
        assert self.folder is not None
        temporary = self.folder / f".{name}.part"
        temporary.write_bytes(content)
        os.replace(temporary, self.folder / name)


async def _copy(names: AsyncIterator[str], survey: Survey, store: MediaStore, sink: _Sink) -> Attached:
    files, unsafe = 0, 0
    missing: list[str] = []
    async for name in names:
        if not STORED_NAME.match(name):
            unsafe += 1
            continue
        if name in sink.written:  # named twice: copied once
            continue
        if sink.there_before(name):
            files += 1
            continue
        try:
            content = await store.get(survey.id, name)
        except MediaStoreError:
            missing.append(name)
            continue
        sink.put(name, content)
        files += 1
    return Attached(files, tuple(missing), unsafe)


async def copy_attachments(
    database: Database, survey: Survey, options: ExportOptions, store: MediaStore, directory: Path
) -> Attached:
    """Copy the files of the exported media answers from ``store`` into ``directory/attachments/``."""
    folder = directory / ATTACHMENTS
    folder.mkdir(parents=True, exist_ok=True)
    return await _copy(media_names(database, survey, options), survey, store, _Sink(folder=folder))


async def zip_attachments(
    database: Database, survey: Survey, options: ExportOptions, store: MediaStore, archive: zipfile.ZipFile
) -> Attached:
    """Add the files of the exported media answers, from ``store``, to ``archive`` under ``attachments/``."""
    return await _copy(media_names(database, survey, options), survey, store, _Sink(archive=archive))
