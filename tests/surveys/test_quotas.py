"""Quotas as pure values: read from the survey file (problems with FILE:LINE), the respondent's
cell, full cells, statuses and steering, with no database."""

from __future__ import annotations

import pytest

from surveys.errors import SurveyFileError
from surveys.loader import load_survey_text
from surveys.quotas import (
    CellStatus,
    cell_of,
    cell_statuses,
    decode_cell,
    encode_cell,
    full_cells,
    in_open_cells,
    is_full,
    known_cells,
    target,
)

FORM = """id: q
title: Q
quotas:
  - {by: region, targets: {north: 200, south: 150, no: 0}}
  - by: [user_group, sex]
    targets:
      media: {female: 20, male: 20}
      public: {female: 50}
questions:
  - {type: select_one, name: sex, label: Sex, choices: [{name: female, label: F}, {name: male, label: M}]}
  - {type: integer, name: age, label: Age}
"""
SURVEY = load_survey_text(FORM, "q.yaml")
NORTH_MEDIA = {"region": "north", "user_group": "media", "language": "en", "channel": "telegram"}


def test_quotas_are_read_with_their_cells_and_targets() -> None:
    region, group_sex = SURVEY.quotas
    assert region.by == ("region",) and region.steerable and region.line == 4
    assert dict(region.targets) == {("north",): 200, ("south",): 150, ("no",): 0}, "'no' stays a region, not false"
    assert group_sex.key == "user_group+sex" and group_sex.questions == {"sex"} and not group_sex.steerable
    assert dict(group_sex.targets) == {("media", "female"): 20, ("media", "male"): 20, ("public", "female"): 50}


@pytest.mark.parametrize(
    ("quotas", "line", "message"),
    [
        ("quotas: {by: region}", 3, "quotas must be a list"),
        ("quotas:\n  - {by: region}", 4, "quota 1 needs 'by'"),
        ("quotas:\n  - {by: shoe, targets: {a: 1}}", 4, "'shoe' is neither a contact field"),
        ("quotas:\n  - {by: pick, targets: {a: 1}}", 4, "question 'pick' cannot define a quota cell"),
        ("quotas:\n  - {by: [region, region], targets: {a: {b: 1}}}", 4, "names a field twice"),
        ("quotas:\n  - {by: sex, targets: {other: 1}}", 4, "'other' is not a choice of question 'sex'"),
        ("quotas:\n  - {by: region, targets: {north: -1}}", 4, "at least 0"),
        ("quotas:\n  - {by: region, targets: {north: many}}", 4, "whole number"),
        ("quotas:\n  - {by: [region, sex], targets: {north: 3}}", 4, "targets of quota 1 (sex) must be a mapping"),
        (
            "quotas:\n  - {by: region, targets: {a: 1}}\n  - {by: region, targets: {b: 1}}",
            5,
            "same fields as a quota before it",
        ),
        ("anonymous: true\nquotas:\n  - {by: sex, targets: {male: 1}}", 4, "an anonymous survey cannot have quotas"),
        ("quotas:\n  - {by: region, target: {a: 1}}", 4, "unknown key"),
    ],
)
def test_bad_quotas_are_reported_with_their_line(quotas: str, line: int, message: str) -> None:
    text = (
        f"id: q\ntitle: Q\n{quotas}\nquestions:\n"
        "  - {type: select_one, name: sex, label: Sex, choices: [{name: female, label: F}, {name: male, label: M}]}\n"
        "  - {type: select_multiple, name: pick, label: Pick, choices: [{name: a, label: A}]}\n"
    )
    with pytest.raises(SurveyFileError) as raised:
        load_survey_text(text, "q.yaml")
    found = [(problem.line, problem.message) for problem in raised.value.problems]
    assert any(at == line and message in said for at, said in found), found


def test_a_cell_is_known_once_every_field_is() -> None:
    region, group_sex = SURVEY.quotas
    assert cell_of(region, NORTH_MEDIA, {}) == ("north",)
    assert cell_of(group_sex, NORTH_MEDIA, {}) is None, "sex is not answered yet"
    assert cell_of(group_sex, NORTH_MEDIA, {"sex": "female"}) == ("media", "female")
    assert cell_of(group_sex, NORTH_MEDIA, {"sex": None}) is None, "a skipped question: not limited"
    assert cell_of(region, {**NORTH_MEDIA, "region": None}, {}) is None
    assert known_cells(SURVEY, NORTH_MEDIA, {"sex": "male"}) == {
        "region": ("north",),
        "user_group+sex": ("media", "male"),
    }


def test_a_cell_is_full_at_its_target_and_unlisted_cells_are_not_limited() -> None:
    assert target(SURVEY, "region", ("north",)) == 200
    assert target(SURVEY, "region", ("east",)) is None and not is_full(None, 10_000)
    assert not is_full(200, 199) and is_full(200, 200) and is_full(200, 201)
    assert is_full(target(SURVEY, "region", ("no",)), 0), "a target of 0 closes the cell"
    assert decode_cell(encode_cell(("a/b", "é"))) == ("a/b", "é")


def test_statuses_list_every_target_cell_and_steering_skips_question_cells() -> None:
    statuses = cell_statuses(SURVEY, {("region", ("north",)): (200, 7), ("user_group+sex", ("media", "male")): (20, 0)})
    assert statuses[0] == CellStatus("region", ("north",), 200, 200, 7) and statuses[0].status == "full"
    assert statuses[1].completes == 0 and statuses[1].status == "open"
    assert [s.label for s in statuses if s.full] == ["north", "no", "media / male"]
    full = full_cells(statuses)
    assert not in_open_cells(SURVEY, NORTH_MEDIA, full), "north is full"
    assert in_open_cells(SURVEY, {**NORTH_MEDIA, "region": "south"}, full), "media / male is a question cell"
