"""Matching questions to the catalogue (pure: no database): indicators, dimension values and
periods from English and French text with typos, accents and case; formatting helpers."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalogue.answers import figure_for, format_number, format_period
from catalogue.matching import CatalogueIndex, fold, read_period
from catalogue.model import Observation
from handlers.texts import Texts
from testkit.fakes.indicators import sample_snapshot

TODAY = date(2025, 1, 10)
INDEX = CatalogueIndex(sample_snapshot())


def best(text: str, language: str = "en") -> tuple[str | None, dict[str, str], str | None]:
    match = INDEX.match(text, language, TODAY)
    chosen = match.best
    if chosen is None:
        return None, {}, match.period
    return chosen.entry.indicator.code, dict(chosen.selection), match.period


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("unemployment rate women northern 2024", "en", ("UNEMP_RATE", {"REF_AREA": "N", "SEX": "F"}, "2024")),
        ("unemplyment rate for womn in the north", "en", ("UNEMP_RATE", {"REF_AREA": "N", "SEX": "F"}, None)),
        ("UNEMPLOYMENT RATE MEN SOUTHERN", "en", ("UNEMP_RATE", {"REF_AREA": "S", "SEX": "M"}, None)),
        ("taux de chômage des femmes dans le Nord", "fr", ("UNEMP_RATE", {"REF_AREA": "N", "SEX": "F"}, None)),
        ("taux de chomage femmes nord", "fr", ("UNEMP_RATE", {"REF_AREA": "N", "SEX": "F"}, None)),
        ("taux de chommage des hommes du sud", "fr", ("UNEMP_RATE", {"REF_AREA": "S", "SEX": "M"}, None)),
        ("chômage des jeunes hommes", "fr", ("YOUTH_UNEMP", {"SEX": "M"}, None)),
        ("youth unemployment", "en", ("YOUTH_UNEMP", {}, None)),
        ("Taux d'inflaton", "fr", ("CPI_YOY", {}, None)),
        ("inflatoin march 2024", "en", ("CPI_YOY", {}, "2024-03")),
        ("IPC mars 2024", "fr", ("CPI_YOY", {}, "2024-03")),
        ("prix a la consommation", "fr", ("CPI_YOY", {}, None)),
        ("populaton of the south", "en", ("POP", {"REF_AREA": "S"}, None)),
        ("nombre d'habitants du Nord en 2023", "fr", ("POP", {"REF_AREA": "N"}, "2023")),
        ("population nationale", "fr", ("POP", {"REF_AREA": "_T"}, None)),
        ("croissance du PIB T2 2024", "fr", ("GDP_GROWTH", {}, "2024-Q2")),
        ("gdp growth 2024q1", "en", ("GDP_GROWTH", {}, "2024-Q1")),
        ("economic growth last year", "en", ("GDP_GROWTH", {}, "2024")),
        ("croissance économique l'année dernière", "fr", ("GDP_GROWTH", {}, "2024")),
        ("UNEMP_RATE", "en", ("UNEMP_RATE", {}, None)),
    ],
)
def test_questions_in_english_and_french_find_the_indicator_values_and_period(
    text: str, language: str, expected: tuple[str, dict[str, str], str | None]
) -> None:
    assert best(text, language) == expected


def test_unrelated_or_too_vague_text_matches_nothing() -> None:
    for text in ("hello", "thanks a lot", "what is the rate", "number of camels", "2024"):
        assert INDEX.match(text, "en", TODAY).candidates == (), text


def test_a_vague_word_offers_candidates_instead_of_guessing() -> None:
    match = INDEX.match("jobless", "en", TODAY)
    assert match.best is None
    assert [c.entry.indicator.code for c in match.candidates] == ["UNEMP_RATE"]


def test_the_users_language_wins_ties() -> None:
    """A name in the user's language counts fully, one in another language slightly less."""
    english = INDEX.match("inflation", "en", TODAY).candidates[0].score
    assert english == 1.0


def test_a_dimension_value_that_no_series_has_together_is_dropped() -> None:
    entry = INDEX.by_code["YOUTH_UNEMP"]
    assert INDEX.selection_in(entry, {"northern": 1.0, "women": 1.0}) == {"SEX": "F"}


def test_narrow_asks_the_dimensions_in_metadata_order_totals_first() -> None:
    entry = INDEX.by_code["UNEMP_RATE"]
    first = INDEX.narrow(entry, {})
    assert first.ask is not None and first.ask.id == "REF_AREA" and first.choices == ("_T", "N", "S")
    second = INDEX.narrow(entry, {"REF_AREA": "N"})
    assert second.ask is not None and second.ask.id == "SEX" and len(second.series) == 3
    done = INDEX.narrow(entry, {"REF_AREA": "N", "SEX": "F"})
    assert done.ask is None and [s.key for s in done.series] == ["A.N.F"]


@settings(max_examples=60, deadline=None)
@given(
    word=st.sampled_from(["unemployment", "inflation", "population", "chomage", "habitants"]),
    position=st.integers(min_value=1, max_value=6),
    kind=st.sampled_from(["delete", "swap", "replace", "double", "upper"]),
)
def test_one_typo_in_a_long_word_still_finds_the_indicator(word: str, position: int, kind: str) -> None:
    expected = {
        "unemployment": "UNEMP_RATE",
        "inflation": "CPI_YOY",
        "population": "POP",
        "chomage": "UNEMP_RATE",
        "habitants": "POP",
    }
    i = min(position, len(word) - 2)
    if kind == "delete":
        typo = word[:i] + word[i + 1 :]
    elif kind == "swap":
        typo = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    elif kind == "replace":
        typo = word[:i] + ("x" if word[i] != "x" else "z") + word[i + 1 :]
    elif kind == "double":
        typo = word[:i] + word[i] + word[i:]
    else:
        typo = word.upper()
    match = INDEX.match(typo, "fr" if word in ("chomage", "habitants") else "en", TODAY)
    assert match.candidates and match.candidates[0].entry.indicator.code == expected[word], typo


def test_fold_ignores_case_accents_and_arabic_marks() -> None:
    assert fold("Chômage ÉLEVÉ") == "chomage eleve"
    assert fold("البَطَالَة") == "البطالة"


@pytest.mark.parametrize(
    ("text", "period"),
    [
        ("gdp 2024-Q3", "2024-Q3"),
        ("gdp q3 2024", "2024-Q3"),
        ("pib t3 2024", "2024-Q3"),
        ("cpi 2024-03", "2024-03"),
        ("inflation février 2024", "2024-02"),
        ("inflação março de 2024", "2024-03"),
        ("inflation this year", "2025"),
        ("population 1999", "1999"),
        ("population", None),
        ("youth 15-24", None),
    ],
)
def test_periods_read_from_the_text(text: str, period: str | None) -> None:
    assert read_period(text, TODAY)[0] == period


def test_figure_for_a_period_and_the_latest() -> None:
    observations = [
        Observation("2023-11", 5.2),
        Observation("2023-12", 5.0),
        Observation("2024-01", None),
        Observation("2024-02", 4.6, "P"),
    ]
    latest = figure_for(observations, None)
    assert latest is not None and latest.observation.period == "2024-02" and latest.previous == observations[1]
    assert latest.change == pytest.approx(-0.4)
    year = figure_for(observations, "2023")
    assert year is not None and year.observation.period == "2023-12" and year.period_found
    missing = figure_for(observations, "2030")
    assert missing is not None and not missing.period_found and missing.observation.period == "2024-02"
    assert figure_for([Observation("2024", None)], None) is None


def test_numbers_and_periods_in_each_language() -> None:
    assert format_number(12345.678, 1, "en") == "12,345.7"
    assert format_number(12345.678, 1, "fr") == "12\u202f345,7"
    assert format_number(12345.678, 0, "pt") == "12.346"
    assert format_number(0.3, 2, "en", signed=True) == "+0.30"
    assert format_period("2024-03", "fr", Texts("fr")) == "mars 2024"
    assert format_period("2024-Q2", "en", Texts("en")) == "Q2 2024"
    assert format_period("2024-Q2", "fr", Texts("fr")) == "T2 2024"
    assert format_period("2024", "ar", Texts("ar")) == "2024"


def test_a_label_made_of_stopwords_is_read_only_as_written() -> None:
    """French "Est" (East) is also "est" (is): the region is understood only with its capital."""
    from catalogue.matching import CatalogueIndex
    from catalogue.model import CatalogueSnapshot, Dimension, Indicator, Series

    region = Dimension("REF_AREA", {"fr": "Région"}, {"EA": {"fr": "Est"}, "WE": {"fr": "Ouest"}})
    indicator = Indicator("POP", {"fr": "Population"}, dimensions=(region,))
    series = (Series(1, "POP", "EA", {"REF_AREA": "EA"}), Series(2, "POP", "WE", {"REF_AREA": "WE"}))
    index = CatalogueIndex(CatalogueSnapshot(1, {"POP": indicator}, {"POP": series}))
    found = index.match("population de l'Est", "fr", TODAY).best
    assert found is not None and dict(found.selection) == {"REF_AREA": "EA"}
    found = index.match("quelle est la population", "fr", TODAY).best
    assert found is not None and dict(found.selection) == {}


def test_breakdowns_an_indicator_is_not_published_by_are_reported() -> None:
    cases = {
        "inflation northern": ("CPI_YOY", ("northern",)),
        "population des femmes du Nord": ("POP", ("femmes",)),
        "youth unemployment women northern": ("YOUTH_UNEMP", ("northern",)),
        "inflation nationale": ("CPI_YOY", ()),
        "unemployment women north": ("UNEMP_RATE", ()),
    }
    for text, (code, missing) in cases.items():
        found = INDEX.match(text, "fr" if "des" in text or "nationale" in text else "en", TODAY).best
        assert found is not None and (found.entry.indicator.code, found.not_published_by) == (code, missing), text
