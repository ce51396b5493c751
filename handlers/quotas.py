"""Quotas in the conversation, and their live counts (docs/fieldwork.md, "Quotas").

* When a respondent's cell of a quota becomes known (at the start or on resuming for contact
  fields, after the answer for a question), it is recorded and, if the cell already has as many
  completes as its target, the person is thanked and **screened out** (:func:`screens_out`).
* When they resume a half-finished response and when they finish, the cells are checked once more
  (:func:`recorded_cell_full`): someone who was half-way when the last place was taken is
  screened out instead of overfilling the cell. Both
  decisions hold the survey's quota lock (:meth:`storage.quotas.QuotaRepository.lock`), so two
  people finishing at once cannot both take the last place: a cell never gets more completes
  than its target.
* :func:`quota_report` gives each cell's target, completes, responses in progress and status,
  for ``baraza survey report`` and the dashboard's fieldwork page.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncConnection

from handlers.context import Context
from handlers.messages import Outbound
from handlers.prompts import text_of
from storage.quotas import QuotaRepository
from surveys.model import Survey
from surveys.quotas import CellStatus, cell_statuses, is_full, known_cells, target


async def screens_out(ctx: Context, survey: Survey, response_id: str, answers: Mapping[str, str | None]) -> bool:
    """Record the cells that became known (or changed) with ``answers``; True when one of them
    is full, and the person is to be screened out."""
    if not survey.quotas:
        return False
    repository = QuotaRepository(ctx.repos.connection)
    recorded = await repository.cells(response_id)
    found = {
        key: cell for key, cell in known_cells(survey, ctx.profile(), answers).items() if recorded.get(key) != cell
    }
    if not found:
        return False
    await repository.lock(survey.id)
    await repository.record(response_id, survey.id, found, ctx.now)
    for key, cell in found.items():
        if is_full(target(survey, key, cell), await repository.completes(survey.id, key, cell)):
            return True
    return False


async def recorded_cell_full(ctx: Context, survey: Survey, response_id: str) -> bool:
    """Whether one of the response's cells filled while it was in progress (when it finishes or is
    resumed); checked under the survey's quota lock, so that a completion about to be stored
    cannot overfill it."""
    if not survey.quotas:
        return False
    repository = QuotaRepository(ctx.repos.connection)
    await repository.lock(survey.id)
    for key, cell in (await repository.cells(response_id)).items():
        if is_full(target(survey, key, cell), await repository.completes(survey.id, key, cell)):
            return True
    return False


async def is_screened_out(ctx: Context, response_id: str) -> bool:
    return await QuotaRepository(ctx.repos.connection).is_screened_out(response_id)


async def screen_out(ctx: Context, survey: Survey, response_id: str) -> list[Outbound]:
    """Store the response as screened out, end the conversation, and thank the person."""
    await QuotaRepository(ctx.repos.connection).screen_out(response_id, ctx.now)
    await ctx.repos.conversations.end(ctx.contact.id)
    return [screened_out_message(ctx, survey)]


def screened_out_message(ctx: Context, survey: Survey) -> Outbound:
    return Outbound(text=ctx.texts("quota_full", title=text_of(ctx, survey, survey.title)))


async def quota_report(connection: AsyncConnection, survey: Survey) -> list[CellStatus]:
    """Every cell with a target, with its completes and responses in progress, in file order."""
    if not survey.quotas:
        return []
    return cell_statuses(survey, await QuotaRepository(connection).counts(survey.id))


def format_quotas(rows: list[CellStatus]) -> str:
    """The cells as a text table (``baraza survey report``); empty without quotas."""
    if not rows:
        return ""
    header = ["quota", "cell", "target", "completes", "in progress", "status"]
    lines = [
        [row.quota, row.label, str(row.target), str(row.completes), str(row.in_progress), row.status] for row in rows
    ]
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header))]
    text = ["quotas: completes against targets (in progress: started, neither finished nor screened out)"]
    for line in [header, *lines]:
        text.append("  ".join(cell.ljust(widths[i]) if i < 2 else cell.rjust(widths[i]) for i, cell in enumerate(line)))
    return "\n".join(text)
