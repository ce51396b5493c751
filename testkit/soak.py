"""The soak harness: ``kill -9`` of the bot at random moments while users answer surveys and look
up figures and a broadcast goes out, with a flaky Telegram; then count what was lost or duplicated.
``make soak`` runs it through bench/soak.py, tests/e2e/test_fault_soak.py a short one.

The bot is a real ``baraza run`` child process talking to the fake Bot API (which fails about
``--fault-rate`` of the calls with a 429, a 5xx, a timeout or a dropped connection). A chaos loop
kills it with SIGKILL at a random moment of its life and starts it again, ``--kills`` times.

Definitions (what the counts mean):

- an answer is **acknowledged** when the respondent saw the bot's next question (or the closing
  message) after giving it: the engine replies only after the commit, so the answer was stored;
- **lost**: an acknowledged answer the database does not hold with the planned value;
- **duplicated**: a second response row for one respondent and survey (answers are unique per
  response and question by a constraint, so a repeat can only show up as a second response);
- a user **could not continue** when, after asking where they were (``/start usat2026``), the bot
  showed an earlier question than the last acknowledged one, or they never finished;
- a lookup user asks for a figure, and asks again when no answer comes; **unanswered** lookups are
  those that got no answer after 5 tries;
- broadcast deliveries are **duplicated** when a recipient's chat holds the notice twice, and **not
  completed** when a row is not final (pending, sending), failed, or says ``sent`` but the chat has
  nothing. Rows marked ``unknown`` were in flight at a kill (or got a timeout): at-most-once means
  they are never resent, so they are counted apart (with how many did arrive after all).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from handlers.notices import load_notice_text
from storage.broadcasts import DONE, SENT, UNKNOWN, BroadcastRepository
from storage.database import Database
from storage.repositories import answers, contacts, responses
from surveys.loader import load_survey_directory
from surveys.model import Survey
from testkit.broadcasts import create_broadcast, delivery_rows
from testkit.fakes.indicators import load_sample
from testkit.fakes.survey_respondent import ALREADY_ANSWERED, PROGRESS, Respondent, is_progress_or_end
from testkit.fakes.telegram import ChatMessage, FakeTelegramServer, FakeUser, RandomFaults
from testkit.register import Person, add_people
from testkit.telegram_harness import FORMS, BotProcess

SURVEY = "usat2026"
#: Longer than a held ("timeout") call of the fake Bot API, so a late reply is seen before acting.
REPLY_WAIT = 9.0
HELD_SECONDS = 5.5
LOOKUP = "/data unemplyment rate womn northern"
LOOKUP_ANSWER = "Unemployment rate"
LOOKUP_TRIES = 5
GIVE_UP_AFTER = 20  # unanswered "where am I?" before a user gives up
NOTICE = """title: Soak notice
default_language: en
text:
  en: The quarterly labour force figures are out.
audience: {topics: [labour]}
"""


@dataclass(frozen=True)
class SoakConfig:
    kills: int = 50
    survey_users: int = 12  # concurrent respondents; a finished one is replaced by a new person
    lookup_users: int = 4
    broadcast_contacts: int = 600
    broadcast_rate: float = 8.0  # messages a second: the broadcast spans most of the run
    fault_rate: float = 0.05
    uptime: tuple[float, float] = (0.3, 2.0)  # seconds the bot lives between kills
    seed: int = 20261125


@dataclass
class SoakResult:
    backend: str
    kills: int = 0
    respondents: int = 0
    finished: int = 0
    answers_acknowledged: int = 0
    answers_lost: int = 0
    answers_duplicated: int = 0
    could_not_continue: int = 0
    recoveries: int = 0  # times a user got no reply and asked where they were
    lookups_answered: int = 0
    lookups_unanswered: int = 0
    lookup_retries: int = 0
    broadcast_recipients: int = 0
    broadcast_sent: int = 0
    broadcast_unknown: int = 0
    broadcast_unknown_arrived: int = 0
    broadcast_duplicated: int = 0
    broadcast_not_completed: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        return (
            self.answers_lost == 0
            and self.answers_duplicated == 0
            and self.could_not_continue == 0
            and self.lookups_unanswered == 0
            and self.broadcast_duplicated == 0
            and self.broadcast_not_completed == 0
        )

    def report(self) -> str:
        faults = ", ".join(f"{kind} {count}" for kind, count in sorted(self.faults.items())) or "none"
        return "\n".join(
            [
                f"soak on {self.backend}: {self.kills} kill -9 in {self.seconds:.0f} s; Bot API faults: {faults}",
                f"  surveys: {self.respondents} respondents ({self.finished} finished), "
                f"{self.answers_acknowledged} acknowledged answers: lost {self.answers_lost}, "
                f"duplicated {self.answers_duplicated}; could not continue {self.could_not_continue} "
                f"(asked where they were {self.recoveries} times)",
                f"  lookups: {self.lookups_answered} answered, unanswered {self.lookups_unanswered} "
                f"(asked again {self.lookup_retries} times)",
                f"  broadcast: {self.broadcast_recipients} recipients, {self.broadcast_sent} sent, "
                f"duplicated {self.broadcast_duplicated}, not completed {self.broadcast_not_completed}; "
                f"unknown {self.broadcast_unknown} (in flight at a kill or timed out, never resent; "
                f"{self.broadcast_unknown_arrived} of them arrived)",
            ]
        )


def position(survey: Survey, message: ChatMessage | None) -> int:
    """How far into the survey a message is: the 1-based question number, or past the end."""
    if message is None:
        return len(survey.data_questions) + 1
    match = PROGRESS.match(message.text or "")
    return int(match.group(1)) if match else len(survey.data_questions) + 1


@dataclass
class _Run:
    survey: Survey
    config: SoakConfig
    result: SoakResult
    chance: random.Random
    respondents: list[Respondent] = field(default_factory=list)
    acknowledged: dict[int, int] = field(default_factory=dict)  # respondent index → position seen
    stop_new: asyncio.Event = field(default_factory=asyncio.Event)
    told_complete: set[int] = field(default_factory=set)  # told "already answered" on asking
    next_index: int = 0
    started: float = field(default_factory=time.monotonic)
    #: (time.monotonic(), what happened to the bot process): kills and restarts, for transcripts.
    bot_events: list[tuple[float, str]] = field(default_factory=list)

    def new_respondent(self, server: FakeTelegramServer) -> Respondent:
        index = self.next_index
        self.next_index += 1
        respondent = Respondent(server.user(700_000 + index, first_name=f"S{index}"), index, self.survey)
        respondent.timeout = REPLY_WAIT
        self.respondents.append(respondent)
        return respondent

    def done(self, respondent: Respondent) -> bool:
        return respondent.finished or respondent.index in self.told_complete

    async def open(self, respondent: Respondent) -> None:
        """``/start usat2026``: the current question, or "already answered" when it is complete."""
        await respondent.user.send_text(f"/start {SURVEY}")
        shown = await respondent.user.wait_for_message(is_progress_or_end, REPLY_WAIT)
        if (shown.text or "").startswith(ALREADY_ANSWERED):
            self.told_complete.add(respondent.index)

    def note_acknowledged(self, respondent: Respondent) -> None:
        if self.done(respondent):
            seen = len(self.survey.data_questions) + 1
        else:
            seen = position(self.survey, respondent.current_question())
        self.acknowledged[respondent.index] = max(self.acknowledged.get(respondent.index, 0), seen)

    async def where_am_i(self, respondent: Respondent, *, recovering: bool = True) -> bool:
        """No reply came: ask the bot where we are, then check it is no earlier. ``False`` when the
        bot never answers (the user gives up: counted as could not continue)."""
        for ask in range(GIVE_UP_AFTER):
            if recovering or ask > 0:
                self.result.recoveries += 1
            try:
                await self.open(respondent)
                break
            except TimeoutError:
                continue
        else:
            return False
        shown = position(self.survey, None if self.done(respondent) else respondent.current_question())
        if shown < self.acknowledged.get(respondent.index, 0):
            self.result.could_not_continue += 1
            print(
                f"  respondent {respondent.index} was sent back from {self.acknowledged[respondent.index]} to {shown}"
            )
        return True

    async def answer_survey(self, respondent: Respondent) -> None:
        if not await self.where_am_i(respondent, recovering=False):  # the first "/start usat2026"
            return
        self.note_acknowledged(respondent)
        while not self.done(respondent):
            try:
                await respondent.step()
            except TimeoutError:
                if not await self.where_am_i(respondent):
                    return
            self.note_acknowledged(respondent)
            await asyncio.sleep(self.chance.uniform(0, 0.3))  # a person reads before answering

    async def survey_slot(self, server: FakeTelegramServer) -> None:
        while not self.stop_new.is_set():
            await self.answer_survey(self.new_respondent(server))

    async def lookup_user(self, user: FakeUser) -> None:
        while not self.stop_new.is_set():
            for _attempt in range(LOOKUP_TRIES):
                await user.send_text(LOOKUP)
                try:
                    await user.wait_for_message(lambda m: (m.text or "").startswith(LOOKUP_ANSWER), REPLY_WAIT)
                except TimeoutError:
                    self.result.lookup_retries += 1
                    continue
                self.result.lookups_answered += 1
                break
            else:
                self.result.lookups_unanswered += 1
            await asyncio.sleep(self.chance.uniform(0.2, 1.0))


async def prepare(database_url: str, config: SoakConfig) -> tuple[int, list[int]]:
    """Migrate, load the sample catalogue, add the broadcast's audience and store the broadcast."""

    database = Database(database_url)
    try:
        await database.migrate()
        await load_sample(database)
        people = [Person(800_000 + i, "en", "citizen", topics=("labour",)) for i in range(config.broadcast_contacts)]
        await add_people(database, people)
        notice = load_notice_text(NOTICE, "soak.yaml", base_dir=Path("."))
        broadcast_id, _ = await create_broadcast(database, notice, created_by="soak")
    finally:
        await database.dispose()
    return broadcast_id, [p.user_id for p in people]


def _ticks(markup: object) -> str:
    """The ticked labels of an inline keyboard (select-multiple questions), as ``[a, b]``."""
    if not isinstance(markup, dict):
        return ""
    rows = markup.get("inline_keyboard") or []
    ticked = [str(b.get("text", ""))[2:] for row in rows for b in row if str(b.get("text", "")).startswith("✅")]
    boxes = any(str(b.get("text", "")).startswith(("✅", "◻")) for row in rows for b in row)
    return f" ticks={ticked}" if boxes else ""


def transcript(run: _Run, server: FakeTelegramServer, respondent: Respondent) -> list[str]:
    """What happened in a respondent's chat, in time order: the user's inputs (update id, when
    sent, when the bot first fetched them and how often), every Bot API call for the chat (when it
    arrived and took effect, its fault, message id, first line and ticks), kills and restarts."""
    user_id = respondent.user.id
    t0 = run.started
    lines: list[tuple[float, str]] = []
    queries: dict[str, int] = {}
    for update_id, queued, payload in server.queued_updates():
        if "message" in payload and payload["message"].get("from", {}).get("id") == user_id:
            what = f"types {payload['message'].get('text')!r}"
        elif "callback_query" in payload and payload["callback_query"]["from"]["id"] == user_id:
            query = payload["callback_query"]
            queries[str(query["id"])] = update_id
            what = f"presses {query['data']!r} on msg {query['message'].get('message_id')}"
        else:
            continue
        fetched = server.delivered_time(update_id)
        seen = "never fetched" if fetched is None else f"fetched {fetched - t0:.2f} x{server.delivery_count(update_id)}"
        lines.append((queued, f"{queued - t0:8.2f} USER u{update_id} {what} ({seen})"))
    for call in server.calls:
        params = call.params
        if call.method == "answerCallbackQuery":
            update_id = queries.get(str(params.get("callback_query_id")))
            if update_id is None:
                continue
            detail = f"for u{update_id}"
        elif params.get("chat_id") == user_id:
            result = (call.response or {}).get("result")
            message_id = params.get("message_id") or (result.get("message_id") if isinstance(result, dict) else None)
            first = str(params.get("text") or params.get("caption") or "").split("\n", 1)[0][:60]
            detail = f"msg {message_id} {first!r}{_ticks(params.get('reply_markup'))}"
        else:
            continue
        finished = f"{call.finished - t0:.2f}" if call.finished is not None else "never"
        outcome = f"fault {call.fault}" if call.fault else f"{call.status}"
        if call.response is not None and not call.ok:
            outcome += f" {str(call.response.get('description'))[:40]!r}"
        lines.append((call.time, f"{call.time - t0:8.2f} BOT  {call.method} {detail} -> {outcome}, done {finished}"))
    lines += [(at, f"{at - t0:8.2f} ---- {what}") for at, what in run.bot_events]
    first_own = min((at for at, text in lines if " USER " in text or " BOT " in text), default=t0)
    return [text for at, text in sorted(lines, key=lambda item: item[0]) if at >= first_own - 1]


async def count_answers(
    database_url: str, run: _Run, result: SoakResult, server: FakeTelegramServer | None = None
) -> None:
    """Compare every acknowledged answer with what the database holds."""
    questions = [q.name for q in run.survey.data_questions]
    database = Database(database_url)
    try:
        async with database.transaction() as connection:
            rows = await connection.execute(
                select(contacts.c.user_key, responses.c.id, answers.c.question, answers.c.value)
                .select_from(
                    contacts.join(responses, responses.c.contact_id == contacts.c.id).outerjoin(
                        answers, answers.c.response_id == responses.c.id
                    )
                )
                .where(responses.c.survey_id == SURVEY)
            )
            stored: dict[str, dict[str, dict[str, str | None]]] = {}
            for user_key, response_id, question, value in rows:
                held = stored.setdefault(str(user_key), {}).setdefault(str(response_id), {})
                if question is not None:
                    held[str(question)] = value
    finally:
        await database.dispose()
    for respondent in run.respondents:
        held_responses = stored.get(str(respondent.user.id), {})
        result.answers_duplicated += max(0, len(held_responses) - 1)
        held = next(iter(held_responses.values()), {})
        seen = run.acknowledged.get(respondent.index, 0)
        # Questions before the one on screen were answered and acknowledged (the survey has no skips
        # in its data questions' order: question k is asked k-th).
        lost = False
        for name in questions[: max(0, seen - 1)]:
            result.answers_acknowledged += 1
            if name not in held or (held[name] or "") != respondent.expected[name]:
                result.answers_lost += 1
                lost = True
                print(
                    f"  respondent {respondent.index}: {name} holds {held.get(name)!r}, planned {respondent.expected[name]!r}"
                )
        if lost and server is not None:
            print(f"  transcript of respondent {respondent.index} (user {respondent.user.id}), seconds into the soak:")
            for line in transcript(run, server, respondent):
                print(f"    {line}")
        if run.done(respondent):
            result.finished += 1
        else:
            result.could_not_continue += 1
    result.respondents = len(run.respondents)


async def count_broadcast(
    database_url: str, broadcast_id: int, recipients: list[int], server: FakeTelegramServer, result: SoakResult
) -> None:

    database = Database(database_url)
    try:
        deadline = time.monotonic() + 300
        while True:
            async with database.transaction() as connection:
                summary = await BroadcastRepository(connection).summary(broadcast_id)
            assert summary is not None
            if (summary.outstanding == 0 and summary.status == DONE) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        rows = await delivery_rows(database, broadcast_id)
    finally:
        await database.dispose()
    received = {
        user_id: len(server.users[user_id].bot_messages) if user_id in server.users else 0 for user_id in recipients
    }
    result.broadcast_recipients = len(rows)
    for user_id in recipients:
        row = rows.get(user_id)
        got = received[user_id]
        if got > 1:
            result.broadcast_duplicated += 1
        if row is None:
            result.broadcast_not_completed += 1
        elif row.status == UNKNOWN:
            result.broadcast_unknown += 1
            result.broadcast_unknown_arrived += min(got, 1)
        elif row.status == SENT and got == 1:
            result.broadcast_sent += 1
        else:
            result.broadcast_not_completed += 1


async def soak(database_url: str, workdir: Path, config: SoakConfig, backend: str) -> SoakResult:
    """Run the soak on one database and return the counts (see the module's definitions)."""
    survey = load_survey_directory(FORMS)[SURVEY]
    result = SoakResult(backend)
    chance = random.Random(config.seed)
    run = _Run(survey, config, result, chance)
    broadcast_id, recipients = await prepare(database_url, config)
    started = time.monotonic()
    faults = RandomFaults(config.fault_rate, timeout_seconds=HELD_SECONDS, seed=config.seed)
    run.started = started
    async with FakeTelegramServer() as server:
        for user_id in recipients:
            server.user(user_id)
        bot = BotProcess(server, database_url, workdir)
        bot.config.write_text(
            bot.config.read_text() + f"broadcast: {{messages_per_second: {config.broadcast_rate}, concurrency: 4}}\n"
        )
        await bot.start()
        server.inject_random_faults(faults)
        lookups = [server.user(750_000 + i, first_name=f"L{i}") for i in range(config.lookup_users)]
        users = [asyncio.create_task(run.survey_slot(server)) for _ in range(config.survey_users)]
        users += [asyncio.create_task(run.lookup_user(user)) for user in lookups]
        try:
            for kill in range(config.kills):
                await asyncio.sleep(chance.uniform(*config.uptime))
                for task in users:
                    if task.done():
                        task.result()  # a failure of the simulation itself stops the soak
                bot.kill()
                run.bot_events.append((time.monotonic(), "bot killed"))
                result.kills += 1
                await bot.start()
                run.bot_events.append((time.monotonic(), "bot restarted (polling)"))
                if (kill + 1) % 10 == 0:
                    print(f"  {backend}: {kill + 1} kills, {len(run.respondents)} respondents so far", flush=True)
            run.stop_new.set()
            await asyncio.gather(*users)
            await count_broadcast(database_url, broadcast_id, recipients, server, result)
        finally:
            for task in users:
                task.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.gather(*users, return_exceptions=True)
            await bot.stop()
        result.faults = Counter(faults.fired)
        await count_answers(database_url, run, result, server)
    result.seconds = time.monotonic() - started
    return result
