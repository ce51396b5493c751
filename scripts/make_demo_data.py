"""Write the FICTIONAL "Demoland" demo data: SDMX-CSV files and their metadata in office/indicators/.

Demoland does not exist; its figures are invented (seeded, so every run writes the same
files). They let ``make run`` answer questions at once and show the data formats an office
would use. Run: ``python scripts/make_demo_data.py [OUTPUT_DIR]``.
"""

from __future__ import annotations

import csv
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml


def _texts(en: str, fr: str, pt: str) -> dict[str, str]:
    """A text in the three languages of the demo, as the metadata file writes it."""
    return {"en": en, "fr": fr, "pt": pt}


NOTICE = "FICTIONAL DEMO DATA: Demoland does not exist; every figure here is invented."
OFFICE = _texts(
    "Demoland National Statistics Office (fictional)",
    "Office national de la statistique du Demoland (fictif)",
    "Instituto Nacional de Estatística da Demolândia (fictício)",
)
LINK = "https://example.org/demoland"
REGIONS = ("N", "S", "E", "W")
AREAS = ("DL", *REGIONS)
#: Share of the population in each region, and how far its figures sit from the national ones.
REGION_WEIGHT = {"N": 0.31, "S": 0.27, "E": 0.24, "W": 0.18}
REGION_OFFSET = {"N": -0.12, "S": 0.08, "E": 0.03, "W": 0.10}
YEARS = tuple(range(2012, 2026))  # 2012-2025
MONTHS = tuple(f"{y}-{m:02d}" for y in range(2014, 2027) for m in range(1, 13) if (y, m) <= (2026, 10))

DIMENSIONS = {
    "REF_AREA": {
        "names": _texts("Region", "Région", "Região"),
        "values": {
            "DL": _texts("Demoland (whole country)", "Demoland (ensemble du pays)", "Demolândia (todo o país)"),
            "N": _texts("Northern", "Nord", "Norte"),
            "S": _texts("Southern", "Sud", "Sul"),
            "E": _texts("Eastern", "Est", "Leste"),
            "W": _texts("Western", "Ouest", "Oeste"),
        },
    },
    "SEX": {
        "names": _texts("Sex", "Sexe", "Sexo"),
        "values": {
            "_T": _texts("Total", "Ensemble", "Total"),
            "F": _texts("Women", "Femmes", "Mulheres"),
            "M": _texts("Men", "Hommes", "Homens"),
        },
    },
}

UNITS = {
    "pct": _texts("%", "%", "%"),
    "index": _texts("index (2020 = 100)", "indice (base 100 en 2020)", "índice (2020 = 100)"),
    "thousand": _texts("thousand people", "milliers de personnes", "milhares de pessoas"),
    "dmd_month": _texts("Demoland dinars a month", "dinars démolandais par mois", "dinares por mês"),
    "dmd_billion": _texts("billion Demoland dinars", "milliards de dinars démolandais", "mil milhões de dinares"),
    "dmd": _texts("Demoland dinars", "dinars démolandais", "dinares"),
    "dmd_litre": _texts("dinars a litre", "dinars le litre", "dinares por litro"),
    "per_1000": _texts("per 1,000", "pour 1 000", "por 1 000"),
    "per_1000_births": _texts("per 1,000 live births", "pour 1 000 naissances vivantes", "por 1 000 nascidos vivos"),
    "per_100000_births": _texts(
        "per 100,000 live births", "pour 100 000 naissances vivantes", "por 100 000 nascidos vivos"
    ),
    "years": _texts("years", "ans", "anos"),
    "children": _texts("children per woman", "enfants par femme", "filhos por mulher"),
    "people": _texts("people", "personnes", "pessoas"),
    "per_km2": _texts("people per km²", "habitants au km²", "habitantes por km²"),
    "pupils": _texts("pupils per teacher", "élèves par enseignant", "alunos por professor"),
    "kt": _texts("thousand tonnes", "milliers de tonnes", "milhares de toneladas"),
    "t_ha": _texts("tonnes per hectare", "tonnes par hectare", "toneladas por hectare"),
    "kg_ha": _texts("kg per hectare", "kg par hectare", "kg por hectare"),
    "heads": _texts("thousand head", "milliers de têtes", "milhares de cabeças"),
    "kha": _texts("thousand hectares", "milliers d'hectares", "milhares de hectares"),
}
UNIT_CODES = {
    "pct": "PT",
    "index": "IX",
    "thousand": "PS",
    "dmd_month": "DMD",
    "dmd_billion": "DMD",
    "dmd": "DMD",
    "dmd_litre": "DMD",
    "per_1000": "PER_1000",
    "per_1000_births": "PER_1000",
    "per_100000_births": "PER_100000",
    "years": "YR",
    "children": "CHILD",
    "people": "PS",
    "per_km2": "PS_KM2",
    "pupils": "RATIO",
    "kt": "T",
    "t_ha": "T_HA",
    "kg_ha": "KG_HA",
    "heads": "HEAD",
    "kha": "HA",
}
UNIT_MULT = {"thousand": "3", "dmd_billion": "9", "kt": "3", "heads": "3", "kha": "3"}

DATAFLOWS = {
    "DF_PRICES": {
        "topic": "prices",
        "names": _texts("Prices", "Prix", "Preços"),
        "release": _texts(
            "Consumer Price Index, October 2026",
            "Indice des prix à la consommation, octobre 2026",
            "Índice de Preços no Consumidor, outubro de 2026",
        ),
        "release_date": "2026-11-12",
        "layout": "2.0",
    },
    "DF_LABOUR": {
        "topic": "labour",
        "names": _texts("Labour force", "Main-d'œuvre", "Força de trabalho"),
        "release": _texts(
            "Labour Force Survey 2025", "Enquête sur la main-d'œuvre 2025", "Inquérito à Força de Trabalho 2025"
        ),
        "release_date": "2026-05-20",
        "layout": "1.0",
    },
    "DF_POPULATION": {
        "topic": "population",
        "names": _texts("Population", "Population", "População"),
        "release": _texts(
            "Population estimates 2025", "Estimations de la population 2025", "Estimativas da população 2025"
        ),
        "release_date": "2026-03-31",
        "layout": "1.0",
    },
    "DF_NATIONAL_ACCOUNTS": {
        "topic": "national_accounts",
        "names": _texts("National accounts", "Comptes nationaux", "Contas nacionais"),
        "release": _texts(
            "Annual national accounts 2025 (provisional)",
            "Comptes nationaux annuels 2025 (provisoires)",
            "Contas nacionais anuais 2025 (provisórias)",
        ),
        "release_date": "2026-09-30",
        "layout": "2.0",
    },
    "DF_HEALTH": {
        "topic": "health",
        "names": _texts("Health", "Santé", "Saúde"),
        "release": _texts("Health statistics 2025", "Statistiques de santé 2025", "Estatísticas da saúde 2025"),
        "release_date": "2026-06-15",
        "layout": "1.0",
    },
    "DF_EDUCATION": {
        "topic": "education",
        "names": _texts("Education", "Éducation", "Educação"),
        "release": _texts(
            "Education statistics 2025", "Statistiques de l'éducation 2025", "Estatísticas da educação 2025"
        ),
        "release_date": "2026-07-10",
        "layout": "1.0",
    },
    "DF_AGRICULTURE": {
        "topic": "agriculture",
        "names": _texts("Agriculture", "Agriculture", "Agricultura"),
        "release": _texts("Agricultural survey 2025", "Enquête agricole 2025", "Inquérito agrícola 2025"),
        "release_date": "2026-04-28",
        "layout": "2.0",
    },
}


@dataclass(frozen=True)
class Spec:
    code: str
    dataflow: str
    names: dict[str, str]
    synonyms: dict[str, list[str]]
    unit: str
    decimals: int
    #: value at the start, yearly change (absolute), noise (absolute)
    start: float
    trend: float
    noise: float
    regions: bool = True
    by_sex: bool = False
    #: women's value relative to men's (1.0: same)
    sex_ratio: float = 1.0
    monthly: bool = False
    provisional: bool = False
    low: float = 0.0
    high: float = float("inf")
    descriptions: dict[str, str] = field(default_factory=dict)


def S(
    code: str,
    dataflow: str,
    en: str,
    fr: str,
    pt: str,
    syn_en: str,
    syn_fr: str,
    unit: str,
    decimals: int,
    start: float,
    trend: float,
    noise: float,
    **options: object,
) -> Spec:
    return Spec(
        code,
        dataflow,
        _texts(en, fr, pt),
        {
            "en": [s.strip() for s in syn_en.split(";") if s.strip()],
            "fr": [s.strip() for s in syn_fr.split(";") if s.strip()],
        },
        unit,
        decimals,
        start,
        trend,
        noise,
        **options,  # type: ignore[arg-type]
    )


P, L, POP, NA, H, E, A = (
    "DF_PRICES",
    "DF_LABOUR",
    "DF_POPULATION",
    "DF_NATIONAL_ACCOUNTS",
    "DF_HEALTH",
    "DF_EDUCATION",
    "DF_AGRICULTURE",
)
SPECS = [
    # prices (monthly)
    S(
        "CPI",
        P,
        "Consumer price index",
        "Indice des prix à la consommation",
        "Índice de preços no consumidor",
        "CPI; price index; consumer prices; cost of living",
        "IPC; indice des prix; prix à la consommation; coût de la vie",
        "index",
        1,
        78.0,
        4.1,
        0.25,
        monthly=True,
        provisional=True,
    ),
    S(
        "CPI_YOY",
        P,
        "Inflation rate",
        "Taux d'inflation",
        "Taxa de inflação",
        "inflation; annual inflation; CPI year on year; price increase",
        "inflation; inflation annuelle; hausse des prix; glissement annuel",
        "pct",
        1,
        0,
        0,
        0,
        monthly=True,
        provisional=True,
    ),
    S(
        "CPI_MOM",
        P,
        "Monthly change in consumer prices",
        "Variation mensuelle des prix à la consommation",
        "Variação mensal dos preços no consumidor",
        "monthly inflation; month on month CPI",
        "inflation mensuelle; variation mensuelle de l'IPC",
        "pct",
        1,
        0,
        0,
        0,
        monthly=True,
        provisional=True,
    ),
    S(
        "CPI_FOOD_YOY",
        P,
        "Food inflation",
        "Inflation alimentaire",
        "Inflação alimentar",
        "food prices; food price inflation; cost of food",
        "prix alimentaires; prix de la nourriture; hausse des prix alimentaires",
        "pct",
        1,
        5.0,
        -0.1,
        1.6,
        monthly=True,
        provisional=True,
        low=-4,
    ),
    S(
        "CPI_CORE_YOY",
        P,
        "Core inflation",
        "Inflation sous-jacente",
        "Inflação subjacente",
        "underlying inflation; inflation excluding food and energy",
        "inflation de base; inflation hors alimentation et énergie",
        "pct",
        1,
        3.2,
        0.0,
        0.5,
        monthly=True,
        regions=False,
        low=0,
    ),
    S(
        "FUEL_PRICE",
        P,
        "Price of petrol",
        "Prix de l'essence",
        "Preço da gasolina",
        "petrol price; gasoline price; fuel price; price of fuel",
        "prix du carburant; prix à la pompe; carburant",
        "dmd_litre",
        2,
        1.35,
        0.06,
        0.05,
        monthly=True,
        regions=False,
    ),
    S(
        "PPI_YOY",
        P,
        "Producer price inflation",
        "Inflation des prix à la production",
        "Inflação dos preços no produtor",
        "producer prices; PPI; factory gate prices",
        "prix à la production; IPP",
        "pct",
        1,
        3.5,
        0.0,
        1.8,
        monthly=True,
        regions=False,
        low=-6,
    ),
    # labour
    S(
        "UNEMP_RATE",
        L,
        "Unemployment rate",
        "Taux de chômage",
        "Taxa de desemprego",
        "unemployment; jobless rate; people out of work",
        "chômage; taux de chômage; sans-emploi",
        "pct",
        1,
        11.5,
        -0.25,
        0.4,
        by_sex=True,
        sex_ratio=1.25,
        provisional=True,
    ),
    S(
        "YOUTH_UNEMP_RATE",
        L,
        "Youth unemployment rate (15-24)",
        "Taux de chômage des jeunes (15-24 ans)",
        "Taxa de desemprego jovem (15-24)",
        "youth unemployment; young people unemployed",
        "chômage des jeunes; jeunes sans emploi",
        "pct",
        1,
        24.0,
        -0.4,
        0.9,
        by_sex=True,
        sex_ratio=1.15,
    ),
    S(
        "LF_PART_RATE",
        L,
        "Labour force participation rate",
        "Taux d'activité",
        "Taxa de atividade",
        "participation rate; activity rate; labour force participation",
        "taux de participation; population active",
        "pct",
        1,
        61.0,
        0.2,
        0.4,
        by_sex=True,
        sex_ratio=0.72,
    ),
    S(
        "EMP_RATE",
        L,
        "Employment rate",
        "Taux d'emploi",
        "Taxa de emprego",
        "employment; people in work; jobs",
        "emploi; personnes en emploi",
        "pct",
        1,
        54.0,
        0.3,
        0.4,
        by_sex=True,
        sex_ratio=0.7,
    ),
    S(
        "INFORMAL_EMP",
        L,
        "Informal employment",
        "Emploi informel",
        "Emprego informal",
        "informal sector; informal jobs; informality",
        "secteur informel; travail informel; informalité",
        "pct",
        1,
        68.0,
        -0.6,
        0.8,
        by_sex=True,
        sex_ratio=1.12,
        high=95,
    ),
    S(
        "AVG_WAGE",
        L,
        "Average monthly wage",
        "Salaire mensuel moyen",
        "Salário médio mensal",
        "wages; salary; average earnings; pay",
        "salaires; salaire moyen; rémunération; revenus du travail",
        "dmd_month",
        0,
        2100,
        95,
        25,
        by_sex=True,
        sex_ratio=0.82,
    ),
    S(
        "LABOUR_FORCE",
        L,
        "Labour force",
        "Population active",
        "Força de trabalho",
        "workforce; economically active population",
        "main-d'œuvre; actifs",
        "thousand",
        1,
        5200,
        95,
        15,
        by_sex=True,
        sex_ratio=0.78,
    ),
    # population
    S(
        "POP_TOTAL",
        POP,
        "Population",
        "Population",
        "População",
        "population; number of inhabitants; how many people live",
        "population; nombre d'habitants; habitants",
        "thousand",
        1,
        11800,
        260,
        8,
        by_sex=True,
        sex_ratio=1.02,
        provisional=True,
    ),
    S(
        "POP_GROWTH",
        POP,
        "Population growth rate",
        "Taux de croissance démographique",
        "Taxa de crescimento populacional",
        "population growth; demographic growth",
        "croissance de la population; croissance démographique",
        "pct",
        2,
        2.3,
        -0.03,
        0.04,
    ),
    S(
        "URBAN_SHARE",
        POP,
        "Urban population",
        "Population urbaine",
        "População urbana",
        "urbanisation; urbanization; people in towns and cities",
        "urbanisation; population des villes",
        "pct",
        1,
        38.0,
        0.6,
        0.1,
    ),
    S(
        "BIRTH_RATE",
        POP,
        "Crude birth rate",
        "Taux brut de natalité",
        "Taxa bruta de natalidade",
        "birth rate; births; natality",
        "natalité; naissances",
        "per_1000",
        1,
        34.0,
        -0.35,
        0.3,
    ),
    S(
        "DEATH_RATE",
        POP,
        "Crude death rate",
        "Taux brut de mortalité",
        "Taxa bruta de mortalidade",
        "death rate; deaths; mortality",
        "mortalité; décès",
        "per_1000",
        1,
        9.8,
        -0.12,
        0.15,
    ),
    S(
        "FERTILITY_RATE",
        POP,
        "Total fertility rate",
        "Indice synthétique de fécondité",
        "Índice sintético de fecundidade",
        "fertility; children per woman",
        "fécondité; enfants par femme",
        "children",
        2,
        4.6,
        -0.06,
        0.04,
    ),
    S(
        "LIFE_EXPECTANCY",
        POP,
        "Life expectancy at birth",
        "Espérance de vie à la naissance",
        "Esperança de vida à nascença",
        "life expectancy; how long people live",
        "espérance de vie; durée de vie",
        "years",
        1,
        61.5,
        0.35,
        0.15,
        by_sex=True,
        sex_ratio=1.06,
    ),
    S(
        "HOUSEHOLD_SIZE",
        POP,
        "Average household size",
        "Taille moyenne des ménages",
        "Dimensão média dos agregados familiares",
        "household size; people per household",
        "taille des ménages; personnes par ménage",
        "people",
        1,
        5.4,
        -0.04,
        0.03,
    ),
    S(
        "POP_DENSITY",
        POP,
        "Population density",
        "Densité de population",
        "Densidade populacional",
        "density; inhabitants per square kilometre",
        "densité; habitants au kilomètre carré",
        "per_km2",
        1,
        48.0,
        1.1,
        0.1,
    ),
    # national accounts (national only)
    S(
        "GDP",
        NA,
        "Gross domestic product (current prices)",
        "Produit intérieur brut (prix courants)",
        "Produto interno bruto (preços correntes)",
        "GDP; economy size; gross domestic product; output",
        "PIB; produit intérieur brut; taille de l'économie",
        "dmd_billion",
        1,
        310,
        24,
        4,
        regions=False,
        provisional=True,
    ),
    S(
        "GDP_GROWTH",
        NA,
        "Economic growth (real GDP growth)",
        "Croissance économique (croissance du PIB réel)",
        "Crescimento económico (PIB real)",
        "GDP growth; growth rate; economic growth; real growth",
        "croissance; croissance du PIB; taux de croissance",
        "pct",
        1,
        5.1,
        -0.05,
        1.1,
        regions=False,
        provisional=True,
        low=-3,
    ),
    S(
        "GDP_PER_CAPITA",
        NA,
        "GDP per capita",
        "PIB par habitant",
        "PIB per capita",
        "income per person; GDP per head",
        "PIB par tête; revenu par habitant",
        "dmd",
        0,
        26300,
        1500,
        200,
        regions=False,
        provisional=True,
    ),
    S(
        "GFCF_SHARE",
        NA,
        "Investment (gross fixed capital formation, % of GDP)",
        "Investissement (formation brute de capital fixe, % du PIB)",
        "Investimento (formação bruta de capital fixo, % do PIB)",
        "investment; GFCF; capital formation",
        "investissement; FBCF; formation de capital",
        "pct",
        1,
        21.0,
        0.15,
        0.6,
        regions=False,
    ),
    S(
        "AGRI_VA_SHARE",
        NA,
        "Agriculture, share of GDP",
        "Agriculture, part du PIB",
        "Agricultura, peso no PIB",
        "agriculture share of GDP; farming share of the economy",
        "part de l'agriculture dans le PIB",
        "pct",
        1,
        27.0,
        -0.4,
        0.3,
        regions=False,
    ),
    S(
        "INDUSTRY_VA_SHARE",
        NA,
        "Industry, share of GDP",
        "Industrie, part du PIB",
        "Indústria, peso no PIB",
        "industry share of GDP; manufacturing and mining",
        "part de l'industrie dans le PIB",
        "pct",
        1,
        22.0,
        0.15,
        0.3,
        regions=False,
    ),
    S(
        "SERVICES_VA_SHARE",
        NA,
        "Services, share of GDP",
        "Services, part du PIB",
        "Serviços, peso no PIB",
        "services share of GDP; tertiary sector",
        "part des services dans le PIB; secteur tertiaire",
        "pct",
        1,
        51.0,
        0.25,
        0.3,
        regions=False,
    ),
    S(
        "EXPORTS_GDP",
        NA,
        "Exports of goods and services (% of GDP)",
        "Exportations de biens et services (% du PIB)",
        "Exportações de bens e serviços (% do PIB)",
        "exports; trade; exports share",
        "exportations; commerce extérieur",
        "pct",
        1,
        24.0,
        0.2,
        0.9,
        regions=False,
    ),
    S(
        "GOV_DEBT",
        NA,
        "Government debt (% of GDP)",
        "Dette publique (% du PIB)",
        "Dívida pública (% do PIB)",
        "public debt; national debt; government debt",
        "dette publique; dette de l'État",
        "pct",
        1,
        38.0,
        1.3,
        0.8,
        regions=False,
    ),
    # health
    S(
        "INFANT_MORT",
        H,
        "Infant mortality rate",
        "Taux de mortalité infantile",
        "Taxa de mortalidade infantil",
        "infant mortality; babies dying before age one",
        "mortalité infantile; décès avant un an",
        "per_1000_births",
        1,
        52.0,
        -1.6,
        0.6,
        by_sex=True,
        sex_ratio=0.88,
    ),
    S(
        "UNDER5_MORT",
        H,
        "Under-five mortality rate",
        "Taux de mortalité des moins de cinq ans",
        "Taxa de mortalidade de menores de cinco anos",
        "child mortality; under 5 mortality",
        "mortalité infanto-juvénile; mortalité des enfants de moins de 5 ans",
        "per_1000_births",
        1,
        78.0,
        -2.5,
        0.9,
        by_sex=True,
        sex_ratio=0.9,
    ),
    S(
        "MATERNAL_MORT",
        H,
        "Maternal mortality ratio",
        "Ratio de mortalité maternelle",
        "Rácio de mortalidade materna",
        "maternal deaths; maternal mortality",
        "mortalité maternelle; décès maternels",
        "per_100000_births",
        0,
        420,
        -14,
        6,
    ),
    S(
        "DTP3_COVERAGE",
        H,
        "Immunisation coverage (DTP3)",
        "Couverture vaccinale (DTC3)",
        "Cobertura vacinal (DTP3)",
        "vaccination; immunization; vaccine coverage; DTP3",
        "vaccination; couverture vaccinale; DTC3",
        "pct",
        0,
        76.0,
        1.3,
        1.2,
        high=99,
    ),
    S(
        "BIRTHS_ATTENDED",
        H,
        "Births attended by skilled health personnel",
        "Accouchements assistés par du personnel qualifié",
        "Partos assistidos por pessoal qualificado",
        "skilled birth attendance; assisted deliveries",
        "accouchements assistés; naissances assistées",
        "pct",
        1,
        58.0,
        2.0,
        0.8,
        high=99,
    ),
    S(
        "STUNTING",
        H,
        "Stunting among children under five",
        "Retard de croissance des enfants de moins de cinq ans",
        "Atraso de crescimento em menores de cinco anos",
        "stunting; child malnutrition; chronic malnutrition",
        "retard de croissance; malnutrition chronique",
        "pct",
        1,
        34.0,
        -0.8,
        0.5,
        by_sex=True,
        sex_ratio=0.92,
    ),
    S(
        "HEALTH_INSURANCE",
        H,
        "Health insurance coverage",
        "Couverture d'assurance maladie",
        "Cobertura de seguro de saúde",
        "health insurance; health coverage",
        "assurance maladie; couverture maladie",
        "pct",
        1,
        12.0,
        1.9,
        0.6,
    ),
    # education
    S(
        "LITERACY_RATE",
        E,
        "Adult literacy rate",
        "Taux d'alphabétisation des adultes",
        "Taxa de alfabetização de adultos",
        "literacy; people who can read and write",
        "alphabétisation; savoir lire et écrire",
        "pct",
        1,
        64.0,
        0.9,
        0.4,
        by_sex=True,
        sex_ratio=0.84,
        high=99,
    ),
    S(
        "NER_PRIMARY",
        E,
        "Net enrolment rate, primary",
        "Taux net de scolarisation, primaire",
        "Taxa líquida de escolarização, primário",
        "primary enrolment; children in primary school",
        "scolarisation primaire; enfants à l'école primaire",
        "pct",
        1,
        82.0,
        0.8,
        0.5,
        by_sex=True,
        sex_ratio=0.97,
        high=99,
    ),
    S(
        "NER_SECONDARY",
        E,
        "Net enrolment rate, secondary",
        "Taux net de scolarisation, secondaire",
        "Taxa líquida de escolarização, secundário",
        "secondary enrolment; secondary school attendance",
        "scolarisation secondaire; élèves du secondaire",
        "pct",
        1,
        41.0,
        1.4,
        0.6,
        by_sex=True,
        sex_ratio=0.9,
    ),
    S(
        "PRIMARY_COMPLETION",
        E,
        "Primary completion rate",
        "Taux d'achèvement du primaire",
        "Taxa de conclusão do primário",
        "completion rate; finishing primary school",
        "achèvement du primaire; fin du primaire",
        "pct",
        1,
        63.0,
        1.2,
        0.8,
        by_sex=True,
        sex_ratio=0.95,
        high=99,
    ),
    S(
        "PUPIL_TEACHER",
        E,
        "Pupil-teacher ratio, primary",
        "Nombre d'élèves par enseignant, primaire",
        "Rácio alunos-professor, primário",
        "pupils per teacher; class size",
        "élèves par enseignant; taille des classes",
        "pupils",
        1,
        47.0,
        -0.5,
        0.5,
    ),
    S(
        "TERTIARY_ENROL",
        E,
        "Gross enrolment ratio, tertiary",
        "Taux brut de scolarisation, supérieur",
        "Taxa bruta de escolarização, ensino superior",
        "university enrolment; higher education",
        "enseignement supérieur; étudiants à l'université",
        "pct",
        1,
        8.0,
        0.6,
        0.3,
        by_sex=True,
        sex_ratio=0.8,
    ),
    # agriculture
    S(
        "MAIZE_PROD",
        A,
        "Maize production",
        "Production de maïs",
        "Produção de milho",
        "maize; corn; maize harvest",
        "maïs; récolte de maïs",
        "kt",
        1,
        1850,
        35,
        120,
    ),
    S(
        "RICE_PROD",
        A,
        "Rice production",
        "Production de riz",
        "Produção de arroz",
        "rice; paddy; rice harvest",
        "riz; paddy; récolte de riz",
        "kt",
        1,
        640,
        18,
        45,
    ),
    S(
        "CEREAL_YIELD",
        A,
        "Cereal yield",
        "Rendement céréalier",
        "Rendimento dos cereais",
        "yield; crop yield; cereal productivity",
        "rendement; productivité céréalière",
        "t_ha",
        2,
        1.45,
        0.03,
        0.09,
    ),
    S(
        "CATTLE",
        A,
        "Cattle",
        "Cheptel bovin",
        "Efetivo bovino",
        "cattle; cows; livestock",
        "bovins; bétail; vaches",
        "heads",
        0,
        4300,
        60,
        40,
    ),
    S(
        "FERTILIZER_USE",
        A,
        "Fertilizer use",
        "Utilisation d'engrais",
        "Utilização de fertilizantes",
        "fertiliser; fertilizer consumption",
        "engrais; consommation d'engrais",
        "kg_ha",
        1,
        14.0,
        0.8,
        0.9,
    ),
    S(
        "CULTIVATED_AREA",
        A,
        "Cultivated area",
        "Superficie cultivée",
        "Área cultivada",
        "farmland; area under crops; cropland",
        "terres cultivées; superficie agricole",
        "kha",
        0,
        3900,
        25,
        30,
    ),
]


def _series(rng: random.Random, spec: Spec, periods: tuple[str, ...], scale: float, offset: float) -> list[float]:
    values = []
    steps_per_year = 12 if spec.monthly else 1
    for i, _ in enumerate(periods):
        base = spec.start + spec.trend * (i / steps_per_year)
        value = base * scale * (1 + offset) + rng.gauss(0, spec.noise)
        values.append(min(max(value, spec.low), spec.high))
    return values


def _cpi_family(rng: random.Random, area_offset: float) -> dict[str, list[float]]:
    """CPI, then year-on-year and month-on-month changes computed from it (so they agree)."""
    index = [78.0 * (1 + area_offset * 0.05)]
    for i in range(1, len(MONTHS) + 12):
        monthly = 0.0045 + 0.0025 * rng.random() + 0.002 * (1 if 40 < i < 70 else 0) + area_offset * 0.0006
        index.append(index[-1] * (1 + monthly))
    index = index[12:]
    previous_year = [index[0] / (1.0 + 0.055)] * 12
    full = previous_year + index
    yoy = [100 * (full[i + 12] / full[i] - 1) for i in range(len(index))]
    mom = [0.0] + [100 * (index[i] / index[i - 1] - 1) for i in range(1, len(index))]
    # rebase to 2020 = 100
    base = sum(index[i] for i, p in enumerate(MONTHS) if p.startswith("2020")) / 12
    return {"CPI": [100 * v / base for v in index], "CPI_YOY": yoy, "CPI_MOM": mom}


def build(out: Path) -> None:
    rng = random.Random(20261125)
    rows: dict[str, list[tuple[str, str, str, str, str, float, str]]] = {flow: [] for flow in DATAFLOWS}
    cpi = {area: _cpi_family(rng, 0 if area == "DL" else REGION_OFFSET[area]) for area in AREAS}
    for spec in SPECS:
        periods = MONTHS if spec.monthly else tuple(str(y) for y in YEARS)
        areas = AREAS if spec.regions else ("DL",)
        sexes = ("_T", "F", "M") if spec.by_sex else ("_T",)
        for area in areas:
            offset = 0.0 if area == "DL" else REGION_OFFSET[area]
            scale = REGION_WEIGHT[area] if spec.unit in ("thousand", "kt", "heads", "kha") and area != "DL" else 1.0
            for sex in sexes:
                if spec.code in cpi["DL"]:
                    values = cpi[area][spec.code]
                else:
                    sex_scale = 1.0
                    if sex != "_T":
                        # women and men around the total, in the given ratio
                        women = 2 * spec.sex_ratio / (1 + spec.sex_ratio)
                        sex_scale = women if sex == "F" else 2 - women
                        if spec.unit == "thousand":
                            sex_scale /= 2
                    values = _series(rng, spec, periods, scale * sex_scale, offset)
                for i, (period, value) in enumerate(zip(periods, values, strict=True)):
                    status = "P" if spec.provisional and i == len(periods) - 1 else "A"
                    rows[spec.dataflow].append(
                        (
                            spec.code,
                            area,
                            sex,
                            "M" if spec.monthly else "A",
                            period,
                            round(value, spec.decimals),
                            status,
                        )
                    )
    out.mkdir(parents=True, exist_ok=True)
    for flow, flow_rows in rows.items():
        _write_csv(out / f"{flow.lower().removeprefix('df_')}.csv", flow, flow_rows)
    _write_metadata(out / "metadata.yaml")


def _write_csv(path: Path, flow: str, rows: list[tuple[str, str, str, str, str, float, str]]) -> None:
    by_code = {spec.code: spec for spec in SPECS}
    layout = DATAFLOWS[flow]["layout"]
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(
            f"# {NOTICE}\n# Dataflow DEMO:{flow}(1.0), SDMX-CSV {layout}. Written by scripts/make_demo_data.py.\n"
        )
        writer = csv.writer(handle, lineterminator="\n")
        dims = ["FREQ", "INDICATOR", "REF_AREA", "SEX"]
        attrs = ["UNIT_MEASURE", "UNIT_MULT", "OBS_STATUS"]
        structure = ["DATAFLOW"] if layout == "1.0" else ["STRUCTURE", "STRUCTURE_ID", "ACTION"]
        writer.writerow([*structure, *dims, "TIME_PERIOD", "OBS_VALUE", *attrs])
        reference = f"DEMO:{flow}(1.0)"
        for code, area, sex, freq, period, value, status in rows:
            spec = by_code[code]
            prefix = [reference] if layout == "1.0" else ["dataflow", reference, "I"]
            writer.writerow(
                [
                    *prefix,
                    freq,
                    code,
                    area,
                    sex,
                    period,
                    f"{value:.{spec.decimals}f}",
                    UNIT_CODES[spec.unit],
                    UNIT_MULT.get(spec.unit, "0"),
                    status,
                ]
            )


def _write_metadata(path: Path) -> None:
    document: dict[str, object] = {
        "default_language": "en",
        "dimensions": DIMENSIONS,
        "dataflows": {
            flow: {
                "names": info["names"],
                "dimensions": ["FREQ", "INDICATOR", "REF_AREA", "SEX"],
                "indicator_dimension": "INDICATOR",
            }
            for flow, info in DATAFLOWS.items()
        },
        "indicators": [
            {
                "code": spec.code,
                "dataflow": spec.dataflow,
                "topic": DATAFLOWS[spec.dataflow]["topic"],
                "names": spec.names,
                "synonyms": spec.synonyms,
                "unit": UNITS[spec.unit],
                "decimals": spec.decimals,
                "source": OFFICE,
                "release": DATAFLOWS[spec.dataflow]["release"],
                "release_date": DATAFLOWS[spec.dataflow]["release_date"],
                "link": f"{LINK}/{spec.dataflow.lower().removeprefix('df_')}/{spec.code.lower()}",
            }
            for spec in SPECS
        ],
    }
    text = yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=120)
    header = (
        f"# {NOTICE}\n"
        "# Metadata of the Demoland demo indicators (format: office/indicators/README.md).\n"
        "# Written by scripts/make_demo_data.py; edit that script, not this file.\n"
    )
    path.write_text(header + text, encoding="utf-8")


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent / "office" / "indicators"
    build(out)
    print(f"wrote the Demoland demo data ({len(SPECS)} indicators) to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
