"""Panels: surveys that are waves of one panel, and what a wave knows of the one before it.

A survey says ``panel: {id: lfs_panel, wave: 2}``; its *previous wave* is the survey of the same
panel with wave 1, which stays in the surveys folder while the panel runs (closed with
``closes:``). The person is followed from wave to wave by their contact.

The previous wave's answers of the person reach the pure runner as data: beside the answers so
far, under the keys ``last_wave.NAME`` (:func:`with_last_wave`), so ``${last_wave.income}`` reads
them in relevance, constraints, calculations and texts as it reads any answer (empty when the
person did not answer it, or was not in the previous wave), and a question with
``prefill: last_wave`` offers that answer to keep (:func:`surveys.runner.offered_default`). The
runner never records them: it records only the survey's own questions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from common.problems import FileProblem
from surveys.model import Survey

LAST_WAVE = "last_wave"
#: The keys of the previous wave's answers among the runner's answers: ``last_wave.income``.
PREFIX = f"{LAST_WAVE}."


def is_last_wave(name: str) -> bool:
    """Whether ``name`` (as in ``${name}``) names an answer of the previous wave."""
    return name.startswith(PREFIX)


def last_wave_key(name: str) -> str:
    """The key of the previous wave's answer to ``name`` among the runner's answers."""
    return PREFIX + name


def with_last_wave(
    answers: Mapping[str, str | None], last_wave: Mapping[str, str | None] | None
) -> dict[str, str | None]:
    """``answers`` with the previous wave's answers (question name -> value) beside them, as
    ``last_wave.NAME``."""
    merged = dict(answers)
    for name, value in (last_wave or {}).items():
        merged[PREFIX + name] = value
    return merged


def waves(surveys: Iterable[Survey], panel_id: str) -> list[Survey]:
    """The surveys of the panel ``panel_id``, first wave first."""
    found = [s for s in surveys if s.panel is not None and s.panel.id == panel_id]
    return sorted(found, key=lambda s: (s.panel.wave if s.panel else 0, s.id))


def earlier_waves(surveys: Iterable[Survey], survey: Survey) -> list[Survey]:
    """The waves of ``survey``'s panel before it, first wave first (none for a survey outside a panel)."""
    if survey.panel is None:
        return []
    wave = survey.panel.wave
    return [s for s in waves(surveys, survey.panel.id) if s.panel is not None and s.panel.wave < wave]


def previous_wave(surveys: Iterable[Survey], survey: Survey) -> Survey | None:
    """The wave just before ``survey`` in its panel, or None (the first wave, no panel, or that
    wave's file is not among ``surveys``)."""
    if survey.panel is None:
        return None
    wanted = survey.panel.wave - 1
    return next((s for s in earlier_waves(surveys, survey) if s.panel is not None and s.panel.wave == wanted), None)


def panel_problems(checked: Iterable[Survey], among: Iterable[Survey] = ()) -> list[FileProblem]:
    """What is wrong between the waves of ``checked`` and the other surveys (``checked`` and
    ``among``): two surveys as the same wave of a panel, ``${last_wave.x}`` or a ``prefill`` in
    a wave whose previous wave is missing, or naming no question of the previous wave."""
    checked = list(checked)
    everyone = {s.id: s for s in [*among, *checked]}.values()
    problems: list[FileProblem] = []
    for survey in checked:
        panel = survey.panel
        if panel is None:
            continue
        twin = next(
            (
                other
                for other in everyone
                if other.id != survey.id
                and other.panel is not None
                and (other.panel.id, other.panel.wave) == (panel.id, panel.wave)
            ),
            None,
        )
        if twin is not None:
            problems.append(
                FileProblem(
                    survey.source,
                    panel.line,
                    f"panel '{panel.id}' wave {panel.wave} is also survey '{twin.id}' ({twin.source})",
                )
            )
        if not survey.last_wave_names:
            continue
        previous = previous_wave(everyone, survey)
        if previous is None:
            name, line = survey.last_wave_names[0]
            problems.append(
                FileProblem(
                    survey.source,
                    line,
                    f"${{{PREFIX}{name}}}: panel '{panel.id}' has no wave {panel.wave - 1} among the surveys "
                    "(keep the previous wave's file in the surveys folder)",
                )
            )
            continue
        for name, line in survey.last_wave_names:
            if not previous.has_question(name) or previous.question(name).is_note:
                problems.append(
                    FileProblem(
                        survey.source,
                        line,
                        f"${{{PREFIX}{name}}} is not a question of wave {panel.wave - 1} "
                        f"('{previous.id}', {previous.source})",
                    )
                )
    return sorted(problems, key=lambda p: (p.file, p.line))
