"""Media and location questions in the survey format: types, ``max_pixels``, and how they are read."""

from __future__ import annotations

import pytest

from surveys import runner
from surveys.answers import InvalidAnswer, format_point, parse_point
from surveys.errors import SurveyFileError
from surveys.loader import load_survey_text
from surveys.model import QuestionType

MEDIA_SURVEY = """
id: media
title: Media
questions:
  - {type: image, name: house, label: Photo of the house, max_pixels: 1024}
  - {type: photo, name: roof, label: Photo of the roof}
  - {type: audio, name: story, label: Tell us}
  - {type: video, name: walk, label: Film it}
  - {type: file, name: doc, label: The document}
  - {type: geopoint, name: where, label: Where}
  - {type: geotrace, name: road, label: The road}
  - {type: geoshape, name: field, label: The field}
"""


def test_media_and_geo_types_are_read_with_max_pixels_and_the_photo_spelling() -> None:
    survey = load_survey_text(MEDIA_SURVEY, "media.yaml")
    types = {q.name: q.type for q in survey.questions}
    assert types == {
        "house": QuestionType.IMAGE,
        "roof": QuestionType.IMAGE,
        "story": QuestionType.AUDIO,
        "walk": QuestionType.VIDEO,
        "doc": QuestionType.FILE,
        "where": QuestionType.GEOPOINT,
        "road": QuestionType.GEOTRACE,
        "field": QuestionType.GEOSHAPE,
    }
    assert survey.question("house").max_pixels == 1024
    assert survey.question("roof").max_pixels is None
    assert [q.name for q in survey.questions if q.is_media] == ["house", "roof", "story", "walk", "doc"]
    assert [q.name for q in survey.questions if q.is_geo] == ["where", "road", "field"]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("{type: text, name: a, label: A, max_pixels: 100}", "media.yaml:4: 'max_pixels' only applies to image"),
        ("{type: image, name: a, label: A, max_pixels: 0}", "media.yaml:4: max_pixels of question 'a' must be"),
        ("{type: image, name: a, label: A, max_pixels: big}", "media.yaml:4: max_pixels of question 'a' must be"),
    ],
)
def test_misplaced_or_bad_max_pixels_is_reported_with_its_line(question: str, expected: str) -> None:
    with pytest.raises(SurveyFileError) as raised:
        load_survey_text(f"id: s\ntitle: T\nquestions:\n  - {question}\n", "media.yaml")
    assert any(str(problem).startswith(expected) for problem in raised.value.problems), raised.value.problems


# --- typed locations --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("-1.2921 36.8219", "-1.2921 36.8219"),
        ("-1.2921, 36.8219", "-1.2921 36.8219"),
        ("  12.5;-7.25 ", "12.5 -7.25"),
        ("0 0", "0 0"),
        ("1.5 2.5 1700 12", "1.5 2.5 1700 12"),
        ("90, -180", "90 -180"),
    ],
)
def test_a_typed_point_is_stored_as_odk_stores_it(typed: str, stored: str) -> None:
    assert parse_point(typed) == stored


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("Nairobi", "not_geopoint"),
        ("12.5", "not_geopoint"),
        ("1 2 3 4 5", "not_geopoint"),
        ("91 10", "latitude_out_of_range"),
        ("-90.0001 10", "latitude_out_of_range"),
        ("10, 180.5", "longitude_out_of_range"),
        ("1 2 3 -4", "not_geopoint"),
    ],
)
def test_a_typed_point_out_of_range_or_garbled_gets_its_reason(typed: str, code: str) -> None:
    with pytest.raises(InvalidAnswer) as refused:
        parse_point(typed)
    assert refused.value.problem.code == code


def test_a_shared_location_keeps_altitude_and_accuracy_when_known() -> None:
    assert format_point(-1.2921, 36.8219) == "-1.2921 36.8219"
    assert format_point(-1.2921, 36.8219, 1661.0, 4.5) == "-1.2921 36.8219 1661 4.5"
    assert format_point(10.0, 20.0, None, 30.0) == "10 20 0 30"
    with pytest.raises(InvalidAnswer):
        format_point(100.0, 0.0)


# --- the runner -------------------------------------------------------------------------------


def _at(name: str) -> runner.ResponseState:
    survey = load_survey_text(MEDIA_SURVEY, "media.yaml")
    answers = {q.name: "x" for q in survey.questions[: [q.name for q in survey.questions].index(name)]}
    return runner.ResponseState(answers=answers, current=name)


def test_a_file_of_the_right_kind_answers_a_media_question_by_its_stored_name() -> None:
    survey = load_survey_text(MEDIA_SURVEY, "media.yaml")
    outcome = runner.advance(survey, _at("house"), runner.GiveFile("0" * 32 + ".jpg", "image"))
    assert outcome.problem is None
    assert outcome.recorded[0] == ("house", "0" * 32 + ".jpg")
    assert outcome.state.current == "roof"
    # A file question takes any kind of file; an audio question an audio file only.
    assert runner.advance(survey, _at("doc"), runner.GiveFile("a.pdf", "file")).problem is None
    assert runner.advance(survey, _at("doc"), runner.GiveFile("a.jpg", "image")).problem is None
    refused = runner.advance(survey, _at("story"), runner.GiveFile("a.pdf", "file"))
    assert refused.problem is not None and refused.problem.code == "expects_audio"
    assert refused.state == _at("story")


def test_typed_text_or_a_location_for_a_photo_says_what_is_expected_and_keeps_the_question() -> None:
    survey = load_survey_text(MEDIA_SURVEY, "media.yaml")
    typed = runner.advance(survey, _at("house"), runner.TypedAnswer("a nice house"))
    assert typed.problem is not None and typed.problem.code == "expects_image"
    placed = runner.advance(survey, _at("house"), runner.GiveLocation(1.0, 2.0))
    assert placed.problem is not None and placed.problem.code == "expects_text"
    assert typed.state == placed.state == _at("house")


def test_a_file_or_a_location_for_a_text_question_is_refused() -> None:
    survey = load_survey_text(
        "id: s\ntitle: T\nquestions:\n  - {type: text, name: a, label: A}\n  - {type: integer, name: b, label: B}\n",
        "s.yaml",
    )
    state = runner.ResponseState(answers={}, current="a")
    for action in (runner.GiveFile("a.jpg", "image"), runner.GiveLocation(1.0, 2.0)):
        outcome = runner.advance(survey, state, action)
        assert outcome.problem is not None and outcome.problem.code == "expects_text"
        assert outcome.state == state and outcome.recorded == ()


def test_a_geopoint_is_answered_by_a_shared_or_a_typed_location() -> None:
    survey = load_survey_text(MEDIA_SURVEY, "media.yaml")
    shared = runner.advance(survey, _at("where"), runner.GiveLocation(-1.2921, 36.8219, 1661.0, 5.0))
    assert shared.recorded[0] == ("where", "-1.2921 36.8219 1661 5")
    typed = runner.advance(survey, _at("where"), runner.TypedAnswer("-1.2921, 36.8219"))
    assert typed.recorded[0] == ("where", "-1.2921 36.8219")
    wrong = runner.advance(survey, _at("where"), runner.GiveLocation(-95.0, 36.0))
    assert wrong.problem is not None and wrong.problem.code == "latitude_out_of_range"


def test_a_geotrace_collects_points_until_done_and_a_geoshape_is_closed() -> None:
    survey = load_survey_text(MEDIA_SURVEY, "media.yaml")
    state = _at("road")
    first = runner.advance(survey, state, runner.GiveLocation(1.0, 2.0))
    assert first.selection_changed and first.recorded == () and first.state.current == "road"
    too_few = runner.advance(survey, first.state, runner.FinishSelection())
    assert too_few.problem is not None and too_few.problem.code == "expects_points"
    assert too_few.problem.params == {"min": "2"}
    second = runner.advance(survey, first.state, runner.TypedAnswer("1.5 2.5"))
    done = runner.advance(survey, second.state, runner.FinishSelection())
    assert done.recorded[0] == ("road", "1 2;1.5 2.5")
    assert done.state.current == "field" and done.state.selection == ()

    shape = done.state
    for point in ("0 0", "0 1", "1 1"):
        shape = runner.advance(survey, shape, runner.TypedAnswer(point)).state
    closed = runner.advance(survey, shape, runner.FinishSelection())
    assert closed.recorded[0] == ("field", "0 0;0 1;1 1;0 0")
    assert closed.finished


def test_a_geoshape_needs_three_distinct_points() -> None:
    survey = load_survey_text(MEDIA_SURVEY, "media.yaml")
    state = _at("field")
    for point in ("0 0", "0 1", "0 0"):
        state = runner.advance(survey, state, runner.TypedAnswer(point)).state
    refused = runner.advance(survey, state, runner.FinishSelection())
    assert refused.problem is not None and refused.problem.params == {"min": "3"}
