"""Stopping a background task (common/tasks.py)."""

from __future__ import annotations

import asyncio

from common.tasks import cancel_and_wait


async def test_a_running_task_is_cancelled_and_has_ended_when_it_returns() -> None:
    cleaned: list[str] = []

    async def forever() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            cleaned.append("done")

    task = asyncio.create_task(forever())
    await asyncio.sleep(0)
    await cancel_and_wait(task)
    assert task.cancelled() and cleaned == ["done"]


async def test_no_task_is_nothing_to_stop() -> None:
    await cancel_and_wait(None)
