"""rank and osm answers in exports: one text column each, explained in the codebook."""

from __future__ import annotations

from storage.codebook import values_note
from storage.exports.responses import ExportOptions, question_columns
from storage.exports.table import Kind
from surveys.loader import load_survey_text

SURVEY = load_survey_text(
    """
id: mapping
title: Mapping
questions:
  - {type: rank, name: needs, label: Needs, choices: [{name: water, label: Water}, {name: food, label: Food}]}
  - {type: osm, name: building, label: Building, osm_tags: [{key: name, label: Name}, {key: amenity, label: Type}]}
""",
    "mapping.yaml",
)


def test_rank_and_osm_are_one_text_column_each_with_a_codebook_note() -> None:
    for name in ("needs", "building"):
        columns = question_columns(SURVEY, SURVEY.question(name), ExportOptions())
        assert [(c.name, c.kind) for c in columns] == [(name, Kind.TEXT)]
    assert "first to last" in (values_note(SURVEY.question("needs")) or "")
    assert "(name, amenity)" in (values_note(SURVEY.question("building")) or "")
