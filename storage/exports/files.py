"""Export files, written once for ``baraza export`` and the dashboard's downloads.

A survey's responses (:func:`export_responses`), its codebook (:func:`export_codebook`) or
another table (:func:`export_table`) go to a file or to an open text stream (standard output).
A file appears only once complete: it is written as ``NAME.part`` and renamed, and the
``.part`` is removed if writing fails, so a reader never sees half an export.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO, TypeVar

from common.errors import BarazaError
from storage.codebook import write_codebook
from storage.database import Database
from storage.exports import TEXT_FORMATS, ExportOptions, Format, Table, response_table, write_table, write_text_table
from storage.exports.tables import Pseudonymize, table_export
from surveys.model import Survey

T = TypeVar("T")
#: A file, or an open text stream such as standard output (CSV and JSON Lines only).
Destination = Path | TextIO
#: Told ``(rows written, rows in all or None while counting)`` as a survey export goes on.
ExportProgress = Callable[[int, int | None], None]


class ExportError(BarazaError):
    """An export that cannot be made as asked, with a message for the statistician."""


@dataclass(frozen=True)
class Exported:
    """What an export wrote: the number of rows, and what the format made the writer change."""

    rows: int
    notes: tuple[str, ...]


async def atomically(path: Path, write: Callable[[Path], Awaitable[T]]) -> T:
    """Run ``write`` on ``path.part`` and rename it to ``path`` once it returned; on any failure
    the ``.part`` file is removed and ``path`` is left as it was."""
    temporary = path.with_name(path.name + ".part")
    try:
        result = await write(temporary)
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
) -> Exported:
    """Write the responses of ``survey`` chosen by ``options`` in ``fmt`` to ``destination``."""
    total: int | None = None

    def report(written: int) -> None:
        if progress is not None:
            progress(written, total)

    table = await response_table(database, survey, options, progress=report)
    total = table.total  # counted before the first row is read: the rows come while writing
    return await write_export(table, fmt, destination, labels=options.labels, raw=options.raw)


async def export_codebook(
    database: Database, survey: Survey, options: ExportOptions, path: Path, *, as_csv: bool
) -> None:
    """Write the codebook of ``survey`` (CSV if ``as_csv``, else Markdown) to ``path``."""
    await atomically(path, lambda temporary: write_codebook(database, survey, options, temporary, as_csv=as_csv))


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
