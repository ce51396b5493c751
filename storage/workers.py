"""Who a worker process is, and when another one is known to be gone.

A worker has a **slot** that outlives its process: ``hostname:port`` of its web server by default
(no two live processes on one host can hold the same port, and a restarted process, by systemd
or by Docker Compose in the same container, comes back on the same one). Its **name** adds the
process: ``slot#host#pid#token``. The name is what a worker writes where others must know it:
the rows it claims for sending (``claimed_by``, :mod:`storage.deliveries`) and its send-rate
leases (:mod:`storage.rate_leases`).

Another worker is known to be gone, without waiting for anything to expire, when

- it held this worker's slot (an earlier incarnation: the slot is this process's now), or
- it ran on this host and its process no longer exists (``kill -9``, a crash).

Anything else (another host, a process that still exists) is left to the caller's own rule
(a lease's expiry).
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass

_SEPARATOR = "#"


def process_exists(pid: int) -> bool:
    """Whether a process ``pid`` exists on this host (one we may not signal counts as existing)."""
    if pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class WorkerIdentity:
    """One worker process: its lasting ``slot``, its ``host`` and ``pid``, and a random ``token``
    (a pid can be used again)."""

    slot: str
    host: str
    pid: int
    token: str

    @property
    def name(self) -> str:
        """``slot#host#pid#token``, at most 100 characters (the columns that hold it)."""
        return _SEPARATOR.join((self.slot[:45], self.host[:30], str(self.pid), self.token))

    @classmethod
    def parse(cls, name: str) -> WorkerIdentity | None:
        """The identity ``name`` stands for; None for a name of another form (an older release's)."""
        parts = name.split(_SEPARATOR)
        if len(parts) != 4 or not parts[2].isdigit():
            return None
        return cls(parts[0], parts[1], int(parts[2]), parts[3])

    def knows_gone(self, name: str) -> bool:
        """Whether the worker called ``name`` is known to be gone (see the module's doc)."""
        other = WorkerIdentity.parse(name)
        if other is None or other.token == self.token:
            return False
        if other.slot == self.slot[:45]:
            return True
        return other.host == self.host[:30] and not process_exists(other.pid)


def web_slot(port: int) -> str:
    """The slot of a worker whose web server listens on ``port`` of this host."""
    return f"{socket.gethostname()[:38]}:{port}"


def this_process(slot: str | None = None) -> WorkerIdentity:
    """The identity of this process in ``slot`` (None: a slot of its own, for tests and tools)."""
    host = socket.gethostname()
    token = secrets.token_hex(4)
    return WorkerIdentity(slot or f"{host}:{token}", host, os.getpid(), token)
