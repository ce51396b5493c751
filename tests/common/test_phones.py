"""Phone numbers normalised to E.164, so one person is one key on SMS, USSD and WhatsApp."""

from __future__ import annotations

import pytest

from common.phones import PhoneNumberError, is_e164, to_e164


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+254 712 345 678", None, "+254712345678"),
        ("254712345678", None, "+254712345678"),  # WhatsApp's wa_id: no plus sign
        ("0712345678", "KE", "+254712345678"),  # a national number in Kenya
        ("+33 6 12 34 56 78", "KE", "+33612345678"),  # an international number ignores the region
        ("(0)6 12 34 56 78", "FR", "+33612345678"),
        ("+234 803 123 4567", None, "+2348031234567"),
    ],
)
def test_every_shape_of_the_same_number_gives_one_e164_key(raw: str, region: str | None, expected: str) -> None:
    assert to_e164(raw, region) == expected


@pytest.mark.parametrize("raw", ["", "hello", "+1234", "0712345678"])
def test_a_text_that_is_no_valid_number_is_refused_without_echoing_it(raw: str) -> None:
    with pytest.raises(PhoneNumberError) as caught:
        to_e164(raw)
    assert raw not in str(caught.value) or not raw


def test_is_e164_only_for_the_canonical_form() -> None:
    assert is_e164("+254712345678")
    assert not is_e164("254712345678")
    assert not is_e164("+254 712 345 678")
