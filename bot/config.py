"""Configuration: ``config.yaml`` with ``${ENV}`` substitution, overridden by ``BARAZA_*`` variables.

Everything is read into one frozen :class:`Settings` value and checked at start, with messages
that name the file, line and key.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yarl import URL

from bot.core.flood import FloodSettings
from bot.limits import Rate
from bot.proxies import IPNetwork, ProxyConfigError, parse_networks
from catalogue.loading import SourceSpec
from common.errors import BarazaError
from common.problems import FileProblem
from common.safe_yaml import YamlSyntaxProblem, load_document
from handlers.context import DEFAULT_TOPICS, DEFAULT_USER_GROUPS
from handlers.engagement import EngagementError, EngagementSettings, read_engagement
from handlers.invitations import FieldworkError, QuietHours
from handlers.notices import WhatsAppTemplate
from storage.media import DEFAULT_MAX_BYTES, MediaSettings, S3Settings

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/baraza.db"
#: Where the keys not given by the environment are kept (mode 0600), beside the default database.
DEFAULT_KEY_FILE = Path("data/baraza.keys")
DEFAULT_TELEGRAM_BASE_URL = "https://api.telegram.org/bot"
DEFAULT_GRAPH_BASE_URL = "https://graph.facebook.com"
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


_COLOUR_RE = re.compile(r"#[0-9A-Fa-f]{3}(?:[0-9A-Fa-f]{3})?")
_LOOK_KEYS = {"office_name", "colour", "text_colour", "logo", "greeting"}


class ConfigError(BarazaError):
    """The configuration cannot be used; the message says where and why."""


class StartupError(BarazaError):
    """``baraza run`` cannot start (a busy port, an unreachable database); the message is one
    line that names the setting to change."""


@dataclass(frozen=True)
class TelegramSettings:
    token: str | None = None
    base_url: str = DEFAULT_TELEGRAM_BASE_URL
    base_file_url: str | None = None
    mode: str = "polling"  # or "webhook"
    webhook_url: str | None = None
    webhook_path: str = "/telegram/webhook"
    webhook_secret: str | None = None
    # Updates Telegram may have in flight to the webhook at once (Telegram's 1-100; its default
    # of 40 would leave a busy bot idle while the database commits others' answers).
    webhook_max_connections: int = 100
    poll_timeout: int = 30
    # Telegram's limits: about 30 messages a second overall and 1 a second per chat, with
    # short bursts allowed in a chat.
    messages_per_second: float = 30.0
    chat_messages_per_second: float = 1.0
    chat_burst: int = 4
    max_retries: int = 5

    @property
    def enabled(self) -> bool:
        return bool(self.token)


@dataclass(frozen=True)
class WhatsAppSettings:
    """The WhatsApp Business Cloud API (see bot/channels/whatsapp/adapter.py). Secrets never show in repr."""

    phone_number_id: str | None = None
    access_token: str | None = field(default=None, repr=False)
    app_secret: str | None = field(default=None, repr=False)  # checks X-Hub-Signature-256
    verify_token: str | None = field(default=None, repr=False)  # the webhook handshake
    graph_base_url: str = DEFAULT_GRAPH_BASE_URL
    api_version: str = "v21.0"
    webhook_path: str = "/whatsapp/webhook"
    max_retries: int = 5  # for throughput errors (130429) and 5xx answers
    retry_delay: float = 1.0  # the first wait; it doubles at each retry

    @property
    def enabled(self) -> bool:
        return bool(self.phone_number_id and self.access_token)


#: Africa's Talking ends a session after 180 seconds, whatever the person does.
USSD_SESSION_SECONDS = 180
MIN_USSD_SECRET = 16
USSD_KEYS = frozenset(
    {"secret", "path", "allowed_ips", "survey", "default_region", "continue_by_sms", "sms_after_seconds"}
)


@dataclass(frozen=True)
class UssdSettings:
    """The USSD channel. ``secret`` never shows in repr."""

    secret: str | None = field(default=None, repr=False)
    #: The callback is ``{path}/{secret}`` on the web server.
    path: str = "/ussd"
    allowed_ips: tuple[IPNetwork, ...] = ()
    #: The survey a dial opens (None: the greeting and the open surveys, as ``/start``).
    survey: str | None = None
    #: The ISO country of numbers the gateway gives without a country code (``KE``).
    default_region: str | None = None
    #: Continue a survey by SMS when a session is about to run out (needs the SMS channel).
    continue_by_sms: bool = False
    #: How long into a session the next question goes by SMS instead (below AT's 180 seconds).
    sms_after_seconds: float = 150.0

    @property
    def enabled(self) -> bool:
        return bool(self.secret)

    @property
    def callback_path(self) -> str:
        return f"{self.path.rstrip('/')}/{self.secret}"


SMS_PROVIDERS = ("africastalking", "twilio")
#: The gateways' API addresses (tests point ``sms.base_url`` at a local fake).
SMS_BASE_URLS = {"africastalking": "https://api.africastalking.com", "twilio": "https://api.twilio.com"}
#: The credentials, read from the environment only (never from config.yaml).
SMS_CREDENTIALS = {
    "africastalking": ("BARAZA_SMS_AT_USERNAME", "BARAZA_SMS_AT_API_KEY"),
    "twilio": ("BARAZA_SMS_TWILIO_ACCOUNT_SID", "BARAZA_SMS_TWILIO_AUTH_TOKEN"),
}


@dataclass(frozen=True)
class SmsSettings:
    """``sms:`` in config.yaml: SMS through Africa's Talking or Twilio (bot/channels/sms/).

    ``account`` is the Africa's Talking username or the Twilio account SID, ``secret`` the API key
    or auth token (both from the environment, :data:`SMS_CREDENTIALS`); ``webhook_secret`` the
    secret path segment of Africa's Talking's callbacks. Secrets never show in repr.
    """

    provider: str | None = None
    account: str | None = None
    secret: str | None = field(default=None, repr=False)
    #: The sender: a phone number, short code or alphanumeric sender id (Twilio: required).
    sender: str | None = None
    base_url: str = ""
    webhook_path: str = "/sms"
    webhook_secret: str | None = field(default=None, repr=False)
    #: The address the gateway calls (``https://chat.example.org``): what Twilio signs. Empty:
    #: the request's own scheme and host (behind web.trusted_proxies, the forwarded ones).
    public_url: str | None = None
    #: Africa's Talking callbacks are accepted from these addresses only (empty: from anywhere).
    allowed_ips: tuple[IPNetwork, ...] = ()
    #: The gateway's send rate, and whether it counts segments or messages.
    messages_per_second: float = 5.0
    rate_counts: str = "segments"
    #: A longer text is split into several messages of at most this many segments each.
    max_segments: int = 3
    #: Numbers written without a country code belong to this region (ISO 3166, e.g. KE).
    default_region: str | None = None
    #: What HELP (and AIDE) answer; empty: the bot's /help.
    help_text: str | None = None
    max_retries: int = 3
    retry_delay: float = 1.0

    @property
    def enabled(self) -> bool:
        return bool(self.provider and self.account and self.secret)


_CHAT_PER_ADDRESS = Rate(60, 5.0)
_CHAT_PER_SESSION = Rate(20, 2.0)
_NEW_SESSIONS_PER_ADDRESS = Rate(20, 0.5)
_LOGIN_PER_ADDRESS = Rate(10, 0.1)
_LOGIN_PER_ACCOUNT = Rate(10, 1 / 60)


@dataclass(frozen=True)
class WebLimits:
    """``web.limits``: per-client request rates (token buckets, see :mod:`bot.limits`)."""

    enabled: bool = True

    #: Web-chat messages from one client address (generous: many phones share a carrier's address).
    chat_per_address: Rate = _CHAT_PER_ADDRESS
    #: Web-chat messages of one session (above the per-user flood limit, which answers politely).
    chat_per_session: Rate = _CHAT_PER_SESSION
    #: New web-chat sessions (a page load or a post without a valid cookie) from one address.
    new_sessions_per_address: Rate = _NEW_SESSIONS_PER_ADDRESS
    #: Dashboard sign-in attempts from one address (6 a minute after the first 10).
    login_per_address: Rate = _LOGIN_PER_ADDRESS
    #: Sign-in attempts for one user name, known or not (1 a minute after the first 10).
    login_per_account: Rate = _LOGIN_PER_ACCOUNT


LIMIT_NAMES = ("chat_per_address", "chat_per_session", "new_sessions_per_address", "login_per_address",
               "login_per_account")  # fmt: skip


@dataclass(frozen=True)
class EmbedSettings:
    """``web.embed`` in ``config.yaml``: who may embed the chat, and how it looks.

    ``allowed_origins`` are ``scheme://host[:port]`` of the websites that may frame the chat
    (empty: embedding is off). ``colour`` and ``text_colour`` are ``#rgb``/``#rrggbb``; ``logo``
    an https (or same-site path) address of an image; ``greeting`` the line shown beside the
    bubble and under the office's name.
    """

    allowed_origins: tuple[str, ...] = ()
    office_name: str = "Baraza"
    colour: str = "#0b57a4"
    text_colour: str = "#ffffff"
    logo: str | None = None
    greeting: str | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.allowed_origins)

    def look(self) -> dict[str, str | None]:
        """What the page and ``embed.js`` draw with (no secrets: it is public)."""
        return {
            "office_name": self.office_name,
            "colour": self.colour,
            "text_colour": self.text_colour,
            "logo": self.logo,
            "greeting": self.greeting,
        }


def embed_settings(section: Mapping[str, Any], source: str, where: str = "web.embed") -> EmbedSettings:
    """The settings of a ``web.embed`` mapping, checked (:class:`ConfigError` names the key)."""
    unknown = sorted(set(section) - _LOOK_KEYS - {"allowed_origins"})
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {', '.join(unknown)} in {where}")
    origins = section.get("allowed_origins") or ()
    if isinstance(origins, str) or not isinstance(origins, list | tuple):
        raise ConfigError(
            f"{source}: {where}.allowed_origins must be a list of origins such as https://www.example.org"
        )
    defaults = EmbedSettings()
    colour = str(section.get("colour") or defaults.colour)
    text_colour = str(section.get("text_colour") or defaults.text_colour)
    for name, value in (("colour", colour), ("text_colour", text_colour)):
        if not _COLOUR_RE.fullmatch(value):
            raise ConfigError(f"{source}: {where}.{name} must be a colour such as #0b5cad, not {value!r}")
    logo = section.get("logo") or None
    if logo is not None and not (
        str(logo).startswith("https://") or (str(logo).startswith("/") and not str(logo).startswith("//"))
    ):
        raise ConfigError(f"{source}: {where}.logo must be an https:// address or a path on the chat's server")
    return EmbedSettings(
        allowed_origins=tuple(_origin(str(origin), source, where) for origin in origins),
        office_name=str(section.get("office_name") or defaults.office_name),
        colour=colour,
        text_colour=text_colour,
        logo=None if logo is None else str(logo),
        greeting=None if not section.get("greeting") else str(section["greeting"]),
    )


def _origin(value: str, source: str, where: str) -> str:
    """``value`` as an origin (``https://www.example.org``, port kept when not the default)."""
    try:
        url = URL(value.strip())
    except ValueError:
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host or url.path not in ("", "/"):
        raise ConfigError(
            f"{source}: {where}.allowed_origins: {value!r} is not an origin such as https://www.example.org"
        )
    if url.query_string or url.fragment or url.user:
        raise ConfigError(
            f"{source}: {where}.allowed_origins: {value!r} is not an origin such as https://www.example.org"
        )
    return str(url.origin())


@dataclass(frozen=True)
class WebSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    #: The chat on the office's own website (``web.embed``): allowed origins and look.
    embed: EmbedSettings = field(default_factory=EmbedSettings)
    #: Proxies whose X-Forwarded-For/-Proto and Forwarded headers count (see bot/proxies.py).
    trusted_proxies: tuple[IPNetwork, ...] = ()
    limits: WebLimits = field(default_factory=WebLimits)


@dataclass(frozen=True)
class RegisterSettings:
    """The user register: who the office's users are and what they can follow."""

    onboarding: Path | None = None  # survey-format file; None switches onboarding off
    user_groups: tuple[str, ...] = DEFAULT_USER_GROUPS
    topics: tuple[str, ...] = DEFAULT_TOPICS


@dataclass(frozen=True)
class BroadcastSettings:
    # Telegram allows about 30 messages a second (1000 with paid broadcasts); stay below it.
    messages_per_second: float = 25.0
    chat_messages_per_second: float = 1.0
    concurrency: int = 8


@dataclass(frozen=True)
class FieldworkSettings:
    """Invitations and reminders (``fieldwork:`` in config.yaml; see docs/fieldwork.md)."""

    quiet: QuietHours = field(default_factory=QuietHours)
    #: How often ``baraza run`` looks for reminders that fell due (0: never; ``baraza survey remind``).
    reminders_every_minutes: float = 15.0
    #: The approved template for WhatsApp contacts silent for 24 hours (reminders and default invitations).
    whatsapp_template: WhatsAppTemplate | None = None


@dataclass(frozen=True)
class RefreshSettings:
    """Fetch these dataflows from an SDMX REST endpoint every so often (``{url}/data/{dataflow}``)."""

    url: str
    dataflows: tuple[str, ...]
    every_minutes: float = 60.0


@dataclass(frozen=True)
class IndicatorSettings:
    """Where the indicator catalogue comes from (``indicators:`` in config.yaml); see catalogue/loading.py."""

    metadata: Path | None = None  # None: no indicators are loaded
    sources: tuple[SourceSpec, ...] = ()
    base_dir: Path = Path(".")
    refresh: RefreshSettings | None = None


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    surveys_directory: Path = Path("office/surveys")
    default_language: str = "en"
    pseudonym_key: str | None = field(default=None, repr=False)
    log_level: str = "INFO"
    telegram: TelegramSettings = field(default_factory=TelegramSettings)
    whatsapp: WhatsAppSettings = field(default_factory=WhatsAppSettings)
    sms: SmsSettings = field(default_factory=SmsSettings)
    web: WebSettings = field(default_factory=WebSettings)
    register: RegisterSettings = field(default_factory=RegisterSettings)
    broadcast: BroadcastSettings = field(default_factory=BroadcastSettings)
    fieldwork: FieldworkSettings = field(default_factory=FieldworkSettings)
    #: The office's engagement objectives (``engagement:``; see docs/engagement.md).
    engagement: EngagementSettings = field(default_factory=EngagementSettings)
    indicators: IndicatorSettings = field(default_factory=IndicatorSettings)
    #: (channel, user id) pairs allowed to use admin commands such as /broadcast.
    admins: frozenset[tuple[str, str]] = frozenset()
    source: str = "<defaults>"
    #: The glossary (/define) and the release calendar (/calendar); None: not offered.
    concepts_file: Path | None = None
    calendar_file: Path | None = None
    #: Redis for the send rate shared by several workers (``redis.url`` / ``BARAZA_REDIS_URL``).
    redis_url: str | None = None
    #: The per-user message rate (:mod:`bot.core.flood`).
    flood: FloodSettings = field(default_factory=FloodSettings)
    #: Where files sent as answers are kept (``media:``), and the largest one accepted.
    media: MediaSettings = field(default_factory=MediaSettings)
    #: The dashboard's cookie key (``BARAZA_COOKIE_KEY``); else it comes from the key file.
    cookie_key: str | None = field(default=None, repr=False)
    #: The key file (``privacy.key_file`` / ``BARAZA_KEY_FILE``, mode 0600) holding the keys the
    #: environment does not give; None only for settings made in code (tests), see :mod:`bot.keys`.
    key_file: Path | None = None
    #: USSD sessions through Africa's Talking (``ussd:``); off without its secret.
    ussd: UssdSettings = field(default_factory=UssdSettings)


def _substitute(text: str, environ: Mapping[str, str], path: str) -> str:
    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in environ:
            return environ[name]
        if default is not None:
            return default
        line = text.count("\n", 0, match.start()) + 1
        raise ConfigError(
            f"{path}:{line}: environment variable {name} is not set (write ${{{name}:-}} to allow it empty)"
        )

    return _VARIABLE.sub(replace, text)


def _fieldwork(section: Mapping[str, Any], source: str) -> FieldworkSettings:
    _check_keys(
        section, {"time_zone", "quiet_hours", "reminders_every_minutes", "whatsapp_template"}, "fieldwork", source
    )
    try:
        quiet = QuietHours.parse(str(section.get("time_zone", "UTC")), section.get("quiet_hours", "21:00-08:00"))
    except FieldworkError as error:
        raise ConfigError(f"{source}: fieldwork: {error}") from None
    template = None
    raw_template = section.get("whatsapp_template")
    if raw_template is not None:
        if not isinstance(raw_template, Mapping) or not {"name", "language"} <= set(raw_template):
            raise ConfigError(f"{source}: fieldwork.whatsapp_template needs a name and a language")
        template = WhatsAppTemplate(
            str(raw_template["name"]),
            str(raw_template["language"]),
            tuple(str(p) for p in raw_template.get("parameters", ())),
        )
    every_value = section.get("reminders_every_minutes", 15.0)
    every = 0.0 if every_value in (0, "0") else _float(every_value, "fieldwork.reminders_every_minutes", source)
    return FieldworkSettings(quiet, every, template)


def _section(raw: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any]:
    value = raw.get(key) or {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{path}: '{key}' must be a mapping")
    return value


def _check_keys(section: Mapping[str, Any], known: set[str], where: str, path: str) -> None:
    unknown = sorted(set(section) - known)
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(unknown)} in {where} (known: {', '.join(sorted(known))})")


def _int(value: Any, what: str, path: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{path}: {what} must be a whole number, not {value!r}") from None


def _float(value: Any, what: str, path: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{path}: {what} must be a number, not {value!r}") from None
    if number <= 0:
        raise ConfigError(f"{path}: {what} must be greater than 0")
    return number


def _empty_to_none(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def load_settings(path: Path | None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read ``path`` (if given and present) and apply ``BARAZA_*`` overrides from ``environ``."""
    env = os.environ if environ is None else environ
    raw: Mapping[str, Any] = {}
    source = "<defaults>"
    if path is not None:
        if not path.exists():
            raise ConfigError(f"{path}: the configuration file does not exist")
        source = str(path)
        try:
            content = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            reason = error.strerror if isinstance(error, OSError) and error.strerror else type(error).__name__
            raise ConfigError(
                f"{path}: the configuration file cannot be read ({reason}): fix its permissions "
                "or give another one with --config"
            ) from None
        text = _substitute(content, env, source)
        try:
            loaded = load_document(text)
        except YamlSyntaxProblem as problem:
            raise ConfigError(str(FileProblem(source, problem.line, problem.message))) from None
        if loaded is not None and not isinstance(loaded, Mapping):
            raise ConfigError(f"{source}:1: the configuration must be a mapping")
        raw = loaded or {}
    _check_keys(
        raw,
        {
            "concepts",
            "calendar",
            "database",
            "surveys",
            "bot",
            "privacy",
            "logging",
            "telegram",
            "web",
            "register",
            "engagement",
            "broadcast",
            "admins",
            "indicators",
            "whatsapp",
            "sms",
            "redis",
            "flood",
            "media",
            "fieldwork",
            "ussd",
        },
        "the file",
        source,
    )
    database = _section(raw, "database", source)
    surveys = _section(raw, "surveys", source)
    bot = _section(raw, "bot", source)
    privacy = _section(raw, "privacy", source)
    logging_ = _section(raw, "logging", source)
    telegram = _section(raw, "telegram", source)
    web = _section(raw, "web", source)
    _check_keys(database, {"url"}, "database", source)
    _check_keys(surveys, {"directory"}, "surveys", source)
    _check_keys(bot, {"default_language"}, "bot", source)
    _check_keys(privacy, {"pseudonym_key", "key_file"}, "privacy", source)
    _check_keys(logging_, {"level"}, "logging", source)
    _check_keys(web, {"host", "port", "trusted_proxies", "limits", "embed"}, "web", source)
    embed = embed_settings(_section(web, "embed", source), source)
    _check_keys(
        telegram,
        {"token", "base_url", "base_file_url", "mode", "webhook", "poll_timeout", "rate_limit"},
        "telegram",
        source,
    )
    webhook = _section(telegram, "webhook", source)
    _check_keys(webhook, {"url", "path", "secret_token", "max_connections"}, "telegram.webhook", source)
    rate = _section(telegram, "rate_limit", source)
    _check_keys(
        rate,
        {"messages_per_second", "chat_messages_per_second", "chat_burst", "max_retries"},
        "telegram.rate_limit",
        source,
    )

    base_dir = path.parent if path is not None else Path.cwd()
    surveys_dir = Path(env.get("BARAZA_SURVEYS_DIR") or surveys.get("directory") or "office/surveys")
    if not surveys_dir.is_absolute():
        surveys_dir = base_dir / surveys_dir

    defaults = TelegramSettings()
    telegram_settings = TelegramSettings(
        token=_empty_to_none(env.get("BARAZA_TELEGRAM_TOKEN") or telegram.get("token")),
        base_url=str(env.get("BARAZA_TELEGRAM_BASE_URL") or telegram.get("base_url") or defaults.base_url),
        base_file_url=_empty_to_none(env.get("BARAZA_TELEGRAM_BASE_FILE_URL") or telegram.get("base_file_url")),
        mode=str(env.get("BARAZA_TELEGRAM_MODE") or telegram.get("mode") or "polling"),
        webhook_url=_empty_to_none(env.get("BARAZA_TELEGRAM_WEBHOOK_URL") or webhook.get("url")),
        webhook_path=str(webhook.get("path") or defaults.webhook_path),
        webhook_secret=_empty_to_none(env.get("BARAZA_TELEGRAM_WEBHOOK_SECRET") or webhook.get("secret_token")),
        webhook_max_connections=_int(
            webhook.get("max_connections", defaults.webhook_max_connections),
            "telegram.webhook.max_connections",
            source,
        ),
        poll_timeout=_int(telegram.get("poll_timeout", defaults.poll_timeout), "telegram.poll_timeout", source),
        messages_per_second=_float(
            rate.get("messages_per_second", defaults.messages_per_second),
            "telegram.rate_limit.messages_per_second",
            source,
        ),
        chat_messages_per_second=_float(
            rate.get("chat_messages_per_second", defaults.chat_messages_per_second),
            "telegram.rate_limit.chat_messages_per_second",
            source,
        ),
        chat_burst=_int(rate.get("chat_burst", defaults.chat_burst), "telegram.rate_limit.chat_burst", source),
        max_retries=_int(rate.get("max_retries", defaults.max_retries), "telegram.rate_limit.max_retries", source),
    )
    if telegram_settings.mode not in ("polling", "webhook"):
        raise ConfigError(f"{source}: telegram.mode must be 'polling' or 'webhook', not {telegram_settings.mode!r}")
    if not 1 <= telegram_settings.webhook_max_connections <= 100:
        raise ConfigError(f"{source}: telegram.webhook.max_connections must be between 1 and 100 (Telegram's limits)")
    if telegram_settings.mode == "webhook" and telegram_settings.enabled:
        if not telegram_settings.webhook_url:
            raise ConfigError(f"{source}: telegram.webhook.url is required in webhook mode (the public HTTPS address)")
        if not telegram_settings.webhook_secret or not re.fullmatch(
            r"[A-Za-z0-9_-]{1,256}", telegram_settings.webhook_secret
        ):
            raise ConfigError(
                f"{source}: telegram.webhook.secret_token is required in webhook mode: 1-256 of A-Z a-z 0-9 _ -"
            )

    register = _register(_section(raw, "register", source), base_dir, source)
    broadcast_section = _section(raw, "broadcast", source)
    _check_keys(
        broadcast_section, {"messages_per_second", "chat_messages_per_second", "concurrency"}, "broadcast", source
    )
    broadcast = BroadcastSettings(
        messages_per_second=_float(
            broadcast_section.get("messages_per_second", 25.0), "broadcast.messages_per_second", source
        ),
        chat_messages_per_second=_float(
            broadcast_section.get("chat_messages_per_second", 1.0), "broadcast.chat_messages_per_second", source
        ),
        concurrency=_int(broadcast_section.get("concurrency", 8), "broadcast.concurrency", source),
    )
    if broadcast.messages_per_second > 1000:
        raise ConfigError(
            f"{source}: broadcast.messages_per_second cannot exceed Telegram's paid-broadcast rate of 1000"
        )
    admins = _admins(_section(raw, "admins", source), env, source)
    redis_section = _section(raw, "redis", source)
    _check_keys(redis_section, {"url"}, "redis", source)
    redis_url = _empty_to_none(env.get("BARAZA_REDIS_URL") or redis_section.get("url"))
    if redis_url is not None and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(f"{source}: redis.url must start with redis://, rediss:// or unix://")

    pseudonym_key = _empty_to_none(env.get("BARAZA_PSEUDONYM_KEY") or privacy.get("pseudonym_key"))
    if pseudonym_key is not None and len(pseudonym_key) < 16:
        raise ConfigError(f"{source}: privacy.pseudonym_key must be at least 16 characters")
    cookie_key = _empty_to_none(env.get("BARAZA_COOKIE_KEY"))
    if cookie_key is not None and len(cookie_key) < 32:
        raise ConfigError(f"{source}: BARAZA_COOKIE_KEY must be at least 32 characters (openssl rand -hex 32)")
    key_file = Path(str(env.get("BARAZA_KEY_FILE") or privacy.get("key_file") or DEFAULT_KEY_FILE))
    return Settings(
        database_url=str(env.get("BARAZA_DATABASE_URL") or database.get("url") or DEFAULT_DATABASE_URL),
        surveys_directory=surveys_dir,
        default_language=str(bot.get("default_language") or "en"),
        pseudonym_key=pseudonym_key,
        log_level=str(env.get("BARAZA_LOG_LEVEL") or logging_.get("level") or "INFO").upper(),
        telegram=telegram_settings,
        web=WebSettings(
            host=str(env.get("BARAZA_WEB_HOST") or web.get("host") or "127.0.0.1"),
            port=_int(env.get("BARAZA_WEB_PORT") or web.get("port") or 8080, "web.port", source),
            embed=embed,
            trusted_proxies=_trusted_proxies(env.get("BARAZA_TRUSTED_PROXIES"), web.get("trusted_proxies"), source),
            limits=_web_limits(_section(web, "limits", source), source),
        ),
        register=register,
        broadcast=broadcast,
        fieldwork=_fieldwork(_section(raw, "fieldwork", source), source),
        engagement=_engagement(_section(raw, "engagement", source), source),
        admins=admins,
        indicators=_indicators(_section(raw, "indicators", source), base_dir, source),
        source=source,
        concepts_file=_office_file(
            raw, "concepts", ("office/concepts.yaml", "concepts.yaml", "data/concepts.yaml"), base_dir, source
        ),
        calendar_file=_office_file(
            raw,
            "calendar",
            (
                "office/releases.yaml",
                "office/releases.csv",
                "releases.yaml",
                "releases.csv",
                "data/releases.yaml",
                "data/releases.csv",
            ),
            base_dir,
            source,
        ),
        whatsapp=_whatsapp(_section(raw, "whatsapp", source), env, source),
        sms=_sms(_section(raw, "sms", source), env, source),
        redis_url=redis_url,
        flood=_flood(_section(raw, "flood", source), source),
        media=_media(_section(raw, "media", source), env, base_dir, source),
        cookie_key=cookie_key,
        key_file=key_file,
        ussd=_ussd(_section(raw, "ussd", source), env, source),
    )


def _engagement(section: Mapping[str, Any], source: str) -> EngagementSettings:
    try:
        return read_engagement(section)
    except EngagementError as error:
        raise ConfigError(f"{source}: {error}") from None


def _media(section: Mapping[str, Any], env: Mapping[str, str], base_dir: Path, source: str) -> MediaSettings:
    """``media: {directory, max_mb, s3: {bucket, endpoint, region, prefix, access_key_env, secret_key_env}}``.

    The folder defaults to ``data/media`` next to the configuration; the keys of a bucket are read
    from the environment variables the section names (``BARAZA_S3_ACCESS_KEY_ID`` and
    ``BARAZA_S3_SECRET_ACCESS_KEY`` by default), never from the file.
    """
    _check_keys(section, {"directory", "max_mb", "s3"}, "media", source)
    directory = Path(env.get("BARAZA_MEDIA_DIR") or section.get("directory") or "data/media")
    if not directory.is_absolute():
        directory = base_dir / directory
    max_mb = _float(section.get("max_mb", DEFAULT_MAX_BYTES / 1_048_576), "media.max_mb", source)
    s3_section = _section(section, "s3", source)
    s3 = None
    if s3_section:
        known = {"bucket", "endpoint", "region", "prefix", "access_key_env", "secret_key_env"}
        _check_keys(s3_section, known, "media.s3", source)
        bucket = _empty_to_none(s3_section.get("bucket"))
        if bucket is None:
            raise ConfigError(f"{source}: media.s3.bucket is required when media.s3 is set")
        defaults = S3Settings(bucket=bucket)
        s3 = S3Settings(
            bucket=bucket,
            endpoint=_empty_to_none(s3_section.get("endpoint")),
            region=_empty_to_none(s3_section.get("region")),
            prefix=str(s3_section.get("prefix") or ""),
            access_key_env=str(s3_section.get("access_key_env") or defaults.access_key_env),
            secret_key_env=str(s3_section.get("secret_key_env") or defaults.secret_key_env),
        )
    return MediaSettings(directory=directory, max_bytes=int(max_mb * 1_048_576), s3=s3)


def _office_file(
    raw: Mapping[str, Any], key: str, defaults: tuple[str, ...], base_dir: Path, source: str
) -> Path | None:
    """``concepts: {file: ...}`` / ``calendar: {file: ...}``: the file, relative to the config.

    Not configured: the first of ``defaults`` that exists next to the configuration. An empty
    ``file`` switches the feature off.
    """
    section = _section(raw, key, source)
    _check_keys(section, {"file"}, key, source)
    if "file" in section:
        name = _empty_to_none(section.get("file"))
        if name is None:
            return None
        return Path(name) if Path(name).is_absolute() else base_dir / name
    return next((base_dir / name for name in defaults if (base_dir / name).is_file()), None)


def _names(value: Any, what: str, source: str) -> tuple[str, ...]:
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, str) and re.fullmatch(r"[a-z][a-z0-9_]{0,39}", v) for v in value)
    ):
        raise ConfigError(f"{source}: {what} must be a list of names such as [prices, labour] (lowercase, digits, _)")
    return tuple(value)


def _register(section: Mapping[str, Any], base_dir: Path, source: str) -> RegisterSettings:
    _check_keys(section, {"onboarding", "user_groups", "topics"}, "register", source)
    onboarding = _empty_to_none(section.get("onboarding"))
    path = None
    if onboarding is not None:
        path = Path(onboarding) if Path(onboarding).is_absolute() else base_dir / onboarding
    return RegisterSettings(
        onboarding=path,
        user_groups=_names(section["user_groups"], "register.user_groups", source)
        if "user_groups" in section
        else DEFAULT_USER_GROUPS,
        topics=_names(section["topics"], "register.topics", source) if "topics" in section else DEFAULT_TOPICS,
    )


def _admins(section: Mapping[str, Any], env: Mapping[str, str], source: str) -> frozenset[tuple[str, str]]:
    """``admins: {telegram: [12345]}`` plus ``BARAZA_ADMINS=telegram:12345,web:...``."""
    pairs: set[tuple[str, str]] = set()
    for channel, ids in section.items():
        if not isinstance(ids, list):
            raise ConfigError(f"{source}: admins.{channel} must be a list of user ids")
        pairs.update((str(channel), str(user_id)) for user_id in ids)
    for item in (env.get("BARAZA_ADMINS") or "").split(","):
        if item.strip():
            channel, _, user_id = item.strip().partition(":")
            if not user_id:
                raise ConfigError(f"BARAZA_ADMINS: '{item}' must be channel:user_id, e.g. telegram:123456")
            pairs.add((channel, user_id))
    return frozenset(pairs)


def _indicators(section: Mapping[str, Any], base_dir: Path, source: str) -> IndicatorSettings:
    """``indicators: {metadata, sources: [path or glob | {path, dataflow}], refresh: {url, dataflows, every_minutes}}``."""
    _check_keys(section, {"metadata", "sources", "refresh"}, "indicators", source)
    metadata = _empty_to_none(section.get("metadata"))
    if metadata is None:
        if section.get("sources") or section.get("refresh"):
            raise ConfigError(f"{source}: indicators.metadata is required when indicators.sources or refresh are set")
        return IndicatorSettings(base_dir=base_dir)
    metadata_path = Path(metadata) if Path(metadata).is_absolute() else base_dir / metadata
    raw_sources = section.get("sources") or []
    if not isinstance(raw_sources, list):
        raise ConfigError(f"{source}: indicators.sources must be a list of paths or globs (data/*.csv)")
    sources: list[SourceSpec] = []
    for item in raw_sources:
        if isinstance(item, str) and item.strip():
            sources.append(SourceSpec(item.strip()))
        elif isinstance(item, Mapping) and isinstance(item.get("path"), str):
            _check_keys(item, {"path", "dataflow"}, "an entry of indicators.sources", source)
            sources.append(SourceSpec(str(item["path"]), _empty_to_none(item.get("dataflow"))))
        else:
            raise ConfigError(
                f"{source}: each entry of indicators.sources is a path or glob, or {{path: ..., dataflow: ...}}"
            )
    refresh = None
    refresh_section = _section(section, "refresh", source)
    _check_keys(refresh_section, {"url", "dataflows", "every_minutes"}, "indicators.refresh", source)
    url = _empty_to_none(refresh_section.get("url"))
    if url is not None:
        if not re.match(r"^https?://", url):
            raise ConfigError(f"{source}: indicators.refresh.url must start with http:// or https://")
        flows = refresh_section.get("dataflows")
        if not isinstance(flows, list) or not flows or not all(isinstance(f, str) and f for f in flows):
            raise ConfigError(f"{source}: indicators.refresh.dataflows must list the dataflows to fetch, e.g. [DF_CPI]")
        refresh = RefreshSettings(
            url=url.rstrip("/"),
            dataflows=tuple(flows),
            every_minutes=_float(refresh_section.get("every_minutes", 60), "indicators.refresh.every_minutes", source),
        )
    if not sources and refresh is None:
        raise ConfigError(f"{source}: indicators.sources (files) or indicators.refresh (an SDMX endpoint) is needed")
    return IndicatorSettings(metadata_path, tuple(sources), base_dir, refresh)


def _whatsapp(section: Mapping[str, Any], env: Mapping[str, str], source: str) -> WhatsAppSettings:
    """The ``whatsapp:`` section; ``BARAZA_WHATSAPP_<KEY>`` overrides each key."""
    keys = {"phone_number_id", "access_token", "app_secret", "verify_token", "graph_base_url", "api_version"}
    _check_keys(section, keys | {"webhook_path", "max_retries", "retry_delay"}, "whatsapp", source)
    given = {key: _empty_to_none(env.get(f"BARAZA_WHATSAPP_{key.upper()}") or section.get(key)) for key in keys}
    defaults = WhatsAppSettings()
    settings = WhatsAppSettings(
        phone_number_id=given["phone_number_id"],
        access_token=given["access_token"],
        app_secret=given["app_secret"],
        verify_token=given["verify_token"],
        graph_base_url=(given["graph_base_url"] or defaults.graph_base_url).rstrip("/"),
        api_version=given["api_version"] or defaults.api_version,
        webhook_path=str(section.get("webhook_path") or defaults.webhook_path),
        max_retries=_int(section.get("max_retries", defaults.max_retries), "whatsapp.max_retries", source),
        retry_delay=_float(section.get("retry_delay", defaults.retry_delay), "whatsapp.retry_delay", source),
    )
    if settings.enabled and not (settings.app_secret and settings.verify_token):
        # Without the app secret no webhook call could be trusted: refuse to start.
        raise ConfigError(
            f"{source}: whatsapp.app_secret and whatsapp.verify_token are required when WhatsApp is on "
            "(BARAZA_WHATSAPP_APP_SECRET, BARAZA_WHATSAPP_VERIFY_TOKEN)"
        )
    if bool(settings.phone_number_id) != bool(settings.access_token):
        raise ConfigError(f"{source}: whatsapp needs both phone_number_id and access_token (or neither)")
    return settings


def _sms(section: Mapping[str, Any], env: Mapping[str, str], source: str) -> SmsSettings:
    """The ``sms:`` section; credentials only from the environment (:data:`SMS_CREDENTIALS`)."""
    known = {"provider", "sender", "base_url", "webhook_path", "public_url", "allowed_ips", "messages_per_second",
             "rate_counts", "max_segments", "default_region", "help_text", "max_retries", "retry_delay"}  # fmt: skip
    _check_keys(section, known, "sms", source)
    provider = _empty_to_none(env.get("BARAZA_SMS_PROVIDER") or section.get("provider"))
    if provider is None:
        return SmsSettings()
    if provider not in SMS_PROVIDERS:
        raise ConfigError(f"{source}: sms.provider must be one of {', '.join(SMS_PROVIDERS)}")
    account_env, secret_env = SMS_CREDENTIALS[provider]
    account, secret = _empty_to_none(env.get(account_env)), _empty_to_none(env.get(secret_env))
    if not (account and secret):
        raise ConfigError(f"{source}: sms.provider {provider} needs {account_env} and {secret_env} in the environment")
    defaults = SmsSettings()
    webhook_secret = _empty_to_none(env.get("BARAZA_SMS_WEBHOOK_SECRET"))
    if provider == "africastalking" and not (webhook_secret and len(webhook_secret) >= 16):
        # Africa's Talking signs nothing: the secret path is what keeps forged messages out.
        raise ConfigError(f"{source}: Africa's Talking needs BARAZA_SMS_WEBHOOK_SECRET (16+ characters)")
    sender = _empty_to_none(env.get("BARAZA_SMS_SENDER") or section.get("sender"))
    if provider == "twilio" and sender is None:
        raise ConfigError(f"{source}: sms.sender (the Twilio number, or BARAZA_SMS_SENDER) is required for Twilio")
    rate_counts = str(section.get("rate_counts") or defaults.rate_counts)
    if rate_counts not in ("segments", "messages"):
        raise ConfigError(f"{source}: sms.rate_counts must be segments or messages")
    rate = _float(section.get("messages_per_second", defaults.messages_per_second), "sms.messages_per_second", source)
    max_segments = _int(section.get("max_segments", defaults.max_segments), "sms.max_segments", source)
    if rate <= 0 or not 1 <= max_segments <= 10:
        raise ConfigError(f"{source}: sms.messages_per_second must be above 0 and sms.max_segments 1 to 10")
    allowed = section.get("allowed_ips") or ()
    if isinstance(allowed, str):
        allowed = [part for part in allowed.split(",") if part.strip()]
    try:
        allowed_ips = parse_networks(allowed)
    except (ProxyConfigError, TypeError) as error:
        raise ConfigError(f"{source}: sms.allowed_ips: {error}") from None
    public_url = _empty_to_none(env.get("BARAZA_SMS_PUBLIC_URL") or section.get("public_url"))
    return SmsSettings(
        provider=provider,
        account=account,
        secret=secret,
        sender=sender,
        base_url=str(env.get("BARAZA_SMS_BASE_URL") or section.get("base_url") or SMS_BASE_URLS[provider]).rstrip("/"),
        webhook_path=str(section.get("webhook_path") or defaults.webhook_path).rstrip("/"),
        webhook_secret=webhook_secret,
        public_url=public_url.rstrip("/") if public_url else None,
        allowed_ips=allowed_ips,
        messages_per_second=rate,
        rate_counts=rate_counts,
        max_segments=max_segments,
        default_region=_empty_to_none(section.get("default_region")),
        help_text=_empty_to_none(section.get("help_text")),
        max_retries=_int(section.get("max_retries", defaults.max_retries), "sms.max_retries", source),
        retry_delay=_float(section.get("retry_delay", defaults.retry_delay), "sms.retry_delay", source),
    )


def _flood(section: Mapping[str, Any], source: str) -> FloodSettings:
    _check_keys(section, {"enabled", "burst", "per_second"}, "flood", source)
    default = FloodSettings()
    enabled = section.get("enabled", default.enabled)
    if not isinstance(enabled, bool):
        raise ConfigError(f"{source}: flood.enabled must be true or false")
    burst = _int(section.get("burst", default.burst), "flood.burst", source)
    per_second = _float(section.get("per_second", default.per_second), "flood.per_second", source)
    if burst < 1 or per_second <= 0:
        raise ConfigError(f"{source}: flood.burst must be at least 1 and flood.per_second above 0")
    return FloodSettings(enabled=enabled, burst=burst, per_second=per_second)


def _trusted_proxies(from_env: str | None, from_file: Any, source: str) -> tuple[IPNetwork, ...]:
    """``web.trusted_proxies`` (a list, or one comma-separated string) or ``BARAZA_TRUSTED_PROXIES``."""
    value = from_env if from_env is not None else from_file
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        entries = [part for part in value.split(",") if part.strip()]
    elif isinstance(value, list) and all(isinstance(item, str) for item in value):
        entries = value
    else:
        raise ConfigError(f"{source}: web.trusted_proxies must be a list of addresses or networks, e.g. [127.0.0.1]")
    try:
        return parse_networks(entries)
    except ProxyConfigError as error:
        raise ConfigError(f"{source}: web.trusted_proxies: {error}") from None


def _web_limits(section: Mapping[str, Any], source: str) -> WebLimits:
    """``web.limits: {chat_per_address: {burst: 60, per_second: 5}, ...}``."""
    _check_keys(section, {*LIMIT_NAMES, "enabled"}, "web.limits", source)
    default = WebLimits()
    enabled = section.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(f"{source}: web.limits.enabled must be true or false")
    rates: dict[str, Rate] = {}
    for name in LIMIT_NAMES:
        given = _section(section, name, source)
        _check_keys(given, {"burst", "per_second"}, f"web.limits.{name}", source)
        fallback: Rate = getattr(default, name)
        burst = _int(given.get("burst", fallback.burst), f"web.limits.{name}.burst", source)
        if burst < 1:
            raise ConfigError(f"{source}: web.limits.{name}.burst must be at least 1")
        per_second = _float(given.get("per_second", fallback.per_second), f"web.limits.{name}.per_second", source)
        rates[name] = Rate(burst, per_second)
    return WebLimits(enabled, **rates)


def _ussd(section: Mapping[str, Any], env: Mapping[str, str], source: str) -> UssdSettings:
    """The ``ussd:`` section (see :mod:`bot.channels.ussd.adapter`); ``BARAZA_USSD_SECRET`` gives
    (or overrides) the secret. Africa's Talking signs nothing, so with the secret the allow-list of
    the gateway's addresses is required."""
    unknown = set(section) - USSD_KEYS
    if unknown:
        raise ConfigError(f"{source}: ussd: unknown setting(s) {', '.join(sorted(unknown))}")
    secret = (env.get("BARAZA_USSD_SECRET") or str(section.get("secret") or "")).strip() or None
    raw_ips = section.get("allowed_ips") or ()
    if isinstance(raw_ips, str):
        raw_ips = [part for part in raw_ips.split(",") if part.strip()]
    if not isinstance(raw_ips, list | tuple) or not all(isinstance(item, str) for item in raw_ips):
        raise ConfigError(f"{source}: ussd.allowed_ips must be a list of addresses or networks")
    try:
        allowed = parse_networks(raw_ips)
    except ProxyConfigError as error:
        raise ConfigError(f"{source}: ussd.allowed_ips: {error}") from None
    continue_by_sms = section.get("continue_by_sms", False)
    if not isinstance(continue_by_sms, bool):
        raise ConfigError(f"{source}: ussd.continue_by_sms must be true or false")
    try:
        after = float(section.get("sms_after_seconds", UssdSettings.sms_after_seconds))
    except (TypeError, ValueError):
        raise ConfigError(f"{source}: ussd.sms_after_seconds must be a number of seconds") from None
    if not 0 < after < USSD_SESSION_SECONDS:
        raise ConfigError(f"{source}: ussd.sms_after_seconds must lie between 0 and {USSD_SESSION_SECONDS}")
    path = str(section.get("path") or UssdSettings.path)
    if not path.startswith("/"):
        raise ConfigError(f"{source}: ussd.path must start with /")
    settings = UssdSettings(
        secret=secret,
        path=path,
        allowed_ips=allowed,
        survey=str(section["survey"]) if section.get("survey") else None,
        default_region=str(section["default_region"]).upper() if section.get("default_region") else None,
        continue_by_sms=continue_by_sms,
        sms_after_seconds=after,
    )
    if settings.enabled:
        if len(secret or "") < MIN_USSD_SECRET or not (secret or "").replace("-", "").replace("_", "").isalnum():
            raise ConfigError(f"{source}: ussd.secret must be at least {MIN_USSD_SECRET} letters, digits, - or _")
        if not allowed:
            # Africa's Talking signs nothing: without the allow-list a leaked address is enough.
            raise ConfigError(f"{source}: ussd.allowed_ips is required when USSD is on (the gateway's addresses)")
    return settings
