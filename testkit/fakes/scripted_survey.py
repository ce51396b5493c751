"""A scripted two-question survey standing in for the core behind the web chat channel."""

from __future__ import annotations

import struct
import zlib

from handlers.messages import RESUME_PAYLOAD, Attachment, Button, Inbound, Outbound


def solid_png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A small solid-colour PNG, made here so the tests need no image file."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


CHART = solid_png(120, 48, (11, 87, 164))
CHART_ALT = "Chart: a blue bar"
GREETING = "Welcome to the Baraza test survey.\nIt has two questions."
NAME_QUESTION = "What is your name?"
JOB_QUESTION = "Do you have a job?"
JOB_BUTTONS = ((Button("Yes", "job:yes"), Button("No", "job:no")),)


class ScriptedSurvey:
    """A two-question survey standing in for the core: records every Inbound it gets and, as
    the core does, answers a repeated ``(channel, update_key)`` with the replies it gave."""

    def __init__(self) -> None:
        self.inbounds: list[Inbound] = []
        self.state: dict[str, str] = {}
        self.names: dict[str, str] = {}
        self._done: dict[tuple[str, str], list[Outbound]] = {}

    async def handle(self, inbound: Inbound) -> list[Outbound]:
        self.inbounds.append(inbound)
        if inbound.payload == "boom":
            raise RuntimeError("the core failed")
        key = (inbound.channel, inbound.update_key)
        if key not in self._done:
            self._done[key] = self._step(inbound)
        return self._done[key]

    def _step(self, inbound: Inbound) -> list[Outbound]:
        chat = inbound.chat_key
        state = self.state.get(chat, "new")
        if inbound.payload == RESUME_PAYLOAD:
            return [self._current(chat, state)]
        if state == "new" and inbound.payload == "start":
            self.state[chat] = "name"
            return [
                Outbound(GREETING + "\n✓ Started", replaces_pressed=True),
                Outbound(NAME_QUESTION),
            ]
        if state == "name" and inbound.text is not None:
            self.names[chat] = inbound.text.strip()
            self.state[chat] = "job"
            return [Outbound(JOB_QUESTION, buttons=JOB_BUTTONS)]
        if state == "job" and inbound.payload in ("job:yes", "job:no"):
            self.state[chat] = "done"
            label = "Yes" if inbound.payload == "job:yes" else "No"
            return [
                Outbound(f"{JOB_QUESTION}\n✓ {label}", replaces_pressed=True),
                self._current(chat, "done"),
            ]
        return [Outbound("Sorry, I did not understand that.")]

    def _current(self, chat: str, state: str) -> Outbound:
        if state == "name":
            return Outbound(NAME_QUESTION)
        if state == "job":
            return Outbound(JOB_QUESTION, buttons=JOB_BUTTONS)
        if state == "done":
            return Outbound(
                f"Thank you, {self.names.get(chat, 'friend')}! Here is your chart.",
                attachment=Attachment("image", "chart.png", CHART, "image/png", alt=CHART_ALT),
            )
        return Outbound(GREETING, buttons=((Button("Start", "start"),),))
