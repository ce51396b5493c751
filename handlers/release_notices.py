"""The notice that tells people a calendar entry is published, and who gets it.

Without a notice file staff need not write anything: the notice is made from the calendar
entry, in every language the bot speaks (the entry's title and description in that language,
else in the calendar's default language; the bot's own words always in the person's
language), with the release's link as an "Open the release" button.
"""

from __future__ import annotations

from dataclasses import replace

from catalogue.calendar import Release, ReleaseCalendar
from handlers.notices import Notice, NoticeButton
from handlers.texts import SUPPORTED_LANGUAGES, Texts
from storage.broadcasts import Audience

MAX_STAFF_TITLE = 200


def release_audience(release: Release) -> Audience:
    """The followers of the release and the subscribers of its topic (each reached once)."""
    return Audience(topics=(release.topic,), followers_of=release.id)


def release_notice(calendar: ReleaseCalendar, release: Release) -> Notice:
    """The publication notice made from the calendar entry, to :func:`release_audience`."""
    texts: dict[str, str] = {}
    for language in SUPPORTED_LANGUAGES:
        say = Texts(language)
        parts = [say("release_published_notice", title=calendar.title(release, language))]
        description = calendar.description(release, language)
        if description:
            parts.append(description)
        parts.append(say("release_published_footer"))
        # Titles (≤ 200) and descriptions (≤ 1,500) are limited by the calendar loader, so the
        # text stays within Telegram's 4,096 characters.
        texts[language] = "\n\n".join(parts)
    default = calendar.default_language if calendar.default_language in texts else "en"
    buttons: tuple[NoticeButton, ...] = ()
    if release.link is not None:
        label = {language: Texts(language)("button_open_release") for language in SUPPORTED_LANGUAGES}
        buttons = (NoticeButton(label, url=release.link),)
    title = f"Release {release.id}: {calendar.title(release, calendar.default_language)}"
    return Notice(
        title=title[:MAX_STAFF_TITLE],
        texts=texts,
        default_language=default,
        audience=release_audience(release),
        buttons=buttons,
    )


def for_release(notice: Notice, release: Release) -> Notice:
    """A notice file's notice sent for a release: to the release's audience, whatever the file says."""
    return replace(notice, audience=release_audience(release))
