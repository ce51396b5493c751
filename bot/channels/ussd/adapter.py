"""The USSD channel: Africa's Talking USSD sessions at the edge of the channel-agnostic core.

When a person dials the office's service code, Africa's Talking posts a form to the callback
(``{ussd.path}/{secret}``) with ``sessionId``, ``serviceCode``, ``phoneNumber``, ``networkCode``
and ``text``, the inputs of the session so far joined by ``*`` (empty on the dial). Baraza
answers ``text/plain``: ``CON`` and the screen (the session waits for the next input) or ``END``
and the last screen. The gateway gives up on an answer after about 15 seconds and the whole
session after 180.

- **Protection.** Africa's Talking signs nothing, so the callback lives at a secret path and
  only the addresses of ``ussd.allowed_ips`` may call it (others get 403); a post without a
  session, with a number that is not a phone number, or with an over-long text gets 400.
- **One input, once.** Only the inputs after those already applied are new (normally the last
  one). Each becomes an :class:`~handlers.messages.Inbound` with the update key
  ``<sessionId>:<input count>``, so a gateway that posts the same text again gets the same screen
  and nothing is applied twice (the engine de-duplicates the key too).
- **Screens.** :mod:`bot.channels.ussd.rendering` turns the replies into a screen of at most
  182 characters, with "9 More" / "0 Back" pages; turning a page is the channel's own business
  and never reaches the core. The screen and page shown are kept per phone number in the database
  (:mod:`storage.ussd_sessions`), as what a typed "3" means depends on them.
- **Resuming.** A new session of a number whose last screen was not an END resumes where the
  person was (the conversation lives in the database as on every channel), and its first screen
  says so.
- **Running out of time.** Past ``ussd.sms_after_seconds`` into a session, a screen that waits
  for an answer is not shown: the session ends, and with ``ussd.continue_by_sms`` (and the SMS
  channel configured) the conversation goes over to the person's SMS contact and the question is
  queued in the outbox for it, so that the SMS reply goes on with the response; without it the
  person is asked to dial again.

Contacts are channel ``ussd`` with the E.164 number (:mod:`common.phones`) as user and chat key.
Phone numbers are never logged.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from aiohttp import web

from bot.channels.ussd.rendering import Item, Screen, pages, read_input, response, screen_of
from bot.config import UssdSettings
from bot.core.engine import ChatLocks
from common.clock import utc_now
from common.phones import PhoneNumberError, to_e164
from handlers import notify, payloads
from handlers.messages import RESUME_PAYLOAD, Button, Inbound, MessageProcessor, Outbound
from handlers.survey import FLOW as SURVEY_FLOW
from handlers.texts import Texts, supported_language
from storage.database import Database
from storage.linked_contacts import move_conversation
from storage.outbox_messages import OutboxRepository
from storage.records import Conversation
from storage.repositories import Repositories
from storage.ussd_sessions import USSD_CHANNEL, UssdSession, UssdSessionRepository
from surveys import runner
from surveys.model import Question, QuestionType, Survey

log = logging.getLogger(__name__)

CHANNEL = USSD_CHANNEL
SMS_CHANNEL = "sms"
#: The outbox kind of a question sent on by SMS when a session runs out of time.
CONTINUE_KIND = "ussd_continue"
#: Longest field accepted from the gateway (a session's inputs, its id): far above any real one.
MAX_TEXT = 2000
MAX_SESSION_ID = 100
#: Free-text questions skipped in a row before the screen is shown anyway (a survey of many).
MAX_SKIPPED = 50


@dataclass(frozen=True)
class Shown:
    """A screen and the page of it on the phone."""

    screen: Screen
    page: int = 0


class UssdChannel:
    """Answers Africa's Talking's USSD callback."""

    def __init__(
        self,
        settings: UssdSettings,
        processor: MessageProcessor,
        database: Database,
        surveys: Mapping[str, Survey],
        *,
        sms_available: bool = False,
        default_language: str = "en",
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        """``sms_available``: the SMS channel is configured, so a session running out of time may
        continue by SMS (when ``settings.continue_by_sms`` allows it)."""
        self.settings = settings
        self.processor = processor
        self.database = database
        #: The surveys in service (followed as the surveys folder changes): their USSD settings.
        self.surveys = surveys
        self.default_language = default_language
        self.clock = clock
        self.by_sms = settings.continue_by_sms and sms_available
        if settings.continue_by_sms and not sms_available:
            log.warning("ussd.continue_by_sms is set but the SMS channel is not configured: not offered")
        self._lines = ChatLocks()

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post(self.settings.callback_path, self.handle_callback)

    def _allowed(self, remote: str | None) -> bool:
        try:
            address = ipaddress.ip_address(remote or "")
        except ValueError:
            return False
        return any(address in network for network in self.settings.allowed_ips)

    async def handle_callback(self, request: web.Request) -> web.Response:
        """One post of the gateway: the screen to show, as ``CON ...`` or ``END ...``."""
        if not self._allowed(request.remote):
            log.warning("USSD callback from an address not in ussd.allowed_ips refused")
            return web.Response(status=403, text="forbidden")
        try:
            form = await request.post()
        except (ValueError, UnicodeDecodeError):
            return web.Response(status=400, text="not a form")
        session_id, raw_phone, text = form.get("sessionId"), form.get("phoneNumber"), form.get("text", "")
        if not isinstance(session_id, str) or not isinstance(raw_phone, str) or not isinstance(text, str):
            return web.Response(status=400, text="sessionId, phoneNumber and text are needed")
        if not session_id.strip() or len(session_id) > MAX_SESSION_ID or len(text) > MAX_TEXT:
            return web.Response(status=400, text="bad sessionId or text")
        try:
            phone = to_e164(raw_phone, self.settings.default_region)
        except PhoneNumberError as error:
            return web.Response(status=400, text=str(error))
        inputs = text.split("*") if text else []
        # One post of a number at a time in this process (a gateway retry waits for the first).
        async with self._lines.hold((CHANNEL, phone)):
            answer = await self._serve(session_id.strip(), phone, inputs)
        return web.Response(text=answer, content_type="text/plain")

    async def _stored(self, phone: str) -> UssdSession | None:
        async with self.database.reading() as connection:
            return await UssdSessionRepository(connection).get(phone)

    async def _serve(self, session_id: str, phone: str, inputs: list[str]) -> str:
        stored = await self._stored(phone)
        now = self.clock()
        if stored is not None and stored.session_id == session_id:
            shown = Shown(Screen.from_json(stored.screen), stored.page)
            applied, started = stored.inputs, stored.started_at
        else:
            # A new session: the dial. A person whose flow waits for an answer resumes it.
            resumed = await self._conversation(phone) is not None
            shown = await self._dial(session_id, phone, resumed=resumed)
            applied, started = 0, now
        for number in range(applied, len(inputs)):
            shown = await self._apply(session_id, phone, number + 1, inputs[number], shown)
        if not shown.screen.end and now - started > timedelta(seconds=self.settings.sms_after_seconds):
            # The session is about to run out: end it rather than let it drop mid-answer.
            shown = await self._hand_over(phone, shown, "ussd_redial")
        laid = pages(shown.screen, self._texts(shown.screen))
        page = min(shown.page, len(laid) - 1)
        session = UssdSession(
            phone=phone,
            session_id=session_id,
            inputs=max(applied, len(inputs)),
            screen=shown.screen.to_json(),
            page=page,
            ended=shown.screen.end,
            started_at=started,
            updated_at=now,
        )
        async with self.database.transaction() as connection:
            saved = await UssdSessionRepository(connection).save(session, stored)
        if not saved:
            # Another post of the number (a retry served elsewhere) stored its screen first: show that.
            latest = await self._stored(phone)
            if latest is not None:
                shown, page = Shown(Screen.from_json(latest.screen), latest.page), latest.page
                laid = pages(shown.screen, self._texts(shown.screen))
                page = min(page, len(laid) - 1)
        return response(shown.screen, laid[page])

    def _texts(self, screen: Screen) -> Texts:
        return Texts(supported_language(screen.language) or self.default_language)

    async def _dial(self, session_id: str, phone: str, resumed: bool) -> Shown:
        """The first screen of a session: the configured survey (started or resumed), else where
        the person is (their question, or the greeting and the open surveys)."""
        base = Inbound(channel=CHANNEL, user_key=phone, chat_key=phone, update_key=f"{session_id}:0")
        survey = self.settings.survey
        inbound = replace(base, text=f"/survey {survey}") if survey else replace(base, payload=RESUME_PAYLOAD)
        shown = await self._ask(inbound)
        if resumed and not shown.screen.end:
            note = self._texts(shown.screen)("ussd_resumed")
            shown = Shown(replace(shown.screen, body=f"{note}\n{shown.screen.body}"))
        return shown

    async def _apply(self, session_id: str, phone: str, number: int, typed: str, shown: Shown) -> Shown:
        """The screen after input ``number`` of the session (``typed``) on ``shown``."""
        if shown.screen.end:  # the gateway should not post after END; nothing to answer
            return shown
        laid = pages(shown.screen, self._texts(shown.screen))
        reading = read_input(shown.screen, laid, min(shown.page, len(laid) - 1), typed)
        if reading.page is not None:
            return Shown(shown.screen, reading.page)
        if reading.not_in_menu:
            # The reason, then the question and its menu (the notes before it were read).
            reason = self._texts(shown.screen)("ussd_not_in_menu")
            return Shown(replace(shown.screen, body=f"{reason}\n{shown.screen.last}"))
        base = Inbound(channel=CHANNEL, user_key=phone, chat_key=phone, update_key=f"{session_id}:{number}")
        if reading.payload is not None:
            return await self._ask(replace(base, payload=reading.payload))
        return await self._ask(replace(base, text=reading.text or ""))

    async def _ask(self, inbound: Inbound) -> Shown:
        """The core's answer to ``inbound`` as a screen (committed when this returns).

        A free-text question of a survey that does not take them over USSD (``ussd:
        {text_questions: true}``) is skipped when it may be, as if the person typed the skip
        word; one that must be answered cannot be here, and the session ends (on by SMS if allowed).
        """
        replies = await self.processor.handle(inbound)
        for skipped in range(MAX_SKIPPED):
            conversation = await self._conversation(inbound.user_key)
            question = self._untypable(conversation)
            skip = _skip_payload(replies)
            if question is None:
                break
            if skip is None or question.required or question.required_if is not None:
                shown = self._shown(replies, waiting=True)
                return await self._hand_over(inbound.user_key, shown, "ussd_text_elsewhere")
            key = f"{inbound.update_key}:skip{skipped}"
            replies = await self.processor.handle(replace(inbound, text=None, payload=skip, update_key=key))
        else:
            conversation = await self._conversation(inbound.user_key)
        return self._shown(replies, waiting=conversation is not None)

    def _shown(self, replies: list[Outbound], *, waiting: bool) -> Shown:
        language = replies[-1].language if replies else None
        texts = Texts(supported_language(language) or self.default_language)
        return Shown(screen_of(replies, waiting=waiting, texts=texts))

    def _untypable(self, conversation: Conversation | None) -> Question | None:
        """The free-text question the person is at, if their survey does not take them over USSD."""
        if conversation is None or conversation.flow != SURVEY_FLOW or conversation.current_question is None:
            return None
        survey = self.surveys.get(conversation.survey_id or "")
        if survey is None or survey.ussd_text_questions:
            return None
        slot = runner.slot_of(survey, conversation.current_question)
        return slot.question if slot is not None and slot.question.type is QuestionType.TEXT else None

    async def _conversation(self, phone: str) -> Conversation | None:
        """Where the person is: in a flow that waits for their answer, or None (no menu then means END)."""
        async with self.database.reading() as connection:
            repos = Repositories(connection)
            contact_id = await repos.contacts.find(CHANNEL, phone)
            return None if contact_id is None else await repos.conversations.get(contact_id)

    async def _hand_over(self, phone: str, shown: Shown, without_sms: str) -> Shown:
        """End the session at the question ``shown``: it goes on by SMS when allowed (the screen
        says so); otherwise the screen says ``without_sms``."""
        texts = self._texts(shown.screen)
        if not self.by_sms:
            return Shown(Screen(texts(without_sms), end=True, language=shown.screen.language))
        question = Outbound(
            text=shown.screen.body,
            buttons=tuple((Button(item.label, item.payload),) for item in _all_items(shown.screen)),
        )
        async with self.database.transaction() as connection:
            repos = Repositories(connection)
            contact_id = await repos.contacts.find(CHANNEL, phone)
            if contact_id is not None:
                # The answer comes back by SMS, from the person's SMS contact (linked by the
                # number): the conversation goes over to it, or the answer would find none.
                # (An existing one is not touched: that would clear a block, a carrier's STOP.)
                by_sms = await repos.contacts.find(SMS_CHANNEL, phone)
                if by_sms is None:
                    by_sms = (await repos.contacts.touch(SMS_CHANNEL, phone, phone, None, self.clock())).id
                await move_conversation(connection, contact_id, by_sms)
                await OutboxRepository(connection).enqueue(
                    contact_id=by_sms,
                    channel=SMS_CHANNEL,
                    chat_key=phone,
                    kind=CONTINUE_KIND,
                    body=notify.encode(question),
                    now=self.clock(),
                )
        return Shown(Screen(texts("ussd_by_sms"), end=True, language=shown.screen.language))


def _skip_payload(replies: list[Outbound]) -> str | None:
    """The payload of the last reply's Skip button, if it has one."""
    for button in replies[-1].flat_buttons if replies else ():
        press = payloads.parse(button.payload)
        if press is not None and press.op == payloads.SKIP:
            return button.payload
    return None


def _all_items(screen: Screen) -> tuple[Item, ...]:
    return screen.items or screen.by_label
