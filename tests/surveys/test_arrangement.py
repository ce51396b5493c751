"""Question order shuffled per response and experiment wording: pure, derived from the seed and arm."""

from __future__ import annotations

import pytest

from common.problems import FileProblem
from surveys import arrangement, runner
from surveys.errors import SurveyFileError
from surveys.loader import load_survey_text
from surveys.model import Survey

SHUFFLED = """
id: shuffled
title: Shuffled
questions:
  - {type: select_one, name: owns_car, label: "Own a car?", choices: [{name: "yes", label: Yes}, {name: "no", label: No}]}
  - type: group
    name: trust
    randomize: true
    questions:
      - {type: integer, name: t_police, label: "Trust the police?", min: 1, max: 5}
      - {type: integer, name: t_courts, label: "Trust the courts?", min: 1, max: 5}
      - {type: integer, name: t_press, label: "Trust the press?", min: 1, max: 5}
      - type: group
        name: car
        questions:
          - {type: integer, name: t_roads, label: "Trust road police?", min: 1, max: 5, relevant: "${owns_car} = 'yes'"}
          - {type: integer, name: t_garage, label: "Trust garages?", min: 1, max: 5}
  - {type: integer, name: age, label: "Age?"}
"""

SEEDS = [f"response-{number}" for number in range(30)]


@pytest.fixture
def shuffled() -> Survey:
    return load_survey_text(SHUFFLED, "shuffled.yaml")


def walk(survey: Survey, seed: str, answer_car: str = "yes") -> list[str]:
    """Answer every question of the response with ``seed``; the names in the order asked."""
    arranged = arrangement.for_response(survey, seed)
    outcome = runner.start(arranged)
    asked: list[str] = []
    while not outcome.finished:
        state = outcome.state
        assert state.current is not None
        asked.append(state.current)
        assert runner.progress(arranged, state).position == len(asked)
        action = runner.PickChoice(answer_car) if state.current == "owns_car" else runner.TypedAnswer("3")
        outcome = runner.advance(arranged, state, action)
        assert outcome.problem is None
    return asked


def test_the_order_is_the_same_for_the_same_seed(shuffled: Survey) -> None:
    assert walk(shuffled, "r-1") == walk(shuffled, "r-1")
    assert arrangement.question_order(shuffled, "r-1") == arrangement.question_order(shuffled, "r-1")


def test_different_seeds_give_different_orders(shuffled: Survey) -> None:
    orders = {tuple(walk(shuffled, seed)) for seed in SEEDS}
    assert len(orders) > 10


def test_every_question_is_asked_once_and_only_the_group_moves(shuffled: Survey) -> None:
    for seed in SEEDS:
        asked = walk(shuffled, seed)
        assert sorted(asked) == sorted(q.name for q in shuffled.questions)
        assert asked[0] == "owns_car" and asked[-1] == "age"


def test_a_nested_group_moves_as_one_item(shuffled: Survey) -> None:
    for seed in SEEDS:
        asked = walk(shuffled, seed)
        assert asked.index("t_garage") == asked.index("t_roads") + 1


def test_relevance_is_honoured_inside_a_shuffled_group(shuffled: Survey) -> None:
    for seed in SEEDS[:10]:
        asked = walk(shuffled, seed, answer_car="no")
        assert "t_roads" not in asked and "t_garage" in asked
        assert len(asked) == len(shuffled.questions) - 1


def test_the_shown_order_is_recorded_by_group(shuffled: Survey) -> None:
    for seed in SEEDS[:5]:
        asked = walk(shuffled, seed)
        shown = arrangement.shown_orders(shuffled, seed)
        assert shown["trust"].split() == [name for name in asked if name not in ("owns_car", "age")]


def test_a_question_reading_another_item_of_a_shuffled_group_is_refused() -> None:
    text = SHUFFLED.replace("relevant: \"${owns_car} = 'yes'\"", 'relevant: "${t_press} > 2"')
    with pytest.raises(SurveyFileError) as refused:
        load_survey_text(text, "shuffled.yaml")
    assert refused.value.problems == [
        FileProblem(
            "shuffled.yaml",
            16,
            "'t_roads' reads ${t_press}, but group 'trust' is shuffled (randomize) and may ask 't_press' after it; "
            "put the two in one nested group, or take them out of the shuffled group",
        )
    ]


EXPERIMENT = """
id: trial
title: Trial
experiment:
  name: wording
  arms:
    a: {}
    b:
      labels:
        income: {en: "What did your household earn last month, all sources together?"}
      notice: {en: "Five minutes on household income"}
questions:
  - {type: integer, name: income, label: {en: "Household income last month?"}}
  - {type: text, name: comment, label: {en: "Anything else?"}, required: false}
"""


def test_an_experiment_arm_changes_the_wording_of_its_questions_only() -> None:
    survey = load_survey_text(EXPERIMENT, "trial.yaml")
    assert survey.experiment is not None and survey.experiment.arm_names == ("a", "b")
    worded = arrangement.for_response(survey, "r-1", "b")
    assert worded.question("income").label.in_language("en", "en").startswith("What did your household earn")
    assert worded.question("comment").label == survey.question("comment").label
    assert arrangement.for_response(survey, "r-1", "a") is survey
    notice = survey.experiment.arms[1].notice
    assert notice is not None and notice.in_language("en", "en") == "Five minutes on household income"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (("    a: {}\n", ""), "7: an experiment needs at least two arms"),
        (("        income:", "        incomes:"), "10: arm 'b': 'incomes' is not a question the survey shows"),
        (("    a: {}", "    a b: {}"), "7: arm 'a b': an arm's name is 1 to 40 letters, digits, _ or -"),
        (("      notice:", "      notise:"), "11: unknown key 'notise' in arm 'b' (known keys: labels, notice)"),
        (("  arms:\n", "  armz:\n"), "6: unknown key 'armz' in the experiment (known keys: arms, name)"),
    ],
)
def test_a_bad_experiment_is_reported_at_its_line(change: tuple[str, str], problem: str) -> None:
    with pytest.raises(SurveyFileError) as refused:
        load_survey_text(EXPERIMENT.replace(*change), "trial.yaml")
    assert f"trial.yaml:{problem}" in [str(found) for found in refused.value.problems]


def test_an_arm_drawn_from_a_pseudonym_is_stable_and_both_arms_occur() -> None:
    survey = load_survey_text(EXPERIMENT, "trial.yaml")
    assert survey.experiment is not None
    drawn = [arrangement.arm_for(survey.experiment, f"pseudonym-{n}") for n in range(200)]
    assert drawn == [arrangement.arm_for(survey.experiment, f"pseudonym-{n}") for n in range(200)]
    assert 60 < drawn.count("a") < 140


@pytest.mark.parametrize("size", [0, 1, 7, 10, 31])
def test_balanced_arms_differ_by_one_at_most_and_repeat_with_the_seed(size: int) -> None:
    drawn = arrangement.balanced_arms(("a", "b", "c"), size, "2026:north")
    assert len(drawn) == size
    counts = [drawn.count(arm) for arm in ("a", "b", "c")]
    assert max(counts) - min(counts) <= 1
    assert drawn == arrangement.balanced_arms(("a", "b", "c"), size, "2026:north")


def test_a_label_showing_another_item_of_a_shuffled_group_is_refused() -> None:
    text = SHUFFLED.replace('label: "Trust the courts?"', 'label: "You said ${t_police} for the police; the courts?"')
    with pytest.raises(SurveyFileError) as refused:
        load_survey_text(text, "shuffled.yaml")
    assert [problem.line for problem in refused.value.problems] == [11]
    assert "'t_courts' reads ${t_police}, but group 'trust' is shuffled" in refused.value.problems[0].message
