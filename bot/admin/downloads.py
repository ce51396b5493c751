"""Survey responses downloaded from the results page, in every format of ``baraza export``, and
for a survey with media questions also as a zip holding the table and ``attachments/`` (the
files of the answers, from the media store).

The file is written by :mod:`storage.exports.files` (the same functions as the command) into a temporary
file, in a worker thread with its own event loop and database connection, so that a large SPSS
or Excel export does not hold up the chat; then it is streamed to the browser and deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from common.clock import utc_now
from common.errors import BarazaError
from handlers.invitations import response_paradata
from storage import audit
from storage.database import Database
from storage.exports import ExcelTooLarge, ExportOptions, Format
from storage.exports.attachments import media_questions
from storage.exports.files import export_codebook, export_responses, export_with_attachments
from storage.media import MediaStore
from surveys.model import Survey

CHUNK = 256 * 1024
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class Download:
    """One button of the results page."""

    name: str  # what the button says
    suffix: str
    content_type: str
    fmt: Format | None  # None: the codebook (Markdown)
    attachments: bool = False  # a zip of the table and attachments/


DOWNLOADS: dict[str, Download] = {
    "csv": Download("CSV", "csv", "text/csv; charset=utf-8", "csv"),
    "xlsx": Download("Excel", "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "jsonl": Download("JSON Lines", "jsonl", "application/x-ndjson; charset=utf-8", "jsonl"),
    "sav": Download("SPSS", "sav", "application/x-spss-sav", "sav"),
    "dta": Download("Stata", "dta", "application/x-stata-dta", "dta"),
    "codebook": Download("Codebook", "md", "text/markdown; charset=utf-8", None),
}


def zipped_downloads(survey: Survey) -> dict[str, Download]:
    """The zips of the table and its files (``csv.zip``...), for a survey with media questions."""
    if not media_questions(survey):
        return {}
    return {
        f"{key}.zip": Download(download.name, f"{download.suffix}.zip", "application/zip", download.fmt, True)
        for key, download in DOWNLOADS.items()
        if download.fmt is not None
    }


class DownloadError(BarazaError):
    """An export that cannot be made (too many rows for Excel...), with a message for staff."""


def _write_in_thread(
    database_url: str, survey: Survey, download: Download, options: ExportOptions, path: Path, media: MediaStore | None
) -> int:
    async def write() -> int:
        database = Database(database_url, pool_size=1)
        try:
            async with database.reading() as connection:
                paradata = await response_paradata(connection, survey)
            if download.fmt is None:
                await export_codebook(database, survey, options, path, as_csv=False, fieldwork=paradata is not None)
                return 0
            if download.attachments and media is not None:
                exported = await export_with_attachments(
                    database, survey, options, download.fmt, path, media, paradata=paradata
                )
                return exported.rows
            return (await export_responses(database, survey, options, download.fmt, path, paradata=paradata)).rows
        finally:
            await database.dispose()

    return asyncio.run(write())


async def send_export(
    request: web.Request,
    database: Database,
    survey: Survey,
    key: str,
    options: ExportOptions,
    stamp: str,
    media: MediaStore | None = None,
    *,
    actor: str,
) -> web.StreamResponse:
    """Write the export ``key`` of ``survey`` and stream it as an attachment (``csv.zip``...: with
    the files of its media answers from ``media``); the audit trail records it under ``actor``
    once written."""
    download = DOWNLOADS.get(key) or (zipped_downloads(survey).get(key) if media is not None else None)
    if download is None:
        raise web.HTTPNotFound(text=f"There is no export format {key!r}.")
    with tempfile.TemporaryDirectory(prefix="baraza-download-") as directory:
        path = Path(directory) / f"export.{download.suffix}"
        try:
            rows = await asyncio.to_thread(_write_in_thread, database.url, survey, download, options, path, media)
        except ExcelTooLarge as error:
            raise DownloadError(f"{error}; download CSV or SPSS instead") from error
        what, fmt = ("codebook", "md") if download.fmt is None else ("responses", download.fmt)
        await audit.record_in(
            database,
            actor=actor,
            action=audit.EXPORT,
            now=utc_now(),
            target=f"survey:{survey.id}",
            details=audit.export_details(what, fmt, None if download.fmt is None else rows, options),
        )
        name = f"{_UNSAFE.sub('_', survey.id)}-{'codebook-' if download.fmt is None else ''}{stamp}.{download.suffix}"
        response = web.StreamResponse(
            headers={
                "Content-Type": download.content_type,
                "Content-Disposition": f'attachment; filename="{name}"',
                "Content-Length": str(path.stat().st_size),
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
            }
        )
        await response.prepare(request)
        with path.open("rb") as source:
            while chunk := source.read(CHUNK):
                await response.write(chunk)
        with contextlib.suppress(ConnectionResetError):
            await response.write_eof()
        return response
