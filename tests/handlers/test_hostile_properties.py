"""Property-based tests (hypothesis) over the payload parser, the survey runner and the router:
whatever arrives, nothing raises, refused input changes nothing, and only asked questions get
answers."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Iterator
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.engine import Engine
from bot.core.sanitise import Sanitiser
from handlers import payloads
from storage.database import Database
from storage.exports.files import export_responses
from storage.pseudonyms import Pseudonymizer
from surveys import runner
from surveys.loader import load_survey_directory
from surveys.model import Survey
from testkit import paths
from testkit.exports import EVERY_RESPONSE_JOINED
from testkit.fakes.engine_user import EngineUser

ROOT = paths.ROOT
SURVEYS: dict[str, Survey] = {
    **load_survey_directory(ROOT / "office" / "surveys"),
    **load_survey_directory(paths.HOSTILE_FORMS),
}

# ---------------------------------------------------------------- payloads

ANY_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=80)
#: Strings shaped like the payloads Baraza issues, with hostile numbers and ops.
PAYLOAD_LIKE = st.builds(
    lambda prefix, parts: ":".join([prefix, *parts]),
    st.sampled_from(["q", "s", "l", "o", "p", "t", "x", "b", "d", "r", "c", "k", ""]),
    st.lists(
        st.one_of(
            st.integers(min_value=-(10**30), max_value=10**30).map(str),
            st.sampled_from(["c", "t", "d", "k", "f", "s", "e", "g", "²", "٣", "", " 1", "1e3", "0x10"]),
            ANY_TEXT,
        ),
        max_size=4,
    ),
)
#: Numbers as a forger might write them: huge, negative, other scripts' digits, superscripts.
NUMBER_LIKE = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.text(alphabet=st.characters(categories=["Nd", "No"]), min_size=1, max_size=4),
)
PROMPT_LIKE = st.builds(
    lambda serial, op, index: f"q:{serial}:{op}" if index is None else f"q:{serial}:{op}:{index}",
    NUMBER_LIKE,
    st.sampled_from([*sorted(payloads.WITH_INDEX | payloads.WITHOUT_INDEX), "z", ""]),
    st.one_of(st.none(), NUMBER_LIKE),
)
PAYLOADS = st.one_of(ANY_TEXT, PAYLOAD_LIKE, PROMPT_LIKE)


@given(PAYLOADS)
def test_parsing_any_payload_never_raises_and_yields_only_issued_shapes(payload: str) -> None:
    survey_id = payloads.survey_of(payload)
    if survey_id is not None:
        assert payload == payloads.start_survey(survey_id)
    parsed = payloads.parse(payload)
    if parsed is None:
        return
    assert survey_id is None, "a payload has one meaning"
    assert parsed.serial >= 0 and (parsed.index is None or parsed.index >= 0)
    assert parsed.op in payloads.WITH_INDEX | payloads.WITHOUT_INDEX
    assert payloads.prompt_press(parsed.serial, parsed.op, parsed.index) == payload.lstrip()


@given(
    st.integers(min_value=0, max_value=10**12),
    st.sampled_from(sorted(payloads.WITH_INDEX | payloads.WITHOUT_INDEX)),
    st.integers(min_value=0, max_value=999),
)
def test_every_issued_prompt_payload_parses_back_to_itself(serial: int, op: str, index: int) -> None:
    chosen = index if op in payloads.WITH_INDEX else None
    payload = payloads.prompt_press(serial, op, chosen)
    assert len(payload.encode()) <= payloads.MAX_PAYLOAD_BYTES
    assert payloads.parse(payload) == payloads.PromptPress(serial, op, chosen)


# ---------------------------------------------------------------- runner


def _actions(survey: Survey) -> st.SearchStrategy[runner.Action]:
    names = sorted({choice.name for question in survey.questions for choice in question.choices})
    choice_names = st.one_of(st.sampled_from(names), ANY_TEXT) if names else ANY_TEXT
    answers = st.one_of(
        ANY_TEXT,
        st.integers(min_value=-5, max_value=20).map(str),
        st.sampled_from(names or ["x"]),
        st.sampled_from(["", " ", "1, 2", "2026-03-31", "31/03/2026", "yes", "skip", "0" * 300]),
    )
    return st.one_of(
        answers.map(runner.TypedAnswer),
        choice_names.map(runner.PickChoice),
        choice_names.map(runner.ToggleChoice),
        st.just(runner.FinishSelection()),
        st.just(runner.SkipQuestion()),
        st.just(runner.UseDefault()),
    )


@pytest.mark.parametrize("survey_id", sorted(SURVEYS))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_the_runner_never_raises_refusals_change_nothing_and_only_asked_questions_are_answered(
    survey_id: str, data: st.DataObject
) -> None:
    survey = SURVEYS[survey_id]
    names = {question.name for question in survey.questions}
    outcome = runner.start(survey, today=date(2026, 5, 1))
    state = outcome.state
    for action in data.draw(st.lists(_actions(survey), max_size=40)):
        if data.draw(st.integers(0, 9)) == 0:
            outcome = runner.back(survey, state)
        else:
            asked = state.current
            outcome = runner.advance(survey, state, action)
            if outcome.problem is not None:
                assert outcome.state == state, "a refused input keeps the question and the answers"
                assert outcome.recorded == ()
            elif outcome.recorded:
                assert outcome.recorded[0][0] == asked, "the answer recorded is for the question asked"
        assert {name for name, _ in outcome.recorded} <= names
        assert set(outcome.state.answers) <= names
        assert outcome.state.current is None or outcome.state.current in names
        state = outcome.state


# ---------------------------------------------------------------- router (through the engine)


@pytest.fixture(scope="module")
def hostile_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[asyncio.AbstractEventLoop, Engine]]:
    """One SQLite database and engine for all examples (hypothesis drives a sync test)."""
    loop = asyncio.new_event_loop()
    database = Database(f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('props') / 'baraza.db'}")
    loop.run_until_complete(database.migrate())
    engine = Engine(database, {"hostile": SURVEYS["hostile"]}, Pseudonymizer("property-test-key-0123456789"))
    yield loop, engine
    loop.run_until_complete(database.dispose())
    loop.close()


_users = iter(range(10**9))

INPUTS = st.lists(
    st.one_of(
        st.tuples(st.just("text"), st.one_of(ANY_TEXT, st.sampled_from(["/survey hostile", "/back", "/skip", "Red"]))),
        st.tuples(st.just("payload"), PAYLOADS),
        st.tuples(st.just("button"), st.integers(0, 5)),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(INPUTS)
def test_any_text_or_press_is_answered_and_stores_only_valid_answers(
    hostile_engine: tuple[asyncio.AbstractEventLoop, Engine], inputs: list[tuple[str, object]]
) -> None:
    loop, engine = hostile_engine
    user = EngineUser(Sanitiser(engine), f"prop{next(_users)}")

    async def run() -> None:
        await user.say("/survey hostile")
        for kind, value in inputs:
            if kind == "text":
                replies = await user.say(str(value))
            elif kind == "payload":
                replies = await user.press_payload(str(value))
            else:  # a real button from what the user has seen, perhaps an old one
                buttons = [b for message in user.seen for b in message.flat_buttons if b.url is None]
                if not buttons:
                    continue
                replies = await user.press_payload(buttons[int(str(value)) % len(buttons)].payload)
            assert replies, f"every {kind} gets an answer"

    loop.run_until_complete(run())
    out = io.StringIO()
    loop.run_until_complete(export_responses(engine.database, SURVEYS["hostile"], EVERY_RESPONSE_JOINED, "csv", out))
    for row in csv.DictReader(io.StringIO(out.getvalue())):
        assert row["colour"] in {"", "red", "blue"}
        assert len(row["comment"]) <= 2000 and len(row["last"]) <= 2000
