"""A local SDMX REST endpoint for tests: ``GET /data/{dataflow}`` answers with a real SDMX file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

CONTENT_TYPES = {
    ".xml": "application/vnd.sdmx.structurespecificdata+xml",
    ".json": "application/vnd.sdmx.data+json",
    ".csv": "application/vnd.sdmx.data+csv",
}


@dataclass
class SdmxServer:
    """Serves ``files[dataflow]``; ``failing`` makes every answer an HTTP 503."""

    files: dict[str, Path]
    failing: bool = False
    requests: list[str] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        flow = request.match_info["flow"]
        self.requests.append(flow)
        if self.failing:
            return web.Response(status=503, text="maintenance")
        path = self.files.get(flow)
        if path is None:
            return web.Response(status=404, text=f"no dataflow {flow}")
        return web.Response(body=path.read_bytes(), content_type=CONTENT_TYPES[path.suffix])


@asynccontextmanager
async def sdmx_server(files: dict[str, Path]) -> AsyncIterator[SdmxServer]:
    server = SdmxServer(dict(files))
    app = web.Application()
    app.router.add_get("/rest/data/{flow}", server.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = next(address[1] for address in runner.addresses if isinstance(address, tuple))
    server.url = f"http://127.0.0.1:{port}/rest"
    try:
        yield server
    finally:
        await runner.cleanup()
