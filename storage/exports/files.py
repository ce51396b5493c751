"""Export files, written once for ``baraza export`` and the dashboard's downloads.

A survey's responses (:func:`export_responses`), its codebook (:func:`export_codebook`) or
another table (:func:`export_table`) go to a file or to an open text stream (standard output).
A survey with repeats has a table per repeat beside its responses (``storage.exports.responses``):
Excel puts each in a sheet of the one workbook; CSV, JSON Lines, SPSS and Stata write each to a
file of its own next to the responses file, named ``<responses file name>-<repeat>.<ext>``
(``answers.csv``, ``answers-member.csv``), as ODK Briefcase does. To standard output only the
responses table goes (a note says so).

A file appears only once complete: it is written as ``NAME.part`` and renamed, and the
``.part`` is removed if writing fails, so a reader never sees half an export.

A survey with media questions can be exported with its files (:func:`export_with_attachments`):
into a folder holding the table and ``attachments/``, or as one zip archive holding both.
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
import zipfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO, TypeVar

from common.errors import BarazaError
from storage.codebook import write_codebook
from storage.database import Database
from storage.exports import (
    TEXT_FORMATS,
    ExportOptions,
    Format,
    Table,
    repeat_tables,
    response_table,
    write_table,
    write_text_table,
    write_xlsx_tables,
)
from storage.exports.attachments import copy_attachments, zip_attachments
from storage.exports.responses import ResponseParadata
from storage.exports.tables import Pseudonymize, table_export
from storage.media import MediaStore
from surveys.model import Survey

T = TypeVar("T")
#: The mode of every export file (and of the SQLite database): the owner reads and writes.
PRIVATE_FILE = 0o600
#: A file, or an open text stream such as standard output (CSV and JSON Lines only).
Destination = Path | TextIO
#: Told ``(rows written, rows in all or None while counting)`` as a survey export goes on.
ExportProgress = Callable[[int, int | None], None]


class ExportError(BarazaError):
    """An export that cannot be made as asked, with a message for the statistician."""


@dataclass(frozen=True)
class Exported:
    """What an export wrote: the number of rows, and what the format made the writer change.

    ``tables`` holds, for a survey with repeats, each repeat table's name, rows and the file it
    went to (the responses file itself for Excel, whose sheets hold them all)."""

    rows: int
    notes: tuple[str, ...]
    attachments: int = 0  # files written into attachments/
    tables: tuple[tuple[str, int, Path], ...] = ()


async def atomically(path: Path, write: Callable[[Path], Awaitable[T]]) -> T:
    """Run ``write`` on ``path.part`` and rename it to ``path`` once it returned; on any failure
    the ``.part`` file is removed and ``path`` is left as it was. The file is readable by its
    owner only (0600), whatever the umask: an export holds the office's data."""
    temporary = path.with_name(path.name + ".part")
    try:
        # Created 0600 before the writer opens it (writers truncate, keeping the mode), and
        # set again after, for a writer that makes the file anew.
        temporary.unlink(missing_ok=True)
        os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
        result = await write(temporary)
        temporary.chmod(PRIVATE_FILE)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    temporary.replace(path)
    return result


async def write_text(destination: Destination, write: Callable[[TextIO], Awaitable[T]]) -> T:
    """Run ``write`` on the open stream ``destination``, or on the file ``destination`` (UTF-8,
    written :func:`atomically`)."""
    if not isinstance(destination, Path):
        return await write(destination)

    async def to_file(path: Path) -> T:
        with path.open("w", encoding="utf-8", newline="") as out:
            return await write(out)

    return await atomically(destination, to_file)


async def write_export(
    table: Table, fmt: Format, destination: Destination, *, labels: bool = False, raw: bool = False
) -> Exported:
    """Write ``table`` in ``fmt`` to ``destination``; raises :class:`ExportError` for a binary
    format sent to a stream."""
    if isinstance(destination, Path):
        rows = await atomically(destination, lambda path: write_table(table, fmt, path, labels=labels, raw=raw))
    elif fmt in TEXT_FORMATS:
        rows = await write_text_table(table, fmt, destination, labels=labels, raw=raw)
    else:
        raise ExportError(f"{fmt} cannot be written to standard output; give a file with --output")
    return Exported(rows, tuple(table.notes))


async def export_responses(
    database: Database,
    survey: Survey,
    options: ExportOptions,
    fmt: Format,
    destination: Destination,
    *,
    progress: ExportProgress | None = None,
    paradata: ResponseParadata | None = None,
) -> Exported:
    """Write the responses of ``survey`` chosen by ``options`` in ``fmt`` to ``destination``
    (with the fieldwork columns when ``paradata`` is given, see ``storage.exports.responses``)."""
    total: int | None = None

    def report(written: int) -> None:
        if progress is not None:
            progress(written, total)

    table = await response_table(database, survey, options, progress=report, paradata=paradata)
    total = table.total  # counted before the first row is read: the rows come while writing
    if not survey.repeats:
        return await write_export(table, fmt, destination, labels=options.labels, raw=options.raw)
    repeated = await repeat_tables(database, survey, options)
    if not isinstance(destination, Path):
        exported = await write_export(table, fmt, destination, labels=options.labels, raw=options.raw)
        note = f"the repeat tables ({', '.join(t.title for t in repeated)}) are written only to a file (--output)"
        return Exported(exported.rows, (*exported.notes, note))
    if fmt == "xlsx":
        every = [table, *repeated]
        counts = await atomically(destination, lambda path: write_xlsx_tables(every, path, labels=options.labels))
        written = tuple((t.title, count, destination) for t, count in zip(repeated, counts[1:], strict=True))
        return Exported(counts[0], tuple(note for t in every for note in t.notes), tables=written)
    exported = await write_export(table, fmt, destination, labels=options.labels, raw=options.raw)
    notes: list[str] = list(exported.notes)
    files: list[tuple[str, int, Path]] = []
    for repeat_table in repeated:
        path = repeat_file(destination, repeat_table.title)
        result = await write_export(repeat_table, fmt, path, labels=options.labels, raw=options.raw)
        notes.extend(f"{repeat_table.title}: {note}" for note in result.notes)
        files.append((repeat_table.title, result.rows, path))
    return Exported(exported.rows, tuple(notes), tables=tuple(files))


def repeat_file(responses: Path, repeat: str) -> Path:
    """Where the table of ``repeat`` goes beside the responses file: ``answers.csv`` ->
    ``answers-member.csv``."""
    return responses.with_name(f"{responses.stem}-{repeat}{responses.suffix}")


_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def table_name(survey: Survey, fmt: Format) -> str:
    """The table's file name inside an export folder or zip: ``<survey id>.<format>``."""
    return f"{_UNSAFE.sub('_', survey.id)}.{fmt}"


async def export_with_attachments(
    database: Database,
    survey: Survey,
    options: ExportOptions,
    fmt: Format,
    target: Path,
    store: MediaStore,
    *,
    progress: ExportProgress | None = None,
    paradata: ResponseParadata | None = None,
) -> Exported:
    """The responses of ``survey`` in ``fmt`` with the files of their media answers, KoBoToolbox
    style: ``target`` ending in ``.zip`` becomes one archive holding ``<survey id>.<fmt>`` (and
    any table written beside it) and ``attachments/<stored name>``; any other ``target`` is a
    folder that gets the same (the tables written atomically, files already there kept). The
    files come from ``store``."""
    if target.suffix.lower() != ".zip":
        await asyncio.to_thread(target.mkdir, parents=True, exist_ok=True)
        exported = await export_responses(
            database, survey, options, fmt, target / table_name(survey, fmt), progress=progress, paradata=paradata
        )
        attached = await copy_attachments(database, survey, options, store, target)
        return Exported(
            exported.rows, (*exported.notes, *attached.notes()), attachments=attached.files, tables=exported.tables
        )

    async def write_zip(path: Path) -> Exported:
        with tempfile.TemporaryDirectory(prefix="baraza-export-") as directory:
            table = Path(directory) / table_name(survey, fmt)
            exported = await export_responses(
                database, survey, options, fmt, table, progress=progress, paradata=paradata
            )
            with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
                # Every table the export wrote: the responses, and beside them any other table.
                for name in sorted(os.listdir(directory)):
                    archive.write(os.path.join(directory, name), name)
                    os.remove(os.path.join(directory, name))
                attached = await zip_attachments(database, survey, options, store, archive)
        # The repeat tables are inside the archive: the archive is where they went.
        tables = tuple((name, rows, target) for name, rows, _ in exported.tables)
        return Exported(exported.rows, (*exported.notes, *attached.notes()), attachments=attached.files, tables=tables)

    return await atomically(target, write_zip)


async def export_codebook(
    database: Database, survey: Survey, options: ExportOptions, path: Path, *, as_csv: bool, fieldwork: bool = False
) -> None:
    """Write the codebook of ``survey`` (CSV if ``as_csv``, else Markdown) to ``path``; with
    ``fieldwork`` (the survey has invitations) it describes the fieldwork columns too."""
    await atomically(
        path,
        lambda temporary: write_codebook(database, survey, options, temporary, as_csv=as_csv, fieldwork=fieldwork),
    )


async def export_table(
    name: str,
    database: Database,
    pseudonymize: Pseudonymize,
    fmt: Format,
    destination: Destination,
    *,
    raw: bool = False,
) -> Exported:
    """Write the table ``name`` (one of :data:`storage.exports.tables.TABLES`) to ``destination``."""
    return await write_export(await table_export(name, database, pseudonymize), fmt, destination, raw=raw)
