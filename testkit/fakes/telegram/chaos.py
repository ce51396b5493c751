"""Random faults of the fake Bot API, at a configurable rate: what a flaky Telegram does.

:class:`RandomFaults` picks, for each call of the chosen methods, whether it fails and how:

- ``429``: "Too Many Requests" with ``retry_after`` (nothing happens);
- ``5xx``: 500 / 502 / 503 / 504 (nothing happens);
- ``timeout``: the call is held longer than the client waits, then takes effect (the message
  arrives although the bot saw a timeout); later calls for the same chat wait for it, as
  Telegram applies a chat's calls in the order it received them;
- ``drop``: the connection is closed without a response before the call takes effect;
- ``drop_after``: the call takes effect, then the connection is closed (sent, but the bot never
  learns it).

Counts of what fired are kept in :attr:`RandomFaults.fired` so a test can show the faults were real.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

KINDS = ("429", "5xx", "timeout", "drop", "drop_after")
#: Calls a user's conversation or a broadcast makes; start-up calls (getMe...) stay reliable.
DEFAULT_METHODS = ("sendMessage", "editMessageText", "answerCallbackQuery", "sendPhoto", "sendDocument", "getUpdates")
#: Long polls already wait ~poll_timeout + 10 s: holding them is no timeout the client sees.
NO_TIMEOUT_METHODS = frozenset({"getupdates"})


@dataclass
class RandomFaults:
    """A fault for about ``rate`` of the calls of ``methods`` (case-insensitive)."""

    rate: float
    methods: Iterable[str] = DEFAULT_METHODS
    kinds: tuple[str, ...] = KINDS
    #: How long a ``timeout`` call is held: longer than the client's read timeout.
    timeout_seconds: float = 6.0
    seed: int = 0
    fired: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        unknown = set(self.kinds) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {', '.join(KINDS)}")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        self._methods = {method.lower() for method in self.methods}
        self._chance = random.Random(self.seed)

    def pick(self, method: str) -> str | None:
        """The fault for this call of ``method``, or ``None`` for a normal call."""
        key = method.lower()
        if key not in self._methods or self._chance.random() >= self.rate:
            return None
        kinds = [k for k in self.kinds if not (k == "timeout" and key in NO_TIMEOUT_METHODS)]
        if not kinds:
            return None
        kind = self._chance.choice(kinds)
        self.fired[kind] += 1
        return kind

    def server_error(self) -> int:
        return self._chance.choice((500, 502, 503, 504))
