"""``baraza indicators load`` and ``baraza indicators list``: the indicator catalogue from the shell."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.config import Settings
from bot.indicator_refresh import FetchError, load_configured
from catalogue.errors import CatalogueError
from catalogue.loading import SourceSpec, data_files
from catalogue.model import in_language
from storage.database import Database
from storage.indicators import IndicatorLoader
from storage.repositories import Repositories


def add_commands(commands: Any) -> None:
    """Register ``baraza indicators ...`` on the top-level sub-parsers."""
    indicators = commands.add_parser("indicators", help="the indicator catalogue (SDMX data and metadata)")
    sub = indicators.add_subparsers(dest="indicators_command", required=True)
    load = sub.add_parser(
        "load",
        help="check and load the configured metadata and SDMX files; problems are printed as FILE:LINE: message",
    )
    load.add_argument(
        "files", nargs="*", type=Path, help="data files to load instead of indicators.sources (.csv, .xml, .json)"
    )
    load.add_argument("--metadata", type=Path, default=None, help="metadata file instead of indicators.metadata")
    load.add_argument("--force", action="store_true", help="load even if nothing changed since the load in service")
    listing = sub.add_parser("list", help="the indicators in service, and the recent loads")
    listing.add_argument("--language", default=None, help="language of the names (default: bot.default_language)")


def run(settings: Settings, arguments: argparse.Namespace) -> int:
    if arguments.indicators_command == "load":
        return asyncio.run(load(settings, arguments.files, arguments.metadata, force=arguments.force))
    return asyncio.run(list_indicators(settings, arguments.language or settings.default_language))


async def load(settings: Settings, files: list[Path], metadata: Path | None, *, force: bool) -> int:
    indicator_settings = settings.indicators
    if metadata is not None:
        from dataclasses import replace

        indicator_settings = replace(indicator_settings, metadata=metadata)
    if indicator_settings.metadata is None:
        print("baraza: no indicators.metadata in the configuration and no --metadata given", file=sys.stderr)
        return 2
    database = Database(settings.database_url)
    try:
        await database.migrate()
        chosen = data_files([SourceSpec(str(f)) for f in files], Path.cwd()) if files else None
        outcome = await load_configured(database, indicator_settings, force=force, files=chosen)
    except CatalogueError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        if error.more:
            print(f"... and {error.more} more problem(s)", file=sys.stderr)
        print("baraza: nothing loaded; the indicators in service are unchanged", file=sys.stderr)
        return 1
    except FetchError as error:
        print(f"baraza: {error}", file=sys.stderr)
        print("baraza: nothing loaded; the indicators in service are unchanged", file=sys.stderr)
        return 1
    finally:
        await database.dispose()
    if outcome.result is None:
        print("the indicator data have not changed since the load in service (--force loads them again)")
        return 0
    summary = outcome.result.summary
    print(
        f"load {summary.load_id} in service: {summary.indicators} indicators, {summary.series} series, "
        f"{summary.observations} observations from {len(outcome.result.files)} file(s)"
    )
    if outcome.result.without_data:
        print(f"warning: no data for {', '.join(outcome.result.without_data)}", file=sys.stderr)
    return 0


async def list_indicators(settings: Settings, language: str) -> int:
    database = Database(settings.database_url)
    try:
        await database.migrate()
        history = await IndicatorLoader(database).history(limit=5)
        async with database.reading() as connection:
            repository = Repositories(connection).indicators
            snapshot = await repository.snapshot()
            latest = await repository.latest_periods() if snapshot is not None else {}
    finally:
        await database.dispose()
    if snapshot is None:
        print("no indicators in service: run `baraza indicators load`")
    else:
        active = (
            next(h for h in history if h.id == snapshot.load_id)
            if any(h.id == snapshot.load_id for h in history)
            else None
        )
        when = f" ({active.finished_at:%Y-%m-%d %H:%M} UTC)" if active and active.finished_at else ""
        counts = (
            f": {active.indicators} indicators, {active.series} series, {active.observations} observations"
            if active
            else ""
        )
        print(f"load {snapshot.load_id} in service{when}{counts}")
        rows = [
            (
                code,
                indicator.topic or "",
                str(len(snapshot.series_of(code))),
                latest.get(code, "-"),
                in_language(indicator.names, language),
            )
            for code, indicator in sorted(snapshot.indicators.items(), key=lambda item: (item[1].topic or "", item[0]))
        ]
        _table(("CODE", "TOPIC", "SERIES", "LATEST", "NAME"), rows)
    if history:
        print("\nrecent loads:")
        for record in history:
            error = f"  {record.error.splitlines()[0]}" if record.error else ""
            print(f"  {record.id:>4}  {record.status:<8} {record.started_at:%Y-%m-%d %H:%M}  {record.source}{error}")
    return 0


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print(
            "  ".join(
                cell.ljust(width) if i != 2 else cell.rjust(width)
                for i, (cell, width) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
        )
