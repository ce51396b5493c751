"""Lookups by chat: ``/data <words>``, and plain text typed outside any conversation.

A question is matched to the catalogue in service (:mod:`catalogue.matching`). Several possible
indicators: up to five buttons. Dimension values the user did not give (region, sex...): one
button per value, the total first. Then the figure: value with the indicator's decimals and
unit, period, the previous period and the change, the observation status, the source and
release, and buttons for a chart, the CSV, "Was this useful?" and the release's page.

Every question is logged in ``indicator_queries`` (chit-chat excepted); ratings go to
``indicator_ratings``. Nothing matched: the data-request offer (:mod:`handlers.requests`).

Payloads (prefix ``d:``) carry all they need, so no state is kept between presses:

* ``d:i:<load>:<indicator>:<selection>:<period>``: an indicator (its position in that load's
  index), the dimension values chosen so far (value positions joined by ``.``, ``-`` for not
  chosen) and the period asked for (empty: the latest);
* ``d:c:<series>`` chart, ``d:f:<series>`` CSV file, ``d:u:<series>:<1|0>`` rating.

A press naming another load than the one in service, a series not in it, or anything malformed
gets "please ask again" and changes nothing.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import replace

from catalogue.answers import (
    Figure,
    figure_for,
    format_date_long,
    format_number,
    format_period,
    is_percentage,
    unit_of,
    with_unit,
)
from catalogue.charts import ChartTexts, chart_description, trend_chart
from catalogue.downloads import file_name, series_csv
from catalogue.matching import CatalogueIndex, IndicatorEntry, Match
from catalogue.model import Series, in_language
from handlers import onboarding, requests
from handlers.context import Context
from handlers.messages import Attachment, Button, Outbound
from handlers.payloads import MAX_PAYLOAD_BYTES

PREFIX = "d:"
CHOOSE, CHART, FILE, RATE = "i", "c", "f", "u"
#: Value buttons shown at most when asking for a dimension (totals first).
MAX_VALUE_BUTTONS = 24
#: The longest question kept in the log.
MAX_QUESTION = 500
#: Observation statuses (SDMX ``OBS_STATUS``) worth telling the user, and their text keys.
STATUS_KEYS: Mapping[str, str] = {
    "P": "data_status_provisional",
    "E": "data_status_estimated",
    "F": "data_status_forecast",
    "B": "data_status_break",
    "I": "data_status_imputed",
    "U": "data_status_unreliable",
}
_PERIOD = re.compile(r"^[0-9]{4}(-(Q[1-4]|S[12]|[0-9]{2}))?$")


def _number(text: str) -> int | None:
    """A payload's number (ASCII digits only: "²" is a digit to ``str.isdigit``, not to ``int``)."""
    return int(text) if text.isascii() and text.isdigit() else None


async def data_command(ctx: Context, argument: str) -> list[Outbound]:
    """``/data <words>``; without words, how to ask."""
    if not argument.strip():
        return [Outbound(text=ctx.texts("data_prompt"))]
    return await lookup(ctx, argument)


async def free_text(ctx: Context, text: str) -> list[Outbound]:
    """Plain text outside any conversation: a lookup once the office has loaded a catalogue.

    What matches nothing goes to :func:`handlers.requests.on_free_text` (a data request offered
    for what reads like a need, "not understood" for the rest).
    """
    if not any(character.isalnum() for character in text):
        return await requests.on_free_text(ctx, text)
    if await ctx.repos.indicators.active_load_id() is None:
        return await requests.on_free_text(ctx, text)
    return await lookup(ctx, text, typed_command=False)


async def lookup_found(ctx: Context, text: str) -> list[Outbound]:
    """The answer to a question about a figure when the catalogue has one; else nothing (and
    nothing kept): for text typed where another answer is awaited (the privacy question)."""
    if not any(character.isalnum() for character in text):
        return []
    if await ctx.repos.indicators.active_load_id() is None:
        return []
    index = await ctx.catalogue.current(ctx.repos.indicators)
    match = index.match(text.strip()[:MAX_QUESTION], ctx.language, ctx.now.date()) if index is not None else None
    if match is None or not match.candidates:
        return []
    return await lookup(ctx, text, typed_command=False)


async def lookup(ctx: Context, text: str, *, typed_command: bool = True) -> list[Outbound]:
    """Answer a question about a figure (logged, matched or not).

    Nothing matched: an explicit ``/data`` question is offered as a data request at once
    (:func:`handlers.requests.offer_request`); plain text goes through
    :func:`handlers.requests.on_free_text`.
    """
    question = text.strip()[:MAX_QUESTION]
    index = await ctx.catalogue.current(ctx.repos.indicators)
    match = index.match(question, ctx.language, ctx.now.date()) if index is not None else None
    best = match.best if match is not None else None
    found = bool(match and match.candidates)
    # Chit-chat typed outside a flow ("hello", "thanks") is not a question about data: not logged.
    if found or typed_command or requests.describes_a_need(question):
        await ctx.repos.lookups.record_query(
            # Before consent the question is kept without the person: a lookup keeps nothing personal.
            contact_id=ctx.contact.id if onboarding.keeps_personal_data(ctx) else None,
            language=ctx.language,
            text=question,
            indicator_code=best.entry.indicator.code if best is not None else None,
            matched=found,
            now=ctx.now,
        )
    if index is None or match is None or not found:
        if typed_command:
            return await requests.offer_request(ctx, question)
        return await requests.on_free_text(ctx, question)
    if best is None:
        return [_candidate_buttons(ctx, index, match)]
    replies = await _answer(ctx, index, best.entry, best.selection, match.period, pressed=False)
    if best.not_published_by and replies:
        # Say it rather than give the national figure as if it were the one asked for.
        note = ctx.texts("data_not_published_by", values=", ".join(best.not_published_by))
        replies[0] = replace(replies[0], text=f"{note}\n\n{replies[0].text}")
    return replies


async def on_press(ctx: Context, payload: str) -> list[Outbound]:
    """A ``d:`` button: a choice, a chart, the CSV or a rating."""
    index = await ctx.catalogue.current(ctx.repos.indicators)
    parts = payload.split(":")
    if index is None or len(payload.encode()) > MAX_PAYLOAD_BYTES or len(parts) < 3:
        return _stale(ctx)
    op = parts[1]
    if op == CHOOSE:
        chosen = _decode_choice(index, parts)
        if chosen is None:
            return _stale(ctx)
        entry, selection, period = chosen
        return await _answer(ctx, index, entry, selection, period, pressed=True)
    series_id = _number(parts[2])
    if series_id is None or series_id not in index.series_by_id:
        return _stale(ctx)
    entry, series = index.series_by_id[series_id]
    if op == CHART and len(parts) == 3:
        return await _chart(ctx, entry, series)
    if op == FILE and len(parts) == 3:
        return await _download(ctx, entry, series)
    if op == RATE and len(parts) == 4 and parts[3] in ("0", "1"):
        if not onboarding.keeps_personal_data(ctx):
            return [Outbound(text=ctx.texts("data_thanks"))]  # a rating is kept with its person: not before consent
        await ctx.repos.lookups.rate(
            contact_id=ctx.contact.id,
            indicator_code=entry.indicator.code,
            series_key=series.key,
            useful=parts[3] == "1",
            now=ctx.now,
        )
        return [Outbound(text=ctx.texts("data_thanks"))]
    return _stale(ctx)


# --------------------------------------------------------------------------- payloads


def _encode_choice(
    index: CatalogueIndex, entry: IndicatorEntry, selection: Mapping[str, str], period: str | None
) -> str:
    positions = [
        str(d.values.index(selection[d.id])) if d.id in selection and selection[d.id] in d.values else "-"
        for d in entry.dimensions
    ]
    return f"{PREFIX}{CHOOSE}:{index.load_id}:{entry.position}:{'.'.join(positions)}:{period or ''}"


def _decode_choice(index: CatalogueIndex, parts: list[str]) -> tuple[IndicatorEntry, dict[str, str], str | None] | None:
    if len(parts) != 6:
        return None
    load, position, chosen, period = _number(parts[2]), _number(parts[3]), parts[4], parts[5]
    if load != index.load_id or position is None or position >= len(index.entries):
        return None
    if period and not _PERIOD.match(period):
        return None
    entry = index.entries[position]
    positions = chosen.split(".") if chosen else []
    if len(positions) != len(entry.dimensions):
        return None
    selection: dict[str, str] = {}
    for dimension, value in zip(entry.dimensions, positions, strict=True):
        if value == "-":
            continue
        number = _number(value)
        if number is None or number >= len(dimension.values):
            return None
        selection[dimension.id] = dimension.values[number]
    return entry, selection, period or None


def _fits(payload: str) -> bool:
    return len(payload.encode()) <= MAX_PAYLOAD_BYTES


# --------------------------------------------------------------------------- replies


def _stale(ctx: Context) -> list[Outbound]:
    return [Outbound(text=ctx.texts("data_stale"))]


def _candidate_buttons(ctx: Context, index: CatalogueIndex, match: Match) -> Outbound:
    buttons = []
    for candidate in match.candidates:
        payload = _encode_choice(index, candidate.entry, candidate.selection, match.period)
        if _fits(payload):
            label = in_language(candidate.entry.indicator.names, ctx.language) or candidate.entry.indicator.code
            buttons.append((Button(label[:60], payload),))
    return Outbound(text=ctx.texts("data_choose_indicator"), buttons=tuple(buttons))


def _selection_line(ctx: Context, entry: IndicatorEntry, selection: Mapping[str, str]) -> str:
    """``Northern · Female``: the chosen values of the dimensions that vary."""
    labels = [
        d.label(selection[d.id], ctx.language) for d in entry.dimensions if d.id in selection and len(d.values) > 1
    ]
    return " · ".join(labels)


async def _answer(
    ctx: Context,
    index: CatalogueIndex,
    entry: IndicatorEntry,
    selection: Mapping[str, str],
    period: str | None,
    *,
    pressed: bool,
) -> list[Outbound]:
    narrowed = index.narrow(entry, selection)
    if not narrowed.series:
        return _stale(ctx)
    name = in_language(entry.indicator.names, ctx.language) or entry.indicator.code
    if narrowed.ask is not None:
        dimension = narrowed.ask
        buttons = []
        for code in narrowed.choices[:MAX_VALUE_BUTTONS]:
            payload = _encode_choice(index, entry, {**selection, dimension.id: code}, period)
            if _fits(payload):
                buttons.append(Button(dimension.label(code, ctx.language)[:60], payload))
        per_row = 1 if len(buttons) <= 4 else 2
        rows = tuple(tuple(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row))
        lines = [
            name,
            _selection_line(ctx, entry, selection),
            ctx.texts("data_choose_value", dimension=dimension.name(ctx.language)),
        ]
        return [Outbound(text="\n".join(line for line in lines if line), buttons=rows, replaces_pressed=pressed)]
    series = narrowed.series[0]
    full_selection = {d.id: series.dimensions[d.id] for d in entry.dimensions if d.id in series.dimensions}
    observations = await ctx.repos.indicators.observations(series.id)
    figure = figure_for(observations, period)
    header = [name, _selection_line(ctx, entry, full_selection)]
    if figure is None:
        text = "\n".join([*(line for line in header if line), ctx.texts("data_no_values")])
        return [Outbound(text=text, replaces_pressed=pressed)]
    text = "\n".join(line for line in [*header, *_figure_lines(ctx, entry, figure, period)] if line)
    return [Outbound(text=text, buttons=_answer_buttons(ctx, entry, series), replaces_pressed=pressed)]


def _figure_lines(ctx: Context, entry: IndicatorEntry, figure: Figure, period: str | None) -> list[str]:
    indicator = entry.indicator
    language = ctx.language
    unit = unit_of(indicator, language)
    observation = figure.observation
    assert observation.value is not None
    lines = []
    if period and not figure.period_found:
        lines.append(ctx.texts("data_period_missing", period=format_period(period, language, ctx.texts)))
    value = with_unit(format_number(observation.value, indicator.decimals, language), unit)
    line = ctx.texts("data_value", value=value, period=format_period(observation.period, language, ctx.texts))
    status_key = STATUS_KEYS.get(observation.status or "")
    if status_key is not None:
        line += f" ({ctx.texts(status_key)})"
    lines.append(line)
    previous = figure.previous
    change = figure.change
    if previous is not None and previous.value is not None and change is not None:
        lines.append(
            ctx.texts(
                "data_previous",
                period=format_period(previous.period, language, ctx.texts),
                value=with_unit(format_number(previous.value, indicator.decimals, language), unit),
            )
        )
        signed = format_number(change, indicator.decimals, language, signed=True)
        relative = figure.relative_change
        if is_percentage(indicator):
            lines.append(ctx.texts("data_change_points", change=signed))
        elif relative is not None:
            percent = format_number(relative * 100, 1, language, signed=True)
            lines.append(ctx.texts("data_change_percent", change=with_unit(signed, unit), percent=percent))
        else:
            lines.append(ctx.texts("data_change", change=with_unit(signed, unit)))
    source = " — ".join(
        part for part in (in_language(indicator.source, language), in_language(indicator.release, language)) if part
    )
    if source:
        lines.append(ctx.texts("data_source", source=source))
    if indicator.release_date is not None:
        lines.append(ctx.texts("data_released", date=format_date_long(indicator.release_date, language)))
    lines.append("")
    lines.append(ctx.texts("data_useful_question"))
    return lines


def _answer_buttons(ctx: Context, entry: IndicatorEntry, series: Series) -> tuple[tuple[Button, ...], ...]:
    rows: list[tuple[Button, ...]] = [
        (
            Button(ctx.texts("data_button_chart"), f"{PREFIX}{CHART}:{series.id}"),
            Button(ctx.texts("data_button_download"), f"{PREFIX}{FILE}:{series.id}"),
        ),
        (
            Button(ctx.texts("data_button_useful"), f"{PREFIX}{RATE}:{series.id}:1"),
            Button(ctx.texts("data_button_not_useful"), f"{PREFIX}{RATE}:{series.id}:0"),
        ),
    ]
    if entry.indicator.link:
        rows.append((Button(ctx.texts("data_button_release"), "", url=entry.indicator.link),))
    return tuple(rows)


def _caption(ctx: Context, entry: IndicatorEntry, series: Series) -> str:
    name = in_language(entry.indicator.names, ctx.language) or entry.indicator.code
    return "\n".join(line for line in (name, _selection_line(ctx, entry, series.dimensions)) if line)


async def _chart(ctx: Context, entry: IndicatorEntry, series: Series) -> list[Outbound]:
    observations = await ctx.repos.indicators.observations(series.id)
    figure = figure_for(observations, None)
    if figure is None or figure.observation.value is None:
        return [Outbound(text=ctx.texts("data_no_values"))]
    indicator = entry.indicator
    language = ctx.language
    unit = unit_of(indicator, language)
    source = " — ".join(
        part for part in (in_language(indicator.source, language), in_language(indicator.release, language)) if part
    )
    texts = ChartTexts(
        title=in_language(indicator.names, language) or indicator.code,
        subtitle=_selection_line(ctx, entry, series.dimensions),
        unit=unit,
        source=ctx.texts("data_source", source=source) if source else "",
        last_value=with_unit(format_number(figure.observation.value, indicator.decimals, language), unit),
        last_period=format_period(figure.observation.period, language, ctx.texts),
    )
    # Drawing takes a tenth of a second: off the event loop, so other chats are not held up.
    png = await asyncio.to_thread(trend_chart, observations, texts)
    alt = chart_description(observations, texts, ctx.texts)
    attachment = Attachment("image", file_name(indicator.code, series, "png"), png, "image/png", alt=alt)
    return [Outbound(text=_caption(ctx, entry, series), attachment=attachment)]


async def _download(ctx: Context, entry: IndicatorEntry, series: Series) -> list[Outbound]:
    observations = await ctx.repos.indicators.observations(series.id)
    content = series_csv(entry, series, observations, ctx.language)
    attachment = Attachment("document", file_name(entry.indicator.code, series, "csv"), content, "text/csv")
    return [Outbound(text=_caption(ctx, entry, series), attachment=attachment)]
