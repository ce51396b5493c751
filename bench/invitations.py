"""Fieldwork at scale: 100,000 invitations drawn, stored and queued, then two reminder rounds computed and queued.

    .venv/bin/python -m bench.invitations [--contacts 120000] [--sample 100000] [--backend sqlite|postgresql]

Fills ``--contacts`` reachable contacts (Telegram and WhatsApp, four regions), draws a sample of
``--sample`` stratified by region with a seed and stores the round (invitations, broadcast and
delivery rows: what ``baraza survey invite`` does), marks the deliveries sent and a fifth of the
invitees as finished, then moves the clock two and five days forward and queues each reminder
(what ``baraza survey remind`` and ``baraza run`` do), and finally computes every invitation's
disposition and the report. Prints the time of each step and the peak memory (the process's
maximum resident size, before and after the fieldwork steps).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from bench.database import BACKENDS, bench_database
from bench.machine import describe
from handlers.invitations import QuietHours, build_report, disposition_rows, invite, queue_due_reminders
from storage.invitations import deliveries, participations
from surveys.loader import load_survey_text
from testkit.register import Person, add_people

FORM = """id: bench
title: Bench survey
reminders:
  - {after: 2d, text: "Still open"}
  - {after: 5d, text: "Last call"}
questions:
  - {type: integer, name: q1, label: "One"}
  - {type: integer, name: q2, label: "Two"}
"""
NO_QUIET = QuietHours("UTC", None, None)


def peak_rss() -> float:
    """The process's maximum resident size so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=120_000)
    parser.add_argument("--sample", type=int, default=100_000)
    parser.add_argument("--backend", choices=BACKENDS, default="sqlite")
    arguments = parser.parse_args()
    print(describe())
    survey = load_survey_text(FORM, "bench.yaml")
    regions = ("north", "south", "east", "west")
    people = [
        Person(
            1_000_000 + i,
            "en",
            "public",
            regions[i % 7 % 4],
            channel="whatsapp" if i % 3 == 0 else "telegram",
        )
        for i in range(arguments.contacts)
    ]
    async with bench_database(arguments.backend) as database:
        started = time.perf_counter()
        ids = await add_people(database, people)
        print(f"{arguments.backend}: {len(ids):,} contacts filled in {time.perf_counter() - started:.1f} s")
        rss_before = peak_rss()
        now = datetime.now(UTC)
        started = time.perf_counter()
        async with database.transaction() as connection:
            found = await invite(
                connection,
                survey,
                size=arguments.sample,
                stratify_by="region",
                seed=19,
                quiet=NO_QUIET,
                created_by="bench",
                now=now,
            )
        invite_seconds = time.perf_counter() - started
        print(
            f"  invitations: {found.invited:,} drawn (stratified, seeded) and queued in {invite_seconds:.2f} s"
            f" ({found.invited / invite_seconds:,.0f}/s)"
        )
        async with database.transaction() as connection:
            await connection.execute(update(deliveries).values(status="sent"))
            finished = [
                {"contact_id": ids[p.user_id], "survey_id": "bench", "completed": 1, "last_completed_at": now}
                for p in people[::5]
            ]
            for offset in range(0, len(finished), 5000):
                await connection.execute(participations.insert(), finished[offset : offset + 5000])
        for days in (2, 5):
            started = time.perf_counter()
            async with database.transaction() as connection:
                rounds = await queue_due_reminders(
                    connection, survey, now=now + timedelta(days=days, minutes=1), quiet=NO_QUIET
                )
            seconds = time.perf_counter() - started
            for round_ in rounds:
                print(
                    f"  reminder {round_.number} (day {days}): {round_.reminded:,} non-completers found and queued"
                    f" in {seconds:.2f} s"
                )
            async with database.transaction() as connection:  # the sender would do this
                await connection.execute(
                    update(deliveries).where(deliveries.c.status == "pending").values(status="sent")
                )
        started = time.perf_counter()
        async with database.reading() as connection:
            rows = await disposition_rows(connection, survey)
        report = build_report("bench", rows)
        seconds = time.perf_counter() - started
        print(f"  report: {len(rows):,} dispositions and rates in {seconds:.2f} s (RR1 {report.overall.rr1 or 0:.3f})")
        print(
            f"  peak memory: max resident size {peak_rss():.0f} MiB "
            f"({rss_before:.0f} MiB after filling the contacts, before the fieldwork)"
        )


if __name__ == "__main__":
    asyncio.run(main())
