"""Prometheus metrics of one ``baraza run`` process, served at ``/metrics``.

Counters are per process (Prometheus adds the processes up); the broadcast and outbox queue
lengths are read from the database when scraped, so every worker reports the same, true figure.
The engine, the dispatcher and the outbox sender call :func:`observe_update` and
:func:`observe_send`; nothing here knows a message's text or a user.
"""

from __future__ import annotations

import functools

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

REGISTRY = CollectorRegistry(auto_describe=True)

MESSAGES_IN = Counter(
    "baraza_messages_in_total", "Messages and button presses received, by channel", ["channel"], registry=REGISTRY
)
MESSAGES_OUT = Counter(
    "baraza_messages_out_total",
    "Messages sent: replies, broadcast deliveries and outbox messages, by channel and kind",
    ["channel", "kind"],
    registry=REGISTRY,
)
HANDLER_SECONDS = Histogram(
    "baraza_handler_seconds",
    "Time to process one inbound message (transaction and handler), by channel",
    ["channel"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
SEND_ERRORS = Counter(
    "baraza_send_errors_total",
    "Messages not (certainly) delivered, by what they were (broadcast, outbox) and why: "
    "blocked, refused, unknown (no answer), not_sent (gave up after retries), other",
    ["kind", "error"],
    registry=REGISTRY,
)
BROADCAST_QUEUE = Gauge(
    "baraza_broadcast_queue_length",
    "Broadcast deliveries waiting to be sent (pending, due or scheduled)",
    registry=REGISTRY,
)
OUTBOX_QUEUE = Gauge("baraza_outbox_queue_length", "Outbox messages waiting to be sent", registry=REGISTRY)
RATE_LIMIT_DEGRADED = Counter(
    "baraza_rate_limit_degraded_total",
    "Sends let through under this process's own rate because the shared send-rate store failed, by store",
    ["store"],
    registry=REGISTRY,
)

CHANNEL_UP = Gauge(
    "baraza_channel_up",
    "1 while a channel reaches its platform, 0 while it is starting or degraded (retried with backoff)",
    ["channel"],
    registry=REGISTRY,
)
THROTTLED = Counter(
    "baraza_throttled_requests_total",
    "HTTP requests refused with 429 by a per-client limit, by limit (web.limits)",
    ["limit"],
    registry=REGISTRY,
)
SIGN_INS = Counter(
    "baraza_admin_sign_ins_total",
    "Dashboard sign-in attempts by outcome: success, wrong_password (checked), refused (unknown name or "
    "locked account, not checked), throttled (over web.limits)",
    ["outcome"],
    registry=REGISTRY,
)
LOCKOUTS = Counter(
    "baraza_admin_lockouts_total", "Dashboard accounts locked after too many wrong passwords", registry=REGISTRY
)

CONTENT_TYPE = CONTENT_TYPE_LATEST


@functools.cache
def _update_series(channel: str) -> tuple[Counter, Histogram, Counter]:
    # labels() takes a lock and builds its key on every call; a channel's series never change
    # (a handful of channels), and every inbound message updates them.
    return MESSAGES_IN.labels(channel), HANDLER_SECONDS.labels(channel), MESSAGES_OUT.labels(channel, "reply")


def observe_update(channel: str, seconds: float, replies: int) -> None:
    """One inbound processed in ``seconds``, answered with ``replies`` messages."""
    messages_in, handler_seconds, replies_out = _update_series(channel)
    messages_in.inc()
    handler_seconds.observe(seconds)
    if replies:
        replies_out.inc(replies)


def error_kind(status: str, error: str | None) -> str | None:
    """The ``error`` label of a send's outcome (``status`` and ``error`` as the dispatcher records them),
    None for a message sent (or put back to be sent later)."""
    if status in ("sent", "pending"):
        return None
    if status == "unknown":
        return "unknown"
    text = error or ""
    if text == "blocked":
        return "blocked"
    if text.startswith("refused"):
        return "refused"
    if text.startswith("not sent after"):
        return "not_sent"
    return "other"


def observe_send(kind: str, channel: str, status: str, error: str | None) -> None:
    """A broadcast delivery or outbox message (``kind``) finished with ``status``/``error``."""
    if status == "sent":
        MESSAGES_OUT.labels(channel, kind).inc()
        return
    label = error_kind(status, error)
    if label is not None:
        SEND_ERRORS.labels(kind, label).inc()


def observe_rate_limit_degraded(store: str) -> None:
    """One send let through without the shared send-rate store ``store`` ("redis", "postgresql")."""
    RATE_LIMIT_DEGRADED.labels(store).inc()


def observe_channel_state(channel: str, *, up: bool) -> None:
    """``channel`` (telegram, whatsapp) now reaches its platform (``up``) or not."""
    CHANNEL_UP.labels(channel).set(1 if up else 0)


def observe_throttled(limit: str) -> None:
    """One request refused by the per-client limit ``limit`` (a name of ``web.limits``)."""
    THROTTLED.labels(limit).inc()


def observe_sign_in(outcome: str) -> None:
    """One dashboard sign-in attempt: ``success``, ``wrong_password``, ``refused`` or ``throttled``."""
    SIGN_INS.labels(outcome).inc()


def observe_lockout() -> None:
    """An account was locked after too many wrong passwords."""
    LOCKOUTS.inc()


def exposition(broadcast_queue: int, outbox_queue: int) -> bytes:
    """The metrics in Prometheus' text format, with the queue lengths just read."""
    BROADCAST_QUEUE.set(broadcast_queue)
    OUTBOX_QUEUE.set(outbox_queue)
    return generate_latest(REGISTRY)
