"""Media and location questions in the survey format: types, ``max_pixels``, and how they are read."""

from __future__ import annotations

import pytest

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
