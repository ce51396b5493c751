"""What the simulated users of the webhook channels (WhatsApp, SMS) share: waiting for the bot's
next matching message in their inbox."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from testkit.fakes.telegram.model import Signal


class HasText(Protocol):
    text: str


M = TypeVar("M", bound=HasText)


async def wait_in_inbox(
    messages: Sequence[M], start: int, signal: Signal, predicate: Callable[[M], bool] | None, within: float, who: str
) -> int:
    """The index of the first message from ``start`` on matching ``predicate`` (any message
    without one), waiting on ``signal`` up to ``within`` seconds; TimeoutError names ``who``."""
    found: list[int] = []

    def check() -> bool:
        for index in range(start, len(messages)):
            if predicate is None or predicate(messages[index]):
                found.append(index)
                return True
        return False

    if not await signal.wait_for(check, within):
        raise TimeoutError(f"no matching message for {who}; last: {[m.text[:60] for m in messages[-3:]]}")
    return found[0]
