"""Stable pseudonyms for respondents: a keyed hash, so exports never show a platform id."""

from __future__ import annotations

import hashlib
import hmac
import secrets

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
