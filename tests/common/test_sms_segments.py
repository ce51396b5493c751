"""GSM-7 and UCS-2 segment counting, and splitting a long text within a number of segments."""

from __future__ import annotations

import pytest

from common.sms_segments import (
    GSM7,
    UCS2,
    fitting_prefix,
    gsm_friendly,
    segments_of,
    sms_cost,
    split_to_segments,
)

ENGLISH = "The consumer price index rose 2.1% in November 2026. Details: https://stats.example.org/cpi"
FRENCH_GSM = "L'indice des prix a augmenté de 2,1 % en novembre. Détails sur le site."  # é is GSM-7
FRENCH_UCS2 = "L'enquête sur la population active : résultats publiés."  # ê is not
ARABIC = "ارتفع مؤشر أسعار المستهلك بنسبة 2.1٪ في نوفمبر 2026."


@pytest.mark.parametrize(
    ("text", "encoding"),
    [(ENGLISH, GSM7), (FRENCH_GSM, GSM7), (FRENCH_UCS2, UCS2), (ARABIC, UCS2), ("Prix: 12 €", GSM7), ("ô", UCS2)],
)
def test_the_encoding_is_gsm7_only_when_every_character_is_in_its_alphabet(text: str, encoding: str) -> None:
    assert sms_cost(text).encoding == encoding


@pytest.mark.parametrize(("length", "segments"), [(1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4)])
def test_gsm7_takes_160_characters_alone_and_153_per_segment(length: int, segments: int) -> None:
    assert segments_of("a" * length) == segments


@pytest.mark.parametrize(("length", "segments"), [(70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)])
def test_ucs2_takes_70_characters_alone_and_67_per_segment(length: int, segments: int) -> None:
    assert segments_of("ê" * length) == segments
    assert segments_of("ع" * length) == segments


def test_extension_characters_count_twice_and_are_not_split_across_segments() -> None:
    assert sms_cost("€" * 80).units == 160 and segments_of("€" * 80) == 1
    assert segments_of("€" * 81) == 2
    # 152 septets then a two-septet character: it does not fit the first segment's last septet.
    assert segments_of("a" * 152 + "[" + "a" * 152) == 3
    assert segments_of("a" * 151 + "[" + "a" * 153) == 2


def test_a_surrogate_pair_counts_two_units() -> None:
    assert sms_cost("😀" * 35).units == 70 and segments_of("😀" * 35) == 1
    assert segments_of("😀" * 36) == 2


def test_one_accent_outside_gsm7_turns_the_whole_text_into_ucs2_and_costs_more() -> None:
    text = "Les résultats de l'enquete sont publies. " * 3
    assert segments_of(text) == 1
    assert segments_of(text.replace("enquete", "enquête")) == 2


def test_typographic_punctuation_is_written_in_gsm7_only_when_that_makes_the_text_gsm7() -> None:
    assert gsm_friendly("3/12 · It’s “fine” – ok…") == '3/12 - It\'s "fine" - ok...'
    assert gsm_friendly("[Skip ⏭]") == "[Skip ]"
    # An Arabic or ê text is UCS-2 anyway: it keeps its punctuation as written.
    assert gsm_friendly("enquête · résultats") == "enquête · résultats"


@pytest.mark.parametrize("text", [ENGLISH * 10, FRENCH_UCS2 * 10, ARABIC * 10, "€" * 500])
@pytest.mark.parametrize("max_segments", [1, 2, 3])
def test_a_long_text_is_split_into_messages_within_the_maximum(text: str, max_segments: int) -> None:
    pieces = split_to_segments(text, max_segments)
    assert len(pieces) > 1
    assert all(segments_of(piece) <= max_segments for piece in pieces)
    assert "".join("".join(pieces).split()) == "".join(text.split())


def test_a_split_prefers_line_breaks() -> None:
    lines = [f"{number}. A choice with a fairly long label number {number}" for number in range(1, 21)]
    pieces = split_to_segments("\n".join(lines), 2)
    assert all(piece.split("\n")[0] in lines and piece.split("\n")[-1] in lines for piece in pieces)
    assert fitting_prefix("short", 1) == 5
