"""Stable pseudonyms for respondents: a keyed hash, so exports never show a platform id."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import cast

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.models import ContactRow, ResponseRow

PSEUDONYM_KEY_SETTING = "pseudonym_key"


def new_pseudonym_key() -> str:
    return secrets.token_hex(32)


class Pseudonymizer:
    """Maps ``(channel, user key)`` to a 16-hex-digit pseudonym under a secret key.

    The same person gets the same pseudonym in every export; without the key the pseudonym
    cannot be traced back to the Telegram id.
    """

    def __init__(self, key: str) -> None:
        if len(key) < 16:
            raise ValueError("the pseudonym key must be at least 16 characters long")
        self._key = key.encode("utf-8")

    def __call__(self, channel: str, user_key: str) -> str:
        digest = hmac.new(self._key, f"{channel}:{user_key}".encode(), hashlib.sha256)
        return digest.hexdigest()[:16]

    def __repr__(self) -> str:  # never show the key in logs or tracebacks
        return "Pseudonymizer(key=<hidden>)"


def key_fingerprint(key: str) -> str:
    """What the database keeps of the pseudonym key: enough to tell that a key is not the one the
    stored pseudonyms were made with, nothing to recompute them with."""
    return hmac.new(key.encode("utf-8"), b"baraza pseudonym key fingerprint", hashlib.sha256).hexdigest()[:16]


async def repseudonymize(connection: AsyncConnection, pseudonymize: Callable[[str, str], str]) -> int:
    """Rewrite the ``respondent`` of every response still linked to a person under a new key
    (responses of anonymous surveys and of people who deleted their data stay empty); returns
    how many responses changed. Runs in the caller's transaction."""
    responses = cast(Table, ResponseRow.__table__)
    contacts = cast(Table, ContactRow.__table__)
    rows = await connection.execute(
        select(contacts.c.id, contacts.c.channel, contacts.c.user_key).where(
            contacts.c.id.in_(
                select(responses.c.contact_id).where(responses.c.contact_id.is_not(None), responses.c.respondent != "")
            )
        )
    )
    changed = 0
    for row in rows.all():
        result = await connection.execute(
            update(responses)
            .where(responses.c.contact_id == row.id, responses.c.respondent != "")
            .values(respondent=pseudonymize(row.channel, row.user_key))
        )
        changed += result.rowcount or 0
    return changed
