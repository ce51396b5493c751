"""Simulated respondents for the shipped user satisfaction survey (``office/surveys/usat2026.yaml``).

Each respondent has a deterministic plan: what to answer to each question, with wrong inputs
mixed in first for some questions, and the value the export must then hold. A respondent acts
on what its chat shows, like a person: it answers the newest question on screen. That makes it
usable across a bot restart, and by the end-to-end tests and the benchmark alike.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from surveys.answers import join_selection
from surveys.model import Survey
from testkit.fakes.telegram import ChatMessage, FakeUser

PROGRESS = re.compile(r"^(\d+)/(\d+) [·-] ")  # "-" on SMS (GSM-7, bot/channels/sms/rendering.py)
OUTRO_START = "Thank you! Your answers have been recorded."
#: What ``/start usat2026`` answers once the survey is complete. A person whose last answer was
#: stored just before a crash, and whose closing message was lost with it, reads this instead of
#: the closing message when they ask where they are: for them the survey is over all the same.
ALREADY_ANSWERED = "You have already answered"


def is_end(message: ChatMessage) -> bool:
    """The closing message, or the answer to a fresh start of a survey already complete."""
    return (message.text or "").startswith((OUTRO_START, ALREADY_ANSWERED))


@dataclass(frozen=True)
class Act:
    """One thing a person does: type a text, press a button, or tick buttons then press Done."""

    kind: str  # "type" | "press" | "tick"
    value: str | tuple[str, ...]


@dataclass(frozen=True)
class PlannedAnswer:
    attempts: tuple[Act, ...]  # wrong inputs first, the right one last
    expected: str  # the value the export must hold


#: Tries beyond its plan after which a respondent is stuck (retries after lost replies stay far below).
STUCK_AFTER = 25


def plan_for(index: int, survey: Survey) -> dict[str, PlannedAnswer]:
    """The answers of respondent ``index``: varied across respondents, wrong inputs included."""
    q = survey.question

    def label(name: str, choice_index: int) -> str:
        return q(name).choices[choice_index].label.in_language("en", "en")

    def name_of(name: str, choice_index: int) -> str:
        return q(name).choices[choice_index].name

    i = index
    plan: dict[str, PlannedAnswer] = {}
    plan["user_group"] = PlannedAnswer((Act("press", label("user_group", i % 9)),), name_of("user_group", i % 9))
    frequency = (Act("type", "sometimes"),) if i % 3 == 0 else ()
    plan["frequency"] = PlannedAnswer((*frequency, Act("type", str(i % 5 + 1))), name_of("frequency", i % 5))
    ticks = (label("purposes", i % 5), label("purposes", (i + 2) % 5))
    purposes_wrong = (Act("tick", ()),) if i % 4 == 0 else ()
    plan["purposes"] = PlannedAnswer(
        (*purposes_wrong, Act("tick", ticks)),
        join_selection(q("purposes"), [name_of("purposes", i % 5), name_of("purposes", (i + 2) % 5)]),
    )
    topics_wrong = (Act("type", "99"),) if i % 5 == 0 else ()
    plan["topics"] = PlannedAnswer(
        (*topics_wrong, Act("type", f"{i % 6 + 1}, {label('topics', (i + 1) % 6)}")),
        join_selection(q("topics"), [name_of("topics", i % 6), name_of("topics", (i + 1) % 6)]),
    )
    for offset, name in enumerate(
        ("sat_relevance", "sat_timeliness", "sat_accessibility", "sat_clarity", "sat_overall")
    ):
        score = str((i + offset) % 5 + 1)
        wrong = (Act("type", "0"),) if i % 2 == 0 else ()
        plan[name] = PlannedAnswer((*wrong, Act("press", score)), score)
    releases_wrong = (Act("type", "many"),) if i % 2 == 1 else ()
    releases = str(i * 3 % 1001)  # the question takes 0-1000: respondent 334 and on must stay in range
    plan["releases_used"] = PlannedAnswer((*releases_wrong, Act("type", releases)), releases)
    if i % 3 == 0:
        plan["last_use"] = PlannedAnswer((Act("press", "Skip"),), "")
    else:
        day = i % 28 + 1
        date_wrong = (Act("type", "2026-13-45"),) if i % 4 == 1 else ()
        plan["last_use"] = PlannedAnswer((*date_wrong, Act("type", f"{day:02d}/03/2026")), f"2026-03-{day:02d}")
    if i % 4 == 0:
        plan["comments"] = PlannedAnswer((Act("type", "skip"),), "")
    else:
        comment = f"Comment {i}: more regional data, please"
        plan["comments"] = PlannedAnswer((Act("type", comment),), comment)
    return plan


def questions_done(plan: dict[str, PlannedAnswer], attempts: dict[str, int]) -> int:
    """How many questions of ``plan`` got their last planned attempt (the one the bot accepts)."""
    return sum(1 for name, planned in plan.items() if attempts.get(name, 0) >= len(planned.attempts))


def is_question(message: ChatMessage) -> bool:
    return bool(PROGRESS.match(message.text or ""))


def is_progress_or_end(message: ChatMessage) -> bool:
    return is_question(message) or is_end(message)


@dataclass
class Respondent:
    """Answers the survey through a :class:`FakeUser`, one step at a time."""

    user: FakeUser
    index: int
    survey: Survey
    plan: dict[str, PlannedAnswer] = field(init=False)
    attempts: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    answers_given: int = 0
    timeout: float = 30.0

    def __post_init__(self) -> None:
        self.plan = plan_for(self.index, self.survey)
        labels = {q.label.in_language("en", "en"): q.name for q in self.survey.data_questions}
        self._by_label = labels

    @property
    def expected(self) -> dict[str, str]:
        return {name: planned.expected for name, planned in self.plan.items()}

    def current_question(self) -> ChatMessage | None:
        """The newest question on screen, if the newest progress-or-end message is a question."""
        for message in reversed(self.user.bot_messages):
            if is_progress_or_end(message):
                return message if is_question(message) else None
        return None

    @property
    def finished(self) -> bool:
        return any(is_end(m) for m in self.user.bot_messages)

    async def _wait(self, acted_on: ChatMessage | None = None) -> ChatMessage:
        """The bot's answer: a question or the end, in ``acted_on`` (edited) or in a newer message.

        A late edit of an older copy of a question (after a lost reply and a fresh ``/start``) is
        not the answer to what the respondent just did, so it is not taken as one.
        """
        messages = self.user.bot_messages
        position = next((i for i, m in enumerate(messages) if m is acted_on), 0)
        older = {id(m) for m in messages[:position]}
        return await self.user.wait_for_message(
            lambda m: is_progress_or_end(m) and id(m) not in older, timeout=self.timeout
        )

    def _look(self, message: ChatMessage | None, toggle: str | None = None, *, moves_on: bool = False) -> None:
        """Note the screen just before acting on ``message`` (None: on no message): pressing the
        tick button ``toggle`` if given, or giving an answer that should move on to another
        question (``moves_on``). Subclasses compare the screen against it to tell the bot's
        answer from what was there before."""

    def _refreshed(self, message: ChatMessage) -> ChatMessage:
        """The question as it now shows, after a tick on ``message``.

        Telegram edits it in place; WhatsApp, or a bot restarted after a lost reply, sends a new
        copy of the same question: the newest copy is then the one with the current ticks.
        """
        newest = self.current_question()
        same = newest is not None and first_line(newest) == first_line(message)
        return newest if same and newest is not None else message

    async def open(self) -> None:
        """Start (or resume) the survey through its deep link."""
        self._look(None)
        await self.user.send_text("/start usat2026")
        await self._wait()

    def _next(self) -> tuple[ChatMessage, str, Act]:
        message = self.current_question()
        assert message is not None, "no question on screen"
        question_label = PROGRESS.sub("", message.text or "").split("\n", 1)[0]
        name = self._by_label[question_label]
        planned = self.plan[name]
        attempt = self.attempts.get(name, 0)
        if attempt >= len(planned.attempts) + STUCK_AFTER:
            # A plan the bot can never accept would otherwise loop until the run's timeout.
            raise AssertionError(f"respondent {self.index}: {name} refused {attempt} times")
        return message, name, planned.attempts[min(attempt, len(planned.attempts) - 1)]

    async def step(self) -> None:
        """Answer the question on screen with the next planned attempt and wait for the bot."""
        message, name, act = self._next()
        # The planned attempt that the bot should accept moves on to another question.
        moves_on = self.attempts.get(name, 0) >= len(self.plan[name].attempts) - 1
        started = time.perf_counter()
        if act.kind == "type":
            assert isinstance(act.value, str)
            self._look(message, moves_on=moves_on)
            await self.user.send_text(act.value)
        elif act.kind == "press":
            assert isinstance(act.value, str)
            self._look(message, moves_on=moves_on)
            await self.user.press(button_data(message, act.value), message.message_id)
        else:
            # Like a person: look at the ticks on screen and change only what differs.
            for _ in range(len(message.buttons) + 1):
                toggle = _tick_to_change(message, act.value)
                if toggle is None:
                    break
                self._look(message, toggle)
                await self.user.press(toggle, message.message_id)
                await self._wait(message)
                message = self._refreshed(message)
                self.latencies.append(time.perf_counter() - started)
                started = time.perf_counter()
            self._look(message, moves_on=moves_on)
            await self.user.press(button_data(message, "Done"), message.message_id)
        self.attempts[name] = self.attempts.get(name, 0) + 1
        await self._wait(message)
        self.latencies.append(time.perf_counter() - started)
        self.answers_given += 1

    async def fire_next(self) -> None:
        """Send the next physical action (a text, a press, one tick) without waiting for a reply."""
        message, name, act = self._next()
        if act.kind == "type":
            assert isinstance(act.value, str)
            self.attempts[name] = self.attempts.get(name, 0) + 1
            await self.user.send_text(act.value)
        elif act.kind == "press":
            assert isinstance(act.value, str)
            self.attempts[name] = self.attempts.get(name, 0) + 1
            await self.user.press(button_data(message, act.value), message.message_id)
        else:
            toggle = _tick_to_change(message, act.value) or button_data(message, "Done")
            await self.user.press(toggle, message.message_id)

    async def answer_until(self, questions_answered: int | None = None) -> None:
        """Keep answering until the survey ends (or ``questions_answered`` questions are done)."""
        while not self.finished:
            if questions_answered is not None and questions_done(self.plan, self.attempts) >= questions_answered:
                return
            await self.step()


def first_line(message: ChatMessage) -> str:
    return (message.text or "").split("\n", 1)[0]


def button_data(message: ChatMessage, label: str) -> str:
    """The callback data of the button whose label is ``label`` (ticks and icons aside)."""
    for row in message.buttons:
        for shown, data in row:
            text = shown.strip("\u200e\u200f")  # direction marks of right-to-left languages
            if data is not None and (text == label or text.endswith(f" {label}") or text.startswith(f"{label} ")):
                return data
    raise LookupError(f"no button {label!r} in {message.button_texts}")


def _tick_to_change(message: ChatMessage, wanted: str | tuple[str, ...]) -> str | None:
    """The callback data of a tick button whose state differs from ``wanted``, if any."""
    for row in message.buttons:
        for text, data in row:
            if data is None or not (text.startswith("✅ ") or text.startswith("◻️ ")):
                continue
            label = text.split(" ", 1)[1]
            if text.startswith("✅ ") != (label in wanted):
                return data
    return None
