"""Soak test: ``kill -9`` of the bot at random moments while users answer surveys and look up
figures and a broadcast goes out, with a flaky Telegram; then count what was lost or duplicated.

    .venv/bin/python -m bench.soak [--kills 50] [--users 12] [--backend sqlite|postgresql|both]

The harness and the definitions of the counts are in ``testkit/soak.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

from testkit.databases import create_postgres_database, drop_postgres_database, postgres_reachable
from testkit.soak import SoakConfig, SoakResult, soak


async def soak_on(backend: str, config: SoakConfig) -> SoakResult:
    with tempfile.TemporaryDirectory(prefix="baraza-soak-") as directory:
        workdir = Path(directory)
        if backend == "sqlite":
            return await soak(f"sqlite+aiosqlite:///{workdir / 'soak.db'}", workdir, config, backend)
        url = await create_postgres_database()
        try:
            return await soak(url, workdir, config, backend)
        finally:
            await drop_postgres_database(url)


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--users", type=int, default=12, help="concurrent survey respondents")
    parser.add_argument("--lookup-users", type=int, default=4)
    parser.add_argument("--broadcast", type=int, default=600, help="recipients of the running broadcast")
    parser.add_argument("--broadcast-rate", type=float, default=8.0)
    parser.add_argument("--fault-rate", type=float, default=0.05, help="share of Bot API calls that fail")
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args(argv)
    config = SoakConfig(
        kills=args.kills,
        survey_users=args.users,
        lookup_users=args.lookup_users,
        broadcast_contacts=args.broadcast,
        broadcast_rate=args.broadcast_rate,
        fault_rate=args.fault_rate,
        seed=args.seed,
    )
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    clean = True
    for backend in backends:
        if backend == "postgresql" and not postgres_reachable():
            print("postgresql: not reachable on 127.0.0.1:5432, skipped")
            continue
        result = await soak_on(backend, config)
        print(result.report(), flush=True)
        clean = clean and result.clean
    print("soak: all counts zero" if clean else "soak: LOSSES OR DUPLICATES FOUND")
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
