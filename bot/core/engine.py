"""The engine: turns one inbound message into committed state and replies.

For each inbound it serialises the updates of one chat, opens one transaction, skips
redeliveries, calls the router, commits, and only then returns the replies to the adapter.
A reply is therefore never shown for an answer that is not stored. Through ``serve`` the adapter
sends the replies while the chat is still held, so they keep the order of the updates.

Updates of different chats that arrive while a transaction is busy share the next one (group
commit, :mod:`bot.core.group_commit`): same statements, same guarantees, one BEGIN/COMMIT for all.
If anything in a shared transaction fails, it is rolled back and each of its updates runs again
in a transaction of its own, so one update's failure never costs another its answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from bot import keys, metrics
from bot.core.group_commit import GroupCommit
from bot.survey_service import surveys_now
from catalogue.cache import CatalogueCache
from common.clock import utc_now
from handlers import router
from handlers.context import Community, Context
from handlers.media_intake import keep_before
from handlers.messages import Delivered, Inbound, Outbound, as_they_are
from handlers.texts import RLM, Texts, rtl, supported_language
from storage.chat_order import ChatHolds, serialise_chat, try_serialise_chats
from storage.database import Database
from storage.errors import StorageError
from storage.indicators import StoredCatalogue
from storage.linked_contacts import phone_key_of
from storage.media import MediaStore
from storage.pseudonyms import Pseudonymizer
from storage.repositories import Arrival, Claimed, Repositories, survey_steps_together
from surveys.markup import Rich
from surveys.model import Survey

log = logging.getLogger(__name__)

#: Most updates committed by one transaction. On SQLite a batch holds the write lock while it
#: runs (well under a millisecond an update), so other writers wait at most that long.
MAX_BATCH = 64


class ChatLocks:
    """One FIFO lock per chat, dropped when nobody holds or waits for it.

    Entering :meth:`hold` takes the chat's place in line before it first waits, so callers that
    enter in some order (without awaiting in between) get the lock in that order.
    """

    def __init__(self) -> None:
        self._locks: dict[tuple[str, str], tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: tuple[str, str]) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def waiting(self, key: tuple[str, str]) -> int:
        """How many callers wait for ``key`` behind the one holding it."""
        return max(0, self._locks.get(key, (None, 1))[1] - 1)


def error_name(error: BaseException) -> str:
    """The kind of a failure for the log (never its message: it may quote the user's text),
    with the driver's own error when storage wrapped one: "StorageError (OperationalError)"."""
    cause = error.__cause__
    if isinstance(error, StorageError) and cause is not None:
        return f"{type(error).__name__} ({type(cause).__name__})"
    return type(error).__name__


def laid_out(replies: list[Outbound]) -> list[Outbound]:
    """The replies with right-to-left lines marked as such (Arabic questions, buttons, messages)."""
    return [_laid_out(reply) for reply in replies]


def _laid_out(reply: Outbound) -> Outbound:
    text = rtl(reply.text)
    buttons = tuple(
        tuple(
            button if (label := rtl(button.label)) == button.label else replace(button, label=label) for button in row
        )
        for row in reply.buttons
    )
    # Most replies have no right-to-left text: keep them as they are rather than copy them.
    if text == reply.text and buttons == reply.buttons:
        return reply
    return replace(reply, text=text, buttons=buttons, rich=_laid_out_rich(reply.rich))


def _laid_out_rich(rich: Rich) -> Rich:
    """Formatted spans with a RIGHT-TO-LEFT MARK where a right-to-left line starts, as :func:`rtl`
    marks the clean text (a line may start inside a span)."""
    if not rich:
        return rich
    marked = [rtl(line) != line for line in "".join(span.text for span in rich).split("\n")]
    line = 0
    spans = []
    for span in rich:
        pieces = span.text.split("\n")
        for index, piece in enumerate(pieces):
            if index > 0:
                line += 1
            starts_line = index > 0 or (span is rich[0])
            if starts_line and marked[line] and not piece.startswith(RLM):
                pieces[index] = RLM + piece
        spans.append(replace(span, text="\n".join(pieces)))
    return tuple(spans)


class Engine:
    """The channel-agnostic core (implements :class:`handlers.messages.MessageProcessor`)."""

    def __init__(
        self,
        database: Database,
        surveys: Mapping[str, Survey],
        pseudonymizer: Pseudonymizer,
        *,
        default_language: str = "en",
        clock: Callable[[], datetime] = utc_now,
        community: Community | None = None,
        catalogue: CatalogueCache | None = None,
        media: MediaStore | None = None,
        holds: ChatHolds | None = None,
    ) -> None:
        """``media`` keeps the files sent as answers (None: media answers are refused); ``holds``
        holds each chat across worker processes until its replies are sent (several workers)."""
        self.database = database
        self.holds = holds
        self.media = media
        self.surveys = surveys
        self.pseudonymizer = pseudonymizer
        self.default_language = default_language
        self.clock = clock
        self.community = community or Community()
        # Reads the catalogue on its own connection, never in an update's transaction.
        self.catalogue = catalogue or CatalogueCache(StoredCatalogue(database))
        self._chat_line = ChatLocks()
        # SQLite has one writer: one transaction at a time. PostgreSQL runs two side by side: one
        # fills while the other waits on its round trips. With four, the batches were smaller and
        # the statements more (p99 265 ms against 171 in bench.load --survey numeric, CPU 10 % up).
        self._updates: GroupCommit[Inbound, list[Outbound] | None] = GroupCommit(
            self._run_batch, max_batch=MAX_BATCH, parallel=1 if database.is_sqlite else 2
        )

    async def handle(self, inbound: Inbound) -> list[Outbound]:
        """Process one inbound; when this returns, its effects are committed."""
        return await self.serve(inbound, as_they_are)

    async def serve(self, inbound: Inbound, deliver: Callable[[list[Outbound]], Awaitable[Delivered]]) -> Delivered:
        """Process one inbound, then hand its committed replies to ``deliver`` (the adapter
        sending them) before the chat's next update is processed.

        The updates of one chat run one at a time, in the order they reached ``serve``, replies
        included: in this process by a line per chat, whose place is taken before anything is
        awaited; across worker processes on PostgreSQL by ``holds`` (from before the transaction
        until the replies are sent) and an advisory lock in the transaction.
        """
        chat = (inbound.channel, inbound.chat_key)
        async with self._chat_line.hold(chat):
            # One turn of the event loop lets updates that arrived together (one getUpdates
            # batch, one webhook call) take their places in line behind this one.
            await asyncio.sleep(0)
            if self._chat_line.waiting(chat):
                inbound = replace(inbound, newer_waiting=True)
            started = time.perf_counter()
            # Before the transaction: a catalogue index still to be built is waited for here,
            # holding no lock (at once unless a new load has no usable index yet).
            await self.catalogue.ready()
            if inbound.upload is not None and inbound.upload.content and self.media is not None:
                # Likewise a file is checked, scaled and kept before the transaction, not in it.
                inbound = await self._keep_upload(inbound, self.media)
            holding = self.holds.hold(*chat) if self.holds is not None else contextlib.nullcontext()
            async with holding:
                replies = await self._updates.submit(inbound)
                if replies is None:
                    replies = await self._process_alone(inbound)
                metrics.observe_update(inbound.channel, time.perf_counter() - started, len(replies))
                return await deliver(laid_out(replies))

    async def _keep_upload(self, inbound: Inbound, store: MediaStore) -> Inbound:
        """``inbound`` with its file kept (see :mod:`handlers.media_intake`); as it was when that
        cannot be done now (the transaction then does it, or gives the reason)."""
        try:
            async with self.database.reading() as connection:
                return await keep_before(Repositories(connection), self.surveys, store, inbound)
        except Exception as error:  # the update still runs: its transaction keeps the file or says why not
            log.warning("could not keep a file before its update on %s: %s", inbound.channel, error_name(error))
            return inbound

    async def _run_batch(self, inbounds: Sequence[Inbound]) -> Sequence[list[Outbound] | None]:
        """The replies to each inbound, committed together; None for an inbound that must run
        alone (its chat is busy in another worker, or the shared transaction failed)."""
        if len(inbounds) == 1 and self.database.is_sqlite:
            # Nobody else can hold the chat: the batch's own error handling is all it needs.
            return [await self._process_alone(inbounds[0])]
        try:
            return await self._process_together(inbounds)
        except Exception as error:
            # Rolled back: nothing of the batch is stored. Each update gets its own transaction,
            # and the one that failed answers for itself.
            log.warning(
                "a transaction of %d updates failed (%s); handling them one by one", len(inbounds), error_name(error)
            )
            return [None] * len(inbounds)

    async def _process_together(self, inbounds: Sequence[Inbound]) -> list[list[Outbound] | None]:
        """Handle the inbounds in one transaction; None for an inbound left for later (its chat
        is busy in another worker process)."""
        results: list[list[Outbound] | None] = []
        async with self.database.transaction(quick=True) as connection:
            chats = [(inbound.channel, inbound.chat_key) for inbound in inbounds]
            ours = await try_serialise_chats(connection, chats)
            claims = await self._claim_together(
                connection, [i for i, taken in zip(inbounds, ours, strict=True) if taken]
            )
            # The batch's survey steps (saves, and the responses starts create) written together
            # (one statement on PostgreSQL, one executemany per table on SQLite), stored as if each
            # were written in order, before any other statement.
            async with survey_steps_together(connection):
                for inbound, taken in zip(inbounds, ours, strict=True):
                    claim = claims.get(id(inbound))
                    results.append(await self._process_in(connection, inbound, claim) if taken else None)
        return results

    async def _claim_together(self, connection: AsyncConnection, inbounds: Sequence[Inbound]) -> dict[int, Claimed]:
        """The claims, touches and conversation reads of the batch's updates together (one
        statement on PostgreSQL, one round trip instead of one per update; three on SQLite
        instead of three per update), by ``id`` of the inbound; none when only one update is
        ours, or when two could be the same person (the same user, or phone numbers linking
        their contacts): an update must see what the earlier ones of its person wrote, as when
        each is claimed in turn."""
        if len(inbounds) < 2:
            return {}
        people = [(inbound.channel, inbound.user_key) for inbound in inbounds]
        phones = [phone for channel, user in people if (phone := phone_key_of(channel, user)) is not None]
        if len(set(people)) < len(people) or len(set(phones)) < len(phones):
            return {}
        claimed = await Repositories(connection).contacts.claim_and_touch_many([self._arrival(i) for i in inbounds])
        return {id(inbound): claim for inbound, claim in zip(inbounds, claimed, strict=True)}

    def _arrival(self, inbound: Inbound) -> Arrival:
        """The update to claim and its contact to touch, once its chat is ours: the processing time
        then taken orders the updates of the chat."""
        now = inbound.received_at or self.clock()
        return Arrival(
            channel=inbound.channel,
            update_key=inbound.update_key,
            processed_at=self.clock(),
            user_key=inbound.user_key,
            chat_key=inbound.chat_key,
            language=supported_language(inbound.language_hint),
            now=now,
        )

    async def _process_alone(self, inbound: Inbound) -> list[Outbound]:
        """Handle one inbound in its own transaction; a failure answers "please try again"."""
        try:
            async with self.database.transaction(quick=True) as connection:
                # Other worker processes may hold an update of this chat (PostgreSQL only).
                await serialise_chat(connection, inbound.channel, inbound.chat_key)
                return await self._process_in(connection, inbound)
        except (StorageError, SQLAlchemyError, OSError) as error:
            # Nothing was committed, so the user can simply send the answer again.
            log.error("storage failed while handling an update on %s: %s", inbound.channel, error_name(error))
        except Exception:
            # A bug: the transaction was rolled back. The traceback, never the inbound (it
            # holds the user's text), goes to the log.
            log.exception("error while handling an update on %s", inbound.channel)
        return self._try_again(inbound)

    def _try_again(self, inbound: Inbound) -> list[Outbound]:
        texts = Texts(supported_language(inbound.language_hint) or self.default_language)
        return [Outbound(text=texts("try_again"))]

    async def _process_in(
        self, connection: AsyncConnection, inbound: Inbound, claimed: Claimed | None = None
    ) -> list[Outbound]:
        """Handle one inbound inside ``connection``'s transaction, whose chat lock is held;
        ``claimed``: its claim, made with the batch's (:meth:`_claim_together`)."""
        repos = Repositories(connection)
        if claimed is not None:
            arrival = claimed.arrival
            first_delivery, contact = await repos.contacts.take_claimed(claimed)
        else:
            arrival = self._arrival(inbound)
            first_delivery, contact = await repos.contacts.claim_arrival(arrival)
        now = arrival.now
        ctx = Context(
            inbound=inbound,
            contact=contact,
            repos=repos,
            surveys=surveys_now(self.surveys),
            pseudonymize=self.pseudonymizer,
            now=now,
            texts=Texts(contact.language or self.default_language),
            community=self.community,
            catalogue=self.catalogue,
            media=self.media,
        )
        if not first_delivery:
            # Out of order: newer updates of this chat were answered since, or one is waiting (its
            # reply will show where the person is; repeating the question first would show one
            # that the newer update may answer, and the person would answer it again); stay quiet.
            if inbound.newer_waiting or await repos.updates.superseded(
                inbound.channel, inbound.update_key, inbound.chat_key
            ):
                log.info("late copy of an update on %s: newer ones were handled, no reply", inbound.channel)
                return []
            log.info("redelivered update on %s: repeating the current prompt", inbound.channel)
            return await router.repeat_current(ctx)
        replies = await router.route(ctx)
        # The conversation's language after the update: a /language choice or the onboarding's
        # language question changes it (recorded by the repository, so no second read of the contact).
        language = repos.contacts.languages_set.get(contact.id, contact.language) or self.default_language
        return _in_language(replies, language)


def _in_language(replies: list[Outbound], language: str) -> list[Outbound]:
    """The replies marked with the conversation's language (those a handler marked keep theirs)."""
    return [reply if reply.language is not None else _with_language(reply, language) for reply in replies]


def _with_language(reply: Outbound, language: str) -> Outbound:
    """``replace(reply, language=language)``, made by copying the fields: every reply goes
    through here, and ``replace`` (which runs ``__init__`` again, field by field) cost several
    times as much. Outbound has no ``__post_init__`` that a copy would skip."""
    marked = object.__new__(Outbound)
    marked.__dict__.update(reply.__dict__)
    marked.__dict__["language"] = language
    return marked


async def load_pseudonymizer(
    database: Database, configured_key: str | None, key_file: Path | None = None
) -> Pseudonymizer:
    """The pseudonymizer of ``configured_key`` (the environment's), else of the key file's key
    (generated there on first start); never a key kept in the database (see :mod:`bot.keys`)."""
    return await keys.load_pseudonymizer(database, keys.KeySource({keys.PSEUDONYM_KEY: configured_key}, key_file))
