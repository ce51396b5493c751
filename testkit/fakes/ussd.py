"""A fake Africa's Talking USSD gateway and the feature phones that dial through it.

Written from Africa's Talking's USSD documentation: for each step of a session the gateway
POSTs a form (``application/x-www-form-urlencoded``) to the office's callback with ``sessionId``,
``serviceCode``, ``phoneNumber``, ``networkCode`` and ``text``, the person's inputs of the
session so far joined by ``*`` (empty on the dial). The answer is ``text/plain``, starting with
``CON `` (show the screen, wait for input) or ``END `` (show it, close the session); anything
else, an HTTP error, or no answer within the gateway's time limit (15 seconds) ends the
session.

A :class:`FakePhone` dials, reads the screens and types inputs, building the cumulative text as
the gateway does; :meth:`FakePhone.hang_up` drops the session (the person hung up, or the
session timed out), so that the next :meth:`FakePhone.dial` starts a new session id.
"""

from __future__ import annotations

import itertools
import time
import uuid
from dataclasses import dataclass, field

import aiohttp

#: How long the gateway waits for the application's answer before it drops the session.
APPLICATION_TIMEOUT = 15.0
SERVICE_CODE = "*384*1234#"
NETWORK_CODE = "63902"  # Safaricom, Kenya


class SessionOver(AssertionError):
    """The phone typed into a session that is over (after END, a hang-up, or an error)."""


@dataclass(frozen=True)
class UssdScreen:
    """What the phone shows: ``kind`` is ``CON`` or ``END``; ``text`` the screen without it."""

    kind: str
    text: str

    @property
    def ended(self) -> bool:
        return self.kind == "END"

    @property
    def lines(self) -> list[str]:
        return self.text.split("\n")


@dataclass
class FakeUssdGateway:
    """The gateway in front of the office's callback ``url``."""

    url: str
    service_code: str = SERVICE_CODE
    network_code: str = NETWORK_CODE
    posts: list[dict[str, str]] = field(default_factory=list)
    #: Seconds each post waited for the application's answer (the gateway allows 15).
    latencies: list[float] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> FakeUssdGateway:
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=APPLICATION_TIMEOUT))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._http is not None:
            await self._http.close()

    def phone(self, number: str) -> FakePhone:
        """A phone with ``number`` as the gateway passes it (``+254712345678``)."""
        return FakePhone(self, number)

    def new_session_id(self) -> str:
        # Unique across gateways too, as Africa's Talking's are: the update keys are made of them.
        return f"ATUid_{uuid.uuid4().hex[:12]}{next(self._ids):04x}"

    async def post(self, form: dict[str, str]) -> tuple[int, str]:
        """Post one step of a session; the status and body of the answer."""
        assert self._http is not None, "use the gateway as `async with`"
        self.posts.append(form)
        started = time.perf_counter()
        async with self._http.post(self.url, data=form) as answer:
            body = await answer.text()
        self.latencies.append(time.perf_counter() - started)
        return answer.status, body


@dataclass
class FakePhone:
    """A feature phone in USSD sessions: one session at a time."""

    gateway: FakeUssdGateway
    number: str
    session_id: str | None = None
    inputs: list[str] = field(default_factory=list)
    screens: list[UssdScreen] = field(default_factory=list)

    @property
    def screen(self) -> UssdScreen:
        return self.screens[-1]

    @property
    def text(self) -> str:
        """The ``text`` field the gateway sends: the session's inputs joined by ``*``."""
        return "*".join(self.inputs)

    async def dial(self) -> UssdScreen:
        """Dial the service code: a new session and its first screen."""
        self.session_id = self.gateway.new_session_id()
        self.inputs = []
        return await self._post()

    async def reply(self, typed: str) -> UssdScreen:
        """Type ``typed`` and send it: the next screen."""
        if self.session_id is None or not self.screens or self.screen.ended:
            raise SessionOver("no session is open: dial first")
        self.inputs.append(typed)
        return await self._post()

    async def repost(self) -> UssdScreen:
        """The gateway posts the same step again (it missed the first answer)."""
        return await self._post()

    def hang_up(self) -> None:
        """The person hangs up, or the gateway drops the session (its time is up)."""
        self.session_id = None
        self.inputs = []

    async def _post(self) -> UssdScreen:
        assert self.session_id is not None
        form = {
            "sessionId": self.session_id,
            "serviceCode": self.gateway.service_code,
            "phoneNumber": self.number,
            "networkCode": self.gateway.network_code,
            "text": self.text,
        }
        status, body = await self.gateway.post(form)
        kind, _, text = body.partition(" ")
        if status != 200 or kind not in ("CON", "END"):
            # The gateway ends a session whose application answers with an error or garbage.
            self.hang_up()
            raise SessionOver(f"the application answered {status}: {body[:80]!r}")
        screen = UssdScreen(kind, text)
        self.screens.append(screen)
        if screen.ended:
            self.session_id = None
        return screen
