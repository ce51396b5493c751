"""The published figures of 300 synthetic responses: weighted shares and intervals equal an
independent raking and Kish/Wilson computation written here with numpy; no shown figure rests on
fewer than 10 respondents; and no hidden figure can be solved from the figures shown."""

from __future__ import annotations

import math

import numpy as np
import pytest

from results.report import NOT_GIVEN, Respondent, ResultsReport, build_report, from_json, to_json
from results.suppression import Equation, suppress
from surveys.model import Survey
from testkit.results import SECRET_COMMENT, reference_share, reference_weights, synthetic_respondents, write_survey

Z = 1.959963984540054  # the 97.5% normal quantile


@pytest.fixture(scope="module")
def survey(tmp_path_factory: pytest.TempPathFactory) -> Survey:
    return write_survey(tmp_path_factory.mktemp("results"))


@pytest.fixture(scope="module")
def report(survey: Survey) -> ResultsReport:
    return build_report(survey, synthetic_respondents(300), None)


def test_weighted_shares_and_intervals_match_an_independent_raking(report: ResultsReport) -> None:
    people = synthetic_respondents(300)
    weights = reference_weights()
    satisfaction = np.array([p.answers["satisfaction"] for p in people])
    assert report.weighted and report.respondents == 300
    for cell in report.question("satisfaction").overall.cells:
        if cell.hidden:
            continue
        share, low, high = reference_share(satisfaction == cell.choice, weights)
        assert cell.share == pytest.approx(share, abs=1e-6)
        assert (cell.low, cell.high) == (pytest.approx(low, abs=1e-6), pytest.approx(high, abs=1e-6))
    # Within a group the design effect is the group's own.
    groups = np.array([p.profile["user_group"] for p in people])
    researchers = next(
        g for b in report.question("satisfaction").breakdowns for g in b.groups if g.category == "researcher"
    )
    good = next(c for c in researchers.cells if c.choice == "good")
    mask = groups == "researcher"
    share, low, high = reference_share(satisfaction[mask] == "good", weights[mask])
    assert (good.share, good.low, good.high) == pytest.approx((share, low, high), abs=1e-6)
    # Weighting moves the figure: unweighted, "good" would be 132/300.
    assert abs(report.question("satisfaction").overall.cells[1].share - 132 / 300) > 0.005  # type: ignore[operator]


def test_the_weighted_mean_matches_numpy(report: ResultsReport) -> None:
    people = synthetic_respondents(300)
    weights = reference_weights()
    visits = np.array([float(p.answers["visits"] or 0) for p in people])
    mean = np.average(visits, weights=weights)
    n_eff = weights.sum() ** 2 / (weights**2).sum()
    spread = Z * math.sqrt(np.average((visits - mean) ** 2, weights=weights) / (n_eff - 1))
    overall = report.question("visits").overall
    assert (overall.mean, overall.low, overall.high) == pytest.approx((mean, mean - spread, mean + spread), abs=1e-6)


def test_free_text_is_never_in_the_report(report: ResultsReport) -> None:
    assert "comment" not in {q.name for q in report.questions}
    assert SECRET_COMMENT not in to_json(report)


def test_no_shown_figure_rests_on_fewer_than_min_cell_respondents(report: ResultsReport) -> None:
    assert report.min_cell == 10
    small = 0
    for question in report.questions:
        for group in [question.overall, *(g for b in question.breakdowns for g in b.groups)]:
            if not group.hidden:
                assert group.respondents >= 10
            for cell in group.cells:
                small += 0 < cell.count < 10
                if not cell.hidden:
                    assert cell.count == 0 or cell.count >= 10, (question.name, group.category, cell)
                    assert not group.hidden
    assert small > 10, "the synthetic data has small cells to suppress"


def determined(equations: list[tuple[str, list[str]]], known: dict[str, int], unknown: list[str]) -> set[str]:
    """The unknown cells that the linear system of sums pins down exactly (whatever the others)."""
    if not unknown:
        return set()
    index = {name: i for i, name in enumerate(unknown)}
    matrix = []
    for total, parts in equations:
        row = np.zeros(len(unknown))
        for term, sign in [(total, -1.0)] + [(part, 1.0) for part in parts]:
            if term in index:
                row[index[term]] += sign
        if row.any():
            matrix.append(row)
    if not matrix:
        return set()
    system = np.array(matrix)
    rank = np.linalg.matrix_rank(system)
    found = set()
    for name, i in index.items():
        unit = np.zeros(len(unknown))
        unit[i] = 1.0
        if np.linalg.matrix_rank(np.vstack([system, unit])) == rank:
            found.add(name)
    return found


@pytest.mark.parametrize("question", ["satisfaction", "uses", "visits"])
def test_hidden_cells_cannot_be_derived_from_the_totals_shown(report: ResultsReport, question: str) -> None:
    found = report.question(question)
    known: dict[str, int] = {}
    unknown: list[str] = []

    def note(name: str, count: int, hidden: bool) -> None:
        if hidden:
            unknown.append(name)
        else:
            known[name] = count

    note("N", found.overall.respondents, found.overall.hidden)
    choices = [cell.choice for cell in found.overall.cells]
    for cell in found.overall.cells:
        note(f"C:{cell.choice}", cell.count, cell.hidden)
    equations: list[tuple[str, list[str]]] = []
    if question == "satisfaction":
        equations.append(("N", [f"C:{c}" for c in choices]))
    for breakdown in found.breakdowns:
        d = breakdown.dimension
        equations.append(("N", [f"R:{d}:{g.category}" for g in breakdown.groups]))
        for g in breakdown.groups:
            note(f"R:{d}:{g.category}", g.respondents, g.hidden)
            for cell in g.cells:
                note(f"X:{d}:{g.category}:{cell.choice}", cell.count, cell.hidden)
            if question == "satisfaction":
                equations.append((f"R:{d}:{g.category}", [f"X:{d}:{g.category}:{c}" for c in choices]))
        for c in choices:
            equations.append((f"C:{c}", [f"X:{d}:{g.category}:{c}" for g in breakdown.groups]))
    # The sums hold on the true counts (the system is the right one).
    truth = {**known, **{name: _true(found, name) for name in unknown}}
    for total, parts in equations:
        assert truth[total] == sum(truth[p] for p in parts) or (question == "uses" and total.startswith("R"))
    assert unknown or question == "visits", "something is hidden"
    assert determined(equations, known, unknown) == set()


def _true(found: object, name: str) -> int:
    from results.report import QuestionResults

    assert isinstance(found, QuestionResults)
    kind, *rest = name.split(":")
    if kind == "N":
        return found.overall.respondents
    if kind == "C":
        return next(c.count for c in found.overall.cells if c.choice == rest[0])
    breakdown = next(b for b in found.breakdowns if b.dimension == rest[0])
    group = next(g for g in breakdown.groups if g.category == rest[1])
    if kind == "R":
        return group.respondents
    return next(c.count for c in group.cells if c.choice == rest[2])


def test_the_attack_would_find_a_cell_hidden_without_secondary_suppression() -> None:
    # Row 3 + 40 = 43 with the 3 hidden alone: the total gives it away; suppression hides the 40 too.
    counts = {"t": 43, "a": 3, "b": 40}
    assert determined([("t", ["a", "b"])], {"t": 43, "b": 40}, ["a"]) == {"a"}
    assert suppress(counts, [Equation("t", ("a", "b"))], 10) == {"a", "b"}


def test_people_without_a_region_are_a_group_of_their_own(report: ResultsReport) -> None:
    regions = next(b for b in report.question("satisfaction").breakdowns if b.dimension == "region")
    assert [g.category for g in regions.groups] == ["north", "south", "east", "west", NOT_GIVEN]
    assert sum(g.respondents for g in regions.groups) == 300


def test_a_snapshot_reads_back_as_the_same_report(report: ResultsReport) -> None:
    assert from_json(to_json(report)) == report


def test_without_margins_the_figures_are_plain_shares(survey: Survey) -> None:
    from dataclasses import replace

    plain = replace(survey, results=replace(survey.results, margins=()))
    report = build_report(plain, synthetic_respondents(300), None)
    good = report.question("satisfaction").overall.cells[1]
    assert not report.weighted and report.effective_size == 300
    assert good.share == pytest.approx(132 / 300)


def test_answers_with_codes_the_survey_no_longer_has_are_left_out(survey: Survey) -> None:
    profile = {"user_group": "citizen", "region": "north", "language": "en", "channel": "web"}
    people = [*synthetic_respondents(300), *[Respondent(profile, {"satisfaction": "removed_choice"})] * 20]
    overall = build_report(survey, people, None).question("satisfaction").overall
    assert overall.respondents == 300 and sum(cell.count for cell in overall.cells) == 300
