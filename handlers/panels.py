"""Panels in fieldwork: who is a member of a panel wave, and so who is invited to the next one.

A person takes part in a wave when their response to it counts for the response rates: complete,
or partial (AAPOR 1.1 or 1.2: answered at least :data:`handlers.invitations.PARTIAL_SHARE` of
its questions) without being screened out by a full quota cell. Break-offs, refusals,
non-contacts and screened-out people of a wave are not invited to the next.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncConnection

from handlers.invitations import PARTIAL_SHARE, FieldworkError, survey_questions
from storage.panels import wave_participants
from surveys import panels
from surveys.model import Survey


async def panel_members(
    connection: AsyncConnection, surveys: Iterable[Survey], survey: Survey, *, partial_share: float = PARTIAL_SHARE
) -> set[int]:
    """The contacts who took part in the wave before ``survey`` (complete or partial): the sample
    of ``survey``'s wave (``baraza survey invite SURVEY --panel-members``)."""
    if survey.panel is None:
        raise FieldworkError(f"survey '{survey.id}' is no wave of a panel (panel: {{id: ..., wave: 2}})")
    if survey.panel.wave == 1:
        raise FieldworkError(
            f"survey '{survey.id}' is the first wave of panel '{survey.panel.id}': no one took part before"
        )
    previous = panels.previous_wave(surveys, survey)
    if previous is None:
        raise FieldworkError(
            f"survey '{survey.id}' is wave {survey.panel.wave} of panel '{survey.panel.id}', whose wave "
            f"{survey.panel.wave - 1} is not among the surveys"
        )
    at_least = max(1, math.ceil(partial_share * survey_questions(previous)))
    return await wave_participants(connection, previous.id, answered_at_least=at_least)
