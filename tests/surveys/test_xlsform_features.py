"""XLSForm import, issue 16: the rest of XLSForm a chat can ask, forms read as pyxform reads them,
and problems in the form's own terms. Each test builds a small workbook (testkit.make_forms)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from surveys import arrangement, runner
from surveys.loader import load_survey_text
from surveys.model import QuestionType, Survey
from surveys.xlsform import XlsformConversion, XlsformError, convert_xlsform, language_code
from testkit.make_forms import write_xlsform
from testkit.paths import ROOT

YES_NO = [["list_name", "name", "label"], ["yn", "yes", "Yes"], ["yn", "no", "No"]]
SETTINGS = [["form_title", "form_id"], ["Test form", "test_form"]]
NOW = datetime(2026, 3, 31, 9, 30, tzinfo=UTC)


def form(tmp_path: Path, survey: Sequence[Sequence[Any]], choices: Sequence[Sequence[Any]] = YES_NO,
         settings: Sequence[Sequence[Any]] = SETTINGS, name: str = "form.xlsx") -> Path:  # fmt: skip
    return write_xlsform(tmp_path / name, survey, choices, settings)


def convert(path: Path, **options: Any) -> tuple[XlsformConversion, dict[str, Any], Survey]:
    conversion = convert_xlsform(path, **options)
    return conversion, yaml.safe_load(conversion.yaml_text), load_survey_text(conversion.yaml_text, "form.yaml")


def warnings_of(conversion: XlsformConversion) -> list[str]:
    return [str(w) for w in conversion.warnings]


# --------------------------------------------------------------------------------------------
# Item 3: what a chat can ask


def test_time_datetime_barcode_and_acknowledge_are_asked_and_typed(tmp_path: Path) -> None:
    path = form(tmp_path, [
        ["type", "name", "label", "required"],
        ["time", "woke", "When did you wake up?", "yes"],
        ["dateTime", "visit", "When was the visit?", "yes"],
        ["barcode", "meter", "Type the number under the meter's barcode", "yes"],
        ["trigger", "consent", "I agree to take part", "yes"],
        ["acknowledge", "read", "I have read the notice", "yes"],
    ])  # fmt: skip
    _, data, survey = convert(path)
    assert [q["type"] for q in data["questions"]] == ["time", "datetime", "barcode", "acknowledge", "acknowledge"]
    state = runner.start(survey, date(2026, 3, 31), now=NOW).state
    refused = runner.advance(survey, state, runner.TypedAnswer("25:99"))
    assert refused.problem is not None and refused.problem.code == "not_time"
    for typed, stored in (("6:45 pm", "18:45:00"), ("2026-03-30 14:05", "2026-03-30T14:05:00"),
                          ("590123412345", "590123412345"), ("ok", "OK"), ("Yes", "OK")):  # fmt: skip
        outcome = runner.advance(survey, state, runner.TypedAnswer(typed))
        assert outcome.problem is None, typed
        assert outcome.recorded[0] == (state.current, stored)
        state = outcome.state
    assert state.current is None


def test_or_other_adds_the_choice_and_the_specify_question(tmp_path: Path) -> None:
    path = form(tmp_path, [
        ["type", "name", "label"],
        ["select_one yn or_other", "water", "Piped water?"],
        ["select_multiple yn or specify other", "uses", "Uses?"],
    ])  # fmt: skip
    _, data, survey = convert(path)
    assert data["questions"][0] == {
        "type": "select_one", "name": "water", "or_other": True, "label": "Piped water?", "required": False,
        "choices": "yn",
    }  # fmt: skip
    assert [q.name for q in survey.questions] == ["water", "water_other", "uses", "uses_other"]
    assert [c.name for c in survey.question("water").choices] == ["yes", "no", "other"]
    assert survey.question("water").choice("other").label.translations == {"en": "Other"}  # type: ignore[union-attr]
    specify = survey.question("water_other")
    assert specify.type is QuestionType.TEXT and specify.label.translations == {"en": "Specify other."}
    state = runner.start(survey, date(2026, 3, 31), now=NOW).state
    assert runner.advance(survey, state, runner.PickChoice("yes")).state.current == "uses"
    state = runner.advance(survey, state, runner.PickChoice("other")).state
    assert state.current == "water_other"
    assert runner.advance(survey, state, runner.TypedAnswer("A well")).recorded[0] == ("water_other", "A well")


def test_metadata_is_filled_or_recorded_empty_never_asked(tmp_path: Path) -> None:
    path = form(tmp_path, [
        ["type", "name", "label"],
        ["start", "start", None], ["end", "end", None], ["today", "today", None], ["deviceid", "deviceid", None],
        ["simserial", "sim", None], ["phonenumber", "phone", None], ["subscriberid", "subscriber", None],
        ["username", "user", None], ["email", "mail", None], ["audit", "audit", None],
        ["start-geopoint", "where", None],
        ["integer", "age", "Age?"],
    ])  # fmt: skip
    conversion, _, survey = convert(path)
    assert [q.name for q in survey.questions if q.is_asked] == ["age"]
    assert sum("is not asked; recorded" in w for w in warnings_of(conversion)) == 11
    started = runner.start(survey, date(2026, 3, 31), now=NOW)
    assert dict(started.recorded) == {
        "start": "2026-03-31T09:30:00+00:00", "end": "2026-03-31T09:30:00+00:00", "today": "2026-03-31",
        "deviceid": None, "sim": None, "phone": None, "subscriber": None, "user": None, "mail": None, "audit": None,
        "where": None,
    }  # fmt: skip
    later = runner.ResponseState(
        answers=started.state.answers,
        current="age",
        today=date(2026, 3, 31),
        now=datetime(2026, 3, 31, 9, 41, tzinfo=UTC),
    )
    answered = runner.advance(survey, later, runner.TypedAnswer("40"))
    assert answered.state.answers["start"] == "2026-03-31T09:30:00+00:00"  # kept from the beginning
    assert answered.state.answers["end"] == "2026-03-31T09:41:00+00:00"  # the last answer


def test_randomize_shuffles_per_response_and_back_shows_the_same_order(tmp_path: Path) -> None:
    choices = [["list_name", "name", "label"], *[["fruit", f"f{i}", f"Fruit {i}"] for i in range(12)]]
    path = form(tmp_path, [
        ["type", "name", "label", "parameters"],
        ["select_one fruit", "best", "Best fruit?", "randomize=true"],
        ["text", "why", "Why?", None],
    ], choices)  # fmt: skip
    _, data, survey = convert(path)
    assert data["questions"][0]["randomize"] is True
    question = survey.question("best")
    first = runner.ResponseState(answers={}, current="best", seed="response-1")
    order = [c.name for c in runner.visible_choices(question, first)]
    assert sorted(order) == sorted(c.name for c in question.choices) and order != [c.name for c in question.choices]
    assert [c.name for c in runner.visible_choices(question, first)] == order  # the same every time
    other = runner.ResponseState(answers={}, current="best", seed="response-2")
    assert [c.name for c in runner.visible_choices(question, other)] != order
    answered = runner.advance(survey, first, runner.PickChoice(order[0]))
    back = runner.back(survey, answered.state)
    assert back.state.current == "best" and [c.name for c in runner.visible_choices(question, back.state)] == order


def test_a_group_with_randomize_shows_its_questions_in_an_order_per_response(tmp_path: Path) -> None:
    path = form(tmp_path, [
        ["type", "name", "label", "parameters"],
        ["begin group", "opinions", "Opinions", "randomize=true seed=42"],
        *[["integer", f"q{i}", f"Question {i}?", None] for i in range(6)],
        ["end group", None, None, None],
        ["text", "why", "Why?", None],
    ])  # fmt: skip
    conversion, data, survey = convert(path)
    assert data["questions"][0]["randomize"] is True
    assert "form.xlsx:survey:2: seed of group 'opinions' ignored: each response shuffles its own order" in warnings_of(
        conversion
    )
    assert [group.units for group in survey.shuffled_groups] == [tuple((f"q{i}",) for i in range(6))]
    orders = {arrangement.question_order(survey, f"response-{n}") for n in range(5)}
    assert len(orders) > 1 and all(order[-1] == "why" for order in orders)


def test_calculation_on_a_question_and_trigger(tmp_path: Path) -> None:
    path = form(tmp_path, [
        ["type", "name", "label", "calculation", "trigger"],
        ["integer", "adults", "Adults?", None, None],
        ["integer", "children", "Children?", None, None],
        ["integer", "size", "Household size", "${adults} + ${children}", None],
        ["text", "stamp", "Stamp", "concat('A', ${adults})", "${adults}"],
    ])  # fmt: skip
    conversion, data, survey = convert(path)
    assert data["questions"][2]["calculate"] == "${adults} + ${children}"
    assert data["questions"][3]["trigger"] == ["adults"]
    assert "form.xlsx:survey:4: integer question 'size' has a calculation: its value is computed and it is not " \
        "asked (ODK shows it read-only)" in warnings_of(conversion)  # fmt: skip
    assert [q.name for q in survey.questions if q.is_asked] == ["adults", "children"]
    state = runner.start(survey, date(2026, 3, 31), now=NOW).state
    state = runner.advance(survey, state, runner.TypedAnswer("2")).state
    state = runner.advance(survey, state, runner.TypedAnswer("3")).state
    assert state.current is None
    assert (state.answers["size"], state.answers["stamp"]) == ("5", "A2")
    # Back to children: size follows, stamp (triggered by adults only) stays.
    back = runner.back(survey, state).state
    again = runner.advance(survey, back, runner.TypedAnswer("4")).state
    assert (again.answers["size"], again.answers["stamp"]) == ("6", "A2")
    back = runner.back(survey, runner.back(survey, again).state).state
    assert back.current == "adults"
    changed = runner.advance(survey, back, runner.TypedAnswer("1")).state
    assert changed.answers["stamp"] == "A1"


def test_select_one_external_reads_the_external_choices_sheet(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    path = form(tmp_path, [
        ["type", "name", "label", "choice_filter"],
        ["select_one region", "region", "Region?", None],
        ["select_one_external district", "district", "District?", "region=${region}"],
    ], [["list_name", "name", "label"], ["region", "west", "West"], ["region", "east", "East"]])  # fmt: skip
    workbook = load_workbook(path)
    sheet = workbook.create_sheet("external_choices")
    for row in (["list_name", "name", "label", "region"], ["district", "kis", "Kisumu", "west"],
                ["district", "mom", "Mombasa", "east"]):  # fmt: skip
        sheet.append(row)
    workbook.save(path)
    conversion, data, survey = convert(path)
    assert data["choices"]["district"] == [
        {"name": "kis", "label": "Kisumu", "region": "west"}, {"name": "mom", "label": "Mombasa", "region": "east"},
    ]  # fmt: skip
    state = runner.start(survey, date(2026, 3, 31)).state
    state = runner.advance(survey, state, runner.PickChoice("east")).state
    assert [c.name for c in runner.visible_choices(survey.question("district"), state)] == ["mom"]
    # The YAML's choice lines point at the external_choices sheet.
    line = conversion.yaml_text.splitlines().index("    - {name: mom, label: Mombasa, region: east}") + 1
    assert conversion.source_of(line) == ("external_choices", 3)


def test_select_from_file_reads_the_csv_or_xml_next_to_the_form(tmp_path: Path) -> None:
    (tmp_path / "places.csv").write_text("name,label,zone\nnbo,Nairobi,c\nmsa,Mombasa,e\n", encoding="utf-8")
    (tmp_path / "crops.xml").write_text(
        "<root><item><name>mz</name><label>Maize</label></item><item><name>bn</name><label>Beans</label></item></root>",
        encoding="utf-8",
    )
    path = form(tmp_path, [
        ["type", "name", "label"],
        ["select_one_from_file places.csv", "place", "Place?"],
        ["select_multiple_from_file crops.xml", "crops", "Crops?"],
    ])  # fmt: skip
    _, data, survey = convert(path)
    assert data["questions"][0]["choices"] == "places_file"
    assert [(c.name, c.label.translations["en"], dict(c.columns)) for c in survey.question("place").choices] == [
        ("nbo", "Nairobi", {"zone": "c"}), ("msa", "Mombasa", {"zone": "e"}),
    ]  # fmt: skip
    assert survey.question("crops").type is QuestionType.SELECT_MULTIPLE
    assert [c.name for c in survey.question("crops").choices] == ["mz", "bn"]


def test_a_loop_over_a_list_becomes_a_group_per_choice(tmp_path: Path) -> None:
    path = form(tmp_path, [
        ["type", "name", "label", "constraint"],
        ["begin loop over yn", "per", "Per answer", None],
        ["integer", "count", "How many said %(label)s?", None],
        ["integer", "women", "How many of them are women?", ". >= 0"],
        ["end loop", None, None, None],
    ])  # fmt: skip
    conversion, _, survey = convert(path)
    assert [(q.name, q.groups) for q in survey.questions] == [
        ("count_yes", ("per", "per_yes")), ("women_yes", ("per", "per_yes")),
        ("count_no", ("per", "per_no")), ("women_no", ("per", "per_no")),
    ]  # fmt: skip
    assert survey.question("count_no").label.translations == {"en": "How many said No?"}
    assert survey.question("women_no").constraint is not None
    assert [(w.row, w.kind) for w in conversion.warnings] == [(2, "loop")]


# --------------------------------------------------------------------------------------------
# Item 5: read forms as pyxform does


def test_bind_headers_mean_what_they_mean(tmp_path: Path) -> None:
    path = form(tmp_path, [
        ["type", "name", "label", "bind:relevant", "bind:constraint", "bind:jr:constraintMsg"],
        ["integer", "age", "Age?", None, ". >= 0", "Not negative."],
        ["text", "job", "Job?", "${age} >= 15", None, None],
    ])  # fmt: skip
    _, data, _ = convert(path)
    assert data["questions"][0]["constraint"] == ". >= 0"
    assert data["questions"][0]["constraint_message"] == "Not negative."
    assert data["questions"][1]["relevant"] == "${age} >= 15"


@pytest.mark.parametrize(
    ("declaration", "code"),
    [("Tetun (tet)", "tet"), ("Swahili (swa)", "swa"), ("tet", "tet"), ("Tetum", "tet"), ("EN", "en"),
     ("English (en)", "en"), ("Português (pt-BR)", "pt-br")],
)  # fmt: skip
def test_iso_639_codes_and_names(declaration: str, code: str) -> None:
    assert language_code(declaration) == code


def test_three_letter_codes_load(tmp_path: Path) -> None:
    path = form(tmp_path, [["type", "name", "label::Tetun (tet)", "label::Kiswahili (swa)"], ["integer", "a", "Hira?", "Ngapi?"]],
                choices=(), settings=[["form_title", "form_id", "default_language"], ["T", "t", "tet"]])  # fmt: skip
    _, _, survey = convert(path)
    assert survey.default_language == "tet" and survey.languages == ("tet", "swa")


def test_choice_names_with_accents_punctuation_and_duplicates(tmp_path: Path) -> None:
    choices = [["list_name", "name", "label"], ["w", "Comunitário/Região", "Region"], ["w", "red’s", "Red"],
               [">150", ">150", "Many"], ["w", "foot paths", "Paths"]]  # fmt: skip
    path = form(tmp_path, [["type", "name", "label"], ["select_one w", "word", "Word?"]], choices)
    _, _, survey = convert(path)
    assert [c.name for c in survey.question("word").choices] == [
        "Comunitário/Região",
        "red's",
        "foot paths",
    ]  # straightened, as pyxform does
    duplicated = [["list_name", "name", "label", "zone"], ["c", "king", "King", "a"], ["c", "king", "King", "b"]]
    settings = [["form_title", "form_id", "allow_choice_duplicates"], ["T", "t", "yes"]]
    path = form(tmp_path, [["type", "name", "label"], ["select_one c", "county", "County?"]], duplicated, settings,
                name="dup.xlsx")  # fmt: skip
    _, data, survey = convert(path)
    assert data["allow_choice_duplicates"] is True
    assert [c.columns["zone"] for c in survey.question("county").choices] == ["a", "b"]


def test_nameless_notes_and_the_same_name_in_two_groups(tmp_path: Path) -> None:
    path = form(tmp_path, [
        ["type", "name", "label"],
        ["note", None, "Welcome!"],
        ["begin group", "mother", "Mother"], ["integer", "age", "Her age?"], ["end group", None, None],
        ["begin group", "father", "Father"], ["integer", "age", "His age?"], ["end group", None, None],
    ])  # fmt: skip
    conversion, _, survey = convert(path)
    assert [q.name for q in survey.questions] == ["generated_note_name_2", "age", "father_age"]
    assert conversion.renamed == {"age": "father_age"}
    assert "form.xlsx:survey:7: 'age' is also the name of an earlier question or group: renamed 'father_age'" in \
        warnings_of(conversion)  # fmt: skip
    assert "form.xlsx:survey:2: the note without a name is named 'generated_note_name_2'" in warnings_of(conversion)


def test_missing_translations_fall_back_with_a_warning(tmp_path: Path) -> None:
    survey: list[list[Any]] = [["type", "name", "label::English (en)", "label::French (fr)", "hint::French (fr)"],
              ["integer", "a", "How many?", "Combien ?", None], ["integer", "b", None, "Quel âge ?", "En années"],
              ["integer", "c", "Which?", None, None]]  # fmt: skip
    conversion, data, loaded = convert(form(tmp_path, survey, choices=()))
    assert "languages" not in data
    assert "form.xlsx:survey:3: no translation of hint in en; label in en: shown in the default language 'en' (or " \
        "the one the row has)" in warnings_of(conversion)  # fmt: skip
    assert "form.xlsx:survey:4: no translation of label in fr: shown in the default language 'en' (or the one the " \
        "row has)" in warnings_of(conversion)  # fmt: skip
    assert loaded.question("b").label.in_language("en", "en") == "Quel âge ?"
    assert loaded.question("c").label.in_language("fr", "en") == "Which?"


# --------------------------------------------------------------------------------------------
# Item 6: messages in the form's own terms


def test_each_line_of_a_multi_line_pyxform_error_is_positioned(tmp_path: Path) -> None:
    choices = [["list_name", "name", "label"], ["yn", "y", "Y"], ["yn", "y", "Y2"], ["yn", "n", "N"], ["yn", "n", "N2"]]
    path = form(tmp_path, [["type", "name", "label"], ["select_one yn", "a", "A?"]], choices)
    with pytest.raises(XlsformError) as caught:
        convert_xlsform(path)
    located = [(issue.sheet, issue.row) for issue in caught.value.issues]
    assert located == [("choices", 3), ("choices", 5)]
    assert all("Choice names must be unique" in issue.message for issue in caught.value.issues)


@pytest.mark.slow  # runs baraza as a new process
def test_import_shows_no_openpyxl_warnings_and_no_yaml_lines(tmp_path: Path) -> None:
    path = form(tmp_path, [["type", "name", "label", "constraint"], ["text", "code", "Code?", "regex(., '[')"]])
    result = subprocess.run(
        [sys.executable, "-W", "default", "-m", "bot.cli.main", "survey", "import", str(path)],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert "Warning" not in result.stderr and "site-packages" not in result.stderr
    assert result.stderr.splitlines()[0].startswith("form.xlsx:survey:2: constraint of question 'code': column 10")
    assert "YAML" not in result.stderr
