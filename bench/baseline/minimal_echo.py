"""The minimal echo bot: long polling and one aiohttp session, no framework and no storage.

It is the ceiling of the transport on this machine: each update is answered by one
``sendMessage`` (a button press by its data) as soon as it arrives, concurrently, with nothing
stored and nothing checked, on the same event loop as ``baraza run``. Baraza's figures in
``bench.load`` are printed as a ratio to it.

    python -m bench.baseline.minimal_echo --base-url URL [--mode polling] [--port N]
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import aiohttp

try:
    import uvloop
except ImportError:  # Windows
    uvloop = None  # type: ignore[assignment]

from bench.baseline.serve import TOKEN, arguments


async def answer(session: aiohttp.ClientSession, api: str, update: dict[str, Any]) -> None:
    if "message" in update:
        message = update["message"]
        payload = {"chat_id": message["chat"]["id"], "text": message.get("text") or "?"}
    elif "callback_query" in update:
        query = update["callback_query"]
        payload = {"chat_id": query["message"]["chat"]["id"], "text": query.get("data") or "?"}
    else:
        return
    async with session.post(f"{api}/sendMessage", json=payload) as response:
        await response.read()


async def poll(base_url: str) -> None:
    api = f"{base_url}{TOKEN}"
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    tasks: set[asyncio.Task[None]] = set()
    offset = 0
    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(connector=connector) as session:
        while not stop.is_set():
            async with session.post(f"{api}/getUpdates", json={"offset": offset, "timeout": 1}) as response:
                updates = (await response.json())["result"]
            for update in updates:
                offset = max(offset, update["update_id"] + 1)
                task = asyncio.create_task(answer(session, api, update))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks, return_exceptions=True)


if __name__ == "__main__":
    options = arguments(__doc__ or "")
    if options.mode != "polling":
        raise SystemExit("the minimal echo bot long-polls only")
    # The event loop of `baraza run` (uvloop where installed, see bot/cli/run.py): the two are
    # compared on the same one. Not imported from the bot, so that this one stays minimal.
    with asyncio.Runner(loop_factory=uvloop.new_event_loop if uvloop is not None else None) as runner:
        runner.run(poll(options.base_url))
