"""``/calendar``: the office's upcoming releases, by topic, each one followable.

``/calendar`` lists the next releases (date, time when known, title, topic) in the person's
language with dates formatted for it (Babel), marks the ones they follow, and lists every
upcoming release they follow. Buttons: "Follow" / "Unfollow" per release shown, and one per
topic to filter (``/calendar prices`` does the same; a topic's label works as well as its
name). A release already published or past is not listed.

Following a release is personal data kept to message the person later, so it needs the
register and consent, like following topics, and like ``/subscribe`` it turns messages back on
after ``/stop``. When staff publish the release
(``baraza calendar publish``), its followers and the subscribers of its topic are told once.

Payloads (``k:``): ``k:a`` every topic, ``k:t:<topic>`` one topic, ``k:f:<release>`` /
``k:u:<release>`` follow / unfollow from the list of every topic, ``k:F:`` / ``k:U:`` the same
from the release's topic list (which is shown again after the press). A press on a release no
longer in the calendar, already published, or a forged topic changes nothing.
"""

from __future__ import annotations

from babel.dates import format_date, format_time

from catalogue.calendar import Release
from catalogue.concept_search import fold
from handlers import onboarding, privacy
from handlers.context import Context
from handlers.messages import Button, Outbound
from handlers.payloads import prefixed

PAYLOAD_PREFIX = "k:"  # + release ids ≤ 60 or topics ≤ 40 ASCII characters: within the payload limit
ALL = "k:a"
TOPIC = "k:t:"
FOLLOW, UNFOLLOW = "k:f:", "k:u:"
FOLLOW_IN_TOPIC, UNFOLLOW_IN_TOPIC = "k:F:", "k:U:"
SHOWN_ALL = 6
SHOWN_TOPIC = 10
MAX_BUTTON_TITLE = 40
TOPICS_PER_ROW = 2


# --------------------------------------------------------------------------- formatting


def release_date(ctx: Context, release: Release) -> str:
    """``12 janvier 2027 à 10:00`` in French; the time only when the calendar gives one."""
    day = format_date(release.date, format="long", locale=ctx.language)
    if release.time is None:
        return day
    return ctx.texts(
        "calendar_date_time", date=day, time=format_time(release.time, format="short", locale=ctx.language)
    )


def _short(text: str) -> str:
    return text if len(text) <= MAX_BUTTON_TITLE else text[: MAX_BUTTON_TITLE - 1].rstrip() + "…"


# --------------------------------------------------------------------------- the list


async def calendar_command(ctx: Context, argument: str) -> list[Outbound]:
    """``/calendar [topic]``."""
    calendar = ctx.community.calendar
    if not len(calendar):
        return [Outbound(text=ctx.texts("calendar_none"))]
    wanted = argument.strip()
    topic = _topic_named(ctx, wanted) if wanted else None
    if wanted and topic is None:
        labels = ", ".join(onboarding.topic_label(ctx, t) for t in calendar.topics())
        return [
            Outbound(text=ctx.texts("calendar_unknown_topic", topic=wanted[:40], topics=labels)),
            await listing(ctx, None),
        ]
    return [await listing(ctx, topic)]


def _topic_named(ctx: Context, wanted: str) -> str | None:
    """The calendar topic whose name or label (in the person's language) is ``wanted``."""
    folded = fold(wanted)
    for topic in ctx.community.calendar.topics():
        if folded in (fold(topic), fold(onboarding.topic_label(ctx, topic))):
            return topic
    return None


async def listing(ctx: Context, topic: str | None, *, replaces_pressed: bool = False) -> Outbound:
    """The upcoming releases (of ``topic``), what the person follows, and the buttons."""
    calendar = ctx.community.calendar
    language = ctx.language
    today = ctx.now.date()
    upcoming_all = calendar.upcoming(today)
    published = await ctx.repos.releases.publications([release.id for release in upcoming_all])
    upcoming_all = [release for release in upcoming_all if release.id not in published]
    upcoming = [release for release in upcoming_all if topic is None or release.topic == topic]
    limit = SHOWN_ALL if topic is None else SHOWN_TOPIC
    shown = upcoming[:limit]
    followed = await ctx.repos.releases.followed(ctx.contact.id)
    topic_label = onboarding.topic_label(ctx, topic) if topic is not None else ""
    if not shown:
        lines = [ctx.texts("calendar_empty_topic", topic=topic_label) if topic else ctx.texts("calendar_empty")]
    else:
        lines = [ctx.texts("calendar_title_topic", topic=topic_label) if topic else ctx.texts("calendar_title"), ""]
        for number, release in enumerate(shown, start=1):
            mark = " 🔔" if release.id in followed else ""
            lines.append(f"{number}. {calendar.title(release, language)}{mark}")
            lines.append(f"     {release_date(ctx, release)} · {onboarding.topic_label(ctx, release.topic)}")
        if len(upcoming) > len(shown):
            lines.append(ctx.texts("calendar_more", count=str(len(upcoming) - len(shown))))
    mine = [release for release in upcoming_all if release.id in followed]
    if mine:
        lines += ["", ctx.texts("calendar_following")]
        lines += [f"• {calendar.title(release, language)}, {release_date(ctx, release)}" for release in mine]
    elif shown:
        lines += ["", ctx.texts("calendar_follow_hint")]
    rows: list[tuple[Button, ...]] = []
    follow, unfollow = (FOLLOW, UNFOLLOW) if topic is None else (FOLLOW_IN_TOPIC, UNFOLLOW_IN_TOPIC)
    for number, release in enumerate(shown, start=1):
        title = _short(f"{number}. {calendar.title(release, language)}")
        if release.id in followed:
            rows.append((Button(ctx.texts("button_unfollow_release", title=title), prefixed(unfollow, release.id)),))
        else:
            rows.append((Button(ctx.texts("button_follow_release", title=title), prefixed(follow, release.id)),))
    present = {release.topic for release in upcoming_all} - {topic}
    # In the configured order (as /subscribe shows them), then any topic only the calendar has.
    topics = [t for t in ctx.community.topics if t in present]
    topics += sorted(present - set(topics))
    topic_buttons = [Button(onboarding.topic_label(ctx, t), prefixed(TOPIC, t)) for t in topics]
    if topic is not None:
        topic_buttons.append(Button(ctx.texts("button_all_topics"), ALL))
    rows += [tuple(topic_buttons[i : i + TOPICS_PER_ROW]) for i in range(0, len(topic_buttons), TOPICS_PER_ROW)]
    return Outbound(text="\n".join(lines), buttons=tuple(rows), replaces_pressed=replaces_pressed)


# --------------------------------------------------------------------------- presses


async def on_press(ctx: Context, payload: str) -> list[Outbound]:
    calendar = ctx.community.calendar
    if payload == ALL:
        return [await listing(ctx, None, replaces_pressed=True)]
    if payload.startswith(TOPIC):
        topic = payload[len(TOPIC) :]
        if topic not in calendar.topics():
            return [Outbound(text=ctx.texts("expired_button"))]
        return [await listing(ctx, topic, replaces_pressed=True)]
    for prefix in (FOLLOW, UNFOLLOW, FOLLOW_IN_TOPIC, UNFOLLOW_IN_TOPIC):
        if payload.startswith(prefix):
            return await _follow_press(ctx, prefix, payload[len(prefix) :])
    return [Outbound(text=ctx.texts("expired_button"))]


async def _follow_press(ctx: Context, prefix: str, release_id: str) -> list[Outbound]:
    release = ctx.community.calendar.get(release_id)
    if release is None:
        return [Outbound(text=ctx.texts("calendar_unknown_release")), await listing(ctx, None)]
    topic = release.topic if prefix in (FOLLOW_IN_TOPIC, UNFOLLOW_IN_TOPIC) else None
    if prefix in (UNFOLLOW, UNFOLLOW_IN_TOPIC):
        # Always allowed, also without consent: stopping never needs permission.
        await ctx.repos.releases.unfollow(ctx.contact.id, release.id)
        return [await listing(ctx, topic, replaces_pressed=True)]
    refusal = await onboarding.needs_consent(ctx, "consent_needed_follow")
    if refusal is not None:
        return refusal
    title = ctx.community.calendar.title(release, ctx.language)
    if await ctx.repos.releases.publication(release.id) is not None or release.date < ctx.now.date():
        return [Outbound(text=ctx.texts("calendar_already_published", title=title)), await listing(ctx, topic)]
    await ctx.repos.releases.follow(ctx.contact.id, release.id, ctx.now)
    # Asking to be told is asking for messages: like /subscribe, it undoes an earlier /stop (and says so).
    return await privacy.messages_back_on(ctx) + [await listing(ctx, topic, replaces_pressed=True)]
