"""``baraza run`` serves on uvloop's event loop where uvloop is installed (bot/cli/run.py)."""

from __future__ import annotations

import asyncio
import sys

import pytest

from bot.cli.run import event_loop_factory


@pytest.mark.skipif(sys.platform == "win32", reason="uvloop is not installed on Windows")
def test_baraza_run_gets_uvloops_event_loop() -> None:
    uvloop = pytest.importorskip("uvloop")
    factory = event_loop_factory()
    assert factory is not None
    loop = factory()
    try:
        assert isinstance(loop, uvloop.Loop)
        assert loop.run_until_complete(asyncio.sleep(0, result="served")) == "served"
    finally:
        loop.close()
