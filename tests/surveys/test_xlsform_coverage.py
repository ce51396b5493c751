"""XLSForm import, issue 16 coverage: what stopped real forms (curly quotes in choice names, notes-only
forms, relevant on a later question, regex patterns of ODK's, pulldata()). Small workbooks via testkit.make_forms."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from surveys import runner
from surveys.errors import SurveyFileError
from surveys.loader import load_survey_file, load_survey_text
from surveys.model import Survey
from surveys.xlsform import XlsformConversion, XlsformError, convert_xlsform, import_command
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


def test_a_form_of_notes_and_calculations_shows_its_notes_and_is_complete(tmp_path: Path) -> None:
    path = form(
        tmp_path,
        [
            ["type", "name", "label", "calculation"],
            ["calculate", "sum", "", "2+2"],
            ["note", "shown", "2+2 = ${sum}", ""],
            ["calculate", "same", "", "if(${shown} = '', 'empty', 'set')"],
        ],
    )
    conversion, data, survey = convert(path)
    assert any("asks no question" in str(w) and ":survey:3:" in str(w) for w in conversion.warnings)
    assert any(":survey:4:" in str(w) and "a note: its value is empty" in str(w) for w in conversion.warnings)
    assert data["allow_note_references"] is True
    outcome = runner.start(survey, date(2026, 3, 31))
    assert [q.name for q in outcome.notes] == ["shown"]
    assert outcome.state.current is None
    assert (outcome.state.answers["sum"], outcome.state.answers["same"]) == ("4", "empty")


def test_a_form_with_nothing_to_show_is_still_refused(tmp_path: Path) -> None:
    path = form(tmp_path, [["type", "name", "calculation"], ["calculate", "sum", "2+2"]])
    try:
        convert_xlsform(path)
    except XlsformError as error:
        assert "no question is left that a chat can ask" in str(error)
    else:
        raise AssertionError("a form that shows nothing was imported")


def test_relevant_on_a_later_question_is_accepted_with_a_warning_naming_the_rows(tmp_path: Path) -> None:
    path = form(
        tmp_path,
        [
            ["type", "name", "label", "relevant"],
            ["text", "early", "Early?", "${late} = 'yes'"],
            ["text", "late", "Late?", ""],
        ],
    )
    conversion, data, survey = convert(path)
    assert data["allow_later_references"] is True
    warning = next(str(w) for w in conversion.warnings if "later question" in str(w))
    assert ":survey:2:" in warning and "${late} (row 3)" in warning
    state = runner.start(survey, date(2026, 3, 31)).state
    assert state.current == "late"  # ${late} is empty when 'early' is reached: not relevant


def test_later_references_stay_refused_in_a_survey_file_without_the_setting() -> None:
    text = "id: s\ntitle: S\nquestions:\n  - {type: text, name: a, label: A, relevant: \"${b} = 'x'\"}\n"
    text += "  - {type: text, name: b, label: B}\n"
    try:
        load_survey_text(text, "s.yaml")
    except SurveyFileError as error:
        assert "refers to a later question" in str(error) and "allow_later_references" in str(error)
    else:
        raise AssertionError("a later reference was accepted")
    survey = load_survey_text("allow_later_references: true\n" + text, "s.yaml")
    assert survey.question("a").relevant


PULLDATA_FORM = [
    ["type", "name", "label", "calculation", "relevant"],
    ["text", "code", "Household code?", "", ""],
    ["calculate", "head", "", "pulldata('households', 'head_name', 'hh_code', ${code})", ""],
    ["note", "hello", "Household of ${head}", "", "${head} != ''"],
    ["integer", "members", "How many live with ${head}?", "", ""],
]


def test_pulldata_reads_the_csv_beside_the_survey_file(tmp_path: Path) -> None:
    source, surveys = tmp_path / "office", tmp_path / "surveys"
    source.mkdir()
    surveys.mkdir()
    path = write_xlsform(source / "form.xlsx", PULLDATA_FORM, (), SETTINGS)
    (source / "households.csv").write_text("hh_code,head_name\nH1,Amina\nH2,Juma\n", encoding="utf-8")
    conversion = convert_xlsform(path)
    assert not conversion.dropped
    assert any("households.csv" in str(w) and ":survey:3:" in str(w) for w in conversion.warnings)
    assert import_command(path, surveys / "form.yaml", drop_unsupported=False) == 0
    assert (surveys / "households.csv").read_text(encoding="utf-8").startswith("hh_code")
    survey = load_survey_file(surveys / "form.yaml")
    state = runner.start(survey, date(2026, 3, 31)).state
    outcome = runner.advance(survey, state, runner.TypedAnswer("H2"))
    assert outcome.state.answers["head"] == "Juma"
    assert [q.name for q in outcome.notes] == ["hello"]
    unknown = runner.advance(survey, state, runner.TypedAnswer("H9"))
    assert unknown.state.answers["head"] == "" and not unknown.notes  # no row with that key: empty, as in ODK


def test_pulldata_without_its_csv_imports_with_a_warning_and_reads_empty(tmp_path: Path) -> None:
    path = form(tmp_path, PULLDATA_FORM)
    conversion, _, _ = convert(path)
    assert not conversion.dropped
    warning = next(str(w) for w in conversion.warnings if "households.csv" in str(w))
    assert "not beside the form" in warning
    (tmp_path / "form.yaml").write_text(conversion.yaml_text, encoding="utf-8")
    survey = load_survey_file(tmp_path / "form.yaml")
    outcome = runner.advance(survey, runner.start(survey, date(2026, 3, 31)).state, runner.TypedAnswer("H2"))
    assert outcome.state.answers["head"] == "" and outcome.state.current == "members"


def test_a_filter_on_a_column_the_list_lacks_keeps_no_choice_as_in_odk(tmp_path: Path) -> None:
    path = form(
        tmp_path,
        [
            ["type", "name", "label", "choice_filter"],
            ["select_one colors", "pastel", "Favourite pastel?", "pastel=yes"],
            ["text", "why", "Why?", ""],
        ],
        [["list_name", "name", "label", "pastel"], ["colors", "red", "Red", "no"], ["colors", "mauve", "Mauve", "yes"]],
    )
    conversion, data, survey = convert(path)
    assert data["allow_missing_columns"] is True
    warning = next(str(w) for w in conversion.warnings if "not a column" in str(w))
    assert warning.startswith("form.xlsx:survey:2:") and "'yes' is not a column of 'colors'" in warning
    state = runner.start(survey, date(2026, 3, 31)).state
    assert state.current == "pastel" and runner.visible_choices(survey.question("pastel"), state, survey) == ()
    assert runner.advance(survey, state, runner.SkipQuestion()).state.current == "why"


def test_a_filter_on_a_missing_column_stays_refused_in_a_survey_file_without_the_setting() -> None:
    text = (
        "id: s\ntitle: S\nquestions:\n  - {type: select_one, name: a, label: A, choices: c, choice_filter: 'k = yes'}\n"
        "choices:\n  c: [{name: x, label: X, k: 'yes'}]\n"
    )
    try:
        load_survey_text(text, "s.yaml")
    except SurveyFileError as error:
        assert "'yes' is not a column of its choices" in str(error)
    else:
        raise AssertionError("a filter on a missing column was accepted")
    assert load_survey_text("allow_missing_columns: true\n" + text, "s.yaml").question("a").choice_filter


def test_select_one_external_uses_the_external_list_when_the_choices_sheet_has_one_of_that_name(
    tmp_path: Path,
) -> None:
    from openpyxl import load_workbook

    path = form(
        tmp_path,
        [
            ["type", "name", "label", "choice_filter"],
            ["select_one c1", "q1", "Good?", None],
            ["select_one_external c1", "q2", "Where?", "YES_NO=${q1}"],
        ],
        [["list_name", "name", "label"], ["c1", "yes", "Yes"], ["c1", "no", "No"]],
    )
    workbook = load_workbook(path)
    sheet = workbook.create_sheet("external_choices")
    for row in (["list_name", "name", "label", "YES_NO"], ["c1", "far", "Far", "yes"], ["c1", "near", "Near", "no"]):
        sheet.append(row)
    workbook.save(path)
    conversion, data, survey = convert(path)
    assert [c.name for c in survey.question("q1").choices] == ["yes", "no"]
    assert data["questions"][1]["choices"] == "c1_external"
    assert not any("not a column" in str(w) for w in conversion.warnings)
    line = conversion.yaml_text.splitlines().index("    - {name: near, label: Near, YES_NO: 'no'}") + 1
    assert conversion.source_of(line) == ("external_choices", 3)
    state = runner.advance(survey, runner.start(survey, date(2026, 3, 31)).state, runner.PickChoice("no")).state
    assert [c.name for c in runner.visible_choices(survey.question("q2"), state, survey)] == ["near"]


def test_pulldata_of_a_file_named_by_an_answer_reads_one_file_per_choice(tmp_path: Path) -> None:
    path = form(
        tmp_path,
        [
            ["type", "name", "label", "calculation"],
            ["select_one districts", "district", "District?", ""],
            ["text", "code", "Household code?", ""],
            ["calculate", "head", "", "pulldata(${district}, 'head_name', 'hh_code', ${code})"],
        ],
        [["list_name", "name", "label"], ["districts", "north", "North"], ["districts", "south", "South"]],
    )
    conversion, _, _ = convert(path)
    assert any(":survey:4:" in str(w) and "answer to ${district}" in str(w) for w in conversion.warnings)
    (tmp_path / "form.yaml").write_text(conversion.yaml_text, encoding="utf-8")
    (tmp_path / "south.csv").write_text("hh_code,head_name\nH1,Zawadi\n", encoding="utf-8")
    survey = load_survey_file(tmp_path / "form.yaml")
    state = runner.advance(survey, runner.start(survey, date(2026, 3, 31)).state, runner.PickChoice("south")).state
    assert runner.advance(survey, state, runner.TypedAnswer("H1")).state.answers["head"] == "Zawadi"
    state = runner.advance(survey, runner.start(survey, date(2026, 3, 31)).state, runner.PickChoice("north")).state
    assert runner.advance(survey, state, runner.TypedAnswer("H1")).state.answers["head"] == ""  # no north.csv


def test_pulldata_of_a_file_named_by_an_expression_is_left_out(tmp_path: Path) -> None:
    path = form(
        tmp_path,
        [
            ["type", "name", "label", "calculation"],
            ["text", "district", "District?", ""],
            ["calculate", "head", "", "pulldata(concat('d', ${district}), 'head_name', 'hh_code', 'H1')"],
        ],
    )
    try:
        convert_xlsform(path)
    except XlsformError as error:
        assert "form.xlsx:survey:3:" in str(error) and "names the file with an expression" in str(error)
    else:
        raise AssertionError("a pulldata() of a file named by an answer was imported")
    conversion = convert_xlsform(path, drop_unsupported=True)
    assert [issue.row for issue in conversion.dropped] == [3]


SEARCH_FORM = [
    ["type", "name", "label", "appearance", "required"],
    ["select_one districts", "district", "District?", "", "yes"],
    ["select_one villages", "village", "Village?", "search('villages', 'matches', 'district', ${district})", "no"],
    ["text", "after", "Anything else?", "", "no"],
]
SEARCH_CHOICES = [
    ["list_name", "name", "label"],
    ["districts", "d1", "North"],
    ["districts", "d2", "South"],
    ["villages", "village_id", "village_name"],
]


def test_search_offers_the_rows_of_the_csv_beside_the_survey_filtered(tmp_path: Path) -> None:
    source, surveys = tmp_path / "office", tmp_path / "surveys"
    source.mkdir()
    surveys.mkdir()
    path = write_xlsform(source / "form.xlsx", SEARCH_FORM, SEARCH_CHOICES, SETTINGS)
    (source / "villages.csv").write_text(
        "village_id,village_name,district\nv1,Kibera,d1\nv2,Ngong,d2\nv3,Karen,d2\n", encoding="utf-8"
    )
    conversion = convert_xlsform(path)
    assert not conversion.dropped
    data = yaml.safe_load(conversion.yaml_text)
    village = data["questions"][1]
    assert village["choices_file"] == {"file": "villages", "value": "village_id", "label": "village_name"}
    assert village["choice_filter"] == "district = ${district}"
    assert any(":survey:3:" in str(w) and "villages.csv" in str(w) for w in conversion.warnings)
    assert import_command(path, surveys / "form.yaml", drop_unsupported=False) == 0
    survey = load_survey_file(surveys / "form.yaml")
    state = runner.advance(survey, runner.start(survey, date(2026, 3, 31)).state, runner.PickChoice("d2")).state
    shown = runner.visible_choices(survey.question("village"), state, survey)
    assert [(c.name, c.label.in_language("en", "en")) for c in shown] == [("v2", "Ngong"), ("v3", "Karen")]
    assert runner.advance(survey, state, runner.PickChoice("v3")).state.answers["village"] == "v3"


def test_search_without_its_csv_has_no_choices_until_it_is_there(tmp_path: Path) -> None:
    path = form(tmp_path, SEARCH_FORM, SEARCH_CHOICES)
    conversion, _, _ = convert(path)
    assert any("not beside the form" in str(w) and ":survey:3:" in str(w) for w in conversion.warnings)
    (tmp_path / "form.yaml").write_text(conversion.yaml_text, encoding="utf-8")
    survey = load_survey_file(tmp_path / "form.yaml")
    state = runner.advance(survey, runner.start(survey, date(2026, 3, 31)).state, runner.PickChoice("d1")).state
    assert state.current == "village" and runner.visible_choices(survey.question("village"), state, survey) == ()
    assert runner.advance(survey, state, runner.SkipQuestion()).state.current == "after"
    (tmp_path / "villages.csv").write_text("village_id,village_name,district\nv1,Kibera,d1\n", encoding="utf-8")
    survey = load_survey_file(tmp_path / "form.yaml")
    assert [c.name for c in runner.visible_choices(survey.question("village"), state, survey)] == ["v1"]


def test_select_from_file_whose_csv_is_not_beside_the_form_reads_it_beside_the_survey(tmp_path: Path) -> None:
    path = form(
        tmp_path,
        [
            ["type", "name", "label", "parameters", "choice_filter"],
            ["select_one_from_file species.csv", "tree", "Tree?", "value=code label=latin", "kind = 'tree'"],
        ],
    )
    conversion, data, _ = convert(path)
    assert not conversion.dropped
    assert data["questions"][0]["choices_file"] == {"file": "species", "value": "code", "label": "latin"}
    assert any(":survey:2:" in str(w) and "species.csv" in str(w) for w in conversion.warnings)
    (tmp_path / "form.yaml").write_text(conversion.yaml_text, encoding="utf-8")
    (tmp_path / "species.csv").write_text(
        "code,latin,kind\nac,Acacia tortilis,tree\ngr,Cynodon dactylon,grass\n", encoding="utf-8"
    )
    survey = load_survey_file(tmp_path / "form.yaml")
    state = runner.start(survey, date(2026, 3, 31)).state
    assert [c.name for c in runner.visible_choices(survey.question("tree"), state, survey)] == ["ac"]


OSM_FORM = [
    ["type", "name", "label"],
    ["osm building_tags", "building", "Building"],
    ["osm", "spot", "Spot"],
]
OSM_SHEET = [
    ["list_name", "name", "label"],
    ["building_tags", "name", "Name"],
    ["building_tags", "amenity", "Building Type"],
    ["amenity", "school", "School"],
    ["amenity", "church", "Church"],
]


def test_osm_asks_the_location_then_the_tags_of_its_list_and_stores_one_value(tmp_path: Path) -> None:
    path = write_xlsform(tmp_path / "form.xlsx", OSM_FORM, (), SETTINGS, OSM_SHEET)
    conversion, data, survey = convert(path)
    assert not conversion.dropped
    assert not any("osm" in str(w) for w in conversion.warnings), conversion.warnings
    assert data["questions"][0]["osm_tags"] == [
        {"key": "name", "label": "Name"},
        {"key": "amenity", "label": "Building Type", "choices": [
            {"name": "school", "label": "School"}, {"name": "church", "label": "Church"}]},
    ]  # fmt: skip
    assert survey.question("spot").osm_tags == ()
    state = runner.start(survey, date(2026, 3, 31)).state
    outcome = runner.advance(survey, state, runner.TypedAnswer("-1.5 36.9; Building Type=1; name=Hope"))
    assert outcome.recorded[0] == ("building", "-1.5 36.9;name=Hope;amenity=school")


RANK_FORM = [
    ["type", "name", "label"],
    ["rank needs", "needs", "Rank the needs"],
    ["select_one_from_file cities.geojson", "city", "City"],
    ["select_one_from_file towns.xml", "town", "Town"],
]


def test_rank_is_stored_in_order_and_geojson_or_xml_choices_are_read_beside_the_survey(tmp_path: Path) -> None:
    needs = [["list_name", "name", "label"], ["needs", "water", "Water"], ["needs", "food", "Food"]]
    path = form(tmp_path, RANK_FORM, needs)
    conversion, data, survey = convert(path)
    assert not conversion.dropped
    assert data["questions"][1]["choices_file"] == {"file": "cities.geojson", "value": "id", "label": "title"}
    assert data["questions"][2]["choices_file"] == {"file": "towns.xml", "value": "name", "label": "label"}
    assert set(conversion.missing_files) == {"cities.geojson", "towns.xml"}
    state = runner.start(survey, date(2026, 3, 31)).state
    ranked = runner.advance(survey, state, runner.TypedAnswer("2 1"))
    assert ranked.recorded[0] == ("needs", "food water")

    (tmp_path / "form.yaml").write_text(conversion.yaml_text, encoding="utf-8")
    (tmp_path / "cities.geojson").write_text(
        '{"type": "FeatureCollection", "features": ['
        '{"type": "Feature", "id": "nbo", "geometry": {"type": "Point", "coordinates": [36.82, -1.29]},'
        ' "properties": {"title": "Nairobi"}},'
        '{"type": "Feature", "geometry": {"type": "Point", "coordinates": [39.66, -4.04]},'
        ' "properties": {"id": "mba", "title": "Mombasa"}}]}',
        encoding="utf-8",
    )
    (tmp_path / "towns.xml").write_text(
        "<root><item><name>t1</name><label>Thika</label></item><item><name>t2</name><label>Nyeri</label></item></root>",
        encoding="utf-8",
    )
    survey = load_survey_file(tmp_path / "form.yaml")
    cities = survey.question("city").choices
    assert [(c.name, c.label.in_language("en", "en"), c.columns["geometry"]) for c in cities] == [
        ("nbo", "Nairobi", "-1.29 36.82"),
        ("mba", "Mombasa", "-4.04 39.66"),
    ]
    assert [c.name for c in survey.question("town").choices] == ["t1", "t2"]
    (tmp_path / "cities.geojson").write_text("{not json", encoding="utf-8")
    with pytest.raises(SurveyFileError, match=r"cities\.geojson: not a GeoJSON file"):
        load_survey_file(tmp_path / "form.yaml")


def test_search_of_a_file_named_by_an_answer_offers_the_rows_of_that_answers_csv(tmp_path: Path) -> None:
    path = form(
        tmp_path,
        [
            ["type", "name", "label", "appearance"],
            ["select_one districts", "district", "District?", ""],
            ["text", "ward", "Ward?", ""],
            ["select_multiple villages", "village", "Villages?", "search(${district}, 'matches', 'ward', ${ward})"],
        ],
        [
            ["list_name", "name", "label"],
            ["districts", "north", "North"],
            ["districts", "south", "South"],
            ["districts", "east", "East"],
            ["villages", "village_id", "village_name"],
        ],
    )
    conversion, data, _ = convert(path)
    assert not conversion.dropped
    assert data["questions"][2]["choices_file"] == {
        "file": "${district}",
        "value": "village_id",
        "label": "village_name",
    }
    assert any(":survey:4:" in str(w) and "answer to ${district}" in str(w) for w in conversion.warnings)
    assert conversion.missing_files == ("a CSV per answer to ${district}",)
    (tmp_path / "form.yaml").write_text(conversion.yaml_text, encoding="utf-8")
    (tmp_path / "north.csv").write_text("village_id,village_name,ward\nv1,Kibera,w1\nv2,Ngong,w2\n", encoding="utf-8")
    (tmp_path / "south.csv").write_text("village_id,village_name,ward\nv1,Karen,w1\nv9,Tala,w1\n", encoding="utf-8")
    survey = load_survey_file(tmp_path / "form.yaml")

    def shown(district: str, ward: str) -> list[tuple[str, str]]:
        state = runner.start(survey, date(2026, 3, 31)).state
        state = runner.advance(survey, state, runner.PickChoice(district)).state
        state = runner.advance(survey, state, runner.TypedAnswer(ward)).state
        assert state.current == "village"
        choices = runner.visible_choices(survey.question("village"), state, survey)
        return [(c.name, c.label.in_language("en", "en")) for c in choices]

    assert shown("north", "w1") == [("v1", "Kibera")]
    assert shown("south", "w1") == [("v1", "Karen"), ("v9", "Tala")]
    assert shown("east", "w1") == []  # no east.csv: no choices, as ODK without the file
    state = runner.start(survey, date(2026, 3, 31)).state
    for action in (runner.PickChoice("south"), runner.TypedAnswer("w1"), runner.TypedAnswer("2, 1")):
        state = runner.advance(survey, state, action).state
    assert state.answers["village"] == "v1 v9"  # a name in two files is stored once
