"""Lookups by chat through the real engine, on SQLite and PostgreSQL: matching, dimension buttons,
the figure's text, chart, CSV, ratings, the lookup log, stale presses and erasure."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from bot.core.engine import Engine
from catalogue.model import Dimension, Indicator, Observation, SeriesData
from handlers.messages import Outbound
from storage.database import Database
from storage.indicators import IndicatorLoader
from storage.lookups import LookupQuery, Rating
from storage.repositories import Repositories
from testkit.fakes.engine_user import EngineUser
from testkit.fakes.indicators import INDICATORS, load_sample, sample_series

NNBSP = "\u202f"  # French groups thousands with a narrow no-break space


async def logged_queries(database: Database) -> list[LookupQuery]:
    async with database.reading() as connection:
        return list(reversed(await Repositories(connection).lookups.queries()))


async def ratings(database: Database) -> list[Rating]:
    async with database.reading() as connection:
        return await Repositories(connection).lookups.ratings()


def payloads(message: Outbound) -> list[str]:
    return [button.payload for button in message.flat_buttons if button.url is None]


async def test_english_question_with_typos_gets_the_figure_with_period_unit_change_status_and_source(
    engine: Engine, database: Database
) -> None:
    await load_sample(database)
    user = EngineUser(engine, "en1", language="en")
    (reply,) = await user.say("/data unemplyment rate women northern")
    lines = reply.text.split("\n")
    assert lines[0] == "Unemployment rate"
    assert lines[1] == "Northern · Female"
    assert lines[2] == "13.6 % in 2024 (estimated)"
    assert lines[3] == "Previous period (2023): 14.1 %"
    assert lines[4] == "Change: -0.5 percentage points"
    assert "Source: Labour Force Survey — Labour Force Survey 2024" in reply.text
    assert "Published on February 20, 2025" in reply.text
    labels = [button.label for button in reply.flat_buttons]
    assert labels == ["📈 Chart", "📥 Download (CSV)", "👍 Useful", "👎 Not useful", "Open the release"]
    assert reply.flat_buttons[-1].url == "https://stats.example.org/lfs/2024"
    (query,) = await logged_queries(database)
    assert (query.text, query.indicator_code, query.matched, query.language) == (
        "unemplyment rate women northern",
        "UNEMP_RATE",
        True,
        "en",
    )


async def test_french_question_in_plain_text_gets_french_numbers_and_words(engine: Engine, database: Database) -> None:
    await load_sample(database)
    user = EngineUser(engine, "fr1", language="fr")
    (reply,) = await user.say("taux de chomage des femmes dans le Nord en 2023")
    lines = reply.text.split("\n")
    assert lines[:5] == [
        "Taux de chômage",
        "Nord · Féminin",
        "14,1 % en 2023",
        "Période précédente (2022) : 14,9 %",
        "Variation : -0,8 points de pourcentage",
    ]
    assert "Source : Enquête sur la population active" in reply.text
    assert "Publié le 20 février 2025" in reply.text
    (reply,) = await user.say("populaton du sud")
    assert f"14{NNBSP}546{NNBSP}091 personnes en 2024" in reply.text
    assert f"Variation : +236{NNBSP}091 personnes (+1,6 %)" in reply.text


async def test_missing_dimensions_are_asked_with_buttons_national_total_first(
    engine: Engine, database: Database
) -> None:
    await load_sample(database)
    user = EngineUser(engine, "en2")
    (ask,) = await user.say("/data unemployment 2022")
    assert ask.text == "Unemployment rate\nChoose: Region"
    assert [b.label for b in ask.flat_buttons] == ["National", "Northern", "Southern"]
    (ask,) = await user.press("Southern")
    assert ask.replaces_pressed and ask.text == "Unemployment rate\nSouthern\nChoose: Sex"
    assert [b.label for b in ask.flat_buttons] == ["Total", "Female", "Male"]
    (reply,) = await user.press("Total")
    assert reply.text.split("\n")[:4] == [
        "Unemployment rate",
        "Southern · Total",
        "8.3 % in 2022",
        "Previous period (2021): 9.0 %",
    ]


async def test_several_matches_offer_up_to_five_buttons(engine: Engine, database: Database) -> None:
    await load_sample(database)
    user = EngineUser(engine, "en3")
    (reply,) = await user.say("jobless")
    assert reply.text == "Which of these figures do you mean?"
    assert [b.label for b in reply.flat_buttons] == ["Unemployment rate"]
    (ask,) = await user.press("Unemployment rate")
    assert ask.text.endswith("Choose: Region")


async def test_monthly_series_period_names_and_provisional_status(engine: Engine, database: Database) -> None:
    await load_sample(database)
    user = EngineUser(engine, "en4")
    (reply,) = await user.say("/data inflaton")
    assert reply.text.split("\n")[1:4] == [
        "4.2 % in March 2024 (provisional)",
        "Previous period (February 2024): 4.6 %",
        "Change: -0.4 percentage points",
    ]
    (reply,) = await user.say("/data CPI november 2023")
    assert reply.text.split("\n")[1] == "5.2 % in November 2023"
    (reply,) = await user.say("/data inflation 2023")
    assert reply.text.split("\n")[1] == "5.0 % in December 2023", "a year on a monthly series: its last month"
    (reply,) = await user.say("/data inflation 2030")
    assert reply.text.split("\n")[1:3] == [
        "There is no figure for 2030: here is the latest.",
        "4.2 % in March 2024 (provisional)",
    ]
    french = EngineUser(engine, "fr4", language="fr")
    (reply,) = await french.say("/data croissance du PIB T2 2024")
    assert reply.text.split("\n")[1] == "0,49 % en T2 2024 (provisoire)"


async def test_chart_is_a_png_and_download_is_the_series_as_csv(engine: Engine, database: Database) -> None:
    await load_sample(database)
    user = EngineUser(engine, "en5")
    await user.say("/data population northern")
    (chart,) = await user.press("Chart")
    assert chart.attachment is not None and chart.attachment.kind == "image"
    assert chart.attachment.content.startswith(b"\x89PNG") and chart.attachment.filename == "POP_N.png"
    assert chart.text == "Population\nNorthern"
    # The alt text says what the chart shows, not the file's code.
    alt = chart.attachment.alt
    assert alt is not None and alt.startswith("Population, Northern, annual, ") and ", latest " in alt, alt
    assert "POP_N" not in alt
    (download,) = await user.press("Download")
    assert download.attachment is not None and download.attachment.mime_type == "text/csv"
    rows = list(csv.DictReader(io.StringIO(download.attachment.content.decode("utf-8-sig"))))
    assert [(r["time_period"], r["obs_value"], r["REF_AREA"], r["REF_AREA_label"]) for r in rows] == [
        ("2023", "9870000", "N", "Northern"),
        ("2024", "10104221", "N", "Northern"),
    ]
    assert rows[0]["unit"] == "persons" and rows[0]["indicator"] == "POP"


async def test_ratings_are_stored_once_per_person_and_series(engine: Engine, database: Database) -> None:
    await load_sample(database)
    user = EngineUser(engine, "en6")
    await user.say("/data gdp growth")
    (thanks,) = await user.press("👍")
    assert thanks.text.startswith("Thank you")
    await user.press("👎")
    (rating,) = await ratings(database)
    assert (rating.indicator_code, rating.series_key, rating.useful) == ("GDP_GROWTH", "Q.GDP", False)


async def test_nothing_found_is_logged_as_unmet_demand(engine: Engine, database: Database) -> None:
    await load_sample(database)
    user = EngineUser(engine, "en7")
    (reply,) = await user.say("number of camels in the desert")
    assert reply.text.startswith("I found no published data for that. Would you like to send your question")
    assert [b.payload[:2] for b in reply.flat_buttons] == ["r:", "r:"], "offered as a data request"
    (reply,) = await user.say("hello")
    assert reply.text.startswith("I did not understand"), "a greeting is not offered as a request"
    queries = await logged_queries(database)
    assert [(q.text, q.matched, q.indicator_code) for q in queries] == [
        ("number of camels in the desert", False, None)
    ], "chit-chat is not logged as a question about data"


async def test_without_a_catalogue_free_text_is_not_understood_and_data_finds_nothing(engine: Engine) -> None:
    user = EngineUser(engine, "en8")
    (reply,) = await user.say("inflation")
    assert reply.text.startswith("I did not understand") or "/help" in reply.text
    (reply,) = await user.say("/data inflation")
    assert reply.text.startswith("I found no published data for that")
    (reply,) = await user.say("/data")
    assert reply.text.startswith("What figure are you looking for?")


async def test_stale_and_forged_presses_change_nothing(engine: Engine, database: Database) -> None:
    await load_sample(database)
    user = EngineUser(engine, "en9")
    (ask,) = await user.say("/data unemployment")
    old = payloads(ask)[0]
    await user.say("/data population southern")
    chart_payload = payloads(user.last_with_buttons())[0]
    for forged in (
        "d:i:1:999:-.-:",
        "d:i:x",
        "d:c:99999",
        "d:u:1:7",
        "d:i:1:1:9.9:",
        "d:i:1:1:-.-:20x4",
        "d:c:²",
        "d:i:1:1:².-:",
        "d:i:1:1:-.-:２０２４",
        "d:" + "9" * 70,
    ):
        (reply,) = await user.press_payload(forged)
        assert reply.text.startswith("These buttons are out of date"), forged
    # A new load: presses on the old one's buttons are stale, and no rating is stored.
    await IndicatorLoader(database).replace(INDICATORS, sample_series(), source="again", now=datetime.now(UTC))
    (reply,) = await user.press_payload(old)
    assert reply.text.startswith("These buttons are out of date")
    (reply,) = await user.press_payload(chart_payload)
    assert reply.text.startswith("These buttons are out of date")
    assert await ratings(database) == []
    (reply,) = await user.say("/data population southern")
    assert "14,546,091 persons in 2024" in reply.text, "the new load is used at once"


async def test_a_new_catalogue_is_seen_at_the_next_lookup(engine: Engine, database: Database) -> None:
    await load_sample(database)
    user = EngineUser(engine, "en10")
    (reply,) = await user.say("/data gdp")
    assert "0.49 % in Q2 2024" in reply.text
    gdp = next(i for i in INDICATORS if i.code == "GDP_GROWTH")
    updated = SeriesData(
        "GDP_GROWTH", "Q.GDP", {"FREQ": "Q"}, (Observation("2024-Q2", 0.5), Observation("2024-Q3", 0.8, "P"))
    )
    await IndicatorLoader(database).replace([gdp], [updated], source="new", now=datetime.now(UTC))
    (reply,) = await user.say("/data gdp")
    assert reply.text.split("\n")[1:4] == [
        "0.80 % in Q3 2024 (provisional)",
        "Previous period (Q2 2024): 0.50 %",
        "Change: +0.30 percentage points",
    ]


async def test_delete_my_data_removes_lookups_and_ratings(engine: Engine, database: Database) -> None:
    await load_sample(database)
    user = EngineUser(engine, "en11")
    other = EngineUser(engine, "en12")
    await user.say("/data inflation")
    await user.press("👍")
    await other.say("/data inflation")
    await user.say("/delete_my_data")
    await user.press("Yes")
    queries = await logged_queries(database)
    assert len(queries) == 1 and queries[0].contact_id is not None
    assert await ratings(database) == []


async def test_arabic_and_portuguese_users_get_their_words_around_the_figures(
    engine: Engine, database: Database
) -> None:
    await load_sample(database)
    user = EngineUser(engine, "ar1", language="ar")
    (reply,) = await user.say("/data inflation")
    assert "في مارس 2024" in reply.text and "(مؤقت)" in reply.text
    user = EngineUser(engine, "pt1", language="pt")
    (reply,) = await user.say("/data gdp")
    assert "0,49 % em 2.º trimestre de 2024 (provisório)" in reply.text
    (reply,) = await user.say("/data inflation")
    assert "4,2 % em março de 2024 (provisório)" in reply.text and "Publicado em 15 de abril de 2024" in reply.text


async def test_a_lookup_in_the_middle_of_a_survey_leaves_the_survey_where_it_was(
    engine: Engine, database: Database
) -> None:
    await load_sample(database)
    user = EngineUser(engine, "en13")
    await user.say("/survey usat2026")
    await user.press("Citizen")
    (figure,) = await user.say("/data population")
    assert figure.text.endswith("Choose: Region")
    (answer,) = await user.press("Southern")
    assert "14,546,091 persons in 2024" in answer.text
    (chart,) = await user.press("Chart")
    assert chart.attachment is not None
    replies = await user.say("Daily")
    assert replies[-1].text.startswith("3/12"), "the survey goes on at its next question"
    replies = await user.say("inflation")
    assert replies[-1].text.startswith("3/12"), "inside a survey, text is an answer, not a lookup"
    assert not any(reply.flat_buttons and reply.flat_buttons[0].payload.startswith("d:") for reply in replies)


async def test_many_values_are_laid_out_two_by_two_totals_first(engine: Engine, database: Database) -> None:
    regions = {f"R{n:02d}": {"en": f"Region {n}"} for n in range(1, 8)}
    regions["_T"] = {"en": "National"}
    dimension = Dimension("REF_AREA", {"en": "Region"}, regions)
    indicator = Indicator("HH", {"en": "Households"}, unit={"en": "households"}, decimals=0, dimensions=(dimension,))
    data = [
        SeriesData("HH", code, {"REF_AREA": code}, (Observation("2024", 1000.0 + n),))
        for n, code in enumerate(sorted(regions))
    ]
    await IndicatorLoader(database).replace([indicator], data, source="test", now=datetime.now(UTC))
    user = EngineUser(engine, "en14")
    (ask,) = await user.say("households")
    assert [[b.label for b in row] for row in ask.buttons][:2] == [["National", "Region 1"], ["Region 2", "Region 3"]]
    (answer,) = await user.press("Region 7")
    assert answer.text.split("\n")[:3] == ["Households", "Region 7", "1,006 households in 2024"]
    assert "Previous period" not in answer.text and "Source" not in answer.text


async def test_a_breakdown_that_is_not_published_is_said_before_the_figure(engine: Engine, database: Database) -> None:
    await load_sample(database)
    user = EngineUser(engine, "en15")
    (reply,) = await user.say("inflation in the Northern region")
    lines = reply.text.split("\n")
    assert lines[0] == "No figures are published for “northern”: the figure below does not make that distinction."
    assert lines[2:4] == ["Inflation rate (year on year)", "4.2 % in March 2024 (provisional)"]
