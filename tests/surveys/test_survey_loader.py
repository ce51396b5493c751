"""Survey files: the shipped survey loads, and every kind of mistake is reported as FILE:LINE."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from surveys.errors import SurveyFileError
from surveys.loader import load_survey_directory, load_survey_text
from surveys.model import QuestionType, Survey
from testkit.paths import FORMS, ROOT


def problems_of(text: str) -> list[str]:
    with pytest.raises(SurveyFileError) as caught:
        load_survey_text(text, "form.yaml")
    return [str(problem) for problem in caught.value.problems]


def test_shipped_survey_covers_the_user_satisfaction_topics_in_english_and_french(usat: Survey) -> None:
    names = [q.name for q in usat.questions]
    for expected in ("user_group", "frequency", "purposes", "sat_relevance", "sat_timeliness",
                     "sat_accessibility", "sat_clarity", "sat_overall", "comments"):  # fmt: skip
        assert expected in names
    assert usat.languages == ("en", "fr")
    for question in usat.questions:
        assert set(question.label.translations) == {"en", "fr"}, question.name
        for choice in question.choices:
            assert set(choice.label.translations) == {"en", "fr"}, (question.name, choice.name)
    assert usat.question("topics").type is QuestionType.SELECT_MULTIPLE
    assert not usat.question("comments").required


def test_choices_can_be_a_named_list_or_inline_or_xlsform_spelling() -> None:
    survey = load_survey_text(
        """
id: s1
title: T
questions:
  - {type: select_one, name: a, label: A, choices: yn}
  - {type: select_one yn, name: b, label: B}
  - {type: select_multiple, name: c, label: C, choices: [{name: p, label: P}]}
choices:
  yn: [{name: "yes", label: Yes}, {name: "no", label: No}]
""",
        "f.yaml",
    )
    assert [c.name for c in survey.question("a").choices] == ["yes", "no"]
    assert [c.name for c in survey.question("b").choices] == ["yes", "no"]
    assert [c.name for c in survey.question("c").choices] == ["p"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "id: s\ntitle: T\nquestions:\n  - {type: slider, name: a, label: A}\n",
            "form.yaml:4: unknown question type 'slider'",
        ),
        (
            "id: s\ntitle: T\nquestions:\n  - {type: text, name: a, label: A}\n  - {type: text, name: a, label: B}\n",
            "form.yaml:5: question name 'a' is already used on line 4",
        ),
        ("id: s\ntitle: T\nquestions:\n  - {type: text, name: a}\n", "form.yaml:4: question 'a' has no label"),
        (
            "id: s\ntitle: T\nquestions:\n  - {type: select_one, name: a, label: A, choices: nope}\n",
            "form.yaml:4: question 'a' uses the choice list 'nope', which is not defined",
        ),
        (
            "id: 'bad id!'\ntitle: T\nquestions:\n  - {type: text, name: a, label: A}\n",
            "form.yaml:1: survey id 'bad id!'",
        ),
        ("id: s\ntitle: T\nquestions:\n  - {type: text, name: a, label: A\n", "form.yaml:5: YAML syntax error"),
        (
            "id: s\ntitle: T\nquestions:\n  - {type: text, name: a, label: A, requried: no}\n",
            "form.yaml:4: unknown key 'requried'",
        ),
        (
            "id: s\ntitle: T\nquestions:\n  - {type: integer, name: a, label: A, min: 5, max: 1}\n",
            "form.yaml:4: max of question 'a' is smaller",
        ),
        (
            "id: s\ntitle: {fr: T}\nquestions:\n  - {type: text, name: a, label: A}\n",
            "form.yaml:2: title has no text in the default language 'en'",
        ),
        (
            "id: s\ntitle: T\nquestions:\n  - {type: text, name: 2a, label: A}\n",
            "form.yaml:4: question name '2a' must start",
        ),
        ("title: T\nquestions:\n  - {type: text, name: a, label: A}\n", "form.yaml:1: the survey has no 'id'"),
    ],
)
def test_problem_is_reported_with_file_and_line(text: str, expected: str) -> None:
    assert any(problem.startswith(expected) for problem in problems_of(text)), problems_of(text)


def test_all_problems_of_a_file_are_reported_at_once() -> None:
    problems = problems_of(
        "id: s\ntitle: T\nquestions:\n  - {type: slider, name: a, label: A}\n  - {type: text, name: b}\n"
    )
    assert [p.split(":")[1] for p in problems] == ["4", "5"]


def test_question_mark_in_flow_style_gets_a_hint_about_quotes() -> None:
    (problem,) = problems_of("id: s\ntitle: T\nquestions:\n  - {type: text, name: a, label: Why?, hint: x}\n")
    assert "in quotes" in problem


def test_two_files_with_the_same_id_are_refused(forms_dir: Path) -> None:
    body = "id: same\ntitle: T\nquestions:\n  - {type: text, name: a, label: A}\n"
    (forms_dir / "a.yaml").write_text(body)
    (forms_dir / "b.yaml").write_text(body)
    with pytest.raises(SurveyFileError, match="also used by"):
        load_survey_directory(forms_dir)


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli.main", *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


@pytest.mark.slow  # runs baraza as a new process
def test_survey_check_accepts_the_shipped_survey() -> None:
    result = run_cli("survey", "check", str(FORMS / "usat2026.yaml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok: survey 'usat2026'" in result.stdout


@pytest.mark.slow  # runs baraza as a new process
def test_survey_check_prints_file_line_message_and_exits_1(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "id: s\ntitle: T\nquestions:\n  - {type: text, name: a, label: A}\n  - {type: magic, name: b, label: B}\n"
    )
    result = run_cli("survey", "check", str(broken))
    assert result.returncode == 1
    assert result.stdout.startswith(f"{broken}:5: unknown question type 'magic'")


@pytest.mark.slow  # runs baraza as a new process
def test_run_refuses_to_start_on_an_invalid_survey(tmp_path: Path) -> None:
    forms = tmp_path / "forms"
    forms.mkdir()
    (forms / "bad.yaml").write_text("id: s\ntitle: T\nquestions:\n  - {type: text, name: a}\n")
    config = tmp_path / "config.yaml"
    config.write_text(
        f"surveys: {{directory: {forms}}}\ndatabase: {{url: 'sqlite+aiosqlite:///{tmp_path}/db.sqlite'}}\n"
    )
    result = run_cli("--config", str(config), "run")
    assert result.returncode == 1
    assert f"{forms / 'bad.yaml'}:4: question 'a' has no label" in result.stderr
    assert "not starting" in result.stderr


HEAD = "id: s\ntitle: T\nquestions:\n"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "  - {type: integer, name: age, label: Age}\n  - {type: text, name: b, label: B, relevant: '${age} >> 3'}\n",
            "form.yaml:5: relevant of question 'b': column 9: expected a value, found '>'",
        ),
        (
            "  - {type: text, name: a, label: A, relevant: '${b} = 1'}\n  - {type: text, name: b, label: B}\n",
            "form.yaml:4: relevant of question 'a': column 1: ${b} refers to a later question",
        ),
        (
            "  - {type: text, name: a, label: A, constraint: '${nope} = 1'}\n",
            "form.yaml:4: constraint of question 'a': column 1: ${nope} is not a question of this survey",
        ),
        (
            "  - {type: text, name: a, label: A, relevant: 'foo(1)'}\n",
            "form.yaml:4: relevant of question 'a': column 1:",
        ),
        (
            "  - {type: select_one, name: r, label: R, choices: [{name: n, label: N}]}\n"
            "  - {type: select_one, name: d, label: D, choice_filter: 'zone = ${r}', choices: [{name: x, label: X, region: n}]}\n",
            "form.yaml:5: choice_filter of question 'd': 'zone' is not a column of its choices",
        ),
        (
            "  - {type: calculate, name: c, calculate: '${c} + 1'}\n",
            "form.yaml:4: calculate of question 'c': column 1: ${c} refers to itself",
        ),
        (
            "  - {type: select_one, name: a, label: A, correct: x, choices: [{name: y, label: Y}]}\n",
            "form.yaml:4: question 'a' has 'correct' or 'explanation', which only quizzes use",
        ),
        (
            "  - type: group\n    name: g\n    relevant: '${later} = 1'\n    questions:\n      - {type: text, name: later, label: L}\n",
            "form.yaml:6: relevant of group 'g': column 1: ${later} refers to itself",
        ),
        (
            "  - {type: text, name: a, label: A, appearance: carousel}\n",
            "form.yaml:4: appearance 'carousel' of question 'a' has no chat rendering",
        ),
    ],
)
def test_expression_and_logic_problems_are_positioned(body: str, expected: str) -> None:
    problems = problems_of(HEAD + body)
    assert any(problem.startswith(expected) for problem in problems), problems


def test_declared_languages_must_all_be_translated() -> None:
    problems = problems_of(
        "id: s\ntitle: {en: T, fr: T}\nlanguages: [en, fr]\nquestions:\n"
        "  - {type: text, name: a, label: {en: A, fr: A}}\n  - {type: text, name: b, label: {en: B}}\n"
    )
    assert problems == ["form.yaml:6: the label of question 'b' has no text in 'fr'"]


def test_groups_flatten_with_their_relevance() -> None:
    survey = load_survey_text(
        HEAD + "  - {type: integer, name: age, label: Age}\n"
        "  - type: group\n    name: adults\n    relevant: '${age} >= 18'\n    questions:\n"
        '      - {type: text, name: job, label: Job, relevant: "${age} < 70"}\n',
        "form.yaml",
    )
    job = survey.question("job")
    assert job.groups == ("adults",)
    assert [e.source for e in job.relevant] == ["${age} >= 18", "${age} < 70"]


# --------------------------------------------------------------------------------------------
# Issue 16: keys and types that XLSForm forms bring


def test_xlsform_keys_of_issue_16() -> None:
    survey = load_survey_text(
        """
id: s16
title: S
default_language: tet
allow_choice_duplicates: true
questions:
  - {type: start, name: start}
  - {type: select_one, name: water, label: Bee, or_other: true, randomize: true, choices: src}
  - {type: integer, name: size, label: Size, calculate: "1 + 1", trigger: ["${water}"]}
  - {type: time, name: woke, label: {tet: Oras, x-klingon: Rep}}
choices:
  src:
    - {name: "Comunitário/Região", label: A}
    - {name: "Comunitário/Região", label: B}
    - {name: "foot paths", label: C}
""",
        "form.yaml",
    )
    assert [q.name for q in survey.questions] == ["start", "water", "water_other", "size", "woke"]
    assert [q.name for q in survey.questions if q.is_asked] == ["water", "water_other", "woke"]
    water = survey.question("water")
    assert water.randomize and [c.name for c in water.choices][-1] == "other"
    assert survey.question("water_other").relevant[0].source == "selected(${water}, 'other')"
    assert survey.question("size").trigger == ("water",) and survey.question("size").is_computed
    assert survey.languages == ("tet", "x-klingon")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("  - {type: integer, name: a, label: A, randomize: true}",
         "form.yaml:4: 'randomize' only applies to select questions (question 'a')"),
        ("  - {type: text, name: a, label: A, or_other: true}",
         "form.yaml:4: 'or_other' only applies to select questions (question 'a')"),
        ("  - {type: text, name: a, label: A, trigger: x}",
         "form.yaml:4: 'trigger' needs 'calculate' on a question that is not a calculate (question 'a')"),
        ("  - {type: note, name: a, label: A, calculate: '1'}",
         "form.yaml:4: a note question cannot have 'calculate' (question 'a')"),
        ("  - {type: select_multiple, name: a, label: A, choices: [{name: x y, label: X}]}",
         "form.yaml:4: question 'a' is a select_multiple and its choice 'x y' has a space in its name"),
        ("  - {type: select_one, name: a, label: A, choices: [{name: x, label: X}, {name: x, label: Y}]}",
         "form.yaml:4: choice name 'x' appears twice in the choices of question 'a' (allow it with "
         "allow_choice_duplicates: true)"),
        ("  - {type: select_one, name: a, label: A, or_other: true, choices: [{name: other, label: O}]}",
         "form.yaml:4: question 'a' has or_other and its list already has a choice 'other'"),
    ],
)  # fmt: skip
def test_issue_16_problems(body: str, expected: str) -> None:
    assert expected in problems_of(f"id: s\ntitle: S\nquestions:\n{body}\n")
