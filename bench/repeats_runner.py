"""How the pure runner's step time grows with the passes of a repeat; prints the figures.

    .venv/bin/python -m bench.repeats_runner [--members 5 20 50] [--rounds 3]

The household survey of ``testkit.household`` is answered through :mod:`surveys.runner` alone
(no database, no chat) with ``--members`` passes of its member repeat and as many children: the
time of one step (``advance`` plus the ``progress`` a prompt shows) is printed as the median and
the slowest, beside the shipped survey without repeats for comparison. Every step walks the
survey expanded over its passes, so a step costs time in proportion to the answers so far.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import date

from bench.machine import describe
from surveys import runner
from surveys.loader import load_survey_file
from surveys.model import Survey
from testkit import paths
from testkit.household import household_survey

TODAY = date(2026, 5, 4)


def _household_actions(members: int) -> list[runner.Action]:
    actions: list[runner.Action] = [runner.TypedAnswer("Kisumu")]
    for number in range(1, members + 1):
        actions += [runner.TypedAnswer(f"Member {number}"), runner.TypedAnswer(str(10 + number % 60))]
        if 10 + number % 60 >= 15:
            actions.append(runner.PickChoice("1"))
        actions.append(runner.PickChoice("yes" if number < members else "no"))
    actions.append(runner.TypedAnswer(str(min(members, 10))))
    actions += [runner.TypedAnswer(f"School {n}") for n in range(min(members, 10))]
    actions.append(runner.TypedAnswer("4"))
    return actions


def _usat_actions(survey: Survey) -> list[runner.Action]:
    """Answers the shipped survey: the first choice, or 3 where a number is asked."""
    state = runner.start(survey, TODAY).state
    actions: list[runner.Action] = []
    while state.current is not None:
        question = survey.question(state.current)
        if question.choices:
            action: runner.Action = runner.PickChoice(question.choices[0].name)
            if question.type.value == "select_multiple":
                action = runner.TypedAnswer("1")
        elif question.type.value == "date":
            action = runner.TypedAnswer("2026-03-31")
        else:
            action = runner.TypedAnswer("3")
        actions.append(action)
        state = runner.advance(survey, state, action).state
    return actions


def _step_times(survey: Survey, actions: list[runner.Action]) -> list[float]:
    state = runner.start(survey, TODAY).state
    times: list[float] = []
    for action in actions:
        started = time.perf_counter()
        outcome = runner.advance(survey, state, action)
        if outcome.state.current is not None:
            runner.progress(survey, outcome.state)
        times.append(time.perf_counter() - started)
        assert outcome.problem is None, (state.current, action, outcome.problem)
        state = outcome.state
    assert state.current is None, "the walk reaches the end"
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, nargs="+", default=[5, 20, 50])
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    print(describe())
    usat = load_survey_file(paths.ROOT / "office" / "surveys" / "usat2026.yaml")
    cases = [("usat2026 (no repeats)", usat, _usat_actions(usat))]
    household = household_survey()
    cases += [(f"household, {n} members", household, _household_actions(n)) for n in arguments.members]
    print(f"{'survey':<26} {'steps':>6} {'median ms/step':>15} {'slowest ms':>11}")
    for name, survey, actions in cases:
        best: list[float] | None = None
        for _ in range(arguments.rounds):
            times = _step_times(survey, actions)
            if best is None or sum(times) < sum(best):
                best = times
        assert best is not None
        print(f"{name:<26} {len(actions):>6} {statistics.median(best) * 1000:>15.2f} {max(best) * 1000:>11.2f}")


if __name__ == "__main__":
    main()
