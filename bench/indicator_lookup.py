"""Lookup latency over a large catalogue: 10,000 series and 5,000,000 observations.

    .venv/bin/python -m bench.indicator_lookup [--lookups 2000] [--database-url URL] [--rebuild]

The synthetic catalogue (1,000 indicators named in English and French, each by region and sex,
500 monthly observations per series) is written once through the real ``IndicatorLoader`` into a
SQLite file under the system's temporary directory and reused by later runs (``--rebuild`` makes
it again; ``--database-url`` loads it into another database, e.g. PostgreSQL, each time).

Then, with questions in English and French with a typo in one word, naming the region and sex
(and sometimes a year):

- the engine: ``/data ...`` inbound → match → series read → reply text, logged, committed; one
  user after another, so the figures are latencies, not throughput under load;
- matching alone (``CatalogueIndex.match``), without the database;
- the first lookup after a load, which reads the catalogue and builds the index.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

from bot.core.engine import Engine, load_pseudonymizer
from catalogue.cache import CatalogueCache
from catalogue.matching import CatalogueIndex
from catalogue.model import Dimension, Indicator, Observation, SeriesData
from handlers.messages import Inbound
from storage.database import Database
from storage.indicators import IndicatorLoader, StoredCatalogue
from storage.repositories import Repositories

SUBJECTS = [
    ("rice", "riz"), ("maize", "maïs"), ("wheat", "blé"), ("sorghum", "sorgho"), ("cassava", "manioc"),
    ("coffee", "café"), ("cocoa", "cacao"), ("cotton", "coton"), ("sugar", "sucre"), ("tea", "thé"),
    ("cement", "ciment"), ("steel", "acier"), ("electricity", "électricité"), ("petrol", "essence"),
    ("diesel", "gazole"), ("fertiliser", "engrais"), ("timber", "bois"), ("fish", "poisson"),
    ("cattle", "bovins"), ("poultry", "volaille"), ("milk", "lait"), ("eggs", "œufs"), ("beans", "haricots"),
    ("groundnuts", "arachides"), ("bananas", "bananes"), ("tomatoes", "tomates"), ("onions", "oignons"),
    ("potatoes", "pommes de terre"), ("textiles", "textiles"), ("footwear", "chaussures"),
    ("medicines", "médicaments"), ("vehicles", "véhicules"), ("tourism", "tourisme"), ("hotels", "hôtels"),
    ("housing", "logement"), ("rents", "loyers"), ("water", "eau"), ("gold", "or"), ("copper", "cuivre"),
    ("cobalt", "cobalt"), ("phosphates", "phosphates"), ("uranium", "uranium"), ("natural gas", "gaz naturel"),
    ("mobile phones", "téléphones mobiles"), ("internet", "internet"), ("air transport", "transport aérien"),
    ("rail freight", "fret ferroviaire"), ("port traffic", "trafic portuaire"), ("construction", "construction"),
    ("manufacturing", "industrie manufacturière"), ("retail trade", "commerce de détail"),
    ("wholesale trade", "commerce de gros"), ("banking", "banque"), ("insurance", "assurance"),
    ("public debt", "dette publique"), ("tax revenue", "recettes fiscales"), ("remittances", "transferts"),
    ("school enrolment", "scolarisation"), ("hospital beds", "lits d'hôpital"), ("vaccination", "vaccination"),
    ("births", "naissances"), ("deaths", "décès"), ("marriages", "mariages"), ("migration", "migration"),
    ("households", "ménages"), ("poverty", "pauvreté"), ("wages", "salaires"), ("employment", "emploi"),
    ("working hours", "heures de travail"), ("informal sector", "secteur informel"), ("fuelwood", "bois de feu"),
    ("charcoal", "charbon de bois"), ("rainfall", "pluviométrie"), ("forest cover", "couvert forestier"),
    ("land use", "utilisation des terres"), ("irrigation", "irrigation"), ("livestock", "bétail"),
    ("goats", "chèvres"), ("sheep", "moutons"), ("pigs", "porcs"), ("honey", "miel"), ("palm oil", "huile de palme"),
    ("rubber", "caoutchouc"), ("tobacco", "tabac"), ("beer", "bière"), ("soft drinks", "boissons"),
    ("bread", "pain"), ("flour", "farine"), ("salt", "sel"), ("soap", "savon"), ("paint", "peinture"),
    ("plastics", "plastiques"), ("paper", "papier"), ("books", "livres"), ("newspapers", "journaux"),
    ("cinema", "cinéma"), ("sport", "sport"), ("cashew nuts", "noix de cajou"), ("crime", "criminalité"), ("road accidents", "accidents de la route"),
]  # fmt: skip
MEASURES = [
    ("production", "production"), ("price index", "indice des prix"), ("exports", "exportations"),
    ("imports", "importations"), ("consumption", "consommation"), ("stocks", "stocks"), ("sales", "ventes"),
    ("turnover", "chiffre d'affaires"), ("growth rate", "taux de croissance"), ("average price", "prix moyen"),
]  # fmt: skip
REGIONS = {
    "_T": {"en": "National", "fr": "Ensemble du pays"},
    "NO": {"en": "Northern", "fr": "Nord"},
    "SO": {"en": "Southern", "fr": "Sud"},
    "EA": {"en": "Eastern", "fr": "Est"},
    "WE": {"en": "Western", "fr": "Ouest"},
}
SEXES = {"F": {"en": "Female", "fr": "Féminin"}, "M": {"en": "Male", "fr": "Masculin"}}
SEX_WORDS = {"F": {"en": "women", "fr": "femmes"}, "M": {"en": "men", "fr": "hommes"}}
MONTHS = 500
FIRST_YEAR = 1983
SERIES_PER_INDICATOR = len(REGIONS) * len(SEXES)
DEFAULT_DATABASE = Path(tempfile.gettempdir()) / "baraza-bench-lookup.sqlite"


def catalogue() -> list[Indicator]:
    region = Dimension("REF_AREA", {"en": "Region", "fr": "Région"}, REGIONS)
    sex = Dimension("SEX", {"en": "Sex", "fr": "Sexe"}, SEXES)
    indicators = []
    for number, ((subject_en, subject_fr), (measure_en, measure_fr)) in enumerate(
        (s, m) for s in SUBJECTS for m in MEASURES
    ):
        indicators.append(
            Indicator(
                code=f"IND{number:04d}",
                names={
                    "en": f"{subject_en.capitalize()} {measure_en}",
                    "fr": f"{measure_fr.capitalize()} : {subject_fr}",
                },
                unit={"en": "index", "fr": "indice"},
                decimals=1,
                source={"en": "Synthetic statistics", "fr": "Statistiques synthétiques"},
                release={"en": "Bench release", "fr": "Publication de test"},
                release_date=date(2024, 12, 1),
                link="https://stats.example.org/bench",
                dimensions=(region, sex),
            )
        )
    return indicators


def series(indicators: list[Indicator]) -> Iterator[SeriesData]:
    periods = [f"{FIRST_YEAR + m // 12}-{m % 12 + 1:02d}" for m in range(MONTHS)]
    for indicator in indicators:
        seed = int(indicator.code[3:])
        for r, area in enumerate(REGIONS):
            for s, sex in enumerate(SEXES):
                base = 50 + (seed * 7 + r * 3 + s) % 50
                observations = tuple(
                    Observation(period, round(base + (i % 37) * 0.3 + i * 0.05, 1), "P" if i >= MONTHS - 2 else "A")
                    for i, period in enumerate(periods)
                )
                yield SeriesData(indicator.code, f"M.{area}.{sex}", {"REF_AREA": area, "SEX": sex}, observations)


async def ensure_catalogue(database: Database, rebuild: bool) -> float:
    """Load the synthetic catalogue unless the database already holds it; seconds spent loading."""
    await database.migrate()
    indicators = catalogue()
    expected = len(indicators) * SERIES_PER_INDICATOR
    if not rebuild:
        for load in await IndicatorLoader(database).history(1):
            if load.status == "active" and load.series == expected and load.observations == expected * MONTHS:
                return 0.0
    started = time.perf_counter()
    summary = await IndicatorLoader(database).replace(
        indicators, series(indicators), source="bench/indicator_lookup", now=datetime.now(UTC)
    )
    seconds = time.perf_counter() - started
    print(f"loaded {summary.series:,} series and {summary.observations:,} observations in {seconds:.0f} s")
    return seconds


def typo(word: str, rng: random.Random) -> str:
    if len(word) < 6:
        return word
    i = rng.randrange(1, len(word) - 2)
    return rng.choice(
        [word[:i] + word[i + 1 :], word[:i] + word[i + 1] + word[i] + word[i + 2 :], word[:i] + word[i] + word[i:]]
    )


def questions(indicators: list[Indicator], count: int, seed: int = 7) -> list[tuple[str, str, str]]:
    """(language, text, expected indicator code): a typo in one word, region and sex named,
    a year one time in three."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        indicator = rng.choice(indicators)
        language = rng.choice(("en", "fr"))
        words = indicator.names[language].replace(":", "").split()
        index = max(range(len(words)), key=lambda i: len(words[i]))
        words[index] = typo(words[index], rng)
        area = rng.choice(list(REGIONS))
        sex = rng.choice(list(SEXES))
        words += [SEX_WORDS[sex][language], REGIONS[area][language]]
        if rng.random() < 1 / 3:
            words.append(str(rng.randrange(FIRST_YEAR, FIRST_YEAR + MONTHS // 12)))
        out.append((language, " ".join(words), indicator.code))
    return out


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000


async def run(database_url: str, lookups: int, rebuild: bool) -> None:
    database = Database(database_url)
    try:
        await ensure_catalogue(database, rebuild)
        indicators = catalogue()

        # The first lookup after a load: read the catalogue, build the index.
        started = time.perf_counter()
        async with database.reading() as connection:
            snapshot = await Repositories(connection).indicators.snapshot()
        read = time.perf_counter() - started
        assert snapshot is not None
        started = time.perf_counter()
        index = CatalogueIndex(snapshot)
        built = time.perf_counter() - started
        print(
            f"catalogue: {len(snapshot.indicators):,} indicators, "
            f"{sum(len(s) for s in snapshot.series.values()):,} series; "
            f"snapshot read {read * 1000:.0f} ms, index built {built * 1000:.0f} ms"
        )

        # Matching alone.
        asked = questions(indicators, max(lookups * 5, 1000))
        today = date(2025, 1, 10)
        timings, right, first = [], 0, 0
        cpu = time.process_time()
        for language, text, code in asked:
            started = time.perf_counter()
            match = index.match(text, language, today)
            timings.append(time.perf_counter() - started)
            right += bool(match.best and match.best.entry.indicator.code == code)
            first += bool(match.candidates and match.candidates[0].entry.indicator.code == code)
        cpu = time.process_time() - cpu
        print(
            f"matching alone   {len(asked):>6} questions  p50 {percentile(timings, 0.5):6.2f} ms  "
            f"p99 {percentile(timings, 0.99):6.2f} ms  CPU {cpu / len(asked) * 1000:5.2f} ms each  "
            f"answered with the intended indicator: {right / len(asked):.1%}, "
            f"intended indicator first: {first / len(asked):.1%}"
        )

        # The engine: inbound → reply, committed. A shared cache, warmed as `baraza run` does, and
        # one lookup first.
        pseudonymizer = await load_pseudonymizer(database, "bench-pseudonym-key-0123456789")
        cache = CatalogueCache(StoredCatalogue(database))
        await cache.start()
        engine = Engine(database, {}, pseudonymizer, catalogue=cache)
        await engine.handle(Inbound("bench", "warm", "warm", "warm-0", text="/data rice production"))
        timings, figures = [], 0
        cpu = time.process_time()
        for number, (language, text, _code) in enumerate(questions(indicators, lookups, seed=11)):
            user = f"u{number % 100}"
            inbound = Inbound(
                "bench", user, user, f"q-{time.time_ns()}-{number}", text=f"/data {text}", language_hint=language
            )
            started = time.perf_counter()
            replies = await engine.handle(inbound)
            timings.append(time.perf_counter() - started)
            figures += any(button.payload.startswith("d:c:") for reply in replies for button in reply.flat_buttons)
        cpu = time.process_time() - cpu
        backend = "sqlite" if database.is_sqlite else "postgresql"
        print(
            f"engine ({backend:<10}) {len(timings):>6} lookups   p50 {percentile(timings, 0.5):6.2f} ms  "
            f"p99 {percentile(timings, 0.99):6.2f} ms  mean {statistics.mean(timings) * 1000:6.2f} ms  "
            f"CPU of this process {cpu / len(timings) * 1000:5.2f} ms each  "
            f"answered with a figure: {figures / len(timings):.1%}"
        )
        await cache.stop()
    finally:
        await database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lookups", type=int, default=2000)
    parser.add_argument("--database-url", default=f"sqlite+aiosqlite:///{DEFAULT_DATABASE}")
    parser.add_argument("--rebuild", action="store_true", help="load the synthetic catalogue again")
    arguments = parser.parse_args()
    asyncio.run(run(arguments.database_url, arguments.lookups, arguments.rebuild))


if __name__ == "__main__":
    main()
