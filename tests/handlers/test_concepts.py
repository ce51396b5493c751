"""The glossary: the file format with FILE:LINE problems, the shipped concepts, finding a term
despite typos and accents, and /define through the real engine on both databases."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli.main import main
from bot.config import load_settings
from bot.core.engine import Engine, load_pseudonymizer
from catalogue.concept_search import ConceptIndex, fold
from catalogue.concepts import Glossary, load_glossary_file, load_glossary_text
from catalogue.sourcefiles import DefinitionFileError
from handlers.concepts import PAYLOAD_PREFIX
from handlers.context import DEFAULT_TOPICS, Community
from handlers.payloads import MAX_PAYLOAD_BYTES
from handlers.texts import RLM, Texts
from storage.database import Database
from testkit.fakes.engine_user import EngineUser
from testkit.paths import ROOT

SHIPPED = ROOT / "office" / "concepts.yaml"
CORE = {
    "inflation", "cpi", "unemployment_rate", "labour_force_participation_rate", "gdp", "gdp_growth", "gni",
    "median", "mean", "percentile", "sample_survey", "census", "sampling_error", "confidence_interval",
    "seasonally_adjusted", "index_base_year", "provisional_figures", "revision", "household",
    "population_projection", "life_expectancy", "infant_mortality_rate", "literacy_rate", "poverty_line",
    "gini_coefficient", "informal_employment", "administrative_data", "metadata", "sdmx", "microdata",
}  # fmt: skip

SMALL = """\
default_language: en
popular: [inflation]
concepts:
  - id: inflation
    topic: prices
    term: {en: Inflation, fr: Inflation}
    synonyms: {en: [rising prices], fr: [hausse des prix]}
    definition:
      en: Prices going up in general.
      fr: La hausse générale des prix.
    source: ILO
    related: [cpi]
  - id: cpi
    term: {en: Consumer price index, fr: Indice des prix à la consommation}
    definition: {en: An index of consumer prices.}
"""


@pytest.fixture(scope="module")
def shipped() -> Glossary:
    return load_glossary_file(SHIPPED, topics=DEFAULT_TOPICS)


# --------------------------------------------------------------------------- the file


def test_a_small_glossary_loads_with_fallbacks_to_the_default_language() -> None:
    glossary = load_glossary_text(SMALL, "g.yaml", topics=DEFAULT_TOPICS)
    assert list(glossary.concepts) == ["inflation", "cpi"] and glossary.popular == ("inflation",)
    inflation, cpi = glossary.concepts["inflation"], glossary.concepts["cpi"]
    assert inflation.related == ("cpi",) and inflation.topic == "prices" and cpi.topic is None
    assert inflation.synonyms == {"en": ("rising prices",), "fr": ("hausse des prix",)}
    assert glossary.definition(inflation, "fr") == "La hausse générale des prix."
    assert glossary.definition(cpi, "fr") == "An index of consumer prices.", "no French: the default language"
    assert glossary.source(inflation, "fr") == "ILO" and glossary.source(cpi, "en") == ""


def test_every_problem_of_a_broken_glossary_is_reported_with_its_line() -> None:
    broken = """\
default_language: en
popular: [inflation, nowhere]
concepts:
  - id: inflation
    term: {en: Inflation}
    definition: {fr: Hausse des prix}
    related: [cpi, deflation]
    colour: red
  - id: Bad Id
    term: Something
    definition: Something else
  - id: cpi
    topic: weather
    term: {en: CPI}
    definition: {en: An index.}
    related: cpi
  - id: cpi
    term: {en: CPI again}
    definition: {en: Twice.}
  - id: lonely
    definition: {en: No term.}
"""
    with pytest.raises(DefinitionFileError) as raised:
        load_glossary_text(broken, "g.yaml", topics=DEFAULT_TOPICS)
    assert [str(problem) for problem in raised.value.problems] == [
        "g.yaml:2: 'nowhere' in popular is not a concept id",
        "g.yaml:6: the definition of the concept 'inflation' has no text in the default language 'en'",
        "g.yaml:7: 'deflation' in the related concepts of 'inflation' is not a concept id",
        "g.yaml:8: unknown key 'colour' in a concept (known keys: definition, id, related, source, synonyms, term, topic)",
        "g.yaml:9: the id 'Bad Id' must be lowercase letters, digits, _ or - (at most 60 characters)",
        "g.yaml:13: 'weather' is not one of the topics in the configuration "
        "(prices, labour, population, national_accounts, agriculture, health)",
        "g.yaml:16: the concept 'cpi' lists itself as related",
        "g.yaml:17: the concept id 'cpi' is used twice",
        "g.yaml:20: a concept needs 'term'",
    ]


def test_yaml_syntax_errors_and_unreadable_files_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(DefinitionFileError) as raised:
        load_glossary_text("concepts:\n  - id: a\n    term: [unclosed\n", "g.yaml")
    assert str(raised.value.problems[0]).startswith("g.yaml:4: YAML syntax error")
    missing = tmp_path / "none.yaml"
    with pytest.raises(DefinitionFileError) as raised:
        load_glossary_file(missing)
    assert str(raised.value).startswith(f"{missing}:1: cannot read the file")
    with pytest.raises(DefinitionFileError) as raised:
        load_glossary_text("default_language: en\n", "g.yaml")
    assert str(raised.value) == "g.yaml:1: the glossary needs 'concepts'"


def test_the_shipped_glossary_has_the_core_concepts_in_four_languages(shipped: Glossary) -> None:
    assert len(shipped) >= 30
    assert set(shipped.concepts) >= CORE
    for concept in shipped.concepts.values():
        assert {"en", "fr", "pt", "ar"} <= set(concept.term) and {"en", "fr", "pt", "ar"} <= set(concept.definition)
        assert concept.source.get("en"), f"{concept.id} names its source"
        assert concept.related and all(other in shipped.concepts for other in concept.related), concept.id
        assert len((PAYLOAD_PREFIX + concept.id).encode()) <= MAX_PAYLOAD_BYTES
        assert concept.definition["fr"] != concept.definition["en"], f"{concept.id} is written in French"
    assert shipped.concepts["unemployment_rate"].source["en"].startswith("ILO")
    assert "National Accounts" in shipped.concepts["gdp"].source["en"]


# --------------------------------------------------------------------------- finding a term


@pytest.mark.parametrize(
    ("typed", "concept"),
    [
        ("inflation", "inflation"),
        ("Inflaton", "inflation"),
        ("INFLASION", "inflation"),
        ("unemployement rate", "unemployment_rate"),
        ("median", "median"),
        ("Gini coeficient", "gini_coefficient"),
        ("gini", "gini_coefficient"),
        ("GDP", "gdp"),
        ("confidence intervall", "confidence_interval"),
        ("seasonaly adjusted", "seasonally_adjusted"),
        ("life expectency", "life_expectancy"),
        ("price index", "cpi"),
    ],
)
def test_english_terms_are_found_despite_case_and_typos(shipped: Glossary, typed: str, concept: str) -> None:
    match = ConceptIndex(shipped).search(typed)
    assert match.concept is not None and match.concept.id == concept


@pytest.mark.parametrize(
    ("typed", "concept"),
    [
        ("chômage", "unemployment_rate"),
        ("chomage", "unemployment_rate"),
        ("taux de chaumage", "unemployment_rate"),
        ("médianne", "median"),
        ("mediane", "median"),
        ("PIB", "gdp"),
        ("pib par habitant", "gdp_per_capita"),
        ("recensment", "census"),
        ("esperance de vie", "life_expectancy"),
        ("seuil de pauvrete", "poverty_line"),
        ("Métadonnées", "metadata"),
        ("menage", "household"),
    ],
)
def test_french_terms_are_found_without_accents_and_with_typos(shipped: Glossary, typed: str, concept: str) -> None:
    match = ConceptIndex(shipped).search(typed)
    assert match.concept is not None and match.concept.id == concept


def test_several_close_terms_are_offered_at_most_five_and_nonsense_finds_nothing(shipped: Glossary) -> None:
    index = ConceptIndex(shipped)
    poverty = index.search("poverty")
    assert poverty.concept is None and {c.id for c in poverty.choices} == {"poverty_line", "poverty_rate"}
    rate = index.search("rate")
    assert rate.concept is None and len(rate.choices) == 5
    assert index.search("margin of error").choices, "a synonym of two concepts offers both"
    for nonsense in ("xyzzy", "interest rate", "de", "   ", "?!"):
        assert not index.search(nonsense).found, nonsense


def test_folding_removes_case_accents_and_punctuation() -> None:
    assert fold("  Taux d'Activité ") == "taux d activite"
    assert fold("Main-d'œuvre") == "main d œuvre"
    assert fold("مُعدّل") == "معدل"


# --------------------------------------------------------------------------- /define


@pytest.fixture
async def glossary_engine(database: Database, shipped: Glossary) -> Engine:
    pseudonymizer = await load_pseudonymizer(database, "test-pseudonym-key-0123456789")
    return Engine(database, {}, pseudonymizer, community=Community(glossary=shipped))


async def test_define_shows_term_definition_source_and_related_terms_as_buttons(glossary_engine: Engine) -> None:
    user = EngineUser(glossary_engine, "def1")
    [card] = await user.say("/define inflaton")
    lines = card.text.split("\n")
    assert lines[0] == "📘 Inflation"
    assert lines[2].startswith("A general and lasting rise in the prices")
    assert "Source: ILO, Resolution concerning consumer price indices" in card.text
    assert lines[-1] == "Related terms:"
    assert [b.payload for b in card.flat_buttons] == [
        "c:cpi",
        "c:index_base_year",
        "c:real_terms",
        "c:seasonally_adjusted",
    ]
    assert card.flat_buttons[0].label == "Consumer price index (CPI)"
    [related] = await user.press("Consumer price index (CPI)")
    assert related.text.startswith("📘 Consumer price index (CPI)\n\nAn index that follows")


async def test_define_in_french_and_arabic_uses_their_language(glossary_engine: Engine) -> None:
    french = EngineUser(glossary_engine, "def-fr", language="fr")
    [card] = await french.say("/define taux de chaumage")
    assert card.text.startswith("📘 Taux de chômage\n\nPart de la main-d'œuvre qui est au chômage.")
    assert "Source : ILO" in card.text and "Termes liés :" in card.text
    assert "Main-d'œuvre" in [b.label for b in card.flat_buttons]
    arabic = EngineUser(glossary_engine, "def-ar", language="ar")
    [card] = await arabic.say("/define inflation")
    assert card.text.startswith(RLM + "📘 التضخم")
    assert RLM + Texts("ar")("define_related") in card.text


async def test_define_without_a_term_offers_popular_ones_and_unknown_terms_say_so(glossary_engine: Engine) -> None:
    user = EngineUser(glossary_engine, "def2")
    [ask] = await user.say("/define")
    assert ask.text == Texts("en")("define_ask")
    assert [b.payload for b in ask.flat_buttons] == [
        "c:inflation", "c:unemployment_rate", "c:gdp", "c:poverty_line", "c:median", "c:census",
    ]  # fmt: skip
    [offer] = await user.say("/define poverty")
    assert offer.text == "Several terms are close to 'poverty'. Which one do you mean?"
    assert [b.label for b in offer.flat_buttons] == ["Poverty line", "Poverty rate (headcount ratio)"]
    [missing] = await user.say("/define quantum chromodynamics")
    assert missing.text.startswith("I found no term like 'quantum chromodynamics' in our glossary.")
    assert len(missing.flat_buttons) == 6


async def test_stale_or_forged_concept_buttons_change_nothing(glossary_engine: Engine) -> None:
    user = EngineUser(glossary_engine, "def3")
    [reply] = await user.press_payload("c:no_such_concept")
    assert reply.text == Texts("en")("define_unknown_concept")
    [reply] = await user.press_payload("c:" + "x" * 80)
    assert reply.text == Texts("en")("define_unknown_concept")


async def test_without_a_glossary_define_says_there_is_none(engine: Engine) -> None:
    [reply] = await EngineUser(engine, "def4").say("/define inflation")
    assert reply.text == Texts("en")("define_no_glossary")


# --------------------------------------------------------------------------- configuration and start


def test_the_glossary_and_calendar_files_are_configured_or_found_next_to_the_configuration(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("concepts: {file: terms/glossary.yaml}\ncalendar: {file: ''}\n")
    settings = load_settings(config, environ={})
    assert settings.concepts_file == tmp_path / "terms" / "glossary.yaml" and settings.calendar_file is None
    config.write_text("bot: {default_language: en}\n")
    assert load_settings(config, environ={}).concepts_file is None, "nothing configured, nothing found"
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "concepts.yaml").write_text(SMALL)
    (tmp_path / "releases.csv").write_text("id,topic,date,title\n")
    settings = load_settings(config, environ={})
    assert settings.concepts_file == tmp_path / "data" / "concepts.yaml"
    assert settings.calendar_file == tmp_path / "releases.csv"
    assert load_settings(ROOT / "config.yaml", environ={}).concepts_file == SHIPPED


def test_the_bot_does_not_start_with_a_broken_glossary_and_says_where(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    glossary = tmp_path / "concepts.yaml"
    glossary.write_text(SMALL.replace("related: [cpi]", "related: [cpi, deflation]"))
    config = tmp_path / "config.yaml"
    config.write_text(
        f"database: {{url: 'sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}'}}\nsurveys: {{directory: {ROOT / 'office' / 'surveys'}}}\n"
        "register: {onboarding: ''}\nweb: {port: 0}\n"
    )
    assert main(["--config", str(config), "run"]) == 1
    err = capsys.readouterr().err
    assert f"{glossary}:12: 'deflation' in the related concepts of 'inflation' is not a concept id" in err
    assert "not starting" in err


def test_cli_checks_the_glossary_and_tries_a_term(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = ["--config", str(ROOT / "config.yaml"), "concepts"]
    assert main([*config, "check"]) == 0
    assert capsys.readouterr().out.startswith(f"{SHIPPED}: ok: 35 concepts; definitions by language: ")
    assert main([*config, "define", "taux", "de", "chaumage"]) == 0
    assert capsys.readouterr().out.startswith("unemployment_rate: Unemployment rate\n")
    assert main([*config, "define", "poverty"]) == 0
    assert (
        capsys.readouterr().out
        == "choices: poverty_line (Poverty line), poverty_rate (Poverty rate (headcount ratio))\n"
    )
    assert main([*config, "define", "xyzzy"]) == 1
    broken = tmp_path / "g.yaml"
    broken.write_text(SMALL.replace("term: {en: Inflation, fr: Inflation}", "term: {fr: Inflation}"))
    assert main([*config, "check", str(broken)]) == 1
    assert f"{broken}:6: the term of the concept 'inflation' has no text in the default language 'en'" in (
        capsys.readouterr().err
    )
