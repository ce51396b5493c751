"""Data requests: what the bot offers when a lookup finds nothing.

Minimal version for the lookup branch: only :func:`offer_request`, saying plainly that nothing
was found. The data-request flow (tickets) replaces this module.
"""

from __future__ import annotations

from handlers.context import Context
from handlers.messages import Outbound


async def offer_request(ctx: Context, text: str) -> list[Outbound]:
    """The reply when no published figure matches ``text``."""
    return [Outbound(text=ctx.texts("data_not_found"))]
