"""A TCP proxy a test can cut and restore: the database "goes away" without touching the server.

async with TcpProxy("127.0.0.1", 5432) as proxy:
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{proxy.port}/db"
    await proxy.cut()      # open connections are reset, new ones refused
    await proxy.restore()  # accepting and forwarding again (same port)
    proxy.latency = lambda: random.uniform(0, 0.5)  # a slow server: each answer held that long
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable
from types import TracebackType


class TcpProxy:
    """Forwards ``127.0.0.1:<port>`` to ``(host, port)`` until :meth:`cut`."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.connections = 0
        #: Seconds each chunk of an answer (from the target) is held before it is passed on; the
        #: answers of one connection keep their order.
        self.latency: Callable[[], float] = lambda: 0.0

    def through(self, url: str) -> str:
        """``url`` (``scheme://[user@]host:port/...``) going through this proxy instead."""
        scheme, rest = url.split("://", 1)
        authority, slash, path = rest.partition("/")
        user = authority.rpartition("@")[0]
        return f"{scheme}://{user + '@' if user else ''}127.0.0.1:{self.port}{slash}{path}"

    async def __aenter__(self) -> TcpProxy:
        await self.restore()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.cut()

    async def restore(self) -> None:
        """Accept and forward connections again."""
        if self._server is None:
            self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port, reuse_address=True)

    async def cut(self) -> None:
        """Stop listening (new connections are refused) and reset every open connection."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            transport = writer.transport
            if isinstance(transport, asyncio.Transport):
                transport.abort()
        self._writers.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.transport.abort()
            return
        self.connections += 1
        self._writers.update((client_writer, server_writer))
        for reader, writer, held in ((client_reader, server_writer, False), (server_reader, client_writer, True)):
            task = asyncio.create_task(self._pipe(reader, writer, held))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, held: bool) -> None:
        try:
            while data := await reader.read(65536):
                if held and (latency := self.latency()) > 0:
                    await asyncio.sleep(latency)
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()
