"""The audit page (``/admin/audit``, editors only): the staff audit trail, newest first, with
filters (who, what, from, to) and pages, and its CSV download with the same filters (the
download is itself recorded). The rows come from :mod:`storage.audit`."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from aiohttp import web

from bot.admin.auth import PREFIX, STAFF_KEY
from bot.admin.render import render
from bot.admin.site import AdminSite
from common.clock import parse_date, start_of_day
from storage import audit
from storage.staff import StaffSession

PAGE_SIZE = 50
MAX_PAGE = 100_000
CHUNK = 64 * 1024


def chosen_filter(request: web.Request) -> tuple[audit.AuditFilter, dict[str, str]]:
    """The filter of the page's query string, and the query values kept for the form and links."""
    values = {name: request.query.get(name, "").strip()[:120] for name in ("actor", "action", "since", "until")}
    if values["action"] not in audit.ACTIONS:
        values["action"] = ""
    since, until = parse_date(values["since"]), parse_date(values["until"])
    values["since"] = since.isoformat() if since else ""
    values["until"] = until.isoformat() if until else ""
    chosen = audit.AuditFilter(
        actor=values["actor"] or None,
        action=values["action"] or None,
        since=start_of_day(since) if since else None,
        until=start_of_day(until) + timedelta(days=1) if until else None,  # "to" includes that day
    )
    return chosen, values


def _page(request: web.Request) -> int:
    text = request.query.get("page", "1")
    return min(int(text), MAX_PAGE) if text.isascii() and text.isdigit() and int(text) >= 1 else 1


def add_routes(app: web.Application, site: AdminSite) -> None:
    guard = site.auth.guard

    async def listing(request: web.Request) -> web.StreamResponse:
        chosen, values = chosen_filter(request)
        page = _page(request)
        async with site.database.reading() as connection:
            total = await audit.count(connection, chosen)
            rows = await audit.events(connection, chosen, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
            actors = await audit.actors(connection)
        pages = max(1, -(-total // PAGE_SIZE))
        kept = {name: value for name, value in values.items() if value}
        return render(
            request,
            "audit.html",
            rows=rows,
            total=total,
            page=page,
            pages=pages,
            values=values,
            kept=kept,
            actors=actors,
            actions=audit.ACTIONS,
        )

    async def download(request: web.Request) -> web.StreamResponse:
        chosen, values = chosen_filter(request)
        staff: StaffSession = request[STAFF_KEY]
        now = site.clock()
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/csv; charset=utf-8",
                "Content-Disposition": f'attachment; filename="audit-{now:%Y%m%d-%H%M}.csv"',
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
            }
        )
        await response.prepare(request)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(audit.CSV_COLUMNS)
        count = 0
        async for event in audit.all_events(site.database, chosen):
            writer.writerow(audit.csv_row(event))
            count += 1
            if buffer.tell() >= CHUNK:
                await response.write(buffer.getvalue().encode())
                buffer.seek(0)
                buffer.truncate()
        await response.write(buffer.getvalue().encode())
        filters = {name: value for name, value in values.items() if value}
        await audit.record_in(
            site.database,
            actor=staff.username,
            action=audit.EXPORT,
            now=now,
            target="audit",
            details={**audit.export_details("audit", "csv", count), **filters},
        )
        await response.write_eof()
        return response

    app.router.add_get(f"{PREFIX}/audit", guard(listing, edit=True))
    app.router.add_get(f"{PREFIX}/audit.csv", guard(download, edit=True))
