"""Simulated respondents of the shipped survey over USSD: the plans of
:mod:`testkit.fakes.survey_respondent` (wrong inputs included) carried out on a feature phone.

Like a person, a respondent reads every page of a screen ("9 More" until the last), finds the
question, and answers it: a choice by going back ("0 Back") to the page that shows it and typing
its number there, a tick the same way (one tick a screen) and then Done, a typed answer by
typing it. What the Telegram respondent types as a choice's number in the whole list, this one
picks from the menu as shown, as the number on a USSD page is the number on that page.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from surveys.model import Survey
from testkit.fakes.survey_respondent import (
    OUTRO_START,
    STUCK_AFTER,
    Act,
    PlannedAnswer,
    plan_for,
    questions_done,
)
from testkit.fakes.ussd import FakePhone, UssdScreen

MORE, BACK = "9 More", "0 Back"
TICKED, UNTICKED = "[x] ", "[ ] "


@dataclass(frozen=True)
class MenuItem:
    page: int
    number: str
    label: str


@dataclass
class View:
    """Every page of the screen on the phone, read through; the phone is on the last one."""

    pages: list[UssdScreen]

    @property
    def text(self) -> str:
        """The screen's text without numbered items and page keys, lines joined by spaces."""
        lines = [line for page in self.pages for line in page.lines if line not in (MORE, BACK)]
        return " ".join(line for line in lines if not _numbered(line))

    @property
    def items(self) -> list[MenuItem]:
        found = []
        for index, page in enumerate(self.pages):
            for line in page.lines:
                if _numbered(line):
                    number, _, label = line.partition(". ")
                    found.append(MenuItem(index, number, label))
        return found


def _numbered(line: str) -> bool:
    number, dot, _ = line.partition(". ")
    return bool(dot) and number.isdigit() and len(number) <= 2


def _same(shown: str, label: str) -> bool:
    shown = shown.removeprefix(TICKED).removeprefix(UNTICKED)
    return shown == label or shown.startswith(f"{label} ")


@dataclass
class UssdRespondent:
    """Answers the shipped survey on ``phone`` by the plan of respondent ``index``."""

    phone: FakePhone
    index: int
    survey: Survey
    plan: dict[str, PlannedAnswer] = field(init=False)
    attempts: dict[str, int] = field(default_factory=dict)
    page: int = 0

    def __post_init__(self) -> None:
        self.plan = plan_for(self.index, self.survey)

    @property
    def expected(self) -> dict[str, str]:
        return {name: planned.expected for name, planned in self.plan.items()}

    @property
    def finished(self) -> bool:
        return any(screen.ended and OUTRO_START in screen.text for screen in self.phone.screens)

    async def dial(self) -> UssdScreen:
        self.page = 0
        return await self.phone.dial()

    async def _type(self, typed: str) -> UssdScreen:
        screen = await self.phone.reply(typed)
        self.page = 0  # an answer brings a new screen, shown from its first page
        return screen

    async def read(self) -> View:
        """Turn the pages of the screen on the phone to the last, reading each."""
        pages = [self.phone.screen]
        while not pages[-1].ended and MORE in pages[-1].lines:
            pages.append(await self.phone.reply("9"))
            self.page += 1
        return View(pages)

    async def go_to(self, page: int) -> None:
        while self.page > page:
            await self.phone.reply("0")
            self.page -= 1

    def question_of(self, view: View) -> str:
        for question in self.survey.data_questions:
            if f" - {question.label.in_language('en', 'en')}" in view.text:
                return question.name
        raise AssertionError(f"respondent {self.index}: no question on screen: {view.text!r}")

    async def choose(self, view: View, label: str) -> None:
        """Press the menu item ``label``: back to its page, then its number."""
        item = next((item for item in view.items if _same(item.label, label)), None)
        if item is None:
            raise AssertionError(f"respondent {self.index}: no item {label!r} in {[i.label for i in view.items]}")
        await self.go_to(item.page)
        await self._type(item.number)

    async def act(self, view: View, name: str, act: Act) -> None:
        question = self.survey.question(name)
        if act.kind == "press":
            assert isinstance(act.value, str)
            if view.items:
                await self.choose(view, act.value)
            else:  # a typed answer: Skip is its word, a scale's point its number
                await self._type("skip" if act.value == "Skip" else act.value)
        elif act.kind == "type":
            assert isinstance(act.value, str)
            number = int(act.value) if act.value.isdigit() else 0
            if view.items and 1 <= number <= len(question.choices):
                # "3" on Telegram is the third choice of the list: on USSD, the item showing it.
                await self.choose(view, question.choices[number - 1].label.in_language("en", "en"))
            else:
                await self._type(act.value)
        else:
            wanted = act.value
            for _ in range(len(question.choices) + 1):
                differs = next(
                    (
                        item
                        for item in view.items
                        if item.label.startswith((TICKED, UNTICKED))
                        and item.label.startswith(TICKED) != (item.label[4:] in wanted)
                    ),
                    None,
                )
                if differs is None:
                    break
                await self.go_to(differs.page)
                await self._type(differs.number)
                view = await self.read()
            await self.choose(view, "Done")

    async def step(self) -> None:
        """Answer the question on the phone's screen with the next planned attempt."""
        view = await self.read()
        name = self.question_of(view)
        planned = self.plan[name]
        attempt = self.attempts.get(name, 0)
        if attempt >= len(planned.attempts) + STUCK_AFTER:
            raise AssertionError(f"respondent {self.index}: {name} refused {attempt} times")
        self.attempts[name] = attempt + 1
        await self.act(view, name, planned.attempts[min(attempt, len(planned.attempts) - 1)])

    async def answer_until(self, questions_answered: int | None = None) -> None:
        """Answer until the survey ends (or ``questions_answered`` questions are done)."""
        while not self.finished:
            if questions_answered is not None and questions_done(self.plan, self.attempts) >= questions_answered:
                return
            await self.step()
