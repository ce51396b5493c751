"""XLSForm import, issue 16 coverage: what stopped real forms (curly quotes in choice names, notes-only
forms, relevant on a later question, regex patterns of ODK's, pulldata()). Small workbooks via testkit.make_forms."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from surveys import runner
from surveys.loader import load_survey_text
from surveys.model import Survey
from surveys.xlsform import XlsformConversion, convert_xlsform
from testkit.make_forms import write_xlsform

SETTINGS = [["form_title", "form_id"], ["Test form", "test_form"]]


def form(tmp_path: Path, survey: Sequence[Sequence[Any]], choices: Sequence[Sequence[Any]] = ()) -> Path:
    return write_xlsform(tmp_path / "form.xlsx", survey, choices, SETTINGS)


def convert(path: Path) -> tuple[XlsformConversion, dict[str, Any], Survey]:
    conversion = convert_xlsform(path)
    return conversion, yaml.safe_load(conversion.yaml_text), load_survey_text(conversion.yaml_text, "form.yaml")


def test_curly_quotes_in_choice_names_are_straightened_as_pyxform_does(tmp_path: Path) -> None:
    path = form(
        tmp_path,
        [
            ["type", "name", "label", "choice_filter", "default"],
            ["select_one colours", "colour", "Favourite?", "", "red\u2019s"],
            ["select_one colours", "pale", "Pale one?", 'kind = "it\u2019s pale"', ""],
        ],
        [
            ["list_name", "name", "label", "kind"],
            ["colours", "red\u2019s", "Red\u2019s", "it\u2019s pale"],
            ["colours", "blue\u2019s", "Blue\u2019s", "dark"],
        ],
    )
    conversion, data, survey = convert(path)
    assert [c.name for c in survey.question("colour").choices] == ["red's", "blue's"]
    assert data["choices"]["colours"][0]["label"] == "Red\u2019s"  # the text is shown as written
    assert data["questions"][0]["default"] == "red's"
    assert any("straightened" in str(w) and ":choices:2:" in str(w) for w in conversion.warnings)
    state = runner.start(survey, date(2026, 3, 31)).state
    step = runner.advance(survey, state, runner.TypedAnswer("1"))
    assert step.state.answers["colour"] == "red's"
    shown = runner.visible_choices(survey.question("pale"), step.state, survey)
    assert [c.name for c in shown] == ["red's"]  # the filter's 'it’s pale' matches the straightened column
