"""A survey's ``results:`` block and its margins file: the keys read, and every bad value reported
as FILE:LINE."""

from __future__ import annotations

from pathlib import Path

import pytest

from surveys.errors import SurveyFileError
from surveys.loader import load_survey_file
from surveys.results_settings import Margin

QUESTIONS = """questions:
  - {type: select_one, name: sex, label: Sex, choices: [{name: f, label: Female}, {name: m, label: Male}]}
  - {type: text, name: note, label: Note}
"""


def survey_file(directory: Path, results: str, margins: str | None = None) -> Path:
    path = directory / "s.yaml"
    path.write_text(f"id: s\ntitle: S\n{results}{QUESTIONS}")
    if margins is not None:
        (directory / "margins.csv").write_text(margins)
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(SurveyFileError) as caught:
        load_survey_file(path)
    return [str(problem) for problem in caught.value.problems]


def test_the_results_block_and_its_margins_are_read(tmp_path: Path) -> None:
    path = survey_file(
        tmp_path,
        "results:\n  public: true\n  min_cell: 5\n  margins: margins.csv\n  breakdowns: [region, channel]\n",
        'dimension,category,population\nregion,north,1000\nsex,f,"1,200"\n',
    )
    settings = load_survey_file(path).results
    assert (settings.public, settings.min_cell, settings.breakdowns) == (True, 5, ("region", "channel"))
    assert settings.margins == (Margin("region", "north", 1000.0), Margin("sex", "f", 1200.0))
    assert settings.weighted and settings.margin_dimensions() == ("region", "sex")


def test_without_a_results_block_nothing_is_published(tmp_path: Path) -> None:
    settings = load_survey_file(survey_file(tmp_path, "")).results
    assert (settings.public, settings.min_cell, settings.breakdowns, settings.weighted) == (False, 10, (), False)


def test_bad_values_in_the_results_block_give_file_and_line(tmp_path: Path) -> None:
    path = survey_file(
        tmp_path,
        "results:\n  public: maybe\n  min_cell: 1\n  margins: ../secret.csv\n  breakdowns: [region, shoe_size]\n  colour: red\n",
    )
    found = problems(path)
    assert f"{path}:4: results: public must be true or false" in found
    assert f"{path}:5: results: min_cell must be a whole number of at least 3" in found
    assert f"{path}:6: results: margins must name a .csv file beside the survey, not '../secret.csv'" in found
    assert f"{path}:7: results: breakdown 'shoe_size' is not one of user_group, region, language, channel" in found
    assert any(problem.startswith(f"{path}:8: unknown key 'colour' in results") for problem in found)


def test_a_missing_margins_file_is_reported_at_the_margins_line(tmp_path: Path) -> None:
    path = survey_file(tmp_path, "results:\n  public: true\n  margins: margins.csv\n")
    assert problems(path) == [f"{path}:5: results: margins file 'margins.csv' is not beside the survey"]


def test_bad_rows_of_the_margins_file_give_its_line(tmp_path: Path) -> None:
    path = survey_file(
        tmp_path,
        "results:\n  margins: margins.csv\n",
        "dimension,category,population\nregion,north,1000\nnote,x,5\nregion,south,-3\nregion,,7\nregion,north,9\nsex,f\n",
    )
    margins = tmp_path / "margins.csv"
    assert problems(path) == [
        f"{margins}:3: dimension 'note' is not one of channel, language, region, sex, user_group",
        f"{margins}:4: population must be a positive number, not '-3'",
        f"{margins}:5: the category is empty",
        f"{margins}:6: 'region' 'north' is given twice",
        f"{margins}:7: expected 3 values (dimension,category,population), not 2",
    ]
    (tmp_path / "margins.csv").write_text("group,size\n")
    assert problems(path) == [f"{margins}:1: the header must be dimension,category,population"]
