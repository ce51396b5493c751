"""Load time and peak memory of an indicator catalogue of 10,000 series and 5 million observations.

    .venv/bin/python -m bench.catalogue_load [--series 10000] [--observations 500]
                                             [--backend sqlite|postgresql|both]

Writes the synthetic catalogue (:mod:`bench.synthetic_catalogue`) to a temporary folder, then,
per backend, runs ``baraza indicators load`` in a child process twice: the first load into an
empty database, then a forced reload that replaces it (the previous load is retired and its rows
deleted). For each: wall time, the child's CPU time and peak RSS (``wait4``; the database
server's own CPU is not in it). The load average is printed: on a shared machine wall times vary. Then, in this process, the
time of ``IndicatorRepository.snapshot()`` (what the lookup reads: every indicator and series,
without observations) and of ``observations(series_id)`` for one series.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.synthetic_catalogue import write_synthetic_catalogue
from storage.database import Database
from storage.repositories import Repositories
from testkit import paths
from testkit.databases import create_postgres_database, drop_postgres_database, postgres_reachable

ROOT = paths.ROOT


def run_load(url: str, metadata: Path, files: tuple[Path, ...], config: Path) -> tuple[float, float, float, str]:
    """``baraza indicators load --force`` in a child: (seconds, its CPU seconds, peak RSS in MiB, its last line)."""
    env = {**os.environ, "BARAZA_DATABASE_URL": url, "PYTHONPATH": str(ROOT), "BARAZA_LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-m", "bot.cli.main", "--config", str(config), "indicators", "load", "--force"]
    command += ["--metadata", str(metadata), *map(str, files)]
    started = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"the load failed ({child.returncode}):\n{output}")
    cpu = usage.ru_utime + usage.ru_stime
    return elapsed, cpu, usage.ru_maxrss / 1024, output.strip().splitlines()[-1]


async def read_timings(url: str) -> tuple[float, float, int]:
    database = Database(url)
    try:
        async with database.reading() as connection:
            repository = Repositories(connection).indicators
            started = time.perf_counter()
            snapshot = await repository.snapshot()
            snapshot_seconds = time.perf_counter() - started
            assert snapshot is not None
            series = next(iter(snapshot.series.values()))[0]
            started = time.perf_counter()
            observations = await repository.observations(series.id)
            observations_seconds = time.perf_counter() - started
        return snapshot_seconds, observations_seconds, len(observations)
    finally:
        await database.dispose()


async def bench_backend(
    backend: str, catalogue_dir: Path, metadata: Path, files: tuple[Path, ...], config: Path
) -> None:
    if backend == "postgresql":
        if not postgres_reachable():
            print("postgresql: not reachable on 127.0.0.1:5432, skipped")
            return
        url = await create_postgres_database()
    else:
        url = f"sqlite+aiosqlite:///{catalogue_dir / 'bench.db'}"
    try:
        for label in ("first load", "reload (replaces it)"):
            seconds, cpu, rss, said = await asyncio.to_thread(run_load, url, metadata, files, config)
            print(
                f"{backend:<10} {label:<21} {seconds:8.1f} s   CPU {cpu:6.1f} s   peak RSS {rss:5.0f} MiB   ({said})",
                flush=True,
            )
        snapshot, observations, count = await read_timings(url)
        print(
            f"{backend:<10} snapshot()            {snapshot * 1000:8.0f} ms  (every indicator and series, no observations)"
        )
        print(f"{backend:<10} observations(series)  {observations * 1000:8.1f} ms  ({count} observations)")
    finally:
        if backend == "postgresql":
            await drop_postgres_database(url)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--observations", type=int, default=500)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="baraza-bench-catalogue-") as folder:
        directory = Path(folder)
        started = time.perf_counter()
        catalogue = write_synthetic_catalogue(
            directory / "data", series=arguments.series, observations=arguments.observations
        )
        size = sum(f.stat().st_size for f in catalogue.files) / 2**20
        print(
            f"synthetic catalogue: {catalogue.series} series, {catalogue.observations} observations, "
            f"{len(catalogue.files)} SDMX-CSV files ({size:.0f} MiB), written in {time.perf_counter() - started:.0f} s"
        )
        config = directory / "config.yaml"
        config.write_text(f"surveys:\n  directory: {ROOT / 'office' / 'surveys'}\n", encoding="utf-8")
        print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
        backends = ["sqlite", "postgresql"] if arguments.backend == "both" else [arguments.backend]
        for backend in backends:
            await bench_backend(backend, directory, catalogue.metadata, catalogue.files, config)


if __name__ == "__main__":
    asyncio.run(main())
