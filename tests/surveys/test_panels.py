"""Waves of a panel without a database: ``panel:`` and ``prefill`` read with FILE:LINE problems,
``${last_wave.x}`` in expressions and texts, the previous answer offered to keep, and the waves
checked against each other."""

from __future__ import annotations

import re
import textwrap
from datetime import date
from pathlib import Path

import pytest

from bot.cli.survey import check
from surveys import panels, repeats, runner
from surveys.errors import SurveyFileError
from surveys.expressions import Environment, evaluate_string, parse
from surveys.loader import load_survey_directory, load_survey_text
from surveys.model import Survey
from surveys.substitution import substitute
from testkit.panel_waves import CHOICES, WAVE_1, WAVE_2, write_waves
from testkit.paths import ROOT

TODAY = date(2026, 12, 7)
YAML_BLOCK = re.compile(r"```yaml\n(.*?)```", re.S)
EARNED = {"employed": "yes", "income": "52000", "sector": "trade"}


def wave(text: str = WAVE_2, name: str = "lfs2026w2.yaml") -> Survey:
    return load_survey_text(text, name)


def problems(text: str) -> list[str]:
    with pytest.raises(SurveyFileError) as caught:
        load_survey_text(text, "form.yaml")
    return [str(problem) for problem in caught.value.problems]


def test_a_wave_knows_its_panel_and_the_previous_questions_it_names() -> None:
    second = wave()
    assert second.panel is not None and (second.panel.id, second.panel.wave) == ("lfs_panel", 2)
    assert second.question("income").prefill == "income"
    assert second.question("employed").prefill is None
    # each with the line of its first mention: the note's label, the note's relevant...
    assert dict(second.last_wave_names) == {"income": 7, "sector": 7}
    assert panels.previous_wave([wave(WAVE_1, "w1.yaml"), second], second) is not None


def test_last_wave_answers_are_read_by_expressions_like_answers() -> None:
    answers = panels.with_last_wave({"income": "60000"}, EARNED)
    environment = Environment(answers=answers, today=TODAY)
    assert evaluate_string(parse("${income} - ${last_wave.income}"), environment) == "8000"
    assert evaluate_string(parse("${last_wave.missing}"), environment) == ""


def test_last_wave_in_a_text_shows_the_choice_label_and_nothing_when_unknown() -> None:
    second = wave()
    text = "You earned ${last_wave.income} in ${last_wave.sector}."
    shown = substitute(text, second, panels.with_last_wave({}, EARNED), "en")
    assert shown == "You earned 52000 in Trade."
    assert substitute(text, second, {}, "en") == "You earned  in ."


def test_a_returning_member_sees_the_last_wave_and_keeps_the_prefilled_answer() -> None:
    second = wave()
    outcome = runner.start(second, TODAY, last_wave=EARNED)
    assert [note.name for note in outcome.notes] == ["welcome_back"]
    assert "last_wave.income" not in dict(outcome.recorded), "the previous wave is read, never recorded"
    state = runner.advance(second, outcome.state, runner.PickChoice("yes")).state
    assert state.current == "income"
    assert runner.offered_default(second.question("income"), state.answers) == "52000"
    kept = runner.advance(second, state, runner.UseDefault())
    assert ("income", "52000") in kept.recorded
    assert kept.state.current == "sector"
    sector = runner.advance(second, kept.state, runner.UseDefault())
    assert ("sector", "trade") in sector.recorded
    assert dict(sector.state.answers)["income_change"] == "0"
    assert all(not panels.is_last_wave(name) for name, _ in (*kept.recorded, *sector.recorded))


def test_a_changed_answer_is_checked_against_the_last_wave() -> None:
    second = wave()
    state = runner.advance(second, runner.start(second, TODAY, last_wave=EARNED).state, runner.PickChoice("yes")).state
    refused = runner.advance(second, state, runner.TypedAnswer("900000"))
    assert refused.problem is not None and refused.problem.code == "constraint"
    changed = runner.advance(second, state, runner.TypedAnswer("61000"))
    assert dict(changed.state.answers)["income_change"] == "9000"


def test_a_new_member_gets_no_note_no_prefill_and_no_constraint_from_a_wave_they_missed() -> None:
    second = wave()
    outcome = runner.start(second, TODAY)
    assert outcome.notes == ()
    state = runner.advance(second, outcome.state, runner.PickChoice("yes")).state
    assert runner.offered_default(second.question("income"), state.answers) is None
    assert runner.advance(second, state, runner.UseDefault()).problem is not None
    answered = runner.advance(second, state, runner.TypedAnswer("900000"))
    assert answered.problem is None and dict(answered.state.answers)["income_change"] == ""


def test_a_skipped_or_foreign_last_wave_answer_prefills_nothing() -> None:
    second = wave()
    for last in ({"employed": "no", "income": None}, {"sector": "mining"}):
        state = runner.start(second, TODAY, last_wave=last).state
        assert runner.offered_default(second.question("income"), state.answers) is None
        assert runner.offered_default(second.question("sector"), state.answers) is None


def test_resume_keeps_reading_the_last_wave() -> None:
    second = wave()
    resumed = runner.resume(second, {"employed": "yes"}, TODAY, last_wave=EARNED)
    assert resumed.state.current == "income"
    assert runner.offered_default(second.question("income"), resumed.state.answers) == "52000"


def test_last_wave_outside_a_later_wave_is_refused_with_its_line() -> None:
    form = """\
id: solo
title: Solo
questions:
  - {type: integer, name: income, label: "Income? (${last_wave.income})"}
  - {type: integer, name: rent, label: "Rent?", relevant: "${last_wave.rent} > 0"}
  - {type: integer, name: tax, label: "Tax?", prefill: last_wave}
"""
    found = problems(form)
    assert found[0].startswith("form.yaml:4: the label of question 'income': ${last_wave.income} needs a survey")
    assert found[1].startswith("form.yaml:5: relevant of question 'rent': column 1: ${last_wave.rent} needs")
    assert found[2].startswith("form.yaml:6: prefill of question 'tax': ${last_wave.tax} needs")
    assert len(problems(form.replace("id: solo", "id: solo\npanel: {id: p, wave: 1}"))) == 3


def test_bad_panels_and_prefills_are_refused_with_their_line() -> None:
    form = """\
id: bad
title: Bad
anonymous: true
panel: {id: p, wave: 0}
questions:
  - {type: integer, name: a, label: "A?", prefill: previous}
  - {type: calculate, name: b, calculate: "1", prefill: last_wave}
"""
    found = problems(form)
    assert any(p.startswith("form.yaml:4: the wave of panel") for p in found), found
    assert any(p.startswith("form.yaml:6: prefill of question 'a' must be 'last_wave'") for p in found), found
    assert any(p.startswith("form.yaml:7: a question that is not asked cannot be prefilled") for p in found), found
    found = problems(form.replace("wave: 0", "wave: 2"))
    assert any(p.startswith("form.yaml:3: an anonymous survey cannot be a wave of a panel") for p in found), found


def test_a_last_wave_name_the_previous_wave_lacks_is_refused_with_file_and_line(tmp_path: Path) -> None:
    broken = WAVE_2.replace("${last_wave.sector}.", "${last_wave.sectr}.")
    _, second = write_waves(tmp_path / "forms", broken)
    with pytest.raises(SurveyFileError) as caught:
        load_survey_directory(tmp_path / "forms")
    (problem,) = caught.value.problems
    assert str(problem) == (
        f"{second}:7: ${{last_wave.sectr}} is not a question of wave 1 ('lfs2026w1', {tmp_path / 'forms' / 'lfs2026w1.yaml'})"
    )


def test_survey_check_finds_the_previous_wave_beside_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = write_waves(tmp_path / "forms")
    assert check([second]) == 0
    assert "ok: survey 'lfs2026w2'" in capsys.readouterr().out
    second.write_text(WAVE_2.replace("prefill: last_wave\n    constraint", "prefill: last_wave.wage\n    constraint"))
    assert check([second]) == 1
    assert f"{second}:17: ${{last_wave.wage}} is not a question of wave 1" in capsys.readouterr().out
    first.unlink()
    assert check([second]) == 1
    assert "panel 'lfs_panel' has no wave 1 among the surveys" in capsys.readouterr().out


def test_two_surveys_cannot_be_the_same_wave(tmp_path: Path) -> None:
    write_waves(tmp_path / "forms")
    (tmp_path / "forms" / "copy.yaml").write_text(WAVE_1.replace("id: lfs2026w1", "id: lfs2026w1b"))
    with pytest.raises(SurveyFileError) as caught:
        load_survey_directory(tmp_path / "forms")
    assert {p.message.split(" (")[0] for p in caught.value.problems} == {
        "panel 'lfs_panel' wave 1 is also survey 'lfs2026w1'",
        "panel 'lfs_panel' wave 1 is also survey 'lfs2026w1b'",
    }


def test_the_worked_example_of_the_docs_loads_as_the_waves_the_tests_answer() -> None:
    text = (ROOT / "docs" / "fieldwork.md").read_text(encoding="utf-8")
    start = text.index("## Panels")
    section = text[start : text.index("\n## ", start)]
    blocks = [textwrap.dedent(block).replace("choices: ...\n", CHOICES) for block in YAML_BLOCK.findall(section)]
    documented = [load_survey_text(block, "docs.yaml") for block in blocks]
    tested = [load_survey_text(WAVE_1, "w1.yaml"), wave()]
    for doc, test in zip(documented, tested, strict=True):
        assert (doc.id, doc.panel.wave if doc.panel else None) == (test.id, test.panel.wave if test.panel else None)
        assert [name for name, _ in doc.last_wave_names] == [name for name, _ in test.last_wave_names]
        assert [(q.name, q.prefill, q.relevant, q.constraint, q.calculation) for q in doc.questions] == [
            (q.name, q.prefill, q.relevant, q.constraint, q.calculation) for q in test.questions
        ]


def test_a_question_in_a_repeat_pass_reads_the_last_wave_too() -> None:
    form = """\
id: roster
title: Roster
panel: {id: p, wave: 2}
questions:
  - type: repeat
    name: member
    label: member
    repeat_count: "2"
    questions:
      - {type: integer, name: age, label: "Age (${last_wave.size} people last time)", constraint: ". <= ${last_wave.size} * 100"}
"""
    survey = load_survey_text(form, "roster.yaml")
    state = runner.start(survey, TODAY, last_wave={"size": "1"}).state
    assert state.current == "member[1]/age"
    assert runner.advance(survey, state, runner.TypedAnswer("150")).problem is not None
    assert runner.advance(survey, state, runner.TypedAnswer("50")).problem is None
    here = repeats.view_at(survey, state.answers, state.current)
    assert (
        substitute(survey.question("age").label.in_language("en", "en"), survey, here, "en")
        == "Age (1 people last time)"
    )


def test_a_select_multiple_starts_with_the_last_waves_ticks() -> None:
    form = """\
id: crops
title: Crops
panel: {id: farm, wave: 3}
questions:
  - {type: select_multiple, name: crops, label: "Crops grown?", choices: crops, prefill: last_wave}
choices:
  crops:
    - {name: maize, label: Maize}
    - {name: beans, label: Beans}
    - {name: rice, label: Rice}
"""
    survey = load_survey_text(form, "crops.yaml")
    assert runner.start(survey, TODAY, last_wave={"crops": "maize rice"}).state.selection == ("maize", "rice")
    assert runner.start(survey, TODAY, last_wave={"crops": "maize cassava"}).state.selection == ()
    assert runner.start(survey, TODAY).state.selection == ()
