"""Quotas of an XLSForm survey: the settings sheet's ``quotas`` cell (YAML's short form) becomes the
survey file's ``quotas:``; a cell that is not a YAML list is reported on the settings row."""

from __future__ import annotations

from pathlib import Path

import pytest

from surveys.loader import load_survey_text
from surveys.xlsform import XlsformError, convert_xlsform
from testkit.make_forms import write_xlsform

SURVEY = [
    ["type", "name", "label"],
    ["select_one sex", "sex", "Sex?"],
    ["integer", "age", "Age?"],
]
CHOICES = [["list_name", "name", "label"], ["sex", "female", "Female"], ["sex", "male", "Male"]]


def test_the_settings_quotas_become_the_survey_quotas(tmp_path: Path) -> None:
    quotas = "[{by: region, targets: {north: 200, no: 0}}, {by: [user_group, sex], targets: {media: {female: 20}}}]"
    path = write_xlsform(
        tmp_path / "form.xlsx", SURVEY, CHOICES, [["form_title", "form_id", "quotas"], ["Q", "q", quotas]]
    )
    survey = load_survey_text(convert_xlsform(path).yaml_text, "q.yaml")
    assert [quota.by for quota in survey.quotas] == [("region",), ("user_group", "sex")]
    assert dict(survey.quotas[0].targets) == {("north",): 200, ("no",): 0}
    assert dict(survey.quotas[1].targets) == {("media", "female"): 20}


def test_a_quotas_cell_that_is_not_a_list_is_reported_on_its_row(tmp_path: Path) -> None:
    path = write_xlsform(
        tmp_path / "form.xlsx", SURVEY, CHOICES, [["form_title", "form_id", "quotas"], ["Q", "q", "by: region"]]
    )
    with pytest.raises(XlsformError) as raised:
        convert_xlsform(path)
    assert any(
        str(issue).startswith("form.xlsx:settings:2: setting 'quotas' must be a list") for issue in raised.value.issues
    ), [str(issue) for issue in raised.value.issues]
