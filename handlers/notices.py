"""Release notices and survey invitations: the ``NOTICE.yaml`` format, and a notice as it is sent.

A notice file::

    title: CPI release, November 2026            # for staff (status, logs); not sent
    default_language: en                         # the text people get when theirs is missing
    text:
      en: The consumer price index for November is out...
      fr: L'indice des prix à la consommation de novembre est publié...
    audience:                                    # every list is optional; [] or absent = everyone
      topics: [prices]                           # follows any of these topics
      user_groups: [media, researcher]
      regions: [north]
      languages: [en, fr]
    buttons:
      - label: {en: Open the release, fr: Ouvrir la publication}
        url: https://stats.example.org/cpi/2026-11
      - label: {en: Take the 2-minute survey, fr: Répondre à l'enquête}
        survey: usat2026                         # the button starts this survey
    image: cpi-november.png                      # or document: cpi-november.pdf (path relative to this file)
    send_at: 2026-12-01 10:00 +03:00             # optional; without a zone it is this computer's local time
    whatsapp_template:                           # optional: for WhatsApp contacts silent for 24 hours
      name: cpi_release                          # a template approved in WhatsApp Manager
      language: en                               # the template's language code
      parameters: [November 2026]                # the texts of its body's {{1}}, {{2}}...

Texts are sent as plain text (no Markdown or HTML), so nothing in them can break the
formatting; Telegram makes web addresses clickable by itself. Problems are reported as
``FILE:LINE: message``, all at once, like survey files.
"""

from __future__ import annotations

import base64
import json
import mimetypes
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypedDict, Unpack

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from common.problems import FileProblemsError, ProblemLog
from common.safe_yaml import NodeReader, compose_file, read_file
from handlers import payloads
from handlers.messages import Attachment, Button, Outbound
from handlers.texts import rtl
from storage.broadcasts import Audience

MAX_TEXT = 4096  # Telegram's limit for a message
MAX_CAPTION = 1024  # ... and for the caption of a picture or document
MAX_BUTTONS = 10
MAX_LABEL = 64
MAX_TITLE = 200
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024  # Telegram's limit for pictures; stored in the database
MAX_FILE_BYTES = 1_000_000
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".webp"}
LANGUAGE = re.compile(r"^[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")
SURVEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
URL = re.compile(r"^(https?|tg)://\S+$")
NOTICE_KEYS = {
    "title",
    "text",
    "default_language",
    "audience",
    "buttons",
    "image",
    "document",
    "send_at",
    "whatsapp_template",
}
TEMPLATE_KEYS = {"name", "language", "parameters"}
TEMPLATE_NAME = re.compile(r"^[a-z0-9_]{1,512}$")
AUDIENCE_KEYS = {"topics", "user_groups", "regions", "languages"}
BUTTON_KEYS = {"label", "url", "survey"}


def telegram_length(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units: an emoji may count twice)."""
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True)
class NoticeButton:
    """A button under the notice: it opens ``url``, or starts the survey ``survey``."""

    label: Mapping[str, str]
    url: str | None = None
    survey: str | None = None


@dataclass(frozen=True)
class WhatsAppTemplate:
    """An approved WhatsApp message template: what WhatsApp contacts get outside the 24-hour
    customer-service window, where free-form messages are refused."""

    name: str
    language: str
    parameters: tuple[str, ...] = ()


@dataclass(frozen=True)
class Notice:
    """What a broadcast sends: texts per language, buttons, a picture or document."""

    title: str
    texts: Mapping[str, str]
    default_language: str
    audience: Audience = field(default_factory=Audience)
    buttons: tuple[NoticeButton, ...] = ()
    attachment: Attachment | None = None
    send_at: datetime | None = None
    whatsapp_template: WhatsAppTemplate | None = None

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.texts)

    def language_for(self, language: str | None) -> str:
        """The language a person gets: theirs when the notice has it, else the default."""
        return language if language is not None and language in self.texts else self.default_language

    def outbound(self, language: str | None) -> Outbound:
        """The message for a person of ``language``, with right-to-left lines marked."""
        chosen = self.language_for(language)

        def label(texts: Mapping[str, str]) -> str:
            return rtl(texts.get(chosen) or texts.get(self.default_language) or next(iter(texts.values())))

        buttons = tuple(
            (
                Button(label(button.label), "", url=button.url)
                if button.url is not None
                else Button(label(button.label), payloads.start_survey(button.survey or "")),
            )
            for button in self.buttons
        )
        return Outbound(text=rtl(self.texts[chosen]), buttons=buttons, attachment=self.attachment)

    def to_json(self) -> str:
        """The notice as stored with its broadcast (audience and send time are stored apart)."""
        attachment = None
        if self.attachment is not None:
            attachment = {
                "kind": self.attachment.kind,
                "filename": self.attachment.filename,
                "mime_type": self.attachment.mime_type,
                "content": base64.b64encode(self.attachment.content).decode("ascii"),
            }
        return json.dumps(
            {
                "version": 1,
                "default_language": self.default_language,
                "texts": dict(self.texts),
                "buttons": [
                    {"label": dict(b.label), **({"url": b.url} if b.url is not None else {"survey": b.survey})}
                    for b in self.buttons
                ],
                "attachment": attachment,
                **({"whatsapp_template": _template_json(self.whatsapp_template)} if self.whatsapp_template else {}),
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str, *, title: str = "", audience: Audience | None = None) -> Notice:
        raw: Mapping[str, Any] = json.loads(text)
        attachment = None
        if raw.get("attachment"):
            found = raw["attachment"]
            attachment = Attachment(
                found["kind"], found["filename"], base64.b64decode(found["content"]), found["mime_type"]
            )
        return cls(
            title=title,
            texts=dict(raw["texts"]),
            default_language=raw["default_language"],
            audience=audience or Audience(),
            buttons=tuple(
                NoticeButton(dict(b["label"]), url=b.get("url"), survey=b.get("survey")) for b in raw.get("buttons", ())
            ),
            attachment=attachment,
            whatsapp_template=_template_from_json(raw.get("whatsapp_template")),
        )


def _template_json(template: WhatsAppTemplate) -> dict[str, Any]:
    return {"name": template.name, "language": template.language, "parameters": list(template.parameters)}


def _template_from_json(raw: Mapping[str, Any] | None) -> WhatsAppTemplate | None:
    if not raw:
        return None
    return WhatsAppTemplate(str(raw["name"]), str(raw["language"]), tuple(str(p) for p in raw.get("parameters", ())))


# --------------------------------------------------------------------------- the file format


class NoticeFileError(FileProblemsError):
    """A notice file cannot be used; ``problems`` lists every problem found."""


class _Reader(NodeReader):
    def __init__(self, path: str, loader: yaml.SafeLoader) -> None:
        super().__init__(path, loader, ProblemLog(NoticeFileError, limit=None))

    def texts(self, node: Node, what: str, default_language: str) -> dict[str, str] | None:
        """A text, or a map of languages to texts; it must have the default language."""
        if isinstance(node, ScalarNode):
            text = self.string(node, what)
            return None if text is None else {default_language: text}
        if not isinstance(node, MappingNode):
            self.problem(node, f"{what} must be a text or a mapping of languages to texts")
            return None
        texts: dict[str, str] = {}
        for key_node, value_node in node.value:
            language = str(self.value(key_node))
            if not LANGUAGE.match(language):
                self.problem(key_node, f"'{language}' in {what} is not a language code such as en or fr")
                continue
            if language in texts:
                self.problem(key_node, f"{what} has the language '{language}' twice")
                continue
            text = self.string(value_node, f"{what} in '{language}'")
            if text is not None:
                texts[language] = text
        if texts and default_language not in texts:
            self.problem(node, f"{what} has no text in the default language '{default_language}'")
        return texts or None

    def names(self, node: Node, what: str, known: Collection[str] | None) -> tuple[str, ...]:
        if not isinstance(node, SequenceNode):
            self.problem(node, f"{what} must be a list such as [a, b]")
            return ()
        names: list[str] = []
        for item in node.value:
            name = self.string(item, f"an entry of {what}")
            if name is None:
                continue
            if known is not None and name not in known:
                self.problem(item, f"'{name}' is not one of the {what} in the configuration ({', '.join(known)})")
            names.append(name)
        return tuple(dict.fromkeys(names))


class NoticeChecks(TypedDict, total=False):
    """What a notice is checked against: what the configuration knows (absent or None: not checked).

    With ``now``, a ``send_at`` in the past is a problem.
    """

    topics: Collection[str] | None
    user_groups: Collection[str] | None
    surveys: Collection[str] | None
    now: datetime | None
    #: False: the file may not name an ``audience`` (a "you said, we did" summary goes to a survey's respondents).
    audience_allowed: bool


def load_notice_file(path: Path, **checks: Unpack[NoticeChecks]) -> Notice:
    """Read and check a notice file against ``checks``; raises :class:`NoticeFileError` listing every problem."""
    return load_notice_text(read_file(path, MAX_FILE_BYTES, NoticeFileError), str(path), base_dir=path.parent, **checks)


def load_notice_text(text: str, path: str, *, base_dir: Path, **checks: Unpack[NoticeChecks]) -> Notice:
    """:func:`load_notice_file` for a text already read; ``path`` names it in problems, ``base_dir`` holds its files."""
    loader, root = compose_file(text, path, NoticeFileError)
    reader = _Reader(path, loader)
    notice = _read_notice(reader, root, base_dir, checks)
    reader.log.raise_if_any(by_line=True)
    assert notice is not None  # None only with a problem
    return notice


def _read_notice(
    reader: _Reader,
    root: Node,
    base_dir: Path,
    checks: NoticeChecks,
) -> Notice | None:
    topics, user_groups = checks.get("topics"), checks.get("user_groups")
    surveys, now = checks.get("surveys"), checks.get("now")
    entries = reader.mapping(root, "the notice", NOTICE_KEYS)
    if entries is None:
        return None
    title = None
    if "title" not in entries:
        reader.problem(root, "the notice needs a 'title' (for staff: it is shown by 'baraza broadcast status')")
    else:
        title = reader.string(entries["title"][1], "the title")
        if title is not None and len(title) > MAX_TITLE:
            reader.problem(entries["title"][1], f"the title is {len(title)} characters long; the limit is {MAX_TITLE}")
    default_language = "en"
    if "default_language" in entries:
        node = entries["default_language"][1]
        value = reader.string(node, "default_language")
        if value is not None and not LANGUAGE.match(value):
            reader.problem(node, f"default_language '{value}' is not a language code such as en or fr")
        elif value is not None:
            default_language = value
    attachment = _attachment(reader, entries, base_dir)
    texts = None
    if "text" not in entries:
        reader.problem(root, "the notice needs a 'text' (one text, or one per language)")
    else:
        node = entries["text"][1]
        texts = reader.texts(node, "the text", default_language)
        limit, what = (MAX_CAPTION, "with a picture or document") if attachment is not None else (MAX_TEXT, "")
        for language, body in (texts or {}).items():
            if telegram_length(body) > limit:
                reader.problem(
                    node,
                    f"the text in '{language}' is {telegram_length(body)} characters long; "
                    f"Telegram's limit {what} is {limit}".replace("  ", " "),
                )
    audience = Audience()
    if "audience" in entries and checks.get("audience_allowed", True) is False:
        reader.problem(
            entries["audience"][0], "this file goes to the survey's respondents who asked for it: remove 'audience'"
        )
    elif "audience" in entries:
        audience = _audience(reader, entries["audience"][1], topics, user_groups)
    buttons = _buttons(reader, entries["buttons"][1], default_language, surveys) if "buttons" in entries else ()
    send_at = _send_at(reader, entries["send_at"][1], now) if "send_at" in entries else None
    template = _whatsapp_template(reader, entries["whatsapp_template"][1]) if "whatsapp_template" in entries else None
    if title is None or texts is None:
        return None
    return Notice(
        title=title,
        texts=texts,
        default_language=default_language,
        audience=audience,
        buttons=buttons,
        attachment=attachment,
        send_at=send_at,
        whatsapp_template=template,
    )


def _whatsapp_template(reader: _Reader, node: Node) -> WhatsAppTemplate | None:
    entries = reader.mapping(node, "whatsapp_template", TEMPLATE_KEYS)
    if entries is None:
        return None
    name = language = None
    if "name" not in entries or "language" not in entries:
        reader.problem(node, "whatsapp_template needs a name and a language (as approved in WhatsApp Manager)")
    if "name" in entries:
        name = reader.string(entries["name"][1], "the name of whatsapp_template")
        if name is not None and not TEMPLATE_NAME.match(name):
            reader.problem(entries["name"][1], f"'{name}' is not a template name (lowercase letters, digits and _)")
            name = None
    if "language" in entries:
        language = reader.string(entries["language"][1], "the language of whatsapp_template")
        if language is not None and not LANGUAGE.match(language):
            reader.problem(entries["language"][1], f"'{language}' is not a language code such as en or en_US")
            language = None
    parameters: tuple[str, ...] = ()
    if "parameters" in entries:
        parameter_node = entries["parameters"][1]
        if not isinstance(parameter_node, SequenceNode):
            reader.problem(parameter_node, "the parameters of whatsapp_template must be a list such as [November]")
        else:
            found = [reader.string(item, "a parameter of whatsapp_template") for item in parameter_node.value]
            parameters = tuple(value for value in found if value is not None)
    if name is None or language is None:
        return None
    return WhatsAppTemplate(name, language, parameters)


def _audience(
    reader: _Reader, node: Node, topics: Collection[str] | None, user_groups: Collection[str] | None
) -> Audience:
    entries = reader.mapping(node, "the audience", AUDIENCE_KEYS)
    if not entries:
        return Audience()
    languages = reader.names(entries["languages"][1], "languages", None) if "languages" in entries else ()
    for language in languages:
        if not LANGUAGE.match(language):
            reader.problem(
                entries["languages"][1], f"'{language}' in languages is not a language code such as en or fr"
            )
    return Audience(
        topics=reader.names(entries["topics"][1], "topics", topics) if "topics" in entries else (),
        user_groups=reader.names(entries["user_groups"][1], "user_groups", user_groups)
        if "user_groups" in entries
        else (),
        regions=reader.names(entries["regions"][1], "regions", None) if "regions" in entries else (),
        languages=languages,
    )


def _buttons(
    reader: _Reader, node: Node, default_language: str, surveys: Collection[str] | None
) -> tuple[NoticeButton, ...]:
    if not isinstance(node, SequenceNode):
        reader.problem(node, "buttons must be a list of {label: ..., url: ...} or {label: ..., survey: ...}")
        return ()
    if len(node.value) > MAX_BUTTONS:
        reader.problem(node, f"a notice can have at most {MAX_BUTTONS} buttons")
    buttons: list[NoticeButton] = []
    for number, item in enumerate(node.value, start=1):
        what = f"button {number}"
        entries = reader.mapping(item, what, BUTTON_KEYS)
        if entries is None:
            continue
        label = None
        if "label" not in entries:
            reader.problem(item, f"{what} needs a label")
        else:
            label = reader.texts(entries["label"][1], f"the label of {what}", default_language)
            for language, text in (label or {}).items():
                if len(text) > MAX_LABEL:
                    reader.problem(
                        entries["label"][1],
                        f"the label of {what} in '{language}' is longer than {MAX_LABEL} characters",
                    )
        if ("url" in entries) == ("survey" in entries):
            reader.problem(item, f"{what} needs either a url (it opens a page) or a survey (it starts the survey)")
            continue
        url = survey = None
        if "url" in entries:
            url = reader.string(entries["url"][1], f"the url of {what}")
            if url is not None and not URL.match(url):
                reader.problem(entries["url"][1], f"the url of {what} must start with https:// (or http://)")
        else:
            survey = reader.string(entries["survey"][1], f"the survey of {what}")
            if survey is not None and not SURVEY_ID.match(survey):
                reader.problem(entries["survey"][1], f"'{survey}' is not a survey id")
            elif survey is not None and surveys is not None and survey not in surveys:
                known = ", ".join(sorted(surveys)) or "none"
                reader.problem(entries["survey"][1], f"there is no survey '{survey}' (surveys: {known})")
        if label is not None:
            buttons.append(NoticeButton(label, url=url, survey=survey))
    return tuple(buttons)


def _attachment(reader: _Reader, entries: dict[str, tuple[Node, Node]], base_dir: Path) -> Attachment | None:
    if "image" in entries and "document" in entries:
        reader.problem(entries["document"][0], "a notice can have an image or a document, not both")
        return None
    kind = "image" if "image" in entries else "document" if "document" in entries else None
    if kind is None:
        return None
    node = entries[kind][1]
    name = reader.string(node, kind)
    if name is None:
        return None
    path = Path(name) if Path(name).is_absolute() else base_dir / name
    if kind == "image" and path.suffix.lower() not in IMAGE_SUFFIXES:
        reader.problem(node, f"the image must be a {', '.join(sorted(IMAGE_SUFFIXES))} file (or use document:)")
        return None
    try:
        size = path.stat().st_size
        if size > MAX_ATTACHMENT_BYTES:
            reader.problem(node, f"{path} is {size} bytes; the limit is {MAX_ATTACHMENT_BYTES} (10 MB)")
            return None
        content = path.read_bytes()
    except OSError as error:
        reader.problem(node, f"cannot read {path}: {error.strerror}")
        return None
    if not content:
        reader.problem(node, f"{path} is empty")
        return None
    mime_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return Attachment(kind, path.name, content, mime_type)


def parse_time(value: Any) -> datetime:
    """A send time: a datetime or ISO text (``2026-12-01 10:00``, ``...+03:00``, ``...Z``).

    Without a zone it is this computer's local time. Returns UTC. ValueError if it is not a time.
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        raise ValueError("give a time too, e.g. 2026-12-01 10:00")
    else:
        text = str(value).strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        moment = datetime.fromisoformat(re.sub(r"\s+(?=[+-]\d{2}:?\d{2}$)", "", text))
    if moment.tzinfo is None:
        moment = moment.astimezone()  # the local time zone
    return moment.astimezone(UTC)


def _send_at(reader: _Reader, node: Node, now: datetime | None) -> datetime | None:
    value = reader.value(node)
    try:
        moment = parse_time(value)
    except (ValueError, TypeError) as error:
        reader.problem(node, f"send_at must be a time such as 2026-12-01 10:00 or 2026-12-01 10:00 +03:00 ({error})")
        return None
    if now is not None and moment < now:
        reader.problem(node, f"send_at {moment:%Y-%m-%d %H:%M} UTC is in the past; remove it to send now")
    return moment
