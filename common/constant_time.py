"""Comparing secrets (tokens, signatures, CSRF fields) in constant time, whatever a client sends.

``hmac.compare_digest`` refuses ``str`` with non-ASCII characters (``TypeError``), and aiohttp
hands undecodable header and cookie bytes on as lone surrogates (``surrogateescape``), which
``str.encode()`` refuses (``UnicodeEncodeError``): either would turn a hostile header into a 500.
"""

from __future__ import annotations

import hmac


def _bytes(value: str) -> bytes:
    return value.encode("utf-8", "surrogateescape")


def same_secret(given: str | None, expected: str | None) -> bool:
    """Whether ``given`` equals ``expected``; False when either is missing or empty."""
    if not given or not expected:
        return False
    return hmac.compare_digest(_bytes(given), _bytes(expected))
