"""What deriving a response's order and wording costs per step; prints the figures.

    .venv/bin/python -m bench.arrangement [--questions 50 300] [--rounds 3]

A survey of ``--questions`` integer questions, a fifth of them in a group with ``randomize:
true`` and one worded differently by arm ``b`` of an experiment, is answered through the pure
runner. Every step of a real conversation derives the survey its response is asked
(:func:`surveys.arrangement.for_response`: the shuffled order from the response id, the arm's
labels) before the runner's ``advance`` and ``progress``; the figures give that derivation
alone and the whole step, beside the same step on the survey as written.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import date

from bench.machine import describe
from surveys import arrangement, runner
from surveys.loader import load_survey_text
from surveys.model import Survey

TODAY = date(2026, 5, 4)
SEED = "3f2b7a6e-5d1c-4e8a-9b0f-2c7d1e4a6b93"


def survey_of(questions: int) -> Survey:
    shuffled = max(2, questions // 5)
    inside = "\n".join(f"      - {{type: integer, name: s{i}, label: 'S{i}?'}}" for i in range(shuffled))
    after = "\n".join(f"  - {{type: integer, name: q{i}, label: 'Q{i}?'}}" for i in range(questions - shuffled))
    text = f"""id: bench
title: Bench
experiment: {{name: wording, arms: {{a: {{}}, b: {{labels: {{q1: "Q1, worded otherwise?"}}}}}}}}
questions:
  - type: group
    name: block
    randomize: true
    questions:
{inside}
{after}
"""
    return load_survey_text(text, "bench.yaml")


def step_times(survey: Survey, *, derive: bool) -> tuple[list[float], list[float]]:
    """(derivation times, whole step times) over one response, answering 3 everywhere."""
    shown = arrangement.for_response(survey, SEED, "b") if derive else survey
    state = runner.start(shown, TODAY).state
    derivations: list[float] = []
    steps: list[float] = []
    while state.current is not None:
        started = time.perf_counter()
        if derive:
            shown = arrangement.for_response(survey, SEED, "b")
        derived = time.perf_counter()
        outcome = runner.advance(shown, state, runner.TypedAnswer("3"))
        if outcome.state.current is not None:
            runner.progress(shown, outcome.state)
        steps.append(time.perf_counter() - started)
        derivations.append(derived - started)
        assert outcome.problem is None
        state = outcome.state
    return derivations, steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, nargs="+", default=[50, 300])
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    print(describe())
    print("| questions | derivation median ms | step median ms (derived) | step median ms (as written) |")
    print("|---|---|---|---|")
    for questions in arguments.questions:
        survey = survey_of(questions)
        derivations: list[float] = []
        derived: list[float] = []
        plain: list[float] = []
        for _ in range(arguments.rounds):
            found, steps = step_times(survey, derive=True)
            derivations += found
            derived += steps
            plain += step_times(survey, derive=False)[1]
        print(
            f"| {questions} | {1000 * statistics.median(derivations):.3f} | {1000 * statistics.median(derived):.3f} "
            f"| {1000 * statistics.median(plain):.3f} |"
        )


if __name__ == "__main__":
    main()
