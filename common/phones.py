"""Phone numbers as one person's key across SMS, USSD and WhatsApp: E.164 (``+254712345678``).

Gateways hand numbers over in several shapes (``+254 712 345 678``, ``254712345678``,
``0712345678`` for a national number); the same person must be the same key whatever the shape, so
every number is read once here with the maintained ``phonenumbers`` library (Google's libphonenumber
metadata) and kept as E.164 from then on.
"""

from __future__ import annotations

import phonenumbers

from common.errors import BarazaError


class PhoneNumberError(BarazaError):
    """A text that is not a valid phone number (the message says why, without echoing the number)."""


def to_e164(raw: str, default_region: str | None = None) -> str:
    """``raw`` as an E.164 number (``+`` and digits).

    A number without ``+`` is read as international when it starts with a country code, and
    otherwise as a national number of ``default_region`` (an ISO 3166 code such as ``"KE"``).
    Raises PhoneNumberError when the result is not a valid number: a wrong number must not
    become a second contact for the same person."""
    text = raw.strip()
    candidates = [text]
    if not text.startswith("+"):
        digits = "".join(ch for ch in text if ch.isdigit())
        if digits and not digits.startswith("0"):
            candidates.insert(0, "+" + digits)  # gateways such as WhatsApp drop the plus sign
    for candidate in candidates:
        try:
            number = phonenumbers.parse(candidate, None if candidate.startswith("+") else default_region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    raise PhoneNumberError("not a valid phone number" + ("" if default_region else " (no default region given)"))


def is_e164(text: str) -> bool:
    """Whether ``text`` is already a valid number written in E.164."""
    try:
        return to_e164(text) == text
    except PhoneNumberError:
        return False
