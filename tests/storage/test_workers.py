"""Workers' identities and the rows they own (:mod:`storage.workers`, :mod:`storage.deliveries`):
a starting worker marks ``unknown`` only what its own earlier process, or a worker known to be
gone, left ``sending``; never what a live worker is sending."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime

from storage.database import Database
from storage.deliveries import SENDING, UNKNOWN
from storage.records import Contact
from storage.repositories import Repositories
from storage.workers import WorkerIdentity, this_process, web_slot

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def dead_pid() -> int:
    """The pid of a process of this host that has ended (and was reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_name_gives_back_the_identity_it_was_made_of() -> None:
    me = this_process(web_slot(8080))
    assert WorkerIdentity.parse(me.name) == me
    assert len(me.name) <= 100
    assert WorkerIdentity.parse("oldhost:123:abcd") is None, "an older release's lease name"


def test_an_earlier_process_of_the_same_slot_is_known_gone_and_so_is_a_dead_process_on_this_host() -> None:
    me = this_process("host-a:8080")
    earlier = WorkerIdentity("host-a:8080", me.host, os.getppid(), "0123abcd")  # even if its pid exists
    assert me.knows_gone(earlier.name)
    died_here = WorkerIdentity("host-a:8081", me.host, dead_pid(), "0123abcd")
    assert me.knows_gone(died_here.name)


def test_a_live_process_here_another_host_and_this_process_itself_are_not_known_gone() -> None:
    me = this_process("host-a:8080")
    alive_here = WorkerIdentity("host-a:8081", me.host, os.getppid(), "0123abcd")
    elsewhere = WorkerIdentity("host-b:8080", "host-b", dead_pid(), "0123abcd")
    assert not me.knows_gone(alive_here.name)
    assert not me.knows_gone(elsewhere.name), "another host's pids are not ours to look at"
    assert not me.knows_gone(me.name)
    assert not me.knows_gone("oldhost:123:abcd")


async def test_a_starting_worker_marks_unknown_only_the_rows_of_workers_known_gone(database: Database) -> None:
    me = this_process("host-a:8080")
    earlier_me = WorkerIdentity("host-a:8080", me.host, os.getppid(), "0123abcd")
    live_other = WorkerIdentity("host-a:8081", me.host, os.getppid(), "4567cdef")
    dead_other = WorkerIdentity("host-a:8082", me.host, dead_pid(), "89ab0123")
    owners: dict[str | None, int] = {}
    async with database.transaction() as connection:
        repos = Repositories(connection)
        for index, owner in enumerate([earlier_me.name, live_other.name, dead_other.name, None]):
            person: Contact = await repos.contacts.touch("telegram", str(index), str(index), "en", T0)
            await repos.outbox.enqueue(
                contact_id=person.id, channel="telegram", chat_key=str(index), kind="test", body="{}", now=T0
            )
            (claimed,) = await repos.outbox.claim(["telegram"], 1, T0, worker=owner)
            owners[owner] = claimed.contact_id or 0

    async def gone(name: str) -> bool:
        return me.knows_gone(name)

    async with database.transaction() as connection:
        repos = Repositories(connection)
        assert await repos.outbox.recover_in_flight(gone) == 3
        statuses = {
            owner: (await repos.outbox.for_contact(contact_id))[0].status for owner, contact_id in owners.items()
        }
    assert statuses == {
        earlier_me.name: UNKNOWN,  # this worker's own earlier process
        dead_other.name: UNKNOWN,  # its process is gone
        None: UNKNOWN,  # claimed by a release that did not say who
        live_other.name: SENDING,  # still being sent by a live worker: its outcome is its own to record
    }
