"""The Flow registry the router consults: each flow, button group and command registered once,
found for its own payloads and commands, and nothing claimed for an unknown or forged press."""

from __future__ import annotations

from itertools import combinations

from bot.core.engine import Engine
from handlers import (
    broadcast,
    calendar,
    concepts,
    data,
    language,
    navigation,
    onboarding,
    payloads,
    privacy,
    profile,
    requests,
    start,
    survey,
)
from handlers.flows import REGISTRY
from handlers.messages import RESUME_PAYLOAD
from handlers.router import COMMAND_DESCRIPTIONS
from storage.records import Conversation
from surveys.model import Survey
from testkit.exports import export_rows
from testkit.fakes.engine_user import EngineUser

QUESTION_FLOWS = (survey.FLOW, onboarding.FLOW, profile.EDIT_FLOW)
TEXT_FLOWS = (requests.FLOW, broadcast.FLOW)


def conversation_in(flow: str) -> Conversation:
    return Conversation(
        contact_id=1, flow=flow, survey_id=None, response_id=None, current_question=None, selection=(), prompt_serial=1
    )


def test_each_flow_is_registered_once() -> None:
    names = [flow.name for flow in REGISTRY.flows]
    assert sorted(names) == sorted(QUESTION_FLOWS + TEXT_FLOWS)
    for name in names:
        found = REGISTRY.flow_of(conversation_in(name))
        assert found is not None and found.name == name


def test_question_flows_take_prompt_presses_back_and_skip_and_text_flows_do_not() -> None:
    for name in QUESTION_FLOWS:
        flow = REGISTRY.flow_of(conversation_in(name))
        assert flow is not None
        assert None not in (flow.on_prompt_press, flow.back, flow.skip, flow.resume, flow.repeat), name
    for name in TEXT_FLOWS:
        flow = REGISTRY.flow_of(conversation_in(name))
        assert flow is not None
        assert (flow.on_prompt_press, flow.back, flow.skip, flow.resume) == (None, None, None, None), name


def test_an_unknown_flow_or_no_conversation_is_no_flow() -> None:
    assert REGISTRY.flow_of(None) is None
    assert REGISTRY.flow_of(conversation_in("withdrawn-flow")) is None


def test_no_payload_prefix_is_claimed_twice() -> None:
    prefixes = [prefix for group in REGISTRY.buttons for prefix in group.prefixes]
    assert len(prefixes) == len(set(prefixes))
    for first, second in combinations(prefixes, 2):
        assert not first.startswith(second) and not second.startswith(first), (first, second)


def test_the_router_finds_the_button_group_of_each_payload() -> None:
    issued = {
        payloads.start_survey("usat2026"): start.on_press,
        language.payload("fr"): language.on_press,
        profile.EDIT + "region": profile.on_press,
        profile.FOLLOW + "prices": profile.on_press,
        onboarding.START_PAYLOAD + "usat2026": profile.on_press,
        privacy.KEEP: privacy.on_press,
        broadcast.PAYLOAD_PREFIX + "1:s": broadcast.on_press,
        data.PREFIX + "i:1:2": data.on_press,
        concepts.concept_payload("inflation"): concepts.on_press,
        calendar.ALL: calendar.on_press,
        requests.PAYLOAD_PREFIX + "s:7": requests.on_press,
    }
    for payload, handler in issued.items():
        group = REGISTRY.buttons_for(payload)
        assert group is not None and group.on_press == handler, payload


def test_prompt_presses_and_unknown_payloads_belong_to_no_button_group() -> None:
    """Prompt presses go to the flow the user is in; anything unknown is stale."""
    for payload in (payloads.prompt_press(3, payloads.CHOOSE, 0), RESUME_PAYLOAD, "zz:1", "", "q", "S:usat2026"):
        assert REGISTRY.buttons_for(payload) is None, payload


def test_every_command_has_one_handler_and_a_description() -> None:
    assert not set(REGISTRY.commands) & set(REGISTRY.navigation)
    assert REGISTRY.command_names() == set(COMMAND_DESCRIPTIONS)
    assert REGISTRY.navigation["cancel"] is navigation.cancel


async def test_unknown_forged_and_foreign_presses_change_nothing(engine: Engine, usat: Survey) -> None:
    user = EngineUser(engine, "registry-1")
    await user.say("/survey usat2026")
    question = user.last_with_buttons()
    forged = (
        "zz:1",  # no one's prefix
        "q:999:c:0",  # a prompt serial that was never shown
        "q:1:c",  # a choice without its index
        "q:1:x:0",  # an operation Baraza never issues
        "s:",  # a survey button without a survey
        "x:y:not-this-contact",  # someone else's deletion confirmation
        "q:" + "9" * 70,  # longer than any payload Baraza issues
    )
    for payload in forged:
        replies = await user.press_payload(payload)
        assert replies and ("earlier question" in replies[0].text or "no longer valid" in replies[0].text), payload
    (row,) = await export_rows(engine, usat)
    assert row["user_group"] == "", "no press stored an answer"
    # The question shown before the presses is still the current one: its buttons still work.
    citizen = next(button for button in question.flat_buttons if button.label == "Citizen")
    replies = await user.press_payload(citizen.payload)
    assert replies[-1].text.startswith("2/12")
    (row,) = await export_rows(engine, usat)
    assert row["user_group"] == "citizen" and row["frequency"] == ""


async def test_navigation_commands_reach_the_flow_the_user_is_in(engine: Engine) -> None:
    user = EngineUser(engine, "registry-2")
    assert (await user.say("/back"))[0].text.startswith("You are not answering a survey")
    await user.say("/survey usat2026")
    await user.press("Citizen")
    replies = await user.say("/back")
    assert replies[-1].text.startswith("1/12"), "the survey flow took /back"
    replies = await user.say("/cancel")
    assert replies[0].text.startswith("The survey is stopped"), "the survey flow took /cancel"
    assert (await user.say("/request"))[0].text.startswith("What data are you looking for?")
    replies = await user.say("/skip")
    assert replies[0].text.startswith("You are not answering a survey"), "/skip means nothing in the request flow"
    replies = await user.say("/cancel")
    assert replies[0].text == "All right, no request was sent.", "the request flow took /cancel"
    assert (await user.say("/cancel"))[0].text != replies[0].text, "no flow is left to cancel"
