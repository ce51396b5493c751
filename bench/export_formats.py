"""Export benchmark: a 30-question survey with N responses (default 1,000,000), exported to each
format by ``baraza export`` and by the pandas route (``read_sql`` of the same pivoted table, then
``to_csv`` / ``to_excel`` / ``to_json`` / pyreadstat). Prints seconds and peak memory (RSS) of each
export, each run in its own child process.

    python -m bench.export_formats [--responses N] [--postgres] [--formats csv,jsonl,...] [--no-pandas]

The filled SQLite database is kept under /tmp (``/tmp/baraza-bench-export-N.db``) and reused by
the next run with the same N.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from bench.export_survey import SURVEY_ID, responses, write_survey
from storage.database import migrate_url

WORK = Path("/tmp/baraza-bench-export")
FORMATS = ("csv", "jsonl", "xlsx", "sav", "dta")
POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/baraza_bench_export"


def _sqlite_time(moment: datetime | None) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def fill_sqlite(path: Path, count: int) -> None:
    """Create and fill the SQLite file with ``count`` responses (bulk inserts, no journal)."""
    survey = write_survey(WORK / "forms")
    partial = path.with_suffix(".filling")
    partial.unlink(missing_ok=True)
    asyncio.run(migrate_url(f"sqlite+aiosqlite:///{partial}"))
    connection = sqlite3.connect(partial)
    connection.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-1000000;")
    response_batch: list[tuple[object, ...]] = []
    answer_batch: list[tuple[object, ...]] = []

    def flush() -> None:
        connection.executemany("INSERT INTO responses VALUES (?,?,?,?,?,?,?,?,?,?)", response_batch)
        connection.executemany(
            "INSERT INTO answers (response_id, question, value, answered_at) VALUES (?,?,?,?)", answer_batch
        )
        response_batch.clear()
        answer_batch.clear()

    for number, (row, answers) in enumerate(responses(survey, count), start=1):
        started = _sqlite_time(row[7])  # type: ignore[arg-type]
        response_batch.append((*row[:7], started, _sqlite_time(row[8]), row[9]))  # type: ignore[arg-type]
        answer_batch.extend((row[0], question, value, started) for question, value in answers)
        if number % 20_000 == 0:
            flush()
            print(f"  filled {number:,} responses", file=sys.stderr, flush=True)
    flush()
    connection.commit()
    connection.execute("ANALYZE")
    connection.close()
    partial.replace(path)


async def fill_postgres(url: str, count: int) -> None:
    import asyncpg

    survey = write_survey(WORK / "forms")
    admin = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres")
    try:
        await admin.execute("DROP DATABASE IF EXISTS baraza_bench_export WITH (FORCE)")
        await admin.execute("CREATE DATABASE baraza_bench_export")
    finally:
        await admin.close()
    await migrate_url(url)
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        response_batch: list[tuple[object, ...]] = []
        answer_batch: list[tuple[object, ...]] = []

        async def flush() -> None:
            await connection.copy_records_to_table(
                "responses",
                records=response_batch,
                columns=[
                    "id",
                    "survey_id",
                    "survey_version",
                    "contact_id",
                    "respondent",
                    "channel",
                    "language",
                    "started_at",
                    "completed_at",
                    "score",
                ],
            )
            await connection.copy_records_to_table(
                "answers", records=answer_batch, columns=["response_id", "question", "value", "answered_at"]
            )
            response_batch.clear()
            answer_batch.clear()

        for number, (row, answers) in enumerate(responses(survey, count), start=1):
            response_batch.append(row)
            answer_batch.extend((row[0], question, value, row[7]) for question, value in answers)
            if number % 20_000 == 0:
                await flush()
                print(f"  filled {number:,} responses", file=sys.stderr, flush=True)
        await flush()
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


def _config(url: str) -> Path:
    config = WORK / f"config-{abs(hash(url))}.yaml"
    config.write_text(
        f"database: {{url: '{url}'}}\nsurveys: {{directory: '{WORK / 'forms'}'}}\nlogging: {{level: WARNING}}\n",
        encoding="utf-8",
    )
    return config


def _measure(command: list[str]) -> tuple[float, float, float]:
    """Run ``command``; return (wall seconds, CPU seconds, peak RSS in MB) of that process alone.

    CPU seconds (user + system, all threads) are the fairer comparison on a shared machine:
    wall time also counts the time other processes held the cores."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        assert process.stderr is not None
        raise SystemExit(f"failed: {' '.join(command)}\n{process.stderr.read().decode()}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def _baraza(url: str, fmt: str, output: Path) -> list[str]:
    return [sys.executable, "-m", "bot.cli.main", "--config", str(_config(url)), "export", SURVEY_ID, "--format", fmt,
            "--output", str(output), "--multiple", "joined"]  # fmt: skip


def _pandas(url: str, fmt: str, output: Path) -> list[str]:
    return [sys.executable, "-m", "bench.export_pandas", url, fmt, str(output)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--postgres", action="store_true", help="benchmark PostgreSQL instead of SQLite")
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--no-pandas", action="store_true", help="skip the pandas route")
    arguments = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    count = arguments.responses
    if arguments.postgres:
        url = POSTGRES_URL
        print(f"filling PostgreSQL with {count:,} responses...", file=sys.stderr)
        asyncio.run(fill_postgres(url, count))
    else:
        path = Path(f"/tmp/baraza-bench-export-{count}.db")
        if not path.exists():
            print(f"filling {path} with {count:,} responses...", file=sys.stderr)
            fill_sqlite(path, count)
        write_survey(WORK / "forms")
        url = f"sqlite+aiosqlite:///{path}"
    backend = "PostgreSQL" if arguments.postgres else "SQLite"
    print(f"\n{count:,} responses x 30 questions, {backend}")
    print("seconds: wall / CPU (user + system); MB: peak resident memory of the exporting process")
    print("| format | baraza s | baraza MB | pandas s | pandas MB | file MB |\n|---|---|---|---|---|---|")
    for fmt in arguments.formats.split(","):
        output = WORK / f"export-{backend.lower()}.{fmt}"
        seconds, cpu, peak = _measure(_baraza(url, fmt, output))
        size = output.stat().st_size / 1e6
        if arguments.no_pandas:
            pandas_text = "- | -"
        else:
            pandas_output = WORK / f"pandas.{fmt}"
            pandas_seconds, pandas_cpu, pandas_peak = _measure(_pandas(url, fmt, pandas_output))
            pandas_text = f"{pandas_seconds:.0f} / {pandas_cpu:.0f} | {pandas_peak:,.0f}"
        print(f"| {fmt} | {seconds:.0f} / {cpu:.0f} | {peak:,.0f} | {pandas_text} | {size:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
