"""The values a step copies with a change (the conversation at its new position, a reply marked
with its language) keep every other field as they are."""

from __future__ import annotations

from dataclasses import fields, replace

from bot.core.engine import _in_language
from handlers import flow_driver
from handlers.messages import Button, Outbound
from storage.records import Conversation
from surveys import runner


def test_a_moved_conversation_keeps_every_field_but_its_position() -> None:
    before = Conversation(
        contact_id=7,
        flow="survey",
        survey_id="usat2026",
        response_id="r-1",
        current_question="age",
        selection=("a",),
        prompt_serial=4,
        answers={"age": "30"},
        arm="b",
    )
    assert all(getattr(before, field.name) != field.default for field in fields(Conversation)), (
        "no field left at its default"
    )
    outcome = runner.Outcome(state=runner.ResponseState(answers={}, current="spend", selection=("x", "y")))
    after = flow_driver.moved(before, outcome)
    expected = replace(before, current_question="spend", selection=("x", "y"), prompt_serial=5, answers=None)
    assert {field.name: getattr(after, field.name) for field in fields(Conversation)} == {
        field.name: getattr(expected, field.name) for field in fields(Conversation)
    }


def test_marking_a_reply_with_its_language_keeps_every_other_field() -> None:
    reply = Outbound(
        text="Where?",
        buttons=((Button("Skip", "p:1:s"),),),
        replaces_pressed=True,
        expects="geopoint",
        location_button="Send my location",
    )
    marked, kept = _in_language([reply, replace(reply, language="fr")], "en")
    assert marked == replace(reply, language="en")
    assert marked.__dict__ == replace(reply, language="en").__dict__
    assert kept.language == "fr"
    assert reply.language is None, "the reply itself is not changed"
