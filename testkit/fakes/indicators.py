"""A small catalogue in English and French, loaded through the real :class:`IndicatorLoader`.

Inflation (one monthly series), unemployment by region and sex (annual), youth unemployment by
sex, population by region, and GDP growth (quarterly). Values are made up but consistent, so
tests can state the exact figure, period, change and status a user should get.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from catalogue.model import CatalogueSnapshot, Dimension, Indicator, Observation, Series, SeriesData
from storage.database import Database
from storage.indicators import IndicatorLoader, LoadSummary

LOADED_AT = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)

REF_AREA = Dimension(
    id="REF_AREA",
    names={"en": "Region", "fr": "Région", "pt": "Região", "ar": "المنطقة"},
    values={
        "_T": {"en": "National", "fr": "Ensemble du pays", "pt": "Nacional", "ar": "وطني"},
        "N": {"en": "Northern", "fr": "Nord", "pt": "Norte", "ar": "الشمال"},
        "S": {"en": "Southern", "fr": "Sud", "pt": "Sul", "ar": "الجنوب"},
    },
)
SEX = Dimension(
    id="SEX",
    names={"en": "Sex", "fr": "Sexe", "pt": "Sexo", "ar": "الجنس"},
    values={
        "_T": {"en": "Total", "fr": "Total", "pt": "Total", "ar": "المجموع"},
        "F": {"en": "Female", "fr": "Féminin", "pt": "Feminino", "ar": "إناث"},
        "M": {"en": "Male", "fr": "Masculin", "pt": "Masculino", "ar": "ذكور"},
    },
)
LFS = {"en": "Labour Force Survey 2024", "fr": "Enquête sur la population active 2024"}

INFLATION = Indicator(
    code="CPI_YOY",
    names={"en": "Inflation rate (year on year)", "fr": "Taux d'inflation (glissement annuel)"},
    topic="prices",
    synonyms={"en": ("inflation", "consumer prices", "CPI"), "fr": ("inflation", "prix à la consommation", "IPC")},
    unit={"en": "%", "fr": "%"},
    decimals=1,
    source={"en": "Consumer Price Index", "fr": "Indice des prix à la consommation"},
    release={"en": "CPI, March 2024", "fr": "IPC, mars 2024"},
    release_date=date(2024, 4, 15),
    link="https://stats.example.org/cpi/2024-03",
)
UNEMPLOYMENT = Indicator(
    code="UNEMP_RATE",
    names={"en": "Unemployment rate", "fr": "Taux de chômage"},
    topic="labour",
    synonyms={"en": ("unemployment", "jobless rate"), "fr": ("chômage", "chômeurs")},
    unit={"en": "%", "fr": "%"},
    decimals=1,
    source={"en": "Labour Force Survey", "fr": "Enquête sur la population active"},
    release=LFS,
    release_date=date(2025, 2, 20),
    link="https://stats.example.org/lfs/2024",
    dimensions=(REF_AREA, SEX),
)
YOUTH_UNEMPLOYMENT = Indicator(
    code="YOUTH_UNEMP",
    names={"en": "Youth unemployment rate (15-24)", "fr": "Taux de chômage des jeunes (15-24 ans)"},
    topic="labour",
    synonyms={"en": ("youth unemployment",), "fr": ("chômage des jeunes",)},
    unit={"en": "%", "fr": "%"},
    decimals=1,
    source={"en": "Labour Force Survey", "fr": "Enquête sur la population active"},
    release=LFS,
    release_date=date(2025, 2, 20),
    dimensions=(SEX,),
)
POPULATION = Indicator(
    code="POP",
    names={"en": "Population", "fr": "Population"},
    topic="population",
    synonyms={"en": ("inhabitants", "people"), "fr": ("habitants",)},
    unit={"en": "persons", "fr": "personnes"},
    decimals=0,
    source={"en": "Population projections", "fr": "Projections démographiques"},
    release={"en": "Population estimates 2024", "fr": "Estimations de la population 2024"},
    release_date=date(2024, 7, 1),
    dimensions=(REF_AREA,),
)
GDP_GROWTH = Indicator(
    code="GDP_GROWTH",
    names={"en": "GDP growth (quarter on quarter)", "fr": "Croissance du PIB (trimestrielle)"},
    topic="national_accounts",
    synonyms={"en": ("economic growth", "GDP"), "fr": ("croissance économique", "PIB")},
    unit={"en": "%", "fr": "%"},
    decimals=2,
    source={"en": "Quarterly national accounts", "fr": "Comptes nationaux trimestriels"},
    release={"en": "GDP Q2 2024", "fr": "PIB T2 2024"},
    release_date=date(2024, 8, 30),
)
INDICATORS = (INFLATION, UNEMPLOYMENT, YOUTH_UNEMPLOYMENT, POPULATION, GDP_GROWTH)

#: Inflation, January 2023 to March 2024; the last two months provisional.
INFLATION_VALUES = (9.1, 8.7, 8.2, 7.9, 7.5, 7.0, 6.6, 6.1, 5.8, 5.5, 5.2, 5.0, 4.8, 4.6, 4.2)
#: Unemployment 2019..2024 by (region, sex); 2024 estimated.
UNEMPLOYMENT_VALUES = {
    ("_T", "_T"): (10.2, 11.5, 11.0, 10.4, 9.8, 9.5),
    ("_T", "F"): (11.9, 13.4, 12.8, 12.1, 11.6, 11.2),
    ("_T", "M"): (8.8, 9.9, 9.4, 8.9, 8.3, 8.1),
    ("N", "_T"): (12.4, 13.6, 13.1, 12.6, 12.0, 11.7),
    ("N", "F"): (14.8, 16.0, 15.4, 14.9, 14.1, 13.6),
    ("N", "M"): (10.5, 11.7, 11.2, 10.7, 10.2, 10.0),
    ("S", "_T"): (8.1, 9.4, 9.0, 8.3, 7.7, 7.4),
    ("S", "F"): (9.2, 10.6, 10.1, 9.5, 8.9, 8.6),
    ("S", "M"): (7.2, 8.3, 7.9, 7.3, 6.6, 6.4),
}
POPULATION_VALUES = {"_T": (24_180_000, 24_650_312), "N": (9_870_000, 10_104_221), "S": (14_310_000, 14_546_091)}
GDP_VALUES = (0.41, 0.62, 0.35, 0.58, 0.71, 0.49)


def _months(first_year: int, count: int) -> list[str]:
    return [f"{first_year + i // 12}-{i % 12 + 1:02d}" for i in range(count)]


def sample_series() -> list[SeriesData]:
    """Every series of the sample catalogue with its observations."""
    months = _months(2023, len(INFLATION_VALUES))
    inflation = tuple(
        Observation(period, value, "P" if index >= len(months) - 2 else "A")
        for index, (period, value) in enumerate(zip(months, INFLATION_VALUES, strict=True))
    )
    series = [SeriesData("CPI_YOY", "M.CPI_YOY", {"FREQ": "M"}, inflation)]
    years = [str(year) for year in range(2019, 2025)]
    for (area, sex), values in UNEMPLOYMENT_VALUES.items():
        observations = tuple(
            Observation(year, value, "E" if year == "2024" else "A") for year, value in zip(years, values, strict=True)
        )
        series.append(SeriesData("UNEMP_RATE", f"A.{area}.{sex}", {"REF_AREA": area, "SEX": sex}, observations))
    for sex, factor in (("_T", 2.1), ("F", 2.3), ("M", 1.9)):
        observations = tuple(
            Observation(y, round(v * factor, 1)) for y, v in zip(years, UNEMPLOYMENT_VALUES[("_T", sex)], strict=True)
        )
        series.append(SeriesData("YOUTH_UNEMP", f"A.{sex}", {"SEX": sex}, observations))
    for area, values in POPULATION_VALUES.items():
        observations = tuple(Observation(y, v) for y, v in zip(("2023", "2024"), values, strict=True))
        series.append(SeriesData("POP", f"A.{area}", {"REF_AREA": area}, observations))
    quarters = [f"{2023 + i // 4}-Q{i % 4 + 1}" for i in range(len(GDP_VALUES))]
    gdp = tuple(
        Observation(q, v, "P" if i == len(quarters) - 1 else None)
        for i, (q, v) in enumerate(zip(quarters, GDP_VALUES, strict=True))
    )
    series.append(SeriesData("GDP_GROWTH", "Q.GDP", {"FREQ": "Q"}, gdp))
    return series


async def load_sample(database: Database, now: datetime = LOADED_AT) -> LoadSummary:
    """Load the sample catalogue into a migrated ``database`` as the active load."""
    return await IndicatorLoader(database).replace(INDICATORS, sample_series(), source="tests/sample", now=now)


async def sample_catalogue_url(database_url: str) -> str:
    """Migrate the empty database at ``database_url`` and load the sample catalogue as its active
    load; returns the URL, for a bot (which opens its own connections) to be started on."""
    database = Database(database_url)
    try:
        await database.migrate()
        await load_sample(database)
    finally:
        await database.dispose()
    return database_url


def sample_snapshot(load_id: int = 1) -> CatalogueSnapshot:
    """The sample catalogue as the store would return it (series numbered from 1), without I/O."""
    by_indicator: dict[str, list[Series]] = {}
    for number, item in enumerate(sample_series(), start=1):
        by_indicator.setdefault(item.indicator_code, []).append(
            Series(number, item.indicator_code, item.key, item.dimensions, item.attributes)
        )
    return CatalogueSnapshot(
        load_id, {i.code: i for i in INDICATORS}, {code: tuple(items) for code, items in by_indicator.items()}
    )
